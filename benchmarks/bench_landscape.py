"""Speed claims of ilib.landscape, each measured in one run.

1. ``sample_outputs`` draws the outputs of random ReLU networks on a few fixed latents from their
   exact joint law, without forming the weights: O(n_i P^2) work per layer instead of O(n_i n_{i-1}).
   Compared here with drawing ``ReLUGenerator.random`` networks and evaluating them, for the
   negative-ray critical point t* = <G(x0), G(-x0)> / |G(-x0)|^2 of notebook 03 (b). Both estimates
   of the mean t* are printed, as a check that they agree within their standard errors.
2. ``descent`` runs every (network, start) row of a configuration in one batched call of
   ``ilib.minimize``; compared with a Python loop over the rows, which gives the same iterates.

    python benchmarks/bench_landscape.py [--width 1024] [--depth 3] [--networks 20] [--rows 64]
"""

from __future__ import annotations

import argparse
import math

import torch

from _limits import timed  # noqa: E402  (benchmarks/ is on sys.path when run as a script)
from ilib import ReLUGenerator, make_generator, randn
from ilib import landscape as L


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--width", type=int, default=1024)
    ap.add_argument("--depth", type=int, default=3)
    ap.add_argument("--networks", type=int, default=20)
    ap.add_argument("--rows", type=int, default=64, help="descent rows (networks x starts) for the loop comparison")
    ap.add_argument("--steps", type=int, default=100)
    args = ap.parse_args()
    print(f"{torch.get_num_threads()} thread(s)")

    # 1. exact sampler against real networks
    k, w, d, B = 2, args.width, args.depth, args.networks
    x0 = torch.tensor([1.0, 0.0], dtype=torch.float64)
    z = torch.stack([x0, -x0])

    def t_star(y):
        return (y[:, 0] * y[:, 1]).sum(-1) / (y[:, 1] * y[:, 1]).sum(-1)

    fast, t_fast = timed(lambda: t_star(L.sample_outputs(z, [k] + [w] * d, networks=B, seed=0, device="cpu")))

    def real():
        G = ReLUGenerator.random([k] + [w] * d, batch=B, seed=1, dtype=torch.float64, device="cpu")
        return L.ray_critical_point(G, x0.expand(B, k).contiguous())

    slow, t_slow = timed(real)
    se = math.sqrt(float(fast.var() + slow.var()) / B)
    print(f"t* of {B} networks {[k] + [w] * d}: sampler {t_fast * 1e3:.1f} ms, real networks {t_slow * 1e3:.1f} ms; "
          f"speed-up {t_slow / t_fast:.0f}x")
    print(f"  mean t*: sampler {float(fast.mean()):.4f}, real {float(slow.mean()):.4f} "
          f"(difference {abs(float(fast.mean() - slow.mean())) / se:.1f} standard errors), rho_{d} = {L.rho(d):.4f}")

    # 2. batched descent against a loop over rows
    nets, starts = 4, max(1, args.rows // 4)
    G = ReLUGenerator.random([2, 16, 128, 1024], batch=nets, seed=2, device="cpu")
    g = make_generator(3)
    x0s = randn(nets, 2, generator=g, device="cpu")
    x0s = x0s / x0s.norm(dim=-1, keepdim=True)
    start = randn(nets, starts, 2, generator=g, device="cpu")
    batched, t_batch = timed(lambda: L.descent(G, x0s, start, steps=args.steps, lr=0.5, negate_every=20))

    def loop():
        return torch.stack([
            torch.stack([L.descent(G.select(b), x0s[b : b + 1], start[b : b + 1, r : r + 1], steps=args.steps, lr=0.5,
                                   negate_every=20).x[0, 0] for r in range(starts)])
            for b in range(nets)])

    looped, t_loop = timed(loop)
    same = torch.allclose(batched.x, looped, atol=1e-4)
    print(f"descent, {nets * starts} rows x {args.steps} steps on {[2, 16, 128, 1024]} (float32): batched "
          f"{t_batch:.2f} s, loop over rows {t_loop:.2f} s; speed-up {t_loop / t_batch:.1f}x; same iterates: {same}")


if __name__ == "__main__":
    main()
