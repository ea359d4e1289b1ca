"""Posterior draws under the emulator's likelihood, by MCMC (emcee's affine-invariant
ensemble sampler).

    sample = sample_posterior(likelihood, n_params=15, seed=0)
    sample.units          # (draws, params) on the priors' unit coordinates
    sample.effective      # effective sample size (emcee's autocorrelation time)

Every prior is uniform on its unit coordinate (`calibration.priors`), so the
posterior is the likelihood on the unit cube. The walkers start spread over the cube,
burn in, and run until the chain is at least 20 autocorrelation times long and
holds `keep` effective draws, or `max_steps` is reached; the draws kept are thinned to about one per autocorrelation
time, so they are nearly independent and their count is close to the effective size.
"""

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Sample:
    """Posterior draws on the unit cube, the effective sample size emcee's
    autocorrelation estimate gives the whole chain, and how the chain went."""

    units: np.ndarray
    effective: float
    autocorrelation: float  # the longest integrated autocorrelation time, in steps
    steps: int
    acceptance: float


def sample_posterior(log_likelihood, n_params: int, seed: int = 0, walkers: int | None = None,
                     burn: int = 1000, min_steps: int = 1000, max_steps: int = 20000,
                     keep: int = 1000) -> Sample:
    """Run emcee on `log_likelihood` ((n, params) -> (n,), -inf outside the cube) and
    return about `keep` draws (fewer if the chain's effective size is smaller)."""
    import emcee

    walkers = walkers or max(4 * n_params, 48)
    walkers += walkers % 2
    rng = np.random.default_rng(seed)
    start = rng.random((walkers, n_params))
    sampler = emcee.EnsembleSampler(walkers, n_params, log_likelihood, vectorize=True,
                                    moves=[(emcee.moves.DEMove(), 0.8),
                                           (emcee.moves.DESnookerMove(), 0.2)])
    sampler.random_state = np.random.RandomState(int(rng.integers(2**31))).get_state()
    state = sampler.run_mcmc(start, burn, progress=False)
    sampler.reset()
    steps, tau = 0, np.inf
    while steps < max_steps:
        chunk = max(min_steps - steps, 500)
        state = sampler.run_mcmc(state, chunk, progress=False)
        steps += chunk
        tau = float(np.max(sampler.get_autocorr_time(tol=0)))
        if steps >= 20 * tau and walkers * steps / tau >= keep:
            break
    chain = sampler.get_chain()  # (steps, walkers, params)
    effective = walkers * steps / tau
    thin = max(1, int(np.ceil(walkers * steps / min(keep, effective))))
    flat = chain.reshape(-1, n_params, order="C")
    # interleave walkers step by step, then thin evenly over the whole chain
    units = flat[::thin][:keep]
    return Sample(units, float(effective), tau, steps,
                  float(np.mean(sampler.acceptance_fraction)))
