"""Data for the worked examples: bundled with packages, split and scaled once.

Nothing here downloads anything. Every chapter that uses a dataset takes it
from here, so the same split and the same scaling are used everywhere, and a
change is made once. Each entry names the chapters (notebooks) that use it.

- :func:`diabetes`: scikit-learn's diabetes regression data (442 patients,
  10 features), standardised with the training statistics
  (``14_linear_regression``; ``helpers.timing`` times its model).
- :func:`digits`: scikit-learn's 8x8 handwritten digits (1,797 images, 10
  classes), scaled to ``[0, 1]``, with a stratified split
  (``06_keras_pieces``, ``07_frozen_graphs_checkpoints``,
  ``08_modules_and_hub``, ``23_export_serve``; the CNN chapters take it
  through :func:`helpers.heads.digits_split`, which adds a validation part).
- :func:`japanese_vowels`: sktime's bundled JapaneseVowels speaker data
  (9 speakers, 12 features per frame, 7 to 29 frames), padded, with lengths
  (``18_sequences``, ``19_dtw``, ``20_soft_dtw``, ``28_fast_dtw``).
- :func:`wave` and :func:`dense_initial_weights`: a small synthetic
  regression problem and fixed starting weights, which two separate Python
  processes can rebuild identically (``15_legacy_tf1`` compares TensorFlow 1
  and 2 that way; ``25_distribute``).
"""

import itertools
import numbers
from dataclasses import dataclass

import numpy as np

from helpers.checks import is_int_at_least


@dataclass(frozen=True)
class Split:
    """A train/test split. Arrays are NumPy, ready to feed to a model."""

    x_train: np.ndarray
    x_test: np.ndarray
    y_train: np.ndarray
    y_test: np.ndarray


def _check_seed(seed):
    if not is_int_at_least(seed, 0):
        raise ValueError(
            f"seed must be a non-negative int, got {seed!r}; e.g. seed=0."
        )
    return int(seed)


def _check_test_size(test_size):
    if (
        isinstance(test_size, bool)
        or not isinstance(test_size, numbers.Real)
        or not 0 < test_size < 1
    ):
        raise ValueError(
            "test_size must be a fraction strictly between 0 and 1, got "
            f"{test_size!r}; e.g. 0.25."
        )
    return float(test_size)


def diabetes(test_size=0.25, seed=0):
    """scikit-learn's diabetes data, split, standardised on the training part.

    The raw values are loaded (``scaled=False``: scikit-learn's own scaling
    uses statistics of all 442 patients), then features and target are
    standardised with the mean and standard deviation of the *training* part
    only, so nothing about the test part leaks into training. The target has
    shape ``(n, 1)``, the shape of a one-output Keras model's prediction.

    Parameters
    ----------
    test_size : float
        Fraction held out, strictly between 0 and 1.
    seed : int
        Seed of the shuffle before the split.

    Returns
    -------
    Split
        ``float32`` arrays: ``x`` of shape ``(n, 10)``, ``y`` of shape ``(n,
        1)``.
    """
    from sklearn.datasets import load_diabetes
    from sklearn.model_selection import train_test_split

    test_size, seed = _check_test_size(test_size), _check_seed(seed)
    x, y = load_diabetes(return_X_y=True, scaled=False)
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=test_size, random_state=seed
    )
    x_mean, x_std = x_train.mean(axis=0), x_train.std(axis=0)
    y_mean, y_std = y_train.mean(), y_train.std()
    return Split(
        x_train=((x_train - x_mean) / x_std).astype("float32"),
        x_test=((x_test - x_mean) / x_std).astype("float32"),
        y_train=((y_train - y_mean) / y_std).astype("float32")[:, None],
        y_test=((y_test - y_mean) / y_std).astype("float32")[:, None],
    )


def digits(test_size=0.25, seed=0):
    """scikit-learn's 8x8 digits as images in ``[0, 1]``, split stratified.

    Parameters
    ----------
    test_size : float
        Fraction held out, strictly between 0 and 1. The split keeps the
        share of each class the same in both parts.
    seed : int
        Seed of the shuffle before the split.

    Returns
    -------
    Split
        ``x``: ``float32`` images of shape ``(n, 8, 8, 1)`` (channels last,
        what ``keras.layers.Conv2D`` expects); ``y``: ``int32`` labels 0-9 of
        shape ``(n,)``.
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    test_size, seed = _check_test_size(test_size), _check_seed(seed)
    bunch = load_digits()
    # pixel values are 0..16
    images = (bunch.images / 16.0).astype("float32")[..., None]
    labels = bunch.target.astype("int32")
    x_train, x_test, y_train, y_test = train_test_split(
        images, labels, test_size=test_size, random_state=seed, stratify=labels
    )
    return Split(
        x_train=x_train, x_test=x_test, y_train=y_train, y_test=y_test
    )


@dataclass(frozen=True)
class Sequences:
    """Variable-length sequences, zero-padded at the end, and their lengths."""

    x_train: np.ndarray
    lengths_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    lengths_test: np.ndarray
    y_test: np.ndarray


def _pad(arrays, steps):
    lengths = np.array([len(a) for a in arrays], dtype="int32")
    out = np.zeros((len(arrays), steps, arrays[0].shape[1]), dtype="float32")
    for n, a in enumerate(arrays):
        out[n, : len(a)] = a
    return out, lengths


def japanese_vowels(standardize=True):
    """sktime's JapaneseVowels: 270 + 370 utterances of /ae/ by 9 speakers.

    Each utterance is a sequence of 7 to 29 frames of 12 LPC cepstrum
    coefficients. The data ships inside sktime (no download); it is loaded
    with sktime's own loader. The original train/test split is kept.

    Parameters
    ----------
    standardize : bool
        Scale every feature to mean 0 and standard deviation 1 over the valid
        frames of the *training* set (padding excluded). Nearest-neighbour DTW
        (``19_dtw``) uses the raw values (``standardize=False``), as the
        published benchmark does.

    Returns
    -------
    Sequences
        ``x``: ``float32`` ``[n, 29, 12]``, zero after each sequence's length;
        ``lengths``: ``int32`` ``[n]``; ``y``: ``int32`` speaker ids 0-8.
    """
    from sktime.datasets import load_japanese_vowels

    parts = {}
    for split in ("train", "test"):
        frames, labels = load_japanese_vowels(
            split=split, return_type="df-list"
        )
        parts[split] = (
            [f.to_numpy(dtype="float64") for f in frames],
            labels.astype(int) - 1,
        )
    steps = max(len(a) for arrays, _ in parts.values() for a in arrays)
    if standardize:
        stacked = np.concatenate(parts["train"][0])
        mean, std = stacked.mean(axis=0), stacked.std(axis=0)
        parts = {
            k: ([(a - mean) / std for a in arrays], labels)
            for k, (arrays, labels) in parts.items()
        }
    x_train, lengths_train = _pad(parts["train"][0], steps)
    x_test, lengths_test = _pad(parts["test"][0], steps)
    return Sequences(
        x_train,
        lengths_train,
        parts["train"][1].astype("int32"),
        x_test,
        lengths_test,
        parts["test"][1].astype("int32"),
    )


def wave(n=64, noise=0.1, seed=0):
    """A noisy sine wave ``y = sin(3x) + noise``, ``x`` evenly in ``[-1, 1]``.

    Returns
    -------
    tuple of np.ndarray
        ``x`` and ``y``, both ``float32`` of shape ``(n, 1)``.
    """
    if not is_int_at_least(n, 2):
        raise ValueError(f"n must be an int of at least 2, got {n!r}.")
    if (
        isinstance(noise, bool)
        or not isinstance(noise, numbers.Real)
        or noise < 0
    ):
        raise ValueError(
            "noise must be a non-negative number (a standard deviation), got "
            f"{noise!r}."
        )
    rng = np.random.default_rng(_check_seed(seed))
    x = np.linspace(-1.0, 1.0, int(n))[:, None]
    y = np.sin(3.0 * x) + noise * rng.normal(size=x.shape)
    return x.astype("float32"), y.astype("float32")


def dense_initial_weights(sizes, seed=0):
    """Starting weights for Dense layers, as ``Model.set_weights`` takes them.

    Kernels are drawn from the Glorot-uniform distribution (Keras's default
    for ``Dense``), biases are zero. The same ``sizes`` and ``seed`` give the
    same arrays in any process, with or without TensorFlow.

    Parameters
    ----------
    sizes : sequence of int
        Layer widths including the input, e.g. ``[1, 16, 1]`` for one input,
        a hidden layer of 16 units and one output.
    seed : int

    Returns
    -------
    list of np.ndarray
        ``[kernel_1, bias_1, kernel_2, bias_2, ...]``, ``float32``.
    """
    sizes = list(sizes)
    if len(sizes) < 2 or not all(is_int_at_least(s, 1) for s in sizes):
        raise ValueError(
            "sizes must list at least two positive ints (input width, then "
            f"each layer's units), got {sizes!r}; e.g. [1, 16, 1]."
        )
    rng = np.random.default_rng(_check_seed(seed))
    weights = []
    for fan_in, fan_out in itertools.pairwise(sizes):
        limit = np.sqrt(6.0 / (fan_in + fan_out))
        weights.append(
            rng.uniform(-limit, limit, size=(fan_in, fan_out)).astype(
                "float32"
            )
        )
        weights.append(np.zeros(fan_out, dtype="float32"))
    return weights
