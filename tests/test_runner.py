"""run_all.py's runner: failures are contained and reported, bad parameters refused, caching is keyed."""

import json
import re
import sys
from pathlib import Path

import nbformat
import pytest

from ilib.harness import runner

CACHED = re.compile(r"^\S+\s+cached\s", re.M)  # a table row whose status is cached

PARAMS = 'profile = "paper"\nseed = 0\nm = None\n'
GOOD = """
import ilib
P = ilib.resolve_parameters(profile, {"smoke": dict(m=2), "paper": dict(m=3)}, seed=seed, m=m)
rec = ilib.Recorder(NAME, parameters=P, seed=seed, profile=profile)
rec.value("m", P["m"])
rec.verdict("m is positive", "> 0", P["m"], P["m"] > 0)
rec.write()
"""


def _notebook(path: Path, body: str) -> Path:
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell(PARAMS)
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell(body.replace("NAME", repr(path.stem)))]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


@pytest.fixture
def books(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    good = _notebook(src / "good.ipynb", GOOD)
    bad = _notebook(src / "bad.ipynb", "raise RuntimeError('deliberate failure')")
    return tmp_path, good, bad


def _run(tmp, *args):
    return runner.main([*map(str, args), "--figures", str(tmp / "fig"), "--build", str(tmp / "build"), "--no-progress", "--profile", "smoke"])


def test_a_failing_notebook_is_reported_and_does_not_stop_the_others(books, capsys):
    tmp, good, bad = books
    rc = _run(tmp, bad, good, "-j", "2")
    out = capsys.readouterr().out
    assert rc == 1
    assert "FAILED" in out and "cell 2 (raise RuntimeError" in out and "deliberate failure" in out
    data = json.loads((tmp / "fig" / "good" / "results.json").read_text())
    assert data["values"] == {"m": 2} and data["profile"] == "smoke"
    assert not (tmp / "fig" / "bad").exists()
    assert "m is positive" in out  # the scoreboard


def test_unchanged_notebooks_are_skipped_and_changed_parameters_rerun(books, capsys):
    tmp, good, _ = books
    assert _run(tmp, good) == 0
    capsys.readouterr()
    assert _run(tmp, good) == 0
    assert CACHED.search(capsys.readouterr().out)
    assert _run(tmp, good, "-p", "m", "5") == 0
    out = capsys.readouterr().out
    assert not CACHED.search(out)
    assert json.loads((tmp / "fig" / "good" / "results.json").read_text())["values"] == {"m": 5}


def test_a_stale_result_is_not_taken_for_a_cached_one(books, capsys):
    tmp, good, _ = books
    assert _run(tmp, good) == 0
    res = tmp / "fig" / "good" / "results.json"
    data = json.loads(res.read_text())
    data["run_key"] = "something-else"
    res.write_text(json.dumps(data))
    capsys.readouterr()
    assert _run(tmp, good) == 0
    assert not CACHED.search(capsys.readouterr().out)


def test_a_failed_rerun_keeps_the_last_good_figures(books):
    tmp, good, _ = books
    assert _run(tmp, good) == 0
    good.write_text(good.read_text().replace("rec.write()", "rec.write()\\nraise ValueError('late')"))
    assert _run(tmp, good) == 1
    data = json.loads((tmp / "fig" / "good" / "results.json").read_text())
    assert data["values"] == {"m": 2}


@pytest.mark.parametrize(
    "args, message",
    [
        (["-p", "mm", "3"], "does not declare parameter"),
        (["-p", "m", "0"], "'m' must be a positive integer"),
        (["-p", "noise", "-1"], r"does not declare parameter\(s\) \['noise'\]"),
        (["-j", "0"], "jobs"),
    ],
)
def test_bad_parameters_are_refused_before_running(books, args, message):
    tmp, good, _ = books
    with pytest.raises(SystemExit, match=message):
        _run(tmp, good, *args)


def test_a_timeout_is_reported(tmp_path, capsys):
    slow = _notebook(tmp_path / "slow.ipynb", "import time\ntime.sleep(60)")
    rc = runner.main([str(slow), "--timeout", "8", "--figures", str(tmp_path / "f"), "--build", str(tmp_path / "b"), "--no-progress"])
    assert rc == 1
    assert "TIMEOUT" in capsys.readouterr().out


def test_unknown_notebook_names_are_refused():
    with pytest.raises(SystemExit, match="matches no notebook"):
        runner.find_notebooks(["no_such_notebook"])


def test_parse_value():
    assert runner.parse_value("[5, 10]") == [5, 10]
    assert runner.parse_value("0.5") == 0.5
    assert runner.parse_value("hello") == "hello"


PARITY = """
import ilib
P = ilib.resolve_parameters(profile, {"smoke": dict(m=2), "paper": dict(m=3)}, seed=seed, m=m)
rec = ilib.Recorder(NAME, parameters=P, seed=seed, profile=profile)
rec.verdict("the seed is even", 0, seed % 2, seed % 2 == 0)
rec.write()
"""


def test_seeds_runs_each_notebook_once_per_seed_and_counts_agreement(tmp_path, capsys):
    nb = _notebook(tmp_path / "parity.ipynb", PARITY)
    rc = runner.main(["--seeds", "0", "1", "2", str(nb), "--build", str(tmp_path / "b"), "--no-progress",
                      "--profile", "smoke"])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "parity [seed 0]" in out and "parity [seed 2]" in out
    assert "2/3" in out  # seeds 0 and 2 agree
    for s in (0, 1, 2):
        data = json.loads((tmp_path / "b" / "seeds" / f"seed-{s}" / "figures" / "parity" / "results.json").read_text())
        assert data["seed"] == s
    assert (tmp_path / "b" / "seeds" / "scoreboard.md").exists()


def test_a_theorem_claim_that_holds_on_seed_0_only_is_fragile():
    def outcome(seed, agrees, kind="theorem"):
        return runner.Outcome(notebook="nb", seed=seed, verdicts=[
            {"notebook": "nb", "id": "c", "case": None, "kind": kind, "claim": "c holds", "predicted": 0,
             "measured": 0, "agrees": agrees}])

    rows = runner.claim_rows([outcome(0, True), outcome(1, False), outcome(2, False)])
    assert rows[0]["agree"] == 1 and rows[0]["runs"] == 3 and rows[0]["fragile"]
    rows = runner.claim_rows([outcome(0, True), outcome(1, True), outcome(2, False)])
    assert not rows[0]["fragile"]
    rows = runner.claim_rows([outcome(0, True, "finding"), outcome(1, False, "finding"), outcome(2, False, "finding")])
    assert not rows[0]["fragile"]
    text = runner.format_scoreboard([outcome(0, True), outcome(1, False), outcome(2, False)])
    assert "FRAGILE" in text and "theorem checks" in text


def test_seeds_and_notebook_numbers_are_told_apart():
    a = runner.parse_args(["--seeds", "0", "1", "2", "01", "03"])
    assert a.seeds == [0, 1, 2] and a.notebooks == ["01", "03"]
    a = runner.parse_args(["01", "--seeds", "3", "--profile", "smoke"])
    assert a.seeds == [3] and a.notebooks == ["01"] and a.profile == "smoke"


BURN = """
import ilib
P = ilib.resolve_parameters(profile, {"smoke": dict(m=2), "paper": dict(m=3)}, seed=seed, m=m)
rec = ilib.Recorder(NAME, parameters=P, seed=seed, profile=profile)
import time
t0 = time.process_time()
while time.process_time() - t0 < 1.5:
    pass
ballast = bytearray(200 * 2**20)  # 200 MB resident
ballast[::4096] = b"x" * len(ballast[::4096])
rec.value("m", P["m"])
rec.write()
"""


def test_the_table_reports_each_notebooks_cpu_time_peak_memory_and_threads(tmp_path, capsys):
    src = tmp_path / "src"
    src.mkdir()
    nb = _notebook(src / "burn.ipynb", BURN)
    timings = tmp_path / "t" / "timings.json"
    assert _run(tmp_path, nb, "--timings", timings) == 0
    out = capsys.readouterr().out
    assert "cpu s" in out and "peak MB" in out
    row = json.loads(timings.read_text())["notebooks"][0]
    assert row["status"] == "ok" and row["threads"] == 1
    assert row["cpu_s"] >= 1.5  # the kernel's CPU time is counted, not only the worker's
    assert row["peak_mb"] >= 200
    assert row["wall_s"] >= row["cpu_s"] * 0.5


def test_timings_must_name_a_file(tmp_path):
    with pytest.raises(SystemExit, match="--timings .* is a folder"):
        _run(tmp_path, "01", "--timings", tmp_path)


def test_the_kernel_gets_the_runners_malloc_settings_not_the_dask_workers():
    """Dask's nanny fixes glibc's trim threshold in its workers (and in the process that starts them); a kernel
    that inherits it maps and unmaps every large tensor afresh (notebook 12 ran 1.7x slower), so the kernel gets
    the runner's value of each such variable, read before any cluster started, or none."""
    import dask
    import distributed  # noqa: F401  (registers the distributed.* configuration)

    from ilib.harness import worker

    env = {"MALLOC_TRIM_THRESHOLD_": "65536", "OTHER": "kept"}
    assert worker.kernel_environment(env, {"inherit": {"MALLOC_TRIM_THRESHOLD_": None}}) == {"OTHER": "kept"}
    env = {"MALLOC_TRIM_THRESHOLD_": "65536"}
    assert worker.kernel_environment(env, {"inherit": {"MALLOC_TRIM_THRESHOLD_": "1024"}})["MALLOC_TRIM_THRESHOLD_"] == "1024"
    assert "MALLOC_TRIM_THRESHOLD_" not in worker.kernel_environment({"MALLOC_TRIM_THRESHOLD_": "1"}, {})
    # every variable the nanny sets other than the thread counts (which the worker sets per task) is handled
    threads = {"OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS"}
    assert set(dask.config.get("distributed.nanny.pre-spawn-environ")) - threads <= set(worker.DASK_WORKER_ONLY)
    assert set(runner.LAUNCH_ENVIRONMENT) == set(worker.DASK_WORKER_ONLY)
