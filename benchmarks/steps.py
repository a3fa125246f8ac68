"""Training steps four ways (eager, tf.function, XLA, fit), and retracing.

Run with ``make benchmark``. Measured side by side in one run; read the ratios.
The measurements live in :mod:`helpers.timing`, which the performance chapter
also uses.
"""

import helpers  # noqa: F401  (TensorFlow's log settings first)
from helpers.timing import benchmark_problems, step_timings, tracing_counts

# The compiled step at least 5x faster than eager, and no slower per step
# than model.fit.
TARGET_VS_EAGER = 5.0
TARGET_VS_FIT = 1.0


def main():
    print("Seconds per training step (median of repeats)\n")
    for name, problem in benchmark_problems().items():
        timings = step_timings(**problem)
        print(f"{name} (batch {problem['batch_size']}):")
        for way, seconds in timings.items():
            print(f"  {way:<18} {seconds * 1e3:8.3f} ms")
        compiled = min(timings["tf.function"], timings["tf.function + XLA"])
        vs_eager = timings["eager"] / compiled
        vs_fit = timings["model.fit"] / compiled
        print(
            f"  compiled step vs eager:     {vs_eager:5.1f}x faster  (target "
            f"{TARGET_VS_EAGER:.0f}x: "
            f"{'met' if vs_eager >= TARGET_VS_EAGER else 'NOT met'})"
        )
        print(
            f"  compiled step vs model.fit: {vs_fit:5.1f}x faster  (target: "
            f"no slower: {'met' if vs_fit >= TARGET_VS_FIT else 'NOT met'})\n"
        )
    print("Traces for batch sizes 1..8:")
    for version, count in tracing_counts().items():
        print(f"  {version:<34} {count}")


if __name__ == "__main__":
    main()
