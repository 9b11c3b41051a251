"""Notebook 08's experiment: Theorem 1's bound, the NMSE differences, the step-tracking rule, the sections end to end."""

import math

import numpy as np
import pytest

import ilib
from ilib.experiments import unrolled_sparse_coding as ex
from ilib.profile import ParameterError


def test_profiles_resolve_and_fit_a_parameters_cell_of_25_lines():
    for prof in ("smoke", "paper"):
        ex.Profile.resolve(prof)
    assert len(ex.Profile.names()) + 2 <= 25
    with pytest.raises(ParameterError, match="'m'"):
        ex.Profile.resolve("smoke", {"m": 200})
    with pytest.raises(ParameterError, match="lasso_depths"):
        ex.Profile.resolve("smoke", {"lasso_depths": [2, 2]})


def test_theorem1_bound_and_support_hold_and_the_claims_agree():
    th = ex.theorem1(40, 80, 10, codes=50, gammas=(1.0, 0.7), stream=ilib.stream(0, "a"))
    assert th.s == ilib.unrolled.theorem1_sparsity(th.mu) or th.s == 1
    assert th.worst_ratio() <= 1 + 1e-9 and th.false_pos.max() == 0
    assert ex.THEOREM1_BOUND.evaluate(th)["agrees"] and ex.THEOREM1_SUPPORT.evaluate(th)["agrees"]
    assert all(th.measured_rate(g) <= th.rate(g) * (1 + 1e-6) for g in range(2))


def test_coherence_claims_on_a_gaussian_dictionary():
    coh = ex.coherence(30, 60, stream=ilib.stream(1, "a"))
    assert coh.diag_err < 1e-12 and coh.fro2_WtD <= coh.fro2_DtD
    assert all(c.evaluate(coh)["agrees"] for c in (ex.W_CONSTRAINT, ex.W_FROBENIUS))


def test_nmse_difference_known_values():
    rng = np.random.default_rng(0)
    e = rng.uniform(0.5, 1.5, 400)
    same = ex.nmse_difference(e, e, n_boot=100, seed=1)
    assert same.value == 0 and same.lo == 0 and same.hi == 0
    tenth = ex.nmse_difference(0.1 * e, e, n_boot=100, seed=1)
    assert tenth.value == pytest.approx(-10.0) and tenth.lo == pytest.approx(-10.0) and tenth.hi == pytest.approx(-10.0)
    noisy = ex.nmse_difference(e * rng.uniform(0.5, 1.5, 400), e, n_boot=200, seed=2)
    assert noisy.lo < noisy.value < noisy.hi


def _tracking(alpha_times_LS):
    rng = np.random.default_rng(3)
    LS = rng.uniform(2.0, 4.0, size=(10, 500))
    med = np.median(LS, axis=1)
    return ex.StepTracking("synthetic", alpha=alpha_times_LS / med, LS=LS, L=5.0, n_boot=200, boot_seed=4)


def test_step_tracking_rule_passes_at_one_over_LS_and_fails_at_twice_that():
    assert ex.STEPS_TRACK_INV_LS.evaluate(_tracking(np.ones(10)))["agrees"]
    assert ex.STEPS_TRACK_INV_LS.evaluate(_tracking(np.full(10, 1.2)))["agrees"]
    assert not ex.STEPS_TRACK_INV_LS.evaluate(_tracking(np.full(10, 2.0)))["agrees"]
    # only the deep layers count
    early_off = np.ones(10)
    early_off[:5] = 3.0
    assert ex.STEPS_TRACK_INV_LS.evaluate(_tracking(early_off))["agrees"]


def test_empty_supports_are_left_out_of_the_median():
    t = _tracking(np.ones(10))
    LS = t.LS.copy()
    LS[:, :100] = 0.0
    t2 = ex.StepTracking("x", alpha=t.alpha, LS=LS, L=5.0, n_boot=50, boot_seed=1)
    assert np.all(np.isfinite(t2.median_LS()))


def test_benchmark_end_to_end_on_a_tiny_problem():
    b = ex.benchmark(12, 24, 0.1, 3, snr_values=(30.0,), train_samples=200, test_samples=40, lam_values=(0.1, 0.3),
                     slista_lam=0.1, steps=3, lista_lr=1e-3, cpss_lr=1e-3, scalar_lr=1e-2, n_boot=50,
                     stream=ilib.stream(0, "b"), coherence_stream=ilib.stream(0, "a"), device="cpu")
    assert b.labels == ["noiseless", "SNR 30 dB"]
    assert all(v.shape == (2, 4) for v in b.learned.values())
    assert b.classical["ISTA"].shape == (2, 2, 4) and b.err["Lasso"].shape == (2, 40)
    for c in ex.BELOW_CLASSICAL.values():
        assert math.isfinite(c.evaluate(b)["measured"])
    assert ex.SLISTA_UNCONVERGED.evaluate(b)["interval"] is not None
    # the classical curves at depth 0 are 0 dB (x^0 = 0)
    assert np.allclose(b.classical["FISTA"][:, :, 0], 0.0, atol=1e-5)


def test_same_stream_same_numbers():
    kw = dict(ratios=(0.5,), depths=(1, 2), train_samples=60, test_samples=20, steps=2, lr=1e-4, scalar_lr=1e-2, n_boot=20,
              n_dims=8, n_atoms=16, device="cpu")
    a = ex.lasso_depth(stream=ilib.stream(0, "c"), **kw)
    b = ex.lasso_depth(stream=ilib.stream(0, "c"), **kw)
    c = ex.lasso_depth(stream=ilib.stream(1, "c"), **kw)
    assert np.array_equal(a.gap["SLISTA"], b.gap["SLISTA"]) and not np.array_equal(a.gap["SLISTA"], c.gap["SLISTA"])
    assert np.all(a.per_code["ISTA"] >= -1e-10) and a.slista_LS.shape == (1, 2, 20)
    assert ex.SLISTA_BELOW_ISTA.evaluate(ex.at_ratio(a, 0.5))["measured"] is not None


def test_coupled_layers_start_at_zero_residual_and_report_per_layer():
    r = ex.coupled_layers(2, 60, steps=5, scalar_lr=1e-2, stream=ilib.stream(0, "e"), layers=6, device="cpu")
    assert r.residual.shape == (2, 6) and np.all(r.residual >= 0) and r.quarter_ratio().shape == (2,)


def test_step_tracking_trains_by_backtracking_gradient_descent():
    t = ex.step_tracking(100, n_boot=20, stream=ilib.stream(0, "d"), layers=4, gd_steps=5, device="cpu")
    assert t.alpha.shape == (4,) and t.LS.shape == (4, 100) and np.all(t.alpha > 0)
