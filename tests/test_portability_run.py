"""The one-core variant of ``make portability`` keeps each kernel to one CPU.

``tests/portability.py`` runs the notebooks under ``taskset -c 0`` with
``BOOK_WORKER_CPUS=0,1``; ``conftest.py`` then moves each pytest-xdist
worker to its own CPU, and the kernels it starts inherit it.
"""

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat
import pytest
from portability import VARIANTS, worker_cpu

ROOT = Path(__file__).resolve().parents[1]


def test_worker_cpu_follows_the_worker_number():
    cpus = {"BOOK_WORKER_CPUS": "0,1"}
    assert worker_cpu({**cpus, "PYTEST_XDIST_WORKER": "gw0"}) == 0
    assert worker_cpu({**cpus, "PYTEST_XDIST_WORKER": "gw1"}) == 1
    assert (
        worker_cpu({"BOOK_WORKER_CPUS": "3,5", "PYTEST_XDIST_WORKER": "gw1"})
        == 5
    )


def test_no_cpu_outside_a_worker_or_without_the_variable():
    assert worker_cpu({"BOOK_WORKER_CPUS": "0,1"}) is None
    assert worker_cpu({"PYTEST_XDIST_WORKER": "gw0"}) is None
    assert worker_cpu({}) is None


def test_more_workers_than_cpus_is_refused_with_a_fix():
    with pytest.raises(ValueError, match="list a CPU per worker"):
        worker_cpu({"BOOK_WORKER_CPUS": "0", "PYTEST_XDIST_WORKER": "gw1"})


def test_the_one_core_variant_sets_the_variable():
    prefix, extra, mode = VARIANTS["one core"]
    assert prefix == ["taskset", "-c", "0"] and mode == "equal"
    assert extra["BOOK_WORKER_CPUS"] == "0,1"


def _affinity_notebook(path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(
            "import os\n"
            "cpus = os.sched_getaffinity(0)\n"
            "assert len(cpus) == 1, cpus"
        )
    ]
    nbformat.write(nb, path)


@pytest.mark.skipif(
    not hasattr(os, "sched_setaffinity")
    or len(getattr(os, "sched_getaffinity", lambda _: ())(0)) < 2,
    reason="needs Linux and two CPUs",
)
@pytest.mark.parametrize(
    "cpus, one_each", [("0,1", True), (None, False)], ids=["pinned", "control"]
)
def test_kernels_see_one_cpu_each(cpus, one_each):
    """Two notebooks on two workers: with the variable each kernel sees one
    CPU; without it (the control) the kernels see both, and the cell fails."""
    env = dict(os.environ)
    env.pop("BOOK_WORKER_CPUS", None)
    if cpus:
        env["BOOK_WORKER_CPUS"] = cpus
    # Inside the repository, so that its conftest.py is loaded; without
    # the numerics plugin, whose probe is not what this checks.
    with tempfile.TemporaryDirectory(dir=ROOT) as folder:
        for name in ("a.ipynb", "b.ipynb"):
            _affinity_notebook(Path(folder) / name)
        done = subprocess.run(
            [sys.executable, "-m", "pytest", folder, "-q", "-n", "2"]
            + ["-p", "no:nbval_numerics"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
    assert (done.returncode == 0) == one_each, done.stdout[-2000:]
    assert ("2 passed" in done.stdout) == one_each, done.stdout[-2000:]
