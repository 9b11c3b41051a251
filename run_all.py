#!/usr/bin/env python3
"""Regenerate every figure of ilib, or run its tests, on a fresh machine.

    python3 run_all.py                   # install what is needed, run every notebook (paper profile)
    python3 run_all.py --tests           # install what is needed, run the test suite
    python3 run_all.py --book            # the executed notebooks of the last run as a static HTML site
    python3 run_all.py --help            # notebooks, profiles, parameters, workers, caching

On first use this creates ``.venv/`` next to this file and installs the project
into it (``pip install -e .[test]``), then re-runs itself there; later runs
reinstall only when ``pyproject.toml`` changes. Pass ``--no-install`` (or set
``ILIB_NO_INSTALL=1``) to use the current Python as it is, for instance a conda
environment made from ``environment.yml``.

Only the standard library is used before the environment exists.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
STAMP = VENV / ".ilib-installed"
# A CPU build of this torch is what the project is tested with; where pip cannot find it,
# any torch satisfying pyproject.toml's range is taken instead.
TORCH_PIN = "torch==2.13.0"


def _venv_python() -> Path:
    return VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _wanted_stamp() -> str:
    return hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()


def _run(cmd: list[str]) -> None:
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, cwd=ROOT)


def ensure_environment() -> None:
    """Create and fill ``.venv`` if needed, then re-execute this script inside it."""
    py = _venv_python()
    inside = Path(sys.prefix).resolve() == VENV.resolve()
    fresh = STAMP.exists() and STAMP.read_text().strip() == _wanted_stamp()
    if inside and fresh:
        return
    if not py.exists():
        print(f"creating the project environment in {VENV} (first run only)", flush=True)
        _run([sys.executable, "-m", "venv", str(VENV)])
    if not fresh:
        pip = [str(py), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
        if subprocess.run([str(py), "-c", "import torch"], capture_output=True).returncode != 0:
            try:
                _run(pip + [TORCH_PIN])
            except subprocess.CalledProcessError:
                print(f"{TORCH_PIN} is not available here; installing the newest torch allowed by pyproject.toml", flush=True)
        _run(pip + ["-e", ".[test]"])
        STAMP.write_text(_wanted_stamp() + "\n")
    os.execv(str(py), [str(py), str(Path(__file__).resolve()), *sys.argv[1:]])


def ensure_browser() -> None:
    """Chromium and chromedriver for the book's browser test, from the system's packages where this can install them.

    Installed with ``apt-get`` when running as root on Debian/Ubuntu (as CI does); otherwise a note says how,
    and the browser test skips. ``ILIB_NO_SYSTEM_PACKAGES=1`` turns this off.
    """
    browsers = ("chromium", "chromium-browser", "google-chrome")
    if shutil.which("chromedriver") and any(shutil.which(b) for b in browsers):
        return
    if os.environ.get("ILIB_NO_SYSTEM_PACKAGES"):
        return
    if os.name != "posix" or not shutil.which("apt-get") or os.geteuid() != 0:
        print("note: Chromium/chromedriver not found, so the book's browser test will skip; install them with "
              "`sudo apt-get install chromium chromium-driver` (Debian/Ubuntu)", flush=True)
        return
    print("installing Chromium and chromedriver for the book's browser test (apt-get; ILIB_NO_SYSTEM_PACKAGES=1 skips)",
          flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-q", "chromium", "chromium-driver"]
    if subprocess.run(install, env=env, stdout=subprocess.DEVNULL).returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], env=env, stdout=subprocess.DEVNULL)
        if subprocess.run(install, env=env, stdout=subprocess.DEVNULL).returncode != 0:
            print("note: could not install Chromium; the book's browser test will skip", flush=True)


def _parallel(args: list[str]) -> list[str]:
    """The test run on every core (pytest-xdist), unless the caller chose (``-n``, ``-p no:xdist``).

    ``--dist loadgroup`` keeps the tests that share an expensive fixture (the smoke run of every notebook, a
    grading batch) on one worker, so that it is built once; the rest are spread one test at a time.
    """
    chosen = any(a.startswith(("-n", "--numprocesses", "--dist")) or a == "no:xdist" for a in args)
    import importlib.util

    if chosen or importlib.util.find_spec("xdist") is None:
        return args
    return ["-n", "auto", "--dist", "loadgroup", *args]


def main() -> int:
    argv = sys.argv[1:]
    if "--no-install" in argv:
        argv.remove("--no-install")
    elif not os.environ.get("ILIB_NO_INSTALL"):
        ensure_environment()
    if argv[:1] == ["--tests"]:
        import pytest

        ensure_browser()

        os.chdir(ROOT)
        return pytest.main(_parallel(argv[1:]))
    from ilib.harness.runner import main as run

    return run(argv)


if __name__ == "__main__":
    sys.exit(main())
