"""The index of the helpers package, made from the modules and the notebooks.

``helpers/__init__.py``'s docstring lists every module with its public
functions and classes, and for each the chapters (notebook files) whose code
uses it. The list is made here, from the modules' own summaries and from
the notebooks, and ``tests/test_helpers_index.py`` requires the docstring to
hold exactly it. After changing a helper or a chapter's imports, run::

    .venv/bin/python tests/helpers_index.py

which rewrites the block between the two marker lines of the docstring.
"""

import ast
import importlib
import inspect
import json
import re
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INIT = ROOT / "helpers" / "__init__.py"
BEGIN = "Index of the submodules (made by tests/helpers_index.py):"
END = "(End of the index.)"
WIDTH = 76


def modules():
    return sorted(
        p.stem for p in (ROOT / "helpers").glob("*.py") if p.stem != "__init__"
    )


def public_names(name):
    """Functions and classes defined in helpers.<name>, not starting _."""
    module = importlib.import_module(f"helpers.{name}")
    found = []
    for attr, value in vars(module).items():
        if attr.startswith("_"):
            continue
        if not (inspect.isfunction(value) or inspect.isclass(value)):
            continue
        if value.__module__ != module.__name__:
            continue
        found.append((inspect.getsourcelines(value)[1], attr, value))
    return [(attr, value) for _, attr, value in sorted(found)]


def summary(name):
    text = ast.get_docstring(
        ast.parse((ROOT / "helpers" / f"{name}.py").read_text("utf-8"))
    )
    return " ".join(text.split("\n\n")[0].split())


def notebook_code():
    """notebook stem -> all its code, joined."""
    code = {}
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        cells = json.loads(path.read_text("utf-8"))["cells"]
        code[path.stem] = "\n".join(
            "".join(c["source"]) for c in cells if c["cell_type"] == "code"
        )
    return code


def users(module, attr, code):
    """The notebooks whose code uses helpers.<module>.<attr>.

    Seen as ``from helpers.<module> import <attr>``, ``<module>.<attr>``,
    ``helpers.<attr>`` for a name the package re-exports, and
    ``<alias>.<attr>`` after ``from helpers import <module> as <alias>``.
    """
    imported = re.compile(
        rf"from helpers\.{module} import [^\n]*\b{attr}\b"
        rf"|from helpers\.{module} import \([^)]*\b{attr}\b"
    )
    names = [module]
    if attr in importlib.import_module("helpers").__all__:
        names.append("helpers")  # re-exported: helpers.seed_everything(...)
    found = []
    for stem, text in code.items():
        aliases = re.findall(rf"from helpers import {module} as (\w+)", text)
        qualified = re.compile(rf"\b(?:{'|'.join(names + aliases)})\.{attr}\b")
        if imported.search(text) or qualified.search(text):
            found.append(stem)
    return found


def render():
    code = notebook_code()
    lines = [BEGIN, ""]
    for name in modules():
        items = []
        for attr, value in public_names(name):
            role = "class" if inspect.isclass(value) else "func"
            used = users(name, attr, code)
            where = ", ".join(used) if used else "no chapter"
            items.append(f":{role}:`{attr}` ({where})")
        entry = f"* :mod:`helpers.{name}` -- {summary(name)}"
        if items:
            entry += " " + "; ".join(items) + "."
        lines.extend(
            textwrap.wrap(
                entry,
                WIDTH,
                subsequent_indent="  ",
                break_on_hyphens=False,
                break_long_words=False,
            )
        )
    lines += ["", END]
    return "\n".join(lines)


def current():
    text = ast.get_docstring(ast.parse(INIT.read_text("utf-8")), clean=False)
    start, stop = text.index(BEGIN), text.index(END) + len(END)
    return text[start:stop]


def write():
    source = INIT.read_text("utf-8")
    start = source.index(BEGIN)
    stop = source.index(END) + len(END)
    INIT.write_text(source[:start] + render() + source[stop:], "utf-8")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    write()
    print(f"rewrote the index in {INIT.relative_to(ROOT)}")
