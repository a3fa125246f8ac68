import keras
import numpy as np
import pytest
import tensorflow as tf
from tensorflow.python.framework import config

import helpers
from helpers.keras2_libraries import (
    BatchCounter,
    heteroscedastic,
    noise_scale,
    op_determinism,
)


def test_heteroscedastic_is_repeatable_and_its_noise_grows():
    x, y = heteroscedastic(4000, seed=3)
    again_x, again_y = heteroscedastic(4000, seed=3)
    assert x.shape == y.shape == (4000, 1) and x.dtype == np.float32
    assert np.array_equal(x, again_x) and np.array_equal(y, again_y)
    assert not np.array_equal(x, heteroscedastic(4000, seed=4)[0])
    assert x.min() >= -1 and x.max() <= 1
    residual = y - np.sin(2.5 * x)
    left, right = residual[x < -0.5], residual[x > 0.5]
    assert left.std() < 0.2 < right.std()
    assert abs(right.std() - noise_scale(0.75)) < 0.03


def test_noise_scale_ends():
    assert np.allclose(noise_scale(np.array([-1.0, 1.0])), [0.05, 0.45])


@pytest.mark.parametrize("n, seed", [(0, 0), (2.5, 0), (True, 0), (5, -1)])
def test_heteroscedastic_refuses_bad_arguments(n, seed):
    with pytest.raises(ValueError, match="e.g."):
        heteroscedastic(n, seed)


def _tiny_model():
    helpers.seed_everything(0)
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    return model


def _batches():
    x = np.ones((12, 2), "float32")
    return tf.data.Dataset.from_tensor_slices((x, x[:, :1])).batch(4)


def test_batch_counter_counts_each_epoch():
    counter = BatchCounter()
    _tiny_model().fit(
        _batches(), epochs=3, shuffle=False, verbose=0, callbacks=[counter]
    )
    assert counter.batches == [3, 3, 3]


def test_batch_counter_stops_an_endless_epoch():
    counter = BatchCounter(limit=7)
    _tiny_model().fit(
        _batches().repeat(),
        epochs=2,
        shuffle=False,
        verbose=0,
        callbacks=[counter],
    )
    assert counter.batches == [7]  # the second epoch never begins


@pytest.mark.parametrize("limit", [0, 1.5, "3"])
def test_batch_counter_refuses_bad_limit(limit):
    with pytest.raises(ValueError, match="BatchCounter"):
        BatchCounter(limit=limit)


def test_op_determinism_switches_and_restores():
    helpers.seed_everything(0)  # on
    with op_determinism(False):
        assert not config.is_op_determinism_enabled()
        with op_determinism(True):
            assert config.is_op_determinism_enabled()
        assert not config.is_op_determinism_enabled()
    assert config.is_op_determinism_enabled()
    with pytest.raises(RuntimeError), op_determinism(False):
        raise RuntimeError("inside")
    assert config.is_op_determinism_enabled()


def test_op_determinism_decides_jit_compile_true():
    model = _tiny_model()
    with pytest.warns(UserWarning, match="jit_compile=False"):
        model.compile("sgd", "mse", jit_compile=True)
    assert model.jit_compile is False
    with op_determinism(False):
        model.compile("sgd", "mse", jit_compile=True)
    assert model.jit_compile is True


def test_op_determinism_refuses_a_non_bool():
    with pytest.raises(TypeError, match="True or False"), op_determinism(0):
        pass


def test_op_determinism_what_compile_decided_outlives_the_block():
    # the docstring's warning: compile inside, fit outside runs XLA with
    # op determinism back on; so fit inside the block too
    model = _tiny_model()  # seed_everything: determinism on
    with op_determinism(False):
        model.compile("sgd", "mse", jit_compile=True)
    assert config.is_op_determinism_enabled() and model.jit_compile is True
