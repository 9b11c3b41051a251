"""Notebook 06's experiment: the gen-span slope on a case with a known rate, the plateau prediction, crossover helpers,
ILO's radius chosen without the test digits, parameters and claims."""

import math

import numpy as np
import pytest
import torch

import ilib
from ilib.experiments import csgm_vs_lasso as ex


def _span(sq_error, m_values, k=20, sigma=0.1, fit_min_m=100):
    sq = np.asarray(sq_error, float)
    return ex.SpanSweep(m_values=tuple(m_values), k=k, n=784, noise_std=sigma, sq_error=sq,
                        noise_energy=np.full_like(sq, sigma**2), lasso={}, fit_min_m=fit_min_m, boot_seed=3)


M = (50, 100, 200, 300, 400, 500, 750)


def test_gen_span_slope_recovers_a_known_rate_and_sees_a_floor():
    """Squared errors sigma^2 k/(m-k-1) times iid chi^2_k/k scatter: the slope claim agrees in about 95% of draws (its
    interval's level); add an optimiser floor of three times the last noise term and it disagrees in every draw."""
    k, sigma, T = 20, 0.1, 40
    rate = sigma**2 * k / (np.asarray(M, float) - k - 1)
    agree, floor_agree = 0, 0
    for seed in range(20):
        sq = rate[:, None] * np.random.default_rng(seed).chisquare(k, size=(len(M), T)) / k
        s = _span(sq, M, k, sigma)
        agree += ex.SPAN_SLOPE.evaluate(s)["agrees"]
        floor_agree += ex.SPAN_SLOPE.evaluate(_span(sq + 3 * rate[-1], M, k, sigma))["agrees"]
    assert s.predicted_slope() == pytest.approx(np.polyfit(np.log(M[1:]), np.log(rate[1:]), 1)[0], abs=1e-9)
    assert -1.2 < s.predicted_slope() < -1.0
    assert agree >= 15 and floor_agree == 0, (agree, floor_agree)


def test_gen_span_slope_ignores_m_below_the_fit_range():
    rate = 0.01 * 20 / (np.asarray(M, float) - 21)
    sq = np.repeat(rate[:, None], 5, axis=1)
    sq[0] *= 1e3  # m = 50 is outside the fit
    assert _span(sq, M).slope() == pytest.approx(_span(sq, M).predicted_slope(), abs=1e-9)


def test_local_least_squares_factor_and_the_plateau_prediction():
    assert ex.local_ls_factor([21, 22, 41], 20)[1:].tolist() == [20.0, 1.0]
    assert math.isnan(ex.local_ls_factor([21], 20)[0])
    e = ex.ErrorSweep(m_values=(41, 121), k=20, n=4, noise_std=0.1, lam_values=(0.1,),
                      errors={"csgm": np.array([[2.0, 4.0], [1.0, 1.0]])}, rep=np.array([1.0, 2.0]),
                      noise_energy=np.array([[4.0, 8.0], [4.0, 8.0]]), boot_seed=0)
    # ||r||^2 = n rep = (4, 8), ||eta||^2 / ||r||^2 = 1: 1 + 2 k/(m-k-1) = (3, 1.4)
    np.testing.assert_allclose(e.predicted_plateau_ratio(), [[3.0, 3.0], [1.4, 1.4]])
    np.testing.assert_allclose(e.plateau_ratio(), [[2.0, 2.0], [1.0, 0.5]])
    lhs, rhs = e.thm11()
    np.testing.assert_allclose(lhs[0], np.sqrt([8.0, 16.0]))
    np.testing.assert_allclose(rhs[0], 6 * np.sqrt([4.0, 8.0]) + 3 * np.sqrt([4.0, 8.0]))


def test_equal_error_and_crossover_known_values():
    ms = [10, 100, 1000]
    assert ex.equal_error_m(ms, [1.0, 0.1, 0.01], 0.1) == pytest.approx(100.0)
    assert ex.equal_error_m(ms, [1.0, 0.1, 0.01], math.sqrt(0.1)) == pytest.approx(math.sqrt(1000.0))
    assert math.isnan(ex.equal_error_m(ms, [1.0, 0.5, 0.2], 0.1))
    assert ex.crossover_m(ms, [0.1, 0.1, 0.1], [1.0, 0.1 * 0.1, 0.001]) < 100
    assert math.isnan(ex.crossover_m(ms, [1.0, 1.0, 1.0], [0.5, 0.5, 0.5]))  # already below at the first m


def _fake_run(calls):
    def run(G, x, m_values, radii, **kw):
        calls.append(x.clone())
        # the error is smallest at the radius indexed by round(x[0, 0]): each target set prefers its own radius
        best = int(round(float(x[0, 0])))
        err = np.array([[[1.0 + abs(j - best)] * x.shape[0] for j in range(len(radii))] for _ in m_values])
        return ex.ILORun(m_values=tuple(m_values), radii=tuple(radii), errors=err, loss=err.mean(-1),
                         noise_energy=np.zeros(len(m_values)))
    return run


def test_ilo_radius_is_chosen_on_validation_targets_only(monkeypatch):
    calls = []
    monkeypatch.setattr(ex, "ilo_run", _fake_run(calls))
    radii = (0.0, 10.0, 100.0, math.inf)
    x_val = torch.full((3, 5), 1.0)
    picks = []
    for best_on_test in (0.0, 3.0):
        grp = ex.ilo_group("g", None, x_val, torch.full((3, 5), best_on_test), (50, 150), radii, stream=ilib.stream(0, "g"))
        picks.append(grp.chosen.tolist())
        assert grp.chosen_radii() == [10.0, 10.0]  # validation's best, whatever the test targets prefer
        np.testing.assert_array_equal(grp.test_at_chosen(), grp.test.errors[:, 1])
    assert picks[0] == picks[1]
    assert torch.equal(calls[0], x_val) and torch.equal(calls[2], x_val)  # validation runs first, every time


def test_choose_radius_reads_only_its_argument():
    run = ex.ILORun(m_values=(1, 2), radii=(0.0, 1.0, 2.0), errors=np.array([[[3, 3], [1, 1], [2, 2]], [[0, 0], [5, 5], [5, 5]]], float),
                    loss=np.zeros((2, 3)), noise_energy=np.zeros(2))
    assert ex.choose_radius(run).tolist() == [1, 0]


def test_profile_relations_and_scaling_to_the_small_digits():
    P = ex.Profile.resolve("smoke")
    with pytest.raises(ValueError, match="trials"):
        ex.Profile.resolve("smoke", {"trials": 7, "matrices": 2})
    with pytest.raises(ValueError, match="pool_samples"):
        ex.Profile.resolve("smoke", {"pool_samples": 3})
    assert ex.for_data(P, 784) is P
    small = ex.for_data(ex.Profile.resolve("paper"), 64)
    assert max(small.m_values) <= 64 and small.fit_min_m in small.m_values and small.grid_m <= 64


def test_every_claim_is_declared_with_kind_and_source_and_theorems_can_fail():
    claims = ilib.claims.declared(ex)
    assert len(claims) >= 10 and len({c.id for c in claims}) == len(claims)
    assert all(c.kind in ("theorem", "sanity", "finding") and c.source for c in claims)
    assert ex.THM11_BOUND.kind == "sanity"  # its right side is several times the error: it cannot fail
