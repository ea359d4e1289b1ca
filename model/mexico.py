"""Mexican authorities: who Mexico takes back, MPP reception, enforcement in transit."""

import mesa
import numpy as np

from model.geography import N_SECTORS, SECTOR_INDEX, SECTOR_KEYS
from model.people import NORTHERN_TRIANGLE, Demographic, Nationality


class MexicanAuthorities(mesa.Agent):
    def __init__(self, model):
        super().__init__(model)
        self.mpp_room = np.zeros(N_SECTORS)  # MPP returns Mexico still receives today, per site

    def start_day(self, day: int) -> None:
        """Open today's MPP reception: sites opened by then, if Mexico's conditions are met."""
        self.mpp_room[:] = 0.0
        mpp = self.model.policies.first_in_force("mpp", day)
        if mpp is None or (mpp.mexico_requires_vaccination and not mpp.vaccination_offered):
            return
        today = self.model.calendar.date(day)
        for key, opening in mpp.site_opening.items():
            if opening <= today:
                self.mpp_room[SECTOR_INDEX[key]] = mpp.daily_capacity.get(key, 0) / self.model.scale

    def mpp_room_today(self, sector: int) -> int:
        """MPP returns this site's shelters can still take today (whole people)."""
        room = self.mpp_room[sector]
        return int(np.floor(room + self.model.rng.random())) if room > 0 else 0

    def take_mpp(self, sector: int, taken: int) -> None:
        self.mpp_room[sector] = max(self.mpp_room[sector] - taken, 0.0)

    def accepts_expulsion(self, rows: np.ndarray, sector: int, day: int
                          ) -> tuple[np.ndarray, np.ndarray]:
        """Title 42: Mexico takes back Mexicans and Central Americans, except, when its
        refusal is in force, Central American families at the sectors where it refuses
        them. Returns (accepted, refused_family)."""
        pop = self.model.migrants.pop
        nationality, demographic = pop.nationality[rows], pop.demographic[rows]
        central_american = np.isin(nationality, NORTHERN_TRIANGLE)
        accepted = (nationality == Nationality.MEXICO) | central_american
        refused = np.zeros(len(nationality), dtype=bool)
        refusal = self.model.policies.first_in_force("mexico_refuses_families", day)
        if refusal is not None:

            p = refusal.acceptance.get(SECTOR_KEYS[sector], refusal.default_acceptance)
            family = central_american & (demographic == Demographic.FAMILY_UNIT)
            refused = family & (self.model.migrants.behaviour.uniform(pop, rows) >= p)
            accepted &= ~refused
        return accepted, refused

    def intercepts(self, rows: np.ndarray, day: int) -> np.ndarray:
        """People in transit stopped and deported before reaching the border (not Mexicans)."""
        policy = self.model.policies.first_in_force("mexican_enforcement", day)
        p = policy.interception_prob if policy else self.model.scenario.mexico_base_interception_prob
        pop = self.model.migrants.pop
        return ((pop.nationality[rows] != Nationality.MEXICO)
                & (self.model.migrants.behaviour.uniform(pop, rows) < p))

    def receives_flight(self, destination: str, day: int) -> bool:
        """Mexico takes interior repatriation flights only while it cooperates."""
        if destination != "guadalajara":
            return True
        return any(p.mexico_receives_flights
                   for p in self.model.policies.in_force("interior_repatriation", day))
