"""The output folder (``figures/``): one run at a time, private staging, swaps by rename, recovery after a crash.

A notebook writes its figures and ``results.json`` into a staging folder
private to the run, inside the output folder itself (so on the same
filesystem). Only when the notebook succeeds is each of its folders swapped in:

1. ``<name>`` is renamed to ``.<name>.old-<run>`` (the last good copy),
2. the staged folder is renamed to ``<name>``,
3. the old copy is deleted,

with the folder fsynced after each step. If the process dies between 1 and 2,
the next run finds ``.<name>.old-<run>`` without ``<name>`` and renames it back
(:meth:`OutputFolder.recover`); a staged folder left by a crash is deleted. Any
failure while swapping restores the old copy. Nothing is ever deleted before
its replacement is in place.

A lock file (``.lock``, ``fcntl.flock``) keeps a second run off the same
folder; its message names the other run's process. The index
(``.outputs.json``) remembers which folders each notebook wrote and whether its
last run failed, so that a failed notebook is never reported as cached.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import time
from pathlib import Path

from ..record import atomic_write_text, fsync_dir

INDEX = ".outputs.json"
LOCK = ".lock"
STAGING = ".staging"


class OutputLocked(RuntimeError):
    """Another run holds the output folder."""


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class OutputFolder:
    """The folder a run writes figures into (``figures/`` for the paper profile)."""

    def __init__(self, root: Path, run_id: str | None = None):
        self.root = Path(root)
        self.run_id = run_id or f"{os.getpid()}-{time.time_ns()}"
        self._lock_fh = None

    # ------------------------------------------------------------------ checks and lock
    def check_writable(self) -> None:
        """Create the folder if needed and refuse clearly when it cannot be written."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SystemExit(f"error: the output folder {self.root} cannot be created: {exc.strerror}") from None
        if not os.access(self.root, os.W_OK | os.X_OK):
            raise SystemExit(f"error: the output folder {self.root} is not writable")

    def lock(self) -> None:
        """Hold ``.lock`` for this run; raise :class:`OutputLocked` naming the holder if another run has it."""
        import fcntl

        self.check_writable()
        fh = open(self.root / LOCK, "a+")
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "unknown"
            fh.close()
            raise OutputLocked(f"another run (process {holder}) is writing {self.root}; wait for it to finish "
                               f"or stop it first") from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"{os.getpid()}\n")
        fh.flush()
        self._lock_fh = fh

    def unlock(self) -> None:
        if self._lock_fh is not None:
            self._lock_fh.close()
            self._lock_fh = None

    @contextlib.contextmanager
    def locked(self):
        self.lock()
        try:
            self.recover()
            yield self
        finally:
            self.unlock()

    # ------------------------------------------------------------------ staging and swap
    def staging(self, stem: str) -> Path:
        """A fresh staging folder, private to this run and notebook, on the output folder's filesystem."""
        path = self.root / STAGING / f"{stem}-{self.run_id}"
        if path.exists():
            shutil.rmtree(path)
        path.mkdir(parents=True)
        return path

    def recover(self) -> list[str]:
        """Undo what a crashed run left: put back a last good copy whose replacement never arrived, drop the rest."""
        actions = []
        for old in sorted(self.root.glob(".*.old-*")):
            name = old.name[1:].rsplit(".old-", 1)[0]
            dest = self.root / name
            if not dest.exists():
                os.replace(old, dest)
                actions.append(f"restored {name} from an interrupted swap")
            else:
                shutil.rmtree(old, ignore_errors=True)
                actions.append(f"removed the stale copy {old.name}")
        stage = self.root / STAGING
        if stage.exists():
            for p in stage.iterdir():
                shutil.rmtree(p, ignore_errors=True)
                actions.append(f"removed the staging folder {p.name} of an unfinished run")
        if actions:
            fsync_dir(self.root)
        return actions

    def swap_in(self, staged: Path) -> list[str]:
        """Swap every folder of ``staged`` into the output folder (see the module docstring); return their names."""
        names = sorted(p.name for p in staged.iterdir() if p.is_dir()) if staged.exists() else []
        for name in names:
            dest, new = self.root / name, staged / name
            old = self.root / f".{name}.old-{self.run_id}"
            had = dest.exists()
            if had:
                os.replace(dest, old)
                fsync_dir(self.root)
            try:
                os.replace(new, dest)
                fsync_dir(self.root)
            except BaseException:
                if had and old.exists() and not dest.exists():
                    os.replace(old, dest)
                    fsync_dir(self.root)
                raise
            if had:
                shutil.rmtree(old, ignore_errors=True)
        shutil.rmtree(staged, ignore_errors=True)
        return names

    # ------------------------------------------------------------------ the index
    def _read_index(self) -> dict:
        try:
            return json.loads((self.root / INDEX).read_text())
        except (OSError, ValueError):
            return {}

    def produced(self, stem: str) -> list[str]:
        entry = self._read_index().get(stem)
        if isinstance(entry, list):  # the index format before failures were recorded
            return entry
        return (entry or {}).get("folders", [])

    def last_failed(self, stem: str) -> bool:
        entry = self._read_index().get(stem)
        return isinstance(entry, dict) and entry.get("failed", False)

    def record(self, stem: str, folders: list[str] | None = None, *, failed: bool = False) -> None:
        data = self._read_index()
        entry = data.get(stem)
        entry = {"folders": entry} if isinstance(entry, list) else dict(entry or {})
        if folders is not None:
            entry["folders"] = folders
        entry["failed"] = failed
        data[stem] = entry
        atomic_write_text(self.root / INDEX, json.dumps(data, indent=1, sort_keys=True) + "\n")

    # ------------------------------------------------------------------ the cache
    def cached(self, stem: str, key: str) -> bool:
        """True when the notebook's last run succeeded with ``key`` and every figure it lists is intact."""
        folders = self.produced(stem)
        if not folders or self.last_failed(stem):
            return False
        for name in folders:
            try:
                data = json.loads((self.root / name / "results.json").read_text())
            except (OSError, ValueError):
                return False
            if data.get("run_key") != key:
                return False
            sums = data.get("checksums") or {}
            for f in data.get("figures", []):
                path = self.root / name / f
                if not path.is_file() or f not in sums or sha256(path) != sums[f]:
                    return False
        return True
