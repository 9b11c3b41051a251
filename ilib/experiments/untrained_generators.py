r"""Notebook 12: untrained generators as priors: the Jacobian's spectrum, early stopping, compressed sensing,
and a deep decoder beside total-variation denoising.

Heckel & Soltanolkotabi (ICLR 2020, arXiv 1910.14634) fit a two-layer convolutional generator
:math:`G(C) = \mathrm{relu}(UC)v` to a noisy signal by gradient descent. Over-parameterised
(:math:`k` channels, :math:`nk \gg n`), it stays close to its linearisation at the start, whose kernel
:math:`K = JJ^\top` is close to the expected kernel :math:`\Sigma`: a circulant matrix with Fourier
eigenvectors and eigenvalues that decay with frequency. Gradient descent therefore fits low frequencies
first and noise last, and stopping early denoises (ilib theory notes, part 2, §4). The same generator run
to convergence on compressive measurements returns the kernel interpolant, the smoothest signal consistent
with them (Heckel & Soltanolkotabi, ICML 2020, arXiv 2005.03991). The deep decoder (Heckel & Hand, ICLR
2019) is the under-parameterised version of the same idea on images.

Sections: (a) :func:`jacobian_spectrum`, (b) :func:`early_stopping`, (c) :func:`compressed_sensing`,
(d) :func:`denoising`. Trials are rows of one batched optimisation (:func:`ilib.optim.minimize`); the
lazy-model predictions are closed forms (:mod:`ilib.untrained`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch

from .. import stats
from .. import untrained as ut
from ..claims import Above, AtLeast, AtMost, Claim, Covers, Estimate, Overlaps
from ..device import DeviceLike, SeedLike, make_generator, randn, resolve_device
from ..optim import minimize
from ..profile import Profile as _Profile
from ..profile import param

NOTEBOOK = "12_untrained_generators"

#: the two filters of the notes (part 2, §4.3): a narrow triangle and a wide Gaussian
FILTERS = {"narrow": ut.NARROW_TAPS, "gaussian": ut.gaussian_taps(12, 32.0)}

#: the reading of "about p sigma^2 / n" (notes §4.1) fixed before any run: within this factor
ABOUT = 1.5


# --------------------------------------------------------------------------- parameters
@dataclass(frozen=True)
class Profile(_Profile):
    """Parameters of notebook 12 (each declared once; see :mod:`ilib.profile`)."""

    n: int = param(smoke=64, paper=128, lo=26, doc="signal length of the 1-D generator (at least the Gaussian filter's 25 taps + 1)")
    p: int = param(smoke=5, paper=9, lo=1, doc="signal modes (odd): x is a trigonometric polynomial of degree (p - 1) / 2")
    k: int = param(smoke=256, paper=2048, lo=2, doc="channels of the 1-D generator in (a) and (b)")
    kernel_trials: int = param(smoke=4, paper=16, lo=2, doc="random starts C0 per width in (a)")
    k_values: tuple[int, ...] = param(smoke=(64, 128, 256, 512, 1024),
                                      paper=(256, 512, 1024, 2048, 4096, 8192, 16384, 32768), lo=2,
                                      doc="widths of the kernel-concentration sweep in (a)")
    noise: float = param(smoke=1.0, paper=1.0, lo=0, lo_open=True, doc="noise level sigma in (b): z ~ N(0, sigma^2 I / n)")
    step_scale: float = param(smoke=0.5, paper=0.5, lo=0, hi=1, lo_open=True,
                              doc="gradient step times the largest kernel eigenvalue, in (b) and (c)")
    gd_steps: int = param(smoke=40, paper=1500, lo=2, doc="gradient-descent steps in (b)")
    gd_trials: int = param(smoke=3, paper=10, lo=2, doc="independent (C0, x, z) draws per filter in (b)")
    cs_k: int = param(smoke=256, paper=1024, lo=2, doc="channels of the generator in (c)")
    cs_m_values: tuple[int, ...] = param(smoke=(10, 40), paper=(10, 20, 40, 80), lo=1,
                                         doc="numbers of Gaussian measurements in (c)")
    cs_trials: int = param(smoke=2, paper=6, lo=2, doc="independent (C0, A, x) draws per m in (c)")
    cs_steps: int = param(smoke=40, paper=500, lo=1, doc="gradient-descent steps in (c)")
    side: int = param(smoke=32, paper=64, lo=8, doc="side of the image in (d)")
    dd_width: int = param(smoke=8, paper=16, lo=1, doc="channels of the under-parameterised deep decoder")
    dd_depth: int = param(smoke=3, paper=4, lo=1, doc="layers of the under-parameterised deep decoder")
    over_width: int = param(smoke=32, paper=64, lo=1, doc="channels of the over-parameterised network")
    over_depth: int = param(smoke=2, paper=2, lo=1, doc="layers of the over-parameterised network")
    dd_steps: int = param(smoke=40, paper=2000, lo=1, doc="Adam steps in (d)")
    dd_lr: float = param(smoke=0.01, paper=0.01, lo=0, lo_open=True, doc="Adam step size in (d)")
    dd_trials: int = param(smoke=2, paper=2, lo=2, doc="noise draws (and network starts) per noise level in (d)")
    noise_levels: tuple[float, ...] = param(smoke=(0.1, 0.2), paper=(0.1, 0.2), lo=0, lo_open=True,
                                            doc="pixel noise standard deviations in (d) (image in [0, 1])")
    tv_weights: tuple[float, ...] = param(smoke=(0.05, 0.1), paper=(0.02, 0.04, 0.06, 0.08, 0.1, 0.13, 0.16, 0.2),
                                          lo=0, lo_open=True, doc="total-variation weights tried in (d) (the best is kept)")

    def relations(self) -> None:
        self.require(self.p % 2 == 1, "p", "must be odd (a trigonometric polynomial fills whole cosine/sine pairs)")
        self.require(self.p < self.n, "p", f"must be below n = {self.n}")
        for name in ("k", "cs_k"):
            self.require(getattr(self, name) % 2 == 0, name, "must be even (channels come in +/- pairs)")
        self.require(all(k % 2 == 0 for k in self.k_values), "k_values", "must all be even")
        self.require(len(set(self.k_values)) >= 3, "k_values", "must hold at least three widths (a slope is fitted)")
        self.require(max(self.cs_m_values) <= self.n, "cs_m_values", f"must be at most n = {self.n}")
        for name, depth in (("dd_depth", self.dd_depth), ("over_depth", self.over_depth)):
            self.require(self.side % 2**depth == 0, name, f"must leave side = {self.side} divisible by 2**depth")

    def memory_bytes(self) -> int:
        """The largest activation pattern of the width sweep (chunked to 2**25 entries) and the stored trajectories."""
        chunk = 4 * 2**25 * 4
        traj = 8 * (self.gd_steps + 1) * self.gd_trials * self.n * 4
        return chunk + traj


# --------------------------------------------------------------------------- shared set-up
def filter_vector(name: str, n: int) -> torch.Tensor:
    """The unit filter vector of ``FILTERS[name]`` in :math:`\\mathbb R^n` (float64)."""
    if name not in FILTERS:
        raise ValueError(f"filter must be one of {sorted(FILTERS)}, got {name!r}")
    return ut.embed_filter(FILTERS[name], n)


def smooth_signals(trials: int, n: int, p: int, g: torch.Generator) -> torch.Tensor:
    r"""``trials`` unit signals in the span of the first ``p`` Fourier modes, with Gaussian coefficients.

    :math:`x = W_p c / \|c\|`, :math:`c \sim \mathcal N(0, I_p)`; by symmetry
    :math:`\mathbb E\langle w_i, x\rangle^2 = 1/p` for each of the ``p`` modes.
    """
    W, _ = ut.fourier_basis(n)
    c = randn(trials, p, generator=g, dtype=torch.float64, device="cpu")
    return (c / c.norm(dim=1, keepdim=True)) @ W[:, :p].T


def _sorted_eigh(K: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    evals, evecs = torch.linalg.eigh(K)
    return evals.flip(-1), evecs.flip(-1)


def _run_recorded(forward: Callable, loss: Callable, x0: torch.Tensor, record: Callable, *, steps: int, **opt):
    """:func:`ilib.optim.minimize` from ``x0``, keeping ``record(output)`` of every iterate ``x_0, ..., x_T``.

    ``minimize`` evaluates the objective once per step at the current iterate and once at the end, so the
    objective below sees the iterates in order. The records go into one tensor of shape ``(steps + 1, ...)``
    allocated at the first call (keeping thousands of small tensors alive between the large temporaries of
    each step fragments the heap: several GB over a long run). Returns it and the optimiser's result.
    """
    buf: list[torch.Tensor] = []
    count = [0]

    def objective(x):
        out = forward(x)
        rec = record(out.detach())
        if not buf:
            buf.append(torch.empty((steps + 1, *rec.shape), dtype=rec.dtype, device=rec.device))
        if count[0] > steps:
            raise RuntimeError("the objective was evaluated more than steps + 1 times")
        buf[0][count[0]] = rec
        count[0] += 1
        return loss(out)

    res = minimize(objective, x0, steps=steps, **opt)
    return buf[0][: count[0]], res


# --------------------------------------------------------------------------- (a): the Jacobian kernel
@dataclass(frozen=True)
class KernelSpectrum:
    r"""The expected kernel :math:`\Sigma` of one filter beside empirical kernels :math:`K(C_0)`.

    ``lam`` holds :math:`\Sigma`'s eigenvalue per frequency :math:`f = 0..n/2`, ``sigma_eigs`` all its
    eigenvalues in decreasing order; at width ``k`` (``trials`` starts): ``eigs`` ``(trials, n)``
    decreasing, ``energy`` ``(trials, r, n/2 + 1)`` the pair energies of the top ``r`` eigenvectors,
    ``quad_ratio`` ``(trials, n)`` the Rayleigh quotients :math:`w^\top K w / \lambda` on the Fourier
    basis, ``op_err`` the spectral norms :math:`\|K - \Sigma\|`; over ``k_values``: ``sweep_op_err`` and
    ``sweep_misfit`` (:math:`1 -` the overlap of the top-``p`` eigenspace with the degree-(p-1)/2
    trigonometric polynomials), shape ``(len(k_values), trials)``.
    """

    name: str
    n: int
    k: int
    p: int
    lam: np.ndarray
    sigma_eigs: np.ndarray
    sigma_offdiag: float
    eigs: np.ndarray
    energy: np.ndarray
    quad_ratio: np.ndarray
    op_err: np.ndarray
    k_values: tuple[int, ...]
    sweep_op_err: np.ndarray
    sweep_misfit: np.ndarray

    @property
    def trials(self) -> int:
        return self.eigs.shape[0]

    @property
    def gap(self) -> float:
        r""":math:`\delta_p = \lambda_p(\Sigma) - \lambda_{p+1}(\Sigma)`, the gap after the signal modes."""
        return float(self.sigma_eigs[self.p - 1] - self.sigma_eigs[self.p])

    def predicted_frequency(self) -> np.ndarray:
        """The frequency of each of :math:`\\Sigma`'s eigenvalues in decreasing order (cos and sin repeat it)."""
        _, freq = ut.fourier_basis(self.n)
        lam_cols = self.lam[freq.numpy()]
        return freq.numpy()[np.argsort(-lam_cols, kind="stable")]

    def concentration(self) -> np.ndarray:
        """Largest pair energy of each of the top ``r`` empirical eigenvectors, ``(trials, r)``."""
        return self.energy.max(axis=-1)

    def ratio(self, i: int, j: int) -> tuple[float, np.ndarray]:
        r""":math:`\lambda_i/\lambda_j` (1-based) of :math:`\Sigma` and of each empirical kernel."""
        return float(self.sigma_eigs[i - 1] / self.sigma_eigs[j - 1]), self.eigs[:, i - 1] / self.eigs[:, j - 1]

    def weyl_holds(self) -> np.ndarray:
        r"""Per trial: every :math:`|\lambda_i(K) - \lambda_i(\Sigma)| \le \|K - \Sigma\|` (Weyl's inequality)."""
        dev = np.abs(self.eigs - self.sigma_eigs[None, :]).max(axis=1)
        return dev <= self.op_err * (1 + 1e-9) + 1e-12

    def perturbative(self) -> np.ndarray:
        r"""Mask of the widths whose mean :math:`\|K - \Sigma\|` is below :math:`\delta_p/2` (Kato's radius)."""
        return self.sweep_op_err.mean(axis=1) < self.gap / 2

    def fit(self, what: str, mask: np.ndarray | None = None) -> "stats.SlopeFit":
        """Log-log slope of ``sweep_op_err`` or ``sweep_misfit`` against the width (every trial a point)."""
        y = {"op_err": self.sweep_op_err, "misfit": self.sweep_misfit}[what]
        ks = np.asarray(self.k_values, float)
        if mask is not None:
            ks, y = ks[mask], y[mask]
        return stats.loglog_fit(np.repeat(ks, y.shape[1]), y.ravel())


def _kernel_stats(G: ut.ConvGenerator, C0: torch.Tensor, sigma: torch.Tensor, Wp: torch.Tensor):
    K = G.kernel(C0).to(torch.float64)
    eigs, vecs = _sorted_eigh(K)
    op = torch.linalg.matrix_norm(K - sigma, ord=2)
    p = Wp.shape[1]
    misfit = 1 - ((Wp.T @ vecs[..., :p]) ** 2).sum(dim=(-1, -2)) / p
    return K, eigs, vecs, op, misfit


def jacobian_spectrum(name: str, *, n: int, k: int, p: int, trials: int, k_values: Sequence[int], stream: SeedLike,
                      device: DeviceLike = "auto", top: int = 24) -> KernelSpectrum:
    r"""(a) The expected Jacobian kernel of filter ``name`` and empirical kernels at :math:`C_0` of random starts.

    The empirical kernels use the antisymmetric start (:meth:`ilib.untrained.ConvGenerator.antisymmetric_start`),
    so they average :math:`k/2` independent channels. The width sweep draws a fresh start per width and trial,
    in chunks of at most :math:`2^{25}` activations.
    """
    dev = resolve_device(device)
    u = filter_vector(name, n)
    sigma = ut.expected_kernel(u)
    lam = ut.kernel_eigenvalues(sigma)[: n // 2 + 1]
    W, freq = ut.fourier_basis(n)
    sigma_eigs = torch.linalg.eigvalsh(sigma).flip(-1)
    offdiag = float((W.T @ sigma @ W - torch.diag(ut.kernel_eigenvalues(sigma)[freq])).abs().max())
    g = make_generator(stream)
    sig_d, W_d = sigma.to(dev), W.to(dev)
    G = ut.ConvGenerator(u.to(device=dev, dtype=torch.float32), k)
    K, eigs, vecs, op, _ = _kernel_stats(G, G.antisymmetric_start(trials, g), sig_d, W_d[:, :p])
    r = min(top, n)
    energy = ut.pair_energy(vecs[..., :r])
    lam_cols = ut.kernel_eigenvalues(sigma)[freq].to(dev)
    quad = (W_d.T @ K @ W_d).diagonal(dim1=-2, dim2=-1) / lam_cols
    sweep_op, sweep_mis = [], []
    for kk in k_values:
        Gk = ut.ConvGenerator(u.to(device=dev, dtype=torch.float32), kk)
        chunk = max(1, 2**25 // (n * kk))
        ops, mis = [], []
        for start in range(0, trials, chunk):  # memory chunks of one batched computation
            _, _, _, o, mm = _kernel_stats(Gk, Gk.antisymmetric_start(min(chunk, trials - start), g), sig_d, W_d[:, :p])
            ops.append(o)
            mis.append(mm)
        sweep_op.append(torch.cat(ops))
        sweep_mis.append(torch.cat(mis))
    f = lambda t: t.detach().cpu().numpy().astype(float)  # noqa: E731
    return KernelSpectrum(name=name, n=n, k=k, p=p, lam=f(lam), sigma_eigs=f(sigma_eigs), sigma_offdiag=offdiag,
                          eigs=f(eigs), energy=f(energy), quad_ratio=f(quad), op_err=f(op), k_values=tuple(k_values),
                          sweep_op_err=f(torch.stack(sweep_op)), sweep_misfit=f(torch.stack(sweep_mis)))


# --------------------------------------------------------------------------- (b): early stopping
@dataclass(frozen=True)
class EarlyStopping:
    r"""Gradient descent on :math:`G` against the lazy models, for one filter (arrays over ``t = 0..steps``).

    ``err_nn``, ``err_lazy_k`` and ``err_lazy_sigma`` ``(steps + 1, trials)`` are :math:`\|f_t - x\|^2` for
    the network, the lazy model with its own kernel :math:`K(C_0)` and with :math:`\Sigma`; ``expected``
    ``(steps + 1,)`` is the expected lazy-:math:`\Sigma` error (:func:`ilib.untrained.expected_lazy_error`);
    ``dev_sigma`` and ``dev_k`` ``(steps + 1, trials)`` are :math:`\|r^{NN}_t - r^{\Sigma}_t\|` and
    :math:`\|r^{NN}_t - r^{K}_t\|` (residuals :math:`r_t = y - f_t`); ``mode_energy``
    ``(steps + 1, trials, len(freqs))`` the fraction of :math:`y`'s energy on frequency pair :math:`f` left in
    the network's residual, against :math:`(1 - \eta\lambda_f)^{2t}` for the lazy :math:`\Sigma` model.
    ``closed_form_dev`` is the largest difference between :func:`ilib.untrained.lazy_residual` and the
    explicit iteration :math:`r \leftarrow r - \eta K r` (one trial, float64).
    """

    name: str
    n: int
    k: int
    p: int
    noise: float
    eta: float
    lam: np.ndarray
    err_nn: np.ndarray
    err_lazy_k: np.ndarray
    err_lazy_sigma: np.ndarray
    expected: np.ndarray
    dev_sigma: np.ndarray
    dev_k: np.ndarray
    op_err: np.ndarray
    y_norm: np.ndarray
    z_sq: np.ndarray
    freqs: tuple[int, ...]
    mode_energy: np.ndarray
    closed_form_dev: float

    @property
    def trials(self) -> int:
        return self.err_nn.shape[1]

    @property
    def steps(self) -> int:
        return self.err_nn.shape[0] - 1

    @property
    def p_sigma2_over_n(self) -> float:
        r"""The notes' prediction :math:`p\sigma^2/n` of the early-stopped error (§4.1–4.2)."""
        return self.p * self.noise**2 / self.n

    @property
    def t_star(self) -> int:
        """The step that minimises the expected lazy-:math:`\\Sigma` error (theory only)."""
        return int(np.argmin(self.expected))

    @property
    def e_star(self) -> float:
        return float(self.expected[self.t_star])

    def lower_bound(self) -> float:
        r"""The per-mode oracle bound :math:`P/(1 + P)`, :math:`P = p\sigma^2/n`: no linear filter of
        :math:`y` does better on the signal modes (each mode's best shrinkage :math:`s/(s + 1/p)`)."""
        P = self.p_sigma2_over_n
        return P / (1 + P)

    def decays(self) -> bool:
        r"""The condition of the notes' prediction, computed from :math:`\Sigma` alone: the lazy model's own
        optimum is within ``ABOUT`` of :math:`p\sigma^2/n` (few noise modes beyond the first ``p`` are fitted
        by the time those are)."""
        return self.e_star <= ABOUT * self.p_sigma2_over_n

    def nn_min(self) -> tuple[int, Estimate]:
        """The step where the network's mean error is smallest, and the error there (t interval over trials)."""
        t = int(np.argmin(self.err_nn.mean(axis=1)))
        return t, Estimate.mean(self.err_nn[t])

    def tracking_ratio(self) -> np.ndarray:
        r"""Per trial: :math:`\max_{1 \le t \le t^*} \|r^{NN}_t - r^\Sigma_t\| / (t\,\eta\,\|K - \Sigma\|\,\|y\|)`."""
        t = np.arange(1, self.t_star + 1)
        bound = t[:, None] * self.eta * self.op_err[None, :] * self.y_norm[None, :]
        return (self.dev_sigma[1:self.t_star + 1] / bound).max(axis=0)

    def nonlinear_share(self) -> np.ndarray:
        r"""Per trial at :math:`t^*`: :math:`\|r^{NN} - r^K\| / \|r^K - r^\Sigma\|`, the network's departure from its
        own linearisation against the kernel's fluctuation (the second by the triangle inequality, bounded below)."""
        t = self.t_star
        kernel_part = np.maximum(self.dev_sigma[t] - self.dev_k[t], 1e-300)
        return self.dev_k[t] / kernel_part


def early_stopping(name: str, *, n: int, k: int, p: int, noise: float, step_scale: float, steps: int, trials: int,
                   stream: SeedLike, device: DeviceLike = "auto",
                   freqs: Sequence[int] = (0, 2, 4, 8, 16, 32)) -> EarlyStopping:
    r"""(b) Gradient descent on :math:`\tfrac12\|G(C) - y\|^2`, :math:`y = x + z`, from the antisymmetric start.

    :math:`x` is a unit trigonometric polynomial of degree :math:`(p-1)/2` (:func:`smooth_signals`),
    :math:`z \sim \mathcal N(0, \sigma^2 I/n)` (so :math:`\mathbb E\|z\|^2 = \sigma^2`), the step is
    :math:`\eta = ` ``step_scale`` :math:`/\lambda_1(\Sigma)`. Every iterate's output is kept (float32
    network, float64 lazy models).
    """
    dev = resolve_device(device)
    u = filter_vector(name, n)
    sigma = ut.expected_kernel(u)
    lam_all = ut.kernel_eigenvalues(sigma)
    eta = float(step_scale / lam_all.max())
    g = make_generator(stream)
    G = ut.ConvGenerator(u.to(device=dev, dtype=torch.float32), k)
    C0 = G.antisymmetric_start(trials, g)
    x = smooth_signals(trials, n, p, g)
    z = noise * randn(trials, n, generator=g, dtype=torch.float64, device="cpu") / math.sqrt(n)
    y = x + z
    y32 = y.to(device=dev, dtype=torch.float32)
    outs, _ = _run_recorded(lambda c: G(c.reshape(C0.shape)), lambda out: 0.5 * ((out - y32) ** 2).sum(-1),
                            C0.reshape(trials, -1), lambda out: out.to(device="cpu", dtype=torch.float64),
                            steps=steps, lr=eta, method="gd")
    f_nn = outs  # (steps + 1, trials, n)
    K = G.kernel(C0).to(device="cpu", dtype=torch.float64)
    times = range(steps + 1)
    r_k = ut.lazy_residual(K, y, eta, times)
    r_s = ut.lazy_residual(sigma.expand(trials, n, n), y, eta, times)
    r_nn = y - f_nn
    W, freq = ut.fourier_basis(n)
    lam_cols = lam_all[freq]
    x_sq = torch.zeros(n, dtype=torch.float64)
    x_sq[:p] = 1.0 / p
    expected = ut.expected_lazy_error(lam_cols, x_sq, noise**2 / n, eta, steps)
    # the closed form against the explicit iteration, on the first trial
    r, worst = y[0].clone(), 0.0
    for t in range(min(steps, 50) + 1):
        worst = max(worst, float((r - r_k[t, 0]).abs().max()))
        r = r - eta * K[0] @ r
    coef_nn, coef_y = r_nn @ W, y @ W
    sel = [torch.nonzero(freq == fq).ravel() for fq in freqs if fq <= n // 2]
    mode = torch.stack([coef_nn[..., s].pow(2).sum(-1) / coef_y[:, s].pow(2).sum(-1) for s in sel], dim=-1)
    err = lambda r_: (y - r_ - x).pow(2).sum(-1).numpy()  # noqa: E731
    f = lambda t: t.detach().cpu().numpy().astype(float)  # noqa: E731
    return EarlyStopping(name=name, n=n, k=k, p=p, noise=noise, eta=eta, lam=f(lam_all[: n // 2 + 1]),
                         err_nn=err(r_nn), err_lazy_k=err(r_k), err_lazy_sigma=err(r_s), expected=f(expected),
                         dev_sigma=f((r_nn - r_s).norm(dim=-1)), dev_k=f((r_nn - r_k).norm(dim=-1)),
                         op_err=f(torch.linalg.matrix_norm(K - sigma, ord=2)), y_norm=f(y.norm(dim=-1)),
                         z_sq=f(z.pow(2).sum(-1)), freqs=tuple(fq for fq in freqs if fq <= n // 2),
                         mode_energy=f(mode), closed_form_dev=worst)


def excess_ratio(name: str, *, n: int, p_values: Sequence[int], noise: float, step_scale: float,
                 steps: int) -> np.ndarray:
    r"""Theory only: :math:`e^*(\Sigma) / (p\sigma^2/n)` for each odd ``p`` (the lazy model's optimum against the notes')."""
    sigma = ut.expected_kernel(filter_vector(name, n))
    lam = ut.kernel_eigenvalues(sigma)
    _, freq = ut.fourier_basis(n)
    eta = float(step_scale / lam.max())
    out = []
    for p in p_values:
        x_sq = torch.zeros(n, dtype=torch.float64)
        x_sq[:p] = 1.0 / p
        e = ut.expected_lazy_error(lam[freq], x_sq, noise**2 / n, eta, steps)
        out.append(float(e.min()) / (p * noise**2 / n))
    return np.asarray(out)


# --------------------------------------------------------------------------- (c): compressed sensing
@dataclass(frozen=True)
class CompressedSensing:
    r"""Recovery of a smooth ``x`` from :math:`y = Ax` by gradient descent on :math:`\tfrac12\|y - AG(C)\|^2`.

    ``rel_nn`` ``(steps + 1, len(m_values), trials)``: :math:`\|G(C_t) - x\|/\|x\|` along the run;
    ``rel_lazy`` and ``rel_limit`` ``(len(m_values), trials)``: the lazy :math:`\Sigma` model after ``steps``
    steps and in the limit (the kernel interpolant) on the same :math:`(A, x)`.
    """

    name: str
    n: int
    k: int
    p: int
    m_values: tuple[int, ...]
    rel_nn: np.ndarray
    rel_lazy: np.ndarray
    rel_limit: np.ndarray

    @property
    def trials(self) -> int:
        return self.rel_nn.shape[-1]

    @property
    def final(self) -> np.ndarray:
        return self.rel_nn[-1]

    def rows(self, m_min: float) -> np.ndarray:
        return np.asarray(self.m_values) >= m_min


def compressed_sensing(name: str, *, n: int, k: int, p: int, m_values: Sequence[int], trials: int, steps: int,
                       step_scale: float, stream: SeedLike, device: DeviceLike = "auto") -> CompressedSensing:
    r"""(c) GD on the generator from :math:`y = Ax` (no noise) for every ``m``, all problems in one batch.

    :math:`A` has iid :math:`\mathcal N(0, 1/m)` entries, zero-padded to ``max(m_values)`` rows (a zero row
    adds nothing to the loss). Each problem's step is ``step_scale`` :math:`/\lambda_{\max}(A\Sigma A^\top)`,
    applied by scaling its loss (gradient descent is then exactly that per-problem step).
    """
    dev = resolve_device(device)
    u = filter_vector(name, n)
    sigma = ut.expected_kernel(u)
    g = make_generator(stream)
    M, B = max(m_values), len(m_values) * trials
    G = ut.ConvGenerator(u.to(device=dev, dtype=torch.float32), k)
    C0 = G.antisymmetric_start(B, g)
    x = smooth_signals(B, n, p, g)
    A = randn(B, M, n, generator=g, dtype=torch.float64, device="cpu")
    m_col = torch.tensor([m for m in m_values for _ in range(trials)], dtype=torch.float64)
    A = A * (torch.arange(M).view(1, M, 1) < m_col.view(B, 1, 1)) / m_col.sqrt().view(B, 1, 1)
    y = (A @ x.unsqueeze(-1)).squeeze(-1)
    mu_max = torch.linalg.eigvalsh(A @ sigma @ A.transpose(-1, -2))[:, -1]
    scale = (step_scale / mu_max).to(device=dev, dtype=torch.float32)
    A32, y32, x_norm = A.to(device=dev, dtype=torch.float32), y.to(device=dev, dtype=torch.float32), x.norm(dim=-1)
    x_d = x.to(device=dev, dtype=torch.float32)
    outs, _ = _run_recorded(lambda c: G(c.reshape(C0.shape)),
                            lambda out: 0.5 * scale * ((y32 - (A32 @ out.unsqueeze(-1)).squeeze(-1)) ** 2).sum(-1),
                            C0.reshape(B, -1), lambda out: ((out - x_d).norm(dim=-1).cpu().double() / x_norm),
                            steps=steps, lr=1.0, method="gd")
    rel_nn = outs.reshape(steps + 1, len(m_values), trials)
    lazy, limit = [], []
    for j, m in enumerate(m_values):  # the lazy closed forms need the unpadded A of each m
        rows = slice(j * trials, (j + 1) * trials)
        Am, ym = A[rows, :m], y[rows, :m]
        eta = step_scale / mu_max[rows]
        lazy.append((ut.lazy_cs_estimate(sigma, Am, ym, eta, steps) - x[rows]).norm(dim=-1) / x_norm[rows])
        limit.append((ut.kernel_interpolant(sigma, Am, ym) - x[rows]).norm(dim=-1) / x_norm[rows])
    return CompressedSensing(name=name, n=n, k=k, p=p, m_values=tuple(m_values), rel_nn=rel_nn.numpy(),
                             rel_lazy=torch.stack(lazy).numpy(), rel_limit=torch.stack(limit).numpy())


# --------------------------------------------------------------------------- (d): deep decoder and TV
@dataclass(frozen=True)
class Fit:
    """One network fitted to the noisy images: PSNR against the clean image ``(steps + 1, levels, trials)``."""

    label: str
    width: int
    depth: int
    n_params: int
    psnr: np.ndarray
    final: np.ndarray  # (levels, trials, side, side)

    @property
    def best(self) -> np.ndarray:
        return self.psnr.max(axis=0)

    @property
    def last(self) -> np.ndarray:
        return self.psnr[-1]

    @property
    def drop(self) -> np.ndarray:
        """Best minus final PSNR (dB), ``(levels, trials)``: what early stopping would have gained."""
        return self.best - self.last


@dataclass(frozen=True)
class Denoising:
    r"""(d) Deep decoders and total variation on one image at several noise levels.

    ``under`` and ``over`` are :class:`Fit`; ``noise_fit`` ``(levels, trials)`` is the fraction of a pure-noise
    image's energy the under-parameterised decoder explains after the same number of steps,
    :math:`1 - \|y - G(\hat\theta)\|^2/\|y - \tfrac12\|^2` for :math:`y = \tfrac12 + \sigma z`;
    ``tv_psnr`` ``(levels, len(tv_weights), trials)``; ``noisy_psnr`` ``(levels, trials)``.
    """

    image: np.ndarray
    noise_levels: tuple[float, ...]
    under: Fit
    over: Fit
    noise_fit: np.ndarray
    tv_weights: tuple[float, ...]
    tv_psnr: np.ndarray
    noisy_psnr: np.ndarray
    noisy: np.ndarray

    @property
    def n_pixels(self) -> int:
        return int(self.image.size)

    @property
    def tv_best(self) -> np.ndarray:
        """The oracle TV PSNR per level and trial (best weight per level, chosen on the mean)."""
        j = self.tv_psnr.mean(axis=2).argmax(axis=1)
        return self.tv_psnr[np.arange(len(self.noise_levels)), j]

    def tv_weight(self) -> np.ndarray:
        return np.asarray(self.tv_weights)[self.tv_psnr.mean(axis=2).argmax(axis=1)]

    def level(self, j: int) -> "Level":
        """The numbers of noise level ``j`` that the claims read."""
        return Level(sigma=self.noise_levels[j], n_params=self.under.n_params, n_pixels=self.n_pixels,
                     noise_fit=self.noise_fit[j], under_best=self.under.best[j], under_last=self.under.last[j],
                     over_drop=self.over.drop[j], tv_best=self.tv_best[j])


@dataclass(frozen=True)
class Level:
    """One noise level of :class:`Denoising` (arrays over trials)."""

    sigma: float
    n_params: int
    n_pixels: int
    noise_fit: np.ndarray
    under_best: np.ndarray
    under_last: np.ndarray
    over_drop: np.ndarray
    tv_best: np.ndarray

    @property
    def param_ratio(self) -> float:
        """:math:`N/n` of the under-parameterised decoder."""
        return self.n_params / self.n_pixels

    def cost_of_not_stopping(self) -> np.ndarray:
        r""":math:`(\mathrm{MSE}_{final} - \mathrm{MSE}_{best}) / (\sigma^2 N/n)` per trial."""
        mse = lambda db: 10.0 ** (-np.asarray(db) / 10.0)  # noqa: E731
        return (mse(self.under_last) - mse(self.under_best)) / (self.sigma**2 * self.param_ratio)


def _fit_decoder(net: ut.DeepDecoder, y: torch.Tensor, x: torch.Tensor, *, steps: int, lr: float, g,
                 label: str) -> Fit:
    theta0, z = net.init(y.shape[0], g)
    kept, res = _run_recorded(lambda th: net(th, z), lambda out: ((out - y) ** 2).sum(dim=(-1, -2)), theta0,
                              lambda out: ut.psnr(out, x), steps=steps, lr=lr, method="adam")
    with torch.no_grad():
        final = net(res.x, z)
    return Fit(label=label, width=net.width, depth=net.depth, n_params=net.n_params, psnr=kept,
               final=final)


def denoising(image: torch.Tensor, *, noise_levels: Sequence[float], trials: int, widths: tuple[int, int],
              depths: tuple[int, int], steps: int, lr: float, tv_weights: Sequence[float], stream: SeedLike,
              device: DeviceLike = "auto", tv_iters: int = 200) -> Denoising:
    r"""(d) Fit an under- and an over-parameterised deep decoder to ``image`` + noise, and denoise it by TV.

    All (level, trial) pairs are rows of one Adam run per network (fresh random starts per row). The
    under-parameterised decoder is also fitted to pure noise around 1/2, which measures the fraction of
    noise energy it can explain (Heckel & Hand 2019: about :math:`N/n`). TV uses the same noisy images.
    """
    dev = resolve_device(device)
    s = image.shape[-1]
    L, T = len(noise_levels), trials
    g = make_generator(stream)
    x = image.to(device=dev, dtype=torch.float32)
    sig = torch.tensor([lv for lv in noise_levels for _ in range(T)], dtype=torch.float32, device=dev).view(-1, 1, 1)
    noise = randn(L * T, s, s, generator=g, dtype=torch.float32, device=dev)
    y = x + sig * noise
    shape = lambda a: a.reshape(L, T, *a.shape[1:]).detach().cpu().numpy().astype(float)  # noqa: E731
    fits = []
    for label, width, depth in (("under", widths[0], depths[0]), ("over", widths[1], depths[1])):
        net = ut.DeepDecoder(width, depth, s, dtype=torch.float32, device=dev)
        fit = _fit_decoder(net, y, x, steps=steps, lr=lr, g=g, label=label)
        fits.append(Fit(label, width, depth, net.n_params, fit.psnr.reshape(-1, L, T).cpu().numpy().astype(float),
                        shape(fit.final)))
    net = ut.DeepDecoder(widths[0], depths[0], s, dtype=torch.float32, device=dev)
    pure = 0.5 + sig * randn(L * T, s, s, generator=g, dtype=torch.float32, device=dev)
    theta0, z = net.init(L * T, g)
    res = minimize(lambda th: ((net(th, z) - pure) ** 2).sum(dim=(-1, -2)), theta0, steps=steps, lr=lr, method="adam")
    explained = 1 - res.loss / ((pure - 0.5) ** 2).sum(dim=(-1, -2))
    y64 = y.to(torch.float64)
    w = torch.tensor(list(tv_weights), dtype=torch.float64, device=dev)
    tv = ut.tv_denoise(y64.unsqueeze(1).expand(-1, len(w), s, s), w.view(1, -1), iters=tv_iters)
    tv_psnr = ut.psnr(tv, x.to(torch.float64)).reshape(L, T, len(w)).transpose(1, 2)
    return Denoising(image=image.cpu().numpy().astype(float), noise_levels=tuple(noise_levels), under=fits[0],
                     over=fits[1], noise_fit=explained.reshape(L, T).detach().cpu().numpy().astype(float),
                     tv_weights=tuple(tv_weights), tv_psnr=tv_psnr.cpu().numpy().astype(float),
                     noisy_psnr=ut.psnr(y, x).reshape(L, T).cpu().numpy().astype(float), noisy=shape(y))


# --------------------------------------------------------------------------- claims
#: widths below ``MIN_WIDTH_RATIO * n`` are left out of the k^(-1/2) fit: the average of k/2 random n x n
#: matrices is near its Gaussian (CLT) limit only for k >> n (fixed with the claim, before any run)
MIN_WIDTH_RATIO = 8


def _slope(fit) -> Estimate | None:
    if fit.n < 3 or not math.isfinite(fit.lo):
        return None
    return Estimate.interval(fit.slope, fit.lo, fit.hi, f"t {fit.ci:.0%} (log-log fit)", fit.n)


def _op_err_slope(r: KernelSpectrum):
    return _slope(r.fit("op_err", np.asarray(r.k_values) >= MIN_WIDTH_RATIO * r.n))


def _misfit_slope(r: KernelSpectrum):
    mask = r.perturbative()
    if mask.sum() < 3:
        return None
    return _slope(r.fit("misfit", mask))


def _band_energy(r: KernelSpectrum) -> np.ndarray:
    """Per trial: the mean over the top ``p`` eigenvectors of their energy on the predicted frequency and its two neighbours."""
    pred = r.predicted_frequency()[: r.p]
    band = [r.energy[:, i, max(0, f - 1):f + 2].sum(axis=-1) for i, f in enumerate(pred)]
    return np.mean(band, axis=0)


def _cs_rows(r: CompressedSensing, m_min: float):
    rows = np.nonzero(r.rows(m_min))[0]
    return rows


def _cs_recovers(r: CompressedSensing):
    rows = _cs_rows(r, 4 * r.p)
    if rows.size == 0:
        return None
    return Estimate.mean(r.final[rows[0]])


def _cs_lazy_ratio(lo: float, hi: float):
    """Mean over trials of the network-to-lazy error ratio, averaged over the m with ``lo * p <= m < hi * p``."""
    def measure(r: CompressedSensing):
        m = np.asarray(r.m_values)
        rows = np.nonzero((m >= lo * r.p) & (m < hi * r.p))[0]
        if rows.size == 0:
            return None
        return Estimate.mean((r.final[rows] / r.rel_lazy[rows]).mean(axis=0))
    return measure


def _cs_monotone(r: CompressedSensing):
    rows = _cs_rows(r, r.p)
    if rows.size == 0:
        return None
    return Estimate.mean((r.rel_nn[-1, rows] / r.rel_nn[:, rows].min(axis=0)).max(axis=0))


EXPECTED_KERNEL = Claim(
    "expected_kernel_is_sigma", kind="theorem",
    source="Heckel & Soltanolkotabi, ICLR 2020 (arXiv 1910.14634), §4: the expected Jacobian kernel "
           "(ilib notes part 2, §4.1)",
    statement="the kernel J J^T at a random start has expectation Σ_ij = <u_i,u_j>(1 - arccos(ρ_ij)/π)/2: on every "
              "Fourier mode w of frequency f, E[w^T K w] = λ_f(Σ) (mean ratio over the n modes = 1)",
    predict=lambda r: 1.0, measure=lambda r: Estimate.mean(r.quad_ratio.mean(axis=1)), rule=Covers(),
)
SIGMA_IS_FOURIER_DIAGONAL = Claim(
    "sigma_is_fourier_diagonal", kind="sanity",
    source="Σ is a symmetric circulant matrix (its rows are shifts of one row)",
    statement="Σ is diagonal in the real Fourier basis, with equal eigenvalues on the cosine and sine of each "
              "frequency (largest off-diagonal entry below 1e-10)",
    predict=lambda r: 1e-10, measure=lambda r: Estimate.exact(r.sigma_offdiag), rule=AtMost(),
)
KERNEL_CONCENTRATES = Claim(
    "kernel_concentrates_at_rate_k_half", kind="theorem",
    source="matrix concentration of an average of k/2 iid bounded matrices (Tropp 2015, Thm 6.1.1, matrix "
           "Bernstein), as used by Heckel & Soltanolkotabi 2020 to replace J J^T by Σ",
    statement="||K(C_0) - Σ|| falls as k^(-1/2): the log-log slope over the widths k >= 8n is -1/2",
    predict=lambda r: -0.5, measure=_op_err_slope, rule=Covers(),
    detail=lambda r: {"k": list(r.k_values), "mean_op_err": r.sweep_op_err.mean(axis=1).tolist()},
)
EIGENSPACE_RATE = Claim(
    "eigenspace_misfit_falls_as_1_over_k", kind="theorem",
    source="Davis & Kahan 1970 (sin Θ theorem) and second-order perturbation of the spectral projector "
           "(Kato 1966, §II.2), with the k^(-1/2) rate of ||K - Σ||",
    statement="in the perturbative regime ||K - Σ|| < δ_p/2 (δ_p: Σ's gap after the p signal modes), the "
              "top-p eigenspace of K misses the degree-(p-1)/2 trigonometric polynomials by 1 - overlap ∝ 1/k: "
              "log-log slope -1 over the widths in the regime",
    predict=lambda r: -1.0, measure=_misfit_slope, rule=Covers(),
    detail=lambda r: {"gap": r.gap, "widths_in_regime": [k for k, m in zip(r.k_values, r.perturbative()) if m]},
)
WEYL = Claim(
    "eigenvalues_within_weyl_bound", kind="sanity",
    source="Weyl's inequality |λ_i(K) - λ_i(Σ)| <= ||K - Σ|| (Weyl 1912)",
    statement="every eigenvalue of every sampled kernel lies within ||K - Σ|| of Σ's, so the decay ratios "
              "λ_1/λ_10 and λ_1/λ_40 of K are Σ's up to that perturbation",
    predict=lambda r: 1.0, measure=lambda r: Estimate.exact(r.weyl_holds().mean(), r.trials), rule=AtLeast(),
)
EIGENVECTORS_FOURIER = Claim(
    "eigenvectors_are_trigonometric", kind="finding",
    source="Heckel & Soltanolkotabi 2020, §4 (trigonometric eigenvectors of Σ), measured at finite width",
    statement="at width k, each of the top p eigenvectors of K puts on average at least 90% of its energy on the "
              "frequency Σ predicts for it and its two neighbours",
    predict=lambda r: 0.9, measure=lambda r: Estimate.mean(_band_energy(r)), rule=AtLeast(),
    detail=lambda r: {"single_pair_concentration": float(r.concentration()[:, : r.p].mean())},
)
LAZY_CLOSED_FORM = Claim(
    "lazy_closed_form_is_the_iteration", kind="sanity",
    source="ilib notes part 2, §4.2: the lazy residual is (I - ηK)^t y",
    statement="the closed form V(1 - ηΛ)^t V^T y equals the explicit iteration r <- r - ηKr (float64, first 50 "
              "steps, largest difference below 1e-9)",
    predict=lambda r: 1e-9, measure=lambda r: Estimate.exact(r.closed_form_dev), rule=AtMost(),
)
TRACKS_LAZY_MODEL = Claim(
    "network_tracks_the_lazy_model", kind="theorem",
    source="Heckel & Soltanolkotabi 2020 (the over-parameterised network stays near its linearisation with the "
           "expected kernel; cf. Jacot, Gabriel & Hongler 2018); bound by telescoping (I-ηK)^t - (I-ηΣ)^t",
    statement="until the optimal stopping time t*, the network's residual stays within the lazy model's own "
              "perturbation bound: ||r_t - (I-ηΣ)^t y|| <= t η ||K(C_0) - Σ|| ||y|| in every trial "
              "(largest ratio <= 1)",
    predict=lambda r: 1.0, measure=lambda r: Estimate.exact(r.tracking_ratio().max(), r.trials), rule=AtMost(),
)
NONLINEAR_SHARE = Claim(
    "network_departs_little_from_its_linearisation", kind="finding",
    source="this notebook: ||r^NN - r^K|| against ||r^K - r^Σ|| at t*",
    statement="at t*, the network's departure from its own linearisation is at most a tenth of the departure "
              "of that linearisation from the expected-kernel model",
    predict=lambda r: 0.1, measure=lambda r: Estimate.mean(r.nonlinear_share()), rule=AtMost(),
)
EARLY_STOPPED_LAZY = Claim(
    "early_stopped_error_is_the_lazy_optimum", kind="theorem",
    source="ilib notes part 2, §4.2 [our derivation] on Heckel & Soltanolkotabi 2020's linearisation",
    statement="at the lazy model's optimal step t*, E||G(C_t*) - x||² equals its prediction "
              "e* = Σ_i (1-(1-ηλ_i)^t*)² σ²/n + (1-ηλ_i)^(2t*) E x_i²",
    predict=lambda r: r.e_star, measure=lambda r: Estimate.mean(r.err_nn[r.t_star]), rule=Covers(),
    detail=lambda r: {"t_star": r.t_star},
)
P_SIGMA2_OVER_N = Claim(
    "early_stopped_error_is_p_sigma2_over_n_iff_the_spectrum_decays", kind="theorem",
    source="Heckel & Soltanolkotabi 2020 (ilib notes part 2, §4.1 [MEM]: about pσ²/n for x in the top-p span; "
           "§4.4: needs a decaying spectrum)",
    statement="the network's early-stopped error (minimum over t of the mean error) is about pσ²/n, within "
              "[P/(1+P), 1.5 P] for P = pσ²/n, when the spectrum decays after mode p (checked from Σ alone: "
              "the lazy optimum e* <= 1.5 P); otherwise (flat spectrum) it is above 1.5 P",
    predict=lambda r: [r.lower_bound(), ABOUT * r.p_sigma2_over_n] if r.decays() else [ABOUT * r.p_sigma2_over_n,
                                                                                      math.inf],
    measure=lambda r: r.nn_min()[1], rule=Overlaps(),
    detail=lambda r: {"decays": r.decays(), "e_star_over_P": r.e_star / r.p_sigma2_over_n, "t_min": r.nn_min()[0]},
)
LATE_SLOWER = Claim(
    "late_in_training_the_network_fits_noise_more_slowly", kind="finding",
    source="ilib notes part 2, §4.4 (the lazy model is worst on small-eigenvalue modes)",
    statement="at the last step the network has fitted less noise than its own lazy model: "
              "||f_T^K - x||² - ||G(C_T) - x||² > 0",
    predict=lambda r: 0.0, measure=lambda r: Estimate.mean(r.err_lazy_k[-1] - r.err_nn[-1]), rule=Above(),
)
CS_MATCHES_LAZY = Claim(
    "cs_error_is_the_lazy_models", kind="theorem",
    source="Heckel & Soltanolkotabi, ICML 2020 (arXiv 2005.03991): gradient descent on the un-trained network "
           "behaves as on its linearisation and finds the smoothest approximation",
    statement="where recovery is still partial (p <= m < 4p), the network's relative error after T steps equals "
              "that of the lazy Σ model after T steps on the same (A, x): mean ratio 1",
    predict=lambda r: 1.0, measure=_cs_lazy_ratio(1, 4), rule=Covers(),
)
CS_FINITE_WIDTH = Claim(
    "cs_small_errors_show_the_finite_width", kind="finding",
    source="this notebook: K(C_0) differs from Σ by O(k^(-1/2)) (claim kernel_concentrates_at_rate_k_half)",
    statement="at m >= 8p, where the lazy Σ model's error is small, the network's error is larger than it "
              "(ratio > 1): the finite-width kernel no longer holds x in its top eigenspace exactly",
    predict=lambda r: 1.0, measure=_cs_lazy_ratio(8, math.inf), rule=Above(),
)
CS_RECOVERS = Claim(
    "cs_recovers_from_a_small_multiple_of_p", kind="theorem",
    source="Heckel & Soltanolkotabi, ICML 2020 (near-minimal m for smooth signals), read as in ilib notes part 2, "
           "§4.3: error ≈ 0 beyond a small multiple of p",
    statement="at the smallest m >= 4p, the mean relative error ||G(C_T) - x||/||x|| is at most 0.1",
    predict=lambda r: 0.1, measure=_cs_recovers, rule=AtMost(),
)
CS_NO_EARLY_STOPPING = Claim(
    "cs_needs_no_early_stopping", kind="theorem",
    source="Heckel & Soltanolkotabi, ICML 2020, abstract: recovery 'when trained with gradient descent until "
           "convergence', without early stopping",
    statement="for noiseless measurements the error at the last step is at most 10% above the smallest error "
              "along the run (worst m >= p, mean over trials)",
    predict=lambda r: 1.1, measure=_cs_monotone, rule=AtMost(),
)
NOISE_FRACTION = Claim(
    "decoder_fits_at_most_n_params_over_n_of_the_noise", kind="theorem",
    source="Heckel & Hand, ICLR 2019 (arXiv 1810.03982), as read in ilib notes part 2, §4.1 [MEM]: fitting noise "
           "keeps about a fraction N/n of its energy",
    statement="fitted to pure noise, the under-parameterised decoder explains at most a fraction N/n of its energy",
    predict=lambda v: v.param_ratio, measure=lambda v: Estimate.mean(v.noise_fit), rule=AtMost(),
)
UNDER_NO_EARLY_STOPPING = Claim(
    "under_parameterised_decoder_needs_no_early_stopping", kind="theorem",
    source="Heckel & Hand, ICLR 2019 (under-parameterised: no early stopping; ilib notes part 2, §4.1)",
    statement="running the under-parameterised decoder to the end costs at most the noise it can fit: "
              "(MSE_final - MSE_best) / (σ² N/n) <= 1",
    predict=lambda v: 1.0, measure=lambda v: Estimate.mean(v.cost_of_not_stopping()), rule=AtMost(),
)
OVER_NEEDS_EARLY_STOPPING = Claim(
    "over_parameterised_network_needs_early_stopping", kind="theorem",
    source="Ulyanov, Vedaldi & Lempitsky, CVPR 2018 (deep image prior: the fit passes the clean image before the "
           "noise); Heckel & Soltanolkotabi 2020, §1",
    statement="the over-parameterised network's PSNR at the last step is at least 1 dB below its best along the run",
    predict=lambda v: 1.0, measure=lambda v: Estimate.mean(v.over_drop), rule=AtLeast(),
)
DECODER_VS_TV = Claim(
    "small_decoder_trails_oracle_tv", kind="finding",
    source="this notebook (Heckel & Hand 2019 compare on 512 x 512 images; here a 64 x 64 crop)",
    statement="on the small crop the under-parameterised decoder, run to the end, does not beat total variation "
              "with its best weight: PSNR(decoder) - PSNR(TV) <= 0",
    predict=lambda v: 0.0, measure=lambda v: Estimate.mean(v.under_last - v.tv_best), rule=AtMost(),
)
