"""Calibration targets: the seed articles' figures and the public record's composition
(`calibration/targets.toml`), checked, and each one measured on a run's tables.

    from calibration.targets import load_targets, simulated_values
    targets = load_targets()                        # every entry, measurable or not
    values = simulated_values(targets, simulate("historical", scale=20))   # {id: value}

`load_targets` refuses a malformed file with one `TargetsError` naming the entry and
field (`calibration/targets.toml: targets.encounters_may_2019.kind: unknown kind
'roughly' (known: about, at_least, at_most, exact)`). `measure` computes a target's
value from the monthly, daily and flights tables of a `RunResult` (nothing is read
from disk). The file's header says what each field means.

A target comes from a seed article (`seed`) or from the public record (`source`, its
address and title as `calibration/public_record.csv` gives it). `load_targets` also
refuses a target that duplicates a held-out public-record row (same column, same
days measured): held-out figures are for validation only (`calibration.public_record`).
`since_fit` says which fit first used a target (the committed third fit used every
entry without one; `of_fit(targets, 3)` gives its list back).
"""

import calendar
import math
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd

from calibration.public_record import RECORD_FILE, RecordFigure, held_out, load_record
from model.tables_file import read_named_tables
from model.state.recorder import COLUMNS
from model.config.validation import ScenarioError, check_keys
from model.state.vocabulary import DESTINATIONS

CALIBRATION_DIR = Path(__file__).resolve().parent
TARGETS_FILE = CALIBRATION_DIR / "targets.toml"
SEEDS_DIR = CALIBRATION_DIR.parent.parent / "shared" / "seeds"  # the articles, beside the repo

KINDS = ("about", "at_least", "at_most", "exact")
STATISTICS = ("total", "declines", "rises", "relative_change", "per_week")
MONTHLY_STATISTICS = ("declines", "rises", "relative_change")  # need `months`
PERIOD_KEYS = ("month", "months", "days", "date")
FLIGHT_COLUMNS = ("passengers", "flown")
FLIGHT_KEYS = ("destination", "origin")
DESCRIPTIVE_KEYS = ("label", "quote", "seed_says")
ORIGIN_KEYS = ("seed", "source")  # exactly one: a seed article, or a public-record source
KEYS = (*DESCRIPTIVE_KEYS, *ORIGIN_KEYS, "value", "kind", "tolerance", "columns", *PERIOD_KEYS,
        "statistic", "flight", "note", "measurable", "reason", "coarsest_scale", "since_fit")
HOW = {c.name: c.how for c in COLUMNS}
SEED_FILE = re.compile(r"^\d{3}_[0-9a-f]{16}\.txt$")


class TargetsError(ScenarioError):
    """A targets file that cannot be used (one line: `FILE: targets.ID.FIELD: what is wrong`)."""


@dataclass(frozen=True)
class Target:
    """One figure from a seed article (`seed`) or the public record (`source`; `seed` is
    then "") and what it measures in a run's output.

    `first`/`last` are the period's bounds as text: YYYY-MM for a `month`/`months`
    period, YYYY-MM-DD for `days`/`date` (None when not measurable). Read by the
    distance (`calibration.distance`), the fit table (`calibration.seed_figures`)
    and the browser's fit page.
    """

    id: str
    label: str
    seed: str
    quote: str
    seed_says: str
    value: float
    kind: str
    tolerance: float
    columns: tuple[str, ...] = ()
    first: str | None = None
    last: str | None = None
    statistic: str = "total"
    destination: str | None = None  # a flight target: flights to here
    origin: str | None = None
    note: str = ""
    measurable: bool = True
    reason: str = ""
    coarsest_scale: int | None = None  # measured only at this scale or finer (None: any)
    source: str = ""  # a public-record target: the source's address and title
    since_fit: int = 1  # the first fit that used it (the committed third fit: every 1)

    def measured_at(self, scale: int) -> bool:
        """Whether a run at `scale` measures this target: it is measurable, and a count
        too small to resolve at a coarse scale (two people, a tenth of an agent at
        scale 20) is measured only at `coarsest_scale` or finer."""
        return self.measurable and (self.coarsest_scale is None or scale <= self.coarsest_scale)

    @property
    def is_flight(self) -> bool:
        return self.destination is not None

    @property
    def monthly(self) -> bool:
        """The period is whole months (YYYY-MM)."""
        return self.first is not None and len(self.first) == 7

    def first_day(self) -> date:
        return date.fromisoformat(f"{self.first}-01" if self.monthly else self.first)

    def last_day(self) -> date:
        if not self.monthly:
            return date.fromisoformat(self.last)
        year, month = map(int, self.last.split("-"))
        return date(year, month, calendar.monthrange(year, month)[1])


def load_targets(path: Path | str = TARGETS_FILE,
                 record: Path | str | None = RECORD_FILE) -> tuple[Target, ...]:
    """Every entry of a targets file, checked; the first problem raises TargetsError.

    A target that duplicates a held-out row of the public record (`record`; None skips
    the checks) is refused: held-out figures are validation only, never fitted. A
    measurable public-record target (`source`) must have its figure in the record as a
    `fit` row (same column, days and value), so the record stays the one list of figures."""
    path = Path(path)
    tables = read_named_tables(path, "targets", "[targets.ID]", TargetsError)
    targets = tuple(parse_target(f"{path}: targets.{tid}", tid, table)
                    for tid, table in tables.items())
    if record is not None:
        figures = load_record(record)
        validation = held_out(figures)
        fitted = [f for f in figures if not f.held_out]
        for t in targets:
            row = duplicated_row(t, validation)
            if row is not None:
                raise TargetsError(
                    f"{path}: targets.{t.id}: duplicates the held-out public-record row "
                    f"\"{row.figure}\" ({row.column}, {row.period}) of {record}: held-out "
                    f"figures are for validation only (mark the row fit if a fit may use it)")
            if t.source and measured_days(t) is not None:
                rows = matching_rows(t, fitted)  # a floor, the figure, a ceiling: any may be it
                if not any(row.value == t.value for row in rows):
                    raise TargetsError(
                        f"{path}: targets.{t.id}: a public-record target needs its figure in "
                        f"{record} as a fit row ({t.columns[0]}, {t.first} to {t.last}, "
                        f"{t.value:,.0f})" + ("" if not rows else "; the rows give " + ", ".join(
                            f"{row.value:,.0f}" for row in rows)))
    return targets


def measured_days(target: Target) -> tuple[str, str] | None:
    """(first, last) day a target's value comes from, as YYYY-MM-DD: its period for a
    flow or an average, its last day for a period-end stock; None for what no
    public-record row can duplicate (not measurable, a flight, a statistic other than
    a total, several columns)."""
    if (not target.measurable or target.is_flight or target.statistic != "total"
            or len(target.columns) != 1):
        return None
    last = target.last_day().isoformat()
    if HOW[target.columns[0]] == "last":
        return last, last
    return target.first_day().isoformat(), last


def duplicated_row(target: Target, figures: list[RecordFigure]) -> RecordFigure | None:
    """The first of `figures` that gives the same column over the same days as `target`."""
    return next(iter(matching_rows(target, figures)), None)


def matching_rows(target: Target, figures: list[RecordFigure]) -> list[RecordFigure]:
    """Those of `figures` that give the same column over the same days as `target` (a
    Border Patrol floor, the figure itself, a nationwide ceiling)."""
    days = measured_days(target)
    if days is None:
        return []
    rows = []
    for f in figures:
        if f.column == target.columns[0] and f.how != "capacity":
            span = f.span()
            if f.how == "on the day":
                span = (span[1], span[1])
            if span == days:
                rows.append(f)
    return rows


def of_fit(targets: tuple[Target, ...], fit: int) -> tuple[Target, ...]:
    """The targets fit number `fit` used (those with since_fit <= fit): `of_fit(t, 3)` is
    the committed third fit's list (calibration/report.md)."""
    return tuple(t for t in targets if t.since_fit <= fit)


def parse_target(where: str, tid: str, table: dict) -> Target:
    """One [targets.ID] table (a table: `read_named_tables` checked that), checked;
    `where` prefixes every message."""
    check_keys(table, KEYS, f"{where}.", TargetsError)
    text = {key: _text(where, table, key) for key in DESCRIPTIVE_KEYS}
    origin = [k for k in ORIGIN_KEYS if k in table]
    if len(origin) != 1:
        raise TargetsError(f"{where}: give exactly one of seed (a seed article) or source (a "
                           f"public-record address and title) "
                           f"({'none' if not origin else ' and '.join(origin)} given)")
    value = _number(where, table, "value")
    if origin == ["seed"]:
        text["seed"] = _text(where, table, "seed")
        if not SEED_FILE.match(text["seed"]):
            raise TargetsError(f"{where}.seed: {text['seed']!r} is not a seed file name "
                               f"(NNN_<16 hex digits>.txt, a file in ../shared/seeds/)")
        if SEEDS_DIR.is_dir() and not (SEEDS_DIR / text["seed"]).is_file():
            raise TargetsError(f"{where}.seed: no such article in {SEEDS_DIR}")
    else:
        text["seed"] = ""
        text["source"] = _text(where, table, "source")
        if "://" in text["source"] or " (" not in text["source"]:
            raise TargetsError(f"{where}.source: {text['source']!r}: expected an address "
                               f"without its scheme and a title in brackets, as "
                               f"calibration/public_record.csv writes them")
        digits = re.sub(r"\D", "", f"{value:,.0f}")[:3]
        if digits not in re.sub(r"\D", "", text["quote"]):
            raise TargetsError(f"{where}.quote: does not give the value {value:,.0f}")
    since = table.get("since_fit", 1)
    if isinstance(since, bool) or not isinstance(since, int) or since < 1:
        raise TargetsError(f"{where}.since_fit: expected a whole number >= 1 (the first fit "
                           f"that used it), got {since!r}")
    kind = table.get("kind")
    if kind is None:
        raise TargetsError(f"{where}.kind: missing (one of {', '.join(KINDS)})")
    if kind not in KINDS:
        raise TargetsError(f"{where}.kind: unknown kind {kind!r} (known: {', '.join(KINDS)})")
    tolerance = _number(where, table, "tolerance")
    if tolerance <= 0:
        raise TargetsError(f"{where}.tolerance: {tolerance!r} must be > 0 (a share of the value)")
    if value == 0:
        raise TargetsError(f"{where}.value: 0 cannot be a target (the tolerance is a share of it)")
    measurable = table.get("measurable", True)
    if not isinstance(measurable, bool):
        raise TargetsError(f"{where}.measurable: expected true/false, got {measurable!r}")
    note = table.get("note", "")
    if not isinstance(note, str):
        raise TargetsError(f"{where}.note: expected text, got {note!r}")
    common = dict(id=tid, **text, value=value, kind=kind, tolerance=tolerance, note=note,
                  since_fit=since)
    if not measurable:
        reason = _text(where, table, "reason")
        return Target(**common, measurable=False, reason=reason)
    if "reason" in table:
        raise TargetsError(f"{where}.reason: only for an entry with measurable = false")
    coarsest = table.get("coarsest_scale")
    if coarsest is not None and (isinstance(coarsest, bool) or not isinstance(coarsest, int)
                                 or coarsest < 1):
        raise TargetsError(f"{where}.coarsest_scale: expected a whole number >= 1 (the "
                           f"coarsest --scale that measures it), got {coarsest!r}")
    return Target(**common, coarsest_scale=coarsest, **_measurement(where, table))


def _measurement(where: str, table: dict) -> dict:
    """columns, period, statistic and flight of a measurable target, checked."""
    flight = table.get("flight")
    destination = origin = None
    if flight is not None:
        if not isinstance(flight, dict):
            raise TargetsError(f"{where}.flight: expected a table {{destination = ..., "
                               f"origin = ...}}, got {flight!r}")
        check_keys(flight, FLIGHT_KEYS, f"{where}.flight.", TargetsError)
        destination = flight.get("destination")
        if destination not in DESTINATIONS:
            raise TargetsError(f"{where}.flight.destination: unknown destination "
                               f"{destination!r} (known: {', '.join(DESTINATIONS)})")
        origin = flight.get("origin")
        if origin is not None and not isinstance(origin, str):
            raise TargetsError(f"{where}.flight.origin: expected text, got {origin!r}")
    columns = table.get("columns")
    if columns is None:
        raise TargetsError(f"{where}.columns: missing (what the figure measures)")
    if (not isinstance(columns, list) or not columns
            or not all(isinstance(c, str) for c in columns)):
        raise TargetsError(f"{where}.columns: expected a list of column names, got {columns!r}")
    for column in columns:
        if flight is not None:
            if column not in FLIGHT_COLUMNS:
                raise TargetsError(f"{where}.columns: unknown column {column!r} for a flight "
                                   f"target (known: {', '.join(FLIGHT_COLUMNS)})")
        elif column not in HOW:
            raise TargetsError(f"{where}.columns: unknown column {column!r} (not a "
                               f"monthly.csv column; see model/state/recorder.py)")
        elif HOW[column] == "rate":
            raise TargetsError(f"{where}.columns: {column!r} is a share, not a count: "
                               f"it cannot be summed")
    if flight is not None and len(columns) != 1:
        raise TargetsError(f"{where}.columns: a flight target measures one of "
                           f"{', '.join(FLIGHT_COLUMNS)}")
    hows = {HOW[c] for c in columns} if flight is None else {"sum"}
    if len(hows) > 1:
        raise TargetsError(f"{where}.columns: {', '.join(columns)} aggregate differently "
                           f"(flows, average stocks, period-end stocks): not summable")
    first, last, period_key = _period(where, table)
    statistic = table.get("statistic", "total")
    if statistic not in STATISTICS:
        raise TargetsError(f"{where}.statistic: unknown statistic {statistic!r} "
                           f"(known: {', '.join(STATISTICS)})")
    if statistic in MONTHLY_STATISTICS and (period_key != "months" or first == last):
        raise TargetsError(f"{where}.statistic: {statistic} needs a `months` period of two "
                           f"months or more")
    if statistic == "per_week" and period_key != "days":
        raise TargetsError(f"{where}.statistic: per_week needs a `days` period")
    if statistic != "total" and hows != {"sum"}:
        raise TargetsError(f"{where}.statistic: {statistic} is for flows, not stocks")
    if flight is not None and statistic not in ("total", "per_week"):
        raise TargetsError(f"{where}.statistic: a flight target is a total or per_week")
    if flight is not None and period_key in ("month", "months"):
        raise TargetsError(f"{where}.{period_key}: a flight target needs `date` or `days`")
    return dict(columns=tuple(columns), first=first, last=last, statistic=statistic,
                destination=destination, origin=origin)


def _period(where: str, table: dict) -> tuple[str, str, str]:
    """(first, last, key) from exactly one of month / months / days / date."""
    given = [k for k in PERIOD_KEYS if k in table]
    if len(given) != 1:
        raise TargetsError(f"{where}: period: give exactly one of {', '.join(PERIOD_KEYS)} "
                           f"({'none' if not given else ' and '.join(given)} given)")
    key = given[0]
    value = table[key]
    if key == "month":
        month = _month(f"{where}.month", value)
        return month, month, key
    if key == "date":
        day = _day(f"{where}.date", value)
        return day, day, key
    if not isinstance(value, list) or len(value) != 2:
        raise TargetsError(f"{where}.{key}: expected [first, last], got {value!r}")
    parse = _month if key == "months" else _day
    first, last = (parse(f"{where}.{key}[{i}]", v) for i, v in enumerate(value))
    if last < first:
        raise TargetsError(f"{where}.{key}: {last} is before {first}")
    return first, last, key


def _month(where: str, value: Any) -> str:
    try:
        ok = isinstance(value, str) and len(value) == 7 and date.fromisoformat(f"{value}-01")
    except ValueError:
        ok = False
    if not ok:
        raise TargetsError(f"{where}: expected a month \"YYYY-MM\", got {value!r}")
    return value


def _day(where: str, value: Any) -> str:
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value)
        except ValueError:
            pass
    if not isinstance(value, date):
        raise TargetsError(f"{where}: expected a date (YYYY-MM-DD), got {value!r}")
    return value.isoformat()


def _text(where: str, table: dict, key: str) -> str:
    value = table.get(key)
    if value is None:
        raise TargetsError(f"{where}.{key}: missing")
    if not isinstance(value, str) or not value.strip():
        raise TargetsError(f"{where}.{key}: expected text, got {value!r}")
    return value


def _number(where: str, table: dict, key: str) -> float:
    value = table.get(key)
    if value is None:
        raise TargetsError(f"{where}.{key}: missing")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise TargetsError(f"{where}.{key}: expected a number, got {value!r}")
    return float(value)


# -- measuring ---------------------------------------------------------------------------

def measure(target: Target, monthly: pd.DataFrame, daily: pd.DataFrame,
            flights: pd.DataFrame) -> float:
    """The target's value in a run's tables (`RunResult.monthly`, `.daily`, `.flights`).

    Raises ValueError for a target that is not measurable or whose period the run
    does not cover (a shorter run would silently give a partial total).
    """
    if not target.measurable:
        raise ValueError(f"{target.id}: not measurable: {target.reason}")
    dates = daily["date"]
    run_first, run_last = dates.iloc[0].date(), dates.iloc[-1].date()
    if target.first_day() < run_first or target.last_day() > run_last:
        raise ValueError(f"{target.id}: its period {target.first} to {target.last} is not "
                         f"inside the run ({run_first} to {run_last})")
    weeks = ((target.last_day() - target.first_day()).days + 1) / 7
    if target.is_flight:
        return _flight_value(target, flights) / (weeks if target.statistic == "per_week" else 1)
    if target.statistic in MONTHLY_STATISTICS:
        months = monthly.set_index("month").loc[target.first:target.last, list(target.columns)]
        series = months.sum(axis=1).to_numpy(dtype=float)
        change = series[1:] - series[:-1]
        if target.statistic == "declines":
            return float((change < 0).sum())
        if target.statistic == "rises":
            return float((change > 0).sum())
        return float((series[-1] - series[0]) / series[0]) if series[0] else math.nan
    in_period = daily[(dates >= pd.Timestamp(target.first_day()))
                      & (dates <= pd.Timestamp(target.last_day()))]
    rows = in_period[list(target.columns)].sum(axis=1)
    how = HOW[target.columns[0]]
    value = {"sum": rows.sum, "mean": rows.mean, "last": lambda: rows.iloc[-1]}[how]()
    return float(value) / (weeks if target.statistic == "per_week" else 1)


def _flight_value(target: Target, flights: pd.DataFrame) -> float:
    chosen = ((flights["destination"] == target.destination)
              & (flights["date"] >= target.first) & (flights["date"] <= target.last))
    if target.origin is not None:
        chosen &= flights["origin"] == target.origin
    chosen &= flights["status"] == "flown"
    if target.columns[0] == "flown":
        return float(chosen.sum())
    return float(flights.loc[chosen, "passengers"].sum())


def measurable(targets: tuple[Target, ...], scale: int = 1) -> tuple[Target, ...]:
    """The targets a run at `scale` measures (at full scale: every measurable one)."""
    return tuple(t for t in targets if t.measured_at(scale))


def simulated_values(targets: tuple[Target, ...], result) -> dict[str, float]:
    """{target id: value} for every target the run measures at its scale, from a `RunResult`."""
    return {t.id: measure(t, result.monthly, result.daily, result.flights)
            for t in measurable(targets, result.scale)}


def observed_values(targets: tuple[Target, ...], scale: int = 1) -> dict[str, float]:
    """{target id: the article's value} for every target measured at `scale`."""
    return {t.id: t.value for t in measurable(targets, scale)}
