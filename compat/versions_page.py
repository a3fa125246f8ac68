"""Write ``book/versions.md`` from the table ``compat/versions.json``.

Run ``python compat/versions_page.py`` after changing the table (or a
notebook's gated cells); ``make test`` fails while the page is not the one
this script writes (``tests/test_versions.py``), and ``make compat`` fails
while the table is not what the stack shows (``compat/run.py``).

The table holds, per stack, the versions that make it, and per chapter the
cells whose text differs there, with a note saying what differs. The gated
cells are read from the notebooks' metadata (``"needs"``), where the compat
run reads them too.
"""

import json
import re
import sys
from pathlib import Path

from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
TABLE = ROOT / "compat" / "versions.json"
PAGE = ROOT / "book" / "versions.md"
STACKS = ("pinned", "colab", "floor")
#: How the page names a package in ``needs`` metadata.
PACKAGE_NAMES = {
    "keras": "Keras",
    "tensorflow": "TensorFlow",
    "tf-keras": "tf-keras",
    "numpy": "NumPy",
}


def gate_note(needs):
    """The sentence a gated cell's note must hold: 'Needs Keras 3.13 or
    newer.'"""
    if not isinstance(needs, dict) or not needs:
        raise ValueError(
            'a cell\'s "needs" metadata maps packages to the first version '
            f'that runs it, such as {{"keras": "3.13"}}; got {needs!r}'
        )
    unknown = sorted(set(needs) - set(PACKAGE_NAMES))
    if unknown:
        raise ValueError(
            f'unknown package(s) {unknown} in "needs": use one of '
            f"{sorted(PACKAGE_NAMES)}"
        )
    parts = [f"{PACKAGE_NAMES[p]} {v}" for p, v in sorted(needs.items())]
    return f"Needs {' and '.join(parts)} or newer."


def chapters():
    """(stem, notebook) of every chapter, in the order of _toc.yml."""
    import nbformat

    order = [
        line.split("notebooks/", 1)[1].strip()
        for line in (ROOT / "_toc.yml").read_text().splitlines()
        if "file: notebooks/" in line
    ]
    found = []
    for stem in order:
        nb = nbformat.read(ROOT / "notebooks" / f"{stem}.ipynb", as_version=4)
        found.append((stem, nb))
    return found


def code_cells(nb):
    """{cell id: (number among the code cells, from 1; the cell)}."""
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    return {cell.id: (n, cell) for n, cell in enumerate(code, start=1)}


def gated(nb):
    """[(number, needs, first line)] of the notebook's gated cells."""
    return [
        (n, cell.metadata["needs"], cell.source.splitlines()[0])
        for n, cell in code_cells(nb).values()
        if "needs" in cell.metadata
    ]


def note_text(markdown, needs):
    """The text of the note box in ``markdown`` that states ``needs``, without
    its link to this page (what the page repeats of it)."""
    for body in re.findall(r"```\{note\}\n(.*?)\n```", markdown, re.S):
        if gate_note(needs) in body:
            return body.replace(" ({doc}`../book/versions`)", "").strip()
    return gate_note(needs)


def status(stem, nb, stack, table):
    """What the chapter table says of one chapter on one stack."""
    if stack == "pinned":
        return "every output as shown"
    stack_versions = table["stacks"][stack]
    if "needs" in nb.metadata and not _meets(
        stack_versions, nb.metadata.needs
    ):
        needs = gate_note(nb.metadata.needs).rstrip(".")
        return f"skipped ({needs[0].lower()}{needs[1:]})"
    skipped = [
        n
        for n, needs, _ in gated(nb)
        if any(
            Version(stack_versions[package]) < Version(first)
            for package, first in needs.items()
        )
    ]
    differs = table["chapters"].get(stem, {}).get(stack, {}).get("differs", [])
    parts = []
    if skipped:
        parts.append(
            f"{len(skipped)} cell{'s' * (len(skipped) > 1)} "
            f"need{'s' * (len(skipped) == 1)} a newer version"
        )
    if differs:
        parts.append(
            f"text differs in {len(differs)} cell{'s' * (len(differs) > 1)}"
        )
    return "runs; " + ", ".join(parts) if parts else "runs, same text"


def _meets(stack_versions, needs):
    return all(
        Version(stack_versions[package]) >= Version(first)
        for package, first in needs.items()
    )


def render(table):
    """The text of book/versions.md."""
    stacks = table["stacks"]
    found = chapters()
    lines = [
        "# The book on your stack",
        "",
        *table["intro"],
        "",
        "## Chapter by chapter",
        "",
        "| chapter | " + " | ".join(stacks[s]["label"] for s in STACKS) + " |",
        "|---" * (len(STACKS) + 1) + "|",
    ]
    for stem, nb in found:
        cells = [status(stem, nb, stack, table) for stack in STACKS]
        link = f"{{doc}}`../notebooks/{stem}`"
        lines.append(f"| {link} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "## The stacks",
        "",
        "| | TensorFlow | Keras | tf-keras | NumPy | Python | checked by |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in STACKS:
        s = stacks[name]
        lines.append(
            f"| **{s['label']}** | {s['tensorflow']} | {s['keras']} | "
            f"{s['tf-keras']} | {s['numpy']} | {s['python']} | "
            f"{s['checked by']} |"
        )
    lines += ["", "## Cells that need a newer version", ""]
    lines += table["gated intro"] + [""]
    any_gated = False
    for stem, nb in found:
        if "needs" in nb.metadata:
            any_gated = True
            lines.append(
                f"- {{doc}}`../notebooks/{stem}`, the whole chapter: "
                + note_text(nb.cells[0].source, nb.metadata.needs)
            )
        before = {
            c.id: p for p, c in zip(nb.cells, nb.cells[1:], strict=False)
        }
        for number, needs, first in gated(nb):
            any_gated = True
            cell_id = [
                i for i, (n, _) in code_cells(nb).items() if n == number
            ][0]
            lines.append(
                f"- {{doc}}`../notebooks/{stem}`, code cell {number} "
                f"(`{first.strip()}`): "
                + note_text(before[cell_id].source, needs)
            )
    if not any_gated:
        lines.append("None: every cell runs on every stack above.")
    lines += ["", "## What looks different", ""]
    lines += table["differs intro"] + [""]
    for stem, nb in found:
        numbers = code_cells(nb)
        entry = table["chapters"].get(stem, {})
        for stack in STACKS[1:]:
            if stack not in entry:
                continue
            lines.append(
                f"- {{doc}}`../notebooks/{stem}`, {stacks[stack]['label']}: "
                + entry[stack]["note"]
            )
            cells = sorted(numbers[i] for i in entry[stack]["differs"])
            lines += [
                f"  - code cell {n}: `{cell.source.splitlines()[0].strip()}`"
                for n, cell in cells
            ]
    lines += ["", "## How it is checked", "", *table["howto"], ""]
    return "\n".join(lines)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    text = render(json.loads(TABLE.read_text()))
    if argv == ["--check"]:
        sys.exit(0 if PAGE.read_text() == text else f"{PAGE} is out of date")
    PAGE.write_text(text)
    print(f"wrote {PAGE.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
