"""Tests for ilib.inversion: exact and LP layer-wise inversion, its certificates, and the gradient method.

Statements checked: a ReLU layer whose active rows have full column rank is inverted exactly; with too
few active rows the preimage is a segment and the layer is reported as not invertible; a network is
inverted layer by layer exactly when every layer has at least n_{i-1} active rows, with probability
prod_i P[Bin(n_i, 1/2) >= n_{i-1}]; the noisy LPs' certificates (feasibility, t* <= ||e||_inf, the
2||e||_inf fit on the active rows) and HiGHS's dual certificate (KKT) hold at the solution.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import binom

from ilib import ReLUGenerator, make_generator, randn
from ilib import inversion as I
from ilib.angles import wdc_deviation

F64 = torch.float64
HYP = settings(max_examples=20, deadline=None)


def _layer(n_out: int, n_in: int, batch: int, seed: int):
    g = make_generator(seed)
    W = randn(batch, n_out, n_in, generator=g, dtype=F64, device="cpu")
    x = randn(batch, n_in, generator=g, dtype=F64, device="cpu")
    y = torch.relu(torch.bmm(W, x.unsqueeze(-1)).squeeze(-1))
    return W, x, y


def _layer_with_active_rows(n_out: int, n_in: int, n_active: int, seed: int):
    """One layer and input with exactly ``n_active`` active rows (rows flipped to the wanted side)."""
    g = make_generator(seed)
    W = randn(n_out, n_in, generator=g, dtype=F64, device="cpu")
    x = randn(n_in, generator=g, dtype=F64, device="cpu")
    sign = torch.where(W @ x > 0, 1.0, -1.0).to(F64)
    want = torch.cat([torch.ones(n_active), -torch.ones(n_out - n_active)]).to(F64)
    W = W * (sign * want).unsqueeze(-1)
    return W, x, torch.relu(W @ x)


# --------------------------------------------------------------------------- exact, one layer
@pytest.mark.parametrize("n_out,n_in", [(40, 5), (60, 20), (300, 20), (12, 1)])
def test_exact_layer_inversion_recovers_the_input_to_1e_8(n_out, n_in):
    W, x, y = _layer(n_out, n_in, 64, seed=n_out + n_in)
    res = I.invert_layer(W, y)
    full = res.n_active >= n_in
    assert bool(full.any())
    assert torch.equal(res.invertible, full)  # Gaussian active rows have full rank as soon as there are enough
    err = (res.x[full] - x[full]).norm(dim=-1) / x[full].norm(dim=-1)
    assert float(err.max()) < 1e-8
    assert float(res.residual[full].max()) < 1e-10 and float(res.violation[full].max()) < 1e-10


@HYP
@given(n_in=st.integers(1, 8), extra=st.integers(0, 30), seed=st.integers(0, 2**31 - 1))
def test_exact_inversion_for_any_layer_with_enough_active_rows(n_in, extra, seed):
    n_out = n_in + extra
    W, x, y = _layer_with_active_rows(n_out, n_in, n_in + extra // 2, seed)
    xh = I.layer_preimage(W, y)
    assert torch.isfinite(xh).all()
    assert float((xh - x).norm() / x.norm()) < 1e-8
    # the certificate of the realizable LP: equalities on S, inequalities off S
    pre = W @ xh
    act = y > 0
    assert float((pre[act] - y[act]).abs().max()) <= 1e-9 * float(y.abs().max())
    assert bool((pre[~act] <= 1e-9 * float(y.abs().max())).all())


@pytest.mark.parametrize("n_in,n_active", [(5, 4), (10, 1), (20, 19), (3, 0)])
def test_too_few_active_rows_is_reported_not_invertible_and_the_preimage_is_a_segment(n_in, n_active):
    W, x, y = _layer_with_active_rows(4 * n_in, n_in, n_active, seed=7 * n_in + n_active)
    res = I.invert_layer(W.unsqueeze(0), y.unsqueeze(0))
    assert not bool(res.invertible[0])
    assert bool(torch.isnan(res.x).all())  # no answer rather than a wrong one
    assert bool(torch.isnan(I.layer_preimage(W, y)).all())
    # why: a null direction of W_S moves x without changing the output
    WS = W[y > 0]
    v = torch.linalg.svd(WS if n_active else torch.zeros(1, n_in, dtype=F64), full_matrices=True).Vh[-1]
    slack = float((-(W[y <= 0] @ x)).min())
    x2 = x + 0.5 * slack / float((W @ v).abs().max()) * v
    assert torch.allclose(torch.relu(W @ x2), y, atol=1e-12, rtol=0)
    assert float((x2 - x).norm()) > 1e-3 * float(x.norm())


def test_rank_deficient_active_rows_with_enough_of_them_are_not_invertible():
    # 8 active rows that span only a 3-dimensional space: |S| >= n_in but rank W_S < n_in
    g = make_generator(3)
    n_in = 5
    x = randn(n_in, generator=g, dtype=F64, device="cpu")
    B = randn(3, n_in, generator=g, dtype=F64, device="cpu")
    C = randn(8, 3, generator=g, dtype=F64, device="cpu")
    W_act = C @ B
    W_act = W_act * torch.where(W_act @ x > 0, 1.0, -1.0).to(F64).unsqueeze(-1)
    W_in = randn(10, n_in, generator=g, dtype=F64, device="cpu")
    W_in = W_in * torch.where(W_in @ x < 0, 1.0, -1.0).to(F64).unsqueeze(-1)
    W = torch.cat([W_act, W_in])
    res = I.invert_layer(W.unsqueeze(0), torch.relu(W @ x).unsqueeze(0))
    assert int(res.n_active[0]) == 8 and not bool(res.invertible[0]) and bool(torch.isnan(res.x).all())


def test_linear_layer_inverts_with_all_rows():
    W, x, _ = _layer(30, 6, 4, seed=11)
    y = torch.bmm(W, x.unsqueeze(-1)).squeeze(-1)  # no ReLU: negative outputs are information too
    res = I.invert_layer(W, y, relu=False)
    assert bool(res.invertible.all()) and torch.equal(res.n_active, torch.full((4,), 30))
    assert float((res.x - x).abs().max()) < 1e-10


@HYP
@given(k=st.integers(2, 12), seed=st.integers(0, 2**31 - 1), scale=st.floats(1e-3, 1e3))
def test_singular_value_estimates_bracket_the_svd(k, seed, scale):
    g = make_generator(seed)
    R = torch.triu(scale * randn(6, k, k, generator=g, dtype=F64, device="cpu"))
    sv = torch.linalg.svdvals(R)
    smax, smin = I._extreme_singular_values(R)
    assert bool((smax <= sv[:, 0] * (1 + 1e-9)).all()) and bool((smin >= sv[:, -1] * (1 - 1e-6)).all())
    assert bool((smax >= sv[:, 0] / math.sqrt(k) / 1.01).all())
    R[:, -1, -1] = 0.0  # exactly singular
    assert bool((I._extreme_singular_values(R)[1] == 0).all())


# --------------------------------------------------------------------------- exact, networks
@pytest.mark.parametrize("k,depth,r", [(5, 2, 4.0), (10, 3, 4.0), (20, 3, 3.0), (3, 4, 4.0)])
def test_layerwise_inversion_of_an_expanding_network_to_1e_8(k, depth, r):
    widths = I.expansion_widths(k, r, depth)
    G, z, x = I.random_problems(widths, 16, latents=2, seed=k + depth, device="cpu")
    res = I.invert_network(G, x)
    assert res.z.shape == z.shape and res.invertible.shape == z.shape[:-1]
    ok = res.invertible
    assert float(ok.double().mean()) > 0.9
    err = (res.z[ok] - z[ok]).norm(dim=-1) / z[ok].norm(dim=-1)
    assert float(err.max()) < 1e-8
    assert bool(torch.isnan(res.z[~ok]).all())


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_network_inversion_succeeds_exactly_when_every_layer_has_enough_active_rows(seed):
    # at r = 2 roughly half the layers have too few active rows: both outcomes occur
    widths = I.expansion_widths(8, 2.0, 3)
    G, z, x = I.random_problems(widths, 60, latents=2, seed=seed, device="cpu")
    res = I.invert_network(G, x)
    act = torch.stack([(p > 0).sum(-1) for p in G.pre_activations(z)], dim=-1)
    enough = (act >= torch.tensor(widths[:-1])).all(-1)
    assert 0 < int(enough.sum()) < enough.numel()
    assert torch.equal(res.invertible, enough)
    err = (res.z - z).norm(dim=-1) / z.norm(dim=-1)
    assert float(err[enough].max()) < 1e-8  # never silently wrong
    # the layer where it stopped is the top-most layer with too few active rows
    short = act < torch.tensor(widths[:-1])
    top = torch.where(short, torch.arange(1, 4), torch.zeros(3, dtype=torch.long)).amax(-1)
    assert torch.equal(res.failed_layer, top)


def test_shared_generator_inverts_many_outputs():
    G, z, x = I.random_problems([4, 16, 64], 1, latents=10, seed=5, device="cpu")
    res = I.invert_network(G, x[0])  # (10, n) with one shared network
    assert res.z.shape == (10, 4)
    ok = res.invertible
    assert float((res.z[ok] - z[0][ok]).abs().max()) < 1e-10


@pytest.mark.parametrize(
    "widths,expected",
    [([1, 1], 0.5), ([2, 4], 11 / 16), ([1, 1, 1], 0.25), ([3, 3], 1 / 8), ([2, 4, 4], 11 / 16 * 1 / 16), ([2, 4, 8], 11 / 16 * 163 / 256)],
)
def test_predicted_success_known_values(widths, expected):
    assert I.predicted_exact_success(widths) == pytest.approx(expected, rel=1e-12)


def test_predicted_success_matches_monte_carlo_for_one_layer():
    # P[Bin(10, 1/2) >= 5] = 0.623...; 4000 layers of size 10 x 5
    W, x, y = _layer(10, 5, 4000, seed=21)
    ok = I.invert_layer(W, y).invertible.double().mean().item()
    p = I.predicted_exact_success([5, 10])
    assert p == pytest.approx(binom.sf(4, 10, 0.5))
    assert abs(ok - p) < 4 * math.sqrt(p * (1 - p) / 4000)


# --------------------------------------------------------------------------- noisy, LP
@pytest.mark.parametrize("norm", ["linf", "l1"])
@pytest.mark.parametrize("level", [0.0, 1e-3, 1e-2])
def test_lp_certificate_holds_at_its_solution(norm, level):
    W, x, y0 = _layer(60, 5, 6, seed=31)
    eps = level * y0.abs().amax(-1)
    e = I.bounded_noise(tuple(y0.shape), eps, seed=32, device="cpu")
    y = y0 + e
    res = I.invert_layer_lp(W, y, noise_bound=eps, norm=norm)
    assert bool(res.invertible.all()) and bool((res.status == 0).all())
    pre = torch.bmm(W, res.x.unsqueeze(-1)).squeeze(-1)
    tau = res.threshold.unsqueeze(-1)
    act = y > tau
    tol = 1e-7 * y.abs().amax(-1, keepdim=True)
    if norm == "linf":
        t = res.objective.unsqueeze(-1)
        assert bool(((pre - y).abs() <= t + tol)[act].all())  # two-sided fit on the active rows
        assert bool((pre - y <= t + tol)[~act].all())  # one-sided elsewhere
        assert bool((res.objective <= eps * (1 + 1e-7) + 1e-12).all())  # the truth is feasible with t = ||e||_inf
        # and so the fit on the (truly active) rows is within 2 eps of the truth's
        truth = torch.bmm(W, x.unsqueeze(-1)).squeeze(-1)
        assert bool(((pre - truth).abs() <= 2 * eps.unsqueeze(-1) + tol)[act].all())
    else:
        slack = torch.where(act, (pre - y).abs(), (pre - y).clamp_min(0.0))
        assert torch.allclose(slack.sum(-1), res.objective, rtol=1e-6, atol=1e-9)
        assert bool((res.objective <= e.abs().sum(-1) * (1 + 1e-7) + 1e-12).all())
    if level == 0.0:
        assert float(((res.x - x).norm(dim=-1) / x.norm(dim=-1)).max()) < 1e-8
        assert float(res.objective.abs().max()) < 1e-9


@pytest.mark.parametrize("norm", ["linf", "l1"])
def test_lp_dual_certificate_kkt(norm):
    # HiGHS's multipliers prove optimality: lambda >= 0, A^T lambda + c = 0 on free variables,
    # >= 0 on the non-negative ones, complementary slackness, and no duality gap
    W, x, y0 = _layer(40, 4, 3, seed=41)
    eps = 1e-2 * y0.abs().amax(-1)
    y = y0 + I.bounded_noise(tuple(y0.shape), eps, seed=42, device="cpu")
    res = I.invert_layer_lp(W, y, noise_bound=eps, norm=norm)
    for b, raw in enumerate(res.results):
        lp = I.layer_lp(W[b : b + 1], y[b : b + 1], threshold=res.threshold[b : b + 1], norm=norm)
        A = lp.A_ub.toarray()
        lam = -np.asarray(raw.ineqlin.marginals)  # scipy reports d(obj)/d(b_ub) <= 0
        v = raw.x
        assert (lam >= -1e-9).all()
        grad = lp.c + A.T @ lam
        lb = np.array([lo for lo, _ in lp.bounds])
        free = ~np.isfinite(lb)
        assert np.abs(grad[free]).max() < 1e-8
        assert (grad[~free] >= -1e-8).all()
        assert np.abs(grad[~free] * v[~free]).max() < 1e-8
        assert np.abs(lam * (lp.b_ub - A @ v)).max() < 1e-8
        assert abs(lp.c @ v + lp.b_ub @ lam) < 1e-8


def test_stacked_lp_gives_every_problems_optimum():
    W, _, y0 = _layer(30, 4, 5, seed=51)
    eps = 1e-2 * y0.abs().amax(-1)
    y = y0 + I.bounded_noise(tuple(y0.shape), eps, seed=52, device="cpu")
    one = I.invert_layer_lp(W, y, noise_bound=eps, stacked=False)
    many = I.invert_layer_lp(W, y, noise_bound=eps, stacked=True)
    assert torch.allclose(one.objective, many.objective, rtol=1e-7, atol=1e-10)


def test_lp_with_too_few_rows_above_the_threshold_is_not_invertible():
    W, x, y = _layer_with_active_rows(30, 6, 4, seed=61)
    res = I.invert_layer_lp(W.unsqueeze(0), y.unsqueeze(0), noise_bound=0.0)
    assert not bool(res.invertible[0]) and bool(torch.isnan(res.x).all())


def test_threshold_zero_is_raised_above_round_off():
    # an inactive entry computed as 1e-17 must not be fitted as an active row
    W, x, y = _layer_with_active_rows(40, 5, 20, seed=71)
    y = y.clone()
    y[y == 0] = 1e-17
    res = I.invert_layer_lp(W.unsqueeze(0), y.unsqueeze(0), threshold=0.0)
    assert int(res.n_active[0]) == 20
    assert float((res.x[0] - x).norm() / x.norm()) < 1e-8


@pytest.mark.parametrize("norm", ["linf", "l1"])
def test_noisy_network_lp_error_is_proportional_to_the_noise(norm):
    widths = I.expansion_widths(4, 4.0, 2)
    G, z, x = I.random_problems(widths, 4, seed=81, device="cpu")
    z, x = z[:, 0], x[:, 0]
    rms = x.norm(dim=-1) / math.sqrt(widths[-1])
    errs = []
    for lvl in (1e-4, 1e-3):
        eps = lvl * rms
        y = x + I.bounded_noise(tuple(x.shape), eps, seed=82, device="cpu")
        res = I.invert_network_lp(G, y, noise_bound=eps, norm=norm)
        assert bool(res.invertible.all())
        errs.append(((res.z - z).norm(dim=-1) / z.norm(dim=-1)).median().item())
    assert errs[0] < 1e-3 and 3 < errs[1] / errs[0] < 30


def test_noiseless_network_lp_is_exact_and_matches_least_squares():
    widths = I.expansion_widths(4, 3.0, 3)
    G, z, x = I.random_problems(widths, 5, seed=91, device="cpu")
    lp = I.invert_network_lp(G, x, noise_bound=0.0)
    ls = I.invert_network(G, x)
    assert torch.equal(lp.invertible, ls.invertible)
    ok = ls.invertible
    assert float((lp.z[ok] - ls.z[ok]).abs().max()) < 1e-8


# --------------------------------------------------------------------------- gradient method
def test_gd_objective_gradient_is_the_hand_voroninski_formula():
    # grad f(z) = 2 Lambda_z^T (Lambda_z z - y): closed form against autograd
    G = ReLUGenerator.random([4, 20, 50], batch=3, seed=101, gain=2.0, dtype=F64, device="cpu")
    g = make_generator(102)
    z = randn(3, 2, 4, generator=g, dtype=F64, device="cpu").requires_grad_(True)
    y = randn(3, 2, 50, generator=g, dtype=F64, device="cpu")
    f = ((G(z) - y) ** 2).sum()
    (auto,) = torch.autograd.grad(f, z)
    lam = G.local_linear_map(z.detach())
    closed = 2 * torch.einsum("bpnk,bpn->bpk", lam, torch.einsum("bpnk,bpk->bpn", lam, z.detach()) - y)
    assert torch.allclose(auto, closed, rtol=1e-10, atol=1e-12)


def test_gd_with_negation_check_escapes_the_negative_start():
    # started at -z*, f(z*) = 0 < f(-z*), so the check flips at once and descent converges to z*
    G, z, x = I.random_problems([5, 40, 240], 6, seed=111, device="cpu")
    res = I.invert_gd(G, x, steps=400, lr=0.2, negate_every=10, z0=-z.unsqueeze(-2))
    assert bool((res.flips >= 1).all())
    err = (res.z - z).norm(dim=-1) / z.norm(dim=-1)
    assert float(err.max()) < 1e-6
    res0 = I.invert_gd(G, x, steps=10, lr=0.2, negate_every=0, z0=-z.unsqueeze(-2))
    assert bool((res0.flips == 0).all())  # no check, no flip


def test_gd_recovers_the_latent_of_a_well_expanded_net():
    G, z, x = I.random_problems([5, 40, 240], 4, latents=3, seed=121, device="cpu")
    res = I.invert_gd(G, x, steps=600, lr=0.2, restarts=2, seed=122)
    assert res.z.shape == z.shape and res.restart_z.shape == (4, 3, 2, 5)
    err = (res.z - z).norm(dim=-1) / z.norm(dim=-1)
    assert float(err.max()) < 1e-6
    assert torch.allclose(res.loss, res.restart_loss.min(-1).values)


# --------------------------------------------------------------------------- WDC, noise, helpers
def test_wdc_search_only_climbs_and_shrinks_with_expansion():
    g = make_generator(131)
    k = 5
    W2 = randn(3, 2 * k, k, generator=g, dtype=F64, device="cpu") / math.sqrt(2 * k)
    W64 = randn(3, 64 * k, k, generator=g, dtype=F64, device="cpu") / math.sqrt(64 * k)
    base = I.wdc_sup_estimate(W2, pairs=16, ascent_steps=0, seed=1)
    up = I.wdc_sup_estimate(W2, pairs=16, ascent_steps=40, seed=1)
    assert bool((up >= base).all()) and bool((up > base).any())
    wide = I.wdc_sup_estimate(W64, pairs=16, ascent_steps=40, seed=1)
    assert float(wide.mean()) < 0.5 * float(up.mean())
    # it is a value attained at some pair, so never above ||sum w w^T|| + ||Q||
    bound = torch.linalg.matrix_norm(W2.transpose(1, 2) @ W2, ord=2) + 0.5
    assert bool((up <= bound).all())
    x = randn(3, 4, k, generator=g, dtype=F64, device="cpu")
    assert wdc_deviation(W2, x, x).shape == (3, 4)


def test_wdc_smoothed_quadratic_tends_to_the_exact_one_and_bounds_the_norm():
    g = make_generator(132)
    W = randn(2, 30, 4, generator=g, dtype=F64, device="cpu") / math.sqrt(30)
    x, y, v = (randn(2, 6, 4, generator=g, dtype=F64, device="cpu") for _ in range(3))
    x, y, v = (u / u.norm(dim=-1, keepdim=True) for u in (x, y, v))
    exact = I._wdc_quadratic(W, x, y, v, None)
    torch.testing.assert_close(I._wdc_quadratic(W, x, y, v, 1e9), exact, rtol=0, atol=1e-12)
    assert bool((exact.abs() <= wdc_deviation(W, x, y) + 1e-12).all())  # |v'Dv| <= ||D|| for a unit v


def test_saturated_search_history_never_falls_and_stops_when_flat():
    g = make_generator(133)
    W = randn(2, 12, 3, generator=g, dtype=F64, device="cpu") / math.sqrt(12)
    best, hist = I.wdc_sup_saturated(W, pairs=4, ascent_steps=20, tol=0.5, max_rounds=4, seed=2)
    assert all(b >= a for a, b in zip(hist, hist[1:])) and 2 <= len(hist) <= 4
    if len(hist) < 4:  # it stopped early: the last round gained less than tol
        assert hist[-1] <= hist[-2] * 1.5
    assert float(best.mean()) == pytest.approx(hist[-1])


@HYP
@given(level=st.floats(0, 1e3), seed=st.integers(0, 2**31 - 1))
def test_bounded_noise_is_bounded(level, seed):
    e = I.bounded_noise((5, 40), level, seed=seed, device="cpu")
    assert float(e.abs().max()) <= level
    lv = torch.linspace(0, level, 5, dtype=F64)
    e2 = I.bounded_noise((5, 40), lv, seed=seed, device="cpu")
    assert bool((e2.abs().amax(-1) <= lv).all())


@pytest.mark.parametrize("k,r,depth,expected", [(20, 2.0, 3, [20, 40, 80, 160]), (10, 1.5, 2, [10, 15, 22]), (1, 1.0, 1, [1, 1])])
def test_expansion_widths(k, r, depth, expected):
    assert I.expansion_widths(k, r, depth) == expected


@pytest.mark.parametrize(
    "call,name",
    [
        (lambda: I.expansion_widths(10, 0.0, 3), "r"),
        (lambda: I.expansion_widths(0, 2.0, 3), "k"),
        (lambda: I.expansion_widths(10, 2.0, 0), "depth"),
        (lambda: I.invert_layer(torch.zeros(2, 5, 3, dtype=F64), torch.zeros(2, 4, dtype=F64)), "y"),
        (lambda: I.invert_layer(torch.zeros(5, 3, dtype=F64), torch.full((5,), math.nan, dtype=F64)), "y"),
        (lambda: I.invert_layer(torch.zeros(5, 3, dtype=F64), torch.zeros(5, dtype=F64), rank_rtol=-1.0), "rank_rtol"),
        (lambda: I.invert_layer_lp(torch.zeros(5, 3, dtype=F64), torch.zeros(5, dtype=F64), norm="l2"), "norm"),
        (lambda: I.invert_layer_lp(torch.zeros(5, 3, dtype=F64), torch.zeros(5, dtype=F64), noise_bound=-1.0), "noise_bound"),
        (lambda: I.invert_layer_lp(torch.zeros(5, 3, dtype=F64), torch.zeros(5, dtype=F64), threshold=-1.0), "threshold"),
        (lambda: I.invert_network(I.random_problems([2, 4], 2, seed=0, device="cpu")[0], torch.zeros(2, 5)), "x"),
        (lambda: I.invert_network_lp(I.random_problems([2, 4], 2, seed=0, device="cpu")[0], torch.zeros(2, 4, dtype=F64), noise_bound=0.0, propagate="guess"), "propagate"),
        (lambda: I.random_problems([2, 4], 0, seed=0), "nets"),
        (lambda: I.bounded_noise((2, 3), -1.0, seed=0), "level"),
        (lambda: I.wdc_sup_estimate(torch.zeros(4, 3, dtype=F64)), "W"),
        (lambda: I.preimage_point_probability(5, 6, 3), "support"),
        (lambda: I.preimage_point_probability(0, 0, 3), "n_in"),
        (lambda: I.wdc_sup_estimate(torch.zeros(2, 4, 3, dtype=F64), stages=0), "stages"),
        (lambda: I.wdc_sup_saturated(torch.zeros(2, 4, 3, dtype=F64), pairs=2, tol=0.0), "tol"),
        (lambda: I.preimage_is_point(torch.zeros(2, 5, 3, dtype=F64), torch.zeros(2, 5, dtype=F64), torch.zeros(2, 4, dtype=F64)), "h"),
        (lambda: I.invert_gd(I.random_problems([2, 4], 2, seed=0, device="cpu")[0], torch.zeros(2, 4, dtype=F64), restarts=0), "restarts"),
    ],
)
def test_bad_input_fails_fast_naming_the_parameter(call, name):
    with pytest.raises((ValueError, TypeError), match=name):
        call()


# --------------------------------------------------------------------------- hidden layers: h >= 0
def _hidden_layer(n_out, n_in, seed):
    """A hidden layer: a non-negative input with about half zeros, Gaussian weights, its ReLU output."""
    g = make_generator(seed)
    h = torch.relu(randn(n_in, generator=g, dtype=F64, device="cpu"))
    W = randn(n_out, n_in, generator=g, dtype=F64, device="cpu")
    return W, h, torch.relu(W @ h)


def test_point_probability_edge_values():
    assert I.preimage_point_probability(10, 4, 10) == 1.0  # enough rows: least squares
    assert I.preimage_point_probability(10, 10, 9) == 0.0  # no zeros: the cone is a subspace
    assert I.preimage_point_probability(10, 9, 9) == 0.0  # a half-line always meets a line
    assert I.preimage_point_probability(10, 4, 3) == 0.0  # fewer rows than the support
    p = [I.preimage_point_probability(20, 10, m) for m in range(21)]
    assert all(b >= a for a, b in zip(p, p[1:]))  # more rows, more likely a point
    assert 0 < I.preimage_point_probability(20, 10, 15) < 1


def test_point_probability_matches_the_lp_test_on_random_layers():
    """Crofton's formula against the exact LP test on 300 random hidden layers (n_in = 16, 24 rows)."""
    pts, pred = [], []
    for seed in range(300):
        W, h, y = _hidden_layer(24, 16, seed)
        pts.append(bool(I.preimage_is_point(W.unsqueeze(0), y.unsqueeze(0), h.unsqueeze(0))[0]))
        pred.append(I.preimage_point_probability(16, int((h > 0).sum()), int((y > 0).sum())))
    p, f = float(np.mean(pred)), float(np.mean(pts))
    assert abs(f - p) < 4 * math.sqrt(p * (1 - p) / 300), (f, p)


def test_predicted_point_success_lies_between_least_squares_and_one():
    for widths in ([10, 20, 40], [20, 35, 61, 107], [5, 9]):
        ls, pt = I.predicted_exact_success(widths), I.predicted_point_success(widths)
        assert ls - 1e-12 <= pt <= 1 + 1e-12
    assert I.predicted_point_success([5, 9]) == pytest.approx(I.predicted_exact_success([5, 9]))  # no hidden layer


def test_nnlp_certificate_at_its_solution():
    """Where the LP is solved (fewer active rows than inputs): primal feasibility, dual feasibility, complementary
    slackness and no duality gap, from HiGHS's multipliers; and the point is the truth where the preimage is one."""
    for seed in range(20):
        W, h, y = _hidden_layer(20, 16, 200 + seed)
        res = I.invert_layer_nnlp(W.unsqueeze(0), y.unsqueeze(0))
        if bool(res.by_lstsq[0]):
            continue
        raw = res.results[0]
        assert raw is not None and raw.status == 0
        S = (y > 1e-9 * y.abs().max()).numpy()
        Wn, yn, v = W.numpy(), y.numpy(), raw.x
        assert np.abs(Wn[S] @ v - yn[S]).max() < 1e-7 and (Wn[~S] @ v).max() < 1e-7 and v.min() > -1e-9
        lam_eq, lam_ub = np.asarray(raw.eqlin.marginals), np.asarray(raw.ineqlin.marginals)
        red = np.asarray(raw.lower.marginals)  # reduced costs of the bounds h >= 0
        assert (lam_ub <= 1e-9).all() and (red >= -1e-9).all()
        assert np.abs(np.ones(16) - Wn[S].T @ lam_eq - Wn[~S].T @ lam_ub - red).max() < 1e-7  # stationarity
        assert np.abs(red * v).max() < 1e-7 and np.abs(lam_ub * (Wn[~S] @ v)).max() < 1e-7  # complementary slackness
        assert abs(v.sum() - yn[S] @ lam_eq) < 1e-7  # no duality gap
        point = bool(I.preimage_is_point(W.unsqueeze(0), y.unsqueeze(0), h.unsqueeze(0))[0])
        if point:
            assert float((res.x[0] - h).abs().max()) < 1e-9


def test_nnlp_with_enough_rows_is_least_squares():
    W, h, y = _hidden_layer(60, 10, 7)
    res = I.invert_layer_nnlp(W.unsqueeze(0), y.unsqueeze(0))
    assert bool(res.by_lstsq[0]) and res.results[0] is None
    assert float((res.x[0] - h).abs().max()) < 1e-9


def test_network_nnlp_recovers_where_least_squares_cannot():
    G, z, x = I.random_problems(I.expansion_widths(6, 1.75, 3), 30, latents=2, seed=211, device="cpu")
    ls = I.invert_network(G, x)
    lp = I.invert_network_nnlp(G, x)
    err = lambda res: torch.nan_to_num((res.z - z).norm(dim=-1) / z.norm(dim=-1), nan=9.0)  # noqa: E731
    assert bool(((err(ls) < 1e-6) <= (err(lp) < 1e-6)).all())  # whatever least squares recovers, the LP does too
    assert int(((err(lp) < 1e-6) & ~(err(ls) < 1e-6)).sum()) > 0


@HYP
@given(seed=st.integers(0, 10_000), level=st.sampled_from([1e-4, 1e-3, 1e-2]))
def test_linf_lp_error_never_exceeds_its_guaranteed_bound(seed, level):
    W, x, y0 = _layer(40, 6, 3, seed=seed)
    eps = level * y0.abs().amax(-1)
    y = y0 + I.bounded_noise(tuple(y0.shape), eps, seed=seed + 1, device="cpu")
    res = I.invert_layer_lp(W, y, noise_bound=eps)
    bound = I.linf_lp_error_bound(W, y, eps)
    ok = res.invertible
    assert bool(((res.x - x).abs().amax(-1)[ok] <= bound[ok] * (1 + 1e-6) + 1e-12).all())


def test_error_levels_are_handed_down_and_the_bound_rule_bounds_the_latent_error():
    widths = I.expansion_widths(5, 3.0, 3)
    G, z, x = I.random_problems(widths, 6, seed=221, device="cpu")
    z, x = z[:, 0], x[:, 0]
    eps = 1e-3 * x.norm(dim=-1) / math.sqrt(widths[-1])
    y = x + I.bounded_noise(tuple(x.shape), eps, seed=222, device="cpu")
    res = I.invert_network_lp(G, y, noise_bound=eps, propagate="rms")
    assert res.error_levels.shape == (6, 3) and len(res.hidden) == 3
    assert bool((res.error_levels[res.invertible, 1:] > 0).all())
    same = I.invert_network_lp(G, y, noise_bound=eps, propagate="same")  # every hidden level is the output's
    torch.testing.assert_close(same.error_levels[:, 1:], eps.unsqueeze(-1).expand(6, 2))
    bnd = I.invert_network_lp(G, y, noise_bound=eps, propagate="bound")
    ok = bnd.invertible
    assert bool(((bnd.z - z).abs().amax(-1)[ok] <= bnd.error_levels[ok, 0] * (1 + 1e-6)).all())
