"""book/errors.md quotes each message as its notebook cell stores it.

The page opens with "All messages, alphabetically", one line per entry, then
groups the entries by family, one ``## `` section each (FAMILIES, in page
order); the last family holds the messages of the book's own helpers, and
only those. Each entry is a label line ``(msg-<name>)=``, a heading with the
exception type and the message (``### `ValueError`: The message.``), the
message quoted in an error-message block, its cause and fix, and a link to
every cell that shows it.

How to add an entry (the same steps are in an HTML comment at the top of
book/errors.md):

1. The notebook: the markdown cell just before the failing cell has the label
   line ``(err-<name>)=`` as its first line; the failing cell is tagged
   ``raises-exception``, or prints the exception's type first and then the
   part of the message it quotes (for a message that holds machine paths).
2. The entry, in its family: ``(msg-<name>)=``, then on the next line
   ``### `Type`: message`` (`` …`` where cut, `` — context`` to tell two
   entries of one message apart), the quote, ``**Cause.**``, ``**Fix.**``,
   ``**Shown in**`` with ``{ref}`the cell <err-<name>>``` for each cell.
3. The index line, at its place in the order of :func:`sort_key`:
   ``- [message — context](#msg-<name>) (`Type`)``, the message written as
   literal text (:func:`escape`: backticks, brackets, ``*``, ``_``, ``<``
   and backslashes escaped), the context as in the heading.

A new family is a new ``## `` section of the page and a new name in FAMILIES,
in the same place. Each check below is a function that returns problems, and
each has a control test that shows it failing on a page made wrong on
purpose.
"""

import ast
import json
import re
from pathlib import Path

import nbhygiene
import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "book" / "errors.md"
INDEX = "All messages, alphabetically"
FAMILIES = (
    "Symbolic and eager tensors",
    "Tracing and `tf.function`",
    "Loops, shapes and dtypes",
    "Models, layers and their outputs",
    "Optimizers and training",
    "TensorFlow 1 code",
    "Keras 2 code and libraries",
    "Saving, loading and converting",
    "Several devices and workers",
    "Messages from this book's helpers",
)
HELPERS_FAMILY = FAMILIES[-1]
SECTION = re.compile(
    r"^## (?P<name>.+?)\n(?P<body>.*?)(?=^## |\Z)", re.M | re.S
)
HEADING = re.compile(r"^### ", re.M)
ENTRY = re.compile(
    r"^\((?P<label>msg-[a-z0-9-]+)\)=\n+### (?P<title>.+?)\n"
    r"(?P<body>.*?)(?=^\(msg-|^###? |\Z)",
    re.M | re.S,
)
TITLE = re.compile(
    r"^`(?P<type>[A-Za-z_.]+)`: (?P<text>.+?)(?P<cut> …)?"
    r"(?: — (?P<context>.+))?$"
)
ITEM = re.compile(
    r"^- \[(?P<shown>.+)\]\(#(?P<label>msg-[a-z0-9-]+)\) "
    r"\(`(?P<type>[A-Za-z_.]+)`\)$"
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


def sort_key(text):
    """The order of the index: letters and digits only, case ignored."""
    return re.sub(r"[^0-9a-z]+", " ", text.lower()).strip()


def title_key(title):
    """An entry's place in the index: its message, then its context."""
    heading = TITLE.match(title)
    return sort_key(f"{heading['text']} {heading['context'] or ''}")


def escape(text):
    """A message as literal Markdown: its backticks and brackets shown."""
    return re.sub(r"([\\`*_\[\]<])", r"\\\1", text)


def index_line(label, title):
    """The line of the alphabetical list that points to one entry."""
    heading = TITLE.match(title)
    if not heading:  # reported by entry_problems
        return f"- [{escape(title)}](#{label}) (`?`)"
    shown = escape(heading["text"]) + (heading["cut"] or "")
    if heading["context"]:
        shown += " — " + heading["context"]
    return f"- [{shown}](#{label}) (`{heading['type']}`)"


def sections(text):
    return [(m["name"], m["body"]) for m in SECTION.finditer(text)]


def entries(text):
    """(family, label, title, body) of every labelled entry of the page."""
    return [
        (name, m["label"], m["title"], m["body"])
        for name, body in sections(text)
        if name != INDEX
        for m in ENTRY.finditer(body)
    ]


def structure_problems(text):
    """The page's sections, labels and alphabetical list, checked."""
    problems = []
    names = [name for name, _ in sections(text)]
    if names != [INDEX, *FAMILIES]:
        problems.append(
            f"the sections are {names}; expected the index, then "
            f"{list(FAMILIES)} (a new family goes into FAMILIES too)"
        )
    found = entries(text)
    for name, body in sections(text):
        headings, labelled = (
            len(HEADING.findall(body)),
            len(list(ENTRY.finditer(body))),
        )
        if name == INDEX and headings:
            problems.append(f"an entry ({headings} heading(s)) in the index")
        elif name != INDEX and headings != labelled:
            problems.append(
                f"{name!r}: {headings - labelled} heading(s) without a "
                "(msg-...)= label line just before them"
            )
        elif name != INDEX and not labelled:
            problems.append(f"the family {name!r} has no entry")
    labels = [label for _, label, _, _ in found]
    problems += [
        f"the label {label} is defined twice (an entry in two places)"
        for label in sorted({x for x in labels if labels.count(x) > 1})
    ]
    index = dict(sections(text)).get(INDEX, "")
    items = [ln for ln in index.splitlines() if ln.startswith("- ")]
    bad = [ln for ln in items if not ITEM.match(ln)]
    problems += [
        f"index line not of the form - [...](#msg-...) (`Type`): {ln[:60]!r}"
        for ln in bad
    ]
    parsed = [ITEM.match(ln) for ln in items if ITEM.match(ln)]
    pointed = [m["label"] for m in parsed]
    titles = {label: title for _, label, title, _ in found}
    for label in labels:
        if label not in pointed:
            problems.append(
                f"{label} is missing from the alphabetical list: add "
                f"{index_line(label, titles[label])!r}"
            )
    for m in parsed:
        if m["label"] not in titles:
            problems.append(f"the index line {m['label']} points to no entry")
        elif m.group(0) != index_line(m["label"], titles[m["label"]]):
            problems.append(
                f"the index line of {m['label']} is not its heading: write "
                f"{index_line(m['label'], titles[m['label']])!r}"
            )
    problems += [
        f"{label} is listed twice in the index"
        for label in sorted({x for x in pointed if pointed.count(x) > 1})
    ]
    keys = [
        title_key(titles[label])
        for label in pointed
        if label in titles and TITLE.match(titles[label])
    ]
    if keys != sorted(keys):
        pairs = zip(keys, keys[1:], strict=False)
        first = next(a for a, b in pairs if a > b)
        problems.append(
            f"the index is not in alphabetical order (at {first!r})"
        )
    return problems


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
                # A cell that prints a caught error prints its type first.
                warned = re.search(
                    r"\b(\w*(?:Error|Exception|Warning))\b", "\n".join(texts)
                )
                kind = errors[0] if errors else "WARNING"
                if not errors and warned:
                    kind = warned.group(1)
                assert label not in found, f"label {label} defined twice"
                found[label] = (path.name, kind, "\n".join(texts))
    return found


CELLS = labelled_cells()


def raised_by_helpers(message):
    """Whether a literal piece of ``message`` is in the helpers' source."""
    pieces = (
        p.strip() for p in re.split(r"[\'\"\[\]():{}`]|\S*[/\d]\S*", message)
    )
    return any(len(p.split()) >= 3 and p in HELPERS_SOURCE for p in pieces)


def link_problems(found, cells):
    """Every labelled error cell has one entry's link, and only those."""
    labels = [
        m["label"] for _, _, _, body in found for m in REF.finditer(body)
    ]
    problems = []
    if len(labels) < 12:
        problems.append(f"only {len(labels)} cells linked")
    problems += [
        f"the cell {label} is linked twice"
        for label in sorted({x for x in labels if labels.count(x) > 1})
    ]
    problems += [
        f"the cell {label} has no entry"
        for label in sorted(set(cells) - set(labels))
    ]
    problems += [
        f"an entry links {label}, which no notebook labels"
        for label in sorted(set(labels) - set(cells))
    ]
    return problems


def entry_problems(family, title, body, cells):
    """One entry: quote, cause, fix, heading, type and family, checked."""
    quote, refs = QUOTE.search(body), list(REF.finditer(body))
    if not (quote and refs):
        return [
            f"entry {title!r} needs an error-message code-block quote and a "
            "{ref} link"
        ]
    problems = []
    if "**Cause.**" not in body or "**Fix.**" not in body:
        problems.append(f"{title!r}: no **Cause.** or no **Fix.**")
    heading = TITLE.match(title)
    if not heading:
        problems.append(f"{title!r}: the heading is `Type`: message")
        return problems
    if heading["text"] not in " ".join(quote["message"].split()):
        problems.append(
            f"{title!r}: the heading quotes another message than the entry"
        )
    for ref in refs:
        if ref["label"] not in cells:
            problems.append(f"{title!r}: no cell labelled {ref['label']}")
            continue
        notebook, kind, printed = cells[ref["label"]]
        if quote["message"] not in printed:
            problems.append(
                f"{notebook}: the quote is not in the stored output of "
                f"{ref['label']}"
            )
        if heading["type"] != kind:
            problems.append(
                f"{title!r}: {notebook} raises {kind}, not {heading['type']}"
            )
    in_helpers = family == HELPERS_FAMILY
    if raised_by_helpers(quote["message"]) != in_helpers:
        problems.append(
            f"{title!r} is {'not ' if in_helpers else ''}a helper's message: "
            f"it belongs {'outside' if in_helpers else 'in'} the family "
            f"{HELPERS_FAMILY!r}"
        )
    return problems


TEXT = PAGE.read_text(encoding="utf-8")


def test_page_has_its_families_and_a_complete_sorted_index():
    problems = structure_problems(TEXT)
    assert not problems, "\n".join(problems)


def test_at_least_twelve_errors_each_linked_once():
    problems = link_problems(entries(TEXT), CELLS)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(
    "family, label, title, body",
    entries(TEXT),
    ids=[label for _, label, _, _ in entries(TEXT)],
)
def test_entry_quotes_what_each_cell_printed(family, label, title, body):
    problems = entry_problems(family, title, body, CELLS)
    assert not problems, "\n".join(problems)


# Controls: each check fails on a page made wrong on purpose.


def _index_lines(text):
    index = dict(sections(text))[INDEX]
    return [ln for ln in index.splitlines() if ln.startswith("- ")]


def _one(problems, words):
    assert any(words in p for p in problems), problems


def test_control_unsorted_index_fails():
    lines = _index_lines(TEXT)
    first, second = next(
        (a, b)
        for a, b in zip(lines, lines[1:], strict=False)
        if sort_key(ITEM.match(a)["shown"].split(" — ")[0])
        != sort_key(ITEM.match(b)["shown"].split(" — ")[0])
    )
    swapped = TEXT.replace(first, "@@", 1).replace(second, first, 1)
    _one(structure_problems(swapped.replace("@@", second, 1)), "alphabetical")


def test_control_entry_missing_from_index_fails():
    line = _index_lines(TEXT)[3]
    _one(structure_problems(TEXT.replace(line + "\n", "", 1)), "missing")


def test_control_index_line_pointing_nowhere_fails():
    line = _index_lines(TEXT)[0]
    wrong = line.replace("(#msg-", "(#msg-nowhere-", 1)
    _one(structure_problems(TEXT.replace(line, wrong, 1)), "points to no")


def test_control_index_line_unlike_its_heading_fails():
    line = _index_lines(TEXT)[0]
    wrong = line.replace("- [", "- [Not ", 1)
    _one(structure_problems(TEXT.replace(line, wrong, 1)), "not its heading")


def test_control_index_line_listed_twice_fails():
    line = _index_lines(TEXT)[0]
    doubled = TEXT.replace(line, line + "\n" + line, 1)
    _one(structure_problems(doubled), "listed twice")


def test_control_heading_without_label_fails():
    label = entries(TEXT)[0][1]
    _one(structure_problems(TEXT.replace(f"({label})=\n", "", 1)), "without")


def test_control_entry_in_two_families_fails():
    family, label, title, body = entries(TEXT)[0]
    entry = f"({label})=\n\n### {title}\n{body}"
    last = TEXT.index(f"## {FAMILIES[-1]}")
    doubled = TEXT[:last] + entry + TEXT[last:]
    _one(structure_problems(doubled), "defined twice")


def test_control_entry_outside_the_families_fails():
    unknown = TEXT.replace(f"## {FAMILIES[1]}\n", "## Other messages\n", 1)
    _one(structure_problems(unknown), "the sections are")
    family, label, title, body = entries(TEXT)[0]
    in_index = TEXT.replace(
        f"## {FAMILIES[0]}", f"### {title}\n\n## {FAMILIES[0]}", 1
    )
    _one(structure_problems(in_index), "in the index")


def test_control_empty_family_fails():
    start = TEXT.index(f"## {FAMILIES[3]}\n")
    end = TEXT.index(f"## {FAMILIES[4]}\n")
    blurb = TEXT[start:end].split("\n(msg-")[0]
    _one(
        structure_problems(TEXT[:start] + blurb + "\n" + TEXT[end:]),
        "has no entry",
    )


def test_control_wrong_quote_type_family_and_cell_fail():
    family, label, title, body = entries(TEXT)[0]
    quote = QUOTE.search(body)["message"]
    kind = TITLE.match(title)["type"]
    wrong_quote = body.replace(quote, quote + " x")
    _one(
        entry_problems(family, title, wrong_quote, CELLS),
        "not in the stored output",
    )
    _one(
        entry_problems(
            family, title.replace(kind, "KeyError", 1), body, CELLS
        ),
        "raises",
    )
    _one(entry_problems(HELPERS_FAMILY, title, body, CELLS), "belongs outside")
    ref = REF.search(body)["label"]
    _one(
        entry_problems(family, title, body.replace(ref, ref + "-x"), CELLS),
        "no cell labelled",
    )


def test_control_cell_without_entry_or_linked_twice_fails():
    found = entries(TEXT)
    _one(link_problems(found[1:], CELLS), "has no entry")
    _one(link_problems(found + found[:1], CELLS), "linked twice")
