"""Migrants, kept column-wise: one numpy array per attribute, one row per person.

Millions of people cannot each be a `mesa.Agent` and still run the real border
in seconds, so (as Covasim and Starsim do) a person is a row index and every
decision is a vectorised draw over the rows due to act that day. The Mesa
agents (sectors, ICE, flights, Mexico, courts) act on these rows.

Every status change keeps a count per status exact (`Population.set_status`,
or the compiled move in `Migrants.move`); that is what makes "people are
conserved" cheap to check daily.
"""

import numba
import numpy as np

from model.state.capacity import fit_under
from model.state.geography import MEXICAN_STATES
from model.state.vocabulary import N_ARREST, N_DEMOGRAPHIC, N_STATUS, Status

NEVER = np.iinfo(np.int32).min // 2  # "no such day"
STATE_KM = np.array([s.km_to_border for s in MEXICAN_STATES], dtype=np.int16)

_COLUMNS: dict[str, tuple[np.dtype, int]] = {
    # attribute: (dtype, fill value for new rows)
    "uid": (np.uint64, 0),  # the person's key for random draws (streams.RandomStreams)
    "nationality": (np.int8, 0),
    "demographic": (np.int8, 0),
    "group": (np.int8, 0),  # behaviour group: nationality x demographic (set by `add`)
    "origin_state": (np.int8, -1),  # index into MEXICAN_STATES; -1 when not Mexican
    "asylum_intent": (np.bool_, False),
    "status": (np.int8, Status.EN_ROUTE),
    "sector": (np.int8, -1),  # sector of the latest attempt
    "next_day": (np.int32, NEVER),  # day of the next scheduled action
    "pending": (np.int8, -1),  # outcome to carry out when custody/detention ends
    "created_day": (np.int32, 0),
    "last_encounter_day": (np.int32, NEVER),
    "last_encounter_month": (np.int32, -1),
    "last_encounter_fy": (np.int16, -1),
    "n_encounters": (np.int16, 0),
    "n_violence": (np.int16, 0),
    "status_since": (np.int32, 0),  # the day the person entered their current status
    "family": (np.int32, -1),  # row of the family's first member; own row for everyone else
    "arrest": (np.int8, 0),  # vocabulary.Arrest: border crosser, or arrested in the interior
}
NEW_STATUS, NEW_ARREST = int(_COLUMNS["status"][1]), int(_COLUMNS["arrest"][1])


class Population:
    """All people ever created, as parallel arrays that grow on demand.

    Owned by `Migrants`; the actors read and write its columns by row index.
    """

    def __init__(self, capacity: int = 1024):
        self.n = 0
        self._cap = max(16, capacity)
        for name, (dtype, fill) in _COLUMNS.items():
            setattr(self, name, np.full(self._cap, fill, dtype=dtype))
        self.status_counts = np.zeros(N_STATUS, dtype=np.int64)
        self.arrest_counts = np.zeros((N_ARREST, N_STATUS), dtype=np.int64)  # (Arrest, Status)

    def add(self, count: int, *, day: int, family_key: np.ndarray | None = None,
            **attrs: np.ndarray) -> np.ndarray:
        """Append `count` people; returns their row indices. People with equal
        `family_key` form one family unit (default: each person their own)."""
        self.make_room(count)
        new = slice(self.n, self.n + count)  # slices: no fancy indexing for fresh rows
        rows = np.arange(self.n, self.n + count)
        for name, values in attrs.items():
            getattr(self, name)[new] = values
        self.group[new] = self.nationality[new] * N_DEMOGRAPHIC + self.demographic[new]
        self.family[new] = rows if family_key is None else share_by_key(rows, family_key)
        self._admit(count, day)
        if "status" in attrs:
            self.status_counts += np.bincount(self.status[new], minlength=N_STATUS)
            self.arrest_counts += np.bincount(
                self.arrest[new].astype(np.int64) * N_STATUS + self.status[new],
                minlength=self.arrest_counts.size).reshape(self.arrest_counts.shape)
        else:  # everyone new starts in the default status (a day's newcomers: no bincount)
            self.status_counts[NEW_STATUS] += count
            if "arrest" in attrs:
                self.arrest_counts[:, NEW_STATUS] += np.bincount(self.arrest[new],
                                                                  minlength=N_ARREST)
            else:
                self.arrest_counts[NEW_ARREST, NEW_STATUS] += count
        return rows

    def make_room(self, count: int) -> None:
        """Room for `count` more rows (before a compiled caller writes them: `add_written`)."""
        if self.n + count > self._cap:
            self._grow(self.n + count)

    def add_written(self, count: int, day: int, arrest: int = NEW_ARREST) -> np.ndarray:
        """Append the `count` people a compiled caller has written past the last row
        (`Behaviour.add_people`: uid, nationality, demographic, group, origin_state,
        asylum_intent, family), in the default status and arrested as `arrest`;
        returns their row indices."""
        admit_written(self.n, count, day, int(arrest), self.admit_columns())
        self.n += count
        return np.arange(self.n - count, self.n)

    def admit_columns(self) -> tuple:
        """What `admit_written` writes (as they are now: growing replaces them)."""
        return (self.created_day, self.status_since, self.arrest, self.status_counts,
                self.arrest_counts)

    def _admit(self, count: int, day: int) -> np.ndarray:
        """The last step of adding `count` rows, created on `day`: they join the run."""
        new = slice(self.n, self.n + count)
        self.created_day[new] = day
        self.status_since[new] = day
        self.n += count
        return np.arange(new.start, new.stop)

    def _grow(self, needed: int) -> None:
        new_cap = max(needed, int(self._cap * 1.5))
        for name, (dtype, fill) in _COLUMNS.items():
            old = getattr(self, name)
            new = np.full(new_cap, fill, dtype=dtype)
            new[: self.n] = old[: self.n]
            setattr(self, name, new)
        self._cap = new_cap

    def set_status(self, rows: np.ndarray, status: Status, day: int) -> None:
        """Move people to `status`, keeping the per-status counts exact."""
        if len(rows) == 0:
            return
        set_status_rows(self.status, self.status_counts, self.status_since, rows, int(status), day,
                        self.arrest, self.arrest_counts)

    def set_arrest(self, rows: np.ndarray, arrest: int) -> None:
        """Mark `rows` as arrested at the border or in the interior (`Arrest`),
        keeping the counts per (arrest, status) exact."""
        if len(rows):
            set_arrest_rows(self.arrest, self.arrest_counts, self.status, rows, int(arrest))

    # -- families: one unit, one decision -------------------------------------
    def shared(self, values: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """`values` with every family member given its family's first value in `rows`.

        Random draws are shared by keying them on the family's first uid
        (`streams`); this shares a value computed per person, such as a
        probability that depends on what that person went through.
        """
        return share_by_key(values, self.family[rows])

    def whole_families(self, rows: np.ndarray, limit: float) -> np.ndarray:
        """Mask of the rows that fit under `limit`, taking families whole, in order."""
        return fit_under(self, rows, limit)

    def split_whole_families(self, rows: np.ndarray, limit: float
                             ) -> tuple[np.ndarray, np.ndarray]:
        """(The rows that fit under `limit`, taking families whole, in order; the others.)
        No mask when they all fit (most calls)."""
        if len(rows) <= limit:
            return rows, rows[:0]
        fits = fit_under(self, rows, limit)
        return rows[fits], rows[~fits]



@numba.njit(cache=True)
def admit_written(at, count, day, arrest_as, columns):
    """`Population.add_written` on its arrays (`Population.admit_columns`), before the
    row count moves on: rows `at` .. `at + count - 1` join on `day` in the default
    status, arrested as `arrest_as`. For compiled callers too (`Migrants.set_out`)."""
    created_day, status_since, arrest, status_counts, arrest_counts = columns
    for r in range(at, at + count):
        created_day[r] = day
        status_since[r] = day
        arrest[r] = arrest_as
    status_counts[NEW_STATUS] += count
    arrest_counts[arrest_as, NEW_STATUS] += count


@numba.njit(cache=True)
def set_status_rows(status, counts, since, rows, new, day, arrest, arrest_counts):
    """`Population.set_status` on its arrays (for compiled callers too)."""
    for r in rows:
        counts[status[r]] -= 1
        counts[new] += 1
        arrest_counts[arrest[r], status[r]] -= 1
        arrest_counts[arrest[r], new] += 1
        if status[r] != new:
            since[r] = day
        status[r] = new


@numba.njit(cache=True)
def set_arrest_rows(arrest, arrest_counts, status, rows, new):
    """`Population.set_arrest` on its arrays (for compiled callers too)."""
    for r in rows:
        arrest_counts[arrest[r], status[r]] -= 1
        arrest_counts[new, status[r]] += 1
        arrest[r] = new


def share_by_key(values: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Give every element the value of the first element of its run of equal keys.

    Keys are family ids. A family's members are made together (adjacent at
    creation) and always move together, so in any batch they stand next to
    each other: runs suffice, with no sort. (The daily invariant that no family
    is ever split would catch a batch where this did not hold.)
    """
    if len(keys) < 2:
        return values
    return _first_of_runs(values, keys)


@numba.njit(cache=True)
def _first_of_runs(values, keys):
    """`share_by_key` in one pass (called daily for every batch of newcomers: a few
    numpy calls each cost more than the pass)."""
    out = np.empty_like(values)
    first = 0
    for i in range(keys.size):
        if keys[i] != keys[first]:
            first = i
        out[i] = values[first]
    return out
