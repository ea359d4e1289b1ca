"""Capacities that take whole families, and room that carries over at coarse scales.

Holding cells, detention beds, MPP shelter places, seats on a flight and the
wind-down's daily admissions all take families whole: a family that does not
fit is not split, and the next (smaller) family in line may still fit.

At a coarse `--scale` K one agent stands for K people, so a site that receives
15 people a day has room for 15/K agents: less than one at K = 50. Rounding
that down each day loses the room for good (and a whole family of agents
rarely fits even when it is rounded up). `CarriedRoom` keeps the fraction: the
room not used because the next family did not fit carries to the next day
(or flight), so over time the room used in agents times K is the room used at
full scale. Room left because nobody was waiting is lost, as it is in reality,
except for its fractional part (the part no whole agent could have used).
So at a coarse scale one flight may carry up to a family's worth of agents
more than its seats, but a route never carries more than its seats in total.
"""

import numba
import numpy as np


@numba.njit(cache=True)
def fit_families(family: np.ndarray, rows: np.ndarray, keys: np.ndarray, room: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Which rows fit, taking families whole and in order, under `room[key]` each.

    `rows` are people in order of priority, members of a family next to each
    other and under one key (a sector, say); `room` is decremented in place.
    Returns (fits, blocked): blocked[key] is True where a family did not fit.
    """
    n = rows.size
    fits = np.zeros(n, dtype=np.bool_)
    blocked = np.zeros(room.size, dtype=np.bool_)
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
        else:
            blocked[key] = True
        i = j
    return fits, blocked


def fit_under(pop, rows: np.ndarray, limit: float) -> np.ndarray:
    """Mask of the rows that fit under one `limit`, families whole, in order."""
    if len(rows) <= limit:
        return np.ones(len(rows), dtype=bool)
    room = np.array([float(limit)])
    fits, _ = fit_families(pop.family, rows, np.zeros(len(rows), dtype=np.int64), room)
    return fits


class CarriedRoom:
    """Room for people (per site, route or quota: one `key` each), measured in
    agents, granted each period and taken by whole families; what a family
    could not use carries over to the next period.

    Each period: `grant` the period's room (in people), `take` it (any number
    of times), then `settle`.
    """

    def __init__(self, n_keys: int, scale: int):
        self.scale = scale
        self.credit = np.zeros(n_keys)
        self.blocked = np.zeros(n_keys, dtype=bool)

    def grant(self, people: "np.ndarray | float", key: int | None = None) -> None:
        if key is None:
            self.credit += people / self.scale
        else:
            self.credit[key] += people / self.scale

    def take(self, pop, rows: np.ndarray, keys: "np.ndarray | int") -> np.ndarray:
        """Mask of the rows (under `keys`, in order, families together) given room."""
        keys = np.broadcast_to(np.asarray(keys, dtype=np.int64), rows.shape)
        fits, blocked = fit_families(pop.family, rows, keys, self.credit)
        self.blocked |= blocked
        return fits

    def settle(self) -> None:
        """End of the period: room a family could not use carries over; otherwise
        whole unused agents of room are lost and only the fraction is kept.
        At full scale nothing carries: a day's places and a plane's seats are
        whole people, and what is unused is lost, as it is in reality."""
        if self.scale == 1:
            self.credit[:] = 0.0
        else:
            self.credit = np.where(self.blocked, self.credit, self.credit - np.floor(self.credit))
        self.blocked[:] = False
