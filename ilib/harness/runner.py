"""Run notebooks through papermill: profiles, parameters, caching, parallel workers, scoreboard.

``run_all.py`` is a thin front end to :func:`main`. Each notebook runs in a
worker process of its own (:mod:`ilib.harness.worker`), with its own kernel and
a wall-clock limit, writing into a staging folder private to the run inside the
output folder; only when it succeeds are its folders swapped in by renames
(:mod:`ilib.harness.outputs`), so a failing, interrupted or killed notebook
never leaves the figures of the last good run half overwritten. One run at a
time may write an output folder.

A notebook is skipped when its last run succeeded with the run key of the
present run (:mod:`ilib.harness.cachekey`: the notebook, the parameters, the
project's files, every installed version, the thread count, the device and the
project's environment variables) and every figure still has its recorded
checksum.

Stopping: Ctrl-C or SIGTERM cancels the queued notebooks, ends every running
worker and its kernel, prints the summary marked INTERRUPTED and exits with
status 130. Workers also end by themselves when the runner dies.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..params import PROFILES, ParameterError, check
from ..record import REPO_ROOT, atomic_write_bytes, atomic_write_text, format_value
from . import cachekey
from .outputs import OutputFolder, OutputLocked
from .worker import DASK_WORKER_ONLY

#: the runner's own values of the variables that Dask's nanny changes in this process's environment when it
#: starts local workers (read at import, before any cluster): what the notebooks' kernels get instead
LAUNCH_ENVIRONMENT = {var: os.environ.get(var) for var in DASK_WORKER_ONLY}

NOTEBOOK_DIR = REPO_ROOT / "notebooks"
DEFAULT_TIMEOUT = {"smoke": 300, "paper": 1800}


# --------------------------------------------------------------------------- discovery
def find_notebooks(names: list[str] | None = None) -> list[Path]:
    """All notebooks in ``notebooks/`` (sorted), or those named by path, file name, stem or number prefix."""
    available = sorted(p for p in NOTEBOOK_DIR.glob("*.ipynb") if not p.name.startswith("."))
    if not names:
        return available
    out = []
    for name in names:
        p = Path(name)
        if p.suffix == ".ipynb" and p.exists():
            out.append(p.resolve())
            continue
        stem = p.name[: -len(".ipynb")] if p.name.endswith(".ipynb") else p.name
        hits = [q for q in available if q.stem == stem] or [q for q in available if q.stem.startswith(stem)]
        if len(hits) != 1:
            choices = ", ".join(q.stem for q in available)
            what = "matches no notebook" if not hits else f"is ambiguous ({', '.join(h.stem for h in hits)})"
            raise SystemExit(f"error: notebook {name!r} {what}; notebooks: {choices}")
        if hits[0] not in out:
            out.append(hits[0])
    return out


def parse_value(text: str):
    """A command-line value: a Python literal (``5``, ``0.1``, ``[5, 10]``, ``None``) or else the string."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def declared_parameters(path: Path) -> dict:
    """The names declared in a notebook's ``parameters`` cell (papermill's inspection)."""
    import papermill as pm

    return dict(pm.inspect_notebook(str(path)))


def scoped_overrides(pairs: list[tuple[str, str]], notebooks: list[Path]) -> dict[Path, dict]:
    """``-p NAME VALUE`` for every notebook, ``-p NB:NAME VALUE`` for one (``NB`` as on the command line)."""
    out: dict[Path, dict] = {nb: {} for nb in notebooks}
    for name, text in pairs:
        scope, _, param = name.rpartition(":")
        if param == "profile":
            raise SystemExit("error: set the profile with --profile, not -p profile")
        if not param.isidentifier():
            raise SystemExit(f"error: -p {name!r}: a parameter name must be an identifier (or NOTEBOOK:NAME)")
        targets = notebooks if not scope else find_notebooks([scope])
        for nb in targets:
            if nb not in out:
                raise SystemExit(f"error: -p {name!r} names notebook {nb.stem}, which is not being run")
            out[nb][param] = parse_value(text)
    return out


# --------------------------------------------------------------------------- stopping
STOP = threading.Event()


# --------------------------------------------------------------------------- one notebook
@dataclass
class Outcome:
    notebook: str
    seed: int | None = None
    status: str = "pending"  # ok | cached | FAILED | TIMEOUT | INTERRUPTED
    wall: float = 0.0
    cpu: float | None = None  # CPU seconds of the notebook's worker and kernel
    peak_mb: float | None = None  # peak resident memory of the kernel (or worker), MB
    threads: int | None = None
    figures: int = 0
    message: str = ""
    verdicts: list = field(default_factory=list)
    outputs: list = field(default_factory=list)


def describe_progress(p: dict | None) -> str:
    if not p:
        return "starting the kernel"
    return f"code cell {p['code_cell']} of {p['code_cells']} (notebook cell {p['cell']}: {p['first_line']})"


def _rel(path: Path) -> str:
    try:
        return str(path.relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


@dataclass
class Task:
    """One notebook x seed x profile: what runs, where its outputs go, and its key."""

    path: Path
    seed: int | None
    out: OutputFolder
    build: Path
    overrides: dict
    key: str = ""

    @property
    def label(self) -> str:
        return self.path.stem if self.seed is None else f"{self.path.stem}[{self.seed}]"


def task_payload(t: Task, *, profile: str, threads: int, timeout: float, run_id: str, scheduler: str | None) -> dict:
    """What :func:`ilib.harness.worker.run_task` needs, self-contained so that any worker can run it."""
    return {"stem": t.path.stem, "label": t.label, "source": t.path.read_bytes(),
            "parameters": {"profile": profile, **t.overrides}, "key": t.key, "threads": threads, "timeout": timeout,
            "stop_event": f"ilib-stop-{run_id}", "progress_queue": f"ilib-progress-{run_id}", "scheduler": scheduler,
            "inherit": LAUNCH_ENVIRONMENT}


def finish_task(t: Task, result: dict, timeout: float) -> Outcome:
    """Write a task's returned files into a private staging folder and swap them in (only on success)."""
    stem = t.path.stem
    usage = result.get("usage") or {}
    outcome = Outcome(notebook=stem, seed=t.seed, wall=float(result.get("wall", 0.0)), cpu=usage.get("cpu_s"),
                      peak_mb=usage.get("peak_mb"), threads=result.get("threads"))
    executed = t.build / "executed" / f"{stem}.ipynb"
    if result.get("executed"):
        atomic_write_bytes(executed, result["executed"])
    progress = describe_progress(result.get("progress"))
    why, rc = result.get("why"), result.get("rc")
    if why == "TIMEOUT":
        t.out.record(stem, failed=True)
        outcome.status = "TIMEOUT"
        outcome.message = f"ran past the {timeout:.0f} s limit in {progress}; executed notebook: {_rel(executed)}"
        return outcome
    if why == "INTERRUPTED":
        t.out.record(stem, failed=True)
        outcome.status = "INTERRUPTED"
        outcome.message = f"stopped in {progress}"
        return outcome
    if rc != 0:
        t.out.record(stem, failed=True)
        outcome.status = "FAILED"
        info = result.get("error")
        if info:
            cell = info.get("cell")
            where = f"cell {cell} ({info.get('first_line', '')})" if cell is not None else "before any cell ran"
            evalue = (info.get("evalue") or "").strip().splitlines()
            outcome.message = f"{where}: {info.get('ename')}: {evalue[-1] if evalue else ''}; executed notebook: {_rel(executed)}"
        else:
            tail = (result.get("log") or "").strip().splitlines()[-3:]
            outcome.message = " | ".join(tail) or f"exit status {rc}"
        return outcome
    staging = t.out.staging(stem)
    try:
        for rel, data in result["files"].items():
            atomic_write_bytes(staging / rel, data)
        outcome.outputs = t.out.swap_in(staging)
    except BaseException:
        import shutil

        shutil.rmtree(staging, ignore_errors=True)
        t.out.record(stem, failed=True)
        raise
    t.out.record(stem, outcome.outputs, failed=False)
    outcome.status = "ok"
    return outcome


def _collect(outcome: Outcome, figures: Path) -> None:
    for name in outcome.outputs:
        try:
            data = json.loads((figures / name / "results.json").read_text())
        except (OSError, ValueError):
            continue
        outcome.figures += len(data.get("figures", []))
        for v in data.get("verdicts", []):
            outcome.verdicts.append({"notebook": name, **v})


# --------------------------------------------------------------------------- report
KIND_TITLES = {"theorem": "theorem checks", "sanity": "sanity checks", "finding": "findings",
               None: "unclassified (notebooks not yet on the harness)"}


def _short(value, width: int = 28) -> str:
    text = value if isinstance(value, str) else format_value(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def _label(o: Outcome) -> str:
    return o.notebook if o.seed is None else f"{o.notebook} [seed {o.seed}]"


def format_table(outcomes: list[Outcome]) -> str:
    """Notebook, status, wall and CPU seconds, peak memory, threads, figures and verdicts; then the totals."""
    width = max([34] + [len(_label(o)) + 1 for o in outcomes])

    def num(x, fmt):
        return format(x, fmt) if x is not None else "-"

    head = f"{'notebook':{width}} {'status':8} {'wall s':>8} {'cpu s':>8} {'peak MB':>8} {'thr':>3} {'figures':>7} {'verdicts':>9}"
    lines = [head]
    for o in outcomes:
        agree = sum(v["agrees"] for v in o.verdicts)
        ver = f"{agree}/{len(o.verdicts)}" if o.verdicts else "-"
        lines.append(f"{_label(o):{width}} {o.status:8} {o.wall:8.1f} {num(o.cpu, '8.1f'):>8} {num(o.peak_mb, '8.0f'):>8} "
                     f"{num(o.threads, '3d'):>3} {o.figures:7d} {ver:>9}")
        if o.message:
            lines.append(f"    {o.message}")
    ran = [o for o in outcomes if o.status != "cached"]
    if len(outcomes) > 1:
        cpu = sum(o.cpu or 0.0 for o in ran)
        peak = max((o.peak_mb for o in ran if o.peak_mb is not None), default=None)
        lines.append(f"{'total (notebook time; cached excluded)':{width}} {'':8} {sum(o.wall for o in ran):8.1f} "
                     f"{cpu:8.1f} {num(peak, '8.0f'):>8}")
    return "\n".join(lines)


def timing_rows(outcomes: list[Outcome], *, profile: str, elapsed: float, jobs: int) -> dict:
    """The timing table as JSON: per notebook wall/CPU/peak memory/threads, and the run's elapsed wall time."""
    return {"profile": profile, "jobs": jobs, "elapsed_s": round(elapsed, 3), "cpu_count": os.cpu_count(),
            "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
            "notebooks": [{"notebook": o.notebook, "seed": o.seed, "status": o.status, "wall_s": round(o.wall, 3),
                           "cpu_s": None if o.cpu is None else round(o.cpu, 3),
                           "peak_mb": None if o.peak_mb is None else round(o.peak_mb, 1), "threads": o.threads}
                          for o in outcomes]}


def claim_rows(outcomes: list[Outcome]) -> list[dict]:
    """One row per claim (notebook, id or text, case), with its verdict on every seed run.

    ``fragile`` marks a theorem claim that agrees on seed 0 (or, without seed 0, on some seed)
    but not on most seeds.
    """
    rows: dict[tuple, dict] = {}
    for o in outcomes:
        for v in o.verdicts:
            key = (v["notebook"], v.get("id") or v["claim"], v.get("case"))
            row = rows.setdefault(key, {"notebook": v["notebook"], "kind": v.get("kind"), "claim": v["claim"],
                                        "source": v.get("source"), "rule": v.get("rule"), "seeds": {}})
            row["seeds"][o.seed] = v
    for row in rows.values():
        votes = {s: v["agrees"] for s, v in row["seeds"].items()}
        row["agree"] = sum(votes.values())
        row["runs"] = len(votes)
        dev = votes.get(0, any(votes.values()))
        row["fragile"] = bool(row["kind"] == "theorem" and len(votes) > 1 and dev and 2 * row["agree"] <= len(votes))
    return list(rows.values())


def format_scoreboard(outcomes: list[Outcome]) -> str:
    rows = claim_rows(outcomes)
    if not rows:
        return "theory scoreboard: no verdicts recorded"
    multi = any(r["runs"] > 1 for r in rows)
    lines = ["theory scoreboard"]
    for kind, title in KIND_TITLES.items():
        group = [r for r in rows if r["kind"] == kind]
        if not group:
            continue
        if multi:
            lines.append(f"\n{title}: agreement over seeds")
        else:
            lines.append(f"\n{title}: {sum(r['agree'] for r in group)} of {len(group)} agree")
        for r in group:
            if multi:
                mark = f"{r['agree']}/{r['runs']}" + (" FRAGILE" if r["fragile"] else "")
                lines.append(f"  {mark:12} {r['notebook']}: {r['claim']}")
                per = ", ".join(f"seed {s}: {_short(v['measured'], 12)}{'' if v['agrees'] else ' (no)'}"
                                for s, v in sorted(r["seeds"].items(), key=lambda kv: (kv[0] is None, kv[0])))
                lines.append(f"  {'':12} predicted {_short(next(iter(r['seeds'].values()))['predicted'], 40)}; {per}")
            else:
                (v,) = r["seeds"].values()
                mark = {"n/a": "n/a", "not evaluated": "MISSING"}.get(v.get("status"), "ok" if v["agrees"] else "NO")
                lines.append(f"  {mark:8} {r['notebook']}: {r['claim']}")
                interval = f" in {_short(v['interval'], 30)}" if v.get("interval") else ""
                lines.append(f"  {'':8} predicted {_short(v['predicted'], 40)}; measured {_short(v['measured'], 16)}{interval}")
    total = sum(r["agree"] for r in rows)
    runs = sum(r["runs"] for r in rows)
    lines.append(f"\n{total} of {runs} verdicts agree with the predictions")
    fragile = [r for r in rows if r["fragile"]]
    if fragile:
        lines.append(f"{len(fragile)} theorem claim(s) are FRAGILE (agree on the development seed, not on most seeds)")
    return "\n".join(lines)


def scoreboard_markdown(outcomes: list[Outcome]) -> str:
    rows = claim_rows(outcomes)
    multi = any(r["runs"] > 1 for r in rows)
    cell = lambda x: _short(x, 80).replace("|", "\\|")  # noqa: E731
    lines = ["# Theory scoreboard", ""]
    for kind, title in KIND_TITLES.items():
        group = [r for r in rows if r["kind"] == kind]
        if not group:
            continue
        lines += [f"## {title[0].upper() + title[1:]}", ""]
        if multi:
            lines += ["| notebook | claim | source | seeds agreeing | fragile |", "|---|---|---|---|---|"]
            for r in group:
                lines.append(f"| {r['notebook']} | {cell(r['claim'])} | {cell(r['source'] or '')} | "
                             f"{r['agree']}/{r['runs']} | {'**yes**' if r['fragile'] else ''} |")
        else:
            lines += ["| notebook | claim | source | predicted | measured | agrees |", "|---|---|---|---|---|---|"]
            for r in group:
                (v,) = r["seeds"].values()
                lines.append(f"| {r['notebook']} | {cell(r['claim'])} | {cell(r['source'] or '')} | {cell(v['predicted'])} "
                             f"| {cell(v['measured'])} | {'yes' if v['agrees'] else '**no**'} |")
        lines.append("")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- parameters
def profile_class(path: Path):
    """The notebook's :class:`ilib.Profile` subclass, or None for a notebook not yet on the harness."""
    from ..notebook import experiment_module

    try:
        module = experiment_module(path.stem)
    except ModuleNotFoundError:
        return None
    return getattr(module, "Profile", None)


def check_overrides(path: Path, profile: str, overrides: dict, declared: dict) -> None:
    """Refuse, before any kernel starts, a parameter the notebook does not have or a bad value."""
    cls = profile_class(path)
    names = set(declared) | {"seed"}
    unknown = sorted(set(overrides) - names)
    if unknown:
        raise SystemExit(
            f"error: notebook {path.stem} does not declare parameter(s) {unknown}; it declares: {', '.join(sorted(declared))}"
        )
    try:
        if "seed" in overrides:
            from ..profile import check_seed

            check_seed(overrides["seed"])
        if cls is not None:
            cls.resolve(profile, {k: v for k, v in overrides.items() if k != "seed"})
        else:
            check(overrides)
    except ParameterError as exc:
        raise SystemExit(f"error: {path.stem}: {exc}") from None


def describe_parameters(path: Path, declared: dict) -> str:
    """``--list``: each parameter with its value in each profile and its description."""
    cls = profile_class(path)
    lines = [path.stem]
    if cls is None:
        lines.append("  (not yet on the harness) " + ", ".join(f"{k}={v.get('default')}" for k, v in declared.items()))
        return "\n".join(lines)
    smoke, paper = cls.values("smoke"), cls.values("paper")
    for name, (_, spec) in cls.specs().items():
        rule = spec.bounds_text()
        lines.append(f"  {name:18} smoke={format_value(list(smoke[name]) if isinstance(smoke[name], tuple) else smoke[name])}  "
                     f"paper={format_value(list(paper[name]) if isinstance(paper[name], tuple) else paper[name])}"
                     f"{'  (' + rule + ')' if rule else ''}  {spec.doc}")
    return "\n".join(lines)


# --------------------------------------------------------------------------- CLI
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="run_all.py",
        description="Regenerate every figure: run the notebooks through papermill, each in its own worker and kernel.",
    )
    p.add_argument("notebooks", nargs="*", help="notebooks to run (path, name or number prefix); default all")
    p.add_argument("--profile", choices=PROFILES, default="paper", help="paper: the real figures (default); smoke: seconds, for tests")
    p.add_argument("-j", "--jobs", type=int, default=None,
                   help="notebooks run at once (default: the number of cores, at most the number of notebooks)")
    p.add_argument("--threads", default="1",
                   help="threads per notebook: an integer (default 1, so numbers never depend on -j) or 'auto' "
                        "(the cores free now, shared among the jobs; the count is part of the cache key)")
    p.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                   help="set a parameter (a Python literal) for every notebook, e.g. -p trials 50, or for one: "
                        "-p 01:trials 50")
    p.add_argument("--seeds", type=int, nargs="+", default=None, metavar="SEED",
                   help="run every chosen notebook once per seed (outputs under build/<profile>/seeds/) and show, "
                        "per claim, on how many seeds it agrees; put notebook numbers of 10 and above before --seeds")
    p.add_argument("--timeout", type=float, default=None, help="wall-clock limit per notebook in seconds (smoke 300, paper 1800)")
    p.add_argument("--force", action="store_true", help="run even when the cached results are current")
    p.add_argument("--figures", type=Path, default=None, help="output folder (default figures/ for paper, build/smoke/figures for smoke)")
    p.add_argument("--build", type=Path, default=None, help="folder for executed notebooks (default build/<profile>)")
    p.add_argument("--list", action="store_true", help="list the notebooks, their parameters with each profile's value and meaning, then stop")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="run on an existing Dask cluster (e.g. tcp://host:8786; default $ILIB_SCHEDULER, else a local "
                        "cluster of -j worker processes)")
    p.add_argument("--timings", type=Path, default=None, metavar="FILE",
                   help="also write the timing table (wall, CPU, peak memory, threads per notebook) as JSON to FILE")
    p.add_argument("--book", action="store_true",
                   help="build the static HTML book (build/book/<profile>/) from the last run of --profile, then stop")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def parse_args(argv: list[str] | None):
    """Parse the command line; ``--seeds 0 1 2 01 03`` reads ``01 03`` as notebooks.

    After ``--seeds``, plain integers are seeds and the first token that is not
    one (a name, or a number with a leading zero such as ``01``) starts the list
    of notebooks. Notebooks can also come first: ``run_all.py 01 --seeds 0 1 2``.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    if "--seeds" in argv:
        i = argv.index("--seeds")
        j = i + 1
        seeds: list[str] = []
        while j < len(argv) and not argv[j].startswith("-") and argv[j].isdigit() and (argv[j] == "0" or argv[j][0] != "0"):
            seeds.append(argv[j])
            j += 1
        k = j
        while k < len(argv) and not argv[k].startswith("-"):
            k += 1
        if not seeds:
            parser.error("--seeds needs at least one seed (a non-negative integer)")
        argv = argv[j:k] + argv[:i] + argv[k:] + ["--seeds", *seeds]
    return parser.parse_args(argv)


def _threads(text: str, jobs: int) -> int:
    if text == "auto":
        cores = os.cpu_count() or 1
        busy = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
        return max(1, int((cores - busy) // jobs) or 1)
    try:
        n = int(text)
    except ValueError:
        raise SystemExit(f"error: --threads must be a positive integer or 'auto', got {text!r}") from None
    if n < 1:
        raise SystemExit(f"error: --threads must be a positive integer or 'auto', got {text!r}")
    return n


def _memory_available() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def check_memory(tasks: list, profile: str, jobs: int) -> None:
    """Refuse a run whose notebooks' own memory estimates cannot fit beside each other in the memory available."""
    avail = _memory_available()
    if avail is None:
        return
    need = []
    for nb, _s, _f, _b, ov in tasks:
        cls = profile_class(nb)
        if cls is None:
            continue
        try:
            est = cls.resolve(profile, {k: v for k, v in ov.items() if k != "seed"}).memory_bytes()
        except ParameterError:
            continue
        if est:
            need.append((est, nb.stem))
    if not need:
        return
    need.sort(reverse=True)
    worst = sum(e for e, _ in need[:jobs])
    if need[0][0] > avail or worst > avail:
        names = ", ".join(f"{n} needs about {e / 2**30:.1f} GiB" for e, n in need[:jobs])
        raise SystemExit(f"error: not enough memory: {names}, and {avail / 2**30:.1f} GiB is available; "
                         "lower the sizes (-p) or -j")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    STOP.clear()
    notebooks = find_notebooks(args.notebooks)
    if not notebooks:
        raise SystemExit("error: no notebooks found in notebooks/")
    runs = len(notebooks) * len(args.seeds or [None])
    if args.jobs is not None and args.jobs < 1:
        raise SystemExit(f"error: -j/--jobs must be at least 1, got {args.jobs}")
    jobs = args.jobs or max(1, min(os.cpu_count() or 1, runs))
    threads = _threads(args.threads, jobs)
    if args.timeout is not None and not (args.timeout > 0 and args.timeout != float("inf")):
        raise SystemExit(f"error: --timeout must be a positive number of seconds, got {args.timeout}")
    overrides = scoped_overrides(args.parameter, notebooks)
    if args.seeds is not None:
        if any("seed" in ov for ov in overrides.values()):
            raise SystemExit("error: give seeds with --seeds or -p seed, not both")
        if len(set(args.seeds)) != len(args.seeds):
            raise SystemExit(f"error: --seeds has repeated seeds: {args.seeds}")

    if args.book:
        from .book import build_book

        index = build_book(args.profile, build=args.build, figures=args.figures, quiet=args.no_progress)
        print(f"book of the last {args.profile} run: {_rel(index)}")
        return 0
    declared = {nb: declared_parameters(nb) for nb in notebooks}
    if args.list:
        for nb, params in declared.items():
            print(describe_parameters(nb, params))
        return 0
    for nb, params in declared.items():
        if "profile" not in params or "seed" not in params:
            raise SystemExit(f"error: notebook {nb.stem} has no papermill parameters cell declaring profile and seed")
        check_overrides(nb, args.profile, overrides[nb], params)
        for s in args.seeds or []:
            check_overrides(nb, args.profile, {**overrides[nb], "seed": s}, params)

    timeout = args.timeout or DEFAULT_TIMEOUT[args.profile]
    folders: dict[Path, OutputFolder] = {}
    tasks: list[Task] = []

    def folder(root: Path) -> OutputFolder:
        root = root.resolve()
        if root not in folders:
            folders[root] = OutputFolder(root)
        return folders[root]

    if args.seeds is None:
        figures = args.figures or (REPO_ROOT / "figures" if args.profile == "paper" else REPO_ROOT / "build" / "smoke" / "figures")
        build = (args.build or REPO_ROOT / "build" / args.profile).resolve()
        tasks = [Task(nb, None, folder(figures), build, overrides[nb]) for nb in notebooks]
        report_dir = build
    else:
        base = (args.build or REPO_ROOT / "build" / args.profile).resolve() / "seeds"
        for s in args.seeds:
            root = (args.figures / f"seed-{s}") if args.figures else base / f"seed-{s}" / "figures"
            tasks += [Task(nb, s, folder(root), base / f"seed-{s}", {**overrides[nb], "seed": s}) for nb in notebooks]
        report_dir = base
    check_memory([(t.path, t.seed, None, None, t.overrides) for t in tasks], args.profile, jobs)
    for t in tasks:
        OutputFolder(t.build).check_writable()
    if args.timings is not None:
        if args.timings.is_dir():
            raise SystemExit(f"error: --timings {args.timings} is a folder; give a file name such as timings.json")
        try:
            args.timings.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SystemExit(f"error: --timings {args.timings}: its folder cannot be created ({exc.strerror})") from None
    locked = []
    try:
        for f in folders.values():
            f.lock()
            locked.append(f)
            for action in f.recover():
                print(f"{_rel(f.root)}: {action}")
    except OutputLocked as exc:
        for f in locked:
            f.unlock()
        raise SystemExit(f"error: {exc}") from None

    started = time.perf_counter()
    environment = cachekey.environment_digest()
    outcomes: dict[int, Outcome] = {}
    todo = []
    for i, t in enumerate(tasks):
        t.key = cachekey.run_key(t.path, args.profile, t.overrides, threads=threads, environment=environment)
        if not args.force and t.out.cached(t.path.stem, t.key):
            outcomes[i] = Outcome(notebook=t.path.stem, seed=t.seed, status="cached", outputs=t.out.produced(t.path.stem))
        else:
            todo.append(i)

    handlers = {}

    def on_signal(signum, frame):
        print(f"\n{signal.Signals(signum).name}: stopping every notebook ...", file=sys.stderr, flush=True)
        STOP.set()

    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            handlers[sig] = signal.signal(sig, on_signal)

    from tqdm import tqdm

    bar = tqdm(total=len(tasks), desc=f"notebooks ({args.profile})", unit="nb", disable=args.no_progress, file=sys.stderr)
    for i in outcomes:
        bar.update(1)
        bar.write(f"{'cached':8} {tasks[i].label}")
    try:
        if todo and not STOP.is_set():
            execute(tasks, todo, outcomes, bar, args=args, jobs=jobs, threads=threads, timeout=timeout)
    finally:
        bar.close()
        for f in folders.values():
            f.unlock()
        for sig, h in handlers.items():
            signal.signal(sig, h)
    for i, t in enumerate(tasks):
        outcomes.setdefault(i, Outcome(notebook=t.path.stem, seed=t.seed, status="INTERRUPTED", message="not started"))
    ordered = [outcomes[i] for i in range(len(tasks))]
    for o, t in zip(ordered, tasks):
        _collect(o, t.out.root)
    interrupted = STOP.is_set()
    print()
    if interrupted:
        print("INTERRUPTED: the summary covers what finished; no running notebook changed its figures")
    print(format_table(ordered))
    if args.timings is not None:
        atomic_write_text(args.timings, json.dumps(timing_rows(ordered, profile=args.profile, jobs=jobs,
                                                               elapsed=time.perf_counter() - started), indent=1) + "\n")
    print()
    print(format_scoreboard(ordered))
    if any(o.verdicts for o in ordered):
        atomic_write_text(report_dir / "scoreboard.md", scoreboard_markdown(ordered))
        atomic_write_text(report_dir / "scoreboard.json", json.dumps(claim_rows(ordered), indent=1, default=str) + "\n")
    if args.seeds is None and args.profile == "paper" and any(o.status in ("ok", "cached") for o in ordered):
        from .book import write_gallery

        write_gallery(tasks[0].out.root)
    where = tasks[0].out.root if args.seeds is None else report_dir
    print(f"\nfigures in {where}; executed notebooks in {tasks[0].build / 'executed' if args.seeds is None else report_dir}")
    if interrupted:
        return 130
    failed = [o for o in ordered if o.status not in ("ok", "cached")]
    if failed:
        print(f"{len(failed)} notebook run(s) did not finish: {', '.join(_label(o) for o in failed)}")
        return 1
    return 0


def execute(tasks: list[Task], todo: list[int], outcomes: dict, bar, *, args, jobs: int, threads: int,
            timeout: float) -> None:
    """Run the tasks ``todo`` on a Dask cluster (local by default) and finish each as it returns."""
    from distributed import Event, Queue

    from . import cluster as C
    from .worker import run_task

    run_id = f"{os.getpid()}-{time.time_ns()}"
    # Sweeps inside a notebook (ilib.parallel.map_tasks) go to the cluster only when it is one of the user's
    # (--scheduler / ILIB_SCHEDULER): on the local cluster every core already runs a notebook, and a notebook
    # waiting on its own sweep's tasks could hold the only worker (-j 1) while they wait for it.
    external = bool(args.scheduler or os.environ.get(C.SCHEDULER_VARIABLE))
    with C.connect(args.scheduler, jobs) as (client, address):
        try:
            C.check_workers(client)
        except C.WorkerMismatch as exc:
            raise SystemExit(f"error: {exc}") from None
        resources = C.notebook_resources(client)
        stop = Event(f"ilib-stop-{run_id}", client=client)
        queue = Queue(f"ilib-progress-{run_id}", client=client)
        futures = {}
        for i in todo:
            payload = task_payload(tasks[i], profile=args.profile, threads=threads, timeout=timeout, run_id=run_id,
                                   scheduler=address if external else None)
            fut = client.submit(run_task, payload, key=f"ilib-{tasks[i].label}-{run_id}", pure=False,
                                resources=resources, retries=0)
            futures[fut] = i
        progress: dict[str, str] = {}
        pending = set(futures)
        stopping_since = None
        while pending:
            done = {f for f in pending if f.done()}
            for fut in done:
                pending.discard(fut)
                i = futures[fut]
                t = tasks[i]
                progress.pop(t.label, None)
                if fut.cancelled() or (fut.status == "cancelled"):
                    o = Outcome(notebook=t.path.stem, seed=t.seed, status="INTERRUPTED", message="not started")
                else:
                    try:
                        o = finish_task(t, fut.result(), timeout)
                    except Exception as exc:  # a bug in the runner or a lost worker must not stop the others
                        t.out.record(t.path.stem, failed=True)
                        o = Outcome(notebook=t.path.stem, seed=t.seed, status="FAILED",
                                    message=f"{type(exc).__name__}: {exc}")
                outcomes[i] = o
                bar.update(1)
                bar.write(f"{o.status:8} {_label(o)} ({o.wall:.1f} s){': ' + o.message if o.message else ''}")
            if STOP.is_set():
                if stopping_since is None:
                    stopping_since = time.time()
                    stop.set()
                    for fut in pending:
                        if fut.status == "pending":
                            fut.cancel()
                elif time.time() - stopping_since > 30:
                    break  # workers that do not answer: closing the local cluster ends them
            try:
                for item in queue.get(batch=True):
                    progress[item["label"]] = describe_progress(item["progress"])
            except Exception:
                pass
            if progress and not args.no_progress:
                bar.set_postfix_str("; ".join(f"{k}: {v}" for k, v in sorted(progress.items()))[:150])
            time.sleep(0.3)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
