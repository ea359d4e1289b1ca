"""The simulator as an EMA Workbench model: `border_model(...)` returns an
`ema_workbench.Model` whose uncertainties and levers are named with the flat keys of
sweep specs and `--set` (`apprehension_prob.tucson`, `policies.title42.end`) and
whose outcomes are headline figures by fiscal year (`FY2021.encounters`, see
`experiments.outcomes`). Each experiment is one `simulate(..., set={...})` run.

    from ema_workbench import SequentialEvaluator, perform_experiments
    from experiments.ema import border_model

    model = border_model("historical", scale=1000,
                         uncertainties={"departure_sensitivity": (0.5, 4.0),
                                        "apprehension_prob.tucson": (0.6, 0.9)},
                         levers={"policies.title42.end": ["2021-03-31", "2021-12-31"],
                                 "policies.mpp_2019.enabled": [True, False]},
                         outcomes=["FY2021.encounters", "FY2021.releases"])
    experiments, outcomes = perform_experiments(model, scenarios=20, policies=4)

Ranges are tuples `(low, high)` (or `{"low": ..., "high": ...}` as in a spec): whole-
number bounds make an `IntegerParameter`, others a `RealParameter`; lists are the
values of a `CategoricalParameter` (`[True, False]` a `BooleanParameter`). Every
bound and value is checked by the scenario's own checks before anything runs
(ScenarioError naming the key). Runs use one `seed` (common random numbers: every
experiment the same seed), so differences between experiments are the inputs'.

EMA Workbench 3.0 warns (DeprecationWarning) that names which are not Python
identifiers are deprecated; the flat keys have dots, and work in 3.0's sampling,
evaluators, PRIM and feature scoring. That one warning is silenced while the model is
built; `identifier(key)` gives an identifier form should a later version refuse them.

Needs the `explore` extra (`pip install -e .[explore]`). Used by tests/test_explore.py
and users' notebooks; `run.py discover` does scenario discovery on sweep folders.
"""

import warnings
from dataclasses import dataclass
from typing import Any

from experiments.outcomes import OutcomeError, OutcomeName, check_in_run, parse_name
from model import ScenarioError, load_scenario, simulate
from model.config.scale_check import check_scale
from model.config.scenario import LoadedScenario, override_texts

DEFAULT_OUTCOMES = ("FY2021.encounters",)


@dataclass(frozen=True)
class BorderRun:
    """The callable an EMA `Model` runs: one simulation with the experiment's values
    (flat keys) set, returning the outcomes by name. Picklable (a module-level class
    holding a loaded scenario), so EMA's MultiprocessingEvaluator can send it."""

    loaded: LoadedScenario
    seed: int
    scale: int
    outcomes: tuple[OutcomeName, ...]

    def __call__(self, **values: Any) -> dict[str, float]:
        result = simulate(self.loaded, seed=self.seed, scale=self.scale, set=values)
        years = result.fiscal_years()
        return {o.text: float(years.loc[o.fiscal_year, o.column]) for o in self.outcomes}


def identifier(key: str) -> str:
    """A flat key as a Python identifier (`apprehension_prob.tucson` ->
    `apprehension_prob__tucson`), for tools that refuse dotted names."""
    return key.replace(".", "__").replace("-", "_")


def border_model(scenario: "str | LoadedScenario" = "historical", *, scale: int = 1000,
                 seed: int = 0, start=None, end=None,
                 uncertainties: "dict[str, Any] | None" = None,
                 levers: "dict[str, Any] | None" = None,
                 outcomes=DEFAULT_OUTCOMES, name: str = "border"):
    """An `ema_workbench.Model` running `scenario` at `scale` with `seed` (optionally a
    shorter run, `start`/`end`); see the module doc for `uncertainties`, `levers` and
    `outcomes`. Raises ScenarioError (naming the key or outcome) before any run."""
    from ema_workbench import Model, ScalarOutcome

    loaded = load_scenario(scenario, start=start, end=end)
    check_scale(loaded, scale)
    if isinstance(outcomes, str):
        outcomes = [outcomes]
    names = tuple(parse_name(o, "outcomes") for o in outcomes)
    if not names:
        raise OutcomeError("outcomes: give at least one, e.g. FY2021.encounters")
    for o in names:
        check_in_run(o, loaded.start, loaded.end, "outcomes")
    uncertainties, levers = dict(uncertainties or {}), dict(levers or {})
    both = [k for k in uncertainties if k in levers]
    if both:
        raise ScenarioError(f"uncertainties: {both[0]}: also a lever; a key is either chosen "
                            f"(a lever) or uncertain")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*not a valid Python identifier",
                                category=DeprecationWarning)
        model = Model(name, function=BorderRun(loaded, seed, scale, names))
        model.uncertainties = [parameter(loaded, "uncertainties", k, v)
                               for k, v in uncertainties.items()]
        model.levers = [parameter(loaded, "levers", k, v) for k, v in levers.items()]
        model.outcomes = [ScalarOutcome(o.text) for o in names]
    return model


def parameter(loaded: LoadedScenario, table: str, key: str, spec: Any):
    """One EMA parameter named `key` from a range or a list, each bound or value checked
    by the scenario's own checks (ScenarioError `table: key: ...`)."""
    from ema_workbench import (BooleanParameter, CategoricalParameter, IntegerParameter,
                               RealParameter)

    where = f"{table}: {key}"
    if isinstance(spec, dict):
        if set(spec) != {"low", "high"}:
            raise ScenarioError(f"{where}: a range is {{'low': ..., 'high': ...}}, got "
                                f"{spec!r:.80}")
        spec = (spec["low"], spec["high"])
    if isinstance(spec, tuple):
        if len(spec) != 2 or not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                     for v in spec):
            raise ScenarioError(f"{where}: a range is (low, high) with two numbers, got "
                                f"{spec!r:.80}")
        low, high = spec
        if not low < high:
            raise ScenarioError(f"{where}: low {low} is not below high {high}")
        _check(loaded, where, key, [low, high])
        if isinstance(low, int) and isinstance(high, int):
            return IntegerParameter(key, low, high)
        return RealParameter(key, float(low), float(high))
    if isinstance(spec, list):
        if len(spec) < 2 or len(set(map(repr, spec))) != len(spec):
            raise ScenarioError(f"{where}: a list needs two or more different values, got "
                                f"{spec!r:.80}")
        _check(loaded, where, key, spec)
        if sorted(spec, key=repr) == [False, True] and all(isinstance(v, bool) for v in spec):
            return BooleanParameter(key)
        return CategoricalParameter(key, spec)
    raise ScenarioError(f"{where}: expected a range (low, high) or a list of values, got "
                        f"{spec!r:.80}")


def _check(loaded: LoadedScenario, where: str, key: str, values: list) -> None:
    """Each value through `--set`'s parser and the scenario's checks."""
    for value in values:
        try:
            load_scenario(loaded, override_texts({key: value}, where.split(":")[0]))
        except ScenarioError as exc:
            text = str(exc).replace(f"--set {key}: ", "")
            raise ScenarioError(f"{where}: {value!r:.40} refused: {text}") from None
