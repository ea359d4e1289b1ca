"""Mexican authorities: who Mexico takes back, MPP reception, enforcement in transit."""

import mesa
import numpy as np

from model.capacity import CarriedRoom
from model.geography import N_SECTORS
from model.streams import Decision
from model.vocabulary import NORTHERN_TRIANGLE, Demographic, Destination, Nationality

_CENTRAL_AMERICAN = np.isin(np.arange(len(Nationality)), NORTHERN_TRIANGLE)
_TAKEN_BACK = _CENTRAL_AMERICAN | (np.arange(len(Nationality)) == Nationality.MEXICO)


class MexicanAuthorities(mesa.Agent):
    """Mexico's side of the border. Owns the MPP shelters' daily room per site
    (`mpp_room`); Border Patrol asks it who it takes back under Title 42 and
    for MPP places, the model asks it whom it stops in transit, flights ask
    whether it receives them. Reads the policy timeline for what it agreed to."""

    def __init__(self, model):
        super().__init__(model)
        self.mpp_room = CarriedRoom(N_SECTORS, model.scale)  # MPP returns received, per site

    def start_day(self, day: int) -> None:
        """Open today's MPP reception at the sites opened by then (if Mexico's
        conditions are met: the timeline says 0 people otherwise)."""
        self.mpp_room.settle()
        self.mpp_room.grant(self.model.timeline.mpp_room[day])

    def mpp_places(self, rows: np.ndarray, sectors: np.ndarray) -> np.ndarray:
        """Mask of the MPP candidates the sites' shelters take today, families whole."""
        return self.mpp_room.take(self.model.migrants.pop, rows, sectors)

    def takes_back(self, rows: np.ndarray, nationality: np.ndarray, sectors: np.ndarray,
                   day: int) -> tuple[np.ndarray, np.ndarray]:
        """Title 42: Mexico takes back Mexicans and Central Americans, except, when its
        refusal is in force, Central American families where it refuses them (a share
        per sector). Returns (accepted, refused_family)."""
        m = self.model
        pop = m.migrants.pop
        family = _CENTRAL_AMERICAN[nationality] & (pop.demographic[rows] == Demographic.FAMILY_UNIT)
        accepts = m.timeline.family_acceptance[day, sectors]
        refused = family & (m.streams.uniform(Decision.MEXICO_ACCEPTS, pop, rows, day) >= accepts)
        return _TAKEN_BACK[nationality] & ~refused, refused

    def intercepts(self, rows: np.ndarray, day: int) -> np.ndarray:
        """People in transit stopped and deported before reaching the border (not Mexicans)."""
        m = self.model
        pop = m.migrants.pop
        return ((pop.nationality[rows] != Nationality.MEXICO)
                & (m.streams.uniform(Decision.INTERCEPTION, pop, rows, day)
                   < m.timeline.interception[day]))

    def receives_flight(self, destination: Destination, day: int) -> bool:
        """Mexico takes interior repatriation flights only while it cooperates."""
        if destination != Destination.GUADALAJARA:
            return True
        return bool(self.model.timeline.mexico_receives_flights[day])
