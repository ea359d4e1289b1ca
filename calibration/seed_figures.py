"""The figures the seed articles give, and the same figures read off a run.

    python -m calibration.seed_figures runs/historical-seed0-scale1

prints a Markdown table (docs/fit.md's "Fit to the seed articles" is made with it): every
entry of `calibration/targets.toml`, the run's value, and whether it meets the figure
by its kind; entries the model has no output for are listed as not measured.

`SEED_FIGURES` (the measurable targets) and `model_value(figure, monthly, daily,
flights)` are what the browser's fit page reads; each figure has `label`,
`seed_says`, `value`, `kind`, `tolerance` and its period as `first`/`last`
(YYYY-MM or YYYY-MM-DD).
"""

import sys
from pathlib import Path

import pandas as pd

from calibration.distance import met
from calibration.targets import Target, load_targets, measurable, measure

SeedFigure = Target  # the name this module's users know
ALL_TARGETS: tuple[Target, ...] = load_targets()
SEED_FIGURES: tuple[Target, ...] = measurable(ALL_TARGETS)


def model_value(figure: Target, monthly: pd.DataFrame, daily: pd.DataFrame,
                flights: pd.DataFrame) -> float:
    """The figure as the run's tables give it (by month, by day, or by flight)."""
    return measure(figure, monthly, daily, flights)


def fit_rows(monthly: pd.DataFrame, daily: pd.DataFrame, flights: pd.DataFrame,
             targets: tuple[Target, ...] = ALL_TARGETS) -> list[list[str]]:
    """[label, seeds say, kind, model, met] for every target; not measured ones say so."""
    rows = []
    for t in targets:
        if not t.measurable:
            rows.append([t.label, t.seed_says, t.kind, "not measured", t.reason])
            continue
        value = measure(t, monthly, daily, flights)
        shown = f"{value:,.2f}" if abs(value) < 10 and value != round(value) else f"{value:,.0f}"
        rows.append([t.label, t.seed_says, t.kind, shown, "met" if met(t, value) else "not met"])
    return rows


def fit_table_for(monthly: pd.DataFrame, daily: pd.DataFrame, flights: pd.DataFrame,
                  targets: tuple[Target, ...] = ALL_TARGETS) -> str:
    lines = ["| figure | seeds say | kind | model | met |", "|---|---|---|---|---|"]
    lines += ["| " + " | ".join(row) + " |" for row in fit_rows(monthly, daily, flights, targets)]
    return "\n".join(lines)


def fit_table(out_dir: Path) -> str:
    """The fit table of a run folder written by `run.py run`."""
    out_dir = Path(out_dir)
    return fit_table_for(pd.read_csv(out_dir / "monthly.csv"),
                         pd.read_parquet(out_dir / "daily.parquet"),
                         pd.read_csv(out_dir / "flights.csv"))


if __name__ == "__main__":
    print(fit_table(Path(sys.argv[1])))
