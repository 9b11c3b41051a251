r"""Approximate message passing with random generative priors: denoisers, AMP and GAMP, state evolution, spectral methods.

Objects, estimators and closed forms for two families of problems with a one-layer random generative prior
:math:`x = \varphi(Wz/\sqrt k)`, :math:`W` iid :math:`\mathcal N(0, 1)`, :math:`z \sim \mathcal N(0, I_k)`
(Aubin, Loureiro, Maillard, Krzakala & Zdeborová, NeurIPS 2019, "A1"; Aubin, Loureiro, Baker, Krzakala &
Zdeborová, MSML 2020, "A2"):

* the **spiked Wigner model** :math:`Y = vv^\top/\sqrt p + \sqrt\Delta\,\xi \in \mathbb R^{p\times p}`, with
  :math:`\xi` symmetric, :math:`\xi_{ij} \sim \mathcal N(0, 1)` off the diagonal (:math:`(G + G^\top)/\sqrt 2`),
  :math:`v = \varphi(Wz/\sqrt k)`, :math:`\alpha = p/k` (:class:`SpikedWigner`, :func:`spiked_amp`,
  :func:`pca`, :func:`lamp`);
* **generalised linear estimation** :math:`y = \psi(Ax/\sqrt n)`, :math:`A \in \mathbb R^{m\times n}` iid
  :math:`\mathcal N(0, 1)`, :math:`\alpha = m/n`, :math:`\rho = k/n`: compressed sensing (:class:`GaussianChannel`)
  and real phase retrieval (:class:`PhaseChannel`) (:class:`GLMProblem`, :func:`gamp`).

Priors, as the AMP sees them (each one maps a Gaussian "observation" :math:`B = \Lambda x + \sqrt\Lambda\,\zeta`
of the signal to a posterior mean and its average variance, :meth:`step`):

* :class:`GaussianPrior` -- the linear prior :math:`x \sim \mathcal N(0, K)`, :math:`K = WW^\top/k`
  (the exact, non-separable posterior mean :math:`K(I + \Lambda K)^{-1}B`);
* :class:`SignLayerPrior` -- :math:`x = \mathrm{sign}(Wz/\sqrt k)`, one layer of multi-layer AMP (Manoel,
  Krzakala, Mézard & Zdeborová 2017) with its own memory;
* :class:`GaussBernoulliPrior` -- the separable sparse prior :math:`(1-\rho)\delta_0 + \rho\,\mathcal N(0, 1/\rho)`.

State evolution (:func:`se_spiked`, :func:`se_glm`) tracks the overlap :math:`m = \lim x^\top\hat x/n` of the
Bayes-optimal AMP through one-dimensional (or two-dimensional, with a layer) fixed-point maps; the prior's part
is :class:`GaussianSpectrumSE` (the linear prior through the Marchenko--Pastur law of :math:`K`),
:class:`LayerSE` (a linear or sign layer, two-layer SE of Gabrié et al. 2018) or :class:`GaussBernoulliSE`.
Thresholds: :func:`delta_c` (spiked weak recovery), :func:`alpha_weak_recovery` (phase retrieval),
:func:`cs_linear_mse` (noiseless CS, linear prior, below :math:`\alpha = \rho`); the same thresholds are
located numerically on the state evolution by :func:`se_jacobian_top` and :func:`bisect`.

Every tensor function is batched: vectors have shape ``(T, C, n)`` (``T`` independent instances, ``C``
columns sharing an instance's matrices -- noise levels, or channels), scalars per column ``(T, C)``.

References
----------
.. [A1] B. Aubin, B. Loureiro, A. Maillard, F. Krzakala, L. Zdeborová, "The spiked matrix model with generative
   priors", NeurIPS 2019, arXiv:1905.12385.
.. [A2] B. Aubin, B. Loureiro, A. Baker, F. Krzakala, L. Zdeborová, "Exact asymptotics for phase retrieval and
   compressed sensing with random generative priors", MSML 2020, arXiv:1912.02008.
.. [BBP05] J. Baik, G. Ben Arous, S. Péché, "Phase transition of the largest eigenvalue for nonnull complex sample
   covariance matrices", Ann. Probab. 33(5), 2005; F. Benaych-Georges, R. R. Nadakuditi, Adv. Math. 227, 2011.
.. [Ran11] S. Rangan, "Generalized approximate message passing for estimation with random linear mixing", ISIT 2011.
.. [MKMZ17] A. Manoel, F. Krzakala, M. Mézard, L. Zdeborová, "Multi-layer generalized linear estimation", ISIT 2017.
.. [G18] M. Gabrié, A. Manoel, C. Luneau, J. Barbier, N. Macris, F. Krzakala, L. Zdeborová, "Entropy and mutual
   information in models of deep neural networks", NeurIPS 2018.
.. [MM18] M. Mondelli, A. Montanari, "Fundamental limits of weak recovery with applications to phase retrieval",
   Found. Comput. Math. 19, 2019.
.. [BMN20] R. Berthier, A. Montanari, P.-M. Nguyen, "State evolution for approximate message passing with
   non-separable functions", Inf. Inference 9(1), 2020.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Optional, Sequence

import numpy as np
import torch
from scipy import special

from ._checks import (check_choice, check_in_range, check_int, check_nonneg, check_positive, check_positive_int,
                      check_tensor)
from .device import DeviceLike, SeedLike, make_generator, randn, resolve_device

ACTIVATIONS = ("linear", "sign")
MU1 = {"linear": 1.0, "sign": math.sqrt(2.0 / math.pi)}  # mu_1 = E[g phi(g)], g ~ N(0, 1)


# ============================================================================================ closed forms
def _activation(activation: str) -> str:
    return check_choice(activation, "activation", ACTIVATIONS)


def delta_c(alpha: float, activation: str = "linear") -> float:
    r"""Weak-recovery threshold of the spiked Wigner model with a one-layer prior: :math:`\Delta_c = 1 + \mu_1^4\alpha`.

    The trivial fixed point of the state evolution is unstable iff :math:`\Delta < \lim \tfrac1p\operatorname{tr}K^2`,
    :math:`K = \mathbb E[vv^\top \mid W]`; for :math:`\varphi` with :math:`\mathbb E\varphi = 0`, :math:`\mathbb E\varphi^2 = 1`,

    .. math::

        \Delta_c = 1 + \mu_1^4\,\alpha, \qquad \mu_1 = \mathbb E[g\varphi(g)],

    so :math:`1 + \alpha` for the linear prior and :math:`1 + 4\alpha/\pi^2` for the sign prior (A1 [A1]_; the
    linear value is also the threshold of the linearised-AMP spectral method, A1's theorem, and the sign value
    A1's conjecture for it).
    """
    alpha = check_positive(alpha, "alpha")
    return 1.0 + MU1[_activation(activation)] ** 4 * alpha


def alpha_weak_recovery(rho: float, prior: str = "linear") -> float:
    r"""Weak-recovery threshold :math:`\alpha_{WR} = m/n` of real phase retrieval (our derivation, notes §1.4).

    Linearising the state evolution at :math:`m = 0` (:math:`\mathbb E g_{\rm out}^2 \approx 2m_x`, since
    :math:`\mathbb E(y^2 - 1)^2 = 2`): :math:`m_x' \approx 2\alpha\,\tfrac1n\operatorname{tr}(K^2)\,m_x` with
    :math:`\tfrac1n\operatorname{tr}K^2 \to 1 + \mu_1^4/\rho`, hence

    .. math::

        \alpha_{WR} = \frac{\rho}{2(\rho + \mu_1^4)}

    (:math:`\rho/(2(1 + \rho))` linear, :math:`\rho/(2(\rho + 4/\pi^2))` sign), and :math:`\alpha_{WR} = 1/2`
    for any separable prior, sparse or not (Mondelli & Montanari [MM18]_): ``prior="sparse"``.
    """
    rho = check_in_range(rho, "rho", 0.0, None, lo_open=True)
    if check_choice(prior, "prior", ACTIVATIONS + ("sparse",)) == "sparse":
        return 0.5
    return rho / (2.0 * (rho + MU1[prior] ** 4))


def cs_linear_mse(alpha, rho: float):
    r"""Noiseless compressed sensing with the linear prior: :math:`\mathrm{MSE}_x = (1 - \alpha/\rho)(1 - \alpha)` below
    :math:`\alpha = \rho`, zero above (our derivation, notes §1.4: the posterior of :math:`z` is Gaussian and the
    measurements fix an :math:`m`-dimensional subspace of the :math:`k`-dimensional latent).

    At the fixed point :math:`\mathrm{MSE}_z = V = 1 - \alpha/\rho`, and the counting bound :math:`m = k` is the
    onset of perfect recovery.
    """
    rho = check_in_range(rho, "rho", 0.0, None, lo_open=True)
    a = np.asarray(alpha, dtype=float)
    if np.any(~np.isfinite(a)) or np.any(a <= 0):
        raise ValueError(f"alpha must hold finite positive numbers, got {alpha!r}")
    out = np.where(a < rho, (1 - a / rho) * (1 - a), 0.0)
    return float(out) if np.ndim(alpha) == 0 else out


def pca_overlap(delta):
    r"""Asymptotic overlap :math:`|\hat u^\top v|/\|v\|` of the top eigenvector of :math:`Y/\sqrt p` (BBP [BBP05]_):
    :math:`\sqrt{1 - \Delta}` for :math:`\Delta < 1`, else 0 (a spike of strength :math:`\|v\|^2/p \to 1`)."""
    d = np.asarray(delta, dtype=float)
    if np.any(~np.isfinite(d)) or np.any(d <= 0):
        raise ValueError(f"delta must hold finite positive numbers, got {delta!r}")
    out = np.sqrt(np.clip(1.0 - d, 0.0, None))
    return float(out) if np.ndim(delta) == 0 else out


def pca_top_eigenvalue(delta):
    r"""Asymptotic top eigenvalue of :math:`Y/\sqrt p` (BBP [BBP05]_): :math:`1 + \Delta` for :math:`\Delta < 1`, else
    the bulk edge :math:`2\sqrt\Delta`."""
    d = np.asarray(delta, dtype=float)
    if np.any(~np.isfinite(d)) or np.any(d <= 0):
        raise ValueError(f"delta must hold finite positive numbers, got {delta!r}")
    out = np.where(d < 1, 1 + d, 2 * np.sqrt(d))
    return float(out) if np.ndim(delta) == 0 else out


def trace_k2(p: int, k: int, activation: str = "linear") -> float:
    r""":math:`\mathbb E\,\tfrac1p\operatorname{tr}K^2` for :math:`K = aWW^\top/k + (1 - a)I` at finite size.

    With :math:`W \in \mathbb R^{p\times k}` iid :math:`\mathcal N(0,1)`, :math:`\mathbb E(W^\top W)_{aa}^2 = p^2 + 2p`
    and :math:`\mathbb E(W^\top W)_{ab}^2 = p` (:math:`a \ne b`), so :math:`\mathbb E\tfrac1p\operatorname{tr}(WW^\top/k)^2
    = 1 + \alpha + 1/k`; with :math:`a = \mu_1^2` (the linearised sign kernel of A1's code)

    .. math::

        \mathbb E\,\tfrac1p\operatorname{tr}K^2 = 1 + a^2(\alpha + 1/k), \qquad \alpha = p/k.
    """
    p, k = check_positive_int(p, "p"), check_positive_int(k, "k")
    a = MU1[_activation(activation)] ** 2
    return 1.0 + a * a * (p / k + 1.0 / k)


# ============================================================================================ quadrature
_GH_CACHE: dict = {}


def gauss_hermite(n: int) -> tuple[np.ndarray, np.ndarray]:
    r"""Nodes and weights of :math:`\mathbb E_{g\sim\mathcal N(0,1)} f(g) \approx \sum_j w_j f(x_j)` (probabilists' Hermite)."""
    n = check_positive_int(n, "n")
    if n not in _GH_CACHE:
        x, w = np.polynomial.hermite_e.hermegauss(n)
        _GH_CACHE[n] = (x, w / math.sqrt(2 * math.pi))
    return _GH_CACHE[n]


def _legendre(n: int) -> tuple[np.ndarray, np.ndarray]:
    key = ("leg", n)
    if key not in _GH_CACHE:
        _GH_CACHE[key] = np.polynomial.legendre.leggauss(n)
    return _GH_CACHE[key]


def expect_broad(f: Callable[[np.ndarray], np.ndarray], r: float, *, cut: float = 12.0, nodes: int = 200):
    r""":math:`\mathbb E_{s\sim\mathcal N(0, r^2)} f(s)` for ``f`` smooth on the unit scale and constant beyond :math:`|s| >` ``cut``.

    Gauss--Legendre on :math:`[-a, a]`, :math:`a = \min(\mathrm{cut}, 10r)`, with the Gaussian weight, plus the
    tail mass :math:`2\Phi(-a/r)` at :math:`(f(a) + f(-a))/2`. Used where the Gaussian is much broader than the
    scale of the integrand (near perfect recovery the state evolution's integrands become step-like in the
    natural variable, smooth in this one); ``r = 0`` gives ``f(0)``. ``f`` maps ``(N,)`` points to ``(N, ...)``
    values; the result has shape ``(...)`` (a float for scalar ``f``).
    """
    if r <= 1e-300:
        out = np.asarray(f(np.zeros(1)), dtype=float)[0]
        return float(out) if out.ndim == 0 else out
    a = min(cut, 10.0 * r)
    x, w = _legendre(nodes)
    s = a * x
    dens = a * w * np.exp(-0.5 * (s / r) ** 2) / (r * math.sqrt(2 * math.pi))
    vals = np.asarray(f(s), dtype=float)
    val = np.tensordot(dens, vals, axes=(0, 0))
    tail = 2.0 * special.ndtr(-a / r)
    if tail > 0:
        ends = np.asarray(f(np.array([a, -a])), dtype=float)
        val = val + tail * 0.5 * (ends[0] + ends[1])
    return float(val) if np.ndim(val) == 0 else val


@dataclass(frozen=True)
class MarchenkoPastur:
    r"""The Marchenko--Pastur law of :math:`K = WW^\top/k`, :math:`W \in \mathbb R^{p\times k}` iid :math:`\mathcal N(0,1)`,
    with ratio :math:`y = p/k`: an atom :math:`(1 - 1/y)_+` at 0 and the density

    .. math::

        \mu(\lambda) = \frac{\sqrt{(b - \lambda)(\lambda - a)}}{2\pi y\lambda}, \qquad a, b = (1 \mp \sqrt y)^2 .

    :meth:`expect` integrates by :math:`\lambda = 1 + y + 2\sqrt y\cos\theta`, which makes the integrand smooth.
    """

    ratio: float
    nodes: int = 400

    def __post_init__(self):
        check_positive(self.ratio, "ratio")

    @property
    def edges(self) -> tuple[float, float]:
        s = math.sqrt(self.ratio)
        return (1 - s) ** 2, (1 + s) ** 2

    def expect(self, f: Callable[[np.ndarray], np.ndarray]) -> float:
        r""":math:`\int f(\lambda)\,d\mu(\lambda)` including the atom at zero (``f`` vectorised, ``f(0)`` finite)."""
        y = self.ratio
        x, w = _legendre(self.nodes)
        th = 0.5 * math.pi * (x + 1)
        lam = 1 + y + 2 * math.sqrt(y) * np.cos(th)
        r2 = 4 * y * np.sin(th) ** 2
        with np.errstate(divide="ignore", invalid="ignore"):
            dens = np.where(lam > 0, r2 / (2 * math.pi * y * lam), 0.0)
        val = float(np.sum(0.5 * math.pi * w * dens * f(lam)))
        atom = max(0.0, 1.0 - 1.0 / y)
        if atom > 0:
            val += atom * float(np.asarray(f(np.zeros(1)))[0])
        return val


# ============================================================================================ denoisers
def _as_tensor(x, like: Optional[torch.Tensor] = None) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        return x
    return torch.as_tensor(np.asarray(x, dtype=float), dtype=torch.float64 if like is None else like.dtype,
                           device=None if like is None else like.device)


_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)


def sign_layer_denoiser(B: torch.Tensor, omega: torch.Tensor, V) -> tuple[torch.Tensor, ...]:
    r"""Posterior of :math:`x = \mathrm{sign}(h)` under :math:`h \sim \mathcal N(\omega, V)` and the factor :math:`e^{Bx}`.

    With :math:`u = \omega/\sqrt V` and :math:`Z = e^{B}\Phi(u) + e^{-B}\Phi(-u)` (the Gaussian factor
    :math:`e^{Bx - \Lambda x^2/2}` is :math:`e^{Bx}` up to a constant, since :math:`x^2 = 1`):

    .. math::

        f = \mathbb E[x] = \tanh\!\big(B + \tfrac12\log\tfrac{\Phi(u)}{\Phi(-u)}\big), \qquad c = 1 - f^2 = \partial_B f,

        g = \partial_\omega \log Z = \frac{\varphi(u)\,(e^B - e^{-B})}{\sqrt V\,Z}, \qquad
        \partial_\omega g = -g\,(g + \omega/V).

    Returns ``(f, c, g, dg)``, all of the broadcast shape of the inputs; computed in the log domain (no overflow
    for large fields). The middle layer of multi-layer AMP [MKMZ17]_, in A1's spiked model and A2's GLM alike.
    """
    V = _as_tensor(V, B)
    sv = V.sqrt()
    u = omega / sv
    lp, lm = torch.special.log_ndtr(u), torch.special.log_ndtr(-u)
    a, b = B + lp, -B + lm
    log_z = torch.logaddexp(a, b)
    f = torch.tanh(0.5 * (a - b))
    c = 4.0 * torch.exp(a + b - 2.0 * log_z)
    log_phi = -0.5 * u * u - _LOG_SQRT_2PI
    G = torch.exp(log_phi + B - log_z) - torch.exp(log_phi - B - log_z)
    g = G / sv
    dg = -g * (g + omega / V)
    return f, c, g, dg


def linear_layer_denoiser(B: torch.Tensor, A, omega: torch.Tensor, V) -> tuple[torch.Tensor, ...]:
    r"""Posterior of :math:`x = h` under :math:`h \sim \mathcal N(\omega, V)` and the factor :math:`e^{Bx - Ax^2/2}` (Gaussian):

    .. math::

        f = \frac{\omega/V + B}{1/V + A}, \qquad c = \frac{1}{1/V + A}, \qquad
        g = \frac{f - \omega}{V} = \frac{B - A\omega}{1 + AV}, \qquad \partial_\omega g = -\frac{A}{1 + AV}.

    Returns ``(f, c, g, dg)``: the middle layer of multi-layer AMP with a linear activation [MKMZ17]_.
    """
    A = _as_tensor(A, B)
    V = _as_tensor(V, B)
    d = 1.0 + A * V
    f = (omega + V * B) / d
    c = V / d * torch.ones_like(f)
    g = (B - A * omega) / d
    return f, c, g, -A / d * torch.ones_like(f)


def gauss_bernoulli_denoiser(B: torch.Tensor, A, rho: float) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Posterior mean and variance of :math:`x \sim (1-\rho)\delta_0 + \rho\,\mathcal N(0, \sigma^2)`, :math:`\sigma^2 = 1/\rho`,
    under the factor :math:`e^{Bx - Ax^2/2}` (a Gaussian observation :math:`B = Ax + \sqrt A\,\zeta`).

    .. math::

        \pi = \operatorname{sigmoid}\!\Big(\operatorname{logit}\rho - \tfrac12\log(1 + A\sigma^2)
        + \frac{\sigma^2 B^2}{2(1 + A\sigma^2)}\Big), \qquad
        f = \pi\,\frac{\sigma^2 B}{1 + A\sigma^2}, \qquad
        c = \pi\Big(\frac{\sigma^2}{1 + A\sigma^2} + \frac{\sigma^4B^2}{(1 + A\sigma^2)^2}\Big) - f^2 .
    """
    A = _as_tensor(A, B)
    s2 = 1.0 / rho
    d = 1.0 + A * s2
    logit = math.log(rho) - math.log1p(-rho) - 0.5 * torch.log(d) + 0.5 * s2 * B * B / d
    pi = torch.sigmoid(logit)
    mean1 = s2 * B / d
    f = pi * mean1
    c = pi * (s2 / d + mean1 * mean1) - f * f
    return f, c.clamp_min(0.0)


def gaussian_channel(y: torch.Tensor, omega: torch.Tensor, V, noise: float) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Output function of :math:`y = u + \sqrt\Delta\,\varepsilon` (compressed sensing):
    :math:`g = (y - \omega)/(\Delta + V)`, :math:`\partial_\omega g = -1/(\Delta + V)`."""
    S = _as_tensor(V, omega) + noise
    return (y - omega) / S, -1.0 / S * torch.ones_like(omega)


def phase_channel(y: torch.Tensor, omega: torch.Tensor, V, noise: float) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Output function of real phase retrieval :math:`y = |u + \sqrt\Delta\,\varepsilon|`, i.e. the likelihood
    :math:`\tfrac12\mathcal N(y; u, \Delta) + \tfrac12\mathcal N(y; -u, \Delta)`. With :math:`S = V + \Delta`,
    :math:`t = y\omega/S`:

    .. math::

        g = \frac{y\tanh t - \omega}{S}, \qquad \partial_\omega g = \frac{y^2}{S^2}(1 - \tanh^2 t) - \frac1S .
    """
    S = _as_tensor(V, omega) + noise
    th = torch.tanh(y * omega / S)
    return (y * th - omega) / S, y * y / (S * S) * (1 - th * th) - 1.0 / S


# ============================================================================================ covariances
@dataclass(frozen=True)
class LowRankCovariance:
    r"""A batch of covariances :math:`K = U\operatorname{diag}(\lambda)U^\top + \lambda_0(I - UU^\top)`, ``U`` of shape
    ``(T, p, r)`` with orthonormal columns, ``lam`` ``(T, r)``.

    :meth:`from_weights` builds :math:`K = a\,FF^\top + (1 - a)I` from :math:`F = W/\sqrt k` by a thin SVD: the
    linear prior (:math:`a = 1`) and A1's linearised sign kernel (:math:`a = \mu_1^2 = 2/\pi`). Functions of
    :math:`K` act through :meth:`apply` (``fn`` applied to the eigenvalues) at the cost of two ``p x r`` products.
    """

    U: torch.Tensor
    lam: torch.Tensor
    lam0: float

    @classmethod
    def from_weights(cls, F: torch.Tensor, a: float = 1.0) -> "LowRankCovariance":
        check_tensor(F, "F", dim=3, dtype="floating")
        U, s, _ = torch.linalg.svd(F, full_matrices=False)
        return cls(U=U, lam=a * s * s + (1.0 - a), lam0=1.0 - a)

    @property
    def p(self) -> int:
        return self.U.shape[-2]

    def apply(self, fn: Callable, X: torch.Tensor, *args) -> torch.Tensor:
        r""":math:`f(K)X` for ``X`` of shape ``(T, C, p)``; ``fn(lam, *args)`` is called with ``lam`` of shape ``(T, 1, r)``
        (and once with the scalar :math:`\lambda_0` as a tensor) and each ``arg`` given as ``(T, C, 1)``."""
        coef = X @ self.U  # (T, C, r)
        lam = self.lam.unsqueeze(1)
        out = (coef * fn(lam, *args)) @ self.U.transpose(-1, -2)
        f0 = fn(torch.full_like(lam[..., :1], self.lam0), *args)
        if bool((f0 != 0).any()) and (self.lam0 != 0.0 or self.U.shape[-1] < self.p):
            out = out + f0 * (X - coef @ self.U.transpose(-1, -2))
        return out

    def trace(self, fn: Callable, *args) -> torch.Tensor:
        r""":math:`\tfrac1p\operatorname{tr} f(K)`, shape ``(T, C)`` (``args`` as in :meth:`apply`)."""
        lam = self.lam.unsqueeze(1)
        tot = fn(lam, *args).sum(-1)
        rest = self.p - self.U.shape[-1]
        if rest:
            tot = tot + rest * fn(torch.full_like(lam[..., :1], self.lam0), *args).squeeze(-1)
        return tot / self.p

    def dense(self) -> torch.Tensor:
        """The matrices themselves, ``(T, p, p)`` (for tests)."""
        eye = torch.eye(self.p, dtype=self.U.dtype, device=self.U.device)
        return (self.U * self.lam.unsqueeze(1)) @ self.U.transpose(-1, -2) + self.lam0 * (
            eye - self.U @ self.U.transpose(-1, -2))


def _wiener(lam, A):
    return lam / (1.0 + A * lam)


# ============================================================================================ priors (AMP side)
class GaussianPrior:
    r"""The linear prior :math:`x = Wz/\sqrt k \sim \mathcal N(0, K)`, :math:`K = FF^\top`, :math:`F = W/\sqrt k`.

    The Bayes denoiser of a Gaussian observation :math:`B = \Lambda x + \sqrt\Lambda\,\zeta` is exact and non-separable:

    .. math::

        \hat x = K(I + \Lambda K)^{-1}B, \qquad c = \tfrac1n\operatorname{tr}K(I + \Lambda K)^{-1}
        = \tfrac1n\operatorname{tr}\frac{\partial\hat x}{\partial B},

    so AMP with it follows the state evolution of non-separable denoisers [BMN20]_ (notes §1.2, [DER]).
    ``F`` has shape ``(T, n, k)``.
    """

    rho_x = 1.0

    def __init__(self, F: torch.Tensor):
        self.F = check_tensor(F, "F", dim=3, dtype="floating")
        self.cov = LowRankCovariance.from_weights(F)

    def reset(self, C: int) -> None:
        """No memory (kept for the common interface)."""

    def step(self, B: torch.Tensor, A: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        a = A.unsqueeze(-1)
        return self.cov.apply(_wiener, B, a), self.cov.trace(_wiener, a)

    def sample(self, z: torch.Tensor) -> torch.Tensor:
        """:math:`x = Fz` for latents ``z`` of shape ``(T, C, k)``."""
        return z @ self.F.transpose(-1, -2)


class LayerPrior:
    r""":math:`x = \varphi(Fz)`, :math:`F = W/\sqrt k` (``(T, n, k)``), :math:`z \sim \mathcal N(0, I_k)`, :math:`\varphi` linear or
    sign: one layer of multi-layer AMP [MKMZ17]_ (the AMP of A1 and A2), with its own memory (:math:`\hat z`, its
    variance, the last :math:`g_h`).

    One :meth:`step` with the field :math:`(B, \Lambda)` on :math:`x` from below:

    .. math::

        V = \bar c_z, \quad \omega = F\hat z - V g_h^{\rm prev}, \quad
        (\hat x, c_x, g_h, \partial g_h) = \text{layer denoiser}(B, \Lambda, \omega, V),

        \Lambda_z = -\tfrac{n}{k}\,\overline{\partial g_h}, \quad \gamma = F^\top g_h + \Lambda_z\hat z, \quad
        \hat z \leftarrow \frac{\gamma}{1 + \Lambda_z}, \quad c_z = \frac{1}{1 + \Lambda_z}

    (:func:`linear_layer_denoiser`, :func:`sign_layer_denoiser`; bars are averages over the coordinates).
    """

    rho_x = 1.0

    def __init__(self, F: torch.Tensor, activation: str = "sign"):
        self.F = check_tensor(F, "F", dim=3, dtype="floating")
        self.activation = _activation(activation)
        self.ratio = F.shape[-2] / F.shape[-1]
        self.z = self.cz = self.g = None

    def reset(self, C: int) -> None:
        T, n, k = self.F.shape
        self.z = torch.zeros(T, C, k, dtype=self.F.dtype, device=self.F.device)
        self.cz = torch.ones(T, C, dtype=self.F.dtype, device=self.F.device)
        self.g = torch.zeros(T, C, n, dtype=self.F.dtype, device=self.F.device)

    def step(self, B: torch.Tensor, A: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.z is None or self.z.shape[1] != B.shape[1]:
            self.reset(B.shape[1])
        V = self.cz.unsqueeze(-1)
        omega = self.z @ self.F.transpose(-1, -2) - V * self.g
        if self.activation == "sign":
            f, c, g, dg = sign_layer_denoiser(B, omega, V)
        else:
            f, c, g, dg = linear_layer_denoiser(B, A.unsqueeze(-1), omega, V)
        lam_z = (-self.ratio * dg.mean(-1)).clamp_min(1e-12)
        gamma = g @ self.F + lam_z.unsqueeze(-1) * self.z
        self.z = gamma / (1.0 + lam_z.unsqueeze(-1))
        self.cz = 1.0 / (1.0 + lam_z)
        self.g = g
        return f, c.mean(-1)

    def sample(self, z: torch.Tensor) -> torch.Tensor:
        """:math:`x = \varphi(Fz)` for latents ``z`` of shape ``(T, C, k)`` (sign(0) read as +1)."""
        h = z @ self.F.transpose(-1, -2)
        return h if self.activation == "linear" else torch.where(h >= 0, 1.0, -1.0).to(h.dtype)


class GaussBernoulliPrior:
    r"""The separable sparse prior :math:`x_i \sim (1-\rho)\delta_0 + \rho\,\mathcal N(0, 1/\rho)` (unit second moment);
    denoiser :func:`gauss_bernoulli_denoiser`."""

    rho_x = 1.0

    def __init__(self, rho: float):
        self.rho = check_in_range(rho, "rho", 0.0, 1.0, lo_open=True, hi_open=True)

    def reset(self, C: int) -> None:
        """No memory."""

    def step(self, B: torch.Tensor, A: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        f, c = gauss_bernoulli_denoiser(B, A.unsqueeze(-1), self.rho)
        return f, c.mean(-1)


class StackedPrior:
    """Different priors on consecutive groups of columns (``sizes`` columns each), so that one AMP run shares its
    matrices between them."""

    def __init__(self, priors: Sequence, sizes: Sequence[int]):
        if len(priors) != len(sizes):
            raise ValueError(f"priors and sizes must have one length, got {len(priors)} and {len(sizes)}")
        self.priors, self.sizes = list(priors), [check_positive_int(s, "sizes") for s in sizes]
        self.rho_x = priors[0].rho_x

    def reset(self, C: int) -> None:
        if C != sum(self.sizes):
            raise ValueError(f"the stacked priors hold {sum(self.sizes)} columns, got {C}")
        for p, s in zip(self.priors, self.sizes):
            p.reset(s)

    def step(self, B: torch.Tensor, A: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        outs = [p.step(b, a) for p, b, a in zip(self.priors, B.split(self.sizes, dim=1), A.split(self.sizes, dim=1))]
        return torch.cat([o[0] for o in outs], dim=1), torch.cat([o[1] for o in outs], dim=1)


def stacked_channel(channels: Sequence[Callable], sizes: Sequence[int]) -> Callable:
    """One output function made of ``channels`` acting on consecutive groups of ``sizes`` columns."""
    sizes = [check_positive_int(s, "sizes") for s in sizes]
    if len(channels) != len(sizes):
        raise ValueError(f"channels and sizes must have one length, got {len(channels)} and {len(sizes)}")

    def channel(y, omega, V):
        V = V if V.dim() == omega.dim() else V.unsqueeze(-1)
        outs = [ch(a, b, c) for ch, a, b, c in zip(channels, y.split(sizes, 1), omega.split(sizes, 1), V.split(sizes, 1))]
        return torch.cat([o[0] for o in outs], 1), torch.cat([o[1] for o in outs], 1)

    return channel


# ============================================================================================ problems
def _check_deltas(deltas) -> torch.Tensor:
    d = torch.as_tensor(np.asarray(deltas, dtype=float))
    if d.dim() != 1 or d.numel() == 0 or not bool(torch.isfinite(d).all()) or bool((d <= 0).any()):
        raise ValueError(f"deltas must be a non-empty list of finite positive numbers, got {deltas!r}")
    return d


@dataclass(frozen=True)
class GenerativeSpike:
    r"""One group of columns of a :class:`SpikedWigner`: the spike :math:`v = \varphi(Fz)` of ``T`` instances
    (``F`` ``(T, p, k)`` with iid :math:`\mathcal N(0, 1/k)` entries, ``z`` ``(T, k)``) seen at the noise levels
    ``deltas``."""

    activation: str
    F: torch.Tensor
    z: torch.Tensor
    deltas: torch.Tensor

    @property
    def k(self) -> int:
        return self.F.shape[-1]

    @property
    def alpha(self) -> float:
        return self.F.shape[-2] / self.F.shape[-1]

    @property
    def v(self) -> torch.Tensor:
        h = (self.F @ self.z.unsqueeze(-1)).squeeze(-1)
        return h if self.activation == "linear" else torch.where(h >= 0, 1.0, -1.0).to(h.dtype)


@dataclass(frozen=True)
class SpikedWigner:
    r"""``T`` instances of :math:`Y = vv^\top/\sqrt p + \sqrt\Delta\,\xi` for several spikes and noise levels at once.

    One noise matrix ``xi`` ``(T, p, p)`` per instance is shared by every column (common random numbers); each
    :class:`GenerativeSpike` of ``spikes`` adds one column per noise level, with its own prior and :math:`v`. So
    :meth:`matvec` applies every (prior, noise level) pair in one matrix-matrix product:
    :math:`(Y_c/\sqrt p)x_c = v_c(v_c^\top x_c)/p + \sqrt{\Delta_c}\,\xi x_c/\sqrt p` for ``X`` of shape
    ``(T, C, p)``. ``v`` ``(T, C, p)`` and ``deltas`` ``(C,)`` hold every column's spike and noise level.
    """

    xi: torch.Tensor
    spikes: tuple
    v: torch.Tensor = field(init=False, repr=False)
    deltas: torch.Tensor = field(init=False, repr=False)

    def __post_init__(self):
        check_tensor(self.xi, "xi", dim=3, dtype="floating")
        for s in self.spikes:
            if s.F.shape[:2] != self.xi.shape[:2]:
                raise ValueError(f"F must have shape ({self.xi.shape[0]}, {self.p}, k), got {tuple(s.F.shape)}")
        v = torch.cat([s.v.unsqueeze(1).expand(-1, len(s.deltas), -1) for s in self.spikes], dim=1)
        object.__setattr__(self, "v", v.contiguous())
        object.__setattr__(self, "deltas", torch.cat([s.deltas for s in self.spikes]))

    @classmethod
    def sample(cls, p: int, priors: Sequence[tuple[str, int]], deltas, *, trials: int, seed: SeedLike,
               device: DeviceLike = "cpu", dtype=torch.float64) -> "SpikedWigner":
        """Draw ``trials`` instances: ``xi = (G + G^T)/sqrt 2`` and, for each ``(activation, k)`` of ``priors``,
        ``W`` iid N(0, 1) (``F = W/sqrt k``) and ``z ~ N(0, I_k)``, seen at every noise level of ``deltas``."""
        p, trials = check_positive_int(p, "p"), check_positive_int(trials, "trials")
        d = _check_deltas(deltas)
        if isinstance(priors, (str, bytes)) or not len(priors):
            raise ValueError(f"priors must be a non-empty list of (activation, k), got {priors!r}")
        g = make_generator(seed)
        dev = resolve_device(device)
        G = randn(trials, p, p, generator=g, dtype=dtype, device=dev)
        xi = (G + G.transpose(-1, -2)) / math.sqrt(2.0)
        spikes = []
        for activation, k in priors:
            _activation(activation)
            k = check_positive_int(k, "k")
            F = randn(trials, p, k, generator=g, dtype=dtype, device=dev) / math.sqrt(k)
            z = randn(trials, k, generator=g, dtype=dtype, device=dev)
            spikes.append(GenerativeSpike(activation, F, z, d.to(device=dev, dtype=dtype)))
        return cls(xi=xi, spikes=tuple(spikes))

    @property
    def p(self) -> int:
        return self.xi.shape[-1]

    @property
    def trials(self) -> int:
        return self.xi.shape[0]

    @property
    def sizes(self) -> list[int]:
        return [len(s.deltas) for s in self.spikes]

    @property
    def columns(self) -> int:
        return sum(self.sizes)

    def matvec(self, X: torch.Tensor) -> torch.Tensor:
        r""":math:`(Y_c/\sqrt p)x_c` column by column (``X`` of shape ``(T, C, p)``)."""
        check_tensor(X, "X", shape=(self.trials, self.columns, self.p))
        v = self.v
        spike = (X * v).sum(-1, keepdim=True) * v / self.p
        return spike + self.deltas.sqrt().view(1, -1, 1) * (X @ self.xi) / math.sqrt(self.p)

    def dense(self, trial: int, column: int) -> torch.Tensor:
        r""":math:`Y_c/\sqrt p` of one instance and column, as a dense matrix (for tests)."""
        v = self.v[trial, column]
        return torch.outer(v, v) / self.p + self.deltas[column].sqrt() * self.xi[trial] / math.sqrt(self.p)

    def prior(self):
        """The Bayes-optimal AMP prior of every column: the exact :class:`GaussianPrior` for a linear spike, multi-layer
        AMP's :class:`LayerPrior` (A1's AMP) for a sign spike."""
        return StackedPrior([GaussianPrior(s.F) if s.activation == "linear" else LayerPrior(s.F, s.activation)
                             for s in self.spikes], self.sizes)


def overlap(estimate: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
    r""":math:`|\hat x^\top x|/(\|\hat x\|\|x\|)` along the last axis (0 for a zero estimate); ``truth`` broadcasts."""
    num = (estimate * truth).sum(-1).abs()
    den = estimate.norm(dim=-1) * truth.norm(dim=-1)
    return torch.where(den > 0, num / den.clamp_min(1e-300), torch.zeros_like(num))


def sign_free_mse(estimate: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
    r""":math:`\min_{s=\pm1}\|\hat x - s x\|^2/\|x\|^2` along the last axis (the sign of a symmetric prior's signal is
    not identifiable)."""
    t2 = (truth * truth).sum(-1)
    return ((estimate * estimate).sum(-1) + t2 - 2 * (estimate * truth).sum(-1).abs()) / t2


# ============================================================================================ spectral methods
@dataclass(frozen=True)
class Eigenpair:
    """Top eigenvalue ``value`` ``(T, C)``, unit eigenvector ``vector`` ``(T, C, p)`` and residual
    :math:`\\|Mv - \\lambda v\\|` of a batch of symmetric operators, from :func:`lanczos_top`."""

    value: torch.Tensor
    vector: torch.Tensor
    residual: torch.Tensor


def lanczos_top(matvec: Callable[[torch.Tensor], torch.Tensor], x0: torch.Tensor, iters: int) -> Eigenpair:
    r"""Top eigenpair of a batch of symmetric operators by ``iters`` Lanczos steps with full reorthogonalisation.

    Builds the Krylov basis :math:`Q_j` of :math:`\{x_0, Mx_0, \dots\}` and the tridiagonal
    :math:`T = Q^\top MQ` for every batch entry at once (``x0`` of shape ``(T, C, p)``; ``matvec`` maps such a
    batch to its products), then returns the top Ritz pair. A column whose Krylov space becomes invariant (a
    rank-deficient operator) stops growing there; its Ritz pairs are then exact. Dense ``eigh`` of a ``p x p``
    matrix costs :math:`O(p^3)`; this costs ``iters`` batched products.
    """
    iters = check_positive_int(iters, "iters")
    check_tensor(x0, "x0", dim=3, dtype="floating")
    L = min(iters, x0.shape[-1])
    basis = x0.new_zeros(*x0.shape[:-1], L, x0.shape[-1])  # (T, C, L, p)
    basis[..., 0, :] = x0 / x0.norm(dim=-1, keepdim=True)
    alphas, betas = [], []
    dead = torch.zeros(x0.shape[:-1], dtype=torch.bool, device=x0.device)
    eps = 100 * torch.finfo(x0.dtype).eps
    far = -float(torch.finfo(x0.dtype).max) ** 0.5  # a decoupled, never-top Ritz value for exhausted columns
    for j in range(L):
        q = basis[..., j, :]
        w = matvec(q)
        scale = w.norm(dim=-1)
        alphas.append(torch.where(dead, torch.full_like(scale, far), (w * q).sum(-1)))
        Qj = basis[..., : j + 1, :]
        for _ in range(2):  # full reorthogonalisation, twice
            w = w - ((Qj @ w.unsqueeze(-1)) * Qj).sum(-2)
        if j == L - 1:
            break
        b = w.norm(dim=-1)
        dead = dead | (b <= eps * scale)  # the Krylov space is invariant: its Ritz pairs are exact
        b = torch.where(dead, torch.zeros_like(b), b)
        betas.append(b)
        basis[..., j + 1, :] = torch.where(dead.unsqueeze(-1), torch.zeros_like(w), w / b.clamp_min(1e-30).unsqueeze(-1))
    Tm = torch.diag_embed(torch.stack(alphas, -1))
    if betas:
        off = torch.stack(betas, -1)
        Tm = Tm + torch.diag_embed(off, 1) + torch.diag_embed(off, -1)
    evals, evecs = torch.linalg.eigh(Tm)
    vec = (evecs[..., -1].unsqueeze(-2) @ basis).squeeze(-2)
    vec = vec / vec.norm(dim=-1, keepdim=True)
    lam = evals[..., -1]
    res = (matvec(vec) - lam.unsqueeze(-1) * vec).norm(dim=-1)
    return Eigenpair(value=lam, vector=vec, residual=res)


def _start(problem: SpikedWigner, seed: SeedLike) -> torch.Tensor:
    g = make_generator(seed)
    return randn(problem.trials, problem.columns, problem.p, generator=g, dtype=problem.xi.dtype,
                 device=problem.xi.device)


def pca(problem: SpikedWigner, *, iters: int = 150, seed: SeedLike) -> Eigenpair:
    r"""PCA: the top eigenvector of :math:`Y_c/\sqrt p` for every instance and column (:func:`lanczos_top`)."""
    return lanczos_top(problem.matvec, _start(problem, seed), iters)


class StackedCovariance:
    """Covariances acting on consecutive groups of ``sizes`` columns (the interface of :class:`LowRankCovariance.apply`)."""

    def __init__(self, covs: Sequence[LowRankCovariance], sizes: Sequence[int]):
        self.covs, self.sizes = list(covs), list(sizes)

    def apply(self, fn: Callable, X: torch.Tensor, *args) -> torch.Tensor:
        return torch.cat([c.apply(fn, x, *args) for c, x in zip(self.covs, X.split(self.sizes, dim=1))], dim=1)


def spectral_covariance(problem: SpikedWigner) -> StackedCovariance:
    r"""The prior covariance :math:`K_p` of the linearised-AMP spectral method (A1; notes §1.6) for every column:
    :math:`FF^\top` for the linear prior, :math:`\tfrac2\pi FF^\top + (1 - \tfrac2\pi)I` for the sign prior (the
    linearised arcsine kernel, :math:`a = \mu_1^2`)."""
    return StackedCovariance([LowRankCovariance.from_weights(s.F, a=MU1[s.activation] ** 2) for s in problem.spikes],
                             problem.sizes)


def _root(lam: torch.Tensor) -> torch.Tensor:
    return lam.clamp_min(0).sqrt()


def lamp(problem: SpikedWigner, *, iters: int = 150, seed: SeedLike, cov=None) -> Eigenpair:
    r"""The spectral method from linearised AMP (A1): the top eigenvector of
    :math:`\Gamma_p = \tfrac1\Delta K_p(Y/\sqrt p - I)`.

    :math:`\Gamma_p` is similar to the symmetric :math:`M = K^{1/2}(Y/\sqrt p - I)K^{1/2}`
    (:math:`\Delta\Gamma = K^{1/2}MK^{-1/2}`), whose top eigenvector :math:`u` gives :math:`\hat v = K^{1/2}u`
    (notes §1.6, pitfalls). Returns the eigenpair of :math:`M` with ``vector`` replaced by the unit :math:`\hat v`.
    """
    cov = spectral_covariance(problem) if cov is None else cov

    def matvec(X):
        R = cov.apply(_root, X)
        return cov.apply(_root, problem.matvec(R) - R)

    ep = lanczos_top(matvec, _start(problem, seed), iters)
    v = cov.apply(_root, ep.vector)
    return Eigenpair(value=ep.value, vector=v / v.norm(dim=-1, keepdim=True), residual=ep.residual)


# ============================================================================================ AMP and GAMP
@dataclass(frozen=True)
class AMPResult:
    r"""An AMP run: the final estimate ``(T, C, n)``; per iteration (first axis) the sign-free MSE against the truth
    and :math:`q = \|\hat x\|^2/n` (its truth-free estimate); ``converged`` ``(T, C)``: :math:`q` moved by less than
    ``tol`` over the last ``window`` iterations."""

    estimate: torch.Tensor
    mse: np.ndarray
    q: np.ndarray
    converged: np.ndarray
    tol: float
    window: int

    @property
    def iterations(self) -> int:
        return self.mse.shape[0]

    @property
    def final_mse(self) -> np.ndarray:
        return self.mse[-1]


def _converged(q: np.ndarray, tol: float, window: int) -> np.ndarray:
    w = min(window, q.shape[0])
    tail = q[-w:]
    return np.abs(tail - tail[-1]).max(axis=0) < tol


class _Trace:
    r"""The per-iteration record of an AMP run (sign-free MSE against ``truth``, :math:`q = \|\hat x\|^2/n`) and its
    stopping rule: stop once every column has converged, checked every ``window`` iterations."""

    def __init__(self, truth: torch.Tensor, tol: float, window: int, stop_early: bool):
        self.truth, self.tol, self.window, self.stop_early = truth, tol, window, stop_early
        self.mse, self.q = [], []

    def record(self, x: torch.Tensor) -> bool:
        """Record the estimate ``x``; True when the run may stop."""
        self.mse.append(sign_free_mse(x, self.truth).cpu().numpy())
        self.q.append(((x * x).sum(-1) / x.shape[-1]).cpu().numpy())
        n, w = len(self.q), self.window
        return self.stop_early and n >= 2 * w and n % w == 0 and bool(_converged(np.stack(self.q), self.tol, w).all())

    def result(self, x: torch.Tensor) -> AMPResult:
        q = np.stack(self.q)
        return AMPResult(estimate=x, mse=np.stack(self.mse), q=q, converged=_converged(q, self.tol, self.window),
                         tol=self.tol, window=self.window)


def spiked_amp(problem: SpikedWigner, *, iters: int, seed: SeedLike, prior=None, damping: float = 0.0,
               init_scale: float = 1e-2, tol: float = 1e-4, window: int = 20, stop_early: bool = True,
               init: Optional[torch.Tensor] = None) -> AMPResult:
    r"""Bayes-optimal AMP for the spiked Wigner model with a generative prior (A1; Lesieur, Krzakala & Zdeborová 2017),
    every instance and noise level in one batch:

    .. math::

        B^t = \tfrac1\Delta\tfrac{Y}{\sqrt p}\hat v^t - \tfrac1\Delta\,\bar c^t\,\hat v^{t-1}, \qquad
        A^t = \frac{\|\hat v^t\|^2}{\Delta p}, \qquad (\hat v^{t+1}, \bar c^{t+1}) = \text{prior.step}(B^t, A^t),

    from :math:`\hat v^0 =` ``init_scale`` :math:`\cdot\,\mathcal N(0, I)` (uninformative), or from ``init``
    ``(T, C, p)`` when given (then ``seed`` is unused). ``damping`` mixes
    that fraction of the old estimate into the new one (0: none). With ``stop_early`` the run ends once every
    column has converged (checked every ``window`` iterations), else after ``iters``.
    """
    iters = check_positive_int(iters, "iters")
    damping = check_in_range(damping, "damping", 0.0, 1.0, hi_open=True)
    prior = problem.prior() if prior is None else prior
    D, p = problem.columns, problem.p
    prior.reset(D)
    delta = problem.deltas.view(1, -1)
    if init is None:
        v = init_scale * _start(problem, seed)
    else:
        v = check_tensor(init, "init", shape=(problem.trials, D, p)).to(problem.xi.dtype).clone()
    v_prev = torch.zeros_like(v)
    c = torch.ones(problem.trials, D, dtype=v.dtype, device=v.device) * prior.rho_x
    trace = _Trace(problem.v, tol, window, stop_early)
    for _ in range(iters):
        Bv = problem.matvec(v) / delta.unsqueeze(-1) - (c / delta).unsqueeze(-1) * v_prev
        A = (v * v).sum(-1) / (delta * p)
        v_new, c_new = prior.step(Bv, A)
        if damping:
            v_new = damping * v + (1 - damping) * v_new
            c_new = damping * c + (1 - damping) * c_new
        v_prev, v, c = v, v_new, c_new
        if trace.record(v):
            break
    return trace.result(v)


def gamp(A: torch.Tensor, y: torch.Tensor, prior, channel: Callable, *, iters: int, seed: SeedLike,
         truth: torch.Tensor, damping: float = 0.0, init_scale: float = 1e-2, tol: float = 1e-4,
         window: int = 20, min_precision: float = 1e-12, stop_early: bool = True) -> AMPResult:
    r"""Generalised AMP (Rangan [Ran11]_) with scalar variances, for ``A`` ``(T, m, n)`` with iid :math:`\mathcal N(0, 1/n)`
    entries and ``C`` columns of measurements ``y`` ``(T, C, m)`` per instance:

    .. math::

        V = \bar c, \quad \omega = A\hat x - V g^{\rm prev}, \quad (g, \partial g) = \text{channel}(y, \omega, V), \quad
        \Lambda = -\tfrac mn\overline{\partial g}, \quad B = A^\top g + \Lambda\hat x, \quad
        (\hat x, \bar c) \leftarrow \text{prior.step}(B, \Lambda),

    from an uninformative :math:`\hat x^0 =` ``init_scale`` :math:`\cdot\,\mathcal N(0, I)`. ``damping`` mixes that
    fraction of the previous output :math:`(g, \Lambda)` into the new one (the output side, so that the prior's
    own memory stays consistent); :math:`\Lambda` is clipped at ``min_precision``
    (phase retrieval's :math:`\partial g` can be positive). ``truth`` ``(T, C, n)`` is used for the MSE trace only.
    ``stop_early``: as in :func:`spiked_amp`.
    """
    iters = check_positive_int(iters, "iters")
    damping = check_in_range(damping, "damping", 0.0, 1.0, hi_open=True)
    check_tensor(A, "A", dim=3, dtype="floating")
    T, m, n = A.shape
    check_tensor(y, "y", shape=(T, None, m))
    C = y.shape[1]
    check_tensor(truth, "truth", shape=(T, C, n))
    prior.reset(C)
    g0 = make_generator(seed)
    x = init_scale * randn(T, C, n, generator=g0, dtype=A.dtype, device=A.device)
    c = torch.ones(T, C, dtype=A.dtype, device=A.device) * prior.rho_x
    g_prev = torch.zeros_like(y)
    At = A.transpose(-1, -2)
    trace = _Trace(truth, tol, window, stop_early)
    lam_prev = None
    for t in range(iters):
        V = c.unsqueeze(-1)
        omega = x @ At - V * g_prev
        g, dg = channel(y, omega, V)
        lam = (-(m / n) * dg.mean(-1)).clamp_min(min_precision)
        if damping and t > 0:
            g = damping * g_prev + (1 - damping) * g
            lam = damping * lam_prev + (1 - damping) * lam
        B = g @ A + lam.unsqueeze(-1) * x
        x, c = prior.step(B, lam)
        g_prev, lam_prev = g, lam
        if trace.record(x):
            break
    return trace.result(x)


# ============================================================================================ state evolution
def _t(x) -> torch.Tensor:
    return torch.as_tensor(np.asarray(x, dtype=float), dtype=torch.float64)


class GaussianSpectrumSE:
    r"""State evolution of the linear prior's exact denoiser (:class:`GaussianPrior`) through the spectrum of :math:`K`:

    .. math::

        m_x' = \mathbb E_\lambda\Big[\frac{\hat m\lambda^2}{1 + \hat m\lambda}\Big], \qquad
        \lambda \sim \text{Marchenko--Pastur}(\text{ratio} = \dim x/\dim z)

    (A1, notes §1.3 [DER]: the overlap of the posterior mean given :math:`B = \hat m x + \sqrt{\hat m}\zeta`,
    :math:`x \sim \mathcal N(0, K)`, is :math:`\tfrac1n\operatorname{tr}\hat m K^2(I + \hat m K)^{-1}`).
    No memory: ``state`` is an empty tuple.
    """

    rho_x = 1.0

    def __init__(self, ratio: float):
        self.ratio = check_positive(ratio, "ratio")
        self.mp = MarchenkoPastur(self.ratio)

    def init(self, m0: float) -> tuple:
        return ()

    def step(self, mhat: float, state: tuple) -> tuple[float, tuple]:
        return self.mp.expect(lambda lam: mhat * lam * lam / (1.0 + mhat * lam)), ()


class LayerSE:
    r"""Two-layer state evolution of a one-layer prior :math:`x = \varphi(Fz)` (Gabrié et al. [G18]_; notes §1.2, §1.4),
    with the latent overlap :math:`m_z` as memory. Given the field :math:`\hat m` on :math:`x`, with
    :math:`\omega = \sqrt{m_z}\,\xi`, :math:`V = 1 - m_z`, :math:`h = \omega + \sqrt V\eta`, :math:`x = \varphi(h)`,
    :math:`B = \hat m x + \sqrt{\hat m}\zeta`:

    .. math::

        m_x' = \mathbb E[f(B, \omega, V)^2], \qquad \hat m_z = \beta\,\mathbb E[g_h(B, \omega, V)^2], \qquad
        m_z' = \frac{\hat m_z}{1 + \hat m_z},

    :math:`\beta = \dim x/\dim z` (:math:`\alpha` in the spiked model, :math:`1/\rho` in CS and phase retrieval).
    Linear layer, in closed form: :math:`m_x' = m_z + V^2\hat m/(1 + V\hat m)`, :math:`\mathbb E g_h^2 = \hat m/(1 + V\hat m)`.
    Sign layer: :func:`sign_layer_denoiser` integrated by :func:`expect_broad` over :math:`\omega/\sqrt V` and
    Gauss--Hermite over :math:`\zeta` (using the symmetry :math:`(x, \omega, \zeta) \to -(x, \omega, \zeta)`).
    """

    rho_x = 1.0

    def __init__(self, activation: str, ratio: float, *, nodes: int = 48):
        self.activation = _activation(activation)
        self.ratio = check_positive(ratio, "ratio")
        self.zeta, self.wzeta = gauss_hermite(check_positive_int(nodes, "nodes"))

    def init(self, m0: float) -> tuple:
        return (float(m0),)

    def moments(self, mhat: float, mz: float) -> tuple[float, float]:
        r""":math:`(\mathbb E f^2, \mathbb E g_h^2)` at field ``mhat`` and latent overlap ``mz``."""
        mz = min(max(mz, 0.0), 1.0 - 1e-15)
        V = 1.0 - mz
        if self.activation == "linear":
            return mz + V * V * mhat / (1.0 + V * mhat), mhat / (1.0 + V * mhat)
        B = _t(mhat + math.sqrt(max(mhat, 0.0)) * self.zeta).view(1, -1)
        w = self.wzeta

        def integrand(u):
            uu = _t(u).view(-1, 1)
            f, _, g, _ = sign_layer_denoiser(B, uu * math.sqrt(V), V)
            weight = 2.0 * special.ndtr(u)
            G2 = (g * g * V).numpy()  # (sqrt(V) g)^2
            return np.stack([weight * (f.numpy() ** 2 @ w), weight * (G2 @ w)], axis=-1)

        ef2, eG2 = expect_broad(integrand, math.sqrt(mz / V))
        return float(ef2), float(eG2) / V

    def step(self, mhat: float, state: tuple) -> tuple[float, tuple]:
        ef2, eg2 = self.moments(mhat, state[0])
        mhz = self.ratio * eg2
        return ef2, (mhz / (1.0 + mhz),)


class GaussBernoulliSE:
    r"""State evolution of the separable Gauss--Bernoulli prior (:class:`GaussBernoulliPrior`):
    :math:`m_x' = \mathbb E[f(B)^2]` with :math:`B = \hat m x + \sqrt{\hat m}\zeta`, i.e.
    :math:`B \sim \mathcal N(0, \hat m)` with probability :math:`1 - \rho` and :math:`\mathcal N(0, \hat m^2/\rho + \hat m)`
    with probability :math:`\rho` (Gauss--Hermite)."""

    rho_x = 1.0

    def __init__(self, rho: float, *, nodes: int = 96):
        self.rho = check_in_range(rho, "rho", 0.0, 1.0, lo_open=True, hi_open=True)
        self.zeta, self.w = gauss_hermite(check_positive_int(nodes, "nodes"))

    def init(self, m0: float) -> tuple:
        return ()

    def step(self, mhat: float, state: tuple) -> tuple[float, tuple]:
        sd = np.array([math.sqrt(mhat), math.sqrt(mhat * mhat / self.rho + mhat)])
        B = _t(sd[:, None] * self.zeta[None, :])
        f, _ = gauss_bernoulli_denoiser(B, _t(mhat), self.rho)
        e = (f.numpy() ** 2) @ self.w
        return float((1 - self.rho) * e[0] + self.rho * e[1]), ()


def _pr_eg2(m_x: float, S: float, nodes: int = 48) -> float:
    r""":math:`\mathbb E g_{\rm out}^2` of real phase retrieval at overlap ``m_x`` and :math:`S = V + \Delta`:
    :math:`\tfrac1S\mathbb E[((s + \xi)\tanh(s(s + \xi)) - s)^2]`, :math:`s \sim \mathcal N(0, m_x/S)`, :math:`\xi \sim \mathcal N(0, 1)`."""
    xi, w = gauss_hermite(nodes)

    def integrand(s):
        y = s[:, None] + xi[None, :]
        return ((y * np.tanh(s[:, None] * y) - s[:, None]) ** 2) @ w

    return expect_broad(integrand, math.sqrt(max(m_x, 0.0) / S)) / S


CHANNELS = ("gaussian", "phase")


def glm_field(channel: str, alpha: float, noise: float, rho_x: float = 1.0) -> Callable[[float], float]:
    r"""The output side of the GLM state evolution, :math:`m_x \mapsto \hat m = \alpha\,\mathbb E g_{\rm out}^2` with
    :math:`V = \rho_x - m_x`: :math:`\alpha/(\Delta + V)` for compressed sensing (``"gaussian"``), the integral
    :func:`_pr_eg2` for phase retrieval (``"phase"``) (notes §1.4)."""
    check_choice(channel, "channel", CHANNELS)
    alpha = check_positive(alpha, "alpha")
    noise = check_nonneg(noise, "noise")

    def field(m_x: float) -> float:
        V = max(rho_x - m_x, 0.0)
        if channel == "gaussian":
            return alpha / max(noise + V, 1e-300)
        return alpha * _pr_eg2(m_x, max(V + noise, 1e-300))

    return field


def spiked_field(delta: float) -> Callable[[float], float]:
    r"""The output side of the spiked-Wigner state evolution: :math:`\hat m = m/\Delta`."""
    delta = check_positive(delta, "delta")
    return lambda m: m / delta


@dataclass(frozen=True)
class SETrace:
    r"""A state-evolution run: the overlap :math:`m_x^t` for :math:`t = 0, \dots` (``m``), ``converged`` (the last
    relative change below ``tol`` before ``iters`` steps) and the final state; ``mse`` is :math:`\rho_x - m_x`."""

    m: np.ndarray
    converged: bool
    state: tuple
    rho_x: float = 1.0

    @property
    def iterations(self) -> int:
        return len(self.m) - 1

    @property
    def overlap(self) -> float:
        return float(self.m[-1])

    @property
    def mse(self) -> float:
        """:math:`\rho_x - m_x`, floored at 0 (quadrature rounds :math:`m_x` a few ulps above :math:`\rho_x` at perfect recovery)."""
        return max(0.0, float(self.rho_x - self.m[-1]))

    @property
    def error(self) -> float:
        r"""A bound on the distance of the last iterate to the fixed point for geometric convergence: with the last
        increments :math:`d_1, d_2` and the contraction :math:`r = |d_1/d_2|`, :math:`|d_1|/(1 - r)` (infinite when not
        converged)."""
        if not self.converged:
            return math.inf
        if len(self.m) < 3:
            return 0.0
        d1, d2 = abs(self.m[-1] - self.m[-2]), abs(self.m[-2] - self.m[-3])
        r = min(d1 / d2, 1.0 - 1e-12) if d2 > 0 else 0.0
        return float(d1 / (1 - r))


def run_se(prior_se, field: Callable[[float], float], *, m0: float = 1e-6, iters: int = 5000,
           tol: float = 1e-10, atol: float = 1e-14, stop_below: float = 0.0) -> SETrace:
    r"""Iterate :math:`m_x^{t+1} = \text{prior\_se.step}(\text{field}(m_x^t))` from :math:`m_x^0 = m_0` (and the prior's memory
    at ``m0``) until the relative change of every state variable is below ``tol``, or its absolute change below
    ``atol`` (converged), or ``iters`` steps
    (not converged: critical slowing-down near a threshold). ``stop_below``: also stop, converged, once the MSE
    :math:`\rho_x - m_x` is below it (perfect recovery)."""
    check_in_range(m0, "m0", 0.0, prior_se.rho_x)
    iters = check_positive_int(iters, "iters")
    m, state = float(m0), prior_se.init(m0)
    trace, ok = [m], False
    for _ in range(iters):
        m_new, state_new = prior_se.step(field(m), state)
        change = [min(abs(a - b) / max(abs(a), 1e-300), abs(a - b) * tol / atol)
                  for a, b in zip((m_new, *state_new), (m, *state))]
        m, state = m_new, state_new
        trace.append(m)
        if max(change) < tol or prior_se.rho_x - m < stop_below:
            ok = True
            break
    return SETrace(m=np.asarray(trace), converged=ok, state=state, rho_x=prior_se.rho_x)


def se_jacobian_top(prior_se, field: Callable[[float], float], *, eps: float = 1e-6) -> float:
    r"""Largest eigenvalue modulus of the Jacobian of one state-evolution step at the trivial fixed point :math:`m = 0`:
    the trivial point is unstable -- weak recovery from an uninformative start -- iff it exceeds 1.

    Forward differences of sizes ``eps`` and ``eps/2`` combined by Richardson extrapolation,
    :math:`J = 2J_{\epsilon/2} - J_\epsilon` (error :math:`O(\epsilon^2)`; the state variables are overlaps, so
    only :math:`m \ge 0` is evaluated).
    """
    s0 = [0.0] + list(prior_se.init(0.0))

    def T(s):
        mx, st = prior_se.step(field(s[0]), tuple(s[1:]))
        return np.array([mx, *st])

    base = T(s0)

    def jac(h):
        J = np.empty((len(s0), len(s0)))
        for j in range(len(s0)):
            s = list(s0)
            s[j] += h
            J[:, j] = (T(s) - base) / h
        return J

    J = 2 * jac(eps / 2) - jac(eps)
    return float(np.max(np.abs(np.linalg.eigvals(J))))


def bisect(pred: Callable[[float], bool], lo: float, hi: float, *, tol: float = 1e-6, max_steps: int = 80) -> tuple[float, float]:
    """A bracket ``(a, b)``, ``b - a <= tol``, of the point where ``pred`` switches from ``pred(lo)`` to ``pred(hi)``."""
    plo, phi = bool(pred(lo)), bool(pred(hi))
    if plo == phi:
        raise ValueError(f"pred must differ at the ends of [lo, hi] = [{lo}, {hi}], got {plo} at both")
    for _ in range(max_steps):
        if hi - lo <= tol:
            break
        mid = 0.5 * (lo + hi)
        if bool(pred(mid)) == plo:
            lo = mid
        else:
            hi = mid
    return lo, hi


# ============================================================================================ small references
def gaussian_posterior_mean(K, B, A: float) -> torch.Tensor:
    r"""The linear prior's denoiser for one dense covariance: :math:`\mathbb E[x \mid B] = K(I + AK)^{-1}B` for
    :math:`x \sim \mathcal N(0, K)` observed through :math:`B = Ax + \sqrt A\,\zeta` (``K`` ``(n, n)`` symmetric
    positive semi-definite, ``B`` ``(n,)``, ``A > 0``). The reference of notebook 10's first exercise;
    :class:`GaussianPrior` is the batched, low-rank version."""
    K, B = _as_tensor(K), _as_tensor(B)
    check_tensor(K, "K", dim=2)
    n = K.shape[0]
    check_tensor(K, "K", shape=(n, n))
    check_tensor(B, "B", shape=(n,))
    A = check_positive(A, "A")
    eye = torch.eye(n, dtype=K.dtype, device=K.device)
    return K @ torch.linalg.solve(eye + A * K, B)


def se_step_spiked_linear(q: float, delta: float, alpha: float) -> float:
    r"""One state-evolution step of the spiked Wigner model with the linear prior:
    :math:`q' = \mathbb E_\lambda[\hat q\lambda^2/(1 + \hat q\lambda)]`, :math:`\hat q = q/\Delta`, :math:`\lambda \sim`
    Marchenko--Pastur with ratio :math:`\alpha = p/k` (:class:`GaussianSpectrumSE`). The reference of notebook 10's
    second exercise."""
    q = check_in_range(q, "q", 0.0, 1.0)
    delta = check_positive(delta, "delta")
    alpha = check_positive(alpha, "alpha")
    return GaussianSpectrumSE(alpha).step(q / delta, ())[0]
