import doctest
import math

import numpy as np
import pytest
import torch

import ilib
from ilib import _checks as C
from ilib import constructions, ilo, inversion, landscape, onebit, plotting, srec, stats, unrolled, vae

F64 = dict(dtype=torch.float64, device="cpu")
NAN, INF = float("nan"), float("inf")


def test_doctests():
    assert doctest.testmod(C, raise_on_error=False).failed == 0


# ------------------------------------------------------------------------------------------- the checks
@pytest.mark.parametrize("good", [1, 7, np.int64(3), torch.tensor(4)])
def test_positive_int_accepts_integers_and_returns_int(good):
    out = C.check_positive_int(good, "k")
    assert out == int(good) and type(out) is int


@pytest.mark.parametrize(
    "bad, exc",
    [(0, ValueError), (-3, ValueError), (True, ValueError), (np.bool_(True), ValueError), (5.0, ValueError),
     (2.5, ValueError), (NAN, ValueError), (torch.tensor(2.0), ValueError), ("3", TypeError), (None, TypeError),
     ([3], TypeError)],
)
def test_positive_int_refuses(bad, exc):
    with pytest.raises(exc, match=r"^trials must be a positive integer, got "):
        C.check_positive_int(bad, "trials")


def test_nonneg_int_and_int_ranges():
    assert C.check_nonneg_int(0, "steps") == 0
    with pytest.raises(ValueError, match=r"^steps must be a non-negative integer, got -1$"):
        C.check_nonneg_int(-1, "steps")
    assert C.check_int(3, "m", lo=1, hi=3) == 3
    with pytest.raises(ValueError, match=r"^m must be an integer in \[1, 3\], got 4$"):
        C.check_int(4, "m", lo=1, hi=3)


@pytest.mark.parametrize("check", [C.check_finite, C.check_positive, C.check_nonneg, C.check_probability])
@pytest.mark.parametrize("bad", [NAN, INF, -INF, True, np.float64("nan")])
def test_every_real_check_refuses_nan_inf_and_bools(check, bad):
    with pytest.raises(ValueError, match=r"^lr must be a finite "):
        check(bad, "lr")


def test_real_checks_messages_and_values():
    with pytest.raises(ValueError, match=r"^lr must be a finite positive number, got nan$"):
        C.check_positive(NAN, "lr")
    with pytest.raises(ValueError, match=r"^lr must be a finite positive number, got 0$"):
        C.check_positive(0, "lr")
    with pytest.raises(ValueError, match=r"^sigma must be a finite non-negative number, got -0.1$"):
        C.check_nonneg(-0.1, "sigma")
    with pytest.raises(TypeError, match=r"^lr must be a finite positive number, got 'fast'$"):
        C.check_positive("fast", "lr")
    assert C.check_positive(np.float32(0.5), "lr") == 0.5 and C.check_nonneg(torch.tensor(2.0), "s") == 2.0
    assert C.check_finite(-3, "x") == -3.0 and C.check_probability(1, "p") == 1.0
    assert C.check_in_range(0.0, "a", 0, None) == 0.0
    with pytest.raises(ValueError, match=r"^a must be a finite number in \(0, inf\), got 0.0$"):
        C.check_in_range(0.0, "a", 0, None, lo_open=True)


def test_choice_lists_and_elements():
    assert C.check_choice("gd", "method", ("adam", "gd")) == "gd"
    with pytest.raises(ValueError, match=r"^method must be one of \('adam', 'gd'\), got \['gd'\]$"):
        C.check_choice(["gd"], "method", ("adam", "gd"))
    assert C.check_int_list(np.array([1, 2, 3]), "m_values", increasing=True) == [1, 2, 3]
    with pytest.raises(ValueError, match=r"^m_values\[1\] must be an integer >= 1, got 2.0$"):
        C.check_int_list([1, 2.0], "m_values")
    with pytest.raises(ValueError, match=r"^m_values must be a non-empty list"):
        C.check_int_list([], "m_values")
    with pytest.raises(TypeError, match=r"^m_values must be a list"):
        C.check_int_list(5, "m_values")
    assert C.check_list([1, 2], "r", C.check_positive) == [1.0, 2.0]
    t = torch.tensor([0.0, 1.0])
    assert C.check_elements(t, "lam", 0) is t
    assert C.check_elements([0.0, INF], "radius", 0, allow_inf=True) == [0.0, INF]
    for bad in ([0.0, INF], [NAN], torch.tensor([1.0, NAN]), -1.0, [True]):
        with pytest.raises(ValueError, match=r"^lam must hold finite numbers in \[0, inf\)"):
            C.check_elements(bad, "lam", 0)


def test_tensor_and_device_checks():
    x = torch.zeros(2, 3)
    assert C.check_tensor(x, "x", dim=2, shape=(None, 3), dtype="floating", device="cpu") is x
    with pytest.raises(TypeError, match=r"^x must be a torch.Tensor, got ndarray$"):
        C.check_tensor(np.zeros(3), "x")
    with pytest.raises(ValueError, match=r"^x must have shape \(\*, 4\), got shape \(2, 3\)$"):
        C.check_tensor(x, "x", shape=(None, 4))
    with pytest.raises(ValueError, match=r"^x must have dtype torch.float64, got torch.float32$"):
        C.check_tensor(x, "x", dtype=torch.float64)
    with pytest.raises(ValueError, match=r"^x must have a floating-point dtype"):
        C.check_tensor(torch.zeros(2, dtype=torch.long), "x", dtype="floating")
    with pytest.raises(ValueError, match=r"^x must be finite"):
        C.check_tensor(torch.tensor([NAN]), "x", finite=True)
    with pytest.raises(ValueError, match=r"^x must be on device meta"):
        C.check_tensor(x, "x", device="meta")
    with pytest.raises(ValueError, match=r"^x and y must be on the same device"):
        C.check_same_device("x", x, "y", torch.zeros(1, device="meta"))


# ----------------------------------------------------------------------- bad input across ilib, by name
def _op():
    return ilib.GaussianOperator.random(3, 4, seed=0, **F64)


def _relu():
    return ilib.ReLUGenerator.random([2, 4], seed=0, **F64)


def _ones(*shape):
    return torch.ones(*shape, dtype=torch.float64)


BAD = [
    # optim, recovery
    (lambda: ilib.minimize(lambda x: (x**2).sum(-1), torch.zeros(1, 2), steps=1, lr=NAN), "lr"),
    (lambda: ilib.minimize(lambda x: (x**2).sum(-1), torch.zeros(1, 2), steps=5.0, lr=0.1), "steps"),
    (lambda: ilib.minimize(lambda x: (x**2).sum(-1), torch.zeros(1, 2), steps=True, lr=0.1), "steps"),
    (lambda: ilib.minimize(lambda x: (x**2).sum(-1), torch.zeros(1, 2), steps=1, lr=0.1, method="sgd"), "method"),
    (lambda: ilib.minimize(lambda x: (x**2).sum(-1), torch.zeros(1, 2), steps=1, lr=0.1, negate_every=-1), "negate_every"),
    (lambda: ilib.project_ball(INF), "radius"),
    (lambda: ilib.csgm(_ones(1, 3), _op(), _relu(), restarts=0), "restarts"),
    (lambda: ilib.csgm_objective(_ones(1, 3), _op(), _relu(), latent_penalty=-1.0), "latent_penalty"),
    # operators, generators, sparse
    (lambda: ilib.GaussianOperator.random(0, 5), "m"),
    (lambda: ilib.GaussianOperator.random(3, 5.0), "n"),
    (lambda: ilib.GaussianOperator.random(3, 5, batch=True), "batch"),
    (lambda: _op().measure(_ones(1, 4), noise_std=-1.0), "noise_std"),
    (lambda: ilib.ReLUGenerator.random([3, 0, 5]), "widths[1]"),
    (lambda: ilib.ReLUGenerator.random([3, 5], gain=INF), "gain"),
    (lambda: ilib.LinearGenerator.random(5, 0), "k"),
    (lambda: ilib.sparse_signals(2, 5, 6), "k"),
    (lambda: ilib.ista(_op(), _ones(1, 3), NAN), "lam"),
    (lambda: ilib.fista(_op(), _ones(1, 3), 0.1, iters=2.5), "iters"),
    (lambda: ilib.statistical_dimension_l1(1.5), "eps"),
    # topical modules
    (lambda: srec.nested_operators(10, [5, 5]), "m_values"),
    (lambda: srec.srec_ratio(_op(), _ones(1, 4), _ones(1, 4), delta=NAN), "delta"),
    (lambda: srec.starting_pairs(0, 2, 3), "batch"),
    (lambda: onebit.sample_noise((3,), kind="cauchy"), "kind"),
    (lambda: onebit.dither_mean(0.3, -1.0), "lam"),
    (lambda: onebit.prob_unclipped(-1.0, 1.0), "r"),
    (lambda: onebit.linear_mse(10, k=2, lam=1.0, flip_prob=1.5), "flip_prob"),
    (lambda: onebit.gaussian_rows(0, 3), "m"),
    (lambda: constructions.hat_generator(3, 2, xi=0.0), "xi"),
    (lambda: constructions.fano_m(10.0, 1.0, p_err=1.0), "p_err"),
    (lambda: constructions.random_codebook(2.5, 4), "b"),
    (lambda: inversion.expansion_widths(2, NAN, 3), "r"),
    (lambda: inversion.expansion_widths(2, 2.0, True), "depth"),
    (lambda: inversion.bounded_noise((2, 3), -1.0, seed=0), "level"),
    (lambda: inversion.preimage_point_probability(10, 11, 3), "support"),
    (lambda: landscape.negative_critical_angle(0), "d"),
    (lambda: landscape.cone_starts(torch.ones(1, 2), 3, angle=4.0, radii=(0.5, 1.0), generator=torch.Generator()), "angle"),
    (lambda: unrolled.gaussian_dictionary(0, 5), "m"),
    (lambda: unrolled.bernoulli_gaussian(3, 5, 1.5), "p"),
    (lambda: unrolled.support_selection(torch.zeros(2, 3), 0.1, 150), "q"),
    (lambda: unrolled.LISTA(torch.eye(3, dtype=torch.float64), 2, 0.0), "lam"),
    (lambda: vae.TrainConfig(lr=0.0), "lr"),
    (lambda: vae.TrainConfig(hidden=(0,)), "hidden[0]"),
    (lambda: vae.TrainConfig(seed=-1), "seed"),
    (lambda: ilo.project_l1_ball(torch.ones(3), -1.0), "radius"),
    # the shared modules themselves
    (lambda: stats.crossing([1, 2], [0, 1], interp="cubic"), "interp"),
    (lambda: stats.loglog_fit([1, 2, 3], [1, 2, 3], ci=1.5), "ci"),
    (lambda: stats.bootstrap(np.mean, np.ones(3), rng=0), "rng"),
    (lambda: stats.binomial_interval(1, 10, method="wald"), "method"),
    (lambda: stats.logistic_threshold([1, 2], [0, 1], [1, 1], level=0.0), "level"),
    (lambda: plotting.grid_edges([1.0], single_width=0.0), "single_width"),
    (lambda: plotting.palette(0), "n"),
]


@pytest.mark.parametrize("call, name", BAD, ids=[f"{i:02d}-{name}" for i, (_, name) in enumerate(BAD)])
def test_bad_input_is_refused_with_a_message_that_starts_with_the_name(call, name):
    with pytest.raises((ValueError, TypeError)) as info:
        call()
    assert str(info.value).startswith(f"{name} "), str(info.value)


def test_the_table_is_large_enough():
    assert len(BAD) >= 30


def test_valid_input_is_unchanged_by_the_checks():
    # a few public calls with values of every accepted kind
    assert ilib.GaussianOperator.random(np.int64(3), 4, seed=0).out_dim == 3
    assert inversion.expansion_widths(2, 2, 3) == [2, 4, 8, 16]
    assert unrolled.ss_schedule(3, 1, 2) == [1, 2, 2]
    assert srec.nested_operators(np.int64(10), [5, 10], stacked=True).batch == 2
