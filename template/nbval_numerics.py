"""nbval with two kinds of output: exact ones, and numerics ones.

A pytest plugin for notebooks tested with nbval (``--nbval``, strict). Copy
this file next to your ``conftest.py`` and load it there::

    pytest_plugins = ["nbval_numerics"]

**Exact** outputs (shapes, graphs, counts, error messages) are the same on
every machine, and stay compared digit for digit. **Numerics** outputs (the
results of training: anything whose printed digits follow the order in which
floats were added) can differ in their last digits from one CPU to another.
Their cells carry the cell tag ``numerics`` and assert what they claim.

Before the notebooks run, the plugin runs a short *probe* (a Python script
named by the ini option ``numerics_probe``) that hashes the float bits of the
kernels the notebooks train with, and compares its fingerprint with the one
recorded, next to the stored outputs, where they were made (the JSON file
named by ``numerics_reference``):

* **equal**: this machine computes what the notebooks' machine computed, and
  every cell is compared strictly, ``numerics`` cells too;
* **different**: ``numerics`` cells run and each must finish without an error
  (so every ``assert`` in them holds), but their text is not compared; every
  other cell is still compared strictly, and one whose output changed fails
  with a message saying to make it exact or tag it.

Either way pytest prints the mode, both fingerprints and how many cells were
checked by their assertions alone. A cell tagged ``numerics`` that also
stores an error (``raises-exception``) must still raise the stored exception
type in the *different* mode.

Record a new reference after re-executing the notebooks::

    python nbval_numerics.py record numerics_probe.py numerics.json

Needs pytest and nbval; works with pytest-xdist (the probe runs once, in the
controlling process), given ``--dist loadfile`` so that all cells of one
notebook run in one kernel, in order.
"""

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

TAG = "numerics"
EQUAL, DIFFERENT = "equal", "different"
_PROPERTY = "numerics-check"


# --- the probe's side: what a probe script calls -------------------------


def bits_digest(*arrays):
    """A short hex digest of the exact bytes of NumPy-like arrays."""
    digest = hashlib.sha256()
    for array in arrays:
        array = getattr(array, "numpy", lambda a=array: a)()
        digest.update(str(array.dtype).encode())
        digest.update(str(array.shape).encode())
        digest.update(array.tobytes())
    return digest.hexdigest()[:16]


def fingerprint(parts):
    """Run each probe part and combine their digests.

    ``parts`` maps a name to a function of no arguments that returns a
    sequence of arrays. Returns ``{"fingerprint": ..., "parts": {...}}``: the
    digest of every part, and one over all of them.
    """
    if not parts:
        raise ValueError(
            "fingerprint() needs at least one probe part: a name mapped to a "
            "function returning the arrays whose bits to hash."
        )
    digests = {name: bits_digest(*run()) for name, run in parts.items()}
    combined = hashlib.sha256(json.dumps(digests, sort_keys=True).encode())
    return {"fingerprint": combined.hexdigest()[:16], "parts": digests}


def probe_main(parts):
    """The body of a probe script: print :func:`fingerprint` as JSON."""
    json.dump(fingerprint(parts), sys.stdout, indent=1, sort_keys=True)
    print()


# --- running a probe -------------------------------------------------------


def _with_this_folder_on_path(environ):
    env = dict(environ)
    here = str(Path(__file__).resolve().parent)
    env["PYTHONPATH"] = os.pathsep.join(
        [here] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    )
    return env


def run_probe(probe, timeout=600):
    """Run the probe script ``probe`` in a fresh Python; return its JSON.

    The probe inherits this process's environment, CPU affinity and
    interpreter, as the notebooks' kernels do, and can import this module
    wherever it lives (this module's folder is put on its ``PYTHONPATH``).
    """
    probe = Path(probe)
    if not probe.is_file():
        raise FileNotFoundError(
            f"numerics probe {probe} not found: set the ini option "
            "numerics_probe to the path of your probe script."
        )
    done = subprocess.run(
        [sys.executable, str(probe)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=_with_this_folder_on_path(os.environ),
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"the numerics probe {probe} failed (exit {done.returncode}):\n"
            + done.stderr[-3000:]
        )
    try:
        result = json.loads(done.stdout)
        result["fingerprint"]
    except (ValueError, KeyError, TypeError):
        raise RuntimeError(
            f"the numerics probe {probe} printed no fingerprint; it must end "
            "with nbval_numerics.probe_main(parts). It printed:\n"
            + done.stdout[-3000:]
        ) from None
    return result


def record(probe, reference):
    """Run ``probe`` and write its result to the file ``reference``."""
    result = run_probe(probe)
    Path(reference).write_text(json.dumps(result, indent=1, sort_keys=True))
    return result


# --- the pytest side -------------------------------------------------------


def pytest_addoption(parser):
    parser.addini(
        "numerics_probe",
        "probe script whose fingerprint decides how numerics cells are "
        "compared (nbval_numerics)",
        default="numerics_probe.py",
    )
    parser.addini(
        "numerics_reference",
        "JSON file holding the fingerprint recorded with the stored outputs",
        default="numerics.json",
    )


def _nbval_on(config):
    """nbval is on, and the run may collect notebooks (not one test file)."""
    if not (
        getattr(config.option, "nbval", False)
        or getattr(config.option, "nbval_lax", False)
    ):
        return False
    if any(
        getattr(config.option, name, False)
        for name in ("help", "markers", "showfixtures", "version")
    ):
        return False
    for arg in config.args or ["."]:
        path = Path(config.invocation_params.dir, arg.split("::")[0])
        if path.suffix == ".ipynb" or (
            path.is_dir() and next(path.rglob("*.ipynb"), None) is not None
        ):
            return True
    return False


def _resolve(config, name):
    return Path(config.rootpath, config.getini(name))


def _state(config):
    """``{"mode", "here", "reference", ...}``, computed once per session."""
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None and "nbval_numerics" in workerinput:
        return workerinput["nbval_numerics"]
    reference_path = _resolve(config, "numerics_reference")
    if not reference_path.is_file():
        raise pytest.UsageError(
            f"no recorded numerics fingerprint at {reference_path}: record "
            "it where the stored outputs were made (python nbval_numerics.py "
            "record PROBE REFERENCE)."
        )
    try:
        reference = json.loads(reference_path.read_text())
        reference["fingerprint"]
        here = run_probe(_resolve(config, "numerics_probe"))
    except (
        OSError,
        ValueError,
        KeyError,
        TypeError,
        RuntimeError,
        subprocess.TimeoutExpired,
    ) as error:
        raise pytest.UsageError(f"nbval_numerics: {error}") from None
    same = here["fingerprint"] == reference["fingerprint"]
    return {
        "mode": EQUAL if same else DIFFERENT,
        "here": here["fingerprint"],
        "reference": reference["fingerprint"],
        "parts_differing": sorted(
            name
            for name in here["parts"].keys()
            | reference.get("parts", {}).keys()
            if reference.get("parts", {}).get(name) != here["parts"].get(name)
        ),
    }


def pytest_configure(config):
    if _nbval_on(config):
        config._nbval_numerics = _state(config)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node):
    """pytest-xdist: hand the controller's probe result to each worker."""
    state = getattr(node.config, "_nbval_numerics", None)
    if state is not None:
        node.workerinput["nbval_numerics"] = state


def mode_line(state):
    """The line that names the mode and both fingerprints."""
    if state["mode"] == EQUAL:
        how = "numerics cells compared strictly"
    else:
        how = (
            "numerics cells checked by their assertions only (parts "
            f"differing: {', '.join(state['parts_differing']) or 'none'})"
        )
    return (
        f"numerics: {state['mode']} (here {state['here']}, reference "
        f"{state['reference']}): {how}"
    )


def pytest_report_header(config):
    state = getattr(config, "_nbval_numerics", None)
    return None if state is None else mode_line(state)


def _tags(item):
    return item.cell.metadata.get("tags", [])


def _ename(outputs):
    return [o.get("ename") for o in outputs if o.get("output_type") == "error"]


def _assertions_only(item):
    """compare_outputs for a numerics cell on other numerics."""

    def compare(test, ref, skip_compare=None):
        if _ename(test) != _ename(ref):
            item.comparison_traceback = [
                f"stored error(s) {_ename(ref)}, now {_ename(test)}: a "
                "numerics cell must raise what it stored"
            ]
            return False
        return True

    return compare


def _strict_with_hint(item, state):
    """compare_outputs for an untagged cell on other numerics."""
    strict = item.compare_outputs

    def compare(test, ref, skip_compare=None):
        if strict(test, ref, skip_compare):
            return True
        item.comparison_traceback.append(
            f"This cell is not tagged '{TAG}', and its output changed on "
            f"other numerics (fingerprint here {state['here']}, reference "
            f"{state['reference']}). Print only what is the same on every "
            "machine (a shape, a count, a rounded value far from a tie, a "
            f"checked claim), or tag the cell '{TAG}' with an assert of "
            "what it claims."
        )
        return False

    return compare


def pytest_collection_modifyitems(config, items):
    state = getattr(config, "_nbval_numerics", None)
    if state is None:
        return
    for item in items:
        if not hasattr(item, "cell") or not hasattr(item, "compare_outputs"):
            continue
        tagged = TAG in _tags(item)
        if tagged:
            item.user_properties.append((_PROPERTY, "tagged"))
        if state["mode"] == EQUAL:
            continue
        if tagged:
            item.compare_outputs = _assertions_only(item)
            item.user_properties.append((_PROPERTY, "assertions"))
        else:
            item.compare_outputs = _strict_with_hint(item, state)


def pytest_runtest_logreport(report):
    """Count tagged cells, in the controller (xdist forwards reports)."""
    if report.when != "call":
        return
    values = {v for k, v in report.user_properties if k == _PROPERTY}
    _COUNTS["tagged"] += "tagged" in values
    _COUNTS["assertions"] += "assertions" in values and report.passed


#: Cells tagged numerics, and those checked by assertion only (and passed).
_COUNTS = {"tagged": 0, "assertions": 0}


def _cells(count):
    return f"{count} cell" + ("" if count == 1 else "s")


def pytest_terminal_summary(terminalreporter, config):
    state = getattr(config, "_nbval_numerics", None)
    if state is None or hasattr(config, "workerinput"):
        return
    terminalreporter.write_line(
        mode_line(state) + f"; {_cells(_COUNTS['tagged'])} tagged {TAG}, "
        f"{_COUNTS['assertions']} checked by assertion only"
    )


def main(argv=None):
    """``python nbval_numerics.py record PROBE REFERENCE`` (or ``show``)."""
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) == 3 and argv[0] == "record":
        result = record(argv[1], argv[2])
        print(f"recorded numerics fingerprint {result['fingerprint']}")
    elif len(argv) == 2 and argv[0] == "show":
        print(json.dumps(run_probe(argv[1]), indent=1, sort_keys=True))
    else:
        sys.exit(
            "usage: python nbval_numerics.py record PROBE REFERENCE\n"
            "       python nbval_numerics.py show PROBE"
        )


if __name__ == "__main__":
    main()
