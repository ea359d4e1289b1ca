"""Writing a run's files: monthly.csv, daily.parquet, flights.csv, run.json.

Files are written into a scratch folder beside the target and moved in only
when all are complete, run.json last, so a folder with run.json holds a whole
run. A folder holding a *different* run's output is never overwritten.
"""

import json
import shutil
import tempfile
from dataclasses import asdict
from pathlib import Path

import pandas as pd

OUTPUT_FILES = ("monthly.csv", "daily.parquet", "flights.csv", "run.json")


class OutputError(ValueError):
    """The --out folder cannot take this run's output."""


def check_out_dir(out_dir: Path, identity: dict) -> None:
    """Refuse a folder that is not new, empty, or this same run's earlier output."""
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputError(f"--out {out_dir}: exists and is not a folder")
    if not out_dir.exists() or not any(out_dir.iterdir()):
        return
    run_json = out_dir / "run.json"
    if run_json.is_file():
        try:
            previous = json.loads(run_json.read_text()).get("identity")
        except (json.JSONDecodeError, UnicodeDecodeError):
            previous = None
        if previous == identity:
            return
        raise OutputError(f"--out {out_dir}: holds the output of a different run "
                          f"(see its run.json); choose a new or empty folder")
    raise OutputError(f"--out {out_dir}: is not empty and holds no run.json; "
                      f"choose a new or empty folder")


def write_outputs(out_dir: Path, model, identity: dict, run_info: dict) -> dict[str, Path]:
    cal = model.calendar
    monthly = model.recorder.monthly_frame(cal.month_of_day, cal.month_labels)
    daily = model.recorder.daily_frame(cal.dates)
    flights = pd.DataFrame([asdict(r) for r in model.flight_log],
                           columns=["date", "route", "origin", "destination", "seats",
                                    "passengers", "status"])
    out_dir.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".partial-", dir=out_dir))
    try:
        monthly.to_csv(scratch / "monthly.csv", index=False)
        daily.to_parquet(scratch / "daily.parquet", index=False)
        flights.to_csv(scratch / "flights.csv", index=False)
        (scratch / "run.json").write_text(
            json.dumps({"identity": identity, **run_info}, indent=2, sort_keys=True) + "\n")
        for name in OUTPUT_FILES:  # run.json last: its presence means the run is whole
            (scratch / name).replace(out_dir / name)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return {name: out_dir / name for name in OUTPUT_FILES}
