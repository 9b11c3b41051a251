"""Batched AMP for the spiked Wigner model (ilib.amp.spiked_amp) against a loop over single instances.

T instances (noise matrix xi, weights W, latent z) are observed at D noise levels Delta, with the linear and the
sign prior: 2 * D columns per instance. The batched run applies every column's Y/sqrt(p) in one matrix-matrix
product with xi per iteration; the loop runs spiked_amp once per (instance, prior, Delta), each a matrix-vector
product. Both start from the same initial estimates and run the same number of iterations (no early stop), so the
script checks that the MSE traces agree and prints the time ratio loop / batched measured in this run (wall clock
and process CPU time).

    OMP_NUM_THREADS=1 python benchmarks/bench_amp.py
    python benchmarks/bench_amp.py --p 2000 --trials 3 --deltas 0.25 0.5 1 1.5 2 3 5 --iters 100
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

import ilib
from ilib import amp


def one_instance(problem: amp.SpikedWigner, t: int, spike: int, j: int) -> amp.SpikedWigner:
    s = problem.spikes[spike]
    return amp.SpikedWigner(xi=problem.xi[t:t + 1], spikes=(amp.GenerativeSpike(s.activation, s.F[t:t + 1],
                                                                                s.z[t:t + 1], s.deltas[j:j + 1]),))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--p", type=int, default=1000)
    ap.add_argument("--alpha", type=float, default=2.0)
    ap.add_argument("--trials", type=int, default=3)
    ap.add_argument("--deltas", type=float, nargs="+", default=[0.25, 0.5, 1.0, 1.5, 2.0, 3.0])
    ap.add_argument("--iters", type=int, default=60)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    args = ap.parse_args()
    dtype = getattr(torch, args.dtype)
    k = int(round(args.p / args.alpha))
    problem = amp.SpikedWigner.sample(args.p, [("linear", k), ("sign", k)], args.deltas, trials=args.trials,
                                      seed=args.seed, device="cpu", dtype=dtype)
    init = 1e-2 * ilib.randn(problem.trials, problem.columns, problem.p, generator=ilib.make_generator(args.seed + 1),
                             dtype=dtype, device="cpu")
    D = len(args.deltas)

    w0, c0 = time.perf_counter(), time.process_time()
    batched = amp.spiked_amp(problem, iters=args.iters, seed=0, init=init, stop_early=False)
    w_batch, c_batch = time.perf_counter() - w0, time.process_time() - c0

    w0, c0 = time.perf_counter(), time.process_time()
    loop = np.empty_like(batched.mse)
    for t in range(problem.trials):
        for s in range(len(problem.spikes)):
            for j in range(D):
                col = s * D + j
                r = amp.spiked_amp(one_instance(problem, t, s, j), iters=args.iters, seed=0,
                                   init=init[t:t + 1, col:col + 1], stop_early=False)
                loop[:, t, col] = r.mse[:, 0, 0]
    w_loop, c_loop = time.perf_counter() - w0, time.process_time() - c0

    diff = float(np.abs(loop - batched.mse).max())
    print(f"p = {args.p}, alpha = {args.alpha:g} (k = {k}), {problem.trials} instances x 2 priors x {D} noise levels "
          f"= {problem.trials * problem.columns} AMP runs, {args.iters} iterations, {args.dtype}, "
          f"{torch.get_num_threads()} thread(s)")
    print(f"largest |MSE batched - MSE loop| over all iterations: {diff:.2e}")
    print(f"batched: {w_batch:.2f} s wall, {c_batch:.2f} s CPU; loop: {w_loop:.2f} s wall, {c_loop:.2f} s CPU")
    print(f"ratio loop / batched: {w_loop / w_batch:.1f}x wall, {c_loop / c_batch:.1f}x CPU")


if __name__ == "__main__":
    main()
