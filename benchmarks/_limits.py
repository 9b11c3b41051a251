r"""This machine's limits, measured in the calling benchmark's own run, and the roofline floor of a kernel.

A benchmark compares a kernel's time with what the machine can do *now* (the load of a shared machine
changes from minute to minute, so limits measured in another run mean nothing):

* :func:`matmul_rate` -- the float32 GEMM rate, GFLOP/s, of one large square product;
* :func:`copy_bandwidth` -- memory bandwidth, GB/s, of a copy of a buffer larger than the last-level
  cache, counting the bytes read and written (the STREAM "copy" convention);
* :func:`floor_seconds` -- the roofline floor of a kernel that needs ``flops`` and must move ``nbytes``,

.. math::

    t_{\mathrm{floor}} = \max\Big(\frac{\mathrm{flops}}{R_{\mathrm{GEMM}}}, \frac{\mathrm{bytes}}{\mathrm{BW}}\Big),

  so that ``floor / time`` is the fraction of the machine's limit a kernel reaches (Williams, Waterman &
  Patterson 2009, "Roofline").

Each takes the best of ``repeats`` timings (:func:`best_time`): on a busy machine the best is the
closest to what the hardware gives.
"""

from __future__ import annotations

import os
import time
from typing import Callable

import torch


def timed(fn: Callable[[], object]) -> tuple[object, float]:
    """Call ``fn`` once; return its result and the wall time it took, in seconds."""
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def best_time(fn: Callable[[], object], repeats: int = 3) -> float:
    """The shortest wall time, in seconds, of ``repeats`` calls of ``fn`` (after one untimed warm-up call)."""
    if int(repeats) != repeats or repeats < 1:
        raise ValueError(f"repeats must be a positive integer, got {repeats!r}")
    fn()
    best = float("inf")
    for _ in range(int(repeats)):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def matmul_rate(n: int = 2048, repeats: int = 5) -> float:
    r"""The float32 GEMM rate in GFLOP/s: :math:`2n^3` flops of an ``n x n`` product over its best time."""
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(n, n, generator=g), torch.randn(n, n, generator=g)
    return 2 * n**3 / best_time(lambda: a @ b, repeats) / 1e9


def copy_bandwidth(nbytes: int = 2**29, repeats: int = 3) -> float:
    """Memory bandwidth in GB/s: bytes read plus written by a copy of ``nbytes`` (default 512 MiB, beyond the caches)."""
    src = torch.ones(int(nbytes) // 4, dtype=torch.float32)
    dst = torch.empty_like(src)
    return 2 * src.numel() * 4 / best_time(lambda: dst.copy_(src), repeats) / 1e9


def floor_seconds(flops: float, nbytes: float, gflops: float, gbps: float) -> float:
    """The roofline floor ``max(flops / rate, bytes / bandwidth)`` in seconds, for rates in GFLOP/s and GB/s."""
    return max(flops / (gflops * 1e9), nbytes / (gbps * 1e9))


def machine_line() -> str:
    """One line naming the threads in use and the load average, to print with every measurement."""
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    return (f"{torch.get_num_threads()} torch thread(s) on {os.cpu_count()} cores, "
            f"load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} (1 / 5 / 15 min)")
