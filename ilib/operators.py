r"""Measurement operators with adjoints, batched over independent instances.

An operator holds ``B`` linear maps :math:`A_b: \mathbb{R}^n \to \mathbb{R}^m` and
acts on signals of shape ``(B, ..., n)`` (or any leading shape when ``B = 1``).
``adjoint`` applies :math:`A_b^\top`, so that
:math:`\langle A x, y\rangle = \langle x, A^\top y\rangle`, which :func:`dot_test` checks.

Dense matrices are :class:`MatrixOperator` (the Gaussian :math:`\mathcal{N}(0, 1/m)`
measurements of CSGM are :meth:`MatrixOperator.gaussian`; ``GaussianOperator`` is its old
name), matrices shared by groups of instances :class:`SharedMatrixOperator`; the structured
operators (mask, block average, 2-D DCT, subsampled DCT) and the algebra (composition,
adjoint) follow.
"""

from __future__ import annotations

import torch

from ._checks import check_int, check_nonneg, check_positive_int
from .device import DeviceLike, DTypeLike, SeedLike, batched_matmul, make_generator, randn, resolve_device, resolve_dtype


class LinearOperator:
    """Base class: ``B`` maps from ``R^n`` to ``R^m``; subclasses give ``_forward``/``_adjoint`` on ``(B, R, .)``.

    Subclasses either set ``_dtype`` and ``_device`` or override the :attr:`dtype` and :attr:`device` properties.
    """

    batch: int
    in_dim: int
    out_dim: int
    _dtype: torch.dtype
    _device: torch.device

    @property
    def dtype(self) -> torch.dtype:
        return self._dtype

    @property
    def device(self) -> torch.device:
        return self._device

    def _forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, R, n) -> (B, R, m)
        raise NotImplementedError

    def _adjoint(self, y: torch.Tensor) -> torch.Tensor:  # (B, R, m) -> (B, R, n)
        raise NotImplementedError

    def _apply(self, x: torch.Tensor, dim: int, fn) -> torch.Tensor:
        if x.shape[-1] != dim:
            raise ValueError(f"{type(self).__name__} expects last dimension {dim}, got shape {tuple(x.shape)}")
        if x.dim() < 2:
            raise ValueError(f"input must have shape (B, ..., {dim}), got {tuple(x.shape)}")
        lead = tuple(x.shape[:-1])
        if self.batch == 1:
            h = x.reshape(1, -1, dim)
        else:
            if x.shape[0] != self.batch:
                raise ValueError(f"input batch {x.shape[0]} does not match the operator's batch {self.batch}")
            h = x.reshape(self.batch, -1, dim)
        out = fn(h)
        return out.reshape(*lead, out.shape[-1])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """:math:`A x`, shape ``(B, ..., m)``."""
        return self._apply(x, self.in_dim, self._forward)

    __call__ = forward

    def adjoint(self, y: torch.Tensor) -> torch.Tensor:
        r""":math:`A^\top y`, shape ``(B, ..., n)``."""
        return self._apply(y, self.out_dim, self._adjoint)

    def matrix(self) -> torch.Tensor:
        """The dense matrices, shape ``(B, m, n)`` (built by applying the operator to the identity)."""
        eye = torch.eye(self.in_dim, dtype=self.dtype, device=self.device)
        cols = self.forward(eye.expand(self.batch, self.in_dim, self.in_dim))  # (B, n, m)
        return cols.transpose(1, 2)

    def measure(self, x: torch.Tensor, noise_std: float = 0.0, *, seed: SeedLike = 0) -> torch.Tensor:
        r"""Noisy measurements :math:`y = A x + \eta`, :math:`\eta_i \sim \mathcal{N}(0, \sigma^2)` iid.

        ``noise_std`` is the per-measurement standard deviation :math:`\sigma`.
        With ``A_ij ~ N(0, 1/m)`` the noise norm is :math:`\|\eta\| \approx \sigma\sqrt{m}`;
        pass :math:`\sigma/\sqrt{m}` for a noise of norm about :math:`\sigma`.
        """
        check_nonneg(noise_std, "noise_std")
        y = self.forward(x)
        if noise_std > 0:
            g = make_generator(seed)
            y = y + noise_std * randn(*y.shape, generator=g, dtype=y.dtype, device=y.device)
        return y


class _StoredMatrices(LinearOperator):
    """Operators that store dense matrices ``A`` (shape ``(T, m, n)``) and a contiguous copy of :math:`A^\top`."""

    def _store(self, A: torch.Tensor) -> None:
        self.A = A
        self._at = A.transpose(1, 2).contiguous()

    @property
    def dtype(self) -> torch.dtype:
        return self.A.dtype

    @property
    def device(self) -> torch.device:
        return self.A.device


class MatrixOperator(_StoredMatrices):
    r"""Dense matrices :math:`A_b \in \mathbb{R}^{m \times n}`, one per instance, applied by batched products.

    :math:`A_b x` and :math:`A_b^\top y` go through :func:`ilib.device.batched_matmul`,
    which reads both :math:`A` and a stored contiguous :math:`A^\top`, so forward and
    adjoint (and the input gradients) stream memory in order.

    Parameters
    ----------
    A : torch.Tensor
        Matrices of shape ``(B, m, n)`` (or ``(m, n)`` for ``B = 1``).

    See Also
    --------
    MatrixOperator.gaussian : the Gaussian :math:`\mathcal{N}(0, 1/m)` measurement matrices of CSGM.
    """

    def __init__(self, A: torch.Tensor):
        if not isinstance(A, torch.Tensor):
            raise TypeError(f"A must be a torch.Tensor of shape (B, m, n), not {type(A).__name__}")
        if A.dim() == 2:
            A = A.unsqueeze(0)
        if A.dim() != 3:
            raise ValueError(f"A must have shape (B, m, n), got {tuple(A.shape)}")
        if A.shape[1] < 1:
            raise ValueError(f"A must have at least one row (m >= 1), got shape {tuple(A.shape)}")
        self._store(A)
        self.batch, self.out_dim, self.in_dim = A.shape

    @classmethod
    def gaussian(
        cls,
        m: int,
        n: int,
        *,
        batch: int = 1,
        seed: SeedLike = 0,
        dtype: DTypeLike = None,
        device: DeviceLike = "auto",
    ) -> "MatrixOperator":
        r"""``batch`` independent ``m x n`` matrices with iid entries :math:`A_{ij} \sim \mathcal{N}(0, 1/m)`.

        With this scaling :math:`\mathbb{E}\|Ax\|^2 = \|x\|^2`, the convention of CSGM
        theory (Bora, Jalal, Price & Dimakis 2017). The entries are drawn on the CPU in
        float64 from ``seed`` (an int, default 0, or a generator), then moved to
        ``device`` and cast to ``dtype``, so a seed gives the same matrices on every device.
        """
        m = check_positive_int(m, "m")
        n = check_positive_int(n, "n")
        batch = check_positive_int(batch, "batch")
        g = make_generator(seed)
        A = randn(batch, m, n, generator=g, dtype=torch.float64, device="cpu") / m**0.5
        return cls(A.to(device=resolve_device(device), dtype=resolve_dtype(dtype)))

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        return batched_matmul(x, self._at, self.A)

    def _adjoint(self, y: torch.Tensor) -> torch.Tensor:
        return batched_matmul(y, self.A, self._at)

    def matrix(self) -> torch.Tensor:
        """The stored matrices, shape ``(B, m, n)``."""
        return self.A

    def select(self, index) -> "MatrixOperator":
        """The instances ``index`` (an int, a slice or an index tensor) as an operator of the same type."""
        if isinstance(index, int):
            index = slice(index, index + 1)
        return type(self)(self.A[index])

    def __repr__(self) -> str:
        return f"{type(self).__name__}(batch={self.batch}, m={self.out_dim}, n={self.in_dim}, dtype={self.dtype})"


class GaussianOperator(MatrixOperator):
    """The former name of :class:`MatrixOperator`, kept for old code: ``GaussianOperator(A)`` wraps matrices
    and ``GaussianOperator.random`` is :meth:`MatrixOperator.gaussian` (same numbers for a seed)."""

    random = classmethod(MatrixOperator.gaussian.__func__)


class SharedMatrixOperator(_StoredMatrices):
    r"""``T * C`` problems measured by ``T`` matrices: problems ``t*C .. t*C + C - 1`` share :math:`A_t`.

    Equal to ``MatrixOperator(A.repeat_interleave(C, dim=0))`` without copying the
    matrices ``C`` times, so that :func:`ilib.recovery.csgm` solves ``C`` conditions
    per matrix in one batch.

    Parameters
    ----------
    A : torch.Tensor
        Matrices of shape ``(T, m, n)``.
    groups : int
        ``C``, the number of consecutive problems that share each matrix.
    """

    def __init__(self, A: torch.Tensor, groups: int):
        if not isinstance(A, torch.Tensor) or A.dim() != 3:
            raise ValueError(f"A must have shape (T, m, n), got {tuple(getattr(A, 'shape', ()))}")
        self._store(A)
        self.groups = check_positive_int(groups, "groups")
        self.batch = A.shape[0] * self.groups
        self.out_dim, self.in_dim = A.shape[1], A.shape[2]

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        T, R = self.A.shape[0], x.shape[1]
        return torch.bmm(x.reshape(T, -1, self.in_dim), self._at).reshape(self.batch, R, self.out_dim)

    def _adjoint(self, y: torch.Tensor) -> torch.Tensor:
        T, R = self.A.shape[0], y.shape[1]
        return torch.bmm(y.reshape(T, -1, self.out_dim), self.A).reshape(self.batch, R, self.in_dim)

    def matrix(self) -> torch.Tensor:
        """The dense matrices, shape ``(T * C, m, n)`` (each :math:`A_t` repeated ``C`` times)."""
        return self.A.repeat_interleave(self.groups, dim=0)

    def __repr__(self) -> str:
        return f"SharedMatrixOperator(matrices={self.A.shape[0]}, groups={self.groups}, m={self.out_dim}, n={self.in_dim})"


# =========================================================================== structured operators
# Inpainting, super-resolution and subsampled-DCT measurements of side x side images
# flattened row by row (n = side**2), with exact adjoints; CSGM (Bora et al. 2017,
# Sec. 6.1.1) applies the same estimator with these structured A.


def _index_rows(indices: torch.Tensor, n: int, name: str) -> torch.Tensor:
    if indices.dim() == 1:
        indices = indices.unsqueeze(0)
    if indices.dim() != 2:
        raise ValueError(f"{name} must have shape (B, m) or (m,), got {tuple(indices.shape)}")
    if indices.dtype not in (torch.int64, torch.int32):
        raise ValueError(f"{name} must hold integers, got dtype {indices.dtype}")
    if indices.shape[1] < 1:
        raise ValueError(f"{name} must keep at least one entry (m >= 1)")
    if int(indices.min()) < 0 or int(indices.max()) >= n:
        raise ValueError(f"{name} must lie in [0, {n}), got range [{int(indices.min())}, {int(indices.max())}]")
    srt = indices.sort(dim=1).values
    if bool((srt[:, 1:] == srt[:, :-1]).any()):
        raise ValueError(f"{name} must not repeat an index within a row")
    return indices.long()


def _check_side(side: int) -> int:
    return check_positive_int(side, "side")


def _random_indices(n: int, m: int, batch: int, seed: SeedLike, exclude_first: bool = False) -> torch.Tensor:
    """``batch`` rows of ``m`` distinct indices in ``[0, n)`` drawn uniformly (sorted), optionally always keeping 0."""
    check_int(m, "m", lo=1, hi=n)
    check_positive_int(batch, "batch")
    g = make_generator(seed)
    keys = torch.rand(batch, n, generator=g, dtype=torch.float64)
    if exclude_first:
        keys[:, 0] = -1.0
    return keys.argsort(dim=1)[:, : int(m)].sort(dim=1).values


class MaskOperator(LinearOperator):
    r"""Inpainting: observe the pixels in a set :math:`\Omega_b`, :math:`(A_b x)_j = x_{\Omega_b[j]}`.

    :math:`A_b` is ``m`` rows of the identity, so :math:`A_b A_b^\top = I_m`, and the adjoint
    puts the observations back in place with zeros elsewhere.

    Parameters
    ----------
    indices : torch.Tensor
        Observed pixel indices, ``(B, m)`` (or ``(m,)``), distinct within each row.
    n : int
        Signal dimension.
    """

    def __init__(self, indices: torch.Tensor, n: int, *, dtype: DTypeLike = None, device: DeviceLike = "auto"):
        check_positive_int(n, "n")
        self._device = resolve_device(device)
        self._dtype = resolve_dtype(dtype)
        self.indices = _index_rows(torch.as_tensor(indices), int(n), "indices").to(self._device)
        self.batch, self.out_dim = self.indices.shape
        self.in_dim = int(n)

    @classmethod
    def random(cls, n: int, m: int, *, batch: int = 1, seed: SeedLike = 0, dtype: DTypeLike = None, device: DeviceLike = "auto") -> "MaskOperator":
        """Observe ``m`` of ``n`` pixels chosen uniformly at random (independently for each of ``batch`` masks)."""
        return cls(_random_indices(int(n), m, batch, seed), n, dtype=dtype, device=device)

    @classmethod
    def from_mask(cls, mask: torch.Tensor, *, dtype: DTypeLike = None, device: DeviceLike = "auto") -> "MaskOperator":
        """From boolean masks ``(B, n)`` or ``(n,)`` (True = observed); every mask must observe the same number of pixels."""
        mask = torch.as_tensor(mask)
        if mask.dim() == 1:
            mask = mask.unsqueeze(0)
        if mask.dim() != 2 or mask.dtype != torch.bool:
            raise ValueError(f"mask must be a boolean tensor of shape (B, n) or (n,), got {mask.dtype} {tuple(mask.shape)}")
        counts = mask.sum(dim=1)
        if bool((counts != counts[0]).any()):
            raise ValueError(f"every mask must observe the same number of pixels, got counts {counts.tolist()}")
        if int(counts[0]) < 1:
            raise ValueError("mask must observe at least one pixel")
        idx = torch.nonzero(mask, as_tuple=False)[:, 1].reshape(mask.shape[0], int(counts[0]))
        return cls(idx, mask.shape[1], dtype=dtype, device=device)

    @classmethod
    def box(cls, side: int, top: int, left: int, height: int, width: int, *, dtype: DTypeLike = None, device: DeviceLike = "auto") -> "MaskOperator":
        """Observe everything but a ``height x width`` block at ``(top, left)`` of a ``side x side`` image (block inpainting)."""
        side = _check_side(side)
        if not (0 <= top and 0 <= left and height >= 1 and width >= 1 and top + height <= side and left + width <= side):
            raise ValueError(f"the box (top={top}, left={left}, height={height}, width={width}) must lie inside a {side}x{side} image")
        if height * width == side * side:
            raise ValueError("the box must leave at least one pixel observed")
        mask = torch.ones(side, side, dtype=torch.bool)
        mask[top : top + height, left : left + width] = False
        return cls.from_mask(mask.reshape(-1), dtype=dtype, device=device)


    @property
    def mask(self) -> torch.Tensor:
        """Boolean masks ``(B, n)``, True where observed."""
        out = torch.zeros(self.batch, self.in_dim, dtype=torch.bool, device=self.device)
        return out.scatter_(1, self.indices, True)

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        idx = self.indices.unsqueeze(1).expand(x.shape[0], x.shape[1], self.out_dim)
        return torch.gather(x, -1, idx)

    def _adjoint(self, y: torch.Tensor) -> torch.Tensor:
        idx = self.indices.unsqueeze(1).expand(y.shape[0], y.shape[1], self.out_dim)
        out = torch.zeros(*y.shape[:-1], self.in_dim, dtype=y.dtype, device=y.device)
        return out.scatter(-1, idx, y)

    def __repr__(self) -> str:
        return f"MaskOperator(batch={self.batch}, m={self.out_dim}, n={self.in_dim})"


class BlockAverageOperator(LinearOperator):
    r"""Super-resolution: the mean of every ``factor x factor`` block of a ``side x side`` image.

    .. math::

        (A x)_{(p, q)} = \frac{1}{f^2} \sum_{0 \le a, b < f} x_{(fp + a,\, fq + b)},
        \qquad A^\top y = \frac{1}{f^2}\, (y \otimes \mathbf{1}_{f \times f}),

    so :math:`A A^\top = f^{-2} I` and :math:`\|A\|_2 = 1/f`. ``m = (side / f)^2``; one
    operator is shared by every signal (``batch = 1``).
    """

    def __init__(self, side: int, factor: int, *, dtype: DTypeLike = None, device: DeviceLike = "auto"):
        side = _check_side(side)
        check_positive_int(factor, "factor")
        if side % factor:
            raise ValueError(f"factor={factor} must divide side={side}")
        self.side, self.factor = side, int(factor)
        self.low = side // self.factor
        self.batch, self.in_dim, self.out_dim = 1, side * side, self.low * self.low
        self._dtype, self._device = resolve_dtype(dtype), resolve_device(device)


    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        f, lo = self.factor, self.low
        img = x.reshape(*x.shape[:-1], lo, f, lo, f)
        return img.mean(dim=(-3, -1)).reshape(*x.shape[:-1], self.out_dim)

    def _adjoint(self, y: torch.Tensor) -> torch.Tensor:
        f, lo = self.factor, self.low
        img = y.reshape(*y.shape[:-1], lo, 1, lo, 1).expand(*y.shape[:-1], lo, f, lo, f)
        return img.reshape(*y.shape[:-1], self.in_dim) / (f * f)

    def __repr__(self) -> str:
        return f"BlockAverageOperator(side={self.side}, factor={self.factor}, m={self.out_dim})"


def dct_matrix(side: int, *, dtype: DTypeLike = None, device: DeviceLike = "auto") -> torch.Tensor:
    r"""The orthonormal DCT-II matrix :math:`C \in \mathbb{R}^{s \times s}`, :math:`C C^\top = I`.

    .. math::

        C_{ki} = \alpha_k \cos\frac{\pi (2i + 1) k}{2s},\qquad
        \alpha_0 = \sqrt{1/s},\ \alpha_k = \sqrt{2/s}\ (k \ge 1),

    the transform of ``scipy.fft.dct(..., norm="ortho")`` (Ahmed, Natarajan & Rao 1974).
    """
    s = _check_side(side)
    k = torch.arange(s, dtype=torch.float64).unsqueeze(1)
    i = torch.arange(s, dtype=torch.float64).unsqueeze(0)
    C = torch.cos(torch.pi * (2 * i + 1) * k / (2 * s)) * (2.0 / s) ** 0.5
    C[0] = C[0] / 2**0.5
    return C.to(device=resolve_device(device), dtype=resolve_dtype(dtype))


class DCT2Operator(LinearOperator):
    r"""The orthonormal 2-D DCT of ``side x side`` images, :math:`X \mapsto C X C^\top` (flattened row by row).

    Orthonormal, so the adjoint is the inverse: :math:`A^\top A = A A^\top = I_n`.
    With ``inverse=True`` the operator is the inverse DCT :math:`c \mapsto C^\top c\, C`,
    the synthesis map of Lasso in the DCT basis (Bora et al. 2017, Lasso-DCT).
    ``matrix`` replaces :math:`C` by another orthonormal ``side x side`` matrix (any
    separable orthonormal 2-D transform); it is checked for orthonormality.
    """

    def __init__(
        self,
        side: int,
        *,
        inverse: bool = False,
        matrix: torch.Tensor | None = None,
        dtype: DTypeLike = None,
        device: DeviceLike = "auto",
    ):
        self.side = _check_side(side)
        self.inverse = bool(inverse)
        if matrix is None:
            self.C = dct_matrix(self.side, dtype=dtype, device=device)
        else:
            C = torch.as_tensor(matrix).to(device=resolve_device(device), dtype=resolve_dtype(dtype))
            if C.shape != (self.side, self.side):
                raise ValueError(f"matrix must have shape ({self.side}, {self.side}), got {tuple(C.shape)}")
            eye = torch.eye(self.side, dtype=torch.float64, device=C.device)
            dev = float((C.double() @ C.double().T - eye).abs().max())
            if dev > 1e-4:
                raise ValueError(f"matrix must be orthonormal (C C^T = I), but max |C C^T - I| = {dev:.2e}")
            self.C = C
        self.batch, self.in_dim, self.out_dim = 1, self.side**2, self.side**2

    @property
    def dtype(self) -> torch.dtype:
        return self.C.dtype

    @property
    def device(self) -> torch.device:
        return self.C.device

    def _dct(self, x: torch.Tensor) -> torch.Tensor:
        s = self.side
        X = x.reshape(*x.shape[:-1], s, s)
        return (self.C @ X @ self.C.T).reshape(x.shape)

    def _idct(self, c: torch.Tensor) -> torch.Tensor:
        s = self.side
        X = c.reshape(*c.shape[:-1], s, s)
        return (self.C.T @ X @ self.C).reshape(c.shape)

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._idct(x) if self.inverse else self._dct(x)

    def _adjoint(self, y: torch.Tensor) -> torch.Tensor:
        return self._dct(y) if self.inverse else self._idct(y)

    def __repr__(self) -> str:
        return f"DCT2Operator(side={self.side}, inverse={self.inverse})"


def zigzag_order(side: int) -> torch.Tensor:
    """Flat indices of a ``side x side`` coefficient array from low to high frequency (by ``i + j``, then ``i``)."""
    s = _check_side(side)
    ij = [(i, j) for i in range(s) for j in range(s)]
    ij.sort(key=lambda t: (t[0] + t[1], t[0]))
    return torch.tensor([i * s + j for i, j in ij], dtype=torch.long)


class SubsampledDCTOperator(LinearOperator):
    r"""``m`` coefficients of the orthonormal 2-D DCT: :math:`A_b = c\, P_{\Omega_b}\, (C \otimes C)`.

    The rows are orthonormal (times ``c``), so :math:`A_b A_b^\top = c^2 I_m`. With
    ``isometric=True``, :math:`c = \sqrt{n/m}` and :math:`\mathbb{E}_\Omega \|A x\|^2 = \|x\|^2`
    for a uniformly random :math:`\Omega`, the normalisation of the Gaussian operator;
    otherwise :math:`c = 1`.

    Parameters
    ----------
    side : int
        Image side, ``n = side ** 2``.
    indices : torch.Tensor
        Kept coefficient indices (row-major in the coefficient array), ``(B, m)`` or ``(m,)``.
    """

    def __init__(self, side: int, indices: torch.Tensor, *, isometric: bool = False, dtype: DTypeLike = None, device: DeviceLike = "auto"):
        self.side = _check_side(side)
        n = self.side**2
        self.dct = DCT2Operator(self.side, dtype=dtype, device=device)
        self.indices = _index_rows(torch.as_tensor(indices), n, "indices").to(self.dct.device)
        self.batch, self.out_dim = self.indices.shape
        self.in_dim = n
        self.isometric = bool(isometric)
        self.scale = (n / self.out_dim) ** 0.5 if self.isometric else 1.0

    @classmethod
    def random(
        cls, side: int, m: int, *, batch: int = 1, seed: SeedLike = 0, keep_dc: bool = True,
        isometric: bool = False, dtype: DTypeLike = None, device: DeviceLike = "auto",
    ) -> "SubsampledDCTOperator":
        """``m`` coefficients drawn uniformly at random per instance (always including the mean, index 0, when ``keep_dc``)."""
        side = _check_side(side)
        idx = _random_indices(side * side, m, batch, seed, exclude_first=keep_dc)
        return cls(side, idx, isometric=isometric, dtype=dtype, device=device)

    @classmethod
    def lowpass(cls, side: int, m: int, *, isometric: bool = False, dtype: DTypeLike = None, device: DeviceLike = "auto") -> "SubsampledDCTOperator":
        """The ``m`` lowest-frequency coefficients in zig-zag order."""
        side = _check_side(side)
        check_int(m, "m", lo=1, hi=side * side)
        return cls(side, zigzag_order(side)[: int(m)].sort().values, isometric=isometric, dtype=dtype, device=device)

    @property
    def dtype(self) -> torch.dtype:
        return self.dct.dtype

    @property
    def device(self) -> torch.device:
        return self.dct.device

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        c = self.dct._dct(x)
        idx = self.indices.unsqueeze(1).expand(x.shape[0], x.shape[1], self.out_dim)
        return self.scale * torch.gather(c, -1, idx)

    def _adjoint(self, y: torch.Tensor) -> torch.Tensor:
        idx = self.indices.unsqueeze(1).expand(y.shape[0], y.shape[1], self.out_dim)
        c = torch.zeros(*y.shape[:-1], self.in_dim, dtype=y.dtype, device=y.device).scatter(-1, idx, y)
        return self.scale * self.dct._idct(c)

    def __repr__(self) -> str:
        return f"SubsampledDCTOperator(side={self.side}, batch={self.batch}, m={self.out_dim}, isometric={self.isometric})"


def _combine_batch(a: LinearOperator, b: LinearOperator) -> int:
    if a.batch > 1 and b.batch > 1 and a.batch != b.batch:
        raise ValueError(f"operators with batches {a.batch} and {b.batch} cannot be combined")
    return max(a.batch, b.batch)


class ComposedOperator(LinearOperator):
    r"""The product :math:`A = A_{\mathrm{outer}} A_{\mathrm{inner}}`, with :math:`A^\top = A_{\mathrm{inner}}^\top A_{\mathrm{outer}}^\top`.

    For Lasso in a basis :math:`\Psi`: measure :math:`x = \Psi c` with :math:`A\Psi`,
    e.g. ``ComposedOperator(A, DCT2Operator(side, inverse=True))`` for the DCT basis.
    A batch-1 factor is shared by every instance of the other.
    """

    def __init__(self, outer: LinearOperator, inner: LinearOperator):
        if outer.in_dim != inner.out_dim:
            raise ValueError(f"outer acts on R^{outer.in_dim} but inner gives R^{inner.out_dim}")
        self.outer, self.inner = outer, inner
        self.batch = _combine_batch(outer, inner)
        self.in_dim, self.out_dim = inner.in_dim, outer.out_dim

    @property
    def dtype(self) -> torch.dtype:
        return self.outer.dtype

    @property
    def device(self) -> torch.device:
        return self.outer.device

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.outer.forward(self.inner.forward(x))

    def _adjoint(self, y: torch.Tensor) -> torch.Tensor:
        return self.inner.adjoint(self.outer.adjoint(y))

    def __repr__(self) -> str:
        return f"ComposedOperator({self.outer!r} @ {self.inner!r})"


class AdjointOperator(LinearOperator):
    r"""The transpose :math:`A^\top` of an operator, as an operator (forward and adjoint swapped)."""

    def __init__(self, op: LinearOperator):
        self.op = op
        self.batch, self.in_dim, self.out_dim = op.batch, op.out_dim, op.in_dim

    @property
    def dtype(self) -> torch.dtype:
        return self.op.dtype

    @property
    def device(self) -> torch.device:
        return self.op.device

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.op.adjoint(x)

    def _adjoint(self, y: torch.Tensor) -> torch.Tensor:
        return self.op.forward(y)

    def __repr__(self) -> str:
        return f"AdjointOperator({self.op!r})"


# =========================================================================== dot test
_DOT_RTOL = {torch.float64: 1e-10, torch.float32: 1e-4}


def dot_test(
    op: LinearOperator,
    *,
    seed: SeedLike = 0,
    rtol: float | None = None,
    atol: float = 0.0,
    raise_error: bool = True,
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""The dot test of an operator and its adjoint, per instance (after ``pylops.utils.dottest``).

    Draws :math:`u_b \in \mathbb{R}^n` and :math:`v_b \in \mathbb{R}^m` with iid
    :math:`\mathcal{N}(0, 1)` entries for every instance ``b`` (on the CPU in float64
    from ``seed``, then cast to the operator's dtype and moved to its device) and
    compares the two sides of the definition of the adjoint,

    .. math::

        \langle A_b u_b, v_b\rangle = \langle u_b, A_b^\top v_b\rangle
        \qquad (b = 1, \dots, B),

    accepting a difference of at most :math:`\mathrm{atol} + \mathrm{rtol}\, s_b` with
    :math:`s_b = \max(\|A_b u_b\|\|v_b\|, \|u_b\|\|A_b^\top v_b\|)`, which bounds both
    sides by Cauchy–Schwarz (so a side that cancels to near zero does not make the
    test fragile). Inner products are accumulated in float64. This is the dot-product
    test of Claerbout (1992, *Earth Soundings Analysis: Processing versus Inversion*).

    Parameters
    ----------
    op : LinearOperator
        Any operator with ``batch``, ``in_dim``, ``out_dim``, ``dtype`` and ``device``.
    seed : int or torch.Generator
        Source of ``u`` and ``v``; default 0.
    rtol : float, optional
        Relative tolerance; default ``1e-10`` in float64, ``1e-4`` in float32 (``1e-2`` otherwise).
    atol : float
        Absolute tolerance, default 0.
    raise_error : bool
        Raise :class:`AssertionError` naming the first failing instance and both values
        when the test fails (default); otherwise only return the two sides.

    Returns
    -------
    (lhs, rhs) : tuple of torch.Tensor
        :math:`\langle A u, v\rangle` and :math:`\langle u, A^\top v\rangle`, float64 on the CPU, shape ``(B,)``.
    """
    if not isinstance(op, LinearOperator):
        raise TypeError(f"op must be an ilib LinearOperator, not {type(op).__name__}")
    rtol = _DOT_RTOL.get(op.dtype, 1e-2) if rtol is None else float(rtol)
    if not (rtol >= 0 and atol >= 0):
        raise ValueError(f"rtol and atol must be non-negative, got rtol={rtol}, atol={atol}")
    g = make_generator(seed)
    B, n, m = op.batch, op.in_dim, op.out_dim
    u = randn(B, n, generator=g, dtype=op.dtype, device=op.device)
    v = randn(B, m, generator=g, dtype=op.dtype, device=op.device)
    Au, Atv = op.forward(u), op.adjoint(v)
    for name, out, shape in (("forward", Au, (B, m)), ("adjoint", Atv, (B, n))):
        if tuple(out.shape) != shape:
            raise AssertionError(f"dot test of {op!r}: the {name} gives shape {tuple(out.shape)}, expected {shape}")
    Au, Atv, u, v = (t.detach().to(device="cpu", dtype=torch.float64) for t in (Au, Atv, u, v))
    lhs, rhs = (Au * v).sum(-1), (u * Atv).sum(-1)
    scale = torch.maximum(Au.norm(dim=-1) * v.norm(dim=-1), u.norm(dim=-1) * Atv.norm(dim=-1))
    diff = (lhs - rhs).abs()
    bad = ~(diff <= atol + rtol * scale)  # NaN fails too
    if raise_error and bool(bad.any()):
        b = int(torch.nonzero(bad)[0])
        raise AssertionError(
            f"dot test failed for {op!r} at instance {b} ({int(bad.sum())} of {B} instances fail): "
            f"<A u, v> = {lhs[b].item():.16e} but <u, A^T v> = {rhs[b].item():.16e}; "
            f"|difference| = {diff[b].item():.3e} > atol + rtol * scale = {atol:g} + {rtol:g} * {scale[b].item():.3e}"
        )
    return lhs, rhs


class IdentityOperator(LinearOperator):
    r"""The identity on :math:`\mathbb{R}^n`, shared by any batch (projection onto a range is CSGM with :math:`A = I`)."""

    def __init__(self, n: int, *, dtype: DTypeLike = None, device: DeviceLike = "auto"):
        self.batch, self.in_dim = 1, check_positive_int(n, "n")
        self.out_dim = self.in_dim
        self._dtype, self._device = resolve_dtype(dtype), resolve_device(device)


    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        return x

    def _adjoint(self, y: torch.Tensor) -> torch.Tensor:
        return y

    def __repr__(self) -> str:
        return f"IdentityOperator(n={self.in_dim})"
