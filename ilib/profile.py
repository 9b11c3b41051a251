"""Notebook parameters declared once: a frozen :class:`Profile` per experiment.

Each notebook's experiment module (``ilib/experiments/<topic>.py``) declares
its parameters in one place, a frozen dataclass deriving from :class:`Profile`,
one field per parameter with its type, its value in each profile, its
validity rule and a one-line description::

    @dataclass(frozen=True)
    class Profile(ilib.Profile):
        m_values: tuple[int, ...] = param(smoke=(2, 4), paper=(2, 4, 8, 16), lo=1,
                                          doc="numbers of measurements")
        noise: float = param(smoke=0.1, paper=0.1, lo=0, doc="noise level")

        def relations(self):
            self.require(max(self.m_values) <= 10 * self.n, "m_values", "must be at most 10 n")

:meth:`Profile.resolve` takes the profile's values, applies the user's
overrides and validates every value, raising :class:`ParameterError` with the
parameter's name. The runner calls it before a kernel starts; the notebook's
:func:`ilib.notebook.start` calls it again inside the kernel.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import typing
from dataclasses import dataclass
from typing import Any, Mapping

PROFILES = ("smoke", "paper")
SEED_MAX = 2**63 - 1


class ParameterError(ValueError):
    """A notebook parameter is unknown or has a bad value; the message names it."""


@dataclass(frozen=True)
class ParamSpec:
    """What :func:`param` declares for one field (kept in the field's metadata)."""

    smoke: Any
    paper: Any
    doc: str
    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    hi_open: bool = False
    choices: tuple | None = None
    allow_none: bool = False

    def bounds_text(self) -> str:
        parts = []
        if self.lo is not None:
            parts.append(f"{'>' if self.lo_open else '>='} {self.lo:g}")
        if self.hi is not None:
            parts.append(f"{'<' if self.hi_open else '<='} {self.hi:g}")
        return " and ".join(parts)


def param(*, smoke: Any, paper: Any, doc: str, lo: float | None = None, hi: float | None = None,
          lo_open: bool = False, hi_open: bool = False, choices: tuple | None = None,
          allow_none: bool = False) -> Any:
    """Declare one notebook parameter: its value in each profile, its bounds and its description.

    Parameters
    ----------
    smoke, paper :
        The value in the ``smoke`` profile (seconds, for tests) and in the
        ``paper`` profile (the real figure). Lists are stored as tuples.
    doc : str
        One line: what the parameter is, shown by ``run_all.py --list``.
    lo, hi : float, optional
        Bounds, inclusive unless ``lo_open`` / ``hi_open``; for a tuple they
        apply to every element.
    choices : tuple, optional
        The allowed values (for strings).
    allow_none : bool
        ``None`` is a valid value (otherwise ``None`` means "the profile's value").
    """
    spec = ParamSpec(smoke=_freeze(smoke), paper=_freeze(paper), doc=doc, lo=lo, hi=hi, lo_open=lo_open,
                     hi_open=hi_open, choices=None if choices is None else tuple(choices), allow_none=allow_none)
    return dataclasses.field(default=spec.paper, metadata={"ilib": spec})


def _freeze(v: Any) -> Any:
    if isinstance(v, list):
        return tuple(_freeze(x) for x in v)
    return v


def _is_int(v: Any) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def _is_real(v: Any) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


def _type_name(tp) -> str:
    origin = typing.get_origin(tp)
    if origin is tuple:
        return f"a non-empty list of {_type_name(typing.get_args(tp)[0])}s"
    return {int: "integer", float: "number", bool: "boolean", str: "string"}.get(tp, getattr(tp, "__name__", str(tp)))


def _coerce_scalar(name: str, tp, spec: ParamSpec, v: Any, *, element: bool = False) -> Any:
    where = f"parameter {name!r}" + (" (an element)" if element else "")
    if tp is bool:
        if not isinstance(v, bool):
            raise ParameterError(f"{where} must be True or False, got {v!r}")
        return v
    if tp is int:
        if not _is_int(v):
            raise ParameterError(f"{where} must be an integer, got {v!r}")
        v = int(v)
    elif tp is float:
        if not _is_real(v):
            raise ParameterError(f"{where} must be a number, got {v!r}")
        v = float(v)
        if not math.isfinite(v):
            raise ParameterError(f"{where} must be finite, got {v!r}")
    elif tp is str:
        if not isinstance(v, str):
            raise ParameterError(f"{where} must be a string, got {v!r}")
    else:  # pragma: no cover - a Profile declaring an unsupported type is a programming error
        raise TypeError(f"parameter {name!r} has unsupported type {tp!r}")
    if spec.choices is not None and v not in spec.choices:
        raise ParameterError(f"{where} must be one of {list(spec.choices)}, got {v!r}")
    if tp in (int, float):
        bad = (spec.lo is not None and (v <= spec.lo if spec.lo_open else v < spec.lo)) or (
            spec.hi is not None and (v >= spec.hi if spec.hi_open else v > spec.hi))
        if bad:
            raise ParameterError(f"{where} must be {spec.bounds_text()}, got {v!r}")
    return v


def coerce(name: str, tp, spec: ParamSpec, v: Any) -> Any:
    """Check ``v`` against the declared type and rule of parameter ``name``; return it normalised."""
    if v is None:
        if spec.allow_none:
            return None
        raise ParameterError(f"parameter {name!r} must be {_type_name(tp)}, got None")
    if typing.get_origin(tp) is tuple:
        (elem,) = [a for a in typing.get_args(tp) if a is not Ellipsis]
        if isinstance(v, (str, bytes)) or not isinstance(v, (list, tuple)):
            raise ParameterError(f"parameter {name!r} must be {_type_name(tp)}, got {v!r}")
        if len(v) == 0:
            raise ParameterError(f"parameter {name!r} must be a non-empty list, got {v!r}")
        return tuple(_coerce_scalar(name, elem, spec, x, element=True) for x in v)
    return _coerce_scalar(name, tp, spec, v)


@dataclass(frozen=True)
class Profile:
    """Base class of every experiment's parameters (see the module docstring).

    Subclasses are frozen dataclasses whose fields are all declared with
    :func:`param`. ``seed`` and the profile's name are not fields: they travel
    beside the parameters (:func:`ilib.notebook.start`).
    """

    # ------------------------------------------------------------------ schema
    @classmethod
    def specs(cls) -> dict[str, tuple[Any, ParamSpec]]:
        """``{name: (type, ParamSpec)}`` for every parameter, in declaration order."""
        hints = typing.get_type_hints(cls)
        out = {}
        for f in dataclasses.fields(cls):
            spec = f.metadata.get("ilib")
            if spec is None:
                raise TypeError(f"{cls.__name__}.{f.name} must be declared with ilib.param(...)")
            out[f.name] = (hints[f.name], spec)
        return out

    @classmethod
    def names(cls) -> list[str]:
        return list(cls.specs())

    @classmethod
    def values(cls, profile: str) -> dict[str, Any]:
        """The declared values of ``profile`` (``"smoke"`` or ``"paper"``)."""
        check_profile(profile)
        return {name: getattr(spec, profile) for name, (_, spec) in cls.specs().items()}

    # ------------------------------------------------------------------ resolution
    @classmethod
    def resolve(cls, profile: str, overrides: Mapping[str, Any] | None = None) -> "Profile":
        """The profile's values with ``overrides`` applied, validated.

        ``None`` in ``overrides`` means "the profile's value" (the notebook's
        parameters cell holds ``None`` for every parameter). Unknown names and
        bad values raise :class:`ParameterError` naming the parameter.
        """
        check_profile(profile)
        overrides = dict(overrides or {})
        specs = cls.specs()
        unknown = sorted(set(overrides) - set(specs))
        if unknown:
            raise ParameterError(
                f"parameter(s) {unknown} are not parameters of this notebook; it has: {', '.join(specs)}")
        kwargs = {}
        for name, (tp, spec) in specs.items():
            v = overrides.get(name)
            v = getattr(spec, profile) if v is None else v
            kwargs[name] = coerce(name, tp, spec, v)
        obj = cls(**kwargs)
        obj.relations()
        return obj

    def relations(self) -> None:
        """Checks between parameters (``k <= n``, ...); override and call :meth:`require`."""

    def memory_bytes(self) -> int | None:
        """An estimate of the peak memory a run needs (override where sizes can be large); None: unknown."""
        return None

    @staticmethod
    def require(condition: bool, name: str, message: str) -> None:
        """Raise :class:`ParameterError` naming ``name`` unless ``condition``."""
        if not condition:
            raise ParameterError(f"parameter {name!r} {message}")

    def as_dict(self) -> dict[str, Any]:
        return {f.name: (list(v) if isinstance(v := getattr(self, f.name), tuple) else v)
                for f in dataclasses.fields(self)}

    def replace(self, **changes: Any) -> "Profile":
        """A copy with some values changed, validated like :meth:`resolve`."""
        specs = self.specs()
        unknown = sorted(set(changes) - set(specs))
        if unknown:
            raise ParameterError(f"parameter(s) {unknown} are not parameters of this notebook")
        kwargs = self.as_dict()
        for name, v in changes.items():
            tp, spec = specs[name]
            kwargs[name] = coerce(name, tp, spec, v)
        obj = type(self)(**{k: _freeze(v) for k, v in kwargs.items()})
        obj.relations()
        return obj


def check_profile(profile: Any) -> str:
    if profile not in PROFILES:
        raise ParameterError(f"parameter 'profile' must be one of {list(PROFILES)}, got {profile!r}")
    return profile


def check_seed(seed: Any) -> int:
    if not _is_int(seed) or not 0 <= seed <= SEED_MAX:
        raise ParameterError(f"parameter 'seed' must be an integer in [0, 2**63 - 1], got {seed!r}")
    return int(seed)
