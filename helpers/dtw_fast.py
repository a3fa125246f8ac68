"""Dynamic time warping inside TensorFlow graphs, fast.

Used by the chapters "Dynamic time warping inside the graph"
(``notebooks/19_dtw``) and "Soft-DTW" (``notebooks/20_soft_dtw``), timed in
"Performance" (``notebooks/27_performance``), and explained in the appendix,
"How the fast DTW works" (``notebooks/28_fast_dtw``).

The main API, listed in ``__all__``:

- :func:`dtw`: the minimal accumulated cost over warping paths, batched.
- :func:`soft_dtw`: its smoothed, differentiable relative (Cuturi & Blondel,
  2017), usable as a training loss.
- :func:`dtw_all_pairs`: every sequence of one set against every sequence
  of another, as one batch (nearest-neighbour search).
- :func:`dtw_path`: the optimal alignment path of one pair, for figures.

Both batched functions compare ``x[b]`` with ``y[b]`` for every ``b``. Frame
cost is the squared Euclidean distance. The recursion runs as a wavefront over
the anti-diagonals of the cost matrix in a ``tf.while_loop``, each step
vectorised over the diagonal and the batch (batch last in memory). Three
arrangements make it fast (the appendix explains them): the sequences are
reversed in time so that every pair ends in the same cell, whatever its
lengths; the cost matrix is read diagonal by diagonal through a reshaped view
of the same memory, never copied; and soft-DTW's gradient is the backward
recursion of Cuturi & Blondel, not automatic differentiation of the loop.
Everything is compiled with XLA, once per shape and dtype, so a plain eager
call is already fast; the functions also work inside a ``tf.function`` (with
open shapes too, more slowly) and under ``jit_compile=True``.

Identical frames cost exactly 0: the distance is computed as
``sum((x - y) ** 2)``, not as ``|x|^2 + |y|^2 - 2 x.y``.

The building blocks, public so that the appendix can show and call them
(they take the already checked, arranged arguments that :func:`dtw` prepares;
build on the main API, not on them):

- the grid and the arranged data (appendix section 1): :func:`time_steps`,
  :func:`grid_shape`, :func:`arranged_frames`, :func:`materialized`,
  :func:`grid_costs`, :func:`cell_masks`;
- a diagonal read in place: :func:`diagonal_costs`, :func:`diagonal_offset`,
  :func:`next_diagonal_offset`;
- the general loop: :func:`wavefront` with a ``combine`` such as
  :func:`hard_min`;
- DTW's loop with three buffers written in place (appendix section 2):
  :func:`dtw_wavefront`, :func:`three_at_a_time`, :func:`written_in_place`;
- the whole program :func:`dtw` compiles: :func:`dtw_program`;
- soft-DTW's ``tf.custom_gradient`` wiring, the backward recursion as its
  gradient (``notebooks/21_while_loop``): :func:`soft_dtw_custom_gradient`.
"""

import functools
import numbers

import numpy as np
import tensorflow as tf

__all__ = ["dtw", "dtw_all_pairs", "soft_dtw", "dtw_path"]

_FLOATS = (tf.float32, tf.float64)


# ----------------------------------------------------------------------------
# Input checks (Python, before anything is traced)
# ----------------------------------------------------------------------------


def _as_sequences(name, value):
    tensor = tf.convert_to_tensor(value)
    if tensor.dtype not in _FLOATS:
        if tensor.dtype.is_integer or tensor.dtype.is_floating:
            raise TypeError(
                f"{name} has dtype {tensor.dtype.name}; dtw and soft_dtw take "
                f"float32 or float64. Cast first, e.g. tf.cast({name}, "
                "tf.float32)."
            )
        raise TypeError(
            f"{name} must be a float32 or float64 tensor, got dtype "
            f"{tensor.dtype.name}."
        )
    if tensor.shape.rank != 3:
        raise ValueError(
            f"{name} must have shape [batch, time, features], got shape "
            f"{tensor.shape}; for one sequence use x[None], for one feature "
            "use x[..., None]."
        )
    return tensor


@functools.lru_cache(maxsize=64)
def _full_lengths(batch, steps):
    """``[steps] * batch`` as an int32 tensor (eager only: a graph tensor must
    not be cached)."""
    return tf.constant(np.full(batch, steps, np.int32))


def _as_lengths(name, lengths, batch, steps, size_name):
    """Lengths as int32 [batch], checked to lie in [1, steps]; all `steps` when
    None."""
    if lengths is None:
        if tf.executing_eagerly():
            # a cached constant: no op to run
            return _full_lengths(int(batch), int(steps))
        return tf.fill([batch], steps)
    lengths = tf.convert_to_tensor(lengths)
    if not lengths.dtype.is_integer:
        raise TypeError(
            f"{name} must hold integers (the number of valid frames of each "
            f"sequence), got dtype {lengths.dtype.name}."
        )
    if lengths.shape.rank != 1:
        raise ValueError(
            f"{name} must have shape [batch], got shape {lengths.shape}."
        )
    lengths = tf.cast(lengths, tf.int32)
    if tf.executing_eagerly():
        values = lengths.numpy()
        if values.shape[0] != int(batch):
            raise ValueError(
                f"{name} has {values.shape[0]} entries but the batch has "
                f"{int(batch)} sequences."
            )
        if values.size and (values.min() < 1 or values.max() > int(steps)):
            raise ValueError(
                f"{name} must lie in [1, {size_name}] = [1, {int(steps)}], "
                f"got values from {values.min()} to {values.max()}; a length "
                "counts the valid frames at the start of each padded "
                "sequence."
            )
        return lengths
    checks = [
        tf.debugging.assert_equal(
            tf.shape(lengths)[0],
            batch,
            message=f"{name} must have one entry per sequence",
        ),
        tf.debugging.assert_greater_equal(
            lengths, 1, message=f"{name} must be at least 1"
        ),
        tf.debugging.assert_less_equal(
            lengths, steps, message=f"{name} must be at most {size_name}"
        ),
    ]
    with tf.control_dependencies(checks):
        return tf.identity(lengths)


def _checked(x, y, x_lengths, y_lengths):
    x = _as_sequences("x", x)
    y = _as_sequences("y", y)
    if x.dtype != y.dtype:
        raise TypeError(
            f"x is {x.dtype.name} but y is {y.dtype.name}; cast one so both "
            "match."
        )
    if (
        x.shape[-1] is not None
        and y.shape[-1] is not None
        and x.shape[-1] != y.shape[-1]
    ):
        raise ValueError(
            f"x has {x.shape[-1]} features per frame but y has {y.shape[-1]}; "
            "frames can only be compared when both have the same number of "
            "features."
        )
    if (
        x.shape[0] is not None
        and y.shape[0] is not None
        and x.shape[0] != y.shape[0]
    ):
        raise ValueError(
            f"x holds {x.shape[0]} sequences but y holds {y.shape[0]}; dtw "
            "compares x[b] with y[b], so repeat or tile them to equal batch "
            "sizes, or use dtw_all_pairs(x, y) for every pair."
        )
    batch = x.shape[0] if x.shape[0] is not None else tf.shape(x)[0]
    steps_x, steps_y = time_steps(x, y)
    x_lengths = _as_lengths("x_lengths", x_lengths, batch, steps_x, "T")
    y_lengths = _as_lengths("y_lengths", y_lengths, batch, steps_y, "U")
    return x, y, x_lengths, y_lengths


# ----------------------------------------------------------------------------
# The compiled core: the building blocks the appendix shows (public), and the
# programs that XLA compiles
# ----------------------------------------------------------------------------


def grid_shape(steps_x, steps_y):
    """``(rows, columns)`` of the padded grid for ``T`` and ``U`` frames (ints
    or int32 tensors).

    Both sequences get at least one padding frame in front (room for the
    zero-cost chain of :func:`grid_costs`), and ``columns - 1 >= rows``, which
    :func:`diagonal_costs` needs. The grid is smallest when ``T <= U``.
    """
    rows = steps_x + 1
    longer = (
        max(steps_y, rows)
        if isinstance(steps_y, int) and isinstance(rows, int)
        else tf.maximum(steps_y, rows)
    )
    return rows, 1 + longer


def time_steps(x, y):
    """``(T, U)``: Python ints when known while tracing (XLA then sees static
    slice sizes), else tensors."""
    return tuple(
        t.shape[1] if t.shape[1] is not None else tf.shape(t)[1]
        for t in (x, y)
    )


def materialized(tensor, lengths):
    """``tensor`` unchanged, but computed once into memory before its consumers
    run.

    XLA would otherwise fuse a transpose into every element of the cost
    computation that reads it, which then reads ``x`` with a stride of
    ``T * features`` values (more than twice as slow, measured here). A loop
    whose trip count XLA cannot know (it is 1: every length is at least 1) is
    a boundary that fusion does not cross.
    """
    trips = tf.minimum(tf.reduce_min(lengths), 1)
    _, tensor = tf.while_loop(
        lambda i, t: i < trips,
        lambda i, t: (i + 1, tf.identity(t)),
        (0, tensor),
        maximum_iterations=1,
    )
    return tensor


def arranged_frames(x, y, x_lengths, y_lengths, rows, columns):
    """Both sequences as ``[features, time, batch]``, **reversed in time**,
    padding zeroed and moved in front.

    ``x`` becomes ``columns - 1`` frames (``rows`` on the grid, the rest only
    give :func:`grid_costs` the shape :func:`diagonal_costs` folds), ``y``
    becomes ``columns`` frames. Padding is zeroed first, so whatever it held
    (even NaN) cannot matter.
    """
    steps_x, steps_y = tf.shape(x)[1], tf.shape(y)[1]
    x = tf.where(
        tf.sequence_mask(x_lengths, steps_x)[:, :, None], x, tf.zeros_like(x)
    )
    y = tf.where(
        tf.sequence_mask(y_lengths, steps_y)[:, :, None], y, tf.zeros_like(y)
    )
    x_t = tf.pad(
        tf.reverse(tf.transpose(x, [2, 1, 0]), [1]),
        [[0, 0], [rows - steps_x, columns - 1 - rows], [0, 0]],
    )
    y_t = tf.pad(
        tf.reverse(tf.transpose(y, [2, 1, 0]), [1]),
        [[0, 0], [columns - steps_y, 0], [0, 0]],
    )
    return materialized(x_t, x_lengths), materialized(y_t, y_lengths)


def grid_costs(x_t, y_t, x_lengths, y_lengths, rows, columns):
    """Frame costs on the padded grid, ``[columns - 1, columns, batch]``, batch
    last.

    ``x_t`` and ``y_t`` come from :func:`arranged_frames`: reversed in time,
    so every pair's last valid frames meet in the bottom-right cell
    ``(rows - 1, columns - 1)`` and the answer is always there, whatever the
    lengths. Each pair's first valid cell ``(rows - x_len, columns - y_len)``
    is reached from the top-left cell by one chain of zero-cost cells
    (diagonal, then straight along row or column 0); every other cell outside
    the valid block costs infinity.
    """
    features = x_t.shape[0]
    if features is not None and features <= 64:
        # Squared distance, feature by feature: every term is contiguous along
        # the batch (vectorised), and identical frames cost exactly 0.
        distance = tf.square(x_t[0][:, None, :] - y_t[0][None, :, :])
        for f in range(1, features):
            distance += tf.square(x_t[f][:, None, :] - y_t[f][None, :, :])
    else:
        distance = tf.reduce_sum(
            tf.square(x_t[:, :, None, :] - y_t[:, None, :, :]), axis=0
        )
    inside, chain = cell_masks(x_lengths, y_lengths, rows, columns)
    infinity = tf.constant(np.inf, x_t.dtype)
    return tf.where(
        inside, distance, tf.where(chain, tf.zeros_like(distance), infinity)
    )


def cell_masks(x_lengths, y_lengths, rows, columns):
    """Masks ``[columns - 1, columns, batch]``: the valid block, and the
    zero-cost chain leading to it."""
    i = tf.range(columns - 1)[:, None, None]
    j = tf.range(columns)[None, :, None]
    # first valid cell of each pair
    first_i = (rows - x_lengths)[None, None, :]
    first_j = (columns - y_lengths)[None, None, :]
    inside = (i >= first_i) & (j >= first_j)
    # steps back from the cell before the first valid one
    back_i, back_j = (
        first_i - 1 - i,
        first_j - 1 - j,
    )
    chain = (
        (back_i >= 0)
        & (back_j >= 0)
        & (
            (back_i == back_j)  # diagonally
            | ((back_j == first_j - 1) & (back_i > back_j))  # along column 0
            | ((back_i == first_i - 1) & (back_j > back_i))  # along row 0
        )
    )
    return inside, chain


def diagonal_costs(costs, k, offset, rows, columns):
    """Costs of anti-diagonal ``k`` (cells ``(i, k - i)``, ``i < rows``) as
    ``[rows, batch]``; inf off the grid.

    ``costs`` is the ``[columns - 1, columns, B]`` array of :func:`grid_costs`,
    read here as ``[columns, columns - 1, B]`` (same memory). Cell ``(i, j)``
    sits at flat row ``i * columns + j = i * (columns - 1) + k``: in the
    folded view, row ``i + k // (columns - 1)``, column ``k % (columns - 1)``.
    So a whole diagonal is one rectangular slice at ``offset = (k // (columns
    - 1), k % (columns - 1))``, and the matrix is never copied. Entries with
    ``k - i`` outside ``[0, columns)`` belong to other cells and are masked.
    Call it inside the loop: XLA then reads the folded view in place (folding
    before the loop makes it write a folded copy, several times slower).
    """
    batch = (
        costs.shape[2] if costs.shape[2] is not None else tf.shape(costs)[2]
    )
    folded = tf.reshape(costs, tf.stack([columns, columns - 1, batch]))
    # Explicit sizes: with -1, XLA would size the slice as "the rest", which
    # depends on the offset.
    block = tf.slice(
        folded, tf.stack([offset[0], offset[1], 0]), tf.stack([rows, 1, batch])
    )[:, 0, :]
    j = k - tf.range(rows)[:, None]
    return tf.where(
        (j >= 0) & (j < columns), block, tf.constant(np.inf, costs.dtype)
    )


def diagonal_offset(k, columns):
    """The folded offset ``(row, column)`` of diagonal ``k`` in
    :func:`diagonal_costs`, int32 ``[..., 2]``."""
    return tf.stack([k // (columns - 1), k % (columns - 1)], -1)


def next_diagonal_offset(offset, step, columns):
    """The folded offset of diagonal ``k + step`` from that of ``k`` (``|step|
    <= columns - 1``)."""
    row, column = offset[0], offset[1] + step
    wrap_up, wrap_down = column >= columns - 1, column < 0
    row = tf.where(wrap_up, row + 1, tf.where(wrap_down, row - 1, row))
    column = tf.where(
        wrap_up,
        column - (columns - 1),
        tf.where(wrap_down, column + (columns - 1), column),
    )
    return tf.stack([row, column])


def wavefront(costs, rows, columns, combine, record=False):
    """``R[i, j] = cost[i, j] + combine(R[i-1, j], R[i, j-1], R[i-1, j-1])``,
    one anti-diagonal at a time.

    ``costs`` comes from :func:`grid_costs`. The loop state is the last two
    diagonals, each with an infinite row 0 in front, so that ``d[:-1]`` lines
    each cell up with its upper neighbours and ``d[1:]`` with its left one.
    ``R`` is 0 "before" the top-left cell. One diagonal per pass: with more,
    XLA fuses consecutive diagonals into one kernel and computes the earlier
    ones again (measured slower, clearly so for soft-DTW). Returns ``R`` at the
    bottom-right cell, ``[B]``; with ``record=True`` also every diagonal, ``[K,
    rows + 1, B]`` (the backward pass of soft-DTW needs them).
    """
    dtype = costs.dtype
    batch = tf.shape(costs)[2]
    diagonals = rows + columns - 1
    top = tf.fill(tf.stack([1, batch]), tf.constant(np.inf, dtype))
    empty = tf.fill(tf.stack([rows + 1, batch]), tf.constant(np.inf, dtype))
    # its row 0 plays "R before cell (0, 0)"
    start = tf.concat([tf.zeros_like(top), empty[1:]], 0)

    def body(k, offset, previous, before, *history):
        current = diagonal_costs(costs, k, offset, rows, columns) + combine(
            previous[:-1], previous[1:], before[:-1]
        )
        current = tf.concat([top, current], 0)
        history = tuple(h.write(k, current) for h in history)
        return (
            k + 1,
            next_diagonal_offset(offset, 1, columns),
            current,
            previous,
        ) + history

    state = (tf.constant(0), tf.constant([0, 0]), empty, start)
    if record:
        state += (
            tf.TensorArray(dtype, size=diagonals, element_shape=[None, None]),
        )
    _, _, last, _, *history = tf.while_loop(
        lambda k, *_: k < diagonals, body, state, maximum_iterations=diagonals
    )
    return (last[-1], history[0].stack()) if record else last[-1]


def written_in_place(buffer, values, first_row):
    """``buffer`` with rows ``first_row, first_row + 1, ...`` replaced by
    ``values`` (the other row kept).

    Compiled, this is a dynamic-update-slice that XLA performs in place, in
    the same kernel that computes ``values``: nothing is copied, and the
    kernel runs on one thread (splitting a few thousand numbers across
    threads costs more than it saves).
    """
    size = tf.shape(values)
    return tf.raw_ops.TensorStridedSliceUpdate(
        input=buffer,
        begin=tf.stack([first_row, 0]),
        end=tf.stack([first_row + size[0], size[1]]),
        strides=[1, 1],
        value=values,
    )


def three_at_a_time(step, steps, empty, locate):
    """Run ``new = step(t, where, last, second_last, scratch)`` for ``t = 0,
    ..., steps - 1``.

    A ``tf.while_loop`` with three steps per pass, over three buffers shaped
    like ``empty`` that take turns: each step writes its result into the
    buffer of the step three before, which nothing needs any more
    (``scratch``), by :func:`written_in_place`. After three steps every buffer
    is back in its place, so XLA copies nothing between passes, and the loop's
    own bookkeeping is paid once per three steps. ``locate(ts)`` maps the
    three steps of a pass to whatever each needs to know (``where``), in one
    small kernel rather than a few per step. ``step`` must leave the row of
    ``scratch`` it does not write as it is: that row keeps its value from
    ``empty``. To fill the first pass, up to two steps run before ``t = 0``
    (negative ``t``); they must give ``empty`` back. Returns the result of
    the last step.
    """
    passes = (steps + 2) // 3
    # 0, -1 or -2: the last pass then ends exactly on the last step
    first = steps - 3 * passes

    def body(p, a, b, z):
        t = first + 3 * p
        where = locate(t + tf.range(3))
        n1 = step(t, where[0], a, b, z)
        n2 = step(t + 1, where[1], n1, a, b)
        n3 = step(t + 2, where[2], n2, n1, a)
        return p + 1, n3, n2, n1

    _, last, _, _ = tf.while_loop(
        lambda p, *_: p < passes,
        body,
        (tf.constant(0), empty, empty, empty),
        maximum_iterations=passes,
    )
    return last


def dtw_wavefront(costs, rows, columns):
    """The hard-minimum recursion of :func:`wavefront`, faster: ``R`` at the
    bottom-right cell, ``[B]``.

    Each diagonal is written in place into one of three rotating buffers
    (:func:`three_at_a_time`), so a loop pass runs three kernels and copies
    nothing. XLA runs an in-place kernel on one thread: for a minimum and
    an addition that beats the fixed costs of the general loop (copies
    between passes, small kernels split across threads), but soft-DTW's
    ``exp`` and ``log`` on every cell want both cores, and measured slower
    this way; so soft-DTW keeps :func:`wavefront`.
    """
    batch = (
        costs.shape[2] if costs.shape[2] is not None else tf.shape(costs)[2]
    )
    empty = tf.fill(
        tf.stack([rows + 1, batch]), tf.constant(np.inf, costs.dtype)
    )
    first_cell = tf.range(rows)[:, None] == 0

    def step(k, offset, previous, before, scratch):
        # Before the grid (k < 0) every cost is masked to inf, so the diagonal
        # stays `empty`.
        reached = hard_min(previous[:-1], previous[1:], before[:-1])
        # the path starts here
        reached = tf.where(
            (k == 0) & first_cell, tf.zeros_like(reached), reached
        )
        return written_in_place(
            scratch,
            diagonal_costs(costs, k, offset, rows, columns) + reached,
            1,
        )

    return three_at_a_time(
        step,
        rows + columns - 1,
        empty,
        lambda ks: diagonal_offset(ks, columns),
    )[-1]


def hard_min(a, b, c):
    """The elementwise minimum of three tensors: DTW's ``combine``."""
    return tf.minimum(tf.minimum(a, b), c)


def _soft_min(gamma):
    """The soft minimum ``-gamma * log(sum(exp(-v / gamma)))`` of three
    tensors, elementwise.

    Shifted by the hard minimum ``m`` for stability. Infinite entries (cells
    off every path) give ``exp(-inf) = 0``; where all three are infinite,
    ``m`` is replaced by 0, the sum is 0 and the result ``+inf``, as it should
    be. No NaN can appear.
    """

    def combine(a, b, c):
        lowest = tf.minimum(tf.minimum(a, b), c)
        lowest = tf.where(
            tf.math.is_finite(lowest), lowest, tf.zeros_like(lowest)
        )
        scale = 1.0 / gamma
        total = (
            tf.exp((lowest - a) * scale)
            + tf.exp((lowest - b) * scale)
            + tf.exp((lowest - c) * scale)
        )
        return lowest - gamma * tf.math.log(total)

    return combine


def _soft_cost_gradient(costs, history, rows, columns, gamma):
    """``d R[bottom-right] / d cost`` for every cell, arranged like ``costs``:
    Cuturi & Blondel's ``E``.

    The backward recursion, run over the diagonals in reverse:
    ``E[i, j] = sum over the successors s of (i, j) of E[s] * w``, with
    ``E = 1`` at the bottom-right cell, where ``w = exp((R[s] - cost[s] -
    R[i, j]) / gamma)`` is the weight cell ``s`` gave ``(i, j)`` in its soft
    minimum (``R[s] - cost[s]`` *is* that soft minimum). Since ``R[s] =
    cost[s] + softmin(...)``, ``E[i, j]`` is the derivative of the final value
    with respect to ``R[i, j]``, and so to ``cost[i, j]``. ``history`` holds
    every diagonal of ``R`` from the forward pass. Each diagonal of ``E`` is
    added into the folded layout of :func:`diagonal_costs` (entries off the
    grid are 0, so the overlap is harmless).
    """
    dtype = costs.dtype
    batch = tf.shape(costs)[2]
    diagonals = rows + columns - 1
    minus_infinity = tf.constant(-np.inf, dtype)
    zero_row = tf.zeros(tf.stack([1, batch]), dtype)
    unreachable_row = tf.fill(tf.stack([1, batch]), minus_infinity)
    row = tf.range(rows)[:, None]
    scale = 1.0 / gamma

    def received(k, offset):
        """The soft minimum each cell of diagonal ``k`` received, ``[rows + 1,
        B]``; -inf where unreachable or past the last diagonal (its weights are
        then exp(-inf) = 0), and in an extra last row."""
        accumulated = history[tf.minimum(k, diagonals - 1)][1:]
        usable = tf.math.is_finite(accumulated) & (k < diagonals)
        value = tf.where(
            usable,
            accumulated - diagonal_costs(costs, k, offset, rows, columns),
            minus_infinity,
        )
        return tf.concat([value, unreachable_row], 0)

    def body(k, offset, e1, e2, gradient):
        # e1, e2: E on diagonals k + 1 and k + 2, each with a zero row at the
        # end, so that [1:] lines every cell up with its lower successors. What
        # those cells received is read again from the history: that costs less
        # than carrying it through the loop.
        accumulated = history[k][1:]  # R on diagonal k, [rows, B]
        s1 = received(k + 1, next_diagonal_offset(offset, 1, columns))
        s2 = received(k + 2, next_diagonal_offset(offset, 2, columns))
        # successor (i + 1, j + 1)
        e = (
            e1[1:]
            * tf.exp((s1[1:] - accumulated) * scale)  # successor (i + 1, j)
            + e1[:-1]
            * tf.exp((s1[:-1] - accumulated) * scale)  # successor (i, j + 1)
            + e2[1:] * tf.exp((s2[1:] - accumulated) * scale)
        )
        e = tf.where(
            (k == diagonals - 1) & (row == rows - 1), tf.ones_like(e), e
        )
        indices = tf.stack(
            [offset[0] + tf.range(rows), tf.fill([rows], offset[1])], axis=1
        )
        gradient = tf.tensor_scatter_nd_add(gradient, indices, e)
        return (
            k - 1,
            next_diagonal_offset(offset, -1, columns),
            tf.concat([e, zero_row], 0),
            e1,
            gradient,
        )

    last = diagonals - 1
    zeros = tf.zeros(tf.stack([rows + 1, batch]), dtype)
    state = (
        last,
        diagonal_offset(last, columns),
        zeros,
        zeros,
        tf.zeros(tf.stack([columns, columns - 1, batch]), dtype),
    )
    *_, gradient = tf.while_loop(
        lambda k, *_: k >= 0, body, state, maximum_iterations=diagonals
    )
    return tf.reshape(gradient, tf.shape(costs))


def _longer_first(x, y):
    """True when ``x`` is known to be longer than ``y``: then swap them (DTW is
    symmetric; the grid is smaller)."""
    return (
        x.shape[1] is not None
        and y.shape[1] is not None
        and x.shape[1] > y.shape[1]
    )


def _ordered(swap, x, y, x_lengths, y_lengths):
    """The arguments of the compiled programs, ``x`` and ``y`` swapped if
    ``swap``."""
    return (
        (y, x, y_lengths, x_lengths) if swap else (x, y, x_lengths, y_lengths)
    )


def dtw_program(x, y, x_lengths, y_lengths):
    """DTW values ``[B]`` of checked arguments: the program :func:`dtw`
    compiles with XLA (frames, costs, then :func:`dtw_wavefront`)."""
    rows, columns = grid_shape(*time_steps(x, y))
    costs = grid_costs(
        *arranged_frames(x, y, x_lengths, y_lengths, rows, columns),
        x_lengths,
        y_lengths,
        rows,
        columns,
    )
    return dtw_wavefront(costs, rows, columns)


def _soft_dtw_program(x, y, x_lengths, y_lengths, gamma):
    """soft-DTW values, and every diagonal of ``R`` for the backward pass
    (``[K, rows + 1, B]``)."""
    rows, columns = grid_shape(*time_steps(x, y))
    costs = grid_costs(
        *arranged_frames(x, y, x_lengths, y_lengths, rows, columns),
        x_lengths,
        y_lengths,
        rows,
        columns,
    )
    return wavefront(costs, rows, columns, _soft_min(gamma), record=True)


def _soft_dtw_gradients_program(
    x, y, x_lengths, y_lengths, gamma, history, upstream
):
    """Gradients of ``sum(upstream * values)`` from the forward pass's
    ``history``: backward recursion, then chain rule."""
    rows, columns = grid_shape(*time_steps(x, y))
    # only the cheap rearrangement of the frames is taped
    with tf.GradientTape() as tape:
        tape.watch([x, y])
        x_t, y_t = arranged_frames(x, y, x_lengths, y_lengths, rows, columns)
    costs = grid_costs(x_t, y_t, x_lengths, y_lengths, rows, columns)
    inside, _ = cell_masks(x_lengths, y_lengths, rows, columns)
    # [I, J, B]
    e = tf.where(
        inside,
        _soft_cost_gradient(costs, history, rows, columns, gamma) * upstream,
        0.0,
    )
    # cost[i, j] = sum_f (x[f, i] - y[f, j])^2, so d/dx[f, i] = 2 sum_j e[i, j]
    # (x[f, i] - y[f, j]).
    grad_x_t = 2.0 * (
        x_t * tf.reduce_sum(e, axis=1)[None]
        - tf.einsum("ijb,fjb->fib", e, y_t)
    )
    grad_y_t = 2.0 * (
        y_t * tf.reduce_sum(e, axis=0)[None]
        - tf.einsum("ijb,fib->fjb", e, x_t)
    )
    return tape.gradient(
        [x_t, y_t], [x, y], output_gradients=[grad_x_t, grad_y_t]
    )


_PROGRAMS = {
    "dtw": dtw_program,
    "soft_dtw": _soft_dtw_program,
    "soft_dtw_gradients": _soft_dtw_gradients_program,
}
_COMPILED = {}


def _run(name, x, y, *rest):
    """Run program ``name`` compiled with XLA: one concrete function per static
    shape, else a generic one.

    With every size known when it is traced, XLA sees fixed-size slices in
    the loop; and calling the traced (concrete) function directly skips the
    argument matching of ``tf.function``, which costs more than the work for
    small batches. Traced with open sizes (inside a caller's ``tf.function``
    with ``None`` dimensions), the same code still works, but XLA has to
    treat the slice sizes as dynamic and pads every slice to its bound:
    correct, and several times slower.
    """
    shapes = (tuple(x.shape), tuple(y.shape))
    if None in shapes[0] + shapes[1]:
        key = (name, x.dtype, "any")
        if key not in _COMPILED:
            _COMPILED[key] = tf.function(
                _PROGRAMS[name], jit_compile=True, reduce_retracing=True
            )
        return _COMPILED[key](x, y, *rest)
    key = (name, x.dtype) + shapes
    if key not in _COMPILED:
        _COMPILED[key] = tf.function(
            _PROGRAMS[name], jit_compile=True
        ).get_concrete_function(x, y, *rest)
    return _COMPILED[key](x, y, *rest)


def soft_dtw_custom_gradient(x, y, x_lengths, y_lengths, gamma):
    """soft-DTW values ``[B]`` of checked arguments, with the backward
    recursion registered as their gradient: the ``tf.custom_gradient``
    wiring that :func:`soft_dtw` calls.

    The forward pass runs the compiled loop once and keeps every diagonal
    of ``R`` (its ``history``); the inner ``gradient(upstream)`` runs the
    backward recursion on that history and returns one gradient per input
    of ``run``: for ``x`` and ``y``, and ``None`` for the integer lengths.
    The tape never differentiates the loop itself. Takes the arguments
    :func:`dtw` prepares, and ``gamma`` as a tensor of ``x``'s dtype; build
    on :func:`soft_dtw`, which checks them.
    """
    swap = _longer_first(x, y)

    @tf.custom_gradient
    def run(x, y, x_lengths, y_lengths):
        # stop_gradient: without it, an eager tape that watches x would run
        # the compiled program in a version that also returns its loop's
        # per-pass values (for the tape's own gradient), and XLA cannot
        # return those lists; `gradient` below supplies the derivative.
        inputs = _ordered(
            swap,
            tf.stop_gradient(x),
            tf.stop_gradient(y),
            x_lengths,
            y_lengths,
        )
        # the forward pass keeps what the backward pass needs: every
        # diagonal of R
        value, history = _run("soft_dtw", *inputs, gamma)

        def gradient(upstream):
            # The upstream gradient goes into the compiled program too: every
            # eager operation out here costs about as much as a small program
            # run.
            first, second = _run(
                "soft_dtw_gradients",
                *_ordered(swap, x, y, x_lengths, y_lengths),
                gamma,
                history,
                tf.cast(upstream, x.dtype),
            )
            grad_x, grad_y = (second, first) if swap else (first, second)
            # one gradient per input of run; the integer lengths have none
            return grad_x, grad_y, None, None

        return value, gradient

    return run(x, y, x_lengths, y_lengths)


# ----------------------------------------------------------------------------
# Public API
# ----------------------------------------------------------------------------


def dtw(x, y, x_lengths=None, y_lengths=None):
    """Dynamic time warping cost of ``x[b]`` against ``y[b]``, for every ``b``.

    Parameters
    ----------
    x : float tensor ``[batch, T, features]``
    y : float tensor ``[batch, U, features]``, same dtype and features as ``x``
    x_lengths, y_lengths : int tensor ``[batch]``, optional
        Valid frames at the start of each padded sequence, in ``[1, T]`` and
        ``[1, U]``. Frames beyond a length are ignored, whatever they hold.
        ``None`` means every frame is valid.

    Returns
    -------
    tensor ``[batch]``, the dtype of ``x``
        The minimal accumulated frame cost (squared Euclidean distance) over
        all warping paths from the first to the last valid frames. It is not
        normalised by length; its square root is the DTW distance that
        ``tslearn.metrics.dtw`` and ``dtaidistance`` report.

    Raises
    ------
    TypeError
        Non-float sequences, different dtypes, non-integer lengths.
    ValueError
        Rank other than 3, different feature sizes or batch sizes, lengths
        outside their range (checked eagerly; inside a ``tf.function`` they
        become graph assertions).
    """
    x, y, x_lengths, y_lengths = _checked(x, y, x_lengths, y_lengths)
    return _run(
        "dtw", *_ordered(_longer_first(x, y), x, y, x_lengths, y_lengths)
    )


#: Pairs per call of :func:`dtw` in :func:`dtw_all_pairs`: large enough to
#: keep the loop's fixed costs small, small enough for the cost matrices to
#: stay in the processor's cache.
_PAIRS_PER_CALL = 1024


def _length_groups(lengths, groups=4):
    """Sequence indices split by length into at most ``groups`` parts:
    ``[(indices, longest), ...]``."""
    order = np.argsort(lengths, kind="stable")
    parts = [part for part in np.array_split(order, groups) if len(part)]
    return [(part, int(lengths[part].max())) for part in parts]


def dtw_all_pairs(x, y, x_lengths=None, y_lengths=None):
    """DTW cost of every ``x[m]`` against every ``y[n]``: a ``[len(x),
    len(y)]`` matrix.

    Arguments as for :func:`dtw`, except that ``x`` and ``y`` may hold
    different numbers of sequences. To save work, both sets are split into
    four groups by length and each combination of groups is cut to its
    longest sequences, so short pairs are not computed at the full padded
    size. The pairs then go through :func:`dtw` in batches of
    ``_PAIRS_PER_CALL`` (a last, shorter batch is padded with repeats), so
    only a few shapes are ever compiled.

    Returns
    -------
    np.ndarray ``[len(x), len(y)]``
    """
    x, y = np.asarray(x), np.asarray(y)
    if x.ndim != 3 or y.ndim != 3:
        raise ValueError(
            "x and y must be [sequences, time, features], got shapes "
            f"{x.shape} and {y.shape}."
        )
    x_lengths = (
        np.full(len(x), x.shape[1])
        if x_lengths is None
        else np.asarray(x_lengths)
    )
    y_lengths = (
        np.full(len(y), y.shape[1])
        if y_lengths is None
        else np.asarray(y_lengths)
    )
    if len(x_lengths) != len(x) or len(y_lengths) != len(y):
        raise ValueError(
            f"need one length per sequence: {len(x)} and {len(y)} sequences, "
            f"{len(x_lengths)} and {len(y_lengths)} lengths."
        )
    costs = np.empty((len(x), len(y)), dtype=np.result_type(x, y))
    for rows, steps_x in _length_groups(x_lengths):
        for columns, steps_y in _length_groups(y_lengths):
            pairs = len(rows) * len(columns)
            size = min(_PAIRS_PER_CALL, pairs)
            for start in range(0, pairs, size):
                # a short last batch repeats
                index = np.minimum(np.arange(start, start + size), pairs - 1)
                first, second = (
                    rows[index // len(columns)],
                    columns[index % len(columns)],
                )
                values = dtw(
                    x[first, :steps_x],
                    y[second, :steps_y],
                    x_lengths[first],
                    y_lengths[second],
                ).numpy()
                kept = min(size, pairs - start)
                costs[first[:kept], second[:kept]] = values[:kept]
    return costs


def soft_dtw(x, y, gamma=1.0, x_lengths=None, y_lengths=None):
    """Soft-DTW (Cuturi & Blondel, 2017) of ``x[b]`` against ``y[b]``,
    differentiable.

    The recursion of :func:`dtw` with the minimum replaced by the soft minimum
    ``-gamma * log(sum(exp(-v / gamma)))``. As ``gamma`` goes to 0 it tends to
    :func:`dtw`; it can be negative, since the soft minimum lies below the
    minimum. Gradients flow to ``x`` and ``y``.

    Parameters
    ----------
    x, y, x_lengths, y_lengths
        As for :func:`dtw`.
    gamma : float
        Smoothing, strictly positive.

    Returns
    -------
    tensor ``[batch]``, the dtype of ``x``

    Raises
    ------
    As :func:`dtw`, and ``ValueError`` for ``gamma <= 0``.
    """
    if isinstance(gamma, bool) or not isinstance(gamma, numbers.Real):
        raise TypeError(
            "gamma must be a positive Python number, got "
            f"{type(gamma).__name__}; e.g. gamma=1.0."
        )
    if not gamma > 0:
        raise ValueError(
            f"gamma must be strictly positive, got {gamma!r}; use e.g. "
            "gamma=1.0, or dtw() for gamma -> 0."
        )
    x, y, x_lengths, y_lengths = _checked(x, y, x_lengths, y_lengths)
    return soft_dtw_custom_gradient(
        x, y, x_lengths, y_lengths, tf.constant(gamma, x.dtype)
    )


def dtw_path(x, y):
    """Cost matrix, accumulated cost and optimal warping path of two single
    sequences (NumPy).

    For figures and for checking by eye; :func:`dtw` is the fast batched
    version. ``x`` is ``[T, features]``, ``y`` is ``[U, features]``.

    Returns
    -------
    cost : ndarray ``[T, U]``, squared Euclidean frame costs
    accumulated : ndarray ``[T, U]``
    path : list of ``(i, j)`` from ``(0, 0)`` to ``(T - 1, U - 1)``
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if x.ndim != 2 or y.ndim != 2:
        raise ValueError(
            "dtw_path takes two sequences [time, features], got shapes "
            f"{x.shape} and {y.shape}."
        )
    if x.shape[1] != y.shape[1]:
        raise ValueError(
            f"x has {x.shape[1]} features per frame but y has {y.shape[1]}."
        )
    cost = ((x[:, None, :] - y[None, :, :]) ** 2).sum(axis=-1)
    steps_x, steps_y = cost.shape
    accumulated = np.full((steps_x + 1, steps_y + 1), np.inf)
    accumulated[0, 0] = 0.0
    for i in range(steps_x):
        for j in range(steps_y):
            accumulated[i + 1, j + 1] = cost[i, j] + min(
                accumulated[i, j + 1], accumulated[i + 1, j], accumulated[i, j]
            )
    path, i, j = [(steps_x - 1, steps_y - 1)], steps_x, steps_y
    while (i, j) != (1, 1):
        moves = [(i - 1, j - 1), (i - 1, j), (i, j - 1)]
        i, j = min(moves, key=lambda m: accumulated[m])
        path.append((i - 1, j - 1))
    return cost, accumulated[1:, 1:], path[::-1]
