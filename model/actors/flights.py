"""Flights are agents: scheduled transport with seats, origin, destination and date.

Each flight is created from a `flights` policy (a route); each day's flights
depart together (`FlightDay`), in schedule order, from one `model.schedule_event`
at the start of that day. A flight boards the longest-waiting detainees for its
destination, never more than its seats; a flight with nobody to carry, or
cancelled by a moratorium or the 2021 priorities, does not fly.

What a flight's passengers then count as (an interior repatriation, a Title 42
expulsion, a third-country transfer or a removal) and their return home are done
once a day for all of the day's flights of a kind. That is the same as flight
by flight: boarding has taken them out of their line, what becomes of each is
drawn by person and day, and the counts are sums of whole people. It saves a
round of calls per flight, which at coarse scales (thousands of flights of a
few agents each) was most of a flight's cost.

At a coarse scale a flight's seats are a fraction of whole agents
(135 seats = 2.7 agents at scale 50): each route's seats are `CarriedRoom`, so
the fraction a family could not use rides on the route's next flight.
"""

import functools
import zlib
from enum import IntEnum
from typing import NamedTuple

import mesa
import numpy as np

from model.state.capacity import CarriedRoom
from model.config.policies import Flights
from model.state.scaling import to_people
from model.state.streams import Decision
from model.state.vocabulary import DESTINATIONS, TITLE42_DESTINATIONS, Destination, ReturnMode, Status


class FlightRecord(NamedTuple):
    """One scheduled flight in the flight log (`model.flight_log`, flights.csv)."""

    date: str
    route: str
    origin: str
    destination: str
    seats: int
    passengers: int
    status: str  # "flown", or "cancelled: " and why


class Carried(IntEnum):
    """What a flight's passengers count as, by its destination."""

    INTERIOR = 0  # Mexicans to Guadalajara: interior repatriations
    EXPELLED = 1  # Title 42 expulsion flights
    THIRD_COUNTRY = 2  # to Guatemala under the cooperative agreement
    REMOVED = 3  # removal flights to the country of nationality


def carried_to(destination: Destination) -> Carried:
    if destination == Destination.GUADALAJARA:
        return Carried.INTERIOR
    if destination in TITLE42_DESTINATIONS:
        return Carried.EXPELLED
    if destination == Destination.GUATEMALA_ACA:
        return Carried.THIRD_COUNTRY
    return Carried.REMOVED


class Flight(mesa.Agent):
    """One scheduled flight of a route. Created by `schedule_flights`; departs with
    its day's flights (`FlightDay`); boards from ICE's waiting list for its destination.
    What does not change (its date, what it carries, which cancellations apply) is
    worked out here, once."""

    def __init__(self, model, route: Flights, route_index: int, number: int, day: int,
                 origin: str, listed: bool):
        super().__init__(model)
        self.route = route
        self.route_index = route_index
        route_key, self.destination, self.carried = _route_facts(route.id, route.destination)
        self.key = route_key | number  # for its random draws
        self.day = day
        self.date = model.calendar.iso_dates[day]
        self.listed = listed  # on the route's own `dates`: a one-off, negotiated flight
        self.origin = origin
        # expulsions, not removals: neither the moratorium nor the priorities cancel them
        self.removal = self.carried != Carried.EXPELLED
        # the 2021 priorities may cancel it (not a listed one, nor Mexico's or Guatemala's)
        self.prioritised = self.carried == Carried.REMOVED and not listed
        self.seats = route.seats
        self.passengers = 0
        self.status = "scheduled"

    def fly(self) -> np.ndarray:
        """Grant the route's seats for this flight, board, settle the seats: the rows aboard
        (none: the flight is cancelled, nobody waiting)."""
        m = self.model
        rows = m.ice.board(self.destination, m.ice.seats, self.route_index, self.seats, self.day)
        if len(rows) == 0:
            self.status = "cancelled: nobody waiting"
        else:
            self.status = "flown"
            self.passengers = to_people(len(rows), m.scale)
        return rows

    def record(self) -> FlightRecord:
        return FlightRecord(self.date, self.route.id, self.origin, self.route.destination,
                            self.seats, self.passengers, self.status)


@functools.cache
def _route_facts(route_id: str, destination: str) -> tuple[int, Destination, Carried]:
    """What every flight of a route shares: the key its flights' draws start from, its
    destination and what its passengers count as (thousands of flights, tens of routes)."""
    where = Destination(DESTINATIONS.index(destination))
    return zlib.crc32(route_id.encode()) << 20, where, carried_to(where)


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
    a few hundred events. Each flight that is not cancelled boards in turn; then the
    day's passengers are counted and sent home, once for each kind of flight
    (`Carried`), and every flight is logged. Departing schedules the next day with
    flights (`model.flight_days[order + 1]`): one event waits at a time, not hundreds
    (each scheduled event costs every later one comparisons in the event queue). Found
    by its place, not linked to it: a chain of hundreds of days would be too deep for
    pickle."""

    def __init__(self, model, flights: list[Flight], order: int):
        self.model = model
        self.order = order  # its place in model.flight_days
        self.day = flights[0].day
        self.flights = flights
        self.keys = np.array([f.key for f in flights], dtype=np.uint64)  # their draws
        # what `_cancellations` says on a day without a moratorium, the priorities or
        # Mexico refusing interior flights (when it has any to refuse)
        self.none_cancelled: list[str | None] = [None] * len(flights)
        self.no_guadalajara = all(f.destination != Destination.GUADALAJARA for f in flights)

    def schedule(self) -> None:
        self.model.schedule_event(self.depart, at=self.day + 0.5)

    def depart(self) -> None:
        m = self.model
        if self.order + 1 < len(m.flight_days):  # the next day with flights
            m.flight_days[self.order + 1].schedule()
        aboard: list[list[np.ndarray]] | None = None  # per kind, each flight's rows (once any)
        log = m.flight_log
        for flight, cancelled in zip(self.flights, self._cancellations()):
            if cancelled:
                flight.status = cancelled
            else:
                rows = flight.fly()
                if len(rows):
                    if aboard is None:
                        aboard = [[] for _ in Carried]
                    aboard[flight.carried].append(rows)
            log.append(flight.record())
        if aboard is not None:
            self._carry(sum(map(len, aboard)), [np.concatenate(flights) if flights else None
                                                for flights in aboard])

    def _cancellations(self) -> list[str | None]:
        """Why each flight does not fly today (None: it flies, if anyone is waiting)."""
        m, t, day = self.model, self.model.timeline, self.day
        moratorium = t.moratorium[day]
        if not (moratorium or t.priorities[day]) and (
                self.no_guadalajara or m.mexico.receives_flight(Destination.GUADALAJARA, day)):
            return self.none_cancelled  # most days
        cut = ((m.streams.uniform_keys(Decision.FLIGHT_CANCELLED, self.keys, day)
                >= t.removal_flight_share[day]).tolist() if t.priorities[day]
               else [False] * len(self.flights))
        why: list[str | None] = []
        for flight, priorities_cut in zip(self.flights, cut):
            if not m.mexico.receives_flight(flight.destination, day):
                why.append("cancelled: Mexico does not receive it")
            elif not flight.removal:
                why.append(None)
            elif moratorium:
                why.append("cancelled: removal moratorium")
            elif flight.prioritised and priorities_cut:
                why.append("cancelled: enforcement priorities")
            else:
                why.append(None)
        return why

    def _carry(self, flown: int, aboard: list[np.ndarray | None]) -> None:
        """Count the day's `flown` flights and their passengers (`aboard[kind]`: the rows
        of every flight of that kind, in flight order), and send them home, or on to a
        third country."""
        m, day = self.model, self.day
        rec, migrants = m.recorder, m.migrants
        rec.add("flights", flown)
        rec.add("flight_passengers", sum(len(rows) for rows in aboard if rows is not None))
        interior, expelled, third_country, removed = aboard
        if interior is not None:
            rec.add("interior_repatriations", len(interior))
            migrants.send_back(interior, ReturnMode.INTERIOR_FLIGHT, Status.AT_HOME, day)
        if third_country is not None:
            rec.add("third_country_transfers", len(third_country))
            stays = (m.streams.uniform(Decision.ACA_STAYS, migrants.pop, third_country, day)
                     < m.timeline.aca_stays_share)
            migrants.record_outcome(third_country[stays], entered=False)
            migrants.pop.move(third_country[stays], Status.IN_THIRD_COUNTRY, day)
            migrants.send_back(third_country[~stays], ReturnMode.THIRD_COUNTRY, Status.AT_HOME,
                               day)
        if expelled is not None:
            rec.add("title42_flight_expulsions", len(expelled))
        if removed is not None:
            m.ice.record_removals(removed)
        # expelled or removed by air, the same return for the people sent home
        home = [rows for rows in (expelled, removed) if rows is not None]
        if home:
            migrants.send_back(home[0] if len(home) == 1 else np.concatenate(home),
                               ReturnMode.REMOVAL, Status.AT_HOME, day)


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
    # kept: events hold weak refs
    model.flight_days = [FlightDay(model, by_day[day], order)
                         for order, day in enumerate(sorted(by_day))]
    if model.flight_days:
        model.flight_days[0].schedule()
