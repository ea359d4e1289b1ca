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
        # US fiscal year of each day: FY2021 runs from 2020-10-01 to 2021-09-30
        self.fiscal_year_of_day = np.array([d.year + (d.month >= 10) for d in self.dates],
                                           dtype=np.int16)

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
        if not inside.all():
            rows, days = rows[inside], days[inside]
            if len(rows) == 0:
                return
        if (days == days[0]).all():
            self._buckets[int(days[0])].append(rows)
            return
        span = days - days.min()  # offsets within one push are small: radix-sortable
        order = np.argsort(span.astype(np.uint16) if span.max() < 65536 else span, kind="stable")
        rows, days = rows[order], days[order]
        # slice runs of equal days (np.split costs a Python call per piece, and shows)
        cuts = np.flatnonzero(days[1:] != days[:-1]) + 1
        starts = np.concatenate(([0], cuts)).tolist()
        ends = np.concatenate((cuts, [len(rows)])).tolist()
        for start, end, day in zip(starts, ends, days[starts].tolist()):
            self._buckets[day].append(rows[start:end])

    def pop(self, day: int, next_day: np.ndarray) -> np.ndarray:
        """Rows still due on `day`, sorted, each once."""
        bucket = self._buckets[day]
        self._buckets[day] = []
        if not bucket:
            return np.empty(0, dtype=np.int64)
        rows = bucket[0] if len(bucket) == 1 else np.concatenate(bucket)
        rows = np.sort(rows[next_day[rows] == day])  # drop stale entries first: less to sort
        if len(rows) > 1:  # a plain sort and neighbour test beats np.unique's hashing here
            rows = rows[np.concatenate(([True], rows[1:] != rows[:-1]))]
        return rows
