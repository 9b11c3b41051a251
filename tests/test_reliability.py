"""The runner under faults: stopping, killing, crashing mid-swap, full disks, two runs at once, stale caches.

Each test injects one fault and checks that nothing is lost: no process is left running, the last good figures
stay, and a result the cache serves is one whose figures are intact and whose run succeeded.
"""

import errno
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import psutil
import pytest

from ilib import record
from ilib.harness import cachekey, runner
from ilib.harness.outputs import OutputFolder, OutputLocked

ROOT = Path(__file__).resolve().parent.parent
CACHED = re.compile(r"^\S+\s+cached\s", re.M)  # a table row whose status is cached

PARAMS = 'profile = "paper"\nseed = 0\nm = None\n'
WRITES = """
import ilib, matplotlib.pyplot as plt
P = ilib.resolve_parameters(profile, {"smoke": dict(m=2), "paper": dict(m=3)}, seed=seed, m=m)
rec = ilib.Recorder(NAME, parameters=P, seed=seed, profile=profile)
fig, ax = plt.subplots(); ax.plot([0, P["m"]]); rec.save_figure(fig, "line")
rec.value("m", P["m"])
rec.write()
"""


def _notebook(path: Path, body: str) -> Path:
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell(PARAMS)
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params] + [nbformat.v4.new_code_cell(b.replace("NAME", repr(path.stem))) for b in body.split("\n#---\n")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


def _args(tmp, *extra):
    return [*map(str, extra), "--figures", str(tmp / "fig"), "--build", str(tmp / "build"), "--no-progress",
            "--profile", "smoke"]


def _start(tmp, nb):
    cmd = [sys.executable, str(ROOT / "run_all.py"), "--no-install", *_args(tmp, nb)]
    return subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)


def _wait_for(path: Path, timeout: float = 120) -> str:
    t0 = time.time()
    while time.time() - t0 < timeout:
        if path.exists() and path.read_text().strip():
            return path.read_text()
        time.sleep(0.2)
    raise AssertionError(f"{path} never appeared")


def _gone(pids, timeout=15.0) -> bool:
    t0 = time.time()
    while time.time() - t0 < timeout:
        alive = [p for p in pids if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]
        if not alive:
            return True
        time.sleep(0.2)
    return False


def _sleeper(tmp) -> tuple[Path, Path]:
    pidfile = tmp / "pids.txt"
    nb = _notebook(tmp / "sleeper.ipynb", f"import os, time, pathlib\npathlib.Path({str(pidfile)!r}).write_text("
                                          f"f'{{os.getpid()}} {{os.getppid()}}')\ntime.sleep(600)")
    return nb, pidfile


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_stops_the_run_its_worker_and_its_kernel(tmp_path, sig):
    nb, pidfile = _sleeper(tmp_path)
    proc = _start(tmp_path, nb)
    kernel, worker = map(int, _wait_for(pidfile).split())
    proc.send_signal(sig)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 130, out
    assert "INTERRUPTED" in out
    assert _gone([kernel, worker]), "a worker or kernel outlived the runner"
    assert not (tmp_path / "fig" / "sleeper").exists()


def test_a_killed_runner_leaves_no_worker_or_kernel(tmp_path):
    nb, pidfile = _sleeper(tmp_path)
    proc = _start(tmp_path, nb)
    kernel, worker = map(int, _wait_for(pidfile).split())
    proc.kill()  # SIGKILL: no handler runs in the runner
    proc.wait(timeout=30)
    assert _gone([kernel, worker]), "the worker (parent-death signal) or its kernel (parent poller) kept running"


def test_a_timeout_kills_the_kernel_and_names_the_cell(tmp_path, capsys):
    nb, pidfile = _sleeper(tmp_path)
    rc = runner.main(_args(tmp_path, nb, "--timeout", "30"))
    out = capsys.readouterr().out
    kernel, worker = map(int, pidfile.read_text().split())
    assert rc == 1 and "TIMEOUT" in out
    assert "code cell 2 of 2 (notebook cell 2: import os, time, pathlib)" in out and "executed notebook" in out
    assert _gone([kernel, worker])


def _good_run(tmp):
    nb = _notebook(tmp / "good.ipynb", WRITES)
    assert runner.main(_args(tmp, nb)) == 0
    return nb, tmp / "fig" / "good"


def test_a_crash_between_the_two_renames_is_recovered_at_the_next_start(tmp_path, monkeypatch):
    nb, folder = _good_run(tmp_path)
    before = (folder / "line.png").read_bytes()
    out = OutputFolder(tmp_path / "fig")
    staged = out.staging("good")
    (staged / "good").mkdir()
    (staged / "good" / "results.json").write_text("{}")
    real = os.replace
    calls = []

    def crash(src, dst):
        calls.append((src, dst))
        if len(calls) == 2:  # the first rename (old copy aside) happened; the process "dies" before the second
            raise KeyboardInterrupt("killed")
        return real(src, dst)

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        out.swap_in(staged)
    monkeypatch.setattr(os, "replace", real)
    # the swap's own handler put the old copy back; simulate the harder case, a kill with the copy aside
    if folder.exists():
        os.replace(folder, tmp_path / "fig" / ".good.old-999")
    assert not folder.exists()
    actions = OutputFolder(tmp_path / "fig").recover()
    assert any("restored good" in a for a in actions)
    assert (folder / "line.png").read_bytes() == before
    assert not list((tmp_path / "fig").glob(".good.old-*"))


def test_a_full_disk_keeps_the_last_good_file_and_leaves_no_temporary(tmp_path, monkeypatch):
    target = tmp_path / "results.json"
    record.atomic_write_text(target, "old")

    class Full:
        def __init__(self, fh):
            self.fh = fh

        def __enter__(self):
            return self

        def __exit__(self, *a):
            self.fh.close()

        def write(self, data):
            raise OSError(errno.ENOSPC, "No space left on device")

    real = os.fdopen
    monkeypatch.setattr(os, "fdopen", lambda fd, mode: Full(real(fd, mode)))
    with pytest.raises(OSError, match="No space"):
        record.atomic_write_text(target, "new")
    monkeypatch.setattr(os, "fdopen", real)
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]


def test_a_notebook_that_fails_after_writing_figures_keeps_the_last_good_ones_and_is_not_cached(tmp_path, capsys):
    nb, folder = _good_run(tmp_path)
    good = (folder / "line.png").read_bytes()
    nb.write_text(nb.read_text().replace("plot([0, P[\\\"m\\\"]])", "plot([5, 1])").replace(
        "rec.write()", "rec.write()\\nraise ValueError('late')"))
    assert runner.main(_args(tmp_path, nb)) == 1
    assert (folder / "line.png").read_bytes() == good
    # put the good notebook back: its last run failed, so it runs again instead of being served from the cache
    _notebook(nb, WRITES)
    capsys.readouterr()
    assert runner.main(_args(tmp_path, nb)) == 0
    assert not CACHED.search(capsys.readouterr().out)
    assert not list((tmp_path / "fig").glob(".staging/*"))


def test_a_second_run_on_the_same_folder_is_refused_naming_the_first(tmp_path):
    nb = _notebook(tmp_path / "good.ipynb", WRITES)
    holder = OutputFolder(tmp_path / "fig")
    holder.lock()
    try:
        with pytest.raises(SystemExit, match=f"another run \\(process {os.getpid()}\\)"):
            runner.main(_args(tmp_path, nb))
    finally:
        holder.unlock()
    assert runner.main(_args(tmp_path, nb)) == 0  # free again


def test_a_cached_result_with_a_changed_figure_is_run_again(tmp_path, capsys):
    nb, folder = _good_run(tmp_path)
    capsys.readouterr()
    assert runner.main(_args(tmp_path, nb)) == 0
    assert CACHED.search(capsys.readouterr().out)
    (folder / "line.png").write_bytes(b"not the figure that was recorded")
    assert runner.main(_args(tmp_path, nb)) == 0
    assert not CACHED.search(capsys.readouterr().out)


def test_notebooks_run_outside_the_runner_never_touch_figures(tmp_path, monkeypatch):
    """A papermill (or JupyterLab) run writes under build/interactive, never into the committed figures/."""
    import papermill as pm

    monkeypatch.delenv(record.CONTEXT_VARIABLE, raising=False)
    nb = _notebook(tmp_path / "zz_interactive_probe.ipynb", WRITES)
    figures = ROOT / "figures"
    before = {p: p.stat().st_mtime_ns for p in figures.rglob("*") if p.is_file()}
    pm.execute_notebook(str(nb), str(tmp_path / "out.ipynb"), parameters={"profile": "smoke"}, kernel_name="python3",
                        progress_bar=False)
    try:
        assert (ROOT / "build" / "interactive" / "smoke" / "figures" / "zz_interactive_probe" / "line.png").exists()
        assert {p: p.stat().st_mtime_ns for p in figures.rglob("*") if p.is_file()} == before
        assert not (figures / "zz_interactive_probe").exists()
    finally:
        import shutil

        shutil.rmtree(ROOT / "build" / "interactive" / "smoke" / "figures" / "zz_interactive_probe", ignore_errors=True)


def test_written_files_are_readable_by_others(tmp_path):
    nb, folder = _good_run(tmp_path)
    for p in folder.iterdir():
        assert p.stat().st_mode & 0o044, f"{p.name} is not readable by group and others"


# --------------------------------------------------------------------------- the cache key
def test_every_ingredient_changes_the_key(tmp_path, monkeypatch):
    nb = _notebook(tmp_path / "k.ipynb", WRITES)
    env = cachekey.environment_digest()
    base = cachekey.run_key(nb, "smoke", {"m": 2}, threads=1, environment=env)
    assert cachekey.run_key(nb, "smoke", {"m": 2}, threads=1, environment=env) == base
    assert cachekey.run_key(nb, "paper", {"m": 2}, threads=1, environment=env) != base
    assert cachekey.run_key(nb, "smoke", {"m": 3}, threads=1, environment=env) != base
    assert cachekey.run_key(nb, "smoke", {"m": 2, "seed": 1}, threads=1, environment=env) != base
    assert cachekey.run_key(nb, "smoke", {"m": 2}, threads=2, environment=env) != base
    nb.write_text(nb.read_text().replace("m=2", "m=4"))
    assert cachekey.run_key(nb, "smoke", {"m": 2}, threads=1, environment=env) != base

    monkeypatch.setattr(cachekey, "distributions", lambda: ["scipy==0.0.1"])
    assert cachekey.environment_digest() != env
    monkeypatch.undo()
    monkeypatch.setenv("ILIB_WEIGHTS_DIR", "/elsewhere")
    assert cachekey.environment_digest() != env
    monkeypatch.delenv("ILIB_WEIGHTS_DIR")
    monkeypatch.setenv("ILIB_DEVICE", "cpu:1")
    assert cachekey.environment_digest() != env
    monkeypatch.delenv("ILIB_DEVICE")
    monkeypatch.setenv(record.CONTEXT_VARIABLE, '{"out": "/x"}')  # the runner's own context is not an ingredient
    assert cachekey.environment_digest() == env


def test_the_key_covers_source_and_weight_files_but_not_editor_temporaries(tmp_path):
    pkg = tmp_path / "ilib"
    (pkg / "weights").mkdir(parents=True)
    for name in ("a.py", "weights/w.npy", ".#a.py", "a.py~", "b.py.swp", "__pycache__/a.cpython-311.pyc"):
        (pkg / name).parent.mkdir(parents=True, exist_ok=True)
        (pkg / name).write_text("x")
    got = [p.relative_to(pkg).as_posix() for p in cachekey.source_files(tmp_path)]
    assert got == ["a.py", "weights/w.npy"]
    versions = cachekey.distributions()
    assert any(v.startswith("torch==") for v in versions) and any(v.startswith("scipy==") for v in versions)
    assert any(v.startswith("cvxpy==") for v in versions) and any(v.startswith("matplotlib==") for v in versions)


# --------------------------------------------------------------------------- bad input, before a kernel starts
NB01 = ["01"]
BAD = [
    (["-p", "trials", "0"], "'trials' must be >= 1"),
    (["-p", "trials", "2.5"], "'trials' must be an integer"),
    (["-p", "trials", "5.0"], "'trials' must be an integer"),
    (["-p", "trials", "True"], "'trials' must be an integer"),
    (["-p", "trials", "'ten'"], "'trials' must be an integer"),
    (["-p", "lr", "0"], "'lr' must be > 0"),
    (["-p", "lr", "-0.1"], "'lr' must be > 0"),
    (["-p", "lr", "1e400"], "'lr' must be finite"),
    (["-p", "lr", "nan"], "'lr' must be a number"),
    (["-p", "noise", "-1"], "'noise' must be >= 0"),
    (["-p", "noise", "0"], "'noise' must be positive"),
    (["-p", "offset", "1e400"], "'offset' must be finite"),
    (["-p", "k_values", "[]"], "'k_values' must be a non-empty list"),
    (["-p", "k_values", "[2, 0]"], "'k_values' \\(an element\\) must be >= 1"),
    (["-p", "k_values", "[2, 500]"], "'k_values' must be at most n"),
    (["-p", "k_values", "5"], "'k_values' must be a non-empty list"),
    (["-p", "m_values", "[1.5]"], "'m_values' \\(an element\\) must be an integer"),
    (["-p", "delta_values", "[0.5, 1.0]"], "'delta_values' \\(an element\\) must be > 0 and < 1"),
    (["-p", "delta_values", "[0]"], "'delta_values' \\(an element\\) must be > 0"),
    (["-p", "rho_values", "[1.5]"], "'rho_values' \\(an element\\) must be > 0 and <= 1"),
    (["-p", "n_l1", "1"], "'n_l1' must be >= 2"),
    (["-p", "sweep_k", "300"], "'sweep_k' must be at most every sweep_n_values"),
    (["-p", "polish", "-1"], "'polish' must be >= 0"),
    (["-p", "hidden", "None"], None),  # None means the profile's value: accepted
    (["-p", "trails", "5"], "does not declare parameter\\(s\\) \\['trails'\\]"),
    (["-p", "profile", "smoke"], "set the profile with --profile"),
    (["-p", "02:trials", "5"], "names notebook 02_srec, which is not being run"),
    (["-p", "seed", "-1"], "'seed' must be an integer in"),
    (["-p", "seed", "1.5"], "'seed' must be an integer in"),
    (["-p", "seed", str(2**63)], "'seed' must be an integer in"),
    (["-j", "0"], "jobs must be at least 1"),
    (["--threads", "0"], "--threads must be a positive integer"),
    (["--threads", "many"], "--threads must be a positive integer"),
    (["--timeout", "0"], "--timeout must be a positive"),
    (["--timeout", "-5"], "--timeout must be a positive"),
    (["--seeds", "0", "0"], "repeated seeds"),
    (["-p", "trials", str(10**9)], "not enough memory"),
]


@pytest.mark.parametrize("args, message", BAD, ids=[" ".join(a) for a, _ in BAD])
def test_bad_input_is_refused_before_any_kernel_starts_naming_it(tmp_path, args, message, monkeypatch):
    started = []

    def execute(tasks, todo, outcomes, bar, **kw):
        started.extend(todo)
        outcomes.update({i: runner.Outcome(notebook=tasks[i].path.stem, status="ok") for i in todo})

    monkeypatch.setattr(runner, "execute", execute)
    full = _args(tmp_path, *NB01, *args)
    if message is None:
        assert runner.main(full) == 0
        return
    with pytest.raises(SystemExit, match=message):
        runner.main(full)
    assert not started


def test_unknown_notebooks_and_unwritable_folders_are_refused(tmp_path):
    with pytest.raises(SystemExit, match="matches no notebook"):
        runner.main(_args(tmp_path, "99_none"))
    blocked = tmp_path / "file"
    blocked.write_text("x")
    with pytest.raises(SystemExit, match="cannot be created"):
        runner.main(["01", "--figures", str(blocked / "fig"), "--build", str(tmp_path / "b"), "--profile", "smoke",
                     "--no-progress"])


def test_recorder_refuses_a_value_json_cannot_hold_at_once(tmp_path):
    rec = record.Recorder("nb", parameters={}, seed=0, profile="smoke", root=tmp_path)
    with pytest.raises(TypeError, match="'obj' cannot be recorded|obj cannot be recorded"):
        rec.value("obj", object())
    with pytest.raises(TypeError, match=r"v\[1\] cannot be recorded"):
        rec.value("v", [1, {2}])
    rec.value("inf", float("inf"))
    assert json.loads(rec.write().read_text())["values"]["inf"] == float("inf")
