import json
import os
import subprocess
import sys
from pathlib import Path

# Tests run single-threaded per process so that parallel workers do not oversubscribe the CPU.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import ilib.harness  # noqa: E402,F401  (first: it spares every test process jsonschema's IRI grammars)
import torch  # noqa: E402

torch.set_num_threads(int(os.environ.get("ILIB_NUM_THREADS", "1")))


import pytest  # noqa: E402
from filelock import FileLock  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory):
    """Every notebook in the smoke profile, run once per session exactly as a user would (``run_all.py``).

    Under pytest-xdist the tests that use it are grouped on one worker; should the grouping fail (pytest 9.2 broke
    pytest-xdist's, hence the pin in pyproject.toml), a file lock still makes the run once: the first worker to
    ask makes it, the others wait and read its outputs (pytest-xdist's documented pattern).
    """
    cmd = [sys.executable, str(ROOT / "run_all.py"), "--no-install", "--profile", "smoke", "-j", "2", "--force",
           "--no-progress"]
    if "PYTEST_XDIST_WORKER" not in os.environ:  # one process: no other worker to share with
        tmp = tmp_path_factory.mktemp("smoke")
        return tmp, _smoke(cmd, tmp)
    tmp = tmp_path_factory.getbasetemp().parent / "smoke"
    done = tmp / "proc.json"
    with FileLock(str(tmp) + ".lock"):
        if not done.is_file():
            tmp.mkdir(exist_ok=True)
            proc = _smoke(cmd, tmp)
            done.write_text(json.dumps({"args": proc.args, "returncode": proc.returncode, "stdout": proc.stdout,
                                        "stderr": proc.stderr}))
    return tmp, subprocess.CompletedProcess(**json.loads(done.read_text()))


def _smoke(cmd, tmp):
    return subprocess.run(cmd + ["--figures", str(tmp / "figures"), "--build", str(tmp / "build")], cwd=ROOT,
                          capture_output=True, text=True, timeout=1500, env={**os.environ, "PYTHONHASHSEED": "0"})


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist's own hook, which reads the marks to group the tests
def pytest_collection_modifyitems(config, items):
    """Under pytest-xdist (``run_all.py --tests`` runs on every core), every test of the smoke run goes to one
    worker, so that the run of every notebook is made once per session, not once per worker."""
    for item in items:
        if "smoke_run" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.xdist_group("smoke"))


def pytest_configure(config):
    # pytest-xdist registers this marker itself; without xdist (-p no:xdist) the marks are plain labels
    config.addinivalue_line("markers", "xdist_group(name): tests that one pytest-xdist worker runs together")
