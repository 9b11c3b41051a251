"""Batched ISTA/FISTA (ilib.sparse) against scikit-learn's Lasso solving the same problems one by one.

B Lasso problems  min_x 1/2 ||y_b - A x||^2 + lam ||x||_1  are solved

* by ilib.sparse.fista and ilib.sparse.ista, all B in one batched call, and
* by sklearn.linear_model.Lasso (coordinate descent), one problem at a time.

Two settings:

* ``--setting shared`` (default; the sparse-coding setting of notebook 08): one dictionary
  A (m x n, N(0, 1/m), unit columns) and B signals, so each ISTA step is a matrix-matrix product;
* ``--setting independent``: B different Gaussian matrices A_b (CSGM-style trials), so each step
  is a batch of matrix-vector products.

scikit-learn's objective is  1/(2 n_samples) ||y - A x||^2 + alpha ||x||_1  with n_samples = m rows,
so the same problem has alpha = lam / m. The script checks that the solutions agree (relative
difference of the solutions and of the objectives) and prints the time ratio sklearn / torch
measured in this run (wall clock, including the computation of L).

    OMP_NUM_THREADS=1 ILIB_NUM_THREADS=1 python benchmarks/bench_ista.py
    python benchmarks/bench_ista.py --setting independent --batch 100 --m 100 --n 200
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import torch

import ilib
from ilib.operators import MatrixOperator
from ilib.sparse import fista, ista, lasso_cost, operator_norm_sq, sparse_signals


def sklearn_lasso(A: np.ndarray, y: np.ndarray, lam: float, tol: float) -> np.ndarray:
    """One Lasso problem with scikit-learn, in ilib's scaling (alpha = lam / n_samples)."""
    from sklearn.linear_model import Lasso

    model = Lasso(alpha=lam / A.shape[0], fit_intercept=False, tol=tol, max_iter=100_000)
    model.fit(A, y)
    return model.coef_


def make_problems(setting: str, batch: int, m: int, n: int, k: int, noise: float, seed: int):
    g = ilib.make_generator(seed)
    if setting == "shared":
        A = MatrixOperator.gaussian(m, n, seed=g, dtype=torch.float64, device="cpu").A
        op = MatrixOperator(A / A.norm(dim=1, keepdim=True))
    else:
        op = MatrixOperator.gaussian(m, n, batch=batch, seed=g, dtype=torch.float64, device="cpu")
    x = sparse_signals(batch, n, k, seed=g, dtype=torch.float64, device="cpu")
    y = op(x) if setting == "independent" else x @ op.A[0].T
    y = y + noise * ilib.randn(*y.shape, generator=g, dtype=torch.float64, device="cpu")
    return op, y


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--setting", choices=("shared", "independent"), default="shared")
    ap.add_argument("--batch", type=int, default=500, help="number of problems B")
    ap.add_argument("--m", type=int, default=250, help="measurements per problem")
    ap.add_argument("--n", type=int, default=500, help="signal dimension")
    ap.add_argument("--k", type=int, default=50, help="non-zeros of the generating signal")
    ap.add_argument("--lam", type=float, default=0.1, help="Lasso weight (ilib's scaling)")
    ap.add_argument("--noise", type=float, default=0.01, help="noise std per measurement")
    ap.add_argument("--fista-iters", type=int, default=400)
    ap.add_argument("--ista-iters", type=int, default=1500)
    ap.add_argument("--sk-tol", type=float, default=1e-8, help="sklearn's tolerance (duality gap)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--rtol", type=float, default=1e-4, help="agreement required of the solutions")
    args = ap.parse_args()
    for name in ("batch", "m", "n", "fista_iters", "ista_iters"):
        if getattr(args, name) < 1:
            ap.error(f"--{name.replace('_', '-')} must be a positive integer")
    if not 0 < args.k <= args.n:
        ap.error("--k must satisfy 0 < k <= n")
    if args.lam <= 0:
        ap.error("--lam must be positive")

    threads = ilib.set_threads()
    op, y = make_problems(args.setting, args.batch, args.m, args.n, args.k, args.noise, args.seed)

    def run_torch(solver, iters):
        t0 = time.perf_counter()
        L = operator_norm_sq(op, iters=300) * 1.0001
        x = solver(op, y, args.lam, iters=iters, L=L).x
        return x, time.perf_counter() - t0

    x_fista, t_fista = run_torch(fista, args.fista_iters)
    x_ista, t_ista = run_torch(ista, args.ista_iters)

    A_np, y_np = op.matrix().numpy(), y.numpy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a ConvergenceWarning would show up in the agreement check
        t0 = time.perf_counter()
        x_sk = np.stack([sklearn_lasso(A_np[b if op.batch > 1 else 0], y_np[b], args.lam, args.sk_tol)
                         for b in range(args.batch)])
        t_sk = time.perf_counter() - t0
    x_sk = torch.from_numpy(x_sk)

    f_sk = lasso_cost(op, y, x_sk, args.lam)
    print(f"{args.batch} Lasso problems ({args.setting} A, {args.m}x{args.n}), lam={args.lam}, torch threads={threads}")
    ok = True
    for name, x, t, iters in (("FISTA", x_fista, t_fista, args.fista_iters), ("ISTA", x_ista, t_ista, args.ista_iters)):
        rel = float(((x - x_sk).norm(dim=1) / x_sk.norm(dim=1).clamp_min(1e-300)).max())
        frel = float(((lasso_cost(op, y, x, args.lam) - f_sk) / f_sk).max())
        agree = rel < args.rtol
        ok &= agree
        print(f"  {name:5s} batched, {iters:5d} iters: {t:8.2f} s   max rel. diff of x vs sklearn {rel:.1e}, "
              f"(F - F_sklearn)/F_sklearn <= {frel:.1e}  -> {'agree' if agree else 'DISAGREE'}")
    print(f"  sklearn Lasso, one by one:  {t_sk:8.2f} s")
    print(f"ratio sklearn / batched FISTA: {t_sk / t_fista:.2f}")
    print(f"ratio sklearn / batched ISTA:  {t_sk / t_ista:.2f}")
    if not ok:
        raise SystemExit("the solutions disagree: raise --fista-iters/--ista-iters or lower --sk-tol")


if __name__ == "__main__":
    main()
