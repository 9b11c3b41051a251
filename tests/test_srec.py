"""S-REC: exact constants against independent computations, the bracket lower <= exact <= adversarial, Gordon's bound.

Bora, Jalal, Price & Dimakis (2017), Def. 1: gamma(A, G) = min ||A(G(z1) - G(z2))|| / ||G(z1) - G(z2)||.
"""

import itertools
import math

import numpy as np
import pytest
import scipy.optimize as so
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import ilib
from ilib import srec

F64 = dict(dtype=torch.float64, device="cpu")


def _relu_k2(B, n, m, seed):
    G = ilib.ReLUGenerator.random([2, n], batch=B, seed=seed, **F64)
    A = ilib.GaussianOperator.random(m, n, batch=B, seed=seed + 1, **F64)
    return A, G


def _ratio_of_latents(A, G, z1, z2):
    x1, x2 = G(z1.unsqueeze(1)).squeeze(1), G(z2.unsqueeze(1)).squeeze(1)
    return srec.srec_ratio(A, x1, x2)


# ----------------------------------------------------------------------------------------- linear generator
@pytest.mark.parametrize("n,k,m", [(20, 1, 3), (30, 3, 10), (40, 5, 5), (25, 4, 60)])
def test_linear_gamma_is_the_smallest_singular_value_of_AU(n, k, m):
    A = ilib.GaussianOperator.random(m, n, batch=4, seed=1, **F64)
    G = ilib.LinearGenerator.random(n, k, batch=4, seed=2, **F64)
    ref = torch.linalg.svdvals(A.A @ G.U)[:, -1] if m >= k else torch.zeros(4, dtype=torch.float64)
    torch.testing.assert_close(srec.linear_gamma(A, G), ref, atol=1e-6, rtol=0)


def test_linear_gamma_with_a_non_orthonormal_basis_is_the_minimum_over_its_range():
    """For G(z) = Uz with any full-rank U, gamma = min_c ||AUc|| / ||Uc|| = sigma_min(A Q), Q = orth(U)."""
    A = ilib.GaussianOperator.random(12, 30, batch=3, seed=3, **F64)
    U = ilib.randn(3, 30, 4, generator=ilib.make_generator(4), **F64)
    Q = torch.linalg.qr(U).Q
    ref = torch.linalg.svdvals(A.A @ Q)[:, -1]
    torch.testing.assert_close(srec.linear_gamma(A, ilib.LinearGenerator(U)), ref, atol=1e-10, rtol=0)


@pytest.mark.parametrize("k,m", [(2, 6), (4, 12)])
def test_adversarial_search_reaches_the_linear_gamma_and_never_goes_below(k, m):
    A = ilib.GaussianOperator.random(m, 40, batch=6, seed=5, **F64)
    G = ilib.LinearGenerator.random(40, k, batch=6, seed=6, **F64)
    exact = srec.linear_gamma(A, G)
    adv = srec.adversarial_gamma(A, G, restarts=6, steps=300, lr=0.05, seed=7)
    assert (adv.gamma >= exact - 1e-12).all()
    torch.testing.assert_close(adv.gamma, exact, atol=1e-4, rtol=0)


def test_gordon_davidson_szarek_mean_smallest_singular_value():
    """E sigma_min(AU) >= (a_m - a_k)/sqrt(m) for A with N(0, 1/m) entries (Gordon 1988)."""
    ms = [6, 12, 24, 48]
    G = ilib.LinearGenerator.random(60, 3, batch=200, seed=0, **F64)
    exact = np.stack([srec.linear_gamma(op, G).numpy() for op in srec.nested_operators(60, ms, batch=200, seed=1, **F64)])
    bound = srec.gordon_bound(srec.linear_width(3), ms)
    mean, se = exact.mean(axis=1), exact.std(axis=1, ddof=1) / math.sqrt(200)
    assert (mean + 3 * se >= bound).all()
    assert (bound > 0.3).all()  # not vacuous at m >= 2k


# ----------------------------------------------------------------------------------------- one-layer ReLU, k = 2
@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("n,m", [(6, 3), (12, 5), (20, 10), (30, 40)])
def test_relu_k2_bracket_lower_exact_adversarial(seed, n, m):
    """certified span bound <= exact face enumeration <= adversarial estimate, and the exact value is attained."""
    A, G = _relu_k2(4, n, m, 100 * seed + n)
    ex = srec.relu_k2_gamma(A, G)
    adv = srec.adversarial_gamma(A, G, restarts=12, steps=60, lr=0.1, seed=seed)
    assert (ex.lower <= ex.gamma + 1e-9).all()
    assert (ex.gamma <= adv.gamma + 1e-9).all()
    torch.testing.assert_close(_ratio_of_latents(A, G, ex.z1, ex.z2), ex.gamma, atol=1e-9, rtol=0)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10**6), n=st.integers(2, 16), m=st.integers(1, 20))
def test_every_pair_of_range_points_has_ratio_at_least_the_exact_gamma(seed, n, m):
    """S-REC as a statement for all pairs: ||A(x1 - x2)|| >= gamma ||x1 - x2||."""
    A, G = _relu_k2(2, n, m, seed)
    ex = srec.relu_k2_gamma(A, G)
    z = ilib.randn(2, 400, 2, 2, generator=ilib.make_generator(seed + 7), **F64)
    z[:, :100, 1] = 0.0  # pairs with the origin
    z[:, 100:200, 1] = z[:, 100:200, 0] + 1e-3 * z[:, 100:200, 1]  # nearby pairs
    x = G(z)
    r = srec.srec_ratio(A, x[:, :, 0], x[:, :, 1])
    assert (r >= ex.gamma[:, None] - 1e-9).all()


def _simplex_grid(parts):
    pts = [(a, b, c, parts - a - b - c) for a in range(parts + 1) for b in range(parts + 1 - a) for c in range(parts + 1 - a - b)]
    return np.array(pts, dtype=float) / parts


@pytest.mark.parametrize("seed", [11, 12, 13, 14, 15])
def test_relu_k2_exact_matches_an_independent_search_over_every_difference_cone(seed):
    """min over sector pairs (s, t) and c in the simplex of R(c) = ||A E c||^2 / ||E c||^2, E = [e_s, e_s+1, -e_t, -e_t+1].

    A grid on the simplex followed by L-BFGS-B with bounds c >= 0 (no face enumeration) finds the same minimum.
    """
    n, m = 6, 4
    A, G = _relu_k2(1, n, m, seed)
    ex = srec.relu_k2_gamma(A, G)
    W = G.weights[0][0].numpy()
    phi = np.arctan2(W[:, 1], W[:, 0])
    th = np.sort(np.mod(np.concatenate([phi + np.pi / 2, phi - np.pi / 2]), 2 * np.pi))
    rays = np.stack([np.cos(th), np.sin(th)], 1)
    E = np.maximum(rays @ W.T, 0)  # G on the rays, (S, n)
    S, Am = len(th), A.A[0].numpy()
    grid = _simplex_grid(24)
    AtA = Am.T @ Am

    def R(c, Ep):
        v = c @ Ep
        return float(v @ AtA @ v) / max(float(v @ v), 1e-300)

    cands = []
    for s, t in itertools.product(range(S), repeat=2):
        Ep = np.stack([E[s], E[(s + 1) % S], -E[t], -E[(t + 1) % S]])
        V = grid @ Ep
        nv = (V * V).sum(1)
        ok = nv > 1e-12 * (np.abs(grid) @ np.abs(Ep)).max() ** 2
        r = np.where(ok, ((V @ AtA) * V).sum(1) / np.where(ok, nv, 1.0), np.inf)
        j = int(np.argmin(r))
        cands.append((r[j], grid[j], Ep))
    cands.sort(key=lambda x: x[0])
    best = min(cands[0][0], min(
        so.minimize(R, c0 + 1e-3, args=(Ep,), method="L-BFGS-B", bounds=[(0, None)] * 4, options={"ftol": 1e-15, "gtol": 1e-12}).fun
        for _, c0, Ep in cands[:12]
    ))
    assert math.sqrt(max(best, 0.0)) >= ex.gamma.item() - 1e-9
    assert abs(math.sqrt(max(best, 0.0)) - ex.gamma.item()) < 1e-7


@pytest.mark.parametrize("seed", range(4))
def test_relu_k2_minimiser_meets_the_kkt_conditions_of_its_cone(seed):
    """At the minimiser c* >= 0 of R(c) = c'Mc / c'Nc over the worst difference cone: grad R >= 0, = 0 where c* > 0.

    The gradient comes from autograd; the coefficients from the attaining latents.
    """
    A, G = _relu_k2(3, 10, 6, 1000 + seed)
    ex = srec.relu_k2_gamma(A, G)
    rays = srec.relu_k2_rays(G)
    S = rays.shape[1]
    for b in range(3):
        s, t = ex.sectors[b].tolist()
        Gb = G.select(b)
        E = Gb(rays[b : b + 1, [s, (s + 1) % S, t, (t + 1) % S]]).squeeze(0)  # (4, n)
        x1 = Gb(ex.z1[b : b + 1].unsqueeze(1)).reshape(-1)
        x2 = Gb(ex.z2[b : b + 1].unsqueeze(1)).reshape(-1)
        c1 = so.nnls(E[:2].T.numpy(), x1.numpy())[0]
        c2 = so.nnls(E[2:].T.numpy(), x2.numpy())[0]
        Es = E * torch.tensor([1.0, 1.0, -1.0, -1.0], dtype=torch.float64)[:, None]
        c0 = torch.tensor(np.concatenate([c1, c2]))
        c = (c0 / (c0 @ Es).norm()).requires_grad_(True)  # R is scale-invariant: normalise ||v|| = 1
        v = c @ Es
        R = A.A[b].matmul(v).square().sum() / v.square().sum()
        assert abs(R.item() - ex.gamma[b].item() ** 2) < 1e-9
        (grad,) = torch.autograd.grad(R, c)
        assert (grad >= -1e-6).all()
        active = c.detach() > 1e-8 * c.detach().max()
        assert (grad[active].abs() < 1e-6).all()


def test_relu_k2_width_matches_nnls_projections():
    """sup over the difference set of <g, v> = max over (ordered) sector pairs of ||proj onto cone(g)||, by NNLS."""
    G = ilib.ReLUGenerator.random([2, 8], batch=2, seed=3, **F64)
    w, _ = srec.relu_k2_width(G, samples=6, seed=9)
    g_all = ilib.randn(2, 6, 8, generator=ilib.make_generator(9), **F64).numpy()
    E = G(srec.relu_k2_rays(G)).numpy()
    S = E.shape[1]
    for b in range(2):
        vals = []
        for g in g_all[b]:
            best = 0.0
            for s, t in itertools.product(range(S), repeat=2):
                Em = np.stack([E[b, s], E[b, (s + 1) % S], -E[b, t], -E[b, (t + 1) % S]], 1)
                c = so.nnls(Em, g)[0]
                best = max(best, float(np.linalg.norm(Em @ c)))
            vals.append(best)
        assert abs(np.mean(vals) - float(w[b])) < 1e-8


# ----------------------------------------------------------------------------------------- the adversarial estimator
def test_adversarial_batch_equals_one_instance_at_a_time():
    """Rows are independent problems: the batched search gives each instance what it would get alone."""
    A, G = _relu_k2(3, 15, 8, 21)
    z0, _ = srec.starting_pairs(3, 2, 6, seed=4, **F64)
    full = srec.adversarial_gamma(A, G, z0=z0, steps=40, lr=0.1)
    for b in range(3):
        one = srec.adversarial_gamma(A.select(b), G.select(b), z0=z0[b : b + 1], steps=40, lr=0.1)
        torch.testing.assert_close(one.gamma, full.gamma[b : b + 1], atol=1e-10, rtol=1e-10)


def test_adversarial_value_is_the_ratio_of_the_returned_pair_and_starts_cover_three_families():
    G = ilib.ReLUGenerator.random([3, 20, 30], batch=2, seed=1, **F64)
    A = ilib.GaussianOperator.random(12, 30, batch=2, seed=2, **F64)
    res = srec.adversarial_gamma(A, G, restarts=9, steps=30, seed=0)
    torch.testing.assert_close(_ratio_of_latents(A, G, res.z1, res.z2), res.gamma, atol=1e-12, rtol=1e-10)
    assert set(res.best_by_kind()) == set(srec.START_KINDS)
    assert (res.gamma <= res.start_gamma.min(dim=1).values + 1e-15).all()


def test_radius_and_delta_form_of_the_lemma():
    """With ||z|| <= r the returned pair stays in the ball, and gamma_delta >= exact gamma_0."""
    A, G = _relu_k2(3, 12, 6, 31)
    ex = srec.relu_k2_gamma(A, G)
    res = srec.adversarial_gamma(A, G, restarts=9, steps=50, radius=2.0, delta=0.05, seed=1)
    assert (res.z1.norm(dim=-1) <= 2.0 + 1e-9).all() and (res.z2.norm(dim=-1) <= 2.0 + 1e-9).all()
    assert (res.gamma >= ex.gamma).all()
    x1, x2 = G(res.z1.unsqueeze(1)).squeeze(1), G(res.z2.unsqueeze(1)).squeeze(1)
    torch.testing.assert_close(srec.srec_ratio(A, x1, x2, delta=0.05), res.gamma, atol=1e-12, rtol=1e-10)


def test_region_pair_bound_is_below_the_ratio_and_exact_for_a_linear_generator():
    G = ilib.ReLUGenerator.random([3, 25, 40], batch=4, seed=5, **F64)
    A = ilib.GaussianOperator.random(14, 40, batch=4, seed=6, **F64)
    res = srec.adversarial_gamma(A, G, restarts=6, steps=40, seed=2)
    assert (srec.region_pair_bound(A, G, res.z1, res.z2) <= res.gamma + 1e-10).all()
    L = ilib.LinearGenerator.random(40, 3, batch=4, seed=7, **F64)
    z = ilib.randn(4, 3, generator=ilib.make_generator(8), **F64)
    torch.testing.assert_close(srec.region_pair_bound(A, L, z, -z), srec.linear_gamma(A, L), atol=1e-10, rtol=0)


# ----------------------------------------------------------------------------------------- sparse vectors
@pytest.mark.parametrize("n,s,m", [(8, 2, 4), (10, 3, 6), (9, 4, 12)])
def test_sparse_exact_is_the_smallest_singular_value_over_supports(n, s, m):
    A = ilib.GaussianOperator.random(m, n, batch=2, seed=n + s, **F64)
    gamma, T = srec.sparse_gamma_exact(A, s)
    for b in range(2):
        Ab = A.A[b].numpy()
        ref = min(np.linalg.svd(Ab[:, list(c)], compute_uv=False)[-1] if m >= s else 0.0
                  for c in itertools.combinations(range(n), s))
        assert abs(gamma[b].item() - ref) < 1e-9
        sv = np.linalg.svd(Ab[:, T[b].numpy()], compute_uv=False)
        assert abs((sv[-1] if m >= s else 0.0) - gamma[b].item()) < 1e-9


def test_sparse_gamma_with_full_support_is_sigma_min_and_adversarial_is_an_upper_bound():
    A = ilib.GaussianOperator.random(20, 8, batch=3, seed=2, **F64)
    torch.testing.assert_close(srec.sparse_gamma_exact(A, 8)[0], torch.linalg.svdvals(A.A)[:, -1], atol=1e-10, rtol=0)
    A = ilib.GaussianOperator.random(10, 14, batch=4, seed=3, **F64)
    exact = srec.sparse_gamma_exact(A, 4)[0]
    adv = srec.sparse_gamma_adversarial(A, 4, restarts=40, steps=30, seed=1)[0]
    assert (adv >= exact - 1e-12).all()
    assert (adv <= exact + 0.1).all()


# ----------------------------------------------------------------------------------------- Gordon's bound
def test_gaussian_mean_norm_known_values():
    assert abs(srec.gaussian_mean_norm(1) - math.sqrt(2 / math.pi)) < 1e-14
    assert abs(srec.gaussian_mean_norm(2) - math.sqrt(math.pi / 2)) < 1e-14
    assert abs(srec.gaussian_mean_norm(400) - math.sqrt(399.5)) < 1e-4
    np.testing.assert_allclose(srec.gordon_bound(srec.linear_width(4), [4]), [0.0], atol=1e-15)


@pytest.mark.parametrize("n,s", [(1, 1), (5, 5), (30, 1)])
def test_sparse_width_known_cases(n, s):
    w, se = srec.sparse_width(n, s, samples=40_000, seed=1)
    if s == n:
        ref = srec.gaussian_mean_norm(n)
    else:  # E max_i |g_i| by numerical integration of 1 - (2 Phi(x) - 1)^n
        from scipy import integrate, stats

        ref = integrate.quad(lambda x: 1 - (2 * stats.norm.cdf(x) - 1) ** n, 0, np.inf)[0]
    assert abs(w - ref) < 4 * se


# ----------------------------------------------------------------------------------------- bad input
def test_bad_input_fails_fast_naming_the_parameter():
    A, G = _relu_k2(2, 10, 5, 0)
    with pytest.raises(ValueError, match="m"):
        ilib.GaussianOperator.random(0, 10)
    with pytest.raises(ValueError, match=r"m_values|m >= 1"):
        srec.nested_operators(10, [0, 4])
    with pytest.raises(ValueError, match=r"m_values\[0\] must be an integer >= 1"):
        srec.nested_operators(10, [0], stacked=True)
    wrong = ilib.GaussianOperator.random(5, 11, batch=2, seed=0, **F64)
    for fn in (srec.relu_k2_gamma, srec.adversarial_gamma):
        with pytest.raises(ValueError, match="shape mismatch"):
            fn(wrong, G)
    with pytest.raises(ValueError, match="batch"):
        srec.adversarial_gamma(ilib.GaussianOperator.random(5, 10, batch=3, seed=0, **F64), G)
    with pytest.raises(ValueError, match="z0"):
        srec.adversarial_gamma(A, G, z0=torch.zeros(2, 4, 2, 3, dtype=torch.float64))
    with pytest.raises(ValueError, match="delta"):
        srec.adversarial_gamma(A, G, delta=-1.0)
    with pytest.raises(ValueError, match="radius"):
        srec.adversarial_gamma(A, G, radius=0.0)
    with pytest.raises(ValueError, match="restarts"):
        srec.adversarial_gamma(A, G, restarts=0)
    with pytest.raises(ValueError, match="k = 2"):
        srec.relu_k2_gamma(A, ilib.ReLUGenerator.random([3, 10], batch=2, seed=0, **F64))
    with pytest.raises(ValueError, match="s"):
        srec.sparse_gamma_exact(A, 11)
    with pytest.raises(ValueError, match="dtype"):
        srec.adversarial_gamma(ilib.GaussianOperator.random(5, 10, batch=2, seed=0, dtype=torch.float32, device="cpu"), G)


def test_effective_dimension_of_an_exact_gordon_curve():
    ms = [4, 8, 16, 32, 64, 128]
    for k_eff in (0.5, 3.0, 12.0):
        g = np.maximum(1 - np.sqrt(k_eff / np.array(ms, dtype=float)), 0.0)
        assert abs(srec.fit_effective_dimension(ms, g, min_gamma=0.05) - k_eff) < 1e-10


def test_polishing_and_screening_never_make_the_bound_worse():
    """The polish phase starts from each restart's best pair and keeps the best it meets; screening keeps the best starts."""
    A, G = _relu_k2(4, 20, 9, 41)
    z0, _ = srec.starting_pairs(4, 2, 8, seed=5, **F64)
    plain = srec.adversarial_gamma(A, G, z0=z0, steps=40, lr=0.1)
    polished = srec.adversarial_gamma(A, G, z0=z0, steps=40, lr=0.1, polish_steps=20)
    assert (polished.start_gamma <= plain.start_gamma + 1e-15).all()
    ex = srec.relu_k2_gamma(A, G)
    screened = srec.adversarial_gamma(A, G, restarts=4, pool=64, screen_steps=5, steps=40, lr=0.1, seed=5)
    assert screened.start_gamma.shape == (4, 4) and (screened.gamma >= ex.gamma - 1e-12).all()


# ----------------------------------------------------------------------------------------- region jumps
def test_region_jumps_never_increase_the_ratio_and_return_actual_pairs():
    A, G = _relu_k2(4, 20, 9, 7)
    z0, _ = srec.starting_pairs(4, 2, 16, seed=3, **F64)
    x0 = z0.reshape(4, 16, 4)
    ratio = srec._pair_objective(A, G, 2, 0.0, 1e-7)
    before = ratio(x0)[0]
    x = srec.region_jumps(A, G, x0, iters=3, seed=1)
    after, ok = ratio(x)
    assert ok.all() and (after <= before + 1e-12).all()
    ex = srec.relu_k2_gamma(A, G)
    assert (after.min(dim=1).values >= ex.gamma - 1e-9).all()  # still an upper bound


def test_one_region_jump_is_exact_on_a_linear_generator():
    """For G(z) = Uz the region is all of R^k and the jump lands on sigma_min(AU), even at m = k where gamma is near 0."""
    for m in (4, 9):
        A = ilib.GaussianOperator.random(m, 30, batch=5, seed=m, **F64)
        G = ilib.LinearGenerator.random(30, 4, batch=5, seed=m + 1, **F64)
        z0, _ = srec.starting_pairs(5, 4, 2, seed=2, **F64)
        x = srec.region_jumps(A, G, z0.reshape(5, 2, 8), iters=1, perturbations=1)
        r = srec._pair_objective(A, G, 4, 0.0, 1e-7)(x)[0].min(dim=1).values
        torch.testing.assert_close(r, srec.linear_gamma(A, G), atol=1e-12, rtol=0)


def test_region_jumps_in_chunks_equal_one_pass_when_unperturbed():
    A, G = _relu_k2(3, 12, 6, 11)
    x0 = srec.starting_pairs(3, 2, 10, seed=4, **F64)[0].reshape(3, 10, 4)
    whole = srec.region_jumps(A, G, x0, iters=2, perturbations=1)
    parts = srec.region_jumps(A, G, x0, iters=2, perturbations=1, max_elements=3 * 12 * 4 * 3)  # chunks of 3 starts
    torch.testing.assert_close(whole, parts, atol=1e-12, rtol=0)  # batched products may round differently


def test_jumps_make_the_search_meet_the_exact_k2_value_more_often():
    A, G = _relu_k2(12, 30, 12, 21)
    ex = srec.relu_k2_gamma(A, G).gamma
    kw = dict(restarts=8, pool=64, steps=60, lr=0.1, screen_steps=5, seed=ilib.stream(0, "jumps"))
    plain = srec.adversarial_gamma(A, G, **kw).gamma
    jumped = srec.adversarial_gamma(A, G, jumps=4, **kw).gamma
    assert (jumped >= ex - 1e-9).all()
    assert ((jumped - ex) <= 1e-3).sum() >= ((plain - ex) <= 1e-3).sum()


# ----------------------------------------------------------------------------------------- stacked operators
def test_stacked_nested_operators_are_the_nested_ones_padded_with_zero_rows():
    ms = [2, 5, 7]
    ops = srec.nested_operators(9, ms, batch=3, seed=4, **F64)
    st_ = srec.nested_operators(9, ms, batch=3, seed=4, stacked=True, **F64)
    assert st_.A.shape == (9, 7, 9)
    for j, (m, op) in enumerate(zip(ms, ops)):
        block = st_.A[3 * j:3 * (j + 1)]
        torch.testing.assert_close(block[:, :m], op.A, atol=1e-15, rtol=0)
        assert (block[:, m:] == 0).all()


# ----------------------------------------------------------------------------------------- exact least squares over a k = 2 range
@pytest.mark.parametrize("seed", range(4))
def test_relu_k2_least_squares_is_the_minimum_over_the_range(seed):
    """Against a fine scan of the range: every ray t G(u), u on the circle, with the optimal t >= 0 (the range is a cone)."""
    A, G = _relu_k2(3, 10, 6, seed)
    y = torch.randn(3, 6, generator=ilib.make_generator(seed + 9), **F64)
    res, x = srec.relu_k2_least_squares(A, G, y)
    th = torch.linspace(0, 2 * math.pi, 40001, **F64)
    AE = A(G(torch.stack([th.cos(), th.sin()], -1).expand(3, -1, -1)))
    t = ((AE * y[:, None]).sum(-1) / (AE * AE).sum(-1)).clamp_min(0)
    scan = (y[:, None] - t[..., None] * AE).norm(dim=-1).min(dim=1).values
    assert (res <= scan + 1e-12).all() and (res >= scan - 1e-4).all()  # the scan resolves angles to 1.6e-4
    torch.testing.assert_close((A(x.unsqueeze(1)).squeeze(1) - y).norm(dim=-1), res)
    ident = ilib.IdentityOperator(10, **F64)
    _, xp = srec.relu_k2_least_squares(ident, G, G(torch.randn(3, 1, 2, generator=ilib.make_generator(1), **F64)).squeeze(1))
    assert srec.relu_k2_least_squares(ident, G, xp)[0].max() < 1e-12  # a range point projects onto itself


def test_lemma43_bound_known_values_and_infinite_at_gamma_zero():
    np.testing.assert_allclose(srec.lemma43_bound(0.5, 0.1, 0.2, 0.05, delta=0.01), 9 * 0.1 + (0.4 + 0.05 + 0.01) / 0.5)
    assert np.isinf(srec.lemma43_bound(0.0, 0.1, 0.1, 0.0))
    with pytest.raises(ValueError, match="^delta"):
        srec.lemma43_bound(0.5, 0.1, 0.1, 0.0, delta=-1.0)


def test_lemma43_holds_for_exact_least_squares_on_a_k2_range():
    """With the exact gamma, the exact minimiser (eps = 0) and the exact representation error, the deterministic bound holds."""
    A, G = _relu_k2(20, 12, 8, 3)
    z = torch.randn(20, 1, 2, generator=ilib.make_generator(5), **F64)
    x_star = G(z).squeeze(1) + 0.1 * torch.randn(20, 12, generator=ilib.make_generator(6), **F64)
    eta = 0.05 * torch.randn(20, 8, generator=ilib.make_generator(7), **F64)
    y = A(x_star.unsqueeze(1)).squeeze(1) + eta
    _, x_hat = srec.relu_k2_least_squares(A, G, y)
    rep, x_bar = srec.relu_k2_least_squares(ilib.IdentityOperator(12, **F64), G, x_star)
    premise = (A((x_bar - x_star).unsqueeze(1)).squeeze(1).norm(dim=-1) <= 2 * (x_bar - x_star).norm(dim=-1)).numpy()
    gamma = srec.relu_k2_gamma(A, G).gamma.numpy()
    bound = srec.lemma43_bound(gamma, rep.numpy(), eta.norm(dim=-1).numpy(), 0.0)
    err = (x_hat - x_star).norm(dim=-1).numpy()
    assert premise.sum() >= 15 and (err[premise] <= bound[premise]).all()


# ----------------------------------------------------------------------------------------- tails and counts
@pytest.mark.parametrize("m", [4, 8, 16, 32, 64])
def test_gordon_tail_bound_is_above_the_exact_tail_of_one_direction(m):
    """For T one unit vector, ||Av||^2 m ~ chi^2_m: P(||Av|| < l) = chi2.cdf(m l^2; m) must lie below the bound."""
    from scipy import stats as sst

    for level in (0.3, 0.5, 0.7):
        exact = sst.chi2.cdf(m * level**2, m)
        assert exact <= srec.gordon_tail_bound(srec.gaussian_mean_norm(1), [m], level)[0] + 1e-12


def test_union_bound_of_one_subspace_is_gordons_and_grows_with_the_count():
    ms = [8, 16, 64, 256]
    np.testing.assert_allclose(srec.union_tail_bound(0.0, 3, ms, 0.5), srec.gordon_tail_bound(srec.gaussian_mean_norm(3), ms, 0.5))
    assert (srec.union_tail_bound(5.0, 3, ms, 0.5) >= srec.union_tail_bound(1.0, 3, ms, 0.5)).all()
    assert (srec.union_tail_bound(50.0, 3, ms, 0.5) <= 1).all()


def test_region_count_bound_known_values_and_it_bounds_the_k2_sectors():
    assert srec.log_region_count([3, 2]) == pytest.approx(math.log(4))  # 2 units in R^3: at most 2^2 patterns
    assert srec.log_region_count([2, 10]) == pytest.approx(math.log(1 + 10 + 45))
    assert srec.log_region_count([2, 10, 10]) == pytest.approx(2 * math.log(56))
    assert 2 * 10 <= math.exp(srec.log_region_count([2, 10]))  # a one-layer k = 2 net has 2n sectors


@pytest.mark.parametrize("log_n,dim,level", [(0.0, 1, 0.5), (10.0, 4, 0.5), (200.0, 8, 0.3), (3.0, 2, 0.9)])
def test_union_bound_m_is_the_smallest_m_meeting_the_bound(log_n, dim, level):
    m = srec.union_bound_m(log_n, dim, level)
    assert srec.union_tail_bound(log_n, dim, [m], level)[0] <= 0.5 + 1e-12
    if m > 1:
        assert srec.union_tail_bound(log_n, dim, [m - 1], level)[0] > 0.5 - 1e-12


def test_lemma42_count_grows_with_k_depth_and_width():
    base = srec.lemma42_count([4, 128], 0.5)
    assert srec.lemma42_count([8, 128], 0.5) > base and srec.lemma42_count([4, 128, 128], 0.5) > base
    assert srec.lemma42_count([4, 1024], 0.5) > base
    log_r = srec.log_region_count([4, 128])
    assert base == srec.union_bound_m(math.log(math.exp(log_r) * (math.exp(log_r) + 1) / 2), 8, 0.5)


def test_lipschitz_count_grows_like_k_log_of_lr_over_delta():
    counts = [srec.lipschitz_count(4, 1.0, 1.0, d, 128, 0.5) for d in (1e-1, 1e-2, 1e-3, 1e-4)]
    assert all(b > a for a, b in zip(counts, counts[1:]))
    steps = np.diff(counts)
    assert steps.max() / steps.min() < 1.6  # roughly linear in log(1/delta)
    assert srec.lipschitz_count(8, 1.0, 1.0, 1e-2, 128, 0.5) > counts[1]
    assert srec.lipschitz_count(4, 10.0, 1.0, 1e-1, 128, 0.5) == srec.lipschitz_count(4, 1.0, 1.0, 1e-2, 128, 0.5)


def test_new_functions_refuse_bad_input_naming_the_parameter():
    A, G = _relu_k2(2, 10, 5, 0)
    cases = [
        (lambda: srec.region_jumps(A, G, torch.zeros(2, 3, 4, **F64), iters=-1), "iters"),
        (lambda: srec.region_jumps(A, G, torch.zeros(2, 3, 4, **F64), scale=0.0), "scale"),
        (lambda: srec.region_jumps(A, G, torch.zeros(2, 3, 5, **F64)), "x"),
        (lambda: srec.adversarial_gamma(A, G, jumps=-2), "jumps"),
        (lambda: srec.relu_k2_least_squares(A, G, torch.zeros(2, 4, **F64)), "y"),
        (lambda: srec.gordon_tail_bound(1.0, [4], 0.0), "level"),
        (lambda: srec.union_tail_bound(-1.0, 2, [4], 0.5), "log_count"),
        (lambda: srec.union_tail_bound(1.0, 0, [4], 0.5), "dim"),
        (lambda: srec.log_region_count([3]), "widths"),
        (lambda: srec.union_bound_m(1.0, 2, 1.0), "level"),
        (lambda: srec.union_bound_m(1.0, 2, 0.5, prob=0.0), "prob"),
        (lambda: srec.lemma42_count([2, 0], 0.5), "widths"),
        (lambda: srec.lipschitz_count(2, 1.0, 1.0, 0.0, 10, 0.5), "delta"),
        (lambda: srec.lipschitz_count(2, -1.0, 1.0, 0.1, 10, 0.5), "lipschitz"),
    ]
    for call, name in cases:
        with pytest.raises((ValueError, TypeError)) as info:
            call()
        assert str(info.value).startswith(name), (name, str(info.value))
