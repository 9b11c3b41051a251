"""Batched adversarial S-REC search against plain loops doing the same work, measured in one run.

``ilib.srec.adversarial_gamma`` minimises ||A(G(z1) - G(z2))|| / ||G(z1) - G(z2)|| for every instance and
every starting pair at once: B networks, B operators and B x R latent pairs live in one tensor, and one
call to ``ilib.optim.minimize`` moves all of them. The plain alternative loops over the B x R pairs and
runs the same search for each (same starts, steps, step size). Because Adam acts row by row, both give
the same trajectories; this script checks that they return the same best ratio for every pair, then
times both and prints the speed-up.

Second claim: notebook 02 solves every measurement count of a sweep in one batch, the nested operators
padded with zero rows (``ilib.srec.nested_operators(stacked=True)``). A zero row adds nothing to
||A d||, so the stacked search returns the per-m values; the script checks that on the same starts, then
times the stacked search against a loop over the m values and prints that speed-up too.

    python benchmarks/bench_srec.py [--batch 8] [--restarts 16] [--steps 100] [--k 4] [--n 128] [--m 48]
"""

from __future__ import annotations

import argparse
import os
import time

import torch

import ilib
from ilib import srec


def batched(A, G, z0, steps, lr):
    return srec.adversarial_gamma(A, G, z0=z0, steps=steps, lr=lr).start_gamma


def per_pair_loop(A, G, z0, steps, lr):
    B, R = z0.shape[:2]
    out = torch.empty(B, R, dtype=z0.dtype)
    for b in range(B):
        Ab, Gb = A.select(b), G.select(b)
        for r in range(R):
            out[b, r] = srec.adversarial_gamma(Ab, Gb, z0=z0[b : b + 1, r : r + 1], steps=steps, lr=lr).start_gamma[0, 0]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch", type=int, default=8, help="instances (networks and operators)")
    ap.add_argument("--restarts", type=int, default=16, help="starting pairs per instance")
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--lr", type=float, default=0.1)
    ap.add_argument("--k", type=int, default=4)
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--n", type=int, default=128)
    ap.add_argument("--m", type=int, default=48)
    ap.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    args = ap.parse_args()
    threads = ilib.set_threads()

    dt = ilib.resolve_dtype(args.dtype)
    G = ilib.ReLUGenerator.random([args.k, args.hidden, args.n], batch=args.batch, seed=1, dtype=dt, device="cpu")
    A = ilib.GaussianOperator.random(args.m, args.n, batch=args.batch, seed=2, dtype=dt, device="cpu")
    z0, _ = srec.starting_pairs(args.batch, args.k, args.restarts, seed=3, dtype=dt, device="cpu")

    # same answers first (float32: the batched and single-row matrix products round differently)
    check = dict(steps=min(args.steps, 20), lr=args.lr)
    gb, gl = batched(A, G, z0, **check), per_pair_loop(A, G, z0, **check)
    tol = 1e-4 if dt == torch.float32 else 1e-9
    err = ((gb - gl).abs() / gl.abs().clamp_min(1e-12)).max().item()
    assert err <= tol, f"batched and per-pair searches disagree: max relative difference {err:.2e}"

    t = time.perf_counter()
    g_batched = batched(A, G, z0, args.steps, args.lr)
    t_batched = time.perf_counter() - t
    t = time.perf_counter()
    g_loop = per_pair_loop(A, G, z0, args.steps, args.lr)
    t_loop = time.perf_counter() - t
    full_err = ((g_batched - g_loop).abs() / g_loop.abs().clamp_min(1e-12)).max().item()

    pairs = args.batch * args.restarts
    print(f"adversarial S-REC search: {args.batch} instances x {args.restarts} pairs = {pairs} searches, "
          f"{args.steps} Adam steps, G widths [{args.k}, {args.hidden}, {args.n}], m = {args.m}, {args.dtype}, "
          f"{threads} thread(s) (OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')})")
    print(f"same answers: max relative difference {err:.1e} after {check['steps']} steps; {full_err:.1e} after {args.steps} "
          "(float32 rounding differs between batched and single products and grows along nonconvex trajectories)")
    print(f"per-pair loop: {t_loop:8.3f} s   ({1e3 * t_loop / pairs:.2f} ms per pair)")
    print(f"batched:       {t_batched:8.3f} s   ({1e3 * t_batched / pairs:.2f} ms per pair)")
    print(f"speed-up (loop / batched): {t_loop / t_batched:.1f}x")

    # ---- second claim: all m in one batch (stacked, zero-padded operators) against a loop over m
    ms = [args.k * f for f in (2, 3, 4, 6, 8, 12)]
    ops = srec.nested_operators(args.n, ms, batch=args.batch, seed=4, dtype=dt, device="cpu")
    stacked = srec.nested_operators(args.n, ms, batch=args.batch, seed=4, dtype=dt, device="cpu", stacked=True)
    Gs = ilib.ReLUGenerator([w.repeat(len(ms), 1, 1) for w in G.weights], output_relu=G.output_relu)
    zs = z0.repeat(len(ms), 1, 1, 1)

    def per_m():
        return torch.cat([srec.adversarial_gamma(op, G, z0=z0, steps=args.steps, lr=args.lr).gamma for op in ops])

    def all_m():
        return srec.adversarial_gamma(stacked, Gs, z0=zs, steps=args.steps, lr=args.lr).gamma

    a, b = per_m(), all_m()
    diff = ((a - b).abs() / b.abs().clamp_min(1e-12)).max().item()
    t = time.perf_counter()
    per_m()
    t_per_m = time.perf_counter() - t
    t = time.perf_counter()
    all_m()
    t_all_m = time.perf_counter() - t
    print(f"\nm in {ms}: a loop over m {t_per_m:.3f} s, one stacked batch {t_all_m:.3f} s "
          f"(same values to {diff:.1e}); speed-up (loop over m / stacked): {t_per_m / t_all_m:.1f}x")


if __name__ == "__main__":
    main()
