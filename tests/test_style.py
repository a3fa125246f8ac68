"""One formatter and linter for the project: ruff (see pyproject.toml).

`make format` applies both; these tests fail when a file was not formatted or
a lint rule is broken, and say which (run `make format`, then fix the rest).
"""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUFF = Path(sys.executable).parent / "ruff"


def _ruff(*args):
    return subprocess.run(
        [str(RUFF), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_every_file_is_formatted():
    run = _ruff("format", "--check", ".")
    assert run.returncode == 0, f"run `make format`:\n{run.stdout}{run.stderr}"


def test_no_lint_findings():
    run = _ruff("check", "--output-format", "concise", ".")
    assert run.returncode == 0, f"ruff check found:\n{run.stdout}{run.stderr}"


def test_the_checks_can_fail(tmp_path):
    # The control: an unformatted, unused import in a file ruff is pointed at.
    bad = tmp_path / "bad.py"
    bad.write_text("import os\nx=( 1 )\n")
    assert _ruff("format", "--check", str(bad)).returncode != 0
    assert _ruff("check", str(bad)).returncode != 0
