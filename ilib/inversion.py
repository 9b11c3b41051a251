r"""Inverting random ReLU generators one layer at a time, and how much expansion each method needs.

A bias-free ReLU network :math:`G(z) = \mathrm{relu}(W_d \cdots \mathrm{relu}(W_1 z))` with
:math:`W_i \in \mathbb{R}^{n_i \times n_{i-1}}` is inverted from the output back, one layer at a time
(Lei, Jalal, Dhillon & Dimakis, "Inverting Deep Generative Models, One Layer at a Time",
NeurIPS 2019). For one layer :math:`y = \mathrm{relu}(W x)` the preimage is the polyhedron

.. math::

    \{x : w_j^\top x = y_j \ (j \in S),\ w_j^\top x \le 0 \ (j \notin S)\}, \qquad S = \{j : y_j > 0\},

a linear-programming feasibility problem.

* **Least squares on the active rows** (:func:`invert_layer`, :func:`invert_network`): when
  :math:`W_S` has full column rank the preimage is the single point :math:`W_S^{+} y_S`; when
  :math:`\mathrm{rank}\, W_S < n_{i-1}` and the input's sign is free (the latent layer) it contains a
  segment, and this method reports the layer as not invertible. For Gaussian weights
  :math:`|S| \sim \mathrm{Bin}(n_i, 1/2)`, so least squares succeeds with probability
  :math:`\prod_i \Pr[\mathrm{Bin}(n_i, \tfrac12) \ge n_{i-1}]` (:func:`predicted_exact_success`).
* **The non-negative LP** (:func:`invert_layer_nnlp`, :func:`invert_network_nnlp`): a hidden layer's
  input is a ReLU output, :math:`h \ge 0`. Within :math:`h \ge 0` the preimage is a point iff
  :math:`\ker W_S` meets the cone :math:`\{d : d_Z \ge 0\}` (:math:`Z` the zeros of :math:`h`) only at 0,
  which happens with fewer than :math:`n_{i-1}` active rows, with the probability of
  :func:`preimage_point_probability` (Crofton's formula); :math:`\min \mathbf 1^\top h` over the
  preimage recovers still more.

With noise, :math:`y = \mathrm{relu}(Wx) + e`, the :math:`\ell_\infty` LP

.. math::

    \min_{x, t}\ t \quad \text{s.t.}\quad |w_j^\top x - y_j| \le t \ (y_j > \tau), \qquad
    w_j^\top x \le y_j + t \ (y_j \le \tau),

with an activity threshold :math:`\tau \approx 2\|e\|_\infty`, and an :math:`\ell_1` variant with one slack
per row, are solved with HiGHS (``scipy.optimize.linprog``), one call per problem: stacking a batch
into one block-diagonal LP is available (``stacked=True``) and gives the same optima, but HiGHS does
not split the blocks and it was not faster. Its guaranteed error is
:math:`2\|W_S^{+}\|_{\infty\to\infty}\|e\|_\infty` (:func:`linf_lp_error_bound`). Everything else (least
squares, rank checks, certificates, forward passes, gradient descent) is batched over problems.

The gradient method of Hand & Voroninski (2018) / Huang, Hand, Heckel & Voroninski (2021) with the
negation check runs through :func:`ilib.minimize` on :math:`f(z) = \|G(z) - y\|^2` (or
:math:`\|A G(z) - y\|^2`), and the Weight Distribution Condition's constant (Daskalakis, Rohatgi &
Zampetakis, NeurIPS 2020, show constant expansion suffices for it) is estimated from below by a
search over pairs (:func:`wdc_sup_estimate`, :func:`wdc_sup_saturated`). The sweeps over expansion,
latent dimension and noise live in :mod:`ilib.experiments.layerwise_inversion`.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import Callable, Optional, Sequence

import numpy as np
import torch

from ._checks import (
    check_elements, check_int, check_int_list, check_list, check_nonneg, check_nonneg_int, check_positive, check_positive_int,
)
from .angles import wdc_deviation, wdc_matrix
from .device import DeviceLike, DTypeLike, SeedLike, make_generator, rand, randn, resolve_device, resolve_dtype
from .generators import ReLUGenerator
from .operators import LinearOperator
from .optim import minimize

NORMS = ("linf", "l1")
PROPAGATE = ("rms", "observed", "bound", "same")

__all__ = [
    "LayerInversion",
    "NetworkInversion",
    "NNLPInversion",
    "LayerLP",
    "LPInversion",
    "GDInversion",
    "expansion_widths",
    "predicted_exact_success",
    "preimage_point_probability",
    "predicted_point_success",
    "invert_layer",
    "layer_preimage",
    "invert_network",
    "invert_layer_nnlp",
    "invert_network_nnlp",
    "preimage_is_point",
    "layer_lp",
    "invert_layer_lp",
    "invert_network_lp",
    "linf_lp_error_bound",
    "invert_gd",
    "bounded_noise",
    "random_problems",
    "wdc_sup_estimate",
    "wdc_sup_saturated",
]


# ---------------------------------------------------------------------------------------------- checks
def _check_layer_args(W: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    if W.dim() == 2:
        W = W.unsqueeze(0)
    if y.dim() == 1:
        y = y.unsqueeze(0)
    if W.dim() != 3:
        raise ValueError(f"W must have shape (B, n_out, n_in), got {tuple(W.shape)}")
    if y.dim() != 2 or y.shape[-1] != W.shape[1]:
        raise ValueError(f"y must have shape (B, n_out) with n_out={W.shape[1]}, got {tuple(y.shape)}")
    if W.shape[0] == 1 and y.shape[0] > 1:
        W = W.expand(y.shape[0], -1, -1)
    if W.shape[0] != y.shape[0]:
        raise ValueError(f"W has batch {W.shape[0]} but y has batch {y.shape[0]}")
    if not torch.isfinite(y).all():
        raise ValueError("y must be finite (it holds NaN or inf)")
    return W, y.to(W.dtype)


def expansion_widths(k: int, r: float, depth: int) -> list[int]:
    r"""Widths :math:`[k, \mathrm{round}(k r), \mathrm{round}(k r^2), \dots]` of a net expanding by ``r`` per layer.

    Parameters
    ----------
    k : int
        Latent dimension.
    r : float
        Expansion ratio per layer, :math:`r > 0`.
    depth : int
        Number of layers ``d``.
    """
    k = check_positive_int(k, "k")
    depth = check_positive_int(depth, "depth")
    r = check_positive(r, "r")
    widths = [k]
    for i in range(1, depth + 1):
        widths.append(max(1, int(round(k * r**i))))
    return widths


def predicted_exact_success(widths: Sequence[int]) -> float:
    r"""Probability that layer-wise exact inversion of a random Gaussian net succeeds.

    .. math::

        p(n_0, \dots, n_d) = \prod_{i=1}^{d} \Pr\big[\mathrm{Bin}(n_i, \tfrac12) \ge n_{i-1}\big].

    Given its (nonzero) input, each pre-activation :math:`w_j^\top h_{i-1}` of a layer with iid
    symmetric continuous weights is positive with probability 1/2, independently over rows ``j`` and
    independently of the other layers' weights; the active rows of a Gaussian matrix have full column
    rank almost surely once there are at least :math:`n_{i-1}` of them. [DER, following the counting
    argument in Lei et al. 2019.]
    """
    from scipy.stats import binom

    widths = [int(w) for w in widths]
    if len(widths) < 2 or any(w < 1 for w in widths):
        raise ValueError(f"widths must list at least two positive integers, got widths={widths}")
    p = 1.0
    for n_in, n_out in zip(widths[:-1], widths[1:]):
        p *= float(binom.sf(n_in - 1, n_out, 0.5))
    return p


# ---------------------------------------------------------------------------------------------- linear algebra
def _masked_qr(W: torch.Tensor, active: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    r"""``R`` of the QR factorisation of :math:`W_S` (inactive rows zeroed) and :math:`Q^\top y_S`, for the batch.

    One Householder factorisation of the augmented matrix :math:`[W_S \mid y_S]` gives both without
    forming ``Q``: its ``R`` factor is :math:`\begin{pmatrix} R & Q^\top y_S \\ 0 & \rho\end{pmatrix}`.
    """
    mask = active.to(W.dtype)
    aug = torch.cat([W * mask.unsqueeze(-1), (y * mask).unsqueeze(-1)], dim=-1)
    n_in = W.shape[-1]
    if aug.shape[1] < aug.shape[2]:  # fewer rows than unknowns + 1: pad with zero rows
        pad = torch.zeros(aug.shape[0], aug.shape[2] - aug.shape[1], aug.shape[2], dtype=W.dtype, device=W.device)
        aug = torch.cat([aug, pad], dim=1)
    Ra = torch.linalg.qr(aug, mode="r").R
    return Ra[:, :n_in, :n_in], Ra[:, :n_in, n_in]


def _extreme_singular_values(R: torch.Tensor, iters: int = 12) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Estimates of :math:`\sigma_{\max}(R)` and :math:`\sigma_{\min}(R)` for a batch of triangular ``R``.

    Power iteration on :math:`R^\top R` and inverse iteration (two triangular solves a step) from a fixed
    deterministic start: :math:`O(k^2)` a step instead of the :math:`O(k^3)` of an SVD. The estimates
    satisfy :math:`\hat\sigma_{\max} \le \sigma_{\max}` and :math:`\hat\sigma_{\min} \ge \sigma_{\min}`; from a
    start with a component :math:`\gtrsim k^{-1/2}` on the extreme singular vectors they are within a
    factor :math:`\sqrt{k}` after one step and converge geometrically. A singular ``R`` gives 0.
    """
    B, k, _ = R.shape
    j = torch.arange(k, dtype=R.dtype, device=R.device)
    v0 = 1.0 + 0.5 * torch.sin(1.7 * j + 0.3)
    v0 = (v0 / v0.norm()).expand(B, k).unsqueeze(-1).contiguous()
    v = v0
    smax = torch.zeros(B, dtype=R.dtype, device=R.device)
    for _ in range(iters):
        w = torch.bmm(R, v)
        smax = w.norm(dim=(1, 2))
        u = torch.bmm(R.transpose(1, 2), w)
        v = u / u.norm(dim=(1, 2), keepdim=True).clamp_min(torch.finfo(R.dtype).tiny)
    diag = torch.diagonal(R, dim1=-2, dim2=-1).abs()
    singular = (diag == 0).any(-1) | ~torch.isfinite(R).all(-1).all(-1)
    eye = torch.eye(k, dtype=R.dtype, device=R.device)
    Rs = torch.where(singular[:, None, None], eye.expand(B, k, k), R)
    v = v0
    growth = torch.ones(B, dtype=R.dtype, device=R.device)
    for _ in range(iters):
        w = torch.linalg.solve_triangular(Rs.transpose(1, 2), v, upper=False)  # R^{-T} v
        u = torch.linalg.solve_triangular(Rs, w, upper=True)  # R^{-1} R^{-T} v
        growth = u.norm(dim=(1, 2)).sqrt()  # ~ 1 / sigma_min after convergence
        v = u / u.norm(dim=(1, 2), keepdim=True).clamp_min(torch.finfo(R.dtype).tiny)
    ok = torch.isfinite(growth) & (growth > 0)
    smin = torch.where(ok & ~singular, 1.0 / torch.where(ok, growth, torch.ones_like(growth)), torch.zeros_like(growth))
    smax = torch.maximum(smax, diag.amax(-1))
    smin = torch.minimum(smin, diag.amin(-1))
    return smax, smin


def _solve_r(R: torch.Tensor, rhs: torch.Tensor, full: torch.Tensor) -> torch.Tensor:
    """Solve ``R x = rhs`` where ``full``; elsewhere an identity stands in so the batch stays finite."""
    B, k, _ = R.shape
    eye = torch.eye(k, dtype=R.dtype, device=R.device).expand(B, k, k)
    Rs = torch.where(full[:, None, None], R, eye)
    return torch.linalg.solve_triangular(Rs, rhs.unsqueeze(-1), upper=True).squeeze(-1)


# ---------------------------------------------------------------------------------------------- exact, one layer
@dataclass
class LayerInversion:
    """Result of :func:`invert_layer` for ``B`` independent layers.

    Attributes
    ----------
    x : (B, n_in) the preimage where it is unique, NaN where the layer is not invertible.
    invertible : (B,) True where the active rows have full column rank and the certificate holds.
    n_active : (B,) number of active rows :math:`|S|`.
    rank : (B,) ``n_in`` where :math:`W_S` has full column rank, else the upper bound :math:`\\min(|S|, n_{in} - 1)`.
    cond : (B,) condition number of :math:`W_S` (inf where rank deficient).
    residual : (B,) :math:`\\max_{j \\in S} |w_j^\\top x - y_j| / \\|y\\|_\\infty`.
    violation : (B,) :math:`\\max_{j \\notin S} (w_j^\\top x - y_j)_+ / \\|y\\|_\\infty`.
    certified : (B,) residual and violation within ``cert_tol`` (False where not invertible).
    """

    x: torch.Tensor
    invertible: torch.Tensor
    n_active: torch.Tensor
    rank: torch.Tensor
    cond: torch.Tensor
    residual: torch.Tensor
    violation: torch.Tensor
    certified: torch.Tensor


def invert_layer(
    W: torch.Tensor,
    y: torch.Tensor,
    *,
    relu: bool = True,
    active_tol: float = 1e-9,
    rank_rtol: float = 1e-10,
    cert_tol: float = 1e-7,
) -> LayerInversion:
    r"""Exact inversion of ``B`` ReLU layers :math:`y = \mathrm{relu}(W x)` by least squares on the active rows.

    .. math::

        S = \{j : y_j > \mathrm{active\_tol}\,\|y\|_\infty\}, \qquad
        \hat x = \arg\min_x \|W_S x - y_S\|_2 ,

    computed for the whole batch with one QR factorisation of the masked matrices (inactive rows
    zeroed). The singular values of ``R`` (those of :math:`W_S`) decide the rank: if
    :math:`\sigma_{\min}/\sigma_{\max} \le` ``rank_rtol`` the preimage is not a point and the layer is
    reported as not invertible (``x`` is NaN there). Otherwise the certificate
    :math:`W_S \hat x = y_S`, :math:`W_{S^c}\hat x \le 0` is checked to ``cert_tol`` (relative to
    :math:`\|y\|_\infty`); the realizable case satisfies it (Lei et al. 2019).

    Parameters
    ----------
    W : (B, n_out, n_in) or (n_out, n_in)
        Layer weights.
    y : (B, n_out)
        Layer outputs.
    relu : bool
        ``False`` treats the layer as linear (every row active, no inequalities).
    active_tol, rank_rtol, cert_tol : float
        Relative tolerances for activity, rank and the certificate.
    """
    W, y = _check_layer_args(W, y)
    for name, v in (("active_tol", active_tol), ("rank_rtol", rank_rtol), ("cert_tol", cert_tol)):
        check_nonneg(v, name)
    B, n_out, n_in = W.shape
    scale = y.abs().amax(dim=-1).clamp_min(torch.finfo(W.dtype).tiny)  # (B,)
    if relu:
        active = y > active_tol * scale.unsqueeze(-1)
    else:
        active = torch.ones_like(y, dtype=torch.bool)
    R, qty = _masked_qr(W, active, y)
    smax, smin = _extreme_singular_values(R)
    full = (active.sum(-1) >= n_in) & (smin > rank_rtol * smax)
    rank = torch.where(full, torch.full_like(active.sum(-1), n_in), torch.minimum(active.sum(-1), torch.full_like(active.sum(-1), n_in - 1)))
    cond = torch.where(full, smax / smin.clamp_min(torch.finfo(W.dtype).tiny), torch.full_like(smax, math.inf))
    x = _solve_r(R, qty, full)
    pre = torch.bmm(W, x.unsqueeze(-1)).squeeze(-1)
    neg_inf = torch.full_like(pre, -math.inf)
    residual = torch.where(active, (pre - y).abs(), neg_inf).amax(-1).clamp_min(0.0) / scale
    violation = torch.where(active, neg_inf, pre - y).amax(-1).clamp_min(0.0) / scale
    certified = full & (residual <= cert_tol) & (violation <= cert_tol)
    invertible = certified
    x = torch.where(invertible.unsqueeze(-1), x, torch.full_like(x, math.nan))
    return LayerInversion(
        x=x,
        invertible=invertible,
        n_active=active.sum(-1),
        rank=rank,
        cond=cond,
        residual=residual,
        violation=violation,
        certified=certified,
    )


def layer_preimage(W: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    r"""The unique preimage of one ReLU layer output, or NaN if it is not unique.

    The single-problem form of :func:`invert_layer`: ``W`` of shape ``(n_out, n_in)``, ``y`` of shape
    ``(n_out,)``; returns :math:`W_S^{+} y_S` with :math:`S = \{j : y_j > 0\}` (up to round-off) when
    :math:`W_S` has full column rank and the inactive rows satisfy :math:`W_{S^c} x \le 0`, else a
    vector of NaN.
    """
    if W.dim() != 2 or y.dim() != 1:
        raise ValueError(f"W must be (n_out, n_in) and y (n_out,), got {tuple(W.shape)} and {tuple(y.shape)}")
    return invert_layer(W.unsqueeze(0), y.unsqueeze(0)).x.squeeze(0)


@dataclass
class NetworkInversion:
    r"""Result of :func:`invert_network` or :func:`invert_network_lp` for ``B`` networks.

    Attributes
    ----------
    z : (B, ..., k) recovered latents, NaN where inversion failed.
    invertible : (B, ...) every layer was inverted (uniquely, with its certificate).
    failed_layer : (B, ...) the layer (1-based, counted from the input) where inversion stopped,
        going from the output back; 0 where none failed.
    n_active : (B, ..., d) rows treated as active in every layer (column ``i-1`` is layer ``i``).
    layers : per-layer results, ``layers[i-1]`` for layer ``i``.
    hidden : (LP inversion only) ``hidden[i-1]``, shape (B, ..., n_{i-1}): the estimate of layer ``i``'s input
        handed down (clipped at 0 for hidden layers; the latent for ``i = 1``), NaN where the problem stopped.
    error_levels : (LP inversion only) (B, ..., d): column ``i-1`` is the error level :math:`\epsilon_{i-1}`
        assumed for layer ``i``'s input (with ``propagate="bound"`` column 0 bounds :math:`\|\hat z - z^*\|_\infty`).
    """

    z: torch.Tensor
    invertible: torch.Tensor
    failed_layer: torch.Tensor
    n_active: torch.Tensor
    layers: list = field(default_factory=list)
    hidden: list = field(default_factory=list)
    error_levels: Optional[torch.Tensor] = None


def _flatten_problems(generator: ReLUGenerator, x: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor, tuple[int, ...]]:
    """Weights and outputs flattened to one problem per row: ``(B*L, n_i, n_{i-1})`` and ``(B*L, n)``."""
    if not isinstance(generator, ReLUGenerator):
        raise TypeError(f"generator must be a ReLUGenerator, not {type(generator).__name__}")
    if x.dim() < 2 or x.shape[-1] != generator.output_dim:
        raise ValueError(f"x must have shape (B, ..., {generator.output_dim}), got {tuple(x.shape)}")
    lead = tuple(x.shape[:-1])
    B = lead[0]
    L = int(np.prod(lead[1:])) if len(lead) > 1 else 1
    if generator.batch not in (1, B):
        raise ValueError(f"x has batch {B} but the generator holds {generator.batch} networks")
    weights = []
    for w in generator.weights:
        w = w.expand(B, -1, -1) if generator.batch == 1 else w
        if L > 1:
            w = w.unsqueeze(1).expand(B, L, *w.shape[1:]).reshape(B * L, *w.shape[1:])
        weights.append(w)
    return weights, x.reshape(B * L, x.shape[-1]).to(generator.dtype), lead


def invert_network(
    generator: ReLUGenerator,
    x: torch.Tensor,
    *,
    active_tol: float = 1e-9,
    rank_rtol: float = 1e-10,
    cert_tol: float = 1e-7,
) -> NetworkInversion:
    r"""Exact layer-wise inversion of ``B`` networks: :math:`h_d = x`, then :math:`h_{i-1} = W_{i,S}^{+} h_{i,S}`.

    Lei, Jalal, Dhillon & Dimakis (2019), "Inverting Deep Generative Models, One Layer at a Time":
    each layer is inverted exactly when its active rows have full column rank; the hidden layers'
    preimages must also be non-negative (they are ReLU outputs), which is part of the certificate.
    Every layer is solved for the whole batch at once (:func:`invert_layer`).

    Parameters
    ----------
    generator : ReLUGenerator
        ``B`` networks (or one shared).
    x : (B, ..., n)
        Outputs :math:`G(z^*)`; network ``b`` produced every output in slice ``b``.

    Returns
    -------
    NetworkInversion
        ``z`` has shape ``(B, ..., k)``; ``layers`` hold the flattened per-layer results.
    """
    tols = dict(active_tol=active_tol, rank_rtol=rank_rtol, cert_tol=cert_tol)

    def hidden(W, h_in, relu):
        res = invert_layer(W, h_in, relu=relu, **tols)
        # a hidden layer's preimage is a ReLU output: it must be non-negative
        scale = h_in.abs().amax(-1).clamp_min(torch.finfo(h_in.dtype).tiny)
        neg = (-res.x).clamp_min(0.0).amax(-1) / scale
        return res, res.invertible & (neg <= cert_tol), res.x.clamp_min(0.0)

    return _layer_by_layer(generator, x, hidden, tols)


def _layer_by_layer(generator: ReLUGenerator, x: torch.Tensor, hidden: Callable, tols: dict) -> NetworkInversion:
    """From the output back: ``hidden(W, h, relu) -> (result, ok, input)`` at every hidden layer, least squares on
    the active rows (:func:`invert_layer`) at the latent; a problem fails at the first layer that is not ``ok``."""
    weights, h, lead = _flatten_problems(generator, x)
    B, d = h.shape[0], len(weights)
    ok = torch.ones(B, dtype=torch.bool, device=x.device)
    failed = torch.zeros(B, dtype=torch.long, device=x.device)
    n_active = torch.zeros(B, d, dtype=torch.long, device=x.device)
    layers: list = [None] * d
    for i in range(d, 0, -1):
        relu = i < d or generator.output_relu
        # rows that already failed carry NaN; give them zeros so the batch stays finite
        h_in = torch.where(ok.unsqueeze(-1), h, torch.zeros_like(h))
        if i > 1:
            res, layer_ok, h_next = hidden(weights[i - 1], h_in, relu)
        else:
            res = invert_layer(weights[0], h_in, relu=relu, **tols)
            layer_ok, h_next = res.invertible, res.x
        newly = ok & ~layer_ok
        failed = torch.where(newly, torch.full_like(failed, i), failed)
        ok = ok & layer_ok
        n_active[:, i - 1] = torch.where(ok | newly, res.n_active, torch.full_like(res.n_active, -1))
        layers[i - 1] = res
        h = h_next
    z = torch.where(ok.unsqueeze(-1), h, torch.full_like(h, math.nan))
    return NetworkInversion(
        z=z.reshape(*lead, -1), invertible=ok.reshape(lead), failed_layer=failed.reshape(lead),
        n_active=n_active.reshape(*lead, d), layers=layers,
    )


# ---------------------------------------------------------------------------------------------- exact, hidden layers: h >= 0
def preimage_point_probability(n_in: int, support: int, n_active: int) -> float:
    r"""Probability that a hidden layer's preimage, within :math:`h \ge 0`, is a single point.

    The true input :math:`h^* \ge 0` has ``support`` positive entries and :math:`b = n_{in} - s` zeros
    (set :math:`Z`); the output has ``n_active`` = :math:`m` active rows :math:`S`. Near :math:`h^*` the
    preimage :math:`\{h \ge 0 : W_S h = y_S,\ W_{S^c} h \le 0\}` is :math:`h^* + (\ker W_S \cap C)`
    with the cone :math:`C = \mathbb{R}^s \times \mathbb{R}_+^{b}` (the inactive rows are strict at
    :math:`h^*`), and it is convex, so it is a point iff :math:`\ker W_S \cap C = \{0\}`. For Gaussian
    rows the kernel is uniformly distributed given :math:`m` (a row conditioned on
    :math:`w^\top h^* > 0` is :math:`\pm` a Gaussian row, with the same kernel), so the Crofton formula
    (Amelunxen, Lotz, McCoy & Tropp 2014, §6; Wendel 1962 for the orthant) with the intrinsic volumes
    :math:`v_j(C) = \binom{b}{j - s} 2^{-b}` gives

    .. math::

        \Pr[\text{point}] = 1 - 2\sum_{l \ge 0} v_{m + 1 + 2l}(C)
        = 1 - 2\sum_{l \ge 0} \Pr\big[\mathrm{Bin}(b, \tfrac12) = m + 1 - s + 2l\big],

    1 when :math:`m \ge n_{in}`, and 0 when :math:`b = 0` and :math:`m < n_{in}` (then :math:`C` is a
    subspace and the preimage contains a segment) [DER]. With no sign constraint (the latent layer)
    the preimage is a point iff :math:`m \ge n_{in}`.
    """
    n_in = check_positive_int(n_in, "n_in")
    support = check_int(support, "support", lo=0, hi=n_in)
    n_active = check_nonneg_int(n_active, "n_active")
    return float(_point_probability_table(n_in, support)[min(n_active, n_in)])


@functools.lru_cache(maxsize=4096)
def _point_probability_table(n_in: int, support: int) -> np.ndarray:
    """``p[m]``, m = 0..n_in, of :func:`preimage_point_probability` for one (n_in, support)."""
    from scipy.stats import binom

    b = n_in - support
    m = np.arange(n_in + 1)
    if b == 0:
        return (m >= n_in).astype(float)
    pmf = binom.pmf(np.arange(b + 1), b, 0.5)
    # 1 - 2 sum_{l >= 0} pmf[j0 + 2l] = 2 sum_{l >= 1} pmf[j0 - 2l] (the two parities each sum to 1/2),
    # summed from below so that no cancellation leaves a rounding residue where the probability is 0
    head2 = np.zeros(b + 3)  # head2[j + 2] = pmf[j] + pmf[j - 2] + ...
    for j in range(b + 1):
        head2[j + 2] = pmf[j] + head2[j]
    j0 = np.clip(m + 1 - support, 0, b + 2)  # j0 <= 1: the cone always meets the kernel
    return np.clip(np.where(m >= n_in, 1.0, 2.0 * head2[j0]), 0.0, 1.0)


def predicted_point_success(widths: Sequence[int]) -> float:
    r"""Probability that every layer's preimage of a random Gaussian net is a single point (hidden layers within :math:`h \ge 0`).

    Active-row counts :math:`s_i = |S_i| \sim \mathrm{Bin}(n_i, \tfrac12)` are independent across layers,
    the support of :math:`h_{i-1}` is :math:`s_{i-1}`, and given the counts the kernels are independent
    and uniformly distributed, so

    .. math::

        p = \sum_{s_1, \dots, s_d} \prod_{i=1}^d \binom{n_i}{s_i}2^{-n_i}\ \cdot\ 1[s_1 \ge n_0]
        \prod_{i=2}^{d} P_{\mathrm{pt}}(n_{i-1}, s_{i-1}, s_i),

    with :math:`P_{\mathrm{pt}}` from :func:`preimage_point_probability`, summed layer by layer
    [DER]. It is at least :func:`predicted_exact_success`, the probability that least squares
    succeeds (every :math:`s_i \ge n_{i-1}`).
    """
    from scipy.stats import binom

    widths = [int(w) for w in widths]
    if len(widths) < 2 or any(w < 1 for w in widths):
        raise ValueError(f"widths must list at least two positive integers, got widths={widths}")
    s1 = np.arange(widths[1] + 1)
    v = binom.pmf(s1, widths[1], 0.5) * (s1 >= widths[0])  # over s_1
    for i in range(2, len(widths)):
        n_in, n_out = widths[i - 1], widths[i]
        s_out = np.arange(n_out + 1)
        pmf = binom.pmf(s_out, n_out, 0.5)
        table = np.stack([_point_probability_table(n_in, s)[np.minimum(s_out, n_in)] for s in range(n_in + 1)])
        v = (v @ table) * pmf  # over s_i
    return float(v.sum())


def _nnlp_problem(W: np.ndarray, y: np.ndarray, active: np.ndarray) -> dict:
    """The arrays of :func:`invert_layer_nnlp`'s LP for one layer, as ``scipy.optimize.linprog`` keywords."""
    n_in = W.shape[1]
    kw = dict(c=np.ones(n_in), A_eq=W[active], b_eq=y[active], bounds=[(0.0, None)] * n_in)
    if (~active).any():
        kw.update(A_ub=W[~active], b_ub=np.zeros(int((~active).sum())))
    return kw


@dataclass
class NNLPInversion:
    r"""Result of :func:`invert_layer_nnlp` for ``B`` hidden layers.

    Attributes
    ----------
    x : (B, n_in) the solution, NaN where the LP failed.
    solved : (B,) a solution was found (least squares, or HiGHS status 0).
    by_lstsq : (B,) the active rows had full column rank: the preimage is the least-squares point and no LP was solved.
    n_active : (B,) :math:`|S|`.
    results : per problem, HiGHS's ``OptimizeResult`` where the LP was solved, else None.
    """

    x: torch.Tensor
    solved: torch.Tensor
    by_lstsq: torch.Tensor
    n_active: torch.Tensor
    results: list = field(default_factory=list)


def invert_layer_nnlp(W: torch.Tensor, y: torch.Tensor, *, active_tol: float = 1e-9, rank_rtol: float = 1e-10,
                      cert_tol: float = 1e-7) -> NNLPInversion:
    r"""Invert ``B`` hidden ReLU layers :math:`y = \mathrm{relu}(W h)`, :math:`h \ge 0`, by a non-negative LP.

    A hidden layer's input is itself a ReLU output, so :math:`h \ge 0`; the LP

    .. math::

        \min_h\ \mathbf 1^\top h \quad\text{s.t.}\quad W_S h = y_S,\quad W_{S^c} h \le 0,\quad h \ge 0,

    with :math:`S = \{j : y_j > \mathrm{active\_tol}\,\|y\|_\infty\}`, uses the sign constraint that
    least squares on the active rows ignores. Its feasible set is the preimage; where it is a point
    (:func:`preimage_point_probability`) the LP returns it, and the objective (the
    :math:`\ell_1` norm of a non-negative vector) often picks the true, half-zero :math:`h` even where
    the preimage is larger. Where the active rows have full column rank the preimage is the
    least-squares point of :func:`invert_layer`, which is returned without solving an LP (and must be
    :math:`\ge 0`). Otherwise HiGHS solves the LP, and its vertex is refined by least squares on its
    own support (the equations it satisfies), which removes HiGHS's :math:`10^{-7}` tolerance when
    that support is determined.
    """
    from scipy.optimize import linprog

    W, y = _check_layer_args(W, y)
    B, n_out, n_in = W.shape
    ls = invert_layer(W, y, active_tol=active_tol, rank_rtol=rank_rtol, cert_tol=cert_tol)
    scale = y.abs().amax(-1).clamp_min(torch.finfo(W.dtype).tiny)
    neg = torch.nan_to_num(-ls.x, nan=0.0).clamp_min(0.0).amax(-1) / scale
    by_ls = ls.invertible & (neg <= cert_tol)
    x = torch.where(by_ls.unsqueeze(-1), ls.x, torch.full_like(ls.x, math.nan))
    solved = by_ls.clone()
    active = y > active_tol * scale.unsqueeze(-1)
    results: list = [None] * B
    Wn, yn, an = W.detach().cpu().double().numpy(), y.detach().cpu().double().numpy(), active.cpu().numpy()
    for b in torch.nonzero(~ls.invertible).squeeze(-1).tolist():  # one HiGHS call per problem (see invert_layer_lp)
        res = linprog(method="highs", **_nnlp_problem(Wn[b], yn[b], an[b]))
        results[b] = res
        if res.status != 0:
            continue
        xb = np.maximum(res.x, 0.0)
        supp = xb > 1e-9 * max(xb.max(), 1e-300)
        A_s = Wn[b][an[b]][:, supp]
        if supp.sum() <= an[b].sum() and np.linalg.matrix_rank(A_s) == supp.sum():
            ref = np.zeros(n_in)
            ref[supp] = np.linalg.lstsq(A_s, yn[b][an[b]], rcond=None)[0]
            if ref.min() >= 0 and np.abs(A_s @ ref[supp] - yn[b][an[b]]).max() <= np.abs(Wn[b][an[b]] @ xb - yn[b][an[b]]).max():
                xb = ref
        x[b] = torch.as_tensor(xb, dtype=W.dtype, device=W.device)
        solved[b] = True
    return NNLPInversion(x=x, solved=solved, by_lstsq=by_ls, n_active=active.sum(-1), results=results)


def invert_network_nnlp(generator: ReLUGenerator, x: torch.Tensor, *, active_tol: float = 1e-9, rank_rtol: float = 1e-10,
                        cert_tol: float = 1e-7) -> NetworkInversion:
    r"""Layer-wise inversion with the non-negative LP at every hidden layer and least squares at the latent.

    From the output back, each hidden layer's input :math:`h_{i-1} \ge 0` is recovered by
    :func:`invert_layer_nnlp`; the first layer's input is the latent, with no sign constraint, so
    it is inverted by least squares on the active rows (:func:`invert_layer`; its preimage is a point
    iff :math:`|S_1| \ge k`). ``invertible`` marks the problems where every step returned an answer
    (the latent's with its certificate); whether the answer is the true one is for the caller to check,
    since the LP returns a point of the preimage even where the preimage is not a point.
    """
    tols = dict(active_tol=active_tol, rank_rtol=rank_rtol, cert_tol=cert_tol)

    def hidden(W, h_in, relu):
        res = invert_layer_nnlp(W, h_in, **tols)
        return res, res.solved, torch.nan_to_num(res.x, nan=0.0).clamp_min(0.0)

    return _layer_by_layer(generator, x, hidden, tols)


def preimage_is_point(W: torch.Tensor, y: torch.Tensor, h: torch.Tensor, *, active_tol: float = 1e-9,
                      rank_rtol: float = 1e-10) -> torch.Tensor:
    r"""Whether the preimage of ``B`` hidden layers :math:`y = \mathrm{relu}(W h)`, within :math:`h \ge 0`, is the single point ``h``.

    Given the true input ``h`` (zeros :math:`Z`, support :math:`P`): the preimage is a point iff no
    nonzero :math:`d` has :math:`W_S d = 0` and :math:`d_Z \ge 0` (see
    :func:`preimage_point_probability`). Where :math:`W_S` has full column rank that is immediate;
    otherwise one LP, :math:`\max \sum_{j \in Z} d_j` s.t. :math:`W_S d = 0`, :math:`0 \le d_Z \le 1`,
    :math:`|d_P| \le 1`, decides whether :math:`d_Z` can move (optimum :math:`> 0`: a segment), and
    if it cannot, :math:`W_{S,P}` must have full column rank.
    """
    from scipy.optimize import linprog

    W, y = _check_layer_args(W, y)
    if h.shape != (W.shape[0], W.shape[2]):
        raise ValueError(f"h must have shape {(W.shape[0], W.shape[2])}, got {tuple(h.shape)}")
    ls = invert_layer(W, y, active_tol=active_tol, rank_rtol=rank_rtol)
    point = ls.invertible.clone()
    scale = y.abs().amax(-1).clamp_min(torch.finfo(W.dtype).tiny)
    active = (y > active_tol * scale.unsqueeze(-1)).cpu().numpy()
    Wn, hn = W.detach().cpu().double().numpy(), h.detach().cpu().double().numpy()
    for b in torch.nonzero(~ls.invertible).squeeze(-1).tolist():
        Z = hn[b] <= 0
        A = Wn[b][active[b]]
        if A.shape[0] == 0:
            continue
        res = linprog(-Z.astype(float), A_eq=A, b_eq=np.zeros(A.shape[0]),
                      bounds=[(0.0, 1.0) if zj else (-1.0, 1.0) for zj in Z], method="highs")
        if res.status == 0 and -res.fun <= 1e-9:
            sv = np.linalg.svd(A[:, ~Z], compute_uv=False) if (~Z).any() else np.ones(1)
            point[b] = bool((~Z).sum() <= A.shape[0] and sv[-1] > rank_rtol * sv[0])
    return point


# ---------------------------------------------------------------------------------------------- noisy, LP
@dataclass
class LayerLP:
    r"""One block-diagonal LP :math:`\min c^\top v` s.t. :math:`A_{ub} v \le b_{ub}`, ``lb <= v``, holding ``B`` problems.

    Block ``b`` owns variables ``offsets[b]:offsets[b+1]``; its first ``n_in`` are ``x``, the rest
    are ``t`` (``"linf"``) or the slacks ``s`` (``"l1"``). ``row_block`` gives each constraint's block.
    """

    c: np.ndarray
    A_ub: object  # scipy.sparse.csr_matrix
    b_ub: np.ndarray
    bounds: list
    offsets: np.ndarray
    row_block: np.ndarray
    n_in: int
    norm: str
    active: np.ndarray  # (B, n_out) rows treated as active (y > threshold)


def layer_lp(W: torch.Tensor, y: torch.Tensor, *, threshold, norm: str = "linf") -> LayerLP:
    r"""Assemble the noisy layer-inversion LPs of ``B`` layers as one block-diagonal LP.

    ``"linf"`` (Lei et al. 2019, noisy case):

    .. math::

        \min_{x,t}\ t\quad\text{s.t.}\quad w_j^\top x - t \le y_j\ (\forall j),\qquad
        -w_j^\top x - t \le -y_j\ (y_j > \tau),\qquad t \ge 0.

    ``"l1"``: the same with a slack :math:`s_j \ge 0` per row and objective :math:`\sum_j s_j`.

    Parameters
    ----------
    W : (B, n_out, n_in)
    y : (B, n_out)
    threshold : float or (B,) tensor
        Activity threshold :math:`\tau` (rows with :math:`y_j > \tau` are fitted two-sided).
    norm : {"linf", "l1"}
    """
    import scipy.sparse as sp

    if norm not in NORMS:
        raise ValueError(f"norm must be one of {NORMS}, got norm={norm!r}")
    W, y = _check_layer_args(W, y)
    Wn = W.detach().to("cpu", torch.float64).numpy()
    yn = y.detach().to("cpu", torch.float64).numpy()
    B, n_out, n_in = Wn.shape
    tau = np.broadcast_to(np.asarray(torch.as_tensor(threshold, dtype=torch.float64).cpu().numpy(), dtype=float), (B,))
    if not np.all(np.isfinite(tau)) or np.any(tau < 0):
        raise ValueError(f"threshold must be finite and non-negative, got threshold={threshold!r}")
    active = yn > tau[:, None]  # (B, n_out)
    n_aux = 1 if norm == "linf" else n_out
    nv = n_in + n_aux
    offsets = np.arange(B + 1) * nv
    # constraint rows: all n_out upper rows, then the lower rows of the active set
    n_low = active.sum(1)
    rows_per_block = n_out + n_low
    start = np.concatenate([[0], np.cumsum(rows_per_block)[:-1]])
    up_row = start[:, None] + np.arange(n_out)[None, :]  # (B, n_out)
    low_rank = np.cumsum(active, axis=1) - 1  # position among the active rows
    low_row = start[:, None] + n_out + low_rank  # valid where active
    # W entries: +W on upper rows, -W on lower rows
    bb, jj = np.nonzero(np.ones((B, n_out), dtype=bool))
    col_x = offsets[bb][:, None] + np.arange(n_in)[None, :]
    r_up = np.repeat(up_row[bb, jj][:, None], n_in, axis=1)
    v_up = Wn[bb, jj, :]
    ba, ja = np.nonzero(active)
    r_low = np.repeat(low_row[ba, ja][:, None], n_in, axis=1)
    c_low = offsets[ba][:, None] + np.arange(n_in)[None, :]
    v_low = -Wn[ba, ja, :]
    # auxiliary columns: -1 on every row (t for linf, s_j for l1)
    if norm == "linf":
        aux_up = offsets[bb] + n_in
        aux_low = offsets[ba] + n_in
    else:
        aux_up = offsets[bb] + n_in + jj
        aux_low = offsets[ba] + n_in + ja
    rows = np.concatenate([r_up.ravel(), r_low.ravel(), up_row[bb, jj], low_row[ba, ja]])
    cols = np.concatenate([col_x.ravel(), c_low.ravel(), aux_up, aux_low])
    vals = np.concatenate([v_up.ravel(), v_low.ravel(), -np.ones(len(bb)), -np.ones(len(ba))])
    n_rows = int(rows_per_block.sum())
    A = sp.csr_matrix((vals, (rows, cols)), shape=(n_rows, B * nv))
    b = np.empty(n_rows)
    b[up_row[bb, jj]] = yn[bb, jj]
    b[low_row[ba, ja]] = -yn[ba, ja]
    c = np.zeros(B * nv)
    aux = (offsets[:-1][:, None] + n_in + np.arange(n_aux)[None, :]).ravel()
    c[aux] = 1.0
    lb = np.full(B * nv, -np.inf)
    lb[aux] = 0.0
    bounds = list(zip(lb, [None] * (B * nv)))
    row_block = np.repeat(np.arange(B), rows_per_block)
    return LayerLP(c=c, A_ub=A, b_ub=b, bounds=bounds, offsets=offsets, row_block=row_block, n_in=n_in, norm=norm, active=active)


@dataclass
class LPInversion:
    """Result of :func:`invert_layer_lp` for ``B`` layers.

    Attributes
    ----------
    x : (B, n_in) LP solution, NaN where the layer is not invertible.
    objective : (B,) optimal :math:`t` (``"linf"``) or :math:`\\sum_j s_j` (``"l1"``).
    invertible : (B,) the LP solved and the rows fitted two-sided have full column rank.
    n_active : (B,) rows fitted two-sided (:math:`y_j > \\tau`).
    threshold : (B,) the threshold :math:`\\tau` used.
    residual : (B,) :math:`\\max_{y_j > \\tau} |w_j^\\top x - y_j|`.
    status : (B,) HiGHS status per problem (0: optimal).
    results : the raw ``scipy.optimize.OptimizeResult`` of every solve (one, if stacked).
    """

    x: torch.Tensor
    objective: torch.Tensor
    invertible: torch.Tensor
    n_active: torch.Tensor
    threshold: torch.Tensor
    residual: torch.Tensor
    status: torch.Tensor
    results: list = field(default_factory=list)


def invert_layer_lp(
    W: torch.Tensor,
    y: torch.Tensor,
    *,
    noise_bound=0.0,
    threshold=None,
    norm: str = "linf",
    active_tol: float = 1e-9,
    rank_rtol: float = 1e-10,
    stacked: bool = False,
) -> LPInversion:
    r"""Invert ``B`` noisy ReLU layers :math:`y = \mathrm{relu}(W x) + e` by a linear program (HiGHS).

    Solves the LP of :func:`layer_lp` with ``scipy.optimize.linprog(method="highs")``.
    With :math:`\|e\|_\infty \le \epsilon` and :math:`\tau \ge 2\epsilon`, every row fitted two-sided
    is truly active and the true ``x`` is feasible with :math:`t = \epsilon`, hence
    :math:`t^\star \le \epsilon` and :math:`\|W_S(\hat x - x)\|_\infty \le 2\epsilon`
    (Lei et al. 2019, noisy case; [DER] for this form). If the rows fitted two-sided do not have
    full column rank the solution is not unique and ``x`` is NaN (not invertible).

    Parameters
    ----------
    W : (B, n_out, n_in)
    y : (B, n_out)
    noise_bound : float or (B,) tensor
        :math:`\epsilon \ge \|e\|_\infty`, used for the default threshold.
    threshold : float or (B,) tensor, optional
        :math:`\tau`; default ``2 * noise_bound``. It is raised to at least
        ``active_tol * max|y|``, so that round-off (an inactive entry computed as 1e-16) is never
        fitted as active; ``threshold=0`` is then the noiseless LP.
    norm : {"linf", "l1"}
    rank_rtol : float
        Relative singular-value tolerance for the rank of the rows fitted two-sided.
    stacked : bool
        Solve the ``B`` problems as one block-diagonal LP in a single HiGHS call instead of one call
        each. The optima are the same (the blocks are independent), but HiGHS does not split the
        blocks: in development runs stacking was never faster, and became several times slower as the
        blocks grew, hence the default (no benchmark in this repository backs a speed-up either way).
    """
    from scipy.optimize import linprog

    W, y = _check_layer_args(W, y)
    check_nonneg(active_tol, "active_tol")
    B, n_out, n_in = W.shape
    eps = torch.as_tensor(check_elements(noise_bound, "noise_bound", 0), dtype=torch.float64)
    tau = 2.0 * eps if threshold is None else torch.as_tensor(check_elements(threshold, "threshold", 0), dtype=torch.float64)
    tau = tau.cpu().expand(B).clone() if tau.dim() == 0 else tau.cpu().reshape(B).clone()
    floor = active_tol * y.detach().abs().amax(-1).double().cpu()
    tau = torch.maximum(tau, floor)
    xs = np.full((B, n_in), np.nan)
    obj = np.full(B, np.nan)
    status = np.zeros(B, dtype=np.int64)
    results = []
    if stacked:
        lp = layer_lp(W, y, threshold=tau, norm=norm)
        res = linprog(lp.c, A_ub=lp.A_ub, b_ub=lp.b_ub, bounds=lp.bounds, method="highs")
        results.append(res)
        status[:] = res.status
        if res.status == 0:
            v = res.x.reshape(B, -1)
            xs, obj = v[:, :n_in], v[:, n_in:].sum(1)
        active_np = lp.active
    else:
        active_np = np.zeros((B, n_out), dtype=bool)
        for b in range(B):  # HiGHS solves one LP per call; see ``stacked``
            lp = layer_lp(W[b : b + 1], y[b : b + 1], threshold=tau[b : b + 1], norm=norm)
            res = linprog(lp.c, A_ub=lp.A_ub, b_ub=lp.b_ub, bounds=lp.bounds, method="highs")
            results.append(res)
            status[b] = res.status
            active_np[b] = lp.active[0]
            if res.status == 0:
                xs[b], obj[b] = res.x[:n_in], res.x[n_in:].sum()
    active = torch.as_tensor(active_np, device=W.device)
    n_act = active.sum(-1)
    x = torch.as_tensor(xs, dtype=W.dtype, device=W.device)
    solved = torch.as_tensor(status == 0, device=W.device)
    # uniqueness: the rows fitted two-sided must have full column rank
    R, _ = _masked_qr(W, active, torch.zeros_like(y))
    smax, smin = _extreme_singular_values(R)
    full = (smin > rank_rtol * smax) & (n_act >= n_in) & solved
    x0 = torch.nan_to_num(x, nan=0.0)
    pre = torch.bmm(W, x0.unsqueeze(-1)).squeeze(-1)
    resid = torch.where(active, (pre - y).abs(), torch.zeros_like(pre)).amax(-1)
    resid = torch.where(solved, resid, torch.full_like(resid, math.nan))
    x = torch.where(full.unsqueeze(-1), x, torch.full_like(x, math.nan))
    return LPInversion(
        x=x, objective=torch.as_tensor(obj, dtype=W.dtype, device=W.device), invertible=full, n_active=n_act,
        threshold=tau.to(W.device), residual=resid, status=torch.as_tensor(status), results=results,
    )


def _active_pinv(W: torch.Tensor, active: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    r"""The pseudo-inverses :math:`W_S^{+} = (W_S^\top W_S)^{-1} W_S^\top` (inactive columns zero), ``(B, n_in, n_out)``, and where they exist."""
    R, _ = _masked_qr(W, active, torch.zeros(W.shape[:2], dtype=W.dtype, device=W.device))
    smax, smin = _extreme_singular_values(R)
    full = (smin > 0) & (active.sum(-1) >= W.shape[-1])
    B, k, _ = R.shape
    Rs = torch.where(full[:, None, None], R, torch.eye(k, dtype=W.dtype, device=W.device).expand(B, k, k))
    WsT = (W * active.to(W.dtype).unsqueeze(-1)).transpose(1, 2)  # (B, n_in, n_out)
    P = torch.linalg.solve_triangular(Rs, torch.linalg.solve_triangular(Rs.transpose(1, 2), WsT, upper=False), upper=True)
    return P, full


def _propagated_error(W: torch.Tensor, y: torch.Tensor, x_hat: torch.Tensor, active: torch.Tensor, eps: torch.Tensor, how: str) -> torch.Tensor:
    r"""The error level :math:`\epsilon_{i-1}` handed to the next layer down (see :func:`invert_network_lp`)."""
    P, full = _active_pinv(W, active)
    x0 = torch.nan_to_num(x_hat, nan=0.0)
    r = (torch.bmm(W, x0.unsqueeze(-1)).squeeze(-1) - y) * active.to(W.dtype)  # residual on S
    known = torch.bmm(P, r.unsqueeze(-1)).squeeze(-1).abs().amax(-1)  # ||W_S^+ r_S||_inf
    e = eps.to(device=W.device, dtype=W.dtype)
    neg = (-x0).clamp_min(0.0)  # the negative entries of a hidden layer's estimate are pure error
    if how == "bound":
        out = known + P.abs().sum(-1).amax(-1) * e  # ||W_S^+||_{inf -> inf}
    elif how == "rms":
        count = (x0 < 0).sum(-1).clamp_min(1).to(W.dtype)
        out = (neg.pow(2).sum(-1) / count).sqrt() * math.sqrt(2.0 * math.log(2.0 * W.shape[-1]))
    else:  # "observed"
        out = neg.amax(-1)
    return torch.where(full, out, torch.full_like(out, math.inf))


def linf_lp_error_bound(W: torch.Tensor, y: torch.Tensor, noise_bound, threshold=None) -> torch.Tensor:
    r"""The guaranteed error of the :math:`\ell_\infty` LP on ``B`` layers: :math:`\|\hat x - x\|_\infty \le 2\|W_S^{+}\|_{\infty\to\infty}\,\epsilon`.

    With :math:`\|e\|_\infty \le \epsilon` and threshold :math:`\tau \ge 2\epsilon`, every row
    fitted two-sided (:math:`S = \{j : y_j > \tau\}`) is truly active and the truth is feasible with
    :math:`t = \epsilon`, so :math:`\|W_S(\hat x - x)\|_\infty \le t^\star + \epsilon \le 2\epsilon` and

    .. math::

        \|\hat x - x\|_\infty = \|W_S^{+} W_S(\hat x - x)\|_\infty \le 2\,\|W_S^{+}\|_{\infty\to\infty}\,\epsilon,

    :math:`\|M\|_{\infty\to\infty}` the largest absolute row sum (Lei, Jalal, Dhillon & Dimakis 2019
    bound the noisy error by a constant times :math:`\|W_S^{+}\|\,\|e\|` in several norms; this is the
    :math:`\ell_\infty` form [DER]). ``threshold`` defaults to :math:`2\epsilon`, as in
    :func:`invert_layer_lp`; inf where :math:`W_S` is rank deficient.
    """
    W, y = _check_layer_args(W, y)
    eps = torch.as_tensor(check_elements(noise_bound, "noise_bound", 0), dtype=W.dtype, device=W.device)
    eps = eps.expand(W.shape[0]) if eps.dim() == 0 else eps.reshape(W.shape[0])
    tau = 2.0 * eps if threshold is None else torch.as_tensor(check_elements(threshold, "threshold", 0), dtype=W.dtype,
                                                                device=W.device).expand(W.shape[0])
    P, full = _active_pinv(W, y > tau.unsqueeze(-1))
    out = 2.0 * P.abs().sum(-1).amax(-1) * eps
    return torch.where(full, out, torch.full_like(out, math.inf))


def invert_network_lp(
    generator: ReLUGenerator,
    x: torch.Tensor,
    *,
    noise_bound,
    norm: str = "linf",
    threshold_factor: float = 2.0,
    propagate: str = "rms",
) -> NetworkInversion:
    r"""Layer-wise LP inversion of noisy networks :math:`x = G(z^*) + e`, :math:`\|e\|_\infty \le \epsilon`.

    From the output back, layer ``i`` is inverted with :func:`invert_layer_lp` at the threshold
    :math:`\tau_i = \mathrm{threshold\_factor}\cdot\epsilon_i` (Lei, Jalal, Dhillon & Dimakis 2019); the
    preimage of a hidden layer is clipped at 0 (it is a ReLU output) and handed down as the next
    layer's noisy output, with an error level :math:`\epsilon_{i-1}` chosen by ``propagate``:

    * ``"rms"`` (default): :math:`\epsilon_{i-1} = \hat\sigma\sqrt{2\ln(2 n_{i-1})}` with
      :math:`\hat\sigma^2` the mean square of the negative entries of :math:`\hat h_{i-1}`. The true
      hidden layer is non-negative and about half its entries are exactly 0, so the negative entries of
      the estimate are pure error; their root mean square estimates the error's scale, and
      :math:`\sqrt{2\ln 2n}` is the size of the largest of :math:`n` Gaussian errors of unit scale
      [DER; a data-driven estimate, not a bound];
    * ``"observed"``: :math:`\epsilon_{i-1} = \max_j (-\hat h_{i-1,j})_+`, the largest negative entry.
      It is the maximum of only about :math:`n_{i-1}/4` errors and falls below half the largest error
      (the threshold then fits truly inactive rows two-sided) in a few per cent of problems at any noise
      level, which makes the error's upper percentiles jump [DER, measured in notebook 07];
    * ``"bound"``: :math:`\epsilon_{i-1} = \|W_{i,S}^{+} r_S\|_\infty + \|W_{i,S}^{+}\|_{\infty\to\infty}\,\epsilon_i`
      with :math:`r_S` the residual on the rows fitted two-sided; since
      :math:`W_S(\hat h - h) = r_S + e_S` it bounds :math:`\|\hat h_{i-1} - h_{i-1}\|_\infty` whenever
      those rows are truly active [DER], but it is pessimistic by an order of magnitude on random nets;
    * ``"same"``: :math:`\epsilon_{i-1} = \epsilon_i`.

    A problem whose layer is not invertible stops there (``z`` is NaN, ``failed_layer`` says where).

    Parameters
    ----------
    generator : ReLUGenerator
    x : (B, ..., n) noisy outputs.
    noise_bound : float or tensor of shape ``x.shape[:-1]``
        :math:`\epsilon \ge \|e\|_\infty` at the output.
    norm : {"linf", "l1"}
    threshold_factor : float
        :math:`\tau_i / \epsilon_i`; 2 in the analysis, 0 shows why a threshold is needed.
    propagate : {"rms", "observed", "bound", "same"}

    Returns
    -------
    NetworkInversion
        ``error_levels`` (B, ..., d) holds :math:`\epsilon_{i-1}` handed to layer ``i - 1`` (column ``i - 1``
        for layer ``i``; column ``d - 1`` is the level propagated from the output layer), NaN where the problem
        stopped earlier.
    """
    weights, h, lead = _flatten_problems(generator, x)
    check_nonneg(threshold_factor, "threshold_factor")
    if propagate not in PROPAGATE:
        raise ValueError(f"propagate must be one of {PROPAGATE}, got propagate={propagate!r}")
    if not generator.output_relu:
        raise ValueError("generator must have a ReLU on its output layer (output_relu=True) for the LP inversion")
    B, d = h.shape[0], len(weights)
    eps = torch.as_tensor(check_elements(noise_bound, "noise_bound", 0), dtype=torch.float64).cpu()
    eps = eps.expand(B).clone() if eps.dim() == 0 else eps.reshape(B).clone()
    dev = h.device
    ok = torch.ones(B, dtype=torch.bool, device=dev)
    failed = torch.zeros(B, dtype=torch.long, device=dev)
    n_active = torch.zeros(B, d, dtype=torch.long, device=dev)
    layers: list = [None] * d
    hidden: list = [None] * d
    levels = torch.full((B, d + 1), math.nan, dtype=torch.float64)
    levels[:, d] = eps
    for i in range(d, 0, -1):
        W = weights[i - 1]
        idx = ok.nonzero().squeeze(-1)  # only the problems still alive
        x_i = torch.full((B, W.shape[-1]), math.nan, dtype=h.dtype, device=dev)
        if idx.numel():
            e_i = eps[idx.cpu()]
            res = invert_layer_lp(W[idx], h[idx], noise_bound=e_i, threshold=threshold_factor * e_i, norm=norm)
            layer_ok = torch.zeros(B, dtype=torch.bool, device=dev)
            layer_ok[idx] = res.invertible
            x_i[idx] = res.x
            n_active[idx, i - 1] = res.n_active
            if (i > 1 and propagate != "same") or (i == 1 and propagate == "bound"):
                act = h[idx] > res.threshold.to(dev).unsqueeze(-1)
                nxt = _propagated_error(W[idx], h[idx], res.x, act, e_i, propagate).double().cpu()
                eps[idx.cpu()] = nxt
                levels[idx.cpu(), i - 1] = nxt
            elif i > 1:
                levels[idx.cpu(), i - 1] = e_i
            layers[i - 1] = res
        else:
            layer_ok = ok.clone()
        newly = ok & ~layer_ok
        failed = torch.where(newly, torch.full_like(failed, i), failed)
        ok = ok & layer_ok
        h = torch.nan_to_num(x_i, nan=0.0).clamp_min(0.0) if i > 1 else x_i
        hidden[i - 1] = torch.where(ok.unsqueeze(-1), h, torch.full_like(h, math.nan)).reshape(*lead, -1)
    z = torch.where(ok.unsqueeze(-1), h, torch.full_like(h, math.nan))
    return NetworkInversion(
        z=z.reshape(*lead, -1), invertible=ok.reshape(lead), failed_layer=failed.reshape(lead),
        n_active=n_active.reshape(*lead, d), layers=layers, hidden=hidden,
        error_levels=levels[:, :d].reshape(*lead, d).to(dev) if d else None,
    )


# ---------------------------------------------------------------------------------------------- gradient method
@dataclass
class GDInversion:
    """Result of :func:`invert_gd`.

    Attributes
    ----------
    z : (B, ..., k) the best restart's latent per problem.
    loss : (B, ...) its objective.
    restart_z, restart_loss : every restart, ``(B, ..., R, k)`` and ``(B, ..., R)``.
    flips : (B, ..., R) negation-check flips per restart.
    """

    z: torch.Tensor
    loss: torch.Tensor
    restart_z: torch.Tensor
    restart_loss: torch.Tensor
    flips: torch.Tensor


def invert_gd(
    generator: ReLUGenerator,
    y: torch.Tensor,
    *,
    operator: Optional[LinearOperator] = None,
    steps: int = 1500,
    lr: float = 0.2,
    method: str = "gd",
    restarts: int = 1,
    negate_every: int = 10,
    init_std: float = 1.0,
    z0: Optional[torch.Tensor] = None,
    seed: SeedLike = 0,
) -> GDInversion:
    r"""The gradient method with the negation check on :math:`f(z) = \|G(z) - y\|^2` (or :math:`\|AG(z) - y\|^2`).

    Huang, Hand, Heckel & Voroninski (2021), Algorithm 1: every ``negate_every`` steps replace
    :math:`z` by :math:`-z` where :math:`f(-z) < f(z)`, then step along the gradient
    :math:`\nabla f(z) = 2\Lambda_z^\top A^\top(A\Lambda_z z - y)` (Hand & Voroninski 2018). Runs
    :func:`ilib.minimize` on all problems times ``restarts`` random starts
    :math:`z_0 \sim \mathcal{N}(0, \mathrm{init\_std}^2 I_k)` in one batch and keeps, per problem, the
    restart of lowest objective. The default step suits nets with ``gain=2`` (where
    :math:`\|\Lambda_z\|_2 \lesssim 2`, so :math:`f` is about 8-smooth).

    Parameters
    ----------
    generator : ReLUGenerator
        ``B`` networks (or one shared).
    y : (B, ..., n) or (B, ..., m)
        Observations :math:`G(z^*) + e` (or :math:`A G(z^*) + e` with ``operator``).
    operator : LinearOperator, optional
        Measurement operator ``A``; ``None`` inverts the generator itself.
    steps, lr, method : passed to :func:`ilib.minimize`.
    restarts : int
    negate_every : int
        Period of the negation check; 0 disables it.
    init_std : float
    z0 : torch.Tensor, optional
        Explicit starts of shape ``(B, ..., R, k)``; overrides ``restarts``, ``init_std`` and ``seed``.
    seed : int or torch.Generator
        Seeds the starts.
    """
    if y.dim() < 2:
        raise ValueError(f"y must have shape (B, ..., n), got {tuple(y.shape)}")
    out_dim = generator.output_dim if operator is None else operator.out_dim
    if y.shape[-1] != out_dim:
        raise ValueError(f"y has last dimension {y.shape[-1]}, expected {out_dim}")
    restarts = check_positive_int(restarts, "restarts")
    check_nonneg(init_std, "init_std")
    lead, k = tuple(y.shape[:-1]), generator.latent_dim
    if z0 is None:
        g = make_generator(seed)
        z0 = init_std * randn(*lead, restarts, k, generator=g, dtype=generator.dtype, device=y.device)
    elif tuple(z0.shape[:-2]) != lead or z0.shape[-1] != k:
        raise ValueError(f"z0 must have shape {lead + ('R', k)}, got {tuple(z0.shape)}")
    yy = y.to(generator.dtype).unsqueeze(-2)

    def fun(z: torch.Tensor) -> torch.Tensor:
        out = generator(z)
        if operator is not None:
            out = operator(out)
        r = out - yy
        return (r * r).sum(-1)

    res = minimize(fun, z0, steps=steps, lr=lr, method=method, negate_every=negate_every)
    best = torch.nan_to_num(res.loss, nan=math.inf).argmin(dim=-1, keepdim=True)  # (*lead, 1)
    z = torch.gather(res.x, -2, best.unsqueeze(-1).expand(*lead, 1, k)).squeeze(-2)
    loss = torch.gather(res.loss, -1, best).squeeze(-1)
    return GDInversion(z=z, loss=loss, restart_z=res.x, restart_loss=res.loss, flips=res.flips)


# ---------------------------------------------------------------------------------------------- problems
def bounded_noise(
    shape: Sequence[int], level, *, seed: SeedLike, dtype: DTypeLike = torch.float64, device: DeviceLike = "auto"
) -> torch.Tensor:
    r"""Noise :math:`e` with iid entries uniform on :math:`[-\epsilon, \epsilon]`, so :math:`\|e\|_\infty \le \epsilon` exactly.

    ``level`` is :math:`\epsilon`: a float, or a tensor of shape ``shape[:-1]`` (one level per row).
    """
    g = make_generator(seed)
    lvl = torch.as_tensor(check_elements(level, "level", 0), dtype=torch.float64).cpu()  # the noise bound
    u = rand(*shape, generator=g, dtype=torch.float64, device="cpu")
    if lvl.dim() > 0:
        lvl = lvl.unsqueeze(-1)
    e = (2.0 * u - 1.0) * lvl
    return e.to(device=resolve_device(device), dtype=resolve_dtype(dtype))


def random_problems(
    widths: Sequence[int],
    nets: int,
    *,
    latents: int = 1,
    seed: SeedLike = 0,
    gain: float = 2.0,
    dtype: DTypeLike = torch.float64,
    device: DeviceLike = "auto",
) -> tuple[ReLUGenerator, torch.Tensor, torch.Tensor]:
    r"""``nets`` random nets with the given widths, ``latents`` latents :math:`z^* \sim \mathcal{N}(0, I_k)` each, and :math:`G(z^*)`.

    ``gain=2`` draws :math:`W_i` with :math:`\mathcal{N}(0, 2/n_i)` entries (norm preserving, Heckel et
    al. 2019), so that :math:`\|G(z)\| \approx \|z\|` at every depth; exact inversion is scale free.

    Returns ``(generator, z_star, x)`` with shapes ``(nets, latents, k)`` and ``(nets, latents, n)``.
    """
    nets = check_positive_int(nets, "nets")
    latents = check_positive_int(latents, "latents")
    g = make_generator(seed)
    G = ReLUGenerator.random(widths, batch=nets, seed=g, gain=gain, dtype=dtype, device=device)
    z = randn(nets, latents, int(widths[0]), generator=g, dtype=dtype, device=device)
    with torch.no_grad():
        x = G(z)
    return G, z, x


# ---------------------------------------------------------------------------------------------- WDC
def _wdc_quadratic(W: torch.Tensor, x: torch.Tensor, y: torch.Tensor, v: torch.Tensor, beta: Optional[float]) -> torch.Tensor:
    r""":math:`v^\top(\sum_i a_i w_i w_i^\top - Q_{x,y})v` with :math:`a_i = 1_{w_i^\top x > 0}1_{w_i^\top y > 0}`, or its sigmoid smoothing at sharpness ``beta``."""
    px, py, pv = (torch.bmm(u, W.transpose(1, 2)) for u in (x, y, v))
    if beta is None:
        a = ((px > 0) & (py > 0)).to(W.dtype)
    else:
        a = torch.sigmoid(beta * px) * torch.sigmoid(beta * py)
    return (a * pv * pv).sum(-1) - torch.einsum("bpi,bpij,bpj->bp", v, wdc_matrix(x, y), v)


def wdc_sup_estimate(
    W: torch.Tensor,
    *,
    pairs: int = 64,
    ascent_steps: int = 200,
    stages: int = 4,
    lr: float = 0.05,
    seed: SeedLike = 0,
) -> torch.Tensor:
    r"""A lower estimate of the WDC constant :math:`\sup_{x,y}\|\sum_i 1_{w_i^\top x>0}1_{w_i^\top y>0}w_iw_i^\top - Q_{x,y}\|_2`.

    The spectral norm is :math:`\max_{\|v\|=1} |v^\top D_{x,y} v|`, so the supremum is the maximum of
    :math:`s\, v^\top D_{x,y} v` over unit :math:`x, y, v` and a sign :math:`s = \pm 1`. Each of
    ``pairs`` starts per layer (half of them with :math:`y` near :math:`x`, half with each sign, and
    two at the top and bottom right singular vectors of :math:`W`) climbs it jointly in
    :math:`(x, y, v)` by projected Adam (:func:`ilib.minimize`, projection onto the unit spheres) on a
    smoothing that replaces the indicators by sigmoids :math:`\sigma(\beta\, w_i^\top x)`, in ``stages``
    stages of ``ascent_steps / stages`` steps with :math:`\beta\sqrt{1/n}` rising geometrically from 2
    to 300 (a smooth landscape first, the true one last). After every stage the exact deviation
    :func:`ilib.angles.wdc_deviation` of each pair is taken; the result is the largest value found,
    a deviation attained at an actual pair, hence a lower estimate of the supremum. Cost per step:
    :math:`O(B \cdot \mathrm{pairs} \cdot n k)`.

    Parameters
    ----------
    W : (B, n, k) layers (entries :math:`\mathcal{N}(0, 1/n)` for the condition to be meaningful).
    pairs, ascent_steps, stages : int
        Starts per layer, total ascent steps (0: the starts only), and sharpening stages.
    lr : float
        Adam step size on the unit spheres.
    seed : int, Stream or torch.Generator

    Returns
    -------
    (B,) the largest deviation found per layer.
    """
    if W.dim() != 3:
        raise ValueError(f"W must have shape (B, n, k), got {tuple(W.shape)}")
    pairs = check_positive_int(pairs, "pairs")
    ascent_steps = check_nonneg_int(ascent_steps, "ascent_steps")
    stages = check_positive_int(stages, "stages")
    B, n, k = W.shape
    g = make_generator(seed)
    kw = dict(generator=g, dtype=W.dtype, device=W.device)

    def unit(u: torch.Tensor) -> torch.Tensor:
        return u / u.norm(dim=-1, keepdim=True).clamp_min(1e-300)

    x = unit(randn(B, pairs, k, **kw))
    y = unit(randn(B, pairs, k, **kw))
    half = pairs // 2
    if half:
        y[:, :half] = unit(x[:, :half] + 0.05 * y[:, :half])
    v = unit(randn(B, pairs, k, **kw))
    V = torch.linalg.svd(W, full_matrices=False).Vh  # (B, k, k): rows are right singular vectors
    for j, row in ((0, 0), (1, k - 1)):
        if j < pairs:
            x[:, j] = y[:, j] = v[:, j] = V[:, row]
    sign = torch.ones(B, pairs, dtype=W.dtype, device=W.device)
    sign[:, 1::2] = -1.0
    best = wdc_deviation(W, x, y).amax(-1)
    if ascent_steps == 0:
        return best
    u = torch.cat([x, y, v], dim=-1)

    def project(w: torch.Tensor) -> torch.Tensor:
        return torch.cat([unit(w[..., :k]), unit(w[..., k : 2 * k]), unit(w[..., 2 * k :])], dim=-1)

    per = [ascent_steps // stages + (1 if s < ascent_steps % stages else 0) for s in range(stages)]
    for s, steps in enumerate(per):
        beta = math.sqrt(n) * 2.0 * 150.0 ** (s / max(1, stages - 1))

        def fun(w: torch.Tensor, beta=beta) -> torch.Tensor:
            return -sign * _wdc_quadratic(W, w[..., :k], w[..., k : 2 * k], w[..., 2 * k :], beta)

        if steps:
            u = minimize(fun, u, steps=steps, lr=lr, method="adam", project=project).x
        with torch.no_grad():
            best = torch.maximum(best, wdc_deviation(W, u[..., :k], u[..., k : 2 * k]).amax(-1))
    return best


def wdc_sup_saturated(
    W: torch.Tensor,
    *,
    pairs: int,
    ascent_steps: int = 200,
    tol: float = 0.01,
    max_rounds: int = 4,
    seed: SeedLike = 0,
) -> tuple[torch.Tensor, list[float]]:
    r"""Repeat :func:`wdc_sup_estimate` with twice as many fresh starts each round until the estimate saturates.

    Round :math:`r` runs :math:`2^r` ``pairs`` new starts (a fresh sub-stream) and the estimate is the
    running maximum per layer; the search stops after the first round that raises the mean over layers
    by less than ``tol`` (relative), or after ``max_rounds`` rounds. Returns the per-layer estimate and
    the history of the mean after each round (its last relative step says how close to saturation the
    search ended).
    """
    pairs = check_positive_int(pairs, "pairs")
    check_positive(tol, "tol")
    max_rounds = check_positive_int(max_rounds, "max_rounds")
    g = make_generator(seed)
    best, history = None, []
    for r in range(max_rounds):
        est = wdc_sup_estimate(W, pairs=pairs * 2**r, ascent_steps=ascent_steps, seed=g)
        best = est if best is None else torch.maximum(best, est)
        history.append(float(best.mean()))
        if r and history[-1] <= history[-2] * (1.0 + tol):
            break
    return best, history
