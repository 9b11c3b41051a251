"""benchmarks/gpu_check.py: it refuses cleanly without CUDA, and its comparison keeps the tolerances it states."""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "benchmarks" / "gpu_check.py"


def _module():
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_without_cuda_it_refuses_with_status_2_and_one_line(tmp_path):
    """With no CUDA device visible nothing runs: exit status 2, one line saying so, no scratch output."""
    env = dict(os.environ, CUDA_VISIBLE_DEVICES="", PYTHONPATH=str(ROOT))
    p = subprocess.run([sys.executable, str(SCRIPT), "--scratch", str(tmp_path / "scratch")], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == 2, p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and "no CUDA device is visible" in lines[0]
    assert p.stdout == ""
    assert not (tmp_path / "scratch").exists()


def _record(values, verdicts, parameters=None):
    return {"notebook": "nb", "parameters": parameters or {"trials": 4}, "values": values, "verdicts": verdicts}


def test_floats_agree_within_the_relative_tolerance_and_not_beyond():
    gc = _module()
    base = _record({"err": [1.0, 2.0], "tiny": 1e-12}, [])
    near = _record({"err": [1.0 + 0.9e-3, 2.0], "tiny": 5e-9}, [])
    far = _record({"err": [1.0 + 1.1e-3 * 1.0011, 2.0], "tiny": 1e-12}, [])
    assert gc.compare_results(base, near, rtol=1e-3, atol=1e-6) == ([], [])
    diffs, _ = gc.compare_results(base, far, rtol=1e-3, atol=0.0)
    assert len(diffs) == 1 and "values.err[0]" in diffs[0]


@pytest.mark.parametrize("cpu, cuda", [(3, 4), (True, False), ("a", "b"), (None, 0.0), ([1.0], [1.0, 2.0])])
def test_integers_booleans_strings_and_shapes_compare_exactly(cpu, cuda):
    gc = _module()
    diffs, _ = gc.compare_results(_record({"v": cpu}, []), _record({"v": cuda}, []), rtol=1.0, atol=1.0)
    assert len(diffs) == 1


def test_a_verdict_flip_at_its_rules_edge_is_reported_not_failed():
    """Same measured value within tolerance but opposite verdicts: the value sits at the rule's edge."""
    gc = _module()
    a = _record({}, [{"claim": "c", "measured": 0.10000, "agrees": True}])
    b = _record({}, [{"claim": "c", "measured": 0.10001, "agrees": False}])
    diffs, edges = gc.compare_results(a, b, rtol=1e-3, atol=0.0)
    assert diffs == [] and len(edges) == 1
    c = _record({}, [{"claim": "c", "measured": 0.2, "agrees": False}])
    diffs, edges = gc.compare_results(a, c, rtol=1e-3, atol=0.0)
    assert edges == [] and len(diffs) == 2  # the value and the verdict


def test_parameters_must_be_identical():
    gc = _module()
    diffs, _ = gc.compare_results(_record({}, [], {"trials": 4}), _record({}, [], {"trials": 5}), rtol=1.0, atol=1.0)
    assert len(diffs) == 1 and "parameters" in diffs[0]
