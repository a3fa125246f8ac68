"""Pieces for the chapter on Keras 2 libraries and ``fit``'s inputs.

Used by ``notebooks/12_keras2_libraries_inputs``:

- :func:`heteroscedastic` and :func:`noise_scale`: a small regression problem
  whose noise grows along the input, for a model that predicts a
  distribution (a mean and a scale) rather than one number.
- :class:`BatchCounter`: a callback that counts the batches of each epoch
  and can stop ``fit`` after a given number of them, so that an epoch that
  would never end is shown ending.
- :func:`op_determinism`: switch TensorFlow's op determinism on or off inside
  a ``with`` block, as ``compile(jit_compile=...)`` reads it; compile and
  fit inside the block.

Nothing here imports ``tensorflow_probability`` or ``tf_keras``: importing
the helpers keeps a process on Keras 3 alone (``tests/test_legacy_isolation``).
"""

import contextlib

import keras
import numpy as np

from helpers.checks import is_int_at_least


def noise_scale(x):
    """The noise's standard deviation at ``x``: ``0.05 + 0.2 * (x + 1)``.

    From 0.05 at ``x = -1`` to 0.45 at ``x = 1``; ``x`` is an array or a
    number.
    """
    return 0.05 + 0.2 * (np.asarray(x) + 1.0)


def heteroscedastic(n, seed=0):
    """``n`` points ``y = sin(2.5 x) + noise_scale(x) * e``, ``e`` normal.

    ``x`` is drawn uniformly in ``[-1, 1]``. The same ``n`` and ``seed`` give
    the same arrays in any process.

    Returns
    -------
    tuple of np.ndarray
        ``x`` and ``y``, both ``float32`` of shape ``(n, 1)``.
    """
    if not is_int_at_least(n, 1):
        raise ValueError(f"n must be a positive int, got {n!r}; e.g. n=500.")
    if not is_int_at_least(seed, 0):
        raise ValueError(
            f"seed must be a non-negative int, got {seed!r}; e.g. seed=0."
        )
    rng = np.random.default_rng(int(seed))
    x = rng.uniform(-1.0, 1.0, size=(int(n), 1))
    y = np.sin(2.5 * x) + noise_scale(x) * rng.normal(size=x.shape)
    return x.astype("float32"), y.astype("float32")


class BatchCounter(keras.callbacks.Callback):
    """Counts the training batches of each epoch; can stop ``fit`` early.

    After ``fit``, ``batches`` lists the batches each epoch ran (one entry
    per epoch begun). With ``limit``, training stops after that many batches
    in all (``fit`` checks ``model.stop_training`` after every batch), so an
    epoch that would never end stops there.
    """

    def __init__(self, limit=None):
        super().__init__()
        if limit is not None and not is_int_at_least(limit, 1):
            raise ValueError(
                f"limit must be None or a positive int, got {limit!r}; "
                "e.g. BatchCounter(limit=40) stops after 40 batches."
            )
        self.limit = limit
        self.batches = []

    def on_epoch_begin(self, epoch, logs=None):
        self.batches.append(0)

    def on_train_batch_end(self, batch, logs=None):
        self.batches[-1] += 1
        if self.limit is not None and sum(self.batches) >= self.limit:
            self.model.stop_training = True


@contextlib.contextmanager
def op_determinism(enabled):
    """Switch TensorFlow's op determinism on or off inside a ``with`` block.

    ``helpers.seed_everything`` switches it on, and with it on Keras refuses
    ``jit_compile=True`` (``model_supports_jit``,
    ``keras/src/trainers/trainer.py``). TensorFlow has no public function to
    switch it off (``tf.config.experimental`` has only
    ``enable_op_determinism``); this uses the functions of the module Keras
    reads it from, ``tensorflow/python/framework/config.py`` (not public
    API). The previous state is restored afterwards, also after an error.

    The switch is process-wide, not per thread. And what ``compile`` decided
    inside the block outlives it: a model compiled there with
    ``jit_compile=True`` keeps its XLA step after the block, with op
    determinism back on, the pair Keras refuses. Call ``fit`` (and
    ``evaluate``, ``predict``) inside the block too.
    """
    if not isinstance(enabled, (bool, np.bool_)):
        raise TypeError(
            f"enabled must be True or False, got {enabled!r}; e.g. "
            "op_determinism(False) to compile with XLA."
        )
    from tensorflow.python.framework import config  # not public API

    before = config.is_op_determinism_enabled()
    if enabled:
        config.enable_op_determinism()
    else:
        config.disable_op_determinism()
    try:
        yield
    finally:
        if before:
            config.enable_op_determinism()
        else:
            config.disable_op_determinism()
