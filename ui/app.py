"""The browser app: `python run.py ui` (or `solara run app.py`) serves it on localhost.

Three pages: Simulate (controls, map, charts), Compare (scenarios on common random
numbers) and Fit (the seed articles' figures against the current run). Everything
the page loads comes from this machine: Solara's front-end from the solara-assets
package, charts and map as images drawn here; telemetry is off.
"""

import gc
import os
import threading

os.environ["SOLARA_TELEMETRY_MIXPANEL_ENABLE"] = "false"

import solara  # noqa: E402

try:  # when imported by a running server, its settings were read before this module
    import solara.server.settings as _server_settings

    _server_settings.telemetry.mixpanel_enable = False
except ImportError:  # solara without its server (component tests)
    pass

from model import BorderModel  # noqa: E402
from ui.compare_page import ComparePage  # noqa: E402
from ui.fit_page import FitPage  # noqa: E402
from ui.simulate_page import SimulatePage  # noqa: E402

TITLE = "Border enforcement simulator"


def warm_up() -> None:
    """Load the model's compiled kernels before the first visitor needs them (a second
    or more per process), by building and stepping a small run in the background."""
    model = BorderModel("historical", scale=1000, start="2019-12-01", end="2020-01-10")
    while model.running:
        model.step()


def start_up() -> None:
    """Warm up, then move every object alive by then (the libraries' hundreds of thousands)
    out of the garbage collector's sight (`gc.freeze`): a full collection stops every
    page's play loop, and with them in it each took ~0.15 s longer."""
    warm_up()
    gc.collect()
    gc.freeze()


threading.Thread(target=start_up, name="warm-up", daemon=True).start()


@solara.component
def Layout(children=[]):  # noqa: B006 (Solara's layout signature)
    """The app bar with a link per page (by its label), and the page."""
    _, pages = solara.use_route()
    solara.Title(TITLE)
    with solara.AppLayout(title=TITLE, navigation=False, color="#37474f"):
        with solara.AppBar():
            for page in pages:
                with solara.Link(page):
                    solara.Button(page.label, text=True, dark=True,
                                  classes=[f"nav-{page.path.strip('/') or 'simulate'}"])
        solara.Column(children=children)


routes = [
    solara.Route(path="/", component=SimulatePage, label="Simulate", layout=Layout),
    solara.Route(path="compare", component=ComparePage, label="Compare"),
    solara.Route(path="fit", component=FitPage, label="Fit"),
]
