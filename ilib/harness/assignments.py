"""Course assignments: student bundles, a local checker, and the autograder's command line.

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

``student`` writes a bundle for students: copies in which each solution cell keeps its imports and
the function's signature and docstring, with the body replaced by ``raise NotImplementedError`` (the
metadata that names the reference and the cases removed, the profile set to ``smoke``); the public
cases with their expected values (``cases/<notebook>.json``); a local checker (``check.py``); and the
package without the instructor-only ``ilib/solutions/``. ``check`` (what ``check.py`` runs) calls the
student's functions on the public cases, with progressive hints. ``grade`` grades submissions out of
the student's reach (:mod:`ilib.harness.grading`): one notebook, or many in parallel into a gradebook.

    python -m ilib.assignments student [NOTEBOOK ...] [--out DIR]
    python -m ilib.assignments grade STUDENT.ipynb [--timeout S] [--json SCORE.json]
    python -m ilib.assignments grade DIR_OR_FILES... --out grades.csv [--workers N]
    python check.py NOTEBOOK.ipynb [--hint-after N]            # in the bundle, from its folder
"""

from __future__ import annotations

import argparse
import ast
import copy
import json
import os
import re
import shutil
import sys
from dataclasses import asdict
from pathlib import Path

import nbformat

from ..record import REPO_ROOT, atomic_write_text
from . import sandbox
from .grading import (DIFFICULTIES, FILE_MODE, NOTEBOOK_DIR, PACKAGE_DIR, Grade, Settings, cases, close, exercises,
                      expected_values, format_grade, gradebook, preamble, solution_sources)

__all__ = ["DIFFICULTIES", "Grade", "exercises", "student_copy", "write_bundle", "check", "grade", "format_grade",
           "main"]


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
    """A student copy of the notebook at ``path`` (solutions stubbed, outputs cleared, smoke profile)."""
    nb = nbformat.read(path, as_version=4)
    specs = exercises(nb)
    if not specs:
        raise ValueError(f"{path.name} has no exercises (cells tagged 'solution')")
    out = copy.deepcopy(nb)
    for cell in out.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
            if "parameters" in cell.metadata.get("tags", []):
                cell.source = re.sub(r"^profile\s*=\s*[\"']paper[\"']", 'profile = "smoke"', cell.source, flags=re.M)
            if "solution" in cell.metadata.get("tags", []):
                spec = cell.metadata["exercise"]
                cell.source = _function_stub(cell.source, spec["name"])
                cell.metadata["exercise"] = {"name": spec["name"], "difficulty": spec.get("difficulty", "")}
    names = ", ".join(f"`{s['name']}` ({s.get('difficulty', '')})" for s in specs)
    intro = nbformat.v4.new_markdown_cell(
        f"# Student copy of `{path.stem}`\n\n"
        f"Exercises: {names}. Each is a function whose body raises `NotImplementedError`: replace that line with your "
        "implementation; the rest of the notebook uses your functions.\n\n"
        "**Check your work** from the folder that holds this notebook (it calls your functions on the public test "
        "cases in a few seconds, without running the rest of the notebook; hints get more precise after repeated "
        "failures; your instructor grades on more cases):\n\n"
        f"```bash\npython check.py {path.stem}.ipynb\n```"
    )
    intro.metadata["tags"] = ["student-instructions"]
    out.cells.insert(0, intro)
    out.metadata["ilib_assignment"] = {"source": path.stem}
    return out


def public_cases(path: Path) -> dict:
    """The public cases of a notebook's exercises, with the reference's values on them (as data) and the hints."""
    nb = nbformat.read(path, as_version=4)
    expected = expected_values(path)
    out = {"notebook": path.stem, "exercises": []}
    for spec in exercises(nb):
        cs = cases(spec)
        out["exercises"].append({
            "name": spec["name"], "difficulty": spec.get("difficulty", ""), "hint": spec.get("hint", ""),
            "hint_after": spec.get("hint_after"), "rtol": spec.get("rtol", 1e-6), "atol": spec.get("atol", 1e-9),
            "cases": [{"args": c.args, "index": i, "expected": want}
                      for i, (c, want) in enumerate(zip(cs, expected[spec["name"]])) if not c.hidden],
            "hidden_cases": sum(c.hidden for c in cs)})
    return out


CHECK_SCRIPT = '''"""Check your exercises on the public test cases: python check.py NOTEBOOK.ipynb [--hint-after N]"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ilib.harness.assignments import main  # noqa: E402

sys.exit(main(["check", *sys.argv[1:]]))
'''


def write_bundle(names: list[str] | None, out_dir: Path) -> list[Path]:
    """Write the students' bundle in ``out_dir``: student copies, ``cases/``, ``check.py`` and ``ilib/``.

    The package is copied from the same source without ``ilib/solutions/``; nothing of the
    instructor's notebooks (solutions, hidden cases, references) goes in.
    """
    from .runner import find_notebooks

    out_dir = Path(out_dir)
    paths = find_notebooks(names)
    copies = {p: student_copy(p) for p in paths}  # raises before anything is written
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for path, nb in copies.items():
        dest = out_dir / path.name
        _write(dest, nbformat.writes(nb))
        _write(out_dir / "cases" / f"{path.stem}.json", json.dumps(public_cases(path), indent=1) + "\n")
        written.append(dest)
    _write(out_dir / "check.py", CHECK_SCRIPT)
    pkg = out_dir / "ilib"
    staging = out_dir / ".ilib.tmp"
    sandbox.remove_tree(staging)
    shutil.copytree(PACKAGE_DIR, staging, ignore=shutil.ignore_patterns(*sandbox.PACKAGE_EXCLUDE, "*.pyc"))
    sandbox.remove_tree(pkg)
    os.replace(staging, pkg)
    return written


def write_student_copies(names: list[str] | None, out_dir: Path) -> list[Path]:
    """The student bundle (kept under its old name): see :func:`write_bundle`."""
    return write_bundle(names, out_dir)


def _write(path: Path, text: str) -> None:
    atomic_write_text(path, text)
    os.chmod(path, FILE_MODE)


# --------------------------------------------------------------------------- the local checker (students)
def check(path: Path, *, cases_dir: Path | None = None, hint_after: int = 2) -> tuple[list[dict], str]:
    """Call the student's functions in ``path`` on the public cases; return the records and the report.

    Failures are counted per exercise in ``.<notebook>.attempts.json`` beside the notebook: the first
    ``hint_after`` failures get a generic message, later ones the exercise's hint.
    """
    path = Path(path)
    if hint_after < 0:
        raise ValueError(f"hint_after must be at least 0, got {hint_after}")
    nb = nbformat.read(path, as_version=4)
    stem = nb.metadata.get("ilib_assignment", {}).get("source") or path.stem
    cases_file = Path(cases_dir or path.parent / "cases") / f"{stem}.json"
    if not cases_file.exists():
        raise ValueError(f"cases_dir: no public cases for {stem} (looked for {cases_file})")
    data = json.loads(cases_file.read_text())
    attempts_file = path.parent / f".{path.stem}.attempts.json"
    attempts = json.loads(attempts_file.read_text()) if attempts_file.exists() else {}
    names = [e["name"] for e in data["exercises"]]
    sources = solution_sources(nb, names)

    ns: dict = {"__name__": "__student__"}
    for stmt in preamble(nb):
        try:
            exec(stmt, ns)  # noqa: S102 - the notebook's own imports
        except Exception:  # noqa: BLE001 - an import the exercises may not need
            pass
    records, lines = [], [f"checking {path.name} on the public test cases"]
    for ex in data["exercises"]:
        name, why = ex["name"], ""
        try:
            exec(compile(sources.get(name, ""), f"<exercise {name}>", "exec"), ns)  # noqa: S102 - the student's cell
            fn = ns.get(name)
            if not callable(fn):
                why = f"no function named {name!r} is defined"
            for i, case in enumerate(ex["cases"] if not why else []):
                got = fn(*copy.deepcopy(sandbox.case_arguments(case["args"], case["index"])))
                if not close(sandbox.decode(sandbox.encode(got)), sandbox.decode(case["expected"]), ex["rtol"], ex["atol"]):
                    why = f"wrong value on public case {i + 1} of {len(ex['cases'])}"
                    break
        except NotImplementedError:
            why = "not attempted yet (the function still raises NotImplementedError)"
        except Exception as exc:  # noqa: BLE001 - the student's code raised
            why = f"your function raised {type(exc).__name__}: {exc}"
        passed = not why
        if not passed and "not attempted" not in why:
            attempts[name] = attempts.get(name, 0) + 1
            limit = ex.get("hint_after")
            limit = hint_after if limit is None else limit
            if attempts[name] > limit:
                why += f". Hint: {ex['hint']}"
            else:
                why += (". Check the prompt's formula and the edge cases it names"
                        f" (a precise hint after {limit - attempts[name] + 1} more failed check(s))")
        records.append({"name": name, "passed": passed, "message": why or f"all {len(ex['cases'])} public cases pass"})
        lines.append(f"  {'PASS' if passed else 'FAIL'}  {name:28} {records[-1]['message']}")
    hidden = sum(e["hidden_cases"] for e in data["exercises"])
    lines.append(f"{sum(r['passed'] for r in records)} of {len(records)} exercises pass their public cases"
                 f" ({hidden} hidden cases are graded by your instructor)")
    _write(attempts_file, json.dumps(attempts) + "\n")
    return records, "\n".join(lines)


# --------------------------------------------------------------------------- grading (instructors)
def grade(path: Path, *, timeout: float = 600, profile: str = "smoke", source: Path | None = None,
          settings: Settings | None = None, out_dir: Path | None = None) -> Grade:
    """Grade one submission out of the student's reach (:func:`ilib.harness.grading.grade`).

    ``timeout`` is the time limit per notebook cell and per call of a student's function; ``source``
    the instructor's notebook holding the exercises (default: the one of the same name in ``notebooks/``).
    """
    from . import grading

    settings = settings or Settings(timeout=timeout, case_timeout=min(timeout, 60.0), profile=profile)
    return grading.grade(path, source=source, settings=settings, out_dir=out_dir)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m ilib.assignments", description="Student bundles, checking and grading.")
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("student", help="write the students' bundle for all or chosen notebooks")
    s.add_argument("notebooks", nargs="*")
    s.add_argument("--out", type=Path, default=REPO_ROOT / "build" / "student")
    c = sub.add_parser("check", help="check a student copy on the public cases (students; what check.py runs)")
    c.add_argument("notebook", type=Path)
    c.add_argument("--cases", type=Path, default=None, help="folder of the public cases (default: cases/ beside it)")
    c.add_argument("--hint-after", type=int, default=2, help="failed checks of an exercise before its hint is shown")
    g = sub.add_parser("grade", help="grade one submission, or many into a gradebook (--out grades.csv)")
    g.add_argument("paths", nargs="+", type=Path, help="submissions (.ipynb) or folders of them")
    g.add_argument("--out", type=Path, default=None, help="gradebook CSV (with .json and a -feedback/ folder beside)")
    g.add_argument("--json", type=Path, default=None, help="one submission: write its grade as JSON here")
    g.add_argument("--timeout", type=float, default=600, help="time limit per notebook cell in seconds")
    g.add_argument("--case-timeout", type=float, default=60, help="time limit per call of a student's function")
    g.add_argument("--memory-gb", type=float, default=8, help="memory limit of each sandboxed process")
    g.add_argument("--workers", type=int, default=None, help="submissions graded at once (default: the cores)")
    g.add_argument("--no-execute", action="store_true", help="check the exercises only, do not run the notebooks")
    g.add_argument("--source", type=Path, default=None, help="the instructor's notebook (default: same name in notebooks/)")
    args = p.parse_args(argv)
    try:
        if args.cmd == "student":
            for path in write_bundle(args.notebooks, args.out):
                print(f"wrote {path}")
            print(f"wrote {args.out / 'check.py'}, {args.out / 'cases'}/ and {args.out / 'ilib'}/")
            return 0
        if args.cmd == "check":
            if not args.notebook.exists():
                raise ValueError(f"notebook: no such file: {args.notebook}")
            records, report = check(args.notebook, cases_dir=args.cases, hint_after=args.hint_after)
            print(report)
            return 0 if all(r["passed"] for r in records) else 1
        settings = Settings(timeout=args.timeout, case_timeout=args.case_timeout, memory_bytes=int(args.memory_gb * 2**30),
                            execute=not args.no_execute)
        if args.source is not None and not args.source.exists():
            raise ValueError(f"--source: no such notebook: {args.source}")
        if args.out is None:
            if len(args.paths) != 1 or not args.paths[0].is_file():
                raise ValueError("paths: give one notebook, or use --out grades.csv to grade many")
            result = grade(args.paths[0], source=args.source, settings=settings)
            print(format_grade(result))
            if args.json:
                _write(args.json, json.dumps(asdict(result), indent=2) + "\n")
            return 0
        grades = gradebook(args.paths, args.out, settings=settings, workers=args.workers, source=args.source)
        for gr in grades:
            print(f"{gr.student:20} {gr.score:g} / {gr.total:g}" + (f"  NOT GRADED: {gr.failure}" if gr.failure else ""))
        print(f"wrote {args.out}, {args.out.with_suffix('.json')} and {args.out.parent / (args.out.stem + '-feedback')}/")
        return 1 if any(gr.failure for gr in grades) else 0
    except ValueError as exc:
        raise SystemExit(f"error: {exc}") from None


if __name__ == "__main__":
    sys.exit(main())
