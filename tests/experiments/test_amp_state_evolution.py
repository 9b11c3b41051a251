"""Notebook 10's experiment: the batched sweeps' bookkeeping, the claims' reading windows, the Profile's relations."""

import math

import numpy as np
import pytest
import torch

import ilib
from ilib import amp
from ilib.experiments import amp_state_evolution as ex

# one pytest-xdist worker runs this module, so that its module-scoped fixture is built once
pytestmark = pytest.mark.xdist_group('test_amp_state_evolution')


@pytest.fixture(scope="module")
def sweep():
    return ex.spiked_sweep(80, [2.0, 4.0], [0.25, 1.25, 2.0, 8.0], trials=2, amp_iters=40, lanczos_iters=30,
                           stream=ilib.stream(0, "a"), device="cpu", se_iters=300)


def test_spiked_sweep_has_one_case_per_prior_and_alpha_with_arrays_per_trial_and_delta(sweep):
    assert [(c.activation, c.alpha) for c in sweep.cases] == [("linear", 2.0), ("linear", 4.0), ("sign", 2.0), ("sign", 4.0)]
    for c in sweep.cases:
        for a in (c.amp_mse, c.amp_overlap, c.pca_overlap, c.lamp_overlap, c.pca_value, c.amp_converged):
            assert a.shape == (2, 4)
        assert c.k == int(80 / c.alpha) and c.trace_k2.shape == (2,)
        assert ((c.pca_overlap >= 0) & (c.pca_overlap <= 1 + 1e-6)).all()
        if c.activation == "sign":
            np.testing.assert_allclose(c.norm2, 1.0)


def test_the_same_stream_gives_the_same_numbers_and_another_stream_others(sweep):
    again = ex.spiked_sweep(80, [2.0, 4.0], [0.25, 1.25, 2.0, 8.0], trials=2, amp_iters=40, lanczos_iters=30,
                            stream=ilib.stream(0, "a"), device="cpu", se_iters=300)
    other = ex.spiked_sweep(80, [2.0, 4.0], [0.25, 1.25, 2.0, 8.0], trials=2, amp_iters=40, lanczos_iters=30,
                            stream=ilib.stream(0, "b"), device="cpu", se_iters=300)
    assert np.array_equal(sweep.cases[0].amp_mse, again.cases[0].amp_mse)
    assert not np.array_equal(sweep.cases[0].amp_mse, other.cases[0].amp_mse)


def test_claims_read_the_declared_windows(sweep):
    c = sweep.cases[0]  # linear, alpha = 2: Delta_c = 3
    assert c.columns(hi=ex.FAR_BELOW * c.delta_c).tolist() == [True, True, False, False]
    assert c.columns(ex.WINDOW[0], ex.WINDOW[1] * c.delta_c).tolist() == [False, True, True, False]
    for claim in (ex.AMP_ON_SE, ex.LAMP_BEATS_PCA, ex.TRACE_K2):
        v = claim.evaluate(c, c.label)
        assert v["status"] in ("agrees", "disagrees") and v["kind"] in ilib.claims.KINDS
    v = ex.PCA_OVERLAP_BBP.evaluate(sweep)
    assert v["n"] == 2  # one mean per instance, pooled over the cases


def test_lamp_minus_pca_is_the_paired_per_trial_difference(sweep):
    c = sweep.cases[1]
    m = c.columns(ex.WINDOW[0], ex.WINDOW[1] * c.delta_c)
    est = ex._lamp_minus_pca(c)
    assert est.value == pytest.approx(float((c.lamp_overlap[:, m] - c.pca_overlap[:, m]).mean()))


def test_glm_far_from_thresholds():
    a = np.array([0.05, 0.1, 0.13, 0.2, 0.4])
    assert ex.glm_far_from_thresholds(a, [0.1]).tolist() == [True, False, False, True, True]
    assert ex.glm_far_from_thresholds(a, [0.1, 0.3]).tolist() == [True, False, False, True, False]


def test_ratio_of_means_interval_covers_the_true_ratio_about_95_percent_of_the_time():
    g = np.random.default_rng(0)
    hits = []
    for _ in range(400):
        est = ex._ratio_of_means(g.exponential(1.0, 40), g.exponential(4.0, 40))
        hits.append(est.lo < 0.25 < est.hi)
        assert math.log(est.value) - math.log(est.lo) == pytest.approx(math.log(est.hi) - math.log(est.value))
    assert 0.9 <= np.mean(hits) <= 0.99


def test_glm_sweep_shapes_and_sparse_phase_retrieval_learns_nothing_at_small_alpha():
    s = ex.glm_sweep(120, 0.25, [0.2, 1.0], trials=2, iters=80, damping=0.3, noise=1e-4, stream=ilib.stream(1, "b"),
                     device="cpu")
    assert s.mse.shape == (2, 2, 3, 2) and s.converged.shape == (2, 2, 3, 2)
    assert np.all(s.of("sparse", "phase")[0] > 0.9)  # below alpha = 1/2: no weak recovery with a separable prior
    assert np.all(s.of("linear", "gaussian")[1] < 0.05)  # CS at m = n with the linear prior


def test_glm_signals_have_unit_second_moment_and_the_prior_structure():
    priors, x = ex.glm_signals(2000, 500, 3, torch.Generator().manual_seed(0))
    assert x.shape == (3, 3, 2000)
    np.testing.assert_allclose((x ** 2).mean(-1).mean(0).numpy(), [1, 1, 1], rtol=0.1)
    assert set(x[:, 1].unique().tolist()) == {-1.0, 1.0}
    assert abs((x[:, 2] != 0).double().mean().item() - 0.25) < 0.02


def test_theory_sections_locate_the_closed_form_thresholds():
    t = ex.spiked_theory("linear", 2.0, [0.5, 1.5, 4.0], se_iters=2000)
    assert t.delta_c_se[0] - 1e-5 <= 3.0 <= t.delta_c_se[1] + 1e-5
    assert ex.SE_NO_HARD_PHASE.evaluate(t)["agrees"] and ex.SE_DELTA_C.evaluate(t)["agrees"]
    lo, hi = ex.glm_weak_recovery_se("sign", 0.25)
    assert lo - 1e-5 <= amp.alpha_weak_recovery(0.25, "sign") <= hi + 1e-5
    lo, hi = ex.glm_perfect_se("linear", "gaussian", 0.25, iters=3000)
    assert lo <= 0.26 and hi >= 0.25


def test_critical_slowing_counts_more_iterations_closer_to_the_threshold():
    c = ex.critical_slowing("linear", 2.0, [0.3, 0.1, 0.03], se_iters=3000)
    assert (np.diff(c.below) > 0).all() and (np.diff(c.above) > 0).all()
    v = ex.SE_CRITICAL_SLOWING.evaluate(c)
    assert v["agrees"] and v["measured"] < 0


def test_profile_relations_name_the_parameter():
    with pytest.raises(ilib.ParameterError, match="'alpha_values'"):
        ex.Profile.resolve("smoke", {"p": 20, "alpha_values": [15.0]})
    with pytest.raises(ilib.ParameterError, match="'rho'"):
        ex.Profile.resolve("smoke", {"rho": 1.5})
    with pytest.raises(ilib.ParameterError, match="'delta_values'"):
        ex.Profile.resolve("smoke", {"delta_values": [0.0, 1.0]})
    with pytest.raises(ilib.ParameterError, match="'noise'"):
        ex.Profile.resolve("smoke", {"noise": 0.0})
    with pytest.raises(ilib.ParameterError, match="'fs_p_values'"):
        ex.Profile.resolve("smoke", {"fs_p_values": [3]})


def test_every_claim_is_declared_with_a_kind_a_source_and_a_unique_id():
    claims = ilib.claims.declared(ex)
    assert len(claims) >= 20 and len({c.id for c in claims}) == len(claims)
    assert {c.kind for c in claims} == {"theorem", "sanity", "finding"}
    assert "CONJECTURE" in ex.LAMP_BEATS_PCA_SIGN.source and "[conjecture]" in ex.LAMP_BEATS_PCA_SIGN.statement
