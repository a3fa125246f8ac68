"""What the portable numerics cost: training steps with the pin and without it.

Run with ``make benchmark``. ``import helpers`` pins TensorFlow's thread pools
to two threads each and, on x86-64, caps oneDNN and XLA at AVX2
(``helpers.tfenv``; ``book/testing.md`` says why). The variables work only
before TensorFlow loads, so each setting runs in its own process, in turns
(pinned, native, pinned, native, ...), and the fastest run of each way is kept.
"""

import json
import os
import subprocess
import sys

from helpers import tfenv

_MEASURE = """
import json
import helpers
from helpers.timing import benchmark_problems, step_timings
print(json.dumps({name: step_timings(**problem) for name, problem in
benchmark_problems().items()}))
"""
SETTINGS = {
    "portable (the book's default)": "1",
    "native (BOOK_PORTABLE_NUMERICS=0)": "0",
}
ROUNDS = 3


def measure(switch):
    env = {**tfenv.without_defaults(), tfenv.SWITCH: switch}
    run = subprocess.run(
        [sys.executable, "-c", _MEASURE],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(run.stdout.splitlines()[-1])


def main():
    print(
        f"Seconds per training step, fastest of {ROUNDS} runs of each "
        f"setting, taken in turns; this machine: {os.cpu_count()} CPUs\n"
    )
    best = {}
    for _ in range(ROUNDS):
        for setting, switch in SETTINGS.items():
            for problem, timings in measure(switch).items():
                for way, seconds in timings.items():
                    key = (problem, way, setting)
                    best[key] = min(best.get(key, float("inf")), seconds)
    portable, native = SETTINGS
    for problem in dict.fromkeys(p for p, _, _ in best):
        print(f"{problem}:")
        for way in dict.fromkeys(w for p, w, _ in best if p == problem):
            pinned, free = (
                best[(problem, way, portable)],
                best[(problem, way, native)],
            )
            print(
                f"  {way:<18} portable {pinned * 1e3:7.3f} ms   native "
                f"{free * 1e3:7.3f} ms   portable/native {pinned / free:4.2f}"
            )
        print()


if __name__ == "__main__":
    main()
