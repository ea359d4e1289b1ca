"""A coarse --scale estimates what full scale gives (the small daily quotas included).

At scale 20 an MPP site's 15 places a day are 0.75 of an agent, a flight's
135 seats are 6.75 and a port's metering quota of 5 people a day is 0.25: the
room must carry over, or coarse runs undercount.
The whole-run, every-column comparison is benchmarks/bench_scale.py.
"""

import numpy as np
import pytest

from model import simulate

WINDOW = {"start": "2018-10-01", "end": "2020-02-29"}  # MPP 1.0, ACA and the first flights
COLUMNS = ["encounters", "releases", "mpp_enrollments", "flight_passengers",
           "interior_repatriations", "removals", "metering_waiting"]


@pytest.fixture(scope="module")
def full_scale():
    return simulate("historical", seed=0, scale=1, **WINDOW).monthly[COLUMNS].sum()


@pytest.mark.parametrize("scale", [20])
def test_coarse_scale_estimates_full_scale_totals(full_scale, scale):
    coarse = np.mean([simulate("historical", seed=s, scale=scale, **WINDOW).monthly[COLUMNS].sum()
                      for s in range(4)], axis=0)
    ratio = dict(zip(COLUMNS, (coarse / full_scale.to_numpy()).round(3)))
    # ~1,850 people: 90 agents at scale 20; and since Mexicans are also removed formally
    # (fewer try again), the flights' demand is close to their seats, where a coarse run
    # leaves more seats empty (1,640-1,740 of 1,850 over seeds, 0.89-0.94, with the hand-set
    # parameters; 0.866 over these four seeds with the calibrated ones, fewer Mexicans
    # setting out: a known coarse-scale bias of the flights, docs/scale.md)
    # metering_waiting (monthly stocks summed): the lists are the sum of months of
    # a few agents a day joining and leaving, noisier than the flows (0.93-1.01 by seed)
    tolerance = {"interior_repatriations": 0.15, "metering_waiting": 0.06}
    for column, r in ratio.items():
        assert abs(r - 1) <= tolerance.get(column, 0.04), ratio
