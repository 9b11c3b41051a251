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
and the batched experiments of notebook ``03_hand_voroninski``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Sequence

import torch

from . import stats
from ._checks import check_in_range, check_int_list, check_list, check_nonneg, check_positive, check_positive_int
from .angles import angle_map, angle_sequence, expected_gradient, rho, wdc_deviation, wdc_matrix
from .device import DeviceLike, DTypeLike, SeedLike, make_generator, randn, resolve_device, resolve_dtype
from .generators import ReLUGenerator
from .operators import LinearOperator, MatrixOperator
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
    "ray_critical_point",
    "sample_outputs",
    "rric_deviation",
    "loglog_slope",
    # experiments
    "LandscapeGrid",
    "landscape_grid",
    "negative_critical_points",
    "wdc_sweep",
    "rric_sweep",
    "gradient_deviation_sweep",
    "DescentResult",
    "descent",
    "cone_starts",
    "SuccessSweep",
    "success_sweep",
    "DenoisingResult",
    "denoising_sweep",
]


# ----------------------------------------------------------------------------- checks
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
    k = generator.latent_dim
    if x.shape[-1] != k:
        raise ValueError(f"x has last dimension {x.shape[-1]}, the generator takes {k}")
    lead = tuple(x.shape[:-1])
    h = x.reshape(generator.batch if generator.batch > 1 else 1, -1, k)
    masks, out = _masks(generator, h)
    out = out.reshape(*lead, -1)
    r = (operator(out) - y0) if operator is not None else (out - y0)
    if operator is not None:
        r = operator.adjoint(r)
    r = r.reshape(h.shape[0], -1, r.shape[-1])
    for w, m in zip(reversed(generator.weights), reversed(masks)):
        r = torch.bmm(r * m, w)
    return r.reshape(*lead, k)


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
    P = h.shape[1]
    last = len(widths) - 2
    for i, n_out in enumerate(widths[1:]):
        gram = torch.bmm(h, h.transpose(1, 2))  # (B, P, P)
        lam, V = torch.linalg.eigh(gram)
        # eigenvalues at rounding level are zeros of a singular Gram matrix (e.g. z = (x0, -x0))
        lam = torch.where(lam > 1e-12 * lam[:, -1:].abs(), lam, torch.zeros_like(lam))
        root = (V * lam.sqrt().unsqueeze(-2)) @ V.transpose(1, 2)  # symmetric square root
        xi = randn(networks, P, n_out, generator=g, dtype=dt, device=dev) * (gain / n_out) ** 0.5
        # h = root @ xi, written as a sum over the P rows (a bmm with inner size P is slow on CPU)
        h = sum(root[:, :, j : j + 1] * xi[:, j : j + 1, :] for j in range(P))  # (B, P, n_i)
        if i < last or output_relu:
            h = torch.relu(h)
    return h


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


def loglog_slope(x, y) -> tuple[float, float]:
    r"""Shim for notebook 03 until it moves onto the new harness: ``(slope, intercept)`` of :func:`ilib.stats.loglog_fit`.

    Fits :math:`\log y = a \log x + b` and returns ``(a, b)``. Unlike :func:`ilib.stats.loglog_fit`, which
    drops them, nonpositive or non-finite points are refused here (as this function always did).
    """
    x, y = (torch.as_tensor(v, dtype=torch.float64).flatten().cpu().numpy() for v in (x, y))  # tensors on any device
    fit = stats.loglog_fit(x, y)
    if fit.n < max(2, x.size):
        raise ValueError(f"x and y must hold at least 2 positive finite values each, got {x.size} of which {fit.n} usable")
    return fit.slope, fit.intercept


# ----------------------------------------------------------------------------- experiments
@dataclass
class LandscapeGrid:
    """Empirical and expected landscapes of a ``k = 2`` network on a square grid (figure (a))."""

    xs: torch.Tensor  # (N,)
    ys: torch.Tensor  # (N,)
    empirical: torch.Tensor  # (N, N) f(x), rows indexed by y
    expected: torch.Tensor  # (N, N) f̄(x)
    grad_empirical: torch.Tensor  # (N, N, 2) v_x
    grad_expected: torch.Tensor  # (N, N, 2) h_x
    x0: torch.Tensor  # (2,)
    ray_t: float  # t* of this network
    depth: int


def landscape_grid(
    widths: Sequence[int],
    *,
    x0: Sequence[float] = (1.0, 0.0),
    extent: float = 2.0,
    points: int = 101,
    seed: SeedLike = 0,
    device: DeviceLike = "auto",
) -> LandscapeGrid:
    r"""Evaluate :math:`f`, :math:`\bar f`, :math:`v_x` and :math:`h_{x,x_0}` on a grid of :math:`[-e, e]^2`.

    One random network with ``widths = [2, n_1, ..., n_d]`` (Heckel et al. 2018, Fig. 1 uses
    2-300-784), float64. ``points`` is the number of grid points per axis.
    """
    widths = [int(w) for w in widths]
    if widths[0] != 2:
        raise ValueError(f"the landscape grid needs a latent dimension of 2, got widths[0]={widths[0]}")
    points = check_positive_int(points, "points")
    check_positive(extent, "extent")
    G = ReLUGenerator.random(widths, batch=1, seed=seed, dtype=torch.float64, device=device)
    dev = G.device
    x0t = torch.as_tensor(x0, dtype=torch.float64, device=dev).reshape(1, 2)
    xs = torch.linspace(-extent, extent, points, dtype=torch.float64, device=dev)
    YY, XX = torch.meshgrid(xs, xs, indexing="ij")
    X = torch.stack([XX, YY], dim=-1).reshape(1, -1, 2)
    with torch.no_grad():
        f = landscape_loss(G, X, x0t).reshape(points, points)
        v = empirical_gradient(G, X, x0t).reshape(points, points, 2)
        fbar = expected_loss(X, x0t, G.depth).reshape(points, points)
        h = expected_gradient(X, x0t.unsqueeze(1), G.depth).reshape(points, points, 2)
        t = float(ray_critical_point(G, x0t)[0])
    return LandscapeGrid(xs.cpu(), xs.cpu(), f.cpu(), fbar.cpu(), v.cpu(), h.cpu(), x0t[0].cpu(), t, G.depth)


def negative_critical_points(
    depth_values: Sequence[int],
    width_values: Sequence[int],
    *,
    networks: int,
    k: int = 2,
    seed: SeedLike = 0,
    device: DeviceLike = "auto",
) -> torch.Tensor:
    r"""The ray critical point :math:`t^\star` of many random networks, for every depth and width.

    Networks have widths ``[k, w, ..., w]`` (``d`` layers of width ``w``), weights
    :math:`\mathcal{N}(0, 1/w)`; their outputs on :math:`\pm x_0` are drawn exactly with
    :func:`sample_outputs` (so widths of :math:`10^5` are cheap), and

    .. math::

        t^\star = \langle G(x_0), G(-x_0)\rangle / \|G(-x_0)\|^2 \to \rho_d.

    Returns
    -------
    torch.Tensor
        Shape ``(len(depth_values), len(width_values), networks)``, float64.
    """
    depth_values = check_int_list(depth_values, "depth_values")
    width_values = check_int_list(width_values, "width_values")
    networks = check_positive_int(networks, "networks")
    k = check_positive_int(k, "k")
    g = make_generator(seed)
    x0 = torch.zeros(k, dtype=torch.float64)
    x0[0] = 1.0
    z = torch.stack([x0, -x0])
    out = torch.empty(len(depth_values), len(width_values), networks, dtype=torch.float64)
    for a, d in enumerate(depth_values):
        for b, w in enumerate(width_values):
            y = sample_outputs(z, [k] + [w] * d, networks=networks, seed=g, device=device)
            num = (y[:, 0] * y[:, 1]).sum(-1)
            den = (y[:, 1] * y[:, 1]).sum(-1)
            out[a, b] = (num / den.clamp_min(1e-300)).cpu()
    return out


def _random_directions(B: int, P: int, k: int, g: torch.Generator, dtype, device) -> torch.Tensor:
    u = randn(B, P, k, generator=g, dtype=dtype, device=device)
    return u / u.norm(dim=-1, keepdim=True)


def wdc_sweep(
    n_values: Sequence[int],
    *,
    k: int,
    layers: int,
    pairs: int,
    seed: SeedLike = 0,
    max_elements: int = 2_000_000,
    device: DeviceLike = "auto",
) -> torch.Tensor:
    r"""WDC deviations of random layers :math:`W \in \mathbb{R}^{n \times k}`, :math:`W_{ij} \sim \mathcal{N}(0, 1/n)`.

    For every ``n`` in ``n_values``, ``layers`` independent layers and ``pairs`` random pairs
    of unit directions :math:`(x, y)` per layer,

    .. math::

        \Big\|\sum_{i=1}^n 1_{\langle w_i, x\rangle > 0} 1_{\langle w_i, y\rangle > 0}\, w_i w_i^\top - Q_{x,y}\Big\|_2

    (:func:`ilib.angles.wdc_deviation`). For a fixed pair this is a sum of ``n`` iid centred
    rank-one terms of size :math:`k/n`, so it decays like :math:`\sqrt{k/n}`. Layers are processed in
    chunks of at most ``max_elements`` entries of the ``(layers, pairs, n)`` activation masks.

    Returns
    -------
    torch.Tensor
        Shape ``(len(n_values), layers, pairs)``, float64.
    """
    n_values = check_int_list(n_values, "n_values")
    k, layers, pairs = check_positive_int(k, "k"), check_positive_int(layers, "layers"), check_positive_int(pairs, "pairs")
    dev = resolve_device(device)
    g = make_generator(seed)
    out = torch.empty(len(n_values), layers, pairs, dtype=torch.float64)
    for a, n in enumerate(n_values):
        W = randn(layers, n, k, generator=g, dtype=torch.float64, device=dev) / math.sqrt(n)
        x = _random_directions(layers, pairs, k, g, torch.float64, dev)
        y = _random_directions(layers, pairs, k, g, torch.float64, dev)
        chunk = max(1, int(max_elements) // (pairs * n * k))
        for s in range(0, layers, chunk):
            out[a, s : s + chunk] = wdc_deviation(W[s : s + chunk], x[s : s + chunk], y[s : s + chunk]).cpu()
    return out


def rric_sweep(
    m_values: Sequence[int],
    widths: Sequence[int],
    *,
    instances: int,
    quadruples: int,
    seed: SeedLike = 0,
    device: DeviceLike = "auto",
) -> torch.Tensor:
    r"""RRIC deviations of Gaussian :math:`A \in \mathbb{R}^{m \times n}` (entries :math:`\mathcal{N}(0,1/m)`) on random quadruples.

    ``instances`` independent pairs (network, :math:`A`) per ``m``; latents :math:`x_j \sim \mathcal{N}(0, I_k)`.
    For fixed :math:`u, v` the deviation has standard deviation
    :math:`\sqrt{(1 + \cos^2\angle(u, v))/m}`, so it decays like :math:`m^{-1/2}` (see :func:`rric_deviation`).

    Returns
    -------
    torch.Tensor
        Shape ``(len(m_values), instances, quadruples)``, float64.
    """
    m_values = check_int_list(m_values, "m_values")
    instances, quadruples = check_positive_int(instances, "instances"), check_positive_int(quadruples, "quadruples")
    widths = [int(w) for w in widths]
    g = make_generator(seed)
    G = ReLUGenerator.random(widths, batch=instances, seed=g, dtype=torch.float64, device=device)
    k, n = G.latent_dim, G.output_dim
    xs = [randn(instances, quadruples, k, generator=g, dtype=torch.float64, device=G.device) for _ in range(4)]
    out = torch.empty(len(m_values), instances, quadruples, dtype=torch.float64)
    for a, m in enumerate(m_values):
        A = MatrixOperator.gaussian(m, n, batch=instances, seed=g, dtype=torch.float64, device=G.device)
        out[a] = rric_deviation(A, G, *xs).cpu()
    return out


def gradient_deviation_sweep(
    width_values: Sequence[int],
    *,
    k: int,
    depth: int,
    networks: int,
    points: int,
    seed: SeedLike = 0,
    device: DeviceLike = "auto",
) -> torch.Tensor:
    r"""How far the empirical gradient is from the expected one, :math:`2^d\|v_x - h_{x,x_0}\| / \|x_0\|`.

    Networks ``[k, w, ..., w]`` of depth ``d`` (weights :math:`\mathcal{N}(0, 1/w)`), unit
    :math:`x_0` and ``points`` random unit :math:`x` per network. The factor :math:`2^d` puts the
    deviation on the scale of :math:`h` itself (:math:`\|h\| \lesssim \|x\| + \|x_0\|` times :math:`2^{-d}`).
    Hand & Voroninski (2018) bound it by :math:`O(d^3 \sqrt{\epsilon})` under WDC(:math:`\epsilon`).

    Returns
    -------
    torch.Tensor
        Shape ``(len(width_values), networks, points)``, float64.
    """
    width_values = check_int_list(width_values, "width_values")
    k, depth = check_positive_int(k, "k"), check_positive_int(depth, "depth")
    networks, points = check_positive_int(networks, "networks"), check_positive_int(points, "points")
    g = make_generator(seed)
    out = torch.empty(len(width_values), networks, points, dtype=torch.float64)
    for a, w in enumerate(width_values):
        G = ReLUGenerator.random([k] + [w] * depth, batch=networks, seed=g, dtype=torch.float64, device=device)
        x0 = _random_directions(networks, 1, k, g, torch.float64, G.device)[:, 0]
        x = _random_directions(networks, points, k, g, torch.float64, G.device)
        with torch.no_grad():
            v = empirical_gradient(G, x, x0)
        h = expected_gradient(x, x0.unsqueeze(1), depth)
        out[a] = ((v - h).norm(dim=-1) * 2**depth).cpu()
    return out


@dataclass
class DescentResult:
    r"""Result of :func:`descent`.

    Attributes
    ----------
    x : final latents ``(B, R, k)``.
    x0 : ground truths ``(B, k)``.
    start : starting latents ``(B, R, k)``.
    loss : final :math:`f`, ``(B, R)``.
    error : :math:`\|x - x_0\| / \|x_0\|`, ``(B, R)``.
    projection : :math:`\langle x, x_0\rangle / \|x_0\|^2`, ``(B, R)``.
    flips : negation-check flips, ``(B, R)``.
    """

    x: torch.Tensor
    x0: torch.Tensor
    start: torch.Tensor
    loss: torch.Tensor
    error: torch.Tensor
    projection: torch.Tensor
    flips: torch.Tensor


def descent(
    generator: ReLUGenerator,
    x0: torch.Tensor,
    start: torch.Tensor,
    *,
    operator: Optional[LinearOperator] = None,
    steps: int,
    lr: float,
    negate_every: int = 0,
) -> DescentResult:
    r"""Gradient descent on :math:`f(x) = \tfrac12\|A G(x) - A G(x_0)\|^2`, with or without the negation check.

    Algorithm 1 of Huang, Hand, Heckel & Voroninski (2021): every ``negate_every`` steps (and
    before the first), replace :math:`x` by :math:`-x` where :math:`f(-x) < f(x)`; then

    .. math::

        x \leftarrow x - \alpha\, v_x, \qquad \alpha = \mathrm{lr} \cdot 2^d,

    where :math:`2^d` undoes the :math:`2^{-d}` scale of the Hand–Voroninski landscape (its Hessian
    at :math:`x_0` is about :math:`I / 2^d`), so ``lr`` near 1 is a well-scaled step at every depth.
    ``negate_every = 0`` is plain gradient descent. Runs :func:`ilib.optim.minimize` (``method="gd"``)
    on all ``B x R`` starts at once.

    Parameters
    ----------
    x0 : (B, k) ground truths; start : (B, R, k) starting points.
    """
    steps = check_positive_int(steps, "steps")
    check_positive(lr, "lr")
    if start.dim() != 3 or x0.dim() != 2 or start.shape[0] != x0.shape[0] or start.shape[2] != x0.shape[1]:
        raise ValueError(f"start must be (B, R, k) and x0 (B, k), got {tuple(start.shape)} and {tuple(x0.shape)}")
    with torch.no_grad():
        y0 = generator(x0.unsqueeze(1))
        if operator is not None:
            y0 = operator(y0)

    def fun(x: torch.Tensor) -> torch.Tensor:
        y = generator(x)
        if operator is not None:
            y = operator(y)
        r = y - y0
        return 0.5 * (r * r).sum(-1)

    res = minimize(fun, start, steps=steps, lr=lr * 2**generator.depth, method="gd", negate_every=int(negate_every))
    n0 = x0.norm(dim=-1, keepdim=True)
    err = (res.x - x0.unsqueeze(1)).norm(dim=-1) / n0
    proj = (res.x * x0.unsqueeze(1)).sum(-1) / (n0 * n0)
    return DescentResult(res.x, x0, start, res.loss, err, proj, res.flips)


def _expansive_widths(k: int, depth: int, expansion: float) -> list[int]:
    return [k] + [int(round(k * expansion**i)) for i in range(1, depth + 1)]


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


START_KINDS = ("random", "cone")


@dataclass
class SuccessSweep:
    r"""Result of :func:`success_sweep`.

    Keys are ``(case, negate, kind)`` with ``case`` in ``("inversion", "compressive")``,
    ``negate`` in ``(False, True)`` and ``kind`` in ``("random", "cone")``.

    Attributes
    ----------
    rate : ``(len(depth_values), len(expansion_values))`` success rates per key (NaN where a
        configuration was skipped because its output exceeds ``max_width``).
    wrong_side : same shape, the fraction ending with :math:`\langle x_T, x_0\rangle < 0`.
    projection : per key, a dict ``{(d, c): (B, R)}`` of final :math:`\langle x_T, x_0\rangle/\|x_0\|^2`.
    error : per key, a dict ``{(d, c): (B, R)}`` of :math:`\|x_T - x_0\|/\|x_0\|`.
    ray_t : per case, a dict ``{(d, c): (B,)}`` of every network's negative-ray critical point
        :math:`t^\star` (:func:`ray_critical_point`, with :math:`A` in the compressive case).
    widths, m : the widths and number of measurements of every configuration run.
    """

    depth_values: list
    expansion_values: list
    widths: dict
    m: dict
    rate: dict
    wrong_side: dict
    projection: dict
    error: dict
    ray_t: dict


def success_sweep(
    depth_values: Sequence[int],
    expansion_values: Sequence[float],
    *,
    k: int,
    networks: int,
    starts: int,
    cone_count: int,
    steps: int,
    lr: float,
    negate_every: int,
    cone_angle: float = math.pi / 6,
    m_factor: float = 8.0,
    max_width: int = 4096,
    tol: float = 0.1,
    init_std: float = 1.0,
    cases: Sequence[str] = ("inversion", "compressive"),
    seed: SeedLike = 0,
    dtype: DTypeLike = torch.float32,
    device: DeviceLike = "auto",
) -> SuccessSweep:
    r"""Success of gradient descent with and without the negation check, over depth and expansivity.

    For every depth ``d`` and expansion factor ``c``: ``networks`` random networks with widths
    :math:`n_i = \mathrm{round}(k c^i)` (skipped when :math:`n_d` exceeds ``max_width``), a random
    unit :math:`x_0` per network, and two kinds of starts per network: ``starts`` random ones,
    :math:`\mathcal{N}(0, \mathrm{init\_std}^2 I_k)`, and ``cone_count`` on the wrong side
    (:func:`cone_starts`, half-angle ``cone_angle`` around :math:`-x_0`, radii in
    :math:`[0.25, 1.5]\|x_0\|`). :func:`descent` runs plain (``negate_every = 0``) and with the
    negation check, for inversion (:math:`A = I`) and the compressive case (Gaussian :math:`A` with
    :math:`m = \min(n_d, \lceil m_\mathrm{factor}\, k d\rceil)` rows), on the same networks,
    targets and starts, all starts of a configuration in one batch.
    A run succeeds when :math:`\|x_T - x_0\| \le \mathrm{tol}\,\|x_0\|`.
    """
    depth_values = check_int_list(depth_values, "depth_values")
    expansion_values = check_list(expansion_values, "expansion_values", check_positive)
    k, networks = check_positive_int(k, "k"), check_positive_int(networks, "networks")
    starts, cone_count = check_positive_int(starts, "starts"), check_positive_int(cone_count, "cone_count")
    steps = check_positive_int(steps, "steps")
    check_positive(lr, "lr")
    negate_every = check_positive_int(negate_every, "negate_every")
    check_positive(m_factor, "m_factor")
    check_positive(tol, "tol")
    check_positive(init_std, "init_std")
    max_width = check_positive_int(max_width, "max_width")
    cases = list(cases)
    for c in cases:
        if c not in ("inversion", "compressive"):
            raise ValueError(f"cases must hold 'inversion' and/or 'compressive', got {c!r}")
    dt = resolve_dtype(dtype)
    g = make_generator(seed)
    shape = (len(depth_values), len(expansion_values))
    keys = [(c, neg, kind) for c in cases for neg in (False, True) for kind in START_KINDS]
    rate = {key: torch.full(shape, float("nan"), dtype=torch.float64) for key in keys}
    wrong = {key: torch.full(shape, float("nan"), dtype=torch.float64) for key in keys}
    proj = {key: {} for key in keys}
    errs = {key: {} for key in keys}
    ray_t = {c: {} for c in cases}
    widths_used, m_used = {}, {}
    for a, d in enumerate(depth_values):
        for b, c in enumerate(expansion_values):
            widths = _expansive_widths(k, d, c)
            if widths[-1] > max_width:
                continue
            widths_used[(d, c)] = widths
            G = ReLUGenerator.random(widths, batch=networks, seed=g, dtype=dt, device=device)
            x0 = _random_directions(networks, 1, k, g, dt, G.device)[:, 0]
            x_rand = init_std * randn(networks, starts, k, generator=g, dtype=dt, device=G.device)
            x_cone = cone_starts(x0, cone_count, angle=cone_angle, radii=(0.25, 1.5), generator=g)
            x_start = torch.cat([x_rand, x_cone], dim=1)
            m = min(widths[-1], int(math.ceil(m_factor * k * d)))
            m_used[(d, c)] = m
            A = MatrixOperator.gaussian(m, widths[-1], batch=networks, seed=g, dtype=dt, device=G.device)
            for case in cases:
                op = A if case == "compressive" else None
                with torch.no_grad():
                    ray_t[case][(d, c)] = ray_critical_point(G, x0, op).to(torch.float64).cpu()
                for neg in (False, True):
                    res = descent(G, x0, x_start, operator=op, steps=steps, lr=lr, negate_every=negate_every if neg else 0)
                    for kind, sl in (("random", slice(0, starts)), ("cone", slice(starts, starts + cone_count))):
                        e, p = res.error[:, sl], res.projection[:, sl]
                        key = (case, neg, kind)
                        rate[key][a, b] = (e <= tol).to(torch.float64).mean().item()
                        wrong[key][a, b] = (p < 0).to(torch.float64).mean().item()
                        proj[key][(d, c)] = p.to(torch.float64).cpu()
                        errs[key][(d, c)] = e.to(torch.float64).cpu()
    return SuccessSweep(depth_values, expansion_values, widths_used, m_used, rate, wrong, proj, errs, ray_t)


@dataclass
class DenoisingResult:
    r"""Result of :func:`denoising_sweep`.

    ``error[a, s]`` holds :math:`\|G(\hat x) - G(x^*)\|^2` for ``k_values[a]`` and
    ``sigma2_values[s]``, one value per (network, trial): shape ``(K, S, B * T)``.
    ``noise_energy`` holds :math:`\|\eta\|^2` likewise; ``n`` is the output dimension.
    """

    k_values: list
    sigma2_values: list
    n: int
    error: torch.Tensor
    noise_energy: torch.Tensor
    latent_error: torch.Tensor


def denoising_sweep(
    k_values: Sequence[int],
    sigma2_values: Sequence[float],
    *,
    hidden: int,
    n: int,
    networks: int,
    trials: int,
    steps: int,
    lr: float,
    negate_every: int,
    seed: SeedLike = 0,
    dtype: DTypeLike = torch.float64,
    device: DeviceLike = "auto",
) -> DenoisingResult:
    r"""Denoising with a random two-layer network (Heckel, Huang, Hand & Voroninski 2018, Fig. 3).

    Networks ``k - hidden - n`` with weights :math:`\mathcal{N}(0, 2/n_i)` (norm preserving),
    :math:`x^* \sim \mathcal{N}(0, I_k)`, :math:`y = G(x^*) + \eta`,
    :math:`\eta \sim \mathcal{N}(0, \sigma^2 I_n / n)` (so :math:`\mathbb{E}\|\eta\|^2 = \sigma^2`),
    and :math:`\hat x` from gradient descent with the negation check on
    :math:`\tfrac12\|G(x) - y\|^2` (:func:`ilib.optim.minimize`). The theorem bounds

    .. math::

        \|G(\hat x) - G(x^*)\|^2 \lesssim \sigma^2 \frac{k}{n}

    up to logarithmic and depth factors; near :math:`x^*` the network is the linear map
    :math:`\Lambda_{x^*}` of rank :math:`k`, and projecting the noise onto its range gives exactly
    :math:`\sigma^2 k/n` in expectation.

    All (σ², network, trial) problems for one ``k`` run in one batch; ``k`` values run in turn
    because the latent dimension changes the network.
    """
    k_values = check_int_list(k_values, "k_values")
    sigma2_values = check_list(sigma2_values, "sigma2_values", check_nonneg)
    hidden, n = check_positive_int(hidden, "hidden"), check_positive_int(n, "n")
    networks, trials, steps = check_positive_int(networks, "networks"), check_positive_int(trials, "trials"), check_positive_int(steps, "steps")
    check_positive(lr, "lr")
    negate_every = check_positive_int(negate_every, "negate_every")
    for k in k_values:
        if k > n:
            raise ValueError(f"every element of k_values must be at most n={n}, got k={k}")
    dt = resolve_dtype(dtype)
    g = make_generator(seed)
    S, B, T = len(sigma2_values), networks, trials
    err = torch.empty(len(k_values), S, B * T, dtype=torch.float64)
    noise = torch.empty_like(err)
    lat = torch.empty_like(err)
    sig = torch.tensor(sigma2_values, dtype=dt).sqrt()
    for a, k in enumerate(k_values):
        G = ReLUGenerator.random([k, hidden, n], batch=B, seed=g, gain=2.0, dtype=dt, device=device)
        dev = G.device
        x_star = randn(B, S * T, k, generator=g, dtype=dt, device=dev)
        eta = randn(B, S * T, n, generator=g, dtype=dt, device=dev) / math.sqrt(n)
        eta = eta * sig.to(dev).repeat_interleave(T).reshape(1, S * T, 1)
        with torch.no_grad():
            clean = G(x_star)
            y = clean + eta

        def fun(x: torch.Tensor) -> torch.Tensor:
            r = G(x) - y
            return 0.5 * (r * r).sum(-1)

        start = randn(B, S * T, k, generator=g, dtype=dt, device=dev)
        res = minimize(fun, start, steps=steps, lr=lr, method="gd", negate_every=negate_every)
        with torch.no_grad():
            e = ((G(res.x) - clean) ** 2).sum(-1)  # (B, S*T)
            le = (res.x - x_star).norm(dim=-1) / x_star.norm(dim=-1)
        to = lambda t: t.reshape(B, S, T).permute(1, 0, 2).reshape(S, B * T).to(torch.float64).cpu()  # noqa: E731
        err[a] = to(e)
        noise[a] = to((eta * eta).sum(-1))
        lat[a] = to(le)
    return DenoisingResult(k_values, sigma2_values, n, err, noise, lat)
