"""The page's components rendered with `solara.render` (no browser): controls, run bar, charts, map, fit."""

import html
import math
import threading
import time

import ipyvuetify as v
import ipywidgets
import numpy as np
import pytest
import solara

from model.state.recorder import COLUMN_INDEX
from ui import session
from ui import settings as ui_settings
from calibration.seed_figures import SEED_FIGURES
from ui import controls
from ui.controls import NameAndSave, RunBar, SaveLoad, SettingsPanel
from ui.day_view import DayView
from ui.fit_page import FitPage, run_name, shown
from ui.simulate_page import SimulatePage

WINDOW = {"start": "2019-01-01", "end": "2019-03-01"}
RENDERED = []  # render contexts to close after each test (their tasks stop with them)


@pytest.fixture(autouse=True)
def fresh_session():
    """Each test starts as a new visitor: a short run of historical at scale 50."""
    session.settings.value = ui_settings.baseline("historical", scale=50).replace(**WINDOW)
    session.run.value = None
    session.frame.value = None
    session.message.value = ""
    session.playing.value = False
    assert session.reset()
    yield
    session.playing.value = False
    while RENDERED:
        RENDERED.pop().close()


def render(element):
    """Render a component like a browser session would; closed after the test."""
    _box, rc = solara.render(element, handle_error=False)
    RENDERED.append(rc)
    return rc


def click(rc, label: str) -> None:
    button = rc.find(v.Btn, children=[label])
    button.assert_single()
    button.widget.click()


def widgets(rc) -> list:
    """Every widget under the rendered component, depth first."""
    found, todo = [], [rc.container]
    while todo:
        widget = todo.pop()
        found.append(widget)
        todo += [c for c in getattr(widget, "children", []) or []
                 if isinstance(c, ipywidgets.Widget)]
        for slot in getattr(widget, "v_slots", []) or []:
            children = slot.get("children", [])
            todo += [c for c in (children if isinstance(children, list) else [children])
                     if isinstance(c, ipywidgets.Widget)]
    return found


def texts(rc) -> str:
    """Everything the rendered page says: text, HTML, alerts, labels and values."""
    parts = []
    for widget in widgets(rc):
        for name in ("value", "v_model", "unsafe_innerHTML", "label", "description"):
            value = getattr(widget, name, None)
            if isinstance(value, str):
                parts.append(html.unescape(value))
        parts += [c for c in getattr(widget, "children", []) or [] if isinstance(c, str)]
    return "\n".join(parts)


def test_step_buttons_advance_the_date():
    rc = render(RunBar())
    assert "day 0 of 60" in texts(rc)
    click(rc, "+1 day")
    assert session.run.value.model.day == 1
    assert "2019-01-01 · day 1 of 60 · paused" in texts(rc)
    click(rc, "+1 week")
    assert "2019-01-08 · day 8 of 60" in texts(rc)


def test_the_run_buttons_follow_its_end():
    rc = render(RunBar())
    click(rc, "+1 week")
    step_day = rc.find(v.Btn, children=["+1 day"])
    assert not step_day.widget.disabled
    session.step(59)  # to the end of the 60 days
    assert "2019-03-01 · day 60 of 60 · finished" in texts(rc)
    assert step_day.widget.disabled and rc.find(v.Btn, children=["Play"]).widget.disabled
    assert session.reset() and not step_day.widget.disabled
    assert "day 0 of 60 · paused" in texts(rc)


def test_a_frame_walks_the_page_once_and_redraws_only_the_run(monkeypatch):
    """Each component that reads the frame costs a walk of the page's whole tree (most of
    it the sidebar's controls) per frame: only RunView reads it, and the run bar's
    status line follows the frame all the same."""
    import reacton.core

    walks = []
    walk = reacton.core._RenderContext._render

    def counting(self, element, *args, **kwargs):
        if element.component is solara.AppLayout:
            walks.append(1)
        return walk(self, element, *args, **kwargs)
    monkeypatch.setattr(reacton.core._RenderContext, "_render", counting)
    rc = render(solara.AppLayout(children=[SimulatePage()]))  # the sidebar needs a layout
    walks.clear()
    for _ in range(3):
        session.step(7)
    assert "2019-01-21 · day 21 of 60 · paused" in texts(rc)
    assert "21 days" not in texts(rc) and len(walks) == 3


def test_play_loops_draw_one_at_a_time_first_come_first_served():
    turns = session.Turns(timeout=10)
    order, inside, most = [], [0], [0]
    release = threading.Event()

    def loop(name):
        with turns.turn():
            inside[0] += 1
            most[0] = max(most[0], inside[0])
            order.append(name)
            if name == "a":
                release.wait(10)
            inside[0] -= 1

    threads = []
    for name in "abc":  # b asks while a draws, then c: they follow in that order
        threads.append(threading.Thread(target=loop, args=(name,)))
        threads[-1].start()
        deadline = time.monotonic() + 10
        while len(turns._queue) < len(threads) and time.monotonic() < deadline:
            time.sleep(0.01)
    assert order == ["a"] and len(turns._queue) == 3
    release.set()
    for thread in threads:
        thread.join(10)
    assert order == ["a", "b", "c"] and most[0] == 1 and not turns._queue


def test_a_turn_not_given_in_time_is_taken():
    turns = session.Turns(timeout=0.2)
    release, took = threading.Event(), []

    def hold():
        with turns.turn():
            release.wait(10)
    holder = threading.Thread(target=hold)
    holder.start()
    while not turns._queue:
        time.sleep(0.01)
    started = time.monotonic()
    with turns.turn():
        took.append(time.monotonic() - started)
    release.set()
    holder.join(10)
    assert 0.15 < took[0] < 5


def test_mpp_switch_turns_every_phase_off_and_reset_applies_it():
    rc = render(SettingsPanel())
    switch = rc.find(v.Switch, label="MPP (every phase and the wind-down)")
    switch.assert_single()
    switch.widget.v_model = False
    s = session.settings.value
    assert not any(s.policies[p]["enabled"] for p in ("mpp_2019", "mpp_2020", "mpp_2021",
                                                       "mpp_wind_down"))
    assert "policies.mpp_2019.enabled: on -> off" in texts(rc)
    assert "press Reset" in texts(rc)
    assert session.reset()
    session.step(59)
    assert session.frame.value.series["mpp_enrollments"].sum() == 0


def test_refused_settings_say_why_and_keep_the_run():
    rc = render(SettingsPanel())
    before = session.run.value
    session.settings.value = session.settings.value.with_policy("title42", "end", "2019-01-01")
    assert "These settings are refused" in texts(rc)
    assert "policies.title42.end: 2019-01-01 is before start 2020-03-21" in texts(rc)
    assert not session.reset()
    assert session.run.value is before
    assert "Not applied" in session.message.value


def test_simulate_page_draws_map_charts_and_captions():
    rc = render(SimulatePage())
    session.step(40)
    page = texts(rc)
    assert "people waiting in Mexico" in page and "2019-02-09" in page
    # the map and the seven charts are JPEG images (quick to encode as a run plays)
    images = [w for w in widgets(rc) if getattr(w, "format", None) == "jpeg"]
    assert len(images) == 8 and all(w.value[:3] == b"\xff\xd8\xff" for w in images)


def test_day_view_matches_the_recorder():
    session.step(30)
    model = session.run.value.model
    view = DayView.of(model)
    row = model.recorder.values[model.day - 1] * model.scale
    assert sum(s.apprehended for s in view.sectors) == pytest.approx(
        row[COLUMN_INDEX["encounters"]])
    assert sum(s.mpp_waiting for s in view.sectors) == pytest.approx(
        row[COLUMN_INDEX["mpp_waiting"]])
    assert all(s.in_custody <= s.capacity for s in view.sectors)
    assert view.date.isoformat() == "2019-01-30"
    assert np.all(session.Frame.of(model).series["dates"][-1] == np.datetime64("2019-01-30"))


def test_fit_page_judges_only_covered_figures():
    session.settings.value = ui_settings.baseline("historical", scale=50).replace(
        start="2019-01-01", end="2020-01-31")
    assert session.reset()
    rc = render(FitPage())
    session.step(400)
    page = texts(rc)
    assert "not reached yet" in page  # FY2021 figures
    assert "the run starts after this period begins" not in page.split("May 2019")[0]
    assert "Encounters, May 2019" in page and ("met" in page)


def test_play_runs_to_the_end_once_and_records_its_time():
    state = session.run.value
    session.playing.value = True
    with state.playing_lock:  # a loop already running: a second one leaves at once
        session.play_loop()
        assert state.model.day == 0
    session.play_loop()
    assert not state.model.running and state.model.day == 60
    assert state.played[0] == 60 and state.played[1] > 0
    assert not session.playing.value and session.frame.value.view.finished


def test_ice_card_switches_metering_and_interior_arrests():
    """The ICE card's switches reach the run: without metering nobody joins a list
    (those on the lists on the first day only leave them); without interior arrests
    ICE arrests nobody inside the US."""
    session.step(30)
    before = session.frame.value.series
    assert before["interior_arrests"].sum() > 0
    rc = render(SettingsPanel())
    for label in ("Metering at the ports (metering_2018)",
                  "Interior arrests (interior_enforcement_2019)"):
        switch = rc.find(v.Switch, label=label)
        switch.assert_single()
        switch.widget.v_model = False
    assert "policies.metering_2018.enabled: on -> off" in texts(rc)
    assert "policies.interior_enforcement_2019.enabled: on -> off" in texts(rc)
    assert session.reset()
    session.step(30)
    after = session.frame.value.series
    assert after["interior_arrests"].sum() == 0
    assert after["metering_waiting"][-1] < before["metering_waiting"][-1]
    assert np.all(np.diff(after["metering_waiting"]) <= 0)


def vuetify_round(value: float, step: float, least: float, most: float) -> float:
    """What Vuetify's VSlider.roundValue does to a value it is given (ipyvuetify 1.x)."""
    text = str(step)
    decimals = len(text) - text.index(".") - 1 if "." in text else 0
    offset = least % step
    snapped = math.floor((value - offset) / step + 0.5) * step + offset
    return float(f"{min(snapped, most):.{decimals}f}")


@pytest.mark.parametrize("name", ui_settings.scenario_names())
def test_loading_a_scenario_through_the_controls_changes_nothing(name):
    """Every slider keeps the value it is given as Vuetify rounds it (a step of 0.002 made
    Guatemala's 0.007 0.008), and Checks says "As in FILE"."""
    controls.choose_scenario(name)
    assert session.message.value == ""
    rc = render(SettingsPanel())
    sliders = [w for w in widgets(rc) if isinstance(w, v.Slider)]
    for slider in sliders:
        assert vuetify_round(slider.v_model, slider.step, slider.min, slider.max) == \
            pytest.approx(slider.v_model, abs=1e-12), (slider.label, slider.v_model, slider.step)
        slider.v_model = vuetify_round(slider.v_model, slider.step, slider.min, slider.max)
    assert f"As in {name}.toml." in texts(rc)
    assert ui_settings.differences(session.settings.value,
                                   ui_settings.baseline(name, scale=50)) == []


def test_a_slider_snap_is_not_a_change_but_a_move_is():
    rc = render(SettingsPanel())
    slider = rc.find(v.Slider, label="Share of those eligible sent")
    slider.assert_single()
    assert slider.widget.step == 0.001 and slider.widget.v_model == 0.007
    slider.widget.v_model = 0.0072  # less than half a step: the slider snapping
    assert session.settings.value.policies["guatemala_aca"]["eligible_share"] == 0.007
    slider.widget.v_model = 0.009  # the user moving it
    assert "policies.guatemala_aca.eligible_share: 0.007 -> 0.009" in texts(rc)


def test_a_saved_file_loads_as_in_it_until_changed(tmp_path, monkeypatch):
    monkeypatch.setenv("BORDER_UI_SAVE_DIR", str(tmp_path))
    saved = tmp_path / "short.toml"
    saved.write_text(ui_settings.scenario_toml(
        ui_settings.baseline("historical").replace(start="2019-06-01", end="2019-08-31")
        .with_policy("title42", "enabled", False)))
    controls.choose_scenario(str(saved))
    rc = render(SettingsPanel())
    assert "As in short.toml." in texts(rc)
    session.settings.value = session.settings.value.replace(end="2019-07-31")
    assert "run end: 2019-08-31 -> 2019-07-31" in texts(rc)


def test_save_with_a_300_character_name_is_a_line_in_the_card(tmp_path, monkeypatch):
    monkeypatch.setenv("BORDER_UI_SAVE_DIR", str(tmp_path))
    rc = render(SaveLoad())
    field = rc.find(NameAndSave)
    field.assert_single()
    field.widget.vue_save("x" * 300)
    assert "file name: 300 characters; at most 64" in texts(rc)
    field.widget.vue_save("../../escape")
    assert "a name, not a path" in texts(rc)
    field.widget.vue_save("mine")
    assert (tmp_path / "mine.toml").is_file() and f"saved {tmp_path / 'mine.toml'}" in texts(rc)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine.toml"]


def test_fit_page_names_a_changed_run_and_shows_a_fall_as_a_percentage():
    fall = next(f for f in SEED_FIGURES if f.statistic == "relative_change")
    assert shown(fall, -0.7312) == "-73 %"
    assert shown(SEED_FIGURES[0], 144_321.4) == "144,321" and shown(fall, None) == ""
    historical = ui_settings.baseline("historical")
    assert run_name(historical) == "historical"
    off = historical.with_policy("title42", "enabled", False)
    assert run_name(off) == "historical, changed (1 setting)"
    session.settings.value = off.replace(scale=50, **WINDOW)
    assert session.reset()
    rc = render(FitPage())
    assert "historical, changed (3 settings), seed 0, scale 50" in texts(rc)
