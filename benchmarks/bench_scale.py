"""Scale benchmark: does a coarse `--scale` estimate what full scale does?

    python benchmarks/bench_scale.py [--seeds 10] [--scales 10,50] [--workers 2]

Prints ONE JSON object on stdout; a progress line per run goes to stderr.

The historical scenario runs at full scale (scale 1: one agent per person) and
at each coarse scale K in `--scales` (one agent per K people), with seeds
0..seeds-1 at every scale, through `model.simulate()`. Runs go to a pool of
`--workers` processes (each run in a fresh process, biggest runs first); on
this project's 2-core machines the defaults take about 5 to 10 minutes.

Checks: for every output column (`model.recorder.COLUMNS`) and every fiscal
year (`RunResult.fiscal_years()`), the coarse runs' mean across seeds is set
against the full-scale runs. It passes if it lies within the full-scale seeds'
band [min, max] OR within 5 % of the full-scale mean, whichever is wider. So a
coarse scale passes where it is as good an estimate as one more full-scale
seed would be, or close enough that no one reading a fiscal-year total cares.

- Rate columns (`how == "rate"`: the repeat-encounter rate) are judged too:
  `fiscal_years()` recomputes them from each run's totals, so they are ratios
  of totals, not averages of daily rates.
- A column counted in agents (every column except rates and the few that are
  not multiplied by the scale: flights, the national court backlog) cannot
  resolve less than a few agents. Where the full-scale mean is above 0 but
  below `MIN_AGENTS` agents at the coarse scale (5 x K people), the check is
  not judged (`pass` is null and `why_not_judged` says so). Where it is 0 at
  full scale the coarse mean must be 0 too.
- Each check also reports `z`, the coarse-minus-full difference over its
  standard error from the seeds: |z| above 3 or so is a bias, not bad luck.

Noise: the cost of a coarse scale in precision. For a few headline figures
(FY2021 encounters, MPP enrolments over FY2019-2021, ...) the coefficient of
variation across seeds at each scale, next to full scale's; pure sampling
noise would grow it by about sqrt(K).
"""

import argparse
import json
import math
import multiprocessing
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from anywhere: make `model` importable
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from benchmarks._common import (  # noqa: E402
    OtherLoad, environment, model_code, positive, progress, scale_list)

SCENARIO = "historical"
FULL_SCALE = 1
REL_TOL = 0.05  # a coarse mean within 5 % of the full-scale mean passes
MIN_AGENTS = 5  # below this many agents at the coarse scale a column is not judged
# headline figures for the noise table: label -> (column, fiscal years summed); flows only
HEADLINES = {
    "encounters FY2021": ("encounters", (2021,)),
    "unique encountered FY2021": ("unique_encountered", (2021,)),
    "MPP enrolments FY2019-2021": ("mpp_enrollments", (2019, 2020, 2021)),
    "Title 42 expulsions FY2021": ("title42_expulsions", (2021,)),
    "releases FY2021": ("releases", (2021,)),
    "interior repatriations FY2020": ("interior_repatriations", (2020,)),
    "third-country transfers FY2020": ("third_country_transfers", (2020,)),
    "flight passengers FY2021": ("flight_passengers", (2021,)),
    "violence incidents FY2019-2021": ("violence_incidents", (2019, 2020, 2021)),
}


# -- runs ------------------------------------------------------------------------

def run_one(scale: int, seed: int) -> dict:
    """One historical run (in a pool worker): its fiscal-year table and cost."""
    import model

    started = time.perf_counter()
    result = model.simulate(SCENARIO, seed=seed, scale=scale)
    wall = time.perf_counter() - started
    table = result.fiscal_years().drop(columns=["days", "first", "last"])
    return {"scale": scale, "seed": seed, "wall_s": wall, "fiscal_years": table,
            "info": {k: result.info.get(k) for k in ("agents_created", "people_created",
                                                      "days_run", "code")}}


def run_all(scales: list[int], seeds: int, workers: int) -> dict[int, list[dict]]:
    """Every (scale, seed) run, `workers` at a time; results by scale, in seed order.

    Each run gets a fresh process (`max_tasks_per_child=1`, spawned), so no run
    sees another's heap or module state. The full-scale runs, the longest, are
    submitted first so the pool does not end on one long run.
    """
    jobs = [(scale, seed) for scale in sorted(scales) for seed in range(seeds)]
    results: dict[int, list[dict]] = {scale: [] for scale in scales}
    started = time.perf_counter()
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context,
                             max_tasks_per_child=1) as pool:
        futures = [pool.submit(run_one, scale, seed) for scale, seed in jobs]
        for done, future in enumerate(as_completed(futures), 1):
            run = future.result()
            results[run["scale"]].append(run)
            progress(f"[{done}/{len(jobs)}, {time.perf_counter() - started:.0f} s] "
                     f"{SCENARIO} scale {run['scale']} seed {run['seed']}: "
                     f"{run['wall_s']:.1f} s, {run['info']['agents_created']:,} agents")
    for runs in results.values():
        runs.sort(key=lambda r: r["seed"])
    return results


def stacked(runs: list[dict]) -> pd.DataFrame:
    """The runs' fiscal-year tables stacked: index (seed, fiscal_year), one column per output."""
    return pd.concat({r["seed"]: r["fiscal_years"] for r in runs}, names=["seed"])


# -- checks ----------------------------------------------------------------------

def judge(full: np.ndarray, coarse: np.ndarray, scale: int, counted_in_agents: bool) -> dict:
    """Set a coarse scale's per-seed values of one figure against full scale's.

    full, coarse: the figure in each seed's run (one fiscal year, one column).
    counted_in_agents: the column is a count of agents times the scale, so a
    mean under `MIN_AGENTS` agents at this scale is too small to judge.
    """
    full = np.asarray(full, dtype=float)
    coarse = np.asarray(coarse, dtype=float)
    full_mean, coarse_mean = full.mean(), coarse.mean()
    low = min(full.min(), full_mean * (1 - REL_TOL))
    high = max(full.max(), full_mean * (1 + REL_TOL))
    stderr = math.sqrt(_var_of_mean(full) + _var_of_mean(coarse))
    check = {
        "full_mean": _num(full_mean),
        "full_band": [_num(full.min()), _num(full.max())],
        "coarse_mean": _num(coarse_mean),
        "coarse_band": [_num(coarse.min()), _num(coarse.max())],
        "rel_diff": round((coarse_mean - full_mean) / full_mean, 4) if full_mean else None,
        "z": round((coarse_mean - full_mean) / stderr, 2) if stderr else None,
        "pass": bool(low <= coarse_mean <= high),
    }
    if counted_in_agents and 0 < full_mean < MIN_AGENTS * scale:
        check["pass"] = None
        check["why_not_judged"] = (
            f"full-scale mean {full_mean:,.1f} is under {MIN_AGENTS} agents at scale {scale} "
            f"({MIN_AGENTS * scale:,} people): too few agents to resolve")
    return check


def _var_of_mean(values: np.ndarray) -> float:
    return float(values.var(ddof=1)) / len(values) if len(values) > 1 else 0.0


def _num(value: float) -> float:
    """Round for the report: rates keep 4 decimals, counts 1."""
    return round(float(value), 4 if abs(value) < 10 else 1)


def compare(full: pd.DataFrame, coarse: pd.DataFrame, scale: int) -> dict:
    """Every column x fiscal year of one coarse scale: {column: {fiscal year: check}}."""
    from model.state.recorder import COLUMNS

    checks: dict[str, dict[str, dict]] = {}
    years = full.index.get_level_values("fiscal_year").unique()
    for column in COLUMNS:
        in_agents = column.how != "rate" and not getattr(column, "in_people", False)
        checks[column.name] = {
            str(year): judge(full.xs(year, level="fiscal_year")[column.name].to_numpy(),
                             coarse.xs(year, level="fiscal_year")[column.name].to_numpy(),
                             scale, in_agents)
            for year in years}
    return checks


def summarise(checks: dict[int, dict]) -> dict:
    """Share of judged checks passed (overall and per scale), and every failure."""
    failures, per_scale = [], {}
    for scale, columns in checks.items():
        verdicts = [(column, year, check) for column, years in columns.items()
                    for year, check in years.items()]
        judged = [v for v in verdicts if v[2]["pass"] is not None]
        passed = sum(check["pass"] for _, _, check in judged)
        per_scale[str(scale)] = {"checks": len(verdicts), "judged": len(judged), "passed": passed,
                                 "share_passed": round(passed / len(judged), 4) if judged else None}
        failures += [{"scale": scale, "column": column, "fiscal_year": year,
                      **{k: check[k] for k in ("full_mean", "full_band", "coarse_mean",
                                               "rel_diff", "z")}}
                     for column, year, check in judged if not check["pass"]]
    judged = sum(s["judged"] for s in per_scale.values())
    passed = sum(s["passed"] for s in per_scale.values())
    return {"checks": sum(s["checks"] for s in per_scale.values()), "judged": judged,
            "passed": passed, "share_passed": round(passed / judged, 4) if judged else None,
            "by_scale": per_scale, "failures": failures}


# -- noise -----------------------------------------------------------------------

def noise(tables: dict[int, pd.DataFrame]) -> dict:
    """Per headline figure and scale: coefficient of variation across seeds, and its
    ratio to full scale's (about sqrt(K) if all the noise is agents being drawn)."""
    report = {}
    for label, (column, years) in HEADLINES.items():
        mean, cv = {}, {}
        for scale, table in tables.items():
            picked = table[table.index.get_level_values("fiscal_year").isin(years)]
            per_seed = picked[column].groupby(level="seed").sum().to_numpy(dtype=float)
            mean[scale] = float(per_seed.mean())
            cv[scale] = (float(per_seed.std(ddof=1)) / mean[scale]
                         if len(per_seed) > 1 and mean[scale] else None)  # None: mean 0
        full = cv.get(FULL_SCALE)
        report[label] = {str(scale): {"mean": _num(mean[scale]),
                                      "cv": None if value is None else round(value, 4),
                                      "vs_full": (round(value / full, 2)
                                                  if value is not None and full else None),
                                      "sqrt_scale": round(math.sqrt(scale), 2)}
                         for scale, value in cv.items()}
    return report


# -- report ----------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=positive, default=10,
                        help="seeds 0..N-1 at every scale (default 10)")
    parser.add_argument("--scales", type=scale_list, default=scale_list("10,50"),
                        help="comma-separated coarse scales to check against scale 1 "
                             "(default 10,50)")
    parser.add_argument("--workers", type=positive, default=2,
                        help="runs at a time, each in its own process (default 2)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    coarse_scales = [k for k in args.scales if k != FULL_SCALE]
    if not coarse_scales:
        build_parser().error("--scales needs at least one scale other than 1")
    report = environment(scenario=SCENARIO, seeds=args.seeds, scales=coarse_scales,
                         workers=args.workers, rel_tol=REL_TOL, min_agents=MIN_AGENTS)
    load = OtherLoad()
    runs = run_all([FULL_SCALE, *coarse_scales], args.seeds, args.workers)
    report["machine_load"] = load.report()
    report["model_code"] = model_code(r["info"] for rs in runs.values() for r in rs)
    report["runs"] = {str(scale): {
        "n": len(rs),
        "wall_s_median": round(statistics.median(r["wall_s"] for r in rs), 2),
        "agents_created_median": statistics.median_low(r["info"]["agents_created"] for r in rs),
    } for scale, rs in runs.items()}
    tables = {scale: stacked(rs) for scale, rs in runs.items()}
    checks = {scale: compare(tables[FULL_SCALE], tables[scale], scale)
              for scale in coarse_scales}
    report["summary"] = summarise(checks)
    report["noise"] = noise(tables)
    report["checks"] = {str(scale): columns for scale, columns in checks.items()}
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
