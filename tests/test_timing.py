import keras
import numpy as np
import pytest
import tensorflow as tf

import helpers  # noqa: F401
from helpers.timing import (
    DTW_BATCH,
    DTW_FEATURES,
    DTW_STEPS,
    dtw_all_pairs_seconds,
    dtw_batch,
    dtw_ratios,
    dtw_speedups,
    interleaved_median_seconds,
    median_seconds,
    step_timings,
    tracing_counts,
)


def test_median_seconds_calls_warmup_plus_repeats_times():
    calls = []
    seconds = median_seconds(lambda: calls.append(1), repeats=5, warmup=2)
    assert len(calls) == 7 and seconds >= 0.0


@pytest.mark.parametrize(
    "kwargs, error",
    [
        (dict(repeats=0), ValueError),
        (dict(warmup=-1), ValueError),
        (dict(repeats=True), ValueError),
    ],
)
def test_median_seconds_bad_input(kwargs, error):
    with pytest.raises(error, match=">="):
        median_seconds(lambda: None, **kwargs)
    with pytest.raises(TypeError, match="lambda"):
        median_seconds(3)


def _line():
    helpers.seed_everything(0)
    inputs = keras.Input(shape=(1,))
    return keras.Model(inputs, keras.layers.Dense(1)(inputs))


def _mse(y, p):
    return tf.reduce_mean(tf.square(y - p))


def test_step_timings_measures_four_ways():
    x = np.random.default_rng(0).normal(size=(40, 1)).astype("float32")
    timings = step_timings(
        _line, _mse, x, 2 * x, batch_size=8, steps=4, repeats=1
    )
    assert list(timings) == [
        "eager",
        "tf.function",
        "tf.function + XLA",
        "model.fit",
    ]
    assert all(t > 0 for t in timings.values())
    with pytest.raises(ValueError, match="at least"):
        step_timings(_line, _mse, x, 2 * x, batch_size=8, steps=6)
    with pytest.raises(ValueError, match=">= 1"):
        step_timings(_line, _mse, x, 2 * x, batch_size=8, steps=0)


def test_tracing_counts():
    assert tracing_counts() == {
        "no signature": 8,
        "reduce_retracing=True": 2,
        "input_signature, batch axis None": 1,
    }
    assert tracing_counts(batch_sizes=(4, 4, 4))["no signature"] == 1


def test_dtw_batch_is_the_same_every_time():
    x, y = dtw_batch()
    assert (
        x.shape == y.shape == (DTW_BATCH, DTW_STEPS, DTW_FEATURES)
        and x.dtype == tf.float32
    )
    np.testing.assert_array_equal(x.numpy(), dtw_batch()[0].numpy())
    assert not np.array_equal(x.numpy(), y.numpy())


def test_dtw_speedups_are_reference_over_ours():
    times = {
        "helpers.dtw_fast.dtw": 2.0,
        "dtaidistance dtw_ndim.distance_fast (loop)": 3.0,
        "tslearn dtw (loop)": 5.0,
        "helpers.dtw_fast.soft_dtw value+gradient": 4.0,
        "tslearn soft_dtw value (loop)": 2.0,
    }
    assert dtw_speedups(times) == {
        "dtw vs dtaidistance": 1.5,
        "dtw vs tslearn": 2.5,
        "soft_dtw value+gradient vs tslearn soft_dtw value": 0.5,
    }


def test_dtw_ratios_against_targets():
    times = {
        "helpers.dtw_fast.dtw": 1.0,
        "dtaidistance dtw_ndim.distance_fast (loop)": 3.0,
        "tslearn dtw (loop)": 14.9,
        "helpers.dtw_fast.soft_dtw value+gradient": 2.0,
        "tslearn soft_dtw value (loop)": 11.0,
    }
    ratios = dtw_ratios(times)
    # exactly on target counts as met
    assert ratios["dtw vs dtaidistance"] == (
        3.0,
        3.0,
        True,
    )
    assert ratios["dtw vs tslearn"] == (14.9, 15.0, False)
    assert ratios["soft_dtw value+gradient vs tslearn soft_dtw value"] == (
        5.5,
        5.0,
        True,
    )


def test_dtw_all_pairs_seconds_counts_every_pair():
    pairs, seconds = dtw_all_pairs_seconds(repeats=1)
    assert pairs == 370 * 270 and seconds > 0


def test_interleaved_median_seconds_takes_turns():
    calls = []
    seconds = interleaved_median_seconds(
        {name: lambda name=name: calls.append(name) for name in "abc"},
        repeats=3,
        warmup=1,
    )
    # one call of each per round, each round starting one further along
    assert calls == list("abc" + "bca" + "cab" + "abc")
    assert list(seconds) == ["a", "b", "c"] and all(
        value >= 0.0 for value in seconds.values()
    )
    with pytest.raises(TypeError, match="non-empty dict"):
        interleaved_median_seconds({})
    with pytest.raises(TypeError, match="lambda"):
        interleaved_median_seconds({"a": 3})
    with pytest.raises(ValueError, match=">="):
        interleaved_median_seconds({"a": lambda: None}, repeats=0)
