"""Running a sweep on Dask distributed: one task per run, one Parquet file per finished run.

`run_sweep(sweep, out_dir, workers=K | scheduler=ADDRESS)` submits every run not
already in `out_dir/runs/` to a Dask cluster (a `LocalCluster` of K single-threaded
worker processes on 127.0.0.1, or an existing cluster at ADDRESS: the same
submit/collect path). Each worker encodes its run's table as Parquet and sends
the bytes back (`execute`), and this side writes each run's file as it arrives
(the encoding is spread over the workers, and nothing is pickled twice).

Sturdiness:
- one sweep at a time per folder: `sweep_lock` holds an OS lock on the folder
  for the sweep's life (`model.files.folder_lock`; released by the OS if the
  process dies); a second sweep, fit or validation there stops with `SweepBusy`
  naming the holder's pid;
- files are written by `model.files.write_atomically`: a hidden temporary name that does not
  end in `.parquet` (`.NAME.PID.tmp`), removed on any failure, then renamed into
  place, so a run's file is whole or absent; stale temporary files of a killed
  sweep are removed at the next start (`remove_stale_temporaries`);
- re-running the same sweep skips a run whose file exists only after checking it
  (`check_run_file`: its Parquet footer, rows, columns, run id and model code);
  a damaged file is removed and its run redone (`SweepReport.damaged`);
- the manifest is rewritten as runs finish (`_Manifest`), so after a SIGKILL it
  still lists the runs finished;
- a file that cannot be written (a full disk, a read-only or forbidden folder)
  ends the sweep with `SweepWriteError`: one line naming the file and the OS's
  reason; every finished run is kept.
A run that raises is recorded in `out_dir/errors/RUN_ID.txt` (its traceback) and
in the manifest, and the sweep goes on.

Layout of `out_dir`:

    spec.toml          a copy of the spec
    manifest.json      spec hash, every run (id, scenario, values, seed, status), counts, versions
    runs/RUN_ID.parquet  one per finished run, long form (see `run_table`)
    results.parquet    every run in one typed table with its status, rewritten at the end
                       of each sweep, however it ended (see `experiments.results`)
    errors/RUN_ID.txt  one per failed run
    .lock              while a sweep runs: its pid
"""

import contextlib
import json
import os
import platform
import signal
import sys
import threading
import time
import traceback
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Callable

import pandas as pd

from experiments.results import write_results
from experiments.spec import RunTask, SpecError, Sweep
from model import load_scenario, simulate
from model.files import FolderBusy, FolderError, folder_lock, parquet_bytes, write_atomically
from model.simulate import code_version, package_version

IDENTITY_COLUMNS = ("run_id", "scenario")
SEED_COLUMNS = ("seed_index", "seed", "scale")
LONG_COLUMNS = ("kind", "period", "column", "value")
# seconds to wait for a --scheduler to answer (distributed's Client timeout; its default
# is 30 s). A scheduler answers in milliseconds; a wrong or dead address is refused soon.
SCHEDULER_TIMEOUT = 5


class SweepBusy(SpecError):
    """Another sweep holds the folder's lock (one line naming the folder and its pid)."""


class SweepWriteError(SpecError):
    """A sweep's file could not be written (one line: the file, the OS's reason, and
    how many finished runs are kept)."""


def run_table(task: RunTask) -> pd.DataFrame:
    """Run one task with `simulate` and return its results in long form.

    Columns: run_id, scenario, one column per varied key, seed_index, seed, scale,
    code (the model code's hash on the worker that ran it), kind ("monthly" or "fiscal_year"), period ("2019-10" or "FY2020"),
    column (the output's name, e.g. "encounters") and value (float).
    """
    loaded = load_scenario(task.scenario_path, list(task.overrides),
                           start=task.start, end=task.end, draw=task.draw)
    result = simulate(loaded, seed=task.seed, scale=task.scale)
    monthly = result.monthly.set_index("month")
    years = result.fiscal_years().drop(columns=["first", "last"])
    years.index = "FY" + years.index.astype(str)
    parts = []
    for kind, table in (("monthly", monthly), ("fiscal_year", years)):
        long = table.astype("float64").stack().reset_index()
        long.columns = ["period", "column", "value"]
        long.insert(0, "kind", kind)
        parts.append(long)
    long = pd.concat(parts, ignore_index=True)
    drawn = {} if task.draw is None else {"draw": task.draw}
    front = {"run_id": task.run_id, "scenario": task.scenario, **task.values,
             "seed_index": task.seed_index, "seed": task.seed, "scale": task.scale,
             **drawn, "code": code_version()}
    for i, (name, value) in enumerate(front.items()):
        long.insert(i, name, value)
    for name in ("seed_index", "seed", "scale", *drawn):
        long[name] = long[name].astype("int64")
    return long


@dataclass
class Failure:
    """What a worker sends back instead of a table when a run raises."""

    traceback: str


@dataclass
class Finished:
    """What a worker sends back for a finished run: the model code(s) its table says
    made it, and the table as Parquet bytes, ready to be written."""

    codes: list
    parquet: bytes


def execute(run: Callable[[RunTask], pd.DataFrame], task: RunTask) -> "Finished | Failure":
    """The Dask task: `run(task)`, encoded as Parquet on the worker, with an exception
    turned into a Failure holding the worker's traceback (so one bad run never
    stops the sweep)."""
    try:
        table = run(task)
        codes = sorted(set(table["code"]), key=str) if "code" in table else [None]
        return Finished(codes, parquet_bytes(table))
    except Exception:
        return Failure(traceback.format_exc())


def check_code(outcome: Finished) -> "Finished | Failure":
    """A run made by other model code than this side's (a cluster worker with another
    version installed) is a failure, not a result to mix in."""
    if outcome.codes != [code_version()]:
        return Failure(f"the worker ran model code {', '.join(map(str, outcome.codes))}"
                       f", this sweep's is {code_version()}: install the same version of "
                       f"the project on every worker\n")
    return outcome


@dataclass
class SweepReport:
    """How a sweep went: run ids by outcome, and where things are."""

    out_dir: Path
    total: int
    finished: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    interrupted: bool = False
    # run id -> why its existing file was refused (removed, and the run redone)
    damaged: dict[str, str] = field(default_factory=dict)
    results: "Path | None" = None  # results.parquet, once written (experiments.results)

    def status(self) -> dict[str, str]:
        """Run id -> "finished" (now or before), "failed"; a run in neither is pending."""
        return {**{r: "finished" for r in (*self.skipped, *self.finished)},
                **{r: "failed" for r in self.failed}}

    @property
    def errors_dir(self) -> Path:
        return self.out_dir / "errors"


def default_out_dir(sweep: Sweep) -> Path:
    return Path("runs") / f"sweep-{sweep.stem}"


def _local_worker_config() -> dict:
    """Dask settings for the LocalCluster's workers, which run one simulation at a time
    and hold no data (each result goes back at once):

    - no statistical profiler (a thread sampling every 10 ms cost each run ~10 %);
    - no MALLOC_TRIM_THRESHOLD_=65536 from the nanny (it returns freed memory at once:
      ~1,100-1,500 page faults a run at scale 100 instead of ~0, ~3-5 % CPU);
    - the worker's housekeeping slowed (memory monitor 100 ms -> 2 s, system monitor
      500 ms -> 5 s) and no spilling or pausing for data the workers do not keep: each
      wake-up takes the GIL from the simulation between its compiled kernels; a run at
      scale 100 took 0.55-0.61 s on a worker with these against 0.67-0.71 s without
      (0.50 s in a plain loop). The nanny still ends a worker past 95 % of memory.
    The event loop's tick (20 ms -> 1 s) is slowed in the worker processes only, by
    `_WORKER_PROCESS_CONFIG`: set here, it would also reach the scheduler in this
    process, and a Ctrl-C during a calibration then left the client waiting on the
    event loop, 1 time in 3."""
    import dask

    environ = dict(dask.config.get("distributed.nanny.pre-spawn-environ", {}))
    environ.pop("MALLOC_TRIM_THRESHOLD_", None)
    return {"distributed.worker.profile.enabled": False,
            "distributed.nanny.pre-spawn-environ": environ,
            "distributed.worker.memory.monitor-interval": "2s",
            "distributed.admin.system-monitor.interval": "5s",
            "distributed.worker.memory.target": False,
            "distributed.worker.memory.spill": False,
            "distributed.worker.memory.pause": False}


# Given to each worker process through its nanny (which applies it with dask.config.set
# before the worker starts). A dotted key, because the nanny merges this into its whole
# config one level deep: a nested {"distributed": ...} would replace that subtree.
_WORKER_PROCESS_CONFIG = {"distributed.admin.tick.interval": "1s"}


def run_sweep(sweep: Sweep, out_dir: Path, *, workers: int | None = None,
              scheduler: str | None = None, processes: bool = True,
              run: Callable[[RunTask], pd.DataFrame] = run_table,
              progress: bool = True,
              connect_timeout: float = SCHEDULER_TIMEOUT) -> SweepReport:
    """Run every run of `sweep` not already in `out_dir/runs/`; see the module doc.

    workers: worker processes for a LocalCluster (default: os.cpu_count()).
    scheduler: the address of a running Dask scheduler (tcp://host:port) instead.
    processes: False runs the LocalCluster's workers as threads in this process
        (for a `run` function that cannot be pickled, e.g. in tests).
    run: the function each task calls (default `run_table`).
    connect_timeout: seconds to wait for the scheduler at `scheduler`.
    Ctrl-C cancels the pending runs, keeps every finished one, closes the cluster
    and returns with `interrupted` set. Raises SweepBusy if another sweep holds
    `out_dir`, SweepWriteError if a file cannot be written (finished runs kept).
    """
    out_dir = Path(out_dir)
    report = SweepReport(out_dir, total=len(sweep.runs))
    with sweep_lock(out_dir):
        prepare_out_dir(sweep, out_dir)
        try:
            _run_locked(sweep, out_dir, report, workers=workers, scheduler=scheduler,
                        processes=processes, run=run, progress=progress,
                        connect_timeout=connect_timeout)
            # however it ended (all done, failures, Ctrl-C): one typed table of what is done
            report.results = write_results(sweep, out_dir, report.status())
        except OSError as exc:
            done = len(report.finished) + len(report.skipped)
            raise SweepWriteError(
                f"{exc.filename or out_dir}: cannot write: {exc.strerror or exc}; {done} of "
                f"{report.total} runs done and kept in {out_dir / 'runs'}; run the same "
                f"command again once it can be written") from None
    return report


def _run_locked(sweep: Sweep, out_dir: Path, report: SweepReport, *, workers, scheduler,
                processes, run, progress, connect_timeout) -> None:
    """`run_sweep` inside the folder's lock: check the existing files, run the rest,
    keep the manifest up to date. An OSError from writing goes up (after the cluster
    is closed and the manifest written, if it can be)."""
    runs_dir, errors_dir = out_dir / "runs", out_dir / "errors"
    remove_stale_temporaries(out_dir)
    columns = run_columns(sweep)
    todo = []
    for task in sweep.runs:
        path = runs_dir / f"{task.run_id}.parquet"
        if not path.exists():
            todo.append(task)
            continue
        why = check_run_file(path, task.run_id, columns, code_version())
        if why is None:
            report.skipped.append(task.run_id)
        else:  # made again below (the same seed makes the same bytes)
            path.unlink()
            report.damaged[task.run_id] = why
            todo.append(task)
    manifest = _Manifest(sweep, out_dir, report)
    manifest.write()
    if not todo:
        return

    from tqdm import tqdm

    client, cluster = open_client(workers, scheduler, processes, connect_timeout)
    if progress:
        print(dashboard_line(client), file=sys.stderr, flush=True)
    bar = tqdm(total=len(todo), file=sys.stderr, unit="run", desc=sweep.stem,
               disable=not progress, dynamic_ncols=True)
    bar.set_postfix(failed=0)
    futures = []
    write_failed = False
    with ctrl_c_deferred() as pressed:
        try:
            futures = [client.submit(execute, run, task, key=f"run-{task.run_id}", pure=False)
                       for task in todo]
            by_key = {f.key: task for f, task in zip(futures, todo)}
            for future in _as_they_finish(futures, pressed):
                _keep(future, by_key[future.key], runs_dir, errors_dir, report, bar)
                manifest.write(when_due=True)
        except KeyboardInterrupt:
            report.interrupted = True
            client.cancel([f for f in futures if not f.done()])
            # Ctrl-C may land between a file's rename and its bookkeeping
            for task in todo:
                if (runs_dir / f"{task.run_id}.parquet").is_file() \
                        and task.run_id not in report.finished:
                    report.finished.append(task.run_id)
        except OSError:
            write_failed = True
            raise
        finally:
            bar.close()
            close_client(client, cluster)
            try:
                manifest.write()
            except OSError:
                if not write_failed:  # else: the first failure is the one to name
                    raise


class _Manifest:
    """manifest.json, rewritten as runs finish: `write(when_due=True)` writes at once
    while writing is cheap, and otherwise once 20 times the last write's duration has
    passed (a 100,000-run manifest then costs the sweep at most ~5 %); `write()`
    writes now. After a SIGKILL the manifest lists the runs finished up to its last
    write (with a small manifest: every run but the last one or two at most)."""

    def __init__(self, sweep: Sweep, out_dir: Path, report: SweepReport):
        self.sweep, self.out_dir, self.report = sweep, out_dir, report
        self.entries = [manifest_entry(task) for task in sweep.runs]
        self.due = 0.0

    def write(self, when_due: bool = False) -> None:
        began = time.monotonic()
        if when_due and began < self.due:
            return
        write_manifest(self.sweep, self.out_dir, self.report, self.entries)
        self.due = time.monotonic() + 20 * (time.monotonic() - began)


def _as_they_finish(futures: list, pressed: threading.Event):
    """The futures as they finish; KeyboardInterrupt as soon as Ctrl-C was `pressed`
    (checked between futures, and every 50 ms while none is ready)."""
    from distributed import as_completed

    pending = as_completed(futures)
    while not pending.is_empty():
        for future in pending.next_batch(block=False):
            if pressed.is_set():
                raise KeyboardInterrupt
            yield future
        if pressed.wait(0.05):
            raise KeyboardInterrupt


def _keep(future, task: RunTask, runs_dir: Path, errors_dir: Path, report: "SweepReport",
          bar) -> None:
    """A finished run's file (or its traceback), and its line in the report."""
    try:
        outcome = future.result()
    except Exception as exc:  # the worker died, or the task could not be sent
        outcome = Failure("".join(traceback.format_exception(exc)))
    future.release()
    if not isinstance(outcome, Failure):
        outcome = check_code(outcome)
    if isinstance(outcome, Failure):
        write_atomically(errors_dir / f"{task.run_id}.txt", outcome.traceback.encode())
        report.failed.append(task.run_id)
        bar.set_postfix(failed=len(report.failed))
    else:
        write_atomically(runs_dir / f"{task.run_id}.parquet", outcome.parquet)
        (errors_dir / f"{task.run_id}.txt").unlink(missing_ok=True)
        report.finished.append(task.run_id)
    bar.update(1)


def open_client(workers: int | None = None, scheduler: str | None = None,
                processes: bool = True, connect_timeout: float = SCHEDULER_TIMEOUT):
    """(client, cluster) for many runs: a LocalCluster of `workers` single-threaded
    processes on 127.0.0.1 (default one per CPU; `processes=False`: threads in this
    process), whose workers ignore Ctrl-C and run with `_local_worker_config`; or a
    client of the running cluster at `scheduler` (cluster None). An address nobody
    answers at raises SpecError naming --scheduler. Close with `close_client`."""
    import dask
    from distributed import Client, LocalCluster

    if scheduler is None:
        # threads: in-process comms, and no nanny to carry a worker-only config
        where = ({"host": "127.0.0.1", "config": _WORKER_PROCESS_CONFIG} if processes
                 else {})
        # the scheduler's HTTP server takes a free port (":0"), so a second cluster on the
        # machine does not warn that 8787 is taken
        with sigint_ignored(), dask.config.set(_local_worker_config()):
            cluster = LocalCluster(n_workers=workers or os.cpu_count() or 1,
                                   threads_per_worker=1, processes=processes,
                                   dashboard_address=":0", silence_logs=50, **where)
        return Client(cluster), cluster
    try:
        return Client(scheduler, timeout=connect_timeout), None
    except (OSError, TimeoutError, ValueError) as exc:
        raise SpecError(f"--scheduler {scheduler}: cannot connect: "
                        f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
                        ) from None


def dashboard_line(client) -> str:
    """One line saying where the cluster's Dask dashboard is (what a run.py verb prints
    once its cluster is up). Without bokeh >= 3.1 here, a LocalCluster's dashboard
    page only says it needs bokeh: the line then says how to install it."""
    try:
        link = client.dashboard_link
    except KeyError:  # a scheduler started without one (`dask scheduler --no-dashboard`)
        link = None
    if not link:
        return "Dask dashboard: none (the scheduler serves no dashboard)"
    if client.cluster is not None and not _has_bokeh():
        return (f"Dask dashboard: needs bokeh>=3.1 (pip install -e '.[dashboard]'); "
                f"it would be at {link}")
    return f"Dask dashboard: {link}"


def _has_bokeh() -> bool:
    """bokeh >= 3.1 installed here (what distributed's dashboard needs)."""
    try:
        major, minor = (int(p) for p in metadata.version("bokeh").split(".")[:2])
    except (metadata.PackageNotFoundError, ValueError):
        return False
    return (major, minor) >= (3, 1)


def close_client(client, cluster) -> None:
    client.close()
    if cluster is not None:
        cluster.close()


@contextlib.contextmanager
def sigint_handled_by(handler):
    """SIGINT goes to `handler` inside the block (the main thread only: signals are
    delivered there), and to the previous handler again after it."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def sigint_ignored():
    """Ignore SIGINT while worker processes are started, so they inherit `ignore`:
    Ctrl-C in a terminal reaches the whole process group, and the workers would
    otherwise each print a KeyboardInterrupt traceback; this process cancels their
    work and closes them instead."""
    return sigint_handled_by(signal.SIG_IGN)


@contextlib.contextmanager
def ctrl_c_deferred():
    """Ctrl-C sets the Event this yields instead of raising wherever the main thread
    happens to be: raised inside Dask's own waiting, a KeyboardInterrupt was now and
    then swallowed there and the sweep ran on to the end (1 run of the Ctrl-C test in
    a loaded suite). The sweep raises it itself, between runs (`_as_they_finish`).
    Off the main thread (no signals there) the Event is never set."""
    pressed = threading.Event()
    with sigint_handled_by(lambda signum, frame: pressed.set()):
        yield pressed


INPUTS_FILE = "inputs.json"  # per scenario, the sha256 of what its runs are made from


def prepare_out_dir(sweep: Sweep, out_dir: Path) -> None:
    """Create out_dir (and runs/, errors/), copy the spec in and write inputs.json
    (`Sweep.inputs`); refuse a folder holding another sweep (a different spec), runs of
    different model code, or runs made from other scenario inputs (a scenario file or
    the committed fit changed since: its runs would not be this sweep's) or from inputs
    it cannot tell (inputs.json damaged, or missing beside a manifest)."""
    spec_copy = out_dir / "spec.toml"
    if spec_copy.is_file() and spec_copy.read_text(encoding="utf-8") != sweep.text:
        raise SpecError(f"{out_dir}: holds another sweep's results (its spec.toml differs "
                        f"from {sweep.path}); use another --out")
    manifest = out_dir / "manifest.json"
    if manifest.is_file():
        try:
            code = json.loads(manifest.read_text(encoding="utf-8"))["versions"]["code"]
        except (ValueError, KeyError, TypeError):
            code = None
        if code != code_version():
            raise SpecError(f"{out_dir}: holds results of other model code ({code}, now "
                            f"{code_version()}); use another --out")
    inputs_file = out_dir / INPUTS_FILE
    if manifest.is_file() and not inputs_file.is_file():  # a sweep of an earlier version
        raise SpecError(f"{out_dir}: holds runs but no {INPUTS_FILE}: what they were made "
                        f"from (which scenario files, which fit) is unknown; use another --out")
    if inputs_file.is_file():
        try:
            made_from = json.loads(inputs_file.read_text(encoding="utf-8"))
            known = {name: made_from[name]["sha256"] for name in sweep.inputs}
        except (ValueError, KeyError, TypeError):
            raise SpecError(f"{inputs_file}: not what a sweep wrote (unreadable, or without "
                            f"every scenario's sha256): what its runs were made from is "
                            f"unknown; use another --out") from None
        changed = [name for name, now in sweep.inputs.items() if known[name] != now["sha256"]]
        if changed:
            files = sorted({str(Path(f).resolve()) for name in changed
                            for f in sweep.inputs[name]["files"]})
            raise SpecError(f"{out_dir}: its runs were made from other scenario inputs: "
                            f"{', '.join(changed)} changed since (read from "
                            f"{', '.join(files)}); use another --out")
    try:
        (out_dir / "runs").mkdir(parents=True, exist_ok=True)
        (out_dir / "errors").mkdir(exist_ok=True)
        write_atomically(spec_copy, sweep.text.encode())
        write_atomically(inputs_file, (json.dumps(sweep.inputs, indent=1) + "\n").encode())
    except OSError as exc:
        raise SpecError(f"--out {out_dir}: cannot write there: {exc.strerror or exc}") from None


def remove_stale_temporaries(out_dir: Path) -> list[Path]:
    """Remove the temporary files a killed sweep left in `out_dir`, `runs/` and
    `errors/` (`write_atomically`'s `.NAME.PID.tmp`, and the `.tmp-PID-NAME` of
    earlier versions); only called while holding the folder's lock, so none is
    being written. Returns those removed."""
    removed = []
    for folder in (out_dir, out_dir / "runs", out_dir / "errors"):
        if folder.is_dir():
            for tmp in [*folder.glob(".*.tmp"), *folder.glob(".tmp-*")]:
                if tmp.is_file():
                    tmp.unlink(missing_ok=True)
                    removed.append(tmp)
    return removed


@contextlib.contextmanager
def sweep_lock(out_dir: Path):
    """Hold the folder `out_dir` (created if needed) for one sweep inside the block
    (`model.files.folder_lock`: released by the OS however the process ends). Raises
    SweepBusy if another process holds it, SpecError if `out_dir` cannot be made."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise SpecError(f"--out {out_dir}: is a file, not a folder")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SpecError(f"--out {out_dir}: cannot write there: {exc.strerror or exc}") from None
    with contextlib.ExitStack() as held:
        try:
            held.enter_context(folder_lock(out_dir, "sweep"))
        except FolderBusy as exc:
            raise SweepBusy(str(exc)) from None
        except FolderError as exc:
            raise SpecError(str(exc)) from None
        yield


def run_columns(sweep: Sweep) -> list[str]:
    """The columns of a run's file, in order (see `run_table`)."""
    drawn = ["draw"] if sweep.posterior else []
    return [*IDENTITY_COLUMNS, *sweep.vary_keys, *SEED_COLUMNS, *drawn, "code", *LONG_COLUMNS]


def check_run_file(path: Path, run_id: str, columns: "list[str] | None" = None,
                   code: "str | None" = None) -> "str | None":
    """Why the finished run file `path` cannot be used, or None if it can. Reads only
    the file's Parquet footer (`pyarrow.parquet.read_metadata`, well under a
    millisecond): a file cut short, empty or overwritten has none. Then: at least one
    row, the run's `columns` if given, and its `run_id` (and model `code` if given)
    from the row groups' statistics (the column itself when a writer kept none).
    A page damaged in the middle of a whole file is not found here (that needs a
    full read)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        meta = pq.read_metadata(path)
    except FileNotFoundError:
        return "missing"
    except (OSError, pa.ArrowException) as exc:
        return f"not a whole Parquet file: {str(exc).splitlines()[0] if str(exc) else exc!r}"
    if meta.num_rows == 0:
        return "holds no rows"
    names = list(meta.schema.names)
    if columns is not None and names != list(columns):
        return f"its columns are not this sweep's ({', '.join(names)})"
    for name, wanted in (("run_id", run_id), ("code", code)):
        if wanted is None:
            continue
        if name not in names:
            return f"has no {name} column"
        found = _only_value(path, meta, names.index(name))
        if found != wanted:
            what = "run" if name == "run_id" else "model code"
            return f"holds {what} {found}, not {wanted}"
    return None


def _only_value(path: Path, meta, column: int):
    """The single value of string column `column` from the row groups' statistics
    (or, without them, by reading that column); a list of values if several."""
    values = set()
    for i in range(meta.num_row_groups):
        stats = meta.row_group(i).column(column).statistics
        if stats is None or not stats.has_min_max:
            import pyarrow.parquet as pq

            try:
                values = set(pq.read_table(path, columns=[meta.schema.names[column]])
                             .column(0).to_pylist())
            except Exception as exc:  # a damaged page: the caller reports what it finds
                return f"(unreadable: {type(exc).__name__})"
            break
        values |= {stats.min, stats.max}
    return next(iter(values)) if len(values) == 1 else sorted(map(str, values))


def manifest_entry(task: RunTask) -> dict:
    """A run's fixed part of the manifest: its identity, values and seed (and posterior
    draw, for a sweep of draws)."""
    return {k: v for k, v in asdict(task).items()
            if k not in ("scenario_path", "overrides") and not (k == "draw" and v is None)}


def write_manifest(sweep: Sweep, out_dir: Path, report: SweepReport,
                   entries: "list[dict] | None" = None) -> None:
    """manifest.json: the spec's hash, every run with its values, seed and status,
    counts. `entries`: each run's fixed part, made once (`_Manifest`)."""
    status = {**{r: "finished" for r in report.finished}, **{r: "skipped" for r in report.skipped},
              **{r: "failed" for r in report.failed}}
    if entries is None:
        entries = [manifest_entry(task) for task in sweep.runs]
    runs = []
    for entry in entries:
        entry = {**entry, "status": status.get(entry["run_id"], "pending")}
        if entry["status"] == "failed":
            entry["error"] = f"errors/{entry['run_id']}.txt"
        if entry["run_id"] in report.damaged:
            entry["damaged_file_redone"] = report.damaged[entry["run_id"]]
        runs.append(entry)
    manifest = {
        "spec": sweep.path.name, "spec_sha256": sweep.spec_hash(),
        "description": sweep.description, "design": sweep.design,
        "scenarios": sweep.scenarios, "vary": sweep.vary_keys,
        **({"levers": sweep.lever_keys, "uncertainties": sweep.uncertainty_keys}
           if sweep.lever_keys or sweep.uncertainty_keys else {}),
        "master_seed": sweep.master_seed,
        "seeds": sweep.seeds, "scale": sweep.scale, "start": sweep.start, "end": sweep.end,
        **({"posterior": {"draws": sweep.posterior, "files": sweep.posterior_files}}
           if sweep.posterior else {}),
        "counts": {"runs": report.total, "finished": len(report.finished),
                   "skipped": len(report.skipped), "failed": len(report.failed),
                   "pending": report.total - len(status), "damaged": len(report.damaged)},
        "interrupted": report.interrupted,
        "written_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "versions": {"package": package_version(), "code": code_version(),
                     "python": platform.python_version(),
                     **{name: _version(name) for name in ("dask", "distributed", "numpy",
                                                          "pandas", "pyarrow", "scipy")}},
        "runs": runs,
    }
    write_atomically(out_dir / "manifest.json",
                     (json.dumps(manifest, indent=1, default=str) + "\n").encode())


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def read_manifest(out_dir: Path) -> dict:
    """A sweep folder's manifest.json; SpecError (one line) if there is none or it is
    not a sweep's manifest."""
    out_dir = Path(out_dir)
    if not out_dir.exists():
        raise SpecError(f"{out_dir}: no such folder")
    if not out_dir.is_dir():
        raise SpecError(f"{out_dir}: is a file, not a sweep folder")
    path = out_dir / "manifest.json"
    if not path.is_file():
        raise SpecError(f"{out_dir}: holds no sweep (no manifest.json); give the folder "
                        f"`run.py sweep` wrote")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(manifest["runs"], list) or not isinstance(manifest["vary"], list):
            raise TypeError
    except (OSError, ValueError, KeyError, TypeError):
        raise SpecError(f"{path}: not a sweep manifest (unreadable, or without its runs "
                        f"and vary lists)") from None
    return manifest


def read_fiscal_years(out_dir: Path, run_ids: list[str]) -> pd.DataFrame:
    """The fiscal-year totals of the finished runs `run_ids` of the sweep in `out_dir`:
    long, columns run_id, period ("FY2020"), column, value. The one place exploration
    (`experiments.discover`) reads a sweep's results: from the per-run files
    `runs/RUN_ID.parquet`, each checked first (`check_run_file`: a damaged one raises
    SpecError naming it and how to redo it)."""
    runs_dir = Path(out_dir) / "runs"
    parts = []
    for run in run_ids:
        path = runs_dir / f"{run}.parquet"
        why = check_run_file(path, run)
        if why is not None:
            raise SpecError(f"{path}: {why}; run the sweep that made it again (same spec, "
                            f"--out {out_dir}) to redo it")
        part = pd.read_parquet(path, columns=["run_id", "kind", "period", "column", "value"],
                               filters=[("kind", "==", "fiscal_year")])
        parts.append(part.drop(columns="kind"))
    if not parts:
        return pd.DataFrame(columns=["run_id", "period", "column", "value"])
    return pd.concat(parts, ignore_index=True)
