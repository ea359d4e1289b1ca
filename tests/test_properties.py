"""Property-based checks of the two data structures everything else rests on."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from model.state.calendar import DueQueue
from model.state.people import N_STATUS, Population, Status

N_DAYS = 30


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 19), st.integers(-2, N_DAYS + 2)), max_size=80))
def test_due_queue_returns_each_person_once_on_their_latest_day(schedule):
    """Rescheduling leaves stale entries behind; pop must drop them."""
    next_day = np.full(20, -10**6, dtype=np.int64)
    queue = DueQueue(N_DAYS)
    for row, day in schedule:
        next_day[row] = day
        queue.push(np.array([row]), np.array([day]))
    seen = []
    for day in range(N_DAYS):
        rows = queue.pop(day, next_day)
        assert len(np.unique(rows)) == len(rows)
        assert (next_day[rows] == day).all()
        seen.extend(rows.tolist())
    expected = {r for r in range(20) if 0 <= next_day[r] < N_DAYS and any(s[0] == r for s in schedule)}
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
            pop.set_status(rows, Status(status), day=1)
        assert np.array_equal(np.bincount(pop.status[: pop.n], minlength=N_STATUS),
                              pop.status_counts)
        assert pop.status_counts.sum() == pop.n
