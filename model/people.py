"""Migrants, kept column-wise: one numpy array per attribute, one row per person.

Millions of people cannot each be a `mesa.Agent` and still run the real border
in seconds, so (as Covasim and Starsim do) a person is a row index and every
decision is a vectorised draw over the rows due to act that day. The Mesa
agents (sectors, ICE, flights, Mexico, courts) act on these rows.

Every status change goes through `Population.set_status`, which keeps a count
per status; that is what makes "people are conserved" cheap to check daily.
"""

from enum import IntEnum

import numpy as np

from model.geography import MEXICAN_STATES


class Nationality(IntEnum):
    MEXICO = 0
    GUATEMALA = 1
    HONDURAS = 2
    EL_SALVADOR = 3
    CHINA = 4
    OTHER = 5


NORTHERN_TRIANGLE = (Nationality.GUATEMALA, Nationality.HONDURAS, Nationality.EL_SALVADOR)


class Demographic(IntEnum):
    SINGLE_ADULT = 0
    FAMILY_UNIT = 1
    UNACCOMPANIED_CHILD = 2


class Status(IntEnum):
    """Where a person is. Each person is in exactly one status every day."""

    EN_ROUTE = 0  # travelling north towards the border
    AT_BORDER = 1  # in a Mexican border city, about to cross (first try or again)
    IN_CBP_CUSTODY = 2  # apprehended, held by a Border Patrol sector
    IN_ICE_DETENTION = 3  # detained by ICE: credible fear, awaiting a flight
    MPP_WAITING = 4  # returned to Mexico under MPP, awaiting a hearing
    RELEASED_IN_US = 5  # released into the US (notice to appear, parole, HHS sponsor, relief)
    EVADED_INTO_US = 6  # crossed without being apprehended
    AT_HOME = 7  # back in the home country (removed, flown, deported by Mexico); may leave again
    GAVE_UP = 8  # stopped trying
    IN_THIRD_COUNTRY = 9  # transferred to Guatemala under the cooperative agreement


N_STATUS = len(Status)
N_NATIONALITY = len(Nationality)
N_DEMOGRAPHIC = len(Demographic)
N_GROUPS = N_NATIONALITY * N_DEMOGRAPHIC  # behaviour groups: nationality x demographic

NEVER = np.iinfo(np.int32).min // 2  # "no such day"
STATE_KM = np.array([s.km_to_border for s in MEXICAN_STATES], dtype=np.int16)
_STATE_BORDER = np.array([s.border for s in MEXICAN_STATES], dtype=bool)

_COLUMNS: dict[str, tuple[np.dtype, int]] = {
    # attribute: (dtype, fill value for new rows)
    "nationality": (np.int8, 0),
    "demographic": (np.int8, 0),
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
    "status_since": (np.int32, 0),
    "family": (np.int32, -1),  # row of the family's first member; own row for everyone else
}


class Population:
    """All people ever created, as parallel arrays that grow on demand."""

    def __init__(self, capacity: int = 1024):
        self.n = 0
        self._cap = max(16, capacity)
        for name, (dtype, fill) in _COLUMNS.items():
            setattr(self, name, np.full(self._cap, fill, dtype=dtype))
        self.status_counts = np.zeros(N_STATUS, dtype=np.int64)

    def add(self, count: int, *, day: int, family_key: np.ndarray | None = None,
            **attrs: np.ndarray) -> np.ndarray:
        """Append `count` people; returns their row indices. People with equal
        `family_key` form one family unit (default: each person their own)."""
        if self.n + count > self._cap:
            self._grow(self.n + count)
        rows = np.arange(self.n, self.n + count)
        for name, values in attrs.items():
            getattr(self, name)[rows] = values
        self.family[rows] = rows if family_key is None else share_by_key(rows, family_key)
        self.created_day[rows] = day
        self.status_since[rows] = day
        self.n += count
        np.add.at(self.status_counts, self.status[rows].astype(np.intp), 1)
        return rows

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
        old = np.bincount(self.status[rows], minlength=N_STATUS)
        self.status_counts -= old
        self.status_counts[status] += len(rows)
        self.status[rows] = status
        self.status_since[rows] = day

    # -- families: one unit, one decision -------------------------------------
    def shared(self, values: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """`values` with every family member given its family's first value in `rows`.

        Every draw that decides where a person goes passes through here, so a
        family is apprehended, expelled, enrolled or released together.
        """
        return share_by_key(values, self.family[rows])

    def whole_families(self, rows: np.ndarray, limit: int) -> np.ndarray:
        """Mask of the rows that fit under `limit`, taking families whole, in order."""
        if len(rows) <= limit:
            return np.ones(len(rows), dtype=bool)
        _, first, inverse, size = np.unique(self.family[rows], return_index=True,
                                            return_inverse=True, return_counts=True)
        order = np.argsort(first, kind="stable")  # families in order of appearance
        fits = np.zeros(len(first), dtype=bool)
        fits[order] = np.cumsum(size[order]) <= limit
        return fits[inverse]

    def group(self, rows: np.ndarray) -> np.ndarray:
        """Behaviour group (nationality x demographic) of each row."""
        return self.nationality[rows].astype(np.intp) * N_DEMOGRAPHIC + self.demographic[rows]

    def interior_origin(self, rows: np.ndarray) -> np.ndarray:
        """Mexicans from a non-border state (the people interior flights are for)."""
        state = self.origin_state[rows]
        return (state >= 0) & ~_STATE_BORDER[np.maximum(state, 0)]


class Pending(IntEnum):
    """What happens to a person when their custody or detention period ends.

    The first values match `policies.DESTINATIONS`: detained for that flight.
    """

    FLY_GUADALAJARA = 0
    FLY_GUATEMALA = 1
    FLY_HONDURAS = 2
    FLY_EL_SALVADOR = 3
    FLY_CHINA = 4
    FLY_OTHER = 5
    FLY_GUATEMALA_ACA = 6
    RELEASE = 10
    MPP = 11
    CREDIBLE_FEAR = 12
    PORT_REMOVAL = 13


# Where ICE removes each nationality to (Mexicans: through a land port).
REMOVAL_BY_NATIONALITY = np.array([
    Pending.PORT_REMOVAL, Pending.FLY_GUATEMALA, Pending.FLY_HONDURAS, Pending.FLY_EL_SALVADOR,
    Pending.FLY_CHINA, Pending.FLY_OTHER], dtype=np.int8)


def share_by_key(values: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Give every element the value of the first element of its run of equal keys.

    Keys are family ids. A family's members are made together (adjacent at
    creation) and always move together, so in any batch they stand next to
    each other: runs suffice, with no sort. (The daily invariant that no family
    is ever split would catch a batch where this did not hold.)
    """
    if len(keys) < 2:
        return values
    starts = np.empty(len(keys), dtype=bool)
    starts[0] = True
    np.not_equal(keys[1:], keys[:-1], out=starts[1:])
    if starts.all():
        return values
    return np.asarray(values)[np.flatnonzero(starts)][np.cumsum(starts) - 1]
