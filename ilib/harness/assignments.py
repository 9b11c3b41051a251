"""Course assignments: student copies of the notebooks and an autograder.

An exercise is a code cell of a notebook tagged ``solution`` that defines one
function; the markdown cell before it, tagged ``exercise-prompt``, states the
task. The cell's metadata says how to check it::

    "exercise": {
        "name": "psi",                                  # the function the cell defines
        "difficulty": "medium",
        "reference": "ilib.sparse:statistical_dimension_l1",
        "cases": ["(0.05,)", "(0.3,)"],                 # argument tuples, Python expressions
        "rtol": 1e-6, "atol": 1e-9,
        "hint": "..."                                   # shown when the check fails
    }

The rest of the notebook calls the function, so a student's implementation
drives the notebook's own figures.

``student`` writes copies in which each solution cell keeps its imports and the
function's signature and docstring, with the body replaced by
``raise NotImplementedError``; the metadata that names the reference and the
test cases is removed. ``grade`` executes a student's notebook (smoke profile,
with a time limit), then calls the student's functions and the reference on
the same inputs inside the kernel, and prints pass/fail per exercise with the
hint and a total; it never prints the reference code or its values.

    python -m ilib.assignments student [NOTEBOOK ...] [--out DIR]
    python -m ilib.assignments grade STUDENT.ipynb [--timeout S] [--json SCORE.json]
"""

from __future__ import annotations

import argparse
import ast
import copy
import importlib
import json
import math
import os
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import nbformat

from ..record import CONTEXT_VARIABLE, REPO_ROOT, RunContext, atomic_write_text

NOTEBOOK_DIR = REPO_ROOT / "notebooks"
MARK = "ILIB-GRADE-RESULT:"
DIFFICULTIES = ("easy", "medium", "hard")


# --------------------------------------------------------------------------- reading exercises
def exercises(nb) -> list[dict]:
    """The exercise specifications of a notebook, in order."""
    out = []
    for cell in nb.cells:
        if cell.cell_type == "code" and "solution" in cell.metadata.get("tags", []):
            spec = dict(cell.metadata.get("exercise", {}))
            if "name" not in spec:
                raise ValueError("a cell tagged 'solution' needs metadata exercise.name")
            out.append(spec)
    return out


def _function_stub(source: str, name: str) -> str:
    """Keep imports and the signature and docstring of ``name``; replace its body by a NotImplementedError."""
    tree = ast.parse(source)
    imports, stub = [], None
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            imports.append(ast.get_source_segment(source, node))
        elif isinstance(node, ast.FunctionDef) and node.name == name:
            lines = source.splitlines()
            start = node.decorator_list[0].lineno if node.decorator_list else node.lineno
            header_end = node.body[0].lineno - 1  # lines before the first statement of the body
            header = lines[start - 1 : header_end]
            doc = ast.get_docstring(node, clean=False)
            indent = " " * (node.body[0].col_offset)
            body = list(header)
            if doc is not None:
                first = node.body[0]
                body += lines[first.lineno - 1 : first.end_lineno]
            body.append(f'{indent}raise NotImplementedError("Exercise {name!r}: write your implementation here")')
            stub = "\n".join(body)
    if stub is None:
        raise ValueError(f"the solution cell does not define a function named {name!r}")
    return ("\n".join(imports) + "\n\n\n" if imports else "") + stub + "\n"


def student_copy(path: Path) -> "nbformat.NotebookNode":
    """A student copy of the notebook at ``path``."""
    nb = nbformat.read(path, as_version=4)
    specs = exercises(nb)
    if not specs:
        raise ValueError(f"{path.name} has no exercises (cells tagged 'solution')")
    out = copy.deepcopy(nb)
    for cell in out.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
            if "solution" in cell.metadata.get("tags", []):
                spec = cell.metadata["exercise"]
                cell.source = _function_stub(cell.source, spec["name"])
                cell.metadata["exercise"] = {"name": spec["name"], "difficulty": spec.get("difficulty", "")}
    names = ", ".join(f"`{s['name']}` ({s.get('difficulty', '')})" for s in specs)
    intro = nbformat.v4.new_markdown_cell(
        f"# Student copy of `{path.stem}`\n\n"
        f"Exercises: {names}. Each is a function whose body raises `NotImplementedError`: replace that line with your "
        "implementation; the rest of the notebook uses your functions.\n\n"
        "**Check your work** from the project folder (it runs your notebook in the fast `smoke` profile and tests each "
        "function against the reference on fresh inputs; it never shows the reference):\n\n"
        f"```bash\n.venv/bin/python -m ilib.assignments grade {path.stem}.ipynb\n```"
    )
    intro.metadata["tags"] = ["student-instructions"]
    out.cells.insert(0, intro)
    out.metadata["ilib_assignment"] = {"source": path.stem}
    return out


def write_student_copies(names: list[str] | None, out_dir: Path) -> list[Path]:
    from .runner import find_notebooks

    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for path in find_notebooks(names):
        nb = student_copy(path)
        dest = out_dir / path.name
        atomic_write_text(dest, nbformat.writes(nb))
        written.append(dest)
    return written


# --------------------------------------------------------------------------- checking, inside the kernel
def _close(a: Any, b: Any, rtol: float, atol: float) -> bool:
    import numpy as np
    import torch

    if isinstance(b, (tuple, list)):
        return isinstance(a, (tuple, list)) and len(a) == len(b) and all(_close(x, y, rtol, atol) for x, y in zip(a, b))
    if isinstance(b, dict):
        return isinstance(a, dict) and a.keys() == b.keys() and all(_close(a[k], b[k], rtol, atol) for k in b)
    if isinstance(b, (torch.Tensor, np.ndarray)) or isinstance(a, (torch.Tensor, np.ndarray)):
        try:
            a_ = np.asarray(a.detach().cpu() if isinstance(a, torch.Tensor) else a, dtype=float)
            b_ = np.asarray(b.detach().cpu() if isinstance(b, torch.Tensor) else b, dtype=float)
        except (TypeError, ValueError):
            return False
        return a_.shape == b_.shape and bool(np.allclose(a_, b_, rtol=rtol, atol=atol, equal_nan=True))
    if isinstance(b, (int, float)) and not isinstance(b, bool):
        try:
            a = float(a)
        except (TypeError, ValueError):
            return False
        return math.isclose(a, b, rel_tol=rtol, abs_tol=atol) or (math.isnan(a) and math.isnan(b))
    return a == b


def _resolve(ref: str):
    module, _, attr = ref.partition(":")
    obj = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def check_exercises(specs: list[dict], namespace: dict) -> list[dict]:
    """Run every exercise's cases against the student's function in ``namespace``; return pass/fail records."""
    import numpy as np
    import torch

    import ilib

    results = []
    for spec in specs:
        name = spec["name"]
        rec = {"name": name, "difficulty": spec.get("difficulty", ""), "passed": False, "message": ""}
        fn = namespace.get(name)
        if not callable(fn):
            rec["message"] = f"no function named {name!r} is defined after running the notebook"
            results.append(rec)
            continue
        reference = _resolve(spec["reference"])
        env = {"torch": torch, "np": np, "ilib": ilib, "math": math}
        passed = 0
        try:
            for case in spec["cases"]:
                args = eval(case, env)  # noqa: S307 - cases are written by the instructor
                args = args if isinstance(args, tuple) else (args,)
                got = fn(*copy.deepcopy(args))
                want = reference(*copy.deepcopy(args))
                if not _close(got, want, spec.get("rtol", 1e-6), spec.get("atol", 1e-9)):
                    rec["message"] = f"wrong value on test case {passed + 1} of {len(spec['cases'])}. Hint: {spec.get('hint', '')}"
                    break
                passed += 1
            else:
                rec["passed"] = True
                rec["message"] = f"all {len(spec['cases'])} test cases pass"
        except NotImplementedError:
            rec["message"] = "not attempted yet (the function still raises NotImplementedError)"
        except Exception as exc:  # the student's code raised
            rec["message"] = f"your function raised {type(exc).__name__}: {exc}. Hint: {spec.get('hint', '')}"
        results.append(rec)
    return results


def grade_in_kernel(specs_json: str, namespace: dict) -> None:
    """Called by the grader's last cell: print the results behind a marker line."""
    print(MARK + json.dumps(check_exercises(json.loads(specs_json), namespace)))


# --------------------------------------------------------------------------- the grader
@dataclass
class Grade:
    notebook: str
    source: str
    exercises: list = field(default_factory=list)
    score: int = 0
    total: int = 0
    notebook_errors: list = field(default_factory=list)
    timed_out: bool = False
    wall_s: float = 0.0


def _source_of(nb, path: Path) -> Path:
    name = nb.metadata.get("ilib_assignment", {}).get("source") or path.stem
    src = NOTEBOOK_DIR / f"{name}.ipynb"
    if not src.exists():
        raise SystemExit(f"error: {path.name} is not a copy of a notebook in notebooks/ (looked for {src.name})")
    return src


def grade(path: Path, *, timeout: float = 600, profile: str = "smoke", source: Path | None = None) -> Grade:
    """Execute a student's notebook and check its exercises against the reference implementation.

    ``source`` is the instructor's notebook holding the exercise specifications; by default the
    notebook of the same name in ``notebooks/``.
    """
    from nbclient import NotebookClient
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    src = Path(source) if source is not None else _source_of(nb, path)
    specs = exercises(nbformat.read(src, as_version=4))
    result = Grade(notebook=str(path), source=src.stem, total=len(specs))
    # set the profile after the parameters cell, as papermill would
    idx = next((i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", [])), -1)
    nb.cells.insert(idx + 1, nbformat.v4.new_code_cell(f"profile = {profile!r}"))
    nb.cells.append(nbformat.v4.new_code_cell(
        "import ilib.harness.assignments as _grader\n"
        f"_grader.grade_in_kernel({json.dumps(json.dumps(specs))}, globals())"
    ))
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": str(NOTEBOOK_DIR)}})
    t0 = time.perf_counter()
    deadline_msg = None
    var = CONTEXT_VARIABLE
    saved = os.environ.get(var)
    with tempfile.TemporaryDirectory(prefix="ilib-grade-") as figures:
        os.environ[var] = RunContext(out=Path(figures)).to_env()[var]  # a student's run never touches figures/
        try:
            client.execute()
        except CellTimeoutError:
            result.timed_out = True
            deadline_msg = f"the notebook ran past its time limit of {timeout:.0f} s"
        except DeadKernelError as exc:
            deadline_msg = f"the kernel died: {exc}"
        finally:
            if saved is None:
                os.environ.pop(var, None)
            else:
                os.environ[var] = saved
    result.wall_s = time.perf_counter() - t0
    checked = None
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error" and cell is not nb.cells[-1]:
                first = next((ln for ln in cell.source.splitlines() if ln.strip()), "")
                result.notebook_errors.append(f"cell {i}: {out.get('ename')}: {str(out.get('evalue'))[:200]} ({first[:50]})")
            if out.get("output_type") == "stream":
                for line in out.get("text", "").splitlines():
                    if line.startswith(MARK):
                        checked = json.loads(line[len(MARK):])
    if deadline_msg:
        result.notebook_errors.append(deadline_msg)
    if checked is None:
        checked = [{"name": s["name"], "difficulty": s.get("difficulty", ""), "passed": False,
                    "message": "not checked: " + (deadline_msg or "the grading cell did not run")} for s in specs]
    result.exercises = checked
    result.score = sum(e["passed"] for e in checked)
    return result


def format_grade(g: Grade) -> str:
    lines = [f"grading {g.notebook} (exercises of {g.source})"]
    for e in g.exercises:
        lines.append(f"  {'PASS' if e['passed'] else 'FAIL'}  {e['name']:28} [{e['difficulty']}]  {e['message']}")
    if g.notebook_errors:
        lines.append("  the notebook itself raised:")
        lines += [f"    {m}" for m in g.notebook_errors[:10]]
    lines.append(f"score: {g.score} / {g.total}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m ilib.assignments", description="Student copies and autograding.")
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("student", help="write student copies of all or chosen notebooks")
    s.add_argument("notebooks", nargs="*")
    s.add_argument("--out", type=Path, default=REPO_ROOT / "build" / "student")
    g = sub.add_parser("grade", help="grade a student's notebook")
    g.add_argument("notebook", type=Path)
    g.add_argument("--timeout", type=float, default=600, help="time limit per cell in seconds")
    g.add_argument("--json", type=Path, default=None, help="write the score as JSON here")
    g.add_argument("--source", type=Path, default=None, help="the instructor's notebook (default: same name in notebooks/)")
    args = p.parse_args(argv)
    if args.cmd == "student":
        for path in write_student_copies(args.notebooks, args.out):
            print(f"wrote {path}")
        return 0
    if not args.notebook.exists():
        raise SystemExit(f"error: no such notebook: {args.notebook}")
    if args.timeout <= 0:
        raise SystemExit(f"error: --timeout must be positive, got {args.timeout}")
    result = grade(args.notebook, timeout=args.timeout, source=args.source)
    print(format_grade(result))
    if args.json:
        atomic_write_text(args.json, json.dumps(asdict(result), indent=2) + "\n")
    return 0 if result.score == result.total else 1


if __name__ == "__main__":
    sys.exit(main())
