"""Capacities that take whole families, and room that carries over at coarse scales.

Holding cells, detention beds, MPP shelter places, seats on a flight and the
wind-down's daily admissions all take families whole: a family that does not
fit is not split, and the next (smaller) family in line may still fit.

At a coarse `--scale` K one agent stands for K people, so a site that receives
15 people a day has room for 15/K agents: less than one at K = 50. Rounding
that down each day loses the room for good, and a whole family of agents
rarely fits even when it is rounded up. `CarriedRoom` keeps what was not used
for the next day (or flight of the route), up to a few periods' worth or one
large family, so over time the room used in agents times K is the room used at
full scale. (At full scale nothing carries: unused places and seats are lost,
as they are in reality.) So at a coarse scale one flight may carry more than
its seats, by a few agents, but a route never carries more than its seats in
total.
"""

import numba
import numpy as np

from model.state.scaling import to_agents
from model.state.streams import Decision


@numba.njit(cache=True)
def fit_families(family: np.ndarray, rows: np.ndarray, keys: np.ndarray, room: np.ndarray
                 ) -> np.ndarray:
    """Which rows fit, taking families whole and in order, under `room[key]` each.

    `rows` are people in order of priority, members of a family next to each
    other and under one key (a sector, say); `room` is decremented in place.
    """
    n = rows.size
    fits = np.zeros(n, dtype=np.bool_)
    i = 0
    while i < n:
        head = family[rows[i]]
        j = i + 1
        while j < n and family[rows[j]] == head:
            j += 1
        key = keys[i]
        if j - i <= room[key]:
            fits[i:j] = True
            room[key] -= j - i
        i = j
    return fits


def fit_under(pop, rows: np.ndarray, limit: float) -> np.ndarray:
    """Mask of the rows that fit under one `limit`, families whole, in order."""
    if len(rows) <= limit:
        return np.ones(len(rows), dtype=bool)
    room = np.array([float(limit)])
    return fit_families(pop.family, rows, np.zeros(len(rows), dtype=np.int64), room)


LARGE_FAMILY = 6.0  # agents: room may always build up to fit one
CARRY_PERIODS = 3  # room carries for at most this many periods' worth


@numba.njit(cache=True)
def grant_one(credit, granted, key, agents):
    """`CarriedRoom.grant` for one key (`agents`: the period's room), on its arrays: for
    compiled callers too (`ICE.board`, one flight's seats)."""
    granted[key] = agents
    credit[key] += agents


@numba.njit(cache=True)
def settle_one(credit, granted, key, whole):
    """`CarriedRoom.settle` for one key, on its arrays (`whole`: at full scale), for
    compiled callers too."""
    if whole:
        credit[key] = 0.0
    else:
        credit[key] = min(credit[key], max(CARRY_PERIODS * granted[key], LARGE_FAMILY))


@numba.njit(cache=True)
def _unused_one(credit, granted, key, agents, whole):
    """`CarriedRoom.unused`: `grant_one` then `settle_one`."""
    grant_one(credit, granted, key, agents)
    settle_one(credit, granted, key, whole)


@numba.njit(cache=True)
def _grant_all(credit, granted, people, scale):
    """`CarriedRoom.grant` for every key: `people` per key, in agents at `scale`."""
    for key in range(credit.size):
        granted[key] = people[key] / scale  # scaling.to_agents (in a kernel: written out)
        credit[key] += granted[key]


@numba.njit(cache=True)
def _settle_all(credit, granted, whole):
    """`CarriedRoom.settle` for every key (`whole`: at full scale), in place."""
    for key in range(credit.size):
        settle_one(credit, granted, key, whole)


@numba.njit(cache=True)
def _renew(credit, granted, people, scale, any_people):
    """`CarriedRoom.renew`'s settle and grant in one call; whether the next renewal may
    be skipped (see there)."""
    _settle_all(credit, granted, scale == 1)
    _grant_all(credit, granted, people, scale)
    if any_people:
        return False
    for key in range(credit.size):
        if credit[key] > LARGE_FAMILY:
            return False
    return True


class CarriedRoom:
    """Room for people (per site, route or quota: one `key` each), measured in
    agents, granted each period and taken by whole families; at a coarse scale
    what was not used carries over (see the module's docstring).

    Each period: `grant` the period's room (in people), `take` it (any number
    of times), then `settle`. A compiled caller may take instead with
    `fit_families` on a view of `credit` (`ICE.board`: one flight's seats, `credit[route]`,
    granted and settled with `grant_one` and `settle_one`).
    """

    LARGE_FAMILY = LARGE_FAMILY
    CARRY_PERIODS = CARRY_PERIODS

    def __init__(self, n_keys: int, scale: int):
        self.scale = scale
        self.credit = np.zeros(n_keys)
        self.granted = np.zeros(n_keys)  # this period's grant, in agents
        self._still = False  # `renew` would change nothing (see there)

    def renew(self, people: np.ndarray, any_people: bool) -> None:
        """`settle` the last period and `grant` this one's room (`people` per key; whether
        any: `any_people`). Skipped while that changes nothing: when nothing was
        granted last period or this one, and no key holds more than `LARGE_FAMILY`
        agents, settling keeps each key's credit (room only shrinks in between, by
        `take`) and the grant adds none (Mexico's MPP sites: closed most days)."""
        if self._still and not any_people:
            return
        self._still = _renew(self.credit, self.granted, people, self.scale, bool(any_people))

    def grant(self, people: "np.ndarray | float", key: int | None = None) -> None:
        if key is None:
            if np.ndim(people) == 0:  # the same for every key
                people = np.full(self.credit.shape, people, dtype=np.float64)
            _grant_all(self.credit, self.granted, people, self.scale)
        else:
            grant_one(self.credit, self.granted, key, to_agents(people, self.scale))

    def unused(self, people: float, key: int) -> None:
        """A period of `key`'s in which nobody takes any room: granted `people` and settled
        (one call: a flight with nobody waiting)."""
        _unused_one(self.credit, self.granted, key, to_agents(people, self.scale),
                    self.scale == 1)

    def take(self, pop, rows: np.ndarray, keys: "np.ndarray | int") -> np.ndarray:
        """Mask of the rows (under `keys`, in order, families together) given room."""
        if np.ndim(keys) == 0:
            keys = np.full(len(rows), keys, dtype=np.int64)
        return fit_families(pop.family, rows, keys, self.credit)

    def settle(self, key: int | None = None) -> None:
        """End of the period. At full scale nothing carries: a day's places and a
        plane's seats are whole people, and what is unused is lost, as in reality.
        At a coarse scale the room left carries (whether nobody came or a family
        did not fit is mostly chance there), up to `CARRY_PERIODS` periods' worth
        or `LARGE_FAMILY` agents, whichever is more. With `key`, that key only."""
        if key is not None:  # one route after one flight: no array work
            settle_one(self.credit, self.granted, key, self.scale == 1)
        else:
            _settle_all(self.credit, self.granted, self.scale == 1)


def over_capacity(model, status: int, excess: int, day: int) -> np.ndarray:
    """`excess` people (or a few more: whole families leave together) held in `status`,
    drawn at random, to let go when the beds shrink below the people held (rare: a
    scan of everyone is fine)."""
    pop = model.migrants.pop
    held = np.flatnonzero(pop.status[: pop.n] == status)
    u = model.streams.uniform(Decision.CAP_RELEASE, pop, held, day)
    chosen = held[np.argsort(u, kind="stable")[:excess]]
    return held[np.isin(pop.family[held], pop.family[chosen])]
