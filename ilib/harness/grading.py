"""Grading submissions out of the student's reach, and the gradebook.

One submission is graded in three steps, each in its own process:

1. **expected values**: the grader computes the reference's value on every case in a process of its
   own (:func:`expected_values`), from the instructor's notebook; the student's code never runs there;
2. **the student's functions**: their source is taken from the submission's exercise cells (with the
   notebook's own imports) and called on the same cases in a fresh sandbox
   (:mod:`ilib.harness.sandbox`), where the reference implementations are replaced by stand-ins that
   report their use; only the returned values come back, as data;
3. **the notebook**: the submission is executed in a sandbox of its own (after the exercises are
   checked, so a slow or broken cell never costs an exercise its points); the executed notebook is
   kept for the student.

The grader compares the values itself. A solution that imports, names or calls the reference, that
is not defined in its own cell, or that reaches for the grader (its modules, the caller's stack
frames, the interpreter's object lists) scores 0 on that exercise with a message saying why.

Exercise metadata follows otter-grader's conventions: cases are public or hidden and carry points.
A case is an argument expression (a string) or ``{"args": "...", "hidden": true, "points": 0.5}``;
with plain strings the last ``len(cases) // 2`` are hidden (``"hidden": k`` in the exercise's
metadata sets how many). An exercise is worth ``"points"`` (default by difficulty,
:data:`POINTS`), shared equally among its cases unless cases give their own.
"""

from __future__ import annotations

import ast
import concurrent.futures as cf
import csv
import io
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import nbformat

from ..record import REPO_ROOT, RunContext, atomic_write_text
from . import sandbox

NOTEBOOK_DIR = REPO_ROOT / "notebooks"
PACKAGE_DIR = REPO_ROOT / "ilib"
DIFFICULTIES = ("easy", "medium", "hard")
POINTS = {"easy": 1.0, "medium": 2.0, "hard": 3.0}
#: what a solution cell may not touch: the grader, frames and the interpreter's object lists
FORBIDDEN_MODULES = ("ilib.harness", "gc", "ctypes", "importlib", "inspect")
FORBIDDEN_ATTRIBUTES = ("f_back", "f_locals", "f_globals", "tb_frame", "gi_frame", "currentframe", "_getframe",
                        "getouterframes", "get_referrers", "get_objects", "__import__")
#: attributes forbidden on these modules only (``torch.stack`` is fine, ``inspect.stack`` is not)
FORBIDDEN_MODULE_ATTRIBUTES = {"inspect": ("stack", "trace"), "sys": ("modules", "settrace", "setprofile")}
FILE_MODE = 0o644


# --------------------------------------------------------------------------- exercises and their cases
@dataclass(frozen=True)
class Case:
    """One test case of an exercise: an argument expression, whether students see it, its points."""

    args: str
    hidden: bool
    points: float


def exercises(nb) -> list[dict]:
    """The exercise specifications of a notebook, in order (the metadata of cells tagged ``solution``)."""
    out = []
    for cell in nb.cells:
        if cell.cell_type == "code" and "solution" in cell.metadata.get("tags", []):
            spec = dict(cell.metadata.get("exercise", {}))
            if "name" not in spec:
                raise ValueError("a cell tagged 'solution' needs metadata exercise.name")
            out.append(spec)
    return out


def cases(spec: dict) -> list[Case]:
    """The cases of an exercise with their visibility and points (see the module's docstring)."""
    raw = spec.get("cases") or []
    if not raw:
        raise ValueError(f"exercise {spec.get('name')!r} has no cases")
    n_hidden = spec.get("hidden", len(raw) // 2)
    if not isinstance(n_hidden, int) or not 0 <= n_hidden <= len(raw):
        raise ValueError(f"exercise {spec.get('name')!r}: 'hidden' must be an integer in [0, {len(raw)}], got {n_hidden!r}")
    total = float(spec.get("points", POINTS.get(spec.get("difficulty", ""), 1.0)))
    given = [c.get("points") for c in raw if isinstance(c, dict)]
    rest = total - sum(p for p in given if p is not None)
    n_free = sum(1 for c in raw if not isinstance(c, dict) or c.get("points") is None)
    out = []
    for i, c in enumerate(raw):
        if isinstance(c, str):
            out.append(Case(c, i >= len(raw) - n_hidden, rest / n_free))
        elif isinstance(c, dict) and isinstance(c.get("args"), str):
            pts = c.get("points")
            out.append(Case(c["args"], bool(c.get("hidden", False)), float(pts) if pts is not None else rest / n_free))
        else:
            raise ValueError(f"exercise {spec.get('name')!r}: case {i} must be a string or a dict with 'args', got {c!r}")
    return out


def points(spec: dict) -> float:
    """What an exercise is worth."""
    return sum(c.points for c in cases(spec))


def solution_sources(nb, names: list[str]) -> dict[str, str]:
    """The source of each exercise's cell in a submission: the cell tagged ``solution`` for it, else the
    last code cell that defines a function of that name."""
    found = {}
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        name = cell.metadata.get("exercise", {}).get("name") if "solution" in cell.metadata.get("tags", []) else None
        if name in names:
            found[name] = cell.source
    for name in names:
        if name not in found:
            for cell in nb.cells:
                if cell.cell_type == "code" and f"def {name}(" in cell.source:
                    found[name] = cell.source
    return found


def preamble(nb) -> list[str]:
    """The top-level import statements of the code cells before the first exercise (the notebook's own
    imports, which solutions may rely on); none of the grader's."""
    out = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        if "solution" in cell.metadata.get("tags", []):
            break
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:
            continue
        for node in tree.body:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                mods = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                if not any(_is_forbidden_module(m) for m in mods):
                    out.append(ast.get_source_segment(cell.source, node))
    return out


def _is_forbidden_module(module: str) -> bool:
    return any(module == m or module.startswith(m + ".") for m in FORBIDDEN_MODULES)


def cheats(source: str, name: str, reference: str) -> list[str]:
    """Why the source of an exercise's cell is not the student's own work (empty when nothing is found).

    Flags imports of the reference (by name, from any module, or ``*`` from its module), any mention of
    its name as an attribute or a string, imports of the grader or of the interpreter's internals, and
    access to stack frames or the interpreter's object lists.
    """
    module, _, attr = reference.partition(":")
    ref_name = attr.split(".")[-1]
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        return [f"the cell does not parse: {exc.msg} (line {exc.lineno})"]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            mod = node.module or ""
            if any(a.name == ref_name for a in node.names) or (mod == module and any(a.name == "*" for a in node.names)):
                found.append(f"imports the reference implementation {reference}")
            if _is_forbidden_module(mod) or any(_is_forbidden_module(f"{mod}.{a.name}") for a in node.names):
                found.append(f"imports {mod}, which a solution may not use")
        elif isinstance(node, ast.Import):
            for a in node.names:
                if _is_forbidden_module(a.name):
                    found.append(f"imports {a.name}, which a solution may not use")
        elif isinstance(node, ast.Attribute):
            if node.attr == ref_name:
                found.append(f"uses the reference implementation {reference}")
            elif node.attr in FORBIDDEN_ATTRIBUTES or (
                    isinstance(node.value, ast.Name) and node.attr in FORBIDDEN_MODULE_ATTRIBUTES.get(node.value.id, ())):
                found.append(f"reaches into the interpreter ({node.attr}): stack frames, modules and object lists are off limits")
        elif isinstance(node, ast.Name) and node.id in ("__import__", "__builtins__"):
            found.append(f"uses {node.id}, which a solution may not use")
        elif isinstance(node, ast.Constant) and node.value == ref_name and ref_name != name:
            found.append(f"names the reference implementation {reference}")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.startswith(module + ":"):
            found.append(f"names the reference implementation {reference}")
    return list(dict.fromkeys(found))


# --------------------------------------------------------------------------- comparing values
def close(a: Any, b: Any, rtol: float, atol: float) -> bool:
    """Whether the student's value ``a`` matches the expected ``b`` (both decoded data)."""
    import numpy as np

    if isinstance(b, (tuple, list)):
        return isinstance(a, (tuple, list)) and len(a) == len(b) and all(close(x, y, rtol, atol) for x, y in zip(a, b))
    if isinstance(b, dict):
        return isinstance(a, dict) and a.keys() == b.keys() and all(close(a[k], b[k], rtol, atol) for k in b)
    if isinstance(b, np.ndarray) or isinstance(a, np.ndarray):
        try:
            a_, b_ = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
        except (TypeError, ValueError):
            return False
        return a_.shape == b_.shape and bool(np.allclose(a_, b_, rtol=rtol, atol=atol, equal_nan=True))
    if isinstance(b, (int, float)) and not isinstance(b, bool):
        if isinstance(a, bool) or not isinstance(a, (int, float)):
            return False
        return math.isclose(a, b, rel_tol=rtol, abs_tol=atol) or (math.isnan(a) and math.isnan(b))
    return a == b


_EXPECTED: dict = {}


def expected_values(source: Path, timeout: float = 600) -> dict[str, list]:
    """The reference's value on every case of every exercise of the instructor's notebook ``source``.

    Computed in a process of the grader's own, once per notebook version; values as data
    (:func:`ilib.harness.sandbox.encode`), or ``{"__error__": ...}`` where the reference raised.
    """
    source = Path(source).resolve()
    key = (str(source), source.stat().st_mtime_ns)
    if key not in _EXPECTED:
        specs = exercises(nbformat.read(source, as_version=4))
        request = [{"name": s["name"], "reference": s["reference"], "cases": [c.args for c in cases(s)]} for s in specs]
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO_ROOT)] + os.environ.get("PYTHONPATH", "").split(os.pathsep)),
                   CUDA_VISIBLE_DEVICES="")
        proc = subprocess.run([sys.executable, "-m", "ilib.harness.grading", "expected"], input=json.dumps(request),
                              capture_output=True, text=True, env=env, cwd=REPO_ROOT, timeout=timeout)
        if proc.returncode != 0:
            raise RuntimeError(f"computing the expected values of {source.name} failed:\n{proc.stderr[-3000:]}")
        _EXPECTED[key] = json.loads(proc.stdout.strip().splitlines()[-1])
    return _EXPECTED[key]


def _compute_expected(request: list[dict]) -> dict[str, list]:
    import copy
    import importlib

    out = {}
    for ex in request:
        module, _, attr = ex["reference"].partition(":")
        ref = importlib.import_module(module)
        for part in attr.split("."):
            ref = getattr(ref, part)
        values = []
        for i, expr in enumerate(ex["cases"]):
            try:
                values.append(sandbox.encode(ref(*copy.deepcopy(sandbox.case_arguments(expr, i)))))
            except Exception as exc:  # noqa: BLE001 - a broken case is the instructor's to fix
                values.append({"__error__": f"{type(exc).__name__}: {exc}"})
        out[ex["name"]] = values
    return out


# --------------------------------------------------------------------------- grading one submission
@dataclass
class Grade:
    """The grade of one submission."""

    notebook: str
    source: str
    student: str = ""
    exercises: list = field(default_factory=list)
    score: float = 0.0
    total: float = 0.0
    notebook_errors: list = field(default_factory=list)
    violations: list = field(default_factory=list)
    warnings: list = field(default_factory=list)  # for the instructor: not the student's doing
    timed_out: bool = False
    wall_s: float = 0.0
    failure: str = ""  # the grader could not grade this submission (not the student's doing)
    executed: str = ""
    feedback: str = ""


@dataclass
class Settings:
    """How submissions are graded."""

    timeout: float = 600.0          # seconds per notebook cell
    case_timeout: float = 60.0      # seconds per call of a student's function
    notebook_wall_s: float = 1800.0  # seconds for the whole notebook
    memory_bytes: int = 8 * 2**30
    cpu_s: int = 1800
    profile: str = "smoke"
    execute: bool = True            # also execute the notebook (feedback, figures); scores never depend on it
    protect: tuple = ()             # more folders the submission must not change (the project is always protected)

    def __post_init__(self):
        for name in ("timeout", "case_timeout", "notebook_wall_s", "memory_bytes", "cpu_s"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if self.profile not in ("smoke", "paper"):
            raise ValueError(f"profile must be 'smoke' or 'paper', got {self.profile!r}")


def student_id(path: Path, nb) -> str:
    """The student of a submission: metadata ``ilib.student``, else the part of the file name before ``__``."""
    meta = nb.metadata.get("ilib", {})
    if isinstance(meta, dict) and meta.get("student"):
        return str(meta["student"])
    stem = Path(path).stem
    return stem.split("__", 1)[0] if "__" in stem else stem


def source_of(path: Path, nb) -> Path:
    """The instructor's notebook a submission is a copy of (metadata, else the file name after ``__``)."""
    name = nb.metadata.get("ilib_assignment", {}).get("source")
    stem = Path(path).stem
    name = name or (stem.split("__", 1)[1] if "__" in stem else stem)
    src = NOTEBOOK_DIR / f"{name}.ipynb"
    if not src.exists():
        raise ValueError(f"{Path(path).name} is not a copy of a notebook in notebooks/ (looked for {src.name})")
    return src


class Workspace:
    """What the submissions of one grading run share: the read-only package copy."""

    def __init__(self, hidden: tuple = ()):
        self.root = Path(tempfile.mkdtemp(prefix="ilib-grade-pkg-"))
        self.pythonpath = sandbox.readonly_package(PACKAGE_DIR, self.root / "pkg")
        keep = [Path(sys.prefix).resolve(), REPO_ROOT.resolve(), Path(tempfile.gettempdir()).resolve(), self.root.resolve()]
        # a folder is hidden unless it holds what the sandbox needs (the environment, the project, the temp folders)
        self.hidden = [NOTEBOOK_DIR] + [h for h in map(lambda p: Path(p).resolve(), hidden)
                                        if not any(k == h or h in k.parents for k in keep)]

    def close(self) -> None:
        sandbox.remove_tree(self.root)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _readonly_paths(protect: tuple) -> list[Path]:
    git_common = subprocess.run(["git", "-C", str(REPO_ROOT), "rev-parse", "--git-common-dir"], capture_output=True,
                                text=True).stdout.strip()
    paths = [REPO_ROOT, Path(sys.prefix), Path(sys.base_prefix), *map(Path, protect)]
    if git_common:
        paths.append((REPO_ROOT / git_common).resolve())
    return paths


def grade(path: Path, *, source: Path | None = None, settings: Settings | None = None, out_dir: Path | None = None,
          workspace: Workspace | None = None) -> Grade:
    """Grade one submission (see the module's docstring); the executed notebook and feedback go to ``out_dir``."""
    settings = settings or Settings()
    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    src = Path(source) if source is not None else source_of(path, nb)
    specs = exercises(nbformat.read(src, as_version=4))
    g = Grade(notebook=str(path), source=src.stem, student=student_id(path, nb), total=sum(points(s) for s in specs))
    own_ws = workspace is None
    ws = workspace or Workspace()
    t0 = time.perf_counter()
    protected = [REPO_ROOT, *map(Path, settings.protect)]
    before = {str(p): sandbox.project_state(p) for p in protected}
    tmp = Path(tempfile.mkdtemp(prefix="ilib-grade-"))
    try:
        expected = expected_values(src)
        g.exercises = _check_exercises(nb, specs, expected, settings, ws, tmp / "exercises")
        if settings.execute:
            _execute(path, g, settings, ws, tmp / "notebook", out_dir)
        for p in protected:
            after = sandbox.project_state(p)
            changed = sorted(after ^ before[str(p)])
            if changed and sandbox.namespaces_available():  # read-only to the submission: someone else's edit
                g.warnings.append(f"files of {p} changed while this submission was graded (read-only to it): "
                                  + "; ".join(changed[:10]))
            elif changed:
                g.violations.append(f"the submission changed files of {p}: " + "; ".join(changed[:10]))
    finally:
        sandbox.remove_tree(tmp)
        if own_ws:
            ws.close()
    if g.violations:
        for e in g.exercises:
            e.update(points=0.0, passed=False, message="0 points: the submission changed files outside its folder")
    g.score = _round(sum(e["points"] for e in g.exercises))
    g.wall_s = time.perf_counter() - t0
    return g


def _round(x: float) -> float | int:
    x = round(x, 6)
    return int(x) if x == int(x) else x


def _check_exercises(nb, specs, expected, settings: Settings, ws: Workspace, tmp: Path) -> list[dict]:
    names = [s["name"] for s in specs]
    sources = solution_sources(nb, names)
    pre = preamble(nb)
    records = {}
    for s in specs:
        records[s["name"]] = {"name": s["name"], "difficulty": s.get("difficulty", ""), "passed": False, "points": 0.0,
                              "max_points": _round(points(s)), "cases_passed": 0, "cases": len(s["cases"]),
                              "public_passed": 0, "hidden_passed": 0, "message": "", "flags": []}
        if s["name"] not in sources:
            records[s["name"]]["message"] = f"no cell defines a function named {s['name']!r}"
        else:
            records[s["name"]]["flags"] = cheats(sources[s["name"]], s["name"], s["reference"])
    todo = [s for s in specs if s["name"] in sources and not records[s["name"]]["flags"]]
    events: list = []
    while todo:
        request = {"exercises": [{"name": s["name"], "source": sources[s["name"]], "preamble": pre,
                                  "cases": [c.args for c in cases(s)]} for s in todo],
                   "references": [s["reference"] for s in specs], "case_timeout": settings.case_timeout}
        work = tmp / f"run{len(events)}"
        home = work / "home"
        home.mkdir(parents=True)
        (work / "request.json").write_text(json.dumps(request))
        budget = settings.case_timeout * (2 + sum(len(s["cases"]) for s in todo)) + 120
        out = sandbox.run([sys.executable, "-m", "ilib.harness.sandbox", "exercises", "request.json"], cwd=work,
                          env=sandbox.sandbox_env(home, ws.pythonpath),
                          limits=sandbox.Limits(wall_s=budget, memory_bytes=settings.memory_bytes, cpu_s=int(budget)),
                          prefix=sandbox.isolation_prefix(_readonly_paths(settings.protect), ws.hidden),
                          event_deadline=settings.case_timeout * (1 + max(len(s["cases"]) for s in todo)) + 30)
        events += out.events
        done = {e["name"] for e in out.events if e.get("event") == "done"}
        started = [e["name"] for e in out.events if e.get("event") == "start"]
        stuck = next((n for n in started if n not in done), None)
        remaining = [s for s in todo if s["name"] not in done]
        if stuck is not None:
            records[stuck]["message"] = "your function ran past its time limit (or used too much memory or CPU)"
            records[stuck]["timed_out"] = True
            remaining = [s for s in remaining if s["name"] != stuck]
        elif remaining:  # the sandbox died before it started an exercise
            for s in remaining:
                records[s["name"]]["message"] = ("not checked: the process running your functions stopped: "
                                                 + (out.log.strip().splitlines() or ["no output"])[-1][:200])
            remaining = []
        todo = remaining
    by_name: dict = {}
    for e in events:
        by_name.setdefault(e.get("name"), []).append(e)
    for s in specs:
        _score(records[s["name"]], s, by_name.get(s["name"], []), expected.get(s["name"], []))
    return [records[s["name"]] for s in specs]


def _score(rec: dict, spec: dict, events: list, expected: list) -> None:
    if rec["flags"]:
        rec["message"] = "0 points: your solution " + "; ".join(rec["flags"]) + " (write your own implementation)"
        return
    if rec["message"] and not events:
        return
    tripped = [e["reference"] for e in events if e.get("event") == "tripwire"]
    tripped += [spec["reference"] for e in events if str(e.get("error", "")).startswith(sandbox.ReferenceUsed.__name__)]
    origin = next((e for e in events if e.get("event") == "origin"), None)
    cell_error = next((e["error"] for e in events if e.get("event") == "cell-error"), None)
    case_error = next((e["error"] for e in events if e.get("event") == "case-error"), None)
    if case_error:
        rec["message"] = f"not checked: a test case could not be built ({case_error}); tell your instructor"
        return
    if origin is not None and origin.get("files", [""])[:1] == ["<reference>"]:
        rec["message"] = f"0 points: your function is the reference implementation {spec['reference']} (write your own)"
        return
    if tripped:
        rec["message"] = f"0 points: your function calls the reference implementation {tripped[0]} (write your own)"
        return
    if cell_error:
        rec["message"] = f"your cell raised {cell_error}"
        return
    if origin is not None and not origin.get("callable"):
        rec["message"] = f"no function named {spec['name']!r} is defined by your cell"
        return
    if origin is not None and any(not f.startswith("<exercise ") for f in origin.get("files", [])[:1]):
        rec["message"] = f"0 points: {spec['name']} is not defined in your cell (it comes from {origin['files'][0]})"
        return
    cs = cases(spec)
    results = {e["i"]: e for e in events if e.get("event") == "case"}
    hint = spec.get("hint", "")
    first_fail = None
    for i, (case, want) in enumerate(zip(cs, expected)):
        ev = results.get(i)
        if isinstance(want, dict) and "__error__" in want:
            ok = False
            first_fail = first_fail or (i, "the reference failed on this case: tell your instructor")
        elif ev is None:
            ok = False
        elif ev.get("not_implemented"):
            rec["message"] = "not attempted yet (the function still raises NotImplementedError)"
            return
        elif "error" in ev:
            ok = False
            first_fail = first_fail or (i, f"your function raised {ev['error']}")
        else:
            ok = close(sandbox.decode(ev["value"]), sandbox.decode(want), spec.get("rtol", 1e-6), spec.get("atol", 1e-9))
            if not ok:
                first_fail = first_fail or (i, "wrong value")
        if ok:
            rec["points"] += case.points
            rec["cases_passed"] += 1
            rec["hidden_passed" if case.hidden else "public_passed"] += 1
    rec["points"] = _round(rec["points"])
    rec["passed"] = rec["cases_passed"] == len(cs)
    if rec["passed"]:
        rec["message"] = f"all {len(cs)} test cases pass"
    elif rec.get("timed_out"):
        pass
    elif first_fail is not None:
        i, why = first_fail
        kind = "hidden" if cs[i].hidden else "public"
        rec["message"] = f"{why} on test case {i + 1} of {len(cs)} ({kind}). Hint: {hint}"
    else:
        rec["message"] = rec["message"] or "not checked"


def _execute(path: Path, g: Grade, settings: Settings, ws: Workspace, work: Path, out_dir: Path | None) -> None:
    home = work / "home"
    home.mkdir(parents=True)
    figures = work / "figures"
    figures.mkdir()
    nb_in = work / "submission.ipynb"
    nb_in.write_bytes(Path(path).read_bytes())
    env = sandbox.sandbox_env(home, ws.pythonpath, RunContext(out=figures).to_env())
    out = sandbox.run([sys.executable, "-m", "ilib.harness.sandbox", "notebook", "submission.ipynb", "executed.ipynb",
                       str(settings.timeout), settings.profile], cwd=work, env=env,
                      limits=sandbox.Limits(wall_s=settings.notebook_wall_s, memory_bytes=settings.memory_bytes,
                                            cpu_s=settings.cpu_s),
                      prefix=sandbox.isolation_prefix(_readonly_paths(settings.protect), ws.hidden))
    status = next((e for e in out.events if e.get("event") == "notebook"), None)
    executed = work / "executed.ipynb"
    if executed.exists():
        nb = nbformat.read(executed, as_version=4)
        for i, cell in enumerate(nb.cells):
            for o in cell.get("outputs", []):
                if o.get("output_type") == "error":
                    first = next((ln for ln in cell.source.splitlines() if ln.strip()), "")
                    g.notebook_errors.append(f"cell {i}: {o.get('ename')}: {str(o.get('evalue'))[:200]} ({first[:50]})")
        if out_dir is not None:
            dest = Path(out_dir) / f"{Path(path).stem}.executed.ipynb"
            atomic_write_text(dest, nbformat.writes(nb))
            os.chmod(dest, FILE_MODE)
            g.executed = str(dest)
    if out.timed_out:
        g.timed_out = True
        g.notebook_errors.append(f"the notebook ran past its overall time limit of {settings.notebook_wall_s:g} s")
    elif status is None:
        g.notebook_errors.append("the notebook's process stopped: " + (out.log.strip().splitlines() or ["no output"])[-1][:200])
    elif status["message"]:
        g.timed_out = status["timed_out"]
        g.notebook_errors.append(status["message"].replace("a cell ran past its time limit",
                                                           "the notebook ran past its time limit per cell"))


def format_grade(g: Grade) -> str:
    """The feedback of one submission, as the student reads it (never the expected values)."""
    who = f" for {g.student}" if g.student else ""
    lines = [f"grading {Path(g.notebook).name}{who} (exercises of {g.source})"]
    if g.failure:
        lines.append(f"  NOT GRADED: {g.failure}")
    for e in g.exercises:
        lines.append(f"  {'PASS' if e['passed'] else 'FAIL'}  {e['name']:28} [{e['difficulty']}] "
                     f"{e['points']:g}/{e['max_points']:g}  {e['message']}")
    for v in g.violations:
        lines.append(f"  VIOLATION: {v}")
    if g.notebook_errors:
        lines.append("  the notebook itself raised:")
        lines += [f"    {m}" for m in g.notebook_errors[:10]]
    lines.append(f"score: {g.score:g} / {g.total:g}")
    return "\n".join(lines)


# --------------------------------------------------------------------------- the gradebook
def submissions(paths: list[Path]) -> list[Path]:
    """The notebooks named by ``paths`` (files, or folders whose ``*.ipynb`` are taken), sorted, checked."""
    if not paths:
        raise ValueError("paths: give at least one submission or folder")
    out = []
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted(q for q in p.glob("*.ipynb") if not q.name.startswith(".") and ".executed" not in q.name)
            if not found:
                raise ValueError(f"paths: no notebooks in folder {p}")
            out += found
        elif p.suffix == ".ipynb" and p.is_file():
            out.append(p)
        else:
            raise ValueError(f"paths: {p} is neither a notebook nor a folder")
    return list(dict.fromkeys(out))


def gradebook(paths: list[Path], out: Path, *, settings: Settings | None = None, workers: int | None = None,
              source: Path | None = None) -> list[Grade]:
    """Grade every submission in parallel; write ``out`` (CSV), ``out`` with ``.json``, and per student the
    executed notebook and a feedback file in the folder ``<out stem>-feedback/``. Returns the grades."""
    settings = settings or Settings()
    files = submissions(paths)
    out = Path(out)
    if out.suffix != ".csv":
        raise ValueError(f"out: the gradebook is a .csv file, got {out}")
    if workers is not None and workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    workers = workers or max(1, os.cpu_count() or 1)
    feedback_dir = out.parent / f"{out.stem}-feedback"
    feedback_dir.mkdir(parents=True, exist_ok=True)
    hidden = tuple({p.parent.resolve() for p in files} | {out.parent.resolve()})

    def one(path: Path, ws: Workspace) -> Grade:
        try:
            g = grade(path, source=source, settings=settings, out_dir=feedback_dir, workspace=ws)
        except Exception as exc:  # noqa: BLE001 - reported as a grading failure, the batch goes on
            g = Grade(notebook=str(path), source="", student=Path(path).stem.split("__")[0],
                      failure=f"{type(exc).__name__}: {exc}")
        dest = feedback_dir / f"{Path(path).stem}.feedback.txt"
        atomic_write_text(dest, format_grade(g) + "\n")
        os.chmod(dest, FILE_MODE)
        g.feedback = str(dest)
        return g

    with Workspace(hidden=hidden) as ws, cf.ThreadPoolExecutor(max_workers=workers) as pool:
        grades = list(pool.map(lambda p: one(p, ws), files))
    write_gradebook(grades, out)
    return grades


def write_gradebook(grades: list[Grade], out: Path) -> None:
    """One CSV row per student (a column per exercise, the total, the maximum, a status) and the JSON of all grades."""
    names = list(dict.fromkeys(e["name"] for g in grades for e in g.exercises))
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["student", "notebook", *names, "total", "max", "status"])
    for g in sorted(grades, key=lambda g: (g.student, g.notebook)):
        pts = {e["name"]: e["points"] for e in g.exercises}
        status = ("not graded" if g.failure else "violation" if g.violations else
                  "ok" if not g.notebook_errors else "notebook errors")
        w.writerow([g.student, g.source, *[f"{pts[n]:g}" if n in pts else "" for n in names],
                    f"{g.score:g}", f"{g.total:g}", status])
    atomic_write_text(out, buf.getvalue())
    os.chmod(out, FILE_MODE)
    js = out.with_suffix(".json")
    atomic_write_text(js, json.dumps([asdict(g) for g in grades], indent=2) + "\n")
    os.chmod(js, FILE_MODE)


if __name__ == "__main__":
    if sys.argv[1:] == ["expected"]:
        print(json.dumps(_compute_expected(json.loads(sys.stdin.read()))))
        sys.exit(0)
    sys.exit("usage: python -m ilib.harness.grading expected < REQUEST.json")
