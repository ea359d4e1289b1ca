"""Mexican authorities: who Mexico takes back, MPP reception, enforcement in transit."""

import mesa
import numba
import numpy as np

from model.state.capacity import CarriedRoom
from model.state.geography import N_SECTORS
from model.state.streams import Decision, draw_unit
from model.state.vocabulary import MEXICO, Destination



class MexicanAuthorities(mesa.Agent):
    """Mexico's side of the border. Owns the MPP shelters' daily room per site
    (`mpp_room`), which Border Patrol's consequences use up; the model asks it
    whom it stops in transit, flights whether it receives them. What Mexico
    agreed to (who it takes back under Title 42, where; which MPP sites are
    open) is in the policy timeline."""

    def __init__(self, model):
        super().__init__(model)
        self.mpp_room = CarriedRoom(N_SECTORS, model.scale)  # MPP returns received, per site
        self._receives_mpp = model.timeline.mpp_room.any(axis=1)  # per day: any site open

    def start_day(self, day: int) -> None:
        """Open today's MPP reception at the sites opened by then (if Mexico's
        conditions are met: the timeline says 0 people otherwise)."""
        self.mpp_room.renew(self.model.timeline.mpp_room[day], self._receives_mpp[day])

    def intercepts(self, rows: np.ndarray, day: int) -> tuple[np.ndarray, np.ndarray]:
        """People in transit stopped and deported before reaching the border (not
        Mexicans): (stopped, the others), each in row order."""
        m = self.model
        pop = m.migrants.pop
        return _intercepts(rows, pop.nationality, pop.uid, pop.family, day + m.streams.day_offset,
                           m.streams.keys[Decision.INTERCEPTION], m.timeline.interception[day])

    def receives_flight(self, destination: Destination, day: int) -> bool:
        """Mexico takes interior repatriation flights only while it cooperates."""
        if destination != Destination.GUADALAJARA:
            return True
        return bool(self.model.timeline.mexico_receives_flights[day])


@numba.njit(cache=True)
def _intercepts(rows, nationality, uid, family, day, key, chance):
    """`MexicanAuthorities.intercepts` in one pass (families together)."""
    stopped = np.zeros(rows.size, dtype=np.bool_)
    for i in range(rows.size):
        r = rows[i]
        stopped[i] = nationality[r] != MEXICO and draw_unit(key, uid[family[r]], day) < chance
    return rows[stopped], rows[~stopped]
