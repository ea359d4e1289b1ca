"""ABC-SMC calibration of the model to the seed articles' figures, with pyabc on Dask.

    setup = FitSetup(scale=20, population=50, budget=2000, out_dir=Path("calibration"))
    history_id = plan_fit(setup, resume=False)     # checks everything; nothing runs
    client, cluster = open_client(workers=2)       # experiments.runner; or scheduler=ADDRESS
    outcome = run_fit(setup, client, history_id)

`run_fit` draws parameter sets from the priors (`calibration/priors.toml`), runs
the scenario for each on the Dask cluster (pyabc's `DaskDistributedSampler`), scores
every run against the targets (`calibration/targets.toml`, `calibration.distance`)
and keeps the closest; each generation tightens epsilon. Every finished generation
is in the SQLite history (`setup.db`): `resume=True` continues from it without
repeating a finished generation. At the end it writes `posterior.parquet` (the last
generation's parameter sets, weights and distances) and `calibrated.toml` (a scenario
on `historical` holding the posterior's weighted medians) into `setup.out_dir`.

The committed fit (`calibration/`, whose `calibrated.toml` `historical` runs with) is
never written over unless asked in so many words (`overwrite`): `check_out_dir`
refuses it, and any folder that holds a fit already unless the fit is resumed; the
command's default `--out` is a new folder (`new_fit_dir`: runs/calibrate-DATE-TIME).
`claim_out_dir` then creates it (and the history's folder) and writes a probe file in
each, so an unwritable place is refused before a cluster starts.

Each simulation draws its own seed (pyabc reseeds every task from the system's
entropy), so the fit sees the model's seed noise as it is; the report's
posterior-predictive runs use seeds of their own (`calibration.report`).
"""

import hashlib
import json
import logging
import math
import signal
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

from calibration.distance import distance
from calibration.priors import (
    PRIORS_FILE,
    Prior,
    abc_prior,
    load_priors,
    natural_values,
    to_params,
)
from calibration.targets import (TARGETS_FILE, Target, TargetsError, load_targets,
                                 observed_values, simulated_values)
from model import load_scenario, simulate
from model.config.scale_check import check_scale
from model.simulate import code_version

CALIBRATION_DIR = Path(__file__).resolve().parent
FIT_FILES = ("posterior.parquet", "calibrated.toml", "report.md", "report_targets.png",
             "report_marginals.png", "report_correlations.png", "emulator.json")
WORK_FILES = ("history.db", "design.parquet", "design.json")  # what a fit resumes from


class FitError(TargetsError):
    """A calibration that cannot start or resume (one line naming what is wrong)."""


@dataclass
class FitSetup:
    """What a calibration fits, and how: scenario and scale of every run, the priors
    and targets, pyabc's population size per generation, the budget (total
    simulations, resumes included; pyabc checks it after each generation, so the
    last one may run past it), the most generations, the epsilon to stop at, the
    history database and the output folder. `report_scale` is the scale of the
    report's posterior-predictive runs (default: the fit's): the fit runs coarse and
    cheap, the report can check the posterior at full scale, where every target counts."""

    scenario: str = "historical"
    scale: int = 20
    population: int = 50
    budget: int = 2000
    generations: int | None = None
    min_epsilon: float = 0.0
    priors_path: Path = PRIORS_FILE
    targets_path: Path = TARGETS_FILE
    out_dir: Path = CALIBRATION_DIR
    db: Path | None = None  # default out_dir / "history.db"
    report_dir: Path | None = None  # where the report goes; default out_dir
    start: str | None = None  # a shorter run (tests): as simulate(start=, end=)
    end: str | None = None
    report_scale: int | None = None
    overwrite: bool = False  # may write into the committed fit (calibration/)
    priors: tuple[Prior, ...] = field(default=(), repr=False)
    targets: tuple[Target, ...] = field(default=(), repr=False)

    def __post_init__(self):
        self.out_dir = Path(self.out_dir)
        self.db = Path(self.db) if self.db is not None else self.out_dir / "history.db"
        self.report_dir = Path(self.report_dir) if self.report_dir is not None else self.out_dir

    def load(self) -> "FitSetup":
        """Read and check the priors, targets, scenario and scale; nothing runs."""
        if not self.priors:
            self.priors = load_priors(self.priors_path)
        if not self.targets:
            self.targets = load_targets(self.targets_path)
        loaded = load_scenario(self.scenario, start=self.start, end=self.end, calibrated=False)
        check_scale(loaded, self.scale)
        check_scale(loaded, self.predictive_scale)
        first, last = loaded.start, loaded.end
        for t in self.targets:
            if t.measurable and (t.first_day() < first or t.last_day() > last):
                raise FitError(f"{self.targets_path}: targets.{t.id}: its period {t.first} "
                               f"to {t.last} is outside the runs ({first} to {last})")
        return self

    @property
    def predictive_scale(self) -> int:
        return self.report_scale or self.scale

    def identity(self) -> dict:
        """What a history must have been made with to be resumed."""
        return {"scenario": self.scenario, "scale": self.scale, "start": self.start,
                "end": self.end, "code": code_version(),
                "priors": [[p.name, p.distribution, p.low, p.high] for p in self.priors],
                "targets": sorted(observed_values(self.targets, self.scale).items()),
                "target_hash": _digest([repr(t) for t in self.targets])}


def _digest(items: list[str]) -> str:
    return hashlib.sha256("\n".join(items).encode()).hexdigest()[:16]


class TargetModel:
    """pyabc's model: a parameter set -> {target id: simulated value} (and the seed).
    Picklable, so Dask workers run it; each call is one `simulate` of the hand-set
    scenario (without the fitted parameters its `calibrated` key names: a fit starts
    from what the scenario sets by hand, not from the previous fit) with the set's
    values over it. The scenario is read once, here, not by every run."""

    def __init__(self, setup: FitSetup, scale: int | None = None):
        self.hand_set = load_scenario(setup.scenario, start=setup.start, end=setup.end,
                                      calibrated=False)
        self.scale = scale or setup.scale
        self.priors, self.targets = setup.priors, setup.targets

    def __call__(self, parameters: dict) -> dict[str, float]:
        """pyabc's call, with the parameters on their unit coordinates."""
        seed = int(np.random.randint(0, 2**31 - 1))  # pyabc reseeds each task
        return self.run(natural_values(self.priors, parameters), seed)

    def run(self, parameters: dict, seed: int) -> dict[str, float]:
        result = simulate(self.hand_set, seed=seed, scale=self.scale,
                          params=to_params(self.priors, parameters))
        return {**simulated_values(self.targets, result), "seed": float(seed)}


class TargetDistance:
    """pyabc's distance: `calibration.distance.distance` of a run's values over the
    targets measured at the fit's scale (picklable)."""

    def __init__(self, targets: tuple[Target, ...], scale: int = 1):
        self.targets, self.scale = targets, scale

    def __call__(self, simulated: dict, observed: dict) -> float:
        return distance(self.targets, simulated, self.scale)


@dataclass
class FitOutcome:
    """How a calibration went: generations in the history, simulations used, the last
    epsilon, the files written, and whether Ctrl-C stopped it."""

    db: Path
    generations: int
    simulations: int
    epsilon: float | None
    files: dict[str, Path] = field(default_factory=dict)
    interrupted: bool = False
    wall_s: float = 0.0


class Progress(logging.Handler):
    """One line per generation from pyabc's log: generation, epsilon, acceptance
    rate, simulations so far against the budget, and an ETA from the rate so far."""

    def __init__(self, budget: int, simulations: Callable[[], int],
                 write: Callable[[str], None]):
        super().__init__(logging.INFO)
        self.budget, self.simulations, self.write = budget, simulations, write
        self.started = time.monotonic()
        self.done_before = 0  # set once the history is open
        self.t, self.eps = None, None
        self.safe_point: Callable[[], None] = lambda: None  # InterruptShield.check, in a fit

    def emit(self, record: logging.LogRecord) -> None:
        self.safe_point()
        text = record.getMessage()
        if text.startswith("t: "):
            self.t = int(text.split(",")[0][3:])
            self.eps = float(text.split("eps: ")[1].rstrip("."))
        elif text.startswith("Calibration sample"):
            self.write("sampling the priors to set the first epsilon ...")
        elif text.startswith("Accepted: ") and self.t is not None:
            accepted, tried = (int(x) for x in text[10:].split(" =")[0].split(" / "))
            runs = self.simulations()  # the history's count: the prior sample included
            elapsed = time.monotonic() - self.started
            rate = (runs - self.done_before) / elapsed if elapsed > 0 else 0
            left = max(self.budget - runs, 0)
            eta = f"{left / rate / 60:.1f} min" if rate > 0 else "?"
            self.write(f"generation {self.t}: epsilon {self.eps:.4g}, accepted {accepted} of "
                       f"{tried} ({accepted / tried:.0%}), {runs} of {self.budget} runs, "
                       f"{elapsed / 60:.1f} min, ETA {eta} at most")


def plan_fit(setup: FitSetup, resume: bool = False) -> int | None:
    """Check everything before a cluster starts or anything runs: priors, targets,
    scenario, scale, and the history (refused if it is there without `resume`, missing
    with it, or made with other settings). Returns the history run to resume, or None."""
    setup.load()
    return _check_history(setup, setup.identity(), resume)


def new_fit_dir(kind: str = "calibrate") -> Path:
    """A new folder for a fit (or, `kind` "calibrate-report", a report), named by the
    time (UTC): runs/calibrate-20261203-101500, with -2, -3 ... if that is taken."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    folder, n = Path("runs") / f"{kind}-{stamp}", 1
    while folder.exists():
        n += 1
        folder = Path("runs") / f"{kind}-{stamp}-{n}"
    return folder


def committed_fit_dirs() -> set[Path]:
    """The folders holding a fit that scenarios run with: calibration/ and the folder of
    every file a scenario in scenarios/ names with `calibrated = ...`."""
    from model.config.scenario import SCENARIO_DIR, resolve_path
    from model.tables_file import read_toml

    folders = {CALIBRATION_DIR}
    for path in SCENARIO_DIR.glob("*.toml"):
        try:
            name = read_toml(path, FitError).get("calibrated")
        except FitError:
            continue  # `run.py scenarios` names a broken file; here it protects nothing
        if isinstance(name, str):
            folders.add(resolve_path(name, relative_to=path.parent).resolve().parent)
    return folders


def is_committed_fit(folder: Path) -> bool:
    return Path(folder).resolve() in committed_fit_dirs()


def held_fit_files(folder: Path) -> list[str]:
    """The fit's files (posterior, calibrated.toml, the report) already in `folder`."""
    return [name for name in FIT_FILES if (Path(folder) / name).exists()]


def check_out_dir(folder: Path, *, resume: bool = False, overwrite: bool = False,
                  flag: str = "--out") -> None:
    """Refuse to write a fit (or a report) into `folder` where it would replace one
    silently: the committed fit without `overwrite`, any folder holding a fit without
    `resume` (continue that fit) or `overwrite`; and a file, or a non-empty folder
    holding no fit or history. Nothing is written."""
    folder = Path(folder)
    if _exists(folder, flag) and not folder.is_dir():
        raise FitError(f"{flag} {folder}: is a file, not a folder")
    if not folder.is_dir():
        return
    held = held_fit_files(folder)
    if overwrite:
        return
    if is_committed_fit(folder):
        raise FitError(f"{flag} {folder}: holds the committed fit that historical runs with "
                       f"(calibrated.toml); add --overwrite to replace it, or give another "
                       f"{flag}")
    if held and not resume:
        raise FitError(f"{flag} {folder}: holds a fit already ({', '.join(held)}); add "
                       f"--resume to continue its history, --overwrite to replace it, or give "
                       f"another {flag}")
    try:
        other = [p.name for p in folder.iterdir()
                 if p.name not in (*FIT_FILES, *WORK_FILES) and not p.name.startswith(".")]
    except OSError as exc:
        raise FitError(f"{flag} {folder}: cannot read the folder: {exc.strerror or exc}") \
            from None
    if other and not held and not any((folder / name).exists() for name in WORK_FILES):
        raise FitError(f"{flag} {folder}: is not empty and holds no fit ({other[0]} ...); use "
                       f"a new or empty folder")


def check_db(db: Path) -> None:
    """The history must be a file (or not there yet), not a folder."""
    if _exists(db, "--db") and not db.is_file():
        raise FitError(f"--db {db}: is a folder, not a file; give the history's file name "
                       f"(e.g. {db / 'history.db'})")


def _exists(path: Path, flag: str) -> bool:
    """Path.exists, with what the system refuses (a name over 255 bytes) in one line."""
    try:
        return path.exists()
    except OSError as exc:
        raise FitError(f"{flag} {path}: {exc.strerror or exc}") from None


def claim_out_dir(folder: Path, flag: str = "--out") -> list[Path]:
    """Create `folder` (and its parents) and write and remove a probe file in it, or
    raise FitError in one line saying why not; returns the folders it created, deepest
    first (`release_out_dir` removes them again while empty)."""
    from model.files import FolderError, create_folder, missing_folders, probe_writable

    missing = missing_folders(folder)
    try:
        create_folder(folder, flag)
        probe_writable(folder, flag)
    except FolderError as exc:
        release_out_dir(missing)
        raise FitError(str(exc)) from None
    return missing


def guard_committed_fit(setup: FitSetup, folder: Path) -> None:
    """The last line of defence (`write_results`, `write_report`): the committed fit is
    written only with `setup.overwrite`, from Python as from the command line."""
    if not setup.overwrite and is_committed_fit(folder):
        raise FitError(f"{folder}: holds the committed fit that historical runs with; "
                       f"set FitSetup(overwrite=True) (--overwrite) to replace it")


def release_out_dir(created: list[Path]) -> None:
    """Remove the folders `claim_out_dir` created, deepest first, while they are empty."""
    from model.files import remove_if_empty

    remove_if_empty(created)


def _bar_sampler(client, stream):
    """pyabc's DaskDistributedSampler with a progress bar on `stream` (when it is a
    terminal: `reports.progress.terminal_bar`) while it samples: "prior sample" for
    the calibration sample pyabc draws before the first generation (a whole
    population's runs, minutes in a real fit, with nothing said otherwise), then
    "generation T" for each generation's parameter sets accepted. The sampler's own
    loop is untouched: its client hands out futures that count each batch of runs as
    the loop collects it (in the main thread)."""
    from pyabc.sampler import DaskDistributedSampler

    from reports.progress import terminal_bar

    class Counted:
        """A Dask future whose result, once collected, moves the bar."""

        def __init__(self, future, bar):
            self._future, self._bar = future, bar

        def __getattr__(self, name):
            return getattr(self._future, name)

        def result(self, *args, **kwargs):
            batch = self._future.result(*args, **kwargs)
            self._bar.runs += len(batch)
            self._bar.set_postfix_str(f"{self._bar.runs} runs", refresh=False)
            self._bar.update(sum(1 for item in batch if item[1]))
            return batch

    class Counting:
        """The client, but its futures are `Counted`."""

        def __init__(self, client, bar):
            self._client, self._bar = client, bar

        def __getattr__(self, name):
            return getattr(self._client, name)

        def submit(self, *args, **kwargs):
            return Counted(self._client.submit(*args, **kwargs), self._bar)

    class BarSampler(DaskDistributedSampler):
        def sample_until_n_accepted(self, n, simulate_one, t, **kwargs):
            what = "prior sample" if kwargs.get("all_accepted") else f"generation {t}"
            with terminal_bar(n, what, "accepted", stream) as bar:
                if bar is None:
                    return super().sample_until_n_accepted(n, simulate_one, t, **kwargs)
                bar.runs, real = 0, self.client
                self.client = Counting(real, bar)
                try:
                    return super().sample_until_n_accepted(n, simulate_one, t, **kwargs)
                finally:
                    self.client = real

    return BarSampler(dask_client=client)


def run_fit(setup: FitSetup, client, history_id: int | None = None,
            write: Callable[[str], None] = print, bar_stream=None) -> FitOutcome:
    """Run (or, with the `history_id` that `plan_fit` gave, resume) the calibration on
    a Dask `client` (see `experiments.runner.open_client`); see the module doc. Ctrl-C
    stops it with the finished generations kept in the history (`interrupted` set).
    `write` gets a line per generation; `bar_stream` (default stderr) a progress bar
    while each population is sampled, the prior sample first, if it is a terminal."""
    import pyabc

    db_url = f"sqlite:///{setup.db.resolve()}"
    started = time.monotonic()
    outcome = FitOutcome(setup.db, 0, 0, None)
    progress = Progress(setup.budget, lambda: abc.history.total_nr_simulations, write)
    quiet = _quiet_pyabc(progress)
    shield = InterruptShield()
    progress.safe_point = shield.check
    try:
        abc = pyabc.ABCSMC(TargetModel(setup), abc_prior(setup.priors),
                           TargetDistance(setup.targets, setup.scale),
                           population_size=setup.population,
                           sampler=_bar_sampler(client, bar_stream))
        with shield:
            if history_id is None:
                setup.db.parent.mkdir(parents=True, exist_ok=True)
                abc.new(db_url, observed_values(setup.targets, setup.scale),
                        meta_info={"identity": json.dumps(setup.identity(), default=str)})
            else:
                abc.load(db_url, history_id)
        shield.protect(abc.history, HISTORY_WRITES)
        done_before = progress.done_before = abc.history.total_nr_simulations
        generations_left = (np.inf if setup.generations is None
                            else setup.generations - abc.history.n_populations)
        if done_before >= setup.budget:
            write(f"{setup.db}: the budget ({setup.budget}) is used up "
                  f"({done_before} simulations); raise --budget to go on")
        elif generations_left <= 0:
            write(f"{setup.db}: holds {abc.history.n_populations} generations already; "
                  f"raise --generations to go on")
        else:
            abc.run(minimum_epsilon=setup.min_epsilon, max_nr_populations=generations_left,
                    max_total_nr_simulations=setup.budget)
    except KeyboardInterrupt:
        outcome.interrupted = True
    finally:
        quiet()
        shield.close()
    outcome.wall_s = time.monotonic() - started
    if not setup.db.is_file():  # interrupted before the history was created
        return outcome
    history = pyabc.History(db_url, _id=history_id or _latest_id(setup.db))
    outcome.generations = history.n_populations
    outcome.simulations = history.total_nr_simulations
    if outcome.generations:
        outcome.epsilon = float(history.get_all_populations()["epsilon"].iloc[-1])
    if not outcome.interrupted and outcome.generations:
        outcome.files = write_results(setup, history)
    return outcome


HISTORY_WRITES = ("append_population", "update_after_calibration", "done")


def _blocked_waiting(frame) -> bool:
    """Is the main thread waiting, where a KeyboardInterrupt is safe? Either blocked in
    a threading wait (for the Dask scheduler's answer: distributed's `sync` cancels and
    re-raises), or in pyabc's own sampling loop between its 10 ms polls of the futures
    (`sample_until_n_accepted`: the signal lands in its frame, not in a Dask call). That
    loop runs for a whole generation; before it counted as waiting, a Ctrl-C there was
    held back to the generation's end: 20 minutes and more in a real fit."""
    if frame is None:
        return False
    code = frame.f_code
    if code.co_name == "wait" and code.co_filename == threading.__file__:
        return True
    return (code.co_name == "sample_until_n_accepted"
            and Path(code.co_filename).parent.name == "sampler"
            and "pyabc" in Path(code.co_filename).parts)


class InterruptShield:
    """Ctrl-C held back while the history is written. A KeyboardInterrupt inside one
    of SQLAlchemy's commits left the SQLite file locked and the next commit waiting
    for ever; with the shield, a SIGINT that lands in a `protect`ed method (or a
    `with shield:` block) is raised as soon as it returns. Anywhere else a Ctrl-C is
    raised at once only while the main thread waits (for Dask, mostly), and otherwise at
    the next safe point (`check`: pyabc's next progress line, or a write's end): a
    KeyboardInterrupt landing inside SQLAlchemy's or Dask's cleanup was swallowed there
    and the fit waited for ever (the Ctrl-C test failed 6 times in 12 under load). Main
    thread only (signal handlers live there); elsewhere it does nothing."""

    def __init__(self):
        self.depth = 0
        self.interrupted = False  # a Ctrl-C came, whether or not its KeyboardInterrupt got out
        self.previous = None
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGINT, self._on_sigint)

    def _on_sigint(self, signum, frame) -> None:
        self.interrupted = True
        if not self.depth and _blocked_waiting(frame):
            raise KeyboardInterrupt
        # else: raised at the next safe point (`check`, or a shielded write's end). Raised
        # here, it could land in SQLAlchemy's or Dask's own cleanup code, which swallows it
        # (logging a traceback) or is left half done (the client then waited for ever).

    def check(self) -> None:
        """A safe point: raise the Ctrl-C that came since (pyabc's progress lines call it)."""
        if self.interrupted and not self.depth:
            raise KeyboardInterrupt

    def __enter__(self) -> "InterruptShield":
        self.depth += 1
        return self

    def __exit__(self, *exc) -> bool:
        """Raise the Ctrl-C held back, or one that was lost: a KeyboardInterrupt that
        lands in a finalizer or weakref callback is swallowed by Python, and the fit
        would go on; the next history write (each generation's end) stops it."""
        self.depth -= 1
        if exc[0] is None:
            self.check()
        return False

    def protect(self, obj, names: tuple[str, ...]) -> None:
        """Wrap `obj`'s methods `names` so they run shielded."""
        for name in names:
            method = getattr(obj, name)

            def shielded(*args, _method=method, **kwargs):
                with self:
                    return _method(*args, **kwargs)
            setattr(obj, name, shielded)

    def close(self) -> None:
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)
            self.previous = None


def _quiet_pyabc(progress: Progress) -> Callable[[], None]:
    """Route pyabc's log to `progress` alone (its own lines and timings are noise on a
    terminal); returns the function that puts its logging back."""
    saved = []
    for name in ("ABC", "ABC.History", "ABC.Sampler", "ABC.Distance", "ABC.Epsilon"):
        logger = logging.getLogger(name)
        saved.append((logger, logger.handlers[:], logger.level, logger.propagate))
        logger.handlers = [progress] if name == "ABC" else []
        logger.setLevel(logging.INFO if name == "ABC" else logging.WARNING)
        logger.propagate = False

    def restore() -> None:
        for logger, handlers, level, propagate in saved:
            logger.handlers, logger.level, logger.propagate = handlers, level, propagate
    return restore


def _latest_id(db: Path) -> int:
    import sqlite3

    with sqlite3.connect(db) as con:
        return int(con.execute("select max(id) from abc_smc").fetchone()[0])


def _check_history(setup: FitSetup, identity: dict, resume: bool) -> int | None:
    """The id of the history run to resume, or None for a new one; refuses a history
    that is there without --resume, or that another setup made."""
    if not setup.db.is_file():
        if resume:
            raise FitError(f"--resume: no calibration history at {setup.db} to resume")
        return None
    if not resume:
        raise FitError(f"{setup.db}: a calibration history is already there; add --resume to "
                       f"continue it, or give another --db")
    import pyabc

    try:
        history_id = _latest_id(setup.db)
        stored = pyabc.History(f"sqlite:///{setup.db.resolve()}", _id=history_id)
        options = stored.get_abc().json_parameters
    except Exception as exc:  # not a pyabc database
        raise FitError(f"{setup.db}: not a calibration history ({exc})") from None
    made_with = _stored_identity(options)
    if made_with != json.loads(json.dumps(identity, default=str)):
        differs = sorted(k for k in identity if made_with.get(k) != json.loads(
            json.dumps(identity[k], default=str)))
        raise FitError(f"{setup.db}: made with other settings ({', '.join(differs) or 'all'} "
                       f"differ: scenario, scale, dates, model code, priors or targets); "
                       f"resume with the same ones, or give another --db")
    return history_id


def _stored_identity(options: str) -> dict:
    """The identity stored in pyabc's meta_info (kept there as the str of a dict)."""
    import ast

    try:
        return json.loads(ast.literal_eval(options)["identity"])
    except (ValueError, SyntaxError, KeyError, TypeError):
        return {}


def posterior_frame(setup: FitSetup, history, t: int | None = None) -> pd.DataFrame:
    """Generation `t` (default the last): one row per parameter set, a column per prior
    (named as in priors.toml), its weight and distance, and the generation."""
    t = history.max_t if t is None else t
    population = history.get_population(t)
    rows = []
    for particle in population.particles:
        row = {p.name: p.natural(float(particle.parameter[p.abc_name])) for p in setup.priors}
        row.update(weight=float(particle.weight), distance=float(particle.distance),
                   generation=int(t))
        rows.append(row)
    frame = pd.DataFrame(rows)
    frame["weight"] /= frame["weight"].sum()
    return frame


def weighted_quantile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    order = np.argsort(values)
    values, weights = np.asarray(values)[order], np.asarray(weights)[order]
    cumulative = (np.cumsum(weights) - 0.5 * weights) / weights.sum()
    return float(np.interp(q, cumulative, values))


def representative(setup: FitSetup, posterior: pd.DataFrame) -> dict[str, float]:
    """The posterior's representative parameter set: each parameter's weighted median."""
    return {p.abc_name: weighted_quantile(posterior[p.name].to_numpy(),
                                          posterior["weight"].to_numpy(), 0.5)
            for p in setup.priors}


def write_results(setup: FitSetup, history, t: int | None = None) -> dict[str, Path]:
    """posterior.parquet and calibrated.toml of generation `t` (default the last) into
    setup.out_dir (each written whole)."""
    how = (f"ABC-SMC: {history.n_populations} generations, {history.total_nr_simulations} "
           f"simulations; history {setup.db}")
    return write_posterior(setup, posterior_frame(setup, history, t), how)


def write_posterior(setup: FitSetup, posterior: pd.DataFrame, how: str) -> dict[str, Path]:
    """A fit's two files into setup.out_dir, each written whole: `posterior` (a row per
    draw: a column per prior, `weight`, `distance`, `generation`) as posterior.parquet,
    and calibrated.toml holding its weighted medians; `how` says in calibrated.toml's
    header how the posterior was made. Both fitting methods end here."""
    from model.files import write_atomically, write_parquet

    guard_committed_fit(setup, setup.out_dir)
    setup.out_dir.mkdir(parents=True, exist_ok=True)
    files = {"posterior": setup.out_dir / "posterior.parquet",
             "calibrated": setup.out_dir / "calibrated.toml"}
    write_parquet(files["posterior"], posterior)
    write_atomically(files["calibrated"],
                     calibrated_toml(setup, representative(setup, posterior), how).encode())
    return files


def calibrated_toml(setup: FitSetup, values: dict[str, float], how: str) -> str:
    """A scenario file on the fitted scenario with the representative parameters (each
    float to 6 significant digits): header comments (`how` the posterior was made),
    then the table by `model.files.toml_text` (tomli_w)."""
    from model.files import toml_text

    when = datetime.now(timezone.utc).isoformat(timespec="seconds")
    header = [
        "# Written by `run.py calibrate`: the posterior's weighted medians. Run it as",
        f"# `run.py run {setup.out_dir / 'calibrated.toml'}`.",
        f"# {when}; model code {code_version()}; scale {setup.scale}; {how}"]
    table = {"description": f"{setup.scenario}, with the parameters calibrated to the "
                            f"seed articles' figures",
             "base": setup.scenario,
             "parameters": _rounded(to_params(setup.priors, values))}
    return toml_text(table, header)


def _rounded(values: dict) -> dict:
    """`values` (nested) with each float to 6 significant digits, as written."""
    return {k: _rounded(v) if isinstance(v, dict) else _toml_number(v)
            for k, v in values.items()}


def _toml_number(value: Any) -> int | float:
    if isinstance(value, int):
        return value
    return float(f"{value:.6g}") if math.isfinite(value) else math.nan
