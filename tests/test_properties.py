"""Property-based checks of the two data structures everything else rests on."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from model.state.people import N_STATUS, Population, Status

N_DAYS = 30


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 19), st.integers(-2, N_DAYS + 2)), max_size=80))
def test_due_queue_returns_each_person_once_on_their_latest_day(schedule):
    """Rescheduling leaves stale entries behind in the `DueQueue`; a day's due rows
    must drop them (scheduled by the population's compiled move, as the actors do)."""
    pop = Population(capacity=16, n_days=N_DAYS)
    pop.add(20, day=0)
    for row, day in schedule:
        pop.move(np.array([row]), Status.AT_BORDER, 0, np.array([day]))
    seen = []
    for day in range(N_DAYS):
        rows = pop.due(day)[Status.AT_BORDER]
        assert len(np.unique(rows)) == len(rows)
        assert (pop.next_day[rows] == day).all()
        seen.extend(rows.tolist())
    expected = {r for r in range(20)
                if 0 <= pop.next_day[r] < N_DAYS and any(s[0] == r for s in schedule)}
    assert set(seen) == expected


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 30), st.lists(st.integers(0, N_STATUS - 1), max_size=10)),
                max_size=20))
def test_population_status_counts_stay_exact(steps):
    pop = Population(capacity=16)  # small, so adding people grows the arrays
    rng = np.random.default_rng(0)
    for added, moves in steps:
        pop.add(added, day=0)
        for status in moves:
            rows = np.unique(rng.integers(0, pop.n, size=rng.integers(1, pop.n + 1)))
            pop.move(rows, Status(status), day=1)
        assert np.array_equal(np.bincount(pop.status[: pop.n], minlength=N_STATUS),
                              pop.status_counts)
        assert pop.status_counts.sum() == pop.n
