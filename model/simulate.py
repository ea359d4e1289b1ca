"""`simulate()`: one run in memory, from a scenario and plain-dict overrides to tables.

Every consumer (the CLI, the tests, sweeps, the browser, calibration) runs the
model through here and gets a `RunResult`; nothing is read back from disk.

    >>> from model import simulate
    >>> result = simulate("historical", seed=1, scale=50,
    ...                   params={"apprehension_prob": {"tucson": 0.8}},
    ...                   policies={"title42": {"end": "2021-06-30"}})
    >>> result.monthly.set_index("month").loc["2021-05", "encounters"]
    >>> simulate("historical", scale=50, set={"apprehension_prob.tucson": 0.8,
    ...                                       "policies.title42.end": "2021-06-30"})
    >>> result.monthly.plot(y="encounters")     # indexed by month_start: months on the x axis
"""

import functools
import hashlib
import html
import platform
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

from model.actors.flights import FlightRecord
from model.model import BorderModel, ctrl_c_as_keyboard_interrupt
from model.state.recorder import COLUMNS
from model.config.scale_check import check_scale
from model.config.scenario import LoadedScenario, load_scenario, override_texts
from model.config.validation import ScenarioError

FLIGHT_COLUMNS = list(FlightRecord._fields)  # flights.csv: one row per scheduled flight
# what a fiscal-year total means for each aggregation
_FY_HOW = {"sum": "sum", "mean": "mean", "last": "last"}
PROGRESS_DAYS = 7  # simulate(progress=...) reports after each week of the run
# what a RunResult's HTML view (notebooks) shows per fiscal year
_REPR_COLUMNS = ("encounters", "title42_expulsions", "mpp_enrollments", "releases", "removals",
                 "detention_population")


@dataclass
class RunResult:
    """One finished run: its tables (in people) and what defines it.

    `monthly`, `daily` and `flights` are exactly what `run.py run` writes as
    monthly.csv, daily.parquet and flights.csv (their columns and values);
    `monthly` is indexed by `month_start`, each month's first day (a
    DatetimeIndex, so `monthly.plot(y="encounters")` has months on its x axis;
    monthly.csv is written without it, and `pd.read_csv("monthly.csv")` equals
    `monthly.reset_index(drop=True)`). `scenario` is the resolved scenario
    (parameters and policies as run); `info` is metadata (wall time, people
    created, versions). Small enough to send between Dask workers.
    """

    scenario: LoadedScenario
    seed: int
    scale: int
    monthly: pd.DataFrame
    daily: pd.DataFrame
    flights: pd.DataFrame
    info: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        """Two lines: what was run, and encounters per fiscal year."""
        years = self.fiscal_years()["encounters"]
        people = self.info.get("people_created")
        drawn = "" if self.scenario.draw is None else f", posterior draw {self.scenario.draw}"
        head = (f"RunResult({self.scenario.name}: {self.scenario.start} to {self.scenario.end}, "
                f"seed {self.seed}{drawn}, scale {self.scale}"
                + (f", {people:,} people" if people is not None else "") + ")")
        totals = ", ".join(f"FY{year} {int(value):,}" for year, value in years.items())
        return f"{head}\n  encounters: {totals}"

    def _repr_html_(self) -> str:
        """A small HTML table for notebooks (Jupyter calls it): the run and its headline
        figures per fiscal year. Scenario text is escaped (it is user input)."""
        years = self.fiscal_years()
        table = years[["first", "last", *_REPR_COLUMNS]].copy()
        table.index = "FY" + table.index.astype(str)
        table.index.name = None
        for column in _REPR_COLUMNS:
            table[column] = [f"{v:,.0f}" for v in table[column]]
        people = self.info.get("people_created")
        esc = html.escape
        caption = (f"<b>{esc(self.scenario.name)}</b>: {self.scenario.start} to "
                   f"{self.scenario.end}, seed {self.seed}, scale {self.scale}"
                   + (f", {people:,} people" if people is not None else "")
                   + f"<br><i>{esc(self.scenario.description)}</i>")
        return (f"<div><p>RunResult {caption}</p>{table.to_html(escape=True)}"
                f"<p><code>.monthly</code>, <code>.daily</code>, <code>.flights</code>, "
                f"<code>.fiscal_years()</code></p></div>")

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
             set: dict | None = None, start=None, end=None, check_invariants: bool = False,
             progress: Callable[[int, int], None] | None = None,
             draw: int | None = None) -> RunResult:
    """Run one scenario to its end, in memory, and return its tables.

    scenario: a name in scenarios/ ("historical", "mpp_off", ...), a path to a
        .toml file, or a scenario from `load_scenario`.
    seed, scale: the random seed, and how many people one agent stands for.
    params, policies: overrides in the scenario file's shape, e.g.
        params={"apprehension_prob": {"tucson": 0.8}, "detention_beds": 30000},
        policies={"title42": {"end": "2021-06-30"}, "mpp_2019": {"enabled": False}};
        checked like a scenario file (a bad value raises ScenarioError naming it).
    set: the same overrides as flat keys, as sweep specs and `run.py run --set` write
        them: set={"policies.title42.end": "2021-03-31", "apprehension_prob.tucson": 0.8}
        (parsed and checked by `--set`'s own parser; a ScenarioError names the key).
    start, end: a shorter run inside the scenario's dates; policies and push
        months are clipped to it (a policy starting after `end` is not in force).
    check_invariants: check conservation and capacities every day (slower).
    progress: called as `progress(days_done, days_total)` after every
        PROGRESS_DAYS days of the run (and after its last day), e.g. to move a
        progress bar; the run and its tables are the same with or without it.
    draw: run posterior draw `draw` (a whole number >= 0) of the calibration the scenario
        names (`calibrated = ...`): the fitted parameters take that draw's values
        (`calibration.posterior`: a weighted pick of one particle of the posterior.parquet
        beside the calibration file, the same particle every time) instead of the medians.
        None: the medians (for a loaded scenario: the draw it was loaded with). The draw and
        the posterior file's name and sha256 are part of the run's identity. A scenario with
        no calibration raises ScenarioError.
    """
    overrides = [] if set is None else override_texts(set)
    try:
        loaded = load_scenario(scenario, overrides, params=params, policies=policies,
                               start=start, end=end, draw=draw)
    except ScenarioError as exc:  # name the key as it was given: set=, not --set
        text = str(exc).replace("(with --set)", "(with set=)").replace("--set ", "set: ")
        raise ScenarioError(text if set else str(exc)) from None
    check_scale(loaded, scale)
    started = time.perf_counter()
    border = BorderModel(loaded, seed=seed, scale=scale, check_invariants=check_invariants)
    if progress is None:
        border.run()
    else:
        run_reporting(border, progress)
    wall = time.perf_counter() - started
    return tabulate(border, wall)


def run_reporting(border: BorderModel, progress: Callable[[int, int], None],
                  every: int = PROGRESS_DAYS) -> None:
    """Run `border` to its end `every` days at a time, calling `progress(days_done,
    days_total)` after each stretch. Mesa's `run_until` processes the same events in
    the same order whether it is called once or in stretches, so the run is the same."""
    total = border.calendar.n_days
    with ctrl_c_as_keyboard_interrupt():
        while border.day < total:
            border.run_until(min(border.day + every, total))
            progress(border.day, total)


def tabulate(border: BorderModel, wall_s: float | None = None) -> RunResult:
    """A finished (or partly run) model's tables, as a RunResult."""
    cal = border.calendar
    monthly = border.recorder.monthly_frame(cal.month_of_day, cal.month_labels)
    monthly.index = pd.DatetimeIndex(pd.to_datetime(monthly["month"], format="%Y-%m"),
                                     name="month_start")
    daily = border.recorder.daily_frame(cal.dates)
    flights = pd.DataFrame(border.flight_log, columns=FLIGHT_COLUMNS)
    pop = border.migrants.pop
    drawn = {} if border.loaded.draw is None else {"draw": border.loaded.draw,
                                                    "posterior": border.loaded.posterior}
    info = {"scenario": border.loaded.name, "seed": border.seed, **drawn, "scale": border.scale,
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
