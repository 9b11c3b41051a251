"""Notebook 12's experiment: the sections' bookkeeping on small sizes, the claims' inputs, the Profile's relations."""

import math

import numpy as np
import pytest
import torch

import ilib
from ilib import untrained as ut
from ilib.experiments import untrained_generators as ex

SMALL = dict(n=32, p=5, device="cpu")


def test_recorded_run_keeps_every_iterate_in_order():
    """_run_recorded relies on minimize evaluating the objective once per step and once at the end."""
    x0 = torch.ones(2, 3, dtype=torch.float64)
    kept, res = ex._run_recorded(lambda x: x, lambda out: 0.5 * (out**2).sum(-1), x0, lambda out: out.clone(),
                                 steps=4, lr=0.5, method="gd")
    assert kept.shape == (5, 2, 3)
    for t, out in enumerate(kept):  # x_t = (1 - 0.5)^t x_0
        torch.testing.assert_close(out, 0.5**t * x0)
    torch.testing.assert_close(res.x, kept[-1])


def test_recording_a_long_run_does_not_grow_the_heap():
    """Thousands of small records between large temporaries used to fragment the heap by ~9 MB a step."""
    import resource

    G = ut.ConvGenerator(ut.embed_filter(ut.NARROW_TAPS, 64, dtype=torch.float32), 4096)
    C0, y = G.antisymmetric_start(8, 0), torch.randn(8, 64, generator=ilib.make_generator(1))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kept, _ = ex._run_recorded(lambda c: G(c.reshape(C0.shape)), lambda out: 0.5 * ((out - y) ** 2).sum(-1),
                               C0.reshape(8, -1), lambda out: out.double(), steps=150, lr=0.1, method="gd")
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert kept.shape == (151, 8, 64) and grown_mb < 300


def test_smooth_signals_are_unit_trigonometric_polynomials():
    x = ex.smooth_signals(4, 16, 5, ilib.make_generator(0))
    W, freq = ut.fourier_basis(16)
    coef = x @ W
    torch.testing.assert_close(x.norm(dim=1), torch.ones(4, dtype=torch.float64))
    assert coef[:, 5:].abs().max() < 1e-12 and set(freq[:5].tolist()) == {0, 1, 2}


def test_jacobian_spectrum_bookkeeping():
    r = ex.jacobian_spectrum("gaussian", k=64, trials=3, k_values=(64, 256, 1024), stream=ilib.stream(0, "a"), **SMALL)
    assert r.eigs.shape == (3, 32) and r.energy.shape[:2] == (3, 24) and r.sweep_op_err.shape == (3, 3)
    np.testing.assert_allclose(r.energy.sum(-1), 1.0, atol=1e-5)
    assert r.sigma_offdiag < 1e-12 and r.weyl_holds().all()
    assert (np.diff(r.sweep_op_err.mean(axis=1)) < 0).all()  # more channels, closer to Σ
    assert list(r.predicted_frequency()[:5]) == [0, 1, 1, 2, 2]
    for claim in (ex.EXPECTED_KERNEL, ex.SIGMA_IS_FOURIER_DIAGONAL, ex.KERNEL_CONCENTRATES, ex.EIGENSPACE_RATE, ex.WEYL,
                  ex.EIGENVECTORS_FOURIER):
        claim.evaluate(r)
    again = ex.jacobian_spectrum("gaussian", k=64, trials=3, k_values=(64, 256, 1024), stream=ilib.stream(0, "a"), **SMALL)
    assert np.array_equal(r.eigs, again.eigs)


def test_early_stopping_starts_at_the_signal_energy_and_follows_its_linearisation():
    e = ex.early_stopping("narrow", k=512, noise=1.0, step_scale=0.5, steps=30, trials=3,
                          stream=ilib.stream(0, "b"), **SMALL)
    # G(C0) = 0 exactly, so every error curve starts at ||x||^2 = 1 and every mode has all its energy
    np.testing.assert_allclose(e.err_nn[0], 1.0, atol=1e-6)
    np.testing.assert_allclose(e.err_lazy_sigma[0], 1.0, atol=1e-12)
    assert e.expected[0] == pytest.approx(1.0)
    # the float32 network's G(C0) cancels to rounding only (the BLAS's summation order over k channels decides),
    # which a mode holding little of y's energy sees relative to that energy: float32 tolerance, not float64
    np.testing.assert_allclose(e.mode_energy[0], 1.0, atol=1e-4)
    assert e.closed_form_dev < 1e-10
    assert (e.dev_k[1:e.t_star + 1] < e.dev_sigma[1:e.t_star + 1]).all()
    assert 0 < e.t_star < 30 and e.lower_bound() < e.p_sigma2_over_n
    v = ex.P_SIGMA2_OVER_N.evaluate(e)
    assert v["predicted"][0] == pytest.approx(e.lower_bound() if e.decays() else 1.5 * e.p_sigma2_over_n)


def test_excess_ratio_shrinks_as_the_signal_fills_the_flat_top_of_the_spectrum():
    r = ex.excess_ratio("narrow", n=64, p_values=(1, 5, 21), noise=1.0, step_scale=0.5, steps=200)
    assert r[0] > r[1] > r[2] > 0.9


def test_compressed_sensing_bookkeeping_and_the_lazy_limit_with_all_measurements():
    c = ex.compressed_sensing("gaussian", k=256, m_values=(8, 32), trials=2, steps=60, step_scale=0.5,
                              stream=ilib.stream(0, "c"), **SMALL)
    assert c.rel_nn.shape == (61, 2, 2) and c.rel_lazy.shape == (2, 2)
    np.testing.assert_allclose(c.rel_nn[0], 1.0, atol=1e-6)  # the network starts at zero
    assert c.rel_limit[1].max() < 1e-6  # m = n: the interpolant is x
    assert (c.rel_limit <= c.rel_lazy + 1e-9).all()


def test_denoising_bookkeeping():
    img = ut.sample_image(16, block=4)
    d = ex.denoising(img, noise_levels=(0.1, 0.2), trials=2, widths=(4, 8), depths=(2, 1), steps=5, lr=0.01,
                     tv_weights=(0.05, 0.1), tv_iters=20, stream=ilib.stream(0, "d"), device="cpu")
    assert d.under.psnr.shape == (6, 2, 2) and d.tv_psnr.shape == (2, 2, 2) and d.noisy_psnr.shape == (2, 2)
    assert d.under.n_params == ut.DeepDecoder(4, 2, 16).n_params
    assert (d.under.drop >= 0).all() and (d.noise_fit <= 1).all()
    lv = d.level(1)
    assert lv.sigma == 0.2 and lv.cost_of_not_stopping().shape == (2,)
    # a noisier image is further from the clean one
    assert d.noisy_psnr[1].mean() < d.noisy_psnr[0].mean()
    for claim in (ex.NOISE_FRACTION, ex.UNDER_NO_EARLY_STOPPING, ex.OVER_NEEDS_EARLY_STOPPING, ex.DECODER_VS_TV):
        claim.evaluate(lv)


def test_profile_relations_name_the_parameter():
    for name, value in (("p", 4), ("k", 33), ("cs_m_values", [10, 200]), ("dd_depth", 7), ("k_values", [64, 64, 128])):
        with pytest.raises(ilib.ParameterError, match=f"'{name}'"):
            ex.Profile.resolve("smoke", {name: value})
    with pytest.raises(ValueError, match="filter"):
        ex.filter_vector("wide", 32)


def test_every_claim_is_declared_with_kind_and_source():
    claims = ilib.claims.declared(ex)
    assert len(claims) >= 15 and len({c.id for c in claims}) == len(claims)
    assert {c.kind for c in claims} == {"theorem", "sanity", "finding"}
    assert all(c.source.strip() for c in claims)
