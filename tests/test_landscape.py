"""The Hand–Voroninski landscape: theory objects (ilib.angles) and their empirical counterparts (ilib.landscape).

Each test states a theorem, an identity or a known value as an assertion.
"""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from ilib import GaussianOperator, ReLUGenerator
from ilib import landscape as L
from ilib.angles import angle_map, angle_sequence, expected_gradient, rho, wdc_deviation, wdc_matrix

F64 = torch.float64
CPU = "cpu"

# ρ_d from the recursion, to six digits (theory.md §2.1, table)
RHO_TABLE = {
    1: 0.0,
    2: 0.318310,
    3: 0.493731,
    4: 0.604826,
    5: 0.680954,
    6: 0.735946,
    7: 0.777229,
    8: 0.809148,
    9: 0.834416,
    10: 0.854809,
    20: 0.944493,
    50: 0.987439,
    100: 0.996357,
}


def unit(gen, *shape):
    u = torch.randn(*shape, generator=gen, dtype=F64)
    return u / u.norm(dim=-1, keepdim=True)


# ---------------------------------------------------------------------------------------------- angle map and ρ_d
def test_rho_2_is_one_over_pi_and_rho_1_is_zero():
    assert abs(rho(2) - 1 / math.pi) < 1e-15
    assert abs(rho(1)) < 1e-15


@pytest.mark.parametrize("d, value", sorted(RHO_TABLE.items()))
def test_rho_known_values(d, value):
    assert rho(d) == pytest.approx(value, abs=5e-7)


def test_rho_increases_toward_one():
    vals = torch.tensor([rho(d) for d in range(1, 80)], dtype=F64)
    assert bool((vals[1:] > vals[:-1]).all())
    assert bool((vals < 1).all())
    assert 0.99995 < rho(1000) < 1


@pytest.mark.parametrize("d", [1, 2, 3, 4, 7, 12])
def test_rho_is_cosine_of_the_iterated_angle(d):
    # ρ_d = cos g^d(π): both obey r_{d+1} = (π - θ_d)/π r_d + sin θ_d / π with r_1 = 0
    assert rho(d) == pytest.approx(math.cos(L.negative_critical_angle(d)), abs=1e-14)


@pytest.mark.parametrize("theta, value", [(math.pi, math.pi / 2), (0.0, 0.0), (1.0, 0.881276), (0.5, 0.472316), (0.1, 0.098933)])
def test_angle_map_known_values(theta, value):
    assert float(angle_map(theta)) == pytest.approx(value, abs=5e-6)


@settings(max_examples=60, deadline=None)
@given(st.floats(min_value=1e-3, max_value=math.pi))
def test_angle_map_contracts_angles(theta):
    # a ReLU layer brings directions closer: 0 < g(θ) < θ and g(θ) ≤ π/2
    g = float(angle_map(theta))
    assert 0 < g < theta and g <= math.pi / 2 + 1e-12


# ---------------------------------------------------------------------------------------------- expected gradient h
@settings(max_examples=25, deadline=None)
@given(d=st.integers(min_value=2, max_value=8), k=st.integers(min_value=2, max_value=12), seed=st.integers(0, 10_000),
       scale=st.floats(min_value=0.1, max_value=10.0))
def test_h_vanishes_at_x0_and_at_minus_rho_x0(d, k, seed, scale):
    gen = torch.Generator().manual_seed(seed)
    x0 = scale * unit(gen, k)
    assert expected_gradient(x0, x0, d).norm() < 1e-12 * scale
    assert expected_gradient(-rho(d) * x0, x0, d).norm() < 1e-12 * scale


@pytest.mark.parametrize("d", [2, 3, 5])
def test_h_on_the_negative_ray_is_rho_minus_t(d):
    # θ̄_0 = π on the ray, so h(-t x0) = (ρ_d - t) x0 / 2^d: one zero, at t = ρ_d
    x0 = torch.tensor([0.6, -0.8, 0.0], dtype=F64)
    t = torch.linspace(0.01, 1.5, 40, dtype=F64).unsqueeze(-1)
    h = expected_gradient(-t * x0, x0, d)
    assert torch.allclose(h, (rho(d) - t) * x0 / 2**d, atol=1e-14)


@settings(max_examples=25, deadline=None)
@given(d=st.integers(1, 6), k=st.integers(2, 8), seed=st.integers(0, 10_000))
def test_h_is_the_gradient_of_the_expected_landscape(d, k, seed):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(5, k, generator=gen, dtype=F64).requires_grad_(True)
    x0 = torch.randn(5, k, generator=gen, dtype=F64)
    (grad,) = torch.autograd.grad(L.expected_loss(x, x0, d).sum(), x)
    assert torch.allclose(grad, expected_gradient(x.detach(), x0, d), atol=1e-12)


@settings(max_examples=20, deadline=None)
@given(d=st.integers(1, 6), seed=st.integers(0, 10_000), c=st.floats(0.05, 20.0))
def test_h_is_positively_homogeneous(d, seed, c):
    gen = torch.Generator().manual_seed(seed)
    x, x0 = torch.randn(2, 4, generator=gen, dtype=F64)
    assert torch.allclose(expected_gradient(c * x, c * x0, d), c * expected_gradient(x, x0, d), atol=1e-12)


def test_h_is_the_exact_mean_of_v_for_one_layer():
    # d = 1: E v_x = x/2 - Q_{x,x0} x0 = h_{x,x0} exactly, at any width (Monte Carlo over networks)
    B, k, n = 20_000, 3, 12
    G = ReLUGenerator.random([k, n], batch=B, seed=3, dtype=F64, device=CPU)
    x = torch.tensor([0.3, -1.0, 0.4], dtype=F64)
    x0 = torch.tensor([1.0, 0.5, -0.2], dtype=F64)
    v = L.empirical_gradient(G, x.expand(B, 1, k), x0.expand(B, k))[:, 0]
    se = v.std(0) / math.sqrt(B)
    h = expected_gradient(x, x0, 1)
    assert bool(((v.mean(0) - h).abs() < 5 * se).all())
    assert torch.allclose(h, x / 2 - wdc_matrix(x, x0) @ x0, atol=1e-14)


# ---------------------------------------------------------------------------------------------- Q and the WDC
@pytest.mark.parametrize("samples", [2_000, 20_000, 200_000])
@pytest.mark.parametrize("theta", [0.0, math.pi / 3, math.pi / 2, 2.5, math.pi])
def test_Q_is_the_expectation_it_defines(theta, samples):
    # Q_{x,y} = E[1{<g,x> > 0} 1{<g,y> > 0} g g^T], g ~ N(0, I_k); Monte Carlo error ~ 1/sqrt(samples)
    k = 4
    x = torch.tensor([1.0, 0.0, 0.0, 0.0], dtype=F64)
    y = torch.tensor([math.cos(theta), math.sin(theta), 0.0, 0.0], dtype=F64)
    gen = torch.Generator().manual_seed(int(samples + 1000 * theta))
    g = torch.randn(samples, k, generator=gen, dtype=F64)
    both = ((g @ x > 0) & (g @ y > 0)).to(F64)
    terms = both[:, None, None] * g[:, :, None] * g[:, None, :]
    mc = terms.mean(0)
    sd = terms.std(0).clamp_min(1e-3)
    assert bool(((mc - wdc_matrix(x, y)).abs() <= 5 * sd / math.sqrt(samples)).all())


@settings(max_examples=30, deadline=None)
@given(k=st.integers(2, 7), seed=st.integers(0, 10_000))
def test_Q_eigenvalues(k, seed):
    # eigenvalues (π-θ)/(2π) (k-2 times) and (π-θ ± sin θ)/(2π); Q_{x,x} = I/2
    gen = torch.Generator().manual_seed(seed)
    x, y = torch.randn(2, k, generator=gen, dtype=F64)
    th = torch.arccos((x @ y) / (x.norm() * y.norm()))
    expect = torch.cat([((math.pi - th) / (2 * math.pi)).repeat(k - 2),
                        ((math.pi - th + torch.sin(th)) / (2 * math.pi)).reshape(1),
                        ((math.pi - th - torch.sin(th)) / (2 * math.pi)).reshape(1)])
    assert torch.allclose(torch.linalg.eigvalsh(wdc_matrix(x, y)), expect.sort().values, atol=1e-12)
    # the angle is arccos of a dot product, accurate only to ~1e-8 near θ = 0
    assert torch.allclose(wdc_matrix(x, 3 * x), torch.eye(k, dtype=F64) / 2, atol=1e-7)


def test_wdc_deviation_matches_its_definition_on_a_small_layer():
    gen = torch.Generator().manual_seed(0)
    W = torch.randn(2, 7, 3, generator=gen, dtype=F64) / math.sqrt(7)
    x = torch.randn(2, 4, 3, generator=gen, dtype=F64)
    y = torch.randn(2, 4, 3, generator=gen, dtype=F64)
    dev = wdc_deviation(W, x, y)
    for b in range(2):
        for p in range(4):
            S = sum(float(W[b, i] @ x[b, p] > 0) * float(W[b, i] @ y[b, p] > 0) * torch.outer(W[b, i], W[b, i]) for i in range(7))
            ref = torch.linalg.matrix_norm(S - wdc_matrix(x[b, p], y[b, p]), ord=2)
            assert float(dev[b, p]) == pytest.approx(float(ref), abs=1e-13)


# ---------------------------------------------------------------------------------------------- empirical gradient v_x
@pytest.mark.parametrize("depth", [1, 2, 3])
@pytest.mark.parametrize("compressive", [False, True])
@pytest.mark.parametrize("output_relu", [True, False])
def test_closed_form_gradient_equals_autograd(depth, compressive, output_relu):
    B, k, n = 3, 4, 40
    widths = [k] + [15 * (i + 1) for i in range(depth - 1)] + [n]
    G = ReLUGenerator.random(widths, batch=B, seed=depth, output_relu=output_relu, dtype=F64, device=CPU)
    A = GaussianOperator.random(17, n, batch=B, seed=9, dtype=F64, device=CPU) if compressive else None
    gen = torch.Generator().manual_seed(depth)
    x = torch.randn(B, 6, k, generator=gen, dtype=F64).requires_grad_(True)
    x0 = torch.randn(B, k, generator=gen, dtype=F64)
    (grad,) = torch.autograd.grad(L.landscape_loss(G, x, x0, A).sum(), x)
    v = L.empirical_gradient(G, x.detach(), x0, A)
    assert torch.allclose(v, grad, atol=1e-12)
    # and equals Λ_x^T A^T A (Λ_x x - Λ_{x0} x0) with the explicit local linear maps
    lam = G.local_linear_map(x.detach())  # (B, R, n, k)
    lam0 = G.local_linear_map(x0.unsqueeze(1))  # (B, 1, n, k)
    r = (lam @ x.detach().unsqueeze(-1)).squeeze(-1) - (lam0 @ x0.unsqueeze(1).unsqueeze(-1)).squeeze(-1)
    if A is not None:
        M = A.matrix().unsqueeze(1)
        r = ((M.transpose(-1, -2) @ M) @ r.unsqueeze(-1)).squeeze(-1)
    explicit = (lam.transpose(-1, -2) @ r.unsqueeze(-1)).squeeze(-1)
    assert torch.allclose(v, explicit, atol=1e-12)


def test_shared_generator_broadcasts_over_latent_batches():
    G = ReLUGenerator.random([3, 20, 30], batch=1, seed=0, dtype=F64, device=CPU)
    x = torch.randn(4, 5, 3, generator=torch.Generator().manual_seed(1), dtype=F64)
    x0 = torch.randn(4, 3, generator=torch.Generator().manual_seed(2), dtype=F64)
    v = L.empirical_gradient(G, x, x0)
    for b in range(4):
        assert torch.allclose(v[b], L.empirical_gradient(G, x[b : b + 1], x0[b : b + 1])[0], atol=1e-14)


# ---------------------------------------------------------------------------------------------- the negative ray
@pytest.mark.parametrize("depth", [2, 3])
def test_ray_critical_point_is_where_the_x0_component_of_v_vanishes(depth):
    B, k = 5, 3
    G = ReLUGenerator.random([k, 60, 200][: 1] + [60] * (depth - 1) + [200], batch=B, seed=depth, dtype=F64, device=CPU)
    x0 = torch.randn(B, k, generator=torch.Generator().manual_seed(0), dtype=F64)
    t = L.ray_critical_point(G, x0)
    v = L.empirical_gradient(G, (-t[:, None] * x0).unsqueeze(1), x0)[:, 0]
    assert torch.allclose((v * x0).sum(-1), torch.zeros(B, dtype=F64), atol=1e-12)
    # and it minimises f along the ray
    ts = torch.linspace(0.0, 2.0, 81, dtype=F64)
    f_ray = L.landscape_loss(G, -ts[None, :, None] * x0[:, None, :], x0)
    f_star = L.landscape_loss(G, (-t[:, None] * x0).unsqueeze(1), x0)
    assert bool((f_ray >= f_star - 1e-12).all())


# ---------------------------------------------------------------------------------------------- the exact output sampler
def test_sampler_reproduces_the_first_layer_kernel():
    # one layer: E<relu(Wa), relu(Wb)> = |a||b| cos(g(θ)) / 2 and E|relu(Wa)|^2 = |a|^2 / 2, at any width
    a = torch.tensor([1.0, 0.0], dtype=F64)
    b = torch.tensor([math.cos(2.0), math.sin(2.0)], dtype=F64) * 1.5
    y = L.sample_outputs(torch.stack([a, b]), [2, 8], networks=40_000, seed=0, device=CPU)
    ip = (y[:, 0] * y[:, 1]).sum(-1)
    sq = (y[:, 0] * y[:, 0]).sum(-1)
    assert abs(ip.mean() - 1.5 * math.cos(float(angle_map(2.0))) / 2) < 5 * ip.std() / 200
    assert abs(sq.mean() - 0.5) < 5 * sq.std() / 200


def test_sampler_keeps_opposite_latents_on_disjoint_units():
    x0 = torch.tensor([0.3, 0.4, -1.2], dtype=F64)
    y = L.sample_outputs(torch.stack([x0, -x0]), [3, 50], networks=10, seed=1, device=CPU)
    assert float((y[:, 0] * y[:, 1]).abs().max()) == 0.0
    assert bool(((y[:, 0] > 0) | (y[:, 1] > 0)).float().mean() > 0.99)


@pytest.mark.parametrize("gain", [1.0, 2.0])
def test_sampler_has_the_law_of_real_networks(gain):
    # two-sample comparison at small widths, where finite-width effects are large
    widths, B = [3, 6, 9, 5], 30_000
    z = torch.tensor([[1.0, 0.0, 0.0], [-0.5, 0.8, 0.1], [0.2, -0.3, -1.0]], dtype=F64)
    fast = L.sample_outputs(z, widths, networks=B, seed=0, gain=gain, device=CPU)
    G = ReLUGenerator.random(widths, batch=B, seed=1, gain=gain, dtype=F64, device=CPU)
    slow = G(z.expand(B, 3, 3))
    for stat in (lambda y: (y[:, 0] * y[:, 1]).sum(-1), lambda y: (y[:, 2] ** 2).sum(-1), lambda y: (y[:, 1] > 0).sum(-1).to(F64)):
        s1, s2 = stat(fast), stat(slow)
        se = math.sqrt(float(s1.var() + s2.var()) / B)
        assert abs(float(s1.mean() - s2.mean())) < 5 * se
    # tower property: E|G(z)|^2 = (gain/2)^d |z|^2 exactly at any width
    sq = (fast[:, 2] ** 2).sum(-1)
    assert abs(float(sq.mean()) - (gain / 2) ** 3 * float(z[2].norm() ** 2)) < 5 * float(sq.std()) / math.sqrt(B)


# ---------------------------------------------------------------------------------------------- RRIC
def test_rric_deviation_is_zero_for_an_isometry():
    G = ReLUGenerator.random([3, 20, 50], batch=2, seed=0, dtype=F64, device=CPU)
    xs = [torch.randn(2, 6, 3, generator=torch.Generator().manual_seed(i), dtype=F64) for i in range(4)]
    eye = GaussianOperator(torch.eye(50, dtype=F64).expand(2, 50, 50).contiguous())
    assert float(L.rric_deviation(eye, G, *xs).max()) < 1e-13


# ---------------------------------------------------------------------------------------------- algorithm
def test_negation_check_recovers_x0_where_plain_descent_does_not():
    # an easy expansive instance (2-150-1500) whose empirical risk has a local minimum near -ρ_2 x0;
    # starts in a narrow cone around -x0 (the wrong side)
    G = ReLUGenerator.random([2, 150, 1500], batch=1, seed=5, dtype=F64, device=CPU)
    x0 = torch.tensor([[1.0, 0.0]], dtype=F64)
    start = L.cone_starts(x0, 4, angle=0.05, radii=(0.5, 1.2), generator=torch.Generator().manual_seed(0))
    plain = L.descent(G, x0, start, steps=200, lr=0.5)
    negated = L.descent(G, x0, start, steps=200, lr=0.5, negate_every=20)
    # plain descent stops near -ρ_2 x0, where the loss is positive and the gradient small (the local
    # minimum sits on a kink of the piecewise-quadratic risk, so fixed-step descent hovers there) ...
    assert bool((plain.error > 1.0).all())
    assert bool(((plain.x + rho(2) * x0.unsqueeze(1)).norm(dim=-1) < 0.05).all())
    assert bool((plain.loss > 1e-2).all())
    assert float(L.empirical_gradient(G, plain.x, x0).norm(dim=-1).max()) < 1e-3
    # ... the negation check recovers x0, at a stationary point with zero loss
    assert bool((negated.error < 1e-6).all())
    assert bool((negated.flips >= 1).all())
    assert float(L.empirical_gradient(G, negated.x, x0).norm(dim=-1).max()) < 1e-8


def test_descent_rows_are_independent():
    G = ReLUGenerator.random([2, 30, 100], batch=3, seed=0, dtype=F64, device=CPU)
    x0 = torch.randn(3, 2, generator=torch.Generator().manual_seed(1), dtype=F64)
    start = torch.randn(3, 5, 2, generator=torch.Generator().manual_seed(2), dtype=F64)
    full = L.descent(G, x0, start, steps=50, lr=0.5, negate_every=10)
    one = L.descent(G.select(1), x0[1:2], start[1:2, 3:4], steps=50, lr=0.5, negate_every=10)
    assert torch.allclose(full.x[1, 3], one.x[0, 0], atol=1e-13)


# ---------------------------------------------------------------------------------------------- the WDC supremum (k = 2)
def _brute_force_sup(W, points):
    """The WDC deviation on a grid of points x points pairs of angles: a lower estimate of the supremum."""
    ph = torch.linspace(0, 2 * math.pi, points + 1, dtype=F64)[:-1]
    u = torch.stack([ph.cos(), ph.sin()], -1)
    x = u[:, None, :].expand(points, points, 2).reshape(1, -1, 2)
    y = u[None, :, :].expand(points, points, 2).reshape(1, -1, 2)
    return max(float(wdc_deviation(W[None], x[:, s:s + 250_000], y[:, s:s + 250_000]).max())
               for s in range(0, points * points, 250_000))


@pytest.mark.parametrize("n, seed", [(4, 0), (9, 1), (25, 2)])
def test_wdc_sup_scan_against_a_brute_force_grid(n, seed):
    W = torch.randn(n, 2, generator=torch.Generator().manual_seed(seed), dtype=F64) / math.sqrt(n)
    s = L.wdc_sup_2d(W)
    points = 1200
    grid = _brute_force_sup(W, points)
    # the grid is a subset of all pairs: never above the certified upper bound
    assert grid <= float(s.upper[0]) + 1e-12
    # the scan's value is attained (at its returned pair) ...
    at = float(wdc_deviation(W[None], s.x[:, None], s.y[:, None])[0, 0])
    assert at == pytest.approx(float(s.lower[0]), abs=1e-12)
    # ... the bracket is tight, and the grid gets within Lipschitz * spacing of it (cells here are wider than the grid)
    assert float(s.upper[0] - s.lower[0]) <= 1e-4 * float(s.lower[0]) + 1e-12
    assert float(s.lower[0]) - grid <= 3 / (2 * math.pi) * 2 * (2 * math.pi / points) + 1e-12


@settings(max_examples=15, deadline=None)
@given(n=st.integers(2, 30), seed=st.integers(0, 10_000))
def test_wdc_sup_bounds_every_pair_it_could_be_asked_about(n, seed):
    g = torch.Generator().manual_seed(seed)
    W = torch.randn(2, n, 2, generator=g, dtype=F64) / math.sqrt(n)
    s = L.wdc_sup_2d(W)
    x, y = torch.randn(2, 2, 64, 2, generator=g, dtype=F64)
    assert bool((wdc_deviation(W, x, y).amax(-1) <= s.upper + 1e-12).all())
    assert bool((s.lower <= s.upper).all())


def test_wdc_sup_of_two_equal_rows_is_known():
    # n = 1... the scan needs n >= 2; two opposite rows w, -w: S is w w^T on half the pairs, the sup is |w|^2 + 1/2 at x = y
    # when w is tiny, approached by ||0 - Q_{x, -x}||... check instead the exact value for two equal rows at x = y = w:
    w = torch.tensor([[0.3, 0.4], [0.3, 0.4]], dtype=F64)
    s = L.wdc_sup_2d(w)
    # at x = y = w, S = 2 w w^T (eigenvalues 0.5 and 0) and Q = I/2: deviation 1/2; other pairs do not exceed it
    assert float(s.lower[0]) == pytest.approx(0.5, abs=1e-9)


# ---------------------------------------------------------------------------------------------- the local map, the Hessian
@pytest.mark.parametrize("compressive", [False, True])
def test_local_map_apply_and_local_hessian_against_the_explicit_map_and_autograd(compressive):
    B, k = 3, 3
    G = ReLUGenerator.random([k, 20, 40], batch=B, seed=4, dtype=F64, device=CPU)
    A = GaussianOperator.random(15, 40, batch=B, seed=5, dtype=F64, device=CPU) if compressive else None
    gen = torch.Generator().manual_seed(6)
    x, u = torch.randn(2, B, 5, k, generator=gen, dtype=F64)
    lam = G.local_linear_map(x)
    assert torch.allclose(L.local_map_apply(G, x, u), (lam @ u.unsqueeze(-1)).squeeze(-1), atol=1e-13)
    x0 = torch.randn(B, k, generator=gen, dtype=F64)
    H = L.local_hessian(G, x[:, 0], A)
    for b in range(B):  # f is an exact quadratic on the region of x: its Hessian there is Lambda^T A^T A Lambda
        f = lambda z: L.landscape_loss(G.select(b), z.reshape(1, 1, k), x0[b : b + 1], None if A is None else A.select(b)).sum()  # noqa: E731
        assert torch.allclose(torch.autograd.functional.hessian(f, x[b, 0].clone()), H[b], atol=1e-10)


def test_gradient_norm_loss_gradient_equals_autograd_through_the_gradient():
    B, k = 2, 4
    G = ReLUGenerator.random([k, 15, 30, 45], batch=B, seed=1, dtype=F64, device=CPU)
    A = GaussianOperator.random(12, 45, batch=B, seed=2, dtype=F64, device=CPU)
    gen = torch.Generator().manual_seed(3)
    x0 = torch.randn(B, k, generator=gen, dtype=F64)
    for op in (None, A):
        x = torch.randn(B, 6, k, generator=gen, dtype=F64).requires_grad_(True)
        (closed,) = torch.autograd.grad(L.gradient_norm_loss(G, x, x0, op).sum(), x)
        v = L.empirical_gradient(G, x, x0, op)  # differentiable in x (masks fixed)
        (auto,) = torch.autograd.grad(0.5 * (v * v).sum(), x)
        assert torch.allclose(closed, auto, atol=1e-12)
        assert torch.allclose(L.gradient_norm_loss(G, x, x0, op), 0.5 * (v * v).sum(-1), atol=1e-14)


def test_gradient_norm_minima_reach_x0_exactly_on_an_expansive_network():
    G = ReLUGenerator.random([3, 60, 600], batch=2, seed=0, dtype=F64, device=CPU)
    x0 = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.6, 0.8]], dtype=F64)
    start = x0.unsqueeze(1) + 0.05 * torch.randn(2, 4, 3, generator=torch.Generator().manual_seed(1), dtype=F64)
    r = L.gradient_norm_minima(G, x0, start, steps=400, lr=0.005)
    assert float(r.grad_norm.max()) < 1e-6
    assert float((r.x - x0.unsqueeze(1)).norm(dim=-1).max()) < 1e-6


@pytest.mark.parametrize("gain", [1.0, 2.0])
def test_local_gram_sampler_has_the_law_of_real_networks(gain):
    x0 = torch.tensor([1.0, 0.5, -0.3], dtype=F64)
    widths, B = [3, 6, 9], 20_000
    fast = L.sample_local_gram(x0, widths, networks=B, seed=0, gain=gain, device=CPU)
    G = ReLUGenerator.random(widths, batch=B, seed=1, gain=gain, dtype=F64, device=CPU)
    slow = L.local_hessian(G, x0.expand(B, 3).contiguous())
    for stat in (lambda M: M[:, 0, 0], lambda M: M[:, 1, 2], lambda M: torch.linalg.eigvalsh(M)[:, 0]):
        a, b = stat(fast), stat(slow)
        assert abs(float(a.mean() - b.mean())) < 5 * math.sqrt(float(a.var() + b.var()) / B)
    # tower property: E Lambda^T Lambda = (gain / 2)^d I at any width
    se = fast.std(0) / math.sqrt(B)
    assert bool(((fast.mean(0) - (gain / 2) ** 2 * torch.eye(3, dtype=F64)).abs() <= 5 * se + 1e-12).all())


# ---------------------------------------------------------------------------------------------- RRIC ascent, descent paths
def test_rric_ascent_never_reports_less_than_its_starts_and_stays_zero_for_an_isometry():
    G = ReLUGenerator.random([2, 20, 60], batch=2, seed=0, dtype=F64, device=CPU)
    start = torch.randn(2, 5, 4, 2, generator=torch.Generator().manual_seed(1), dtype=F64)
    A = GaussianOperator.random(10, 60, batch=2, seed=2, dtype=F64, device=CPU)
    r = L.rric_ascent(A, G, start, steps=40, lr=0.05)
    assert bool((r.best >= r.start.amax(-1)).all()) and float(r.final.mean()) > float(r.start.mean())
    eye = GaussianOperator(torch.eye(60, dtype=F64).expand(2, 60, 60).contiguous())
    assert float(L.rric_ascent(eye, G, start, steps=5, lr=0.05).best.max()) < 1e-12


def test_recorded_descent_is_the_same_run_and_ends_at_its_error():
    G = ReLUGenerator.random([2, 30, 100], batch=2, seed=0, dtype=F64, device=CPU)
    x0 = torch.randn(2, 2, generator=torch.Generator().manual_seed(1), dtype=F64)
    start = torch.randn(2, 3, 2, generator=torch.Generator().manual_seed(2), dtype=F64)
    plain = L.descent(G, x0, start, steps=60, lr=0.5, negate_every=20)
    rec = L.descent(G, x0, start, steps=60, lr=0.5, negate_every=20, record_every=5)
    assert torch.equal(plain.x, rec.x) and torch.equal(plain.flips, rec.flips)
    assert rec.path.shape == (13, 2, 3) and torch.allclose(rec.path[-1], rec.error)
    assert torch.allclose(rec.path[0], (start - x0.unsqueeze(1)).norm(dim=-1) / x0.norm(dim=-1, keepdim=True))


@pytest.mark.parametrize("d", [2, 3, 5])
def test_expected_descent_on_the_negative_ray_stops_at_minus_rho_and_the_check_escapes(d):
    # on the -x0 ray h is parallel to x0, so plain descent stays on the ray and converges to its zero -rho_d x0
    x0 = torch.tensor([[1.0, 0.0]], dtype=F64)
    start = torch.tensor([[[-0.2, 0.0], [-1.3, 0.0]]], dtype=F64)
    plain = L.expected_descent(x0, start, d, steps=300, lr=0.5)
    assert torch.allclose(plain.x, -rho(d) * x0.unsqueeze(1).expand(1, 2, 2), atol=1e-9)
    negated = L.expected_descent(x0, start, d, steps=300, lr=0.5, negate_every=20)
    assert float(negated.error.max()) < 1e-9 and bool((negated.flips >= 1).all())


# ---------------------------------------------------------------------------------------------- helpers and validation
@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: L.sample_outputs(torch.zeros(2, 3), [2, 5], networks=2), "widths"),
        (lambda: L.descent(ReLUGenerator.random([2, 4]), torch.ones(1, 2), torch.ones(1, 3, 2), steps=0, lr=0.1), "steps"),
        (lambda: L.descent(ReLUGenerator.random([2, 4]), torch.ones(1, 2), torch.ones(1, 3, 2), steps=5, lr=-1.0), "lr"),
        (lambda: L.wdc_sup_2d(torch.zeros(2, 5, 3)), "W"),
        (lambda: L.wdc_sup_2d(torch.randn(5, 2), rounds=0), "rounds"),
        (lambda: L.rric_ascent(GaussianOperator.random(4, 5), ReLUGenerator.random([2, 5]), torch.zeros(1, 3, 2, 2), steps=2, lr=0.1), "start"),
        (lambda: L.rric_ascent(GaussianOperator.random(4, 5), ReLUGenerator.random([2, 5]), torch.ones(1, 3, 4, 2), steps=0, lr=0.1), "steps"),
        (lambda: L.gradient_norm_minima(ReLUGenerator.random([2, 4]), torch.ones(1, 2), torch.ones(1, 3, 2), steps=0, lr=0.1), "steps"),
        (lambda: L.gradient_norm_minima(ReLUGenerator.random([2, 4]), torch.ones(1, 2), torch.ones(3, 2), steps=5, lr=0.1), "start"),
        (lambda: L.descent(ReLUGenerator.random([2, 4]), torch.ones(1, 2), torch.ones(1, 3, 2), steps=5, lr=0.1, negate_every=20, record_every=3), "record_every"),
        (lambda: L.expected_descent(torch.ones(1, 2), torch.ones(1, 3, 2), 0, steps=5, lr=0.1), "depth"),
        (lambda: L.sample_local_gram(torch.ones(3), [2, 5], networks=2), "x0"),
        (lambda: L.sample_local_gram(torch.ones(2), [2, 5], networks=0), "networks"),
        (lambda: L.local_map_apply(ReLUGenerator.random([2, 4]), torch.ones(1, 3, 2), torch.ones(1, 2, 2)), "u"),
        (lambda: L.local_hessian(ReLUGenerator.random([2, 4]), torch.ones(1, 3, 2)), "x"),
        (lambda: L.negative_critical_angle(0), "d"),
        (lambda: L.cone_starts(torch.ones(1, 2), 3, angle=4.0, radii=(0.5, 1.0), generator=torch.Generator()), "angle"),
    ],
)
def test_bad_input_fails_fast_naming_the_parameter(call, name):
    with pytest.raises(ValueError, match=name):
        call()
