"""Mesa's own SolaraViz page for BorderModel: `solara run ui/mesa_viz.py` (docs/mesa.md).

The nine Border Patrol sectors drawn by Mesa's `make_space_component` at their
headquarters (a marker's size and colour: the sector's encounters on the last day run),
over the coast and borders of `ui.places`; the main daily series drawn by
`make_plot_component` from the model's datacollector; Mesa's Step, Play and Reset
(Reset rebuilds the same scenario file, scale and seed, or the seed typed in).

It is Mesa's stock page, run by Mesa's components alone (the project's own app,
`python run.py ui`, is the fuller one). Chosen when the server starts, from the
environment: BORDER_MESA_SCENARIO (a name in scenarios/ or a .toml path; default
historical), BORDER_MESA_SCALE (people per agent; default 1000), BORDER_MESA_END
(a last day, YYYY-MM-DD, for a shorter run). Each visitor gets their own model.
"""

import os

import solara
from matplotlib.colors import to_hex
from mesa.visualization import SolaraViz, make_plot_component, make_space_component
from mesa.visualization.components import AgentPortrayalStyle

from model.config.scenario import load_scenario
from model.config.validation import ScenarioError, parse_text
from model.model import BorderModel
from ui.places import SECTOR_STATIONS, outline

MIN_SCALE = 20  # finer runs hold millions of agents: too much for a page anyone can open
FLOWS = {"encounters": "tab:red", "releases": "tab:green", "title42_expulsions": "tab:orange",
         "mpp_enrollments": "tab:purple"}
STOCKS = {"detention_population": "tab:blue", "mpp_waiting": "tab:purple",
          "cbp_custody": "tab:brown"}
QUIET = "#4c72b0"  # a sector with no encounters on the day


def settings_from_environment(environ=os.environ) -> dict:
    """BorderModel's keyword arguments from BORDER_MESA_*; checked now, so a bad value
    stops the server with one line naming the variable (ScenarioError)."""
    scenario = environ.get("BORDER_MESA_SCENARIO", "historical")
    scale = parse_text("BORDER_MESA_SCALE", environ.get("BORDER_MESA_SCALE", "1000"), int)
    if scale < MIN_SCALE:
        raise ScenarioError(f"BORDER_MESA_SCALE: must be at least {MIN_SCALE}, got {scale}")
    end = environ.get("BORDER_MESA_END") or None
    load_scenario(scenario, end=end)  # the file, its checks, the end inside its dates
    return {"scenario": scenario, "scale": scale, "end": end}


SETTINGS = settings_from_environment()


def sector_portrayal(sector) -> AgentPortrayalStyle:
    """A sector's marker: area and colour grow with its encounters on the last day run."""
    people = sector.encounters_last_day
    share = min(people / 2000, 1.0)  # a busy sector-day: ~2,000 people
    return AgentPortrayalStyle(
        size=60 + 900 * share,
        color=QUIET if people == 0 else to_hex((0.85, 0.45 * (1 - share), 0.1)),
        edgecolors="black", linewidths=0.8,  # zorder left at 1: Mesa 3.5 draws no other
        tooltip={"sector": sector.name, "encounters": people})


def draw_map(ax) -> None:
    """Coast, borders and sector names under the markers."""
    for line in outline()["coast"] + outline()["borders"]:
        xs, ys = zip(*line)
        ax.plot(xs, ys, color="0.6", linewidth=0.7, zorder=0)
    for key, (x, y) in SECTOR_STATIONS.items():
        ax.annotate(key.replace("_", " "), (x, y), xytext=(0, -14), textcoords="offset points",
                    ha="center", fontsize=7, color="0.25")
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])


def run_info(model):
    """Which run is shown (the model's own scenario, seed and day: what Reset rebuilt)."""
    return solara.Text(f"{model.loaded.name} · seed {model.seed} · 1 agent = {model.scale} "
                       f"people · {model.today} · day {model.day} of {model.days_total}",
                       classes=["border-run-info"])


model_params = {
    "rng": {"type": "InputText", "value": "0", "label": "Seed (Reset to apply)"},
    **SETTINGS,
}
components = [
    run_info,
    make_space_component(sector_portrayal, post_process=draw_map),
    make_plot_component(FLOWS),
    make_plot_component(STOCKS),
]


@solara.component
def Page():
    """One BorderModel per visitor, shown by Mesa's SolaraViz."""
    model = solara.use_memo(lambda: BorderModel(seed=0, **SETTINGS), [])
    SolaraViz(model, components=components, model_params=model_params,
              name=f"BorderModel: {SETTINGS['scenario']}")


page = Page()
