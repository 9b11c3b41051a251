r"""Notebook 08: learned unrolled sparse coding (ISTA, FISTA, LISTA, LISTA-CPSS, ALISTA, SLISTA).

Sections, each one function returning a frozen result:

* (a) :func:`coherence` and :func:`theorem1`: ALISTA's analytic weight matrix
  :math:`\tilde W` (Liu, Chen, Wang & Yin, ICLR 2019, eq. 17), its generalised
  coherence :math:`\tilde\mu`, and Theorem 1's linear rate on codes sparse enough
  for it, :math:`s < (1 + 1/\tilde\mu)/2`, with the theorem's thresholds;
* (b) :func:`benchmark`: NMSE against layer on the ALISTA benchmark (their Fig. 1),
  the Lasso solution's NMSE, and the learned ALISTA thresholds against
  :math:`\tilde\mu\|x^k - x^*\|_1` (their Figs. 2-3);
* (c) :func:`lasso_depth`: :math:`F(x^d) - F^\star` of networks trained on the Lasso
  cost, one network per depth :math:`d` (Ablin, Moreau, Massias & Gramfort,
  NeurIPS 2019, Fig. 6);
* (d) :func:`step_tracking`: SLISTA's learned steps against :math:`1/L_S` (their Fig. 4);
* (e) :func:`coupled_layers`: the deep layers of a coupled LISTA approach ISTA with a
  learned step, :math:`W^k \to \alpha^k D` (their Thm. 4.4 and Fig. 5).

Every network stack of a section trains in one loop (:func:`ilib.unrolled.train`):
the SNR conditions of (b), the depths and both Lasso weights of (c), the replicates
of (e). Training is float32 with the runner's thread count; Lasso gaps are evaluated
in float64. Intervals are bootstrap intervals over test signals (resampled with the
section's own stream) unless stated otherwise.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from .. import stats
from .. import unrolled as U
from ..claims import AtMost, Above, Below, Claim, Covers, Estimate
from ..device import DeviceLike, SeedLike, make_generator, resolve_device
from ..profile import Profile as _Profile
from ..profile import param

NOTEBOOK = "08_unrolled_sparse_coding"
NETS = ("LISTA", "LISTA-CPSS", "ALISTA", "SLISTA")
FIG1_NETS = ("LISTA", "LISTA-CPSS", "ALISTA")  # the networks of Liu et al.'s Fig. 1 that we build
FAR_DB = 10.0  # "far lower": a tenfold lower MSE (see FAR_BELOW_CLASSICAL_NOISELESS)
TRACK_TOL = math.log(1.25)  # the step-tracking tolerance, fixed before any run on the harness


# --------------------------------------------------------------------------- parameters
#: the papers' fixed settings (not parameters: the figures they reproduce fix them)
NET_LAM = 0.4  # lambda setting the initial thresholds lam / L of LISTA, LISTA-CPSS and ALISTA (ALISTA's code)
BATCH = 64  # mini-batch of the ALISTA benchmark (ALISTA's code)
LASSO_DIMS, LASSO_ATOMS = 64, 256  # Ablin et al.'s Fig. 6
FIG4 = dict(n_dims=10, n_atoms=20, reg=0.2, layers=20, gd_steps=100)  # Ablin et al.'s Fig. 4 (plot_learned_steps.py)
FIG5 = dict(n_dims=10, n_atoms=20, reg=0.05, layers=40, lr=1e-3)  # Ablin et al.'s Fig. 5 (plot_dict_similarity.py)


@dataclass(frozen=True)
class Profile(_Profile):
    """Parameters of notebook 08 (each declared once; see :mod:`ilib.profile`)."""

    m: int = param(smoke=50, paper=250, lo=1, doc="rows of D (measurements), ALISTA benchmark")
    n: int = param(smoke=100, paper=500, lo=2, doc="columns of D (code length)")
    sparsity: float = param(smoke=0.1, paper=0.1, lo=0, hi=1, lo_open=True, doc="Bernoulli probability of a non-zero code entry")
    layers: int = param(smoke=6, paper=16, lo=1, doc="depth K of the networks (and iterations of ISTA and FISTA)")
    train_samples: int = param(smoke=500, paper=20000, lo=1, doc="training codes per SNR")
    test_samples: int = param(smoke=200, paper=1000, lo=2, doc="test codes per SNR, and test signals of (c)")
    snr_values: tuple[float, ...] = param(smoke=(40.0, 20.0), paper=(40.0, 20.0), lo=0,
                                          doc="SNRs in dB, besides the noiseless case")
    lam_values: tuple[float, ...] = param(smoke=(0.1, 0.4), paper=(0.05, 0.1, 0.4), lo=0, lo_open=True,
                                          doc="Lasso weights tried for ISTA and FISTA (the best at depth K is drawn)")
    slista_lam: float = param(smoke=0.1, paper=0.1, lo=0, lo_open=True, doc="the Lasso weight of SLISTA on the benchmark")
    bench_steps: int = param(smoke=20, paper=300, lo=1, doc="Adam steps of each network stack on the benchmark")
    lista_lr: float = param(smoke=2e-4, paper=2e-4, lo=0, lo_open=True, doc="Adam rate of the weight matrices of LISTA")
    cpss_lr: float = param(smoke=1e-3, paper=1e-3, lo=0, lo_open=True, doc="Adam rate of the weight matrices of LISTA-CPSS")
    scalar_lr: float = param(smoke=2e-2, paper=2e-2, lo=0, lo_open=True,
                             doc="Adam rate of the per-layer scalars (log thresholds, log steps)")
    theorem_codes: int = param(smoke=100, paper=1000, lo=1, doc="codes in the check of ALISTA's Theorem 1")
    lam_ratio_values: tuple[float, ...] = param(smoke=(0.1, 0.8), paper=(0.1, 0.8), lo=0, hi=1, lo_open=True,
                                                doc="lambda / lambda_max in the Lasso-depth experiment (c)")
    lasso_depths: tuple[int, ...] = param(smoke=(1, 2, 4), paper=(1, 2, 4, 7, 12, 20, 30), lo=1,
                                          doc="depths of the networks of (c), one network each")
    lasso_train_samples: int = param(smoke=500, paper=5000, lo=1, doc="training signals of (c)")
    lasso_steps: int = param(smoke=20, paper=250, lo=1, doc="Adam steps of each network stack of (c)")
    lasso_lr: float = param(smoke=1e-4, paper=1e-4, lo=0, lo_open=True, doc="Adam rate of LISTA's matrices in (c)")
    fig_samples: int = param(smoke=300, paper=1000, lo=2, doc="training (and test) signals of (d) and (e) (Ablin: 1000)")
    coupled_replicates: int = param(smoke=3, paper=4, lo=2, doc="coupled networks of (e), one training set each")
    coupled_steps: int = param(smoke=50, paper=1000, lo=1, doc="Adam steps of the coupled networks of (e)")
    boot: int = param(smoke=200, paper=1000, lo=10, doc="bootstrap replicates of the intervals")

    def relations(self) -> None:
        self.require(self.m <= self.n, "m", f"must be at most n = {self.n} (the analytic weights need D D^T invertible)")
        self.require(len(set(self.lasso_depths)) == len(self.lasso_depths), "lasso_depths", "must not repeat a depth")

    def memory_bytes(self) -> int:
        """Training codes and signals of (b) (float32, all SNRs) and LISTA's weight stacks with Adam's moments."""
        conds = 1 + len(self.snr_values)
        data = 4 * conds * self.train_samples * (self.m + self.n)
        lista = 4 * 4 * conds * self.layers * (self.n * self.n + self.m * self.n)
        return int(2 * (data + lista))


# --------------------------------------------------------------------------- helpers
def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().double().cpu().numpy()


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def _boot_seed(stream: SeedLike) -> int:
    return int(torch.randint(0, 2**62, (1,), generator=make_generator(stream)))


def _db_ratio(err_a, err_b, axis=0):
    """10 log10(sum err_a / sum err_b) along ``axis`` (paired samples)."""
    return 10 * np.log10(np.sum(err_a, axis=axis) / np.sum(err_b, axis=axis))


nmse_difference = U.nmse_db_difference


# --------------------------------------------------------------------------- (a): coherence and Theorem 1
@dataclass(frozen=True)
class Coherence:
    r"""The analytic ALISTA weights for the benchmark dictionary: coherences, constraint, Frobenius objective."""

    m: int
    n: int
    mu_D: float
    mu_W: float
    diag_err: float
    fro2_WtD: float
    fro2_DtD: float
    L: float
    off_D: np.ndarray  # |d_i^T d_j|, i != j
    off_W: np.ndarray  # |w_i^T d_j|, i != j

    @property
    def s_max(self) -> int:
        """The largest sparsity Theorem 1 covers at this coherence."""
        return U.theorem1_sparsity(self.mu_W)


def coherence(m: int, n: int, *, stream: SeedLike, device: DeviceLike = "auto") -> Coherence:
    r"""(a) :math:`\tilde W` (closed form of Liu et al.'s eq. 17, float64) for the benchmark's :math:`D`.

    ``D`` (``m x n``, :math:`\mathcal N(0, 1/m)`, unit columns) is drawn from ``stream``;
    the same stream gives the same ``D`` in :func:`benchmark`.
    """
    D = U.gaussian_dictionary(m, n, seed=stream, dtype=torch.float64, device="cpu")
    W = U.analytic_weights(D)
    off = ~torch.eye(n, dtype=torch.bool)
    return Coherence(
        m=m, n=n, mu_D=U.mutual_coherence(D), mu_W=U.generalized_coherence(W, D),
        diag_err=float(((W * D).sum(0) - 1).abs().max()), fro2_WtD=float((W.T @ D).norm() ** 2),
        fro2_DtD=float((D.T @ D).norm() ** 2), L=float(U.lipschitz(D)),
        off_D=_np((D.T @ D).abs()[off]), off_W=_np((W.T @ D).abs()[off]))


@dataclass(frozen=True)
class Theorem1:
    r"""ALISTA with Theorem 1's thresholds on ``codes`` noiseless ``s``-sparse codes, for each step size ``gamma``.

    ``l2`` (``len(gammas), K+1, codes``) holds :math:`\|x^k - x^*\|_2`; ``false_pos`` the
    largest number of entries outside the support over codes, per ``gamma`` and layer.
    """

    mu: float
    s: int
    B: float
    gammas: tuple[float, ...]
    l2: np.ndarray
    l1_sup: np.ndarray  # (len(gammas), K+1): max over codes of ||x^k - x*||_1
    false_pos: np.ndarray  # (len(gammas), K+1)

    def rate(self, g: int) -> float:
        return U.theorem1_rate(self.mu, self.s, self.gammas[g])

    def bound(self, g: int) -> np.ndarray:
        r"""Theorem 1's bound :math:`sB\,e^{-ck}` at every layer ``k = 0..K``."""
        return self.s * self.B * self.rate(g) ** np.arange(self.l2.shape[1])

    def worst_ratio(self) -> float:
        """The largest ||x^k - x*||_2 / (s B e^{-ck}) over step sizes, layers k >= 1 and codes.

        (At k = 0 the bound, ||x*||_2 <= ||x*||_1 <= sB, holds with equality for a 1-sparse code of magnitude B.)
        """
        return float(max((self.l2[g, 1:] / self.bound(g)[1:, None]).max() for g in range(len(self.gammas))))

    def measured_rate(self, g: int) -> float:
        """The per-layer factor of the fitted line through log max_b ||x^k - x*||_1 (layers above 1e-12 of the start)."""
        v = self.l1_sup[g]
        k = np.arange(len(v))
        ok = v > 1e-12 * v[0]
        return float(np.exp(stats.linear_fit(k[ok], np.log(v[ok])).slope))


def theorem1(m: int, n: int, layers: int, *, codes: int, gammas: Sequence[float] = (1.0,), stream: SeedLike,
             device: DeviceLike = "auto") -> Theorem1:
    r"""(a) Liu et al. (2019), Thm. 1, on the benchmark dictionary (from ``stream``, as :func:`coherence`).

    Codes have exactly :math:`s = s_{\max}` non-zeros (at least 1), :math:`s_{\max}` the largest
    integer below :math:`(1 + 1/\tilde\mu)/2`, with standard Gaussian values; :math:`B` is their
    largest magnitude. Thresholds :math:`\theta^k = \gamma\tilde\mu\max_b\|x^k_b - x^*_b\|_1`
    (:func:`ilib.unrolled.theorem1_path`), float64, noiseless.
    """
    D = U.gaussian_dictionary(m, n, seed=stream, dtype=torch.float64, device="cpu")
    W = U.analytic_weights(D)
    mu = U.generalized_coherence(W, D)
    s = max(1, U.theorem1_sparsity(mu))
    g = make_generator(stream.child("codes"))
    idx = torch.argsort(torch.rand(codes, n, generator=g), dim=1)[:, :s]
    x = torch.zeros(codes, n, dtype=torch.float64).scatter_(1, idx, torch.randn(codes, s, generator=g, dtype=torch.float64))
    supp = x != 0
    l2, l1, fp = [], [], []
    for gam in gammas:
        xs, _ = U.theorem1_path(D, x, layers, W=W, gamma=gam)
        l2.append(_np((xs - x).norm(dim=-1)))
        l1.append(_np((xs - x).abs().sum(-1).max(dim=-1).values))
        fp.append(_np(((xs != 0) & ~supp).sum(-1).max(dim=-1).values))
    return Theorem1(mu=mu, s=s, B=float(x.abs().max()), gammas=tuple(float(v) for v in gammas), l2=np.stack(l2),
                    l1_sup=np.stack(l1), false_pos=np.stack(fp))


# --------------------------------------------------------------------------- (b): the ALISTA benchmark
@dataclass(frozen=True)
class Benchmark:
    r"""NMSE (dB) against layer on the ALISTA benchmark, for every condition (noiseless, then ``snr_values``).

    ``classical[method]``: ``(conditions, len(lam_values), K+1)``; ``learned[net]``: ``(conditions, K+1)``;
    ``err[name]``: per-code squared errors at depth K, ``(conditions, test)`` (ISTA and FISTA at their
    best :math:`\lambda`, ``"Lasso"`` the Lasso solution at ``slista_lam``); ``alista_*`` the learned
    ALISTA's :math:`\gamma^k, \theta^k` and the test codes' :math:`\ell_1` errors per layer.
    """

    snr_values: tuple
    layers: int
    lam_values: tuple[float, ...]
    slista_lam: float
    classical: dict
    learned: dict
    lasso_nmse: np.ndarray
    err: dict
    norm: np.ndarray
    mu: float
    alista_gamma: np.ndarray
    alista_theta: np.ndarray
    alista_l1_mean: np.ndarray
    alista_l1_max: np.ndarray
    lasso_iters: tuple[int, ...]
    train_seconds: dict
    train_loss: dict
    n_boot: int
    boot_seed: int

    @property
    def labels(self) -> list[str]:
        return ["noiseless" if s is None else f"SNR {s:g} dB" for s in self.snr_values]

    def best_lam(self, method: str) -> list[float]:
        """The Lasso weight with the lowest NMSE at depth K, per condition."""
        return [self.lam_values[int(np.argmin(self.classical[method][c, :, -1]))] for c in range(len(self.snr_values))]

    def best(self, method: str) -> np.ndarray:
        """``(conditions, K+1)``: the NMSE curve at the best Lasso weight."""
        return np.stack([self.classical[method][c, int(np.argmin(self.classical[method][c, :, -1]))]
                         for c in range(len(self.snr_values))])

    def best_classical(self, c: int) -> str:
        """ISTA or FISTA, whichever ends lower at depth K in condition ``c``."""
        return min(("ISTA", "FISTA"), key=lambda mth: self.best(mth)[c, -1])

    def gap_to_classical(self, net: str, c: int) -> Estimate:
        """NMSE(net, depth K) - NMSE(best of ISTA and FISTA, depth K) in dB, paired bootstrap over test codes."""
        return nmse_difference(self.err[net][c], self.err[self.best_classical(c)][c], n_boot=self.n_boot,
                               seed=self.boot_seed + c)

    def late_loss_change(self, net: str, c: int = 0) -> float:
        """How much ``net``'s training loss moved from the second-last to the last tenth of its steps (dB), condition ``c``."""
        tl = np.asarray(self.train_loss[net])[:, c]
        tenth = max(1, len(tl) // 10)
        return float(tl[-tenth:].mean() - tl[-2 * tenth:-tenth].mean())

    def threshold_fit(self, c: int = 0) -> "stats.SlopeFit":
        r"""Log-log line of the learned :math:`\theta^k/\gamma^k` against :math:`\max_b\|x^k - x^*\|_1`, layers 0..K-1."""
        return stats.loglog_fit(self.alista_l1_max[c, :-1], self.alista_theta[c] / self.alista_gamma[c])


def _benchmark_data(D, conds, samples, p, stream, dtype, dev):
    x = torch.stack([U.bernoulli_gaussian(samples, D.shape[1], p, seed=stream.child(f"x {s}"), dtype=dtype, device=dev)
                     for s in conds])
    y = torch.stack([U.add_noise(x[i] @ D.T, s, seed=stream.child(f"noise {s}")) for i, s in enumerate(conds)])
    return x, y


def _classical_nmse(D, y, x, lam_values, layers):
    """ISTA and FISTA NMSE curves for every condition and Lasso weight, in one batched run each."""
    C, T, _ = y.shape
    lam = torch.tensor(lam_values, dtype=y.dtype, device=y.device).repeat_interleave(T).repeat(C)
    yy = y.unsqueeze(1).expand(C, len(lam_values), T, -1).reshape(-1, y.shape[-1])
    out, err = {}, {}
    for method in ("ista", "fista"):
        xs = U.solver_path(method, D, yy, lam, list(range(layers + 1))).iterates  # (K+1, C*L*T, n)
        xs = xs.reshape(layers + 1, C, len(lam_values), T, -1)
        e = ((xs - x.unsqueeze(1)) ** 2).sum(-1)  # (K+1, C, L, T)
        out[method.upper()] = _np(10 * torch.log10(e.sum(-1) / (x**2).sum((-2, -1)).view(1, C, 1))).transpose(1, 2, 0)
        err[method.upper()] = _np(e[-1])  # (C, L, T)
    return out, err


def benchmark(m: int, n: int, sparsity: float, layers: int, *, snr_values: Sequence[float], train_samples: int,
              test_samples: int, lam_values: Sequence[float], slista_lam: float, steps: int, lista_lr: float,
              cpss_lr: float, scalar_lr: float, n_boot: int, stream, coherence_stream, net_lam: float = NET_LAM,
              batch: int = BATCH, device: DeviceLike = "auto") -> Benchmark:
    r"""(b) The ALISTA benchmark (Liu et al. 2019, Fig. 1) with all SNR conditions stacked in each training.

    ``D`` comes from ``coherence_stream`` (the dictionary of (a)), float32. Per condition:
    Bernoulli–Gaussian codes, noise at :math:`\sigma = \mathrm{std}(y)10^{-\mathrm{SNR}/20}` per signal.
    ISTA and FISTA run for every :math:`\lambda`; the Lasso solution at ``slista_lam`` is FISTA
    with restarts to convergence (:func:`ilib.unrolled.lasso_reference`, float32, tolerance
    1e-5). Each network (``steps`` Adam steps) is one stack of one network per condition,
    trained with deep supervision (mean NMSE in dB over layers).
    """
    dev = resolve_device(device)
    f32 = torch.float32
    D = U.gaussian_dictionary(m, n, seed=coherence_stream, dtype=f32, device=dev)
    conds = (None,) + tuple(float(s) for s in snr_values)
    x_tr, y_tr = _benchmark_data(D, conds, train_samples, sparsity, stream.child("train"), f32, dev)
    x_te, y_te = _benchmark_data(D, conds, test_samples, sparsity, stream.child("test"), f32, dev)
    with torch.no_grad():
        classical, cerr = _classical_nmse(D, y_te, x_te, lam_values, layers)
        refs = [U.lasso_reference(D, y_te[c], slista_lam, iters=3000, tol=1e-5, dtype=f32) for c in range(len(conds))]
    lasso_err = np.stack([_np(((r.x - x_te[c]) ** 2).sum(-1)) for c, r in enumerate(refs)])
    norm = _np((x_te**2).sum(-1))
    nets = {"LISTA": (U.LISTA(D, layers, net_lam, models=len(conds)), lista_lr),
            "LISTA-CPSS": (U.LISTACP(D, layers, net_lam, models=len(conds), support_selection=True), cpss_lr),
            "ALISTA": (U.ALISTA(D, layers, net_lam, models=len(conds)), scalar_lr),
            "SLISTA": (U.SLISTA(D, layers, slista_lam, models=len(conds)), scalar_lr)}
    learned, err, seconds, losses = {}, {}, {}, {}
    for name, (net, lr) in nets.items():
        res = U.train(net, y_tr, x_tr, steps=steps, lr=lr, scalar_lr=scalar_lr, batch=batch,
                      seed=stream.child(f"train {name}"))
        with torch.no_grad():
            xs = net(y_te, return_all=True)  # (K+1, C, T, n)
        e = ((xs - x_te) ** 2).sum(-1)
        learned[name] = _np(10 * torch.log10(e.sum(-1) / (x_te**2).sum((-2, -1)))).T
        err[name] = _np(e[-1])
        seconds[name], losses[name] = res.seconds, res.per_model.numpy()
        if name == "ALISTA":
            l1 = (xs - x_te).abs().sum(-1)  # (K+1, C, T)
            alista = dict(gamma=_np(net.gammas), theta=_np(net.thresholds), l1_mean=_np(l1.mean(-1)).T,
                          l1_max=_np(l1.max(-1).values).T)
    best_err = {}
    for method in ("ISTA", "FISTA"):
        idx = classical[method][:, :, -1].argmin(axis=1)
        best_err[method] = np.stack([cerr[method][c, i] for c, i in enumerate(idx)])
    return Benchmark(
        snr_values=conds, layers=layers, lam_values=tuple(float(v) for v in lam_values), slista_lam=float(slista_lam),
        classical=classical, learned=learned,
        lasso_nmse=10 * np.log10(lasso_err.sum(1) / norm.sum(1)), err={**err, **best_err, "Lasso": lasso_err},
        norm=norm, mu=U.generalized_coherence(U.analytic_weights(D.double()), D.double()),
        alista_gamma=alista["gamma"], alista_theta=alista["theta"], alista_l1_mean=alista["l1_mean"],
        alista_l1_max=alista["l1_max"], lasso_iters=tuple(r.iters for r in refs), train_seconds=seconds,
        train_loss=losses, n_boot=n_boot, boot_seed=_boot_seed(stream.child("bootstrap")))


# --------------------------------------------------------------------------- (c): Lasso gap against depth
@dataclass(frozen=True)
class LassoDepth:
    r""":math:`F(x^d) - F^\star` (test mean) against depth :math:`d`, per :math:`\lambda/\lambda_{\max}` and method.

    ``gap[name]``: ``(len(ratios), len(depths))``; ``per_code[name]``: the per-signal gaps
    ``(len(ratios), len(depths), test)`` (for the bootstrap). ISTA, FISTA and oracle ISTA
    are read along one run; each network is its own network of depth ``d``. ``slista_*``:
    the deepest SLISTA's steps and the restricted constants :math:`L_S` of the supports of its
    layers' outputs on the test signals, per ratio. ``train_excess[name]``: ``(len(ratios), len(depths))``, the
    network's mean Lasso cost on its own training signals minus ISTA's there after as many iterations (LISTA and
    SLISTA start at ISTA, so for them a positive value is a network that ended above its start on the data it was
    fit to: the optimiser's failure, not over-fitting).
    """

    ratios: tuple[float, ...]
    depths: tuple[int, ...]
    gap: dict
    per_code: dict
    f_star: np.ndarray
    L: float
    slista_alpha: np.ndarray  # (len(ratios), K)
    slista_LS: np.ndarray  # (len(ratios), K, test)
    train_seconds: dict
    n_boot: int
    boot_seed: int
    train_excess: dict

    def above_ista(self, name: str, r: int) -> list[int]:
        """The depths at which ``name``'s mean test gap is above ISTA's (Lasso weight index ``r``)."""
        return [d for i, d in enumerate(self.depths) if self.gap[name][r, i] > self.gap["ISTA"][r, i]]

    def log_ratio(self, a: str, b: str, r: int, d: int) -> Estimate:
        r""":math:`\log_{10}` of the ratio of mean gaps of methods ``a`` and ``b`` at ratio index ``r``, depth index ``d``."""
        stat = lambda u, v, axis=0: np.log10(np.mean(u, axis=axis) / np.mean(v, axis=axis))  # noqa: E731
        est, lo, hi = stats.bootstrap(stat, self.per_code[a][r, d], self.per_code[b][r, d], n_boot=self.n_boot,
                                      rng=_rng(self.boot_seed + 31 * r + d), paired=True, vectorized=True)
        return Estimate.interval(est, lo, hi, "paired bootstrap 95%", self.per_code[a].shape[-1])

    def worst_log_ratio(self, a: str, b: str, r: int) -> Estimate:
        """The largest log10 gap ratio of ``a`` over ``b`` across depths (the depth where ``a`` fares worst)."""
        ests = [self.log_ratio(a, b, r, d) for d in range(len(self.depths))]
        return max(ests, key=lambda e: e.value)


def _stack_order(depths: Sequence[int], ratios: Sequence[float]) -> list[tuple[int, float]]:
    """(depth, ratio) pairs of a stack, deepest first (a stack needs non-increasing depths)."""
    return sorted(((d, r) for d in depths for r in ratios), key=lambda dr: -dr[0])


def _costs_on_grid(out: torch.Tensor, y: torch.Tensor, D: torch.Tensor, order, ratios, depths) -> np.ndarray:
    """The Lasso cost of each stacked network's output ``out`` ``(M, T, n)`` on ``y``, as ``(len(ratios),
    len(depths), T)``; network ``i`` has the (depth, ratio) ``order[i]``."""
    lam = torch.tensor([r for _, r in order], dtype=y.dtype, device=y.device).view(-1, 1)
    F = _np(0.5 * ((y - out @ D.T) ** 2).sum(-1) + lam * out.abs().sum(-1))
    grid = np.zeros((len(ratios), len(depths), y.shape[0]))
    for i, (d, r) in enumerate(order):
        grid[list(ratios).index(r), list(depths).index(d)] = F[i]
    return grid


def lasso_depth(*, ratios: Sequence[float], depths: Sequence[int], train_samples: int, test_samples: int, steps: int,
                lr: float, scalar_lr: float, n_boot: int, stream, n_dims: int = LASSO_DIMS, n_atoms: int = LASSO_ATOMS,
                batch: int = 128, device: DeviceLike = "auto") -> LassoDepth:
    r"""(c) Ablin et al. (2019), Fig. 6: one network per depth and Lasso weight, all of one kind in one stack.

    Simulated problems as in their code: :math:`D` Gaussian with unit columns, :math:`y = Dz`,
    :math:`z \sim \mathcal N(0, I)`, scaled to :math:`\lambda_{\max} = 1` (so :math:`\lambda` is the
    ratio). Networks: LISTA (Ablin et al.'s "coupled" form, LISTA-CP without support selection),
    ALISTA without support selection started at :math:`\gamma = 1/L`, SLISTA; loss: the mean
    Lasso cost of the output (their code's objective), float32. :math:`F^\star`: FISTA with
    restarts to convergence, float64; gaps evaluated in float64.
    """
    dev = resolve_device(device)
    D = U.gaussian_dictionary(n_dims, n_atoms, seed=stream.child("D"), dtype=torch.float32, device=dev)
    y_tr = U.lasso_signals(D, train_samples, seed=stream.child("train"))
    y_te = U.lasso_signals(D.double(), test_samples, seed=stream.child("test"))
    Dd, K = D.double(), max(depths)
    lam_te = torch.tensor(ratios, dtype=torch.float64, device=dev).repeat_interleave(test_samples)
    y_rep = y_te.repeat(len(ratios), 1)
    # one reference per weight: a large weight converges in far fewer iterations than a small one
    f_star = torch.stack([U.lasso_reference(Dd, y_te, r, iters=3000).objective[-1] for r in ratios])
    per_code, gap = {}, {}
    dep = sorted(set(depths))
    y_tr64 = y_tr.double()
    lam_tr = torch.tensor(ratios, dtype=torch.float64, device=dev).repeat_interleave(train_samples)
    with torch.no_grad():
        for method, label in (("ista", "ISTA"), ("fista", "FISTA"), ("oista", "oracle ISTA")):
            F = U.solver_path(method, Dd, y_rep, lam_te, [0] + dep).objective[1:]  # (len(dep), R*T)
            per_code[label] = _np(F.reshape(len(dep), len(ratios), test_samples).transpose(0, 1) - f_star.unsqueeze(1))
        F = U.solver_path("ista", Dd, y_tr64.repeat(len(ratios), 1), lam_tr, [0] + dep).objective[1:]
        ista_train = _np(F.reshape(len(dep), len(ratios), train_samples).mean(-1).T)  # (R, len(dep))
    train_excess = {}
    order = _stack_order(dep, ratios)
    L = float(U.lipschitz(D))
    kinds = {"LISTA": lambda: U.LISTACP(D, K, [r for _, r in order], models=len(order), depths=[d for d, _ in order]),
             "ALISTA": lambda: U.ALISTA(D, K, [r for _, r in order], models=len(order), depths=[d for d, _ in order],
                                        support_selection=False, gamma0=1.0 / L),
             "SLISTA": lambda: U.SLISTA(D, K, [r for _, r in order], models=len(order), depths=[d for d, _ in order])}
    seconds, alpha, LS = {}, None, None
    for name, make in kinds.items():
        net = make()
        res = U.train(net, y_tr, None, steps=steps, lr=lr if name == "LISTA" else scalar_lr, scalar_lr=scalar_lr,
                      batch=batch, objective="last", seed=stream.child(f"train {name}"))
        seconds[name] = res.seconds
        net64 = copy.deepcopy(net).double()
        with torch.no_grad():
            xs = net64(y_te, return_all=True)  # (K+1, M, T, n): SLISTA's supports need every layer
            out_tr = net64(y_tr64)  # (M, train, n): each network at its own depth
        out = torch.stack([xs[d, i] for i, (d, _) in enumerate(order)])
        per_code[name] = _costs_on_grid(out, y_te, Dd, order, ratios, dep) - _np(f_star)[:, None, :]
        train_excess[name] = _costs_on_grid(out_tr, y_tr64, Dd, order, ratios, dep).mean(-1) - ista_train
        if name == "SLISTA":
            deepest = [i for i, (d, _) in enumerate(order) if d == K]  # one per ratio, in order of `order`
            rows = {list(ratios).index(order[i][1]): i for i in deepest}
            alpha = np.stack([_np(net.steps[rows[r]]) for r in range(len(ratios))])
            LS = np.stack([np.stack([_np(U.restricted_lipschitz(Dd, xs[k + 1, rows[r]] != 0)) for k in range(K)])
                           for r in range(len(ratios))])
    gap = {k: v.mean(-1) for k, v in per_code.items()}
    return LassoDepth(ratios=tuple(float(r) for r in ratios), depths=tuple(dep), gap=gap, per_code=per_code,
                      f_star=_np(f_star), L=L, slista_alpha=alpha, slista_LS=LS, train_seconds=seconds, n_boot=n_boot,
                      boot_seed=_boot_seed(stream.child("bootstrap")), train_excess=train_excess)


# --------------------------------------------------------------------------- (d): SLISTA's steps against 1/L_S
@dataclass(frozen=True)
class StepTracking:
    r"""Learned steps :math:`\alpha^k` against the restricted constants :math:`L_S` of the layers' output supports.

    ``alpha`` ``(K,)`` and ``LS`` ``(K, test)`` (0 where the support is empty); layer ``k`` is
    1-based in the text: ``alpha[k-1]`` acts on :math:`x^{k-1}` and produces :math:`x^k`, whose support
    gives ``LS[k-1]`` (Ablin et al.'s figure script). ``label`` names the setting.
    """

    label: str
    alpha: np.ndarray
    LS: np.ndarray
    L: float
    n_boot: int
    boot_seed: int

    @property
    def layers(self) -> int:
        return len(self.alpha)

    @property
    def deep(self) -> np.ndarray:
        """The deep layers: k > K/2 (1-based)."""
        return np.arange(1, self.layers + 1) > self.layers / 2

    def median_LS(self, LS: np.ndarray | None = None) -> np.ndarray:
        LS = self.LS if LS is None else LS
        out = np.full(LS.shape[0], np.nan)
        for k in range(LS.shape[0]):
            v = LS[k][LS[k] > 0]
            if v.size:
                out[k] = np.median(v)
        return out

    def log_ratio(self) -> np.ndarray:
        r""":math:`\log(\alpha^k\,\mathrm{median}_b L_{S^k_b})` per layer."""
        return np.log(self.alpha * self.median_LS())

    def worst_deep(self) -> Estimate:
        r"""The largest :math:`|\log(\alpha^k\,\mathrm{median}\,L_S)|` over the deep layers, bootstrap over test signals."""
        deep = self.deep
        LS = np.where(self.LS > 0, self.LS, np.nan).T  # (test, K); an empty support has no restricted constant

        def stat(LS_t, axis=0):
            with np.errstate(all="ignore"):
                med = np.nanmedian(LS_t, axis=axis)[..., deep]
                return np.nanmax(np.abs(np.log(self.alpha[deep] * med)), axis=-1)

        est, lo, hi = stats.bootstrap(stat, LS, n_boot=self.n_boot, rng=_rng(self.boot_seed), vectorized=True)
        return Estimate.interval(est, lo, hi, "bootstrap 95%", self.LS.shape[1])


def step_tracking(samples: int, *, n_boot: int, stream, n_dims: int = FIG4["n_dims"], n_atoms: int = FIG4["n_atoms"],
                  reg: float = FIG4["reg"], layers: int = FIG4["layers"], gd_steps: int = FIG4["gd_steps"],
                  device: DeviceLike = "auto") -> StepTracking:
    r"""(d) Ablin et al. (2019), Fig. 4: SLISTA on ``n_dims x n_atoms`` problems at :math:`\lambda = ` ``reg`` :math:`\lambda_{\max}`.

    Trained as their figure script does: full batch, on the mean Lasso cost of the output
    ("oneshot"), by ``gd_steps`` accepted steps of gradient descent with their backtracking
    (:func:`ilib.unrolled.train` with ``optimizer="gd"``), from ISTA, float32; the supports are
    those of its layers on as many test signals.
    """
    dev = resolve_device(device)
    D = U.gaussian_dictionary(n_dims, n_atoms, seed=stream.child("D"), dtype=torch.float32, device=dev)
    y_tr = U.lasso_signals(D, samples, seed=stream.child("train"))
    y_te = U.lasso_signals(D.double(), samples, seed=stream.child("test"))
    net = U.SLISTA(D, layers, reg)
    U.train(net, y_tr, None, steps=gd_steps, lr=1.0, objective="last", optimizer="gd")
    return step_tracking_of(f"{n_dims}x{n_atoms}, λ = {reg:g} λmax, {layers} layers", net, y_te, n_boot=n_boot,
                            seed=_boot_seed(stream.child("bootstrap")))


def step_tracking_of(label: str, net: U.SLISTA, y_test: torch.Tensor, *, n_boot: int, seed: int) -> StepTracking:
    """The steps of a trained one-network SLISTA and the :math:`L_S` of its layers' output supports on ``y_test``."""
    with torch.no_grad():
        net64 = copy.deepcopy(net).double()
        xs = net64(y_test.double(), return_all=True)
    D = net64.D
    LS = np.stack([_np(U.restricted_lipschitz(D, xs[k + 1] != 0)) for k in range(net.layers)])
    return StepTracking(label=label, alpha=_np(net.steps[0]), LS=LS, L=float(U.lipschitz(D)), n_boot=n_boot,
                        boot_seed=seed)


def tracking_from_depth(res: LassoDepth, r: int, *, seed: int) -> StepTracking:
    """The step tracking of the deepest SLISTA of (c) at ratio index ``r``."""
    return StepTracking(label=f"{res.ratios[r]:g} λmax, {max(res.depths)} layers (Lasso-depth experiment)",
                        alpha=res.slista_alpha[r], LS=res.slista_LS[r], L=res.L, n_boot=res.n_boot, boot_seed=seed)


# --------------------------------------------------------------------------- (e): coupled LISTA's deep layers
@dataclass(frozen=True)
class CoupledLayers:
    r"""Per layer and replicate, Ablin et al.'s :math:`r^k = \|W^k - (\theta^k/\lambda)D\|_F / \|(\theta^k/\lambda)D\|_F`."""

    residual: np.ndarray  # (replicates, K)
    gap_net: np.ndarray  # (replicates,) F(x^K) - F* of the networks, test mean
    gap_ista: float  # ISTA's after K iterations
    reg: float

    @property
    def layers(self) -> int:
        return self.residual.shape[1]

    def quarter_ratio(self) -> np.ndarray:
        """Mean residual over the last quarter of the layers over the mean over the first quarter, per replicate."""
        q = max(1, self.layers // 4)
        return self.residual[:, -q:].mean(1) / self.residual[:, :q].mean(1)


def coupled_layers(replicates: int, samples: int, *, steps: int, scalar_lr: float, stream, n_dims: int = FIG5["n_dims"],
                   n_atoms: int = FIG5["n_atoms"], reg: float = FIG5["reg"], layers: int = FIG5["layers"],
                   lr: float = FIG5["lr"], device: DeviceLike = "auto") -> CoupledLayers:
    r"""(e) Ablin et al. (2019), Fig. 5: coupled LISTA (LISTA-CP, no support selection) of ``layers`` layers.

    ``replicates`` networks, one per training set of ``samples`` signals of the same
    ``D``, stacked and trained together on the mean Lasso cost of the output (float32,
    initialised at ISTA, so every :math:`r^k` starts at 0).
    """
    dev = resolve_device(device)
    D = U.gaussian_dictionary(n_dims, n_atoms, seed=stream.child("D"), dtype=torch.float32, device=dev)
    y_tr = torch.stack([U.lasso_signals(D, samples, seed=stream.child(f"train {i}")) for i in range(replicates)])
    y_te = U.lasso_signals(D.double(), samples, seed=stream.child("test"))
    net = U.LISTACP(D, layers, reg, models=replicates)
    U.train(net, y_tr, None, steps=steps, lr=lr, scalar_lr=scalar_lr, batch=min(256, samples), objective="last",
            seed=stream.child("train"))
    Dd = D.double()
    with torch.no_grad():
        f_star = U.lasso_reference(Dd, y_te, reg, iters=4000).objective[-1]
        out = copy.deepcopy(net).double()(y_te)  # (R, T, n)
        F = 0.5 * ((y_te - out @ Dd.T) ** 2).sum(-1) + reg * out.abs().sum(-1)
        f_ista = U.solver_path("ista", Dd, y_te, reg, [layers]).objective[-1]
    return CoupledLayers(residual=_np(net.coupling_residual()), gap_net=_np((F - f_star).mean(-1)),
                         gap_ista=float((f_ista - f_star).mean()), reg=float(reg))


# --------------------------------------------------------------------------- claims
def _exact(v) -> Estimate:
    return Estimate.exact(float(v))


W_CONSTRAINT = Claim(
    "analytic_w_meets_its_constraint", kind="sanity",
    source="Liu, Chen, Wang & Yin 2019, eq. 17; closed form derived in ilib.unrolled.analytic_weights",
    statement="the closed-form W̃ satisfies diag(W̃ᵀD) = 1 to rounding (max |w_iᵀd_i - 1| <= 1e-10)",
    predict=lambda r: 1e-10, measure=lambda r: _exact(r.diag_err), rule=AtMost(),
)
W_FROBENIUS = Claim(
    "analytic_w_lowers_the_frobenius_objective", kind="sanity",
    source="Liu et al. 2019, eq. 17 (W = D is feasible, so the minimiser can only be lower)",
    statement="||W̃ᵀD||_F² <= ||DᵀD||_F² (ratio at most 1)",
    predict=lambda r: 1.0, measure=lambda r: _exact(r.fro2_WtD / r.fro2_DtD), rule=AtMost(),
)
LOWER_COHERENCE = Claim(
    "analytic_w_lowers_the_coherence", kind="finding",
    source="Liu et al. 2019, Def. 1 and eq. 17 (a Frobenius surrogate of the coherence; nothing guarantees the maximum drops)",
    statement="the analytic W̃ has a lower generalised coherence than D: μ̃(W̃, D) / μ(D) < 1",
    predict=lambda r: 1.0, measure=lambda r: _exact(r.mu_W / r.mu_D), rule=Below(),
    detail=lambda r: {"mu_D": r.mu_D, "mu_W": r.mu_W, "s_max": r.s_max},
)
THEOREM1_BOUND = Claim(
    "alista_theorem1_linear_rate", kind="theorem",
    source="Liu et al. 2019, Thm. 1 (noiseless, s < (1 + 1/μ̃)/2, θ^k = γμ̃ sup||x^k - x*||_1, γ in (0, 2/(2μ̃s - μ̃ + 1)))",
    statement="with the theorem's thresholds, ||x^k - x*||_2 <= sB exp(-ck), c = -log((2s-1)μ̃γ + |1-γ|), at every layer, "
              "for every code and step size (largest ratio to the bound at most 1, up to rounding: 1 + 1e-9)",
    predict=lambda r: 1.0 + 1e-9, measure=lambda r: _exact(r.worst_ratio()), rule=AtMost(),
    detail=lambda r: {"s": r.s, "mu": r.mu, "gammas": list(r.gammas), "bound_rate": [r.rate(g) for g in range(len(r.gammas))],
                      "measured_rate": [r.measured_rate(g) for g in range(len(r.gammas))]},
)
THEOREM1_SUPPORT = Claim(
    "alista_theorem1_no_false_positives", kind="theorem",
    source="Liu et al. 2019, Thm. 1 (supp(x^k) ⊂ S for every k)",
    statement="with the theorem's thresholds no iterate has an entry outside the support of x*",
    predict=lambda r: 0.0, measure=lambda r: _exact(r.false_pos.max()), rule=AtMost(),
)


def _far(r: Benchmark, net: str) -> Estimate:
    return r.gap_to_classical(net, 0)


def _below_all(r: Benchmark, net: str) -> Estimate:
    """The least favourable condition: the largest NMSE difference to the best classical solver."""
    return max((r.gap_to_classical(net, c) for c in range(len(r.snr_values))), key=lambda e: e.hi)


def _far_claim(net: str) -> Claim:
    return Claim(
        f"{net.lower().replace('-', '_')}_far_below_ista_fista_noiseless", kind="theorem",
        source="Liu et al. 2019, Fig. 1(a) and Sec. 5 ('all learned models ≫ ISTA/FISTA'); 'far' read as at least 10 dB "
               "(their figure's values were not available to us; the threshold was fixed before any run)",
        statement=f"noiseless, {net} at depth K reaches an NMSE at least 10 dB below the better of ISTA and FISTA "
                  "(each at its best λ) at the same depth",
        predict=lambda r: -FAR_DB, measure=lambda r: _far(r, net), rule=AtMost(),
        detail=lambda r: {"nmse_net": float(r.learned[net][0, -1]), "classical": r.best_classical(0),
                          "nmse_classical": float(r.best(r.best_classical(0))[0, -1])},
    )


def _below_claim(net: str) -> Claim:
    return Claim(
        f"{net.lower().replace('-', '_')}_below_ista_fista", kind="theorem",
        source="Liu et al. 2019, Fig. 1(a-d): every learned model below ISTA and FISTA at every SNR",
        statement=f"at every SNR, {net} at depth K has a significantly lower NMSE than the better of ISTA and FISTA "
                  "at the same depth (worst condition shown)",
        predict=lambda r: 0.0, measure=lambda r: _below_all(r, net), rule=Below(),
        detail=lambda r: {lab: [float(r.learned[net][c, -1]), float(r.best(r.best_classical(c))[c, -1])]
                          for c, lab in enumerate(r.labels)},
    )


LISTA_FAR_BELOW = _far_claim("LISTA")
CPSS_FAR_BELOW = _far_claim("LISTA-CPSS")
ALISTA_FAR_BELOW = _far_claim("ALISTA")
LISTA_BELOW = _below_claim("LISTA")
CPSS_BELOW = _below_claim("LISTA-CPSS")
ALISTA_BELOW = _below_claim("ALISTA")
FAR_BELOW_CLASSICAL_NOISELESS = {"LISTA": LISTA_FAR_BELOW, "LISTA-CPSS": CPSS_FAR_BELOW, "ALISTA": ALISTA_FAR_BELOW}
BELOW_CLASSICAL = {"LISTA": LISTA_BELOW, "LISTA-CPSS": CPSS_BELOW, "ALISTA": ALISTA_BELOW}


def _lista_inferior(r: Benchmark) -> Estimate:
    worst = None
    for c in range(len(r.snr_values)):
        better = min(("LISTA-CPSS", "ALISTA"), key=lambda nm: r.learned[nm][c, -1])
        e = nmse_difference(r.err["LISTA"][c], r.err[better][c], n_boot=r.n_boot, seed=r.boot_seed + 100 + c)
        worst = e if worst is None or e.lo < worst.lo else worst
    return worst


LISTA_INFERIOR = Claim(
    "lista_inferior_to_cpss_and_alista", kind="theorem",
    source="Liu et al. 2019, Sec. 5 on Fig. 1 ('LISTA is inferior to the other three'; Chen et al. 2018 for LISTA-CPSS)",
    statement="at every SNR, untied LISTA ends significantly above the better of LISTA-CPSS and ALISTA at depth K "
              "(least favourable condition shown)",
    predict=lambda r: 0.0, measure=_lista_inferior, rule=Above(),
)


def _slista_unconverged(r: Benchmark) -> Estimate:
    r"""(NMSE_SLISTA - NMSE_Lasso) - |NMSE_SLISTA - NMSE_FISTA| in the noiseless condition, paired bootstrap."""
    a, f, s = r.err["SLISTA"][0], r.err["FISTA"][0], r.err["Lasso"][0]

    def stat(a, f, s, axis=0):
        return _db_ratio(a, s, axis=axis) - np.abs(_db_ratio(a, f, axis=axis))

    est, lo, hi = stats.bootstrap(stat, a, f, s, n_boot=r.n_boot, rng=_rng(r.boot_seed + 200), paired=True,
                                  vectorized=True)
    return Estimate.interval(est, lo, hi, "paired bootstrap 95%", len(a))


SLISTA_UNCONVERGED = Claim(
    "slista_ties_fista_because_neither_has_converged", kind="finding",
    source="this notebook (replaces the earlier reading 'the Lasso's bias bounds SLISTA's NMSE')",
    statement="noiseless, at depth K SLISTA's NMSE lies further above the NMSE of its own Lasso solution "
              "(same λ, FISTA to convergence) than it lies from FISTA's: both are limited by depth, not by the Lasso's bias",
    predict=lambda r: 0.0, measure=_slista_unconverged, rule=Above(),
    detail=lambda r: {"slista": float(r.learned["SLISTA"][0, -1]), "fista": float(r.best("FISTA")[0, -1]),
                      "lasso_solution": float(r.lasso_nmse[0]), "lasso_iters": r.lasso_iters[0]},
)


def _threshold_slope(r: Benchmark) -> Estimate:
    fit = r.threshold_fit(0)
    return Estimate.interval(fit.slope, fit.lo, fit.hi, "t 95% (line fit over layers)", fit.n)


ALISTA_THRESHOLDS = Claim(
    "alista_thresholds_proportional_to_l1_error", kind="theorem",
    source="Liu et al. 2019, Thm. 1 (θ^k = γ^k μ̃ sup||x^k - x*||_1) and Figs. 2-3 (learned parameters follow it)",
    statement="noiseless, the learned ALISTA's θ^k/γ^k is proportional to sup_b ||x^k - x*||_1 over the test codes "
              "(slope 1 of the log-log line over layers)",
    predict=lambda r: 1.0, measure=_threshold_slope, rule=Covers(),
    detail=lambda r: {"median_theta_over_gamma_mu_l1": float(np.median(
        r.alista_theta[0] / r.alista_gamma[0] / (r.mu * r.alista_l1_max[0, :-1])))},
)


def _ratio_index(res: LassoDepth, ratio: float) -> int:
    return list(res.ratios).index(ratio)


class _AtRatio:
    """A Lasso-depth result read at one λ/λmax (the claim's case)."""

    def __init__(self, res: LassoDepth, ratio: float):
        self.res, self.ratio, self.r = res, ratio, _ratio_index(res, ratio)


def at_ratio(res: LassoDepth, ratio: float) -> _AtRatio:
    """Bind a Lasso-depth result to one λ/λmax for the claims of (c)."""
    return _AtRatio(res, ratio)


SLISTA_BELOW_ISTA = Claim(
    "slista_below_ista_at_every_depth", kind="theorem",
    source="Ablin, Moreau, Massias & Gramfort 2019, Fig. 6 (simulated data)",
    statement="SLISTA reaches a significantly lower F(x^d) - F* than ISTA at every depth d "
              "(log10 of the gap ratio, depth where SLISTA fares worst)",
    predict=lambda a: 0.0, measure=lambda a: a.res.worst_log_ratio("SLISTA", "ISTA", a.r), rule=Below(),
)
LISTA_BELOW_ISTA = Claim(
    "lista_below_ista_at_every_depth", kind="theorem",
    source="Ablin et al. 2019, Fig. 6 (their LISTA: the coupled parametrisation)",
    statement="LISTA reaches a significantly lower F(x^d) - F* than ISTA at every depth d (worst depth shown)",
    predict=lambda a: 0.0, measure=lambda a: a.res.worst_log_ratio("LISTA", "ISTA", a.r), rule=Below(),
)
SLISTA_COMPETITIVE_WHEN_SPARSE = Claim(
    "slista_competitive_with_lista_when_sparse", kind="theorem",
    source="Ablin et al. 2019, abstract and Fig. 6 ('competitive with state-of-the-art networks when the solutions "
           "are sparse enough': λ = 0.8 λmax)",
    statement="at the deepest depth, SLISTA's F(x^K) - F* is not significantly above LISTA's (log10 gap ratio <= 0)",
    predict=lambda a: 0.0, measure=lambda a: a.res.log_ratio("SLISTA", "LISTA", a.r, len(a.res.depths) - 1),
    rule=AtMost(),
)


def _alista_degrades(res: LassoDepth) -> Estimate | None:
    if len(res.ratios) < 2:
        return None
    lo_r, hi_r = int(np.argmin(res.ratios)), int(np.argmax(res.ratios))
    d = len(res.depths) - 1
    a, b = res.log_ratio("ALISTA", "SLISTA", hi_r, d), res.log_ratio("ALISTA", "SLISTA", lo_r, d)
    # independent test-signal bootstraps of the two ratios: combine their half-widths conservatively
    return Estimate.interval(a.value - b.value, a.lo - b.hi, a.hi - b.lo, "difference of bootstrap intervals", a.n)


ALISTA_DEGRADES_AT_LARGE_LAMBDA = Claim(
    "alista_falls_behind_slista_at_large_lambda", kind="theorem",
    source="Ablin et al. 2019, Fig. 6 and its discussion [MEM: the message read from their text]: W̃ is built for "
           "recovery as λ -> 0, not for the Lasso at large λ",
    statement="at the deepest depth, log10(gap ALISTA / gap SLISTA) is larger at the largest λ than at the smallest",
    predict=lambda r: 0.0, measure=_alista_degrades, rule=Above(),
)
STEPS_TRACK_INV_LS = Claim(
    "slista_steps_track_inverse_restricted_lipschitz", kind="theorem",
    source="Ablin et al. 2019, Fig. 4 (learned steps follow the median 1/L_S of the supports reached); rule fixed before "
           "the runs on the harness: within a factor 1.25 in every deep layer (k > K/2)",
    statement="in every deep layer, SLISTA's learned step α^k is within a factor 1.25 of 1/median L_S, S the supports "
              "of the layer's outputs: max_k |log(α^k median L_S)| <= log 1.25",
    predict=lambda t: TRACK_TOL, measure=lambda t: t.worst_deep(), rule=AtMost(),
    detail=lambda t: {"alpha_times_median_LS_deep": np.round(np.exp(t.log_ratio()[t.deep]), 3).tolist(),
                      "alpha_L_deep": np.round(t.alpha[t.deep] * t.L, 3).tolist()},
)


def _quarters(r: CoupledLayers) -> Estimate:
    return Estimate.mean(r.quarter_ratio())


DEEP_LAYERS_ARE_STEPS = Claim(
    "coupled_deep_layers_approach_a_step_times_d", kind="theorem",
    source="Ablin et al. 2019, Thm. 4.4 (deep layers of a network converging to the Lasso solution are ISTA with a "
           "step, W^k = α^k D) and Fig. 5",
    statement="after training, the coupled weights of the last quarter of the layers are significantly closer to "
              "(θ^k/λ)D than those of the first quarter (ratio of mean residuals < 1, t interval over replicates)",
    predict=lambda r: 1.0, measure=_quarters, rule=Below(),
    detail=lambda r: {"residual_first_layer": float(r.residual[:, 0].mean()),
                      "residual_last_layer": float(r.residual[:, -1].mean()),
                      "gap_network": float(r.gap_net.mean()), "gap_ista_same_depth": r.gap_ista},
)
