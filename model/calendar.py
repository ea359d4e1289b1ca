"""Real calendar dates for a run, and the queue of who acts on which day.

Day 0 is the scenario's start date; one model step is one day.
"""

from datetime import date, timedelta

import numpy as np


class RunCalendar:
    def __init__(self, start: date, end: date):
        self.start = start
        self.end = end
        self.n_days = (end - start).days + 1
        self.dates = [start + timedelta(days=d) for d in range(self.n_days)]
        labels = [f"{d.year:04d}-{d.month:02d}" for d in self.dates]
        self.month_labels = list(dict.fromkeys(labels))
        index = {m: i for i, m in enumerate(self.month_labels)}
        self.month_of_day = np.array([index[m] for m in labels], dtype=np.int32)

    def day(self, when: date) -> int:
        """Day index of a date (may be negative or past the end)."""
        return (when - self.start).days

    def date(self, day: int) -> date:
        return self.start + timedelta(days=int(day))


class DueQueue:
    """People bucketed by the day they next act.

    A person can be re-scheduled; the old entry is then stale and is dropped
    when its day comes, because `Population.next_day` no longer matches. This
    keeps each day's work proportional to the people acting that day instead
    of scanning everyone ever created.
    """

    def __init__(self, n_days: int):
        self._buckets: list[list[np.ndarray]] = [[] for _ in range(n_days)]

    def push(self, rows: np.ndarray, days: np.ndarray) -> None:
        """Schedule each row on its day; days outside the run are dropped."""
        if len(rows) == 0:
            return
        days = np.asarray(days)
        inside = (days >= 0) & (days < len(self._buckets))
        rows, days = rows[inside], days[inside]
        if len(rows) == 0:
            return
        if np.all(days == days[0]):
            self._buckets[int(days[0])].append(rows)
            return
        order = np.argsort(days, kind="stable")
        rows, days = rows[order], days[order]
        cuts = np.flatnonzero(np.diff(days)) + 1
        for chunk_rows, chunk_days in zip(np.split(rows, cuts), np.split(days, cuts)):
            self._buckets[int(chunk_days[0])].append(chunk_rows)

    def pop(self, day: int, next_day: np.ndarray) -> np.ndarray:
        """Rows still due on `day`, in a deterministic order, each once."""
        bucket = self._buckets[day]
        self._buckets[day] = []
        if not bucket:
            return np.empty(0, dtype=np.int64)
        rows = np.unique(np.concatenate(bucket))
        return rows[next_day[rows] == day]
