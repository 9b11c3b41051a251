"""ilib.posterior: exact mixture posteriors against brute-force integration, scores against autograd, the MAP rule,
Langevin's stationary law on a Gaussian, and bad input refused by name."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from ilib import posterior as P

F64 = dict(dtype=torch.float64)


def _spd(n, g, jitter=0.2):
    M = torch.randn(n, n, generator=g, **F64)
    return M @ M.T / n + jitter * torch.eye(n, **F64)


def _full_prior(n, K, seed):
    g = torch.Generator().manual_seed(seed)
    w = torch.rand(K, generator=g, **F64) + 0.2
    return P.GaussianMixture(w / w.sum(), 2 * torch.randn(K, n, generator=g, **F64),
                             torch.stack([_spd(n, g) for _ in range(K)]))


# ----------------------------------------------------------------------------------------- the exact posterior
@pytest.mark.parametrize("seed,shared", [(0, False), (1, False), (2, False), (3, True)])
def test_posterior_weights_and_moments_match_brute_force_integration_in_two_dimensions(seed, shared):
    """p(x | y) ∝ p(x) N(y; Ax, σ² I) integrated on a fine 2-D grid: component weights, mean and covariance
    (separate covariances, and one shared covariance, which takes the shared-covariance path)."""
    prior = _full_prior(2, 3, seed)
    if shared:
        prior = P.GaussianMixture(prior.weights, prior.means, prior.covs[:1].expand(3, 2, 2).clone())
        assert prior.shared_covariance
    g = torch.Generator().manual_seed(10 + seed)
    A = torch.randn(1, 1, 2, generator=g, **F64)
    y = torch.randn(1, 1, generator=g, **F64)
    noise = 0.7
    post = P.gaussian_posterior(prior, A, y, noise)
    t = torch.linspace(-14, 14, 1401, **F64)
    X = torch.stack(torch.meshgrid(t, t, indexing="ij"), -1).reshape(-1, 2)
    comp = torch.stack([torch.distributions.MultivariateNormal(prior.means[c], prior.covs[c]).log_prob(X).exp()
                        for c in range(3)]) * prior.weights[:, None]
    lik = torch.exp(-0.5 * ((y[0, 0] - X @ A[0, 0]) / noise) ** 2)
    joint = comp * lik  # (K, grid)
    Z = joint.sum()
    torch.testing.assert_close(post.weights[0], joint.sum(1) / Z, rtol=1e-6, atol=1e-9)
    dens = joint.sum(0) / Z
    mean = (dens[:, None] * X).sum(0)
    cov = ((X - mean).T * dens) @ (X - mean)
    torch.testing.assert_close(post.mean()[0], mean, rtol=1e-6, atol=1e-7)
    torch.testing.assert_close(post.cov_trace()[0], torch.trace(cov), rtol=1e-6, atol=1e-7)
    covs = post.covs.expand(1, 3, 2, 2)
    for c in range(3):  # each component's mean and covariance
        dc = joint[c] / joint[c].sum()
        mc = (dc[:, None] * X).sum(0)
        torch.testing.assert_close(post.means[0, c], mc, rtol=1e-6, atol=1e-7)
        torch.testing.assert_close(covs[0, c], ((X - mc).T * dc) @ (X - mc), rtol=1e-5, atol=1e-7)


def test_exact_samples_have_the_posterior_moments():
    prior = _full_prior(3, 2, 4)
    g = torch.Generator().manual_seed(5)
    A, y = torch.randn(2, 2, 3, generator=g, **F64), torch.randn(2, 2, generator=g, **F64)
    post = P.gaussian_posterior(prior, A, y, 0.5)
    x, c = post.sample(40000, seed=6)
    torch.testing.assert_close(x.mean(1), post.mean(), atol=0.03, rtol=0)
    torch.testing.assert_close(x.var(1).sum(-1), post.cov_trace(), rtol=0.03, atol=0)
    for b in range(2):
        share = (c[b] == 1).double().mean()
        assert abs(share - post.weights[b, 1]) < 4 * math.sqrt(0.25 / 40000)


def test_halfspace_probability_is_the_share_of_exact_samples_and_the_prior_classifier_is_a_halfspace():
    prior = P.GaussianMixture.isotropic([0.8, 0.2], torch.randn(2, 5, generator=torch.Generator().manual_seed(0), **F64), 0.5)
    u, b = prior.group_halfspace(1, 0)
    x, _ = prior.sample(5000, seed=1)
    assert torch.equal(x @ u > b, prior.classify(x) == 1)
    g = torch.Generator().manual_seed(2)
    A, y = torch.randn(3, 2, 5, generator=g, **F64), torch.randn(3, 2, generator=g, **F64)
    post = P.gaussian_posterior(prior, A, y, 0.4)
    xs, _ = post.sample(50000, seed=3)
    torch.testing.assert_close((xs @ u > b).double().mean(1), post.halfspace_probability(u, b), atol=0.01, rtol=0)
    assert abs(prior.halfspace_probability(u, b) - float((x @ u > b).double().mean())) < 0.025


def test_mixture_weights_is_gaussian_posterior_weights():
    g = torch.Generator().manual_seed(0)
    A, y, mu = torch.randn(4, 2, 6, generator=g, **F64), torch.randn(4, 2, generator=g, **F64), torch.randn(3, 6, generator=g, **F64)
    w = torch.tensor([0.5, 0.3, 0.2], **F64)
    ref = P.gaussian_posterior(P.GaussianMixture.isotropic(w, mu, 0.8), A, y, 0.2).weights
    torch.testing.assert_close(P.mixture_weights(A, y, mu, w, 0.8, 0.2), ref)
    torch.testing.assert_close(ref.sum(-1), torch.ones(4, **F64))


# ----------------------------------------------------------------------------------------- the MAP rule
@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), w1=st.floats(0.05, 0.95), m=st.integers(1, 4), noise=st.floats(0.1, 2.0))
def test_map_is_a_stationary_global_mode_on_the_heavier_side(seed, w1, m, noise):
    """Shared covariance: ∇ log p(x̂ | y) = 0, p(x̂ | y) beats exact samples, and x̂ is in the heavier group."""
    g = torch.Generator().manual_seed(seed)
    prior = P.GaussianMixture.isotropic([1 - w1, w1], torch.randn(2, 6, generator=g, **F64), 0.5)
    A, y = torch.randn(3, m, 6, generator=g, **F64) / m**0.5, 3 * torch.randn(3, m, generator=g, **F64)
    post = P.gaussian_posterior(prior, A, y, noise)
    xm = post.mode().requires_grad_(True)
    lp = post.log_prob(xm.unsqueeze(1))
    (grad,) = torch.autograd.grad(lp.sum(), xm)
    assert grad.abs().max() < 1e-6
    xs, _ = post.sample(200, seed=seed)
    assert (post.log_prob(xs) <= lp.detach() + 1e-9).all()
    u, b = prior.group_halfspace(1, 0)
    heavier = post.weights[:, 1] > post.weights[:, 0]
    assert torch.equal(xm.detach() @ u > b, heavier)


@pytest.mark.parametrize("shared", [False, True])
def test_map_of_three_components_is_a_stationary_point_above_every_sample(shared):
    """The general fixed-point iteration (separate covariances) and the simplex iteration (one shared covariance)."""
    prior = _full_prior(3, 3, 7)
    if shared:
        prior = P.GaussianMixture(prior.weights, prior.means, prior.covs[:1].expand(3, 3, 3).clone())
    g = torch.Generator().manual_seed(8)
    A, y = torch.randn(4, 2, 3, generator=g, **F64), torch.randn(4, 2, generator=g, **F64)
    post = P.gaussian_posterior(prior, A, y, 0.5)
    xm = post.mode().requires_grad_(True)
    lp = post.log_prob(xm.unsqueeze(1))
    (grad,) = torch.autograd.grad(lp.sum(), xm)
    assert grad.abs().max() < 1e-6
    assert (post.log_prob(post.sample(500, seed=9)[0]) <= lp.detach() + 1e-9).all()


# ----------------------------------------------------------------------------------------- smoothed scores
@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000), tau=st.floats(0.0, 3.0), iso=st.booleans())
def test_smoothed_score_is_the_gradient_of_the_smoothed_log_density(seed, tau, iso):
    prior = _full_prior(4, 3, seed) if not iso else P.GaussianMixture.isotropic(
        [0.6, 0.4], torch.randn(2, 4, generator=torch.Generator().manual_seed(seed), **F64), 0.7)
    x = torch.randn(5, 2, 4, generator=torch.Generator().manual_seed(seed + 1), **F64).requires_grad_(True)
    (grad,) = torch.autograd.grad(prior.log_prob(x, tau).sum(), x)
    torch.testing.assert_close(prior.score(x.detach(), tau), grad, rtol=1e-9, atol=1e-10)


def test_smoothed_density_is_the_convolution_with_a_gaussian():
    """In one dimension: log p_tau(x) = log ∫ p(x - u) N(u; 0, tau²) du, on a grid."""
    prior = P.GaussianMixture(torch.tensor([0.3, 0.7], **F64), torch.tensor([[-1.0], [2.0]], **F64),
                              torch.tensor([[[0.2]], [[0.5]]], **F64))
    tau, u = 0.8, torch.linspace(-12, 12, 24001, **F64)
    x = torch.tensor([-2.0, 0.3, 1.7, 4.0], **F64)
    conv = (prior.log_prob((x[:, None] - u)[..., None]).exp() * torch.exp(-0.5 * (u / tau) ** 2)).sum(1)
    conv = conv * (u[1] - u[0]) / (tau * math.sqrt(2 * math.pi))
    torch.testing.assert_close(prior.log_prob(x[:, None], tau), conv.log(), rtol=1e-8, atol=1e-8)


def test_likelihood_scores_are_autograd_of_their_log_densities():
    g = torch.Generator().manual_seed(0)
    A, y = torch.randn(3, 4, 6, generator=g, **F64), torch.randn(3, 4, generator=g, **F64)
    x = torch.randn(3, 5, 6, generator=g, **F64).requires_grad_(True)
    lik = P.LinearGaussianLikelihood(A, y, 0.3, inflation=2.0)
    ll = -((y.unsqueeze(1) - torch.einsum("bmn,bcn->bcm", A, x)) ** 2).sum() / (2 * (0.09 + 2.0 * 0.25))
    (grad,) = torch.autograd.grad(ll, x)
    torch.testing.assert_close(lik.score(x.detach(), 0.5), grad)
    shared = P.LinearGaussianLikelihood(A[:1], y, 0.3)  # one A for every measurement
    torch.testing.assert_close(shared.score(x.detach()), P.LinearGaussianLikelihood(A[:1].expand(3, 4, 6), y, 0.3).score(x.detach()))
    W = torch.randn(6, 2, generator=g, **F64)  # a linear generator z -> W z: the same data term as A W
    z = torch.randn(3, 5, 2, generator=g, **F64)
    gen = P.GeneratorLikelihood(lambda v: v @ W.T, lambda v: torch.einsum("bmn,bcn->bcm", A, v), y, 0.3)
    lin = torch.einsum("bcn,nk->bck", P.LinearGaussianLikelihood(A, y, 0.3).score(z @ W.T), W)
    torch.testing.assert_close(gen.score(z), lin)


# ----------------------------------------------------------------------------------------- Langevin
def test_langevin_on_a_gaussian_has_the_stationary_mean_and_the_discretised_variance():
    """ULA on N(μ, v): stationary N(μ, v / (1 - η/2v)), not N(μ, v); 20 000 chains pin both to well under 1%."""
    mu, v, eta, N = 1.5, 0.25, 0.05, 20000
    res = P.langevin(torch.zeros(N, 1, **F64), lambda x: (mu - x) / v, step=eta, steps=300, seed=0)
    x = res.x[:, 0]
    assert abs(float(x.mean()) - mu) < 4 * math.sqrt(v / N * 1.2)
    want = P.stationary_variance(v, eta)
    assert abs(float(x.var()) / want - 1) < 4 * math.sqrt(2 / N)
    assert abs(float(x.var()) / v - 1) > 0.08  # the discretisation bias is visible and is the predicted one
    assert want == pytest.approx(v / (1 - eta / (2 * v)))


def test_one_level_of_annealed_langevin_is_plain_langevin_and_records_on_schedule():
    score = lambda x: -x  # noqa: E731
    a = P.langevin(torch.ones(4, 3, **F64), score, step=0.1, steps=30, seed=5, record=lambda x: x.mean(), record_every=7)
    b = P.annealed_langevin(torch.ones(4, 3, **F64), lambda x, _t: score(x), (0.7,), steps_each=30, step_lr=0.1, seed=5)
    torch.testing.assert_close(a.x, b.x)
    assert a.steps == (7, 14, 21, 28, 30) and a.trace.shape == (5,)


def test_annealed_steps_scale_with_the_squared_noise_level():
    """With a zero score the chain is a random walk: its variance after level i grows by 2 T step_lr (tau_i/tau_L)²."""
    sig = P.sigma_ladder(2.0, 0.5, 3)
    assert sig == pytest.approx((2.0, 1.0, 0.5))
    res = P.annealed_langevin(torch.zeros(40000, 1, **F64), lambda x, t: torch.zeros_like(x), sig, steps_each=5,
                              step_lr=0.01, seed=1, record=lambda x: x.var(), record_every=5)
    want = np.cumsum([2 * 5 * 0.01 * (s / 0.5) ** 2 for s in sig])
    np.testing.assert_allclose(res.trace.numpy(), want, rtol=0.04)


# ----------------------------------------------------------------------------------------- bad input
def _prior():
    return P.GaussianMixture.isotropic([0.5, 0.5], torch.zeros(2, 3, **F64), 1.0)


BAD = [
    ("weights", lambda: P.GaussianMixture(torch.tensor([0.5, -0.5], **F64), torch.zeros(2, 3, **F64), torch.eye(3, **F64).expand(2, 3, 3))),
    ("weights", lambda: P.GaussianMixture(torch.tensor([0.5, 0.6], **F64), torch.zeros(2, 3, **F64), torch.eye(3, **F64).expand(2, 3, 3))),
    ("covs", lambda: P.GaussianMixture(torch.tensor([0.5, 0.5], **F64), torch.zeros(2, 3, **F64), -torch.eye(3, **F64).expand(2, 3, 3))),
    ("covs", lambda: P.GaussianMixture(torch.tensor([0.5, 0.5], **F64), torch.zeros(2, 3, **F64), torch.eye(2, **F64).expand(2, 2, 2))),
    ("scale", lambda: P.GaussianMixture.isotropic([0.5, 0.5], torch.zeros(2, 3, **F64), 0.0)),
    ("noise", lambda: P.gaussian_posterior(_prior(), torch.ones(1, 2, 3, **F64), torch.ones(1, 2, **F64), 0.0)),
    ("A", lambda: P.gaussian_posterior(_prior(), torch.ones(1, 2, 4, **F64), torch.ones(1, 2, **F64), 1.0)),
    ("y", lambda: P.gaussian_posterior(_prior(), torch.ones(2, 2, 3, **F64), torch.ones(3, 2, **F64), 1.0)),
    ("prior", lambda: P.gaussian_posterior("not a prior", torch.ones(1, 2, 3, **F64), torch.ones(1, 2, **F64), 1.0)),
    ("tau", lambda: _prior().score(torch.zeros(1, 3, **F64), -1.0)),
    ("x", lambda: _prior().score(torch.zeros(1, 4, **F64))),
    ("group", lambda: _prior().group_halfspace(2, 0)),
    ("num", lambda: _prior().sample(0, seed=0)),
    ("labels", lambda: P.GaussianMixture.fit(torch.randn(6, 2, **F64), torch.tensor([0, 0, 0, 0, 0, 1]), [0.5, 0.5])),
    ("steps_each", lambda: P.annealed_langevin(torch.zeros(2, 1), lambda x, t: x, (1.0,), steps_each=0, step_lr=0.1, seed=0)),
    ("step_lr", lambda: P.annealed_langevin(torch.zeros(2, 1), lambda x, t: x, (1.0,), steps_each=1, step_lr=0.0, seed=0)),
    ("sigmas", lambda: P.annealed_langevin(torch.zeros(2, 1), lambda x, t: x, (1.0, -0.1), steps_each=1, step_lr=0.1, seed=0)),
    ("record_every", lambda: P.langevin(torch.zeros(2, 1), lambda x: x, step=0.1, steps=2, seed=0, record=lambda x: x, record_every=0)),
    ("step", lambda: P.stationary_variance(0.25, 0.5)),
    ("sigma_min", lambda: P.sigma_ladder(1.0, 2.0, 3)),
    ("levels", lambda: P.sigma_ladder(2.0, 1.0, 0)),
]


@pytest.mark.parametrize("name,call", BAD, ids=[f"{n}-{i}" for i, (n, _) in enumerate(BAD)])
def test_bad_input_is_refused_naming_the_parameter(name, call):
    with pytest.raises((ValueError, TypeError)) as exc:
        call()
    assert str(exc.value).startswith(name) or f"{name} " in str(exc.value), str(exc.value)
