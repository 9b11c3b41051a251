"""Notebook 09's experiment: the gradient errors' bookkeeping, the prior, prior against inverse, the factorisation."""

import numpy as np
import pytest

import ilib
from ilib.experiments import learned_prior_vs_inverse as ex
from ilib.profile import ParameterError


def test_profiles_resolve_and_fit_a_parameters_cell_of_25_lines():
    for prof in ("smoke", "paper"):
        ex.Profile.resolve(prof)
    assert len(ex.Profile.names()) + 2 <= 25
    with pytest.raises(ParameterError, match="'measurements'"):
        ex.Profile.resolve("smoke", {"measurements": 40})


def test_gradient_errors_checks_and_rates_on_a_small_problem():
    g = ex.gradient_errors(20, 30, 3, noise=0.01, lam=0.1, signals=6, n_values=ex.default_n_values(150),
                           ref_iters=5000, stream=ilib.stream(0, "a"), device="cpu")
    assert g.fd_rel_err < 1e-6 and g.autograd_rel_err < 1e-10
    assert g.e1.shape == (len(g.n_values), 6) and np.all(g.rho < 1) and np.all(g.rho > 0)
    idx = g.identification_index()
    assert np.all(idx < len(g.n_values))
    r = g.rates()
    ok = np.isfinite(r["g2"])
    assert ok.any() and np.all(r["g2"][ok] < r["g1"][ok])  # the unrolled error falls faster
    assert ex.REVERSE_MODE_MATCHES_FD.evaluate(g)["agrees"] and ex.REVERSE_MODE_MATCHES_AUTOGRAD.evaluate(g)["agrees"]


def test_identification_index_is_where_the_support_stays_found():
    g = ex.GradientErrors(n_values=(1, 2, 3, 4), ez=np.ones((4, 2)), e1=np.ones((4, 2)), e2=np.ones((4, 2)),
                          identified=np.array([[0, 1], [1, 1], [0, 1], [1, 1]], bool), rho=np.full(2, 0.5),
                          gnorm=np.ones(2), fd_rel_err=0.0, autograd_rel_err=0.0)
    assert g.identification_index().tolist() == [3, 0]
    assert np.isnan(g.before_identification()[1]) and g.before_identification()[0] == 0.0


def test_default_n_values_grid():
    assert ex.default_n_values(40) == [1, 2, 5, 10, 20, 30, 40]


def test_prior_and_inverse_end_to_end_on_a_tiny_problem():
    prior = ex.learn_prior(12, 16, 2, noise=0.01, train_signals=200, iters=10, lam=0.05, stream=ilib.stream(0, "b"))
    assert prior.learned.largest_increase <= 1e-12 and prior.recovered.shape == (16,)
    pvi = ex.prior_vs_inverse(prior, measurements=8, noise=0.01, lam=0.02, layers=3, steps=5, lr=1e-3, test_signals=50,
                              new_operators=3, missing_fraction=0.25, n_boot=50, stream=ilib.stream(0, "c"))
    assert pvi.err["inverse"]["new"].shape == (3, 50) and pvi.err["prior"]["train"].shape == (1, 50)
    for case in ("new", "missing"):
        est = pvi.brittleness(case)
        assert est.lo <= est.value <= est.hi
    assert ex.PRIOR_REUSED.evaluate(pvi)["interval"] is not None
    # converged FISTA on the prior is at least as good as K ISTA steps on the training operator
    assert pvi.nmse("prior", "train") <= pvi.nmse("prior, K steps", "train") + 0.5


def test_missing_rows_zero_exactly_that_many_measurements():
    prior = ex.learn_prior(10, 12, 2, noise=0.0, train_signals=100, iters=2, lam=0.05, stream=ilib.stream(0, "b"))
    pvi = ex.prior_vs_inverse(prior, measurements=8, noise=0.0, lam=0.02, layers=2, steps=1, lr=1e-3, test_signals=20,
                              new_operators=2, missing_fraction=0.25, n_boot=20, stream=ilib.stream(0, "c"))
    assert np.isfinite(pvi.nmse("prior", "missing"))


def test_factorisation_identity_bound_and_quantities():
    f = ex.factorisation(10, 16, 2, noise=0.01, lam=0.1, iters=15, signals=20, n_boot=50, stream=ilib.stream(0, "d"))
    assert f.ista_diff <= 1e-12 and f.worst_bound_ratio() <= 1 + 1e-9
    assert f.quantities["ISTA"]["delta_star_mean"] == 0 and f.quantities["eigenbasis"]["R_norm"] < 1e-6
    assert all(f.quantities[k]["R_min"] >= -1e-9 for k in f.quantities)
