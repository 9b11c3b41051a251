"""GPU check: every notebook's smoke profile on CUDA against the CPU with the same seed, then the paper profile's heaviest notebooks timed on CUDA.

    python benchmarks/gpu_check.py [--scratch DIR] [--seed N] [--rtol 1e-3] [--atol 1e-6]
                                   [--paper 01 06 08 | --no-paper] [-j JOBS] [NOTEBOOK ...]

1. ``run_all.py --no-install --profile smoke --force`` twice into a scratch folder (default a fresh
   temporary folder; the project's ``figures/`` and ``build/`` are never touched), once with
   ``ILIB_DEVICE=cuda`` and once with ``ILIB_DEVICE=cpu``. ``ILIB_DEVICE`` is how the project selects the
   device from outside a notebook: ``ilib.device.resolve_device("auto")`` reads it, every notebook starts
   with ``ilib.notebook.start(..., device="auto")``, and the run key of the runner's cache includes it.
   Random numbers are drawn on the CPU and moved (``ilib.device.randn``), so both runs see the same data.
2. Every recorded value in each notebook's ``results.json`` (``values`` and the verdicts' ``measured`` and
   ``detail``) is compared, recursively through lists and dicts:

   * floats: ``|cuda - cpu| <= rtol * max(|cuda|, |cpu|) + atol`` (default ``rtol = 1e-3`` for float32
     work, ``atol = 1e-6`` for values that are zero up to rounding, such as residuals at machine precision);
   * integers, booleans, strings, ``None``: exactly; shapes (list lengths, dict keys): exactly;
   * the parameters: exactly (a difference means the runs were not the same experiment);
   * verdicts (``agrees``): a flip is *reported, not failed*, where every value the verdict measured agrees
     within the tolerance (the value sits at its rule's edge); a flip with differing values fails with them.

3. The paper profile of the heaviest notebooks (default 01, 06, 08) on CUDA, printing each one's wall time.

Exit status: 0 when every value agrees, 1 when some value differs (each is listed), 2 when no CUDA device
is visible (nothing is run) or the arguments are wrong.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEAVIEST = ["01", "06", "08"]


# --------------------------------------------------------------------------- comparison
def _close(a: float, b: float, rtol: float, atol: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if math.isinf(a) or math.isinf(b):
        return a == b
    return abs(a - b) <= rtol * max(abs(a), abs(b)) + atol


def compare_values(cpu, cuda, path: str, rtol: float, atol: float) -> list[str]:
    """Differences between two recorded values, one line each (empty if they agree within the stated tolerances)."""
    if isinstance(cpu, bool) or isinstance(cuda, bool):
        return [] if type(cpu) is type(cuda) and cpu == cuda else [f"{path}: cpu {cpu!r} != cuda {cuda!r} (exact)"]
    if isinstance(cpu, int) and isinstance(cuda, int):
        return [] if cpu == cuda else [f"{path}: cpu {cpu} != cuda {cuda} (integers compare exactly)"]
    if isinstance(cpu, (int, float)) and isinstance(cuda, (int, float)):
        if isinstance(cpu, int) != isinstance(cuda, int):
            return [f"{path}: cpu {cpu!r} and cuda {cuda!r} differ in type"]
        if _close(float(cpu), float(cuda), rtol, atol):
            return []
        return [f"{path}: cpu {cpu!r} vs cuda {cuda!r} (|diff| {abs(cpu - cuda):.3g} > {rtol:g} rel + {atol:g} abs)"]
    if isinstance(cpu, list) and isinstance(cuda, list):
        if len(cpu) != len(cuda):
            return [f"{path}: length {len(cpu)} on cpu, {len(cuda)} on cuda"]
        return [d for i, (a, b) in enumerate(zip(cpu, cuda)) for d in compare_values(a, b, f"{path}[{i}]", rtol, atol)]
    if isinstance(cpu, dict) and isinstance(cuda, dict):
        if set(cpu) != set(cuda):
            return [f"{path}: keys differ: only cpu {sorted(set(cpu) - set(cuda))}, only cuda {sorted(set(cuda) - set(cpu))}"]
        return [d for k in cpu for d in compare_values(cpu[k], cuda[k], f"{path}.{k}", rtol, atol)]
    return [] if cpu == cuda else [f"{path}: cpu {cpu!r} != cuda {cuda!r} (exact)"]


def compare_results(cpu: dict, cuda: dict, rtol: float = 1e-3, atol: float = 1e-6) -> tuple[list[str], list[str]]:
    """Compare two ``results.json`` records of one notebook: ``(differences, verdicts at their rule's edge)``."""
    name = cpu.get("notebook", "?")
    diffs = compare_values(cpu.get("parameters"), cuda.get("parameters"), f"{name}.parameters", 0.0, 0.0)
    diffs += compare_values(cpu.get("values", {}), cuda.get("values", {}), f"{name}.values", rtol, atol)
    vc, vg = cpu.get("verdicts", []), cuda.get("verdicts", [])
    if len(vc) != len(vg):
        return diffs + [f"{name}.verdicts: {len(vc)} on cpu, {len(vg)} on cuda"], []
    edges = []
    for i, (a, b) in enumerate(zip(vc, vg)):
        where = f"{name}.verdicts[{i}] ({a.get('claim', '?')[:60]})"
        if a.get("claim") != b.get("claim"):
            diffs.append(f"{where}: claims differ: {a.get('claim')!r} vs {b.get('claim')!r}")
            continue
        d = compare_values({"measured": a.get("measured"), "detail": a.get("detail")},
                           {"measured": b.get("measured"), "detail": b.get("detail")}, where, rtol, atol)
        diffs += d
        if a.get("agrees") != b.get("agrees") and not d:
            edges.append(f"{where}: agrees={a.get('agrees')} on cpu, {b.get('agrees')} on cuda with measured "
                         f"{a.get('measured')!r} vs {b.get('measured')!r} (within tolerance: at the rule's edge)")
        elif a.get("agrees") != b.get("agrees"):
            diffs.append(f"{where}: agrees={a.get('agrees')} on cpu, {b.get('agrees')} on cuda")
    return diffs, edges


# --------------------------------------------------------------------------- running
def run_notebooks(profile: str, device: str, folder: Path, notebooks: list[str], seed, jobs) -> float:
    """``run_all.py`` with ``ILIB_DEVICE=device`` into ``folder``; returns the wall time in seconds."""
    cmd = [sys.executable, str(ROOT / "run_all.py"), "--no-install", "--profile", profile, "--force", "--no-progress",
           "--figures", str(folder / "figures"), "--build", str(folder / "build"), *notebooks]
    if seed is not None:
        cmd += ["-p", "seed", str(seed)]
    if jobs is not None:
        cmd += ["-j", str(jobs)]
    env = dict(os.environ, ILIB_DEVICE=device)
    print(f"+ ILIB_DEVICE={device} {' '.join(cmd[1:])}", flush=True)
    t = time.perf_counter()
    subprocess.run(cmd, cwd=ROOT, env=env)  # failures show as missing results below
    return time.perf_counter() - t


def load_results(folder: Path) -> dict[str, dict]:
    out = {}
    for p in sorted((folder / "figures").glob("*/results.json")):
        out[p.parent.name] = json.loads(p.read_text())
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("notebooks", nargs="*", help="notebooks for the smoke comparison (default all)")
    p.add_argument("--scratch", type=Path, default=None, help="folder for the runs' outputs (default: a new temporary folder)")
    p.add_argument("--seed", type=int, default=None, help="seed for both runs (default: each notebook's own)")
    p.add_argument("--rtol", type=float, default=1e-3, help="relative tolerance for floats (default 1e-3, float32)")
    p.add_argument("--atol", type=float, default=1e-6, help="absolute tolerance for floats near zero (default 1e-6)")
    p.add_argument("--paper", nargs="+", default=HEAVIEST, help="notebooks whose paper profile is timed on CUDA")
    p.add_argument("--no-paper", action="store_true", help="skip the paper-profile timing")
    p.add_argument("-j", "--jobs", type=int, default=None, help="passed to run_all.py")
    args = p.parse_args(argv)
    if not (args.rtol >= 0 and args.atol >= 0):
        print(f"gpu_check: rtol and atol must be non-negative, got rtol={args.rtol}, atol={args.atol}", file=sys.stderr)
        return 2

    import torch

    if not torch.cuda.is_available():
        print("gpu_check: no CUDA device is visible (torch.cuda.is_available() is False); nothing was run",
              file=sys.stderr)
        return 2
    print(f"CUDA device: {torch.cuda.get_device_name(0)}; torch {torch.__version__}", flush=True)

    scratch = args.scratch or Path(tempfile.mkdtemp(prefix="ilib-gpu-check-"))
    wall = {dev: run_notebooks("smoke", dev, scratch / f"smoke-{dev}", args.notebooks, args.seed, args.jobs)
            for dev in ("cuda", "cpu")}
    res = {dev: load_results(scratch / f"smoke-{dev}") for dev in ("cuda", "cpu")}
    names = sorted(set(res["cpu"]) | set(res["cuda"]))
    diffs, edges = [], []
    print(f"\nsmoke profile: cuda {wall['cuda']:.0f} s, cpu {wall['cpu']:.0f} s (wall, all notebooks); "
          f"floats within {args.rtol:g} relative + {args.atol:g} absolute, integers/booleans/strings exact")
    for name in names:
        if name not in res["cpu"] or name not in res["cuda"]:
            missing = [d for d in ("cpu", "cuda") if name not in res[d]]
            diffs.append(f"{name}: no results.json from the {' and '.join(missing)} run (the notebook failed)")
            print(f"  {name:34} FAILED on {' and '.join(missing)}")
            continue
        d, e = compare_results(res["cpu"][name], res["cuda"][name], args.rtol, args.atol)
        diffs += d
        edges += e
        devs = res["cuda"][name].get("device")
        print(f"  {name:34} {'agrees' if not d else f'{len(d)} difference(s)'}"
              f"{f', {len(e)} verdict(s) at the edge' if e else ''} (recorded device: {devs})")
    for line in diffs:
        print("DIFFERS  " + line)
    for line in edges:
        print("EDGE     " + line)

    if not args.no_paper:
        folder = scratch / "paper-cuda"
        t = run_notebooks("paper", "cuda", folder, args.paper, args.seed, args.jobs)
        print(f"\npaper profile on CUDA: {t:.0f} s wall for {' '.join(args.paper)}")
        for name, r in load_results(folder).items():
            print(f"  {name:34} {r.get('wall_time_s', float('nan')):8.1f} s (device {r.get('device')})")
    print(f"\noutputs in {scratch}")
    print("gpu_check: " + ("every recorded value agrees" if not diffs else f"{len(diffs)} difference(s)")
          + (f"; {len(edges)} verdict(s) at their rule's edge (reported, not failed)" if edges else ""))
    return 0 if not diffs else 1


if __name__ == "__main__":
    sys.exit(main())
