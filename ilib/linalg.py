r"""Dense linear algebra that gives the same bits for the same input.

``torch.linalg.lstsq`` on the CPU defaults to LAPACK's ``gelsy`` (column-pivoted
QR), and with the MKL that PyTorch ships, repeated ``gelsy`` calls on the very
same matrices return solutions that differ in the last bits from call to call
(measured: five calls in one single-threaded process gave four different
results). ``gelsd`` (SVD based) and ``gels`` (QR, full rank) are reproducible,
so ilib solves every least-squares problem through :func:`lstsq`, which picks
``gelsd`` on the CPU: it also handles rank-deficient systems, returning the
minimum-norm solution.
"""

from __future__ import annotations

import torch


def lstsq(A: torch.Tensor, B: torch.Tensor, *, rcond: float | None = None) -> torch.Tensor:
    r"""The minimum-norm least-squares solution :math:`X = \arg\min_X \|AX - B\|_F`, batched, reproducible.

    .. math::

        X = A^{+} B,

    computed with LAPACK ``gelsd`` on the CPU (bit-identical for identical input,
    unlike the default ``gelsy``) and ``gels`` on CUDA (full-rank ``A`` only there).
    ``A`` has shape ``(..., m, k)`` and ``B`` ``(..., m, r)``; returns ``(..., k, r)``.

    Examples
    --------
    >>> A = torch.tensor([[1.0, 0.0], [0.0, 2.0], [0.0, 0.0]], dtype=torch.float64)
    >>> lstsq(A, torch.tensor([[1.0], [4.0], [3.0]], dtype=torch.float64)).squeeze(-1).tolist()
    [1.0, 2.0]
    """
    if not isinstance(A, torch.Tensor) or not isinstance(B, torch.Tensor):
        raise TypeError("A and B must be tensors")
    if A.dim() < 2 or B.dim() < 2 or A.shape[-2] != B.shape[-2]:
        raise ValueError(f"A must be (..., m, k) and B (..., m, r) with the same m, got {tuple(A.shape)} and {tuple(B.shape)}")
    driver = "gelsd" if A.device.type == "cpu" else None
    return torch.linalg.lstsq(A, B, rcond=rcond, driver=driver).solution
