"""ilib.phase_retrieval: the amplitude loss and its gradient, the expected landscape, rho_d^PR, the negation test, DPR."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from ilib import GaussianOperator, ReLUGenerator
from ilib import landscape as L
from ilib import phase_retrieval as pr
from ilib.angles import angle_map

F64 = torch.float64
CPU = "cpu"


# ---------------------------------------------------------------------------------------------- rho_d^PR
def test_rho_pr_at_depth_one_is_two_over_pi():
    # d = 1: g(pi) = pi/2, S(pi/2) = 1 (G(x0) and G(-x0) have disjoint supports)
    assert pr.rho_pr(1) == pytest.approx(2 / math.pi, abs=1e-15)


def test_rho_pr_increases_to_one_and_exceeds_the_compressed_sensing_constant():
    vals = [pr.rho_pr(d) for d in range(1, 60)]
    assert all(b > a for a, b in zip(vals, vals[1:])) and vals[-1] < 1 and vals[-1] > 0.99
    assert all(pr.rho_pr(d) > L.rho(d) for d in range(1, 30))


@pytest.mark.parametrize("d", [1, 2, 3, 6])
def test_rho_pr_minimises_the_expected_loss_on_the_negative_ray(d):
    # 2^d E f(-t x0) = t^2/2 + 1/2 - (2/pi) t S(theta_d): a quadratic in t, minimal at rho_d^PR
    x0 = torch.tensor([0.6, -0.8], dtype=F64)
    t = torch.linspace(0, 1.5, 150_001, dtype=F64)
    f = pr.expected_landscape(-t[:, None] * x0, x0, d)
    assert float(t[f.argmin()]) == pytest.approx(pr.rho_pr(d), abs=2e-5)
    theta = torch.tensor(math.pi, dtype=F64)
    for _ in range(d):
        theta = angle_map(theta)
    assert torch.allclose(f, (0.5 * t**2 + 0.5 - 2 / math.pi * t * pr.pr_angle_function(theta)) / 2**d, atol=1e-14)


@settings(max_examples=30, deadline=None)
@given(c=st.floats(-1.0, 1.0))
def test_kappa_is_the_gaussian_product_moment(c):
    # E|g1 g2| = (2/pi) kappa(c): check against quadrature over the angle, |cos(t) cos(t - a)| with cos(a) = c
    a = math.acos(c)
    t = torch.linspace(0, 2 * math.pi, 200_001, dtype=F64)[:-1]
    quad = float((torch.cos(t) * torch.cos(t - a)).abs().mean()) * 2  # E r^2 = 2 for the radius of a 2-d Gaussian
    assert float(2 / math.pi * pr.pr_kernel(torch.tensor(c, dtype=F64))) == pytest.approx(quad, abs=1e-8)


def test_the_angle_function_is_kappa_of_the_cosine_on_a_quarter_turn():
    theta = torch.linspace(0, math.pi / 2, 101, dtype=F64)
    assert torch.allclose(pr.pr_angle_function(theta), pr.pr_kernel(torch.cos(theta)), atol=1e-12)
    assert float(pr.pr_angle_function(torch.tensor(0.0))) == pytest.approx(math.pi / 2)


# ---------------------------------------------------------------------------------------------- the loss and its gradient
@pytest.mark.parametrize("depth", [1, 2, 3])
def test_closed_form_gradient_equals_autograd(depth):
    B, k, n, m = 3, 4, 50, 30
    widths = [k] + [20 * (i + 1) for i in range(depth - 1)] + [n]
    G = ReLUGenerator.random(widths, batch=B, seed=depth, dtype=F64, device=CPU)
    A = GaussianOperator.random(m, n, batch=B, seed=7, dtype=F64, device=CPU)
    gen = torch.Generator().manual_seed(depth)
    x = torch.randn(B, 5, k, generator=gen, dtype=F64).requires_grad_(True)
    x0 = torch.randn(B, k, generator=gen, dtype=F64)
    (auto,) = torch.autograd.grad(pr.amplitude_loss(G, x, x0, A).sum(), x)
    assert torch.allclose(pr.amplitude_gradient(G, x.detach(), x0, A), auto, atol=1e-12)


def test_loss_is_zero_at_x0_and_sign_blind_in_the_measurements():
    G = ReLUGenerator.random([3, 20, 40], batch=2, seed=0, dtype=F64, device=CPU)
    A = GaussianOperator.random(25, 40, batch=2, seed=1, dtype=F64, device=CPU)
    x0 = torch.randn(2, 3, generator=torch.Generator().manual_seed(2), dtype=F64)
    assert float(pr.amplitude_loss(G, x0.unsqueeze(1), x0, A).abs().max()) == 0.0
    x = torch.randn(2, 4, 3, generator=torch.Generator().manual_seed(3), dtype=F64)
    minus = GaussianOperator(-A.A)
    assert torch.allclose(pr.amplitude_loss(G, x, x0, A), pr.amplitude_loss(G, x, x0, minus), atol=1e-14)


def test_expected_loss_is_the_mean_over_gaussian_measurements():
    gen = torch.Generator().manual_seed(0)
    u, v = torch.randn(2, 30, generator=gen, dtype=F64).abs()
    m, draws = 7, 40_000
    A = torch.randn(draws, m, 30, generator=gen, dtype=F64) / math.sqrt(m)
    f = 0.5 * (((A @ u).abs() - (A @ v).abs()) ** 2).sum(-1)
    assert abs(float(f.mean() - pr.expected_amplitude_loss(u, v))) < 5 * float(f.std()) / math.sqrt(draws)


def test_expected_loss_of_parallel_and_antiparallel_outputs():
    # c = 1 or c = -1: kappa = pi/2, so E f = (|u| - |v|)^2 / 2, whatever A (|Au| = |A(-u)|)
    u = torch.tensor([[1.0, 2.0, 2.0], [-1.0, -2.0, -2.0]], dtype=F64)
    v = torch.tensor([2.0, 4.0, 4.0], dtype=F64)
    assert torch.allclose(pr.expected_amplitude_loss(u, v), torch.full((2,), 4.5, dtype=F64), atol=1e-12)


def test_infinite_width_landscape_is_the_limit_of_wide_networks():
    # average over A in closed form with the sampled outputs of wide networks: only the finite width remains
    x0 = torch.tensor([1.0, 0.0], dtype=F64)
    xs = torch.tensor([[0.5, 0.7], [-0.8, 0.1], [-1.2, -0.3], [1.1, -0.2]], dtype=F64)
    y = L.sample_outputs(torch.cat([xs, x0[None]]), [2, 4000, 4000], networks=8, seed=0, device=CPU)
    emp = pr.expected_amplitude_loss(y[:, :4], y[:, 4:]).mean(0)
    assert torch.allclose(emp, pr.expected_landscape(xs, x0, 2), rtol=0.02)


# ---------------------------------------------------------------------------------------------- the negative ray
def test_ray_critical_points_minimise_their_quadratics():
    G = ReLUGenerator.random([2, 40, 120], batch=3, seed=0, dtype=F64, device=CPU)
    A = GaussianOperator.random(30, 120, batch=3, seed=1, dtype=F64, device=CPU)
    x0 = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]], dtype=F64)
    y = G(torch.stack([x0, -x0], dim=1))  # (B, 2, n)
    t_a = pr.ray_critical_point_pr(A(y[:, 1]), A(y[:, 0]))
    t_e = pr.expected_ray_critical_point(y[:, 1], y[:, 0])
    ts = torch.linspace(0, 2, 20_001, dtype=F64)
    ray = -ts[None, :, None] * x0[:, None, :]
    f = pr.amplitude_loss(G, ray, x0, A)
    fe = pr.expected_amplitude_loss(G(ray), y[:, :1])
    assert torch.allclose(ts[f.argmin(-1)], t_a, atol=2e-4) and torch.allclose(ts[fe.argmin(-1)], t_e, atol=2e-4)


def test_flip_fires_agrees_with_the_loss_at_plus_and_minus_t_x0():
    G = ReLUGenerator.random([2, 30, 90], batch=6, seed=2, dtype=F64, device=CPU)
    A = GaussianOperator.random(8, 90, batch=6, seed=3, dtype=F64, device=CPU)
    x0 = torch.randn(6, 2, generator=torch.Generator().manual_seed(4), dtype=F64)
    y = G(torch.stack([x0, -x0], dim=1))
    t = pr.ray_critical_point_pr(A(y[:, 1]), A(y[:, 0]))
    f_pos = pr.amplitude_loss(G, (t[:, None] * x0).unsqueeze(1), x0, A)[:, 0]
    f_neg = pr.amplitude_loss(G, (-t[:, None] * x0).unsqueeze(1), x0, A)[:, 0]
    assert torch.equal(pr.flip_fires(A(y[:, 1]), A(y[:, 0]), t), f_pos < f_neg)


# ---------------------------------------------------------------------------------------------- Algorithm 1
def test_dpr_with_the_negation_step_recovers_from_the_wrong_side():
    G = ReLUGenerator.random([2, 150, 1500], batch=1, seed=5, dtype=F64, device=CPU)
    A = GaussianOperator.random(60, 1500, seed=6, dtype=F64, device=CPU)
    x0 = torch.tensor([[1.0, 0.0]], dtype=F64)
    start = L.cone_starts(x0, 4, angle=0.05, radii=(0.5, 1.2), generator=torch.Generator().manual_seed(0))
    plain = pr.dpr(G, A, x0, start, steps=300, lr=0.5, negate_every=0)
    negated = pr.dpr(G, A, x0, start, steps=300, lr=0.5, negate_every=10)
    assert bool(((plain.x * x0).sum(-1) < 0).all())  # stuck on the negative side
    assert float((negated.x - x0).norm(dim=-1).max()) < 1e-6 and bool((negated.flips >= 1).all())


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: pr.rho_pr(0), "d"),
        (lambda: pr.expected_landscape(torch.ones(2), torch.ones(2), 0), "d"),
        (lambda: pr.amplitude_gradient(ReLUGenerator.random([2, 4]), torch.ones(3, 2), torch.ones(1, 2),
                                       GaussianOperator.random(3, 4)), "x"),
        (lambda: pr.dpr(ReLUGenerator.random([2, 4]), GaussianOperator.random(3, 4), torch.ones(1, 2),
                        torch.ones(1, 3, 2), steps=0, lr=0.1), "steps"),
        (lambda: pr.dpr(ReLUGenerator.random([2, 4]), GaussianOperator.random(3, 4), torch.ones(1, 2),
                        torch.ones(3, 2), steps=5, lr=0.1), "start"),
        (lambda: pr.dpr(ReLUGenerator.random([2, 4]), GaussianOperator.random(3, 4), torch.ones(1, 2),
                        torch.ones(1, 3, 2), steps=5, lr=-1.0), "lr"),
    ],
)
def test_bad_input_fails_fast_naming_the_parameter(call, name):
    with pytest.raises(ValueError, match=name):
        call()
