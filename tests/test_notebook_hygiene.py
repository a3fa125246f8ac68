"""The stored notebooks are clean (see nbhygiene for what that means)."""

import json
from pathlib import Path

import nbhygiene
import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted(
    p
    for p in (ROOT / "notebooks").rglob("*.ipynb")
    if ".ipynb_checkpoints" not in p.parts
)
LISTED = nbhygiene.toc_files(ROOT / "_toc.yml")


def test_there_are_notebooks():
    assert NOTEBOOKS, "no notebooks under notebooks/"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_clean(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    rel = path.relative_to(ROOT).as_posix()
    problems = nbhygiene.check_listed(rel, LISTED) + nbhygiene.check_notebook(
        nb
    )
    assert not problems, f"{rel}:\n  " + "\n  ".join(problems)


@pytest.mark.parametrize("entry", LISTED)
def test_toc_entry_exists(entry):
    matches = [
        p for p in ROOT.glob(entry + ".*") if p.suffix in {".md", ".ipynb"}
    ]
    assert matches, (
        f"_toc.yml names {entry!r}, but there is no {entry}.md or "
        f"{entry}.ipynb"
    )


#: The numerics tag is for results of training and the like, not an escape
#: from comparison: at most about one code cell in seven carries it.
NUMERICS_SHARE = 1 / 7


def test_numerics_tag_is_rare():
    code = tagged = 0
    for path in NOTEBOOKS:
        nb = json.loads(path.read_text(encoding="utf-8"))
        cells = [c for c in nb["cells"] if c["cell_type"] == "code"]
        code += len(cells)
        tagged += sum(
            nbhygiene.NUMERICS_TAG in c.get("metadata", {}).get("tags", [])
            for c in cells
        )
    assert 0 < tagged <= NUMERICS_SHARE * code, (
        f"{tagged} of {code} code cells tagged {nbhygiene.NUMERICS_TAG}: "
        "make outputs exact (print a checked bound, a count, a shape) "
        "rather than tag them"
    )


def test_files_are_in_reading_order():
    problems = nbhygiene.check_toc_order(LISTED)
    assert not problems, "\n".join(problems)
    listed = [s for s in LISTED if s.startswith("notebooks/")]
    on_disk = [
        p.relative_to(ROOT).with_suffix("").as_posix() for p in NOTEBOOKS
    ]
    assert listed == on_disk, (
        "_toc.yml lists the notebooks in another order than their file names"
    )


PAGES = [ROOT / "README.md", *sorted((ROOT / "book").glob("*.md"))]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_pages_type_no_chapter_numbers(page):
    hits = nbhygiene.typed_chapter_numbers(page.read_text(encoding="utf-8"))
    assert not hits, (
        f"{page.relative_to(ROOT)}: typed chapter numbers {hits}; link to "
        "the chapter by its title ({doc}`../notebooks/03_tracing`)"
    )
