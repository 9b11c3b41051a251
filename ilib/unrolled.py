r"""Learned unrolled sparse coding: ISTA, FISTA, oracle ISTA, LISTA, LISTA-CP, ALISTA and SLISTA.

All solvers code ``B`` signals at once. With a dictionary (or sensing matrix)
:math:`D \in \mathbb{R}^{m \times n}` (columns are atoms) the Lasso is

.. math::

    F(x) = \tfrac12 \|y - D x\|_2^2 + \lambda \|x\|_1,
    \qquad L = \|D\|_2^2,

and ISTA iterates :math:`x^{k+1} = \eta_{\lambda/L}\big(x^k + \tfrac1L D^\top(y - D x^k)\big)`
with :math:`\eta_\theta(u) = \mathrm{sign}(u)\max(|u| - \theta, 0)`. ISTA and
FISTA themselves live in :mod:`ilib.sparse`; this module adds

* oracle ISTA, whose step is :math:`1/L_S` with :math:`L_S = \|D_S\|_2^2` the
  Lipschitz constant restricted to the current support (Ablin, Moreau,
  Massias & Gramfort, NeurIPS 2019);
* unrolled networks as :class:`torch.nn.Module`: LISTA (Gregor & LeCun, ICML
  2010), LISTA-CP with optional support selection (Chen, Liu, Wang & Yin,
  NeurIPS 2018), ALISTA (Liu, Chen, Wang & Yin, ICLR 2019) with the analytic
  weight matrix in closed form, and SLISTA (Ablin et al. 2019), which learns
  only one step size per layer;
* the data of the ALISTA benchmark (Gaussian dictionary with unit columns,
  Bernoulli–Gaussian codes, noise at a given SNR), NMSE in dB, a training loop
  and the two experiments of notebook ``08_unrolled_sparse_coding``.
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass, field
from typing import Sequence

import torch
from torch import nn

from ._checks import (
    check_choice, check_elements, check_in_range, check_nonneg, check_positive, check_positive_int, check_probability, check_tensor,
)
from .device import DeviceLike, DTypeLike, SeedLike, make_generator, rand, randn, resolve_device, resolve_dtype
from .operators import MatrixOperator
from .sparse import SolverResult, _check_depths, _check_weight, _result, fista, ista, lasso_cost, soft_threshold

__all__ = [
    "gaussian_dictionary", "bernoulli_gaussian", "add_noise", "lasso_signals", "nmse_db", "lipschitz",
    "lambda_max", "lasso_objective", "lasso_reference", "restricted_lipschitz", "oracle_ista", "solver_path",
    "analytic_weights", "generalized_coherence", "mutual_coherence", "support_selection", "ss_schedule",
    "Unrolled", "LISTA", "LISTACP", "ALISTA", "SLISTA", "TrainResult", "train",
    "nmse_experiment", "lasso_depth_experiment",
]


# --------------------------------------------------------------------------- checks
def _check_D(D: torch.Tensor) -> None:
    check_tensor(D, "D", dim=2, dtype="floating")


def _check_y(D: torch.Tensor, y: torch.Tensor) -> None:
    if y.dim() != 2 or y.shape[-1] != D.shape[0]:
        raise ValueError(f"y must have shape (B, m) with m={D.shape[0]} rows of D, got {tuple(y.shape)}")


# --------------------------------------------------------------------------- data
def gaussian_dictionary(
    m: int, n: int, *, seed: SeedLike = 0, dtype: DTypeLike = None, device: DeviceLike = "auto"
) -> torch.Tensor:
    r"""The ALISTA benchmark's dictionary: :math:`D_{ij} \sim \mathcal{N}(0, 1/m)`, then unit-norm columns.

    Drawn with :meth:`ilib.MatrixOperator.gaussian` (float64 on the CPU), so the
    same seed gives the same matrix on every device. Shape ``(m, n)``.
    """
    m, n = check_positive_int(m, "m"), check_positive_int(n, "n")
    A = MatrixOperator.gaussian(m, n, seed=seed, dtype=torch.float64, device="cpu").A[0]
    A = A / A.norm(dim=0, keepdim=True)
    return A.to(device=resolve_device(device), dtype=resolve_dtype(dtype))


def bernoulli_gaussian(
    batch: int, n: int, p: float, *, seed: SeedLike = 0, dtype: DTypeLike = None, device: DeviceLike = "auto"
) -> torch.Tensor:
    r"""Codes :math:`x_i = b_i g_i`, :math:`b_i \sim \mathrm{Bernoulli}(p)`, :math:`g_i \sim \mathcal{N}(0, 1)`, shape ``(batch, n)``."""
    batch, n = check_positive_int(batch, "batch"), check_positive_int(n, "n")
    p = check_probability(p, "p")
    g = make_generator(seed)
    vals = randn(batch, n, generator=g, dtype=torch.float64, device="cpu")
    mask = rand(batch, n, generator=g, dtype=torch.float64, device="cpu") < p
    return (vals * mask).to(device=resolve_device(device), dtype=resolve_dtype(dtype))


def add_noise(y: torch.Tensor, snr_db: float | None, *, seed: SeedLike = 0) -> torch.Tensor:
    r"""Add Gaussian noise at a given SNR, per sample as in the ALISTA code.

    .. math::

        \tilde y = y + \sigma\,\varepsilon,\qquad \sigma = \mathrm{std}(y)\,10^{-\mathrm{SNR}/20}

    with the standard deviation taken over each row of ``y``. ``snr_db=None`` or
    ``inf`` returns ``y`` unchanged (the noiseless case).
    """
    if snr_db is None or math.isinf(snr_db):
        if snr_db is not None and snr_db < 0:
            raise ValueError(f"snr_db must be a number of dB or None/inf, got snr_db={snr_db}")
        return y
    if math.isnan(snr_db):
        raise ValueError("snr_db must be a number of dB or None/inf, got nan")
    g = make_generator(seed)
    sigma = y.std(dim=-1, keepdim=True) * 10.0 ** (-snr_db / 20.0)
    return y + sigma * randn(*y.shape, generator=g, dtype=y.dtype, device=y.device)


def lasso_signals(D: torch.Tensor, batch: int, *, seed: SeedLike = 0) -> torch.Tensor:
    r"""Signals of Ablin et al.'s simulated Lasso problems (code ``adopty.datasets.make_coding``).

    :math:`y = D z` with a dense :math:`z \sim \mathcal{N}(0, I_n)`, rescaled so
    that :math:`\lambda_{\max}(y) = \|D^\top y\|_\infty = 1`; a regularisation
    ``reg`` then means :math:`\lambda = \mathrm{reg}\cdot\lambda_{\max}`. Shape ``(batch, m)``.
    """
    _check_D(D)
    batch = check_positive_int(batch, "batch")
    g = make_generator(seed)
    z = randn(batch, D.shape[1], generator=g, dtype=D.dtype, device=D.device)
    y = z @ D.T
    return y / lambda_max(D, y).unsqueeze(-1)


def nmse_db(x_hat: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    r"""Normalised mean squared error in dB over the last two axes (samples, coordinates).

    .. math::

        \mathrm{NMSE_{dB}} = 10\log_{10}\frac{\sum_b \|\hat x_b - x_b\|^2}{\sum_b \|x_b\|^2},

    the metric of Chen et al. (2018) and Liu et al. (2019). ``x_hat`` may carry
    leading axes (for example layers), which are kept.
    """
    if x_hat.shape[-2:] != x.shape[-2:]:
        raise ValueError(f"x_hat {tuple(x_hat.shape)} and x {tuple(x.shape)} must agree in their last two axes")
    err = ((x_hat - x) ** 2).sum(dim=(-2, -1))
    return 10 * torch.log10(err / (x**2).sum(dim=(-2, -1)))


def lipschitz(D: torch.Tensor) -> torch.Tensor:
    r""":math:`L = \|D\|_2^2`, the Lipschitz constant of :math:`\nabla \tfrac12\|y - Dx\|^2` (exact, by SVD)."""
    _check_D(D)
    return torch.linalg.matrix_norm(D, ord=2) ** 2


def lambda_max(D: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    r""":math:`\lambda_{\max} = \|D^\top y\|_\infty` per sample: the smallest :math:`\lambda` with :math:`x^\star = 0`."""
    _check_D(D)
    _check_y(D, y)
    return (y @ D).abs().amax(dim=-1)


def lasso_objective(D: torch.Tensor, y: torch.Tensor, x: torch.Tensor, lam) -> torch.Tensor:
    r""":math:`F(x) = \tfrac12\|y - Dx\|^2 + \lambda\|x\|_1` per sample (through :func:`ilib.sparse.lasso_cost`).

    ``x`` has shape ``(B, n)`` or ``(K, B, n)`` (a path of iterates); the result
    has shape ``(B,)`` or ``(K, B)``. Differentiable.
    """
    op = MatrixOperator(D)
    if x.dim() == 2:
        return lasso_cost(op, y, x, lam)
    return torch.stack([lasso_cost(op, y, xk, lam) for xk in x])


def lasso_reference(D: torch.Tensor, y: torch.Tensor, lam, *, iters: int = 3000, tol: float = 1e-12) -> SolverResult:
    r"""A high-accuracy Lasso solution, in float64, as a :class:`~ilib.sparse.SolverResult`.

    FISTA (:func:`ilib.sparse.fista`) in chunks of 100 iterations, each chunk
    restarted from the previous point (restarting the momentum keeps FISTA's
    rate and makes it linear once the support is found; O'Donoghue & Candès 2015),
    until the largest change over a chunk is below ``tol`` or ``iters`` iterations
    are spent. ``.x`` is :math:`x^\star`, ``.objective[-1]`` is :math:`F^\star = F(x^\star)`
    per signal, ``.iters`` the iterations run.
    """
    _check_D(D)
    _check_y(D, y)
    check_elements(lam, "lam", 0)
    iters = check_positive_int(iters, "iters")
    D64, y64 = D.double(), y.double()
    op = MatrixOperator(D64)
    L = lipschitz(D64).reshape(1)
    x = torch.zeros(y64.shape[0], D64.shape[1], dtype=torch.float64, device=D64.device)
    done = 0
    for _ in range(max(1, iters // 100)):
        x_new = fista(op, y64, lam, iters=100, L=L, x0=x).x
        done += 100
        converged = bool((x_new - x).abs().max() < tol)
        x = x_new
        if converged:
            break
    steps = (1.0 / L).reshape(1, 1).expand(done, y64.shape[0])
    return _result(x, [x], (done,), steps, lambda z: lasso_cost(op, y64, z, lam))


# --------------------------------------------------------------------------- oracle ISTA
def restricted_lipschitz(D: torch.Tensor, support: torch.Tensor, *, chunk: int = 256) -> torch.Tensor:
    r""":math:`L_S = \|D_S\|_2^2`, the largest eigenvalue of :math:`D_S^\top D_S`, per row of ``support``.

    Exact: the columns in each support are gathered (zero-padded to the largest
    support in a chunk) and the top eigenvalue of the smaller of
    :math:`D_S^\top D_S` and :math:`D_S D_S^\top` is taken by ``eigvalsh``.
    An empty support gives 0. ``support`` is boolean of shape ``(B, n)``.
    """
    _check_D(D)
    if support.dim() != 2 or support.shape[-1] != D.shape[1]:
        raise ValueError(f"support must have shape (B, n) with n={D.shape[1]}, got {tuple(support.shape)}")
    support = support.to(device=D.device, dtype=torch.bool)
    m, n = D.shape
    out = torch.zeros(support.shape[0], dtype=D.dtype, device=D.device)
    sizes = support.sum(dim=1)
    G = D.T @ D
    rows_by_size = torch.argsort(sizes)  # chunks of similar sizes pad little
    for start in range(0, support.shape[0], chunk):
        rows = rows_by_size[start : start + chunk]
        s, sz = support[rows], sizes[rows]
        smax = int(sz.max())
        if smax == 0:
            continue
        if smax <= m:
            order = torch.argsort(s.to(torch.int8), dim=1, descending=True, stable=True)[:, :smax]
            valid = (torch.arange(smax, device=D.device) < sz.unsqueeze(1)).to(D.dtype)
            Gr = G.index_select(0, order.reshape(-1)).reshape(len(rows), smax, n)
            Gs = Gr.gather(2, order.unsqueeze(1).expand(len(rows), smax, smax))
            Gs = Gs * valid.unsqueeze(2) * valid.unsqueeze(1)
        else:
            Ds = D.unsqueeze(0) * s.to(D.dtype).unsqueeze(1)
            Gs = Ds @ D.T
        out[rows] = torch.linalg.eigvalsh(Gs)[:, -1].clamp_min(0)
    return out


def oracle_ista(
    D: torch.Tensor,
    y: torch.Tensor,
    lam,
    *,
    iters: int,
    record_at: Sequence[int] | None = None,
    max_support: int | None = None,
) -> SolverResult:
    r"""Oracle ISTA (Ablin, Moreau, Massias & Gramfort 2019, Sec. 3): ISTA with support-restricted steps.

    At iterate :math:`x^k` with support :math:`S`, the step is :math:`1/L_S`,
    :math:`L_S = \|D_S\|_2^2` (:func:`restricted_lipschitz`):

    .. math::

        \tilde x = \eta_{\lambda/L_S}\big(x^k - \tfrac1{L_S} D^\top(Dx^k - y)\big),

    accepted when :math:`\mathrm{supp}(\tilde x) \subseteq S` (the step is then
    a prox-gradient step on the problem restricted to :math:`S`, whose gradient
    is :math:`L_S`-Lipschitz, so :math:`F` cannot increase); otherwise, and when
    :math:`S` is empty, the ISTA step :math:`1/L` is taken (the official code's
    fall-back). :math:`L_S` is recomputed only for rows whose support changed.

    Parameters
    ----------
    D : (m, n) dictionary; y : (B, m) signals; lam : scalar or (B,) weights.
    iters : number of iterations.
    record_at : iteration counts at which to keep the iterate (0 is the start),
        strictly increasing in ``[0, iters]``; default ``(iters,)``.
    max_support : rows whose support is larger than this take the ISTA step
        without consulting the oracle (``None``: always consult). The oracle's
        eigenvalue problem costs :math:`O(\min(|S|, m)^3)` per row, which is only
        worth paying once the support is near its final size.

    Returns
    -------
    :class:`~ilib.sparse.SolverResult`, whose ``steps`` (``(iters, B)``) are the steps
    each row took (:math:`1/L_S` where the oracle step was accepted, else :math:`1/L`).
    """
    _check_D(D)
    _check_y(D, y)
    _check_weight(lam, y.shape[0])
    iters = check_positive_int(iters, "iters")
    depths = _check_depths(record_at, iters)
    if max_support is not None:
        check_positive_int(max_support, "max_support")
    B, n = y.shape[0], D.shape[1]
    lamc = torch.as_tensor(lam, dtype=D.dtype, device=D.device).reshape(-1, 1)
    L = lipschitz(D)
    x = torch.zeros(B, n, dtype=D.dtype, device=D.device)
    supp_prev = torch.zeros(B, n, dtype=torch.bool, device=D.device)
    LS = torch.zeros(B, dtype=D.dtype, device=D.device)
    want = set(depths)
    xs = [x] if 0 in want else []
    steps = []
    for k in range(1, iters + 1):
        supp = x != 0
        changed = (supp != supp_prev).any(dim=1)
        if max_support is not None:
            changed &= supp.sum(dim=1) <= max_support
        if bool(changed.any()):
            LS[changed] = restricted_lipschitz(D, supp[changed])
        big = supp.sum(dim=1) > max_support if max_support is not None else torch.zeros_like(changed)
        supp_prev = supp
        use_oracle = (LS > 0) & ~big & supp.any(dim=1)
        step = torch.where(use_oracle, 1.0 / LS.clamp_min(torch.finfo(D.dtype).tiny), 1.0 / L)
        grad = (x @ D.T - y) @ D
        cand = soft_threshold(x - step.unsqueeze(1) * grad, lamc * step.unsqueeze(1))
        safe = ~((cand != 0) & ~supp).any(dim=1)
        ok = use_oracle & safe
        fallback = soft_threshold(x - grad / L, lamc / L)
        x = torch.where(ok.unsqueeze(1), cand, fallback)
        steps.append(torch.where(ok, step, 1.0 / L))
        if k in want:
            xs.append(x)
    return _result(x, xs, depths, torch.stack(steps), lambda z: lasso_objective(D, y, z, lam))


def solver_path(
    method: str, D: torch.Tensor, y: torch.Tensor, lam, depths: Sequence[int], *, max_support: int | None = None
) -> SolverResult:
    r"""ISTA, FISTA or oracle ISTA on the dictionary ``D``, recording the iterates at the iteration counts ``depths``.

    ``method`` is ``"ista"`` or ``"fista"`` (:func:`ilib.sparse.ista` and
    :func:`ilib.sparse.fista` with the exact :math:`L = \|D\|_2^2`) or ``"oista"``
    (:func:`oracle_ista`), started at 0 and run once for ``max(depths)`` iterations
    (at least 1): ``.iterates`` has shape ``(len(depths), B, n)``, ``.objective`` shape
    ``(len(depths), B)``. The depths are taken along the one run, which for FISTA is
    what its momentum requires (the iterate after ``d`` iterations is that of a run of
    ``d`` iterations on its own).
    """
    _check_D(D)
    _check_y(D, y)
    depths = tuple(depths)
    iters = max(1, max(depths, default=0))
    if method == "oista":
        return oracle_ista(D, y, lam, iters=iters, record_at=depths, max_support=max_support)
    if method not in ("ista", "fista"):
        raise ValueError(f"method must be 'ista', 'fista' or 'oista', got method={method!r}")
    solver = ista if method == "ista" else fista
    return solver(MatrixOperator(D), y, lam, iters=iters, L=lipschitz(D).reshape(1), record_at=depths)


# --------------------------------------------------------------------------- ALISTA weights
def analytic_weights(D: torch.Tensor) -> torch.Tensor:
    r"""ALISTA's analytic weight matrix, in closed form (Liu, Chen, Wang & Yin, ICLR 2019, eq. 17).

    The convex problem :math:`\min_W \|W^\top D\|_F^2` s.t. :math:`W_{:,i}^\top D_{:,i} = 1`
    decouples over columns; each column minimises :math:`w^\top (DD^\top) w`
    subject to :math:`w^\top d_i = 1`, whose Lagrange condition
    :math:`DD^\top w = \nu d_i` gives

    .. math::

        w_i = \frac{(DD^\top)^{-1} d_i}{d_i^\top (DD^\top)^{-1} d_i}.

    (The official code reaches the same point by 1000 projected-gradient steps.)
    Needs :math:`DD^\top` invertible (``D`` of full row rank). Computed in float64,
    returned in ``D``'s dtype; shape ``(m, n)`` like ``D``.
    """
    _check_D(D)
    D64 = D.double()
    G = D64 @ D64.T
    try:
        chol = torch.linalg.cholesky(G)
    except RuntimeError as exc:  # pragma: no cover - depends on the input
        raise ValueError("D must have full row rank (D D^T invertible) for the analytic ALISTA weights") from exc
    V = torch.cholesky_solve(D64, chol)
    W = V / (D64 * V).sum(dim=0, keepdim=True)
    return W.to(D.dtype)


def generalized_coherence(W: torch.Tensor, D: torch.Tensor) -> float:
    r"""The generalised mutual coherence :math:`\tilde\mu = \max_{i \ne j} |W_{:,i}^\top D_{:,j}|` (ALISTA, Def. 1)."""
    _check_D(D)
    if W.shape != D.shape:
        raise ValueError(f"W must have the shape of D {tuple(D.shape)}, got {tuple(W.shape)}")
    M = (W.T @ D).abs()
    M.fill_diagonal_(0)
    return float(M.max())


def mutual_coherence(D: torch.Tensor) -> float:
    r"""The mutual coherence :math:`\mu(D) = \max_{i \ne j} |d_i^\top d_j| / (\|d_i\|\|d_j\|)`."""
    _check_D(D)
    Dn = D / D.norm(dim=0, keepdim=True)
    return generalized_coherence(Dn, Dn)


# --------------------------------------------------------------------------- support selection
def ss_schedule(layers: int, p: float = 1.2, maxp: float = 13.0) -> list[float]:
    r"""Support-selection percentages :math:`q_k = \min(p(k+1), q_{\max})`, k = 0..K-1 (ALISTA code)."""
    layers = check_positive_int(layers, "layers")
    check_nonneg(p, "p")
    check_nonneg(maxp, "maxp")
    return [min(p * (k + 1), maxp) for k in range(layers)]


def support_selection(u: torch.Tensor, theta, q: float) -> torch.Tensor:
    r"""Soft thresholding with support selection (``shrink_ss`` of the LISTA-CPSS/ALISTA code).

    Entries that are both above the threshold, :math:`|u_i| > \theta`, and among
    the :math:`\lfloor q n/100 \rfloor` largest magnitudes of their row bypass the
    shrinkage; all others get :math:`\eta_\theta`. The selection is treated as a
    constant for gradients. ``q = 0`` is plain soft thresholding.
    """
    check_in_range(q, "q", 0, 100)
    k = int(q * u.shape[-1] / 100.0)
    shrunk = soft_threshold(u, theta)
    if k == 0:
        return shrunk
    a = u.detach().abs()
    kth = torch.topk(a, k, dim=-1).values[..., -1:]
    keep = (a >= kth) & (a > torch.as_tensor(theta, dtype=u.dtype, device=u.device).detach())
    return torch.where(keep, u, shrunk)


# --------------------------------------------------------------------------- unrolled networks
class Unrolled(nn.Module):
    r"""Base class of the unrolled networks: ``layers`` iterations started at :math:`x^0 = 0`.

    Subclasses implement :meth:`step` (:math:`x^k \mapsto x^{k+1}`). The
    dictionary ``D`` (shape ``(m, n)``) and :math:`L = \|D\|_2^2` are buffers,
    so ``.to(device)`` moves them with the parameters.
    """

    def __init__(self, D: torch.Tensor, layers: int, lam: float):
        super().__init__()
        _check_D(D)
        self.layers = check_positive_int(layers, "layers")
        self.lam = check_positive(lam, "lam")  # it sets the initial thresholds
        self.register_buffer("D", D.detach().clone())
        self.register_buffer("L", lipschitz(D.detach()).reshape(()))

    @property
    def m(self) -> int:
        return self.D.shape[0]

    @property
    def n(self) -> int:
        return self.D.shape[1]

    def _log_param(self, value) -> nn.Parameter:
        """A per-layer positive scalar stored as its logarithm (Adam's steps are then relative)."""
        v = torch.as_tensor(value, dtype=self.D.dtype, device=self.D.device)
        return nn.Parameter(torch.log(v).expand(self.layers).clone())

    @property
    def thresholds(self) -> torch.Tensor:
        r"""The thresholds :math:`\theta^k`, shape ``(K,)``."""
        return self.log_theta.exp()

    def step(self, k: int, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def forward(self, y: torch.Tensor, *, depth: int | None = None, return_all: bool = False) -> torch.Tensor:
        """The output :math:`x^K` (or all iterates :math:`x^0..x^K`, shape ``(K+1, B, n)``) for signals ``y`` ``(B, m)``."""
        _check_y(self.D, y)
        depth = self.layers if depth is None else int(depth)
        if not 0 <= depth <= self.layers:
            raise ValueError(f"depth must lie in [0, layers={self.layers}], got depth={depth}")
        x = torch.zeros(y.shape[0], self.n, dtype=y.dtype, device=y.device)
        xs = [x]
        for k in range(depth):
            x = self.step(k, x, y)
            xs.append(x)
        return torch.stack(xs) if return_all else x


class LISTA(Unrolled):
    r"""LISTA (Gregor & LeCun, ICML 2010): :math:`x^{k+1} = \eta_{\theta^k}(W_1^k y + W_2^k x^k)`, all weights untied.

    Initialised at ISTA: :math:`W_1 = D^\top/L`, :math:`W_2 = I - D^\top D/L`,
    :math:`\theta = \lambda/L`, so the untrained network computes ``layers``
    ISTA iterations exactly.
    """

    def __init__(self, D: torch.Tensor, layers: int, lam: float):
        super().__init__(D, layers, lam)
        Dd, L = self.D, self.L
        eye = torch.eye(self.n, dtype=Dd.dtype, device=Dd.device)
        self.W1 = nn.Parameter((Dd.T / L).unsqueeze(0).repeat(self.layers, 1, 1))
        self.W2 = nn.Parameter((eye - Dd.T @ Dd / L).unsqueeze(0).repeat(self.layers, 1, 1))
        self.log_theta = self._log_param(self.lam / L)

    def step(self, k, x, y):
        return soft_threshold(y @ self.W1[k].T + x @ self.W2[k].T, self.log_theta[k].exp())


class LISTACP(Unrolled):
    r"""LISTA-CP (Chen, Liu, Wang & Yin, NeurIPS 2018): coupled weights :math:`W_2 = I - W^{k\top} D`.

    .. math::

        x^{k+1} = \eta_{\theta^k}\big(x^k - W^{k\top}(Dx^k - y)\big),

    initialised at ISTA (:math:`W^k = D/L`, :math:`\theta^k = \lambda/L`). With
    ``support_selection=True`` this is LISTA-CPSS: the shrinkage is
    :func:`support_selection` with percentages :func:`ss_schedule`.
    """

    def __init__(self, D: torch.Tensor, layers: int, lam: float, *, support_selection: bool = False,
                 p: float = 1.2, maxp: float = 13.0):
        super().__init__(D, layers, lam)
        self.W = nn.Parameter((self.D / self.L).unsqueeze(0).repeat(self.layers, 1, 1))
        self.log_theta = self._log_param(self.lam / self.L)
        self.q = ss_schedule(self.layers, p, maxp) if support_selection else [0.0] * self.layers

    def step(self, k, x, y):
        u = x - (x @ self.D.T - y) @ self.W[k]
        return support_selection(u, self.log_theta[k].exp(), self.q[k])


class ALISTA(Unrolled):
    r"""ALISTA (Liu, Chen, Wang & Yin, ICLR 2019, eq. 16): analytic :math:`\tilde W`, learned :math:`\gamma^k, \theta^k` only.

    .. math::

        x^{k+1} = \eta_{\theta^k}\big(x^k - \gamma^k \tilde W^\top (D x^k - y)\big),

    with :math:`\tilde W` from :func:`analytic_weights` (or ``W`` if given), and
    support selection (:func:`support_selection`, percentages :func:`ss_schedule`)
    unless ``support_selection=False``. Initialised as the official code:
    :math:`\gamma^k = 1`, :math:`\theta^k = \lambda/L`. 2K parameters in all.
    """

    def __init__(self, D: torch.Tensor, layers: int, lam: float, *, W: torch.Tensor | None = None,
                 support_selection: bool = True, p: float = 1.2, maxp: float = 13.0, gamma0: float = 1.0):
        super().__init__(D, layers, lam)
        W = analytic_weights(self.D) if W is None else W.to(device=self.D.device, dtype=self.D.dtype)
        if W.shape != self.D.shape:
            raise ValueError(f"W must have the shape of D {tuple(self.D.shape)}, got {tuple(W.shape)}")
        self.register_buffer("W", W.detach().clone())
        self.register_buffer("WtD", (W.T @ self.D).detach())
        self.log_gamma = self._log_param(check_positive(gamma0, "gamma0"))
        self.log_theta = self._log_param(self.lam / self.L)
        self.q = ss_schedule(self.layers, p, maxp) if support_selection else [0.0] * self.layers

    @property
    def gammas(self) -> torch.Tensor:
        r"""The step sizes :math:`\gamma^k`, shape ``(K,)``."""
        return self.log_gamma.exp()

    def step(self, k, x, y):
        u = x - self.log_gamma[k].exp() * (x @ self.WtD.T - y @ self.W)
        return support_selection(u, self.log_theta[k].exp(), self.q[k])


class SLISTA(Unrolled):
    r"""SLISTA (Ablin, Moreau, Massias & Gramfort, NeurIPS 2019): one learned step :math:`\alpha^k` per layer.

    .. math::

        x^{k+1} = \eta_{\lambda\alpha^k}\big(x^k - \alpha^k D^\top(Dx^k - y)\big),

    i.e. ISTA on the Lasso with weight ``lam`` and a per-layer step;
    initialised at :math:`\alpha^k = 1/L` (ISTA). Their analysis predicts that
    the learned :math:`\alpha^k` approach :math:`1/L_S` of the support reached.
    """

    def __init__(self, D: torch.Tensor, layers: int, lam: float):
        super().__init__(D, layers, lam)
        self.log_alpha = self._log_param(1.0 / self.L)
        self.register_buffer("G", (self.D.T @ self.D).detach())

    @property
    def steps(self) -> torch.Tensor:
        r"""The learned step sizes :math:`\alpha^k`, shape ``(K,)``."""
        return self.log_alpha.exp()

    @property
    def thresholds(self) -> torch.Tensor:
        return self.lam * self.steps

    def step(self, k, x, y):
        a = self.log_alpha[k].exp()
        return soft_threshold(x - a * (x @ self.G - y @ self.D), self.lam * a)


# --------------------------------------------------------------------------- training
@dataclass
class TrainResult:
    """Loss per training step, wall time, and the settings used."""

    loss: torch.Tensor
    seconds: float
    settings: dict = field(default_factory=dict)


def _layer_loss(model: Unrolled, y, x_true, f_star, lam, objective: str) -> torch.Tensor:
    if x_true is not None:
        if objective == "last":
            xk = model(y)
            return ((xk - x_true) ** 2).sum() / (x_true**2).sum()
        xs = model(y, return_all=True)[1:]
        err = ((xs - x_true) ** 2).sum(dim=(-2, -1)) / (x_true**2).sum()
        return 10 * torch.log10(err).mean()
    if objective == "last" or f_star is None:
        return lasso_objective(model.D, y, model(y), lam).mean()
    xs = model(y, return_all=True)[1:]
    gaps = lasso_objective(model.D, y, xs, lam).mean(dim=1) - f_star.mean()
    return torch.log10(gaps.clamp_min(torch.finfo(gaps.dtype).tiny)).mean()


def train(
    model: Unrolled,
    y: torch.Tensor,
    x: torch.Tensor | None = None,
    *,
    steps: int,
    lr: float,
    batch: int = 64,
    seed: SeedLike = 0,
    lam: float | None = None,
    f_star: torch.Tensor | None = None,
    scalar_lr: float | None = None,
    objective: str = "layers",
    milestones: tuple[float, float] = (0.6, 0.85),
    decays: tuple[float, float] = (0.2, 0.02),
) -> TrainResult:
    r"""Train an unrolled network by Adam on mini-batches of ``(y, x)``.

    Supervised (``x`` given, the ALISTA benchmark): with ``objective="layers"``
    the loss is the mean over layers :math:`k = 1..K` of the NMSE in dB of
    :math:`x^k` (deep supervision; it makes every layer's output meaningful, as
    the stage-wise training of the official code does, in one pass), with
    ``"last"`` the NMSE of :math:`x^K`.

    Unsupervised (``x=None``, Ablin et al.): the Lasso cost with weight ``lam``;
    with ``objective="layers"`` and ``f_star`` (:math:`F^\star` per training
    sample) the loss is the mean over layers of
    :math:`\log_{10}(\overline{F(x^k)} - \overline{F^\star})`, else the mean of
    :math:`F(x^K)` as in the official code.

    Per-layer scalars (thresholds, steps; stored as logarithms) learn with
    ``scalar_lr`` (default ``lr``), weight matrices with ``lr``: a relative step
    of a few percent suits the former, while the latter's entries are small.
    The learning rates are multiplied by ``decays`` at the fractions
    ``milestones`` of the run (the official ALISTA schedule decays by 0.2 and 0.02).
    Mini-batches are drawn from ``seed`` without touching global state.
    """
    steps = check_positive_int(steps, "steps")
    batch = check_positive_int(batch, "batch")
    check_positive(lr, "lr")
    check_choice(objective, "objective", ("layers", "last"))
    _check_y(model.D, y)
    if x is not None and (x.shape[0] != y.shape[0] or x.shape[-1] != model.n):
        raise ValueError(f"x must have shape ({y.shape[0]}, {model.n}), got {tuple(x.shape)}")
    if x is None:
        if lam is None:
            raise ValueError("lam (the Lasso weight) is required for unsupervised training (x=None)")
        check_elements(lam, "lam", 0)
    if f_star is not None and f_star.shape != (y.shape[0],):
        raise ValueError(f"f_star must have shape ({y.shape[0]},), got {tuple(f_star.shape)}")
    scalar_lr = lr if scalar_lr is None else check_positive(scalar_lr, "scalar_lr")
    g = make_generator(seed)
    scalars = [q for q in model.parameters() if q.dim() <= 1]
    matrices = [q for q in model.parameters() if q.dim() > 1]
    groups = [dict(params=scalars, lr=scalar_lr, base=scalar_lr)]
    if matrices:
        groups.append(dict(params=matrices, lr=lr, base=lr))
    opt = torch.optim.Adam(groups)
    N = y.shape[0]
    losses = torch.empty(steps)
    t0 = time.perf_counter()
    cut = [int(f * steps) for f in milestones]
    for t in range(steps):
        if t in cut:
            for group in opt.param_groups:
                group["lr"] = group["base"] * decays[cut.index(t)]
        idx = torch.randint(0, N, (min(batch, N),), generator=g).to(y.device)
        loss = _layer_loss(model, y[idx], None if x is None else x[idx], None if f_star is None else f_star[idx],
                           lam, objective)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses[t] = loss.detach().cpu()
    return TrainResult(loss=losses, seconds=time.perf_counter() - t0,
                       settings=dict(steps=steps, lr=lr, scalar_lr=scalar_lr, batch=batch, objective=objective))


# --------------------------------------------------------------------------- experiments
def _build(name: str, D: torch.Tensor, layers: int, lam: float, support_selection: bool = True,
           gamma0: float = 1.0) -> Unrolled:
    if name == "LISTA":
        return LISTA(D, layers, lam)
    if name in ("LISTA-CP", "LISTA-CPSS"):
        return LISTACP(D, layers, lam, support_selection=(name == "LISTA-CPSS"))
    if name == "ALISTA":
        return ALISTA(D, layers, lam, support_selection=support_selection, gamma0=gamma0)
    if name == "SLISTA":
        return SLISTA(D, layers, lam)
    raise ValueError(f"unknown model {name!r}; expected one of LISTA, LISTA-CP, LISTA-CPSS, ALISTA, SLISTA")


def nmse_experiment(
    D: torch.Tensor,
    y_train: torch.Tensor,
    x_train: torch.Tensor,
    y_test: torch.Tensor,
    x_test: torch.Tensor,
    *,
    layers: int,
    lam_values: Sequence[float],
    models: dict[str, dict],
    classical_depth: int | None = None,
    oista_max_support: int | None = None,
    batch: int = 64,
    seed: SeedLike = 0,
) -> dict:
    r"""NMSE (dB) against layer / iteration on one ALISTA-benchmark condition.

    Classical solvers (ISTA, FISTA, oracle ISTA) run on ``y_test`` for every
    :math:`\lambda` in ``lam_values`` up to ``classical_depth`` iterations (default
    ``layers``); each learned model in ``models`` (name to ``dict(steps=, lr=, lam=)``, optionally ``scalar_lr=``)
    is built with ``D``, trained supervised on ``(y_train, x_train)`` with
    :func:`train`, and evaluated layer by layer on the test set.

    Returns
    -------
    dict with ``"classical"`` (``{method: {lam: nmse per depth}}``, depths 0..classical_depth),
    ``"learned"`` (``{name: nmse per layer 0..K}``), ``"train_seconds"``,
    ``"train_loss"`` (``{name: loss curve}``) and ``"models"`` (the trained modules).
    """
    layers = check_positive_int(layers, "layers")
    depth = layers if classical_depth is None else check_positive_int(classical_depth, "classical_depth")
    g = make_generator(seed)
    depths = list(range(depth + 1))
    classical: dict = {}
    with torch.no_grad():
        for method in ("ista", "fista", "oista"):
            classical[method] = {}
            for lam in lam_values:
                xs = solver_path(method, D, y_test, lam, depths, max_support=oista_max_support).iterates
                classical[method][float(lam)] = nmse_db(xs, x_test).cpu()
    learned, seconds, losses, trained = {}, {}, {}, {}
    for name, cfg in models.items():
        model = _build(name, D, layers, cfg["lam"])
        res = train(model, y_train, x_train, steps=cfg["steps"], lr=cfg["lr"], scalar_lr=cfg.get("scalar_lr"),
                    batch=batch, seed=int(torch.randint(0, 2**62, (1,), generator=g)))
        with torch.no_grad():
            learned[name] = nmse_db(model(y_test, return_all=True), x_test).cpu()
        seconds[name], losses[name], trained[name] = res.seconds, res.loss, model
    return {"classical": classical, "learned": learned, "train_seconds": seconds, "train_loss": losses,
            "models": trained, "depths": depths}


def lasso_depth_experiment(
    D: torch.Tensor,
    y_train: torch.Tensor,
    y_test: torch.Tensor,
    *,
    reg: float,
    layers: int,
    models: dict[str, dict],
    batch: int = 128,
    seed: SeedLike = 0,
    ref_iters: int = 2000,
) -> dict:
    r""":math:`F(x^k) - F^\star` against depth for ISTA, FISTA, oracle ISTA and Lasso-trained networks (Ablin et al. 2019, Fig. 6).

    ``y`` are :func:`lasso_signals` (so :math:`\lambda_{\max} = 1` and
    :math:`\lambda = \mathrm{reg}`). :math:`F^\star` comes from
    :func:`lasso_reference` (``ref_iters`` FISTA iterations on the test set).
    Each model in ``models`` (name to ``dict(steps=, lr=)``, optionally
    ``scalar_lr=``) is trained on the Lasso cost (:func:`train` with ``f_star``); ALISTA is used
    without support selection and starts from :math:`\gamma^k = 1/L`,
    :math:`\theta^k = \lambda/L`, as in Ablin et al.'s code. For SLISTA the
    learned steps :math:`\alpha^k` and the restricted constants
    :math:`L_{S^k}` of the supports its own iterates reach on the test set are
    returned as well.
    """
    layers = check_positive_int(layers, "layers")
    lam = check_positive(reg, "reg")
    g = make_generator(seed)
    # F* of the training signals only weights the layers of the loss, so a quarter of the iterations suffices
    f_train = lasso_reference(D, y_train, lam, iters=max(100, ref_iters // 4)).objective[-1]
    f_test = lasso_reference(D, y_test, lam, iters=ref_iters).objective[-1]
    f_train, f_test = f_train.to(D.dtype), f_test.to(D.dtype)
    Dd, yt = D.double(), y_test.double()
    depths = list(range(layers + 1))
    gap = {}
    with torch.no_grad():
        for method in ("ista", "fista", "oista"):
            F = solver_path(method, Dd, yt, lam, depths).objective  # F(x^k), (len(depths), B), from one run
            gap[method.upper() if method != "oista" else "oracle ISTA"] = (F.mean(dim=1) - f_test.double().mean()).cpu()
    out = {"gap": gap, "f_star": f_test.mean().item(), "train_seconds": {}, "train_loss": {}, "models": {}}
    for name, cfg in models.items():
        model = _build(name, D, layers, lam, support_selection=False, gamma0=1.0 / float(lipschitz(D)))
        res = train(model, y_train, None, lam=lam, f_star=f_train, steps=cfg["steps"], lr=cfg["lr"],
                    scalar_lr=cfg.get("scalar_lr"), batch=batch, seed=int(torch.randint(0, 2**62, (1,), generator=g)))
        with torch.no_grad():  # evaluate in float64 so that small gaps are not rounding noise
            xs = copy.deepcopy(model).double()(yt, return_all=True)
            gap[name] = (lasso_objective(Dd, yt, xs, lam).mean(dim=1) - f_test.double().mean()).cpu()
        out["train_seconds"][name], out["train_loss"][name], out["models"][name] = res.seconds, res.loss, model
        if name == "SLISTA":
            with torch.no_grad():
                LS = torch.stack([restricted_lipschitz(Dd, xs[k + 1] != 0) for k in range(layers)])  # (K, B)
                # the step of layer k acts on x^k; its support is what 1/L_S refers to (x^0 = 0 has none)
                LS_in = torch.stack([restricted_lipschitz(Dd, xs[k] != 0) for k in range(layers)])
            out["slista_alpha"] = model.steps.detach().double().cpu()
            out["slista_LS_out"] = LS.cpu()
            out["slista_LS_in"] = LS_in.cpu()
    out["L"] = lipschitz(Dd).item()
    return out
