"""The page's settings: the controls a user sets, laid over a scenario file.

A `Settings` is plain data: the run (scenario name or .toml path, seed, scale,
start, end), the `parameters` the page controls and, per policy id, the policy
fields it controls (`enabled` included). `baseline(scenario)` reads them off a
scenario file; `overrides(settings)` is what differs from that file, in the
shape `BorderModel`/`simulate` take (`params`, `policies`), so the model the page
runs is always `BorderModel(**model_kwargs(settings))`: the scenario file with
the page's changes laid over it, rebuilt from keyword arguments on every Reset
(as Mesa's SolaraViz rebuilds a model). `check` runs the scenario's own checks;
`scenario_toml`/`read_scenario_file` save and load the changes as a small
scenario file over its base, exactly what `run.py run` accepts.
"""

import copy
import dataclasses
import re
from datetime import date
from pathlib import Path
from typing import Any

from model import LoadedScenario, ScenarioError, load_scenario
from model.config.policies import POLICY_KINDS
from model.config.scale_check import check_scale
from model.config.scenario import SCENARIO_DIR, resolve_path
from model.files import toml_text

DEFAULT_SCALE = 10  # a day takes about a millisecond; 0.5-1 % noise per seed (docs/scale.md)
SCALES = (1, 2, 5, 10, 20, 50, 100)
PARAMETERS = ("detention_beds",)
# the policy fields the page sets, by kind; every policy also has its on/off switch
POLICY_CONTROLS: dict[str, tuple[str, ...]] = {
    "port_return": (),
    "interior_repatriation": ("sectors", "eligible_share"),
    "flights": ("per_week", "seats"),  # routes to Guadalajara only (INTERIOR_DESTINATION)
    "mpp": ("start", "end"),
    "mpp_wind_down": (),
    "title42": ("end",),
    "mexico_refuses_families": ("default_acceptance", "acceptance"),
    "detention_cap": ("share",),
    "guatemala_aca": ("eligible_share",),
    "removal_moratorium": ("start", "end"),
    "interior_enforcement": ("start", "end"),
    "enforcement_priorities": (),
    "family_detention": (),
    "metering": ("start", "end"),
}
INTERIOR_DESTINATION = "guadalajara"
MPP_KINDS = ("mpp", "mpp_wind_down")  # what the page's MPP switch turns on or off
UI_LINE = "# ui:"  # the saved file's line giving the run's seed, scale and window


@dataclasses.dataclass(frozen=True)
class Settings:
    """Everything the page sets. Dates are ISO text; `policies` maps a policy id to
    {"kind": ..., "enabled": bool, field: value} for the fields in POLICY_CONTROLS."""

    scenario: str = "historical"
    seed: int = 0
    scale: int = DEFAULT_SCALE
    start: str = ""
    end: str = ""
    parameters: dict = dataclasses.field(default_factory=dict)
    policies: dict = dataclasses.field(default_factory=dict)

    def replace(self, **changes) -> "Settings":
        return dataclasses.replace(self, **changes)

    def with_policy(self, policy_id: str, field: str, value: Any) -> "Settings":
        policies = copy.deepcopy(self.policies)
        policies[policy_id][field] = value
        return self.replace(policies=policies)

    def with_parameter(self, name: str, value: Any) -> "Settings":
        return self.replace(parameters={**self.parameters, name: value})


def _plain(value: Any) -> Any:
    """Dates as ISO text, lists and dicts copied: what a control holds."""
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def controlled(policy_id: str, table: dict) -> bool:
    """Does the page have controls for this policy (by its scenario table)?"""
    kind = table.get("kind")
    if kind not in POLICY_CONTROLS:
        return False
    return kind != "flights" or table.get("destination") == INTERIOR_DESTINATION


def baseline(scenario: "str | Path", seed: int = 0, scale: int = DEFAULT_SCALE,
             roots: "tuple[Path, ...] | None" = None) -> Settings:
    """The settings as the scenario file has them (its whole window; a policy's
    unset fields at the policy kind's defaults). Raises ScenarioError for a bad file
    (or, with `roots`, one whose base chain leaves those folders: `load_scenario`)."""
    loaded = load_scenario(str(scenario), roots=roots)
    policies = {}
    for policy_id, table in loaded.raw.get("policies", {}).items():
        if not controlled(policy_id, table):
            continue
        cls = POLICY_KINDS[table["kind"]]
        defaults = {f.name: (f.default_factory() if f.default_factory is not dataclasses.MISSING
                             else f.default) for f in dataclasses.fields(cls)}
        entry = {"kind": table["kind"], "enabled": bool(table.get("enabled", True))}
        for field in POLICY_CONTROLS[table["kind"]]:
            entry[field] = _plain(table.get(field, defaults[field]))
        policies[policy_id] = entry
    return Settings(scenario=str(scenario), seed=seed, scale=scale,
                    start=loaded.declared_start.isoformat(), end=loaded.declared_end.isoformat(),
                    parameters={name: _plain(loaded.parameters[name]) for name in PARAMETERS},
                    policies=policies)


def overrides(settings: Settings, base: Settings | None = None) -> tuple[dict, dict]:
    """(params, policies): the settings that differ from the scenario file's, in the
    shape `simulate`/`BorderModel` take (dates as ISO text)."""
    base = base or baseline(settings.scenario)
    params = {k: v for k, v in settings.parameters.items() if base.parameters.get(k) != v}
    policies = {}
    for policy_id, entry in settings.policies.items():
        before = base.policies.get(policy_id, {})
        changed = {k: v for k, v in entry.items() if k != "kind" and before.get(k) != v}
        if changed:
            policies[policy_id] = changed
    return params, policies


def model_kwargs(settings: Settings) -> dict:
    """Keyword arguments that build the settings' model: `BorderModel(**model_kwargs(s))`."""
    params, policies = overrides(settings)
    return {"scenario": settings.scenario, "seed": settings.seed, "scale": settings.scale,
            "params": params or None, "policies": policies or None,
            "start": settings.start or None, "end": settings.end or None}


def check(settings: Settings, roots: "tuple[Path, ...] | None" = None) -> LoadedScenario:
    """The scenario as these settings make it, through the scenario's own checks, the
    scale check and the seed's; raises ScenarioError naming the first problem."""
    if not isinstance(settings.seed, int) or settings.seed < 0:
        raise ScenarioError(f"seed: must be a whole number >= 0, got {settings.seed!r}")
    kwargs = model_kwargs(settings)
    loaded = load_scenario(kwargs["scenario"], params=kwargs["params"],
                           policies=kwargs["policies"], start=kwargs["start"],
                           end=kwargs["end"], roots=roots)
    check_scale(loaded, settings.scale)
    return loaded


def differences(settings: Settings, base: Settings | None = None) -> list[str]:
    """One line per setting that differs from the scenario file, e.g.
    `policies.title42.end: 2021-12-31 -> 2021-06-30` (the `--set` key)."""
    base = base or baseline(settings.scenario)
    lines = []
    for key in ("start", "end"):
        if getattr(settings, key) != getattr(base, key):
            lines.append(f"run {key}: {getattr(base, key)} -> {getattr(settings, key)}")
    params, policies = overrides(settings, base)
    for name, value in params.items():
        lines.append(f"{name}: {_text(base.parameters.get(name))} -> {_text(value)}")
    for policy_id, fields in policies.items():
        for field, value in fields.items():
            before = base.policies.get(policy_id, {}).get(field)
            lines.append(f"policies.{policy_id}.{field}: {_text(before)} -> {_text(value)}")
    return lines


def _text(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {_text(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(map(str, value)) + "]"
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value)


def base_reference(scenario: str) -> str:
    """How a saved file names its base: a name for scenarios/*.toml, else an absolute path."""
    path = resolve_path(scenario).resolve()
    return path.stem if path.parent == SCENARIO_DIR.resolve() else str(path)


def scenario_toml(settings: Settings, description: str = "") -> str:
    """The settings as a scenario file over its base: only what differs, plus a
    comment line with the run's seed, scale and window (run.py takes those as flags)."""
    check(settings)
    base = baseline(settings.scenario)
    params, policies = overrides(settings, base)
    reference = base_reference(settings.scenario)
    changes = differences(settings, base)
    table: dict[str, Any] = {
        "description": description or (f"{Path(reference).stem} with "
                                       f"{len(changes)} change(s) made in the browser"),
        "base": reference}
    if params:
        table["parameters"] = params
    if policies:
        table["policies"] = {pid: _dates(fields) for pid, fields in policies.items()}
    window = [f"--set start={settings.start}"] if settings.start != base.start else []
    window += [f"--set end={settings.end}"] if settings.end != base.end else []
    header = [
        "# Saved from the browser (python run.py ui). Rerun it with",
        (f"#   python run.py run FILE --seed {settings.seed} --scale {settings.scale} "
         + " ".join(window)),
        (f"{UI_LINE} seed={settings.seed} scale={settings.scale} start={settings.start} "
         f"end={settings.end}"),
    ]
    return toml_text(table, header)


def _dates(value: Any) -> Any:
    """ISO text back to dates, so the file has TOML dates."""
    if isinstance(value, dict):
        return {k: _dates(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_dates(v) for v in value]
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return date.fromisoformat(value)
    return value


def read_scenario_file(path: "str | Path", current: Settings | None = None,
                       roots: "tuple[Path, ...] | None" = None) -> Settings:
    """Settings from a scenario file: the file is the page's scenario (its controls at
    the file's values); seed, scale and window from its `# ui:` line if it has one,
    else kept from `current`. Raises ScenarioError for a file the model refuses (with
    `roots`: also for a file, or a base, outside those folders)."""
    settings = file_settings(path, current, roots)
    check(settings, roots)
    return settings


def reference(scenario: str, roots: "tuple[Path, ...] | None" = None) -> Settings:
    """What the page compares its settings with ("As in FILE" / "Differs from FILE"): a
    scenario's own settings, with the window of its `# ui:` line for a file saved from
    the page (not checked again: it was when it was loaded)."""
    if scenario.endswith(".toml"):
        return file_settings(scenario, None, roots)
    return baseline(scenario, roots=roots)


def file_settings(path: "str | Path", current: Settings | None = None,
                  roots: "tuple[Path, ...] | None" = None) -> Settings:
    """`read_scenario_file` without the final check of the combined settings."""
    path = Path(path).resolve()
    current = current or Settings()
    settings = baseline(path, current.seed, current.scale, roots)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"{path}: cannot read: {exc}") from None
    for line in lines:
        if line.startswith(UI_LINE):
            fields = dict(part.split("=", 1) for part in line[len(UI_LINE):].split() if "=" in part)
            try:
                settings = settings.replace(
                    seed=int(fields.get("seed", settings.seed)),
                    scale=int(fields.get("scale", settings.scale)),
                    start=fields.get("start", settings.start),
                    end=fields.get("end", settings.end))
            except ValueError:
                raise ScenarioError(f"{path}: {line.strip()}: seed and scale must be whole "
                                    f"numbers") from None
    return settings


def scenario_names() -> list[str]:
    """The scenarios in scenarios/, historical first."""
    names = sorted(p.stem for p in SCENARIO_DIR.glob("*.toml") if not p.name.startswith("."))
    return sorted(names, key=lambda n: n != "historical")
