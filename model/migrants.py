"""The migrants as one actor: the column-wise population and every move a person makes.

Agents (sectors, ICE, flights, Mexico, courts) decide *what happens* to rows;
this class is the one place that *moves* people between statuses, schedules
their next action, counts the move and feeds what happened into peers'
experience. Keeping the moves here means conservation holds by construction.
"""

import numpy as np

from model.behaviour import Behaviour
from model.calendar import DueQueue
from model.geography import SECTOR_KEYS
from model.people import NEVER, Population
from model.recorder import COLUMN_INDEX, Recorder
from model.streams import Decision
from model.vocabulary import (
    DEMOGRAPHIC_KEYS,
    NORTHERN_TRIANGLE,
    Nationality,
    ReturnMode,
    Status,
)

# output column of each nationality, demographic and sector (for one bincount a day)
_NATIONALITY_COLUMN = np.array([
    COLUMN_INDEX["encounters_mexico" if n == Nationality.MEXICO else
                 "encounters_northern_triangle" if n in NORTHERN_TRIANGLE else
                 "encounters_other"] for n in Nationality])
_DEMOGRAPHIC_COLUMN = np.array([COLUMN_INDEX[c] for c in (
    "encounters_single_adults", "encounters_family_units", "encounters_unaccompanied_children")])
assert len(_DEMOGRAPHIC_COLUMN) == len(DEMOGRAPHIC_KEYS)
_SECTOR_COLUMN = np.array([COLUMN_INDEX[f"encounters_{k}"] for k in SECTOR_KEYS])


class Migrants:
    """Owns the population (`pop`), the queue of who acts on which day and the
    migrants' `Behaviour`. Built by `BorderModel`; every actor moves people
    through its methods (`move`, `release`, `send_back`, `give_up`, ...)."""

    def __init__(self, model, n_days: int, expected_people: int):
        self.model = model
        self.pop = Population(capacity=expected_people)
        self.queue = DueQueue(n_days)
        self.streams = model.streams
        self.behaviour = Behaviour(model.scenario, model.streams, model.scale)
        self.recorder: Recorder = model.recorder
        self.month_of_day = model.calendar.month_of_day
        self.fiscal_year_of_day = model.calendar.fiscal_year_of_day

    # -- scheduling --------------------------------------------------------
    def move(self, rows: np.ndarray, status: Status, day: int, delay: np.ndarray | int | None = None
             ) -> None:
        """Set status; with `delay`, the rows act again `delay` days from `day`."""
        if len(rows) == 0:
            return
        self.pop.set_status(rows, status, day)
        if delay is None:
            self.pop.next_day[rows] = NEVER
        else:
            when = np.add(delay, day, dtype=np.int64)
            if when.ndim == 0:
                when = np.full(len(rows), when)
            self.pop.next_day[rows] = when
            self.queue.push(rows, when)

    def due(self, day: int) -> np.ndarray:
        return self.queue.pop(day, self.pop.next_day)

    # -- setting out and arriving ------------------------------------------
    def set_out(self, day: int, push: np.ndarray) -> None:
        b = self.behaviour
        attrs = b.new_people(b.departures(push, day), day)
        del attrs["head_uid"]
        rows = self.pop.add(len(attrs["uid"]), day=day, **attrs)
        self.recorder.add("new_migrants", len(rows))
        self.start_journey(rows, day)

    def seed_in_transit(self, push: np.ndarray, lookback_days: int = 90) -> None:
        """People who set out before day 0 and are still on the road: without them
        the first weeks of a run would show only the fastest travellers."""
        b = self.behaviour
        for back in range(lookback_days, 0, -1):
            attrs = b.new_people(b.departures(push, -back), -back)
            mean = b.travel_mean(attrs["nationality"], attrs["origin_state"])
            travel = 1 + self.streams.poisson_keys(Decision.TRAVEL_DAYS, attrs.pop("head_uid"),
                                                   -back, np.maximum(mean - 1.0, 0.0))
            on_road = travel > back
            rows = self.pop.add(int(on_road.sum()), day=0,
                                **{k: v[on_road] for k, v in attrs.items()})
            self.move(rows, Status.EN_ROUTE, 0, travel[on_road] - back)

    def start_journey(self, rows: np.ndarray, day: int) -> None:
        self.recorder.add("departures", len(rows))
        self.move(rows, Status.EN_ROUTE, day, self.behaviour.travel_time(self.pop, rows, day))

    # -- crossing ----------------------------------------------------------
    def attempt_crossing(self, rows: np.ndarray, day: int
                         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Everyone in `rows` crosses today. Evaders enter the US; returns the
        apprehended (rows, sector, at_port) for Border Patrol to process."""
        pop, b = self.pop, self.behaviour
        sectors, caught, at_port, groups = b.cross(pop, rows, day)
        pop.sector[rows] = sectors
        evaders = rows[~caught]
        self.recorder.add("evasions", len(evaders))
        b.experience.record(groups[~caught], sectors[~caught], entered=True)
        self.move(evaders, Status.EVADED_INTO_US, day)
        return rows[caught], sectors[caught], at_port[caught]

    def record_encounters(self, rows: np.ndarray, sectors: np.ndarray, at_port: np.ndarray,
                          day: int) -> None:
        pop, rec = self.pop, self.recorder
        n = len(rows)
        if n == 0:
            return
        rec.add("encounters", n)
        rec.add("unique_encountered", n)  # one attempt a day, so a day's people are distinct
        rec.add("encounters_at_ports", int(np.count_nonzero(at_port)))
        rec.add("repeat_encounters",
                int(np.count_nonzero(day - pop.last_encounter_day[rows] <= 365)))
        month, fy = self.month_of_day[day], self.fiscal_year_of_day[day]
        rec.add("month_first_encounters",
                int(np.count_nonzero(pop.last_encounter_month[rows] != month)))
        rec.add("fiscal_year_first_encounters",
                int(np.count_nonzero(pop.last_encounter_fy[rows] != fy)))
        rec.add_counts(np.concatenate((_NATIONALITY_COLUMN[pop.nationality[rows]],
                                       _DEMOGRAPHIC_COLUMN[pop.demographic[rows]],
                                       _SECTOR_COLUMN[sectors])))
        pop.last_encounter_day[rows] = day
        pop.last_encounter_month[rows] = month
        pop.last_encounter_fy[rows] = fy
        pop.n_encounters[rows] += 1

    # -- outcomes ----------------------------------------------------------
    def record_outcome(self, rows: np.ndarray, entered: bool) -> None:
        """Peers learn how this attempt ended (inside the US or sent back)."""
        self.behaviour.experience.record(self.pop.group[rows], self.pop.sector[rows], entered)

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
        self.move(rows, Status.RELEASED_IN_US, day, courts.regular_hearing_delay(rows, day))

    def send_back(self, rows: np.ndarray, mode: ReturnMode, where: Status, day: int) -> None:
        """After a return: each person gives up, or tries again from `where` later."""
        if len(rows) == 0:
            return
        self.record_outcome(rows, entered=False)
        gave_up, retry, delay = self.behaviour.retry_or_give_up(self.pop, rows, mode, day)
        self.give_up(gave_up, day)
        self.move(retry, where, day, delay)

    def return_at_port(self, rows: np.ndarray, day: int) -> None:
        """Returned to Mexico at a land port (Title 8), to try again or give up from there."""
        self.recorder.add("port_returns", len(rows))
        self.send_back(rows, ReturnMode.PORT_RETURN, Status.AT_BORDER, day)

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
