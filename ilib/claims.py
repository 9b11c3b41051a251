r"""Claims declared before the run: statement, source, kind, prediction, and a rule fixed in code.

A claim is what the theory scoreboard reports. It is declared in the
notebook's experiment module, never in the notebook, with

* ``statement``: what the paper (or the notebook) says, in words;
* ``source``: paper and theorem, lemma or figure number;
* ``kind``: ``"theorem"`` (a published statement the data could refute),
  ``"sanity"`` (an identity or implementation check that holds by construction)
  or ``"finding"`` (what the notebook observes beyond the papers);
* ``predict``: a function of the result's *parameters* giving the prediction
  from theory alone (a number, or an interval ``(lo, hi)``);
* ``measure``: a function of the result giving an :class:`Estimate`, the
  measured value with an interval from the run's own finite-size error
  (binomial, Student-t or bootstrap; exact values have a zero-width interval);
* ``rule``: one of the rules below, which compares the two.

Rules use the estimate's interval as the tolerance, so a claim agrees unless
the data show, at the interval's level, that it does not:

=====================  ================================================================
``Covers(atol, rtol)``  the interval, widened by ``atol + rtol |p|``, contains the point ``p``
``Overlaps()``          the interval meets the predicted interval ``[a, b]``
``AtLeast()``           the interval's upper end is at least ``p`` (not significantly below)
``AtMost()``            the interval's lower end is at most ``p`` (not significantly above)
``Above()``             the interval's lower end exceeds ``p`` (significantly above)
``Below()``             the interval's upper end is below ``p`` (significantly below)
``Inside()``            the whole interval lies in ``[a, b]``
=====================  ================================================================

Changing a claim's rule is a code change with its reason in the commit
message, never a response to one run.

Examples
--------
>>> c = Claim("half", kind="sanity", source="-", statement="a fair coin lands heads half the time",
...           predict=lambda r: 0.5, measure=lambda r: Estimate.binomial(r["heads"], r["n"]), rule=Covers())
>>> c.evaluate({"heads": 52, "n": 100})["agrees"]
True
>>> c.evaluate({"heads": 80, "n": 100})["agrees"]
False
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Optional

import numpy as np

KINDS = ("theorem", "sanity", "finding")


@dataclass(frozen=True)
class Estimate:
    """A measured value with an interval from the run's finite-size error.

    ``lo``/``hi`` bound the value at the level stated in ``method`` (for
    example "Wilson 95%"); an exact quantity has ``lo == hi == value``.
    ``n`` is the number of samples behind it.
    """

    value: float
    lo: float
    hi: float
    method: str = "exact"
    n: Optional[int] = None

    def __post_init__(self):
        object.__setattr__(self, "value", float(self.value))
        object.__setattr__(self, "lo", float(self.lo))
        object.__setattr__(self, "hi", float(self.hi))
        if not (self.lo <= self.hi or math.isnan(self.lo) or math.isnan(self.hi)):
            raise ValueError(f"Estimate interval must have lo <= hi, got [{self.lo}, {self.hi}]")

    @classmethod
    def exact(cls, value: float, n: Optional[int] = None) -> "Estimate":
        """A value known without sampling error (an identity, a count, a maximum over all trials)."""
        return cls(value, value, value, "exact", n)

    @classmethod
    def binomial(cls, successes, trials, *, ci: float = 0.95) -> "Estimate":
        r"""A success rate with its Wilson score interval (Wilson 1927).

        .. math::

            \frac{\hat p + \frac{z^2}{2n} \pm z\sqrt{\frac{\hat p(1-\hat p)}{n} + \frac{z^2}{4n^2}}}{1 + \frac{z^2}{n}}
        """
        s, n = float(np.sum(successes)), float(np.sum(trials)) if np.ndim(trials) else float(trials)
        if n <= 0:
            raise ValueError(f"trials must be positive, got {trials!r}")
        lo, hi = wilson(s, n, ci)
        return cls(s / n, lo, hi, f"Wilson {ci:.0%}", int(n))

    @classmethod
    def mean(cls, samples, *, ci: float = 0.95) -> "Estimate":
        """The mean of ``samples`` with a Student-t interval (NaNs dropped)."""
        from scipy import stats

        a = np.asarray(samples, dtype=float).ravel()
        a = a[np.isfinite(a)]
        if a.size == 0:
            return cls(float("nan"), float("nan"), float("nan"), f"t {ci:.0%}", 0)
        m = float(a.mean())
        if a.size < 2:
            return cls(m, -math.inf, math.inf, f"t {ci:.0%}", int(a.size))
        se = float(a.std(ddof=1) / math.sqrt(a.size))
        h = float(stats.t.ppf(0.5 + ci / 2, a.size - 1)) * se
        return cls(m, m - h, m + h, f"t {ci:.0%}", int(a.size))

    @classmethod
    def interval(cls, value: float, lo: float, hi: float, method: str, n: Optional[int] = None) -> "Estimate":
        return cls(value, lo, hi, method, n)

    def as_dict(self) -> dict:
        return {"value": self.value, "lo": self.lo, "hi": self.hi, "method": self.method, "n": self.n}


def wilson(successes: float, trials: float, ci: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion, exactly 0 (1) at zero (all) successes."""
    from .stats import binomial_interval

    return binomial_interval(successes, trials, ci=ci, method="wilson")


# --------------------------------------------------------------------------- rules
class Rule:
    """Compares a prediction with an :class:`Estimate`; ``describe`` is shown on the scoreboard."""

    def __call__(self, predicted, est: Estimate) -> bool:  # pragma: no cover - abstract
        raise NotImplementedError

    def describe(self) -> str:  # pragma: no cover - abstract
        raise NotImplementedError


def _interval(predicted) -> tuple[float, float]:
    a, b = predicted
    return float(a), float(b)


@dataclass(frozen=True)
class Covers(Rule):
    """The estimate's interval, widened by ``atol + rtol * |p|``, contains the predicted point ``p``."""

    atol: float = 0.0
    rtol: float = 0.0

    def __call__(self, predicted, est):
        p = float(predicted)
        slack = self.atol + self.rtol * abs(p)
        return bool(est.lo - slack <= p <= est.hi + slack)

    def describe(self):
        extra = []
        if self.atol:
            extra.append(f"{self.atol:g}")
        if self.rtol:
            extra.append(f"{self.rtol:g}·|predicted|")
        return "measured interval" + (f" ± {' + '.join(extra)}" if extra else "") + " contains the prediction"


@dataclass(frozen=True)
class Overlaps(Rule):
    """The estimate's interval meets the predicted interval ``[a, b]``."""

    def __call__(self, predicted, est):
        a, b = _interval(predicted)
        return bool(est.hi >= a and est.lo <= b)

    def describe(self):
        return "measured interval meets the predicted interval"


@dataclass(frozen=True)
class Inside(Rule):
    """The whole estimate interval lies inside the predicted interval ``[a, b]``."""

    def __call__(self, predicted, est):
        a, b = _interval(predicted)
        return bool(est.lo >= a and est.hi <= b)

    def describe(self):
        return "measured interval lies inside the predicted interval"


@dataclass(frozen=True)
class AtLeast(Rule):
    """Not significantly below: the interval's upper end is at least the prediction."""

    def __call__(self, predicted, est):
        return bool(est.hi >= float(predicted))

    def describe(self):
        return "upper end of the measured interval >= prediction"


@dataclass(frozen=True)
class AtMost(Rule):
    """Not significantly above: the interval's lower end is at most the prediction."""

    def __call__(self, predicted, est):
        return bool(est.lo <= float(predicted))

    def describe(self):
        return "lower end of the measured interval <= prediction"


@dataclass(frozen=True)
class Above(Rule):
    """Significantly above: the interval's lower end exceeds the prediction."""

    def __call__(self, predicted, est):
        return bool(est.lo > float(predicted))

    def describe(self):
        return "lower end of the measured interval > prediction"


@dataclass(frozen=True)
class Below(Rule):
    """Significantly below: the interval's upper end is below the prediction."""

    def __call__(self, predicted, est):
        return bool(est.hi < float(predicted))

    def describe(self):
        return "upper end of the measured interval < prediction"


# --------------------------------------------------------------------------- claims
@dataclass(frozen=True)
class Claim:
    """A claim declared before the run (see the module docstring).

    ``predict(result)`` must use only the result's parameters (sizes, k, n, ...)
    and theory; ``measure(result)`` returns an :class:`Estimate`, or ``None``
    when the run holds no data for the claim (recorded as "n/a").
    ``detail(result)``, optional, adds values shown beside the verdict.
    """

    id: str
    kind: str
    source: str
    statement: str
    predict: Callable[[Any], Any]
    measure: Callable[[Any], Optional[Estimate]]
    rule: Rule
    detail: Optional[Callable[[Any], dict]] = None
    note: str = ""

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"claim {self.id!r}: kind must be one of {KINDS}, got {self.kind!r}")
        if not self.id or not self.id.replace("_", "").isalnum():
            raise ValueError(f"claim id must be an identifier, got {self.id!r}")
        for name in ("source", "statement"):
            if not getattr(self, name).strip():
                raise ValueError(f"claim {self.id!r} needs a {name}")
        if not isinstance(self.rule, Rule):
            raise TypeError(f"claim {self.id!r}: rule must be an ilib.claims.Rule, got {self.rule!r}")

    def evaluate(self, result: Any, case: Optional[str] = None) -> dict:
        """The verdict of this claim on ``result``: a JSON-ready dict."""
        from .record import to_jsonable

        predicted = self.predict(result)
        est = self.measure(result)
        v = {
            "id": self.id,
            "case": case,
            "kind": self.kind,
            "source": self.source,
            "claim": self.statement + (f" ({case})" if case else ""),
            "rule": self.rule.describe(),
            "predicted": to_jsonable(predicted),
        }
        if est is None:
            v.update(measured=None, interval=None, method=None, agrees=False, status="n/a")
        else:
            agrees = bool(self.rule(predicted, est)) if math.isfinite(est.value) else False
            v.update(measured=to_jsonable(est.value), interval=to_jsonable([est.lo, est.hi]),
                     method=est.method, n=est.n, agrees=agrees, status="agrees" if agrees else "disagrees")
        if self.detail is not None:
            v["detail"] = to_jsonable(self.detail(result))
        return v


def declared(module) -> list[Claim]:
    """Every :class:`Claim` defined at the top level of ``module``, in definition order."""
    return [v for v in vars(module).values() if isinstance(v, Claim)]


__all__ = ["KINDS", "Estimate", "wilson", "Rule", "Covers", "Overlaps", "Inside", "AtLeast", "AtMost", "Above",
           "Below", "Claim", "declared"]
