"""Run the book on another stack: ``make compat STACK=colab`` (or ``floor``).

The pinned stack (``requirements.txt``) is checked by ``make test``, every
stored output compared. A reader on Colab, or on a project's older pins, runs
other versions of TensorFlow and Keras, where some texts legitimately differ
(an error message reworded, a weight path renamed) while every claim must
still hold. This script, run with the stack's own Python (``.venv-colab`` or
``.venv-floor``, which ``make compat`` installs from ``compat/<stack>.txt``),
checks what must hold there:

1. the helper unit tests pass (``tests/``, but for the checks of the
   repository itself: lock, style, spelling, hygiene, indexes);
2. every notebook executes, each in a fresh kernel, and
   * no cell errors unless it is tagged ``raises-exception``; assertions are
     in the cells, so every assertion holds;
   * every ``raises-exception`` cell still raises, the stored exception type;
   * a cell whose metadata says it needs a newer version
     (``"needs": {"keras": "3.13"}``) must pass at or above that version;
     below it, it still runs in its place, does not count, and must *not*
     hold (else its note overstates what it needs). A whole notebook may
     say so in its metadata: below that version it is skipped;
3. the text of every other cell is compared with the stored output, after
   ``tests/nbval_sanitize.cfg``, and the cells that differ are reported. Cells
   tagged ``numerics`` or ``nbval-ignore-output`` are not compared (their
   digits follow the arithmetic, which another TensorFlow may order
   differently); the report counts them;
4. the committed table behind ``book/versions.md`` (``compat/versions.json``)
   must name exactly the cells whose text differs on this stack, each with
   a digest of what it prints there (but for stderr), and every number its
   notes state must be in an output: a stale, missing or changed entry fails
   the run, so the page stays true.

The report goes to ``_build/compat/<stack>.md`` (and ``.json``).
``--update-table`` writes the observed cells into the table, keeping the
notes (a new entry gets an empty note, which ``make test`` refuses until it
is written).
"""

import argparse
import difflib
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from importlib import metadata
from pathlib import Path

from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
TABLE = ROOT / "compat" / "versions.json"
STACKS = ("colab", "floor")
#: Test files that check the repository, not the helpers: they run with
#: ``make test`` on the pinned stack only.
REPOSITORY_CHECKS = {
    "test_error_index.py",
    "test_helpers_index.py",
    "test_lock.py",
    "test_nbhygiene_checks.py",
    "test_notebook_hygiene.py",
    "test_portability_run.py",
    "test_spelling.py",
    "test_style.py",
    "test_versions.py",
}
#: Not compared as text (see the module docstring).
UNCOMPARED_TAGS = {"numerics", "nbval-ignore-output"}


def installed(package):
    """The installed version of a distribution (TensorFlow under either name),
    or None."""
    names = {"tensorflow": ("tensorflow", "tensorflow-cpu")}.get(
        package, (package,)
    )
    for name in names:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return None


def unmet(needs):
    """The requirements of a ``needs`` mapping that this stack does not meet,
    as 'keras>=3.13' strings."""
    if not isinstance(needs, dict) or not needs:
        raise ValueError(
            f"'needs' must map package names to versions, such as "
            f'{{"keras": "3.13"}}; got {needs!r}'
        )
    missing = []
    for package, first in sorted(needs.items()):
        have = installed(package)
        if have is None or Version(have) < Version(first):
            missing.append(f"{package}>={first}")
    return missing


#: Beside nbval's patterns: the time and thread id that start a line of
#: TensorFlow's C++ log (W0000 00:00:1796205105.292798  16681 x.cc:364] ...),
#: which older versions write where a cell prints what a converter logged.
LOG_PREFIX = (re.compile(r"\b([IWEF])\d{4} [\d:]+\.\d+ +\d+ "), r"\1 ")


def sanitizers():
    """The (pattern, replacement) pairs of tests/nbval_sanitize.cfg, and
    :data:`LOG_PREFIX`."""
    pairs, pattern = [LOG_PREFIX], None
    for line in (
        (ROOT / "tests" / "nbval_sanitize.cfg").read_text().splitlines()
    ):
        if line.startswith("regex:"):
            pattern = re.compile(line.split(":", 1)[1].strip())
        elif line.startswith("replace:") and pattern is not None:
            pairs.append((pattern, line.split(":", 1)[1].strip()))
            pattern = None
    return pairs


def exact_digest(cell, pairs):
    """A short digest of what a cell prints but for its stderr, where
    TensorFlow's C++ log lines carry times and process ids."""
    quiet = dict(
        cell,
        outputs=[
            o for o in cell.get("outputs", []) if o.get("name") != "stderr"
        ],
    )
    return hashlib.sha256(cell_text(quiet, pairs).encode()).hexdigest()[:12]


def cell_text(cell, pairs):
    """What nbval compares of a code cell's outputs, as one sanitised text."""
    parts, stream = [], None
    for output in cell.get("outputs", []):
        kind = output["output_type"]
        if kind == "stream" and output["name"] == stream:
            # consecutive chunks of one stream are one text, as nbval and
            # `make execute` merge them: how the kernel flushed is not output
            parts[-1] += output["text"]
            continue
        stream = output["name"] if kind == "stream" else None
        if kind == "stream":
            parts.append(f"[{output['name']}]\n{output['text']}")
        elif kind in ("execute_result", "display_data"):
            text = output.get("data", {}).get("text/plain", "")
            parts.append(f"[{kind}]\n{''.join(text)}")
        elif kind == "error":
            parts.append(f"[error]\n{output['ename']}: {output['evalue']}")
    text = "\n".join(parts)
    for pattern, replacement in pairs:
        text = pattern.sub(replacement, text)
    return text


def error_of(cell):
    """The (ename, evalue) of a cell's error output, or None."""
    for output in cell.get("outputs", []):
        if output["output_type"] == "error":
            return output["ename"], output["evalue"]
    return None


def first_line(cell):
    """The cell's first line of code, for a report a reader can search."""
    lines = [line for line in cell["source"].splitlines() if line.strip()]
    return lines[0][:70] if lines else ""


# --- one notebook ----------------------------------------------------------


def prepare(nb):
    """{cell id: unmet needs} of the cells whose needs this stack does not
    meet. They still run, in their place (skipping one would change what
    the cells after it see less than its failing does), but their outcome
    is reversed: each must *not* hold here, or its note overstates what it
    needs."""
    gated = {}
    for cell in nb.cells:
        needs = cell.metadata.get("needs")
        if cell.cell_type == "code" and needs is not None:
            missing = unmet(needs)
            if missing:
                gated[cell.id] = missing
    return gated


def check_cell(number, stored, fresh, pairs):
    """Compare one executed cell with its stored version.

    Returns (failure or None, the text's diff or None, compared: bool).
    """
    tags = set(stored.metadata.get("tags", []))
    was, now = error_of(stored), error_of(fresh)
    where = f"code cell {number} ({first_line(stored)!r})"
    failure = None
    if "raises-exception" in tags:
        if now is None:
            failure = f"{where}: tagged raises-exception, but raised nothing"
        elif was is not None and now[0] != was[0]:
            failure = (
                f"{where}: raised {now[0]} ({now[1][:200]!r}), "
                f"the stored output raises {was[0]}"
            )
    elif now is not None:
        failure = f"{where}: {now[0]}: {now[1][:300]}"
    if tags & UNCOMPARED_TAGS:
        return failure, None, False
    old, new = cell_text(stored, pairs), cell_text(fresh, pairs)
    if old == new:
        return failure, None, True
    diff = difflib.unified_diff(
        old.splitlines(), new.splitlines(), "stored", "this stack", lineterm=""
    )
    return failure, "\n".join(list(diff)[2:40]), True


def run_notebook(path):
    """Execute one notebook in a fresh kernel and check it (see the module
    docstring). Runs in a worker process."""
    import nbformat
    from nbclient import NotebookClient

    path = Path(path)
    stored = nbformat.read(path, as_version=4)
    result = {
        "notebook": path.stem,
        "skipped": {},
        "failures": [],
        "differs": [],
        "compared": 0,
        "uncompared": 0,
        "cells": 0,
    }
    needs = stored.metadata.get("needs")
    if needs is not None and unmet(needs):
        result["skipped_notebook"] = unmet(needs)
        return result
    fresh = nbformat.read(path, as_version=4)
    result["skipped"] = prepare(fresh)
    start = time.monotonic()
    client = NotebookClient(
        fresh,
        timeout=600,
        kernel_name=os.environ["BOOK_COMPAT_KERNEL"],
        allow_errors=True,
        record_timing=False,
        resources={"metadata": {"path": str(path.parent)}},
    )
    # The kernel's own stderr (TensorFlow's C++ log, ipykernel's notices) goes
    # to a log file beside the report, not into the run's output.
    logs = ROOT / "_build" / "compat" / "kernel-logs"
    logs.mkdir(parents=True, exist_ok=True)
    with open(logs / f"{path.stem}.log", "w") as log:
        try:
            client.execute(stderr=log)
        except Exception as error:  # a timeout or a dead kernel
            result["failures"].append(f"the kernel stopped: {error!r}"[:500])
    result["seconds"] = round(time.monotonic() - start)
    # the executed notebook, for a reader who wants to see the outputs
    nbformat.write(fresh, logs.parent / f"{path.stem}.ipynb")
    pairs = sanitizers()
    result["stored text"] = "\n".join(
        cell_text(cell, pairs)
        for cell in stored.cells
        if cell.cell_type == "code"
    )
    code = [
        (old, new)
        for old, new in zip(stored.cells, fresh.cells, strict=True)
        if old.cell_type == "code"
    ]
    for number, (old, new) in enumerate(code, start=1):
        if old.id in result["skipped"]:
            if check_cell(number, old, new, pairs)[0] is None:
                result["failures"].append(
                    f"code cell {number} ({first_line(old)!r}) holds on this "
                    f"stack, though it says it needs "
                    f"{', '.join(result['skipped'][old.id])}: lower its "
                    '"needs" (and its note)'
                )
            continue
        result["cells"] += 1
        failure, differs, compared = check_cell(number, old, new, pairs)
        if failure:
            result["failures"].append(failure)
        if differs:
            result["differs"].append(
                {
                    "id": old.id,
                    "cell": number,
                    "first line": first_line(old),
                    "diff": differs,
                    "text": cell_text(new, pairs),
                    "digest": exact_digest(new, pairs),
                }
            )
        result["compared" if compared else "uncompared"] += 1
    return result


# --- the stack as a whole --------------------------------------------------


def kernel_spec(folder):
    """A kernel spec running this interpreter, in a folder for JUPYTER_PATH."""
    name = "book-compat"
    spec = Path(folder) / "kernels" / name
    spec.mkdir(parents=True)
    argv = [
        sys.executable,
        "-m",
        "ipykernel_launcher",
        "-f",
        "{connection_file}",
    ]
    (spec / "kernel.json").write_text(
        json.dumps({"argv": argv, "display_name": name, "language": "python"})
    )
    return name


def unit_tests():
    """Run the helper unit tests with this stack; return pytest's exit code."""
    files = sorted(
        str(p.relative_to(ROOT))
        for p in (ROOT / "tests").glob("test_*.py")
        if p.name not in REPOSITORY_CHECKS
    )
    print(f"\n=== helper unit tests ({len(files)} files)", flush=True)
    command = [sys.executable, "-m", "pytest", *files, "-q", "--no-header"]
    return subprocess.run(command, cwd=ROOT).returncode


#: A number in a note: 1724, 3.2, 2.20.1 (not the 2 of arg2).
NUMBER = re.compile(r"(?<![\w.])\d+(?:\.\d+)*(?![\w.]*\d)")


def unshown_numbers(note, shown):
    """The numbers of a note that are not in ``shown`` (a text); a version's
    release (3.13 of 3.13.2) counts as shown."""
    found = set()
    for number in NUMBER.findall(shown):
        parts = number.split(".")
        found.update(".".join(parts[:k]) for k in range(1, len(parts) + 1))
    return [n for n in NUMBER.findall(note) if n not in found]


def table_problems(stack, results):
    """Where the committed table disagrees with what this run observed.

    Beside the cells, every number a note states must be in what the cells
    it lists print on this stack or in the stored outputs, or be one of the
    stacks' versions: a note's figures come from outputs too.
    """
    table = json.loads(TABLE.read_text())
    versions_text = json.dumps(table["stacks"])
    problems = []
    for result in results:
        entry = table["chapters"].get(result["notebook"], {}).get(stack, {})
        shown = "\n".join(
            [versions_text, result.get("stored text", "")]
            + [cell["text"] for cell in result["differs"]]
        )
        for number in unshown_numbers(entry.get("note", ""), shown):
            problems.append(
                f"{result['notebook']}: the {stack} note says {number}, which "
                "no output of the chapter shows"
            )
        listed = set(entry.get("differs", []))
        seen = {cell["id"] for cell in result["differs"]}
        for cell in result["differs"]:
            if cell["id"] not in listed:
                problems.append(
                    f"{result['notebook']}: code cell {cell['cell']} "
                    f"({cell['first line']!r}, id {cell['id']}) differs on "
                    f"{stack}, and {TABLE.name} does not list it"
                )
        recorded = entry.get("differs", {})
        for cell in result["differs"]:
            if isinstance(recorded, dict) and recorded.get(cell["id"]) not in (
                None,
                cell["digest"],
            ):
                problems.append(
                    f"{result['notebook']}: code cell {cell['cell']} "
                    f"({cell['first line']!r}) prints other text on {stack} "
                    f"than {TABLE.name} recorded: check its note"
                )
        for cell_id in sorted(listed - seen):
            problems.append(
                f"{result['notebook']}: {TABLE.name} lists cell id {cell_id} "
                f"as differing on {stack}, but its text is the stored one"
            )
    return problems


def update_table(stack, results):
    """Write the observed cells into the table, keeping its notes."""
    table = json.loads(TABLE.read_text())
    for result in results:
        chapter = table["chapters"].setdefault(result["notebook"], {})
        entry = chapter.setdefault(stack, {})
        entry["differs"] = {c["id"]: c["digest"] for c in result["differs"]}
        entry.setdefault("note", "")
        if not entry["differs"] and not entry["note"]:
            del chapter[stack]
        if not chapter:
            del table["chapters"][result["notebook"]]
    text = json.dumps(table, indent=1, sort_keys=True, ensure_ascii=False)
    TABLE.write_text(text + "\n")


def versions():
    """The versions that make this stack, as the report prints them."""
    names = ("tensorflow", "keras", "tf-keras", "numpy", "jax")
    have = {name: installed(name) or "not installed" for name in names}
    have["python"] = ".".join(map(str, sys.version_info[:3]))
    return have


def report(stack, results, problems, tests_code):
    """Write _build/compat/<stack>.md and .json; return the summary lines."""
    out = ROOT / "_build" / "compat"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{stack}.json").write_text(json.dumps(results, indent=1) + "\n")
    cells = sum(r["cells"] for r in results)
    skipped = sum(len(r["skipped"]) for r in results)
    failures = [
        f"{r['notebook']}: {f}" for r in results for f in r["failures"]
    ]
    lines = [
        f"# The book on the {stack} stack",
        "",
        ", ".join(f"{k} {v}" for k, v in versions().items()),
        "",
        f"- helper unit tests: {'passed' if tests_code == 0 else 'FAILED'}",
        f"- notebooks: {len(results)}; code cells run: {cells}; below their "
        f"version (run, must not hold, not counted): {skipped}",
        f"- failures: {len(failures)}",
        f"- text compared in {sum(r['compared'] for r in results)} cells, "
        f"differs in {sum(len(r['differs']) for r in results)}; not compared "
        f"(numerics, nbval-ignore-output): "
        f"{sum(r['uncompared'] for r in results)}",
        f"- table ({TABLE.name}) disagreements: {len(problems)}",
        "",
    ]
    for result in results:
        if result.get("skipped_notebook"):
            lines.append(
                f"## {result['notebook']}: skipped, needs "
                + ", ".join(result["skipped_notebook"])
            )
            continue
        lines.append(f"## {result['notebook']} ({result.get('seconds', 0)} s)")
        lines += [f"- FAILED {f}" for f in result["failures"]]
        lines += [
            f"- below its version: cell {cell_id}, needs {', '.join(needs)}"
            for cell_id, needs in result["skipped"].items()
        ]
        lines += [
            f"- text differs: code cell {c['cell']} ({c['first line']!r}, "
            f"id {c['id']})\n\n  ```diff\n"
            + "\n".join("  " + line for line in c["diff"].splitlines())
            + "\n  ```"
            for c in result["differs"]
        ]
    lines += ["", *[f"- {p}" for p in problems]]
    (out / f"{stack}.md").write_text("\n".join(lines) + "\n")
    return lines[:10], failures


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--stack", choices=STACKS, required=True)
    parser.add_argument("--notebooks", nargs="*", help="default: all of them")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--no-unit-tests", action="store_true")
    parser.add_argument("--update-table", action="store_true")
    args = parser.parse_args(argv)
    print("Stack:", versions(), flush=True)
    tests_code = 0 if args.no_unit_tests else unit_tests()
    notebooks = args.notebooks or sorted(
        str(p) for p in (ROOT / "notebooks").glob("*.ipynb")
    )
    with tempfile.TemporaryDirectory() as folder:
        os.environ["BOOK_COMPAT_KERNEL"] = kernel_spec(folder)
        os.environ["JUPYTER_PATH"] = os.pathsep.join(
            [folder, *filter(None, [os.environ.get("JUPYTER_PATH")])]
        )
        print(
            f"\n=== {len(notebooks)} notebooks, {args.jobs} at a time",
            flush=True,
        )
        with ProcessPoolExecutor(args.jobs) as pool:
            results = []
            for result in pool.map(run_notebook, notebooks):
                results.append(result)
                print(
                    f"{result['notebook']}: {result['cells']} cells, "
                    f"{len(result['skipped'])} below their version, "
                    f"{len(result['failures'])} failed, "
                    f"{len(result['differs'])} differ "
                    f"({result.get('seconds', 0)} s)",
                    flush=True,
                )
    if args.update_table:
        update_table(args.stack, results)
    # after an update, what remains to check is the notes' numbers
    problems = [] if args.notebooks else table_problems(args.stack, results)
    summary, failures = report(args.stack, results, problems, tests_code)
    print("\n" + "\n".join(summary))
    for line in failures + problems:
        print("-", line)
    if tests_code or failures or problems:
        sys.exit(
            f"\nThe {args.stack} stack: the book does not hold as "
            f"book/versions.md says (report: _build/compat/{args.stack}.md)."
        )
    checked = (
        ""
        if args.notebooks or args.update_table
        else (", and the table behind book/versions.md is true")
    )
    print(
        f"\nThe {args.stack} stack: every claim held{checked}; report in "
        f"_build/compat/{args.stack}.md."
        + (
            " The table was written from this run (--update-table), or not"
            " checked (--notebooks)."
            if not checked
            else ""
        )
    )


if __name__ == "__main__":
    main()
