r"""Notebook 11: posterior sampling against MAP: proportional representation, twice the MMSE, Langevin, a VAE on digits.

Jalal, Karmalkar, Dimakis & Price (ICML 2021, "instance-optimal compressed
sensing via posterior sampling") and Jalal, Karmalkar, Hoffmann, Dimakis &
Price (ICML 2021, "fairness for image generation with uncertain sensitive
attributes") recover :math:`x` from :math:`y = Ax + \eta` by a draw
:math:`\hat x \sim p(x \mid y)`. Since :math:`\hat x` and :math:`x` are
exchangeable given :math:`y`:

* every set :math:`C` is represented in proportion,
  :math:`P(\hat x \in C \mid y) = P(x \in C \mid y)` (conditional proportional
  representation, CPR), where MAP is a deterministic function of :math:`y`;
* :math:`\mathbb E\|\hat x - x\|^2 = 2\,\mathrm{MMSE}`, and an estimator with
  error :math:`\le \varepsilon` w.p. :math:`1 - \delta` gives a posterior sample
  with error :math:`\le 2\varepsilon` w.p. :math:`\ge 1 - 2\delta`.

Sections: (a) :func:`toy_draws` (CPR, bin by bin), (b) the same draws for the
error identities and the lemma, (c) :func:`langevin_comparison` (annealed
against plain Langevin), (d) :func:`vae_digits` (the shipped VAE decoder as the
prior on MNIST 3s and 8s). The toy prior is
:math:`(1-\pi_1)\mathcal N(a\mathbb 1/\sqrt n, s^2 I) + \pi_1\mathcal N(-a\mathbb 1/\sqrt n, s^2 I)`;
its posterior, MAP, MMSE and smoothed scores are exact (:mod:`ilib.posterior`).
The group of any point is the set :math:`C = \{x : p(c = 1 \mid x) > \tfrac12\}`
(a half-space), the same for the truth and every reconstruction.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from .. import posterior as post
from ..claims import Above, AtMost, Below, Claim, Covers, Estimate, Inside
from ..device import DeviceLike, SeedLike, make_generator, randn, resolve_device
from ..profile import Profile as _Profile
from ..profile import param

NOTEBOOK = "11_posterior_sampling"

BIN_EDGES = (0.0, 0.1, 0.3, 0.5, 0.7, 0.9, 1.0)  # bins of the posterior minority weight in (a) (notes §2.3)
DELTAS = (0.05, 0.1, 0.2)  # the competitor's failure probabilities in the lemma (b) (notes §2.3)
LADDER = (3.0, 0.01)  # largest and smallest noise level of annealed Langevin in (c) (notes §2.2)
PLAIN_STEP = 2e-3  # plain Langevin's step in (c): 0.2 over the largest curvature ||A||^2/sigma^2 (about 100)
VAE_LADDER = (1.0, 0.02)  # noise levels of annealed Langevin in the VAE latent (d), whose prior has unit scale
VAE_STEP_LR = 2e-5  # annealed step at the last level in (d)


# --------------------------------------------------------------------------- parameters
@dataclass(frozen=True)
class Profile(_Profile):
    """Parameters of notebook 11 (each declared once; see :mod:`ilib.profile`)."""

    n: int = param(smoke=20, paper=20, lo=1, doc="dimension of the Gaussian-mixture toy")
    minority: float = param(smoke=0.2, paper=0.2, lo=0, hi=0.5, lo_open=True, hi_open=True,
                            doc="prior weight of the minority component (and share of minority digits in (d))")
    scale: float = param(smoke=0.5, paper=0.5, lo=0, lo_open=True, doc="standard deviation s of each toy component")
    m: int = param(smoke=2, paper=2, lo=1, doc="measurements per draw in (a) and (b)")
    noise: float = param(smoke=0.5, paper=0.5, lo=0, lo_open=True, doc="noise standard deviation in (a) and (b)")
    separation: float = param(smoke=1.0, paper=1.0, lo=0, lo_open=True,
                              doc="component means +-separation 1/sqrt(n) in (a) and (b)")
    draws: int = param(smoke=2000, paper=20000, lo=10, doc="independent (x, A, y) draws in (a) and in (b)")
    lv_m: int = param(smoke=4, paper=4, lo=1, doc="measurements per draw in (c)")
    lv_noise: float = param(smoke=0.3, paper=0.3, lo=0, lo_open=True, doc="noise standard deviation in (c)")
    lv_separation: float = param(smoke=2.0, paper=2.0, lo=0, lo_open=True,
                                 doc="component means +-lv_separation 1/sqrt(n) in (c)")
    lv_measurements: int = param(smoke=8, paper=40, lo=2, doc="measurements with an ambiguous posterior in (c)")
    chains: int = param(smoke=20, paper=100, lo=2, doc="Langevin chains per measurement in (c)")
    levels: int = param(smoke=10, paper=10, lo=1, doc="noise levels of annealed Langevin (geometric)")
    steps_each: tuple[int, ...] = param(smoke=(5, 20), paper=(25, 100, 400), lo=1,
                                        doc="steps per noise level of annealed Langevin, one run each")
    step_lr: float = param(smoke=5e-6, paper=5e-6, lo=0, lo_open=True,
                           doc="annealed step at the last level; level i steps step_lr (sigma_i/sigma_min)^2")
    vae_latents: int = param(smoke=30, paper=150, lo=2, doc="training digits per class whose latents fit the prior (d)")
    vae_measurements: int = param(smoke=10, paper=100, lo=2, doc="test digits measured in (d)")
    vae_columns: int = param(smoke=9, paper=9, lo=1, hi=27, doc="observed columns on the right of each digit in (d)")
    vae_noise: float = param(smoke=0.1, paper=0.1, lo=0, lo_open=True, doc="noise standard deviation per pixel in (d)")
    vae_chains: int = param(smoke=3, paper=8, lo=2, doc="annealed Langevin chains per digit in (d)")
    vae_steps_each: int = param(smoke=4, paper=20, lo=1, doc="annealed Langevin steps per level in (d)")
    vae_adam_steps: int = param(smoke=40, paper=300, lo=1, doc="Adam steps of the latent fits and of MAP in (d)")

    def relations(self) -> None:
        self.require(self.m <= self.n and self.lv_m <= self.n, "m", f"and lv_m must be at most n = {self.n}")
        t0 = min(self.steps_each)
        self.require(all(t % t0 == 0 for t in self.steps_each), "steps_each", "must all be multiples of the smallest")
        self.require(round(self.minority * self.vae_measurements) >= 1, "vae_measurements",
                     "must hold at least one minority digit (minority * vae_measurements >= 1/2)")

    def memory_bytes(self) -> int:
        """The toy's per-draw posterior covariances and the Langevin chains (float64)."""
        return 8 * (2 * self.draws * self.n * self.n * 3 + 4 * self.lv_measurements * self.chains * self.n)


# --------------------------------------------------------------------------- the toy prior
def toy_prior(n: int, minority: float, scale: float, separation: float, *, device: DeviceLike = "cpu"):
    r"""The two-component toy prior :math:`(1-\pi_1)\mathcal N(\mu, s^2 I) + \pi_1\mathcal N(-\mu, s^2 I)`,
    :math:`\mu = a\mathbb 1/\sqrt n`, in float64; component 0 is the majority, 1 the minority."""
    mu = separation * torch.ones(n, dtype=torch.float64) / math.sqrt(n)
    means = torch.stack([mu, -mu]).to(resolve_device(device))
    return post.GaussianMixture.isotropic([1 - minority, minority], means, scale)


def _measure(prior, m: int, noise: float, num: int, g: torch.Generator):
    """``num`` draws x ~ prior, A with N(0, 1/m) entries, y = Ax + noise N(0, I)."""
    x, c = prior.sample(num, seed=g)
    A = randn(num, m, prior.dim, generator=g, dtype=prior.dtype, device=prior.device) / math.sqrt(m)
    y = torch.einsum("bmn,bn->bm", A, x) + noise * randn(num, m, generator=g, dtype=prior.dtype, device=prior.device)
    return x, c, A, y


# --------------------------------------------------------------------------- (a), (b): exact posterior sampling
@dataclass(frozen=True)
class BinStats:
    """The draws whose posterior minority weight ``q`` falls in ``[lo, hi)``: how often each lands in the minority set."""

    lo: float
    hi: float
    count: int
    mean_q: float
    truth: int
    ps: int
    map: int


@dataclass(frozen=True)
class LemmaCase:
    r"""The lemma at one ``delta`` against one competitor: :math:`\varepsilon` its :math:`(1-\delta)`-quantile of the
    error; per draw ``ps_exceeds`` = :math:`1[\|x_{PS} - x\| > 2\varepsilon]`, ``comp_exceeds`` = :math:`1[\|\hat x - x\| > \varepsilon]`."""

    competitor: str
    delta: float
    eps: float
    ps_exceeds: np.ndarray
    comp_exceeds: np.ndarray


@dataclass(frozen=True)
class ToyDraws:
    r"""Exact posterior sampling, MMSE and MAP on ``draws`` toy problems (arrays of shape ``(draws,)``).

    ``q`` is :math:`P(x \in C \mid y)` and ``w1`` :math:`P(c = 1 \mid y)`, both exact;
    ``truth_in``/``ps_in``/``map_in`` say whether the truth, one posterior sample and the MAP estimate lie in
    :math:`C`; ``err_*`` are squared errors; ``cov_trace`` is :math:`\operatorname{tr}\operatorname{Cov}(x\mid y)`;
    ``prior_share`` is :math:`P(x \in C)` under the prior.
    """

    n: int
    m: int
    noise: float
    minority: float
    prior_share: float
    q: np.ndarray
    w1: np.ndarray
    truth_in: np.ndarray
    ps_in: np.ndarray
    map_in: np.ndarray
    err_ps: np.ndarray
    err_map: np.ndarray
    err_mmse: np.ndarray
    cov_trace: np.ndarray
    bin_edges: tuple[float, ...]
    A: np.ndarray  # (draws, m, n), for re-computing posterior quantities
    y: np.ndarray  # (draws, m)

    @property
    def draws(self) -> int:
        return self.q.shape[0]

    def bins(self) -> list[BinStats]:
        """One :class:`BinStats` per bin of ``bin_edges`` (the last bin includes 1); empty bins are left out."""
        e = self.bin_edges
        idx = np.clip(np.searchsorted(e, self.q, side="right") - 1, 0, len(e) - 2)
        out = []
        for i in range(len(e) - 1):
            s = idx == i
            if s.any():
                out.append(BinStats(lo=e[i], hi=e[i + 1], count=int(s.sum()), mean_q=float(self.q[s].mean()),
                                    truth=int(self.truth_in[s].sum()), ps=int(self.ps_in[s].sum()),
                                    map=int(self.map_in[s].sum())))
        return out

    def lemma(self, competitor: str, delta: float) -> LemmaCase:
        """The lemma's two sides at ``delta`` against ``"MAP"`` or ``"MMSE"``."""
        err = {"MAP": self.err_map, "MMSE": self.err_mmse}[competitor]
        eps = float(np.quantile(np.sqrt(err), 1 - delta))
        return LemmaCase(competitor=competitor, delta=float(delta), eps=eps, ps_exceeds=np.sqrt(self.err_ps) > 2 * eps,
                         comp_exceeds=np.sqrt(err) > eps)

    @property
    def ambiguous(self) -> float:
        """Share of draws whose posterior minority weight lies in (0.05, 0.95)."""
        return float(((self.q > 0.05) & (self.q < 0.95)).mean())


def toy_draws(*, n: int, m: int, noise: float, scale: float, separation: float, minority: float, draws: int,
              stream: SeedLike, bin_edges: Sequence[float] = BIN_EDGES, device: DeviceLike = "cpu") -> ToyDraws:
    r"""``draws`` toy problems, each with its own :math:`A` (entries :math:`\mathcal N(0, 1/m)`), solved exactly.

    Per draw: the exact posterior (:func:`ilib.posterior.gaussian_posterior`), one exact posterior sample, the
    MMSE estimate :math:`\mathbb E[x\mid y]`, the MAP estimate (:meth:`~ilib.posterior.MixturePosterior.mode`) and
    the exact probability :math:`q(y) = P(x \in C \mid y)` of the minority set :math:`C`. All draws are one batch.
    """
    g = make_generator(stream)
    prior = toy_prior(n, minority, scale, separation, device=device)
    x, _, A, y = _measure(prior, m, noise, draws, g)
    P = post.gaussian_posterior(prior, A, y, noise)
    xs = P.sample(1, seed=g)[0][:, 0]
    xmap, xmmse = P.mode(), P.mean()
    u, b = prior.group_halfspace(1, 0)
    inside = lambda v: (v @ u > b).cpu().numpy()  # noqa: E731
    sq = lambda v: (v - x).pow(2).sum(-1).cpu().numpy()  # noqa: E731
    return ToyDraws(n=n, m=m, noise=noise, minority=minority, prior_share=prior.halfspace_probability(u, b),
                    q=P.halfspace_probability(u, b).cpu().numpy(), w1=P.weights[:, 1].cpu().numpy(),
                    truth_in=inside(x), ps_in=inside(xs), map_in=inside(xmap), err_ps=sq(xs), err_map=sq(xmap),
                    err_mmse=sq(xmmse), cov_trace=P.cov_trace().cpu().numpy(), bin_edges=tuple(bin_edges),
                    A=A.cpu().numpy(), y=y.cpu().numpy())


def ratio_of_means(a: np.ndarray, b: np.ndarray, *, ci: float = 0.95) -> Estimate:
    r""":math:`\bar a/\bar b` for paired samples, with a delta-method interval:
    :math:`\operatorname{se}^2 = (\operatorname{var} a - 2R\operatorname{cov}(a,b) + R^2\operatorname{var} b)/(N\bar b^2)`."""
    from scipy import stats as sps

    a, b = np.asarray(a, float), np.asarray(b, float)
    r = float(a.mean() / b.mean())
    c = np.cov(a, b)
    se = math.sqrt(max(c[0, 0] - 2 * r * c[0, 1] + r * r * c[1, 1], 0.0) / (a.size * b.mean() ** 2))
    h = float(sps.norm.ppf(0.5 + ci / 2)) * se
    return Estimate(r, r - h, r + h, f"delta method {ci:.0%}", int(a.size))


# --------------------------------------------------------------------------- (c): Langevin
@dataclass(frozen=True)
class LangevinComparison:
    r"""Annealed and plain Langevin on ``B`` toy measurements with an ambiguous posterior.

    ``q`` ``(B,)`` is the exact :math:`P(x \in C \mid y)`; ``q_levels`` ``(L, B)`` the same probability under the
    annealed target of each level (smoothed prior times the inflated likelihood, itself a Gaussian mixture);
    ``ald`` ``(len(steps_each), L, B)`` the chains' share in :math:`C` at the end of each level, one run per
    ``steps_each``; ``plain`` ``(len(plain_at), B)`` the share of plain Langevin chains (exact posterior score,
    started like the annealed ones in the majority mode) after ``plain_at`` steps.
    """

    q: np.ndarray
    q_levels: np.ndarray
    sigmas: tuple[float, ...]
    steps_each: tuple[int, ...]
    ald: np.ndarray
    plain: np.ndarray
    plain_at: tuple[int, ...]
    chains: int

    @property
    def levels(self) -> int:
        return len(self.sigmas)

    def ald_final(self, i: int = -1) -> np.ndarray:
        """Shares after the last level of run ``i`` (default: the most steps)."""
        return self.ald[i, -1]

    def plain_after(self, steps: int) -> np.ndarray:
        return self.plain[self.plain_at.index(steps)]

    def excess(self, f: np.ndarray, target: np.ndarray) -> np.ndarray:
        r"""Per measurement :math:`(f - t)^2 - f(1-f)/(C-1)`, unbiased for :math:`(p - t)^2` when :math:`f` is the share of
        :math:`C` independent chains with probability :math:`p`: zero mean for an exact sampler."""
        return (f - target) ** 2 - f * (1 - f) / (self.chains - 1)

    def mae(self, f: np.ndarray) -> float:
        return float(np.abs(f - self.q).mean())

    def floor(self) -> float:
        r"""The Monte Carlo floor of the mean absolute error, :math:`\sqrt{2/\pi}\,\overline{\sqrt{q(1-q)/C}}`."""
        return float(math.sqrt(2 / math.pi) * np.sqrt(self.q * (1 - self.q) / self.chains).mean())


def langevin_comparison(*, n: int, m: int, noise: float, scale: float, separation: float, minority: float,
                        measurements: int, chains: int, levels: int, steps_each: Sequence[int], step_lr: float,
                        stream: SeedLike, sigma_max: float = LADDER[0], sigma_min: float = LADDER[1],
                        plain_step: float = PLAIN_STEP, ambiguity: float = 0.05,
                        device: DeviceLike = "cpu") -> LangevinComparison:
    r"""Annealed Langevin (Song & Ermon 2019; with the data term of Jalal et al. 2021) against plain Langevin.

    Draws toy problems until ``measurements`` of them have :math:`q(y) \in [\text{ambiguity}, 1 - \text{ambiguity}]`
    (a selection on :math:`y` only). Annealed: levels :math:`\tau_i` geometric from ``sigma_max`` to ``sigma_min``,
    target :math:`p_{\tau}(x)\,\mathcal N(y; Ax, (\sigma^2 + \tau^2)I)`, ``steps_each`` steps per level with step
    ``step_lr`` :math:`(\tau_i/\tau_L)^2`. Plain: the exact posterior score, step ``plain_step``, for
    ``levels * max(steps_each)`` steps, its share recorded after every ``levels * min(steps_each)``. All chains
    start at the majority mean and run in one batch per run.
    """
    g = make_generator(stream)
    prior = toy_prior(n, minority, scale, separation, device=device)
    u, b = prior.group_halfspace(1, 0)
    picked = []
    for _ in range(200):  # pools of candidates until enough are ambiguous
        _, _, A, y = _measure(prior, m, noise, 20 * measurements, g)
        q = post.gaussian_posterior(prior, A, y, noise).halfspace_probability(u, b)
        keep = torch.nonzero((q >= ambiguity) & (q <= 1 - ambiguity)).squeeze(-1)
        picked.append((A[keep], y[keep], q[keep]))
        if sum(p[2].shape[0] for p in picked) >= measurements:
            break
    A, y, q = (torch.cat([p[i] for p in picked])[:measurements] for i in range(3))
    if q.shape[0] < measurements:
        raise RuntimeError(f"found only {q.shape[0]} ambiguous measurements of {measurements}")
    sig = post.sigma_ladder(sigma_max, sigma_min, levels)
    lik = post.LinearGaussianLikelihood(A, y, noise)
    q_levels = torch.stack([post.gaussian_posterior(prior.smoothed(t), A, y, math.sqrt(noise**2 + t * t))
                            .halfspace_probability(u, b) for t in sig])
    x0 = prior.means[0].expand(measurements, chains, n).clone()
    share = lambda z: (z @ u > b).to(z.dtype).mean(-1)  # noqa: E731
    ald = []
    for T in steps_each:
        r = post.annealed_langevin(x0, lambda z, t: prior.score(z, t) + lik.score(z, t), sig, steps_each=T,
                                   step_lr=step_lr, seed=g, record=share, record_every=T)
        ald.append(r.trace.cpu().numpy())
    every, total = levels * min(steps_each), levels * max(steps_each)
    pl = post.langevin(x0, lambda z: prior.score(z) + lik.score(z), step=plain_step, steps=total, seed=g,
                       record=share, record_every=every)
    return LangevinComparison(q=q.cpu().numpy(), q_levels=q_levels.cpu().numpy(), sigmas=sig,
                              steps_each=tuple(steps_each), ald=np.stack(ald), plain=pl.trace.cpu().numpy(),
                              plain_at=pl.steps, chains=chains)


# --------------------------------------------------------------------------- (d): the VAE on digits
@dataclass(frozen=True)
class VAEDigits:
    r"""Posterior sampling and MAP with the shipped VAE decoder on ``B`` test digits (arrays over digits).

    ``truth_minority`` ``(B,)`` is the digit's label; ``ps_minority`` ``(B, C)`` and ``map_minority`` ``(B,)`` what
    the pixel classifier says of each chain's image and of the MAP image; ``err_*`` are mean squared pixel errors
    (``err_ps`` per chain), ``spread`` the chains' unbiased variance around their mean (per pixel).
    ``examples`` holds images for the figure: ``truth``, ``observed`` (NaN where hidden), ``map``, ``ps``.
    """

    majority: int
    minority: int
    truth_minority: np.ndarray
    ps_minority: np.ndarray
    map_minority: np.ndarray
    err_ps: np.ndarray
    err_map: np.ndarray
    err_mean: np.ndarray
    spread: np.ndarray
    classifier_accuracy: float
    misfit: float
    likelihood_noise: float
    examples: dict

    @property
    def chains(self) -> int:
        return self.ps_minority.shape[1]

    @property
    def truth_share(self) -> float:
        return float(self.truth_minority.mean())

    @property
    def ps_share(self) -> np.ndarray:
        """Per digit: the share of chains classified as the minority digit."""
        return self.ps_minority.mean(axis=1)


def _digit_classifier(train_x: np.ndarray, train_is_minority: np.ndarray, components: int = 40):
    """PCA to ``components`` dimensions, then logistic regression (scikit-learn, deterministic lbfgs)."""
    from sklearn.decomposition import PCA
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    return make_pipeline(PCA(components, svd_solver="full"), LogisticRegression(max_iter=1000)).fit(
        train_x, train_is_minority)


def vae_digits(*, minority: float, latents: int, adam_steps: int, measurements: int, columns: int, noise: float,
               chains: int, steps_each: int, levels: int, stream: SeedLike, majority: int = 3, minority_digit: int = 8,
               sigma_max: float = VAE_LADDER[0], sigma_min: float = VAE_LADDER[1], step_lr: float = VAE_STEP_LR,
               device: DeviceLike = "cpu") -> VAEDigits:
    r"""The shipped MNIST VAE decoder :math:`G` as the prior of posterior sampling and MAP on real digits.

    1. Latents of ``latents`` training digits per class: :math:`\arg\min_z\|G(z) - x\|^2 + 0.01\|z\|^2` (CSGM with the
       identity, from :math:`z = 0`, ``adam_steps`` Adam steps); their RMS misfit is ``misfit``.
    2. The latent prior: ``(1 - minority)`` :math:`\mathcal N(\hat\mu_3, \hat\Sigma_3)` + ``minority``
       :math:`\mathcal N(\hat\mu_8, \hat\Sigma_8)` fitted to them (:meth:`ilib.posterior.GaussianMixture.fit`).
    3. ``measurements`` test digits, a ``minority`` share of them 8s, observed on their right ``columns`` columns
       with noise ``noise``; the likelihood's variance is ``noise**2 + misfit**2`` (the decoder cannot fit a digit
       better than its misfit).
    4. Annealed Langevin in the latent (``chains`` per digit, from the majority mean); MAP by ``adam_steps`` Adam
       steps from both class means (the higher posterior density wins). A PCA + logistic-regression classifier trained on the training
       3s and 8s names the class of every image.
    """
    from ..data import load_digits
    from ..operators import IdentityOperator, MaskOperator
    from ..optim import minimize
    from ..recovery import csgm
    from ..vae import load_generator

    dev = resolve_device(device)
    g = make_generator(stream)
    d = load_digits("mnist", device="cpu")
    G = load_generator(d.train_x, retrain=False, progress=False, device=dev)
    tr = (d.train_y == majority) | (d.train_y == minority_digit)
    clf = _digit_classifier(d.train_x[tr].numpy(), (d.train_y[tr] == minority_digit).numpy())
    te = (d.test_y == majority) | (d.test_y == minority_digit)
    accuracy = float(clf.score(d.test_x[te].numpy(), (d.test_y[te] == minority_digit).numpy()))
    classify = lambda imgs: clf.predict(imgs.reshape(-1, imgs.shape[-1]).detach().cpu().numpy()).reshape(imgs.shape[:-1])  # noqa: E731

    pick = lambda idx, k: idx[torch.randperm(idx.numel(), generator=g)[:k]]  # noqa: E731
    fit_idx = torch.cat([pick(torch.nonzero(d.train_y == c).squeeze(-1), latents) for c in (majority, minority_digit)])
    X = d.train_x[fit_idx].to(dev)
    fit = csgm(X, IdentityOperator(X.shape[1], dtype=X.dtype, device=dev), G,
               z0=torch.zeros(X.shape[0], 1, G.latent_dim, dtype=X.dtype, device=dev), steps=adam_steps, lr=0.05,
               latent_penalty=0.01)
    misfit = float((fit.x - X).pow(2).mean().sqrt())
    labels = (d.train_y[fit_idx] == minority_digit).long().to(dev)
    prior = post.GaussianMixture.fit(fit.z.detach(), labels, [1 - minority, minority])

    n_min = int(round(minority * measurements))
    test_idx = torch.cat([pick(torch.nonzero(d.test_y == majority).squeeze(-1), measurements - n_min),
                          pick(torch.nonzero(d.test_y == minority_digit).squeeze(-1), n_min)])
    x = d.test_x[test_idx].to(dev)
    side = d.side
    mask = torch.zeros(side, side, dtype=torch.bool)
    mask[:, side - columns:] = True
    op = MaskOperator.from_mask(mask.reshape(-1), dtype=x.dtype, device=dev)
    y = op(x) + noise * randn(measurements, op.out_dim, generator=g, dtype=x.dtype, device=dev)
    sigma_lik = math.sqrt(noise**2 + misfit**2)
    lik = post.GeneratorLikelihood(G, op, y, sigma_lik)

    z0 = prior.means[0].expand(measurements, chains, G.latent_dim).clone()
    ald = post.annealed_langevin(z0, lambda z, t: prior.score(z, t) + lik.score(z, t),
                                 post.sigma_ladder(sigma_max, sigma_min, levels), steps_each=steps_each,
                                 step_lr=step_lr, seed=g)
    starts = prior.means.unsqueeze(0).expand(measurements, prior.components, G.latent_dim).clone()
    res = minimize(lambda z: lik.residual_energy(z) - prior.log_prob(z), starts, steps=adam_steps, lr=0.05)
    best = res.loss.argmin(dim=1)
    z_map = res.x[torch.arange(measurements, device=dev), best]
    with torch.no_grad():
        xs, xm = G(ald.x), G(z_map)
        err_ps = (xs - x.unsqueeze(1)).pow(2).mean(-1)
        xbar = xs.mean(1)
        spread = (xs - xbar.unsqueeze(1)).pow(2).sum(1).mean(-1) / (chains - 1)
    shown = torch.cat([torch.arange(3), measurements - n_min + torch.arange(min(3, n_min))])
    observed = torch.full_like(x[shown], float("nan"))
    observed[:, mask.reshape(-1).to(dev)] = y[shown]
    npy = lambda t: t.detach().cpu().numpy()  # noqa: E731
    return VAEDigits(majority=majority, minority=minority_digit,
                     truth_minority=npy(d.test_y[test_idx] == minority_digit), ps_minority=classify(xs).astype(bool),
                     map_minority=classify(xm).astype(bool), err_ps=npy(err_ps), err_map=npy((xm - x).pow(2).mean(-1)),
                     err_mean=npy((xbar - x).pow(2).mean(-1)), spread=npy(spread), classifier_accuracy=accuracy,
                     misfit=misfit, likelihood_noise=sigma_lik,
                     examples={"truth": npy(x[shown]), "observed": npy(observed), "map": npy(xm[shown]),
                               "ps": npy(xs[shown]), "side": side})


# --------------------------------------------------------------------------- claims
_J1 = "Jalal, Karmalkar, Hoffmann, Dimakis & Price 2021 (fairness, ICML)"
_J2 = "Jalal, Karmalkar, Dimakis & Price 2021 (instance-optimal CS via posterior sampling, ICML)"

TRUTH_CALIBRATED = Claim(
    "truth_share_is_posterior_weight", kind="sanity",
    source="Bayes' rule for the exact mixture posterior (ilib.posterior.gaussian_posterior)",
    statement="among draws whose posterior minority weight q(y) = P(x ∈ C | y) falls in a bin, the truth lies in C "
              "with frequency the bin's mean q",
    predict=lambda b: b.mean_q, measure=lambda b: Estimate.binomial(b.truth, b.count), rule=Covers(),
)
PS_CPR = Claim(
    "posterior_sampling_is_proportional", kind="theorem",
    source=_J1 + ", conditional proportional representation of posterior sampling",
    statement="an exact posterior sample lies in the minority set C with frequency P(x ∈ C | y) (the bin's mean q)",
    predict=lambda b: b.mean_q, measure=lambda b: Estimate.binomial(b.ps, b.count), rule=Covers(),
)
PS_OVERALL = Claim(
    "posterior_sampling_keeps_the_minority_rate", kind="theorem",
    source=_J1 + ", CPR averaged over y",
    statement="over all draws, posterior samples lie in the minority set as often as the prior puts x there, P(x ∈ C)",
    predict=lambda r: r.prior_share, measure=lambda r: Estimate.binomial(r.ps_in.sum(), r.draws), rule=Covers(),
    detail=lambda r: {"truth_rate": float(r.truth_in.mean()), "map_rate": float(r.map_in.mean())},
)
MAP_STEP = Claim(
    "map_is_a_step_at_one_half", kind="sanity",
    source="notes §2.2 (our derivation): with a shared covariance the posterior mode lies on the heavier "
           "component's side, and p(c | x, y) = p(c | x)",
    statement="the MAP estimate lies in the minority set exactly when the minority's posterior weight w1(y) > 1/2",
    predict=lambda r: 0.0, measure=lambda r: Estimate.exact(float((r.map_in != (r.w1 > 0.5)).mean()), r.draws),
    rule=Covers(),
)
MAP_BIAS = Claim(
    "map_under_represents_the_minority", kind="finding",
    source=_J1 + " ('MAP estimation suffers from majority bias'), in this toy",
    statement="MAP estimates lie in the minority set significantly less often than the truth does, P(x ∈ C)",
    predict=lambda r: r.prior_share, measure=lambda r: Estimate.binomial(r.map_in.sum(), r.draws), rule=Below(),
)
PS_TWICE_MMSE = Claim(
    "posterior_sampling_has_twice_the_mmse", kind="theorem",
    source=_J2 + ": x_PS and x are exchangeable given y, so E[||x_PS - x||² | y] = 2 tr Cov(x | y)",
    statement="the mean of ||x_PS - x||² / (2 tr Cov(x | y)) over draws is 1 (so E||x_PS - x||² = 2·MMSE)",
    predict=lambda r: 1.0, measure=lambda r: Estimate.mean(r.err_ps / (2 * r.cov_trace)), rule=Covers(),
)
MMSE_TRACE = Claim(
    "mmse_error_is_the_posterior_trace", kind="sanity",
    source="E[||E[x|y] - x||² | y] = tr Cov(x | y) for the exact posterior",
    statement="the mean of ||x_MMSE - x||² / tr Cov(x | y) over draws is 1",
    predict=lambda r: 1.0, measure=lambda r: Estimate.mean(r.err_mmse / r.cov_trace), rule=Covers(),
)
LEMMA = Claim(
    "posterior_sampling_lemma_2eps_2delta", kind="theorem",
    source=_J2 + ": P(||x_PS - x|| > 2ε) <= P(||x_PS - x̂|| > ε) + P(||x̂ - x|| > ε) = 2 P(||x̂ - x|| > ε)",
    statement="with ε the competitor's (1 - δ)-quantile of error, P(||x_PS - x|| > 2ε) - 2 P(||x̂ - x|| > ε) <= 0",
    predict=lambda c: 0.0,
    measure=lambda c: Estimate.mean(c.ps_exceeds.astype(float) - 2 * c.comp_exceeds.astype(float)), rule=AtMost(),
    detail=lambda c: {"eps": c.eps, "P_ps_above_2eps": float(c.ps_exceeds.mean()),
                      "P_competitor_above_eps": float(c.comp_exceeds.mean())},
)
PRICE_AT_MOST_TWO = Claim(
    "fairness_costs_at_most_a_factor_two", kind="theorem",
    source=_J2 + ": E||x_PS - x||² = 2·MMSE <= 2 E||x_MAP - x||²",
    statement="the mean squared error of posterior sampling is at most twice MAP's",
    predict=lambda r: 2.0, measure=lambda r: ratio_of_means(r.err_ps, r.err_map), rule=AtMost(),
)
FAIRNESS_COSTS = Claim(
    "fairness_costs_squared_error", kind="finding",
    source="notes §2.3 (expected: CPR costs up to a factor 2 in squared error)",
    statement="posterior sampling's mean squared error is significantly above MAP's",
    predict=lambda r: 1.0, measure=lambda r: ratio_of_means(r.err_ps, r.err_map), rule=Above(),
    detail=lambda r: {"mse_ps": float(r.err_ps.mean()), "mse_map": float(r.err_map.mean()),
                      "mmse": float(r.err_mmse.mean())},
)
ALD_POSTERIOR = Claim(
    "annealed_langevin_reproduces_group_weights", kind="finding",
    source=_J1 + " and " + _J2 + " sample the posterior by annealed Langevin (Song & Ermon 2019)",
    statement="after the most steps per level, the annealed chains' share in C matches q(y): the mean excess "
              "(f - q)² - f(1 - f)/(C - 1) over measurements is 0",
    predict=lambda r: 0.0, measure=lambda r: Estimate.mean(r.excess(r.ald_final(), r.q)), rule=Covers(),
    detail=lambda r: {"mae": r.mae(r.ald_final()), "monte_carlo_floor": r.floor()},
)
ALD_FIRST_LEVEL = Claim(
    "annealed_langevin_equilibrates_at_the_first_level", kind="finding",
    source="notes §2.2: the level-τ target p_τ(x) N(y; Ax, (σ² + τ²) I) is a Gaussian mixture with exact weights",
    statement="at the end of the first (noisiest) level the chains' share in C matches that level's exact target "
              "probability (mean excess 0)",
    predict=lambda r: 0.0, measure=lambda r: Estimate.mean(r.excess(r.ald[-1, 0], r.q_levels[0])), rule=Covers(),
)
PLAIN_STUCK = Claim(
    "plain_langevin_stays_in_the_majority_mode", kind="finding",
    source="metastability of Langevin dynamics between separated modes (Bovier, Eckhoff, Gayrard & Klein 2004)",
    statement="plain Langevin on the exact posterior, started in the majority mode, still under-represents the "
              "minority after as many steps as the longest annealed run: mean of q - f is significantly positive",
    predict=lambda r: 0.0, measure=lambda r: Estimate.mean(r.q - r.plain[-1]), rule=Above(),
)
ALD_BEATS_PLAIN = Claim(
    "annealing_beats_plain_langevin", kind="finding",
    source=_J1 + " (annealing, as in their experiments)",
    statement="at equal numbers of steps, annealed Langevin's per-measurement error |f - q| is significantly below "
              "plain Langevin's",
    predict=lambda r: 0.0,
    measure=lambda r: Estimate.mean(np.abs(r.plain[-1] - r.q) - np.abs(r.ald_final() - r.q)), rule=Above(),
)
VAE_PS_SHARE = Claim(
    "vae_posterior_samples_keep_the_minority_share", kind="finding",
    source=_J1 + ", with the shipped VAE decoder on MNIST 3s and 8s (approximate prior and sampler)",
    statement="the share of annealed-Langevin samples classified as the minority digit matches the minority's "
              "share among the measured digits",
    predict=lambda r: r.truth_share, measure=lambda r: Estimate.mean(r.ps_share), rule=Covers(),
)
VAE_MAP_BIAS = Claim(
    "vae_map_under_represents_the_minority", kind="finding",
    source=_J1 + " ('MAP estimation suffers from majority bias'), with the shipped VAE",
    statement="per digit, the share of posterior samples classified as the minority exceeds MAP's (mean paired "
              "difference significantly positive)",
    predict=lambda r: 0.0, measure=lambda r: Estimate.mean(r.ps_share - r.map_minority.astype(float)), rule=Above(),
    detail=lambda r: {"ps_share": float(r.ps_share.mean()), "map_share": float(r.map_minority.mean()),
                      "truth_share": r.truth_share},
)
VAE_PRICE = Claim(
    "vae_fairness_costs_between_one_and_two", kind="finding",
    source=_J2 + " (the toy's 1 < MSE_PS/MSE_MAP <= 2), with the shipped VAE",
    statement="posterior sampling's mean squared pixel error lies between MAP's and twice MAP's",
    predict=lambda r: (1.0, 2.0), measure=lambda r: ratio_of_means(r.err_ps.mean(axis=1), r.err_map), rule=Inside(),
)
VAE_SPREAD = Claim(
    "vae_posterior_spread_is_below_its_error", kind="finding",
    source="notes §2.1 (E||x_PS - x||² = 2·MMSE needs the truth drawn from the prior); the truth here is a real digit",
    statement="the chains' spread around their mean is significantly below the error of their mean "
              "(ratio of E spread to E||x̄ - x||² - E spread/C, which an exact prior and sampler make 1, is below 1)",
    predict=lambda r: 1.0, measure=lambda r: ratio_of_means(r.spread, r.err_mean - r.spread / r.chains), rule=Below(),
)
