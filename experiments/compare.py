"""Comparing scenarios on common random numbers: what `run.py compare A B [C ...]` does.

Every scenario runs on the same seeds, derived from the master seed exactly as a
sweep derives them (`derive_seeds`), through the sweep's own machinery: a
comparison is a sweep spec with no varied values, built in memory
(`plan_comparison`, checked before anything is written) and run by
`experiments.runner.run_sweep` (a LocalCluster, or an existing cluster at
--scheduler; one Parquet file per run in REPORT_DIR/runs/, so an interrupted
comparison resumes where it stopped). Then:

- `per_seed_outcomes`: each run's OUTCOMES per fiscal year and over the whole run,
  and what it costs: each unit-cost item's quantity and dollars and their total
  (`experiments.costs`; defaults in costs/unit_costs.toml, each with its source);
- `summarise`: for the first scenario its mean over seeds and the 95 % t-interval
  of that mean (`t_interval`); for every other scenario the mean paired
  difference, other minus first seed by seed, with its 95 % t-interval
  (`paired_difference`). The seeds are shared, so the differences are paired;
- `write_report`: the tables as CSV, a PNG per PLOTTED column (monthly mean per
  scenario, band from the lowest to the highest seed) and one self-contained
  report.html (tables inline, PNGs as data: URIs, no external links).

Whole-run figures (period "run"): flows are summed over the run;
`detention_population`, an average daily stock, is averaged over the run's days
(its fiscal-year values weighted by their days); `mpp_waiting` and
`court_backlog`, period-end stocks, are their values at the run's end;
`repeat_encounter_rate` is the run's repeat encounters over its encounters; and
`unique_encountered` is the sum of each fiscal year's distinct people (someone
encountered in two fiscal years counts in both); quantities and costs are summed.
"""

import base64
import html
import io
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from experiments.costs import CostItem, check_distinct, load_costs, price, unit_cost_table
from experiments.spec import SpecError, Sweep, parse_spec
from model import load_scenario
from model.state.recorder import COLUMNS
from model.config.scale_check import check_scale
from model.config.scenario import resolve_path

OUTCOMES = ("encounters", "unique_encountered", "repeat_encounter_rate", "title42_expulsions",
            "releases", "mpp_waiting", "violence_incidents", "detention_population", "flights",
            "flight_passengers", "removals", "court_backlog")
PLOTTED = ("encounters", "title42_expulsions", "releases", "mpp_waiting", "detention_population")
WHOLE_RUN = "run"
CONFIDENCE = 0.95
DEFAULT_SEEDS = 10
DEFAULT_SEEDS_PER_DRAW = 2  # with the posterior: seeds per draw (chance within a draw)
DEFAULT_SCALE = 20
SELECTION_FILE = "selection.json"  # in a report folder made from an earlier sweep
_HOW = {c.name: c.how for c in COLUMNS}
_MEANING = {c.name: c.meaning for c in COLUMNS}


class CompareError(SpecError):
    """A comparison that cannot be run (one line saying what is wrong)."""


@dataclass
class Comparison:
    """A checked comparison: the scenarios as given, their labels in the report, the
    report folder, the unit costs, the shared seeds, and where each label's runs
    are (one Parquet file per seed, in seed order). `sweep` runs them; it is None
    when they come from an earlier sweep's folder (`source`, `--from`)."""

    scenarios: list[str]
    labels: list[str]
    out_dir: Path
    first_day: str
    last_day: str
    costs: list[CostItem]
    seeds: list[int]
    master_seed: int
    scale: int
    run_files: dict[str, list[Path]]
    identity: str  # what makes two comparisons the same (kept in the report folder)
    sweep: "Sweep | None" = None
    source: "Path | None" = None
    draws: int = 0  # posterior draws (0: the calibrated medians only)
    seeds_per_draw: int = 1  # seed i runs draw i // seeds_per_draw
    posterior_files: list = None  # [{"file", "sha256"}] the draws come from

    @property
    def id_columns(self) -> list[str]:
        """The per-seed table's leading columns (before the outcomes)."""
        return ["scenario", "seed_index", *(["draw"] if self.draws else []), "seed", "period"]


@dataclass(frozen=True)
class Interval:
    """A mean over n seeds and its two-sided t-interval."""

    mean: float
    low: float
    high: float
    n: int


def t_interval(values, confidence: float = CONFIDENCE) -> Interval:
    """The mean of `values` and its `confidence` Student-t interval
    (mean +/- t(df = n - 1) * sd / sqrt(n)); needs at least two values."""
    from scipy.stats import t

    x = np.asarray(values, dtype=float)
    if x.ndim != 1 or len(x) < 2:
        raise ValueError(f"an interval needs at least two values, got {len(x)}")
    mean = float(x.mean())
    half = float(t.ppf((1 + confidence) / 2, len(x) - 1) * x.std(ddof=1) / math.sqrt(len(x)))
    return Interval(mean, mean - half, mean + half, len(x))


def paired_difference(base, other, confidence: float = CONFIDENCE) -> Interval:
    """The mean of `other - base`, seed by seed, and its t-interval (paired: the
    i-th value of each comes from the same seed)."""
    base, other = np.asarray(base, dtype=float), np.asarray(other, dtype=float)
    if base.shape != other.shape:
        raise ValueError(f"paired values need the same seeds: {len(base)} against {len(other)}")
    return t_interval(other - base, confidence)


@dataclass(frozen=True)
class Split:
    """A mean over runs of posterior draws (`draws` draws, `n` runs): its t-interval over
    the draws' means (parameter and chance together: runs of one draw are not independent
    of each other), and the runs' variance split by the law of total variance,
    var_total = var_parameter (between draws: the variance of the draws' means) +
    var_chance (within a draw, between its seeds: the mean of the draws' variances),
    each the plain (divide-by-n) moment, so that the two add up to the total exactly.
    With one seed a draw the two cannot be told apart: both are NaN (the total is kept)."""

    mean: float
    low: float
    high: float
    n: int
    draws: int
    var_total: float
    var_parameter: float
    var_chance: float

    @property
    def parameter_share(self) -> float:
        if math.isnan(self.var_parameter):
            return math.nan
        return self.var_parameter / self.var_total if self.var_total > 0 else 0.0


def posterior_split(values, draws, confidence: float = CONFIDENCE) -> Split:
    """`values` (one per run) grouped by `draws` (each run's posterior draw): see Split.
    Needs at least two draws."""
    x, d = np.asarray(values, dtype=float), np.asarray(draws)
    if x.shape != d.shape:
        raise ValueError(f"a draw per value: {len(x)} values, {len(d)} draws")
    keys = np.unique(d)
    groups = [x[d == k] for k in keys]
    means = np.array([g.mean() for g in groups])
    sizes = np.array([len(g) for g in groups], dtype=float)
    grand = float(x.mean())
    chance = float(sum(len(g) * g.var() for g in groups) / len(x))
    parameter = float((sizes * (means - grand) ** 2).sum() / len(x))
    if sizes.max() < 2:  # one seed a draw: nothing within a draw to measure chance by
        parameter = chance = math.nan
    interval = t_interval(means, confidence)
    half = (interval.high - interval.low) / 2
    return Split(grand, grand - half, grand + half, len(x), len(keys),
                 float(x.var()), parameter, chance)


SLUG_CHARS = 60  # of a default report folder's name, before its hash


def default_out_dir(labels: list[str]) -> Path:
    """runs/compare-A-B: the labels joined when that is short and safe in a file name
    (letters, digits, `_`, `.`, `-`); otherwise a slug of them cut to SLUG_CHARS and
    a hash of all of them, so the name stays under 100 characters and two comparisons
    do not share a folder (`A:beds=30000,days=20` becomes `A_beds_30000_days_20-1f2e3d4c`)."""
    import hashlib
    import re

    joined = "-".join(labels)
    if len(joined) <= SLUG_CHARS and re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]*", joined):
        return Path("runs") / f"compare-{joined}"
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", joined).strip("._-")[:SLUG_CHARS].rstrip("._-")
    digest = hashlib.sha256(json.dumps(labels).encode()).hexdigest()[:8]
    return Path("runs") / f"compare-{slug or 'scenarios'}-{digest}"


def plan_comparison(scenarios: list[str], *, seeds: int | None = None,
                    scale: int = DEFAULT_SCALE, master_seed: int = 0, start: str | None = None,
                    end: str | None = None, out_dir: "Path | None" = None,
                    costs: "str | Path | None" = None, posterior: int | None = None,
                    seeds_per_draw: int | None = None) -> Comparison:
    """Check the scenarios, numbers, dates, unit costs (`costs`: a file laid over
    costs/unit_costs.toml) and report folder, and build the sweep; nothing is
    written. Raises ScenarioError (one line) on the first problem.

    `posterior`: posterior draws (`posterior_draws`); None: on when every scenario names a
    calibration, the seeds split into draws of `seeds_per_draw` (default
    `default_seeds_per_draw`); 0: the medians only. With draws, seed i runs draw
    i // seeds_per_draw in every scenario (paired), and the report splits each
    difference's variance between the draws (parameter) and the seeds (chance)."""
    if len(scenarios) < 2:
        raise CompareError(f"compare needs at least two scenarios, got {len(scenarios)}")
    given_seeds, seeds = seeds, DEFAULT_SEEDS if seeds is None else seeds
    if seeds < 2:
        raise CompareError(f"--seeds must be >= 2 (an interval needs two seeds), got {seeds}")
    if scale < 1:
        raise CompareError(f"--scale must be >= 1, got {scale}")
    if master_seed < 0:
        raise CompareError(f"--master-seed must be >= 0, got {master_seed}")
    items = load_costs(costs)
    check_distinct(items, OUTCOMES)
    texts, files, window, calibrated = [], {}, None, []
    for given in scenarios:
        text = str(Path(given).resolve()) if given.endswith(".toml") else given
        loaded = load_scenario(text, start=start, end=end)  # ScenarioError names the problem
        check_scale(loaded, scale)
        dates = (loaded.start.isoformat(), loaded.end.isoformat())
        if window is not None and dates != window[1]:
            raise CompareError(f"{window[0]} runs {window[1][0]} to {window[1][1]} but {given} "
                               f"runs {dates[0]} to {dates[1]}: give --start and --end inside "
                               f"both")
        window = window or (given, dates)
        file = resolve_path(text).resolve()
        if file in files:
            raise CompareError(f"{files[file]} and {given} are the same scenario")
        files[file] = given
        texts.append(text)
        calibrated.append((given, loaded.calibrated))
    seeds, draws = posterior_draws(calibrated, given_seeds, posterior, seeds_per_draw)
    labels = [Path(s).stem if s.endswith(".toml") else s for s in scenarios]
    if len(set(labels)) < len(labels):
        labels = list(scenarios)
    out_dir = Path(out_dir) if out_dir is not None else default_out_dir(labels)
    lines = [f"description = {json.dumps('run.py compare ' + ' '.join(labels))}",
             f"scenarios = {json.dumps(texts)}", f"seeds = {seeds}",
             f"master_seed = {master_seed}", f"scale = {scale}"]
    lines += [f"{key} = {value}" for key, value in (("start", start), ("end", end)) if value]
    lines += [f"posterior = {draws}"] if draws else []
    try:
        sweep = parse_spec("\n".join(lines) + "\n", out_dir / "compare.toml")
    except SpecError as exc:  # e.g. a date that is not one: name the flag, not the spec
        raise CompareError(str(exc).removeprefix(f"{out_dir / 'compare.toml'}: ")) from None
    _check_out_dir(out_dir, sweep.text)
    label_of = dict(zip(sweep.scenarios, labels))
    run_files = {label: [] for label in labels}
    for task in sorted(sweep.runs, key=lambda t: t.seed_index):
        run_files[label_of[task.scenario]].append(out_dir / "runs" / f"{task.run_id}.parquet")
    return Comparison(list(scenarios), labels, out_dir, *window[1], items, sweep.seeds,
                      master_seed, scale, run_files, sweep.text, sweep=sweep, draws=draws,
                      seeds_per_draw=seeds // draws if draws else 1,
                      posterior_files=sweep.posterior_files)


def default_seeds_per_draw(seeds: int) -> int:
    """Seeds per posterior draw when none are asked for: two (so that the report can
    split chance from parameter) when the seeds are an even number of at least four,
    else one (every seed its own draw: the split is then not measured)."""
    return DEFAULT_SEEDS_PER_DRAW if seeds >= 4 and seeds % DEFAULT_SEEDS_PER_DRAW == 0 else 1


def posterior_draws(calibrated: list[tuple[str, bool]], seeds: int | None,
                    posterior: int | None, seeds_per_draw: int | None) -> tuple[int, int]:
    """(seeds, posterior draws) of a comparison, checked: `calibrated` is each scenario
    as given and whether it names a calibration; `seeds`, `posterior` and `seeds_per_draw`
    None when not given. With draws, seeds = draws x seeds per draw."""
    if seeds_per_draw is not None and (isinstance(seeds_per_draw, bool) or seeds_per_draw < 1):
        raise CompareError(f"--seeds-per-draw must be >= 1, got {seeds_per_draw}")
    uncalibrated = [given for given, has in calibrated if not has]
    if posterior is None:  # the default: on whenever the scenarios have a posterior
        total = seeds or DEFAULT_SEEDS
        if uncalibrated:
            return total, 0
        per_draw = seeds_per_draw or default_seeds_per_draw(total)
        if total % per_draw or total // per_draw < 2:
            raise CompareError(
                f"--seeds {total} is not two or more posterior draws of --seeds-per-draw "
                f"{per_draw} seeds each; give a multiple of {per_draw}, --posterior N, or "
                f"--no-posterior (the medians only)")
        return total, total // per_draw
    if isinstance(posterior, bool) or posterior < 0 or posterior == 1:
        raise CompareError(f"--posterior must be 0 (the medians only) or >= 2 draws (an "
                           f"interval needs two), got {posterior}")
    if posterior == 0:
        return seeds or DEFAULT_SEEDS, 0
    if uncalibrated:
        raise CompareError(f"--posterior {posterior}: {uncalibrated[0]} names no calibration "
                           f"(`calibrated = ...`), so it has no posterior to draw from; use "
                           f"--no-posterior")
    if seeds_per_draw is None:
        seeds_per_draw = seeds // posterior if seeds else DEFAULT_SEEDS_PER_DRAW
    if seeds is not None and seeds != posterior * seeds_per_draw:
        raise CompareError(f"--seeds {seeds} disagrees with --posterior {posterior} x "
                           f"--seeds-per-draw {seeds_per_draw}: with draws, the seeds are "
                           f"draws x seeds per draw")
    return posterior * seeds_per_draw, posterior


def plan_from_sweep(selections: list[str], source: Path, *, out_dir: "Path | None" = None,
                    costs: "str | Path | None" = None) -> Comparison:
    """A comparison of runs an earlier sweep made (`run.py compare A B --from DIR`):
    each selection is a scenario of that sweep, `NAME`, narrowed to one design point
    with `NAME:key=value,key=value` when the sweep varied values. Every selection
    must have one finished run per seed of the sweep. Nothing runs; nothing is
    written. Raises CompareError (one line) on the first problem."""
    if len(selections) < 2:
        raise CompareError(f"compare needs at least two scenarios, got {len(selections)}")
    from experiments.runner import read_manifest

    source = Path(source)
    try:
        manifest = read_manifest(source)
        seeds = manifest["seeds"]
        if not isinstance(seeds, list):
            raise KeyError
    except SpecError as exc:
        raise CompareError(f"--from {exc}") from None
    except KeyError:
        raise CompareError(f"--from {source / 'manifest.json'}: not a sweep manifest (no "
                           f"seeds list)") from None
    runs, vary = manifest["runs"], manifest["vary"]
    if len(seeds) < 2:
        raise CompareError(f"--from {source}: the sweep ran {len(seeds)} seed per point; an "
                           f"interval needs two or more")
    items = load_costs(costs)
    check_distinct(items, OUTCOMES)
    from experiments.spec import as_text

    run_files, chosen = {}, {}
    for given in selections:
        name, _, where = given.partition(":")
        wanted = {}
        for pair in filter(None, where.split(",")):
            key, eq, value = pair.partition("=")
            if not eq or key not in vary:
                raise CompareError(f"{given}: {pair!r}: expected key=value with a key the "
                                   f"sweep varied ({', '.join(vary) or 'it varied none'})")
            wanted[key] = value
        mine = [r for r in runs if r["scenario"] == name
                and all(_same(as_text(r["values"][k]), v) for k, v in wanted.items())]
        if not mine:
            known = sorted({r["scenario"] for r in runs})
            raise CompareError(f"{given}: no run of {source} matches (its scenarios: "
                               f"{', '.join(known)}; varied: {', '.join(vary) or 'none'})")
        points = {json.dumps(r["values"], sort_keys=True) for r in mine}
        if len(points) > 1:
            free = [k for k in vary if k not in wanted]
            raise CompareError(f"{given}: matches {len(points)} design points of {source}; "
                               f"pick one with {name}:{','.join(f'{k}=...' for k in free)}")
        undone = [r for r in mine if r["status"] not in ("finished", "skipped")]
        if undone:
            raise CompareError(f"{given}: {len(undone)} of its {len(mine)} runs in {source} are "
                               f"not finished; run `run.py sweep` on it again first")
        key = (name, points.pop())  # two scenarios at the same values are different runs
        if key in chosen.values():
            other = next(g for g, k in chosen.items() if k == key)
            raise CompareError(f"{other} and {given} are the same runs")
        chosen[given] = key
        mine.sort(key=lambda r: r["seed_index"])
        if [r["seed"] for r in mine] != list(seeds):
            raise CompareError(f"{given}: its runs in {source} are not one per seed of the "
                               f"sweep")
        run_files[given] = [source / "runs" / f"{r['run_id']}.parquet" for r in mine]
    from experiments.runner import check_run_file

    for files in run_files.values():  # each file's footer: a damaged one is named, not read
        for file in files:
            why = check_run_file(file, file.stem)
            if why is not None:
                raise CompareError(f"--from {source}: {file}: {why}; run the sweep "
                                   f"that made it again (same spec, --out {source}) to redo it")
    labels = list(selections)
    out_dir = Path(out_dir) if out_dir is not None else default_out_dir(labels)
    identity = json.dumps({"from": str(source.resolve()), "runs": {
        label: [f.name for f in files] for label, files in run_files.items()}}, indent=1)
    _check_out_dir(out_dir, identity, SELECTION_FILE)
    months = pd.read_parquet(run_files[labels[0]][0], columns=["kind", "period"])
    months = sorted(months.loc[months["kind"] == "monthly", "period"])
    drawn = manifest.get("posterior") or {}
    draws = drawn.get("draws", 0) if isinstance(drawn, dict) else 0
    return Comparison(labels, labels, out_dir, months[0], months[-1], items, list(seeds),
                      manifest.get("master_seed", 0), manifest.get("scale", 1), run_files,
                      identity, source=source, draws=draws,
                      seeds_per_draw=len(seeds) // draws if draws else 1,
                      posterior_files=drawn.get("files", []) if draws else [])


def _same(stored: str, given: str) -> bool:
    """A varied value as stored and as typed: the same text, or the same number."""
    if stored == given:
        return True
    try:
        return float(stored) == float(given)
    except ValueError:
        return False


def _check_out_dir(out_dir: Path, text: str, name: str = "spec.toml") -> None:
    """The report folder must be new, empty, or hold this same comparison (resumed,
    or its report made again); `name` is the file in it that says which. A name the
    system refuses (too long, unreadable) is refused here, in one line. The sweep's
    `.lock` does not count as content."""
    try:
        if out_dir.exists() and not out_dir.is_dir():
            raise CompareError(f"--out {out_dir}: is a file, not a folder")
        spec = out_dir / name
        if spec.is_file():
            if spec.read_bytes() != text.encode():
                raise CompareError(f"--out {out_dir}: holds another comparison (other "
                                   f"scenarios, seeds, scale or dates); use another --out")
        elif out_dir.is_dir() and any(p.name != ".lock" for p in out_dir.iterdir()):
            raise CompareError(f"--out {out_dir}: is not empty and holds no comparison; use a "
                               f"new or empty folder")
    except OSError as exc:  # e.g. a name over 255 bytes
        raise CompareError(f"--out {out_dir}: {exc.strerror or exc}") from None


def run_comparison(plan: Comparison, *, workers: int | None = None,
                   scheduler: str | None = None, processes: bool = True,
                   progress: bool = True):
    """Run every scenario on every seed with `run_sweep` (see its arguments);
    returns its SweepReport. A comparison from an earlier sweep runs nothing."""
    from experiments.runner import SweepReport, run_sweep

    if plan.sweep is None:
        done = [f.stem for files in plan.run_files.values() for f in files]
        return SweepReport(plan.out_dir, total=len(done), skipped=done)
    return run_sweep(plan.sweep, plan.out_dir, workers=workers, scheduler=scheduler,
                     processes=processes, progress=progress)


def load_runs(plan: Comparison) -> pd.DataFrame:
    """The comparison's runs, long form (as `runner.run_table` made them), with the
    scenario column holding each scenario's label (the varied values' columns,
    which differ between sweeps, are left out)."""
    keep = ["run_id", "scenario", "seed_index", "seed", "scale", *(["draw"] if plan.draws else []),
            "code", "kind", "period", "column", "value"]
    parts = []
    for label, files in plan.run_files.items():
        for file in files:
            part = pd.read_parquet(file, columns=keep)
            part["scenario"] = label
            parts.append(part)
    long = pd.concat(parts, ignore_index=True)
    return long


def whole_run(years: pd.DataFrame, names=OUTCOMES) -> dict[str, float]:
    """One run's columns `names` over the whole run from its fiscal-year rows (in
    order): see the module doc for how each kind of column is combined."""
    out = {}
    for name in names:
        if name == "repeat_encounter_rate":
            enc = years["encounters"].sum()
            out[name] = float(years["repeat_encounters"].sum() / enc) if enc > 0 else 0.0
        elif _HOW[name] == "sum":
            out[name] = float(years[name].sum())
        elif _HOW[name] == "mean":
            out[name] = float((years[name] * years["days"]).sum() / years["days"].sum())
        else:  # "last": the run's end
            out[name] = float(years[name].iloc[-1])
    return out


def per_seed_outcomes(long: pd.DataFrame, costs: "list[CostItem] | None" = None
                      ) -> pd.DataFrame:
    """One row per scenario, seed and period (each fiscal year, then "run"), one
    column per outcome, then each cost item's quantity and cost and the total cost.
    Runs of posterior draws (a `draw` column in `long`) keep their draw, after the seed
    index."""
    ids = ["scenario", "seed_index", *(["draw"] if "draw" in long.columns else []), "seed"]
    years = long[long["kind"] == "fiscal_year"].pivot_table(
        index=[*ids, "period"], columns="column", values="value")
    rows = []
    names = None
    levels = list(range(len(ids)))
    for key, run in years.groupby(level=levels, sort=False):
        run = run.droplevel(levels).sort_index()
        table = run[list(OUTCOMES)].join(price(run, costs or []))
        names = list(table.columns)
        front = dict(zip(ids, key))
        for period, values in table.iterrows():
            rows.append({**front, "period": period, **values.to_dict()})
        priced = table.columns[len(OUTCOMES):]
        rows.append({**front, "period": WHOLE_RUN, **whole_run(run),
                     **table[priced].sum().to_dict()})
    return pd.DataFrame(rows, columns=[*ids, "period", *(names or OUTCOMES)])


ID_COLUMNS = ("scenario", "seed_index", "draw", "seed", "period")


def measured(per_seed: pd.DataFrame) -> list[str]:
    """The outcome (and cost) columns of a per-seed table, in order."""
    return [c for c in per_seed.columns if c not in ID_COLUMNS]


def summarise(per_seed: pd.DataFrame, labels: list[str]) -> pd.DataFrame:
    """Tidy summary: for each period and outcome, the first scenario's mean with its
    interval (statistic "mean") and each other's paired difference from it
    (statistic "difference", other minus first), seed by seed. Runs of posterior draws
    (a `draw` column): each interval is over the draws (parameter and chance together,
    `posterior_split`), with the variance of the runs (of the paired differences, for a
    difference) split into parameter and chance."""
    by_draw = "draw" in per_seed.columns
    base_label = labels[0]
    rows = []
    for period in per_seed["period"].unique():
        here = per_seed[per_seed["period"] == period]
        values = {label: here[here["scenario"] == label].sort_values("seed_index")
                  for label in labels}
        paired_on = ["seed", "draw"] if by_draw else ["seed"]
        for label in labels[1:]:
            if any(list(values[label][c]) != list(values[base_label][c]) for c in paired_on):
                raise ValueError(f"{label} and {base_label} ran on different "
                                 f"{' or '.join(c + 's' for c in paired_on)}")
        draws = values[base_label]["draw"].to_numpy() if by_draw else None
        for name in measured(per_seed):
            base = values[base_label][name].to_numpy(dtype=float)
            for label in labels:
                if label == base_label:
                    statistic, vs = "mean", ""
                    est = posterior_split(base, draws) if by_draw else t_interval(base)
                else:
                    statistic, vs = "difference", base_label
                    other = values[label][name].to_numpy(dtype=float)
                    est = (posterior_split(other - base, draws) if by_draw
                           else paired_difference(base, other))
                row = {"period": period, "outcome": name, "scenario": label,
                       "statistic": statistic, "vs": vs, "seeds": est.n}
                if by_draw:
                    row["draws"] = est.draws
                row.update(estimate=est.mean, low=est.low, high=est.high)
                if by_draw:
                    row.update(var_total=est.var_total, var_parameter=est.var_parameter,
                               var_chance=est.var_chance, parameter_share=est.parameter_share)
                rows.append(row)
    return pd.DataFrame(rows)


def wide_table(summary: pd.DataFrame, period: str) -> pd.DataFrame:
    """One period's summary with one row per outcome: the first scenario's mean, low
    and high, then each other scenario's difference, low and high (for CSV)."""
    here = summary[summary["period"] == period]
    table = pd.DataFrame(index=pd.Index(list(dict.fromkeys(here["outcome"])), name="outcome"))
    for (scenario, statistic, vs), part in here.groupby(["scenario", "statistic", "vs"],
                                                        sort=False):
        head = scenario if statistic == "mean" else f"{scenario} - {vs}"
        head = f"{head} mean" if statistic == "mean" else head
        part = part.set_index("outcome")
        table[head] = part["estimate"]
        table[f"{head} low"] = part["low"]
        table[f"{head} high"] = part["high"]
        if "var_total" in part:  # runs of posterior draws: the spread and its split
            table[f"{head} {SD}"] = np.sqrt(part["var_total"])
            table[f"{head} {SHARE}"] = part["parameter_share"]
    return table


SD = "sd"  # of the runs (of the paired differences): parameter and chance
SHARE = "parameter share"  # of the runs' variance: between posterior draws


def _number(name: str, value: float, sign: bool = False) -> str:
    if name == "repeat_encounter_rate":
        return f"{value:+.3f}" if sign else f"{value:.3f}"
    return f"{value:+,.0f}" if sign else f"{value:,.0f}"


def readable_table(summary: pd.DataFrame, period: str) -> pd.DataFrame:
    """One period's summary as text: an estimate column and a `95% CI` column per
    scenario (differences signed)."""
    wide = wide_table(summary, period)
    heads = [h for h in wide.columns if not h.endswith((" low", " high", f" {SD}", f" {SHARE}"))]
    table = pd.DataFrame(index=wide.index)
    for head in heads:
        sign = not head.endswith(" mean")
        table[head] = [_number(n, v, sign) for n, v in wide[head].items()]
        short = head.removesuffix(' mean')
        table[f"{short} {CONFIDENCE:.0%} CI"] = [
            f"[{_number(n, lo, sign)}, {_number(n, hi, sign)}]"
            for n, lo, hi in zip(wide.index, wide[f"{head} low"], wide[f"{head} high"])]
        if f"{head} {SD}" in wide:
            table[f"{short} {SD}"] = [_number(n, v) for n, v in wide[f"{head} {SD}"].items()]
            table[f"{short} {SHARE}"] = ["n/a" if math.isnan(v) else f"{v:.0%}"
                                         for v in wide[f"{head} {SHARE}"]]
    return table


COSTS_NOTE = ("Costs are each item's quantity (its columns summed; an average daily stock as "
              "person-days; times per_unit) times its unit cost, in US dollars as published "
              "(cost_*_usd); cost_total_usd adds them. Defaults in costs/unit_costs.toml; run.py compare "
              "--costs FILE overrides them.")
WHOLE_RUN_NOTE = ("whole run: flows summed; detention_population averaged over the run's days; "
                  "mpp_waiting and court_backlog at the run's end; repeat_encounter_rate "
                  "recomputed; unique_encountered summed over fiscal years")


def plot_monthly(long: pd.DataFrame, labels: list[str], column: str) -> bytes:
    """A PNG (Agg backend) of `column` by month: the mean over seeds per scenario, and
    a band from the lowest to the highest seed."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    monthly = long[(long["kind"] == "monthly") & (long["column"] == column)]
    fig = Figure(figsize=(8, 4), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    for label in labels:
        by_month = monthly[monthly["scenario"] == label].pivot_table(
            index="period", columns="seed_index", values="value").sort_index()
        x = pd.to_datetime(by_month.index, format="%Y-%m")
        line, = ax.plot(x, by_month.mean(axis=1), label=label)
        ax.fill_between(x, by_month.min(axis=1), by_month.max(axis=1),
                        color=line.get_color(), alpha=0.25, linewidth=0)
    seeds = monthly["seed_index"].nunique()
    ax.set_title(f"{column}: mean of {seeds} seeds, band from lowest to highest seed")
    ax.set_ylabel({"sum": "people in the month", "mean": "people (average day of the month)",
                   "last": "people (month end)"}[_HOW[column]])
    ax.legend()
    ax.grid(alpha=0.3)
    fig.autofmt_xdate()
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def write_report(plan: Comparison, long: pd.DataFrame) -> tuple[dict[str, Path], pd.DataFrame]:
    """Compute the tables and plots of a finished comparison and write them into
    the report folder: tables/*.csv (one per fiscal year and one for the whole run,
    wide; summary.csv tidy; per_seed.csv), plots/*.png and report.html. Returns
    the files written ({"run": ..., "html": ..., ...}) and the tidy summary."""
    from model.files import write_atomically

    out = plan.out_dir
    if plan.sweep is None:  # from an earlier sweep: say which runs this report is of
        out.mkdir(parents=True, exist_ok=True)
        write_atomically(out / SELECTION_FILE, plan.identity.encode())
    per_seed = per_seed_outcomes(long, plan.costs)
    summary = summarise(per_seed, plan.labels)
    costs = unit_cost_table(plan.costs)
    periods = list(dict.fromkeys(summary["period"]))
    (out / "tables").mkdir(parents=True, exist_ok=True)
    (out / "plots").mkdir(exist_ok=True)
    files = {}
    for period in periods:
        path = out / "tables" / f"{period}.csv"
        write_atomically(path, wide_table(summary, period).to_csv().encode())
        files[period] = path
    for name, table in (("summary", summary), ("per_seed", per_seed), ("unit_costs", costs)):
        path = out / "tables" / f"{name}.csv"
        write_atomically(path, table.to_csv(index=False).encode())
        files[name] = path
    pngs = {}
    for column in PLOTTED:
        pngs[column] = plot_monthly(long, plan.labels, column)
        files[f"plot {column}"] = out / "plots" / f"{column}.png"
        write_atomically(files[f"plot {column}"], pngs[column])
    files["html"] = out / "report.html"
    write_atomically(files["html"], report_html(plan, summary, periods, pngs, costs).encode())
    return files, summary


def posterior_note(plan: Comparison, html_escape: bool = False) -> str:
    """What the report says about the posterior: the draws and the file(s) they came
    from (path and sha256); nothing for a comparison of the medians only."""
    esc = html.escape if html_escape else (lambda text: text)
    if not plan.draws:  # the report as it was before draws (--posterior 0)
        return ""
    files = "; ".join(f"{f['file']} (sha256 {f['sha256']})" for f in plan.posterior_files or [])
    seeds = f"{plan.seeds_per_draw} seed{'s' if plan.seeds_per_draw != 1 else ''}"
    text = (f"Posterior: {plan.draws} draws x {seeds} each; seed i runs "
            f"draw i // {plan.seeds_per_draw} in every scenario, so differences stay paired. "
            f"Drawn from {files}. Each {CONFIDENCE:.0%} interval is a t-interval over the "
            f"draws' means: parameter and chance together. {SD}: the runs' standard deviation "
            f"(of the paired differences); {SHARE}: the part of their variance between draws "
            f"(law of total variance; the rest is chance, between the seeds of a draw).")
    return f"<p>{esc(text)}</p>" if html_escape else text


def report_html(plan: Comparison, summary: pd.DataFrame, periods: list[str],
                pngs: dict[str, bytes], costs: "pd.DataFrame | None" = None) -> str:
    """One self-contained HTML page: the settings, the whole-run and fiscal-year
    tables, and the plots as base64 data: URIs (no external CSS, JS or images)."""
    window = f"{plan.first_day} to {plan.last_day}"
    origin = f" Runs read from the sweep in {plan.source}." if plan.source else ""
    esc = html.escape
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        f"<title>compare {esc(' vs '.join(plan.labels))}</title>",
        "<style>body{font-family:sans-serif;margin:2em;max-width:80em}"
        "table{border-collapse:collapse;font-size:90%;margin-bottom:1.5em}"
        "td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}"
        "th:first-child,td:first-child{text-align:left}</style></head><body>",
        f"<h1>{esc(' vs '.join(plan.labels))}</h1>",
        f"<p>{len(plan.seeds)} seeds (master seed {plan.master_seed}), the same for every "
        f"scenario (common random numbers); scale {plan.scale}; {esc(window)}."
        f"{esc(origin)}</p>",
        f"<p>First column: the mean of <b>{esc(plan.labels[0])}</b> over the seeds with its "
        f"{CONFIDENCE:.0%} t-interval. Other columns: the mean paired difference, other "
        f"scenario minus {esc(plan.labels[0])} seed by seed, with its {CONFIDENCE:.0%} "
        f"t-interval.</p>",
    ]
    parts += [note for note in [posterior_note(plan, html_escape=True)] if note]
    for period in [WHOLE_RUN] + [p for p in periods if p != WHOLE_RUN]:
        title = "Whole run" if period == WHOLE_RUN else period
        parts.append(f"<h2>{esc(title)}</h2>")
        if period == WHOLE_RUN:
            parts.append(f"<p>{esc(WHOLE_RUN_NOTE)}.</p>")
        parts.append(readable_table(summary, period).to_html())
    if costs is not None and len(costs):
        parts.append("<h2>Unit costs</h2>")
        parts.append(f"<p>{esc(COSTS_NOTE)}</p>")
        shown = costs[["item", "quantity", "columns", "per_unit", "unit", "unit_cost_usd",
                       "source", "per_unit_source"]]
        parts.append(shown.to_html(index=False))
    parts.append("<h2>By month</h2>")
    for column, png in pngs.items():
        data = base64.b64encode(png).decode("ascii")
        parts.append(f'<h3>{esc(column)}</h3><img alt="{esc(column)} by month" '
                     f'src="data:image/png;base64,{data}">')
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
