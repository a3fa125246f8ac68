"""Loads the plugin that decides how the notebooks' outputs are compared.

``template/nbval_numerics.py`` is the same file that ``template/`` gives
readers to copy: exact outputs compared on every machine, cells tagged
``numerics`` compared where this machine's numerics fingerprint equals the
recorded one (``tests/numerics.json``) and checked by their assertions
elsewhere. ``book/testing.md`` explains it.
"""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT / "template"))

pytest_plugins = ["nbval_numerics"]


def _keep_to_one_cpu():
    """The one-core variant of ``make portability`` (``tests/portability.py``):
    this pytest-xdist worker, and so every kernel it starts, keeps to the CPU
    that ``BOOK_WORKER_CPUS`` gives it. Without the variable, nothing."""
    sys.path.insert(0, str(ROOT / "tests"))
    from portability import worker_cpu

    cpu = worker_cpu(os.environ)
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})
        assert os.sched_getaffinity(0) == {cpu}


if os.environ.get("BOOK_WORKER_CPUS"):
    _keep_to_one_cpu()
