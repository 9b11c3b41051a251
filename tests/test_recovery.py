"""CSGM: recovery in an easy case, batching, determinism, and the linear case's closed form."""

import pytest
import torch

import ilib


def _problem(B, k=4, widths=(40, 160), m=30, seed=0):
    g = ilib.make_generator(seed)
    G = ilib.ReLUGenerator.random([k, *widths], batch=B, seed=g, dtype="float64", device="cpu")
    A = ilib.GaussianOperator.random(m, widths[-1], batch=B, seed=g, dtype="float64", device="cpu")
    z = ilib.randn(B, 1, k, generator=g, dtype="float64", device="cpu")
    x = G(z).squeeze(1)
    return G, A, z, x


def test_csgm_recovers_the_signal_in_an_easy_noiseless_case():
    """m = 30 >> 2k = 8 measurements of an expansive 4-40-160 net: exact recovery in every trial."""
    G, A, z, x = _problem(B=8)
    res = ilib.csgm(A(x), A, G, restarts=4, steps=800, lr=0.05, negate_every=50, seed=1)
    assert ilib.relative_error(res.x, x).max() < 1e-3


def test_batched_csgm_equals_per_trial_csgm():
    G, A, z, x = _problem(B=3, seed=2)
    y = A(x)
    z0 = ilib.randn(3, 2, 4, generator=ilib.make_generator(5), dtype="float64", device="cpu")
    batched = ilib.csgm(y, A, G, z0=z0, steps=100, lr=0.05, negate_every=25)
    for b in range(3):
        single = ilib.csgm(y[b : b + 1], A.select(b), G.select(b), z0=z0[b : b + 1], steps=100, lr=0.05, negate_every=25)
        torch.testing.assert_close(batched.restart_z[b], single.restart_z[0], rtol=1e-9, atol=1e-11)
        torch.testing.assert_close(batched.x[b], single.x[0], rtol=1e-9, atol=1e-11)


def test_same_seed_gives_identical_results():
    G, A, z, x = _problem(B=2, seed=3)
    a = ilib.csgm(A(x), A, G, restarts=3, steps=50, seed=11)
    b = ilib.csgm(A(x), A, G, restarts=3, steps=50, seed=11)
    assert torch.equal(a.restart_z, b.restart_z)


def test_best_restart_is_the_lowest_loss():
    G, A, z, x = _problem(B=4, seed=4)
    res = ilib.csgm(A(x), A, G, restarts=5, steps=30, seed=0)
    torch.testing.assert_close(res.loss, res.restart_loss.min(dim=1).values)


@pytest.mark.parametrize("lam", [0.0, 0.3])
def test_linear_generator_solution_meets_the_normal_equations(lam):
    """For G(z) = U z the objective is quadratic: the minimiser solves (U'A'AU + lam I) z = U'A'y."""
    g = ilib.make_generator(0)
    U = ilib.LinearGenerator.random(40, 3, batch=2, seed=g, dtype="float64", device="cpu")
    A = ilib.GaussianOperator.random(20, 40, batch=2, seed=g, dtype="float64", device="cpu")
    y = ilib.randn(2, 20, generator=g, dtype="float64", device="cpu")
    res = ilib.csgm(y, A, U, restarts=2, steps=3000, lr=0.05, latent_penalty=lam, seed=1)
    M = A.A @ U.U
    z = torch.linalg.solve(M.transpose(1, 2) @ M + lam * torch.eye(3, dtype=torch.float64), (M.transpose(1, 2) @ y.unsqueeze(-1)))
    torch.testing.assert_close(res.z, z.squeeze(-1), atol=1e-6, rtol=0)


def test_mismatched_shapes_are_refused():
    G, A, z, x = _problem(B=2)
    with pytest.raises(ValueError, match="measurements"):
        ilib.csgm(torch.zeros(2, 7, dtype=torch.float64), A, G)
    with pytest.raises(ValueError, match="restarts"):
        ilib.csgm(A(x), A, G, restarts=0)
    with pytest.raises(ValueError, match="latent_penalty"):
        ilib.csgm(A(x), A, G, latent_penalty=-1.0)


def _objective_problem(shared_generator, shared_operator, dtype="float64", seed=7):
    B = 3
    g = ilib.make_generator(seed)
    G = ilib.ReLUGenerator.random([4, 30, 60], batch=1 if shared_generator else B, seed=g, dtype=dtype, device="cpu")
    A = ilib.GaussianOperator.random(20, 60, batch=1 if shared_operator else B, seed=g, dtype=dtype, device="cpu")
    y = ilib.randn(B, 20, generator=g, dtype=dtype, device="cpu")
    z = ilib.randn(B, 5, 4, generator=g, dtype=dtype, device="cpu")
    return G, A, y, z


@pytest.mark.parametrize("shared_generator, shared_operator", [(False, False), (True, False), (True, True)])
@pytest.mark.parametrize("lam", [0.0, 0.3])
def test_closed_form_gradient_equals_autograd(shared_generator, shared_operator, lam):
    """∇f(z) = 2Λ_zᵀAᵀ(AG(z) − y) + 2λz equals autograd's gradient of ‖AG(z) − y‖² + λ‖z‖² (float64)."""
    G, A, y, z = _objective_problem(shared_generator, shared_operator)
    z = z.requires_grad_(True)
    f_auto = ilib.csgm_objective(y, A, G, lam, grad="autograd")
    f_closed = ilib.csgm_objective(y, A, G, lam, grad="closed")
    (g_auto,) = torch.autograd.grad(f_auto(z).sum(), z)
    (g_closed,) = torch.autograd.grad(f_closed(z).sum(), z)
    torch.testing.assert_close(f_closed(z), f_auto(z), rtol=1e-13, atol=0)
    torch.testing.assert_close(g_closed, g_auto, rtol=1e-12, atol=1e-13)
    # and the formula itself, with Λ_z formed explicitly
    L = G.local_linear_map(z.detach())
    r = A(G(z.detach())) - y.unsqueeze(1)
    formula = 2 * (L.transpose(-1, -2) @ A.adjoint(r).unsqueeze(-1)).squeeze(-1) + 2 * lam * z.detach()
    torch.testing.assert_close(g_closed, formula, rtol=1e-10, atol=1e-12)


def test_closed_form_gradient_is_weighted_by_the_upstream_gradient():
    """The backward multiplies each row's gradient by the upstream weight (here 3 for row (0, 1), 0 elsewhere)."""
    G, A, y, z = _objective_problem(False, False)
    z = z.requires_grad_(True)
    w = torch.zeros(3, 5, dtype=torch.float64)
    w[0, 1] = 3.0
    (g_auto,) = torch.autograd.grad((ilib.csgm_objective(y, A, G, 0.1, grad="autograd")(z) * w).sum(), z)
    (g_closed,) = torch.autograd.grad((ilib.csgm_objective(y, A, G, 0.1, grad="closed")(z) * w).sum(), z)
    torch.testing.assert_close(g_closed, g_auto, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("shared_generator", [False, True])
@pytest.mark.parametrize("kwargs", [dict(), dict(latent_penalty=0.2, negate_every=10), dict(radius=1.5, method="gd")])
def test_csgm_iterates_are_the_same_with_the_closed_form_and_autograd(shared_generator, kwargs):
    G, A, y, z = _objective_problem(shared_generator, False, seed=8)
    runs = [ilib.csgm(y, A, G, z0=z, steps=60, lr=0.05, grad=grad, **kwargs) for grad in ("closed", "autograd")]
    torch.testing.assert_close(runs[0].restart_z, runs[1].restart_z, rtol=1e-11, atol=1e-12)
    torch.testing.assert_close(runs[0].restart_loss, runs[1].restart_loss, rtol=1e-11, atol=1e-12)
    assert torch.equal(runs[0].flips, runs[1].flips)


def test_float32_closed_form_reproduces_autograd_bit_for_bit_on_the_cpu():
    """The closed form does autograd's products in autograd's order, so the default (closed) leaves every
    float32 CSGM result of the notebooks unchanged on the CPU."""
    G, A, y, z = _objective_problem(False, False, dtype="float32", seed=9)
    a = ilib.csgm(y, A, G, z0=z, steps=80, lr=0.05, latent_penalty=0.1, negate_every=20)
    b = ilib.csgm(y, A, G, z0=z, steps=80, lr=0.05, latent_penalty=0.1, negate_every=20, grad="autograd")
    assert torch.equal(a.restart_z, b.restart_z) and torch.equal(a.restart_loss, b.restart_loss)


def test_linear_generator_closed_form_gradient_equals_autograd():
    g = ilib.make_generator(0)
    U = ilib.LinearGenerator.random(40, 3, batch=2, seed=g, dtype="float64", device="cpu")
    A = ilib.GaussianOperator.random(20, 40, batch=2, seed=g, dtype="float64", device="cpu")
    y = ilib.randn(2, 20, generator=g, dtype="float64", device="cpu")
    z = ilib.randn(2, 4, 3, generator=g, dtype="float64", device="cpu").requires_grad_(True)
    grads = [torch.autograd.grad(ilib.csgm_objective(y, A, U, 0.5, grad=m)(z).sum(), z)[0] for m in ("closed", "autograd")]
    torch.testing.assert_close(grads[0], grads[1], rtol=1e-12, atol=1e-13)


def test_auto_falls_back_to_autograd_where_the_closed_form_does_not_apply():
    """Weights that require gradients (the closed form differentiates in z only): auto uses autograd, closed is refused."""
    from ilib.recovery import closed_form_applies

    G, A, y, z = _objective_problem(False, False)
    assert closed_form_applies(y, A, G)
    Gt = ilib.ReLUGenerator([w.clone().requires_grad_(True) for w in G.weights])
    assert not closed_form_applies(y, A, Gt)
    with pytest.raises(ValueError, match="grad='closed'"):
        ilib.csgm_objective(y, A, Gt, grad="closed")
    loss = ilib.csgm_objective(y, A, Gt)(z).sum()
    (gw,) = torch.autograd.grad(loss, Gt.weights[0])
    assert gw.abs().sum() > 0


def test_a_generator_without_a_pullback_uses_autograd():
    from ilib.recovery import closed_form_applies
    from ilib.vae import MLPGenerator

    g = ilib.make_generator(3)
    W = [ilib.randn(8, 2, generator=g, dtype="float64", device="cpu"), ilib.randn(12, 8, generator=g, dtype="float64", device="cpu")]
    b = [torch.zeros(8, dtype=torch.float64), torch.zeros(12, dtype=torch.float64)]
    G = MLPGenerator(W, b)
    A = ilib.GaussianOperator.random(6, 12, batch=1, seed=g, dtype="float64", device="cpu")
    y = ilib.randn(2, 6, generator=g, dtype="float64", device="cpu")
    assert not closed_form_applies(y, A, G)
    with pytest.raises(ValueError, match="grad='closed'"):
        ilib.csgm(y, A, G, steps=2, grad="closed")
    a = ilib.csgm(y, A, G, steps=20, restarts=2, seed=1)
    b2 = ilib.csgm(y, A, G, steps=20, restarts=2, seed=1, grad="autograd")
    assert torch.equal(a.restart_z, b2.restart_z)


def test_unknown_grad_is_refused():
    G, A, y, z = _objective_problem(False, False)
    with pytest.raises(ValueError, match="grad"):
        ilib.csgm(y, A, G, grad="numeric")


@pytest.mark.parametrize("loss, delta", [("huber", 0.3), ("huber", [0.2, 0.5, 1.0]), ("l1", None)])
@pytest.mark.parametrize("lam", [0.0, 0.2])
def test_closed_form_gradient_of_the_robust_losses_equals_autograd(loss, delta, lam):
    """∇f(z) = Λ_zᵀAᵀψ(AG(z) − y) + 2λz with ψ the Huber (2r inside, 2δ sign r outside) or l1 (sign r) derivative."""
    G, A, y, z = _objective_problem(False, False, seed=10)
    z = z.requires_grad_(True)
    grads = [torch.autograd.grad(ilib.csgm_objective(y, A, G, lam, loss=loss, delta=delta, grad=m)(z).sum(), z)[0]
             for m in ("closed", "autograd")]
    torch.testing.assert_close(grads[0], grads[1], rtol=1e-12, atol=1e-13)
    runs = [ilib.csgm(y, A, G, z0=z.detach(), steps=40, lr=0.05, loss=loss, delta=delta, latent_penalty=lam, grad=m)
            for m in ("closed", "autograd")]
    torch.testing.assert_close(runs[0].restart_z, runs[1].restart_z, rtol=1e-11, atol=1e-12)


# --------------------------------------------------------------------------- robust losses
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from ilib.recovery import residual_loss  # noqa: E402


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), delta=st.floats(0.05, 5.0))
def test_huber_loss_is_squared_inside_linear_outside_and_its_gradient_is_clipped(seed, delta):
    """rho(r) = r^2 for |r| <= delta, 2 delta |r| - delta^2 beyond: continuous, with derivative 2 clip(r, +-delta)."""
    r = 3 * ilib.randn(2, 3, 11, generator=ilib.make_generator(seed), dtype="float64", device="cpu")
    r.requires_grad_(True)
    val = residual_loss(r, "huber", delta)
    (grad,) = torch.autograd.grad(val.sum(), r)
    with torch.no_grad():
        a = r.abs()
        want = torch.where(a <= delta, r * r, 2 * delta * a - delta**2).sum(-1)
        torch.testing.assert_close(val, want, rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(grad, 2 * r.clamp(-delta, delta), rtol=1e-12, atol=1e-12)
        # below the squared loss, equal to it when every residual is inside
        assert (val <= residual_loss(r, "squared") + 1e-12).all()
        torch.testing.assert_close(residual_loss(r, "huber", float(a.max()) + 1), residual_loss(r, "squared"))


def test_huber_threshold_per_problem_and_l1():
    r = torch.tensor([[[3.0, -0.5]], [[3.0, -0.5]]], dtype=torch.float64)  # (B=2, R=1, m=2)
    val = residual_loss(r, "huber", torch.tensor([1.0, 4.0], dtype=torch.float64))
    torch.testing.assert_close(val, torch.tensor([[2 * 3 - 1 + 0.25], [9 + 0.25]], dtype=torch.float64))
    torch.testing.assert_close(residual_loss(r, "l1"), torch.full((2, 1), 3.5, dtype=torch.float64))


def test_huber_csgm_is_exact_without_noise_and_resists_a_gross_outlier():
    """Noiseless: the Huber fit is exact. With one measurement corrupted by 1e3, least squares is pulled
    away and Huber is not (its gradient caps the outlier's pull at 2 delta)."""
    G, A, z, x = _problem(B=6, seed=5)
    y = A(x)
    kw = dict(restarts=4, steps=800, lr=0.05, negate_every=50, seed=1)
    clean = ilib.csgm(y, A, G, loss="huber", delta=0.05, **kw)
    assert ilib.relative_error(clean.x, x).max() < 1e-3
    bad = y.clone()
    bad[:, 0] += 1e3 * y.norm(dim=-1)
    ls = ilib.csgm(bad, A, G, **kw)
    hub = ilib.csgm(bad, A, G, loss="huber", delta=0.05, **kw)
    assert (ilib.relative_error(hub.x, x) < 0.2).all()
    assert (ilib.relative_error(ls.x, x) > 1.0).all()


def test_bad_loss_arguments_are_refused_naming_the_parameter():
    G, A, z, x = _problem(B=2)
    y = A(x)
    with pytest.raises(ValueError, match="loss"):
        ilib.csgm(y, A, G, loss="cauchy")
    with pytest.raises(ValueError, match="delta"):
        ilib.csgm(y, A, G, loss="huber")
    with pytest.raises(ValueError, match="delta"):
        ilib.csgm(y, A, G, loss="huber", delta=-1.0)
    with pytest.raises(ValueError, match="delta"):
        ilib.csgm_objective(y, A, G, loss="huber", delta=torch.ones(3))
    with pytest.raises(ValueError, match="polish"):
        ilib.csgm(y, A, G, loss="l1", polish=2)


class _Affine:
    """G(z) = U z + c: a smooth generator whose CSGM objective is quadratic (Gauss--Newton is exact in one step)."""

    def __init__(self, U, c):
        self.U, self.c = U, c
        self.latent_dim, self.output_dim = U.shape[-1], U.shape[-2]

    def __call__(self, z):
        return z @ self.U.transpose(-1, -2) + self.c

    def jacobian(self, z):
        return self.U.expand(*z.shape[:-1], *self.U.shape)


@pytest.mark.parametrize("lam", [0.0, 0.3])
def test_gauss_newton_step_solves_the_normal_equations_of_an_affine_generator(lam):
    g = ilib.make_generator(7)
    U = ilib.randn(30, 4, generator=g, dtype="float64", device="cpu")
    c = ilib.randn(30, generator=g, dtype="float64", device="cpu")
    A = ilib.GaussianOperator.random(12, 30, batch=3, seed=g, dtype="float64", device="cpu")
    y = ilib.randn(3, 12, generator=g, dtype="float64", device="cpu")
    z0 = ilib.randn(3, 2, 4, generator=g, dtype="float64", device="cpu")
    z, loss = ilib.recovery.gauss_newton_polish(y, A, _Affine(U, c), z0, steps=1, latent_penalty=lam)
    M = A.A @ U
    rhs = M.transpose(1, 2) @ (y - (A.A @ c)).unsqueeze(-1)
    ref = torch.linalg.solve(M.transpose(1, 2) @ M + lam * torch.eye(4, dtype=torch.float64), rhs).squeeze(-1)
    torch.testing.assert_close(z, ref.unsqueeze(1).expand_as(z), rtol=1e-9, atol=1e-10)
    assert (loss <= ilib.csgm_objective(y, A, _Affine(U, c), lam)(z0) + 1e-12).all()


def test_gauss_newton_reaches_a_stationary_point_of_a_smooth_decoder_and_never_raises_the_loss():
    from ilib import vae

    G = vae.MLPGenerator.from_vae(vae.VAE(36, vae.TrainConfig(latent=3, hidden=(16, 8), epochs=1, storage="float32"))).to(dtype="float64")
    g = ilib.make_generator(8)
    A = ilib.GaussianOperator.random(20, 36, batch=4, seed=g, dtype="float64", device="cpu")
    z_star = ilib.randn(4, 3, generator=g, dtype="float64", device="cpu")
    y = A(G(z_star)) + 1e-3 * ilib.randn(4, 20, generator=g, dtype="float64", device="cpu")
    z0 = z_star.unsqueeze(1) + 0.1 * ilib.randn(4, 2, 3, generator=g, dtype="float64", device="cpu")
    fun = ilib.csgm_objective(y, A, G)
    z, loss = ilib.recovery.gauss_newton_polish(y, A, G, z0, steps=20)
    assert (loss <= fun(z0)).all()
    zz = z.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(fun(zz).sum(), zz)
    assert grad.norm(dim=-1).max() < 1e-9


def test_gauss_newton_needs_a_jacobian():
    G, A, z, x = _problem(B=2)
    with pytest.raises(TypeError, match="jacobian"):
        ilib.recovery.gauss_newton_polish(A(x), A, G, z, steps=1)
