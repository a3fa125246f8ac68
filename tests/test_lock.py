"""The lock (requirements.txt) installs from wheels on every platform.

CI runs on Linux x86-64 only, so a Mac or Windows reader's install is checked
here by asking uv to resolve the lock *for* each platform, with wheels only (no
source builds, which would need compilers a reader may not have). This needs
the package index, as `make install` does.
"""

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
UV = Path(sys.executable).parent / "uv"
LOCK = ROOT / "requirements.txt"
OVERRIDES = ROOT / "requirements-overrides.txt"

#: uv's name of each platform -> the marker environment it stands for.
PLATFORMS = {
    "x86_64-manylinux_2_28": {
        "sys_platform": "linux",
        "platform_machine": "x86_64",
        "os_name": "posix",
        "platform_system": "Linux",
    },
    "aarch64-manylinux_2_28": {
        "sys_platform": "linux",
        "platform_machine": "aarch64",
        "os_name": "posix",
        "platform_system": "Linux",
    },
    "aarch64-apple-darwin": {
        "sys_platform": "darwin",
        "platform_machine": "arm64",
        "os_name": "posix",
        "platform_system": "Darwin",
    },
    "x86_64-pc-windows-msvc": {
        "sys_platform": "win32",
        "platform_machine": "AMD64",
        "os_name": "nt",
        "platform_system": "Windows",
    },
}
#: The oldest macOS the lock is checked for: onnxruntime 1.32 has macOS arm64
#: wheels for 14.0 (Sonoma) and newer only, and uv assumes 13.0 unless told.
MACOS = "14.0"
#: 3.11 twice: the lock gives soupsieve another version below 3.11.5.
PYTHONS = ("3.11.0", "3.11.9", "3.12.0", "3.13.0")


def _requirements(path):
    """Every requirement of a requirements file (comments dropped)."""
    lines = (
        line.split(" #")[0].strip() for line in path.read_text().splitlines()
    )
    return [
        Requirement(line)
        for line in lines
        if line and not line.startswith("#")
    ]


def _lock_for(platform, python):
    """The lock's pins for ``platform`` and ``python``: {name: version}."""
    env = {
        **PLATFORMS[platform],
        "python_version": python.rsplit(".", 1)[0],
        "python_full_version": python,
        "implementation_name": "cpython",
        "platform_python_implementation": "CPython",
    }
    return {
        _name(r): str(r.specifier)
        for r in _requirements(LOCK)
        if r.marker is None or r.marker.evaluate(env)
    }


def _name(requirement):
    return requirement.name.lower().replace("_", "-")


def _resolve(platform, python):
    command = [
        str(UV),
        "pip",
        "compile",
        str(LOCK),
        "--overrides",
        str(OVERRIDES),
        "--python-platform",
        platform,
        "--python-version",
        python,
        "--only-binary",
        ":all:",
        "--no-header",
        "--no-annotate",
        "--quiet",
    ]
    env = {**os.environ, "MACOSX_DEPLOYMENT_TARGET": MACOS}
    return subprocess.run(
        command, capture_output=True, text=True, timeout=600, cwd=ROOT, env=env
    )


@pytest.fixture(scope="module")
def resolutions():
    """uv's resolution of the lock for every platform and Python."""
    pairs = [(p, v) for p in PLATFORMS for v in PYTHONS]
    with ThreadPoolExecutor(max_workers=4) as pool:
        runs = list(pool.map(lambda pair: _resolve(*pair), pairs))
    return dict(zip(pairs, runs, strict=True))


@pytest.mark.parametrize("python", PYTHONS)
@pytest.mark.parametrize("platform", sorted(PLATFORMS))
def test_the_lock_resolves_to_wheels_and_nothing_else(
    resolutions, platform, python
):
    run = resolutions[(platform, python)]
    assert run.returncode == 0, (
        f"no wheel-only install on {platform}, Python {python}:\n{run.stderr}"
    )
    resolved = {
        _name(r): str(r.specifier)
        for r in map(
            Requirement,
            (
                line
                for line in run.stdout.splitlines()
                if line.strip() and not line.startswith("#")
            ),
        )
    }
    # Exactly the lock's own pins for that platform: nothing missing, nothing
    # added.
    assert resolved == _lock_for(platform, python)


@pytest.mark.parametrize("platform", sorted(PLATFORMS))
def test_each_platform_gets_exactly_one_tensorflow(platform):
    pins = _lock_for(platform, "3.11.9")
    wheels = {"tensorflow", "tensorflow-cpu"} & set(pins)
    expected = (
        "tensorflow-cpu" if platform.startswith("x86_64") else "tensorflow"
    )
    assert wheels == {expected}, f"{platform}: {sorted(wheels)}"


def test_every_direct_pin_is_in_the_lock():
    # requirements.in edited without `make lock` would leave the two out of
    # step.
    locked = {(_name(r), str(r.specifier)) for r in _requirements(LOCK)}
    for requirement in _requirements(ROOT / "requirements.in"):
        assert (_name(requirement), str(requirement.specifier)) in locked, (
            f"{requirement.name}{requirement.specifier} is in requirements.in "
            "but not in requirements.txt: run `make lock`."
        )


def test_the_makefile_installs_the_uv_the_lock_pins():
    makefile = (ROOT / "Makefile").read_text()
    pinned = {_name(r): str(r.specifier) for r in _requirements(LOCK)}["uv"]
    assert f"UV_VERSION := {pinned.removeprefix('==')}" in makefile
