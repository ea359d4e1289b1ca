"""Counterfactuals change what they say they change, and peers' experience feeds back."""

import pytest

from model import load_scenario, simulate
from model.config.scenario import SCENARIO_DIR
from model.config.validation import ScenarioError

SCALE = 25
COUNTERFACTUALS = ["port_return_only", "interior_repatriation", "mpp_off", "mpp_on",
                   "no_interior_enforcement", "no_removal_moratorium",
                   "title42_off", "mexico_accepts_families"]
_cache: dict = {}


def monthly(name: str, *overrides: str, seed: int = 1):
    key = (name, overrides, seed)
    if key not in _cache:
        result = simulate(load_scenario(name, list(overrides)), seed=seed, scale=SCALE)
        _cache[key] = (result, result.monthly.set_index("month"))
    return _cache[key]


@pytest.mark.parametrize("name", COUNTERFACTUALS)
def test_counterfactual_is_a_small_file_over_historical(name):
    loaded = load_scenario(name)
    assert loaded.sources[0].endswith("historical.toml")
    assert loaded.description and loaded.description != load_scenario("historical").description
    assert len((SCENARIO_DIR / f"{name}.toml").read_text().splitlines()) < 40


def test_title42_off_has_no_expulsions_and_fewer_repeat_crossings():
    _, hist = monthly("historical")
    _, off = monthly("title42_off")
    assert off.title42_expulsions.sum() == 0
    fy21 = slice("2020-10", "2021-09")
    assert off.loc[fy21].repeat_encounters.sum() < 0.6 * hist.loc[fy21].repeat_encounters.sum()
    assert off.loc[fy21].releases.sum() > hist.loc[fy21].releases.sum()


def test_mpp_off_enrols_nobody_and_nobody_suffers_mpp_violence():
    _, off = monthly("mpp_off")
    assert off.mpp_enrollments.sum() == 0
    assert off.mpp_waiting.max() == 0
    assert off.violence_incidents.sum() == 0


def test_mpp_on_keeps_enrolling_through_2021():
    _, hist = monthly("historical")
    _, on = monthly("mpp_on")
    window = slice("2021-02", "2021-11")
    assert hist.loc[window].mpp_enrollments.sum() == 0
    assert on.loc[window].mpp_enrollments.sum() > 0
    assert on.loc["2021-11"].mpp_waiting > hist.loc["2021-11"].mpp_waiting


def test_port_return_only_flies_nobody_to_guadalajara():
    result, only = monthly("port_return_only")
    assert only.interior_repatriations.sum() == 0
    assert not (result.flights.destination == "guadalajara").any()


def test_expanded_interior_repatriation_flies_many_more():
    _, hist = monthly("historical")
    _, expanded = monthly("interior_repatriation")
    assert expanded.interior_repatriations.sum() > 3 * hist.interior_repatriations.sum()
    assert (expanded.loc[:"2019-11"] == hist.loc[:"2019-11"]).all().all()  # same until it starts


def test_mexico_accepting_families_means_more_expulsions_fewer_releases():
    _, hist = monthly("historical")
    _, accepts = monthly("mexico_accepts_families")
    y2021 = slice("2021-02", "2021-12")
    assert accepts.family_expulsions_refused.sum() == 0
    assert hist.loc[y2021].family_expulsions_refused.sum() > 0
    assert accepts.loc[y2021].title42_expulsions.sum() > hist.loc[y2021].title42_expulsions.sum()
    assert accepts.loc[y2021].releases.sum() < hist.loc[y2021].releases.sum()


def test_families_come_where_families_get_in_feedback():
    """Released families draw more families: only the experience feedback can do that.

    With the feedback switched off, refusing families can only *add* re-crossings
    by those expelled elsewhere, so the gap shrinks instead of growing.
    """
    window = slice("2021-03", "2021-12")
    _, hist = monthly("historical")
    _, accepts = monthly("mexico_accepts_families")
    with_feedback = (hist.loc[window].encounters_family_units.sum()
                     / accepts.loc[window].encounters_family_units.sum())
    assert with_feedback > 1.2
    off = ("departure_sensitivity=0", "sector_sensitivity=0", "give_up_sensitivity=0")
    _, hist0 = monthly("historical", *off)
    _, accepts0 = monthly("mexico_accepts_families", *off)
    without = (hist0.loc[window].encounters_family_units.sum()
               / accepts0.loc[window].encounters_family_units.sum())
    assert without < with_feedback - 0.15


def test_mexico_refusing_interior_flights_grounds_them():
    result, refused = monthly("historical",
                              "policies.interior_repatriation.mexico_receives_flights=false")
    assert refused.interior_repatriations.sum() == 0
    reasons = set(result.flights.status[result.flights.destination == "guadalajara"])
    assert reasons == {"cancelled: Mexico does not receive it"}
    assert refused.port_returns.sum() > monthly("historical")[1].port_returns.sum()


def test_a_calibration_file_replaces_the_hand_set_parameters_and_is_inherited(tmp_path):
    """`calibrated = FILE` takes the fitted [parameters] over the file's own; a scenario
    built on it inherits them; its own parameters still win; the file is a source."""
    fitted = tmp_path / "fit" / "calibrated.toml"
    fitted.parent.mkdir()
    fitted.write_text('description = "ignored"\nbase = "ignored"\n[parameters]\n'
                      'departure_sensitivity = 1.25\n[parameters.push.mexico]\n"2020-05" = 0.9\n',
                      encoding="utf-8")
    main = tmp_path / "main.toml"
    main.write_text((SCENARIO_DIR / "historical.toml").read_text(encoding="utf-8")
                    .replace("\ncalibrated = ", "\n# calibrated = ")
                    .replace('description = "', 'calibrated = "fit/calibrated.toml"\ndescription = "', 1),
                    encoding="utf-8")
    derived = tmp_path / "derived.toml"
    derived.write_text('description = "d"\nbase = "main.toml"\n[parameters]\n'
                       'detention_beds = 30000\n', encoding="utf-8")
    plain = tmp_path / "plain.toml"  # the same file without a calibration: hand-set values
    plain.write_text(main.read_text(encoding="utf-8").replace('calibrated = "fit/calibrated.toml"\n', ""),
                     encoding="utf-8")
    hand_set = load_scenario(str(plain)).parameters
    assert str(fitted) not in load_scenario(str(plain)).sources
    for path in (main, derived):
        loaded = load_scenario(str(path))
        assert loaded.parameters["departure_sensitivity"] == 1.25
        assert loaded.parameters["push"]["mexico"] == {**hand_set["push"]["mexico"], "2020-05": 0.9}
        assert loaded.parameters["retry_days"] == hand_set["retry_days"]  # not fitted: as given
        assert str(fitted) in loaded.sources
    assert load_scenario(str(derived)).parameters["detention_beds"] == 30000
    # what a calibration fits: the hand-set scenario, the previous fit left out
    for path in (main, derived):
        unfitted = load_scenario(str(path), calibrated=False)
        assert unfitted.parameters["push"] == hand_set["push"]
        assert unfitted.parameters["departure_sensitivity"] == hand_set["departure_sensitivity"]
        assert str(fitted) not in unfitted.sources


@pytest.mark.parametrize("line, message", [
    ('calibrated = "fit.txt"', r"main\.toml: calibrated: expected the path of a \.toml file"),
    ('calibrated = "nowhere.toml"', r"main\.toml: calibrated: no such file .*nowhere\.toml"),
    ('calibrated = "empty.toml"', r"empty\.toml: parameters: missing"),
])
def test_a_bad_calibration_file_is_refused_naming_it(tmp_path, line, message):
    (tmp_path / "empty.toml").write_text('description = "no parameters"\n', encoding="utf-8")
    main = tmp_path / "main.toml"
    main.write_text(f'{line}\ndescription = "m"\nstart = 2019-01-01\nend = 2019-01-31\n',
                    encoding="utf-8")
    with pytest.raises(ScenarioError, match=message):
        load_scenario(str(main))
