r"""Inverting random ReLU generators one layer at a time, and how much expansion each method needs.

A bias-free ReLU network :math:`G(z) = \mathrm{relu}(W_d \cdots \mathrm{relu}(W_1 z))` with
:math:`W_i \in \mathbb{R}^{n_i \times n_{i-1}}` is inverted from the output back, one layer at a time
(Lei, Jalal, Dhillon & Dimakis, "Inverting Deep Generative Models, One Layer at a Time",
NeurIPS 2019). For one layer :math:`y = \mathrm{relu}(W x)` the preimage is the polyhedron

.. math::

    \{x : w_j^\top x = y_j \ (j \in S),\ w_j^\top x \le 0 \ (j \notin S)\}, \qquad S = \{j : y_j > 0\},

a linear-programming feasibility problem. When the active rows :math:`W_S` have full column rank
the preimage is the single point :math:`x = W_S^{+} y_S` (least squares on the active rows); when
:math:`\mathrm{rank}\, W_S < n_{i-1}` it contains a segment (the true ``x`` satisfies the inactive
inequalities strictly), so the layer is *not invertible* and this module says so instead of
returning one point of the segment.

For Gaussian weights and any input :math:`x \ne 0` the count of active rows is exactly
:math:`|S| \sim \mathrm{Bin}(n_i, 1/2)`, independently across layers given the layer's input, so

.. math::

    \Pr[\text{layer-wise exact inversion succeeds}] = \prod_{i=1}^{d} \Pr\big[\mathrm{Bin}(n_i, \tfrac12) \ge n_{i-1}\big],

which puts the threshold at an expansion ratio :math:`r = n_i / n_{i-1} \approx 2` [DER].

With noise, :math:`y = \mathrm{relu}(Wx) + e`, the :math:`\ell_\infty` LP

.. math::

    \min_{x, t}\ t \quad \text{s.t.}\quad |w_j^\top x - y_j| \le t \ (y_j > \tau), \qquad
    w_j^\top x \le y_j + t \ (y_j \le \tau),

with an activity threshold :math:`\tau \approx 2\|e\|_\infty`, and an :math:`\ell_1` variant with one slack
per row, are solved with HiGHS (``scipy.optimize.linprog``), one call per problem: stacking a batch
into one block-diagonal LP is available (``stacked=True``) and gives the same optima, but HiGHS does
not split the blocks and it was not faster. Everything else (least squares, rank
checks, certificates, forward passes, gradient descent) is batched over problems.

The gradient method of Hand & Voroninski (2018) / Huang, Hand, Heckel & Voroninski (2021) with the
negation check runs through :func:`ilib.minimize` on :math:`f(z) = \|G(z) - y\|^2` (or
:math:`\|A G(z) - y\|^2`), and the Weight Distribution Condition deviation (Daskalakis, Rohatgi &
Zampetakis, NeurIPS 2020, show constant expansion suffices for it) is measured with
:func:`ilib.angles.wdc_deviation`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Optional, Sequence

import numpy as np
import torch

from . import stats
from ._checks import (
    check_elements, check_int, check_int_list, check_list, check_nonneg, check_nonneg_int, check_positive, check_positive_int,
)
from .angles import wdc_deviation
from .device import DeviceLike, DTypeLike, SeedLike, make_generator, rand, randn, resolve_device, resolve_dtype
from .generators import ReLUGenerator
from .operators import LinearOperator
from .optim import minimize

NORMS = ("linf", "l1")
PROPAGATE = ("observed", "bound", "same")

__all__ = [
    "LayerInversion",
    "NetworkInversion",
    "LayerLP",
    "LPInversion",
    "GDInversion",
    "expansion_widths",
    "predicted_exact_success",
    "invert_layer",
    "layer_preimage",
    "invert_network",
    "layer_lp",
    "invert_layer_lp",
    "invert_network_lp",
    "invert_gd",
    "bounded_noise",
    "random_problems",
    "wdc_sup_estimate",
    "expansion_sweep",
    "noisy_sweep",
    "wdc_vs_expansion",
    "threshold_ratio",
    "loglog_slope",
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
    """Result of :func:`invert_network` or :func:`invert_network_lp` for ``B`` networks.

    Attributes
    ----------
    z : (B, ..., k) recovered latents, NaN where inversion failed.
    invertible : (B, ...) every layer was inverted (uniquely, with its certificate).
    failed_layer : (B, ...) the layer (1-based, counted from the input) where inversion stopped,
        going from the output back; 0 where none failed.
    n_active : (B, ..., d) rows treated as active in every layer (column ``i-1`` is layer ``i``).
    layers : per-layer results, ``layers[i-1]`` for layer ``i``.
    """

    z: torch.Tensor
    invertible: torch.Tensor
    failed_layer: torch.Tensor
    n_active: torch.Tensor
    layers: list = field(default_factory=list)


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
        res = invert_layer(weights[i - 1], h_in, relu=relu, active_tol=active_tol, rank_rtol=rank_rtol, cert_tol=cert_tol)
        layer_ok = res.invertible
        if i > 1:
            # a hidden layer's preimage is a ReLU output: it must be non-negative
            scale = h_in.abs().amax(-1).clamp_min(torch.finfo(h.dtype).tiny)
            neg = (-res.x).clamp_min(0.0).amax(-1) / scale
            layer_ok = layer_ok & (neg <= cert_tol)
        newly = ok & ~layer_ok
        failed = torch.where(newly, torch.full_like(failed, i), failed)
        ok = ok & layer_ok
        n_active[:, i - 1] = torch.where(ok | newly, res.n_active, torch.full_like(res.n_active, -1))
        layers[i - 1] = res
        h = res.x.clamp_min(0.0) if i > 1 else res.x
    z = torch.where(ok.unsqueeze(-1), h, torch.full_like(h, math.nan))
    return NetworkInversion(
        z=z.reshape(*lead, -1), invertible=ok.reshape(lead), failed_layer=failed.reshape(lead),
        n_active=n_active.reshape(*lead, d), layers=layers,
    )


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
    if how == "bound":
        out = known + P.abs().sum(-1).amax(-1) * e  # ||W_S^+||_{inf -> inf}
    else:  # "observed": the negative entries of a hidden layer's estimate are pure error
        out = (-x0).clamp_min(0.0).amax(-1)
    return torch.where(full, out, torch.full_like(out, math.inf))


def invert_network_lp(
    generator: ReLUGenerator,
    x: torch.Tensor,
    *,
    noise_bound,
    norm: str = "linf",
    threshold_factor: float = 2.0,
    propagate: str = "observed",
) -> NetworkInversion:
    r"""Layer-wise LP inversion of noisy networks :math:`x = G(z^*) + e`, :math:`\|e\|_\infty \le \epsilon`.

    From the output back, layer ``i`` is inverted with :func:`invert_layer_lp` at the threshold
    :math:`\tau_i = \mathrm{threshold\_factor}\cdot\epsilon_i` (Lei, Jalal, Dhillon & Dimakis 2019); the
    preimage of a hidden layer is clipped at 0 (it is a ReLU output) and handed down as the next
    layer's noisy output, with an error level :math:`\epsilon_{i-1}` chosen by ``propagate``:

    * ``"observed"`` (default): :math:`\epsilon_{i-1} = \max_j (-\hat h_{i-1,j})_+`. The true hidden
      layer is non-negative and about half its entries are exactly 0, so the negative entries of the
      estimate are pure error and sample the error on the inactive coordinates [DER; a data-driven
      estimate, not a bound];
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
    propagate : {"observed", "bound", "same"}
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
            if i > 1 and propagate != "same":
                act = h[idx] > res.threshold.to(dev).unsqueeze(-1)
                nxt = _propagated_error(W[idx], h[idx], res.x, act, e_i, propagate).double().cpu()
                eps[idx.cpu()] = nxt
            layers[i - 1] = res
        else:
            layer_ok = ok.clone()
        newly = ok & ~layer_ok
        failed = torch.where(newly, torch.full_like(failed, i), failed)
        ok = ok & layer_ok
        h = torch.nan_to_num(x_i, nan=0.0).clamp_min(0.0) if i > 1 else x_i
    z = torch.where(ok.unsqueeze(-1), h, torch.full_like(h, math.nan))
    return NetworkInversion(
        z=z.reshape(*lead, -1), invertible=ok.reshape(lead), failed_layer=failed.reshape(lead),
        n_active=n_active.reshape(*lead, d), layers=layers,
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


def _relative(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (a.to(b.dtype) - b).norm(dim=-1) / b.norm(dim=-1).clamp_min(torch.finfo(b.dtype).tiny)


# ---------------------------------------------------------------------------------------------- WDC
def wdc_sup_estimate(
    W: torch.Tensor,
    *,
    pairs: int = 64,
    ascent_steps: int = 30,
    seed: SeedLike = 0,
) -> torch.Tensor:
    r"""A lower estimate of the WDC constant :math:`\sup_{x,y}\|\sum_i 1_{w_i^\top x>0}1_{w_i^\top y>0}w_iw_i^\top - Q_{x,y}\|_2`.

    Starts from ``pairs`` random pairs per layer (half of them nearly parallel) and climbs by random
    search: each step perturbs the directions with a shrinking step and keeps the proposals that
    raise the deviation (:func:`ilib.angles.wdc_deviation`). The Weight Distribution Condition
    (Hand & Voroninski 2018) is a supremum over all pairs; a search only bounds it from below.

    Parameters
    ----------
    W : (B, n, k) layers (entries :math:`\mathcal{N}(0, 1/n)` for the condition to be meaningful).
    pairs, ascent_steps : int
    seed : int or torch.Generator

    Returns
    -------
    (B,) the largest deviation found per layer.
    """
    if W.dim() != 3:
        raise ValueError(f"W must have shape (B, n, k), got {tuple(W.shape)}")
    pairs = check_positive_int(pairs, "pairs")
    ascent_steps = check_nonneg_int(ascent_steps, "ascent_steps")
    B, n, k = W.shape
    g = make_generator(seed)
    kw = dict(generator=g, dtype=W.dtype, device=W.device)

    def unit(v: torch.Tensor) -> torch.Tensor:
        return v / v.norm(dim=-1, keepdim=True).clamp_min(1e-300)

    x = unit(randn(B, pairs, k, **kw))
    y = unit(randn(B, pairs, k, **kw))
    half = pairs // 2
    if half:
        y[:, :half] = unit(x[:, :half] + 0.05 * randn(B, half, k, **kw))
    dev = wdc_deviation(W, x, y)
    steps = int(ascent_steps)
    for s in range(steps):
        step = 0.5 * (0.02 / 0.5) ** (s / max(1, steps - 1))
        xp = unit(x + step * randn(B, pairs, k, **kw))
        yp = unit(y + step * randn(B, pairs, k, **kw))
        devp = wdc_deviation(W, xp, yp)
        up = devp > dev
        x = torch.where(up.unsqueeze(-1), xp, x)
        y = torch.where(up.unsqueeze(-1), yp, y)
        dev = torch.where(up, devp, dev)
    return dev.amax(-1)


# ---------------------------------------------------------------------------------------------- experiments
def expansion_sweep(
    k: int,
    r_values: Sequence[float],
    depth: int,
    nets: int,
    *,
    latents: int = 4,
    gd_nets: Optional[int] = None,
    steps: int = 1500,
    lr: float = 0.2,
    method: str = "gd",
    restarts: int = 1,
    negate_every: int = 10,
    exact_tol: float = 1e-6,
    gd_tol: float = 1e-2,
    gd_dtype: DTypeLike = torch.float32,
    seed: SeedLike = 0,
    chunk_mb: float = 128.0,
    device: DeviceLike = "auto",
) -> dict:
    r"""Exact layer-wise inversion and the gradient method against the expansion ratio, on the same nets.

    For every ``r``: ``nets`` random nets with widths :math:`k r^i` (:func:`expansion_widths`, weights
    :math:`\mathcal{N}(0, 2/n_i)`, float64) and ``latents`` latents each (:func:`random_problems`).

    * exact: :func:`invert_network` on all ``nets * latents`` problems (in chunks of nets to bound
      memory); success is a relative latent error below ``exact_tol``. Also records the active-row
      margin :math:`\min_i(|S_i| - n_{i-1})` of every problem (success is predicted iff it is
      :math:`\ge 0`), the layer where inversion stopped, problems reported invertible but wrong
      (``silent_wrong``), the prediction :func:`predicted_exact_success`, and the fraction whose local
      linear map :math:`\Lambda_{z^*}` has rank ``k`` (local identifiability, necessary for any method).
    * gradient method: :func:`invert_gd` (in ``gd_dtype``) on the first ``gd_nets`` nets with their
      latents; success is a relative latent error below ``gd_tol``; ``fit_only`` counts outputs fitted
      to ``gd_tol`` with the wrong latent.

    Returns a dict of per-``r`` lists; the per-problem lists (``margin``, ``exact_ok``,
    ``identifiable_ok``, ``gd_ok``) are flattened net-major, so the first ``gd_trials`` entries of
    the exact ones are the problems the gradient method saw.
    """
    k = check_positive_int(k, "k")
    depth = check_positive_int(depth, "depth")
    nets = check_positive_int(nets, "nets")
    latents = check_positive_int(latents, "latents")
    gd_nets = nets if gd_nets is None else check_int(gd_nets, "gd_nets", lo=0, hi=nets)
    rs = check_list(r_values, "r_values", check_positive)
    g = make_generator(seed)
    starts = make_generator(seed + 1) if isinstance(seed, int) else g
    keys = ("widths", "exact_success", "predicted", "exact_flagged", "silent_wrong", "failed_layer",
            "active_fraction", "margin", "exact_ok", "identifiable", "exact_max_error",
            "gd_success", "gd_fit_only", "gd_flipped", "gd_median_error", "gd_identifiable",
            "identifiable_ok", "gd_ok")
    out: dict = {key: [] for key in keys}
    out.update(r=rs, k=k, depth=depth, trials=nets * latents, gd_trials=gd_nets * latents)
    for r in rs:
        widths = expansion_widths(k, r, depth)
        G, z, x = random_problems(widths, nets, latents=latents, seed=g, device=device)
        # ---- exact, chunked over nets
        per_net = latents * widths[-1] * (widths[-2] + 1) * 8 * 3 / 2**20
        step = max(1, int(chunk_mb // max(per_net, 1e-9)))
        inv_ok, err, fail = [], [], []
        for a in range(0, nets, step):
            sub = G.select(slice(a, a + step))
            res = invert_network(sub, x[a : a + step])
            inv_ok.append(res.invertible)
            err.append(_relative(res.z, z[a : a + step]))
            fail.append(res.failed_layer)
        inv_ok, err, fail = torch.cat(inv_ok), torch.cat(err), torch.cat(fail)
        good = torch.nan_to_num(err, nan=math.inf) < exact_tol
        with torch.no_grad():
            pre = G.pre_activations(z)
            act = torch.stack([(p > 0).sum(-1) for p in pre], dim=-1)  # (nets, latents, d)
            margin = (act - torch.tensor(widths[:-1], device=act.device)).amin(-1)
            lam = G.local_linear_map(z)  # (nets, latents, n, k)
            sv = torch.linalg.svdvals(lam)
            ident = sv[..., -1] > 1e-10 * sv[..., 0]
        out["widths"].append(widths)
        out["exact_success"].append(float(good.double().mean()))
        out["predicted"].append(predicted_exact_success(widths))
        out["exact_flagged"].append(float(inv_ok.double().mean()))
        out["silent_wrong"].append(int((inv_ok & ~good).sum()))
        out["failed_layer"].append([int((fail == i).sum()) for i in range(1, depth + 1)])
        n_out = torch.tensor(widths[1:], dtype=torch.float64, device=act.device)
        out["active_fraction"].append((act.double() / n_out).reshape(-1, depth).mean(0).tolist())
        out["margin"].append(margin.reshape(-1).tolist())
        out["exact_ok"].append(good.reshape(-1).tolist())
        out["identifiable"].append(float(ident.double().mean()))
        out["identifiable_ok"].append(ident.reshape(-1).tolist())
        out["exact_max_error"].append(float(err[good].max()) if bool(good.any()) else math.nan)
        # ---- gradient method with the negation check, on the first gd_nets nets
        if gd_nets:
            Gg = G.select(slice(0, gd_nets)).to(dtype=gd_dtype)
            res = invert_gd(Gg, x[:gd_nets].to(Gg.dtype), steps=steps, lr=lr, method=method, restarts=restarts,
                            negate_every=negate_every, seed=starts)
            e = _relative(res.z.double(), z[:gd_nets])
            with torch.no_grad():
                fit = _relative(Gg(res.z).double(), x[:gd_nets])
            ok = torch.nan_to_num(e, nan=math.inf) < gd_tol
            out["gd_success"].append(float(ok.double().mean()))
            out["gd_fit_only"].append(float(((fit < gd_tol) & ~ok).double().mean()))
            out["gd_flipped"].append(float((res.flips > 0).double().mean()))
            out["gd_median_error"].append(float(e.median()))
            out["gd_identifiable"].append(float(ident[:gd_nets].double().mean()))
            out["gd_ok"].append(ok.reshape(-1).tolist())
        else:
            for key in ("gd_success", "gd_fit_only", "gd_flipped", "gd_median_error", "gd_identifiable"):
                out[key].append(math.nan)
            out["gd_ok"].append([])
    return out


def noisy_sweep(
    k: int,
    r: float,
    depth: int,
    nets: int,
    noise_values: Sequence[float],
    *,
    steps: int = 1500,
    lr: float = 0.2,
    method: str = "gd",
    negate_every: int = 10,
    threshold_factor: float = 2.0,
    seed: SeedLike = 0,
    device: DeviceLike = "auto",
) -> dict:
    r"""Error against noise for layer-wise LP inversion and the gradient method, on the same nets and noise.

    Nets with widths :math:`k r^i` (gain 2, float64), one latent each, outputs
    :math:`x = G(z^*) + e` with :math:`e` uniform on :math:`[-\epsilon, \epsilon]^n` and
    :math:`\epsilon = \mathrm{noise}\cdot\|G(z^*)\|/\sqrt{n}` (relative to the output's RMS entry).
    Methods: :func:`invert_network_lp` with ``"linf"`` and ``"l1"`` at ``threshold_factor``, the
    ``"linf"`` LP with no threshold (:math:`\tau = 0`), and :func:`invert_gd`. Returns, per method and
    noise level, the median and 90th percentile of :math:`\|\hat z - z^*\|/\|z^*\|` and the fraction
    reported not invertible (counted as error 1 in the percentiles).
    """
    levels = check_list(noise_values, "noise_values", check_nonneg)
    widths = expansion_widths(k, r, depth)
    g = make_generator(seed)
    G, z, x = random_problems(widths, nets, seed=g, device=device)
    z, x = z[:, 0], x[:, 0]
    rms = x.norm(dim=-1) / math.sqrt(widths[-1])
    lp_methods = {
        "LP linf": dict(norm="linf", threshold_factor=threshold_factor),
        "LP l1": dict(norm="l1", threshold_factor=threshold_factor),
        "LP linf, tau=0": dict(norm="linf", threshold_factor=0.0),
    }
    names = list(lp_methods) + ["GD"]
    out: dict = {"noise": levels, "widths": widths, "trials": nets, "methods": names}
    for name in names:
        out[name] = {"median": [], "p90": [], "not_invertible": []}
    for lvl in levels:
        eps = lvl * rms
        y = x + bounded_noise(tuple(x.shape), eps, seed=g, device=x.device)
        for name, kw in lp_methods.items():
            res = invert_network_lp(G, y, noise_bound=eps, **kw)
            err = torch.where(res.invertible, _relative(res.z, z), torch.ones(nets, dtype=z.dtype, device=z.device))
            out[name]["median"].append(float(err.median()))
            out[name]["p90"].append(float(torch.quantile(err, 0.9)))
            out[name]["not_invertible"].append(float((~res.invertible).double().mean()))
        res = invert_gd(G, y, steps=steps, lr=lr, method=method, negate_every=negate_every, seed=g)
        err = _relative(res.z, z)
        out["GD"]["median"].append(float(err.median()))
        out["GD"]["p90"].append(float(torch.quantile(err, 0.9)))
        out["GD"]["not_invertible"].append(0.0)
    return out


def wdc_vs_expansion(
    k_values: Sequence[int],
    r_values: Sequence[float],
    layers: int,
    *,
    pairs: int = 64,
    ascent_steps: int = 30,
    seed: SeedLike = 0,
    device: DeviceLike = "auto",
) -> dict:
    r"""WDC deviation (a lower estimate of the sup over pairs) of :math:`n \times k` Gaussian layers with :math:`n = r k`.

    ``layers`` independent :math:`W` with :math:`\mathcal{N}(0, 1/n)` entries per ``(k, r)``, searched
    with :func:`wdc_sup_estimate` in float64. Returns ``dev[i][j]`` (mean over layers) and
    ``dev_max[i][j]`` for ``k_values[i]``, ``r_values[j]``.
    """
    ks = check_int_list(k_values, "k_values", lo=2)
    rs = check_list(r_values, "r_values", check_positive)
    layers = check_positive_int(layers, "layers")
    g = make_generator(seed)
    dev, dev_max, ns = [], [], []
    for k in ks:
        row, row_max, row_n = [], [], []
        for r in rs:
            n = max(1, int(round(r * k)))
            W = randn(layers, n, k, generator=g, dtype=torch.float64, device=device) / math.sqrt(n)
            d = wdc_sup_estimate(W, pairs=pairs, ascent_steps=ascent_steps, seed=g)
            row.append(float(d.mean()))
            row_max.append(float(d.max()))
            row_n.append(n)
        dev.append(row)
        dev_max.append(row_max)
        ns.append(row_n)
    return {"k": ks, "r": rs, "n": ns, "dev": dev, "dev_max": dev_max, "layers": layers, "pairs": pairs}


def threshold_ratio(r_values: Sequence[float], success: Sequence[float], level: float = 0.5) -> float:
    """Shim for notebook 07 until it moves onto the new harness: :func:`ilib.stats.crossing` of a success curve.

    The expansion ratio where the curve first reaches ``level`` (linear interpolation; NaN if never,
    the smallest ratio if it already does); ``r_values`` may come in any order (sorted here).
    """
    rs, s = np.asarray(r_values, dtype=float), np.asarray(success, dtype=float)
    if rs.shape != s.shape or rs.ndim != 1 or rs.size == 0:
        raise ValueError("r_values and success must be non-empty and of equal length")
    order = np.argsort(rs)
    return stats.crossing(rs[order], s[order], level)


def loglog_slope(x: Sequence[float], y: Sequence[float]) -> float:
    """Shim for notebook 07 until it moves onto the new harness: ``ilib.stats.loglog_fit(x, y).slope``.

    Least-squares slope of :math:`\\log y` against :math:`\\log x` over the positive points (NaN with fewer than two).
    """
    return stats.loglog_fit(x, y).slope
