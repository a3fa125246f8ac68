"""helpers/__init__.py's index is the one the modules and notebooks give."""

import helpers_index


def test_index_lists_every_module_name_and_its_chapters():
    assert helpers_index.current() == helpers_index.render(), (
        "helpers/__init__.py's index is out of date: run "
        ".venv/bin/python tests/helpers_index.py"
    )


def test_index_names_the_chapters_that_use_a_function():
    code = {
        "01_a": "from helpers.graphs import op_histogram\nx = 1",
        "02_b": "from helpers import graphs\ngraphs.op_histogram(g)",
        "03_c": "op_histogram = None",
    }
    assert helpers_index.users("graphs", "op_histogram", code) == [
        "01_a",
        "02_b",
    ]


def test_index_sees_a_module_imported_under_another_name():
    code = {
        "01_a": "from helpers import multi_worker as mw\nmw.tf_config(0)",
        "02_b": "from helpers import graphs as mw\nmw.tf_config(0)",
    }
    assert helpers_index.users("multi_worker", "tf_config", code) == ["01_a"]
