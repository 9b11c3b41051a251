"""Run notebooks through papermill: profiles, parameters, caching, parallel workers, scoreboard.

``run_all.py`` is a thin front end to :func:`main`. Each notebook runs in its
own process (and its own kernel) with a wall-clock limit. It writes into a
staging folder under ``build/``; only when it succeeds are its figures moved
into place, so a failing or interrupted notebook never leaves the figures of
the last good run half overwritten.

A notebook is skipped when its ``results.json`` carries the run key of the
present run: a hash of the notebook's source, the parameters, the profile,
every file of the ``ilib`` package and the library versions. Change any of
these and the key changes, so stale results cannot be mistaken for fresh ones.
"""

from __future__ import annotations

import argparse
import ast
import concurrent.futures as cf
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from ..params import PROFILES, ParameterError, check
from ..record import REPO_ROOT, RunContext, atomic_write_text, format_value

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


# --------------------------------------------------------------------------- cache key
def _hash_files(h, paths):
    for p in sorted(paths):
        h.update(str(p.relative_to(REPO_ROOT)).encode())
        h.update(p.read_bytes())


def run_key(path: Path, profile: str, parameters: dict) -> str:
    """Hash of everything a notebook's results depend on."""
    import numpy
    import torch

    h = hashlib.sha256()
    h.update(path.read_bytes())
    h.update(json.dumps({"profile": profile, "parameters": parameters}, sort_keys=True, default=str).encode())
    pkg = REPO_ROOT / "ilib"
    _hash_files(h, [p for p in pkg.rglob("*") if p.is_file() and "__pycache__" not in p.parts and not p.name.endswith(".pyc")])
    h.update(f"{sys.version}|torch {torch.__version__}|numpy {numpy.__version__}".encode())
    return h.hexdigest()[:20]


def cached(figures: Path, stem_dirs: list[str], key: str) -> bool:
    """True when every results.json of the notebook carries ``key`` and all its figures exist."""
    if not stem_dirs:
        return False
    for name in stem_dirs:
        res = figures / name / "results.json"
        try:
            data = json.loads(res.read_text())
        except (OSError, ValueError):
            return False
        if data.get("run_key") != key:
            return False
        if not all((figures / name / f).exists() for f in data.get("figures", [])):
            return False
    return True


def _produced_dirs(figures: Path, stem: str) -> list[str]:
    """Output folders a notebook wrote last time (recorded by the runner)."""
    index = figures / ".outputs.json"
    try:
        return json.loads(index.read_text()).get(stem, [])
    except (OSError, ValueError):
        return []


def _record_produced(figures: Path, stem: str, dirs: list[str]) -> None:
    index = figures / ".outputs.json"
    try:
        data = json.loads(index.read_text())
    except (OSError, ValueError):
        data = {}
    data[stem] = dirs
    atomic_write_text(index, json.dumps(data, indent=1, sort_keys=True) + "\n")


# --------------------------------------------------------------------------- one notebook
@dataclass
class Outcome:
    notebook: str
    seed: int | None = None
    status: str = "pending"  # ok | cached | FAILED | TIMEOUT | REFUSED
    wall: float = 0.0
    figures: int = 0
    message: str = ""
    verdicts: list = field(default_factory=list)
    outputs: list = field(default_factory=list)


def _execute_child(nb: str, out: str, params_json: str, error_json: str) -> int:
    """Run inside a worker process: execute one notebook with papermill."""
    import papermill as pm

    params = json.loads(params_json)
    try:
        pm.execute_notebook(
            nb,
            out,
            parameters=params,
            kernel_name="python3",
            cwd=str(Path(nb).parent),
            progress_bar=False,
            log_output=False,
        )
        return 0
    except pm.PapermillExecutionError as exc:
        info = {"cell": _source_cell(out, exc.cell_index), "ename": exc.ename, "evalue": exc.evalue}
    except Exception as exc:  # kernel died, bad notebook file, ...
        info = {"cell": None, "ename": type(exc).__name__, "evalue": str(exc), "trace": traceback.format_exc()[-2000:]}
    atomic_write_text(Path(error_json), json.dumps(info))
    return 1


def _source_cell(executed: str, index: int) -> str:
    """The failing cell of an executed notebook: its 1-based place in the source notebook and its first line."""
    import nbformat

    try:
        cells = nbformat.read(executed, as_version=4).cells
        src = [c for c in cells if not {"injected-parameters", "papermill-error-cell-tag"} & set(c.metadata.get("tags", []))]
        for i, c in enumerate(src):
            if any(o.get("output_type") == "error" for o in c.get("outputs", [])):
                first = next((ln for ln in c.source.splitlines() if ln.strip()), "")
                return f"{i + 1} ({first.strip()[:60]})"
    except Exception:  # the executed copy may be unreadable; the index is still useful
        pass
    return str(index)


def _move_into_place(staging: Path, figures: Path) -> list[str]:
    """Replace ``figures/<name>`` by ``staging/<name>`` for every folder the notebook wrote."""
    names = sorted(p.name for p in staging.iterdir() if p.is_dir()) if staging.exists() else []
    figures.mkdir(parents=True, exist_ok=True)
    for name in names:
        dest = figures / name
        old = figures / f".{name}.old"
        if old.exists():
            shutil.rmtree(old)
        if dest.exists():
            os.replace(dest, old)
        shutil.move(str(staging / name), str(dest))
        if old.exists():
            shutil.rmtree(old)
    return names


def run_one(path: Path, *, profile: str, overrides: dict, figures: Path, build: Path, timeout: float,
            threads: int, force: bool, seed: int | None = None) -> Outcome:
    stem = path.stem
    outcome = Outcome(notebook=stem, seed=seed)
    params = {"profile": profile, **overrides}
    key = run_key(path, profile, overrides)
    if not force and cached(figures, _produced_dirs(figures, stem), key):
        outcome.status = "cached"
        outcome.outputs = _produced_dirs(figures, stem)
        return outcome
    staging = build / "staging" / stem
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    executed = build / "executed" / f"{stem}.ipynb"
    executed.parent.mkdir(parents=True, exist_ok=True)
    error_json = build / "executed" / f"{stem}.error.json"
    if error_json.exists():
        error_json.unlink()
    env = dict(os.environ)
    env.update(RunContext(out=staging, run_key=key, threads=threads).to_env())
    env.update(
        OMP_NUM_THREADS=str(threads),
        MKL_NUM_THREADS=str(threads),
        MPLBACKEND="Agg",
        PYTHONHASHSEED="0",
    )
    cmd = [sys.executable, "-m", "ilib.harness.runner", "--execute", str(path), str(executed), json.dumps(params), str(error_json)]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        log, _ = proc.communicate(timeout=timeout)
        rc = proc.returncode
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        log, _ = proc.communicate()
        rc = None
    outcome.wall = time.perf_counter() - t0
    if rc is None:
        outcome.status = "TIMEOUT"
        outcome.message = f"ran past the {timeout:.0f} s limit (see {executed.relative_to(REPO_ROOT) if executed.is_relative_to(REPO_ROOT) else executed})"
        return outcome
    if rc != 0:
        outcome.status = "FAILED"
        try:
            info = json.loads(error_json.read_text())
            cell = info.get("cell")
            where = f"cell {cell}" if cell is not None else "before any cell ran"
            evalue = (info.get("evalue") or "").strip().splitlines()
            outcome.message = f"{where}: {info.get('ename')}: {evalue[-1] if evalue else ''}"
        except (OSError, ValueError):
            tail = (log or b"").decode(errors="replace").strip().splitlines()[-3:]
            outcome.message = " | ".join(tail) or f"exit status {rc}"
        return outcome
    outcome.outputs = _move_into_place(staging, figures)
    _record_produced(figures, stem, outcome.outputs)
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
    width = max([34] + [len(_label(o)) + 1 for o in outcomes])
    lines = [f"{'notebook':{width}} {'status':8} {'wall s':>8} {'figures':>7} {'verdicts':>9}"]
    for o in outcomes:
        agree = sum(v["agrees"] for v in o.verdicts)
        ver = f"{agree}/{len(o.verdicts)}" if o.verdicts else "-"
        lines.append(f"{_label(o):{width}} {o.status:8} {o.wall:8.1f} {o.figures:7d} {ver:>9}")
        if o.message:
            lines.append(f"    {o.message}")
    return "\n".join(lines)


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
        description="Regenerate every figure: run the notebooks through papermill, each in its own kernel.",
    )
    p.add_argument("notebooks", nargs="*", help="notebooks to run (path, name or number prefix); default all")
    p.add_argument("--profile", choices=PROFILES, default="paper", help="paper: the real figures (default); smoke: seconds, for tests")
    p.add_argument("-j", "--jobs", type=int, default=1, help="notebooks run at once (default 1)")
    p.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                   help="set a notebook parameter (a Python literal), e.g. -p trials 50 -p m_values '[5, 10]'")
    p.add_argument("--seeds", type=int, nargs="+", default=None, metavar="SEED",
                   help="run every chosen notebook once per seed (outputs under build/<profile>/seeds/) and show, "
                        "per claim, on how many seeds it agrees")
    p.add_argument("--timeout", type=float, default=None, help="wall-clock limit per notebook in seconds (smoke 300, paper 1800)")
    p.add_argument("--force", action="store_true", help="run even when the cached results are current")
    p.add_argument("--figures", type=Path, default=None, help="output folder (default figures/ for paper, build/smoke/figures for smoke)")
    p.add_argument("--build", type=Path, default=None, help="folder for executed notebooks (default build/<profile>)")
    p.add_argument("--list", action="store_true", help="list the notebooks and their parameters, then stop")
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


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.jobs < 1:
        raise SystemExit(f"error: -j/--jobs must be at least 1, got {args.jobs}")
    if args.timeout is not None and args.timeout <= 0:
        raise SystemExit(f"error: --timeout must be positive, got {args.timeout}")
    notebooks = find_notebooks(args.notebooks)
    if not notebooks:
        raise SystemExit("error: no notebooks found in notebooks/")
    overrides = {}
    for name, text in args.parameter:
        if name == "profile":
            raise SystemExit("error: set the profile with --profile, not -p profile")
        overrides[name] = parse_value(text)
    if args.seeds is not None:
        if "seed" in overrides:
            raise SystemExit("error: give seeds with --seeds or -p seed, not both")
        if len(set(args.seeds)) != len(args.seeds):
            raise SystemExit(f"error: --seeds has repeated seeds: {args.seeds}")

    declared = {nb: declared_parameters(nb) for nb in notebooks}
    if args.list:
        for nb, params in declared.items():
            print(describe_parameters(nb, params))
        return 0
    for nb, params in declared.items():
        if "profile" not in params or "seed" not in params:
            raise SystemExit(f"error: notebook {nb.stem} has no papermill parameters cell declaring profile and seed")
        check_overrides(nb, args.profile, overrides, params)
        for s in args.seeds or []:
            check_overrides(nb, args.profile, {**overrides, "seed": s}, params)

    timeout = args.timeout or DEFAULT_TIMEOUT[args.profile]
    cores = os.cpu_count() or 1
    threads = max(1, cores // args.jobs)
    if args.seeds is None:
        figures = (args.figures or (REPO_ROOT / "figures" if args.profile == "paper" else REPO_ROOT / "build" / "smoke" / "figures")).resolve()
        build = (args.build or REPO_ROOT / "build" / args.profile).resolve()
        tasks = [(nb, None, figures, build, overrides) for nb in notebooks]
        report_dir = build
    else:
        base = (args.build or REPO_ROOT / "build" / args.profile).resolve() / "seeds"
        tasks = []
        for s in args.seeds:
            root = (args.figures.resolve() / f"seed-{s}") if args.figures else base / f"seed-{s}" / "figures"
            tasks += [(nb, s, root, base / f"seed-{s}", {**overrides, "seed": s}) for nb in notebooks]
        report_dir = base

    from tqdm import tqdm

    outcomes: dict[int, Outcome] = {}
    bar = tqdm(total=len(tasks), desc=f"notebooks ({args.profile})", unit="nb", disable=args.no_progress, file=sys.stderr)
    with cf.ThreadPoolExecutor(max_workers=args.jobs) as pool:
        futures = {
            pool.submit(run_one, nb, profile=args.profile, overrides=ov, figures=fig, build=bld,
                        timeout=timeout, threads=threads, force=args.force, seed=s): i
            for i, (nb, s, fig, bld, ov) in enumerate(tasks)
        }
        for fut in cf.as_completed(futures):
            i = futures[fut]
            nb, s = tasks[i][0], tasks[i][1]
            try:
                o = fut.result()
            except Exception as exc:  # a bug in the runner itself must not stop the other notebooks
                o = Outcome(notebook=nb.stem, seed=s, status="FAILED", message=f"runner error: {type(exc).__name__}: {exc}")
            outcomes[i] = o
            bar.update(1)
            bar.write(f"{o.status:8} {_label(o)} ({o.wall:.1f} s){': ' + o.message if o.message else ''}")
    bar.close()
    ordered = [outcomes[i] for i in range(len(tasks))]
    for o, task in zip(ordered, tasks):
        _collect(o, task[2])
    print()
    print(format_table(ordered))
    print()
    print(format_scoreboard(ordered))
    if any(o.verdicts for o in ordered):
        atomic_write_text(report_dir / "scoreboard.md", scoreboard_markdown(ordered))
        atomic_write_text(report_dir / "scoreboard.json", json.dumps(claim_rows(ordered), indent=1, default=str) + "\n")
    failed = [o for o in ordered if o.status not in ("ok", "cached")]
    where = tasks[0][2] if args.seeds is None else report_dir
    print(f"\nfigures in {where}; executed notebooks in {tasks[0][3] / 'executed' if args.seeds is None else report_dir}")
    if failed:
        print(f"{len(failed)} notebook run(s) did not finish: {', '.join(_label(o) for o in failed)}")
        return 1
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 6 and sys.argv[1] == "--execute":
        sys.exit(_execute_child(*sys.argv[2:]))
    sys.exit(main(sys.argv[1:]))
