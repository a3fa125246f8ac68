"""Spelling of all the project writes: prose, code, comments (codespell).

Notebooks are checked by their cell sources only: their outputs hold base64
images and library messages, which are not ours to spell.
"""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CODESPELL = Path(sys.executable).parent / "codespell"
TEXT_FILES = [
    "README.md",
    "Makefile",
    "requirements.in",
    "_toc.yml",
    "_config.yml",
    ".ci/run",
    "book",
    "helpers",
    "tests",
    "benchmarks",
]


def _codespell(*paths):
    return subprocess.run(
        [str(CODESPELL), *map(str, paths)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_notebook_sources_are_spelled_right(tmp_path):
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        text = "\n".join("".join(cell["source"]) for cell in cells)
        (tmp_path / f"{path.name}.txt").write_text(text, encoding="utf-8")
    run = _codespell(tmp_path)
    assert run.returncode == 0, f"misspelt in notebooks:\n{run.stdout}"


def test_text_and_code_are_spelled_right():
    # codespell passes a path that does not exist: a renamed file would drop
    # out of the check unnoticed.
    missing = [path for path in TEXT_FILES if not (ROOT / path).exists()]
    assert not missing, f"TEXT_FILES names paths that do not exist: {missing}"
    run = _codespell(*TEXT_FILES)
    assert run.returncode == 0, f"misspelt:\n{run.stdout}"


def test_the_check_can_fail(tmp_path):
    # Built from two halves, so that this file itself stays correctly spelt.
    (tmp_path / "bad.md").write_text("The graph is traced sepe" + "rately.\n")
    assert _codespell(tmp_path).returncode != 0
