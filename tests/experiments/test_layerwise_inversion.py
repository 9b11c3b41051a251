"""Notebook 07's experiment: the sweeps' bookkeeping against their definitions, the interval helpers, the WDC search
read only once saturated, and the claims."""

import math

import numpy as np
import pytest

import ilib
from ilib import inversion as inv
from ilib.experiments import layerwise_inversion as ex

# one pytest-xdist worker runs this module, so that its module-scoped fixture is built once
pytestmark = pytest.mark.xdist_group('test_layerwise_inversion')


@pytest.fixture(scope="module")
def sweep():
    return ex.expansion_sweep(5, [1.5, 2.5, 4.0], 2, 6, latents=2, stream=ilib.stream(0, "t"), device="cpu")


def test_least_squares_succeeds_iff_the_margin_is_nonnegative_and_the_lp_finds_every_point(sweep):
    ls, margin, nnlp, point = (sweep.pooled(f) for f in ("ls", "margin", "nnlp", "point"))
    assert np.array_equal(ls, margin >= 0)
    assert not (point & ~nnlp).any() and not (ls & ~point).any()  # least squares' successes are point preimages
    for c in (ex.LS_IFF_MARGIN, ex.LS_NEVER_SILENT, ex.NNLP_FINDS_POINTS):
        assert c.evaluate(sweep)["agrees"]
    assert sweep.trials == 12 and sweep.widths[1] == tuple(inv.expansion_widths(5, 2.5, 2))


def test_the_same_stream_gives_the_same_problems(sweep):
    again = ex.expansion_sweep(5, [1.5, 2.5, 4.0], 2, 6, latents=2, stream=ilib.stream(0, "t"), device="cpu")
    assert all(np.array_equal(a, b) for a, b in zip(sweep.margin, again.margin))
    other = ex.expansion_sweep(5, [1.5, 2.5, 4.0], 2, 6, latents=2, stream=ilib.stream(1, "t"), device="cpu")
    assert not all(np.array_equal(a, b) for a, b in zip(sweep.margin, other.margin))


def test_rate_cases_carry_the_bonferroni_count_and_the_prediction(sweep):
    cases = sweep.cases("ls")
    assert [c.comparisons for c in cases] == [3, 3, 3]
    assert cases[2].predicted == pytest.approx(inv.predicted_exact_success(sweep.widths[2]))
    wide = ex._rate(cases[0])
    narrow = ilib.Estimate.binomial(cases[0].successes, cases[0].trials)
    assert wide.lo <= narrow.lo and wide.hi >= narrow.hi


def test_newcombe_difference_interval_known_cases():
    d = ex._rate_difference(10, 10, 0, 10)
    assert d.value == 1.0 and 0.5 < d.lo < 1.0 and d.hi == pytest.approx(1.0)
    e = ex._rate_difference(5, 10, 5, 10)
    assert e.value == 0.0 and e.lo < 0 < e.hi and e.lo == pytest.approx(-e.hi)


def _wdc(history, dev):
    return ex.WDCSweep(k_values=(5, 10), r_values=(2.0, 4.0), dev=np.asarray(dev, float), history=history, tol=0.01)


def test_wdc_saturation_and_growth_are_read_from_the_rounds():
    hist = (((1.0, 1.005), (1.0, 1.2)), ((0.5, 0.5), (0.5,)))
    w = _wdc(hist, np.ones((2, 2, 3)))
    assert w.saturated().tolist() == [[True, False], [True, False]]
    assert not ex.WDC_SATURATED.evaluate(w)["agrees"]
    assert w.log_factor_growth() == pytest.approx(math.sqrt(math.log(10) / math.log(5)))
    dev = np.ones((2, 2, 3))
    dev[1, 0] = [1.3, 1.31, 1.29]  # grows at r = 2 clearly; flat at r = 4
    w = _wdc(((((1.0, 1.0)),) * 2,) * 2, dev)
    assert not ex.WDC_CONSTANT.evaluate((w, 0))["agrees"] and ex.WDC_CONSTANT.evaluate((w, 1))["agrees"]


def test_profile_relations():
    with pytest.raises(ValueError, match="gd_nets"):
        ex.Profile.resolve("smoke", {"gd_nets": 100})
    with pytest.raises(ValueError, match="r_values"):
        ex.Profile.resolve("smoke", {"r_values": (2.0,)})


def test_every_claim_is_declared_with_kind_and_source():
    claims = ilib.claims.declared(ex)
    assert len(claims) >= 15 and len({c.id for c in claims}) == len(claims)
    assert all(c.kind in ("theorem", "sanity", "finding") and c.source for c in claims)
