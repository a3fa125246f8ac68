"""Models, losses and measures for new heads on a CNN's features.

Used by the two CNN chapters, ``16_cnn_feature_heads`` (which prints each
function's source where it first uses it) and ``17_cnn_fine_tuning`` (which
calls the same functions with the same seeds to start from the same models).

- :func:`digits_split`: the digits in fit, validation and test parts.
- :func:`build_cnn`, :func:`train_cnn`, :func:`frozen_backbone`: the CNN,
  trained with ``fit``, and its part up to the pooled features.
- :func:`classifier_head`, :func:`embedding_head`,
  :func:`train_keeping_best`: heads on the frozen backbone, trained with the
  compiled step, the epoch chosen on the validation part.
- :func:`cross_entropy` and :func:`batch_hard_triplet_loss`: the heads'
  losses, written with TensorFlow ops.
- :func:`nearest_centroid_accuracy`, :func:`nearest_centroid_right`,
  :func:`paired_counts`: how well embeddings classify, with no classifier
  trained on them, and two models compared image by image.
- :func:`confusion_matrix`: counts of true against predicted classes.
"""

import numbers
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from helpers import data
from helpers.checks import is_int_at_least
from helpers.reproducibility import seed_everything
from helpers.training import compiled_train_step, run_epochs


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
    by image: what a paired comparison of two embeddings needs
    (:func:`paired_counts`).

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


def paired_counts(right_a, right_b):
    """Examples right only for a, only for b, and McNemar's exact p-value.

    Two models tested on the same examples are told apart only by the
    examples where they disagree. If both were equally good, each
    disagreement would be a fair coin toss; the p-value is the two-sided
    binomial test of that coin (McNemar's exact test).

    Parameters
    ----------
    right_a, right_b : bool array-like, shape ``[n]``
        Example by example, whether each model is right, e.g. from
        :func:`nearest_centroid_right`.

    Returns
    -------
    tuple
        ``(only_a, only_b, p_value)``; ``(0, 0, 1.0)`` when they never
        disagree.
    """
    right_a, right_b = np.asarray(right_a), np.asarray(right_b)
    if right_a.dtype != bool or right_b.dtype != bool:
        raise ValueError(
            "right_a and right_b must be boolean arrays (True where a model "
            f"is right), got dtypes {right_a.dtype} and {right_b.dtype}; "
            "compare predictions with labels, e.g. predicted == labels."
        )
    if right_a.ndim != 1 or right_a.shape != right_b.shape:
        raise ValueError(
            "right_a and right_b must be 1-D and of the same length (the "
            f"same examples), got shapes {right_a.shape} and "
            f"{right_b.shape}."
        )
    from scipy.stats import binomtest

    only_a = int(np.sum(right_a & ~right_b))
    only_b = int(np.sum(~right_a & right_b))
    if only_a + only_b == 0:
        return 0, 0, 1.0  # no disagreement: nothing tells them apart
    return only_a, only_b, float(binomtest(only_a, only_a + only_b).pvalue)


# The models and training runs of the two CNN chapters.

IMAGE_SPEC = tf.TensorSpec((None, 8, 8, 1), tf.float32, name="image")
LABEL_SPEC = tf.TensorSpec((None,), tf.int32, name="label")


@dataclass(frozen=True)
class DigitsSplit:
    """The digits in three parts: fit (to train on), validation, test."""

    x_fit: np.ndarray
    y_fit: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray

    def only(self, classes):
        """The same three parts, keeping only the images of ``classes``."""
        classes = np.asarray(list(classes))
        if classes.size == 0 or not np.isin(classes, self.y_fit).all():
            raise ValueError(
                "classes must be a non-empty list of labels that occur in "
                f"the fit part, got {classes.tolist()}; e.g. range(7)."
            )
        parts = {}
        for part in ("fit", "val", "test"):
            x, y = getattr(self, f"x_{part}"), getattr(self, f"y_{part}")
            keep = np.isin(y, classes)
            parts[f"x_{part}"], parts[f"y_{part}"] = x[keep], y[keep]
        return DigitsSplit(**parts)


def digits_split(val_size=270, seed=0):
    """:func:`helpers.data.digits`, with a validation part carved from its
    training part.

    The test part is that of ``data.digits(test_size=0.25, seed=0)``,
    untouched. Its training part is split again, stratified by class, with
    ``seed``: models are fitted on the *fit* part, every setting is chosen on
    the *validation* part, and the test part is used once.

    Parameters
    ----------
    val_size : int
        Number of training images held out for validation: at least 10 (one
        per class), at most the number of training images less 10.
    seed : int
        Seed of the validation split.

    Returns
    -------
    DigitsSplit
        ``x``: ``float32`` images ``(n, 8, 8, 1)``; ``y``: ``int32`` labels.
    """
    from sklearn.model_selection import train_test_split

    split = data.digits(test_size=0.25, seed=0)
    largest = len(split.y_train) - 10
    if not is_int_at_least(val_size, 10) or val_size > largest:
        raise ValueError(
            f"val_size must be an int from 10 to {largest}, got "
            f"{val_size!r}; e.g. val_size=270."
        )
    if not is_int_at_least(seed, 0):
        raise ValueError(
            f"seed must be a non-negative int, got {seed!r}; e.g. seed=0."
        )
    x_fit, x_val, y_fit, y_val = train_test_split(
        split.x_train,
        split.y_train,
        test_size=int(val_size),
        random_state=int(seed),
        stratify=split.y_train,
    )
    return DigitsSplit(x_fit, y_fit, x_val, y_val, split.x_test, split.y_test)


def flat(images):
    """Images ``(n, 8, 8, 1)`` as rows of their 64 pixels, ``(n, 64)``."""
    images = np.asarray(images)
    return images.reshape(len(images), -1)


def build_cnn(num_classes, name="cnn", seed=0):
    """A functional CNN on 8x8 images with named layers.

    ``conv1``, ``bn1``, ``conv2``, ``pool``, ``conv3``, then ``features``
    (global average pooling: 64 numbers per image) and ``logits``.
    ``helpers.seed_everything(seed)`` is called first, so one seed always
    builds the same initial weights.

    Returns
    -------
    keras.Model
        Input ``image`` ``(None, 8, 8, 1)``, output logits
        ``(None, num_classes)``.
    """
    if not is_int_at_least(num_classes, 2):
        raise ValueError(
            f"num_classes must be an int of at least 2, got {num_classes!r}."
        )
    seed_everything(seed)
    image = keras.Input(shape=(8, 8, 1), name="image")
    x = keras.layers.Conv2D(
        16, 3, padding="same", activation="relu", name="conv1"
    )(image)
    x = keras.layers.BatchNormalization(name="bn1")(x)
    x = keras.layers.Conv2D(
        32, 3, padding="same", activation="relu", name="conv2"
    )(x)
    x = keras.layers.MaxPooling2D(2, name="pool")(x)
    x = keras.layers.Conv2D(
        64, 3, padding="same", activation="relu", name="conv3"
    )(x)
    features = keras.layers.GlobalAveragePooling2D(name="features")(x)
    logits = keras.layers.Dense(num_classes, name="logits")(features)
    return keras.Model(image, logits, name=name)


def train_cnn(cnn, split, max_epochs=40, patience=5, seed=0):
    """Train ``cnn`` with ``fit``; keep the epoch of lowest validation loss.

    Adam (learning rate 1e-3) on softmax cross-entropy, batches of 32 of
    ``split.x_fit`` from a ``tf.data.Dataset`` that reshuffles them every
    epoch with ``seed``. After each epoch Keras computes the loss on
    ``split.x_val``; training stops ``patience`` epochs after the best one,
    and the weights of the best epoch are put back
    (``EarlyStopping(restore_best_weights=True)``).

    Returns
    -------
    dict
        ``"loss"`` and ``"val_loss"``, one float per epoch run, and
        ``"best_epoch"``, counted from 1.
    """
    for name, value in (("max_epochs", max_epochs), ("patience", patience)):
        if not is_int_at_least(value, 1):
            raise ValueError(f"{name} must be a positive int, got {value!r}.")
    fit_batches = (
        tf.data.Dataset.from_tensor_slices((split.x_fit, split.y_fit))
        .shuffle(len(split.x_fit), seed=seed)
        .batch(32)
    )
    val_batches = tf.data.Dataset.from_tensor_slices(
        (split.x_val, split.y_val)
    ).batch(32)
    cnn.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    stop = keras.callbacks.EarlyStopping(
        "val_loss", patience=patience, restore_best_weights=True
    )
    history = cnn.fit(
        fit_batches,
        validation_data=val_batches,
        epochs=max_epochs,
        shuffle=False,  # the dataset shuffles itself; True would only warn
        callbacks=[stop],
        verbose=0,
    ).history
    return {
        "loss": history["loss"],
        "val_loss": history["val_loss"],
        "best_epoch": stop.best_epoch + 1,
    }


def frozen_backbone(cnn, name="backbone"):
    """The part of ``cnn`` up to its ``features`` layer, frozen.

    A model from ``cnn.input`` to the ``features`` layer's output: it shares
    ``cnn``'s layers and weights, nothing is copied. ``trainable = False``
    takes its weights out of ``trainable_weights``, and puts its
    BatchNormalization layer in inference mode whatever ``training`` says.
    """
    backbone = keras.Model(
        cnn.input, cnn.get_layer("features").output, name=name
    )
    backbone.trainable = False
    return backbone


def cross_entropy(labels, logits):
    """Mean softmax cross-entropy of integer ``labels``, in TF ops."""
    return tf.reduce_mean(
        tf.nn.sparse_softmax_cross_entropy_with_logits(
            labels=labels, logits=logits
        )
    )


def classifier_head(backbone, num_classes=10, seed=1):
    """Head 1: one ``Dense`` layer, named ``classifier``, on ``backbone``.

    ``helpers.seed_everything(seed)`` is called first. The backbone is
    called with ``training=False``.
    """
    seed_everything(seed)
    inputs = keras.Input(shape=(8, 8, 1), name="image")
    features = backbone(inputs, training=False)
    logits = keras.layers.Dense(num_classes, name="classifier")(features)
    return keras.Model(inputs, logits, name="classifier_head")


def embedding_head(backbone, dim=16, seed=2, name="embedding_head"):
    """Head 2: an embedding on the unit sphere, on ``backbone``.

    ``Dense(64, relu)`` named ``embed_hidden``, ``Dense(dim)`` named
    ``embed_out``, then ``UnitNormalization`` named ``embedding``.
    ``helpers.seed_everything(seed)`` is called first, so two heads built
    with one seed start from the same weights.
    """
    seed_everything(seed)
    inputs = keras.Input(shape=(8, 8, 1), name="image")
    z = backbone(inputs, training=False)
    z = keras.layers.Dense(64, activation="relu", name="embed_hidden")(z)
    z = keras.layers.Dense(dim, name="embed_out")(z)
    z = keras.layers.UnitNormalization(name="embedding")(z)
    return keras.Model(inputs, z, name=name)


def train_keeping_best(
    model,
    loss_fn,
    learning_rate,
    split,
    epochs,
    batch_size,
    seed=0,
    val_loss_fn=None,
):
    """Train with the compiled step; keep the epoch of lowest validation loss.

    Each epoch feeds ``split.x_fit`` in a new order (a NumPy generator seeded
    with ``seed``), ``batch_size`` images at a time, to
    :func:`helpers.training.compiled_train_step` with Adam. Before the first
    epoch and after each, ``loss_fn(split.y_val, model(split.x_val))`` is
    computed on the whole validation part, in inference mode (with
    ``val_loss_fn`` instead, if given: a loss that changes state as it runs,
    such as one that moves class centres, must not run on the validation
    part). At the end the weights of the epoch with the lowest validation
    loss are put back; epoch 0, the weights as they came, counts too.

    Returns
    -------
    dict
        ``"loss"``: the mean training loss of each epoch; ``"val_loss"``:
        ``epochs + 1`` floats, from epoch 0; ``"best_epoch"``, from 0 to
        ``epochs``.
    """
    for name, value in (("epochs", epochs), ("batch_size", batch_size)):
        if not is_int_at_least(value, 1):
            raise ValueError(f"{name} must be a positive int, got {value!r}.")
    step = compiled_train_step(
        model,
        loss_fn,
        keras.optimizers.Adam(learning_rate),
        IMAGE_SPEC,
        LABEL_SPEC,
    )
    rng = np.random.default_rng(seed)
    val_loss_fn = loss_fn if val_loss_fn is None else val_loss_fn

    def validation_loss():
        return float(val_loss_fn(split.y_val, model(split.x_val)))

    history = {"loss": [], "val_loss": [validation_loss()], "best_epoch": 0}
    best_weights = model.get_weights()
    for epoch in range(1, epochs + 1):
        order = rng.permutation(len(split.x_fit))
        x, y = split.x_fit[order], split.y_fit[order]
        history["loss"] += run_epochs(step, x, y, 1, batch_size)["loss"]
        history["val_loss"].append(validation_loss())
        if history["val_loss"][-1] < min(history["val_loss"][:-1]):
            best_weights = model.get_weights()
            history["best_epoch"] = epoch
    model.set_weights(best_weights)
    return history


def train_classifier_head(classifier, split):
    """Head 1's training: cross-entropy, Adam at 1e-2, batches of 64, at
    most 30 epochs, the epoch of lowest validation loss kept
    (:func:`train_keeping_best`)."""
    return train_keeping_best(
        classifier, cross_entropy, 1e-2, split, epochs=30, batch_size=64
    )


def train_embedding_head(
    embedder, split, loss_fn=batch_hard_triplet_loss, val_loss_fn=None
):
    """Head 2's training: ``loss_fn`` (the batch-hard triplet loss with its
    margin of 0.2 unless given), Adam at 1e-3, batches of 128, at most 40
    epochs, the epoch of lowest validation loss kept
    (:func:`train_keeping_best`).

    A batch of 128 holds about 13 images of each digit, so every anchor has
    positives and negatives to mine.
    """
    return train_keeping_best(
        embedder,
        loss_fn,
        1e-3,
        split,
        epochs=40,
        batch_size=128,
        val_loss_fn=val_loss_fn,
    )


def _check_part(part):
    if part not in ("fit", "val", "test"):
        raise ValueError(f"part must be 'fit', 'val' or 'test', got {part!r}.")


def classified_right(logits_fn, split, part):
    """Per image of ``split``'s ``part``: is the largest logit its label?

    ``logits_fn`` maps images to logits (or any scores): a Keras model, or a
    function such as a scikit-learn model's ``decision_function`` on
    :func:`flat` pixels.

    Returns
    -------
    numpy.ndarray of bool, one per image of the part.
    """
    _check_part(part)
    x, y = getattr(split, f"x_{part}"), getattr(split, f"y_{part}")
    return np.argmax(np.asarray(logits_fn(x)), axis=-1) == y


def centroid_right(space, split, part):
    """Per image of ``split``'s ``part``: is its nearest class centroid, in
    ``space``, its class?

    ``space`` maps images to vectors (an embedding model, the backbone, or
    :func:`flat` for the pixels). The centroids are the means of the *fit*
    part's images in that space (:func:`nearest_centroid_right`).

    Returns
    -------
    numpy.ndarray of bool, one per image of the part.
    """
    _check_part(part)
    x, y = getattr(split, f"x_{part}"), getattr(split, f"y_{part}")
    return nearest_centroid_right(
        np.asarray(space(split.x_fit)), split.y_fit, np.asarray(space(x)), y
    )
