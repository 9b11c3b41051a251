"""ilib.amp: denoisers against autograd, state evolution against closed forms, spectral methods against dense
eigendecompositions, AMP against its state evolution, bad input refused naming the argument."""

import math

import numpy as np
import pytest
import torch
from hypothesis import example, given, settings
from hypothesis import strategies as st
from scipy import optimize

import ilib
from ilib import amp

f64 = torch.float64


def _t(*xs):
    return [torch.tensor(x, dtype=f64, requires_grad=True) for x in xs]


# ------------------------------------------------------------------------------------------------ closed forms
def test_thresholds_closed_forms():
    assert amp.delta_c(2.0, "linear") == pytest.approx(3.0)
    assert amp.delta_c(2.0, "sign") == pytest.approx(1 + 8 / math.pi**2)
    assert amp.alpha_weak_recovery(0.25, "linear") == pytest.approx(0.1)
    assert amp.alpha_weak_recovery(0.25, "sign") == pytest.approx(0.25 / (2 * (0.25 + 4 / math.pi**2)))
    assert amp.alpha_weak_recovery(0.01, "sparse") == 0.5
    np.testing.assert_allclose(amp.cs_linear_mse([0.1, 0.2, 0.3], 0.25), [0.54, 0.16, 0.0])
    np.testing.assert_allclose(amp.pca_overlap([0.36, 1.5]), [0.8, 0.0])
    np.testing.assert_allclose(amp.pca_top_eigenvalue([0.5, 4.0]), [1.5, 4.0])


def test_trace_k2_matches_monte_carlo_wishart_moments():
    g = torch.Generator().manual_seed(0)
    p, k, B = 60, 20, 4000
    F = torch.randn(B, p, k, generator=g, dtype=f64) / math.sqrt(k)
    for act, a in [("linear", 1.0), ("sign", 2 / math.pi)]:
        K = a * F @ F.transpose(-1, -2) + (1 - a) * torch.eye(p, dtype=f64)
        t = (K * K).sum((-1, -2)).numpy() / p
        est = ilib.Estimate.mean(t)
        assert est.lo <= amp.trace_k2(p, k, act) <= est.hi


def test_marchenko_pastur_moments():
    for y in (0.3, 1.0, 2.0, 4.0):
        mp = amp.MarchenkoPastur(y)
        assert mp.expect(np.ones_like) == pytest.approx(1.0, abs=1e-10)
        assert mp.expect(lambda l: l) == pytest.approx(1.0, abs=1e-10)
        assert mp.expect(lambda l: l * l) == pytest.approx(1 + y, rel=1e-10)
        assert mp.expect(lambda l: l**3) == pytest.approx(1 + 3 * y + y * y, rel=1e-10)


def test_expect_broad_resolves_a_step_like_integrand_that_gauss_hermite_misses():
    # E tanh^2(50 g) = 1 - E sech^2(50 g) ~ 1 - 2 phi(0)/50 for g ~ N(0, 1): r = 50 in the natural variable
    exact = 1 - 2 * integrate_sech2(50.0)
    assert amp.expect_broad(lambda s: np.tanh(s) ** 2, 50.0) == pytest.approx(exact, abs=1e-8)
    x, w = amp.gauss_hermite(40)
    assert abs((w * np.tanh(50 * x) ** 2).sum() - exact) > 1e-3


def integrate_sech2(r):
    from scipy.integrate import quad

    return quad(lambda s: (1 / np.cosh(s)) ** 2 * math.exp(-s * s / (2 * r * r)) / (r * math.sqrt(2 * math.pi)), 0, 50)[0]


# ------------------------------------------------------------------------------------------------ denoisers vs autograd
@settings(max_examples=30, deadline=None)
@given(B=st.floats(-8, 8), omega=st.floats(-4, 4), V=st.floats(0.05, 3))
def test_sign_layer_denoiser_is_the_derivative_of_its_log_partition_function(B, omega, V):
    b, w = _t(B, omega)
    u = w / math.sqrt(V)
    log_z = torch.logaddexp(b + torch.special.log_ndtr(u), -b + torch.special.log_ndtr(-u))
    dB, dw = torch.autograd.grad(log_z, (b, w), create_graph=True)
    (d2B,) = torch.autograd.grad(dB, b, retain_graph=True)
    (d2w,) = torch.autograd.grad(dw, w)
    f, c, g, dg = amp.sign_layer_denoiser(b.detach(), w.detach(), torch.tensor(V, dtype=f64))
    torch.testing.assert_close(f, dB.detach(), rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(c, d2B.detach(), rtol=1e-7, atol=1e-12)
    torch.testing.assert_close(g, dw.detach(), rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(dg, d2w.detach(), rtol=1e-7, atol=1e-10)


@settings(max_examples=30, deadline=None)
@given(B=st.floats(-5, 5), A=st.floats(0.01, 5), omega=st.floats(-3, 3), V=st.floats(0.05, 2))
def test_linear_layer_denoiser_is_the_derivative_of_its_log_partition_function(B, A, omega, V):
    b, w = _t(B, omega)
    # log of int N(h; omega, V) exp(B h - A h^2 / 2) dh, up to terms free of (B, omega)
    prec = 1 / V + A
    log_z = 0.5 * (w / V + b) ** 2 / prec - 0.5 * w * w / V
    dB, dw = torch.autograd.grad(log_z, (b, w), create_graph=True)
    (d2B,) = torch.autograd.grad(dB, b, retain_graph=True)
    (d2w,) = torch.autograd.grad(dw, w)
    f, c, g, dg = amp.linear_layer_denoiser(b.detach(), A, w.detach(), V)
    torch.testing.assert_close(f, dB.detach(), rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(c, d2B.detach(), rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(g, dw.detach(), rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(dg, d2w.detach(), rtol=1e-10, atol=1e-12)


@settings(max_examples=30, deadline=None)
@given(B=st.floats(-6, 6), A=st.floats(0.01, 20), rho=st.floats(0.02, 0.9))
def test_gauss_bernoulli_denoiser_is_the_derivative_of_its_log_partition_function(B, A, rho):
    (b,) = _t(B)
    s2 = 1 / rho
    log_z = torch.logaddexp(torch.tensor(math.log1p(-rho), dtype=f64),
                            math.log(rho) - 0.5 * math.log1p(A * s2) + 0.5 * s2 * b * b / (1 + A * s2))
    (dB,) = torch.autograd.grad(log_z, b, create_graph=True)
    (d2B,) = torch.autograd.grad(dB, b)
    f, c = amp.gauss_bernoulli_denoiser(b.detach(), A, rho)
    torch.testing.assert_close(f, dB.detach(), rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(c, d2B.detach().clamp_min(0), rtol=1e-7, atol=1e-12)


@settings(max_examples=30, deadline=None)
@given(y=st.floats(0, 4), omega=st.floats(-3, 3), V=st.floats(0.01, 2), noise=st.floats(1e-4, 0.5))
@example(y=2.0, omega=3.0, V=0.01171875, noise=0.00390625)  # |t| = 384: logaddexp's double backward gave nan
@example(y=1.0, omega=0.0, V=0.5, noise=0.1)  # t = 0
def test_output_channels_are_derivatives_of_their_log_likelihoods(y, omega, V, noise):
    yy, w = _t(y, omega)
    S = V + noise
    t = yy * w / S
    log_cosh = t + torch.nn.functional.softplus(-2 * t, threshold=50)  # log(2 cosh t), finite second derivative
    for fn, log_z in [(amp.gaussian_channel, -(yy - w) ** 2 / (2 * S)),
                      (amp.phase_channel, -(yy * yy + w * w) / (2 * S) + log_cosh)]:  # log(N(y; w, S) + N(y; -w, S))
        (dw,) = torch.autograd.grad(log_z, w, create_graph=True)
        (d2w,) = torch.autograd.grad(dw, w)
        g, dg = fn(yy.detach(), w.detach(), torch.tensor(V, dtype=f64), noise)
        torch.testing.assert_close(g, dw.detach(), rtol=1e-9, atol=1e-10)
        torch.testing.assert_close(dg, d2w.detach(), rtol=1e-7, atol=1e-9)


def test_gaussian_prior_step_is_the_posterior_mean_and_its_mean_divergence():
    g = torch.Generator().manual_seed(0)
    T, n, k = 2, 12, 5
    F = torch.randn(T, n, k, generator=g, dtype=f64) / math.sqrt(k)
    prior = amp.GaussianPrior(F)
    B = torch.randn(T, 3, n, generator=g, dtype=f64)
    A = torch.tensor([[0.3, 1.0, 4.0], [0.1, 2.0, 9.0]], dtype=f64)
    mean, c = prior.step(B, A)
    K = F @ F.transpose(-1, -2)
    for t in range(T):
        for j in range(3):
            ref = amp.gaussian_posterior_mean(K[t], B[t, j], float(A[t, j]))
            torch.testing.assert_close(mean[t, j], ref, rtol=1e-9, atol=1e-12)
            jac = torch.autograd.functional.jacobian(lambda b: amp.gaussian_posterior_mean(K[t], b, float(A[t, j])), B[t, j])
            assert float(c[t, j]) == pytest.approx(float(torch.trace(jac)) / n, rel=1e-9)


def test_low_rank_covariance_matches_its_dense_matrix():
    g = torch.Generator().manual_seed(1)
    F = torch.randn(2, 9, 4, generator=g, dtype=f64) / 2
    cov = amp.LowRankCovariance.from_weights(F, a=2 / math.pi)
    dense = 2 / math.pi * F @ F.transpose(-1, -2) + (1 - 2 / math.pi) * torch.eye(9, dtype=f64)
    torch.testing.assert_close(cov.dense(), dense)
    X = torch.randn(2, 3, 9, generator=g, dtype=f64)
    root = cov.apply(lambda l: l.sqrt(), X)
    ev, U = torch.linalg.eigh(dense)
    ref = X @ (U * ev.sqrt().unsqueeze(-2)) @ U.transpose(-1, -2)
    torch.testing.assert_close(root, ref, rtol=1e-9, atol=1e-12)


# ------------------------------------------------------------------------------------------------ state evolution
def _stieltjes_mp(z, y):
    """E[1/(lambda - z)] of the Marchenko-Pastur law with ratio y (atom included), for real z < 0, in closed form."""
    return (1 - y - z - math.sqrt((z - 1 - y) ** 2 - 4 * y)) / (2 * y * z)


@pytest.mark.parametrize("alpha,delta", [(1.0, 0.5), (2.0, 1.5), (4.0, 3.0), (0.5, 0.4)])
def test_linear_prior_spiked_fixed_point_matches_the_closed_form_stieltjes_transform(alpha, delta):
    r"""q = E[s l^2/(1 + s l)] = 1 - (1 - E[1/(1 + s l)])/s with s = q/Delta and E[1/(1+sl)] = m(-1/s)/s in closed form."""
    def closed(q):
        s = q / delta
        return 1 - (1 - _stieltjes_mp(-1 / s, alpha) / s) / s - q

    q_star = optimize.brentq(closed, 1e-9, 1 - 1e-12)
    se = amp.run_se(amp.GaussianSpectrumSE(alpha), amp.spiked_field(delta), tol=1e-13)
    assert se.converged and se.overlap == pytest.approx(q_star, abs=1e-8)


@pytest.mark.parametrize("alpha,delta", [(2.0, 1.0), (4.0, 2.5)])
def test_two_layer_linear_se_reaches_the_spectral_fixed_point(alpha, delta):
    a = amp.run_se(amp.GaussianSpectrumSE(alpha), amp.spiked_field(delta), tol=1e-13)
    b = amp.run_se(amp.LayerSE("linear", alpha), amp.spiked_field(delta), tol=1e-13)
    assert a.overlap == pytest.approx(b.overlap, abs=1e-8)


@pytest.mark.parametrize("alpha", [0.05, 0.1, 0.2, 0.24])
def test_noiseless_cs_state_evolution_below_alpha_c_is_the_closed_form(alpha):
    rho = 0.25
    for se in (amp.GaussianSpectrumSE(1 / rho), amp.LayerSE("linear", 1 / rho)):
        r = amp.run_se(se, amp.glm_field("gaussian", alpha, 0.0), iters=50_000, tol=1e-13)
        assert r.converged and r.mse == pytest.approx(amp.cs_linear_mse(alpha, rho), abs=1e-7)


def test_sign_layer_se_moments_match_monte_carlo_and_the_nishimori_identity():
    g = torch.Generator().manual_seed(0)
    N = 400_000
    se = amp.LayerSE("sign", 2.0)
    for mhat, mz in [(0.5, 0.3), (2.0, 0.8)]:
        V = 1 - mz
        xi, eta, zeta = (torch.randn(N, generator=g, dtype=f64) for _ in range(3))
        omega = math.sqrt(mz) * xi
        x = torch.sign(omega + math.sqrt(V) * eta)
        f, _, gh, _ = amp.sign_layer_denoiser(mhat * x + math.sqrt(mhat) * zeta, omega, torch.tensor(V, dtype=f64))
        ef2, eg2 = se.moments(mhat, mz)
        for mc, q in [((f * f).numpy(), ef2), ((f * x).numpy(), ef2), ((gh * gh).numpy(), eg2)]:
            est = ilib.Estimate.mean(mc, ci=0.999)
            assert est.lo <= q <= est.hi


@pytest.mark.parametrize("alpha,act", [(1.0, "linear"), (3.0, "linear"), (2.0, "sign"), (4.0, "sign")])
def test_se_weak_recovery_threshold_is_delta_c(alpha, act):
    se = amp.GaussianSpectrumSE(alpha) if act == "linear" else amp.LayerSE(act, alpha)
    lo, hi = amp.bisect(lambda d: amp.se_jacobian_top(se, amp.spiked_field(d)) > 1, 0.1, 20, tol=1e-7)
    assert lo - 1e-7 <= amp.delta_c(alpha, act) <= hi + 1e-7


@pytest.mark.parametrize("prior", ["linear", "sign", "sparse"])
def test_phase_retrieval_weak_recovery_threshold(prior):
    rho = 0.25
    se = {"linear": amp.GaussianSpectrumSE(1 / rho), "sign": amp.LayerSE("sign", 1 / rho),
          "sparse": amp.GaussBernoulliSE(rho)}[prior]
    lo, hi = amp.bisect(lambda a: amp.se_jacobian_top(se, amp.glm_field("phase", a, 0.0)) > 1, 0.01, 1.5, tol=1e-7)
    assert lo - 1e-7 <= amp.alpha_weak_recovery(rho, prior) <= hi + 1e-7


def test_se_trace_flags_a_run_that_hits_its_cap_as_not_converged():
    dc = amp.delta_c(2.0)
    r = amp.run_se(amp.GaussianSpectrumSE(2.0), amp.spiked_field(dc * 0.999), iters=50)
    assert not r.converged and r.iterations == 50 and r.error == math.inf
    r = amp.run_se(amp.GaussianSpectrumSE(2.0), amp.spiked_field(0.5 * dc))
    assert r.converged and r.error < 1e-8


def test_se_step_spiked_linear_is_one_step_of_the_spectral_se():
    q1 = amp.se_step_spiked_linear(0.4, 1.2, 2.0)
    q2, _ = amp.GaussianSpectrumSE(2.0).step(0.4 / 1.2, ())
    assert q1 == pytest.approx(q2)
    assert amp.se_step_spiked_linear(0.0, 1.0, 2.0) == 0.0


# ------------------------------------------------------------------------------------------------ spectral methods
def _small_problem(seed=0, p=120, priors=(("linear", 40), ("sign", 30)), deltas=(0.5, 2.0), trials=2):
    return amp.SpikedWigner.sample(p, list(priors), list(deltas), trials=trials, seed=seed)


def test_pca_top_eigenpair_matches_a_dense_eigendecomposition():
    pr = _small_problem()
    ep = amp.pca(pr, iters=120, seed=1)
    for t in range(pr.trials):
        for c in range(pr.columns):
            ev, U = torch.linalg.eigh(pr.dense(t, c))
            assert float(ep.value[t, c]) == pytest.approx(float(ev[-1]), abs=1e-8)
            assert float(amp.overlap(ep.vector[t, c], U[:, -1])) == pytest.approx(1.0, abs=1e-6)


def test_lamp_top_eigenvalue_matches_a_dense_eigendecomposition_and_is_an_eigenvector_of_gamma():
    pr = _small_problem(seed=3)
    ep = amp.lamp(pr, iters=120, seed=1)
    covs = amp.spectral_covariance(pr).covs
    eye = torch.eye(pr.p, dtype=f64)
    for t in range(pr.trials):
        for c in range(pr.columns):
            K = covs[c // 2].dense()[t]
            ek, Uk = torch.linalg.eigh(K)
            Kh = (Uk * ek.clamp_min(0).sqrt()) @ Uk.T
            M = Kh @ (pr.dense(t, c) - eye) @ Kh
            ev = torch.linalg.eigvalsh(M)
            assert float(ep.value[t, c]) == pytest.approx(float(ev[-1]), abs=1e-8)
            # the returned v = K^{1/2} u is an eigenvector of Gamma = K (Y/sqrt p - I) / Delta
            d = float(pr.deltas[c])
            v = ep.vector[t, c]
            gv = K @ ((pr.dense(t, c) - eye) @ v) / d
            torch.testing.assert_close(gv, float(ep.value[t, c]) / d * v, rtol=1e-6, atol=1e-8)


def test_lanczos_on_random_symmetric_batches():
    g = torch.Generator().manual_seed(4)
    M = torch.randn(3, 2, 50, 50, generator=g, dtype=f64)
    M = M + M.transpose(-1, -2)
    ep = amp.lanczos_top(lambda X: (M @ X.unsqueeze(-1)).squeeze(-1), torch.randn(3, 2, 50, generator=g, dtype=f64), 50)
    torch.testing.assert_close(ep.value, torch.linalg.eigvalsh(M)[..., -1], rtol=1e-10, atol=1e-10)
    assert float(ep.residual.max()) < 1e-8


def test_matvec_is_the_dense_matrix_product_column_by_column():
    pr = _small_problem(seed=5)
    X = torch.randn(pr.trials, pr.columns, pr.p, generator=torch.Generator().manual_seed(0), dtype=f64)
    Y = pr.matvec(X)
    for t in range(pr.trials):
        for c in range(pr.columns):
            torch.testing.assert_close(Y[t, c], pr.dense(t, c) @ X[t, c])


# ------------------------------------------------------------------------------------------------ AMP, GAMP
def test_spiked_amp_reaches_its_state_evolution_far_below_threshold():
    pr = amp.SpikedWigner.sample(600, [("linear", 300), ("sign", 300)], [0.5, 0.75], trials=4, seed=11)
    res = amp.spiked_amp(pr, iters=200, seed=1)
    assert res.converged.all()
    for j, (act, d) in enumerate([("linear", 0.5), ("linear", 0.75), ("sign", 0.5), ("sign", 0.75)]):
        se = amp.run_se(amp.GaussianSpectrumSE(2.0) if act == "linear" else amp.LayerSE("sign", 2.0), amp.spiked_field(d))
        est = ilib.Estimate.mean(res.final_mse[:, j])
        assert est.lo <= se.mse <= est.hi, (act, d, est, se.mse)


def test_spiked_amp_batched_equals_one_instance_at_a_time():
    pr = _small_problem(seed=6, trials=2)
    init = 1e-2 * torch.randn(pr.trials, pr.columns, pr.p, generator=torch.Generator().manual_seed(2), dtype=f64)
    full = amp.spiked_amp(pr, iters=30, seed=0, init=init, stop_early=False)
    for t in range(pr.trials):
        for i, s in enumerate(pr.spikes):
            for j in range(len(s.deltas)):
                c = 2 * i + j
                one = amp.SpikedWigner(xi=pr.xi[t:t + 1], spikes=(amp.GenerativeSpike(s.activation, s.F[t:t + 1],
                                                                                    s.z[t:t + 1], s.deltas[j:j + 1]),))
                r = amp.spiked_amp(one, iters=30, seed=0, init=init[t:t + 1, c:c + 1], stop_early=False)
                np.testing.assert_allclose(r.mse[:, 0, 0], full.mse[:, t, c], rtol=1e-9, atol=1e-12)


def test_stream_reproducibility_of_the_spiked_model():
    a = amp.SpikedWigner.sample(50, [("sign", 25)], [1.0], trials=2, seed=ilib.stream(0, "a"))
    b = amp.SpikedWigner.sample(50, [("sign", 25)], [1.0], trials=2, seed=ilib.stream(0, "a"))
    c = amp.SpikedWigner.sample(50, [("sign", 25)], [1.0], trials=2, seed=ilib.stream(0, "b"))
    assert torch.equal(a.xi, b.xi) and torch.equal(a.v, b.v) and not torch.equal(a.xi, c.xi)


def test_gamp_compressed_sensing_linear_prior_on_its_state_evolution():
    g = torch.Generator().manual_seed(0)
    T, n, k, m, noise = 4, 400, 100, 200, 1e-3
    F = torch.randn(T, n, k, generator=g, dtype=f64) / math.sqrt(k)
    prior = amp.GaussianPrior(F)
    x = prior.sample(torch.randn(T, 1, k, generator=g, dtype=f64))
    A = torch.randn(T, m, n, generator=g, dtype=f64) / math.sqrt(n)
    y = x @ A.transpose(-1, -2) + math.sqrt(noise) * torch.randn(T, 1, m, generator=g, dtype=f64)
    res = amp.gamp(A, y, prior, lambda yy, o, V: amp.gaussian_channel(yy, o, V, noise), iters=200, seed=1, truth=x)
    se = amp.run_se(amp.GaussianSpectrumSE(n / k), amp.glm_field("gaussian", m / n, noise))
    assert res.converged.all()
    assert float(np.median(res.final_mse)) == pytest.approx(se.mse, rel=0.3)


def test_stacked_prior_acts_column_group_by_column_group():
    g = torch.Generator().manual_seed(1)
    F = torch.randn(2, 20, 5, generator=g, dtype=f64) / math.sqrt(5)
    B = torch.randn(2, 3, 20, generator=g, dtype=f64)
    A = torch.rand(2, 3, generator=g, dtype=f64) + 0.1
    stacked = amp.StackedPrior([amp.GaussianPrior(F), amp.GaussBernoulliPrior(0.3)], [2, 1])
    f, c = stacked.step(B, A)
    f1, c1 = amp.GaussianPrior(F).step(B[:, :2], A[:, :2])
    f2, c2 = amp.GaussBernoulliPrior(0.3).step(B[:, 2:], A[:, 2:])
    torch.testing.assert_close(f, torch.cat([f1, f2], 1))
    torch.testing.assert_close(c, torch.cat([c1, c2], 1))


# ------------------------------------------------------------------------------------------------ bad input
BAD = [
    (lambda: amp.delta_c(0.0), "alpha"),
    (lambda: amp.delta_c(-1.0), "alpha"),
    (lambda: amp.delta_c(2.0, "relu"), "activation"),
    (lambda: amp.alpha_weak_recovery(0.0), "rho"),
    (lambda: amp.alpha_weak_recovery(0.2, "tanh"), "prior"),
    (lambda: amp.cs_linear_mse(0.0, 0.25), "alpha"),
    (lambda: amp.cs_linear_mse(0.1, -0.25), "rho"),
    (lambda: amp.pca_overlap(0.0), "delta"),
    (lambda: amp.spiked_field(0.0), "delta"),
    (lambda: amp.spiked_field(-2.0), "delta"),
    (lambda: amp.glm_field("gaussian", 0.0, 0.1), "alpha"),
    (lambda: amp.glm_field("gaussian", -0.5, 0.1), "alpha"),
    (lambda: amp.glm_field("gaussian", 0.5, -0.1), "noise"),
    (lambda: amp.glm_field("poisson", 0.5, 0.1), "channel"),
    (lambda: amp.SpikedWigner.sample(20, [("linear", 10)], [0.0, 1.0], trials=1, seed=0), "deltas"),
    (lambda: amp.SpikedWigner.sample(20, [("linear", 10)], [-1.0], trials=1, seed=0), "deltas"),
    (lambda: amp.SpikedWigner.sample(20, [("linear", 0)], [1.0], trials=1, seed=0), "k"),
    (lambda: amp.SpikedWigner.sample(0, [("linear", 2)], [1.0], trials=1, seed=0), "p"),
    (lambda: amp.SpikedWigner.sample(20, [], [1.0], trials=1, seed=0), "priors"),
    (lambda: _small_problem().matvec(torch.zeros(2, 3, 120, dtype=f64)), "X"),
    (lambda: amp.gaussian_posterior_mean(torch.eye(3, dtype=f64)[:2], torch.ones(3, dtype=f64), 1.0), "K"),
    (lambda: amp.gaussian_posterior_mean(torch.eye(3, dtype=f64), torch.ones(4, dtype=f64), 1.0), "B"),
    (lambda: amp.gaussian_posterior_mean(torch.eye(3, dtype=f64), torch.ones(3, dtype=f64), 0.0), "A"),
    (lambda: amp.se_step_spiked_linear(0.5, 0.0, 2.0), "delta"),
    (lambda: amp.se_step_spiked_linear(0.5, 1.0, 0.0), "alpha"),
    (lambda: amp.GaussBernoulliPrior(0.0), "rho"),
    (lambda: amp.MarchenkoPastur(0.0), "ratio"),
    (lambda: amp.LayerSE("sign", -1.0), "ratio"),
    (lambda: amp.gamp(torch.zeros(1, 4, 6, dtype=f64), torch.zeros(1, 2, 5, dtype=f64), amp.GaussBernoulliPrior(0.1),
                      amp.gaussian_channel, iters=1, seed=0, truth=torch.zeros(1, 2, 6, dtype=f64)), "y"),
    (lambda: amp.gamp(torch.zeros(1, 4, 6, dtype=f64), torch.zeros(1, 2, 4, dtype=f64), amp.GaussBernoulliPrior(0.1),
                      amp.gaussian_channel, iters=1, seed=0, truth=torch.zeros(1, 2, 5, dtype=f64)), "truth"),
    (lambda: amp.spiked_amp(_small_problem(), iters=0, seed=0), "iters"),
    (lambda: amp.spiked_amp(_small_problem(), iters=5, seed=0, damping=1.0), "damping"),
    (lambda: amp.run_se(amp.GaussianSpectrumSE(2.0), amp.spiked_field(1.0), m0=2.0), "m0"),
    (lambda: amp.bisect(lambda x: x > 5, 0.0, 1.0), "pred"),
]


@pytest.mark.parametrize("call,name", BAD, ids=[f"{n}-{i}" for i, (_, n) in enumerate(BAD)])
def test_bad_input_is_refused_naming_the_argument(call, name):
    with pytest.raises((ValueError, TypeError)) as e:
        call()
    assert str(e.value).startswith(name) or f"'{name}'" in str(e.value) or f" {name} " in f" {e.value} ", str(e.value)
