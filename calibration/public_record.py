"""The public record's figures for ICE, the courts, metering, family detention and CBP's
southwest-border encounters, which of them a fit may use, and the same figures read off a run.

`public_record.csv` holds each figure once, with its source (address and title)
and the sentence that gives it: ICE removals, interior arrests and detained
population by fiscal year or date, the immigration courts' pending cases, the
metering waitlists and family beds, and CBP's southwest-border encounters: monthly
totals (October 2018 - December 2021), fiscal-year totals, the encounters at the ports,
and the fiscal years' composition by demographic and by citizenship. The historical scenario's starting state cites the
same sources; docs/public-record.md's table is made with

    python -m calibration.public_record runs/historical-seed0-scale1

Figures are data, never code: `load_record` checks every row (a bad one raises
`RecordError` naming the file, the row and the field) and a test checks every row
names a period and a source whose sentence gives the number.

Columns beyond the figure itself:

- `counts`: `all` when the figure counts what the model's column counts, or
  `border_patrol` when the source gives CBP's Border Patrol alone (between the ports):
  the model's encounter columns count the ports (OFO) too, so such a figure is a floor
  for the model's value, not its match (targets built on one are `at_least`); or
  `nationwide` when the source counts CBP's encounters at every border, airports
  included: the model's columns count the southwest border alone, so such a figure is
  a ceiling for the model's value (targets built on one are `at_most`).
- `split`: `fit` or `held_out`. A `held_out` figure is for validation only: no fit sees
  it and no parameter was set from it by hand; `calibration.targets` refuses a target
  that duplicates one. The rule (issue 19): FY2020's composition (by demographic and
  citizenship) and every monthly series (CBP's monthly encounter totals) are held out;
  FY2019's and FY2021's composition are `fit` (the encounters at the ports, OFO's
  inadmissibles, count as composition: FY2019's fit, FY2020's held out). Exceptions, where a figure was already
  used and calling it held out would be untrue: May and December 2019's encounters
  (the seeds' fitted months, targets encounters_may_2019 and encounters_dec_2019), and
  October-December 2021's 518,360 (Central Americans' push from October 2021 was set
  from it by hand). Months whose sum a seed target fits (Q1 FY2021's 208,000, FY2021's
  1.7 million) stay held out: the fit sees their sum, not their shape.
  The earlier rows are `fit` where some parameter was set from them
  (scenarios/historical.toml, docs/fit.md and docs/public-record.md): ICE's FY2019
  removals (total and by country: the formal-removal share, the removal flights), ERO's
  arrests in FY2019-2021 (arrests_per_day by period), the detained population of
  2018-10-20 and the interior-arrested detainees of 2018-09-30 (the first day's
  detention), every court-backlog figure (nta_filing_days was set so the backlog follows
  EOIR's and TRAC's counts, and court_backlog_dec_2021 is a target), the four metering
  counts (metering_daily_leave hand-set to follow them, the first day's lists from
  November 2018), the family beds (an input), the Title 42 charter expulsions and the
  Haiti flights (their flights' sizes), and December 2021's MPP enrolments (the
  restart's daily capacity). Held out: ICE's FY2020 and FY2021 removals, FY2019's
  average detained population, the detained population of 2018-12-31, 2020-02-29,
  2020-04-25 and 2020-12-18, and the interior-arrested detainees of 2019-09-30.

The model records encounters of the Northern Triangle together
(`encounters_northern_triangle`) and, since issue 19, each country apart
(`encounters_guatemala`, `encounters_honduras`, `encounters_el_salvador`: they sum to
it), the columns the record's rows for Guatemala, Honduras and El Salvador name.
`with_derived` adds, for each period where all three are recorded with the same
`counts`, their sum as a derived `encounters_northern_triangle` figure (held out if
any part is): the comparison table shows it, and the targets' held-out check sees it.
"""

import calendar
import csv
import sys
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pandas as pd

from model.config.validation import ScenarioError

RECORD_FILE = Path(__file__).resolve().parent / "public_record.csv"
HOW = ("total", "average", "on the day", "capacity")
SPLITS = ("fit", "held_out")
COUNTS = ("all", "border_patrol", "nationwide")  # the same; a floor; a ceiling (module doc)
NORTHERN_TRIANGLE = ("encounters_guatemala", "encounters_honduras", "encounters_el_salvador")
FIELDS = ("figure", "column", "period", "value", "how", "source", "says", "counts", "split")


class RecordError(ScenarioError):
    """A public-record file that cannot be used (one line naming the row and field)."""


@dataclass(frozen=True)
class RecordFigure:
    figure: str
    column: str  # the output column it compares with
    period: str  # FY2019, a date (YYYY-MM-DD), or a range of dates (first/last)
    value: float
    how: str  # total over the period, average daily, on the day, or a capacity
    source: str
    says: str
    split: str = "held_out"  # fit: a fit or a hand-set parameter used it; held_out: validation only
    counts: str = "all"  # all: what the column counts; border_patrol: Border Patrol alone (a floor)

    @property
    def held_out(self) -> bool:
        return self.split == "held_out"

    def span(self) -> tuple[str, str]:
        """(first day, last day) as YYYY-MM-DD: a fiscal year's October 1 to September 30,
        a date's day, a range's bounds."""
        return period_span(self.period)


def period_span(period: str) -> tuple[str, str]:
    """(first, last) day of a period as the record writes it (FY2019, a date, first/last)."""
    if period.startswith("FY"):
        year = int(period[2:])
        return f"{year - 1}-10-01", f"{year}-09-30"
    first, _, last = period.partition("/")
    return first, last or first


def load_record(path: Path | str = RECORD_FILE) -> list[RecordFigure]:
    """Every row of a public-record file, checked; the first problem raises RecordError."""
    path = Path(path)
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        missing = [k for k in FIELDS if k not in (reader.fieldnames or ())]
        if missing:
            raise RecordError(f"{path}: missing column(s) {', '.join(missing)} "
                              f"(expected {', '.join(FIELDS)})")
        return [_figure(f"{path}: row {n} ({row['figure']}, {row['period']})", row)
                for n, row in enumerate(reader, start=2)]


def _figure(where: str, row: dict) -> RecordFigure:
    for key, allowed in (("split", SPLITS), ("counts", COUNTS), ("how", HOW)):
        if row[key] not in allowed:
            raise RecordError(f"{where}: {key} {row[key]!r} must be one of {', '.join(allowed)}")
    try:
        value = float(row["value"])
    except (TypeError, ValueError):
        raise RecordError(f"{where}: value {row['value']!r} is not a number") from None
    try:
        first, last = (date.fromisoformat(d) for d in period_span(row["period"]))
    except ValueError:
        raise RecordError(f"{where}: period {row['period']!r} is not FY<year>, a date "
                          f"(YYYY-MM-DD) or first/last") from None
    if last < first:
        raise RecordError(f"{where}: period {row['period']!r} ends before it starts")
    return RecordFigure(row["figure"], row["column"], row["period"], value, row["how"],
                        row["source"], row["says"], row["split"], row["counts"])


def with_derived(figures: list[RecordFigure]) -> list[RecordFigure]:
    """The figures and, per period and `counts` where Guatemala, Honduras and El Salvador
    are all recorded, their sum as `encounters_northern_triangle` (the model's column);
    the derived figure is held out if any of the three is."""
    derived = []
    for period, counts in dict.fromkeys((f.period, f.counts) for f in figures):
        parts = [next((f for f in figures if f.column == c and f.period == period
                       and f.counts == counts), None) for c in NORTHERN_TRIANGLE]
        if (None in parts
                or any(f.column == "encounters_northern_triangle" and f.period == period
                       and f.counts == counts for f in figures)):
            continue
        derived.append(RecordFigure(
            "Northern Triangle (Guatemala + Honduras + El Salvador)",
            "encounters_northern_triangle", period, sum(p.value for p in parts), "total",
            "sum of the record's Guatemala, Honduras and El Salvador rows", "",
            "held_out" if any(p.held_out for p in parts) else "fit", parts[0].counts))
    return [*figures, *derived]


def held_out(figures: list[RecordFigure] | None = None) -> list[RecordFigure]:
    """The held-out figures (derived sums included): the validation set."""
    figures = load_record() if figures is None else figures
    return [f for f in with_derived(figures) if f.held_out]


def record_value(figures: list[RecordFigure], column: str, period: str,
                 counts: str = "all") -> float:
    """The record's figure for `column` in `period` counting `counts` (KeyError if it has
    none). One figure per (column, period, counts): a Border Patrol floor and a nationwide
    ceiling may stand beside the figure itself."""
    for f in figures:
        if f.column == column and f.period == period and f.counts == counts:
            return f.value
    raise KeyError(f"no public-record figure for {column} in {period}")


def model_value(figure: RecordFigure, daily: pd.DataFrame) -> float | None:
    """The figure as a run's daily table gives it; None when the run does not
    cover its period, the column is not (yet) an output, or the figure is a
    capacity (the model's input, not an outcome)."""
    if figure.column not in daily.columns or figure.how == "capacity":
        return None
    dates = daily["date"].dt.strftime("%Y-%m-%d")
    first, last = figure.span()
    rows = daily.loc[(dates >= first) & (dates <= last), figure.column]
    if rows.empty or dates.iloc[0] > first or dates.iloc[-1] < last:
        return None
    if figure.how == "total":
        return float(rows.sum())
    if figure.how == "average":
        return float(rows.mean())
    return float(rows.iloc[-1])


def comparison_table(daily: pd.DataFrame, figures: list[RecordFigure] | None = None) -> str:
    """Markdown: each figure (and the derived Northern Triangle sums), the record's
    value, the model's, the ratio, and whether a fit may use it; a Border Patrol-only
    figure is marked, since the model's value counts the ports too."""
    figures = with_derived(load_record() if figures is None else figures)
    lines = ["| figure | period | public record | model | model / record | split |",
             "|---|---|---|---|---|---|"]
    for f in figures:
        value = model_value(f, daily)
        if value is not None:
            model = f"{value:,.0f}"
        elif f.column not in daily.columns:
            model = "not modelled"
        elif f.how == "capacity":
            model = "an input"
        else:
            model = "before the run"
        ratio = "" if value is None else f"{value / f.value:.2f}"
        name = f.figure + (" (Border Patrol only)" if f.counts == "border_patrol"
                           and "Border Patrol" not in f.figure else
                           " (nationwide)" if f.counts == "nationwide"
                           and "nationwide" not in f.figure else "")
        lines.append(f"| {name} | {f.period} | {f.value:,.0f} | {model} | {ratio} | "
                     f"{f.split.replace('_', ' ')} |")
    return "\n".join(lines)


# CBP's Nationwide Encounters rows for the southwest border, FY2020 and FY2021, as the
# TidyTuesday mirror holds them (module doc): the rows' sums are the record's figures that
# name this file, and `tests/test_public_record.py` checks both against CBP's published totals.
CBP_SOURCE = Path(__file__).resolve().parent / "sources" / "cbp_southwest_encounters.csv"
CBP_FIELDS = ("fiscal_year", "month", "component", "aor", "demographic", "citizenship",
              "title", "count")
CBP_COLUMNS = {  # a record column -> which of the file's rows it counts
    "encounters": lambda rows: pd.Series(True, index=rows.index),  # every row
    "encounters_at_ports": lambda rows: rows["component"] == "Office of Field Operations",
    "encounters_single_adults": lambda rows: rows["demographic"] == "Single Adults",
    "encounters_family_units": lambda rows: rows["demographic"] == "FMUA",
    "encounters_unaccompanied_children": lambda rows: rows["demographic"] == "UC / Single Minors",
    "encounters_mexico": lambda rows: rows["citizenship"] == "MEXICO",
    "encounters_guatemala": lambda rows: rows["citizenship"] == "GUATEMALA",
    "encounters_honduras": lambda rows: rows["citizenship"] == "HONDURAS",
    "encounters_el_salvador": lambda rows: rows["citizenship"] == "EL SALVADOR",
    "encounters_other": lambda rows: ~rows["citizenship"].isin(
        ["MEXICO", "GUATEMALA", "HONDURAS", "EL SALVADOR"]),
}


def cbp_southwest(path: Path | str = CBP_SOURCE) -> pd.DataFrame:
    """The CBP rows (one per fiscal year, month, component, area of responsibility,
    demographic, citizenship and title of authority, with its count)."""
    rows = pd.read_csv(path, dtype={"title": str})
    if list(rows.columns) != list(CBP_FIELDS):
        raise RecordError(f"{path}: columns {', '.join(rows.columns)}; expected "
                          f"{', '.join(CBP_FIELDS)}")
    return rows


def cbp_sum(rows: pd.DataFrame, column: str, fiscal_year: int, counts: str = "all") -> int:
    """What the CBP rows give for a record column in a fiscal year, counting Border
    Patrol and the ports (`all`) or Border Patrol alone (`border_patrol`)."""
    here = rows[rows["fiscal_year"] == fiscal_year]
    if counts == "border_patrol":
        here = here[here["component"] == "U.S. Border Patrol"]
    return int(here.loc[CBP_COLUMNS[column](here), "count"].sum())


COMPOSITION = ("encounters_single_adults", "encounters_family_units",
               "encounters_unaccompanied_children", "encounters_mexico", *NORTHERN_TRIANGLE,
               "encounters_at_ports")  # the record's composition columns (issue 19)


def composition_table(daily: pd.DataFrame, figures: list[RecordFigure] | None = None) -> str:
    """Markdown: the record's composition rows (CBP's southwest-border encounters by
    demographic and by citizenship, and at the ports) in their order, what each counts
    against the model's column, its split, and the run's value for the fit rows; a
    held-out row's model value is left to `run.py validate`, which scores it."""
    figures = load_record() if figures is None else figures
    lines = ["| column | period | record | counts | split | model |", "|---|---|---|---|---|---|"]
    for f in figures:
        if f.column not in COMPOSITION:
            continue
        value = None if f.held_out else model_value(f, daily)
        model = ("`run.py validate`" if f.held_out else "outside the run" if value is None
                 else f"{value:,.0f}")
        lines.append(f"| `{f.column}` | {f.period} | {f.value:,.0f} | "
                     f"{f.counts.replace('_', ' ')} | {f.split.replace('_', ' ')} | {model} |")
    return "\n".join(lines) + "\n"


def month_period(year: int, month: int) -> str:
    """A calendar month as the record writes it: 2019-05-01/2019-05-31."""
    return f"{year}-{month:02d}-01/{year}-{month:02d}-{calendar.monthrange(year, month)[1]:02d}"


if __name__ == "__main__":
    print(comparison_table(pd.read_parquet(Path(sys.argv[1]) / "daily.parquet")))
