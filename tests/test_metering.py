"""Metering at the ports: asylum seekers wait on lists in Mexico, CBP takes a daily quota.

Short windows and coarse scales keep these fast; the whole historical run with
every invariant checked daily (lists included: `PortMetering.check_lists`) is
the session's `historical_run` fixture, and the coarse-scale estimate of the
lists' size is in tests/test_scale.py, next to the other small quotas.
"""

from datetime import date

import numpy as np
import pytest

from model import BorderModel, simulate
from model.actors.behaviour import cross_rows
from model.config.policies import Metering
from model.state.capacity import CarriedRoom
from model.state.geography import N_SECTORS
from model.state.recorder import COLUMN_INDEX
from model.state.vocabulary import Pending, Status

RECORD = {"2018-11-30": 6000, "2019-05-31": 18700, "2019-08-08": 26000, "2020-02-29": 15000}


def metered(model) -> np.ndarray:
    pop = model.migrants.pop
    return pop.status[: pop.n] == Status.METERED


def test_the_lists_start_with_the_scenarios_people():
    for scale in (1, 20):
        model = BorderModel("historical", seed=1, scale=scale, end="2018-10-31")
        wanted = model.scenario.initial_metering_waiting
        assert wanted == 3440
        assert metered(model).sum() == wanted // scale
        assert model.metering.waiting.size == wanted // scale
        pop = model.migrants.pop
        on_list = model.metering.waiting
        assert pop.asylum_intent[on_list].all()
        assert model.metering.days.sector[0, pop.sector[on_list]].all()  # a metered sector
        model.step()
        first = model.recorder.values[0]
        # the first day's stock is the seeded lists give or take that day's moves
        assert abs(first[COLUMN_INDEX["metering_waiting"]] * scale - wanted) < 0.05 * wanted


def test_no_sector_takes_more_than_its_quota_in_a_day():
    """At full scale nothing carries: each day, each sector takes at most its quota."""
    model = BorderModel("historical", seed=2, scale=1, end="2019-01-31")
    pop, quota = model.migrants.pop, model.metering.days.quota
    taken_any = 0
    for day in range(model.calendar.n_days):
        before = np.flatnonzero(metered(model))
        model.step()
        taken = before[pop.last_encounter_day[before] == day]
        per_sector = np.bincount(pop.sector[taken], minlength=N_SECTORS)
        assert (per_sector <= quota[day]).all(), (day, per_sector, quota[day])
        taken_any += taken.size
    # and the quotas are used (about half: some sectors' lists run empty, San Diego's first)
    assert taken_any > 0.3 * quota[0].sum() * model.calendar.n_days


def test_a_coarse_scale_takes_the_quota_on_average():
    """At scale 20 a sector's 5 people a day are a quarter of an agent: the room carries,
    so a sector whose list stands takes its whole quota over the months, never more.
    Counted as the room is used (at a coarse scale the room goes to whoever fits first:
    a single who joined today may be taken before a family of three agents at the head)."""
    model = BorderModel("historical", seed=3, scale=20, end="2019-03-31")
    room = model.metering.room
    granted, taken = np.zeros(N_SECTORS), np.zeros(N_SECTORS)
    grant, settle = room.grant, room.settle
    credit = {}

    def granting(people, key=None):
        grant(people, key)
        granted[:] += np.asarray(people, dtype=float) / 20
        credit["granted"] = room.credit.copy()

    def settling(key=None):
        taken[:] += credit["granted"] - room.credit  # what the day's families used
        settle(key)

    room.grant, room.settle = granting, settling
    standing = np.ones(N_SECTORS, dtype=bool)
    for day in range(model.calendar.n_days):
        model.step()
        waiting = model.metering.waiting
        on_lists = np.bincount(model.migrants.pop.sector[waiting], minlength=N_SECTORS)
        standing &= on_lists >= 3  # agents (60 people, days of a quota) on every day
    assert (taken <= granted + CarriedRoom.LARGE_FAMILY).all(), (taken, granted)
    busy = standing & (granted > 0)
    assert busy.sum() >= 3, granted
    used = taken[busy] / granted[busy]
    assert (used >= 0.97).all(), used


def test_the_lists_stop_with_title42_and_people_leave_them():
    result = simulate("historical", seed=4, scale=50, end="2020-12-31")
    daily = result.daily.set_index("date")["metering_waiting"]
    before, after = daily[:"2020-03-20"], daily["2020-03-21":]
    assert before.iloc[-1] > 5000
    # nobody joins and nobody is taken: the lists only shrink, as people leave them
    assert (np.diff(after.to_numpy()) <= 0).all()
    assert after.iloc[-1] < 0.8 * before.iloc[-1]


def test_without_title42_the_lists_go_on_until_metering_ends():
    """title42_off: the 2019 quotas go on until CBP rescinded metering (2021-10-31); then
    the ports take everyone still waiting."""
    result = simulate("title42_off", seed=5, scale=50, start="2021-06-01", end="2021-12-31")
    daily = result.daily.set_index("date")["metering_waiting"]
    assert daily[:"2021-10-31"].min() > 0
    assert (daily["2021-11-01":] == 0).all()


def test_people_are_conserved_and_on_one_list_each():
    model = BorderModel("historical", seed=6, scale=20, end="2020-06-30", check_invariants=True)
    model.run()  # check_invariants every day: everyone counted by status, lists exact
    assert model.metering.waiting.size > 0


def test_record_figures_are_matched_within_a_factor_of_1_5(historical_daily):
    dates = historical_daily["date"].dt.strftime("%Y-%m-%d")
    for day, record in RECORD.items():
        model = float(historical_daily.loc[dates == day, "metering_waiting"].iloc[0])
        assert record / 1.5 <= model <= record * 1.5, (day, model, record)


def test_without_metering_nobody_waits_and_more_are_encountered_at_ports():
    off = {"metering_2018": {"enabled": False}, "metering_2019": {"enabled": False}}
    window = {"start": "2018-10-01", "end": "2019-06-30"}
    without = simulate("historical", seed=7, scale=50, policies=off, **window).monthly
    with_ = simulate("historical", seed=7, scale=50, **window).monthly
    assert (without["metering_waiting"] == 0).all()
    assert without["encounters_at_ports"].sum() > 1.2 * with_["encounters_at_ports"].sum()


def test_people_leaving_a_list_cross_between_the_ports():
    model = BorderModel("historical", seed=8, scale=100, end="2018-10-31",
                        params={"port_share": {"single_adult": 1.0, "family_unit": 1.0,
                                               "unaccompanied_child": 1.0}})
    pop = model.migrants.pop
    rows = np.arange(200)
    pop.pending[rows[::2]] = Pending.CROSS_BETWEEN_PORTS
    marked = pop.pending[rows] == Pending.CROSS_BETWEEN_PORTS
    _, _, at_port = cross_rows(rows, model.migrants.behaviour.cross_inputs(pop, 0))
    assert not at_port[marked].any() and at_port[~marked].all()
    assert (pop.pending[rows[marked]] == -1).all()  # the mark is used up by that crossing


def test_quota_and_sectors_come_from_the_policy_and_title42_overrides_them():
    model = BorderModel("historical", seed=0, scale=100, end="2020-06-30")
    t, start = model.timeline.resolved[Metering], model.calendar.start

    def day(when: date) -> int:
        return (when - start).days

    may_2019, july_2019 = day(date(2019, 5, 1)), day(date(2019, 7, 1))
    assert t.quota[may_2019].sum() == pytest.approx(40 + 38 + 15 + 15 + 8 + 10 + 15 + 5)
    assert t.quota[july_2019].sum() < t.quota[may_2019].sum()
    assert not t.sector[may_2019, 5]  # big bend: no list
    assert not t.in_force[day(date(2020, 3, 21)):].any()
