"""The command line's edges: too coarse a scale, an --out that cannot be written,
Ctrl-C, stale scratch folders, a broken scenario file, and what run.json records.

Each refusal is one `error:` line on stderr, exit 2, nothing left behind.
"""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import run as cli  # noqa: E402
from model import ScenarioError, load_scenario, simulate  # noqa: E402
from model.scale_check import check_scale  # noqa: E402

SHORT = ("--set", "end=2019-03-31")  # the historical scenario's first six months: 182 days


def run_cli(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "run.py", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=300, **kwargs)


def one_error_line(stderr: str) -> str:
    """The single `error:` line a refusal prints (and no traceback)."""
    assert "Traceback" not in stderr, stderr
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: "), lines[0]
    return lines[0]


@pytest.fixture
def no_model(monkeypatch):
    """Fail the test if the CLI builds the model or writes output."""
    monkeypatch.setattr(cli, "simulate", lambda *a, **k: pytest.fail("the model was built"))
    monkeypatch.setattr(cli, "write_outputs", lambda *a, **k: pytest.fail("output was written"))


# --- 3. a scale that leaves a nationality with no agents ----------------------------------

def test_scale_check_uses_departures_push_and_days(tmp_path):
    """china: 4 a day; push 1.0 (before any listed month) in Jan-Mar, 0.5 from April:
    mean 0.75 over six months of 181 days, so 4 x 0.75 x 181 = 543 people."""
    path = tmp_path / "short.toml"
    path.write_text('description = "six months"\nstart = 2019-01-01\nend = 2019-06-30\n'
                    '[parameters.push.china]\n"2019-04" = 0.5\n')
    loaded = load_scenario(str(path))
    check_scale(loaded, 543)
    with pytest.raises(ScenarioError, match=r"^scale: 544 is too coarse for this scenario: fewer "
                                            r"than one agent would set out from china over the "
                                            r"whole run; use at most 543$"):
        check_scale(loaded, 544)


def test_scale_check_carries_push_forward_into_a_shorter_run():
    """historical lists china's push from 2018-10 (1.0); a run to 2019-03-31 is
    182 days at 4 a day, and a push set for January halves the last three months."""
    loaded = load_scenario("historical", ["end=2019-03-31", "push.china.2019-01=0.5"])
    check_scale(loaded, 546)  # 4 x (1 + 1 + 1 + 0.5 + 0.5 + 0.5) / 6 x 182
    with pytest.raises(ScenarioError, match="use at most 546$"):
        check_scale(loaded, 547)


def test_scale_check_ignores_a_nationality_the_scenario_sends_nobody_from():
    loaded = load_scenario("historical", ["end=2019-03-31", "departures_per_day.china=0"])
    check_scale(loaded, 5000)  # el_salvador, the next scarcest, has some 30,000
    with pytest.raises(ScenarioError, match="from el_salvador"):
        check_scale(loaded, 10**6)


def test_simulate_refuses_too_coarse_a_scale():
    with pytest.raises(ScenarioError, match=r"^scale: 1000000000 is too coarse .* from china .*"
                                            r"use at most 3874$"):
        simulate("historical", scale=10**9)


def test_cli_refuses_too_coarse_a_scale_before_anything(tmp_path, no_model, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")  # the scale is reported, not this folder
    code = cli.main(["run", "historical", "--scale", "1000000000", "--out", str(out)])
    err = capsys.readouterr()
    assert code == 2 and err.out == ""
    line = one_error_line(err.err)
    assert line == ("error: scale: 1000000000 is too coarse for this scenario: fewer than one "
                    "agent would set out from china over the whole run; use at most 3874")
    assert [p.name for p in out.iterdir()] == ["notes.txt"]


def test_cli_refuses_too_coarse_a_scale_end_to_end(tmp_path):
    out = tmp_path / "out"
    result = run_cli("run", "historical", "--scale", "1000000000", "--out", str(out))
    assert result.returncode == 2, result
    assert "too coarse" in one_error_line(result.stderr)
    assert result.stdout == "" and not out.exists()
