r"""Notebook 13: phase retrieval under a generative prior (Hand, Leong & Voroninski, NeurIPS 2018).

From :math:`y = |A G(x_0)|`, :math:`A` with :math:`\mathcal N(0, 1/m)` entries and :math:`G` a random bias-free
ReLU network (weights :math:`\mathcal N(0, 1/n_i)`), the amplitude loss
:math:`f(x) = \tfrac12\||AG(x)| - |AG(x_0)|\|^2` has a descent direction outside neighbourhoods of :math:`x_0` and
of a negative multiple of it, once :math:`m = O(k d^2 \log n)` and the layers are expansive (Hand, Leong &
Voroninski 2018). The expected landscape, derived in the ilib theory notes (part 2, §5.2), puts the bad critical
point at :math:`-\rho_d^{PR} x_0`, :math:`\rho_d^{PR} = \tfrac2\pi S(g^{\circ d}(\pi))`, already at :math:`d = 1`.

Sections: (a) :func:`landscape_section` (one network's loss against its expectation over :math:`A` and the
infinite-width limit), (b) :func:`rho_sweep` (:math:`\rho_d^{PR}` against the critical point of many sampled
networks), :func:`measurement_sweep` (the same with finitely many measurements, and the negation step at the
bad point), (c) :func:`dpr_sweep` (Algorithm 1, with and without the negation step, against :math:`m/k`).
The landscape quantities are the sharp checks; the success curve is descriptive.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from .. import phase_retrieval as pr
from .. import stats
from .._checks import check_int_list, check_list, check_positive, check_positive_int
from ..angles import rho
from ..claims import Above, AtLeast, Claim, Covers, Estimate
from ..device import DeviceLike, SeedLike, make_generator, randn
from ..generators import ReLUGenerator
from ..landscape import sample_outputs
from ..operators import LinearOperator, MatrixOperator
from ..profile import Profile as _Profile
from ..profile import param

NOTEBOOK = "13_phase_retrieval"
F64 = torch.float64


# --------------------------------------------------------------------------- parameters
@dataclass(frozen=True)
class Profile(_Profile):
    """Parameters of notebook 13 (each declared once; see :mod:`ilib.profile`)."""

    grid_widths: tuple[int, ...] = param(smoke=(2, 100, 300), paper=(2, 300, 784), lo=1,
                                         doc="widths [2, n_1, ..., n_d] of the network drawn in (a)")
    grid_m: int = param(smoke=100, paper=200, lo=1, doc="measurements of the landscape in (a)")
    grid_points: int = param(smoke=41, paper=101, lo=3, doc="grid points per axis in (a)")
    depth_values: tuple[int, ...] = param(smoke=(1, 2, 3), paper=(1, 2, 3, 4), lo=1,
                                          doc="depths d of the critical-point sweep in (b)")
    width_values: tuple[int, ...] = param(smoke=(64, 256, 1024, 4096), paper=(16, 64, 256, 1024, 4096, 16384), lo=1,
                                          doc="layer widths w (networks k-w-...-w) in (b)")
    ray_networks: int = param(smoke=40, paper=200, lo=2, doc="sampled networks per (d, w) in (b)")
    meas_width: int = param(smoke=256, paper=1024, lo=1, doc="layer width of the networks with finitely many measurements in (b)")
    meas_m_values: tuple[int, ...] = param(smoke=(5, 20, 80, 160, 320), paper=(5, 10, 20, 40, 80, 160, 320, 640), lo=1,
                                           doc="numbers of measurements m in (b)")
    meas_draws: int = param(smoke=200, paper=2000, lo=2, doc="(network, A) draws per (d, m) in (b)")
    dpr_widths: tuple[int, ...] = param(smoke=(5, 50, 500), paper=(5, 100, 1000), lo=1, doc="widths of the networks in (c)")
    ratio_values: tuple[float, ...] = param(smoke=(1.0, 2.0, 4.0, 8.0, 16.0), paper=(1.0, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0, 16.0),
                                            lo=0, lo_open=True, doc="m / k in (c)")
    dpr_trials: int = param(smoke=6, paper=20, lo=1, doc="(network, x0, A) draws per m / k in (c)")
    dpr_restarts: int = param(smoke=2, paper=3, lo=1, doc="random starts per trial; the one of lowest final loss is kept")
    dpr_steps: int = param(smoke=300, paper=600, lo=1, doc="gradient steps of Algorithm 1")
    lr: float = param(smoke=0.5, paper=0.5, lo=0, hi=1, lo_open=True, doc="step size, in units of 2^d")
    negate_every: int = param(smoke=10, paper=10, lo=1, doc="period of the negation step")

    def relations(self) -> None:
        self.require(self.grid_widths[0] == 2, "grid_widths", "must start with the latent dimension 2")
        self.require(len(self.grid_widths) >= 2, "grid_widths", "must list at least one layer")
        self.require(len([w for w in self.width_values if w >= 256]) >= 3, "width_values",
                     "needs at least 3 widths >= 256 for the spread's slope")
        self.require(len([m for m in self.meas_m_values if m >= 80]) >= 3, "meas_m_values",
                     "needs at least 3 values >= 80 for the slope in m")


def _fit(x, y) -> Estimate:
    f = stats.loglog_fit(np.asarray(x, float).ravel(), np.asarray(y, float).ravel())
    return Estimate.interval(f.slope, f.lo, f.hi, "t 95% (log-log fit)", f.n)


def _ray_latents(k: int) -> torch.Tensor:
    x0 = torch.zeros(k, dtype=F64)
    x0[0] = 1.0
    return torch.stack([x0, -x0])


# --------------------------------------------------------------------------- theory
@dataclass(frozen=True)
class RhoTable:
    r""":math:`\rho_d^{PR}` (formula) beside a grid search of the infinite-width expected loss on the negative ray, and
    Hand–Voroninski's :math:`\rho_d` for compressed sensing, for ``d = 1 .. d_max``."""

    d: np.ndarray
    rho_pr: np.ndarray
    grid_argmin: np.ndarray
    grid_step: float
    rho_cs: np.ndarray


def rho_table(d_max: int = 12, *, grid_step: float = 0.005) -> RhoTable:
    """:func:`ilib.phase_retrieval.rho_pr`, the argmin of :func:`ilib.phase_retrieval.expected_landscape` over ``-t x0``
    on a grid of ``t`` in ``[0, 1.5]`` of step ``grid_step``, and :func:`ilib.angles.rho`."""
    d = np.arange(1, check_positive_int(d_max, "d_max") + 1)
    check_positive(grid_step, "grid_step")
    t = torch.arange(0.0, 1.5 + grid_step / 2, grid_step, dtype=F64)
    x0 = torch.tensor([1.0, 0.0], dtype=F64)
    x = -t[:, None] * x0
    arg = np.array([float(t[pr.expected_landscape(x, x0, int(i)).argmin()]) for i in d])
    return RhoTable(d, np.array([pr.rho_pr(int(i)) for i in d]), arg, grid_step, np.array([rho(int(i)) for i in d]))


# --------------------------------------------------------------------------- (a) the landscape of one network
@dataclass(frozen=True)
class Landscape:
    r"""On a grid of :math:`[-e, e]^2`: the empirical loss ``f``, its mean over :math:`A` for this network ``f_mean``
    (:func:`ilib.phase_retrieval.expected_amplitude_loss`) and the infinite-width limit ``f_limit``; the network's
    critical points on the negative ray, with :math:`A` (``ray_t``) and averaged over :math:`A` (``ray_t_mean``)."""

    widths: tuple[int, ...]
    m: int
    xs: np.ndarray
    f: np.ndarray
    f_mean: np.ndarray
    f_limit: np.ndarray
    ray_t: float
    ray_t_mean: float
    outputs: np.ndarray  # (2, n): G(x0), G(-x0)
    measured: np.ndarray  # (2, m): A G(x0), A G(-x0)

    @property
    def depth(self) -> int:
        return len(self.widths) - 1

    def ray_loss(self, t: np.ndarray) -> np.ndarray:
        """f(-t x0) with this network's measurements (homogeneity: |A G(-t x0)| = t |A G(-x0)|)."""
        a, b = np.abs(self.measured[1]), np.abs(self.measured[0])
        return 0.5 * ((np.asarray(t)[:, None] * a[None] - b[None]) ** 2).sum(-1)

    def relative_difference(self, which: str = "f_mean") -> float:
        """||f - other|| / ||other|| over the grid, for ``other`` = ``"f_mean"`` or ``"f_limit"``."""
        other = getattr(self, which)
        return float(np.linalg.norm(self.f - other) / np.linalg.norm(other))


def landscape_section(widths: Sequence[int], *, m: int, points: int, extent: float = 2.0, stream: SeedLike,
                      device: DeviceLike = "auto") -> Landscape:
    r"""(a): the amplitude loss of one network (Hand & Voroninski's Fig. 1 architecture 2-300-784) with ``m`` Gaussian
    measurements, :math:`x_0 = (1, 0)`, on a grid, beside its expectation over :math:`A` and its infinite-width limit."""
    widths = check_int_list(widths, "widths")
    if widths[0] != 2:
        raise ValueError(f"widths must start with the latent dimension 2, got widths={widths}")
    m, points = check_positive_int(m, "m"), check_positive_int(points, "points")
    check_positive(extent, "extent")
    g = make_generator(stream)
    G = ReLUGenerator.random(widths, batch=1, seed=g, dtype=F64, device=device)
    A = MatrixOperator.gaussian(m, G.output_dim, seed=g, dtype=F64, device=G.device)
    x0 = torch.tensor([[1.0, 0.0]], dtype=F64, device=G.device)
    xs = torch.linspace(-extent, extent, points, dtype=F64, device=G.device)
    YY, XX = torch.meshgrid(xs, xs, indexing="ij")
    X = torch.stack([XX, YY], dim=-1).reshape(1, -1, 2)
    with torch.no_grad():
        f = pr.amplitude_loss(G, X, x0, A).reshape(points, points)
        f_mean = pr.expected_amplitude_loss(G(X), G(x0.unsqueeze(1))).reshape(points, points)
        f_lim = pr.expected_landscape(X, x0.unsqueeze(1), G.depth).reshape(points, points)
        y = G(torch.stack([x0, -x0], dim=1))  # (1, 2, n)
        t = float(pr.ray_critical_point_pr(A(y[:, 1]), A(y[:, 0]))[0])
        t_mean = float(pr.expected_ray_critical_point(y[:, 1], y[:, 0])[0])
    np_ = lambda a: a.cpu().numpy()  # noqa: E731
    return Landscape(tuple(widths), m, np_(xs), np_(f), np_(f_mean), np_(f_lim), t, t_mean, np_(y[0]), np_(A(y)[0]))


# --------------------------------------------------------------------------- (b) the bad critical point
@dataclass(frozen=True)
class RhoRow:
    r"""The critical point of :math:`\mathbb E_A f` on the :math:`-x_0` ray of sampled networks at one depth: ``t``
    ``(len(width_values), networks)``."""

    d: int
    width_values: tuple[int, ...]
    t: np.ndarray
    w_min_fit: int = 256

    @property
    def sd(self) -> np.ndarray:
        return self.t.std(-1, ddof=1)

    def spread_fit(self) -> Estimate:
        w = np.asarray(self.width_values, float)
        keep = w >= self.w_min_fit
        return _fit(w[keep], self.sd[keep])


@dataclass(frozen=True)
class RhoSweep:
    """:class:`RhoRow` for every depth: ``t`` ``(len(depth_values), len(width_values), networks)``."""

    depth_values: tuple[int, ...]
    width_values: tuple[int, ...]
    t: np.ndarray

    @property
    def mean(self) -> np.ndarray:
        return self.t.mean(-1)

    @property
    def sd(self) -> np.ndarray:
        return self.t.std(-1, ddof=1)

    def at(self, d: int) -> RhoRow:
        return RhoRow(d, self.width_values, self.t[self.depth_values.index(d)])


def rho_sweep(depth_values: Sequence[int], width_values: Sequence[int], *, networks: int, k: int = 2,
              stream: SeedLike, device: DeviceLike = "auto") -> RhoSweep:
    r"""(b): :math:`t^\star = \arg\min_t \mathbb E_A f(-t x_0)` (:func:`ilib.phase_retrieval.expected_ray_critical_point`)
    of ``networks`` networks ``[k, w, ..., w]`` per depth and width, their outputs on :math:`\pm x_0` drawn exactly
    (:func:`ilib.landscape.sample_outputs`); :math:`t^\star \to \rho_d^{PR}` as ``w`` grows."""
    depth_values, width_values = check_int_list(depth_values, "depth_values"), check_int_list(width_values, "width_values")
    networks, k = check_positive_int(networks, "networks"), check_positive_int(k, "k")
    z = _ray_latents(k)
    out = np.empty((len(depth_values), len(width_values), networks))
    for a, d in enumerate(depth_values):
        for b, w in enumerate(width_values):
            y = sample_outputs(z, [k] + [w] * d, networks=networks, seed=stream.child(f"d={d},w={w}"), device=device)
            out[a, b] = pr.expected_ray_critical_point(y[:, 1], y[:, 0]).cpu().numpy()
    return RhoSweep(tuple(depth_values), tuple(width_values), out)


@dataclass(frozen=True)
class MeasurementSweep:
    r"""Networks ``k-w-...-w`` with ``m`` measurements, per depth and ``m`` (arrays ``(D, M, draws)``): the critical
    point of :math:`f` on the negative ray with :math:`A` (``t``) and averaged over :math:`A` for the same network
    (``t_mean``), and whether the negation step fires there (``fires``)."""

    depth_values: tuple[int, ...]
    m_values: tuple[int, ...]
    width: int
    t: np.ndarray
    t_mean: np.ndarray
    fires: np.ndarray

    def at(self, d: int) -> "MeasurementRow":
        i = self.depth_values.index(d)
        return MeasurementRow(d, self.m_values, self.t[i], self.t_mean[i], self.fires[i])


@dataclass(frozen=True)
class MeasurementRow:
    """:class:`MeasurementSweep` at one depth (arrays ``(M, draws)``)."""

    d: int
    m_values: tuple[int, ...]
    t: np.ndarray
    t_mean: np.ndarray
    fires: np.ndarray
    m_min_fit: int = 80

    @property
    def gap_sd(self) -> np.ndarray:
        """Standard deviation over draws of ``t - t_mean``, per ``m``."""
        return (self.t - self.t_mean).std(-1, ddof=1)

    def gap_fit(self) -> Estimate:
        m = np.asarray(self.m_values, float)
        keep = m >= self.m_min_fit
        return _fit(m[keep], self.gap_sd[keep])


def measurement_sweep(depth_values: Sequence[int], m_values: Sequence[int], *, width: int, draws: int, k: int = 2,
                      stream: SeedLike, device: DeviceLike = "auto") -> MeasurementSweep:
    r"""(b): the negative-ray critical point with ``m`` measurements. The outputs :math:`G(\pm x_0)` are drawn exactly
    (:func:`ilib.landscape.sample_outputs`), then :math:`A G(\pm x_0)` given them (a linear Gaussian layer of width
    ``m``, the same sampler); :math:`t^\star_A = \langle|AG(-x_0)|, |AG(x_0)|\rangle/\|AG(-x_0)\|^2`
    (:func:`ilib.phase_retrieval.ray_critical_point_pr`) and :func:`ilib.phase_retrieval.flip_fires` at it."""
    depth_values, m_values = check_int_list(depth_values, "depth_values"), check_int_list(m_values, "m_values")
    width, draws, k = check_positive_int(width, "width"), check_positive_int(draws, "draws"), check_positive_int(k, "k")
    z = _ray_latents(k)
    shape = (len(depth_values), len(m_values), draws)
    t, t_mean, fires = np.empty(shape), np.empty(shape), np.empty(shape, dtype=bool)
    for a, d in enumerate(depth_values):
        s = stream.child(f"d={d}")
        y = sample_outputs(z, [k] + [width] * d, networks=draws, seed=s.child("networks"), device=device)  # (B, 2, w)
        tm = pr.expected_ray_critical_point(y[:, 1], y[:, 0])
        for b, m in enumerate(m_values):
            ay = sample_outputs(y, [width, m], networks=draws, seed=s.child(f"m={m}"), output_relu=False, device=device)
            tt = pr.ray_critical_point_pr(ay[:, 1], ay[:, 0])
            t[a, b], t_mean[a, b] = tt.cpu().numpy(), tm.cpu().numpy()
            fires[a, b] = pr.flip_fires(ay[:, 1], ay[:, 0], tt).cpu().numpy()
    return MeasurementSweep(tuple(depth_values), tuple(m_values), width, t, t_mean, fires)


# --------------------------------------------------------------------------- (c) the descent scheme
class _RowBlocks(LinearOperator):
    r"""``B`` instances whose rows come in ``J`` blocks of ``rows`` consecutive rows; block ``j`` is measured by
    :math:`A_j^{(b)}` (``blocks[j]`` of shape ``(B, m_j, n)``) and its output zero-padded to :math:`\max_j m_j`.

    Zero rows add nothing to :math:`\||Ax| - |Ax_0|\|^2`, so problems with different ``m`` run in one batch, each at the
    cost of its own ``m``.
    """

    def __init__(self, blocks: Sequence[torch.Tensor], rows: int):
        self.blocks = [b.contiguous() for b in blocks]
        self._t = [b.transpose(1, 2).contiguous() for b in blocks]
        self.rows = check_positive_int(rows, "rows")
        self.batch, _, self.in_dim = blocks[0].shape
        self.out_dim = max(b.shape[1] for b in blocks)
        self._dtype, self._device = blocks[0].dtype, blocks[0].device

    def _check(self, t: torch.Tensor) -> None:
        if t.shape[1] != self.rows * len(self.blocks):
            raise ValueError(f"expected {self.rows * len(self.blocks)} rows ({len(self.blocks)} blocks of {self.rows}), "
                             f"got {t.shape[1]}")

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check(x)
        r = self.rows
        return torch.cat([torch.nn.functional.pad(torch.bmm(x[:, j * r:(j + 1) * r], at), (0, self.out_dim - at.shape[2]))
                          for j, at in enumerate(self._t)], dim=1)

    def _adjoint(self, y: torch.Tensor) -> torch.Tensor:
        self._check(y)
        r = self.rows
        return torch.cat([torch.bmm(y[:, j * r:(j + 1) * r, :a.shape[1]], a) for j, a in enumerate(self.blocks)], dim=1)


@dataclass(frozen=True)
class DPRSweep:
    r"""Algorithm 1 against :math:`m/k`: per ``negate`` in ``(False, True)``, for the restart of lowest final loss,
    ``rel_error`` :math:`\|G(\hat x) - G(x_0)\|/\|G(x_0)\|` and ``projection`` :math:`\langle\hat x, x_0\rangle/\|x_0\|^2`,
    each ``(len(ratios), trials)``; success is ``rel_error < tol``."""

    k: int
    widths: tuple[int, ...]
    ratios: tuple[float, ...]
    m_values: tuple[int, ...]
    restarts: int
    rel_error: dict
    projection: dict
    tol: float = 1e-2

    @property
    def trials(self) -> int:
        return self.rel_error[True].shape[1]

    @property
    def depth(self) -> int:
        return len(self.widths) - 1

    def successes(self, negate: bool) -> np.ndarray:
        return (self.rel_error[negate] < self.tol).sum(1)

    def threshold(self, negate: bool = True) -> "stats.ThresholdFit":
        """The ``m/k`` at which the logistic fit of the success counts reaches 1/2, with its 95% interval."""
        return stats.logistic_threshold(self.ratios, self.successes(negate), np.full(len(self.ratios), self.trials))

    def failures_on_negative_side(self, negate: bool = False) -> tuple[int, int]:
        """(failed runs ending with <x_hat, x0> < 0, failed runs)."""
        fail = self.rel_error[negate] >= self.tol
        return int((fail & (self.projection[negate] < 0)).sum()), int(fail.sum())


def dpr_sweep(widths: Sequence[int], ratios: Sequence[float], *, trials: int, restarts: int, steps: int, lr: float,
              negate_every: int, tol: float = 1e-2, stream: SeedLike, device: DeviceLike = "auto") -> DPRSweep:
    r"""(c): Algorithm 1 of Hand, Leong & Voroninski (2018) with and without the negation step, for
    :math:`m = \lceil (m/k)\,k\rceil`, keeping of ``restarts`` random starts the one of lowest final loss (a choice that
    needs no knowledge of :math:`x_0`).

    Every trial draws a network, a unit :math:`x_0`, the starts and one Gaussian :math:`A` per :math:`m`; the
    :math:`m` values of a trial share the network and the starts, and run in one batch (:class:`_RowBlocks`).
    """
    widths, ratios = check_int_list(widths, "widths"), check_list(ratios, "ratios", check_positive)
    trials, restarts = check_positive_int(trials, "trials"), check_positive_int(restarts, "restarts")
    k, n = widths[0], widths[-1]
    m_values = [max(1, int(math.ceil(r * k - 1e-9))) for r in ratios]
    g = make_generator(stream)
    G = ReLUGenerator.random(widths, batch=trials, seed=g, dtype=F64, device=device)
    dev, J, R = G.device, len(m_values), restarts
    x0 = randn(trials, k, generator=g, dtype=F64, device=dev)
    x0 = x0 / x0.norm(dim=-1, keepdim=True)
    A = _RowBlocks([randn(trials, m, n, generator=g, dtype=F64, device=dev) / math.sqrt(m) for m in m_values], R)
    start = randn(trials, 1, R, k, generator=g, dtype=F64, device=dev).expand(trials, J, R, k).reshape(trials, J * R, k)
    rel, proj = {}, {}
    with torch.no_grad():
        v = G(x0.unsqueeze(1))
    for neg in (False, True):
        res = pr.dpr(G, A, x0.unsqueeze(1).expand(trials, J * R, k), start.contiguous(), steps=steps, lr=lr,
                     negate_every=negate_every if neg else 0)
        best = res.loss.reshape(trials, J, R).argmin(-1)  # (trials, J)
        x = torch.gather(res.x.reshape(trials, J, R, k), 2, best[..., None, None].expand(trials, J, 1, k))[:, :, 0]
        with torch.no_grad():
            rel[neg] = ((G(x) - v).norm(dim=-1) / v.norm(dim=-1)).T.cpu().numpy()
        proj[neg] = (x * x0.unsqueeze(1)).sum(-1).T.cpu().numpy()
    return DPRSweep(k, tuple(widths), tuple(float(r) for r in ratios), tuple(m_values), R, rel, proj, tol)


# --------------------------------------------------------------------------- claims
RHO_PR_D1 = Claim(
    "rho_pr_closed_form_at_d1", kind="sanity",
    source="ilib theory notes, part 2, §5.2: at d = 1, G(x0) and G(-x0) have disjoint supports, S(pi/2) = 1",
    statement="the formula gives rho_1^PR = 2/pi",
    predict=lambda t: 2 / math.pi, measure=lambda t: Estimate.exact(float(t.rho_pr[0])), rule=Covers(atol=1e-12),
)
RHO_PR_IS_THE_ARGMIN = Claim(
    "rho_pr_is_the_argmin_on_the_negative_ray", kind="sanity",
    source="ilib theory notes, part 2, §5.2 (minimise the expected loss in t on the negative ray)",
    statement="a grid search of the infinite-width expected loss along -t x0 (step 0.005) lands within one step of "
              "rho_d^PR for every d = 1..12",
    predict=lambda t: 0.0, measure=lambda t: Estimate.exact(float(np.abs(t.grid_argmin - t.rho_pr).max()), n=len(t.d)),
    rule=Covers(atol=0.005),
)
RAY_AT_RHO_PR = Claim(
    "bad_critical_point_at_rho_pr", kind="theorem",
    source="Hand, Leong & Voroninski 2018 (descent direction outside neighbourhoods of x0 and a negative multiple); "
           "the multiple rho_d^PR from the expected landscape (ilib theory notes, part 2, §5.2, our derivation)",
    statement="the mean over networks of the critical point of E_A f on the -x0 ray, at the largest width, is rho_d^PR",
    predict=lambda r: pr.rho_pr(r.d), measure=lambda r: Estimate.mean(r.t[-1]), rule=Covers(),
    detail=lambda r: {"width": r.width_values[-1], "sd": float(r.sd[-1]), "rho_d_cs": rho(r.d)},
)
SPREAD_HALF_PR = Claim(
    "spread_of_the_bad_point_falls_like_w_minus_half", kind="theorem",
    source="central limit theorem: t* is a smooth function of sums over the w units of each layer (delta method)",
    statement="the standard deviation over networks of the critical point falls like w^(-1/2) (log-log slope, w >= 256)",
    predict=lambda r: -0.5, measure=lambda r: r.spread_fit(), rule=Covers(),
)
MEASUREMENTS_CONCENTRATE = Claim(
    "critical_point_with_a_concentrates_like_m_minus_half", kind="theorem",
    source="central limit theorem over the m measurements (rows of A independent given the network)",
    statement="the critical point with m measurements differs from its mean over A by a spread falling like m^(-1/2) "
              "(log-log slope, m >= 80)",
    predict=lambda r: -0.5, measure=lambda r: r.gap_fit(), rule=Covers(),
)
FLIP_FIRES = Claim(
    "negation_step_fires_at_the_bad_point", kind="theorem",
    source="Hand, Leong & Voroninski 2018, Algorithm 1 (the negation step); in expectation (1 - rho)^2 < 1 - rho^2 "
           "(ilib theory notes, part 2, §5.2); 'with high probability' read as >= 95%",
    statement="at the critical point -t* x0 of f on the negative ray, the negation step fires (f(t* x0) < f(-t* x0)) "
              "in at least 95% of (network, A) draws, at the largest m",
    predict=lambda r: 0.95, measure=lambda r: Estimate.binomial(int(r.fires[-1].sum()), r.fires.shape[1]), rule=AtLeast(),
    detail=lambda r: {"m": list(r.m_values), "fraction_firing": r.fires.mean(1).tolist()},
)
DPR_SUCCEEDS = Claim(
    "dpr_recovers_at_the_largest_m", kind="finding",
    source="this notebook (Hand, Leong & Voroninski 2018, Sec. 5 report success for m of order k)",
    statement="with the negation step, Algorithm 1 recovers G(x0) (relative error < 1e-2) in at least 90% of trials "
              "at the largest m/k",
    predict=lambda s: 0.9, measure=lambda s: Estimate.binomial(int(s.successes(True)[-1]), s.trials), rule=AtLeast(),
)
NEGATION_HELPS = Claim(
    "negation_step_raises_dpr_success", kind="finding",
    source="this notebook (paired: the same networks, A and starts with and without the step)",
    statement="over all m/k, the negation step raises the success rate significantly (paired 95% t-interval over trials, "
              "the independent units: the m/k of one trial share its network and starts, above 0)",
    predict=lambda s: 0.0,
    measure=lambda s: Estimate.mean(((s.rel_error[True] < s.tol).astype(float)
                                     - (s.rel_error[False] < s.tol).astype(float)).mean(0)),
    rule=Above(),
)
PLAIN_FAILS_ON_NEGATIVE_SIDE = Claim(
    "plain_descent_fails_on_the_negative_side", kind="finding",
    source="ilib theory notes, part 2, §5.3 (expected: without the negation step, failures end near -rho_d^PR x0)",
    statement="without the negation step, at least 90% of failed runs end on the negative side (<x_hat, x0> < 0)",
    predict=lambda s: 0.9,
    measure=lambda s: (lambda a, b: Estimate.binomial(a, b) if b else None)(*s.failures_on_negative_side(False)),
    rule=AtLeast(),
)
