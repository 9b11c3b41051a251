"""The stacked training loop of ilib.unrolled against a loop over the same networks trained one by one.

``ilib.unrolled.train`` trains a stack of M independent networks in one loop: each layer is one batched
product over the networks still active at that depth, and the loss is the sum of the networks' losses
(so each network receives exactly its own gradient, and Adam, elementwise, trains each as if alone).
This script trains the same M networks (same initialisation, same mini-batches) both ways, checks that
the trained networks agree, and prints the time ratio per-model loop / stack measured in this run, in wall
time and in CPU time (on a loaded machine the CPU time is the steadier of the two).

Two settings, as in notebook 08:

* ``--setting depths`` (default): Ablin et al.'s Fig. 6, one network per depth and Lasso weight
  (64 x 256 dictionary, depths 1..30, two weights), trained on the Lasso cost;
* ``--setting snr``: the ALISTA benchmark, one network per SNR condition (250 x 500, 16 layers),
  trained with deep supervision.

    OMP_NUM_THREADS=1 ILIB_NUM_THREADS=1 python benchmarks/bench_unrolled_training.py
    python benchmarks/bench_unrolled_training.py --setting snr --net ALISTA --steps 10
"""

from __future__ import annotations

import argparse
import os
import time

import torch

import ilib
from ilib import unrolled as U

NETS = {
    "SLISTA": lambda D, K, lam, **kw: U.SLISTA(D, K, lam, **kw),
    "ALISTA": lambda D, K, lam, **kw: U.ALISTA(D, K, lam, **kw),
    "LISTA-CP": lambda D, K, lam, **kw: U.LISTACP(D, K, lam, **kw),
    "LISTA-CPSS": lambda D, K, lam, **kw: U.LISTACP(D, K, lam, support_selection=True, **kw),
    "LISTA": lambda D, K, lam, **kw: U.LISTA(D, K, lam, **kw),
}


def problems(setting: str, seed: int):
    """(D, models as (depth, lam) deepest first, y (M or 1, N, m), x or None, objective)."""
    s = ilib.stream(seed, "bench")
    if setting == "depths":
        D = U.gaussian_dictionary(64, 256, seed=s.child("D"), dtype=torch.float32, device="cpu")
        y = U.lasso_signals(D, 2000, seed=s.child("y"))
        models = sorted(((d, r) for d in (1, 2, 4, 6, 10, 15, 20, 30) for r in (0.1, 0.8)), key=lambda m: -m[0])
        return D, models, y.unsqueeze(0).expand(len(models), -1, -1), None, "last"
    D = U.gaussian_dictionary(250, 500, seed=s.child("D"), dtype=torch.float32, device="cpu")
    x = torch.stack([U.bernoulli_gaussian(4000, 500, 0.1, seed=s.child(f"x{i}"), dtype=torch.float32, device="cpu")
                     for i in range(3)])
    y = torch.stack([U.add_noise(x[i] @ D.T, snr, seed=s.child(f"n{i}")) for i, snr in enumerate((None, 40.0, 20.0))])
    return D, [(16, 0.4)] * 3, y, x, "layers"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--setting", choices=("depths", "snr"), default="depths")
    ap.add_argument("--net", choices=tuple(NETS), default="LISTA-CP")
    ap.add_argument("--steps", type=int, default=30, help="Adam steps of each training")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeats", type=int, default=2, help="runs of each loop, alternated; the best is kept")
    args = ap.parse_args()
    if args.steps < 1 or args.batch < 1 or args.repeats < 1:
        ap.error("--steps, --batch and --repeats must be positive integers")

    threads = ilib.set_threads(int(os.environ["ILIB_NUM_THREADS"]) if "ILIB_NUM_THREADS" in os.environ else None)
    D, models, y, x, objective = problems(args.setting, args.seed)
    K = max(d for d, _ in models)
    make = NETS[args.net]
    kw = dict(steps=args.steps, lr=1e-4, scalar_lr=2e-2, batch=args.batch, objective=objective, seed=args.seed)

    def run_stack():
        net = make(D, K, [lam for _, lam in models], models=len(models), depths=[d for d, _ in models])
        U.train(net, y, x, **kw)
        return net

    def run_loop():
        nets = [make(D, K, lam, depths=[d]) for d, lam in models]
        for i, net in enumerate(nets):
            U.train(net, y[i], None if x is None else x[i], **kw)
        return nets

    times = {"stack": [], "loop": []}
    for _ in range(args.repeats):  # alternate, so that a change of machine load hits both alike
        for name, fn in (("stack", run_stack), ("loop", run_loop)):
            t0, c0 = time.perf_counter(), time.process_time()
            out = fn()
            times[name].append((time.perf_counter() - t0, time.process_time() - c0))
            if name == "stack":
                stack = out
            else:
                singles = out
    (w_stack, c_stack), (w_loop, c_loop) = (min(times[k]) for k in ("stack", "loop"))

    worst = 0.0
    with torch.no_grad():
        for i, net in enumerate(singles):
            yi = y[i, :200]
            worst = max(worst, float((stack(yi)[i] - net(yi)).abs().max() / net(yi).abs().max().clamp_min(1e-30)))
    print(f"{args.net}, setting {args.setting}: {len(models)} networks (depths {sorted({d for d, _ in models})}), "
          f"{args.steps} Adam steps, batch {args.batch}, torch threads {threads}")
    print(f"  stacked loop:     {w_stack:8.2f} s wall, {c_stack:8.2f} s CPU (best of {args.repeats})")
    print(f"  per-model loop:   {w_loop:8.2f} s wall, {c_loop:8.2f} s CPU (best of {args.repeats})")
    print(f"  largest relative difference of the trained networks' outputs: {worst:.1e} (float32); load {os.getloadavg()[0]:.1f}")
    print(f"ratio per-model loop / stacked loop: {w_loop / w_stack:.2f} (wall), {c_loop / c_stack:.2f} (CPU)")
    if worst > 1e-3:
        raise SystemExit("the stacked and the per-model trainings disagree")


if __name__ == "__main__":
    main()
