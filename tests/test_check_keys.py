"""One unknown-key check (`model.config.validation.check_keys`) for every table a user
writes: sweep specs, calibration targets and priors, cost items. Each refuses a
misspelt key in one line naming the file, the table's path and the key, and lists
the keys it knows, in its own error class."""

import re

import pytest

from calibration import priors, targets
from experiments import costs, spec
from model.config.validation import ScenarioError, check_keys


def test_a_table_of_known_keys_passes():
    check_keys({"low": 1, "high": 2}, ("low", "high", "steps"), "vary.x.")
    check_keys({}, ("low",), "vary.x.")


def test_the_first_unknown_key_is_named_with_the_known_ones_in_their_order():
    with pytest.raises(ScenarioError) as refused:
        check_keys({"low": 1, "hihg": 2, "stesp": 3}, ("low", "high", "steps"), "f.toml: vary.x.")
    assert str(refused.value) == "f.toml: vary.x.hihg: unknown key (known: low, high, steps)"


def test_the_callers_error_class_and_wording():
    class OwnError(ScenarioError):
        pass

    with pytest.raises(OwnError, match=r"^items\.meals\.price: unknown field \(known: a, b\)$"):
        check_keys({"price": 3}, iter(["a", "b"]), "items.meals.", OwnError, what="field")


def written(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_spec_top_level_key(tmp_path):
    path = written(tmp_path, "sweep.toml", 'scenarios = ["historical"]\nseeds = 1\nsclae = 50\n')
    with pytest.raises(spec.SpecError) as refused:
        spec.load_spec(path)
    assert str(refused.value) == (f"{path}: sclae: unknown key (known: "
                                  f"{', '.join(spec.TOP_LEVEL_KEYS)})")


def test_spec_range_key(tmp_path):
    path = written(tmp_path, "sweep.toml", 'scenarios = ["historical"]\n[vary]\n'
                   'detention_beds = {low = 20000, high = 50000, step = 3}\n')
    with pytest.raises(spec.SpecError, match=re.escape(
            "vary.detention_beds.step: unknown key in a range (known: low, high, steps)")):
        spec.load_spec(path)


def test_target_and_flight_keys():
    with pytest.raises(targets.TargetsError) as refused:
        targets.parse_target("targets.toml: targets.t1", "t1", {"label": "x", "tolerence": 0.1})
    assert str(refused.value) == ("targets.toml: targets.t1.tolerence: unknown key (known: "
                                  f"{', '.join(targets.KEYS)})")
    with pytest.raises(targets.TargetsError) as refused:
        targets._measurement("targets.toml: targets.t2",
                             {"flight": {"destination": "guatemala", "orign": "x"}})
    assert str(refused.value) == ("targets.toml: targets.t2.flight.orign: unknown key "
                                  "(known: destination, origin)")


def test_prior_key():
    with pytest.raises(priors.PriorsError) as refused:
        priors.parse_prior("priors.toml: priors.retry_days.title42", "retry_days.title42",
                           {"distribution": "uniform", "low": 1.0, "high": 2.0, "shape": 2})
    assert str(refused.value) == ("priors.toml: priors.retry_days.title42.shape: unknown key "
                                  "(known: distribution, low, high, reason)")


def test_cost_item_field(tmp_path):
    path = written(tmp_path, "costs.toml", "[items.detention]\nprice = 3\n")
    with pytest.raises(costs.CostError) as refused:
        costs.load_costs(path)
    assert str(refused.value) == (f"{path}: items.detention.price: unknown field (known: "
                                  f"{', '.join(costs.ITEM_KEYS)})")
