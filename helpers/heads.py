"""Losses and measures for heads on a network's features (worked example 3, CNN
feature heads).

- :func:`batch_hard_triplet_loss`: a metric-learning loss written with
  TensorFlow ops, for an embedding head.
- :func:`nearest_centroid_accuracy`: how well embeddings classify, with no
  classifier trained on them.
- :func:`confusion_matrix`: counts of true against predicted classes.

Worked example 3 prints the source of the first two in full before using them.
"""

import numbers

import numpy as np
import tensorflow as tf

from helpers.checks import is_int_at_least


def batch_hard_triplet_loss(labels, embeddings, margin=0.2):
    """Batch-hard triplet loss (Hermans, Beyer & Leibe, 2017).

    For every example of the batch (the *anchor*), take its farthest
    same-class example (hardest positive) and its nearest other-class example
    (hardest negative), and charge ``max(0, d_pos - d_neg + margin)``, with
    ``d`` the Euclidean distance. The loss is the mean over anchors that have
    at least one positive and one negative in the batch; it is 0 for a batch
    with no such anchor.

    Parameters
    ----------
    labels : int tensor, shape ``[batch]``
    embeddings : float tensor, shape ``[batch, dim]``
    margin : float
        Positive: how much nearer than the hardest negative the hardest
        positive must be before an anchor stops contributing.

    Returns
    -------
    scalar tensor, the dtype of ``embeddings``.

    Raises
    ------
    ValueError
        Wrong ranks, mismatched batch sizes (when known), or ``margin <= 0``.
    """
    if (
        isinstance(margin, bool)
        or not isinstance(margin, numbers.Real)
        or margin <= 0
    ):
        raise ValueError(
            f"margin must be a positive number, got {margin!r}; e.g. "
            "margin=0.2."
        )
    embeddings = tf.convert_to_tensor(embeddings)
    labels = tf.convert_to_tensor(labels)
    if embeddings.shape.rank != 2:
        raise ValueError(
            "embeddings must have shape [batch, dim], got rank "
            f"{embeddings.shape.rank} (shape {embeddings.shape}); flatten or "
            "pool the features first."
        )
    if labels.shape.rank != 1:
        raise ValueError(
            "labels must have shape [batch] (integer class ids), got shape "
            f"{labels.shape}; for one-hot labels pass tf.argmax(labels, "
            "axis=-1)."
        )
    if (
        labels.shape[0] is not None
        and embeddings.shape[0] is not None
        and labels.shape[0] != embeddings.shape[0]
    ):
        raise ValueError(
            f"labels has {labels.shape[0]} entries but embeddings has "
            f"{embeddings.shape[0]} rows; pass one label per embedding."
        )
    squared_norms = tf.reduce_sum(tf.square(embeddings), axis=1)
    squared = (
        squared_norms[:, None]
        - 2.0 * tf.matmul(embeddings, embeddings, transpose_b=True)
        + squared_norms[None, :]
    )
    squared = tf.maximum(squared, 0.0)
    # sqrt has an infinite derivative at 0: take it only where the distance is
    # positive.
    positive = squared > 0.0
    distances = tf.where(
        positive,
        tf.sqrt(tf.where(positive, squared, tf.ones_like(squared))),
        tf.zeros_like(squared),
    )

    same = tf.equal(labels[:, None], labels[None, :])
    not_self = tf.logical_not(tf.eye(tf.shape(labels)[0], dtype=tf.bool))
    positives = tf.logical_and(same, not_self)
    negatives = tf.logical_not(same)

    hardest_positive = tf.reduce_max(
        tf.where(positives, distances, tf.zeros_like(distances)), axis=1
    )
    largest = tf.reduce_max(distances)
    hardest_negative = tf.reduce_min(
        tf.where(
            negatives, distances, tf.fill(tf.shape(distances), largest + 1.0)
        ),
        axis=1,
    )

    valid = tf.logical_and(
        tf.reduce_any(positives, axis=1), tf.reduce_any(negatives, axis=1)
    )
    per_anchor = tf.nn.relu(hardest_positive - hardest_negative + margin)
    per_anchor = tf.where(valid, per_anchor, tf.zeros_like(per_anchor))
    count = tf.reduce_sum(tf.cast(valid, embeddings.dtype))
    return tf.math.divide_no_nan(tf.reduce_sum(per_anchor), count)


def _as_2d_and_labels(name, embeddings, labels):
    embeddings = np.asarray(embeddings)
    labels = np.asarray(labels)
    if embeddings.ndim != 2:
        raise ValueError(
            f"{name} embeddings must have shape [n, dim], got shape "
            f"{embeddings.shape}."
        )
    if labels.shape != (len(embeddings),):
        raise ValueError(
            f"{name} labels must have shape [n] = ({len(embeddings)},) to "
            f"match the embeddings, got shape {labels.shape}."
        )
    if not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(
            f"{name} labels must be integer class ids, got dtype "
            f"{labels.dtype}."
        )
    return embeddings, labels


def nearest_centroid_accuracy(
    train_embeddings, train_labels, test_embeddings, test_labels
):
    """Accuracy of classifying each test embedding by its nearest class
    centroid.

    The centroid of a class is the mean of its training embeddings. No
    classifier is trained: a high accuracy means the embedding space itself
    separates the classes.

    Parameters
    ----------
    train_embeddings, test_embeddings : array-like, shape ``[n, dim]``
    train_labels, test_labels : int array-like, shape ``[n]``
        Every test class must occur in the training set.

    Returns
    -------
    float
        The mean of :func:`nearest_centroid_right`.
    """
    return float(
        np.mean(
            nearest_centroid_right(
                train_embeddings, train_labels, test_embeddings, test_labels
            )
        )
    )


def nearest_centroid_right(
    train_embeddings, train_labels, test_embeddings, test_labels
):
    """Per test embedding, whether its nearest class centroid is its class.

    The same rule and arguments as :func:`nearest_centroid_accuracy`, image
    by image: what a paired comparison of two embeddings needs (worked
    example 3 counts the test images right for only one of the two).

    Returns
    -------
    numpy.ndarray of bool, shape ``[n_test]``
    """
    train_embeddings, train_labels = _as_2d_and_labels(
        "train", train_embeddings, train_labels
    )
    test_embeddings, test_labels = _as_2d_and_labels(
        "test", test_embeddings, test_labels
    )
    if train_embeddings.shape[1] != test_embeddings.shape[1]:
        raise ValueError(
            f"train embeddings have {train_embeddings.shape[1]} dimensions, "
            f"test embeddings {test_embeddings.shape[1]}; embed both with the "
            "same model."
        )
    classes = np.unique(train_labels)
    missing = np.setdiff1d(np.unique(test_labels), classes)
    if missing.size:
        raise ValueError(
            f"test classes {missing.tolist()} never occur in the training "
            "labels, so they have no centroid."
        )
    centroids = np.stack(
        [train_embeddings[train_labels == c].mean(axis=0) for c in classes]
    )
    distances = (
        (test_embeddings[:, None, :] - centroids[None, :, :]) ** 2
    ).sum(axis=-1)
    predicted = classes[np.argmin(distances, axis=1)]
    return predicted == test_labels


def confusion_matrix(true_labels, predicted_labels, num_classes):
    """Counts ``[num_classes, num_classes]``: row = true class, column =
    predicted class."""
    if not is_int_at_least(num_classes, 1):
        raise ValueError(
            f"num_classes must be a positive int, got {num_classes!r}."
        )
    true_labels = np.asarray(true_labels)
    predicted_labels = np.asarray(predicted_labels)
    if true_labels.shape != predicted_labels.shape or true_labels.ndim != 1:
        raise ValueError(
            "true and predicted labels must be 1-D and of the same length, "
            f"got shapes {true_labels.shape} and {predicted_labels.shape}."
        )
    for name, labels in (
        ("true", true_labels),
        ("predicted", predicted_labels),
    ):
        if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
            raise ValueError(
                f"{name} labels must lie in 0..{num_classes - 1}; got "
                f"{labels.min()}..{labels.max()}."
            )
    counts = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(counts, (true_labels, predicted_labels), 1)
    return counts
