"""Structured measurement operators (inpainting, super-resolution, subsampled DCT) and Lasso in pixel and DCT bases."""

import numpy as np
import pytest
import scipy.fft
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import ilib
from ilib.operators import (
    AdjointOperator,
    BlockAverageOperator,
    ComposedOperator,
    DCT2Operator,
    GaussianOperator,
    MaskOperator,
    SubsampledDCTOperator,
    dct_matrix,
    zigzag_order,
)

F64 = dict(dtype=torch.float64, device="cpu")


def _operators():
    return {
        "mask": MaskOperator.random(64, 20, batch=3, seed=1, **F64),
        "mask_shared": MaskOperator.random(64, 33, seed=2, **F64),
        "mask_box": MaskOperator.box(8, 2, 3, 4, 2, **F64),
        "block_average": BlockAverageOperator(8, 2, **F64),
        "block_average_4": BlockAverageOperator(8, 4, **F64),
        "dct": DCT2Operator(8, **F64),
        "idct": DCT2Operator(8, inverse=True, **F64),
        "subsampled_dct": SubsampledDCTOperator.random(8, 12, batch=3, seed=3, **F64),
        "subsampled_dct_iso": SubsampledDCTOperator.random(8, 12, seed=4, isometric=True, **F64),
        "lowpass_dct": SubsampledDCTOperator.lowpass(8, 10, **F64),
        "gauss_after_idct": ComposedOperator(GaussianOperator.random(15, 64, batch=3, seed=5, **F64), DCT2Operator(8, inverse=True, **F64)),
        "mask_after_idct": ComposedOperator(MaskOperator.random(64, 30, seed=6, **F64), DCT2Operator(8, inverse=True, **F64)),
        "adjoint_of_block": AdjointOperator(BlockAverageOperator(8, 2, **F64)),
    }


OPS = _operators()


@pytest.mark.parametrize("name", sorted(OPS))
def test_leading_shapes_act_row_by_row(name):
    r"""On inputs (B, R, .) forward and adjoint act on each of the R rows as on (B, .) alone (the dot test is in test_operators)."""
    op = OPS[name]
    B = op.batch if op.batch > 1 else 5
    g = torch.Generator().manual_seed(4)
    x = torch.randn(B, 4, op.in_dim, generator=g, dtype=torch.float64)
    y = torch.randn(B, 4, op.out_dim, generator=g, dtype=torch.float64)
    torch.testing.assert_close(op(x), torch.stack([op(x[:, r]) for r in range(4)], dim=1), rtol=1e-13, atol=1e-13)
    torch.testing.assert_close(op.adjoint(y), torch.stack([op.adjoint(y[:, r]) for r in range(4)], dim=1), rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("name", sorted(OPS))
def test_matrix_adjoint_is_transpose(name):
    """The matrix of the adjoint is the transpose of the matrix of the operator."""
    op = OPS[name]
    M = op.matrix()
    Mt = AdjointOperator(op).matrix()
    torch.testing.assert_close(Mt, M.transpose(1, 2), rtol=0, atol=1e-12)


def test_dct_matrix_matches_scipy_and_is_orthonormal():
    C = dct_matrix(7, **F64)
    ref = scipy.fft.dct(np.eye(7), axis=0, norm="ortho")
    np.testing.assert_allclose(C.numpy(), ref, atol=1e-13)
    torch.testing.assert_close(C @ C.T, torch.eye(7, dtype=torch.float64), rtol=0, atol=1e-13)


@given(st.integers(min_value=0, max_value=2**31 - 1), st.integers(min_value=1, max_value=9))
@settings(max_examples=25, deadline=None)
def test_dct2_equals_scipy_dctn(seed, side):
    x = np.random.default_rng(seed).standard_normal((3, side, side))
    op = DCT2Operator(side, **F64)
    got = op(torch.from_numpy(x.reshape(3, 1, side * side))).numpy().reshape(3, side, side)
    np.testing.assert_allclose(got, scipy.fft.dctn(x, axes=(1, 2), norm="ortho"), atol=1e-12)
    back = DCT2Operator(side, inverse=True, **F64)(torch.from_numpy(got.reshape(3, 1, -1))).numpy()
    np.testing.assert_allclose(back.reshape(x.shape), x, atol=1e-12)


@pytest.mark.parametrize(
    "op, gram",
    [
        (MaskOperator.random(64, 17, batch=2, seed=0, **F64), 1.0),
        (BlockAverageOperator(8, 2, **F64), 1 / 4),
        (BlockAverageOperator(9, 3, **F64), 1 / 9),
        (SubsampledDCTOperator.random(8, 16, seed=0, **F64), 1.0),
        (SubsampledDCTOperator.random(8, 16, seed=0, isometric=True, **F64), 64 / 16),
        (DCT2Operator(6, **F64), 1.0),
    ],
)
def test_row_gram_is_scaled_identity(op, gram):
    r"""A A^T = c^2 I: rows of the identity (mask), of block means (1/f^2), orthonormal DCT rows (times n/m if isometric)."""
    M = op.matrix()
    eye = torch.eye(op.out_dim, dtype=torch.float64).expand_as(M @ M.transpose(1, 2))
    torch.testing.assert_close(M @ M.transpose(1, 2), gram * eye, rtol=0, atol=1e-12)


def test_mask_known_values():
    op = MaskOperator(torch.tensor([[0, 3, 5], [1, 2, 4]]), 6, **F64)
    x = torch.arange(12, dtype=torch.float64).reshape(2, 6)
    torch.testing.assert_close(op(x), torch.tensor([[0.0, 3, 5], [7, 8, 10]], dtype=torch.float64))
    torch.testing.assert_close(op.adjoint(op(x)), x * op.mask.to(torch.float64))
    assert op.mask.sum().item() == 6


def test_mask_box_hides_the_box():
    op = MaskOperator.box(5, 1, 2, 2, 3, **F64)
    hidden = ~op.mask.reshape(5, 5)
    expected = torch.zeros(5, 5, dtype=torch.bool)
    expected[1:3, 2:5] = True
    assert torch.equal(hidden, expected) and op.out_dim == 25 - 6


def test_block_average_known_values():
    x = torch.arange(16, dtype=torch.float64).reshape(1, 16)  # 4x4 image of 0..15
    y = BlockAverageOperator(4, 2, **F64)(x)
    torch.testing.assert_close(y, torch.tensor([[2.5, 4.5, 10.5, 12.5]], dtype=torch.float64))


def test_subsampled_dct_matches_full_dct_rows():
    op = SubsampledDCTOperator.random(6, 9, batch=2, seed=7, **F64)
    x = torch.randn(2, 36, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    full = DCT2Operator(6, **F64)(x)
    torch.testing.assert_close(op(x), torch.gather(full, 1, op.indices))
    assert bool((op.indices[:, 0] == 0).all())  # the mean (DC) coefficient is kept by default


def test_zigzag_known_value():
    assert zigzag_order(3).tolist() == [0, 1, 3, 2, 4, 6, 5, 7, 8]
    lp = SubsampledDCTOperator.lowpass(3, 3, **F64)
    assert lp.indices.tolist() == [[0, 1, 3]]


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: BlockAverageOperator(8, 3), "factor"),
        (lambda: BlockAverageOperator(0, 1), "side"),
        (lambda: MaskOperator(torch.tensor([0, 0, 1]), 4), "repeat"),
        (lambda: MaskOperator(torch.tensor([0, 4]), 4), "indices"),
        (lambda: MaskOperator(torch.tensor([0.0, 1.0]), 4), "integers"),
        (lambda: MaskOperator.random(10, 11), "m"),
        (lambda: MaskOperator.from_mask(torch.tensor([[True, False], [True, True]])), "same number"),
        (lambda: MaskOperator.box(4, 0, 0, 4, 4), "box"),
        (lambda: MaskOperator.box(4, 3, 0, 2, 1), "box"),
        (lambda: SubsampledDCTOperator.lowpass(4, 17), "m"),
        (lambda: ComposedOperator(GaussianOperator.random(3, 10, device="cpu"), DCT2Operator(3, device="cpu")), "R\\^"),
        (lambda: ComposedOperator(GaussianOperator.random(3, 9, batch=2, device="cpu"), MaskOperator.random(9, 9, batch=3, device="cpu")), "batches"),
    ],
)
def test_bad_input_fails_fast(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_wrong_signal_size_is_reported():
    with pytest.raises(ValueError, match="last dimension 64"):
        BlockAverageOperator(8, 2, **F64)(torch.zeros(1, 63, dtype=torch.float64))


# --------------------------------------------------------------------------- Lasso: batched FISTA vs cvxpy
def _lasso_problem(basis, m, seed):
    side, n = 8, 64
    g = ilib.make_generator(seed)
    x = torch.rand(3, n, generator=g, dtype=torch.float64)
    if basis == "pixel":
        A = GaussianOperator.random(m, n, batch=3, seed=g, **F64)
        op = A
    elif basis == "dct":
        A = GaussianOperator.random(m, n, batch=3, seed=g, **F64)
        op = ComposedOperator(A, DCT2Operator(side, inverse=True, **F64))
    else:  # inpainting in the DCT basis
        A = MaskOperator.random(n, m, batch=3, seed=g, **F64)
        op = ComposedOperator(A, DCT2Operator(side, inverse=True, **F64))
    y = A.measure(x, 0.05, seed=g)
    return op, y


@pytest.mark.parametrize("basis", ["pixel", "dct", "mask_dct"])
@pytest.mark.parametrize("m, lam", [(30, 0.05)])
def test_fista_agrees_with_cvxpy(basis, m, lam):
    r"""Batched FISTA on ``A Psi`` solves the same Lasso as cvxpy (objective to 1e-7, solution to 1e-4)."""
    op, y = _lasso_problem(basis, m, seed=m)
    x = ilib.fista(op, y, lam, iters=4000).x
    M = op.matrix().expand(3, -1, -1).numpy()
    F = ilib.lasso_cost(op, y, x, lam).numpy()
    for b in range(3):
        ref = ilib.lasso_cvxpy(M[b], y[b].numpy(), lam)
        F_ref = 0.5 * np.sum((M[b] @ ref - y[b].numpy()) ** 2) + lam * np.abs(ref).sum()
        assert F[b] <= F_ref * (1 + 1e-7) + 1e-10
        np.testing.assert_allclose(x[b].numpy(), ref, atol=1e-4)


@pytest.mark.parametrize("basis", ["pixel", "dct"])
def test_fista_satisfies_lasso_optimality(basis):
    r"""KKT: A^T(y - A x) = lam sign(x) on the support and |A^T(y - A x)| <= lam off it."""
    lam = 0.05
    op, y = _lasso_problem(basis, 30, seed=11)
    x = ilib.fista(op, y, lam, iters=4000).x
    corr = op.adjoint(y - op(x))
    on = x.abs() > 1e-8
    assert float(corr.abs().max()) <= lam * (1 + 1e-4)
    torch.testing.assert_close(corr[on], lam * torch.sign(x[on]), rtol=0, atol=1e-4 * lam)


def test_dct_operator_with_a_given_orthonormal_matrix():
    """A separable transform from another orthonormal matrix (here a Haar-like 2x2 butterfly) is exact, and a non-orthonormal one is refused."""
    H = torch.tensor([[1.0, 1.0], [1.0, -1.0]], dtype=torch.float64) / 2**0.5
    op = DCT2Operator(2, matrix=H, **F64)
    x = torch.tensor([[1.0, 2.0, 3.0, 4.0]], dtype=torch.float64)
    torch.testing.assert_close(op(x), (H @ x.reshape(2, 2) @ H.T).reshape(1, 4))
    torch.testing.assert_close(DCT2Operator(2, matrix=H, inverse=True, **F64)(op(x)), x)
    with pytest.raises(ValueError, match="orthonormal"):
        DCT2Operator(2, matrix=2 * H, **F64)
    with pytest.raises(ValueError, match="shape"):
        DCT2Operator(3, matrix=H, **F64)
