"""The training runs of an emulator fit: parameter sets spread over the priors, each
simulated once, with every target's value (`calibration.emulator` learns from them).

    design = plan_design(setup, runs=2048, seed=0)       # unit coordinates and seeds
    table = run_design(setup, design, client, out=Path("runs/x/design.parquet"))

The sets are a scrambled Sobol sequence (`scipy.stats.qmc.Sobol`) on the priors' unit
coordinates (0 to 1 over each range, log scale for a log-uniform prior: the coordinates
pyabc samples too, `calibration.priors`), so a few thousand runs cover 15-20
parameters evenly. Run `i` uses seed `i` of `SeedSequence(seed)`, so the table is the
same bytes on one worker or many.

Finished runs go into the table as they come, in chunks written whole
(`model.files.write_parquet`): a design stopped by Ctrl-C or a lost worker keeps what
finished, and `run_design` on the same file runs only the rest. The first n sets of a
design of N > n are the design of n (Sobol points and seeds alike), so a file of a
longer design serves a shorter one.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from calibration.priors import Prior

SEED_COLUMN, RUN_COLUMN = "seed", "run"
UNIT_PREFIX = "unit:"  # the unit coordinate of a prior, beside its natural value


@dataclass(frozen=True)
class Design:
    """The parameter sets to run: `units[i]` is set i on the priors' unit coordinates
    (one column per prior, in the priors' order) and `seeds[i]` its seed."""

    priors: tuple[Prior, ...]
    units: np.ndarray
    seeds: np.ndarray

    def __len__(self) -> int:
        return len(self.seeds)

    def natural(self, i: int) -> dict[str, float]:
        """Set i as {abc_name: value}, as `calibration.priors.to_params` takes it."""
        return {p.abc_name: p.natural(float(u)) for p, u in zip(self.priors, self.units[i])}


def run_seeds(seed: int, n: int) -> np.ndarray:
    """Seed i of n runs: the first word of SeedSequence(seed)'s i-th child."""
    return np.array([int(s.generate_state(1)[0]) for s in np.random.SeedSequence(seed).spawn(n)],
                    dtype=np.int64)


def sobol_design(priors: tuple[Prior, ...], runs: int, seed: int) -> Design:
    """`runs` scrambled-Sobol sets over the priors' unit cube (the first `runs` points of
    the sequence: a power of two keeps its balance), seeds from `seed`."""
    from scipy.stats import qmc

    sampler = qmc.Sobol(d=len(priors), scramble=True, seed=np.random.default_rng(seed))
    units = sampler.random(runs)
    return Design(priors, units, run_seeds(seed + 1, runs))


def prior_design(priors: tuple[Prior, ...], runs: int, seed: int) -> Design:
    """`runs` independent draws from the priors (simulation-based calibration's true
    parameter sets), seeds from `seed`."""
    rng = np.random.default_rng(seed)
    return Design(priors, rng.random((runs, len(priors))), run_seeds(seed + 1, runs))


def design_frame(design: Design, rows: list[int], values: list[dict]) -> pd.DataFrame:
    """Finished runs as table rows: run number, seed, each prior's unit coordinate and
    natural value, and each target's simulated value (NaN where the run had none)."""
    records = []
    for i, measured in zip(rows, values):
        record = {RUN_COLUMN: i, SEED_COLUMN: int(design.seeds[i])}
        natural = design.natural(i)
        for p, u in zip(design.priors, design.units[i]):
            record[UNIT_PREFIX + p.name] = float(u)
            record[p.name] = natural[p.abc_name]
        record.update({k: float(v) for k, v in measured.items() if k != "seed"})
        records.append(record)
    return pd.DataFrame.from_records(records)


def read_finished(path: Path | None) -> pd.DataFrame:
    """The runs already in `path` (an empty table if there is no such file)."""
    if path is None or not Path(path).exists():
        return pd.DataFrame()
    return pd.read_parquet(path)


def run_design(model, design: Design, client, out: Path | None = None, chunk: int = 64,
               bar: Callable[[int], None] = lambda n: None) -> pd.DataFrame:
    """Simulate every set of `design` not yet in `out` with `model.run(params, seed)`
    (`calibration.fit.TargetModel`) on the Dask `client`; returns the whole table,
    sorted by run. `out` is rewritten whole after every `chunk` finished runs;
    `bar(n)` is told of every finished run."""
    from distributed import as_completed

    from model.files import write_parquet

    table = read_finished(out)
    if len(table):  # a longer design's file: its first runs are this design's (same seed)
        table = table[table[RUN_COLUMN] < len(design)]
    done = set(table[RUN_COLUMN].astype(int)) if len(table) else set()
    todo = [i for i in range(len(design)) if i not in done]
    bar(len(done))
    rows, values = [], []

    def save():
        nonlocal table, rows, values
        if rows:
            table = pd.concat([table, design_frame(design, rows, values)], ignore_index=True)
            rows, values = [], []
            if out is not None:
                write_parquet(out, table.sort_values(RUN_COLUMN).reset_index(drop=True))

    futures = {client.submit(model.run, design.natural(i), int(design.seeds[i]), pure=False): i
               for i in todo}
    try:
        for future in as_completed(futures):
            rows.append(futures[future])
            values.append(future.result())
            bar(1)
            if len(rows) >= chunk:
                save()
    finally:
        for future in futures:
            future.cancel()
        save()
    return table.sort_values(RUN_COLUMN).reset_index(drop=True)
