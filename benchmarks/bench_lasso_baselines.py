"""Batched FISTA against cvxpy for the Lasso baselines of notebook 06, measured in one run.

Notebook 06 solves Lasso for every held-out digit and every m: in the pixel basis
(``min_x 1/2 ||y - A x||^2 + lam ||x||_1``) and in the 2-D DCT basis (the same with ``A Psi``, Psi the
inverse orthonormal DCT). ``ilib.fista`` solves all ``B`` problems in one batched loop; the reference
is cvxpy (CLARABEL) solving them one at a time. This script solves the same problems both ways on
MNIST-sized images (n = 784), checks that the solutions agree (objective within 1e-4 relative), and
prints the speed-up.

    python benchmarks/bench_lasso_baselines.py [--m 200] [--batch 8] [--iters 500]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

import ilib
from ilib.operators import ComposedOperator, DCT2Operator, GaussianOperator


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--m", type=int, default=200)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--iters", type=int, default=500)
    ap.add_argument("--lam", type=float, default=0.1)
    args = ap.parse_args()
    ilib.set_threads()

    from ilib import data

    digits = data.load_digits("mnist", dtype=torch.float64, device="cpu")
    x = digits.test_x[: args.batch]
    n, side = digits.n, digits.side
    A = GaussianOperator.random(args.m, n, batch=args.batch, seed=0, dtype=torch.float64, device="cpu")
    y = A.measure(x, 0.1 / args.m**0.5, seed=1)
    idct = DCT2Operator(side, inverse=True, dtype=torch.float64, device="cpu")

    print(f"Lasso, n = {n}, m = {args.m}, {args.batch} problems, lam = {args.lam}, FISTA {args.iters} iterations, threads {torch.get_num_threads()}")
    for basis, op in (("pixel", A), ("dct", ComposedOperator(A, idct))):
        t = time.perf_counter()
        xf = ilib.fista(op, y, args.lam, iters=args.iters).x
        t_fista = time.perf_counter() - t
        F_fista = ilib.lasso_cost(op, y, xf, args.lam).numpy()

        M = op.matrix().expand(args.batch, -1, -1).numpy()
        t = time.perf_counter()
        refs = [ilib.lasso_cvxpy(M[b], y[b].numpy(), args.lam) for b in range(args.batch)]
        t_cvx = time.perf_counter() - t
        F_cvx = np.array([0.5 * np.sum((M[b] @ refs[b] - y[b].numpy()) ** 2) + args.lam * np.abs(refs[b]).sum() for b in range(args.batch)])
        gap = float(np.max((F_fista - F_cvx) / F_cvx))
        print(f"  {basis:5s}: batched FISTA {t_fista:6.2f} s, cvxpy one by one {t_cvx:6.2f} s, "
              f"speed-up {t_cvx / t_fista:5.1f}x; max relative objective gap (FISTA - cvxpy)/cvxpy = {gap:.1e}")
        assert gap < 1e-4, "FISTA did not reach the cvxpy objective"


if __name__ == "__main__":
    main()
