"""Agent-based model of US southwest-border enforcement, 2018-2021.

`simulate()` runs a scenario in memory and returns a `RunResult`; `BorderModel`
is the Mesa model behind it; `load_scenario` reads and checks a scenario.
"""

__version__ = "0.2.0"

from model.model import BorderModel  # noqa: E402
from model.config.scenario import BorderScenario, LoadedScenario, load_scenario  # noqa: E402
from model.simulate import RunResult, simulate  # noqa: E402
from model.config.validation import ScenarioError  # noqa: E402

__all__ = ["BorderModel", "BorderScenario", "LoadedScenario", "RunResult", "ScenarioError",
           "load_scenario", "simulate"]
