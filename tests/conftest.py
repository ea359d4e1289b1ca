"""Shared fixtures: small, fast runs of the real scenarios.

Most tests run the real historical scenario at a coarse scale (one agent per
10 people) so the whole suite stays fast; the full-scale run is measured by
benchmarks/bench_model.py, not timed here.
"""

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from model import BorderModel  # noqa: E402
from model.simulate import tabulate  # noqa: E402

TEST_SCALE = 10


@pytest.fixture(scope="session")
def historical_run():
    """The historical scenario, run once with every invariant checked every day."""
    model = BorderModel("historical", seed=7, scale=TEST_SCALE, check_invariants=True)
    model.run()
    return model


@pytest.fixture(scope="session")
def historical_result(historical_run):
    """The same run's tables, as `simulate()` returns them."""
    return tabulate(historical_run)


@pytest.fixture(scope="session")
def historical_monthly(historical_result):
    return historical_result.monthly


@pytest.fixture(scope="session")
def historical_daily(historical_result):
    return historical_result.daily
