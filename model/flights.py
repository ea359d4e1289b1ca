"""Flights are agents: scheduled transport with seats, origin, destination and date.

Each flight is created from a `flights` policy (a route); each day's flights
depart together, in schedule order, from one `model.schedule_event` at the start
of that day. It boards the longest-waiting
detainees for its destination, never more than its seats; a flight with nobody
to carry, or cancelled by a moratorium or the 2021 priorities, does not fly.

At a coarse scale a flight's seats are a fraction of whole agents
(135 seats = 2.7 agents at scale 50): each route's seats are `CarriedRoom`, so
the fraction a family could not use rides on the route's next flight.
"""

import zlib
from typing import NamedTuple

import mesa
import numpy as np

from model.capacity import CarriedRoom
from model.policies import Flights
from model.streams import Decision
from model.vocabulary import DESTINATIONS, TITLE42_DESTINATIONS, Destination, ReturnMode, Status


class FlightRecord(NamedTuple):
    """One scheduled flight in the flight log (`model.flight_log`, flights.csv)."""

    date: str
    route: str
    origin: str
    destination: str
    seats: int
    passengers: int
    status: str  # "flown", or "cancelled: " and why


class Flight(mesa.Agent):
    """One scheduled flight of a route. Created by `schedule_flights`; departs with
    its day's flights (`FlightDay`); boards from ICE's waiting list for its destination."""

    def __init__(self, model, route: Flights, route_index: int, number: int, day: int,
                 origin: str, listed: bool):
        super().__init__(model)
        self.route = route
        self.route_index = route_index
        self.key = (zlib.crc32(route.id.encode()) << 20) | number  # for its random draws
        self.day = day
        self.listed = listed  # on the route's own `dates`: a one-off, negotiated flight
        self.origin = origin
        self.destination = Destination(DESTINATIONS.index(route.destination))
        self.seats = route.seats
        self.passengers = 0
        self.status = "scheduled"

    def depart(self) -> None:
        m = self.model
        self.status = self._cancelled_because() or "flown"
        if self.status == "flown":
            seats = m.ice.seats
            seats.grant(self.seats, self.route_index)
            rows = m.ice.board(self.destination, seats, self.route_index, self.day)
            seats.settle(self.route_index)
            if len(rows) == 0:
                self.status = "cancelled: nobody waiting"
            else:
                self._carry(rows)
        m.flight_log.append(FlightRecord(
            m.calendar.iso_dates[self.day], self.route.id, self.origin,
            self.route.destination, self.seats, self.passengers, self.status))

    def _cancelled_because(self) -> str | None:
        m, t = self.model, self.model.timeline
        if not m.mexico.receives_flight(self.destination, self.day):
            return "cancelled: Mexico does not receive it"
        if self.destination in TITLE42_DESTINATIONS:
            return None  # expulsions, not removals: neither the moratorium nor the priorities
        if t.moratorium[self.day]:
            return "cancelled: removal moratorium"
        if (t.priorities[self.day] and not self.listed
                and self.destination not in (Destination.GUADALAJARA, Destination.GUATEMALA_ACA)
                and m.streams.uniform_keys(Decision.FLIGHT_CANCELLED, np.array([self.key]),
                                           self.day)[0] >= t.removal_flight_share[self.day]):
            return "cancelled: enforcement priorities"
        return None

    def _carry(self, rows: np.ndarray) -> None:
        m = self.model
        self.passengers = len(rows) * m.scale
        m.recorder.add("flights", 1)
        m.recorder.add("flight_passengers", len(rows))
        if self.destination == Destination.GUADALAJARA:
            m.recorder.add("interior_repatriations", len(rows))
            m.migrants.send_back(rows, ReturnMode.INTERIOR_FLIGHT, Status.AT_HOME, self.day)
        elif self.destination in TITLE42_DESTINATIONS:
            m.recorder.add("title42_flight_expulsions", len(rows))
            m.migrants.send_back(rows, ReturnMode.REMOVAL, Status.AT_HOME, self.day)
        elif self.destination == Destination.GUATEMALA_ACA:
            m.recorder.add("third_country_transfers", len(rows))
            stays = (m.streams.uniform(Decision.ACA_STAYS, m.migrants.pop, rows, self.day)
                     < m.timeline.aca_stays_share)
            m.migrants.record_outcome(rows[stays], entered=False)
            m.migrants.move(rows[stays], Status.IN_THIRD_COUNTRY, self.day)
            m.migrants.send_back(rows[~stays], ReturnMode.THIRD_COUNTRY, Status.AT_HOME, self.day)
        else:
            m.ice.record_removals(rows)
            m.migrants.send_back(rows, ReturnMode.REMOVAL, Status.AT_HOME, self.day)


def flight_days(route: Flights) -> list[tuple[int, bool]]:
    """(day, listed) for each flight of a route: its listed dates inside the route's
    days, plus `per_week` evenly spaced from start to end."""
    listed = {(d - route.start).days + route.start_day for d in route.dates}
    listed = {day for day in listed if route.start_day <= day <= route.end_day}
    days = set(listed)
    if route.per_week > 0:
        spacing = 7.0 / route.per_week
        k = 0
        while (day := route.start_day + int(round(k * spacing))) <= route.end_day:
            days.add(day)
            k += 1
    return [(day, day in listed) for day in sorted(days)]


class FlightDay:
    """The flights leaving on one day, in schedule order: one scheduled event (at the
    start of the day, before its step) departs them all, so thousands of flights cost
    a few hundred events."""

    def __init__(self, flights: list[Flight]):
        self.flights = flights

    def depart(self) -> None:
        for flight in self.flights:
            flight.depart()


def schedule_flights(model) -> None:
    """Create every flight of every route, and schedule each day's departures;
    ICE's charters keep each route's seats (`ice.seats`, carried over at coarse scales)."""
    routes = model.policies.of_kind(Flights)
    model.ice.seats = CarriedRoom(max(len(routes), 1), model.scale)
    by_day: dict[int, list[Flight]] = {}
    for index, route in enumerate(routes):
        for number, (day, listed) in enumerate(flight_days(route)):
            by_day.setdefault(day, []).append(Flight(
                model, route, index, number, day, route.origins[number % len(route.origins)],
                listed))
    model.flight_days = [FlightDay(by_day[day]) for day in sorted(by_day)]  # kept: events hold weak refs
    for flight_day in model.flight_days:
        model.schedule_event(flight_day.depart, at=flight_day.flights[0].day + 0.5)
