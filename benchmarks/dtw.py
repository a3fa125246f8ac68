"""DTW and soft-DTW: helpers.sequences against tslearn and dtaidistance, side by side.

Run from the repository root with ``make benchmark`` (or
``.venv/bin/python -m benchmarks.dtw``). Everything is measured in one run on
the same machine, so the ratios are what to read; absolute times vary from
machine to machine and from run to run.

Setting (issue 6): a batch of B = 64 pairs of sequences, T = U = 100 frames of
12 features, float32 for helpers.sequences. Each library gets the data in the
dtype it computes in (dtaidistance's C code and tslearn's numba code work in
float64; the conversion is done once, outside the timing). Every timing is
the median of several repeats after one warm-up call, which also excludes
XLA's one-off compilation.
"""
import time

import helpers  # noqa: F401  (TensorFlow's log settings first)
import numpy as np
import tensorflow as tf

from helpers.sequences import dtw, soft_dtw

BATCH, STEPS, FEATURES = 64, 100, 12
TARGETS = {  # ratio (reference time / our time) that issue 6 asks for
    "dtw vs dtaidistance": 3.0,
    "dtw vs tslearn": 15.0,
    "soft_dtw value+gradient vs tslearn soft_dtw value": 5.0,
}
ALL_PAIRS_LIMIT_SECONDS = 0.5


def median_time(function, repeats=15):
    function()  # warm-up: compilation, caches
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def japanese_vowels_all_pairs():
    from sktime.datasets import load_japanese_vowels

    def padded(split):
        frames, labels = load_japanese_vowels(split=split, return_type="df-list")
        arrays = [f.to_numpy(dtype="float32") for f in frames]
        lengths = np.array([len(a) for a in arrays], "int32")
        out = np.zeros((len(arrays), lengths.max(), arrays[0].shape[1]), "float32")
        for n, a in enumerate(arrays):
            out[n, : len(a)] = a
        return out, lengths

    (train, train_lengths), (test, test_lengths) = padded("train"), padded("test")
    x = tf.constant(np.repeat(test, len(train), axis=0))
    y = tf.constant(np.tile(train, (len(test), 1, 1)))
    x_lengths = tf.constant(np.repeat(test_lengths, len(train)))
    y_lengths = tf.constant(np.tile(train_lengths, len(test)))
    seconds = median_time(lambda: dtw(x, y, x_lengths, y_lengths).numpy(), repeats=5)
    return len(test) * len(train), seconds


def main():
    from dtaidistance import dtw_ndim
    from tslearn.metrics import dtw as tslearn_dtw
    from tslearn.metrics import soft_dtw as tslearn_soft_dtw

    rng = np.random.default_rng(0)
    x32 = rng.normal(size=(BATCH, STEPS, FEATURES)).astype("float32")
    y32 = rng.normal(size=(BATCH, STEPS, FEATURES)).astype("float32")
    x64, y64 = x32.astype("float64"), y32.astype("float64")
    x_tf, y_tf = tf.constant(x32), tf.constant(y32)

    def ours_value_and_gradient():
        with tf.GradientTape() as tape:
            tape.watch([x_tf, y_tf])
            total = tf.reduce_sum(soft_dtw(x_tf, y_tf, gamma=1.0))
        return [g.numpy() for g in tape.gradient(total, [x_tf, y_tf])]

    times = {
        "helpers.sequences.dtw": median_time(lambda: dtw(x_tf, y_tf).numpy()),
        "dtaidistance dtw_ndim.distance_fast (loop)": median_time(
            lambda: [dtw_ndim.distance_fast(x64[b], y64[b]) for b in range(BATCH)]),
        "tslearn dtw (loop)": median_time(lambda: [tslearn_dtw(x64[b], y64[b]) for b in range(BATCH)]),
        "helpers.sequences.soft_dtw value+gradient": median_time(ours_value_and_gradient),
        "tslearn soft_dtw value (loop)": median_time(
            lambda: [tslearn_soft_dtw(x64[b], y64[b], gamma=1.0) for b in range(BATCH)]),
    }
    # The same numbers, checked: sqrt of our cost is the libraries' distance.
    ours = np.sqrt(dtw(x_tf, y_tf).numpy().astype("float64"))
    theirs = np.array([dtw_ndim.distance_fast(x64[b], y64[b]) for b in range(BATCH)])
    assert np.allclose(ours, theirs, rtol=1e-4), "the compared implementations disagree"

    print(f"B = {BATCH} pairs, T = U = {STEPS} frames, {FEATURES} features; median of repeats\n")
    width = max(len(name) for name in times)
    for name, seconds in times.items():
        print(f"  {name:<{width}}  {seconds * 1e3:9.2f} ms")
    ratios = {
        "dtw vs dtaidistance": times["dtaidistance dtw_ndim.distance_fast (loop)"] / times["helpers.sequences.dtw"],
        "dtw vs tslearn": times["tslearn dtw (loop)"] / times["helpers.sequences.dtw"],
        "soft_dtw value+gradient vs tslearn soft_dtw value":
            times["tslearn soft_dtw value (loop)"] / times["helpers.sequences.soft_dtw value+gradient"],
    }
    print("\nspeed-up (reference time / our time), against the target:")
    for name, ratio in ratios.items():
        verdict = "met" if ratio >= TARGETS[name] else "NOT met"
        print(f"  {name:<{width + 10}}  {ratio:6.1f}x   target {TARGETS[name]:4.1f}x  {verdict}")
    pairs, seconds = japanese_vowels_all_pairs()
    verdict = "met" if seconds < ALL_PAIRS_LIMIT_SECONDS else "NOT met"
    print(f"\nJapaneseVowels, all {pairs:,} test x train pairs with dtw: {seconds:.2f} s   "
          f"target < {ALL_PAIRS_LIMIT_SECONDS} s  {verdict}")


if __name__ == "__main__":
    main()
