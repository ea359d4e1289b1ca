"""Agent-based model of US southwest-border enforcement, 2018-2021."""

from model.model import BorderModel
from model.scenario import BorderScenario, LoadedScenario, load_scenario
from model.validation import ScenarioError

__version__ = "0.1.0"
__all__ = ["BorderModel", "BorderScenario", "LoadedScenario", "ScenarioError", "load_scenario"]
