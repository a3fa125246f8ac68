"""template/ works as a reader would use it: both paths, and its controls.

The template is copied to a temporary folder, its notebook re-executed and its
fingerprint recorded there (``make execute``, as a reader does on their own
machine), then its own pytest set-up is run:

* fingerprint **equal**: every cell compared; an altered stored output of the
  ``numerics`` cell fails;
* fingerprint **different** (a reference from another machine): the
  ``numerics`` cell is checked by its assertion alone, so the altered digits
  pass, a failing assertion fails, and an altered untagged output still fails
  with the hint to make it exact or tag it;
* real other numerics (oneDNN at SSE4.1, one thread): with the ``numerics``
  tag removed, the training cell fails.
"""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

TEMPLATE = Path(__file__).resolve().parents[1] / "template"
OTHER_NUMERICS = {
    "ONEDNN_MAX_CPU_ISA": "SSE41",
    "TF_NUM_INTRAOP_THREADS": "1",
    "TF_NUM_INTEROP_THREADS": "1",
}


def _run(args, cwd, env=None):
    full_env = dict(os.environ)
    # the book's own settings must not leak into the reader's project
    for name in ("ONEDNN_MAX_CPU_ISA", "XLA_FLAGS"):
        full_env.pop(name, None)
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def _pytest(cwd, env=None, *options):
    done = _run(["-m", "pytest", "-rf", *options], cwd, env)
    return done.returncode, done.stdout + done.stderr


def _failed(output):
    return sorted(re.findall(r"^FAILED (\S+::Cell \d+)", output, re.MULTILINE))


def _mode_line(output):
    return next(
        line for line in output.splitlines() if line.startswith("numerics: ")
    )


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """The template, executed and recorded on this machine."""
    root = tmp_path_factory.mktemp("reader") / "project"
    shutil.copytree(TEMPLATE, root)
    done = _run(
        [
            "-m",
            "jupyter",
            "nbconvert",
            "--to",
            "notebook",
            "--execute",
            "--inplace",
            "--ExecutePreprocessor.record_timing=False",
            "notebooks/train.ipynb",
        ],
        root,
    )
    assert done.returncode == 0, done.stderr
    done = _run(
        ["nbval_numerics.py", "record", "numerics_probe.py", "numerics.json"],
        root,
    )
    assert done.returncode == 0, done.stderr
    return root


def _variants(root):
    """Four copies of the notebook: as made, and three broken ones."""
    nb = nbformat.read(root / "notebooks/train.ipynb", as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    exact, trained = code
    assert "numerics" in trained.metadata["tags"]
    assert "numerics" not in exact.metadata.get("tags", [])

    def write(name, edit):
        copy = nbformat.from_dict(json.loads(json.dumps(nb)))
        edit([c for c in copy.cells if c.cell_type == "code"])
        nbformat.write(copy, root / "notebooks" / f"{name}.ipynb")

    def digits(cells):
        out = cells[1].outputs[0]
        out.text = re.sub(r"final loss \d\.\d+", "final loss 9.999", out.text)

    def shape(cells):
        cells[0].outputs[0].text = "(None, 2) 161\n"

    def assertion(cells):
        cells[1].source += "\nassert loss > baseline  # fails"

    write("altered_digits", digits)
    write("altered_exact", shape)
    write("failing_assert", assertion)


def test_fingerprint_equal_compares_numerics_cells(project):
    _variants(project)
    code, output = _pytest(project)
    assert code == 1, output
    assert _mode_line(output).startswith("numerics: equal")
    assert "4 cells tagged numerics, 0 checked by assertion only" in output
    assert _failed(output) == [
        "notebooks/altered_digits.ipynb::Cell 1",
        "notebooks/altered_exact.ipynb::Cell 0",
        "notebooks/failing_assert.ipynb::Cell 1",
    ]


def test_fingerprint_different_checks_assertions_only(project):
    _variants(project)
    reference = json.loads((project / "numerics.json").read_text())
    reference["fingerprint"] = "another-machine"
    reference["parts"]["matmul"] = "another-machine"
    (project / "numerics.json").write_text(json.dumps(reference))
    try:
        code, output = _pytest(project)
    finally:
        _run(
            [
                "nbval_numerics.py",
                "record",
                "numerics_probe.py",
                "numerics.json",
            ],
            project,
        )
    assert code == 1, output
    line = _mode_line(output)
    assert line.startswith("numerics: different"), line
    assert "reference another-machine" in line
    assert "parts differing: matmul" in line
    # train, altered_digits and altered_exact pass their assertions
    assert "4 cells tagged numerics, 3 checked by assertion only" in output
    assert _failed(output) == [
        "notebooks/altered_exact.ipynb::Cell 0",
        "notebooks/failing_assert.ipynb::Cell 1",
    ]
    assert "is not tagged 'numerics', and its output changed" in output


def test_untagged_training_cell_fails_on_other_numerics(project):
    for name in ("altered_digits", "altered_exact", "failing_assert"):
        (project / "notebooks" / f"{name}.ipynb").unlink(missing_ok=True)
    path = project / "notebooks/train.ipynb"
    nb = nbformat.read(path, as_version=4)
    code, output = _pytest(project, OTHER_NUMERICS, "notebooks")
    assert code == 0, output
    assert _mode_line(output).startswith("numerics: different")
    assert "1 cell tagged numerics, 1 checked by assertion only" in output
    # the control: the same run with the tag removed
    trained = [c for c in nb.cells if c.cell_type == "code"][1]
    trained.metadata["tags"].remove("numerics")
    nbformat.write(nb, project / "notebooks/untagged.ipynb")
    path.unlink()
    code, output = _pytest(project, OTHER_NUMERICS)
    assert code == 1, output
    assert "is not tagged 'numerics', and its output changed" in output
    assert _failed(output) == ["notebooks/untagged.ipynb::Cell 1"]
