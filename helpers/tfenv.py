"""Environment defaults that must be in place before ``import tensorflow``.

TensorFlow reads these variables once, when its C++ runtime loads. Set later,
they do nothing, which is why :mod:`helpers` applies them at import time and
why notebooks import :mod:`helpers` first.
"""
import os
import sys
import warnings

#: Variable -> value. ``setdefault`` semantics: a value the reader already
#: exported wins, so ``TF_CPP_MIN_LOG_LEVEL=0 jupyter lab`` still shows everything.
TF_ENV_DEFAULTS = {
    # 2 hides C++ INFO and WARNING lines (oneDNN notice, CPU feature guard,
    # the absl pre-init banner) but keeps real C++ errors visible.
    "TF_CPP_MIN_LOG_LEVEL": "2",
    # The oneDNN notice is printed even at log level 2 unless oneDNN custom
    # ops are switched off; switching them off also removes a source of
    # run-to-run floating-point differences on CPU.
    "TF_ENABLE_ONEDNN_OPTS": "0",
    # The book is about Keras on TensorFlow; never pick up another backend
    # from a reader's ~/.keras/keras.json.
    "KERAS_BACKEND": "tensorflow",
}


def apply_tf_env_defaults(environ=None):
    """Put :data:`TF_ENV_DEFAULTS` into ``environ`` unless already set there.

    Parameters
    ----------
    environ : mutable mapping, optional
        Defaults to :data:`os.environ`. Tests pass a plain ``dict``.

    Returns
    -------
    dict
        The variables this call set (empty if all were already present).

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
            f"environ must be a mutable mapping such as os.environ or a dict, got "
            f"{type(environ).__name__}; call apply_tf_env_defaults() with no argument "
            "to use os.environ."
        )
    applied = {}
    for name, value in TF_ENV_DEFAULTS.items():
        if name not in environ:
            environ[name] = value
            applied[name] = value
    if environ is os.environ and "tensorflow" in sys.modules and applied:
        warnings.warn(
            "helpers was imported after tensorflow, so TensorFlow's log settings "
            "cannot take effect any more. Restart the kernel and make `import helpers` "
            "the first import of the notebook.",
            RuntimeWarning,
            stacklevel=3,
        )
    return applied


def quiet_tf_python_logger():
    """Set TensorFlow's Python logger to WARNING, so INFO records stay out of cell outputs.

    In an interactive session (IPython, Jupyter) TensorFlow sets its Python
    logger to INFO and sends it to stdout, so saving a SavedModel prints
    "INFO:tensorflow:Assets written to: <a path>" into the notebook, once on
    stdout and once on stderr. WARNING keeps every warning (retracing, for
    example) and error visible. Call after TensorFlow is imported; returns the
    logger.
    """
    import logging

    import tensorflow as tf

    logger = tf.get_logger()  # creates and configures it now, so the level set below is not overridden
    logger.setLevel(logging.WARNING)
    return logger
