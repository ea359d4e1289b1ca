"""The sidebar: run controls (Reset, Play, a day, a week), the settings, save and load.

Every control writes into `session.settings`, and only when the user changes it (a
slider's step is fine enough for the value it shows, and a move smaller than half a
step, which is the slider snapping a value, is ignored); nothing reaches the model until
Reset rebuilds it from them (`session.reset`). The panel checks the settings as they
change, with the scenario's own checks, and says what is refused and which settings
differ from the scenario file. Files are read only from `ui.files.scenario_roots()`
and written only through `ui.files` (never over an existing file).
"""

from pathlib import Path

import ipyvuetify as v
import solara
import solara.lab
import traitlets

from model import ScenarioError
from model.state.geography import SECTOR_KEYS, SECTORS
from ui import files, html, session
from ui import settings as ui_settings
from ui.settings import MPP_KINDS, SCALES, Settings

SECTOR_NAMES = {s.key: s.name for s in SECTORS}


def _policies_of(s: Settings, *kinds: str) -> list[str]:
    return [pid for pid, entry in s.policies.items() if entry["kind"] in kinds]


def _set_policy(policy_id: str, field: str):
    def set_value(value):
        session.settings.value = session.settings.value.with_policy(policy_id, field, value)
    return set_value


def _set_run(field: str):
    def set_value(value):
        session.settings.value = session.settings.value.replace(**{field: value})
    return set_value


def choose_scenario(name: str) -> None:
    """The scenario picker: its file's settings (a saved file's own seed, scale and
    window). Only files in the page's folders are read (`files.scenario_roots`)."""
    current = session.settings.value
    try:
        if name.endswith(".toml"):
            chosen = ui_settings.read_scenario_file(name, current, files.scenario_roots())
        else:
            chosen = ui_settings.baseline(name, current.seed, current.scale,
                                          files.scenario_roots())
    except ScenarioError as exc:
        session.message.value = f"Cannot load {name}: {exc}"
        return
    session.settings.value = chosen
    session.message.value = ""


def scenario_choices() -> list[str]:
    """The scenarios in scenarios/, then the files saved from the page and the files
    dropped on it (as paths)."""
    session.files_saved.value  # noqa: B018 (a dependency: the list changes when a file is saved)
    repo = ui_settings.SCENARIO_DIR.resolve()
    saved = [str(p) for folder in (files.save_dir(), files.upload_dir())
             for p in files.listed(folder) if p.parent.resolve() != repo]
    return ui_settings.scenario_names() + saved


def slider_step(value: float, coarse: float) -> float:
    """A slider's step: `coarse`, or a finer power of ten (down to 1e-6) when the value
    is not a multiple of it, so the slider shows the value as it is (a step of 0.002
    snapped Guatemala's 0.007 to 0.008 on load)."""
    for step in (coarse, *(10.0 ** -d for d in range(1, 7))):
        if step <= coarse and abs(round(value / step) * step - value) < 1e-9:
            return step
    return 1e-6


@solara.component
def ShareSlider(label: str, value: float, on_value, step: float = 0.05, min: float = 0,
                max: float = 1, classes: list[str] | None = None):
    """A slider for a share that changes the setting only when the user moves it."""
    fine = slider_step(value, step)

    def moved(new: float):
        if abs(new - value) >= fine / 2:  # less is the slider snapping the value shown
            on_value(new)
    with solara.Column(gap="0px", classes=classes or []):
        solara.SliderFloat(label, value=value, min=min, max=max, step=fine, on_value=moved)


@solara.component
def DateField(label: str, value: str, on_value, classes: list[str] | None = None):
    solara.InputText(label, value=value, on_value=lambda v: on_value((v or "").strip()),
                     dense=True, classes=classes or [], placeholder="YYYY-MM-DD")


@solara.component
def PolicySwitch(policy_id: str, label: str):
    entry = session.settings.value.policies[policy_id]
    solara.Switch(label=label, value=entry["enabled"], on_value=_set_policy(policy_id, "enabled"),
                  classes=[f"switch-{policy_id}"])


@solara.component
def PolicyDates(policy_id: str, label: str):
    """A policy's switch and its first and last day."""
    entry = session.settings.value.policies[policy_id]
    PolicySwitch(policy_id, label)
    with solara.Row(gap="4px"):
        DateField("From", entry["start"], _set_policy(policy_id, "start"),
                  [f"start-{policy_id}"])
        DateField("To", entry["end"], _set_policy(policy_id, "end"), [f"end-{policy_id}"])


def run_status(frame: "session.Frame | None", playing: bool) -> str:
    """The status line: the day shown, how far the run is, and whether it plays."""
    if frame is None:
        return ""
    view = frame.view
    status = "finished" if view.finished else ("playing" if playing else "paused")
    shown = "start: not run yet" if view.day == 0 else f"{view.date.isoformat()}"
    return f"{shown} · day {view.day} of {view.n_days} · {status}"


@solara.component
def RunBar():
    """Reset, Play/Pause, a day, a week; speed; the date and how far the run is.

    It reads no frame: the status line's text is set on its widget by a listener on
    `session.frame`. A component that reads `session.frame` is drawn again with each
    frame, and the page's whole tree (three quarters of it the sidebar's controls) is
    walked once for each such component: with the run bar reading it too, a frame
    cost two walks (`ui.simulate_page.RunView` is the one reader)."""
    solara.lab.use_task(session.play_loop, dependencies=[session.playing.value],
                        prefer_threaded=True)
    state = session.run.value
    playing = session.playing.value
    finished = session.finished.value
    with solara.Row(gap="4px", style={"flex-wrap": "wrap"}):
        solara.Button("Reset", on_click=session.reset, color="primary", classes=["reset"])
        solara.Button("Pause" if playing else "Play", color="primary", classes=["play"],
                      on_click=session.pause if playing else session.play,
                      disabled=finished and not playing)
        solara.Button("+1 day", on_click=lambda: session.step(1), classes=["step-day"],
                      disabled=playing or finished)
        solara.Button("+1 week", on_click=lambda: session.step(7), classes=["step-week"],
                      disabled=playing or finished)
    solara.Select("Days per frame while playing", values=list(session.DAYS_PER_FRAME),
                  value=session.days_per_frame, dense=True)
    # the status line is a widget of its own (closed with the run bar), which a listener
    # on the frame updates
    line = solara.use_memo(lambda: v.Html(tag="span", class_="run-date",
                                          style_="font-weight: bold"), [])
    solara.use_effect(lambda: line.close, [])

    def follow_frames():
        def show(frame):
            line.children = [run_status(frame, session.playing.peek())]
        show(session.frame.peek())
        return session.frame.subscribe(show)
    solara.use_effect(follow_frames, [playing])
    solara.Column(children=[line], gap="0px")
    if state is not None and state.played is not None and state.played[0] > 0:
        days, seconds = state.played
        solara.Text(f"last play: {days} days in {seconds:.1f} s (redraws included)",
                    classes=["played"], style={"font-size": "85%"})


@solara.component
def SettingsPanel():
    s = session.settings.value
    try:  # the scenario as loaded (a saved file: with its window): "As in FILE" till a change
        base = ui_settings.reference(s.scenario, files.scenario_roots())
        changes = ui_settings.differences(s, base)
    except ScenarioError as exc:
        base, changes = None, []
        solara.Error(f"Scenario file: {exc}")
    refusal = ""
    try:
        ui_settings.check(s)
    except ScenarioError as exc:
        refusal = str(exc)

    with solara.Card("Run", margin=0):
        solara.Select("Scenario", values=scenario_choices(), value=s.scenario,
                      on_value=choose_scenario, classes=["scenario"])
        with solara.Row(gap="4px"):
            solara.InputInt("Seed", value=s.seed, on_value=_set_run("seed"), dense=True,
                            classes=["seed"])
            solara.Select("Scale", values=list(SCALES), value=s.scale,
                          on_value=_set_run("scale"), dense=True, classes=["scale"])
        with solara.Row(gap="4px"):
            DateField("Start", s.start, _set_run("start"), ["run-start"])
            DateField("End", s.end, _set_run("end"), ["run-end"])

    with solara.Card("Return of Mexicans", margin=0):
        for pid in _policies_of(s, "port_return"):
            PolicySwitch(pid, f"Return at the ports ({pid})")
        for pid in _policies_of(s, "interior_repatriation"):
            entry = s.policies[pid]
            PolicySwitch(pid, f"Interior repatriation ({pid})")
            solara.SelectMultiple("Sectors", values=entry["sectors"],
                                  all_values=list(SECTOR_KEYS),
                                  on_value=_set_policy(pid, "sectors"), dense=True)
            ShareSlider("Share of eligible Mexicans (interior states)",
                        value=entry["eligible_share"],
                        on_value=_set_policy(pid, "eligible_share"))
        for pid in _policies_of(s, "flights"):
            entry = s.policies[pid]
            PolicySwitch(pid, f"Flights to Guadalajara ({pid})")
            with solara.Row(gap="4px"):
                solara.InputFloat("Flights a week", value=entry["per_week"], dense=True,
                                  on_value=_set_policy(pid, "per_week"))
                solara.InputInt("Seats", value=entry["seats"], dense=True,
                                on_value=_set_policy(pid, "seats"))

    with solara.Card("Remain in Mexico (MPP)", margin=0):
        mpp_ids = _policies_of(s, *MPP_KINDS)
        if mpp_ids:
            all_on = all(s.policies[p]["enabled"] for p in mpp_ids)

            def set_mpp(on: bool):
                current = session.settings.value
                for pid in mpp_ids:
                    current = current.with_policy(pid, "enabled", on)
                session.settings.value = current
            solara.Switch(label="MPP (every phase and the wind-down)", value=all_on,
                          on_value=set_mpp, classes=["switch-mpp"])
        for pid in _policies_of(s, "mpp"):
            PolicyDates(pid, f"{pid}")
        for pid in _policies_of(s, "mpp_wind_down"):
            PolicySwitch(pid, f"Wind-down: admit people waiting ({pid})")

    with solara.Card("Title 42", margin=0):
        for pid in _policies_of(s, "title42"):
            PolicySwitch(pid, f"Title 42 expulsions ({pid})")
            DateField("Ends", s.policies[pid]["end"], _set_policy(pid, "end"), [f"end-{pid}"])

    with solara.Card("Mexico refuses families", margin=0):
        for pid in _policies_of(s, "mexico_refuses_families"):
            entry = s.policies[pid]
            PolicySwitch(pid, f"Mexico refuses Central American families ({pid})")
            ShareSlider("Still accepted where not listed", value=entry["default_acceptance"],
                        on_value=_set_policy(pid, "default_acceptance"))
            with solara.Details("Acceptance by sector"):
                for key in SECTOR_KEYS:
                    def set_sector(value, key=key, pid=pid):
                        current = session.settings.value
                        table = dict(current.policies[pid]["acceptance"], **{key: value})
                        session.settings.value = current.with_policy(pid, "acceptance", table)
                    ShareSlider(SECTOR_NAMES[key],
                                value=entry["acceptance"].get(key, entry["default_acceptance"]),
                                on_value=set_sector)

    with solara.Card("Detention", margin=0):
        solara.InputInt("ICE detention beds", value=s.parameters["detention_beds"], dense=True,
                        on_value=lambda v: session.settings.set(
                            session.settings.value.with_parameter("detention_beds", v)))
        for pid in _policies_of(s, "detention_cap"):
            PolicySwitch(pid, f"COVID cap on beds ({pid})")
            ShareSlider("Share of beds usable", value=s.policies[pid]["share"],
                        on_value=_set_policy(pid, "share"))
        for pid in _policies_of(s, "removal_moratorium"):
            PolicyDates(pid, f"Removal moratorium ({pid})")

    with solara.Card("ICE inside the US, family beds, metering", margin=0):
        for pid in _policies_of(s, "interior_enforcement"):
            PolicyDates(pid, f"Interior arrests ({pid})")
        for pid in _policies_of(s, "enforcement_priorities"):
            PolicySwitch(pid, f"2021 enforcement priorities ({pid})")
        for pid in _policies_of(s, "family_detention"):
            PolicySwitch(pid, f"Family residential centres ({pid})")
        for pid in _policies_of(s, "metering"):
            PolicyDates(pid, f"Metering at the ports ({pid})")

    with solara.Card("Guatemala agreement (ACA)", margin=0):
        for pid in _policies_of(s, "guatemala_aca"):
            PolicySwitch(pid, f"Send Hondurans and Salvadorans to Guatemala ({pid})")
            ShareSlider("Share of those eligible sent", max=0.2, step=0.002,
                        value=s.policies[pid]["eligible_share"],
                        on_value=_set_policy(pid, "eligible_share"),
                        classes=[f"share-{pid}"])

    with solara.Card("Checks", margin=0, classes=["checks"]):
        if refusal:
            solara.Error(f"These settings are refused: {refusal}. Reset keeps the current run.",
                         classes=["refusal"])
        elif session.run.value is not None and session.run.value.settings != s:
            solara.Warning("Changed since the run started: press Reset to run these settings.",
                           classes=["pending"])
        if base is not None:
            where = ui_settings.resolve_path(s.scenario)
            if changes:
                html.paragraph("", bold=f"Differs from {where.name}:")
                html.lines(changes, classes=["differences"])
            else:
                solara.Text(f"As in {where.name}.", classes=["no-changes"])
    SaveLoad()


def load_dropped(info) -> str:
    """A file dropped on the page (Solara's FileInfo: name, size, file_obj): kept in the
    upload folder and loaded if it passes every check (`files.receive_upload`); returns
    the card's line, "error: not kept: why" for a refused file (which leaves nothing)."""
    current = session.settings.value
    try:
        path, chosen = files.receive_upload(
            info["name"], info.get("size"), info["file_obj"],
            lambda tmp, roots: ui_settings.read_scenario_file(tmp, current, roots))
    except ScenarioError as exc:
        return f"error: not kept: {exc}"
    session.files_saved.value += 1
    session.settings.value = chosen.replace(scenario=str(path))
    session.message.value = ""
    return f"kept {Path(info['name']).name} as {path} and loaded it"


class NameAndSave(v.VuetifyTemplate):
    """The file-name field and the Save button in one widget whose click sends the text
    in the field with it: what is typed is what is saved. (With a separate field and
    button the click could overtake the last keystrokes: ipywidgets holds a field's
    changes back while the server is busy, but not a click.)"""

    template = traitlets.Unicode("""
        <div style="display: flex; gap: 4px; align-items: center">
          <v-text-field dense label="File name" v-model="name" class="save-name"
                        @keyup.enter="save(name)" />
          <v-btn class="save" @click="save(name)">{{ label }}</v-btn>
        </div>""").tag(sync=True)
    name = traitlets.Unicode("my_scenario").tag(sync=True)
    label = traitlets.Unicode("Save").tag(sync=True)
    on_save = traitlets.Any(None)  # called with the text the click sent

    def vue_save(self, text):
        self.name = str(text or "")
        if self.on_save is not None:
            self.on_save(self.name)


@solara.component
def SaveLoad():
    """Save the settings as a scenario file over its base; load one (drop a file). Names,
    sizes and contents are checked by `ui.files` before anything is kept; nothing is ever
    written over an existing file; every refusal is a line in the card."""
    s = session.settings.value
    name, set_name = solara.use_state("my_scenario")
    saved, set_saved = solara.use_state("")
    folder = files.save_dir()

    def save(text: str):
        set_name(text)
        try:
            body = ui_settings.scenario_toml(session.settings.value)
            target = files.save_scenario(body, text, folder)
        except ScenarioError as exc:
            set_saved(f"error: cannot save: {exc}")
            return
        session.files_saved.value += 1
        command = body.splitlines()[1].lstrip("# ").replace("FILE", str(target))
        set_saved(f"saved {target}; rerun it with: {command}")

    def dropped(info):
        set_saved(load_dropped(info))

    try:
        download_name = f"{files.file_name(name)}.toml"
    except ScenarioError:
        download_name = "scenario.toml"
    with solara.Card("Save and load", margin=0):
        NameAndSave.element(name=name, label=f"Save to {folder.name}/", on_save=save,
                            on_name=set_name)
        with solara.Row(gap="4px"):
            try:
                body = ui_settings.scenario_toml(s)
            except ScenarioError:
                body = None
            if body is not None:
                solara.FileDownload(body, filename=download_name, label="Download")
        if saved:
            (solara.Error if saved.startswith("error") else solara.Success)(
                saved, classes=["saved"])
        solara.FileDrop(label=f"Drop a scenario .toml here to load it (at most "
                              f"{files.MAX_UPLOAD_BYTES // 1000:,} kB; kept in "
                              f"{folder.name}/uploads/)", on_file=dropped, lazy=True)
