r"""The one optimisation loop: batched Adam or gradient descent over independent problems.

Every row of the variable ``x`` (shape ``(..., k)``) is its own problem; the
objective returns one loss per row (shape ``x.shape[:-1]``). Because Adam and
gradient descent act coordinate-wise, running all rows at once gives exactly
the iterates each problem would get on its own, which is what makes
experiments with thousands of trials cheap.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional

import torch

from ._checks import check_choice, check_nonneg_int, check_positive

Objective = Callable[[torch.Tensor], torch.Tensor]

METHODS = ("adam", "gd")


@dataclass
class OptimResult:
    """Result of :func:`minimize`.

    Attributes
    ----------
    x : final iterate, same shape as the start.
    loss : objective at ``x``, shape ``x.shape[:-1]``.
    history : losses recorded every ``record_every`` steps, shape ``(T, *x.shape[:-1])`` (empty if not asked).
    flips : number of negation-check flips per row.
    """

    x: torch.Tensor
    loss: torch.Tensor
    history: torch.Tensor
    flips: torch.Tensor
    steps: int = 0
    extras: dict = field(default_factory=dict)


def _check(steps: int, lr: float, method: str, negate_every: int, record_every: int) -> None:
    check_nonneg_int(steps, "steps")
    check_positive(lr, "lr")  # the step size
    check_choice(method, "method", METHODS)
    check_nonneg_int(negate_every, "negate_every")
    check_nonneg_int(record_every, "record_every")


def minimize(
    fun: Objective,
    x0: torch.Tensor,
    *,
    steps: int,
    lr: float,
    method: str = "adam",
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    project: Optional[Callable[[torch.Tensor], torch.Tensor]] = None,
    negate_every: int = 0,
    record_every: int = 0,
) -> OptimResult:
    r"""Minimise ``fun`` row by row from ``x0``.

    Parameters
    ----------
    fun : callable
        Maps ``x`` of shape ``(..., k)`` to per-row losses of shape ``(...)``.
    x0 : torch.Tensor
        Starting point; not modified.
    steps, lr : int, float
        Number of iterations and step size.
    method : {"adam", "gd"}
        Adam (Kingma & Ba 2015, the CSGM code's choice) or plain gradient descent
        :math:`x \leftarrow x - \mathrm{lr}\,\nabla f(x)`.
    project : callable, optional
        Applied after every step (for example onto a ball :math:`\|z\| \le r`).
    negate_every : int
        If positive, every ``negate_every`` steps (and before the first) replace
        ``x`` by ``-x`` in each row where :math:`f(-x) < f(x)`: the negation check
        of Huang, Hand, Heckel & Voroninski (2021), Algorithm 1.
    record_every : int
        If positive, record the loss every that many steps.
    """
    _check(steps, lr, method, negate_every, record_every)
    x = x0.detach().clone()
    m1 = torch.zeros_like(x)
    m2 = torch.zeros_like(x)
    b1, b2 = betas
    flips = torch.zeros(x.shape[:-1], dtype=torch.long, device=x.device)
    history = []

    def negation_check(x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            flip = fun(-x) < fun(x)
        if bool(flip.any()):
            sign = 1.0 - 2.0 * flip.to(x.dtype).unsqueeze(-1)
            x.mul_(sign)
            m1.mul_(sign)
            flips.add_(flip.long())
        return x

    for t in range(1, int(steps) + 1):
        if negate_every and (t - 1) % negate_every == 0:
            x = negation_check(x)
        x.requires_grad_(True)
        loss = fun(x)
        (grad,) = torch.autograd.grad(loss.sum(), x)
        with torch.no_grad():
            x = x.detach()
            if record_every and (t - 1) % record_every == 0:
                history.append(loss.detach().clone())
            if method == "adam":
                m1.mul_(b1).add_(grad, alpha=1 - b1)
                m2.mul_(b2).addcmul_(grad, grad, value=1 - b2)
                step = lr * (m1 / (1 - b1**t)) / ((m2 / (1 - b2**t)).sqrt() + eps)
                x = x - step
            else:
                x = x - lr * grad
            if project is not None:
                x = project(x)
    with torch.no_grad():
        final = fun(x)
    hist = torch.stack(history) if history else torch.empty((0, *x.shape[:-1]), dtype=x.dtype, device=x.device)
    return OptimResult(x=x, loss=final.detach(), history=hist, flips=flips, steps=int(steps))


def project_ball(radius: float) -> Callable[[torch.Tensor], torch.Tensor]:
    r"""Projection of every row onto the Euclidean ball :math:`\{\|z\| \le r\}`."""
    check_positive(radius, "radius")

    def project(z: torch.Tensor) -> torch.Tensor:
        norm = z.norm(dim=-1, keepdim=True)
        return z * torch.clamp(radius / norm.clamp_min(torch.finfo(z.dtype).tiny), max=1.0)

    return project
