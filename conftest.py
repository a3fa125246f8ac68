"""Loads the plugin that decides how the notebooks' outputs are compared.

``template/nbval_numerics.py`` is the same file that ``template/`` gives
readers to copy: exact outputs compared on every machine, cells tagged
``numerics`` compared where this machine's numerics fingerprint equals the
recorded one (``tests/numerics.json``) and checked by their assertions
elsewhere. ``book/testing.md`` explains it.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "template"))

pytest_plugins = ["nbval_numerics"]
