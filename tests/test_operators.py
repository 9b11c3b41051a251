"""Measurement operators: the dot test of every operator class, the Gaussian constructor, scaling, batching and bad input."""

import importlib
import pkgutil

import pytest
import torch

import ilib
from ilib import operators as O

F64 = dict(dtype=torch.float64, device="cpu")


def _registry():
    """At least one instance of every LinearOperator subclass in ilib (the test below checks that none is missing)."""
    g = ilib.make_generator(0)
    A = ilib.randn(3, 7, 5, generator=g, **F64)
    gauss = O.MatrixOperator.gaussian(15, 64, batch=3, seed=5, **F64)
    idct = O.DCT2Operator(8, inverse=True, **F64)
    return {
        "matrix": O.MatrixOperator(A),
        "matrix_2d": O.MatrixOperator(A[0]),
        "matrix_float32": O.MatrixOperator(A.float()),
        "matrix_wide": O.MatrixOperator.gaussian(1, 40, batch=2, seed=1, **F64),
        "matrix_tall": O.MatrixOperator.gaussian(80, 40, batch=2, seed=2, **F64),
        "gaussian_alias": O.GaussianOperator.random(20, 50, batch=3, seed=3, **F64),
        "gaussian_alias_wrapping": O.GaussianOperator(A),
        "shared_matrix": O.SharedMatrixOperator(A, 4),
        "mask": O.MaskOperator.random(64, 20, batch=3, seed=1, **F64),
        "mask_box": O.MaskOperator.box(8, 2, 3, 4, 2, **F64),
        "block_average": O.BlockAverageOperator(8, 2, **F64),
        "dct2": O.DCT2Operator(8, **F64),
        "idct2": idct,
        "subsampled_dct": O.SubsampledDCTOperator.random(8, 12, batch=3, seed=3, isometric=True, **F64),
        "lowpass_dct": O.SubsampledDCTOperator.lowpass(8, 10, **F64),
        "composed": O.ComposedOperator(gauss, idct),
        "adjoint": O.AdjointOperator(gauss),
        "identity": O.IdentityOperator(9, **F64),
        "adjoint_of_composed": O.AdjointOperator(O.ComposedOperator(O.MaskOperator.random(64, 30, seed=6, **F64), idct)),
        "onebit_gaussian_rows": ilib.onebit.gaussian_rows(6, 9, batch=2, seed=1, **F64),
        "srec_nested": ilib.srec.nested_operators(12, [4, 8], batch=2, seed=2, **F64)[0],
    }


OPS = _registry()


@pytest.mark.parametrize("name", sorted(OPS))
def test_dot_test(name):
    r"""<A u, v> = <u, A^T v> for every instance of every operator (ilib.dot_test raises otherwise)."""
    op = OPS[name]
    lhs, rhs = ilib.dot_test(op, seed=7)
    assert lhs.shape == rhs.shape == (op.batch,) and lhs.dtype == torch.float64
    assert torch.isfinite(lhs).all() and (lhs != 0).all()


def test_every_operator_class_in_ilib_has_a_dot_test():
    for mod in pkgutil.walk_packages(ilib.__path__, "ilib."):
        importlib.import_module(mod.name)

    def subclasses(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)

    found = {c for c in subclasses(O.LinearOperator) if c.__module__.startswith("ilib.") and not c.__name__.startswith("_")}
    covered = {type(op) for op in OPS.values()}
    assert found <= covered, f"operator classes without a dot test: {sorted(c.__name__ for c in found - covered)}"


class _WrongAdjoint(O.MatrixOperator):
    """A deliberately broken operator: forward by ``A``, "adjoint" by the transpose of another matrix ``W``."""

    def __init__(self, A, W):
        super().__init__(A)
        self._wrong = O.MatrixOperator(W)

    def _adjoint(self, y):
        return self._wrong._adjoint(y)


def test_dot_test_catches_a_wrong_adjoint_and_names_the_instance():
    A = O.MatrixOperator.gaussian(6, 9, batch=3, seed=0, **F64).A
    bad = _WrongAdjoint(A, A[[0, 2, 1]])  # instance 0 is right, 1 and 2 are not
    with pytest.raises(AssertionError, match=r"instance 1 \(2 of 3 instances fail\).*<A u, v> = .* but <u, A\^T v> = "):
        ilib.dot_test(bad)
    lhs, rhs = ilib.dot_test(bad, raise_error=False)
    assert float(lhs[0]) == pytest.approx(float(rhs[0]), rel=1e-12)
    assert (abs(lhs[1:] - rhs[1:]) > 1e-3 * abs(lhs[1:])).all()


def test_dot_test_catches_a_small_error_in_float64_but_tolerates_float32_rounding():
    A = O.MatrixOperator.gaussian(30, 50, batch=2, seed=1, **F64).A
    E = 1e-6 * ilib.randn(2, 30, 50, generator=ilib.make_generator(2), **F64)
    ilib.dot_test(O.MatrixOperator(A))
    with pytest.raises(AssertionError, match="dot test failed .* at instance 0 \\(2 of 2"):
        ilib.dot_test(_WrongAdjoint(A, A + E))  # an adjoint wrong by 1e-6 of the entries' size
    ilib.dot_test(O.MatrixOperator(A.float()))
    lhs, rhs = ilib.dot_test(O.MatrixOperator(A.float()), rtol=0.0, raise_error=False)  # float32 is not exact
    assert (lhs != rhs).any()


def test_dot_test_draws_from_its_seed():
    op = OPS["mask"]
    a, b, c = ilib.dot_test(op, seed=3), ilib.dot_test(op, seed=3), ilib.dot_test(op, seed=4)
    assert torch.equal(a[0], b[0]) and not torch.equal(a[0], c[0])
    with pytest.raises(TypeError, match="op must"):
        ilib.dot_test(torch.eye(3))
    with pytest.raises(ValueError, match="rtol"):
        ilib.dot_test(op, rtol=-1.0)


# --------------------------------------------------------------------------- the Gaussian constructor and its old name
@pytest.mark.parametrize("m, n, batch, seed, dtype", [(5, 9, 3, 0, "float64"), (20, 50, 2, 7, None), (1, 4, 1, 123, "float32")])
def test_gaussian_draws_float64_on_the_cpu_then_casts(m, n, batch, seed, dtype):
    """N(0, 1/m) entries: torch.randn in float64 from a generator seeded with ``seed``, over sqrt(m), then cast."""
    ref = torch.randn(batch, m, n, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) / m**0.5
    ref = ref.to(ilib.resolve_dtype(dtype))
    new = O.MatrixOperator.gaussian(m, n, batch=batch, seed=seed, dtype=dtype, device="cpu")
    old = O.GaussianOperator.random(m, n, batch=batch, seed=seed, dtype=dtype, device="cpu")
    assert torch.equal(new.A, ref) and torch.equal(old.A, ref)
    assert isinstance(old, O.MatrixOperator) and isinstance(old, O.GaussianOperator)
    assert ilib.GaussianOperator is O.GaussianOperator and ilib.MatrixOperator is O.MatrixOperator


def test_select_keeps_the_type_and_the_matrices():
    op = O.GaussianOperator.random(4, 6, batch=3, seed=1, **F64)
    sub = op.select(1)
    assert type(sub) is O.GaussianOperator and torch.equal(sub.matrix(), op.A[1:2])
    sub = O.MatrixOperator(op.A).select(torch.tensor([2, 0]))
    assert type(sub) is O.MatrixOperator and torch.equal(sub.A, op.A[[2, 0]])
    assert sub.dtype == torch.float64 and sub.device == torch.device("cpu")


def test_shared_matrix_operator_lives_in_operators_and_is_the_repeated_matrix():
    assert ilib.onebit.SharedMatrixOperator is O.SharedMatrixOperator
    op = OPS["shared_matrix"]
    torch.testing.assert_close(op.matrix(), op.A.repeat_interleave(4, dim=0), rtol=0, atol=0)
    torch.testing.assert_close(O.LinearOperator.matrix(op), op.matrix(), rtol=0, atol=1e-14)
    with pytest.raises(ValueError, match="groups"):
        O.SharedMatrixOperator(op.A, 0)




def test_matrix_of_the_base_class_matches_the_dense_matrix():
    A = ilib.GaussianOperator.random(6, 9, batch=2, seed=0, dtype="float64", device="cpu")
    dense = ilib.LinearOperator.matrix(A)
    torch.testing.assert_close(dense, A.A)


def test_isotropic_scaling():
    """With N(0, 1/m) entries E||Ax||^2 = ||x||^2; over 400 draws the mean is within 5 standard errors."""
    m, n, B = 30, 60, 400
    A = ilib.GaussianOperator.random(m, n, batch=B, seed=3, dtype="float64", device="cpu")
    x = torch.ones(1, n, dtype=torch.float64) / n**0.5
    r = A(x.expand(B, n).unsqueeze(1)).norm(dim=-1).pow(2).squeeze(1)
    se = (2 / m) ** 0.5 / B**0.5  # ||Ax||^2 ~ chi2_m / m
    assert abs(r.mean().item() - 1) < 5 * se


def test_measurement_noise_has_the_requested_std():
    A = ilib.GaussianOperator.random(500, 10, seed=0, dtype="float64", device="cpu")
    x = torch.zeros(1, 1, 10, dtype=torch.float64)
    y = A.measure(x, 0.3, seed=1)
    assert abs(y.std().item() - 0.3) < 0.03
    assert torch.equal(A.measure(x, 0.3, seed=1), y)


@pytest.mark.parametrize("m, n", [(0, 5), (-3, 5), (5, 0), (2.5, 4)])
def test_bad_sizes_are_refused_with_their_name(m, n):
    with pytest.raises(ValueError, match=r"\bm\b|\bn\b"):
        ilib.GaussianOperator.random(m, n, device="cpu")


def test_shape_mismatch_is_refused():
    A = ilib.GaussianOperator.random(4, 6, batch=2, device="cpu")
    with pytest.raises(ValueError, match="last dimension"):
        A(torch.zeros(2, 5))
    with pytest.raises(ValueError, match="batch"):
        A(torch.zeros(3, 6))
    with pytest.raises(ValueError, match="noise_std"):
        A.measure(torch.zeros(2, 6), -1.0)
