"""The benchmarks compare like with like and judge as documented (timings are not tested)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.core_loop import assert_same_work, run_per_object, run_vectorised

ROOT = Path(__file__).resolve().parent.parent


def test_vectorised_and_per_object_loops_do_the_same_work():
    vec = run_vectorised(20_000, 60, seed=2)
    obj = run_per_object(20_000, 60, seed=2)
    assert_same_work(vec, obj)
    assert vec["encounters"] > 10_000


def test_same_work_check_catches_a_different_loop():
    from dataclasses import replace

    from benchmarks.core_loop import PARAMS

    vec = run_vectorised(20_000, 60, seed=2)
    obj = run_per_object(20_000, 60, seed=2, params=replace(PARAMS, apprehension=(0.6,) * 9))
    with pytest.raises(AssertionError):
        assert_same_work(vec, obj)


def bench_json(script: str, *flags: str) -> dict:
    """Run a benchmark script with `flags`; the one JSON object it prints."""
    out = subprocess.run([sys.executable, f"benchmarks/{script}", *flags], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def test_bench_script_prints_one_json_object():
    figures = bench_json("bench_model.py", "--scales", "1000", "--repeats", "1",
                         "--core-n", "2000", "--core-days", "30")
    assert {"git", "wall_s_by_scale", "runs_s_by_scale", "agents_created_by_scale",
            "per_day_overhead_ms", "peak_rss_mib", "first_setup_s", "setup_s_median", "core_loop",
            "speedup_vs_per_object_mesa", "meets_bars"} <= set(figures)
    assert set(figures["wall_s_by_scale"]) == {"1000"}
    assert len(figures["runs_s_by_scale"]["1000"]) == 1
    assert figures["agents_created_by_scale"]["1000"] > 0
    assert figures["per_day_overhead_ms"] > 0
    assert figures["peak_rss_mib"] is None  # scale 1 was not run
    assert figures["meets_bars"]["full_scale_wall_s_le_6"] is None
    assert figures["speedup_vs_per_object_mesa"] > 1
    assert {"vectorised_s", "per_object_s"} <= set(figures["core_loop"])


def test_scale_check_passes_within_the_band_or_five_percent():
    from benchmarks.bench_scale import judge

    full = [1000.0, 1010.0, 990.0]  # mean 1000, band [990, 1010]
    assert judge(full, [1009.0], scale=1, counted_in_agents=True)["pass"]  # in the band
    assert judge(full, [1045.0], scale=1, counted_in_agents=True)["pass"]  # within 5 %
    failed = judge(full, [1060.0], scale=1, counted_in_agents=True)
    assert failed["pass"] is False and failed["rel_diff"] == 0.06
    wide = [500.0, 1000.0, 1500.0]  # a band wider than 5 %
    assert judge(wide, [1400.0], scale=1, counted_in_agents=True)["pass"]


def test_scale_check_leaves_too_few_agents_unjudged_but_not_zeros():
    from benchmarks.bench_scale import MIN_AGENTS, judge

    tiny = judge([120.0, 130.0], [0.0, 0.0], scale=50, counted_in_agents=True)
    assert tiny["pass"] is None and "under" in tiny["why_not_judged"]
    # the same figure counted in flights, not agents, is judged
    assert judge([120.0, 130.0], [0.0], scale=50, counted_in_agents=False)["pass"] is False
    # just above the threshold it is judged again
    assert judge([MIN_AGENTS * 50.0], [0.0], scale=50, counted_in_agents=True)["pass"] is False
    # nothing at full scale: the coarse scale must have nothing either
    assert judge([0.0, 0.0], [0.0], scale=50, counted_in_agents=True)["pass"] is True
    assert judge([0.0, 0.0], [50.0], scale=50, counted_in_agents=True)["pass"] is False


def test_sweep_bench_script_prints_one_json_object():
    figures = bench_json("bench_sweep.py", "--runs", "3", "--loop-runs", "2", "--workers", "1",
                         "--scale", "500")
    assert {"sweep_wall_s", "runs_per_s", "loop_wall_s", "dask_one_worker_wall_s",
            "dask_overhead", "meets_bars", "machine_load"} <= set(figures)
    assert figures["sweep_wall_s"] > 0 and figures["loop_wall_s"] > 0


def test_revision_tree_holds_the_commits_files_and_cleans_up(tmp_path, monkeypatch):
    from benchmarks._common import git, revision_tree

    head = git("rev-parse", "HEAD")
    with revision_tree("HEAD") as (tree, commit):
        assert commit == head
        assert (tree / "model" / "simulate.py").read_bytes() == git(
            "show", "HEAD:model/simulate.py").encode() + b"\n"
        assert not (tree / ".venv").exists()  # the commit's files, not the checkout's
    assert not tree.exists()
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    with revision_tree("HEAD", keep=True) as (kept, _):
        assert kept == tmp_path / "border-sim-revisions" / head
        (kept / "compiled.marker").write_text("x")  # e.g. numba's cache beside the sources
    with revision_tree("HEAD", keep=True) as (again, _):
        assert again == kept and (again / "compiled.marker").exists()  # reused, not rewritten
    with pytest.raises(Exception):
        with revision_tree("no-such-revision"):
            pass


def test_together_needs_two_cores_and_pins_each_side_to_one(monkeypatch):
    import os

    from benchmarks import bench_model

    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {3})
    with pytest.raises(SystemExit, match="--together needs two cores"):
        bench_model.side_by_side("HEAD", "historical", [1000], 1, together=True)
    monkeypatch.undo()
    if len(os.sched_getaffinity(0)) < 2:
        pytest.skip("pinning to a second core needs two")
    first, second = bench_model.two_cores()
    worker = object.__new__(bench_model.TreeWorker)  # pin() needs only the child process
    worker.proc = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"],
                                   stdin=subprocess.PIPE)
    try:
        for core in (second, first):
            worker.pin(core)
            assert os.sched_getaffinity(worker.proc.pid) == {core}
    finally:
        worker.proc.kill()
        worker.proc.wait()


def test_fresh_and_together_are_refused_together():
    done = subprocess.run([sys.executable, "benchmarks/bench_model.py", "--ref", "HEAD",
                           "--fresh", "--together", "--scales", "1000"], cwd=ROOT,
                          capture_output=True, text=True)
    assert done.returncode == 2
    assert "argument --together: not allowed with argument --fresh" in done.stderr
    assert done.stdout == ""


def test_callgrind_totals_and_cycle_estimate(tmp_path):
    from benchmarks.instructions import cycles_estimate, read_totals

    out = tmp_path / "callgrind.out"
    out.write_text("version: 1\nevents: Ir I1mr D1mr D1mw ILmr DLmr DLmw Bc Bcm Bi Bim\n"
                   "summary: 9 9 9 9 9 9 9 9 9 9 9\n"
                   "fn=x\n0 1\n"
                   "totals: 1000 1 2 3 4 5 6 70 8 90 10\n")
    events = read_totals(out)
    assert events["Ir"] == 1000 and events["Bim"] == 10  # totals, not the summary
    # Ir + 10 x (L1 misses 1+2+3 and mispredictions 8+10) + 100 x (last level 4+5+6)
    assert cycles_estimate(events) == 1000 + 10 * (6 + 18) + 100 * 15
    out.write_text("events: Ir\n")
    with pytest.raises(RuntimeError, match="no totals"):
        read_totals(out)


def test_pooled_ratios_count_every_pair_and_refuse_unlike_reports():
    timing = ROOT / "docs" / "figures" / "refactor_timing"
    together = sorted(str(p) for p in timing.glob("together_*.json"))
    pooled = bench_json("pool_ratios.py", *together)
    for scale, figures in pooled["by_scale"].items():
        pairs = [r for f in together for r in json.loads(Path(f).read_text())
                 ["by_scale"][scale]["ratios_cpu"]]
        assert figures["pairs"] == len(pairs)
        low, high = figures["median_95_interval"]
        assert low <= figures["median"] <= high
        assert figures["quartiles"][0] <= figures["median"] <= figures["quartiles"][1]
    assert bench_json("pool_ratios.py", *together) == pooled  # seeded: the same bytes
    mixed = subprocess.run([sys.executable, "benchmarks/pool_ratios.py", together[0],
                            str(timing / "control_1.json")], cwd=ROOT, capture_output=True,
                           text=True)
    assert mixed.returncode == 2 and "pool alike ones" in mixed.stderr
