"""The worker process: executes one notebook with papermill, reports progress, and dies with its runner.

The runner starts ``python -m ilib.harness.worker JOB.json`` in a session of its
own. The worker

* asks the kernel (Linux) to send it SIGTERM when its parent dies
  (``PR_SET_PDEATHSIG``), and also polls its parent, so that a runner killed
  with SIGKILL or by ``timeout`` leaves no worker behind; the kernel, in turn,
  exits when its parent, the worker, is gone (ipykernel's parent poller);
* writes ``progress.json`` at the start of every cell (cell *n* of *N* and its
  first line), which the runner shows and quotes when a notebook times out;
* writes ``error.json`` (the failing cell, in the source notebook's numbering,
  and the error) when the notebook raises.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
import traceback
from pathlib import Path

from ..record import atomic_write_text

PROGRESS = "progress.json"
ERROR = "error.json"
USAGE = "usage.json"


def die_with_parent(parent: int) -> None:
    """End this process when ``parent`` ends: PR_SET_PDEATHSIG on Linux, plus a polling thread everywhere."""
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG = 1
    except (OSError, AttributeError):  # not Linux: the poller below does the job
        pass
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(130)

    def poll() -> None:
        while True:
            if os.getppid() != parent:
                os._exit(130)
            time.sleep(0.5)

    threading.Thread(target=poll, daemon=True, name="ilib-parent-poller").start()


def first_line(source: str) -> str:
    return next((ln.strip() for ln in source.splitlines() if ln.strip()), "")[:70]


def _source_cell(cells, index: int) -> tuple[int | None, str]:
    """The 1-based position of executed cell ``index`` in the source notebook (papermill's cells left out)."""
    skip = {"injected-parameters", "papermill-error-cell-tag"}
    n = 0
    for i, c in enumerate(cells):
        if skip & set(c.metadata.get("tags", [])):
            continue
        n += 1
        if i == index:
            return n, first_line(c.source)
    return None, ""


def _engine(progress: Path, total_cells: list):
    """A papermill engine that writes ``progress`` at the start of every cell."""
    from papermill.engines import NBClientEngine

    class ProgressEngine(NBClientEngine):
        @classmethod
        def execute_managed_notebook(cls, nb_man, kernel_name, **kwargs):
            cells = nb_man.nb.cells
            own = lambda c: c.cell_type == "code" and "injected-parameters" not in c.metadata.get("tags", [])  # noqa: E731
            total = sum(1 for c in cells if own(c))
            total_cells.append(total)
            start = nb_man.cell_start

            def cell_start(cell, cell_index=None, **kw):
                if own(cell):
                    pos, line = _source_cell(cells, cell_index)
                    done = sum(1 for c in cells[:cell_index] if own(c))
                    atomic_write_text(progress, json.dumps({
                        "cell": pos, "code_cell": done + 1, "code_cells": total, "first_line": line,
                        "started": time.time()}))
                return start(cell, cell_index, **kw)

            nb_man.cell_start = cell_start
            return super().execute_managed_notebook(nb_man, kernel_name, **kwargs)

    return ProgressEngine


def execute(job: dict) -> int:
    """Run one notebook as ``job`` describes (paths, parameters, kernel cwd); 0 on success."""
    import nbformat
    import papermill as pm
    from papermill.engines import papermill_engines

    workdir = Path(job["workdir"])
    progress, error = workdir / PROGRESS, workdir / ERROR
    totals: list = []
    papermill_engines.register("ilib-progress", _engine(progress, totals))
    try:
        pm.execute_notebook(job["notebook"], job["executed"], parameters=job["parameters"], kernel_name="python3",
                            cwd=job["cwd"], progress_bar=False, log_output=False, engine_name="ilib-progress")
        return 0
    except pm.PapermillExecutionError as exc:
        pos, line = None, ""
        try:  # the first cell with an error output (papermill adds an error banner cell at the top)
            cells = nbformat.read(job["executed"], as_version=4).cells
            failing = next(i for i, c in enumerate(cells) if "papermill-error-cell-tag" not in c.metadata.get("tags", [])
                           and any(o.get("output_type") == "error" for o in c.get("outputs", [])))
            pos, line = _source_cell(cells, failing)
        except Exception:  # the executed copy may be unreadable
            pass
        info = {"cell": pos, "first_line": line, "ename": exc.ename, "evalue": exc.evalue}
    except Exception as exc:  # the kernel died, a bad notebook file, ...
        info = {"cell": None, "first_line": "", "ename": type(exc).__name__, "evalue": str(exc),
                "trace": traceback.format_exc()[-2000:]}
    atomic_write_text(error, json.dumps(info))
    return 1


# --------------------------------------------------------------------------- one task, on any machine
def collect_files(root: Path) -> dict[str, bytes]:
    """Every file under ``root``, by its path relative to ``root``."""
    out = {}
    if root.exists():
        for p in sorted(root.rglob("*")):
            if p.is_file():
                out[p.relative_to(root).as_posix()] = p.read_bytes()
    return out


#: environment variables that Dask's nanny sets in its workers (``distributed.nanny.pre-spawn-environ``) for its
#: own memory management, and that a notebook's kernel must not inherit: ``MALLOC_TRIM_THRESHOLD_`` fixes
#: glibc's mmap threshold, so that every large tensor is mapped and unmapped afresh (page faults on every
#: allocation): measured on notebook 12 (2 threads), sections (b) and (d) ran 2.3x and 3.0x slower in the kernel
#: than in a plain process, with a third of the kernel's time in the system.
DASK_WORKER_ONLY = ("MALLOC_TRIM_THRESHOLD_",)


def kernel_environment(env: dict, task: dict) -> dict:
    """Give the kernel the runner's values of :data:`DASK_WORKER_ONLY` (``task["inherit"]``), not the Dask worker's."""
    inherit = task.get("inherit") or {}
    for var in DASK_WORKER_ONLY:
        if inherit.get(var) is None:
            env.pop(var, None)
        else:
            env[var] = str(inherit[var])
    return env


def run_task(task: dict) -> dict:
    """Execute one notebook where this function runs (a Dask worker, or the runner's own machine).

    The notebook's source travels in ``task["source"]``; it runs in a temporary
    folder in a worker subprocess (:func:`main`) with the task's parameters, thread
    count and run key, under the task's time limit, and stops early when the run's
    stop event is set. Nothing is written outside the temporary folder: the
    figures, ``results.json``, the executed notebook and the error report come
    back as bytes in the returned dict, for the runner to write atomically.
    """
    import shutil
    import subprocess
    import tempfile

    from ..record import RunContext
    from .process import kill_tree

    tmp = Path(tempfile.mkdtemp(prefix=f"ilib-{task['stem']}-"))
    try:
        nb_path = tmp / f"{task['stem']}.ipynb"
        nb_path.write_bytes(task["source"])
        staging = tmp / "staging"
        staging.mkdir()
        job = {"notebook": str(nb_path), "executed": str(tmp / "executed.ipynb"), "parameters": task["parameters"],
               "cwd": str(tmp), "workdir": str(tmp), "parent": os.getpid()}
        (tmp / "job.json").write_text(json.dumps(job))
        env = dict(os.environ)
        env.update(RunContext(out=staging, run_key=task["key"], threads=task["threads"],
                              scheduler=task.get("scheduler")).to_env())
        for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
            env[var] = str(task["threads"])
        kernel_environment(env, task)
        env.update(MPLBACKEND="Agg", PYTHONHASHSEED="0")
        stop = _stop_event(task)
        t0 = time.perf_counter()
        with open(tmp / "worker.log", "wb") as log:
            proc = subprocess.Popen([sys.executable, "-m", "ilib.harness.worker", str(tmp / "job.json")], env=env,
                                    start_new_session=True, stdout=log, stderr=subprocess.STDOUT, cwd=str(tmp))
        seceded = _secede()
        why, last = None, None
        try:
            while True:
                try:
                    rc = proc.wait(timeout=0.5)
                    break
                except subprocess.TimeoutExpired:
                    rc = None
                p = _read_json(tmp / PROGRESS)
                if p != last and task.get("progress_queue"):
                    _report(task, p)
                    last = p
                if stop is not None and stop.is_set():
                    why = "INTERRUPTED"
                    break
                if time.perf_counter() - t0 > task["timeout"]:
                    why = "TIMEOUT"
                    break
        finally:
            if proc.poll() is None:
                kill_tree(proc)
            if seceded:
                _rejoin()
        return {"rc": proc.returncode, "why": why, "wall": time.perf_counter() - t0,
                "files": collect_files(staging), "executed": _read_bytes(tmp / "executed.ipynb"),
                "error": _read_json(tmp / ERROR), "progress": _read_json(tmp / PROGRESS),
                "usage": _read_json(tmp / USAGE), "threads": task["threads"],
                "log": _read_bytes(tmp / "worker.log")[-4000:].decode(errors="replace"),
                "host": _host()}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _read_json(path: Path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:
        return b""


def _host() -> str:
    import socket

    return socket.gethostname()


def _in_dask():
    try:
        from distributed import get_worker

        return get_worker()
    except (ImportError, ValueError):
        return None


def _stop_event(task):
    if not task.get("stop_event") or _in_dask() is None:
        return None
    from distributed import Event

    return Event(task["stop_event"])


def _secede() -> bool:
    """Give the Dask worker's thread back while the notebook runs, so its sweeps can run on this worker too."""
    if _in_dask() is None:
        return False
    from distributed import secede

    secede()
    return True


def _rejoin() -> None:
    from distributed import rejoin

    rejoin()


def _report(task, progress) -> None:
    from distributed import Queue

    try:
        Queue(task["progress_queue"]).put({"label": task["label"], "progress": progress}, timeout=2)
    except Exception:  # progress is best effort; the notebook goes on
        pass


def resource_usage() -> dict:
    """CPU seconds and peak resident memory (MB) of this process and the children it has waited for (the kernel)."""
    import resource

    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    scale = 1 / 1024 if sys.platform != "darwin" else 1 / 2**20  # ru_maxrss: KiB on Linux, bytes on macOS
    return {"cpu_s": me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime,
            "kernel_cpu_s": kids.ru_utime + kids.ru_stime,
            "peak_mb": max(me.ru_maxrss, kids.ru_maxrss) * scale}


def main(argv: list[str]) -> int:
    (job_path,) = argv
    job = json.loads(Path(job_path).read_text())
    die_with_parent(int(job["parent"]))
    signal.signal(signal.SIGTERM, lambda *_: os._exit(143))
    try:
        return execute(job)
    finally:
        atomic_write_text(Path(job["workdir"]) / USAGE, json.dumps(resource_usage()))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
