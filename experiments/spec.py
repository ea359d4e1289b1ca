"""Sweep specs: a TOML file naming scenarios, seeds and the values to vary, checked
and expanded into the list of runs before anything runs.

    description = "Title 42 end date x Mexico's family acceptance"
    scenarios = ["historical"]        # names in scenarios/ or .toml paths (relative to this file)
    seeds = 5                         # seeds per design point, derived from master_seed
    master_seed = 0
    scale = 100
    design = "grid"                   # grid | lhs | sobol | saltelli | morris (all but grid
                                      # need `samples = N`)
    end = 2019-09-30                  # optional: a shorter run (start/end, as --set start/end)
    posterior = 5                     # optional: posterior draws (0 or absent: the medians);
                                      # seeds = draws x seeds per draw, run i on draw i // that
    [vary]                            # keys as `run.py run --set` takes them
    "policies.title42.end" = [2021-03-31, 2021-06-30]                # a list of values
    "apprehension_prob.tucson" = {low = 0.6, high = 0.9, steps = 4}  # a range

Sizes are capped before anything is allocated (`LIMITS`, `MAX_RUNS`,
`MAX_SPEC_BYTES`): a spec asking for more is refused naming the field and its cap.

Levers x uncertainties (as EMA Workbench users explore): instead of `[vary]`, a
`[levers]` table (the policy choices: lists, or ranges with steps, run as a grid of
every combination) and an `[uncertainties]` table (what nobody chooses: ranges or
lists, sampled `samples` times by the design, "lhs" (default) or "sobol"). Every
lever combination runs at every uncertainty sample on every seed, so each lever
combination meets the same futures (what `run.py discover` compares):

    design = "lhs"
    samples = 40                      # uncertainty samples
    [levers]
    "policies.title42.end" = [2021-03-31, 2021-12-31]
    "policies.mpp_2019.enabled" = [true, false]
    [uncertainties]
    "departure_sensitivity" = {low = 0.5, high = 4.0}

The `saltelli` and `morris` designs are SALib's samples for Sobol indices and
Morris elementary effects (`run.py sensitivity`); they vary ranges only, and a
`[sensitivity]` table names what to analyse:

    [sensitivity]
    outputs = ["encounters", "releases"]   # monthly.csv columns (see model.state.recorder)
    period = "run"                         # "run" (the whole run) or a fiscal year, "FY2020"
    levels = 4                             # morris only: grid levels (even, >= 2)
    second_order = false                   # saltelli only: also second-order indices

Every varied value, and every combination the design makes, goes through the
scenario's own checks (`load_scenario`) here, so a value the scenario would refuse
is refused up front; the first problem raises `SpecError` as
`FILE: FIELD: what is wrong`.
"""

import hashlib
import itertools
import json
import math
import tomllib
import warnings
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from model import ScenarioError, load_scenario
from model.config.scale_check import check_scale
from model.config.scenario import SCENARIO_DIR, resolve_path, value_text
from model.config.validation import check_keys

TOP_LEVEL_KEYS = ("description", "scenarios", "seeds", "master_seed", "scale", "design",
                  "samples", "start", "end", "vary", "levers", "uncertainties", "sensitivity",
                  "posterior")
SAMPLED_DESIGNS = ("lhs", "sobol")  # how [uncertainties] may be sampled
SALIB_DESIGNS = ("saltelli", "morris")  # SALib samples: their rows' order is the analysis's
DESIGNS = ("grid", "lhs", "sobol", *SALIB_DESIGNS)
SENSITIVITY_KEYS = ("outputs", "period", "levels", "second_order")
RANGE_KEYS = ("low", "high", "steps")

# Caps, checked before anything is allocated. A sweep of MAX_RUNS runs took 6.7 s and
# 239 MB (peak RSS, 10 points x 10,000 seeds) to plan here, its manifest is 24 MB (7 s a
# write on a loaded machine), and it is days of worker time (0.5 s a run at scale 100 for
# the 2018-2022 window); split a bigger study into several specs.
MAX_RUNS = 100_000
MAX_SPEC_BYTES = 1_000_000
LIMITS = {"seeds": 10_000, "samples": 100_000, "steps": 10_000, "values": 10_000,
          "vary": 100, "scenarios": 100, "levels": 100, "description": 10_000,
          "master_seed": 2**63 - 1}


class SpecError(ScenarioError):
    """A sweep spec that cannot be run (one line: `FILE: FIELD: what is wrong`)."""


@dataclass(frozen=True)
class RunTask:
    """One run of a sweep: what a worker needs to call `simulate`, and its identity.

    `scenario` is the spec's text for it (name or path); `scenario_path` is what
    the worker loads (a name, or an absolute path). `values` maps each varied key
    to its value as a plain scalar (dates as ISO text); `overrides` are the same
    values as `--set` texts, applied through the model's own checks.
    """

    run_id: str
    scenario: str
    scenario_path: str
    values: dict[str, Any]
    overrides: tuple[str, ...]
    seed_index: int
    seed: int
    scale: int
    start: str | None
    end: str | None
    draw: int | None = None  # the posterior draw it runs (None: the calibrated medians)


@dataclass
class Sweep:
    """A checked spec and the runs it makes (design points x scenarios x seeds)."""

    path: Path
    text: str
    description: str
    scenarios: list[str]
    seeds: list[int]
    master_seed: int
    scale: int
    design: str
    samples: int | None
    start: str | None
    end: str | None
    vary_keys: list[str]
    points: list[dict[str, Any]]
    runs: list[RunTask] = field(default_factory=list)
    # saltelli/morris: every row of SALib's sample in its order (a row drawn twice
    # is one point, run once), the ranges as SALib's `problem`, and [sensitivity]
    design_rows: list[dict[str, Any]] = field(default_factory=list)
    problem: dict | None = None
    sensitivity: "Sensitivity | None" = None
    # a levers x uncertainties spec: which of vary_keys are levers, which uncertainties
    lever_keys: list[str] = field(default_factory=list)
    uncertainty_keys: list[str] = field(default_factory=list)
    posterior: int = 0  # posterior draws (0: the medians); seeds split evenly over them
    posterior_files: list[dict] = field(default_factory=list)  # {"file", "sha256"} drawn from
    # per scenario: what its runs are made from (its files, read and merged: parameters,
    # policies, dates; `scenario_inputs`), so a folder of runs made before a scenario
    # file or the committed fit changed is never taken for this sweep's
    inputs: dict[str, dict] = field(default_factory=dict)

    @property
    def stem(self) -> str:
        return self.path.stem

    def spec_hash(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()


@dataclass(frozen=True)
class Sensitivity:
    """A spec's [sensitivity] table, checked: the outputs (monthly.csv columns) to
    analyse over `period` ("run" or "FY2020"), Morris's grid levels and whether
    Saltelli's sample carries second-order indices."""

    outputs: tuple[str, ...]
    period: str
    levels: int
    second_order: bool


def derive_seeds(master_seed: int, n: int) -> list[int]:
    """n run seeds from one master seed: child i of `SeedSequence(master_seed)`, as a
    32-bit integer. The same seeds serve every design point (common random numbers)."""
    children = np.random.SeedSequence(master_seed).spawn(n)
    return [int(child.generate_state(1)[0]) for child in children]


def run_id(scenario: str, values: dict[str, Any], seed: int, scale: int,
           start: str | None, end: str | None, draw: int | None = None,
           posterior: tuple[str, ...] = ()) -> str:
    """A stable name for a run: a hash of what defines it (not of where it runs): with a
    posterior `draw`, also the draw and the posterior files' hashes (`posterior`)."""
    identity = {"scenario": scenario, "values": values, "seed": seed, "scale": scale,
                "start": start, "end": end}
    if draw is not None:
        identity.update(draw=draw, posterior=list(posterior))
    text = json.dumps(identity, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


as_text = value_text  # a scalar as `--set` takes it (one home: model.config.scenario)


def plain(value: Any) -> Any:
    """A scalar as stored in the results (dates as ISO text, numpy numbers as Python's)."""
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, np.generic):
        return value.item()
    return value


def load_spec(path: "str | Path") -> Sweep:
    """Read and check a sweep spec and build its runs; raises SpecError."""
    path = Path(path)
    where = str(path)
    if path.is_dir():
        raise SpecError(f"{where}: is a folder, not a sweep spec file")
    if not path.is_file():
        raise SpecError(f"{where}: no such sweep spec file")
    try:
        with open(path, "rb") as f:  # never more than the cap into memory
            data = f.read(MAX_SPEC_BYTES + 1)
    except OSError as exc:
        raise SpecError(f"{where}: cannot read: {exc.strerror or exc}") from None
    if len(data) > MAX_SPEC_BYTES:
        raise SpecError(f"{where}: larger than {MAX_SPEC_BYTES:,} bytes; a sweep spec is a "
                        f"short TOML file")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SpecError(f"{where}: not valid TOML: {exc}") from None
    return parse_spec(text, path)


def parse_spec(text: str, path: "str | Path") -> Sweep:
    """Check a spec given as text and build its runs; `path` names it in messages
    and is where relative scenario paths start from (its folder). Raises SpecError.
    (`run.py compare` builds its spec this way, without a file.)"""
    path = Path(path)
    where = str(path)
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"{where}: not valid TOML: {exc}") from None
    check_keys(raw, TOP_LEVEL_KEYS, f"{where}: ", SpecError)

    description = raw.get("description", "")
    if not isinstance(description, str):
        raise SpecError(f"{where}: description: expected text, got {_short(description)}")
    if len(description) > LIMITS["description"]:
        raise SpecError(f"{where}: description: {len(description):,} characters; at most "
                        f"{LIMITS['description']:,}")
    n_seeds = _whole(where, "seeds", raw.get("seeds", 1), 1, LIMITS["seeds"])
    master_seed = _whole(where, "master_seed", raw.get("master_seed", 0), 0,
                         LIMITS["master_seed"])
    scale = _whole(where, "scale", raw.get("scale", 1), 1)
    crossed = "levers" in raw or "uncertainties" in raw
    design = raw.get("design", "lhs" if "uncertainties" in raw else "grid")
    if crossed:
        _check_crossed(where, raw, design)
    if design not in DESIGNS:
        raise SpecError(f"{where}: design: unknown design {_short(design)} (known: {', '.join(DESIGNS)})")
    samples = None
    if crossed and "uncertainties" not in raw:
        if "samples" in raw:
            raise SpecError(f"{where}: samples: only with [uncertainties] (the samples drawn "
                            f"of them); [levers] alone run as a grid")
    elif design == "grid":
        if "samples" in raw:
            raise SpecError(f"{where}: samples: not for the grid design (a grid runs every "
                            f"combination of its values)")
    else:
        if "samples" not in raw:
            raise SpecError(f"{where}: samples: missing; a {design} design needs "
                            f"`samples = N` (design points to draw)")
        samples = _whole(where, "samples", raw["samples"], 1, LIMITS["samples"])
    start, end = (_date_text(where, key, raw.get(key)) for key in ("start", "end"))

    scenarios = raw.get("scenarios")
    if (not isinstance(scenarios, list) or not scenarios
            or not all(isinstance(s, str) for s in scenarios)):
        raise SpecError(f"{where}: scenarios: expected a non-empty list of scenario names "
                        f"or .toml paths, got {_short(scenarios)}")
    if len(scenarios) > LIMITS["scenarios"]:
        raise SpecError(f"{where}: scenarios: {len(scenarios):,} listed; at most "
                        f"{LIMITS['scenarios']}")
    if len(set(scenarios)) != len(scenarios):
        raise SpecError(f"{where}: scenarios: listed twice: {_short(scenarios)}")
    paths = {s: _scenario_path(s, path.parent) for s in scenarios}
    inputs = {}
    for i, name in enumerate(scenarios):
        try:
            loaded = load_scenario(paths[name], start=start, end=end)
            inputs[name] = scenario_inputs(loaded)
        except ScenarioError as exc:
            if not resolve_path(paths[name]).is_file():
                known = ", ".join(sorted(p.stem for p in SCENARIO_DIR.glob("*.toml")))
                raise SpecError(f"{where}: scenarios[{i}]: unknown scenario {name!r} "
                                f"(scenarios: {known})") from None
            raise SpecError(f"{where}: scenarios[{i}]: {name!r}: {exc}") from None
        try:
            check_scale(loaded, scale)
        except ScenarioError as exc:
            raise SpecError(f"{where}: {exc} (scenario {name!r})") from None
    draws, drawn = _posterior(where, raw, n_seeds, scenarios, paths, start, end)

    lever_keys, uncertainty_keys = [], []
    if crossed:
        levers = _table(where, "levers", raw.get("levers", {}))
        uncertainties = _table(where, "uncertainties", raw.get("uncertainties", {}))
        both = [k for k in levers if k in uncertainties]
        if both:
            raise SpecError(f"{where}: uncertainties.{both[0]}: also a lever; a key is either "
                            f"chosen (a lever) or uncertain, not both")
        if len(levers) + len(uncertainties) > LIMITS["vary"]:
            raise SpecError(f"{where}: levers and uncertainties: "
                            f"{len(levers) + len(uncertainties):,} keys; at most {LIMITS['vary']}")
        lever_axes = {key: _axis(where, key, spec, "grid", "levers")
                      for key, spec in levers.items()}
        uncertainty_axes = {key: _axis(where, key, spec, design, "uncertainties")
                            for key, spec in uncertainties.items()}
        combos = math.prod(len(a) for a in lever_axes.values())
        _check_size(where, {}, "crossed", (samples or 1) * combos, len(scenarios), n_seeds, None,
                    f"{combos:,} lever combinations x {samples or 1:,} uncertainty samples =")
        sensitivity = None
        problem, rows = None, []
        points = _crossed_points(where, lever_axes, uncertainty_axes, design, samples,
                                 master_seed)
        lever_keys, uncertainty_keys = list(levers), list(uncertainties)
        vary = {**levers, **uncertainties}
    else:
        vary = _table(where, "vary", raw.get("vary", {}))
        axes = {key: _axis(where, key, spec, design) for key, spec in vary.items()}
        _check_size(where, axes, design, samples, len(scenarios), n_seeds,
                    raw.get("sensitivity"))
        sensitivity = _sensitivity(where, raw.get("sensitivity"), design,
                                   load_scenario(paths[scenarios[0]], start=start, end=end))
        problem, rows = None, []
        if design in SALIB_DESIGNS:
            problem, rows = _salib_rows(where, axes, design, samples, master_seed, sensitivity)
            points = _unique(rows)
        else:
            points = _design_points(where, axes, design, samples, master_seed)

    sweep = Sweep(path=path, text=text, description=description, scenarios=scenarios,
                  seeds=derive_seeds(master_seed, n_seeds), master_seed=master_seed, scale=scale,
                  design=design, samples=samples, start=start, end=end,
                  vary_keys=list(vary), points=points, design_rows=rows, problem=problem,
                  sensitivity=sensitivity, lever_keys=lever_keys,
                  uncertainty_keys=uncertainty_keys, posterior=draws, posterior_files=drawn,
                  inputs=inputs)
    _check_values(sweep, paths)
    per_draw = n_seeds // draws if draws else 0
    hashes = tuple(f["sha256"] for f in drawn)

    def draw_of(i: int) -> int | None:
        return i // per_draw if draws else None

    sweep.runs = [
        RunTask(run_id=run_id(name, point, seed, scale, start, end, draw_of(i), hashes),
                scenario=name, scenario_path=paths[name], values=point,
                overrides=tuple(f"{k}={as_text(v)}" for k, v in point.items()),
                seed_index=i, seed=seed, scale=scale, start=start, end=end, draw=draw_of(i))
        for point in points for name in scenarios for i, seed in enumerate(sweep.seeds)]
    return sweep


def _posterior(where: str, raw: dict, n_seeds: int, scenarios: list[str],
               paths: dict[str, str], start: str | None, end: str | None
               ) -> tuple[int, list[dict]]:
    """`posterior = N`: N posterior draws of every scenario's calibration, the seeds split
    evenly over them (seed i runs draw i // (seeds / N), so the runs of one seed index are
    paired across scenarios and points); returns (N, the posterior files drawn from)."""
    draws = _whole(where, "posterior", raw.get("posterior", 0), 0, LIMITS["seeds"])
    if not draws:
        return 0, []
    if n_seeds % draws:
        raise SpecError(f"{where}: posterior: {n_seeds} seeds do not split evenly over {draws} "
                        f"posterior draws (seeds = draws x seeds per draw)")
    files: dict[str, dict] = {}
    for i, name in enumerate(scenarios):
        try:
            loaded = load_scenario(paths[name], start=start, end=end, draw=0)
        except ScenarioError as exc:
            raise SpecError(f"{where}: posterior: scenarios[{i}] {name!r}: {exc}") from None
        files.update({p["sha256"]: {"file": p["file"], "sha256": p["sha256"]}
                      for p in loaded.posterior})
    return draws, sorted(files.values(), key=lambda f: (f["file"], f["sha256"]))


def scenario_inputs(loaded) -> dict:
    """What a scenario's runs are made from: the sha256 of everything that defines them
    (`LoadedScenario.resolved()`: dates, parameters, policies; not where its files are,
    so a folder of runs moved with the repository still matches) and the files read, for
    the message that names what changed."""
    defines = {k: v for k, v in loaded.resolved().items() if k != "sources"}
    text = json.dumps(defines, sort_keys=True, default=str)
    return {"sha256": hashlib.sha256(text.encode()).hexdigest(), "files": list(loaded.sources)}


def _whole(where: str, key: str, value: Any, least: int, most: int | None = None) -> int:
    """A whole number in [least, most]; a float (`1e9`), text or true/false is refused."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise SpecError(f"{where}: {key}: expected a whole number, got {_short(value)}")
    if value < least:
        raise SpecError(f"{where}: {key}: must be >= {least}, got {value}")
    if most is not None and value > most:
        raise SpecError(f"{where}: {key}: {value:,} is above the cap of {most:,}")
    return value


def _short(value: Any, limit: int = 80) -> str:
    """repr(value), cut to `limit` characters (a message stays one readable line)."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + f"... ({len(text):,} characters)"


def _check_size(where: str, axes: dict, design: str, samples: int | None, n_scenarios: int,
                n_seeds: int, sensitivity: Any, what: str = "samples") -> None:
    """Refuse a sweep of more than MAX_RUNS runs before its points are made: design
    points (a grid's product of its lists, the draws of lhs/sobol, SALib's rows:
    Saltelli N * (2D + 2) with second order, N * (D + 2) without; Morris N * (D + 1))
    x scenarios x seeds."""
    if design == "grid":
        points, what = math.prod(len(a) for a in axes.values()), "the grid's combinations"
    elif design in SALIB_DESIGNS:
        d = len(axes)
        second = isinstance(sensitivity, dict) and sensitivity.get("second_order") is True
        per = (2 * d + 2 if second else d + 2) if design == "saltelli" else d + 1
        points, what = samples * per, f"SALib's {samples:,} x {per} design rows"
    else:  # lhs/sobol: the draws; "crossed": the points given, named by `what`
        points = samples
    runs = points * n_scenarios * n_seeds
    if runs > MAX_RUNS:
        raise SpecError(f"{where}: the sweep would make {runs:,} runs ({what} {points:,} x "
                        f"{n_scenarios:,} scenarios x {n_seeds:,} seeds); at most {MAX_RUNS:,} "
                        f"runs a sweep")


def _date_text(where: str, key: str, value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value)
        except ValueError:
            pass
    if not isinstance(value, date) or hasattr(value, "hour"):
        raise SpecError(f"{where}: {key}: expected a date (YYYY-MM-DD), got {_short(value)}")
    return value.isoformat()


def _scenario_path(name: str, spec_folder: Path) -> str:
    """A name stays a name (the worker's scenarios/); a .toml path is made absolute,
    relative to the spec's folder, so workers in any folder find it."""
    if not name.endswith(".toml"):
        return name
    p = Path(name)
    return str((p if p.is_absolute() else spec_folder / p).resolve())


def _axis(where: str, key: str, spec: Any, design: str,
          table: str = "vary") -> list | tuple[float, float, bool]:
    """A list of values (checked for one type), or a range: (low, high, whole numbers?)
    for lhs/sobol; a grid's range becomes its list of `steps` values. `table` is the
    spec's table the key is in (vary, levers or uncertainties), for messages."""
    if len(key) > 200:
        raise SpecError(f"{where}: {table}: a key of {len(key):,} characters "
                        f"({_short(key, 40)}); keys are as --set takes them")
    field_ = f"{where}: {table}.{key}"
    if key in ("start", "end"):
        raise SpecError(f"{field_}: set the run's dates with top-level start/end instead")
    if key.startswith("parameters."):
        raise SpecError(f"{field_}: write parameters without the 'parameters.' prefix, as "
                        f"`--set` takes them (e.g. {key.removeprefix('parameters.')!r})")
    if isinstance(spec, list):
        if not spec:
            raise SpecError(f"{field_}: empty list; give at least one value")
        if len(spec) > LIMITS["values"]:
            raise SpecError(f"{field_}: {len(spec):,} values; at most {LIMITS['values']:,}")
        for v in spec:
            if isinstance(v, (list, dict)) or hasattr(v, "hour"):
                raise SpecError(f"{field_}: {_short(v)}: values must be numbers, text, dates or "
                                f"true/false")
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in spec):
            if any(isinstance(v, float) for v in spec):  # one column type in the results
                spec = [float(v) for v in spec]
        elif len({type(v) for v in spec}) > 1:
            raise SpecError(f"{field_}: values of different kinds in one list: {_short(spec)}")
        if len(set(map(repr, spec))) != len(spec):
            raise SpecError(f"{field_}: a value is listed twice: {_short(spec)}")
        return [plain(v) for v in spec]
    if not isinstance(spec, dict):
        raise SpecError(f"{field_}: expected a list of values or a range "
                        f"{{low = ..., high = ...}}, got {_short(spec)}")
    check_keys(spec, RANGE_KEYS, f"{field_}.", SpecError, what="key in a range")
    for k in ("low", "high"):
        v = spec.get(k)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise SpecError(f"{field_}.{k}: expected a number, got {_short(v)}")
    low, high = spec["low"], spec["high"]
    if low > high:
        raise SpecError(f"{field_}: low {low} is above high {high}")
    whole = isinstance(low, int) and isinstance(high, int)  # whole-number bounds: whole values
    if design != "grid":
        if "steps" in spec:
            raise SpecError(f"{field_}.steps: only for the grid design ({design} draws values "
                            f"between low and high)")
        return (low, high, whole)
    if "steps" not in spec:
        raise SpecError(f"{field_}: steps missing; a grid range needs "
                        f"{{low = ..., high = ..., steps = N}}")
    steps = spec["steps"]
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise SpecError(f"{field_}.steps: expected a whole number >= 1, got {_short(steps)}")
    if steps > LIMITS["steps"]:
        raise SpecError(f"{field_}.steps: {steps:,} is above the cap of {LIMITS['steps']:,}")
    values = [low] if steps == 1 else np.linspace(low, high, steps).tolist()
    if whole:
        values = sorted(set(int(round(v)) for v in values))
    else:
        values = [float(v) for v in values]
    return values


def _design_points(where: str, axes: dict, design: str, samples: int | None,
                   master_seed: int) -> list[dict[str, Any]]:
    """The design points, each a {key: value} dict, in a fixed order."""
    keys = list(axes)
    if design == "grid":
        if any(isinstance(a, tuple) for a in axes.values()):  # cannot happen: _axis expands
            raise SpecError(f"{where}: vary: a grid needs lists or ranges with steps")
        return [dict(zip(keys, combo)) for combo in itertools.product(*axes.values())]
    if not keys:
        raise SpecError(f"{where}: vary: a {design} design needs at least one key to vary")
    from scipy.stats import qmc

    with warnings.catch_warnings():  # Sobol: a sample size not a power of 2 is allowed
        warnings.simplefilter("ignore")
        if design == "lhs":
            engine = qmc.LatinHypercube(d=len(keys), rng=np.random.default_rng(master_seed))
        else:
            engine = qmc.Sobol(d=len(keys), scramble=True, rng=np.random.default_rng(master_seed))
        unit = engine.random(samples)
    points = []
    for row in unit:
        point = {}
        for key, u in zip(keys, row):
            axis = axes[key]
            if isinstance(axis, list):  # a list: each value an equal share of [0, 1)
                point[key] = axis[min(int(u * len(axis)), len(axis) - 1)]
            else:
                low, high, whole = axis
                v = low + float(u) * (high - low)
                point[key] = int(round(v)) if whole else v
        points.append(point)
    return _unique(points)


def _table(where: str, name: str, table: Any) -> dict:
    """A spec's [vary], [levers] or [uncertainties]: a table of at most LIMITS["vary"] keys."""
    if not isinstance(table, dict):
        raise SpecError(f"{where}: {name}: expected a table of key = values, got {_short(table)}")
    if len(table) > LIMITS["vary"]:
        raise SpecError(f"{where}: {name}: {len(table):,} keys; at most {LIMITS['vary']}")
    return table


def _check_crossed(where: str, raw: dict, design: Any) -> None:
    """What a levers x uncertainties spec may not have: [vary], a [sensitivity] table, a
    design other than lhs/sobol (how its uncertainties are sampled)."""
    if "vary" in raw:
        raise SpecError(f"{where}: vary: not with [levers]/[uncertainties]; put each key in "
                        f"[levers] (chosen: a grid) or [uncertainties] (sampled)")
    if "sensitivity" in raw:
        raise SpecError(f"{where}: sensitivity: not with [levers]/[uncertainties] (a SALib "
                        f"design varies [vary] ranges)")
    for name in ("levers", "uncertainties"):
        if name in raw and raw[name] == {}:
            raise SpecError(f"{where}: {name}: empty table; give keys or leave it out")
    if "uncertainties" not in raw:
        if design != "grid":
            raise SpecError(f"{where}: design: {_short(design)} with [levers] alone: levers run "
                            f"as a grid (a design samples [uncertainties]; leave design out)")
    elif design not in SAMPLED_DESIGNS:
        raise SpecError(f"{where}: design: {_short(design)} with [uncertainties]: the design "
                        f"samples the uncertainties, one of {', '.join(SAMPLED_DESIGNS)} "
                        f"(the levers always run as a grid)")


def _crossed_points(where: str, levers: dict, uncertainties: dict, design: str,
                    samples: int | None, master_seed: int) -> list[dict[str, Any]]:
    """Every lever combination (a grid, in order) at every uncertainty sample (drawn
    once, so each combination meets the same samples): lever values first."""
    if not levers and not uncertainties:
        raise SpecError(f"{where}: levers: nothing to vary; give [levers] and/or "
                        f"[uncertainties] keys")
    combos = _design_points(where, levers, "grid", None, master_seed)
    draws = (_design_points(where, uncertainties, design, samples, master_seed)
             if uncertainties else [{}])
    return [{**combo, **draw} for combo in combos for draw in draws]


def point_key(point: dict[str, Any]) -> tuple[str, ...]:
    """What makes two design points the same point (their values as `--set` texts)."""
    return tuple(as_text(v) for v in point.values())


def _unique(points: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The points in order, each once: whole-number ranges and lists can draw the
    same point twice, and it runs once."""
    first = {point_key(p): p for p in reversed(points)}
    return [p for p in points if first[point_key(p)] is p]


def _sensitivity(where: str, table: Any, design: str, loaded) -> "Sensitivity | None":
    """The checked [sensitivity] table (None if absent); only SALib designs take one."""
    if table is None:
        if design in SALIB_DESIGNS:
            raise SpecError(f"{where}: sensitivity: missing; a {design} design needs a "
                            f"[sensitivity] table naming its outputs")
        return None
    if design not in SALIB_DESIGNS:
        raise SpecError(f"{where}: sensitivity: only for the {' and '.join(SALIB_DESIGNS)} "
                        f"designs (design is {design!r})")
    if not isinstance(table, dict):
        raise SpecError(f"{where}: sensitivity: expected a table, got {_short(table)}")
    from model.state.recorder import COLUMNS

    check_keys(table, SENSITIVITY_KEYS, f"{where}: sensitivity.", SpecError)
    outputs = table.get("outputs")
    if (not isinstance(outputs, list) or not outputs
            or not all(isinstance(o, str) for o in outputs)):
        raise SpecError(f"{where}: sensitivity.outputs: expected a non-empty list of "
                        f"monthly.csv columns, got {_short(outputs)}")
    known = [c.name for c in COLUMNS]
    for name in outputs:
        if name not in known:
            raise SpecError(f"{where}: sensitivity.outputs: unknown column {_short(name)} (columns: "
                            f"{', '.join(known)})")
    if len(set(outputs)) != len(outputs):
        raise SpecError(f"{where}: sensitivity.outputs: listed twice: {_short(outputs)}")
    period = table.get("period", "run")
    first, last = (d.year + (d.month >= 10) for d in (loaded.start, loaded.end))
    years = [f"FY{y}" for y in range(first, last + 1)]
    if period != "run" and period not in years:
        raise SpecError(f"{where}: sensitivity.period: {_short(period)} is neither \"run\" nor a "
                        f"fiscal year of the run ({', '.join(years)})")
    levels = table.get("levels", 4)
    if design != "morris" and "levels" in table:
        raise SpecError(f"{where}: sensitivity.levels: only for the morris design")
    if isinstance(levels, bool) or not isinstance(levels, int) or levels < 2 or levels % 2:
        raise SpecError(f"{where}: sensitivity.levels: expected an even whole number >= 2, "
                        f"got {_short(levels)}")
    if levels > LIMITS["levels"]:
        raise SpecError(f"{where}: sensitivity.levels: {levels:,} is above the cap of "
                        f"{LIMITS['levels']}")
    second = table.get("second_order", False)
    if design != "saltelli" and "second_order" in table:
        raise SpecError(f"{where}: sensitivity.second_order: only for the saltelli design")
    if not isinstance(second, bool):
        raise SpecError(f"{where}: sensitivity.second_order: expected true or false, "
                        f"got {_short(second)}")
    return Sensitivity(tuple(outputs), period, levels, second)


def _salib_rows(where: str, axes: dict, design: str, samples: int, master_seed: int,
                sensitivity: Sensitivity) -> tuple[dict, list[dict[str, Any]]]:
    """SALib's `problem` for the ranges and its sample (Saltelli's for Sobol indices,
    Morris's trajectories), one {key: value} row per sample row, in its order."""
    keys = list(axes)
    if not keys:
        raise SpecError(f"{where}: vary: a {design} design needs at least one key to vary")
    for key, axis in axes.items():
        if isinstance(axis, list):
            raise SpecError(f"{where}: vary.{key}: a {design} design varies ranges "
                            f"{{low = ..., high = ...}}, not lists")
        if axis[0] == axis[1]:
            raise SpecError(f"{where}: vary.{key}: low and high are equal ({axis[0]}): "
                            f"nothing to analyse")
    problem = {"num_vars": len(keys), "names": keys,
               "bounds": [[float(axes[k][0]), float(axes[k][1])] for k in keys]}
    with warnings.catch_warnings():  # SALib warns on sample sizes not a power of 2
        warnings.simplefilter("ignore")
        if design == "saltelli":
            from SALib.sample import sobol as saltelli

            matrix = saltelli.sample(problem, samples, seed=master_seed,
                                     calc_second_order=sensitivity.second_order)
        else:
            from SALib.sample import morris

            matrix = morris.sample(problem, samples, num_levels=sensitivity.levels,
                                   seed=master_seed)
    rows = []
    for values in matrix:
        row = {}
        for key, v in zip(keys, values):
            row[key] = int(round(v)) if axes[key][2] else float(v)
        rows.append(row)
    return problem, rows


def _check_values(sweep: Sweep, paths: dict[str, str]) -> None:
    """Each distinct value alone, then each design point whole, through the scenario's
    own checks (`load_scenario`), for every scenario; raises SpecError naming it."""
    where = str(sweep.path)
    table = {k: "levers" for k in sweep.lever_keys} | {k: "uncertainties"
                                                        for k in sweep.uncertainty_keys}
    for name in sweep.scenarios:
        def check(overrides: list[str]):
            return load_scenario(paths[name], overrides, start=sweep.start, end=sweep.end)

        seen: set[tuple[str, str]] = set()
        for point in sweep.points:
            for key, value in point.items():
                if (key, as_text(value)) in seen:
                    continue
                seen.add((key, as_text(value)))
                try:
                    check([f"{key}={as_text(value)}"])
                except ScenarioError as exc:
                    raise SpecError(f"{where}: {table.get(key, 'vary')}.{key}: value "
                                    f"{as_text(value)} refused by "
                                    f"scenario {name!r}: {_inner(exc, key)}") from None
        for point in sweep.points:
            try:
                loaded = check([f"{k}={as_text(v)}" for k, v in point.items()])
                check_scale(loaded, sweep.scale)
            except ScenarioError as exc:
                shown = ", ".join(f"{k}={as_text(v)}" for k, v in point.items())
                raise SpecError(f"{where}: {'levers x uncertainties' if table else 'vary'}: "
                                f"the design point {shown} is refused by "
                                f"scenario {name!r}: {exc}") from None


def _inner(exc: ScenarioError, key: str) -> str:
    """The scenario's message without the `--set KEY: ` it puts in front."""
    text = str(exc)
    return text.removeprefix(f"--set {key}: ")
