r"""CSGM: compressed sensing with a generative model (Bora, Jalal, Price & Dimakis 2017).

.. math::

    \hat z = \arg\min_z \|y - A G(z)\|_2^2 + \lambda \|z\|_2^2, \qquad \hat x = G(\hat z),

solved with Adam or gradient descent from several random starts, batched over
trials and restarts, keeping the restart of lowest loss for every trial.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch

from ._checks import check_choice, check_nonneg, check_positive_int
from .device import SeedLike, make_generator, randn
from .linalg import lstsq
from .operators import LinearOperator
from .optim import minimize, project_ball


@dataclass
class CSGMResult:
    """Result of :func:`csgm`.

    Attributes
    ----------
    z : best latent per trial, ``(B, k)``.
    x : ``G(z)``, ``(B, n)``.
    loss : its objective value, ``(B,)``.
    restart_loss : objective at the end of every restart, ``(B, R)``.
    restart_z : every restart's final latent, ``(B, R, k)``.
    flips : negation-check flips per restart, ``(B, R)``.
    """

    z: torch.Tensor
    x: torch.Tensor
    loss: torch.Tensor
    restart_loss: torch.Tensor
    restart_z: torch.Tensor
    flips: torch.Tensor


LOSSES = ("squared", "huber", "l1")


def _huber_delta(delta, y: torch.Tensor) -> torch.Tensor:
    """``delta`` as a positive flat tensor of length 1 or ``B = y.shape[0]`` (a scalar, or one threshold per problem)."""
    d = torch.as_tensor(delta, dtype=y.dtype, device=y.device)
    if d.dim() > 1 or (d.dim() == 1 and d.shape[0] not in (1, y.shape[0])):
        raise ValueError(f"delta must be a scalar or have shape ({y.shape[0]},), got shape {tuple(d.shape)}")
    if not bool(torch.isfinite(d).all()) or not bool((d > 0).all()):
        raise ValueError(f"delta (the Huber threshold) must be finite and positive, got {d.flatten()[:4].tolist()}")
    return d.reshape(-1)


def residual_loss(r: torch.Tensor, loss: str = "squared", delta=None) -> torch.Tensor:
    r"""Sum over the last dimension of a loss of the residuals ``r``.

    .. math::

        \text{squared: } \sum_i r_i^2, \qquad
        \text{huber: } \sum_i \begin{cases} r_i^2 & |r_i| \le \delta \\ 2\delta|r_i| - \delta^2 & |r_i| > \delta \end{cases},
        \qquad \text{l1: } \sum_i |r_i| .

    The Huber loss (Huber 1964, here scaled by 2 so that it equals the squared
    loss for small residuals) grows linearly beyond :math:`\delta`, so a single
    gross residual has bounded influence on the gradient; ``delta`` is a
    scalar or one threshold per problem (shape ``(B,)`` for ``r`` of shape ``(B, ...)``).
    """
    check_choice(loss, "loss", LOSSES)
    if loss == "squared":
        return (r * r).sum(-1)
    if loss == "l1":
        return r.abs().sum(-1)
    if delta is None:
        raise ValueError('delta (the Huber threshold) is required with loss="huber"')
    d = _huber_delta(delta, r).reshape(-1, *([1] * (r.dim() - 1)))
    a = r.abs()
    return torch.where(a <= d, r * r, 2 * d * a - d * d).sum(-1)


def residual_loss_grad(r: torch.Tensor, loss: str = "squared", delta=None) -> torch.Tensor:
    r"""The derivative :math:`\psi(r) = \partial \ell / \partial r` of :func:`residual_loss`, entry by entry.

    .. math::

        \text{squared: } 2r, \qquad
        \text{huber: } \begin{cases} 2r & |r| \le \delta \\ 2\delta\,\mathrm{sign}(r) & |r| > \delta \end{cases},
        \qquad \text{l1: } \mathrm{sign}(r)

    (the subgradient 0 at :math:`r = 0` for l1, as autograd takes it), computed in the order autograd
    computes it, so the closed-form CSGM gradient :math:`\Lambda_z^\top A^\top \psi(AG(z) - y)` repeats
    autograd's numbers.
    """
    if loss == "squared":
        return r + r
    if loss == "l1":
        return torch.sign(r)
    d = _huber_delta(delta, r).reshape(-1, *([1] * (r.dim() - 1)))
    return torch.where(r.abs() <= d, r + r, (2 * d) * torch.sign(r))


GRADS = ("auto", "closed", "autograd")


def _tracks_gradients(obj, depth: int = 3) -> bool:
    """Whether a tensor held by ``obj`` (itself, in its attributes, lists, tuples or nested objects, ``depth`` deep) requires gradients."""
    if isinstance(obj, torch.Tensor):
        return obj.requires_grad
    if depth == 0:
        return False
    if isinstance(obj, (list, tuple)):
        return any(_tracks_gradients(v, depth - 1) for v in obj)
    if hasattr(obj, "__dict__") and not isinstance(obj, type):
        return any(_tracks_gradients(v, depth - 1) for v in vars(obj).values())
    return False


def closed_form_applies(y: torch.Tensor, operator, generator) -> bool:
    r"""Whether :func:`csgm_objective` can use the closed-form gradient for this problem.

    It needs a generator with a hand-written pullback (``forward_and_pullback``: the bias-free
    :class:`~ilib.generators.ReLUGenerator` and the :class:`~ilib.generators.LinearGenerator`),
    a :class:`~ilib.operators.LinearOperator` (for its adjoint), and no tensor of the problem
    that requires gradients (the closed form differentiates in ``z`` only).
    """
    return (hasattr(generator, "forward_and_pullback") and isinstance(operator, LinearOperator)
            and not any(_tracks_gradients(t) for t in (y, operator, generator)))


class _ClosedFormLoss(torch.autograd.Function):
    """Per-row losses whose backward is a gradient already computed in closed form (no autograd graph)."""

    @staticmethod
    def forward(ctx, z, value_and_grad):
        loss, grad = value_and_grad(z.detach())
        ctx.save_for_backward(grad)
        return loss

    @staticmethod
    def backward(ctx, grad_loss):
        (grad,) = ctx.saved_tensors
        return grad_loss.unsqueeze(-1) * grad, None


def csgm_objective(y: torch.Tensor, operator: LinearOperator, generator, latent_penalty: float = 0.0, *,
                   loss: str = "squared", delta=None, grad: str = "auto"):
    r"""The per-restart objective :math:`f(z) = \ell(A G(z) - y) + \lambda\|z\|^2` for latents ``(B, R, k)``.

    ``loss`` is ``"squared"`` (:math:`\ell(r) = \|r\|^2`, Bora et al. 2017), or a robust
    ``"huber"`` (threshold ``delta``) or ``"l1"`` loss (:func:`residual_loss`). The gradient,
    for a bias-free ReLU generator (or a linear one), is

    .. math::

        \nabla f(z) = \Lambda_z^\top A^\top \psi(A G(z) - y) + 2\lambda z,
        \qquad \psi = \ell' \ (\psi(r) = 2r \text{ for the squared loss}),

    with :math:`\Lambda_z` the local linear map (:math:`G(z) = \Lambda_z z`, Hand & Voroninski
    2018) of the CSGM objective of Bora, Jalal, Price & Dimakis (2017).

    Parameters
    ----------
    y, operator, generator, latent_penalty, loss, delta :
        As in :func:`csgm`.
    grad : {"auto", "closed", "autograd"}
        How ``torch.autograd.grad`` of the returned function's value is computed. ``"closed"``:
        the formula above, by the generator's hand-written pullback
        (:meth:`~ilib.generators.ReLUGenerator.forward_and_pullback`) and the operator's adjoint,
        evaluated with the forward pass and without an autograd graph; ``"autograd"``: autograd
        through the generator (the reference, and the only choice for generators with biases or
        smooth activations); ``"auto"``: ``"closed"`` where :func:`closed_form_applies`, else
        ``"autograd"``. Both give the same numbers up to rounding.

    Returns
    -------
    callable
        ``fun(z)`` with per-row losses of shape ``(B, R)``.
    """
    check_nonneg(latent_penalty, "latent_penalty")
    check_choice(loss, "loss", LOSSES)
    if loss == "huber":
        if delta is None:
            raise ValueError('delta (the Huber threshold) is required with loss="huber"')
        _huber_delta(delta, y)
    check_choice(grad, "grad", GRADS)
    closed = closed_form_applies(y, operator, generator)
    if grad == "closed" and not closed:
        raise ValueError(
            f"grad='closed' needs a generator with forward_and_pullback (bias-free ReLU or linear), a LinearOperator "
            f"and no tensor requiring gradients; got {type(generator).__name__} and {type(operator).__name__}"
        )
    yy = y.unsqueeze(1)

    def fun(z: torch.Tensor) -> torch.Tensor:
        r = operator(generator(z)) - yy
        out = residual_loss(r, loss, delta)
        if latent_penalty:
            out = out + latent_penalty * (z * z).sum(-1)
        return out

    if grad == "autograd" or not closed:
        return fun

    def value_and_grad(z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        with torch.no_grad():
            x, pullback = generator.forward_and_pullback(z)
            r = operator(x) - yy
            out = residual_loss(r, loss, delta)
            g = pullback(operator.adjoint(residual_loss_grad(r, loss, delta)))
            if latent_penalty:
                out = out + latent_penalty * (z * z).sum(-1)
                g = g + (2 * latent_penalty) * z
        return out, g

    def closed_fun(z: torch.Tensor) -> torch.Tensor:
        if torch.is_grad_enabled() and z.requires_grad:
            return _ClosedFormLoss.apply(z, value_and_grad)
        return fun(z)

    closed_fun.value_and_grad = value_and_grad
    return closed_fun


def csgm(
    y: torch.Tensor,
    operator: LinearOperator,
    generator,
    *,
    restarts: int = 5,
    steps: int = 600,
    lr: float = 0.05,
    method: str = "adam",
    latent_penalty: float = 0.0,
    negate_every: int = 0,
    radius: Optional[float] = None,
    init_std: float = 1.0,
    z0: Optional[torch.Tensor] = None,
    polish: int = 0,
    loss: str = "squared",
    delta=None,
    seed: SeedLike = 0,
    grad: str = "auto",
) -> CSGMResult:
    r"""Solve ``B`` CSGM problems with ``restarts`` random starts each, in one batch.

    Parameters
    ----------
    y : torch.Tensor
        Measurements, shape ``(B, m)``.
    operator : LinearOperator
        ``B`` measurement operators (or one shared, ``B = 1``).
    generator : ReLUGenerator or LinearGenerator
        ``B`` generators (or one shared).
    restarts : int
        Random starts per trial; starts are :math:`z_0 \sim \mathcal{N}(0, \mathrm{init\_std}^2 I)`.
    steps, lr, method :
        Passed to :func:`ilib.optim.minimize`.
    latent_penalty : float
        :math:`\lambda` in the objective (Bora et al.'s "+Reg").
    negate_every : int
        Negation check period (Huang et al. 2021); 0 disables it.
    radius : float, optional
        Constrain :math:`\|z\| \le r` (the Lipschitz form of the theorem).
    z0 : torch.Tensor, optional
        Explicit starts, shape ``(B, R, k)``; overrides ``restarts`` and ``seed``.
    polish : int
        After the first-order solve, up to this many local least-squares steps
        on every restart (:func:`polish_local`): exact on a piecewise-linear
        generator once the activation region is right. 0 disables it.
    seed : int or torch.Generator
        Seeds the random starts.
    grad : {"auto", "closed", "autograd"}
        How the gradient is computed (:func:`csgm_objective`): by default in closed form,
        :math:`\Lambda_z^\top A^\top\psi(AG(z) - y) + 2\lambda z` (:math:`\psi = \ell'`, so
        :math:`2\Lambda_z^\top A^\top(AG(z) - y)` for the squared loss), for bias-free ReLU and
        linear generators, by autograd otherwise.
    """
    if y.dim() != 2:
        raise ValueError(f"y must have shape (B, m), got {tuple(y.shape)}")
    if y.shape[-1] != operator.out_dim:
        raise ValueError(f"y has {y.shape[-1]} measurements but the operator gives {operator.out_dim}")
    if operator.in_dim != generator.output_dim:
        raise ValueError(
            f"operator acts on R^{operator.in_dim} but the generator outputs R^{generator.output_dim}"
        )
    check_positive_int(restarts, "restarts")
    check_choice(loss, "loss", LOSSES)
    if polish and loss != "squared":
        raise ValueError(f"polish (local least squares) needs loss='squared', got loss={loss!r}")
    B, k = y.shape[0], generator.latent_dim
    if z0 is None:
        g = make_generator(seed)
        z0 = init_std * randn(B, int(restarts), k, generator=g, dtype=y.dtype, device=y.device)
    elif z0.dim() != 3 or z0.shape[0] != B or z0.shape[2] != k:
        raise ValueError(f"z0 must have shape ({B}, R, {k}), got {tuple(z0.shape)}")
    fun = csgm_objective(y, operator, generator, latent_penalty, loss=loss, delta=delta, grad=grad)
    res = minimize(
        fun,
        z0,
        steps=steps,
        lr=lr,
        method=method,
        negate_every=negate_every,
        project=None if radius is None else project_ball(radius),
    )
    zr, loss = res.x, res.loss
    if polish:
        if radius is not None:
            raise ValueError("polish is not available with a radius constraint (the local solve is unconstrained)")
        zr, loss = polish_local(y, operator, generator, zr, steps=polish, latent_penalty=latent_penalty)
    best = loss.argmin(dim=1)
    idx = torch.arange(B, device=y.device)
    z = zr[idx, best]
    with torch.no_grad():
        x = generator(z.unsqueeze(1)).squeeze(1)
    return CSGMResult(z=z, x=x, loss=loss[idx, best], restart_loss=loss, restart_z=zr, flips=res.flips)


def polish_local(y: torch.Tensor, operator: LinearOperator, generator, z: torch.Tensor, *, steps: int = 3,
                 latent_penalty: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Local least-squares steps on the activation region: exact CSGM on a piecewise-linear generator.

    A bias-free ReLU network is linear on each activation region,
    :math:`G(z) = \Lambda_z z` (Hand & Voroninski 2018), so on the region of the
    current iterate the CSGM objective is a least-squares problem with the
    closed-form solution

    .. math::

        z^+ = \arg\min_w \|y - A\Lambda_z w\|^2 + \lambda\|w\|^2 .

    Each step solves it (in float64) for every row of ``z`` (shape ``(B, R, k)``)
    and keeps :math:`z^+` only where the true objective decreases, so the loss
    never increases. Once the region is right, one step lands on the exact
    minimiser; this removes the first-order optimiser's floor. Returns the new
    latents and their losses ``(B, R)``.
    """
    if int(steps) != steps or steps < 0:
        raise ValueError(f"steps must be a non-negative integer, got steps={steps}")
    fun = csgm_objective(y, operator, generator, latent_penalty)
    z = z.detach().clone()
    with torch.no_grad():
        loss = fun(z)
        B, R, k = z.shape
        yy = y.to(torch.float64).unsqueeze(1).expand(B, R, -1)
        for _ in range(int(steps)):
            L = generator.local_linear_map(z)  # (B, R, n, k)
            M = operator(L.transpose(-1, -2)).transpose(-1, -2).to(torch.float64)  # (B, R, m, k)
            w = _ridge_lstsq(M, yy, latent_penalty, torch.zeros(B, R, k, dtype=torch.float64, device=z.device))
            z, loss = _keep_better(fun, z, loss, w.to(z.dtype))
    return z, loss


def _ridge_lstsq(M: torch.Tensor, rhs: torch.Tensor, latent_penalty: float, offset: torch.Tensor) -> torch.Tensor:
    r""":math:`\arg\min_w \|M w - r\|^2 + \lambda\|w - o\|^2` for batches of ``M`` (..., m, k), ``r`` (..., m), ``o`` (..., k)."""
    if latent_penalty:
        k = M.shape[-1]
        eye = (latent_penalty**0.5) * torch.eye(k, dtype=M.dtype, device=M.device).expand(*M.shape[:-2], k, k)
        M = torch.cat([M, eye], dim=-2)
        rhs = torch.cat([rhs, (latent_penalty**0.5) * offset], dim=-1)
    return lstsq(M, rhs.unsqueeze(-1)).squeeze(-1)


def _keep_better(fun, z: torch.Tensor, loss: torch.Tensor, cand: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``cand`` where it lowers ``fun``, else ``z``; with the losses of the kept rows."""
    new = fun(cand)
    better = new < loss
    return torch.where(better.unsqueeze(-1), cand, z), torch.where(better, new, loss)


def gauss_newton_polish(y: torch.Tensor, operator: LinearOperator, generator, z: torch.Tensor, *, steps: int = 5,
                        latent_penalty: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Gauss--Newton steps on the CSGM objective of a smooth generator: the first-order optimiser's floor removed.

    With :math:`J = \partial G/\partial z` at the current iterate (``generator.jacobian(z)``,
    shape ``(..., n, k)``), each step solves the linearised problem in float64,

    .. math::

        \delta = \arg\min_\delta \|y - AG(z) - AJ\delta\|^2 + \lambda\|z + \delta\|^2, \qquad z^+ = z + \delta,

    for every row of ``z`` (shape ``(B, R, k)``), and keeps :math:`z^+` only where the true
    objective decreases, so the loss never increases. Near a minimiser with a small residual
    the steps converge quadratically, which Adam with a constant step size does not (it
    hovers at a distance set by its step). For a bias-free ReLU network :math:`J = \Lambda_z`
    and one step is :func:`polish_local`'s. Returns the new latents and their losses ``(B, R)``.
    """
    if int(steps) != steps or steps < 0:
        raise ValueError(f"steps must be a non-negative integer, got steps={steps}")
    if not hasattr(generator, "jacobian"):
        raise TypeError(f"generator must provide jacobian(z); {type(generator).__name__} does not")
    fun = csgm_objective(y, operator, generator, latent_penalty)
    z = z.detach().clone()
    with torch.no_grad():
        loss = fun(z)
        B, R, k = z.shape
        yy = y.unsqueeze(1)
        for _ in range(int(steps)):
            J = generator.jacobian(z)  # (B, R, n, k)
            M = operator(J.transpose(-1, -2)).transpose(-1, -2).to(torch.float64)  # (B, R, m, k)
            rhs = (yy - operator(generator(z))).to(torch.float64)
            delta = _ridge_lstsq(M, rhs, latent_penalty, -z.to(torch.float64))
            z, loss = _keep_better(fun, z, loss, (z.to(torch.float64) + delta).to(z.dtype))
    return z, loss


def relative_error(x_hat: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    r""":math:`\|\hat x - x\| / \|x\|` along the last dimension."""
    return (x_hat - x).norm(dim=-1) / x.norm(dim=-1).clamp_min(torch.finfo(x.dtype).tiny)
