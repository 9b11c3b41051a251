"""Notebook 03's experiment: the sweeps behind the claims, on small sizes, with their streams and their claims."""

import math

import numpy as np
import pytest

import ilib
from ilib.angles import rho
from ilib.experiments import hand_voroninski as ex

CPU = "cpu"


def s(name):
    return ilib.stream(0, name)


def test_profiles_resolve_and_bad_values_are_refused_naming_the_parameter():
    assert ex.Profile.resolve("smoke").grid_points == 31
    assert len(ex.Profile.names()) <= 23  # the parameters cell, profile and seed included, fits in 25 lines
    with pytest.raises(ilib.ParameterError, match="sup_n_values"):
        ex.Profile.resolve("smoke", {"sup_n_values": [100, 200]})
    with pytest.raises(ilib.ParameterError, match="k_values"):
        ex.Profile.resolve("smoke", {"k_values": [5, 5000]})
    with pytest.raises(ilib.ParameterError, match="lr"):
        ex.Profile.resolve("smoke", {"lr": 1.5})


def test_rho_table_is_the_identity_it_checks():
    t = ex.rho_table()
    assert ex.RHO_IS_COS.evaluate(t)["agrees"] and t.rho[1] == pytest.approx(1 / math.pi)


def test_landscape_section_places_x0_at_the_grid_minimum_and_spreads_t_star_around_rho():
    a = ex.landscape_section((2, 40, 200), points=21, spread_networks=400, stream=s("a"), device=CPU)
    assert a.empirical.shape == (21, 21) and a.grad_expected.shape == (21, 21, 2)
    # x0 = (1, 0) is grid point (row 10, column 15): both landscapes vanish there
    assert a.expected[10, 15] < 1e-12 and a.empirical[10, 15] < 1e-12
    assert 0 <= a.quantile <= 1 and abs(np.median(a.spread_t) - rho(2)) < 0.05


def test_rho_sweep_tends_to_rho_and_its_streams_are_reproducible():
    r = ex.rho_sweep([2, 3], [256, 30_000], networks=40, stream=s("b"), device=CPU)
    assert np.abs(r.mean[:, -1] - [rho(2), rho(3)]).max() < 0.01 and (r.sd[:, -1] < r.sd[:, 0]).all()
    again = ex.rho_sweep([2, 3], [256, 30_000], networks=40, stream=s("b"), device=CPU)
    other = ex.rho_sweep([2, 3], [256, 30_000], networks=40, stream=s("b2"), device=CPU)
    assert np.array_equal(r.t, again.t) and not np.array_equal(r.t, other.t)
    assert r.at(3).t.shape == (2, 40)


def test_wdc_section_suprema_bound_the_fixed_pairs_and_fall_with_n():
    w = ex.wdc_section([300, 3000, 30000], [60, 240], k=4, layers=3, pairs=6, stream=s("c"), device=CPU)
    assert w.fixed.shape == (3, 3, 6) and w.sup_lower.shape == (2, 3)
    assert (w.sup_upper >= w.sup_fixed.max(-1)).all() and (w.sup_lower <= w.sup_upper).all()
    assert w.sup_lower.mean(1)[1] < w.sup_lower.mean(1)[0]
    assert -0.6 < w.fixed_fit().value < -0.4
    # Lemma 9's epsilon with c = 1 solves n = eps^-2 log(1/eps) k log k
    e = w.lemma_epsilon([1000.0])[0]
    assert 2 * math.log(2) * math.log(1 / e) / e**2 == pytest.approx(1000.0)


def test_rric_section_second_moment_is_one_and_the_ascent_finds_more():
    r = ex.rric_section([20, 200], [3, 20, 100], instances=3, quadruples=40, restarts=4, steps=30, stream=s("r"), device=CPU)
    assert r.fixed.shape == (2, 3, 40) and r.adversarial.shape == (2, 3)
    est = r.second_moment_estimate()
    assert est.lo <= 1 <= est.hi and est.n == 6
    assert (r.adversarial >= r.fixed.max(-1)).all()
    with pytest.raises(ValueError, match="restarts"):
        ex.rric_section([20], [3, 20, 100], instances=1, quadruples=4, restarts=5, steps=1, stream=s("r"), device=CPU)


def test_gradient_section_deviation_shrinks_with_width():
    g = ex.gradient_section([50, 800], networks=3, points=8, stream=s("g"), device=CPU)
    assert g.deviation[1].mean() < 0.5 * g.deviation[0].mean()  # ~ sqrt(16) = 4x smaller expected


def test_success_sweep_skips_wide_outputs_and_pairs_its_runs():
    sw = ex.success_sweep([2, 3], [2.0, 16.0], k=2, networks=2, starts=3, cone_count=3, steps=40, lr=0.5, negate_every=20,
                          max_width=600, stream=s("d"), device=CPU)
    assert set(sw.widths) == {(2, 2.0), (2, 16.0), (3, 2.0)}  # 2 * 16^3 > 600 is not run
    assert np.isnan(sw.rate("inversion", True, "cone")[1, 1]) and sw.top == (2, 16.0)
    v = sw.view("compressive", "random")
    assert v.success(True).shape == (2, 3) and v.predicted(False).shape == (2, 3)
    gain = sw.paired_gain("inversion", "cone", sw.top)
    assert gain.size == 2 and (np.abs(gain) <= 1).all()  # one mean per network
    for claim in (ex.NEGATION_NEVER_LOWERS, ex.NEGATION_HELPS_WRONG_SIDE):
        assert claim.evaluate(sw)["status"] in ("agrees", "disagrees")


def test_stationary_section_finds_x0_on_an_expansive_network():
    st = ex.stationary_section(3, [16.0], networks=2, starts=4, steps=400, lr=0.02, stream=s("e"), device=CPU)
    c = st.counts(0)
    assert c["minima"] == 8 and c["spurious"] == 0 and c["at_x0"] >= 1
    assert ex.NO_SPURIOUS_STATIONARY.evaluate(st)["agrees"]


def test_convergence_section_rate_is_the_local_quadratic_rate():
    cv = ex.convergence_section([3, 48, 768], networks=2, starts=3, steps=200, lr=0.5, negate_every=20, stream=s("f"),
                                device=CPU)
    assert cv.path.shape == (41, 2, 3) and (cv.q < 1).all()
    ratio = cv.rate_ratio()
    assert np.nanmax(np.abs(ratio - 1)) < 0.05
    first = cv.steps_to([1e-1, 1e-6])
    assert (first[0] <= first[1]).all()


def test_hessian_sweep_mean_is_the_identity_and_the_gap_closes():
    h = ex.hessian_sweep(3, [40, 2000], networks=300, stream=s("h"), device=CPU)
    assert h.eig.shape == (2, 300, 3) and h.gap[1].mean() < h.gap[0].mean() / 3
    # E 2^d Lambda^T Lambda = I: the mean eigenvalue is 1 (trace / k)
    assert abs(h.eig[1].mean() - 1) < 0.01


def test_denoising_error_is_sigma2_k_over_n_in_the_small_noise_regime():
    # near x*, G is the rank-k linear map Lambda_x*: the error is the noise projected on its range, E = sigma^2 k / n
    d = ex.denoising_sweep([4], [0.01], hidden=100, n=400, networks=4, trials=15, steps=150, lr=0.5, negate_every=20,
                           stream=s("den"), device=CPU)
    assert 0.7 < d.ratio.mean() < 1.3 and d.latent_error.max() < 0.1
    with pytest.raises(ValueError, match="k_values"):
        ex.denoising_sweep([500], [0.1], hidden=10, n=20, networks=1, trials=1, steps=1, lr=0.1, negate_every=1, stream=s("x"))
    with pytest.raises(ValueError, match="sigma2_values"):
        ex.denoising_sweep([2], [-0.1], hidden=10, n=20, networks=1, trials=1, steps=1, lr=0.1, negate_every=1, stream=s("x"))


def test_every_claim_has_a_kind_a_source_and_a_distinct_id():
    claims = ilib.claims.declared(ex)
    assert len({c.id for c in claims}) == len(claims) and len(claims) >= 20
    assert {c.kind for c in claims} == {"theorem", "sanity", "finding"}
