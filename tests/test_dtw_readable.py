"""helpers.dtw_readable: readable DTW and soft-DTW against the references."""

import numpy as np
import pytest
import tensorflow as tf
from test_dtw_fast import batch, reference_dtw, reference_soft_dtw

import helpers  # noqa: F401
from helpers import dtw_readable
from helpers.dtw_fast import dtw, soft_dtw


@pytest.mark.parametrize("seed", range(3))
def test_dtw_by_diagonals_matches_reference_with_lengths(seed):
    x, y, lx, ly = batch(seed, size=6, steps_x=9, steps_y=5)
    ours = dtw_readable.dtw_by_diagonals(x, y, lx, ly).numpy()
    expected = [
        reference_dtw(x[b, : lx[b]], y[b, : ly[b]]) for b in range(len(x))
    ]
    np.testing.assert_allclose(ours, expected, rtol=1e-12)
    np.testing.assert_allclose(ours, dtw(x, y, lx, ly), rtol=1e-12)


def test_full_lengths_by_default_and_padding_never_read():
    x, y, _, _ = batch(0)
    full = dtw_readable.dtw_by_diagonals(x, y).numpy()
    np.testing.assert_allclose(full, dtw(x, y), rtol=1e-12)
    lx = np.array([7, 3, 1, 5, 2])
    poisoned = x.copy()
    poisoned[np.arange(7)[None, :] >= lx[:, None]] = np.nan
    clean = dtw_readable.dtw_by_diagonals(x, y, lx).numpy()
    assert np.array_equal(
        dtw_readable.dtw_by_diagonals(poisoned, y, lx), clean
    )


@pytest.mark.parametrize("gamma", [0.1, 1.0])
def test_soft_min_gives_soft_dtw(gamma):
    x, y, lx, ly = batch(1)
    ours = dtw_readable.dtw_by_diagonals(
        x, y, lx, ly, dtw_readable.soft_min(gamma)
    )
    expected = [
        reference_soft_dtw(x[b, : lx[b]], y[b, : ly[b]], gamma)
        for b in range(len(x))
    ]
    np.testing.assert_allclose(ours, expected, rtol=1e-12)


def test_one_trace_serves_every_length():
    before = (
        dtw_readable.accumulate_by_diagonals.experimental_get_tracing_count()
    )
    for steps_x, steps_y in [(4, 3), (9, 2), (5, 5)]:
        x, y, lx, ly = batch(2, steps_x=steps_x, steps_y=steps_y)
        dtw_readable.dtw_by_diagonals(x, y, lx, ly)
    after = (
        dtw_readable.accumulate_by_diagonals.experimental_get_tracing_count()
    )
    assert after - before <= 1


@pytest.mark.parametrize("gamma", [0.3, 1.0])
def test_soft_dtw_backward_value_and_gradient(gamma):
    x, y, _, _ = batch(3, size=1, steps_x=6, steps_y=4)
    value, alignment, gradient = dtw_readable.soft_dtw_backward(
        x[0], y[0], gamma
    )
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
            dtw_readable.soft_dtw_backward(up, y[0], gamma)[0]
            - dtw_readable.soft_dtw_backward(down, y[0], gamma)[0]
        ) / (2 * step)
    np.testing.assert_allclose(gradient, numeric, atol=1e-6)


def test_divergence_is_zero_at_the_target_and_positive_elsewhere():
    x, y, _, _ = batch(4, steps_x=6, steps_y=6)
    at_target = tf.Variable(y)
    with tf.GradientTape() as tape:
        zero = dtw_readable.soft_dtw_divergence(at_target, y)
    np.testing.assert_allclose(zero, 0.0, atol=1e-12)
    np.testing.assert_allclose(tape.gradient(zero, at_target), 0, atol=1e-9)
    assert np.all(dtw_readable.soft_dtw_divergence(x, y).numpy() > 0)
    # soft-DTW itself is not zero there: the reason for the divergence
    assert np.all(soft_dtw(y, y).numpy() < 0)


@pytest.mark.parametrize(
    "call, error, fix",
    [
        (
            lambda: dtw_readable.dtw_by_diagonals(
                np.zeros((2, 3)), np.zeros((2, 3))
            ),
            ValueError,
            "x[None]",
        ),
        (
            lambda: dtw_readable.dtw_by_diagonals(
                np.zeros((2, 3, 1)), np.zeros((3, 3, 1))
            ),
            ValueError,
            "dtw_all_pairs",
        ),
        (
            lambda: dtw_readable.dtw_by_diagonals(
                np.zeros((2, 3, 1)), np.zeros((2, 3, 1)), [3, 4]
            ),
            ValueError,
            "true length",
        ),
        (lambda: dtw_readable.soft_min(0.0), ValueError, "hard_min"),
        (lambda: dtw_readable.soft_min("1"), TypeError, "soft_min(1.0)"),
        (
            lambda: dtw_readable.soft_dtw_backward(
                np.zeros(3), np.zeros(3), 1.0
            ),
            ValueError,
            "[time, features]",
        ),
    ],
)
def test_bad_input_names_the_fix(call, error, fix):
    with pytest.raises(error, match=None) as caught:
        call()
    assert fix in str(caught.value)


def test_autodiff_through_the_soft_loop_gives_nan_where_16_says():
    # notebooks/20_soft_dtw: the cells (i, U + 1) off the grid have three
    # infinite neighbours; reduce_logsumexp's gradient there is NaN, and it
    # reaches the rows i <= T - 3. The fast soft_dtw's gradient has none.
    x, y, _, _ = batch(5, size=1, steps_x=5, steps_y=7)
    watched = tf.constant(x)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(watched)
        looped = dtw_readable.dtw_by_diagonals(
            watched, y, combine=dtw_readable.soft_min(1.0)
        )
        fast = soft_dtw(watched, y, 1.0)
    np.testing.assert_allclose(looped, fast, rtol=1e-12)
    through_loop = tape.gradient(looped, watched).numpy()[0]
    assert np.isnan(through_loop[:3]).all()
    assert not np.isnan(through_loop[3:]).any()
    assert not np.isnan(tape.gradient(fast, watched).numpy()).any()


@pytest.mark.parametrize(
    "seed, steps_x, steps_y, gamma",
    [(5, 5, 7, 1.0), (6, 9, 4, 0.3), (7, 2, 6, 1.0), (8, 6, 6, 0.1)],
)
def test_soft_min_guarded_autodiff_equals_the_backward_recursion(
    seed, steps_x, steps_y, gamma
):
    # notebooks/20_soft_dtw: the guarded soft minimum gives soft_min's
    # values, and the tape through the loop then gives soft-DTW's gradient,
    # without NaN, equal to soft_dtw_backward's.
    x, y, _, _ = batch(seed, size=1, steps_x=steps_x, steps_y=steps_y)
    watched = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(watched)
        guarded = dtw_readable.dtw_by_diagonals(
            watched, y, combine=dtw_readable.soft_min_guarded(gamma)
        )
    through_loop = tape.gradient(guarded, watched).numpy()[0]
    plain = dtw_readable.dtw_by_diagonals(
        x, y, combine=dtw_readable.soft_min(gamma)
    )
    np.testing.assert_array_equal(guarded, plain)
    value, _, gradient = dtw_readable.soft_dtw_backward(x[0], y[0], gamma)
    assert not np.isnan(through_loop).any()
    np.testing.assert_allclose(guarded[0], value, rtol=1e-12)
    np.testing.assert_allclose(through_loop, gradient, rtol=1e-9, atol=1e-12)


def test_soft_min_guarded_with_lengths_and_in_a_batch():
    x, y, lx, ly = batch(9, size=4, steps_x=7, steps_y=5)
    watched = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(watched)
        values = dtw_readable.dtw_by_diagonals(
            watched, y, lx, ly, dtw_readable.soft_min_guarded(1.0)
        )
        total = tf.reduce_sum(values)
    through_loop = tape.gradient(total, watched).numpy()
    for b in range(len(x)):
        value, _, gradient = dtw_readable.soft_dtw_backward(
            x[b, : lx[b]], y[b, : ly[b]], 1.0
        )
        np.testing.assert_allclose(values[b], value, rtol=1e-12)
        np.testing.assert_allclose(
            through_loop[b, : lx[b]], gradient, rtol=1e-9, atol=1e-12
        )
        # the padding does not reach the value: its gradient is 0
        np.testing.assert_array_equal(through_loop[b, lx[b] :], 0.0)


@pytest.mark.parametrize(
    "gamma, error, fix",
    [(0.0, ValueError, "hard_min"), ("1", TypeError, "soft_min_guarded(1.0)")],
)
def test_soft_min_guarded_bad_gamma_names_the_fix(gamma, error, fix):
    with pytest.raises(error) as caught:
        dtw_readable.soft_min_guarded(gamma)
    assert fix in str(caught.value)
