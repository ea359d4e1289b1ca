"""The fit page: each figure the seed articles give (`calibration.seed_figures`) against
the current run's value, read off its output so far by the same `model_value`.

A figure is judged only once the run has covered its whole period, by the rule the
calibration uses (`calibration.distance.met`: its kind and tolerance in
calibration/targets.toml). At a coarse scale small figures (a few hundred people)
are a handful of agents: read them at scale 1.
"""

from dataclasses import dataclass
from datetime import date

import solara

from calibration.distance import met
from calibration.seed_figures import SEED_FIGURES, SeedFigure, model_value
from model.simulate import tabulate
from ui import html, session


@dataclass(frozen=True)
class FitRow:
    figure: SeedFigure
    value: float | None  # None: the run does not cover the figure's period
    verdict: str


def judge(figure: SeedFigure, value: float) -> str:
    """"met" or "not met" (by the figure's kind and tolerance), and how far off it is."""
    off = (value - figure.value) / figure.value
    return ("met" if met(figure, value) else "not met") + f" ({off:+.0%})"


def fit_rows(result, first_day: date, last_run_day: date | None) -> list[FitRow]:
    """Every seed figure against a run's output (`RunResult`) that covers first_day to
    last_run_day (None: no day run yet)."""
    rows = []
    for figure in SEED_FIGURES:
        start, end = figure.first_day(), figure.last_day()
        if last_run_day is None or start < first_day or end > last_run_day:
            why = ("the run starts after this period begins" if start < first_day
                   else "not reached yet")
            rows.append(FitRow(figure, None, why))
            continue
        value = model_value(figure, result.monthly, result.daily, result.flights)
        rows.append(FitRow(figure, value, judge(figure, value)))
    return rows


@solara.component
def FitPage():
    state, frame = session.run.value, session.frame.value

    def compute():
        if state is None:
            return []
        with state.lock:
            result = tabulate(state.model)
            days_run = state.model.day
        last = state.model.calendar.date(days_run - 1) if days_run else None
        return fit_rows(result, state.model.calendar.start, last)
    rows = solara.use_memo(compute, [state, frame])
    html.heading("Fit to the seed articles")
    html.paragraph("Each figure the seed articles give, against the current run (the Simulate "
                   "page's), read off its output so far, and judged as the calibration judges "
                   "it: a floor (at least) or ceiling (at most) is met when the run is on its "
                   "side, the others within their tolerance (calibration/targets.toml). A "
                   "figure is judged once the run has covered its period.")
    if state is None or frame is None:
        solara.Info("No run yet: open the Simulate page first.")
        return
    run_text = (f"{state.model.loaded.name}, seed {state.settings.seed}, scale "
                f"{state.settings.scale}, run to {frame.view.date.isoformat()}")
    met = sum(r.verdict.startswith("met") for r in rows)
    judged = sum(r.value is not None for r in rows)
    html.paragraph(f"{met} of {judged} figures judged so far are met.", bold=run_text + ":",
                   classes=["fit-summary"])
    html.table(["figure", "seeds say", "this run", "verdict"],
               [[r.figure.label, r.figure.seed_says,
                 "" if r.value is None else f"{r.value:,.0f}", r.verdict] for r in rows],
               classes=["fit-table"], right={2})
