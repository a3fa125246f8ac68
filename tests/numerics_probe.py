"""The book's numerics probe: the float bits of the kernels its chapters train.

Run by the pytest plugin ``template/nbval_numerics.py`` before the notebooks
(which puts its own folder on the probe's path, for ``probe_main``)
(``make test``), and by ``make execute`` to record ``tests/numerics.json``
next to the stored outputs. Equal fingerprints mean this machine adds floats
up as the book's machine did, so the stored outputs of ``numerics`` cells
are compared digit for digit; ``book/testing.md`` explains the rest.

Each part is a few training steps or products at the book's sizes, under the
book's settings (``import helpers`` first, op determinism on): the CNN of the
feature-head chapter on 8x8 images, an LSTM on 12 features with a mask, dense
layers on 10 features, soft-DTW's log-sum-exp, matrix products large enough
to be split into blocks, the same product compiled by XLA, and NumPy's BLAS
with a scikit-learn logistic regression (the baselines). A few seconds.
"""

import helpers  # noqa: F401  (the book's environment, before TensorFlow)

# isort: split
import keras
import numpy as np
import tensorflow as tf
from nbval_numerics import probe_main

RNG = np.random.default_rng(0)


def _train(model, x, y, loss, steps=3):
    """A few Adam steps; returns the weights and the losses."""
    optimizer = keras.optimizers.Adam(1e-2)
    losses = []
    for _ in range(steps):
        with tf.GradientTape() as tape:
            value = loss(y, model(x, training=True))
        grads = tape.gradient(value, model.trainable_weights)
        optimizer.apply(grads, model.trainable_weights)
        losses.append(value)
    return [np.asarray(v) for v in model.weights] + [np.stack(losses)]


def cnn():
    helpers.seed_everything(0)
    image = keras.Input(shape=(8, 8, 1))
    x = keras.layers.Conv2D(16, 3, padding="same", activation="relu")(image)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.Conv2D(32, 3, padding="same", activation="relu")(x)
    x = keras.layers.MaxPooling2D(2)(x)
    x = keras.layers.Conv2D(64, 3, padding="same", activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(image, keras.layers.Dense(10)(x))
    images = RNG.uniform(size=(64, 8, 8, 1)).astype("float32")
    labels = RNG.integers(0, 10, size=64).astype("int32")
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    return _train(model, images, labels, loss)


def lstm():
    helpers.seed_everything(0)
    frames = keras.Input(shape=(None, 12))
    x = keras.layers.Masking()(frames)
    x = keras.layers.LSTM(8, return_sequences=True)(x)
    x = keras.layers.LSTM(8)(x)
    model = keras.Model(frames, keras.layers.Dense(9)(x))
    x = RNG.normal(size=(32, 29, 12)).astype("float32")
    x[:, 20:] = 0.0  # padding, masked
    labels = RNG.integers(0, 9, size=32).astype("int32")
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    return _train(model, x, labels, loss)


def dense():
    helpers.seed_everything(0)
    inputs = keras.Input(shape=(10,))
    x = keras.layers.Dense(32, activation="relu")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(1)(x))
    x = RNG.normal(size=(331, 10)).astype("float32")
    y = RNG.normal(size=(331, 1)).astype("float32")
    return _train(model, x, y, keras.losses.MeanSquaredError())


def reductions():
    values = tf.constant(RNG.normal(size=(270, 29, 29)).astype("float32"))
    return [
        tf.reduce_sum(values),
        tf.reduce_mean(values, axis=0),
        tf.reduce_logsumexp(-values, axis=-1),  # soft-DTW's soft minimum
        tf.math.cumsum(values, axis=1),
    ]


def matmul():
    a = RNG.normal(size=(512, 384)).astype("float32")
    b = RNG.normal(size=(384, 640)).astype("float32")
    small = RNG.normal(size=(64, 64)).astype("float32")
    return [tf.matmul(a, b), tf.matmul(small, small)]


def matmul_xla():
    a = tf.constant(RNG.normal(size=(256, 192)).astype("float32"))
    b = tf.constant(RNG.normal(size=(192, 320)).astype("float32"))
    product = tf.function(lambda a, b: tf.tanh(a @ b), jit_compile=True)
    return [product(a, b)]


def numpy_side():
    """NumPy's BLAS (OpenBLAS), behind scikit-learn's baselines."""
    from sklearn.linear_model import LogisticRegression

    x = RNG.normal(size=(1347, 64))
    labels = RNG.integers(0, 10, size=1347)
    fitted = LogisticRegression(max_iter=50).fit(x, labels)
    square = RNG.normal(size=(512, 512))
    return [x @ x.T[:, :10], square @ square, fitted.coef_]


if __name__ == "__main__":
    probe_main(
        {
            "cnn": cnn,
            "lstm": lstm,
            "dense": dense,
            "reductions": reductions,
            "matmul": matmul,
            "matmul_xla": matmul_xla,
            "numpy": numpy_side,
        }
    )
