"""Notebook 13's experiment: the bad critical point of sampled networks, the measurement sweep, DPR in one batch."""

import math

import numpy as np
import pytest
import torch

import ilib
from ilib import phase_retrieval as pr
from ilib.experiments import phase_retrieval as ex

CPU = "cpu"
F64 = torch.float64


def s(name):
    return ilib.stream(0, name)


def test_profiles_resolve_and_bad_values_are_refused_naming_the_parameter():
    assert ex.Profile.resolve("smoke").dpr_widths[0] == 5
    assert len(ex.Profile.names()) <= 23
    with pytest.raises(ilib.ParameterError, match="grid_widths"):
        ex.Profile.resolve("smoke", {"grid_widths": [3, 10, 20]})
    with pytest.raises(ilib.ParameterError, match="meas_m_values"):
        ex.Profile.resolve("smoke", {"meas_m_values": [5, 10, 80, 160]})


def test_rho_table_sanity_claims_hold():
    t = ex.rho_table()
    assert ex.RHO_PR_D1.evaluate(t)["agrees"] and ex.RHO_PR_IS_THE_ARGMIN.evaluate(t)["agrees"]
    assert (t.rho_pr > t.rho_cs).all()


def test_landscape_section_is_zero_at_x0_and_its_ray_loss_is_its_quadratic():
    a = ex.landscape_section((2, 40, 160), m=60, points=21, stream=s("a"), device=CPU)
    assert a.f[10, 15] < 1e-12 and a.f_mean[10, 15] < 1e-12  # x0 = (1, 0) is grid point (10, 15)
    t = np.linspace(0, 2, 2001)
    assert abs(t[a.ray_loss(t).argmin()] - a.ray_t) < 2e-3


def test_rho_sweep_tends_to_rho_pr_already_at_depth_one():
    r = ex.rho_sweep([1, 2], [256, 30_000], networks=40, stream=s("b"), device=CPU)
    assert abs(r.mean[0, -1] - 2 / math.pi) < 0.01 and abs(r.mean[1, -1] - pr.rho_pr(2)) < 0.01
    assert (r.sd[:, -1] < r.sd[:, 0]).all()


def test_measurement_sweep_approaches_the_mean_over_a_and_fires_the_negation_step():
    m = ex.measurement_sweep([2], [10, 1000], width=256, draws=300, stream=s("m"), device=CPU)
    row = m.at(2)
    assert row.gap_sd[1] < row.gap_sd[0] / 5  # ~ 10x expected
    assert row.fires[-1].mean() > 0.95 and m.t.shape == (1, 2, 300)
    # t_mean is the closed-form average over A of the same networks: the same for every m
    assert np.array_equal(m.t_mean[0, 0], m.t_mean[0, 1])


def test_row_blocks_are_an_operator_with_its_adjoint_and_zero_padding():
    g = torch.Generator().manual_seed(0)
    blocks = [torch.randn(3, m, 7, generator=g, dtype=F64) for m in (2, 5, 4)]
    op = ex._RowBlocks(blocks, rows=2)
    x = torch.randn(3, 6, 7, generator=g, dtype=F64)
    y = torch.randn(3, 6, 5, generator=g, dtype=F64)
    assert float((op(x) * y).sum() - (x * op.adjoint(y)).sum()).__abs__() < 1e-12
    out = op(x)
    assert torch.allclose(out[:, 0:2, :2], x[:, 0:2] @ blocks[0].transpose(1, 2)) and float(out[:, 0:2, 2:].abs().max()) == 0
    with pytest.raises(ValueError, match="rows"):
        op(torch.randn(3, 4, 7, dtype=F64))


def test_dpr_sweep_is_one_batch_of_independent_problems():
    d = ex.dpr_sweep((3, 30, 300), (2.0, 12.0), trials=3, restarts=2, steps=150, lr=0.5, negate_every=10, stream=s("c"),
                     device=CPU)
    assert d.m_values == (6, 36) and d.rel_error[True].shape == (2, 3)
    again = ex.dpr_sweep((3, 30, 300), (2.0, 12.0), trials=3, restarts=2, steps=150, lr=0.5, negate_every=10, stream=s("c"),
                         device=CPU)
    assert np.array_equal(d.rel_error[True], again.rel_error[True])
    neg, failed = d.failures_on_negative_side(False)
    assert 0 <= neg <= failed <= 6
    for claim in (ex.DPR_SUCCEEDS, ex.NEGATION_HELPS, ex.PLAIN_FAILS_ON_NEGATIVE_SIDE):
        assert claim.evaluate(d)["status"] in ("agrees", "disagrees", "n/a")


def test_every_claim_has_a_kind_a_source_and_a_distinct_id():
    claims = ilib.claims.declared(ex)
    assert len({c.id for c in claims}) == len(claims)
    assert {c.kind for c in claims} == {"theorem", "sanity", "finding"}
