"""Sparse recovery: ISTA/FISTA against cvxpy and the Lasso optimality conditions, basis pursuit, Donoho–Tanner."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import ilib
from ilib.experiments import csgm_phase_transition as ex


def _lasso_problem(B=3, m=30, n=60, k=5, seed=0):
    op, x = ilib.gaussian_problems(B, m, n, k, seed=seed, device="cpu")
    y = op(x) + 0.01 * ilib.randn(B, m, generator=ilib.make_generator(seed + 1), dtype="float64", device="cpu")
    return op, x, y


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), t=st.floats(-5, 5), theta=st.floats(0, 3))
def test_soft_threshold_is_the_prox_of_the_l1_norm(seed, t, theta):
    """eta_theta(u) minimises 0.5 (x - u)^2 + theta |x|: its subgradient condition holds."""
    u = torch.tensor([t], dtype=torch.float64)
    x = ilib.soft_threshold(u, theta)
    if x.item() != 0:
        assert abs((x - u).item() + theta * np.sign(x.item())) < 1e-12
    else:
        assert abs(u.item()) <= theta + 1e-12


def test_ista_cost_never_increases():
    op, x, y = _lasso_problem()
    costs = ilib.ista(op, y, 0.05, iters=300, record_at=range(301)).objective
    assert (costs[1:] <= costs[:-1] + 1e-12).all()


@pytest.mark.parametrize("solver", [ilib.ista, ilib.fista])
def test_solvers_reach_the_cvxpy_minimiser_and_meet_the_kkt_conditions(solver):
    """A'(y - Ax) = lam sign(x) on the support and |A'(y - Ax)| <= lam off it (Lasso optimality)."""
    lam = 0.05
    op, x, y = _lasso_problem()
    xh = solver(op, y, lam, iters=5000).x
    for b in range(3):
        ref = ilib.lasso_cvxpy(op.A[b].numpy(), y[b].numpy(), lam)
        np.testing.assert_allclose(xh[b].numpy(), ref, atol=2e-5)
    corr = op.adjoint(y - op(xh))
    on = xh.abs() > 1e-8
    torch.testing.assert_close(corr[on], lam * torch.sign(xh[on]), atol=1e-6, rtol=0)
    assert (corr[~on].abs() <= lam + 1e-6).all()


def test_basis_pursuit_admm_matches_the_exact_lp():
    op, x = ilib.gaussian_problems(4, 40, 80, 8, seed=3, device="cpu")
    y = op(x)
    xa = ilib.basis_pursuit_admm(op.A, y, iters=4000)
    for b in range(4):
        ref = ilib.basis_pursuit_lp(op.A[b].numpy(), y[b].numpy())
        np.testing.assert_allclose(xa[b].numpy(), ref, atol=1e-4)


@pytest.mark.parametrize("eps, expected", [(0.0, 0.0), (1.0, 1.0)])
def test_statistical_dimension_end_points(eps, expected):
    assert ilib.statistical_dimension_l1(eps) == expected


def test_statistical_dimension_is_increasing_and_the_weak_threshold_has_its_known_value():
    eps = np.linspace(0.01, 0.99, 30)
    psi = np.array([ilib.statistical_dimension_l1(e) for e in eps])
    assert (np.diff(psi) > 0).all() and (psi > eps).all() and (psi < 1).all()
    # Donoho–Tanner's weak threshold at delta = 1/2 is about 0.385
    assert abs(ilib.donoho_tanner_rho([0.5])[0] - 0.3857) < 1e-3


def test_l1_recovery_succeeds_inside_and_fails_outside_the_donoho_tanner_region():
    """n = 100: at delta = 0.5 the threshold is rho_W = 0.386; rho = 0.15 succeeds, rho = 0.75 fails."""
    d = ex.l1_diagram(100, [0.5], [0.15, 0.75], trials=10, iters=3000, stream=0, device="cpu")
    assert d.success[0, 0] >= 0.9
    assert d.success[0, 1] <= 0.1


def test_bad_lasso_input_is_refused():
    op, x, y = _lasso_problem()
    with pytest.raises(ValueError, match="lam"):
        ilib.ista(op, y, -1.0)
    with pytest.raises(ValueError, match="iters"):
        ilib.fista(op, y, 0.1, iters=0)
    with pytest.raises(ValueError, match="k must"):
        ilib.sparse_signals(2, 5, 6)


# --------------------------------------------------------------------------- one SolverResult, iterates from one run
def _ill_conditioned(B=4, m=40, n=60, k=5, cond=1e3, seed=0):
    r"""A = U diag(s) V^T with singular values from 1 down to 1/cond, and y = A x* for k-sparse x*."""
    g = ilib.make_generator(seed)
    U_, _ = np.linalg.qr(ilib.randn(m, m, generator=g, dtype="float64", device="cpu").numpy())
    V_, _ = np.linalg.qr(ilib.randn(n, m, generator=g, dtype="float64", device="cpu").numpy())
    A = U_ @ np.diag(np.logspace(0, -np.log10(cond), m)) @ V_.T
    x = ilib.sparse_signals(B, n, k, seed=g)
    op = ilib.MatrixOperator(torch.from_numpy(A))
    return op, op(x)


@pytest.mark.parametrize("solver", [ilib.ista, ilib.fista])
def test_iterate_at_depth_k_is_k_iterations_run_on_their_own(solver):
    """One run recording at (0, 1, 2, 5, 13) gives exactly (float64, bit for bit) the result of separate runs of k iterations."""
    op, x, y = _lasso_problem()
    L = ilib.operator_norm_sq(op) * 1.0001
    depths = (0, 1, 2, 5, 13)
    res = solver(op, y, 0.05, iters=13, L=L, record_at=depths)
    assert isinstance(res, ilib.SolverResult)
    assert res.depths == depths and res.iters == 13
    assert res.iterates.shape == (len(depths), 3, 60) and res.objective.shape == (len(depths), 3)
    assert torch.equal(res.at(0), torch.zeros(3, 60, dtype=torch.float64))
    for d in depths[1:]:
        alone = solver(op, y, 0.05, iters=d, L=L)
        assert torch.equal(res.at(d), alone.x), f"depth {d}"
        assert torch.equal(res.objective[depths.index(d)], ilib.lasso_cost(op, y, alone.x, 0.05))
    assert torch.equal(res.x, res.iterates[-1])
    torch.testing.assert_close(res.steps, (1.0 / L).expand(13, 3), rtol=0, atol=0)


def test_the_result_type_and_fields_do_not_depend_on_the_options():
    op, x, y = _lasso_problem()
    plain = ilib.fista(op, y, 0.05, iters=7)
    path = ilib.fista(op, y, 0.05, iters=7, record_at=range(8))
    assert type(plain) is type(path) is ilib.SolverResult
    assert plain.depths == (7,) and plain.iterates.shape == (1, 3, 60)
    assert torch.equal(plain.x, path.x)
    with pytest.raises(ValueError, match="depth=3 was not recorded"):
        plain.at(3)
    with pytest.raises(Exception):  # frozen
        plain.x = None


def test_fista_starts_as_ista_then_reaches_a_lower_objective_on_an_ill_conditioned_problem():
    r"""With t_0 = 1 the momentum of the first step is 0, so x^1, x^2 are ISTA's; then FISTA's O(1/k^2)
    beats ISTA's O(1/k) (Beck & Teboulle 2009, Thm. 3.1 and 4.4) on A with condition number 1e3."""
    op, y = _ill_conditioned()
    L, lam = torch.tensor([1.0001], dtype=torch.float64), 1e-3
    depths = (1, 2, 10, 50, 200, 500)
    Fi = ilib.ista(op, y, lam, iters=500, L=L, record_at=depths).objective
    Ff = ilib.fista(op, y, lam, iters=500, L=L, record_at=depths).objective
    F_star = ilib.fista(op, y, lam, iters=20_000, L=L).objective[-1]
    assert torch.equal(Fi[:2], Ff[:2])
    gap_i, gap_f = (Fi[2:] - F_star).numpy(), (Ff[2:] - F_star).numpy()
    assert (gap_f < gap_i).all(), (gap_f, gap_i)
    assert (gap_f[-1] < 1e-2 * gap_i[-1]).all()  # at depth 500 by two orders of magnitude


@pytest.mark.parametrize("solver, iters", [(ilib.fista, 3000), (ilib.ista, 20_000)])
def test_the_lasso_optimality_conditions_hold_at_convergence(solver, iters):
    r"""KKT of min 1/2||y - Dx||^2 + lam_b ||x||_1: c = D^T(y - Dx) has |c_i| <= lam_b everywhere and
    c_i = lam_b sign(x_i) on the support (numpy, one weight per problem)."""
    op, x, y = _lasso_problem(B=3, m=30, n=50, k=4, seed=5)
    lam = torch.tensor([0.02, 0.1, 0.4], dtype=torch.float64)
    xh = solver(op, y, lam, iters=iters).x.numpy()
    A, Y = op.matrix().numpy(), y.numpy()
    for b in range(3):
        c = A[b].T @ (Y[b] - A[b] @ xh[b])
        on = xh[b] != 0
        assert on.any() and not on.all()
        assert np.all(np.abs(c) <= lam[b].item() + 1e-7)
        np.testing.assert_allclose(c[on], lam[b].item() * np.sign(xh[b][on]), rtol=0, atol=1e-7)


def test_basis_pursuit_admm_takes_operators_and_equals_the_raw_tensor():
    op, x = ilib.gaussian_problems(3, 20, 40, 3, seed=4, device="cpu")
    y = op(x)
    assert torch.equal(ilib.basis_pursuit_admm(op, y, iters=300), ilib.basis_pursuit_admm(op.A, y, iters=300))
    # any operator through its dense matrix: a Gaussian matrix after an inverse DCT
    from ilib.operators import ComposedOperator, DCT2Operator

    op64, x64 = ilib.gaussian_problems(3, 30, 64, 3, seed=5, device="cpu")
    comp = ComposedOperator(op64, DCT2Operator(8, inverse=True, dtype=torch.float64, device="cpu"))
    yc = comp(x64)
    z = ilib.basis_pursuit_admm(comp, yc, iters=300)
    assert torch.equal(z, ilib.basis_pursuit_admm(comp.matrix(), yc, iters=300))
    # a batch-1 operator is shared by every problem
    shared = op.select(0)
    ys = shared(x)
    torch.testing.assert_close(ilib.basis_pursuit_admm(shared, ys, iters=300),
                               ilib.basis_pursuit_admm(shared.A.expand(3, -1, -1), ys, iters=300), rtol=0, atol=1e-12)


def _bad_lasso_calls():
    op, x, y = _lasso_problem()
    nan = float("nan")
    calls = []
    for name, solver in (("ista", ilib.ista), ("fista", ilib.fista)):
        calls += [
            (f"{name}-negative-lam", lambda s=solver: s(op, y, -0.1), "lam"),
            (f"{name}-nan-lam", lambda s=solver: s(op, y, nan), "lam"),
            (f"{name}-lam-shape", lambda s=solver: s(op, y, torch.ones(2)), "lam"),
            (f"{name}-float-iters", lambda s=solver: s(op, y, 0.1, iters=2.5), "iters"),
            (f"{name}-zero-iters", lambda s=solver: s(op, y, 0.1, iters=0), "iters"),
            (f"{name}-bool-iters", lambda s=solver: s(op, y, 0.1, iters=True), "iters"),
            (f"{name}-y-columns", lambda s=solver: s(op, y[:, :-1], 0.1), "measurements"),
            (f"{name}-y-rows", lambda s=solver: s(op, y[:2], 0.1), "problems"),
            (f"{name}-y-dims", lambda s=solver: s(op, y[0], 0.1), "y must"),
            (f"{name}-x0-shape", lambda s=solver: s(op, y, 0.1, x0=torch.zeros(3, 59, dtype=torch.float64)), "x0"),
            (f"{name}-negative-L", lambda s=solver: s(op, y, 0.1, L=-1.0), "L"),
            (f"{name}-nan-L", lambda s=solver: s(op, y, 0.1, L=nan), "L"),
            (f"{name}-record-beyond", lambda s=solver: s(op, y, 0.1, iters=5, record_at=(1, 6)), "record_at"),
            (f"{name}-record-decreasing", lambda s=solver: s(op, y, 0.1, iters=5, record_at=(3, 1)), "record_at"),
            (f"{name}-record-float", lambda s=solver: s(op, y, 0.1, iters=5, record_at=(1.5,)), "record_at"),
            (f"{name}-record-empty", lambda s=solver: s(op, y, 0.1, iters=5, record_at=()), "record_at"),
        ]
    calls += [
        ("bp-negative-rho", lambda: ilib.basis_pursuit_admm(op, y, rho=-1.0), "rho"),
        ("bp-nan-rho", lambda: ilib.basis_pursuit_admm(op, y, rho=nan), "rho"),
        ("bp-float-iters", lambda: ilib.basis_pursuit_admm(op, y, iters=2.5), "iters"),
        ("bp-y-shape", lambda: ilib.basis_pursuit_admm(op, y[:, :-1]), "y must"),
        ("bp-A-shape", lambda: ilib.basis_pursuit_admm(op.A[0, 0], y), "A must"),
    ]
    return calls


BAD = _bad_lasso_calls()


@pytest.mark.parametrize("call, name", [c[1:] for c in BAD], ids=[c[0] for c in BAD])
def test_bad_solver_input_is_refused_naming_the_argument(call, name):
    with pytest.raises(ValueError, match=name):
        call()


def test_a_non_operator_is_refused():
    with pytest.raises(TypeError, match="operator"):
        ilib.ista(np.eye(3), torch.zeros(1, 3), 0.1)
    with pytest.raises(TypeError, match="A must"):
        ilib.basis_pursuit_admm(np.eye(3), torch.zeros(1, 3))
