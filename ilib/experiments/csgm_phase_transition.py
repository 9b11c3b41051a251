r"""Notebook 01: CSGM recovery phase transitions, beside basis pursuit on sparse vectors.

Bora, Jalal, Price & Dimakis (ICML 2017) recover :math:`x^* = G(z^*)` from
:math:`y = Ax^* + \eta` by :math:`\hat z = \arg\min_z \|y - AG(z)\|`. For a
bias-free ReLU generator with latent dimension :math:`k`:

* below :math:`m = k` the latent is not identifiable (on each activation region
  :math:`G(z) = \Lambda_z z` and :math:`A\Lambda_z` has a kernel);
* from :math:`m = 2k` a generic :math:`A` is injective on the union of the
  :math:`\le 2k`-dimensional difference spans, so only the optimiser can fail;
* with noise, Theorem 1.1 bounds the error by
  :math:`6\min_z\|G(z) - x^*\| + 3\|\eta\| + 2\epsilon`.

Sparse vectors need the much larger :math:`m = n\psi(k/n)` of the
Donoho–Tanner curve (Donoho & Tanner 2009; Amelunxen, Lotz, McCoy & Tropp 2014).

Sections: (a) :func:`csgm_transition`, (b) :func:`architecture_sweep`,
(c) :func:`l1_diagram`, (d) :func:`noisy_bound`. Every sweep is one batched
computation: all measurement counts and trials are solved together by padding
the Gaussian matrices with zero rows (a zero row adds nothing to
:math:`\|y - AG(z)\|^2`, so the padded problem is the original one).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from .. import stats
from ..claims import AtLeast, AtMost, Claim, Covers, Estimate, Overlaps
from ..device import DeviceLike, SeedLike, make_generator, randn, resolve_device
from ..generators import ReLUGenerator
from ..operators import IdentityOperator, MatrixOperator
from ..parallel import map_tasks
from ..profile import Profile as _Profile
from ..profile import param
from ..recovery import csgm, polish_local, relative_error
from ..sparse import basis_pursuit_admm, donoho_tanner_rho, sparse_signals

NOTEBOOK = "01_csgm_phase_transition"


# --------------------------------------------------------------------------- parameters
@dataclass(frozen=True)
class Profile(_Profile):
    """Parameters of notebook 01 (each declared once; see :mod:`ilib.profile`)."""

    k_values: tuple[int, ...] = param(smoke=(2, 4), paper=(2, 5, 10), lo=1,
                                      doc="latent dimensions of the generators in (a)")
    m_values: tuple[int, ...] = param(smoke=(1, 2, 3, 4, 6, 8, 10),
                                      paper=(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 14, 16, 18, 20, 22, 25, 30),
                                      lo=1, doc="numbers of measurements in (a) and (d)")
    hidden: int = param(smoke=50, paper=50, lo=1, doc="hidden width of the generators")
    n: int = param(smoke=200, paper=200, lo=1, doc="output dimension")
    trials: int = param(smoke=8, paper=100, lo=1, doc="independent (generator, A, z*) draws per point")
    restarts: int = param(smoke=4, paper=10, lo=1, doc="random starts of CSGM per trial")
    steps: int = param(smoke=200, paper=600, lo=1, doc="Adam steps per restart")
    lr: float = param(smoke=0.05, paper=0.05, lo=0, lo_open=True, doc="Adam step size")
    negate_every: int = param(smoke=50, paper=50, lo=0, doc="negation check every this many steps (0: off)")
    polish: int = param(smoke=3, paper=3, lo=0, doc="local least-squares steps after Adam (0: off)")
    sweep_k: int = param(smoke=3, paper=5, lo=1, doc="latent dimension of the n and depth sweep (b)")
    sweep_m_values: tuple[int, ...] = param(smoke=(1, 2, 3, 4, 6), paper=tuple(range(1, 16)), lo=1,
                                            doc="numbers of measurements in (b)")
    sweep_n_values: tuple[int, ...] = param(smoke=(50, 200), paper=(50, 200, 800), lo=1,
                                            doc="output dimensions swept in (b), at depth 2")
    sweep_depth_values: tuple[int, ...] = param(smoke=(1, 2), paper=(1, 2, 3), lo=1,
                                                doc="depths swept in (b), at output dimension n")
    sweep_trials: int = param(smoke=8, paper=60, lo=1, doc="trials per point in (b)")
    n_l1: int = param(smoke=60, paper=100, lo=2, doc="ambient dimension of the l1 experiment (c)")
    delta_values: tuple[float, ...] = param(smoke=(0.3, 0.6), paper=tuple(round(0.1 * i, 1) for i in range(1, 10)),
                                            lo=0, hi=1, lo_open=True, hi_open=True, doc="m / n on the Donoho-Tanner grid")
    rho_values: tuple[float, ...] = param(smoke=(0.1, 0.5, 0.9), paper=tuple(round(0.1 * i, 1) for i in range(1, 10)),
                                          lo=0, hi=1, lo_open=True, doc="k / m on the Donoho-Tanner grid")
    l1_trials: int = param(smoke=4, paper=20, lo=1, doc="basis-pursuit trials per grid cell")
    noise: float = param(smoke=0.1, paper=0.1, lo=0, doc="noise norm relative to ||G(z*)|| in (d)")
    offset: float = param(smoke=0.1, paper=0.1, lo=0, doc="distance of x* from the range, relative to ||G(z*)||, in (d)")
    noisy_k: int = param(smoke=3, paper=5, lo=1, doc="latent dimension in (d)")

    def relations(self) -> None:
        self.require(max(self.k_values) <= self.n, "k_values", f"must be at most n = {self.n}")
        self.require(self.noisy_k <= self.n, "noisy_k", f"must be at most n = {self.n}")
        self.require(self.sweep_k <= min(self.sweep_n_values), "sweep_k", "must be at most every sweep_n_values")
        self.require(self.noise > 0, "noise", "must be positive (section (d) measures the noise term)")

    def memory_bytes(self) -> int:
        """The largest batch of dense Gaussian matrices (float64 draws) and restart activations."""
        sizes = [len(self.m_values) * self.trials * max(self.m_values) * self.n,
                 len(self.sweep_m_values) * self.sweep_trials * max(self.sweep_m_values) * max(self.sweep_n_values)]
        acts = len(self.m_values) * self.trials * self.restarts * (self.hidden + self.n) * 4
        return 8 * max(sizes) * 2 + acts * 8


def widths(k: int, hidden: int, n: int, depth: int) -> list[int]:
    """Layer widths ``[k, hidden, ..., hidden, n]`` of a depth-``depth`` generator."""
    if depth < 1:
        raise ValueError(f"depth must be at least 1, got {depth}")
    return [k] + [hidden] * (depth - 1) + [n]


# --------------------------------------------------------------------------- shared problem set-up
def _padded_gaussian(m_values: Sequence[int], n: int, trials: int, g: torch.Generator, dtype, device) -> MatrixOperator:
    """``len(m_values) * trials`` Gaussian matrices with ``N(0, 1/m)`` entries, zero-padded to ``max(m)`` rows."""
    m_max = max(m_values)
    A = randn(len(m_values), trials, m_max, n, generator=g, dtype=torch.float64, device="cpu")
    rows = torch.arange(m_max)
    for j, m in enumerate(m_values):
        A[j] = A[j] * (rows < m).to(A.dtype).view(1, m_max, 1) / m**0.5
    return MatrixOperator(A.reshape(len(m_values) * trials, m_max, n).to(device=device, dtype=dtype))


@dataclass(frozen=True)
class _Problems:
    G: ReLUGenerator
    op: MatrixOperator
    z_star: torch.Tensor  # (B, 1, k)
    x_in: torch.Tensor  # G(z*), (B, n)
    g: torch.Generator


def _problems(widths_: Sequence[int], m_values: Sequence[int], trials: int, seed: SeedLike, device) -> _Problems:
    g = make_generator(seed)
    dev = resolve_device(device)
    B = len(m_values) * trials
    G = ReLUGenerator.random(list(widths_), batch=B, seed=g, device=dev)
    op = _padded_gaussian(list(m_values), widths_[-1], trials, g, G.dtype, dev)
    z_star = randn(B, 1, widths_[0], generator=g, dtype=G.dtype, device=dev)
    return _Problems(G=G, op=op, z_star=z_star, x_in=G(z_star).squeeze(1), g=g)


# --------------------------------------------------------------------------- (a), (b): noiseless transitions
@dataclass(frozen=True)
class Transition:
    r"""Noiseless CSGM recovery against ``m`` for one architecture.

    ``rel_error`` and ``residual`` have shape ``(len(m_values), trials)``;
    ``residual`` is :math:`\|y - AG(\hat z)\|/\|y\|`. A failed trial (relative
    error at least ``tol``) whose residual is below ``fit_tol`` found another
    latent that explains the data; one with a larger residual was lost by the
    optimiser. ``ambiguity`` (NaN where :math:`m \ge k`) is
    :func:`in_region_ambiguity`: how far, relative to :math:`\|x^*\|`, another
    latent in :math:`z^*`'s own activation region reproduces the measurements.
    """

    widths: tuple[int, ...]
    m_values: tuple[int, ...]
    rel_error: np.ndarray
    residual: np.ndarray
    ambiguity: np.ndarray
    tol: float = 1e-2
    fit_tol: float = 1e-3

    @property
    def k(self) -> int:
        return self.widths[0]

    @property
    def depth(self) -> int:
        return len(self.widths) - 1

    @property
    def n(self) -> int:
        return self.widths[-1]

    @property
    def trials(self) -> int:
        return self.rel_error.shape[1]

    @property
    def label(self) -> str:
        return "-".join(map(str, self.widths))

    @property
    def successes(self) -> np.ndarray:
        return (self.rel_error < self.tol).sum(axis=1)

    @property
    def success(self) -> np.ndarray:
        return self.successes / self.trials

    def threshold(self, level: float = 0.5) -> "stats.ThresholdFit":
        """The ``m`` where the logistic fit of the success counts reaches ``level``, with its 95% interval."""
        return stats.logistic_threshold(self.m_values, self.successes, np.full(len(self.m_values), self.trials), level=level)

    def _rows(self, lo: float = -math.inf, hi: float = math.inf) -> np.ndarray:
        m = np.asarray(self.m_values, dtype=float)
        return (m >= lo) & (m <= hi)

    def failure_causes(self, m_min: float = 0, m_max: float = math.inf) -> dict:
        """Among failed trials with ``m_min <= m <= m_max``: how many fit the data and how many did not."""
        sel = self._rows(m_min, m_max)[:, None]
        failed = (self.rel_error >= self.tol) & sel
        fits = failed & (self.residual < self.fit_tol)
        return {"trials": int(sel.sum() * self.trials), "failed": int(failed.sum()), "fit_the_data": int(fits.sum()),
                "optimiser_lost": int((failed & ~fits).sum())}


def csgm_transition(widths_: Sequence[int], m_values: Sequence[int], *, trials: int, restarts: int, steps: int,
                    lr: float, negate_every: int, polish: int, stream: SeedLike, device: DeviceLike = "auto",
                    tol: float = 1e-2) -> Transition:
    r"""Probability of exact CSGM recovery against ``m`` for random bias-free ReLU generators of widths ``widths_``.

    For each ``m`` and trial: a fresh generator (weights :math:`\mathcal N(0, 1/n_i)`),
    :math:`z^* \sim \mathcal N(0, I_k)`, :math:`A` with :math:`\mathcal N(0, 1/m)` entries,
    noiseless :math:`y = A G(z^*)`; CSGM with ``restarts`` random starts, Adam with the
    negation check, then ``polish`` local least-squares steps
    (:func:`ilib.recovery.polish_local`). Success is
    :math:`\|G(\hat z) - G(z^*)\| / \|G(z^*)\| <` ``tol``.
    """
    pr = _problems(widths_, m_values, trials, stream, device)
    y = pr.op(pr.x_in)
    res = csgm(y, pr.op, pr.G, restarts=restarts, steps=steps, lr=lr, negate_every=negate_every, polish=polish,
               seed=pr.g)
    shape = (len(m_values), trials)
    err = relative_error(res.x, pr.x_in).reshape(shape).cpu().numpy()
    resid = (res.loss.clamp_min(0).sqrt() / y.norm(dim=-1).clamp_min(1e-30)).reshape(shape).cpu().numpy()
    m_col = np.repeat(np.asarray(m_values), trials)
    amb = np.full(len(m_col), np.nan)
    below = np.nonzero(m_col < widths_[0])[0]
    if below.size:
        idx = torch.as_tensor(below, device=pr.z_star.device)
        amb[below] = in_region_ambiguity(pr.G.select(idx), pr.op.select(idx), pr.z_star[idx], int(m_col[below].max()))
    return Transition(widths=tuple(widths_), m_values=tuple(m_values), rel_error=err, residual=resid,
                      ambiguity=amb.reshape(shape), tol=tol)


def in_region_ambiguity(G: ReLUGenerator, op: MatrixOperator, z_star: torch.Tensor, m_max: int) -> np.ndarray:
    r"""Non-identifiability made constructive: another latent with the same measurements, in :math:`z^*`'s region.

    On the activation region of :math:`z^*` the generator is linear,
    :math:`G(z) = \Lambda z`, and with :math:`m < k` rows :math:`A\Lambda` has a
    kernel direction :math:`v` (its last right singular vector). Every
    :math:`z^* + tv` with :math:`|t| < t_{\max}` (:meth:`ReLUGenerator.region_step`,
    the larger of the two directions) gives the same measurements, so the data
    cannot tell :math:`x^*` from :math:`G(z^* + tv)`. Returns, per problem,
    :math:`t_{\max}\|\Lambda v\| / \|x^*\|` (``inf`` when the region is unbounded
    along :math:`v`): positive in every problem, whatever the optimiser does.
    """
    with torch.no_grad():
        L = G.local_linear_map(z_star).squeeze(1).to(torch.float64)  # (B, n, k)
        M = op(L.transpose(-1, -2).to(op.dtype)).transpose(-1, -2).to(torch.float64)  # (B, m_max, k)
        v = torch.linalg.svd(M).Vh[:, -1, :]  # a kernel direction when m < k (zero rows add nothing)
        v = v.to(z_star.dtype).unsqueeze(1)
        t = torch.maximum(G.region_step(z_star, v), G.region_step(z_star, -v)).squeeze(1).to(torch.float64)
        move = (L @ v.squeeze(1).to(torch.float64).unsqueeze(-1)).squeeze(-1).norm(dim=-1)
        x = (L @ z_star.squeeze(1).to(torch.float64).unsqueeze(-1)).squeeze(-1).norm(dim=-1)
        return (t * move / x).cpu().numpy()


def _transition_task(job: dict) -> Transition:
    widths_, m_values = job.pop("widths"), job.pop("m_values")
    return csgm_transition(widths_, m_values, **job)


def csgm_transitions(widths_list: Sequence[Sequence[int]], m_values: Sequence[int], *, streams: Sequence, trials: int,
                     restarts: int, steps: int, lr: float, negate_every: int, polish: int,
                     device: DeviceLike = "auto") -> list[Transition]:
    """:func:`csgm_transition` for several architectures, each with its own stream, as tasks of one sweep.

    On the runner's Dask cluster (:func:`ilib.parallel.map_tasks`) each architecture is a task; otherwise they run
    here in turn. The results are the same either way.
    """
    if len(streams) != len(widths_list):
        raise ValueError(f"streams must hold one stream per architecture, got {len(streams)} for {len(widths_list)}")
    jobs = [dict(widths=list(w), m_values=list(m_values), trials=trials, restarts=restarts, steps=steps, lr=lr,
                 negate_every=negate_every, polish=polish, stream=s, device=str(device)) for w, s in zip(widths_list, streams)]
    return map_tasks(_transition_task, jobs)


@dataclass(frozen=True)
class ArchitectureSweep:
    """Transitions at one latent dimension for several output dimensions and depths; ``reference`` indexes the base."""

    transitions: tuple[Transition, ...]
    reference: int

    @property
    def k(self) -> int:
        return self.transitions[0].k

    def thresholds(self) -> list:
        return [t.threshold() for t in self.transitions]


def architecture_sweep(k: int, m_values: Sequence[int], *, hidden: int, n: int, n_values: Sequence[int],
                       depth_values: Sequence[int], trials: int, restarts: int, steps: int, lr: float,
                       negate_every: int, polish: int, stream, device: DeviceLike = "auto") -> ArchitectureSweep:
    """(b): the transition at latent dimension ``k`` for output dimensions ``n_values`` (depth 2) and depths
    ``depth_values`` (output ``n``). The configuration ``k-hidden-n`` is the reference."""
    configs = [widths(k, hidden, nn, 2) for nn in n_values] + [widths(k, hidden, n, d) for d in depth_values]
    unique = []
    for c in configs:
        if c not in unique:
            unique.append(c)
    ref = widths(k, hidden, n, 2)
    if ref not in unique:
        unique.append(ref)
    out = tuple(csgm_transitions(unique, m_values, streams=[stream.child("-".join(map(str, c))) for c in unique],
                                 trials=trials, restarts=restarts, steps=steps, lr=lr, negate_every=negate_every,
                                 polish=polish, device=device))
    return ArchitectureSweep(transitions=out, reference=unique.index(ref))


# --------------------------------------------------------------------------- (c): basis pursuit
@dataclass(frozen=True)
class L1Diagram:
    r"""Basis-pursuit success over :math:`\delta = m/n` and :math:`\rho = k/m`; ``rho_w`` is :math:`\rho_W(\delta)`."""

    n: int
    delta: np.ndarray
    rho: np.ndarray
    successes: np.ndarray  # (len(delta), len(rho)) counts
    trials: int
    rho_w: np.ndarray
    tol: float

    @property
    def success(self) -> np.ndarray:
        return self.successes / self.trials

    def cells(self, lo: float = 0.0, hi: float = math.inf) -> np.ndarray:
        """Mask of the grid cells with :math:`lo \\le \\rho/\\rho_W(\\delta) \\le hi`."""
        ratio = self.rho[None, :] / self.rho_w[:, None]
        return (ratio >= lo) & (ratio <= hi)


def l1_diagram(n: int, delta_values: Sequence[float], rho_values: Sequence[float], *, trials: int, stream,
               iters: int = 3000, tol: float = 1e-2, device: DeviceLike = "auto") -> L1Diagram:
    r"""Basis pursuit success on the Donoho–Tanner grid :math:`(\delta, \rho)`, in float64.

    For each :math:`\delta`, all :math:`\rho` values and trials are solved in one
    batched ADMM (:func:`ilib.sparse.basis_pursuit_admm`). Signals are exactly
    :math:`k = \max(1, \mathrm{round}(\rho m))`-sparse with Gaussian entries.
    """
    g = make_generator(stream)
    dev = resolve_device(device)
    out = np.zeros((len(delta_values), len(rho_values)), dtype=int)
    for i, d in enumerate(delta_values):  # m differs per delta; trials and rho are batched
        m = max(1, int(round(d * n)))
        ks = [max(1, int(round(r * m))) for r in rho_values]
        A = randn(len(ks) * trials, m, n, generator=g, dtype=torch.float64, device=dev) / m**0.5
        x = torch.cat([sparse_signals(trials, n, k, seed=g, dtype=torch.float64, device=dev) for k in ks])
        y = (A @ x.unsqueeze(-1)).squeeze(-1)
        xh = basis_pursuit_admm(A, y, iters=iters)
        err = relative_error(xh, x).reshape(len(ks), trials).cpu().numpy()
        out[i] = (err < tol).sum(axis=1)
    delta = np.asarray(delta_values, float)
    return L1Diagram(n=n, delta=delta, rho=np.asarray(rho_values, float), successes=out, trials=trials,
                     rho_w=donoho_tanner_rho(delta), tol=tol)


# --------------------------------------------------------------------------- (d): the noisy bound
@dataclass(frozen=True)
class NoisyBound:
    r"""Both sides of Bora et al.'s Theorem 1.1 per ``m`` and trial (arrays of shape ``(len(m_values), trials)``).

    ``rep_error`` is :math:`\min_z\|G(z) - x^*\|` (0 in range; an optimised
    upper estimate off range), ``eps`` the measured optimisation gap
    :math:`\|y - AG(\hat z)\| - \min_c \|y - AG(z_c)\|` over known candidates
    :math:`z_c` (a lower estimate of the true gap, so the bound checked is at
    least as strict as the theorem's), and ``sigma`` the noise scale, with
    :math:`\mathbb E\|\eta\|^2 = \sigma^2`.
    """

    k: int
    widths: tuple[int, ...]
    m_values: tuple[int, ...]
    offset: float
    error: np.ndarray
    rep_error: np.ndarray
    noise_norm: np.ndarray
    eps: np.ndarray
    sigma: np.ndarray

    @property
    def bound(self) -> np.ndarray:
        return 6 * self.rep_error + 3 * self.noise_norm + 2 * self.eps

    @property
    def ratio(self) -> np.ndarray:
        return self.error / self.bound

    @property
    def trials(self) -> int:
        return self.error.shape[1]

    def rows(self, m_min: float) -> np.ndarray:
        return np.asarray(self.m_values) >= m_min

    def holds(self) -> np.ndarray:
        """Per ``m``: the number of trials in which the bound holds."""
        return (self.error <= self.bound).sum(axis=1)

    def predicted_in_range_ratio(self) -> np.ndarray:
        r"""Per ``m``: :math:`k/(m - k - 1)` (NaN where :math:`m \le k + 1`), the local least-squares prediction of
        :math:`\mathbb E\|G(\hat z) - x^*\|^2/\sigma^2`."""
        m = np.asarray(self.m_values, dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(m > self.k + 1, self.k / (m - self.k - 1), np.nan)

    def in_range_ratio(self) -> np.ndarray:
        r""":math:`\|G(\hat z) - x^*\|^2/\sigma^2` per ``m`` and trial."""
        return (self.error / self.sigma) ** 2


def noisy_bound(widths_: Sequence[int], m_values: Sequence[int], *, noise: float, offset: float, trials: int,
                restarts: int, steps: int, lr: float, negate_every: int, polish: int, stream,
                device: DeviceLike = "auto") -> NoisyBound:
    r"""Measure both sides of :math:`\|G(\hat z) - x^*\| \le 6\min_z\|G(z) - x^*\| + 3\|\eta\| + 2\epsilon`.

    Bora, Jalal, Price & Dimakis (2017), Theorem 1.1. :math:`x^* = G(z^*) + \nu`
    with :math:`\nu` a random vector of norm ``offset`` times :math:`\|G(z^*)\|`
    (``offset=0``: in the range). :math:`\eta` has iid :math:`\mathcal N(0, \sigma^2/m)`
    entries, :math:`\sigma` = ``noise`` times :math:`\|G(z^*)\|`, so
    :math:`\mathbb E\|\eta\|^2 = \sigma^2`. Off range, :math:`\min_z\|G(z) - x^*\|` is
    estimated by projecting :math:`x^*` onto the range (CSGM with :math:`A = I`, started
    at :math:`z^*` and at random points), which can only over-estimate it.
    """
    pr = _problems(widths_, m_values, trials, stream, device)
    G, op, g = pr.G, pr.op, pr.g
    B, k = pr.z_star.shape[0], pr.z_star.shape[-1]
    scale = pr.x_in.norm(dim=-1, keepdim=True)
    nu = randn(B, G.output_dim, generator=g, dtype=G.dtype, device=G.device)
    x_star = pr.x_in + offset * scale * nu / nu.norm(dim=-1, keepdim=True)
    m_col = torch.tensor([m for m in m_values for _ in range(trials)], dtype=G.dtype, device=G.device).unsqueeze(-1)
    real_rows = (op.A.abs().sum(-1) > 0).to(G.dtype)
    sigma = noise * scale
    eta = sigma * randn(B, op.out_dim, generator=g, dtype=G.dtype, device=G.device) / m_col.sqrt() * real_rows
    y = op(x_star) + eta
    res = csgm(y, op, G, restarts=restarts, steps=steps, lr=lr, negate_every=negate_every, polish=polish, seed=g)
    candidates = [pr.z_star.squeeze(1)]
    if offset > 0:
        ident = IdentityOperator(G.output_dim, dtype=G.dtype, device=G.device)
        starts = torch.cat([pr.z_star, randn(B, restarts, k, generator=g, dtype=G.dtype, device=G.device)], dim=1)
        proj = csgm(x_star, ident, G, z0=starts, steps=steps, lr=lr / 5, negate_every=negate_every, polish=polish)
        rep = torch.minimum(proj.loss.clamp_min(0).sqrt(), (pr.x_in - x_star).norm(dim=-1))
        candidates.append(proj.z)
    else:
        rep = torch.zeros(B, dtype=G.dtype, device=G.device)
    with torch.no_grad():
        fits = torch.stack([(op(G(z.unsqueeze(1)).squeeze(1)) - y).norm(dim=-1) for z in candidates]).min(dim=0).values
    eps = (res.loss.clamp_min(0).sqrt() - fits).clamp_min(0)
    shape = (len(m_values), trials)
    f = lambda t: t.reshape(shape).detach().cpu().numpy().astype(float)  # noqa: E731
    return NoisyBound(k=k, widths=tuple(widths_), m_values=tuple(m_values), offset=offset,
                      error=f((res.x - x_star).norm(dim=-1)), rep_error=f(rep), noise_norm=f(eta.norm(dim=-1)),
                      eps=f(eps), sigma=f(sigma.squeeze(-1)))


# --------------------------------------------------------------------------- claims
def _below_k(t: Transition):
    rows = t._rows(hi=t.k - 1)
    if not rows.any():
        return None
    amb = t.ambiguity[rows]
    return Estimate.binomial(int((amb > 0).sum()), amb.size)


def below_k_summary(t: Transition) -> dict:
    """Trials at m < k: how many recovered x* to the tolerance anyway, and how many regions were that small."""
    rows = t._rows(hi=t.k - 1)
    amb = t.ambiguity[rows]
    return {"trials": int(amb.size), "recovered": int(t.successes[rows].sum()),
            "ambiguity_below_tol": int((amb < t.tol).sum()),
            "median_ambiguity": float(np.median(amb)) if amb.size else float("nan")}


def _other_latent_at_2k(t: Transition):
    c = t.failure_causes(m_min=2 * t.k)
    if c["trials"] == 0:
        return None
    return Estimate.binomial(c["fit_the_data"], c["trials"])


def _at_2k(t: Transition):
    m = np.asarray(t.m_values)
    rows = np.nonzero(m >= 2 * t.k)[0]
    if rows.size == 0:
        return None
    i = rows[np.argmin(m[rows])]
    return Estimate.binomial(t.successes[i], t.trials)


def _threshold_estimate(t: Transition) -> Estimate:
    fit = t.threshold()
    return Estimate(fit.x_level, fit.lo, fit.hi, f"logistic fit, {fit.ci:.0%} ({fit.method})", int(t.trials * len(t.m_values)))


def _architecture_spread(s: ArchitectureSweep):
    """Largest |m50(config) - m50(reference)|, its interval from the fits' half-widths combined in quadrature."""
    fits = s.thresholds()
    ref = fits[s.reference]
    half = lambda f: (f.hi - f.lo) / 2  # noqa: E731
    d = [abs(f.x_level - ref.x_level) for i, f in enumerate(fits) if i != s.reference]
    h = [math.hypot(half(f), half(ref)) for i, f in enumerate(fits) if i != s.reference]
    if not d:
        return None
    return Estimate(max(d), max(max(0.0, a - b) for a, b in zip(d, h)), max(a + b for a, b in zip(d, h)),
                    "95% logistic-fit intervals combined in quadrature")


def _l1(lo: float, hi: float):
    def measure(r: L1Diagram):
        cells = r.cells(lo, hi)
        if not cells.any():
            return None
        return Estimate.binomial(r.successes[cells].sum(), cells.sum() * r.trials)

    return measure


def _bound_worst(r: NoisyBound):
    rows = np.nonzero(r.rows(2 * r.k))[0]
    if rows.size == 0:
        return None
    held = r.holds()
    i = rows[np.argmin(held[rows])]
    return Estimate.binomial(held[i], r.trials)


def _in_range_error(r: NoisyBound):
    rows = r.rows(2 * r.k) & np.isfinite(r.predicted_in_range_ratio())
    if not rows.any() or r.offset != 0:
        return None
    ratio = r.in_range_ratio()[rows] / r.predicted_in_range_ratio()[rows, None]
    return Estimate.mean(ratio[r.eps[rows] == 0])


NOT_IDENTIFIABLE_BELOW_K = Claim(
    "not_identifiable_below_k", kind="sanity",
    source="Bora, Jalal, Price & Dimakis 2017, §1 (identifiability); ilib theory notes §1.6",
    statement="at every m < k, another latent in z*'s own activation region gives the same measurements "
              "(a kernel direction of A Λ_z*): the data never determine x*",
    predict=lambda t: 1.0, measure=_below_k, rule=AtLeast(),
    detail=below_k_summary,
)
NO_OTHER_LATENT_AT_2K = Claim(
    "no_other_latent_at_2k", kind="theorem",
    source="Bora et al. 2017, proof of Lemma 4.2 (A injective on a finite union of <= 2k-dim subspaces); "
           "ilib theory notes §1.6",
    statement="at m >= 2k no failed trial fits the measurements with another latent: every failure is the optimiser's",
    predict=lambda t: 0.0, measure=_other_latent_at_2k, rule=AtMost(),
    detail=lambda t: t.failure_causes(m_min=2 * t.k),
)
SOLVER_AT_2K = Claim(
    "solver_recovers_at_2k", kind="finding",
    source="this notebook's solver: restarts, Adam with the negation check (Huang et al. 2021), local least squares",
    statement="CSGM recovers x* in at least 95% of trials at the smallest m >= 2k",
    predict=lambda t: 0.95, measure=_at_2k, rule=AtLeast(),
    detail=lambda t: t.failure_causes(m_min=2 * t.k, m_max=min([m for m in t.m_values if m >= 2 * t.k], default=0)),
)
TRANSITION_BETWEEN_K_AND_2K = Claim(
    "transition_between_k_and_2k", kind="finding",
    source="ilib theory notes §1.6 (expected outcome of Bora et al.'s experiment with random generators)",
    statement="the 50% point of the success curve (logistic fit) lies between m = k and m = 2k",
    predict=lambda t: [t.k, 2 * t.k], measure=_threshold_estimate, rule=Overlaps(),
)
TRANSITION_SET_BY_K = Claim(
    "transition_set_by_k", kind="finding",
    source="ilib theory notes §1.6: identifiability depends on k only, not on n or depth",
    statement="at fixed k, the 50% point does not move with the output dimension n or the depth",
    predict=lambda s: 0.0, measure=_architecture_spread, rule=AtMost(),
    detail=lambda s: {t.label: [f.x_level, f.lo, f.hi] for t, f in zip(s.transitions, s.thresholds())},
)
L1_BELOW_CURVE = Claim(
    "l1_succeeds_below_curve", kind="theorem",
    source="Donoho & Tanner 2009; Amelunxen, Lotz, McCoy & Tropp 2014, Thm II",
    statement="basis pursuit succeeds in at least 90% of trials well below the Donoho-Tanner curve (rho <= 0.75 rho_W)",
    predict=lambda r: 0.9, measure=_l1(0.0, 0.75), rule=AtLeast(),
)
L1_ABOVE_CURVE = Claim(
    "l1_fails_above_curve", kind="theorem",
    source="Donoho & Tanner 2009; Amelunxen, Lotz, McCoy & Tropp 2014, Thm II",
    statement="basis pursuit succeeds in at most 10% of trials well above the Donoho-Tanner curve (rho >= 1.33 rho_W)",
    predict=lambda r: 0.1, measure=_l1(1.33, math.inf), rule=AtMost(),
)
BORA_BOUND = Claim(
    "bora_bound_from_2k", kind="theorem",
    source="Bora, Jalal, Price & Dimakis 2017, Thm 1.1 (probability 1 - exp(-Ω(m)); read as >= 95%)",
    statement="at every m >= 2k, ||G(ẑ) - x*|| <= 6 min_z ||G(z) - x*|| + 3||η|| + 2ε in at least 95% of trials "
              "(ε: the measured optimisation gap)",
    predict=lambda r: 0.95, measure=_bound_worst, rule=AtLeast(),
    detail=lambda r: {"m": list(r.m_values), "holds": r.holds().tolist(), "trials": r.trials},
)
IN_RANGE_ERROR = Claim(
    "in_range_error_is_local_least_squares", kind="theorem",
    source="least squares on G's local linear piece G(z) = Λ_z z (Hand & Voroninski 2018) and "
           "E tr W^-1 = k/(m-k-1) for W ~ Wishart_k(m, I) (Muirhead 1982, Thm 3.2.12)",
    statement="in range, the minimiser's error is that of least squares on the local linear piece: "
              "E||G(ẑ) - x*||² = σ² k/(m - k - 1) at every m >= 2k (pooled ratio measured/predicted = 1, "
              "over the trials whose fit is at least as good as z*'s, ε = 0)",
    predict=lambda r: 1.0, measure=_in_range_error, rule=Covers(),
    detail=lambda r: {"excluded_eps_positive": int((r.eps[r.rows(2 * r.k)] > 0).sum())},
)
