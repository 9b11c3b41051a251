"""ilib.untrained: the Jacobian against autograd, the expected kernel, shift equivariance, the lazy model's closed
forms against explicit iteration, the deep decoder's layers, TV denoising against cvxpy, and bad input."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

import ilib
from ilib import untrained as ut

F64 = torch.float64


def _generator(n=16, k=6, taps=ut.NARROW_TAPS, dtype=F64):
    return ut.ConvGenerator(ut.embed_filter(taps, n, dtype=dtype), k)


# ----------------------------------------------------------------------------- the generator and its Jacobian
@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(9, 20), half_k=st.integers(1, 4))
def test_jacobian_kernel_and_vjp_match_autograd(seed, n, half_k):
    G = _generator(n, 2 * half_k)
    C = torch.randn(2, n, 2 * half_k, generator=ilib.make_generator(seed), dtype=F64)
    J = G.jacobian(C)
    for b in range(2):
        auto = torch.autograd.functional.jacobian(lambda c: G(c.reshape(n, 2 * half_k)), C[b].reshape(-1))
        torch.testing.assert_close(J[b], auto, rtol=0, atol=1e-12)
    torch.testing.assert_close(G.kernel(C), J @ J.transpose(-1, -2), rtol=1e-12, atol=1e-12)
    r = torch.randn(2, n, generator=ilib.make_generator(seed + 1), dtype=F64)
    torch.testing.assert_close(G.vjp(C, r).reshape(2, -1), (r.unsqueeze(-2) @ J).squeeze(-2), rtol=1e-12, atol=1e-12)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000), shift=st.integers(-40, 40))
def test_generator_and_kernel_are_equivariant_to_circular_shifts(seed, shift):
    """U is circulant, so U S = S U for the cyclic shift S: G(S C) = S G(C) and K(S C) = S K(C) S^T."""
    G = _generator(17, 4, ut.gaussian_taps(3, 4.0))
    C = torch.randn(3, 17, 4, generator=ilib.make_generator(seed), dtype=F64)
    SC = torch.roll(C, shift, dims=-2)
    torch.testing.assert_close(G(SC), torch.roll(G(C), shift, dims=-1), rtol=1e-12, atol=1e-12)
    K, KS = G.kernel(C), G.kernel(SC)
    torch.testing.assert_close(KS, torch.roll(K, (shift, shift), dims=(-2, -1)), rtol=1e-12, atol=1e-12)


def test_antisymmetric_start_gives_zero_output_and_a_nonzero_jacobian():
    G = _generator(32, 400)
    C0 = G.antisymmetric_start(4, ilib.stream(0, "t"))
    assert torch.equal(C0[..., :200], C0[..., 200:])
    assert G(C0).abs().max() < 1e-14
    diag = G.kernel(C0).diagonal(dim1=-2, dim2=-1)  # ||u||^2 times the fraction of active channels: about 1/2
    assert ((diag > 0.3) & (diag < 0.7)).all()
    assert torch.equal(C0, G.antisymmetric_start(4, ilib.stream(0, "t")))


def test_circulant_rows_are_shifts_and_the_product_is_circular_correlation():
    u = torch.arange(5, dtype=F64)
    U = ut.circulant(u)
    for i in range(5):
        assert torch.equal(U[i], torch.roll(u, i))
    c = torch.randn(5, dtype=F64, generator=ilib.make_generator(3))
    corr = torch.stack([sum(u[(j - i) % 5] * c[j] for j in range(5)) for i in range(5)])
    torch.testing.assert_close(U @ c, corr)


def test_embed_filter_is_centred_and_unit():
    u = ut.embed_filter((1.0, 2.0, 1.0), 8)
    torch.testing.assert_close(u, torch.tensor([2, 1, 0, 0, 0, 0, 0, 1], dtype=F64) / math.sqrt(6))
    assert len(ut.gaussian_taps()) == 25 and ut.gaussian_taps()[12] == 1.0


# ----------------------------------------------------------------------------- the expected kernel
def test_expected_kernel_is_the_monte_carlo_mean_of_the_kernel():
    """Σ = E K(C): every entry within 5 standard errors of the mean over 40,000 independent channels."""
    n, k = 12, 40_000
    u = ut.embed_filter((1.0, 3.0, 5.0, 3.0, 1.0), n)
    G = ut.ConvGenerator(u, k)
    C = torch.randn(n, k, generator=ilib.make_generator(0), dtype=F64)
    A = G.pattern(C)
    per_channel = (G.U @ G.U.T)[..., None] * (A[:, None, :] * A[None, :, :])  # (n, n, k), mean = Σ since ||v||^2 = 1
    mean, se = per_channel.mean(-1), per_channel.std(-1) / math.sqrt(k)
    sigma = ut.expected_kernel(u)
    assert ((mean - sigma).abs() <= 5 * se + 1e-12).all()
    torch.testing.assert_close(sigma.diagonal(), torch.full((n,), 0.5, dtype=F64))  # ||u||^2 (1 - 0) / 2


def test_expected_kernel_is_diagonal_in_the_fourier_basis_with_paired_eigenvalues():
    for taps in (ut.NARROW_TAPS, ut.gaussian_taps()):
        n = 64
        sigma = ut.expected_kernel(ut.embed_filter(taps, n))
        W, freq = ut.fourier_basis(n)
        lam = ut.kernel_eigenvalues(sigma)
        torch.testing.assert_close(W.T @ sigma @ W, torch.diag(lam[freq]), rtol=0, atol=1e-12)
        torch.testing.assert_close(lam[1:], lam[1:].flip(0), rtol=0, atol=1e-12)  # λ_f = λ_{n-f}
        torch.testing.assert_close(lam.sort().values, torch.linalg.eigvalsh(sigma), rtol=0, atol=1e-12)


def test_the_wide_filter_s_spectrum_decays_faster():
    n = 128
    ratio = {}
    for name, taps in (("narrow", ut.NARROW_TAPS), ("wide", ut.gaussian_taps())):
        lam = torch.linalg.eigvalsh(ut.expected_kernel(ut.embed_filter(taps, n))).flip(0)
        ratio[name] = float(lam[0] / lam[39])
    assert ratio["wide"] > 3 * ratio["narrow"]


def test_fourier_basis_is_orthogonal_and_pair_energy_finds_the_frequency():
    for n in (7, 8):
        W, freq = ut.fourier_basis(n)
        torch.testing.assert_close(W.T @ W, torch.eye(n, dtype=F64), rtol=0, atol=1e-12)
        E = ut.pair_energy(W)
        assert E.shape == (n, n // 2 + 1)
        torch.testing.assert_close(E.sum(-1), torch.ones(n, dtype=F64))
        assert torch.equal(E.argmax(-1), freq)
    rot = (W[:, 1] + W[:, 2]) / math.sqrt(2)  # a rotation within the f = 1 pair
    assert abs(float(ut.pair_energy(rot[:, None])[0, 1]) - 1) < 1e-12


# ----------------------------------------------------------------------------- the lazy model
def test_lazy_residual_is_the_explicit_iteration():
    G = _generator(20, 8)
    C0 = G.antisymmetric_start(3, 1)
    K = G.kernel(C0)
    y = torch.randn(3, 20, generator=ilib.make_generator(2), dtype=F64)
    eta = 0.5 / float(torch.linalg.eigvalsh(K).max())
    closed = ut.lazy_residual(K, y, eta, range(31))
    r = y.clone()
    for t in range(31):
        torch.testing.assert_close(closed[t], r, rtol=0, atol=1e-12)
        r = r - eta * (K @ r.unsqueeze(-1)).squeeze(-1)


def test_gradient_descent_on_the_linearisation_is_the_lazy_residual():
    """GD on the linearised network, C <- C - η J^T (J (C - C0) - y), has residual (I - ηK)^t y."""
    G = _generator(16, 6)
    C0 = G.antisymmetric_start(1, 4)[0]
    J = G.jacobian(C0)
    y = torch.randn(16, generator=ilib.make_generator(5), dtype=F64)
    eta = 0.3 / float(torch.linalg.eigvalsh(J @ J.T).max())
    d = torch.zeros(J.shape[1], dtype=F64)
    for _ in range(12):
        d = d - eta * J.T @ (J @ d - y)
    torch.testing.assert_close(y - J @ d, ut.lazy_residual(J @ J.T, y, eta, [12])[0], rtol=0, atol=1e-12)


def test_lazy_error_and_its_expectation():
    lam = torch.tensor([2.0, 1.0, 0.25], dtype=F64)
    x = torch.tensor([0.6, -0.8, 0.0], dtype=F64)
    z = torch.tensor([0.1, -0.1, 0.1], dtype=F64)  # every z_i^2 = 0.01
    e = ut.lazy_error(lam, x, z, 0.2, 5)
    for t in range(6):
        a = (1 - 0.2 * lam) ** t
        assert abs(float(e[t]) - float((((1 - a) * (x + z) - x) ** 2).sum())) < 1e-14
    # averaging z and -z removes the cross term: exactly the expectation with E z_i^2 = 0.01
    mean = (e + ut.lazy_error(lam, x, -z, 0.2, 5)) / 2
    torch.testing.assert_close(mean, ut.expected_lazy_error(lam, x**2, 0.01, 0.2, 5), rtol=0, atol=1e-14)
    assert float(e[0]) == pytest.approx(1.0)  # f_0 = 0: the error is ||x||^2


def test_lazy_cs_estimate_is_the_iteration_and_tends_to_the_kernel_interpolant():
    g = ilib.make_generator(0)
    n, m = 20, 7
    sigma = ut.expected_kernel(ut.embed_filter(ut.NARROW_TAPS, n))
    A = torch.randn(2, m, n, generator=g, dtype=F64) / math.sqrt(m)
    y = torch.randn(2, m, generator=g, dtype=F64)
    M = A @ sigma @ A.transpose(-1, -2)
    eta = 1 / torch.linalg.eigvalsh(M)[:, -1]
    f = torch.zeros(2, n, dtype=F64)
    for _ in range(25):
        resid = y - (A @ f.unsqueeze(-1)).squeeze(-1)
        f = f + eta[:, None] * (sigma @ A.transpose(-1, -2) @ resid.unsqueeze(-1)).squeeze(-1)
    torch.testing.assert_close(ut.lazy_cs_estimate(sigma, A, y, eta, 25), f, rtol=1e-10, atol=1e-12)
    xh = ut.kernel_interpolant(sigma, A, y)
    torch.testing.assert_close((A @ xh.unsqueeze(-1)).squeeze(-1), y, rtol=1e-9, atol=1e-10)  # consistent
    torch.testing.assert_close(ut.lazy_cs_estimate(sigma, A, y, eta, 200_000), xh, rtol=1e-6, atol=1e-8)
    # the smallest ||x||_{Σ^-1} among the consistent signals: any null-space step increases it
    Sinv = torch.linalg.inv(sigma)
    null = torch.linalg.svd(A[0], full_matrices=True).Vh[m:]
    q = lambda v: float(v @ Sinv @ v)  # noqa: E731
    for d in null[:5]:
        assert q(xh[0] + 0.1 * d) > q(xh[0]) and q(xh[0] - 0.1 * d) > q(xh[0])


# ----------------------------------------------------------------------------- the deep decoder
@pytest.mark.parametrize("s", [1, 2, 3, 8])
def test_bilinear_upsampling_matrix_is_torch_s_bilinear_interpolation(s):
    L = ut.bilinear_upsampling_matrix(s)
    X = torch.randn(3, s, s, generator=ilib.make_generator(s), dtype=F64)
    ref = F.interpolate(X[None], scale_factor=2, mode="bilinear", align_corners=False)[0]
    torch.testing.assert_close(L @ X @ L.T, ref, rtol=0, atol=1e-12)
    torch.testing.assert_close(L.sum(1), torch.ones(2 * s, dtype=F64))


def test_deep_decoder_is_the_layered_reference_and_counts_its_parameters():
    net = ut.DeepDecoder(5, 2, 16, dtype=F64)
    assert net.n_params == 2 * 25 + 2 * 2 * 5 + 5
    theta, z = net.init(3, 0)
    out = net(theta, z)
    assert out.shape == (3, 16, 16) and ((out > 0) & (out < 1)).all()
    convs, scales, shifts, last = (lambda p: (p[:2], p[2:4], p[4:6], p[6]))(net.unflatten(theta))
    b = 1
    h = z[b:b + 1]
    for i in range(2):
        h = F.conv2d(h, convs[i][b][:, :, None, None])
        h = torch.relu(F.interpolate(h, scale_factor=2, mode="bilinear", align_corners=False))
        h = F.batch_norm(h, None, None, scales[i][b], shifts[i][b], training=True, eps=1e-5)
    ref = torch.sigmoid(F.conv2d(h, last[b][None, :, None, None]))[0, 0]
    torch.testing.assert_close(out[b], ref, rtol=1e-10, atol=1e-12)


# ----------------------------------------------------------------------------- total variation, PSNR, image
def test_divergence_is_minus_the_adjoint_of_the_gradient():
    g = ilib.make_generator(0)
    u = torch.randn(2, 5, 7, generator=g, dtype=F64)
    p = torch.randn(2, 2, 5, 7, generator=g, dtype=F64)
    lhs = (ut._grad2(u) * p).sum()
    rhs = -(u * ut._div2(p)).sum()
    assert abs(float(lhs - rhs)) < 1e-12


def test_tv_denoise_solves_the_rof_problem_as_cvxpy_does():
    import cvxpy as cp

    f = torch.rand(6, 6, generator=ilib.make_generator(1), dtype=F64)
    w = 0.1
    u = cp.Variable((6, 6))
    gx = cp.vstack([u[1:, :] - u[:-1, :], np.zeros((1, 6))])
    gy = cp.hstack([u[:, 1:] - u[:, :-1], np.zeros((6, 1))])
    tv = cp.sum(cp.norm(cp.vstack([cp.vec(gx, order="F"), cp.vec(gy, order="F")]), 2, axis=0))
    cp.Problem(cp.Minimize(0.5 * cp.sum_squares(u - f.numpy()) + w * tv)).solve()
    ours = ut.tv_denoise(f, w, iters=5000)
    np.testing.assert_allclose(ours.numpy(), u.value, atol=2e-4)
    # batched weights: each image gets its own
    both = ut.tv_denoise(torch.stack([f, f]), torch.tensor([w, 1e-9], dtype=F64), iters=200)
    torch.testing.assert_close(both[1], f, rtol=0, atol=1e-6)


def test_psnr_of_a_known_error():
    ref = torch.zeros(4, 4, dtype=F64)
    assert float(ut.psnr(ref + 0.1, ref)) == pytest.approx(20.0)
    assert float(ut.psnr(ref + 0.1, ref, peak=10.0)) == pytest.approx(40.0)


def test_sample_image_is_a_deterministic_grey_crop():
    a, b = ut.sample_image(16, block=2), ut.sample_image(16, block=2)
    assert a.shape == (16, 16) and torch.equal(a, b) and 0 <= a.min() and a.max() <= 1 and a.std() > 0.01


# ----------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("call, name", [
    (lambda: ut.embed_filter((1.0, 2.0), 8), "taps"),
    (lambda: ut.embed_filter((1.0,) * 9, 5), "taps"),
    (lambda: ut.embed_filter((1.0,), 0), "n"),
    (lambda: ut.ConvGenerator(ut.embed_filter((1.0,), 4), 3), "k"),
    (lambda: ut.ConvGenerator(torch.zeros(2, 2, dtype=F64), 2), "u"),
    (lambda: _generator(12, 2)(torch.zeros(12, 3, dtype=F64)), "C"),
    (lambda: ut.lazy_residual(torch.eye(2, dtype=F64), torch.ones(2, dtype=F64), -1.0, [1]), "eta"),
    (lambda: ut.lazy_residual(torch.eye(2, dtype=F64), torch.ones(2, dtype=F64), 0.1, [-1]), "times"),
    (lambda: ut.lazy_error(torch.ones(2, dtype=F64), torch.ones(2, dtype=F64), torch.ones(2, dtype=F64), 0.1, -1), "steps"),
    (lambda: ut.expected_lazy_error(torch.ones(2, dtype=F64), torch.ones(2, dtype=F64), -1.0, 0.1, 3), "noise_var"),
    (lambda: ut.lazy_cs_estimate(torch.eye(2, dtype=F64), torch.eye(2, dtype=F64), torch.ones(2, dtype=F64), 0.0, 3),
     "eta"),
    (lambda: ut.DeepDecoder(4, 3, 12), "side"),
    (lambda: ut.DeepDecoder(0, 1, 4), "width"),
    (lambda: ut.DeepDecoder(2, 1, 4).unflatten(torch.zeros(1, 3)), "theta"),
    (lambda: ut.tv_denoise(torch.zeros(3, 3), 0.1, tau=0.2), "tau"),
    (lambda: ut.tv_denoise(torch.zeros(3, 3), 0.0), "weight"),
    (lambda: ut.tv_denoise(torch.zeros(3), 0.1), "f"),
    (lambda: ut.psnr(torch.zeros(2, 2), torch.zeros(2, 2), peak=0.0), "peak"),
    (lambda: ut.sample_image(64, top=400), "top"),
    (lambda: ut.fourier_basis(0), "n"),
    (lambda: ut.kernel_eigenvalues(torch.zeros(2, 3, dtype=F64)), "sigma"),
])
def test_bad_input_is_refused_naming_the_parameter(call, name):
    with pytest.raises((ValueError, TypeError)) as info:
        call()
    assert str(info.value).startswith(name) or f"'{name}'" in str(info.value) or f" {name} " in str(info.value)
