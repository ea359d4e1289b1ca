"""Flights are agents: scheduled transport with seats, origin, destination and date.

Each flight is created from a `flights` policy (a route) and scheduled with
`model.schedule_event` for the start of its day. It boards the longest-waiting
detainees for its destination, never more than its seats; a flight with nobody
to carry, or cancelled by a moratorium or the 2021 priorities, does not fly.
"""

from dataclasses import dataclass

import mesa
import numpy as np

from model.people import Status
from model.policies import DESTINATIONS, Flights

GUADALAJARA = DESTINATIONS.index("guadalajara")
GUATEMALA_ACA = DESTINATIONS.index("guatemala_aca")


@dataclass
class FlightRecord:
    date: str
    route: str
    origin: str
    destination: str
    seats: int
    passengers: int
    status: str


class Flight(mesa.Agent):
    def __init__(self, model, route: Flights, day: int, origin: str, listed: bool):
        super().__init__(model)
        self.route = route
        self.day = day
        self.listed = listed  # on the route's own `dates`: a one-off, negotiated flight
        self.origin = origin
        self.destination = DESTINATIONS.index(route.destination)
        self.seats = route.seats
        self.passengers = 0
        self.status = "scheduled"
        model.schedule_event(self.depart, at=day + 0.5)  # before that day's step

    def depart(self) -> None:
        m = self.model
        self.status = self._cancelled_because() or "flown"
        if self.status == "flown":
            rows = m.ice.board(self.destination, self.seats // m.scale)
            if len(rows) == 0:
                self.status = "cancelled: nobody waiting"
            else:
                self._carry(rows)
        m.flight_log.append(FlightRecord(
            m.calendar.date(self.day).isoformat(), self.route.id, self.origin,
            self.route.destination, self.seats, self.passengers, self.status))

    def _cancelled_because(self) -> str | None:
        m = self.model
        if not m.mexico.receives_flight(self.route.destination, self.day):
            return "cancelled: Mexico does not receive it"
        if m.policies.first_in_force("removal_moratorium", self.day) is not None:
            return "cancelled: removal moratorium"
        priorities = m.policies.first_in_force("enforcement_priorities", self.day)
        if (priorities is not None and not self.listed
                and self.destination not in (GUADALAJARA, GUATEMALA_ACA)
                and m.rng.random() >= priorities.removal_flight_share):
            return "cancelled: enforcement priorities"
        return None

    def _carry(self, rows: np.ndarray) -> None:
        m = self.model
        self.passengers = len(rows) * m.scale
        m.recorder.add("flights", 1)
        m.recorder.add("flight_passengers", len(rows))
        if self.destination == GUADALAJARA:
            m.recorder.add("interior_repatriations", len(rows))
            m.migrants.send_back(rows, "interior_flight", Status.AT_HOME, self.day)
        elif self.destination == GUATEMALA_ACA:
            m.recorder.add("third_country_transfers", len(rows))
            aca = m.policies.of_kind("guatemala_aca")
            stay_p = aca[0].claim_asylum_there if aca else 0.0
            stays = m.migrants.behaviour.uniform(m.migrants.pop, rows) < stay_p
            m.migrants.record_outcome(rows[stays], entered=False)
            m.migrants.move(rows[stays], Status.IN_THIRD_COUNTRY, self.day)
            m.migrants.send_back(rows[~stays], "third_country", Status.AT_HOME, self.day)
        else:
            m.recorder.add("removals", len(rows))
            m.migrants.send_back(rows, "removal", Status.AT_HOME, self.day)


def flight_days(route: Flights) -> list[tuple[int, bool]]:
    """(day, listed) for each flight of a route: its listed dates, plus `per_week`
    evenly spaced from start to end."""
    listed = {(d - route.start).days + route.start_day for d in route.dates}
    days = set(listed)
    if route.per_week > 0:
        spacing = 7.0 / route.per_week
        k = 0
        while (day := route.start_day + int(round(k * spacing))) <= route.end_day:
            days.add(day)
            k += 1
    return [(day, day in listed) for day in sorted(days)]


def schedule_flights(model) -> None:
    for route in model.policies.of_kind("flights"):
        for i, (day, listed) in enumerate(flight_days(route)):
            Flight(model, route, day, route.origins[i % len(route.origins)], listed)
