r"""Notebook 04: one-bit compressed sensing with generative priors.

Measurements :math:`y_i = \mathrm{sign}(\langle a_i, G(x_0)\rangle + \xi_i + \tau_i)` with isotropic rows
:math:`a_i`, pre-quantisation noise :math:`\xi_i` and a uniform dither :math:`\tau_i \sim \mathrm{Unif}[-\lambda, \lambda]`
(Qiu, Wei & Yang, ICML 2020). The estimator minimises :math:`L(x) = \|G(x) - v\|^2 - \|v\|^2` with
:math:`v = \frac{\lambda}{m}A^\top y`, the projection of :math:`v` onto the range of :math:`G`
(:mod:`ilib.onebit`). Sections:

* (a) :func:`dither_identity`: :math:`\mathbb{E}_\tau[\lambda\,\mathrm{sign}(u + \tau)] = \mathrm{clip}(u, \pm\lambda)`;
* (b) :func:`linear_formula`: for :math:`G(x) = Ux` the exact error
  :math:`(1 - c)^2 r^2 + (k\lambda^2 - c^2 r^2)/m` over every corruption family (Gaussian, Laplace,
  Student-t and Cauchy noise, label flips, Laplace rows);
* (c) :func:`relu_rate`, :func:`lambda_sweep`, :func:`norm_sweep`: random ReLU generators, the rate in
  :math:`m` and in :math:`k`, the optimal :math:`\lambda`, and the norm lost without dither;
* (d) :func:`robustness`: the one-bit ERM beside least-squares and Huber-loss CSGM on the same
  corrupted measurements;
* (e) :func:`landscape`: the risk for :math:`k = 2`, its negative critical point over many networks,
  the negation check;
* (f) :func:`embedding`: the binary embedding :math:`x \mapsto \mathrm{sign}(Ax)` of the range;
* (g) :func:`consistent_decoder`: binary iterative hard thresholding through :math:`G` (a consistent
  decoder, Liu, Gomes, Tiwari & Scarlett 2020) against the correlation estimator, without noise.

Every sweep is batched over trials, restarts and conditions; each section (and each family or
latent dimension inside it) draws from its own named stream.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from .. import onebit as ob
from .. import stats
from ..angles import rho
from ..claims import Above, AtLeast, AtMost, Below, Claim, Covers, Estimate, Overlaps
from ..device import DeviceLike, Stream, make_generator, rand, randn, resolve_device
from ..generators import LinearGenerator, ReLUGenerator
from ..operators import MatrixOperator, SharedMatrixOperator
from ..optim import minimize
from ..profile import Profile as _Profile
from ..profile import param
from ..recovery import csgm

NOTEBOOK = "04_one_bit"

#: Huber's constant: the threshold, in units of the noise scale, with 95% efficiency at the Gaussian (Huber 1964)
HUBER_C = 1.345
#: the rms ratio band of the "ReLU error follows the linear-generator formula" finding (section (d))
RELU_BAND = (0.8, 1.25)
_F32 = torch.float32


# --------------------------------------------------------------------------- parameters
#: fixed sizes (not notebook parameters: a parameters cell holds at most 23): the dither grid of (a)
DITHER_POINTS, DITHER_SAMPLES = 41, 20000
#: (b): ambient and latent dimension of the linear generator, the scale of every noise family, the flip probability
LINEAR_N, LINEAR_K, LINEAR_NOISE, LINEAR_FLIP = 100, 10, 1.0, 0.1
#: gradient-descent step of the ERM (the Hessian of L is about 2I for a norm-preserving net); Adam step and random
#: starts of the CSGM baselines (each start also gets the negation check)
LR, CSGM_LR, CSGM_RESTARTS = 0.2, 0.05, 2
#: (c): signal norms of the no-dither sweep; (d): degrees of freedom of the heavy-tailed family (1: Cauchy)
NORM_VALUES, HEAVY_DF = (0.25, 0.5, 1.0, 2.0, 4.0), 1
#: (e): the 2 -> 300 -> 784 networks of Hand & Voroninski's figure, m, the picture's grid, starts per network
LANDSCAPE_WIDTH, LANDSCAPE_N, LANDSCAPE_M, LANDSCAPE_TICKS, LANDSCAPE_STARTS = 300, 784, 2000, 101, 32
#: (f): numbers of measurements, pairs per network, networks
EMBED_M_VALUES, EMBED_PAIRS, EMBED_TRIALS = (100, 300, 1000, 3000, 10000), 300, 20
#: (g): outer iterations of BIHT and gradient steps of each projection onto the range
BIHT_STEPS, BIHT_PROJECT_STEPS = 40, 10


@dataclass(frozen=True)
class Profile(_Profile):
    """Parameters of notebook 04 (each declared once; see :mod:`ilib.profile`); fixed sizes are the constants above."""

    lam: float = param(smoke=3.0, paper=3.0, lo=0, lo_open=True, doc="dither level lambda of (a) and (c)-(e)")
    noise_std: float = param(smoke=0.1, paper=0.1, lo=0, doc="std of the Gaussian noise in (c) and (e)")
    n: int = param(smoke=200, paper=500, lo=2, doc="output dimension of the k -> width -> n ReLU nets")
    width: int = param(smoke=100, paper=200, lo=1, doc="hidden width of those nets (weights N(0, 2/n_i))")
    linear_lam: float = param(smoke=2.0, paper=2.0, lo=0, lo_open=True, doc="dither level in (b)")
    linear_trials: int = param(smoke=12, paper=100, lo=2, doc="trials per corruption family in (b)")
    linear_m_values: tuple[int, ...] = param(smoke=(250, 1000), paper=(250, 1000, 4000, 16000), lo=1,
                                             doc="measurements in (b), nested")
    k_values: tuple[int, ...] = param(smoke=(2, 4), paper=(2, 4, 8, 16), lo=1, doc="latent dimensions in (c)")
    m_values: tuple[int, ...] = param(smoke=(250, 1000, 4000), paper=(250, 500, 1000, 2000, 4000, 8000, 16000), lo=1,
                                      doc="measurements in (c), nested")
    m_fixed: int = param(smoke=1000, paper=2000, lo=1, doc="m (one of m_values) of the rate in k, lambda, norm")
    k_fixed: int = param(smoke=4, paper=5, lo=1, doc="latent dimension of (c)'s lambda and norm, (d), (f), (g)")
    trials: int = param(smoke=4, paper=40, lo=2, doc="trials per point in (c) and (g)")
    restarts: int = param(smoke=2, paper=4, lo=1, doc="random starts of the ERM")
    steps: int = param(smoke=60, paper=150, lo=1, doc="gradient-descent steps of the ERM")
    lam_values: tuple[float, ...] = param(smoke=(0.5, 1.0, 2.0, 4.0, 8.0),
                                          paper=(0.5, 0.707, 1.0, 1.414, 2.0, 2.828, 4.0, 5.657, 8.0),
                                          lo=0, lo_open=True, doc="dither levels of the lambda sweep")
    robust_m: int = param(smoke=200, paper=1000, lo=1, doc="measurements in (d)")
    robust_trials: int = param(smoke=4, paper=40, lo=2, doc="trials per level in (d)")
    noise_values: tuple[float, ...] = param(smoke=(0.0, 0.3, 3.0), paper=(0.0, 0.1, 0.3, 1.0, 3.0), lo=0,
                                            doc="noise scales sigma in (d)")
    flip_values: tuple[float, ...] = param(smoke=(0.0, 0.1, 0.2), paper=(0.0, 0.02, 0.05, 0.1, 0.2), lo=0, hi=0.5,
                                           hi_open=True, doc="flip probabilities q in (d)")
    csgm_steps: int = param(smoke=60, paper=200, lo=1, doc="Adam steps of the CSGM baselines in (d)")
    n_nets: int = param(smoke=4, paper=40, lo=2, doc="random networks in (e)")
    biht_m_values: tuple[int, ...] = param(smoke=(100, 400), paper=(100, 200, 400, 800, 1600), lo=1,
                                           doc="measurements in (g), nested")

    def relations(self) -> None:
        self.require(max(self.k_values) <= self.width, "k_values", f"must be at most width = {self.width}")
        self.require(self.k_fixed <= self.width, "k_fixed", f"must be at most width = {self.width}")
        self.require(self.m_fixed in self.m_values, "m_fixed", f"must be one of m_values = {list(self.m_values)}")
        self.require(len(self.k_values) >= 2, "k_values", "needs at least two latent dimensions (a slope in k)")
        self.require(len(self.lam_values) >= 3, "lam_values", "needs at least three levels (an optimum inside)")
        for name in ("linear_m_values", "m_values", "lam_values", "noise_values", "flip_values", "biht_m_values"):
            v = getattr(self, name)
            self.require(all(a < b for a, b in zip(v, v[1:])), name, "must be strictly increasing")
        for name in ("linear_m_values", "m_values", "biht_m_values"):
            self.require(len(getattr(self, name)) >= 2, name, "needs at least two values (a slope in m)")
        self.require(self.noise_values[-1] > 0, "noise_values", "must end with a positive noise scale")
        self.require(self.flip_values[-1] > 0, "flip_values", "must end with a positive flip probability")

    def memory_bytes(self) -> int:
        """The largest stored batch of rows: (d)'s and (g)'s matrices, float32, with their transposes."""
        return 4 * 2 * max(self.robust_trials * self.robust_m * self.n, self.trials * max(self.biht_m_values) * self.n)


# --------------------------------------------------------------------------- corruptions
@dataclass(frozen=True)
class Corruption:
    r"""One way the measurements are corrupted: pre-quantisation noise, label flips, or the law of the rows.

    ``noise`` and ``scale``, ``df``: :math:`\xi = \mathrm{scale}\cdot\xi_0` (:func:`ilib.onebit.sample_noise`);
    ``flip``: each label flipped with probability :math:`q`; ``rows``: Gaussian or Laplace entries.
    """

    name: str
    noise: str = "none"
    scale: float = 0.0
    df: int = 3
    flip: float = 0.0
    rows: str = "gaussian"

    def shrink(self, lam: float, r: float = 1.0) -> float:
        r""":math:`c = (1 - 2q)\,P(|r g + \xi| \le \lambda)` (Stein's lemma; exact for Gaussian rows)."""
        return (1 - 2 * self.flip) * ob.prob_unclipped(r, lam, noise=self.noise, noise_scale=self.scale, df=self.df)

    def mse(self, m, *, k: int, lam: float, r: float = 1.0) -> np.ndarray:
        """The exact linear-generator error :func:`ilib.onebit.linear_mse` under this corruption."""
        return ob.linear_mse(m, k=k, lam=lam, r=r, noise=self.noise, noise_scale=self.scale, df=self.df,
                             flip_prob=self.flip)

    def target_kwargs(self) -> dict:
        return dict(noise=self.noise, noise_scale=self.scale, df=self.df, flip_prob=self.flip, rows=self.rows)


def linear_families(scale: float, flip: float) -> tuple[Corruption, ...]:
    """The families of (b): none, Gaussian, Laplace, Student t_3 and Cauchy noise of one ``scale``, flips, Laplace rows."""
    return (
        Corruption("noiseless"),
        Corruption("Gaussian noise", "gaussian", scale),
        Corruption("Laplace noise", "laplace", scale),
        Corruption("Student t3 noise", "student", scale, df=3),
        Corruption("Cauchy noise", "student", scale, df=1),
        Corruption("label flips", flip=flip),
        Corruption("Laplace rows", rows="laplace"),
    )


def heavy_name(heavy_df: int) -> str:
    """The name of (d)'s heavy-tailed family: ``"Cauchy noise"`` for one degree of freedom."""
    return "Cauchy noise" if heavy_df == 1 else f"Student t{heavy_df} noise"


def robust_families(noise_values: Sequence[float], flip_values: Sequence[float], heavy_df: int) -> dict:
    """The families of (d), each a tuple of corruptions at increasing levels (``heavy_df = 1``: Cauchy)."""
    return {
        "Gaussian noise": tuple(Corruption(f"sigma={s:g}", "gaussian", s) for s in noise_values),
        "Laplace noise": tuple(Corruption(f"sigma={s:g}", "laplace", s) for s in noise_values),
        heavy_name(heavy_df): tuple(Corruption(f"sigma={s:g}", "student", s, df=heavy_df) for s in noise_values),
        "label flips": tuple(Corruption(f"q={q:g}", flip=q) for q in flip_values),
        "Laplace rows": tuple(Corruption(f"sigma={s:g}", "gaussian", s, rows="laplace") for s in noise_values),
    }


# --------------------------------------------------------------------------- shared helpers
def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().to(torch.float64).numpy()


def _relu(widths: Sequence[int], trials: int, g, device) -> ReLUGenerator:
    return ReLUGenerator.random(list(widths), batch=trials, seed=g, gain=2.0, dtype=_F32, device=device)


def _erm(v, G, *, restarts, steps, lr, g):
    return ob.erm_recover(v, G, restarts=restarts, steps=steps, lr=lr, negate_every=10,
                          init_std=1.0 / math.sqrt(G.latent_dim), seed=g)


def least_consistent(samples: np.ndarray, lo: float, hi: float, *, ci: float = 0.95, labels=None) -> Estimate:
    r"""The row of ``samples`` (rows: conditions, columns: trials) whose mean is least consistent with ``[lo, hi]``.

    Each row's distance from the interval is counted in standard errors; the row with the largest
    gets a Student-t interval at level :math:`1 - (1 - \mathrm{ci})/R` (Bonferroni over the ``R``
    rows), so "every row agrees" is tested at family level ``ci``.
    """
    s = np.asarray(samples, dtype=float)
    mean, se = stats.mean_se(s, axis=-1)
    mean, se = np.atleast_1d(mean), np.maximum(np.atleast_1d(se), 1e-300)
    dist = np.maximum(lo - mean, mean - hi) / se
    i = int(np.argmax(dist))
    est = Estimate.mean(s[i], ci=1 - (1 - ci) / s.shape[0])
    where = f" at {labels[i]}" if labels is not None else ""
    return Estimate(est.value, est.lo, est.hi, f"{est.method}, Bonferroni over {s.shape[0]}{where}", est.n)


def kept_norm(mu, *, k: int, lam: float, m: int) -> np.ndarray:
    r"""The rms norm of a linear generator's estimate whose mean is :math:`\mu` times a unit signal:
    :math:`\sqrt{\mu^2 + (k\lambda^2 - \mu^2)/m}` (the signal part plus the :math:`k`-dimensional noise kept by the
    projection; exact for :math:`G(x) = Ux`, since :math:`\mathbb{E}\|\lambda y U^\top a\|^2 = k\lambda^2`)."""
    mu = np.asarray(mu, dtype=float)
    return np.sqrt(mu**2 + (k * lam**2 - mu**2) / m)


#: the band of the norm findings (sections (c) and (d)): the rms norm within 10% of :func:`kept_norm`
NORM_BAND = (0.9, 1.1)


def per_trial_slope(x, err) -> Estimate | None:
    r"""The log-log slope of ``err`` (``(M, trials)``) against ``x``, with a Student-t interval over trials.

    Each trial's errors are fitted by least squares, :math:`\log e_t(x) = a_t \log x + b_t`, and the
    interval is that of the mean of the :math:`a_t` over the independent trials. The points of one trial
    share its network, signal and (nested) rows, so they are not independent, and a single fit through
    the per-point means would take its interval from their scatter; the trials are independent.
    None (no data for a claim) with fewer than two values of ``x``.
    """
    u = np.log(np.asarray(x, dtype=float))
    e = np.asarray(err, dtype=float)
    if u.size < 2:
        return None
    uc = u - u.mean()
    v = np.log(np.maximum(e, np.finfo(float).tiny))
    slopes = (uc[:, None] * (v - v.mean(0))).sum(0) / (uc * uc).sum()
    est = Estimate.mean(slopes)
    return Estimate(est.value, est.lo, est.hi, f"{est.method} over trials of per-trial log-log slopes", est.n)


# --------------------------------------------------------------------------- (a) the dither identity
@dataclass(frozen=True)
class Dither:
    r"""Monte Carlo means of :math:`\lambda\,\mathrm{sign}(u + \tau)` on a grid of ``u``, with standard errors."""

    lam: float
    u: np.ndarray
    mean: np.ndarray
    se: np.ndarray
    alpha: float = 0.01

    @property
    def inside(self) -> np.ndarray:
        return np.abs(self.u) <= self.lam

    @property
    def clip(self) -> np.ndarray:
        return np.clip(self.u, -self.lam, self.lam)

    def z_test(self) -> tuple[float, float, bool]:
        """Largest |z| inside [-lam, lam] and its Bonferroni threshold at family level ``alpha``."""
        i = self.inside
        return ob.zscore_check(self.mean[i], self.u[i], self.se[i], alpha=self.alpha)


def dither_identity(lam: float, *, points: int, samples: int, stream: Stream, device: DeviceLike = "auto") -> Dither:
    r"""Estimate :math:`\mathbb{E}_\tau[\lambda\,\mathrm{sign}(u + \tau)]` at ``points`` values of :math:`u \in [-2\lambda, 2\lambda]`."""
    u = torch.linspace(-2 * lam, 2 * lam, points, dtype=torch.float64)
    mean, se = ob.dither_monte_carlo(u, lam, samples=samples, seed=stream, device=device)
    return Dither(lam=float(lam), u=_np(u), mean=_np(mean), se=_np(se))


# --------------------------------------------------------------------------- (b) linear generator, every family
@dataclass(frozen=True)
class LinearCase:
    r"""One corruption family of (b): squared errors ``(M, trials)`` and the exact prediction per ``m``."""

    corruption: Corruption
    m_values: tuple[int, ...]
    k: int
    lam: float
    sq_err: np.ndarray
    predicted: np.ndarray

    @property
    def ratio(self) -> np.ndarray:
        """Squared error over the predicted mean, per ``m`` and trial (mean 1 if the formula holds)."""
        return self.sq_err / self.predicted[:, None]

    @property
    def shrink(self) -> float:
        return self.corruption.shrink(self.lam)

    def variance_term(self) -> np.ndarray:
        r"""Per trial, :math:`\hat V = (e^2_{m_1} - e^2_{m_M})/(1/m_1 - 1/m_M)` from the smallest and largest ``m``.

        Since :math:`\mathbb{E}\,e^2_m = B + V/m` with :math:`V = \mathbb{E}\|w\|^2 - \|\mathbb{E}\,w\|^2` whatever the
        bias :math:`B`, this is an unbiased estimate of :math:`V` per trial (the design is nested in ``m``).
        """
        m = np.asarray(self.m_values, dtype=float)
        return (self.sq_err[0] - self.sq_err[-1]) / (1 / m[0] - 1 / m[-1])

    def predicted_variance_term(self) -> float:
        r""":math:`V = k\lambda^2 - \|\mathbb{E}\,w\|^2`, with :math:`\mathbb{E}\|w\|^2 = k\lambda^2` exact for any isotropic rows
        and :math:`\|\mathbb{E}\,w\|^2 \approx c^2` (Gaussian-row :math:`c`; its error is negligible against :math:`k\lambda^2`)."""
        return self.k * self.lam**2 - self.shrink**2


@dataclass(frozen=True)
class LinearFormula:
    cases: tuple[LinearCase, ...]

    def case(self, name: str) -> LinearCase:
        for c in self.cases:
            if c.corruption.name == name:
                return c
        raise KeyError(f"no family {name!r}; families: {[c.corruption.name for c in self.cases]}")


def linear_formula(families: Sequence[Corruption], *, n: int, k: int, m_values: Sequence[int], lam: float, trials: int,
                   stream: Stream, device: DeviceLike = "auto") -> LinearFormula:
    r"""The closed-form estimator :math:`\hat x = U^\top v` of a linear generator under every corruption family.

    Per family (its own sub-stream): ``trials`` orthonormal :math:`U \in \mathbb{R}^{n \times k}`,
    :math:`\|x_0\| = 1`, streamed rows nested in ``m`` (:func:`ilib.onebit.streamed_targets`), and the
    exact :math:`\mathbb{E}\|\hat x - x_0\|^2` of :func:`ilib.onebit.linear_mse` beside it.
    """
    dev = resolve_device(device)
    out = []
    for fam in families:
        g = make_generator(stream.child(fam.name))
        G = LinearGenerator.random(n, k, batch=trials, seed=g, orthonormal=True, dtype=_F32, device=dev)
        x0 = randn(trials, k, generator=g, dtype=_F32, device=dev)
        x0 = x0 / x0.norm(dim=-1, keepdim=True)
        v = ob.streamed_targets(G(x0.unsqueeze(1)).squeeze(1), list(m_values), lam=lam, seed=g, **fam.target_kwargs())
        xhat = ob.linear_estimate(v.transpose(0, 1), G)  # (T, M, k)
        sq = ((xhat - x0.unsqueeze(1)) ** 2).sum(-1).T
        out.append(LinearCase(fam, tuple(m_values), k, float(lam), _np(sq), fam.mse(list(m_values), k=k, lam=lam)))
    return LinearFormula(tuple(out))


# --------------------------------------------------------------------------- (c) ReLU generators: rate in m and k
@dataclass(frozen=True)
class RateCurve:
    """Errors ``(M, trials)`` against ``m`` at one ``k``, with the linear-generator rms prediction per ``m``."""

    k: int
    m_values: tuple[int, ...]
    err: np.ndarray
    linear: np.ndarray

    @property
    def rms(self) -> np.ndarray:
        return np.sqrt((self.err**2).mean(-1))

    def slope(self) -> Estimate | None:
        return per_trial_slope(self.m_values, self.err)


@dataclass(frozen=True)
class KCurve:
    """Errors ``(K, trials)`` against ``k`` at one ``m``; ``boot_seed`` seeds the bootstrap of the slope."""

    m: int
    k_values: tuple[int, ...]
    err: np.ndarray
    linear: np.ndarray
    boot_seed: int
    n_boot: int = 2000

    @property
    def rms(self) -> np.ndarray:
        return np.sqrt((self.err**2).mean(-1))

    def predicted_slope(self) -> float:
        return stats.loglog_fit(self.k_values, self.linear).slope

    def slope(self) -> Estimate:
        r"""The log-log slope of rms error in :math:`k`, with a percentile bootstrap over trials (each :math:`k` resampled)."""
        u = np.log(np.asarray(self.k_values, dtype=float))
        u = u - u.mean()

        def stat(*samples, axis=0):
            r = np.stack([np.log(np.sqrt((s**2).mean(axis=axis))) for s in samples], axis=-1)
            return ((r - r.mean(-1, keepdims=True)) * u).sum(-1) / (u * u).sum()

        est, lo, hi = stats.bootstrap(stat, *self.err, n_boot=self.n_boot, rng=np.random.default_rng(self.boot_seed))
        return Estimate(est, lo, hi, "bootstrap 95% over trials", int(self.err.size))


@dataclass(frozen=True)
class ReluRate:
    k_values: tuple[int, ...]
    m_values: tuple[int, ...]
    err: np.ndarray  # (K, M, trials)
    linear: np.ndarray  # (K, M) rms of the linear generator with the same k
    boot_seed: int

    def at_k(self, k: int) -> RateCurve:
        i = self.k_values.index(k)
        return RateCurve(k, self.m_values, self.err[i], self.linear[i])

    def at_m(self, m: int) -> KCurve:
        j = self.m_values.index(m)
        return KCurve(m, self.k_values, self.err[:, j], self.linear[:, j], self.boot_seed)


def relu_rate(k_values: Sequence[int], m_values: Sequence[int], *, width: int, n: int, lam: float, noise_std: float,
              trials: int, restarts: int, steps: int, lr: float, stream: Stream,
              device: DeviceLike = "auto") -> ReluRate:
    r"""ERM error :math:`\|G(\hat x) - G(x_0)\|` against ``m`` for each ``k`` (random ``k -> width -> n`` nets).

    Per ``k`` (its own sub-stream): ``trials`` networks, :math:`\|G(x_0)\| = 1`, Gaussian noise of std
    ``noise_std``, streamed rows nested in ``m``, and every (trial, ``m``, restart) in one gradient-descent
    run with the negation check.
    """
    dev = resolve_device(device)
    errs, lin = [], []
    for k in k_values:
        g = make_generator(stream.child(f"k={k}"))
        G = _relu([k, width, n], trials, g, dev)
        with torch.no_grad():
            x = G(ob.relu_signals(G, 1.0, seed=g).unsqueeze(1)).squeeze(1)
        v = ob.streamed_targets(x, list(m_values), lam=lam, noise="gaussian", noise_scale=noise_std, seed=g)
        res = _erm(v.transpose(0, 1).contiguous(), G, restarts=restarts, steps=steps, lr=lr, g=g)
        errs.append(_np((res.x - x.unsqueeze(1)).norm(dim=-1).T))
        lin.append(np.sqrt(ob.linear_mse(list(m_values), k=k, lam=lam, noise="gaussian", noise_scale=noise_std)))
    boot = int(stream.child("bootstrap").seed_value)
    return ReluRate(tuple(k_values), tuple(m_values), np.stack(errs), np.stack(lin), boot)


# --------------------------------------------------------------------------- (c) the choice of lambda
@dataclass(frozen=True)
class LambdaSweep:
    r"""Errors ``(L, trials)`` against :math:`\lambda` (common rows and signals), the formula's :math:`\lambda^\star`."""

    lam_values: tuple[float, ...]
    k: int
    m: int
    err: np.ndarray
    linear: np.ndarray
    lam_star: float
    boot_seed: int
    n_boot: int = 2000

    @property
    def rms(self) -> np.ndarray:
        return np.sqrt((self.err**2).mean(-1))

    @property
    def best(self) -> float:
        return float(self.lam_values[int(np.argmin(self.rms))])

    def predicted_band(self) -> tuple[float, float]:
        """The grid points one step either side of the grid point nearest :math:`\\lambda^\\star` (in log)."""
        lv = np.asarray(self.lam_values, dtype=float)
        j = int(np.argmin(np.abs(np.log(lv) - math.log(self.lam_star))))
        return float(lv[max(j - 1, 0)]), float(lv[min(j + 1, len(lv) - 1)])

    def best_estimate(self) -> Estimate:
        """The best grid level with a paired percentile bootstrap over trials."""
        lv = np.asarray(self.lam_values, dtype=float)

        def stat(a, axis=0):
            return lv[np.argmin(np.sqrt((a**2).mean(axis=axis)), axis=-1)]

        est, lo, hi = stats.bootstrap(stat, self.err.T, n_boot=self.n_boot, rng=np.random.default_rng(self.boot_seed))
        return Estimate(est, lo, hi, "bootstrap 95% over trials", int(self.err.shape[1]))


def lambda_sweep(lam_values: Sequence[float], *, k: int, m: int, width: int, n: int, noise_std: float, trials: int,
                 restarts: int, steps: int, lr: float, stream: Stream, device: DeviceLike = "auto") -> LambdaSweep:
    r"""ERM error against the dither level at fixed ``m`` and ``k``: clipping bias below :math:`\lambda^\star`, variance above.

    All levels measure the same signals with the same rows (independent dithers);
    :math:`\lambda^\star` minimises the exact linear-generator error (:func:`ilib.onebit.optimal_lambda`).
    """
    g = make_generator(stream)
    G = _relu([k, width, n], trials, g, resolve_device(device))
    with torch.no_grad():
        x = G(ob.relu_signals(G, 1.0, seed=g).unsqueeze(1)).squeeze(1)
    lam_t = torch.as_tensor(np.asarray(lam_values, dtype=float))
    xs = x.unsqueeze(1).expand(trials, lam_t.numel(), x.shape[-1])
    v = ob.streamed_targets(xs, [m], lam=lam_t, noise="gaussian", noise_scale=noise_std, seed=g)[0]
    res = _erm(v, G, restarts=restarts, steps=steps, lr=lr, g=g)
    lin = np.sqrt([float(ob.linear_mse(m, k=k, lam=float(v_), noise="gaussian", noise_scale=noise_std)) for v_ in lam_values])
    return LambdaSweep(tuple(float(v_) for v_ in lam_values), k, m, _np((res.x - x.unsqueeze(1)).norm(dim=-1).T), lin,
                       ob.optimal_lambda(m, k=k, noise="gaussian", noise_scale=noise_std),
                       int(stream.child("bootstrap").seed_value))


# --------------------------------------------------------------------------- (c) the norm without dither
@dataclass(frozen=True)
class NormSweep:
    r"""Estimates for signals of norm :math:`r`, with (index 0) and without (index 1) dither; arrays ``(2, N, trials)``.

    ``component`` is :math:`\langle G(\hat x), G(x_0)\rangle/\|G(x_0)\|`, the part of the estimate along
    the signal; the predictions are :math:`c(r)\,r` with dither and :math:`\lambda\kappa(r)` without.
    """

    norm: np.ndarray
    lam: float
    k: int
    m: int
    component: np.ndarray
    est_norm: np.ndarray
    cosine: np.ndarray
    pred_dither: np.ndarray
    pred_undither: np.ndarray

    def predicted_norm(self, dither: bool) -> np.ndarray:
        r""":func:`kept_norm` of the signal part :math:`c(r)\,r` (dither) or :math:`\lambda\kappa(r)` (no dither)."""
        return kept_norm(self.pred_dither if dither else self.pred_undither, k=self.k, lam=self.lam, m=self.m)

    def sq_ratio(self, dither: bool) -> np.ndarray:
        """Squared norm of the estimate over the squared predicted norm, ``(N, trials)``."""
        return self.est_norm[0 if dither else 1] ** 2 / self.predicted_norm(dither)[:, None] ** 2


def norm_sweep(norm_values: Sequence[float], *, lam: float, k: int, m: int, width: int, n: int, noise_std: float,
               trials: int, restarts: int, steps: int, lr: float, stream: Stream,
               device: DeviceLike = "auto") -> NormSweep:
    r"""Norm and direction of the ERM estimate with and without dither, for :math:`\|G(x_0)\| = r` over ``norm_values``.

    Without dither Stein's lemma gives :math:`\mathbb{E}[y\,a] = \kappa(r)\,G(x_0)/\|G(x_0)\|` with
    :math:`\kappa = 2\,\mathbb{E}\varphi(\xi/r)` (:func:`ilib.onebit.undithered_gain`), so the estimate
    along the signal is :math:`\lambda\kappa(r)` whatever :math:`r` is; with dither it is
    :math:`c(r)\,r`, :math:`c(r) = P(|rg + \xi| \le \lambda)` (:func:`ilib.onebit.prob_unclipped`).
    """
    g = make_generator(stream)
    G = _relu([k, width, n], trials, g, resolve_device(device))
    r = torch.as_tensor(np.asarray(norm_values, dtype=float), dtype=_F32)
    with torch.no_grad():
        x = G(ob.relu_signals(G, r, shape=(r.numel(),), seed=g))  # (T, N, n)
    xn = x / x.norm(dim=-1, keepdim=True)
    comp, est, cos = [], [], []
    for dither in (True, False):
        v = ob.streamed_targets(x, [m], lam=lam, dither=dither, noise="gaussian", noise_scale=noise_std, seed=g)[0]
        res = _erm(v, G, restarts=restarts, steps=steps, lr=lr, g=g)
        c = (res.x * xn).sum(-1)
        comp.append(c.T)
        est.append(res.x.norm(dim=-1).T)
        cos.append((c / res.x.norm(dim=-1).clamp_min(1e-30)).T)
    rs = [float(v_) for v_ in norm_values]
    return NormSweep(
        norm=np.asarray(rs), lam=float(lam), k=k, m=m, component=_np(torch.stack(comp)), est_norm=_np(torch.stack(est)),
        cosine=_np(torch.stack(cos)),
        pred_dither=np.array([ob.prob_unclipped(v_, lam, noise="gaussian", noise_scale=noise_std) * v_ for v_ in rs]),
        pred_undither=np.array([lam * ob.undithered_gain(v_, noise="gaussian", noise_scale=noise_std) for v_ in rs]),
    )


# --------------------------------------------------------------------------- (d) robustness, against CSGM
@dataclass(frozen=True)
class RobustFamily:
    r"""One family of (d): levels, and per level and trial ``(L, trials)`` the errors of the one-bit ERM and,
    where run, of least-squares and Huber-loss CSGM (NaN otherwise); ``onebit_comp`` is the one-bit estimate's
    component along :math:`G(x_0)`; ``predicted_mse`` the linear-generator formula per level."""

    name: str
    corruptions: tuple[Corruption, ...]
    k: int
    m: int
    lam: float
    onebit_err: np.ndarray
    ls_err: np.ndarray
    huber_err: np.ndarray
    onebit_comp: np.ndarray
    onebit_norm: np.ndarray
    predicted_mse: np.ndarray

    @property
    def labels(self) -> list[str]:
        return [c.name for c in self.corruptions]

    @property
    def levels(self) -> np.ndarray:
        return np.array([c.flip if c.noise == "none" else c.scale for c in self.corruptions])

    @property
    def shrink(self) -> np.ndarray:
        return np.array([c.shrink(self.lam) for c in self.corruptions])

    @property
    def mse_ratio(self) -> np.ndarray:
        """One-bit squared error over the linear-generator formula, ``(L, trials)``."""
        return self.onebit_err**2 / self.predicted_mse[:, None]

    def norm_sq_ratio(self) -> np.ndarray:
        """Squared norm of the one-bit estimate over the squared :func:`kept_norm` of :math:`c`, ``(L, trials)``."""
        return self.onebit_norm**2 / kept_norm(self.shrink, k=self.k, lam=self.lam, m=self.m)[:, None] ** 2

    @property
    def has_baselines(self) -> bool:
        return bool(np.isfinite(self.ls_err).all())


@dataclass(frozen=True)
class Robustness:
    families: tuple[RobustFamily, ...]

    def family(self, name: str) -> RobustFamily:
        for f in self.families:
            if f.name == name:
                return f
        raise KeyError(f"no family {name!r}; families: {[f.name for f in self.families]}")


def huber_threshold(y: torch.Tensor) -> torch.Tensor:
    r"""Per problem, :math:`\delta = 1.345\,\hat s` with :math:`\hat s = 1.4826\,\mathrm{median}_i|y_i|` (the MAD scale of
    the measurements, which includes the signal): Huber's 95%-efficiency constant (Huber 1964) on a robust scale."""
    return HUBER_C * 1.4826 * y.abs().median(dim=-1).values.clamp_min(torch.finfo(y.dtype).tiny)


def robustness(families: dict, *, k: int, m: int, width: int, n: int, lam: float, trials: int, restarts: int,
               steps: int, lr: float, csgm_steps: int, csgm_lr: float, csgm_restarts: int = CSGM_RESTARTS,
               baselines: Sequence[str] | None = None,
               stream: Stream, device: DeviceLike = "auto") -> Robustness:
    r"""Dithered one-bit ERM, and for the families in ``baselines`` least-squares and Huber-loss CSGM on the real values.

    Per family (its own sub-stream): ``trials`` networks ``k -> width -> n``, :math:`\|G(x_0)\| = 1`, one
    matrix of isotropic rows per trial (Gaussian or Laplace entries) shared by every level, and the
    corruption of each level. CSGM sees :math:`\langle a_i, G(x_0)\rangle + \xi_i` (negated where a label
    is flipped: a gross outlier) in the :math:`\mathcal{N}(0, 1/m)` scaling and minimises the squared or
    the Huber loss (threshold :func:`huber_threshold`) with Adam, restarts and the negation check.
    ``baselines`` (default: every family with Gaussian rows and no Laplace noise) names the families
    on which CSGM runs.
    """
    dev = resolve_device(device)
    if baselines is None:
        baselines = [k_ for k_, c in families.items() if c[0].rows == "gaussian" and c[0].noise != "laplace"]
    out = []
    for name, corr in families.items():
        corr = tuple(corr)
        if len({(c.noise, c.df, c.rows) for c in corr}) != 1:
            raise ValueError(f"family {name!r} must share one noise law and one row law across its levels")
        g = make_generator(stream.child(name))
        G = _relu([k, width, n], trials, g, dev)
        with torch.no_grad():
            x = G(ob.relu_signals(G, 1.0, seed=g).unsqueeze(1)).squeeze(1)  # (T, n)
        A = ob.measurement_rows(m, n, kind=corr[0].rows, batch=trials, seed=g, dtype=_F32, device=dev)
        L = len(corr)
        s = torch.bmm(A, x.unsqueeze(-1)).squeeze(-1).unsqueeze(1).expand(trials, L, m)
        scale = torch.tensor([c.scale for c in corr], dtype=torch.float64)
        xi = ob.sample_noise((trials, L, m), kind=corr[0].noise, scale=scale, df=corr[0].df, seed=g, dtype=_F32, device=dev)
        flips = ob.sample_flips((trials, L, m), prob=torch.tensor([c.flip for c in corr]), seed=g, dtype=_F32, device=dev)
        pre = s + xi
        v = ob.erm_target(ob.quantize(pre, lam=lam, seed=g) * flips, MatrixOperator(A), lam)  # (T, L, n)
        r1 = _erm(v, G, restarts=restarts, steps=steps, lr=lr, g=g)
        xx = x.unsqueeze(1)
        errs = {}
        if name in baselines:
            y_real = (pre * flips).reshape(trials * L, m) / math.sqrt(m)
            op = SharedMatrixOperator(A / math.sqrt(m), L)
            Grep = G.select(torch.arange(trials, device=dev).repeat_interleave(L))
            for key, loss in (("ls", "squared"), ("huber", "huber")):
                r2 = csgm(y_real, op, Grep, restarts=csgm_restarts, steps=csgm_steps, lr=csgm_lr, negate_every=10,
                          init_std=1.0 / math.sqrt(k), loss=loss, delta=huber_threshold(y_real) if loss == "huber" else None,
                          seed=g)
                errs[key] = _np((r2.x.reshape(trials, L, n) - xx).norm(dim=-1).T)
        nan = np.full((L, trials), np.nan)
        out.append(RobustFamily(
            name=name, corruptions=corr, k=k, m=m, lam=float(lam), onebit_err=_np((r1.x - xx).norm(dim=-1).T),
            ls_err=errs.get("ls", nan), huber_err=errs.get("huber", nan),
            onebit_comp=_np(((r1.x * xx).sum(-1) / (x * x).sum(-1, keepdim=True)).T), onebit_norm=_np(r1.x.norm(dim=-1).T),
            predicted_mse=np.array([float(c.mse(m, k=k, lam=lam)) for c in corr]),
        ))
    return Robustness(tuple(out))


# --------------------------------------------------------------------------- (e) the landscape for k = 2
@dataclass(frozen=True)
class Landscape:
    r"""The risk of ``nets`` random ``2 -> width -> n`` networks with :math:`x_0 = (1, 0)`.

    ``t_neg`` is the minimiser of :math:`t \mapsto L(-t x_0)` per network (the one-bit risk),
    ``t_clean`` the same for :math:`\|G(x) - G(x_0)\|^2` (the noiseless landscape of Hand & Voroninski);
    ``loss_pos``/``loss_neg`` the risk at the minimisers on the :math:`\pm x_0` rays; ``gd_plain`` and
    ``gd_negate`` the final latents ``(nets, starts, 2)`` of gradient descent from the :math:`-x_0` side
    without and with the negation check; ``shrink`` the dither's :math:`c = P(|g + \xi| \le \lambda)`.
    """

    ticks: np.ndarray
    grid_loss: np.ndarray
    t_neg: np.ndarray
    t_clean: np.ndarray
    loss_pos: np.ndarray
    loss_neg: np.ndarray
    z_start: np.ndarray
    gd_plain: np.ndarray
    gd_negate: np.ndarray
    shrink: float
    depth: int = 2

    @property
    def rho(self) -> float:
        return rho(self.depth)


def landscape(*, width: int, n: int, m: int, lam: float, noise_std: float, nets: int, grid: int, starts: int,
              steps: int, lr: float, negate_every: int = 10, extent: float = 2.0, stream: Stream,
              device: DeviceLike = "auto") -> Landscape:
    r"""The one-bit risk for ``k = 2`` (Qiu, Wei & Yang 2020, Thms 2.2-2.3; Hand & Voroninski 2018).

    By positive homogeneity the ray minimisers are closed forms:
    :math:`\arg\min_t L(-t x_0) = \langle v, G(-x_0)\rangle/\|G(-x_0)\|^2`, with value
    :math:`-\langle v, G(-x_0)\rangle^2/\|G(-x_0)\|^2`. Gradient descent starts at
    :math:`-t x_0 + 0.2\,\mathcal{N}(0, I)`, :math:`t \sim \mathrm{Unif}(0.2, 1.5)`.
    """
    g = make_generator(stream)
    dev = resolve_device(device)
    G = ReLUGenerator.random([2, width, n], batch=nets, seed=g, gain=2.0, dtype=torch.float64, device=dev)
    x0 = torch.tensor([1.0, 0.0], dtype=G.dtype, device=dev)
    with torch.no_grad():
        gp = G(x0.expand(nets, 1, 2)).squeeze(1)
        gn = G((-x0).expand(nets, 1, 2)).squeeze(1)
        v = ob.streamed_targets(gp, [m], lam=lam, noise="gaussian", noise_scale=noise_std, seed=g)[0]
        fun = ob.erm_objective(v, G)
        ticks = torch.linspace(-extent, extent, grid, dtype=G.dtype, device=dev)
        Z = torch.stack(torch.meshgrid(ticks, ticks, indexing="xy"), dim=-1).reshape(1, -1, 2)
        grid_loss = ob.erm_objective(v[:1], G.select(0))(Z).reshape(grid, grid)
        dot = lambda a, b: (a * b).sum(-1)  # noqa: E731
        t_neg = dot(v, gn) / dot(gn, gn)
        t_clean = dot(gp, gn) / dot(gn, gn)
        loss_pos, loss_neg = -dot(v, gp) ** 2 / dot(gp, gp), -dot(v, gn) ** 2 / dot(gn, gn)
    t = 0.2 + 1.3 * rand(nets, starts, 1, generator=g, dtype=G.dtype, device=dev)
    z_start = -t * x0 + 0.2 * randn(nets, starts, 2, generator=g, dtype=G.dtype, device=dev)
    finals = {name: _np(minimize(fun, z_start, steps=steps, lr=lr, method="gd", negate_every=ne).x)
              for name, ne in (("gd_plain", 0), ("gd_negate", negate_every))}
    return Landscape(ticks=_np(ticks), grid_loss=_np(grid_loss), t_neg=_np(t_neg), t_clean=_np(t_clean),
                     loss_pos=_np(loss_pos), loss_neg=_np(loss_neg), z_start=_np(z_start), **finals,
                     shrink=ob.prob_unclipped(1.0, lam, noise="gaussian", noise_scale=noise_std))


# --------------------------------------------------------------------------- (f) the binary embedding
@dataclass(frozen=True)
class Embedding:
    r"""Angular distances ``d_S`` ``(trials, pairs)`` of range pairs and normalised Hamming distances ``d_H``
    ``(M, trials, pairs)`` of their sign patterns for nested ``m``."""

    m_values: tuple[int, ...]
    d_S: np.ndarray
    d_H: np.ndarray

    @property
    def dev(self) -> np.ndarray:
        return np.abs(self.d_H - self.d_S[None])

    @property
    def max_dev(self) -> np.ndarray:
        """Per ``m``: the largest deviation over the sampled pairs, averaged over networks."""
        return self.dev.max(-1).mean(-1)

    @property
    def mean_dev(self) -> np.ndarray:
        return self.dev.mean((-1, -2))

    def slope(self) -> Estimate | None:
        """Per network, the slope of its largest deviation over the sampled pairs; a t interval over networks."""
        return per_trial_slope(self.m_values, self.dev.max(-1))


def embedding(*, k: int, width: int, n: int, m_values: Sequence[int], pairs: int, trials: int, stream: Stream,
              device: DeviceLike = "auto") -> Embedding:
    r"""Sign patterns of pairs of the normalised range :math:`\{G(z)/\|G(z)\|\}` (Liu, Gomes, Tiwari & Scarlett 2020).

    Pairs :math:`(z, z')` have latent angles spread uniformly over :math:`[0, \pi]`; each network has its
    own Gaussian rows, streamed and nested in ``m`` (:func:`ilib.onebit.sign_distances`).
    """
    g = make_generator(stream)
    G = _relu([k, width, n], trials, g, resolve_device(device))
    z = randn(trials, pairs, k, generator=g, dtype=G.dtype, device=G.device)
    w = randn(trials, pairs, k, generator=g, dtype=G.dtype, device=G.device)
    w = w - (w * z).sum(-1, keepdim=True) / (z * z).sum(-1, keepdim=True) * z
    phi = math.pi * rand(trials, pairs, 1, generator=g, dtype=G.dtype, device=G.device)
    zp = torch.cos(phi) * z / z.norm(dim=-1, keepdim=True) + torch.sin(phi) * w / w.norm(dim=-1, keepdim=True)
    with torch.no_grad():
        X, Xp = G(z), G(zp)
    if bool((X.norm(dim=-1) == 0).any() or (Xp.norm(dim=-1) == 0).any()):
        raise RuntimeError("a sampled latent mapped to G(z) = 0; use another stream")
    X, Xp = X / X.norm(dim=-1, keepdim=True), Xp / Xp.norm(dim=-1, keepdim=True)
    dH = ob.sign_distances(X, Xp, list(m_values), seed=g)
    return Embedding(tuple(m_values), _np(ob.angular_distance(X, Xp)), _np(dH))


# --------------------------------------------------------------------------- (g) a consistent decoder
@dataclass(frozen=True)
class Decoders:
    r"""Noiseless, undithered signs of unit-norm :math:`G(x_0)`: direction errors ``(M, trials)`` of the correlation
    estimator (the ERM on :math:`v = A^\top y/m`, normalised) and of BIHT through :math:`G` started from it;
    ``mismatches`` counts the labels BIHT's output does not reproduce."""

    k: int
    m_values: tuple[int, ...]
    corr_err: np.ndarray
    biht_err: np.ndarray
    mismatches: np.ndarray

    @staticmethod
    def _rms(e: np.ndarray) -> np.ndarray:
        return np.sqrt((e**2).mean(-1))

    def slope(self, which: str) -> Estimate | None:
        """``which`` is ``"correlation"`` or ``"biht"``: the per-trial slope (:func:`per_trial_slope`)."""
        return per_trial_slope(self.m_values, self.corr_err if which == "correlation" else self.biht_err)


def consistent_decoder(*, k: int, width: int, n: int, m_values: Sequence[int], trials: int, restarts: int, steps: int,
                       lr: float, biht_steps: int, project_steps: int, stream: Stream,
                       device: DeviceLike = "auto") -> Decoders:
    r"""The correlation estimator's :math:`\sqrt{k/m}` against BIHT's :math:`k/m` for :math:`y = \mathrm{sign}(AG(x_0))`.

    ``trials`` networks ``k -> width -> n``; one Gaussian matrix of ``max(m_values)`` rows per trial, its
    first ``m`` rows serving each ``m`` (nested). The correlation estimate projects
    :math:`v_m = A_m^\top y_m/m` onto the range (:func:`ilib.onebit.erm_recover`) and normalises;
    :func:`ilib.onebit.biht_recover` starts from it.
    """
    g = make_generator(stream)
    dev = resolve_device(device)
    G = _relu([k, width, n], trials, g, dev)
    with torch.no_grad():
        x = G(ob.relu_signals(G, 1.0, seed=g).unsqueeze(1)).squeeze(1)
    rows = ob.measurement_rows(max(m_values), n, batch=trials, seed=g, dtype=_F32, device=dev)
    y = ob.quantize(torch.bmm(rows, x.unsqueeze(-1)).squeeze(-1), lam=1.0, dither=False)
    v = torch.stack([torch.bmm(y[:, None, :m], rows[:, :m]).squeeze(1) / m for m in m_values], dim=1)  # (T, M, n)
    corr = _erm(v, G, restarts=restarts, steps=steps, lr=lr, g=g)
    bi = ob.biht_recover(y, rows, G, corr.z, m_values=list(m_values), steps=biht_steps, project_steps=project_steps,
                         project_lr=lr)
    xc = corr.x / corr.x.norm(dim=-1, keepdim=True)
    xx = x.unsqueeze(1)
    return Decoders(k, tuple(m_values), _np((xc - xx).norm(dim=-1).T), _np((bi.x - xx).norm(dim=-1).T),
                    _np(bi.mismatches.T))


# =========================================================================== claims
# (a)
DITHER_UNBIASED = Claim(
    "dither_unbiased_inside", kind="sanity",
    source="uniform dither: P(sign(u + tau) = 1) = (lam + u)/(2 lam) for |u| <= lam (Qiu, Wei & Yang 2020, §2)",
    statement="for |u| <= lam, the Monte Carlo mean of lam sign(u + tau) equals u: the largest |z| over the grid is "
              "below its Bonferroni threshold (family level 1%)",
    predict=lambda r: r.z_test()[1], measure=lambda r: Estimate.exact(r.z_test()[0], int(r.inside.sum())), rule=AtMost(),
)
DITHER_CLIPS = Claim(
    "dither_clips_outside", kind="sanity",
    source="the sign of u + tau never changes when |u| > lam",
    statement="for |u| > lam the mean is exactly lam sign(u) = clip(u, -lam, lam): the identity fails by |u| - lam",
    predict=lambda r: 0.0,
    measure=lambda r: Estimate.exact(float(np.abs(r.mean - r.clip)[~r.inside].max()) if (~r.inside).any() else 0.0),
    rule=Covers(atol=1e-12),
)
# (b)
LINEAR_MSE = Claim(
    "linear_mse_formula", kind="theorem",
    source="Stein's lemma on E[lam y U^T a] for Gaussian rows (derived in ilib theory notes §3.3; "
           "ilib.onebit.linear_mse)",
    statement="for a linear generator and Gaussian rows, at every m, E||xhat - x0||^2 = (1 - c)^2 r^2 + (k lam^2 - c^2 r^2)/m with "
              "c = (1 - 2q) P(|<a, U x0> + xi| <= lam): measured/predicted = 1 (least consistent m, Bonferroni)",
    predict=lambda c: 1.0,
    measure=lambda c: least_consistent(c.ratio, 1.0, 1.0, labels=[f"m={m}" for m in c.m_values]),
    rule=Covers(),
    detail=lambda c: {"c": c.shrink, "ratio_per_m": c.ratio.mean(-1).tolist()},
)
ISOTROPIC_VARIANCE = Claim(
    "variance_term_exact_for_isotropic_rows", kind="theorem",
    source="E||lam y U^T a||^2 = lam^2 E||U^T a||^2 = k lam^2 for any isotropic rows (y^2 = 1), the part of Qiu, "
           "Wei & Yang's Assumption 2.1 (sub-exponential rows) that Stein's lemma does not need",
    statement="for a linear generator and sub-exponential (Laplace) rows, the 1/m part of the error, "
              "V = k lam^2 - ||E w||^2 (estimated per trial from the smallest and largest m, so that the bias cancels), "
              "is k lam^2 - c^2",
    predict=lambda c: c.predicted_variance_term(), measure=lambda c: Estimate.mean(c.variance_term()), rule=Covers(),
    detail=lambda c: {"full_formula_ratio_per_m": c.ratio.mean(-1).tolist()},
)
# (c) rate
RATE_IN_M = Claim(
    "rate_in_m_at_least_half", kind="theorem",
    source="Qiu, Wei & Yang 2020, Thm 2.1 (||G(xhat) - G(x0)|| <= eps once m = O~(k n log d / eps^2))",
    statement="the one-bit ERM's rms error falls at least as fast as m^(-1/2): the log-log slope is not "
              "significantly above -1/2",
    predict=lambda c: -0.5, measure=lambda c: c.slope(), rule=AtMost(),
    detail=lambda c: {"rms": c.rms.tolist(), "linear_formula": c.linear.tolist()},
)
RATE_IN_K = Claim(
    "rate_in_k_at_most_sqrt_k", kind="theorem",
    source="Qiu, Wei & Yang 2020, Thm 2.1 (m linear in k at fixed error: error ~ sqrt(k/m))",
    statement="at fixed m the error grows no faster than sqrt(k): the log-log slope in k is not significantly above "
              "that of the linear-generator formula sqrt((k lam^2 - c^2)/m)",
    predict=lambda c: c.predicted_slope(), measure=lambda c: c.slope(), rule=AtMost(),
    detail=lambda c: {"k": list(c.k_values), "rms": c.rms.tolist(), "linear_formula": c.linear.tolist()},
)
K_SLOPE_LINEAR = Claim(
    "rate_in_k_matches_linear_formula", kind="finding",
    source="this notebook: near x0 the range is a union of k-dimensional cones, so the k-dependence is the linear "
           "generator's",
    statement="at fixed m the log-log slope of the error in k equals the linear-generator formula's",
    predict=lambda c: c.predicted_slope(), measure=lambda c: c.slope(), rule=Covers(),
)
# (c) lambda
LAMBDA_OPTIMUM = Claim(
    "lambda_optimum_near_formula", kind="finding",
    source="ilib.onebit.optimal_lambda: the minimiser of the exact linear-generator error (bias (1-c)^2 vs "
           "variance k lam^2/m), the trade-off behind Qiu et al.'s lam ~ log(1/eps)",
    statement="the best lambda of the grid for the ReLU ERM is within one grid step of the grid point nearest the "
              "formula's optimum lam*",
    predict=lambda r: r.predicted_band(), measure=lambda r: r.best_estimate(), rule=Overlaps(),
    detail=lambda r: {"lam_star": r.lam_star, "best": r.best, "rms": r.rms.tolist()},
)
# (c) norm
_NB2 = (NORM_BAND[0] ** 2, NORM_BAND[1] ** 2)
DITHER_KEEPS_NORM = Claim(
    "dither_keeps_the_norm", kind="finding",
    source="Stein's lemma: E[lam y a] = c(r) G(x0) with dither (ilib.onebit.prob_unclipped); the kept noise is the "
           "linear generator's (kept_norm)",
    statement="with dither, the estimate's rms norm is sqrt((c r)^2 + (k lam^2 - (c r)^2)/m) within 10% at every r: "
              "it follows r, shrunk by clipping (least consistent r, Bonferroni)",
    predict=lambda r: _NB2,
    measure=lambda r: least_consistent(r.sq_ratio(True), *_NB2, labels=[f"r={v:g}" for v in r.norm]),
    rule=Overlaps(),
    detail=lambda r: {"norm_ratio_per_r": np.sqrt(r.sq_ratio(True).mean(-1)).tolist()},
)
NO_DITHER_LOSES_NORM = Claim(
    "no_dither_loses_the_norm", kind="finding",
    source="Stein's lemma: E[y a] = kappa(r) G(x0)/||G(x0)|| without dither (Plan & Vershynin 2013; "
           "ilib.onebit.undithered_gain)",
    statement="without dither, the estimate's rms norm is sqrt((lam kappa)^2 + (k lam^2 - (lam kappa)^2)/m) within "
              "10% at every r: set by lam and the noise, not by r (least consistent r, Bonferroni)",
    predict=lambda r: _NB2,
    measure=lambda r: least_consistent(r.sq_ratio(False), *_NB2, labels=[f"r={v:g}" for v in r.norm]),
    rule=Overlaps(),
    detail=lambda r: {"norm_ratio_per_r": np.sqrt(r.sq_ratio(False).mean(-1)).tolist(), "true_norms": r.norm.tolist(),
                      "estimated_rms_norms": np.sqrt((r.est_norm[1] ** 2).mean(-1)).tolist()},
)
NO_DITHER_KEEPS_DIRECTION = Claim(
    "no_dither_keeps_the_direction", kind="finding",
    source="Plan & Vershynin 2013: sign measurements determine the direction",
    statement="without dither the mean cosine between G(xhat) and G(x0) is at least 0.95 at every r (least "
              "consistent r, Bonferroni)",
    predict=lambda r: 0.95,
    measure=lambda r: least_consistent(r.cosine[1], 0.95, math.inf, labels=[f"r={v:g}" for v in r.norm]),
    rule=AtLeast(),
)
# (d)
RELU_FOLLOWS_FORMULA = Claim(
    "relu_error_follows_linear_formula", kind="finding",
    source="this notebook (the range near x0 is a union of k-dimensional cones); the formula is "
           "ilib.onebit.linear_mse",
    statement=f"under every corruption level of the family the ReLU ERM's rms error is within "
              f"{RELU_BAND[0]:g}-{RELU_BAND[1]:g} times the linear-generator formula (mean squared ratio in "
              f"[{RELU_BAND[0] ** 2:.2f}, {RELU_BAND[1] ** 2:.2f}], least consistent level, Bonferroni)",
    predict=lambda f: (RELU_BAND[0] ** 2, RELU_BAND[1] ** 2),
    measure=lambda f: least_consistent(f.mse_ratio, RELU_BAND[0] ** 2, RELU_BAND[1] ** 2, labels=f.labels),
    rule=Overlaps(),
    detail=lambda f: {"rms_ratio_per_level": np.sqrt(f.mse_ratio.mean(-1)).tolist(), "c": f.shrink.tolist()},
)


def _wins(a: np.ndarray, b: np.ndarray) -> Estimate:
    """Trials at the family's largest level in which ``a`` has the lower error, with a Wilson interval."""
    return Estimate.binomial(int((a[-1] < b[-1]).sum()), a.shape[-1])


ONEBIT_BEATS_LS = Claim(
    "onebit_beats_least_squares_heavy_tails", kind="finding",
    source="this notebook; signs cap each measurement's influence, least squares does not (Huber 1964)",
    statement="at the family's largest corruption, the one-bit ERM has a lower error than least-squares CSGM on the "
              "real values in most trials",
    predict=lambda f: 0.5, measure=lambda f: _wins(f.onebit_err, f.ls_err), rule=Above(),
)
HUBER_BEATS_LS = Claim(
    "huber_beats_least_squares_heavy_tails", kind="finding",
    source="Huber 1964: an M-estimator with bounded influence is robust to heavy tails and gross errors",
    statement="at the family's largest corruption, Huber-loss CSGM has a lower error than least-squares CSGM in most "
              "trials",
    predict=lambda f: 0.5, measure=lambda f: _wins(f.huber_err, f.ls_err), rule=Above(),
)
HUBER_BEATS_ONEBIT = Claim(
    "huber_beats_onebit_heavy_tails", kind="finding",
    source="this notebook: at sigma ~ lam the one-bit bias (1 - c)^2 dominates (ilib.onebit.linear_mse), while a "
           "robust loss on the real values keeps the amplitudes",
    statement="at the family's largest corruption, Huber-loss CSGM on the real values has a lower error than the "
              "one-bit ERM in most trials: the robust baseline, not least squares, is the fair comparison",
    predict=lambda f: 0.5, measure=lambda f: _wins(f.huber_err, f.onebit_err), rule=Above(),
)
FLIPS_SHRINK = Claim(
    "flips_shrink_by_one_minus_2q", kind="finding",
    source="Stein's lemma with flipped labels: E[lam y a] = (1 - 2q) P(|<a, G(x0)>| <= lam) G(x0)",
    statement="with labels flipped at rate q, the one-bit estimate's rms norm is that of c = (1 - 2q) p plus the kept "
              "noise, sqrt(c^2 + (k lam^2 - c^2)/m), within 10% at every q (least consistent q, Bonferroni)",
    predict=lambda f: _NB2,
    measure=lambda f: least_consistent(f.norm_sq_ratio(), *_NB2, labels=f.labels),
    rule=Overlaps(),
    detail=lambda f: {"q": f.levels.tolist(), "c": f.shrink.tolist(),
                      "norm_ratio_per_q": np.sqrt(f.norm_sq_ratio().mean(-1)).tolist()},
)
# (e)
NEG_POINT_AT_RHO = Claim(
    "negative_critical_point_at_rho", kind="theorem",
    source="Hand & Voroninski 2018, Thm 1 and the expected gradient h_{x,x0} (zero at -rho_d x0, rho_2 = 1/pi)",
    statement="the minimiser of ||G(-t x0) - G(x0)||^2 on the -x0 ray, averaged over random networks, is rho_2",
    predict=lambda r: r.rho, measure=lambda r: Estimate.mean(r.t_clean), rule=Covers(),
    detail=lambda r: {"quantiles_10_50_90": np.quantile(r.t_clean, [0.1, 0.5, 0.9]).tolist()},
)
ONEBIT_NEG_POINT = Claim(
    "onebit_negative_point_at_c_rho", kind="theorem",
    source="Qiu, Wei & Yang 2020, Thm 2.2 (stationary points only near x0 and -rho_n x0), with E v = c G(x0)",
    statement="the minimiser of the one-bit risk on the -x0 ray, averaged over networks, is c rho_2",
    predict=lambda r: r.shrink * r.rho, measure=lambda r: Estimate.mean(r.t_neg), rule=Covers(),
    detail=lambda r: {"quantiles_10_50_90": np.quantile(r.t_neg, [0.1, 0.5, 0.9]).tolist()},
)
GLOBAL_MIN_NEAR_X0 = Claim(
    "global_minimum_on_the_x0_side", kind="theorem",
    source="Qiu, Wei & Yang 2020, Thm 2.3 (L(x) < L(z) for x near phi x0, z near -zeta x0)",
    statement="on every network the risk is lower at the minimiser on the +x0 ray than at the one on the -x0 ray",
    predict=lambda r: 1.0,
    measure=lambda r: Estimate.binomial(int((r.loss_pos < r.loss_neg).sum()), r.loss_pos.size), rule=AtLeast(),
)
NEGATION_ESCAPES = Claim(
    "negation_check_ends_on_the_x0_side", kind="theorem",
    source="Huang, Hand, Heckel & Voroninski 2021, Algorithm 1 and its convergence theorem, on the landscape of "
           "Qiu, Wei & Yang 2020, Thm 2.2",
    statement="gradient descent with the negation check ends on the x0 side (first latent coordinate > 0) from every "
              "start on the -x0 side",
    predict=lambda r: 1.0,
    measure=lambda r: Estimate.binomial(int((r.gd_negate[..., 0] > 0).sum()), r.gd_negate[..., 0].size), rule=AtLeast(),
)
PLAIN_GD_TRAPPED = Claim(
    "plain_gradient_descent_can_be_trapped", kind="finding",
    source="this notebook: the basin near -rho_2 x0 is a local minimum of the risk",
    statement="without the negation check, gradient descent from the -x0 side ends on the -x0 side in a positive "
              "fraction of starts",
    predict=lambda r: 0.0,
    measure=lambda r: Estimate.binomial(int((r.gd_plain[..., 0] <= 0).sum()), r.gd_plain[..., 0].size), rule=Above(),
)
# (f)
EMBED_RATE = Claim(
    "embedding_deviation_falls_as_inverse_sqrt_m", kind="sanity",
    source="Hoeffding / central limit theorem for pairs fixed independently of A: P(signs differ) = d_S exactly",
    statement="the largest deviation |d_H/m - d_S| over the sampled pairs falls as m^(-1/2) (a fixed-pair statement; "
              "the embedding theorem's supremum over the whole range is not probed here)",
    predict=lambda r: -0.5, measure=lambda r: r.slope(), rule=Covers(),
)
EMBED_UNBIASED = Claim(
    "hamming_distance_unbiased", kind="sanity",
    source="for a Gaussian row, P(sign<a, x> != sign<a, x'>) = angle(x, x')/pi (Goemans & Williamson 1995)",
    statement="at the largest m, d_H/m - d_S has mean 0 (per-network means, t interval)",
    predict=lambda r: 0.0, measure=lambda r: Estimate.mean((r.d_H[-1] - r.d_S).mean(-1)), rule=Covers(),
)
# (g)
BIHT_FASTER = Claim(
    "consistent_decoder_beats_inverse_sqrt_m", kind="theorem",
    source="Liu, Gomes, Tiwari & Scarlett 2020, Thm 1 (any sign-consistent decoder: m = O((k/eps) log(.)))",
    statement="without noise, binary iterative hard thresholding through G (a consistent decoder) has an error that "
              "falls faster than m^(-1/2): its log-log slope is significantly below -1/2",
    predict=lambda r: -0.5, measure=lambda r: r.slope("biht"), rule=Below(),
    detail=lambda r: {"rms_biht": Decoders._rms(r.biht_err).tolist(), "rms_correlation": Decoders._rms(r.corr_err).tolist()},
)
BIHT_K_OVER_M = Claim(
    "consistent_decoder_rate_k_over_m", kind="finding",
    source="Liu et al. 2020, Thm 1 and their Omega(k/eps) lower bound: eps ~ k/m up to logarithms",
    statement="BIHT's error falls as k/m: log-log slope -1",
    predict=lambda r: -1.0, measure=lambda r: r.slope("biht"), rule=Covers(),
)
BIHT_CONSISTENT = Claim(
    "biht_output_is_sign_consistent", kind="finding",
    source="this notebook (Liu et al.'s bound applies to decoders whose output reproduces every label)",
    statement="BIHT's output reproduces every label in at least 95% of the (m, trial) problems",
    predict=lambda r: 0.95,
    measure=lambda r: Estimate.binomial(int((r.mismatches == 0).sum()), r.mismatches.size), rule=AtLeast(),
)
CORRELATION_RATE = Claim(
    "correlation_estimator_rate_half", kind="theorem",
    source="Plan & Vershynin 2013; Qiu, Wei & Yang 2020, Thm 2.1 (error ~ sqrt(k/m) for the correlation estimator)",
    statement="without noise the correlation estimator's error falls at least as fast as m^(-1/2): slope not "
              "significantly above -1/2",
    predict=lambda r: -0.5, measure=lambda r: r.slope("correlation"), rule=AtMost(),
)
