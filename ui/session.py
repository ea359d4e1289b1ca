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

Under load (several pages playing on one server) three things keep every page live:
the play loops draw their frames one at a time, in turn (`Turns`), the play loop waits
until the browser says it has shown each frame (`RunState.shown`,
called by the page's `FrameAck`; a frame drawn on the server is not yet shown, and
without the wait a busy server queued frames for tens of seconds, showing old days
and acting on Pause late), and a session's model, frames and figures are let go
when its browser session closes (`_session_closed`, through Solara's
`on_kernel_start` cleanup; a page gone without saying so is closed after
`CULL_TIMEOUT`, not Solara's default of a day), and the freed memory is handed back
to the system (`release_memory`).
"""

import collections
import contextlib
import ctypes
import gc
import itertools
import json
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

_frame_numbers = itertools.count()
DAYS_PER_FRAME = (1, 7, 14, 30)
FRAME_TIMEOUT_S = 2.0  # the longest the play loop waits for the page to show a frame
TURN_TIMEOUT_S = 10.0  # the longest a play loop waits for its turn to draw (`Turns`)
CULL_TIMEOUT = "60s"  # a page that went without closing (no beacon) is closed after this
DEFAULT_DAYS_PER_FRAME = 7  # a week a frame; a frame costs ~0.1-0.2 s to draw (blitted)
# benchmarks/bench_ui.py sets this to a file: a JSON line per frame a play loop drew
FRAME_LOG_ENV = "BORDER_UI_FRAME_LOG"


def save_dir() -> Path:
    """Where the page saves scenario files (`ui.files.save_dir`, which owns the rule)."""
    from ui import files

    return files.save_dir()


@dataclass(frozen=True)
class Frame:
    """What the page draws: the day's view and the output so far (copied arrays)."""

    view: DayView
    series: dict
    number: int = field(default_factory=lambda: next(_frame_numbers))  # unique, increasing
    made: float = field(default_factory=time.time, compare=False)  # when (epoch s)

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
    viewers: int = 0  # pages drawing this run's frames (the play loop waits for them)
    shown_frame: int = -1  # the last frame (`Frame.number`) a browser showed (`shown`)
    stopped: bool = False  # Pause, Reset or a closed session: the play loop stops
    _shown: threading.Condition = field(default_factory=threading.Condition)

    def shown(self, number: int) -> None:
        """A browser showed frame `number` (the page's `FrameAck` says so)."""
        with self._shown:
            self.shown_frame = max(self.shown_frame, number)
            self._shown.notify_all()

    def wait_shown(self, number: int, timeout: float) -> bool:
        """Wait until a browser showed frame `number` (or `timeout` s, or a stop)."""
        with self._shown:
            return self._shown.wait_for(lambda: self.shown_frame >= number or self.stopped,
                                        timeout=timeout)

    def stop(self) -> None:
        with self._shown:
            self.stopped = True
            self._shown.notify_all()


settings = solara.reactive(ui_settings.baseline("historical"))
run: solara.Reactive[RunState | None] = solara.reactive(None)
frame: solara.Reactive[Frame | None] = solara.reactive(None)
message = solara.reactive("")
days_per_frame = solara.reactive(DEFAULT_DAYS_PER_FRAME)
playing = solara.reactive(False)
files_saved = solara.reactive(0)  # bumped when the page saves or receives a file: lists refresh


@solara.lab.computed(None, key="ui.session.finished")
def finished() -> bool:
    """Has the run shown finished (or is there none)? A reactive of its own, which changes
    seldom: what reads it and not `frame` (the run's buttons) is not redrawn each frame."""
    shown = frame.value
    return shown is None or shown.view.finished


def play() -> None:
    if run.value is not None:
        run.value.stopped = False
    playing.value = True


def pause() -> None:
    """Stop the play loop after the frame it is on (it is not waited for)."""
    playing.value = False
    if run.value is not None:
        run.value.stop()


def reset() -> bool:
    """Build a new model from the settings (as SolaraViz's Reset rebuilds one from
    keyword arguments); on a refusal keep the current run and say why."""
    pause()
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


def step(days: int) -> "Frame | None":
    """Run `days` days (fewer at the run's end) and redraw; the frame drawn."""
    state = run.value
    if state is None:
        return None
    with state.lock:
        first = state.model.day
        for _ in range(days):
            if not state.model.running:
                break
            state.model.step()
        snapshot = Frame.of(state.model, state.model.day - first)
    if run.value is state:
        frame.value = snapshot
    return snapshot


class Turns:
    """Frames drawn one at a time, in the order the play loops asked (first come, first
    served). With several pages playing, their loops' threads otherwise all step and draw
    at once, taking turns on the interpreter lock in no order: a page could wait 5-8 s
    for a frame while the others got theirs. With turns, a loop that has drawn a frame
    waits for its browser and then queues behind those that asked meanwhile, so each page
    gets a frame every (pages playing) frames. A turn not given within `timeout` s is
    taken anyway (nothing a loop does in its turn waits on a browser, but never hang)."""

    def __init__(self, timeout: float = TURN_TIMEOUT_S):
        self.timeout = timeout
        self._changed = threading.Condition()
        self._queue: collections.deque = collections.deque()

    @contextlib.contextmanager
    def turn(self):
        ticket = object()
        with self._changed:
            self._queue.append(ticket)
            self._changed.wait_for(lambda: self._queue[0] is ticket, timeout=self.timeout)
        try:
            yield
        finally:
            with self._changed:
                self._queue.remove(ticket)
                self._changed.notify_all()


turns = Turns()  # the play loops' (of every session in this server)


class FrameLog:
    """When each frame a play loop drew was started, made (`Frame.made`), drawn and sent
    (its render returned) and shown by the browser (the ack came): one JSON line per
    frame, appended to the file named by $BORDER_UI_FRAME_LOG (benchmarks/bench_ui.py
    reads it to tell a server's stalls from a browser's). Off (None) without it."""

    def __init__(self, path: str):
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self.collecting = 0.0
        gc.callbacks.append(self.collection)

    def collection(self, phase: str, info: dict) -> None:
        """A line per full collection (generation 2): when, how long, how much freed."""
        if info["generation"] != 2:
            return
        if phase == "start":
            self.collecting = time.time()
        else:
            os.write(self.fd, (json.dumps({"gc": 2, "start": self.collecting,
                                           "end": time.time(), "collected": info["collected"]})
                               + "\n").encode())

    def write(self, frame: "Frame", started: float, turn: float, sent: float, acked: float,
              shown: bool) -> None:
        os.write(self.fd, (json.dumps({"n": frame.number, "start": started, "turn": turn,
                                       "made": frame.made, "sent": sent, "acked": acked,
                                       "shown": shown}) + "\n").encode())


frame_log = FrameLog(os.environ[FRAME_LOG_ENV]) if os.environ.get(FRAME_LOG_ENV) else None


def play_loop() -> None:
    """While `playing`: run `days_per_frame` days, redraw, repeat; stops at the run's end.
    Each frame waits until the browser has shown it (`RunState.wait_shown`; at most
    `FRAME_TIMEOUT_S`), so every frame is seen, a busy server does not queue frames
    ahead of the browser, and Pause acts on the next frame. Records how many days it
    played and how long that took (with the redraws)."""
    state = run.value
    # the page may mount its play task again (after a visit to another page): one loop
    if not playing.value or state is None or not state.playing_lock.acquire(blocking=False):
        return
    try:
        started, first_day = time.perf_counter(), state.model.day
        while playing.value and not state.stopped and run.value is state \
                and state.model.running:
            began = time.time()
            with turns.turn():
                if state.stopped or not playing.value:  # paused while it waited
                    break
                got = time.time()
                drawn = step(days_per_frame.value)
            sent = time.time()
            shown = False
            if state.viewers > 0 and drawn is not None:
                shown = state.wait_shown(drawn.number, FRAME_TIMEOUT_S)
            if frame_log is not None and drawn is not None:
                frame_log.write(drawn, began, got, sent, time.time(), shown)
        state.played = (state.model.day - first_day, time.perf_counter() - started)
    finally:
        state.playing_lock.release()
    if run.value is state:
        playing.value = False


def release_memory() -> None:
    """Collect what closed sessions left (models, frames, figures reference each
    other) and give freed heap back to the system (glibc keeps it otherwise)."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass


def _session_started():
    """A browser session began (Solara's `on_kernel_start`); its cleanup runs when it
    closes: the play loop stops and the model, frames and figures are let go."""
    def closed():
        state = run.value
        playing.value = False
        if state is not None:
            state.stop()
        run.value = None
        frame.value = None
        # what earlier closed sessions left is collected now (this one's objects are
        # dropped when Solara has finished closing it)
        release_memory()
    return closed


solara.lab.on_kernel_start(_session_started)
try:  # in a server: close a page that went without saying so after CULL_TIMEOUT
    import solara.server.settings as _server_settings

    if "SOLARA_KERNEL_CULL_TIMEOUT" not in os.environ:
        _server_settings.kernel.cull_timeout = CULL_TIMEOUT
except ImportError:  # solara without its server (component tests)
    pass
