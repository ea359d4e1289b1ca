"""An emulator of the model's target values, and the likelihood it gives: the fit
`run.py calibrate --method emulator` samples the posterior of (`calibration.mcmc`).

    emulator = Emulator.train(priors, targets, design_table, scale=20)
    like = emulator.likelihood(observed_values(targets))   # the real figures, by their kinds
    like = emulator.likelihood(run_values, exact=True)     # a run's own values (SBC)
    like.log(units)                                        # (n,) log-likelihoods

The emulator is trained once on the design's runs (`calibration.design`: a thousand or
so parameter sets spread over the priors, each run once) and then answers, for any
parameter set, what the model's targets would be: a Gaussian process per target
(squared-exponential kernel with a length per parameter, plus white noise for the
seed's), from the priors' unit coordinates to the target, first put on a log scale when
all its values are positive and then standardised. The kernel's hyperparameters are
fitted by scikit-learn's `GaussianProcessRegressor` on a subsample of the runs; the
process then conditions on every run. What a run adds to its answer (the seed's noise,
and the emulator's own error) is measured, not assumed: the leave-one-out residuals
(each run predicted from all the others, exact for a Gaussian process), whose covariance
(Ledoit-Wolf shrinkage, `sklearn.covariance`) keeps the targets' correlations (a month's
encounters and its fiscal year's move together). Why a Gaussian process and not a
network or a quadratic surface: measured in docs/fit.md (held-out R^2).

The likelihood of a parameter set is then Gaussian around the emulated values with
that covariance, plus, for a real figure, its own uncertainty from its kind:
an `about` figure is met within its tolerance (taken as a 90 % band: sd tolerance /
1.645), an `exact` one within 0.5; a floor (`at_least`) or ceiling (`at_most`) counts
the chance the run is on the right side of it (a normal CDF). Targets that no design
run changed (the flights the scenario fixes) say nothing about the parameters and are
left out; so are targets a run at the design's scale cannot measure (`coarsest_scale`).
"""

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from calibration.design import UNIT_PREFIX
from calibration.priors import Prior
from calibration.targets import Target, measurable
from model.config.validation import ScenarioError

Z90 = 1.6448536269514722  # a 90 % band is +/- this many standard deviations
HYPER_RUNS = 192  # runs the kernel's hyperparameters are fitted on (per target)
MIN_RUNS = 20


class EmulatorError(ScenarioError):
    """A design the emulator cannot learn from (too few runs, no informative target)."""


@dataclass
class Emulator:
    """What the emulator learned: the targets it emulates (`ids`, each with its
    transform: log or not, centre, spread), each one's Gaussian process, and the
    covariance of what a run adds to their answer (in standardised units). Built by `train`; used by
    `likelihood` (and so by `calibration.mcmc`) and the SBC benchmark."""

    priors: tuple[Prior, ...]
    ids: list[str]
    log: np.ndarray  # bool per target
    centre: np.ndarray
    spread: np.ndarray
    scaled: np.ndarray = field(repr=False)  # (targets, runs, params): runs / length scales
    inverse_lengths: np.ndarray = field(repr=False)  # (targets, params)
    amplitude: np.ndarray = field(repr=False)  # (targets,)
    weights: np.ndarray = field(repr=False)  # (targets, runs): K^-1 z
    covariance: np.ndarray = field(repr=False)
    held_out_r2: np.ndarray = field(repr=False)  # per target, of the leave-one-out predictions
    runs: int = 0

    # -- training ----------------------------------------------------------------
    @classmethod
    def train(cls, priors: tuple[Prior, ...], targets: tuple[Target, ...],
              table: pd.DataFrame, scale: int, seed: int = 0) -> "Emulator":
        units = unit_matrix(priors, table)
        chosen = [t for t in measurable(targets, scale) if t.id in table.columns]
        values = table[[t.id for t in chosen]].to_numpy(dtype=float)
        keep = np.isfinite(values).all(axis=1)
        units, values = units[keep], values[keep]
        if len(values) < MIN_RUNS:
            raise EmulatorError(f"{len(values)} finished design runs: too few to train on "
                                f"(at least {MIN_RUNS})")
        varies = values.std(axis=0) > 1e-9 * np.maximum(np.abs(values).mean(axis=0), 1.0)
        if not varies.any():
            raise EmulatorError("no target changed across the design's runs")
        ids = [t.id for t, v in zip(chosen, varies) if v]
        values = values[:, varies]
        log = (values > 0).all(axis=0)
        y = np.where(log, np.log(np.where(log, values, 1.0)), values)
        centre, spread = y.mean(axis=0), y.std(axis=0)
        z = (y - centre) / spread
        rng = np.random.default_rng(seed)
        pick = rng.permutation(len(z))[:HYPER_RUNS]
        fitted = [_process(units, z[:, j], pick, seed) for j in range(z.shape[1])]
        inverse = np.array([f[0] for f in fitted])
        amplitude = np.array([f[1] for f in fitted])
        weights = np.array([f[2] for f in fitted])
        residuals = np.array([f[3] for f in fitted]).T
        from sklearn.covariance import LedoitWolf

        covariance = LedoitWolf().fit(residuals).covariance_
        r2 = 1.0 - residuals.var(axis=0) / z.var(axis=0)
        scaled = units[None, :, :] * inverse[:, None, :]
        return cls(priors, ids, log, centre, spread, scaled, inverse, amplitude, weights,
                   covariance, r2, len(z))

    # -- answering ---------------------------------------------------------------
    def predict(self, units: np.ndarray) -> np.ndarray:
        """Emulated targets (standardised units) at parameter sets `units` (n, priors):
        each target's process mean, k(x, runs) K^-1 z, for all targets at once."""
        x = np.atleast_2d(units)[None, :, :] * self.inverse_lengths[:, None, :]  # (t, n, p)
        square = ((x ** 2).sum(-1)[:, :, None] + (self.scaled ** 2).sum(-1)[:, None, :]
                  - 2 * np.einsum("tnp,trp->tnr", x, self.scaled))
        kernel = np.exp(-0.5 * np.maximum(square, 0.0))
        return np.einsum("tnr,tr->nt", kernel, self.weights) * self.amplitude

    def standardise(self, ids: list[str], values: np.ndarray) -> np.ndarray:
        """Values of targets `ids` (natural units) on the emulator's standardised scale."""
        index = [self.ids.index(i) for i in ids]
        v = np.asarray(values, dtype=float)
        log = self.log[index]
        y = np.where(log, np.log(np.where(log & (v > 0), v, np.nan)), v)
        return (y - self.centre[index]) / self.spread[index]

    def natural(self, z: np.ndarray) -> np.ndarray:
        """Standardised values (…, targets) back in natural units."""
        y = z * self.spread + self.centre
        return np.where(self.log, np.exp(y), y)

    def likelihood(self, observed: dict, targets: tuple[Target, ...] = (),
                   exact: bool = False) -> "Likelihood":
        """The likelihood of `observed` ({target id: value}; ids the emulator does not
        emulate are ignored). `exact`: the values are a run's own (simulation-based
        calibration), with no uncertainty of their own and floors/ceilings read as values;
        otherwise each figure's uncertainty comes from its kind in `targets`."""
        kinds = {t.id: t for t in targets}
        point, point_sd, bound, bound_sign = [], [], [], []
        for i, tid in enumerate(self.ids):
            if tid not in observed or observed[tid] is None or not np.isfinite(observed[tid]):
                continue
            target = kinds.get(tid)
            if exact or target is None:
                point.append(i)
                point_sd.append(0.0)
            elif target.kind in ("at_least", "at_most"):
                bound.append(i)
                bound_sign.append(1.0 if target.kind == "at_least" else -1.0)
            else:
                point.append(i)
                point_sd.append(self._figure_sd(i, target))
        if not point and not bound:
            raise EmulatorError("none of the observed targets is one the emulator emulates")
        ids = [self.ids[i] for i in point + bound]
        z = self.standardise(ids, np.array([observed[t] for t in ids]))
        return Likelihood(self, np.array(point, dtype=int), z[:len(point)],
                          np.array(point_sd), np.array(bound, dtype=int), z[len(point):],
                          np.array(bound_sign))

    def _figure_sd(self, i: int, target: Target) -> float:
        """A real figure's own standard deviation, on the standardised scale."""
        if target.kind == "exact":
            sd = 0.5 / Z90
            return sd / self.spread[i] if not self.log[i] else sd / abs(target.value) / self.spread[i]
        sd = target.tolerance / Z90  # relative: on the log scale, absolute
        return (sd if self.log[i] else sd * abs(target.value)) / self.spread[i]


@dataclass
class Likelihood:
    """log p(observed | parameters) under the emulator (see the module doc): a
    Gaussian over the point targets (their covariance plus each figure's own
    variance), times a normal CDF per floor or ceiling. `log(units)` takes (n, priors)."""

    emulator: Emulator
    point: np.ndarray
    point_z: np.ndarray
    point_sd: np.ndarray
    bound: np.ndarray
    bound_z: np.ndarray
    bound_sign: np.ndarray

    def __post_init__(self):
        cov = self.emulator.covariance[np.ix_(self.point, self.point)] + np.diag(self.point_sd ** 2)
        self._chol = np.linalg.cholesky(cov) if len(self.point) else None
        self._log_det = 2 * np.log(np.diag(self._chol)).sum() if len(self.point) else 0.0
        self._bound_sd = np.sqrt(np.diag(self.emulator.covariance)[self.bound])

    def log(self, units: np.ndarray) -> np.ndarray:
        from scipy.linalg import solve_triangular
        from scipy.special import log_ndtr

        units = np.atleast_2d(units)
        inside = ((units >= 0) & (units <= 1)).all(axis=1)
        out = np.full(len(units), -np.inf)
        if not inside.any():
            return out
        m = self.emulator.predict(units[inside])
        total = np.zeros(int(inside.sum()))
        if len(self.point):
            r = solve_triangular(self._chol, (self.point_z - m[:, self.point]).T, lower=True)
            total += -0.5 * (r ** 2).sum(axis=0) - 0.5 * self._log_det
        if len(self.bound):
            gap = self.bound_sign * (m[:, self.bound] - self.bound_z) / self._bound_sd
            total += log_ndtr(gap).sum(axis=1)
        out[inside] = total
        return out

    def __call__(self, units: np.ndarray) -> np.ndarray:
        return self.log(units)


def unit_matrix(priors: tuple[Prior, ...], table: pd.DataFrame) -> np.ndarray:
    """The design's unit coordinates, a column per prior, in the priors' order."""
    missing = [p.name for p in priors if UNIT_PREFIX + p.name not in table.columns]
    if missing:
        raise EmulatorError(f"the design has no runs over {', '.join(missing)} "
                            f"(made with other priors?)")
    return table[[UNIT_PREFIX + p.name for p in priors]].to_numpy(dtype=float)


def _process(units: np.ndarray, z: np.ndarray, pick: np.ndarray, seed: int) -> tuple:
    """One target's Gaussian process: the kernel's hyperparameters fitted (maximum
    marginal likelihood, scikit-learn) on the runs `pick`, then conditioned on every run.
    Returns (1 / length scales, amplitude, K^-1 z, leave-one-out residuals)."""
    import warnings

    from scipy.linalg import cho_factor, cho_solve
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import RBF, ConstantKernel, WhiteKernel

    kernel = (ConstantKernel(1.0, (1e-2, 1e2)) * RBF(np.full(units.shape[1], 0.5), (1e-2, 1e3))
              + WhiteKernel(0.1, (1e-6, 2.0)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # a length at its bound: flat
        fitted = GaussianProcessRegressor(kernel, random_state=seed).fit(units[pick], z[pick])
    k = fitted.kernel_
    amplitude = k.k1.k1.constant_value  # one length may come back as a plain number:
    inverse = np.broadcast_to(1.0 / np.atleast_1d(k.k1.k2.length_scale), units.shape[1:])
    noise = k.k2.noise_level
    scaled = units * inverse
    square = (scaled ** 2).sum(1)[:, None] + (scaled ** 2).sum(1)[None, :] - 2 * scaled @ scaled.T
    gram = amplitude * np.exp(-0.5 * np.maximum(square, 0.0))
    factor = cho_factor(gram + noise * np.eye(len(z)), lower=True)
    weights = cho_solve(factor, z)
    diagonal = np.diag(cho_solve(factor, np.eye(len(z))))
    return inverse, amplitude, weights, weights / diagonal
