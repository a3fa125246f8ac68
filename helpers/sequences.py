"""Dynamic time warping inside TensorFlow graphs (chapter 7, variable-length sequences).

- :func:`dtw`: the minimal accumulated cost over warping paths, batched.
- :func:`soft_dtw`: its smoothed, differentiable relative (Cuturi & Blondel,
  2017), usable as a training loss.
- :func:`dtw_all_pairs`: every sequence of one set against every sequence
  of another, as one batch (nearest-neighbour search).
- :func:`dtw_path`: the optimal alignment path of one pair, for figures.

Both batched functions compare ``x[b]`` with ``y[b]`` for every ``b``. Frame
cost is the squared Euclidean distance, computed for a whole batch with one
matrix product; the recursion then runs as a wavefront over the anti-diagonals
of the cost matrix in a ``tf.while_loop``, each step vectorised over the batch
and the diagonal. The work is compiled with XLA the first time a shape and
dtype are seen, so a plain eager call is already fast; the functions also work
inside a ``tf.function`` and under ``jit_compile=True``.

Precision note: ``|x|^2 + |y|^2 - 2 x.y`` is exact in exact arithmetic but
not in ``float32``: two identical frames may cost about ``1e-6`` times their
squared norm instead of exactly 0. Use ``float64`` where that matters.
"""
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
                f"{name} has dtype {tensor.dtype.name}; dtw and soft_dtw take float32 or float64. "
                f"Cast first, e.g. tf.cast({name}, tf.float32)."
            )
        raise TypeError(f"{name} must be a float32 or float64 tensor, got dtype {tensor.dtype.name}.")
    if tensor.shape.rank != 3:
        raise ValueError(
            f"{name} must have shape [batch, time, features], got shape {tensor.shape}; "
            "for one sequence use x[None], for one feature use x[..., None]."
        )
    return tensor


def _as_lengths(name, lengths, batch, steps, size_name):
    """Lengths as int32 [batch], checked to lie in [1, steps]; all `steps` when None."""
    if lengths is None:
        return tf.fill([batch], steps)
    lengths = tf.convert_to_tensor(lengths)
    if not lengths.dtype.is_integer:
        raise TypeError(
            f"{name} must hold integers (the number of valid frames of each sequence), got dtype "
            f"{lengths.dtype.name}."
        )
    if lengths.shape.rank != 1:
        raise ValueError(f"{name} must have shape [batch], got shape {lengths.shape}.")
    lengths = tf.cast(lengths, tf.int32)
    if tf.executing_eagerly():
        values = lengths.numpy()
        if values.shape[0] != int(batch):
            raise ValueError(f"{name} has {values.shape[0]} entries but the batch has {int(batch)} sequences.")
        if values.size and (values.min() < 1 or values.max() > int(steps)):
            raise ValueError(
                f"{name} must lie in [1, {size_name}] = [1, {int(steps)}], got values from {values.min()} "
                f"to {values.max()}; a length counts the valid frames at the start of each padded sequence."
            )
        return lengths
    checks = [
        tf.debugging.assert_equal(tf.shape(lengths)[0], batch, message=f"{name} must have one entry per sequence"),
        tf.debugging.assert_greater_equal(lengths, 1, message=f"{name} must be at least 1"),
        tf.debugging.assert_less_equal(lengths, steps, message=f"{name} must be at most {size_name}"),
    ]
    with tf.control_dependencies(checks):
        return tf.identity(lengths)


def _checked(x, y, x_lengths, y_lengths):
    x = _as_sequences("x", x)
    y = _as_sequences("y", y)
    if x.dtype != y.dtype:
        raise TypeError(f"x is {x.dtype.name} but y is {y.dtype.name}; cast one so both match.")
    if x.shape[-1] is not None and y.shape[-1] is not None and x.shape[-1] != y.shape[-1]:
        raise ValueError(
            f"x has {x.shape[-1]} features per frame but y has {y.shape[-1]}; frames can only be compared "
            "when both have the same number of features."
        )
    if x.shape[0] is not None and y.shape[0] is not None and x.shape[0] != y.shape[0]:
        raise ValueError(
            f"x holds {x.shape[0]} sequences but y holds {y.shape[0]}; dtw compares x[b] with y[b], so "
            "repeat or tile them to equal batch sizes (see chapter 7 for all pairs)."
        )
    batch = tf.shape(x)[0]
    x_lengths = _as_lengths("x_lengths", x_lengths, batch, tf.shape(x)[1], "T")
    y_lengths = _as_lengths("y_lengths", y_lengths, batch, tf.shape(y)[1], "U")
    return x, y, x_lengths, y_lengths


# ----------------------------------------------------------------------------
# The compiled core
# ----------------------------------------------------------------------------

#: Anti-diagonals computed per pass of the while loop. On a CPU the loop's own
#: overhead per pass costs more than one diagonal's arithmetic, so doing a few
#: per pass is faster; the cost matrix is padded to a multiple of this.
_UNROLL = 4


def _padded_costs(x, y, x_lengths, y_lengths):
    """Frame costs ``[batch, T', U']`` arranged so the answer is always at the bottom-right cell.

    Inside the valid block (``i < x_len``, ``j < y_len``) the cost is the
    squared distance of the frames. Beyond it, one chain of zero-cost cells
    runs from ``(x_len, y_len)`` to the bottom-right corner, and every other
    cell costs infinity. So exactly one continuation leaves the valid end cell
    ``(x_len - 1, y_len - 1)``, at no cost: the accumulated cost at the corner
    equals the one at the valid end, for DTW and soft-DTW alike. Both
    sequences get at least one padding frame so that the chain always exists,
    and ``T' + U' - 2`` is made a multiple of ``_UNROLL``.
    """
    dtype = x.dtype
    steps_x, steps_y = tf.shape(x)[1], tf.shape(y)[1]
    extra = 1 + tf.math.floormod(-(steps_x + steps_y), _UNROLL)  # T' + U' - 2 = T + U + extra - 1 + 1 - 2
    x = tf.pad(x, [[0, 0], [0, extra], [0, 0]])
    y = tf.pad(y, [[0, 0], [0, 1], [0, 0]])
    steps_x, steps_y = steps_x + extra, steps_y + 1
    x_valid = tf.sequence_mask(x_lengths, steps_x)  # [B, T']
    y_valid = tf.sequence_mask(y_lengths, steps_y)  # [B, U']
    # Zero the padding first: whatever it held (even NaN or inf) cannot reach the matrix product.
    x = tf.where(x_valid[:, :, None], x, tf.zeros_like(x))
    y = tf.where(y_valid[:, :, None], y, tf.zeros_like(y))
    squared_x = tf.reduce_sum(tf.square(x), axis=-1)[:, :, None]
    squared_y = tf.reduce_sum(tf.square(y), axis=-1)[:, None, :]
    distance = tf.maximum(squared_x + squared_y - 2.0 * tf.matmul(x, y, transpose_b=True), 0.0)

    inside = x_valid[:, :, None] & y_valid[:, None, :]
    di = tf.range(steps_x)[None, :, None] - x_lengths[:, None, None]  # steps past the valid end, per axis
    dj = tf.range(steps_y)[None, None, :] - y_lengths[:, None, None]
    last_i = (steps_x - 1 - x_lengths)[:, None, None]
    last_j = (steps_y - 1 - y_lengths)[:, None, None]
    in_corner = (di >= 0) & (dj >= 0)
    chain = in_corner & ((di == dj) | ((dj == last_j) & (di > last_j)) | ((di == last_i) & (dj > last_i)))
    infinity = tf.constant(np.inf, dtype)
    cost = tf.where(inside, distance, tf.where(chain, tf.zeros_like(distance), infinity))
    return cost, inside, x, y


def _skew(cost):
    """``[B, T, U]`` -> ``[T + U - 1, T, B]`` with entry ``[k, i, b] = cost[b, i, k - i]`` (inf outside)."""
    batch, steps_x, steps_y = tf.shape(cost)[0], tf.shape(cost)[1], tf.shape(cost)[2]
    infinity = tf.constant(np.inf, cost.dtype)
    # Pad every row with T infinities, flatten, drop the tail and fold again with one column less:
    # row i then starts i places further right, which turns columns j into diagonals i + j.
    padded = tf.pad(cost, [[0, 0], [0, 0], [0, steps_x]], constant_values=infinity)
    flat = tf.reshape(padded, [batch, steps_x * (steps_y + steps_x)])[:, : steps_x * (steps_y + steps_x - 1)]
    sheared = tf.reshape(flat, [batch, steps_x, steps_y + steps_x - 1])
    return tf.transpose(sheared, [2, 1, 0])


def _shift_down(diagonal, fill):
    """``out[i] = diagonal[i - 1]`` and ``out[0] = fill``, along axis 0 of ``[T, B]``."""
    return tf.pad(diagonal[:-1], [[1, 0], [0, 0]], constant_values=fill)


def _wavefront(skewed, combine):
    """Accumulated cost ``R[i, j] = cost[i, j] + combine(R[i-1, j], R[i, j-1], R[i-1, j-1])``.

    ``skewed`` is ``[K, T, B]`` from :func:`_skew`, ``K - 1`` a multiple of
    ``_UNROLL``. Returns ``R`` at the bottom-right cell, ``[B]``.
    """
    infinity = tf.constant(np.inf, skewed.dtype)
    diagonals = tf.shape(skewed)[0]
    first = skewed[0]  # only cell (0, 0) lies on diagonal 0; R there is its cost
    before_first = tf.fill(tf.shape(first), infinity)

    def body(k, previous, before):
        for offset in range(_UNROLL):
            current = skewed[k + offset] + combine(
                _shift_down(previous, infinity), previous, _shift_down(before, infinity))
            previous, before = current, previous
        return k + _UNROLL, previous, before

    _, last, _ = tf.while_loop(
        lambda k, *_: k < diagonals, body, (tf.constant(1), first, before_first),
        maximum_iterations=(diagonals - 1) // _UNROLL,
    )
    return last[-1]


def _hard_min(a, b, c):
    return tf.minimum(tf.minimum(a, b), c)


def _soft_min(gamma):
    """The soft minimum ``-gamma * log(sum(exp(-v / gamma)))`` of three tensors, elementwise.

    Infinite entries (cells outside the path region) weigh nothing; where all
    three are infinite the result is infinite. Written so that no NaN appears
    in the values or in the gradients.
    """
    def combine(a, b, c):
        stacked = tf.stack([a, b, c], axis=0)
        finite = tf.math.is_finite(stacked)
        any_finite = tf.reduce_any(finite, axis=0)
        lowest = tf.reduce_min(tf.where(finite, stacked, tf.fill(tf.shape(stacked), stacked.dtype.max)), axis=0)
        lowest = tf.where(any_finite, lowest, tf.zeros_like(lowest))
        # Mask *before* exp: a masked-out exp(+large) would be inf, and 0 * inf = NaN in the gradient.
        excess = tf.where(finite, stacked - lowest, tf.zeros_like(stacked))
        weights = tf.where(finite, tf.exp(-excess / gamma), tf.zeros_like(stacked))
        total = tf.reduce_sum(weights, axis=0)
        value = lowest - gamma * tf.math.log(tf.where(any_finite, total, tf.ones_like(total)))
        return tf.where(any_finite, value, tf.fill(tf.shape(value), tf.constant(np.inf, value.dtype)))
    return combine


@tf.function(jit_compile=True, reduce_retracing=True)
def _dtw_compiled(x, y, x_lengths, y_lengths):
    cost, _, _, _ = _padded_costs(x, y, x_lengths, y_lengths)
    return _wavefront(_skew(cost), _hard_min)


def _soft_dtw_value(x, y, x_lengths, y_lengths, gamma):
    cost, _, _, _ = _padded_costs(x, y, x_lengths, y_lengths)
    return _wavefront(_skew(cost), _soft_min(gamma))


@tf.function(jit_compile=True, reduce_retracing=True)
def _soft_dtw_compiled(x, y, x_lengths, y_lengths, gamma):
    return _soft_dtw_value(x, y, x_lengths, y_lengths, gamma)


@tf.function(jit_compile=True, reduce_retracing=True)
def _soft_dtw_and_gradients(x, y, x_lengths, y_lengths, gamma):
    # Forward and backward in one compiled function: the loop's saved intermediate values never
    # leave XLA. Pairs are independent, so the gradient of the sum holds every pair's own gradient.
    with tf.GradientTape() as tape:
        tape.watch([x, y])
        value = _soft_dtw_value(x, y, x_lengths, y_lengths, gamma)
        total = tf.reduce_sum(value)
    grad_x, grad_y = tape.gradient(total, [x, y])
    return value, grad_x, grad_y


def _soft_dtw_differentiable(x, y, x_lengths, y_lengths, gamma):
    @tf.custom_gradient
    def run(x, y):
        # stop_gradient: the tape must not differentiate the compiled loop itself (its saved values
        # cannot leave XLA); `gradient` below supplies the derivative instead.
        value = _soft_dtw_compiled(tf.stop_gradient(x), tf.stop_gradient(y), x_lengths, y_lengths, gamma)

        def gradient(upstream):
            _, grad_x, grad_y = _soft_dtw_and_gradients(x, y, x_lengths, y_lengths, gamma)
            scale = tf.cast(upstream, x.dtype)[:, None, None]
            return scale * grad_x, scale * grad_y

        return value, gradient

    return run(x, y)


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
    return _dtw_compiled(x, y, x_lengths, y_lengths)


def dtw_all_pairs(x, y, x_lengths=None, y_lengths=None):
    """DTW cost of every ``x[m]`` against every ``y[n]``: a ``[len(x), len(y)]`` matrix.

    The ``len(x) * len(y)`` pairs are formed by repeating ``x`` and tiling
    ``y``, and computed with one call of :func:`dtw`, so memory grows with
    the product of the two set sizes. Arguments as for :func:`dtw`, except
    that ``x`` and ``y`` may hold different numbers of sequences.

    Returns
    -------
    np.ndarray ``[len(x), len(y)]``
    """
    x, y = np.asarray(x), np.asarray(y)
    if x.ndim != 3 or y.ndim != 3:
        raise ValueError(f"x and y must be [sequences, time, features], got shapes {x.shape} and {y.shape}.")
    x_lengths = np.full(len(x), x.shape[1]) if x_lengths is None else np.asarray(x_lengths)
    y_lengths = np.full(len(y), y.shape[1]) if y_lengths is None else np.asarray(y_lengths)
    costs = dtw(np.repeat(x, len(y), axis=0), np.tile(y, (len(x), 1, 1)),
                np.repeat(x_lengths, len(y)), np.tile(y_lengths, len(x)))
    return costs.numpy().reshape(len(x), len(y))


def soft_dtw(x, y, gamma=1.0, x_lengths=None, y_lengths=None):
    """Soft-DTW (Cuturi & Blondel, 2017) of ``x[b]`` against ``y[b]``, differentiable.

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
        raise TypeError(f"gamma must be a positive Python number, got {type(gamma).__name__}; e.g. gamma=1.0.")
    if not gamma > 0:
        raise ValueError(f"gamma must be strictly positive, got {gamma!r}; use e.g. gamma=1.0, or dtw() for gamma -> 0.")
    x, y, x_lengths, y_lengths = _checked(x, y, x_lengths, y_lengths)
    return _soft_dtw_differentiable(x, y, x_lengths, y_lengths, tf.constant(gamma, x.dtype))


def dtw_path(x, y):
    """Cost matrix, accumulated cost and optimal warping path of two single sequences (NumPy).

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
        raise ValueError(f"dtw_path takes two sequences [time, features], got shapes {x.shape} and {y.shape}.")
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"x has {x.shape[1]} features per frame but y has {y.shape[1]}.")
    cost = ((x[:, None, :] - y[None, :, :]) ** 2).sum(axis=-1)
    steps_x, steps_y = cost.shape
    accumulated = np.full((steps_x + 1, steps_y + 1), np.inf)
    accumulated[0, 0] = 0.0
    for i in range(steps_x):
        for j in range(steps_y):
            accumulated[i + 1, j + 1] = cost[i, j] + min(accumulated[i, j + 1], accumulated[i + 1, j], accumulated[i, j])
    path, i, j = [(steps_x - 1, steps_y - 1)], steps_x, steps_y
    while (i, j) != (1, 1):
        moves = [(i - 1, j - 1), (i - 1, j), (i, j - 1)]
        i, j = min(moves, key=lambda m: accumulated[m])
        path.append((i - 1, j - 1))
    return cost, accumulated[1:, 1:], path[::-1]
