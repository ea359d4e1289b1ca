"""ICE: detention with a bed cap, and the waiting lists for flights.

People are detained for a credible-fear interview, for a removal through a
land port, or to wait for a seat on a flight to one destination. A flight takes
the longest-waiting people first and never more than its seats; whoever waits
past the time limit is let go (Mexicans waiting for an interior flight are
returned at a port instead). Detention never holds more than the cap.
"""

import mesa
import numpy as np

from model.people import REMOVAL_BY_NATIONALITY, Nationality, Pending, Status
from model.policies import DESTINATIONS


class ICE(mesa.Agent):
    def __init__(self, model):
        super().__init__(model)
        self.waiting: dict[int, list[np.ndarray]] = {d: [] for d in range(len(DESTINATIONS))}

    @property
    def detained(self) -> int:
        return int(self.model.migrants.pop.status_counts[Status.IN_ICE_DETENTION])

    def capacity(self, day: int) -> int:
        """Beds usable today, in agents (COVID cap: a share of the beds)."""
        share = 1.0
        cap = self.model.policies.first_in_force("detention_cap", day)
        if cap is not None:
            share = cap.share
        return int(self.model.scenario.detention_beds * share / self.model.scale)

    # -- coming in -----------------------------------------------------------
    def intake(self, rows: np.ndarray, pending: np.ndarray, day: int) -> None:
        """Detain whoever fits; the rest are returned (Mexicans) or released."""
        if len(rows) == 0:
            return
        pop = self.model.migrants.pop
        fits = pop.whole_families(rows, max(self.capacity(day) - self.detained, 0))
        self._turn_away(rows[~fits], day)
        self._detain(rows[fits], pending[fits], day)

    def _detain(self, rows: np.ndarray, pending: np.ndarray, day: int) -> None:
        m, s = self.model, self.model.scenario
        pop = m.migrants.pop
        pop.pending[rows] = pending
        rng = m.rng
        fear = pending == Pending.CREDIBLE_FEAR
        port = pending == Pending.PORT_REMOVAL
        fly = ~fear & ~port
        m.migrants.move(rows[fear], Status.IN_ICE_DETENTION, day,
                        1 + rng.poisson(s.credible_fear_days - 1, int(fear.sum())))
        port_rows = rows[port]
        m.migrants.move(port_rows, Status.IN_ICE_DETENTION, day,
                        pop.shared(1 + rng.poisson(s.port_removal_days - 1, len(port_rows)),
                                   port_rows))
        fly_rows, fly_to = rows[fly], pending[fly]
        limit = np.full(len(fly_rows), int(s.max_detention_days))
        irp = m.policies.first_in_force("interior_repatriation", day)
        if irp is not None:
            limit[fly_to == Pending.FLY_GUADALAJARA] = int(irp.max_wait_days)
        m.migrants.move(fly_rows, Status.IN_ICE_DETENTION, day, limit)
        for dest in np.unique(fly_to):
            self.waiting[int(dest)].append(fly_rows[fly_to == dest])

    def _turn_away(self, rows: np.ndarray, day: int) -> None:
        """No bed: Mexicans are returned at a port, everyone else released."""
        if len(rows) == 0:
            return
        m = self.model
        mexican = m.migrants.pop.nationality[rows] == Nationality.MEXICO
        m.migrants.return_at_port(rows[mexican], day)
        m.migrants.release(rows[~mexican], day, forced=True)

    # -- the day's due cases -------------------------------------------------
    def on_due(self, rows: np.ndarray, day: int) -> None:
        if len(rows) == 0:
            return
        m, pop = self.model, self.model.migrants.pop
        pending = pop.pending[rows]
        fear = rows[pending == Pending.CREDIBLE_FEAR]
        positive = m.rng.random(len(fear)) < m.scenario.credible_fear_positive
        m.migrants.release(fear[positive], day)
        negative = fear[~positive]
        self._detain(negative, REMOVAL_BY_NATIONALITY[pop.nationality[negative]], day)

        removed = rows[pending == Pending.PORT_REMOVAL]
        m.recorder.add("removals", len(removed))
        m.migrants.send_back(removed, "removal", Status.AT_BORDER, day)

        timed_out = rows[pending <= Pending.FLY_GUATEMALA_ACA]
        no_seat = pop.pending[timed_out] == Pending.FLY_GUADALAJARA
        m.migrants.return_at_port(timed_out[no_seat], day)
        m.migrants.release(timed_out[~no_seat], day)

    def enforce_cap(self, day: int) -> None:
        """When the cap drops below the population (COVID), release the excess."""
        excess = self.detained - self.capacity(day)
        if excess <= 0:
            return
        pop = self.model.migrants.pop
        detained = np.flatnonzero(pop.status[: pop.n] == Status.IN_ICE_DETENTION)
        chosen = self.model.rng.choice(detained, size=excess, replace=False)
        # whole families leave together (the cap is then kept with room to spare)
        self._turn_away(detained[np.isin(pop.family[detained], pop.family[chosen])], day)

    # -- flights -------------------------------------------------------------
    def board(self, destination: int, seats: int) -> np.ndarray:
        """The longest-waiting people still detained for `destination`, at most `seats`."""
        pop = self.model.migrants.pop
        queue = self.waiting[destination]
        if not queue:
            return np.empty(0, dtype=np.int64)
        rows = np.concatenate(queue)
        rows = rows[(pop.status[rows] == Status.IN_ICE_DETENTION)
                    & (pop.pending[rows] == destination)]
        _, first = np.unique(rows, return_index=True)  # detained twice: keep the first place
        rows = rows[np.sort(first)]
        aboard = pop.whole_families(rows, seats)
        self.waiting[destination] = [rows[~aboard]] if not aboard.all() else []
        return rows[aboard]
