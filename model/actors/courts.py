"""Immigration courts: the MPP and regular dockets, life while waiting in Mexico, the backlog.

MPP cases are individual: a hearing date at enrolment (capped by a pledge such
as MPP-2021's six months), postponed while hearings are suspended; at the
hearing a person who does not appear is ordered removed in absentia. While
waiting in a border city people suffer violence, give up, or cross anyway.
People released into the US get a regular-docket hearing date set by the
backlog ahead of them (years, in 2019-2021, so most fall after the run).
The nationwide backlog is a running total: it starts at the scenario's level,
grows with every notice to appear this model issues plus the rest of the
country's new cases, and shrinks by the courts' completions. A case counts in
the backlog once DHS files its notice with the court: MPP's at once (their
hearings were weeks away), a release's `nta_filing_days` later on average
(exponentially spread; `initial_unfiled_cases` are the notices issued before
the run and filed during it, spread the same way).
"""

import mesa
import numba
import numpy as np

from model.state.capacity import CarriedRoom
from model.state.scaling import to_people
from model.state.streams import Decision, draw_unit, erlang_draw
from model.state.vocabulary import MPP_WAITING, REMOVAL, Status



class ImmigrationCourts(mesa.Agent):
    """The immigration courts. Own the nationwide backlog, the MPP roster and the
    MPP wind-down's daily admissions. Border Patrol enrols people in MPP
    (`enroll_mpp`); `Migrants.release` opens regular cases and asks for a hearing
    date; the model calls `hear`, `hear_regular`, `mpp_daily` and `end_day`."""

    def __init__(self, model):
        super().__init__(model)
        self.backlog = float(model.scenario.court_initial_backlog)
        s = model.scenario
        self._filing = _filing_kernel(s.nta_filing_days)
        self.unfiled = np.zeros(model.calendar.n_days + self._filing.size)
        self.unfiled[:self._filing.size] += s.initial_unfiled_cases * _survival(self._filing)
        # everyone enrolled, in enrolment order (who has left is dropped by the next `mpp_daily`)
        self.mpp_roster = np.empty(0, dtype=np.int64)
        self.wind_down_room = CarriedRoom(1, model.scale)
        # cases completed nationwide each day (`_completions`)
        self._completed = (model.scenario.court_completions_per_day
                           * model.timeline.court_completion_share)

    def open_cases(self, agents: int, filed_later: bool = False) -> None:
        """New cases for `agents` people: in the backlog today, or (`filed_later`: a
        release's notice to appear) spread over the days DHS takes to file them."""
        if filed_later and self._filing.size > 1:
            d = self.model.day
            people = to_people(agents, self.model.scale)
            self.unfiled[d:d + self._filing.size] += people * self._filing
        else:
            self.backlog += to_people(agents, self.model.scale)

    # -- MPP -------------------------------------------------------------------
    def enroll_mpp(self, rows: np.ndarray, day: int) -> None:
        if len(rows) == 0:
            return
        m, t = self.model, self.model.timeline
        wait = m.streams.gamma(Decision.MPP_CASE_DAYS, m.migrants.pop, rows, day, 4,
                               t.mpp_case_days[day])
        wait = np.clip(np.ceil(np.minimum(wait, t.mpp_case_days_max[day])), 1, None)
        m.recorder.add("mpp_enrollments", len(rows))
        self.open_cases(len(rows))
        m.migrants.record_outcome(rows, entered=False)
        m.migrants.pop.move(rows, Status.MPP_WAITING, day, wait.astype(np.int64))
        self.mpp_roster = np.concatenate([self.mpp_roster, rows])

    def hear(self, rows: np.ndarray, day: int) -> None:
        """MPP hearings due today."""
        if len(rows) == 0:
            return
        m, s, t, mig = self.model, self.model.scenario, self.model.timeline, self.model.migrants
        pop, draw = mig.pop, m.streams.uniform
        if t.hearings_postponed[day]:
            later = np.floor(60 * draw(Decision.MPP_POSTPONED_DAYS, pop, rows, day)).astype(np.int64)
            m.recorder.add("hearings_postponed", len(rows))
            mig.pop.move(rows, Status.MPP_WAITING, day, t.postponed_until[day] + 1 + later - day)
            return
        # a family attends together, as its first member's experience of violence decides
        p_attend = pop.shared(s.mpp_attend_prob * s.violence_attend_factor ** pop.n_violence[rows],
                              rows)
        attends = draw(Decision.MPP_ATTENDS, pop, rows, day) < p_attend
        m.recorder.add("mpp_hearings", len(rows))
        absent = rows[~attends]
        m.recorder.add("mpp_in_absentia_orders", len(absent))
        crosses = draw(Decision.MPP_ABSENTIA_CROSSES, pop, absent, day) < s.absentia_cross_prob
        crossing = absent[crosses]
        mig.pop.move(crossing, Status.AT_BORDER, day,
                 1 + m.streams.poisson(Decision.MPP_ABSENTIA_DAYS, pop, crossing, day, 6.0))
        mig.give_up(absent[~crosses], day)
        present = rows[attends]
        granted = draw(Decision.MPP_GRANTED, pop, present, day) < s.mpp_grant_prob
        m.recorder.add("mpp_relief_granted", int(granted.sum()))
        mig.record_outcome(present[granted], entered=True)
        mig.pop.move(present[granted], Status.RELEASED_IN_US, day)  # relief: no further hearing
        denied = present[~granted]
        m.ice.intake(denied, REMOVAL[pop.nationality[denied]], day)

    # -- regular docket ------------------------------------------------------------
    def hearing_inputs(self, day: int) -> tuple:
        """What `hearing_days` draws today's hearing dates from: the days until a released
        person's final hearing are the backlog ahead of them (today's cases opened) at
        today's completion rate (so years, mostly past the run), spread around that."""
        m = self.model
        mean = min(max(self.backlog / max(self._completions(day), 1.0), 30.0), 3650.0)
        return (m.migrants.pop.uid, m.migrants.pop.family, day + m.streams.day_offset,
                m.streams.keys[Decision.REGULAR_HEARING_DAYS], mean)

    def hear_regular(self, rows: np.ndarray, day: int) -> None:
        """Final hearings due today for people living in the US while their case runs."""
        if len(rows) == 0:
            return
        m, s, mig = self.model, self.model.scenario, self.model.migrants
        pop, draw = mig.pop, m.streams.uniform
        share = m.timeline.court_completion_share[day]
        if share < 1.0:  # closed courtrooms: most hearings move months ahead
            later = draw(Decision.REGULAR_POSTPONED, pop, rows, day) >= share
            moved = rows[later]
            m.recorder.add("hearings_postponed", len(moved))
            delay = 30 + np.floor(120 * draw(Decision.REGULAR_POSTPONED_DAYS, pop, moved, day))
            mig.pop.move(moved, Status.RELEASED_IN_US, day, delay.astype(np.int64))
            rows = rows[~later]
        keys = m.streams.keys
        granted, absent, ordered = _regular_hearings(
            rows, pop.uid, pop.family, day + m.streams.day_offset, keys[Decision.REGULAR_ATTENDS],
            keys[Decision.REGULAR_GRANTED], s.regular_attend_prob, s.regular_grant_prob)
        m.recorder.add("regular_hearings", len(rows))
        m.recorder.add("regular_in_absentia_orders", absent)
        m.recorder.add("regular_relief_granted", len(rows) - absent - ordered)
        m.recorder.add("regular_removal_orders", ordered)
        mig.pop.move(rows[granted], Status.RELEASED_IN_US, day)  # relief: no further hearing
        m.ice.interior.final_orders(rows[~granted], day)  # ordered removed: until ICE arrests them

    def mpp_daily(self, day: int) -> None:
        """A day in a Mexican border city for everyone waiting under MPP."""
        m, s, mig = self.model, self.model.scenario, self.model.migrants
        pop = mig.pop
        # (MPP_WAITING, an int: numpy compares an array with an IntEnum twice as slowly)
        roster = self.mpp_roster[pop.status[self.mpp_roster] == MPP_WAITING]
        self.mpp_roster = roster
        if len(roster) == 0:
            return
        admissions = m.timeline.wind_down_admissions[day]
        if admissions > 0:
            self.wind_down_room.grant(admissions)
            admitted = self.wind_down_room.take(pop, roster, 0)
            self.wind_down_room.settle(0)
            mig.release(roster[admitted], day, has_case=True)  # their MPP case goes on
            roster = roster[~admitted]
        keys = m.streams.keys
        victims, leaves, crosses = _a_day_waiting(
            roster, pop.uid, pop.family, pop.n_violence, day + m.streams.day_offset,
            keys[Decision.MPP_VIOLENCE], keys[Decision.MPP_GIVES_UP],
            keys[Decision.MPP_CROSSES_ANYWAY], s.mpp_daily_violence, s.violence_give_up_prob,
            s.mpp_daily_give_up, s.mpp_daily_cross_anyway)
        m.recorder.add("violence_incidents", victims)
        mig.give_up(roster[leaves], day)
        mig.pop.move(roster[crosses], Status.AT_BORDER, day, 1)  # (off the roster the next day)

    # -- backlog -----------------------------------------------------------------
    def end_day(self, day: int) -> None:
        m, s = self.model, self.model.scenario
        self.backlog = max(self.backlog + self.unfiled[day] + s.court_other_cases_per_day
                           - self._completions(day), 0.0)
        m.recorder.set("court_backlog", self.backlog)

    def _completions(self, day: int) -> float:
        """Cases the courts complete nationwide today."""
        return self._completed[day]


def _filing_kernel(mean_days: float) -> np.ndarray:
    """Share of notices filed k days after issue (exponential, mean `mean_days`)."""
    if mean_days <= 0:
        return np.ones(1)
    k = np.arange(int(np.ceil(8 * mean_days)) + 1)
    pmf = np.exp(-k / mean_days) - np.exp(-(k + 1) / mean_days)
    return pmf / pmf.sum()


def _survival(pmf: np.ndarray) -> np.ndarray:
    """Steady state: of notices issued before day 0, the share filed on day k."""
    tail = pmf[::-1].cumsum()[::-1]
    return tail / tail.sum()


@numba.njit(cache=True)
def _a_day_waiting(roster, uid, family, n_violence, day, violence_key, leave_key, cross_key,
                   p_violence, p_leave_if_hurt, p_leave, p_cross):
    """`ImmigrationCourts.mpp_daily` for everyone on the roster (families together):
    each person may suffer violence (counted on them); a family gives up (likelier
    if its first member was just hurt) or crosses anyway. Returns (victims,
    leaves, crosses)."""
    n = roster.size
    leaves = np.zeros(n, dtype=np.bool_)
    crosses = np.zeros(n, dtype=np.bool_)
    victims = 0
    i = 0
    while i < n:
        head = family[roster[i]]
        j = i
        head_hurt = False
        while j < n and family[roster[j]] == head:
            r = roster[j]
            if draw_unit(violence_key, uid[r], day) < p_violence:
                n_violence[r] += 1
                victims += 1
                if j == i:
                    head_hurt = True
            j += 1
        person = uid[head]
        p = p_leave_if_hurt if head_hurt else p_leave
        if draw_unit(leave_key, person, day) < p:
            leaves[i:j] = True
        elif draw_unit(cross_key, person, day) < p_cross:
            crosses[i:j] = True
        i = j
    return victims, leaves, crosses


@numba.njit(cache=True)
def _regular_hearings(rows, uid, family, day, attend_key, grant_key, attend_prob, grant_prob):
    """`ImmigrationCourts.hear_regular`'s hearings in one pass (families together): who
    is granted relief (present, and granted), how many were ordered removed in
    absentia and how many after a hearing."""
    granted = np.zeros(rows.size, dtype=np.bool_)
    absent = ordered = 0
    for i in range(rows.size):
        person = uid[family[rows[i]]]
        if draw_unit(attend_key, person, day) >= attend_prob:
            absent += 1
        elif draw_unit(grant_key, person, day) < grant_prob:
            granted[i] = True
        else:
            ordered += 1
    return granted, absent, ordered


@numba.njit(cache=True)
def hearing_days(rows, inputs):
    """Whole days (at least 1) to each row's regular-docket hearing: Gamma(2) around the
    mean (`ImmigrationCourts.hearing_inputs`). Also called by the compiled
    `Migrants.release`."""
    uid, family, day, key, mean = inputs
    days = np.empty(rows.size, dtype=np.int64)
    for i in range(rows.size):
        days[i] = max(1, round(erlang_draw(key, uid[family[rows[i]]], day, 2, mean)))
    return days
