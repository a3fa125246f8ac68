import keras
import numpy as np
import pytest
import tensorflow as tf

import helpers  # noqa: F401
from helpers import data, heads
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


# The models and training runs of the two CNN chapters.


@pytest.fixture(scope="module")
def split():
    return heads.digits_split()


def _tiny(split, n_fit=40, n_val=20):
    return heads.DigitsSplit(
        split.x_fit[:n_fit],
        split.y_fit[:n_fit],
        split.x_val[:n_val],
        split.y_val[:n_val],
        split.x_test[:10],
        split.y_test[:10],
    )


def test_digits_split_parts(split):
    assert (len(split.y_fit), len(split.y_val), len(split.y_test)) == (
        1077,
        270,
        450,
    )
    assert split.x_fit.shape[1:] == (8, 8, 1) and split.y_fit.dtype == "int32"
    # the test part is data.digits' own, untouched
    reference = data.digits(test_size=0.25, seed=0)
    np.testing.assert_array_equal(split.x_test, reference.x_test)
    # fit and validation together are the training part, split stratified
    assert len(split.y_fit) + len(split.y_val) == len(reference.y_train)
    np.testing.assert_array_equal(
        np.bincount(split.y_fit) + np.bincount(split.y_val),
        np.bincount(reference.y_train),
    )
    share = np.bincount(split.y_val) / np.bincount(reference.y_train)
    assert np.all(np.abs(share - 270 / 1347) < 0.01)
    again = heads.digits_split()
    np.testing.assert_array_equal(again.x_val, split.x_val)
    other = heads.digits_split(seed=1)
    assert not np.array_equal(other.y_val, split.y_val)


@pytest.mark.parametrize(
    "kwargs, fix",
    [
        ({"val_size": 5}, "val_size must be an int from 10"),
        ({"val_size": 0.2}, "val_size must be an int from 10"),
        ({"val_size": 1340}, "to 1337"),
        ({"seed": -1}, "non-negative int"),
    ],
)
def test_digits_split_bad_input(kwargs, fix):
    with pytest.raises(ValueError, match=fix):
        heads.digits_split(**kwargs)


def test_only_keeps_the_classes_in_every_part(split):
    seen = split.only(range(7))
    for part in ("fit", "val", "test"):
        labels = getattr(seen, f"y_{part}")
        assert set(np.unique(labels)) == set(range(7))
        assert len(getattr(seen, f"x_{part}")) == len(labels)
        assert len(labels) == np.sum(getattr(split, f"y_{part}") < 7)
    with pytest.raises(ValueError, match="range"):
        split.only([11])
    with pytest.raises(ValueError, match="non-empty"):
        split.only([])


def test_flat():
    assert heads.flat(np.zeros((3, 8, 8, 1))).shape == (3, 64)


def test_build_cnn_named_layers_and_seeded_weights():
    cnn = heads.build_cnn(10)
    names = [layer.name for layer in cnn.layers]
    assert names == [
        "image",
        "conv1",
        "bn1",
        "conv2",
        "pool",
        "conv3",
        "features",
        "logits",
    ]
    assert cnn.count_params() == 24010 and cnn.output_shape == (None, 10)
    same = heads.build_cnn(10, name="again")
    other = heads.build_cnn(10, name="other", seed=1)
    for a, b in zip(cnn.get_weights(), same.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(cnn.get_weights()[0], other.get_weights()[0])
    assert heads.build_cnn(7).output_shape == (None, 7)
    with pytest.raises(ValueError, match="at least 2"):
        heads.build_cnn(1)


def test_frozen_backbone_shares_the_cnn_weights():
    cnn = heads.build_cnn(10)
    backbone = heads.frozen_backbone(cnn)
    assert backbone.output_shape == (None, 64)
    assert backbone.trainable_weights == []
    assert not cnn.get_layer("bn1").trainable  # the same layer object
    conv1 = cnn.get_layer("conv1")
    assert backbone.get_layer("conv1") is conv1


def test_heads_train_only_their_own_weights(split):
    backbone = heads.frozen_backbone(heads.build_cnn(10))
    classifier = heads.classifier_head(backbone)
    embedder = heads.embedding_head(backbone, dim=8)
    assert [w.path for w in classifier.trainable_weights] == [
        "classifier/kernel",
        "classifier/bias",
    ]
    assert len(embedder.trainable_weights) == 4
    assert classifier(split.x_val[:3]).shape == (3, 10)
    z = embedder(split.x_val[:3]).numpy()
    assert z.shape == (3, 8)
    np.testing.assert_allclose(np.linalg.norm(z, axis=1), 1.0, rtol=1e-5)
    # the same seed, the same initial weights
    again = heads.embedding_head(backbone, dim=8, name="again")
    for a, b in zip(
        embedder.trainable_weights, again.trainable_weights, strict=True
    ):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_train_cnn_keeps_the_best_epoch(split):
    tiny = _tiny(split, n_fit=64, n_val=32)
    cnn = heads.build_cnn(10)
    history = heads.train_cnn(cnn, tiny, max_epochs=3, patience=1)
    assert set(history) == {"loss", "val_loss", "best_epoch"}
    assert len(history["val_loss"]) == len(history["loss"]) <= 3
    best = history["best_epoch"]
    assert history["val_loss"][best - 1] == min(history["val_loss"])
    kept = float(heads.cross_entropy(tiny.y_val, cnn(tiny.x_val)))
    assert np.isclose(kept, min(history["val_loss"]), rtol=1e-4)
    with pytest.raises(ValueError, match="patience"):
        heads.train_cnn(cnn, tiny, patience=0)


def test_train_keeping_best_restores_the_best_epoch(split):
    tiny = _tiny(split)
    backbone = heads.frozen_backbone(heads.build_cnn(10))
    classifier = heads.classifier_head(backbone)
    calls = []

    def val_loss(labels, logits):
        calls.append(1)
        return heads.cross_entropy(labels, logits)

    history = heads.train_keeping_best(
        classifier,
        heads.cross_entropy,
        1e-2,
        tiny,
        epochs=3,
        batch_size=16,
        val_loss_fn=val_loss,
    )
    assert len(calls) == 4 and len(history["val_loss"]) == 4
    assert len(history["loss"]) == 3
    best = history["best_epoch"]
    assert history["val_loss"][best] == min(history["val_loss"])
    kept = float(heads.cross_entropy(tiny.y_val, classifier(tiny.x_val)))
    assert np.isclose(kept, min(history["val_loss"]), rtol=1e-5)


def test_train_keeping_best_can_keep_epoch_zero(split):
    # Validation measures the opposite of what training improves, on the
    # images it trains on: the weights as they came are the best, and they
    # are put back.
    tiny = _tiny(split)
    tiny = heads.DigitsSplit(
        tiny.x_fit,
        tiny.y_fit,
        tiny.x_fit,
        tiny.y_fit,
        tiny.x_test,
        tiny.y_test,
    )
    classifier = heads.classifier_head(
        heads.frozen_backbone(heads.build_cnn(10))
    )
    start = [w.copy() for w in classifier.get_weights()]
    history = heads.train_keeping_best(
        classifier,
        heads.cross_entropy,
        1e-2,
        tiny,
        epochs=2,
        batch_size=16,
        val_loss_fn=lambda y, logits: -heads.cross_entropy(y, logits),
    )
    assert history["best_epoch"] == 0
    for a, b in zip(start, classifier.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="epochs"):
        heads.train_keeping_best(
            classifier, heads.cross_entropy, 1e-2, tiny, 0, 16
        )


def test_the_heads_settings(monkeypatch):
    # The two chapters train the heads with these settings; record them
    # instead of training.
    calls = []

    def record(model, loss_fn, learning_rate, split, **kwargs):
        calls.append((loss_fn, learning_rate, kwargs))
        return {}

    monkeypatch.setattr(heads, "train_keeping_best", record)
    heads.train_classifier_head("classifier", "split")
    heads.train_embedding_head("embedder", "split")
    heads.train_embedding_head("embedder", "split", "loss", "val")
    assert calls == [
        (heads.cross_entropy, 1e-2, {"epochs": 30, "batch_size": 64}),
        (
            batch_hard_triplet_loss,
            1e-3,
            {"epochs": 40, "batch_size": 128, "val_loss_fn": None},
        ),
        (
            "loss",
            1e-3,
            {"epochs": 40, "batch_size": 128, "val_loss_fn": "val"},
        ),
    ]


def test_classified_and_centroid_right():
    # images whose pixels all equal their label: easy to get right
    labels = np.array([0, 1, 2, 0, 1, 2], "int32")
    images = np.broadcast_to(labels[:, None, None, None], (6, 8, 8, 1)).astype(
        "float32"
    )
    split = heads.DigitsSplit(images, labels, images, labels, images, labels)

    def one_hot_logits(x):
        return keras.ops.one_hot(x[:, 0, 0, 0].astype("int32"), 3)

    right = heads.classified_right(one_hot_logits, split, "val")
    assert right.dtype == bool and right.all()
    wrong = heads.classified_right(lambda x: -one_hot_logits(x), split, "test")
    assert not wrong.any()
    assert heads.centroid_right(heads.flat, split, "test").all()
    with pytest.raises(ValueError, match="'fit', 'val' or 'test'"):
        heads.centroid_right(heads.flat, split, "validation")


def test_paired_counts():
    from scipy.stats import binomtest

    a = np.array([True, True, True, False, True, False])
    b = np.array([True, False, False, False, True, True])
    only_a, only_b, p_value = heads.paired_counts(a, b)
    assert (only_a, only_b) == (2, 1)
    assert p_value == pytest.approx(binomtest(2, 3).pvalue)
    assert heads.paired_counts(a, a) == (0, 0, 1.0)
    with pytest.raises(ValueError, match="boolean"):
        heads.paired_counts([1, 0], [0, 1])
    with pytest.raises(ValueError, match="same length"):
        heads.paired_counts(a, b[:3])
