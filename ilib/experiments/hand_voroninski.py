r"""Notebook 03: the Hand–Voroninski landscape of random expansive ReLU networks.

For :math:`G(x) = \mathrm{relu}(W_d \cdots \mathrm{relu}(W_1 x))`, :math:`(W_i)_{jl} \sim \mathcal N(0, 1/n_i)`,
and :math:`f(x) = \tfrac12\|AG(x) - AG(x_0)\|^2`, Hand & Voroninski (COLT 2018 / IEEE-TIT 2020, Thm 1)
show a descent direction at every nonzero :math:`x` outside neighbourhoods of :math:`x_0` and
:math:`-\rho_d x_0`, provided every layer satisfies the Weight Distribution Condition WDC(:math:`\epsilon`)
and :math:`A` the Range Restricted Isometry Condition RRIC(:math:`\epsilon`), :math:`K_1 d^8 \epsilon^{1/4} \le 1`.
Huang, Hand, Heckel & Voroninski (ACHA 2021) turn it into gradient descent with a negation check;
Heckel, Huang, Hand & Voroninski (2018) show the same networks denoise at rate :math:`\sigma^2 k/n`.

Sections: (a) :func:`landscape_section` (one network's landscape, and its :math:`t^\star` among many
networks), (b) :func:`rho_sweep`, (c) :func:`wdc_section`, :func:`rric_section`,
:func:`gradient_section` (fixed-pair concentration beside the suprema the theorems need),
(d) :func:`success_sweep` (descent with and without the negation check, beside the infinite-width
prediction), (e) :func:`stationary_section`, :func:`convergence_section`, :func:`hessian_sweep`
(stationary points for :math:`k > 2`, the linear rate), (f) :func:`denoising_sweep`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from .. import landscape as L
from .. import stats
from .._checks import check_int_list, check_list, check_nonneg, check_positive, check_positive_int
from ..angles import angle_sequence, expected_gradient, rho, wdc_deviation
from ..claims import Above, AtLeast, AtMost, Claim, Covers, Estimate
from ..device import DeviceLike, SeedLike, make_generator, randn, resolve_device
from ..generators import ReLUGenerator
from ..operators import MatrixOperator
from ..optim import minimize
from ..profile import Profile as _Profile
from ..profile import param

NOTEBOOK = "03_hand_voroninski"
F64 = torch.float64


# --------------------------------------------------------------------------- fixed settings
#: the network drawn in (a): Heckel, Huang, Hand & Voroninski 2018, Fig. 1
GRID_WIDTHS = (2, 300, 784)
#: depths of the expected flows in (a) and of the negative critical point in (b)
FLOW_DEPTHS = (2, 3, 5)
RAY_DEPTHS = (2, 3, 4)
#: (c): latent dimension and pairs per layer of the fixed-pair WDC; the RRIC network, its instances, quadruples and
#: the quadruples the adversarial ascent starts from
WDC_K, WDC_PAIRS = 5, 16
RRIC_WIDTHS, RRIC_INSTANCES, RRIC_QUADRUPLES, RRIC_RESTARTS = (5, 100, 1000), 4, 50, 8
#: (d): latent dimension, widest output run, period of the negation check, compressive m = min(n, M_FACTOR k d)
DESCENT_K, MAX_WIDTH, NEGATE_EVERY, M_FACTOR = 2, 4096, 20, 8.0
#: (e): the denoisers k-HIDDEN-N_OUT, networks per k, gradient steps
HIDDEN, N_OUT, DENOISE_NETWORKS, DENOISE_STEPS = 500, 1500, 2, 150
#: (f): latent dimension, starts per network (half random, half wrong-side), Adam step on |v_x|^2, steps of the
#: rate measurement, sampled networks per width for the Hessian at x0
STAT_K, STAT_STARTS, STAT_LR, RATE_STEPS, HESS_NETWORKS = 5, 16, 0.02, 400, 200


# --------------------------------------------------------------------------- parameters
@dataclass(frozen=True)
class Profile(_Profile):
    """Parameters of notebook 03 (each declared once; see :mod:`ilib.profile`); fixed settings are module constants."""

    grid_points: int = param(smoke=31, paper=101, lo=3, doc="grid points per axis in (a)")
    spread_networks: int = param(smoke=200, paper=2000, lo=2, doc="networks of the (a) widths whose t* give the spread")
    width_values: tuple[int, ...] = param(smoke=(64, 256, 1024, 4096), paper=(16, 64, 256, 1024, 4096, 16384), lo=1,
                                          doc="layer widths w (networks 2-w-...-w) in (b)")
    ray_networks: int = param(smoke=40, paper=200, lo=2, doc="sampled networks per (d, w) in (b)")
    n_values: tuple[int, ...] = param(smoke=(100, 1000, 10000), paper=(100, 1000, 10000, 100000), lo=1,
                                      doc="layer widths n of the fixed-pair WDC deviation in (c)")
    sup_n_values: tuple[int, ...] = param(smoke=(50, 100, 200, 400), paper=(100, 200, 400, 800, 1600), lo=2,
                                          doc="layer widths n of the exact WDC supremum (latent dimension 2) in (c)")
    wdc_layers: int = param(smoke=4, paper=8, lo=1, doc="independent layers per n in (c)")
    m_values: tuple[int, ...] = param(smoke=(25, 100, 400), paper=(25, 50, 100, 200, 400, 800), lo=1,
                                      doc="numbers of measurements of the RRIC in (c)")
    rric_steps: int = param(smoke=30, paper=100, lo=1, doc="Adam steps of the adversarial RRIC ascent")
    grad_width_values: tuple[int, ...] = param(smoke=(32, 128, 512), paper=(32, 128, 512, 2048), lo=1,
                                               doc="widths w of the networks 3-w-w for the gradient deviation")
    descent_depth_values: tuple[int, ...] = param(smoke=(2, 3), paper=(2, 3, 4), lo=1, doc="depths in (d)")
    expansion_values: tuple[float, ...] = param(smoke=(2.0, 16.0), paper=(1.0, 2.0, 4.0, 8.0, 16.0, 32.0), lo=1,
                                                doc="expansion factors c in (d), widths round(k c^i)")
    descent_networks: int = param(smoke=4, paper=10, lo=1, doc="networks per configuration in (d)")
    starts: int = param(smoke=4, paper=16, lo=1, doc="random starts, and as many within 30 degrees of -x0, per network")
    descent_steps: int = param(smoke=100, paper=300, lo=1, doc="gradient steps in (d)")
    lr: float = param(smoke=0.5, paper=0.5, lo=0, hi=1, lo_open=True, doc="step size of gradient descent, in units of 2^d")
    k_values: tuple[int, ...] = param(smoke=(5, 20), paper=(5, 10, 20, 40), lo=1, doc="latent dimensions in (e)")
    sigma2_values: tuple[float, ...] = param(smoke=(0.25, 1.0), paper=(0.25, 0.5, 1.0, 2.0, 4.0), lo=0, lo_open=True,
                                             doc="noise energies sigma^2, the mean of |eta|^2, in (e)")
    trials: int = param(smoke=4, paper=8, lo=1, doc="(x*, eta) draws per network and sigma^2 in (e)")
    stat_expansions: tuple[float, ...] = param(smoke=(2.0, 8.0), paper=(2.0, 4.0, 8.0, 16.0), lo=1,
                                               doc="expansion factors c of the networks k-kc-kc^2 in (f)")
    stat_networks: int = param(smoke=2, paper=6, lo=1, doc="networks per expansion in (f)")
    stat_steps: int = param(smoke=150, paper=600, lo=1, doc="Adam steps on the squared gradient norm in (f)")
    hess_width_values: tuple[int, ...] = param(smoke=(50, 200, 800), paper=(50, 200, 800, 3200, 12800), lo=1,
                                               doc="widths w of the networks k-w-w whose Hessian at x0 is sampled")

    def relations(self) -> None:
        self.require(max(self.k_values) <= N_OUT, "k_values", f"must be at most the output dimension {N_OUT}")
        self.require(len([n for n in self.n_values if n >= 1000]) >= 2, "n_values", "needs at least 2 widths >= 1000")
        self.require(len(self.sup_n_values) >= 3, "sup_n_values", "needs at least 3 widths for a slope with an interval")
        self.require(len(self.hess_width_values) >= 3, "hess_width_values", "needs at least 3 widths for a slope")
        self.require(len([w for w in self.width_values if w >= 256]) >= 3, "width_values",
                     "needs at least 3 widths >= 256 for the spread's slope")


def _fit(x, y) -> Estimate:
    """The log-log slope of ``y`` on ``x`` with its Student-t 95% interval (:func:`ilib.stats.loglog_fit`)."""
    f = stats.loglog_fit(np.asarray(x, float).ravel(), np.asarray(y, float).ravel())
    return Estimate.interval(f.slope, f.lo, f.hi, "t 95% (log-log fit)", f.n)


def _unit(B: int, P: int, k: int, g: torch.Generator, device) -> torch.Tensor:
    u = randn(B, P, k, generator=g, dtype=F64, device=device)
    return u / u.norm(dim=-1, keepdim=True)


# --------------------------------------------------------------------------- theory table
@dataclass(frozen=True)
class RhoTable:
    r""":math:`\rho_d` from its sum formula and :math:`\cos g^{\circ d}(\pi)`, for ``d = 1 .. d_max``."""

    d: np.ndarray
    rho: np.ndarray
    cos_angle: np.ndarray


def rho_table(d_max: int = 12) -> RhoTable:
    """:math:`\\rho_d` (:func:`ilib.angles.rho`) beside :math:`\\cos \\check\\theta_d` (:func:`ilib.landscape.negative_critical_angle`)."""
    d = np.arange(1, check_positive_int(d_max, "d_max") + 1)
    return RhoTable(d=d, rho=np.array([rho(int(i)) for i in d]),
                    cos_angle=np.cos([L.negative_critical_angle(int(i)) for i in d]))


# --------------------------------------------------------------------------- (a) the landscape of one network
@dataclass(frozen=True)
class Landscape:
    """Empirical and expected landscapes of one ``k = 2`` network on a grid, and ``t*`` over many networks."""

    widths: tuple[int, ...]
    xs: np.ndarray  # (N,)
    empirical: np.ndarray  # (N, N) f(x), rows indexed by the second coordinate
    expected: np.ndarray  # (N, N) f̄(x)
    grad_empirical: np.ndarray  # (N, N, 2) v_x
    grad_expected: np.ndarray  # (N, N, 2) h_x
    ray_t: float  # t* of the drawn network
    spread_t: np.ndarray  # t* of other networks with the same widths

    @property
    def depth(self) -> int:
        return len(self.widths) - 1

    @property
    def relative_difference(self) -> float:
        return float(np.linalg.norm(self.empirical - self.expected) / np.linalg.norm(self.expected))

    @property
    def quantile(self) -> float:
        """Where the drawn network's ``t*`` falls in the spread (fraction of networks below it)."""
        return float((self.spread_t < self.ray_t).mean())


def landscape_section(widths: Sequence[int], *, points: int, spread_networks: int, extent: float = 2.0,
                      stream: SeedLike, device: DeviceLike = "auto") -> Landscape:
    r"""(a): :math:`f`, :math:`\bar f`, :math:`v_x` and :math:`h_{x,x_0}` on a grid of :math:`[-e, e]^2` for one
    network (Heckel et al. 2018, Fig. 1 uses 2-300-784), :math:`x_0 = (1, 0)`, and :math:`t^\star` of
    ``spread_networks`` other networks of the same widths (exact sampler :func:`ilib.landscape.sample_outputs`)."""
    widths = check_int_list(widths, "widths")
    if widths[0] != 2:
        raise ValueError(f"widths must start with the latent dimension 2, got widths={widths}")
    points, spread_networks = check_positive_int(points, "points"), check_positive_int(spread_networks, "spread_networks")
    check_positive(extent, "extent")
    G = ReLUGenerator.random(widths, batch=1, seed=stream.child("network"), dtype=F64, device=device)
    dev = G.device
    x0 = torch.tensor([[1.0, 0.0]], dtype=F64, device=dev)
    xs = torch.linspace(-extent, extent, points, dtype=F64, device=dev)
    YY, XX = torch.meshgrid(xs, xs, indexing="ij")
    X = torch.stack([XX, YY], dim=-1).reshape(1, -1, 2)
    with torch.no_grad():
        f = L.landscape_loss(G, X, x0).reshape(points, points)
        v = L.empirical_gradient(G, X, x0).reshape(points, points, 2)
        fbar = L.expected_loss(X, x0, G.depth).reshape(points, points)
        h = expected_gradient(X, x0.unsqueeze(1), G.depth).reshape(points, points, 2)
        t = float(L.ray_critical_point(G, x0)[0])
    z = torch.cat([x0, -x0])
    y = L.sample_outputs(z, widths, networks=spread_networks, seed=stream.child("spread"), device=device)
    spread = ((y[:, 0] * y[:, 1]).sum(-1) / (y[:, 1] * y[:, 1]).sum(-1).clamp_min(1e-300)).cpu().numpy()
    np_ = lambda a: a.cpu().numpy()  # noqa: E731
    return Landscape(tuple(widths), np_(xs), np_(f), np_(fbar), np_(v), np_(h), t, spread)


# --------------------------------------------------------------------------- (b) the negative critical point
@dataclass(frozen=True)
class RhoSweep:
    r""":math:`t^\star` of sampled networks ``k-w-...-w``: ``t`` has shape ``(len(depth_values), len(width_values), networks)``."""

    depth_values: tuple[int, ...]
    width_values: tuple[int, ...]
    t: np.ndarray
    w_min_fit: int = 256

    @property
    def mean(self) -> np.ndarray:
        return self.t.mean(-1)

    @property
    def sd(self) -> np.ndarray:
        return self.t.std(-1, ddof=1)

    def at(self, d: int) -> "RhoRow":
        """The sweep at depth ``d`` (what the per-depth claims read)."""
        return RhoRow(d, self.width_values, self.t[self.depth_values.index(d)], self.w_min_fit)


@dataclass(frozen=True)
class RhoRow:
    r""":math:`t^\star` at one depth: ``t`` ``(len(width_values), networks)``."""

    d: int
    width_values: tuple[int, ...]
    t: np.ndarray
    w_min_fit: int

    @property
    def sd(self) -> np.ndarray:
        return self.t.std(-1, ddof=1)

    def spread_fit(self) -> Estimate:
        """Slope of log sd(t*) on log w over ``w >= w_min_fit`` (the asymptotic regime)."""
        w = np.asarray(self.width_values, float)
        keep = w >= self.w_min_fit
        return _fit(w[keep], self.sd[keep])


def rho_sweep(depth_values: Sequence[int], width_values: Sequence[int], *, networks: int, k: int = 2,
              stream: SeedLike, device: DeviceLike = "auto") -> RhoSweep:
    r"""(b): the ray critical point :math:`t^\star = \langle G(x_0), G(-x_0)\rangle / \|G(-x_0)\|^2` of
    ``networks`` networks ``[k, w, ..., w]`` for every depth and width, drawn exactly by
    :func:`ilib.landscape.sample_outputs` (so widths of :math:`10^4` are cheap); :math:`t^\star \to \rho_d`."""
    depth_values = check_int_list(depth_values, "depth_values")
    width_values = check_int_list(width_values, "width_values")
    networks, k = check_positive_int(networks, "networks"), check_positive_int(k, "k")
    x0 = torch.zeros(k, dtype=F64)
    x0[0] = 1.0
    z = torch.stack([x0, -x0])
    out = np.empty((len(depth_values), len(width_values), networks))
    for a, d in enumerate(depth_values):
        for b, w in enumerate(width_values):
            y = L.sample_outputs(z, [k] + [w] * d, networks=networks, seed=stream.child(f"d={d},w={w}"), device=device)
            out[a, b] = ((y[:, 0] * y[:, 1]).sum(-1) / (y[:, 1] * y[:, 1]).sum(-1).clamp_min(1e-300)).cpu().numpy()
    return RhoSweep(tuple(depth_values), tuple(width_values), out)


# --------------------------------------------------------------------------- (c) concentration and suprema
@dataclass(frozen=True)
class WDCSection:
    r"""Fixed-pair WDC deviations at latent dimension ``k`` and exact suprema at ``k = 2``.

    ``fixed``: ``(len(n_values), layers, pairs)``; ``sup_lower``/``sup_upper``: ``(len(sup_n_values), layers)``;
    ``sup_fixed``: the fixed-pair deviations of the same ``k = 2`` layers, ``(len(sup_n_values), layers, pairs)``.
    """

    k: int
    n_values: tuple[int, ...]
    fixed: np.ndarray
    sup_n_values: tuple[int, ...]
    sup_lower: np.ndarray
    sup_upper: np.ndarray
    sup_fixed: np.ndarray

    n_min_fit: int = 1000

    def fixed_fit(self) -> Estimate:
        """Slope of log deviation on log n over ``n >= n_min_fit`` (the CLT regime, n >= 200 k); one point per layer
        (the mean over its pairs: pairs of one layer share its rows, layers are independent)."""
        keep = np.asarray(self.n_values) >= self.n_min_fit
        n = np.repeat(np.asarray(self.n_values, float)[keep], self.fixed.shape[1])
        return _fit(n, self.fixed[keep].mean(-1).reshape(-1))

    def sup_fit(self) -> Estimate:
        n = np.repeat(np.asarray(self.sup_n_values, float), self.sup_lower.shape[1])
        return _fit(n, self.sup_lower.reshape(-1))

    def normalised_sup_fit(self) -> Estimate:
        r"""Slope of :math:`\log(\epsilon\sqrt{n/\log n})` on :math:`\log n`: at most 0 if :math:`\epsilon \lesssim \sqrt{\log n/n}`."""
        n = np.asarray(self.sup_n_values, float)[:, None]
        scaled = self.sup_lower * np.sqrt(n / np.log(n))
        return _fit(np.repeat(n, self.sup_lower.shape[1], axis=1), scaled)

    def lemma_epsilon(self, n, c: float = 1.0) -> np.ndarray:
        r"""The :math:`\epsilon` of HV Lemma 9 at width ``n`` for ``k = 2`` with constant ``c``: the root of
        :math:`n = c\,\epsilon^{-2}\log(1/\epsilon)\,k\log k`."""
        from scipy.optimize import brentq

        k = 2
        return np.array([brentq(lambda e: c * math.log(1 / e) * k * math.log(k) / e**2 - float(nn), 1e-12, 0.999)
                         for nn in np.ravel(n)])


def wdc_section(n_values: Sequence[int], sup_n_values: Sequence[int], *, k: int, layers: int, pairs: int,
                stream: SeedLike, device: DeviceLike = "auto") -> WDCSection:
    r"""(c): WDC deviations :math:`\|\sum_i 1 1 w_iw_i^\top - Q_{x,y}\|` of random layers :math:`\mathcal N(0, 1/n)`.

    On ``pairs`` random pairs of unit directions per layer (a sum of ``n`` iid centred terms: a CLT
    statement), and, for ``k = 2``, the supremum over all pairs by the exact scan
    :func:`ilib.landscape.wdc_sup_2d`, which is what WDC(:math:`\epsilon`) constrains.
    """
    n_values, sup_n_values = check_int_list(n_values, "n_values"), check_int_list(sup_n_values, "sup_n_values", lo=2)
    k, layers, pairs = check_positive_int(k, "k"), check_positive_int(layers, "layers"), check_positive_int(pairs, "pairs")
    dev = resolve_device(device)

    def fixed_pairs(n: int, kk: int, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        W = randn(layers, n, kk, generator=g, dtype=F64, device=dev) / math.sqrt(n)
        x, y = _unit(layers, pairs, kk, g, dev), _unit(layers, pairs, kk, g, dev)
        chunk = max(1, 2_000_000 // (pairs * n * kk))
        d = torch.cat([wdc_deviation(W[s : s + chunk], x[s : s + chunk], y[s : s + chunk]) for s in range(0, layers, chunk)])
        return W, d

    fixed = np.stack([fixed_pairs(n, k, make_generator(stream.child(f"fixed n={n}")))[1].cpu().numpy() for n in n_values])
    lo, up, sf = [], [], []
    for n in sup_n_values:
        W, d = fixed_pairs(n, 2, make_generator(stream.child(f"sup n={n}")))
        s = L.wdc_sup_2d(W.cpu())
        lo.append(s.lower.numpy()), up.append(s.upper.numpy()), sf.append(d.cpu().numpy())
    return WDCSection(k, tuple(n_values), fixed, tuple(sup_n_values), np.stack(lo), np.stack(up), np.stack(sf))


@dataclass(frozen=True)
class RRICSection:
    r"""RRIC deviations of Gaussian :math:`A` on random quadruples (``fixed``: ``(M, instances, quadruples)``, with
    ``cos`` :math:`\cos\angle(u, v)` of each quadruple ``(instances, quadruples)``) and the adversarial ascent's best
    value per instance (``adversarial``: ``(M, instances)``)."""

    widths: tuple[int, ...]
    m_values: tuple[int, ...]
    fixed: np.ndarray
    cos: np.ndarray
    adversarial: np.ndarray

    def second_moment_ratio(self) -> np.ndarray:
        r""":math:`m\,\mathrm{dev}^2 / (1 + \cos^2\angle(u, v))` per quadruple and ``m``: mean exactly 1 at every ``m``."""
        m = np.asarray(self.m_values, float)[:, None, None]
        return m * self.fixed**2 / (1 + self.cos[None] ** 2)

    def second_moment_estimate(self) -> Estimate:
        """The mean ratio with a t-interval over the independent units: one mean per (m, instance), i.e. per draw of A
        (the quadruples of one instance share its A)."""
        return Estimate.mean(self.second_moment_ratio().mean(-1))

    def fixed_fit(self) -> Estimate:
        """Slope of the log of the per-m mean deviation on log m (for the figure)."""
        return _fit(self.m_values, self.fixed.mean((1, 2)))

    def adversarial_fit(self) -> Estimate:
        return _fit(np.repeat(np.asarray(self.m_values, float), self.adversarial.shape[1]), self.adversarial.reshape(-1))

    def normalised_adversarial_fit(self) -> Estimate:
        """Slope of log(adversarial * sqrt(m)) on log m: at most 0 if the RRIC constant is O(m^(-1/2))."""
        m = np.asarray(self.m_values, float)[:, None]
        return _fit(np.repeat(m, self.adversarial.shape[1], axis=1), self.adversarial * np.sqrt(m))


def rric_section(m_values: Sequence[int], widths: Sequence[int], *, instances: int, quadruples: int, restarts: int,
                 steps: int, lr: float = 0.05, stream: SeedLike, device: DeviceLike = "auto") -> RRICSection:
    r"""(c): the RRIC deviation :math:`|\langle Au, Av\rangle - \langle u, v\rangle| / \|u\|\|v\|` of :math:`A` with
    :math:`\mathcal N(0, 1/m)` entries on differences of range points of a network ``widths``: at ``quadruples``
    random quadruples of latents :math:`\mathcal N(0, I_k)`, and after Adam ascent from the first ``restarts`` of them
    (:func:`ilib.landscape.rric_ascent`, a lower estimate of the supremum RRIC(:math:`\epsilon`) bounds)."""
    m_values, widths = check_int_list(m_values, "m_values"), check_int_list(widths, "widths")
    instances, quadruples = check_positive_int(instances, "instances"), check_positive_int(quadruples, "quadruples")
    restarts = check_positive_int(restarts, "restarts")
    if restarts > quadruples:
        raise ValueError(f"restarts must be at most quadruples={quadruples}, got {restarts}")
    g = make_generator(stream.child("networks"))
    G = ReLUGenerator.random(widths, batch=instances, seed=g, dtype=F64, device=device)
    starts = randn(instances, quadruples, 4, G.latent_dim, generator=g, dtype=F64, device=G.device)
    with torch.no_grad():
        u = G(starts[:, :, 0]) - G(starts[:, :, 1])
        v = G(starts[:, :, 2]) - G(starts[:, :, 3])
        cos = ((u * v).sum(-1) / (u.norm(dim=-1) * v.norm(dim=-1))).cpu().numpy()
    fixed, adv = [], []
    for m in m_values:
        A = MatrixOperator.gaussian(m, G.output_dim, batch=instances, seed=stream.child(f"A m={m}"), dtype=F64,
                                    device=G.device)
        with torch.no_grad():
            fixed.append(L.rric_deviation(A, G, *(starts[:, :, j] for j in range(4))).cpu().numpy())
        r = L.rric_ascent(A, G, starts[:, :restarts], steps=steps, lr=lr)
        adv.append(np.maximum(r.best.detach().cpu().numpy(), fixed[-1].max(-1)))
    return RRICSection(tuple(widths), tuple(m_values), np.stack(fixed), cos, np.stack(adv))


@dataclass(frozen=True)
class GradientSection:
    r""":math:`2^d\|v_x - h_{x,x_0}\|/\|x_0\|` at random unit ``x`` of networks ``[k, w, ..., w]``: ``(W, networks, points)``."""

    k: int
    depth: int
    width_values: tuple[int, ...]
    deviation: np.ndarray

    def worst_fit(self) -> Estimate:
        """Slope of the per-network largest deviation over the points (a lower estimate of the sup over x) on log w."""
        w = np.repeat(np.asarray(self.width_values, float), self.deviation.shape[1])
        return _fit(w, self.deviation.max(-1).reshape(-1))


def gradient_section(width_values: Sequence[int], *, k: int = 3, depth: int = 2, networks: int = 4, points: int = 16,
                     stream: SeedLike, device: DeviceLike = "auto") -> GradientSection:
    r"""(c): how far the empirical gradient is from its limit, :math:`2^d\|v_x - h_{x,x_0}\|` for unit :math:`x_0`, ``x``.
    Hand & Voroninski (2018) bound it by :math:`O(d^3\sqrt\epsilon)` under WDC(:math:`\epsilon`)."""
    width_values = check_int_list(width_values, "width_values")
    k, depth = check_positive_int(k, "k"), check_positive_int(depth, "depth")
    networks, points = check_positive_int(networks, "networks"), check_positive_int(points, "points")
    out = np.empty((len(width_values), networks, points))
    for a, w in enumerate(width_values):
        g = make_generator(stream.child(f"w={w}"))
        G = ReLUGenerator.random([k] + [w] * depth, batch=networks, seed=g, dtype=F64, device=device)
        x0 = _unit(networks, 1, k, g, G.device)[:, 0]
        x = _unit(networks, points, k, g, G.device)
        with torch.no_grad():
            v = L.empirical_gradient(G, x, x0)
        out[a] = ((v - expected_gradient(x, x0.unsqueeze(1), depth)).norm(dim=-1) * 2**depth).cpu().numpy()
    return GradientSection(k, depth, tuple(width_values), out)


# --------------------------------------------------------------------------- (d) descent, with and without the negation check
CASES = ("inversion", "compressive")
START_KINDS = ("random", "cone")


def expansive_widths(k: int, depth: int, expansion: float) -> list[int]:
    """Widths ``[k, round(k c), round(k c^2), ...]`` of a depth-``depth`` network with expansion factor ``c``."""
    return [k] + [int(round(k * expansion**i)) for i in range(1, depth + 1)]


@dataclass(frozen=True)
class SuccessSweep:
    r"""Result of :func:`success_sweep`.

    ``success[(case, negate)][(d, c)]``: boolean ``(networks, starts + cone_count)`` (random starts first);
    ``predicted[negate][(d, c)]``: the same starts on the infinite-width landscape (:func:`ilib.landscape.expected_descent`);
    ``projection[(case, negate)][(d, c)]``: :math:`\langle x_T, x_0\rangle/\|x_0\|^2`; ``ray_t[case][(d, c)]``:
    each network's :math:`t^\star`; ``widths`` and ``m`` of every configuration run (others were skipped).
    """

    k: int
    depth_values: tuple[int, ...]
    expansion_values: tuple[float, ...]
    starts: int
    cone_count: int
    max_width: int
    widths: dict
    m: dict
    success: dict
    predicted: dict
    projection: dict
    ray_t: dict
    tol: float

    def kind_slice(self, kind: str) -> slice:
        return slice(0, self.starts) if kind == "random" else slice(self.starts, self.starts + self.cone_count)

    def rate(self, case: str, negate: bool, kind: str) -> np.ndarray:
        """Success rates ``(len(depth_values), len(expansion_values))``, NaN where the configuration was not run."""
        out = np.full((len(self.depth_values), len(self.expansion_values)), np.nan)
        for (d, c), s in self.success[(case, negate)].items():
            out[self.depth_values.index(d), self.expansion_values.index(c)] = s[:, self.kind_slice(kind)].mean()
        return out

    def predicted_rate(self, negate: bool, kind: str) -> np.ndarray:
        out = np.full((len(self.depth_values), len(self.expansion_values)), np.nan)
        for (d, c), s in self.predicted[negate].items():
            out[self.depth_values.index(d), self.expansion_values.index(c)] = s[:, self.kind_slice(kind)].mean()
        return out

    @property
    def top(self) -> tuple[int, float]:
        """The most expansive configuration run at the shallowest depth."""
        d = self.depth_values[0]
        return d, max(c for (dd, c) in self.widths if dd == d)

    def view(self, case: str, kind: str, config=None) -> "SuccessView":
        """One (case, start kind) of one configuration (default :attr:`top`): what the per-case claims read."""
        return SuccessView(self, case, kind, self.top if config is None else config)

    def paired_gain(self, case: str, kind: str, config) -> np.ndarray:
        """Per network: the mean over its starts of success with the check minus success without it (starts of one
        network share it; networks are the independent units)."""
        sl = self.kind_slice(kind)
        return (self.success[(case, True)][config][:, sl].astype(float)
                - self.success[(case, False)][config][:, sl].astype(float)).mean(-1)


@dataclass(frozen=True)
class SuccessView:
    """Successes of one case and start kind on one configuration of a :class:`SuccessSweep`."""

    sweep: SuccessSweep
    case: str
    kind: str
    config: tuple

    def success(self, negate: bool) -> np.ndarray:
        return self.sweep.success[(self.case, negate)][self.config][:, self.sweep.kind_slice(self.kind)]

    def predicted(self, negate: bool) -> np.ndarray:
        return self.sweep.predicted[negate][self.config][:, self.sweep.kind_slice(self.kind)]


def success_sweep(depth_values: Sequence[int], expansion_values: Sequence[float], *, k: int, networks: int,
                  starts: int, cone_count: int, steps: int, lr: float, negate_every: int, m_factor: float = 8.0,
                  max_width: int = 4096, cone_angle: float = math.pi / 6, tol: float = 0.1, stream: SeedLike,
                  device: DeviceLike = "auto") -> SuccessSweep:
    r"""(d): gradient descent with and without the negation check over depth and expansivity.

    For every depth ``d`` and expansion factor ``c`` (widths :func:`expansive_widths`, skipped when the
    output exceeds ``max_width``): ``networks`` networks, a unit :math:`x_0` each, ``starts`` random starts
    :math:`\mathcal N(0, I_k)` and ``cone_count`` on the wrong side (:func:`ilib.landscape.cone_starts`,
    within ``cone_angle`` of :math:`-x_0`); :func:`ilib.landscape.descent` plain and with the check, for
    inversion and for Gaussian :math:`A` with :math:`m = \min(n_d, \lceil m_\mathrm{factor} k d\rceil)` rows;
    and the same starts on the infinite-width landscape (the prediction). Success:
    :math:`\|x_T - x_0\| \le \mathrm{tol}\,\|x_0\|`.
    """
    depth_values = check_int_list(depth_values, "depth_values")
    expansion_values = check_list(expansion_values, "expansion_values", check_positive)
    k, networks = check_positive_int(k, "k"), check_positive_int(networks, "networks")
    starts, cone_count = check_positive_int(starts, "starts"), check_positive_int(cone_count, "cone_count")
    check_positive(m_factor, "m_factor"), check_positive(tol, "tol")
    max_width = check_positive_int(max_width, "max_width")
    keys = [(c, neg) for c in CASES for neg in (False, True)]
    success, proj = {key: {} for key in keys}, {key: {} for key in keys}
    predicted, ray_t, widths_used, m_used = {False: {}, True: {}}, {c: {} for c in CASES}, {}, {}
    for d in depth_values:
        for c in expansion_values:
            widths = expansive_widths(k, d, c)
            if widths[-1] > max_width:
                continue
            cfg = (d, c)
            g = make_generator(stream.child(f"d={d},c={c:g}"))
            widths_used[cfg] = widths
            G = ReLUGenerator.random(widths, batch=networks, seed=g, dtype=torch.float32, device=device)
            x0 = _unit(networks, 1, k, g, G.device)[:, 0].float()
            start = torch.cat([randn(networks, starts, k, generator=g, dtype=torch.float32, device=G.device),
                               L.cone_starts(x0, cone_count, angle=cone_angle, radii=(0.25, 1.5), generator=g)], dim=1)
            m_used[cfg] = min(widths[-1], int(math.ceil(m_factor * k * d)))
            A = MatrixOperator.gaussian(m_used[cfg], widths[-1], batch=networks, seed=g, dtype=torch.float32,
                                        device=G.device)
            for neg in (False, True):
                e = L.expected_descent(x0.double(), start.double(), d, steps=steps, lr=lr,
                                       negate_every=negate_every if neg else 0)
                predicted[neg][cfg] = (e.error <= tol).cpu().numpy()
            for case in CASES:
                op = A if case == "compressive" else None
                with torch.no_grad():
                    ray_t[case][cfg] = L.ray_critical_point(G, x0, op).double().cpu().numpy()
                for neg in (False, True):
                    res = L.descent(G, x0, start, operator=op, steps=steps, lr=lr, negate_every=negate_every if neg else 0)
                    success[(case, neg)][cfg] = (res.error <= tol).cpu().numpy()
                    proj[(case, neg)][cfg] = res.projection.double().cpu().numpy()
    return SuccessSweep(k, tuple(depth_values), tuple(float(c) for c in expansion_values), starts, cone_count,
                        max_width, widths_used, m_used, success, predicted, proj, ray_t, tol)


# --------------------------------------------------------------------------- (e) stationary points and the rate
@dataclass(frozen=True)
class StationarySection:
    r"""Gradient-norm minima of networks ``k-kc-kc^2`` for each expansion ``c``.

    Per expansion (lists aligned with ``expansions``): ``grad_norm`` :math:`2^d\|v_x\|/\|x_0\|`, ``to_x0``
    :math:`\|x - x_0\|/\|x_0\|`, ``to_neg`` :math:`\|x + \rho_d x_0\|/\|x_0\|`, each ``(networks, starts)``
    (the first half of the starts random, the second half within 30 degrees of :math:`-x_0`).
    A minimum is *stationary* when ``grad_norm <= stationary_tol`` (:math:`v_x = 0` up to rounding: the
    risk is piecewise quadratic, so minima inside a region reach zero), and *spurious* when it is
    farther than ``radius`` from both :math:`x_0` and :math:`-\rho_d x_0`.
    """

    k: int
    expansions: tuple[float, ...]
    widths: tuple[tuple[int, ...], ...]
    grad_norm: tuple[np.ndarray, ...]
    to_x0: tuple[np.ndarray, ...]
    to_neg: tuple[np.ndarray, ...]
    stationary_tol: float = 1e-6
    radius: float = 0.25

    def stationary(self, i: int) -> np.ndarray:
        return self.grad_norm[i] <= self.stationary_tol

    def spurious(self, i: int) -> np.ndarray:
        return self.stationary(i) & (self.to_x0[i] > self.radius) & (self.to_neg[i] > self.radius)

    def counts(self, i: int) -> dict:
        st = self.stationary(i)
        return {"minima": int(st.size), "stationary": int(st.sum()), "at_x0": int((st & (self.to_x0[i] <= self.radius)).sum()),
                "near_minus_rho_x0": int((st & (self.to_neg[i] <= self.radius)).sum()), "spurious": int(self.spurious(i).sum())}


def stationary_section(k: int, expansions: Sequence[float], *, networks: int, starts: int, steps: int, lr: float,
                       stream: SeedLike, device: DeviceLike = "auto") -> StationarySection:
    r"""(e): stationary points of :math:`f` for :math:`k > 2`, as minima of :math:`\|v_x\|` (Adam on
    :func:`ilib.landscape.gradient_norm_loss`) from random starts and from starts within 30 degrees of
    :math:`-x_0`, on depth-2 networks of expansion factor ``c``. Hand & Voroninski (2018, Thm 1): with
    enough expansivity, none lies outside neighbourhoods of :math:`x_0` and :math:`-\rho_d x_0`."""
    k, networks, starts = check_positive_int(k, "k"), check_positive_int(networks, "networks"), check_positive_int(starts, "starts")
    expansions = check_list(expansions, "expansions", check_positive)
    ws, gn, t0, tn = [], [], [], []
    for c in expansions:
        g = make_generator(stream.child(f"c={c:g}"))
        widths = expansive_widths(k, 2, c)
        G = ReLUGenerator.random(widths, batch=networks, seed=g, dtype=F64, device=device)
        x0 = _unit(networks, 1, k, g, G.device)[:, 0]
        half = starts // 2
        start = torch.cat([randn(networks, starts - half, k, generator=g, dtype=F64, device=G.device),
                           L.cone_starts(x0, half, angle=math.pi / 6, radii=(0.25, 1.5), generator=g)], dim=1)
        r = L.gradient_norm_minima(G, x0, start, steps=steps, lr=lr)
        ws.append(tuple(widths)), gn.append(r.grad_norm.cpu().numpy())
        t0.append((r.x - x0.unsqueeze(1)).norm(dim=-1).cpu().numpy())
        tn.append((r.x + rho(2) * x0.unsqueeze(1)).norm(dim=-1).cpu().numpy())
    return StationarySection(k, tuple(float(c) for c in expansions), tuple(ws), tuple(gn), tuple(t0), tuple(tn))


@dataclass(frozen=True)
class ConvergenceSection:
    r"""The descent scheme's error path on one configuration: ``path`` ``(T, networks, starts)`` recorded every
    ``record_every`` steps, and each network's predicted contraction factor per step, ``q`` ``(networks,)``:
    the spectral radius of :math:`I - \alpha H_{x_0}` (:func:`ilib.landscape.local_hessian`), :math:`\alpha = \mathrm{lr}\,2^d`."""

    widths: tuple[int, ...]
    lr: float
    record_every: int
    path: np.ndarray
    q: np.ndarray
    window: tuple[float, float] = (1e-11, 1e-6)

    @property
    def steps(self) -> np.ndarray:
        return np.arange(self.path.shape[0]) * self.record_every

    def measured_rate(self) -> np.ndarray:
        """Per run, the contraction factor per step fitted on the part of the path inside ``window`` (NaN if < 3 points)."""
        lo, hi = self.window
        out = np.full(self.path.shape[1:], np.nan)
        for b in range(self.path.shape[1]):  # a fit per run: a few hundred tiny least-squares problems
            for r in range(self.path.shape[2]):
                e = self.path[:, b, r]
                keep = (e > lo) & (e < hi)
                if keep.sum() >= 3:
                    out[b, r] = math.exp(np.polyfit(self.steps[keep], np.log(e[keep]), 1)[0])
        return out

    def rate_ratio(self) -> np.ndarray:
        """log(measured rate) / log(predicted q) per run that reached the window."""
        m = self.measured_rate()
        return (np.log(m) / np.log(self.q)[:, None]).ravel()

    def steps_to(self, eps: Sequence[float]) -> np.ndarray:
        """First recorded step at which the error is at most each ``eps``, per run (NaN if never): ``(len(eps), B, R)``."""
        out = np.full((len(eps),) + self.path.shape[1:], np.nan)
        for i, e in enumerate(eps):
            hit = self.path <= e
            first = hit.argmax(0)
            out[i] = np.where(hit.any(0), self.steps[first], np.nan)
        return out


def convergence_section(widths: Sequence[int], *, networks: int, starts: int, steps: int, lr: float,
                        negate_every: int, record_every: int = 5, stream: SeedLike,
                        device: DeviceLike = "auto") -> ConvergenceSection:
    r"""(e): Algorithm 1 of Huang et al. (2021) (gradient descent with the negation check) from random starts,
    recording :math:`\|x_t - x_0\|/\|x_0\|`; beside it, the linear rate its local quadratic predicts."""
    widths = check_int_list(widths, "widths")
    networks, starts = check_positive_int(networks, "networks"), check_positive_int(starts, "starts")
    g = make_generator(stream)
    G = ReLUGenerator.random(widths, batch=networks, seed=g, dtype=F64, device=device)
    x0 = _unit(networks, 1, G.latent_dim, g, G.device)[:, 0]
    start = randn(networks, starts, G.latent_dim, generator=g, dtype=F64, device=G.device)
    res = L.descent(G, x0, start, steps=steps, lr=lr, negate_every=negate_every, record_every=record_every)
    lam = torch.linalg.eigvalsh(L.local_hessian(G, x0) * 2**G.depth)
    q = (1 - lr * lam).abs().amax(-1)
    return ConvergenceSection(tuple(widths), lr, record_every, res.path.cpu().numpy(), q.cpu().numpy())


@dataclass(frozen=True)
class HessianSweep:
    r"""Eigenvalues of :math:`2^d\Lambda_{x_0}^\top\Lambda_{x_0}` of sampled networks ``k-w-w``: ``eig`` ``(W, networks, k)``."""

    k: int
    width_values: tuple[int, ...]
    eig: np.ndarray

    @property
    def gap(self) -> np.ndarray:
        """:math:`1 - \\lambda_{\\min}`, per width and network."""
        return 1 - self.eig[..., 0]

    def gap_fit(self) -> Estimate:
        w = np.repeat(np.asarray(self.width_values, float), self.eig.shape[1])
        return _fit(w, self.gap.reshape(-1))

    def normalised_gap_fit(self) -> Estimate:
        """Slope of log(gap sqrt(w / log w)) on log w: at most 0 if the gap is O(sqrt(log w / w))."""
        w = np.asarray(self.width_values, float)[:, None]
        return _fit(np.repeat(w, self.eig.shape[1], axis=1), self.gap * np.sqrt(w / np.log(w)))

    def contraction(self, lr: float) -> np.ndarray:
        """The per-step contraction factor :math:`\\max_i |1 - \\mathrm{lr}\\,\\lambda_i|` of the descent scheme at x0."""
        return np.abs(1 - lr * self.eig).max(-1)


def hessian_sweep(k: int, width_values: Sequence[int], *, networks: int, depth: int = 2, stream: SeedLike,
                  device: DeviceLike = "auto") -> HessianSweep:
    r"""(e): :math:`2^d\Lambda_{x_0}^\top\Lambda_{x_0}` of ``networks`` networks ``[k, w, ..., w]``, drawn exactly by
    :func:`ilib.landscape.sample_local_gram`; its mean is :math:`I_k` and under the WDC it tends to :math:`I_k`."""
    k, networks, depth = check_positive_int(k, "k"), check_positive_int(networks, "networks"), check_positive_int(depth, "depth")
    width_values = check_int_list(width_values, "width_values")
    x0 = torch.zeros(k, dtype=F64)
    x0[0] = 1.0
    eig = [torch.linalg.eigvalsh(2**depth * L.sample_local_gram(x0, [k] + [w] * depth, networks=networks,
                                                                 seed=stream.child(f"w={w}"), device=device)).cpu().numpy()
           for w in width_values]
    return HessianSweep(k, tuple(width_values), np.stack(eig))


# --------------------------------------------------------------------------- (f) denoising
@dataclass(frozen=True)
class Denoising:
    r"""``error[a, s]``: :math:`\|G(\hat x) - G(x^*)\|^2` for ``k_values[a]``, ``sigma2_values[s]``, per (network, trial):
    ``(K, S, networks * trials)``; ``noise_energy`` :math:`\|\eta\|^2` likewise; ``latent_error`` :math:`\|\hat x - x^*\|/\|x^*\|`."""

    k_values: tuple[int, ...]
    sigma2_values: tuple[float, ...]
    n: int
    error: np.ndarray
    noise_energy: np.ndarray
    latent_error: np.ndarray

    @property
    def prediction(self) -> np.ndarray:
        return np.asarray(self.sigma2_values)[None, :] * np.asarray(self.k_values)[:, None] / self.n

    @property
    def ratio(self) -> np.ndarray:
        """Error over :math:`\\sigma^2 k/n`, per trial: ``(K, S, T)``."""
        return self.error / self.prediction[..., None]

    def k_fit(self) -> Estimate:
        r = self.ratio.mean(1) * np.asarray(self.k_values)[:, None]  # error / (sigma^2 / n), averaged over sigma^2
        return _fit(np.repeat(np.asarray(self.k_values, float), r.shape[1]), r.reshape(-1))

    def sigma_fit(self) -> Estimate:
        r = self.ratio.mean(0) * np.asarray(self.sigma2_values)[:, None]
        return _fit(np.repeat(np.asarray(self.sigma2_values, float), r.shape[1]), r.reshape(-1))


def denoising_sweep(k_values: Sequence[int], sigma2_values: Sequence[float], *, hidden: int, n: int, networks: int,
                    trials: int, steps: int, lr: float, negate_every: int, stream: SeedLike,
                    device: DeviceLike = "auto") -> Denoising:
    r"""(f): denoising with random two-layer networks (Heckel, Huang, Hand & Voroninski 2018, Fig. 3).

    Networks ``k - hidden - n`` with weights :math:`\mathcal N(0, 2/n_i)` (norm preserving),
    :math:`x^* \sim \mathcal N(0, I_k)`, :math:`y = G(x^*) + \eta`, :math:`\eta \sim \mathcal N(0, \sigma^2 I_n/n)`,
    and :math:`\hat x` from gradient descent with the negation check on :math:`\tfrac12\|G(x) - y\|^2`.
    Near :math:`x^*`, :math:`G` is the rank-:math:`k` map :math:`\Lambda_{x^*}`, and projecting the noise on its range
    leaves :math:`\sigma^2 k/n` in expectation (the theorem: :math:`\lesssim \sigma^2 k/n`).
    """
    k_values, sigma2_values = check_int_list(k_values, "k_values"), check_list(sigma2_values, "sigma2_values", check_nonneg)
    hidden, n = check_positive_int(hidden, "hidden"), check_positive_int(n, "n")
    networks, trials, steps = check_positive_int(networks, "networks"), check_positive_int(trials, "trials"), check_positive_int(steps, "steps")
    check_positive(lr, "lr")
    negate_every = check_positive_int(negate_every, "negate_every")
    for k in k_values:
        if k > n:
            raise ValueError(f"every element of k_values must be at most n={n}, got k={k}")
    S, B, T = len(sigma2_values), networks, trials
    err, noise, lat = (np.empty((len(k_values), S, B * T)) for _ in range(3))
    sig = torch.tensor(sigma2_values, dtype=F64).sqrt()
    for a, k in enumerate(k_values):
        g = make_generator(stream.child(f"k={k}"))
        G = ReLUGenerator.random([k, hidden, n], batch=B, seed=g, gain=2.0, dtype=F64, device=device)
        dev = G.device
        x_star = randn(B, S * T, k, generator=g, dtype=F64, device=dev)
        eta = randn(B, S * T, n, generator=g, dtype=F64, device=dev) / math.sqrt(n)
        eta = eta * sig.to(dev).repeat_interleave(T).reshape(1, S * T, 1)
        with torch.no_grad():
            clean = G(x_star)
            y = clean + eta

        def fun(x: torch.Tensor) -> torch.Tensor:
            r = G(x) - y
            return 0.5 * (r * r).sum(-1)

        res = minimize(fun, randn(B, S * T, k, generator=g, dtype=F64, device=dev), steps=steps, lr=lr, method="gd",
                       negate_every=negate_every)
        with torch.no_grad():
            e = ((G(res.x) - clean) ** 2).sum(-1)
            le = (res.x - x_star).norm(dim=-1) / x_star.norm(dim=-1)
        to = lambda t: t.reshape(B, S, T).permute(1, 0, 2).reshape(S, B * T).cpu().numpy()  # noqa: E731
        err[a], noise[a], lat[a] = to(e), to((eta * eta).sum(-1)), to(le)
    return Denoising(tuple(k_values), tuple(float(s) for s in sigma2_values), n, err, noise, lat)


# --------------------------------------------------------------------------- claims
def _rho_identity(t: RhoTable) -> Estimate:
    return Estimate.exact(float(np.abs(t.rho - t.cos_angle).max()), n=len(t.d))


RHO_IS_COS = Claim(
    "rho_is_cos_of_the_iterated_angle", kind="sanity",
    source="Hand & Voroninski 2018 (definition of rho_d); ilib theory notes §2.1 (derivation: one recursion)",
    statement="rho_d from its sum formula equals cos(g^d(pi)) for d = 1..12",
    predict=lambda t: 0.0, measure=_rho_identity, rule=Covers(atol=1e-12),
)
RAY_AT_RHO = Claim(
    "ray_critical_point_at_rho_d", kind="theorem",
    source="Hand & Voroninski 2018, Thm 1 (the critical point near -rho_d x0); Qiu, Wei & Yang 2020, Thm 2.2 (rho_d)",
    statement="the mean over networks of t* on the -x0 ray at the largest width is rho_d",
    predict=lambda r: rho(r.d), measure=lambda r: Estimate.mean(r.t[-1]), rule=Covers(),
    detail=lambda r: {"width": r.width_values[-1], "sd": float(r.sd[-1]), "networks": r.t.shape[-1]},
)
SPREAD_HALF = Claim(
    "spread_of_t_star_falls_like_w_minus_half", kind="theorem",
    source="central limit theorem for t*, a smooth function of sums over w units per layer (delta method)",
    statement="the standard deviation of t* over networks falls like w^(-1/2) (log-log slope over w >= 256)",
    predict=lambda r: -0.5, measure=lambda r: r.spread_fit(), rule=Covers(),
)

WDC_FIXED_RATE = Claim(
    "wdc_fixed_pair_deviation_falls_like_n_minus_half", kind="theorem",
    source="central limit theorem: for a fixed pair the WDC sum is a sum of n iid centred rank-one terms of size 1/n",
    statement="the WDC deviation on fixed random pairs falls like n^(-1/2) (log-log slope of the per-layer means, "
              "n >= 1000)",
    predict=lambda r: -0.5, measure=lambda r: r.fixed_fit(), rule=Covers(),
)
WDC_SUP_BOUND = Claim(
    "wdc_supremum_within_the_lemma_rate", kind="theorem",
    source="Hand & Voroninski 2018, Lemma 9 (WDC(eps) once n > c eps^-2 log(1/eps) k log k), inverted: eps = O(sqrt(log n / n))",
    statement="the WDC constant (supremum over all pairs, exact scan at k = 2) falls at least as fast as sqrt(log n / n): "
              "the slope of log(eps sqrt(n / log n)) on log n is not above 0",
    predict=lambda r: 0.0, measure=lambda r: r.normalised_sup_fit(), rule=AtMost(),
)
WDC_SUP_RATE = Claim(
    "wdc_supremum_falls_like_n_minus_half", kind="finding",
    source="this notebook: the supremum over pairs against the fixed-pair rate (no log factor)",
    statement="the WDC constant at k = 2 falls like n^(-1/2), the fixed-pair rate (log-log slope over all layers)",
    predict=lambda r: -0.5, measure=lambda r: r.sup_fit(), rule=Covers(),
)
WDC_SUP_ABOVE_FIXED = Claim(
    "wdc_supremum_bounds_every_fixed_pair", kind="sanity",
    source="a supremum is at least every value it is taken over",
    statement="for every k = 2 layer, the scan's upper bound on the supremum is at least the largest fixed-pair deviation",
    predict=lambda r: 0.0,
    measure=lambda r: Estimate.exact(float((r.sup_upper - r.sup_fixed.max(-1)).min()), n=r.sup_upper.size),
    rule=AtLeast(),
    detail=lambda r: {"largest_relative_bracket": float(((r.sup_upper - r.sup_lower) / r.sup_lower).max()),
                      "sup_over_best_fixed_pair": float((r.sup_lower / r.sup_fixed.max(-1)).mean())},
)
RRIC_FIXED_MOMENT = Claim(
    "rric_fixed_quadruple_second_moment", kind="theorem",
    source="Gaussian A with N(0, 1/m) entries: for fixed u, v, <Au, Av> - <u, v> has variance "
           "(|u|^2 |v|^2 + <u, v>^2) / m exactly (a sum of m iid products)",
    statement="on fixed random quadruples, m dev^2 / (1 + cos^2(u, v)) has mean 1 at every m (pooled over m, "
              "instances and quadruples; interval over the draws of A): the fixed-pair deviation falls exactly like m^(-1/2)",
    predict=lambda r: 1.0, measure=lambda r: r.second_moment_estimate(), rule=Covers(),
    detail=lambda r: {"mean_per_m": r.second_moment_ratio().mean((1, 2)).tolist()},
)
RRIC_ADV_BOUND = Claim(
    "rric_adversarial_within_m_minus_half", kind="theorem",
    source="Hand & Voroninski 2018, RRIC(eps) w.h.p. once m > c eps^-2 k d log(n_1...n_d), inverted: eps = O(m^(-1/2)) at fixed G",
    statement="the adversarial (ascent) estimate of the RRIC constant falls at least as fast as m^(-1/2): "
              "the slope of log(eps sqrt(m)) on log m is not above 0",
    predict=lambda r: 0.0, measure=lambda r: r.normalised_adversarial_fit(), rule=AtMost(),
    detail=lambda r: {"adversarial_over_fixed_mean": (r.adversarial.mean(1) / r.fixed.mean((1, 2))).tolist()},
)
GRAD_DEV_BOUND = Claim(
    "gradient_deviation_within_the_hv_bound", kind="theorem",
    source="Hand & Voroninski 2018: ||v_x - h_x|| <= K d^3 sqrt(eps) 2^-d max(||x||, ||x0||) under WDC(eps), with eps ~ w^(-1/2)",
    statement="the largest 2^d ||v_x - h_x|| over sampled x falls at least as fast as w^(-1/4) (log-log slope not above -1/4)",
    predict=lambda r: -0.25, measure=lambda r: r.worst_fit(), rule=AtMost(),
)


NEGATION_SUCCEEDS = Claim(
    "negation_check_recovers_x0", kind="theorem",
    source="Huang, Hand, Heckel & Voroninski 2021, Thm (convergence of Algorithm 1 under WDC and RRIC, "
           "with high probability; read as >= 95%)",
    statement="with the negation check, gradient descent recovers x0 from at least 95% of the starts on the most "
              "expansive network of the shallowest depth",
    predict=lambda v: 0.95, measure=lambda v: Estimate.binomial(int(v.success(True).sum()), v.success(True).size),
    rule=AtLeast(),
)


def _worst_paired(s: SuccessSweep) -> Estimate:
    """The comparison with the lowest mean paired gain, its t-interval at the Bonferroni level 1 - 0.05 / K."""
    pairs = [(case, kind, cfg) for case in CASES for kind in START_KINDS for cfg in s.widths]
    ci = 1 - 0.05 / len(pairs)
    est = [Estimate.mean(s.paired_gain(*p), ci=ci) for p in pairs]
    return min(est, key=lambda e: (e.value, e.hi))


NEGATION_NEVER_LOWERS = Claim(
    "negation_check_never_lowers_success", kind="finding",
    source="this notebook (paired comparison on the same networks and starts)",
    statement="in no configuration, case or start kind is the success rate with the negation check significantly lower "
              "than without it (the worst paired difference's t-interval over networks, Bonferroni-corrected over all "
              "comparisons, reaches 0)",
    predict=lambda s: 0.0, measure=_worst_paired, rule=AtLeast(),
)
NEGATION_HELPS_WRONG_SIDE = Claim(
    "negation_check_helps_from_the_wrong_side", kind="finding",
    source="Huang, Hand, Heckel & Voroninski 2021 (the role of the negation step); this notebook's paired comparison",
    statement="from wrong-side starts on the most expansive network of the shallowest depth (inversion), the negation "
              "check raises the success rate significantly (paired 95% t-interval over networks above 0)",
    predict=lambda s: 0.0, measure=lambda s: Estimate.mean(s.paired_gain("inversion", "cone", s.top)), rule=Above(),
)


PLAIN_MATCHES_LIMIT = Claim(
    "plain_descent_matches_the_infinite_width_landscape", kind="finding",
    source="Hand & Voroninski 2018 (v_x -> h_x uniformly); prediction: the same starts descended on the expected risk",
    statement="plain gradient descent on the most expansive network of the shallowest depth succeeds as often as the "
              "same starts do on the infinite-width landscape",
    predict=lambda v: float(v.predicted(False).mean()),
    measure=lambda v: Estimate.binomial(int(v.success(False).sum()), v.success(False).size), rule=Covers(),
)


def _spurious(index):
    def measure(s: StationarySection) -> Estimate:
        i = index(s)
        st = s.stationary(i)
        if not st.any():
            return None
        return Estimate.binomial(int(s.spurious(i).sum()), int(st.sum()))
    return measure


NO_SPURIOUS_STATIONARY = Claim(
    "no_spurious_stationary_points_when_expansive", kind="theorem",
    source="Hand & Voroninski 2018, Thm 1 (descent direction outside neighbourhoods of x0 and -rho_d x0)",
    statement="on the most expansive networks (k > 2), no stationary point found by gradient-norm minimisation lies "
              "farther than ||x0||/4 from both x0 and -rho_d x0",
    predict=lambda s: 0.0, measure=_spurious(lambda s: len(s.expansions) - 1), rule=AtMost(),
    detail=lambda s: s.counts(len(s.expansions) - 1),
)
SPURIOUS_WITHOUT_EXPANSION = Claim(
    "spurious_stationary_points_without_expansivity", kind="finding",
    source="this notebook (the theorem needs expansive layers; the least expansive networks are not)",
    statement="on the least expansive networks, some gradient-norm minima are spurious stationary points "
              "(fraction of all minima significantly above 0)",
    predict=lambda s: 0.0,
    measure=lambda s: Estimate.binomial(int(s.spurious(0).sum()), s.spurious(0).size), rule=Above(),
    detail=lambda s: s.counts(0),
)
RATE_IS_LOCAL = Claim(
    "linear_rate_is_the_local_quadratic_rate", kind="sanity",
    source="f is an exact quadratic on the activation region of x0; gradient descent contracts it by the spectral radius "
           "of I - alpha H (this run's own Hessian)",
    statement="the linear rate of the descent scheme near x0 is log q of its network's local Hessian "
              "(mean ratio of logs within 2%, the bias of a line fit while faster modes still decay)",
    predict=lambda c: 1.0, measure=lambda c: Estimate.mean(c.rate_ratio()), rule=Covers(atol=0.02),
)
HESSIAN_WITHIN_WDC_RATE = Claim(
    "local_hessian_tends_to_identity_within_the_wdc_rate", kind="theorem",
    source="Hand & Voroninski 2018: WDC(eps) at x = y = x0 gives ||W_+^T W_+ - I/2|| <= eps per layer, so "
           "||2^d Lambda^T Lambda - I|| = O(d eps); Lemma 9 inverted: eps = O(sqrt(log w / w))",
    statement="1 - lambda_min(2^d Lambda_x0^T Lambda_x0) falls at least as fast as sqrt(log w / w): the slope of "
              "log(gap sqrt(w / log w)) on log w is not above 0 (so the local contraction factor tends to |1 - lr|)",
    predict=lambda h: 0.0, measure=lambda h: h.normalised_gap_fit(), rule=AtMost(),
)
DENOISE_K = Claim(
    "denoising_error_linear_in_k", kind="theorem",
    source="Heckel, Huang, Hand & Voroninski 2018, Thm 1 (||G(x_hat) - G(x*)||^2 <~ sigma^2 k / n)",
    statement="the denoising error divided by sigma^2 / n grows linearly in k (log-log slope 1)",
    predict=lambda r: 1.0, measure=lambda r: r.k_fit(), rule=Covers(),
)
DENOISE_SIGMA = Claim(
    "denoising_error_linear_in_sigma2", kind="theorem",
    source="Heckel, Huang, Hand & Voroninski 2018, Thm 1",
    statement="the denoising error divided by k / n grows linearly in sigma^2 (log-log slope 1)",
    predict=lambda r: 1.0, measure=lambda r: r.sigma_fit(), rule=Covers(),
)
DENOISE_CONSTANT = Claim(
    "denoising_error_is_sigma2_k_over_n", kind="theorem",
    source="first order around x*: the noise projected on the k-dimensional range of Lambda_x* (our derivation, "
           "ilib theory notes §2.1); Heckel et al. 2018 state the order",
    statement="the denoising error is sigma^2 k / n with constant 1 (mean ratio over all k, sigma^2 and trials)",
    predict=lambda r: 1.0, measure=lambda r: Estimate.mean(r.ratio), rule=Covers(),
    detail=lambda r: {"fraction_of_noise_kept": float((r.error / r.noise_energy).mean())},
)
