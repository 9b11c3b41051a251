r"""Posterior sampling against MAP: exact Gaussian-mixture posteriors, the MAP rule and Langevin samplers.

Jalal, Karmalkar, Dimakis & Price, "Instance-optimal compressed sensing via
posterior sampling" (ICML 2021), recover :math:`x` from :math:`y = Ax + \eta`
by drawing :math:`\hat x \sim p(x \mid y)` instead of maximising it; Jalal,
Karmalkar, Hoffmann, Dimakis & Price, "Fairness for image generation with
uncertain sensitive attributes" (ICML 2021), show that a posterior sample
represents every group :math:`C` in proportion,
:math:`P(\hat x \in C \mid y) = P(x \in C \mid y)` (conditional proportional
representation), where MAP picks the majority. Both run Langevin dynamics on a
generative prior.

A Gaussian-mixture prior makes everything exact. With

.. math::

    x \sim \sum_c \pi_c\, \mathcal N(\mu_c, \Sigma_c), \qquad y = Ax + \eta,\quad \eta \sim \mathcal N(0, \sigma^2 I_m),

the posterior is the mixture :math:`\sum_c w_c(y)\, \mathcal N(m_c, C_c)` with

.. math::

    S_c = A\Sigma_c A^\top + \sigma^2 I,\qquad
    w_c(y) \propto \pi_c\, \mathcal N(y;\ A\mu_c,\ S_c),\qquad
    m_c = \mu_c + \Sigma_c A^\top S_c^{-1}(y - A\mu_c),\qquad
    C_c = \Sigma_c - \Sigma_c A^\top S_c^{-1} A \Sigma_c,

and the prior smoothed by :math:`\mathcal N(0, \tau^2 I)` is the mixture with
covariances :math:`\Sigma_c + \tau^2 I`, whose score is

.. math::

    \nabla \log p_\tau(x) = \sum_c r_c(x;\tau)\,(\Sigma_c + \tau^2 I)^{-1}(\mu_c - x),

:math:`r_c` the responsibilities. Since :math:`y` and the component :math:`c`
are independent given :math:`x`, the posterior's responsibilities are the
prior's: :math:`p(c \mid x, y) = p(c \mid x)`.

Objects here: :class:`GaussianMixture` (prior, smoothed score, groups),
:class:`MixturePosterior` (weights, moments, exact samples, the MMSE and MAP
estimators, exact group probabilities), :func:`gaussian_posterior`,
:class:`LinearGaussianLikelihood`, and the samplers :func:`langevin` and
:func:`annealed_langevin` (batched over measurements and chains).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Optional, Sequence

import torch

from ._checks import check_nonneg, check_positive, check_positive_int, check_tensor
from .device import SeedLike, make_generator, randn

_LOG_2PI = math.log(2 * math.pi)

Score = Callable[[torch.Tensor, float], torch.Tensor]


def _check_matrix_batch(A: torch.Tensor, n: int) -> torch.Tensor:
    check_tensor(A, "A", dim=(2, 3), dtype="floating", finite=True)
    if A.shape[-1] != n:
        raise ValueError(f"A must have {n} columns (the prior's dimension), got shape {tuple(A.shape)}")
    return A if A.dim() == 3 else A.unsqueeze(0)


# --------------------------------------------------------------------------- the prior
class GaussianMixture:
    r"""A Gaussian mixture :math:`\sum_c \pi_c \mathcal N(\mu_c, \Sigma_c)` in :math:`\mathbb R^n`.

    Parameters
    ----------
    weights : torch.Tensor
        Mixing weights :math:`\pi`, shape ``(K,)``, positive, summing to one.
    means : torch.Tensor
        Component means, shape ``(K, n)``.
    covs : torch.Tensor
        Component covariances, shape ``(K, n, n)``, symmetric positive definite.

    The covariances are diagonalised once (:math:`\Sigma_c = V_c \Lambda_c V_c^\top`),
    so smoothed densities and scores cost two products per component.
    See :meth:`isotropic` for :math:`\Sigma_c = s^2 I`.
    """

    def __init__(self, weights: torch.Tensor, means: torch.Tensor, covs: torch.Tensor):
        check_tensor(weights, "weights", dim=1, dtype="floating", finite=True)
        check_tensor(means, "means", dim=2, dtype="floating", finite=True)
        K, n = means.shape
        check_tensor(covs, "covs", shape=(K, n, n), dtype="floating", finite=True)
        if weights.shape[0] != K:
            raise ValueError(f"weights must have one entry per component ({K}), got shape {tuple(weights.shape)}")
        if bool((weights <= 0).any()) or abs(float(weights.sum()) - 1.0) > 1e-6:
            raise ValueError(f"weights must be positive and sum to 1, got {weights.tolist()}")
        if not torch.allclose(covs, covs.transpose(-1, -2), rtol=1e-6, atol=1e-9):
            raise ValueError("covs must be symmetric")
        evals, evecs = torch.linalg.eigh(covs)
        if bool((evals <= 0).any()):
            raise ValueError(f"covs must be positive definite (smallest eigenvalue {float(evals.min()):.3g})")
        dtype, device = means.dtype, means.device
        self.weights = weights.to(dtype=dtype, device=device)
        self.means = means
        self.covs = covs.to(dtype=dtype, device=device)
        self._evals, self._evecs = evals.to(dtype=dtype, device=device), evecs.to(dtype=dtype, device=device)
        self.shared_covariance = bool(all(torch.equal(self.covs[0], c) for c in self.covs[1:]))
        v = torch.diagonal(self.covs, dim1=-2, dim2=-1)[:, :1]  # (K, 1)
        iso = torch.equal(self.covs, v.unsqueeze(-1) * torch.eye(n, dtype=dtype, device=device))
        self._iso_var = v.squeeze(-1) if iso else None  # Sigma_c = v_c I: scores need no eigenbasis

    @classmethod
    def isotropic(cls, weights: Sequence[float] | torch.Tensor, means: torch.Tensor, scale: float) -> "GaussianMixture":
        r"""The mixture :math:`\sum_c \pi_c \mathcal N(\mu_c, s^2 I)` with one scale :math:`s` = ``scale``."""
        scale = check_positive(scale, "scale")
        check_tensor(means, "means", dim=2, dtype="floating", finite=True)
        w = torch.as_tensor(weights, dtype=means.dtype, device=means.device)
        K, n = means.shape
        covs = (scale**2) * torch.eye(n, dtype=means.dtype, device=means.device).expand(K, n, n).clone()
        return cls(w, means, covs)

    @property
    def dim(self) -> int:
        return self.means.shape[1]

    @property
    def components(self) -> int:
        return self.means.shape[0]

    @property
    def dtype(self) -> torch.dtype:
        return self.means.dtype

    @property
    def device(self) -> torch.device:
        return self.means.device

    def _check_x(self, x: torch.Tensor, name: str = "x") -> torch.Tensor:
        check_tensor(x, name, dtype="floating")
        if x.dim() < 1 or x.shape[-1] != self.dim:
            raise ValueError(f"{name} must have last dimension {self.dim}, got shape {tuple(x.shape)}")
        return x

    def _component_terms(self, x: torch.Tensor, tau: float) -> tuple[torch.Tensor, Callable[[torch.Tensor], torch.Tensor]]:
        """Per component log(pi_c N(x; mu_c, Sigma_c + tau^2 I)), shape (..., K), and a function of the
        responsibilities r (..., K) giving sum_c r_c (Sigma_c + tau^2 I)^{-1}(mu_c - x)."""
        if self._iso_var is not None:  # Sigma_c = v_c I: ||x - mu_c||^2 from one product
            lam = self._iso_var + tau * tau  # (K,)
            xm = x @ self.means.T  # (..., K)
            sq = (x * x).sum(-1, keepdim=True) - 2 * xm + (self.means * self.means).sum(-1)
            logp = self.weights.log() - 0.5 * (sq / lam + self.dim * (lam.log() + _LOG_2PI))

            def pull(r):
                rl = r / lam
                return rl @ self.means - rl.sum(-1, keepdim=True) * x

            return logp, pull
        lam = self._evals + tau * tau  # (K, n)
        d = x.unsqueeze(-2) - self.means  # (..., K, n)
        e = torch.einsum("...kn,knj->...kj", d, self._evecs)  # coordinates in each eigenbasis
        logp = self.weights.log() - 0.5 * ((e * e / lam).sum(-1) + lam.log().sum(-1) + self.dim * _LOG_2PI)

        def pull(r):
            return -torch.einsum("...kj,knj->...n", r.unsqueeze(-1) * e / lam, self._evecs)

        return logp, pull

    def log_prob(self, x: torch.Tensor, tau: float = 0.0) -> torch.Tensor:
        r""":math:`\log p_\tau(x)`, the log-density of the prior smoothed by :math:`\mathcal N(0, \tau^2 I)`; shape ``x.shape[:-1]``."""
        tau = check_nonneg(tau, "tau")
        logp, _ = self._component_terms(self._check_x(x), tau)
        return torch.logsumexp(logp, dim=-1)

    def responsibilities(self, x: torch.Tensor, tau: float = 0.0) -> torch.Tensor:
        r""":math:`r_c(x;\tau) = \pi_c \mathcal N(x;\mu_c,\Sigma_c+\tau^2 I)/p_\tau(x)`, shape ``(..., K)``.

        At :math:`\tau = 0` this is :math:`p(c \mid x)`, which is also :math:`p(c \mid x, y)`.
        """
        tau = check_nonneg(tau, "tau")
        logp, _ = self._component_terms(self._check_x(x), tau)
        return torch.softmax(logp, dim=-1)

    def score(self, x: torch.Tensor, tau: float = 0.0) -> torch.Tensor:
        r"""The smoothed score :math:`\nabla\log p_\tau(x) = \sum_c r_c(x;\tau)(\Sigma_c+\tau^2 I)^{-1}(\mu_c - x)`.

        The score of :math:`p * \mathcal N(0, \tau^2 I)` that score-based samplers
        (Song & Ermon 2019) learn; exact here. Shape of ``x``.
        """
        tau = check_nonneg(tau, "tau")
        logp, pull = self._component_terms(self._check_x(x), tau)
        return pull(torch.softmax(logp, dim=-1))

    def smoothed(self, tau: float) -> "GaussianMixture":
        r"""The prior smoothed by :math:`\mathcal N(0, \tau^2 I)`: the mixture with covariances :math:`\Sigma_c + \tau^2 I`."""
        tau = check_nonneg(tau, "tau")
        eye = torch.eye(self.dim, dtype=self.dtype, device=self.device)
        return GaussianMixture(self.weights, self.means, self.covs + tau * tau * eye)

    @classmethod
    def fit(cls, x: torch.Tensor, labels: torch.Tensor, weights: Sequence[float] | torch.Tensor, *,
            shrinkage: float = 1e-3) -> "GaussianMixture":
        r"""One Gaussian per class fitted to the points ``x`` ``(N, n)`` of each label ``0..K-1``: sample mean and
        covariance :math:`\hat\Sigma_c + \lambda I` (:math:`\lambda` = ``shrinkage``), with the given mixing ``weights``."""
        check_tensor(x, "x", dim=2, dtype="floating", finite=True)
        check_tensor(labels, "labels", shape=(x.shape[0],))
        shrinkage = check_nonneg(shrinkage, "shrinkage")
        w = torch.as_tensor(weights, dtype=x.dtype, device=x.device)
        K, n = w.shape[0], x.shape[1]
        means, covs = [], []
        eye = torch.eye(n, dtype=x.dtype, device=x.device)
        for c in range(K):
            xc = x[labels == c]
            if xc.shape[0] < 2:
                raise ValueError(f"labels must give every class 0..{K - 1} at least two points, class {c} has {xc.shape[0]}")
            means.append(xc.mean(0))
            covs.append(torch.cov(xc.T).reshape(n, n) + shrinkage * eye)
        return cls(w, torch.stack(means), torch.stack(covs))

    def classify(self, x: torch.Tensor) -> torch.Tensor:
        r"""The group of each point: :math:`\arg\max_c p(c \mid x)` (integer tensor of shape ``x.shape[:-1]``)."""
        logp, _ = self._component_terms(self._check_x(x), 0.0)
        return logp.argmax(dim=-1)

    def group_halfspace(self, group: int = 1, other: int = 0) -> tuple[torch.Tensor, float]:
        r"""The set :math:`\{x : p(\text{group} \mid x) > p(\text{other} \mid x)\} = \{x : \langle u, x\rangle > b\}`.

        Needs a shared covariance :math:`\Sigma`; then :math:`u = \Sigma^{-1}(\mu_g - \mu_o)` and
        :math:`b = \tfrac12(\mu_g^\top\Sigma^{-1}\mu_g - \mu_o^\top\Sigma^{-1}\mu_o) - \log(\pi_g/\pi_o)`.
        With two components it is exactly the set :meth:`classify` assigns to ``group``.
        """
        K = self.components
        for name, v in (("group", group), ("other", other)):
            if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v < K:
                raise ValueError(f"{name} must be a component index in [0, {K}), got {v!r}")
        if group == other:
            raise ValueError(f"group and other must differ, got {group} twice")
        if not self.shared_covariance:
            raise ValueError("group_halfspace needs a shared covariance: the group boundary is not a hyperplane")
        P = torch.linalg.inv(self.covs[0])
        mg, mo = self.means[group], self.means[other]
        u = P @ (mg - mo)
        b = 0.5 * float(mg @ P @ mg - mo @ P @ mo) - math.log(float(self.weights[group] / self.weights[other]))
        return u, b

    def halfspace_probability(self, u: torch.Tensor, b: float) -> float:
        r""":math:`P(\langle u, x\rangle > b) = \sum_c \pi_c\,\Phi\big((\langle u, \mu_c\rangle - b)/\sqrt{u^\top\Sigma_c u}\big)` under the prior."""
        as_post = MixturePosterior(self.weights.unsqueeze(0), self.means.unsqueeze(0), self.covs.unsqueeze(0))
        return float(as_post.halfspace_probability(u, b)[0])

    def sample(self, num: int, *, seed: SeedLike) -> tuple[torch.Tensor, torch.Tensor]:
        """``num`` draws ``(num, n)`` and their components ``(num,)``."""
        num = check_positive_int(num, "num")
        g = make_generator(seed)
        c = torch.multinomial(self.weights.detach().cpu().double(), num, replacement=True, generator=g).to(self.device)
        z = randn(num, self.dim, generator=g, dtype=self.dtype, device=self.device)
        root = self._evecs * self._evals.sqrt().unsqueeze(-2)  # (K, n, n), root root^T = Sigma
        x = self.means[c] + torch.einsum("bij,bj->bi", root[c], z)
        return x, c


# --------------------------------------------------------------------------- the exact posterior
@dataclass(frozen=True)
class MixturePosterior:
    r"""The exact posterior :math:`\sum_c w_c(y)\,\mathcal N(m_c, C_c)` of a batch of measurements.

    ``weights`` ``(B, K)``, ``means`` ``(B, K, n)``, ``covs`` ``(B', K', n, n)`` with
    ``B'`` 1 or ``B`` and ``K'`` 1 (shared covariance) or ``K``.
    """

    weights: torch.Tensor
    means: torch.Tensor
    covs: torch.Tensor

    @property
    def batch(self) -> int:
        return self.weights.shape[0]

    @property
    def dim(self) -> int:
        return self.means.shape[-1]

    def _full_covs(self) -> torch.Tensor:
        return self.covs.expand(self.batch, self.weights.shape[1], self.dim, self.dim)

    def mean(self) -> torch.Tensor:
        r"""The MMSE estimator :math:`\mathbb E[x \mid y] = \sum_c w_c m_c`, shape ``(B, n)``."""
        return (self.weights.unsqueeze(-1) * self.means).sum(-2)

    def cov_trace(self) -> torch.Tensor:
        r""":math:`\operatorname{tr}\operatorname{Cov}(x \mid y) = \sum_c w_c(\operatorname{tr} C_c + \|m_c - \bar m\|^2)`, shape ``(B,)``.

        Its mean over :math:`y` is the MMSE, and :math:`\mathbb E[\|\hat x - x\|^2 \mid y] = 2\operatorname{tr}\operatorname{Cov}(x\mid y)`
        for a posterior sample :math:`\hat x` (Jalal et al. 2021: posterior sampling has twice the MMSE).
        """
        tr = torch.diagonal(self.covs, dim1=-2, dim2=-1).sum(-1).expand_as(self.weights)
        spread = (self.means - self.mean().unsqueeze(-2)).pow(2).sum(-1)
        return (self.weights * (tr + spread)).sum(-1)

    def sample(self, num: int, *, seed: SeedLike) -> tuple[torch.Tensor, torch.Tensor]:
        """``num`` exact posterior draws per measurement, ``(B, num, n)``, and their components ``(B, num)``."""
        num = check_positive_int(num, "num")
        g = make_generator(seed)
        B, K, n = self.means.shape
        c = torch.multinomial(self.weights.detach().cpu().double(), num, replacement=True, generator=g).to(self.means.device)
        z = randn(B, num, n, generator=g, dtype=self.means.dtype, device=self.means.device)
        root, info = torch.linalg.cholesky_ex(self.covs)
        if bool((info != 0).any()):  # a singular covariance: its symmetric square root
            evals, evecs = torch.linalg.eigh(self.covs)
            root = evecs * evals.clamp_min(0).sqrt().unsqueeze(-2)
        root = root.expand(B, K, n, n)
        idx = c.unsqueeze(-1).expand(B, num, n)
        m = torch.gather(self.means, 1, idx)
        R = torch.gather(root, 1, c.view(B, num, 1, 1).expand(B, num, n, n))
        return m + torch.einsum("bsij,bsj->bsi", R, z), c

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        r""":math:`\log p(x \mid y)` for ``x`` of shape ``(B, S, n)``; returns ``(B, S)``."""
        check_tensor(x, "x", dim=3, dtype="floating")
        L = torch.linalg.cholesky(self.covs)  # (B', K', n, n), broadcast over measurements and components
        d = x.unsqueeze(2) - self.means.unsqueeze(1)  # (B, S, K, n)
        sol = torch.linalg.solve_triangular(L.unsqueeze(1), d.unsqueeze(-1), upper=False).squeeze(-1)
        logdet = 2 * torch.diagonal(L, dim1=-2, dim2=-1).log().sum(-1)  # (B', K')
        logp = self.weights.log().unsqueeze(1) - 0.5 * (sol.pow(2).sum(-1) + logdet.unsqueeze(1) + self.dim * _LOG_2PI)
        return torch.logsumexp(logp, dim=-1)

    def mode(self, *, iters: int = 500, tol: float = 1e-12) -> torch.Tensor:
        r"""The MAP estimator :math:`\arg\max_x p(x \mid y)`, shape ``(B, n)``.

        From every component mean, the fixed-point (generalised mean-shift) iteration
        :math:`x \leftarrow (\sum_c r_c C_c^{-1})^{-1}\sum_c r_c C_c^{-1} m_c`, whose fixed points are the
        stationary points of :math:`p(x\mid y)` and which increases the density
        (Carreira-Perpiñán 2000); the start reaching the highest density wins. With a shared
        covariance :math:`C` the iteration is :math:`x \leftarrow \sum_c r_c(x) m_c`, run on the
        coefficients :math:`t` of :math:`x = \sum_c t_c m_c` with the Gram matrix
        :math:`G = (m_i^\top C^{-1} m_j)`; with two components the mode is :math:`m_0 + t(m_1 - m_0)`, :math:`t` the
        best of a grid on :math:`[0, 1]` refined by Newton steps on :math:`t = r_1(t)`. The global mode lies on the
        heavier component's side:
        reflecting :math:`x` across the bisector of :math:`m_0, m_1` (in the metric :math:`C^{-1}`) changes
        the density by :math:`(w_1 - w_0)(\mathcal N(x; m_0, C) - \mathcal N(x; m_1, C))`.
        """
        check_positive_int(iters, "iters")
        check_nonneg(tol, "tol")
        B, K, n = self.means.shape
        logw = self.weights.log()
        if self.covs.shape[1] == 1 and K == 2:  # the mode is m_0 + t (m_1 - m_0), t maximising a 1-D density
            L = torch.linalg.cholesky(self.covs[:, 0])
            diff = torch.linalg.solve_triangular(L, (self.means[:, 1] - self.means[:, 0]).unsqueeze(-1),
                                                 upper=False).squeeze(-1)
            D2 = diff.pow(2).sum(-1, keepdim=True)  # squared distance of the means in the metric C^{-1}
            lr = (logw[:, 1] - logw[:, 0]).unsqueeze(-1)

            def f(t):  # log density along the segment, up to a constant
                return torch.logaddexp(-0.5 * t * t * D2, lr - 0.5 * (1 - t).pow(2) * D2)

            grid = torch.linspace(0, 1, 401, dtype=D2.dtype, device=D2.device).expand(B, 401)
            t = torch.gather(grid, 1, f(grid).argmax(dim=1, keepdim=True))
            for _ in range(50):  # Newton on g(t) = r_1(t) - t, a stationary point of f, from the best grid point
                r = torch.sigmoid(lr + (t - 0.5) * D2)
                g, dg = r - t, r * (1 - r) * D2 - 1
                step = torch.where(dg < 0, g / dg, torch.zeros_like(g))
                t = (t - step).clamp(0, 1)
                if bool(step.abs().max() <= tol):
                    break
            return self.means[:, 0] + t * (self.means[:, 1] - self.means[:, 0])
        if self.covs.shape[1] == 1:  # shared covariance: iterate on the simplex coefficients
            L = torch.linalg.cholesky(self.covs[:, 0])  # (B', n, n)
            W = torch.linalg.solve_triangular(L.unsqueeze(1), self.means.unsqueeze(-1), upper=False).squeeze(-1)
            G = W @ W.transpose(-1, -2)  # (B, K, K)
            diag = torch.diagonal(G, dim1=-2, dim2=-1)  # (B, K)
            t = torch.eye(K, dtype=G.dtype, device=G.device).expand(B, K, K).clone()  # starts (B, S=K, K)
            for _ in range(iters):
                Gt = t @ G  # (B, S, K): <x, m_c>_C
                quad = (Gt * t).sum(-1, keepdim=True) - 2 * Gt + diag.unsqueeze(1)  # ||x - m_c||_C^2
                new = torch.softmax(logw.unsqueeze(1) - 0.5 * quad, dim=-1)
                done = bool((new - t).abs().max() <= tol)
                t = new
                if done:
                    break
            x = t @ self.means
        else:
            P = torch.linalg.inv(self._full_covs())  # (B, K, n, n)
            Pm = torch.einsum("bkij,bkj->bki", P, self.means)
            logdet = -torch.logdet(P)  # (B, K)
            x = self.means.clone()  # (B, S=K starts, n)
            for _ in range(iters):
                d = x.unsqueeze(2) - self.means.unsqueeze(1)  # (B, S, K, n)
                quad = torch.einsum("bski,bkij,bskj->bsk", d, P, d)
                r = torch.softmax(logw.unsqueeze(1) - 0.5 * (quad + logdet.unsqueeze(1)), dim=-1)
                H = torch.einsum("bsk,bkij->bsij", r, P)
                new = torch.linalg.solve(H, torch.einsum("bsk,bki->bsi", r, Pm).unsqueeze(-1)).squeeze(-1)
                done = bool((new - x).abs().max() <= tol * (1 + x.abs().max()))
                x = new
                if done:
                    break
        best = self.log_prob(x).argmax(dim=1)
        return torch.gather(x, 1, best.view(B, 1, 1).expand(B, 1, n)).squeeze(1)

    def halfspace_probability(self, u: torch.Tensor, b: float) -> torch.Tensor:
        r""":math:`P(\langle u, x\rangle > b \mid y) = \sum_c w_c\,\Phi\big((\langle u, m_c\rangle - b)/\sqrt{u^\top C_c u}\big)`, shape ``(B,)``."""
        check_tensor(u, "u", shape=(self.dim,), dtype="floating", finite=True)
        mu = self.means @ u - b  # (B, K)
        sd = torch.einsum("i,...ij,j->...", u, self.covs, u).clamp_min(0).sqrt().expand_as(mu)
        cdf = torch.where(sd > 0, torch.special.ndtr(mu / sd.clamp_min(1e-300)), (mu > 0).to(mu.dtype))
        return (self.weights * cdf).sum(-1)


def gaussian_posterior(prior: GaussianMixture, A: torch.Tensor, y: torch.Tensor, noise: float) -> MixturePosterior:
    r"""The exact posterior of ``prior`` given :math:`y = Ax + \eta`, :math:`\eta \sim \mathcal N(0, \sigma^2 I)`.

    .. math::

        w_c \propto \pi_c\,\mathcal N(y; A\mu_c, S_c),\quad S_c = A\Sigma_cA^\top + \sigma^2 I,\quad
        m_c = \mu_c + \Sigma_cA^\top S_c^{-1}(y - A\mu_c),\quad C_c = \Sigma_c - \Sigma_cA^\top S_c^{-1}A\Sigma_c.

    Parameters
    ----------
    prior : GaussianMixture
    A : torch.Tensor
        ``(m, n)`` shared by all measurements, or ``(B, m, n)``, one per measurement.
    y : torch.Tensor
        Measurements ``(B, m)``.
    noise : float
        The noise standard deviation :math:`\sigma > 0`.
    """
    if not isinstance(prior, GaussianMixture):
        raise TypeError(f"prior must be a GaussianMixture, got {type(prior).__name__}")
    noise = check_positive(noise, "noise")
    A = _check_matrix_batch(A, prior.dim).to(dtype=prior.dtype, device=prior.device)
    check_tensor(y, "y", dim=2, dtype="floating", finite=True)
    m = A.shape[1]
    if y.shape[1] != m or A.shape[0] not in (1, y.shape[0]):
        raise ValueError(f"y must have shape (B, {m}) with B matching A's batch {A.shape[0]}, got {tuple(y.shape)}")
    y = y.to(dtype=prior.dtype, device=prior.device)
    covs = prior.covs[:1] if prior.shared_covariance else prior.covs  # (K', n, n)
    AS = torch.einsum("bmn,knj->bkmj", A, covs)  # (B', K', m, n) = A Sigma_c
    S = torch.einsum("bkmj,bpj->bkmp", AS, A) + noise**2 * torch.eye(m, dtype=A.dtype, device=A.device)
    L = torch.linalg.cholesky(S)
    gain = torch.cholesky_solve(AS, L).transpose(-1, -2)  # Sigma A^T S^{-1}, (B', K', n, m)
    post_covs = covs - gain @ AS
    post_covs = 0.5 * (post_covs + post_covs.transpose(-1, -2))
    resid = y.unsqueeze(1) - torch.einsum("bmn,kn->bkm", A, prior.means)  # (B, K, m)
    Lb = L.expand(y.shape[0], prior.components, m, m)
    sol = torch.linalg.solve_triangular(Lb, resid.unsqueeze(-1), upper=False).squeeze(-1)
    logdet = 2 * torch.diagonal(Lb, dim1=-2, dim2=-1).log().sum(-1)
    logw = prior.weights.log() - 0.5 * (sol.pow(2).sum(-1) + logdet)
    weights = torch.softmax(logw, dim=-1)
    means = prior.means + torch.einsum("bknm,bkm->bkn", gain.expand(y.shape[0], prior.components, prior.dim, m), resid)
    return MixturePosterior(weights=weights, means=means, covs=post_covs)


# --------------------------------------------------------------------------- the data term
class LinearGaussianLikelihood:
    r"""The data term :math:`\nabla_x \log \mathcal N(y; Ax, (\sigma^2 + \gamma^2\tau^2) I) = A^\top(y - Ax)/(\sigma^2 + \gamma^2\tau^2)`.

    At :math:`\tau = 0` it is the exact likelihood score; at a noise level :math:`\tau > 0`
    annealed Langevin inflates the variance by :math:`\gamma^2\tau^2` (Jalal et al. 2021;
    ``inflation`` = :math:`\gamma^2`, 1 by default), a heuristic: the product of the smoothed
    prior and the inflated likelihood is not the smoothed posterior.

    ``A`` is ``(m, n)`` or ``(B, m, n)``, ``y`` ``(B, m)``; :meth:`score` takes ``x`` of shape
    ``(B, C, n)`` (``C`` chains per measurement).
    """

    def __init__(self, A: torch.Tensor, y: torch.Tensor, noise: float, *, inflation: float = 1.0):
        check_tensor(y, "y", dim=2, dtype="floating", finite=True)
        self.A = _check_matrix_batch(A, A.shape[-1]).to(dtype=y.dtype, device=y.device)
        if self.A.shape[1] != y.shape[1] or self.A.shape[0] not in (1, y.shape[0]):
            raise ValueError(f"y must have shape (B, {self.A.shape[1]}) with B matching A's batch, got {tuple(y.shape)}")
        self.y = y
        self.noise = check_positive(noise, "noise")
        self.inflation = check_nonneg(inflation, "inflation")

    def score(self, x: torch.Tensor, tau: float = 0.0) -> torch.Tensor:
        check_tensor(x, "x", dim=3, dtype="floating")
        resid = self.y.unsqueeze(1) - torch.einsum("bmn,bcn->bcm", self.A, x) if self.A.shape[0] > 1 else \
            self.y.unsqueeze(1) - x @ self.A[0].T
        back = torch.einsum("bmn,bcm->bcn", self.A, resid) if self.A.shape[0] > 1 else resid @ self.A[0]
        return back / (self.noise**2 + self.inflation * tau * tau)


class GeneratorLikelihood:
    r"""The data term of a latent-space posterior: :math:`\nabla_z \log \mathcal N(y; \mathcal A(G(z)), (\sigma^2 + \gamma^2\tau^2) I)`.

    :math:`G` is a generator (any callable mapping latents ``(..., k)`` to signals ``(..., n)``, e.g.
    :class:`ilib.vae.MLPGenerator`), :math:`\mathcal A` a measurement map on signals (an
    :class:`ilib.LinearOperator` or any callable), ``y`` ``(B, m)``. The score is taken by autograd;
    latents ``z`` have shape ``(B, C, k)``. As in :class:`LinearGaussianLikelihood`, :math:`\gamma^2` = ``inflation``
    widens the likelihood at noise level :math:`\tau` (the annealing heuristic of Jalal et al. 2021).
    """

    def __init__(self, generator: Callable[[torch.Tensor], torch.Tensor], operator: Callable[[torch.Tensor], torch.Tensor],
                 y: torch.Tensor, noise: float, *, inflation: float = 1.0):
        if not callable(generator) or not callable(operator):
            raise TypeError("generator and operator must be callables")
        self.generator, self.operator = generator, operator
        self.y = check_tensor(y, "y", dim=2, dtype="floating", finite=True)
        self.noise = check_positive(noise, "noise")
        self.inflation = check_nonneg(inflation, "inflation")

    def residual_energy(self, z: torch.Tensor, tau: float = 0.0) -> torch.Tensor:
        r""":math:`\|y - \mathcal A(G(z))\|^2 / (2(\sigma^2 + \gamma^2\tau^2))` per latent, shape ``z.shape[:-1]``."""
        r = self.y.unsqueeze(1) - self.operator(self.generator(z))
        return (r * r).sum(-1) / (2 * (self.noise**2 + self.inflation * tau * tau))

    def score(self, z: torch.Tensor, tau: float = 0.0) -> torch.Tensor:
        check_tensor(z, "z", dim=3, dtype="floating")
        with torch.enable_grad():
            zz = z.detach().requires_grad_(True)
            (g,) = torch.autograd.grad(-self.residual_energy(zz, tau).sum(), zz)
        return g


# --------------------------------------------------------------------------- Langevin dynamics
@dataclass(frozen=True)
class LangevinResult:
    """Final states ``x``; ``trace`` stacks ``record(x)`` at the steps in ``steps`` (empty without ``record``)."""

    x: torch.Tensor
    trace: Optional[torch.Tensor]
    steps: tuple[int, ...]


def sigma_ladder(sigma_max: float, sigma_min: float, levels: int) -> tuple[float, ...]:
    r"""Geometric noise levels :math:`\tau_i = \tau_1 (\tau_L/\tau_1)^{(i-1)/(L-1)}` from ``sigma_max`` down to ``sigma_min``."""
    hi, lo = check_positive(sigma_max, "sigma_max"), check_positive(sigma_min, "sigma_min")
    levels = check_positive_int(levels, "levels")
    if lo > hi:
        raise ValueError(f"sigma_min must be at most sigma_max, got {lo} > {hi}")
    if levels == 1:
        return (lo,)
    return tuple(hi * (lo / hi) ** (i / (levels - 1)) for i in range(levels))


def langevin_step(x: torch.Tensor, score: torch.Tensor, step: float, noise: torch.Tensor) -> torch.Tensor:
    r"""One unadjusted Langevin step :math:`x + \eta\,\nabla\log\pi(x) + \sqrt{2\eta}\,\zeta` (``noise`` = :math:`\zeta`)."""
    return x + step * score + math.sqrt(2 * step) * noise


def annealed_langevin(x0: torch.Tensor, score: Score, sigmas: Sequence[float], *, steps_each: int, step_lr: float,
                      seed: SeedLike, record: Optional[Callable[[torch.Tensor], torch.Tensor]] = None,
                      record_every: int = 0) -> LangevinResult:
    r"""Annealed Langevin dynamics (Song & Ermon 2019) over the noise levels ``sigmas``, batched over all chains.

    At level :math:`\tau_i`, ``steps_each`` steps with :math:`\eta_i = \epsilon\,(\tau_i/\tau_L)^2`
    (:math:`\epsilon` = ``step_lr``, :math:`\tau_L` the last level):

    .. math::

        x \leftarrow x + \eta_i\, s(x, \tau_i) + \sqrt{2\eta_i}\,\zeta,\qquad \zeta \sim \mathcal N(0, I),

    ``score(x, tau)`` the score of the level-:math:`\tau` target (for posterior sampling: the smoothed prior
    score plus a data term). One level with ``step_lr`` = :math:`\eta` is plain Langevin (:func:`langevin`).
    ``x0`` has any shape; every entry of the leading dimensions is an independent chain.
    ``record(x)`` is evaluated every ``record_every`` steps (and at the end) when given.
    """
    check_tensor(x0, "x0", dtype="floating", finite=True)
    sig = [check_positive(s, "sigmas") for s in sigmas]
    if not sig:
        raise ValueError("sigmas must hold at least one noise level")
    steps_each = check_positive_int(steps_each, "steps_each")
    step_lr = check_positive(step_lr, "step_lr")
    if record is not None:
        record_every = check_positive_int(record_every, "record_every")
    g = make_generator(seed)
    x = x0.clone()
    trace, at, t = [], [], 0
    with torch.no_grad():
        for s in sig:
            eta = step_lr * (s / sig[-1]) ** 2
            for _ in range(steps_each):
                x = langevin_step(x, score(x, s), eta, randn(*x.shape, generator=g, dtype=x.dtype, device=x.device))
                t += 1
                if record is not None and t % record_every == 0:
                    trace.append(record(x))
                    at.append(t)
    if record is not None and (not at or at[-1] != t):
        trace.append(record(x))
        at.append(t)
    return LangevinResult(x=x, trace=torch.stack(trace) if trace else None, steps=tuple(at))


def langevin(x0: torch.Tensor, score: Callable[[torch.Tensor], torch.Tensor], *, step: float, steps: int,
             seed: SeedLike, record: Optional[Callable[[torch.Tensor], torch.Tensor]] = None,
             record_every: int = 0) -> LangevinResult:
    r"""Unadjusted Langevin dynamics :math:`x \leftarrow x + \eta\nabla\log\pi(x) + \sqrt{2\eta}\zeta` for ``steps`` steps.

    ``score(x)`` is :math:`\nabla \log \pi`. On :math:`\pi = \mathcal N(\mu, v I)` the chain's stationary law is
    :math:`\mathcal N(\mu, v/(1 - \eta/2v))` (the discretisation inflates the variance; exact as :math:`\eta \to 0`).
    """
    return annealed_langevin(x0, lambda x, _s: score(x), (1.0,), steps_each=steps, step_lr=step, seed=seed,
                             record=record, record_every=record_every)


def stationary_variance(var: float, step: float) -> float:
    r"""Stationary variance of unadjusted Langevin on :math:`\mathcal N(\mu, v)`: :math:`v/(1 - \eta/(2v))`, for :math:`\eta < 2v`.

    From :math:`x' = (1 - \eta/v)x + \eta\mu/v + \sqrt{2\eta}\zeta`: :math:`V = (1-\eta/v)^2V + 2\eta`.
    """
    var, step = check_positive(var, "var"), check_positive(step, "step")
    if step >= 2 * var:
        raise ValueError(f"step must be below 2 var = {2 * var:g} for a stationary law, got {step:g}")
    return var / (1 - step / (2 * var))


def mixture_weights(A: torch.Tensor, y: torch.Tensor, means: torch.Tensor, weights: torch.Tensor, scale: float,
                    noise: float) -> torch.Tensor:
    r"""Posterior component weights of an isotropic mixture, :math:`w_c(y) \propto \pi_c\,\mathcal N(y; A\mu_c, s^2AA^\top + \sigma^2 I)`.

    ``A`` ``(B, m, n)`` or ``(m, n)``, ``y`` ``(B, m)``, ``means`` ``(K, n)``, ``weights`` ``(K,)``, ``scale`` :math:`s`,
    ``noise`` :math:`\sigma`; returns ``(B, K)``, rows summing to one. A shortcut for
    ``gaussian_posterior(GaussianMixture.isotropic(weights, means, scale), A, y, noise).weights``.
    """
    prior = GaussianMixture.isotropic(weights, means, scale)
    return gaussian_posterior(prior, A, y, noise).weights


__all__ = ["GaussianMixture", "MixturePosterior", "gaussian_posterior", "LinearGaussianLikelihood", "GeneratorLikelihood",
           "LangevinResult",
           "sigma_ladder", "langevin_step", "annealed_langevin", "langevin", "stationary_variance", "mixture_weights"]
