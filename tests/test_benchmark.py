"""The speed benchmark compares like with like (its timings are not tested here)."""

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


def test_bench_script_prints_one_json_object():
    out = subprocess.run(
        [sys.executable, "benchmarks/bench_model.py", "--scales", "1000", "--repeats", "1",
         "--core-n", "2000", "--core-days", "30"],
        cwd=ROOT, capture_output=True, text=True, check=True).stdout
    figures = json.loads(out)
    assert {"git", "wall_s_by_scale", "runs_s_by_scale", "agents_created_by_scale",
            "per_day_overhead_ms", "peak_rss_mib", "first_run_s", "core_loop",
            "speedup_vs_per_object_mesa", "meets_bars"} <= set(figures)
    assert set(figures["wall_s_by_scale"]) == {"1000"}
    assert len(figures["runs_s_by_scale"]["1000"]) == 1
    assert figures["agents_created_by_scale"]["1000"] > 0
    assert figures["per_day_overhead_ms"] > 0
    assert figures["peak_rss_mib"] is None  # scale 1 was not run
    assert figures["meets_bars"]["full_scale_wall_s_le_6"] is None
    assert figures["speedup_vs_per_object_mesa"] > 1
    assert {"vectorised_s", "per_object_s"} <= set(figures["core_loop"])
