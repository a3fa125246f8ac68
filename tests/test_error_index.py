"""book/errors.md quotes each message as its notebook cell stores it.

The page has two sections, the messages of TensorFlow and Keras and those
of the book's own helpers; each entry's heading is the exception type and
the message (``### `ValueError`: The message.``), its body quotes the
message in an error-message block, says cause and fix, and links to every
cell that shows it.
"""

import ast
import json
import re
from pathlib import Path

import nbhygiene
import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "book" / "errors.md"
SECTIONS = (
    "Messages from TensorFlow and Keras",
    "Messages from this book's helpers",
)
SECTION = re.compile(
    r"^## (?P<name>.+?)\n(?P<body>.*?)(?=^## |\Z)", re.M | re.S
)
ENTRY = re.compile(
    r"^### (?P<title>.+?)\n(?P<body>.*?)(?=^###? |\Z)",
    re.MULTILINE | re.DOTALL,
)
TITLE = re.compile(
    r"^`(?P<type>[A-Za-z_.]+)`: (?P<text>.+?)(?: …)?(?: — (?P<context>.+))?$"
)
#: A quote: a text code block of class error-message (book.css wraps it at
#: the column, as a message is read as prose).
QUOTE = re.compile(
    r"```\{code-block\} text\n:class: error-message\n(?P<message>.*?)\n```",
    re.DOTALL,
)
REF = re.compile(r"\{ref\}`[^`<]*<(?P<label>err-[a-z0-9-]+)>`")


def _raised_texts(source):
    """The literal text of every message a ``raise`` in ``source`` builds."""
    texts = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Raise) and node.exc is not None:
            parts = [
                n.value
                for n in ast.walk(node.exc)
                if isinstance(n, ast.Constant) and isinstance(n.value, str)
            ]
            texts.append("".join(parts))
    return "\n".join(texts)


#: The literal parts of the messages the helpers raise (f-string fields
#: left out, implicitly joined strings joined): a message whose literal
#: piece is in here is one of the helpers'.
HELPERS_SOURCE = "\n".join(
    _raised_texts(p.read_text(encoding="utf-8"))
    for p in sorted((ROOT / "helpers").glob("*.py"))
)


def sections():
    return {
        m["name"]: m["body"]
        for m in SECTION.finditer(PAGE.read_text(encoding="utf-8"))
    }


def entries():
    return [
        (name, m["title"], m["body"])
        for name, body in sections().items()
        for m in ENTRY.finditer(body)
    ]


def labelled_cells():
    """label -> (notebook, exception type, texts of the cell after it)."""
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
                outputs = code.get("outputs", [])
                texts = [t for o in outputs for t in nbhygiene.output_texts(o)]
                errors = [
                    o["ename"] for o in outputs if o["output_type"] == "error"
                ]
                # A warning has no exception: its type is the one printed
                # (UserWarning: ...), or TensorFlow's log level (WARNING:...).
                warned = re.search(
                    r"\b(\w*(?:Error|Exception|Warning))\b", "\n".join(texts)
                )
                kind = errors[0] if errors else "WARNING"
                if not errors and warned:
                    kind = warned.group(1)
                assert label not in found, f"label {label} defined twice"
                found[label] = (path.name, kind, "\n".join(texts))
    return found


def raised_by_helpers(message):
    """Whether a literal piece of ``message`` is in the helpers' source."""
    pieces = (
        p.strip() for p in re.split(r"[\'\"\[\]():{}`]|\S*[/\d]\S*", message)
    )
    return any(len(p.split()) >= 3 and p in HELPERS_SOURCE for p in pieces)


def test_page_has_its_two_sections():
    assert tuple(sections()) == SECTIONS


def test_at_least_twelve_errors_each_linked_once():
    labels = [
        m["label"] for _, _, body in entries() for m in REF.finditer(body)
    ]
    assert len(labels) >= 12
    assert len(labels) == len(set(labels)), "a cell is linked twice"
    assert set(labels) == set(labelled_cells()), (
        "every labelled error cell has an entry, and only those"
    )


@pytest.mark.parametrize(
    "section, title, body",
    entries(),
    ids=lambda x: x[:40] if isinstance(x, str) else "",
)
def test_entry_quotes_what_each_cell_printed(section, title, body):
    quote, refs = QUOTE.search(body), list(REF.finditer(body))
    assert quote and refs, (
        f"entry {title!r} needs an error-message code-block quote and a "
        "{ref} link"
    )
    assert "**Cause.**" in body and "**Fix.**" in body
    heading = TITLE.match(title)
    assert heading, f"{title!r}: the heading is `ExceptionType`: message"
    assert heading["text"] in " ".join(quote["message"].split()), (
        f"{title!r}: the heading quotes another message than the entry"
    )
    for ref in refs:
        notebook, kind, printed = labelled_cells()[ref["label"]]
        assert quote["message"] in printed, (
            f"{notebook}: the quote is not in the stored output of "
            f"{ref['label']}"
        )
        assert heading["type"] == kind, (
            f"{title!r}: {notebook} raises {kind}, not {heading['type']}"
        )
    in_helpers = section == SECTIONS[1]
    assert raised_by_helpers(quote["message"]) == in_helpers, (
        f"{title!r} belongs in the section {SECTIONS[not in_helpers]!r}"
    )
