"""Writing a run's files: monthly.csv, daily.parquet, flights.csv, run.json (and
pages made from them that the caller passes in, such as run.py's report.html).

`claimed_out_dir` checks the --out folder before the run: it must be new,
empty, or hold this same run's output, and be writable; if the run then fails
or is interrupted, the folders it created are removed again. Files are written
into a hidden scratch folder (`.partial-*`) inside the target and moved in only
when all are complete, run.json last, so a folder with run.json holds a whole
run. A folder holding a *different* run's output is never overwritten.
"""

import json
import shutil
from contextlib import contextmanager
from pathlib import Path

from model.files import (SCRATCH_PREFIX, FolderError, create_folder, missing_folders,
                         probe_writable, reason, remove_if_empty, scratch_folder)

OUTPUT_FILES = ("monthly.csv", "daily.parquet", "flights.csv", "run.json")


class OutputError(FolderError):
    """The --out folder cannot take this run's output."""


def check_out_dir(out_dir: Path, identity: dict) -> None:
    """Refuse a folder that is not new, empty, or this same run's earlier output.

    Scratch folders a killed run left behind do not count; once the folder is
    accepted they are removed.
    """
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputError(f"--out {out_dir}: exists and is not a folder")
    if not out_dir.exists():
        return
    try:
        stale = stale_scratch(out_dir)
        if any(path not in stale for path in out_dir.iterdir()):
            _check_holds_same_run(out_dir, identity)
    except OSError as exc:
        raise OutputError(f"--out {out_dir}: cannot read the folder: {reason(exc)}") from None
    for path in stale:
        shutil.rmtree(path, ignore_errors=True)


def stale_scratch(out_dir: Path) -> list[Path]:
    """The hidden scratch folders in `out_dir` (left there by a run killed while writing)."""
    return [p for p in out_dir.iterdir() if p.name.startswith(SCRATCH_PREFIX) and p.is_dir()]


def _check_holds_same_run(out_dir: Path, identity: dict) -> None:
    """Refuse a non-empty folder unless its run.json says it holds this same run."""
    run_json = out_dir / "run.json"
    if not run_json.is_file():
        raise OutputError(f"--out {out_dir}: is not empty and holds no run.json; "
                          f"choose a new or empty folder")
    try:
        previous = json.loads(run_json.read_text()).get("identity")
    except (json.JSONDecodeError, UnicodeDecodeError, AttributeError):
        previous = None
    if previous != identity:
        raise OutputError(f"--out {out_dir}: holds the output of a different run "
                          f"(see its run.json); choose a new or empty folder")


@contextmanager
def claimed_out_dir(out_dir: Path, identity: dict):
    """Make sure `out_dir` can take this run's output before the run starts.

    Checks it (`check_out_dir`), creates it and writes a scratch file in it, so
    an unwritable folder is refused (OutputError) before anything runs. If the
    body then fails or is interrupted (Ctrl-C), the folders created here are
    removed again, if empty.
    """
    check_out_dir(out_dir, identity)
    missing = missing_folders(out_dir)
    try:
        try:
            create_folder(out_dir)
            probe_writable(out_dir)
        except FolderError as exc:
            raise OutputError(str(exc)) from None
        yield out_dir
    except BaseException:
        remove_if_empty(missing)
        raise


def write_outputs(result, out_dir: Path, extra_info: dict | None = None,
                  extra_files: dict[str, bytes] | None = None) -> dict[str, Path]:
    """Write a RunResult's files into `out_dir`; returns their paths.

    run.json holds the run's identity (what makes two runs the same), its
    resolved parameters and policies, and `result.info` plus `extra_info`
    (which never enters the identity). `extra_files` ({name: bytes}, e.g. a
    report page) are written and moved in with the others, before run.json.
    A failure to write raises OutputError.
    """
    extra_files = dict(extra_files or {})
    for name in extra_files:
        if name in OUTPUT_FILES or Path(name).name != name or name.startswith("."):
            raise ValueError(f"extra file {name!r}: must be a plain new file name")
    identity = result.identity()
    run_info = {**result.info, "parameters": identity["scenario"]["parameters"],
                **(extra_info or {})}
    run_json = json.dumps({**run_info, "identity": identity}, indent=2, sort_keys=True) + "\n"
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        with scratch_folder(out_dir) as scratch:
            result.monthly.to_csv(scratch / "monthly.csv", index=False)
            result.daily.to_parquet(scratch / "daily.parquet", index=False)
            result.flights.to_csv(scratch / "flights.csv", index=False)
            for name, data in extra_files.items():
                (scratch / name).write_bytes(data)
            (scratch / "run.json").write_text(run_json)
            _move_in(scratch, out_dir, [*OUTPUT_FILES[:-1], *extra_files, OUTPUT_FILES[-1]])
    except OSError as exc:
        raise OutputError(f"--out {out_dir}: cannot write the output: {reason(exc)}") from None
    return {name: out_dir / name for name in [*OUTPUT_FILES, *extra_files]}


def _move_in(scratch: Path, out_dir: Path, names: list[str]) -> None:
    """Move the finished files into `out_dir`, run.json last: its presence means the
    run is whole. Stopped halfway in a folder that held no run, the files already
    moved are taken out again (in one that held this same run they are the same bytes)."""
    had_run = (out_dir / "run.json").is_file()
    moved = []
    try:
        for name in names:  # run.json last
            moved.append(out_dir / name)  # before the move: it may be stopped right after
            (scratch / name).replace(out_dir / name)
    except BaseException:
        if not had_run:
            for path in moved:
                path.unlink(missing_ok=True)
        raise
