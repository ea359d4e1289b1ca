"""Simulation-based calibration of the fitting methods: does the posterior hold?

    python benchmarks/bench_sbc.py [--method emulator] [--runs 2048] [--sets 25] [--scale 20]
    python benchmarks/bench_sbc.py --method abc --budget 512 --population 64 --sets 8 --scale 100

Prints ONE JSON object on stdout; progress goes to stderr.

`--sets` parameter sets are drawn from the priors (calibration/priors.toml) and each is
run once (at `--scale`, on its own seed): those runs' target values are synthetic
figures whose true parameters are known. Each method then fits each synthetic set as it
would fit the real figures, and the benchmark counts, over every (set, parameter) pair,
how often the posterior's 90 % interval holds the true value (`coverage`: 0.90 if the
posterior is honest; below it the intervals are too narrow) and how many effectively
distinct draws the posterior holds (`effective_draws`).

- `emulator` (`calibration.emulator_fit`): trained once on `--runs` design runs, then
  MCMC per set: the design's cost is paid once for every set (amortized).
- `abc` (`calibration.fit`, pyabc ABC-SMC): a whole fit per set, `--budget` runs each,
  population `--population`; too costly at the emulator's scale and budget, so it runs
  coarser (say so when quoting it).

`--work DIR` keeps the runs (design.parquet, truths.parquet): a second call with the same
flags reuses them (the timings then say so).
"""

import argparse
import json
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from benchmarks._common import environment, positive, progress  # noqa: E402

TRUTH_SEED = 1000  # the synthetic sets' parameters and seeds (the design uses DESIGN_SEED)


def coverage_of(lows: np.ndarray, highs: np.ndarray, truths: np.ndarray) -> np.ndarray:
    """Whether each true value lies in its interval, per (set, parameter)."""
    return (lows <= truths) & (truths <= highs)


def emulator_sbc(setup, client, args, truths, truth_units, work: Path) -> dict:
    from calibration.design import run_design, sobol_design
    from calibration.emulator import Emulator
    from calibration.emulator_fit import DESIGN_SEED
    from calibration.fit import TargetModel
    from calibration.mcmc import sample_posterior

    started = time.perf_counter()
    design = sobol_design(setup.priors, args.runs, DESIGN_SEED)
    progress(f"design: {args.runs} runs at scale {args.scale}")
    table = run_design(TargetModel(setup), design, client, work / "design.parquet")
    design_s = time.perf_counter() - started
    started = time.perf_counter()
    emulator = Emulator.train(setup.priors, setup.targets, table, setup.scale, DESIGN_SEED)
    train_s = time.perf_counter() - started
    progress(f"emulator: {len(emulator.ids)} targets, held-out R^2 median "
             f"{np.median(emulator.held_out_r2):.3f}, {train_s:.0f} s")
    lows, highs, effective, fit_s = [], [], [], []
    for k, row in enumerate(truths.to_dict("records")):
        started = time.perf_counter()
        like = emulator.likelihood({t: row[t] for t in emulator.ids if t in row}, exact=True)
        sample = sample_posterior(like, len(setup.priors), seed=k)
        fit_s.append(time.perf_counter() - started)
        lows.append(np.quantile(sample.units, 0.05, axis=0))
        highs.append(np.quantile(sample.units, 0.95, axis=0))
        effective.append(sample.effective)
        covered = coverage_of(lows[-1], highs[-1], truth_units[k]).mean()
        progress(f"set {k + 1}/{len(truths)}: {covered:.0%} covered, effective draws "
                 f"{sample.effective:.0f}, {fit_s[-1]:.0f} s")
    return {"design_runs": len(table), "design_s": round(design_s, 1),
            "emulator_train_s": round(train_s, 1),
            "emulator_held_out_r2": {"median": round(float(np.median(emulator.held_out_r2)), 4),
                                     "min": round(float(emulator.held_out_r2.min()), 4)},
            "fit_s_per_set": round(float(np.median(fit_s)), 1),
            "simulations": len(table) + len(truths),
            "lows": np.array(lows), "highs": np.array(highs), "effective": effective}


def abc_sbc(setup, client, args, truths, truth_units, work: Path) -> dict:
    import pyabc

    from calibration.fit import TargetDistance, TargetModel, _quiet_pyabc, Progress
    from calibration.priors import abc_prior
    from calibration.targets import measurable

    quiet = _quiet_pyabc(Progress(args.budget, lambda: 0, lambda line: None))
    chosen = measurable(setup.targets, setup.scale)
    lows, highs, effective, fit_s, sims = [], [], [], [], 0
    try:
        for k, row in enumerate(truths.to_dict("records")):
            started = time.perf_counter()
            synthetic = tuple(replace(t, value=row[t.id], kind="about") for t in chosen
                              if np.isfinite(row.get(t.id, np.nan)) and row[t.id] != 0)
            abc = pyabc.ABCSMC(TargetModel(setup), abc_prior(setup.priors),
                               TargetDistance(synthetic, setup.scale),
                               population_size=args.population,
                               sampler=pyabc.sampler.DaskDistributedSampler(client))
            abc.new(f"sqlite:///{work / f'abc-{k}.db'}", {t.id: t.value for t in synthetic})
            history = abc.run(max_total_nr_simulations=args.budget)
            frame, weights = history.get_distribution()
            weights = np.asarray(weights) / np.sum(weights)
            units = frame[[p.abc_name for p in setup.priors]].to_numpy()
            lows.append([_weighted_quantile(units[:, j], weights, 0.05) for j in range(units.shape[1])])
            highs.append([_weighted_quantile(units[:, j], weights, 0.95) for j in range(units.shape[1])])
            effective.append(float(1.0 / np.square(weights).sum()))
            sims += history.total_nr_simulations
            fit_s.append(time.perf_counter() - started)
            covered = coverage_of(np.array(lows[-1]), np.array(highs[-1]), truth_units[k]).mean()
            progress(f"set {k + 1}/{len(truths)}: {covered:.0%} covered, effective draws "
                     f"{effective[-1]:.0f}, {history.total_nr_simulations} runs, {fit_s[-1]:.0f} s")
    finally:
        quiet()
    return {"budget_per_set": args.budget, "population": args.population,
            "fit_s_per_set": round(float(np.median(fit_s)), 1),
            "simulations": sims + len(truths),
            "lows": np.array(lows), "highs": np.array(highs), "effective": effective}


def _weighted_quantile(values, weights, q):
    from calibration.fit import weighted_quantile

    return weighted_quantile(values, weights, q)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--method", choices=("emulator", "abc"), default="emulator")
    parser.add_argument("--runs", type=positive, default=2048, help="emulator: design runs")
    parser.add_argument("--budget", type=positive, default=512, help="abc: runs per set")
    parser.add_argument("--population", type=positive, default=64, help="abc: population")
    parser.add_argument("--sets", type=positive, default=25)
    parser.add_argument("--scale", type=positive, default=20)
    parser.add_argument("--workers", type=positive, default=2)
    parser.add_argument("--work", type=Path, default=None,
                        help="keep the runs here (reused by a second call)")
    args = parser.parse_args()

    from calibration.design import UNIT_PREFIX, prior_design, run_design
    from calibration.fit import FitSetup, TargetModel
    from experiments.runner import close_client, open_client

    work = args.work or Path(tempfile.mkdtemp(prefix="bench-sbc-"))
    work.mkdir(parents=True, exist_ok=True)
    setup = FitSetup(scale=args.scale).load()
    started = time.perf_counter()
    client, cluster = open_client(args.workers)
    try:
        truth_design = prior_design(setup.priors, args.sets, TRUTH_SEED)
        progress(f"{args.sets} synthetic sets at scale {args.scale}")
        truths = run_design(TargetModel(setup), truth_design, client,
                            work / f"truths-{args.scale}.parquet")
        truth_units = truths[[UNIT_PREFIX + p.name for p in setup.priors]].to_numpy()
        fit = (emulator_sbc if args.method == "emulator" else abc_sbc)(
            setup, client, args, truths, truth_units, work)
    finally:
        close_client(client, cluster)
    covered = coverage_of(fit.pop("lows"), fit.pop("highs"), truth_units)
    effective = np.array(fit.pop("effective"))
    result = {
        "benchmark": "sbc", "method": args.method, "scale": args.scale, "sets": args.sets,
        "parameters": len(setup.priors),
        "coverage_90": round(float(covered.mean()), 4),
        "coverage_90_by_parameter": {p.name: round(float(c), 3)
                                     for p, c in zip(setup.priors, covered.mean(axis=0))},
        "effective_draws": {"min": round(float(effective.min()), 1),
                            "median": round(float(np.median(effective)), 1)},
        **fit, "wall_s": round(time.perf_counter() - started, 1), "environment": environment(),
    }
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
