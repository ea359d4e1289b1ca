"""Sweep benchmark: many runs on Dask, and Dask's overhead against a plain loop.

    python benchmarks/bench_sweep.py [--runs 1000] [--scale 100] [--workers 2]
                                     [--loop-runs 100]

Prints ONE JSON object on stdout; progress goes to stderr.

- `sweep_wall_s`: `experiments.run_sweep` over a spec of `--runs` seeds of the
  historical scenario at `--scale`, on a fresh LocalCluster of `--workers` worker
  processes, writing one Parquet file per run: everything a user's
  `run.py sweep` does, the cluster's start included. Bar: 1,000 runs at scale
  100 on this 2-core machine in <= 300 s.
- `dask_overhead`: the first `--loop-runs` of those runs done twice on ONE core
  each way: in a plain loop in this process (`run_table` and `write_parquet`,
  the same per-run work, after one untimed run that loads the compiled kernels),
  and through `run_sweep` with one worker process (its start, imports and kernel
  loading included, so this is an upper bound). Overhead = Dask / loop - 1.
  Bar: <= 15 %.
"""

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from anywhere: make `model` importable
    sys.path.insert(0, str(ROOT))

from benchmarks._common import OtherLoad, environment, positive, progress  # noqa: E402
from experiments import parse_spec  # noqa: E402
from experiments.runner import run_sweep, run_table  # noqa: E402
from model.files import write_parquet  # noqa: E402

BARS = {"sweep_wall_s_1000_runs_scale_100": 300.0, "dask_overhead": 0.15}


def spec(runs: int, scale: int):
    """A sweep of `runs` seeds of historical at `scale` (nothing varied)."""
    text = (f'description = "bench_sweep"\nscenarios = ["historical"]\nseeds = {runs}\n'
            f"master_seed = 0\nscale = {scale}\n")
    return parse_spec(text, ROOT / "benchmarks" / "bench_sweep.toml")


def timed_sweep(runs: int, scale: int, workers: int, scratch: Path) -> float:
    """Wall time of a whole sweep on a fresh LocalCluster (start included)."""
    out = scratch / f"sweep-{runs}-{workers}"
    started = time.perf_counter()
    report = run_sweep(spec(runs, scale), out, workers=workers, progress=False)
    wall = time.perf_counter() - started
    if report.failed or len(report.finished) != runs:
        raise RuntimeError(f"sweep did not finish cleanly: {report}")
    shutil.rmtree(out)
    return wall


def timed_loop(runs: int, scale: int, scratch: Path) -> float:
    """Wall time of the same per-run work in a plain loop in this process."""
    tasks = spec(runs, scale).runs
    out = scratch / "loop"
    out.mkdir()
    run_table(tasks[0])  # loads the compiled kernels, as a worker does once
    started = time.perf_counter()
    for task in tasks:
        write_parquet(out / f"{task.run_id}.parquet", run_table(task))
    wall = time.perf_counter() - started
    shutil.rmtree(out)
    return wall


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=positive, default=1000)
    parser.add_argument("--scale", type=positive, default=100)
    parser.add_argument("--workers", type=positive, default=2)
    parser.add_argument("--loop-runs", type=positive, default=100)
    args = parser.parse_args(argv)
    load = OtherLoad()
    report = environment(**vars(args))
    with tempfile.TemporaryDirectory(prefix="bench-sweep-") as folder:
        scratch = Path(folder)
        progress(f"sweep: {args.runs} runs at scale {args.scale} on {args.workers} workers")
        sweep_s = timed_sweep(args.runs, args.scale, args.workers, scratch)
        progress(f"sweep: {sweep_s:.1f} s; plain loop over {args.loop_runs} runs")
        loop_s = timed_loop(args.loop_runs, args.scale, scratch)
        progress(f"loop: {loop_s:.1f} s; the same runs on one Dask worker")
        dask_s = timed_sweep(args.loop_runs, args.scale, 1, scratch)
        progress(f"one worker: {dask_s:.1f} s")
    report.update({
        "runs": args.runs, "scale": args.scale, "workers": args.workers,
        "sweep_wall_s": round(sweep_s, 2),
        "runs_per_s": round(args.runs / sweep_s, 2),
        "loop_runs": args.loop_runs,
        "loop_wall_s": round(loop_s, 2),
        "dask_one_worker_wall_s": round(dask_s, 2),
        "dask_overhead": round(dask_s / loop_s - 1, 3),
        "machine_load": load.report(),
    })
    full_bar = args.runs == 1000 and args.scale == 100
    report["meets_bars"] = {
        "sweep_1000_runs_scale_100_le_300s": (sweep_s <= BARS["sweep_wall_s_1000_runs_scale_100"]
                                              if full_bar else None),
        "dask_overhead_le_15pct": report["dask_overhead"] <= BARS["dask_overhead"],
    }
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
