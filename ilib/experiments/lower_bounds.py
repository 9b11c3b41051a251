r"""Notebook 05: generators that contain sparsity, and what no decoder can beat.

* Kamath, Karmalkar & Price (ICML 2020, Thm 2.3 / Lemma 4.1): a ReLU network
  :math:`G_{sp}: \mathbb{R}^{2k} \to \mathbb{R}^n` (two hidden layers, width :math:`O(kn)`) whose range is
  the set of :math:`k`-sparse vectors (:class:`ilib.constructions.SparsityGenerator`); with Bora et al.'s
  Theorem 1.1 its global CSGM minimiser recovers :math:`x^*` from :math:`O(k\log n)` measurements.
* Kamath et al. (Thm 2.2) and Liu & Scarlett (IEEE JSAIT 2020): some :math:`L`-Lipschitz generators force
  :math:`m = \Omega(k\log(Lr/\delta))` on every decoder; group-sparse networks force :math:`\Omega(k\log w)`
  (wide, shallow) and :math:`\Omega(kd)` (deep, narrow), through Fano's inequality.

Sections: (a) :func:`range_section` (the range and Lipschitz constant of :math:`G_{sp}`), (b)
:func:`bp_section`, :func:`enumeration_section` and :func:`restart_section` (representable against
tractable), (c) :func:`fano_section` (random codebooks), (d) :func:`group_section`, :func:`piece_counts` and
:func:`hat_lipschitz` (the group-sparse generators). Randomness only from the streams the notebook passes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from .. import constructions as con
from .. import stats
from ..claims import AtLeast, AtMost, Claim, Covers, Estimate, Overlaps
from ..device import DeviceLike, Stream, make_generator, randn
from ..linalg import lstsq
from ..profile import Profile as _Profile
from ..profile import param
from ..recovery import csgm, relative_error
from ..sparse import basis_pursuit_admm, donoho_tanner_m, gaussian_problems

NOTEBOOK = "05_lower_bounds"


#: fixed settings (not parameters): Adam's step size for CSGM over G_sp (b), the noise per measurement of the
#: decoding experiments (c, d; codewords have unit norm, so SNR = 1) and the numbers of groups of (d)
LR, NOISE_STD, GROUP_K_VALUES = 0.05, 1.0, (1, 2, 3)


# --------------------------------------------------------------------------- parameters
@dataclass(frozen=True)
class Profile(_Profile):
    """Parameters of notebook 05 (each declared once; see :mod:`ilib.profile`); the properties are derived from them."""

    n_values: tuple[int, ...] = param(smoke=(12, 50), paper=(50, 200), lo=1, doc="(a) output dimensions of G_sp, paired with k_values")
    k_values: tuple[int, ...] = param(smoke=(2, 3), paper=(3, 5), lo=1, doc="(a) sparsities of G_sp, paired with n_values")
    samples: int = param(smoke=50, paper=200, lo=1, doc="(a) random k-sparse vectors encoded and regenerated")
    latent_samples: int = param(smoke=500, paper=2000, lo=1, doc="(a) random latents counted, and of the Lipschitz estimate")
    n: int = param(smoke=40, paper=200, lo=2, doc="(b) signal dimension of the basis-pursuit sweep")
    k: int = param(smoke=2, paper=5, lo=1, doc="(b) sparsity of the basis-pursuit sweep")
    m_values: tuple[int, ...] = param(smoke=(4, 6, 8, 12, 16, 30), paper=(10, 15, 20, 25, 30, 35, 40, 50, 70, 100), lo=1,
                                      doc="(b) measurements for basis pursuit")
    trials: int = param(smoke=8, paper=40, lo=2, doc="(b) signals per m (the restart heuristic: half as many)")
    enum_n: int = param(smoke=12, paper=40, lo=2, doc="(b) signal dimension of the enumeration problem")
    enum_k: int = param(smoke=2, paper=3, lo=1, doc="(b) sparsity of the enumeration problem")
    enum_m_values: tuple[int, ...] = param(smoke=(3, 4, 5, 6, 12), paper=(4, 5, 6, 7, 8, 9, 10, 11, 16, 24), lo=1,
                                           doc="(b) measurements of the enumeration problem")
    restarts: int = param(smoke=5, paper=20, lo=1, doc="(b) random CSGM starts per signal of the enumeration problem")
    steps: int = param(smoke=150, paper=300, lo=1, doc="(b) Adam steps of CSGM")
    scaling_n: int = param(smoke=10, paper=20, lo=2, doc="(b) dimension of the restart heuristic's problems")
    scaling_k_values: tuple[int, ...] = param(smoke=(1, 2), paper=(1, 2, 3), lo=1, doc="(b) sparsities of the restart heuristic")
    scaling_restarts: int = param(smoke=40, paper=500, lo=1, doc="(b) starts per signal of the restart heuristic")
    b_values: tuple[int, ...] = param(smoke=(4, 6, 8), paper=(4, 6, 8, 10, 12, 14), lo=3,
                                      doc="(c) codebook sizes 2^b (d: up to max(b_values) - 2 bits)")
    n_fano: int = param(smoke=32, paper=64, lo=1, doc="(c) codeword dimension")
    fano_m_values: tuple[int, ...] = param(smoke=tuple(range(1, 25)), paper=tuple(range(1, 49)), lo=1,
                                           doc="(c, d) measurements (d: continued to 120)")
    fano_trials: int = param(smoke=100, paper=500, lo=2, doc="(c) trials per (b, m)")
    w_values: tuple[int, ...] = param(smoke=(4, 8, 16), paper=(4, 8, 16, 32, 64), lo=2, doc="(d) hat units per group")
    depth_values: tuple[int, ...] = param(smoke=(1, 2, 3, 4), paper=(1, 2, 3, 4, 5, 6, 8, 10, 12), lo=1, doc="(d) sawtooth depths")
    group_trials: int = param(smoke=60, paper=300, lo=2, doc="(d) trials per (configuration, m)")

    @property
    def scaling_trials(self) -> int:
        return max(1, self.trials // 2)

    @property
    def max_log2_size(self) -> int:
        """The largest codebook of (d), in bits."""
        return max(self.b_values) - 2

    @property
    def group_m_values(self) -> tuple[int, ...]:
        return tuple(self.fano_m_values) + tuple(range(self.fano_m_values[-1] + 1, 121))

    def relations(self) -> None:
        self.require(len(self.n_values) == len(self.k_values), "k_values", "must pair up with n_values (same length)")
        self.require(all(k <= n for n, k in zip(self.n_values, self.k_values)), "k_values", "must be at most its n")
        self.require(self.k <= self.n, "k", f"must be at most n = {self.n}")
        self.require(self.enum_k <= self.enum_n, "enum_k", f"must be at most enum_n = {self.enum_n}")
        self.require(min(self.enum_m_values) >= self.enum_k, "enum_m_values", f"must be at least enum_k = {self.enum_k}")
        self.require(max(self.m_values) <= self.n, "m_values", f"must be at most n = {self.n} (basis pursuit needs m <= n)")
        self.require(max(self.scaling_k_values) <= self.scaling_n, "scaling_k_values", f"must be at most scaling_n = {self.scaling_n}")
        self.require(max(self.b_values) <= self.n_fano, "b_values", f"must be at most n_fano = {self.n_fano} (2^b distinct sign vectors)")
        for name in ("m_values", "enum_m_values", "fano_m_values", "b_values"):
            v = getattr(self, name)
            self.require(list(v) == sorted(set(v)), name, "must be strictly increasing")


def group_configs(P: Profile) -> list[tuple[str, int, int]]:
    """The (kind, k, w or d) of section (d): every hat and sawtooth network whose codebook has at most max_log2_size bits."""
    cfg = [("hat", k, w) for k in GROUP_K_VALUES for w in P.w_values if k * math.log2(w) <= P.max_log2_size]
    return cfg + [("sawtooth", k, d) for k in GROUP_K_VALUES for d in P.depth_values if k * d <= P.max_log2_size]


# --------------------------------------------------------------------------- (a) the range of G_sp
@dataclass(frozen=True)
class RangeItem:
    r"""One :math:`G_{sp}` (``n``, ``k``): test vectors ``v`` ``(S, n)``, :math:`\|G_{sp}(\mathrm{enc}(v)) - v\|_\infty`
    per vector (``abs_error``), the non-zeros of :math:`G_{sp}(z)` for random latents (``nnz``), and the largest
    difference between the block evaluation and the explicit dense network (``dense_diff``; NaN if too large)."""

    n: int
    k: int
    v: np.ndarray
    abs_error: np.ndarray
    nnz: np.ndarray
    dense_diff: float

    @property
    def magnitude(self) -> np.ndarray:
        return np.abs(self.v).max(axis=1)


@dataclass(frozen=True)
class LipschitzEstimate:
    """:func:`ilib.constructions.lipschitz_estimate` of the largest :math:`G_{sp}`: estimates (lower bounds) and the formula."""

    n: int
    k: int
    analytic: float
    per_block: float
    estimate: float
    jacobian_aligned: float
    jacobian_random: np.ndarray
    product_bound: float


@dataclass(frozen=True)
class RangeSection:
    items: tuple[RangeItem, ...]
    lipschitz: LipschitzEstimate


def range_section(n_values: Sequence[int], k_values: Sequence[int], *, samples: int, latent_samples: int,
                  stream: Stream, device: DeviceLike = "auto") -> RangeSection:
    """(a): encode random k-sparse vectors of magnitudes 0.1-10, regenerate them, count non-zeros of random outputs
    (float64), compare with the dense network; estimate the Lipschitz constant of the largest network."""
    items = []
    for n, k in zip(n_values, k_values):
        s = stream.child(f"n={n} k={k}")
        gen = con.SparsityGenerator(n, k, dtype=torch.float64, device=device)
        v = con.wide_range_sparse(samples, n, k, seed=s.child("v"), device=gen.device)
        z = gen.encode(v)
        v_hat = gen(z)
        zr = randn(latent_samples, 2 * k, generator=make_generator(s.child("z")), dtype=torch.float64, device=gen.device)
        out = gen(zr)
        try:
            dense = gen.dense(max_bytes=2**28)
            few = min(200, latent_samples, samples)
            diff = max((dense(zr[:few].unsqueeze(0)).squeeze(0) - out[:few]).abs().max().item(),
                       (dense(z[:few].unsqueeze(0)).squeeze(0) - v_hat[:few]).abs().max().item())
        except con.TooLargeError:
            diff = math.nan
        items.append(RangeItem(n=n, k=k, v=v.cpu().numpy(), abs_error=(v_hat - v).abs().amax(-1).cpu().numpy(),
                               nnz=(out != 0).sum(-1).cpu().numpy(), dense_diff=diff))
    big = con.SparsityGenerator(n_values[-1], k_values[-1], dtype=torch.float64, device=device)
    lip = con.lipschitz_estimate(big, samples=latent_samples, seed=stream.child("lipschitz"))
    est = LipschitzEstimate(n=big.n, k=big.k, analytic=lip["analytic"], per_block=lip["per_block"],
                            estimate=lip["estimate"], jacobian_aligned=lip["jacobian_aligned"],
                            jacobian_random=lip["jacobian_random_all"].cpu().numpy(), product_bound=lip["product_bound"])
    return RangeSection(items=tuple(items), lipschitz=est)


# --------------------------------------------------------------------------- (b) recovery: l1, the global minimiser, restarts
@dataclass(frozen=True)
class BPSection:
    r"""Basis-pursuit successes (relative error at most ``tol``) ``(M, T)`` for :math:`k`-sparse signals in
    :math:`\mathbb{R}^n`, and the Donoho–Tanner count :math:`n\psi(k/n)`."""

    n: int
    k: int
    m_values: tuple[int, ...]
    success: np.ndarray
    m_dt: float

    @property
    def rate(self) -> np.ndarray:
        return self.success.mean(axis=1)

    def rows(self, lo: float = 0.0, hi: float = math.inf) -> np.ndarray:
        m = np.asarray(self.m_values, float)
        return (m >= lo) & (m <= hi)


def _basis_pursuit(op, y: torch.Tensor, iters: int) -> torch.Tensor:
    m, n = op.out_dim, op.in_dim
    if m < n:
        return basis_pursuit_admm(op, y, iters=iters)
    return lstsq(op.matrix(), y.unsqueeze(-1)).squeeze(-1)


def bp_section(n: int, k: int, m_values: Sequence[int], trials: int, *, stream: Stream, tol: float = 1e-2,
               iters: int = 2000, device: DeviceLike = "auto") -> BPSection:
    """(b): basis pursuit (batched ADMM) on ``trials`` problems y = A x* per m, A ~ N(0, 1/m), x* exactly k-sparse."""
    success = np.zeros((len(m_values), trials), dtype=bool)
    for j, m in enumerate(m_values):
        op, x = gaussian_problems(trials, m, n, k, seed=stream.child(f"m={m}"), dtype=torch.float64, device=device)
        success[j] = (relative_error(_basis_pursuit(op, op(x), iters), x) <= tol).cpu().numpy()
    return BPSection(n=n, k=k, m_values=tuple(m_values), success=success, m_dt=float(donoho_tanner_m(n, k)[0]))


@dataclass(frozen=True)
class EnumerationSection:
    r"""The small problem of (b): relative errors ``(M, T)`` of the exact global CSGM minimiser over :math:`G_{sp}`
    (``global_error``, :func:`ilib.constructions.gsp_global_minimiser`), of CSGM from ``restarts`` random starts
    (``csgm_error``, the restart of lowest loss; ``start_success`` ``(M, T, R)`` per start) and of basis pursuit."""

    n: int
    k: int
    m_values: tuple[int, ...]
    global_error: np.ndarray
    csgm_error: np.ndarray
    start_success: np.ndarray
    bp_error: np.ndarray
    global_residual: np.ndarray
    tol: float = 1e-2
    exact_tol: float = 1e-6

    @property
    def klogn(self) -> float:
        return self.k * math.log(self.n)

    def rows(self) -> np.ndarray:
        """The m at or above 2k (where a generic A is injective on 2k-sparse vectors)."""
        return np.asarray(self.m_values) >= 2 * self.k


def enumeration_section(n: int, k: int, m_values: Sequence[int], trials: int, *, restarts: int, steps: int, stream: Stream,
                        lr: float = LR, device: DeviceLike = "auto") -> EnumerationSection:
    r"""(b): noiseless :math:`y = Ax^*`, :math:`x^*` exactly :math:`k`-sparse; the global minimiser by enumeration
    (float64), CSGM with Adam from random starts (float32: the 1e-2 success threshold is far above its rounding),
    and basis pursuit, on the same problems."""
    keys = ("global_error", "csgm_error", "bp_error", "global_residual")
    out = {key: np.zeros((len(m_values), trials)) for key in keys}
    starts = np.zeros((len(m_values), trials, restarts), dtype=bool)
    gen = con.SparsityGenerator(n, k, dtype=torch.float32, device=device)
    for j, m in enumerate(m_values):
        s = stream.child(f"m={m}")
        op, x = gaussian_problems(trials, m, n, k, seed=s.child("problem"), dtype=torch.float64, device=gen.device)
        y = op(x)
        res, x_glob, _ = con.gsp_global_minimiser(op, y, k)
        op32 = type(op)(op.matrix().float())
        z0 = randn(trials, restarts, 2 * k, generator=make_generator(s.child("starts")), dtype=torch.float32, device=gen.device)
        cs = csgm(y.float(), op32, gen, steps=steps, lr=lr, z0=z0)
        with torch.no_grad():
            per_start = relative_error(gen(cs.restart_z).double(), x.unsqueeze(1))
        starts[j] = (per_start <= 1e-2).cpu().numpy()
        vals = (relative_error(x_glob, x), relative_error(cs.x.double(), x), relative_error(_basis_pursuit(op, y, 2000), x),
                res / y.norm(dim=-1))
        for key, v in zip(keys, vals):
            out[key][j] = v.cpu().numpy()
    return EnumerationSection(n=n, k=k, m_values=tuple(m_values), start_success=starts, **out)


@dataclass(frozen=True)
class RestartSection:
    r"""The restart heuristic :math:`p_k \approx k!\,p_1^k` out of sample, at dimension ``n`` and ``m`` measurements.

    ``p1_successes`` of ``p1_starts`` one-start successes at :math:`k = 1` from an independent run (the
    calibration); per ``k`` in ``k_values``, ``successes`` of ``starts`` from runs of their own, and ``within``
    ``(K, len(R_values))`` the fraction of signals solved within ``R`` starts.
    """

    n: int
    m: int
    k_values: tuple[int, ...]
    p1_successes: int
    p1_starts: int
    successes: np.ndarray
    starts: np.ndarray
    R_values: tuple[int, ...]
    within: np.ndarray

    def p1(self) -> Estimate:
        return Estimate.binomial(self.p1_successes, self.p1_starts)

    def rate(self, i: int) -> Estimate:
        return Estimate.binomial(self.successes[i], self.starts[i])

    def predicted(self, i: int) -> tuple[float, float]:
        r""":math:`k!\,p_1^k` at the ends of the calibration's Wilson interval."""
        k, p = self.k_values[i], self.p1()
        return math.factorial(k) * p.lo**k, math.factorial(k) * p.hi**k


def _start_successes(n: int, k: int, m: int, trials: int, restarts: int, *, steps: int, lr: float, stream: Stream,
                     device) -> np.ndarray:
    """``(trials, restarts)``: whether each random CSGM start over G_sp recovers its k-sparse signal (rel. error <= 1e-2)."""
    gen = con.SparsityGenerator(n, k, dtype=torch.float32, device=device)
    op, x = gaussian_problems(trials, m, n, k, seed=stream.child("problem"), dtype=torch.float32, device=gen.device)
    z0 = randn(trials, restarts, 2 * k, generator=make_generator(stream.child("starts")), dtype=torch.float32, device=gen.device)
    res = csgm(op(x), op, gen, steps=steps, lr=lr, z0=z0)
    with torch.no_grad():
        return (relative_error(gen(res.restart_z), x.unsqueeze(1)) <= 1e-2).cpu().numpy()


def restart_section(n: int, k_values: Sequence[int], *, trials: int, restarts: int, steps: int, stream: Stream,
                    lr: float = LR, R_values: Sequence[int] = (1, 2, 5, 10, 20, 50, 100, 200, 500),
                    device: DeviceLike = "auto") -> RestartSection:
    r"""(b): :math:`p_1` from a calibration run (stream ``"p1"``), then :math:`p_k` for every ``k`` from runs of their own,
    all at ``m = n // 2 + 5`` (well above the :math:`\ell_1` threshold)."""
    m = n // 2 + 5
    kw = dict(steps=steps, lr=lr, device=device)
    cal = _start_successes(n, 1, m, trials, restarts, stream=stream.child("p1"), **kw)
    runs = [_start_successes(n, k, m, trials, restarts, stream=stream.child(f"k={k}"), **kw) for k in k_values]
    R = tuple(r for r in R_values if r <= restarts) or (restarts,)
    within = np.array([[s[:, :r].any(axis=1).mean() for r in R] for s in runs])
    return RestartSection(n=n, m=m, k_values=tuple(k_values), p1_successes=int(cal.sum()), p1_starts=int(cal.size),
                          successes=np.array([int(s.sum()) for s in runs]), starts=np.array([s.size for s in runs]),
                          R_values=R, within=within)


# --------------------------------------------------------------------------- (c), (d): Fano and ML decoding
@dataclass(frozen=True)
class Decoding:
    r"""ML decoding of one codebook: ``wrong`` of ``trials`` decodes per ``m``; :math:`\log_2|X|`, the SNR
    :math:`\mathbb E\|x\|^2/\sigma^2`, and (for a generator's codebook) its kind, ``k``, ``param``, widest layer,
    hidden layers and smallest distance between codewords."""

    m_values: tuple[int, ...]
    wrong: np.ndarray
    trials: int
    log2_size: float
    snr: float
    kind: str = "random"
    k: int = 1
    param: int = 0
    width: int = 0
    depth: int = 0
    min_distance: float = math.nan

    @property
    def error(self) -> np.ndarray:
        return self.wrong / self.trials

    def fano(self) -> np.ndarray:
        return con.fano_lower_bound(self.m_values, self.log2_size, self.snr)

    def fano_m50(self) -> float:
        return float(con.fano_m(self.log2_size, self.snr))

    def m50(self) -> stats.ThresholdFit:
        """The m where P(correct decoding) = 1/2: logistic fit of the counts in log m (so m50 > 0), with its 95% interval."""
        correct = self.trials - self.wrong
        return stats.logistic_threshold(self.m_values, correct, np.full(len(self.m_values), self.trials), level=0.5,
                                        log_x=True)


def _decode(X: torch.Tensor, m_values: Sequence[int], *, noise_std: float, trials: int, stream: Stream, **info) -> Decoding:
    r = con.ml_decoding_error(X, m_values, noise_std=noise_std, trials=trials, seed=stream)
    return Decoding(m_values=tuple(int(m) for m in r["m"]), wrong=np.asarray(r["wrong"]), trials=trials,
                    log2_size=r["log2_size"], snr=r["snr"], **info)


@dataclass(frozen=True)
class FanoSection:
    runs: tuple[Decoding, ...]
    b_values: tuple[int, ...]

    @property
    def snr(self) -> float:
        return self.runs[0].snr

    def slope(self) -> stats.SlopeFit:
        """Least-squares line of the logistic m50 against b, with its t interval."""
        return stats.linear_fit(self.b_values, [r.m50().x_level for r in self.runs])


def fano_section(b_values: Sequence[int], m_values: Sequence[int], *, n: int, trials: int, stream: Stream,
                 noise_std: float = NOISE_STD, device: DeviceLike = "auto") -> FanoSection:
    """(c): ML decoding of one of 2^b random unit-norm codewords in R^n from m noisy Gaussian measurements."""
    runs = []
    for b in b_values:
        s = stream.child(f"b={b}")
        X = con.random_codebook(b, n, seed=s.child("codebook"), dtype=torch.float32, device=device)
        runs.append(_decode(X, m_values, noise_std=noise_std, trials=trials, stream=s.child("decode")))
    return FanoSection(runs=tuple(runs), b_values=tuple(b_values))


@dataclass(frozen=True)
class GroupSection:
    runs: tuple[Decoding, ...]

    def family(self, kind: str, k: int) -> list[Decoding]:
        return [r for r in self.runs if r.kind == kind and r.k == k]

    def families(self) -> list[tuple[str, int]]:
        return sorted({(r.kind, r.k) for r in self.runs})

    def slope(self, kind: str, k: int) -> stats.SlopeFit:
        """The line of m50 against log2|X| over one family (fixed kind and number of groups k)."""
        rs = self.family(kind, k)
        return stats.linear_fit([r.log2_size for r in rs], [r.m50().x_level for r in rs])


def group_section(configs: Sequence[tuple[str, int, int]], m_values: Sequence[int], *, trials: int, stream: Stream,
                  noise_std: float = NOISE_STD, device: DeviceLike = "auto") -> GroupSection:
    r"""(d): ML decoding of the codebooks of the hat (``("hat", k, w)``, :math:`\log_2|X| = k\log_2 w`) and sawtooth
    (``("sawtooth", k, d)``, :math:`\log_2|X| = kd`) generators: their outputs at every combination of centres,
    scaled to unit norm (:math:`\xi = 1/\sqrt k`, resp. :math:`1/\sqrt{kd}`)."""
    runs = []
    for kind, k, p in configs:
        if kind == "hat":
            gen = con.hat_generator(p, k, xi=1 / math.sqrt(k), dtype=torch.float32, device=device)
        elif kind == "sawtooth":
            gen = con.sawtooth_generator(p, k, xi=1 / math.sqrt(k * p), dtype=torch.float32, device=device)
        else:
            raise ValueError(f"configs: kind must be 'hat' or 'sawtooth', got {kind!r}")
        X = gen.codebook()
        d2 = torch.cdist(X[: min(len(X), 512)], X).fill_diagonal_(float("inf"))
        runs.append(_decode(X, m_values, noise_std=noise_std, trials=trials, stream=stream.child(f"{kind} k={k} p={p}"),
                            kind=kind, k=k, param=p, width=max(gen.widths[1:-1]), depth=gen.depth,
                            min_distance=float(d2.min())))
    return GroupSection(runs=tuple(runs))


@dataclass(frozen=True)
class Pieces:
    """Linear pieces on [0, 1] of the tent composition and of the sawtooth generator, per depth."""

    depths: tuple[int, ...]
    tent: tuple[int, ...]
    sawtooth: tuple[int, ...]
    sawtooth_units: tuple[int, ...]


def piece_counts(depths: Sequence[int]) -> Pieces:
    """Exact piece counts (:func:`ilib.constructions.linear_pieces`) and the sawtooth generator's hidden units."""
    ds = tuple(sorted(set(depths)))
    return Pieces(depths=ds, tent=tuple(con.linear_pieces(con.tent_composition(d), 0.0, 1.0) for d in ds),
                  sawtooth=tuple(con.linear_pieces(con.sawtooth_generator(d), 0.0, 1.0) for d in ds),
                  sawtooth_units=tuple(sum(con.sawtooth_generator(d).group_widths[1:-1]) for d in ds))


@dataclass(frozen=True)
class HatLipschitz:
    r"""The hat generator's Lipschitz constant measured from its pieces against the formula
    :math:`\sqrt2\,\xi w/(2r)`, per ``w`` (``xi``, ``radius`` fixed)."""

    w_values: tuple[int, ...]
    xi: float
    radius: float
    measured: np.ndarray
    formula: np.ndarray


def hat_lipschitz(w_values: Sequence[int], *, xi: float = 1.0, radius: float = 1.0) -> HatLipschitz:
    gens = [con.hat_generator(w, 1, xi=xi, radius=radius) for w in w_values]
    return HatLipschitz(w_values=tuple(w_values), xi=xi, radius=radius,
                        measured=np.array([con.measured_lipschitz(g, -2 * radius, 2 * radius) for g in gens]),
                        formula=np.array([g.lipschitz_constant() for g in gens]))


# --------------------------------------------------------------------------- claims
def _range_error(r: RangeItem):
    return Estimate.exact(float(r.abs_error.max()), n=int(r.abs_error.size))


def _max_nnz(r: RangeItem):
    return Estimate.exact(float(r.nnz.max()), n=int(r.nnz.size))


def _dense(r: RangeItem):
    return None if math.isnan(r.dense_diff) else Estimate.exact(r.dense_diff)


def _lipschitz_ratio(e: LipschitzEstimate):
    return Estimate.exact(e.estimate / e.analytic, n=int(e.jacobian_random.size))


def _bp_rows(lo: float, hi: float):
    def measure(r: BPSection):
        rows = r.rows(lo * r.m_dt, hi * r.m_dt)
        if not rows.any():
            return None
        return Estimate.binomial(int(r.success[rows].sum()), int(rows.sum() * r.success.shape[1]))

    return measure


def _global_recovers(r: EnumerationSection):
    rows = r.rows()
    if not rows.any():
        return None
    ok = r.global_error[rows] <= r.exact_tol
    return Estimate.binomial(int(ok.sum()), int(ok.size))


def _gradient_recovers(r: EnumerationSection):
    rows = r.rows()
    if not rows.any():
        return None
    ok = r.csgm_error[rows] <= r.tol
    return Estimate.binomial(int(ok.sum()), int(ok.size))


@dataclass(frozen=True)
class HeuristicCase:
    """One k of the restart heuristic: the calibration p1 and the measured p_k (a view the claim reads)."""

    section: RestartSection
    i: int


def _heuristic_rate(c: HeuristicCase):
    return c.section.rate(c.i)


def _min_excess_over_fano(runs: Sequence[Decoding]):
    """min over codebooks and m of (ML error - Fano bound), the interval from the per-point Wilson ends."""
    vals, los, his, n = [], [], [], 0
    for r in runs:
        lo, hi = stats.binomial_interval(r.wrong, r.trials)
        f = r.fano()
        vals.append(np.min(r.error - f))
        los.append(np.min(lo - f))
        his.append(np.min(hi - f))
        n += r.wrong.size * r.trials
    return Estimate(min(vals), min(los), min(his), "Wilson 95% per point, minimum over points", n)


def _m50_over_fano(runs: Sequence[Decoding]):
    """min over codebooks of (m50 - Fano's m50), the interval from the logistic fits' 95% ends."""
    fits = [(r.m50(), r.fano_m50()) for r in runs]
    return Estimate(min(f.x_level - c for f, c in fits), min(f.lo - c for f, c in fits), min(f.hi - c for f, c in fits),
                    "logistic-fit 95% interval per codebook, minimum over codebooks", sum(r.trials * len(r.m_values) for r in runs))


def _slope(fit: stats.SlopeFit):
    if not math.isfinite(fit.lo):
        return None
    return Estimate(fit.slope, fit.lo, fit.hi, f"t {fit.ci:.0%} on the slope", fit.n)


@dataclass(frozen=True)
class FamilySlope:
    """One family of (d) (kind, k): the fitted line of m50 against log2|X| and the SNR (a view the claim reads)."""

    kind: str
    k: int
    fit: stats.SlopeFit
    snr: float


def family_slopes(g: GroupSection) -> list[FamilySlope]:
    return [FamilySlope(kind, k, g.slope(kind, k), g.family(kind, k)[0].snr) for kind, k in g.families()]


def _piece_mismatches(p: Pieces):
    bad = sum(t != 2**d for t, d in zip(p.tent, p.depths)) + sum(s != 2 ** (d + 1) - 1 for s, d in zip(p.sawtooth, p.depths))
    return Estimate.exact(float(bad), n=2 * len(p.depths))


def _hat_lipschitz_gap(h: HatLipschitz):
    return Estimate.exact(float(np.max(np.abs(h.measured / h.formula - 1))), n=len(h.w_values))


GSP_RANGE_IDENTITY = Claim(
    "gsp_regenerates_encoded_vectors", kind="sanity",
    source="Kamath, Karmalkar & Price 2020, Thm 2.3 / Lemma 4.1 (the construction; ilib.constructions)",
    statement="G_sp(encode(v)) = v to rounding (max abs error <= 1e-9) for random k-sparse v of magnitudes 0.1-10",
    predict=lambda r: 1e-9, measure=_range_error, rule=AtMost(),
)
GSP_AT_MOST_K = Claim(
    "gsp_outputs_are_k_sparse", kind="sanity",
    source="Kamath, Karmalkar & Price 2020, Lemma 4.1: every 2-D block drives exactly one coordinate",
    statement="random latents give outputs with at most k non-zeros",
    predict=lambda r: float(r.k), measure=_max_nnz, rule=AtMost(),
)
GSP_DENSE_EQUALS_BLOCK = Claim(
    "gsp_dense_network_equals_block_evaluation", kind="sanity",
    source="ilib.constructions.SparsityGenerator.dense (the same bias-free ReLU network with explicit weights)",
    statement="the explicit dense network and the block evaluation agree to 1e-9 on random and encoded latents",
    predict=lambda r: 1e-9, measure=_dense, rule=AtMost(),
)
GSP_LIPSCHITZ_FORMULA = Claim(
    "gsp_lipschitz_constant_formula", kind="sanity",
    source="ilib.constructions.SparsityGenerator.lipschitz_constant: L = sqrt(k)/sin(pi/2n) (our derivation for the "
           "construction of Kamath et al. 2020)",
    statement="the largest Jacobian norm found equals sqrt(k)/sin(pi/2n) (estimate / formula = 1 to 1e-6)",
    predict=lambda e: 1.0, measure=_lipschitz_ratio, rule=Covers(atol=1e-6),
)
BP_ABOVE_DT = Claim(
    "l1_succeeds_above_donoho_tanner", kind="theorem",
    source="Donoho & Tanner 2009; Amelunxen, Lotz, McCoy & Tropp 2014, Thm II",
    statement="basis pursuit succeeds in at least 90% of trials at m >= 1.33 n psi(k/n)",
    predict=lambda r: 0.9, measure=_bp_rows(1.33, math.inf), rule=AtLeast(),
)
BP_BELOW_DT = Claim(
    "l1_fails_below_donoho_tanner", kind="theorem",
    source="Donoho & Tanner 2009; Amelunxen, Lotz, McCoy & Tropp 2014, Thm II",
    statement="basis pursuit succeeds in at most 10% of trials at m <= 0.75 n psi(k/n)",
    predict=lambda r: 0.1, measure=_bp_rows(0.0, 0.75), rule=AtMost(),
)
GLOBAL_MINIMISER_RECOVERS = Claim(
    "global_csgm_minimiser_recovers_from_2k", kind="theorem",
    source="Bora et al. 2017, Thm 1.1 applied to G_sp (Kamath et al. 2020, Thm 2.3); a Gaussian A is injective on "
           "2k-sparse vectors with probability 1 at m >= 2k (Donoho & Elad 2003, spark)",
    statement="at every m >= 2k (the grid reaches k ln n and beyond) the exact global CSGM minimiser over G_sp, found "
              "by enumerating its sectors, recovers x* (relative error <= 1e-6) in every trial",
    predict=lambda r: 1.0, measure=_global_recovers, rule=AtLeast(),
    detail=lambda r: {"m": list(r.m_values), "k_ln_n": r.klogn, "recovered": (r.global_error <= r.exact_tol).mean(axis=1)},
)
GRADIENT_RESTARTS_FAIL = Claim(
    "gradient_restarts_do_not_find_it", kind="finding",
    source="this notebook (theory notes §4.3: the CSGM landscape over G_sp has 2n sector basins per block)",
    statement="on the same problems CSGM with random restarts recovers x* in at most half of the trials at m >= 2k",
    predict=lambda r: 0.5, measure=_gradient_recovers, rule=AtMost(),
    detail=lambda r: {"m": list(r.m_values), "recovered": (r.csgm_error <= r.tol).mean(axis=1),
                      "one_start_rate": r.start_success.mean(axis=(1, 2))},
)
RESTART_HEURISTIC = Claim(
    "restart_heuristic_out_of_sample", kind="finding",
    source="our heuristic (not a theorem): a start succeeds when its k blocks start in the basins of k distinct true "
           "coordinates, p_k ~ k! p_1^k",
    statement="the one-start success rate p_k measured in its own run meets k! p_1^k, with p_1 from an independent "
              "calibration run (interval from the ends of p_1's Wilson interval)",
    predict=lambda c: c.section.predicted(c.i), measure=_heuristic_rate, rule=Overlaps(),
    detail=lambda c: {"p1": c.section.p1().as_dict(), "k": c.section.k_values[c.i]},
)
FANO_BELOW_ML = Claim(
    "fano_bound_below_ml_error", kind="theorem",
    source="Fano's inequality (Cover & Thomas, Thm 2.10.1) with I(X; Y | A) <= (m/2) log2(1 + SNR); Liu & Scarlett 2020",
    statement="the ML decoder's error is at least Fano's bound 1 - ((m/2) log2(1 + SNR) + 1)/log2|X| at every (codebook, m)",
    predict=lambda runs: 0.0, measure=_min_excess_over_fano, rule=AtLeast(),
)
ML_NEEDS_FANO_COUNT = Claim(
    "ml_needs_at_least_the_fano_count", kind="theorem",
    source="Fano's inequality at error 1/2: m >= 2(log2|X|/2 - 1)/log2(1 + SNR) (Liu & Scarlett 2020)",
    statement="for every codebook the m at which ML decoding is right half the time is at least Fano's count",
    predict=lambda runs: 0.0, measure=_m50_over_fano, rule=AtLeast(),
)
SLOPE_FANO_TO_CAPACITY = Claim(
    "random_code_slope_between_fano_and_capacity", kind="finding",
    source="Fano (slope 1/log2(1 + SNR)) and the Gaussian channel's capacity (1/2) log2(1 + SNR) bits per measurement "
           "(slope 2/log2(1 + SNR)); Cover & Thomas, Ch. 9",
    statement="for random codes the m at 50% error grows with b at a slope between Fano's and capacity's",
    predict=lambda f: (1 / math.log2(1 + f.snr), 2 / math.log2(1 + f.snr)), measure=lambda f: _slope(f.slope()),
    rule=Overlaps(),
)
GROUP_SLOPE_AT_LEAST_FANO = Claim(
    "group_sparse_slope_at_least_fano", kind="theorem",
    source="Liu & Scarlett 2020 (Omega(k log w) and Omega(k d) via Fano); Kamath et al. 2020, Thm 2.2 "
           "(Omega(k log(Lr/delta)): for hats Lr/delta = w/2, so log2|X| = k log2 w = k log2(Lr/delta) + k)",
    statement="within each family (kind, k) the m at 50% error grows with log2|X| at least at Fano's slope "
              "1/log2(1 + SNR) (t interval of the fitted slope)",
    predict=lambda f: 1 / math.log2(1 + f.snr), measure=lambda f: _slope(f.fit), rule=AtLeast(),
    detail=lambda f: {"slope": f.fit.slope, "intercept": f.fit.intercept, "points": f.fit.n},
)
PIECES = Claim(
    "linear_pieces_double_with_depth", kind="sanity",
    source="Telgarsky 2016 (the tent map composed d times has 2^d pieces); ilib.constructions.sawtooth_generator",
    statement="the tent composition of depth d has 2^d linear pieces on [0, 1] and the sawtooth generator 2^(d+1) - 1",
    predict=lambda p: 0.0, measure=_piece_mismatches, rule=AtMost(),
    detail=lambda p: {"depths": list(p.depths), "tent": list(p.tent), "sawtooth": list(p.sawtooth)},
)
HAT_LIPSCHITZ = Claim(
    "hat_lipschitz_constant_grows_like_w", kind="sanity",
    source="ilib.constructions.hat_generator: L = sqrt(2) xi / h = sqrt(2) xi w / (2r) (Liu & Scarlett 2020, Sec. III; "
           "constants ours), so log L = log w + const",
    statement="the hat generator's Lipschitz constant read off its pieces equals sqrt(2) xi w/(2r) for every w (to 1e-9)",
    predict=lambda h: 1e-9, measure=_hat_lipschitz_gap, rule=AtMost(),
)
