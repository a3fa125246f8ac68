"""Re-run the notebooks as other machines would.

Run with ``make portability`` (CI runs it after ``make test``). Outputs are of
two kinds (``book/testing.md``): exact ones, the same on every machine, and
the outputs of cells tagged ``numerics``, whose last digits follow the CPU's
order of float additions. ``make test`` compares them all where the numerics
probe (``tests/numerics_probe.py``) gives the recorded fingerprint, and
checks ``numerics`` cells by their assertions elsewhere. Two variants:

* **other numerics** stands for a machine whose numerics differ from the
  book's (another vendor's cache sizes, Apple silicon, ARM Linux, Windows):
  the pin of ``import helpers`` switched off, oneDNN and XLA limited to SSE4,
  one thread each. The probe must then differ (checked); ``numerics`` cells
  are checked by their assertions, and every other cell is compared strictly,
  so an untagged cell whose output depends on the numerics fails here. This
  is the check that guards the classification.
* **AVX2-only CPU**: oneDNN and XLA capped at AVX2 by their own variables, as
  on a CPU without AVX-512. With the pin, the probe must give the recorded
  fingerprint (checked), and then every cell, ``numerics`` cells included, is
  compared strictly: this checks, on a lower instruction set than an AVX-512
  host's own, that an equal fingerprint does mean equal outputs. (On a host
  without AVX-512 this is the host itself, and the line printed says so.)

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

#: name -> (command prefix, extra environment, the numerics mode expected)
VARIANTS = {
    "other numerics": (
        ["taskset", "-c", "0,1"],
        {
            "BOOK_PORTABLE_NUMERICS": "0",
            "ONEDNN_MAX_CPU_ISA": "SSE41",
            "XLA_FLAGS": "--xla_cpu_max_isa=SSE4_2",
            "TF_NUM_INTRAOP_THREADS": "1",
            "TF_NUM_INTEROP_THREADS": "1",
        },
        "different",
    ),
    "AVX2-only CPU": (
        ["taskset", "-c", "0,1"],
        {"ONEDNN_MAX_CPU_ISA": "AVX2", "XLA_FLAGS": "--xla_cpu_max_isa=AVX2"},
        "equal",
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


def run_variant(name, prefix, extra, expected_mode, notebooks):
    """Strict nbval under the variant; fails unless the mode is as expected."""
    env = dict(os.environ)
    env.update(extra)
    command = prefix + [
        sys.executable,
        "-m",
        "pytest",
        *notebooks,
        "-q",
        "--no-header",
    ]
    print(
        f"\n=== {name}: {' '.join(prefix)} "
        f"{' '.join(f'{k}={v}' for k, v in extra.items())}",
        flush=True,
    )
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True
    )
    modes = []
    for line in process.stdout:
        print(line, end="", flush=True)
        if line.startswith("numerics: "):
            modes.append(line.split()[1])
    code = process.wait()
    if modes != [expected_mode]:
        print(
            f"{name}: expected the numerics mode {expected_mode!r}, got "
            f"{modes or 'no mode line'}; the variant did not check what it "
            "is for (see book/testing.md)."
        )
        return 1
    return code


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
        "\nPortability check passed: with other numerics every exact output "
        "was identical and every assertion held"
        + (
            "; capped at AVX2, every output was identical."
            if not args.variant or "AVX2-only CPU" in args.variant
            else "."
        )
    )


if __name__ == "__main__":
    main()
