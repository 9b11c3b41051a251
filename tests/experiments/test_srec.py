"""Notebook 02's experiment: the sections' bookkeeping, the tail's interval on a case with a known answer, the claims' rules."""

import math

import numpy as np
import pytest
import torch
from scipy import stats as sst

import ilib
from ilib import srec
from ilib.experiments import srec as ex

SEARCH = dict(restarts=4, steps=40, lr=0.1, pool=32, screen_steps=5, polish_steps=10, jumps=2)


def test_the_tail_interval_covers_the_exact_tail_of_a_one_dimensional_range():
    """For k = 1, gamma = ||Au|| and m gamma^2 ~ chi^2_m: P(gamma < l) = chi2.cdf(m l^2; m), known exactly."""
    tail = ex.tail_section(12, (1,), 4, (4, 9, 16), 1500, level=0.6, stream=ilib.stream(0, "tail"), width_samples=4,
                           device="cpu")
    exact = sst.chi2.cdf(np.array(tail.m_values) * 0.6**2, np.array(tail.m_values))
    lo, hi = ilib.stats.binomial_interval(tail.below(tail.linear[0]), tail.draws, ci=0.999)
    assert ((lo <= exact) & (exact <= hi)).all(), (lo, exact, hi)
    assert (tail.gordon_linear(0) >= exact).all()  # and the theorem's bound lies above the exact tail


def test_tail_claims_read_only_the_informative_m_and_refute_a_rate_above_the_bound():
    c = ex.TailCheck(m_values=(4, 8, 16), below=np.array([90, 40, 0]), draws=100, bound=np.array([1.0, 0.2, 0.01]))
    v = ex.TAIL_GORDON.evaluate(c)
    assert v["status"] == "disagrees"  # 40 of 100 against a bound of 0.2
    ok = ex.TailCheck(m_values=(4, 8), below=np.array([90, 10]), draws=100, bound=np.array([1.0, 0.2]))
    assert ex.TAIL_GORDON.evaluate(ok)["status"] == "agrees"
    assert ex.TAIL_GORDON.evaluate(ex.TailCheck((4,), np.array([3]), 10, np.array([1.0])))["status"] == "n/a"


def test_gordon_claim_takes_the_worst_m_and_can_fail():
    rng = np.random.default_rng(0)
    gam = 0.5 + 0.01 * rng.standard_normal((3, 50))
    assert ex.GORDON_EXPECTATION.evaluate(ex.ExpectationCheck((1, 2, 3), gam, np.array([0.4, 0.45, 0.49])))["agrees"]
    assert not ex.GORDON_EXPECTATION.evaluate(ex.ExpectationCheck((1, 2, 3), gam, np.array([0.4, 0.6, 0.49])))["agrees"]


def test_linear_section_meets_sigma_min_and_the_same_stream_gives_the_same_numbers():
    kw = dict(stream=ilib.stream(3, "a"), device="cpu")
    a = ex.linear_section(20, (2, 3), (2, 3, 6, 12), 3, **kw)
    b = ex.linear_section(20, (2, 3), (2, 3, 6, 12), 3, **kw)
    c = ex.linear_section(20, (2, 3), (2, 3, 6, 12), 3, stream=ilib.stream(4, "a"), device="cpu")
    assert np.array_equal(a.exact, b.exact) and np.array_equal(a.adversarial, b.adversarial)
    assert not np.array_equal(a.exact, c.exact)
    assert ex.LINEAR_SEARCH_EXACT.evaluate(a)["agrees"] and ex.UPPER_NEVER_BELOW_EXACT.evaluate(a)["agrees"]
    assert (a.exact[1, 0] == 0).all() and (a.exact[0, 0] > 0).all()  # m < k: A U has a kernel; m = k: not


def test_relu_k2_section_brackets_and_lemma43_holds_on_the_same_instances():
    rk = ex.relu_k2_section(10, (3, 6, 12), 3, search=SEARCH, stream=ilib.stream(0, "b"), sampled_pairs=16,
                            width_samples=2, device="cpu")
    assert ex.BRACKET.evaluate(rk)["agrees"]
    assert (rk.sampled >= rk.exact - 1e-9).all() and (rk.region_lower >= 0).all()
    l43 = ex.lemma43_section(rk, steps=100, stream=ilib.stream(0, "d"), restarts=2, device="cpu")
    assert l43.error.shape == (3, 3) and (l43.eps >= 0).all() and (l43.rep_error > 0).all()
    np.testing.assert_allclose(l43.gamma, rk.exact)  # the same (A, G): regenerated from the section's stream
    v = ex.LEMMA43.evaluate(l43)
    assert v["agrees"] and v["measured"] < 1


def test_m_star_is_censored_at_the_grid_and_inf_beyond_it():
    curves = np.array([[0.6, 0.1, 0.0], [0.7, 0.2, 0.3], [0.8, 0.6, 0.4]])
    out = ex._crossings([4, 8, 16], curves, 0.5)
    assert out[0] == 4 and 8 < out[1] < 16 and math.isinf(out[2])


def test_subspace_thresholds_of_one_dimension_are_first_passages_of_the_chi_curve():
    """k = 1: sigma_min(A_m) = ||a_{1:m}|| / sqrt(m). The threshold is the first m at which this nested curve reaches the
    level, so P(m* <= m) >= P(gamma_m >= l) = P(chi^2_m >= m l^2) at every grid point m, and equal at the first one."""
    ms, level = list(range(1, 9)), 0.9
    sub = ex.subspace_thresholds(1, ms, 4000, level=level, stream=ilib.stream(0, "s"))
    a = srec.nested_operators(1, ms, batch=4000, seed=ilib.stream(0, "s"), dtype=torch.float64, device="cpu")[-1].A
    curves = np.stack([np.linalg.norm(a[:, :m, 0].numpy() * math.sqrt(ms[-1]), axis=1) / math.sqrt(m) for m in ms])
    np.testing.assert_allclose(sub, ex._crossings(ms, curves, level))  # the same numbers, computed independently
    p_reach = sst.chi2.sf(np.array(ms) * level**2, np.array(ms))
    cdf = np.array([(sub <= m).mean() for m in ms])
    assert abs(cdf[0] - p_reach[0]) < 4 * math.sqrt(p_reach[0] * (1 - p_reach[0]) / 4000)
    assert (cdf >= p_reach - 4 * np.sqrt(p_reach * (1 - p_reach) / 4000)).all()


def test_threshold_claims_on_a_constructed_sweep():
    def curve(k, d, n, shift):
        ms = (k, 2 * k, 4 * k, 8 * k, 16 * k)
        g = np.clip(1 - np.sqrt((shift * k) / np.array(ms, float)), 0, 1)[:, None] + np.zeros((1, 6))
        return ex.Curve(k=k, d=d, n=n, widths=tuple(ex.generator_widths(k, d, n, 16)), m_values=ms, upper=g, region_lower=g)

    sweep = ex.Sweep(curves=(curve(2, 1, 16, 3.0), curve(4, 1, 16, 3.0), curve(2, 2, 16, 3.5)), base=(2, 1, 16))
    th = ex.threshold_section(sweep, level=0.5, boot=100, stream=ilib.stream(0, "g"), subspace_trials=200)
    assert ex.THRESHOLD_WITHIN_LEMMA_COUNT.evaluate(th)["agrees"]
    assert ex.THRESHOLD_ABOVE_SUBSPACE.evaluate(th)["agrees"]  # k_eff = 3k > k
    assert ex.COUNT_SET_BY_K.evaluate(th)["agrees"]
    assert th.on_axis("d") == [0, 2] and th.on_axis("k") == [0, 1]
    bad = ex.Sweep(curves=(curve(2, 1, 16, 0.05),), base=(2, 1, 16))  # gamma far above a k-subspace's: impossible
    th_bad = ex.threshold_section(bad, level=0.5, boot=100, stream=ilib.stream(0, "g"), subspace_trials=200)
    assert not ex.THRESHOLD_ABOVE_SUBSPACE.evaluate(th_bad)["agrees"]


def test_star_configs_and_profile_relations():
    assert ex.star_configs((2, 4), (1, 2), (16, 32), (2, 1, 16)) == [(2, 1, 16), (4, 1, 16), (2, 2, 16), (2, 1, 32)]
    P = ex.Profile.resolve("paper")
    assert P.base == (4, 1, 128) and P.width == 128 and P.tail_n_relu == 20
    for name, value in [("linear_k_values", [2, 100]), ("sparse_k_values", [20]), ("k_values", [2, 4096]),
                        ("exact_m_values", [4, 3]), ("restarts", 1000), ("level", 1.0)]:
        with pytest.raises(ilib.ParameterError, match=f"'{name}'"):
            ex.Profile.resolve("smoke", {name: value})


def test_lipschitz_section_small_delta_approaches_the_cone_form():
    lip = ex.lipschitz_section(2, 1, 16, hidden=16, m_factor_values=(2, 4, 8, 16), trials=4, ratios=(3.0, 1e4),
                               search=SEARCH, level=0.5, boot=100, stream=ilib.stream(0, "h"), device="cpu")
    assert lip.upper.shape == (3, 4, 4) and math.isinf(lip.ratios[-1])
    assert (lip.upper[0] >= lip.upper[2] - 1e-6).mean() > 0.9  # a larger delta only raises the ratio
    assert ex.LIPSCHITZ_COUNT.evaluate(lip)["agrees"]
    assert lip.m_lip[0] < lip.m_lip[1]


def test_every_claim_is_declared_with_a_kind_and_a_source():
    claims = ilib.claims.declared(ex)
    assert len(claims) >= 12 and len({c.id for c in claims}) == len(claims)
    assert {c.kind for c in claims} == {"theorem", "sanity", "finding"}
    assert all(c.source and c.statement for c in claims)
