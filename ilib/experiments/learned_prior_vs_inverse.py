r"""Notebook 09: learn the prior or learn the inverse? Gradients through unrolled ISTA, dictionaries, brittleness.

Sections, each one function returning a frozen result:

* (a) :func:`gradient_errors`: the analytic gradient :math:`g^1_N` and the unrolled gradient :math:`g^2_N` of
  dictionary learning against :math:`g^* = (Dz^* - y)z^{*\top}`, before and after ISTA identifies the support
  (Malézieux, Moreau & Kowalski, ICLR 2022), with the reverse pass checked against autograd and central
  finite differences;
* (b) :func:`learn_prior`: a dictionary learned from signals alone (alternating minimisation) against the
  planted one (Aharon, Elad & Bruckstein 2006's recovery test);
* (c) :func:`prior_vs_inverse`: compressed sensing of those signals, :math:`y = Ax + \eta`, either by ISTA on the
  learned prior (:math:`AD`, any :math:`A`) or by a LISTA trained end to end on pairs :math:`(Ax, x)` for one
  :math:`A` (Gregor & LeCun 2010); then the operator changes at test time (another Gaussian matrix, missing
  rows): the prior is reused with the new operator, the inverse cannot be;
* (d) :func:`factorisation`: Moreau & Bruna's factorised iteration (ICLR 2017): ISTA as a special case, the
  majorisation bound it obeys, and what the eigenbasis factorisation gains on a Gaussian dictionary.

Intervals are bootstrap intervals over test signals (resampled with the section's own stream), or Student-t
intervals over signals where a per-signal quantity is averaged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from .. import dictionary as DL
from .. import stats
from .. import unrolled as U
from ..claims import AtLeast, AtMost, Above, Below, Claim, Covers, Estimate
from ..device import DeviceLike, SeedLike, make_generator, randn, resolve_device
from ..operators import MatrixOperator
from ..profile import Profile as _Profile
from ..profile import param
from ..sparse import fista, ista

NOTEBOOK = "09_learned_prior_vs_inverse"
RATE_RTOL = 0.1  # asymptotic rates read on finite windows: within 10%, fixed before any run
FD_EPS = 1e-6  # central finite differences (float64)


@dataclass(frozen=True)
class Profile(_Profile):
    """Parameters of notebook 09 (each declared once; see :mod:`ilib.profile`)."""

    dims: int = param(smoke=30, paper=30, lo=2, doc="signal dimension p (rows of the dictionaries)")
    atoms: int = param(smoke=50, paper=50, lo=2, doc="atoms K of the dictionaries")
    sparsity: int = param(smoke=4, paper=4, lo=1, doc="non-zeros of every code")
    noise: float = param(smoke=0.01, paper=0.01, lo=0, doc="noise standard deviation per entry")
    grad_lam: float = param(smoke=0.1, paper=0.1, lo=0, lo_open=True, doc="Lasso weight in the gradient experiment (a)")
    grad_signals: int = param(smoke=12, paper=100, lo=2, doc="signals of (a)")
    grad_max_iter: int = param(smoke=200, paper=400, lo=20, doc="largest number N of unrolled ISTA steps in (a)")
    train_signals: int = param(smoke=500, paper=2000, lo=2, doc="training signals of the prior and of the inverse")
    dl_iters: int = param(smoke=20, paper=150, lo=1, doc="outer iterations of dictionary learning")
    dl_lam: float = param(smoke=0.05, paper=0.05, lo=0, lo_open=True, doc="Lasso weight of dictionary learning")
    measurements: int = param(smoke=20, paper=20, lo=1, doc="rows m of the sensing matrices")
    recon_lam: float = param(smoke=0.02, paper=0.02, lo=0, lo_open=True, doc="Lasso weight of the reconstructions")
    layers: int = param(smoke=5, paper=10, lo=1, doc="layers K of the learned inverse (and ISTA iterations at equal depth)")
    inverse_steps: int = param(smoke=50, paper=3000, lo=1, doc="Adam steps of the learned inverse")
    inverse_lr: float = param(smoke=1e-3, paper=1e-3, lo=0, lo_open=True, doc="Adam rate of its weight matrices")
    test_signals: int = param(smoke=200, paper=1000, lo=2, doc="test signals of (c) and (d)")
    new_operators: int = param(smoke=3, paper=8, lo=2, doc="changed operators drawn per kind of change")
    missing_fraction: float = param(smoke=0.2, paper=0.2, lo=0, hi=1, lo_open=True, hi_open=True,
                                    doc="fraction of measurement rows lost in the missing-rows change")
    mb_lam: float = param(smoke=0.1, paper=0.1, lo=0, lo_open=True, doc="Lasso weight of the factorisation experiment (d)")
    mb_iters: int = param(smoke=30, paper=100, lo=1, doc="iterations of the factorised and ISTA steps in (d)")
    boot: int = param(smoke=200, paper=1000, lo=10, doc="bootstrap replicates of the intervals")

    def relations(self) -> None:
        self.require(self.sparsity <= self.atoms, "sparsity", f"must be at most atoms = {self.atoms}")
        self.require(self.measurements <= self.dims, "measurements", f"must be at most dims = {self.dims}")
        self.require(self.atoms <= self.train_signals, "atoms", "must be at most train_signals (the initial atoms are signals)")


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().double().cpu().numpy()


def _boot_seed(stream: SeedLike) -> int:
    return int(torch.randint(0, 2**62, (1,), generator=make_generator(stream)))


def gaussian_atoms(dims: int, atoms: int, *, seed: SeedLike, dtype=torch.float64, device: DeviceLike = "cpu") -> torch.Tensor:
    """A planted dictionary: Gaussian atoms normalised to unit norm (the unrolled module's Gaussian dictionary)."""
    return U.gaussian_dictionary(dims, atoms, seed=seed, dtype=dtype, device=device)


# --------------------------------------------------------------------------- (a): gradients through N ISTA steps
@dataclass(frozen=True)
class GradientErrors:
    r"""Errors of the codes and of both gradient estimates against :math:`g^*`, per ``N`` and signal.

    ``ez``, ``e1``, ``e2``: ``(len(n_values), signals)`` holding :math:`\|z_N - z^*\|`, :math:`\|g^1_N - g^*\|_F`,
    :math:`\|g^2_N - g^*\|_F`; ``identified[i, b]``: :math:`\mathrm{supp}(z_N) = \mathrm{supp}(z^*)` for signal ``b`` at
    ``n_values[i]``; ``rho``: ISTA's restricted rate :math:`1 - \mu_S/L` on the final support; ``gnorm``:
    :math:`\|g^*\|_F`. ``fd_rel_err``: relative gap between :math:`\langle g^2_N, E\rangle` and central finite
    differences of :math:`F(z_N(D + tE), D + tE)` (:math:`\|E\|_F = 1`), relative to :math:`\|g^2_N\|_F`;
    ``autograd_rel_err``: closed-form reverse pass against autograd.
    """

    n_values: tuple[int, ...]
    ez: np.ndarray
    e1: np.ndarray
    e2: np.ndarray
    identified: np.ndarray
    rho: np.ndarray
    gnorm: np.ndarray
    fd_rel_err: float
    autograd_rel_err: float
    floor: float = 1e-11

    @property
    def signals(self) -> int:
        return self.ez.shape[1]

    def identification_index(self) -> np.ndarray:
        """Per signal, the first index into ``n_values`` from which the support stays the final one (len if never)."""
        out = np.full(self.signals, len(self.n_values))
        for b in range(self.signals):
            for i in range(len(self.n_values)):
                if self.identified[i:, b].all():
                    out[b] = i
                    break
        return out

    def _window(self, b: int) -> np.ndarray:
        """Indices after identification where the unrolled error is above the rounding floor (second half of them)."""
        i0 = self.identification_index()[b]
        idx = np.arange(len(self.n_values))
        ok = (idx >= i0) & (self.e2[:, b] > self.floor * self.gnorm[b]) & (self.e1[:, b] > self.floor * self.gnorm[b])
        sel = idx[ok]
        return sel[len(sel) // 2:] if len(sel) >= 6 else sel

    def rates(self) -> dict:
        r"""Per signal, the fitted exponential rates (slopes of :math:`\log e` against :math:`N`) after identification.

        Keys ``"z"``, ``"g1"``, ``"g2"`` and ``"theory"`` (:math:`\log\rho_S`); NaN where the window holds
        fewer than 3 points.
        """
        n = np.asarray(self.n_values, float)
        out = {k: np.full(self.signals, np.nan) for k in ("z", "g1", "g2")}
        for b in range(self.signals):
            w = self._window(b)
            if len(w) < 3:
                continue
            for key, e in (("z", self.ez), ("g1", self.e1), ("g2", self.e2)):
                out[key][b] = stats.linear_fit(n[w], np.log(e[w, b])).slope
        out["theory"] = np.log(self.rho)
        return out

    def before_identification(self) -> np.ndarray:
        r"""Per signal, the mean of :math:`\log_{10}(e_2/e_1)` over the ``N`` before its support is identified (NaN if none)."""
        i0 = self.identification_index()
        out = np.full(self.signals, np.nan)
        for b in range(self.signals):
            if i0[b] > 0:
                out[b] = np.mean(np.log10(self.e2[: i0[b], b] / self.e1[: i0[b], b]))
        return out


def gradient_errors(dims: int, atoms: int, sparsity: int, *, noise: float, lam: float, signals: int,
                    n_values: Sequence[int], ref_iters: int = 20000, stream, device: DeviceLike = "auto") -> GradientErrors:
    r"""(a) Malézieux, Moreau & Kowalski (2022): :math:`g^1_N`, :math:`g^2_N` against :math:`g^*` for ``n_values``, float64.

    A Gaussian dictionary with unit atoms, ``signals`` codes of ``sparsity`` non-zeros, noise ``noise``;
    :math:`z^*` from ``ref_iters`` ISTA steps, :math:`g^* = (Dz^* - y)z^{*\top}` per signal. The reverse pass
    (:func:`ilib.dictionary.unrolled_gradient`) is checked against autograd through ISTA at the smallest and
    a middle ``N``, and against central finite differences (step 1e-6) in a random direction at three ``N``.
    """
    D = gaussian_atoms(dims, atoms, seed=stream.child("D"))
    _, y = DL.planted_signals(D, signals, sparsity, noise=noise, seed=stream.child("signals"))
    L = float(U.lipschitz(D))
    z_star = DL.ista_codes(D, y, lam, ref_iters, L=L)
    g_star = DL.analytic_gradient(D, y, z_star)
    ez, e1, e2, ident = [], [], [], []
    for N in n_values:
        zN, g2 = DL.unrolled_gradient(D, y, lam, N, L=L)
        g1 = DL.analytic_gradient(D, y, zN)
        ez.append(_np((zN - z_star).norm(dim=1)))
        e1.append(_np((g1 - g_star).flatten(1).norm(dim=1)))
        e2.append(_np((g2 - g_star).flatten(1).norm(dim=1)))
        ident.append(_np(((zN != 0) == (z_star != 0)).all(dim=1)).astype(bool))
    # the reverse pass against autograd and against finite differences
    ag_err = 0.0
    for N in sorted({min(n_values), sorted(n_values)[len(n_values) // 2]}):
        Dv = D.clone().requires_grad_(True)
        (g_auto,) = torch.autograd.grad(DL.lasso_cost(Dv, y, DL.ista_codes(Dv, y, lam, N, L=L), lam).sum(), Dv)
        g_closed = DL.unrolled_gradient(D, y, lam, N, L=L)[1].sum(0)
        ag_err = max(ag_err, float((g_auto - g_closed).norm() / g_auto.norm()))
    E = randn(*D.shape, generator=make_generator(stream.child("direction")), dtype=D.dtype, device="cpu")
    E = E / E.norm()
    fd_err = 0.0
    f = lambda Dm, N: DL.lasso_cost(Dm, y, DL.ista_codes(Dm, y, lam, N, L=L), lam)  # noqa: E731
    for N in sorted({min(n_values), sorted(n_values)[len(n_values) // 2], max(n_values)}):
        fd = (f(D + FD_EPS * E, N) - f(D - FD_EPS * E, N)) / (2 * FD_EPS)
        G = DL.unrolled_gradient(D, y, lam, N, L=L)[1]
        an = (G * E).sum(dim=(1, 2))
        fd_err = max(fd_err, float(((fd - an).abs() / G.flatten(1).norm(dim=1)).max()))
    rho = _np(DL.restricted_rate(D, z_star != 0, L=L))
    return GradientErrors(n_values=tuple(int(v) for v in n_values), ez=np.stack(ez), e1=np.stack(e1), e2=np.stack(e2),
                          identified=np.stack(ident), rho=rho, gnorm=_np(g_star.flatten(1).norm(dim=1)),
                          fd_rel_err=fd_err, autograd_rel_err=ag_err)


def default_n_values(max_iter: int) -> list[int]:
    """1, 2, 5 then every 10 iterations up to ``max_iter``: a dense grid where the errors decay linearly."""
    return sorted({1, 2, 5, *range(10, max_iter + 1, 10)})


# --------------------------------------------------------------------------- (b): the prior
@dataclass(frozen=True)
class Prior:
    r"""The planted dictionary, the learned one and the training signals; alternating minimisation's record."""

    D0: torch.Tensor
    learned: DL.DictionaryResult
    x_train: torch.Tensor
    recovered: np.ndarray  # per planted atom
    sparsity: int
    noise: float

    @property
    def D(self) -> torch.Tensor:
        return self.learned.D


def learn_prior(dims: int, atoms: int, sparsity: int, *, noise: float, train_signals: int, iters: int, lam: float,
                stream, device: DeviceLike = "auto") -> Prior:
    r"""(b) A dictionary of ``atoms`` atoms learned from ``train_signals`` noisy signals :math:`x = D_0z + \sigma\varepsilon`.

    :math:`D_0` is a planted Gaussian dictionary with unit atoms; the learned dictionary starts at randomly
    chosen training signals (:func:`ilib.dictionary.learn_dictionary`, float64) and never sees a sensing matrix.
    """
    D0 = gaussian_atoms(dims, atoms, seed=stream.child("D0"))
    _, x = DL.planted_signals(D0, train_signals, sparsity, noise=noise, seed=stream.child("train"))
    res = DL.learn_dictionary(x, atoms, lam, iters=iters, seed=stream.child("init"))
    return Prior(D0=D0, learned=res, x_train=x, recovered=_np(DL.atom_recovery(res.D, D0)).astype(bool),
                 sparsity=sparsity, noise=noise)


# --------------------------------------------------------------------------- (c): prior against inverse
@dataclass(frozen=True)
class PriorVsInverse:
    r"""Per-signal squared errors (and :math:`\|x\|^2`) of each method under each operator.

    ``err[method][case]``: ``(operators, test)`` for case ``"train"`` (one operator, the training one),
    ``"new"`` (fresh Gaussian matrices) and ``"missing"`` (the training matrix with rows lost). Methods:
    ``"prior, K steps"`` (ISTA on :math:`A\hat D`, as many iterations as the inverse has layers),
    ``"prior"`` (FISTA on :math:`A\hat D` to convergence), ``"inverse"`` (the trained LISTA),
    ``"oracle"`` (FISTA on :math:`AD_0`, the planted dictionary).
    """

    err: dict
    norm: np.ndarray  # (test,)
    layers: int
    train_loss: np.ndarray
    n_boot: int
    boot_seed: int

    def nmse(self, method: str, case: str) -> float:
        e = self.err[method][case]
        return float(10 * np.log10(e.sum() / (self.norm.sum() * e.shape[0])))

    def nmse_per_operator(self, method: str, case: str) -> np.ndarray:
        e = self.err[method][case]
        return 10 * np.log10(e.sum(axis=1) / self.norm.sum())

    def loss(self, method: str, case: str) -> float:
        """NMSE(case) - NMSE(training operator), in dB: what changing the operator costs the method."""
        return self.nmse(method, case) - self.nmse(method, "train")

    def brittleness(self, case: str) -> Estimate:
        r"""(loss of the inverse) - (loss of the prior, converged) in dB, paired bootstrap over test signals."""
        a_tr, a_ch = self.err["inverse"]["train"][0], self.err["inverse"][case].mean(0)
        p_tr, p_ch = self.err["prior"]["train"][0], self.err["prior"][case].mean(0)

        def stat(a_tr, a_ch, p_tr, p_ch, axis=0):
            db = lambda e: 10 * np.log10(np.sum(e, axis=axis))  # noqa: E731
            return (db(a_ch) - db(a_tr)) - (db(p_ch) - db(p_tr))

        est, lo, hi = stats.bootstrap(stat, a_tr, a_ch, p_tr, p_ch, n_boot=self.n_boot, rng=np.random.default_rng(
            self.boot_seed + {"new": 1, "missing": 2}.get(case, 3)), paired=True, vectorized=True)
        return Estimate.interval(est, lo, hi, "paired bootstrap 95%", len(a_tr))

    def equal_depth(self) -> Estimate:
        """NMSE(inverse) - NMSE(prior, K steps) on the training operator, dB, paired bootstrap."""
        return U.nmse_db_difference(self.err["inverse"]["train"][0], self.err["prior, K steps"]["train"][0],
                                    n_boot=self.n_boot, seed=self.boot_seed + 7)

    def prior_exchangeable(self) -> Estimate:
        r"""NMSE of the prior under the training matrix minus the mean over the new Gaussian matrices, dB.

        Interval: the Student-t *prediction* interval of one more matrix,
        :math:`\pm t_{R-1}\, s\sqrt{1 + 1/R}` over the ``R`` new matrices, shifted to the difference.
        """
        from scipy import stats as sst

        v = self.nmse_per_operator("prior", "new")
        R = len(v)
        half = float(sst.t.ppf(0.975, R - 1)) * float(v.std(ddof=1)) * math.sqrt(1 + 1 / R)
        d = self.nmse_per_operator("prior", "train")[0] - float(v.mean())
        return Estimate.interval(d, d - half, d + half, "t 95% prediction interval over matrices", R)


def _gaussian_matrices(count: int, m: int, p: int, stream, dtype) -> torch.Tensor:
    g = make_generator(stream)
    return randn(count, m, p, generator=g, dtype=torch.float64, device="cpu").to(dtype) / math.sqrt(m)


def _reconstruct(A: torch.Tensor, Dict: torch.Tensor, y: torch.Tensor, lam: float, iters: int, accelerated: bool):
    """x_hat = Dict z_hat, z_hat by ISTA (iters steps) or FISTA (to iters) on the effective dictionary A Dict, batched over A."""
    eff = A @ Dict  # (R, m, K)
    R, T = A.shape[0], y.shape[1]
    op = MatrixOperator(eff.repeat_interleave(T, dim=0)) if R > 1 else MatrixOperator(eff[0])
    L = torch.linalg.matrix_norm(eff, ord=2).pow(2).repeat_interleave(T)
    solver = fista if accelerated else ista
    z = solver(op, y.reshape(R * T, -1), lam, iters=iters, L=L).x
    return (z @ Dict.T).reshape(R, T, -1)


def prior_vs_inverse(prior: Prior, *, measurements: int, noise: float, lam: float, layers: int, steps: int, lr: float,
                     scalar_lr: float = 2e-2, test_signals: int, new_operators: int, missing_fraction: float,
                     converged_iters: int = 1000, n_boot: int, stream, device: DeviceLike = "auto") -> PriorVsInverse:
    r"""(c) The learned prior against a learned inverse, on the training operator and on changed ones.

    Training operator :math:`A` (:math:`m\times p`, :math:`\mathcal N(0, 1/m)`); training pairs
    :math:`(Ax + \eta, x)` on the prior's own training signals. The inverse is LISTA on the effective
    dictionary :math:`A\hat D` with a learned linear decoder (:class:`ilib.unrolled.Decoded`), initialised as
    ``layers`` ISTA steps on :math:`A\hat D` followed by :math:`\hat D` (so it starts where the prior at equal
    depth is) and trained end to end on the NMSE of its output (Adam, float64). Test signals are fresh.
    Changed operators: ``new_operators`` fresh Gaussian matrices, and as many copies of :math:`A` with a
    fraction ``missing_fraction`` of its rows lost (those measurements are zero; the prior knows which).
    """
    dev = resolve_device(device)
    D0, Dh, x_tr = prior.D0, prior.D, prior.x_train
    p = D0.shape[0]
    f64 = torch.float64
    A = _gaussian_matrices(1, measurements, p, stream.child("A"), f64)
    g = make_generator(stream.child("noise"))
    y_tr = x_tr @ A[0].T + noise * randn(x_tr.shape[0], measurements, generator=g, dtype=f64, device="cpu")
    _, x_te = DL.planted_signals(D0, test_signals, prior.sparsity, noise=prior.noise, seed=stream.child("test"))
    A_new = _gaussian_matrices(new_operators, measurements, p, stream.child("new"), f64)
    keep = torch.rand(new_operators, measurements, generator=make_generator(stream.child("mask")), dtype=f64)
    mask = (keep.argsort(dim=1).argsort(dim=1) >= round(missing_fraction * measurements)).to(f64)  # exactly that many rows lost
    A_mis = A * mask.unsqueeze(-1)
    ops = {"train": A, "new": A_new, "missing": A_mis}
    eta = lambda R: noise * randn(R, test_signals, measurements, generator=g, dtype=f64, device="cpu")  # noqa: E731
    ys = {case: torch.einsum("rmp,tp->rtm", Aop, x_te) + eta(Aop.shape[0]) * (mask.unsqueeze(1) if case == "missing" else 1)
          for case, Aop in ops.items()}
    enc = U.LISTA(A[0] @ Dh, layers, lam)
    net = U.Decoded(enc, Dh)
    res = U.train(net, y_tr, x_tr, steps=steps, lr=lr, scalar_lr=scalar_lr, batch=min(256, x_tr.shape[0]),
                  objective="last", seed=stream.child("train inverse"))
    err = {m: {} for m in ("prior, K steps", "prior", "inverse", "oracle")}
    with torch.no_grad():
        for case, Aop in ops.items():
            y = ys[case]
            se = lambda xh: _np(((xh - x_te) ** 2).sum(-1))  # noqa: E731
            err["prior, K steps"][case] = se(_reconstruct(Aop, Dh, y, lam, layers, accelerated=False))
            err["prior"][case] = se(_reconstruct(Aop, Dh, y, lam, converged_iters, accelerated=True))
            err["oracle"][case] = se(_reconstruct(Aop, D0, y, lam, converged_iters, accelerated=True))
            err["inverse"][case] = se(torch.stack([net(y[r]) for r in range(y.shape[0])]))
    return PriorVsInverse(err=err, norm=_np((x_te**2).sum(-1)), layers=layers, train_loss=res.per_model.numpy()[:, 0],
                          n_boot=n_boot, boot_seed=_boot_seed(stream.child("bootstrap")))


# --------------------------------------------------------------------------- (d): Moreau & Bruna's factorisation
@dataclass(frozen=True)
class Factorisation:
    r"""Gaps :math:`F(z_k) - F^*` of ISTA and of factorised iterations with several :math:`(A, S)`, per signal.

    ``gaps[name]``: ``(iters + 1, signals)``; ``bound[name]``: the right-hand side of the averaged surrogate bound
    after ``k`` steps (see :func:`factorisation`), same shape; ``quantities[name]``: :math:`\lambda_{\min}(R)`,
    :math:`\|R\|` and the mean :math:`\delta_A(z^*)`; ``ista_diff``: largest gap between the factorised step with
    :math:`A = I, S = L` and ISTA.
    """

    gaps: dict
    bound: dict
    avg_gap: dict
    quantities: dict
    ista_diff: float
    n_boot: int
    boot_seed: int

    def worst_bound_ratio(self) -> float:
        """The largest (average gap after k steps) / (its bound) over choices, k >= 1 and signals."""
        return float(max((self.avg_gap[n][1:] / self.bound[n][1:]).max() for n in self.gaps))

    def log_gap_ratio(self, a: str, b: str) -> Estimate:
        """log10 of the mean final gap of ``a`` over that of ``b``, paired bootstrap over signals."""
        stat = lambda u, v, axis=0: np.log10(np.mean(u, axis=axis) / np.mean(v, axis=axis))  # noqa: E731
        est, lo, hi = stats.bootstrap(stat, self.gaps[a][-1], self.gaps[b][-1], n_boot=self.n_boot,
                                      rng=np.random.default_rng(self.boot_seed), paired=True, vectorized=True)
        return Estimate.interval(est, lo, hi, "paired bootstrap 95%", self.gaps[a].shape[1])


def factorisation(dims: int, atoms: int, sparsity: int, *, noise: float, lam: float, iters: int, signals: int,
                  n_boot: int, stream, device: DeviceLike = "auto") -> Factorisation:
    r"""(d) Moreau & Bruna (2017): the factorised step for three :math:`(A, S)` with :math:`R = A^\top SA - D^\top D \succeq 0`.

    * ``"ISTA"``: :math:`A = I`, :math:`S = L` (so :math:`\delta_A = 0`, :math:`R = LI - D^\top D`);
    * ``"diagonal"``: :math:`A = I`, :math:`S_i = \sum_j |B_{ij}|` (Gershgorin: :math:`S \succeq B`), a diagonal
      preconditioner, still :math:`\delta_A = 0`;
    * ``"eigenbasis"``: :math:`A` the eigenvectors of :math:`B = D^\top D`, :math:`S` its eigenvalues plus
      :math:`10^{-9}L` (so :math:`R \approx 0`, but :math:`\delta_A` large for sparse codes).

    For each, with :math:`z_0 = 0` and the step's surrogate, our derivation of their bound:
    :math:`\frac1k\sum_{j=1}^k (F(z_j) - F^*) \le \frac1k\big[\tfrac12\|A(z^* - z_0)\|_S^2 + \sum_{j=1}^k (\delta_A(z^*) - \delta_A(z_j))\big]`.
    """
    D = gaussian_atoms(dims, atoms, seed=stream.child("D"))
    _, y = DL.planted_signals(D, signals, sparsity, noise=noise, seed=stream.child("signals"))
    B = D.T @ D
    L = float(torch.linalg.eigvalsh(B)[-1])
    z_star = U.lasso_reference(D, y, lam, iters=20000).x
    f_star = DL.lasso_cost(D, y, z_star, lam)
    ev, V = torch.linalg.eigh(B)
    eye = torch.eye(atoms, dtype=D.dtype)
    choices = {"ISTA": (eye, torch.full((atoms,), L, dtype=D.dtype)),
               "diagonal": (eye, B.abs().sum(1)),
               "eigenbasis": (V.T.contiguous(), ev.clamp_min(0) + 1e-9 * L)}
    gaps, bound, avg, quant = {}, {}, {}, {}
    for name, (A, S) in choices.items():
        z = torch.zeros_like(z_star)
        zs = [z]
        for _ in range(iters):
            z = U.factorised_step(D, y, z, lam, A, S)
            zs.append(z)
        Z = torch.stack(zs)
        gap = DL.lasso_cost(D, y, Z, lam) - f_star  # (iters+1, B)
        d_star = U.l1_distortion(A, z_star, lam)
        d_k = torch.stack([U.l1_distortion(A, zk, lam) for zk in zs])
        k = torch.arange(1, iters + 1, dtype=D.dtype).unsqueeze(1)
        start = 0.5 * (((z_star - zs[0]) @ A.T) ** 2 * S).sum(-1)
        rhs = (start + torch.cumsum(d_star - d_k[1:], dim=0)) / k
        gaps[name] = _np(gap)
        avg[name] = np.concatenate([_np(gap[:1]), _np(torch.cumsum(gap[1:], 0) / k)])
        bound[name] = np.concatenate([np.full((1, signals), np.inf), _np(rhs)])
        quant[name] = {**U.factorisation_quantities(D, A, S), "delta_star_mean": float(d_star.mean())}
    L_t = torch.tensor(L, dtype=D.dtype)
    ista_path = ista(MatrixOperator(D), y, lam, iters=iters, L=L_t.reshape(1)).x
    z = torch.zeros_like(z_star)
    for _ in range(iters):
        z = U.factorised_step(D, y, z, lam, eye, torch.full((atoms,), L, dtype=D.dtype))
    return Factorisation(gaps=gaps, bound=bound, avg_gap=avg, quantities=quant, ista_diff=float((z - ista_path).abs().max()),
                         n_boot=n_boot, boot_seed=_boot_seed(stream.child("bootstrap")))


# --------------------------------------------------------------------------- claims
def _exact(v) -> Estimate:
    return Estimate.exact(float(v))


def _mean_ratio(a: str, b: str):
    def measure(r: GradientErrors) -> Estimate:
        rt = r.rates()
        return Estimate.mean(rt[a] / rt[b])
    return measure


REVERSE_MODE_MATCHES_FD = Claim(
    "unrolled_gradient_matches_finite_differences", kind="sanity",
    source="central differences of F(z_N(D + tE), D + tE), t = 1e-6, float64 (truncation O(t²), rounding O(1e-16/t))",
    statement="the closed-form reverse pass through N ISTA steps agrees with central finite differences in a random "
              "unit direction E: |FD - <g²_N, E>| <= 1e-6 ||g²_N|| (smallest, middle and largest N, every signal)",
    predict=lambda r: 1e-6, measure=lambda r: _exact(r.fd_rel_err), rule=AtMost(),
)
REVERSE_MODE_MATCHES_AUTOGRAD = Claim(
    "unrolled_gradient_matches_autograd", kind="sanity",
    source="ilib.dictionary.unrolled_gradient (theory notes, part 2, §3.2) against torch.autograd through ISTA",
    statement="the closed-form reverse pass equals autograd through the same ISTA steps (relative error at most 1e-10)",
    predict=lambda r: 1e-10, measure=lambda r: _exact(r.autograd_rel_err), rule=AtMost(),
)
CODES_AT_RESTRICTED_RATE = Claim(
    "ista_codes_converge_at_the_restricted_rate", kind="theorem",
    source="Bredies & Lorenz 2008; Liang, Fadili & Peyré 2014 (local linear convergence of forward-backward after "
           "support identification, rate 1 - μ_S/L); rates read on finite windows within 10%",
    statement="after support identification, ||z_N - z*|| decays at ISTA's restricted rate: fitted log-rate over "
              "log(1 - μ_S/L) = 1 (mean over signals)",
    predict=lambda r: 1.0, measure=_mean_ratio("z", "theory"), rule=Covers(rtol=RATE_RTOL),
)
ANALYTIC_GRADIENT_TRACKS_CODES = Claim(
    "analytic_gradient_error_tracks_the_codes", kind="sanity",
    source="||g¹_N - g*|| = O(||z_N - z*||): g¹ is Lipschitz in z on bounded sets (theory notes, part 2, §3.2)",
    statement="after support identification, ||g¹_N - g*|| decays at the rate of ||z_N - z*||: ratio of fitted "
              "log-rates = 1 (mean over signals, within 10%)",
    predict=lambda r: 1.0, measure=_mean_ratio("g1", "z"), rule=Covers(rtol=RATE_RTOL),
)
UNROLLED_GRADIENT_TWICE_AS_FAST = Claim(
    "unrolled_gradient_converges_twice_as_fast", kind="theorem",
    source="Malézieux, Moreau & Kowalski 2022, Sec. 3 (after support identification the Jacobian of z_N converges "
           "linearly and g²_N converges twice as fast as g¹_N); rates read on finite windows within 10%",
    statement="after support identification, ||g²_N - g*|| decays twice as fast as ||g¹_N - g*||: ratio of fitted "
              "log-rates = 2 (mean over signals)",
    predict=lambda r: 2.0, measure=_mean_ratio("g2", "g1"), rule=Covers(rtol=RATE_RTOL),
)
UNROLLED_NO_BETTER_BEFORE = Claim(
    "unrolled_gradient_no_better_before_identification", kind="finding",
    source="theory notes, part 2, §3.1 [MEM reading of Malézieux et al. 2022: before support identification the "
           "unrolled gradient can be worse]",
    statement="before its support is identified, a signal's unrolled gradient is no closer to g* than the analytic "
              "one: mean over the iterations before identification of log10(||g²_N - g*|| / ||g¹_N - g*||) >= 0 "
              "(t interval over signals)",
    predict=lambda r: 0.0, measure=lambda r: Estimate.mean(r.before_identification()), rule=AtLeast(),
)
DL_MONOTONE = Claim(
    "dictionary_learning_lowers_its_objective", kind="sanity",
    source="alternating minimisation with majorising steps in each block (Beck & Teboulle 2009, Lemma 2.3)",
    statement="the dictionary-learning objective never increases from one iteration to the next "
              "(largest relative increase at most 1e-12)",
    predict=lambda r: 1e-12, measure=lambda r: _exact(r.learned.largest_increase), rule=AtMost(),
)
ATOMS_RECOVERED = Claim(
    "learned_dictionary_recovers_the_planted_atoms", kind="finding",
    source="Aharon, Elad & Bruckstein 2006, Sec. V-A (the recovery test, 1 - |<d̂, d0>| < 0.01); here Lasso-based "
           "alternating minimisation instead of K-SVD",
    statement="the dictionary learned from signals alone recovers at least 90% of the planted atoms",
    predict=lambda r: 0.9, measure=lambda r: Estimate.binomial(int(r.recovered.sum()), len(r.recovered)), rule=AtLeast(),
)
INVERSE_BEATS_PRIOR_AT_EQUAL_DEPTH = Claim(
    "learned_inverse_beats_ista_at_equal_depth", kind="theorem",
    source="Gregor & LeCun 2010 (LISTA reaches in K layers what ISTA needs many more iterations for, on the "
           "distribution it was trained on)",
    statement="on the training operator, the learned inverse (K layers) has a significantly lower NMSE than K ISTA "
              "iterations on the learned prior",
    predict=lambda r: 0.0, measure=lambda r: r.equal_depth(), rule=Below(),
)
PRIOR_REUSED = Claim(
    "learned_prior_transfers_to_new_gaussian_matrices", kind="sanity",
    source="exchangeability: the prior was learned from signals alone, so every Gaussian matrix is a fresh draw for it",
    statement="the prior's NMSE under the training matrix lies within the prediction interval of its NMSE under "
              "fresh Gaussian matrices (difference 0)",
    predict=lambda r: 0.0, measure=lambda r: r.prior_exchangeable(), rule=Covers(),
)
INVERSE_IS_BRITTLE = Claim(
    "learned_inverse_loses_more_when_the_operator_changes", kind="finding",
    source="the brittleness of supervised end-to-end inversion warned of in the source talk; measured here",
    statement="changing the measurement operator at test time costs the learned inverse significantly more NMSE (dB) "
              "than the learned prior reused with the new operator",
    predict=lambda r: 0.0, measure=lambda r: r[0].brittleness(r[1]), rule=Above(),
    detail=lambda r: {"inverse_loss_db": r[0].loss("inverse", r[1]), "prior_loss_db": r[0].loss("prior", r[1])},
)
FACTORISED_IS_ISTA = Claim(
    "factorised_step_with_identity_is_ista", kind="sanity",
    source="Moreau & Bruna 2017, Sec. 2 (A = I, S = L·I gives ISTA)",
    statement="the factorised iteration with A = I and S = L reproduces ISTA (largest difference at most 1e-12)",
    predict=lambda r: 1e-12, measure=lambda r: _exact(r.ista_diff), rule=AtMost(),
)
FACTORISATION_BOUND = Claim(
    "factorised_iteration_obeys_its_surrogate_bound", kind="sanity",
    source="Moreau & Bruna 2017, Sec. 2 (F ≤ surrogate − δ_A when R = AᵀSA − DᵀD ⪰ 0); the averaged bound is this "
           "notebook's derivation",
    statement="for every (A, S) with R ⪰ 0, (1/k) Σ_j (F(z_j) - F*) <= (1/k)[½||A(z* - z_0)||²_S + Σ_j (δ_A(z*) - δ_A(z_j))] "
              "at every k and on every signal (largest ratio at most 1)",
    predict=lambda r: 1.0 + 1e-9, measure=lambda r: _exact(r.worst_bound_ratio()), rule=AtMost(),
)
NO_GAIN_FROM_EIGENBASIS = Claim(
    "eigenbasis_factorisation_does_not_accelerate_on_gaussian_d", kind="finding",
    source="Moreau & Bruna 2017 (acceleration needs B ≈ AᵀSA with A nearly ℓ1-preserving; for a generic Gaussian "
           "dictionary the exact factorisation distorts ℓ1 too much) [MEM wording]",
    statement="on a Gaussian dictionary, the exact factorisation (eigenbasis, R ≈ 0) ends with a Lasso gap no smaller "
              "than ISTA's after as many iterations (log10 of the gap ratio >= 0)",
    predict=lambda r: 0.0, measure=lambda r: r.log_gap_ratio("eigenbasis", "ISTA"), rule=AtLeast(),
)
