"""Notebook 04's experiment: the exact linear formula under every corruption, the claims' statistics, the sections."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps

import ilib
from ilib import onebit as ob
from ilib.experiments import one_bit as ex


# --------------------------------------------------------------------------- (b) the exact formula
@pytest.mark.parametrize("fam", ex.linear_families(0.8, 0.15)[:-1], ids=lambda c: c.name)
def test_linear_formula_matches_simulation_for_every_corruption(fam):
    """E||xhat - x0||^2 = (1-c)^2 + (k lam^2 - c^2)/m, exact for Gaussian rows: every m within 4.5 standard errors
    (2000 trials; lam = 1.2 so that the clipping bias is visible)."""
    res = ex.linear_formula([fam], n=12, k=3, m_values=[8, 40], lam=1.2, trials=2000, stream=ilib.stream(5, "b"),
                            device="cpu")
    case = res.case(fam.name)
    mean, se = case.sq_err.mean(-1), case.sq_err.std(-1, ddof=1) / math.sqrt(2000)
    assert np.all(np.abs(mean - case.predicted) < 4.5 * se), (fam, mean, case.predicted, se)


def test_laplace_rows_keep_the_variance_term_exactly_when_clipping_is_rare():
    """For any isotropic rows E||lam y U^T a||^2 = k lam^2: with lam = 3 ||x0|| (bias ~ 1e-5) the formula holds."""
    fam = ex.linear_families(0.0, 0.0)[-1]
    case = ex.linear_formula([fam], n=60, k=3, m_values=[20, 80], lam=3.0, trials=2000, stream=ilib.stream(0, "b"),
                             device="cpu").case(fam.name)
    mean, se = case.sq_err.mean(-1), case.sq_err.std(-1, ddof=1) / math.sqrt(2000)
    assert np.all(np.abs(mean - case.predicted) < 4.5 * se), (mean, case.predicted, se)


def test_laplace_rows_break_the_gaussian_shrinkage_when_clipping_is_common():
    """Stein's lemma needs Gaussian rows: in a low dimension (<a, x> far from Gaussian) with heavy clipping the
    Gaussian-row c is visibly wrong, which is why the notebook reads Laplace rows in a high dimension."""
    fam = ex.linear_families(0.0, 0.0)[-1]
    case = ex.linear_formula([fam], n=12, k=3, m_values=[40], lam=1.2, trials=4000, stream=ilib.stream(0, "b"),
                             device="cpu").case(fam.name)
    mean, se = case.sq_err.mean(-1), case.sq_err.std(-1, ddof=1) / math.sqrt(4000)
    assert np.all(mean - case.predicted > 4 * se)


def test_linear_formula_detects_a_wrong_shrinkage():
    """The claim can fail: a formula with c off by 10% is refused by the same data (lam small: bias visible)."""
    fam = ex.Corruption("flips", flip=0.1)
    case = ex.linear_formula([fam], n=12, k=3, m_values=[200, 2000], lam=1.0, trials=400, stream=ilib.stream(1, "b"),
                             device="cpu").case("flips")
    wrong = ex.LinearCase(fam, case.m_values, case.k, case.lam, case.sq_err,
                          ob.linear_mse(list(case.m_values), k=3, lam=1.0, flip_prob=0.0))
    assert ex.LINEAR_MSE.evaluate(case)["agrees"] and not ex.LINEAR_MSE.evaluate(wrong)["agrees"]


def test_corruption_shrink_known_values():
    assert ex.Corruption("f", flip=0.2).shrink(2.0) == pytest.approx(0.6 * (2 * sps.norm.cdf(2.0) - 1), rel=1e-12)
    assert ex.Corruption("g", "gaussian", 1.0).shrink(2.0) == pytest.approx(2 * sps.norm.cdf(2 / math.sqrt(2)) - 1)
    assert ex.Corruption("n").shrink(3.0, r=0.5) == pytest.approx(2 * sps.norm.cdf(6.0) - 1)


# --------------------------------------------------------------------------- the claims' statistics
@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), rows=st.integers(1, 6), shift=st.integers(0, 5))
def test_least_consistent_picks_the_row_farthest_from_the_band_with_a_bonferroni_interval(seed, rows, shift):
    rng = np.random.default_rng(seed)
    s = rng.normal(1.0, 0.1, size=(rows, 50))
    s[shift % rows] += 1.0  # one row far above the band
    est = ex.least_consistent(s, 0.9, 1.1, labels=[f"r{i}" for i in range(rows)])
    assert est.value == pytest.approx(s[shift % rows].mean())
    t = sps.t.ppf(1 - 0.025 / rows, 49) * s[shift % rows].std(ddof=1) / math.sqrt(50)
    assert est.hi - est.value == pytest.approx(t, rel=1e-9)
    assert f"r{shift % rows}" in est.method


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000), a=st.floats(-1.5, 0.0))
def test_per_trial_slope_is_exact_on_power_laws_and_covers_the_exponent_under_noise(seed, a):
    x = np.array([100.0, 300, 1000, 3000])
    c = np.random.default_rng(seed).uniform(0.5, 2.0, size=8)
    exact = ex.per_trial_slope(x, c[None, :] * x[:, None] ** a)
    assert exact.value == pytest.approx(a, abs=1e-9) and exact.hi - exact.lo < 1e-9
    noisy = np.abs(np.random.default_rng(seed + 1).normal(1, 0.3, size=(4, 400))) * x[:, None] ** a
    est = ex.per_trial_slope(x, noisy)
    assert est.lo - 0.02 < a < est.hi + 0.02  # the mean of log|N(1, 0.3)| does not depend on x
    assert ex.per_trial_slope(x[:1], noisy[:1]) is None


def test_k_slope_bootstrap_covers_the_true_exponent():
    """Errors exactly c sqrt(k) times iid noise: the bootstrap interval of the slope in k covers 1/2."""
    rng = np.random.default_rng(0)
    k = (2, 4, 8, 16)
    err = np.stack([math.sqrt(kk) * np.abs(rng.normal(1, 0.2, 300)) for kk in k])
    curve = ex.KCurve(1000, k, err, np.sqrt(np.array(k) * 9 - 1), boot_seed=3, n_boot=500)
    est = curve.slope()
    assert est.lo < 0.5 < est.hi and est.hi - est.lo < 0.05
    assert curve.predicted_slope() == pytest.approx(0.5, abs=0.02)


def test_lambda_band_is_one_grid_step_around_the_nearest_grid_point():
    grid = (0.5, 0.707, 1.0, 1.414, 2.0, 2.828, 4.0)
    sweep = ex.LambdaSweep(grid, 5, 2000, np.ones((7, 3)), np.ones(7), lam_star=2.3, boot_seed=0)
    assert sweep.predicted_band() == (1.414, 2.828)
    edge = ex.LambdaSweep(grid, 5, 2000, np.ones((7, 3)), np.ones(7), lam_star=0.3, boot_seed=0)
    assert edge.predicted_band() == (0.5, 0.707)
    err = np.tile(np.array([5.0, 4, 3, 2, 1, 2, 3])[:, None], (1, 20)) + 0.01 * np.random.default_rng(0).random((7, 20))
    best = ex.LambdaSweep(grid, 5, 2000, err, np.ones(7), 2.3, boot_seed=1, n_boot=200).best_estimate()
    assert best.value == best.lo == best.hi == 2.0


def test_kept_norm_is_the_linear_generators_rms_norm():
    """x_hat = U^T v for Gaussian rows and a linear G: E||x_hat||^2 = c^2 + (k lam^2 - c^2)/m exactly."""
    fam = ex.Corruption("g", "gaussian", 0.5)
    case = ex.linear_formula([fam], n=10, k=3, m_values=[30], lam=1.5, trials=3000, stream=ilib.stream(2, "n"),
                             device="cpu").case("g")
    # ||x_hat||^2 = ||x_hat - x0||^2 + 2 <x_hat - x0, x0> + 1; check through the formula's pieces instead:
    c = fam.shrink(1.5)
    want = ex.kept_norm(c, k=3, lam=1.5, m=30) ** 2
    assert want == pytest.approx(c**2 + (3 * 1.5**2 - c**2) / 30)
    assert float(case.predicted[0]) == pytest.approx((1 - c) ** 2 + want - c**2, rel=1e-12)


def test_huber_threshold_is_the_scaled_mad_of_the_measurements():
    y = torch.tensor([[1.0, -2.0, 3.0, -4.0, 5.0]], dtype=torch.float64)
    assert float(ex.huber_threshold(y)) == pytest.approx(1.345 * 1.4826 * 3.0)


# --------------------------------------------------------------------------- the sections, small
SMALL = dict(restarts=2, steps=80, lr=0.2, device="cpu")


def test_relu_rate_falls_with_m_and_the_same_stream_gives_the_same_numbers():
    kw = dict(width=60, n=150, lam=2.5, noise_std=0.1, trials=6, **SMALL)
    a = ex.relu_rate([2, 4], [100, 400, 1600, 6400], stream=ilib.stream(0, "c"), **kw)
    b = ex.relu_rate([2, 4], [100, 400, 1600, 6400], stream=ilib.stream(0, "c"), **kw)
    c = ex.relu_rate([2, 4], [100, 400, 1600, 6400], stream=ilib.stream(1, "c"), **kw)
    assert np.array_equal(a.err, b.err) and not np.array_equal(a.err, c.err)
    for k in (2, 4):
        curve = a.at_k(k)
        assert np.all(np.diff(curve.rms) < 0)
        assert -0.75 < curve.slope().value < -0.3
    assert a.at_m(1600).rms[1] > a.at_m(1600).rms[0]  # more latent dimensions, more error


def test_robustness_huber_beats_least_squares_under_cauchy_noise_and_skips_baselines_for_laplace():
    fams = ex.robust_families([0.0, 3.0], [0.0, 0.2], heavy_df=1)
    res = ex.robustness({k: fams[k] for k in ("Cauchy noise", "Laplace rows")}, k=3, m=300, width=60, n=150, lam=3.0,
                        trials=6, csgm_steps=150, csgm_lr=0.05, stream=ilib.stream(0, "d"), **SMALL)
    cauchy, lap = res.family("Cauchy noise"), res.family("Laplace rows")
    assert cauchy.has_baselines and not lap.has_baselines
    assert np.median(cauchy.huber_err[-1]) < np.median(cauchy.ls_err[-1])
    assert np.median(cauchy.ls_err[0]) < 1e-2  # no noise: CSGM on real values is (nearly) exact
    assert cauchy.onebit_err.shape == (2, 6) and np.isnan(lap.ls_err).all()
    with pytest.raises(ValueError, match="family"):
        ex.robustness({"mixed": (ex.Corruption("a", "gaussian", 1.0), ex.Corruption("b", "laplace", 1.0))}, k=3, m=50,
                      width=20, n=40, lam=3.0, trials=2, csgm_steps=2, csgm_lr=0.05, stream=ilib.stream(0, "d"), **SMALL)


def test_landscape_negative_point_is_near_rho_2_and_the_negation_check_escapes():
    res = ex.landscape(width=300, n=400, m=500, lam=3.0, noise_std=0.0, nets=12, grid=5, starts=10, steps=100, lr=0.2,
                       stream=ilib.stream(2, "e"), device="cpu")
    assert abs(res.t_clean.mean() - 1 / math.pi) < 4 * res.t_clean.std(ddof=1) / math.sqrt(12) + 0.01
    assert np.all(res.gd_negate[..., 0] > 0) and np.all(res.loss_pos < res.loss_neg)
    assert res.rho == pytest.approx(1 / math.pi)


def test_embedding_spread_shrinks_with_m():
    res = ex.embedding(k=3, width=50, n=120, m_values=[50, 500, 5000], pairs=100, trials=3, stream=ilib.stream(0, "f"),
                       device="cpu")
    assert np.all(np.diff(res.max_dev) < 0) and res.max_dev[-1] < 0.05
    assert ex.EMBED_RATE.evaluate(res)["agrees"]


def test_biht_beats_the_correlation_estimator_without_noise():
    res = ex.consistent_decoder(k=3, width=60, n=150, m_values=[100, 400, 1600], trials=6, biht_steps=20,
                                project_steps=10, stream=ilib.stream(0, "g"), **SMALL)
    rms = lambda e: np.sqrt((e**2).mean(-1))  # noqa: E731
    assert np.all(rms(res.biht_err) < rms(res.corr_err))
    assert res.slope("biht").value < res.slope("correlation").value


# --------------------------------------------------------------------------- parameters and claims
@pytest.mark.parametrize("name,value", [("m_fixed", 3000), ("lam_values", [1.0, 0.5, 2.0]), ("k_values", [2, 500]),
                                        ("k_fixed", 500), ("noise_values", [0.0]), ("flip_values", [0.1, 0.5]),
                                        ("biht_m_values", [100])])
def test_bad_parameters_are_refused_naming_the_parameter(name, value):
    with pytest.raises(ilib.ParameterError, match=f"'{name}'"):
        ex.Profile.resolve("smoke", {name: value})


def test_every_claim_is_declared_with_a_kind_a_source_and_a_unique_id():
    claims = ilib.claims.declared(ex)
    assert len(claims) >= 20 and len({c.id for c in claims}) == len(claims)
    kinds = {c.kind for c in claims}
    assert kinds == {"theorem", "sanity", "finding"}
