"""Tests for ilib.onebit: the dither identity, the ERM and its closed form, exact formulas, and bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from ilib import GaussianOperator, LinearGenerator, ReLUGenerator, make_generator, randn
from ilib import onebit as ob

F64 = torch.float64


# --------------------------------------------------------------------------- the dither identity
@pytest.mark.parametrize("lam", [0.5, 2.0, 7.0])
@pytest.mark.parametrize("frac", [-1.0, -0.6, -0.1, 0.0, 0.3, 0.9, 1.0])
def test_dither_identity_inside_within_standard_error(lam, frac):
    # E[lam sign(u + tau)] = u for |u| <= lam, tau ~ Unif[-lam, lam] (Qiu, Wei & Yang 2020)
    u = torch.tensor([frac * lam], dtype=F64)
    mean, se = ob.dither_monte_carlo(u, lam, samples=40_000, seed=3, device="cpu")
    exact_sd = math.sqrt(lam**2 - float(u) ** 2) / math.sqrt(40_000)
    if exact_sd == 0:
        assert float(mean) == pytest.approx(float(u), abs=1e-12)
    else:
        assert abs(float(mean) - float(u)) < 4.5 * exact_sd
        assert float(se) == pytest.approx(exact_sd, rel=0.05)


@pytest.mark.parametrize("lam", [0.5, 2.0])
@pytest.mark.parametrize("frac", [-3.0, -1.2, 1.01, 2.5])
def test_dither_identity_fails_outside(lam, frac):
    # outside [-lam, lam] the sign never changes: the mean is lam sign(u), off u by |u| - lam
    u = torch.tensor([frac * lam], dtype=F64)
    mean, se = ob.dither_monte_carlo(u, lam, samples=2_000, seed=0, device="cpu")
    assert float(mean) == pytest.approx(math.copysign(lam, frac), abs=1e-12)
    assert float(se) == 0.0
    assert abs(float(mean) - float(u)) == pytest.approx((abs(frac) - 1) * lam, rel=1e-12)


@settings(max_examples=60, deadline=None)
@given(u=st.floats(-50, 50), lam=st.floats(1e-3, 20))
def test_dither_mean_is_clip(u, lam):
    # closed form: lam (P(tau > -u) - P(tau < -u)) with tau uniform
    p_plus = min(max((lam + u) / (2 * lam), 0.0), 1.0)
    expected = lam * (2 * p_plus - 1)
    assert float(ob.dither_mean(u, lam)) == pytest.approx(expected, abs=1e-12 * max(1.0, lam))


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31), lam=st.floats(1e-3, 10), dither=st.booleans(), scale=st.floats(-5, 5))
def test_quantize_gives_labels(seed, lam, dither, scale):
    s = scale * randn(3, 17, generator=make_generator(seed), dtype=F64, device="cpu")
    s[0, 0] = 0.0  # a tie goes to +1
    y = ob.quantize(s, lam=lam, dither=dither, seed=seed)
    ob.check_labels(y)
    if not dither:
        assert float(y[0, 0]) == 1.0
        assert torch.equal(y[s > 0], torch.ones_like(y[s > 0]))


# --------------------------------------------------------------------------- exact formulas
@pytest.mark.parametrize("noise,df", [("laplace", 3), ("student", 1), ("student", 4)])
def test_erm_target_mean_is_shrunk_signal(noise, df):
    # Stein: E[lam y a] = P(|<a,x> + xi| <= lam) x for dithered labels, through the explicit path
    B, m, n, lam = 400, 50, 4, 1.5
    g = make_generator(11)
    op = ob.gaussian_rows(m, n, batch=B, seed=g, dtype=F64, device="cpu")
    x = torch.tensor([0.8, -0.6, 0.0, 0.0], dtype=F64).expand(B, n).contiguous()
    y = ob.one_bit_measure(op, x, lam=lam, noise=noise, noise_scale=0.5, df=df, seed=g)
    v = ob.erm_target(y, op, lam)
    p = ob.prob_unclipped(1.0, lam, noise=noise, noise_scale=0.5, df=df)
    mean, se = v.mean(0), v.std(0) / math.sqrt(B)
    assert torch.all((mean - p * x[0]).abs() < 4.5 * se)


def test_prob_unclipped_known_values():
    assert ob.prob_unclipped(1.0, 2.0) == pytest.approx(2 * stats.norm.cdf(2.0) - 1, rel=1e-12)
    assert ob.prob_unclipped(0.6, 1.0, noise="gaussian", noise_scale=0.8) == pytest.approx(
        2 * stats.norm.cdf(1.0) - 1, rel=1e-12
    )
    # r = 0 with Cauchy noise (Student-t, 1 dof): P(|sigma t| <= lam) = (2/pi) arctan(lam/sigma)
    assert ob.prob_unclipped(0.0, 1.5, noise="student", noise_scale=0.5, df=1) == pytest.approx(
        2 / math.pi * math.atan(3.0), rel=1e-8
    )
    # the numerical integral against the Gaussian closed form, by pretending Student-t with many dof
    assert ob.prob_unclipped(1.0, 2.0, noise="student", noise_scale=0.5, df=400) == pytest.approx(
        ob.prob_unclipped(1.0, 2.0, noise="gaussian", noise_scale=0.5), abs=2e-4
    )


@pytest.mark.parametrize("noise,scale", [("none", 0.0), ("gaussian", 0.7), ("student", 0.5), ("laplace", 0.5)])
def test_undithered_gain_matches_monte_carlo(noise, scale):
    # E[g sign(r g + xi)] = 2 E phi(xi / r); noiseless: sqrt(2/pi)
    r = 1.3
    g = make_generator(2)
    N = 400_000
    gg = randn(N, generator=g, dtype=F64, device="cpu")
    xi = ob.sample_noise((N,), kind=noise, scale=scale, df=2, seed=g, dtype=F64, device="cpu")
    vals = gg * torch.sign(r * gg + xi)
    want = ob.undithered_gain(r, noise=noise, noise_scale=scale, df=2)
    assert abs(float(vals.mean()) - want) < 4.5 * float(vals.std()) / math.sqrt(N)
    if noise == "none":
        assert want == pytest.approx(math.sqrt(2 / math.pi), rel=1e-15)


# --------------------------------------------------------------------------- the estimator
@pytest.mark.parametrize("k", [1, 4])
@pytest.mark.parametrize("orthonormal", [True, False])
@pytest.mark.parametrize("negate_every", [0, 7])
def test_linear_closed_form_equals_gradient_solution(k, orthonormal, negate_every):
    B, n, m, lam = 3, 30, 200, 2.0
    g = make_generator(1)
    G = LinearGenerator.random(n, k, batch=B, seed=g, orthonormal=orthonormal, dtype=F64, device="cpu")
    x0 = randn(B, k, generator=g, dtype=F64, device="cpu")
    op = ob.gaussian_rows(m, n, batch=B, seed=g, dtype=F64, device="cpu")
    y = ob.one_bit_measure(op, G(x0.unsqueeze(1)).squeeze(1), lam=lam, noise="gaussian", noise_scale=0.2, seed=g)
    v = ob.erm_target(y, op, lam)
    closed = ob.linear_estimate(v, G)
    res = ob.erm_recover(v, G, restarts=3, steps=400, lr=0.2, method="gd", negate_every=negate_every, seed=g)
    assert torch.allclose(res.z, closed, atol=1e-8)
    # first-order optimality of the risk: U^T (U xhat - v) = 0
    U = G.U
    grad = torch.einsum("bnk,bn->bk", U, torch.einsum("bnk,bk->bn", U, closed) - v)
    assert grad.abs().max() < 1e-10


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31), k=st.integers(1, 4), extra=st.integers(0, 6))
def test_linear_estimate_solves_normal_equations(seed, k, extra):
    n = k + extra
    g = make_generator(seed)
    U = randn(2, n, k, generator=g, dtype=F64, device="cpu") + 0.1 * torch.eye(n, k, dtype=F64)
    v = randn(2, 5, n, generator=g, dtype=F64, device="cpu")
    xh = ob.linear_estimate(v, U)
    res = torch.einsum("bnk,bpn->bpk", U, torch.einsum("bnk,bpk->bpn", U, xh) - v)
    assert res.abs().max() < 1e-8 * (1 + v.abs().max()) * torch.linalg.cond(U).max() ** 2


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**31))
def test_erm_objective_is_shifted_distance_and_matches_definition(seed):
    # L(z) = ||G(z)||^2 - (2 lam/m) sum y_i <a_i, G(z)> = ||G(z) - v||^2 - ||v||^2
    g = make_generator(seed)
    G = ReLUGenerator.random([3, 11, 17], batch=2, seed=g, dtype=F64, device="cpu")
    op = ob.gaussian_rows(9, 17, batch=2, seed=g, dtype=F64, device="cpu")
    y = ob.one_bit_measure(op, torch.rand(2, 17, dtype=F64), lam=0.7, seed=g)
    v = ob.erm_target(y, op, 0.7)
    z = randn(2, 4, 3, generator=g, dtype=F64, device="cpu")
    L = ob.erm_objective(v, G)(z)
    Gz = G(z)
    direct = (Gz * Gz).sum(-1) - 2 * 0.7 / 9 * (y.unsqueeze(1) * op(Gz)).sum(-1)
    shifted = ((Gz - v.unsqueeze(1)) ** 2).sum(-1) - (v * v).sum(-1, keepdim=True)
    assert torch.allclose(L, direct, atol=1e-12)
    assert torch.allclose(L, shifted, atol=1e-12)


def test_erm_gradient_matches_local_linear_map():
    # grad L(z) = 2 Lambda_z^T (G(z) - v), with Lambda_z the local linear map (Hand & Voroninski 2018)
    g = make_generator(4)
    G = ReLUGenerator.random([4, 20, 30], batch=3, seed=g, gain=2.0, dtype=F64, device="cpu")
    v = randn(3, 30, generator=g, dtype=F64, device="cpu")
    z = randn(3, 5, 4, generator=g, dtype=F64, device="cpu").requires_grad_(True)
    (grad,) = torch.autograd.grad(ob.erm_objective(v, G)(z).sum(), z)
    with torch.no_grad():
        lam_z = G.local_linear_map(z)  # (3, 5, 30, 4)
        want = 2 * torch.einsum("brnk,brn->brk", lam_z, G(z) - v.unsqueeze(1))
    assert torch.allclose(grad, want, atol=1e-12)


# --------------------------------------------------------------------------- binary embedding
def test_hamming_distance_estimates_angle():
    # P(sign<a,x> != sign<a,x'>) = angle/pi for Gaussian a
    g = make_generator(0)
    X = randn(2, 30, 8, generator=g, dtype=F64, device="cpu")
    Xp = X + 0.8 * randn(2, 30, 8, generator=g, dtype=F64, device="cpu")
    m = 20_000
    dH = ob.sign_distances(X, Xp, [m // 4, m], seed=g)
    dS = ob.angular_distance(X, Xp)
    se = torch.sqrt(dS * (1 - dS) / m).clamp_min(1e-12)
    assert torch.all((dH[1] - dS).abs() < 4.5 * se)
    assert dH.shape == (2, 2, 30)


# --------------------------------------------------------------------------- operators and shapes
def test_shared_matrix_operator_matches_copies_and_passes_dot_test():
    g = make_generator(0)
    A = randn(3, 7, 5, generator=g, dtype=F64, device="cpu")
    op = ob.SharedMatrixOperator(A, 4)
    ref = GaussianOperator(A.repeat_interleave(4, dim=0))
    x = randn(12, 2, 5, generator=g, dtype=F64, device="cpu")
    y = randn(12, 2, 7, generator=g, dtype=F64, device="cpu")
    assert torch.allclose(op(x), ref(x), atol=1e-13)
    assert torch.allclose(op.adjoint(y), ref.adjoint(y), atol=1e-13)
    assert torch.allclose((op(x) * y).sum(), (x * op.adjoint(y)).sum(), atol=1e-12)


def test_streamed_targets_shapes_and_nesting():
    x = torch.ones(2, 3, 6, dtype=F64)
    v = ob.streamed_targets(x, [5, 11], lam=torch.tensor([1.0, 2.0, 3.0]), seed=0, chunk=4)
    assert v.shape == (2, 2, 3, 6)
    # without dither and noise, lam y a is exactly lam sign(<a, x>) a: scaling lam scales v
    w = ob.streamed_targets(x, [5, 11], lam=torch.tensor([1.0, 2.0, 3.0]), dither=False, seed=0, chunk=4)
    assert torch.allclose(w[..., 1, :], 2 * w[..., 0, :]) and torch.allclose(w[..., 2, :], 3 * w[..., 0, :])


# --------------------------------------------------------------------------- Laplace rows
def test_laplace_rows_are_isotropic_with_unit_variance_and_laplace_kurtosis():
    A = ob.measurement_rows(4000, 6, kind="laplace", batch=5, seed=0, dtype=F64, device="cpu")
    N = 5 * 4000
    gram = torch.einsum("bmi,bmj->ij", A, A) / N
    # sd of a diagonal entry sqrt((E a^4 - 1)/N) = sqrt(5/N), of an off-diagonal one sqrt(1/N)
    tol = torch.where(torch.eye(6, dtype=torch.bool), 4.5 * math.sqrt(5 / N), 4.5 * math.sqrt(1 / N))
    assert ((gram - torch.eye(6, dtype=F64)).abs() < tol).all()
    a = A.flatten()
    kurt = float((a**4).mean() / (a**2).mean() ** 2)
    assert kurt == pytest.approx(6.0, rel=0.08)  # Laplace: excess kurtosis 3
    g = ob.measurement_rows(4000, 6, batch=5, seed=0, dtype=F64, device="cpu")
    assert torch.equal(g, ob.gaussian_rows(4000, 6, batch=5, seed=0, dtype=F64, device="cpu").A)


def test_laplace_row_targets_are_unbiased_when_clipping_is_rare():
    """E[lam y a] = E[a clip(<a, x>)] = x + O(clipping) for any isotropic rows: here lam = 6 ||x||."""
    x = torch.tensor([[0.6, -0.8, 0.0]], dtype=F64).expand(400, 3).contiguous()
    v = ob.streamed_targets(x, [400], lam=6.0, rows="laplace", seed=1)[0]  # (400, 3)
    mean, se = v.mean(0), v.std(0) / math.sqrt(400)
    assert torch.all((mean - x[0]).abs() < 4.5 * se)


# --------------------------------------------------------------------------- the optimal dither level
@pytest.mark.parametrize("m,k,noise,scale", [(2000, 5, "gaussian", 0.1), (500, 10, "none", 0.0), (10_000, 2, "gaussian", 1.0)])
def test_optimal_lambda_is_the_grid_minimum_of_the_exact_error(m, k, noise, scale):
    lam = ob.optimal_lambda(m, k=k, noise=noise, noise_scale=scale)
    grid = np.geomspace(lam / 3, lam * 3, 2001)
    mse = np.array([float(ob.linear_mse(m, k=k, lam=float(v), noise=noise, noise_scale=scale)) for v in grid])
    assert grid[np.argmin(mse)] == pytest.approx(lam, rel=2e-3)
    # the optimum balances bias and variance: it grows with m (less variance to pay for a wider dither)
    assert ob.optimal_lambda(4 * m, k=k, noise=noise, noise_scale=scale) > lam


def test_optimal_lambda_refuses_bad_bounds():
    with pytest.raises(ValueError, match="bounds"):
        ob.optimal_lambda(100, k=2, bounds=(2.0, 1.0))
    with pytest.raises(ValueError, match="bounds"):
        ob.optimal_lambda(100, k=2, bounds=(-1.0, 1.0))


# --------------------------------------------------------------------------- binary iterative hard thresholding
def _biht_problem(k=3, n=40, m=400, B=4, seed=0, relu=True):
    g = make_generator(seed)
    if relu:
        G = ReLUGenerator.random([k, 30, n], batch=B, seed=g, gain=2.0, dtype=F64, device="cpu")
    else:
        G = LinearGenerator.random(n, k, batch=B, seed=g, dtype=F64, device="cpu")
    z = randn(B, k, generator=g, dtype=F64, device="cpu")
    x = G(z.unsqueeze(1)).squeeze(1)
    z, x = z / x.norm(dim=-1, keepdim=True), x / x.norm(dim=-1, keepdim=True)
    rows = ob.measurement_rows(m, n, batch=B, seed=g, dtype=F64, device="cpu")
    y = ob.quantize(torch.bmm(rows, x.unsqueeze(-1)).squeeze(-1), lam=1.0, dither=False)
    return G, z, x, rows, y


def test_the_signal_is_a_fixed_point_of_biht():
    """y = sign(A x): at x the correction A^T (y - sign(Ax)) vanishes and x is its own projection."""
    G, z, x, rows, y = _biht_problem()
    res = ob.biht_recover(y, rows, G, z.unsqueeze(1), steps=3, project_steps=5)
    assert torch.allclose(res.x.squeeze(1), x, atol=1e-12)
    assert int(res.mismatches.sum()) == 0


def test_biht_reaches_consistent_points_whose_error_shrinks_like_one_over_m():
    """A consistent point lies in the cell of the hyperplane arrangement that holds x; for k = 2 (a circle of
    directions cut at 2m uniform points) that cell has mean length 2 pi/m, so the mean error at m = 600 is about a
    quarter of that at m = 150, and far below the start's."""
    B = 40
    G, z, x, rows, y = _biht_problem(relu=False, k=2, m=600, B=B, seed=3)
    z0 = z.unsqueeze(1).repeat(1, 2, 1) + 0.3 * randn(B, 2, 2, generator=make_generator(9), dtype=F64, device="cpu")
    res = ob.biht_recover(y, rows, G, z0, m_values=[150, 600], steps=40, project_steps=20)
    start = (G(z0) / G(z0).norm(dim=-1, keepdim=True) - x.unsqueeze(1)).norm(dim=-1)
    err = (res.x - x.unsqueeze(1)).norm(dim=-1)
    assert (res.mismatches == 0).float().mean() >= 0.9
    assert err.mean() < 0.2 * start.mean()
    assert err[:, 1].mean() < 0.5 * err[:, 0].mean()
    assert err[:, 1].mean() < 2 * math.pi / 600
    torch.testing.assert_close(res.x.norm(dim=-1), torch.ones(B, 2, dtype=F64))


def test_biht_refuses_bad_shapes_naming_the_argument():
    G, z, x, rows, y = _biht_problem()
    with pytest.raises(ValueError, match="rows"):
        ob.biht_recover(y, rows[:, :10], G, z.unsqueeze(1))
    with pytest.raises(ValueError, match="z0"):
        ob.biht_recover(y, rows, G, z)
    with pytest.raises(ValueError, match="m_values"):
        ob.biht_recover(y, rows, G, z.unsqueeze(1).repeat(1, 2, 1), m_values=[100, 10_000])
    with pytest.raises(ValueError, match="y"):
        ob.biht_recover(0.5 * y, rows, G, z.unsqueeze(1))
    with pytest.raises(ValueError, match="step"):
        ob.biht_recover(y, rows, G, z.unsqueeze(1), step=0.0)


# --------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("lam", [0.0, -1.0, float("nan")])
def test_nonpositive_lam_raises(lam):
    op = ob.gaussian_rows(4, 3, seed=0, dtype=F64, device="cpu")
    x = torch.ones(1, 3, dtype=F64)
    y = torch.ones(1, 4, dtype=F64)
    for call in (
        lambda: ob.one_bit_measure(op, x, lam=lam),
        lambda: ob.quantize(x, lam=lam),
        lambda: ob.erm_target(y, op, lam),
        lambda: ob.streamed_targets(x, [4], lam=lam),
        lambda: ob.dither_mean(0.3, lam),
        lambda: ob.dither_monte_carlo(torch.zeros(2), lam, samples=10),
        lambda: ob.linear_mse(10, k=2, lam=lam),
    ):
        with pytest.raises(ValueError, match="lam"):
            call()


def test_lam_tensor_with_a_nonpositive_entry_raises():
    with pytest.raises(ValueError, match="lam"):
        ob.streamed_targets(torch.ones(1, 2, 3), [4], lam=torch.tensor([1.0, 0.0]))


@pytest.mark.parametrize("bad", [[0.0, 1.0, 1.0], [1.0, -1.0, 0.5], [2.0, 1.0, -1.0]])
def test_labels_outside_plus_minus_one_raise(bad):
    op = ob.gaussian_rows(3, 2, seed=0, dtype=F64, device="cpu")
    G = LinearGenerator.random(2, 1, dtype=F64, device="cpu")
    y = torch.tensor([bad], dtype=F64)
    with pytest.raises(ValueError, match=r"y \(one-bit labels\)"):
        ob.erm_target(y, op, 1.0)
    with pytest.raises(ValueError, match=r"y \(one-bit labels\)"):
        ob.one_bit_recover(y, op, G, lam=1.0)


def test_other_bad_inputs_name_the_parameter():
    x = torch.ones(1, 3)
    with pytest.raises(ValueError, match="noise"):
        ob.streamed_targets(x, [4], lam=1.0, noise="cauchy")
    with pytest.raises(ValueError, match="rows"):
        ob.streamed_targets(x, [4], lam=1.0, rows="student")
    with pytest.raises(ValueError, match="kind"):
        ob.measurement_rows(4, 3, kind="cauchy")
    with pytest.raises(ValueError, match="flip_prob"):
        ob.streamed_targets(x, [4], lam=1.0, flip_prob=1.5)
    with pytest.raises(ValueError, match="noise_scale"):
        ob.streamed_targets(x, [4], lam=1.0, noise="gaussian", noise_scale=-0.1)
    with pytest.raises(ValueError, match="m_values"):
        ob.streamed_targets(x, [8, 4], lam=1.0)
    with pytest.raises(ValueError, match="df"):
        ob.sample_noise((3,), kind="student", df=0)
    with pytest.raises(ValueError, match="samples"):
        ob.dither_monte_carlo(torch.zeros(2), 1.0, samples=0)
    with pytest.raises(TypeError, match="y"):
        ob.check_labels([1, -1])
    G = ReLUGenerator.random([2, 5, 7], dtype=F64, device="cpu")
    with pytest.raises(ValueError, match="generator outputs"):
        ob.erm_recover(torch.ones(1, 6, dtype=F64), G)
    with pytest.raises(ValueError, match="restarts"):
        ob.erm_recover(torch.ones(1, 7, dtype=F64), G, restarts=0)
