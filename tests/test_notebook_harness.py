"""The notebook harness: named seed streams, start() refusing bad input, claims recorded with their kinds."""

import json

import numpy as np
import pytest
import torch

import ilib
from ilib import notebook
from ilib.device import Stream, make_generator, stream
from ilib.profile import ParameterError
from ilib.record import CONTEXT_VARIABLE, RunContext


def _draw(s):
    return torch.randn(4, generator=make_generator(s))


def test_streams_depend_on_the_seed_and_name_only_not_on_order():
    a1, b1 = _draw(stream(0, "a")), _draw(stream(0, "b"))
    b2, a2 = _draw(stream(0, "b")), _draw(stream(0, "a"))
    assert torch.equal(a1, a2) and torch.equal(b1, b2) and not torch.equal(a1, b1)
    assert not torch.equal(_draw(stream(0, "a")), _draw(stream(1, "a")))
    assert stream(0, "a").child("k=2") == Stream(0, ("a", "k=2"))
    assert not torch.equal(_draw(stream(0, "a", "x")), _draw(stream(0, "ax")))


@pytest.mark.parametrize("bad", [-1, 2**63, 1.5, True, "0"])
def test_bad_master_seeds_are_refused(bad):
    with pytest.raises((ValueError, TypeError), match="seed"):
        make_generator(Stream(bad, ("a",)) if not isinstance(bad, str) else bad)


def test_known_stream_value_is_stable_across_releases():
    # the derivation (SHA-256 of "seed\x1fname") is part of the contract: changing it changes every number
    assert stream(0, "a").seed_value == 8010819546481585132


from ilib.experiments import csgm_phase_transition as ex  # noqa: E402


def _globals(**kw):
    g = {"profile": "smoke", "seed": 3, **{n: None for n in ex.Profile.names()}}
    g.update(kw)
    return g


def test_start_resolves_parameters_and_writes_outside_figures(tmp_path, monkeypatch):
    monkeypatch.setenv(CONTEXT_VARIABLE, json.dumps({"out": str(tmp_path), "run_key": "k1", "threads": 1}))
    nb = notebook.start("01_csgm_phase_transition", ex.Profile, _globals(trials=3), device="cpu")
    assert nb.params.trials == 3 and nb.params.n == ex.Profile.values("smoke")["n"] and nb.seed == 3
    assert nb.rec.dir == tmp_path / "01_csgm_phase_transition"
    assert nb.stream("a") == Stream(3, ("a",)) and torch.get_num_threads() == 1
    assert {c.id for c in nb.claims} >= {"not_identifiable_below_k", "bora_bound_from_2k"}


def test_without_the_runner_outputs_go_to_build_interactive(monkeypatch):
    monkeypatch.delenv(CONTEXT_VARIABLE, raising=False)
    nb = notebook.start("01_csgm_phase_transition", ex.Profile, _globals(), device="cpu")
    assert nb.rec.dir.parts[-5:] == ("build", "interactive", "smoke", "figures", "01_csgm_phase_transition")


@pytest.mark.parametrize("kw, message", [({"trials": 0}, "'trials'"), ({"noise": float("nan")}, "'noise'"),
                                         ({"profile": "fast"}, "'profile'"), ({"seed": -2}, "'seed'"),
                                         ({"k_values": [2, 500]}, "'k_values'")])
def test_start_refuses_bad_values_naming_them(kw, message):
    with pytest.raises(ParameterError, match=message):
        notebook.start("01_csgm_phase_transition", ex.Profile, _globals(**kw), device="cpu")


def test_start_refuses_a_parameter_papermill_injected_that_the_notebook_lacks():
    g = _globals(In=["", "# Parameters\ntrials = 4\ntrails = 5\n"])
    with pytest.raises(ParameterError, match="'trails'"):
        notebook.start("01_csgm_phase_transition", ex.Profile, g, device="cpu")
    g = _globals()
    del g["trials"]
    with pytest.raises(ParameterError, match="does not name"):
        notebook.start("01_csgm_phase_transition", ex.Profile, g, device="cpu")


def test_recorder_checks_only_declared_claims_once_and_reports_missing_ones(tmp_path, monkeypatch):
    monkeypatch.setenv(CONTEXT_VARIABLE, RunContext(out=tmp_path).to_env()[CONTEXT_VARIABLE])
    nb = notebook.start("01_csgm_phase_transition", ex.Profile, _globals(), device="cpu")
    other = ilib.Claim("elsewhere", kind="sanity", source="-", statement="s", predict=lambda r: 0,
                       measure=lambda r: ilib.Estimate.exact(0), rule=ilib.claims.Covers())
    with pytest.raises(ValueError, match="not declared"):
        nb.check(other, None)
    l1 = ex.L1Diagram(n=10, delta=np.array([0.5]), rho=np.array([0.1, 0.9]), successes=np.array([[10, 0]]), trials=10,
                      rho_w=np.array([0.38]), tol=1e-2)
    v = nb.check(ex.L1_BELOW_CURVE, l1)
    assert v["agrees"] and v["kind"] == "theorem"
    with pytest.raises(ValueError, match="already evaluated"):
        nb.check(ex.L1_BELOW_CURVE, l1)
    data = json.loads(nb.rec.write().read_text())
    missing = [v for v in data["verdicts"] if v["status"] == "not evaluated"]
    assert {v["id"] for v in missing} == {c.id for c in nb.claims} - {"l1_succeeds_below_curve"}
    with nb.timed("x"):
        pass
    assert "x" in nb.rec.timings


def test_experiment_module_lookup():
    assert notebook.experiment_module("01_csgm_phase_transition") is ex
    with pytest.raises(ModuleNotFoundError):
        notebook.experiment_module("99_nothing")
