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

from pathlib import Path

from calibration.distance import met
from calibration.seed_figures import SEED_FIGURES, SeedFigure, model_value
from model import ScenarioError
from model.simulate import tabulate
from ui import files, html, session
from ui import settings as ui_settings


@dataclass(frozen=True)
class FitRow:
    figure: SeedFigure
    value: float | None  # None: the run does not cover the figure's period
    verdict: str


def judge(figure: SeedFigure, value: float) -> str:
    """"met" or "not met" (by the figure's kind and tolerance), and how far off it is."""
    off = (value - figure.value) / figure.value
    return ("met" if met(figure, value) else "not met") + f" ({off:+.0%})"


def shown(figure: SeedFigure, value: float | None) -> str:
    """A run's value as the page shows it: a relative change as a percentage (-0.73 is
    "-73 %", as the seeds word it), a small fraction with two decimals, else a count."""
    if value is None:
        return ""
    if figure.statistic == "relative_change":
        return f"{value * 100:+.0f} %"
    if abs(value) < 10 and value != round(value):
        return f"{value:,.2f}"
    return f"{value:,.0f}"


def run_name(settings: ui_settings.Settings) -> str:
    """The run's scenario as the page names it: the file's name, with ", changed" when
    the run's settings differ from the file's (e.g. Title 42 switched off)."""
    name = Path(settings.scenario).stem
    try:
        reference = ui_settings.reference(settings.scenario, files.scenario_roots())
        changes = ui_settings.differences(settings, reference)
    except ScenarioError:  # the file changed on disk since the run started
        return f"{name} (file changed since)"
    return f"{name}, changed ({len(changes)} setting{'s' * (len(changes) != 1)})" if changes \
        else name


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
    name = solara.use_memo(lambda: run_name(state.settings) if state else "", [state])
    html.heading("Fit to the seed articles")
    html.paragraph("Each figure the seed articles give, against the current run (the Simulate "
                   "page's), read off its output so far, and judged as the calibration judges "
                   "it: a floor (at least) or ceiling (at most) is met when the run is on its "
                   "side, the others within their tolerance (calibration/targets.toml). A "
                   "figure is judged once the run has covered its period.")
    if state is None or frame is None:
        solara.Info("No run yet: open the Simulate page first.")
        return
    run_text = (f"{name}, seed {state.settings.seed}, scale "
                f"{state.settings.scale}, run to {frame.view.date.isoformat()}")
    met = sum(r.verdict.startswith("met") for r in rows)
    judged = sum(r.value is not None for r in rows)
    html.paragraph(f"{met} of {judged} figures judged so far are met.", bold=run_text + ":",
                   classes=["fit-summary"])
    html.table(["figure", "seeds say", "this run", "verdict"],
               [[r.figure.label, r.figure.seed_says,
                 shown(r.figure, r.value), r.verdict] for r in rows],
               classes=["fit-table"], right={2})
