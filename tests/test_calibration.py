"""The seeds' figures are read off a run's output files correctly."""

import subprocess
import sys
from pathlib import Path

import pandas as pd

from calibration.seed_figures import ALL_TARGETS, SEED_FIGURES, fit_table, model_value

ROOT = Path(__file__).resolve().parent.parent


def test_seed_figures_read_the_output_files(tmp_path):
    subprocess.run([sys.executable, "run.py", "run", "historical", "--scale", "20",
                    "--out", str(tmp_path)], cwd=ROOT, check=True, capture_output=True)
    monthly = pd.read_csv(tmp_path / "monthly.csv")
    daily = pd.read_parquet(tmp_path / "daily.parquet")
    flights = pd.read_csv(tmp_path / "flights.csv")
    by_label = {f.label: model_value(f, monthly, daily, flights) for f in SEED_FIGURES}
    mpp = monthly.set_index("month").loc["2019-01":"2020-01", "mpp_enrollments"].sum()
    assert by_label["MPP enrolments to Jan 2020"] == mpp
    china = flights[flights.destination == "china"].passengers.sum()
    assert by_label["China flight, 2 Jul 2021"] == china
    assert by_label["Court backlog, Dec 2021"] == monthly.court_backlog.iloc[-1]
    table = fit_table(tmp_path)
    assert table.count("\n") == len(ALL_TARGETS) + 1
    assert table.count("| not measured |") == len(ALL_TARGETS) - len(SEED_FIGURES) > 0
