"""Posterior draws: the parameter set a run uses as draw `i` of a fit's posterior.

A fit (`calibration.fit.write_results`) writes two files side by side: `calibrated.toml`
(the posterior's weighted medians, the `[parameters]` a scenario's `calibrated = ...`
key merges in) and `posterior.parquet` (one row per particle: a column per prior, named
as in priors.toml, e.g. `push.mexico.2020-04`, and its `weight`, `distance`, `generation`).

`draw_parameters(calibrated_file, i)` picks draw `i`: one particle, chosen by weight with a
random generator seeded from `i` and the posterior file's sha256, so draw `i` is the same
particle every time, whatever other draws are asked for, and changes when the file does.
Its values become `simulate(params=...)`-shaped overrides through `calibration.priors.to_params`
(the same mapping the fit used to write calibrated.toml's medians).

Called by `model.config.scenario` when a scenario is loaded with `draw=i`
(`simulate(..., draw=i)`, `run.py compare --posterior N`, sweeps with `posterior = N`).
"""

import functools
import hashlib
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from model.config.validation import ScenarioError

POSTERIOR_FILE = "posterior.parquet"  # beside the calibrated.toml a fit writes
BOOKKEEPING = ("weight", "distance", "generation")
MAX_POSTERIOR_BYTES = 64 * 1024 * 1024  # a fit's posterior is a few kB; refuse a huge file


@dataclass(frozen=True)
class Posterior:
    """A fit's posterior as read: its file, sha256, parameter columns and weights."""

    path: Path
    sha256: str
    frame: pd.DataFrame  # a column per prior name, in the file's order
    weights: np.ndarray  # normalised to sum 1

    @property
    def names(self) -> list[str]:
        return [c for c in self.frame.columns if c not in BOOKKEEPING]

    def effective_size(self) -> float:
        """Kish's effective sample size of the weights."""
        return float(1.0 / np.square(self.weights).sum())

    def particle(self, draw: int) -> int:
        """The row draw `draw` takes: a weighted pick by a generator seeded from the draw
        and the file's hash (independent of every other draw)."""
        check_draw("draw", draw)
        entropy = [int(self.sha256[:16], 16), draw]
        rng = np.random.default_rng(np.random.SeedSequence(entropy))
        return int(rng.choice(len(self.weights), p=self.weights))


def check_draw(what: str, draw: Any) -> int:
    """A draw number: a whole number >= 0 (not a bool)."""
    if isinstance(draw, bool) or not isinstance(draw, (int, np.integer)) or draw < 0:
        raise ScenarioError(f"{what}: expected a posterior draw number (a whole number >= 0), "
                            f"got {draw!r}")
    return int(draw)


def posterior_path(calibrated_file: Path) -> Path:
    """The posterior a calibrated.toml summarises: the posterior.parquet beside it."""
    return Path(calibrated_file).parent / POSTERIOR_FILE


def read_posterior(path: Path) -> Posterior:
    """The posterior in `path`, checked (ScenarioError naming the file if it is not one);
    cached while the file's size and modification time stay the same."""
    path = Path(path)
    try:
        stat = path.stat()
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read the posterior beside the calibration file "
                            f"({exc.strerror or exc}); a posterior draw needs the "
                            f"{POSTERIOR_FILE} `run.py calibrate` wrote with it") from None
    return _read(path.resolve(), stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=8)
def _read(path: Path, size: int, mtime_ns: int) -> Posterior:
    if size > MAX_POSTERIOR_BYTES:
        raise ScenarioError(f"{path}: {size:,} bytes is not a posterior written by "
                            f"`run.py calibrate` (at most {MAX_POSTERIOR_BYTES:,})")
    data = path.read_bytes()
    try:
        frame = pd.read_parquet(io.BytesIO(data))
    except Exception as exc:  # pyarrow raises several kinds for a file that is not Parquet
        raise ScenarioError(f"{path}: not a Parquet posterior ({type(exc).__name__})") from None
    if "weight" not in frame.columns or frame.empty:
        raise ScenarioError(f"{path}: not a posterior written by `run.py calibrate` "
                            f"(no weight column, or no rows)")
    weights = frame["weight"].to_numpy(dtype=float)
    if not np.isfinite(weights).all() or (weights < 0).any() or weights.sum() <= 0:
        raise ScenarioError(f"{path}: weight: expected finite weights >= 0 that are not all 0")
    names = [c for c in frame.columns if c not in BOOKKEEPING]
    values = frame[names]
    if not names or not all(pd.api.types.is_numeric_dtype(values[c]) for c in names) \
            or not np.isfinite(values.to_numpy(dtype=float)).all():
        raise ScenarioError(f"{path}: expected a finite number per parameter in every row")
    return Posterior(path, hashlib.sha256(data).hexdigest(), values,
                     weights / weights.sum())


def draw_parameters(calibrated_file: Path, draw: int) -> tuple[dict, dict]:
    """Draw `draw` of the posterior beside `calibrated_file`: the parameters (in the
    scenario file's shape) and what names it for a run's identity:
    {"file", "sha256", "draw", "particle"}."""
    from calibration.priors import PriorsError, Prior, parameter_hint, to_params, _strip

    posterior = read_posterior(posterior_path(calibrated_file))
    row = posterior.particle(draw)
    priors = []
    for name in posterior.names:
        try:  # the same check priors.toml's names pass: the name is a number the scenario has
            hint = parameter_hint(f"{posterior.path}: column", name)
        except PriorsError as exc:
            raise ScenarioError(str(exc)) from None
        priors.append(Prior(name, "uniform", 0.0, 1.0, "posterior column",
                            whole=_strip(hint) is int))
    values = {p.abc_name: float(posterior.frame[p.name].iloc[row]) for p in priors}
    identity = {"file": str(posterior.path), "sha256": posterior.sha256, "draw": int(draw),
                "particle": row}
    return to_params(tuple(priors), values), identity
