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
    # The controls, with the project's own settings: an unformatted file, an
    # unused import, and a line of 80 characters (the project allows 79).
    config = ("--config", str(ROOT / "pyproject.toml"))
    bad = tmp_path / "bad.py"
    bad.write_text("x=( 1 )\n")
    assert _ruff("format", "--check", *config, str(bad)).returncode != 0
    bad.write_text("import os\n")
    assert _ruff("check", *config, str(bad)).returncode != 0
    bad.write_text("x = 1  # " + "y" * 71 + "\n")
    assert len(bad.read_text().rstrip("\n")) == 80
    assert _ruff("check", *config, str(bad)).returncode != 0
