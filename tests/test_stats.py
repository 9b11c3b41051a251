import doctest
import math

import numpy as np
import pytest
import scipy.stats
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy import special

from ilib import stats


def test_doctests():
    assert doctest.testmod(stats, raise_on_error=False).failed == 0


# ---------------------------------------------------------------------------------------------- crossing
def test_crossing_linear_interpolation():
    assert stats.crossing([1, 2, 3, 4], [0.0, 0.2, 0.6, 1.0]) == pytest.approx(2.75)
    assert stats.crossing([0, 10], [0.0, 1.0], level=0.25) == pytest.approx(2.5)


def test_crossing_log_interpolation():
    # halfway in log x between 10 and 1000 is 100
    assert stats.crossing([10, 1000], [0.0, 1.0], interp="log") == pytest.approx(100.0)
    assert stats.crossing([1, 4, 16], [0.0, 0.25, 0.75], interp="log") == pytest.approx(8.0)


def test_crossing_never_reached_is_nan_and_first_point_is_x0():
    assert math.isnan(stats.crossing([1, 2, 3], [0.1, 0.2, 0.3]))
    assert stats.crossing([5, 10], [0.6, 0.9]) == 5.0
    assert stats.crossing([5, 10], [0.6, 0.9], interp="log") == 5.0  # exactly x[0], no exp(log) round trip
    assert math.isnan(stats.crossing([1, 2], [np.nan, np.nan]))


def test_crossing_exactly_at_the_level_is_that_point():
    assert stats.crossing([1, 2, 3], [0.0, 0.5, 1.0]) == 2.0


def test_crossing_of_a_decreasing_curve():
    assert stats.crossing([1, 2, 3], [0.9, 0.7, 0.3], direction="down") == pytest.approx(2.5)
    assert stats.crossing([1, 2], [0.4, 0.1], direction="down") == 1.0
    assert math.isnan(stats.crossing([1, 2], [0.9, 0.8], direction="down"))
    # "up" on a falling curve: the first point already reaches
    assert stats.crossing([1, 2], [0.9, 0.8]) == 1.0


def test_crossing_is_vectorised_over_leading_axes():
    x = np.array([1.0, 2.0, 3.0, 4.0])
    y = np.stack([np.clip((x - c) / 2, 0, 1) for c in (0.5, 1.0, 1.5, 2.0, 2.5, 9.0)]).reshape(2, 3, 4)
    out = stats.crossing(x, y)
    assert out.shape == (2, 3)
    expect = [[1.5, 2.0, 2.5], [3.0, 3.5, np.nan]]  # y = (x - c) / 2 reaches 1/2 at x = c + 1
    np.testing.assert_allclose(out, expect)


def test_crossing_skips_nan_entries():
    # the NaN at x=2 is skipped: interpolation between x=1 (0.0) and x=3 (1.0)
    assert stats.crossing([1, 2, 3], [0.0, np.nan, 1.0]) == pytest.approx(2.0)
    # a leading NaN: the first non-NaN point is "the first point"
    assert stats.crossing([1, 2, 3], [np.nan, 0.7, 1.0]) == 2.0


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(x=[1, 1, 2], y=[0, 0, 1]), "increasing"),
        (dict(x=[1, 2], y=[0, 0, 1]), "shape"),
        (dict(x=[0, 1], y=[0, 1], interp="log"), "positive"),
        (dict(x=[1, 2], y=[0, np.inf]), "infinit"),
        (dict(x=[1, 2], y=[0, 1], interp="cubic"), "interp"),
        (dict(x=[1, 2], y=[0, 1], direction="left"), "direction"),
        (dict(x=[1, 2], y=[0, 1], level=np.nan), "level"),
    ],
)
def test_crossing_refuses_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        stats.crossing(**kwargs)


_curve = st.integers(2, 12).flatmap(
    lambda n: st.tuples(
        st.lists(st.floats(0.01, 5.0), min_size=n, max_size=n),
        st.lists(st.floats(-1.0, 2.0), min_size=n, max_size=n),
    )
)


@settings(max_examples=200, deadline=None)
@given(curve=_curve, level=st.floats(-0.5, 1.5), log=st.booleans(), down=st.booleans())
def test_crossing_lies_between_the_bracketing_points(curve, level, log, down):
    steps, y = curve
    x = np.cumsum(steps) + (0.0 if log else -1.0)
    y = np.array(y)
    c = stats.crossing(x, y, level, interp="log" if log else "linear", direction="down" if down else "up")
    reach = (y <= level) if down else (y >= level)
    if not reach.any():
        assert math.isnan(c)
        return
    j = int(np.argmax(reach))
    if j == 0:
        assert c == x[0]
        return
    assert x[j - 1] <= c <= x[j]
    # no point before the crossing reaches the level, and the interpolated curve is at the level there
    assert not reach[x < c].any() or c == x[j]
    pos, cpos = (np.log(x), math.log(c)) if log else (x, c)
    assert np.interp(cpos, pos, y) == pytest.approx(level, abs=1e-9)


@settings(max_examples=50, deadline=None)
@given(y=st.lists(st.lists(st.one_of(st.floats(0, 1), st.just(np.nan)), min_size=5, max_size=5), min_size=1, max_size=6))
def test_crossing_vectorised_equals_curve_by_curve(y):
    x = np.arange(1.0, 6.0)
    y = np.array(y)
    out = stats.crossing(x, y, 0.5)
    loop = [stats.crossing(x, row, 0.5) for row in y]
    np.testing.assert_array_equal(out, loop)


# ------------------------------------------------------------------------------------ logistic threshold
def _simulate(rng, x, trials, x50, slope, log_x=False):
    u = np.log(x) if log_x else x
    u50 = math.log(x50) if log_x else x50
    return rng.binomial(trials, special.expit(slope * (u - u50)))


def test_logistic_threshold_interval_covers_the_truth_and_is_unbiased():
    rng = np.random.default_rng(20240501)
    x = np.arange(1.0, 11.0)
    trials = np.full(x.size, 20)
    x50 = 5.3
    fits = [stats.logistic_threshold(x, _simulate(rng, x, trials, x50, 0.9), trials) for _ in range(200)]
    covered = np.mean([f.lo <= x50 <= f.hi for f in fits])
    assert covered >= 0.88
    est = np.array([f.x_level for f in fits])
    assert abs(est.mean() - x50) < 3 * est.std() / math.sqrt(est.size) + 0.02
    assert all(f.method == "firth-profile" and f.ci == 0.95 and f.level == 0.5 for f in fits)


def test_logistic_threshold_on_log_x_covers_the_truth():
    rng = np.random.default_rng(7)
    x = np.geomspace(2, 200, 8)
    trials = np.full(x.size, 10)
    fits = [stats.logistic_threshold(x, _simulate(rng, x, trials, 20.0, 2.0, log_x=True), trials, log_x=True) for _ in range(200)]
    assert np.mean([f.lo <= 20.0 <= f.hi for f in fits]) >= 0.88
    logs = np.log([f.x_level for f in fits])
    assert abs(logs.mean() - math.log(20.0)) < 3 * logs.std() / math.sqrt(logs.size) + 0.02


@pytest.mark.parametrize(
    "x, successes",
    [
        ([1, 2, 3, 4, 5, 6], [0, 0, 0, 10, 10, 10]),
        ([1, 2, 5, 9, 10], [0, 0, 0, 10, 10]),
        ([1, 2, 3, 4, 5, 6, 7, 8], [0, 0, 0, 0, 0, 0, 0, 10]),
    ],
)
def test_complete_separation_gives_a_finite_threshold_inside_the_gap(x, successes):
    fit = stats.logistic_threshold(x, successes, [10] * len(x))
    last0 = max(xi for xi, s in zip(x, successes) if s == 0)
    first1 = min(xi for xi, s in zip(x, successes) if s == 10)
    assert math.isfinite(fit.slope) and math.isfinite(fit.intercept)
    assert last0 < fit.x_level < first1
    assert fit.lo <= fit.x_level <= fit.hi


def test_firth_estimate_maximises_the_penalised_likelihood_and_the_profile_hits_the_quantile():
    from scipy import optimize

    x = np.array([1.0, 2, 3, 4, 5, 6])
    k = np.array([0, 1, 4, 7, 9, 10.0])
    n = np.full(6, 10.0)
    fit = stats.logistic_threshold(x, k, n)

    def pl(b0, b1):
        eta = b0 + b1 * x
        p = special.expit(eta)
        w = n * p * (1 - p)
        info = np.array([[w.sum(), (w * x).sum()], [(w * x).sum(), (w * x * x).sum()]])
        return np.sum(k * special.log_expit(eta) + (n - k) * special.log_expit(-eta)) + 0.5 * np.linalg.slogdet(info)[1]

    best = optimize.minimize(lambda b: -pl(*b), [0.0, 0.0], method="Nelder-Mead", options=dict(xatol=1e-10, fatol=1e-12, maxiter=10000))
    np.testing.assert_allclose([fit.intercept, fit.slope], best.x, rtol=1e-5)
    # at each end of the interval, the profile deviance equals the chi-square(1) 95% quantile
    q = scipy.stats.chi2.ppf(0.95, 1)
    top = pl(fit.intercept, fit.slope)
    for end in (fit.lo, fit.hi):
        prof = optimize.minimize_scalar(lambda b1: -pl(-b1 * end, b1), bracket=(fit.slope, fit.slope / 2))
        assert 2 * (top + prof.fun) == pytest.approx(q, abs=1e-6)


def test_logistic_threshold_of_a_falling_curve_at_another_level():
    x = np.arange(1.0, 7.0)
    fit = stats.logistic_threshold(x, [10, 10, 8, 2, 0, 0], [10] * 6, level=0.9)
    assert fit.slope < 0
    assert fit.probability(fit.x_level) == pytest.approx(0.9)
    assert fit.lo < fit.x_level < fit.hi < 4


def test_logistic_threshold_without_a_trend_is_nan_and_unbounded_sides_are_infinite():
    flat = stats.logistic_threshold([1, 2, 3, 4], [5, 5, 5, 5], [10] * 4)
    assert math.isnan(flat.x_level) and math.isnan(flat.lo) and math.isnan(flat.hi)
    two = stats.logistic_threshold([1, 2], [0, 1], [1, 1])
    assert two.lo == -math.inf and two.hi == math.inf and two.x_level == pytest.approx(1.5)
    logged = stats.logistic_threshold([1, 2], [0, 1], [1, 1], log_x=True)
    assert logged.lo == 0.0 and logged.hi == math.inf


@pytest.mark.parametrize(
    "args, kwargs, match",
    [
        (([1, 2], [0, 3], [2, 2]), {}, "exceed"),
        (([1, 2], [0, 1.5], [2, 2]), {}, "successes"),
        (([1, 2], [0, 1], [2, -2]), {}, "trials"),
        (([1, 1], [0, 1], [2, 2]), {}, "distinct"),
        (([1, 2], [0, 1], [2, 2]), dict(level=1.0), "level"),
        (([1, 2], [0, 1], [2, 2]), dict(ci=0.0), "ci"),
        (([0, 2], [0, 1], [2, 2]), dict(log_x=True), "positive"),
        (([1, 2, 3], [0, 1], [2, 2]), {}, "length"),
    ],
)
def test_logistic_threshold_refuses_bad_input(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        stats.logistic_threshold(*args, **kwargs)


@settings(max_examples=30, deadline=None)
@given(
    k=st.lists(st.integers(0, 8), min_size=3, max_size=7),
    level=st.floats(0.1, 0.9),
)
def test_logistic_interval_contains_its_estimate(k, level):
    x = np.arange(1.0, len(k) + 1)
    fit = stats.logistic_threshold(x, k, [8] * len(k), level=level)
    assume(math.isfinite(fit.x_level))
    assert fit.lo <= fit.x_level <= fit.hi


# -------------------------------------------------------------------------------------------- line fits
@pytest.mark.parametrize("a, b", [(2.0, math.log(3.0)), (-0.5, 1.0), (0.0, -2.0), (1.37, 0.0)])
def test_loglog_fit_of_an_exact_power_law(a, b):
    x = np.array([1.0, 2.0, 5.0, 10.0, 50.0])
    fit = stats.loglog_fit(x, math.exp(b) * x**a)
    assert fit.slope == pytest.approx(a, abs=1e-12)
    assert fit.intercept == pytest.approx(b, abs=1e-12)
    assert fit.hi - fit.lo == pytest.approx(0.0, abs=1e-10) and fit.se == pytest.approx(0.0, abs=1e-10)
    assert fit.r2 == pytest.approx(1.0) and fit.n == 5 and fit.loglog
    np.testing.assert_allclose(fit.predict([3.0, 7.0]), math.exp(b) * np.array([3.0, 7.0]) ** a)


def test_loglog_fit_drops_nonpositive_and_nan_points():
    fit = stats.loglog_fit([1, 2, -1, 0, 4, 8, np.nan, 16], [2, 8, 5, 5, 32, np.inf, 3, 512])
    assert fit.n == 4 and fit.slope == pytest.approx(2.0)


def test_loglog_fit_with_too_few_points():
    one = stats.loglog_fit([1, 0], [1, 1])
    assert one.n == 1 and math.isnan(one.slope)
    two = stats.loglog_fit([1, 2], [1, 4])
    assert two.slope == pytest.approx(2.0) and math.isnan(two.lo) and math.isnan(two.se)
    same_x = stats.loglog_fit([2, 2, 2], [1, 2, 3])
    assert math.isnan(same_x.slope)


def test_line_fits_agree_with_linregress():
    rng = np.random.default_rng(3)
    x = rng.uniform(1, 10, 30)
    y = 2.0 - 0.7 * x + rng.normal(0, 0.5, 30)
    ref = scipy.stats.linregress(x, y)
    fit = stats.linear_fit(x, y, ci=0.9)
    assert fit.slope == pytest.approx(ref.slope) and fit.intercept == pytest.approx(ref.intercept)
    assert fit.se == pytest.approx(ref.stderr) and fit.r2 == pytest.approx(ref.rvalue**2)
    half = scipy.stats.t.ppf(0.95, 28) * ref.stderr
    assert (fit.lo, fit.hi) == pytest.approx((ref.slope - half, ref.slope + half))
    assert not fit.loglog and fit.predict(2.0) == pytest.approx(ref.intercept + 2 * ref.slope)
    lref = scipy.stats.linregress(np.log(x), np.log(np.abs(y) + 1))
    lfit = stats.loglog_fit(x, np.abs(y) + 1)
    assert lfit.slope == pytest.approx(lref.slope) and lfit.se == pytest.approx(lref.stderr)


def test_t_interval_covers_the_true_slope_at_its_level():
    rng = np.random.default_rng(11)
    x = np.geomspace(1, 100, 6)
    covered = []
    for _ in range(1000):
        y = 4.0 * x**-0.5 * np.exp(rng.normal(0, 0.3, x.size))
        fit = stats.loglog_fit(x, y, ci=0.9)
        covered.append(fit.lo <= -0.5 <= fit.hi)
    # 0.9 nominal; binomial sd of the estimate over 1000 runs is about 0.0095
    assert 0.87 <= np.mean(covered) <= 0.93


@settings(max_examples=100, deadline=None)
@given(pts=st.lists(st.tuples(st.floats(0.1, 100), st.floats(0.1, 100)), min_size=3, max_size=20))
def test_slope_interval_contains_the_slope(pts):
    x, y = np.array(pts).T
    assume(np.ptp(np.log(x)) > 1e-6)
    fit = stats.loglog_fit(x, y)
    assert fit.lo <= fit.slope <= fit.hi
    assert fit.r2 <= 1 + 1e-12


# ------------------------------------------------------------------------------ intervals, means, bootstrap
@pytest.mark.parametrize("method, scipy_method", [("wilson", "wilson"), ("clopper-pearson", "exact")])
@pytest.mark.parametrize("ci", [0.9, 0.95, 0.99])
def test_binomial_interval_matches_scipy(method, scipy_method, ci):
    for n in (1, 5, 17, 100):
        for k in sorted({0, 1, n // 3, n // 2, n - 1, n}):
            lo, hi = stats.binomial_interval(k, n, ci=ci, method=method)
            ref = scipy.stats.binomtest(k, n).proportion_ci(confidence_level=ci, method=scipy_method)
            assert (lo, hi) == pytest.approx((ref.low, ref.high), abs=1e-10)


def test_binomial_interval_known_values_and_vectorised():
    lo, hi = stats.binomial_interval(7, 10)
    assert (lo, hi) == pytest.approx((0.3967781, 0.8922087), abs=1e-6)  # Wilson, 95%
    k = np.array([[0, 3], [9, 10]])
    lo, hi = stats.binomial_interval(k, 10, method="clopper-pearson")
    assert lo.shape == hi.shape == (2, 2)
    assert lo[0, 0] == 0.0 and hi[1, 1] == 1.0
    assert hi[0, 0] == pytest.approx(1 - 0.025 ** (1 / 10))  # k = 0: 1 - (alpha/2)^(1/n)
    lo0, hi0 = stats.binomial_interval(0, 0)
    assert math.isnan(lo0) and math.isnan(hi0)
    with pytest.raises(ValueError, match="successes"):
        stats.binomial_interval(11, 10)
    with pytest.raises(ValueError, match="method"):
        stats.binomial_interval(1, 10, method="wald")


@settings(max_examples=200, deadline=None)
@given(n=st.integers(1, 500), frac=st.floats(0, 1), ci=st.floats(0.5, 0.999), method=st.sampled_from(["wilson", "clopper-pearson"]))
def test_binomial_interval_contains_the_proportion(n, frac, ci, method):
    k = round(frac * n)
    lo, hi = stats.binomial_interval(k, n, ci=ci, method=method)
    assert 0.0 <= lo <= k / n + 1e-12 and k / n - 1e-12 <= hi <= 1.0


def test_mean_se():
    a = np.arange(12.0).reshape(3, 4)
    m, se = stats.mean_se(a)
    np.testing.assert_allclose(m, a.mean(-1))
    np.testing.assert_allclose(se, a.std(-1, ddof=1) / 2)
    m0, se0 = stats.mean_se(a, axis=0)
    np.testing.assert_allclose(se0, a.std(0, ddof=1) / math.sqrt(3))
    mall, seall = stats.mean_se(a, axis=None)
    assert mall == pytest.approx(5.5) and seall == pytest.approx(a.std(ddof=1) / math.sqrt(12))
    assert math.isnan(stats.mean_se([1.0])[1])


def test_bootstrap_of_a_mean_matches_the_normal_interval():
    rng = np.random.default_rng(0)
    x = rng.normal(2.0, 1.0, 2000)
    est, lo, hi = stats.bootstrap(np.mean, x, n_boot=2000, rng=np.random.default_rng(1))
    assert est == pytest.approx(x.mean())
    half = 1.96 * x.std(ddof=1) / math.sqrt(x.size)
    assert lo == pytest.approx(est - half, abs=0.2 * half) and hi == pytest.approx(est + half, abs=0.2 * half)


def test_bootstrap_vectorised_equals_the_loop_and_is_reproducible():
    x = np.random.default_rng(5).exponential(size=(50, 3))
    a = stats.bootstrap(np.median, x, n_boot=300, rng=np.random.default_rng(9))
    b = stats.bootstrap(lambda s: np.median(s, axis=0), x, n_boot=300, rng=np.random.default_rng(9))
    c = stats.bootstrap(lambda s: np.median(s, axis=0), x, n_boot=300, rng=np.random.default_rng(9), vectorized=False)
    for u, v, w in zip(a, b, c):
        np.testing.assert_allclose(u, v)
        np.testing.assert_allclose(u, w)
    assert a[1].shape == (3,)


def test_bootstrap_of_two_samples_paired_and_independent():
    rng = np.random.default_rng(2)
    x = rng.normal(0, 1, 300)
    y = x + 0.5 + rng.normal(0, 0.1, 300)
    diff = lambda a, b, axis=0: np.mean(b, axis=axis) - np.mean(a, axis=axis)  # noqa: E731
    est, lo, hi = stats.bootstrap(diff, x, y, rng=np.random.default_rng(3), paired=True)
    est2, lo2, hi2 = stats.bootstrap(diff, x, y, rng=np.random.default_rng(3))
    assert est == pytest.approx(est2) and lo < 0.5 < hi
    assert hi - lo < 0.3 * (hi2 - lo2)  # pairing removes the shared variation
    with pytest.raises(ValueError, match="paired"):
        stats.bootstrap(diff, x, y[:10], rng=np.random.default_rng(0), paired=True)
    with pytest.raises(TypeError, match="rng"):
        stats.bootstrap(np.mean, x, rng=0)
    with pytest.raises(ValueError, match="n_boot"):
        stats.bootstrap(np.mean, x, rng=np.random.default_rng(0), n_boot=0)
