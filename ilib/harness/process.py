"""Ending a process together with everything it started (its kernel, its solvers)."""

from __future__ import annotations

import signal
import subprocess

GRACE_S = 3.0  # between SIGTERM and SIGKILL


def kill_tree(proc: subprocess.Popen, grace: float = GRACE_S) -> None:
    """End ``proc`` and every process below it: SIGTERM, then SIGKILL after ``grace`` seconds."""
    import psutil

    try:
        root = psutil.Process(proc.pid)
        procs = [root] + root.children(recursive=True)
    except psutil.NoSuchProcess:
        procs = []
    for p in procs:
        try:
            p.send_signal(signal.SIGTERM)
        except psutil.NoSuchProcess:
            pass
    _, alive = psutil.wait_procs(procs, timeout=grace)
    for p in alive:
        try:
            p.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(alive, timeout=grace)
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:  # pragma: no cover - a process that survives SIGKILL
        pass
