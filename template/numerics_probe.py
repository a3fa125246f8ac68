"""Numerics probe: the float bits of the kernels the notebooks train with.

Run by nbval_numerics before the notebooks, and by ``make execute`` to record
``numerics.json`` next to the stored outputs. Put here what your notebooks
compute at the sizes they compute it (a few training steps of each model
type), with the settings they use; keep it to a few seconds.
"""

import os

# the settings the notebooks make before TensorFlow loads
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from nbval_numerics import probe_main  # noqa: E402

RNG = np.random.default_rng(0)


def matmul():
    a = RNG.normal(size=(256, 64)).astype("float32")
    b = RNG.normal(size=(64, 128)).astype("float32")
    return [keras.ops.matmul(a, b)]


def dense_training():
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((8,)),
            keras.layers.Dense(16, "relu"),
            keras.layers.Dense(1),
        ]
    )
    model.compile(keras.optimizers.Adam(1e-2), "mse")
    x = RNG.normal(size=(256, 8)).astype("float32")
    y = x.sum(axis=1, keepdims=True)
    model.fit(x, y, batch_size=32, epochs=2, shuffle=False, verbose=0)
    return model.get_weights()


if __name__ == "__main__":
    probe_main({"matmul": matmul, "dense_training": dense_training})
