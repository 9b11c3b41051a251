r"""Sparse recovery: batched ISTA/FISTA and basis pursuit, references, and the Donoho–Tanner curve.

Lasso:

.. math::

    \min_x \tfrac12 \|y - A x\|_2^2 + \lambda \|x\|_1,

basis pursuit:

.. math::

    \min_x \|x\|_1 \quad \text{s.t.} \quad A x = y .

The torch solvers act on ``B`` problems at once through a
:class:`~ilib.operators.LinearOperator`; ISTA and FISTA return a :class:`SolverResult`
holding the final iterate and the iterates at the depths asked for, from one run. The
cvxpy and HiGHS solvers solve one problem exactly and serve as references in the tests.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from ._checks import check_elements, check_int, check_positive, check_positive_int, check_probability
from .device import SeedLike, make_generator, randn
from .operators import LinearOperator, MatrixOperator


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


# --------------------------------------------------------------------------- one result type for the iterative solvers
@dataclass(frozen=True)
class SolverResult:
    r"""What an iterative Lasso solver returns (:func:`ista`, :func:`fista`, :func:`ilib.unrolled.oracle_ista`).

    The type and its fields are the same whatever the options; the iterates are
    recorded during the one run at the iteration counts asked for (``record_at``).

    Attributes
    ----------
    x : torch.Tensor
        The final iterate :math:`x^{\mathrm{iters}}`, shape ``(B, n)``.
    iterates : torch.Tensor
        :math:`x^d` for every ``d`` in ``depths``, shape ``(len(depths), B, n)``.
    depths : tuple of int
        The recorded iteration counts, strictly increasing in ``[0, iters]`` (0 is the start).
    objective : torch.Tensor
        :math:`F(x^d) = \tfrac12\|y - Ax^d\|^2 + \lambda\|x^d\|_1` at those depths, shape
        ``(len(depths), B)`` (one extra forward product per recorded depth).
    iters : int
        The number of iterations run.
    steps : torch.Tensor
        The step each problem took at each iteration, shape ``(iters, B)``: :math:`1/L`
        for ISTA and FISTA, the accepted :math:`1/L_S` or :math:`1/L` for oracle ISTA.
    """

    x: torch.Tensor
    iterates: torch.Tensor
    depths: tuple[int, ...]
    objective: torch.Tensor
    iters: int
    steps: torch.Tensor

    def at(self, depth: int) -> torch.Tensor:
        """The iterate after ``depth`` iterations, shape ``(B, n)``; ``depth`` must be one of ``depths``."""
        if depth not in self.depths:
            raise ValueError(f"depth={depth} was not recorded; the recorded depths are {self.depths}")
        return self.iterates[self.depths.index(depth)]


def _check_weight(lam, batch: int) -> None:
    """``lam``: finite and non-negative, a scalar or one weight per problem."""
    t = torch.as_tensor(lam, dtype=torch.float64)
    if t.numel() not in (1, batch) or t.dim() > 1:
        raise ValueError(f"lam (the l1 weight) must be a scalar or have shape ({batch},), got shape {tuple(t.shape)}")
    if not bool(torch.isfinite(t).all()) or bool((t < 0).any()):
        raise ValueError(f"lam (the l1 weight) must be finite and non-negative, got lam={lam!r}")


def _check_depths(record_at, iters: int) -> tuple[int, ...]:
    """The iteration counts to record: default ``(iters,)``; integers, strictly increasing, in ``[0, iters]``."""
    if record_at is None:
        return (iters,)
    try:
        depths = tuple(record_at)
    except TypeError:
        raise ValueError(f"record_at must be a sequence of iteration counts, got record_at={record_at!r}") from None
    try:
        ok = bool(depths) and not any(isinstance(d, bool) or int(d) != d for d in depths)
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError(f"record_at must be a non-empty sequence of integers, got record_at={record_at!r}")
    depths = tuple(int(d) for d in depths)
    if any(b <= a for a, b in zip(depths, depths[1:])) or depths[0] < 0 or depths[-1] > iters:
        raise ValueError(f"record_at must be strictly increasing in [0, iters={iters}], got record_at={list(depths)}")
    return depths


def _check_lasso(operator: LinearOperator, y: torch.Tensor, lam, iters, record_at=None, L=None, x0=None) -> tuple[int, tuple[int, ...]]:
    """Validate a Lasso solver's arguments, naming the wrong one; return ``(iters, depths)``."""
    if not isinstance(operator, LinearOperator):
        raise TypeError(f"operator must be an ilib LinearOperator, not {type(operator).__name__}")
    if not isinstance(y, torch.Tensor) or y.dim() != 2:
        raise ValueError(f"y must be a tensor of shape (B, m), got {type(y).__name__} of shape {tuple(getattr(y, 'shape', ()))}")
    if y.shape[-1] != operator.out_dim:
        raise ValueError(f"y has {y.shape[-1]} measurements but the operator gives {operator.out_dim}")
    if operator.batch > 1 and y.shape[0] != operator.batch:
        raise ValueError(f"y holds {y.shape[0]} problems but the operator holds {operator.batch}")
    _check_weight(lam, y.shape[0])
    iters = check_positive_int(iters, "iters")
    if L is not None:
        t = torch.as_tensor(L, dtype=torch.float64)
        if t.numel() not in (1, y.shape[0]) or not bool(torch.isfinite(t).all()) or not bool((t > 0).all()):
            raise ValueError(f"L (the step constant) must be finite and positive, a scalar or of shape ({y.shape[0]},); got {L!r}")
    if x0 is not None and tuple(x0.shape) != (y.shape[0], operator.in_dim):
        raise ValueError(f"x0 must have shape ({y.shape[0]}, {operator.in_dim}), got {tuple(x0.shape)}")
    return iters, _check_depths(record_at, iters)


def _result(x: torch.Tensor, xs: list[torch.Tensor], depths: tuple[int, ...], steps: torch.Tensor, cost) -> SolverResult:
    """Pack the final iterate ``x`` and those recorded at ``depths`` (``cost`` maps an iterate to its objective)."""
    return SolverResult(x=x, iterates=torch.stack(xs), depths=depths, objective=torch.stack([cost(z) for z in xs]),
                        iters=steps.shape[0], steps=steps)


def _proximal_gradient(operator, y, lam, iters, L, x0, record_at, momentum: bool) -> SolverResult:
    r"""ISTA (``momentum=False``) or FISTA, recording the iterates at ``record_at`` in one run."""
    iters, depths = _check_lasso(operator, y, lam, iters, record_at, L, x0)
    L = operator_norm_sq(operator) * 1.0001 if L is None else L
    Lc = _col(L, y)
    lamc = _col(lam, y)
    x = torch.zeros(y.shape[0], operator.in_dim, dtype=y.dtype, device=y.device) if x0 is None else x0.clone()
    want = set(depths)
    xs = [x] if 0 in want else []
    v, t = x, 1.0
    for k in range(1, iters + 1):
        if momentum:
            x_new = soft_threshold(v + operator.adjoint(y - operator(v)) / Lc, lamc / Lc)
            t_new = (1 + math.sqrt(1 + 4 * t * t)) / 2
            v = x_new + ((t - 1) / t_new) * (x_new - x)
            x, t = x_new, t_new
        else:
            x = soft_threshold(x + operator.adjoint(y - operator(x)) / Lc, lamc / Lc)
        if k in want:
            xs.append(x)
    steps = (1.0 / Lc).reshape(1, -1).expand(iters, -1)
    return _result(x, xs, depths, steps, lambda z: lasso_cost(operator, y, z, lam))


def ista(
    operator: LinearOperator,
    y: torch.Tensor,
    lam,
    *,
    iters: int = 500,
    L: torch.Tensor | None = None,
    x0: torch.Tensor | None = None,
    record_at: Sequence[int] | None = None,
) -> SolverResult:
    r"""ISTA (Daubechies, Defrise & De Mol 2004) for ``B`` Lasso problems.

    .. math::

        x^{k+1} = \eta_{\lambda/L}\big(x^k + \tfrac1L A^\top(y - A x^k)\big),

    which decreases :math:`F(x) = \tfrac12\|y - Ax\|^2 + \lambda\|x\|_1` monotonically
    for :math:`L \ge \|A\|_2^2` (Beck & Teboulle 2009, Lemma 2.3).

    Parameters
    ----------
    operator : LinearOperator
        ``B`` maps (or one shared by all problems).
    y : torch.Tensor
        Measurements, shape ``(B, m)``.
    lam : float or torch.Tensor
        The :math:`\ell_1` weight, finite and non-negative; a scalar or one per problem ``(B,)``.
    iters : int
        Number of iterations (positive).
    L : torch.Tensor, optional
        Step constants, scalar or ``(B,)``; default :func:`operator_norm_sq` times 1.0001.
    x0 : torch.Tensor, optional
        Start, shape ``(B, n)``; default 0.
    record_at : sequence of int, optional
        Iteration counts at which to keep the iterate (0 is ``x0``), strictly increasing
        in ``[0, iters]``; default ``(iters,)``. All are taken from the one run.

    Returns
    -------
    SolverResult
    """
    return _proximal_gradient(operator, y, lam, iters, L, x0, record_at, momentum=False)


def fista(
    operator: LinearOperator,
    y: torch.Tensor,
    lam,
    *,
    iters: int = 500,
    L: torch.Tensor | None = None,
    x0: torch.Tensor | None = None,
    record_at: Sequence[int] | None = None,
) -> SolverResult:
    r"""FISTA (Beck & Teboulle 2009) for ``B`` Lasso problems.

    .. math::

        x^{k+1} = \eta_{\lambda/L}\big(v^k + \tfrac1L A^\top(y - A v^k)\big),\quad
        t_{k+1} = \tfrac{1 + \sqrt{1 + 4t_k^2}}{2},\quad
        v^{k+1} = x^{k+1} + \tfrac{t_k - 1}{t_{k+1}}(x^{k+1} - x^k),

    with :math:`v^0 = x^0`, :math:`t_0 = 1`; :math:`F(x^k) - F^\star = O(L\|x^0 - x^\star\|^2/k^2)`
    (Beck & Teboulle 2009, Thm. 4.4). The momentum makes the iterate after ``k``
    iterations depend on the whole run, so the depths in ``record_at`` are recorded
    along one run started at ``x0`` (never restarted). Parameters and result as :func:`ista`.
    """
    return _proximal_gradient(operator, y, lam, iters, L, x0, record_at, momentum=True)


def basis_pursuit_admm(A, y: torch.Tensor, *, iters: int = 2000, rho: float = 1.0) -> torch.Tensor:
    r"""Basis pursuit :math:`\min \|x\|_1` s.t. :math:`Ax = y` for ``B`` problems by ADMM.

    Splitting :math:`x = z` with :math:`x` in the affine set :math:`\{Ax = y\}`:

    .. math::

        x \leftarrow P(z - u),\quad z \leftarrow \eta_{1/\rho}(x + u),\quad u \leftarrow u + x - z,

    with :math:`P(v) = v - A^\top (AA^\top)^{-1}(Av - y)` (Boyd et al. 2011, Sec. 6.2).

    Parameters
    ----------
    A : LinearOperator or torch.Tensor
        The measurements, of full row rank: an operator (its dense :meth:`~ilib.operators.LinearOperator.matrix`
        is factored once), or matrices ``(B, m, n)`` / ``(m, n)``, wrapped in a
        :class:`~ilib.operators.MatrixOperator`. A batch-1 operator is shared by all problems.
    y : torch.Tensor
        Measurements, shape ``(B, m)``.
    iters : int
        ADMM iterations (positive).
    rho : float
        The penalty :math:`\rho > 0`.

    Returns
    -------
    torch.Tensor
        The ``z`` iterate, shape ``(B, n)``, which is exactly sparse.
    """
    if isinstance(A, torch.Tensor):
        A = MatrixOperator(A)
    if not isinstance(A, LinearOperator):
        raise TypeError(f"A must be an ilib LinearOperator or a tensor (B, m, n), not {type(A).__name__}")
    if not isinstance(y, torch.Tensor) or y.dim() != 2 or y.shape[1] != A.out_dim or (A.batch > 1 and y.shape[0] != A.batch):
        raise ValueError(f"y must have shape (B, m) = ({A.batch if A.batch > 1 else 'B'}, {A.out_dim}) to match A, "
                         f"got {tuple(getattr(y, 'shape', ()))}")
    iters = check_positive_int(iters, "iters")
    check_positive(rho, "rho")
    M = A.matrix()
    chol = torch.linalg.cholesky(M @ M.transpose(1, 2))
    Mt = M.transpose(1, 2)

    def project(v: torch.Tensor) -> torch.Tensor:
        r = (M @ v.unsqueeze(-1)).squeeze(-1) - y
        return v - (Mt @ torch.cholesky_solve(r.unsqueeze(-1), chol)).squeeze(-1)

    x = project(torch.zeros(y.shape[0], M.shape[2], dtype=M.dtype, device=M.device))
    z = x.clone()
    u = torch.zeros_like(x)
    for _ in range(iters):
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
) -> tuple[MatrixOperator, torch.Tensor]:
    """``batch`` pairs (A, x*) with A Gaussian N(0, 1/m) and x* exactly k-sparse."""
    g = make_generator(seed)
    op = MatrixOperator.gaussian(m, n, batch=batch, seed=g, dtype=dtype, device=device)
    x = sparse_signals(batch, n, k, seed=g, dtype=dtype, device=device)
    return op, x
