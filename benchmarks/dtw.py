"""DTW and soft-DTW: helpers.dtw_fast beside tslearn and dtaidistance.

Run from the repository root with ``make benchmark`` (or
``.venv/bin/python -m benchmarks.dtw``). Everything is measured in one run on
the same machine, so the ratios are what to read; absolute times vary from
machine to machine and from run to run. The measurements themselves live in
:func:`helpers.timing.dtw_timings`, which the performance chapter also calls.
"""

import helpers  # noqa: F401  (TensorFlow's log settings first)
from helpers.timing import (
    DTW_ALL_PAIRS_LIMIT_SECONDS,
    DTW_BATCH,
    DTW_FEATURES,
    DTW_STEPS,
    dtw_all_pairs_seconds,
    dtw_ratios,
    dtw_timings,
)


def main():
    times = dtw_timings()
    print(
        f"B = {DTW_BATCH} pairs, T = U = {DTW_STEPS} frames, {DTW_FEATURES} "
        "features; median of repeats\n"
    )
    width = max(len(name) for name in times)
    for name, seconds in times.items():
        print(f"  {name:<{width}}  {seconds * 1e3:9.2f} ms")
    print("\nspeed-up (reference time / our time), against the target:")
    for name, (ratio, target, met) in dtw_ratios(times).items():
        print(
            f"  {name:<{width + 10}}  {ratio:6.2f}x   target {target:4.1f}x  "
            f"{'met' if met else 'NOT met'}"
        )
    pairs, seconds = dtw_all_pairs_seconds()
    verdict = "met" if seconds < DTW_ALL_PAIRS_LIMIT_SECONDS else "NOT met"
    print(
        f"\nJapaneseVowels, all {pairs:,} test x train pairs with dtw: "
        f"{seconds:.2f} s   target < {DTW_ALL_PAIRS_LIMIT_SECONDS} s  "
        f"{verdict}"
    )


if __name__ == "__main__":
    main()
