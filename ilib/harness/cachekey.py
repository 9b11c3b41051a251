"""The run key: a hash of everything a notebook's numbers depend on, so a cached result cannot be stale.

Ingredients (each one changes the key):

* the notebook file, the profile and the parameters (seed included);
* the project's source and data files, listed explicitly: every ``*.py`` under
  ``ilib/`` and every file under ``ilib/weights/`` (editor temporaries,
  ``__pycache__`` and compiled files are not part of it);
* the version of every installed distribution (numpy, scipy, torch, cvxpy,
  scikit-learn, matplotlib, ... all of them), Python's version and the machine;
* the thread count the notebook runs with and the device it would pick;
* the project's environment variables (``ILIB_*``, except the run context the
  runner itself sets).
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import sys
from importlib import metadata
from pathlib import Path

from ..record import CONTEXT_VARIABLE, REPO_ROOT

_TEMPORARY = (".swp", ".swo", ".swx", "~", ".tmp", ".orig", ".rej", ".bak")


def source_files(root: Path = REPO_ROOT) -> list[Path]:
    """The files of the package that results depend on: ``ilib/**/*.py`` and ``ilib/weights/*``, sorted."""
    pkg = root / "ilib"
    files = [p for p in pkg.rglob("*.py")]
    weights = pkg / "weights"
    if weights.is_dir():
        files += [p for p in weights.rglob("*") if p.is_file()]
    keep = []
    for p in files:
        name = p.name
        if "__pycache__" in p.parts or name.startswith((".#", "#")) or name.endswith(_TEMPORARY):
            continue
        keep.append(p)
    return sorted(set(keep))


def distributions() -> list[str]:
    """``name==version`` of every installed distribution, sorted."""
    out = set()
    for d in metadata.distributions():
        name = (d.metadata.get("Name") or "").strip().lower()
        if name:
            out.add(f"{name}=={d.version}")
    return sorted(out)


def project_environment() -> dict[str, str]:
    return {k: v for k, v in sorted(os.environ.items()) if k.startswith("ILIB_") and k not in (CONTEXT_VARIABLE,
                                                                                               "ILIB_NO_INSTALL")}


def device_name() -> str:
    """The device ``device="auto"`` resolves to, without importing torch when ILIB_DEVICE decides."""
    env = os.environ.get("ILIB_DEVICE")
    if env:
        return env
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def environment_digest() -> str:
    """The part of the key shared by every notebook of a run (computed once)."""
    h = hashlib.sha256()
    for p in source_files():
        h.update(str(p.relative_to(REPO_ROOT)).encode() + b"\0")
        h.update(hashlib.sha256(p.read_bytes()).digest())
    h.update("\n".join(distributions()).encode())
    h.update(f"{sys.version}|{platform.machine()}|{platform.system()}".encode())
    h.update(json.dumps(project_environment(), sort_keys=True).encode())
    h.update(device_name().encode())
    return h.hexdigest()


def run_key(notebook: Path, profile: str, parameters: dict, *, threads: int, environment: str) -> str:
    """The key of one notebook run (``environment`` from :func:`environment_digest`)."""
    h = hashlib.sha256()
    h.update(Path(notebook).read_bytes())
    h.update(json.dumps({"profile": profile, "parameters": parameters, "threads": int(threads)}, sort_keys=True,
                        default=str).encode())
    h.update(environment.encode())
    return h.hexdigest()[:24]
