"""Annealed Langevin with every chain in one batch, against a per-chain loop doing the same work, in one run.

``ilib.posterior.annealed_langevin`` moves all chains of all measurements at once: the state is one tensor of
shape (measurements, chains, n) and every step is one call of the smoothed prior score and of the data term. The
plain alternative runs the same sampler chain by chain (shape (1, 1, n)). The update is elementwise, so this script first checks
that the batched score equals the per-chain one on a few chains, then times a batched run of every chain against the loop on a
subset of chains and prints the speed-up per chain.

    python benchmarks/bench_posterior.py [--measurements 40] [--chains 100] [--loop-chains 20] [--levels 10] [--steps 20]
"""

from __future__ import annotations

import argparse
import math
import time

import torch

import ilib
from ilib import posterior
from ilib.experiments import posterior_sampling as ex


def setup(measurements: int, n: int = 20, m: int = 4):
    prior = ex.toy_prior(n, 0.2, 0.5, 2.0)
    g = ilib.make_generator(0)
    x, _ = prior.sample(measurements, seed=g)
    A = torch.randn(measurements, m, n, generator=g, dtype=torch.float64) / math.sqrt(m)
    y = torch.einsum("bmn,bn->bm", A, x) + 0.3 * torch.randn(measurements, m, generator=g, dtype=torch.float64)
    return prior, A, y


def run(prior, A, y, x0, sigmas, steps, seed):
    lik = posterior.LinearGaussianLikelihood(A, y, 0.3)
    return posterior.annealed_langevin(x0, lambda z, t: prior.score(z, t) + lik.score(z, t), sigmas, steps_each=steps,
                                       step_lr=5e-6, seed=seed).x


def per_chain_loop(prior, A, y, x0, sigmas, steps, seed):
    out = torch.empty_like(x0)
    for b in range(x0.shape[0]):
        for c in range(x0.shape[1]):
            out[b, c] = run(prior, A[b : b + 1], y[b : b + 1], x0[b : b + 1, c : c + 1], sigmas, steps, seed)[0, 0]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--measurements", type=int, default=40)
    ap.add_argument("--chains", type=int, default=100)
    ap.add_argument("--loop-chains", type=int, default=20, help="chains per measurement timed in the loop")
    ap.add_argument("--loop-measurements", type=int, default=2, help="measurements timed in the loop")
    ap.add_argument("--levels", type=int, default=10)
    ap.add_argument("--steps", type=int, default=20, help="steps per level")
    args = ap.parse_args()
    threads = ilib.set_threads()
    prior, A, y = setup(args.measurements)
    sig = posterior.sigma_ladder(3.0, 0.01, args.levels)

    # same answers first: the update is elementwise, so the chains agree iff the batched score is the per-chain one
    xs = prior.sample(6, seed=2)[0].reshape(2, 3, prior.dim)
    lik = posterior.LinearGaussianLikelihood(A[:2], y[:2], 0.3)
    batch_score = prior.score(xs, 0.5) + lik.score(xs, 0.5)
    for b in range(2):
        one = posterior.LinearGaussianLikelihood(A[b:b + 1], y[b:b + 1], 0.3)
        for c in range(3):
            single = prior.score(xs[b:b + 1, c:c + 1], 0.5) + one.score(xs[b:b + 1, c:c + 1], 0.5)
            assert torch.allclose(batch_score[b, c], single[0, 0], rtol=1e-12, atol=1e-12), "batched score differs"

    x0 = prior.means[0].expand(args.measurements, args.chains, prior.dim).clone()
    t0 = time.perf_counter()
    run(prior, A, y, x0, sig, args.steps, 1)
    t_batch = time.perf_counter() - t0
    sub = x0[: args.loop_measurements, : args.loop_chains]
    t0 = time.perf_counter()
    per_chain_loop(prior, A[: args.loop_measurements], y[: args.loop_measurements], sub, sig, args.steps, 1)
    t_loop = time.perf_counter() - t0
    total, looped_n = args.measurements * args.chains, args.loop_measurements * args.loop_chains
    per_batch, per_loop = t_batch / total, t_loop / looped_n
    print(f"torch threads: {threads}; {args.levels} levels x {args.steps} steps; n = {prior.dim}")
    print(f"batched: {total} chains in {t_batch:.3f} s ({per_batch * 1e6:.1f} us per chain)")
    print(f"per-chain loop: {looped_n} chains in {t_loop:.3f} s ({per_loop * 1e6:.1f} us per chain)")
    print(f"speed-up per chain: {per_loop / per_batch:.0f}x")


if __name__ == "__main__":
    main()
