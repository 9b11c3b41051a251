"""Devices, dtypes, seeding and thread settings.

Every random object in :mod:`ilib` takes either an integer seed or a
:class:`torch.Generator`; nothing reads or writes torch's global random state.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from typing import Union

import torch

DeviceLike = Union[str, torch.device, None]
DTypeLike = Union[str, torch.dtype, None]

_DTYPES = {
    "float32": torch.float32,
    "float": torch.float32,
    "float64": torch.float64,
    "double": torch.float64,
}


def resolve_device(device: DeviceLike = "auto") -> torch.device:
    """Return a :class:`torch.device`.

    Parameters
    ----------
    device : str, torch.device or None
        ``"auto"`` (or ``None``) picks CUDA when it is present, else the CPU.
        The environment variable ``ILIB_DEVICE`` overrides ``"auto"``.
    """
    if device is None or device == "auto":
        env = os.environ.get("ILIB_DEVICE")
        if env:
            return torch.device(env)
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if isinstance(device, torch.device):
        return device
    if isinstance(device, str):
        dev = torch.device(device)
        if dev.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"device={device!r} was asked for but CUDA is not available")
        return dev
    raise TypeError(f"device must be 'auto', a str or a torch.device, not {type(device).__name__}")


def resolve_dtype(dtype: DTypeLike = None) -> torch.dtype:
    """Return a floating :class:`torch.dtype`; ``None`` means float32.

    float64 is available everywhere for theory checks; it is never set globally.
    """
    if dtype is None:
        return torch.float32
    if isinstance(dtype, torch.dtype):
        if not dtype.is_floating_point:
            raise ValueError(f"dtype must be a floating dtype, not {dtype}")
        return dtype
    if isinstance(dtype, str) and dtype in _DTYPES:
        return _DTYPES[dtype]
    raise ValueError(f"dtype={dtype!r} is not one of {sorted(_DTYPES)} or a torch floating dtype")


_SEED_MAX = 2**63 - 1


@dataclass(frozen=True)
class Stream:
    """A named random stream: a seed derived from a master seed and a path of names.

    ``Stream(seed, ("a",))`` is what a notebook's ``nb.stream("a")`` returns.
    Its numbers depend only on the master seed and the names, never on how many
    other streams were made before it or in which order, so adding or reordering
    a notebook's sections never shifts another section's numbers.

    A stream is a seed, not a state: every :meth:`generator` call starts the same
    sequence again, and every function taking a seed accepts a stream. Derive
    independent sub-streams with :meth:`child`.

    Examples
    --------
    >>> s = Stream(0, ("a",))
    >>> s.child("k=2") == Stream(0, ("a", "k=2"))
    True
    >>> bool(torch.equal(torch.randn(3, generator=s.generator()), torch.randn(3, generator=s.generator())))
    True
    >>> s.seed_value == Stream(0, ("b",)).seed_value
    False
    """

    master: int
    path: tuple[str, ...] = ()

    def __post_init__(self):
        if isinstance(self.master, bool) or not isinstance(self.master, int) or not 0 <= self.master <= _SEED_MAX:
            raise ValueError(f"seed must be an integer in [0, 2**63 - 1], got {self.master!r}")
        if not isinstance(self.path, tuple) or not all(isinstance(p, str) and p for p in self.path):
            raise ValueError(f"stream names must be non-empty strings, got {self.path!r}")

    def child(self, name: str) -> "Stream":
        """The sub-stream ``name`` of this stream."""
        if not isinstance(name, str) or not name:
            raise ValueError(f"stream name must be a non-empty string, got {name!r}")
        return Stream(self.master, self.path + (name,))

    @property
    def seed_value(self) -> int:
        """The integer seed: SHA-256 of the master seed and the names, as a 63-bit integer."""
        if not self.path:
            return self.master
        text = "\x1f".join((str(self.master), *self.path)).encode()
        return int.from_bytes(hashlib.sha256(text).digest()[:8], "big") & _SEED_MAX

    def generator(self) -> torch.Generator:
        """A fresh CPU :class:`torch.Generator` at the start of this stream."""
        g = torch.Generator(device="cpu")
        g.manual_seed(self.seed_value)
        return g

    def numpy(self):
        """A fresh :class:`numpy.random.Generator` at the start of this stream."""
        import numpy as np

        return np.random.default_rng(self.seed_value)

    def __str__(self) -> str:
        return "/".join((str(self.master), *self.path))


SeedLike = Union[int, torch.Generator, Stream]


def stream(seed: int, *names: str) -> Stream:
    """The stream ``names`` of master seed ``seed`` (see :class:`Stream`)."""
    return Stream(seed, tuple(names))


def make_generator(seed: SeedLike, device: DeviceLike = "cpu") -> torch.Generator:
    """Return a :class:`torch.Generator` seeded with ``seed``.

    Passing a generator returns it unchanged, so functions can accept either;
    a :class:`Stream` gives a fresh generator at the start of the stream.
    ``seed`` must be a non-negative integer (``0`` is a seed like any other).

    Random numbers in :mod:`ilib` are drawn on the CPU from this generator and
    moved to the target device, so that the same seed gives the same numbers
    on every device.
    """
    if isinstance(seed, torch.Generator):
        return seed
    if isinstance(seed, Stream):
        return seed.generator()
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an int, a Stream or a torch.Generator, not {type(seed).__name__}")
    if not 0 <= seed <= _SEED_MAX:
        raise ValueError(f"seed must be an integer in [0, 2**63 - 1], got seed={seed}")
    g = torch.Generator(device="cpu")
    g.manual_seed(seed)
    return g


def spawn(generator: torch.Generator, n: int) -> list[torch.Generator]:
    """Derive ``n`` independent generators from ``generator`` (deterministically)."""
    seeds = torch.randint(0, 2**62, (n,), generator=generator).tolist()
    return [make_generator(int(s)) for s in seeds]


def randn(
    *shape: int,
    generator: torch.Generator,
    dtype: DTypeLike = None,
    device: DeviceLike = "auto",
) -> torch.Tensor:
    """Standard normal samples drawn on the CPU from ``generator``, then moved.

    Drawing on the CPU makes results identical across devices for a given seed.
    """
    out = torch.randn(*shape, generator=generator, dtype=torch.float64)
    return out.to(device=resolve_device(device), dtype=resolve_dtype(dtype))


def rand(
    *shape: int,
    generator: torch.Generator,
    dtype: DTypeLike = None,
    device: DeviceLike = "auto",
) -> torch.Tensor:
    """Uniform [0, 1) samples drawn on the CPU from ``generator``, then moved."""
    out = torch.rand(*shape, generator=generator, dtype=torch.float64)
    return out.to(device=resolve_device(device), dtype=resolve_dtype(dtype))


def set_threads(n: int | None = None) -> int:
    """Set torch's intra-op thread count to ``n`` (``None``: leave it) and return the count in force."""
    if n is None:
        return torch.get_num_threads()
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"number of threads must be a positive integer, got {n!r}")
    torch.set_num_threads(n)
    return n


class _BatchedMatmul(torch.autograd.Function):
    """``h @ WT`` for batched constant matrices, whose backward reads the stored ``W`` (contiguous) instead of ``WT`` transposed."""

    @staticmethod
    def forward(ctx, h: torch.Tensor, wt: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(w)
        return torch.bmm(h, wt)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        (w,) = ctx.saved_tensors
        return torch.bmm(grad.contiguous(), w), None, None


def batched_matmul(h: torch.Tensor, wt: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    r""":math:`h W^\top` for ``h`` (B, R, n_in), ``wt`` = :math:`W^\top` (B, n_in, n_out) and ``w`` = :math:`W` (B, n_out, n_in).

    Independent weights per instance make this memory-bound on a CPU; reading both
    layouts contiguously (forward through ``wt``, the input gradient through ``w``)
    is markedly faster than autograd's transposed read. Gradients flow to ``h`` only;
    when the weights themselves require gradients, plain ``torch.bmm`` is used.
    """
    if wt.requires_grad or w.requires_grad:
        return torch.bmm(h, wt)
    return _BatchedMatmul.apply(h, wt, w)
