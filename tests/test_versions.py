"""The page book/versions.md, its table, the gated cells, and the compat run.

On the pinned stack, ``make test`` checks what can be checked without the
other stacks: the page is the one its table writes, the table's versions are
the locks', every cell the table names exists and has a note, every gated
cell is well declared, runs here and carries a visible note. The compat run
(``compat/run.py``) checks the rest on each stack; its checking functions are
tested here on made-up cells, each shown failing.
"""

import importlib.util
import json
import re
from pathlib import Path

import nbformat
import pytest
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]


def _load(name):
    spec = importlib.util.spec_from_file_location(
        f"compat_{name}", ROOT / "compat" / f"{name}.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


page = _load("versions_page")
compat = _load("run")
TABLE = json.loads(page.TABLE.read_text())


def _notebooks():
    return {
        p.stem: nbformat.read(p, as_version=4)
        for p in sorted((ROOT / "notebooks").glob("*.ipynb"))
    }


def test_page_is_the_one_its_table_writes():
    assert page.PAGE.read_text() == page.render(TABLE), (
        "book/versions.md is out of date: run "
        ".venv/bin/python compat/versions_page.py"
    )


def test_page_is_in_the_table_of_contents():
    assert "- file: book/versions" in (ROOT / "_toc.yml").read_text()


def _pins(lock):
    pins = {}
    for line in (ROOT / lock).read_text().splitlines():
        found = re.match(r"([a-z0-9-]+)==([0-9.]+)", line)
        if found:
            pins.setdefault(found.group(1), found.group(2))
    pins["tensorflow"] = pins.get("tensorflow-cpu", pins.get("tensorflow"))
    return pins


@pytest.mark.parametrize(
    "stack, lock",
    [
        ("pinned", "requirements.txt"),
        ("colab", "compat/colab.txt"),
        ("floor", "compat/floor.txt"),
    ],
)
def test_the_tables_versions_are_the_locks(stack, lock):
    pins = _pins(lock)
    for package in ("tensorflow", "keras", "tf-keras", "numpy"):
        assert TABLE["stacks"][stack][package] == pins[package], (
            f"compat/versions.json says {package} "
            f"{TABLE['stacks'][stack][package]} on {stack}; {lock} pins "
            f"{pins[package]}"
        )


def test_every_listed_cell_exists_and_has_a_note():
    notebooks = _notebooks()
    for stem, stacks in TABLE["chapters"].items():
        assert stem in notebooks, f"compat/versions.json: no notebook {stem}"
        ids = {c.id for c in notebooks[stem].cells if c.cell_type == "code"}
        for stack, entry in stacks.items():
            assert stack in ("colab", "floor"), f"{stem}: stack {stack}?"
            assert entry["note"].strip(), (
                f"{stem} on {stack}: write the note saying what differs"
            )
            missing = set(entry["differs"]) - ids
            assert not missing, f"{stem}: no code cell with id {missing}"


def _gate_problems(nb, pinned):
    """What is wrong with a notebook's gated cells, as strings."""
    problems = []
    for before, cell in zip(nb.cells, nb.cells[1:], strict=False):
        needs = cell.metadata.get("needs")
        if needs is None:
            continue
        if cell.cell_type != "code":
            problems.append("'needs' on a markdown cell")
            continue
        try:
            note = page.gate_note(needs)
        except ValueError as error:
            problems.append(str(error))
            continue
        for package, first in needs.items():
            if Version(pinned[package]) < Version(first):
                problems.append(f"the pinned stack does not meet {needs}")
        if before.cell_type != "markdown" or note not in before.source:
            problems.append(
                f"the markdown cell before a gated cell must say {note!r}"
            )
    return problems


def test_gated_cells_are_declared_run_here_and_say_so():
    pinned = TABLE["stacks"]["pinned"]
    for stem, nb in _notebooks().items():
        assert not _gate_problems(nb, pinned), stem
        if "needs" in nb.metadata:  # a whole chapter: said in its opening
            note = page.gate_note(nb.metadata.needs)
            assert note in nb.cells[0].source, f"{stem}: say {note!r} first"
            assert page._meets(pinned, nb.metadata.needs), stem


def _nb(*cells):
    nb = nbformat.v4.new_notebook()
    nb.cells = list(cells)
    return nb


def test_gate_checks_fail_where_they_should():
    pinned = TABLE["stacks"]["pinned"]
    code = nbformat.v4.new_code_cell(
        "x = 1", metadata={"needs": {"keras": "3.13"}}
    )
    noted = nbformat.v4.new_markdown_cell(
        "```{note}\nNeeds Keras 3.13 or newer.\n```"
    )
    assert _gate_problems(_nb(noted, code), pinned) == []
    silent = nbformat.v4.new_markdown_cell("Next:")
    assert "must say" in _gate_problems(_nb(silent, code), pinned)[0]
    code.metadata["needs"] = {"keras": "9.0"}
    assert "does not meet" in _gate_problems(_nb(noted, code), pinned)[0]
    with pytest.raises(ValueError, match="use one of"):
        page.gate_note({"keras-hub": "1.0"})
    with pytest.raises(ValueError, match="maps packages"):
        page.gate_note("keras>=3.13")


def test_unmet_compares_release_numbers(monkeypatch):
    have = {"keras": "3.10.0", "tensorflow": "2.19.1"}
    monkeypatch.setattr(compat, "installed", have.get)
    assert compat.unmet({"keras": "3.9"}) == []
    assert compat.unmet({"keras": "3.13"}) == ["keras>=3.13"]
    assert compat.unmet({"keras": "3.10", "tensorflow": "2.20"}) == [
        "tensorflow>=2.20"
    ]
    assert compat.unmet({"jax": "0.4"}) == ["jax>=0.4"]  # not installed
    have["keras"] = "3.13.0rc1"  # a pre-release comes before its release
    assert compat.unmet({"keras": "3.13"}) == ["keras>=3.13"]
    assert compat.unmet({"keras": "3.12"}) == []
    with pytest.raises(ValueError, match="map package names"):
        compat.unmet({})


def _cell(outputs, tags=()):
    cell = nbformat.v4.new_code_cell("f()", metadata={"tags": list(tags)})
    cell.outputs = [nbformat.from_dict(o) for o in outputs]
    return cell


def _error(ename, evalue="message"):
    return {
        "output_type": "error",
        "ename": ename,
        "evalue": evalue,
        "traceback": [],
    }


def _printed(text):
    return {"output_type": "stream", "name": "stdout", "text": text}


def test_check_cell_catches_what_lax_mode_lets_through():
    pairs = compat.sanitizers()
    raising = _cell([_error("ValueError")], ["raises-exception"])
    # a raises-exception cell that stops raising fails, and so does one
    # that raises another type; the same type with new words only differs
    assert (
        "raised nothing" in compat.check_cell(1, raising, _cell([]), pairs)[0]
    )
    other = _cell([_error("TypeError")])
    assert (
        "the stored output raises ValueError"
        in compat.check_cell(1, raising, other, pairs)[0]
    )
    reworded = _cell([_error("ValueError", "new words")])
    failure, diff, compared = compat.check_cell(1, raising, reworded, pairs)
    assert failure is None and "new words" in diff and compared
    # an untagged cell that errors fails (so does a failed assertion)
    quiet = _cell([_printed("1\n")])
    failed = compat.check_cell(
        1, quiet, _cell([_error("AssertionError")]), pairs
    )
    assert "AssertionError" in failed[0]
    # numerics cells are not compared as text; sanitised text is equal
    numeric = _cell([_printed("0.123\n")], ["numerics"])
    assert compat.check_cell(
        1, numeric, _cell([_printed("0.124\n")]), pairs
    ) == (
        None,
        None,
        False,
    )
    address = _cell([_printed("<f at 0x7f00>\n")])
    moved = _cell([_printed("<f at 0x7fff>\n")])
    assert compat.check_cell(1, address, moved, pairs) == (None, None, True)


def test_table_problems_both_ways(monkeypatch, tmp_path):
    table = tmp_path / "versions.json"
    entry = {
        "differs": ["x", "y"],
        "note": "1724 bytes, not 1768 (Keras 3.13)",
    }
    table.write_text(
        json.dumps(
            {
                "stacks": {"colab": {"keras": "3.13.2"}},
                "chapters": {"01_a": {"colab": entry}},
            }
        )
    )
    monkeypatch.setattr(compat, "TABLE", table)
    seen = {"id": "x", "cell": 3, "first line": "f()", "text": "1724 bytes"}
    new = {"id": "z", "cell": 4, "first line": "g()", "text": ""}
    result = {
        "notebook": "01_a",
        "differs": [seen, new],
        "stored text": "1768",
    }
    problems = compat.table_problems("colab", [result])
    assert len(problems) == 2
    assert "does not list it" in problems[0] and "id z" in problems[0]
    assert "lists cell id y" in problems[1]
    # a figure of the note that no output shows is a problem too
    seen["text"] = "1725 bytes"
    problems = compat.table_problems("colab", [result])
    assert "says 1724, which no output" in problems[0]
    empty = {"notebook": "01_a", "differs": []}
    assert compat.table_problems("floor", [empty]) == []
