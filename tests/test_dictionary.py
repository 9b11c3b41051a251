"""Tests of ilib.dictionary: gradients of (unrolled) sparse coding against autograd and finite differences,
Danskin at a converged code, monotone alternating minimisation, atom recovery, bad input."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from ilib import dictionary as DL
from ilib import unrolled as U

F64 = dict(dtype=torch.float64, device="cpu")
HYP = settings(max_examples=20, deadline=None, derandomize=True)


def problem(p=12, K=20, B=4, s=3, noise=0.01, seed=0):
    D = U.gaussian_dictionary(p, K, seed=seed, **F64)
    z, y = DL.planted_signals(D, B, s, noise=noise, seed=seed + 1)
    return D, z, y


def test_planted_signals_have_exactly_s_nonzeros_and_the_right_noise():
    D = U.gaussian_dictionary(30, 50, seed=0, **F64)
    z, y = DL.planted_signals(D, 4000, 4, noise=0.1, seed=1)
    assert torch.all((z != 0).sum(1) == 4)
    assert float((y - z @ D.T).std()) == pytest.approx(0.1, rel=0.02)


def test_analytic_gradient_is_autograd_at_fixed_codes():
    D, z, y = problem()
    Dv = D.clone().requires_grad_(True)
    per_signal = []
    for b in range(y.shape[0]):
        (g,) = torch.autograd.grad(DL.lasso_cost(Dv, y[b:b + 1], z[b:b + 1], 0.1).sum(), Dv)
        per_signal.append(g)
    torch.testing.assert_close(DL.analytic_gradient(D, y, z), torch.stack(per_signal), rtol=1e-12, atol=1e-14)


@HYP
@given(N=st.integers(1, 40), lam=st.floats(0.01, 0.5), seed=st.integers(0, 1000))
def test_closed_form_reverse_pass_equals_autograd_through_ista(N, lam, seed):
    D, _, y = problem(seed=seed)
    L = float(U.lipschitz(D))
    Dv = D.clone().requires_grad_(True)
    (g_auto,) = torch.autograd.grad(DL.lasso_cost(Dv, y, DL.ista_codes(Dv, y, lam, N, L=L), lam).sum(), Dv)
    z, G = DL.unrolled_gradient(D, y, lam, N, L=L)
    torch.testing.assert_close(G.sum(0), g_auto, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(z, DL.ista_codes(D, y, lam, N, L=L), rtol=0, atol=0)


@pytest.mark.parametrize("N", [1, 5, 30, 200])
def test_reverse_pass_matches_central_finite_differences(N):
    D, _, y = problem(seed=3)
    L = float(U.lipschitz(D))
    E = torch.randn(D.shape, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    f = lambda Dm: DL.lasso_cost(Dm, y, DL.ista_codes(Dm, y, 0.1, N, L=L), 0.1)  # noqa: E731
    t = 1e-6
    fd = (f(D + t * E) - f(D - t * E)) / (2 * t)
    an = (DL.unrolled_gradient(D, y, 0.1, N, L=L)[1] * E).sum(dim=(1, 2))
    torch.testing.assert_close(fd, an, rtol=1e-6, atol=1e-9)


def test_danskin_unrolled_and_analytic_gradients_agree_at_a_converged_code():
    """At z* the gradient of min_z F(z, D) is (Dz* - y)z*^T: autograd through many ISTA steps and the analytic one meet."""
    D, _, y = problem(seed=5)
    L = float(U.lipschitz(D))
    z_star = DL.ista_codes(D, y, 0.1, 5000, L=L)
    g1 = DL.analytic_gradient(D, y, z_star)
    _, g2 = DL.unrolled_gradient(D, y, 0.1, 5000, L=L)
    torch.testing.assert_close(g2, g1, rtol=1e-8, atol=1e-10)
    Dv = D.clone().requires_grad_(True)
    (g_auto,) = torch.autograd.grad(DL.lasso_cost(Dv, y, DL.ista_codes(Dv, y, 0.1, 3000, L=L), 0.1).sum(), Dv)
    torch.testing.assert_close(g_auto, g1.sum(0), rtol=1e-7, atol=1e-9)


def test_restricted_rate_is_one_minus_mu_S_over_L():
    D, _, _ = problem(seed=6)
    supp = torch.zeros(3, D.shape[1], dtype=torch.bool)
    supp[0, :3] = True
    supp[1, [1, 5, 7, 9]] = True
    rho = DL.restricted_rate(D, supp)
    L = float(U.lipschitz(D))
    for b in range(2):
        Ds = D[:, supp[b]]
        assert float(rho[b]) == pytest.approx(1 - float(torch.linalg.eigvalsh(Ds.T @ Ds)[0]) / L)
    assert float(rho[2]) == 0.0


@HYP
@given(p=st.integers(4, 12), K=st.integers(4, 20), lam=st.floats(0.01, 0.5), seed=st.integers(0, 1000))
def test_dictionary_learning_never_increases_its_objective(p, K, lam, seed):
    D0 = U.gaussian_dictionary(p, K, seed=seed, **F64)
    _, Y = DL.planted_signals(D0, 60, min(2, K), noise=0.05, seed=seed + 1)
    res = DL.learn_dictionary(Y, K, lam, iters=15, code_steps=3, dict_steps=2, seed=seed + 2)
    f = res.objective
    assert torch.all(f[1:] <= f[:-1] * (1 + 1e-12) + 1e-12)
    assert res.largest_increase <= 1e-12
    assert torch.all(res.D.norm(dim=0) <= 1 + 1e-12)


def test_dictionary_learning_recovers_a_planted_dictionary():
    D0 = U.gaussian_dictionary(20, 30, seed=0, **F64)
    _, Y = DL.planted_signals(D0, 1500, 3, noise=0.0, seed=1)
    res = DL.learn_dictionary(Y, 30, 0.05, iters=150, seed=2)
    assert float(DL.atom_recovery(res.D, D0).double().mean()) >= 0.9


def test_atom_recovery_ignores_order_sign_and_scale_and_rejects_other_atoms():
    D0 = U.gaussian_dictionary(10, 15, seed=0, **F64)
    perm = torch.randperm(15, generator=torch.Generator().manual_seed(1))
    D_hat = -3.0 * D0[:, perm]
    assert torch.all(DL.atom_recovery(D_hat, D0))
    other = U.gaussian_dictionary(10, 15, seed=9, **F64)
    assert float(DL.atom_recovery(other, D0).double().mean()) <= 0.1


@pytest.mark.parametrize(
    "call,name",
    [
        (lambda: DL.planted_signals(torch.eye(3, dtype=torch.float64), 5, 4), "sparsity"),
        (lambda: DL.planted_signals(torch.eye(3, dtype=torch.float64), 0, 1), "count"),
        (lambda: DL.planted_signals(torch.eye(3, dtype=torch.float64), 5, 1, noise=-1.0), "noise"),
        (lambda: DL.ista_codes(torch.eye(3, dtype=torch.float64), torch.zeros(2, 4, dtype=torch.float64), 0.1, 3), "y"),
        (lambda: DL.ista_codes(torch.eye(3, dtype=torch.float64), torch.zeros(2, 3, dtype=torch.float64), -0.1, 3), "lam"),
        (lambda: DL.ista_codes(torch.eye(3, dtype=torch.float64), torch.zeros(2, 3, dtype=torch.float64), 0.1, 0), "iters"),
        (lambda: DL.unrolled_gradient(torch.eye(3, dtype=torch.float64), torch.zeros(2, 3, dtype=torch.float64), 0.1, 2,
                                      L=0.0), "L"),
        (lambda: DL.learn_dictionary(torch.zeros(5, 3, dtype=torch.float64), 6, 0.1, iters=2), "atoms"),
        (lambda: DL.learn_dictionary(torch.zeros(5, 3, dtype=torch.float64), 2, 0.1, iters=0), "iters"),
        (lambda: DL.learn_dictionary(torch.zeros(5, 3, dtype=torch.float64), 2, 0.1, iters=1,
                                     init=torch.zeros(3, 3, dtype=torch.float64)), "init"),
        (lambda: DL.atom_recovery(torch.eye(3, dtype=torch.float64), torch.eye(4, dtype=torch.float64)), "D_hat"),
        (lambda: DL.restricted_rate(torch.eye(3, dtype=torch.float64), torch.ones(2, 4, dtype=torch.bool)), "support"),
    ],
)
def test_bad_input_names_the_parameter(call, name):
    with pytest.raises((ValueError, TypeError)) as info:
        call()
    assert str(info.value).startswith(name), str(info.value)
