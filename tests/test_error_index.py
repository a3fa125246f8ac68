"""book/errors.md quotes each message as its notebook cell stores it."""

import json
import re
from pathlib import Path

import nbhygiene
import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "book" / "errors.md"
ENTRY = re.compile(
    r"^## (?P<title>.+?)\n(?P<body>.*?)(?=^## |\Z)", re.MULTILINE | re.DOTALL
)
#: A quote: a text code block of class error-message (book.css wraps it at
#: the column, as a message is read as prose).
QUOTE = re.compile(
    r"```\{code-block\} text\n:class: error-message\n(?P<message>.*?)\n```",
    re.DOTALL,
)
REF = re.compile(r"\{ref\}`[^`<]*<(?P<label>err-[a-z0-9-]+)>`")


def entries():
    return [
        (m["title"], m["body"])
        for m in ENTRY.finditer(PAGE.read_text(encoding="utf-8"))
    ]


def labelled_cells():
    """label -> (notebook, texts of the first code cell after the label)."""
    found = {}
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        for index, cell in enumerate(cells):
            if cell["cell_type"] != "markdown":
                continue
            for label in re.findall(
                r"^\((err-[a-z0-9-]+)\)=\s*$",
                "".join(cell["source"]),
                re.MULTILINE,
            ):
                code = next(
                    c for c in cells[index + 1 :] if c["cell_type"] == "code"
                )
                texts = [
                    t
                    for o in code.get("outputs", [])
                    for t in nbhygiene.output_texts(o)
                ]
                assert label not in found, f"label {label} defined twice"
                found[label] = (path.name, "\n".join(texts))
    return found


def test_at_least_twelve_errors_each_linked_once():
    labels = [REF.search(body)["label"] for _, body in entries()]
    assert len(labels) >= 12
    assert len(labels) == len(set(labels))
    assert set(labels) == set(labelled_cells()), (
        "every labelled error cell has an entry, and only those"
    )


@pytest.mark.parametrize(
    "title, body",
    entries(),
    ids=lambda x: x[:40] if isinstance(x, str) else "",
)
def test_quoted_message_is_what_the_cell_printed(title, body):
    quote, ref = QUOTE.search(body), REF.search(body)
    assert quote and ref, (
        f"entry {title!r} needs an error-message code-block quote and a "
        "{ref} link"
    )
    assert "**Cause.**" in body and "**Fix.**" in body
    notebook, printed = labelled_cells()[ref["label"]]
    assert quote["message"] in printed, (
        f"{notebook}: the quote is not in the stored output of {ref['label']}"
    )
