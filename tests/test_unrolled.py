"""Tests of ilib.unrolled: theorems and identities as assertions (the manner of adopty's tests)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from ilib import unrolled as U
from ilib.operators import MatrixOperator
from ilib.sparse import SolverResult, fista, ista, lasso_cvxpy, soft_threshold

F64 = dict(dtype=torch.float64, device="cpu")
HYP = settings(max_examples=25, deadline=None, derandomize=True)


def problem(m: int, n: int, batch: int, seed: int, p: float = 0.2):
    D = U.gaussian_dictionary(m, n, seed=seed, **F64)
    x = U.bernoulli_gaussian(batch, n, p, seed=seed + 1, **F64)
    return D, x, x @ D.T


# --------------------------------------------------------------------------- unrolled = ISTA at init
@pytest.mark.parametrize("K", [1, 3, 12])
@pytest.mark.parametrize("cls", [U.LISTA, U.LISTACP, U.SLISTA])
def test_untrained_network_is_K_steps_of_ista(K, cls):
    D, _, y = problem(15, 30, 6, seed=K)
    lam = 0.05
    net = cls(D, K, lam)
    with torch.no_grad():
        out = net(y)
    ref = ista(MatrixOperator(D), y, lam, iters=K, L=U.lipschitz(D).reshape(1)).x
    torch.testing.assert_close(out, ref, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("K", [2, 7])
def test_network_path_is_ista_path(K):
    D, _, y = problem(12, 25, 4, seed=3)
    net = U.LISTA(D, K, 0.1)
    with torch.no_grad():
        path = net(y, return_all=True)
    ref = U.solver_path("ista", D, y, 0.1, list(range(K + 1))).iterates
    assert path.shape == (K + 1, 4, 25)
    torch.testing.assert_close(path, ref, rtol=1e-12, atol=1e-12)


# --------------------------------------------------------------------------- paths: the depths of one run
@pytest.mark.parametrize("method", ["ista", "fista", "oista"])
def test_path_at_depth_k_is_k_iterations_on_their_own(method):
    """solver_path's iterate at depth d equals (bit for bit, float64) a run of d iterations started at 0."""
    D, _, y = problem(15, 30, 5, seed=4)
    depths = [0, 1, 2, 5, 9]
    res = U.solver_path(method, D, y, 0.1, depths)
    assert res.depths == tuple(depths) and res.iterates.shape == (5, 5, 30)
    assert torch.equal(res.iterates[0], torch.zeros(5, 30, dtype=torch.float64))
    for d in depths[1:]:
        alone = U.solver_path(method, D, y, 0.1, [d])
        assert torch.equal(res.at(d), alone.x), f"{method}, depth {d}"
    torch.testing.assert_close(res.objective, U.lasso_objective(D, y, res.iterates, 0.1), rtol=0, atol=0)


@pytest.mark.parametrize("method", ["ista", "fista"])
def test_path_is_one_run_not_one_per_depth(method, monkeypatch):
    """All depths come from one solver call of max(depths) iterations (FISTA used to restart from 0 per depth)."""
    calls = []
    solver = getattr(U, method)

    def counting(*args, **kwargs):
        calls.append(kwargs["iters"])
        return solver(*args, **kwargs)

    monkeypatch.setattr(U, method, counting)
    D, _, y = problem(10, 20, 3, seed=1)
    U.solver_path(method, D, y, 0.1, [0, 1, 3, 8, 20])
    assert calls == [20]


def test_lasso_reference_is_a_solver_result():
    D, _, y = problem(12, 24, 3, seed=6)
    ref = U.lasso_reference(D, y, 0.1, iters=300)
    assert isinstance(ref, SolverResult) and ref.iterates.shape == (1, 3, 24) and ref.depths == (ref.iters,)
    assert ref.iters % 100 == 0 and ref.iters <= 300
    torch.testing.assert_close(ref.objective[-1], U.lasso_objective(D, y, ref.x, 0.1), rtol=0, atol=0)


# --------------------------------------------------------------------------- ISTA / oracle ISTA descent
@HYP
@given(m=st.integers(3, 12), n=st.integers(4, 30), lam=st.floats(1e-3, 2.0), seed=st.integers(0, 10_000))
def test_ista_cost_never_increases(m, n, lam, seed):
    g = torch.Generator().manual_seed(seed)
    A = torch.randn(m, n, generator=g, dtype=torch.float64)
    y = torch.randn(3, m, generator=g, dtype=torch.float64)
    cost = ista(MatrixOperator(A), y, lam, iters=60, L=U.lipschitz(A).reshape(1), record_at=range(61)).objective
    assert torch.all(cost[1:] <= cost[:-1] + 1e-12 * cost[0].abs().clamp_min(1.0))


@HYP
@given(m=st.integers(3, 12), n=st.integers(4, 30), lam=st.floats(1e-3, 2.0), seed=st.integers(0, 10_000))
def test_oracle_ista_cost_never_increases_and_steps_at_least_ista(m, n, lam, seed):
    g = torch.Generator().manual_seed(seed)
    A = torch.randn(m, n, generator=g, dtype=torch.float64)
    y = torch.randn(3, m, generator=g, dtype=torch.float64)
    res = U.oracle_ista(A, y, lam, iters=60, record_at=range(61))
    cost = res.objective
    assert torch.all(cost[1:] <= cost[:-1] + 1e-12 * cost[0].abs().clamp_min(1.0))
    assert torch.all(res.steps * U.lipschitz(A) >= 1 - 1e-12)


def test_oracle_ista_takes_restricted_steps_once_support_is_found():
    D, x, y = problem(30, 60, 4, seed=5, p=0.08)
    res = U.oracle_ista(D, y, 0.05, iters=400)
    xk = res.x
    LS = U.restricted_lipschitz(D, xk != 0)
    torch.testing.assert_close(res.steps[-1], 1.0 / LS)
    assert torch.all(LS < U.lipschitz(D))  # so the steps are longer than ISTA's


# --------------------------------------------------------------------------- same minimiser, equal to cvxpy
@pytest.mark.parametrize("lam", [0.02, 0.1, 0.5])
def test_ista_and_fista_reach_the_cvxpy_lasso_solution(lam):
    D, _, y = problem(20, 40, 3, seed=11)
    op, L = MatrixOperator(D), U.lipschitz(D).reshape(1)
    x_ista = ista(op, y, lam, iters=20_000, L=L).x
    x_fista = fista(op, y, lam, iters=3000, L=L).x
    torch.testing.assert_close(x_ista, x_fista, rtol=0, atol=1e-7)
    x_cvx = torch.stack([torch.from_numpy(lasso_cvxpy(D.numpy(), yb.numpy(), lam)) for yb in y])
    # cvxpy's interior-point solution is accurate to ~1e-5; ours is at least as good in objective
    torch.testing.assert_close(x_fista, x_cvx, rtol=0, atol=1e-4)
    assert torch.all(U.lasso_objective(D, y, x_fista, lam) <= U.lasso_objective(D, y, x_cvx, lam) + 1e-10)


@pytest.mark.parametrize("lam", [0.02, 0.1, 0.5])
def test_oracle_ista_reaches_the_lasso_minimum(lam):
    D, _, y = problem(20, 40, 3, seed=11)
    f_star = U.lasso_reference(D, y, lam, iters=3000).objective[-1]
    res = U.oracle_ista(D, y, lam, iters=3000)
    # a support of size m makes the restricted problem ill-conditioned, so convergence can be slow there
    assert torch.all(res.objective[-1] - f_star <= 1e-6 * f_star)
    assert torch.all(res.objective[-1] - f_star >= -1e-12)


@pytest.mark.parametrize("lam", [0.05, 0.3])
def test_lasso_reference_satisfies_kkt(lam):
    D, _, y = problem(25, 50, 4, seed=2)
    ref = U.lasso_reference(D, y, lam, iters=2000)
    x, f = ref.x, ref.objective[-1]
    c = (y - x @ D.T) @ D  # D^T (y - D x)
    on = x != 0
    torch.testing.assert_close(c[on], lam * torch.sign(x[on]), rtol=0, atol=1e-7)
    assert torch.all(c[~on].abs() <= lam + 1e-7)
    torch.testing.assert_close(f, U.lasso_objective(D, y, x, lam))


# --------------------------------------------------------------------------- analytic ALISTA weights
def _full_rank(m, n, seed):
    g = torch.Generator().manual_seed(seed)
    D = torch.randn(m, n, generator=g, dtype=torch.float64)
    return D / D.norm(dim=0, keepdim=True)


@HYP
@given(m=st.integers(2, 15), extra=st.integers(1, 30), seed=st.integers(0, 10_000))
def test_analytic_weights_unit_diagonal_and_lower_frobenius(m, extra, seed):
    D = _full_rank(m, m + extra, seed)
    W = U.analytic_weights(D)
    torch.testing.assert_close((W * D).sum(dim=0), torch.ones(D.shape[1], dtype=D.dtype), rtol=0, atol=1e-10)
    # W = D is feasible (unit columns), so the minimiser can only lower ||W^T D||_F
    assert (W.T @ D).norm() <= (D.T @ D).norm() * (1 + 1e-12)


@pytest.mark.parametrize("m,n,seed", [(10, 20, 0), (25, 60, 1), (40, 41, 2)])
def test_analytic_weights_lagrange_condition_by_autograd(m, n, seed):
    D = _full_rank(m, n, seed)
    W = U.analytic_weights(D).requires_grad_(True)
    (grad,) = torch.autograd.grad(((W.T @ D) ** 2).sum(), W)
    torch.testing.assert_close(grad, 2 * D @ D.T @ W.detach())  # closed form of the gradient
    # stationarity under the constraints w_i^T d_i = 1: each gradient column is parallel to d_i
    nu = (grad * D).sum(dim=0) / (D * D).sum(dim=0)
    torch.testing.assert_close(grad, D * nu, rtol=0, atol=1e-9)


def test_analytic_weights_match_projected_gradient():
    # the official code solves the same convex QP by projected gradient descent
    D = _full_rank(12, 24, 4)
    W = D.clone()
    eta = 0.5 / torch.linalg.matrix_norm(D @ D.T, ord=2)
    for _ in range(20_000):
        W = W - eta * 2 * D @ D.T @ W
        W = W + D * ((1 - (W * D).sum(0)) / (D * D).sum(0))  # project onto w_i^T d_i = 1
    torch.testing.assert_close(U.analytic_weights(D), W, rtol=0, atol=1e-8)


@pytest.mark.parametrize("m,n,seed", [(250, 500, 0), (100, 200, 1), (64, 256, 2)])
def test_analytic_weights_have_lower_coherence_than_gaussian_D(m, n, seed):
    D = U.gaussian_dictionary(m, n, seed=seed, **F64)
    W = U.analytic_weights(D)
    assert U.generalized_coherence(W, D) < U.mutual_coherence(D)


@HYP
@given(s=st.integers(1, 3), gamma=st.floats(0.2, 1.3), seed=st.integers(0, 10_000))
def test_alista_theorem1_no_false_positives_and_l1_contraction(s, gamma, seed):
    """Liu et al. (2019), Thm 1: with theta^k = gamma mu~ sup_b ||x^k - x*||_1 the supports stay in S and
    sup_b ||x^{k+1} - x*||_1 <= ((2s - 1) mu~ gamma + |1 - gamma|) sup_b ||x^k - x*||_1 (noiseless)."""
    D = U.gaussian_dictionary(60, 90, seed=seed % 7, **F64)
    W = U.analytic_weights(D)
    mu = U.generalized_coherence(W, D)
    g = torch.Generator().manual_seed(seed)
    x_star = torch.zeros(5, 90, dtype=torch.float64)
    for b in range(5):
        S = torch.randperm(90, generator=g)[:s]
        x_star[b, S] = torch.randn(s, generator=g, dtype=torch.float64)
    xs, thetas = U.theorem1_path(D, x_star, 15, W=W, gamma=gamma)
    sup = (xs - x_star).abs().sum(-1).max(-1).values
    exact = torch.cat([torch.tensor([True]), sup[:-1] > 1e-9])  # below that, rounding (~1e-16) exceeds the thresholds
    assert torch.all(((xs != 0) <= (x_star != 0))[exact])
    rate = U.theorem1_rate(mu, s, gamma)
    assert torch.all(sup[1:] <= rate * sup[:-1] * (1 + 1e-9) + 1e-12)
    torch.testing.assert_close(thetas, gamma * mu * sup[:-1])


def test_theorem1_sparsity_and_rate_known_values():
    assert U.theorem1_sparsity(0.2) == 2  # s < 3
    assert U.theorem1_sparsity(0.21) == 2 and U.theorem1_sparsity(0.1) == 5 and U.theorem1_sparsity(1.0) == 0
    assert U.theorem1_rate(0.1, 3, 1.0) == pytest.approx(0.5)
    assert U.theorem1_rate(0.1, 3, 0.5) == pytest.approx(0.25 + 0.5)


# --------------------------------------------------------------------------- restricted Lipschitz, support selection
@pytest.mark.parametrize("m,n,p,seed", [(8, 20, 0.2, 0), (8, 20, 0.8, 1), (30, 50, 0.3, 2)])
def test_restricted_lipschitz_matches_numpy(m, n, p, seed):
    g = torch.Generator().manual_seed(seed)
    D = torch.randn(m, n, generator=g, dtype=torch.float64)
    supp = torch.rand(7, n, generator=g) < p
    supp[0] = False
    got = U.restricted_lipschitz(D, supp, chunk=3)
    want = [np.linalg.norm(D.numpy()[:, s.numpy()], 2) ** 2 if s.any() else 0.0 for s in supp]
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-10, atol=1e-12)
    assert torch.all(got <= U.lipschitz(D) * (1 + 1e-12))


@HYP
@given(q=st.floats(0, 100), theta=st.floats(0, 1), seed=st.integers(0, 10_000))
def test_support_selection_bypasses_only_large_top_entries(q, theta, seed):
    g = torch.Generator().manual_seed(seed)
    u = torch.randn(4, 50, generator=g, dtype=torch.float64)
    out = U.support_selection(u, theta, q)
    st_ = soft_threshold(u, theta)
    kept = out == u
    changed = out != st_
    # an entry differs from soft thresholding only if it was kept, above theta and among the top q%
    assert torch.all(kept[changed])
    assert torch.all(u.abs()[changed] > theta)
    assert torch.all(changed.sum(dim=1) <= int(q * 50 / 100))
    if int(q * 50 / 100) == 0:
        torch.testing.assert_close(out, st_)


def test_ss_schedule_matches_official_values():
    assert U.ss_schedule(16)[:3] == pytest.approx([1.2, 2.4, 3.6])
    assert U.ss_schedule(16)[-1] == 13.0


# --------------------------------------------------------------------------- data and metrics
def test_nmse_known_values():
    x = torch.randn(5, 10, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    assert float(U.nmse_db(torch.zeros_like(x), x)) == pytest.approx(0.0)
    assert float(U.nmse_db(0.9 * x, x)) == pytest.approx(-20.0)
    assert U.nmse_db(torch.stack([x, 0.99 * x]), x).tolist() == pytest.approx([-math.inf, -40.0])


@pytest.mark.parametrize("snr", [40.0, 20.0])
def test_add_noise_reaches_the_snr(snr):
    y = torch.randn(4000, 250, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    noisy = U.add_noise(y, snr, seed=2)
    measured = 10 * math.log10(float((y**2).sum() / ((noisy - y) ** 2).sum()))
    assert measured == pytest.approx(snr, abs=0.05)
    assert U.add_noise(y, None) is y and U.add_noise(y, math.inf) is y


def test_bernoulli_gaussian_density_and_lasso_signals_scaling():
    x = U.bernoulli_gaussian(2000, 500, 0.1, seed=0, **F64)
    assert (x != 0).double().mean().item() == pytest.approx(0.1, abs=0.003)
    D = U.gaussian_dictionary(64, 256, seed=0, **F64)
    torch.testing.assert_close(D.norm(dim=0), torch.ones(256, dtype=torch.float64))
    y = U.lasso_signals(D, 50, seed=1)
    torch.testing.assert_close(U.lambda_max(D, y), torch.ones(50, dtype=torch.float64))


def test_same_seed_same_data():
    a = U.gaussian_dictionary(20, 30, seed=7, **F64)
    b = U.gaussian_dictionary(20, 30, seed=7, **F64)
    assert torch.equal(a, b)
    assert not torch.equal(a, U.gaussian_dictionary(20, 30, seed=8, **F64))


# --------------------------------------------------------------------------- stacks of networks
def _make(name, D, K, lam, **kw):
    if name == "LISTA":
        return U.LISTA(D, K, lam, **kw)
    if name in ("LISTA-CP", "LISTA-CPSS"):
        return U.LISTACP(D, K, lam, support_selection=name == "LISTA-CPSS", **kw)
    if name == "ALISTA":
        return U.ALISTA(D, K, lam, **kw)
    return U.SLISTA(D, K, lam, **kw)


NAMES = ["LISTA", "LISTA-CP", "LISTA-CPSS", "ALISTA", "SLISTA"]


@pytest.mark.parametrize("name", NAMES)
def test_a_stack_of_untrained_networks_is_ista_at_each_depth_and_weight(name):
    """Network i of an untrained stack (LISTA, LISTA-CP, SLISTA) is depths[i] ISTA steps at weight lam[i]."""
    if name in ("LISTA-CPSS", "ALISTA"):
        pytest.skip("support selection and the analytic W are not ISTA")
    D, _, y = problem(12, 25, 6, seed=1)
    lams, depths = [0.05, 0.2, 0.1], [5, 3, 1]
    net = _make(name, D, 5, lams, models=3, depths=depths)
    with torch.no_grad():
        out = net(y)
    for i, (lam, d) in enumerate(zip(lams, depths)):
        ref = ista(MatrixOperator(D), y, lam, iters=d, L=U.lipschitz(D).reshape(1)).x
        torch.testing.assert_close(out[i], ref, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("supervised", [True, False])
def test_a_trained_stack_equals_separately_trained_networks(name, supervised):
    """The stack's loss is a sum over networks and Adam is elementwise: each network trains as if alone (float64)."""
    D = U.gaussian_dictionary(10, 20, seed=0, **F64)
    x = torch.stack([U.bernoulli_gaussian(200, 20, 0.2, seed=s, **F64) for s in (1, 2)])
    y = x @ D.T if supervised else torch.stack([U.lasso_signals(D, 200, seed=s) for s in (3, 4)])
    lams, depths = [0.1, 0.3], ([4, 4] if supervised else [4, 2])
    kw = dict(steps=15, lr=1e-3, scalar_lr=1e-2, batch=32, seed=5, objective="layers" if supervised else "last")
    stack = _make(name, D, 4, lams, models=2, depths=depths)
    U.train(stack, y, x if supervised else None, **kw)
    for i in range(2):
        alone = _make(name, D, 4, lams[i], depths=[depths[i]])
        U.train(alone, y[i], x[i] if supervised else None, **kw)
        with torch.no_grad():
            torch.testing.assert_close(stack(y[i])[i], alone(y[i]), rtol=1e-9, atol=1e-11)


def test_gd_with_backtracking_never_accepts_a_higher_loss_and_equals_separate_runs():
    D = U.gaussian_dictionary(10, 20, seed=0, **F64)
    y = U.lasso_signals(D, 300, seed=1)
    stack = U.SLISTA(D, 8, [0.2, 0.5], models=2)
    res = U.train(stack, y, None, steps=25, lr=1.0, objective="last", optimizer="gd")
    per = res.per_model.numpy()
    for i in range(2):
        acc = per[:, i][~np.isnan(per[:, i])]
        assert len(acc) == 25 and np.all(np.diff(acc) <= 1e-15)
        alone = U.SLISTA(D, 8, [0.2, 0.5][i])
        U.train(alone, y, None, steps=25, lr=1.0, objective="last", optimizer="gd")
        torch.testing.assert_close(alone.steps[0], stack.steps[i], rtol=1e-10, atol=0)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("supervised", [True, False])
def test_training_lowers_the_held_out_loss(name, supervised):
    D = U.gaussian_dictionary(20, 40, seed=0, **F64)
    x = U.bernoulli_gaussian(600, 40, 0.1, seed=1, **F64)
    y = x @ D.T if supervised else U.lasso_signals(D, 600, seed=1)
    ytr, yte, xtr, xte = y[:400], y[400:], x[:400], x[400:]
    lam = 0.1
    net = _make(name, D, 5, lam)
    f_tr = U.lasso_reference(D, ytr, lam, iters=500).objective[-1] if not supervised else None
    f_te = U.lasso_reference(D, yte, lam, iters=500).objective[-1] if not supervised else None

    def held_out():
        with torch.no_grad():
            if supervised:
                return float(U.nmse_db(net(yte), xte))
            return float(U.lasso_objective(D, yte, net(yte), lam).mean() - f_te.mean())

    before = held_out()
    res = U.train(net, ytr, xtr if supervised else None, f_star=f_tr, steps=60,
                  lr=1e-2 if name in ("ALISTA", "SLISTA") else 1e-3, batch=64, seed=0)
    assert res.loss.shape == (60,) and res.per_model.shape == (60, 1)
    assert held_out() < before
    assert res.loss[-10:].mean() < res.loss[:10].mean()


def test_train_is_reproducible_from_its_seed():
    D = U.gaussian_dictionary(10, 20, seed=0, **F64)
    x = U.bernoulli_gaussian(100, 20, 0.2, seed=1, **F64)
    runs = []
    for _ in range(2):
        net = U.ALISTA(D, 3, 0.1)
        U.train(net, x @ D.T, x, steps=5, lr=1e-2, seed=3)
        runs.append(torch.cat([net.log_gamma.detach(), net.log_theta.detach()]))
    assert torch.equal(runs[0], runs[1])


def test_coupled_residual_is_zero_at_ista_and_measures_the_distance_to_a_step():
    D = U.gaussian_dictionary(10, 20, seed=0, **F64)
    net = U.LISTACP(D, 4, [0.1, 0.2], models=2)
    torch.testing.assert_close(net.coupling_residual(), torch.zeros(2, 4, dtype=torch.float64), rtol=0, atol=1e-14)
    with torch.no_grad():
        net.W[2][1] *= 1.5  # W = 1.5 (theta/lam) D in layer 2 of network 1
    r = net.coupling_residual()
    assert r[1, 2].item() == pytest.approx(0.5) and float(r.sum()) == pytest.approx(0.5)


def test_decoded_network_starts_as_ista_on_the_effective_dictionary_then_the_decoder():
    g = torch.Generator().manual_seed(0)
    A = torch.randn(8, 12, generator=g, dtype=torch.float64) / 8**0.5
    Dh = U.gaussian_dictionary(12, 20, seed=1, **F64)
    y = torch.randn(5, 8, generator=g, dtype=torch.float64)
    net = U.Decoded(U.LISTA(A @ Dh, 4, 0.05), Dh)
    z = ista(MatrixOperator(A @ Dh), y, 0.05, iters=4, L=U.lipschitz(A @ Dh).reshape(1)).x
    with torch.no_grad():
        torch.testing.assert_close(net(y), z @ Dh.T)
        assert net(y, return_all=True).shape == (5, 5, 12)


# --------------------------------------------------------------------------- Moreau & Bruna
def _orthogonal(n, seed):
    q, _ = torch.linalg.qr(torch.randn(n, n, generator=torch.Generator().manual_seed(seed), dtype=torch.float64))
    return q


def test_factorised_step_with_identity_and_L_is_ista():
    D, _, y = problem(10, 20, 4, seed=2)
    L = float(U.lipschitz(D))
    z = torch.zeros(4, 20, dtype=torch.float64)
    for _ in range(7):
        z = U.factorised_step(D, y, z, 0.1, torch.eye(20, dtype=torch.float64), torch.full((20,), L, dtype=torch.float64))
    torch.testing.assert_close(z, ista(MatrixOperator(D), y, 0.1, iters=7, L=torch.tensor([L])).x)


@HYP
@given(seed=st.integers(0, 10_000), lam=st.floats(0.01, 1.0))
def test_factorised_step_descends_up_to_the_l1_distortion(seed, lam):
    """With R = A^T S A - D^T D >= 0: F(z_{k+1}) <= F(z_k) + delta_A(z_k) - delta_A(z_{k+1}) (the surrogate majorises F - delta_A)."""
    D, _, y = problem(8, 12, 3, seed=seed % 50)
    A = _orthogonal(12, seed)
    B = D.T @ D
    S = torch.linalg.eigvalsh(A @ B @ A.T)[-1].expand(12) * 1.0001 + torch.rand(12, generator=torch.Generator().manual_seed(seed),
                                                                               dtype=torch.float64)
    assert U.factorisation_quantities(D, A, S)["R_min"] >= -1e-10
    z = torch.zeros(3, 12, dtype=torch.float64)
    F = lambda z: U.lasso_objective(D, y, z, lam)  # noqa: E731
    for _ in range(10):
        z_new = U.factorised_step(D, y, z, lam, A, S)
        assert torch.all(F(z_new) <= F(z) + U.l1_distortion(A, z, lam) - U.l1_distortion(A, z_new, lam) + 1e-10)
        z = z_new


# --------------------------------------------------------------------------- bad input fails fast, naming the parameter
@pytest.mark.parametrize(
    "call,name",
    [
        (lambda: U.gaussian_dictionary(0, 5), "m"),
        (lambda: U.bernoulli_gaussian(3, 5, 1.5), "p"),
        (lambda: U.LISTA(torch.eye(3, dtype=torch.float64), 2, 0.0), "lam"),
        (lambda: U.ALISTA(torch.eye(3, dtype=torch.float64), 0, 0.1), "layers"),
        (lambda: U.support_selection(torch.zeros(2, 3), 0.1, 150), "q"),
        (lambda: U.solver_path("cg", torch.eye(3), torch.zeros(1, 3), 0.1, [1]), "method"),
        (lambda: U.oracle_ista(torch.eye(3), torch.zeros(1, 3), 0.1, iters=3, record_at=[5]), "record_at"),
        (lambda: U.oracle_ista(torch.eye(3), torch.zeros(1, 3), -1.0, iters=3), "lam"),
        (lambda: U.oracle_ista(torch.eye(3), torch.zeros(1, 3), float("nan"), iters=3), "lam"),
        (lambda: U.oracle_ista(torch.eye(3), torch.zeros(1, 3), 0.1, iters=2.5), "iters"),
        (lambda: U.oracle_ista(torch.eye(3), torch.zeros(1, 4), 0.1, iters=3), "y must"),
        (lambda: U.solver_path("fista", torch.eye(3), torch.zeros(1, 3), 0.1, [2, 1]), "record_at"),
        (lambda: U.lasso_reference(torch.eye(3), torch.zeros(1, 3), float("nan")), "lam"),
        (lambda: U.train(U.SLISTA(torch.eye(3), 2, 0.1), torch.zeros(4, 3), steps=0, lr=1e-2), "steps"),
        (lambda: U.train(U.SLISTA(torch.eye(3), 2, 0.1), torch.zeros(4, 3), steps=2, lr=-1.0), "lr"),
        (lambda: U.train(U.SLISTA(torch.eye(3), 2, 0.1), torch.zeros(4, 3), steps=2, lr=1e-2), "f_star"),
        (lambda: U.train(U.SLISTA(torch.eye(3), 2, 0.1), torch.zeros(4, 3), steps=2, lr=1e-2, objective="last",
                         optimizer="lbfgs"), "optimizer"),
        (lambda: U.train(U.SLISTA(torch.eye(3), 2, [0.1, 0.2], models=2, depths=[2, 1]), torch.zeros(4, 3), steps=2,
                         lr=1e-2, f_star=torch.zeros(4)), "objective"),
        (lambda: U.SLISTA(torch.eye(3), 3, [0.1, 0.2], models=2, depths=[1, 3]), "depths"),
        (lambda: U.SLISTA(torch.eye(3), 3, [0.1, 0.2, 0.3], models=2), "lam"),
        (lambda: U.SLISTA(torch.eye(3), 3, 0.1, models=2)(torch.zeros(3, 4, 3)), "y must"),
        (lambda: U.Decoded(U.SLISTA(torch.eye(3), 2, 0.1), torch.zeros(4, 5)), "decoder"),
        (lambda: U.theorem1_rate(0.1, 0), "s"),
        (lambda: U.nmse_db_difference([1.0, 2.0], [1.0], n_boot=10, seed=0), "err_a"),
        (lambda: U.restricted_lipschitz(torch.eye(3), torch.ones(2, 4, dtype=torch.bool)), "support"),
        (lambda: U.nmse_db(torch.zeros(2, 3), torch.zeros(2, 4)), "x_hat"),
    ],
)
def test_bad_input_names_the_parameter(call, name):
    with pytest.raises(ValueError, match=name):
        call()
