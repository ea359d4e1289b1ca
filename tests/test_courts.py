"""The court backlog: a case counts once DHS files its notice, and the backlog
follows EOIR's and TRAC's published figures."""

import numpy as np
import pytest

from calibration.public_record import load_record, model_value
from model import BorderModel, load_scenario
from model.actors.courts import _filing_kernel, _survival
from model.state.recorder import COLUMNS

RELEASES = [c.name for c in COLUMNS].index("releases")


def test_the_filing_delay_spreads_every_notice_with_the_mean_it_is_given():
    pmf = _filing_kernel(90.0)
    assert pmf.sum() == pytest.approx(1.0)
    assert (pmf * np.arange(pmf.size)).sum() == pytest.approx(90.0 - 0.5, abs=1.0)
    assert _filing_kernel(0.0).tolist() == [1.0]  # filed the day it is issued
    tail = _survival(pmf)  # notices already on their way: the older, the sooner filed
    assert tail.sum() == pytest.approx(1.0) and (np.diff(tail) <= 0).all()


def _run(days_to_file: float, unfiled: float = 0.0) -> BorderModel:
    scenario = load_scenario("historical", [f"nta_filing_days={days_to_file}",
                                            f"initial_unfiled_cases={unfiled}"])
    model = BorderModel(scenario, seed=3, scale=20, end="2019-01-31")
    model.run()
    return model


def test_a_late_filing_holds_cases_back_and_loses_none():
    at_once, late = _run(0.0), _run(90.0, unfiled=78_000)
    released = at_once.recorder.in_people()[:, RELEASES]
    assert (released == late.recorder.in_people()[:, RELEASES]).all()  # the same people, alike
    still_coming = late.courts.unfiled[late.day:].sum()
    assert still_coming > 50_000
    # what is not yet in the backlog is on its way: nothing lost, nothing counted twice
    assert late.courts.backlog + still_coming == pytest.approx(
        at_once.courts.backlog + 78_000, rel=1e-9)


def test_the_backlog_follows_eoir_and_trac(historical_daily):
    """Within 15 % of every pending-case figure from November 2018 to December 2021.
    Filed the day they were issued, the model's notices put the backlog at 1.17 times
    EOIR's at the end of FY2019."""
    for figure in (f for f in load_record() if f.column == "court_backlog"):
        ratio = model_value(figure, historical_daily) / figure.value
        assert 0.85 <= ratio <= 1.15, (figure.period, round(ratio, 3))
