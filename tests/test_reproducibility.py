import random

import numpy as np
import pytest

import helpers


def _draws():
    import keras
    import tensorflow as tf

    return (
        random.random(),
        float(np.random.rand()),
        float(tf.random.uniform(())),
        float(keras.random.uniform(())),
        keras.layers.Dense(2).build((None, 3)) or None,
    )


def _weights():
    import keras

    layer = keras.layers.Dense(2)
    layer.build((None, 3))
    return layer.kernel.numpy()


def test_same_seed_same_numbers():
    helpers.seed_everything(7)
    first, w1 = _draws(), _weights()
    helpers.seed_everything(7)
    second, w2 = _draws(), _weights()
    assert first == second
    np.testing.assert_array_equal(w1, w2)


def test_other_seed_other_numbers():
    helpers.seed_everything(7)
    first = _draws()
    helpers.seed_everything(8)
    assert _draws() != first


def test_enables_op_determinism_and_returns_nothing():
    # The public API can switch determinism on but not ask about it.
    from tensorflow.python.framework import config as tf_config

    tf_config.disable_op_determinism()
    # a cell ending with the call shows no "3"
    assert helpers.seed_everything(3) is None
    assert tf_config.is_op_determinism_enabled()


@pytest.mark.parametrize("bad", [1.5, "42", None, True])
def test_non_integer_seed_is_refused(bad):
    with pytest.raises(TypeError, match=r"seed_everything\(42\)"):
        helpers.seed_everything(bad)


@pytest.mark.parametrize("bad", [-1, 2**32])
def test_out_of_range_seed_is_refused(bad):
    with pytest.raises(ValueError, match="0 <= seed < 2\\*\\*32"):
        helpers.seed_everything(bad)


def test_numpy_integer_is_accepted():
    helpers.seed_everything(np.int64(5))
    first = np.random.random()
    helpers.seed_everything(5)
    assert np.random.random() == first
