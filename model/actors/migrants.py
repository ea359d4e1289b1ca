"""The migrants as one actor: the column-wise population and every move a person makes.

Agents (sectors, ICE, flights, Mexico, courts) decide *what happens* to rows;
this class is the one place that *moves* people between statuses, schedules
their next action, counts the move and feeds what happened into peers'
experience. Keeping the moves here means conservation holds by construction.
"""

import numba
import numpy as np

from model.actors.behaviour import (
    Behaviour,
    count_outcomes,
    cross_rows,
    new_people_rows,
    retry_or_give_up_rows,
    travel_time_rows,
)
from model.state.calendar import DueQueue, pop_rows, push_rows
from model.actors.courts import hearing_days
from model.state.geography import SECTOR_KEYS
from model.state.people import (
    NEVER,
    NEW_ARREST,
    Population,
    admit_written,
    set_arrest_rows,
    set_status_rows,
)
from model.state.recorder import COLUMN_INDEX, Recorder
from model.state.streams import Decision
from model.state.vocabulary import (
    DEMOGRAPHIC_KEYS,
    N_STATUS,
    NORTHERN_TRIANGLE,
    Arrest,
    Nationality,
    Pending,
    ReturnMode,
    Status,
)

# output column of each nationality, demographic and sector (for `_record_encounters`)
_NATIONALITY_COLUMN = np.array([
    COLUMN_INDEX["encounters_mexico" if n == Nationality.MEXICO else
                 "encounters_northern_triangle" if n in NORTHERN_TRIANGLE else
                 "encounters_other"] for n in Nationality])
_DEMOGRAPHIC_COLUMN = np.array([COLUMN_INDEX[c] for c in (
    "encounters_single_adults", "encounters_family_units", "encounters_unaccompanied_children")])
assert len(_DEMOGRAPHIC_COLUMN) == len(DEMOGRAPHIC_KEYS)
_SECTOR_COLUMN = np.array([COLUMN_INDEX[f"encounters_{k}"] for k in SECTOR_KEYS])
_ENCOUNTERS, _UNIQUE, _AT_PORTS, _REPEATS, _MONTH_FIRST, _FY_FIRST = (COLUMN_INDEX[c] for c in (
    "encounters", "unique_encountered", "encounters_at_ports", "repeat_encounters",
    "month_first_encounters", "fiscal_year_first_encounters"))

# for the compiled moves
GAVE_UP, EN_ROUTE, EVADED_INTO_US = (int(Status.GAVE_UP), int(Status.EN_ROUTE),
                                    int(Status.EVADED_INTO_US))
BORDER = int(Arrest.BORDER)
RELEASED_IN_US, RELEASE = int(Status.RELEASED_IN_US), int(Pending.RELEASE)
_NOBODY = np.empty(0, dtype=np.int64)


@numba.njit(cache=True)
def move_rows(rows, new, day, delays, arrays):
    """`Migrants.move` with a delay: new status (counts kept exact), next day, queued
    (`arrays`: `Migrants.move_arrays`); for compiled callers elsewhere too (`ICE.detain`)."""
    (status, counts, since, next_day, head, tail, chunk_rows, fill, next_chunk, state, arrest,
     arrest_counts) = arrays
    set_status_rows(status, counts, since, rows, new, day, arrest, arrest_counts)
    when = day + delays
    next_day[rows] = when
    push_rows(head, tail, chunk_rows, fill, next_chunk, state, rows, when)


@numba.njit(cache=True)
def _stop(rows, new, day, arrays):
    """`Migrants.move` without a delay: new status (counts kept exact), no next day."""
    status, counts, since, next_day, _, _, _, _, _, _, arrest, arrest_counts = arrays
    set_status_rows(status, counts, since, rows, new, day, arrest, arrest_counts)
    next_day[rows] = NEVER


@numba.njit(cache=True)
def _send_back(rows, where, day, memory, retry_inputs, arrays):
    """`Migrants.send_back` in one call: peers learn of the return (`count_outcomes`
    into `memory`), each row gives up (status GAVE_UP) or tries again from `where`
    after its delay (`retry_or_give_up_rows` on `retry_inputs`); `arrays` as for
    `move_rows`. Returns how many gave up."""
    count_outcomes(rows, False, memory)
    gives_up, delay = retry_or_give_up_rows(rows, retry_inputs)
    _stop(rows[gives_up], GAVE_UP, day, arrays)
    retry = ~gives_up
    move_rows(rows[retry], where, day, delay[retry], arrays)
    return np.count_nonzero(gives_up)


@numba.njit(cache=True)
def _attempt_crossing(rows, day, cross_inputs, sector_column, memory, arrays):
    """`Migrants.attempt_crossing` in one call: the draws (`cross_rows`), then each row's
    sector noted and marked as a border crosser (crossing again), evaders into the US
    (peers learn they got in); `arrays` as for `move_rows`. Returns the apprehended
    (rows, sector, at a port) and how many evaded."""
    sectors, caught, at_port = cross_rows(rows, cross_inputs)
    status, _, _, _, _, _, _, _, _, _, arrest, arrest_counts = arrays
    sector_column[rows] = sectors
    set_arrest_rows(arrest, arrest_counts, status, rows[arrest[rows] != BORDER], BORDER)
    evaders = rows[~caught]
    count_outcomes(evaders, True, memory)
    _stop(evaders, EVADED_INTO_US, day, arrays)
    return rows[caught], sectors[caught], at_port[caught], evaders.size


@numba.njit(cache=True)
def _set_out(counts, at, day, draw_day, people_draws, columns, admit_columns, travel_inputs,
             arrays):
    """`Migrants.set_out` in one call, after the day's departures are drawn: the people
    (`counts` per group) are made from row `at` on (`new_people_rows`), join the run
    (`admit_written`) and start their journey (as `_start_journey`)."""
    new_people_rows(counts, at, draw_day, people_draws, columns)
    count = counts.sum()
    admit_written(at, count, day, NEW_ARREST, admit_columns)
    _start_journey(np.arange(at, at + count), day, travel_inputs, arrays)


@numba.njit(cache=True)
def _start_journey(rows, day, travel_inputs, arrays):
    """`Migrants.start_journey` in one call: on the road (EN_ROUTE) for their days of
    travel (`travel_time_rows`); `arrays` as for `move_rows`."""
    move_rows(rows, EN_ROUTE, day, travel_time_rows(rows, travel_inputs), arrays)


@numba.njit(cache=True)
def _release(rows, reporting, to_court, day, memory, hearing_inputs, pending, arrays):
    """`Migrants.release` (and `to_court`) in one call: everyone in `rows` is released
    (pending RELEASE) and peers learn they got in (unless `memory` is None);
    `reporting` (with a notice to report) stay in the US with no date, `to_court`
    until their hearing (`hearing_days`); `arrays` as for `move_rows`."""
    pending[rows] = RELEASE
    if memory is not None:
        count_outcomes(rows, True, memory)
    _stop(reporting, RELEASED_IN_US, day, arrays)
    move_rows(to_court, RELEASED_IN_US, day, hearing_days(to_court, hearing_inputs), arrays)


@numba.njit(cache=True)
def _record_encounters(rows, sectors, at_port, day, month, fy, nationality, demographic,
                       last_day, last_month, last_fy, n_encounters, today):
    """`Migrants.record_encounters` in one pass; `today` is the recorder's row."""
    today[_ENCOUNTERS] += rows.size
    today[_UNIQUE] += rows.size  # one attempt a day, so a day's people are distinct
    for i in range(rows.size):
        r = rows[i]
        today[_AT_PORTS] += at_port[i]
        today[_REPEATS] += day - last_day[r] <= 365
        today[_MONTH_FIRST] += last_month[r] != month
        today[_FY_FIRST] += last_fy[r] != fy
        today[_NATIONALITY_COLUMN[nationality[r]]] += 1
        today[_DEMOGRAPHIC_COLUMN[demographic[r]]] += 1
        today[_SECTOR_COLUMN[sectors[i]]] += 1
        last_day[r] = day
        last_month[r] = month
        last_fy[r] = fy
        n_encounters[r] += 1


# the stock columns and which statuses each one counts
_STOCK_COLUMNS = np.array([COLUMN_INDEX[c] for c in (
    "detention_population", "cbp_custody", "mpp_waiting", "in_us", "family_detention_population",
    "metering_waiting")])
_STOCKS_OF_STATUS = np.zeros((N_STATUS, len(_STOCK_COLUMNS)), dtype=np.int64)
for _column, _statuses in enumerate(((Status.IN_ICE_DETENTION, Status.IN_FAMILY_DETENTION),
                                     (Status.IN_CBP_CUSTODY,), (Status.MPP_WAITING,),
                                     (Status.RELEASED_IN_US, Status.EVADED_INTO_US),
                                     (Status.IN_FAMILY_DETENTION,), (Status.METERED,))):
    _STOCKS_OF_STATUS[list(_statuses), _column] = 1
_DETAINED_BORDER, _DETAINED_INTERIOR, _IN_US = (COLUMN_INDEX[c] for c in (
    "detention_population_border", "detention_population_interior", "in_us"))
_INTERIOR, _RESIDENT = int(Arrest.INTERIOR), int(Arrest.RESIDENT)
_ICE, _FAMILY = int(Status.IN_ICE_DETENTION), int(Status.IN_FAMILY_DETENTION)


@numba.njit(cache=True)
def _record_stocks(today, counts, by_arrest):
    """`Migrants.record_stocks` into `today` (the recorder's row) from the counts per
    status and per (arrest, status)."""
    for column in range(_STOCK_COLUMNS.size):
        total = 0
        for status in range(counts.size):
            total += counts[status] * _STOCKS_OF_STATUS[status, column]
        today[_STOCK_COLUMNS[column]] = total
    today[_DETAINED_BORDER] = by_arrest[BORDER, _ICE] + by_arrest[BORDER, _FAMILY]
    today[_DETAINED_INTERIOR] = by_arrest[_INTERIOR, _ICE] + by_arrest[_RESIDENT, _ICE]
    today[_IN_US] -= by_arrest[_RESIDENT, RELEASED_IN_US] + by_arrest[_RESIDENT, EVADED_INTO_US]


class DueToday:
    """A day's due rows grouped by status, each group in row order."""

    def __init__(self, rows: np.ndarray, offsets: np.ndarray):
        self.rows, self.offsets = rows, offsets.tolist()

    def __getitem__(self, status: Status) -> np.ndarray:
        return self.rows[self.offsets[status]: self.offsets[status + 1]]


@numba.njit(cache=True)
def group_rows(rows, status, n_status):
    """`rows` grouped by `status[row]` (a status, or any key below `n_status`), keeping
    their order: (rows, offsets). For `Migrants.due`, and `BorderPatrol.process`
    (rows 0..n-1 of the day's apprehended, by outcome)."""
    offsets = np.zeros(n_status + 1, dtype=np.int64)
    for r in rows:
        offsets[status[r] + 1] += 1
    offsets = np.cumsum(offsets)
    grouped = np.empty(rows.size, dtype=np.int64)
    place = offsets[:-1].copy()
    for r in rows:
        grouped[place[status[r]]] = r
        place[status[r]] += 1
    return grouped, offsets


@numba.njit(cache=True)
def _due(day, next_day, arrays):
    """`Migrants.due` in one call (`arrays`: `Migrants.move_arrays`): the queue's rows
    due on `day` (`pop_rows`), grouped by status (`group_rows`)."""
    status, _, _, _, head, tail, chunk_rows, fill, next_chunk, state, _, _ = arrays
    return group_rows(pop_rows(head, tail, chunk_rows, fill, next_chunk, state, day, next_day),
                      status, N_STATUS)


@numba.njit(cache=True)
def _split_pending(rows, pending, value):
    """`Migrants.split_pending` in one pass."""
    has = np.empty(rows.size, dtype=np.bool_)
    for i in range(rows.size):
        has[i] = pending[rows[i]] == value
    return rows[~has], rows[has]


class Migrants:
    """Owns the population (`pop`), the queue of who acts on which day and the
    migrants' `Behaviour`. Built by `BorderModel`; every actor moves people
    through its methods (`move`, `release`, `send_back`, `give_up`, ...)."""

    def __init__(self, model, n_days: int, expected_people: int):
        self.model = model
        self.pop = Population(capacity=expected_people)
        self.queue = DueQueue(n_days)
        self.behaviour = Behaviour(model.scenario, model.streams, model.scale)
        self.recorder: Recorder = model.recorder
        self.month_of_day = model.calendar.month_of_day
        self.fiscal_year_of_day = model.calendar.fiscal_year_of_day
        self.people_set_out = 0  # rows added by setting out (before the run too)
        self._move_arrays = None  # see `move_arrays`

    # -- scheduling --------------------------------------------------------
    def move(self, rows: np.ndarray, status: Status, day: int, delay: np.ndarray | int | None = None
             ) -> None:
        """Set status; with `delay`, the rows act again `delay` days from `day`."""
        if len(rows) == 0:
            return
        if delay is None:
            _stop(rows, int(status), day, self.move_arrays(0))
            return
        if not isinstance(delay, np.ndarray):
            delay = np.full(len(rows), delay, dtype=np.int64)
        move_rows(rows, int(status), day, delay, self.move_arrays(len(rows)))

    def move_arrays(self, room: int) -> tuple:
        """The population's and the queue's arrays a compiled move (`move_rows`) writes,
        with room in the queue for `room` more rows (as they are now: both grow by
        replacing them). With no room asked for, the caller schedules nobody."""
        pop, q = self.pop, self.queue
        if room:
            q.reserve(room)
        arrays = self._move_arrays
        # built again only after either grew (each replaces all its growing arrays at once)
        if arrays is None or arrays[0] is not pop.status or arrays[7] is not q.fill:
            arrays = self._move_arrays = (
                pop.status, pop.status_counts, pop.status_since, pop.next_day, q.head, q.tail,
                q.rows, q.fill, q.next, q.state, pop.arrest, pop.arrest_counts)
        return arrays

    def due(self, day: int) -> "DueToday":
        """The people due to act on `day`, by where they are (`due[Status.AT_BORDER]`)."""
        return DueToday(*_due(day, self.pop.next_day, self.move_arrays(0)))

    def split_pending(self, rows: np.ndarray, pending: Pending) -> tuple[np.ndarray, np.ndarray]:
        """`rows` whose pending outcome is not `pending`, and those whose is (in row order)."""
        return _split_pending(rows, self.pop.pending, int(pending))

    # -- setting out and arriving ------------------------------------------
    def set_out(self, day: int, push: np.ndarray) -> None:
        """Today's newcomers (`Behaviour.departures`) join the run and set out
        (`start_journey`), in one compiled call."""
        b, pop = self.behaviour, self.pop
        counts = b.departures(push, day)
        count = int(counts.sum())
        pop.make_room(count)
        arrays = self.move_arrays(count)  # after make_room: growing replaces the columns
        _set_out(counts.ravel(), pop.n, day, b.draw_day(day), b.people_draws, b.columns(pop),
                 pop.admit_columns(), b.travel_inputs(pop, day), arrays)
        pop.n += count
        self.people_set_out += count
        self.recorder.add("new_migrants", count)
        self.recorder.add("departures", count)

    def seed_in_transit(self, push: np.ndarray, lookback_days: int = 90) -> None:
        """People who set out before day 0 and are still on the road: without them
        the first weeks of a run would show only the fastest travellers."""
        b = self.behaviour
        for back in range(lookback_days, 0, -1):
            attrs = b.new_people(b.departures(push, -back), -back)
            travel = b.travel_time_of(attrs.pop("head_uid"), attrs["nationality"],
                                      attrs["origin_state"], -back)
            on_road = travel > back
            rows = self.pop.add(int(on_road.sum()), day=0,
                                **{k: v[on_road] for k, v in attrs.items()})
            self.people_set_out += len(rows)
            self.move(rows, Status.EN_ROUTE, 0, travel[on_road] - back)

    def start_journey(self, rows: np.ndarray, day: int) -> None:
        self.recorder.add("departures", len(rows))
        if len(rows):
            _start_journey(rows, day, self.behaviour.travel_inputs(self.pop, day),
                           self.move_arrays(len(rows)))

    # -- crossing ----------------------------------------------------------
    def attempt_crossing(self, rows: np.ndarray, day: int
                         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Everyone in `rows` crosses today. Evaders enter the US; returns the
        apprehended (rows, sector, at_port) for Border Patrol to process."""
        pop, b = self.pop, self.behaviour
        caught_rows, sectors, at_port, evaders = _attempt_crossing(
            rows, day, b.cross_inputs(pop, day), pop.sector, b.experience.memory(pop),
            self.move_arrays(0))
        self.recorder.add("evasions", evaders)
        return caught_rows, sectors, at_port

    def record_encounters(self, rows: np.ndarray, sectors: np.ndarray, at_port: np.ndarray,
                          day: int) -> None:
        """Count today's encounters (who, where, whether a repeat or a first this month
        or fiscal year) and update each person's encounter history."""
        if len(rows) == 0:
            return
        pop = self.pop
        _record_encounters(rows, sectors, at_port, day, self.month_of_day[day],
                           self.fiscal_year_of_day[day], pop.nationality, pop.demographic,
                           pop.last_encounter_day, pop.last_encounter_month, pop.last_encounter_fy,
                           pop.n_encounters, self.recorder.today)

    # -- outcomes ----------------------------------------------------------
    def record_outcome(self, rows: np.ndarray, entered: bool) -> None:
        """Peers learn how this attempt ended (inside the US or sent back)."""
        self.behaviour.experience.record(self.pop, rows, entered)

    def release(self, rows: np.ndarray, day: int, *, forced: bool = False,
                has_case: bool = False) -> None:
        """Into the US with a notice to appear (or to an HHS sponsor, or paroled): a new
        court case and a hearing date, unless the person already has a case
        (`has_case`: MPP) or, while the notice-to-report policy is in force, gets a
        notice to report instead (no case filed, no hearing in the run)."""
        if len(rows) == 0:
            return
        m = self.model
        self.recorder.add("releases", len(rows))
        if forced:
            self.recorder.add("capacity_releases", len(rows))
        reporting, to_court = _NOBODY, rows
        share = m.timeline.notice_to_report_share[day]
        if share > 0 and not has_case:
            report = m.streams.uniform(Decision.NOTICE_TO_REPORT, self.pop, rows, day) < share
            reporting, to_court = rows[report], rows[~report]
        if not has_case:
            m.courts.open_cases(len(to_court), filed_later=True)
        _release(rows, reporting, to_court, day, self.behaviour.experience.memory(self.pop),
                 m.courts.hearing_inputs(day), self.pop.pending, self.move_arrays(len(to_court)))

    def to_court(self, rows: np.ndarray, day: int) -> None:
        """Into the community with a notice to appear, as nobody's peer (ICE's releases of
        people it arrested inside): a new regular-docket case and a hearing date."""
        if len(rows) == 0:
            return
        m = self.model
        m.courts.open_cases(len(rows), filed_later=True)
        _release(rows, _NOBODY, rows, day, None, m.courts.hearing_inputs(day), self.pop.pending,
                 self.move_arrays(len(rows)))

    def send_back(self, rows: np.ndarray, mode: ReturnMode, where: Status, day: int) -> None:
        """After a return: each person gives up, or tries again from `where` later."""
        if len(rows) == 0:
            return
        b = self.behaviour
        gave_up = _send_back(rows, int(where), day, b.experience.memory(self.pop),
                             b.retry_inputs(self.pop, mode, day), self.move_arrays(len(rows)))
        self.recorder.add("gave_up", gave_up)

    def return_at_port(self, rows: np.ndarray, day: int) -> None:
        """Returned to Mexico at a land port (Title 8), to try again or give up from there."""
        self.recorder.add("port_returns", len(rows))
        self.send_back(rows, ReturnMode.PORT_RETURN, Status.AT_BORDER, day)

    def give_up(self, rows: np.ndarray, day: int) -> None:
        self.recorder.add("gave_up", len(rows))
        self.move(rows, Status.GAVE_UP, day)

    # -- daily bookkeeping -------------------------------------------------
    def record_stocks(self) -> None:
        """The day's stocks: detained (in all, arrested at the border, in the interior,
        families),
        in custody, waiting under MPP or on a metering list, in the US (this run's border crossers: not the
        long-term residents ICE arrested and released)."""
        _record_stocks(self.recorder.today, self.pop.status_counts,
                       self.pop.arrest_counts)
