"""helpers.source: the printed part of a helper's source."""

import pytest

from helpers.source import show_source, source_lines


def documented(x, y=1):
    """A docstring
    over two lines."""
    if x < 0:
        raise ValueError("x")
    total = x + y
    return total


def undocumented(x):
    return x * 2


def test_docstring_left_out_and_def_line_kept():
    assert source_lines(documented) == [
        "def documented(x, y=1):",
        "    if x < 0:",
        '        raise ValueError("x")',
        "    total = x + y",
        "    return total",
    ]


def test_function_without_docstring_is_printed_whole():
    assert source_lines(undocumented) == [
        "def undocumented(x):",
        "    return x * 2",
    ]


def test_start_skips_the_checks_and_marks_the_gap():
    assert source_lines(documented, start="total =") == [
        "def documented(x, y=1):",
        "    ...",
        "    total = x + y",
        "    return total",
    ]


def test_methods_are_dedented():
    class Holder:
        def method(self):
            """Doc."""
            return 1

    assert source_lines(Holder.method) == [
        "def method(self):",
        "    return 1",
    ]


def test_show_source_prints_the_lines(capsys):
    show_source(undocumented)
    assert (
        capsys.readouterr().out == "def undocumented(x):\n    return x * 2\n"
    )


def test_start_not_found_names_the_fix():
    with pytest.raises(ValueError, match="copied from the source"):
        source_lines(documented, start="no such line")


@pytest.mark.parametrize("bad", [len, "documented", 3])
def test_not_a_function_names_the_fix(bad):
    with pytest.raises(TypeError, match="pass the function itself"):
        source_lines(bad)


def test_notebook_form_is_a_python_block_and_plain_text_is_the_code():
    from helpers.source import Source

    shown = Source("def f():\n    return 1")
    assert shown._repr_markdown_() == (
        "````python\ndef f():\n    return 1\n````"
    )
    assert repr(shown) == str(shown) == "def f():\n    return 1"


def test_in_ipython_show_source_displays_markdown_and_plain_text():
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    try:
        shown = []

        def publish(data, metadata=None, **kwargs):
            shown.append(data)

        original = shell.display_pub.publish
        shell.display_pub.publish = publish
        try:
            show_source(undocumented)
        finally:
            shell.display_pub.publish = original
        assert shown == [
            {
                "text/plain": "def undocumented(x):\n    return x * 2",
                "text/markdown": "````python\ndef undocumented(x):\n"
                "    return x * 2\n````",
            }
        ]
    finally:
        InteractiveShell.clear_instance()
