"""The emulator fit: `run.py calibrate` (default `--method emulator`).

    setup = FitSetup(scale=20, budget=2048, out_dir=Path("runs/calibrate-x"))
    outcome = run_emulator_fit(setup, client, resume=False)

Three steps, each measured in `benchmarks/bench_sbc.py`:

1. the design (`calibration.design`): `setup.budget` parameter sets spread over the
   priors (scrambled Sobol), each run once on the Dask client at the fit's scale; kept
   in `design.parquet` in the fit's folder as they finish, so Ctrl-C loses nothing and
   `--resume` runs only the rest (a design made by other code, priors, targets, scale
   or seed is refused: `design.json` holds what it was made with);
2. the emulator (`calibration.emulator`), trained on those runs, with the covariance of
   what a run adds to its answer measured on runs it was not trained on;
3. MCMC (`calibration.mcmc`, emcee) on the emulator's likelihood of the targets' figures.

It writes what the ABC fit writes (`calibration.fit.write_posterior`): posterior.parquet
(one row per kept MCMC draw, equal weights, so every draw is nearly independent and
`calibration.posterior`'s draw i picks one) and calibrated.toml (the medians), plus
`emulator.json`: how well the emulator predicts each target on held-out runs (R^2),
the chain's effective sample size and autocorrelation time, and the wall times.

Why this method and not ABC-SMC: measured in `docs/fit.md` (simulation-based
calibration on synthetic data, `benchmarks/bench_sbc.py`).
"""

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from calibration.design import Design, read_finished, run_design, sobol_design
from calibration.distance import distance
from calibration.emulator import Emulator
from calibration.fit import FitError, FitSetup, TargetModel, write_posterior
from calibration.mcmc import Sample, sample_posterior
from calibration.targets import observed_values

DESIGN_FILE, DESIGN_IDENTITY, SUMMARY_FILE = "design.parquet", "design.json", "emulator.json"
DESIGN_SEED = 0  # the design's points and seeds come from here


@dataclass
class EmulatorOutcome:
    """How an emulator fit went: design runs finished (of the budget), the chain, the
    files written, whether Ctrl-C stopped it, and the wall time of each step."""

    runs: int = 0
    budget: int = 0
    sample: Sample | None = None
    files: dict[str, Path] = field(default_factory=dict)
    interrupted: bool = False
    seconds: dict[str, float] = field(default_factory=dict)


def design_identity(setup: FitSetup, seed: int) -> dict:
    """What a design's runs depend on: a design made otherwise is not resumed."""
    identity = setup.identity()
    return {"method": "emulator", "seed": seed, "budget": setup.budget, **identity}


def plan_design(setup: FitSetup, resume: bool, seed: int = DESIGN_SEED) -> Design:
    """Check the folder's design against this fit before anything runs: without `resume`
    there must be none (unless `setup.overwrite`: it is replaced); with it, it must be
    this fit's (same identity). Returns the design to run."""
    from calibration.emulator import MIN_RUNS

    if setup.budget < MIN_RUNS:
        raise FitError(f"--budget {setup.budget}: the emulator needs at least {MIN_RUNS} design "
                       f"runs (about a thousand for 18 parameters)")
    table, identity_file = setup.out_dir / DESIGN_FILE, setup.out_dir / DESIGN_IDENTITY
    identity = json.loads(json.dumps(design_identity(setup, seed), default=str))  # as stored
    if not resume and not setup.overwrite and (table.exists() or identity_file.exists()):
        raise FitError(f"{setup.out_dir}: holds a design already ({DESIGN_FILE}); add --resume "
                       f"to go on with it, or give --out a new folder")
    if resume:
        if not identity_file.exists():
            raise FitError(f"--resume: {identity_file} is missing: nothing to resume there")
        stored = json.loads(identity_file.read_text(encoding="utf-8"))
        if stored != identity:
            changed = sorted(k for k in identity if stored.get(k) != identity[k])
            raise FitError(f"--resume: {setup.out_dir}'s design was made with other "
                           f"{', '.join(changed)}; start a new fit in a new folder")
    return sobol_design(setup.priors, setup.budget, seed)


def run_emulator_fit(setup: FitSetup, client, resume: bool = False, seed: int = DESIGN_SEED,
                     write: Callable[[str], None] = print,
                     bar_stream=None) -> EmulatorOutcome:
    """Design, emulator, MCMC (module doc) into setup.out_dir. Ctrl-C during the design
    keeps the finished runs (`interrupted` set; nothing else written)."""
    from model.files import write_atomically
    from reports.progress import terminal_bar

    design = plan_design(setup, resume, seed)
    outcome = EmulatorOutcome(budget=len(design))
    setup.out_dir.mkdir(parents=True, exist_ok=True)
    if not resume:  # --overwrite: the old fit's design goes with it
        (setup.out_dir / DESIGN_FILE).unlink(missing_ok=True)
    write_atomically(setup.out_dir / DESIGN_IDENTITY,
                     json.dumps(design_identity(setup, seed), default=str, indent=1).encode())
    started = time.monotonic()
    with terminal_bar(len(design), "design runs", "run", bar_stream) as bar:
        try:
            table = run_design(TargetModel(setup), design, client, setup.out_dir / DESIGN_FILE,
                               bar=bar.update if bar is not None else lambda n: None)
        except KeyboardInterrupt:
            outcome.interrupted = True
            outcome.runs = len(read_finished(setup.out_dir / DESIGN_FILE))
            return outcome
    outcome.runs = len(table)
    outcome.seconds["design"] = time.monotonic() - started
    write(f"design: {outcome.runs} runs at scale {setup.scale} "
          f"({outcome.seconds['design'] / 60:.1f} min)")
    started = time.monotonic()
    emulator = Emulator.train(setup.priors, setup.targets, table, setup.scale, seed)
    outcome.seconds["emulator"] = time.monotonic() - started
    write(f"emulator: {len(emulator.ids)} targets, held-out R^2 median "
          f"{np.median(emulator.held_out_r2):.2f} (lowest {emulator.held_out_r2.min():.2f}, "
          f"{emulator.ids[int(np.argmin(emulator.held_out_r2))]}); "
          f"{outcome.seconds['emulator']:.0f} s")
    started = time.monotonic()
    likelihood = emulator.likelihood(observed_values(setup.targets, setup.scale), setup.targets)
    outcome.sample = sample = sample_posterior(likelihood, len(setup.priors), seed=seed)
    outcome.seconds["mcmc"] = time.monotonic() - started
    write(f"MCMC: {len(sample.units)} draws kept, effective sample size {sample.effective:.0f}, "
          f"autocorrelation {sample.autocorrelation:.0f} steps, acceptance "
          f"{sample.acceptance:.2f}; {outcome.seconds['mcmc']:.0f} s")
    posterior = posterior_table(setup, emulator, sample)
    how = (f"emulator of {outcome.runs} design runs, MCMC: {len(sample.units)} draws, "
           f"effective sample size {sample.effective:.0f}")
    outcome.files = write_posterior(setup, posterior, how)
    summary = setup.out_dir / SUMMARY_FILE
    write_atomically(summary, json.dumps(summary_of(emulator, sample, outcome), indent=1).encode())
    outcome.files["summary"] = summary
    return outcome


def posterior_table(setup: FitSetup, emulator: Emulator, sample: Sample) -> pd.DataFrame:
    """The kept draws as posterior.parquet's rows: natural values, equal weights, the
    emulated distance to the targets (`calibration.distance`), generation 0."""
    predicted = emulator.natural(emulator.predict(sample.units))
    rows = []
    for units, values in zip(sample.units, predicted):
        row = {p.name: p.natural(float(u)) for p, u in zip(setup.priors, units)}
        row["distance"] = distance(setup.targets, dict(zip(emulator.ids, values)), setup.scale)
        rows.append(row)
    frame = pd.DataFrame(rows)
    frame.insert(len(setup.priors), "weight", 1.0 / len(frame))
    frame["generation"] = 0
    return frame[[p.name for p in setup.priors] + ["weight", "distance", "generation"]]


def summary_of(emulator: Emulator, sample: Sample, outcome: EmulatorOutcome) -> dict:
    return {"design_runs": outcome.runs,
            "emulated_targets": dict(zip(emulator.ids, np.round(emulator.held_out_r2, 4).tolist())),
            "draws": len(sample.units), "effective_sample_size": round(sample.effective, 1),
            "autocorrelation_steps": round(sample.autocorrelation, 1), "steps": sample.steps,
            "acceptance": round(sample.acceptance, 3),
            "seconds": {k: round(v, 1) for k, v in outcome.seconds.items()}}
