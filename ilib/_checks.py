"""Argument checks that name the argument.

Every check takes the value first and the argument's name, as the user typed it, second::

    lr = check_positive(lr, "lr")          # -> float
    steps = check_nonneg_int(steps, "steps")  # -> int

and returns the value converted (``int``, ``float``, ``list``, tensor). A refused value raises an error
whose message starts with the name, e.g. ``"lr must be a finite positive number, got nan"``:

* ``ValueError`` for a value of the right kind that is out of bounds, and for numbers of the wrong kind
  where a number is expected (a ``bool``, ``5.0`` or ``2.5`` for a count, NaN or an infinity for a real);
* ``TypeError`` for something that is not a number at all (a string, ``None``, a list where one number is
  expected) or not a tensor where a tensor is expected.

Rules shared by every check: NaN and :math:`\\pm\\infty` are refused for every real-valued check (an
unbounded side is spelled ``None``, never ``inf``); booleans are refused wherever a number is expected;
counts must be integers (``int``, NumPy or 0-d integer tensors), so ``5.0`` is refused.

This module needs NumPy only; :func:`check_tensor` and :func:`check_same_device` import torch when called.

Examples
--------
>>> check_positive_int(3, "k")
3
>>> check_positive(float("nan"), "lr")
Traceback (most recent call last):
    ...
ValueError: lr must be a finite positive number, got nan
>>> check_positive_int(5.0, "trials")
Traceback (most recent call last):
    ...
ValueError: trials must be a positive integer, got 5.0
"""

from __future__ import annotations

import math
import operator
import reprlib
from typing import Callable, Iterable, Optional, Sequence

import numpy as np

__all__ = [
    "check_positive_int",
    "check_nonneg_int",
    "check_int",
    "check_finite",
    "check_positive",
    "check_nonneg",
    "check_probability",
    "check_in_range",
    "check_elements",
    "check_choice",
    "check_int_list",
    "check_list",
    "check_tensor",
    "check_same_device",
]

_repr = reprlib.Repr()
_repr.maxlist = _repr.maxtuple = 8
_repr.maxstring = _repr.maxother = 60


def _show(value) -> str:
    """A short ``repr`` for messages (long lists, arrays and tensors are abbreviated)."""
    shape = getattr(value, "shape", None)
    if shape is not None and len(shape) > 0 and math.prod(shape) > 8:
        return f"{type(value).__name__} of shape {tuple(shape)}"
    return _repr.repr(value)


def _is_bool(value) -> bool:
    if isinstance(value, (bool, np.bool_)):
        return True
    dtype = getattr(value, "dtype", None)
    return dtype is not None and str(dtype) in ("bool", "torch.bool")


def _interval(lo, hi, lo_open: bool, hi_open: bool) -> str:
    left = "(-inf" if lo is None else ("(" if lo_open else "[") + f"{lo:g}"
    right = "inf)" if hi is None else f"{hi:g}" + (")" if hi_open else "]")
    return f"{left}, {right}"


# ----------------------------------------------------------------------------------------------- integers
def check_int(value, name: str, *, lo: Optional[int] = None, hi: Optional[int] = None, what: Optional[str] = None) -> int:
    """An integer in ``[lo, hi]`` (``None``: unbounded); bools and floats (``5.0`` too) are refused.

    ``what`` replaces the description in the message (default: ``"an integer >= lo"`` and the like).

    >>> check_int(4, "depth", lo=1, hi=10)
    4
    >>> check_int(True, "depth", lo=1)
    Traceback (most recent call last):
        ...
    ValueError: depth must be an integer >= 1, got True
    """
    if what is None:
        what = "an integer" + (
            "" if lo is None and hi is None
            else f" >= {lo}" if hi is None
            else f" <= {hi}" if lo is None
            else f" in [{lo}, {hi}]"
        )
    if isinstance(value, (str, bytes)) or value is None:
        raise TypeError(f"{name} must be {what}, got {_show(value)}")
    if _is_bool(value):
        raise ValueError(f"{name} must be {what}, got {_show(value)}")
    try:
        v = operator.index(value)
    except TypeError:
        if isinstance(value, (float, np.floating)) or hasattr(value, "dtype"):
            raise ValueError(f"{name} must be {what}, got {_show(value)}") from None
        raise TypeError(f"{name} must be {what}, got {_show(value)}") from None
    if (lo is not None and v < lo) or (hi is not None and v > hi):
        raise ValueError(f"{name} must be {what}, got {_show(value)}")
    return int(v)


def check_positive_int(value, name: str) -> int:
    """An integer >= 1 (``bool``, ``5.0`` and ``2.5`` refused).

    >>> check_positive_int(0, "restarts")
    Traceback (most recent call last):
        ...
    ValueError: restarts must be a positive integer, got 0
    """
    return check_int(value, name, lo=1, what="a positive integer")


def check_nonneg_int(value, name: str) -> int:
    """An integer >= 0 (``bool``, ``5.0`` and ``2.5`` refused).

    >>> check_nonneg_int(0, "steps")
    0
    """
    return check_int(value, name, lo=0, what="a non-negative integer")


# -------------------------------------------------------------------------------------------------- reals
def _real(value, name: str, what: str) -> float:
    if isinstance(value, (str, bytes)) or value is None or isinstance(value, complex):
        raise TypeError(f"{name} must be {what}, got {_show(value)}")
    if _is_bool(value):
        raise ValueError(f"{name} must be {what}, got {_show(value)}")
    try:
        v = float(value)
    except (TypeError, ValueError, RuntimeError):
        raise TypeError(f"{name} must be {what}, got {_show(value)}") from None
    if not math.isfinite(v):
        raise ValueError(f"{name} must be {what}, got {_show(v)}")
    return v


def check_finite(value, name: str) -> float:
    """A finite real number (NaN, infinities, bools and non-numbers refused).

    >>> check_finite(-2, "offset")
    -2.0
    """
    return _real(value, name, "a finite number")


def check_positive(value, name: str) -> float:
    """A finite real number > 0.

    >>> check_positive(0.0, "lr")
    Traceback (most recent call last):
        ...
    ValueError: lr must be a finite positive number, got 0.0
    """
    what = "a finite positive number"
    v = _real(value, name, what)
    if not v > 0:
        raise ValueError(f"{name} must be {what}, got {_show(value)}")
    return v


def check_nonneg(value, name: str) -> float:
    """A finite real number >= 0.

    >>> check_nonneg(float("inf"), "noise_std")
    Traceback (most recent call last):
        ...
    ValueError: noise_std must be a finite non-negative number, got inf
    """
    what = "a finite non-negative number"
    v = _real(value, name, what)
    if not v >= 0:
        raise ValueError(f"{name} must be {what}, got {_show(value)}")
    return v


def check_in_range(
    value, name: str, lo: Optional[float] = None, hi: Optional[float] = None, *, lo_open: bool = False, hi_open: bool = False
) -> float:
    """A finite real number in the interval from ``lo`` to ``hi`` (``None``: unbounded; ``*_open``: excluded).

    >>> check_in_range(0.5, "level", 0, 1, lo_open=True, hi_open=True)
    0.5
    >>> check_in_range(1.0, "level", 0, 1, lo_open=True, hi_open=True)
    Traceback (most recent call last):
        ...
    ValueError: level must be a finite number in (0, 1), got 1.0
    """
    what = f"a finite number in {_interval(lo, hi, lo_open, hi_open)}"
    v = _real(value, name, what)
    below = lo is not None and (v <= lo if lo_open else v < lo)
    above = hi is not None and (v >= hi if hi_open else v > hi)
    if below or above:
        raise ValueError(f"{name} must be {what}, got {_show(value)}")
    return v


def check_probability(value, name: str) -> float:
    """A probability, a finite number in ``[0, 1]``.

    >>> check_probability(1.5, "flip_prob")
    Traceback (most recent call last):
        ...
    ValueError: flip_prob must be a finite number in [0, 1], got 1.5
    """
    return check_in_range(value, name, 0.0, 1.0)


def check_elements(
    value, name: str, lo: Optional[float] = None, hi: Optional[float] = None, *,
    lo_open: bool = False, hi_open: bool = False, allow_inf: bool = False,
):
    """A number, array or tensor whose every element is a real number in the interval from ``lo`` to ``hi``.

    NaN is always refused, infinities unless ``allow_inf`` (for a documented meaning such as "no
    constraint"), booleans and non-numeric dtypes too. Tensors are checked on their device. Returns
    ``value`` unchanged.

    >>> import torch
    >>> check_elements(torch.tensor([0.1, 0.0]), "lam", 0).tolist()
    [0.10000000149011612, 0.0]
    >>> check_elements([0.5, -1.0], "lam", 0)
    Traceback (most recent call last):
        ...
    ValueError: lam must hold finite numbers in [0, inf), got [0.5, -1.0]
    """
    what = ("numbers" if allow_inf else "finite numbers") + (
        "" if lo is None and hi is None else f" in {_interval(lo, hi, lo_open, hi_open)}"
    )
    if isinstance(value, (str, bytes)) or value is None:
        raise TypeError(f"{name} must hold {what}, got {_show(value)}")
    if type(value).__module__.startswith("torch"):
        t = value.detach()
        if t.dtype.is_complex or str(t.dtype) == "torch.bool":
            raise ValueError(f"{name} must hold {what}, got dtype {t.dtype}")
        isnan, isinf, anyof = t.isnan, t.isinf, lambda m: bool(m.any())
    else:
        try:
            t = np.asarray(value)
        except Exception:  # noqa: BLE001 - ragged lists and the like
            raise TypeError(f"{name} must hold {what}, got {_show(value)}") from None
        if t.dtype.kind not in "iuf":
            exc = ValueError if t.dtype.kind in "bc" else TypeError
            raise exc(f"{name} must hold {what}, got {_show(value)}")
        isnan, isinf, anyof = (lambda: np.isnan(t)), (lambda: np.isinf(t)), lambda m: bool(np.any(m))
    bad = anyof(isnan()) or (not allow_inf and anyof(isinf()))
    if not bad and lo is not None:
        bad = anyof(t <= lo) if lo_open else anyof(t < lo)
    if not bad and hi is not None:
        bad = anyof(t >= hi) if hi_open else anyof(t > hi)
    if bad:
        raise ValueError(f"{name} must hold {what}, got {_show(value)}")
    return value


# ------------------------------------------------------------------------------------------ choices, lists
def check_choice(value, name: str, choices: Iterable):
    """One of ``choices`` (compared with ``==``).

    >>> check_choice("sgd", "method", ("adam", "gd"))
    Traceback (most recent call last):
        ...
    ValueError: method must be one of ('adam', 'gd'), got 'sgd'
    """
    choices = tuple(choices)
    try:
        ok = value in choices
    except TypeError:  # unhashable or incomparable
        ok = False
    if not ok:
        raise ValueError(f"{name} must be one of {choices}, got {_show(value)}")
    return value


def _as_list(values, name: str, what: str) -> list:
    if isinstance(values, (str, bytes)) or values is None or not hasattr(values, "__iter__"):
        raise TypeError(f"{name} must be {what}, got {_show(values)}")
    if hasattr(values, "tolist") and getattr(values, "ndim", 1) == 0:
        raise TypeError(f"{name} must be {what}, got {_show(values)}")
    return list(values)


def check_list(values, name: str, check: Callable, *, nonempty: bool = True) -> list:
    """A list with every element passed through ``check(element, f"{name}[i]")``.

    >>> check_list([0.5, 2], "r_values", check_positive)
    [0.5, 2.0]
    >>> check_list([1, -1], "r_values", check_positive)
    Traceback (most recent call last):
        ...
    ValueError: r_values[1] must be a finite positive number, got -1
    """
    vals = _as_list(values, name, "a list")
    if nonempty and not vals:
        raise ValueError(f"{name} must be a non-empty list, got {_show(values)}")
    return [check(v, f"{name}[{i}]") for i, v in enumerate(vals)]


def check_int_list(values, name: str, *, lo: Optional[int] = 1, nonempty: bool = True, increasing: bool = False) -> list[int]:
    """A list of integers >= ``lo`` (``None``: unbounded); ``increasing``: strictly increasing.

    >>> check_int_list([5, 10, 20], "m_values", increasing=True)
    [5, 10, 20]
    >>> check_int_list([5, 5], "m_values", increasing=True)
    Traceback (most recent call last):
        ...
    ValueError: m_values must be strictly increasing, got [5, 5]
    """
    what = "a list of integers" + ("" if lo is None else f" >= {lo}")
    vals = _as_list(values, name, what)
    if nonempty and not vals:
        raise ValueError(f"{name} must be a non-empty {what[2:]}, got {_show(values)}")
    out = [check_int(v, f"{name}[{i}]", lo=lo) for i, v in enumerate(vals)]
    if increasing and any(b <= a for a, b in zip(out[:-1], out[1:])):
        raise ValueError(f"{name} must be strictly increasing, got {_show(out)}")
    return out


# ---------------------------------------------------------------------------------------------- tensors
def check_tensor(
    x,
    name: str,
    *,
    dim: int | Sequence[int] | None = None,
    shape: Sequence[Optional[int]] | None = None,
    dtype=None,
    device=None,
    finite: bool = False,
):
    """A ``torch.Tensor`` with the given number of dimensions, shape, dtype and device.

    Parameters
    ----------
    dim : int or sequence of int, optional
        Allowed values of ``x.dim()``.
    shape : sequence of int or None, optional
        Expected shape; ``None`` entries match any size (implies ``dim=len(shape)``).
    dtype : torch.dtype, sequence of them, or ``"floating"``, optional
        Allowed dtypes; ``"floating"`` accepts any floating-point dtype.
    device : torch.device or str, optional
        Expected device (its type and, where given, its index).
    finite : bool
        Refuse NaN and infinite entries.

    >>> import torch
    >>> check_tensor(torch.zeros(2, 3), "y", shape=(None, 3)).shape
    torch.Size([2, 3])
    >>> check_tensor(torch.zeros(2, 3), "y", dim=1)
    Traceback (most recent call last):
        ...
    ValueError: y must have 1 dimension(s), got shape (2, 3)
    """
    import torch

    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if shape is not None:
        shape = tuple(shape)
        if x.dim() != len(shape) or any(s is not None and s != t for s, t in zip(shape, x.shape)):
            want = "(" + ", ".join("*" if s is None else str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"
            raise ValueError(f"{name} must have shape {want}, got shape {tuple(x.shape)}")
    if dim is not None:
        dims = (dim,) if isinstance(dim, int) else tuple(dim)
        if x.dim() not in dims:
            raise ValueError(f"{name} must have {' or '.join(map(str, dims))} dimension(s), got shape {tuple(x.shape)}")
    if dtype is not None:
        if dtype == "floating":
            if not x.dtype.is_floating_point:
                raise ValueError(f"{name} must have a floating-point dtype, got {x.dtype}")
        else:
            dtypes = (dtype,) if isinstance(dtype, torch.dtype) else tuple(dtype)
            if x.dtype not in dtypes:
                raise ValueError(f"{name} must have dtype {' or '.join(map(str, dtypes))}, got {x.dtype}")
    if device is not None:
        want = torch.device(device)
        if x.device.type != want.type or (want.index is not None and x.device.index != want.index):
            raise ValueError(f"{name} must be on device {want}, got {x.device}")
    if finite and not bool(torch.isfinite(x).all()):
        raise ValueError(f"{name} must be finite (it holds NaN or inf)")
    return x


def check_same_device(name_a: str, a, name_b: str, b) -> None:
    """Refuse two tensors on different devices, naming both.

    >>> import torch
    >>> check_same_device("x", torch.zeros(1), "y", torch.zeros(1))
    """
    if a.device != b.device:
        raise ValueError(f"{name_a} and {name_b} must be on the same device, got {a.device} and {b.device}")
