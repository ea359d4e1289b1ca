"""The migrants as one actor: the column-wise population and every move a person makes.

Agents (sectors, ICE, flights, Mexico, courts) decide *what happens* to rows;
this class is the one place that *moves* people between statuses, schedules
their next action, counts the move and feeds what happened into peers'
experience. Keeping the moves here means conservation holds by construction.
"""

import numpy as np

from model.behaviour import Behaviour, new_people_attributes
from model.calendar import DueQueue
from model.geography import MEXICAN_STATES
from model.people import (
    NEVER,
    NORTHERN_TRIANGLE,
    Demographic,
    Nationality,
    Population,
    Status,
    share_by_key,
)
from model.recorder import Recorder

_NATIONALITY_COLUMN = {
    Nationality.MEXICO: "encounters_mexico",
    **{n: "encounters_northern_triangle" for n in NORTHERN_TRIANGLE},
    Nationality.CHINA: "encounters_other",
    Nationality.OTHER: "encounters_other",
}
_DEMOGRAPHIC_COLUMN = {
    Demographic.SINGLE_ADULT: "encounters_single_adults",
    Demographic.FAMILY_UNIT: "encounters_family_units",
    Demographic.UNACCOMPANIED_CHILD: "encounters_unaccompanied_children",
}
_STATE_P = np.array([s.migrant_weight for s in MEXICAN_STATES])
_STATE_P = _STATE_P / _STATE_P.sum()


class Migrants:
    def __init__(self, model, n_days: int, expected_people: int):
        self.model = model
        self.pop = Population(capacity=expected_people)
        self.queue = DueQueue(n_days)
        self.behaviour = Behaviour(model.scenario, model.rng, model.scale)
        self.recorder: Recorder = model.recorder
        self.month_of_day = model.calendar.month_of_day
        self.fiscal_year_of_day = model.calendar.fiscal_year_of_day

    # -- scheduling --------------------------------------------------------
    def move(self, rows: np.ndarray, status: Status, day: int, delay: np.ndarray | int | None = None
             ) -> None:
        """Set status; with `delay`, the rows act again `delay` days from `day`."""
        self.pop.set_status(rows, status, day)
        if delay is None:
            self.pop.next_day[rows] = NEVER
        else:
            when = day + np.broadcast_to(np.asarray(delay, dtype=np.int64), rows.shape)
            self.pop.next_day[rows] = when
            self.queue.push(rows, when)

    def due(self, day: int) -> np.ndarray:
        return self.queue.pop(day, self.pop.next_day)

    # -- setting out and arriving ------------------------------------------
    def set_out(self, day: int, push: np.ndarray) -> None:
        counts = self.behaviour.departures(push)
        attrs = new_people_attributes(self.behaviour, counts, _STATE_P)
        rows = self.pop.add(len(attrs["nationality"]), day=day, **attrs)
        self.recorder.add("new_migrants", len(rows))
        self.start_journey(rows, day)

    def seed_in_transit(self, push: np.ndarray, lookback_days: int = 90) -> None:
        """People who set out before day 0 and are still on the road: without them
        the first weeks of a run would show only the fastest travellers."""
        for back in range(lookback_days, 0, -1):
            counts = self.behaviour.departures(push)
            attrs = new_people_attributes(self.behaviour, counts, _STATE_P)
            travel = share_by_key(
                self.behaviour.travel_time_of(attrs["nationality"], attrs["origin_state"]),
                attrs["family_key"])
            on_road = travel > back
            rows = self.pop.add(int(on_road.sum()), day=0,
                                **{k: v[on_road] for k, v in attrs.items()})
            self.move(rows, Status.EN_ROUTE, 0, travel[on_road] - back)

    def start_journey(self, rows: np.ndarray, day: int) -> None:
        self.recorder.add("departures", len(rows))
        self.move(rows, Status.EN_ROUTE, day, self.behaviour.travel_time(self.pop, rows))

    # -- crossing ----------------------------------------------------------
    def attempt_crossing(self, rows: np.ndarray, day: int
                         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Everyone in `rows` crosses today. Evaders enter the US; returns the
        apprehended (rows, sector, at_port) for the sectors to process."""
        b = self.behaviour
        sectors = b.choose_sector(self.pop, rows)
        self.pop.sector[rows] = sectors
        at_port = b.at_port(self.pop, rows)
        caught = b.apprehended(self.pop, rows, sectors, at_port)
        evaders = rows[~caught]
        self.recorder.add("evasions", len(evaders))
        self.record_outcome(evaders, entered=True)
        self.move(evaders, Status.EVADED_INTO_US, day)
        return rows[caught], sectors[caught], at_port[caught]

    def record_encounters(self, rows: np.ndarray, at_port: np.ndarray, day: int) -> None:
        pop, rec = self.pop, self.recorder
        n = len(rows)
        rec.add("encounters", n)
        rec.add("unique_encountered", n)  # one attempt a day, so a day's people are distinct
        rec.add("encounters_at_ports", int(at_port.sum()))
        last = pop.last_encounter_day[rows]
        rec.add("repeat_encounters", int(np.count_nonzero(day - last <= 365)))
        month = self.month_of_day[day]
        rec.add("month_first_encounters", int(np.count_nonzero(pop.last_encounter_month[rows] != month)))
        fy = self.fiscal_year_of_day[day]
        rec.add("fiscal_year_first_encounters",
                int(np.count_nonzero(pop.last_encounter_fy[rows] != fy)))
        for value, count in zip(*np.unique(pop.nationality[rows], return_counts=True)):
            rec.add(_NATIONALITY_COLUMN[Nationality(value)], count)
        for value, count in zip(*np.unique(pop.demographic[rows], return_counts=True)):
            rec.add(_DEMOGRAPHIC_COLUMN[Demographic(value)], count)
        pop.last_encounter_day[rows] = day
        pop.last_encounter_month[rows] = month
        pop.last_encounter_fy[rows] = fy
        pop.n_encounters[rows] += 1

    # -- outcomes ----------------------------------------------------------
    def record_outcome(self, rows: np.ndarray, entered: bool) -> None:
        """Peers learn how this attempt ended (inside the US or sent back)."""
        self.behaviour.experience.record(self.pop.group(rows), self.pop.sector[rows], entered)

    def release(self, rows: np.ndarray, day: int, *, forced: bool = False) -> None:
        """Into the US with a notice to appear (or to an HHS sponsor, or paroled)."""
        if len(rows) == 0:
            return
        self.recorder.add("releases", len(rows))
        if forced:
            self.recorder.add("capacity_releases", len(rows))
        courts = self.model.courts
        courts.open_cases(len(rows))
        self.record_outcome(rows, entered=True)
        self.move(rows, Status.RELEASED_IN_US, day,
                  self.pop.shared(courts.regular_hearing_delay(len(rows), day), rows))

    def send_back(self, rows: np.ndarray, mode: str, where: Status, day: int) -> None:
        """After a return: each person gives up, or tries again from `where` later."""
        if len(rows) == 0:
            return
        self.record_outcome(rows, entered=False)
        gave_up, retry, delay = self.behaviour.retry_or_give_up(self.pop, rows, mode)
        self.give_up(gave_up, day)
        self.move(retry, where, day, delay)

    def return_at_port(self, rows: np.ndarray, day: int) -> None:
        """Returned to Mexico at a land port (Title 8), to try again or give up from there."""
        self.recorder.add("port_returns", len(rows))
        self.send_back(rows, "port_return", Status.AT_BORDER, day)

    def give_up(self, rows: np.ndarray, day: int) -> None:
        self.recorder.add("gave_up", len(rows))
        self.move(rows, Status.GAVE_UP, day)

    # -- daily bookkeeping -------------------------------------------------
    def record_stocks(self) -> None:
        counts = self.pop.status_counts
        self.recorder.set("detention_population", counts[Status.IN_ICE_DETENTION])
        self.recorder.set("cbp_custody", counts[Status.IN_CBP_CUSTODY])
        self.recorder.set("mpp_waiting", counts[Status.MPP_WAITING])
        self.recorder.set("in_us", counts[Status.RELEASED_IN_US] + counts[Status.EVADED_INTO_US])
