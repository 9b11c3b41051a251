"""Speed claims of notebook 04 (ilib.onebit), each measured in one run.

1. ``streamed_targets`` draws the rows a chunk at a time and accumulates ``v_m = (lam/m) A_m^T y_m`` for nested
   ``m``; compared with storing one dense ``(trials, m_max, n)`` matrix of rows and forming each ``v_m`` from its
   first ``m`` rows (same law, other random numbers). Both are printed with their peak extra memory (the rows).
2. ``erm_recover`` solves every (trial, m, restart) of notebook 04 (c) in one batched gradient-descent run;
   compared with a Python loop over the trials, which gives the same iterates (checked).
3. ``biht_recover`` iterates every value of m of a trial together (one projection through G for all of them);
   compared with one call per m.

    python benchmarks/bench_onebit.py [--trials 20] [--n 500] [--width 200] [--k 5]
"""

from __future__ import annotations

import argparse
import math

import torch

from _limits import timed  # noqa: E402  (benchmarks/ is on sys.path when run as a script)
from ilib import ReLUGenerator, make_generator
from ilib import onebit as ob


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trials", type=int, default=20)
    ap.add_argument("--n", type=int, default=500)
    ap.add_argument("--width", type=int, default=200)
    ap.add_argument("--k", type=int, default=5)
    ap.add_argument("--steps", type=int, default=100)
    args = ap.parse_args()
    T, n, k = args.trials, args.n, args.k
    print(f"{torch.get_num_threads()} thread(s); {T} trials, k = {k}, {k}-{args.width}-{n} ReLU nets, float32")
    G = ReLUGenerator.random([k, args.width, n], batch=T, seed=0, gain=2.0, dtype=torch.float32, device="cpu")
    x = G(ob.relu_signals(G, 1.0, seed=1).unsqueeze(1)).squeeze(1)

    # 1. streamed against stored rows
    ms = [250, 1000, 4000, 16000]
    _, t_stream = timed(lambda: ob.streamed_targets(x, ms, lam=3.0, noise="gaussian", noise_scale=0.1, seed=2))

    def dense():
        A = ob.measurement_rows(ms[-1], n, batch=T, seed=3, dtype=torch.float32, device="cpu")
        s = torch.bmm(A, x.unsqueeze(-1)).squeeze(-1)
        y = ob.quantize(s + 0.1 * torch.randn(s.shape, generator=make_generator(4)), lam=3.0, seed=5)
        return torch.stack([torch.bmm(y[:, None, :m], A[:, :m]).squeeze(1) * (3.0 / m) for m in ms])

    _, t_dense = timed(dense)
    print(f"1. targets for m = {ms}: streamed {t_stream:.2f} s (rows held: {512 * n * T * 4 / 2**20:.0f} MiB), "
          f"stored {t_dense:.2f} s (rows held: {ms[-1] * n * T * 4 / 2**20:.0f} MiB); time ratio stored/streamed "
          f"{t_dense / t_stream:.2f}, memory ratio {ms[-1] / 512:.0f}x")

    # 2. one batched ERM against a loop over trials (same starts, so the same iterates)
    v = ob.streamed_targets(x, ms, lam=3.0, seed=6).transpose(0, 1).contiguous()  # (T, M, n)
    z0 = torch.randn(T, len(ms), 4, k, generator=make_generator(7), dtype=torch.float32) / math.sqrt(k)
    kw = dict(steps=args.steps, lr=0.2, negate_every=10)
    batched, t_b = timed(lambda: ob.erm_recover(v, G, z0=z0, **kw))
    looped, t_l = timed(lambda: [ob.erm_recover(v[t : t + 1], G.select(t), z0=z0[t : t + 1], **kw) for t in range(T)])
    same = max(float((batched.z[t] - r.z[0]).abs().max()) for t, r in enumerate(looped))
    print(f"2. ERM, {T} x {len(ms)} x 4 rows, {args.steps} steps: batched {t_b:.2f} s, loop over trials {t_l:.2f} s; "
          f"speed-up {t_l / t_b:.1f}x (largest latent difference {same:.1e})")

    # 3. BIHT: every m together against one call per m
    mb = [100, 200, 400, 800, 1600]
    rows = ob.measurement_rows(mb[-1], n, batch=T, seed=8, dtype=torch.float32, device="cpu")
    xn = x / x.norm(dim=-1, keepdim=True)
    y = ob.quantize(torch.bmm(rows, xn.unsqueeze(-1)).squeeze(-1), lam=1.0, dither=False)
    zs = torch.randn(T, len(mb), k, generator=make_generator(9), dtype=torch.float32)
    _, t_all = timed(lambda: ob.biht_recover(y, rows, G, zs, m_values=mb, steps=20))
    _, t_one = timed(lambda: [ob.biht_recover(y[:, :m], rows[:, :m], G, zs[:, j : j + 1], steps=20)
                              for j, m in enumerate(mb)])
    print(f"3. BIHT, m = {mb}, 20 iterations: all m together {t_all:.2f} s, one call per m {t_one:.2f} s; "
          f"speed-up {t_one / t_all:.1f}x")


if __name__ == "__main__":
    main()
