"""Same scenario and seed: the same bytes out. A different seed: different output."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FILES = ("monthly.csv", "daily.parquet", "flights.csv")


def run_cli(out: Path, seed: int, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "run.py", "run", "historical", "--seed", str(seed), "--scale", "100",
         "--out", str(out), *extra], cwd=ROOT, capture_output=True, text=True, check=True)


def test_same_seed_same_bytes(tmp_path):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    run_cli(a, 11)
    run_cli(b, 11)
    run_cli(c, 12)
    for name in FILES:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    assert (a / "monthly.csv").read_bytes() != (c / "monthly.csv").read_bytes()
    ja, jb = json.loads((a / "run.json").read_text()), json.loads((b / "run.json").read_text())
    for when_and_how in ("wall_time_s", "written_utc", "command"):  # not what the run is
        ja.pop(when_and_how), jb.pop(when_and_how)
    assert ja == jb


def test_run_json_records_what_defines_the_run(tmp_path):
    result = run_cli(tmp_path / "r", 5, "--set", "apprehension_prob.tucson=0.9")
    info = json.loads((tmp_path / "r" / "run.json").read_text())
    assert info["seed"] == 5 and info["scale"] == 100 and info["scenario"] == "historical"
    assert info["parameters"]["apprehension_prob"]["tucson"] == 0.9
    assert info["package_version"] and info["wall_time_s"] > 0
    assert {p["id"] for p in info["identity"]["scenario"]["policies"]} >= {"title42", "mpp_2019"}
    assert "FY2021" in result.stdout  # the summary table


def test_scenarios_verb_lists_every_scenario_with_its_description():
    out = subprocess.run([sys.executable, "run.py", "scenarios"], cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout
    names = sorted(p.stem for p in (ROOT / "scenarios").glob("*.toml"))
    assert [line.split()[0] for line in out.splitlines()] == names
    assert "MPP off: no Remain in Mexico at any time (base: historical)" in out
