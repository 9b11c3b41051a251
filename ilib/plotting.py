r"""Figure helpers the notebooks share (matplotlib and seaborn only).

Each helper draws on an ``Axes`` it is given and returns the artists it made, so a notebook keeps the
figure in view and a test can read back what was drawn. Importing this module changes no global
state (no style, no ``rcParams``, no backend); seaborn is imported only by :func:`palette`.

* :func:`band` -- a line at the median (or mean) of samples with a shaded band of quantiles (or of
  :math:`\pm k` standard errors) around it;
* :func:`mean_errorbar` -- means with :math:`\pm k` standard-error bars;
* :func:`log_ticks` -- a log axis labelled in plain numbers (``1, 2, 5, 10``), at given values or at
  1-2-5 steps, without crowded minor labels;
* :func:`grid_edges` -- cell edges around grid centres, for ``pcolormesh``;
* :func:`power_law` -- a guide line :math:`y = y_0 (x/x_0)^a` through a point;
* :func:`palette` -- the house palette (seaborn's ``"colorblind"``).

The numbers behind a band or an error bar come from :mod:`ilib.stats` (:func:`ilib.stats.mean_se`).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from . import stats
from ._checks import check_choice, check_nonneg, check_positive, check_positive_int, check_probability

__all__ = ["PALETTE", "palette", "band", "mean_errorbar", "log_ticks", "grid_edges", "power_law"]

#: the seaborn palette every notebook uses for categorical colours
PALETTE = "colorblind"


def palette(n: int, name: str = PALETTE) -> list[tuple[float, float, float]]:
    """``n`` colours of the house palette (seaborn's ``"colorblind"``, or ``name``) as RGB tuples.

    >>> len(palette(3)), palette(3)[0] == palette(5)[0]
    (3, True)
    """
    import seaborn as sns

    return [tuple(c) for c in sns.color_palette(name, check_positive_int(n, "n"))]


def _samples(x, samples, axis: int) -> tuple[np.ndarray, np.ndarray]:
    xs = np.asarray(x, dtype=float)
    s = np.moveaxis(np.asarray(samples, dtype=float), axis, -1)
    if s.ndim != 2 or s.shape[0] != xs.size:
        raise ValueError(f"samples must have shape (len(x)={xs.size}, trials) with trials along axis={axis}, got {np.shape(samples)}")
    return xs, s


def band(
    ax,
    x,
    samples,
    *,
    axis: int = -1,
    quantiles: Sequence[float] = (0.25, 0.5, 0.75),
    se: float | None = None,
    color=None,
    label: str | None = None,
    alpha: float = 0.2,
    **line_kw,
):
    r"""A line through the centre of ``samples`` at each ``x`` and a band around it.

    By default the line is the median and the band the inter-quartile range (``quantiles`` = (lower,
    centre, upper), NaN samples ignored). With ``se=k`` the line is the mean and the band
    :math:`\bar y \pm k\,\mathrm{se}` (:func:`ilib.stats.mean_se`).

    Parameters
    ----------
    ax : matplotlib Axes
    x : (N,) array_like
    samples : array_like
        Shape ``(N, trials)``, or trials along ``axis``.
    quantiles : (lower, centre, upper)
    se : float, optional
        Draw mean :math:`\pm` ``se`` standard errors instead of quantiles.
    color, label, alpha, **line_kw
        Passed to ``ax.plot`` (line) and ``ax.fill_between`` (band, same colour).

    Returns
    -------
    (line, fill)
        The ``Line2D`` and the ``fill_between`` collection.
    """
    xs, s = _samples(x, samples, axis)
    if se is None:
        q = [check_probability(v, f"quantiles[{i}]") for i, v in enumerate(quantiles)]
        if len(q) != 3:
            raise ValueError(f"quantiles must be (lower, centre, upper), got {tuple(quantiles)}")
        lo, mid, hi = np.nanquantile(s, q, axis=-1)
    else:
        k = check_nonneg(se, "se")
        mid, err = stats.mean_se(s, axis=-1)
        lo, hi = mid - k * err, mid + k * err
    (line,) = ax.plot(xs, mid, color=color, label=label, **line_kw)
    fill = ax.fill_between(xs, lo, hi, color=line.get_color(), alpha=alpha, lw=0)
    return line, fill


def mean_errorbar(ax, x, samples, *, axis: int = -1, se: float = 1.0, capsize: float = 3, **kw):
    r"""Means of ``samples`` at each ``x`` with :math:`\pm` ``se`` standard-error bars.

    ``samples`` has shape ``(N, trials)`` (or trials along ``axis``); the numbers are
    :func:`ilib.stats.mean_se`. ``**kw`` go to ``ax.errorbar`` (``fmt="o"`` by default).
    Returns the ``ErrorbarContainer``.
    """
    xs, s = _samples(x, samples, axis)
    k = check_nonneg(se, "se")
    mean, err = stats.mean_se(s, axis=-1)
    kw.setdefault("fmt", "o")
    return ax.errorbar(xs, mean, yerr=k * err, capsize=capsize, **kw)


def log_ticks(ax, axis: str = "x", values=None, *, fmt: str = "{:g}"):
    """Put ``axis`` ("x", "y" or "both") on a log scale labelled in plain numbers.

    With ``values`` the major ticks sit exactly there; without, at 1-2-5 steps of each decade. Minor
    ticks and their labels are removed either way, so labels never crowd. Returns ``ax``.
    """
    from matplotlib.ticker import FixedLocator, FuncFormatter, LogLocator, NullFormatter, NullLocator

    check_choice(axis, "axis", ("x", "y", "both"))
    for name in ("x", "y") if axis == "both" else (axis,):
        (ax.set_xscale if name == "x" else ax.set_yscale)("log")
        ax_ = ax.xaxis if name == "x" else ax.yaxis
        if values is None:
            ax_.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        else:
            vals = [check_positive(v, f"values[{i}]") for i, v in enumerate(np.ravel(values))]
            ax_.set_major_locator(FixedLocator(vals))
        ax_.set_major_formatter(FuncFormatter(lambda v, _: fmt.format(v)))
        ax_.set_minor_locator(NullLocator())
        ax_.set_minor_formatter(NullFormatter())
    return ax


def grid_edges(centres, *, log: bool = False, single_width: float = 0.1) -> np.ndarray:
    r"""Cell edges around grid centres, for ``pcolormesh``: midpoints inside, half a step beyond the ends.

    For centres :math:`c_0 < \dots < c_{N-1}` the edges are :math:`c_0 - (c_1 - c_0)/2`, the midpoints
    :math:`(c_i + c_{i+1})/2` and :math:`c_{N-1} + (c_{N-1} - c_{N-2})/2` (``N + 1`` values). With
    ``log=True`` the same in :math:`\log c` (geometric midpoints, for log axes). A single centre gets a
    cell of width ``single_width`` (a factor :math:`e^{\pm\,\mathrm{single\_width}/2}` with ``log``).

    >>> grid_edges([0.1, 0.2, 0.4]).round(3).tolist()
    [0.05, 0.15, 0.3, 0.5]
    >>> grid_edges([1, 100], log=True).round(6).tolist()
    [0.1, 10.0, 1000.0]
    """
    c = np.asarray(centres, dtype=float)
    if c.ndim != 1 or c.size == 0 or not np.all(np.isfinite(c)):
        raise ValueError(f"centres must be a non-empty 1-d array of finite values, got {centres!r}")
    if np.any(np.diff(c) <= 0):
        raise ValueError("centres must be strictly increasing")
    if log:
        if np.any(c <= 0):
            raise ValueError("centres must be positive for log=True")
        return np.exp(grid_edges(np.log(c), single_width=single_width))
    if c.size == 1:
        h = check_positive(single_width, "single_width") / 2
        return np.array([c[0] - h, c[0] + h])
    mid = (c[1:] + c[:-1]) / 2
    return np.concatenate([[c[0] - (c[1] - c[0]) / 2], mid, [c[-1] + (c[-1] - c[-2]) / 2]])


def power_law(ax, x, exponent: float, *, through: tuple[float, float], **kw):
    r"""A guide line :math:`y = y_0 (x / x_0)^{a}` through ``through = (x0, y0)``, drawn at ``x``.

    ``**kw`` go to ``ax.plot`` (a thin dashed grey line by default). Returns the ``Line2D``.
    """
    x0, y0 = (check_positive(v, f"through[{i}]") for i, v in enumerate(through))
    xs = np.asarray(x, dtype=float)
    kw.setdefault("color", "0.4")
    kw.setdefault("ls", "--")
    kw.setdefault("lw", 1)
    (line,) = ax.plot(xs, y0 * (xs / x0) ** float(exponent), **kw)
    return line
