"""Speed benchmark: the historical run at several scales, and the core loop against per-object Mesa.

    taskset -c 0 python benchmarks/bench_model.py [--scales 1,10,100,1000] [--repeats 5]
                                                  [--skip-full-scale]
                                                  [--core-n 200000] [--core-days 365]
    python benchmarks/bench_model.py --ref REV [--scales 10,100] [--repeats 5]
                                     [--fresh | --together]

Prints ONE JSON object on stdout; progress goes to stderr. `taskset -c 0` pins
it to one core so the numbers mean "one core"; the script itself does not need it.

- Model runs: `model.simulate(SCENARIO, seed=i, scale=K)` for every scale K in
  `--scales` and i = 0..repeats-1, each in a fresh child process (this script
  with `--worker-seed`), so each run's peak memory (`ru_maxrss` of the child)
  is its own and no run inherits another's warm caches or heap. The repeats go
  round the scales (seed 0 at every scale, then seed 1, ...) so a slow spell on
  a noisy machine hits every scale alike. Wall time is the `simulate()` call:
  loading the scenario, building and running the model and tabulating its
  output; not the imports or the start of the interpreter, nor the child's
  set-up: one untimed coarse run (scale 1000) that loads the compiled (numba)
  kernels from the on-disk cache, as a sweep's worker process does once
  (`setup_s_median` reports imports plus that run).
- Warm-up: before anything is timed, one untimed child runs the coarsest scale
  with seed 0. Numba-compiled functions (with an on-disk cache) compile the
  first time they run after a change; the warm-up pays that and fills the
  cache, so the timed children measure a run, not a compilation. Its set-up
  time is `first_setup_s` (the compile cost when the cache was cold).
- Core loop (`benchmarks/core_loop.py`): the same loop column-wise with the
  project's `Population` and `DueQueue`, and as one Mesa agent per person. Both
  run in this process on identical n, days and seed, alternating which goes
  first in each repeat so a noisy machine penalises neither; their totals are
  checked to agree before any time is reported.

Figures: `wall_s_by_scale` (medians), `runs_s_by_scale` (every run),
`agents_created_by_scale` (medians), `per_day_overhead_ms` (the scale-1000
median per simulated day: at that scale there are few agents, so it is mostly
the fixed cost of a day), `peak_rss_mib` (max over the full-scale children),
`speedup_vs_per_object_mesa`, `meets_bars` (null where the figure was not
measured, e.g. scale 100 left out of `--scales`), and `machine_load`: how many
cores other processes kept busy meanwhile (see `_common.OtherLoad`); times
taken while that was well above 0 are pessimistic.

Side by side (`--ref REV`): this checkout (with any uncommitted edits) against
the git revision REV, whose files are written once into
~/.cache/border-sim-revisions/<commit>/ (`_common.revision_tree`; kept, with
their compiled kernels, for the next comparison) and run with this interpreter,
so only the project's code differs. Each side runs in one long-lived child
process, set up as a sweep's worker is (imports, then an untimed coarse run
that loads, or on a cold cache compiles, its numba kernels); then, for each of
`--repeats` rounds and each scale, each side runs the same seed, the side that
goes first alternating round by round, so a busy spell on a shared machine hits
both. With `--fresh`, every run is instead a fresh process (set up, then one
run): fewer pairs for the same time, but no run follows another in its process.
With `--together` (needs two cores), the two sides' runs of a round go at the
same time, each process pinned to a core of its own and the cores swapped
round by round: a change in the host's speed, which on these shared machines
drifts by tens of per cent over minutes while nothing else runs, then meets
both runs of a pair alike, where alternation leaves it between them. (The two
runs share the memory bus and the last-level cache, as a sweep's workers do;
the report's `together_on_cores` names the two cores, null when alternated.)
On a quiet machine the pairs' quartiles came out about a third narrower than
alternated ones (docs/performance.md); run it with nothing else busy, since
other work on either core lands on one side of a pair only.
Each run times `simulate()` in wall and CPU seconds (`time.process_time`, which
other processes' load inflates less than wall). Figures per scale: each side's
median and minimum, every round's `new/old` ratio with their median
(`ratio_cpu_median`, `ratio_wall_median`) and spread (quartiles, range), the
ratio of the two sides' minimum times (`ratio_cpu_of_min`: on a loaded machine
the minimum is the run least disturbed), and `within_3_percent` (the CPU
ratio's median <= 1.03, issue 17's bar). The core loop is not run in this mode.
"""

import argparse
import gc
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from anywhere: make `model` importable
    sys.path.insert(0, str(ROOT))

from benchmarks._common import (  # noqa: E402
    OtherLoad, environment, model_code, positive, progress, revision_tree, scale_list)
from benchmarks.core_loop import assert_same_work, run_per_object, run_vectorised  # noqa: E402

FULL_SCALE = 1
OVERHEAD_SCALE = 1000  # `per_day_overhead_ms` is taken at this scale
WARM_SCALE = 1000  # each child's untimed set-up run
BARS = {
    "scale_100_wall_s": 0.5,  # historical at scale 100, median wall time
    "full_scale_wall_s": 6.0,  # historical at scale 1
    "peak_rss_mib": 1024.0,  # max over the full-scale runs
    "speedup_vs_per_object_mesa": 50.0,
}


# -- model runs, one child process per run ---------------------------------------

def worker(scenario: str, seed: int, scale: int) -> dict:
    """One run in this (fresh) process; what the parent needs to know.

    Before the clock starts, the process sets up as a sweep's worker does once:
    it imports the model and loads its compiled kernels (numba, from the on-disk
    cache) by running the scenario at a coarse scale; `setup_s` reports that.
    """
    setup = time.perf_counter()
    import model  # imported before the clock starts: not part of a run's cost

    model.simulate(scenario, seed=seed + 1, scale=WARM_SCALE)  # loads every kernel
    setup_s = time.perf_counter() - setup
    started = time.perf_counter()
    result = model.simulate(scenario, seed=seed, scale=scale)
    wall = time.perf_counter() - started
    info = result.info
    return {
        "seed": seed,
        "scale": scale,
        "wall_s": wall,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,  # KiB on Linux
        "agents_created": info["agents_created"],
        "people_created": info["people_created"],
        "days_run": info["days_run"],
        "code": info.get("code"),
        "setup_s": setup_s,
    }


def run_child(scenario: str, seed: int, scale: int) -> dict:
    """Run `worker` in a fresh interpreter (same Python, same CPU affinity)."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker-seed", str(seed),
           "--worker-scale", str(scale), "--scenario", scenario]
    done = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def by_scale(scenario: str, scales: list[int], repeats: int) -> dict:
    """Warm up once, then time `repeats` runs at each scale, each in its own child."""
    warm = run_child(scenario, 0, max(scales))
    progress(f"warm-up {scenario} scale {warm['scale']} seed 0 (untimed): {warm['wall_s']:.2f} s")
    runs: dict[int, list[dict]] = {scale: [] for scale in scales}
    for seed in range(repeats):
        for scale in scales:
            run = run_child(scenario, seed, scale)
            runs[scale].append(run)
            progress(f"{scenario} scale {scale} seed {seed}: {run['wall_s']:.2f} s, "
                     f"{run['peak_rss_mib']:.0f} MiB, {run['agents_created']:,} agents")
    wall = {scale: statistics.median(r["wall_s"] for r in rs) for scale, rs in runs.items()}
    days = statistics.median_low(r["days_run"] for rs in runs.values() for r in rs)
    report = {
        "wall_s_by_scale": {str(k): round(v, 3) for k, v in wall.items()},
        "runs_s_by_scale": {str(k): [round(r["wall_s"], 3) for r in rs] for k, rs in runs.items()},
        "agents_created_by_scale": {str(k): statistics.median_low(r["agents_created"] for r in rs)
                                    for k, rs in runs.items()},
        "days_run": days,
        "per_day_overhead_ms": (round(1000 * wall[OVERHEAD_SCALE] / days, 3)
                                if OVERHEAD_SCALE in wall else None),
        "peak_rss_mib": None,  # at full scale, below
        "peak_rss_mib_runs": None,
        "peak_rss_mib_by_scale": {str(k): round(max(r["peak_rss_mib"] for r in rs), 1)
                                  for k, rs in runs.items()},
        "setup_s_median": round(statistics.median(
            r["setup_s"] for rs in runs.values() for r in rs), 3),
        "first_setup_s": round(warm["setup_s"], 3),
        "model_code": model_code([warm, *(r for rs in runs.values() for r in rs)]),
    }
    if FULL_SCALE in runs:
        full = runs[FULL_SCALE]
        report["peak_rss_mib"] = round(max(r["peak_rss_mib"] for r in full), 1)
        report["peak_rss_mib_runs"] = [round(r["peak_rss_mib"], 1) for r in full]
        report["people_created_full_scale"] = statistics.median_low(
            r["people_created"] for r in full)
    return report


# -- side by side: this checkout against another revision --------------------------

# Run inside the code under test (this checkout or the revision's folder, as
# PYTHONPATH), so it uses only `model.simulate`, which every revision has. It sets
# up (imports, then an untimed coarse run that loads every compiled kernel) and
# prints "ready"; then, for each line "seed scale" it reads, runs and prints one
# JSON line. Run with --fresh, it is sent one line and then closed.
AB_WORKER = r"""
import gc, json, sys, time
started = time.perf_counter()
import model
scenario, warm_scale = sys.argv[1], int(sys.argv[2])
model.simulate(scenario, seed=1, scale=warm_scale)  # loads every kernel (untimed)
print(json.dumps({"ready": True, "setup_s": time.perf_counter() - started}), flush=True)
for line in sys.stdin:
    seed, scale = map(int, line.split())
    gc.collect()  # the last run's garbage is not this run's cost
    cpu, wall = time.process_time(), time.perf_counter()
    result = model.simulate(scenario, seed=seed, scale=scale)
    print(json.dumps({"wall_s": time.perf_counter() - wall, "cpu_s": time.process_time() - cpu,
                      "days_run": result.info["days_run"],
                      "agents_created": result.info["agents_created"],
                      "code": result.info.get("code")}), flush=True)
"""


class TreeWorker:
    """A child process running the code at `tree` (see AB_WORKER): set up once, then
    one timed `simulate()` per `run` call."""

    def __init__(self, tree: Path, scenario: str):
        self.proc = subprocess.Popen(
            [sys.executable, "-c", AB_WORKER, scenario, str(WARM_SCALE)], cwd=tree,
            env={**os.environ, "PYTHONPATH": str(tree)}, stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, text=True)
        self.setup_s = self.result()["setup_s"]

    def result(self) -> dict:
        """The child's next line: its set-up, or the run submitted last."""
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the benchmark's child process ended (exit {self.proc.wait()})")
        return json.loads(line)

    def run(self, seed: int, scale: int) -> dict:
        self.submit(seed, scale)
        return self.result()

    def submit(self, seed: int, scale: int) -> None:
        """Start one run; `result()` waits for it (so two workers can run at once)."""
        self.proc.stdin.write(f"{seed} {scale}\n")
        self.proc.stdin.flush()

    def pin(self, core: int) -> None:
        """Keep every thread of the child on CPU `core`."""
        for task in Path(f"/proc/{self.proc.pid}/task").iterdir():
            try:
                os.sched_setaffinity(int(task.name), {core})
            except ProcessLookupError:  # a thread that has just ended
                pass

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def run_fresh(tree: Path, scenario: str, seed: int, scale: int) -> dict:
    """One timed run of the code at `tree` in a fresh interpreter (set up as a sweep's
    worker process does, then one run)."""
    worker = TreeWorker(tree, scenario)
    try:
        return {**worker.run(seed, scale), "setup_s": worker.setup_s}
    finally:
        worker.close()


def _spread(values: list[float]) -> dict:
    """Median, quartiles and range of `values`, rounded."""
    values = sorted(values)
    q1, _, q3 = statistics.quantiles(values, n=4, method="inclusive") if len(values) > 1 else (values * 3)
    return {"median": round(statistics.median(values), 3), "q1": round(q1, 3),
            "q3": round(q3, 3), "min": round(values[0], 3), "max": round(values[-1], 3)}


def two_cores() -> list[int]:
    """The first two CPUs this process may run on (for `--together`), or a clear error."""
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < 2:
        raise SystemExit(f"bench_model.py: --together needs two cores; this process may use "
                         f"{len(cores)} (drop taskset, or give it two cores)")
    return cores[:2]


def side_by_side(ref: str, scenario: str, scales: list[int], repeats: int,
                 fresh: bool = False, together: bool = False) -> dict:
    """This checkout ("new") against revision `ref` ("old"): alternated run by run, or
    (`together`) run at the same time on a core each."""
    cores = two_cores() if together else None
    with revision_tree(ref, keep=True) as (old_tree, commit):
        trees = {"new": ROOT, "old": old_tree}
        workers: dict[str, TreeWorker] = {}
        try:
            for side, tree in trees.items():  # warm: compiles the kernels on a cold cache
                if fresh:
                    run_fresh(tree, scenario, 0, WARM_SCALE)
                else:
                    workers[side] = TreeWorker(tree, scenario)
                progress(f"{side} set up")

            def run(side: str, seed: int, scale: int) -> dict:
                if fresh:
                    return run_fresh(trees[side], scenario, seed, scale)
                return workers[side].run(seed, scale)

            runs = {scale: {"new": [], "old": []} for scale in scales}
            for seed in range(repeats):
                order = ["new", "old"] if seed % 2 == 0 else ["old", "new"]
                for scale in scales:
                    if together:  # new on the first core in even rounds, the second in odd
                        for side, core in zip(order, cores):
                            workers[side].pin(core)
                        for side in order:
                            workers[side].submit(seed, scale)
                        results = {side: workers[side].result() for side in order}
                    else:
                        results = {side: run(side, seed, scale) for side in order}
                    for side in order:
                        result = results[side]
                        runs[scale][side].append(result)
                        progress(f"round {seed} scale {scale} {side}: "
                                 f"{result['cpu_s']:.3f} s CPU, {result['wall_s']:.3f} s wall")
                    new, old = runs[scale]["new"][-1], runs[scale]["old"][-1]
                    if (new["days_run"], new["agents_created"]) != (old["days_run"],
                                                                    old["agents_created"]):
                        progress(f"  note: the two sides made different runs at scale {scale} "
                                 f"({new['agents_created']} vs {old['agents_created']} agents)")
        finally:
            for worker in workers.values():
                worker.close()
    report: dict = {"ref": ref, "ref_commit": commit[:10], "fresh_process_per_run": fresh,
                    "together_on_cores": cores,
                    "by_scale": {},
                    # one fingerprint a side; a list if this checkout changed meanwhile
                    "model_code": {side: model_code([r for s in runs.values() for r in s[side]])
                                   for side in ("new", "old")}}
    for scale, sides in runs.items():
        figures: dict = {}
        for clock in ("cpu_s", "wall_s"):
            name = clock.removesuffix("_s")
            for side in ("old", "new"):
                times = [r[clock] for r in sides[side]]
                figures[f"{side}_{clock}_median"] = round(statistics.median(times), 3)
                figures[f"{side}_{clock}_min"] = round(min(times), 3)
            ratios = [n[clock] / o[clock] for n, o in zip(sides["new"], sides["old"])]
            figures[f"ratios_{name}"] = [round(x, 3) for x in ratios]
            figures[f"ratio_{name}_median"] = round(statistics.median(ratios), 3)
            figures[f"ratio_{name}_spread"] = _spread(ratios)
            figures[f"ratio_{name}_of_min"] = round(
                figures[f"new_{clock}_min"] / figures[f"old_{clock}_min"], 3)
        figures["same_runs"] = all(
            (n["days_run"], n["agents_created"]) == (o["days_run"], o["agents_created"])
            for n, o in zip(sides["new"], sides["old"]))
        figures["within_3_percent"] = figures["ratio_cpu_median"] <= 1.03
        report["by_scale"][str(scale)] = figures
    return report


# -- core loop, both implementations in this process ----------------------------

def core_loop(n: int, days: int, repeats: int) -> dict:
    """Time both implementations `repeats` times each, alternating which runs first
    (after an untimed small run that loads the compiled queue kernels)."""
    run_vectorised(1000, 10, seed=0)
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

def bars(report: dict) -> dict:
    """Which of the project's speed and memory targets this run meets (None: not measured)."""
    def at_most(value, bar):
        return None if value is None else value <= bar

    walls = report.get("wall_s_by_scale", {})
    speedup = report["speedup_vs_per_object_mesa"]
    return {
        "scale_100_wall_s_le_0.5": at_most(walls.get("100"), BARS["scale_100_wall_s"]),
        "full_scale_wall_s_le_6": at_most(walls.get(str(FULL_SCALE)), BARS["full_scale_wall_s"]),
        "peak_rss_le_1GiB": at_most(report.get("peak_rss_mib"), BARS["peak_rss_mib"]),
        "speedup_ge_50x": speedup >= BARS["speedup_vs_per_object_mesa"],
    }


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scales", type=scale_list, default=scale_list("1,10,100,1000"),
                        help="comma-separated scales to time (default 1,10,100,1000; "
                             "\"\" for none: time only the core loop)")
    parser.add_argument("--repeats", type=positive, default=5,
                        help="timed runs per scale, and core-loop repeats (default 5)")
    parser.add_argument("--skip-full-scale", action="store_true",
                        help="leave scale 1 out of --scales (no full-scale time or peak RSS)")
    parser.add_argument("--scenario", default="historical")
    parser.add_argument("--core-n", type=positive, default=200_000,
                        help="people at the border on day 0 in the core loop")
    parser.add_argument("--core-days", type=positive, default=365)
    parser.add_argument("--ref", metavar="REV",
                        help="time this checkout against git revision REV side by side "
                             "(one process a side, runs alternated; no core loop)")
    pairing = parser.add_mutually_exclusive_group()
    pairing.add_argument("--fresh", action="store_true",
                         help="with --ref: a fresh process for every run (set up, then one "
                              "run), not one long-lived process a side")
    pairing.add_argument("--together", action="store_true",
                         help="with --ref: run the two sides' runs of a round at the same "
                              "time, each on a core of its own (cores swapped every round)")
    parser.add_argument("--worker-seed", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--worker-scale", type=positive, default=1, help=argparse.SUPPRESS)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.worker_seed is not None:
        print(json.dumps(worker(args.scenario, args.worker_seed, args.worker_scale)))
        return 0
    if (args.fresh or args.together) and not args.ref:
        build_parser().error("--fresh and --together need --ref")
    scales = [k for k in args.scales if not (args.skip_full_scale and k == FULL_SCALE)]
    report = environment(repeats=args.repeats, scenario=args.scenario, scales=scales,
                         bars=BARS)
    load = OtherLoad()
    if args.ref:
        if not scales:
            build_parser().error("--ref needs at least one scale in --scales")
        report.update(side_by_side(args.ref, args.scenario, scales, args.repeats, args.fresh,
                                   args.together))
        report["machine_load"] = load.report()
        print(json.dumps(report, indent=2))
        return 0
    if scales:
        report.update(by_scale(args.scenario, scales, args.repeats))
    core = core_loop(args.core_n, args.core_days, args.repeats)
    report["core_loop"] = core
    report["speedup_vs_per_object_mesa"] = round(core["per_object_s"] / core["vectorised_s"], 1)
    report["meets_bars"] = bars(report)
    report["machine_load"] = load.report()
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # Ctrl-C: no traceback (a kept revision folder stays whole)
        sys.exit(130)
