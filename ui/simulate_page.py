"""The main page: the controls in the sidebar; the date, the policies in force, the map,
the sectors' numbers and the charts, all drawn from the session's latest `Frame`."""

import ipyvuetify as v
import numpy as np
import solara
import traitlets

from ui import html, session
from ui.blit import IMAGE_FORMAT
from ui.border_map import BorderMap
from ui.charts import CHARTS, LiveChart
from ui.controls import RunBar, SettingsPanel


@solara.component
def MapView(frame: session.Frame):
    border_map = solara.use_memo(BorderMap, [])

    def draw() -> bytes:
        border_map.update(frame.view)
        return border_map.image()
    picture = solara.use_memo(draw, [frame])
    with solara.Column(classes=["border-map"], gap="0px"):
        solara.Image(picture, format=IMAGE_FORMAT)
        if border_map.unplaced:
            solara.Text(f"not on the map (no coordinates): {', '.join(sorted(border_map.unplaced))}",
                        style={"font-size": "80%"})


@solara.component
def SectorTable(frame: session.Frame):
    view = frame.view
    with solara.Column(classes=["sector-table"], gap="4px"):
        html.paragraph("(people)", bold=view.date.isoformat())
        html.table(["sector", "apprehended", "custody / capacity", "MPP city", "waiting"],
                   [[s.name, f"{s.apprehended:,}", f"{s.in_custody:,} / {s.capacity:,}",
                     s.mpp_city, f"{s.mpp_waiting:,}"] for s in view.sectors],
                   right={1, 2, 4})
        html.paragraph(f"{view.detained:,} of {view.detention_capacity:,} usable beds",
                       bold="ICE detention:")
        html.paragraph(f"Flights flown in the {view.flight_days} day(s) to "
                       f"{view.date.isoformat()}:")
        html.lines([f"{f.date}: {f.origin} → {f.destination}, {f.passengers:,} people"
                    for f in view.flights] or ["none"], classes=["flights-list"])


class FrameAck(v.VuetifyTemplate):
    """Says which frame the browser has shown: `acked` is set, in the browser, to
    `frame` when it arrives (after the frame's images, sent before it). The play loop
    waits for it (`session.RunState.wait_shown`)."""

    frame = traitlets.Int(-1).tag(sync=True)
    acked = traitlets.Int(-1).tag(sync=True)
    template = traitlets.Unicode("""<template><span class="frame-ack" style="display:none">
{{ frame }}</span></template>
<script>
module.exports = {
  mounted() { this.acked = this.frame; },
  watch: { frame(value) { this.acked = value; } },
};
</script>""").tag(sync=True)


@solara.component
def ChartGrid(frame: session.Frame, state: session.RunState):
    cal = state.model.calendar
    charts = solara.use_memo(
        lambda: [LiveChart(spec, np.datetime64(cal.start, "D"), np.datetime64(cal.end, "D"))
                 for spec in CHARTS], [state])

    def watch():  # the play loop waits for this page to draw each frame
        state.viewers += 1

        def unwatch():
            state.viewers -= 1
        return unwatch
    solara.use_effect(watch, [state])

    def draw():
        return [(chart.update(frame.series), chart.image()) for chart in charts]
    drawn = solara.use_memo(draw, [frame, charts])
    with solara.Row(style={"flex-wrap": "wrap"}, gap="8px"):
        for chart, (caption, picture) in zip(charts, drawn):
            with solara.Column(classes=["chart", f"chart-{chart.spec.key}"], gap="0px",
                               style={"width": "360px"}):
                solara.Image(picture, format=IMAGE_FORMAT)
                solara.Text(caption, classes=["caption"], style={"font-size": "75%"})
    FrameAck.element(frame=frame.number, on_acked=state.shown)


@solara.component
def PoliciesInForce(frame: session.Frame):
    with solara.Details(f"Policies in force on {frame.view.date.isoformat()} "
                        f"({len(frame.view.policies)})", expand=True):
        html.lines(list(frame.view.policies) or ["none"], classes=["policies-in-force"])


@solara.component
def SimulatePage():
    """The sidebar (controls) and the run (`RunView`, the one component that reads the
    session's frame: see `ui.controls.RunBar`)."""
    def first_run():
        if session.run.value is None:
            session.reset()
    solara.use_effect(first_run, [])
    with solara.Sidebar():
        with solara.Card("Run controls", margin=0):
            RunBar()
        SettingsPanel()
    if session.message.value:
        solara.Error(session.message.value, classes=["page-message"])
    RunView()


@solara.component
def RunView():
    """The run as of its latest frame: description, map, sectors, policies, charts."""
    state, frame = session.run.value, session.frame.value
    if state is None or frame is None:
        solara.Info("Building the model...")
        return
    html.paragraph(f"seed {state.settings.seed}, scale {state.settings.scale} (one agent "
                   f"for {state.settings.scale} people), {state.model.calendar.start} to "
                   f"{state.model.calendar.end}", bold=state.model.loaded.description)
    with solara.Columns([3, 2]):
        MapView(frame)
        with solara.Column():
            SectorTable(frame)
            PoliciesInForce(frame)
    ChartGrid(frame, state)
