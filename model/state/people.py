"""The people, kept column-wise, and the one place their status and due day change.

Millions of people cannot each be a `mesa.Agent` and still run the real border
in seconds, so (as Covasim and Starsim do) a person is a row index and every
decision is a vectorised draw over the rows due to act that day. The Mesa
agents (sectors, ICE, flights, Mexico, courts) decide what happens to rows.

`Population` owns every column and the `DueQueue` of who acts on which day;
a status move happens only here: `Population.move` from Python, and from
compiled code `move_rows` (a new status and a due day), `stop_rows` (a new
status, no due day), `set_arrest_rows` and `admit_written` on the population's
records. Each keeps a count per status (and per arrest and status) exact; that
is what makes "people are conserved" cheap to check daily.

Records: compiled code takes the population as plain tuples of its arrays,
built and read only here: `Population.status_record` (status, counts, since,
next_day, arrest, arrest_counts: read by the names `STATUS`, `COUNTS`, ...),
`Population.moves` (that record and the queue's arrays), `Population.admit_columns`. (Plain tuples rather than
NamedTuples: numba takes a plain tuple in about half the time, and the moves
are called tens of thousands of times a run.) Once-a-day kernels take the
named `Population.columns` instead.
"""

from typing import NamedTuple

import numba
import numpy as np

from model.state.calendar import DueQueue, pop_rows, push_rows
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
# what `Population.status_record` holds where (compiled code indexes it by these names)
STATUS, COUNTS, SINCE, NEXT_DAY, ARREST, ARREST_COUNTS = range(6)
RECORD, QUEUE = range(2)  # and `Population.moves`
_NOBODY = np.empty(0, dtype=np.int64)


class Columns(NamedTuple):
    """Who each person is, by name, for once-a-day kernels (`Population.columns`, as
    they are now: growing replaces them): the columns set when a person is created
    and never changed after. Only these, not every column: numba unboxes each array
    of a record on every call, so a record of all 19 columns cost `_consequences`
    (its one caller) several microseconds a day for 13 arrays it never reads. (Its
    name stays `Columns`: numba's on-disk cache of a kernel that took it refers to
    it by name, and would fail to load, not just go stale, were it gone.)"""

    uid: np.ndarray
    family: np.ndarray
    nationality: np.ndarray
    demographic: np.ndarray
    asylum_intent: np.ndarray
    origin_state: np.ndarray


assert set(Columns._fields) <= set(_COLUMNS)


class Population:
    """All people ever created, as parallel arrays that grow on demand, and the
    queue of who acts on which day (`queue`).

    Owned by `Migrants`; the actors read its columns by row index, set the
    case a person waits for (`pending`) and their encounter history, and move
    people (status, due day) only through `move` and the compiled moves here.
    """

    def __init__(self, capacity: int = 1024, n_days: int = 1):
        self.n = 0
        self._cap = max(16, capacity)
        for name, (dtype, fill) in _COLUMNS.items():
            setattr(self, name, np.full(self._cap, fill, dtype=dtype))
        self.status_counts = np.zeros(N_STATUS, dtype=np.int64)
        self.arrest_counts = np.zeros((N_ARREST, N_STATUS), dtype=np.int64)  # (Arrest, Status)
        self.queue = DueQueue(n_days)
        self._pack()

    def _pack(self) -> None:
        """The records compiled code takes (again after growing replaced the columns)."""
        self.status_record = (self.status, self.status_counts, self.status_since,
                              self.next_day, self.arrest, self.arrest_counts)
        assert self.status_record[NEXT_DAY] is self.next_day  # (the names above)
        self.columns = Columns(*(getattr(self, name) for name in Columns._fields))
        self._moves = (self.status_record, self.queue.arrays)

    # -- moving people: status and due day --------------------------------------
    def move(self, rows: np.ndarray, status: Status, day: int,
             delay: "np.ndarray | int | None" = None) -> None:
        """Move `rows` to `status`; with `delay`, they act again `delay` days from `day`
        (else they have no due day)."""
        if len(rows) == 0:
            return
        if delay is None:
            stop_rows(self.moves(0), rows, int(status), day)
            return
        if not isinstance(delay, np.ndarray):
            delay = np.full(len(rows), delay, dtype=np.int64)
        move_rows(self.moves(len(rows)), rows, int(status), day, delay)

    def moves(self, room: int) -> tuple:
        """What a compiled move (`move_rows`) writes: (`status_record`, the queue's
        arrays), with room in the queue for `room` more rows. With no room asked
        for, the caller schedules nobody."""
        if room:
            self.queue.reserve(room)
        if self._moves[QUEUE] is not self.queue.arrays:  # the queue grew
            self._moves = (self.status_record, self.queue.arrays)
        return self._moves

    def due(self, day: int) -> "DueToday":
        """The people due to act on `day`, by where they are (`due[Status.AT_BORDER]`)."""
        return DueToday(*due_rows(self.queue.arrays, day, self.next_day, self.status))

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
        """What `admit_written` writes: (created_day, status_since, arrest,
        status_counts, arrest_counts), as they are now (growing replaces them)."""
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
        self._pack()

    def set_arrest(self, rows: np.ndarray, arrest: int) -> None:
        """Mark `rows` as arrested at the border or in the interior (`Arrest`),
        keeping the counts per (arrest, status) exact."""
        if len(rows):
            set_arrest_rows(self.status_record, rows, int(arrest))

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


class DueToday:
    """A day's due rows grouped by status, each group in row order."""

    def __init__(self, rows: np.ndarray, offsets: np.ndarray):
        self.rows, self.offsets = rows, offsets.tolist()

    def __getitem__(self, status: Status) -> np.ndarray:
        return self.rows[self.offsets[status]: self.offsets[status + 1]]


# -- the compiled moves: the only code that writes status, next_day and the counts --

@numba.njit(cache=True)
def set_status_rows(record, rows, new, day):
    """`rows` to status `new` on `day` (`record`: `Population.status_record`), the counts
    per status and per (arrest, status) kept exact; `status_since` is `day` for whoever
    changes status."""
    status, counts, since = record[STATUS], record[COUNTS], record[SINCE]
    arrest, arrest_counts = record[ARREST], record[ARREST_COUNTS]
    for r in rows:
        counts[status[r]] -= 1
        counts[new] += 1
        arrest_counts[arrest[r], status[r]] -= 1
        arrest_counts[arrest[r], new] += 1
        if status[r] != new:
            since[r] = day
        status[r] = new


@numba.njit(cache=True)
def set_arrest_rows(record, rows, new):
    """`Population.set_arrest` on its `status_record` (for compiled callers too). Rows
    already arrested as `new` stay as they are."""
    status, arrest, arrest_counts = record[STATUS], record[ARREST], record[ARREST_COUNTS]
    for r in rows:
        arrest_counts[arrest[r], status[r]] -= 1
        arrest_counts[new, status[r]] += 1
        arrest[r] = new


@numba.njit(cache=True)
def move_rows(moves, rows, new, day, delays):
    """`rows` to status `new` (counts kept exact: `set_status_rows`), due again `delays`
    days after `day` and queued for it (`moves`: `Population.moves`). For the compiled
    moves of the actors (`Migrants.send_back`, `ICE.detain`, ...)."""
    record, queue = moves
    set_status_rows(record, rows, new, day)
    when = day + delays
    record[NEXT_DAY][rows] = when
    push_rows(queue, rows, when)


@numba.njit(cache=True)
def stop_rows(moves, rows, new, day):
    """`rows` to status `new` (counts kept exact) with no due day (`moves`:
    `Population.moves`; nobody is queued)."""
    record = moves[RECORD]
    set_status_rows(record, rows, new, day)
    record[NEXT_DAY][rows] = NEVER


@numba.njit(cache=True)
def group_rows(rows, status, n_status):
    """`rows` grouped by `status[row]` (a status, or any key below `n_status`), keeping
    their order: (rows, offsets). For `Population.due`, and the actors' splits by
    outcome (`BorderPatrol.process`, `ICE.join_lines`)."""
    offsets = np.zeros(n_status + 1, dtype=np.int64)
    for r in rows:
        offsets[status[r] + 1] += 1
    offsets = np.cumsum(offsets)
    grouped = np.empty(rows.size, dtype=np.int64)
    place = offsets[:-1].copy()
    for r in rows:
        grouped[place[status[r]]] = r
        place[status[r]] += 1
    return grouped, offsets


@numba.njit(cache=True)
def due_rows(queue, day, next_day, status):
    """`Population.due` in one call: the queue's rows due on `day` (`pop_rows`), grouped
    by status (`group_rows`)."""
    return group_rows(pop_rows(queue, day, next_day), status, N_STATUS)


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
