"""Type-and-range checking for scenario data, driven by `Annotated` hints.

Scenario parameters and policy fields declare what they accept once, e.g.
`Annotated[float, PROBABILITY]`; `check_value` enforces it and names the exact
field that is wrong, so a bad scenario is refused before anything runs.
"""

import types
import typing
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any, Literal


class ScenarioError(ValueError):
    """A scenario (file, --set flag or UI value) that cannot be run."""


@dataclass(frozen=True)
class Range:
    low: float | None = None
    high: float | None = None
    what: str = ""

    def check(self, path: str, value: float) -> None:
        if (self.low is not None and value < self.low) or (
            self.high is not None and value > self.high
        ):
            raise ScenarioError(f"{path}: {value!r} is not {self.what}")


@dataclass(frozen=True)
class Keys:
    """The keys a mapping (or the items a list) may use."""

    allowed: tuple[str, ...]
    what: str

    def check(self, path: str, key: str) -> None:
        if key not in self.allowed:
            raise ScenarioError(
                f"{path}: unknown {self.what} {key!r} (known: {', '.join(self.allowed)})"
            )


# Upper bounds no real scenario comes near (the largest count in scenarios/ is the court
# backlog, 768,000; the largest rate the interior arrest weights, 127,492), so that a typo
# or a hostile value (detention_beds = 99999999999999999999999, a flight every second) is
# refused in one line instead of overflowing int64 or filling memory in the model.
MAX_COUNT = 10_000_000
MAX_DAYS = 1_000_000.0  # days: 2,700 years (a pledge such as case_days_max is 100,000)

PROBABILITY = Range(0.0, 1.0, "a probability in [0, 1]")
NON_NEGATIVE = Range(0.0, float(MAX_COUNT), f"non-negative (>= 0) and at most {MAX_COUNT:,}")
POSITIVE = Range(1e-12, MAX_DAYS, f"positive (> 0) and at most {MAX_DAYS:,.0f}")
COUNT = Range(0, MAX_COUNT, f"non-negative (>= 0) and at most {MAX_COUNT:,}")

Probability = Annotated[float, PROBABILITY]
NonNegative = Annotated[float, NON_NEGATIVE]
Count = Annotated[int, COUNT]
Days = Annotated[float, POSITIVE]


def check_keys(table: Any, allowed: "typing.Iterable[str]", prefix: str,
               error: type[Exception] = ScenarioError, what: str = "key") -> None:
    """Refuse a table that uses a key outside `allowed`, in one line naming it.

    The one unknown-key check for every table a user writes: scenarios' and specs'
    tables, calibration targets and priors, cost items. The message is
    `{prefix}{key}: unknown {what} (known: a, b, c)`, where `prefix` says where the
    table is (the file and the table's path, ending in "." or ": "), raised as
    `error` (the caller's own error class: SpecError, TargetsError, ...). The
    first unknown key in the table's order is named; `allowed` is listed in its
    own order.
    """
    allowed = tuple(allowed)
    for key in table:
        if key not in allowed:
            raise error(f"{prefix}{key}: unknown {what} (known: {', '.join(allowed)})")


def _type_name(hint: Any) -> str:
    origin = typing.get_origin(hint)
    if origin is Annotated:
        return _type_name(typing.get_args(hint)[0])
    if origin in (dict, list):
        return {dict: "a table", list: "a list"}[origin]
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(hint))
    if origin in (types.UnionType, typing.Union):
        return " or ".join(_type_name(a) for a in typing.get_args(hint))
    return {bool: "true/false", int: "a whole number", float: "a number", str: "text",
            date: "a date (YYYY-MM-DD)", type(None): "nothing"}.get(hint, str(hint))


def check_value(path: str, value: Any, hint: Any) -> Any:
    """Return `value` converted to `hint`'s type, or raise ScenarioError naming `path`."""
    if hint is Any:
        return value
    origin = typing.get_origin(hint)
    if origin is Annotated:
        base, *meta = typing.get_args(hint)
        value = check_value(path, value, base)
        _apply_meta(path, value, meta)
        return value
    if origin in (types.UnionType, typing.Union):
        for option in typing.get_args(hint):
            try:
                return check_value(path, value, option)
            except ScenarioError:
                continue
        raise ScenarioError(f"{path}: expected {_type_name(hint)}, got {value!r}")
    if origin is Literal:
        if value not in typing.get_args(hint):
            raise ScenarioError(f"{path}: expected {_type_name(hint)}, got {value!r}")
        return value
    if origin is list:
        if not isinstance(value, list):
            raise ScenarioError(f"{path}: expected a list, got {value!r}")
        (item,) = typing.get_args(hint)
        return [check_value(f"{path}[{i}]", v, item) for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ScenarioError(f"{path}: expected a table, got {value!r}")
        _, item = typing.get_args(hint)
        return {k: check_value(f"{path}.{k}", v, item) for k, v in value.items()}
    if hint is type(None):
        if value is not None:
            raise ScenarioError(f"{path}: expected nothing, got {value!r}")
        return None
    if hint is bool:
        if not isinstance(value, bool):
            raise ScenarioError(f"{path}: expected true/false, got {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ScenarioError(f"{path}: expected a whole number, got {value!r}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ScenarioError(f"{path}: expected a number, got {value!r}")
        if value != value:
            raise ScenarioError(f"{path}: expected a number, got NaN")
        if value in (float("inf"), float("-inf")):
            raise ScenarioError(f"{path}: expected a finite number, got {value!r}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise ScenarioError(f"{path}: expected text, got {value!r}")
        return value
    if hint is date:
        if isinstance(value, datetime) or not isinstance(value, date):
            raise ScenarioError(f"{path}: expected a date (YYYY-MM-DD), got {value!r}")
        return value
    raise TypeError(f"no checker for {hint!r}")  # a programming error, not user input


def _apply_meta(path: str, value: Any, meta: list) -> None:
    for m in meta:
        if isinstance(m, Keys):
            for key in (value if isinstance(value, (dict, list)) else [value]):
                m.check(path, key)
        elif isinstance(m, Range):
            _check_range(path, value, m)


def _check_range(path: str, value: Any, rng: Range) -> None:
    """Ranges reach into tables and lists, so `dict[str, Probability]` checks each value."""
    if isinstance(value, dict):
        for k, v in value.items():
            _check_range(f"{path}.{k}", v, rng)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _check_range(f"{path}[{i}]", v, rng)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        rng.check(path, value)


def parse_text(path: str, text: str, hint: Any) -> Any:
    """Parse a `--set key=value` string into the field's type, then check it."""
    origin = typing.get_origin(hint)
    base = typing.get_args(hint)[0] if origin is Annotated else hint
    try:
        if base is bool:
            if text.lower() not in ("true", "false"):
                raise ValueError
            value: Any = text.lower() == "true"
        elif base is int:
            value = int(text)
        elif base is float:
            value = float(text)
        elif base is date:
            value = date.fromisoformat(text)
        elif base is str or typing.get_origin(base) is Literal:
            value = text
        else:
            import tomllib

            value = tomllib.loads(f"v = {text}")["v"]
    except (ValueError, RecursionError):  # RecursionError: tomllib on nested {{{...
        raise ScenarioError(f"{path}: expected {_type_name(hint)}, got {text!r}") from None
    return check_value(path, value, hint)
