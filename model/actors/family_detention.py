"""Family detention: ICE's family residential centres (Dilley, Karnes, Berks).

A few thousand beds for parents with children, by the `family_detention`
policy in force. Families Border Patrol would release are held instead while
beds allow, whole, for a credible-fear interview: with a credible fear they are
released; without one they wait for a removal (a flight home, or a land port
for Mexicans). Nobody stays past the stay limit (the court-ordered 20 days):
whoever is still there is released. Families that find no bed are released
at once, as before.
"""

import mesa
import numba
import numpy as np

from model.state.capacity import over_capacity
from model.state.scaling import whole_agents
from model.state.streams import Decision
from model.state.vocabulary import (
    CREDIBLE_FEAR,
    IN_FAMILY_DETENTION,
    PORT_REMOVAL,
    REMOVAL,
    Pending,
    ReturnMode,
    Status,
)



class FamilyResidentialCentres(mesa.Agent):
    """ICE's family beds. Owns nothing but the rule: the beds and stay limit are in
    the policy timeline, the families' places in the status counts. Border Patrol
    hands over families it would release (`take`); the model calls `on_due` and
    `keep_to_beds` daily."""

    @property
    def held(self) -> int:
        return int(self.model.migrants.pop.status_counts[Status.IN_FAMILY_DETENTION])

    def capacity(self, day: int) -> int:
        """Family beds today, in agents."""
        return whole_agents(self.model.timeline.family_beds[day], self.model.scale)

    def take(self, rows: np.ndarray, day: int) -> np.ndarray:
        """Hold the families that fit (whole) for a credible-fear interview; return the rest."""
        if len(rows) == 0 or self.model.timeline.family_beds[day] <= 0:
            return rows
        m = self.model
        taken, rest = m.migrants.pop.split_whole_families(
            rows, max(self.capacity(day) - self.held, 0))
        if len(taken):  # until the interview, within the stay limit
            interview = np.full(len(taken), Pending.CREDIBLE_FEAR, dtype=np.int8)
            m.ice.detain_until_due(taken, interview, day, IN_FAMILY_DETENTION,
                                   int(m.timeline.family_max_days[day]))
        return rest

    def on_due(self, rows: np.ndarray, day: int) -> None:
        """Interviews done, removals due, or the stay limit reached (each branch only
        when someone is due for it)."""
        if len(rows) == 0:
            return
        m = self.model
        pop = m.migrants.pop
        interviewed, interviewed_left, removed, removed_left, rest = _due_cases(
            rows, pop.pending, pop.status_since, day, m.timeline.family_max_days[day])
        if len(interviewed):
            self._interviewed(interviewed, interviewed_left, day)
        if len(removed):
            if m.timeline.moratorium[day]:  # no removals: wait a day, within the stay limit
                waits = removed_left > 0
                m.migrants.pop.move(removed[waits], Status.IN_FAMILY_DETENTION, day, 1)
                m.migrants.release(removed[~waits], day)
            else:
                m.ice.record_removals(removed)
                m.migrants.send_back(removed, ReturnMode.REMOVAL, Status.AT_BORDER, day)
        # the stay limit reached, or no flight in time: released
        m.migrants.release(rest, day)

    def _interviewed(self, fear: np.ndarray, left: np.ndarray, day: int) -> None:
        """Credible-fear interviews done (`left`: days left under the stay limit): a
        credible fear is released; the others are held for a removal while the limit
        allows (released if interviewed at the limit)."""
        m, s = self.model, self.model.scenario
        pop = m.migrants.pop
        positive = (m.streams.uniform(Decision.CREDIBLE_FEAR_POSITIVE, pop, fear, day)
                    < s.credible_fear_positive)
        m.migrants.release(fear[positive], day)
        fear_left = left[~positive]
        negative = fear[~positive]
        m.migrants.release(negative[fear_left <= 0], day)  # interviewed at the limit
        negative, left_negative = negative[fear_left > 0], fear_left[fear_left > 0]
        if len(negative) == 0:
            return
        removal = REMOVAL[pop.nationality[negative]]
        pop.pending[negative] = removal
        by_port = removal == Pending.PORT_REMOVAL
        due = np.where(by_port, np.minimum(int(s.port_removal_days), left_negative), left_negative)
        m.migrants.pop.move(negative, Status.IN_FAMILY_DETENTION, day, due)
        m.ice.join_lines(negative[~by_port])

    def keep_to_beds(self, day: int) -> None:
        """When the beds shrink below the families held (a policy ends), release the
        excess, whole families, in random order."""
        excess = self.held - self.capacity(day)
        if excess > 0:
            self.model.migrants.release(
                over_capacity(self.model, Status.IN_FAMILY_DETENTION, excess, day), day)


@numba.njit(cache=True)
def _due_cases(rows, pending, since, day, max_days):
    """`FamilyResidentialCentres.on_due`'s split, in one pass, each part in row order:
    (interviewed, their days left under the stay limit `max_days`; due for a removal
    through a port within the limit, their days left; the rest, to release)."""
    left = np.empty(rows.size, dtype=np.int64)
    interviewed = np.empty(rows.size, dtype=np.bool_)
    at_port = np.empty(rows.size, dtype=np.bool_)
    for i in range(rows.size):
        r = rows[i]
        left[i] = int(max_days - (day - since[r]))
        interviewed[i] = pending[r] == CREDIBLE_FEAR
        at_port[i] = pending[r] == PORT_REMOVAL and left[i] >= 0
    rest = ~interviewed & ~at_port
    return rows[interviewed], left[interviewed], rows[at_port], left[at_port], rows[rest]
