"""Immigration courts: the MPP and regular dockets, life while waiting in Mexico, the backlog.

MPP cases are individual: a hearing date at enrolment (capped by a pledge such
as MPP-2021's six months), postponed while hearings are suspended; at the
hearing a person who does not appear is ordered removed in absentia. While
waiting in a border city people suffer violence, give up, or cross anyway.
People released into the US get a regular-docket hearing date set by the
backlog ahead of them (years, in 2019-2021, so most fall after the run).
The nationwide backlog is a running total: it starts at the scenario's level,
grows with every notice to appear this model issues plus the rest of the
country's new cases, and shrinks by the courts' completions.
"""

import mesa
import numpy as np

from model.people import REMOVAL_BY_NATIONALITY, Status


class ImmigrationCourts(mesa.Agent):
    def __init__(self, model):
        super().__init__(model)
        self.backlog = float(model.scenario.court_initial_backlog)
        self.mpp_roster = np.empty(0, dtype=np.int64)  # everyone enrolled, in enrolment order

    def open_cases(self, agents: int) -> None:
        self.backlog += agents * self.model.scale

    # -- MPP -------------------------------------------------------------------
    def enroll_mpp(self, rows: np.ndarray, day: int) -> None:
        if len(rows) == 0:
            return
        m = self.model
        mpp = m.policies.first_in_force("mpp", day) or m.policies.of_kind("mpp")[0]
        wait = m.rng.gamma(4.0, mpp.case_days / 4.0, len(rows))
        wait = np.clip(np.ceil(np.minimum(wait, mpp.case_days_max)), 1, None).astype(np.int64)
        wait = m.migrants.pop.shared(wait, rows)
        m.recorder.add("mpp_enrollments", len(rows))
        self.open_cases(len(rows))
        m.migrants.record_outcome(rows, entered=False)
        m.migrants.move(rows, Status.MPP_WAITING, day, wait)
        self.mpp_roster = np.concatenate([self.mpp_roster, rows])

    def hear(self, rows: np.ndarray, day: int) -> None:
        """MPP hearings due today."""
        if len(rows) == 0:
            return
        m, s, mig = self.model, self.model.scenario, self.model.migrants
        postponed = m.policies.first_in_force("mpp_hearings_postponed", day)
        if postponed is not None:
            new_day = postponed.end_day + 1 + mig.pop.shared(m.rng.integers(0, 60, len(rows)), rows)
            m.recorder.add("hearings_postponed", len(rows))
            mig.move(rows, Status.MPP_WAITING, day, new_day - day)
            return
        p_attend = s.mpp_attend_prob * s.violence_attend_factor ** mig.pop.n_violence[rows]
        attends = mig.pop.shared(m.rng.random(len(rows)) < p_attend, rows)
        m.recorder.add("mpp_hearings", len(rows))
        absent = rows[~attends]
        m.recorder.add("mpp_in_absentia_orders", len(absent))
        crosses = mig.behaviour.uniform(mig.pop, absent) < s.absentia_cross_prob
        crossing = absent[crosses]
        mig.move(crossing, Status.AT_BORDER, day,
                 mig.pop.shared(1 + m.rng.poisson(6, len(crossing)), crossing))
        mig.give_up(absent[~crosses], day)
        present = rows[attends]
        granted = mig.behaviour.uniform(mig.pop, present) < s.mpp_grant_prob
        m.recorder.add("mpp_relief_granted", int(granted.sum()))
        mig.record_outcome(present[granted], entered=True)
        mig.move(present[granted], Status.RELEASED_IN_US, day)  # relief: no further hearing
        denied = present[~granted]
        m.ice.intake(denied, REMOVAL_BY_NATIONALITY[mig.pop.nationality[denied]], day)

    # -- regular docket ------------------------------------------------------------
    def regular_hearing_delay(self, n: int, day: int) -> np.ndarray:
        """Days until a released person's final hearing: the backlog ahead of them at
        today's completion rate (so years, mostly past the run), spread around that."""
        mean = self.backlog / max(self._completions(day), 1.0)
        mean = float(np.clip(mean, 30.0, 3650.0))
        return np.maximum(1, np.round(self.model.rng.gamma(2.0, mean / 2.0, n))).astype(np.int64)

    def hear_regular(self, rows: np.ndarray, day: int) -> None:
        """Final hearings due today for people living in the US while their case runs."""
        if len(rows) == 0:
            return
        m, s, mig = self.model, self.model.scenario, self.model.migrants
        slowdown = m.policies.first_in_force("court_slowdown", day)
        if slowdown is not None:  # closed courtrooms: most hearings move months ahead
            later = mig.behaviour.uniform(mig.pop, rows) >= slowdown.completion_share
            moved = rows[later]
            m.recorder.add("hearings_postponed", len(moved))
            mig.move(moved, Status.RELEASED_IN_US, day,
                     mig.pop.shared(30 + m.rng.integers(0, 120, len(moved)), moved))
            rows = rows[~later]
        attends = mig.behaviour.uniform(mig.pop, rows) < s.regular_attend_prob
        granted = attends & (mig.behaviour.uniform(mig.pop, rows) < s.regular_grant_prob)
        m.recorder.add("regular_hearings", len(rows))
        m.recorder.add("regular_in_absentia_orders", int((~attends).sum()))
        m.recorder.add("regular_relief_granted", int(granted.sum()))
        m.recorder.add("regular_removal_orders", int((attends & ~granted).sum()))
        mig.move(rows, Status.RELEASED_IN_US, day)  # case decided; no further hearing

    def mpp_daily(self, day: int) -> None:
        """A day in a Mexican border city for everyone waiting under MPP."""
        m, s, mig = self.model, self.model.scenario, self.model.migrants
        pop = mig.pop
        roster = self.mpp_roster[pop.status[self.mpp_roster] == Status.MPP_WAITING]
        self.mpp_roster = roster
        if len(roster) == 0:
            return
        wind_down = m.policies.first_in_force("mpp_wind_down", day)
        if wind_down is not None:
            quota = int(np.floor(wind_down.daily_admissions / m.scale + m.rng.random()))
            admitted = pop.whole_families(roster, quota)
            mig.release(roster[admitted], day)
            roster = roster[~admitted]
        hurt = m.rng.random(len(roster)) < s.mpp_daily_violence
        victims = roster[hurt]
        m.recorder.add("violence_incidents", len(victims))
        pop.n_violence[victims] += 1
        leaves = pop.shared(m.rng.random(len(roster)) < np.where(hurt, s.violence_give_up_prob,
                                                                 s.mpp_daily_give_up), roster)
        crosses = ~leaves & (mig.behaviour.uniform(pop, roster) < s.mpp_daily_cross_anyway)
        mig.give_up(roster[leaves], day)
        mig.move(roster[crosses], Status.AT_BORDER, day, 1)
        self.mpp_roster = self.mpp_roster[pop.status[self.mpp_roster] == Status.MPP_WAITING]

    # -- backlog -----------------------------------------------------------------
    def end_day(self, day: int) -> None:
        m, s = self.model, self.model.scenario
        self.backlog = max(self.backlog + s.court_other_cases_per_day - self._completions(day), 0.0)
        m.recorder.set("court_backlog", self.backlog)

    def _completions(self, day: int) -> float:
        """Cases the courts complete nationwide today."""
        completions = self.model.scenario.court_completions_per_day
        slowdown = self.model.policies.first_in_force("court_slowdown", day)
        return completions * (slowdown.completion_share if slowdown is not None else 1.0)
