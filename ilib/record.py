"""Figures and results: atomic writes with provenance.

Every notebook makes one :class:`Recorder`. It saves each figure as PDF and PNG
under ``<root>/<notebook>/`` and writes ``<root>/<notebook>/results.json``
with the measured values, the parameters, the seed, versions, the git commit,
section timings and the verdicts of the notebook's declared claims.

Where outputs go is decided in one place, :func:`run_context`: the runner
(``run_all.py``) hands every notebook a context naming its private staging
folder and run key; a notebook run any other way (papermill, nbconvert,
JupyterLab) writes under ``build/interactive/<profile>/figures/`` and never
touches the committed ``figures/``.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import math
import os
import platform
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch

REPO_ROOT = Path(__file__).resolve().parent.parent


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def fsync_dir(path: Path) -> None:
    """Flush a folder's entries (renames, new files) to disk; a no-op where folders cannot be opened."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically: a temporary file in the same folder, fsynced, renamed, folder fsynced.

    The file gets the usual permissions (``0o666`` less the umask, so readable by
    others), not the ``0o600`` of a temporary file. If writing fails (a full
    disk), the old file is left as it was and the temporary file is removed.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
        fsync_dir(path.parent)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def to_jsonable(value: Any, name: str = "value") -> Any:
    """Convert tensors, arrays and numpy scalars to plain JSON values.

    NaN and infinities stay what they are (written as JSON's ``NaN``,
    ``Infinity``, as Python's :mod:`json` reads them). Anything else that JSON
    cannot hold raises ``TypeError`` naming ``name``, at once rather than when
    the file is written.
    """
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    if isinstance(value, np.ndarray):
        return to_jsonable(value.tolist(), name)
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (np.floating, float)):
        return float(value)
    if isinstance(value, (np.integer, int)):
        return int(value)
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, dict):
        return {str(k): to_jsonable(v, f"{name}[{k!r}]") for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v, f"{name}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{name} cannot be recorded: {type(value).__name__} is not a number, string, list or dict")


CONTEXT_VARIABLE = "ILIB_RUN"


@dataclass(frozen=True)
class RunContext:
    """What the runner tells a notebook: where to write, the run key, the thread count, the Dask scheduler.

    Read from the environment variable ``ILIB_RUN`` (JSON) by :func:`run_context`,
    the only place in :mod:`ilib` that reads it.
    """

    out: Optional[Path] = None
    run_key: Optional[str] = None
    threads: Optional[int] = None
    scheduler: Optional[str] = None  # a Dask scheduler the notebook's sweeps may use (ilib.parallel)

    def to_env(self) -> dict[str, str]:
        data = {"out": None if self.out is None else str(self.out), "run_key": self.run_key, "threads": self.threads,
                "scheduler": self.scheduler}
        return {CONTEXT_VARIABLE: json.dumps(data)}


def run_context() -> RunContext:
    """The runner's context, or an empty one outside ``run_all.py``."""
    text = os.environ.get(CONTEXT_VARIABLE)
    if not text:
        return RunContext()
    data = json.loads(text)
    return RunContext(out=None if data.get("out") is None else Path(data["out"]), run_key=data.get("run_key"),
                      threads=data.get("threads"), scheduler=data.get("scheduler"))


def figures_root(profile: str = "paper") -> Path:
    """The output root: the runner's staging folder, else ``build/interactive/<profile>/figures``."""
    ctx = run_context()
    if ctx.out is not None:
        return ctx.out
    return REPO_ROOT / "build" / "interactive" / profile / "figures"


def git_commit(root: Path = REPO_ROOT) -> str | None:
    """The current commit (with ``-dirty`` when the tree has changes), or None outside git."""
    try:
        rev = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10
        ).stdout.strip()
        if not rev:
            return None
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        return rev + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return None


def versions() -> dict[str, str]:
    """Versions of Python and of the numerical stack."""
    out = {"python": platform.python_version(), "platform": platform.platform()}
    for mod in ("numpy", "scipy", "torch", "cvxpy", "matplotlib"):
        try:
            out[mod] = __import__(mod).__version__
        except Exception:  # pragma: no cover - a missing optional module
            out[mod] = "not installed"
    from . import __version__

    out["ilib"] = __version__
    return out


class Recorder:
    """Collects a notebook's figures, measured values, section timings and verdicts.

    Parameters
    ----------
    notebook : str
        The notebook's name (its file name without ``.ipynb``); figures go to
        ``<root>/<notebook>/``.
    parameters : dict
        The resolved parameters the notebook ran with.
    seed : int
        The master seed.
    profile : str
        ``"smoke"`` or ``"paper"``.
    root : path, optional
        Output root; default :func:`figures_root`.
    claims : sequence of ilib.claims.Claim, optional
        The claims the notebook's experiment module declares; :meth:`finish`
        reports any that was never evaluated.
    """

    def __init__(self, notebook: str, *, parameters: dict, seed: int, profile: str, root: Path | None = None,
                 claims=()):
        if not notebook or "/" in notebook:
            raise ValueError(f"notebook must be a plain name, got {notebook!r}")
        self.notebook = notebook
        self.parameters = dict(parameters)
        self.seed = seed
        self.profile = profile
        self.dir = Path(root) / notebook if root is not None else figures_root(profile) / notebook
        self.dir.mkdir(parents=True, exist_ok=True)
        self.values: dict[str, Any] = {}
        self.verdicts: list[dict] = []
        self.figures: list[str] = []
        self.captions: dict[str, str] = {}
        self.timings: dict[str, float] = {}
        self.claims = list(claims)
        self._t0 = time.perf_counter()
        self._started = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")

    def save_figure(self, fig, name: str, *, dpi: int = 150, caption: Optional[str] = None) -> list[Path]:
        """Save ``fig`` as ``<name>.pdf`` and ``<name>.png`` atomically; returns the paths.

        ``caption`` is the one line the gallery (``figures/README.md``) and the
        book show under the figure; without one, the figure's titles are used.
        """
        import io

        if not name or "/" in name or name.startswith("."):
            raise ValueError(f"figure name must be a plain file stem, got {name!r}")
        paths = []
        for fmt in ("pdf", "png"):
            buf = io.BytesIO()
            fig.savefig(buf, format=fmt, dpi=dpi, bbox_inches="tight", metadata={"CreationDate": None} if fmt == "pdf" else None)
            path = self.dir / f"{name}.{fmt}"
            atomic_write_bytes(path, buf.getvalue())
            paths.append(path)
            rel = path.name
            if rel not in self.figures:
                self.figures.append(rel)
        self.captions[name] = " ".join(str(caption).split()) if caption else figure_titles(fig)
        return paths

    def value(self, name: str, value: Any) -> Any:
        """Record a measured value (tensors and arrays become lists; a value JSON cannot hold is refused now)."""
        if not isinstance(name, str) or not name:
            raise ValueError(f"a recorded value needs a non-empty name, got {name!r}")
        self.values[name] = to_jsonable(value, name)
        return value

    @contextlib.contextmanager
    def timed(self, section: str):
        """``with rec.timed("a"):`` records the section's wall time in seconds."""
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.timings[section] = round(self.timings.get(section, 0.0) + time.perf_counter() - t0, 3)

    def check(self, claim, result: Any, case: Optional[str] = None) -> dict:
        """Evaluate a declared claim on ``result`` and record its verdict.

        The rule, prediction and tolerance are the claim's own
        (:class:`ilib.claims.Claim`); the notebook only says what it applies to.
        """
        from .claims import Claim

        if not isinstance(claim, Claim):
            raise TypeError(f"claim must be an ilib.claims.Claim declared in the experiment module, got {claim!r}")
        if self.claims and claim not in self.claims:
            raise ValueError(f"claim {claim.id!r} is not declared by this notebook's experiment module")
        v = claim.evaluate(result, case)
        if any(w.get("id") == v["id"] and w.get("case") == v["case"] for w in self.verdicts):
            raise ValueError(f"claim {claim.id!r} was already evaluated for case {case!r}")
        self.verdicts.append(v)
        return v

    def verdict(self, claim: str, predicted: Any, measured: Any, agrees: bool, **detail: Any) -> dict:
        """Record a verdict defined in the notebook itself (legacy notebooks only).

        Notebooks on the harness declare their claims in their experiment
        module and call :meth:`check`; verdicts recorded here appear on the
        scoreboard as unclassified.
        """
        v = {
            "claim": claim,
            "predicted": to_jsonable(predicted),
            "measured": to_jsonable(measured),
            "agrees": bool(agrees),
        }
        if detail:
            v["detail"] = to_jsonable(detail)
        self.verdicts.append(v)
        return v

    def checksums(self) -> dict[str, str]:
        """SHA-256 of every figure file, so a cached result can prove its figures are the ones it wrote."""
        import hashlib

        out = {}
        for f in self.figures:
            path = self.dir / f
            if path.is_file():
                out[f] = hashlib.sha256(path.read_bytes()).hexdigest()
        return out

    def missing_claims(self) -> list[str]:
        """Ids of declared claims that were never evaluated."""
        seen = {v.get("id") for v in self.verdicts}
        return [c.id for c in self.claims if c.id not in seen]

    def as_dict(self) -> dict:
        device = "cuda" if torch.cuda.is_available() else "cpu"
        verdicts = list(self.verdicts)
        for c in self.claims:
            if c.id in self.missing_claims():
                verdicts.append({"id": c.id, "case": None, "kind": c.kind, "source": c.source, "claim": c.statement,
                                 "rule": c.rule.describe(), "predicted": None, "measured": None, "interval": None,
                                 "agrees": False, "status": "not evaluated"})
        return {
            "notebook": self.notebook,
            "profile": self.profile,
            "seed": self.seed,
            "parameters": to_jsonable(self.parameters),
            "values": self.values,
            "verdicts": verdicts,
            "figures": self.figures,
            "captions": self.captions,
            "checksums": self.checksums(),
            "timings": self.timings,
            "versions": versions(),
            "git_commit": git_commit(),
            "device": device,
            "torch_threads": torch.get_num_threads(),
            "started": self._started,
            "wall_time_s": round(time.perf_counter() - self._t0, 3),
            "run_key": run_context().run_key,
        }

    def write(self) -> Path:
        """Write ``results.json`` atomically and return its path."""
        path = self.dir / "results.json"
        atomic_write_text(path, json.dumps(self.as_dict(), indent=2, sort_keys=False) + "\n")
        return path

    def finish(self) -> Path:
        """Write ``results.json`` and print the verdict table, theorem checks apart from the rest."""
        path = self.write()
        print(verdict_table(self.as_dict()["verdicts"]))
        print(f"\nresults: {path}")
        return path


def verdict_table(verdicts: list[dict]) -> str:
    """The verdicts as text, grouped by kind (theorem, sanity, finding, unclassified)."""
    groups = {"theorem": "theorem checks", "sanity": "sanity checks", "finding": "findings", None: "unclassified"}
    lines = []
    for kind, title in groups.items():
        rows = [v for v in verdicts if v.get("kind") == kind]
        if not rows:
            continue
        ok = sum(v["agrees"] for v in rows)
        lines.append(f"{title}: {ok} of {len(rows)} agree")
        for v in rows:
            mark = {"n/a": "n/a ", "not evaluated": "MISS"}.get(v.get("status"), "ok  " if v["agrees"] else "NO  ")
            lines.append(f"  {mark} {v['claim']}")
            if v.get("status") in ("n/a", "not evaluated"):
                continue
            lines.append(f"       predicted {format_value(v['predicted'])}; measured {format_value(v['measured'])}"
                         + (f" in {format_value(v['interval'])} ({v.get('method')})" if v.get("interval") else "")
                         + (f"; rule: {v['rule']}" if v.get("rule") else ""))
    return "\n".join(lines) if lines else "no verdicts recorded"


def figure_titles(fig) -> str:
    """A one-line caption from a Matplotlib figure: its suptitle, else its panels' titles joined by "; "."""
    sup = getattr(fig, "_suptitle", None)
    parts = [sup.get_text()] if sup is not None and sup.get_text().strip() else [ax.get_title() for ax in fig.axes]
    return "; ".join(" ".join(p.split()) for p in parts if p and p.strip())


def format_value(value: Any, digits: int = 4) -> str:
    """A number, list or text with sensible precision for tables."""
    if isinstance(value, float):
        if value != value or value in (math.inf, -math.inf):
            return str(value)
        if value == 0 or 1e-3 <= abs(value) < 1e5:
            return f"{value:.{digits}g}"
        return f"{value:.{max(1, digits - 1)}e}"
    if isinstance(value, (list, tuple)):
        inner = ", ".join(format_value(v, digits) for v in value[:8])
        return f"[{inner}{', …' if len(value) > 8 else ''}]"
    return str(value)
