r"""Phase retrieval under a generative prior (Hand, Leong & Voroninski, NeurIPS 2018): the amplitude-loss landscape.

From magnitudes :math:`y = |A G(x_0)|` of Gaussian measurements (rows :math:`\mathcal N(0, I_n/m)`) of the
output of a random bias-free ReLU network :math:`G` (weights :math:`\mathcal N(0, 1/n_i)`), Hand, Leong &
Voroninski minimise the amplitude loss

.. math::

    f(x) = \tfrac12 \big\| |A G(x)| - |A G(x_0)| \big\|_2^2

and show a descent direction outside small neighbourhoods of :math:`x_0` and of a negative multiple of it,
once :math:`m = O(k d^2 \log n)` and the layers are expansive; their Algorithm 1 (DPR) is gradient descent
with a negation step.

The expected landscape is closed form (ilib theory notes, part 2, §5.2, our derivation). For
:math:`g_1, g_2` standard normal with correlation :math:`c`, :math:`\mathbb E|g_1 g_2| = \tfrac2\pi(\sqrt{1-c^2}
+ c \arcsin c)`, so with :math:`u = G(x)`, :math:`v = G(x_0)`, :math:`c = \cos\angle(u, v)`:

.. math::

    \mathbb E_A f(x) = \tfrac12\|u\|^2 + \tfrac12\|v\|^2 - \tfrac2\pi\|u\|\|v\|\big(\sqrt{1-c^2} + c\arcsin c\big).

At infinite width :math:`\|G(x)\| = \|x\| 2^{-d/2}` and :math:`\angle(G(x), G(x_0)) = \bar\theta_d` (the
Hand–Voroninski angle map iterated, :mod:`ilib.angles`), which gives :math:`2^d\,\mathbb E f = \tfrac12 r^2 +
\tfrac12 r_0^2 - \tfrac2\pi r r_0 S(\bar\theta_d)` with :math:`S(\theta) = \sin\theta + (\pi/2 - \theta)\cos\theta`,
and on the negative ray the bad critical point :math:`-\rho_d^{PR} x_0`, :math:`\rho_d^{PR} = \tfrac2\pi
S(\check\theta_d)`, :math:`\check\theta_d = g^{\circ d}(\pi)`.
"""

from __future__ import annotations

import math
import torch

from ._checks import check_nonneg_int, check_positive, check_positive_int
from . import landscape
from .angles import angle_map
from .generators import ReLUGenerator
from .operators import LinearOperator
from .optim import OptimResult, minimize

__all__ = [
    "pr_kernel",
    "pr_angle_function",
    "rho_pr",
    "amplitude_loss",
    "amplitude_gradient",
    "expected_amplitude_loss",
    "expected_landscape",
    "ray_critical_point_pr",
    "expected_ray_critical_point",
    "flip_fires",
    "dpr",
]


# ----------------------------------------------------------------------------- theory
def pr_kernel(c: torch.Tensor) -> torch.Tensor:
    r""":math:`\kappa(c) = \sqrt{1 - c^2} + c \arcsin c`, so that :math:`\mathbb E|g_1 g_2| = \tfrac2\pi\kappa(c)` for
    standard normals with correlation :math:`c \in [-1, 1]` (elementwise; clamped into the domain)."""
    c = torch.as_tensor(c, dtype=torch.float64) if not isinstance(c, torch.Tensor) else c
    c = c.clamp(-1.0, 1.0)
    return torch.sqrt((1 - c * c).clamp_min(0.0)) + c * torch.arcsin(c)


def pr_angle_function(theta: torch.Tensor) -> torch.Tensor:
    r""":math:`S(\theta) = \sin\theta + (\pi/2 - \theta)\cos\theta = \kappa(\cos\theta)` for :math:`\theta \in [0, \pi/2]`
    (decreasing from :math:`\pi/2` to 1)."""
    t = torch.as_tensor(theta, dtype=torch.float64) if not isinstance(theta, torch.Tensor) else theta
    return torch.sin(t) + (math.pi / 2 - t) * torch.cos(t)


def rho_pr(d: int) -> float:
    r"""The constant of the bad critical point :math:`-\rho_d^{PR} x_0` of the expected amplitude loss.

    .. math::

        \rho_d^{PR} = \frac{2}{\pi} S(\check\theta_d), \qquad \check\theta_0 = \pi,\ \check\theta_i = g(\check\theta_{i-1}),

    the minimiser of :math:`t \mapsto 2^d\,\mathbb E f(-t x_0) = \tfrac12 t^2 r_0^2 + \tfrac12 r_0^2 - \tfrac2\pi t r_0^2
    S(\check\theta_d)` (ilib theory notes, part 2, §5.2, our derivation). ``d = 1``: :math:`\check\theta_1 = \pi/2`,
    :math:`S = 1`, so :math:`\rho_1^{PR} = 2/\pi`: unlike compressed sensing (:math:`\rho_1 = 0`) the bad point is
    there from the first layer. :math:`\rho_d^{PR} \uparrow 1`.
    """
    d = check_positive_int(d, "d")
    th = torch.tensor(math.pi, dtype=torch.float64)
    for _ in range(d):
        th = angle_map(th)
    return float(2 / math.pi * pr_angle_function(th))


# ----------------------------------------------------------------------------- the empirical loss
def _measure(generator: ReLUGenerator, operator: LinearOperator, x: torch.Tensor) -> torch.Tensor:
    return operator(generator(x))


def _target(generator, operator, x: torch.Tensor, x0: torch.Tensor) -> torch.Tensor:
    """|A G(x0)| broadcast against the latent batch ``x`` of shape (B, ..., k) (the landscape's target, in modulus)."""
    return landscape._target(generator, operator, x, x0).abs()


def amplitude_loss(generator: ReLUGenerator, x: torch.Tensor, x0: torch.Tensor, operator: LinearOperator) -> torch.Tensor:
    r"""The amplitude loss per latent (Hand, Leong & Voroninski 2018, Eq. (2)).

    .. math::

        f(x) = \tfrac12 \sum_{j=1}^m \big(|a_j^\top G(x)| - |a_j^\top G(x_0)|\big)^2.

    Parameters
    ----------
    generator : ReLUGenerator
        ``B`` networks (or one shared).
    x : torch.Tensor
        Latents ``(B, ..., k)``.
    x0 : torch.Tensor
        Ground truths ``(B, k)`` (or ``(B, ..., k)`` matching ``x``).
    operator : LinearOperator
        ``B`` measurement operators.

    Returns
    -------
    torch.Tensor
        Shape ``x.shape[:-1]``.
    """
    return _half_sq(_measure(generator, operator, x).abs() - _target(generator, operator, x, x0))


def _half_sq(r: torch.Tensor) -> torch.Tensor:
    return 0.5 * (r * r).sum(-1)


def amplitude_gradient(generator: ReLUGenerator, x: torch.Tensor, x0: torch.Tensor,
                       operator: LinearOperator) -> torch.Tensor:
    r"""The gradient of the amplitude loss through the local linear map, in closed form.

    .. math::

        \nabla f(x) = \Lambda_x^\top A^\top \big(A G(x) - \mathrm{sign}(A G(x)) \odot |A G(x_0)|\big),

    since :math:`|z|\,\mathrm{sign}(z) = z` (valid wherever no :math:`a_j^\top G(x)` and no pre-activation is
    zero; Hand, Leong & Voroninski 2018, Sec. 3). ``x`` is ``(B, R, k)``, ``x0`` ``(B, k)``; returns ``x.shape``.
    """
    if x.dim() != 3:
        raise ValueError(f"x must have shape (B, R, k), got {tuple(x.shape)}")
    z = _measure(generator, operator, x)
    r = operator.adjoint(z - torch.sign(z) * _target(generator, operator, x, x0))  # (B, R, n)
    lam = generator.local_linear_map(x)  # (B, R, n, k)
    return (lam.transpose(-1, -2) @ r.unsqueeze(-1)).squeeze(-1)


# ----------------------------------------------------------------------------- the expected loss
def expected_amplitude_loss(u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    r""":math:`\mathbb E_A f` for given network outputs :math:`u = G(x)`, :math:`v = G(x_0)` (last dimension ``n``).

    .. math::

        \mathbb E_A \tfrac12\big\||Au| - |Av|\big\|^2 = \tfrac12\|u\|^2 + \tfrac12\|v\|^2
        - \tfrac2\pi \|u\|\|v\|\,\kappa(\cos\angle(u, v)),

    for :math:`A` with iid :math:`\mathcal N(0, 1/m)` entries, any :math:`m` (:func:`pr_kernel`). Averaging over
    :math:`A` in closed form leaves only the network's finite width to test. Shapes broadcast.
    """
    nu, nv = u.norm(dim=-1), v.norm(dim=-1)
    c = (u * v).sum(-1) / (nu * nv).clamp_min(1e-300)
    return 0.5 * nu * nu + 0.5 * nv * nv - 2 / math.pi * nu * nv * pr_kernel(c)


def expected_landscape(x: torch.Tensor, x0: torch.Tensor, d: int) -> torch.Tensor:
    r"""The infinite-width expected amplitude loss.

    .. math::

        \mathbb E f(x) = 2^{-d}\Big(\tfrac12\|x\|^2 + \tfrac12\|x_0\|^2 - \tfrac2\pi\|x\|\|x_0\|\,S(\bar\theta_d)\Big),
        \qquad \bar\theta_0 = \angle(x, x_0),\ \bar\theta_i = g(\bar\theta_{i-1}).

    Shapes broadcast over leading dimensions; the last is ``k``.
    """
    d = check_positive_int(d, "d")
    x, x0 = torch.broadcast_tensors(x, x0)
    r, r0 = x.norm(dim=-1), x0.norm(dim=-1)
    th = torch.arccos(((x * x0).sum(-1) / (r * r0).clamp_min(1e-300)).clamp(-1.0, 1.0))
    for _ in range(d):
        th = angle_map(th)
    return (0.5 * r * r + 0.5 * r0 * r0 - 2 / math.pi * r * r0 * pr_angle_function(th)) / 2**d


def expected_ray_critical_point(u_neg: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    r"""The minimiser :math:`t^\star` of :math:`t \mapsto \mathbb E_A f(-t x_0)` for outputs :math:`u = G(-x_0)`, :math:`v = G(x_0)`.

    By positive homogeneity :math:`G(-t x_0) = t\,G(-x_0)`, so :math:`\mathbb E_A f(-t x_0)` is a quadratic in
    :math:`t` minimised at

    .. math::

        t^\star = \frac{2}{\pi}\,\frac{\|v\|}{\|u\|}\,\kappa(\cos\angle(u, v)) \;\longrightarrow\; \rho_d^{PR}
        \quad (\text{wide networks}).
    """
    nu, nv = u_neg.norm(dim=-1), v.norm(dim=-1)
    c = (u_neg * v).sum(-1) / (nu * nv).clamp_min(1e-300)
    return 2 / math.pi * nv / nu.clamp_min(1e-300) * pr_kernel(c)


def ray_critical_point_pr(au_neg: torch.Tensor, av: torch.Tensor) -> torch.Tensor:
    r"""The minimiser of :math:`t \mapsto f(-t x_0)` for measurements :math:`A G(-x_0)`, :math:`A G(x_0)` (last dim ``m``).

    .. math::

        f(-t x_0) = \tfrac12\big\|t\,|AG(-x_0)| - |AG(x_0)|\big\|^2, \qquad
        t^\star = \frac{\langle |AG(-x_0)|, |AG(x_0)|\rangle}{\|AG(-x_0)\|^2}.
    """
    a, b = au_neg.abs(), av.abs()
    return (a * b).sum(-1) / (a * a).sum(-1).clamp_min(1e-300)


def flip_fires(au_neg: torch.Tensor, av: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    r"""Whether the negation step fires at :math:`x = -t x_0`: :math:`f(t x_0) < f(-t x_0)`.

    .. math::

        f(t x_0) = \tfrac12 (1 - t)^2 \|AG(x_0)\|^2, \qquad f(-t x_0) = \tfrac12\big\|t|AG(-x_0)| - |AG(x_0)|\big\|^2.

    In expectation at infinite width and :math:`t = \rho`: :math:`(1 - \rho)^2 < 1 - \rho^2` for :math:`\rho \in (0, 1)`
    (ilib theory notes, part 2, §5.2), so the step moves the bad point to the good side.
    """
    b = av.abs()
    pos = 0.5 * (1 - t) ** 2 * (b * b).sum(-1)
    neg = 0.5 * ((t.unsqueeze(-1) * au_neg.abs() - b) ** 2).sum(-1)
    return pos < neg


# ----------------------------------------------------------------------------- the algorithm
def dpr(generator: ReLUGenerator, operator: LinearOperator, x0: torch.Tensor, start: torch.Tensor, *, steps: int,
        lr: float, negate_every: int = 1) -> OptimResult:
    r"""Algorithm 1 of Hand, Leong & Voroninski (2018) (deep phase retrieval), batched.

    Every ``negate_every`` steps (and before the first), replace :math:`x` by :math:`-x` where :math:`f(-x) < f(x)`;
    then :math:`x \leftarrow x - \alpha \nabla f(x)` with :math:`\alpha = \mathrm{lr}\cdot 2^d` (the landscape's scale
    is :math:`2^{-d}`). ``negate_every = 0`` is plain gradient descent. Runs :func:`ilib.optim.minimize` on every
    ``(B, R)`` start at once; ``x0`` is ``(B, k)`` (or ``(B, R, k)``, one per start), ``start`` ``(B, R, k)``.
    """
    steps = check_positive_int(steps, "steps")
    check_positive(lr, "lr")
    negate_every = check_nonneg_int(negate_every, "negate_every")
    if start.dim() != 3 or x0.dim() not in (2, 3) or start.shape[0] != x0.shape[0] or start.shape[-1] != x0.shape[-1]:
        raise ValueError(f"start must be (B, R, k) and x0 (B, k) or (B, R, k), got {tuple(start.shape)} and "
                         f"{tuple(x0.shape)}")
    with torch.no_grad():
        target = _target(generator, operator, start, x0)  # |A G(x0)|, computed once

    return minimize(lambda x: _half_sq(_measure(generator, operator, x).abs() - target), start, steps=steps,
                    lr=lr * 2**generator.depth, method="gd", negate_every=negate_every)
