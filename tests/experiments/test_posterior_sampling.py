"""Notebook 11's experiment: bins and lemma bookkeeping, the Langevin selection and level targets, the unbiased
excess, the ratio estimate, streams, and the Profile's relations."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ilib
from ilib.experiments import posterior_sampling as ex

TOY = dict(n=20, m=2, noise=0.5, scale=0.5, separation=1.0, minority=0.2)


def test_toy_draws_bins_partition_the_draws_and_map_is_the_step():
    r = ex.toy_draws(draws=600, stream=ilib.stream(0, "t"), **TOY)
    bins = r.bins()
    assert sum(b.count for b in bins) == r.draws
    assert all(b.lo <= b.mean_q < b.hi or b.hi == 1.0 for b in bins)
    assert ex.MAP_STEP.evaluate(r)["measured"] == 0.0
    assert 0.15 < r.prior_share < 0.25
    # the lemma's quantile: exactly a delta share (or less) of the competitor's errors exceed eps
    for d in ex.DELTAS:
        case = r.lemma("MAP", d)
        assert case.comp_exceeds.mean() <= d + 1e-12 and case.comp_exceeds.mean() >= d - 2 / r.draws


def test_the_same_stream_gives_the_same_draws_and_another_stream_others():
    a = ex.toy_draws(draws=50, stream=ilib.stream(0, "a"), **TOY)
    b = ex.toy_draws(draws=50, stream=ilib.stream(0, "a"), **TOY)
    c = ex.toy_draws(draws=50, stream=ilib.stream(0, "b"), **TOY)
    assert np.array_equal(a.err_ps, b.err_ps) and not np.array_equal(a.err_ps, c.err_ps)


def test_error_ratios_have_mean_one_on_a_large_run():
    """Per draw, ||x_PS - x||² / (2 tr Cov) and ||x_MMSE - x||² / tr Cov have mean 1: within 4 standard errors."""
    r = ex.toy_draws(draws=4000, stream=ilib.stream(3, "t"), **TOY)
    for ratio in (r.err_ps / (2 * r.cov_trace), r.err_mmse / r.cov_trace):
        assert abs(ratio.mean() - 1) < 4 * ratio.std() / math.sqrt(ratio.size)
    assert ex.PRICE_AT_MOST_TWO.evaluate(r)["agrees"] and ex.MAP_STEP.evaluate(r)["measured"] == 0.0


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), C=st.integers(2, 50))
def test_excess_is_unbiased_for_the_squared_bias(seed, C):
    """f = Binomial(C, p)/C: E[(f - t)² - f(1 - f)/(C - 1)] = (p - t)², checked by summing over the binomial law."""
    from scipy import stats

    rng = np.random.default_rng(seed)
    p, t = rng.uniform(0.05, 0.95), rng.uniform(0, 1)
    k = np.arange(C + 1)
    pmf = stats.binom.pmf(k, C, p)
    lc = ex.LangevinComparison(q=np.zeros(1), q_levels=np.zeros((1, 1)), sigmas=(1.0,), steps_each=(1,),
                               ald=np.zeros((1, 1, 1)), plain=np.zeros((1, 1)), plain_at=(1,), chains=C)
    f = k / C
    assert float((pmf * lc.excess(f, np.full_like(f, t))).sum()) == pytest.approx((p - t) ** 2, abs=1e-12)


def test_ratio_of_means_is_exact_for_proportional_samples_and_covers_a_known_ratio():
    a = np.arange(1.0, 11.0)
    e = ex.ratio_of_means(3 * a, a)
    assert e.value == pytest.approx(3.0) and e.hi - e.lo == pytest.approx(0.0, abs=1e-12)
    rng = np.random.default_rng(0)
    hits = 0
    for _ in range(200):
        b = rng.exponential(1.0, 400)
        est = ex.ratio_of_means(2 * b + rng.normal(0, 0.5, 400), b)
        hits += est.lo <= 2 <= est.hi
    assert hits > 180  # nominal 95% of 200


def test_langevin_comparison_picks_ambiguous_measurements_and_its_last_level_target_is_the_posterior():
    lc = ex.langevin_comparison(n=20, m=4, noise=0.3, scale=0.5, separation=2.0, minority=0.2, measurements=6,
                                chains=10, levels=4, steps_each=(2, 4), step_lr=5e-6, sigma_max=3.0, sigma_min=0.01,
                                stream=ilib.stream(0, "c"))
    assert ((lc.q >= 0.05) & (lc.q <= 0.95)).all()
    assert lc.ald.shape == (2, 4, 6) and lc.plain.shape == (2, 6) and lc.plain_at == (8, 16)
    np.testing.assert_allclose(lc.q_levels[-1], lc.q, atol=1e-3)  # tau = 0.01 barely tempers the weights
    assert np.abs(lc.q_levels[0] - lc.q).mean() > np.abs(lc.q_levels[-1] - lc.q).mean()
    assert ((lc.ald >= 0) & (lc.ald <= 1)).all() and lc.floor() > 0


def test_profile_relations_name_the_parameter():
    with pytest.raises(ilib.ParameterError, match="'m'"):
        ex.Profile.resolve("smoke", {"m": 30})
    with pytest.raises(ilib.ParameterError, match="'steps_each'"):
        ex.Profile.resolve("smoke", {"steps_each": [4, 6]})
    with pytest.raises(ilib.ParameterError, match="'vae_measurements'"):
        ex.Profile.resolve("smoke", {"vae_measurements": 2, "minority": 0.1})
    with pytest.raises(ilib.ParameterError, match="'minority'"):
        ex.Profile.resolve("smoke", {"minority": 0.5})


def test_every_claim_has_a_kind_a_source_and_a_rule():
    claims = ilib.claims.declared(ex)
    assert len(claims) >= 12 and len({c.id for c in claims}) == len(claims)
    kinds = {c.kind for c in claims}
    assert kinds == {"theorem", "sanity", "finding"}


def test_vae_digits_on_a_few_digits_has_consistent_shapes_and_shares():
    r = ex.vae_digits(minority=0.25, latents=10, adam_steps=10, measurements=8, columns=9, noise=0.1, chains=2,
                      steps_each=2, levels=3, stream=ilib.stream(0, "d"), device="cpu")
    assert r.truth_minority.sum() == 2 and r.ps_minority.shape == (8, 2) and r.map_minority.shape == (8,)
    assert (r.spread >= 0).all() and 0 < r.misfit < 1 and r.likelihood_noise == pytest.approx(math.hypot(0.1, r.misfit))
    assert r.examples["ps"].shape == (5, 2, 784) and np.isnan(r.examples["observed"]).any()
