"""Show the part of a helper's source that a chapter discusses.

In a notebook the code is shown as a highlighted Python block (a
``text/markdown`` output holding a fenced ``python`` block, which
jupyter-book renders with the same colours as a code cell); the output's
``text/plain`` form is the bare code, so nbval compares the code itself
either way. Outside IPython the bare code is printed.
"""

import ast
import inspect
import textwrap

from IPython.display import display


def source_lines(function, start=None):
    """The lines of ``function``'s source that :func:`show_source` prints.

    Returns the ``def`` line (with decorators), then the body without its
    docstring. With ``start``, the body begins at the first line that contains
    ``start``, and an indented ``...`` line marks what was left out before it.
    """
    if not inspect.isfunction(function):
        raise TypeError(
            "show_source prints a function's source, got "
            f"{type(function).__name__}; pass the function itself, e.g. "
            "show_source(helpers.seed_everything)."
        )
    source = textwrap.dedent(inspect.getsource(function))
    lines = source.rstrip("\n").split("\n")
    node = ast.parse(source).body[0]
    header = lines[: node.body[0].lineno - 1]
    first = node.body[0]
    skip_to = first.lineno - 1
    if (
        isinstance(first, ast.Expr)
        and isinstance(first.value, ast.Constant)
        and isinstance(first.value.value, str)
    ):
        skip_to = first.end_lineno  # the docstring's last line, 1-based
    body = lines[skip_to:]
    if start is None:
        return header + body
    hits = [i for i, line in enumerate(body) if start in line]
    if not hits:
        raise ValueError(
            f"no line of {function.__name__}'s body contains {start!r}; pass "
            "a piece of the line to begin at, copied from the source."
        )
    indent = body[hits[0]][: -len(body[hits[0]].lstrip())]
    return header + [indent + "..."] + body[hits[0] :]


def show_source(function, start=None):
    """Show ``function``'s ``def`` line and body, without its docstring.

    In a notebook: a highlighted Python block (:class:`Source`); elsewhere,
    printed.

    Parameters
    ----------
    function : function
        A Python function (a ``tf.function`` has its Python function in
        ``.python_function``).
    start : str, optional
        Begin the body at the first line containing this text, so that
        argument checks before it are left out (marked by ``...``).

    Raises
    ------
    TypeError
        ``function`` is not a plain Python function.
    ValueError
        No line of the body contains ``start``.
    """
    display(Source("\n".join(source_lines(function, start))))


class Source:
    """Python code shown highlighted in a notebook, plain elsewhere."""

    def __init__(self, code):
        self.code = code

    def __str__(self):
        return self.code

    def __repr__(self):
        return self.code

    def _repr_markdown_(self):
        # Four backticks: the code itself may hold a three-backtick fence.
        return "````python\n" + self.code + "\n````"
