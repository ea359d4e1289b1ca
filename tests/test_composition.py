"""Composition that moves with policy (issue 19): each demographic's departures weigh what
its own peers lately met (`departure_sensitivity_factor`), and families send a child alone
while children get in and families are returned (`self_separation`)."""

import numpy as np
import pytest

from model import load_scenario, simulate
from model.actors.behaviour import separated
from model.config.validation import ScenarioError
from model.state.vocabulary import FAMILY_UNIT, N_DEMOGRAPHIC, SINGLE_ADULT, UNACCOMPANIED_CHILD

SCALE = 200  # coarse: the effects below are tens of percent, the noise a few


def total(params, column, start=None, end=None):
    monthly = simulate("historical", scale=SCALE, params=params, start=start, end=end).monthly
    return float(monthly[column].sum())


def test_self_separation_moves_families_children_one_per_family():
    lam = np.array([[10.0, 26.0, 3.0], [5.0, 13.0, 1.0]]).ravel()
    share = np.array([[0.3, 0.4, 0.9], [0.3, 0.9, 0.8]]).ravel()  # first: children get in more
    out = separated(lam, share, 0.5, 2.6).reshape(-1, N_DEMOGRAPHIC)
    moved = 26.0 * 0.5 * (0.9 - 0.4)  # families' people leaving the family-unit flow
    assert out[0, FAMILY_UNIT] == pytest.approx(26.0 - moved)
    assert out[0, UNACCOMPANIED_CHILD] == pytest.approx(3.0 + moved / 2.6)  # a child a family
    assert out[0, SINGLE_ADULT] == 10.0
    assert np.array_equal(out[1], lam.reshape(-1, N_DEMOGRAPHIC)[1])  # families do better: none
    assert separated(lam, share, 0.0, 2.6).tolist() == lam.tolist()
    everyone = separated(lam, share, 100.0, 2.6).reshape(-1, N_DEMOGRAPHIC)
    assert everyone[0, FAMILY_UNIT] == 0.0  # the chance is at most 1
    assert lam.reshape(-1, N_DEMOGRAPHIC)[0, FAMILY_UNIT] == 26.0  # its input is left alone


def test_families_weighing_2019s_releases_more_set_out_more():
    """Families were released in 2019: their entry share was high, so a higher sensitivity
    of families brings more family units (and leaves single adults nearly as they were)."""
    runs = {f: total({"departure_sensitivity_factor": {"family_unit": f}},
                     "encounters_family_units", end="2019-06-30") for f in (0.5, 1.5)}
    assert runs[1.5] > 1.3 * runs[0.5], runs


def test_self_separation_under_title42_turns_family_units_into_children_alone():
    """FY2021: families expelled under Title 42, children alone exempt. Self-separation
    sends more children alone and fewer families."""
    window = {"start": "2020-10-01", "end": "2021-09-30"}
    off, on = ({"self_separation": r} for r in (0.0, 2.0))
    children = [total(p, "encounters_unaccompanied_children", **window) for p in (off, on)]
    families = [total(p, "encounters_family_units", **window) for p in (off, on)]
    assert children[1] > 1.1 * children[0], children
    assert families[1] < 0.85 * families[0], families


def test_children_weighing_less_are_fewer_in_2019():
    runs = {f: total({"departure_sensitivity_factor": {"unaccompanied_child": f}},
                     "encounters_unaccompanied_children", end="2019-06-30") for f in (0.2, 1.0)}
    assert runs[0.2] < 0.8 * runs[1.0], runs


def test_the_historical_scenario_sets_them_and_others_default_to_the_shared_sensitivity():
    historical = load_scenario("historical").parameters
    assert historical["departure_sensitivity_factor"]["unaccompanied_child"] < 1.0
    assert historical["self_separation"] > 0
    from model.config.scenario import BorderScenario
    defaults = BorderScenario._scenario_defaults
    assert set(defaults["departure_sensitivity_factor"].values()) == {1.0}
    assert defaults["self_separation"] == 0.0


@pytest.mark.parametrize("params, where", [
    ({"self_separation": -1.0}, "self_separation"),
    ({"departure_sensitivity_factor": {"toddler": 1.0}}, "departure_sensitivity_factor"),
    ({"departure_sensitivity_factor": {"family_unit": -0.5}}, "departure_sensitivity_factor"),
])
def test_bad_values_are_refused_naming_the_field(params, where):
    with pytest.raises(ScenarioError, match=where):
        load_scenario("historical", params=params)
