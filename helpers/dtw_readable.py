"""Dynamic time warping and soft-DTW written to be read, one anti-diagonal
per pass.

- :func:`dtw_by_diagonals`: DTW (or soft-DTW) of ``x[b]`` against ``y[b]``:
  :func:`frame_costs`, then :func:`accumulate_by_diagonals`, a
  ``tf.function`` whose loop runs over the anti-diagonals of the cost matrix,
  one diagonal of the whole batch per pass; ``combine`` is :func:`hard_min`
  for DTW or :func:`soft_min` for soft-DTW. Built and checked in
  ``notebooks/19_dtw``; its soft-DTW, and why automatic differentiation
  through its loop gives NaN with :func:`soft_min`, in
  ``notebooks/20_soft_dtw``.
- :func:`soft_min_guarded`: the same soft minimum, guarded where all three
  inputs are infinite, so that automatic differentiation through the loop
  gives the true gradient, without NaN (``notebooks/20_soft_dtw``).
- :func:`accumulate_by_while_loop`: the same recursion written by hand as a
  ``tf.while_loop``, from its parts (:func:`while_loop_parts`): each
  diagonal holds only the rows that exist so far (:func:`next_diagonal`,
  :func:`picked_answers`), so it grows between passes and needs a shape
  invariant; every diagonal is kept in a ``TensorArray``
  (``notebooks/21_while_loop``). That chapter's checks:
  :func:`tables_from_history` cuts the kept diagonals back into tables,
  :func:`tape_accumulators` counts what a tape keeps from every pass of a
  loop, and :func:`gradient_gaps` compares a gradient of soft-DTW with
  :func:`soft_dtw_backward`'s.
- :func:`soft_dtw_backward`: soft-DTW's value, its expected alignment and its
  gradient for one pair, by the forward and backward recursions of Cuturi &
  Blondel (2017), as plain NumPy double loops (``notebooks/20_soft_dtw``).
- :func:`soft_dtw_divergence`: the soft-DTW divergence, zero when the two
  sequences are equal (Blondel, Mensch & Vert, 2021), the loss of
  ``notebooks/20_soft_dtw``'s forecaster.

:mod:`helpers.dtw_fast` computes the same quantities much faster; the tests
check that both give the same values.
"""

import numpy as np
import tensorflow as tf

from helpers.dtw_fast import soft_dtw

__all__ = [
    "accumulate_by_diagonals",
    "accumulate_by_while_loop",
    "dtw_by_diagonals",
    "frame_costs",
    "gradient_gaps",
    "hard_min",
    "next_diagonal",
    "picked_answers",
    "soft_min",
    "soft_min_guarded",
    "soft_dtw_backward",
    "soft_dtw_divergence",
    "tables_from_history",
    "tape_accumulators",
    "while_loop_parts",
]


def hard_min(a, b, c):
    """The elementwise minimum of three tensors: DTW's step."""
    return tf.minimum(tf.minimum(a, b), c)


def _check_gamma(gamma, name):
    if isinstance(gamma, bool) or not isinstance(gamma, (int, float)):
        raise TypeError(
            f"gamma must be a positive number, got {type(gamma).__name__}; "
            f"e.g. {name}(1.0)."
        )
    if not gamma > 0:
        raise ValueError(
            f"gamma must be strictly positive, got {gamma!r}; use hard_min "
            "for gamma -> 0."
        )


def soft_min(gamma):
    """The soft minimum ``-gamma * log(sum(exp(-v / gamma)))``: soft-DTW's
    step. ``gamma`` must be a positive number.

    Its values are right everywhere, but where all three inputs are
    infinite (cells off the grid of :func:`accumulate_by_diagonals`),
    ``tf.reduce_logsumexp``'s gradient is NaN, and automatic differentiation
    through the loop carries it into the gradient; use
    :func:`soft_min_guarded` to differentiate through the loop."""
    _check_gamma(gamma, "soft_min")

    def combine(a, b, c):
        stacked = tf.stack([a, b, c]) / -gamma
        return -gamma * tf.reduce_logsumexp(stacked, axis=0)

    return combine


def soft_min_guarded(gamma):
    """:func:`soft_min` with a guard, so that its gradient is never NaN.

    The same values as :func:`soft_min`. Where all three inputs are
    infinite it returns ``+inf`` directly, and ``tf.reduce_logsumexp`` sees
    zeros there instead (the "double ``where``"): its gradient is then
    finite everywhere, and the outer ``where`` passes none of it back to the
    skipped cells. Automatic differentiation through
    :func:`accumulate_by_diagonals` with this ``combine`` gives soft-DTW's
    gradient, equal to :func:`soft_dtw_backward`'s. Create it once and
    reuse it: each call returns a new function, and so a new trace.
    """
    _check_gamma(gamma, "soft_min_guarded")

    def combine(a, b, c):
        stacked = tf.stack([a, b, c]) / -gamma
        # the cells whose three inputs are all infinite
        skipped = tf.reduce_all(tf.math.is_inf(stacked), axis=0)
        safe = tf.where(skipped, tf.zeros_like(stacked), stacked)
        soft = -gamma * tf.reduce_logsumexp(safe, axis=0)
        return tf.where(skipped, tf.constant(np.inf, soft.dtype), soft)

    return combine


def frame_costs(x, y):
    """``cost[i, j, b]``: squared distance of frame ``i`` of ``x[b]`` to
    frame ``j`` of ``y[b]`` (batch last, so that a diagonal is ``[cells,
    batch]``)."""
    cost = tf.reduce_sum(tf.square(x[:, :, None] - y[:, None, :]), axis=-1)
    return tf.transpose(cost, [1, 2, 0])


@tf.function(reduce_retracing=True)
def accumulate_by_diagonals(cost, x_lengths, y_lengths, combine=hard_min):
    """``R[x_length - 1, y_length - 1]`` of every pair, from ``cost`` as
    :func:`frame_costs` makes it; see :func:`dtw_by_diagonals`."""
    steps_x, steps_y = tf.shape(cost)[0], tf.shape(cost)[1]
    i = tf.range(steps_x)  # a diagonal is stored by row: cell (i, k - i)
    inf = tf.fill(tf.shape(cost[:1, 0]), tf.constant(np.inf, cost.dtype))
    # inf: one row of infinities, [1, batch]. The diagonals before the first,
    # with a row -1 in front: diagonal -2 holds only R[-1, -1] = 0, where
    # every path starts; diagonal -1 is all infinite.
    before = tf.concat([tf.zeros_like(inf), tf.repeat(inf, steps_x, 0)], 0)
    previous = tf.repeat(inf, steps_x + 1, 0)
    answer = inf[0]
    for k in tf.range(steps_x + steps_y - 1):
        j = k - i
        on_grid = (j >= 0) & (j < steps_y)
        # clipped to stay in range; cells off the grid become inf next
        index = tf.stack([i, tf.clip_by_value(j, 0, steps_y - 1)], axis=1)
        here = tf.where(on_grid[:, None], tf.gather_nd(cost, index), inf)
        # R[i - 1, j], R[i, j - 1], R[i - 1, j - 1]
        current = here + combine(previous[:-1], previous[1:], before[:-1])
        before, previous = previous, tf.concat([inf, current], 0)
        # a pair's last cell (x_length - 1, y_length - 1) is on this diagonal
        # when k == x_length + y_length - 2: take current[x_length - 1, b]
        last = tf.gather(tf.transpose(current), x_lengths - 1, batch_dims=1)
        answer = tf.where(k == x_lengths + y_lengths - 2, last, answer)
    return answer


def dtw_by_diagonals(x, y, x_lengths=None, y_lengths=None, combine=hard_min):
    """DTW cost of ``x[b]`` against ``y[b]``, one anti-diagonal per pass.

    ``R[i, j] = cost(x_i, y_j) + min(R[i-1, j], R[i, j-1], R[i-1, j-1])``,
    with the squared Euclidean distance as ``cost``, and the answer is
    ``R[x_length - 1, y_length - 1]``. Every cell of anti-diagonal ``k``
    (``i + j = k``) depends only on diagonals ``k - 1`` and ``k - 2``, so the
    loop computes one whole diagonal, for the whole batch, per pass.

    Parameters
    ----------
    x, y : float tensors ``[batch, time, features]``
        Padded at the end; the padding's content is never read into a
        pair's answer.
    x_lengths, y_lengths : int tensors ``[batch]``, optional
        True lengths (default: the full time axis).
    combine : function of three tensors
        :func:`hard_min` for DTW, ``soft_min(gamma)`` for soft-DTW.

    Returns
    -------
    tensor ``[batch]``
    """
    x = tf.convert_to_tensor(x)
    y = tf.convert_to_tensor(y, x.dtype)
    if x.shape.rank != 3 or y.shape.rank != 3:
        raise ValueError(
            "x and y must have shape [batch, time, features], got "
            f"{x.shape} and {y.shape}; for one sequence use x[None]."
        )
    if x.shape[0] != y.shape[0] or x.shape[2] != y.shape[2]:
        raise ValueError(
            f"x {x.shape} and y {y.shape} must agree in batch and features; "
            "to compare every x with every y, use "
            "helpers.dtw_fast.dtw_all_pairs."
        )
    full = tf.ones([x.shape[0]], tf.int32)
    x_lengths = full * x.shape[1] if x_lengths is None else x_lengths
    y_lengths = full * y.shape[1] if y_lengths is None else y_lengths
    x_lengths = tf.cast(x_lengths, tf.int32)
    y_lengths = tf.cast(y_lengths, tf.int32)
    for name, lengths, steps in [
        ("x_lengths", x_lengths, x.shape[1]),
        ("y_lengths", y_lengths, y.shape[1]),
    ]:
        if np.any(lengths.numpy() < 1) or np.any(lengths.numpy() > steps):
            raise ValueError(
                f"{name} must lie between 1 and the time axis ({steps}); "
                "pass each sequence's true length."
            )
    return accumulate_by_diagonals(
        frame_costs(x, y), x_lengths, y_lengths, combine
    )


def next_diagonal(cost, k, previous, before, combine, rows):
    """``R`` on anti-diagonal ``k``, for rows ``0 .. rows - 1``, from the
    diagonals ``k - 1`` (``previous``) and ``k - 2`` (``before``).

    A diagonal is stored ``[rows + 1, batch]``: cell ``(i, k - i)`` in row
    ``i + 1``, behind a row ``-1`` that is infinite (except in diagonal
    ``-2``, whose row ``-1`` is ``R[-1, -1] = 0``). Cells off the grid hold
    infinity. A diagonal may have one row more than the one before; the
    extra infinite row appended to ``previous`` and ``before`` covers it.
    (With every row on every pass, ``rows = T``, the slices never reach
    that row, and the two appends only copy.)
    ``cost`` is ``[frames of x, frames of y, batch]``, as
    :func:`frame_costs` makes it.
    """
    steps_y = tf.shape(cost)[1]
    i = tf.range(rows)
    j = k - i
    inf = tf.fill(tf.shape(cost[:1, 0]), tf.constant(np.inf, cost.dtype))
    on_grid = ((j >= 0) & (j < steps_y))[:, None]
    index = tf.stack([i, tf.clip_by_value(j, 0, steps_y - 1)], axis=1)
    here = tf.where(on_grid, tf.gather_nd(cost, index), inf)
    previous = tf.concat([previous, inf], 0)  # k - 1
    before = tf.concat([before, inf], 0)  # k - 2
    # R[i - 1, j], R[i, j - 1], R[i - 1, j - 1]
    three = previous[:rows], previous[1 : rows + 1], before[:rows]
    return tf.concat([inf, here + combine(*three)], 0)


def picked_answers(answer, current, k, x_lengths, y_lengths):
    """``answer`` with ``R[x_length - 1, y_length - 1]`` filled in for the
    pairs whose last cell lies on diagonal ``k`` (``current``, stored as
    :func:`next_diagonal` returns it)."""
    rows = tf.shape(current)[0] - 1
    at = tf.minimum(x_lengths, rows)  # row x_length - 1 sits at x_length
    last = tf.gather(tf.transpose(current), at, batch_dims=1)
    return tf.where(k == x_lengths + y_lengths - 2, last, answer)


def while_loop_parts(cost, x_lengths, y_lengths, combine=hard_min, full=False):
    """What ``tf.while_loop`` takes for DTW's loop over anti-diagonals:
    ``(cond, body, loop_vars, shape_invariants, passes)``.

    The loop variables are the pass ``k``, the last two diagonals (as
    :func:`next_diagonal` stores them), the answers so far ``[batch]`` and
    ``history``, a ``tf.TensorArray`` that keeps every diagonal. Diagonal
    ``k`` holds the rows ``i <= k`` only, so it grows on the first passes,
    and its shape invariant is ``[None, None]``; with ``full=True`` it
    holds every row on every pass, as in :func:`accumulate_by_diagonals`
    (fixed shapes, which XLA needs). ``passes``, one per anti-diagonal, is
    the value for ``maximum_iterations``. ``cost`` is ``[frames of x, frames
    of y, batch]``, as :func:`frame_costs` makes it; the lengths are int32.
    """
    cost = tf.convert_to_tensor(cost)
    if cost.shape.rank != 3 or not cost.dtype.is_floating:
        raise ValueError(
            "cost must be a float tensor [frames of x, frames of y, pairs], "
            f"got {cost.dtype.name} of shape {cost.shape}; make it with "
            "frame_costs(x, y)."
        )
    x_lengths = tf.cast(x_lengths, tf.int32)
    y_lengths = tf.cast(y_lengths, tf.int32)
    steps_x = tf.shape(cost)[0]
    diagonals = steps_x + tf.shape(cost)[1] - 1
    inf = tf.fill(tf.shape(cost[:1, 0]), tf.constant(np.inf, cost.dtype))

    def cond(k, *_):
        return k < diagonals

    def body(k, previous, before, answer, history):
        rows = steps_x if full else tf.minimum(k + 1, steps_x)
        current = next_diagonal(cost, k, previous, before, combine, rows)
        answer = picked_answers(answer, current, k, x_lengths, y_lengths)
        return k + 1, current, previous, answer, history.write(k, current)

    # diagonals -1 and -2: all infinite, except R[-1, -1] = 0
    previous = tf.repeat(inf, steps_x + 1, 0) if full else inf
    before = tf.concat([tf.zeros_like(inf), previous[1:]], 0)
    history = tf.TensorArray(cost.dtype, size=diagonals, infer_shape=False)
    loop_vars = (tf.constant(0), previous, before, inf[0], history)
    grows = tf.TensorShape([None, None])  # [rows, pairs]
    invariants = (tf.TensorShape([]), grows, grows, inf[0].shape, None)
    return cond, body, loop_vars, invariants, diagonals


@tf.function(autograph=False)
def accumulate_by_while_loop(
    cost, x_lengths, y_lengths, combine=hard_min, full=False
):
    """``R[x_length - 1, y_length - 1]`` of every pair, ``[batch]``, and
    every diagonal one after the other, ``[rows, batch]``: the loop of
    :func:`while_loop_parts`, run by ``tf.while_loop``.

    The same answers as :func:`accumulate_by_diagonals`. A diagonal's rows
    are :func:`next_diagonal`'s (row ``-1`` first); diagonal ``k`` has
    ``min(k + 1, T) + 1`` rows, or ``T + 1`` with ``full=True``. No
    AutoGraph: the loop is written by hand.
    """
    cond, body, loop_vars, invariants, passes = while_loop_parts(
        cost, x_lengths, y_lengths, combine, full
    )
    *_, answer, history = tf.while_loop(
        cond,
        body,
        loop_vars,
        shape_invariants=invariants,
        maximum_iterations=passes,
    )
    return answer, history.concat()


def tables_from_history(history, steps_x, steps_y, full=False):
    """The tables ``R`` ``[steps_x, steps_y, batch]`` that the diagonals of
    :func:`accumulate_by_while_loop`'s ``history`` hold, one after the other
    (row ``-1`` first; ``full`` as given to the loop).

    NaN where a diagonal holds no cell of the table.
    """
    history = np.asarray(history)
    rows = [
        (steps_x if full else min(k + 1, steps_x)) + 1
        for k in range(steps_x + steps_y - 1)
    ]
    if history.ndim != 2 or history.shape[0] != sum(rows):
        raise ValueError(
            f"history of {steps_x} x {steps_y} tables has {sum(rows)} rows "
            f"[rows, batch], got shape {history.shape}; pass the steps and "
            "`full` that the loop ran with."
        )
    tables = np.full((steps_x, steps_y, history.shape[1]), np.nan)
    for k, stored in enumerate(np.split(history, np.cumsum(rows)[:-1])):
        for i, values in enumerate(stored[1:]):  # stored[0]: row -1
            if 0 <= k - i < steps_y:
                tables[i, k - i] = values
    return tables


def tape_accumulators(value_of, *args):
    """``TensorListPushBack`` ops in the graph of ``value_of(*args)`` and its
    gradient with respect to ``args[0]``, traced by ``tf.function``: one per
    value that the tape keeps from every pass of a loop (``while_v2``'s
    accumulators)."""
    if not callable(value_of) or not args:
        raise TypeError(
            "tape_accumulators takes a function and the arguments to trace "
            "it with, e.g. tape_accumulators(f, x, y)."
        )

    def value_and_gradient(first, *rest):
        with tf.GradientTape() as tape:
            tape.watch(first)
            value = value_of(first, *rest)
        return value, tape.gradient(value, first)

    traced = tf.function(value_and_gradient).get_concrete_function(*args)
    library = traced.graph.as_graph_def().library.function
    ops = [node.op for function in library for node in function.node_def]
    return ops.count("TensorListPushBack")


def gradient_gaps(gradient, x, y, x_lengths, y_lengths, gamma):
    """How far ``gradient`` ``[batch, T, features]``, a gradient of soft-DTW
    with respect to ``x``, lies from :func:`soft_dtw_backward`'s, pair by
    pair at the true lengths: ``(largest gap, zero_on_padding)``, each gap
    relative to the pair's largest entry, and whether every padding frame
    got exactly 0."""
    gradient = np.asarray(gradient)
    if gradient.shape != np.shape(x):
        raise ValueError(
            f"gradient has shape {gradient.shape}, x has {np.shape(x)}: pass "
            "the gradient with respect to x."
        )
    gaps, zero_on_padding = [], True
    for b, (m, n) in enumerate(zip(x_lengths, y_lengths, strict=True)):
        expected = soft_dtw_backward(x[b, :m], y[b, :n], gamma)[2]
        gap = np.abs(gradient[b, :m] - expected).max()
        gaps.append(gap / np.abs(expected).max())
        zero_on_padding &= not gradient[b, m:].any()
    return max(gaps), bool(zero_on_padding)


def soft_dtw_backward(x, y, gamma):
    """Soft-DTW of one pair, with its gradient by the backward recursion.

    ``x`` is ``[T, features]``, ``y`` is ``[U, features]`` (NumPy).

    Returns
    -------
    value : float
        ``R[T, U]`` of the forward recursion.
    alignment : ndarray ``[T, U]``
        ``E[i, j]``, the derivative of the value with respect to the cost of
        cell ``(i, j)``: how much of the soft path runs through that cell.
    gradient : ndarray ``[T, features]``
        The derivative of the value with respect to ``x``.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[1]:
        raise ValueError(
            "soft_dtw_backward takes two sequences [time, features] with the "
            f"same number of features, got shapes {x.shape} and {y.shape}."
        )
    if not gamma > 0:
        raise ValueError(f"gamma must be strictly positive, got {gamma!r}.")
    T, U = len(x), len(y)
    cost = ((x[:, None, :] - y[None, :, :]) ** 2).sum(axis=-1)
    # Forward: R[i, j] for cell (i - 1, j - 1), with a border of inf.
    R = np.full((T + 2, U + 2), np.inf)
    R[0, 0] = 0.0
    for i in range(1, T + 1):
        for j in range(1, U + 1):
            three = -np.array([R[i - 1, j], R[i, j - 1], R[i - 1, j - 1]])
            top = np.max(three / gamma)
            soft = -gamma * (top + np.log(np.exp(three / gamma - top).sum()))
            R[i, j] = cost[i - 1, j - 1] + soft
    # Backward: E[i, j] = sum over the three cells that R[i, j] feeds of
    # E[that cell] * (how strongly R[i, j] counts in its soft minimum).
    # A border of -inf gives weight exp(-inf) = 0; the copy of R[T, U] in
    # the corner gives cell (T, U) weight exp(0) = 1, so E[T, U] = 1.
    E = np.zeros((T + 2, U + 2))
    E[T + 1, U + 1] = 1.0
    R[T + 1, :], R[:, U + 1] = -np.inf, -np.inf
    R[T + 1, U + 1] = R[T, U]
    cost_with_border = np.zeros((T + 2, U + 2))
    cost_with_border[1 : T + 1, 1 : U + 1] = cost
    for i in range(T, 0, -1):
        for j in range(U, 0, -1):
            for di, dj in [(1, 0), (0, 1), (1, 1)]:
                after = (i + di, j + dj)
                share = R[after] - R[i, j] - cost_with_border[after]
                E[i, j] += E[after] * np.exp(share / gamma)
    alignment = E[1 : T + 1, 1 : U + 1]
    # cost(i, j) = |x_i - y_j|^2, so d cost / d x_i = 2 (x_i - y_j)
    gradient = 2 * (alignment.sum(1)[:, None] * x - alignment @ y)
    return float(R[T, U]), alignment, gradient


def soft_dtw_divergence(x, y, gamma=1.0, x_lengths=None, y_lengths=None):
    """``soft_dtw(x, y) - (soft_dtw(x, x) + soft_dtw(y, y)) / 2``, batched.

    Soft-DTW itself is not smallest at ``x = y`` (``soft_dtw(y, y)`` is
    negative and its gradient there is not zero); the divergence is 0 at
    ``x = y`` and positive elsewhere. Arguments as
    :func:`helpers.dtw_fast.soft_dtw`.
    """
    return soft_dtw(x, y, gamma, x_lengths, y_lengths) - 0.5 * (
        soft_dtw(x, x, gamma, x_lengths, x_lengths)
        + soft_dtw(y, y, gamma, y_lengths, y_lengths)
    )
