r"""Statistics every notebook shares: crossings and thresholds, power-law fits, intervals, bootstrap.

NumPy and SciPy only (no torch). One convention for each question:

* :func:`crossing` -- the first ``x`` at which a sampled curve reaches a level, interpolated between the
  two neighbouring points (linearly in ``x`` or in :math:`\log x`); NaN when the level is never reached,
  ``x[0]`` when the first point already reaches it; NaN samples are skipped.
* :func:`logistic_threshold` -- the ``x`` at which a fitted logistic success probability equals a level,
  from success counts, by Firth's penalised likelihood (finite under complete separation) with a profile
  penalised-likelihood interval.
* :func:`loglog_fit`, :func:`linear_fit` -- least-squares lines (in log-log or linear coordinates) with a
  Student-t interval on the slope.
* :func:`binomial_interval` (Wilson or Clopper--Pearson), :func:`mean_se`, :func:`bootstrap` (percentile).

Randomness (only :func:`bootstrap` needs it) comes from an ``rng: numpy.random.Generator`` argument; this
module never touches a global random state.

References
----------
.. [Firth93] D. Firth, "Bias reduction of maximum likelihood estimates", Biometrika 80(1), 27-38, 1993.
.. [HS02] G. Heinze and M. Schemper, "A solution to the problem of separation in logistic regression",
   Statistics in Medicine 21(16), 2409-2419, 2002.
.. [VC88] D. J. Venzon and S. H. Moolgavkar, "A method for computing profile-likelihood-based confidence
   intervals", Applied Statistics 37(1), 87-94, 1988.
.. [Wilson27] E. B. Wilson, "Probable inference, the law of succession, and statistical inference",
   JASA 22(158), 209-212, 1927.
.. [CP34] C. J. Clopper and E. S. Pearson, "The use of confidence or fiducial limits illustrated in the
   case of the binomial", Biometrika 26(4), 404-413, 1934.
.. [BCD01] L. D. Brown, T. T. Cai and A. DasGupta, "Interval estimation for a binomial proportion",
   Statistical Science 16(2), 101-133, 2001.
.. [ET93] B. Efron and R. J. Tibshirani, *An Introduction to the Bootstrap*, Chapman & Hall, 1993.
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy import special

from ._checks import check_choice, check_finite, check_in_range, check_positive_int

__all__ = [
    "crossing",
    "ThresholdFit",
    "logistic_threshold",
    "SlopeFit",
    "loglog_fit",
    "linear_fit",
    "binomial_interval",
    "mean_se",
    "bootstrap",
]


def _check_ci(ci) -> float:
    return check_in_range(ci, "ci", 0.0, 1.0, lo_open=True, hi_open=True)


# ============================================================================================== crossing
def crossing(x, y, level: float = 0.5, *, interp: str = "linear", direction: str = "up") -> float | np.ndarray:
    r"""The first ``x`` at which the sampled curve ``y(x)`` reaches ``level``.

    A point *reaches* the level when :math:`y_j \ge` ``level`` (``direction="up"``, a rising curve such as
    a success rate) or :math:`y_j \le` ``level`` (``direction="down"``, a falling one such as an error).
    With :math:`j` the first point that reaches it and :math:`i` the point before it (which does not),
    the crossing is interpolated between them, linearly in :math:`x` (``interp="linear"``)

    .. math::

        x^\star = x_i + \frac{\ell - y_i}{y_j - y_i}\,(x_j - x_i),

    or linearly in :math:`\log x` (``interp="log"``):
    :math:`\log x^\star = \log x_i + \frac{\ell - y_i}{y_j - y_i}(\log x_j - \log x_i)`.

    Conventions (the only ones in ``ilib``): the result is **NaN when the level is never reached** and
    **x[0] when the first point already reaches it** (a censored value: the crossing lies at or before
    ``x[0]``). NaN entries of ``y`` are skipped: the interpolation uses the nearest non-NaN neighbours,
    and "the first point" means the first non-NaN one.

    Parameters
    ----------
    x : (N,) array_like
        Strictly increasing, finite sample positions (positive for ``interp="log"``).
    y : (..., N) array_like
        Curve values; NaN allowed (skipped), infinities refused. Leading axes are independent curves.
    level : float
        The level :math:`\ell`.
    interp : {"linear", "log"}
        Interpolate in :math:`x` or in :math:`\log x`.
    direction : {"up", "down"}
        Reach the level from below (``y >= level``) or from above (``y <= level``).

    Returns
    -------
    float or ndarray of shape (...)
        A float for a single curve (``y`` 1-d), otherwise an array of the leading shape of ``y``.

    Examples
    --------
    >>> crossing([1, 2, 3, 4], [0.0, 0.2, 0.6, 1.0])
    2.75
    >>> crossing([1, 2, 3], [0.9, 0.7, 0.3], direction="down")
    2.5
    >>> round(crossing([10, 100], [0.0, 1.0], interp="log"), 6)  # the geometric mean
    31.622777
    >>> crossing([1, 2], [0.1, 0.2]), crossing([1, 2], [0.6, 1.0])
    (nan, 1.0)
    >>> crossing([1, 2, 3], [[0.0, 1.0, 1.0], [0.0, np.nan, 1.0]])
    array([1.5, 2. ])
    """
    xs = np.asarray(x, dtype=float)
    if xs.ndim != 1 or xs.size == 0:
        raise ValueError(f"x must be a non-empty 1-d array, got shape {xs.shape}")
    if not np.all(np.isfinite(xs)):
        raise ValueError("x must be finite")
    if np.any(np.diff(xs) <= 0):
        raise ValueError("x must be strictly increasing")
    ys = np.asarray(y, dtype=float)
    if ys.ndim == 0 or ys.shape[-1] != xs.size:
        raise ValueError(f"y must have shape (..., {xs.size}) to match x, got {ys.shape}")
    if np.any(np.isinf(ys)):
        raise ValueError("y must not hold infinities (NaN entries are skipped)")
    level = check_finite(level, "level")
    check_choice(interp, "interp", ("linear", "log"))
    check_choice(direction, "direction", ("up", "down"))
    if interp == "log":
        if np.any(xs <= 0):
            raise ValueError('x must be positive for interp="log"')
        pos = np.log(xs)
    else:
        pos = xs

    lead = ys.shape[:-1]
    Y = ys.reshape(-1, xs.size)
    valid = ~np.isnan(Y)
    with np.errstate(invalid="ignore"):
        reached = valid & ((Y >= level) if direction == "up" else (Y <= level))
    hit = reached.any(axis=-1)
    j = reached.argmax(axis=-1)  # first point that reaches the level (0 where none: masked below)
    # the last non-NaN point before each position (-1 where none)
    last_valid = np.maximum.accumulate(np.where(valid, np.arange(xs.size), -1), axis=-1)
    before = np.concatenate([np.full((Y.shape[0], 1), -1), last_valid[:, :-1]], axis=-1)
    rows = np.arange(Y.shape[0])
    i = before[rows, j]
    first = i < 0
    ii = np.where(first, j, i)
    yi, yj = Y[rows, ii], Y[rows, j]
    with np.errstate(invalid="ignore", divide="ignore"):
        t = np.where(first, 1.0, (level - yi) / (yj - yi))
    p = pos[ii] + np.clip(t, 0.0, 1.0) * (pos[j] - pos[ii])
    out = np.exp(p) if interp == "log" else p
    out = np.clip(out, xs[ii], xs[j])  # no exp-log round-off outside the bracket; exactly x[j] when first
    out = np.where(hit, out, np.nan).reshape(lead)
    return float(out) if ys.ndim == 1 else out


# =================================================================================== logistic threshold
@dataclass(frozen=True)
class ThresholdFit:
    r"""A fitted logistic threshold: :math:`\Pr[\text{success} \mid x] = \sigma(\text{intercept} + \text{slope}\,u)`.

    ``u`` is ``x`` or :math:`\log x` (``log_x``), :math:`\sigma` the logistic function.

    Attributes
    ----------
    x_level : float
        The ``x`` at which the fitted probability equals ``level``; NaN, with ``lo`` and ``hi``, where
        the fitted slope vanishes (below :math:`10^{-9}` per standard deviation of ``u``: no trend, as
        for equal rates everywhere).
    lo, hi : float
        The ``ci`` confidence interval of ``x_level`` (``-inf``/``inf``, or ``0``/``inf`` on a log scale,
        where the data do not bound it on that side).
    slope, intercept : float
        Coefficients on the ``u`` scale.
    level, ci : float
        The probability level and the confidence level.
    method : str
        ``"firth-profile"``: Firth's penalised likelihood, profile penalised-likelihood interval.
    """

    x_level: float
    lo: float
    hi: float
    slope: float
    intercept: float
    level: float
    ci: float
    method: str

    def probability(self, x, *, log_x: bool = False):
        """The fitted success probability at ``x`` (pass the fit's ``log_x``)."""
        u = np.log(np.asarray(x, dtype=float)) if log_x else np.asarray(x, dtype=float)
        return special.expit(self.intercept + self.slope * u)


def _penalised_loglik(a: float, b: float, v: np.ndarray, k: np.ndarray, n: np.ndarray) -> float:
    """Binomial log-likelihood plus Firth's penalty :math:`\\tfrac12\\log\\det I(\\beta)` at ``(a, b)``."""
    eta = a + b * v
    ll = float(np.sum(k * special.log_expit(eta) + (n - k) * special.log_expit(-eta)))
    p = special.expit(eta)
    w = n * p * (1.0 - p)
    det = float(np.sum(w) * np.sum(w * v * v) - np.sum(w * v) ** 2)
    return ll + 0.5 * math.log(det) if det > 0 else -math.inf


def _firth(v: np.ndarray, k: np.ndarray, n: np.ndarray, *, max_iter: int = 200, tol: float = 1e-10) -> np.ndarray:
    """Firth's penalised-likelihood estimate of ``(a, b)`` by modified Fisher scoring with step halving."""
    X = np.column_stack([np.ones_like(v), v])
    beta = np.zeros(2)
    pl = _penalised_loglik(beta[0], beta[1], v, k, n)
    for _ in range(max_iter):
        p = special.expit(X @ beta)
        w = n * p * (1.0 - p)
        info = X.T @ (w[:, None] * X)
        inv = np.linalg.inv(info)
        h = w * np.einsum("ij,jk,ik->i", X, inv, X)  # diagonal of the weighted hat matrix
        step = inv @ (X.T @ (k - n * p + h * (0.5 - p)))  # Firth's modified score [Firth93]
        t = 1.0
        while True:
            new = beta + t * step
            pl_new = _penalised_loglik(new[0], new[1], v, k, n)
            if pl_new >= pl - 1e-12 or t < 1e-10:
                break
            t /= 2
        beta, pl = new, pl_new
        if np.max(np.abs(t * step)) < tol:
            break
    return beta


def logistic_threshold(
    x, successes, trials, *, level: float = 0.5, log_x: bool = False, ci: float = 0.95
) -> ThresholdFit:
    r"""The ``x`` where a logistic fit of success counts crosses ``level``, with a confidence interval.

    Model: :math:`s_i \sim \mathrm{Bin}(n_i, \pi_i)`, :math:`\pi_i = \sigma(\beta_0 + \beta_1 u_i)` with
    :math:`u = x` or :math:`u = \log x` (``log_x=True``). The threshold is

    .. math::

        u_\ell = \frac{\operatorname{logit}(\ell) - \beta_0}{\beta_1}, \qquad x_\ell = u_\ell
        \ \text{or}\ e^{u_\ell}.

    **Estimate.** :math:`\beta` maximises Firth's penalised log-likelihood [Firth93]_

    .. math::

        \ell^*(\beta) = \sum_i \big[s_i \log \pi_i + (n_i - s_i)\log(1-\pi_i)\big]
        + \tfrac12 \log\det I(\beta), \qquad I(\beta) = X^\top \operatorname{diag}(n_i\pi_i(1-\pi_i)) X,

    the Jeffreys-prior penalty, which keeps the estimate finite under complete separation (an all-0 then
    all-1 curve, where the ordinary maximum-likelihood slope is infinite) and removes the
    :math:`O(1/n)` bias of :math:`\hat\beta` [HS02]_.

    **Interval.** Profile penalised likelihood [HS02]_, [VC88]_: with the model reparametrised by
    :math:`(u_\ell, \beta_1)`, the interval is
    :math:`\{u : 2[\ell^*(\hat\beta) - \max_{\beta_1} \ell^*(u, \beta_1)] \le \chi^2_{1,\mathrm{ci}}\}`,
    found by root finding on each side of :math:`\hat u_\ell`. A side the data do not bound (the
    profile never rises above the :math:`\chi^2` quantile) is reported as ``-inf``/``inf`` (``0``/``inf``
    for ``log_x``). No randomness is involved.

    Parameters
    ----------
    x : (N,) array_like
        Design points (positive for ``log_x``); repeated points are allowed.
    successes, trials : (N,) array_like of int
        Counts, :math:`0 \le s_i \le n_i`. Points with zero trials carry no information and are dropped.
    level : float
        Probability level in (0, 1).
    log_x : bool
        Fit on :math:`\log x`.
    ci : float
        Confidence level in (0, 1).

    Returns
    -------
    ThresholdFit

    Examples
    --------
    >>> fit = logistic_threshold([1, 2, 3, 4, 5, 6], [0, 1, 4, 7, 9, 10], [10] * 6)
    >>> round(fit.x_level, 2), round(fit.lo, 2), round(fit.hi, 2)
    (3.4, 2.86, 3.93)
    >>> sep = logistic_threshold([1, 2, 3, 4], [0, 0, 5, 5], [5] * 4)  # completely separated
    >>> 2 < sep.x_level < 3, math.isfinite(sep.slope)
    (True, True)
    """
    from scipy import optimize

    xs = np.asarray(x, dtype=float)
    s = np.asarray(successes, dtype=float)
    nt = np.asarray(trials, dtype=float)
    if xs.ndim != 1 or s.shape != xs.shape or nt.shape != xs.shape:
        raise ValueError(f"x, successes and trials must be 1-d of one length, got {xs.shape}, {s.shape}, {nt.shape}")
    if not np.all(np.isfinite(xs)):
        raise ValueError("x must be finite")
    for name, arr in (("successes", s), ("trials", nt)):
        if not np.all(np.isfinite(arr)) or np.any(arr < 0) or np.any(arr != np.round(arr)):
            raise ValueError(f"{name} must hold non-negative integer counts")
    if np.any(s > nt):
        raise ValueError("successes must not exceed trials")
    level = check_in_range(level, "level", 0.0, 1.0, lo_open=True, hi_open=True)
    ci = _check_ci(ci)
    if log_x:
        if np.any(xs <= 0):
            raise ValueError("x must be positive for log_x=True")
        u = np.log(xs)
    else:
        u = xs
    keep = nt > 0
    u, s, nt = u[keep], s[keep], nt[keep]
    if np.unique(u).size < 2:
        raise ValueError("need trials at two or more distinct x to fit a slope")

    # standardise u (the penalised estimate is equivariant under affine maps of the covariate)
    centre, scale = float(np.average(u, weights=nt)), float(np.std(np.unique(u)))
    v = (u - centre) / scale
    a, b = _firth(v, s, nt)
    target = float(special.logit(level))
    pl_hat = _penalised_loglik(a, b, v, s, nt)

    def to_x(t: float) -> float:
        uu = centre + scale * t
        if log_x:
            with np.errstate(over="ignore"):
                return float(np.exp(uu))
        return float(uu)

    slope, intercept = float(b / scale), float(a - b * centre / scale)
    if abs(b) < 1e-9:  # no trend (e.g. equal rates everywhere): the curve never crosses the level
        nan = float("nan")
        return ThresholdFit(nan, nan, nan, slope, intercept, level, ci, "firth-profile")
    theta_hat = (target - a) / b

    def profile(theta: float, start: float) -> tuple[float, float]:
        """max over b of the penalised log-likelihood with the curve through (theta, level)."""
        f = lambda bb: -_penalised_loglik(target - bb * theta, bb, v, s, nt)  # noqa: E731
        res = optimize.minimize_scalar(f, bracket=(start, start * 0.5 if start != 0 else 1.0))
        return -float(res.fun), float(res.x)

    q = float(special.chdtri(1, 1.0 - ci))  # chi-square(1) quantile at ci

    def endpoint(sign: float) -> float:
        # expand outwards from theta_hat until the deviance exceeds q, then bracket the root
        h = 0.25 * max(1.0, abs(theta_hat))
        inner, b_start = theta_hat, b
        while True:
            outer = theta_hat + sign * h
            pl_out, b_start = profile(outer, b_start)
            if 2 * (pl_hat - pl_out) >= q:
                break
            inner = outer
            h *= 2
            if h > 1e4 * max(1.0, abs(theta_hat)):
                return sign * math.inf
        g = lambda t: 2 * (pl_hat - profile(t, b_start)[0]) - q  # noqa: E731
        lo_t, hi_t = sorted((inner, outer))
        try:
            return optimize.brentq(g, lo_t, hi_t, xtol=1e-10 * max(1.0, abs(theta_hat)))
        except ValueError:  # a profile maximised from another start changed sign: keep the wider end
            return outer

    t_lo, t_hi = endpoint(-1.0), endpoint(+1.0)
    return ThresholdFit(
        x_level=to_x(theta_hat), lo=to_x(t_lo), hi=to_x(t_hi), slope=slope, intercept=intercept,
        level=level, ci=ci, method="firth-profile",
    )


# ============================================================================================ line fits
@dataclass(frozen=True)
class SlopeFit:
    r"""A least-squares line with a Student-t interval on its slope.

    For :func:`loglog_fit` (``loglog=True``) the line is :math:`\log y = \text{slope}\,\log x +
    \text{intercept}`, i.e. :math:`y = e^{\text{intercept}} x^{\text{slope}}`; for :func:`linear_fit`
    it is :math:`y = \text{slope}\,x + \text{intercept}`.

    Attributes
    ----------
    slope, intercept : float
    lo, hi : float
        The ``ci`` interval :math:`\text{slope} \pm t_{n-2,(1+\mathrm{ci})/2}\,\mathrm{se}` (NaN for n < 3).
    se : float
        Standard error of the slope (NaN for n < 3).
    r2 : float
        Coefficient of determination in the fitted coordinates (1 for an exact fit).
    n : int
        Number of points used.
    ci : float
        Confidence level.
    loglog : bool
        Whether the fit is in log-log coordinates.
    """

    slope: float
    intercept: float
    lo: float
    hi: float
    se: float
    r2: float
    n: int
    ci: float = 0.95
    loglog: bool = True

    def predict(self, x):
        """The fitted line at ``x``: :math:`e^{b} x^{a}` (log-log) or :math:`a x + b` (linear)."""
        xa = np.asarray(x, dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            out = np.exp(self.intercept) * xa**self.slope if self.loglog else self.slope * xa + self.intercept
        return float(out) if np.ndim(out) == 0 else out


def _line(u: np.ndarray, v: np.ndarray, ci: float, loglog: bool) -> SlopeFit:
    n = int(u.size)
    nan = float("nan")
    if n < 2 or np.ptp(u) == 0:
        return SlopeFit(nan, nan, nan, nan, nan, nan, n, ci, loglog)
    ub, vb = u.mean(), v.mean()
    sxx = float(np.sum((u - ub) ** 2))
    slope = float(np.sum((u - ub) * (v - vb)) / sxx)
    intercept = float(vb - slope * ub)
    resid = v - (intercept + slope * u)
    ss_res, ss_tot = float(np.sum(resid**2)), float(np.sum((v - vb) ** 2))
    r2 = 1.0 - ss_res / ss_tot if ss_tot > 0 else 1.0
    if n < 3:
        return SlopeFit(slope, intercept, nan, nan, nan, r2, n, ci, loglog)
    se = math.sqrt(ss_res / (n - 2) / sxx)
    half = float(special.stdtrit(n - 2, 0.5 + ci / 2)) * se
    return SlopeFit(slope, intercept, slope - half, slope + half, se, r2, n, ci, loglog)


def _pair(x, y) -> tuple[np.ndarray, np.ndarray]:
    xa, ya = np.asarray(x, dtype=float).ravel(), np.asarray(y, dtype=float).ravel()
    if xa.shape != ya.shape:
        raise ValueError(f"x and y must hold the same number of values, got {xa.size} and {ya.size}")
    return xa, ya


def loglog_fit(x, y, *, ci: float = 0.95) -> SlopeFit:
    r"""Least squares of :math:`\log y` on :math:`\log x`, with a Student-t interval on the slope.

    Fits :math:`\log y_i = a \log x_i + b + \varepsilon_i` by ordinary least squares. With :math:`n`
    points, residual sum of squares :math:`\mathrm{RSS}` and :math:`S_{xx} = \sum (\log x_i -
    \overline{\log x})^2`,

    .. math::

        \mathrm{se}(\hat a) = \sqrt{\frac{\mathrm{RSS}}{(n-2)\,S_{xx}}}, \qquad
        \hat a \pm t_{n-2,\,(1+\mathrm{ci})/2}\ \mathrm{se}(\hat a),

    exact for independent Gaussian errors in :math:`\log y`. **Points where x or y is nonpositive or
    not finite are dropped** (``n`` counts the points used). Fewer than two usable points (or a single
    distinct ``x``) give NaN coefficients; with exactly two, the interval and ``se`` are NaN.

    Examples
    --------
    >>> fit = loglog_fit([1, 2, 4, 8], [3, 12, 48, 192])
    >>> round(fit.slope, 12), round(float(np.exp(fit.intercept)), 12), round(fit.hi - fit.lo, 12), fit.n
    (2.0, 3.0, 0.0, 4)
    >>> round(fit.predict(16), 9)
    768.0
    >>> loglog_fit([1, 2, 0, 4], [1, 2, 5, np.nan]).n  # the zero and the NaN are dropped
    2
    """
    ci = _check_ci(ci)
    xa, ya = _pair(x, y)
    with np.errstate(invalid="ignore"):
        keep = np.isfinite(xa) & np.isfinite(ya) & (xa > 0) & (ya > 0)
    return _line(np.log(xa[keep]), np.log(ya[keep]), ci, True)


def linear_fit(x, y, *, ci: float = 0.95) -> SlopeFit:
    r"""Least squares of ``y`` on ``x`` with a Student-t interval on the slope (as :func:`loglog_fit`, unlogged).

    Points where x or y is not finite are dropped (``n`` counts the points used).

    Examples
    --------
    >>> fit = linear_fit([0, 1, 2, 3], [1, 3, 5, 7])
    >>> fit.slope, fit.intercept, fit.r2, float(fit.predict(4))
    (2.0, 1.0, 1.0, 9.0)
    """
    ci = _check_ci(ci)
    xa, ya = _pair(x, y)
    keep = np.isfinite(xa) & np.isfinite(ya)
    return _line(xa[keep], ya[keep], ci, False)


# ============================================================================ intervals, means, bootstrap
def binomial_interval(successes, trials, *, ci: float = 0.95, method: str = "wilson"):
    r"""Confidence interval for a binomial proportion :math:`p` from :math:`k` successes in :math:`n` trials.

    ``method="wilson"`` [Wilson27]_ (recommended by [BCD01]_), with :math:`\hat p = k/n` and
    :math:`z = \Phi^{-1}((1+\mathrm{ci})/2)`:

    .. math::

        \frac{\hat p + z^2/2n}{1 + z^2/n} \pm \frac{z}{1 + z^2/n}
        \sqrt{\frac{\hat p(1-\hat p)}{n} + \frac{z^2}{4n^2}}.

    ``method="clopper-pearson"`` [CP34]_ (exact, conservative): the :math:`\alpha/2` and
    :math:`1-\alpha/2` quantiles of :math:`\mathrm{Beta}(k, n-k+1)` and :math:`\mathrm{Beta}(k+1, n-k)`,
    with 0 for :math:`k = 0` and 1 for :math:`k = n`.

    Vectorised over broadcastable ``successes`` and ``trials``; returns ``(lo, hi)``, floats for scalar
    input. Zero trials give ``(nan, nan)``.

    Examples
    --------
    >>> lo, hi = binomial_interval(7, 10)
    >>> round(lo, 4), round(hi, 4)
    (0.3968, 0.8922)
    >>> lo, hi = binomial_interval([0, 10], 10, method="clopper-pearson")
    >>> lo.round(4).tolist(), hi.round(4).tolist()
    ([0.0, 0.6915], [0.3085, 1.0])
    """
    ci = _check_ci(ci)
    check_choice(method, "method", ("wilson", "clopper-pearson"))
    k, n = np.broadcast_arrays(np.asarray(successes, dtype=float), np.asarray(trials, dtype=float))
    if np.any(~np.isfinite(k) | ~np.isfinite(n)) or np.any(k < 0) or np.any(k > n):
        raise ValueError("successes must be finite counts with 0 <= successes <= trials")
    alpha = 1.0 - ci
    with np.errstate(invalid="ignore", divide="ignore"):
        if method == "wilson":
            z = float(special.ndtri(1.0 - alpha / 2))
            p = k / n
            denom = 1.0 + z * z / n
            centre = (p + z * z / (2 * n)) / denom
            half = z / denom * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
            lo, hi = np.clip(centre - half, 0.0, 1.0), np.clip(centre + half, 0.0, 1.0)
            lo, hi = np.where(k == 0, 0.0, lo), np.where(k == n, 1.0, hi)  # exact at the ends (no rounding residue)
        else:
            lo = np.where(k > 0, special.betaincinv(k, n - k + 1, alpha / 2), 0.0)
            hi = np.where(k < n, special.betaincinv(k + 1, n - k, 1 - alpha / 2), 1.0)
    lo, hi = np.where(n > 0, lo, np.nan), np.where(n > 0, hi, np.nan)
    if lo.ndim == 0:
        return float(lo), float(hi)
    return lo, hi


def mean_se(a, axis: int | tuple[int, ...] | None = -1):
    r"""Mean and standard error of the mean along ``axis``: :math:`(\bar a,\ s/\sqrt n)`, :math:`s` with ddof 1.

    NaN propagates; a single sample gives a NaN standard error. Returns floats for a scalar result.

    Examples
    --------
    >>> mean_se([1.0, 2.0, 3.0, 4.0])
    (2.5, 0.6454972243679028)
    >>> m, se = mean_se(np.ones((3, 5)), axis=1)
    >>> m.tolist(), se.tolist()
    ([1.0, 1.0, 1.0], [0.0, 0.0, 0.0])
    """
    arr = np.asarray(a, dtype=float)
    n = arr.size if axis is None else math.prod(arr.shape[ax] for ax in np.atleast_1d(axis))
    mean = arr.mean(axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        se = arr.std(axis=axis, ddof=1) / math.sqrt(n) if n > 1 else np.full_like(mean, np.nan)
    if np.ndim(mean) == 0:
        return float(mean), float(se)
    return mean, se


def _takes_axis(statistic: Callable) -> bool:
    try:
        return "axis" in inspect.signature(statistic).parameters
    except (TypeError, ValueError):  # builtins and ufuncs without a signature
        return False


def bootstrap(
    statistic: Callable,
    *samples,
    n_boot: int = 1000,
    ci: float = 0.95,
    rng: np.random.Generator,
    paired: bool = False,
    vectorized: bool | None = None,
):
    r"""Percentile bootstrap interval of ``statistic(*samples)`` [ET93]_.

    Each replicate resamples the **first axis** of every sample with replacement (independently per
    sample, or with shared indices when ``paired=True``, which needs samples of one length) and
    evaluates the statistic; the interval is the :math:`(1\mp\mathrm{ci})/2` quantiles of the
    ``n_boot`` replicates:

    .. math::

        \big[\hat\theta^*_{((1-\mathrm{ci})/2)},\ \hat\theta^*_{((1+\mathrm{ci})/2)}\big].

    ``statistic`` reduces along axis 0 and returns a scalar or an array. When it accepts an ``axis``
    keyword (``np.mean``, ``np.median``, ...; detected unless ``vectorized`` is given) it is called
    with ``axis=0`` on the data and all replicates are evaluated in one call with ``axis=1`` on arrays of
    shape ``(n_boot, n, ...)``; otherwise it is called once per replicate.

    Parameters
    ----------
    statistic : callable
    *samples : array_like
        One or more samples; resampled along their first axis.
    n_boot : int
        Number of replicates.
    ci : float
        Confidence level in (0, 1).
    rng : numpy.random.Generator
        The source of randomness (required; no global state is used).
    paired : bool
        Resample all samples with the same indices.
    vectorized : bool, optional
        Force (or forbid) the one-call evaluation with ``axis=1``.

    Returns
    -------
    (estimate, lo, hi)
        ``statistic(*samples)`` and the interval; floats for a scalar statistic.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> est, lo, hi = bootstrap(np.mean, rng.normal(1.0, 1.0, 400), rng=np.random.default_rng(1))
    >>> round(est, 2), lo < est < hi, round(hi - lo, 1)
    (0.96, True, 0.2)
    """
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    n_boot = check_positive_int(n_boot, "n_boot")
    ci = _check_ci(ci)
    if not samples:
        raise ValueError("bootstrap needs at least one sample")
    arrays = [np.asarray(s) for s in samples]
    for i, arr in enumerate(arrays):
        if arr.ndim == 0 or arr.shape[0] == 0:
            raise ValueError(f"samples[{i}] must have a non-empty first axis, got shape {arr.shape}")
    if paired:
        if len({arr.shape[0] for arr in arrays}) != 1:
            raise ValueError(f"paired=True needs samples of one length, got {[arr.shape[0] for arr in arrays]}")
        idx = rng.integers(0, arrays[0].shape[0], size=(n_boot, arrays[0].shape[0]))
        indices = [idx] * len(arrays)
    else:
        indices = [rng.integers(0, arr.shape[0], size=(n_boot, arr.shape[0])) for arr in arrays]
    if vectorized is None:
        vectorized = _takes_axis(statistic)
    estimate = np.asarray(statistic(*arrays, axis=0) if vectorized else statistic(*arrays), dtype=float)
    if vectorized:
        reps = np.asarray(statistic(*[arr[ix] for arr, ix in zip(arrays, indices)], axis=1), dtype=float)
    else:
        reps = np.stack([np.asarray(statistic(*[arr[ix[r]] for arr, ix in zip(arrays, indices)]), dtype=float) for r in range(n_boot)])
    lo, hi = np.quantile(reps, [(1 - ci) / 2, (1 + ci) / 2], axis=0)
    if estimate.ndim == 0:
        return float(estimate), float(lo), float(hi)
    return estimate, lo, hi
