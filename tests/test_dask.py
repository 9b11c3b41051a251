"""The runner on a Dask cluster: separate scheduler and worker processes on 127.0.0.1, like machines of a cluster.

A run through ``--scheduler`` gives the same numbers as a local run; a worker that dies mid-notebook has its task
run elsewhere with every figure intact; a worker with other ilib code is refused by name; sweeps split into tasks
give the same results as in one process.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ilib.harness import runner

ROOT = Path(__file__).resolve().parent.parent
DASK = [sys.executable, "-m", "distributed.cli"]


def _own_session_dying_with_pytest():
    """In the child: its own session (so a kill reaches its whole group), and SIGKILL when pytest dies (Linux)."""
    os.setsid()
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: a killed test run leaves no cluster behind


def _spawn(args, env=None, log=None, cwd=ROOT):
    return subprocess.Popen(args, cwd=cwd, env={**os.environ, **(env or {})}, stdout=log or subprocess.DEVNULL,
                            stderr=subprocess.STDOUT, preexec_fn=_own_session_dying_with_pytest)


@pytest.fixture
def cluster(tmp_path):
    """A scheduler and two single-threaded workers (one notebook each at a time), as separate processes."""
    sched_file = tmp_path / "scheduler.json"
    procs = [_spawn([sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", "0",
                     "--no-dashboard", "--scheduler-file", str(sched_file)])]

    def worker(env=None, name=None, cwd=ROOT):
        p = _spawn([sys.executable, "-m", "distributed.cli.dask_worker", "--scheduler-file", str(sched_file),
                    "--nthreads", "1", "--resources", "notebook=1", "--no-dashboard", "--no-nanny",
                    "--name", name or f"w{len(procs)}"], env=env, cwd=cwd)
        procs.append(p)
        return p

    t0 = time.time()
    while not sched_file.exists() and time.time() - t0 < 120:
        time.sleep(0.3)
    address = json.loads(sched_file.read_text())["address"]
    workers = [worker(name="w1"), worker(name="w2")]
    from distributed import Client

    with Client(address, timeout=120) as c:
        c.wait_for_workers(2, timeout=180)
    yield address, workers, worker
    for p in procs:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        p.wait(timeout=30)


def _run(tmp, *args):
    return runner.main([*map(str, args), "--figures", str(tmp / "fig"), "--build", str(tmp / "build"), "--no-progress",
                        "--profile", "smoke", "--force", "--timeout", "1500"])  # a generous limit: a loaded machine is not a failure


def _values(tmp, stem):
    data = json.loads((tmp / "fig" / stem / "results.json").read_text())
    keep = {k: v for k, v in data["values"].items() if "timing" not in k}
    return json.dumps(keep, sort_keys=True), json.dumps(data["verdicts"], sort_keys=True)


@pytest.mark.notebooks
def test_a_run_on_the_cluster_gives_the_numbers_of_a_local_run(cluster, tmp_path):
    address, _, _ = cluster
    assert _run(tmp_path / "remote", "01", "07", "--scheduler", address) == 0
    assert _run(tmp_path / "local", "01", "07", "-j", "2") == 0
    for stem in ("01_csgm_phase_transition", "07_layerwise_inversion"):
        assert _values(tmp_path / "remote", stem) == _values(tmp_path / "local", stem), stem


def _slow_notebook(path: Path) -> Path:
    import nbformat

    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell('profile = "paper"\nseed = 0\nm = None')
    params.metadata["tags"] = ["parameters"]
    body = ("import ilib, time, matplotlib.pyplot as plt\n"
            "P = ilib.resolve_parameters(profile, {'smoke': dict(m=2), 'paper': dict(m=3)}, seed=seed, m=m)\n"
            f"rec = ilib.Recorder({path.stem!r}, parameters=P, seed=seed, profile=profile)\n"
            "time.sleep(15)\n"
            "fig, ax = plt.subplots(); ax.plot([0, 1]); rec.save_figure(fig, 'line'); rec.value('m', P['m']); rec.write()")
    nb.cells = [params, nbformat.v4.new_code_cell(body)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


def test_a_worker_that_dies_mid_notebook_has_its_task_run_elsewhere(cluster, tmp_path):
    import threading

    from distributed import Client

    address, workers, _ = cluster
    nb = _slow_notebook(tmp_path / "slow.ipynb")
    killed = []

    def kill_the_busy_worker():
        with Client(address, timeout=60) as c:
            for _ in range(600):
                busy = [w for w, tasks in c.processing().items() if tasks]
                if busy:
                    time.sleep(3)  # let the notebook start
                    info = c.scheduler_info()["workers"][busy[0]]
                    name = info["name"]
                    proc = workers[0] if name == "w1" else workers[1]
                    os.killpg(proc.pid, signal.SIGKILL)
                    killed.append(name)
                    return
                time.sleep(0.2)

    t = threading.Thread(target=kill_the_busy_worker)
    t.start()
    rc = runner.main([str(nb), "--scheduler", address, "--figures", str(tmp_path / "fig"), "--build",
                      str(tmp_path / "build"), "--no-progress", "--profile", "smoke"])
    t.join()
    assert killed, "no worker was killed"
    assert rc == 0
    figure = tmp_path / "fig" / "slow" / "line.png"
    data = json.loads((tmp_path / "fig" / "slow" / "results.json").read_text())
    assert figure.stat().st_size > 0 and data["figures"] == ["line.pdf", "line.png"] and data["values"] == {"m": 2}


def test_a_worker_with_other_ilib_code_is_refused_by_name(cluster, tmp_path):
    address, _, worker = cluster
    other = tmp_path / "other"
    shutil.copytree(ROOT / "ilib", other / "ilib", ignore=shutil.ignore_patterns("__pycache__"))
    (other / "ilib" / "stats.py").write_text((other / "ilib" / "stats.py").read_text() + "\n# changed\n")
    worker(env={"PYTHONPATH": str(other)}, name="stranger", cwd=other)  # a machine with another checkout
    from distributed import Client

    with Client(address, timeout=60) as c:
        c.wait_for_workers(3, timeout=180)
    with pytest.raises(SystemExit, match="run other ilib code.*worker stranger at tcp://127.0.0.1"):
        _run(tmp_path, "01", "--scheduler", address)


def test_a_sweep_split_into_tasks_equals_the_one_process_sweep(cluster):
    import ilib
    from ilib.experiments import csgm_phase_transition as ex
    from ilib.parallel import map_tasks

    address, _, _ = cluster
    widths = [[2, 20, 40], [3, 20, 40]]
    streams = [ilib.stream(0, "a", f"k={w[0]}") for w in widths]
    kw = dict(trials=3, restarts=2, steps=60, lr=0.05, negate_every=20, polish=1, device="cpu")
    here = ex.csgm_transitions(widths, [1, 2, 4], streams=streams, **kw)
    jobs = [dict(widths=w, m_values=[1, 2, 4], stream=s, **kw) for w, s in zip(widths, streams)]
    there = map_tasks(ex._transition_task, jobs, scheduler=address)
    for a, b in zip(here, there):
        assert (a.rel_error == b.rel_error).all() and (a.residual == b.residual).all()
