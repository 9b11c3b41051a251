"""Profiles: each parameter declared once, validated by name, before any kernel starts."""

import math
from dataclasses import dataclass

import pytest

import ilib
from ilib.profile import ParameterError, Profile, param


@dataclass(frozen=True)
class P(Profile):
    n: int = param(smoke=10, paper=100, lo=1, doc="dimension")
    m_values: tuple[int, ...] = param(smoke=[2, 4], paper=(2, 4, 8), lo=1, doc="measurements")
    noise: float = param(smoke=0.1, paper=0.1, lo=0, doc="noise level")
    lr: float = param(smoke=0.05, paper=0.05, lo=0, lo_open=True, doc="step size")
    p: float = param(smoke=0.5, paper=0.5, lo=0, hi=1, hi_open=True, doc="a probability")
    method: str = param(smoke="adam", paper="adam", choices=("adam", "gd"), doc="optimiser")
    fast: bool = param(smoke=True, paper=False, doc="a switch")
    k: int = param(smoke=2, paper=5, lo=1, doc="latent dimension")

    def relations(self):
        self.require(self.k <= self.n, "k", f"must be at most n = {self.n}")


def test_profiles_give_their_values_and_lists_become_tuples():
    s, p = P.resolve("smoke"), P.resolve("paper")
    assert s.n == 10 and s.m_values == (2, 4) and p.m_values == (2, 4, 8) and s.fast is True
    assert P.names() == ["n", "m_values", "noise", "lr", "p", "method", "fast", "k"]
    assert P.resolve("smoke", {"m_values": [3, 5], "noise": None}).m_values == (3, 5)
    assert P.resolve("smoke", {"lr": 1}).lr == 1.0 and isinstance(P.resolve("smoke", {"lr": 1}).lr, float)


BAD = [
    ({"n": 0}, "'n' must be >= 1"),
    ({"n": -3}, "'n'"),
    ({"n": 2.5}, "'n' must be an integer"),
    ({"n": 5.0}, "'n' must be an integer"),
    ({"n": True}, "'n' must be an integer"),
    ({"n": "10"}, "'n' must be an integer"),
    ({"m_values": []}, "'m_values' must be a non-empty list"),
    ({"m_values": [2, 0]}, "'m_values' \\(an element\\) must be >= 1"),
    ({"m_values": [2, 1.5]}, "'m_values' \\(an element\\) must be an integer"),
    ({"m_values": 5}, "'m_values' must be a non-empty list"),
    ({"m_values": "25"}, "'m_values' must be a non-empty list"),
    ({"noise": -0.1}, "'noise' must be >= 0"),
    ({"noise": math.nan}, "'noise' must be finite"),
    ({"noise": math.inf}, "'noise' must be finite"),
    ({"lr": 0}, "'lr' must be > 0"),
    ({"lr": -math.inf}, "'lr' must be finite"),
    ({"p": 1.0}, "'p' must be >= 0 and < 1"),
    ({"method": "sgd"}, "'method' must be one of"),
    ({"fast": 1}, "'fast' must be True or False"),
    ({"k": 11}, "'k' must be at most n = 10"),
    ({"nope": 1}, "'nope'.* not parameters"),
]


@pytest.mark.parametrize("overrides, message", BAD, ids=[str(b[0]) for b in BAD])
def test_bad_values_are_refused_naming_the_parameter(overrides, message):
    with pytest.raises(ParameterError, match=message):
        P.resolve("smoke", overrides)


def test_bad_profiles_and_seeds_are_refused():
    with pytest.raises(ParameterError, match="'profile'"):
        P.resolve("fast")
    from ilib.profile import check_seed

    for bad in (-1, 2**63, 1.0, "0", True):
        with pytest.raises(ParameterError, match="'seed'"):
            check_seed(bad)
    assert check_seed(0) == 0 and check_seed(2**63 - 1) == 2**63 - 1


def test_replace_validates_like_resolve():
    s = P.resolve("smoke")
    assert s.replace(n=20).n == 20
    with pytest.raises(ParameterError, match="'k' must be at most"):
        s.replace(n=1)


def test_a_field_without_param_is_a_programming_error():
    @dataclass(frozen=True)
    class Bad(Profile):
        n: int = 3

    with pytest.raises(TypeError, match="ilib.param"):
        Bad.resolve("smoke")


def test_profile_is_public():
    assert ilib.Profile is Profile and ilib.param is param
