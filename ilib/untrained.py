r"""Untrained convolutional generators as priors: the 1-D two-layer generator, its Jacobian kernel, the lazy
(linear) model, a small deep decoder, and the classical baseline they are compared with.

**The 1-D generator** of Heckel & Soltanolkotabi (ICLR 2020, arXiv 1910.14634, §4):

.. math::

    G(C) = \mathrm{relu}(U C)\, v, \qquad U \in \mathbb R^{n\times n} \text{ circulant}, \quad C \in \mathbb R^{n\times k},
    \quad v \in \{\pm 1/\sqrt k\}^k ,

with :math:`U` the circular correlation with a filter :math:`u` (row :math:`i` is :math:`u` shifted by
:math:`i`). Its Jacobian at :math:`C` has rows indexed by output pixels; the **Jacobian kernel**
:math:`K(C) = J(C)J(C)^\top` is

.. math::

    K(C) = (U U^\top) \odot \big(A\,\mathrm{diag}(v^2)\,A^\top\big), \qquad A = \mathbb 1\{UC > 0\},

and for :math:`C` with iid :math:`\mathcal N(0, 1)` entries its expectation is

.. math::

    \Sigma_{ij} = \|v\|^2 \langle u_i, u_j\rangle\,\tfrac12\Big(1 - \tfrac1\pi\arccos\frac{\langle u_i, u_j\rangle}
    {\|u_i\|\|u_j\|}\Big),

a symmetric circulant matrix: its eigenvectors are the Fourier modes (cosines and sines, in equal pairs
:math:`f` and :math:`n - f`) and its eigenvalues the discrete Fourier transform of its first row.

**The lazy model.** With the antisymmetric start (channels in :math:`\pm` pairs with equal columns,
so :math:`G(C_0) = 0`), gradient descent with step :math:`\eta` on :math:`\tfrac12\|G(C) - y\|^2` for the
linearisation :math:`G(C_0) + J(C_0)(C - C_0)` has the residual :math:`(I - \eta K)^t y`; in the eigenbasis
:math:`(\lambda_i, w_i)` of :math:`K`,

.. math::

    \|f_t - x\|^2 = \sum_i \big((1 - (1-\eta\lambda_i)^t)(\langle w_i, x\rangle + \langle w_i, z\rangle)
    - \langle w_i, x\rangle\big)^2 \qquad (y = x + z),

(ilib theory notes, part 2, §4.2). For compressed sensing, :math:`y = Ax`, the same model converges to the
kernel interpolant :math:`K A^\top (A K A^\top)^{-1} y`, the minimiser of :math:`x^\top K^{-1} x` subject to
:math:`Ax = y` ("the smoothest approximation", Heckel & Soltanolkotabi, ICML 2020, arXiv 2005.03991).

**The deep decoder** (Heckel & Hand, ICLR 2019, arXiv 1810.03982): a fixed random input tensor, then
``depth`` layers of 1x1 convolution, bilinear x2 upsampling, ReLU and channel normalisation, and a 1x1
convolution to one channel with a sigmoid.

**Baseline**: total-variation denoising by Chambolle's projection algorithm (Chambolle 2004).

Nothing here downloads: :func:`sample_image` crops a picture that scikit-learn ships.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from ._checks import check_int, check_positive, check_positive_int, check_tensor
from .device import DeviceLike, DTypeLike, SeedLike, make_generator, rand, randn, resolve_device, resolve_dtype

__all__ = [
    "NARROW_TAPS",
    "gaussian_taps",
    "embed_filter",
    "circulant",
    "fourier_basis",
    "expected_kernel",
    "kernel_eigenvalues",
    "pair_energy",
    "ConvGenerator",
    "lazy_residual",
    "lazy_error",
    "expected_lazy_error",
    "lazy_cs_estimate",
    "kernel_interpolant",
    "bilinear_upsampling_matrix",
    "DeepDecoder",
    "tv_denoise",
    "psnr",
    "sample_image",
]

#: the narrow (triangular) filter of the ilib notes, part 2, §4.3, before normalisation
NARROW_TAPS = (1.0, 2.0, 3.0, 4.0, 5.0, 4.0, 3.0, 2.0, 1.0)


def gaussian_taps(half_width: int = 12, scale: float = 32.0) -> tuple[float, ...]:
    r"""The wide filter :math:`\exp(-i^2/\mathrm{scale})`, :math:`i = -h, \dots, h` (ilib notes, part 2, §4.3).

    >>> len(gaussian_taps()), gaussian_taps(1, 1.0)[1]
    (25, 1.0)
    """
    h = check_int(half_width, "half_width", lo=0)
    s = check_positive(scale, "scale")
    return tuple(math.exp(-(i * i) / s) for i in range(-h, h + 1))


def _at_least(x, name: str, dims: int) -> torch.Tensor:
    """A floating tensor with at least ``dims`` dimensions."""
    x = check_tensor(x, name, dtype="floating")
    if x.dim() < dims:
        raise ValueError(f"{name} must have at least {dims} dimension(s), got shape {tuple(x.shape)}")
    return x


# ============================================================================ filters, circulants, Fourier modes
def embed_filter(taps: Sequence[float], n: int, *, dtype: DTypeLike = torch.float64) -> torch.Tensor:
    r"""The filter ``taps`` (odd length :math:`L \le n`) as a unit vector :math:`u \in \mathbb R^n` centred at 0.

    .. math::

        u_{(j - (L-1)/2) \bmod n} = \frac{\mathrm{taps}_j}{\|\mathrm{taps}\|}, \qquad j = 0, \dots, L-1.

    A symmetric filter gives :math:`u_{i} = u_{n-i}`, hence a symmetric circulant :math:`U`.
    """
    n = check_positive_int(n, "n")
    t = torch.as_tensor(np.asarray(taps, dtype=float), dtype=torch.float64)
    if t.ndim != 1 or t.numel() % 2 == 0:
        raise ValueError(f"taps must be a 1-d sequence of odd length, got shape {tuple(t.shape)}")
    if t.numel() > n:
        raise ValueError(f"taps must be at most n = {n} long, got {t.numel()}")
    if not torch.isfinite(t).all() or t.norm() == 0:
        raise ValueError("taps must be finite and not all zero")
    half = (t.numel() - 1) // 2
    u = torch.zeros(n, dtype=torch.float64)
    u[(torch.arange(t.numel()) - half) % n] = t / t.norm()
    return u.to(resolve_dtype(dtype))


def circulant(u: torch.Tensor) -> torch.Tensor:
    r"""The circulant matrix whose row :math:`i` is ``u`` shifted by :math:`i`: :math:`U_{ij} = u_{(j - i) \bmod n}`.

    :math:`(Uc)_i = \sum_j u_{j-i} c_j` is the circular correlation of :math:`c` with :math:`u`, so
    :math:`G(C) = \mathrm{relu}(UC)v` is a convolutional layer with one filter.
    """
    u = check_tensor(u, "u", dim=1, dtype="floating")
    n = u.numel()
    idx = (torch.arange(n).view(1, n) - torch.arange(n).view(n, 1)) % n
    return u[idx]


def fourier_basis(n: int, *, dtype: DTypeLike = torch.float64) -> tuple[torch.Tensor, torch.Tensor]:
    r"""The real orthonormal Fourier basis of :math:`\mathbb R^n`, ordered by frequency, and the frequency of each column.

    Columns: :math:`1/\sqrt n`; then for :math:`f = 1, \dots, \lceil n/2\rceil - 1` the pair
    :math:`\sqrt{2/n}\cos(2\pi f i/n)`, :math:`\sqrt{2/n}\sin(2\pi f i/n)`; and for even :math:`n`
    :math:`(-1)^i/\sqrt n`. Every symmetric circulant matrix is diagonal in this basis.

    Returns
    -------
    W : (n, n) tensor, orthogonal.
    freq : (n,) long tensor, the frequency :math:`f \in \{0, \dots, \lfloor n/2 \rfloor\}` of each column.
    """
    n = check_positive_int(n, "n")
    i = torch.arange(n, dtype=torch.float64)
    cols, freq = [torch.full((n,), 1 / math.sqrt(n), dtype=torch.float64)], [0]
    for f in range(1, (n + 1) // 2):
        cols += [math.sqrt(2 / n) * torch.cos(2 * math.pi * f * i / n), math.sqrt(2 / n) * torch.sin(2 * math.pi * f * i / n)]
        freq += [f, f]
    if n % 2 == 0 and n > 1:
        cols.append(torch.cos(math.pi * i) / math.sqrt(n))
        freq.append(n // 2)
    return torch.stack(cols, dim=1).to(resolve_dtype(dtype)), torch.tensor(freq)


def expected_kernel(u: torch.Tensor, v_norm_sq: float = 1.0) -> torch.Tensor:
    r"""The expected Jacobian kernel :math:`\Sigma = \mathbb E_C[J(C)J(C)^\top]` of :math:`G(C) = \mathrm{relu}(UC)v`.

    For :math:`C` with iid standard Gaussian entries (Heckel & Soltanolkotabi, ICLR 2020, §4),

    .. math::

        \Sigma_{ij} = \|v\|^2\,\langle u_i, u_j\rangle\,\tfrac12\Big(1 - \tfrac{\theta_{ij}}{\pi}\Big), \qquad
        \theta_{ij} = \arccos\frac{\langle u_i, u_j\rangle}{\|u_i\|\|u_j\|},

    since :math:`\Pr[\langle u_i, c\rangle > 0, \langle u_j, c\rangle > 0] = (\pi - \theta_{ij})/(2\pi)`. (The
    authors' code divides by 6 instead of 2, which changes no eigenvector and no eigenvalue ratio.)

    Parameters
    ----------
    u : (n,) tensor
        The filter as a vector (:func:`embed_filter`).
    v_norm_sq : float
        :math:`\|v\|^2` (1 for :math:`v \in \{\pm 1/\sqrt k\}^k`).
    """
    U = circulant(u).to(torch.float64)
    v_norm_sq = check_positive(v_norm_sq, "v_norm_sq")
    # Σ is circulant and symmetric: build it from its first row, symmetrised, so that it is so to the last bit
    # (row by row, rounding would differ, and arccos amplifies an error δ in cos θ = 1 to sqrt(2δ) ~ 1e-8)
    g = U @ U[0]
    g = 0.5 * (g + g.roll(-1).flip(0))  # g_d = <u_0, u_d> = g_{n-d}
    if g[0] == 0:
        raise ValueError("u must not be zero")
    cos = (g / g[0]).clamp(-1.0, 1.0)
    cos[0] = 1.0  # θ_ii = 0
    return circulant(v_norm_sq * g * 0.5 * (1 - torch.arccos(cos) / math.pi)).to(u.dtype)


def kernel_eigenvalues(sigma: torch.Tensor) -> torch.Tensor:
    r"""The eigenvalue of the symmetric circulant ``sigma`` on each frequency :math:`f = 0, \dots, n-1`.

    .. math::

        \lambda_f = \sum_{d=0}^{n-1} \Sigma_{0d} \cos(2\pi f d / n), \qquad \lambda_f = \lambda_{n-f}.

    Index the result with the ``freq`` of :func:`fourier_basis` to get the eigenvalue of each basis column.
    """
    sigma = check_tensor(sigma, "sigma", dim=2, dtype="floating")
    n = sigma.shape[0]
    if sigma.shape != (n, n):
        raise ValueError(f"sigma must be square, got shape {tuple(sigma.shape)}")
    row = sigma[0].to(torch.float64)
    d = torch.arange(n, dtype=torch.float64)
    f = torch.arange(n, dtype=torch.float64)
    return (torch.cos(2 * math.pi * f[:, None] * d[None, :] / n) @ row).to(sigma.dtype)


def pair_energy(vectors: torch.Tensor) -> torch.Tensor:
    r"""The energy of each column of ``vectors`` on each frequency pair :math:`\{f, n-f\}`.

    For a unit vector :math:`w`, :math:`E_f(w) = \sum_{j:\ \mathrm{freq}_j = f} \langle W_{:,j}, w\rangle^2` with
    :math:`W` the real Fourier basis (:func:`fourier_basis`); :math:`\sum_f E_f = \|w\|^2`. A cosine or sine of
    frequency :math:`f`, or any rotation within that pair, has :math:`E_f = 1`.

    Parameters
    ----------
    vectors : (..., n, r) tensor
        Columns to analyse.

    Returns
    -------
    (..., r, n // 2 + 1) tensor
    """
    vectors = _at_least(vectors, "vectors", 2)
    n = vectors.shape[-2]
    W, freq = fourier_basis(n, dtype=vectors.dtype)
    W = W.to(vectors.device)
    coef = (vectors.transpose(-1, -2) @ W) ** 2  # (..., r, n)
    out = torch.zeros(*coef.shape[:-1], n // 2 + 1, dtype=coef.dtype, device=coef.device)
    return out.index_add_(-1, freq.to(coef.device), coef)


# ============================================================================ the generator
class ConvGenerator:
    r"""The two-layer convolutional generator :math:`G(C) = \mathrm{relu}(UC)\,v` (Heckel & Soltanolkotabi, ICLR 2020).

    :math:`U` is the circulant of the filter ``u`` (:func:`circulant`), :math:`C \in \mathbb R^{n\times k}` the
    trainable weights (batched: ``C`` of shape ``(..., n, k)``), and :math:`v` fixed, with the first half of
    the channels :math:`+1/\sqrt k` and the second half :math:`-1/\sqrt k`. With the antisymmetric start
    (:meth:`antisymmetric_start`: the two halves of :math:`C_0` equal) the output at the start is exactly
    zero while the Jacobian is not.

    Parameters
    ----------
    u : (n,) tensor
        The filter as a vector (:func:`embed_filter`).
    k : int
        Number of channels, even.
    """

    def __init__(self, u: torch.Tensor, k: int):
        u = check_tensor(u, "u", dim=1, dtype="floating")
        k = check_positive_int(k, "k")
        if k % 2:
            raise ValueError(f"k must be even (channels come in +/- pairs), got {k}")
        self.u = u
        self.U = circulant(u)
        self.k = k
        half = torch.ones(k // 2, dtype=u.dtype, device=u.device)
        self.v = torch.cat([half, -half]) / math.sqrt(k)

    @property
    def n(self) -> int:
        return self.u.numel()

    @property
    def dtype(self) -> torch.dtype:
        return self.u.dtype

    @property
    def device(self) -> torch.device:
        return self.u.device

    def to(self, dtype: DTypeLike = None, device: DeviceLike = None) -> "ConvGenerator":
        dt = self.dtype if dtype is None else resolve_dtype(dtype)
        dev = self.device if device is None else resolve_device(device)
        return ConvGenerator(self.u.to(dtype=dt, device=dev), self.k)

    def _check_C(self, C: torch.Tensor) -> torch.Tensor:
        C = _at_least(C, "C", 2)
        if C.shape[-2:] != (self.n, self.k):
            raise ValueError(f"C must have shape (..., n={self.n}, k={self.k}), got {tuple(C.shape)}")
        return C

    def antisymmetric_start(self, batch: int, seed: SeedLike) -> torch.Tensor:
        r""":math:`C_0 = [C', C']` with :math:`C'` iid :math:`\mathcal N(0, 1)` of shape ``(batch, n, k/2)``: :math:`G(C_0) = 0`."""
        batch = check_positive_int(batch, "batch")
        g = make_generator(seed)
        half = randn(batch, self.n, self.k // 2, generator=g, dtype=self.dtype, device=self.device)
        return torch.cat([half, half], dim=-1)

    def forward(self, C: torch.Tensor) -> torch.Tensor:
        r""":math:`G(C) = \mathrm{relu}(UC)v`, shape ``(..., n)``."""
        C = self._check_C(C)
        return torch.relu(self.U @ C) @ self.v

    __call__ = forward

    def pattern(self, C: torch.Tensor) -> torch.Tensor:
        r"""The activation pattern :math:`A = \mathbb 1\{UC > 0\}` (as the dtype of ``C``), shape ``(..., n, k)``."""
        return (self.U @ self._check_C(C) > 0).to(C.dtype)

    def jacobian(self, C: torch.Tensor) -> torch.Tensor:
        r"""The Jacobian :math:`\partial G / \partial \operatorname{vec}(C)`, shape ``(..., n, n k)`` (``C`` flattened row-major).

        .. math::

            \frac{\partial G_i}{\partial C_{aj}} = v_j\, \mathbb 1\{(UC)_{ij} > 0\}\, U_{ia}.
        """
        A = self.pattern(C)
        J = (A * self.v)[..., :, None, :] * self.U[:, :, None]  # (..., i, a, j)
        return J.reshape(*C.shape[:-2], self.n, self.n * self.k)

    def kernel(self, C: torch.Tensor) -> torch.Tensor:
        r"""The Jacobian kernel :math:`K(C) = J J^\top = (UU^\top)\odot(A\,\mathrm{diag}(v^2)A^\top)`, shape ``(..., n, n)``."""
        A = self.pattern(C)
        return (self.U @ self.U.T) * ((A * self.v**2) @ A.transpose(-1, -2))

    def vjp(self, C: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
        r""":math:`J(C)^\top r = U^\top\big(A \odot r v^\top\big)`, shape ``(..., n, k)``: the gradient of :math:`\tfrac12\|G(C) - y\|^2` at :math:`r = G(C) - y`."""
        A = self.pattern(C)
        return self.U.T @ (A * (r[..., :, None] * self.v))

    def __repr__(self) -> str:
        return f"ConvGenerator(n={self.n}, k={self.k}, dtype={self.dtype})"


# ============================================================================ the lazy model
def _eig_coords(K: torch.Tensor, *vectors: torch.Tensor):
    evals, evecs = torch.linalg.eigh(K)
    return evals, evecs, [(v.unsqueeze(-2) @ evecs).squeeze(-2) for v in vectors]


def lazy_residual(K: torch.Tensor, y: torch.Tensor, eta: float, times: Sequence[int]) -> torch.Tensor:
    r"""The residual :math:`(I - \eta K)^t y` of gradient descent on the lazy model, for every ``t`` in ``times``.

    Computed in the eigenbasis of :math:`K` (:math:`K = V\Lambda V^\top`): :math:`V(1 - \eta\Lambda)^t V^\top y`.

    Parameters
    ----------
    K : (..., n, n) symmetric tensor
    y : (..., n) tensor
    eta : float
        Step size.
    times : sequence of int
        Non-negative iteration counts.

    Returns
    -------
    (len(times), ..., n) tensor
    """
    K = _at_least(K, "K", 2)
    y = _at_least(y, "y", 1)
    eta = check_positive(eta, "eta")
    t = torch.as_tensor([check_int(s, "times", lo=0) for s in times], dtype=K.dtype, device=K.device)
    evals, evecs, (yc,) = _eig_coords(K, y)
    decay = (1 - eta * evals).unsqueeze(0) ** t.view(-1, *([1] * evals.ndim))
    coef = torch.movedim(decay * yc, 0, -2)  # (..., T, n): time next to the eigen-coordinates
    return torch.movedim(coef @ evecs.transpose(-1, -2), -2, 0)


def lazy_error(lam: torch.Tensor, x_coef: torch.Tensor, z_coef: torch.Tensor, eta: float, steps: int) -> torch.Tensor:
    r"""The error :math:`\|f_t - x\|^2` of the lazy model for :math:`t = 0, \dots, \mathrm{steps}`, from eigen-coordinates.

    .. math::

        \|f_t - x\|^2 = \sum_i \big((1 - (1-\eta\lambda_i)^t)(x_i + z_i) - x_i\big)^2

    (ilib theory notes, part 2, §4.2), with :math:`x_i = \langle w_i, x\rangle`, :math:`z_i = \langle w_i, z\rangle`.

    Parameters
    ----------
    lam : (..., n) tensor
        Eigenvalues of the kernel.
    x_coef, z_coef : (..., n) tensors
        Signal and noise in the same eigenbasis.

    Returns
    -------
    (steps + 1, ...) tensor
    """
    lam = _at_least(lam, "lam", 1)
    eta = check_positive(eta, "eta")
    steps = check_int(steps, "steps", lo=0)
    t = torch.arange(steps + 1, dtype=lam.dtype, device=lam.device).view(-1, *([1] * lam.ndim))
    a = (1 - eta * lam).unsqueeze(0) ** t
    return (((1 - a) * (x_coef + z_coef) - x_coef) ** 2).sum(-1)


def expected_lazy_error(lam: torch.Tensor, x_sq: torch.Tensor, noise_var: float, eta: float, steps: int) -> torch.Tensor:
    r"""The expected lazy-model error over white noise, for :math:`t = 0, \dots, \mathrm{steps}`.

    For :math:`z` with :math:`\mathbb E\langle w_i, z\rangle^2 = s` (``noise_var``; :math:`s = \sigma^2/n` when
    :math:`z \sim \mathcal N(0, \sigma^2 I/n)`) and signal energies :math:`\mathbb E x_i^2` (``x_sq``),

    .. math::

        e(t) = \sum_i \big(1 - (1-\eta\lambda_i)^t\big)^2 s + (1-\eta\lambda_i)^{2t}\,\mathbb E x_i^2 .

    Returns
    -------
    (steps + 1,) tensor (or with the leading shape of ``lam``)
    """
    lam = _at_least(lam, "lam", 1)
    eta = check_positive(eta, "eta")
    steps = check_int(steps, "steps", lo=0)
    s = float(noise_var)
    if not (s >= 0 and math.isfinite(s)):
        raise ValueError(f"noise_var must be a finite non-negative number, got {noise_var!r}")
    t = torch.arange(steps + 1, dtype=lam.dtype, device=lam.device).view(-1, *([1] * lam.ndim))
    a = (1 - eta * lam).unsqueeze(0) ** t
    return ((1 - a) ** 2 * s + a**2 * x_sq).sum(-1)


def lazy_cs_estimate(K: torch.Tensor, A: torch.Tensor, y: torch.Tensor, eta: float, steps: int | None = None) -> torch.Tensor:
    r"""The lazy model's estimate after ``steps`` of gradient descent on :math:`\tfrac12\|y - Af\|^2` from :math:`f_0 = 0`.

    With :math:`M = AKA^\top`, the measurement residual obeys :math:`e_{t+1} = (I - \eta M)e_t`, so

    .. math::

        f_t = K A^\top M^{-1}\big(I - (I - \eta M)^t\big) y \;\xrightarrow[t\to\infty]{}\; K A^\top M^{-1} y

    for :math:`0 < \eta < 2/\|M\|`; ``steps=None`` gives the limit (:func:`kernel_interpolant`).

    Parameters
    ----------
    K : (..., n, n) kernel; A : (..., m, n) measurements; y : (..., m).
    eta : float or tensor of shape ``(...)``
        Step size (one per problem allowed).
    """
    K = _at_least(K, "K", 2)
    A = _at_least(A, "A", 2)
    y = _at_least(y, "y", 1)
    M = A @ K @ A.transpose(-1, -2)
    mu, Q = torch.linalg.eigh(M)
    yc = (y.unsqueeze(-2) @ Q).squeeze(-2)
    if steps is None:
        gain = 1 / mu
    else:
        steps = check_int(steps, "steps", lo=0)
        step = torch.as_tensor(eta, dtype=mu.dtype, device=mu.device)
        if not torch.isfinite(step).all() or (step <= 0).any():
            raise ValueError(f"eta must be finite and positive, got {eta!r}")
        gain = (1 - (1 - step[..., None] * mu) ** steps) / mu
    coef = (Q @ (gain * yc).unsqueeze(-1)).squeeze(-1)
    return (K @ A.transpose(-1, -2) @ coef.unsqueeze(-1)).squeeze(-1)


def kernel_interpolant(K: torch.Tensor, A: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    r"""The smoothest signal consistent with the measurements: :math:`\hat x = K A^\top (AKA^\top)^{-1} y`.

    It minimises :math:`x^\top K^{-1} x` subject to :math:`Ax = y`, and is where gradient descent on the lazy
    model converges (Heckel & Soltanolkotabi, ICML 2020). See :func:`lazy_cs_estimate`.
    """
    return lazy_cs_estimate(K, A, y, 1.0, None)


# ============================================================================ the deep decoder
def bilinear_upsampling_matrix(s: int, *, dtype: DTypeLike = torch.float64) -> torch.Tensor:
    r"""The :math:`2s \times s` matrix of bilinear x2 upsampling along one axis (half-pixel centres, edges clamped).

    Output sample :math:`o` sits at source coordinate :math:`c = \max(0, (o + \tfrac12)/2 - \tfrac12)`
    and takes :math:`(1 - \{c\})\,x_{\lfloor c\rfloor} + \{c\}\,x_{\min(\lfloor c\rfloor + 1, s - 1)}`,
    as ``torch.nn.functional.interpolate(..., mode="bilinear", align_corners=False)``. A 2-d image
    :math:`X` upsamples to :math:`L X L^\top`.
    """
    s = check_positive_int(s, "s")
    o = torch.arange(2 * s, dtype=torch.float64)
    c = ((o + 0.5) / 2 - 0.5).clamp_min(0.0)
    i0 = c.floor().long().clamp_max(s - 1)
    i1 = (i0 + 1).clamp_max(s - 1)
    w = c - i0.to(torch.float64)
    L = torch.zeros(2 * s, s, dtype=torch.float64)
    L[torch.arange(2 * s), i0] += 1 - w
    L[torch.arange(2 * s), i1] += w
    return L.to(resolve_dtype(dtype))


class DeepDecoder:
    r"""The deep decoder of Heckel & Hand (ICLR 2019), with every trial's parameters in one row of a tensor.

    .. math::

        B_0 \text{ fixed}, \quad B_{i+1} = \mathrm{cn}\big(\mathrm{relu}(L_i (C_i B_i) L_i^\top)\big), \quad
        \hat x = \mathrm{sigmoid}(c_{\mathrm{out}}^\top B_d),

    with :math:`C_i` ``width`` x ``width`` (1x1 convolutions), :math:`L_i` bilinear x2 upsampling
    (:func:`bilinear_upsampling_matrix`) and :math:`\mathrm{cn}` channel normalisation (zero mean, unit variance
    over the pixels of each channel, then a learned scale and shift). The input :math:`B_0` has ``width``
    channels of side ``side / 2**depth``, drawn uniformly from :math:`[0, 0.1)` as in the authors' code. The
    parameter count is :math:`N = d c^2 + 2 d c + c` for width :math:`c` and depth :math:`d`.

    Parameters
    ----------
    width, depth, side : int
        Channels, layers, output side (divisible by ``2**depth``).
    """

    def __init__(self, width: int, depth: int, side: int, *, dtype: DTypeLike = None, device: DeviceLike = "cpu"):
        self.width = check_positive_int(width, "width")
        self.depth = check_positive_int(depth, "depth")
        self.side = check_positive_int(side, "side")
        if side % 2**depth:
            raise ValueError(f"side must be divisible by 2**depth = {2 ** depth}, got {side}")
        self.dtype = resolve_dtype(dtype)
        self.device = resolve_device(device)
        s0 = side // 2**depth
        self.input_side = s0
        self._up = [bilinear_upsampling_matrix(s0 * 2**i, dtype=self.dtype).to(self.device) for i in range(depth)]
        c = self.width
        self._shapes = [(c, c)] * depth + [(c,)] * depth + [(c,)] * depth + [(c,)]  # convs, scales, shifts, output

    @property
    def n_params(self) -> int:
        r""":math:`N = d c^2 + 2dc + c`."""
        return sum(math.prod(s) for s in self._shapes)

    @property
    def n_pixels(self) -> int:
        return self.side * self.side

    def init(self, batch: int, seed: SeedLike) -> tuple[torch.Tensor, torch.Tensor]:
        r"""Random parameters ``(batch, N)`` (convolutions :math:`\mathcal N(0, 1/c)`, scales 1, shifts 0) and inputs ``(batch, c, s0, s0)``."""
        batch = check_positive_int(batch, "batch")
        g = make_generator(seed)
        c, d = self.width, self.depth
        kw = dict(generator=g, dtype=self.dtype, device=self.device)
        parts = [randn(batch, c * c, **kw) / math.sqrt(c) for _ in range(d)]
        parts += [torch.ones(batch, c, dtype=self.dtype, device=self.device) for _ in range(d)]
        parts += [torch.zeros(batch, c, dtype=self.dtype, device=self.device) for _ in range(d)]
        parts.append(randn(batch, c, **kw) / math.sqrt(c))
        z = 0.1 * rand(batch, c, self.input_side, self.input_side, **kw)
        return torch.cat(parts, dim=1), z

    def unflatten(self, theta: torch.Tensor) -> list[torch.Tensor]:
        """The parameter tensors of each trial, ``[(B, c, c)] * d + [(B, c)] * (2d + 1)``, as views of ``theta``."""
        theta = check_tensor(theta, "theta", dim=2, dtype="floating")
        if theta.shape[1] != self.n_params:
            raise ValueError(f"theta must have {self.n_params} columns, got {theta.shape[1]}")
        out, at = [], 0
        for s in self._shapes:
            size = math.prod(s)
            out.append(theta[:, at:at + size].reshape(theta.shape[0], *s))
            at += size
        return out

    def forward(self, theta: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """The images ``(B, side, side)`` for parameters ``theta`` (B, N) and inputs ``z`` (B, c, s0, s0)."""
        p = self.unflatten(theta)
        d, c = self.depth, self.width
        convs, scales, shifts, out = p[:d], p[d:2 * d], p[2 * d:3 * d], p[3 * d]
        h = z
        B = theta.shape[0]
        for i in range(d):
            s = h.shape[-1]
            h = torch.bmm(convs[i], h.reshape(B, c, s * s)).reshape(B, c, s, s)
            h = torch.relu(self._up[i] @ h @ self._up[i].T)
            mu = h.mean(dim=(-1, -2), keepdim=True)
            var = h.var(dim=(-1, -2), keepdim=True, unbiased=False)
            h = (h - mu) * torch.rsqrt(var + 1e-5) * scales[i][..., None, None] + shifts[i][..., None, None]
        s = h.shape[-1]
        return torch.sigmoid(torch.bmm(out.unsqueeze(1), h.reshape(B, c, s * s))).reshape(B, s, s)

    __call__ = forward

    def __repr__(self) -> str:
        return f"DeepDecoder(width={self.width}, depth={self.depth}, side={self.side}, N={self.n_params})"


# ============================================================================ the classical baseline
def _grad2(u: torch.Tensor) -> torch.Tensor:
    """Forward differences along the last two axes (zero at the far edge), stacked on a new leading axis."""
    gx = torch.zeros_like(u)
    gy = torch.zeros_like(u)
    gx[..., :-1, :] = u[..., 1:, :] - u[..., :-1, :]
    gy[..., :, :-1] = u[..., :, 1:] - u[..., :, :-1]
    return torch.stack([gx, gy])


def _div2(p: torch.Tensor) -> torch.Tensor:
    """The negative adjoint of :func:`_grad2`: :math:`\\langle \\nabla u, p\\rangle = -\\langle u, \\mathrm{div}\\, p\\rangle`."""
    px, py = p[0], p[1]
    dx = torch.zeros_like(px)
    dy = torch.zeros_like(py)
    dx[..., 0, :] = px[..., 0, :]
    dx[..., 1:-1, :] = px[..., 1:-1, :] - px[..., :-2, :]
    dx[..., -1, :] = -px[..., -2, :]
    dy[..., :, 0] = py[..., :, 0]
    dy[..., :, 1:-1] = py[..., :, 1:-1] - py[..., :, :-2]
    dy[..., :, -1] = -py[..., :, -2]
    return dx + dy


def tv_denoise(f: torch.Tensor, weight, *, iters: int = 200, tau: float = 0.125) -> torch.Tensor:
    r"""Isotropic total-variation denoising by Chambolle's projection algorithm (Chambolle, JMIV 2004).

    Solves :math:`\min_u \tfrac12\|u - f\|^2 + w\,\mathrm{TV}(u)`, with
    :math:`\mathrm{TV}(u) = \sum_{ij} \|(\nabla u)_{ij}\|_2` and forward differences (zero across the far edge),
    through the dual iteration

    .. math::

        p \leftarrow \frac{p + \tau\nabla(\mathrm{div}\,p - f/w)}{1 + \tau\,|\nabla(\mathrm{div}\,p - f/w)|},
        \qquad u = f - w\,\mathrm{div}\,p,

    which converges for :math:`\tau \le 1/8`.

    Parameters
    ----------
    f : (..., h, w) tensor
        Images.
    weight : float or tensor broadcastable to ``f.shape[:-2]``
        The weight :math:`w > 0` per image.
    iters : int
        Dual iterations.
    tau : float
        Dual step, at most 1/8.
    """
    f = _at_least(f, "f", 2)
    iters = check_int(iters, "iters", lo=0)
    tau = check_positive(tau, "tau")
    if tau > 0.125:
        raise ValueError(f"tau must be at most 1/8 for convergence, got {tau}")
    w = torch.as_tensor(weight, dtype=f.dtype, device=f.device)
    if not torch.isfinite(w).all() or (w <= 0).any():
        raise ValueError("weight must be finite and positive")
    w = w[..., None, None]
    p = torch.zeros(2, *(f + 0 * w).shape, dtype=f.dtype, device=f.device)
    for _ in range(iters):
        g = _grad2(_div2(p) - f / w)
        p = (p + tau * g) / (1 + tau * g.norm(dim=0, keepdim=True))
    return f - w * _div2(p)


def psnr(x: torch.Tensor, reference: torch.Tensor, peak: float = 1.0) -> torch.Tensor:
    r"""Peak signal-to-noise ratio over the last two axes, in dB: :math:`10\log_{10}(\mathrm{peak}^2/\mathrm{MSE})`."""
    x = _at_least(x, "x", 2)
    reference = _at_least(reference, "reference", 2)
    peak = check_positive(peak, "peak")
    mse = ((x - reference) ** 2).mean(dim=(-1, -2))
    return 10 * torch.log10(peak**2 / mse)


@dataclass(frozen=True)
class _Crop:
    name: str
    top: int
    left: int
    block: int


def sample_image(side: int = 64, *, name: str = "china.jpg", top: int = 96, left: int = 128, block: int = 2,
                 dtype: DTypeLike = torch.float64) -> torch.Tensor:
    r"""A grey-level crop in :math:`[0, 1]` of a picture that scikit-learn ships (no download).

    The ``side * block`` square at (``top``, ``left``) of :func:`sklearn.datasets.load_sample_image` ``name``
    (``"china.jpg"`` or ``"flower.jpg"``, 427 x 640), averaged over the colour channels and over
    ``block`` x ``block`` pixel blocks; the default is the roof of the pagoda in ``china.jpg``.
    """
    from sklearn.datasets import load_sample_image

    side = check_positive_int(side, "side")
    block = check_positive_int(block, "block")
    im = load_sample_image(name).astype(np.float64).mean(axis=-1) / 255.0
    top = check_int(top, "top", lo=0, hi=im.shape[0] - side * block)
    left = check_int(left, "left", lo=0, hi=im.shape[1] - side * block)
    crop = im[top:top + side * block, left:left + side * block].reshape(side, block, side, block).mean(axis=(1, 3))
    return torch.as_tensor(crop, dtype=resolve_dtype(dtype))
