r"""Notebook 07: inverting random ReLU generators one layer at a time, and how much expansion each method needs.

Lei, Jalal, Dhillon & Dimakis (NeurIPS 2019) invert :math:`G(z) = \mathrm{relu}(W_d\cdots\mathrm{relu}(W_1 z))`
from the output back, one layer at a time; for random nets whose layers expand by a constant factor this
recovers :math:`z` exactly with high probability, where the gradient analyses (Hand & Voroninski 2018) need a
logarithmic factor. Daskalakis, Rohatgi & Zampetakis (NeurIPS 2020) show that the Weight Distribution Condition
behind those gradient analyses also holds at constant expansion.

What is predicted here [DER, :mod:`ilib.inversion`]:

* least squares on the active rows succeeds iff every layer has :math:`|S_i| \ge n_{i-1}` active rows, with
  probability :math:`\prod_i \Pr[\mathrm{Bin}(n_i, \tfrac12) \ge n_{i-1}]` (a statement about that method);
* within :math:`h \ge 0` a hidden layer's preimage is a point with the probability of Crofton's formula
  (:func:`ilib.inversion.predicted_point_success`), which needs fewer active rows; the non-negative LP
  :math:`\min \mathbf 1^\top h` recovers every such problem and more;
* with noise the :math:`\ell_\infty` LP's error is at most :math:`2\|W_S^{+}\|_{\infty\to\infty}\|e\|_\infty` per layer.

Sections: (a) :func:`expansion_sweep` (least squares, the non-negative LP and the point preimage against the
expansion ratio), (b) :func:`gd_sweep` (the gradient method with the negation check on the same nets),
(c) :func:`latent_sweep` (Lei et al.'s sweep over the latent dimension at fixed expansion), (d) :func:`noisy_sweep`
(error against noise, the guaranteed bound, and the threshold rules), (e) :func:`wdc_sweep` (the WDC constant at
constant expansion, searched until it saturates).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from .. import inversion as inv
from .. import stats
from ..claims import Above, AtMost, Below, Claim, Covers, Estimate
from ..device import DeviceLike, SeedLike, Stream, make_generator, randn, resolve_device
from ..profile import Profile as _Profile
from ..profile import param
from ..recovery import relative_error

NOTEBOOK = "07_layerwise_inversion"
EXACT_TOL = 1e-6
GD_TOL = 1e-2


# --------------------------------------------------------------------------- parameters
@dataclass(frozen=True)
class Profile(_Profile):
    """Parameters of notebook 07 (each declared once; see :mod:`ilib.profile`)."""

    k: int = param(smoke=6, paper=20, lo=1, doc="latent dimension of the nets in (a), (b)")
    depth: int = param(smoke=3, paper=3, lo=1, doc="number of layers d")
    r_values: tuple[float, ...] = param(smoke=(1.5, 2.0, 3.0), paper=(1.25, 1.5, 1.75, 2.0, 2.25, 2.5, 2.75, 3.0, 3.5, 4.0),
                                        lo=1, doc="expansion ratios r: widths round(k r^i)")
    nets: int = param(smoke=6, paper=50, lo=1, doc="random nets per r")
    latents: int = param(smoke=2, paper=4, lo=1, doc="latents z* per net; nets x latents problems per r")
    gd_nets: int = param(smoke=3, paper=15, lo=1, doc="nets (with all their latents) given to the gradient method in (b)")
    steps: int = param(smoke=150, paper=1500, lo=1, doc="gradient steps in (b), (c), (d)")
    lr: float = param(smoke=0.2, paper=0.2, lo=0, lo_open=True, doc="step size of gradient descent")
    k_values: tuple[int, ...] = param(smoke=(3, 6), paper=(5, 10, 20, 40), lo=1, doc="latent dimensions of the sweep (c)")
    k_r: float = param(smoke=2.5, paper=2.5, lo=1, doc="expansion ratio of the sweep over k (c)")
    k_nets: int = param(smoke=3, paper=25, lo=1, doc="nets per k in (c)")
    noisy_k: int = param(smoke=4, paper=10, lo=1, doc="latent dimension in (d)")
    noisy_r: float = param(smoke=3.0, paper=3.0, lo=1, doc="expansion ratio in (d)")
    noisy_nets: int = param(smoke=6, paper=20, lo=1, doc="nets (one latent each) in (d)")
    noise_values: tuple[float, ...] = param(smoke=(1e-3, 1e-1), paper=(1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 0.2), lo=0,
                                            lo_open=True, doc="noise bound relative to the output's RMS entry, in (d)")
    wdc_k_values: tuple[int, ...] = param(smoke=(3, 6), paper=(5, 10, 20), lo=2,
                                          doc="latent dimensions k of the layers in (e) (the search costs about k^3 r per start)")
    wdc_r_values: tuple[float, ...] = param(smoke=(2.0, 8.0), paper=(2.0, 4.0, 8.0, 16.0), lo=1, doc="aspect ratios n / k in (e)")
    wdc_layers: int = param(smoke=2, paper=3, lo=1, doc="independent layers per (k, r)")
    wdc_pairs: int = param(smoke=2, paper=4, lo=1, doc="search starts per layer in the first round, per unit of k")
    wdc_steps: int = param(smoke=40, paper=200, lo=1, doc="ascent steps per search round")
    wdc_rounds: int = param(smoke=2, paper=4, lo=2, doc="most search rounds (each doubles the starts)")
    wdc_tol: float = param(smoke=0.02, paper=0.01, lo=0, lo_open=True, doc="saturation: a round raising the estimate by less than this (relative) stops the search")

    def relations(self) -> None:
        self.require(self.gd_nets <= self.nets, "gd_nets", f"must be at most nets = {self.nets}")
        self.require(len(self.r_values) >= 2, "r_values", "must hold at least two ratios (thresholds are fitted)")
        self.require(len(self.k_values) >= 2, "k_values", "must hold at least two latent dimensions")
        self.require(len(self.wdc_k_values) >= 2, "wdc_k_values", "must hold at least two latent dimensions")


# --------------------------------------------------------------------------- shared helpers
def problems(k: int, r: float, depth: int, nets: int, latents: int, stream: SeedLike, device: DeviceLike = "auto"):
    """``nets`` random nets (widths :func:`ilib.inversion.expansion_widths`, gain 2, float64) with ``latents`` latents
    each, drawn from ``stream`` alone (so (a) and (b) see the same nets)."""
    return inv.random_problems(inv.expansion_widths(k, r, depth), nets, latents=latents, seed=make_generator(stream),
                               device=device)


def _hidden(G, z: torch.Tensor) -> list[torch.Tensor]:
    """``[z, h_1, ..., h_d]`` for latents ``z`` (B, L, k) (the output relu-ed as the nets here are)."""
    with torch.no_grad():
        return [z] + [torch.relu(p) for p in G.pre_activations(z)]


def _points(G, z: torch.Tensor) -> torch.Tensor:
    r"""Whether every layer's preimage (hidden layers within :math:`h \ge 0`) is a single point, per problem (B, L)."""
    hs = _hidden(G, z)
    B, L = z.shape[:2]
    flat = lambda t: t.reshape(B * L, t.shape[-1])  # noqa: E731
    w = [wi.unsqueeze(1).expand(B, L, *wi.shape[1:]).reshape(B * L, *wi.shape[1:]) for wi in G.weights]
    ok = inv.invert_layer(w[0], flat(hs[1])).invertible
    for i in range(2, G.depth + 1):
        ok = ok & inv.preimage_is_point(w[i - 1], flat(hs[i]), flat(hs[i - 1]))
    return ok.reshape(B, L)


def _ok(z_hat: torch.Tensor, z: torch.Tensor, tol: float) -> torch.Tensor:
    return torch.nan_to_num(relative_error(z_hat.to(z.dtype), z), nan=math.inf) < tol


@dataclass(frozen=True)
class RateCase:
    """Successes of one method on the problems of one configuration, with its predicted success probability."""

    label: str
    widths: tuple[int, ...]
    successes: int
    trials: int
    predicted: float
    comparisons: int = 1

    @property
    def rate(self) -> float:
        return self.successes / self.trials


def _threshold(r_values, ok_per_r: Sequence[np.ndarray]) -> stats.ThresholdFit:
    return stats.logistic_threshold(list(r_values), [int(np.sum(o)) for o in ok_per_r], [len(o) for o in ok_per_r])


def _difference(a: stats.ThresholdFit, b: stats.ThresholdFit) -> Estimate:
    """``a - b`` of two 50% points, the interval from their half-widths in quadrature."""
    half = lambda f: (f.hi - f.lo) / 2  # noqa: E731
    d, h = a.x_level - b.x_level, math.hypot(half(a), half(b))
    return Estimate(d, d - h, d + h, "95% logistic-fit intervals in quadrature")


def _rate_difference(s1: int, n1: int, s2: int, n2: int) -> Estimate:
    """:math:`p_1 - p_2` with Newcombe's hybrid interval from the two Wilson intervals (Newcombe 1998, method 10)."""
    p1, p2 = s1 / n1, s2 / n2
    l1, u1 = stats.binomial_interval(s1, n1)
    l2, u2 = stats.binomial_interval(s2, n2)
    d = p1 - p2
    return Estimate(d, d - math.hypot(p1 - l1, u2 - p2), d + math.hypot(u1 - p1, p2 - l2), "Newcombe 95%", n1 + n2)


# --------------------------------------------------------------------------- (a) exact inversion against r
@dataclass(frozen=True)
class ExpansionSweep:
    r"""Per ratio ``r_values[i]`` and problem (nets x latents, net-major): the least-squares margin
    :math:`\min_i(|S_i| - n_{i-1})`, success of least squares (``ls``), of the non-negative LP (``nnlp``), whether
    every layer's preimage is a point (``point``) and whether :math:`\Lambda_{z^*}` has rank ``k`` (``identifiable``)."""

    k: int
    depth: int
    r_values: tuple[float, ...]
    widths: tuple[tuple[int, ...], ...]
    margin: tuple[np.ndarray, ...]
    ls: tuple[np.ndarray, ...]
    ls_flagged: tuple[np.ndarray, ...]
    nnlp: tuple[np.ndarray, ...]
    point: tuple[np.ndarray, ...]
    identifiable: tuple[np.ndarray, ...]
    ls_failed_layer: tuple[np.ndarray, ...]

    @property
    def trials(self) -> int:
        return len(self.ls[0])

    def rate(self, method: str) -> np.ndarray:
        return np.array([np.mean(getattr(self, method)[i]) for i in range(len(self.r_values))])

    def predicted(self, method: str) -> np.ndarray:
        f = inv.predicted_exact_success if method == "ls" else inv.predicted_point_success
        return np.array([f(w) for w in self.widths])

    def cases(self, method: str) -> list[RateCase]:
        pred = self.predicted(method)
        return [RateCase(f"r={r:g}", self.widths[i], int(np.sum(getattr(self, method)[i])), self.trials, float(pred[i]),
                         len(self.r_values)) for i, r in enumerate(self.r_values)]

    def threshold(self, method: str) -> stats.ThresholdFit:
        return _threshold(self.r_values, getattr(self, method))

    def pooled(self, name: str) -> np.ndarray:
        return np.concatenate(getattr(self, name))


def expansion_sweep(k: int, r_values: Sequence[float], depth: int, nets: int, *, latents: int, stream: Stream,
                    device: DeviceLike = "auto", chunk_mb: float = 128.0) -> ExpansionSweep:
    r"""(a) For every ``r``: least squares (:func:`ilib.inversion.invert_network`), the non-negative LP
    (:func:`ilib.inversion.invert_network_nnlp`) and the point-preimage test on the same ``nets * latents``
    problems (:func:`problems`, stream ``r=<r>``), in chunks of nets to bound memory. Success is a relative latent
    error below :data:`EXACT_TOL`."""
    fields = {f: [] for f in ("widths", "margin", "ls", "ls_flagged", "nnlp", "point", "identifiable", "ls_failed_layer")}
    for r in r_values:
        G, z, x = problems(k, r, depth, nets, latents, stream.child(f"r={r:g}"), device)
        widths = inv.expansion_widths(k, r, depth)
        per_net = latents * widths[-1] * (widths[-2] + 1) * 8 * 3 / 2**20
        step = max(1, int(chunk_mb // max(per_net, 1e-9)))
        parts = {f: [] for f in fields if f != "widths"}
        for a in range(0, nets, step):
            Gs, zs, xs = G.select(slice(a, a + step)), z[a : a + step], x[a : a + step]
            ls = inv.invert_network(Gs, xs)
            parts["ls"].append(_ok(ls.z, zs, EXACT_TOL))
            parts["ls_flagged"].append(ls.invertible)
            parts["ls_failed_layer"].append(ls.failed_layer)
            parts["nnlp"].append(_ok(inv.invert_network_nnlp(Gs, xs).z, zs, EXACT_TOL))
            parts["point"].append(_points(Gs, zs))
            with torch.no_grad():
                act = torch.stack([(p > 0).sum(-1) for p in Gs.pre_activations(zs)], dim=-1)
                parts["margin"].append((act - torch.tensor(widths[:-1], device=act.device)).amin(-1))
                sv = torch.linalg.svdvals(Gs.local_linear_map(zs))
                parts["identifiable"].append(sv[..., -1] > 1e-10 * sv[..., 0])
        fields["widths"].append(tuple(widths))
        for f, v in parts.items():
            fields[f].append(torch.cat(v).reshape(-1).cpu().numpy())
    return ExpansionSweep(k=k, depth=depth, r_values=tuple(r_values), **{f: tuple(v) for f, v in fields.items()})


# --------------------------------------------------------------------------- (b) the gradient method
@dataclass(frozen=True)
class GDSweep:
    r"""Per ratio: success of gradient descent with the negation check (``gd``), outputs fitted with the wrong latent
    (``fit_only``), and least squares and identifiability on the same problems (the first ``gd_nets`` nets of (a))."""

    r_values: tuple[float, ...]
    gd: tuple[np.ndarray, ...]
    fit_only: tuple[np.ndarray, ...]
    ls: tuple[np.ndarray, ...]
    identifiable: tuple[np.ndarray, ...]

    def rate(self, name: str) -> np.ndarray:
        return np.array([np.mean(v) for v in getattr(self, name)])

    def threshold(self, name: str) -> stats.ThresholdFit:
        return _threshold(self.r_values, getattr(self, name))

    def recoveries_without_rank(self) -> int:
        return int(sum(((g | s) & ~i).sum() for g, s, i in zip(self.gd, self.ls, self.identifiable)))


def _gd(G, z: torch.Tensor, x: torch.Tensor, *, steps: int, lr: float, stream: SeedLike):
    """Gradient descent with the negation check (float32) from one random start; (success, fitted with the wrong latent)."""
    Gf = G.to(dtype=torch.float32)
    res = inv.invert_gd(Gf, x.to(torch.float32), steps=steps, lr=lr, negate_every=10, seed=make_generator(stream))
    ok = _ok(res.z, z, GD_TOL)
    with torch.no_grad():
        fit = torch.nan_to_num(relative_error(Gf(res.z).double(), x), nan=math.inf) < GD_TOL
    return ok.reshape(-1).cpu().numpy(), (fit & ~ok).reshape(-1).cpu().numpy()


def gd_sweep(k: int, r_values: Sequence[float], depth: int, nets: int, *, gd_nets: int, latents: int, steps: int,
             lr: float, stream: Stream, device: DeviceLike = "auto") -> GDSweep:
    r"""(b) The gradient method (Huang, Hand, Heckel & Voroninski 2021, Algorithm 1: gradient descent on
    :math:`\|G(z) - G(z^*)\|^2` from one random start, replacing :math:`z` by :math:`-z` when that lowers the
    objective, every 10 steps) on the first ``gd_nets`` nets of (a), regenerated from the same stream."""
    out = {f: [] for f in ("gd", "fit_only", "ls", "identifiable")}
    for r in r_values:
        G, z, x = problems(k, r, depth, nets, latents, stream.child(f"r={r:g}"), device)
        G, z, x = G.select(slice(0, gd_nets)), z[:gd_nets], x[:gd_nets]
        ok, fit = _gd(G, z, x, steps=steps, lr=lr, stream=stream.child(f"gd r={r:g}"))
        out["gd"].append(ok)
        out["fit_only"].append(fit)
        out["ls"].append(_ok(inv.invert_network(G, x).z, z, EXACT_TOL).reshape(-1).cpu().numpy())
        with torch.no_grad():
            sv = torch.linalg.svdvals(G.local_linear_map(z))
        out["identifiable"].append((sv[..., -1] > 1e-10 * sv[..., 0]).reshape(-1).cpu().numpy())
    return GDSweep(r_values=tuple(r_values), **{f: tuple(v) for f, v in out.items()})


# --------------------------------------------------------------------------- (c) the latent dimension
@dataclass(frozen=True)
class LatentSweep:
    """Per latent dimension ``k_values[i]`` at expansion ``r``: success of least squares, the non-negative LP and
    gradient descent on the same problems."""

    k_values: tuple[int, ...]
    r: float
    depth: int
    ls: tuple[np.ndarray, ...]
    nnlp: tuple[np.ndarray, ...]
    gd: tuple[np.ndarray, ...]

    def widths(self, i: int) -> tuple[int, ...]:
        return tuple(inv.expansion_widths(self.k_values[i], self.r, self.depth))

    def rate(self, name: str) -> np.ndarray:
        return np.array([np.mean(v) for v in getattr(self, name)])

    def cases(self) -> list[RateCase]:
        return [RateCase(f"k={kk}", self.widths(i), int(np.sum(self.ls[i])), len(self.ls[i]),
                         inv.predicted_exact_success(self.widths(i)), len(self.k_values)) for i, kk in enumerate(self.k_values)]

    def gap(self, i: int) -> Estimate:
        """Least squares minus gradient descent at ``k_values[i]`` (Newcombe interval)."""
        return _rate_difference(int(np.sum(self.ls[i])), len(self.ls[i]), int(np.sum(self.gd[i])), len(self.gd[i]))

    def gap_growth(self) -> Estimate:
        """gap(k_max) - gap(k_min), its interval from the two gaps' half-widths in quadrature."""
        a, b = self.gap(len(self.k_values) - 1), self.gap(0)
        d = a.value - b.value
        lo = d - math.hypot(a.value - a.lo, b.hi - b.value)
        hi = d + math.hypot(a.hi - a.value, b.value - b.lo)
        return Estimate(d, lo, hi, "Newcombe intervals in quadrature")


def latent_sweep(k_values: Sequence[int], r: float, depth: int, nets: int, *, latents: int, steps: int, lr: float,
                 stream: Stream, device: DeviceLike = "auto") -> LatentSweep:
    r"""(c) Lei et al.'s comparison over the latent dimension: for every ``k``, ``nets * latents`` problems at widths
    :math:`k r^i`, inverted by least squares, the non-negative LP and gradient descent with the negation check."""
    out = {f: [] for f in ("ls", "nnlp", "gd")}
    for kk in k_values:
        G, z, x = problems(kk, r, depth, nets, latents, stream.child(f"k={kk}"), device)
        out["ls"].append(_ok(inv.invert_network(G, x).z, z, EXACT_TOL).reshape(-1).cpu().numpy())
        out["nnlp"].append(_ok(inv.invert_network_nnlp(G, x).z, z, EXACT_TOL).reshape(-1).cpu().numpy())
        out["gd"].append(_gd(G, z, x, steps=steps, lr=lr, stream=stream.child(f"gd k={kk}"))[0])
    return LatentSweep(k_values=tuple(k_values), r=r, depth=depth, **{f: tuple(v) for f, v in out.items()})


# --------------------------------------------------------------------------- (d) noise
NOISY_METHODS = {
    "LP linf": dict(norm="linf", threshold_factor=2.0, propagate="rms"),
    "LP linf, max rule": dict(norm="linf", threshold_factor=2.0, propagate="observed"),
    "LP l1": dict(norm="l1", threshold_factor=2.0, propagate="rms"),
    "LP linf, tau=0": dict(norm="linf", threshold_factor=0.0, propagate="rms"),
    "LP linf, guaranteed": dict(norm="linf", threshold_factor=2.0, propagate="bound"),
}


@dataclass(frozen=True)
class NoisySweep:
    r"""Per method and noise level, per net: the relative latent error (NaN where reported not invertible),
    ``breach`` (a truly inactive row of a hidden layer above the next threshold: the failure of a too-small
    propagated error level), and for the output layer the guaranteed bound :math:`2\|W_S^+\|_{\infty\to\infty}\epsilon`
    against the measured :math:`\|\hat h_{d-1} - h_{d-1}\|_\infty`; for ``"LP linf, guaranteed"`` the chained bound on
    :math:`\|\hat z - z^*\|_\infty` against the measured one."""

    widths: tuple[int, ...]
    noise_values: tuple[float, ...]
    errors: dict
    breach: dict
    layer_bound: np.ndarray
    layer_error: np.ndarray
    chain_bound: np.ndarray
    chain_error: np.ndarray

    @property
    def nets(self) -> int:
        return self.layer_bound.shape[1]

    def failed(self, name: str) -> np.ndarray:
        return np.isnan(self.errors[name])

    def quantile(self, name: str, q: float) -> np.ndarray:
        """Per level, the ``q`` quantile of the error with a problem reported not invertible counted as error 1."""
        return np.quantile(np.nan_to_num(self.errors[name], nan=1.0), q, axis=1)

    def usable(self, name: str, max_failed: float = 0.1) -> np.ndarray:
        return self.failed(name).mean(1) <= max_failed

    def slope(self, name: str) -> Estimate:
        """Log-log slope of the per-level median error against the noise, over the usable levels (t interval)."""
        keep = self.usable(name)
        fit = stats.loglog_fit(np.asarray(self.noise_values)[keep], self.quantile(name, 0.5)[keep])
        return Estimate(fit.slope, fit.lo, fit.hi, "least-squares slope, t 95%", int(fit.n))

    def outliers(self, name: str, factor: float = 10.0) -> np.ndarray:
        """Problems whose error exceeds ``factor`` times the level's median (failures included)."""
        e = np.nan_to_num(self.errors[name], nan=np.inf)
        return e > factor * np.median(np.nan_to_num(self.errors[name], nan=1.0), axis=1, keepdims=True)


def _breach(res: inv.NetworkInversion, hs: list[torch.Tensor], factor: float) -> torch.Tensor:
    """Per problem: some hidden layer's estimate exceeds the next threshold on a coordinate that is truly zero."""
    out = torch.zeros(hs[0].shape[0], dtype=torch.bool)
    for i in range(1, len(hs) - 1):  # estimates of h_1 .. h_{d-1}
        est, tau = res.hidden[i], factor * res.error_levels[:, i]
        zero = hs[i] <= 0
        out |= ((torch.nan_to_num(est, nan=0.0) > tau.unsqueeze(-1)) & zero).any(-1).cpu()
    return out


def noisy_sweep(k: int, r: float, depth: int, nets: int, noise_values: Sequence[float], *, steps: int, lr: float,
                stream: Stream, device: DeviceLike = "auto") -> NoisySweep:
    r"""(d) Nets with widths :math:`k r^i` (one latent each), outputs :math:`x = G(z^*) + e`, :math:`e` uniform on
    :math:`[-\epsilon, \epsilon]^n`, :math:`\epsilon` = noise times the RMS entry of :math:`G(z^*)`, inverted by every
    method of :data:`NOISY_METHODS` and by gradient descent with the negation check, the same noise for all."""
    widths = inv.expansion_widths(k, r, depth)
    G, z, x = problems(k, r, depth, nets, 1, stream.child("nets"), device)
    z, x = z[:, 0], x[:, 0]
    hs = [h[:, 0] for h in _hidden(G, z.unsqueeze(1))]
    rms = x.norm(dim=-1) / math.sqrt(widths[-1])
    errors = {name: [] for name in [*NOISY_METHODS, "GD"]}
    breach = {name: [] for name in NOISY_METHODS}
    lb, le, cb, ce = [], [], [], []
    for j, lvl in enumerate(noise_values):
        eps = lvl * rms
        y = x + inv.bounded_noise(tuple(x.shape), eps, seed=make_generator(stream.child(f"noise {j}")), device=x.device)
        for name, kw in NOISY_METHODS.items():
            res = inv.invert_network_lp(G, y, noise_bound=eps, **kw)
            errors[name].append(torch.where(res.invertible, relative_error(torch.nan_to_num(res.z), z),
                                            torch.full_like(rms, math.nan)))
            breach[name].append(_breach(res, hs, kw["threshold_factor"]))
            if name == "LP linf":
                lb.append(inv.linf_lp_error_bound(G.weights[-1], y, eps))
                le.append((torch.nan_to_num(res.hidden[-1], nan=math.inf) - hs[-2]).abs().amax(-1))
            if name == "LP linf, guaranteed":
                cb.append(torch.where(res.invertible, res.error_levels[:, 0], torch.full_like(rms, math.nan)))
                ce.append(torch.where(res.invertible, (torch.nan_to_num(res.z) - z).abs().amax(-1), torch.full_like(rms, math.nan)))
        gd = inv.invert_gd(G, y.unsqueeze(1), steps=steps, lr=lr, negate_every=10, seed=make_generator(stream.child(f"gd {j}")))
        errors["GD"].append(relative_error(gd.z[:, 0], z))
    np_ = lambda v: torch.stack(v).detach().cpu().double().numpy()  # noqa: E731
    return NoisySweep(widths=tuple(widths), noise_values=tuple(noise_values), errors={k_: np_(v) for k_, v in errors.items()},
                      breach={k_: np_(v).astype(bool) for k_, v in breach.items()}, layer_bound=np_(lb), layer_error=np_(le),
                      chain_bound=np_(cb), chain_error=np_(ce))


# --------------------------------------------------------------------------- (e) the WDC
@dataclass(frozen=True)
class WDCSweep:
    r"""``dev[i, j, l]``: the searched WDC deviation of layer ``l`` with :math:`k` = ``k_values[i]``,
    :math:`n = r k`, :math:`r` = ``r_values[j]``; ``history[i][j]`` the mean after each search round."""

    k_values: tuple[int, ...]
    r_values: tuple[float, ...]
    dev: np.ndarray
    history: tuple
    tol: float

    def mean(self) -> np.ndarray:
        return self.dev.mean(-1)

    def saturated(self) -> np.ndarray:
        """Per ``(k, r)``: the last round raised the estimate by less than ``tol``."""
        return np.array([[len(h) >= 2 and h[-1] <= h[-2] * (1 + self.tol) for h in row] for row in self.history])

    def growth(self) -> np.ndarray:
        """Per ``r``: dev(k_max) / dev(k of the previous row), the mean over layers."""
        m = self.mean()
        return m[-1] / m[-2]

    def log_factor_growth(self) -> float:
        r""":math:`\sqrt{\log k_{\max}/\log k_{\mathrm{prev}}}`: the growth a deviation scaling with the log factor would show."""
        return math.sqrt(math.log(self.k_values[-1]) / math.log(self.k_values[-2]))

    def slope_in_r(self) -> np.ndarray:
        return np.array([stats.loglog_fit(self.r_values, row).slope for row in self.mean()])


def wdc_sweep(k_values: Sequence[int], r_values: Sequence[float], layers: int, *, pairs_per_k: int, steps: int,
              rounds: int, tol: float, stream: Stream, device: DeviceLike = "auto") -> WDCSweep:
    r"""(e) For every ``(k, r)``: ``layers`` Gaussian :math:`n \times k` layers (:math:`\mathcal N(0, 1/n)`,
    :math:`n = \mathrm{round}(rk)`, float64), the WDC constant searched by :func:`ilib.inversion.wdc_sup_saturated`
    with ``pairs_per_k * k`` starts in the first round (the search grows with the dimension it explores)."""
    dev_all, hist = [], []
    for kk in k_values:
        row, hrow = [], []
        for r in r_values:
            n = max(1, int(round(r * kk)))
            s = stream.child(f"k={kk} r={r:g}")
            W = randn(layers, n, kk, generator=make_generator(s.child("layers")), dtype=torch.float64,
                      device=resolve_device(device)) / math.sqrt(n)
            d, h = inv.wdc_sup_saturated(W, pairs=pairs_per_k * kk, ascent_steps=steps, tol=tol, max_rounds=rounds,
                                         seed=make_generator(s.child("search")))
            row.append(d.cpu().numpy())
            hrow.append(tuple(h))
        dev_all.append(row)
        hist.append(tuple(hrow))
    return WDCSweep(k_values=tuple(k_values), r_values=tuple(r_values), dev=np.asarray(dev_all), history=tuple(hist), tol=tol)


# --------------------------------------------------------------------------- claims
def _rate(c: RateCase) -> Estimate:
    return Estimate.binomial(c.successes, c.trials, ci=1 - 0.05 / c.comparisons)


LS_RATE = Claim(
    "least_squares_rate_is_the_binomial_product", kind="theorem",
    source="Lei, Jalal, Dhillon & Dimakis 2019 (counting active rows of Gaussian layers) [DER: theory notes §5.1]",
    statement="least squares on the active rows recovers z* with probability prod_i P[Bin(n_i, 1/2) >= n_{i-1}] "
              "(Wilson interval at the Bonferroni level 1 - 0.05/cases)",
    predict=lambda c: c.predicted, measure=_rate, rule=Covers(),
)
LS_IFF_MARGIN = Claim(
    "least_squares_succeeds_iff_every_layer_has_enough_active_rows", kind="sanity",
    source="a Gaussian |S| x n matrix has full column rank iff |S| >= n, almost surely",
    statement="least squares on the active rows succeeds exactly on the problems whose every layer has |S_i| >= n_{i-1} "
              "(problems where success and the count disagree: 0)",
    predict=lambda s: 0.0,
    measure=lambda s: Estimate.exact(int((s.pooled("ls") != (s.pooled("margin") >= 0)).sum()), len(s.pooled("ls"))),
    rule=AtMost(),
)
LS_NEVER_SILENT = Claim(
    "least_squares_reports_instead_of_answering_wrongly", kind="sanity",
    source="ilib.inversion.invert_layer: rank check and certificate W_S x = y_S, W_{S^c} x <= 0, h >= 0",
    statement="no problem is reported invertible by least squares and recovered wrongly",
    predict=lambda s: 0.0,
    measure=lambda s: Estimate.exact(int((s.pooled("ls_flagged") & ~s.pooled("ls")).sum()), len(s.pooled("ls"))),
    rule=AtMost(),
)
POINT_RATE = Claim(
    "preimage_is_a_point_with_the_crofton_probability", kind="theorem",
    source="Crofton formula for a random subspace and the cone R^s x R_+^b (Amelunxen, Lotz, McCoy & Tropp 2014, §6; "
           "Wendel 1962), with the sign symmetry of Gaussian rows [DER: ilib.inversion.preimage_point_probability]",
    statement="the fraction of problems whose every layer's preimage (hidden layers within h >= 0) is a single point "
              "matches the layer-by-layer Crofton probability (Wilson interval at the Bonferroni level)",
    predict=lambda c: c.predicted, measure=_rate, rule=Covers(),
)
NNLP_FINDS_POINTS = Claim(
    "non_negative_lp_recovers_every_point_preimage", kind="sanity",
    source="ilib.inversion.invert_layer_nnlp: an LP over a one-point feasible set returns that point",
    statement="wherever every layer's preimage is a point, the non-negative LP recovers z* (violations: 0)",
    predict=lambda s: 0.0,
    measure=lambda s: Estimate.exact(int((s.pooled("point") & ~s.pooled("nnlp")).sum()), len(s.pooled("point"))),
    rule=AtMost(),
)
NNLP_NEEDS_LESS = Claim(
    "non_negative_lp_needs_less_expansion_than_least_squares", kind="finding",
    source="this notebook (the sign constraint h >= 0 of hidden layers, unused by least squares)",
    statement="the 50% point in r of the non-negative LP lies below that of least squares "
              "(difference r50(LS) - r50(LP) significantly positive)",
    predict=lambda s: 0.0, measure=lambda s: _difference(s.threshold("ls"), s.threshold("nnlp")), rule=Above(),
    detail=lambda s: {"recovered_with_too_few_active_rows": int((s.pooled("nnlp") & (s.pooled("margin") < 0)).sum()),
                      "recovered_where_the_preimage_is_not_a_point": int((s.pooled("nnlp") & ~s.pooled("point")).sum()),
                      "problems": len(s.pooled("nnlp"))},
)
GD_NEEDS_MORE = Claim(
    "gradient_descent_needs_more_expansion_than_least_squares", kind="finding",
    source="Lei et al. 2019 contrast their constant-expansion guarantee with the log-factor gradient analyses "
           "(Hand & Voroninski 2018; Huang et al. 2021); this notebook measures the methods",
    statement="on the same problems the 50% point in r of gradient descent with the negation check lies above that of "
              "least squares (difference significantly positive)",
    predict=lambda g: 0.0, measure=lambda g: _difference(g.threshold("gd"), g.threshold("ls")), rule=Above(),
)
NO_RECOVERY_WITHOUT_RANK = Claim(
    "no_method_recovers_without_local_identifiability", kind="sanity",
    source="a latent at which Lambda_{z*} has rank < k is not locally identifiable (Hand & Voroninski 2018)",
    statement="neither gradient descent nor least squares recovers z* where Lambda_{z*} has rank < k (recoveries: 0)",
    predict=lambda g: 0.0, measure=lambda g: Estimate.exact(g.recoveries_without_rank()), rule=AtMost(),
)
LAYERWISE_BEATS_GD_AT_LARGE_K = Claim(
    "layerwise_beats_gradient_descent_at_large_k", kind="theorem",
    source="Lei, Jalal, Dhillon & Dimakis 2019, abstract and experiments (better reconstructions when the latent "
           "dimension is large)",
    statement="at fixed expansion and the largest k, least squares recovers significantly more problems than gradient "
              "descent with the negation check (Newcombe interval of the difference above 0)",
    predict=lambda s: 0.0, measure=lambda s: s.gap(len(s.k_values) - 1), rule=Above(),
)
GAP_GROWS_WITH_K = Claim(
    "layerwise_advantage_grows_with_k", kind="theorem",
    source="Lei, Jalal, Dhillon & Dimakis 2019, experiments over the latent dimension; at fixed r > 2 the binomial "
           "product tends to 1 as k grows [DER]",
    statement="at fixed expansion, the success gap least squares - gradient descent is larger at the largest k than at "
              "the smallest (difference of the gaps significantly positive)",
    predict=lambda s: 0.0, measure=lambda s: s.gap_growth(), rule=Above(),
    detail=lambda s: {"ls": s.rate("ls"), "gd": s.rate("gd"), "nnlp": s.rate("nnlp"), "k": s.k_values},
)
LINF_SLOPE = Claim(
    "linf_lp_error_is_linear_in_the_noise", kind="theorem",
    source="Lei, Jalal, Dhillon & Dimakis 2019, noisy inversion (error bounded by a constant times ||e||); "
           "with thresholds proportional to the noise the LP is scale invariant [DER]",
    statement="the log-log slope of the median latent error of the l-inf LP against the noise bound is 1, over the "
              "levels where at most 10% of problems are reported not invertible",
    predict=lambda s: 1.0, measure=lambda s: s.slope("LP linf"), rule=Covers(),
)
GD_SLOPE = Claim(
    "gradient_descent_error_is_linear_in_the_noise", kind="theorem",
    source="local linearisation at z*: z^ - z* ~ Lambda_{z*}^+ e (Hand & Voroninski 2018) [DER]",
    statement="the log-log slope of the median latent error of gradient descent against the noise bound is 1",
    predict=lambda s: 1.0, measure=lambda s: s.slope("GD"), rule=Covers(),
)
BOUND_HOLDS = Claim(
    "guaranteed_lp_bound_holds", kind="sanity",
    source="ilib.inversion.linf_lp_error_bound: ||x^ - x||_inf <= 2 ||W_S^+||_{inf->inf} eps (a deterministic bound, "
           "Lei et al. 2019's form)",
    statement="the measured l-inf error never exceeds the guaranteed bound: at the output layer for every problem and "
              "level, and along the chain where the guaranteed levels keep the problem invertible (violations: 0)",
    predict=lambda s: 0.0,
    measure=lambda s: Estimate.exact(int((s.layer_error > s.layer_bound * (1 + 1e-6) + 1e-12).sum()
                                         + np.nansum(s.chain_error > s.chain_bound * (1 + 1e-6) + 1e-12))),
    rule=AtMost(),
    detail=lambda s: {"layer_median_measured_over_bound": float(np.median(s.layer_error / s.layer_bound)),
                      "chain_invertible_per_level": np.mean(np.isfinite(s.chain_bound), axis=1),
                      "chain_median_measured_over_bound": float(np.nanmedian(s.chain_error / s.chain_bound))},
)
OUTLIERS_ARE_BREACHES = Claim(
    "linf_lp_outliers_are_underestimated_error_levels", kind="finding",
    source="this notebook: the 90th-percentile anomaly of the l-inf LP at small noise (issue 17) came with the max "
           "rule, whose propagated level is the largest of only about n/4 errors",
    statement="every outlier of the l-inf LP with the max rule (error above 10x the level's median, failures included) "
              "at the two smallest noise levels is a problem where a truly inactive row of some hidden layer was "
              "estimated above the next layer's threshold, i.e. the propagated level was too small (outliers without "
              "such a breach: 0)",
    predict=lambda s: 0.0,
    measure=lambda s: Estimate.exact(int((s.outliers("LP linf, max rule")[:2] & ~s.breach["LP linf, max rule"][:2]).sum())),
    rule=AtMost(),
    detail=lambda s: {"outliers_per_level_max_rule": s.outliers("LP linf, max rule").sum(1),
                      "breaches_per_level_max_rule": s.breach["LP linf, max rule"].sum(1),
                      "outliers_per_level": s.outliers("LP linf").sum(1),
                      "breaches_per_level": s.breach["LP linf"].sum(1),
                      "p90_over_median": s.quantile("LP linf", 0.9) / s.quantile("LP linf", 0.5),
                      "p90_over_median_max_rule": s.quantile("LP linf, max rule", 0.9) / s.quantile("LP linf, max rule", 0.5)},
)
WDC_SATURATED = Claim(
    "wdc_search_saturated_before_the_verdict", kind="sanity",
    source="ilib.inversion.wdc_sup_saturated: rounds doubling the starts until a round raises the estimate by less than "
           "wdc_tol (a lower bound on the supremum, read only once it stops rising)",
    statement="the search of the WDC supremum saturated at every (k, r) within the allowed rounds (unsaturated: 0)",
    predict=lambda w: 0.0, measure=lambda w: Estimate.exact(int((~w.saturated()).sum()), int(w.saturated().size)),
    rule=AtMost(), detail=lambda w: {"history": w.history},
)


def _wdc_growth(case: tuple) -> Estimate:
    w, j = case
    return Estimate.mean(w.dev[-1, j] / w.dev[-2, j].mean())


WDC_CONSTANT = Claim(
    "wdc_constant_does_not_grow_with_k_at_fixed_expansion", kind="theorem",
    source="Daskalakis, Rohatgi & Zampetakis 2020, Thm 1 (WDC(eps) for n_i >= C(eps) n_{i-1}); against Hand & "
           "Voroninski 2018, Lemma 11 (n >= c eps^-2 log(1/eps) k log k)",
    statement="at fixed r = n/k, the saturated searched WDC deviation at the largest k over that at the next largest "
              "(per layer over the mean; t interval over layers) is not significantly above 1 (a log-factor "
              "requirement would show sqrt(log k_max / log k_prev)); evaluated on (sweep, index of r)",
    predict=lambda c: 1.0, measure=_wdc_growth, rule=AtMost(),
    detail=lambda c: {"log_factor_growth": c[0].log_factor_growth(), "r": c[0].r_values[c[1]],
                      "mean_per_k": c[0].mean()[:, c[1]], "saturated": c[0].saturated()[:, c[1]]},
)


WDC_SLOPE_IN_R = Claim(
    "wdc_deviation_falls_like_r_to_minus_half", kind="finding",
    source="Hand & Voroninski 2018, Lemma 11 read as eps ~ (k/n)^(1/2) up to logarithms; this notebook measures it",
    statement="at the largest k, the log-log slope of the searched WDC deviation against r = n/k covers -1/2 "
              "(t interval of the fit over r)",
    predict=lambda w: -0.5,
    measure=lambda w: (lambda f: Estimate(f.slope, f.lo, f.hi, "least-squares slope, t 95%", int(f.n)))(
        stats.loglog_fit(w.r_values, w.mean()[-1])),
    rule=Covers(), detail=lambda w: {"slope_per_k": w.slope_in_r()},
)
