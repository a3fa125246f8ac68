"""TF1 mode and legacy Keras stay inside the one notebook that declares them.

Each notebook runs in a kernel of its own (Jupyter, nbval and ``make execute``
all start one per notebook), so a process-wide switch in one cannot reach
another. What could leak is shared code: these tests make sure the helpers
never switch modes or load ``tf_keras``.
"""

import subprocess
import sys
from pathlib import Path

import nbhygiene

HELPERS = Path(__file__).resolve().parent.parent / "helpers"


def test_helpers_never_switch_to_tf1_or_load_legacy_keras():
    for path in sorted(HELPERS.glob("*.py")):
        match = nbhygiene.LEGACY_CODE.search(path.read_text(encoding="utf-8"))
        assert match is None, f"{path.name} contains {match.group(0)!r}"


def test_a_fresh_process_with_all_helpers_is_eager_keras3():
    code = (
        "import helpers, importlib, pkgutil, sys\nfor m in "
        "pkgutil.iter_modules(helpers.__path__): "
        "importlib.import_module('helpers.' + m.name)\nimport tensorflow as "
        "tf, keras\nprint(tf.executing_eagerly(), 'tf_keras' in sys.modules, "
        "keras.__version__.split('.')[0])\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.split() == ["True", "False", "3"]
