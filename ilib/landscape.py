r"""The Hand–Voroninski landscape of random expansive ReLU networks, and the algorithm it licenses.

For a bias-free ReLU network :math:`G(x) = \mathrm{relu}(W_d \cdots \mathrm{relu}(W_1 x))` with
:math:`(W_i)_{jl} \sim \mathcal{N}(0, 1/n_i)` and Gaussian measurements :math:`A`, the empirical risk

.. math::

    f(x) = \tfrac12 \|A G(x) - A G(x_0)\|_2^2

has, with high probability, a descent direction at every nonzero :math:`x` outside small
neighbourhoods of :math:`x_0` and of :math:`-\rho_d x_0` (Hand & Voroninski, COLT 2018 /
IEEE-TIT 2020). Gradient descent with a negation check then converges
(Huang, Hand, Heckel & Voroninski, ACHA 2021), and the same networks denoise at the rate
:math:`\sigma^2 k / n` (Heckel, Huang, Hand & Voroninski 2018).

The deterministic objects (the angle map :math:`g`, :math:`\rho_d`, the expected gradient
:math:`h_{x,x_0}`, the matrix :math:`Q_{x,y}` and the WDC deviation) live in :mod:`ilib.angles`
and are re-exported here. This module adds their empirical counterparts on sampled networks
(the gradient :math:`v_x` through :math:`\Lambda_x`, the negative critical point on the
:math:`-x_0` ray, the RRIC deviation of :math:`A`), an exact sampler of random-network outputs,
estimators of the suprema in the WDC (an exact scan for ``k = 2``) and the RRIC (adversarial
ascent), gradient-norm minimisation for stationary points, and the descent scheme on the
empirical and on the expected landscape. The sweeps of notebook ``03_hand_voroninski`` live in
:mod:`ilib.experiments.hand_voroninski`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Sequence

import torch

from ._checks import check_in_range, check_nonneg_int, check_positive, check_positive_int
from .angles import angle_map, angle_sequence, expected_gradient, rho, wdc_deviation, wdc_matrix  # noqa: F401
from .device import DeviceLike, DTypeLike, SeedLike, make_generator, randn, resolve_device, resolve_dtype
from .generators import ReLUGenerator
from .operators import LinearOperator
from .optim import minimize

__all__ = [
    # re-exported theory objects (ilib.angles)
    "angle_map",
    "angle_sequence",
    "rho",
    "expected_gradient",
    "wdc_matrix",
    "wdc_deviation",
    # theory objects added here
    "negative_critical_angle",
    "expected_loss",
    # empirical counterparts
    "landscape_loss",
    "empirical_gradient",
    "local_map_apply",
    "local_hessian",
    "ray_critical_point",
    "sample_outputs",
    "sample_local_gram",
    "rric_deviation",
    # suprema of the WDC and RRIC deviations
    "WDCSup",
    "wdc_sup_2d",
    "RRICAscent",
    "rric_ascent",
    # stationary points and the algorithm
    "gradient_norm_loss",
    "StationaryResult",
    "gradient_norm_minima",
    "DescentResult",
    "descent",
    "expected_descent",
    "cone_starts",
]


# ----------------------------------------------------------------------------- theory
def negative_critical_angle(d: int) -> float:
    r"""The angle :math:`\check\theta_d = g^{\circ d}(\pi)` whose cosine is :math:`\rho_d`.

    .. math::

        \rho_d = \cos \check\theta_d, \qquad \check\theta_0 = \pi,\ \check\theta_i = g(\check\theta_{i-1}).

    Both sides obey :math:`r_{d+1} = \frac{\pi - \check\theta_d}{\pi} r_d + \frac{\sin\check\theta_d}{\pi}`
    with :math:`r_1 = 0` (the recursion that defines :math:`\rho_d` in Hand & Voroninski 2018;
    the cosine form is derived here). On the :math:`-x_0` ray of a wide network,
    :math:`\langle G(x_0), G(-x_0)\rangle / \|G(-x_0)\|^2 \to \cos\check\theta_d`.
    """
    d = check_positive_int(d, "d")
    return float(angle_sequence(math.pi, d + 1)[-1])


def expected_loss(x: torch.Tensor, x0: torch.Tensor, d: int) -> torch.Tensor:
    r"""The large-width landscape :math:`\bar f(x)` whose gradient is :math:`h_{x,x_0}`.

    .. math::

        \bar f(x) = \frac{1}{2^{d+1}}\Big(\|x\|^2 - 2\|x\|\|x_0\|\cos\bar\theta_d + \|x_0\|^2\Big),
        \qquad \bar\theta_0 = \angle(x, x_0),\ \bar\theta_i = g(\bar\theta_{i-1}).

    Each layer of a wide Hand–Voroninski network halves squared norms and maps angles by :math:`g`
    (Hand & Voroninski 2018, Sec. 3), so :math:`\tfrac12\|G(x) - G(x_0)\|^2 \to \bar f(x)`;
    :math:`\nabla \bar f = h_{x,x_0}` (checked against autograd in the tests). For ``d = 1``,
    :math:`\bar f = \mathbb{E} f` exactly. Shapes broadcast over leading dimensions; the last is ``k``.
    """
    d = check_positive_int(d, "d")
    x, x0 = torch.broadcast_tensors(x, x0)
    nx = x.norm(dim=-1)
    n0 = x0.norm(dim=-1)
    cos = ((x * x0).sum(-1) / (nx * n0).clamp_min(1e-300)).clamp(-1.0, 1.0)
    th = torch.arccos(cos)
    for _ in range(d):
        th = angle_map(th)
    return (nx * nx - 2 * nx * n0 * torch.cos(th) + n0 * n0) / 2 ** (d + 1)


# ----------------------------------------------------------------------------- empirical objects
def _target(generator, operator: Optional[LinearOperator], x: torch.Tensor, x0: torch.Tensor) -> torch.Tensor:
    """A G(x0) broadcast against the latent batch ``x`` of shape (B, ..., k)."""
    if x0.shape[-1] != x.shape[-1]:
        raise ValueError(f"x0 has last dimension {x0.shape[-1]} but x has {x.shape[-1]}")
    lead = x.dim() - x0.dim()
    if lead < 0:
        raise ValueError(f"x0 {tuple(x0.shape)} must have at most as many dimensions as x {tuple(x.shape)}")
    x0 = x0.reshape(x0.shape[:-1] + (1,) * lead + x0.shape[-1:]) if lead else x0
    y0 = generator(x0)
    if operator is not None:
        y0 = operator(y0)
    return y0


def landscape_loss(
    generator: ReLUGenerator,
    x: torch.Tensor,
    x0: torch.Tensor,
    operator: Optional[LinearOperator] = None,
) -> torch.Tensor:
    r"""The empirical risk, per latent.

    .. math::

        f(x) = \tfrac12 \|A G(x) - A G(x_0)\|_2^2 \quad (A = I \text{ when ``operator`` is None}),

    Hand & Voroninski (2018), Eq. (1).

    Parameters
    ----------
    generator : ReLUGenerator
        ``B`` networks (or one shared).
    x : torch.Tensor
        Latents, shape ``(B, ..., k)``.
    x0 : torch.Tensor
        Ground truth per network, shape ``(B, k)`` (or ``(B, ..., k)`` matching ``x``).
    operator : LinearOperator, optional
        ``B`` measurement operators (compressive case).

    Returns
    -------
    torch.Tensor
        Shape ``x.shape[:-1]``.
    """
    y0 = _target(generator, operator, x, x0)
    y = generator(x)
    if operator is not None:
        y = operator(y)
    r = y - y0
    return 0.5 * (r * r).sum(-1)


def _masks(generator: ReLUGenerator, x: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
    """Activation masks of every layer and the output, for latents (B, R, k)."""
    h = x
    masks = []
    last = generator.depth - 1
    for i, wt in enumerate(generator._wt):
        pre = torch.bmm(h, wt)
        if i < last or generator.output_relu:
            m = (pre > 0).to(pre.dtype)
            masks.append(m)
            h = pre * m
        else:
            masks.append(torch.ones_like(pre))
            h = pre
    return masks, h


def empirical_gradient(
    generator: ReLUGenerator,
    x: torch.Tensor,
    x0: torch.Tensor,
    operator: Optional[LinearOperator] = None,
) -> torch.Tensor:
    r"""The gradient :math:`v_x` of :math:`f` through the local linear map :math:`\Lambda_x`.

    .. math::

        v_x = \Lambda_x^\top A^\top A (\Lambda_x x - \Lambda_{x_0} x_0),
        \qquad \Lambda_x = \prod_{i=d}^{1} \mathrm{diag}(W_i h_{i-1}(x) > 0)\, W_i,

    (Hand & Voroninski 2018, Sec. 2; Huang et al. 2021, Alg. 1). :math:`\Lambda_x^\top` is applied
    matrix-free, :math:`\Lambda_x^\top r = W_1^\top D_1 W_2^\top D_2 \cdots W_d^\top D_d r`, so the cost
    is that of one backward pass. Where no pre-activation is zero it equals :math:`\nabla f(x)`;
    elsewhere it is the one-sided limit the theorem uses.

    Shapes as in :func:`landscape_loss`; returns ``x.shape``.
    """
    y0 = _target(generator, operator, x, x0)
    h, lead = _flat(generator, x)
    masks, out = _masks(generator, h)
    out = out.reshape(*lead, -1)
    r = (operator(out) - y0) if operator is not None else (out - y0)
    if operator is not None:
        r = operator.adjoint(r)
    return _adjoint_local(generator, masks, r.reshape(h.shape[0], h.shape[1], -1)).reshape(*lead, generator.latent_dim)


def _flat(generator: ReLUGenerator, x: torch.Tensor) -> tuple[torch.Tensor, tuple[int, ...]]:
    """Latents ``(B, ..., k)`` as ``(B or 1, R, k)`` for the masked passes, with the leading shape."""
    k = generator.latent_dim
    if x.shape[-1] != k:
        raise ValueError(f"x has last dimension {x.shape[-1]}, the generator takes {k}")
    lead = tuple(x.shape[:-1])
    return x.reshape(generator.batch if generator.batch > 1 else 1, -1, k), lead


def _apply_local(generator: ReLUGenerator, masks: list[torch.Tensor], u: torch.Tensor) -> torch.Tensor:
    """:math:`\\Lambda_x u` for flattened ``u`` ``(B, R, k)``, with the activation masks of ``x``."""
    for wt, m in zip(generator._wt, masks):
        u = torch.bmm(u, wt) * m
    return u


def _adjoint_local(generator: ReLUGenerator, masks: list[torch.Tensor], r: torch.Tensor) -> torch.Tensor:
    """:math:`\\Lambda_x^\\top r` for flattened ``r`` ``(B, R, n)``, with the activation masks of ``x``."""
    for w, m in zip(reversed(generator.weights), reversed(masks)):
        r = torch.bmm(r * m, w)
    return r


def local_map_apply(generator: ReLUGenerator, x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    r"""The local linear map at ``x`` applied to a direction: :math:`\Lambda_x u`.

    .. math::

        \Lambda_x u = D_d W_d \cdots D_1 W_1 u, \qquad D_i = \mathrm{diag}(W_i h_{i-1}(x) > 0),

    the directional derivative of :math:`G` at ``x`` along ``u`` where :math:`G` is differentiable
    (Hand & Voroninski 2018, Sec. 2). ``x`` and ``u`` have one shape ``(B, ..., k)``; returns
    ``(B, ..., n)``. Matrix-free: one masked forward pass, without forming :math:`\Lambda_x`.
    """
    if u.shape != x.shape:
        raise ValueError(f"u must have the shape of x {tuple(x.shape)}, got {tuple(u.shape)}")
    h, lead = _flat(generator, x)
    masks, _ = _masks(generator, h)
    return _apply_local(generator, masks, u.reshape(h.shape)).reshape(*lead, -1)


def local_hessian(generator: ReLUGenerator, x: torch.Tensor, operator: Optional[LinearOperator] = None) -> torch.Tensor:
    r"""The Hessian of :math:`f` on the activation region of ``x``: :math:`H_x = \Lambda_x^\top A^\top A \Lambda_x`.

    On the region containing ``x`` the risk is the quadratic :math:`\tfrac12\|A\Lambda_x z - AG(x_0)\|^2`
    in :math:`z`, so gradient descent with step :math:`\alpha` contracts the error there by the
    spectral radius of :math:`I - \alpha H_x`. Under the WDC, :math:`2^d \Lambda_x^\top\Lambda_x \to I_k`
    (Hand & Voroninski 2018, Lemma 8 restated: each layer halves the Gram matrix). ``x`` is
    ``(B, k)``; returns ``(B, k, k)``.
    """
    if x.dim() != 2:
        raise ValueError(f"x must have shape (B, k), got {tuple(x.shape)}")
    lam = generator.local_linear_map(x.unsqueeze(1))[:, 0]  # (B, n, k)
    if operator is not None:
        lam = operator(lam.transpose(1, 2)).transpose(1, 2)  # A Λ, (B, m, k)
    return lam.transpose(1, 2) @ lam


def ray_critical_point(
    generator: ReLUGenerator,
    x0: torch.Tensor,
    operator: Optional[LinearOperator] = None,
) -> torch.Tensor:
    r"""The critical point :math:`t^\star` of :math:`t \mapsto f(-t x_0)` on the negative ray, per network.

    Because a bias-free ReLU network is positively homogeneous, :math:`G(-t x_0) = t\,G(-x_0)`
    for :math:`t \ge 0`, so :math:`f(-t x_0)` is a quadratic in :math:`t` with minimiser

    .. math::

        t^\star = \frac{\langle A G(x_0), A G(-x_0)\rangle}{\|A G(-x_0)\|^2}
        \;\longrightarrow\; \rho_d \quad (\text{wide networks, } A = I),

    where :math:`\langle v_{-t x_0}, \hat x_0\rangle = 0`: the component of the gradient along
    :math:`x_0` vanishes (Hand & Voroninski 2018: the negative critical point is near :math:`-\rho_d x_0`).

    Parameters
    ----------
    x0 : (B, k) ground truths.

    Returns
    -------
    (B,) values of :math:`t^\star` (in units of :math:`\|x_0\|`: the point is :math:`-t^\star x_0`).
    """
    if x0.dim() != 2:
        raise ValueError(f"x0 must have shape (B, k), got {tuple(x0.shape)}")
    z = torch.stack([x0, -x0], dim=1)
    y = generator(z)
    if operator is not None:
        y = operator(y)
    num = (y[:, 0] * y[:, 1]).sum(-1)
    den = (y[:, 1] * y[:, 1]).sum(-1)
    return num / den.clamp_min(torch.finfo(den.dtype).tiny)


def sample_outputs(
    z: torch.Tensor,
    widths: Sequence[int],
    *,
    networks: int,
    seed: SeedLike = 0,
    gain: float = 1.0,
    output_relu: bool = True,
    dtype: DTypeLike = torch.float64,
    device: DeviceLike = "auto",
) -> torch.Tensor:
    r"""Outputs :math:`G_b(z_p)` of ``networks`` random ReLU networks on ``P`` fixed latents, sampled exactly.

    The weights are never formed. At layer :math:`i` let :math:`H \in \mathbb{R}^{n_{i-1} \times P}`
    hold the current activations of the ``P`` latents. :math:`W_i` is independent of :math:`H`
    and its rows are iid :math:`\mathcal{N}(0, (\mathrm{gain}/n_i) I)`, so the rows of :math:`W_i H`
    are iid :math:`\mathcal{N}(0, (\mathrm{gain}/n_i) H^\top H)` given :math:`H`, and

    .. math::

        W_i H \overset{d}{=} \Xi\, (H^\top H)^{1/2}, \qquad \Xi_{jl} \sim \mathcal{N}(0, \mathrm{gain}/n_i),

    with the symmetric square root of the ``P x P`` Gram matrix (it may be singular, as for
    :math:`z = (x_0, -x_0)`). The cost per layer is :math:`O(n_i P^2)` instead of
    :math:`O(n_i n_{i-1})`, which makes widths of :math:`10^5` cheap. The law of the returned
    tensor equals that of :class:`~ilib.generators.ReLUGenerator` ``.random(widths, gain=gain)``
    evaluated at ``z`` (checked in the tests).

    Parameters
    ----------
    z : torch.Tensor
        Latents, shape ``(P, k)`` (shared by every network) or ``(B, P, k)``.
    widths : sequence of int
        ``[k, n_1, ..., n_d]``.
    networks : int
        ``B``, the number of independent networks.

    Returns
    -------
    torch.Tensor
        Shape ``(B, P, n_d)``.
    """
    widths = [int(w) for w in widths]
    if len(widths) < 2 or any(w < 1 for w in widths):
        raise ValueError(f"widths must list at least two positive widths, got widths={widths}")
    networks = check_positive_int(networks, "networks")
    check_positive(gain, "gain")
    dev, dt = resolve_device(device), resolve_dtype(dtype)
    if z.shape[-1] != widths[0]:
        raise ValueError(f"z has last dimension {z.shape[-1]} but widths[0] = {widths[0]}")
    if z.dim() == 2:
        z = z.unsqueeze(0).expand(networks, -1, -1)
    if z.dim() != 3 or z.shape[0] != networks:
        raise ValueError(f"z must have shape (P, k) or ({networks}, P, k), got {tuple(z.shape)}")
    g = make_generator(seed)
    h = z.to(device=dev, dtype=dt)  # (B, P, n_{i-1})
    last = len(widths) - 2
    for i, n_out in enumerate(widths[1:]):
        h = _gaussian_image(torch.bmm(h, h.transpose(1, 2)), n_out, g, gain)  # W_i H given H, in law
        if i < last or output_relu:
            h = torch.relu(h)
    return h


def _gaussian_image(gram: torch.Tensor, n_out: int, g: torch.Generator, gain: float) -> torch.Tensor:
    r"""A draw of :math:`(W H)^\top` given :math:`H^\top H` = ``gram`` ``(B, P, P)``, :math:`W_{jl} \sim \mathcal N(0, \mathrm{gain}/n)`.

    The rows of :math:`WH` are iid :math:`\mathcal N(0, (\mathrm{gain}/n) H^\top H)`, so :math:`WH \overset{d}{=}
    \Xi (H^\top H)^{1/2}` with the symmetric square root (the Gram matrix may be singular). Returns ``(B, P, n_out)``.
    """
    lam, V = torch.linalg.eigh(gram)
    # eigenvalues at rounding level are zeros of a singular Gram matrix (e.g. z = (x0, -x0))
    lam = torch.where(lam > 1e-12 * lam[:, -1:].abs(), lam, torch.zeros_like(lam))
    root = (V * lam.sqrt().unsqueeze(-2)) @ V.transpose(1, 2)  # symmetric square root
    B, P = gram.shape[:2]
    xi = randn(B, P, n_out, generator=g, dtype=gram.dtype, device=gram.device) * (gain / n_out) ** 0.5
    # root @ xi, written as a sum over the P rows (a bmm with inner size P is slow on CPU)
    return sum(root[:, :, j : j + 1] * xi[:, j : j + 1, :] for j in range(P))


def sample_local_gram(
    x0: torch.Tensor,
    widths: Sequence[int],
    *,
    networks: int,
    seed: SeedLike = 0,
    gain: float = 1.0,
    dtype: DTypeLike = torch.float64,
    device: DeviceLike = "auto",
) -> torch.Tensor:
    r"""The Gram matrix :math:`\Lambda_{x_0}^\top \Lambda_{x_0}` of ``networks`` random ReLU networks at ``x0``, sampled exactly.

    With :math:`J_i = D_i W_i J_{i-1}` (:math:`J_0 = I_k`, :math:`D_i = \mathrm{diag}(W_i J_{i-1} x_0 > 0)`, since
    :math:`h_{i-1}(x_0) = J_{i-1} x_0`), the rows of :math:`W_i J_{i-1}` are iid :math:`\mathcal N(0, (\mathrm{gain}/n_i)
    \Gamma_{i-1})` given :math:`\Gamma_{i-1} = J_{i-1}^\top J_{i-1}`, and the mask is the sign of their product with
    :math:`x_0`. So

    .. math::

        \Gamma_i = \sum_{j \le n_i} 1_{\langle z_j, x_0\rangle > 0}\, z_j z_j^\top, \qquad
        z_j \overset{iid}{\sim} \mathcal N(0, (\mathrm{gain}/n_i)\Gamma_{i-1}),

    an exact draw of the law of :func:`local_hessian` (with :math:`A = I`) at cost :math:`O(n_i k^2)` per layer, without
    forming the weights. :math:`\mathbb E\,\Gamma_d = (\mathrm{gain}/2)^d I_k` (each layer keeps half of the
    rows in expectation, Hand & Voroninski 2018). ``x0`` is ``(k,)``; ``widths = [k, n_1, ..., n_d]``; returns ``(networks, k, k)``.
    """
    widths = [int(w) for w in widths]
    if len(widths) < 2 or any(w < 1 for w in widths):
        raise ValueError(f"widths must list at least two positive widths, got widths={widths}")
    networks = check_positive_int(networks, "networks")
    check_positive(gain, "gain")
    if x0.dim() != 1 or x0.shape[0] != widths[0]:
        raise ValueError(f"x0 must have shape ({widths[0]},), got {tuple(x0.shape)}")
    dev, dt = resolve_device(device), resolve_dtype(dtype)
    g = make_generator(seed)
    k = widths[0]
    x0 = x0.to(device=dev, dtype=dt)
    gram = torch.eye(k, dtype=dt, device=dev).expand(networks, k, k).contiguous()
    for n_out in widths[1:]:
        Z = _gaussian_image(gram, n_out, g, gain)  # (B, k, n_i): column j is z_j
        keep = ((x0.view(1, k, 1) * Z).sum(1) > 0).to(dt)  # (B, n_i)
        gram = torch.bmm(Z * keep.unsqueeze(1), Z.transpose(1, 2))
    return gram


def rric_deviation(
    operator: LinearOperator,
    generator: ReLUGenerator,
    x1: torch.Tensor,
    x2: torch.Tensor,
    x3: torch.Tensor,
    x4: torch.Tensor,
) -> torch.Tensor:
    r"""The RRIC deviation of :math:`A` on given quadruples of latents.

    .. math::

        \frac{|\langle A u, A v\rangle - \langle u, v\rangle|}{\|u\|\,\|v\|},
        \qquad u = G(x_1) - G(x_2),\ v = G(x_3) - G(x_4).

    :math:`A` satisfies the Range Restricted Isometry Condition RRIC(:math:`\epsilon`) with respect to
    :math:`G` when this is at most :math:`\epsilon` for all quadruples (Hand & Voroninski 2018);
    over sampled quadruples it is a lower estimate of the best :math:`\epsilon`.

    Parameters
    ----------
    x1, x2, x3, x4 : (B, P, k) latents, ``P`` quadruples per instance.

    Returns
    -------
    (B, P) deviations.
    """
    shapes = {tuple(t.shape) for t in (x1, x2, x3, x4)}
    if len(shapes) != 1 or x1.dim() != 3:
        raise ValueError(f"x1..x4 must share one shape (B, P, k), got {sorted(shapes)}")
    u = generator(x1) - generator(x2)
    v = generator(x3) - generator(x4)
    inner = (operator(u) * operator(v)).sum(-1)
    true = (u * v).sum(-1)
    scale = (u.norm(dim=-1) * v.norm(dim=-1)).clamp_min(torch.finfo(u.dtype).tiny)
    return (inner - true).abs() / scale


# ----------------------------------------------------------------------------- suprema of the WDC and RRIC deviations
_TWO_PI = 2 * math.pi
#: Lipschitz constant of the k = 2 deviation in the angles (φx, φy) at a fixed activation pattern: see wdc_sup_2d
_WDC_LIP = 3 / (2 * math.pi)


@dataclass(frozen=True)
class WDCSup:
    r"""The supremum over all pairs of the WDC deviation of ``L`` layers with ``k = 2`` (:func:`wdc_sup_2d`).

    ``lower`` is attained (the deviation at the returned pair ``(x, y)``); ``upper`` bounds the
    supremum from above. Shapes ``(L,)`` and ``(L, 2)``.
    """

    lower: torch.Tensor
    upper: torch.Tensor
    x: torch.Tensor
    y: torch.Tensor


def _wdc_cell_values(S, xc, hx, yc, hy):
    r"""The k = 2 deviation at cell centres and its Lipschitz upper bound over each cell (see :func:`wdc_sup_2d`)."""
    th = (yc - xc + math.pi / 2) % _TWO_PI - math.pi / 2  # the angle φy - φx, in [-π/2, 3π/2)
    psi = xc + yc
    h = hx + hy
    a = (math.pi - th) / _TWO_PI
    b = torch.sin(th) / _TWO_PI
    f = (S[..., 0] - a).abs() + torch.hypot(S[..., 1] - b * torch.cos(psi), S[..., 2] - b * torch.sin(psi))
    tiny = 1e-12
    overlap = (th + h > tiny) & (th - h < math.pi - tiny)  # the cell meets the strip 0 <= θ <= π
    inside = (th >= 0) & (th <= math.pi)
    none = torch.full_like(f, -1.0)
    return torch.where(inside, f, none), torch.where(overlap, f + _WDC_LIP * h, none)


def _wdc_sup_layer(W: torch.Tensor, chunk: int, split: int, rounds: int, rtol: float, max_cells: int):
    n = W.shape[0]
    alpha = torch.atan2(W[:, 1], W[:, 0]) % _TWO_PI
    alpha, order = alpha.sort()
    r2 = (W[order] ** 2).sum(-1)
    c = torch.stack([r2 / 2, r2 * torch.cos(2 * alpha) / 2, r2 * torch.sin(2 * alpha) / 2], dim=-1)
    P = torch.cat([torch.zeros(1, 3, dtype=W.dtype, device=W.device), torch.cumsum(torch.cat([c, c]), 0)])
    full = P[n]
    # phi_x breakpoints alpha_i - pi/2 (phi_y's are these + pi); gaps longer than pi/4 are cut into pieces, so that a
    # cell's angle phi_y - phi_x spans less than pi/2 and meets at most one copy [2 pi j, 2 pi j + pi] of the strip
    lo_edge = alpha - math.pi / 2
    gap = torch.diff(torch.cat([alpha, alpha[:1] + _TWO_PI]))
    pieces = torch.ceil(gap / (math.pi / 4)).clamp_min(1).long()
    gidx = torch.repeat_interleave(torch.arange(n, device=W.device), pieces)  # the gap (index of the alpha below U)
    first = torch.cumsum(pieces, 0) - pieces
    frac = (torch.arange(int(pieces.sum()), device=W.device) - first[gidx]).to(W.dtype) / pieces[gidx].to(W.dtype)
    half = gap[gidx] / pieces[gidx].to(W.dtype) / 2
    centre = lo_edge[gidx] + frac * gap[gidx] + half
    N = centre.shape[0]
    rows = max(1, chunk // N)
    best, arg, keep = -1.0, None, []
    idx = torch.arange(N, device=W.device)
    for s in range(0, N, rows):
        j = idx[s : s + rows, None].expand(-1, N)
        l = idx[None, :].expand(j.shape[0], -1)  # noqa: E741
        gj, gl = gidx[j], gidx[l]
        X, Y = centre[j], centre[l] + math.pi
        # the active rows: sorted l+1 .. j cyclically; in a gap (gj == gl) none, or all of them when the arc from
        # L = phi_y - pi/2 to U = phi_x + pi/2 goes around (phi_y - phi_x beyond 3 pi / 2 before wrapping)
        S = P[gj + 1 + n * (gj < gl)] - P[gl + 1] + ((gj == gl) & (Y - X > 1.5 * math.pi)).unsqueeze(-1) * full
        cell = (S, X, half[j], Y, half[l])
        lo, up = _wdc_cell_values(*cell)
        top = int(lo.argmax())
        if lo.flatten()[top] > best:
            best, arg = float(lo.flatten()[top]), (float(X.flatten()[top]), float(Y.flatten()[top]))
        m = up > best
        keep.append(tuple(t[m] for t in cell) + (up[m],))
    cells = [torch.cat(t) for t in zip(*keep)]
    off = (torch.arange(split, dtype=W.dtype, device=W.device) * 2 + 1 - split) / split
    ox, oy = (t.reshape(-1) for t in torch.meshgrid(off, off, indexing="ij"))
    frozen = -1.0  # the largest bound among cells left unsplit (when more than max_cells are candidates)
    for _ in range(rounds):
        m = cells[-1] > best
        cells = [t[m] for t in cells]
        if cells[0].shape[0] == 0 or max(float(cells[-1].max()), frozen) - best <= rtol * best:
            break
        if cells[0].shape[0] > max_cells:  # split the most promising cells; the others keep their (valid) bounds
            order = cells[-1].argsort(descending=True)
            frozen = max(frozen, float(cells[-1][order[max_cells]]))
            cells = [t[order[:max_cells]] for t in cells]
        S, X, HX, Y, HY, _ = cells
        q = split * split
        S = S[:, None, :].expand(-1, q, 3).reshape(-1, 3)
        X, Y = (X[:, None] + HX[:, None] * ox).reshape(-1), (Y[:, None] + HY[:, None] * oy).reshape(-1)
        HX, HY = (HX[:, None] / split).expand(-1, q).reshape(-1), (HY[:, None] / split).expand(-1, q).reshape(-1)
        lo, up = _wdc_cell_values(S, X, HX, Y, HY)
        top = int(lo.argmax())
        if lo[top] > best:
            best, arg = float(lo[top]), (float(X[top]), float(Y[top]))
        cells = [S, X, HX, Y, HY, up]
    upper = max(best, frozen, float(cells[-1].max()) if cells[-1].numel() else best)
    return best, upper, arg


def wdc_sup_2d(W: torch.Tensor, *, chunk: int = 2_000_000, split: int = 4, rounds: int = 8,
               rtol: float = 1e-4, max_cells: int = 50_000) -> WDCSup:
    r"""The WDC constant of layers :math:`W \in \mathbb{R}^{n \times 2}`: the supremum over *all* pairs, by an exact scan.

    .. math::

        \epsilon(W) = \sup_{x, y \neq 0} \Big\| \sum_i 1_{\langle w_i, x\rangle > 0} 1_{\langle w_i, y\rangle > 0}
        w_i w_i^\top - Q_{x,y} \Big\|_2

    (the Weight Distribution Condition, Hand & Voroninski 2018, Def. 1). For :math:`k = 2` write
    :math:`x, y` by their angles :math:`\varphi_x, \varphi_y` and :math:`\theta = \varphi_y - \varphi_x
    \in [0, \pi]` (the other order is the same pair swapped). The active rows are those with angle
    :math:`\alpha_i \in (\varphi_y - \pi/2, \varphi_x + \pi/2)`, so the sum :math:`S` is constant on
    the cells of the grid cut by :math:`\varphi_x = \alpha_i - \pi/2` and :math:`\varphi_y = \alpha_i + \pi/2`
    (about ``n x n`` cells, each sum a difference of cyclic prefix sums; gaps between the :math:`\alpha_i` longer
    than :math:`\pi/4` are cut further, so that no cell holds two active sets). Writing :math:`S = s_0 I + \begin{pmatrix}
    s_1 & s_2\\ s_2 & -s_1\end{pmatrix}` and :math:`Q_{x,y} = aI + bR_\psi` (:math:`a = (\pi-\theta)/2\pi`,
    :math:`b = \sin\theta/2\pi`, :math:`R_\psi` the reflection with :math:`\psi = \varphi_x + \varphi_y`),

    .. math::

        \|S - Q_{x,y}\|_2 = |s_0 - a| + \big|(s_1, s_2) - b(\cos\psi, \sin\psi)\big|,

    which on a cell is :math:`3/(2\pi)`-Lipschitz in :math:`|\Delta\varphi_x| + |\Delta\varphi_y|`. The
    value at a cell's centre is attained (``lower``); the centre value plus the Lipschitz constant times
    the cell's half-size bounds the cell (``upper``). Cells whose bound exceeds the best value are split
    ``split x split`` times, up to ``rounds`` times or until ``upper - lower <= rtol * lower``; at most
    ``max_cells`` of them per round (the most promising), the others keeping their bounds, so memory stays bounded
    where the deviation is flat near its maximum.

    Parameters
    ----------
    W : torch.Tensor
        ``(L, n, 2)`` layers (or ``(n, 2)``), rows :math:`w_i`.

    Returns
    -------
    WDCSup
        Per layer the bracket ``lower <= sup <= upper`` and a maximising pair of unit vectors.
    """
    if not isinstance(W, torch.Tensor):
        raise TypeError(f"W must be a torch.Tensor of shape (L, n, 2), not {type(W).__name__}")
    if W.dim() == 2:
        W = W.unsqueeze(0)
    if W.dim() != 3 or W.shape[-1] != 2 or W.shape[1] < 2:
        raise ValueError(f"W must have shape (L, n, 2) with n >= 2 (the exact scan is for k = 2), got {tuple(W.shape)}")
    chunk, split, rounds = check_positive_int(chunk, "chunk"), check_positive_int(split, "split"), check_positive_int(rounds, "rounds")
    max_cells = check_positive_int(max_cells, "max_cells")
    check_positive(rtol, "rtol")
    W = W.to(torch.float64)
    out = [_wdc_sup_layer(w, chunk, split, rounds, rtol, max_cells) for w in W]  # each layer is one vectorised scan of n^2 cells
    lo = torch.tensor([o[0] for o in out], dtype=torch.float64)
    up = torch.tensor([o[1] for o in out], dtype=torch.float64)
    ang = torch.tensor([o[2] for o in out], dtype=torch.float64)
    unit = lambda t: torch.stack([torch.cos(t), torch.sin(t)], dim=-1)  # noqa: E731
    return WDCSup(lower=lo, upper=up, x=unit(ang[:, 0]), y=unit(ang[:, 1]))


@dataclass(frozen=True)
class RRICAscent:
    r"""Result of :func:`rric_ascent`: the deviation at the random starts and after the ascent, ``(B, R)``."""

    start: torch.Tensor
    final: torch.Tensor

    @property
    def best(self) -> torch.Tensor:
        """The largest deviation found per instance, over restarts and starts: a lower estimate of the RRIC constant."""
        return torch.maximum(self.start, self.final).amax(-1)


def rric_ascent(operator: LinearOperator, generator: ReLUGenerator, start: torch.Tensor, *, steps: int,
                lr: float) -> RRICAscent:
    r"""An adversarial (lower) estimate of the RRIC constant: Adam ascent of the deviation over quadruples.

    Maximises :math:`\mathrm{dev}(x_1, x_2, x_3, x_4) = |\langle Au, Av\rangle - \langle u, v\rangle| / (\|u\|\|v\|)`,
    :math:`u = G(x_1) - G(x_2)`, :math:`v = G(x_3) - G(x_4)` (:func:`rric_deviation`), from ``R`` starts per
    instance (``start`` of shape ``(B, R, 4, k)``) with :func:`ilib.optim.minimize`. The RRIC(:math:`\epsilon`)
    of Hand & Voroninski (2018) asks this to be at most :math:`\epsilon` for *all* quadruples; every value
    found is a lower bound of the best :math:`\epsilon`.
    """
    steps = check_positive_int(steps, "steps")
    check_positive(lr, "lr")
    if start.dim() != 4 or start.shape[2] != 4 or start.shape[-1] != generator.latent_dim:
        raise ValueError(f"start must have shape (B, R, 4, k={generator.latent_dim}), got {tuple(start.shape)}")
    B, R = start.shape[:2]

    def dev(z: torch.Tensor) -> torch.Tensor:
        q = z.reshape(B, R, 4, -1)
        return rric_deviation(operator, generator, q[:, :, 0], q[:, :, 1], q[:, :, 2], q[:, :, 3])

    z0 = start.reshape(B, R, -1)
    with torch.no_grad():
        first = dev(z0)
    res = minimize(lambda z: -dev(z), z0, steps=steps, lr=lr, method="adam")
    return RRICAscent(start=first, final=-res.loss)


# ----------------------------------------------------------------------------- stationary points
class _GradientNormSq(torch.autograd.Function):
    """:math:`\\tfrac12\\|v_x\\|^2` with its exact gradient :math:`H_x v_x` (no double back-propagation)."""

    @staticmethod
    def forward(ctx, x, generator, x0, operator):
        y0 = _target(generator, operator, x, x0)
        h, lead = _flat(generator, x)
        masks, out = _masks(generator, h)
        out = out.reshape(*lead, -1)
        r = (operator.adjoint(operator(out) - y0) if operator is not None else out - y0).reshape(h.shape[0], h.shape[1], -1)
        v = _adjoint_local(generator, masks, r)
        ctx.save_for_backward(v, *masks)
        ctx.generator, ctx.operator, ctx.lead = generator, operator, lead
        return 0.5 * (v * v).sum(-1).reshape(lead)

    @staticmethod
    def backward(ctx, grad):
        v, *masks = ctx.saved_tensors
        G, op = ctx.generator, ctx.operator
        u = _apply_local(G, masks, v)  # Λ v
        if op is not None:
            u = op.adjoint(op(u.reshape(*ctx.lead, -1))).reshape(u.shape[0], u.shape[1], -1)
        g = _adjoint_local(G, masks, u)  # Λ^T A^T A Λ v = H_x v
        return (grad.reshape(g.shape[:-1]).unsqueeze(-1) * g).reshape(*ctx.lead, -1), None, None, None


def gradient_norm_loss(generator: ReLUGenerator, x: torch.Tensor, x0: torch.Tensor,
                       operator: Optional[LinearOperator] = None) -> torch.Tensor:
    r"""The squared gradient norm :math:`\phi(x) = \tfrac12\|v_x\|^2`, differentiable with :math:`\nabla\phi = H_x v_x`.

    On each activation region :math:`v_x = H_x x - \Lambda_x^\top A^\top A G(x_0)` is affine with
    :math:`H_x = \Lambda_x^\top A^\top A \Lambda_x` (:func:`local_hessian`), so
    :math:`\nabla \phi(x) = H_x v_x`: one masked forward and one masked backward pass more than
    :func:`empirical_gradient`. The minima of :math:`\phi` are the stationary points of :math:`f`
    (where :math:`\phi = 0`) and the kinks where :math:`\|v_x\|` is locally smallest. Shapes as in
    :func:`landscape_loss`.
    """
    return _GradientNormSq.apply(x, generator, x0, operator)


@dataclass(frozen=True)
class StationaryResult:
    r"""Result of :func:`gradient_norm_minima`: end points ``x`` ``(B, R, k)`` and their scaled gradient norms.

    ``grad_norm`` is :math:`2^d \|v_x\| / \|x_0\|` (the scale of :math:`h` is :math:`2^{-d}`), ``(B, R)``.
    """

    x: torch.Tensor
    x0: torch.Tensor
    grad_norm: torch.Tensor


def gradient_norm_minima(generator: ReLUGenerator, x0: torch.Tensor, start: torch.Tensor, *, steps: int, lr: float,
                         operator: Optional[LinearOperator] = None) -> StationaryResult:
    r"""Local minima of :math:`\|v_x\|` from ``start``, by Adam on :func:`gradient_norm_loss`.

    Hand & Voroninski (2018, Thm 1) show a descent direction at every nonzero :math:`x` outside
    neighbourhoods of :math:`x_0` and :math:`-\rho_d x_0`; where :math:`\|v_x\|` has a small local minimum,
    :math:`f` is (nearly) stationary, so these minima are where the theorem's neighbourhoods can be
    looked for. The loss is scaled by :math:`4^d` so that one step size fits every depth.
    ``x0`` is ``(B, k)``, ``start`` ``(B, R, k)``.
    """
    steps = check_positive_int(steps, "steps")
    check_positive(lr, "lr")
    if start.dim() != 3 or x0.dim() != 2 or start.shape[0] != x0.shape[0] or start.shape[2] != x0.shape[1]:
        raise ValueError(f"start must be (B, R, k) and x0 (B, k), got {tuple(start.shape)} and {tuple(x0.shape)}")
    scale = 4.0 ** generator.depth
    res = minimize(lambda x: scale * gradient_norm_loss(generator, x, x0, operator), start, steps=steps, lr=lr,
                   method="adam")
    with torch.no_grad():
        g = empirical_gradient(generator, res.x, x0, operator).norm(dim=-1) * 2**generator.depth
    return StationaryResult(x=res.x, x0=x0, grad_norm=g / x0.norm(dim=-1, keepdim=True))


# ----------------------------------------------------------------------------- the descent scheme
@dataclass
class DescentResult:
    r"""Result of :func:`descent` and :func:`expected_descent`.

    Attributes
    ----------
    x : final latents ``(B, R, k)``.
    x0 : ground truths ``(B, k)``.
    start : starting latents ``(B, R, k)``.
    loss : final :math:`f`, ``(B, R)``.
    error : :math:`\|x - x_0\| / \|x_0\|`, ``(B, R)``.
    projection : :math:`\langle x, x_0\rangle / \|x_0\|^2`, ``(B, R)``.
    flips : negation-check flips, ``(B, R)``.
    path : the error :math:`\|x_t - x_0\|/\|x_0\|` at steps ``0, e, 2e, ...`` (``e = record_every``),
        shape ``(T, B, R)``; empty when not recorded.
    record_every : ``e``.
    """

    x: torch.Tensor
    x0: torch.Tensor
    start: torch.Tensor
    loss: torch.Tensor
    error: torch.Tensor
    projection: torch.Tensor
    flips: torch.Tensor
    path: torch.Tensor = None
    record_every: int = 0


def _run_descent(fun, x0: torch.Tensor, start: torch.Tensor, *, steps: int, lr: float, negate_every: int,
                 record_every: int) -> DescentResult:
    """Gradient descent on ``fun`` by :func:`ilib.optim.minimize`, in chunks of ``record_every`` steps when recording.

    Gradient descent keeps no state between steps, so chunks give exactly the iterates of one run; the
    negation check falls on the same steps (every ``negate_every``, starting with the first).
    """
    steps = check_positive_int(steps, "steps")
    check_positive(lr, "lr")
    negate_every = check_nonneg_int(negate_every, "negate_every")
    record_every = check_nonneg_int(record_every, "record_every")
    if start.dim() != 3 or x0.dim() != 2 or start.shape[0] != x0.shape[0] or start.shape[2] != x0.shape[1]:
        raise ValueError(f"start must be (B, R, k) and x0 (B, k), got {tuple(start.shape)} and {tuple(x0.shape)}")
    if record_every and negate_every and negate_every % record_every:
        raise ValueError(f"record_every must divide negate_every={negate_every}, got record_every={record_every}")
    n0 = x0.norm(dim=-1, keepdim=True)
    err = lambda x: (x - x0.unsqueeze(1)).norm(dim=-1) / n0  # noqa: E731
    chunk = record_every or steps
    x, flips, path, done = start, torch.zeros(start.shape[:-1], dtype=torch.long, device=start.device), [], 0
    while done < steps:
        if record_every:
            path.append(err(x).detach())
        t = min(chunk, steps - done)
        due = negate_every and done % negate_every == 0
        res = minimize(fun, x, steps=t, lr=lr, method="gd", negate_every=negate_every if due else 0)
        x, flips, done = res.x, flips + res.flips, done + t
    if record_every:
        path.append(err(x).detach())
    proj = (x * x0.unsqueeze(1)).sum(-1) / (n0 * n0)
    hist = torch.stack(path) if path else torch.empty(0)
    return DescentResult(x, x0, start, res.loss, err(x), proj, flips, hist, record_every)


def descent(
    generator: ReLUGenerator,
    x0: torch.Tensor,
    start: torch.Tensor,
    *,
    operator: Optional[LinearOperator] = None,
    steps: int,
    lr: float,
    negate_every: int = 0,
    record_every: int = 0,
) -> DescentResult:
    r"""Gradient descent on :math:`f(x) = \tfrac12\|A G(x) - A G(x_0)\|^2`, with or without the negation check.

    Algorithm 1 of Huang, Hand, Heckel & Voroninski (2021): every ``negate_every`` steps (and
    before the first), replace :math:`x` by :math:`-x` where :math:`f(-x) < f(x)`; then

    .. math::

        x \leftarrow x - \alpha\, v_x, \qquad \alpha = \mathrm{lr} \cdot 2^d,

    where :math:`2^d` undoes the :math:`2^{-d}` scale of the Hand–Voroninski landscape (its Hessian
    at :math:`x_0` is about :math:`I / 2^d`), so ``lr`` near 1 is a well-scaled step at every depth.
    ``negate_every = 0`` is plain gradient descent. Runs :func:`ilib.optim.minimize` (``method="gd"``)
    on all ``B x R`` starts at once; ``record_every > 0`` records the error path (it must divide
    ``negate_every``).

    Parameters
    ----------
    x0 : (B, k) ground truths; start : (B, R, k) starting points.
    """
    with torch.no_grad():
        y0 = generator(x0.unsqueeze(1)) if x0.dim() == 2 else None
        if operator is not None and y0 is not None:
            y0 = operator(y0)

    def fun(x: torch.Tensor) -> torch.Tensor:
        y = generator(x)
        if operator is not None:
            y = operator(y)
        r = y - y0
        return 0.5 * (r * r).sum(-1)

    return _run_descent(fun, x0, start, steps=steps, lr=check_positive(lr, "lr") * 2**generator.depth,
                        negate_every=negate_every, record_every=record_every)


class _ExpectedLoss(torch.autograd.Function):
    """:math:`\\bar f(x)` with its exact gradient :math:`h_{x,x_0}` (autograd through arccos is singular on the rays)."""

    @staticmethod
    def forward(ctx, x, x0, d):
        ctx.save_for_backward(x, x0)
        ctx.d = d
        return expected_loss(x, x0, d)

    @staticmethod
    def backward(ctx, grad):
        x, x0 = ctx.saved_tensors
        return grad.unsqueeze(-1) * expected_gradient(x, x0, ctx.d), None, None


def expected_descent(x0: torch.Tensor, start: torch.Tensor, depth: int, *, steps: int, lr: float,
                     negate_every: int = 0, record_every: int = 0) -> DescentResult:
    r""":func:`descent` on the large-width landscape :math:`\bar f` (:func:`expected_loss`), whose gradient is :math:`h_{x,x_0}`.

    The same steps :math:`x \leftarrow x - \mathrm{lr}\,2^d\, h_{x,x_0}` and negation check, for the
    infinite-width network: what the iterates of :func:`descent` tend to as the widths grow, when
    :math:`v_x \to h_{x,x_0}` uniformly (Hand & Voroninski 2018). ``x0`` is ``(B, k)``, ``start`` ``(B, R, k)``.
    """
    depth = check_positive_int(depth, "depth")
    target = x0.unsqueeze(1)
    fun = lambda x: _ExpectedLoss.apply(x, target.expand_as(x), depth)  # noqa: E731
    return _run_descent(fun, x0, start, steps=steps, lr=check_positive(lr, "lr") * 2**depth, negate_every=negate_every,
                        record_every=record_every)


def cone_starts(x0: torch.Tensor, count: int, *, angle: float, radii: tuple[float, float], generator: torch.Generator) -> torch.Tensor:
    r"""Starts on the wrong side: ``count`` points per row of ``x0`` in the cone of half-angle ``angle`` around :math:`-x_0`.

    .. math::

        x = r\,\|x_0\|\,(-\cos\varphi\, \hat x_0 + \sin\varphi\, u),
        \qquad \varphi \sim U[0, \mathrm{angle}],\ r \sim U[r_\min, r_\max],\ u \perp x_0 \text{ a random unit vector}.

    Returns shape ``(B, count, k)``.
    """
    count = check_positive_int(count, "count")
    check_in_range(angle, "angle", 0, math.pi)
    lo, hi = radii
    if not 0 < lo <= hi:
        raise ValueError(f"radii must satisfy 0 < r_min <= r_max, got radii={radii}")
    B, k = x0.shape
    dt, dev = x0.dtype, x0.device
    n0 = x0.norm(dim=-1, keepdim=True)
    xh = (x0 / n0).unsqueeze(1)
    u = randn(B, count, k, generator=generator, dtype=dt, device=dev)
    u = u - (u * xh).sum(-1, keepdim=True) * xh
    u = u / u.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    phi = angle * torch.rand(B, count, 1, generator=generator, dtype=torch.float64).to(device=dev, dtype=dt)
    r = lo + (hi - lo) * torch.rand(B, count, 1, generator=generator, dtype=torch.float64).to(device=dev, dtype=dt)
    return r * n0.unsqueeze(1) * (-torch.cos(phi) * xh + torch.sin(phi) * u)
