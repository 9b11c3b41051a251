"""Tests for ilib.constructions: the sparsity network, group-sparse generators, Fano and ML decoding."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import ilib
from ilib import constructions as C
from ilib import make_generator, randn

F64 = torch.float64
HYP = settings(max_examples=25, deadline=None)


# --------------------------------------------------------------------------- G_sp: range
@pytest.mark.parametrize("n,k", [(1, 1), (5, 2), (50, 3), (200, 5), (64, 64)])
def test_encode_then_generate_is_identity(n, k):
    gen = C.SparsityGenerator(n, k, device="cpu")
    v = C.wide_range_sparse(100, n, k, low=0.1, high=10.0, seed=n + k, device="cpu")
    v_hat = gen(gen.encode(v))
    assert (v_hat - v).abs().max().item() <= 1e-9
    # exact support: no spurious non-zeros at all
    assert torch.equal(v_hat != 0, v != 0)


@HYP
@given(n=st.integers(1, 80), k=st.integers(1, 6), seed=st.integers(0, 2**31), fill=st.floats(0, 1))
def test_every_sparse_vector_is_in_the_range(n, k, seed, fill):
    k = min(k, n)
    g = make_generator(seed)
    s = max(0, min(k, round(fill * k)))  # fewer than k non-zeros is allowed too
    v = torch.zeros(7, n, dtype=F64)
    if s:
        v = C.wide_range_sparse(7, n, s, low=1e-3, high=1e3, seed=g, device="cpu")
    gen = C.SparsityGenerator(n, k, device="cpu")
    err = (gen(gen.encode(v)) - v).abs().max().item()
    assert err <= 1e-9 * max(1.0, v.abs().max().item())


@pytest.mark.parametrize("n,k", [(3, 1), (20, 2), (50, 3), (200, 5)])
def test_random_latents_give_at_most_k_nonzeros(n, k):
    gen = C.SparsityGenerator(n, k, device="cpu")
    z = 3 * randn(3000, 2 * k, generator=make_generator(1), dtype=F64, device="cpu")
    nnz = (gen(z) != 0).sum(-1)
    assert int(nnz.max()) <= k
    # and the bound is attained: k blocks in different sectors give k non-zeros
    assert int(nnz.max()) == k or n < k


@HYP
@given(n=st.integers(2, 60), k=st.integers(1, 5), seed=st.integers(0, 2**31), scale=st.floats(1e-3, 1e3))
def test_outputs_are_k_sparse_for_all_latents(n, k, seed, scale):
    k = min(k, n)
    gen = C.SparsityGenerator(n, k, device="cpu")
    z = scale * randn(50, 2 * k, generator=make_generator(seed), dtype=F64, device="cpu")
    assert int((gen(z) != 0).sum(-1).max()) <= k


def test_encoder_puts_blocks_at_sector_centres_in_a_fixed_order():
    n = 5
    alpha = math.pi / n
    v = torch.tensor([[0.0, -1.5, 1.5, 0.0, 0.25]], dtype=F64)
    z = C.encode_sparse(v, 3).reshape(3, 2)
    # largest |v_i| first, ties to the smaller index: coordinates 1 (negative), 2, then 4
    for (x1, x2), i, t, neg in zip(z, [1, 2, 4], [1.5, 1.5, 0.25], [True, False, False]):
        theta = (i + 0.5) * alpha + (math.pi if neg else 0.0)
        assert x1.item() == pytest.approx(t * math.sin(theta)) and x2.item() == pytest.approx(t * math.cos(theta))
    assert torch.equal(C.encode_sparse(torch.zeros(2, 4, dtype=F64), 2), torch.zeros(2, 4, dtype=F64))


def test_encoder_refuses_vectors_outside_the_range():
    gen = C.SparsityGenerator(10, 2, device="cpu")
    v = torch.zeros(1, 10, dtype=F64)
    v[0, :3] = 1.0
    with pytest.raises(ValueError, match="at most k=2"):
        gen.encode(v)
    with pytest.raises(ValueError, match="n=10"):
        gen.encode(torch.zeros(1, 9, dtype=F64))


# --------------------------------------------------------------------------- G_sp: it is the network it claims to be
@pytest.mark.parametrize("n,k", [(4, 1), (7, 2), (12, 3)])
def test_dense_bias_free_relu_network_equals_block_evaluation(n, k):
    gen = C.SparsityGenerator(n, k, device="cpu")
    dense = gen.dense()
    assert dense.widths == [2 * k, 4 * k * n, 2 * k * n, n] == gen.widths
    assert dense.output_relu is False
    z = randn(1, 300, 2 * k, generator=make_generator(0), dtype=F64, device="cpu")
    assert torch.allclose(dense(z), gen(z[0]).unsqueeze(0), atol=1e-12)
    # the crude Lipschitz bound computed from the blocks is the dense network's product of norms
    assert gen.lipschitz_upper_bound() == pytest.approx(dense.lipschitz_upper_bound().item(), rel=1e-10)


@pytest.mark.parametrize("n,k", [(5, 1), (9, 2), (30, 3)])
def test_closed_form_jacobian_matches_autograd(n, k):
    gen = C.SparsityGenerator(n, k, device="cpu")
    z = randn(40, 2 * k, generator=make_generator(3), dtype=F64, device="cpu")
    J = gen.jacobian(z)
    z.requires_grad_(True)
    out = gen(z)  # rows are independent, so the gradient of a column sum is the per-row gradient
    J_auto = torch.stack([torch.autograd.grad(out[:, i].sum(), z, retain_graph=True)[0] for i in range(n)], 1)
    assert torch.allclose(J, J_auto, atol=1e-10)


@pytest.mark.parametrize("n,k", [(3, 1), (10, 2), (100, 4)])
def test_lipschitz_constant_is_attained_and_never_exceeded(n, k):
    gen = C.SparsityGenerator(n, k, device="cpu")
    est = C.lipschitz_estimate(gen, samples=300, seed=0)
    L = math.sqrt(k) / math.sin(math.pi / (2 * n))
    assert est["analytic"] == pytest.approx(L)
    assert est["jacobian_aligned"] == pytest.approx(L, rel=1e-10)
    for key in ("jacobian_random", "difference_quotient", "estimate"):
        assert est[key] <= L * (1 + 1e-9)
    assert est["product_bound"] >= L


@HYP
@given(n=st.integers(2, 40), k=st.integers(1, 4), seed=st.integers(0, 2**31))
def test_difference_quotients_never_exceed_the_lipschitz_constant(n, k, seed):
    k = min(k, n)
    gen = C.SparsityGenerator(n, k, device="cpu")
    g = make_generator(seed)
    z1 = randn(200, 2 * k, generator=g, dtype=F64, device="cpu")
    z2 = z1 + randn(200, 2 * k, generator=g, dtype=F64, device="cpu") * 0.3
    q = (gen(z1) - gen(z2)).norm(dim=-1) / (z1 - z2).norm(dim=-1)
    assert q.max().item() <= gen.lipschitz_constant() * (1 + 1e-9)


# --------------------------------------------------------------------------- G_sp: memory
def test_dense_network_too_large_for_memory_is_refused():
    gen = C.SparsityGenerator(100_000, 10, device="cpu")  # the block form is small
    with pytest.raises(C.TooLargeError, match=r"n=100000, k=10.*GiB"):
        gen.dense()
    assert C.SparsityGenerator.dense_bytes(1000, 10) > 6 * 2**30  # theory notes: > 6 GB at n = 1000, k = 10


def test_block_network_too_large_for_memory_is_refused():
    with pytest.raises(C.TooLargeError, match="n=1000000000000"):
        C.SparsityGenerator(10**12, 1, device="cpu")
    gen = C.SparsityGenerator(1000, 10, device="cpu")
    huge = torch.zeros(1, 20, dtype=F64).expand(10**8, 20)  # a view: no memory
    with pytest.raises(C.TooLargeError, match="latents"):
        gen(huge)


def test_bad_sizes_name_the_parameter():
    with pytest.raises(ValueError, match="k must be at most n"):
        C.SparsityGenerator(3, 4)
    with pytest.raises(ValueError, match="n must be a positive integer"):
        C.SparsityGenerator(0, 1)
    with pytest.raises(ValueError, match="w must be a positive integer"):
        C.hat_generator(0)
    with pytest.raises(ValueError, match="depth must be a positive integer"):
        C.sawtooth_generator(0)
    with pytest.raises(ValueError, match="xi"):
        C.hat_generator(4, xi=-1.0)


# --------------------------------------------------------------------------- group-sparse generators
@pytest.mark.parametrize("w,k", [(1, 1), (4, 1), (16, 2), (33, 3)])
def test_hat_generator_passes_through_its_points(w, k):
    xi, r = 0.7, 2.0
    gen = C.hat_generator(w, k, xi=xi, radius=r, device="cpu")
    assert torch.allclose(gen.group(gen.centres), xi * torch.eye(w, dtype=F64), atol=1e-12)
    assert gen.widths == [k, k * (w + 2), k * w]  # one hidden layer of width about n/k per group
    X = gen.codebook()
    assert X.shape == (w**k, k * w)
    groups = X.reshape(-1, k, w)
    # exactly one non-zero per group (the other hats cancel to rounding: a - 2b + c with a, b, c > 0)
    assert torch.all((groups.abs() > 1e-12).sum(-1) == 1)
    assert torch.allclose(groups.sum(-1), torch.full((w**k, k), xi, dtype=F64))
    assert len(torch.unique(X, dim=0)) == w**k
    # linear interpolation between consecutive points: the midpoint is the average
    mid = (gen.centres[:-1] + gen.centres[1:]) / 2
    assert torch.allclose(gen.group(mid), (gen.points[:-1] + gen.points[1:]) / 2, atol=1e-12)


@pytest.mark.parametrize("w", [1, 3, 10])
def test_hat_generator_pieces_and_lipschitz(w):
    gen = C.hat_generator(w, xi=1.3, radius=0.5, device="cpu")
    h = 1.0 / w
    lo, hi = gen.centres[0].item() - h, gen.centres[-1].item() + h  # the outer knots
    assert C.linear_pieces(gen, lo + h / 4, hi - h / 4) == w + 1  # kinks at the w centres
    assert C.linear_pieces(gen, lo - 5, hi + 5) == w + 3  # zero outside: two more pieces
    u = torch.linspace(lo - 1, hi + 1, 100_001, dtype=F64)
    out = gen.group(u)
    slope = ((out[1:] - out[:-1]).norm(dim=-1) / (u[1:] - u[:-1])).max().item()
    assert slope == pytest.approx(gen.lipschitz_constant(), rel=1e-6)


def _gray(j: int, d: int) -> list[int]:
    g = j ^ (j >> 1)
    return [(g >> (d - 1 - i)) & 1 for i in range(d)]


@pytest.mark.parametrize("d", [1, 2, 3, 5, 8])
def test_sawtooth_generator_walks_the_hypercube_in_gray_code(d):
    xi = 0.5
    gen = C.sawtooth_generator(d, 1, xi=xi, device="cpu")
    out = gen.group(gen.centres)
    expected = torch.tensor([[xi * (2 * b - 1) for b in _gray(j, d)] for j in range(2**d)], dtype=F64)
    assert torch.equal(out, expected)  # exactly: dyadic arithmetic
    assert len(torch.unique(out, dim=0)) == 2**d  # all vertices of {±xi}^d
    flips = (out[1:] != out[:-1]).sum(-1)
    assert torch.all(flips == 1)
    assert max(gen.group_widths[1:-1]) <= d + 3 and gen.depth == d


@pytest.mark.parametrize("d", [1, 2, 4, 7, 10])
def test_linear_pieces_of_sawtooth_double_with_depth(d):
    assert C.linear_pieces(C.tent_composition(d, device="cpu"), 0.0, 1.0) == 2**d
    assert C.linear_pieces(C.sawtooth_generator(d, device="cpu"), 0.0, 1.0) == 2 ** (d + 1) - 1


@pytest.mark.parametrize("d", [1, 3, 6])
def test_sawtooth_lipschitz_constant(d):
    gen = C.sawtooth_generator(d, 2, xi=0.25, device="cpu")
    u = torch.linspace(-0.25, 1.25, 2**(d + 8) * 3 // 2 + 1, dtype=F64)
    out = gen.group(u)
    slope = ((out[1:] - out[:-1]).norm(dim=-1) / (u[1:] - u[:-1])).max().item()
    assert slope == pytest.approx(gen.lipschitz_constant(), rel=1e-9)
    z = torch.stack([u, u.flip(0)], -1)
    assert gen(z).shape == (len(u), 2 * d)


def test_group_generator_is_k_independent_copies():
    gen = C.sawtooth_generator(3, 4, device="cpu")
    z = torch.rand(10, 4, dtype=F64, generator=make_generator(0))
    out = gen(z).reshape(10, 4, 3)
    for j in range(4):
        assert torch.equal(out[:, j], gen.group(z[:, j]))


# --------------------------------------------------------------------------- Fano and ML decoding
def test_fano_bound_known_values():
    assert C.fano_lower_bound([0], 10, 1.0)[0] == pytest.approx(0.9)
    assert C.fano_lower_bound([4], 10, 1.0)[0] == pytest.approx(1 - 3 / 10)
    assert C.fano_lower_bound([100], 10, 1.0)[0] == 0.0
    # fano_m inverts the bound at 50%
    for s in (4.0, 10.0, 14.0):
        for snr in (0.5, 1.0, 3.0):
            assert C.fano_lower_bound([C.fano_m(s, snr)], s, snr)[0] == pytest.approx(0.5)


@pytest.mark.parametrize("b", [3, 6, 9])
def test_ml_decoder_never_beats_fano(b):
    X = C.random_codebook(b, 32, seed=b, device="cpu")
    res = C.ml_decoding_error(X, range(1, 3 * b + 6), noise_std=1.0, trials=400, seed=7)
    assert res["snr"] == pytest.approx(1.0)
    assert np.all(res["error"] >= res["fano"])
    assert res["error"][0] > res["error"][-1]  # more measurements help


def test_ml_decoder_is_the_nearest_codeword():
    # with no noise and m >= n, A is injective: the ML decoder is always right
    X = C.random_codebook(5, 8, seed=0, device="cpu")
    res = C.ml_decoding_error(X, [8, 12], noise_std=0.0, trials=100, seed=0)
    assert np.all(res["error"] == 0)
    # with overwhelming noise it guesses: error close to 1 - 1/M
    res = C.ml_decoding_error(X, [2], noise_std=1e6, trials=2000, seed=1)
    assert abs(res["error"][0] - (1 - 1 / 32)) < 0.03


@pytest.mark.parametrize("b,n", [(4, 4), (6, 7), (10, 12)])
def test_random_codebook_has_distinct_unit_codewords(b, n):
    X = C.random_codebook(b, n, seed=0, device="cpu")
    assert X.shape == (2**b, n) and len(torch.unique(X, dim=0)) == 2**b
    assert torch.allclose(X.norm(dim=-1), torch.ones(2**b, dtype=X.dtype))
    with pytest.raises(ValueError, match="b <= n"):
        C.random_codebook(n + 1, n)


def test_ml_decoder_matches_brute_force():
    X = C.random_codebook(6, 10, seed=2, dtype=F64, device="cpu")
    res = C.ml_decoding_error(X, [3, 7], noise_std=0.5, trials=50, seed=3, max_bytes=20_000)  # many small chunks
    g = make_generator(3)
    idx = torch.randint(64, (50,), generator=g)
    A = randn(50, 7, 10, generator=g, dtype=F64, device="cpu")
    eta = 0.5 * randn(50, 7, generator=g, dtype=F64, device="cpu")
    y = (A @ X[idx].unsqueeze(-1)).squeeze(-1) + eta
    for j, m in enumerate([3, 7]):
        d = ((y[:, None, :m] - (A[:, :m] @ X.t()).transpose(1, 2)) ** 2).sum(-1)
        assert res["wrong"][j] == int((d.argmin(1) != idx).sum())


# --------------------------------------------------------------------------- the global CSGM minimiser over G_sp
def _cells_brute_force(A: np.ndarray, y: np.ndarray, n: int, k: int) -> float:
    """min over every cell of G_sp's latent space (each block in one of 2n sectors) of the NNLS residual."""
    from scipy.optimize import nnls

    best = math.inf
    for cells in itertools.product(range(2 * n), repeat=k):
        cols = np.stack([(1.0 if s < n else -1.0) * A[:, s % n] for s in cells], axis=1)
        best = min(best, nnls(cols, y)[1])
    return best


@pytest.mark.parametrize("n,k,m", [(4, 1, 2), (5, 2, 3), (5, 2, 2), (4, 3, 4), (6, 2, 5)])
def test_sector_enumeration_equals_brute_force_over_every_cell(n, k, m):
    op = ilib.GaussianOperator.random(m, n, batch=3, seed=n + 10 * k + 100 * m, dtype=F64, device="cpu")
    y = ilib.randn(3, m, generator=ilib.make_generator(m), dtype=F64, device="cpu")
    res, x, z = C.gsp_global_minimiser(op, y, k)
    for b in range(3):
        assert res[b].item() == pytest.approx(_cells_brute_force(op.A[b].numpy(), y[b].numpy(), n, k), abs=1e-9)
    gen = C.SparsityGenerator(n, k, device="cpu")
    torch.testing.assert_close(gen(z), x)  # the latent returned generates the minimiser
    assert ((x != 0).sum(-1) <= k).all()


def test_global_minimiser_recovers_sparse_signals_from_2k_measurements_and_beats_every_restart():
    n, k, m = 12, 2, 4
    op, x = ilib.gaussian_problems(6, m, n, k, seed=3, dtype=F64, device="cpu")
    y = op(x)
    res, x_hat, _ = C.gsp_global_minimiser(op, y, k)
    assert (res < 1e-9).all() and (ilib.relative_error(x_hat, x) < 1e-8).all()
    gen = C.SparsityGenerator(n, k, device="cpu")
    z0 = ilib.randn(6, 8, 2 * k, generator=ilib.make_generator(4), dtype=F64, device="cpu")
    cs = ilib.csgm(y, op, gen, steps=100, lr=0.05, z0=z0)
    assert (res <= cs.restart_loss.clamp_min(0).sqrt().min(dim=1).values + 1e-12).all()


def test_global_minimiser_refuses_bad_input_naming_the_parameter():
    op = ilib.GaussianOperator.random(3, 5, batch=2, seed=0, dtype=F64, device="cpu")
    y = torch.zeros(2, 3, dtype=F64)
    for call, name in [(lambda: C.gsp_global_minimiser(op, y, 6), "k"), (lambda: C.gsp_global_minimiser(op, y, 4), "operator"),
                       (lambda: C.gsp_global_minimiser(op, torch.zeros(2, 4, dtype=F64), 2), "y"),
                       (lambda: C.gsp_global_minimiser(op, y, 0), "k")]:
        with pytest.raises(ValueError) as info:
            call()
        assert str(info.value).startswith(name), str(info.value)


@pytest.mark.parametrize("w,xi,r", [(2, 1.0, 1.0), (8, 0.5, 2.0), (33, 1.3, 0.5)])
def test_measured_lipschitz_of_the_hat_generator_is_the_formula(w, xi, r):
    gen = C.hat_generator(w, 3, xi=xi, radius=r, device="cpu")
    assert C.measured_lipschitz(gen, -2 * r, 2 * r) == pytest.approx(math.sqrt(2) * xi * w / (2 * r), rel=1e-12)


@pytest.mark.parametrize("d", [1, 4, 9])
def test_measured_lipschitz_of_the_sawtooth_generator_is_xi_2_to_the_d_plus_2(d):
    gen = C.sawtooth_generator(d, 1, xi=0.25, device="cpu")
    assert C.measured_lipschitz(gen, -0.5, 1.5) == pytest.approx(gen.lipschitz_constant(), rel=1e-12)
