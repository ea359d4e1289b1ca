"""One browser session's state, and what its buttons do to it.

Solara keeps a module-level `solara.reactive` per browser session, so each
visitor has their own settings and model. The model is only stepped by one
thread at a time (`RunState.lock`); the page draws from `frame`, a snapshot
taken between steps (`Frame.of`), never from the model while it runs.

- `settings`: what the controls show (`ui.settings.Settings`).
- `run`: the model and the settings it was built from (None before the first Reset).
- `frame`: the latest snapshot drawn; `message`: the last refusal or error, for the page.
- `playing`, `days_per_frame`: the play loop's switch and frame size; `files_saved`: a
  counter that makes the scenario lists refresh after a save.
"""

import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import solara

from model import BorderModel, ScenarioError
from model.config.scenario import SCENARIO_DIR
from ui import settings as ui_settings
from ui.day_view import DayView, series

DAYS_PER_FRAME = (1, 7, 14, 30)
FRAME_TIMEOUT_S = 2.0  # the longest the play loop waits for the page to draw a frame
DEFAULT_DAYS_PER_FRAME = 7  # a week a frame; a frame costs ~0.1-0.2 s to draw (blitted)


def save_dir() -> Path:
    """Where the page saves scenario files (`ui.files.save_dir`, which owns the rule)."""
    from ui import files

    return files.save_dir()


@dataclass(frozen=True)
class Frame:
    """What the page draws: the day's view and the output so far (copied arrays)."""

    view: DayView
    series: dict

    @classmethod
    def of(cls, model: BorderModel, days: int = 1) -> "Frame":
        """A snapshot after `days` days were run (the map shows their flights)."""
        return cls(DayView.of(model, flight_days=max(days, 1)), series(model))


@dataclass(eq=False)
class RunState:
    """A model, the settings it was built from, its lock (one stepper at a time) and the
    play loop's (one loop at a time)."""

    model: BorderModel
    settings: ui_settings.Settings
    lock: threading.Lock = field(default_factory=threading.Lock)
    played: tuple[int, float] | None = None  # (days, seconds) of the last Play
    playing_lock: threading.Lock = field(default_factory=threading.Lock)  # one play loop
    drawn: threading.Event = field(default_factory=threading.Event)  # the page drew a frame
    viewers: int = 0  # pages drawing this run's frames (the play loop waits for them)


settings = solara.reactive(ui_settings.baseline("historical"))
run: solara.Reactive[RunState | None] = solara.reactive(None)
frame: solara.Reactive[Frame | None] = solara.reactive(None)
message = solara.reactive("")
days_per_frame = solara.reactive(DEFAULT_DAYS_PER_FRAME)
playing = solara.reactive(False)
files_saved = solara.reactive(0)  # bumped when the page saves or receives a file: lists refresh


def reset() -> bool:
    """Build a new model from the settings (as SolaraViz's Reset rebuilds one from
    keyword arguments); on a refusal keep the current run and say why."""
    playing.value = False
    chosen = settings.value
    try:
        ui_settings.check(chosen)
        model = BorderModel(**ui_settings.model_kwargs(chosen))
    except ScenarioError as exc:
        message.value = f"Not applied: {exc}"
        return False
    state = RunState(model, chosen)
    run.value = state
    frame.value = Frame.of(model)
    message.value = ""
    return True


def step(days: int) -> None:
    """Run `days` days (fewer at the run's end) and redraw."""
    state = run.value
    if state is None:
        return
    with state.lock:
        first = state.model.day
        for _ in range(days):
            if not state.model.running:
                break
            state.model.step()
        snapshot = Frame.of(state.model, state.model.day - first)
    if run.value is state:
        frame.value = snapshot


def play_loop() -> None:
    """While `playing`: run `days_per_frame` days, redraw, repeat; stops at the run's end.
    Each frame waits until the page has drawn it (Solara may draw it in another thread,
    and would otherwise skip frames), so every frame is seen. Records how many days it
    played and how long that took (with the redraws)."""
    state = run.value
    # the page may mount its play task again (after a visit to another page): one loop
    if not playing.value or state is None or not state.playing_lock.acquire(blocking=False):
        return
    try:
        started, first_day = time.perf_counter(), state.model.day
        while playing.value and run.value is state and state.model.running:
            state.drawn.clear()
            step(days_per_frame.value)
            if state.viewers > 0:
                state.drawn.wait(timeout=FRAME_TIMEOUT_S)
        state.played = (state.model.day - first_day, time.perf_counter() - started)
    finally:
        state.playing_lock.release()
    if run.value is state:
        playing.value = False
