"""Running a sweep on Dask distributed: one task per run, one Parquet file per finished run.

`run_sweep(sweep, out_dir, workers=K | scheduler=ADDRESS)` submits every run not
already in `out_dir/runs/` to a Dask cluster (a `LocalCluster` of K single-threaded
worker processes on 127.0.0.1, or an existing cluster at ADDRESS: the same
submit/collect path). Each worker encodes its run's table as Parquet and sends
the bytes back (`execute`), and this side writes each run's file as it arrives
(the encoding is spread over the workers, and nothing is pickled twice). Files are written under a hidden temporary name and moved into place, so
a run's file is either whole or absent: re-running the same sweep skips the runs
whose file exists and redoes the rest. A run that raises is recorded in
`out_dir/errors/RUN_ID.txt` (its traceback) and in the manifest, and the sweep goes on.

Layout of `out_dir`:

    spec.toml          a copy of the spec
    manifest.json      spec hash, every run (id, scenario, values, seed, status), counts, versions
    runs/RUN_ID.parquet  one per finished run, long form (see `run_table`)
    errors/RUN_ID.txt  one per failed run
"""

import contextlib
import io
import json
import os
import platform
import signal
import sys
import threading
import traceback
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Callable

import pandas as pd

from experiments.spec import RunTask, SpecError, Sweep
from model import load_scenario, simulate
from model.simulate import code_version, package_version

IDENTITY_COLUMNS = ("run_id", "scenario")
SEED_COLUMNS = ("seed_index", "seed", "scale")
LONG_COLUMNS = ("kind", "period", "column", "value")


def run_table(task: RunTask) -> pd.DataFrame:
    """Run one task with `simulate` and return its results in long form.

    Columns: run_id, scenario, one column per varied key, seed_index, seed, scale,
    code (the model code's hash on the worker that ran it), kind ("monthly" or "fiscal_year"), period ("2019-10" or "FY2020"),
    column (the output's name, e.g. "encounters") and value (float).
    """
    loaded = load_scenario(task.scenario_path, list(task.overrides),
                           start=task.start, end=task.end)
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
    front = {"run_id": task.run_id, "scenario": task.scenario, **task.values,
             "seed_index": task.seed_index, "seed": task.seed, "scale": task.scale,
             "code": code_version()}
    for i, (name, value) in enumerate(front.items()):
        long.insert(i, name, value)
    for name in ("seed_index", "seed", "scale"):
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
        buffer = io.BytesIO()
        table.to_parquet(buffer, index=False, engine="pyarrow")
        return Finished(codes, buffer.getvalue())
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
              progress: bool = True, connect_timeout: float = 30) -> SweepReport:
    """Run every run of `sweep` not already in `out_dir/runs/`; see the module doc.

    workers: worker processes for a LocalCluster (default: os.cpu_count()).
    scheduler: the address of a running Dask scheduler (tcp://host:port) instead.
    processes: False runs the LocalCluster's workers as threads in this process
        (for a `run` function that cannot be pickled, e.g. in tests).
    run: the function each task calls (default `run_table`).
    connect_timeout: seconds to wait for the scheduler at `scheduler`.
    Ctrl-C cancels the pending runs, keeps every finished one, closes the cluster
    and returns with `interrupted` set.
    """
    out_dir = Path(out_dir)
    prepare_out_dir(sweep, out_dir)
    runs_dir, errors_dir = out_dir / "runs", out_dir / "errors"
    report = SweepReport(out_dir, total=len(sweep.runs))
    todo = []
    for task in sweep.runs:
        if (runs_dir / f"{task.run_id}.parquet").is_file():
            report.skipped.append(task.run_id)
        else:
            todo.append(task)
    write_manifest(sweep, out_dir, report)
    if not todo:
        return report

    from tqdm import tqdm

    client, cluster = open_client(workers, scheduler, processes, connect_timeout)
    bar = tqdm(total=len(todo), file=sys.stderr, unit="run", desc=sweep.stem,
               disable=not progress, dynamic_ncols=True)
    bar.set_postfix(failed=0)
    futures = []
    with ctrl_c_deferred() as pressed:
        try:
            futures = [client.submit(execute, run, task, key=f"run-{task.run_id}", pure=False)
                       for task in todo]
            by_key = {f.key: task for f, task in zip(futures, todo)}
            for future in _as_they_finish(futures, pressed):
                _keep(future, by_key[future.key], runs_dir, errors_dir, report, bar)
        except KeyboardInterrupt:
            report.interrupted = True
            client.cancel([f for f in futures if not f.done()])
            # Ctrl-C may land between a file's rename and its bookkeeping, or mid-write
            for task in todo:
                if (runs_dir / f"{task.run_id}.parquet").is_file() \
                        and task.run_id not in report.finished:
                    report.finished.append(task.run_id)
            for tmp in [*runs_dir.glob(f".tmp-{os.getpid()}-*"),
                        *errors_dir.glob(f".tmp-{os.getpid()}-*")]:
                tmp.unlink(missing_ok=True)
        finally:
            bar.close()
            close_client(client, cluster)
            write_manifest(sweep, out_dir, report)
    return report


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
                processes: bool = True, connect_timeout: float = 30):
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


def prepare_out_dir(sweep: Sweep, out_dir: Path) -> None:
    """Create out_dir (and runs/, errors/) and copy the spec in; refuse a folder
    holding another sweep (a different spec) or runs of different model code."""
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
    try:
        (out_dir / "runs").mkdir(parents=True, exist_ok=True)
        (out_dir / "errors").mkdir(exist_ok=True)
        write_atomically(spec_copy, sweep.text.encode())
    except OSError as exc:
        raise SpecError(f"--out {out_dir}: cannot write there: {exc.strerror or exc}") from None


def write_atomically(path: Path, data: bytes) -> None:
    """Write to a hidden temporary file in the same folder, then rename it into place."""
    tmp = path.with_name(f".tmp-{os.getpid()}-{path.name}")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def write_parquet(table: pd.DataFrame, path: Path) -> None:
    """A run's table as Parquet, atomically (the temporary name starts with a dot,
    which `pandas.read_parquet(folder)` ignores)."""
    tmp = path.with_name(f".tmp-{os.getpid()}-{path.name}")
    table.to_parquet(tmp, index=False, engine="pyarrow")
    os.replace(tmp, path)


def write_manifest(sweep: Sweep, out_dir: Path, report: SweepReport) -> None:
    """manifest.json: the spec's hash, every run with its values, seed and status, counts."""
    status = {**{r: "finished" for r in report.finished}, **{r: "skipped" for r in report.skipped},
              **{r: "failed" for r in report.failed}}
    runs = []
    for task in sweep.runs:
        entry = {k: v for k, v in asdict(task).items() if k not in ("scenario_path", "overrides")}
        entry["status"] = status.get(task.run_id, "pending")
        if entry["status"] == "failed":
            entry["error"] = f"errors/{task.run_id}.txt"
        runs.append(entry)
    manifest = {
        "spec": sweep.path.name, "spec_sha256": sweep.spec_hash(),
        "description": sweep.description, "design": sweep.design,
        "scenarios": sweep.scenarios, "vary": sweep.vary_keys, "master_seed": sweep.master_seed,
        "seeds": sweep.seeds, "scale": sweep.scale, "start": sweep.start, "end": sweep.end,
        "counts": {"runs": report.total, "finished": len(report.finished),
                   "skipped": len(report.skipped), "failed": len(report.failed),
                   "pending": report.total - len(status)},
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
