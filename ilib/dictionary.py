r"""Dictionary learning: the gradients of (unrolled) sparse coding, alternating minimisation, atom recovery.

For a dictionary :math:`D\in\mathbb R^{p\times K}` (atoms as columns), a signal :math:`y\in\mathbb R^p`
and the Lasso cost

.. math::

    F(z, D) = \tfrac12\|Dz - y\|^2 + \lambda\|z\|_1,\qquad z^*(D) = \arg\min_z F(z, D),

dictionary learning minimises :math:`G(D) = F(z^*(D), D)` (summed over signals) over atoms of norm at most 1.
By Danskin's theorem :math:`\nabla G(D) = (Dz^* - y)z^{*\top}`. Malézieux, Moreau & Kowalski (ICLR 2022)
compare two estimates built from :math:`z_N`, the output of :math:`N` ISTA steps with the step :math:`1/L`
held fixed:

* the *analytic* gradient :math:`g^1_N = (Dz_N - y)z_N^\top` (:func:`analytic_gradient`), and
* the *automatic* (unrolled) gradient :math:`g^2_N = \tfrac{d}{dD}F(z_N(D), D)`, back-propagated through
  the :math:`N` steps (:func:`unrolled_gradient`, in closed form).

:func:`learn_dictionary` is alternating minimisation (ISTA on the codes, projected gradient on the atoms),
which lowers :math:`\sum_b F(z_b, D)` at every step; :func:`atom_recovery` is the K-SVD paper's test of
a learned dictionary against a planted one (Aharon, Elad & Bruckstein 2006).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ._checks import check_nonneg, check_positive, check_positive_int, check_tensor
from .device import SeedLike, make_generator, randn
from .sparse import soft_threshold

__all__ = [
    "planted_signals", "lasso_cost", "analytic_gradient", "ista_codes", "unrolled_gradient", "restricted_rate",
    "DictionaryResult", "learn_dictionary", "atom_recovery",
]


def _check_dy(D: torch.Tensor, y: torch.Tensor) -> None:
    check_tensor(D, "D", dim=2, dtype="floating")
    check_tensor(y, "y", dim=2, dtype="floating")
    if y.shape[1] != D.shape[0]:
        raise ValueError(f"y must have shape (B, {D.shape[0]}) (rows of D), got {tuple(y.shape)}")


def _lipschitz(D: torch.Tensor) -> torch.Tensor:
    return torch.linalg.matrix_norm(D, ord=2) ** 2


def planted_signals(D: torch.Tensor, count: int, sparsity: int, *, noise: float = 0.0, seed: SeedLike = 0):
    r"""Codes with exactly ``sparsity`` non-zeros (standard Gaussian values) and signals :math:`y = Dz + \sigma\varepsilon`.

    Returns ``(z, y)`` of shapes ``(count, K)`` and ``(count, p)``; :math:`\varepsilon` standard Gaussian,
    :math:`\sigma` = ``noise``. Drawn in float64 on the CPU from ``seed``, returned in ``D``'s dtype and device.
    """
    check_tensor(D, "D", dim=2, dtype="floating")
    count, sparsity = check_positive_int(count, "count"), check_positive_int(sparsity, "sparsity")
    if sparsity > D.shape[1]:
        raise ValueError(f"sparsity must be at most the number of atoms {D.shape[1]}, got {sparsity}")
    check_nonneg(noise, "noise")
    g = make_generator(seed)
    K = D.shape[1]
    idx = torch.argsort(torch.rand(count, K, generator=g, dtype=torch.float64), dim=1)[:, :sparsity]
    z = torch.zeros(count, K, dtype=torch.float64).scatter_(1, idx, randn(count, sparsity, generator=g,
                                                                          dtype=torch.float64, device="cpu"))
    y = z @ D.double().cpu().T + noise * randn(count, D.shape[0], generator=g, dtype=torch.float64, device="cpu")
    return z.to(D), y.to(D)


def lasso_cost(D: torch.Tensor, y: torch.Tensor, z: torch.Tensor, lam: float) -> torch.Tensor:
    r""":math:`F(z, D) = \tfrac12\|Dz - y\|^2 + \lambda\|z\|_1` per signal, shape ``(B,)``; differentiable in ``D`` and ``z``."""
    r = z @ D.T - y
    return 0.5 * (r * r).sum(-1) + lam * z.abs().sum(-1)


def analytic_gradient(D: torch.Tensor, y: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    r"""The analytic gradient :math:`g^1 = (Dz - y)z^\top = \partial_D F(z, D)` at fixed codes, per signal ``(B, p, K)``.

    At :math:`z = z^*(D)` it is the gradient of :math:`G(D) = \min_z F(z, D)` (Danskin).
    """
    _check_dy(D, y)
    return torch.einsum("bp,bk->bpk", z @ D.T - y, z)


def ista_codes(D: torch.Tensor, y: torch.Tensor, lam: float, iters: int, *, L=None, keep: bool = False):
    r""":math:`N` = ``iters`` ISTA steps from 0 with the step :math:`1/L` held fixed (default :math:`L = \|D\|_2^2`).

    .. math::

        w_t = z_t - \tfrac1L D^\top(Dz_t - y),\qquad z_{t+1} = \eta_{\lambda/L}(w_t).

    Returns :math:`z_N` ``(B, K)``, or with ``keep`` also the lists :math:`z_0..z_{N-1}` and :math:`w_0..w_{N-1}`
    that the reverse pass needs. Differentiable in ``D`` (``L`` is a constant).
    """
    _check_dy(D, y)
    check_nonneg(lam, "lam")
    iters = check_positive_int(iters, "iters")
    L = float(_lipschitz(D.detach())) if L is None else check_positive(float(L), "L")
    z = torch.zeros(y.shape[0], D.shape[1], dtype=y.dtype, device=y.device)
    zs, ws = [], []
    for _ in range(iters):
        w = z - ((z @ D.T - y) @ D) / L
        if keep:
            zs.append(z)
            ws.append(w)
        z = soft_threshold(w, lam / L)
    return (z, zs, ws) if keep else z


def unrolled_gradient(D: torch.Tensor, y: torch.Tensor, lam: float, iters: int, *, L=None) -> tuple[torch.Tensor, torch.Tensor]:
    r"""The unrolled gradient :math:`g^2_N = \frac{d}{dD}F(z_N(D), D)` per signal, by a closed-form reverse pass.

    With :math:`r_t = Dz_t - y`, starting from :math:`a = D^\top r_N + \lambda\,\mathrm{sign}(z_N)` and
    :math:`G = r_N z_N^\top`, for :math:`t = N-1, \dots, 0`:

    .. math::

        b = \mathbb 1(|w_t| > \lambda/L)\odot a,\qquad
        G \leftarrow G - \tfrac1L\big(r_t b^\top + (Db)z_t^\top\big),\qquad
        a \leftarrow b - \tfrac1L D^\top D b,

    and :math:`g^2_N = G` (the step :math:`1/L` held fixed, as the notes' §3.2 and Malézieux et al.'s code).
    Returns :math:`(z_N, g^2_N)` with shapes ``(B, K)`` and ``(B, p, K)``. Equal to autograd through
    :func:`ista_codes` (a test checks it), at the cost of two matrix products per step and no graph.
    """
    L = float(_lipschitz(D.detach())) if L is None else check_positive(float(L), "L")
    with torch.no_grad():
        z, zs, ws = ista_codes(D, y, lam, iters, L=L, keep=True)
        r = z @ D.T - y
        a = r @ D + lam * torch.sign(z)
        G = torch.einsum("bp,bk->bpk", r, z)
        for t in range(len(zs) - 1, -1, -1):
            b = (ws[t].abs() > lam / L).to(a.dtype) * a
            Db = b @ D.T
            G -= (torch.einsum("bp,bk->bpk", zs[t] @ D.T - y, b) + torch.einsum("bp,bk->bpk", Db, zs[t])) / L
            a = b - (Db @ D) / L
    return z, G


def restricted_rate(D: torch.Tensor, support: torch.Tensor, *, L=None) -> torch.Tensor:
    r"""ISTA's local linear rate once the support :math:`S` is found: :math:`\rho_S = 1 - \mu_S/L`, per row of ``support``.

    :math:`\mu_S` is the smallest eigenvalue of :math:`D_S^\top D_S`: after support identification ISTA is
    gradient descent on the problem restricted to :math:`S`, whose slowest mode contracts by
    :math:`1 - \mu_S/L` per step (Bredies & Lorenz 2008; Liang, Fadili & Peyré 2014). An empty support gives 0.
    """
    check_tensor(D, "D", dim=2, dtype="floating")
    if support.dim() != 2 or support.shape[1] != D.shape[1]:
        raise ValueError(f"support must have shape (B, {D.shape[1]}), got {tuple(support.shape)}")
    L = float(_lipschitz(D)) if L is None else float(L)
    out = torch.zeros(support.shape[0], dtype=D.dtype, device=D.device)
    for b in range(support.shape[0]):  # supports differ in size; a handful of signals
        Ds = D[:, support[b]]
        if Ds.shape[1]:
            out[b] = 1 - torch.linalg.eigvalsh(Ds.T @ Ds)[0] / L
    return out


@dataclass(frozen=True)
class DictionaryResult:
    r"""Alternating minimisation's dictionary ``D`` ``(p, K)``, codes ``Z`` ``(B, K)`` and objective after each iteration.

    ``objective[i]`` is :math:`\sum_b F(z_b, D)` after ``i`` outer iterations (``objective[0]``: the start).
    """

    D: torch.Tensor
    Z: torch.Tensor
    objective: torch.Tensor
    lam: float

    @property
    def largest_increase(self) -> float:
        """The largest relative increase of the objective between consecutive iterations (0 if it never rose)."""
        f = self.objective.double()
        return float(((f[1:] - f[:-1]) / f[:-1].abs().clamp_min(1e-300)).clamp_min(0).max()) if len(f) > 1 else 0.0


def learn_dictionary(Y: torch.Tensor, atoms: int, lam: float, *, iters: int, code_steps: int = 20,
                     dict_steps: int = 5, seed: SeedLike = 0, init: torch.Tensor | None = None) -> DictionaryResult:
    r"""Dictionary learning by alternating minimisation of :math:`\sum_b \tfrac12\|Dz_b - y_b\|^2 + \lambda\|z_b\|_1`.

    Each outer iteration runs ``code_steps`` ISTA steps on the codes (warm-started, step
    :math:`1/\|D\|_2^2`), then ``dict_steps`` projected gradient steps on the atoms (step
    :math:`1/\|ZZ^\top\|_2`, projection onto :math:`\|d_j\| \le 1`). Both are majorisation–minimisation
    steps, so the objective never increases (Beck & Teboulle 2009, Lemma 2.3, in each block).
    ``init`` defaults to ``atoms`` training signals drawn at random from ``seed``, normalised.
    """
    check_tensor(Y, "Y", dim=2, dtype="floating")
    atoms, iters = check_positive_int(atoms, "atoms"), check_positive_int(iters, "iters")
    lam = check_nonneg(lam, "lam")
    code_steps, dict_steps = check_positive_int(code_steps, "code_steps"), check_positive_int(dict_steps, "dict_steps")
    if init is None:
        if atoms > Y.shape[0]:
            raise ValueError(f"atoms must be at most the number of signals {Y.shape[0]} to initialise from them, got {atoms}")
        g = make_generator(seed)
        D = Y[torch.randperm(Y.shape[0], generator=g)[:atoms].to(Y.device)].T.clone()
    else:
        check_tensor(init, "init", shape=(Y.shape[1], atoms), dtype="floating")
        D = init.to(Y).clone()
    D = D / D.norm(dim=0, keepdim=True).clamp_min(1e-12)
    Z = torch.zeros(Y.shape[0], atoms, dtype=Y.dtype, device=Y.device)
    cost = lambda D, Z: float(lasso_cost(D, Y, Z, lam).sum())  # noqa: E731
    obj = [cost(D, Z)]
    for _ in range(iters):
        L = float(_lipschitz(D))
        for _ in range(code_steps):
            Z = soft_threshold(Z - ((Z @ D.T - Y) @ D) / L, lam / L)
        LD = float(torch.linalg.matrix_norm(Z.T @ Z, ord=2))
        if LD > 0:
            for _ in range(dict_steps):
                D = D - ((Z @ D.T - Y).T @ Z) / LD
                D = D / D.norm(dim=0, keepdim=True).clamp_min(1.0)
        obj.append(cost(D, Z))
    return DictionaryResult(D=D, Z=Z, objective=torch.tensor(obj, dtype=torch.float64), lam=float(lam))


def atom_recovery(D_hat: torch.Tensor, D0: torch.Tensor, *, tol: float = 0.01) -> torch.Tensor:
    r"""Which planted atoms are recovered: :math:`1 - \max_j |\langle \hat d_j, d^0_i\rangle| < ` ``tol`` (both normalised).

    The test of Aharon, Elad & Bruckstein (2006, Sec. V-A) for K-SVD on a planted dictionary.
    Returns a boolean tensor with one entry per column of ``D0``.
    """
    check_tensor(D_hat, "D_hat", dim=2, dtype="floating")
    check_tensor(D0, "D0", dim=2, dtype="floating")
    if D_hat.shape[0] != D0.shape[0]:
        raise ValueError(f"D_hat and D0 must have the same number of rows, got {D_hat.shape[0]} and {D0.shape[0]}")
    check_positive(tol, "tol")
    A = D_hat / D_hat.norm(dim=0, keepdim=True).clamp_min(1e-300)
    B = D0 / D0.norm(dim=0, keepdim=True).clamp_min(1e-300)
    return 1 - (A.T.to(B) @ B).abs().max(dim=0).values < tol
