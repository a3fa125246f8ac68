"""helpers.warping: the readable DTW and soft-DTW against the references."""

import numpy as np
import pytest
import tensorflow as tf
from test_sequences import batch, reference_dtw, reference_soft_dtw

import helpers  # noqa: F401
from helpers import warping
from helpers.sequences import dtw, soft_dtw


@pytest.mark.parametrize("seed", range(3))
def test_dtw_by_diagonals_matches_reference_with_lengths(seed):
    x, y, lx, ly = batch(seed, size=6, steps_x=9, steps_y=5)
    ours = warping.dtw_by_diagonals(x, y, lx, ly).numpy()
    expected = [
        reference_dtw(x[b, : lx[b]], y[b, : ly[b]]) for b in range(len(x))
    ]
    np.testing.assert_allclose(ours, expected, rtol=1e-12)
    np.testing.assert_allclose(ours, dtw(x, y, lx, ly), rtol=1e-12)


def test_full_lengths_by_default_and_padding_never_read():
    x, y, _, _ = batch(0)
    full = warping.dtw_by_diagonals(x, y).numpy()
    np.testing.assert_allclose(full, dtw(x, y), rtol=1e-12)
    lx = np.array([7, 3, 1, 5, 2])
    poisoned = x.copy()
    poisoned[np.arange(7)[None, :] >= lx[:, None]] = np.nan
    clean = warping.dtw_by_diagonals(x, y, lx).numpy()
    assert np.array_equal(warping.dtw_by_diagonals(poisoned, y, lx), clean)


@pytest.mark.parametrize("gamma", [0.1, 1.0])
def test_soft_min_gives_soft_dtw(gamma):
    x, y, lx, ly = batch(1)
    ours = warping.dtw_by_diagonals(x, y, lx, ly, warping.soft_min(gamma))
    expected = [
        reference_soft_dtw(x[b, : lx[b]], y[b, : ly[b]], gamma)
        for b in range(len(x))
    ]
    np.testing.assert_allclose(ours, expected, rtol=1e-12)


def test_one_trace_serves_every_length():
    before = warping.accumulate_by_diagonals.experimental_get_tracing_count()
    for steps_x, steps_y in [(4, 3), (9, 2), (5, 5)]:
        x, y, lx, ly = batch(2, steps_x=steps_x, steps_y=steps_y)
        warping.dtw_by_diagonals(x, y, lx, ly)
    after = warping.accumulate_by_diagonals.experimental_get_tracing_count()
    assert after - before <= 1


@pytest.mark.parametrize("gamma", [0.3, 1.0])
def test_soft_dtw_backward_value_and_gradient(gamma):
    x, y, _, _ = batch(3, size=1, steps_x=6, steps_y=4)
    value, alignment, gradient = warping.soft_dtw_backward(x[0], y[0], gamma)
    assert value == pytest.approx(reference_soft_dtw(x[0], y[0], gamma))
    assert alignment.shape == (6, 4)
    # the path starts and ends in the corners with all its weight
    assert alignment[0, 0] == pytest.approx(1.0)
    assert alignment[-1, -1] == pytest.approx(1.0)
    watched = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(watched)
        graph_value = soft_dtw(watched, y, gamma)
    np.testing.assert_allclose(
        gradient, tape.gradient(graph_value, watched)[0], rtol=1e-9
    )
    step, numeric = 1e-6, np.zeros_like(x[0])
    for index in np.ndindex(x[0].shape):
        up, down = x[0].copy(), x[0].copy()
        up[index] += step
        down[index] -= step
        numeric[index] = (
            warping.soft_dtw_backward(up, y[0], gamma)[0]
            - warping.soft_dtw_backward(down, y[0], gamma)[0]
        ) / (2 * step)
    np.testing.assert_allclose(gradient, numeric, atol=1e-6)


def test_divergence_is_zero_at_the_target_and_positive_elsewhere():
    x, y, _, _ = batch(4, steps_x=6, steps_y=6)
    at_target = tf.Variable(y)
    with tf.GradientTape() as tape:
        zero = warping.soft_dtw_divergence(at_target, y)
    np.testing.assert_allclose(zero, 0.0, atol=1e-12)
    np.testing.assert_allclose(tape.gradient(zero, at_target), 0, atol=1e-9)
    assert np.all(warping.soft_dtw_divergence(x, y).numpy() > 0)
    # soft-DTW itself is not zero there: the reason for the divergence
    assert np.all(soft_dtw(y, y).numpy() < 0)


@pytest.mark.parametrize(
    "call, error, fix",
    [
        (
            lambda: warping.dtw_by_diagonals(
                np.zeros((2, 3)), np.zeros((2, 3))
            ),
            ValueError,
            "x[None]",
        ),
        (
            lambda: warping.dtw_by_diagonals(
                np.zeros((2, 3, 1)), np.zeros((3, 3, 1))
            ),
            ValueError,
            "dtw_all_pairs",
        ),
        (
            lambda: warping.dtw_by_diagonals(
                np.zeros((2, 3, 1)), np.zeros((2, 3, 1)), [3, 4]
            ),
            ValueError,
            "true length",
        ),
        (lambda: warping.soft_min(0.0), ValueError, "hard_min"),
        (lambda: warping.soft_min("1"), TypeError, "soft_min(1.0)"),
        (
            lambda: warping.soft_dtw_backward(np.zeros(3), np.zeros(3), 1.0),
            ValueError,
            "[time, features]",
        ),
    ],
)
def test_bad_input_names_the_fix(call, error, fix):
    with pytest.raises(error, match=None) as caught:
        call()
    assert fix in str(caught.value)
