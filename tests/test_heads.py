import numpy as np
import pytest
import tensorflow as tf

import helpers  # noqa: F401
from helpers.heads import (
    batch_hard_triplet_loss,
    confusion_matrix,
    nearest_centroid_accuracy,
    nearest_centroid_right,
)


def _reference_triplet(labels, embeddings, margin):
    # Plain loops: the definition, written as directly as possible.
    n = len(labels)
    d = np.sqrt(
        ((embeddings[:, None, :] - embeddings[None, :, :]) ** 2).sum(-1)
    )
    terms = []
    for a in range(n):
        pos = [d[a, p] for p in range(n) if p != a and labels[p] == labels[a]]
        neg = [d[a, q] for q in range(n) if labels[q] != labels[a]]
        if pos and neg:
            terms.append(max(0.0, max(pos) - min(neg) + margin))
    return np.mean(terms) if terms else 0.0


@pytest.mark.parametrize("seed", range(5))
def test_matches_the_definition(seed):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 4, size=12)
    labels[-1] = (
        7  # an anchor with no positive in the batch: left out of the mean
    )
    embeddings = rng.normal(size=(12, 5))
    ours = batch_hard_triplet_loss(
        tf.constant(labels), tf.constant(embeddings), margin=0.5
    )
    assert ours.dtype == tf.float64
    np.testing.assert_allclose(
        float(ours), _reference_triplet(labels, embeddings, 0.5), rtol=1e-10
    )


def test_zero_when_classes_are_far_apart_and_for_single_class_batches():
    embeddings = np.array([[0, 0], [0, 0.1], [10, 10], [10, 10.1]], "float32")
    assert float(batch_hard_triplet_loss([0, 0, 1, 1], embeddings)) == 0.0
    # no negatives at all
    assert float(batch_hard_triplet_loss([3, 3, 3, 3], embeddings)) == 0.0


def test_gradient_finite_for_duplicate_embeddings_and_matches_differences():
    # rows 0 and 1 equal
    embeddings = tf.constant(
        [[1.0, 0.0], [1.0, 0.0], [0.9, 0.1], [0.0, 1.0]], tf.float64
    )
    labels = tf.constant([0, 0, 1, 1])
    with tf.GradientTape() as tape:
        tape.watch(embeddings)
        loss = batch_hard_triplet_loss(labels, embeddings, margin=1.0)
    assert np.all(np.isfinite(tape.gradient(loss, embeddings).numpy()))
    # Away from ties and tiny distances the loss is smooth, and finite
    # differences must agree.
    generic = tf.constant(np.random.default_rng(1).normal(size=(6, 3)))
    six_labels = tf.constant([0, 0, 1, 1, 2, 2])
    analytic, numeric = tf.test.compute_gradient(
        lambda e: batch_hard_triplet_loss(six_labels, e, margin=1.0), [generic]
    )
    assert np.abs(analytic[0]).max() > 0.1  # the check is not vacuous
    np.testing.assert_allclose(analytic[0], numeric[0], atol=1e-6)


def test_works_in_a_traced_function_with_unknown_batch():
    traced = tf.function(
        batch_hard_triplet_loss,
        input_signature=[
            tf.TensorSpec([None], tf.int32),
            tf.TensorSpec([None, 3], tf.float32),
        ],
    )
    rng = np.random.default_rng(0)
    labels, embeddings = (
        rng.integers(0, 3, 9).astype("int32"),
        rng.normal(size=(9, 3)).astype("float32"),
    )
    np.testing.assert_allclose(
        float(traced(labels, embeddings)),
        _reference_triplet(labels, embeddings, 0.2),
        rtol=1e-5,
    )


@pytest.mark.parametrize(
    "labels, embeddings, margin, fix",
    [
        ([0, 1], np.zeros((2, 3)), 0.0, "positive number"),
        ([0, 1], np.zeros((2, 3)), -1, "positive number"),
        ([0, 1], np.zeros((2, 3, 1)), 0.2, "flatten or pool"),
        ([[0, 1]], np.zeros((2, 3)), 0.2, "tf.argmax"),
        ([0, 1, 2], np.zeros((2, 3)), 0.2, "one label per embedding"),
    ],
)
def test_triplet_bad_input(labels, embeddings, margin, fix):
    with pytest.raises(ValueError, match=fix):
        batch_hard_triplet_loss(labels, embeddings, margin=margin)


def test_nearest_centroid_accuracy():
    train = np.array([[0, 0], [0, 1], [10, 10], [10, 11]], float)
    train_labels = np.array([3, 3, 5, 5])
    test = np.array([[1, 0], [9, 9], [6, 6]], float)
    assert (
        nearest_centroid_accuracy(
            train, train_labels, test, np.array([3, 5, 5])
        )
        == 1.0
    )
    assert nearest_centroid_accuracy(
        train, train_labels, test, np.array([3, 5, 3])
    ) == pytest.approx(2 / 3)
    right = nearest_centroid_right(
        train, train_labels, test, np.array([3, 5, 3])
    )
    assert right.dtype == bool and right.tolist() == [True, True, False]


@pytest.mark.parametrize(
    "args, fix",
    [
        (
            (np.zeros(4), [0, 0, 1, 1], np.zeros((1, 2)), [0]),
            "shape \\[n, dim\\]",
        ),
        (
            (np.zeros((4, 2)), [0, 0, 1], np.zeros((1, 2)), [0]),
            "to match the embeddings",
        ),
        (
            (np.zeros((4, 2)), [0.0, 0, 1, 1], np.zeros((1, 2)), [0]),
            "integer class ids",
        ),
        (
            (np.zeros((4, 2)), [0, 0, 1, 1], np.zeros((1, 3)), [0]),
            "same model",
        ),
        (
            (np.zeros((4, 2)), [0, 0, 1, 1], np.zeros((1, 2)), [2]),
            "no centroid",
        ),
    ],
)
def test_nearest_centroid_bad_input(args, fix):
    with pytest.raises(ValueError, match=fix):
        nearest_centroid_accuracy(*args)


def test_confusion_matrix():
    counts = confusion_matrix([0, 0, 1, 2, 2], [0, 1, 1, 2, 0], num_classes=3)
    np.testing.assert_array_equal(counts, [[1, 1, 0], [0, 1, 0], [1, 0, 1]])
    assert counts.sum() == 5
    with pytest.raises(ValueError, match="0..2"):
        confusion_matrix([0, 3], [0, 0], num_classes=3)
    with pytest.raises(ValueError, match="same length"):
        confusion_matrix([0, 1], [0], num_classes=3)
    with pytest.raises(ValueError, match="positive int"):
        confusion_matrix([0], [0], num_classes=0)
