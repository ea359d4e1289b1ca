"""ICE: detention with a bed cap, the waiting lists for flights, and removals.

People are detained for a credible-fear interview, for a removal through a
land port, to wait for a seat on a flight to one destination, or (arrested in
the interior, `ice_interior.py`) for the detained docket. A flight takes the
longest-waiting people first and never more than its seats; whoever waits
past the time limit is let go (Mexicans waiting for an interior flight are
returned at a port instead). Detention never holds more than the cap. While a
removal moratorium is in force nobody is removed: people due wait a day more.
"""

import mesa
import numba
import numpy as np

from model.state.capacity import CarriedRoom, fit_families, grant_one, over_capacity, settle_one
from model.state.people import group_rows, move_rows
from model.actors.family_detention import FamilyResidentialCentres
from model.actors.ice_interior import ICEInterior
from model.state.recorder import COLUMN_INDEX
from model.state.scaling import to_agents, whole_agents
from model.state.streams import Decision, draw_unit, poisson_from_unit
from model.state.vocabulary import (
    ARREST_BORDER,
    CREDIBLE_FEAR,
    DETAINED_DOCKET,
    FLY_GUADALAJARA,
    IN_FAMILY_DETENTION,
    IN_ICE_DETENTION,
    NATIONALITY_KEYS,
    PORT_REMOVAL,
    RELEASE,
    REMOVAL,
    TITLE42_DESTINATIONS,
    Arrest,
    Destination,
    Nationality,
    Pending,
    ReturnMode,
    Status,
)

NO_LIMIT = 1 << 40  # days: `detain_until_due` without a limit
# flights that take people without travel documents: Mexico's interior, Guatemala under
# the agreement, Title 42 expulsions
_NO_DOCUMENTS = (Destination.GUADALAJARA, Destination.GUATEMALA_ACA, *TITLE42_DESTINATIONS)
_REMOVALS = COLUMN_INDEX["removals"]
_REMOVALS_BY_NATIONALITY = np.array([COLUMN_INDEX[f"removals_{k}"] for k in NATIONALITY_KEYS])


class ICE(mesa.Agent):
    """Immigration and Customs Enforcement. Owns the detention beds (and the
    COVID cap on them), one waiting list per flight `Destination`, and the
    seats of its charter routes (`seats`), and its interior side (`interior`:
    interior arrests, the detained docket, final orders).
    Border Patrol and the courts hand people over (`intake`); the model calls
    `on_due` and `enforce_cap` daily; flights call `board` and `record_removals`."""

    def __init__(self, model):
        super().__init__(model)
        self.waiting: dict[int, list[np.ndarray]] = {int(d): [] for d in Destination}
        self.seats = None  # each charter route's seats (a CarriedRoom): set by schedule_flights
        self._marks = np.zeros(0, dtype=np.int32)  # scratch for `board` (see _still_waiting)
        s, keys = model.scenario, model.streams.keys
        # beds usable each day, in agents (`capacity`), truncated as int() does
        self._capacity = whole_agents(s.detention_beds * model.timeline.detention_cap_share,
                                      model.scale)
        # what `_detention_days` draws from, but the day's (constant for the run)
        self._detention_draws = (
            keys[Decision.CREDIBLE_FEAR_DAYS], keys[Decision.PORT_REMOVAL_DAYS],
            keys[Decision.DETAINED_DOCKET_DAYS], s.credible_fear_days - 1,
            s.port_removal_days - 1, max(s.detained_docket_days - 1.0, 0.0),
            int(s.max_detention_days))
        self._stamp = 0
        self.interior = ICEInterior(self)
        self.families = FamilyResidentialCentres(model)

    @property
    def detained(self) -> int:
        return int(self.model.migrants.pop.status_counts[Status.IN_ICE_DETENTION])

    def capacity(self, day: int) -> int:
        """Beds usable today, in agents (COVID cap: a share of the beds)."""
        return int(self._capacity[day])

    # -- coming in -----------------------------------------------------------
    def intake(self, rows: np.ndarray, pending: np.ndarray, day: int) -> None:
        """Detain whoever fits; the rest are returned (Mexicans) or released."""
        if len(rows) == 0:
            return
        room = max(self.capacity(day) - self.detained, 0)
        if len(rows) <= room:  # everyone fits (no mask)
            self.detain(rows, pending, day)
            return
        fits = self.model.migrants.pop.whole_families(rows, room)
        self._turn_away(rows[~fits], day)
        self.detain(rows[fits], pending[fits], day)

    def detain(self, rows: np.ndarray, pending: np.ndarray, day: int) -> None:
        """Detain `rows` for what `pending` says: a credible-fear interview, a removal
        through a port (each some days), or a flight (until one takes them, or the
        time limit); flyers join their destination's line."""
        if len(rows) == 0:
            return
        m = self.model
        self._line_up(*_detain_in_line(rows, pending, day, self._days_inputs(day),
                                       m.migrants.pop.pending, m.migrants.pop.moves(len(rows))))

    def detain_until_due(self, rows: np.ndarray, pending: np.ndarray, day: int,
                         status: int = IN_ICE_DETENTION, limit: int = NO_LIMIT) -> None:
        """Held (in `status`: ICE detention, or a family residential centre) until each
        one's case is due (`_detention_days`) for `pending`, or at most `limit` days."""
        m = self.model
        _detain(rows, pending, day, self._days_inputs(day), m.migrants.pop.pending, status,
                limit, m.migrants.pop.moves(len(rows)))

    def _days_inputs(self, day: int) -> tuple:
        """What `_detention_days` draws the detention days of `day` from."""
        m = self.model
        pop = m.migrants.pop
        return (pop.uid, pop.family, day + m.streams.day_offset,
                int(m.timeline.interior_wait_days[day]), self._detention_draws)

    def hold(self, rows: np.ndarray, pending: "np.ndarray | int", day: int, days: np.ndarray
             ) -> None:
        """In detention for `days`, then `pending` is carried out; flyers join their line."""
        if len(rows) == 0:
            return
        pop = self.model.migrants.pop
        pop.pending[rows] = pending
        self.model.migrants.pop.move(rows, Status.IN_ICE_DETENTION, day, days)
        if type(pending) is np.ndarray:
            self.join_lines(rows, pending)
        elif pending < Pending.RELEASE:  # (a docket or an interview: no line)
            self.waiting[int(pending)].append(rows)

    def join_lines(self, rows: np.ndarray, pending: "np.ndarray | None" = None) -> None:
        """Whoever in `rows` waits for a flight joins that destination's line (`pending`:
        theirs, if the caller has it)."""
        if len(rows) == 0:
            return
        if pending is None:
            pending = self.model.migrants.pop.pending[rows]
        self._line_up(*_by_destination(rows, pending))

    def _line_up(self, fly_rows: np.ndarray, bounds: np.ndarray) -> None:
        """`fly_rows` (grouped by destination: `_by_destination`) join their lines."""
        if len(fly_rows) == 0:
            return
        bounds = bounds.tolist()
        for dest in range(len(bounds) - 1):  # each destination's rows, in their order
            if bounds[dest] < bounds[dest + 1]:
                self.waiting[dest].append(fly_rows[bounds[dest]: bounds[dest + 1]])

    def _turn_away(self, rows: np.ndarray, day: int) -> None:
        """No bed: Mexicans are returned at a port, everyone else released (people
        arrested in the interior: released with a notice to appear)."""
        if len(rows) == 0:
            return
        m = self.model
        rows = self._interior_released(rows, day)
        mexican = m.migrants.pop.nationality[rows] == Nationality.MEXICO
        m.migrants.return_at_port(rows[mexican], day)
        m.migrants.release(rows[~mexican], day, forced=True)

    def _interior_released(self, rows: np.ndarray, day: int) -> np.ndarray:
        """Release the people arrested in the interior among `rows`; return the others."""
        inside = self.model.migrants.pop.arrest[rows] != Arrest.BORDER
        if inside.any():
            self.interior.release(rows[inside], day)
            return rows[~inside]
        return rows

    def record_removals(self, rows: np.ndarray) -> None:
        """Count removals, in all and by nationality."""
        if len(rows) == 0:
            return
        m = self.model
        _count_removals(rows, m.migrants.pop.nationality, m.recorder.today)

    # -- the day's due cases -------------------------------------------------
    def on_due(self, rows: np.ndarray, day: int) -> None:
        """Today's due detainees, by what they wait for (each branch only when someone
        waits for it: at a coarse scale most days have one or two)."""
        if len(rows) == 0:
            return
        m, pop = self.model, self.model.migrants.pop
        fear, removed, docket, flying = _due_cases(rows, pop.pending)
        if len(fear):
            self._interviewed(fear, day)
        if len(removed):
            if m.timeline.moratorium[day]:  # nobody is removed: wait a day more
                m.migrants.pop.move(removed, Status.IN_ICE_DETENTION, day, 1)
            else:
                self.record_removals(removed)
                m.migrants.send_back(removed, ReturnMode.REMOVAL, Status.AT_BORDER, day)
        if len(docket):
            self._docket_decides(docket, day)
        if len(flying):
            timed_out = self._interior_released(flying, day)
            no_seat = pop.pending[timed_out] == Pending.FLY_GUADALAJARA
            m.migrants.return_at_port(timed_out[no_seat], day)
            m.migrants.release(timed_out[~no_seat], day)

    def _interviewed(self, fear: np.ndarray, day: int) -> None:
        """Credible-fear interviews done today: a credible fear is kept for the detained
        docket or released; the others are detained for removal."""
        m, pop, keys = self.model, self.model.migrants.pop, self.model.streams.keys
        kept, released, negative, removal = _interview_decisions(
            fear, pop.uid, pop.family, pop.nationality, day + m.streams.day_offset,
            keys[Decision.CREDIBLE_FEAR_POSITIVE], keys[Decision.DETAINED_DOCKET],
            m.scenario.credible_fear_positive,
            m.scenario.detained_docket_share * m.timeline.priorities_detention_share[day])
        self.hold_for_docket(kept, day)
        m.migrants.release(released, day)
        self.detain(negative, removal, day)

    # -- Title 42 expulsion flights ------------------------------------------------
    def hold_for_expulsion(self, rows: np.ndarray, destination: np.ndarray, day: int) -> None:
        """Held for an expulsion flight while beds allow (at most the policy's wait, then
        processed under Title 8: released); expelled by air at once when there is no bed."""
        if len(rows) == 0:
            return
        m = self.model
        fits = m.migrants.pop.whole_families(rows, max(self.capacity(day) - self.detained, 0))
        m.migrants.send_back(rows[~fits], ReturnMode.REMOVAL, Status.AT_HOME, day)
        wait = max(int(m.timeline.title42_flight_wait[day]), 1)
        self.hold(rows[fits], destination[fits], day, np.full(int(fits.sum()), wait))

    # -- the detained docket ---------------------------------------------------
    def hold_for_docket(self, rows: np.ndarray, day: int) -> None:
        """Detained until the detained docket decides (some weeks)."""
        if len(rows):
            docket = np.full(len(rows), Pending.DETAINED_DOCKET, dtype=np.int8)
            self.detain_until_due(rows, docket, day)

    def _docket_decides(self, rows: np.ndarray, day: int) -> None:
        """The detained docket's decisions due today: removal, or release."""
        if len(rows) == 0:
            return
        m = self.model
        pop = m.migrants.pop
        inside, border, ordered, removal = _docket_decisions(
            rows, pop.uid, pop.family, pop.arrest, pop.nationality, day + m.streams.day_offset,
            m.streams.keys[Decision.DETAINED_DOCKET_REMOVED],
            m.scenario.detained_docket_removal_share)
        self.interior.release(inside, day)
        m.migrants.release(border, day)
        self.detain(ordered, removal, day)

    def enforce_cap(self, day: int) -> None:
        """When the cap drops below the population (COVID), release the excess."""
        excess = self.detained - self.capacity(day)
        if excess <= 0:
            return
        self._turn_away(over_capacity(self.model, Status.IN_ICE_DETENTION, excess, day), day)

    # -- flights -------------------------------------------------------------
    def board(self, destination: int, seats: CarriedRoom, key: int, people: int, day: int
              ) -> np.ndarray:
        """The people a flight to `destination` takes: of those still detained for it
        whose travel documents are ready (on removal flights, `removal_processing_days`
        into their stay), the longest-waiting first, families whole, as many as the
        room `seats` holds under `key` (the flight's route: granted the flight's
        `people` seats first, taken from, then settled). The rest keep their place in
        line."""
        queue = self.waiting[destination]
        if not queue:
            seats.unused(people, key)
            return np.empty(0, dtype=np.int64)
        pop = self.model.migrants.pop
        if len(self._marks) < pop.n:  # one mark per person: who is already in this line
            self._marks = np.zeros(len(pop.status), dtype=np.int32)
        self._stamp += 1
        documents = (destination not in _NO_DOCUMENTS,
                     float(self.model.scenario.removal_processing_days))
        route = (seats.credit, seats.granted, key, to_agents(people, seats.scale),
                 seats.scale == 1)
        aboard, rest = _board(
            queue[0] if len(queue) == 1 else np.concatenate(queue),
            (pop.status, pop.pending, pop.status_since, pop.family), int(destination),
            self._marks, self._stamp, day, documents, route)
        self.waiting[destination] = [rest] if len(rest) else []
        return aboard


@numba.njit(cache=True)
def _by_destination(rows, pending):
    """`ICE.join_lines`' split in one pass: the rows waiting for a flight (`pending`, one
    per row, below RELEASE: a destination) grouped by destination, each group in row
    order, and the groups' bounds."""
    flying = np.empty(rows.size, dtype=np.bool_)
    for i in range(rows.size):
        flying[i] = pending[i] < RELEASE
    order, bounds = group_rows(np.flatnonzero(flying), pending, RELEASE)
    return rows[order], bounds


@numba.njit(cache=True)
def _due_cases(rows, pending):
    """`ICE.on_due`'s split of the day's due detainees by what they wait for: (a
    credible-fear interview, a removal through a port, the detained docket, a flight),
    each in row order."""
    case = pending[rows]
    return (rows[case == CREDIBLE_FEAR], rows[case == PORT_REMOVAL],
            rows[case == DETAINED_DOCKET], rows[case < RELEASE])


@numba.njit(cache=True)
def _interview_decisions(rows, uid, family, nationality, day, positive_key, kept_key,
                         positive_share, kept_share):
    """`ICE._interviewed` in one pass: (a credible fear, kept for the detained docket;
    a credible fear, released; no credible fear; their removal), each in row order."""
    kept = np.zeros(rows.size, dtype=np.bool_)
    positive = np.empty(rows.size, dtype=np.bool_)
    for i in range(rows.size):
        person = uid[family[rows[i]]]
        positive[i] = draw_unit(positive_key, person, day) < positive_share
        kept[i] = positive[i] and draw_unit(kept_key, person, day) < kept_share
    negative = rows[~positive]
    return (rows[kept], rows[positive & ~kept], negative, REMOVAL[nationality[negative]])


@numba.njit(cache=True)
def _docket_decisions(rows, uid, family, arrest, nationality, day, key, removal_share):
    """`ICE._docket_decides` in one pass: (released, arrested inside; released, arrested
    at the border; ordered removed; their removal), each in row order."""
    removed = np.empty(rows.size, dtype=np.bool_)
    inside = np.empty(rows.size, dtype=np.bool_)
    for i in range(rows.size):
        r = rows[i]
        removed[i] = draw_unit(key, uid[family[r]], day) < removal_share
        inside[i] = arrest[r] != ARREST_BORDER
    ordered = rows[removed]
    return (rows[~removed & inside], rows[~removed & ~inside], ordered,
            REMOVAL[nationality[ordered]])


@numba.njit(cache=True)
def _count_removals(rows, nationality, today):
    """`ICE.record_removals` into `today` (the recorder's row): in all, by nationality."""
    today[_REMOVALS] += rows.size
    for r in rows:
        today[_REMOVALS_BY_NATIONALITY[nationality[r]]] += 1


@numba.njit(cache=True)
def _detain(rows, pending, day, days_inputs, pending_column, status, limit, moves):
    """`ICE.detain_until_due` in one call: `pending` set, in `status` until the case is
    due (`_detention_days` on `days_inputs`) or for `limit` days; `moves`:
    `Population.moves`."""
    pending_column[rows] = pending
    days = np.minimum(_detention_days(rows, pending, days_inputs), limit)
    move_rows(moves, rows, status, day, days)


@numba.njit(cache=True)
def _detain_in_line(rows, pending, day, days_inputs, pending_column, moves):
    """`ICE.detain` in one call: in ICE detention until the case is due (`_detain`), and
    the flyers among them by destination, for their lines (`_by_destination`)."""
    _detain(rows, pending, day, days_inputs, pending_column, IN_ICE_DETENTION, NO_LIMIT, moves)
    return _by_destination(rows, pending)


@numba.njit(cache=True)
def _detention_days(rows, pending, inputs):
    """Days until each detained person's case is due: 1 + Poisson(mean - 1) for a
    credible-fear interview, a port removal or the detained docket; the time limit
    for a flight."""
    uid, family, day, interior_wait, draws = inputs
    fear_key, port_key, docket_key, fear_extra, port_extra, docket_extra, max_days = draws
    days = np.empty(rows.size, dtype=np.int64)
    for i in range(rows.size):
        person = uid[family[rows[i]]]
        if pending[i] == CREDIBLE_FEAR:
            days[i] = 1 + poisson_from_unit(draw_unit(fear_key, person, day), fear_extra)
        elif pending[i] == PORT_REMOVAL:
            days[i] = 1 + poisson_from_unit(draw_unit(port_key, person, day), port_extra)
        elif pending[i] == DETAINED_DOCKET:
            days[i] = 1 + poisson_from_unit(draw_unit(docket_key, person, day), docket_extra)
        elif pending[i] == FLY_GUADALAJARA:
            days[i] = interior_wait
        else:
            days[i] = max_days
    return days


@numba.njit(cache=True)
def _still_waiting(rows, status, pending, destination, marks, stamp):
    """The rows still detained (adults, or families) for `destination`, in line order,
    each once (someone detained twice for it keeps their first place: `marks[r] ==
    stamp` once seen in this call; a new stamp each call)."""
    keep = np.zeros(rows.size, dtype=np.bool_)
    for i in range(rows.size):
        r = rows[i]
        held = status[r] == IN_ICE_DETENTION or status[r] == IN_FAMILY_DETENTION
        if held and pending[r] == destination and marks[r] != stamp:
            marks[r] = stamp
            keep[i] = True
    return rows[keep]


@numba.njit(cache=True)
def _board(line, people, destination, marks, stamp, day, documents, route):
    """`ICE.board` in one call: (aboard, rest of the line), each in line order.
    `people`: the population's (status, pending, status_since, family); `documents`:
    (whether travel documents are needed, the days they take); `route`: (room,
    granted: its `CarriedRoom`'s arrays, key: the route's index, seats: the flight's,
    in agents, whole: at full scale). The route's room is granted the flight's seats;
    of the line still waiting (`_still_waiting`), those ready to fly take `room[key]`
    with `fit_families`; what is left is settled."""
    status, pending, since, family = people
    needs_documents, processing_days = documents
    room, granted, key, seats, whole = route
    grant_one(room, granted, key, seats)
    rows = _still_waiting(line, status, pending, destination, marks, stamp)
    ready = np.ones(rows.size, dtype=np.bool_)  # no travel documents to wait for
    if needs_documents:
        for i in range(rows.size):
            ready[i] = day - since[rows[i]] >= processing_days
    candidates = np.flatnonzero(ready)
    fits = fit_families(family, rows[candidates], np.zeros(candidates.size, dtype=np.int64),
                        room[key:key + 1])
    settle_one(room, granted, key, whole)
    aboard = np.zeros(rows.size, dtype=np.bool_)
    aboard[candidates[fits]] = True
    return rows[aboard], rows[~aboard]
