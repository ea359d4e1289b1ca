"""The comparison page: two or more scenarios on the same seeds, run on the spot.

It is `run.py compare` from the browser: `experiments.compare` plans the
comparison, runs it through the sweep runner (a local Dask cluster) into the
same report folder the command line would use (`runs/compare-A-B...`), so runs
already there (from the command line or an earlier visit) are read, not rerun;
then the monthly bands and the paired differences with their 95 % intervals.
"""

import hashlib
import os
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import solara
import solara.lab

from experiments.compare import (PLOTTED, WHOLE_RUN, WHOLE_RUN_NOTE, CompareError,
                                 default_out_dir, load_runs, per_seed_outcomes,
                                 plan_comparison, plot_monthly, readable_table,
                                 run_comparison, summarise)
from model import ScenarioError
from ui import html
from ui.controls import scenario_choices

ROOT = Path(__file__).resolve().parent.parent


def runs_dir() -> Path:
    """Where report folders go: $BORDER_UI_RUNS_DIR, else runs/ (as run.py compare)."""
    return Path(os.environ.get("BORDER_UI_RUNS_DIR") or ROOT / "runs")
DEFAULT_SEEDS, DEFAULT_SCALE = 5, 50


@dataclass(frozen=True)
class CompareResult:
    labels: list[str]
    out_dir: Path
    read: int  # runs found in the folder
    ran: int  # runs made now
    seconds: float
    table: pd.DataFrame  # whole run: first scenario's mean, others' paired differences
    pngs: dict[str, bytes]


def plan(scenarios: list[str], seeds: int, scale: int, start: str, end: str):
    """The comparison, in the command line's folder unless that holds another one."""
    kwargs = dict(seeds=seeds, scale=scale, start=start or None, end=end or None)
    labels = [Path(s).stem if s.endswith(".toml") else s for s in scenarios]
    out_dir = runs_dir() / default_out_dir(labels).name
    try:
        return plan_comparison(scenarios, out_dir=out_dir, **kwargs)
    except CompareError as exc:
        if "holds another comparison" not in str(exc):
            raise
    tag = hashlib.sha256(repr(sorted(kwargs.items())).encode()).hexdigest()[:8]
    return plan_comparison(scenarios, out_dir=out_dir.with_name(f"{out_dir.name}-{tag}"),
                           **kwargs)


def compare(scenarios: list[str], seeds: int, scale: int, start: str = "",
            end: str = "", workers: int = 2) -> CompareResult:
    started = time.perf_counter()
    the_plan = plan(scenarios, seeds, scale, start, end)
    report = run_comparison(the_plan, workers=workers, progress=False)
    if report.failed:
        raise CompareError(f"{len(report.failed)} of {report.total} runs failed; tracebacks "
                           f"in {report.errors_dir}")
    long = load_runs(the_plan)
    summary = summarise(per_seed_outcomes(long, the_plan.costs), the_plan.labels)
    return CompareResult(the_plan.labels, the_plan.out_dir, len(report.skipped),
                         len(report.finished), time.perf_counter() - started,
                         readable_table(summary, WHOLE_RUN),
                         {c: plot_monthly(long, the_plan.labels, c) for c in PLOTTED})


@solara.component
def ComparePage():
    choices = scenario_choices()
    chosen = solara.use_reactive(["historical", "mpp_off"])
    seeds = solara.use_reactive(DEFAULT_SEEDS)
    scale = solara.use_reactive(DEFAULT_SCALE)
    start, end = solara.use_reactive(""), solara.use_reactive("")

    def work():
        return compare(list(chosen.value), seeds.value, scale.value, start.value, end.value)
    job = solara.lab.use_task(work, dependencies=None, prefer_threaded=True, raise_error=False)

    html.heading("Compare scenarios")
    html.paragraph("Every scenario runs on the same seeds (common random numbers); the first "
                   "is the baseline. Shown: its mean over the seeds with a 95 % t-interval, and "
                   "for each other scenario the mean paired difference from it, seed by seed, "
                   "with its 95 % t-interval. As run.py compare, whose report folder it shares.")
    with solara.Row(gap="8px", style={"flex-wrap": "wrap", "align-items": "center"}):
        solara.SelectMultiple("Scenarios (first = baseline)", values=chosen.value,
                              all_values=choices, on_value=chosen.set,
                              classes=["compare-scenarios"])
        solara.InputInt("Seeds", value=seeds, dense=True, classes=["compare-seeds"])
        solara.Select("Scale", values=[10, 20, 50, 100], value=scale, dense=True)
        solara.InputText("Start (optional)", value=start, dense=True, placeholder="YYYY-MM-DD",
                         classes=["compare-start"])
        solara.InputText("End (optional)", value=end, dense=True, placeholder="YYYY-MM-DD",
                         classes=["compare-end"])
        solara.Button("Run comparison", on_click=job, color="primary",
                      disabled=job.pending, classes=["compare-run"])
    if job.pending:
        solara.Info(f"Running {len(chosen.value)} scenarios x {seeds.value} seeds on a local "
                    "Dask cluster...")
        solara.ProgressLinear(True)
    elif job.error:
        error = job.exception
        text = str(error) if isinstance(error, (ScenarioError, ValueError)) else repr(error)
        solara.Error(f"Comparison refused: {text}", classes=["compare-error"])
    elif job.finished and job.value is not None:
        result = job.value
        solara.Success(f"{' vs '.join(result.labels)}: {result.read} runs read from "
                       f"{result.out_dir}, {result.ran} run now, {result.seconds:.1f} s.",
                       classes=["compare-done"])
        html.paragraph(f"({WHOLE_RUN_NOTE})", bold="Whole run")
        solara.DataFrame(result.table.reset_index(), items_per_page=20)
        with solara.Row(style={"flex-wrap": "wrap"}):
            for column, png in result.pngs.items():
                with solara.Column(classes=[f"compare-plot-{column}"], style={"width": "560px"}):
                    solara.Image(png, format="png", width="560px")
