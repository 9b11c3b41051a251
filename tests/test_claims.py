"""Claims: rules that can fail, estimates with honest intervals, kinds and sources required."""

import math

import numpy as np
import pytest
from scipy import stats

from ilib.claims import (Above, AtLeast, AtMost, Below, Claim, Covers, Estimate, Inside, Overlaps, declared,
                         wilson)


def test_wilson_matches_the_closed_form_and_is_exact_at_the_ends():
    lo, hi = wilson(52, 100)
    ref = stats.binomtest(52, 100).proportion_ci(0.95, method="wilson")
    assert lo == pytest.approx(ref.low, abs=1e-12) and hi == pytest.approx(ref.high, abs=1e-12)
    assert wilson(0, 30)[0] == 0.0 and wilson(30, 30)[1] == 1.0


@pytest.mark.parametrize(
    "rule, predicted, est, expected",
    [
        (Covers(), 1.0, Estimate(1.1, 0.95, 1.2), True),
        (Covers(), 1.0, Estimate(1.3, 1.2, 1.4), False),
        (Covers(atol=0.25), 1.0, Estimate(1.3, 1.2, 1.4), True),
        (Covers(rtol=0.1), 10.0, Estimate(11.5, 11.2, 11.8), False),
        (Overlaps(), (2, 4), Estimate(4.5, 3.9, 5.1), True),
        (Overlaps(), (2, 4), Estimate(4.5, 4.1, 5.1), False),
        (Inside(), (2, 4), Estimate(3.5, 3.1, 4.1), False),
        (Inside(), (2, 4), Estimate(3.5, 3.1, 3.9), True),
        (AtLeast(), 0.95, Estimate.binomial(90, 100), False),
        (AtLeast(), 0.95, Estimate.binomial(94, 100), True),
        (AtMost(), 0.0, Estimate.binomial(0, 50), True),
        (AtMost(), 0.0, Estimate.binomial(1, 50), False),
        (Above(), 0.5, Estimate.binomial(70, 100), True),
        (Below(), 0.5, Estimate.binomial(45, 100), False),
    ],
)
def test_rules_decide_from_the_interval(rule, predicted, est, expected):
    assert rule(predicted, est) is expected
    assert rule.describe()


def test_mean_estimate_has_student_t_coverage():
    rng = np.random.default_rng(0)
    cover = [Covers()(0.0, Estimate.mean(rng.standard_normal(20))) for _ in range(2000)]
    assert 0.93 <= np.mean(cover) <= 0.97


def _claim(**kw):
    base = dict(id="c", kind="theorem", source="Paper 2020, Thm 1", statement="x is one",
                predict=lambda r: 1.0, measure=lambda r: Estimate.exact(r), rule=Covers(atol=1e-9))
    base.update(kw)
    return Claim(**base)


def test_a_claim_records_everything_the_scoreboard_needs():
    v = _claim().evaluate(1.0, case="k=2")
    assert v["agrees"] and v["status"] == "agrees" and v["claim"] == "x is one (k=2)"
    assert v["kind"] == "theorem" and v["source"] and v["rule"] and v["interval"] == [1.0, 1.0]
    assert not _claim().evaluate(1.1)["agrees"]
    assert not _claim().evaluate(math.nan)["agrees"]  # a NaN measurement never agrees
    na = _claim(measure=lambda r: None).evaluate(0)
    assert na["status"] == "n/a" and not na["agrees"]


@pytest.mark.parametrize("kw, message", [({"kind": "guess"}, "kind"), ({"source": " "}, "source"),
                                         ({"statement": ""}, "statement"), ({"id": "a b"}, "identifier"),
                                         ({"rule": lambda p, e: True}, "rule")])
def test_a_claim_needs_a_kind_a_source_a_statement_and_a_rule(kw, message):
    with pytest.raises((ValueError, TypeError), match=message):
        _claim(**kw)


def test_declared_finds_the_claims_of_a_module():
    import types

    mod = types.ModuleType("m")
    mod.A, mod.B, mod.other = _claim(id="a"), _claim(id="b"), 3
    assert [c.id for c in declared(mod)] == ["a", "b"]
