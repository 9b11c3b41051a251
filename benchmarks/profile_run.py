#!/usr/bin/env python3
"""The timing table of a whole run: wall, CPU, peak memory and threads per notebook, written as JSON.

    python3 benchmarks/profile_run.py                    # paper profile, every notebook -> build/timings/paper.json
    python3 benchmarks/profile_run.py --profile smoke 01 04
    python3 benchmarks/profile_run.py --busy             # the same with one busy process beside the run

Any other argument goes to ``run_all.py`` unchanged; notebooks always rerun (``--force``), so the table
measures the code as it is. ``--busy`` starts one process spinning a float32 matmul loop on one core for
the whole run, to measure how a notebook's time changes on a shared machine (issue 25: robustness to a
busy machine); the ratio of each notebook's wall time to a quiet run's is what to compare.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _spin(stop) -> None:
    import torch

    torch.set_num_threads(1)
    a = torch.randn(256, 256)
    while not stop.is_set():
        a = torch.tanh(a @ a)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profile", default="paper", choices=["paper", "smoke"])
    ap.add_argument("--out", type=Path, default=None, help="JSON file (default build/timings/<profile>[-busy].json)")
    ap.add_argument("--busy", action="store_true", help="run with one busy process on one core beside it")
    args, rest = ap.parse_known_args(argv)
    out = args.out or ROOT / "build" / "timings" / f"{args.profile}{'-busy' if args.busy else ''}.json"
    from ilib.harness.runner import main as run

    cmd = [*rest, "--profile", args.profile, "--force", "--timings", str(out), "--no-progress"]
    if args.profile == "smoke" and "--figures" not in rest:
        cmd += ["--figures", str(ROOT / "build" / "timings" / "smoke-figures")]
    if args.profile == "paper" and "--figures" not in rest:
        cmd += ["--figures", str(ROOT / "build" / "timings" / "paper-figures"), "--build", str(ROOT / "build" / "timings" / "paper")]
    stop = mp.Event()
    spinner = mp.Process(target=_spin, args=(stop,), daemon=True) if args.busy else None
    if spinner:
        spinner.start()
    try:
        rc = run(cmd)
    finally:
        if spinner:
            stop.set()
            spinner.join(5)
            if spinner.is_alive():
                spinner.terminate()
    table = json.loads(out.read_text())
    total_cpu = sum(r["cpu_s"] or 0 for r in table["notebooks"])
    print(f"\nelapsed {table['elapsed_s']:.1f} s for {len(table['notebooks'])} notebook runs with -j {table['jobs']} "
          f"(notebook CPU {total_cpu:.1f} s; load average at the end {table['load_average']}); table in {out}")
    return rc


if __name__ == "__main__":
    sys.exit(main())
