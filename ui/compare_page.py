"""The comparison page: two or more scenarios on the same seeds, run on the spot.

It is `run.py compare` from the browser: `experiments.compare` checks and plans
the comparison (the same report folder the command line would use,
`runs/compare-A-B...`, so runs already there are read, not rerun), and the page
runs that very command (`run.py compare ... --out FOLDER`) as a child process,
so that a comparison

- is bounded: at most `MAX_SEEDS` seeds and `MAX_WORK` units of work (`work`), or
  the page says why not and points to `run.py compare`;
- shows its progress: the runs whose files are in the report folder, of all;
- stops promptly on Cancel, and when its browser session goes (a closed tab:
  Solara's kernel-context close, `on_kernel_start`'s cleanup): Ctrl-C to the
  child, as a terminal would (it keeps the finished runs), then SIGTERM/SIGKILL to
  its process group (its Dask workers) if it does not end;
- is one per session (`run_job` is a `solara.lab.task`: one per virtual kernel)
  and at most `MAX_RUNNING` on the server; the others wait, cancellable, and say so;
- leaves nothing in the server: its cluster, workers and memory are the child's.

Then the page reads the runs (`load_runs`) for the whole-run table (one HTML
table, every outcome, `cost_total_usd` included) and the monthly bands.

Posterior draws are on by default, as on the command line, when every scenario names
a calibration: the seeds are split into draws as `run.py compare` splits them
(`default_seeds_per_draw`: two seeds a draw when the seeds are an even number of at least
four, else one), and the table adds each difference's spread and the share of its
variance between draws; a switch turns them off (the calibrated medians only).
"""

import contextlib
import hashlib
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pandas as pd
import solara
import solara.lab

from experiments.compare import (PLOTTED, WHOLE_RUN, WHOLE_RUN_NOTE, CompareError,
                                 default_out_dir, load_runs, per_seed_outcomes,
                                 plan_comparison, plot_monthly, posterior_note,
                                 readable_table, summarise)
from model import ScenarioError, load_scenario
from ui import files, html
from ui.controls import scenario_choices

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SEEDS, DEFAULT_SCALE = 6, 50  # with the posterior: 3 draws x 2 seeds
MAX_SEEDS = 50  # seeds a comparison on the page may have (run.py compare takes any)
# A unit of work is one run of historical's whole window (1,188 days) at scale 100,
# about 0.5 s of one core; the page's bound is about 100 s of its two workers.
REFERENCE_DAYS, REFERENCE_SCALE = 1188, 100
MAX_WORK = 400
MAX_RUNNING = 1  # comparisons running at once on the server; the others wait
WORKERS = max(1, min(2, os.cpu_count() or 1))
POLL_S = 0.3  # how often a running job looks at its folder and for a cancel
PAGE_GONE_S = 10  # a comparison stops once its session has had no page connected this long
STOP_GRACE_S = 20  # Ctrl-C repeated this long before SIGTERM (then SIGKILL after 5 s)

_slots = threading.BoundedSemaphore(MAX_RUNNING)
_queue_lock = threading.Lock()
_waiting = [0]  # jobs waiting for a slot, server-wide


def runs_dir() -> Path:
    """Where report folders go: $BORDER_UI_RUNS_DIR, else runs/ (as run.py compare)."""
    return Path(os.environ.get("BORDER_UI_RUNS_DIR") or ROOT / "runs")


@dataclass(frozen=True)
class CompareResult:
    labels: list[str]
    out_dir: Path
    read: int  # runs found in the folder
    ran: int  # runs made now
    seconds: float
    table: pd.DataFrame  # whole run: first scenario's mean, others' paired differences
    pngs: dict[str, bytes]
    note: str = ""  # the posterior draws and file, if the runs are of draws


@dataclass(frozen=True)
class Progress:
    """What a comparison is doing: "waiting" (for a free slot), "running", "stopping"."""

    phase: str
    done: int  # runs whose file is in the folder
    total: int
    waiting: int = 0  # other jobs waiting for a slot (phase "waiting")


def work(runs: int, days: int, scale: int) -> float:
    """A comparison's size in units of `MAX_WORK`: runs x days / scale, against one
    whole-window run at scale 100."""
    return runs * days / REFERENCE_DAYS * REFERENCE_SCALE / scale


def plan(scenarios: list[str], seeds: int, scale: int, start: str, end: str,
         posterior: bool = True):
    """The comparison, checked and bounded, in the command line's folder unless that
    holds another one; with `posterior`, of posterior draws (as `run.py compare` makes
    them by default) when every scenario names a calibration. Raises
    CompareError/ScenarioError (one line)."""
    if seeds > MAX_SEEDS:
        raise CompareError(f"seeds: the page runs at most {MAX_SEEDS}, got {seeds}; "
                           f"run.py compare runs more")
    for scenario in scenarios:  # the page's folders only, a request naming others is refused
        load_scenario(scenario, roots=files.scenario_roots())
    kwargs = dict(seeds=seeds, scale=scale, start=start or None, end=end or None,
                  posterior=None if posterior else 0)
    labels = [Path(s).stem if s.endswith(".toml") else s for s in scenarios]
    out_dir = runs_dir() / default_out_dir(labels).name
    try:
        the_plan = plan_comparison(scenarios, out_dir=out_dir, **kwargs)
    except CompareError as exc:
        if "holds another comparison" not in str(exc):
            raise
        tag = hashlib.sha256(repr(sorted(kwargs.items())).encode()).hexdigest()[:8]
        the_plan = plan_comparison(scenarios, out_dir=out_dir.with_name(f"{out_dir.name}-{tag}"),
                                   **kwargs)
    days = (date.fromisoformat(the_plan.last_day) - date.fromisoformat(the_plan.first_day)).days + 1
    runs = len(scenarios) * seeds
    size = work(runs, days, scale)
    if size > MAX_WORK:
        most = int(MAX_WORK / work(len(scenarios), days, scale))
        raise CompareError(f"{runs} runs of {days} days at scale {scale} are {size:,.0f} units of "
                           f"work (one unit: a {REFERENCE_DAYS}-day run at scale "
                           f"{REFERENCE_SCALE}); the page runs at most {MAX_WORK}: use fewer "
                           f"seeds (at most {most} here), a coarser scale or a shorter window, "
                           f"or run.py compare")
    return the_plan


def command(the_plan, workers: int = WORKERS) -> list[str]:
    """The `run.py compare` command that runs `the_plan` into its folder."""
    sweep = the_plan.sweep
    args = [sys.executable, str(ROOT / "run.py"), "compare", *the_plan.scenarios,
            "--seeds", str(len(the_plan.seeds)), "--scale", str(the_plan.scale),
            "--master-seed", str(the_plan.master_seed), "--out", str(the_plan.out_dir),
            "--workers", str(workers)]
    args += (["--posterior", str(the_plan.draws), "--seeds-per-draw",
              str(the_plan.seeds_per_draw)] if the_plan.draws else ["--no-posterior"])
    for flag, value in (("--start", sweep.start), ("--end", sweep.end)):
        if value:
            args += [flag, str(value)]
    return args


def runs_done(the_plan) -> int:
    return sum(f.is_file() for files in the_plan.run_files.values() for f in files)


def stop_child(child: subprocess.Popen) -> None:
    """End `child` and its process group (its Dask workers) as Ctrl-C in a terminal
    would (run.py compare keeps its finished runs and exits), repeated every 2 s (a
    Ctrl-C while its workers start is ignored); SIGTERM, then SIGKILL, if it has not
    ended in `STOP_GRACE_S` seconds. Anything left in its group is then killed."""
    def signal_group(sig) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(child.pid, sig)

    deadline = time.monotonic() + STOP_GRACE_S
    try:
        while child.poll() is None and time.monotonic() < deadline:
            signal_group(signal.SIGINT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.wait(timeout=2.0)
        for sig in (signal.SIGTERM, signal.SIGKILL):
            if child.poll() is not None:
                break
            signal_group(sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.wait(timeout=5.0)
    finally:
        signal_group(signal.SIGKILL)  # workers left behind, if any


def run_report(the_plan, cancelled: Callable[[], bool],
               report: Callable[[Progress], None] = lambda p: None,
               on_child: Callable[[subprocess.Popen], None] = lambda child: None
               ) -> "CompareResult | None":
    """Run `the_plan` with `run.py compare` once a server slot is free, reporting
    `Progress` about every `POLL_S` and the child to `on_child`; None if `cancelled()`
    became true (the child is stopped, its finished runs kept). Raises CompareError if the command failed."""
    started = time.perf_counter()
    total = sum(len(files) for files in the_plan.run_files.values())
    read = runs_done(the_plan)
    with _queue_lock:
        _waiting[0] += 1
    try:
        while not _slots.acquire(timeout=POLL_S):
            if cancelled():
                return None
            report(Progress("waiting", read, total, _waiting[0]))
    finally:
        with _queue_lock:
            _waiting[0] -= 1
    try:
        read = runs_done(the_plan)
        report(Progress("running", read, total))
        with tempfile.TemporaryFile("w+", encoding="utf-8") as log:
            child = subprocess.Popen(command(the_plan), cwd=ROOT, stdout=log, stderr=log,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
            on_child(child)
            try:
                while child.poll() is None:
                    if cancelled():
                        report(Progress("stopping", runs_done(the_plan), total))
                        stop_child(child)
                        return None
                    report(Progress("running", runs_done(the_plan), total))
                    time.sleep(POLL_S)
            finally:
                if child.poll() is None:  # an error here: leave nothing running
                    stop_child(child)
            if cancelled():
                return None
            if child.returncode != 0:
                log.seek(0)
                lines = [line.strip() for line in log if line.strip()]
                raise CompareError(f"run.py compare failed ({child.returncode}): "
                                   f"{lines[-1] if lines else 'no message'}")
    finally:
        _slots.release()
    long = load_runs(the_plan)
    summary = summarise(per_seed_outcomes(long, the_plan.costs), the_plan.labels)
    return CompareResult(the_plan.labels, the_plan.out_dir, read, total - read,
                         time.perf_counter() - started, readable_table(summary, WHOLE_RUN),
                         {c: plot_monthly(long, the_plan.labels, c) for c in PLOTTED},
                         posterior_note(the_plan))


progress = solara.reactive(None)  # this session's job's latest Progress


# by session: (stop, gone, [the run.py compare child, once started])
_open_jobs: dict[int, tuple[threading.Event, threading.Event, list]] = {}


def _session_key() -> int:
    try:
        from solara.server import kernel_context
        return id(kernel_context.get_current_context())
    except (ImportError, RuntimeError):
        return 0


def page_gone_watch(grace_s: float = PAGE_GONE_S) -> Callable[[], bool]:
    """For the current browser session: a check that is true once none of its pages has
    been connected for `grace_s` seconds. A closed tab usually says so (Solara's close
    beacon, then the session's close callback), but a page whose beacon never arrives
    (a killed browser, a lost network, some tab closes) only disconnects, and Solara
    keeps its session for `CULL_TIMEOUT` in case it reconnects: its comparison should
    not run on for that long. Outside a server (tests of the functions) never true."""
    try:
        from solara.server import kernel_context
        context = kernel_context.get_current_context()
    except (ImportError, RuntimeError):
        return lambda: False
    gone_since: list[float] = []

    def gone() -> bool:
        statuses = list(context.page_status.values())
        if context.closed_event.is_set() or (
                statuses and kernel_context.PageStatus.CONNECTED not in statuses):
            if not gone_since:
                gone_since.append(time.monotonic())
            return time.monotonic() - gone_since[0] >= grace_s
        gone_since.clear()  # reconnected
        return False
    return gone


@solara.lab.task(prefer_threaded=True)
def run_job(the_plan, stop: threading.Event, gone: threading.Event, children: list,
            page_gone: Callable[[], bool] = lambda: False) -> "CompareResult | None":
    """This session's comparison (one per session). It stops on its own Event (`stop`,
    set by Cancel or when the session closes) rather than on the task's state, which
    goes with a closed session, and when its pages have been gone a while (`page_gone`)."""
    progress.value = None

    def report(p: Progress) -> None:
        if not gone.is_set():
            progress.value = p

    def cancelled() -> bool:
        if not stop.is_set() and page_gone():
            gone.set()
            stop.set()
        return stop.is_set()
    return run_report(the_plan, cancelled=cancelled, report=report,
                      on_child=children.append)


def cancel() -> None:
    """The Cancel button: the job stops (its finished runs are kept)."""
    stop, _gone, _children = _open_jobs.get(_session_key(), (threading.Event(), None, None))
    stop.set()


def _session_started():
    key = _session_key()

    def closed():  # the tab went: stop its comparison, here (the job's own thread may be
        # held by the closing session)
        stop, gone, children = _open_jobs.pop(key, (None, None, []))
        if stop is not None:
            gone.set()
            stop.set()
        for child in children:
            if child.poll() is None:
                stop_child(child)
    return closed


solara.lab.on_kernel_start(_session_started)


def describe(p: "Progress | None", n_scenarios: int, seeds: int) -> str:
    if p is None:
        return f"Checking {n_scenarios} scenarios x {seeds} seeds..."
    if p.phase == "waiting":
        return (f"Waiting: the server runs {MAX_RUNNING} comparison at a time "
                f"({p.waiting} waiting); {p.done} of {p.total} runs already in the folder")
    if p.phase == "stopping":
        return f"Cancelling: {p.done} of {p.total} runs done (kept in the report folder)"
    return f"{p.done} of {p.total} runs done, on a local Dask cluster of {WORKERS} workers"


def Table(table: pd.DataFrame):
    """The whole-run table as one HTML table (every outcome, no pages), scrolling sideways
    when it is wider than the page."""
    frame = table.reset_index()
    with solara.Div(style={"overflow-x": "auto", "max-width": "100%"},
                    classes=["compare-table"]):
        html.table([str(c) for c in frame.columns], frame.values.tolist(),
                   right=set(range(1, len(frame.columns))))


@solara.component
def ComparePage():
    choices = scenario_choices()
    chosen = solara.use_reactive(["historical", "mpp_off"])
    seeds = solara.use_reactive(DEFAULT_SEEDS)
    drawn = solara.use_reactive(True)
    scale = solara.use_reactive(DEFAULT_SCALE)
    start, end = solara.use_reactive(""), solara.use_reactive("")
    refused = solara.use_reactive("")

    def launch():
        try:
            the_plan = plan(list(chosen.value), seeds.value, scale.value, start.value, end.value,
                            posterior=drawn.value)
        except (ScenarioError, ValueError) as exc:  # CompareError is a ScenarioError
            refused.set(str(exc))
            return
        refused.set("")
        stop, gone, children = threading.Event(), threading.Event(), []
        _open_jobs[_session_key()] = (stop, gone, children)
        run_job(the_plan, stop, gone, children, page_gone_watch())

    html.heading("Compare scenarios")
    html.paragraph("Every scenario runs on the same seeds (common random numbers); the first "
                   "is the baseline. Shown: its mean over the seeds with a 95 % t-interval, and "
                   "for each other scenario the mean paired difference from it, seed by seed, "
                   "with its 95 % t-interval. With posterior draws (on by default when the "
                   "scenarios name a calibration), seed i runs draw i // (seeds per draw) in "
                   "every scenario, the intervals are over the draws (the fitted parameters' "
                   "uncertainty and chance together), and each difference's variance is split "
                   "between draws (parameter) and seeds (chance). As run.py compare, whose "
                   "report folder it shares. "
                   f"The page runs at most {MAX_SEEDS} seeds and {MAX_WORK} units of work (one "
                   f"unit: a {REFERENCE_DAYS}-day run at scale {REFERENCE_SCALE}), one "
                   "comparison at a time on the server.")
    with solara.Row(gap="8px", style={"flex-wrap": "wrap", "align-items": "center"}):
        solara.SelectMultiple("Scenarios (first = baseline)", values=chosen.value,
                              all_values=choices, on_value=chosen.set,
                              classes=["compare-scenarios"])
        solara.InputInt("Seeds", value=seeds, dense=True, classes=["compare-seeds"])
        solara.Switch(label="Posterior draws", value=drawn, classes=["compare-posterior"])
        solara.Select("Scale", values=[10, 20, 50, 100], value=scale, dense=True)
        solara.InputText("Start (optional)", value=start, dense=True, placeholder="YYYY-MM-DD",
                         classes=["compare-start"])
        solara.InputText("End (optional)", value=end, dense=True, placeholder="YYYY-MM-DD",
                         classes=["compare-end"])
        solara.Button("Run comparison", on_click=launch, color="primary",
                      disabled=run_job.pending, classes=["compare-run"])
        if run_job.pending:
            solara.Button("Cancel", on_click=cancel, classes=["compare-cancel"],
                          disabled=progress.value is not None
                          and progress.value.phase == "stopping")
    if refused.value:
        solara.Error(f"Comparison refused: {refused.value}", classes=["compare-error"])
    elif run_job.pending:
        p = progress.value
        solara.Info(describe(p, len(chosen.value), seeds.value), classes=["compare-progress"])
        solara.ProgressLinear(100 * p.done / p.total if p and p.total else True)
    elif run_job.error:
        error = run_job.exception
        text = str(error) if isinstance(error, (ScenarioError, ValueError)) else repr(error)
        solara.Error(f"Comparison refused: {text}", classes=["compare-error"])
    elif run_job.finished and run_job.value is None:
        p = progress.value
        kept = f"{p.done} of {p.total} runs are" if p else "the finished runs are"
        solara.Warning(f"Cancelled: {kept} kept in the report folder; Run comparison reads "
                       "them and runs the rest.", classes=["compare-cancelled"])
    elif run_job.finished:
        result = run_job.value
        solara.Success(f"{' vs '.join(result.labels)}: {result.read} runs read from "
                       f"{result.out_dir}, {result.ran} run now, {result.seconds:.1f} s.",
                       classes=["compare-done"])
        if result.note:
            html.paragraph(result.note, classes=["compare-posterior-note"])
        html.paragraph(f"({WHOLE_RUN_NOTE})", bold="Whole run")
        Table(result.table)
        with solara.Row(style={"flex-wrap": "wrap"}):
            for column, png in result.pngs.items():
                with solara.Column(classes=[f"compare-plot-{column}"], style={"width": "560px"}):
                    solara.Image(png, format="png", width="560px")
