r"""Intermediate layer optimisation (ILO; Daras, Dean, Jalal & Dimakis, ICML 2021, arXiv 2102.07364).

Write the generator as :math:`G = G_{\mathrm{tail}} \circ G_{\mathrm{head}}`, split after
layer :math:`\ell`. CSGM gives :math:`\hat z`; ILO then optimises the intermediate
representation :math:`h = G_{\mathrm{head}}(\hat z) + \delta` directly, keeping the
deviation in a small :math:`\ell_1` ball,

.. math::

    \hat h = \arg\min_{h} \|y - A\, G_{\mathrm{tail}}(h)\|_2^2
    \quad\text{s.t.}\quad \|h - G_{\mathrm{head}}(\hat z)\|_1 \le r,
    \qquad \hat x = G_{\mathrm{tail}}(\hat h).

The set :math:`G_{\mathrm{tail}}(G_{\mathrm{head}}(\mathbb{R}^k) + B_1(r))` contains the range of
:math:`G` and grows with :math:`r`: a larger radius lowers the representation error but,
with few measurements, lets the solution fit the noise and leave the image manifold.
Projected Adam, as in the official code (giannisdaras/ilo), with the sort-based
:math:`\ell_1` projection of Duchi, Shalev-Shwartz, Singer & Chandra (2008).

The generator must provide ``head(z, layer)`` and ``tail(h, layer)`` (for instance
:class:`ilib.vae.MLPGenerator`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence, Union

import torch

from ._checks import check_elements, check_positive_int
from .operators import LinearOperator
from .optim import minimize

RadiusLike = Union[float, Sequence[float], torch.Tensor]


def project_l1_ball(v: torch.Tensor, radius) -> torch.Tensor:
    r"""Euclidean projection of every row of ``v`` onto :math:`\{x : \|x\|_1 \le r\}`.

    .. math::

        \Pi(v) = \mathrm{sign}(v)\max(|v| - \theta, 0),\qquad
        \theta = \frac{\sum_{j \le \rho} \mu_j - r}{\rho},\quad
        \rho = \max\{j : \mu_j\, j > \textstyle\sum_{i \le j} \mu_i - r\},

    with :math:`\mu` the entries of :math:`|v|` sorted in decreasing order, and
    :math:`\Pi(v) = v` when :math:`\|v\|_1 \le r` (Duchi et al. 2008, Fig. 1).

    Parameters
    ----------
    v : torch.Tensor
        Shape ``(..., d)``.
    radius : float or torch.Tensor
        Non-negative; a scalar or a tensor broadcastable to ``v.shape[:-1]``; ``inf`` leaves ``v`` unchanged.
    """
    r = torch.as_tensor(check_elements(radius, "radius", 0, allow_inf=True), dtype=v.dtype, device=v.device)
    r = r.expand(v.shape[:-1]).unsqueeze(-1)
    u = v.abs()
    mu = u.sort(dim=-1, descending=True).values
    cs = mu.cumsum(dim=-1)
    j = torch.arange(1, v.shape[-1] + 1, dtype=v.dtype, device=v.device)
    r_fin = torch.where(torch.isfinite(r), r, torch.zeros_like(r))
    cond = mu * j > cs - r_fin
    rho = (cond.to(v.dtype) * j).amax(dim=-1, keepdim=True).clamp_min(1)
    cs_rho = torch.gather(cs, -1, rho.long() - 1)
    theta = ((cs_rho - r_fin) / rho).clamp_min(0)
    w = torch.sign(v) * torch.clamp(u - theta, min=0)
    inside = u.sum(-1, keepdim=True) <= r
    return torch.where(inside, v, w)


@dataclass
class ILOResult:
    """Result of :func:`ilo`; ``R`` is the number of radii.

    Attributes
    ----------
    h : optimised intermediate representations, ``(B, R, width)``.
    h0 : the starting point :math:`G_{\\mathrm{head}}(\\hat z)`, ``(B, width)``.
    x : reconstructions :math:`G_{\\mathrm{tail}}(h)`, ``(B, R, n)``.
    loss : :math:`\\|y - A x\\|^2`, ``(B, R)``.
    radii : ``(R,)``.
    """

    h: torch.Tensor
    h0: torch.Tensor
    x: torch.Tensor
    loss: torch.Tensor
    radii: torch.Tensor


def _radii(radius: RadiusLike, like: torch.Tensor) -> torch.Tensor:
    r = torch.as_tensor(check_elements(radius, "radius", 0, allow_inf=True), dtype=like.dtype, device=like.device).reshape(-1)
    if r.numel() == 0:
        raise ValueError("radius must hold at least one value")
    return r  # inf: no constraint


def ilo(
    y: torch.Tensor,
    operator: LinearOperator,
    generator,
    z: torch.Tensor,
    *,
    radius: RadiusLike,
    layer: int = 1,
    steps: int = 300,
    lr: float = 0.01,
    method: str = "adam",
    projection: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = project_l1_ball,
) -> ILOResult:
    r"""One ILO stage from the CSGM latents ``z``, for every radius at once.

    Parameters
    ----------
    y : torch.Tensor
        Measurements ``(B, m)``.
    operator : LinearOperator
        ``B`` operators (or one shared), acting on ``(B, R, n)``.
    generator :
        Provides ``head(z, layer)`` and ``tail(h, layer)``.
    z : torch.Tensor
        The CSGM latents ``(B, k)`` whose intermediate representation is the ball's centre.
    radius : float or sequence
        :math:`\ell_1` radii :math:`r`; every radius is its own problem (batched). ``inf``: unconstrained.
    layer : int
        Split point :math:`\ell` (1 = the first hidden layer).
    steps, lr, method :
        Projected Adam or gradient descent, :func:`ilib.optim.minimize`.
    projection : callable
        ``projection(v, radius)`` onto the :math:`\ell_1` ball, rows of ``v`` with radii broadcast
        over ``v.shape[:-1]``; default :func:`project_l1_ball`.
    """
    if y.dim() != 2:
        raise ValueError(f"y must have shape (B, m), got {tuple(y.shape)}")
    if y.shape[-1] != operator.out_dim:
        raise ValueError(f"y has {y.shape[-1]} measurements but the operator gives {operator.out_dim}")
    if z.dim() != 2 or z.shape[0] != y.shape[0]:
        raise ValueError(f"z must have shape ({y.shape[0]}, k), got {tuple(z.shape)}")
    check_positive_int(layer, "layer")
    r = _radii(radius, y)
    with torch.no_grad():
        h0 = generator.head(z, int(layer))
    R = r.numel()
    start = h0.unsqueeze(1).expand(-1, R, -1).contiguous()
    yy = y.unsqueeze(1)

    def fun(h: torch.Tensor) -> torch.Tensor:
        res = operator(generator.tail(h, int(layer))) - yy
        return (res * res).sum(-1)

    rr = r.reshape(1, R)

    def project(h: torch.Tensor) -> torch.Tensor:
        return start + projection(h - start, rr)

    finite = bool(torch.isfinite(r).any())
    res = minimize(fun, start, steps=steps, lr=lr, method=method, project=project if finite else None)
    with torch.no_grad():
        x = generator.tail(res.x, int(layer))
    return ILOResult(h=res.x, h0=h0, x=x, loss=res.loss, radii=r)


def l1_distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    r""":math:`\|a - b\|_1` along the last dimension."""
    return (a - b).abs().sum(-1)


__all__ = ["ILOResult", "ilo", "l1_distance", "project_l1_ball"]
