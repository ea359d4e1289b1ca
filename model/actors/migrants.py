"""The migrants as one actor: setting out, crossing, and what follows a return or a release.

Agents (sectors, ICE, flights, Mexico, courts) decide *what happens* to rows;
this class carries out the migrants' own steps (setting out, crossing, giving
up or trying again after a return, being released), each in one compiled call
that draws from `Behaviour`, feeds the outcome into peers' experience and moves
the people through the state layer (`model.state.people`: `move_rows`,
`stop_rows`, `set_arrest_rows`), which keeps every count exact.
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
from model.actors.courts import hearing_days
from model.state.geography import SECTOR_KEYS
from model.state.people import (
    NEW_ARREST,
    RECORD,
    Population,
    admit_written,
    move_rows,
    set_arrest_rows,
    stop_rows,
)
from model.state.recorder import COLUMN_INDEX, Recorder
from model.state.streams import Decision
from model.state.vocabulary import (
    ARREST_BORDER,
    ARREST_INTERIOR,
    ARREST_RESIDENT,
    DEMOGRAPHIC_KEYS,
    EN_ROUTE,
    EVADED_INTO_US,
    GAVE_UP,
    IN_FAMILY_DETENTION,
    IN_ICE_DETENTION,
    NORTHERN_TRIANGLE,
    N_STATUS,
    RELEASE,
    RELEASED_IN_US,
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
# and, for the Northern Triangle, each country's own column (-1: none)
_COUNTRY_COLUMN = np.array([COLUMN_INDEX[f"encounters_{n.name.lower()}"]
                            if n in NORTHERN_TRIANGLE else -1 for n in Nationality])
_DEMOGRAPHIC_COLUMN = np.array([COLUMN_INDEX[c] for c in (
    "encounters_single_adults", "encounters_family_units", "encounters_unaccompanied_children")])
assert len(_DEMOGRAPHIC_COLUMN) == len(DEMOGRAPHIC_KEYS)
_SECTOR_COLUMN = np.array([COLUMN_INDEX[f"encounters_{k}"] for k in SECTOR_KEYS])
_ENCOUNTERS, _UNIQUE, _AT_PORTS, _REPEATS, _MONTH_FIRST, _FY_FIRST = (COLUMN_INDEX[c] for c in (
    "encounters", "unique_encountered", "encounters_at_ports", "repeat_encounters",
    "month_first_encounters", "fiscal_year_first_encounters"))

_NOBODY = np.empty(0, dtype=np.int64)


@numba.njit(cache=True)
def _send_back(rows, where, day, memory, retry_inputs, moves):
    """`Migrants.send_back` in one call: peers learn of the return (`count_outcomes`
    into `memory`), each row gives up (status GAVE_UP) or tries again from `where`
    after its delay (`retry_or_give_up_rows` on `retry_inputs`); `moves`:
    `Population.moves`. Returns how many gave up."""
    count_outcomes(rows, False, memory)
    gives_up, delay = retry_or_give_up_rows(rows, retry_inputs)
    stop_rows(moves, rows[gives_up], GAVE_UP, day)
    retry = ~gives_up
    move_rows(moves, rows[retry], where, day, delay[retry])
    return np.count_nonzero(gives_up)


@numba.njit(cache=True)
def _attempt_crossing(rows, day, cross_inputs, sector_column, memory, moves):
    """`Migrants.attempt_crossing` in one call: the draws (`cross_rows`), then each row's
    sector noted and marked as a border crosser (crossing again), evaders into the US
    (peers learn they got in); `moves`: `Population.moves`. Returns the apprehended
    (rows, sector, at a port) and how many evaded."""
    sectors, caught, at_port = cross_rows(rows, cross_inputs)
    sector_column[rows] = sectors
    set_arrest_rows(moves[RECORD], rows, ARREST_BORDER)
    evaders = rows[~caught]
    count_outcomes(evaders, True, memory)
    stop_rows(moves, evaders, EVADED_INTO_US, day)
    return rows[caught], sectors[caught], at_port[caught], evaders.size


@numba.njit(cache=True)
def _set_out(counts, at, day, draw_day, people_draws, columns, admit_columns, travel_inputs,
             moves):
    """`Migrants.set_out` in one call, after the day's departures are drawn: the people
    (`counts` per group) are made from row `at` on (`new_people_rows`), join the run
    (`admit_written`) and start their journey (as `_start_journey`)."""
    new_people_rows(counts, at, draw_day, people_draws, columns)
    count = counts.sum()
    admit_written(at, count, day, NEW_ARREST, admit_columns)
    _start_journey(np.arange(at, at + count), day, travel_inputs, moves)


@numba.njit(cache=True)
def _start_journey(rows, day, travel_inputs, moves):
    """`Migrants.start_journey` in one call: on the road (EN_ROUTE) for their days of
    travel (`travel_time_rows`); `moves`: `Population.moves`."""
    move_rows(moves, rows, EN_ROUTE, day, travel_time_rows(rows, travel_inputs))


@numba.njit(cache=True)
def _release(rows, reporting, to_court, day, memory, hearing_inputs, pending, moves):
    """`Migrants.release` (and `to_court`) in one call: everyone in `rows` is released
    (pending RELEASE) and peers learn they got in (unless `memory` is None);
    `reporting` (with a notice to report) stay in the US with no date, `to_court`
    until their hearing (`hearing_days`); `moves`: `Population.moves`."""
    pending[rows] = RELEASE
    if memory is not None:
        count_outcomes(rows, True, memory)
    stop_rows(moves, reporting, RELEASED_IN_US, day)
    move_rows(moves, to_court, RELEASED_IN_US, day, hearing_days(to_court, hearing_inputs))


@numba.njit(cache=True)
def _record_encounters(rows, sectors, at_port, day, month, fy, history, today):
    """`Migrants.record_encounters` in one pass; `history`: the population's (nationality,
    demographic, last_encounter_day, last_encounter_month, last_encounter_fy,
    n_encounters); `today` is the recorder's row."""
    nationality, demographic, last_day, last_month, last_fy, n_encounters = history
    today[_ENCOUNTERS] += rows.size
    today[_UNIQUE] += rows.size  # one attempt a day, so a day's people are distinct
    for i in range(rows.size):
        r = rows[i]
        today[_AT_PORTS] += at_port[i]
        today[_REPEATS] += day - last_day[r] <= 365
        today[_MONTH_FIRST] += last_month[r] != month
        today[_FY_FIRST] += last_fy[r] != fy
        today[_NATIONALITY_COLUMN[nationality[r]]] += 1
        country = _COUNTRY_COLUMN[nationality[r]]
        if country >= 0:
            today[country] += 1
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


@numba.njit(cache=True)
def _record_stocks(today, counts, by_arrest):
    """`Migrants.record_stocks` into `today` (the recorder's row) from the counts per
    status and per (arrest, status)."""
    for column in range(_STOCK_COLUMNS.size):
        total = 0
        for status in range(counts.size):
            total += counts[status] * _STOCKS_OF_STATUS[status, column]
        today[_STOCK_COLUMNS[column]] = total
    today[_DETAINED_BORDER] = (by_arrest[ARREST_BORDER, IN_ICE_DETENTION]
                               + by_arrest[ARREST_BORDER, IN_FAMILY_DETENTION])
    today[_DETAINED_INTERIOR] = (by_arrest[ARREST_INTERIOR, IN_ICE_DETENTION]
                                 + by_arrest[ARREST_RESIDENT, IN_ICE_DETENTION])
    today[_IN_US] -= (by_arrest[ARREST_RESIDENT, RELEASED_IN_US]
                      + by_arrest[ARREST_RESIDENT, EVADED_INTO_US])


@numba.njit(cache=True)
def _split_pending(rows, pending, value):
    """`Migrants.split_pending` in one pass."""
    has = np.empty(rows.size, dtype=np.bool_)
    for i in range(rows.size):
        has[i] = pending[rows[i]] == value
    return rows[~has], rows[has]


class Migrants:
    """Owns the population (`pop`, with the queue of who acts on which day) and the
    migrants' `Behaviour`. Built by `BorderModel`; the actors hand people to its
    steps (`release`, `send_back`, `return_at_port`, `give_up`, ...) and move
    them otherwise with `pop.move`."""

    def __init__(self, model, n_days: int, expected_people: int):
        self.model = model
        self.pop = Population(capacity=expected_people, n_days=n_days)
        self.behaviour = Behaviour(model.scenario, model.streams, model.scale)
        self.recorder: Recorder = model.recorder
        self.month_of_day = model.calendar.month_of_day
        self.fiscal_year_of_day = model.calendar.fiscal_year_of_day
        self.people_set_out = 0  # rows added by setting out (before the run too)

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
        moves = pop.moves(count)  # after make_room: growing replaces the columns
        _set_out(counts.ravel(), pop.n, day, b.draw_day(day), b.people_draws, b.columns(pop),
                 pop.admit_columns(), b.travel_inputs(pop, day), moves)
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
            self.pop.move(rows, Status.EN_ROUTE, 0, travel[on_road] - back)

    def start_journey(self, rows: np.ndarray, day: int) -> None:
        self.recorder.add("departures", len(rows))
        if len(rows):
            _start_journey(rows, day, self.behaviour.travel_inputs(self.pop, day),
                           self.pop.moves(len(rows)))

    # -- crossing ----------------------------------------------------------
    def attempt_crossing(self, rows: np.ndarray, day: int
                         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Everyone in `rows` crosses today. Evaders enter the US; returns the
        apprehended (rows, sector, at_port) for Border Patrol to process."""
        pop, b = self.pop, self.behaviour
        caught_rows, sectors, at_port, evaders = _attempt_crossing(
            rows, day, b.cross_inputs(pop, day), pop.sector, b.experience.memory(pop),
            self.pop.moves(0))
        self.recorder.add("evasions", evaders)
        return caught_rows, sectors, at_port

    def record_encounters(self, rows: np.ndarray, sectors: np.ndarray, at_port: np.ndarray,
                          day: int) -> None:
        """Count today's encounters (who, where, whether a repeat or a first this month
        or fiscal year) and update each person's encounter history."""
        if len(rows) == 0:
            return
        pop = self.pop
        history = (pop.nationality, pop.demographic, pop.last_encounter_day,
                   pop.last_encounter_month, pop.last_encounter_fy, pop.n_encounters)
        _record_encounters(rows, sectors, at_port, day, self.month_of_day[day],
                           self.fiscal_year_of_day[day], history, self.recorder.today)

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
                 m.courts.hearing_inputs(day), self.pop.pending, self.pop.moves(len(to_court)))

    def to_court(self, rows: np.ndarray, day: int) -> None:
        """Into the community with a notice to appear, as nobody's peer (ICE's releases of
        people it arrested inside): a new regular-docket case and a hearing date."""
        if len(rows) == 0:
            return
        m = self.model
        m.courts.open_cases(len(rows), filed_later=True)
        _release(rows, _NOBODY, rows, day, None, m.courts.hearing_inputs(day), self.pop.pending,
                 self.pop.moves(len(rows)))

    def send_back(self, rows: np.ndarray, mode: ReturnMode, where: Status, day: int) -> None:
        """After a return: each person gives up, or tries again from `where` later."""
        if len(rows) == 0:
            return
        b = self.behaviour
        gave_up = _send_back(rows, int(where), day, b.experience.memory(self.pop),
                             b.retry_inputs(self.pop, mode, day), self.pop.moves(len(rows)))
        self.recorder.add("gave_up", gave_up)

    def return_at_port(self, rows: np.ndarray, day: int) -> None:
        """Returned to Mexico at a land port (Title 8), to try again or give up from there."""
        self.recorder.add("port_returns", len(rows))
        self.send_back(rows, ReturnMode.PORT_RETURN, Status.AT_BORDER, day)

    def give_up(self, rows: np.ndarray, day: int) -> None:
        self.recorder.add("gave_up", len(rows))
        self.pop.move(rows, Status.GAVE_UP, day)

    # -- daily bookkeeping -------------------------------------------------
    def record_stocks(self) -> None:
        """The day's stocks: detained (in all, arrested at the border, in the interior,
        families),
        in custody, waiting under MPP or on a metering list, in the US (this run's border crossers: not the
        long-term residents ICE arrested and released)."""
        _record_stocks(self.recorder.today, self.pop.status_counts,
                       self.pop.arrest_counts)
