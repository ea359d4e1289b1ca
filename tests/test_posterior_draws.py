"""`simulate(..., draw=i)`: posterior draw i of the scenario's calibration
(`calibration.posterior`): deterministic, independent of other draws, different from
the medians, part of the run's identity, and refused in one line where it cannot be.

Loading is checked without running; the runs are one month at scale 100.
"""

import shutil
from pathlib import Path

import pandas as pd
import pytest

from calibration import posterior as post
from model import simulate
from model.config.scenario import CALIBRATION_DIR, load_scenario
from model.config.validation import ScenarioError

SHORT = dict(scale=100, end="2018-10-31")


def test_a_draw_is_the_same_particle_every_time_whatever_else_is_drawn():
    drawn = [load_scenario("historical", draw=i) for i in (5, 0, 3)]
    again = load_scenario("historical", draw=3)
    assert again.posterior == drawn[2].posterior
    assert again.parameters == drawn[2].parameters
    particle = post.read_posterior(CALIBRATION_DIR / "posterior.parquet").particle
    assert [particle(i) for i in range(8)] == [particle(i) for i in range(8)]
    # draws are a weighted pick: over many draws, heavy particles come up most
    picks = pd.Series([particle(i) for i in range(400)]).value_counts(normalize=True)
    weights = post.read_posterior(CALIBRATION_DIR / "posterior.parquet").weights
    heaviest = int(weights.argmax())
    assert abs(picks.get(heaviest, 0.0) - weights[heaviest]) < 0.07


def test_a_draw_replaces_the_medians_with_a_particles_values():
    medians = load_scenario("historical")
    one = load_scenario("historical", draw=0)
    assert medians.draw is None and "posterior" not in medians.resolved()
    (identity,) = one.posterior
    frame = pd.read_parquet(CALIBRATION_DIR / "posterior.parquet")
    row = frame.iloc[identity["particle"]]
    assert one.parameters["retry_days"]["title42"] == pytest.approx(row["retry_days.title42"])
    assert one.parameters["push"]["mexico"]["2020-04"] == pytest.approx(row["push.mexico.2020-04"])
    assert set(one.parameters["apprehension_prob"].values()) == {row["apprehension_prob.*"]}
    assert one.parameters["retry_days"] != medians.parameters["retry_days"]
    # parameters the fit does not touch stay the scenario's
    assert one.parameters["detention_beds"] == medians.parameters["detention_beds"]
    assert one.resolved()["posterior"] == [identity]
    assert identity["file"].endswith("posterior.parquet") and len(identity["sha256"]) == 64


def test_a_scenarios_own_overrides_still_win_over_a_draw():
    loaded = load_scenario("historical", ["retry_days.title42=9"], end="2019-01-31")
    drawn = load_scenario(loaded, draw=2)  # loaded again from its file at draw 2
    assert drawn.draw == 2 and drawn.end == loaded.end
    assert drawn.parameters["retry_days"]["title42"] == 9.0
    assert drawn.parameters["departures_per_day"] == \
        load_scenario("historical", draw=2).parameters["departures_per_day"]


def test_runs_of_a_draw_repeat_and_differ_from_the_medians():
    medians = simulate("historical", seed=1, **SHORT)
    plain = simulate("historical", seed=1, draw=None, **SHORT)
    first = simulate("historical", seed=1, draw=1, **SHORT)
    again = simulate("historical", seed=1, draw=1, **SHORT)
    pd.testing.assert_frame_equal(medians.monthly, plain.monthly)
    assert medians.identity() == plain.identity()
    pd.testing.assert_frame_equal(first.daily, again.daily)
    assert not first.daily.equals(medians.daily)
    assert first.identity()["scenario"]["posterior"][0]["draw"] == 1
    assert first.identity() != medians.identity()
    assert first.info["draw"] == 1 and "draw" not in medians.info
    assert "posterior draw 1" in repr(first)


@pytest.mark.parametrize("draw", [-1, True, 1.5, "2"])
def test_a_bad_draw_is_refused_in_one_line(draw):
    with pytest.raises(ScenarioError, match=r"historical.toml: draw: expected a posterior draw"):
        load_scenario("historical", draw=draw)


def test_a_scenario_without_a_calibration_has_no_posterior_to_draw(tmp_path):
    plain = tmp_path / "plain.toml"
    plain.write_text('description = "no fit"\nstart = 2018-10-01\nend = 2018-12-31\n')
    with pytest.raises(ScenarioError, match=r"plain.toml: draw 0: the scenario names no "
                                            r"calibration"):
        load_scenario(str(plain), draw=0)
    with pytest.raises(ScenarioError, match="loaded without its calibration"):
        load_scenario("historical", draw=0, calibrated=False)


def test_a_calibration_without_a_usable_posterior_is_refused(tmp_path):
    fit = tmp_path / "fit"
    fit.mkdir()
    shutil.copy(CALIBRATION_DIR / "calibrated.toml", fit / "calibrated.toml")
    scenario = tmp_path / "mine.toml"
    scenario.write_text('base = "historical"\ncalibrated = "fit/calibrated.toml"\n')
    load_scenario(str(scenario))  # the medians need no posterior
    with pytest.raises(ScenarioError, match=r"posterior.parquet: cannot read the posterior"):
        load_scenario(str(scenario), draw=0)
    (fit / "posterior.parquet").write_bytes(b"not parquet")
    with pytest.raises(ScenarioError, match=r"posterior.parquet: not a Parquet posterior"):
        load_scenario(str(scenario), draw=0)
    frame = pd.read_parquet(CALIBRATION_DIR / "posterior.parquet")
    frame.rename(columns={"retry_days.title42": "retry_days.nowhere"}).to_parquet(
        fit / "posterior.parquet")
    with pytest.raises(ScenarioError, match=r"unknown key 'nowhere' of retry_days"):
        load_scenario(str(scenario), draw=0)
    frame.assign(weight=0.0).to_parquet(fit / "posterior.parquet")
    with pytest.raises(ScenarioError, match=r"weight: expected finite weights"):
        load_scenario(str(scenario), draw=0)
    # a changed posterior file is a different posterior: its hash seeds the draws
    frame.to_parquet(fit / "posterior.parquet")
    mine = load_scenario(str(scenario), draw=0).posterior[0]
    assert mine["sha256"] != load_scenario("historical", draw=0).posterior[0]["sha256"]
    assert Path(mine["file"]) == (fit / "posterior.parquet").resolve()


def test_run_py_run_draw_writes_the_draw_into_run_json(tmp_path, capsys):
    import json
    import sys

    root = Path(__file__).resolve().parent.parent
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    import run as cli
    from helpers import one_error_line

    out = tmp_path / "drawn"
    assert cli.main(["run", "historical", "--draw", "1", "--scale", "100", "--set",
                     "end=2018-10-31", "--out", str(out)]) == 0
    identity = json.loads((out / "run.json").read_text())["identity"]
    (drawn,) = identity["scenario"]["posterior"]
    assert drawn["draw"] == 1 and drawn["file"].endswith("posterior.parquet")
    capsys.readouterr()
    plain = tmp_path / "plain.toml"
    plain.write_text('description = "no fit"\nstart = 2018-10-01\nend = 2018-12-31\n')
    assert cli.main(["run", str(plain), "--draw", "0", "--scale", "100",
                     "--out", str(tmp_path / "no")]) == 2
    assert "names no calibration" in one_error_line(capsys.readouterr().err)
    assert not (tmp_path / "no").exists()
