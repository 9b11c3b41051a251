r"""CSGM: compressed sensing with a generative model (Bora, Jalal, Price & Dimakis 2017).

.. math::

    \hat z = \arg\min_z \|y - A G(z)\|_2^2 + \lambda \|z\|_2^2, \qquad \hat x = G(\hat z),

solved with Adam or gradient descent from several random starts, batched over
trials and restarts, keeping the restart of lowest loss for every trial.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch

from ._checks import check_nonneg, check_positive_int
from .device import SeedLike, make_generator, randn
from .linalg import lstsq
from .operators import LinearOperator
from .optim import minimize, project_ball


@dataclass
class CSGMResult:
    """Result of :func:`csgm`.

    Attributes
    ----------
    z : best latent per trial, ``(B, k)``.
    x : ``G(z)``, ``(B, n)``.
    loss : its objective value, ``(B,)``.
    restart_loss : objective at the end of every restart, ``(B, R)``.
    restart_z : every restart's final latent, ``(B, R, k)``.
    flips : negation-check flips per restart, ``(B, R)``.
    """

    z: torch.Tensor
    x: torch.Tensor
    loss: torch.Tensor
    restart_loss: torch.Tensor
    restart_z: torch.Tensor
    flips: torch.Tensor


def csgm_objective(y: torch.Tensor, operator: LinearOperator, generator, latent_penalty: float = 0.0):
    r"""The per-restart objective :math:`z \mapsto \|y - A G(z)\|^2 + \lambda\|z\|^2` for latents ``(B, R, k)``."""
    check_nonneg(latent_penalty, "latent_penalty")
    yy = y.unsqueeze(1)

    def fun(z: torch.Tensor) -> torch.Tensor:
        r = operator(generator(z)) - yy
        loss = (r * r).sum(-1)
        if latent_penalty:
            loss = loss + latent_penalty * (z * z).sum(-1)
        return loss

    return fun


def csgm(
    y: torch.Tensor,
    operator: LinearOperator,
    generator,
    *,
    restarts: int = 5,
    steps: int = 600,
    lr: float = 0.05,
    method: str = "adam",
    latent_penalty: float = 0.0,
    negate_every: int = 0,
    radius: Optional[float] = None,
    init_std: float = 1.0,
    z0: Optional[torch.Tensor] = None,
    polish: int = 0,
    seed: SeedLike = 0,
) -> CSGMResult:
    r"""Solve ``B`` CSGM problems with ``restarts`` random starts each, in one batch.

    Parameters
    ----------
    y : torch.Tensor
        Measurements, shape ``(B, m)``.
    operator : LinearOperator
        ``B`` measurement operators (or one shared, ``B = 1``).
    generator : ReLUGenerator or LinearGenerator
        ``B`` generators (or one shared).
    restarts : int
        Random starts per trial; starts are :math:`z_0 \sim \mathcal{N}(0, \mathrm{init\_std}^2 I)`.
    steps, lr, method :
        Passed to :func:`ilib.optim.minimize`.
    latent_penalty : float
        :math:`\lambda` in the objective (Bora et al.'s "+Reg").
    negate_every : int
        Negation check period (Huang et al. 2021); 0 disables it.
    radius : float, optional
        Constrain :math:`\|z\| \le r` (the Lipschitz form of the theorem).
    z0 : torch.Tensor, optional
        Explicit starts, shape ``(B, R, k)``; overrides ``restarts`` and ``seed``.
    polish : int
        After the first-order solve, up to this many local least-squares steps
        on every restart (:func:`polish_local`): exact on a piecewise-linear
        generator once the activation region is right. 0 disables it.
    seed : int or torch.Generator
        Seeds the random starts.
    """
    if y.dim() != 2:
        raise ValueError(f"y must have shape (B, m), got {tuple(y.shape)}")
    if y.shape[-1] != operator.out_dim:
        raise ValueError(f"y has {y.shape[-1]} measurements but the operator gives {operator.out_dim}")
    if operator.in_dim != generator.output_dim:
        raise ValueError(
            f"operator acts on R^{operator.in_dim} but the generator outputs R^{generator.output_dim}"
        )
    check_positive_int(restarts, "restarts")
    B, k = y.shape[0], generator.latent_dim
    if z0 is None:
        g = make_generator(seed)
        z0 = init_std * randn(B, int(restarts), k, generator=g, dtype=y.dtype, device=y.device)
    elif z0.dim() != 3 or z0.shape[0] != B or z0.shape[2] != k:
        raise ValueError(f"z0 must have shape ({B}, R, {k}), got {tuple(z0.shape)}")
    fun = csgm_objective(y, operator, generator, latent_penalty)
    res = minimize(
        fun,
        z0,
        steps=steps,
        lr=lr,
        method=method,
        negate_every=negate_every,
        project=None if radius is None else project_ball(radius),
    )
    zr, loss = res.x, res.loss
    if polish:
        if radius is not None:
            raise ValueError("polish is not available with a radius constraint (the local solve is unconstrained)")
        zr, loss = polish_local(y, operator, generator, zr, steps=polish, latent_penalty=latent_penalty)
    best = loss.argmin(dim=1)
    idx = torch.arange(B, device=y.device)
    z = zr[idx, best]
    with torch.no_grad():
        x = generator(z.unsqueeze(1)).squeeze(1)
    return CSGMResult(z=z, x=x, loss=loss[idx, best], restart_loss=loss, restart_z=zr, flips=res.flips)


def polish_local(y: torch.Tensor, operator: LinearOperator, generator, z: torch.Tensor, *, steps: int = 3,
                 latent_penalty: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Local least-squares steps on the activation region: exact CSGM on a piecewise-linear generator.

    A bias-free ReLU network is linear on each activation region,
    :math:`G(z) = \Lambda_z z` (Hand & Voroninski 2018), so on the region of the
    current iterate the CSGM objective is a least-squares problem with the
    closed-form solution

    .. math::

        z^+ = \arg\min_w \|y - A\Lambda_z w\|^2 + \lambda\|w\|^2 .

    Each step solves it (in float64) for every row of ``z`` (shape ``(B, R, k)``)
    and keeps :math:`z^+` only where the true objective decreases, so the loss
    never increases. Once the region is right, one step lands on the exact
    minimiser; this removes the first-order optimiser's floor. Returns the new
    latents and their losses ``(B, R)``.
    """
    if int(steps) != steps or steps < 0:
        raise ValueError(f"steps must be a non-negative integer, got steps={steps}")
    fun = csgm_objective(y, operator, generator, latent_penalty)
    z = z.detach().clone()
    with torch.no_grad():
        loss = fun(z)
        B, R, k = z.shape
        yy = y.to(torch.float64).unsqueeze(1).expand(B, R, -1)
        for _ in range(int(steps)):
            L = generator.local_linear_map(z)  # (B, R, n, k)
            M = operator(L.transpose(-1, -2)).transpose(-1, -2).to(torch.float64)  # (B, R, m, k)
            w = _ridge_lstsq(M, yy, latent_penalty, torch.zeros(B, R, k, dtype=torch.float64, device=z.device))
            z, loss = _keep_better(fun, z, loss, w.to(z.dtype))
    return z, loss


def _ridge_lstsq(M: torch.Tensor, rhs: torch.Tensor, latent_penalty: float, offset: torch.Tensor) -> torch.Tensor:
    r""":math:`\arg\min_w \|M w - r\|^2 + \lambda\|w - o\|^2` for batches of ``M`` (..., m, k), ``r`` (..., m), ``o`` (..., k)."""
    if latent_penalty:
        k = M.shape[-1]
        eye = (latent_penalty**0.5) * torch.eye(k, dtype=M.dtype, device=M.device).expand(*M.shape[:-2], k, k)
        M = torch.cat([M, eye], dim=-2)
        rhs = torch.cat([rhs, (latent_penalty**0.5) * offset], dim=-1)
    return lstsq(M, rhs.unsqueeze(-1)).squeeze(-1)


def _keep_better(fun, z: torch.Tensor, loss: torch.Tensor, cand: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``cand`` where it lowers ``fun``, else ``z``; with the losses of the kept rows."""
    new = fun(cand)
    better = new < loss
    return torch.where(better.unsqueeze(-1), cand, z), torch.where(better, new, loss)


def gauss_newton_polish(y: torch.Tensor, operator: LinearOperator, generator, z: torch.Tensor, *, steps: int = 5,
                        latent_penalty: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Gauss--Newton steps on the CSGM objective of a smooth generator: the first-order optimiser's floor removed.

    With :math:`J = \partial G/\partial z` at the current iterate (``generator.jacobian(z)``,
    shape ``(..., n, k)``), each step solves the linearised problem in float64,

    .. math::

        \delta = \arg\min_\delta \|y - AG(z) - AJ\delta\|^2 + \lambda\|z + \delta\|^2, \qquad z^+ = z + \delta,

    for every row of ``z`` (shape ``(B, R, k)``), and keeps :math:`z^+` only where the true
    objective decreases, so the loss never increases. Near a minimiser with a small residual
    the steps converge quadratically, which Adam with a constant step size does not (it
    hovers at a distance set by its step). For a bias-free ReLU network :math:`J = \Lambda_z`
    and one step is :func:`polish_local`'s. Returns the new latents and their losses ``(B, R)``.
    """
    if int(steps) != steps or steps < 0:
        raise ValueError(f"steps must be a non-negative integer, got steps={steps}")
    if not hasattr(generator, "jacobian"):
        raise TypeError(f"generator must provide jacobian(z); {type(generator).__name__} does not")
    fun = csgm_objective(y, operator, generator, latent_penalty)
    z = z.detach().clone()
    with torch.no_grad():
        loss = fun(z)
        B, R, k = z.shape
        yy = y.unsqueeze(1)
        for _ in range(int(steps)):
            J = generator.jacobian(z)  # (B, R, n, k)
            M = operator(J.transpose(-1, -2)).transpose(-1, -2).to(torch.float64)  # (B, R, m, k)
            rhs = (yy - operator(generator(z))).to(torch.float64)
            delta = _ridge_lstsq(M, rhs, latent_penalty, -z.to(torch.float64))
            z, loss = _keep_better(fun, z, loss, (z.to(torch.float64) + delta).to(z.dtype))
    return z, loss


def relative_error(x_hat: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    r""":math:`\|\hat x - x\| / \|x\|` along the last dimension."""
    return (x_hat - x).norm(dim=-1) / x.norm(dim=-1).clamp_min(torch.finfo(x.dtype).tiny)
