"""Figures and results are written atomically, with provenance."""

import json
import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

import ilib  # noqa: E402
from ilib import record  # noqa: E402


def test_results_json_holds_values_verdicts_and_provenance(tmp_path):
    rec = ilib.Recorder("nb", parameters={"m": 3}, seed=5, profile="smoke", root=tmp_path)
    rec.value("t", torch.tensor([1.0, float("nan")]))
    rec.value("a", np.arange(3))
    rec.verdict("x equals 1", 1, 1.0000001, abs(1.0000001 - 1) < 1e-3)
    fig, ax = plt.subplots()
    ax.plot([0, 1])
    paths = rec.save_figure(fig, "line")
    plt.close(fig)
    assert [p.suffix for p in paths] == [".pdf", ".png"] and all(p.stat().st_size > 0 for p in paths)
    data = json.loads(rec.write().read_text())
    assert data["values"]["a"] == [0, 1, 2] and data["values"]["t"][0] == 1.0 and math.isnan(data["values"]["t"][1])
    assert data["verdicts"] == [{"claim": "x equals 1", "predicted": 1, "measured": 1.0000001, "agrees": True}]
    assert data["seed"] == 5 and data["parameters"] == {"m": 3} and data["figures"] == ["line.pdf", "line.png"]
    for key in ("python", "torch", "numpy", "ilib"):
        assert key in data["versions"]
    assert "git_commit" in data and "wall_time_s" in data


def test_atomic_write_leaves_the_old_file_when_writing_fails(tmp_path):
    target = tmp_path / "f.json"
    record.atomic_write_text(target, "old")

    class Boom(Exception):
        pass

    class Bad(bytes):
        pass

    import os

    real = os.replace

    def failing_replace(a, b):
        raise Boom

    os.replace = failing_replace
    try:
        with pytest.raises(Boom):
            record.atomic_write_text(target, "new")
    finally:
        os.replace = real
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.json"]  # no temporary file left behind


@pytest.mark.parametrize("bad", ["", "a/b"])
def test_bad_names_are_refused(tmp_path, bad):
    with pytest.raises(ValueError, match="notebook"):
        ilib.Recorder(bad, parameters={}, seed=0, profile="smoke", root=tmp_path)


def test_to_jsonable_handles_numpy_and_non_finite_values():
    out = record.to_jsonable({"a": np.float32(1.5), "b": math.inf, "c": np.bool_(True), "d": (np.int64(2),)})
    assert out == {"a": 1.5, "b": math.inf, "c": True, "d": [2]}
    assert json.loads(json.dumps(out))["b"] == math.inf  # infinities are recorded as such, not as null
