"""Scenarios: the data a run is made of (dates, parameters, dated policies).

A scenario file in `scenarios/` is TOML:

    description = "..."
    base = "historical"          # optional: start from another scenario
    calibrated = "../calibration/calibrated.toml"   # optional: fitted parameters (below)
    start = 2018-10-01           # run dates (inherited from base if omitted)
    end = 2021-12-31
    [parameters]                 # any BorderScenario field; tables merge key by key
    [policies.ID]                # kind = "...", start, end, fields; enabled = false drops it

`calibrated` names a file `run.py calibrate` wrote: its `[parameters]` (the
posterior's representative values of the fitted parameters) replace this file's own,
hand-set ones; scenarios built on this one inherit them. Its other keys are ignored.

Where `base` (and `calibrated`) may point: a name means `scenarios/NAME.toml`; a path
ending `.toml` is relative to the folder of the file naming it (or absolute). From the
command line that is any file the user can read (their own scenario may build on a file
beside it). A server reading files strangers gave it (the browser app) passes `roots`:
then the file and every file of its base chain must lie inside those folders once
symbolic links are followed (`calibrated` may also lie in the repo's calibration/), and
a file outside them is refused before it is opened, so nothing of it is shown.

Everything is checked before anything runs; the first problem is reported as
`FILE: FIELD: what is wrong` (ScenarioError).
"""

import copy
import dataclasses
import typing
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import numpy as np
from mesa.experimental.scenarios import Scenario

from model.state.geography import SECTOR_KEYS
from model.config.policies import (
    POLICY_KINDS,
    Policy,
    SectorCounts,
    SectorProbabilities,
    build_policy,
    policy_fields,
)
from model.tables_file import read_toml
from model.state.vocabulary import DEMOGRAPHIC_KEYS, NATIONALITY_KEYS, RETURN_MODES
from model.config.validation import (
    NON_NEGATIVE,
    Count,
    Days,
    Keys,
    NonNegative,
    Probability,
    Range,
    ScenarioError,
    check_value,
    parse_text,
)

SCENARIO_DIR = Path(__file__).resolve().parents[2] / "scenarios"
CALIBRATION_DIR = SCENARIO_DIR.parent / "calibration"  # where `calibrated` files live

PerNationality = Annotated[dict[str, float], Keys(NATIONALITY_KEYS, "nationality"), NON_NEGATIVE]
NationalityProbabilities = Annotated[dict[str, Probability], Keys(NATIONALITY_KEYS, "nationality")]
DemographicProbabilities = Annotated[dict[str, Probability], Keys(DEMOGRAPHIC_KEYS, "demographic")]
DemographicFactors = Annotated[dict[str, NonNegative], Keys(DEMOGRAPHIC_KEYS, "demographic")]
SectorWeights = Annotated[dict[str, Annotated[dict[str, NonNegative], Keys(SECTOR_KEYS, "sector")]],
                          Keys(NATIONALITY_KEYS, "nationality")]
MonthlyIndex = Annotated[dict[str, dict[str, NonNegative]], Keys(NATIONALITY_KEYS, "nationality")]
ReturnModeDays = Annotated[dict[str, Days], Keys(RETURN_MODES, "return mode")]
ReturnModeProbabilities = Annotated[dict[str, Probability], Keys(RETURN_MODES, "return mode")]


class BorderScenario(Scenario):
    """Population and behaviour parameters. Defaults are rough, hand-set values;
    the calibration issue fits them to the seeds' figures."""

    # Who heads north: people per day before the monthly push index and feedback.
    departures_per_day: PerNationality = {
        "mexico": 560.0, "guatemala": 520.0, "honduras": 500.0, "el_salvador": 170.0,
        "china": 4.0, "other": 200.0}
    # Exogenous push (violence, economy, COVID, storms) by month, carried forward
    # from the last listed month; 1.0 where nothing is listed.
    push: MonthlyIndex = {}
    family_share: NationalityProbabilities = {
        "mexico": 0.05, "guatemala": 0.45, "honduras": 0.55, "el_salvador": 0.5,
        "china": 0.05, "other": 0.35}
    family_size_mean: Annotated[float, Range(2.0, 10.0, "between 2 and 10")] = 2.6
    child_share: NationalityProbabilities = {
        "mexico": 0.04, "guatemala": 0.15, "honduras": 0.1, "el_salvador": 0.15,
        "china": 0.01, "other": 0.03}
    asylum_intent_share: NationalityProbabilities = {
        "mexico": 0.1, "guatemala": 0.55, "honduras": 0.7, "el_salvador": 0.7,
        "china": 0.8, "other": 0.7}
    travel_days: PerNationality = {
        "mexico": 1.0, "guatemala": 10.0, "honduras": 14.0, "el_salvador": 14.0,
        "china": 30.0, "other": 20.0}  # Mexicans add their km_to_border / 500 km per day
    sector_weights: SectorWeights = {
        "mexico": {"san_diego": 17, "el_centro": 8, "yuma": 4, "tucson": 17, "el_paso": 10,
                   "big_bend": 2, "del_rio": 12, "laredo": 12, "rio_grande_valley": 18},
        "guatemala": {"san_diego": 4, "el_centro": 3, "yuma": 10, "tucson": 5, "el_paso": 30,
                      "big_bend": 1, "del_rio": 5, "laredo": 2, "rio_grande_valley": 40},
        "honduras": {"san_diego": 2, "el_centro": 2, "yuma": 6, "tucson": 3, "el_paso": 25,
                     "big_bend": 1, "del_rio": 6, "laredo": 2, "rio_grande_valley": 53},
        "el_salvador": {"san_diego": 3, "el_centro": 3, "yuma": 6, "tucson": 3, "el_paso": 15,
                        "big_bend": 1, "del_rio": 6, "laredo": 3, "rio_grande_valley": 60},
        "china": {"san_diego": 40, "el_centro": 10, "yuma": 5, "tucson": 10, "el_paso": 5,
                  "big_bend": 1, "del_rio": 5, "laredo": 4, "rio_grande_valley": 20},
        "other": {"san_diego": 10, "el_centro": 5, "yuma": 10, "tucson": 4, "el_paso": 15,
                  "big_bend": 1, "del_rio": 25, "laredo": 5, "rio_grande_valley": 25},
    }
    # Crossing and apprehension
    port_share: DemographicProbabilities = {
        "single_adult": 0.08, "family_unit": 0.15, "unaccompanied_child": 0.1}
    apprehension_prob: SectorProbabilities = {k: 0.75 for k in SECTOR_KEYS}
    surrender_prob: DemographicProbabilities = {
        "single_adult": 0.1, "family_unit": 0.95, "unaccompanied_child": 0.95}
    claim_fear_prob: DemographicProbabilities = {  # of people with asylum intent
        "single_adult": 0.9, "family_unit": 0.97, "unaccompanied_child": 0.97}
    strategic_claim_prob: Probability = 0.3  # without intent: times peers' recent entry share
    holding_capacity: SectorCounts = {
        "san_diego": 1000, "el_centro": 600, "yuma": 500, "tucson": 1500, "el_paso": 2000,
        "big_bend": 200, "del_rio": 800, "laredo": 800, "rio_grande_valley": 3500}
    custody_days: Days = 3.0  # Title 8 processing in Border Patrol custody (mean)
    # ICE
    detention_beds: Count = 40000
    credible_fear_days: Days = 20.0
    credible_fear_positive: Probability = 0.75
    max_detention_days: Days = 180.0
    port_removal_days: Days = 10.0  # detained Mexicans removed through a land port
    removal_processing_days: NonNegative = 0.0  # detained before a removal flight may take them
    # ICE's interior side (the flow of arrests is the `interior_enforcement` policy)
    initial_detained_border: Count = 0  # in ICE detention on the first day, arrested at the border
    initial_detained_interior: Count = 0  # ... arrested in the interior
    interior_arrest_nationality: PerNationality = {  # weights (ICE removals by country, FY2019)
        "mexico": 127492.0, "guatemala": 54919.0, "honduras": 41800.0, "el_salvador": 18981.0,
        "china": 1000.0, "other": 23066.0}
    detained_docket_days: Days = 46.0  # detention to the detained docket's decision (mean)
    detained_docket_removal_share: Probability = 0.65  # of detained docket cases: ordered removed
    detained_docket_share: Probability = 0.0  # of single adults with a credible fear: kept detained
    # After a return: mean days before trying again, and the chance of giving up
    retry_days: ReturnModeDays = {
        "title42": 3.0, "port_return": 7.0, "interior_flight": 75.0, "removal": 150.0,
        "mexico_deport": 60.0, "third_country": 60.0}
    give_up_prob: ReturnModeProbabilities = {
        "title42": 0.12, "port_return": 0.2, "interior_flight": 0.55, "removal": 0.6,
        "mexico_deport": 0.5, "third_country": 0.6}
    give_up_per_encounter: Probability = 0.02  # fatigue added per past encounter
    mexico_base_interception_prob: Probability = 0.1
    # Feedback: what people like them recently experienced
    experience_half_life_days: Days = 30.0
    experience_prior: DemographicProbabilities = {
        "single_adult": 0.35, "family_unit": 0.85, "unaccompanied_child": 0.9}
    experience_prior_weight: NonNegative = 50.0
    departure_sensitivity: NonNegative = 2.0
    # ... times this factor for each demographic's own departures (a family weighs what
    # families like it lately met, a child what children met): 1.0 is the shared sensitivity
    departure_sensitivity_factor: DemographicFactors = {
        "single_adult": 1.0, "family_unit": 1.0, "unaccompanied_child": 1.0}
    # Self-separation: while children alone get in more often than families of their
    # nationality (children exempt from MPP and Title 42, families returned), this times the
    # gap between the two groups' recent entry shares is the chance that a family about to
    # set out sends a child alone instead (one child per family; 0: never)
    self_separation: NonNegative = 0.0
    sector_sensitivity: NonNegative = 2.0
    give_up_sensitivity: NonNegative = 3.0
    # Metering at the ports (the `metering` policy): people on the lists on the first day,
    # and the daily chance that a family on a list stops waiting (then, as after a return
    # at a port, it gives up or crosses again, between the ports)
    initial_metering_waiting: Count = 0
    metering_daily_leave: Probability = 0.005
    # MPP: life in Mexico while waiting, and hearings
    mpp_daily_give_up: Probability = 0.002
    mpp_daily_cross_anyway: Probability = 0.001
    mpp_daily_violence: Probability = 0.00016
    violence_give_up_prob: Probability = 0.2
    mpp_attend_prob: Probability = 0.6
    violence_attend_factor: Probability = 0.7  # attendance multiplier per violent crime suffered
    mpp_grant_prob: Probability = 0.015
    absentia_cross_prob: Probability = 0.3
    # Immigration courts
    court_initial_backlog: Count = 768000
    court_other_cases_per_day: NonNegative = 0.0
    nta_filing_days: NonNegative = 0.0  # mean days from a release's notice to appear to its
    initial_unfiled_cases: NonNegative = 0.0  # filing with the court; notices issued before
    #                                           the run and filed during it
    court_completions_per_day: NonNegative = 750.0
    regular_attend_prob: Probability = 0.75  # people released into the US who attend their hearing
    regular_grant_prob: Probability = 0.25  # of those attending


PARAMETER_TYPES: dict[str, Any] = {
    k: v for k, v in typing.get_type_hints(BorderScenario, include_extras=True).items()
    if k in BorderScenario._scenario_defaults
}
TOP_LEVEL_KEYS = {"description", "base", "calibrated", "start", "end", "parameters", "policies"}
MAX_BASE_DEPTH = 20  # files in a `base` chain (historical's children are 2 deep)
MAX_DESCRIPTION = 2_000  # characters: it is copied into every run.json and listed by `scenarios`


class LoadedScenario:
    """A checked scenario: name, run dates, parameters (BorderScenario) and policies.

    `declared_start`/`declared_end` are the window the scenario file describes;
    `start`/`end` are this run's window inside it (a run may be shorter: its
    policies and push months are then clipped to it). `raw` is the merged table
    it was checked from, so overrides can be applied again through the same checks.
    `draw` is the posterior draw its calibrated parameters come from (None: the
    medians), `posterior` what names each draw ({"file", "sha256", "draw", "particle"}
    per calibration file of the chain), and `origin` how it was loaded (file, options
    and the overrides applied since), so the same scenario can be loaded at another draw.
    """

    def __init__(self, name: str, description: str, start: date, end: date,
                 parameters: dict[str, Any], policies: list[Policy], sources: list[str],
                 raw: dict | None = None, declared: tuple[date, date] | None = None,
                 draw: int | None = None, posterior: list[dict] | None = None,
                 origin: dict | None = None):
        self.draw = draw
        self.posterior = posterior or []
        self.origin = origin
        self.name = name
        self.description = description
        self.start = start
        self.end = end
        self.parameters = parameters
        self.policies = policies
        self.sources = sources  # files read, base first
        self.raw = raw if raw is not None else {}
        self.declared_start, self.declared_end = declared or (start, end)

    def make_scenario(self, seed: int) -> BorderScenario:
        return BorderScenario(rng=seed, **copy.deepcopy(self.parameters))

    @property
    def calibrated(self) -> bool:
        """Whether a calibration file of its chain was merged in (so it has a posterior
        to draw from)."""
        return bool(self.origin and self.origin.get("calibration_files"))

    def resolved(self) -> dict[str, Any]:
        """Everything that defines the run, for run.json (with `posterior`, the draw and
        the posterior files' names and hashes, only for a run of a posterior draw)."""
        drawn = {} if self.draw is None else {"posterior": [dict(p) for p in self.posterior]}
        return {
            "name": self.name, "description": self.description,
            "start": self.start.isoformat(), "end": self.end.isoformat(),
            "sources": self.sources,
            "parameters": _jsonable(self.parameters),
            "policies": [_jsonable({"kind": p.kind, **{k: v for k, v in vars(p).items()
                                                        if k not in ("start_day", "end_day")}})
                         for p in self.policies],
            **drawn,
        }


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, date):
        return value.isoformat()
    return value


def resolve_path(name_or_path: str, relative_to: Path | None = None) -> Path:
    """`historical` means scenarios/historical.toml; anything ending .toml is a path,
    relative to `relative_to` (the folder of the file naming it as its base) if given."""
    path = Path(name_or_path)
    if path.suffix != ".toml":
        return SCENARIO_DIR / f"{name_or_path}.toml"
    if relative_to is not None and not path.is_absolute():
        return relative_to / path
    return path


def check_inside(path: Path, roots: "tuple[Path, ...] | None", what: str) -> None:
    """With `roots` (a server's scenario folders), refuse a path that is not inside one
    of them once symbolic links and `..` are resolved; say so without opening it.
    `what` is the message's start, e.g. `FILE: base: 'x.toml'`."""
    if roots is None:
        return
    real = path.resolve()
    if not any(real.is_relative_to(root.resolve()) for root in roots):
        folders = ", ".join(f"{root.name}/" for root in roots)
        raise ScenarioError(f"{what} is outside the scenario folders ({folders}); a base is "
                            f"a scenario name or a .toml file in them")


def _read_raw(path: Path, chain: tuple[Path, ...] = (), calibrated: bool = True,
              roots: "tuple[Path, ...] | None" = None, draw: int | None = None,
              drawn: list | None = None) -> tuple[dict, list[str]]:
    """The file's table merged over its base chain (with the `calibrated` files the
    chain names, unless `calibrated` is False); returns (table, files read). With
    `roots`, every file of the chain must lie inside them (`check_inside`). With `draw`,
    each calibrated file's medians are replaced, where they are merged, by that draw of
    its posterior (`calibration.posterior`); what names each draw is appended to `drawn`."""
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in SCENARIO_DIR.glob("*.toml")))
        raise ScenarioError(f"{path}: no such scenario file (scenarios: {known})")
    if path.resolve() in chain:
        raise ScenarioError(f"{path}: base: scenarios inherit from each other in a loop")
    if len(chain) >= MAX_BASE_DEPTH:
        raise ScenarioError(f"{chain[0]}: base: the chain of base scenarios is more than "
                            f"{MAX_BASE_DEPTH} files deep (at {path})")
    raw = read_toml(path, ScenarioError)
    for key in raw:
        if key not in TOP_LEVEL_KEYS:
            raise ScenarioError(
                f"{path}: {key}: unknown key (known: {', '.join(sorted(TOP_LEVEL_KEYS))})")
    fitted = []
    if "calibrated" in raw:
        fitted_file = raw.pop("calibrated")
        if calibrated:
            fitted_params, fitted = _read_calibrated(path, fitted_file, roots, draw, drawn)
            raw["parameters"] = deep_merge(raw.get("parameters", {}), fitted_params)
    base_name = raw.pop("base", None)
    if base_name is None:
        return raw, [str(path)] + fitted
    if not isinstance(base_name, str):
        raise ScenarioError(f"{path}: base: expected a scenario name, got {base_name!r}")
    base_path = resolve_path(base_name, relative_to=path.parent)
    check_inside(base_path, roots, f"{path}: base: {base_name!r}")
    if not base_path.is_file():
        raise ScenarioError(f"{path}: base: unknown scenario {base_name!r} (no {base_path})")
    base, files = _read_raw(base_path, chain + (path.resolve(),), calibrated, roots, draw,
                            drawn)
    base.pop("description", None)
    return deep_merge(base, raw), files + [str(path)] + fitted


def _read_calibrated(path: Path, name: Any, roots: "tuple[Path, ...] | None" = None,
                     draw: int | None = None, drawn: list | None = None
                     ) -> tuple[dict, list[str]]:
    """The `[parameters]` of the calibration file a scenario names (`calibrated = ...`,
    relative to the scenario's folder), and the file read. With `roots`, it must lie in
    them or in the repo's calibration/ (and so must the posterior a `draw` reads). With
    `draw`, the posterior's draw replaces the medians. Appends to `drawn` the file read
    ({"calibrated": path}, and with a draw its identity: file, sha256, draw, particle)."""
    if not isinstance(name, str) or not name.endswith(".toml"):
        raise ScenarioError(f"{path}: calibrated: expected the path of a .toml file written "
                            f"by `run.py calibrate`, got {name!r}")
    fitted_path = resolve_path(name, relative_to=path.parent)
    check_inside(fitted_path, roots and (*roots, CALIBRATION_DIR),
                 f"{path}: calibrated: {name!r}")
    if not fitted_path.is_file():
        raise ScenarioError(f"{path}: calibrated: no such file {fitted_path}")
    params = read_toml(fitted_path, ScenarioError).get("parameters")
    if not isinstance(params, dict) or not params:
        raise ScenarioError(f"{fitted_path}: parameters: missing (a calibration file holds "
                            f"the fitted [parameters])")
    if draw is None:
        if drawn is not None:
            drawn.append({"calibrated": str(fitted_path)})
        return params, [str(fitted_path)]
    from calibration.posterior import draw_parameters, posterior_path

    check_inside(posterior_path(fitted_path), roots and (*roots, CALIBRATION_DIR),
                 f"{path}: calibrated: {name!r}: its posterior")
    drawn_params, identity = draw_parameters(fitted_path, draw)
    if drawn is not None:
        drawn.append({"calibrated": str(fitted_path), **identity})
    return deep_merge(params, drawn_params), [str(fitted_path)]  # the posterior: in `drawn`


def deep_merge(base: dict, overlay: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def load_scenario(scenario: "str | Path | LoadedScenario", overrides: list[str] = (), *,
                  params: dict | None = None, policies: dict | None = None,
                  start: date | str | None = None, end: date | str | None = None,
                  calibrated: bool = True, roots: "tuple[Path, ...] | None" = None,
                  draw: int | None = None) -> LoadedScenario:
    """Read, merge, apply overrides and check a scenario; nothing runs.

    `scenario` is a name in scenarios/, a path to a .toml file, or a scenario
    already loaded: returned as it is without overrides, else its merged table
    is checked again with them (keeping its run window unless they change it).
    `overrides` are `--set key=value` texts; `params` and `policies` are plain
    dicts in the scenario file's shape (`{"apprehension_prob": {"tucson": 0.8}}`,
    `{"title42": {"end": "2021-06-30"}}`); `start`/`end` set the run's window
    inside the scenario's. All go through the same checks as a file, and the
    first problem raises ScenarioError naming where it is. `calibrated=False`
    leaves out the fitted parameters a `calibrated = ...` key names: the hand-set
    scenario a calibration fits (a file name only; a loaded scenario is as loaded).
    `roots` (a server's scenario folders) confines the file and its base chain to them
    (see the module's docstring); a loaded scenario was confined when it was loaded.
    `draw=i` replaces the calibrated medians by draw i of the calibration's posterior
    (`calibration.posterior`; ScenarioError if the scenario names no calibration); None
    means the medians for a file, and the draw it was loaded with for a loaded scenario
    (which is loaded again, with its overrides, for another draw).
    """
    window: dict[str, Any] = {}
    if isinstance(scenario, LoadedScenario):
        if draw is not None and draw != scenario.draw:
            scenario = _redraw(scenario, draw)
        if not overrides and params is None and policies is None and start is end is None:
            return scenario
        name, raw, files = scenario.name, copy.deepcopy(scenario.raw), list(scenario.sources)
        where = files[-1]
        window = {"start": scenario.start, "end": scenario.end}
        draw, posterior, origin = scenario.draw, scenario.posterior, scenario.origin
    else:
        path = resolve_path(str(scenario))
        check_inside(path, roots, f"{scenario}")
        if draw is not None:
            from calibration.posterior import check_draw

            draw = check_draw(f"{path}: draw", draw)
        found: list[dict] = []
        raw, files = _read_raw(path, calibrated=calibrated, roots=roots, draw=draw, drawn=found)
        if draw is not None and not found:
            raise ScenarioError(
                f"{path}: draw {draw}: " + ("the scenario names no calibration (`calibrated = "
                                            "...`), so it has no posterior to draw from"
                                            if calibrated else "loaded without its calibration"))
        name, where = path.stem, str(path)
        posterior = [{k: v for k, v in f.items() if k != "calibrated"} for f in found
                     if "sha256" in f]
        origin = {"path": str(path), "calibrated": calibrated, "roots": roots,
                  "calibration_files": [f["calibrated"] for f in found], "steps": ()}
    if overrides or params is not None or policies is not None or start is not None \
            or end is not None:
        step = (tuple(overrides), copy.deepcopy(params), copy.deepcopy(policies), start, end)
        origin = {**origin, "steps": (*origin["steps"], step)} if origin else None
    if overrides:
        where = f"{where} (with --set)"  # the flag may be the culprit
    for text in overrides:
        raw, window = apply_override(raw, text, window)
    if params is not None or policies is not None:
        where = f"{where} (with params/policies)"
        raw = apply_dicts(raw, params, policies)
    for key, value in (("start", start), ("end", end)):
        if value is not None:
            window[key] = _parse_date(key, value)
    return _build(name, raw, files, where, window,
                  dict(draw=draw, posterior=posterior, origin=origin))


def _redraw(scenario: LoadedScenario, draw: int) -> LoadedScenario:
    """`scenario` loaded again from its file at posterior draw `draw`, with the same
    overrides applied in the same order."""
    origin = scenario.origin
    if origin is None:
        raise ScenarioError(f"{scenario.name}: draw {draw}: this scenario was not loaded from "
                            f"a file, so it cannot be loaded at a posterior draw")
    again = load_scenario(origin["path"], calibrated=origin["calibrated"],
                          roots=origin["roots"], draw=draw)
    for overrides, params, policies, start, end in origin["steps"]:
        again = load_scenario(again, list(overrides), params=params, policies=policies,
                              start=start, end=end)
    return again


def _parse_date(key: str, value: Any) -> date:
    """A run's `start`/`end` from code: a date, or its ISO text."""
    if isinstance(value, str):
        return parse_text(key, value, date)
    return check_value(key, value, date)


def _build(name: str, raw: dict, files: list[str], where: str, window: dict,
           extra: dict | None = None) -> LoadedScenario:
    declared_start = check_value(f"{where}: start", raw.get("start"), date)
    declared_end = check_value(f"{where}: end", raw.get("end"), date)
    if declared_end < declared_start:
        raise ScenarioError(f"{where}: end: {declared_end} is before start {declared_start}")
    start = window.get("start", declared_start)
    end = window.get("end", declared_end)
    if end < start:
        raise ScenarioError(f"{where}: end: {end} is before start {start}")
    if end > declared_end:
        raise ScenarioError(f"{where}: end: {end} is after the last day the scenario describes "
                            f"({declared_end}); extend the scenario's end and its policies instead")
    if start < declared_start:
        raise ScenarioError(f"{where}: start: {start} is before the first day the scenario "
                            f"describes ({declared_start})")
    description = check_value(f"{where}: description", raw.get("description", ""), str)
    if len(description) > MAX_DESCRIPTION:
        raise ScenarioError(f"{where}: description: {len(description):,} characters long "
                            f"(at most {MAX_DESCRIPTION:,})")

    params = check_value(f"{where}: parameters", raw.get("parameters", {}), dict[str, Any])
    merged = {}
    for key, default in BorderScenario._scenario_defaults.items():
        value = params.get(key, default)
        if isinstance(default, dict) and isinstance(params.get(key), dict) and key != "push":
            value = deep_merge(default, params[key])
        merged[key] = value
    for key, value in params.items():
        if key not in PARAMETER_TYPES:
            raise ScenarioError(f"{where}: parameters.{key}: unknown parameter")
    for key, hint in PARAMETER_TYPES.items():
        merged[key] = check_value(f"{where}: parameters.{key}", merged[key], hint)
    _check_push(where, merged["push"], declared_start, declared_end)
    if sum(merged["interior_arrest_nationality"].values()) <= 0:
        raise ScenarioError(f"{where}: parameters.interior_arrest_nationality: all weights are "
                            f"zero (ICE's interior arrests need some nationality)")

    tables = check_value(f"{where}: policies", raw.get("policies", {}), dict[str, dict[str, Any]])
    policies = []
    for policy_id, table in tables.items():
        enabled = check_value(f"{where}: policies.{policy_id}.enabled",
                              table.get("enabled", True), bool)
        if not enabled and table.get("kind") not in POLICY_KINDS:
            # e.g. `[policies.titel42] enabled = false`: disables nothing; say so
            raise ScenarioError(
                f"{where}: policies.{policy_id}.kind: unknown policy kind {table.get('kind')!r} "
                f"(enabled = false only drops a policy that exists; known kinds: "
                f"{', '.join(POLICY_KINDS)})")
        if enabled:
            policies.append(build_policy(f"{where}: policies.{policy_id}", policy_id, table,
                                         declared_start, declared_end))
    policies = clip_policies(policies, start, end)
    return LoadedScenario(name, description, start, end, merged, policies, files,
                          raw=raw, declared=(declared_start, declared_end), **(extra or {}))


def clip_policies(policies: list[Policy], start: date, end: date) -> list[Policy]:
    """The policies as they stand in a run from `start` to `end`: a policy wholly
    outside the run is not in force; one that overlaps its edges is cut to them."""
    kept = []
    for p in policies:
        if p.start > end or p.end < start:
            continue
        if p.start < start or p.end > end:
            p = dataclasses.replace(p, start=max(p.start, start), end=min(p.end, end))
        kept.append(p)
    return kept


def apply_dicts(raw: dict, params: dict | None, policies: dict | None) -> dict:
    """Merge `simulate(params=..., policies=...)` into the raw scenario table.

    Parameters must exist; a policy id must exist unless its table names a
    `kind` (then it is a new policy). Values are checked afterwards with the
    scenario file's checks, so the messages are the same.
    """
    if params is not None:
        if not isinstance(params, dict):
            raise ScenarioError(f"params: expected a dict of parameter values, got {params!r}")
        for key in params:
            if key not in PARAMETER_TYPES:
                raise ScenarioError(f"params: {key}: unknown parameter")
        raw = deep_merge(raw, {"parameters": params})
    if policies is not None:
        if not isinstance(policies, dict):
            raise ScenarioError(f"policies: expected a dict of policy tables, got {policies!r}")
        known = raw.get("policies", {}) if isinstance(raw.get("policies"), dict) else {}
        for policy_id, table in policies.items():
            if not isinstance(table, dict):
                raise ScenarioError(f"policies: {policy_id}: expected a table of fields, "
                                    f"got {table!r}")
            if policy_id not in known and "kind" not in table:
                raise ScenarioError(f"policies: {policy_id}: unknown policy id "
                                    f"(known: {', '.join(known)}); a new policy needs a kind")
        raw = deep_merge(raw, {"policies": _dates_from_text(policies)})
    return raw


def _dates_from_text(value: Any) -> Any:
    """'2021-06-30' in a dict from code means the date (TOML would have parsed it)."""
    if isinstance(value, dict):
        return {k: _dates_from_text(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_dates_from_text(v) for v in value]
    if isinstance(value, str) and len(value) == 10 and value[4] == "-" and value[7] == "-":
        try:
            return date.fromisoformat(value)
        except ValueError:
            return value
    return value


def push_by_month(listed: dict[str, float], months: list[str]) -> np.ndarray:
    """A nationality's push index in each month (YYYY-MM): the value of the last
    listed month at or before it (carried forward), 1.0 before the first."""
    listed = sorted(listed.items())
    values = []
    for month in months:
        earlier = [value for m, value in listed if m <= month]
        values.append(float(earlier[-1]) if earlier else 1.0)
    return np.array(values)


def check_month_format(path: str, month: str) -> None:
    try:
        ok = len(month) == 7 and date.fromisoformat(f"{month}-01") is not None
    except ValueError:
        ok = False
    if not ok:
        raise ScenarioError(f"{path}: month must be YYYY-MM")


def _check_push(where: str, push: dict, start: date, end: date) -> None:
    first, last = f"{start.year:04d}-{start.month:02d}", f"{end.year:04d}-{end.month:02d}"
    for nationality, months in push.items():
        for month in months:
            path = f"{where}: parameters.push.{nationality}.{month}"
            check_month_format(path, month)
            if not first <= month <= last:
                raise ScenarioError(f"{path}: month is outside the run ({first} to {last})")


def value_text(value: Any) -> str:
    """A scalar as `--set` takes it: true/false, a date's ISO text, a float's repr."""
    if isinstance(value, np.generic):  # numpy's numbers (an EMA sample, a pandas cell)
        value = value.item()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, date):
        return value.isoformat()
    return str(value) if not isinstance(value, float) else repr(value)


def override_texts(values: Any, what: str = "set") -> list[str]:
    """`{flat key: value}` (`simulate(set=...)`, the EMA adapter) as `--set key=value`
    texts, for `load_scenario`'s one parser (`apply_override`). Keys are as sweep specs
    and `--set` write them (`apprehension_prob.tucson`, `policies.title42.end`); values
    are numbers, text, dates or true/false. Raises ScenarioError naming the key."""
    if not isinstance(values, dict):
        raise ScenarioError(f"{what}: expected a dict of flat key -> value (e.g. "
                            f"{{'apprehension_prob.tucson': 0.8}}), got {values!r:.80}")
    texts = []
    for key, value in values.items():
        if not isinstance(key, str) or not key.strip() or "=" in key:
            raise ScenarioError(f"{what}: {key!r:.80}: expected a flat key as --set takes it "
                                f"(e.g. 'apprehension_prob.tucson', 'policies.title42.end')")
        if isinstance(value, np.generic):
            value = value.item()
        if (value is None or isinstance(value, (dict, list, tuple, set))
                or hasattr(value, "hour")):
            raise ScenarioError(f"{what}: {key}: expected a number, text, a date or true/false, "
                                f"got {value!r:.80} (tables go in params=/policies=)")
        texts.append(f"{key}={value_text(value)}")
    return texts


def apply_override(raw: dict, text: str, window: dict | None = None) -> tuple[dict, dict]:
    """Apply one `--set dotted.key=value` to the raw scenario table.

    `key` is a parameter name (`apprehension_prob.tucson=0.8`), a policy field
    (`policies.title42.end=2021-06-30`), or `start`/`end`, which set the run's
    window (`window`) inside the scenario's rather than change the scenario.
    Returns (raw, window).
    """
    window = dict(window or {})
    if "=" not in text:
        raise ScenarioError(f"--set {text}: expected key=value")
    key, _, value_text = text.partition("=")
    parts = key.strip().split(".")
    if parts[0] in ("start", "end") and len(parts) == 1:
        window[parts[0]] = parse_text(f"--set {key}", value_text, date)
        return raw, window
    if parts[0] == "policies":
        if len(parts) != 3:
            raise ScenarioError(f"--set {key}: expected policies.ID.FIELD=value")
        _, policy_id, field = parts
        tables = raw.get("policies", {})
        tables = tables if isinstance(tables, dict) else {}
        policy = tables.get(policy_id)
        if policy is None:
            known = ", ".join(tables)
            raise ScenarioError(f"--set {key}: unknown policy id {policy_id!r} (known: {known})")
        kind = policy.get("kind") if isinstance(policy, dict) else None
        if kind not in POLICY_KINDS:
            raise ScenarioError(f"--set {key}: policy {policy_id!r} has unknown policy kind "
                                f"{kind!r} (known: {', '.join(POLICY_KINDS)})")
        fields = policy_fields(POLICY_KINDS[kind])
        hint = bool if field == "enabled" else fields.get(field)
        if hint is None:
            raise ScenarioError(f"--set {key}: unknown field for a {kind} policy "
                                f"(known: {', '.join(fields)})")
        value = parse_text(f"--set {key}", value_text, hint)
        return deep_merge(raw, {"policies": {policy_id: {field: value}}}), window
    name = parts[0]
    if name not in PARAMETER_TYPES:
        raise ScenarioError(f"--set {key}: unknown parameter {name!r}")
    hint = PARAMETER_TYPES[name]
    for i, part in enumerate(parts[1:], start=1):  # descend: the value's type is the innermost one
        meta: tuple = ()
        if typing.get_origin(hint) is Annotated:
            hint, *meta = typing.get_args(hint)
        if typing.get_origin(hint) is not dict:
            raise ScenarioError(f"--set {key}: {'.'.join(parts[:i])} is not a table")
        for m in meta:
            if isinstance(m, Keys):
                m.check(f"--set {key}", part)
        hint = typing.get_args(hint)[1]
    if name == "push" and len(parts) == 3:
        check_month_format(f"--set {key}", parts[2])
    value = parse_text(f"--set {key}", value_text, hint)
    nested: Any = value
    for part in reversed(parts):
        nested = {part: nested}
    return deep_merge(raw, {"parameters": nested}), window
