"""Speed benchmark: the full-scale historical run, and the core loop against per-object Mesa.

    taskset -c 0 python benchmarks/bench_model.py [--repeats 3] [--scale 1]
                                                  [--core-n 200000] [--core-days 365]

Prints ONE JSON object on stdout; progress goes to stderr. `taskset -c 0` pins
it to one core so the numbers mean "one core"; the script itself does not need it.

- Full-scale run: `BorderModel(load_scenario(SCENARIO), seed=i, scale=K).run()` for
  i = 0..repeats-1, each in a fresh child process (this script with `--worker-seed`),
  so each run's peak memory (`ru_maxrss` of the child) is its own and no run
  inherits another's warm caches or heap. Wall time covers building and running
  the model, as `run.py run` reports it.
- Core loop (`benchmarks/core_loop.py`): the same loop column-wise with the
  project's `Population` and `DueQueue`, and as one Mesa agent per person. Both
  run in this process on identical n, days and seed, alternating which goes
  first in each repeat so a noisy machine penalises neither; their totals are
  checked to agree before any time is reported.
"""

import argparse
import gc
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from anywhere: make `model` importable
    sys.path.insert(0, str(ROOT))

import mesa  # noqa: E402
import numpy as np  # noqa: E402

from benchmarks.core_loop import assert_same_work, run_per_object, run_vectorised  # noqa: E402

BARS = {"full_scale_wall_s": 30.0, "peak_rss_mib": 2048.0, "speedup_vs_per_object_mesa": 50.0}


# -- full-scale run, one child process per repeat --------------------------------

def worker(scenario: str, seed: int, scale: int) -> dict:
    """One full-scale run in this (fresh) process; what the parent needs to know."""
    import model

    loaded = model.load_scenario(scenario)
    started = time.perf_counter()
    border = model.BorderModel(loaded, seed=seed, scale=scale)
    border.run()
    wall = time.perf_counter() - started
    pop = border.migrants.pop
    created = pop.created_day[: pop.n].astype(np.int64)
    agent_days = int((border.calendar.n_days - created).sum())
    return {
        "seed": seed,
        "wall_s": wall,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,  # KiB on Linux
        "agents_created": int(pop.n),
        "people_created": int(pop.n) * scale,
        "agent_days": agent_days,
        "people_days": agent_days * scale,
        "n_days": int(border.calendar.n_days),
    }


def run_child(scenario: str, seed: int, scale: int) -> dict:
    """Run `worker` in a fresh interpreter (same Python, same CPU affinity)."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker-seed", str(seed),
           "--scale", str(scale), "--scenario", scenario]
    done = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def full_scale(scenario: str, scale: int, repeats: int) -> dict:
    runs = []
    for seed in range(repeats):
        runs.append(run_child(scenario, seed, scale))
        progress(f"full-scale {scenario} seed {seed}: {runs[-1]['wall_s']:.2f} s, "
                 f"{runs[-1]['peak_rss_mib']:.0f} MiB")
    wall = statistics.median(r["wall_s"] for r in runs)
    people_days = statistics.median_low(r["people_days"] for r in runs)
    return {
        "full_scale_wall_s": round(wall, 3),
        "full_scale_runs_s": [round(r["wall_s"], 3) for r in runs],
        "peak_rss_mib": round(max(r["peak_rss_mib"] for r in runs), 1),
        "peak_rss_mib_median": round(statistics.median(r["peak_rss_mib"] for r in runs), 1),
        "peak_rss_mib_runs": [round(r["peak_rss_mib"], 1) for r in runs],
        "people_created": statistics.median_low(r["people_created"] for r in runs),
        "people_days": people_days,
        "people_days_per_s": round(people_days / wall),
        "agent_days": statistics.median_low(r["agent_days"] for r in runs),
        "n_days": runs[0]["n_days"],
    }


# -- core loop, both implementations in this process ----------------------------

def core_loop(n: int, days: int, repeats: int) -> dict:
    """Time both implementations `repeats` times each, alternating which runs first."""
    results = {run_vectorised: [], run_per_object: []}
    for r in range(repeats):
        order = [run_vectorised, run_per_object]
        if r % 2:
            order.reverse()
        for run in order:
            gc.collect()  # the previous run's garbage is not this run's cost
            results[run].append(run(n, days, seed=r))
            progress(f"core loop {run.__name__} n={n:,} days={days} seed {r}: "
                     f"{results[run][-1]['wall_s']:.2f} s")
        assert_same_work(results[run_vectorised][-1], results[run_per_object][-1])
    vec, obj = results[run_vectorised], results[run_per_object]
    vec_s = statistics.median(x["wall_s"] for x in vec)
    obj_s = statistics.median(x["wall_s"] for x in obj)
    people_days = vec[0]["people_days"]
    return {
        "n": n,
        "days": days,
        "vectorised_s": round(vec_s, 4),
        "per_object_s": round(obj_s, 3),
        "vectorised_runs_s": [round(x["wall_s"], 4) for x in vec],
        "per_object_runs_s": [round(x["wall_s"], 3) for x in obj],
        "people_created": vec[0]["people_created"],
        "people_days": people_days,
        "vectorised_people_days_per_s": round(people_days / vec_s),
        "per_object_people_days_per_s": round(people_days / obj_s),
        "totals_seed0": {name: {k: res[0][k] for k in ("encounters", "evasions", "gave_up")}
                         for name, res in (("vectorised", vec), ("per_object", obj))},
    }


# -- report ----------------------------------------------------------------------

def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def git_state() -> dict:
    """Which code was measured: HEAD, and whether model/ or scenarios/ had local edits."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()
    try:
        return {"commit": git("rev-parse", "--short", "HEAD"),
                "model_dirty": bool(git("status", "--porcelain", "--", "model", "scenarios"))}
    except (OSError, subprocess.CalledProcessError):
        return {"commit": None, "model_dirty": None}


def environment(args) -> dict:
    return {
        "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "mesa": mesa.__version__,
        "numpy": np.__version__,
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "cpus_allowed": len(os.sched_getaffinity(0)),  # 1 under `taskset -c 0`
        "repeats": args.repeats,
        "scenario": args.scenario,
        "scale": args.scale,
        "git": git_state(),
    }


def bars(report: dict) -> dict:
    """Which of the project's speed and memory targets this run meets."""
    return {
        "full_scale_wall_s_le_30": report["full_scale_wall_s"] <= BARS["full_scale_wall_s"],
        "peak_rss_le_2GiB": report["peak_rss_mib"] <= BARS["peak_rss_mib"],
        "speedup_ge_50x": report["speedup_vs_per_object_mesa"]
                          >= BARS["speedup_vs_per_object_mesa"],
    }


def positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=positive, default=3)
    parser.add_argument("--scale", type=positive, default=1,
                        help="full-scale run's scale (default 1: one agent per person)")
    parser.add_argument("--scenario", default="historical")
    parser.add_argument("--core-n", type=positive, default=200_000,
                        help="people at the border on day 0 in the core loop")
    parser.add_argument("--core-days", type=positive, default=365)
    parser.add_argument("--skip-full-scale", action="store_true",
                        help="time only the core loop")
    parser.add_argument("--worker-seed", type=int, default=None, help=argparse.SUPPRESS)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.worker_seed is not None:
        print(json.dumps(worker(args.scenario, args.worker_seed, args.scale)))
        return 0
    report = environment(args)
    if not args.skip_full_scale:
        report.update(full_scale(args.scenario, args.scale, args.repeats))
    core = core_loop(args.core_n, args.core_days, args.repeats)
    report["core_loop"] = core
    report["speedup_vs_per_object_mesa"] = round(core["per_object_s"] / core["vectorised_s"], 1)
    if not args.skip_full_scale:
        report["meets_bars"] = bars(report)
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
