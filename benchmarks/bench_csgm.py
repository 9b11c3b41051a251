"""Batched CSGM (closed-form gradients) against the field's per-trial loop, and against this machine's limits, in one run.

Solves the same CSGM problems (default: 256 trials x 4 restarts, random ReLU generators 10-100-500,
m = 50 Gaussian measurements, 500 Adam steps, float32) in three ways from the same starts:

* closed: ``ilib.csgm`` on all trials and restarts at once, gradient in closed form
  (``grad="closed"``: 2 Λ_zᵀAᵀ(AG(z) − y) by the generator's hand-written pullback);
* autograd: the same batched call with ``grad="autograd"`` (the reference);
* loop: one trial at a time, its restarts as a small batch, with ``torch.nn`` layers, autograd and one
  ``torch.optim.Adam`` per trial, as in the reference code of Bora, Jalal, Price & Dimakis (2017).

for two settings: ``per-instance`` (every trial has its own generator and matrix: the step streams
every weight from memory, so it is memory-bound) and ``shared`` (one generator for all trials, a
matrix per trial, as in Bora et al.: the generator's products are GEMMs over all trials and restarts).

The batched calls are timed twice each, in the order closed, autograd, autograd, closed (best of two),
so that a change of a shared machine's load favours neither. It prints the max difference of the recovered signals (loop against closed, autograd against closed),
the speed-ups, and how close the closed-form step is to this machine's limits measured in the same
run (``benchmarks/_limits.py``): the float32 matmul rate and the bandwidth of a large copy. Per
step the kernel needs ``flops = 4 · rows · Σ n_i n_{i-1}`` (forward and backward products, rows =
trials x restarts, the measurement layer included) and must read every stored weight matrix once in the
forward pass (through its stored transpose) and once in the backward pass (``bytes = 2 · 4 · Σ entries``);
its floor is ``max(flops / rate, bytes / bandwidth)`` and the printed fraction is floor / time, with the
better of the limits measured at the start and at the end of the run (the lower floor).

    python benchmarks/bench_csgm.py [--trials 256] [--restarts 4] [--steps 500] [--loop-trials 256]
                                   [--settings per-instance shared]

``--loop-trials`` times the loop on the first trials only and scales it (the per-trial cost is
constant), for a quicker run on a busy machine; by default the loop solves every trial.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import ilib  # noqa: E402
from _limits import copy_bandwidth, floor_seconds, machine_line, matmul_rate  # noqa: E402


def loop_csgm(y, A, G, z0, steps, lr):
    """Reference-style loop: one trial at a time with torch.nn modules and torch.optim.Adam."""
    B, R, k = z0.shape
    out = torch.empty_like(z0)
    for b in range(B):
        g = G.select(b) if G.batch > 1 else G
        layers = []
        for w in g.weights:
            lin = torch.nn.utils.skip_init(torch.nn.Linear, w.shape[2], w.shape[1], bias=False)
            lin.weight.data.copy_(w[0])
            lin.weight.requires_grad_(False)
            layers += [lin, torch.nn.ReLU()]
        net = torch.nn.Sequential(*layers)
        meas = torch.nn.utils.skip_init(torch.nn.Linear, A.in_dim, A.out_dim, bias=False)
        meas.weight.data.copy_(A.A[b])
        meas.weight.requires_grad_(False)
        z = torch.nn.Parameter(z0[b].clone())
        opt = torch.optim.Adam([z], lr=lr)
        for _ in range(steps):
            opt.zero_grad()
            loss = ((meas(net(z)) - y[b]) ** 2).sum()
            loss.backward()
            opt.step()
        out[b] = z.detach()
    return out


def step_cost(widths: list[int], m: int, trials: int, restarts: int, shared: bool) -> tuple[float, float]:
    """Flops and bytes of one closed-form CSGM step (forward and backward pass) over all trials and restarts."""
    gen_entries = sum(a * b for a, b in zip(widths[:-1], widths[1:]))
    meas_entries = m * widths[-1]
    flops = 4.0 * trials * restarts * (gen_entries + meas_entries)
    stored = (1 if shared else trials) * gen_entries + trials * meas_entries
    return flops, 2 * 4.0 * stored


def run_setting(name: str, args) -> dict:
    B, R, T = args.trials, args.restarts, args.steps
    k, n = args.widths[0], args.widths[-1]
    shared = name == "shared"
    g = ilib.make_generator(0)
    G = ilib.ReLUGenerator.random(args.widths, batch=1 if shared else B, seed=g, device="cpu")
    A = ilib.GaussianOperator.random(args.m, n, batch=B, seed=g, device="cpu")
    z_true = ilib.randn(B, 1, k, generator=g, device="cpu")
    x = G(z_true).squeeze(1)
    y = A(x)
    z0 = ilib.randn(B, R, k, generator=g, device="cpu")

    def signals(z):
        with torch.no_grad():
            return (G if shared else G.select(slice(0, z.shape[0])))(z)

    # warm-up (first calls import and allocate), untimed
    one = slice(0, 1)
    loop_csgm(y[one], A.select(one), G if shared else G.select(one), z0[one], 2, args.lr)
    for grad in ("closed", "autograd"):
        ilib.csgm(y, A, G, z0=z0, steps=2, lr=args.lr, grad=grad)

    # best of two runs each, in the order closed, autograd, autograd, closed, so that a change of the
    # machine's load during the run favours neither
    times = {"closed": [], "autograd": []}
    out = {}
    for grad in ("closed", "autograd", "autograd", "closed"):
        t = time.perf_counter()
        out[grad] = ilib.csgm(y, A, G, z0=z0, steps=T, lr=args.lr, grad=grad)
        times[grad].append(time.perf_counter() - t)
    res, ref = out["closed"], out["autograd"]
    t_closed, t_auto = min(times["closed"]), min(times["autograd"])
    L = min(args.loop_trials or B, B)
    t = time.perf_counter()
    z_loop = loop_csgm(y[:L], A.select(slice(0, L)), G if shared else G.select(slice(0, L)), z0[:L], T, args.lr)
    t_loop = (time.perf_counter() - t) * B / L

    x_closed, x_auto, x_loop = signals(res.restart_z), signals(ref.restart_z), signals(z_loop)
    scale = x_closed.norm(dim=-1).clamp_min(1e-12)
    rel_loop = ((x_loop - x_closed[:L]).norm(dim=-1) / scale[:L])
    d_auto = (x_auto - x_closed).abs().max().item()

    flops, nbytes = step_cost(args.widths, args.m, B, R, shared)
    print(f"\n[{name}] {B} trials x {R} restarts, widths {args.widths}, m = {args.m}, {T} Adam steps, float32; "
          f"{'one generator for all trials' if shared else 'a generator per trial'}, a matrix per trial")
    print(f"  closed form  {t_closed:9.2f} s   (best of 2)")
    print(f"  autograd     {t_auto:9.2f} s   (best of 2; autograd / closed form = {t_auto / t_closed:.2f}; "
          f"max |x_autograd - x_closed| = {d_auto:.2e})")
    print(f"  loop         {t_loop:9.2f} s" + (f"   (timed on {L} of {B} trials, scaled)" if L < B else ""))
    print(f"  speed-up over the per-trial loop: closed form {t_loop / t_closed:.1f}x, autograd {t_loop / t_auto:.1f}x")
    print(f"  same answers: max |x_loop - x_closed| = {(x_loop - x_closed[:L]).abs().max().item():.2e}, "
          f"max relative {rel_loop.max().item():.2e}; {100 * (rel_loop < 1e-3).float().mean().item():.1f}% "
          f"of {L * R} restarts within 1e-3")
    return dict(name=name, t=t_closed, T=T, flops=flops, nbytes=nbytes)


def report_limits(run: dict, rate: float, bw: float) -> None:
    """How close the closed-form step came to the roofline floor of this machine."""
    T, flops, nbytes, t = run["T"], run["flops"], run["nbytes"], run["t"]
    floor = T * floor_seconds(flops, nbytes, rate, bw)
    bound = "memory" if nbytes / (bw * 1e9) >= flops / (rate * 1e9) else "GEMM"
    print(f"  [{run['name']}] step needs {flops / 1e9:.3f} GFLOP and must read {nbytes / 1e6:.1f} MB: {bound}-bound; "
          f"achieved {T * flops / t / 1e9:.1f} GFLOP/s = {T * flops / t / 1e9 / rate:.1%} of the matmul rate, "
          f"{T * nbytes / t / 1e9:.2f} GB/s = {T * nbytes / t / 1e9 / bw:.1%} of the copy bandwidth; "
          f"floor {floor:.2f} s, so the kernel runs at {floor / t:.1%} of this machine's limit")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--trials", type=int, default=256)
    p.add_argument("--restarts", type=int, default=4)
    p.add_argument("--steps", type=int, default=500)
    p.add_argument("--m", type=int, default=50)
    p.add_argument("--widths", type=int, nargs="+", default=[10, 100, 500])
    p.add_argument("--loop-trials", type=int, default=None, help="time the loop on this many trials and scale")
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--settings", nargs="+", default=["per-instance", "shared"], choices=["per-instance", "shared"])
    p.add_argument("--copy-mib", type=int, default=512, help="size of the buffer copied to measure bandwidth")
    args = p.parse_args()

    print(machine_line())
    rate, bw = matmul_rate(), copy_bandwidth(args.copy_mib * 2**20)
    print(f"limits measured at the start: float32 matmul {rate:.1f} GFLOP/s, copy bandwidth {bw:.2f} GB/s")
    runs = [run_setting(name, args) for name in args.settings]
    rate2, bw2 = matmul_rate(), copy_bandwidth(args.copy_mib * 2**20)
    print(f"\nlimits measured at the end: float32 matmul {rate2:.1f} GFLOP/s, copy bandwidth {bw2:.2f} GB/s")
    rate, bw = max(rate, rate2), max(bw, bw2)
    print(f"against the better of the two (the lower floor): {rate:.1f} GFLOP/s, {bw:.2f} GB/s")
    for run in runs:
        report_limits(run, rate, bw)
    print(machine_line())

if __name__ == "__main__":
    main()
