"""`simulate()`: one run in memory, from a scenario and plain-dict overrides to tables.

Every consumer (the CLI, the tests, sweeps, the browser, calibration) runs the
model through here and gets a `RunResult`; nothing is read back from disk.

    >>> from model import simulate
    >>> result = simulate("historical", seed=1, scale=50,
    ...                   params={"apprehension_prob": {"tucson": 0.8}},
    ...                   policies={"title42": {"end": "2021-06-30"}})
    >>> result.monthly.set_index("month").loc["2021-05", "encounters"]
"""

import functools
import hashlib
import platform
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from model.actors.flights import FlightRecord
from model.model import BorderModel
from model.state.recorder import COLUMNS
from model.config.scale_check import check_scale
from model.config.scenario import LoadedScenario, load_scenario

FLIGHT_COLUMNS = list(FlightRecord._fields)  # flights.csv: one row per scheduled flight
# what a fiscal-year total means for each aggregation
_FY_HOW = {"sum": "sum", "mean": "mean", "last": "last"}


@dataclass
class RunResult:
    """One finished run: its tables (in people) and what defines it.

    `monthly`, `daily` and `flights` are exactly what `run.py run` writes as
    monthly.csv, daily.parquet and flights.csv; `scenario` is the resolved
    scenario (parameters and policies as run); `info` is metadata (wall time,
    people created, versions). Small enough to send between Dask workers.
    """

    scenario: LoadedScenario
    seed: int
    scale: int
    monthly: pd.DataFrame
    daily: pd.DataFrame
    flights: pd.DataFrame
    info: dict[str, Any] = field(default_factory=dict)

    def identity(self) -> dict:
        """What makes two runs the same run (and so the same output bytes)."""
        return run_identity(self.scenario, self.seed, self.scale)

    def fiscal_years(self) -> pd.DataFrame:
        """Totals per US fiscal year (October to September), one row per year.

        Flows are summed, average stocks averaged, period-end stocks taken at the
        year's end; `unique_encountered` counts each person once in the year (as
        CBP's unique-encounter figures do) and the repeat rate is recomputed.
        """
        daily = self.daily
        dates = daily["date"]
        fy = (dates.dt.year + (dates.dt.month >= 10)).rename("fiscal_year")
        how = {c.name: _FY_HOW[c.how] for c in COLUMNS if c.how in _FY_HOW}
        table = daily.drop(columns="date").groupby(fy).agg(how)
        table["unique_encountered"] = daily.groupby(fy)["fiscal_year_first_encounters"].sum()
        enc = table["encounters"].to_numpy(dtype=float)
        table["repeat_encounter_rate"] = np.divide(
            table["repeat_encounters"].to_numpy(dtype=float), enc,
            out=np.zeros_like(enc), where=enc > 0).round(4)
        table.insert(0, "days", daily.groupby(fy).size())
        table.insert(1, "first", dates.groupby(fy).min().dt.strftime("%Y-%m-%d"))
        table.insert(2, "last", dates.groupby(fy).max().dt.strftime("%Y-%m-%d"))
        return table[["days", "first", "last"] + [c.name for c in COLUMNS]]


def run_identity(loaded: LoadedScenario, seed: int, scale: int) -> dict:
    """What makes two runs the same run: the resolved scenario, seed, scale and code."""
    return {"scenario": loaded.resolved(), "seed": seed, "scale": scale,
            "version": package_version(), "code": code_version()}


def simulate(scenario: "str | Path | LoadedScenario" = "historical", *, seed: int = 0,
             scale: int = 1, params: dict | None = None, policies: dict | None = None,
             start=None, end=None, check_invariants: bool = False) -> RunResult:
    """Run one scenario to its end, in memory, and return its tables.

    scenario: a name in scenarios/ ("historical", "mpp_off", ...), a path to a
        .toml file, or a scenario from `load_scenario`.
    seed, scale: the random seed, and how many people one agent stands for.
    params, policies: overrides in the scenario file's shape, e.g.
        params={"apprehension_prob": {"tucson": 0.8}, "detention_beds": 30000},
        policies={"title42": {"end": "2021-06-30"}, "mpp_2019": {"enabled": False}};
        checked like a scenario file (a bad value raises ScenarioError naming it).
    start, end: a shorter run inside the scenario's dates; policies and push
        months are clipped to it (a policy starting after `end` is not in force).
    check_invariants: check conservation and capacities every day (slower).
    """
    loaded = load_scenario(scenario, params=params, policies=policies, start=start, end=end)
    check_scale(loaded, scale)
    started = time.perf_counter()
    border = BorderModel(loaded, seed=seed, scale=scale, check_invariants=check_invariants)
    border.run()
    wall = time.perf_counter() - started
    return tabulate(border, wall)


def tabulate(border: BorderModel, wall_s: float | None = None) -> RunResult:
    """A finished (or partly run) model's tables, as a RunResult."""
    cal = border.calendar
    monthly = border.recorder.monthly_frame(cal.month_of_day, cal.month_labels)
    daily = border.recorder.daily_frame(cal.dates)
    flights = pd.DataFrame(border.flight_log, columns=FLIGHT_COLUMNS)
    pop = border.migrants.pop
    info = {"scenario": border.loaded.name, "seed": border.seed, "scale": border.scale,
            "start": cal.start.isoformat(), "end": cal.end.isoformat(),
            "days_run": int(border.day),
            "people_created": int(pop.n) * border.scale, "agents_created": int(pop.n),
            "wall_time_s": None if wall_s is None else round(wall_s, 3),
            "package_version": package_version(), "code": code_version(),
            "versions": library_versions()}
    return RunResult(border.loaded, border.seed, border.scale, monthly, daily, flights, info)


def package_version() -> str:
    from model import __version__

    return __version__


def library_versions() -> dict[str, str]:
    """Python's and the main libraries' versions (read from package metadata once per
    process: reading it took ~15 ms a run)."""
    return dict(_library_versions())


@functools.cache
def _library_versions() -> tuple:
    versions = {"python": platform.python_version()}
    for name in ("mesa", "numpy", "pandas", "numba"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return tuple(versions.items())


# The code that makes a run's numbers: the three layers and the two modules on top.
# Not the package's __init__, nor the files it writes or reads (output.py, tables_file.py):
# editing those must not make a sweep's finished runs look stale (`experiments.runner`
# resumes a sweep only with the same code_version()).
SIMULATION_CODE = ("state/*.py", "config/*.py", "actors/*.py", "model.py", "simulate.py")


@functools.cache
def code_version() -> str:
    """A fingerprint of the simulation's code: the sha256 of the files in
    `SIMULATION_CODE` (paths relative to model/, and contents), so output from
    other code is never taken for this run's (constant for a process: cached)."""
    root = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted({p for pattern in SIMULATION_CODE for p in root.glob(pattern)}):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]
