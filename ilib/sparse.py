r"""Sparse recovery: batched ISTA/FISTA and basis pursuit, references, and the Donoho–Tanner curve.

Lasso:

.. math::

    \min_x \tfrac12 \|y - A x\|_2^2 + \lambda \|x\|_1,

basis pursuit:

.. math::

    \min_x \|x\|_1 \quad \text{s.t.} \quad A x = y .

The torch solvers act on ``B`` problems at once through a
:class:`~ilib.operators.LinearOperator`; the cvxpy and HiGHS solvers solve one
problem exactly and serve as references in the tests.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ._checks import check_elements, check_int, check_positive, check_positive_int, check_probability
from .device import SeedLike, make_generator, randn
from .operators import GaussianOperator, LinearOperator


def soft_threshold(u: torch.Tensor, theta) -> torch.Tensor:
    r"""The proximal map of :math:`\theta\|\cdot\|_1`: :math:`\eta_\theta(u) = \mathrm{sign}(u)\max(|u| - \theta, 0)`."""
    return torch.sign(u) * torch.clamp(u.abs() - theta, min=0)


def operator_norm_sq(operator: LinearOperator, *, iters: int = 100, seed: SeedLike = 0) -> torch.Tensor:
    r""":math:`L = \|A\|_2^2` per instance by power iteration on :math:`A^\top A`, shape ``(B,)``."""
    g = make_generator(seed)
    v = randn(operator.batch, 1, operator.in_dim, generator=g, dtype=operator.dtype, device=operator.device)
    v = v / v.norm(dim=-1, keepdim=True)
    for _ in range(iters):
        w = operator.adjoint(operator(v))
        v = w / w.norm(dim=-1, keepdim=True).clamp_min(1e-300)
    return operator(v).norm(dim=-1).squeeze(-1) ** 2


def lasso_cost(operator: LinearOperator, y: torch.Tensor, x: torch.Tensor, lam) -> torch.Tensor:
    r""":math:`F(x) = \tfrac12\|y - Ax\|^2 + \lambda\|x\|_1` per row."""
    r = operator(x) - y
    return 0.5 * (r * r).sum(-1) + _col(lam, x) .squeeze(-1) * x.abs().sum(-1)


def _col(lam, like: torch.Tensor) -> torch.Tensor:
    lam = torch.as_tensor(lam, dtype=like.dtype, device=like.device)
    if lam.dim() == 0:
        return lam.reshape(1).expand(like.shape[0]).reshape(-1, *([1] * (like.dim() - 1)))
    return lam.reshape(-1, *([1] * (like.dim() - 1)))


def _check_lasso(operator: LinearOperator, y: torch.Tensor, lam, iters: int) -> None:
    if y.shape[-1] != operator.out_dim:
        raise ValueError(f"y has {y.shape[-1]} measurements but the operator gives {operator.out_dim}")
    check_elements(lam, "lam", 0)  # the l1 weight
    check_positive_int(iters, "iters")


def ista(
    operator: LinearOperator,
    y: torch.Tensor,
    lam,
    *,
    iters: int = 500,
    L: torch.Tensor | None = None,
    x0: torch.Tensor | None = None,
    record_cost: bool = False,
):
    r"""ISTA (Daubechies, Defrise & De Mol 2004) for ``B`` Lasso problems.

    .. math::

        x^{k+1} = \eta_{\lambda/L}\big(x^k + \tfrac1L A^\top(y - A x^k)\big).

    Parameters
    ----------
    y : (B, m) measurements; lam : scalar or (B,) weights; L : (B,) step constants
    (default :func:`operator_norm_sq`).

    Returns
    -------
    x, or ``(x, costs)`` with costs of shape ``(iters + 1, B)`` when ``record_cost``.
    """
    _check_lasso(operator, y, lam, iters)
    L = operator_norm_sq(operator) * 1.0001 if L is None else L
    Lc = _col(L, y)
    lamc = _col(lam, y)
    x = torch.zeros(y.shape[0], operator.in_dim, dtype=y.dtype, device=y.device) if x0 is None else x0.clone()
    costs = [lasso_cost(operator, y, x, lam)] if record_cost else None
    for _ in range(int(iters)):
        x = soft_threshold(x + operator.adjoint(y - operator(x)) / Lc, lamc / Lc)
        if record_cost:
            costs.append(lasso_cost(operator, y, x, lam))
    return (x, torch.stack(costs)) if record_cost else x


def fista(
    operator: LinearOperator,
    y: torch.Tensor,
    lam,
    *,
    iters: int = 500,
    L: torch.Tensor | None = None,
    x0: torch.Tensor | None = None,
    record_cost: bool = False,
):
    r"""FISTA (Beck & Teboulle 2009) for ``B`` Lasso problems.

    .. math::

        x^{k+1} = \eta_{\lambda/L}\big(v^k + \tfrac1L A^\top(y - A v^k)\big),\quad
        t_{k+1} = \tfrac{1 + \sqrt{1 + 4t_k^2}}{2},\quad
        v^{k+1} = x^{k+1} + \tfrac{t_k - 1}{t_{k+1}}(x^{k+1} - x^k).
    """
    _check_lasso(operator, y, lam, iters)
    L = operator_norm_sq(operator) * 1.0001 if L is None else L
    Lc = _col(L, y)
    lamc = _col(lam, y)
    x = torch.zeros(y.shape[0], operator.in_dim, dtype=y.dtype, device=y.device) if x0 is None else x0.clone()
    v, t = x, 1.0
    costs = [lasso_cost(operator, y, x, lam)] if record_cost else None
    for _ in range(int(iters)):
        x_new = soft_threshold(v + operator.adjoint(y - operator(v)) / Lc, lamc / Lc)
        t_new = (1 + math.sqrt(1 + 4 * t * t)) / 2
        v = x_new + ((t - 1) / t_new) * (x_new - x)
        x, t = x_new, t_new
        if record_cost:
            costs.append(lasso_cost(operator, y, x, lam))
    return (x, torch.stack(costs)) if record_cost else x


def basis_pursuit_admm(A: torch.Tensor, y: torch.Tensor, *, iters: int = 2000, rho: float = 1.0) -> torch.Tensor:
    r"""Basis pursuit :math:`\min \|x\|_1` s.t. :math:`Ax = y` for ``B`` problems by ADMM.

    Splitting :math:`x = z` with :math:`x` in the affine set :math:`\{Ax = y\}`:

    .. math::

        x \leftarrow P(z - u),\quad z \leftarrow \eta_{1/\rho}(x + u),\quad u \leftarrow u + x - z,

    with :math:`P(v) = v - A^\top (AA^\top)^{-1}(Av - y)` (Boyd et al. 2011, Sec. 6.2).
    ``A`` has shape ``(B, m, n)`` with full row rank, ``y`` shape ``(B, m)``.
    Returns the ``z`` iterate, which is exactly sparse.
    """
    if A.dim() != 3 or y.dim() != 2 or A.shape[:2] != y.shape:
        raise ValueError(f"A must be (B, m, n) and y (B, m); got {tuple(A.shape)} and {tuple(y.shape)}")
    check_positive(rho, "rho")
    chol = torch.linalg.cholesky(A @ A.transpose(1, 2))
    At = A.transpose(1, 2)

    def project(v: torch.Tensor) -> torch.Tensor:
        r = (A @ v.unsqueeze(-1)).squeeze(-1) - y
        return v - (At @ torch.cholesky_solve(r.unsqueeze(-1), chol)).squeeze(-1)

    x = project(torch.zeros(A.shape[0], A.shape[2], dtype=A.dtype, device=A.device))
    z = x.clone()
    u = torch.zeros_like(x)
    for _ in range(int(iters)):
        x = project(z - u)
        z = soft_threshold(x + u, 1.0 / rho)
        u = u + x - z
    return z


def basis_pursuit_lp(A: np.ndarray, y: np.ndarray) -> np.ndarray:
    r"""Basis pursuit for one problem, exactly, as the LP :math:`\min 1^\top(p + q)` s.t. :math:`A(p - q) = y`, :math:`p, q \ge 0` (HiGHS)."""
    from scipy.optimize import linprog

    A = np.asarray(A, dtype=float)
    m, n = A.shape
    res = linprog(np.ones(2 * n), A_eq=np.hstack([A, -A]), b_eq=np.asarray(y, dtype=float), bounds=(0, None), method="highs")
    if res.status != 0:
        raise RuntimeError(f"basis pursuit LP failed: {res.message}")
    return res.x[:n] - res.x[n:]


def lasso_cvxpy(A: np.ndarray, y: np.ndarray, lam: float) -> np.ndarray:
    r"""Reference Lasso :math:`\min \tfrac12\|y - Ax\|^2 + \lambda\|x\|_1` for one problem with cvxpy."""
    import cvxpy as cp

    A = np.asarray(A, dtype=float)
    x = cp.Variable(A.shape[1])
    prob = cp.Problem(cp.Minimize(0.5 * cp.sum_squares(A @ x - np.asarray(y, dtype=float)) + lam * cp.norm1(x)))
    prob.solve(solver=cp.CLARABEL)
    return np.asarray(x.value)


def sparse_signals(
    batch: int, n: int, k: int, *, seed: SeedLike = 0, dtype=torch.float64, device="cpu"
) -> torch.Tensor:
    """``batch`` signals in R^n with exactly ``k`` non-zeros at uniform positions, N(0, 1) values."""
    check_int(k, "k", lo=0, hi=n)
    g = make_generator(seed)
    vals = randn(batch, n, generator=g, dtype=dtype, device=device)
    order = torch.rand(batch, n, generator=g, dtype=torch.float64).argsort(dim=1)
    mask = torch.zeros(batch, n, dtype=torch.bool)
    mask.scatter_(1, order[:, :k], True)
    return vals * mask.to(device=vals.device, dtype=vals.dtype)


# --------------------------------------------------------------------------- Donoho–Tanner
def _psi_objective(tau, eps):
    from scipy.stats import norm

    return eps * (1 + tau * tau) + (1 - eps) * 2 * ((1 + tau * tau) * norm.sf(tau) - tau * norm.pdf(tau))


def statistical_dimension_l1(eps: float) -> float:
    r"""Normalised statistical dimension of the :math:`\ell_1` descent cone at a :math:`\epsilon n`-sparse point.

    .. math::

        \psi(\epsilon) = \min_{\tau \ge 0}\; \epsilon(1 + \tau^2)
        + (1 - \epsilon)\,2\big[(1 + \tau^2) Q(\tau) - \tau\varphi(\tau)\big]

    (Amelunxen, Lotz, McCoy & Tropp 2014). Basis pursuit recovers a
    ``k``-sparse vector from ``m`` Gaussian measurements with high probability
    when :math:`m > n\psi(k/n)` and fails when :math:`m < n\psi(k/n)`; this is
    the Donoho–Tanner weak threshold.
    """
    from scipy.optimize import minimize_scalar

    check_probability(eps, "eps")  # eps = k/n
    if eps == 0:
        return 0.0
    if eps == 1:
        return 1.0
    return float(minimize_scalar(_psi_objective, bounds=(0, 20), args=(eps,), method="bounded", options={"xatol": 1e-12}).fun)


def donoho_tanner_m(n: int, k) -> np.ndarray:
    r"""The predicted transition :math:`m = n\,\psi(k/n)` for each ``k``."""
    ks = np.atleast_1d(np.asarray(k, dtype=float))
    return np.array([n * statistical_dimension_l1(kk / n) for kk in ks])


def donoho_tanner_rho(delta) -> np.ndarray:
    r"""The weak threshold :math:`\rho_W(\delta)` in Donoho–Tanner coordinates :math:`\delta = m/n`, :math:`\rho = k/m`.

    Solves :math:`\delta = \psi(\rho\delta)` for :math:`\rho`.
    """
    from scipy.optimize import brentq

    out = []
    for d in np.atleast_1d(np.asarray(delta, dtype=float)):
        if not 0 < d < 1:
            raise ValueError(f"delta = m/n must lie in (0, 1), got {d}")
        out.append(brentq(lambda r: statistical_dimension_l1(r * d) - d, 1e-9, 1 - 1e-9, xtol=1e-12))
    return np.array(out)


def gaussian_problems(
    batch: int, m: int, n: int, k: int, *, seed: SeedLike = 0, dtype=torch.float64, device="cpu"
) -> tuple[GaussianOperator, torch.Tensor]:
    """``batch`` pairs (A, x*) with A Gaussian N(0, 1/m) and x* exactly k-sparse."""
    g = make_generator(seed)
    op = GaussianOperator.random(m, n, batch=batch, seed=g, dtype=dtype, device=device)
    x = sparse_signals(batch, n, k, seed=g, dtype=dtype, device=device)
    return op, x
