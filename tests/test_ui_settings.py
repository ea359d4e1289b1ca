"""The page's settings: laid over the scenario file, checked like it, saved as a file over its base."""

import subprocess
import sys

import pandas as pd
import pytest

from conftest import ROOT
from model import BorderModel, ScenarioError, load_scenario, simulate
from ui import settings as ui

BEDS = load_scenario("historical").parameters["detention_beds"]  # the file's, however it changes


def test_baseline_is_the_file_and_has_no_overrides():
    base = ui.baseline("historical")
    assert (base.start, base.end) == ("2018-10-01", "2021-12-31")
    assert base.policies["title42"] == {"kind": "title42", "enabled": True, "end": "2021-12-31"}
    assert ui.overrides(base) == ({}, {})
    assert ui.differences(base) == []
    # a scenario that disables policies: the switches are off, their fields still there
    off = ui.baseline("mpp_off")
    assert not off.policies["mpp_2019"]["enabled"] and off.policies["mpp_2019"]["start"]


def test_model_built_from_settings_is_the_scenario_with_the_changes():
    s = (ui.baseline("historical").with_policy("title42", "end", "2021-06-30")
         .with_policy("mpp_2019", "enabled", False).with_parameter("detention_beds", 30000))
    assert ui.differences(s) == [f"detention_beds: {BEDS} -> 30000",
                                 "policies.mpp_2019.enabled: on -> off",
                                 "policies.title42.end: 2021-12-31 -> 2021-06-30"]
    model = BorderModel(**ui.model_kwargs(s))
    direct = load_scenario("historical", params={"detention_beds": 30000},
                           policies={"title42": {"end": "2021-06-30"},
                                     "mpp_2019": {"enabled": False}})
    assert model.loaded.resolved() == direct.resolved()


def test_refused_settings_name_the_field():
    s = ui.baseline("historical").with_policy("title42", "end", "2019-01-01")
    with pytest.raises(ScenarioError, match=r"policies.title42.end: 2019-01-01 is before start"):
        ui.check(s)
    with pytest.raises(ScenarioError, match="end"):
        ui.check(ui.baseline("historical").replace(end="2030-01-01"))
    with pytest.raises(ScenarioError, match="seed: must be a whole number >= 0"):
        ui.check(ui.baseline("historical").replace(seed=-1))


def test_saved_file_reruns_with_run_py_and_loads_back(tmp_path):
    s = (ui.baseline("historical", seed=3, scale=100).replace(start="2019-01-01", end="2019-03-01")
         .with_policy("mpp_2019", "enabled", False).with_policy("interior_repatriation",
                                                                "sectors", ["el_paso"]))
    path = tmp_path / "mine.toml"
    path.write_text(ui.scenario_toml(s), encoding="utf-8")
    text = path.read_text()
    assert 'base = "historical"' in text and "[policies.mpp_2019]" in text
    assert "title42" not in text  # only what differs from the base
    loaded = ui.read_scenario_file(path)
    assert (loaded.seed, loaded.scale, loaded.start, loaded.end) == (3, 100, "2019-01-01",
                                                                      "2019-03-01")
    assert not loaded.policies["mpp_2019"]["enabled"]
    out = tmp_path / "run"
    done = subprocess.run([sys.executable, "run.py", "run", str(path), "--seed", "3", "--scale",
                           "100", "--set", "start=2019-01-01", "--set", "end=2019-03-01",
                           "--out", str(out)], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    expected = simulate(**ui.model_kwargs(s)).monthly
    pd.testing.assert_frame_equal(pd.read_csv(out / "monthly.csv"),
                                  expected.reset_index(drop=True), check_dtype=False)
    assert expected["mpp_enrollments"].sum() == 0


def test_a_file_saved_over_a_saved_file_names_it_by_path(tmp_path):
    first = tmp_path / "first.toml"
    first.write_text(ui.scenario_toml(ui.baseline("mpp_off").with_policy("title42", "enabled",
                                                                         False)))
    over = ui.read_scenario_file(first).with_parameter("detention_beds", 20000)
    assert ui.differences(over) == [f"detention_beds: {BEDS} -> 20000"]
    second = tmp_path / "second.toml"
    second.write_text(ui.scenario_toml(over))
    assert f'base = "{first.resolve()}"' in second.read_text()
    loaded = load_scenario(str(second))
    assert loaded.parameters["detention_beds"] == 20000
    assert not any(p.kind in ("mpp", "title42") for p in loaded.policies)


def test_a_bad_ui_line_is_named(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('# ui: seed=x scale=10\nbase = "historical"\n')
    with pytest.raises(ScenarioError, match="seed and scale must be whole numbers"):
        ui.read_scenario_file(path)
