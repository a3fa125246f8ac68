"""Environment defaults that must be in place before ``import tensorflow``.

TensorFlow reads these variables once, when its C++ runtime loads. Set later,
they do nothing, which is why :mod:`helpers` applies them at import time and
why notebooks import :mod:`helpers` first.

Two groups:

* :data:`TF_ENV_DEFAULTS` keep TensorFlow's start-up log lines off stderr and
  fix the Keras backend.
* :data:`PORTABLE_NUMERICS` (and, on x86-64, :data:`X86_NUMERICS` and the XLA
  flag in :data:`XLA_ISA_FLAG`) make floating-point results the same on every
  machine: the same kernels and the same thread-pool sizes whatever the CPU and
  its core count. ``book/testing.md`` explains why and what it costs. Set
  ``BOOK_PORTABLE_NUMERICS=0`` before starting Python to run at the machine's
  full speed instead (the numbers of training cells may then differ from the
  book's in their last digits).
"""

import contextlib
import logging
import os
import platform
import sys
import warnings

#: Variable -> value. ``setdefault`` semantics: a value the reader already
#: exported wins, so ``TF_CPP_MIN_LOG_LEVEL=0 jupyter lab`` still shows
#: everything.
TF_ENV_DEFAULTS = {
    # 2 hides C++ INFO and WARNING lines (oneDNN notice, CPU feature guard,
    # the absl pre-init banner) but keeps real C++ errors visible. (On
    # TensorFlow 2.20 a few absl lines still get through: book/versions.md.)
    "TF_CPP_MIN_LOG_LEVEL": "2",
    # The oneDNN notice is printed even at log level 2 unless oneDNN custom
    # ops are switched off; switching them off also removes a source of
    # run-to-run floating-point differences on CPU.
    "TF_ENABLE_ONEDNN_OPTS": "0",
    # The book is about Keras on TensorFlow; never pick up another backend
    # from a reader's ~/.keras/keras.json.
    "KERAS_BACKEND": "tensorflow",
}

#: Thread-pool sizes, on every platform. TensorFlow sizes its pools by the
#: core count, and a matrix product split over a different number of threads
#: adds its partial sums in a different order. Two of each, whatever the cores.
PORTABLE_NUMERICS = {
    "TF_NUM_INTRAOP_THREADS": "2",
    "TF_NUM_INTEROP_THREADS": "2",
}

#: On x86-64: oneDNN (the GEMM behind TensorFlow's matrix products on CPU, used
#: even with TF_ENABLE_ONEDNN_OPTS=0) picks its code path from the CPU at run
#: time, AVX2 or AVX-512, each with its own order of additions. Capped at AVX2
#: (Intel Core and Xeon since 2013, AMD since 2015), all of them take one path.
X86_NUMERICS = {"ONEDNN_MAX_CPU_ISA": "AVX2"}

#: The same cap for the code XLA compiles for the CPU (``jit_compile=True``).
#: XLA_FLAGS holds several flags, so this one is added to what is there.
XLA_ISA_FLAG = "--xla_cpu_max_isa=AVX2"

#: The reader's switch: ``BOOK_PORTABLE_NUMERICS=0`` leaves the numerics alone.
SWITCH = "BOOK_PORTABLE_NUMERICS"

_X86_MACHINES = {"x86_64", "amd64", "x64"}


def numerics_defaults(machine=None):
    """The variables that pin the numerics on ``machine`` (default: this one).

    Returns a dict of variable -> value, without ``XLA_FLAGS`` (which is
    merged, not set; see :func:`apply_tf_env_defaults`). The ISA cap is
    x86-64 only: oneDNN's ISA names and XLA's flag values are those of x86.
    """
    machine = platform.machine() if machine is None else machine
    defaults = dict(PORTABLE_NUMERICS)
    if machine.lower() in _X86_MACHINES:
        defaults.update(X86_NUMERICS)
    return defaults


def apply_tf_env_defaults(environ=None, machine=None):
    """Put the defaults into ``environ`` unless already set there.

    Always :data:`TF_ENV_DEFAULTS`; unless ``environ`` has
    ``BOOK_PORTABLE_NUMERICS=0``, also :func:`numerics_defaults` and, on
    x86-64, :data:`XLA_ISA_FLAG` added to ``XLA_FLAGS`` (unless that already
    sets ``--xla_cpu_max_isa``).

    Parameters
    ----------
    environ : mutable mapping, optional
        Defaults to :data:`os.environ`. Tests pass a plain ``dict``.
    machine : str, optional
        What :func:`platform.machine` returns; tests pass another machine's.

    Returns
    -------
    dict
        The variables this call set, with their new values (empty if all were
        already present).

    Raises
    ------
    ValueError
        If ``BOOK_PORTABLE_NUMERICS`` is set to anything but ``0`` or ``1``.

    Warns
    -----
    RuntimeWarning
        When TensorFlow is already imported in this process (the defaults
        can no longer take effect); the message says how to fix it.
    """
    if environ is None:
        environ = os.environ
    if not hasattr(environ, "setdefault"):
        raise TypeError(
            "environ must be a mutable mapping such as os.environ or a dict, "
            f"got {type(environ).__name__}; call apply_tf_env_defaults() with "
            "no argument to use os.environ."
        )
    switch = environ.get(SWITCH, "1")
    if switch not in ("0", "1"):
        raise ValueError(
            f"{SWITCH} must be 0 (the machine's own numerics, full speed) or "
            f"1 (the book's portable numerics, the default), got {switch!r}."
        )
    wanted = dict(TF_ENV_DEFAULTS)
    if switch == "1":
        wanted.update(numerics_defaults(machine))
    applied = {}
    for name, value in wanted.items():
        if name not in environ:
            environ[name] = value
            applied[name] = value
    if switch == "1" and "ONEDNN_MAX_CPU_ISA" in numerics_defaults(machine):
        flags = environ.get("XLA_FLAGS", "")
        if "--xla_cpu_max_isa" not in flags:
            environ["XLA_FLAGS"] = f"{flags} {XLA_ISA_FLAG}".strip()
            applied["XLA_FLAGS"] = environ["XLA_FLAGS"]
    if environ is os.environ and "tensorflow" in sys.modules and applied:
        warnings.warn(
            "helpers was imported after tensorflow, so TensorFlow's log and "
            "numerics settings cannot take effect any more. Restart the "
            "kernel and make `import helpers` the first import of the "
            "notebook.",
            RuntimeWarning,
            stacklevel=3,
        )
    return applied


def without_defaults(environ=None):
    """A copy of ``environ`` (default :data:`os.environ`) without any variable
    :func:`apply_tf_env_defaults` may set, nor the switch.

    For a child process that must start as a reader's would, before
    ``import helpers`` has set anything (the tests and ``make benchmark``).
    """
    ours = {
        *TF_ENV_DEFAULTS,
        *PORTABLE_NUMERICS,
        *X86_NUMERICS,
        "XLA_FLAGS",
        SWITCH,
    }
    environ = os.environ if environ is None else environ
    return {name: value for name, value in environ.items() if name not in ours}


def quiet_tf_python_logger():
    """Set TensorFlow's Python logger to WARNING: INFO stays out of outputs.

    In an interactive session (IPython, Jupyter) TensorFlow sets its Python
    logger to INFO and sends it to stdout, so saving a SavedModel prints
    "INFO:tensorflow:Assets written to: <a path>" into the notebook, once on
    stdout and once on stderr. WARNING keeps every warning (retracing, for
    example) and error visible. Call after TensorFlow is imported; returns the
    logger.
    """
    import logging

    import tensorflow as tf

    # creates and configures it now, so the level set below is not overridden
    logger = tf.get_logger()
    logger.setLevel(logging.WARNING)
    return logger


@contextlib.contextmanager
def tf_log_to_stdout(name="tensorflow"):
    """Send a Python logger's records to stdout inside a ``with`` block.

    TensorFlow's warnings (retracing, deprecations) normally go to stderr,
    which the book keeps empty; inside this block they appear in the cell's
    output, as ``WARNING:tensorflow:<message>``, so a chapter can show them.
    ``name`` picks another logger: ``"absl"`` is the one Keras' saving code
    warns through. The logger's handlers are restored afterwards, also after
    an error.
    """
    if name == "tensorflow":
        import tensorflow as tf  # here: importing tfenv must not load TF

        logger = tf.get_logger()
    else:
        logger = logging.getLogger(name)
    saved = logger.handlers[:], logger.propagate
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(
        logging.Formatter(f"%(levelname)s:{name}:%(message)s")
    )
    logger.handlers, logger.propagate = [handler], False
    try:
        yield
    finally:
        logger.handlers, logger.propagate = saved


def run_python(code, env=None, timeout=600):
    """Run ``code`` in a fresh Python process; return what it printed.

    For what must not share the notebook's process: legacy Keras 2
    (``tf_keras``, or ``TF_USE_LEGACY_KERAS=1`` so that ``tf.keras`` is Keras
    2), or TensorFlow parts that log from C++ to stderr. The process gets this
    one's environment (so :data:`TF_ENV_DEFAULTS` apply there too) updated
    with ``env`` (names and values are strings), and the current directory.
    If it fails, its stderr is in the error; after ``timeout`` seconds it is
    stopped (``subprocess.TimeoutExpired``).
    """
    import subprocess  # here: importing tfenv stays cheap

    if not isinstance(code, str):
        raise TypeError(
            f"code must be Python source as a str, got {type(code).__name__}"
        )
    env = dict(env or {})
    wrong = {k: v for k, v in env.items() if not isinstance(v, str)}
    if wrong or not all(isinstance(k, str) for k in env):
        raise TypeError(
            "env takes strings, as the environment holds them; got "
            f"{wrong or env}. Convert with str(), e.g. "
            '{"OMP_NUM_THREADS": "1"}.'
        )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=timeout,
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"the Python process exited with {done.returncode}; the end of "
            f"its stderr:\n{done.stderr[-2000:]}"
        )
    return done.stdout
