"""helpers.dtw_readable's loop by hand: ``tf.while_loop`` from its parts."""

import numpy as np
import pytest
import tensorflow as tf
from test_dtw_fast import batch, reference_dtw

import helpers  # noqa: F401
from helpers import dtw_readable
from helpers.dtw_fast import dtw_path


def costs_of(x, y):
    return dtw_readable.frame_costs(tf.constant(x), tf.constant(y))


@pytest.mark.parametrize("full", [False, True])
@pytest.mark.parametrize("steps_x, steps_y", [(7, 6), (3, 9), (9, 2)])
def test_while_loop_matches_reference_with_lengths(full, steps_x, steps_y):
    x, y, lx, ly = batch(21, size=6, steps_x=steps_x, steps_y=steps_y)
    answer, _ = dtw_readable.accumulate_by_while_loop(
        costs_of(x, y), lx, ly, full=full
    )
    expected = [
        reference_dtw(x[b, : lx[b]], y[b, : ly[b]]) for b in range(len(x))
    ]
    np.testing.assert_allclose(answer.numpy(), expected, rtol=1e-12)
    np.testing.assert_allclose(
        answer.numpy(),
        dtw_readable.dtw_by_diagonals(x, y, lx, ly).numpy(),
        rtol=1e-12,
    )


def _recorded(seed, steps_x, steps_y, full):
    """Three random pairs and the hand-written loop's record of them."""
    x, y, lx, ly = batch(seed, size=3, steps_x=steps_x, steps_y=steps_y)
    _, history = dtw_readable.accumulate_by_while_loop(
        costs_of(x, y), lx, ly, full=full
    )
    return x, y, lx, ly, history


@pytest.mark.parametrize("full", [False, True])
def test_history_holds_every_diagonal_of_the_table(full):
    steps_x, steps_y = 5, 8
    x, y, lx, ly, history = _recorded(22, steps_x, steps_y, full)
    rows = [
        (steps_x if full else min(k + 1, steps_x)) + 1
        for k in range(steps_x + steps_y - 1)
    ]
    assert history.shape == (sum(rows), 3)
    for b in range(3):
        per_pass = np.split(history.numpy()[:, b], np.cumsum(rows)[:-1])
        table = np.full((steps_x, steps_y), np.nan)
        for k, stored in enumerate(per_pass):
            assert np.isinf(stored[0])  # row -1
            for i, value in enumerate(stored[1:]):
                if 0 <= k - i < steps_y:
                    table[i, k - i] = value
        m, n = lx[b], ly[b]
        _, accumulated, _ = dtw_path(x[b, :m], y[b, :n])
        np.testing.assert_allclose(table[:m, :n], accumulated, rtol=1e-12)


def test_a_diagonal_grows_and_needs_its_shape_invariant():
    x, y, lx, ly = batch(23)
    cost = costs_of(x, y)
    _, _, _, invariants, _ = dtw_readable.while_loop_parts(cost, lx, ly)
    assert invariants[1].as_list() == [None, None]

    @tf.function(autograph=False)
    def without_invariants(cost):
        cond, body, loop_vars, _, passes = dtw_readable.while_loop_parts(
            cost, lx, ly
        )
        return tf.while_loop(cond, body, loop_vars, maximum_iterations=passes)[
            3
        ]

    with pytest.raises(ValueError, match="shape_invariants"):
        without_invariants(cost)


def _through_guarded_loop(x, y, lx, ly, gamma=0.5):
    """soft-DTW through the hand-written loop, and the tape's gradient."""
    x_watched = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x_watched)
        value, _ = dtw_readable.accumulate_by_while_loop(
            dtw_readable.frame_costs(x_watched, tf.constant(y)),
            lx,
            ly,
            dtw_readable.soft_min_guarded(gamma),
        )
    return value, tape.gradient(value, x_watched).numpy()


def test_gradient_through_the_guarded_loop_is_the_backward_recursion():
    x, y, lx, ly = batch(24, size=4, steps_x=6, steps_y=5)
    value, gradient = _through_guarded_loop(x, y, lx, ly)
    for b in range(len(x)):
        soft, _, expected = dtw_readable.soft_dtw_backward(
            x[b, : lx[b]], y[b, : ly[b]], 0.5
        )
        assert np.isclose(value[b], soft, rtol=1e-12)
        np.testing.assert_allclose(
            gradient[b, : lx[b]], expected, rtol=1e-9, atol=1e-12
        )
        assert not gradient[b, lx[b] :].any()


def test_full_rows_compile_with_xla_and_open_shapes():
    spec = tf.TensorSpec([None, None, None], tf.float64)
    lengths = tf.TensorSpec([None], tf.int32)

    @tf.function(jit_compile=True, input_signature=[spec, lengths, lengths])
    def compiled(cost, lx, ly):
        return dtw_readable.accumulate_by_while_loop(cost, lx, ly, full=True)[
            0
        ]

    x, y, lx, ly = batch(25)
    lx, ly = lx.astype("int32"), ly.astype("int32")
    cost = costs_of(x, y)
    np.testing.assert_allclose(
        compiled(cost, lx, ly).numpy(),
        dtw_readable.accumulate_by_while_loop(cost, lx, ly)[0].numpy(),
        rtol=1e-12,
    )


def test_a_cost_of_the_wrong_shape_names_the_fix():
    x, _, lx, ly = batch(26)
    with pytest.raises(ValueError, match=r"frame_costs\(x, y\)"):
        dtw_readable.while_loop_parts(tf.constant(x[0]), lx, ly)


@pytest.mark.parametrize("full", [False, True])
def test_tables_from_history_match_dtw_path(full):
    steps_x, steps_y = 4, 7
    x, y, lx, ly, history = _recorded(27, steps_x, steps_y, full)
    tables = dtw_readable.tables_from_history(
        history, steps_x, steps_y, full=full
    )
    assert tables.shape == (steps_x, steps_y, 3)
    for b in range(3):
        _, accumulated, _ = dtw_path(x[b, : lx[b]], y[b, : ly[b]])
        np.testing.assert_allclose(
            tables[: lx[b], : ly[b], b], accumulated, rtol=1e-12
        )
    with pytest.raises(ValueError, match="`full`"):
        dtw_readable.tables_from_history(
            history, steps_x, steps_y, full=not full
        )


def test_tape_accumulators_count_what_the_tape_keeps_per_pass():
    x, y, lx, ly = batch(28, size=3, steps_x=5, steps_y=4)
    guarded = dtw_readable.soft_min_guarded(0.5)

    def through_loop(x, y):
        cost = dtw_readable.frame_costs(x, y)
        return dtw_readable.accumulate_by_while_loop(cost, lx, ly, guarded)[0]

    assert dtw_readable.tape_accumulators(through_loop, x, y) > 0
    assert dtw_readable.tape_accumulators(lambda x, y: x * y, x, x) == 0
    with pytest.raises(TypeError, match="arguments to trace"):
        dtw_readable.tape_accumulators(through_loop)


def test_gradient_gaps_tell_the_backward_recursion_from_a_wrong_gradient():
    x, y, lx, ly = batch(29, size=3, steps_x=6, steps_y=5)
    value, gradient = _through_guarded_loop(x, y, lx, ly)
    gap, zero = dtw_readable.gradient_gaps(gradient, x, y, lx, ly, 0.5)
    assert gap < 1e-9 and zero
    gap, _ = dtw_readable.gradient_gaps(1.1 * gradient, x, y, lx, ly, 0.5)
    assert gap > 0.05
    padded = gradient.copy()
    padded[:, -1] += 1.0  # at least one pair is shorter than 6 frames
    assert not dtw_readable.gradient_gaps(padded, x, y, lx, ly, 0.5)[1]
    with pytest.raises(ValueError, match="with respect to x"):
        dtw_readable.gradient_gaps(gradient[0], x, y, lx, ly, 0.5)
