"""Frame features learned for DTW: the pieces of ``22_lstm_soft_dtw``.

A Keras LSTM turns each utterance into a sequence of learned frames; soft-DTW
(:func:`helpers.dtw_fast.soft_dtw`) compares those sequences inside the
training step, and 1-nearest-neighbour DTW (:func:`helpers.dtw_fast.dtw`)
judges them. This module holds what the chapter builds on:

- :func:`lengths_from_mask`: each row's valid frames, read from a Keras mask,
  checked to pad at the end (and, optionally, against lengths given with the
  data).
- :func:`pairwise_divergence`: the soft-DTW divergence of every pair of a
  batch, a ``[batch, batch]`` matrix, from one call of ``soft_dtw``.
- :func:`neighbour_loss`: a soft nearest-neighbour loss on such a matrix:
  how unlikely it is that an utterance's soft nearest neighbour in the batch
  is of its own class.
- :func:`class_balanced_batches`: batches holding the same number of
  utterances of every class, so that every utterance has a partner.
- :func:`dtw_matrix` and :func:`nearest_neighbour_right`: 1-NN by DTW, with
  every block of pairs of one shape, so that one compiled program serves
  every model of a given feature width.

To use these outside the book, copy three files: this one,
``helpers/dtw_fast.py`` and ``helpers/checks.py`` (they need only NumPy and
TensorFlow), and change the ``helpers.`` imports to your package's name.

Lengths, feature sizes, dtypes and ``gamma`` are checked where
:mod:`helpers.dtw_fast` checks them (its messages call the sequences ``x``
and their lengths ``x_lengths``); the functions here check only what it
cannot see, such as a batch of lengths that does not match the batch of
features before the pairs are formed.
"""

import numpy as np
import tensorflow as tf

from helpers.checks import is_int_at_least
from helpers.dtw_fast import dtw, soft_dtw

__all__ = [
    "lengths_from_mask",
    "pairwise_divergence",
    "neighbour_loss",
    "class_balanced_batches",
    "dtw_matrix",
    "nearest_neighbour_right",
]


def lengths_from_mask(mask, expected=None):
    """Valid frames of each row of a Keras mask, int32 ``[batch]``.

    DTW over lengths assumes that each row's valid frames come first. So
    the mask is checked to be of that form (``True`` then ``False`` in every
    row, as ``Masking`` gives for sequences padded at the end), and, when
    ``expected`` is given, its lengths to equal those. Eagerly a failed
    check raises ``ValueError``; inside a ``tf.function`` it is a graph
    assertion, which raises ``InvalidArgumentError`` when the graph runs. A
    row without any valid frame gives length 0, which
    :func:`helpers.dtw_fast.soft_dtw` and :func:`helpers.dtw_fast.dtw` refuse.

    ``Masking`` takes every all-zero frame for padding, a real one too (a
    sensor at rest): at the start or in the middle of a sequence that fails
    the first check, at its end the second. The messages name both causes,
    and the fix for real zero frames: build the mask from the lengths,
    ``tf.sequence_mask(lengths, time)``, and pass it to the LSTM (``mask=``)
    instead of using ``Masking``.

    Parameters
    ----------
    mask : bool tensor ``[batch, time]``
        E.g. ``keras.layers.Masking().compute_mask(frames)``.
    expected : int tensor ``[batch]``, optional
        Lengths that came with the data.

    Returns
    -------
    int32 tensor ``[batch]``

    Raises
    ------
    TypeError
        A mask that is not boolean.
    ValueError
        A mask of another rank, a mask that does not pad at the end, or
        lengths other than ``expected`` (eagerly).
    """
    mask = tf.convert_to_tensor(mask)
    if mask.dtype != tf.bool:
        raise TypeError(
            f"mask must be boolean, got dtype {mask.dtype.name}; take it from "
            "the layer that makes it, e.g. keras.layers.Masking()"
            ".compute_mask(frames)."
        )
    if mask.shape.rank != 2:
        raise ValueError(
            f"mask must have shape [batch, time], got shape {mask.shape}."
        )
    lengths = tf.reduce_sum(tf.cast(mask, tf.int32), axis=1)
    at_end = tf.reduce_all(
        tf.equal(mask, tf.sequence_mask(lengths, tf.shape(mask)[1]))
    )
    padding_message = (
        "the mask has a padded step before a valid one; DTW's lengths count "
        "the valid frames at the start, so pad at the end "
        "(keras.utils.pad_sequences(..., padding='post')); if you did, a "
        "real frame of zeros was taken for padding: build the mask from the "
        "lengths, tf.sequence_mask(lengths, time), and pass it to the LSTM "
        "(mask=) instead of Masking"
    )
    if expected is not None:
        expected = tf.cast(expected, tf.int32)
    if tf.executing_eagerly():
        if not bool(at_end):
            form = tf.sequence_mask(lengths, tf.shape(mask)[1])
            rows = np.flatnonzero(np.any(mask.numpy() != form.numpy(), 1))
            raise ValueError(f"row {rows[0]}: {padding_message}.")
        if expected is not None and not np.array_equal(lengths, expected):
            raise ValueError(
                f"the mask's lengths {lengths.numpy().tolist()[:8]} differ "
                f"from the expected {expected.numpy().tolist()[:8]} (first "
                "8 shown); a real frame of zeros at the end is padding to "
                "Masking: build the mask from the lengths, "
                "tf.sequence_mask(lengths, time), and pass it to the LSTM "
                "(mask=) instead."
            )
        return lengths
    checks = [tf.debugging.assert_equal(at_end, True, padding_message)]
    if expected is not None:
        checks.append(
            tf.debugging.assert_equal(
                lengths,
                expected,
                "the mask's lengths differ from the data's lengths",
            )
        )
    with tf.control_dependencies(checks):
        return tf.identity(lengths)


def _same_batch(features, lengths):
    """Raise (eagerly) or assert (in a graph) that there is one length per
    sequence."""
    batch, count = features.shape[0], lengths.shape[0]
    message = (
        "features and lengths must hold the same number of sequences; pass "
        "the lengths of this batch, e.g. lengths_from_mask(mask)"
    )
    if batch is not None and count is not None:
        if batch != count:
            raise ValueError(
                f"features hold {batch} sequences but lengths has {count} "
                f"entries: {message}."
            )
        return lengths
    check = tf.debugging.assert_equal(
        tf.shape(features)[0], tf.shape(lengths)[0], message
    )
    with tf.control_dependencies([check]):
        return tf.identity(lengths)


def pairwise_divergence(features, lengths, gamma=1.0):
    """Soft-DTW divergence of every pair of a batch: ``[batch, batch]``.

    ``D[i, j] = S[i, j] - (S[i, i] + S[j, j]) / 2`` with ``S`` the soft-DTW
    of :func:`helpers.dtw_fast.soft_dtw` (Blondel, Mensch & Vert, 2021). It
    is 0 on the diagonal, where soft-DTW itself is not. Only the pairs
    ``i <= j`` are computed, ``batch * (batch + 1) / 2`` of them in one call
    of ``soft_dtw``, so the matrix is exactly symmetric. Gradients flow to
    ``features``, through the backward recursion that ``soft_dtw``
    registers.

    Cost: every pair fills a ``time x time`` grid, forward and backward, and
    the backward pass keeps the forward grids, so time and memory grow as
    ``batch**2 * time**2``: crop, downsample or shrink the batch for long
    sequences.

    Parameters
    ----------
    features : float tensor ``[batch, time, features]``
        Padded sequences; frames beyond a length are ignored, whatever they
        hold.
    lengths : int tensor ``[batch]``
        Valid frames of each sequence, in ``[1, time]``.
    gamma : float
        soft-DTW's smoothing, strictly positive.

    Returns
    -------
    tensor ``[batch, batch]``, the dtype of ``features``

    Raises
    ------
    ValueError
        ``lengths`` of another batch size than ``features``; and what
        :func:`helpers.dtw_fast.soft_dtw` raises (lengths outside
        ``[1, time]``, ``gamma <= 0``, wrong ranks or dtypes).
    """
    features = tf.convert_to_tensor(features)
    lengths = _same_batch(features, tf.convert_to_tensor(lengths))
    batch = tf.shape(features)[0]
    rows, columns = tf.meshgrid(
        tf.range(batch), tf.range(batch), indexing="ij"
    )
    upper = rows <= columns
    first = tf.boolean_mask(rows, upper)
    second = tf.boolean_mask(columns, upper)
    values = soft_dtw(
        tf.gather(features, first),
        tf.gather(features, second),
        gamma,
        tf.gather(lengths, first),
        tf.gather(lengths, second),
    )
    pairs = tf.stack([first, second], axis=1)
    upper_values = tf.where(first < second, values, tf.zeros_like(values))
    shape = tf.stack([batch, batch])
    matrix = tf.scatter_nd(pairs, values, shape) + tf.scatter_nd(
        pairs[:, ::-1], upper_values, shape
    )
    own = tf.linalg.diag_part(matrix)
    return matrix - 0.5 * (own[:, None] + own[None, :])


def neighbour_loss(distances, labels):
    """Soft nearest-neighbour loss of a ``[batch, batch]`` distance matrix.

    Each row ``i`` picks a neighbour ``j != i`` with probability
    ``p[i, j] = exp(-d[i, j]) / sum_k exp(-d[i, k])`` (Goldberger et al.,
    2004); the row's loss is ``-log`` of the probability that the neighbour
    has its label. The loss is the mean over rows that have a partner of
    their label in the batch, 0 if none has one. Rows without a partner are
    kept away from ``reduce_logsumexp`` of ``-inf`` alone, whose gradient is
    NaN (``20_soft_dtw``).

    Parameters
    ----------
    distances : float tensor ``[batch, batch]``
        E.g. from :func:`pairwise_divergence`; only its off-diagonal entries
        are read.
    labels : tensor ``[batch]``
        Class of each row, compared for equality.

    Returns
    -------
    scalar tensor, the dtype of ``distances``

    Raises
    ------
    ValueError
        ``distances`` not square, ``labels`` not 1-D or of another size
        (when the sizes are known).
    """
    distances = tf.convert_to_tensor(distances)
    labels = tf.convert_to_tensor(labels)
    shape = distances.shape
    if shape.rank != 2 or (
        shape[0] is not None and shape[1] is not None and shape[0] != shape[1]
    ):
        raise ValueError(
            "distances must be a square [batch, batch] matrix, got shape "
            f"{shape}; e.g. pairwise_divergence(features, lengths)."
        )
    if labels.shape.rank != 1:
        raise ValueError(
            f"labels must have shape [batch], got shape {labels.shape}."
        )
    if (
        labels.shape[0] is not None
        and shape[0] is not None
        and labels.shape[0] != shape[0]
    ):
        raise ValueError(
            f"labels has {labels.shape[0]} entries but distances has "
            f"{shape[0]} rows; pass one label per row."
        )
    others = tf.logical_not(tf.eye(tf.shape(distances)[0], dtype=tf.bool))
    same = tf.logical_and(tf.equal(labels[:, None], labels[None, :]), others)
    valid = tf.reduce_any(same, axis=1)
    logits = -distances
    lowest = tf.fill(tf.shape(logits), tf.constant(-np.inf, logits.dtype))
    # rows without a partner read every logit (finite), then count for 0
    keep = valid[:, None]
    every = tf.reduce_logsumexp(
        tf.where(tf.logical_or(others, ~keep), logits, lowest), axis=1
    )
    partners = tf.reduce_logsumexp(
        tf.where(tf.logical_or(same, ~keep), logits, lowest), axis=1
    )
    per_row = tf.where(valid, every - partners, tf.zeros_like(every))
    count = tf.reduce_sum(tf.cast(valid, per_row.dtype))
    return tf.math.divide_no_nan(tf.reduce_sum(per_row), count)


def class_balanced_batches(labels, per_class, epochs=1, seed=0):
    """Index batches with ``per_class`` examples of every class, epoch after
    epoch.

    Each epoch shuffles every class's examples afresh and deals them out
    ``per_class`` at a time; an epoch has as many batches as the smallest
    class fills. The examples left over are left out of that epoch, drawn
    at random; the next epoch draws again from all of them, so an example
    can be left out of several epochs in a row. Within a batch the
    examples are ordered by class.

    Parameters
    ----------
    labels : int array-like ``[n]``
    per_class : int
        At least 2, so that every example has a partner of its class.
    epochs : int
    seed : int
        Seed of the shuffles.

    Returns
    -------
    np.ndarray ``[steps, classes * per_class]`` of indices into ``labels``

    Raises
    ------
    ValueError
        ``per_class`` below 2 or above the size of the smallest class,
        ``epochs`` below 1, labels not 1-D.
    """
    labels = np.asarray(labels)
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(
            "labels must be a 1-D array of integer class ids, got shape "
            f"{labels.shape} and dtype {labels.dtype}."
        )
    classes, counts = np.unique(labels, return_counts=True)
    if not is_int_at_least(per_class, 2) or per_class > counts.min():
        raise ValueError(
            f"per_class must be an int from 2 (every example needs a partner "
            f"of its class) to {counts.min()} (the smallest class), got "
            f"{per_class!r}."
        )
    if not is_int_at_least(epochs, 1):
        raise ValueError(f"epochs must be a positive int, got {epochs!r}.")
    rng = np.random.default_rng(seed)
    steps = counts.min() // per_class
    batches = []
    for _ in range(epochs):
        dealt = [
            rng.permutation(np.flatnonzero(labels == c))[: steps * per_class]
            for c in classes
        ]
        dealt = np.stack([d.reshape(steps, per_class) for d in dealt], 1)
        batches.append(dealt.reshape(steps, -1))
    return np.concatenate(batches)


def dtw_matrix(x, y, x_lengths, y_lengths, pairs_per_call=1024):
    """DTW cost of every ``x[m]`` against every ``y[n]``, ``[len(x), len(y)]``,
    in blocks of one shape.

    The same costs as :func:`helpers.dtw_fast.dtw_all_pairs`, computed
    differently: every pair is kept at the full padded sizes and the pairs
    go through :func:`helpers.dtw_fast.dtw` ``pairs_per_call`` at a time (the
    last block padded with repeats). So every call has one shape, and the
    program ``dtw`` compiles for it (one per static shape) serves every
    model of the same feature width; ``dtw_all_pairs`` cuts the pairs by
    length into up to 16 shapes, less arithmetic but 16 programs to compile
    for each new feature width or set size.

    Parameters
    ----------
    x, y : float array ``[sequences, time, features]``
    x_lengths, y_lengths : int array ``[sequences]``
    pairs_per_call : int

    Returns
    -------
    np.ndarray ``[len(x), len(y)]``

    Raises
    ------
    ValueError
        Not one length per sequence; and what :func:`helpers.dtw_fast.dtw`
        raises.
    """
    x, y = np.asarray(x), np.asarray(y)
    x_lengths, y_lengths = np.asarray(x_lengths), np.asarray(y_lengths)
    if x.ndim != 3 or y.ndim != 3:
        raise ValueError(
            "x and y must be [sequences, time, features], got shapes "
            f"{x.shape} and {y.shape}."
        )
    if x_lengths.shape != (len(x),) or y_lengths.shape != (len(y),):
        raise ValueError(
            f"need one length per sequence: {len(x)} and {len(y)} sequences, "
            f"lengths of shapes {x_lengths.shape} and {y_lengths.shape}."
        )
    if not is_int_at_least(pairs_per_call, 1):
        raise ValueError(
            f"pairs_per_call must be a positive int, got {pairs_per_call!r}."
        )
    pairs = len(x) * len(y)
    costs = np.empty(pairs, dtype=np.result_type(x, y))
    for start in range(0, pairs, pairs_per_call):
        index = np.minimum(np.arange(start, start + pairs_per_call), pairs - 1)
        first, second = np.divmod(index, len(y))
        values = dtw(
            x[first], y[second], x_lengths[first], y_lengths[second]
        ).numpy()
        kept = min(pairs_per_call, pairs - start)
        costs[start : start + kept] = values[:kept]
    return costs.reshape(len(x), len(y))


def nearest_neighbour_right(costs, reference_labels, query_labels):
    """Whether each query's nearest reference (lowest cost) has its label.

    Parameters
    ----------
    costs : array ``[queries, references]``, e.g. from :func:`dtw_matrix`
    reference_labels : array ``[references]``
    query_labels : array ``[queries]``

    Returns
    -------
    bool np.ndarray ``[queries]``, ready for
    :func:`helpers.heads.paired_counts`
    """
    costs = np.asarray(costs)
    reference_labels = np.asarray(reference_labels)
    query_labels = np.asarray(query_labels)
    if costs.shape != (len(query_labels), len(reference_labels)):
        raise ValueError(
            f"costs must be [queries, references] = [{len(query_labels)}, "
            f"{len(reference_labels)}], got shape {costs.shape}; compute it "
            "as dtw_matrix(queries, references, ...)."
        )
    return reference_labels[np.argmin(costs, axis=1)] == query_labels
