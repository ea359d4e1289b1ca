"""The figures the seed articles give, and the same figures read off a run's output.

    python -m calibration.seed_figures runs/historical-seed0-scale1

prints a Markdown table (README's "Fit to the seed articles" is made with it).
Each figure names the seed's words; the calibration issue fits to these.
"""

import sys
from dataclasses import dataclass
from pathlib import Path

import pandas as pd


@dataclass(frozen=True)
class SeedFigure:
    label: str
    seed_says: str
    value: float  # the number the seed gives (a floor where it says "more than")
    column: str
    first: str  # period, inclusive: YYYY-MM for monthly columns, YYYY-MM-DD for daily
    last: str
    destination: str | None = None  # read flights.csv: passengers on this route's flights


SEED_FIGURES: tuple[SeedFigure, ...] = (
    SeedFigure("Encounters, May 2019", "more than 144,000", 144_000, "encounters", "2019-05", "2019-05"),
    SeedFigure("Encounters, Dec 2019", "40,620", 40_620, "encounters", "2019-12", "2019-12"),
    SeedFigure("Encounters, Oct-Dec 2020 (Q1 FY2021)", "nearly 208,000", 208_000, "encounters", "2020-10", "2020-12"),
    SeedFigure("Encounters, FY2021", "1.7 million", 1_700_000, "encounters", "2020-10", "2021-09"),
    SeedFigure("Title 42 expulsions, Mar-Sep 2020", "over 197,000", 197_000, "title42_expulsions", "2020-03", "2020-09"),
    SeedFigure("MPP enrolments to Jan 2020", "more than 55,000", 55_000, "mpp_enrollments", "2019-01", "2020-01"),
    SeedFigure("MPP enrolments, 2019-2021 (MPP 1.0)", "some 70,000", 70_000, "mpp_enrollments", "2019-01", "2021-01"),
    SeedFigure("Violence against people in MPP, to Feb 2021", "more than 1,500 publicly reported", 1_500, "violence_incidents", "2019-01", "2021-02"),
    SeedFigure("Flown to Guadalajara, to 28 Jan 2020", "more than 450", 450, "interior_repatriations", "2019-12-01", "2020-01-28"),
    SeedFigure("Flown to Guatemala (ACA), to 17 Jan 2020", "96", 96, "third_country_transfers", "2019-11-01", "2020-01-17"),
    SeedFigure("China flight, 2 Jul 2021", "116", 116, "passengers", "2021-07-02", "2021-07-02",
               destination="china"),
    SeedFigure("Court backlog, Dec 2021", "1.5 million", 1_500_000, "court_backlog", "2021-12", "2021-12"),
)


def model_value(figure: SeedFigure, monthly: pd.DataFrame, daily: pd.DataFrame,
                flights: pd.DataFrame) -> float:
    """The figure as the run's output gives it (by month, by day, or by flight)."""
    if figure.destination is not None:
        on_route = flights[(flights.destination == figure.destination)
                           & flights.date.between(figure.first, figure.last)]
        return float(on_route[figure.column].sum())
    if len(figure.first) == 7:
        rows = monthly.set_index("month").loc[figure.first:figure.last, figure.column]
    else:
        rows = daily.set_index("date").loc[figure.first:figure.last, figure.column]
    return float(rows.iloc[-1] if figure.column == "court_backlog" else rows.sum())


def fit_table(out_dir: Path) -> str:
    monthly = pd.read_csv(out_dir / "monthly.csv")
    daily = pd.read_parquet(out_dir / "daily.parquet")
    flights = pd.read_csv(out_dir / "flights.csv")
    lines = ["| figure | seeds say | model |", "|---|---|---|"]
    for f in SEED_FIGURES:
        lines.append(f"| {f.label} | {f.seed_says} | {model_value(f, monthly, daily, flights):,.0f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(fit_table(Path(sys.argv[1])))
