"""Writing a run's files: monthly.csv, daily.parquet, flights.csv, run.json.

Files are written into a scratch folder beside the target and moved in only
when all are complete, run.json last, so a folder with run.json holds a whole
run. A folder holding a *different* run's output is never overwritten.
"""

import json
import shutil
import tempfile
from pathlib import Path


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


def write_outputs(result, out_dir: Path, extra_info: dict | None = None) -> dict[str, Path]:
    """Write a RunResult's files into `out_dir`; returns their paths.

    run.json holds the run's identity (what makes two runs the same), its
    resolved parameters and policies, and `result.info` plus `extra_info`.
    """
    identity = result.identity()
    run_info = {**result.info, "parameters": identity["scenario"]["parameters"],
                **(extra_info or {})}
    monthly, daily, flights = result.monthly, result.daily, result.flights
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
