"""Notebook 05's experiment: the global minimiser against restarts, the restart heuristic's bookkeeping, Fano's claims."""

import math

import numpy as np
import pytest

import ilib
from ilib import constructions as C
from ilib.experiments import lower_bounds as ex


def test_range_section_regenerates_and_counts():
    rg = ex.range_section((10, 20), (2, 3), samples=20, latent_samples=200, stream=ilib.stream(0, "a"), device="cpu")
    for it in rg.items:
        assert ex.GSP_RANGE_IDENTITY.evaluate(it)["agrees"] and ex.GSP_AT_MOST_K.evaluate(it)["agrees"]
        assert ex.GSP_DENSE_EQUALS_BLOCK.evaluate(it)["agrees"]
        assert (np.count_nonzero(it.v, axis=1) == it.k).all()
    assert ex.GSP_LIPSCHITZ_FORMULA.evaluate(rg.lipschitz)["agrees"]
    assert rg.lipschitz.estimate <= rg.lipschitz.analytic * (1 + 1e-9) <= rg.lipschitz.product_bound


def test_global_minimiser_recovers_from_2k_while_few_restarts_do_not():
    en = ex.enumeration_section(16, 2, (3, 4, 6, 12), 8, restarts=3, steps=100, stream=ilib.stream(0, "b"), device="cpu")
    ok = en.global_error <= en.exact_tol
    assert ok[1:].all()  # m >= 2k
    assert ex.GLOBAL_MINIMISER_RECOVERS.evaluate(en)["agrees"]
    assert (en.global_residual[1:] < 1e-9).all()
    assert ex.GRADIENT_RESTARTS_FAIL.evaluate(en)["measured"] <= 1.0
    assert en.start_success.shape == (4, 8, 3)


def test_restart_heuristic_prediction_uses_the_calibration_interval():
    rs = ex.RestartSection(n=20, m=15, k_values=(1, 2), p1_successes=50, p1_starts=1000, successes=np.array([48, 5]),
                           starts=np.array([1000, 1000]), R_values=(1, 10), within=np.zeros((2, 2)))
    lo, hi = ilib.stats.binomial_interval(50, 1000)
    assert rs.predicted(1) == pytest.approx((2 * lo**2, 2 * hi**2))
    assert ex.RESTART_HEURISTIC.evaluate(ex.HeuristicCase(rs, 0))["agrees"]
    assert ex.RESTART_HEURISTIC.evaluate(ex.HeuristicCase(rs, 1))["agrees"]  # 5e-3 against 2 * 0.05^2 = 5e-3
    far = ex.RestartSection(n=20, m=15, k_values=(2,), p1_successes=50, p1_starts=1000, successes=np.array([60]),
                            starts=np.array([1000]), R_values=(1,), within=np.zeros((1, 1)))
    assert not ex.RESTART_HEURISTIC.evaluate(ex.HeuristicCase(far, 0))["agrees"]


def test_restart_section_counts_every_start():
    rs = ex.restart_section(6, (1, 2), trials=3, restarts=20, steps=80, stream=ilib.stream(0, "r"), device="cpu")
    assert rs.m == 8 and rs.p1_starts == 60 and list(rs.starts) == [60, 60]
    assert rs.within.shape == (2, len(rs.R_values)) and (np.diff(rs.within, axis=1) >= 0).all()


def test_bp_claims_read_the_rows_around_the_donoho_tanner_count():
    bp = ex.bp_section(40, 2, (4, 8, 30), 6, stream=ilib.stream(0, "l1"), device="cpu")
    assert bp.success[-1].all() and ex.BP_ABOVE_DT.evaluate(bp)["agrees"]
    assert bp.m_dt == pytest.approx(float(ilib.donoho_tanner_m(40, 2)[0]))


def test_fano_claims_hold_for_ml_decoding_and_fail_for_a_decoder_that_beats_fano():
    fano = ex.fano_section((3, 5), tuple(range(1, 20)), n=16, trials=200, stream=ilib.stream(0, "c"), device="cpu")
    assert ex.FANO_BELOW_ML.evaluate(fano.runs)["agrees"] and ex.ML_NEEDS_FANO_COUNT.evaluate(fano.runs)["agrees"]
    r = fano.runs[1]
    cheat = ex.Decoding(m_values=r.m_values, wrong=np.zeros_like(r.wrong), trials=r.trials, log2_size=r.log2_size, snr=r.snr)
    assert not ex.FANO_BELOW_ML.evaluate([cheat])["agrees"]


def test_m50_is_the_logistic_crossing_of_the_decoding_counts():
    m = np.arange(1, 30)
    p_correct = 1 / (1 + np.exp(-(np.log(m) - np.log(10.0)) * 4))
    d = ex.Decoding(m_values=tuple(m), wrong=np.round(1000 * (1 - p_correct)).astype(int), trials=1000, log2_size=4.0, snr=1.0)
    fit = d.m50()
    assert fit.lo <= 10.0 <= fit.hi and abs(fit.x_level - 10) < 0.3
    assert d.fano_m50() == pytest.approx(float(C.fano_m(4.0, 1.0)))


def test_group_section_families_and_their_slopes():
    grp = ex.group_section([("hat", 1, 4), ("hat", 1, 8), ("hat", 1, 16), ("sawtooth", 1, 2)], tuple(range(1, 40)),
                           trials=150, stream=ilib.stream(0, "d"), device="cpu")
    assert grp.families() == [("hat", 1), ("sawtooth", 1)]
    slopes = {(f.kind, f.k): f for f in ex.family_slopes(grp)}
    assert slopes[("hat", 1)].fit.n == 3 and ex.GROUP_SLOPE_AT_LEAST_FANO.evaluate(slopes[("hat", 1)])["agrees"]
    assert ex.GROUP_SLOPE_AT_LEAST_FANO.evaluate(slopes[("sawtooth", 1)])["status"] == "n/a"  # one codebook: no slope
    with pytest.raises(ValueError, match="^configs"):
        ex.group_section([("comb", 1, 4)], (1, 2), trials=2, stream=ilib.stream(0, "d"))


def test_pieces_and_hat_lipschitz_are_exact():
    assert ex.PIECES.evaluate(ex.piece_counts((1, 2, 5)))["measured"] == 0
    h = ex.hat_lipschitz((4, 16, 64), xi=0.3, radius=2.0)
    assert ex.HAT_LIPSCHITZ.evaluate(h)["agrees"]
    np.testing.assert_allclose(np.diff(np.log(h.measured)) / np.diff(np.log(h.w_values)), 1.0)


def test_profile_relations_and_derived_values():
    P = ex.Profile.resolve("paper")
    assert P.max_log2_size == 12 and P.scaling_trials == 20 and P.group_m_values[-1] == 120
    assert all(k * (math.log2(p) if kind == "hat" else p) <= 12 for kind, k, p in ex.group_configs(P))
    for name, value in [("k_values", [3]), ("enum_m_values", [1, 4]), ("m_values", [10, 300]), ("b_values", [4, 70]),
                        ("scaling_k_values", [1, 40])]:
        with pytest.raises(ilib.ParameterError, match=f"'{name}'"):
            ex.Profile.resolve("smoke", {name: value})


def test_every_claim_is_declared_with_a_kind_and_a_source():
    claims = ilib.claims.declared(ex)
    assert len(claims) >= 14 and len({c.id for c in claims}) == len(claims)
    assert {c.kind for c in claims} == {"theorem", "sanity", "finding"}
