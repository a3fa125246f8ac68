"""The one-core variant of ``make portability`` keeps each kernel to one CPU.

``tests/portability.py`` runs the notebooks under ``taskset -c 0`` with
``BOOK_WORKER_CPUS=0,1``; ``conftest.py`` then moves each pytest-xdist
worker to its own CPU, and the kernels it starts inherit it.
"""

import json
import os
import shutil
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


def _affinity_notebook(path):
    """A notebook that writes the CPUs its kernel may use beside itself."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(
            "import json, os\n"
            f"with open({path.stem + '.cpus'!r}, 'w') as f:\n"
            "    json.dump(sorted(os.sched_getaffinity(0)), f)"
        )
    ]
    nbformat.write(nb, path)


@pytest.mark.skipif(
    not hasattr(os, "sched_setaffinity")
    or shutil.which("taskset") is None
    or not {0, 1} <= getattr(os, "sched_getaffinity", lambda _: set())(0),
    reason="needs Linux, taskset and CPUs 0 and 1",
)
@pytest.mark.parametrize(
    "with_variable, expected",
    [(True, [[0], [1]]), (False, [[0], [0]])],
    ids=["variant", "control"],
)
def test_the_one_core_variant_gives_each_kernel_a_cpu(with_variable, expected):
    """Two notebooks on two workers, run as the variant runs them: each
    kernel keeps to one CPU, and the two use both. The control (the same
    ``taskset`` without the variable) leaves both kernels on CPU 0."""
    prefix, extra, _ = VARIANTS["one core"]
    env = {k: v for k, v in os.environ.items() if k != "BOOK_WORKER_CPUS"}
    if with_variable:
        env.update(extra)
    # Inside the repository, so that its conftest.py is loaded; without
    # the numerics plugin, whose probe is not what this checks.
    with tempfile.TemporaryDirectory(dir=ROOT) as folder:
        for name in ("a", "b"):
            _affinity_notebook(Path(folder) / f"{name}.ipynb")
        done = subprocess.run(
            [*prefix, sys.executable, "-m", "pytest", folder, "-q"]
            + ["-n", "2", "-p", "no:nbval_numerics"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stdout[-2000:]
        seen = sorted(
            json.loads((Path(folder) / f"{name}.cpus").read_text())
            for name in ("a", "b")
        )
    assert seen == expected
