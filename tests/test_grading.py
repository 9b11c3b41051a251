"""Grading out of the student's reach: cheats score 0, the project stays untouched, the gradebook adds up.

One folder of generated submissions of a tiny assignment (one exercise, ``crossing``, checked against
``ilib.stats:crossing`` on two public and two hidden cases) is graded in one command; each test reads
its row. What could fail: a cheat that scores (the grader trusted the student's process), a looping
function that hangs the batch, a write into the project that goes through unreported, a CSV that does
not add up, files the course group cannot read.
"""

import csv
import json
import os
import stat
import subprocess
import textwrap
from pathlib import Path

import nbformat
import pytest

from ilib.harness import assignments, grading, sandbox

# one pytest-xdist worker runs this module, so that its module-scoped fixture is built once
pytestmark = pytest.mark.xdist_group('test_grading')

ROOT = Path(__file__).resolve().parent.parent
CASES = ["([1, 2, 3, 4], [0.0, 0.2, 0.8, 1.0])", "([2, 4, 6], [0.6, 0.9, 1.0])",
         "([1, 3, 7, 9], [0.0, 0.25, 0.5, 1.0], 0.9)", "([1, 2, 3], [0.1, 0.2, 0.3])"]
CORRECT = '''
def crossing(x, p, level=0.5):
    x, p = np.asarray(x, dtype=float), np.asarray(p, dtype=float)
    above = np.nonzero(p >= level)[0]
    if len(above) == 0:
        return float("nan")
    i = above[0]
    if i == 0:
        return float(x[0])
    return float(x[i - 1] + (level - p[i - 1]) * (x[i] - x[i - 1]) / (p[i] - p[i - 1]))
'''
STACK_WALK = '''
def crossing(x, p, level=0.5):
    f = sys.{getframe}(1)
    while f is not None:
        for v in list(getattr(f, "f_" + "locals").values()) + list(getattr(f, "f_" + "globals").values()):
            for w in [v, getattr(v, "crossing", None), getattr(getattr(v, "stats", None), "crossing", None)]:
                if callable(w) and getattr(w, "__name__", "") != "crossing_student" and w is not crossing:
                    try:
                        return w(x, p, level)
                    except Exception:
                        pass
        f = getattr(f, "f_" + "back")
    raise LookupError("no reference on the stack")
'''
SUBMISSIONS = {  # student id -> (solution cell, expected points of crossing, words the feedback must hold (or one of them))
    "s01-correct": (CORRECT, 1, "all 4 test cases pass"),
    "s02-correct-interp": ("def crossing(x, p, level=0.5):\n" + textwrap.indent(textwrap.dedent('''\
        x, p = np.asarray(x, dtype=float), np.asarray(p, dtype=float)
        if p[0] >= level:
            return float(x[0])
        if not (p >= level).any():
            return float("nan")
        return float(np.interp(level, p, x))'''), "    "), 1, "all 4 test cases pass"),
    "s03-wrong": ("def crossing(x, p, level=0.5):\n    return 123.456", 0, "Hint: interpolate"),
    "s04-partial": (CORRECT.replace("def crossing(x, p, level=0.5):", "def crossing(x, p, level=0.5):\n    level = 0.5"),
                    0.75, "case 3 of 4 (hidden)"),
    "s05-raises": ("def crossing(x, p, level=0.5):\n    raise ValueError('student bug')", 0, "ValueError: student bug"),
    "s06-loops": ("def crossing(x, p, level=0.5):\n    while True:\n        pass", 0, "time limit"),
    "s07-loops-swallowing": ("import time\n\n\ndef crossing(x, p, level=0.5):\n    while True:\n        try:\n"
                             "            time.sleep(0.5)\n        except BaseException:\n            pass", 0, "time limit"),
    "s08-untouched": ("def crossing(x, p, level=0.5):\n    raise NotImplementedError('Exercise')", 0, "not attempted"),
    # the five cheats of issue 24
    "s09-cheat-imports-reference": ("from ilib.stats import crossing as _c\n\n\ndef crossing(x, p, level=0.5):\n"
                                    "    return _c(x, p, level)", 0, "imports the reference implementation"),
    "s10-cheat-patches-comparison": ("import ilib.harness.grading as _g\n_g.close = lambda *a, **k: True\n\n\n"
                                     "def crossing(x, p, level=0.5):\n    return 0.0", 0, "imports ilib.harness.grading"),
    "s11-cheat-replaces-checker": ("import ilib.harness.assignments as _a\n"
                                   "_a.check_exercises = lambda specs, ns: [dict(name='crossing', passed=True)]\n"
                                   "import ilib.harness.grading as _g\n_g._score = lambda rec, *a: rec.update(points=1)\n\n\n"
                                   "def crossing(x, p, level=0.5):\n    return 0.0", 0, "imports ilib.harness"),
    "s12-cheat-forges-result": ("import json, os\nline = {'name': 'crossing', 'passed': True, 'points': 1}\n"
                                "print('ILIB-GRADE-RESULT:' + json.dumps([line]))\n"
                                "for fd in range(3, 40):\n    for i in range(4):\n        try:\n"
                                "            os.write(fd, (json.dumps({'event': 'case', 'name': 'crossing', 'i': i, "
                                "'value': 1.0, 'passed': True}) + '\\n').encode())\n"
                                "        except OSError:\n            pass\n\n\n"
                                "def crossing(x, p, level=0.5):\n    return 1.0", 0, "wrong value"),
    "s13-cheat-reads-stack": ("import sys\n" + STACK_WALK.format(getframe="_getframe"), 0, "reaches into the interpreter"),
    # the same cheats, written so that the source check cannot see them: caught in the sandbox
    # (the sandbox's frames hold no reference: the walk calls whatever it finds, or the stand-in)
    "s14-cheat-reads-stack-obfuscated": ("import sys\n" + STACK_WALK.format(getframe='__dict__["_get" + "frame"]'), 0,
                                         ("calls the reference implementation", "wrong value", "raised")),
    "s15-cheat-is-reference-obfuscated": ("import ilib.stats as _s\ncrossing = getattr(_s, 'cross' + 'ing')", 0,
                                          "is the reference implementation"),
    "s17-not-own-code": ("import numpy as np\ncrossing = np.interp", 0, "not defined in your cell"),
    "s16-cheat-wraps-reference-obfuscated": ("import ilib.stats as _s\n_f = getattr(_s, 'cross' + 'ing')\n\n\n"
                                             "def crossing(x, p, level=0.5):\n    return _f(x, p, level)", 0,
                                             "calls the reference implementation"),
}


def _source(tmp_path, name="tiny"):
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell('profile = "paper"\nseed = 0')
    params.metadata["tags"] = ["parameters"]
    prompt = nbformat.v4.new_markdown_cell("**Exercise (easy): `crossing`.** The first $x$ where $p$ reaches `level`.")
    prompt.metadata["tags"] = ["exercise-prompt"]
    sol = nbformat.v4.new_code_cell("import numpy as np\n" + CORRECT)
    sol.metadata["tags"] = ["solution"]
    sol.metadata["exercise"] = {"name": "crossing", "difficulty": "easy", "reference": "ilib.stats:crossing",
                                "cases": CASES, "hint": "interpolate"}
    nb.cells = [params, nbformat.v4.new_code_cell("import numpy as np"), prompt, sol,
                nbformat.v4.new_code_cell("print(crossing([1, 2], [0.0, 1.0]))")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = tmp_path / f"{name}.ipynb"
    nbformat.write(nb, path)
    return path, nb


def _submission(nb, solution, *extra_cells):
    nb = nbformat.from_dict(json.loads(json.dumps(nb)))
    nb.cells[3].source = solution
    nb.cells[3].metadata["exercise"] = {"name": "crossing", "difficulty": "easy"}
    nb.cells += [nbformat.v4.new_code_cell(c) for c in extra_cells]
    return nb


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    """The generated folder graded in one command; returns (rc, csv rows by student, grades by student, out)."""
    import time

    tmp = tmp_path_factory.mktemp("batch")
    src, nb = _source(tmp)
    folder = tmp / "submissions"
    folder.mkdir()
    for sid, (solution, _, _) in SUBMISSIONS.items():
        nbformat.write(_submission(nb, solution), folder / f"{sid}__tiny.ipynb")
    out = tmp / "out" / "grades.csv"
    t0, c0 = time.perf_counter(), os.times()
    rc = assignments.main(["grade", str(folder), "--out", str(out), "--source", str(src), "--no-execute",
                           "--case-timeout", "8", "--workers", "2"])
    c1 = os.times()
    timing = {"wall_s": time.perf_counter() - t0, "cpu_s": c1.children_user + c1.children_system
              - c0.children_user - c0.children_system, "load": os.getloadavg(), "n": len(SUBMISSIONS)}
    print("batch timing", timing)
    (tmp / "timing.json").write_text(json.dumps(timing))
    rows = {r["student"]: r for r in csv.DictReader(out.open())}
    grades = {g["student"]: g for g in json.loads(out.with_suffix(".json").read_text())}
    return rc, rows, grades, out


def test_the_batch_exits_zero_for_low_scores_and_writes_a_row_per_student(batch):
    rc, rows, grades, out = batch
    assert rc == 0  # low scores are no grading failure
    assert set(rows) == set(SUBMISSIONS) == set(grades)
    assert list(next(csv.reader(out.open()))) == ["student", "notebook", "crossing", "total", "max", "status"]


@pytest.mark.parametrize("sid", list(SUBMISSIONS))
def test_each_generated_submission_gets_its_expected_points_and_message(batch, sid):
    _, rows, grades, out = batch
    _, want, words = SUBMISSIONS[sid]
    assert float(rows[sid]["crossing"]) == want and float(rows[sid]["total"]) == want and rows[sid]["max"] == "1"
    ex = grades[sid]["exercises"][0]
    words = (words,) if isinstance(words, str) else words
    assert any(w in ex["message"] for w in words), ex["message"]
    feedback = (out.parent / "grades-feedback" / f"{sid}__tiny.feedback.txt").read_text()
    assert any(w in feedback for w in words) and "8.6" not in feedback and "2.5" not in feedback  # never an expected value


def test_gradebook_files_are_readable_by_the_course_group(batch):
    _, _, _, out = batch
    files = [out, out.with_suffix(".json"), *(out.parent / "grades-feedback").iterdir()]
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o644 for p in files), [oct(p.stat().st_mode) for p in files]


def test_bad_input_is_refused_before_any_kernel_starts(tmp_path):
    with pytest.raises(SystemExit, match="paths: .*neither a notebook nor a folder"):
        assignments.main(["grade", str(tmp_path / "missing.ipynb"), "--out", str(tmp_path / "g.csv")])
    with pytest.raises(SystemExit, match="out: the gradebook is a .csv file"):
        src, _ = _source(tmp_path)
        assignments.main(["grade", str(src), "--out", str(tmp_path / "g.txt")])
    with pytest.raises(ValueError, match="case_timeout must be positive"):
        grading.Settings(case_timeout=0)


def test_points_follow_difficulty_and_cases_are_public_then_hidden():
    spec = {"name": "f", "difficulty": "hard", "cases": ["(1,)", "(2,)", "(3,)", "(4,)", "(5,)"]}
    cs = grading.cases(spec)
    assert [c.hidden for c in cs] == [False, False, False, True, True]
    assert grading.points(spec) == 3 and cs[0].points == pytest.approx(0.6)
    spec = {"name": "f", "difficulty": "easy", "points": 4, "cases": [{"args": "(1,)", "points": 3}, "(2,)"]}
    assert [c.points for c in grading.cases(spec)] == [3, 1]
    with pytest.raises(ValueError, match="'hidden' must be an integer"):
        grading.cases({"name": "f", "cases": ["(1,)"], "hidden": 2})


def test_the_source_check_names_each_kind_of_reach():
    ref = "ilib.stats:crossing"
    assert grading.cheats("from ilib.stats import crossing", "f", ref) == [
        "imports the reference implementation ilib.stats:crossing"]
    assert grading.cheats("import ilib.stats\ndef f(x):\n    return ilib.stats.crossing(x)", "f", ref)
    assert grading.cheats("import gc\ndef f(x):\n    return gc.get_objects()", "f", ref)
    assert grading.cheats(CORRECT, "crossing", ref) == []


def test_values_travel_as_data():
    import numpy as np
    import torch

    value = (torch.arange(3.0), {"a": [1, float("nan")]}, np.int64(2), "s", None, object())
    back = sandbox.decode(json.loads(json.dumps(sandbox.encode(value))))
    assert np.array_equal(back[0], [0.0, 1.0, 2.0]) and np.isnan(back[1]["a"][1]) and back[2] == 2
    assert back[5] != back[5]  # an object the sandbox cannot describe never matches


def test_a_submission_that_writes_outside_its_folder_fails_or_is_reported_and_a_slow_cell_keeps_earlier_points(tmp_path):
    """Executed for real: the cell writes into the project and into a protected folder, deletes a file
    there, raises, and the last cell runs past its time limit; the exercise's points stay."""
    src, nb = _source(tmp_path)
    project = tmp_path / "project"
    project.mkdir()
    subprocess.run(["git", "init", "-q", str(project)], check=True)
    (project / "keep.txt").write_text("keep")
    subprocess.run(["git", "-C", str(project), "add", "keep.txt"], check=True)
    subprocess.run(["git", "-C", str(project), "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "x"],
                   check=True)
    backdoor = ROOT / "ilib" / "backdoor_test_grading.py"
    attack = textwrap.dedent(f'''
        import os, pathlib, ilib
        report = []
        for target in [{str(backdoor)!r}, {str(project / "new.txt")!r},
                       str(pathlib.Path(ilib.__file__).parent / "backdoor.py")]:
            try:
                pathlib.Path(target).write_text("owned")
                report.append("wrote " + target)
            except OSError as exc:
                report.append(type(exc).__name__)
        try:
            os.remove({str(project / "keep.txt")!r})
        except OSError as exc:
            report.append(type(exc).__name__)
        print(report)
        raise RuntimeError("student bug")
    ''')
    path = tmp_path / "bob__tiny.ipynb"
    nbformat.write(_submission(nb, "import numpy as np\n" + CORRECT, attack, "import time\ntime.sleep(600)"), path)
    try:
        g = grading.grade(path, source=src, out_dir=tmp_path / "out",
                          settings=grading.Settings(timeout=30, case_timeout=10, protect=(str(project),)))
    finally:
        backdoor.unlink(missing_ok=True)
    text = grading.format_grade(g)
    assert (project / "keep.txt").exists() or g.violations, text
    assert not (project / "new.txt").exists() or g.violations, text
    assert any("RuntimeError: student bug" in m for m in g.notebook_errors), text
    assert g.timed_out and any("time limit" in m for m in g.notebook_errors), text
    if g.violations:
        assert g.score == 0 and "changed files" in text
    else:
        assert sandbox.namespaces_available()
        assert g.score == 1 and g.exercises[0]["passed"], text  # the slow cell did not cost the exercise its points
    executed = nbformat.read(g.executed, as_version=4)
    printed = "".join(o.get("text", "") for c in executed.cells for o in c.get("outputs", []))
    assert "wrote" not in printed or g.violations, printed


@pytest.mark.parametrize("order", [1, -1])
def test_nested_hidden_and_readonly_folders_mount_in_any_order(tmp_path, order):
    """A hidden folder inside another hidden one (a batch's submissions inside its output folder) is covered with
    its parent whatever order the caller lists them in; read-only parents are mounted before their children."""
    if not sandbox.namespaces_available():
        pytest.skip("no user namespaces here: the sandbox runs without mounts")
    inner = tmp_path / "outer" / "inner"
    inner.mkdir(parents=True)
    (inner / "secret.txt").write_text("x")
    ro = tmp_path / "ro"
    (ro / "child").mkdir(parents=True)
    prefix = sandbox.isolation_prefix([ro, ro / "child"][::order], [tmp_path / "outer", inner][::order])
    probe = (f"test ! -e {inner / 'secret.txt'} && ! touch {ro / 'child' / 'w'} 2>/dev/null "
             f"&& ! touch {ro / 'w'} 2>/dev/null")
    out = subprocess.run(prefix + ["sh", "-c", probe], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
