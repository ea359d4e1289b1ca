"""Out-of-sample validation: the model's posterior predictive scored against the public
record's held-out figures (issue 19, part 4). Called by `run.py validate`.

    plan = plan_validation("historical", draws=10, seeds=2, scale=20)   # checks; nothing runs
    runs = run_validation(plan, client)            # a row per run, a column per record point
    points, scores = score(plan, runs)             # per point, per series
    files = write_validation(plan, points, scores, out_dir)

Which figures: every `held_out` row of `calibration/public_record.csv` (with the derived
Northern Triangle sums, `calibration.public_record.held_out`), never a `fit` one: no fit
saw them and no parameter was set from them. Rows of the same figure that are `fit` are
measured too and drawn hollow in its plot as context, but never scored.

How each figure meets the model (`map_figure`): a figure that counts what a model column
counts (`counts = "all"`) is that column over the figure's period, as
`calibration.public_record.model_value` reads it (a total, an average, the day's value).
A Border Patrol-only figure (`counts = "border_patrol"`) is scored only where the model
has a Border Patrol-only count: encounters (`encounters - encounters_at_ports`). Any other
Border Patrol-only figure (by demographic, by citizenship) is *not comparable*, since the
model's column counts the ports too: it is listed, never scored, with the bounds the
model puts on it (`Mapped.lower`): the group's Border Patrol-only count lies between its
count of all encounters less every encounter at the ports (had all port encounters been in
the group) and its count of all encounters (had none been). So are a figure for a column the
model lacks, a capacity (an input, not an outcome), and a period outside the runs.
A nationwide figure (`counts = "nationwide"`: every border and the airports) is a ceiling
for the model's southwest-border column, not its match: listed, never scored.

The runs: `draws` posterior draws x `seeds` seeds, each run on its own seed (derived from
`VALIDATION_SEED`, none a fit's or the calibration report's). Pooled, they are the
posterior predictive: parameter uncertainty and chance together.

The scores, per point: the median and 90 % band (5 % and 95 % quantiles over the runs),
the relative difference |median - record| / record and its signed version, and whether
the band covers the record. Per series (the points of one `figure`): Flee's score (the
averaged relative difference: `averaged_relative_difference`), the bias (the mean signed
relative difference: > 0 the model runs high), and the coverage (share of points inside
the band). `VERDICTS` turns the score into a word for the summary.

Files (each written whole, `model.files.write_atomically`; report.html last):
    points.csv       a row per record point (scored or not, with the reason)
    scores.csv       a row per scored series, best first
    validation.json  what was run (scenario, draws, seeds, scale, runs, code, command)
    report.html      one offline page: the summary table, then a plot and a table per series
"""

import base64
import html
import io
import json
import math
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from calibration.public_record import RecordFigure, held_out, load_record, model_value, with_derived
from model import load_scenario, simulate
from model.config.scale_check import check_scale
from model.config.validation import ScenarioError
from model.simulate import code_version

ROOT = Path(__file__).resolve().parent.parent
VALIDATION_DIR = ROOT / "validation"  # the committed report (README links it)
VALIDATION_SEED = 20_221_119  # the runs' seeds come from here: not a fit's, not the report's
FILES = ("points.csv", "scores.csv", "validation.json", "report.html")
BAND = (0.05, 0.95)  # the 90 % band
# A series' verdict by its score (the averaged relative difference of the medians)
VERDICTS = ((0.10, "close", "#c8e6c9"), (0.30, "rough", "#fff3c4"), (math.inf, "off", "#ffcdd2"))
# A Border Patrol-only figure meets these model values: (model column, minus these)
BORDER_PATROL = {"encounters": ("encounters", ("encounters_at_ports",))}
_BP_SUFFIX = "__border_patrol"
PORTS = "encounters_at_ports"
_LESS_PORTS = "__less_ports"


class ValidationError(ScenarioError):
    """A validation that cannot start or be written (one line naming the flag or file)."""


# ---------------------------------------------------------------- scoring (plain numbers)

def relative_differences(medians, records) -> np.ndarray:
    """(median - record) / |record| per point: signed, > 0 where the model runs high."""
    medians, records = np.asarray(medians, dtype=float), np.asarray(records, dtype=float)
    if np.any(records == 0):
        raise ValueError("a record of 0 has no relative difference")
    return (medians - records) / np.abs(records)


def averaged_relative_difference(medians, records) -> float:
    """Flee's score: the mean over points of |median - record| / |record|."""
    return float(np.mean(np.abs(relative_differences(medians, records))))


def bias(medians, records) -> float:
    """The mean signed relative difference: > 0 the model runs high on average."""
    return float(np.mean(relative_differences(medians, records)))


def coverage(lows, highs, records) -> float:
    """The share of points whose record lies inside the band [low, high] (ends included)."""
    lows, highs, records = (np.asarray(a, dtype=float) for a in (lows, highs, records))
    return float(np.mean((lows <= records) & (records <= highs)))


def verdict(score: float) -> tuple[str, str]:
    """(word, colour) for a series' score."""
    return next((word, colour) for limit, word, colour in VERDICTS if score <= limit)


# ---------------------------------------------------------------- figures -> model columns

@dataclass(frozen=True)
class Mapped:
    """A record figure and how the model gives it: `measured` is the figure as a run
    is read for it (its column may be a derived Border Patrol-only one); `scored` False
    with `reason` for a figure listed but not scored (held out but not comparable, or a
    fit row shown as context)."""

    figure: RecordFigure
    measured: RecordFigure | None
    model: str  # the model's column(s) in words
    scored: bool
    reason: str = ""
    lower: RecordFigure | None = None  # a not-comparable group's lower bound (module doc)

    def read(self) -> list[RecordFigure]:
        """The figures a run is read for: the measured one and the lower bound."""
        return [f for f in (self.measured, self.lower) if f is not None]


def map_figure(figure: RecordFigure, columns, first_day: str, last_day: str) -> Mapped:
    """How `figure` meets a run whose daily table has `columns` and covers first_day to
    last_day (YYYY-MM-DD); see the module doc. A fit figure is never scored."""
    columns = set(columns)
    measured, model, reason, lower = figure, figure.column, "", None
    if figure.column not in columns:
        reason = f"not modelled: runs have no column {figure.column}"
        measured = None
    elif figure.how == "capacity":
        reason = "a capacity: the model's input, not an outcome"
        measured = None
    elif figure.counts == "border_patrol":
        if figure.column in BORDER_PATROL:
            column, minus = BORDER_PATROL[figure.column]
            measured = replace(figure, column=figure.column + _BP_SUFFIX)
            model = f"{column} - {' - '.join(minus)} (Border Patrol only)"
        else:
            reason = (f"not comparable: the record counts Border Patrol alone, the model's "
                      f"{figure.column} counts the ports too and has no Border Patrol-only "
                      f"split")
            if figure.column.startswith("encounters_") and PORTS in columns:
                lower = replace(figure, column=figure.column + _LESS_PORTS)
                reason += (f"; the model bounds it: from {figure.column} - {PORTS} (every "
                           f"port encounter in the group) to {figure.column} (none)")
    elif figure.counts == "nationwide":
        reason = (f"not comparable: the record counts every border and the airports, the "
                  f"model's {figure.column} the southwest border alone (a ceiling for it)")
        measured = None
    first, last = figure.span()
    if measured is not None and (first < first_day or last > last_day):
        reason, measured, lower = f"outside the runs ({first_day} to {last_day})", None, None
    if not reason and not figure.held_out:
        reason = "fit: a fit or a hand-set parameter used it (context, not scored)"
    return Mapped(figure, measured, model, scored=not reason, reason=reason, lower=lower)


def with_border_patrol(daily: pd.DataFrame, figures=()) -> pd.DataFrame:
    """The daily table with the Border Patrol-only columns `BORDER_PATROL` defines, and
    each lower-bound column `figures` name (COLUMN less the ports: COLUMN - PORTS)."""
    extra = {name + _BP_SUFFIX: daily[column] - sum(daily[m] for m in minus)
             for name, (column, minus) in BORDER_PATROL.items() if column in daily}
    for f in figures:
        if f.column.endswith(_LESS_PORTS):
            extra[f.column] = daily[f.column[:-len(_LESS_PORTS)]] - daily[PORTS]
    return daily.assign(**extra)


def series_of(figure: RecordFigure) -> str:
    """The series a figure belongs to: its `figure` name (the record's name for one
    statistic), marked when it counts Border Patrol alone."""
    name = figure.figure
    if figure.counts == "border_patrol" and "Border Patrol" not in name:
        name += " (Border Patrol only)"
    elif figure.counts == "nationwide" and "nationwide" not in name:
        name += " (nationwide)"
    return name


# ---------------------------------------------------------------- the plan and the runs

@dataclass
class Validation:
    """What `run.py validate` runs and scores (made by `plan_validation`)."""

    scenario: str
    draws: int
    seeds: int
    scale: int
    mapped: list[Mapped]
    run_seeds: list[int] = field(default_factory=list)  # one per run: draw-major
    first_day: str = ""
    last_day: str = ""
    posterior: str = ""  # in words: the posterior the draws come from (or none)
    draw_support: bool = False  # the scenario names a calibration: runs use posterior draws

    @property
    def runs(self) -> int:
        return self.draws * self.seeds

    def run_plan(self) -> list[tuple[int | None, int]]:
        """(draw, seed) per run: draw i, then its K seeds (draw None: the scenario names no
        calibration, so its own parameters)."""
        return [(i if self.draw_support else None, self.run_seeds[i * self.seeds + j])
                for i in range(self.draws) for j in range(self.seeds)]

    def measured(self) -> list[Mapped]:
        return [m for m in self.mapped if m.measured is not None]


def plan_validation(scenario: str = "historical", *, draws: int = 10, seeds: int = 2,
                    scale: int = 20, record: Path | None = None) -> Validation:
    """Check the scenario, its posterior, the scale and the record, and map every
    held-out figure (and the fit rows of the same series, as context); nothing runs.
    ScenarioError (one line) if anything is wrong. A scenario that names a calibration
    runs posterior draws 0..draws-1 (`simulate(draw=i)`); one that names none runs its
    own parameters, so only `draws = 1`."""
    from experiments.spec import derive_seeds

    loaded = load_scenario(scenario)
    check_scale(loaded, scale)
    if not loaded.calibrated and draws > 1:
        raise ValidationError(f"--draws {draws}: {loaded.name} names no calibration, so it has "
                              f"no posterior to draw from; use --draws 1 (its own parameters) "
                              f"with several --seeds")
    posterior = (posterior_summary(load_scenario(loaded, draw=0), draws)
                 if loaded.calibrated else "the scenario's own parameters (it names no "
                                               "calibration)")
    figures = with_derived(load_record() if record is None else load_record(record))
    test = held_out(figures)
    if not test:
        raise ValidationError(f"{record or 'calibration/public_record.csv'}: holds no "
                              f"held_out row to validate against")
    names = {series_of(f) for f in test}
    context = [f for f in figures if not f.held_out and series_of(f) in names]
    first, last = loaded.start.isoformat(), loaded.end.isoformat()
    columns = set(_daily_columns()) | {c + _BP_SUFFIX for c in BORDER_PATROL}
    mapped = [map_figure(f, columns, first, last)
              for f in sorted(test + context, key=lambda f: (series_of(f), f.span()))]
    plan = Validation(scenario, draws, seeds, scale, mapped, first_day=first, last_day=last,
                      draw_support=loaded.calibrated, posterior=posterior)
    plan.run_seeds = derive_seeds(VALIDATION_SEED, plan.runs)
    return plan


def posterior_summary(first_draw, draws: int) -> str:
    """In words: the posterior the draws come from (file, hash; `first_draw` is the
    scenario loaded at draw 0, which checks the file), how many distinct particles
    draws 0..draws-1 pick, and the posterior's effective sample size."""
    from calibration.posterior import read_posterior

    parts, picks = [], []
    for f in first_draw.posterior:
        post = read_posterior(Path(f["file"]))
        picks.append([post.particle(i) for i in range(draws)])
        parts.append(f"{_shown(f['file'])} (sha256 {f['sha256'][:12]}, {len(post.weights)} "
                     f"particles, effective sample size {post.effective_size():.1f})")
    distinct = len(set(zip(*picks)))
    return (f"posterior draws 0-{draws - 1} of {'; '.join(parts)}: the draws picked "
            f"{distinct} distinct particle(s)")


def _daily_columns() -> list[str]:
    from model.state.recorder import COLUMNS

    return [c.name for c in COLUMNS]


def _shown(path) -> str:
    """A path as the report shows it: relative to the repository when inside it."""
    resolved = Path(str(path)).resolve()
    try:
        return resolved.relative_to(ROOT).as_posix()
    except ValueError:
        return str(resolved)


def measure_run(scenario: str, seed: int, scale: int, draw: int | None,
                figures: list[RecordFigure]) -> list[float]:
    """One run (posterior draw `draw`, if any, on `seed`) read for every figure: a
    value per figure, in order (NaN where the run does not give it). Runs on a worker."""
    kwargs = {} if draw is None else {"draw": draw}
    result = simulate(scenario, seed=seed, scale=scale, **kwargs)
    daily = with_border_patrol(result.daily, figures)
    values = [math.nan if (v := model_value(f, daily)) is None else v for f in figures]
    # a lower bound below 0 (more port encounters than the group's) bounds nothing
    return [max(v, 0.0) if f.column.endswith(_LESS_PORTS) else v
            for f, v in zip(figures, values)]


def run_validation(plan: Validation, client, progress=None) -> pd.DataFrame:
    """Every run of the plan on the Dask `client`: a row per run (draw, seed), a column
    per measured figure (`point_id`). Ctrl-C cancels the pending runs and raises
    KeyboardInterrupt. `progress(done, total)` is called as runs finish."""
    from experiments.runner import _as_they_finish, ctrl_c_deferred

    figures = [f for m in plan.measured() for f in m.read()]
    runs = plan.run_plan()
    futures = []
    with ctrl_c_deferred() as pressed:
        try:
            futures = [client.submit(measure_run, plan.scenario, seed, plan.scale, draw,
                                     figures, pure=False) for draw, seed in runs]
            index = {f.key: i for i, f in enumerate(futures)}
            values: list = [None] * len(futures)
            for done, future in enumerate(_as_they_finish(futures, pressed), start=1):
                values[index[future.key]] = future.result()
                if progress:
                    progress(done, len(futures))
        except BaseException:
            client.cancel([f for f in futures if not f.done()])
            raise
    table = pd.DataFrame(values, columns=[point_id(f) for f in figures])
    table.insert(0, "draw", [-1 if d is None else d for d, _ in runs])
    table.insert(1, "seed", [s for _, s in runs])
    return table


def point_id(figure: RecordFigure) -> str:
    return f"{figure.column}|{figure.period}|{figure.counts}"


# ---------------------------------------------------------------- scores

def score(plan: Validation, runs: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(points, scores): a row per record point, a row per scored series (best first)."""
    rows = []
    for m in plan.mapped:
        f = m.figure
        first, last = f.span()
        row = {"series": series_of(f), "figure": f.figure, "column": f.column,
               "model": m.model, "period": f.period, "first": first, "last": last,
               "how": f.how, "counts": f.counts, "split": f.split, "record": f.value,
               "scored": m.scored, "reason": m.reason, "source": f.source}
        if m.measured is not None:
            values = runs[point_id(m.measured)].to_numpy(dtype=float)
            values = values[np.isfinite(values)]
            if len(values):
                low, median, high = np.quantile(values, [BAND[0], 0.5, BAND[1]])
                row.update(low=low, median=median, high=high, runs=len(values))
                if not m.reason.startswith("not comparable"):  # else: other things counted
                    row.update(relative_difference=float(relative_differences(
                        [median], [f.value])[0]), covered=bool(low <= f.value <= high))
                if m.lower is not None:
                    lower = runs[point_id(m.lower)].to_numpy(dtype=float)
                    row["bound_low"] = float(np.nanquantile(lower, BAND[0]))
                    row["bound_high"] = float(high)
                    row["within_bounds"] = bool(row["bound_low"] <= f.value <= high)
        rows.append(row)
    points = pd.DataFrame(rows)
    for column in ("low", "median", "high", "runs", "relative_difference", "covered",
                   "bound_low", "bound_high", "within_bounds"):
        if column not in points:
            points[column] = np.nan
    scored = points[points.scored & points["median"].notna()]
    table = []
    for name, group in scored.groupby("series", sort=False):
        s = averaged_relative_difference(group["median"], group["record"])
        word, _ = verdict(s)
        table.append({"series": name, "column": group["column"].iloc[0],
                      "model": group["model"].iloc[0], "points": len(group),
                      "first": group["first"].min(), "last": group["last"].max(),
                      "score": s, "bias": bias(group["median"], group["record"]),
                      "coverage": coverage(group["low"], group["high"], group["record"]),
                      "verdict": word})
    scores = pd.DataFrame(table, columns=["series", "column", "model", "points", "first",
                                          "last", "score", "bias", "coverage", "verdict"])
    scores = scores.sort_values(["score", "series"], kind="stable").reset_index(drop=True)
    return points, scores


# ---------------------------------------------------------------- the output folder

def held_files(folder: Path) -> list[str]:
    return [name for name in FILES if (Path(folder) / name).exists()]


def new_validation_dir() -> Path:
    """runs/validate-DATE-TIME (UTC), -2, -3 ... if taken (as calibrate's new folders)."""
    from calibration.fit import new_fit_dir

    return new_fit_dir("validate")


def choose_out_dir(out: Path | None, overwrite: bool) -> tuple[Path, str]:
    """(folder, note): where the validation goes, refusing to replace one silently.

    No --out: the committed report's folder (`VALIDATION_DIR`) if it holds none yet or
    with --overwrite; else a new folder runs/validate-DATE-TIME (the note says so).
    --out DIR: a new or empty folder, or one holding a validation with --overwrite;
    a file, or a folder holding anything else, is refused."""
    if out is None:
        if overwrite or not held_files(VALIDATION_DIR):
            check_out_dir(VALIDATION_DIR, overwrite=True)
            return VALIDATION_DIR, ""
        folder = new_validation_dir()
        return folder, (f"{VALIDATION_DIR} holds the committed validation: this one goes into "
                        f"{folder} (--overwrite replaces the committed one)")
    check_out_dir(Path(out), overwrite)
    return Path(out), ""


def check_out_dir(folder: Path, overwrite: bool) -> None:
    """Refuse a file, a folder holding a validation (without `overwrite`), and a folder
    holding anything else; nothing is written."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise ValidationError(f"--out {folder}: is a file, not a folder")
    if not folder.is_dir():
        return
    try:
        other = sorted(p.name for p in folder.iterdir()
                       if p.name not in FILES and not p.name.startswith("."))
    except OSError as exc:
        raise ValidationError(f"--out {folder}: cannot read the folder: "
                              f"{exc.strerror or exc}") from None
    if other:
        raise ValidationError(f"--out {folder}: is not empty and holds no validation "
                              f"({other[0]} ...); use a new or empty folder")
    held = held_files(folder)
    if held and not overwrite:
        raise ValidationError(f"--out {folder}: holds a validation already ({', '.join(held)}); "
                              f"add --overwrite to replace it, or give another --out")


@contextmanager
def claimed(folder: Path):
    """Create `folder` (and its parents) and hold it inside the block
    (`model.files.folder_lock`), so a second command on the same folder stops at once;
    the folders created are removed again if the block fails and they are still empty."""
    from model.files import FolderError, create_folder, folder_lock, missing_folders, \
        probe_writable, remove_if_empty

    created = missing_folders(folder)
    with ExitStack() as held:
        try:
            create_folder(folder)
            probe_writable(folder)
            held.enter_context(folder_lock(folder, "run.py validate"))
        except FolderError as exc:
            remove_if_empty(created)
            raise ValidationError(str(exc)) from None
        try:
            yield folder
        except BaseException:
            held.close()  # released (its pid file gone) before the folders it made go
            remove_if_empty(created)
            raise


def write_validation(plan: Validation, points: pd.DataFrame, scores: pd.DataFrame,
                     folder: Path, about: dict | None = None) -> dict[str, Path]:
    """The four files (module doc), all made in memory first, report.html written last."""
    from model.files import write_atomically

    about = {"scenario": plan.scenario, "draws": plan.draws, "seeds_per_draw": plan.seeds,
             "runs": plan.runs, "scale": plan.scale, "parameters": plan.posterior,
             "seeds": plan.run_seeds, "band": list(BAND), "code": code_version(),
             "written_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
             **(about or {})}
    made = {"points.csv": points.to_csv(index=False, float_format="%.6g").encode(),
            "scores.csv": scores.to_csv(index=False, float_format="%.4f").encode(),
            "validation.json": (json.dumps(about, indent=2, default=str) + "\n").encode(),
            "report.html": report_html(plan, points, scores, about).encode()}
    files = {}
    for name in FILES:
        write_atomically(folder / name, made[name])
        files[name] = folder / name
    return files


# ---------------------------------------------------------------- report.html

def _png(fig) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _middle(first: str, last: str):
    a, b = date.fromisoformat(first), date.fromisoformat(last)
    return np.datetime64(a + (b - a) / 2)


def series_png(points: pd.DataFrame) -> str:
    """One series' plot as base64 PNG: the model's 90 % band and median per point (a
    filled band through many points, error bars through few), the held-out record as
    black dots, fit rows hollow."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    pts = points[points["median"].notna()].sort_values("first")
    x = np.array([_middle(a, b) for a, b in zip(pts["first"], pts["last"])])
    fig = Figure(figsize=(8, 2.8), dpi=80)
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    if len(pts) >= 6:
        ax.fill_between(x, pts["low"], pts["high"], color="#90caf9", alpha=0.6, step=None,
                        label="model: 90 % band")
        ax.plot(x, pts["median"], color="#1565c0", lw=1.4, label="model: median")
    else:
        ax.errorbar(x, pts["median"], yerr=[pts["median"] - pts["low"],
                                            pts["high"] - pts["median"]],
                    fmt="s", color="#1565c0", ecolor="#90caf9", elinewidth=6, capsize=0,
                    label="model: median, 90 % band")
    test = pts.scored.to_numpy(dtype=bool)
    ax.plot(x[test], pts["record"][test], "o", color="black", ms=5,
            label="public record (held out: scored)")
    context = (pts.split == "fit").to_numpy()
    if context.any():
        ax.plot(x[context], pts["record"][context], "o", mfc="none", mec="grey", ms=6,
                label="public record (fit: not scored)")
    other = ~test & ~context
    if other.any():
        ax.plot(x[other], pts["record"][other], "x", color="#c62828", ms=7,
                label="public record (not comparable)")
    ax.set_ylim(bottom=0)
    ax.yaxis.set_major_locator(MaxNLocator(4))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:,.0f}"))
    locator = AutoDateLocator()
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    if len(pts) == 1:
        ax.set_xlim(x[0] - np.timedelta64(200, "D"), x[0] + np.timedelta64(200, "D"))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.005, 1.0), frameon=False)
    fig.subplots_adjust(left=0.11, right=0.70, top=0.95, bottom=0.13)
    return _png(fig)


def _n(value) -> str:
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) \
        else f"{value:,.0f}"


def _pct(value) -> str:
    return f"{value:+.0%}" if np.isfinite(value) else ""


STYLE_EXTRA = ("td.verdict{font-weight:bold;text-align:center}"
               "table.points td:last-child{text-align:left}"
               "p.note{font-size:90%;color:#444}")


def report_html(plan: Validation, points: pd.DataFrame, scores: pd.DataFrame,
                about: dict) -> str:
    """The page (module doc); every text from the record or the command is escaped."""
    from reports.run_report import STYLE, page_start

    esc = html.escape
    title = f"Validation of {plan.scenario} against the held-out public record"
    facts = [("scenario", plan.scenario),
             ("runs", f"{plan.runs} = {plan.draws} posterior draw(s) x {plan.seeds} seed(s), "
                      f"pooled (the posterior predictive)"),
             ("parameters", plan.posterior),
             ("scale", f"{plan.scale} (one agent stands for {plan.scale:,} people"
                       + (", full scale)" if plan.scale == 1 else
                          "; full scale is 1: a coarse run adds its own error)")),
             ("dates", f"{plan.first_day} to {plan.last_day}"),
             ("band", f"90 %: the {BAND[0]:.0%} and {BAND[1]:.0%} quantiles over the runs"),
             ("model code", str(about.get("code", ""))),
             ("written", str(about.get("written_utc", "")))]
    if about.get("command"):
        facts.append(("command", " ".join(map(str, about["command"]))))
    if about.get("git"):
        facts.append(("git", json.dumps(about["git"])))
    limits = ", ".join(f"{word} (score <= {limit:.2f})" if math.isfinite(limit)
                       else f"{word} (above)" for limit, word, _ in VERDICTS)
    held_out_note = ("<p>Every figure here is <b>held out</b>: no fit saw it and no parameter "
                     "was set from it (<code>calibration/public_record.csv</code>, column "
                     "<code>split</code>). So these scores say how far the model can be trusted "
                     "outside what it was fitted to.</p>")
    parts = [*page_start(title, facts, style=STYLE + STYLE_EXTRA, after_title=(held_out_note,)),
             "<h2>Summary: where the model is trustworthy, and where not</h2>",
             f"<p>One row per series, best first. <b>score</b>: Flee's averaged relative "
             f"difference, the mean over the series' points of |model median - record| / "
             f"record; <b>bias</b>: the mean signed relative difference (+: the model runs "
             f"high); <b>coverage</b>: the share of points whose record lies inside the "
             f"model's 90 % band (about 90 % if the model and its uncertainty were right). "
             f"Verdict by score: {esc(limits)}.</p>"]
    parts.append(_at_a_glance(scores))
    parts.append(_summary_table(scores))
    unscored = points[~points.scored & (points.split == "held_out")]
    if len(unscored):
        parts.append("<h3>Held-out figures not scored</h3><p>Listed so none is dropped "
                     "silently; the reason says why each cannot be compared.</p>")
        parts.append(_points_table(unscored, reason=True))
    parts.append("<h2>Each series</h2>")
    for _, row in scores.iterrows():
        parts.append(_series_section(row["series"], points, row))
    for name in dict.fromkeys(unscored["series"]):
        if name not in set(scores["series"]):
            parts.append(_series_section(name, points, None))
    parts.append('<p class="note">Beside this page: <a href="scores.csv">scores.csv</a> (the '
                 'summary), <a href="points.csv">points.csv</a> (every point, scored or not, '
                 'with its source), <a href="validation.json">validation.json</a> (what was '
                 'run).</p>')
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _at_a_glance(scores: pd.DataFrame) -> str:
    """One line per verdict naming its series, best verdict first."""
    esc = html.escape
    lines = []
    for limit, word, colour in VERDICTS:
        names = list(scores.loc[scores.verdict == word, "series"])
        if names:
            lines.append(f'<li><span style="background:{colour};padding:0 4px"><b>{esc(word)}'
                         f"</b></span>: {esc('; '.join(names))}</li>")
    return "<ul>" + "".join(lines) + "</ul>"


def _summary_table(scores: pd.DataFrame) -> str:
    esc = html.escape
    head = ("<tr><th>series</th><th>model column</th><th>points</th><th>period</th>"
            "<th>verdict</th><th>score</th><th>bias</th><th>coverage</th></tr>")
    body = []
    for _, r in scores.iterrows():
        _, colour = verdict(r["score"])
        body.append(f'<tr style="background:{colour}"><td><a href="#{_anchor(r["series"])}">'
                    f'{esc(r["series"])}</a></td><td>{esc(r["model"])}</td><td>{r["points"]}</td>'
                    f'<td>{esc(r["first"])} to {esc(r["last"])}</td>'
                    f'<td class="verdict">{esc(r["verdict"])}</td><td>{r["score"]:.3f}</td>'
                    f'<td>{_pct(r["bias"])}</td><td>{r["coverage"]:.0%}</td></tr>')
    return "<table>" + head + "".join(body) + "</table>"


def _anchor(name: str) -> str:
    return "s-" + "".join(c if c.isalnum() else "-" for c in name.lower())


def _points_table(pts: pd.DataFrame, reason: bool = False) -> str:
    """The points as a table; with `reason` (the not-scored ones) the figure's name and
    why it is not scored, else its split."""
    esc = html.escape
    head = ("<tr><th>period</th>" + ("<th>figure</th>" if reason else "")
            + "<th>record</th><th>model median</th>"
            "<th>90 % band</th><th>difference</th><th>in band</th><th>"
            + ("why not scored" if reason else "split") + "</th></tr>")
    body = []
    for _, r in pts.iterrows():
        has = pd.notna(r["median"])
        inside = ("yes" if r["covered"] else "<b>no</b>") if has and r["scored"] else ""
        last = esc(r["reason"]) if reason else esc(r["split"].replace("_", " "))
        if reason and pd.notna(r.get("within_bounds")):
            where = ("inside them" if r["within_bounds"] else
                     "<b>below them: the model runs high</b>" if r["record"] < r["bound_low"]
                     else "<b>above them: the model runs low</b>")
            last += (f": {_n(r['bound_low'])} to {_n(r['bound_high'])} (5 % to 95 %); the "
                     f"record is {where}")
        name = f"<td>{esc(r['figure'])}</td>" if reason else ""
        body.append(f"<tr><td>{esc(r['period'])}</td>{name}"
                    f"<td>{_n(r['record'])}</td><td>{_n(r['median']) if has else ''}</td>"
                    f"<td>{_n(r['low']) + ' to ' + _n(r['high']) if has else ''}</td>"
                    f"<td>{_pct(r['relative_difference']) if has else ''}</td><td>{inside}</td>"
                    f"<td>{last}</td></tr>")
    return '<table class="points">' + head + "".join(body) + "</table>"


def _series_section(name: str, points: pd.DataFrame, row) -> str:
    esc = html.escape
    pts = points[points.series == name]
    head = f'<h3 id="{_anchor(name)}">{esc(name)}</h3>'
    if row is not None:
        head += (f"<p>{row['points']} held-out point(s): verdict <b>{esc(row['verdict'])}</b>, "
                 f"score {row['score']:.3f}, bias {_pct(row['bias'])}, coverage "
                 f"{row['coverage']:.0%}; model column <code>{esc(row['model'])}</code>.</p>")
    plot = ""
    if pts["median"].notna().any():
        plot = (f'<img alt="{esc(name)}: model band and median, and the record" '
                f'src="data:image/png;base64,{series_png(pts)}">')
    return head + plot + _points_table(pts)
