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
* ALISTA's analytic weights, coherences and the thresholds and rate of its
  Theorem 1 (Liu, Chen, Wang & Yin, ICLR 2019);
* unrolled networks as :class:`torch.nn.Module`, each instance a *stack* of
  ``M`` independent networks of possibly different depths trained in one loop
  (:func:`train`): LISTA (Gregor & LeCun, ICML 2010), LISTA-CP with optional
  support selection (Chen, Liu, Wang & Yin, NeurIPS 2018), ALISTA, and SLISTA
  (Ablin et al. 2019), which learns only one step size per layer; a learned
  linear decoder on top of an encoder (:class:`Decoded`);
* Moreau & Bruna's factorised iteration (ICLR 2017);
* the data of the ALISTA benchmark (Gaussian dictionary with unit columns,
  Bernoulli–Gaussian codes, noise at a given SNR) and NMSE in dB.

The sweeps of notebook 08 live in :mod:`ilib.experiments.unrolled_sparse_coding`.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Sequence

import torch
from torch import nn

from ._checks import (
    check_choice, check_elements, check_in_range, check_int, check_nonneg, check_positive, check_positive_int,
    check_probability, check_tensor,
)
from .device import DeviceLike, DTypeLike, SeedLike, make_generator, rand, randn, resolve_device, resolve_dtype
from .operators import MatrixOperator
from .sparse import SolverResult, _check_depths, _check_weight, _result, fista, ista, lasso_cost, soft_threshold

__all__ = [
    "gaussian_dictionary", "bernoulli_gaussian", "add_noise", "lasso_signals", "nmse_db", "nmse_db_difference", "lipschitz",
    "lambda_max", "lasso_objective", "lasso_reference", "restricted_lipschitz", "oracle_ista", "solver_path",
    "analytic_weights", "generalized_coherence", "mutual_coherence", "support_selection", "ss_schedule",
    "theorem1_sparsity", "theorem1_rate", "theorem1_path",
    "Unrolled", "LISTA", "LISTACP", "ALISTA", "SLISTA", "Decoded", "TrainResult", "train",
    "factorised_step", "factorisation_quantities", "l1_distortion",
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


def nmse_db_difference(err_a, err_b, *, n_boot: int, seed: int):
    r"""The NMSE difference in dB of two estimators on the same signals, with a paired bootstrap interval.

    .. math::

        \Delta = 10\log_{10}\frac{\sum_b \|\hat x^{(a)}_b - x_b\|^2}{\sum_b \|\hat x^{(b)}_b - x_b\|^2}
        = \mathrm{NMSE_{dB}}(a) - \mathrm{NMSE_{dB}}(b)

    from the per-signal squared errors ``err_a`` and ``err_b`` (the normalisation :math:`\sum_b\|x_b\|^2`
    cancels); the signals are resampled jointly (:func:`ilib.stats.bootstrap`, ``n_boot`` replicates drawn
    from ``seed``). Returns an :class:`ilib.Estimate`.
    """
    import numpy as np

    from .claims import Estimate
    from .stats import bootstrap

    a, b = np.asarray(err_a, dtype=float), np.asarray(err_b, dtype=float)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"err_a and err_b must be 1-D arrays of one length, got shapes {a.shape} and {b.shape}")
    stat = lambda u, v, axis=0: 10 * np.log10(np.sum(u, axis=axis) / np.sum(v, axis=axis))  # noqa: E731
    est, lo, hi = bootstrap(stat, a, b, n_boot=n_boot, rng=np.random.default_rng(seed), paired=True, vectorized=True)
    return Estimate.interval(est, lo, hi, "paired bootstrap 95%", len(a))


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


def lasso_reference(D: torch.Tensor, y: torch.Tensor, lam, *, iters: int = 3000, tol: float = 1e-12,
                    dtype: DTypeLike = torch.float64) -> SolverResult:
    r"""A high-accuracy Lasso solution, as a :class:`~ilib.sparse.SolverResult` (in ``dtype``, float64 by default).

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
    check_positive(tol, "tol")
    dt = resolve_dtype(dtype)
    D64, y64 = D.to(dt), y.to(dt)
    op = MatrixOperator(D64)
    L = lipschitz(D64).reshape(1)
    x = torch.zeros(y64.shape[0], D64.shape[1], dtype=dt, device=D64.device)
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


# --------------------------------------------------------------------------- ALISTA, Theorem 1
def theorem1_sparsity(mu: float) -> int:
    r"""The largest sparsity :math:`s` that ALISTA's Theorem 1 covers: the largest integer :math:`s < (1 + 1/\tilde\mu)/2`.

    Liu, Chen, Wang & Yin (ICLR 2019), Thm. 1, needs :math:`s < (1 + 1/\tilde\mu)/2`
    (and :math:`s \ge 2` in their statement); returns 0 when no :math:`s \ge 1` qualifies.
    """
    mu = check_positive(mu, "mu")
    bound = (1 + 1 / mu) / 2
    return max(0, math.ceil(bound) - 1)


def theorem1_rate(mu: float, s: int, gamma: float = 1.0) -> float:
    r"""The per-layer contraction factor of ALISTA's Theorem 1, :math:`e^{-c} = (2s-1)\tilde\mu\gamma + |1 - \gamma|`.

    With :math:`\theta^k = \gamma\tilde\mu\sup_{x^*}\|x^k - x^*\|_1` the proof gives
    :math:`\sup\|x^{k+1} - x^*\|_1 \le \big((2s-1)\tilde\mu\gamma + |1-\gamma|\big)\sup\|x^k - x^*\|_1`
    (Liu et al. 2019, Thm. 1: :math:`c^k = -\log((2\tilde\mu s - \tilde\mu)\gamma^k + |1 - \gamma^k|)`).
    """
    mu, gamma = check_positive(mu, "mu"), check_positive(gamma, "gamma")
    s = check_positive_int(s, "s")
    return (2 * s - 1) * mu * gamma + abs(1 - gamma)


def theorem1_path(D: torch.Tensor, x_star: torch.Tensor, layers: int, *, W: torch.Tensor | None = None,
                  gamma: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    r"""ALISTA (no support selection) with the thresholds of Theorem 1, on noiseless codes ``x_star`` ``(B, n)``.

    .. math::

        x^{k+1} = \eta_{\theta^k}\big(x^k - \gamma\tilde W^\top(Dx^k - y)\big),\qquad
        \theta^k = \gamma\,\tilde\mu\,\max_b \|x^k_b - x^*_b\|_1,

    :math:`y = Dx^*`, the supremum of Liu et al.'s Thm. 1 taken over the batch (so every
    code of the batch satisfies the theorem's threshold condition). Returns the iterates
    ``(layers + 1, B, n)`` and the thresholds ``(layers,)``. ``W`` defaults to
    :func:`analytic_weights`.
    """
    _check_D(D)
    layers = check_positive_int(layers, "layers")
    gamma = check_positive(gamma, "gamma")
    W = analytic_weights(D) if W is None else W
    mu = generalized_coherence(W, D)
    y = x_star @ D.T
    x = torch.zeros_like(x_star)
    xs, thetas = [x], []
    for _ in range(layers):
        theta = gamma * mu * float((x - x_star).abs().sum(dim=1).max())
        x = soft_threshold(x - gamma * (x @ D.T - y) @ W, theta)
        xs.append(x)
        thetas.append(theta)
    return torch.stack(xs), torch.tensor(thetas, dtype=D.dtype)


# --------------------------------------------------------------------------- unrolled networks (batched over models)
def _check_lams(lam, models: int) -> list[float]:
    vals = [lam] * models if isinstance(lam, (int, float)) or (torch.is_tensor(lam) and lam.dim() == 0) else list(lam)
    if len(vals) != models:
        raise ValueError(f"lam must be one number or one per model ({models}), got {len(vals)} values")
    return [check_positive(float(v), "lam") for v in vals]


class Unrolled(nn.Module):
    r"""Base class of the unrolled networks: ``M`` independent networks of ``K`` layers started at :math:`x^0 = 0`.

    The networks of one instance share the dictionary ``D`` (shape ``(m, n)``, a
    buffer with :math:`L = \|D\|_2^2`) and their architecture; each has its own
    parameters, its own Lasso weight ``lam[i]`` (which sets its initial thresholds)
    and its own depth ``depths[i] <= K`` (its output is :math:`x^{d_i}`). Stacking
    ``M`` networks turns ``M`` trainings into one: per-layer scalars are stored
    as ``(K, M)`` tensors and weight matrices as ``(K, M, a, b)``, and each layer is
    one batched product over the networks still active at that depth (``depths``
    must therefore be non-increasing). Since the loss of :func:`train` is a sum
    over networks and Adam acts elementwise, the stacked training equals ``M``
    separate trainings on the same mini-batches.

    Subclasses implement :meth:`step` (:math:`x^k \mapsto x^{k+1}` for the first
    ``a`` networks).
    """

    def __init__(self, D: torch.Tensor, layers: int, lam, *, models: int = 1, depths: Sequence[int] | None = None):
        super().__init__()
        _check_D(D)
        self.layers = check_positive_int(layers, "layers")
        self.models = check_positive_int(models, "models")
        lams = _check_lams(lam, self.models)
        if depths is None:
            depths = [self.layers] * self.models
        depths = [check_int(d, "depths", lo=1, hi=self.layers) for d in depths]
        if len(depths) != self.models or any(b > a for a, b in zip(depths, depths[1:])):
            raise ValueError(f"depths must hold one depth per model ({self.models}), non-increasing, got {depths}")
        self.depths = tuple(depths)
        self.register_buffer("D", D.detach().clone())
        self.register_buffer("L", lipschitz(D.detach()).reshape(()))
        self.register_buffer("lam", torch.tensor(lams, dtype=D.dtype, device=D.device))
        self._active = [sum(d > t for d in self.depths) for t in range(self.layers)]

    @property
    def m(self) -> int:
        """Length of the input signals ``y``."""
        return self.D.shape[0]

    @property
    def n(self) -> int:
        """Length of the codes (and of the output, see :class:`Decoded`)."""
        return self.D.shape[1]

    @property
    def out_dim(self) -> int:
        return self.n

    def _per_layer(self, value) -> nn.Parameter:
        """A positive per-layer, per-model scalar stored as its logarithm, shape ``(K, M)`` (Adam's steps are then relative)."""
        v = torch.as_tensor(value, dtype=self.D.dtype, device=self.D.device).reshape(-1)
        return nn.Parameter(torch.log(v).expand(self.models).unsqueeze(0).repeat(self.layers, 1).contiguous())

    def _per_layer_matrix(self, value: torch.Tensor) -> nn.ParameterList:
        """One weight matrix per layer and *active* model: layer ``k`` holds ``(a_k, a, b)``, all initialised at ``value``.

        ``a_k`` is the number of networks deeper than ``k`` (the first ``a_k``, depths being non-increasing),
        so a network has no weights beyond its depth: no gradient, no optimiser state and no work is spent
        on layers it does not have. One tensor per layer (not one stacked tensor) keeps each layer's
        gradient its own size.
        """
        v = value.detach().unsqueeze(0)
        return nn.ParameterList([nn.Parameter(v.repeat(a, 1, 1).contiguous()) for a in self._active if a])

    @staticmethod
    def _first(t: torch.Tensor, a: int) -> torch.Tensor:
        """``t[:a]`` along the model axis, without a slice (and its backward) when all models are active."""
        return t if a == t.shape[0] else t[:a]

    def layer_matrices(self, name: str) -> torch.Tensor:
        """The weight matrices ``name`` of every layer as one ``(K, M, a, b)`` tensor (NaN beyond a network's depth)."""
        mats = getattr(self, name)
        first = mats[0]
        out = torch.full((self.layers, self.models, *first.shape[1:]), math.nan, dtype=first.dtype, device=first.device)
        for k, w in enumerate(mats):
            out[k, : w.shape[0]] = w.detach()
        return out

    @property
    def thresholds(self) -> torch.Tensor:
        r"""The thresholds :math:`\theta^k`, shape ``(M, K)``."""
        return self.log_theta.exp().T

    def step(self, k: int, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        """Layer ``k`` for the first ``x.shape[0]`` networks: ``x`` ``(a, B, n)``, ``y`` ``(a, B, m)``."""
        raise NotImplementedError

    def _batched(self, y: torch.Tensor) -> torch.Tensor:
        if y.dim() == 2:
            _check_y(self.D, y)
            return y.unsqueeze(0).expand(self.models, *y.shape)
        if y.dim() != 3 or y.shape[0] != self.models or y.shape[-1] != self.m:
            raise ValueError(f"y must have shape (B, {self.m}) or ({self.models}, B, {self.m}), got {tuple(y.shape)}")
        return y

    def forward(self, y: torch.Tensor, *, return_all: bool = False) -> torch.Tensor:
        r"""The outputs :math:`x^{d_i}` for signals ``y`` (``(B, m)``, shared, or ``(M, B, m)``, one set per network).

        Returns ``(M, B, n)``, or ``(B, n)`` for one network and a 2-D ``y``. With
        ``return_all`` the iterates :math:`x^0..x^K` (``(K+1, M, B, n)`` or ``(K+1, B, n)``);
        a network of depth :math:`d_i < K` keeps :math:`x^{d_i}` beyond its depth.
        """
        squeeze = y.dim() == 2 and self.models == 1
        yb = self._batched(y)
        x = torch.zeros(self.models, yb.shape[1], self.n, dtype=yb.dtype, device=yb.device)
        if not return_all:  # networks that have reached their depth drop out of the batch and wait in `done`
            done = []
            for k in range(self.layers):
                a = self._active[k]
                if a < x.shape[0]:
                    done.append(x[a:])
                    x = x[:a]
                if a == 0:
                    break
                x = self.step(k, x, yb[:a] if a < self.models else yb)
            out = torch.cat([x] + done[::-1]) if done else x
            return out.squeeze(-3) if squeeze else out
        xs = [x]
        for k in range(self.layers):
            a = self._active[k]
            if a:
                new = self.step(k, x[:a], yb[:a])
                x = new if a == self.models else torch.cat([new, x[a:]])
            xs.append(x)
        out = torch.stack(xs)
        return out.squeeze(-3) if squeeze else out


class LISTA(Unrolled):
    r"""LISTA (Gregor & LeCun, ICML 2010): :math:`x^{k+1} = \eta_{\theta^k}(W_1^k y + W_2^k x^k)`, all weights untied.

    Initialised at ISTA: :math:`W_1 = D^\top/L`, :math:`W_2 = I - D^\top D/L`,
    :math:`\theta = \lambda/L`, so the untrained network computes ISTA exactly.
    The weights are stored transposed (``W1t[k]`` :math:`= W_1^{k\top}`, ``(a_k, m, n)`` for the
    ``a_k`` networks deeper than ``k``; ``W2t[k]``, ``(a_k, n, n)``) so that each layer is a batched
    product ``y @ W1t[k]``.
    """

    def __init__(self, D: torch.Tensor, layers: int, lam, **kw):
        super().__init__(D, layers, lam, **kw)
        Dd, L = self.D, self.L
        eye = torch.eye(self.n, dtype=Dd.dtype, device=Dd.device)
        self.W1t = self._per_layer_matrix(Dd / L)
        self.W2t = self._per_layer_matrix(eye - Dd.T @ Dd / L)
        self.log_theta = self._per_layer(self.lam / L)

    def step(self, k, x, y):
        a = x.shape[0]
        u = torch.baddbmm(torch.bmm(y, self.W1t[k]), x, self.W2t[k])
        return soft_threshold(u, self.log_theta[k, :a].exp().view(a, 1, 1))


class LISTACP(Unrolled):
    r"""LISTA-CP (Chen, Liu, Wang & Yin, NeurIPS 2018): coupled weights :math:`W_2 = I - W^{k\top} D`.

    .. math::

        x^{k+1} = \eta_{\theta^k}\big(x^k - W^{k\top}(Dx^k - y)\big),

    initialised at ISTA (:math:`W^k = D/L`, :math:`\theta^k = \lambda/L`); ``W[k]`` has shape
    ``(a_k, m, n)``, one matrix per network deeper than ``k``. With ``support_selection=True`` this is LISTA-CPSS: the shrinkage is
    :func:`support_selection` with percentages :func:`ss_schedule`. Ablin et al.'s
    "coupled" LISTA (their Figs. 5 and 6) is LISTA-CP without support selection.
    """

    def __init__(self, D: torch.Tensor, layers: int, lam, *, support_selection: bool = False,
                 p: float = 1.2, maxp: float = 13.0, **kw):
        super().__init__(D, layers, lam, **kw)
        self.W = self._per_layer_matrix(self.D / self.L)
        self.log_theta = self._per_layer(self.lam / self.L)
        self.q = ss_schedule(self.layers, p, maxp) if support_selection else [0.0] * self.layers

    def step(self, k, x, y):
        a = x.shape[0]
        u = x - torch.bmm(x @ self.D.T - y, self.W[k])
        return support_selection(u, self.log_theta[k, :a].exp().view(a, 1, 1), self.q[k])

    def coupling_residual(self) -> torch.Tensor:
        r"""Ablin et al.'s distance of each layer from ISTA with a learned step, shape ``(M, K)``.

        .. math::

            r^k = \frac{\|W^k - (\theta^k/\lambda) D\|_F}{\|(\theta^k/\lambda) D\|_F},

        zero for a layer that is ISTA with step :math:`\alpha^k = \theta^k/\lambda` (SLISTA's form);
        Ablin, Moreau, Massias & Gramfort (2019), Thm. 4.4 and Fig. 5: the deep layers of a
        network converging to the Lasso solution must take this form. NaN beyond a network's depth.
        """
        W = self.layer_matrices("W")  # (K, M, m, n)
        alpha = (self.log_theta.detach().exp() / self.lam).unsqueeze(-1).unsqueeze(-1)  # (K, M, 1, 1)
        target = alpha * self.D
        return ((W - target).flatten(2).norm(dim=-1) / target.flatten(2).norm(dim=-1)).T


class ALISTA(Unrolled):
    r"""ALISTA (Liu, Chen, Wang & Yin, ICLR 2019, eq. 16): analytic :math:`\tilde W`, learned :math:`\gamma^k, \theta^k` only.

    .. math::

        x^{k+1} = \eta_{\theta^k}\big(x^k - \gamma^k \tilde W^\top (D x^k - y)\big),

    with :math:`\tilde W` from :func:`analytic_weights` (or ``W`` if given), and
    support selection (:func:`support_selection`, percentages :func:`ss_schedule`)
    unless ``support_selection=False``. Initialised as the official code:
    :math:`\gamma^k = 1` (``gamma0``), :math:`\theta^k = \lambda/L`. 2K parameters per network.
    """

    def __init__(self, D: torch.Tensor, layers: int, lam, *, W: torch.Tensor | None = None,
                 support_selection: bool = True, p: float = 1.2, maxp: float = 13.0, gamma0: float = 1.0, **kw):
        super().__init__(D, layers, lam, **kw)
        W = analytic_weights(self.D) if W is None else W.to(device=self.D.device, dtype=self.D.dtype)
        if W.shape != self.D.shape:
            raise ValueError(f"W must have the shape of D {tuple(self.D.shape)}, got {tuple(W.shape)}")
        self.register_buffer("W", W.detach().clone())
        self.log_gamma = self._per_layer(check_positive(gamma0, "gamma0"))
        self.log_theta = self._per_layer(self.lam / self.L)
        self.q = ss_schedule(self.layers, p, maxp) if support_selection else [0.0] * self.layers

    @property
    def gammas(self) -> torch.Tensor:
        r"""The step sizes :math:`\gamma^k`, shape ``(M, K)``."""
        return self.log_gamma.exp().T

    def step(self, k, x, y):
        a = x.shape[0]
        u = x - self.log_gamma[k, :a].exp().view(a, 1, 1) * ((x @ self.D.T - y) @ self.W)
        return support_selection(u, self.log_theta[k, :a].exp().view(a, 1, 1), self.q[k])


class SLISTA(Unrolled):
    r"""SLISTA (Ablin, Moreau, Massias & Gramfort, NeurIPS 2019): one learned step :math:`\alpha^k` per layer.

    .. math::

        x^{k+1} = \eta_{\lambda\alpha^k}\big(x^k - \alpha^k D^\top(Dx^k - y)\big),

    i.e. ISTA on the Lasso with weight ``lam`` and a per-layer step; initialised at
    :math:`\alpha^k = 1/L` (ISTA). Their Fig. 4: the learned :math:`\alpha^k` follow
    :math:`1/L_S` of the supports the layers reach.
    """

    def __init__(self, D: torch.Tensor, layers: int, lam, **kw):
        super().__init__(D, layers, lam, **kw)
        self.log_alpha = self._per_layer(1.0 / self.L)

    @property
    def steps(self) -> torch.Tensor:
        r"""The learned step sizes :math:`\alpha^k`, shape ``(M, K)``."""
        return self.log_alpha.exp().T

    @property
    def thresholds(self) -> torch.Tensor:
        return self.lam.unsqueeze(1) * self.steps

    def step(self, k, x, y):
        a = x.shape[0]
        alpha = self.log_alpha[k, :a].exp().view(a, 1, 1)
        return soft_threshold(x - alpha * ((x @ self.D.T - y) @ self.D), alpha * self.lam[:a].view(a, 1, 1))


class Decoded(nn.Module):
    r"""An unrolled encoder followed by a learned linear decoder: :math:`\hat x = W_{\mathrm{dec}}\, z^K`.

    A learned inverse in signal space: ``encoder`` (an :class:`Unrolled` network on
    the effective dictionary, e.g. :math:`AD`) maps measurements to codes and the
    decoder (``(M, p, n)``, initialised at ``decoder`` ``(p, n)``) maps codes to signals.
    Trained end to end by :func:`train` on pairs :math:`(y, x)`.
    """

    def __init__(self, encoder: Unrolled, decoder: torch.Tensor):
        super().__init__()
        if not isinstance(encoder, Unrolled):
            raise TypeError(f"encoder must be an ilib.unrolled.Unrolled network, got {type(encoder).__name__}")
        check_tensor(decoder, "decoder", dim=2, dtype="floating")
        if decoder.shape[1] != encoder.n:
            raise ValueError(f"decoder must have {encoder.n} columns (the code length), got shape {tuple(decoder.shape)}")
        self.encoder = encoder
        self.dec = nn.Parameter(decoder.detach().to(encoder.D).T.unsqueeze(0).repeat(encoder.models, 1, 1).contiguous())

    D = property(lambda self: self.encoder.D)
    m = property(lambda self: self.encoder.m)
    models = property(lambda self: self.encoder.models)
    depths = property(lambda self: self.encoder.depths)
    out_dim = property(lambda self: self.dec.shape[-1])

    def forward(self, y: torch.Tensor, *, return_all: bool = False) -> torch.Tensor:
        z = self.encoder(y, return_all=return_all)
        squeeze = z.dim() == (3 if return_all else 2)
        zb = z.unsqueeze(-3) if squeeze else z  # (..., M, B, n)
        out = zb @ self.dec
        return out.squeeze(-3) if squeeze else out


# --------------------------------------------------------------------------- training
@dataclass
class TrainResult:
    """Loss per training step (summed over the stacked networks, and per network), wall time, settings."""

    loss: torch.Tensor
    seconds: float
    per_model: torch.Tensor | None = None
    settings: dict = field(default_factory=dict)


def _per_model_loss(model, y, x_true, f_star, objective: str) -> torch.Tensor:
    """The loss of each stacked network on a mini-batch, shape ``(M,)``; ``y`` ``(M, B, m)``."""
    if x_true is not None:
        norm = (x_true**2).sum(dim=(-2, -1))
        if objective == "last":
            return ((model(y) - x_true) ** 2).sum(dim=(-2, -1)) / norm
        xs = model(y, return_all=True)[1:]  # (K, M, B, n)
        err = ((xs - x_true) ** 2).sum(dim=(-2, -1)) / norm
        return 10 * torch.log10(err).mean(dim=0)
    lam = model.lam.view(-1, 1)
    if objective == "last":
        x = model(y)
        return (0.5 * ((y - x @ model.D.T) ** 2).sum(-1) + lam * x.abs().sum(-1)).mean(dim=1)
    xs = model(y, return_all=True)[1:]
    F = 0.5 * ((y - xs @ model.D.T) ** 2).sum(-1) + lam * xs.abs().sum(-1)  # (K, M, B)
    gaps = F.mean(dim=-1) - f_star.mean(dim=-1)
    return torch.log10(gaps.clamp_min(torch.finfo(gaps.dtype).tiny)).mean(dim=0)


def _stack(t: torch.Tensor | None, models: int, name: str, width: int | None = None) -> torch.Tensor | None:
    if t is None:
        return None
    if t.dim() == (1 if width is None else 2):
        return t.unsqueeze(0).expand(models, *t.shape)
    if t.shape[0] != models or (width is not None and t.shape[-1] != width):
        raise ValueError(f"{name} must have shape (N, ...) or ({models}, N, ...), got {tuple(t.shape)}")
    return t


def train(
    model: nn.Module,
    y: torch.Tensor,
    x: torch.Tensor | None = None,
    *,
    steps: int,
    lr: float,
    batch: int = 64,
    seed: SeedLike = 0,
    f_star: torch.Tensor | None = None,
    scalar_lr: float | None = None,
    objective: str = "layers",
    milestones: tuple[float, float] = (0.6, 0.85),
    decays: tuple[float, float] = (0.2, 0.02),
    optimizer: str = "adam",
) -> TrainResult:
    r"""Train ``M`` stacked unrolled networks at once by Adam on shared mini-batches.

    ``y`` is ``(N, m)`` (every network sees the same signals) or ``(M, N, m)`` (one
    training set per network, e.g. one per SNR); ``x`` likewise. The loss is the sum
    over networks of each network's loss, so each network receives exactly the
    gradient of its own loss, and Adam, acting elementwise, trains each as if alone.

    Supervised (``x`` given, the ALISTA benchmark): with ``objective="layers"`` a
    network's loss is the mean over layers :math:`k = 1..K` of the NMSE in dB of
    :math:`x^k` (deep supervision, in one pass), with ``"last"`` the NMSE of its output.

    Unsupervised (``x=None``, Ablin et al.): the Lasso cost with the networks' own
    weights ``model.lam``; ``"last"`` is the mean :math:`F(x^{d_i})` of a network's
    output (the official code's loss, one network per depth), ``"layers"`` with
    ``f_star`` (:math:`F^\star` per sample, ``(N,)`` or ``(M, N)``) the mean over layers of
    :math:`\log_{10}(\overline{F(x^k)} - \overline{F^\star})`.

    Per-layer scalars (stored as logarithms, tensors of at most two axes) learn with
    ``scalar_lr`` (default ``lr``), weight matrices with ``lr``. The rates are multiplied by
    ``decays`` at the fractions ``milestones`` of the run (the official ALISTA schedule
    decays by 0.2 and 0.02). Mini-batches are drawn from ``seed`` without global state.

    ``optimizer="gd"`` is instead Ablin et al.'s full-batch gradient descent with
    backtracking (their ``adopty`` code): each network has its own step, which starts
    at 1, is multiplied by 4 after every accepted update (at most 1e12) and halved, the
    update being pulled back, whenever the loss increased; ``steps`` counts accepted
    updates, ``batch``, ``lr`` and the schedule are unused, and all of ``y`` is the batch.
    """
    steps = check_positive_int(steps, "steps")
    batch = check_positive_int(batch, "batch")
    check_positive(lr, "lr")
    check_choice(objective, "objective", ("layers", "last"))
    check_choice(optimizer, "optimizer", ("adam", "gd"))
    if not isinstance(model, (Unrolled, Decoded)):
        raise TypeError(f"model must be an ilib.unrolled network, got {type(model).__name__}")
    M = model.models
    yb = _stack(y, M, "y", model.m)
    if yb.shape[-1] != model.m:
        raise ValueError(f"y must have {model.m} entries per signal, got shape {tuple(y.shape)}")
    xb = _stack(x, M, "x", model.out_dim)
    if xb is not None and xb.shape[:2] != yb.shape[:2]:
        raise ValueError(f"x must hold one target per signal of y {tuple(yb.shape[:2])}, got shape {tuple(x.shape)}")
    if xb is None and isinstance(model, Decoded):
        raise ValueError("x (the target signals) is required to train a Decoded network")
    if objective == "layers" and len(set(model.depths)) > 1:
        raise ValueError("objective='layers' needs networks of one depth; use objective='last' for several depths")
    fb = _stack(f_star, M, "f_star")
    if fb is not None and fb.shape[:2] != yb.shape[:2]:
        raise ValueError(f"f_star must have shape ({yb.shape[1]},) or ({M}, {yb.shape[1]}), got {tuple(f_star.shape)}")
    if xb is None and objective == "layers" and fb is None:
        raise ValueError("f_star is required for unsupervised training with objective='layers'")
    scalar_lr = lr if scalar_lr is None else check_positive(scalar_lr, "scalar_lr")
    if optimizer == "gd":
        return _train_gd(model, yb, xb, fb, steps, objective)
    g = make_generator(seed)
    scalars = [q for q in model.parameters() if q.dim() <= 2]
    matrices = [q for q in model.parameters() if q.dim() > 2]
    groups = [dict(params=scalars, lr=scalar_lr, base=scalar_lr)]
    if matrices:
        groups.append(dict(params=matrices, lr=lr, base=lr))
    opt = torch.optim.Adam(groups)
    N = yb.shape[1]
    losses, per_model = torch.empty(steps), torch.empty(steps, M)
    t0 = time.perf_counter()
    cut = [int(f * steps) for f in milestones]
    for t in range(steps):
        if t in cut:
            for group in opt.param_groups:
                group["lr"] = group["base"] * decays[cut.index(t)]
        idx = torch.randint(0, N, (min(batch, N),), generator=g).to(yb.device)
        each = _per_model_loss(model, yb[:, idx], None if xb is None else xb[:, idx],
                               None if fb is None else fb[:, idx], objective)
        loss = each.sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses[t], per_model[t] = loss.detach().cpu(), each.detach().cpu()
    return TrainResult(loss=losses, seconds=time.perf_counter() - t0, per_model=per_model,
                       settings=dict(steps=steps, lr=lr, scalar_lr=scalar_lr, batch=batch, objective=objective))


def _model_axis(p: torch.Tensor) -> int:
    """The model axis of a stacked parameter: per-layer scalars are ``(K, M)``, weight matrices ``(M, a, b)``."""
    return 1 if p.dim() == 2 else 0


def _train_gd(model, yb, xb, fb, steps: int, objective: str, max_backtracks: int = 60) -> TrainResult:
    """Full-batch gradient descent with Ablin et al.'s backtracking, one step size per stacked network."""
    params = list(model.parameters())
    M = model.models
    lr = torch.ones(M, dtype=torch.float64)
    prev = torch.full((M,), math.inf, dtype=torch.float64)
    accepted = torch.zeros(M, dtype=torch.long)
    saved = [torch.zeros_like(p) for p in params]
    losses, per_model = [], []
    t0 = time.perf_counter()

    def shaped(v: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
        shape = [1] * p.dim()
        shape[_model_axis(p)] = M
        return v.to(p).view(shape)

    for _ in range(steps * (max_backtracks + 1)):
        active = (accepted < steps) & (lr > 1e-20)
        if not bool(active.any()):
            break
        for p in params:
            p.grad = None
        each = _per_model_loss(model, yb, xb, fb, objective)
        cur = each.detach().double().cpu()
        worse = active & (cur > prev)
        ok = active & ~worse
        with torch.no_grad():  # pull the networks whose loss rose half-way back
            lr = torch.where(worse, lr / 2, lr)
            for p, g_ in zip(params, saved):
                p.add_(g_ * shaped(lr * worse, p))
        if bool(ok.any()):
            each.sum().backward()
            lr = torch.where(ok, torch.clamp(4 * lr, max=1e12), lr)
            with torch.no_grad():
                for p, g_ in zip(params, saved):
                    grad = p.grad if p.grad is not None else torch.zeros_like(p)
                    g_.copy_(torch.where(shaped(ok, p).bool(), grad, g_))
                    p.sub_(grad * shaped(lr * ok, p))
            prev = torch.where(ok, cur, prev)
            accepted += ok.long()
            losses.append(float(cur[ok].sum()))
            per_model.append(torch.where(ok, cur, torch.full_like(cur, math.nan)))
    per = torch.stack(per_model).float() if per_model else torch.empty(0, M)
    return TrainResult(loss=torch.tensor(losses), seconds=time.perf_counter() - t0, per_model=per,
                       settings=dict(steps=steps, optimizer="gd", objective=objective, accepted=accepted.tolist()))


# --------------------------------------------------------------------------- Moreau & Bruna's factorisation
def factorised_step(D: torch.Tensor, y: torch.Tensor, z: torch.Tensor, lam, A: torch.Tensor, S: torch.Tensor) -> torch.Tensor:
    r"""One step of Moreau & Bruna's factorised iteration (ICLR 2017, Sec. 2).

    With :math:`B = D^\top D`, an orthogonal :math:`A` and a positive diagonal :math:`S` (``S``
    holds its diagonal),

    .. math::

        z^{k+1} = \arg\min_z\ \langle \nabla E(z^k), z - z^k\rangle + \tfrac12\|A(z - z^k)\|_S^2 + \lambda\|Az\|_1
                = A^\top \eta_{\lambda/S}\big(A z^k - S^{-1} A \nabla E(z^k)\big),

    :math:`E(z) = \tfrac12\|y - Dz\|^2`. :math:`A = I`, :math:`S = L\,\mathbf 1` is ISTA.
    """
    grad = (z @ D.T - y) @ D
    u = z @ A.T - (grad @ A.T) / S
    return soft_threshold(u, lam / S) @ A


def factorisation_quantities(D: torch.Tensor, A: torch.Tensor, S: torch.Tensor) -> dict:
    r""":math:`R = A^\top S A - D^\top D` of Moreau & Bruna (2017): its smallest and largest eigenvalues.

    The factorised step majorises :math:`F` (up to :math:`\delta_A`) only when :math:`R \succeq 0`.
    """
    R = A.T @ torch.diag(S) @ A - D.T @ D
    ev = torch.linalg.eigvalsh((R + R.T) / 2)
    return {"R_min": float(ev[0]), "R_norm": float(ev.abs().max())}


def l1_distortion(A: torch.Tensor, z: torch.Tensor, lam) -> torch.Tensor:
    r"""Moreau & Bruna's :math:`\delta_A(z) = \lambda(\|Az\|_1 - \|z\|_1)` per row of ``z``."""
    return lam * ((z @ A.T).abs().sum(-1) - z.abs().sum(-1))
