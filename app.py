"""`solara run app.py` serves the browser app (ui/app.py); `python run.py ui` does the same."""

from ui.app import Layout, routes  # noqa: F401  (what solara run looks for)
