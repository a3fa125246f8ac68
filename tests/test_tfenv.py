import os
import subprocess
import sys
import warnings

import pytest

from helpers import tfenv


def test_defaults_fill_only_missing_variables():
    env = {"TF_CPP_MIN_LOG_LEVEL": "0"}
    applied = tfenv.apply_tf_env_defaults(env)
    assert env["TF_CPP_MIN_LOG_LEVEL"] == "0", "a value the reader exported must win"
    assert env["TF_ENABLE_ONEDNN_OPTS"] == "0"
    assert env["KERAS_BACKEND"] == "tensorflow"
    assert "TF_CPP_MIN_LOG_LEVEL" not in applied


def test_bad_environ_is_refused_with_a_fix():
    with pytest.raises(TypeError, match="mutable mapping"):
        tfenv.apply_tf_env_defaults(["TF_CPP_MIN_LOG_LEVEL"])


def test_warns_when_tensorflow_was_imported_first(monkeypatch):
    import tensorflow  # noqa: F401  (make sure it is in sys.modules)

    monkeypatch.delenv("TF_ENABLE_ONEDNN_OPTS", raising=False)
    with pytest.warns(RuntimeWarning, match="Restart the kernel"):
        tfenv.apply_tf_env_defaults()


def _clean_env():
    env = {k: v for k, v in os.environ.items() if k not in tfenv.TF_ENV_DEFAULTS}
    return env


def test_importing_helpers_first_keeps_tensorflow_silent():
    code = "import helpers, tensorflow as tf, keras; print(float(tf.reduce_sum(tf.ones(3))))"
    run = subprocess.run([sys.executable, "-c", code], env=_clean_env(), capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "3.0"
    assert run.stderr == "", f"TensorFlow wrote to stderr:\n{run.stderr}"


def test_without_helpers_tensorflow_is_not_silent():
    # The control for the test above: if this ever passes silently, the test
    # above proves nothing and the defaults may no longer be needed.
    code = "import tensorflow as tf; tf.reduce_sum(tf.ones(3))"
    run = subprocess.run([sys.executable, "-c", code], env=_clean_env(), capture_output=True, text=True, timeout=300)
    assert run.returncode == 0
    assert run.stderr != ""


def test_no_warning_when_nothing_to_apply():
    env = dict(tfenv.TF_ENV_DEFAULTS)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert tfenv.apply_tf_env_defaults(env) == {}


def _tf_logger_level_in_interactive_process(import_helpers):
    # sys.ps1 makes TensorFlow believe it runs in an interactive session, as in Jupyter.
    code = "import sys; sys.ps1 = '>>> '\n"
    code += "import helpers\n" if import_helpers else ""
    code += "import tensorflow as tf; print(tf.get_logger().getEffectiveLevel())\n"
    env = {k: v for k, v in os.environ.items() if k not in tfenv.TF_ENV_DEFAULTS}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    return int(result.stdout.split()[-1])


def test_helpers_keep_tensorflow_python_info_out_of_interactive_sessions():
    import logging

    assert _tf_logger_level_in_interactive_process(import_helpers=False) == logging.INFO  # the control
    assert _tf_logger_level_in_interactive_process(import_helpers=True) == logging.WARNING
