"""Measuring training steps (the chapter "Performance",
``notebooks/27_performance``): eager, tf.function, XLA and fit.

Timings are medians of repeated runs after warm-up calls, which exclude
tracing and compilation. They vary from machine to machine and from run to
run; compare them only within one run.
"""

import time

import keras
import numpy as np
import tensorflow as tf

from helpers.checks import is_int_at_least
from helpers.training import compiled_train_step, train_step


def _check_counts(repeats, warmup):
    for name, value, low in (("repeats", repeats, 1), ("warmup", warmup, 0)):
        if not is_int_at_least(value, low):
            raise ValueError(f"{name} must be an int >= {low}, got {value!r}.")


def median_seconds(fn, repeats=20, warmup=2):
    """Median wall-clock seconds of ``repeats`` calls of ``fn()``."""
    _check_counts(repeats, warmup)
    if not callable(fn):
        raise TypeError(
            f"fn must be callable with no arguments, got {type(fn).__name__}; "
            "wrap it in a lambda."
        )
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def interleaved_median_seconds(fns, repeats=20, warmup=2):
    """Median seconds of each ``fns[name]()``, timed in turns.

    One call of each per round, ``warmup`` rounds not counted, then
    ``repeats`` rounds. Each round starts one function further along the
    order of ``fns`` than the one before (``a b c``, ``b c a``, ``c a b``,
    ...), so that no function always runs right after the same one.

    Taking turns exposes every function to the same changes in machine load
    (other processes, clock speed), so ratios between them are steadier than
    with one :func:`median_seconds` after the other.

    Returns
    -------
    dict
        Name -> median seconds, in the order of ``fns``.
    """
    if not isinstance(fns, dict) or not fns:
        raise TypeError(
            "fns must be a non-empty dict of name -> callable, got "
            f"{type(fns).__name__}."
        )
    _check_counts(repeats, warmup)
    for name, fn in fns.items():
        if not callable(fn):
            raise TypeError(
                f"fns[{name!r}] must be callable with no arguments; wrap it "
                "in a lambda."
            )
    names = list(fns)
    times = {name: [] for name in names}
    for round_ in range(warmup + repeats):
        first = round_ % len(names)
        for name in names[first:] + names[:first]:
            start = time.perf_counter()
            fns[name]()
            if round_ >= warmup:
                times[name].append(time.perf_counter() - start)
    return {name: float(np.median(values)) for name, values in times.items()}


def step_timings(build_model, loss_fn, x, y, batch_size, steps=20, repeats=5):
    """Seconds per training step, four ways, on the same model and batches.

    Every way trains its own fresh copy of the model on the same ``steps``
    batches, read from one ``tf.data.Dataset``: the eager step and the two
    compiled ones (:func:`helpers.training.train_step`, wrapped or not in
    ``tf.function``) in a Python loop over the dataset, ``model.fit`` as one
    ``fit(dataset, epochs=1)`` call. So each time covers reading the batches
    and what the way does per call as well as per step (for ``fit``: its
    epoch iterator and callbacks); each is divided by ``steps``. Run under
    whatever numerics the process has (the book's pin: ``helpers.tfenv``).

    Parameters
    ----------
    build_model : callable
        Returns a fresh ``keras.Model`` each call (each way trains its own
        copy).
    loss_fn : callable
        ``loss_fn(y_true, y_pred)``, TensorFlow ops.
    x, y : np.ndarray
        At least ``batch_size * steps`` examples.
    batch_size, steps : int
        Each measurement runs ``steps`` steps on consecutive batches.
    repeats : int
        Measurements per way, after one that is not counted (tracing and
        compiling); the median is reported.

    Returns
    -------
    dict
        ``{"eager", "tf.function", "tf.function + XLA", "model.fit"}`` ->
        seconds per step.
    """
    for name, value in (("batch_size", batch_size), ("steps", steps)):
        if not is_int_at_least(value, 1):
            raise ValueError(f"{name} must be an int >= 1, got {value!r}.")
    if len(x) < batch_size * steps or len(y) != len(x):
        raise ValueError(
            f"need at least batch_size * steps = {batch_size * steps} "
            f"examples with matching x and y, got {len(x)} and {len(y)}."
        )
    dataset = tf.data.Dataset.from_tensor_slices(
        (x[: batch_size * steps], y[: batch_size * steps])
    ).batch(batch_size)
    x_spec = tf.TensorSpec((None,) + tuple(x.shape[1:]), tf.as_dtype(x.dtype))
    y_spec = tf.TensorSpec((None,) + tuple(y.shape[1:]), tf.as_dtype(y.dtype))

    def run(step):
        for xb, yb in dataset:
            loss = step(xb, yb)
        return float(loss)  # wait for the last update

    timings = {}
    ways = {
        "eager": lambda m: train_step(m, loss_fn, keras.optimizers.Adam(1e-3)),
        "tf.function": lambda m: compiled_train_step(
            m, loss_fn, keras.optimizers.Adam(1e-3), x_spec, y_spec
        ),
        "tf.function + XLA": lambda m: compiled_train_step(
            m,
            loss_fn,
            keras.optimizers.Adam(1e-3),
            x_spec,
            y_spec,
            jit_compile=True,
        ),
    }
    for name, make_step in ways.items():
        step = make_step(build_model())
        timings[name] = (
            median_seconds(
                lambda step=step: run(step), repeats=repeats, warmup=1
            )
            / steps
        )

    model = build_model()
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=loss_fn)
    timings["model.fit"] = (
        median_seconds(
            lambda: model.fit(dataset, epochs=1, shuffle=False, verbose=0),
            repeats=repeats,
            warmup=1,
        )
        / steps
    )
    return timings


def tracing_counts(batch_sizes=(1, 2, 3, 4, 5, 6, 7, 8)):
    """How many graphs one small function traces, called with each batch size.

    Three versions of ``y = reduce_sum(x ** 2, axis=1)``: no input signature,
    ``reduce_retracing=True``, and an ``input_signature`` with a ``None``
    batch axis. Returns ``{version: number of traces}``.
    """

    def body(x):
        return tf.reduce_sum(tf.square(x), axis=1)

    versions = {
        "no signature": tf.function(body),
        "reduce_retracing=True": tf.function(body, reduce_retracing=True),
        "input_signature, batch axis None": tf.function(
            body, input_signature=[tf.TensorSpec([None, 3], tf.float32)]
        ),
    }
    counts = {}
    logger = tf.get_logger()
    level = logger.level
    # the retracing is deliberate here: keep TensorFlow's warning about it
    # quiet
    logger.setLevel("ERROR")
    try:
        for name, fn in versions.items():
            for size in batch_sizes:
                fn(tf.ones([size, 3]))
            counts[name] = fn.experimental_get_tracing_count()
    finally:
        logger.setLevel(level)
    return counts


#: The batch of the DTW comparison.
DTW_BATCH, DTW_STEPS, DTW_FEATURES = 64, 100, 12


#: Speed-ups (reference time / our time) set as targets for
#: :func:`dtw_timings`.
DTW_TARGETS = {
    "dtw vs dtaidistance": 3.0,
    "dtw vs tslearn": 15.0,
    "soft_dtw value+gradient vs tslearn soft_dtw value": 5.0,
}
#: And for :func:`dtw_all_pairs_seconds`, in seconds.
DTW_ALL_PAIRS_LIMIT_SECONDS = 0.5


def dtw_speedups(times):
    """Speed-ups (reference time / our time) from :func:`dtw_timings`.

    ``{comparison: ratio}``, one entry for each key of ``DTW_TARGETS``.
    """
    ours, soft = (
        times["helpers.dtw_fast.dtw"],
        times["helpers.dtw_fast.soft_dtw value+gradient"],
    )
    return {
        "dtw vs dtaidistance": times[
            "dtaidistance dtw_ndim.distance_fast (loop)"
        ]
        / ours,
        "dtw vs tslearn": times["tslearn dtw (loop)"] / ours,
        "soft_dtw value+gradient vs tslearn soft_dtw value": times[
            "tslearn soft_dtw value (loop)"
        ]
        / soft,
    }


def dtw_ratios(times):
    """:func:`dtw_speedups` against the targets, for ``make benchmark``.

    ``{name: (ratio, target, met)}`` for each of ``DTW_TARGETS``.
    """
    return {
        name: (ratio, DTW_TARGETS[name], ratio >= DTW_TARGETS[name])
        for name, ratio in dtw_speedups(times).items()
    }


def dtw_batch():
    """The batch :func:`dtw_timings` measures: float32 tensors ``x, y``.

    Each is ``[DTW_BATCH, DTW_STEPS, DTW_FEATURES]``.
    """
    rng = np.random.default_rng(0)
    x = rng.normal(size=(DTW_BATCH, DTW_STEPS, DTW_FEATURES)).astype("float32")
    y = rng.normal(size=(DTW_BATCH, DTW_STEPS, DTW_FEATURES)).astype("float32")
    return tf.constant(x), tf.constant(y)


def dtw_timings(repeats=15):
    """Seconds for ``helpers.dtw_fast`` and tslearn/dtaidistance, same pairs.

    B = 64 pairs of T = U = 100 frames with 12 features; ours in float32, the
    libraries in float64 (what they compute in: dtaidistance's
    ``distance_fast`` expects ``double`` arrays, tslearn converts to
    ``float``; converted once, outside the timing), so every ratio also sets
    float32 against float64 arithmetic. Timed in turns
    (:func:`interleaved_median_seconds`), so that a change in machine load
    does not fall on one of them only. Needs the test-only packages tslearn
    and dtaidistance.

    Returns
    -------
    dict
        Name -> median seconds for the whole batch.
    """
    from dtaidistance import dtw_ndim
    from tslearn.metrics import dtw as tslearn_dtw
    from tslearn.metrics import soft_dtw as tslearn_soft_dtw

    from helpers.dtw_fast import dtw, soft_dtw

    x_tf, y_tf = dtw_batch()
    x64, y64 = x_tf.numpy().astype("float64"), y_tf.numpy().astype("float64")

    def ours_value_and_gradient():
        with tf.GradientTape() as tape:
            tape.watch([x_tf, y_tf])
            total = tf.reduce_sum(soft_dtw(x_tf, y_tf, gamma=1.0))
        return [g.numpy() for g in tape.gradient(total, [x_tf, y_tf])]

    ours = np.sqrt(dtw(x_tf, y_tf).numpy().astype("float64"))
    theirs = np.array(
        [dtw_ndim.distance_fast(x64[b], y64[b]) for b in range(DTW_BATCH)]
    )
    if not np.allclose(ours, theirs, rtol=1e-4):
        raise AssertionError(
            "helpers.dtw_fast.dtw and dtaidistance disagree; the timings "
            "would compare different things"
        )
    return interleaved_median_seconds(
        {
            "helpers.dtw_fast.dtw": lambda: dtw(x_tf, y_tf).numpy(),
            "dtaidistance dtw_ndim.distance_fast (loop)": lambda: [
                dtw_ndim.distance_fast(x64[b], y64[b])
                for b in range(DTW_BATCH)
            ],
            "tslearn dtw (loop)": lambda: [
                tslearn_dtw(x64[b], y64[b]) for b in range(DTW_BATCH)
            ],
            "helpers.dtw_fast.soft_dtw value+gradient": (
                ours_value_and_gradient
            ),
            "tslearn soft_dtw value (loop)": lambda: [
                tslearn_soft_dtw(x64[b], y64[b], gamma=1.0)
                for b in range(DTW_BATCH)
            ],
        },
        repeats=repeats,
    )


def dtw_all_pairs_seconds(repeats=5):
    """Seconds for :func:`helpers.dtw_fast.dtw_all_pairs` on all vowel pairs.

    Every JapaneseVowels test-train pair.

    370 x 270 = 99,900 pairs of raw (unstandardised) float32 utterances of
    7-29 frames. The first call, which compiles, is not counted.

    Returns
    -------
    (pairs, seconds) : (int, float), seconds the median over ``repeats`` calls
    """
    from helpers import data
    from helpers.dtw_fast import dtw_all_pairs

    vowels = data.japanese_vowels(standardize=False)
    seconds = median_seconds(
        lambda: dtw_all_pairs(
            vowels.x_test,
            vowels.x_train,
            vowels.lengths_test,
            vowels.lengths_train,
        ),
        repeats=repeats,
        warmup=1,
    )
    return len(vowels.x_test) * len(vowels.x_train), seconds


def benchmark_problems():
    """The book's two models as timing problems.

    ``{name: keyword arguments of step_timings}``.

    - ``"regression"``: the linear 3-quantile model of the chapter "Linear
      regression, done right" (``notebooks/14_linear_regression``) on the
      diabetes data with its pinball loss, batches of 16.
    - ``"CNN"``: a small CNN on the 8x8 digits with cross-entropy, batches of
      64. It downsamples with a strided convolution rather than max pooling:
      with op determinism on (``helpers.seed_everything``), XLA has no
      deterministic kernel for the max-pooling gradient and refuses to compile
      the step (TensorFlow 2.21: ``UnimplementedError``).
    """
    from helpers import data

    quantiles = tf.constant([0.05, 0.5, 0.95])

    def pinball(target, prediction):
        error = target - prediction
        return tf.reduce_mean(
            tf.maximum(quantiles * error, (quantiles - 1.0) * error)
        )

    def linear_band():
        inputs = keras.Input(shape=(10,))
        return keras.Model(inputs, keras.layers.Dense(3)(inputs))

    def cross_entropy(labels, logits):
        # model.fit hands the loss float labels
        labels = tf.cast(labels, tf.int32)
        return tf.reduce_mean(
            tf.nn.sparse_softmax_cross_entropy_with_logits(
                labels=labels, logits=logits
            )
        )

    def small_cnn():
        image = keras.Input(shape=(8, 8, 1))
        x = keras.layers.Conv2D(16, 3, padding="same", activation="relu")(
            image
        )
        x = keras.layers.Conv2D(
            32, 3, strides=2, padding="same", activation="relu"
        )(x)
        return keras.Model(
            image, keras.layers.Dense(10)(keras.layers.Flatten()(x))
        )

    diabetes, digits = data.diabetes(), data.digits()
    return {
        "regression": dict(
            build_model=linear_band,
            loss_fn=pinball,
            x=diabetes.x_train,
            y=diabetes.y_train,
            batch_size=16,
        ),
        "CNN": dict(
            build_model=small_cnn,
            loss_fn=cross_entropy,
            x=digits.x_train,
            y=digits.y_train,
            batch_size=64,
        ),
    }
