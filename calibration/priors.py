"""Priors of the parameters a calibration fits (`calibration/priors.toml`), checked
against the scenario's parameters, and turned into pyabc's prior and back into
`simulate(params=...)` overrides.

    priors = load_priors()                      # checked; PriorsError names entry and field
    prior = abc_prior(priors)                   # a pyabc.Distribution, on unit coordinates
    values = natural_values(priors, prior.rvs())                    # {abc_name: value}
    params = to_params(priors, {"retry_days__title42": 4.2, ...})   # for simulate()

pyabc samples each parameter on its prior's unit coordinate (0 to 1 over the range,
on a log scale for a log-uniform prior), not in its own units: with departures per
day near 500 next to a daily chance near 0.0002, the transition kernel's covariance
was so ill-conditioned that scipy took the small directions for singular, gave an
accepted particle density 0 and pyabc's weights turned NaN ("The population total
weight nan is not normalized", generation 4 of a 14-parameter fit).

A name is a parameter of `BorderScenario` (`departure_sensitivity`), a key of a
table parameter (`retry_days.title42`), `NAME.*` for every key of the table at
once, or one month of a nationality's push index (`push.mexico.2020-05`: the index
from that month on, until the scenario's next listed month). Each bound is checked
with the scenario's own check for that parameter, so a range the model would refuse
(a probability above 1) is refused here.
"""

import math
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from model.tables_file import read_named_tables
from model.config.scenario import PARAMETER_TYPES, BorderScenario, check_month_format
from model.config.validation import NonNegative, ScenarioError, check_keys, check_value
from model.state.vocabulary import NATIONALITY_KEYS

CALIBRATION_DIR = Path(__file__).resolve().parent
PRIORS_FILE = CALIBRATION_DIR / "priors.toml"
DISTRIBUTIONS = ("uniform", "loguniform")
KEYS = ("distribution", "low", "high", "reason")


class PriorsError(ScenarioError):
    """A priors file that cannot be used (one line: `FILE: priors.NAME.FIELD: what is wrong`)."""


@dataclass(frozen=True)
class Prior:
    """One fitted parameter: its name as the priors file and `--set` write it, the
    name pyabc stores it under (`abc_name`, no dots), its distribution and range."""

    name: str
    distribution: str
    low: float
    high: float
    reason: str
    whole: bool = False  # a whole-number parameter: rounded before it is used

    @property
    def abc_name(self) -> str:
        return self.name.replace(".*", "__all").replace(".", "__").replace("-", "_")

    def rv(self):
        """pyabc's prior for this parameter: uniform on its unit coordinate."""
        import pyabc

        return pyabc.RV("uniform", 0.0, 1.0)

    def natural(self, unit: float) -> float:
        """The value at `unit` (0 to 1) of the range: linear, or geometric (log-uniform)."""
        if self.distribution == "loguniform":
            return self.low * (self.high / self.low) ** unit
        return self.low + unit * (self.high - self.low)


def load_priors(path: Path | str = PRIORS_FILE) -> tuple[Prior, ...]:
    """Every entry of a priors file, checked; the first problem raises PriorsError."""
    path = Path(path)
    tables = read_named_tables(path, "priors", "[priors.NAME]", PriorsError)
    priors = tuple(parse_prior(f"{path}: priors.{name}", name, table)
                   for name, table in tables.items())
    seen: dict[str, str] = {}
    for p in priors:  # `a.*` and `a.b` both set a.b
        table = p.name.split(".")[0]
        for other, other_table in seen.items():
            if other_table == table and (p.name.endswith(".*") or other.endswith(".*")):
                raise PriorsError(f"{path}: priors.{p.name}: overlaps priors.{other}")
        seen[p.name] = table
    return priors


def parse_prior(where: str, name: str, table: dict) -> Prior:
    check_keys(table, KEYS, f"{where}.", PriorsError)
    hint = parameter_hint(where, name)
    distribution = table.get("distribution")
    if distribution not in DISTRIBUTIONS:
        raise PriorsError(f"{where}.distribution: " + ("missing" if distribution is None else
                          f"unknown distribution {distribution!r}")
                          + f" (known: {', '.join(DISTRIBUTIONS)})")
    bounds = {}
    for key in ("low", "high"):
        value = table.get(key)
        if value is None:
            raise PriorsError(f"{where}.{key}: missing")
        if isinstance(value, bool) or not isinstance(value, (int, float)) \
                or not math.isfinite(value):
            raise PriorsError(f"{where}.{key}: expected a number, got {value!r}")
        try:
            check_value(f"{where}.{key}", _as_type(hint, value), hint)
        except ScenarioError as exc:
            raise PriorsError(f"{exc} (refused by the scenario's check for {name})") from None
        bounds[key] = float(value)
    if bounds["low"] >= bounds["high"]:
        raise PriorsError(f"{where}.high: {bounds['high']} is not above low {bounds['low']}")
    if distribution == "loguniform" and bounds["low"] <= 0:
        raise PriorsError(f"{where}.low: a loguniform range needs low > 0, got {bounds['low']}")
    reason = table.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        raise PriorsError(f"{where}.reason: " + ("missing (why this range?)" if reason is None
                                                 else f"expected text, got {reason!r}"))
    return Prior(name, distribution, bounds["low"], bounds["high"], reason,
                 whole=_strip(hint) is int)


def parameter_hint(where: str, name: str) -> Any:
    """The type a prior's value must have: the parameter's, or its table's values'."""
    parts = name.split(".")
    parameter = parts[0]
    if parameter not in PARAMETER_TYPES:
        raise PriorsError(f"{where}: unknown parameter {parameter!r} (a field of "
                          f"BorderScenario in model/config/scenario.py)")
    hint = PARAMETER_TYPES[parameter]
    default = BorderScenario._scenario_defaults[parameter]
    if parameter == "push":
        return _push_hint(where, name, parts)
    if len(parts) == 1:
        if isinstance(default, dict):
            raise PriorsError(f"{where}: {parameter} is a table: name one key "
                              f"({parameter}.KEY) or all of them ({parameter}.*)")
    elif len(parts) == 2 and isinstance(default, dict) and default:
        key = parts[1]
        if key != "*" and key not in default:
            raise PriorsError(f"{where}: unknown key {key!r} of {parameter} "
                              f"(known: {', '.join(default)}, or *)")
        hint = typing.get_args(_strip(hint))[1]
    else:
        raise PriorsError(f"{where}: {name!r} is not a number the scenario has "
                          f"(NAME, NAME.KEY or NAME.*)")
    if _strip(hint) not in (int, float):
        raise PriorsError(f"{where}: {name} is not a number")
    return hint


def _push_hint(where: str, name: str, parts: list[str]) -> Any:
    """`push.NATIONALITY.YYYY-MM`: one month of a push index (a non-negative number)."""
    if len(parts) != 3:
        raise PriorsError(f"{where}: {name!r}: a push index is fitted by month: "
                          f"push.NATIONALITY.YYYY-MM")
    if parts[1] not in NATIONALITY_KEYS:
        raise PriorsError(f"{where}: unknown nationality {parts[1]!r} in {name} "
                          f"(known: {', '.join(NATIONALITY_KEYS)})")
    try:
        check_month_format(f"{where}", parts[2])
    except ScenarioError as exc:
        raise PriorsError(str(exc)) from None
    return NonNegative


def _strip(hint: Any) -> Any:
    return typing.get_args(hint)[0] if typing.get_origin(hint) is Annotated else hint


def _as_type(hint: Any, value: float) -> Any:
    return int(round(value)) if _strip(hint) is int else float(value)


def abc_prior(priors: tuple[Prior, ...]):
    """The priors as one pyabc.Distribution, keyed by each prior's `abc_name`."""
    import pyabc

    return pyabc.Distribution(**{p.abc_name: p.rv() for p in priors})


def natural_values(priors: tuple[Prior, ...], units: dict) -> dict[str, float]:
    """pyabc's unit coordinates ({abc_name: 0..1}) as the parameters' values."""
    return {p.abc_name: p.natural(float(units[p.abc_name])) for p in priors}


def to_params(priors: tuple[Prior, ...], values: dict[str, float]) -> dict[str, Any]:
    """pyabc's parameter values ({abc_name: value}) as `simulate(params=...)` overrides
    in the scenario file's shape (`{"retry_days": {"title42": 4.2}}`)."""
    params: dict[str, Any] = {}
    for p in priors:
        value = float(values[p.abc_name])
        value = int(round(value)) if p.whole else value
        parts = p.name.split(".")
        if len(parts) == 1:
            params[parts[0]] = value
            continue
        if len(parts) == 3:  # push.NATIONALITY.MONTH
            params.setdefault(parts[0], {}).setdefault(parts[1], {})[parts[2]] = value
            continue
        table = params.setdefault(parts[0], {})
        keys = BorderScenario._scenario_defaults[parts[0]] if parts[1] == "*" else [parts[1]]
        for key in keys:
            table[key] = value
    return params
