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
    best = res.loss.argmin(dim=1)
    idx = torch.arange(B, device=y.device)
    z = res.x[idx, best]
    with torch.no_grad():
        x = generator(z.unsqueeze(1)).squeeze(1)
    return CSGMResult(z=z, x=x, loss=res.loss[idx, best], restart_loss=res.loss, restart_z=res.x, flips=res.flips)


def relative_error(x_hat: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    r""":math:`\|\hat x - x\| / \|x\|` along the last dimension."""
    return (x_hat - x).norm(dim=-1) / x.norm(dim=-1).clamp_min(torch.finfo(x.dtype).tiny)
