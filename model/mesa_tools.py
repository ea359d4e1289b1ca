"""What Mesa's own tools (`mesa.batch_run`, `SolaraViz`, `make_plot_component`,
`make_space_component`) need from `BorderModel`, at no cost to a run that does not use them.

Owned here, called only by `model.model.BorderModel`:

- `model_arguments`: BorderModel's keyword arguments as Mesa passes them: `seed=None` (a
  seed drawn from OS entropy), `rng` (an int, or digits from SolaraViz's text box), dotted
  keywords (`"apprehension_prob.tucson": 0.8`, `"policies.title42.end": "2021-06-30"`,
  as `batch_run`'s parameters give them) turned into the `--set` texts `load_scenario`
  already reads, and the scenario object Mesa builds when SolaraViz's Reset rebuilds the
  model (`type(model.scenario)(**changed)`): read back as the same scenario file, seed and
  scale with the changed parameters.
- `mesa_scenario`: the `BorderScenario` a model hands to `mesa.Model`, of a class that
  remembers the scenario file, seed and scale (so that Reset can find them).
- `RecorderDataCollector`: a real `mesa.DataCollector` whose rows are read from the
  recorder's daily arrays when something asks for them (nothing is collected per day).
- `sector_space`: a `mesa.space.ContinuousSpace` holding the nine Border Patrol sector
  agents at their headquarters (`ui.places`), built the first time `model.space` is read.

docs/mesa.md is the user's guide to all of this.
"""

import copy
import secrets
import warnings

import mesa
import numpy as np
from mesa.experimental.scenarios import Scenario

from model.config.scenario import BorderScenario, LoadedScenario, override_texts
from model.config.validation import ScenarioError
from model.state.recorder import COLUMN_INDEX

# The daily series a BorderModel's datacollector reports (recorder column names, in people).
MODEL_SERIES = ("encounters", "title42_expulsions", "port_returns", "mpp_enrollments",
                "releases", "removals", "evasions", "cbp_custody", "detention_population",
                "mpp_waiting", "metering_waiting", "in_us", "court_backlog")
SEED_BITS = 31  # a seed drawn for seed=None is below 2**31 (as Mesa's own drawn seeds are)


# -- arguments -----------------------------------------------------------------------
def model_arguments(scenario, *, seed, scale, params, rng, settings: dict):
    """(scenario, params, seed, scale, overrides) for `load_scenario` and the model, from
    BorderModel's keyword arguments as a user, `batch_run` or SolaraViz passes them."""
    if params is not None and not isinstance(params, dict):
        raise ScenarioError(
            f"params: expected a table like {{'apprehension_prob': {{'tucson': 0.8}}}}, got "
            f"{params!r} (mesa.batch_run iterates a dict's keys: give dotted keys instead, "
            f"e.g. parameters={{'apprehension_prob.tucson': [0.6, 0.8]}}, or wrap the dict "
            f"in a list)")
    if rng is not None and seed == 0:
        seed = _rng_seed(rng)
    if isinstance(scenario, Scenario):  # Mesa's rebuild of the model (SolaraViz's Reset)
        scenario, params, seed, scale = _from_mesa_scenario(scenario, params, seed, scale)
    if seed is None:  # batch_run's iterations, Mesa's rng=None: a fresh seed, recorded
        seed = secrets.randbits(SEED_BITS)
    return scenario, params, seed, scale, setting_texts(settings)


def _rng_seed(rng):
    """Mesa passes the seed as `rng`: an int, or the digits typed into SolaraViz's box."""
    if isinstance(rng, str) and rng.strip().isdigit() and len(rng.strip()) <= 20:
        return int(rng)  # (a page's text box: no 5,000-digit numbers)
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        return int(rng)
    raise ScenarioError(f"rng: must be a whole number >= 0 (this model keys its random "
                        f"numbers on an integer seed), got {rng!r}")


def _from_mesa_scenario(made: Scenario, params, seed, scale):
    """Mesa rebuilds a model as `type(model)(scenario=type(model.scenario)(**changed), ...)`.
    Read that back as the model's scenario file (remembered by `mesa_scenario`'s class;
    "historical" for a plain BorderScenario), its parameters that differ from the class's
    defaults as overrides, and the model's seed and scale unless given."""
    kind = type(made)
    if not isinstance(made, BorderScenario):
        raise ScenarioError(f"scenario: expected a scenario name, a .toml path or a "
                            f"BorderScenario, got a {kind.__name__}")
    defaults = kind._scenario_defaults
    changed = {k: copy.deepcopy(v) for k, v in vars(made).items()
               if k in defaults and not _same(v, defaults[k])}
    if changed:
        params = {**changed, **(params or {})}
    if made.rng is not None and seed == 0:
        seed = _rng_seed(made.rng)
    elif seed == 0:
        seed = getattr(kind, "_border_seed", seed)
    if scale == 1:
        scale = getattr(kind, "_border_scale", scale)
    return getattr(kind, "_border_loaded", "historical"), params, seed, scale


def _same(a, b) -> bool:
    try:
        return bool(a == b)
    except ValueError:  # arrays
        return False


def mesa_scenario(loaded: LoadedScenario, seed: int, scale: int) -> BorderScenario:
    """The model's `BorderScenario` (the same values `loaded.make_scenario(seed)` gives), of a
    subclass whose defaults are this scenario's parameters and which remembers the loaded
    scenario, seed and scale: Mesa's Reset builds `type(model.scenario)(**changed)`, and
    `model_arguments` reads the file back from that class."""
    kind = _scenario_class(loaded, seed, scale)
    made = kind(rng=seed, **copy.deepcopy(loaded.parameters))
    Scenario._ids.pop(kind, None)  # Mesa counts instances per class: no entry per model
    return made


def _scenario_class(loaded: LoadedScenario, seed: int, scale: int) -> type:
    kind = type("BorderScenario", (BorderScenario,),
                {"__module__": __name__, "_border_loaded": loaded, "_border_seed": seed,
                 "_border_scale": scale, "__reduce_ex__": _reduce_scenario})
    kind._scenario_defaults = {**BorderScenario._scenario_defaults, **loaded.parameters}
    return kind


def _reduce_scenario(made, protocol):
    """Pickle a model's scenario (a model pickles, as before): its class is remade."""
    state = object.__reduce_ex__(made, protocol)[2]
    kind = type(made)
    return (_blank_scenario, (kind._border_loaded, kind._border_seed, kind._border_scale),
            state)


def _blank_scenario(loaded, seed, scale):
    kind = _scenario_class(loaded, seed, scale)
    return kind.__new__(kind)


def setting_texts(settings: dict) -> list[str]:
    """Dotted keyword arguments as `--set key=value` texts (nested dicts flattened):
    {"apprehension_prob.tucson": 0.8, "policies.title42.end": date(2021, 6, 30)} ->
    ["apprehension_prob.tucson=0.8", "policies.title42.end=2021-06-30"], by the one
    converter `simulate(set=...)` uses (`override_texts`); `load_scenario` checks them
    (an unknown key or bad value raises ScenarioError naming it)."""
    return override_texts(_flat(settings), what="BorderModel")


def _flat(settings: dict) -> dict:
    flat = {}
    for key, value in settings.items():
        if isinstance(value, dict) and value:
            flat.update(_flat({f"{key}.{k}": v for k, v in value.items()}))
        else:
            flat[key] = value
    return flat


# -- data ------------------------------------------------------------------------------
class RecorderDataCollector(mesa.DataCollector):
    """A `mesa.DataCollector` with one row per day run, read from the recorder: `model_vars`
    maps "date", "seed" (the run's, drawn or given: batch_run's rows show it in place of
    the None it passed) and each of `MODEL_SERIES` to its daily values (in people, rounded as
    daily.parquet is), and `_collection_steps` holds the steps those rows follow (1, 2, ...,
    days run), as `mesa.batch_run` reads them. Rows are filled when read, never per day;
    `collect()` (which Mesa's own models call each step) has nothing to add.

    Read while the model has days left, as `batch_run` does after `max_steps` (1000 by
    default), it warns once: the data stop before the run's end."""

    def __init__(self, model, series: tuple[str, ...] = MODEL_SERIES):
        unknown = [s for s in series if s not in COLUMN_INDEX]
        if unknown:
            raise ScenarioError(f"datacollector: unknown series {unknown} (see docs/outputs)")
        self._model, self._series, self._rows = model, tuple(series), 0
        self._warned = False
        super().__init__(model_reporters={"date": "today", "seed": "seed",
                                          **{s: s for s in series}})
        self._ready = True

    # Mesa's DataCollector assigns these in __init__; here they are views of the recorder.
    @property
    def model_vars(self) -> dict[str, list]:
        self._fill()
        return self._vars

    @model_vars.setter
    def model_vars(self, value) -> None:
        self._vars = value

    @property
    def _collection_steps(self) -> list[int]:
        self._fill()
        model = self._model
        if model.running and 0 < model.day < model.days_total and not self._warned:
            self._warned = True
            warnings.warn(
                f"BorderModel: data read after {model.day} of the run's {model.days_total} "
                f"days (to {model.calendar.date(model.day - 1)}; the run ends "
                f"{model.calendar.end}): mesa.batch_run stops at max_steps (1000 by "
                f"default); pass max_steps=model.days_total (or more) for whole runs",
                RuntimeWarning, stacklevel=2)
        return self._steps

    @_collection_steps.setter
    def _collection_steps(self, value) -> None:
        self._steps = value

    def collect(self, model) -> None:
        """Nothing to do: the rows are the recorder's (read when asked for)."""

    def _fill(self) -> None:
        model = self._model
        if not self.__dict__.get("_ready") or model.day <= self._rows:
            return
        first, days = self._rows, model.day
        frame = model.recorder.daily_frame(model.calendar.dates)
        self._vars["date"].extend(frame["date"].iloc[first:days].tolist())
        self._vars["seed"].extend([model.seed] * (days - first))  # batch_run's rows show it
        for name in self._series:
            self._vars[name].extend(frame[name].iloc[first:days].tolist())
        self._steps.extend(range(first + 1, days + 1))
        self._rows = days


# -- space -----------------------------------------------------------------------------
SPACE_MARGIN = 1.5  # degrees around the sectors' headquarters


def sector_space(model) -> "mesa.space.ContinuousSpace":
    """The nine sector agents in a ContinuousSpace of (longitude, latitude) degrees, at
    their headquarters as `ui.places` gives them (the browser app's map uses the same)."""
    from mesa.space import ContinuousSpace

    from ui.places import SECTOR_STATIONS

    xs, ys = zip(*SECTOR_STATIONS.values())
    space = ContinuousSpace(x_max=max(xs) + SPACE_MARGIN, y_max=max(ys) + SPACE_MARGIN,
                            torus=False, x_min=min(xs) - SPACE_MARGIN,
                            y_min=min(ys) - SPACE_MARGIN)
    for sector in model.sectors:
        space.place_agent(sector, SECTOR_STATIONS[sector.key])
    return space


def sector_encounters(model, sector) -> int:
    """People encountered in `sector` on the last day run (0 before the first)."""
    if model.day == 0:
        return 0
    value = model.recorder.values[model.day - 1, COLUMN_INDEX[f"encounters_{sector.key}"]]
    return int(round(value * model.scale))
