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
  one thread each (NumPy's OpenBLAS too). The probe must then differ
  (checked); ``numerics`` cells are checked by their assertions, and every
  other cell is compared strictly, so an untagged cell whose output depends
  on the numerics fails here. This is the check that guards the
  classification.
* **one core**: every notebook's kernel confined to one CPU, the pin on. The
  probe runs under ``taskset -c 0``; each of the two pytest-xdist workers then
  keeps to a CPU of its own (:func:`worker_cpu`, called by ``conftest.py``),
  so two notebooks run at a time, each on one core, and the kernels a worker
  starts inherit its CPU. TensorFlow would size its thread pools by the core
  count; the pin keeps them at two, so the probe must give the recorded
  fingerprint (checked), and then every cell, ``numerics`` cells included, is
  compared strictly: the check that an equal fingerprint means equal outputs
  on a machine other than the one that made them. On a host whose own
  fingerprint differs from the recorded one there is nothing to check, and the
  variant is skipped with a line saying so.

(An instruction-set variant, oneDNN and XLA capped at AVX2, would repeat
``make test``: ``import helpers`` sets that cap itself.)

The performance chapter is left out: its compared outputs are trace counts,
which no arithmetic changes, and its timings are never compared.

``--notebooks`` limits the run (for example to one chapter while writing it).
"""

import argparse
import json
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
            "OPENBLAS_NUM_THREADS": "1",
        },
        "different",
    ),
    "one core": (["taskset", "-c", "0"], {"BOOK_WORKER_CPUS": "0,1"}, "equal"),
}
#: Not re-run here (see above).
LEFT_OUT = {"notebooks/27_performance.ipynb"}


def worker_cpu(environ):
    """The one CPU this pytest-xdist worker is to keep to, or None.

    ``BOOK_WORKER_CPUS`` lists a CPU per worker ("0,1": gw0 on CPU 0, gw1 on
    CPU 1); outside a worker, or without the variable, there is none.
    """
    cpus = environ.get("BOOK_WORKER_CPUS")
    worker = environ.get("PYTEST_XDIST_WORKER")
    if not cpus or not worker:
        return None
    listed = [int(cpu) for cpu in cpus.split(",")]
    index = int(worker.removeprefix("gw"))
    if index >= len(listed):
        raise ValueError(
            f"BOOK_WORKER_CPUS={cpus!r} names {len(listed)} CPU(s), but "
            f"worker {worker} is number {index + 1}: list a CPU per worker, "
            "or run pytest with fewer (-n)."
        )
    return listed[index]


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


def host_matches_reference():
    """Whether this host, as it is, gives the recorded numerics fingerprint."""
    sys.path.insert(0, str(ROOT / "template"))
    from nbval_numerics import run_probe

    reference = json.loads((ROOT / "tests/numerics.json").read_text())
    here = run_probe(ROOT / "tests/numerics_probe.py")
    return here["fingerprint"] == reference["fingerprint"]


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
    print(f"Host CPU: {host_isa()}.")
    chosen = list(args.variant or VARIANTS)
    if "one core" in chosen and not host_matches_reference():
        print(
            "This host's numerics fingerprint differs from the recorded one "
            "(tests/numerics.json): the one-core variant, which checks that "
            "an equal fingerprint means equal outputs, has nothing to check "
            "here and is skipped."
        )
        chosen.remove("one core")
    failed = [
        name
        for name in chosen
        if run_variant(name, *VARIANTS[name], notebooks) != 0
    ]
    if failed:
        sys.exit(
            f"\nPortability check failed for: {', '.join(failed)}. The "
            "outputs above differ on an emulated machine; see "
            "book/testing.md."
        )
    said = {
        "other numerics": "with other numerics every exact output was "
        "identical and every assertion held",
        "one core": "on one core, every output was identical",
    }
    print(
        "\nPortability check passed: "
        + "; ".join(said[name] for name in chosen)
        + "."
    )


if __name__ == "__main__":
    main()
