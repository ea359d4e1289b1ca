"""Metering at the ports of entry: asylum seekers waiting on lists in Mexican border cities.

From 2018 CBP officers stood at the borderline of the ports of entry and told
asylum seekers the port was full: they were to wait their turn in Mexico, on
waitlists kept by Mexican officials, shelters or the migrants themselves, while
CBP took a limited number a day (the `metering` policy: `daily_quota` per
sector). Title 42 ended it in March 2020: the ports took no asylum seekers at
all, and the lists stopped moving.

The policy is `config.policies.Metering` (its scenario table, and how it resolves
into per-day arrays: `MeteringDays`, read here as `self.days`). On a day metering
is in force (in force and no Title 42: `days.in_force`):

1. Asylum seekers (with asylum intent, of the groups the policy names) who come to
   a port in a metered sector are not encountered: they join the back of that
   sector's list (`Status.METERED`).
2. CBP takes the day's quota from the front of each sector's list (whoever has
   waited longest), families whole; room a coarse scale cannot use carries over
   (`CarriedRoom`). They are encountered at the port that day, and Border
   Patrol's consequences apply to them as to any port arrival (MPP included).

Every day, in force or not, a family on a list stops waiting with probability
`metering_daily_leave` (drawn once, when it joins, as the day it will leave:
the people are then due in the day queue, so a day with nobody due costs
nothing). As after a return at a port, it gives up (goes home) or tries again
some days later, between the ports. Under Title 42 the lists are frozen: they
take nobody new and nobody off, and empty only as people leave. If metering
ends without Title 42 (a what-if), the ports take everyone still waiting.
"""

import math

import mesa
import numba
import numpy as np

from model.config.policies import Metering
from model.state.capacity import CarriedRoom, fit_families
from model.state.geography import N_SECTORS
from model.state.scaling import whole_agents
from model.state.streams import Decision, draw_unit
from model.state.vocabulary import METERED, N_DEMOGRAPHIC, Pending, ReturnMode, Status

_LIST_DAY = 1 << 22  # new people on the first day's lists are keyed (streams.new_uid) by this day
_NEVER_LEAVES = 1 << 20  # days: past any run's end (the day queue drops it)


class PortMetering(mesa.Agent):
    """CBP's metering at the southwest border's ports of entry. Owns the waitlists
    (`waiting`: everyone on a list, in the order they joined, all sectors in one
    array; rows that have since left are dropped on the next metering day) and
    each day's quota (`room`, per sector).

    `BorderModel` builds it, calls `seed_lists` once before the first day and
    `at_ports` every day between the crossing and the encounters.
    """

    def __init__(self, model):
        super().__init__(model)
        self.room = CarriedRoom(N_SECTORS, model.scale)
        self.days = model.timeline.resolved[Metering]  # what the policy says each day
        self.waiting = np.empty(0, dtype=np.int64)
        leave = model.scenario.metering_daily_leave  # a day's chance: the days until leaving are
        self._log_stay = math.log1p(-leave) if leave < 1.0 else -math.inf  # geometric

    # -- the first day -----------------------------------------------------------
    def seed_lists(self) -> None:
        """The people already on the lists on the first day (`initial_metering_waiting`),
        if metering is in force then: asylum seekers by the mix of who comes to a
        port (nationality x demographic, of the groups metered), each family in a
        metered sector by its nationality's routes, in a random order of waiting."""
        m, s, t = self.model, self.model.scenario, self.days
        agents = whole_agents(s.initial_metering_waiting, m.scale)
        if agents == 0 or not t.in_force[0]:
            return
        mig = m.migrants
        pop, b = mig.pop, mig.behaviour
        weights = (b.base_departures[:, None] * b.intent_share[:, None] * b.demographic_mix
                   * b.port_share[None, :]).ravel() * t.group[0]
        exact = agents * weights / weights.sum()
        counts = np.floor(exact).astype(np.int64)
        counts[np.argmax(exact - counts)] += agents - counts.sum()  # whole agents adding up
        attrs = b.new_people(counts.reshape(-1, N_DEMOGRAPHIC), _LIST_DAY)
        del attrs["head_uid"]
        attrs["asylum_intent"][:] = True  # on a list to ask for asylum
        rows = pop.add(len(attrs["uid"]), day=0, **attrs)
        mig.people_set_out += len(rows)
        routes = (b.sector_weights[pop.group[rows]] + 1e-9) * t.sector[0]
        cdf = np.cumsum(routes / routes.sum(axis=1, keepdims=True), axis=1)
        u = m.streams.uniform(Decision.METERING_START, pop, rows, 0)
        pop.sector[rows] = np.minimum((u[:, None] >= cdf).sum(axis=1), N_SECTORS - 1)
        place = m.streams.uniform(Decision.METERING_START, pop, rows, -1)
        rows = rows[np.argsort(place, kind="stable")]  # families share a draw: they stay together
        mig.pop.move(rows, Status.METERED, 0, self._days_until_leaving(rows, 0))
        self.waiting = rows

    # -- each day -------------------------------------------------------------------
    def at_ports(self, leaving: np.ndarray, caught: np.ndarray, sectors: np.ndarray,
                 at_port: np.ndarray, day: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The day at the ports: `leaving` (people on a list due today) stop waiting;
        of today's apprehended (`caught`, `sectors`, `at_port`), asylum seekers at a
        metered port join a list instead; the day's quota is taken off the lists.
        Returns the people encountered today (rows, sector, at a port)."""
        if leaving.size:
            self._leave(leaving, day)
        t = self.days
        if not t.in_force[day]:
            if self.waiting.size and not self.model.timeline.title42[day]:
                return self._take_everyone(caught, sectors, at_port, day)
            return caught, sectors, at_port
        m = self.model
        pop = m.migrants.pop
        self.room.grant(t.quota[day])
        people = (pop.status, pop.family, pop.uid, pop.group, pop.asylum_intent, pop.sector)
        leaving = (m.streams.keys[Decision.METERING_LEAVES], self._log_stay)
        caught, sectors, at_port, self.waiting, joined, delay = _metering_day(
            caught, sectors, at_port, self.waiting, people, (t.group[day], t.sector[day]),
            self.room.credit, day + m.streams.day_offset, leaving)
        self.room.settle()
        if joined.size:
            m.migrants.pop.move(joined, Status.METERED, day, delay)
        return caught, sectors, at_port

    def _days_until_leaving(self, rows: np.ndarray, day: int) -> np.ndarray:
        """Days until each family on a list stops waiting (geometric: a daily chance)."""
        m = self.model
        return _leave_delays(rows, m.migrants.pop.uid, m.migrants.pop.family,
                             day + m.streams.day_offset, m.streams.keys[Decision.METERING_LEAVES],
                             self._log_stay)

    def _leave(self, rows: np.ndarray, day: int) -> None:
        """Families that stop waiting: as after being turned back at a port, they give
        up or try again some days later, between the ports."""
        mig = self.model.migrants
        gave_up, retry, delay = mig.behaviour.retry_or_give_up(mig.pop, rows,
                                                               ReturnMode.PORT_RETURN, day)
        mig.give_up(gave_up, day)
        mig.pop.pending[retry] = Pending.CROSS_BETWEEN_PORTS
        mig.pop.move(retry, Status.AT_BORDER, day, delay)

    def _take_everyone(self, caught: np.ndarray, sectors: np.ndarray, at_port: np.ndarray,
                       day: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Metering has ended, and not for Title 42: the ports take everyone waiting."""
        pop = self.model.migrants.pop
        rows = self.waiting[pop.status[self.waiting] == METERED]
        self.waiting = self.waiting[:0]
        return (np.concatenate((caught, rows)), np.concatenate((sectors, pop.sector[rows])),
                np.concatenate((at_port, np.ones(rows.size, dtype=bool))))

    # -- checks ---------------------------------------------------------------------------
    def check_lists(self) -> None:
        """Everyone METERED is on a list exactly once; raises AssertionError otherwise."""
        pop = self.model.migrants.pop
        on_list = self.waiting[pop.status[self.waiting] == METERED]
        metered = np.flatnonzero(pop.status[: pop.n] == METERED)
        assert np.unique(on_list).size == on_list.size, "someone is on a metering list twice"
        assert np.array_equal(np.sort(on_list), metered), (
            f"{metered.size} people METERED, {on_list.size} of them on a list")


@numba.njit(cache=True)
def _leave_delay(key, person, day, log_stay):
    """Days (at least 1) until a family with a daily chance 1 - exp(log_stay) of
    leaving leaves: geometric, from one uniform."""
    if log_stay == 0.0:
        return _NEVER_LEAVES
    if log_stay == -np.inf:
        return 1
    u = draw_unit(key, person, day)
    return min(1 + int(math.floor(math.log1p(-u) / log_stay)), _NEVER_LEAVES)


@numba.njit(cache=True)
def _leave_delays(rows, uid, family, day, key, log_stay):
    out = np.empty(rows.size, dtype=np.int64)
    for i in range(rows.size):
        out[i] = _leave_delay(key, uid[family[rows[i]]], day, log_stay)
    return out


@numba.njit(cache=True)
def _metering_day(caught, sectors, at_port, waiting, people, metered, room, day, leaving):
    """A metering day in one pass. Today's apprehended asylum seekers at a metered
    port join the back of the lists; people no longer METERED are dropped from them;
    then, in list order (longest waiting first), each family is taken if its sector's
    `room` (agents, used up in place) still fits it whole (`fit_families`).

    `people`: the population's (status, family, uid, group, asylum_intent, sector);
    `metered`: today's (groups, sectors) metered; `leaving`: (the stream key, the log
    of the daily chance to stay) the days until a newcomer leaves are drawn from.

    Returns (encountered rows, their sectors, at a port: today's apprehended who
    did not join a list, then those taken off the lists), the lists after today,
    the people who joined and stay, and the days until each of those leaves.
    """
    status, family, uid, group, intent, sector = people
    group_metered, sector_metered = metered
    leave_key, log_stay = leaving
    n = caught.size
    joins = np.zeros(n, dtype=np.bool_)
    for i in range(n):
        r = caught[i]
        joins[i] = (at_port[i] and intent[r] and group_metered[group[r]]
                    and sector_metered[sectors[i]])
    still = np.empty(waiting.size, dtype=np.bool_)
    for k in range(waiting.size):  # drop who has left the lists since
        still[k] = status[waiting[k]] == METERED
    line = np.concatenate((waiting[still], caught[joins]))
    first_joiner = line.size - np.count_nonzero(joins)
    keys = np.empty(line.size, dtype=np.int64)
    for k in range(line.size):
        keys[k] = sector[line[k]]
    taken = fit_families(family, line, keys, room)
    stays = ~taken
    taken_rows = line[taken]
    keep = ~joins
    out_rows = np.concatenate((caught[keep], taken_rows))
    out_sectors = np.concatenate((sectors[keep], sector[taken_rows].astype(sectors.dtype)))
    out_port = np.concatenate((at_port[keep], np.ones(taken_rows.size, dtype=np.bool_)))
    joined = line[first_joiner:][stays[first_joiner:]]
    delay = np.empty(joined.size, dtype=np.int64)
    for k in range(joined.size):
        delay[k] = _leave_delay(leave_key, uid[family[joined[k]]], day, log_stay)
    return out_rows, out_sectors, out_port, line[stays], joined, delay
