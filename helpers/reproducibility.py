"""Seeding and determinism for notebooks whose outputs nbval compares."""

import numbers

from packaging.version import Version

_SEED_LIMIT = 2**32  # NumPy's legacy seeding accepts 0 <= seed < 2**32.


def seed_everything(seed=0):
    """Seed Python, NumPy, TensorFlow and Keras, and make TF ops deterministic.

    Call it at the top of a notebook (after ``import helpers``) and again
    before any cell whose result you want independent of the cells above it,
    for example before building and training a model.

    It calls :func:`keras.utils.set_random_seed`, which seeds Python's
    :mod:`random`, NumPy's global generator, TensorFlow's global generator and
    Keras' own seed generator, and
    :func:`tf.config.experimental.enable_op_determinism`, which makes every
    TensorFlow op pick a deterministic kernel (or raise if it has none).

    Parameters
    ----------
    seed : int
        A non-negative integer below ``2**32``.

    Returns
    -------
    None
        Nothing, so that a notebook cell ending with this call shows no output.

    Raises
    ------
    TypeError
        If ``seed`` is not an integer (``True``/``False`` are refused too).
    ValueError
        If ``seed`` is negative or not below ``2**32``.
    """
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(
            f"seed must be an int, got {type(seed).__name__} {seed!r}; pass a "
            "whole number such as seed_everything(42)."
        )
    seed = int(seed)
    if not 0 <= seed < _SEED_LIMIT:
        raise ValueError(
            f"seed must satisfy 0 <= seed < 2**32, got {seed}; pick a smaller "
            "non-negative number, e.g. seed % 2**32."
        )
    import keras  # imported here so that `import helpers` stays cheap
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    if Version(keras.__version__) < Version("3.13"):
        # Keras 3.13 made set_random_seed drop the global SeedGenerator, which
        # unseeded keras.random calls draw from, so that it restarts from the
        # new seed (keras/src/utils/rng_utils.py); before, it kept its state,
        # and those draws did not repeat. Do the same on older versions.
        from keras.src.backend.common import global_state

        global_state.set_global_attribute("global_seed_generator", None)
    tf.config.experimental.enable_op_determinism()
