"""`simulate()` in memory: overrides through the same checks, clipped runs, Mesa's side."""

import pickle
import subprocess
import sys
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from model import BorderModel, RunResult, ScenarioError, load_scenario, simulate

ROOT = Path(__file__).resolve().parent.parent
SHORT = {"start": "2019-01-01", "end": "2019-06-30"}


def test_simulate_returns_the_tables_run_py_writes(tmp_path):
    subprocess.run([sys.executable, "run.py", "run", "historical", "--scale", "200", "--seed", "3",
                    "--out", str(tmp_path / "r")], cwd=ROOT, check=True, capture_output=True)
    result = simulate("historical", seed=3, scale=200)
    assert isinstance(result, RunResult)
    written = (tmp_path / "r" / "monthly.csv").read_text()
    assert result.monthly.to_csv(index=False) == written
    pd.testing.assert_frame_equal(result.daily, pd.read_parquet(tmp_path / "r" / "daily.parquet"))
    assert result.info["people_created"] > 0 and result.info["days_run"] == 1188


def test_dict_overrides_are_applied_and_checked_like_files():
    loaded = load_scenario("historical", params={"apprehension_prob": {"tucson": 0.8}},
                           policies={"title42": {"end": "2021-06-30"},
                                     "mpp_2019": {"enabled": False}})
    assert loaded.parameters["apprehension_prob"]["tucson"] == 0.8
    as_given = load_scenario("historical").parameters["apprehension_prob"]
    assert as_given["tucson"] != 0.8
    assert loaded.parameters["apprehension_prob"]["yuma"] == as_given["yuma"]  # the rest kept
    t42 = next(p for p in loaded.policies if p.id == "title42")
    assert t42.end == date(2021, 6, 30)
    assert "mpp_2019" not in {p.id for p in loaded.policies}
    with pytest.raises(ScenarioError, match=r"parameters\.apprehension_prob\.tucson: 1\.5 is not a probability"):
        simulate("historical", scale=500, params={"apprehension_prob": {"tucson": 1.5}})
    with pytest.raises(ScenarioError, match=r"params: apprehension: unknown parameter"):
        simulate("historical", scale=500, params={"apprehension": 0.5})
    with pytest.raises(ScenarioError, match=r"policies: title_42: unknown policy id"):
        simulate("historical", scale=500, policies={"title_42": {"end": "2021-06-30"}})
    with pytest.raises(ScenarioError, match=r"policies\.title42\.exception_shares: unknown field"):
        simulate("historical", scale=500, policies={"title42": {"exception_shares": 0.1}})
    with pytest.raises(ScenarioError, match=r"policies\.title42\.end: expected a date"):
        simulate("historical", scale=500, policies={"title42": {"end": "June"}})


def test_a_shorter_run_clips_policies_and_refuses_a_longer_one():
    loaded = load_scenario("historical", end="2020-06-30")
    ids = {p.id for p in loaded.policies}
    assert "title42" in ids and "mexico_refuses_families" not in ids  # starts after the end
    assert all(p.end <= date(2020, 6, 30) for p in loaded.policies)
    result = simulate(loaded, scale=200)
    assert result.monthly.month.iloc[-1] == "2020-06"
    assert result.monthly.title42_expulsions.sum() > 0
    with pytest.raises(ScenarioError, match=r"end: 2022-03-31 is after the last day the scenario describes \(2021-12-31\)"):
        load_scenario("historical", end="2022-03-31")
    with pytest.raises(ScenarioError, match=r"end: 2022-03-31 is after the last day"):
        load_scenario("historical", ["end=2022-03-31"])
    with pytest.raises(ScenarioError, match=r"start: 2018-01-01 is before the first day"):
        load_scenario("historical", start="2018-01-01")


def test_a_run_starting_later_carries_the_push_index_forward():
    late = BorderModel("historical", scale=500, start="2021-03-15", end="2021-04-30")
    full = BorderModel("historical", scale=500)
    march = full.calendar.month_labels.index("2021-03")
    assert (late.push[0] == full.push[march]).all()


def test_border_model_rebuilds_from_keywords_and_stops_at_the_end():
    model = BorderModel(scenario="mpp_off", seed=2, scale=500, **SHORT)
    again = BorderModel(scenario="mpp_off", seed=2, scale=500, **SHORT)
    assert model.calendar.n_days == 181 == again.calendar.n_days
    steps = 0
    while model.running:
        model.step()
        steps += 1
    assert steps == 181 and model.today == date(2019, 6, 30)
    before = model.recorder.values.copy()
    model.step()  # past the end: nothing happens, no IndexError
    model.run()
    assert (model.recorder.values == before).all()
    again.run()
    assert (again.recorder.values == before).all()


def test_bad_seed_or_scale_is_refused():
    with pytest.raises(ScenarioError, match="scale: must be a whole number >= 1"):
        BorderModel("historical", scale=0)
    with pytest.raises(ScenarioError, match="seed: must be a whole number >= 0"):
        BorderModel("historical", seed=-1)


def test_result_pickles_small_and_repeated_calls_agree():
    first = simulate("historical", seed=5, scale=100, **SHORT)
    blob = pickle.dumps(first)
    assert len(blob) < 1_000_000, len(blob)
    simulate("mpp_off", seed=9, scale=100, **SHORT)  # anything left behind would show below
    second = pickle.loads(blob)
    third = simulate("historical", seed=5, scale=100, **SHORT)
    pd.testing.assert_frame_equal(second.monthly, third.monthly)
    pd.testing.assert_frame_equal(second.daily, third.daily)



def test_a_recorder_writes_into_its_own_table_after_a_pickle():
    from model.state.recorder import COLUMN_INDEX, Recorder

    recorder = Recorder(n_days=3, scale=10)
    recorder.day = 1
    recorder.add("encounters", 2.0)
    restored = pickle.loads(pickle.dumps(recorder))
    restored.add("encounters", 3.0)  # into today's row of the restored table, not a copy
    assert restored.values[1, COLUMN_INDEX["encounters"]] == 5.0
    restored.day = 2
    restored.set("encounters", 7.0)
    assert restored.values[:, COLUMN_INDEX["encounters"]].tolist() == [0.0, 5.0, 7.0]
    assert recorder.values[1, COLUMN_INDEX["encounters"]] == 2.0  # the original untouched


def test_a_whole_period_model_pickled_mid_run_goes_on_as_if_it_had_not_been():
    """Its hundreds of flight days were a linked chain too deep for pickle (RecursionError
    from the first day), and an unpickled recorder's day row was a copy."""
    import numpy as np

    straight = BorderModel("historical", seed=3, scale=1000)
    paused = pickle.loads(pickle.dumps(BorderModel("historical", seed=3, scale=1000)))
    for model in (straight, paused):
        for _ in range(400):
            model.step()
    paused = pickle.loads(pickle.dumps(paused))
    for model in (straight, paused):
        while model.running:
            model.step()
    assert straight.recorder.values.sum() > 0
    assert np.array_equal(straight.recorder.values, paused.recorder.values)
    assert straight.flight_log == paused.flight_log

def test_fiscal_year_unique_counts_each_person_once(historical_result):
    years = historical_result.fiscal_years()
    monthly = historical_result.monthly
    fy = monthly.month.str[:4].astype(int) + (monthly.month.str[5:].astype(int) >= 10)
    summed_months = monthly.groupby(fy.values).unique_encountered.sum()
    assert (years.unique_encountered <= summed_months).all()
    assert (years.unique_encountered < summed_months).any()  # people seen in two months
    assert (years.encounters == monthly.groupby(fy.values).encounters.sum()).all()


def test_invariants_hold_through_simulate_for_every_scenario():
    """Conservation, capacities and whole families, checked every day, via simulate()."""
    for name in ("historical", "mpp_off", "title42_off", "interior_repatriation"):
        result = simulate(name, seed=1, scale=100, start="2019-06-01", end="2021-03-31",
                          check_invariants=True)  # raises AssertionError on any breach
        assert result.monthly.encounters.sum() > 0


def test_policies_are_looked_up_by_class_and_a_loaded_scenario_keeps_its_window():
    from model.config.policies import MPP, PolicyBook, Title42

    loaded = load_scenario("historical", end="2020-06-30")
    book = PolicyBook(loaded.policies, loaded.start)
    day = (date(2020, 5, 1) - loaded.start).days
    assert book.active(Title42, day).id == "title42"
    assert book.active(MPP, day).id == "mpp_2020"
    assert book.active(Title42, 0) is None
    with pytest.raises(TypeError, match="not a policy class"):
        book.active(dict, day)
    # overrides on an already loaded, shortened scenario keep its window
    again = load_scenario(loaded, params={"detention_beds": 30000})
    assert (again.start, again.end) == (loaded.start, loaded.end)
    assert again.parameters["detention_beds"] == 30000
    assert load_scenario(loaded) is loaded
