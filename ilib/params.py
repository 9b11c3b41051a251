"""Legacy notebook parameters: name-based validation for notebooks not yet on :class:`ilib.Profile`.

Notebooks on the harness declare their parameters in a :class:`ilib.profile.Profile`;
this module serves the notebooks that have not moved yet and goes with the last of them.

A notebook's papermill ``parameters`` cell declares ``profile``, ``seed`` and
its tunable parameters with default ``None``. :func:`resolve` fills every
``None`` from the chosen profile (``"smoke"``: seconds, for tests; ``"paper"``:
the real figure) and checks the result with :func:`check`. ``run_all.py`` calls
:func:`check` on user-given values before it starts a kernel.

Validation is by name, so every notebook gets the same rules:

* counts (``m``, ``n``, ``k``, ``d``, ``trials``, ``restarts``, ``steps``,
  ``depth``, ``width``, ``batch`` and names starting ``n_`` or ``num_``, or
  ending ``_trials``, ``_steps``, ``_restarts``) must be positive integers;
* levels (names containing ``noise``, ``sigma``, ``std``, ``lam``, ``snr`` is exempt)
  must be non-negative numbers; ``lr`` and names ending ``_lr`` must be positive;
* ``*_values`` and ``*_list`` hold lists checked element by element with the
  rule of their stem (``m_values`` holds counts);
* relations: ``k <= n`` (or every ``k`` in ``k_values`` at most ``n``).
"""

from __future__ import annotations

import numbers
import re
from typing import Any, Mapping

PROFILES = ("smoke", "paper")

_COUNT = re.compile(
    r"^(m|n|k|d|trials|restarts|steps|depth|width|widths|batch|layers|epochs|samples|"
    r"(n|num)_\w+|\w+_(trials|steps|restarts|samples|layers|width|epochs))$"
)
_LEVEL = re.compile(r"(noise|sigma|std|lam|lambda|tol|radius|penalty)")
_RATE = re.compile(r"^(lr|\w+_lr)$")
_LIST_SUFFIX = re.compile(r"^(?P<stem>\w+?)(_values|_list)$")


from .profile import ParameterError  # noqa: E402  (one error type for both ways of declaring parameters)


def _is_int(v: Any) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


def _check_scalar(name: str, stem: str, v: Any) -> None:
    if v is None:
        return
    if _COUNT.match(stem):
        if not _is_int(v) or v < 1:
            raise ParameterError(f"parameter {name!r} must be a positive integer, got {v!r}")
    elif _RATE.match(stem):
        if not _is_number(v) or not v > 0:
            raise ParameterError(f"parameter {name!r} must be a positive number, got {v!r}")
    elif _LEVEL.search(stem) and "snr" not in stem:
        if not _is_number(v) or v < 0 or v != v:
            raise ParameterError(f"parameter {name!r} must be a non-negative number, got {v!r}")


def check(params: Mapping[str, Any]) -> None:
    """Raise :class:`ParameterError` naming the first bad parameter in ``params``."""
    for name, v in params.items():
        if name == "profile":
            if v is not None and v not in PROFILES:
                raise ParameterError(f"parameter 'profile' must be one of {PROFILES}, got {v!r}")
            continue
        if name == "seed":
            if not _is_int(v) or v < 0:
                raise ParameterError(f"parameter 'seed' must be a non-negative integer, got {v!r}")
            continue
        m = _LIST_SUFFIX.match(name)
        if m:
            if v is None:
                continue
            if not isinstance(v, (list, tuple)) or len(v) == 0:
                raise ParameterError(f"parameter {name!r} must be a non-empty list, got {v!r}")
            for item in v:
                try:
                    _check_scalar(name, m.group("stem"), item)
                except ParameterError as exc:
                    raise ParameterError(f"{exc} (an element of {name!r})") from None
            continue
        if name == "widths" and v is not None:
            if not isinstance(v, (list, tuple)) or not all(_is_int(w) and w >= 1 for w in v):
                raise ParameterError(f"parameter 'widths' must be a list of positive integers, got {v!r}")
            continue
        _check_scalar(name, name, v)
    n = params.get("n")
    if _is_int(n):
        ks = [params.get("k")] + list(params.get("k_values") or [])
        for k in ks:
            if _is_int(k) and k > n:
                raise ParameterError(f"parameter 'k' must be at most n={n}, got k={k}")
        ms = [params.get("m")] + list(params.get("m_values") or [])
        del ms  # m > n is allowed (oversampling)


def resolve(profile: str, profiles: Mapping[str, Mapping[str, Any]], **given: Any) -> dict:
    """Fill the ``None`` parameters from ``profiles[profile]`` and validate.

    Parameters
    ----------
    profile : {"smoke", "paper"}
    profiles : dict
        ``{"smoke": {...}, "paper": {...}}``, each giving every tunable parameter.
    **given :
        The notebook's parameters as papermill set them; ``None`` means "take
        the profile's value".

    Returns
    -------
    dict
        The resolved parameters, with ``profile`` included.
    """
    if profile not in PROFILES:
        raise ParameterError(f"parameter 'profile' must be one of {PROFILES}, got {profile!r}")
    missing = set(PROFILES) - set(profiles)
    if missing:
        raise ParameterError(f"profiles must define {sorted(missing)}")
    base = dict(profiles[profile])
    unknown = sorted(set(given) - set(base) - {"seed"})
    if unknown:
        raise ParameterError(f"parameter(s) {unknown} are not defined by the {profile!r} profile")
    out = {"profile": profile}
    for name, default in base.items():
        v = given.get(name)
        out[name] = default if v is None else v
    if "seed" in given:
        out["seed"] = given["seed"]
    check(out)
    return out
