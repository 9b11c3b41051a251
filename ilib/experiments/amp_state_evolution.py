r"""Notebook 10: exact asymptotics with random generative priors -- state evolution, AMP and the spectral method.

Aubin, Loureiro, Maillard, Krzakala & Zdeborová (NeurIPS 2019, "A1") and Aubin, Loureiro, Baker, Krzakala &
Zdeborová (MSML 2020, "A2") predict the exact performance of Bayes-optimal message passing for signals drawn from a
one-layer random generative prior :math:`x = \varphi(Wz/\sqrt k)` by a low-dimensional fixed point, the state
evolution (SE):

* spiked Wigner :math:`Y = vv^\top/\sqrt p + \sqrt\Delta\,\xi`, :math:`\alpha = p/k`: weak recovery for
  :math:`\Delta < \Delta_c = 1 + \mu_1^4\alpha` (:math:`1 + \alpha` linear, :math:`1 + 4\alpha/\pi^2` sign), with no
  hard phase; PCA only for :math:`\Delta < 1`; the spectral method from linearised AMP (L-AMP) reaches
  :math:`\Delta_c` (a theorem for the linear prior, a conjecture for the sign prior);
* compressed sensing and real phase retrieval with :math:`\alpha = m/n`, :math:`\rho = k/n`: SE curves, the weak
  recovery threshold of phase retrieval :math:`\rho/(2(\rho + \mu_1^4))` against 1/2 for any separable (sparse)
  prior, and the onset of perfect recovery against the counting bound :math:`\alpha = \rho`.

Sections: (a) :func:`spiked_sweep` (AMP, PCA, L-AMP at one size, every prior, :math:`\alpha` and :math:`\Delta` in
one batch) and :func:`spiked_theory` (SE curves, thresholds); (b) :func:`glm_theory` (SE curves, thresholds) and
:func:`glm_sweep` (GAMP at finite :math:`n`); (c) :func:`finite_size` (AMP and L-AMP at several :math:`p`) and
:func:`critical_slowing` (SE iterations near :math:`\Delta_c`). The claims at the bottom are fixed before any run.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from .. import amp, stats
from ..claims import Above, AtLeast, AtMost, Below, Claim, Covers, Estimate
from ..device import DeviceLike, make_generator, rand, randn, resolve_device
from ..profile import Profile as _Profile
from ..profile import param

NOTEBOOK = "10_amp_state_evolution"
PRIORS = ("linear", "sign", "sparse")
CHANNELS = amp.CHANNELS  # ("gaussian", "phase"): compressed sensing and real phase retrieval
SPIKED_DTYPE = torch.float32  # the spiked matrices are p x p: single precision halves the memory traffic

# the regions where the claims read the data, fixed with the claims (relative to the thresholds)
FAR_BELOW = 0.5  # AMP on SE and BBP: Delta <= FAR_BELOW * threshold
WINDOW = (1.25, 0.8)  # L-AMP against PCA: 1.25 <= Delta <= 0.8 Delta_c (PCA's threshold is 1)
FAR_ABOVE = 1.4  # L-AMP overlap vanishing: Delta >= FAR_ABOVE * Delta_c
NEAR = (0.6, 0.9)  # finite-size excess of AMP: NEAR[0] Delta_c <= Delta <= NEAR[1] Delta_c
GLM_MARGIN = 1.35  # GAMP on SE: alpha at least this factor away from every threshold of its (prior, channel)
PERFECT = 1e-8  # "perfect recovery": noiseless SE MSE below this
SLOWING_EPS = (0.3, 0.1, 0.03, 0.01, 0.003)  # distances |Delta/Delta_c - 1| of the critical slowing-down runs
# Deterministic comparisons (two SE runs, SE against GAMP at perfect recovery) are read above this floor: the SE stops
# at a relative change of 1e-10 and float64 sums round at 1e-15, while a second fixed point or a real miss is >= 1e-3.
NUMERICAL_FLOOR = 1e-8


# --------------------------------------------------------------------------- parameters
@dataclass(frozen=True)
class Profile(_Profile):
    """Parameters of notebook 10 (each declared once; see :mod:`ilib.profile`)."""

    p: int = param(smoke=200, paper=2000, lo=20, doc="dimension p of the spiked Wigner matrices in (a)")
    alpha_values: tuple[float, ...] = param(smoke=(2.0, 4.0), paper=(2.0, 4.0), lo=1, doc="ratios p/k of the spiked priors")
    delta_values: tuple[float, ...] = param(smoke=(0.25, 0.5, 1.25, 2.0, 3.5, 7.0),
                                            paper=(0.25, 0.5, 0.75, 1.25, 1.5, 2.0, 2.5, 3.5, 5.0, 7.0),
                                            lo=0, lo_open=True, doc="noise levels Delta of (a)")
    trials: int = param(smoke=2, paper=4, lo=2, doc="independent instances (W, z, xi) in (a)")
    amp_iters: int = param(smoke=120, paper=300, lo=1, doc="cap on AMP iterations (spiked model)")
    lanczos_iters: int = param(smoke=40, paper=80, lo=2, doc="Lanczos steps of PCA and L-AMP")
    se_points: int = param(smoke=5, paper=40, lo=3, doc="points of each state-evolution curve")
    se_iters: int = param(smoke=300, paper=4000, lo=10, doc="cap on state-evolution iterations")
    fs_p_values: tuple[int, ...] = param(smoke=(100, 200), paper=(500, 1000, 2000), lo=20,
                                         doc="dimensions p of the finite-size study (c)")
    fs_alpha: float = param(smoke=2.0, paper=2.0, lo=1, doc="alpha of the finite-size study (linear prior)")
    fs_delta_fractions: tuple[float, ...] = param(smoke=(0.5, 0.75, 1.5), paper=(0.5, 0.65, 0.8, 1.5, 2.0),
                                                  lo=0, lo_open=True, doc="Delta / Delta_c of the finite-size study")
    fs_trials: int = param(smoke=2, paper=16, lo=2, doc="instances per size in (c)")
    n: int = param(smoke=200, paper=1000, lo=20, doc="signal dimension n of compressed sensing / phase retrieval (b)")
    rho: float = param(smoke=0.25, paper=0.25, lo=0, hi=1, lo_open=True, hi_open=True, doc="ratio k/n in (b)")
    glm_alpha_values: tuple[float, ...] = param(smoke=(0.05, 0.4, 1.0),
                                                paper=(0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0),
                                                lo=0, lo_open=True, doc="ratios m/n of the GAMP runs in (b)")
    glm_trials: int = param(smoke=2, paper=5, lo=2, doc="instances per alpha in (b)")
    glm_iters: int = param(smoke=100, paper=400, lo=1, doc="cap on GAMP iterations")
    damping: float = param(smoke=0.3, paper=0.3, lo=0, hi=1, hi_open=True, doc="GAMP output damping")
    noise: float = param(smoke=1e-4, paper=1e-4, lo=0, lo_open=True, doc="measurement noise variance of the GAMP runs")

    def relations(self) -> None:
        for a in self.alpha_values:
            self.require(self.p / a >= 2, "alpha_values", f"must leave k = p/alpha >= 2 (p = {self.p})")
        self.require(max(self.glm_alpha_values) * self.n >= 1 and min(self.glm_alpha_values) * self.n >= 1,
                     "glm_alpha_values", f"must give at least one measurement at n = {self.n}")
        self.require(self.rho * self.n >= 1, "rho", f"must give k = rho n >= 1 (n = {self.n})")
        for p in self.fs_p_values:
            self.require(p / self.fs_alpha >= 2, "fs_p_values", f"must leave k = p/fs_alpha >= 2")

    def memory_bytes(self) -> int:
        """The noise matrices of (a) and (c) and the Lanczos bases; GAMP's matrices in (b)."""
        C = len(self.alpha_values) * 2 * len(self.delta_values)
        spiked = 4 * self.trials * self.p * (self.p + C * self.lanczos_iters + 4 * self.p)
        fs = 4 * self.fs_trials * max(self.fs_p_values) ** 2 * 3
        glm = 8 * self.glm_trials * self.n * self.n * 2
        return max(spiked, fs, glm)


# --------------------------------------------------------------------------- state evolution, shared
def prior_se(prior: str, ratio: float, rho: float | None = None):
    """The prior's state evolution: ``linear`` (the exact Gaussian denoiser through the Marchenko--Pastur law),
    ``sign`` (the two-layer SE) or ``sparse`` (Gauss--Bernoulli of density ``rho``); ``ratio`` = dim x / dim z."""
    if prior == "linear":
        return amp.GaussianSpectrumSE(ratio)
    if prior == "sign":
        return amp.LayerSE("sign", ratio)
    if prior == "sparse":
        return amp.GaussBernoulliSE(rho)
    raise ValueError(f"prior must be one of {PRIORS}, got {prior!r}")


@functools.lru_cache(maxsize=None)
def se_spiked(activation: str, alpha: float, delta: float, informed: bool = False, iters: int = 4000) -> amp.SETrace:
    r"""The spiked-model SE at one :math:`(\alpha, \Delta)`, from an uninformative (:math:`m_0 = 10^{-6}`) or an informed
    (:math:`m_0 = 1 - 10^{-9}`) start (cached: the claims and the figures read the same runs)."""
    return amp.run_se(prior_se(activation, alpha), amp.spiked_field(delta), m0=1 - 1e-9 if informed else 1e-6,
                      iters=iters)


@functools.lru_cache(maxsize=None)
def se_glm(prior: str, channel: str, rho: float, alpha: float, noise: float, informed: bool = False,
           iters: int = 4000) -> amp.SETrace:
    """The GLM SE at one alpha (cached), uninformative or informed start; stops at perfect recovery."""
    return amp.run_se(prior_se(prior, 1.0 / rho, rho), amp.glm_field(channel, alpha, noise),
                      m0=1 - 1e-9 if informed else 1e-6, iters=iters, stop_below=1e-14)


def spiked_delta_c_se(activation: str, alpha: float, tol: float = 1e-6) -> tuple[float, float]:
    """A bracket of the Delta where the SE's trivial fixed point turns unstable (bisection on the Jacobian)."""
    se = prior_se(activation, alpha)
    return amp.bisect(lambda d: amp.se_jacobian_top(se, amp.spiked_field(d)) > 1, 0.05, 50.0, tol=tol)


def glm_weak_recovery_se(prior: str, rho: float, tol: float = 1e-6) -> tuple[float, float]:
    """A bracket of the alpha where phase retrieval's trivial fixed point turns unstable (bisection on the Jacobian)."""
    se = prior_se(prior, 1.0 / rho, rho)
    return amp.bisect(lambda a: amp.se_jacobian_top(se, amp.glm_field("phase", a, 0.0)) > 1, 1e-3, 2.0, tol=tol)


def glm_perfect_se(prior: str, channel: str, rho: float, *, iters: int, tol: float = 1e-3) -> tuple[float, float]:
    """A bracket of the onset of perfect recovery (noiseless SE from an uninformative start reaching MSE < PERFECT)."""
    def perfect(a):
        return se_glm(prior, channel, rho, float(a), 0.0, False, iters).mse < PERFECT
    return amp.bisect(perfect, 0.01, 1.5, tol=tol)


# --------------------------------------------------------------------------- (a) spiked Wigner, measured
@dataclass(frozen=True)
class SpikedCase:
    r"""AMP, PCA and L-AMP on one prior and :math:`\alpha` at every :math:`\Delta` (arrays ``(trials, len(deltas))``).

    ``amp_mse`` is the sign-free :math:`\|\hat v - v\|^2/\|v\|^2` at the last AMP iteration, ``amp_converged`` whether
    :math:`\|\hat v\|^2/p` had settled (:class:`ilib.amp.AMPResult`), ``*_overlap`` the cosine with :math:`v`,
    ``*_value`` the top eigenvalue; ``trace_k2`` is :math:`\tfrac1p\operatorname{tr}K_p^2` of the L-AMP covariance and
    ``norm2`` :math:`\|v\|^2/p`, per instance.
    """

    activation: str
    alpha: float
    p: int
    deltas: tuple[float, ...]
    amp_mse: np.ndarray
    amp_overlap: np.ndarray
    amp_converged: np.ndarray
    amp_iterations: int
    pca_overlap: np.ndarray
    pca_value: np.ndarray
    lamp_overlap: np.ndarray
    lamp_value: np.ndarray
    trace_k2: np.ndarray
    norm2: np.ndarray
    se_iters: int = 4000

    @property
    def k(self) -> int:
        return int(round(self.p / self.alpha))

    @property
    def trials(self) -> int:
        return self.amp_mse.shape[0]

    @property
    def delta_c(self) -> float:
        return amp.delta_c(self.alpha, self.activation)

    @property
    def label(self) -> str:
        return f"{self.activation}, alpha={self.alpha:g}"

    def columns(self, lo: float = 0.0, hi: float = math.inf) -> np.ndarray:
        d = np.asarray(self.deltas)
        return (d >= lo) & (d <= hi)

    def se_mse(self) -> np.ndarray:
        """The SE's MSE (uninformative start) at every Delta of the run."""
        return np.array([se_spiked(self.activation, self.alpha, float(d), False, self.se_iters).mse for d in self.deltas])


@dataclass(frozen=True)
class SpikedSweep:
    """Every (prior, alpha) case of (a), all from one batch sharing the noise matrices."""

    cases: tuple[SpikedCase, ...]

    @property
    def p(self) -> int:
        return self.cases[0].p

    @property
    def trials(self) -> int:
        return self.cases[0].trials


def spiked_sweep(p: int, alpha_values: Sequence[float], delta_values: Sequence[float], *, trials: int,
                 amp_iters: int, lanczos_iters: int, stream, device: DeviceLike = "auto",
                 activations: Sequence[str] = ("linear", "sign"), se_iters: int = 4000) -> SpikedSweep:
    r"""AMP, PCA and L-AMP on the spiked Wigner model for every prior, :math:`\alpha` and :math:`\Delta` at once.

    One :class:`ilib.amp.SpikedWigner` holds ``trials`` noise matrices :math:`\xi` and, per (prior, :math:`\alpha`),
    ``trials`` spikes :math:`v = \varphi(Wz/\sqrt k)`, :math:`k = p/\alpha`; every (prior, :math:`\alpha`,
    :math:`\Delta`) is a column of the same batch, so each AMP or Lanczos step is one matrix-matrix product with
    :math:`\xi` for all of them. AMP (:func:`ilib.amp.spiked_amp`) starts uninformative and runs up to
    ``amp_iters`` steps; PCA and L-AMP use ``lanczos_iters`` Lanczos steps.
    """
    g = make_generator(stream)
    dev = resolve_device(device)
    groups = [(a, al) for a in activations for al in alpha_values]
    priors = [(a, int(round(p / al))) for a, al in groups]
    prob = amp.SpikedWigner.sample(p, priors, delta_values, trials=trials, seed=g, device=dev, dtype=SPIKED_DTYPE)
    seeds = torch.randint(0, 2**62, (3,), generator=g).tolist()
    run = amp.spiked_amp(prob, iters=amp_iters, seed=int(seeds[0]))
    pc = amp.pca(prob, iters=lanczos_iters, seed=int(seeds[1]))
    la = amp.lamp(prob, iters=lanczos_iters, seed=int(seeds[2]))
    v = prob.v
    amp_ov = amp.overlap(run.estimate, v).cpu().numpy()
    pca_ov = amp.overlap(pc.vector, v).cpu().numpy()
    lamp_ov = amp.overlap(la.vector, v).cpu().numpy()
    cov = amp.spectral_covariance(prob)
    D = len(delta_values)
    cases = []
    for i, ((act, al), sp, c) in enumerate(zip(groups, prob.spikes, cov.covs)):
        sl = slice(i * D, (i + 1) * D)
        lam = c.lam.double()
        tk2 = ((lam * lam).sum(-1) + (p - lam.shape[-1]) * c.lam0 ** 2) / p
        cases.append(SpikedCase(
            activation=act, alpha=float(al), p=p, deltas=tuple(float(d) for d in delta_values),
            amp_mse=run.final_mse[:, sl].astype(float), amp_overlap=amp_ov[:, sl].astype(float),
            amp_converged=run.converged[:, sl], amp_iterations=run.iterations,
            pca_overlap=pca_ov[:, sl].astype(float), pca_value=pc.value[:, sl].cpu().numpy().astype(float),
            lamp_overlap=lamp_ov[:, sl].astype(float), lamp_value=la.value[:, sl].cpu().numpy().astype(float),
            trace_k2=tk2.cpu().numpy(), norm2=((sp.v.double() ** 2).sum(-1) / p).cpu().numpy(), se_iters=se_iters))
    return SpikedSweep(cases=tuple(cases))


# --------------------------------------------------------------------------- (a) spiked Wigner, theory
@dataclass(frozen=True)
class SpikedTheory:
    r"""SE curves of one prior and :math:`\alpha` on a grid of :math:`\Delta`, from both starts, and the threshold.

    ``mse_*``, ``converged_*``, ``error_*`` (the estimated distance to the fixed point, :attr:`ilib.amp.SETrace.error`)
    and ``iterations`` have the grid's shape; ``delta_c_se`` brackets the SE's weak-recovery threshold (bisection on
    the Jacobian at :math:`m = 0`), to compare with the closed form :func:`ilib.amp.delta_c`.
    """

    activation: str
    alpha: float
    deltas: np.ndarray
    mse_uninformed: np.ndarray
    mse_informed: np.ndarray
    converged_uninformed: np.ndarray
    converged_informed: np.ndarray
    error_uninformed: np.ndarray
    error_informed: np.ndarray
    iterations: np.ndarray
    delta_c_se: tuple[float, float]

    @property
    def delta_c(self) -> float:
        return amp.delta_c(self.alpha, self.activation)

    @property
    def label(self) -> str:
        return f"{self.activation}, alpha={self.alpha:g}"

    @property
    def both_converged(self) -> np.ndarray:
        return self.converged_uninformed & self.converged_informed


def spiked_theory(activation: str, alpha: float, deltas: Sequence[float], *, se_iters: int) -> SpikedTheory:
    """The SE of the spiked model at every Delta of ``deltas`` (uninformative and informed starts) and its threshold."""
    u = [se_spiked(activation, float(alpha), float(d), False, se_iters) for d in deltas]
    i = [se_spiked(activation, float(alpha), float(d), True, se_iters) for d in deltas]
    arr = lambda xs, f: np.array([f(x) for x in xs])  # noqa: E731
    return SpikedTheory(activation=activation, alpha=float(alpha), deltas=np.asarray(deltas, float),
                        mse_uninformed=arr(u, lambda t: t.mse), mse_informed=arr(i, lambda t: t.mse),
                        converged_uninformed=arr(u, lambda t: t.converged), converged_informed=arr(i, lambda t: t.converged),
                        error_uninformed=arr(u, lambda t: t.error), error_informed=arr(i, lambda t: t.error),
                        iterations=arr(u, lambda t: t.iterations), delta_c_se=spiked_delta_c_se(activation, alpha))


# --------------------------------------------------------------------------- (b) CS and phase retrieval, theory
@dataclass(frozen=True)
class GLMTheory:
    r"""SE of compressed sensing and phase retrieval for every prior on a grid of :math:`\alpha`, and the thresholds.

    ``mse[(prior, channel)]`` etc. are arrays over ``alphas`` (measurement noise ``noise``), from the uninformative and
    the informed start; ``weak_recovery[prior]`` brackets phase retrieval's weak-recovery threshold and
    ``perfect[(prior, channel)]`` the onset of perfect recovery of the *noiseless* SE from the uninformative start.
    """

    rho: float
    noise: float
    alphas: np.ndarray
    mse_uninformed: dict
    mse_informed: dict
    converged: dict
    error: dict
    weak_recovery: dict
    perfect: dict
    cs_closed_form_alphas: np.ndarray
    cs_closed_form_se: np.ndarray
    cs_closed_form_error: np.ndarray

    def case(self, prior: str, channel: str) -> "TheoryCase":
        return TheoryCase(self, prior, channel)

    def thresholds(self, prior: str, channel: str) -> list[float]:
        """The thresholds of one (prior, channel), midpoints of their brackets: weak recovery (phase retrieval) and
        the onset of perfect recovery."""
        out = [sum(self.perfect[(prior, channel)]) / 2]
        if channel == "phase":
            out.append(sum(self.weak_recovery[prior]) / 2)
        return out


def glm_theory(rho: float, alphas: Sequence[float], *, noise: float, se_iters: int) -> GLMTheory:
    """SE curves and thresholds of (b): every prior and channel, both starts; the CS closed-form check below rho."""
    mu, mi, conv, err = {}, {}, {}, {}
    for pr in PRIORS:
        for ch in CHANNELS:
            u = [se_glm(pr, ch, rho, float(a), noise, False, se_iters) for a in alphas]
            i = [se_glm(pr, ch, rho, float(a), noise, True, se_iters) for a in alphas]
            mu[(pr, ch)] = np.array([t.mse for t in u])
            mi[(pr, ch)] = np.array([t.mse for t in i])
            conv[(pr, ch)] = np.array([a.converged and b.converged for a, b in zip(u, i)])
            err[(pr, ch)] = np.array([a.error + b.error for a, b in zip(u, i)])
    wr = {pr: glm_weak_recovery_se(pr, rho) for pr in PRIORS}
    perf = {(pr, ch): glm_perfect_se(pr, ch, rho, iters=se_iters) for pr in PRIORS for ch in CHANNELS}
    below = np.linspace(0.1, 0.9, 9) * rho
    cs = [se_glm("linear", "gaussian", rho, float(a), 0.0, False, se_iters) for a in below]
    return GLMTheory(rho=rho, noise=noise, alphas=np.asarray(alphas, float), mse_uninformed=mu, mse_informed=mi,
                     converged=conv, error=err, weak_recovery=wr, perfect=perf, cs_closed_form_alphas=below,
                     cs_closed_form_se=np.array([t.mse for t in cs]), cs_closed_form_error=np.array([t.error for t in cs]))


@dataclass(frozen=True)
class TheoryCase:
    """One (prior, channel) of a :class:`GLMTheory` (what a per-case claim reads)."""

    theory: GLMTheory
    prior: str
    channel: str

    @property
    def rho(self) -> float:
        return self.theory.rho


# --------------------------------------------------------------------------- (b) CS and phase retrieval, GAMP
@dataclass(frozen=True)
class GLMSweep:
    r"""GAMP at finite :math:`n` for every prior and channel: ``mse`` and ``converged`` of shape
    ``(len(alphas), trials, len(PRIORS), len(CHANNELS))`` (the sign-free MSE at the last iteration), ``iterations``
    per :math:`\alpha`."""

    n: int
    rho: float
    noise: float
    alphas: np.ndarray
    mse: np.ndarray
    converged: np.ndarray
    iterations: np.ndarray

    @property
    def trials(self) -> int:
        return self.mse.shape[1]

    def of(self, prior: str, channel: str) -> np.ndarray:
        return self.mse[:, :, PRIORS.index(prior), CHANNELS.index(channel)]


def glm_signals(n: int, k: int, trials: int, g: torch.Generator, dtype=torch.float64, device="cpu"):
    r"""One instance per trial of each prior: the linear :math:`Fz`, the sign :math:`\mathrm{sign}(F'z')` (independent
    weights) and a Gauss--Bernoulli vector of density :math:`k/n` with unit second moment. Returns the three priors
    (as GAMP sees them) and the signals ``(trials, 3, n)``."""
    F_lin = randn(trials, n, k, generator=g, dtype=dtype, device=device) / math.sqrt(k)
    F_sign = randn(trials, n, k, generator=g, dtype=dtype, device=device) / math.sqrt(k)
    z = randn(trials, 2, k, generator=g, dtype=dtype, device=device)
    rho = k / n
    supp = (rand(trials, 1, n, generator=g, dtype=dtype, device=device) < rho).to(dtype)
    sparse = supp * randn(trials, 1, n, generator=g, dtype=dtype, device=device) / math.sqrt(rho)
    lin = amp.GaussianPrior(F_lin)
    sign = amp.LayerPrior(F_sign, "sign")
    x = torch.cat([lin.sample(z[:, :1]), sign.sample(z[:, 1:]), sparse], dim=1)
    return [lin, sign, amp.GaussBernoulliPrior(rho)], x


def glm_sweep(n: int, rho: float, alpha_values: Sequence[float], *, trials: int, iters: int, damping: float,
              noise: float, stream, device: DeviceLike = "auto") -> GLMSweep:
    r"""GAMP (:func:`ilib.amp.gamp`) for compressed sensing and real phase retrieval with the linear, sign and sparse
    priors at every :math:`\alpha = m/n`.

    Per :math:`\alpha` (its own sub-stream): ``trials`` matrices :math:`A` with :math:`\mathcal N(0, 1/n)` entries,
    shared by the six (prior, channel) columns; each prior's signal is measured through both channels,
    :math:`y = Ax + \sqrt{\Delta}\varepsilon` and :math:`y = |Ax + \sqrt{\Delta}\varepsilon|`. Six columns, one batch.
    """
    dev = resolve_device(device)
    k = max(1, int(round(rho * n)))
    mse, conv, its = [], [], []
    for a in alpha_values:
        g = make_generator(stream.child(f"alpha={a:g}"))
        m = max(1, int(round(a * n)))
        A = randn(trials, m, n, generator=g, dtype=torch.float64, device=dev) / math.sqrt(n)
        priors, x = glm_signals(n, k, trials, g, device=dev)
        X = x.repeat_interleave(len(CHANNELS), dim=1)  # columns (prior, channel)
        U = X @ A.transpose(-1, -2) + math.sqrt(noise) * randn(trials, X.shape[1], m, generator=g,
                                                                dtype=torch.float64, device=dev)
        Y = torch.stack([U[:, j] if CHANNELS[j % 2] == "gaussian" else U[:, j].abs() for j in range(X.shape[1])], 1)
        prior = amp.StackedPrior(priors, [len(CHANNELS)] * len(priors))
        chans = [(lambda y, o, V: amp.gaussian_channel(y, o, V, noise)), (lambda y, o, V: amp.phase_channel(y, o, V, noise))]
        channel = amp.stacked_channel(chans * len(priors), [1] * X.shape[1])
        seed = int(torch.randint(0, 2**62, (1,), generator=g))
        res = amp.gamp(A, Y, prior, channel, iters=iters, seed=seed, truth=X, damping=damping)
        shape = (trials, len(PRIORS), len(CHANNELS))
        mse.append(res.final_mse.reshape(shape))
        conv.append(res.converged.reshape(shape))
        its.append(res.iterations)
    return GLMSweep(n=n, rho=rho, noise=noise, alphas=np.asarray(alpha_values, float), mse=np.stack(mse),
                    converged=np.stack(conv), iterations=np.asarray(its))


# --------------------------------------------------------------------------- (c) finite size, critical slowing-down
@dataclass(frozen=True)
class FiniteSize:
    r"""AMP and L-AMP for one prior and :math:`\alpha` at several sizes :math:`p` and noise levels
    :math:`\Delta = f\Delta_c` (``fractions`` :math:`f`); arrays ``(len(p_values), trials, len(fractions))``."""

    activation: str
    alpha: float
    p_values: tuple[int, ...]
    fractions: tuple[float, ...]
    amp_mse: np.ndarray
    amp_converged: np.ndarray
    lamp_overlap: np.ndarray
    pca_overlap: np.ndarray
    se_iters: int = 4000

    @property
    def delta_c(self) -> float:
        return amp.delta_c(self.alpha, self.activation)

    @property
    def deltas(self) -> np.ndarray:
        return np.asarray(self.fractions) * self.delta_c

    def se_mse(self) -> np.ndarray:
        return np.array([se_spiked(self.activation, self.alpha, float(d), False, self.se_iters).mse for d in self.deltas])

    def columns(self, lo: float, hi: float) -> np.ndarray:
        f = np.asarray(self.fractions)
        return (f >= lo) & (f <= hi)


def finite_size(p_values: Sequence[int], alpha: float, fractions: Sequence[float], *, trials: int, amp_iters: int,
                lanczos_iters: int, stream, device: DeviceLike = "auto", activation: str = "linear",
                se_iters: int = 4000) -> FiniteSize:
    r"""(c): the same model at every size of ``p_values`` (each its own sub-stream), at :math:`\Delta = f\Delta_c`."""
    deltas = [float(f) * amp.delta_c(alpha, activation) for f in fractions]
    out = {"amp_mse": [], "amp_converged": [], "lamp_overlap": [], "pca_overlap": []}
    for p in p_values:
        s = spiked_sweep(int(p), [alpha], deltas, trials=trials, amp_iters=amp_iters, lanczos_iters=lanczos_iters,
                         stream=stream.child(f"p={p}"), device=device, activations=(activation,), se_iters=se_iters)
        c = s.cases[0]
        out["amp_mse"].append(c.amp_mse)
        out["amp_converged"].append(c.amp_converged)
        out["lamp_overlap"].append(c.lamp_overlap)
        out["pca_overlap"].append(c.pca_overlap)
    return FiniteSize(activation=activation, alpha=float(alpha), p_values=tuple(int(p) for p in p_values),
                      fractions=tuple(float(f) for f in fractions), se_iters=se_iters,
                      **{k: np.stack(v) for k, v in out.items()})


@dataclass(frozen=True)
class CriticalSlowing:
    r"""SE iterations to converge from the uninformative start at :math:`\Delta = \Delta_c(1 \pm \epsilon)` (``below``,
    ``above``: arrays over ``eps``), with the cap ``cap`` (``converged`` False where it was hit)."""

    activation: str
    alpha: float
    eps: np.ndarray
    below: np.ndarray
    above: np.ndarray
    converged_below: np.ndarray
    converged_above: np.ndarray
    cap: int


def critical_slowing(activation: str, alpha: float, eps: Sequence[float], *, se_iters: int) -> CriticalSlowing:
    """SE runs ever closer to Delta_c (both sides), counting iterations; a run that hits ``se_iters`` is not converged."""
    dc = amp.delta_c(alpha, activation)
    lo = [se_spiked(activation, float(alpha), dc * (1 - e), False, se_iters) for e in eps]
    hi = [se_spiked(activation, float(alpha), dc * (1 + e), False, se_iters) for e in eps]
    return CriticalSlowing(activation=activation, alpha=float(alpha), eps=np.asarray(eps, float),
                           below=np.array([t.iterations for t in lo]), above=np.array([t.iterations for t in hi]),
                           converged_below=np.array([t.converged for t in lo]),
                           converged_above=np.array([t.converged for t in hi]), cap=se_iters)


# --------------------------------------------------------------------------- claims: measurements
def _pca_rows(s: SpikedSweep, hi: float, stat) -> np.ndarray:
    """Per trial, the mean of ``stat(case, column mask)`` over every case's columns with Delta <= hi."""
    per = [stat(c, c.columns(hi=hi)) for c in s.cases if c.columns(hi=hi).any()]
    return np.mean(np.stack(per, axis=1), axis=1) if per else np.array([])


def _pca_overlap_residual(s: SpikedSweep):
    d = lambda c, m: np.asarray(c.deltas)[m]  # noqa: E731
    r = _pca_rows(s, FAR_BELOW, lambda c, m: (c.pca_overlap[:, m] - amp.pca_overlap(d(c, m))).mean(axis=1))
    return Estimate.mean(r) if r.size else None


def _pca_value_residual(s: SpikedSweep):
    d = lambda c, m: np.asarray(c.deltas)[m]  # noqa: E731
    r = _pca_rows(s, FAR_BELOW, lambda c, m: (c.pca_value[:, m] - amp.pca_top_eigenvalue(d(c, m))).mean(axis=1))
    return Estimate.mean(r) if r.size else None


def _amp_on_se(c: SpikedCase):
    m = c.columns(hi=FAR_BELOW * c.delta_c)
    if not m.any():
        return None
    return Estimate.mean((c.amp_mse[:, m] - c.se_mse()[m]).mean(axis=1))


def _lamp_minus_pca(c: SpikedCase):
    m = c.columns(WINDOW[0], WINDOW[1] * c.delta_c)
    if not m.any():
        return None
    return Estimate.mean((c.lamp_overlap[:, m] - c.pca_overlap[:, m]).mean(axis=1))


def _trace_k2(c: SpikedCase):
    return Estimate.mean(c.trace_k2)


def _bracket(lo: float, hi: float, method: str = "bisection bracket") -> Estimate:
    return Estimate.interval(0.5 * (lo + hi), lo, hi, method)


def _se_threshold(t: SpikedTheory):
    return _bracket(*t.delta_c_se)


def _largest_gap(mse_u: np.ndarray, mse_i: np.ndarray, err: np.ndarray, ok: np.ndarray):
    """The largest gap between the two starts' fixed points over the converged grid points, +- the runs' own
    estimated distance to their fixed points (:attr:`ilib.amp.SETrace.error`)."""
    if not ok.any():
        return None
    diff, err = np.abs(mse_u - mse_i)[ok], err[ok]
    i = int(np.argmax(diff - err))
    return Estimate.interval(float(diff[i]), float(max(0.0, diff[i] - err[i])), float(diff[i] + err[i]),
                             "largest gap over the converged grid, +- the runs' estimated distance to their fixed points")


def _se_starts_agree(t: SpikedTheory):
    return _largest_gap(t.mse_uninformed, t.mse_informed, t.error_uninformed + t.error_informed, t.both_converged)


def _cs_closed_form(t: GLMTheory):
    d = t.cs_closed_form_se - amp.cs_linear_mse(t.cs_closed_form_alphas, t.rho)
    i = int(np.argmax(np.abs(d)))
    e = float(t.cs_closed_form_error[i])
    return Estimate.interval(float(d[i]), float(d[i]) - e, float(d[i]) + e, "largest SE - closed form, +- SE's distance to its fixed point")


def _weak_recovery(prior: str):
    return lambda t: _bracket(*t.weak_recovery[prior])


def _perfect(c: TheoryCase):
    return _bracket(*c.theory.perfect[(c.prior, c.channel)])


def _perfect_gap(t: GLMTheory):
    a, b = t.perfect[("sparse", "phase")], t.perfect[("linear", "phase")]
    return Estimate.interval(0.5 * (a[0] + a[1]) - 0.5 * (b[0] + b[1]), a[0] - b[1], a[1] - b[0],
                             "difference of the bisection brackets")


def _starts_gap(c: TheoryCase):
    t, key = c.theory, (c.prior, c.channel)
    return _largest_gap(t.mse_uninformed[key], t.mse_informed[key], t.error[key], t.converged[key])


def _hard_points(t: GLMTheory, prior: str, channel: str) -> np.ndarray:
    """Grid points where the informed SE recovers perfectly and the uninformative one stays far from it."""
    key = (prior, channel)
    return t.converged[key] & (t.mse_informed[key] < 10 * t.noise) & (t.mse_uninformed[key] > 0.1)


def _sparse_hard_phase(t: GLMTheory):
    return Estimate.exact(float(_hard_points(t, "sparse", "phase").sum()), n=len(t.alphas))


def _sign_metastable(t: GLMTheory):
    below = t.alphas < t.perfect[("sign", "phase")][0]
    if not below.any():
        return None
    key = ("sign", "phase")
    return Estimate.binomial(int((t.mse_informed[key][below] < 10 * t.noise).sum()), int(below.sum()))


def glm_far_from_thresholds(alphas: np.ndarray, thresholds: Sequence[float], margin: float = GLM_MARGIN) -> np.ndarray:
    """Mask of the alphas at least a factor ``margin`` away from every threshold."""
    a = np.asarray(alphas, float)[:, None]
    th = np.asarray(thresholds, float)[None, :]
    return (np.abs(np.log(a / th)) >= math.log(margin)).all(axis=1)


@dataclass(frozen=True)
class GLMRun:
    """GAMP runs and the SE they are compared with (what the GAMP claims read)."""

    sweep: GLMSweep
    theory: GLMTheory

    def se_at_runs(self, prior: str, channel: str) -> np.ndarray:
        return np.array([se_glm(prior, channel, self.theory.rho, float(a), self.sweep.noise, False).mse
                         for a in self.sweep.alphas])

    def case(self, prior: str, channel: str) -> "RunCase":
        return RunCase(self, prior, channel)


@dataclass(frozen=True)
class RunCase:
    """One (prior, channel) of a :class:`GLMRun`."""

    run: GLMRun
    prior: str
    channel: str

    @property
    def alphas(self) -> np.ndarray:
        return self.run.sweep.alphas

    @property
    def mse(self) -> np.ndarray:
        """``(len(alphas), trials)``."""
        return self.run.sweep.of(self.prior, self.channel)

    @property
    def se(self) -> np.ndarray:
        return self.run.se_at_runs(self.prior, self.channel)

    def far(self) -> np.ndarray:
        return glm_far_from_thresholds(self.alphas, self.run.theory.thresholds(self.prior, self.channel))

    def rows(self, lo: float, hi: float) -> np.ndarray:
        return (self.alphas >= lo) & (self.alphas <= hi)


def _gamp_on_se(c: RunCase):
    m = c.far()
    if not m.any():
        return None
    return Estimate.mean((c.mse[m] - c.se[m, None]).ravel())


def _below_half_rows(c: RunCase) -> np.ndarray:
    lo = GLM_MARGIN * sum(c.run.theory.weak_recovery[c.prior]) / 2 if c.prior != "sparse" else 0.0
    return c.rows(lo, 0.5 / GLM_MARGIN)


def _pr_below_half(c: RunCase):
    m = _below_half_rows(c)
    return Estimate.mean(c.mse[m].ravel()) if m.any() else None


def _fs_amp_error_ratio(f: FiniteSize):
    m = f.columns(*NEAR)
    if not m.any() or len(f.p_values) < 2:
        return None
    err = np.abs(f.amp_mse[:, :, m] - f.se_mse()[m]).mean(axis=2)  # (sizes, trials)
    return _ratio_of_means(err[-1], err[0])


def _fs_lamp_above_ratio(f: FiniteSize):
    m = f.columns(FAR_ABOVE, math.inf)
    if not m.any() or len(f.p_values) < 2:
        return None
    ov2 = (f.lamp_overlap[:, :, m] ** 2).mean(axis=2)
    return _ratio_of_means(ov2[-1], ov2[0])


def _ratio_of_means(a: np.ndarray, b: np.ndarray, ci: float = 0.95) -> Estimate:
    r"""The ratio of two independent sample means with a delta-method interval on its logarithm (Student t with the
    smaller sample's degrees of freedom): :math:`\log r \pm t\sqrt{s_a^2/(n_a\bar a^2) + s_b^2/(n_b\bar b^2)}`."""
    from scipy import stats as st

    ma, mb = float(np.mean(a)), float(np.mean(b))
    se = math.sqrt(np.var(a, ddof=1) / (len(a) * ma * ma) + np.var(b, ddof=1) / (len(b) * mb * mb))
    h = float(st.t.ppf(0.5 + ci / 2, min(len(a), len(b)) - 1)) * se
    r = ma / mb
    return Estimate.interval(r, r * math.exp(-h), r * math.exp(h), f"delta method on log ratio, t {ci:.0%}", len(a) + len(b))


def _slowing_slope(c: CriticalSlowing):
    ok = c.converged_below & c.converged_above
    if ok.sum() < 3:
        return None
    x = np.concatenate([c.eps[ok], c.eps[ok]])
    y = np.concatenate([c.below[ok], c.above[ok]]).astype(float)
    fit = stats.loglog_fit(x, y)
    return Estimate.interval(fit.slope, fit.lo, fit.hi, "log-log least squares, t 95%", int(len(x)))


# --------------------------------------------------------------------------- claims
PCA_OVERLAP_BBP = Claim(
    "pca_overlap_bbp", kind="theorem",
    source="Baik, Ben Arous & Péché 2005; Benaych-Georges & Nadakuditi 2011, §3.1 (rank-one Wigner)",
    statement=f"the top eigenvector of Y/√p has overlap √(1 - Δ) with v, read far below PCA's threshold "
              f"(Δ <= {FAR_BELOW}): mean measured - predicted = 0 (per-instance means over every prior)",
    predict=lambda s: 0.0, measure=_pca_overlap_residual, rule=Covers(),
)
PCA_EIGENVALUE_BBP = Claim(
    "pca_eigenvalue_bbp", kind="theorem",
    source="Baik, Ben Arous & Péché 2005; Benaych-Georges & Nadakuditi 2011, §3.1 (rank-one Wigner)",
    statement=f"the top eigenvalue of Y/√p is 1 + Δ below PCA's threshold (read at Δ <= {FAR_BELOW}): mean "
              f"measured - predicted = 0",
    predict=lambda s: 0.0, measure=_pca_value_residual, rule=Covers(),
)
AMP_ON_SE = Claim(
    "amp_on_state_evolution", kind="theorem",
    source="A1 (Aubin et al. 2019), §3 (AMP and its state evolution); Berthier, Montanari & Nguyen 2020 "
           "(non-separable denoisers); Manoel et al. 2017 (multi-layer AMP)",
    statement=f"Bayes-optimal AMP from an uninformative start reaches the MSE of the state evolution, read far from "
              f"the threshold (Δ <= {FAR_BELOW} Δc): mean AMP MSE - SE MSE = 0",
    predict=lambda c: 0.0, measure=_amp_on_se, rule=Covers(),
    detail=lambda c: {"not_converged": int((~c.amp_converged[:, c.columns(hi=FAR_BELOW * c.delta_c)]).sum()),
                      "amp_iterations": c.amp_iterations},
)
LAMP_BEATS_PCA = Claim(
    "lamp_beats_pca_between_1_and_delta_c", kind="theorem",
    source="A1 (Aubin et al. 2019), theorem on the linearised-AMP spectral method (linear prior: correlates iff "
           "Δ < 1 + α; PCA iff Δ < 1)",
    statement=f"between PCA's threshold and Δc = 1 + α ({WINDOW[0]} <= Δ <= {WINDOW[1]} Δc) the L-AMP "
              f"eigenvector's overlap exceeds PCA's (linear prior)",
    predict=lambda c: 0.0, measure=_lamp_minus_pca, rule=Above(),
)
LAMP_BEATS_PCA_SIGN = Claim(
    "lamp_beats_pca_sign_conjecture", kind="theorem",
    source="A1 (Aubin et al. 2019): CONJECTURE for non-linear priors (L-AMP threshold 1 + 4α/π² for the sign "
           "prior; the proof covers the linear prior only)",
    statement=f"[conjecture] between PCA's threshold and Δc = 1 + 4α/π² ({WINDOW[0]} <= Δ <= {WINDOW[1]} Δc) the "
              f"L-AMP eigenvector's overlap exceeds PCA's (sign prior)",
    predict=lambda c: 0.0, measure=_lamp_minus_pca, rule=Above(),
)
TRACE_K2 = Claim(
    "trace_k2_finite_size", kind="sanity",
    source="ilib notes §1.3 [DER]: E(1/p)tr K² = 1 + a²(α + 1/k) from Wishart moments (ilib.amp.trace_k2)",
    statement="the L-AMP covariance of the sampled priors has (1/p) tr K² = 1 + a²(α + 1/k) on average "
              "(a = 1 linear, 2/π sign), the quantity that sets Δc",
    predict=lambda c: amp.trace_k2(c.p, c.k, c.activation), measure=_trace_k2, rule=Covers(),
)
SE_DELTA_C = Claim(
    "se_threshold_is_delta_c", kind="theorem",
    source="A1 (Aubin et al. 2019): Δc = 1 + α (linear), 1 + 4α/π² (sign); ilib notes §1.3",
    statement="the state evolution's trivial fixed point turns unstable at Δc = 1 + μ1⁴ α (bisection on its "
              "Jacobian, against the closed form)",
    predict=lambda t: t.delta_c, measure=_se_threshold, rule=Covers(),
)
SE_NO_HARD_PHASE = Claim(
    "se_no_hard_phase_spiked", kind="theorem",
    source="A1 (Aubin et al. 2019), main result: no hard phase for generative priors (AMP reaches the MMSE)",
    statement="the state evolution reaches the same fixed point from an uninformative and an informed start at every "
              "Δ of the grid (one fixed point: no hard phase)",
    predict=lambda t: 0.0, measure=_se_starts_agree, rule=Covers(atol=NUMERICAL_FLOOR),
    detail=lambda t: {"not_converged": int((~t.both_converged).sum()), "grid": len(t.deltas)},
)
CS_CLOSED_FORM = Claim(
    "cs_linear_closed_form", kind="sanity",
    source="ilib notes §1.4 [DER]: noiseless CS, linear prior, MSE_x = (1 - α/ρ)(1 - α) below α = ρ",
    statement="the noiseless state evolution of CS with the linear prior equals (1 - α/ρ)(1 - α) below α = ρ",
    predict=lambda t: 0.0, measure=_cs_closed_form, rule=Covers(atol=NUMERICAL_FLOOR),
)
PR_WEAK_RECOVERY_LINEAR = Claim(
    "pr_weak_recovery_linear", kind="sanity",
    source="ilib notes §1.4 [DER] (our linearisation): α_WR = ρ / (2(ρ + 1))",
    statement="phase retrieval's state evolution (linear prior) leaves the trivial fixed point at α_WR = ρ/(2(ρ + 1))",
    predict=lambda t: amp.alpha_weak_recovery(t.rho, "linear"), measure=_weak_recovery("linear"), rule=Covers(),
)
PR_WEAK_RECOVERY_SIGN = Claim(
    "pr_weak_recovery_sign", kind="sanity",
    source="ilib notes §1.4 [DER] (our linearisation): α_WR = ρ / (2(ρ + 4/π²))",
    statement="phase retrieval's state evolution (sign prior) leaves the trivial fixed point at α_WR = ρ/(2(ρ + 4/π²))",
    predict=lambda t: amp.alpha_weak_recovery(t.rho, "sign"), measure=_weak_recovery("sign"), rule=Covers(),
)
PR_WEAK_RECOVERY_SPARSE = Claim(
    "pr_weak_recovery_sparse_is_half", kind="theorem",
    source="Mondelli & Montanari 2019 (Found. Comput. Math.), weak-recovery threshold 1/2 of real phase retrieval "
           "for separable priors",
    statement="with the sparse (Gauss-Bernoulli) prior of the same density, phase retrieval's state evolution leaves "
              "the trivial fixed point only at α = 1/2",
    predict=lambda t: 0.5, measure=_weak_recovery("sparse"), rule=Covers(),
)
PERFECT_COUNTING_BOUND = Claim(
    "perfect_recovery_not_below_counting_bound", kind="theorem",
    source="counting bound m >= k for a continuous k-dimensional latent (A2, Aubin et al. 2020)",
    statement="with the linear prior the noiseless state evolution reaches perfect recovery only at α >= ρ "
              "(m >= k): onset of perfect recovery from an uninformative start (bisection), not below ρ",
    predict=lambda c: c.rho, measure=_perfect, rule=AtLeast(),
)
GENERATIVE_PR_TRACTABLE = Claim(
    "sparse_pr_needs_more_than_generative", kind="theorem",
    source="A2 (Aubin et al. 2020), abstract and §4: sparsity does not allow compressive phase retrieval "
           "efficiently near its information-theoretic limit, the random generative prior does",
    statement="from an uninformative start, phase retrieval reaches perfect recovery at a larger α with the sparse "
              "prior than with the linear generative prior of the same density",
    predict=lambda t: 0.0, measure=_perfect_gap, rule=Above(),
)
NO_HARD_PHASE_LINEAR_GLM = Claim(
    "se_no_hard_phase_linear_cs_pr", kind="theorem",
    source="A2 (Aubin et al. 2020), §4: no computational gap with the (linear) generative prior",
    statement="with the linear prior the state evolution reaches the same fixed point from uninformative and "
              "informed starts at every α of the grid",
    predict=lambda c: 0.0, measure=_starts_gap, rule=Covers(atol=NUMERICAL_FLOOR),
)
SPARSE_PR_HARD_PHASE = Claim(
    "sparse_pr_hard_phase", kind="theorem",
    source="A2 (Aubin et al. 2020), §4; Barbier, Krzakala, Macris, Miolane & Zdeborová 2019 (PNAS), hard phase "
           "of sparse phase retrieval",
    statement="with the sparse prior, phase retrieval has α where the informed state evolution recovers perfectly "
              "while the uninformative one does not (a hard phase): at least one grid point",
    predict=lambda t: 0.0, measure=_sparse_hard_phase, rule=Above(),
    detail=lambda t: {"alphas": t.alphas[_hard_points(t, "sparse", "phase")].tolist()},
)
SIGN_METASTABLE = Claim(
    "sign_prior_perfect_state_is_metastable", kind="finding",
    source="this notebook's state evolution (the sign prior's signal is ±1: discrete)",
    statement="with the sign prior, the informed state evolution of phase retrieval stays at perfect recovery at "
              "every grid α below the uninformative onset (two stable fixed points there)",
    predict=lambda t: 1.0, measure=_sign_metastable, rule=AtLeast(),
)
GAMP_ON_SE = Claim(
    "gamp_on_state_evolution", kind="theorem",
    source="Rangan 2011 (GAMP state evolution); Javanmard & Montanari 2013 (non-separable); Manoel, Krzakala, Mézard "
           "& Zdeborová 2017 (multi-layer)",
    statement=f"GAMP from an uninformative start reaches the MSE of the state evolution, read at least a factor "
              f"{GLM_MARGIN} away from every threshold: mean GAMP MSE - SE MSE = 0",
    predict=lambda c: 0.0, measure=_gamp_on_se, rule=Covers(atol=NUMERICAL_FLOOR),
    detail=lambda c: {"alphas": c.alphas[c.far()].tolist(),
                      "not_converged": int((~c.run.sweep.converged[:, :, PRIORS.index(c.prior),
                                                                    CHANNELS.index(c.channel)][c.far()]).sum())},
)
SPARSE_PR_NO_WEAK_RECOVERY = Claim(
    "sparse_pr_no_weak_recovery_below_half", kind="theorem",
    source="Mondelli & Montanari 2019 (weak-recovery threshold 1/2 of phase retrieval with a separable prior)",
    statement=f"GAMP with the sparse prior learns nothing in phase retrieval below α = 1/2 (read at α <= "
              f"1/(2·{GLM_MARGIN})): its MSE is not below 1",
    predict=lambda c: 1.0, measure=_pr_below_half, rule=AtLeast(),
)
GENERATIVE_PR_BELOW_HALF = Claim(
    "generative_pr_recovers_below_half", kind="theorem",
    source="A2 (Aubin et al. 2020): weak recovery of phase retrieval at α of order ρ with a generative prior; "
           "ilib notes §1.4 [DER] for α_WR",
    statement=f"GAMP with a generative prior recovers a positive overlap in phase retrieval below α = 1/2, where no "
              f"separable prior can (read between {GLM_MARGIN} α_WR and 1/(2·{GLM_MARGIN})): its MSE is below 1",
    predict=lambda c: 1.0, measure=_pr_below_half, rule=Below(),
)
AMP_FINITE_SIZE = Claim(
    "amp_finite_size_excess_shrinks", kind="finding",
    source="this notebook (finite-size corrections to state evolution; notes §1.5)",
    statement=f"near Δc ({NEAR[0]} <= Δ/Δc <= {NEAR[1]}) AMP's distance to the SE curve shrinks from the smallest to "
              f"the largest p: ratio of mean |AMP MSE - SE MSE| below 1",
    predict=lambda f: 1.0, measure=_fs_amp_error_ratio, rule=Below(),
)
LAMP_VANISHES_ABOVE = Claim(
    "lamp_overlap_vanishes_above_delta_c", kind="theorem",
    source="A1 (Aubin et al. 2019), theorem on the linearised-AMP spectral method (no correlation for Δ > 1 + α)",
    statement=f"above Δc (Δ >= {FAR_ABOVE} Δc) the L-AMP overlap² falls from the smallest to the largest p "
              f"(ratio below 1): it tends to zero",
    predict=lambda f: 1.0, measure=_fs_lamp_above_ratio, rule=Below(),
)
SE_CRITICAL_SLOWING = Claim(
    "se_critical_slowing_down", kind="finding",
    source="this notebook's state evolution (a continuous transition: the relaxation rate vanishes at Δc)",
    statement="the state evolution needs more iterations the closer Δ is to Δc, on both sides: log-log slope of "
              "iterations against |Δ/Δc - 1| below 0",
    predict=lambda c: 0.0, measure=_slowing_slope, rule=Below(),
    detail=lambda c: {"eps": c.eps.tolist(), "below": c.below.tolist(), "above": c.above.tolist(),
                      "not_converged": int((~c.converged_below).sum() + (~c.converged_above).sum()), "cap": c.cap},
)
