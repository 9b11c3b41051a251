"""Notebook 01's experiment: identifiability on both sides of [k, 2k], the noisy bound's bookkeeping, padding, polishing."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import ilib
from ilib.experiments import csgm_phase_transition as ex
from ilib.recovery import polish_local

SOLVER = dict(restarts=4, steps=400, lr=0.05, negate_every=50, polish=3, device="cpu")


def test_csgm_fails_below_k_and_succeeds_well_above_2k():
    t = ex.csgm_transition([4, 50, 200], [2, 16], trials=8, stream=ilib.stream(0, "t"), **SOLVER)
    assert t.success[0] == 0.0 and t.success[1] == 1.0
    assert ex.NOT_IDENTIFIABLE_BELOW_K.evaluate(t)["agrees"] and ex.NO_OTHER_LATENT_AT_2K.evaluate(t)["agrees"]
    assert (t.ambiguity[0] > 0).all() and np.isnan(t.ambiguity[1]).all()


def test_the_in_region_ambiguity_is_a_real_other_latent_with_the_same_measurements():
    """Walk the constructed kernel direction half way to the region's edge: same y, different G(z)."""
    G = ilib.ReLUGenerator.random([4, 30, 60], batch=6, seed=3, dtype="float64", device="cpu")
    op = ilib.MatrixOperator.gaussian(3, 60, batch=6, seed=4, dtype="float64", device="cpu")
    z = torch.randn(6, 1, 4, generator=ilib.make_generator(5), dtype=torch.float64)
    amb = ex.in_region_ambiguity(G, op, z, 3)
    assert (amb > 0).all()
    L = G.local_linear_map(z).squeeze(1)
    v = torch.linalg.svd(op.A @ L).Vh[:, -1, :].unsqueeze(1)
    t = G.region_step(z, v)
    z2 = z + 0.5 * t.clamp(max=10.0).unsqueeze(-1) * v
    torch.testing.assert_close(op(G(z2).squeeze(1)), op(G(z).squeeze(1)), rtol=0, atol=1e-10)
    assert ((G(z2) - G(z)).norm(dim=-1) > 0).all()


def test_region_step_is_the_first_sign_change_along_the_line():
    G = ilib.ReLUGenerator.random([3, 20, 40], batch=2, seed=0, dtype="float64", device="cpu")
    z = torch.randn(2, 1, 3, generator=ilib.make_generator(1), dtype=torch.float64)
    v = torch.randn(2, 1, 3, generator=ilib.make_generator(2), dtype=torch.float64)
    t = G.region_step(z, v)
    for b in range(2):
        Gb = G.select(b)
        signs = lambda w: torch.cat([(p > 0).flatten() for p in Gb.pre_activations(w)])  # noqa: E731
        base = signs(z[b:b + 1])
        ts = torch.linspace(0, float(t[b, 0]) * 1.5, 3001, dtype=torch.float64)
        first = next(float(s) for s in ts if not torch.equal(signs(z[b:b + 1] + s * v[b:b + 1]), base))
        assert abs(first - float(t[b, 0])) <= float(ts[1] - ts[0]) * 1.01


def test_failures_below_k_fit_the_data_with_another_latent():
    """With m < k the measurements are explained by other latents: failed trials have a near-zero residual."""
    t = ex.csgm_transition([5, 50, 200], [2], trials=6, stream=ilib.stream(1, "t"), **SOLVER)
    causes = t.failure_causes()
    assert causes["failed"] == 6 and causes["fit_the_data"] == 6 and causes["optimiser_lost"] == 0


def test_the_same_stream_gives_the_same_numbers_and_another_stream_others():
    a = ex.csgm_transition([2, 20, 50], [2, 3], trials=3, stream=ilib.stream(0, "a"), **SOLVER)
    b = ex.csgm_transition([2, 20, 50], [2, 3], trials=3, stream=ilib.stream(0, "a"), **SOLVER)
    c = ex.csgm_transition([2, 20, 50], [2, 3], trials=3, stream=ilib.stream(0, "b"), **SOLVER)
    assert np.array_equal(a.rel_error, b.rel_error) and not np.array_equal(a.rel_error, c.rel_error)


def test_noisy_bound_in_range_has_zero_representation_error_and_the_bound_is_three_noise_norms_plus_two_eps():
    r = ex.noisy_bound([3, 50, 200], [20], noise=0.1, offset=0.0, trials=4, stream=ilib.stream(0, "d"), **SOLVER)
    assert (r.rep_error == 0).all() and (r.eps >= 0).all()
    np.testing.assert_allclose(r.bound, 3 * r.noise_norm + 2 * r.eps)
    assert (r.ratio < 1).all()
    off = ex.noisy_bound([3, 50, 200], [20], noise=0.1, offset=0.2, trials=4, stream=ilib.stream(0, "d"), **SOLVER)
    # the projection can only over-estimate the representation error, which is at most ||nu||
    assert (off.rep_error > 0).all() and (off.rep_error <= 0.2 * off.sigma / 0.1 * (1 + 1e-6)).all()


def test_padding_with_zero_rows_keeps_the_scaling_of_each_m():
    op = ex._padded_gaussian([2, 8], 50, 3, torch.Generator().manual_seed(0), torch.float64, "cpu")
    rows = (op.A.abs().sum(-1) > 0).sum(-1).reshape(2, 3)
    assert rows.tolist() == [[2, 2, 2], [8, 8, 8]]
    assert abs(op.A[3:, :8].pow(2).mean().item() * 8 - 1) < 0.15  # N(0, 1/m) on the real rows


def test_in_range_prediction_is_exact_for_a_linear_generator():
    r"""E||x_hat - x*||^2 / sigma^2 = k / (m - k - 1) for least squares through a random Gaussian A (inverse Wishart mean)."""
    B, n, k, m = 4000, 40, 3, 9
    g = ilib.make_generator(0)
    U = torch.linalg.qr(torch.randn(n, k, generator=g, dtype=torch.float64)).Q
    A = torch.randn(B, m, n, generator=g, dtype=torch.float64) / m**0.5
    eta = torch.randn(B, m, generator=g, dtype=torch.float64) / m**0.5  # sigma = 1
    AU = A @ U
    dz = torch.linalg.lstsq(AU, eta.unsqueeze(-1)).solution.squeeze(-1)
    err2 = (dz @ U.T).pow(2).sum(-1)
    est = ilib.Estimate.mean(err2.numpy())
    assert est.lo <= k / (m - k - 1) <= est.hi


def test_polish_is_exact_least_squares_on_a_linear_generator_and_never_increases_the_loss():
    G = ilib.LinearGenerator.random(30, 4, batch=5, seed=0, dtype="float64", device="cpu")
    op = ilib.GaussianOperator.random(12, 30, batch=5, seed=1, dtype="float64", device="cpu")
    y = torch.randn(5, 12, generator=ilib.make_generator(2), dtype=torch.float64)
    z0 = torch.randn(5, 3, 4, generator=ilib.make_generator(3), dtype=torch.float64)
    z, loss = polish_local(y, op, G, z0, steps=1)
    ref = torch.linalg.lstsq(op.A @ G.U, y.unsqueeze(-1)).solution.squeeze(-1)
    torch.testing.assert_close(z, ref.unsqueeze(1).expand_as(z), rtol=1e-9, atol=1e-9)
    fun = ilib.csgm_objective(y, op, G)
    assert (loss <= fun(z0) + 1e-12).all()


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000), m=st.integers(1, 12))
def test_polish_never_increases_the_csgm_loss_of_a_relu_net(seed, m):
    G = ilib.ReLUGenerator.random([3, 20, 40], batch=2, seed=seed, dtype="float64", device="cpu")
    op = ilib.GaussianOperator.random(m, 40, batch=2, seed=seed + 1, dtype="float64", device="cpu")
    y = op(G(torch.randn(2, 1, 3, generator=ilib.make_generator(seed + 2), dtype=torch.float64)).squeeze(1))
    z0 = torch.randn(2, 4, 3, generator=ilib.make_generator(seed + 3), dtype=torch.float64)
    fun = ilib.csgm_objective(y, op, G)
    _, loss = polish_local(y, op, G, z0, steps=3)
    assert (loss <= fun(z0) * (1 + 1e-12) + 1e-14).all()


def test_polish_from_the_right_region_lands_on_the_exact_latent():
    G = ilib.ReLUGenerator.random([4, 50, 200], batch=3, seed=0, dtype="float64", device="cpu")
    op = ilib.GaussianOperator.random(12, 200, batch=3, seed=1, dtype="float64", device="cpu")
    z_star = torch.randn(3, 1, 4, generator=ilib.make_generator(2), dtype=torch.float64)
    y = op(G(z_star).squeeze(1))
    z, loss = polish_local(y, op, G, z_star + 1e-4, steps=2)
    torch.testing.assert_close(z, z_star, rtol=0, atol=1e-9)


def test_widths_and_profile_relations():
    assert ex.widths(3, 50, 200, 1) == [3, 200] and ex.widths(3, 50, 200, 3) == [3, 50, 50, 200]
    with pytest.raises(ValueError, match="depth"):
        ex.widths(3, 50, 200, 0)
    with pytest.raises(ilib.ParameterError, match="'k_values'"):
        ex.Profile.resolve("smoke", {"k_values": [2, 300]})
    with pytest.raises(ilib.ParameterError, match="'delta_values'"):
        ex.Profile.resolve("smoke", {"delta_values": [0.5, 1.0]})
    with pytest.raises(ilib.ParameterError, match="'noise'"):
        ex.Profile.resolve("smoke", {"noise": 0.0})


def test_every_claim_of_the_notebook_is_declared_with_kind_and_source():
    claims = ilib.claims.declared(ex)
    assert len(claims) >= 9 and len({c.id for c in claims}) == len(claims)
    assert {c.kind for c in claims} <= {"theorem", "sanity", "finding"}
