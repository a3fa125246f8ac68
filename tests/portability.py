"""Re-run the notebooks as other machines would, and compare strictly.

Run with ``make portability`` (CI runs it after ``make test``). The stored
outputs were made on one machine; a reader's machine has another CPU and
another number of cores. Training numerics on a CPU depend on both: on the
instruction set that oneDNN's matrix kernels and XLA's compiler pick at run
time, and on the sizes of TensorFlow's thread pools. ``import helpers`` pins
both (``helpers.tfenv``); this check shows that the pin holds, by emulating:

* **one core**: the notebooks' kernels confined to CPU 0 with ``taskset``
  (TensorFlow would size its thread pools to 1 without the pin);
* **an AVX2-only CPU**: oneDNN and XLA capped at AVX2 by their own variables,
  on two cores. On a host with AVX-512 (see the first line printed) this is a
  lower instruction set than the host's own, and the run checks that the pin
  makes the host compute what such a CPU computes; on an AVX2-only host it
  equals the host, and the line printed says so.

``make test`` itself is the third machine: this host's own CPU, two cores.
Each of these variants runs strict nbval over the notebooks, exactly as
``make test`` does, with the variant's settings in the environment of every
kernel.

A last variant, **other numerics**, stands for a machine the pin cannot make
identical (Apple silicon, ARM Linux, an x86 CPU without AVX2): the pin
switched off, oneDNN and XLA limited to SSE4 and one thread each. Its numbers
differ from the book's, so nothing is compared (``--nbval-lax``); what it
checks is that every cell still runs and every assertion still holds.

The performance chapter is left out: its compared outputs are trace counts,
which no arithmetic changes, and its timings are never compared.

``--notebooks`` limits the run (for example to one chapter while writing it).
"""

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: name -> (command prefix, extra environment, extra pytest options)
VARIANTS = {
    "one core": (["taskset", "-c", "0"], {}, []),
    "AVX2-only CPU, two cores": (
        ["taskset", "-c", "0,1"],
        {"ONEDNN_MAX_CPU_ISA": "AVX2", "XLA_FLAGS": "--xla_cpu_max_isa=AVX2"},
        [],
    ),
    "other numerics, assertions only": (
        ["taskset", "-c", "0,1"],
        {
            "BOOK_PORTABLE_NUMERICS": "0",
            "ONEDNN_MAX_CPU_ISA": "SSE41",
            "XLA_FLAGS": "--xla_cpu_max_isa=SSE4_2",
            "TF_NUM_INTRAOP_THREADS": "1",
            "TF_NUM_INTEROP_THREADS": "1",
        },
        ["--nbval-lax"],
    ),
}
#: Not re-run here (see above).
LEFT_OUT = {"notebooks/10_performance.ipynb"}


def host_isa():
    """The highest x86 vector extension in /proc/cpuinfo's flags."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return "unknown"
    flags = next(
        (
            line.split(":", 1)[1].split()
            for line in text.splitlines()
            if line.startswith("flags")
        ),
        [],
    )
    for name, flag in (
        ("AVX-512", "avx512f"),
        ("AVX2", "avx2"),
        ("AVX", "avx"),
    ):
        if flag in flags:
            return name
    return "older than AVX"


def run_variant(name, prefix, extra, options, notebooks):
    env = dict(os.environ)
    env.update(extra)
    command = prefix + [
        sys.executable,
        "-m",
        "pytest",
        *notebooks,
        "-q",
        "--no-header",
        *options,
    ]
    print(
        f"\n=== {name}: {' '.join(prefix)} "
        f"{' '.join(f'{k}={v}' for k, v in extra.items())}",
        flush=True,
    )
    return subprocess.run(command, cwd=ROOT, env=env).returncode


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--notebooks",
        nargs="*",
        default=None,
        help="notebook paths (default: every notebook under notebooks/)",
    )
    parser.add_argument(
        "--variant",
        choices=sorted(VARIANTS),
        action="append",
        help="run only this variant (repeatable)",
    )
    args = parser.parse_args(argv)
    if shutil.which("taskset") is None:
        sys.exit(
            "taskset not found: it comes with util-linux (Debian: apt-get "
            "install util-linux); this check emulates core counts with it."
        )
    if len(os.sched_getaffinity(0)) < 2:
        sys.exit(
            "This check needs two CPUs to emulate a two-core machine; this "
            f"process may use {len(os.sched_getaffinity(0))}."
        )
    notebooks = args.notebooks or sorted(
        str(p.relative_to(ROOT))
        for p in (ROOT / "notebooks").glob("*.ipynb")
        if str(p.relative_to(ROOT)) not in LEFT_OUT
    )
    isa = host_isa()
    print(f"Host CPU: {isa}.", end=" ")
    if isa == "AVX-512":
        print(
            "The AVX2 variant runs a lower instruction set than this host's "
            "own."
        )
    else:
        print(
            "The AVX2 variant equals this host: instruction-set independence "
            "is NOT exercised here (it needs a host with AVX-512)."
        )
    failed = [
        name
        for name in (args.variant or VARIANTS)
        if run_variant(name, *VARIANTS[name], notebooks) != 0
    ]
    if failed:
        sys.exit(
            f"\nPortability check failed for: {', '.join(failed)}. The "
            "outputs above differ on an emulated machine; see "
            "book/testing.md."
        )
    print(
        "\nPortability check passed: every compared output identical on "
        "every emulated machine"
        + (
            ", and every assertion held with other numerics."
            if not args.variant
            or "other numerics, assertions only" in args.variant
            else "."
        )
    )


if __name__ == "__main__":
    main()
