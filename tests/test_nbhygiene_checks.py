"""Each hygiene check fails on the kind of notebook it exists to catch."""

import nbformat
import nbhygiene
from nbformat.v4 import (
    new_code_cell,
    new_markdown_cell,
    new_notebook,
    new_output,
)

GOOD_MD = "# Title\n\n## What you will learn\n\n- a thing"
END_MD = "## Summary\n\nDone.\n\n## Exercises\n\n1. Try it."


def notebook(*code_cells):
    nb = new_notebook(
        cells=[
            new_markdown_cell(GOOD_MD),
            *code_cells,
            new_markdown_cell(END_MD),
        ]
    )
    nb.metadata["kernelspec"] = {
        "name": nbhygiene.KERNEL_NAME,
        "display_name": "x",
        "language": "python",
    }
    return nb


def code(source, count, outputs=(), tags=()):
    cell = new_code_cell(source, execution_count=count, outputs=list(outputs))
    if tags:
        cell.metadata["tags"] = list(tags)
    return cell


def clean():
    return notebook(
        code("import helpers", 1),
        code("print(1)", 2, [new_output("stream", name="stdout", text="1\n")]),
    )


def test_clean_notebook_passes():
    nb = clean()
    nbformat.validate(nb)
    assert nbhygiene.check_notebook(nb) == []


def test_code_wider_than_the_column_is_refused():
    nb = clean()
    nb.cells[2].source = "%%script python\nprint('" + "x" * 80 + "')"
    assert any("code line of" in p for p in nbhygiene.check_notebook(nb))
    nb.cells[2].source = "print(1)  # " + "x" * (nbhygiene.CODE_WIDTH - 12)
    assert nbhygiene.check_notebook(nb) == []


def test_title_required():
    nb = clean()
    nb.cells[0].source = "Some text"
    assert nbhygiene.check_title(nb)


def test_template_headings_required():
    nb = clean()
    nb.cells[-1].source = "## Summary\n\nNo exercises here."
    assert nbhygiene.check_template(nb) == [
        "no '## Exercises' heading in a markdown cell"
    ]


def test_kernelspec_required():
    nb = clean()
    nb.metadata["kernelspec"]["name"] = "python3"
    assert nbhygiene.check_kernelspec(nb)


def test_helpers_must_be_imported_first():
    nb = notebook(code("import tensorflow as tf\nimport helpers", 1))
    assert nbhygiene.check_imports_helpers_first(nb)
    nb = notebook(
        code(
            "# set TF logging first\nimport helpers  # first\n%xmode "
            "minimal\nimport tensorflow",
            1,
        )
    )
    assert nbhygiene.check_imports_helpers_first(nb) == []


def test_out_of_order_and_unexecuted_cells():
    nb = notebook(code("a = 1", 1), code("b = 2", 3), code("c = 3", None))
    problems = nbhygiene.check_execution_order(nb)
    assert any("execution count 3, expected 2" in p for p in problems)
    assert any("never executed" in p for p in problems)


def test_untagged_error_and_tag_without_error():
    err = new_output("error", ename="ValueError", evalue="boom", traceback=[])
    nb = notebook(
        code("import helpers", 1), code("raise ValueError('boom')", 2, [err])
    )
    assert "without a raises-exception tag" in nbhygiene.check_errors(nb)[0]
    nb = notebook(
        code("import helpers", 1), code("x = 1", 2, tags=["raises-exception"])
    )
    assert "stores no error" in nbhygiene.check_errors(nb)[0]
    nb = notebook(
        code("import helpers", 1),
        code("raise ValueError('boom')", 2, [err], tags=["raises-exception"]),
    )
    assert nbhygiene.check_errors(nb) == []


def test_stderr_is_refused():
    nb = notebook(
        code(
            "import helpers",
            1,
            [new_output("stream", name="stderr", text="I0000 oneDNN ...\n")],
        )
    )
    assert nbhygiene.check_no_stderr(nb)


def test_machine_paths_found_in_text_and_tracebacks():
    out = new_output(
        "execute_result",
        data={"text/plain": "'/home/me/data.csv'"},
        execution_count=1,
    )
    assert nbhygiene.check_machine_paths(notebook(code("p", 1, [out])))
    err = new_output(
        "error",
        ename="E",
        evalue="e",
        traceback=[
            "\x1b[0;31mFile "
            "\x1b[0;32m/work/main/.venv/lib/python3.11/site-packages/keras/x.py:1\x1b[0m"
        ],
    )
    assert nbhygiene.check_machine_paths(
        notebook(code("x", 1, [err], tags=["raises-exception"]))
    )
    ok = new_output(
        "stream", name="stdout", text="ratio 1/2 and a/tmp/b is not a path\n"
    )
    assert nbhygiene.check_machine_paths(notebook(code("x", 1, [ok]))) == []


def test_progress_bars_need_the_ignore_tag():
    bar = new_output(
        "stream",
        name="stdout",
        text="4/4 ━━━━━━━━━━ 0s 2ms/step - loss: 0.1\n",
    )
    nb = notebook(code("model.fit(x, y)", 1, [bar]))
    assert nbhygiene.check_volatile(nb)
    nb = notebook(
        code(
            "# Output not compared: Keras prints wall-clock "
            "timings.\nmodel.fit(x, y)",
            1,
            [bar],
            tags=["nbval-ignore-output"],
        )
    )
    assert nbhygiene.check_volatile(nb) == []
    assert nbhygiene.check_ignore_reasons(nb) == []


def test_ignore_tag_needs_a_reason():
    nb = notebook(code("model.fit(x, y)", 1, tags=["nbval-ignore-output"]))
    assert nbhygiene.check_ignore_reasons(nb)


def test_unlisted_notebook(tmp_path):
    toc = tmp_path / "_toc.yml"
    toc.write_text(
        "format: jb-book\nroot: book/intro\nparts:\n- caption: C\n  "
        "chapters:\n  - file: notebooks/01_a\n"
    )
    listed = nbhygiene.toc_files(toc)
    assert listed == ["book/intro", "notebooks/01_a"]
    assert nbhygiene.check_listed("notebooks/01_a.ipynb", listed) == []
    assert nbhygiene.check_listed("notebooks/02_b.ipynb", listed)


def test_legacy_mode_must_be_declared_and_declared_must_be_used():
    for source in (
        "tf.compat.v1.disable_eager_execution()",
        "import tf_keras",
        "from tf_keras import layers",
        "os.environ['TF_USE_LEGACY_KERAS'] = '1'",
    ):
        nb = notebook(code("import helpers", 1), code(source, 2))
        assert nbhygiene.check_legacy_declared(nb), source
        nb.metadata["book"] = {"legacy_tf1": True}
        assert nbhygiene.check_legacy_declared(nb) == [], source
    declared_but_unused = clean()
    declared_but_unused.metadata["book"] = {"legacy_tf1": True}
    assert nbhygiene.check_legacy_declared(declared_but_unused)
    assert (
        nbhygiene.check_legacy_declared(
            notebook(
                code("import helpers", 1), code("x = my_tf_keras_model", 2)
            )
        )
        == []
    )


def test_legacy_code_in_a_string_runs_elsewhere():
    # Code given to a subprocess does not touch the notebook's kernel.
    in_a_string = 'script = """\nimport tf_keras\n"""\nrun(script)'
    nb = notebook(code("import helpers", 1), code(in_a_string, 2))
    assert nbhygiene.check_legacy_declared(nb) == []
    # ...but the same import outside the string, after a magic, is caught.
    caught = "%xmode minimal\n" + in_a_string + "\nimport tf_keras"
    nb = notebook(code("import helpers", 1), code(caught, 2))
    assert nbhygiene.check_legacy_declared(nb)


def test_the_legacy_variable_for_a_child_process_only_is_not_legacy_use():
    child = 'run_python(code, env={"TF_USE_LEGACY_KERAS": "1", "A": a})'
    nb = notebook(code("import helpers", 1), code(child, 2))
    assert nbhygiene.check_legacy_declared(nb) == []
    for here in (
        'os.environ.update({"TF_USE_LEGACY_KERAS": "1"})',
        'env = {"TF_USE_LEGACY_KERAS": "1"}\nos.environ.update(env)',
        'run(code, env={"TF_USE_LEGACY_KERAS": "1"})\n'
        'os.environ["TF_USE_LEGACY_KERAS"] = "1"',
        "%env TF_USE_LEGACY_KERAS=1",
    ):
        nb = notebook(code("import helpers", 1), code(here, 2))
        assert nbhygiene.check_legacy_declared(nb), here


def test_a_bar_without_timing_is_caught_and_a_table_border_is_not():
    bar = new_output("stream", name="stdout", text="2/10 ━━━━━━━━━━━━\n")
    assert nbhygiene.check_volatile(
        notebook(code("model.fit(x, y)", 1, [bar]))
    )
    table = new_output(
        "stream",
        name="stdout",
        text="┏━━━━━━━━━┳━━━━━━┓\n┃ Layer   ┃ Shape┃\n┡━━━━━━━━━╇━━━━━━┩\n",
    )
    nb = notebook(code("model.summary()", 1, [table]))
    assert nbhygiene.check_volatile(nb) == []


def test_exercises_need_folded_asserting_solutions_once_there_are_any():
    def with_solutions(*solutions):
        nb = clean()
        nb.cells[-1] = new_markdown_cell(
            "## Summary\n\nDone.\n\n## Exercises\n\n1. Try it.\n2. And this."
        )
        nb.cells.extend(solutions)
        return nb

    # No solution cell yet: left to nbcheck's advice.
    assert nbhygiene.check_exercise_solutions(with_solutions()) == []
    good = code("assert 1 + 1 == 2", 3, tags=["solution", "hide-cell"])
    assert nbhygiene.check_exercise_solutions(with_solutions(good, good)) == []
    # One solution for two exercises.
    assert nbhygiene.check_exercise_solutions(with_solutions(good))
    # Not folded, or asserting nothing.
    shown = code("assert True", 3, tags=["solution"])
    silent = code("print(2)", 4, tags=["solution", "hide-cell"])
    problems = nbhygiene.check_exercise_solutions(
        with_solutions(shown, silent)
    )
    assert any("hide-cell" in p for p in problems)
    assert any("asserts nothing" in p for p in problems)


def test_numerics_cell_must_assert():
    nb = clean()
    nb.cells[2].metadata["tags"] = ["numerics"]
    assert any(
        "asserts nothing" in p for p in nbhygiene.check_numerics_cells(nb)
    )
    nb.cells[2].source = "print(1)\nassert 1 > 0"
    assert nbhygiene.check_numerics_cells(nb) == []
    nb.cells[2].metadata["tags"].append("nbval-ignore-output")
    assert any("tagged both" in p for p in nbhygiene.check_numerics_cells(nb))


def test_prose_number_must_come_from_an_output():
    nb = clean()
    nb.cells.insert(
        3, new_markdown_cell("The loss fell to 0.0421, and Keras 3.15 ...")
    )
    problems = nbhygiene.check_prose_numbers(nb)
    assert len(problems) == 1 and "says 0.0421" in problems[0]
    nb.cells[2].outputs = [
        new_output("stream", name="stdout", text="loss 0.0421\n")
    ]
    assert nbhygiene.check_prose_numbers(nb) == []
    # a longer printed number does not back a shorter one in the prose
    nb.cells[2].outputs[0].text = "loss 0.04215\n"
    assert nbhygiene.check_prose_numbers(nb)
    # a constant of the chapter's code needs no output
    nb.cells[2].source = "rate = 0.0421"
    assert nbhygiene.check_prose_numbers(nb) == []


def test_long_cell_needs_a_tag_and_a_reason():
    nb = clean()
    long_source = "\n".join(f"x{i} = {i}" for i in range(31))
    nb.cells[2].source = long_source
    assert any("31 lines" in p for p in nbhygiene.check_notebook(nb))
    nb.cells[2].metadata["tags"] = [nbhygiene.LONG_TAG]
    assert any("31 lines" in p for p in nbhygiene.check_notebook(nb))
    nb.cells[2].source = "# Long cell: one class the prose reads whole\n"
    nb.cells[2].source += long_source
    assert nbhygiene.check_notebook(nb) == []


def test_long_figure_cell_needs_hide_input_and_says_what_it_draws():
    nb = clean()
    body = "\n".join(f"x{i} = {i}" for i in range(31))
    nb.cells[2].source = "# Figure: the loss against the epoch\n" + body
    assert any("32 lines" in p for p in nbhygiene.check_notebook(nb))
    nb.cells[2].metadata["tags"] = ["hide-input"]
    assert nbhygiene.check_notebook(nb) == []
    nb.cells[2].source = body
    assert any("31 lines" in p for p in nbhygiene.check_notebook(nb))


def test_chapter_over_its_code_budget_is_refused():
    limit = nbhygiene.MAX_CHAPTER_CODE_LINES
    cells = [code(f"a{i} = {i}", 2 + i) for i in range(limit - 1)]
    nb = notebook(code("import helpers", 1), *cells)
    assert nbhygiene.check_notebook(nb) == []
    solution = code("b = 1", limit + 1, tags=["solution", "hide-cell"])
    nb.cells.insert(-1, solution)
    assert nbhygiene.check_chapter_length(nb) == []
    nb.cells.insert(-1, code("c = 1", limit + 2))
    assert any(
        "outside the solutions" in p for p in nbhygiene.check_notebook(nb)
    )


def test_typed_chapter_numbers_are_refused():
    for text in (
        "As chapter 4 showed",
        "# Chapter 1 — Define",
        "worked example 3's head",
        "[Chapter 2](02_extract)",
        "chapters 1–3",
        "see the Appendix 2",
    ):
        nb = clean()
        nb.cells[0].source = GOOD_MD + "\n\n" + text
        assert any(
            "typed chapter number" in p for p in nbhygiene.check_notebook(nb)
        ), text
    nb = clean()
    nb.cells[0].source = GOOD_MD + "\n\n{doc}`03_tracing` and section 5"
    assert nbhygiene.check_notebook(nb) == []


def test_toc_order_follows_the_prefixes():
    good = ["book/intro", "notebooks/01_a", "notebooks/02_b", "book/errors"]
    assert nbhygiene.check_toc_order(good) == []
    swapped = ["book/intro", "notebooks/02_b", "notebooks/01_a"]
    assert len(nbhygiene.check_toc_order(swapped)) == 2
    gap = ["notebooks/01_a", "notebooks/03_c"]
    assert nbhygiene.check_toc_order(gap) == [
        "notebooks/03_c is chapter 2 in _toc.yml: its file name must start "
        "with 02_ (the prefix is the position, so notebooks/ lists in "
        "reading order)"
    ]


def test_legacy_variable_in_code_for_a_child_process_is_not_legacy_use():
    in_child_code = (
        'code = """\nimport os\nos.environ["TF_USE_LEGACY_KERAS"] = "1"\n"""\n'
        "run_python(code)"
    )
    nb = notebook(code("import helpers", 1), code(in_child_code, 2))
    assert nbhygiene.check_legacy_declared(nb) == []
    here = 'import os\nos.environ["TF_USE_LEGACY_KERAS"] = "1"'
    nb = notebook(code("import helpers", 1), code(here, 2))
    assert nbhygiene.check_legacy_declared(nb)


def test_showing_a_private_function_is_refused():
    nb = clean()
    nb.cells[2].source = "show_source(dtw_fast._wavefront)"
    assert any("private function" in p for p in nbhygiene.check_notebook(nb))
    nb.cells[2].source = "show_source(dtw_fast.wavefront)"
    assert nbhygiene.check_notebook(nb) == []
