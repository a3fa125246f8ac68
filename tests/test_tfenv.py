import os
import shutil
import subprocess
import sys
import warnings

import pytest
from portability import host_isa

from helpers import tfenv


def test_defaults_fill_only_missing_variables():
    env = {"TF_CPP_MIN_LOG_LEVEL": "0"}
    applied = tfenv.apply_tf_env_defaults(env)
    assert env["TF_CPP_MIN_LOG_LEVEL"] == "0", (
        "a value the reader exported must win"
    )
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
    return tfenv.without_defaults()


def _run_python(code, env=None, prefix=()):
    """Run ``code`` in a fresh Python, by default without our variables."""
    return subprocess.run(
        [*prefix, sys.executable, "-c", code],
        env=_clean_env() if env is None else env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_importing_helpers_first_keeps_tensorflow_silent():
    code = (
        "import helpers, tensorflow as tf, keras; "
        "print(float(tf.reduce_sum(tf.ones(3))))"
    )
    run = _run_python(code)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "3.0"
    assert run.stderr == "", f"TensorFlow wrote to stderr:\n{run.stderr}"


def test_without_helpers_tensorflow_is_not_silent():
    # The control for the test above: if this ever passes silently, the test
    # above proves nothing and the defaults may no longer be needed.
    code = "import tensorflow as tf; tf.reduce_sum(tf.ones(3))"
    run = _run_python(code)
    assert run.returncode == 0
    assert run.stderr != ""


def test_no_warning_when_nothing_to_apply():
    env = {
        **tfenv.TF_ENV_DEFAULTS,
        **tfenv.numerics_defaults(),
        "XLA_FLAGS": tfenv.XLA_ISA_FLAG,
    }
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert tfenv.apply_tf_env_defaults(env) == {}


def _tf_logger_level_in_interactive_process(import_helpers):
    # sys.ps1 makes TensorFlow believe it runs in an interactive session, as in
    # Jupyter.
    code = "import sys; sys.ps1 = '>>> '\n"
    code += "import helpers\n" if import_helpers else ""
    code += (
        "import tensorflow as tf; print(tf.get_logger().getEffectiveLevel())\n"
    )
    result = _run_python(code)
    assert result.returncode == 0, result.stderr
    return int(result.stdout.split()[-1])


def test_helpers_keep_tensorflow_python_info_out_of_interactive_sessions():
    import logging

    # the control
    assert (
        _tf_logger_level_in_interactive_process(import_helpers=False)
        == logging.INFO
    )
    assert (
        _tf_logger_level_in_interactive_process(import_helpers=True)
        == logging.WARNING
    )


# --- Portable numerics (book/testing.md, "The same numbers on every
# machine") ---


def test_x86_gets_thread_pools_and_the_isa_cap():
    # Linux and macOS spell it one way, Windows the other
    for machine in (
        "x86_64",
        "AMD64",
    ):
        env = {}
        applied = tfenv.apply_tf_env_defaults(env, machine=machine)
        assert (
            env["TF_NUM_INTRAOP_THREADS"]
            == env["TF_NUM_INTEROP_THREADS"]
            == "2"
        )
        assert env["ONEDNN_MAX_CPU_ISA"] == "AVX2"
        assert env["XLA_FLAGS"] == "--xla_cpu_max_isa=AVX2"
        assert applied["XLA_FLAGS"] == env["XLA_FLAGS"]


def test_arm_gets_thread_pools_but_no_x86_isa_names():
    for machine in ("arm64", "aarch64"):  # macOS, Linux
        env = {}
        tfenv.apply_tf_env_defaults(env, machine=machine)
        assert env["TF_NUM_INTRAOP_THREADS"] == "2"
        assert "ONEDNN_MAX_CPU_ISA" not in env and "XLA_FLAGS" not in env


def test_xla_flag_is_added_to_the_readers_flags_not_replacing_them():
    env = {"XLA_FLAGS": "--xla_dump_to=/tmp/x"}
    tfenv.apply_tf_env_defaults(env, machine="x86_64")
    assert env["XLA_FLAGS"] == "--xla_dump_to=/tmp/x --xla_cpu_max_isa=AVX2"
    # the reader's own cap wins
    env = {"XLA_FLAGS": "--xla_cpu_max_isa=AVX512"}
    assert "XLA_FLAGS" not in tfenv.apply_tf_env_defaults(
        env, machine="x86_64"
    )
    assert env["XLA_FLAGS"] == "--xla_cpu_max_isa=AVX512"


def test_a_readers_own_values_win():
    env = {"TF_NUM_INTRAOP_THREADS": "8", "ONEDNN_MAX_CPU_ISA": "AVX512_CORE"}
    applied = tfenv.apply_tf_env_defaults(env, machine="x86_64")
    assert (
        env["TF_NUM_INTRAOP_THREADS"] == "8"
        and env["ONEDNN_MAX_CPU_ISA"] == "AVX512_CORE"
    )
    assert (
        "TF_NUM_INTRAOP_THREADS" not in applied
        and "ONEDNN_MAX_CPU_ISA" not in applied
    )


def test_the_switch_turns_the_numerics_pin_off_and_keeps_the_log_settings():
    env = {tfenv.SWITCH: "0"}
    tfenv.apply_tf_env_defaults(env, machine="x86_64")
    assert env["TF_CPP_MIN_LOG_LEVEL"] == "2"
    assert not {
        "TF_NUM_INTRAOP_THREADS",
        "ONEDNN_MAX_CPU_ISA",
        "XLA_FLAGS",
    } & set(env)


def test_a_bad_switch_value_is_refused_with_the_values_it_takes():
    with pytest.raises(ValueError, match="must be 0 .* or 1"):
        tfenv.apply_tf_env_defaults({tfenv.SWITCH: "no"}, machine="x86_64")


# Two matrix products whose float32 bits change with the machine: with the
# number of threads (a long inner dimension, split between threads) and, on a
# CPU with AVX-512, with oneDNN's code path. Each is printed as a hash of its
# bits.
_PROBE = """
import hashlib
import helpers, tensorflow as tf
def product(m, k, n):
    a = tf.random.stateless_normal([m, k], seed=[1, 2])
    b = tf.random.stateless_normal([k, n], seed=[3, 4])
    return hashlib.sha256(tf.matmul(a, b).numpy().tobytes()).hexdigest()[:16]
print(product(257, 3000, 257), product(16, 10, 3))
"""


def _products(prefix=("taskset", "-c", "0,1"), **env):
    run = _run_python(_PROBE, env={**_clean_env(), **env}, prefix=prefix)
    assert run.returncode == 0, run.stderr
    return run.stdout.split()


def _can_emulate_core_counts():
    return (
        shutil.which("taskset") is not None
        and hasattr(os, "sched_getaffinity")
        and len(os.sched_getaffinity(0)) >= 2
    )


@pytest.mark.skipif(
    not _can_emulate_core_counts(), reason="needs taskset (Linux) and two CPUs"
)
def test_the_pin_makes_products_independent_of_the_core_count():
    one_core = _products(prefix=["taskset", "-c", "0"])
    assert one_core == _products()
    # The control: without the pin, one thread and two add in different orders.
    off = {tfenv.SWITCH: "0"}
    assert (
        _products(prefix=["taskset", "-c", "0"], **off)[0]
        != _products(**off)[0]
    )


@pytest.mark.skipif(
    not (host_isa() == "AVX-512" and _can_emulate_core_counts()),
    reason="needs a CPU with AVX-512, to differ from AVX2, and taskset",
)
def test_the_pin_makes_products_independent_of_the_instruction_set():
    # An AVX2-only CPU is emulated by oneDNN's own cap (a real AVX2 CPU caps
    # itself). With the pin, this AVX-512 host must compute what it computes.
    avx2 = {"ONEDNN_MAX_CPU_ISA": "AVX2"}
    assert _products() == _products(**avx2)
    # The control: without the pin this host's AVX-512 path gives other bits.
    off = {tfenv.SWITCH: "0"}
    assert _products(**off) != _products(**off, **avx2)


def test_without_defaults_drops_every_variable_we_may_set_and_keeps_the_rest():
    env = {"PATH": "/bin", "XLA_FLAGS": "--x", tfenv.SWITCH: "0"}
    tfenv.apply_tf_env_defaults(env, machine="x86_64")
    assert tfenv.without_defaults(env) == {"PATH": "/bin"}


def test_tf_log_to_stdout_shows_warnings_and_restores_the_handlers(capsys):
    import tensorflow as tf

    logger = tf.get_logger()
    before = logger.handlers[:]
    with tfenv.tf_log_to_stdout():
        logger.warning("retraced %d times", 5)
    assert capsys.readouterr().out == "WARNING:tensorflow:retraced 5 times\n"
    assert logger.handlers == before
    with pytest.raises(RuntimeError), tfenv.tf_log_to_stdout():
        raise RuntimeError("inside the block")
    assert logger.handlers == before


def test_tf_log_to_stdout_takes_another_logger(capsys):
    import logging

    logger = logging.getLogger("absl")
    before = logger.handlers[:], logger.propagate
    with tfenv.tf_log_to_stdout("absl"):
        logger.warning("legacy format")
    assert capsys.readouterr().out == "WARNING:absl:legacy format\n"
    assert (logger.handlers[:], logger.propagate) == before


def test_run_python_returns_stdout_and_passes_the_environment():
    code = "import os; print(os.environ['BOOK_TEST_VALUE'])"
    assert tfenv.run_python(code, env={"BOOK_TEST_VALUE": "42"}) == "42\n"


def test_run_python_reports_the_failure_with_its_stderr():
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        tfenv.run_python("1 / 0")
    with pytest.raises(TypeError, match="str"):
        tfenv.run_python(["print(1)"])
    with pytest.raises(TypeError, match="str()"):
        tfenv.run_python("print(1)", env={"OMP_NUM_THREADS": 1})
    with pytest.raises(subprocess.TimeoutExpired):
        tfenv.run_python("import time; time.sleep(10)", timeout=0.5)
