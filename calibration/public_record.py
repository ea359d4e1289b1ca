"""The public record's figures for ICE, the courts, metering and family detention,
and the same figures read off a run.

`public_record.csv` holds each figure once, with its source (address and title)
and the sentence that gives it: ICE removals, interior arrests and detained
population by fiscal year or date, the immigration courts' pending cases, the
metering waitlists and family beds. The historical scenario's starting state
cites the same sources; the README's "ICE, courts and the public record" table
is made with

    python -m calibration.public_record runs/historical-seed0-scale1

Figures are data, never code: a test checks every row names a real output
column, a period and a source.
"""

import csv
import sys
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

RECORD_FILE = Path(__file__).resolve().parent / "public_record.csv"
HOW = ("total", "average", "on the day", "capacity")


@dataclass(frozen=True)
class RecordFigure:
    figure: str
    column: str  # the output column it compares with
    period: str  # FY2019, a date (YYYY-MM-DD), or a range of dates (first/last)
    value: float
    how: str  # total over the period, average daily, on the day, or a capacity
    source: str
    says: str


def load_record(path: Path = RECORD_FILE) -> list[RecordFigure]:
    with open(path, newline="", encoding="utf-8") as f:
        return [RecordFigure(row["figure"], row["column"], row["period"], float(row["value"]),
                             row["how"], row["source"], row["says"])
                for row in csv.DictReader(f)]


def record_value(figures: list[RecordFigure], column: str, period: str) -> float:
    """The record's figure for `column` in `period` (KeyError if it has none)."""
    for f in figures:
        if f.column == column and f.period == period:
            return f.value
    raise KeyError(f"no public-record figure for {column} in {period}")


def model_value(figure: RecordFigure, daily: pd.DataFrame) -> float | None:
    """The figure as a run's daily table gives it; None when the run does not
    cover its period, the column is not (yet) an output, or the figure is a
    capacity (the model's input, not an outcome)."""
    if figure.column not in daily.columns or figure.how == "capacity":
        return None
    dates = daily["date"].dt.strftime("%Y-%m-%d")
    if figure.period.startswith("FY"):
        year = int(figure.period[2:])
        first, last = f"{year - 1}-10-01", f"{year}-09-30"
    else:
        first, _, last = figure.period.partition("/")
        last = last or first
    rows = daily.loc[(dates >= first) & (dates <= last), figure.column]
    if rows.empty or dates.iloc[0] > first or dates.iloc[-1] < last:
        return None
    if figure.how == "total":
        return float(rows.sum())
    if figure.how == "average":
        return float(rows.mean())
    return float(rows.iloc[-1])


def comparison_table(daily: pd.DataFrame, figures: list[RecordFigure] | None = None) -> str:
    """Markdown: each figure, the record's value, the model's, and the ratio."""
    figures = load_record() if figures is None else figures
    lines = ["| figure | period | public record | model | model / record |", "|---|---|---|---|---|"]
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
        lines.append(f"| {f.figure} | {f.period} | {f.value:,.0f} | {model} | {ratio} |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(comparison_table(pd.read_parquet(Path(sys.argv[1]) / "daily.parquet")))
