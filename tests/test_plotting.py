import doctest
import math
import subprocess
import sys

import numpy as np
import pytest
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure

from ilib import plotting


def _ax():
    return Figure().add_subplot()


def _band_limits(fill, x):
    """The lower and upper y of a fill_between collection at each x."""
    verts = np.concatenate([p.vertices for p in fill.get_paths()])
    lo = np.array([verts[np.isclose(verts[:, 0], xi), 1].min() for xi in x])
    hi = np.array([verts[np.isclose(verts[:, 0], xi), 1].max() for xi in x])
    return lo, hi


def test_doctests():
    assert doctest.testmod(plotting, raise_on_error=False).failed == 0


def test_band_draws_the_median_and_the_interquartile_range():
    rng = np.random.default_rng(0)
    x = np.array([1.0, 2.0, 4.0, 8.0])
    s = rng.normal(size=(4, 51)) + x[:, None]
    s[1, 3] = np.nan  # NaN samples are ignored
    ax = _ax()
    line, fill = plotting.band(ax, x, s, color="C2", label="med")
    q1, med, q3 = np.nanquantile(s, [0.25, 0.5, 0.75], axis=-1)
    np.testing.assert_allclose(line.get_xdata(), x)
    np.testing.assert_allclose(line.get_ydata(), med)
    lo, hi = _band_limits(fill, x)
    np.testing.assert_allclose(lo, q1)
    np.testing.assert_allclose(hi, q3)
    assert line.get_label() == "med"
    np.testing.assert_allclose(fill.get_facecolor()[0][:3], to_rgb("C2"))  # the band takes the line's colour


def test_band_with_standard_errors_and_trials_on_another_axis():
    rng = np.random.default_rng(1)
    x = np.arange(3.0)
    s = rng.normal(size=(20, 3))  # trials first
    line, fill = plotting.band(_ax(), x, s, axis=0, se=2.0)
    mean = s.mean(0)
    se = s.std(0, ddof=1) / math.sqrt(20)
    np.testing.assert_allclose(line.get_ydata(), mean)
    lo, hi = _band_limits(fill, x)
    np.testing.assert_allclose(lo, mean - 2 * se)
    np.testing.assert_allclose(hi, mean + 2 * se)


def test_mean_errorbar_draws_means_and_standard_errors():
    rng = np.random.default_rng(2)
    x = np.array([10.0, 20.0, 40.0])
    s = rng.exponential(size=(3, 30))
    cont = plotting.mean_errorbar(_ax(), x, s, se=1.96, color="k")
    mean = s.mean(-1)
    se = s.std(-1, ddof=1) / math.sqrt(30)
    data_line, caps, (bars,) = cont.lines
    np.testing.assert_allclose(data_line.get_ydata(), mean)
    segs = np.array(bars.get_segments())  # (N, 2, 2): each bar from (x, lo) to (x, hi)
    np.testing.assert_allclose(segs[:, :, 0], np.repeat(x[:, None], 2, 1))
    np.testing.assert_allclose(np.sort(segs[:, :, 1], axis=1), np.stack([mean - 1.96 * se, mean + 1.96 * se], 1))


def test_log_ticks_at_given_values_in_plain_numbers():
    ax = _ax()
    vals = [5, 10, 20, 50, 100]
    ax.plot(vals, [1, 2, 3, 4, 5])
    plotting.log_ticks(ax, "x", vals)
    ax.figure.canvas.draw()
    assert ax.get_xscale() == "log"
    np.testing.assert_allclose(ax.get_xticks(), vals)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["5", "10", "20", "50", "100"]
    assert len(ax.xaxis.get_minor_locator()()) == 0


def test_log_ticks_without_values_use_1_2_5_steps_on_both_axes():
    ax = _ax()
    ax.plot([1, 100], [0.1, 10])
    ax.set_xlim(1, 100)
    ax.set_ylim(0.1, 10)
    plotting.log_ticks(ax, "both")
    ax.figure.canvas.draw()
    inside = [t for t in ax.get_xticks() if 1 <= t <= 100]
    np.testing.assert_allclose(inside, [1, 2, 5, 10, 20, 50, 100])
    labels = {t.get_text() for t in ax.get_yticklabels()}
    assert {"0.1", "0.2", "0.5", "1", "2", "5", "10"} <= labels
    with pytest.raises(ValueError, match="axis"):
        plotting.log_ticks(ax, "z")


def test_grid_edges_are_midpoints_with_half_steps_beyond():
    c = np.array([0.1, 0.2, 0.4, 0.5])
    e = plotting.grid_edges(c)
    assert e.size == c.size + 1
    np.testing.assert_allclose(e[1:-1], (c[1:] + c[:-1]) / 2)
    assert e[0] == pytest.approx(0.05) and e[-1] == pytest.approx(0.55)
    np.testing.assert_allclose(plotting.grid_edges([0.3]), [0.25, 0.35])  # notebook 01's single-cell width
    le = plotting.grid_edges([1.0, 10.0, 100.0], log=True)
    np.testing.assert_allclose(le, [10**-0.5, 10**0.5, 10**1.5, 10**2.5])
    with pytest.raises(ValueError, match="increasing"):
        plotting.grid_edges([0.2, 0.1])


def test_grid_edges_fit_pcolormesh():
    ax = _ax()
    d, r = np.array([0.1, 0.2, 0.3]), np.array([0.5, 0.7])
    mesh = ax.pcolormesh(plotting.grid_edges(d), plotting.grid_edges(r), np.zeros((2, 3)))
    assert mesh.get_array().shape == (2, 3)


def test_power_law_passes_through_the_point_with_the_exponent():
    x = np.array([1.0, 2.0, 4.0, 8.0])
    line = plotting.power_law(_ax(), x, -0.5, through=(2.0, 3.0))
    y = line.get_ydata()
    assert y[1] == pytest.approx(3.0)
    np.testing.assert_allclose(np.diff(np.log(y)) / np.diff(np.log(x)), -0.5)


def test_palette_is_seaborns_colorblind():
    import seaborn as sns

    assert plotting.palette(4) == [tuple(c) for c in sns.color_palette("colorblind", 4)]


def test_import_changes_no_global_matplotlib_state():
    code = (
        "import matplotlib as mpl; before = dict(mpl.rcParams); backend = mpl.get_backend(); "
        "import ilib.plotting; assert dict(mpl.rcParams) == before and mpl.get_backend() == backend; "
        "import sys; assert 'seaborn' not in sys.modules; print('ok')"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "ok"


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError, match="samples"):
        plotting.band(_ax(), [1, 2], np.zeros((3, 4)))
    with pytest.raises(ValueError, match="quantiles"):
        plotting.band(_ax(), [1, 2], np.zeros((2, 4)), quantiles=(0.1, 0.9))
