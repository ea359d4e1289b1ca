"""The browser app (Solara): run scenarios, set policies, watch the border, compare, check the fit.

`ui.app` is the app (`python run.py ui`); `ui.settings` turns the page's controls into a
scenario's overrides and scenario files; `ui.session` holds each visitor's run;
`ui.day_view`, `ui.border_map` and `ui.charts` draw it; `ui.compare_page` and
`ui.fit_page` are the other two pages.
"""
