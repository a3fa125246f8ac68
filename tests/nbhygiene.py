"""Static checks on the notebooks as stored in git.

nbval re-runs a notebook and compares outputs; these checks look at what is
stored and catch what a re-run cannot: a notebook missing from the table of
contents, cells run out of order, stderr or machine paths saved in outputs,
an error with no ``raises-exception`` tag (or a tag with no error), a chapter
that skips its learning goals, summary or exercises.

Every ``check_*`` function takes a notebook (an ``nbformat`` node or the plain
dict ``json.load`` gives) and returns a list of problem strings; empty means
clean. ``tests/test_nbhygiene_checks.py`` shows each one failing.
"""

import ast
import io
import re
import tokenize
from pathlib import Path

import yaml

KERNEL_NAME = "keras-tf-book"
RAISES_TAGS = {"raises-exception", "nbval-raises-exception"}
IGNORE_TAG = "nbval-ignore-output"
#: A cell tagged nbval-ignore-output must say why, in a comment of this form.
IGNORE_REASON = re.compile(
    r"^#\s*Output not compared:\s*\S.{10,}", re.MULTILINE
)
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
MACHINE_PATH = re.compile(
    r"(?<![\w.])/(?:tmp|root|home|work|Users|private/var)/"
    r"|site-packages|[\\/]\.venv[\\/]|[A-Za-z]:\\Users\\"
)
VOLATILE = re.compile(
    r"\d+(?:\.\d+)?\s*(?:s|ms|us|µs)/(?:step|epoch)"  # Keras per-step timings
    # progress bars ("3/10 ━━━━"; a bare "━" is also a table border, as in
    # model.summary())
    r"|\d+/\d+\s+━|\x08|ETA: "
    r"|Epoch \d+/\d+"  # verbose=1 epoch lines
    r"|Wall time:|CPU times:"  # %time
)
#: The rendered book shows code in a column of about 80 characters (the
#: same number as ruff's line-length in pyproject.toml). Checked here too,
#: because ruff does not read the body of a %%script cell.
CODE_WIDTH = 79
REQUIRED_HEADINGS = ("## What you will learn", "## Summary", "## Exercises")
#: Code that switches a process to TensorFlow 1 behaviour or loads legacy
#: Keras. Allowed only in a notebook that says so in its metadata:
#: {"book": {"legacy_tf1": true}}. Searched in the code with the contents of
#: string literals blanked out: code in a string runs elsewhere (a subprocess
#: given ``-c``), not in the notebook's kernel.
LEGACY_CODE = re.compile(
    r"disable_eager_execution|disable_v2_behavior"
    r"|^\s*(?:import|from)\s+tf_keras\b",
    re.MULTILINE,
)
#: And the variable that selects legacy Keras, which is set as a string, so
#: searched in the whole source -- except where it only goes to a child
#: process, as a key of a dict written in an ``env=`` argument.
LEGACY_VARIABLE = "TF_USE_LEGACY_KERAS"


def _source(cell):
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def _tags(cell):
    return set(cell.get("metadata", {}).get("tags", []))


def _code_cells(nb):
    for index, cell in enumerate(nb.get("cells", [])):
        if cell.get("cell_type") == "code" and _source(cell).strip():
            yield index, cell


def output_texts(output):
    """All readable text of one output, tracebacks included, ANSI removed."""
    kind = output.get("output_type")
    if kind == "stream":
        parts = [output.get("text", "")]
    elif kind == "error":
        parts = [output.get("ename", ""), output.get("evalue", "")] + list(
            output.get("traceback", [])
        )
    else:
        data = output.get("data", {})
        parts = [
            value for key, value in data.items() if key.startswith("text/")
        ]
    texts = ["".join(p) if isinstance(p, list) else str(p) for p in parts]
    return [ANSI.sub("", t) for t in texts]


def toc_files(toc_path):
    """Every document named in a jupyter-book ``_toc.yml`` (no suffixes)."""
    toc = yaml.safe_load(Path(toc_path).read_text(encoding="utf-8"))
    found = []

    def walk(node):
        if isinstance(node, dict):
            for key in ("root", "file"):
                if key in node:
                    found.append(str(Path(node[key]).with_suffix("")))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(toc)
    return found


def check_listed(rel_path, listed):
    stem = str(Path(rel_path).with_suffix(""))
    return [] if stem in listed else [f"{rel_path} is not listed in _toc.yml"]


def check_title(nb):
    cells = nb.get("cells", [])
    if (
        not cells
        or cells[0].get("cell_type") != "markdown"
        or not _source(cells[0]).startswith("# ")
    ):
        return ["the first cell is not a markdown '# Title'"]
    return []


def check_template(nb):
    text = "\n".join(
        _source(c)
        for c in nb.get("cells", [])
        if c.get("cell_type") == "markdown"
    )
    return [
        f"no '{h}' heading in a markdown cell"
        for h in REQUIRED_HEADINGS
        if not re.search("^" + re.escape(h) + r"\s*$", text, re.MULTILINE)
    ]


def check_kernelspec(nb):
    name = nb.get("metadata", {}).get("kernelspec", {}).get("name")
    return (
        []
        if name == KERNEL_NAME
        else [f"kernelspec is {name!r}, expected {KERNEL_NAME!r}"]
    )


def check_imports_helpers_first(nb):
    for _, cell in _code_cells(nb):
        lines = [
            ln
            for ln in _source(cell).splitlines()
            if ln.strip() and not ln.lstrip().startswith(("#", "%"))
        ]
        if not lines or lines[0].split("#")[0].strip() != "import helpers":
            return [
                "the first code statement is not `import helpers` (TF log "
                "settings must come first)"
            ]
        return []
    return ["no code cell"]


def check_code_width(nb):
    return [
        f"cell {index}: a code line of {len(line)} characters (the column "
        f"holds {CODE_WIDTH}): {line[:40]!r}..."
        for index, cell in _code_cells(nb)
        for line in _source(cell).splitlines()
        if len(line) > CODE_WIDTH
    ]


def check_execution_order(nb):
    problems, expected = [], 1
    for index, cell in _code_cells(nb):
        count = cell.get("execution_count")
        if count is None:
            problems.append(f"cell {index}: never executed")
        elif count != expected:
            problems.append(
                f"cell {index}: execution count {count}, expected {expected}"
            )
        expected = (count or expected) + 1
    return problems


def check_errors(nb):
    problems = []
    for index, cell in enumerate(nb.get("cells", [])):
        if cell.get("cell_type") != "code":
            continue
        tagged = bool(_tags(cell) & RAISES_TAGS)
        errors = [
            o
            for o in cell.get("outputs", [])
            if o.get("output_type") == "error"
        ]
        if errors and not tagged:
            problems.append(
                f"cell {index}: stored error {errors[0].get('ename')} without "
                "a raises-exception tag"
            )
        if tagged and not errors:
            problems.append(
                f"cell {index}: tagged raises-exception but stores no error"
            )
    return problems


def check_no_stderr(nb):
    problems = []
    for index, cell in enumerate(nb.get("cells", [])):
        for output in cell.get("outputs", []):
            if (
                output.get("output_type") == "stream"
                and output.get("name") == "stderr"
            ):
                problems.append(
                    f"cell {index}: stderr stored: "
                    f"{output_texts(output)[0][:80]!r}"
                )
    return problems


def check_machine_paths(nb):
    problems = []
    for index, cell in enumerate(nb.get("cells", [])):
        for output in cell.get("outputs", []):
            for text in output_texts(output):
                match = MACHINE_PATH.search(text)
                if match:
                    problems.append(
                        f"cell {index}: machine path {match.group(0)!r} in an "
                        "output"
                    )
    return problems


def check_volatile(nb):
    problems = []
    for index, cell in _code_cells(nb):
        if IGNORE_TAG in _tags(cell):
            continue
        for output in cell.get("outputs", []):
            for text in output_texts(output):
                match = VOLATILE.search(text)
                if match:
                    problems.append(
                        f"cell {index}: progress bar or timing "
                        f"{match.group(0)!r} in a compared output"
                    )
    return problems


def check_ignore_reasons(nb):
    return [
        f"cell {index}: tagged {IGNORE_TAG} without a '# Output not compared: "
        "<why>' comment"
        for index, cell in _code_cells(nb)
        if IGNORE_TAG in _tags(cell)
        and not IGNORE_REASON.search(_source(cell))
    ]


def _without_string_contents(source):
    """``source`` with every string literal's contents replaced by spaces.

    IPython magics (lines starting with ``%`` or ``!``) are blanked first;
    source that still does not tokenize is returned unchanged.
    """
    lines = [
        "" if line.lstrip().startswith(("%", "!")) else line
        for line in source.splitlines(keepends=True)
    ]
    try:
        tokens = list(
            tokenize.generate_tokens(io.StringIO("".join(lines)).readline)
        )
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return source
    text = "".join(lines)
    starts = [0]
    for line in text.splitlines(keepends=True):
        starts.append(starts[-1] + len(line))
    blanked = list(text)
    # Python 3.12 splits f-strings into parts; their text is FSTRING_MIDDLE.
    literal = {tokenize.STRING, getattr(tokenize, "FSTRING_MIDDLE", -1)}
    for token in tokens:
        if token.type not in literal:
            continue
        (row, col), (end_row, end_col) = token.start, token.end
        for i in range(starts[row - 1] + col, starts[end_row - 1] + end_col):
            if blanked[i] != "\n":
                blanked[i] = " "
    return "".join(blanked)


def _sets_legacy_variable(source):
    """Whether ``source`` may set :data:`LEGACY_VARIABLE` in this process.

    Not if every mention is a dict key inside an ``env=`` keyword argument
    (``run_python(code, env={...})``, ``subprocess.run(..., env={...})``):
    that environment is the child's. Source that does not parse counts.
    """
    if LEGACY_VARIABLE not in source:
        return False
    lines, magics = [], []
    for line in source.splitlines(keepends=True):
        magic = line.lstrip().startswith(("%", "!"))  # %env, !VAR=1 python
        (magics if magic else lines).append(line)
    if any(LEGACY_VARIABLE in line for line in magics):
        return True
    try:
        tree = ast.parse("".join(lines))
    except SyntaxError:
        return True
    for_child = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg == "env":
            if isinstance(node.value, ast.Dict):
                for_child.update(id(key) for key in node.value.keys)
    mentions = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and LEGACY_VARIABLE in node.value
        # Code in a multi-line string runs elsewhere (a child process given
        # it with -c), as LEGACY_CODE treats it; a key or a value is one line.
        and "\n" not in node.value
    ]
    return any(id(node) not in for_child for node in mentions)


def check_legacy_declared(nb):
    """TF1 mode and legacy Keras only where the notebook declares it.

    (Such a notebook runs in its own kernel.)
    """
    declared = bool(nb.get("metadata", {}).get("book", {}).get("legacy_tf1"))
    used = [
        index
        for index, cell in _code_cells(nb)
        if LEGACY_CODE.search(_without_string_contents(_source(cell)))
        or _sets_legacy_variable(_source(cell))
    ]
    if used and not declared:
        return [
            f"cell {used[0]}: switches to TF1 mode or imports tf_keras, but "
            "the notebook metadata "
            'does not declare {"book": {"legacy_tf1": true}}'
        ]
    if declared and not used:
        return [
            'metadata declares {"book": {"legacy_tf1": true}} but no cell '
            "uses TF1 mode or tf_keras"
        ]
    return []


def check_exercise_solutions(nb):
    """Once a chapter has worked solutions, every exercise has one.

    Exercises are the numbered items (``1. ...``) of markdown cells from the
    ``## Exercises`` heading on; solutions are code cells tagged
    ``solution``. Each solution is also tagged ``hide-cell`` (folded on the
    page) and asserts its result, so that the test run checks it. A chapter
    with no solution cell yet is left to the advice of ``nbcheck``.
    """
    cells = nb.get("cells", [])
    start = next(
        (
            index
            for index, cell in enumerate(cells)
            if cell.get("cell_type") == "markdown"
            and re.search(r"^## Exercises\s*$", _source(cell), re.MULTILINE)
        ),
        None,
    )
    solutions = [
        (index, cell)
        for index, cell in _code_cells(nb)
        if "solution" in _tags(cell)
    ]
    if start is None or not solutions:
        return []
    exercises = sum(
        len(re.findall(r"^\d+\. ", _source(cell), re.MULTILINE))
        for cell in cells[start:]
        if cell.get("cell_type") == "markdown"
    )
    problems = []
    if len(solutions) != exercises:
        problems.append(
            f"{exercises} exercise(s) but {len(solutions)} solution cell(s)"
        )
    for index, cell in solutions:
        if "hide-cell" not in _tags(cell):
            problems.append(f"cell {index}: solution not tagged hide-cell")
        if not re.search(r"^\s*(assert\b|np\.testing\.)", _source(cell), re.M):
            problems.append(f"cell {index}: solution asserts nothing")
    return problems


#: The cell tag of a numerics output (template/nbval_numerics.py): compared
#: only where this machine's numerics match the book's, checked everywhere
#: by the cell's assertions, so such a cell must have one.
NUMERICS_TAG = "numerics"
ASSERTS = re.compile(r"^\s*(assert\b|np\.testing\.assert)", re.MULTILINE)


def check_numerics_cells(nb):
    """A cell tagged ``numerics`` asserts what it claims.

    On a machine whose numerics differ from the book's its printed text is
    not compared, so its assertions are all that is checked there. Being
    compared nowhere as well (``nbval-ignore-output``) would leave nothing.
    """
    problems = []
    for index, cell in _code_cells(nb):
        if NUMERICS_TAG not in _tags(cell):
            continue
        if not ASSERTS.search(_source(cell)):
            problems.append(
                f"cell {index}: tagged {NUMERICS_TAG} but asserts nothing; "
                "on other numerics only its assertions are checked: assert "
                "the claim its output supports (a margin, a paired count)"
            )
        if IGNORE_TAG in _tags(cell):
            problems.append(
                f"cell {index}: tagged both {NUMERICS_TAG} and {IGNORE_TAG}"
            )
    return problems


#: A decimal number in prose (not part of a version such as 2.21.0).
PROSE_NUMBER = re.compile(r"(?<![\w.])\d+\.\d+(?![\w.]*\d)")
#: Decimal numbers prose may state without an output: versions, constants of
#: the data sets and of the library. Anything else comes from an output or
#: from the chapter's own code.
PROSE_NUMBERS_ALLOWED = {
    "2.21",  # TensorFlow 2.21
    "3.15",  # Keras 3.15
    "2.20",  # TensorFlow 2.20, on Colab
    "3.13",  # Keras 3.13, on Colab
    "2.16",  # TensorFlow 2.16: Keras 3 became tf.keras
    "2.15",  # TensorFlow 2.15: the last with Keras 2 as tf.keras
    "3.11",  # Python
    "3.12",  # Python
    "3.14",  # Python 3.14; Keras 3.14
    "3.10",  # Keras 3.10, the floor (book/versions.md)
    "2.19",  # TensorFlow 2.19, the floor
    "2.0",  # TensorFlow 2.0
    "2.4",  # TensorFlow 2.4, when Keras 2 began wrapping TF ops in layers
    "80.9",  # setuptools 80.9, the last with pkg_resources
}


def _number_in(number, text):
    return re.search(rf"(?<![\d.]){re.escape(number)}(?!\d)", text)


def check_prose_numbers(nb):
    """Every decimal number in the prose appears in an output or the code.

    Prose that quotes a result drifts when a cell is re-run; tied to the
    stored outputs, a re-run that changes the number fails here until the
    prose is changed too. Numbers from the code (a learning rate, a margin)
    and the few in :data:`PROSE_NUMBERS_ALLOWED` need no output.
    """
    cells = nb.get("cells", [])
    outputs = "\n".join(
        text
        for cell in cells
        for output in cell.get("outputs", [])
        for text in output_texts(output)
    )
    code = "\n".join(
        _source(cell) for cell in cells if cell.get("cell_type") == "code"
    )
    problems = []
    for index, cell in enumerate(cells):
        if cell.get("cell_type") != "markdown":
            continue
        for number in PROSE_NUMBER.findall(_source(cell)):
            if number in PROSE_NUMBERS_ALLOWED:
                continue
            if _number_in(number, outputs) or _number_in(number, code):
                continue
            problems.append(
                f"cell {index}: the prose says {number}, which no output "
                "and no code of this chapter shows; quote a stored output "
                "(or print the sentence from the cell)"
            )
    return problems


#: One idea per cell: a code cell longer than this needs a stated reason,
#: tagged ``long-cell`` with a ``# Long cell: <reason>`` comment, or, for
#: figure code, tagged ``hide-input`` with a first line ``# Figure: <what
#: it draws>`` (the rendered page folds it; the figure is what is read).
MAX_CELL_LINES = 30
LONG_TAG = "long-cell"
LONG_REASON = re.compile(r"^\s*#\s*Long cell:\s*\S.{10,}", re.MULTILINE)
FIGURE_FIRST_LINE = re.compile(r"#\s*Figure:\s*\S.{10,}")
#: Code lines a chapter may hold outside its exercise solutions (keras-io's
#: guides stay under 300; a chapter over this is two subjects).
MAX_CHAPTER_CODE_LINES = 350
#: A chapter number typed by hand. jupyter-book numbers the chapters from
#: _toc.yml; prose links to a chapter by its title ({doc}`03_tracing`), so
#: that moving a chapter never leaves a wrong number behind.
TYPED_CHAPTER_NUMBER = re.compile(
    r"\b(?:chapters?|ch\.?|worked\s+examples?|appendix|appendices)"
    r"(?:[ \t]+\n?[ \t]*|\n[ \t]*)\[?\d",  # one line break at most
    re.IGNORECASE,
)


def check_cell_length(nb):
    problems = []
    for index, cell in _code_cells(nb):
        source = _source(cell)
        lines = len(source.splitlines())
        if lines <= MAX_CELL_LINES:
            continue
        tags = _tags(cell)
        first = source.lstrip().splitlines()[0]
        if LONG_TAG in tags and LONG_REASON.search(source):
            continue
        if "hide-input" in tags and FIGURE_FIRST_LINE.match(first):
            continue
        problems.append(
            f"cell {index}: {lines} lines (more than {MAX_CELL_LINES}): "
            "split it at each print or assert, or tag it "
            f"{LONG_TAG} with a '# Long cell: <reason>' comment (figure "
            "code: tag hide-input, first line '# Figure: <what it draws>')"
        )
    return problems


def chapter_code_lines(nb):
    """Lines of code outside the exercise solutions."""
    return sum(
        len(_source(cell).splitlines())
        for _, cell in _code_cells(nb)
        if "solution" not in _tags(cell)
    )


def check_chapter_length(nb):
    lines = chapter_code_lines(nb)
    if lines <= MAX_CHAPTER_CODE_LINES:
        return []
    return [
        f"{lines} lines of code outside the solutions (at most "
        f"{MAX_CHAPTER_CODE_LINES}): the chapter holds two subjects; split it"
    ]


def typed_chapter_numbers(text):
    """Each hand-typed chapter number in ``text``, with a little context."""
    return [
        text[max(m.start() - 20, 0) : m.end() + 20].replace("\n", " ")
        for m in TYPED_CHAPTER_NUMBER.finditer(text)
    ]


def check_typed_chapter_numbers(nb):
    return [
        f"cell {index}: a typed chapter number ({hit!r}): link to the "
        "chapter by its title instead, {doc}`03_tracing`"
        for index, cell in enumerate(nb.get("cells", []))
        if cell.get("cell_type") == "markdown"
        for hit in typed_chapter_numbers(_source(cell))
    ]


#: ``show_source(x._private)``: a chapter prints only public helpers, the
#: code a reader may copy and rely on.
PRIVATE_SHOWN = re.compile(r"show_source\(\s*(?:[A-Za-z]\w*\.)*_[A-Za-z]")


def check_no_private_shown(nb):
    return [
        f"cell {index}: shows a private function ({m.group(0)}...): make "
        "what the chapter explains public in its helper module"
        for index, cell in _code_cells(nb)
        for m in PRIVATE_SHOWN.finditer(_source(cell))
    ]


def check_toc_order(listed):
    """The notebooks in _toc.yml order are numbered 01, 02, ... by prefix."""
    notebooks = [s for s in listed if s.startswith("notebooks/")]
    problems = []
    for position, stem in enumerate(notebooks, start=1):
        name = Path(stem).name
        prefix = name.split("_", 1)[0]
        if prefix != f"{position:02d}":
            problems.append(
                f"{stem} is chapter {position} in _toc.yml: its file name "
                f"must start with {position:02d}_ (the prefix is the "
                "position, so notebooks/ lists in reading order)"
            )
    return problems


NOTEBOOK_CHECKS = (
    check_title,
    check_template,
    check_kernelspec,
    check_imports_helpers_first,
    check_execution_order,
    check_errors,
    check_no_stderr,
    check_machine_paths,
    check_volatile,
    check_ignore_reasons,
    check_legacy_declared,
    check_code_width,
    check_exercise_solutions,
    check_numerics_cells,
    check_prose_numbers,
    check_cell_length,
    check_chapter_length,
    check_typed_chapter_numbers,
    check_no_private_shown,
)


def check_notebook(nb):
    """All per-notebook checks; returns the combined problem list."""
    problems = []
    for check in NOTEBOOK_CHECKS:
        problems.extend(check(nb))
    return problems
