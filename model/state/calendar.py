"""Real calendar dates for a run, and the queue of who acts on which day.

Day 0 is the scenario's start date; one model step is one day.
"""

from datetime import date, timedelta

import numba
import numpy as np


class RunCalendar:
    def __init__(self, start: date, end: date):
        self.start = start
        self.end = end
        self.n_days = (end - start).days + 1
        self.dates = [start + timedelta(days=d) for d in range(self.n_days)]
        self.iso_dates = [d.isoformat() for d in self.dates]
        labels = [f"{d.year:04d}-{d.month:02d}" for d in self.dates]
        self.month_labels = list(dict.fromkeys(labels))
        index = {m: i for i, m in enumerate(self.month_labels)}
        self.month_of_day = np.array([index[m] for m in labels], dtype=np.int32)
        # US fiscal year of each day: FY2021 runs from 2020-10-01 to 2021-09-30
        self.fiscal_year_of_day = np.array([d.year + (d.month >= 10) for d in self.dates],
                                           dtype=np.int16)

    def date(self, day: int) -> date:
        return self.start + timedelta(days=int(day))


class DueQueue:
    """People bucketed by the day they next act.

    A person can be re-scheduled; the old entry is then stale and is dropped
    when its day comes, because `Population.next_day` no longer matches. This
    keeps each day's work proportional to the people acting that day instead
    of scanning everyone ever created.

    Each day's bucket is a chain of fixed-size chunks of rows, taken from a
    pool and returned to it when the day is popped: pushing and popping are one
    compiled call each (`push_rows`, `pop_rows`, on the queue's `arrays`), and a
    day's rows sit together in memory. Owned by `people.Population`, whose
    compiled moves schedule people (`people.move_rows`) and take each day's due
    rows (`Population.due`).

    `arrays` is the queue as compiled code takes it: the plain tuple
    (head, tail, rows, fill, next, state), rebuilt whenever growing replaces
    them. (A plain tuple: numba takes one in about half the time of a NamedTuple,
    and the moves are called tens of thousands of times a run.)
    """

    CHUNK = 128  # rows per chunk

    def __init__(self, n_days: int, capacity: int = 1024):
        self.n_days = n_days
        self.head = np.full(n_days, -1, dtype=np.int64)  # first chunk of each day's chain
        self.tail = np.full(n_days, -1, dtype=np.int64)  # last chunk (where pushes go)
        n_chunks = max(capacity // self.CHUNK, 16)
        self.rows = np.empty((n_chunks, self.CHUNK), dtype=np.int32)
        self.fill = np.zeros(n_chunks, dtype=np.int64)
        self.next = np.full(n_chunks, -1, dtype=np.int64)
        self.state = np.array([-1, 0], dtype=np.int64)  # free-chain head, chunks ever used
        self._pack()

    def _pack(self) -> None:
        self.arrays = (self.head, self.tail, self.rows, self.fill, self.next, self.state)

    def reserve(self, n: int) -> None:
        """Make room for `n` more rows, before a compiled caller schedules people
        (`push_rows` on `arrays`): kernels cannot grow the queue."""
        worst = min(n, self.n_days) + n // self.CHUNK + 1  # a new chunk per day, full ones
        used = self.state.item(1)
        if used + worst > len(self.fill):
            self._grow(used + worst)

    def _grow(self, needed: int) -> None:
        size = max(needed, int(len(self.fill) * 1.5))
        old = len(self.fill)
        rows = np.empty((size, self.CHUNK), dtype=np.int32)
        rows[:old] = self.rows
        self.rows = rows
        self.fill = np.concatenate([self.fill, np.zeros(size - old, dtype=np.int64)])
        self.next = np.concatenate([self.next, np.full(size - old, -1, dtype=np.int64)])
        self._pack()


@numba.njit(cache=True)
def _new_chunk(fill, next_chunk, state):
    if state[0] >= 0:  # reuse a chunk popped earlier
        c = state[0]
        state[0] = next_chunk[c]
    else:
        c = state[1]
        state[1] += 1
    fill[c] = 0
    next_chunk[c] = -1
    return c


@numba.njit(cache=True)
def push_rows(queue, rows, days):
    """Append each row to its day's chain (`queue`: a `DueQueue`'s `arrays`, after
    `reserve`); days outside the run are dropped."""
    head, tail, chunk_rows, fill, next_chunk, state = queue
    n_days = head.size
    size = chunk_rows.shape[1]
    for i in range(rows.size):
        day = days[i]
        if day < 0 or day >= n_days:
            continue
        c = tail[day]
        if c < 0 or fill[c] == size:
            new = _new_chunk(fill, next_chunk, state)
            if c < 0:
                head[day] = new
            else:
                next_chunk[c] = new
            tail[day] = new
            c = new
        chunk_rows[c, fill[c]] = rows[i]
        fill[c] += 1


@numba.njit(cache=True)
def pop_rows(queue, day, next_day):
    """The rows still due on `day` (`next_day[row] == day`: not rescheduled since),
    sorted, each once; the day's chunks go back to the pool (`queue`: a
    `DueQueue`'s `arrays`)."""
    head, tail, chunk_rows, fill, next_chunk, state = queue
    n = 0
    c = head[day]
    while c >= 0:
        n += fill[c]
        c = next_chunk[c]
    out = np.empty(n, dtype=np.int64)
    k = 0
    c = head[day]
    while c >= 0:
        for j in range(fill[c]):
            row = chunk_rows[c, j]
            if next_day[row] == day:  # not rescheduled since
                out[k] = row
                k += 1
        following = next_chunk[c]
        next_chunk[c] = state[0]  # the chunk goes back to the pool
        state[0] = c
        c = following
    head[day] = -1
    tail[day] = -1
    out = np.sort(out[:k])
    if k < 2:
        return out
    keep = np.ones(k, dtype=np.bool_)
    for i in range(1, k):
        keep[i] = out[i] != out[i - 1]
    return out[keep]
