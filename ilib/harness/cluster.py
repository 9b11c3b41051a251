"""Where the runner's work runs: a Dask ``LocalCluster`` of ``-j`` worker processes, or an existing cluster.

``run_all.py`` (default) starts a local cluster of ``-j`` single-threaded worker
processes, each able to run one notebook at a time (the ``notebook`` resource);
``run_all.py --scheduler ADDRESS`` (or ``ILIB_SCHEDULER=ADDRESS``) connects to a
cluster started elsewhere instead::

    dask scheduler                                        # prints tcp://HOST:8786
    dask worker tcp://HOST:8786 --nthreads 1 --resources notebook=1   # on each machine, in the project's env

(on Slurm or PBS, ``dask-jobqueue`` starts such workers as batch jobs). Before
anything runs, every worker must have the same ``ilib`` version and source
hash as the runner (:func:`check_workers`), so that a result never comes from
other code.
"""

from __future__ import annotations

import hashlib
import logging
import os
from contextlib import contextmanager

from .. import __version__
from ..record import REPO_ROOT

SCHEDULER_VARIABLE = "ILIB_SCHEDULER"


def source_digest() -> str:
    """The ``ilib`` version and a hash of its source and weight files, as this process sees them."""
    import ilib

    from . import cachekey

    root = os.path.dirname(os.path.dirname(os.path.abspath(ilib.__file__)))
    h = hashlib.sha256(__version__.encode())
    from pathlib import Path

    for p in cachekey.source_files(Path(root)):
        h.update(p.relative_to(root).as_posix().encode() + b"\0")
        h.update(hashlib.sha256(p.read_bytes()).digest())
    return f"{__version__}+{h.hexdigest()[:16]}"


class WorkerMismatch(RuntimeError):
    """A worker runs other ``ilib`` code than the runner."""


def check_workers(client) -> dict:
    """Refuse, naming it, any worker whose ``ilib`` version or source hash differs from the runner's."""
    mine = source_digest()
    theirs = client.run(source_digest)
    bad = {addr: d for addr, d in theirs.items() if d != mine}
    if bad:
        names = {a: w.get("name") for a, w in client.scheduler_info().get("workers", {}).items()}
        lines = ", ".join(f"worker {names.get(addr, addr)!s} at {addr} has {d}" for addr, d in sorted(bad.items()))
        raise WorkerMismatch(f"worker(s) run other ilib code than this runner ({mine}): {lines}; install the same "
                             "checkout on every worker")
    if not theirs:
        raise WorkerMismatch("the cluster has no workers")
    return theirs


def notebook_resources(client) -> dict | None:
    """``{"notebook": 1}`` when some worker declares the resource (one notebook per worker at a time), else None."""
    workers = client.scheduler_info().get("workers", {})
    if any("notebook" in (w.get("resources") or {}) for w in workers.values()):
        return {"notebook": 1}
    return None


@contextmanager
def connect(scheduler: str | None, jobs: int):
    """A Dask client: to ``scheduler`` when given (or ``$ILIB_SCHEDULER``), else to a fresh local cluster."""
    from distributed import Client, LocalCluster

    address = scheduler or os.environ.get(SCHEDULER_VARIABLE) or None
    if address:
        client = Client(address, timeout=60, set_as_default=False)
        try:
            yield client, address
        finally:
            client.close()
        return
    cluster = LocalCluster(n_workers=jobs, threads_per_worker=1, processes=True, resources={"notebook": 1},
                           dashboard_address="127.0.0.1:0", silence_logs=logging.ERROR,  # a free port, never "8787 in use"
                           local_directory=str(REPO_ROOT / "build" / "dask"))
    client = Client(cluster, set_as_default=False)
    try:
        yield client, cluster.scheduler_address
    finally:
        try:
            client.close()
        finally:
            cluster.close()
