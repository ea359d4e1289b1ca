"""Conservation of people, capacities, and a person in one place only."""

import numpy as np
import pandas as pd
import pytest

from model import BorderModel, load_scenario, simulate
from model.state.people import Status
from model.state.recorder import COLUMNS

REQUIRED_MONTHLY = [
    "month", "encounters", "unique_encountered", "repeat_encounter_rate", "encounters_mexico",
    "encounters_northern_triangle", "encounters_other", "encounters_single_adults",
    "encounters_family_units", "encounters_unaccompanied_children", "title42_expulsions",
    "port_returns", "interior_repatriations", "mpp_enrollments", "releases",
    "detention_population", "removals", "flights", "flight_passengers", "mpp_waiting",
    "violence_incidents", "court_backlog"]


def coarse_run(*overrides, scale=10, seed=3):
    """The whole historical window with a few changes, every invariant checked daily."""
    model = BorderModel(load_scenario("historical", list(overrides)),
                        seed=seed, scale=scale, check_invariants=True)
    model.run()
    return model


def test_people_are_conserved_every_day(historical_run):
    # The fixture ran with check_invariants=True, i.e. every day; here, the final state.
    pop = historical_run.migrants.pop
    counts = np.bincount(pop.status[: pop.n], minlength=len(Status))
    assert counts.sum() == pop.n
    assert np.array_equal(counts, pop.status_counts)


def test_invariant_check_catches_a_lost_person(historical_run):
    pop = historical_run.migrants.pop
    pop.status_counts[Status.GAVE_UP] -= 1
    try:
        with pytest.raises(AssertionError):
            historical_run.check_invariants()
    finally:
        pop.status_counts[Status.GAVE_UP] += 1


def test_monthly_columns_are_the_contract(historical_monthly):
    assert list(historical_monthly.columns[: len(REQUIRED_MONTHLY)]) == REQUIRED_MONTHLY
    assert historical_monthly["month"].iloc[0] == "2018-10"
    assert historical_monthly["month"].iloc[-1] == "2021-12"
    assert len(historical_monthly) == 39


def test_encounters_add_up_by_nationality_and_demographic(historical_monthly):
    m = historical_monthly
    by_nat = m.encounters_mexico + m.encounters_northern_triangle + m.encounters_other
    by_demo = m.encounters_single_adults + m.encounters_family_units + m.encounters_unaccompanied_children
    by_sector = m[[c.name for c in COLUMNS if c.name.startswith("encounters_")
                   and c.name.removeprefix("encounters_") in
                   {"san_diego", "el_centro", "yuma", "tucson", "el_paso", "big_bend", "del_rio",
                    "laredo", "rio_grande_valley"}]].sum(axis=1)
    assert (by_nat == m.encounters).all()
    # the Northern Triangle's countries apart: they sum to its column, and every country
    # has encounters in the historical run
    countries = m.encounters_guatemala + m.encounters_honduras + m.encounters_el_salvador
    assert (countries == m.encounters_northern_triangle).all()
    assert (m.encounters_mexico + countries + m.encounters_other == m.encounters).all()
    assert min(m[f"encounters_{c}"].sum() for c in ("guatemala", "honduras", "el_salvador")) > 0
    assert (by_demo == m.encounters).all()
    assert (by_sector == m.encounters).all()
    assert (m.unique_encountered <= m.encounters).all()
    assert m.repeat_encounter_rate.between(0, 1).all()


def test_no_flight_ever_exceeds_its_seats_at_full_scale():
    flights = simulate("historical", scale=1, start="2019-11-15", end="2020-02-15").flights
    flown = flights[flights.status == "flown"]
    assert {"guadalajara", "guatemala_aca", "honduras"} <= set(flown.destination)
    assert (flown.passengers > 0).all() and (flown.passengers <= flown.seats).all()


def test_no_route_exceeds_its_seats_at_a_coarse_scale(historical_result):
    """At scale 10 a seat is a tenth of an agent: a flight may carry a fraction a
    family could not use on the route's last flight, but never the route."""
    flights = historical_result.flights
    offered = flights[flights.status.isin(["flown", "cancelled: nobody waiting"])]
    assert (offered.passengers[offered.status == "flown"] > 0).all()
    by_route = offered.groupby("route")[["passengers", "seats"]].sum()
    assert (by_route.passengers <= by_route.seats).all()


def test_flight_seats_bind_when_demand_exceeds_them():
    flights = simulate("historical", scale=1, start="2019-03-01", end="2019-06-30",
                       policies={"removal_flights_honduras": {"seats": 60}}).flights
    flown = flights[(flights.destination == "honduras") & (flights.status == "flown")]
    assert len(flown) > 10 and flown.passengers.max() == 60
    assert (flown.passengers <= 60).all()


def test_detention_never_exceeds_a_small_cap():
    model = coarse_run("detention_beds=3000", "end=2019-09-30")  # FY2019: the cap binds
    daily = model.recorder.daily_frame(model.calendar.dates)
    adults = daily.detention_population - daily.family_detention_population  # families: own beds
    assert adults.max() <= 3000
    assert adults.max() >= 2900  # the cap binds
    assert daily.capacity_releases.sum() > 0


def test_covid_cap_holds_detention_at_75_percent(historical_daily, historical_run):
    beds = historical_run.scenario.detention_beds
    after = historical_daily[historical_daily["date"] >= "2020-04-10"]
    adults = after.detention_population - after.family_detention_population  # families: own beds
    assert adults.max() <= 0.75 * beds


def test_border_patrol_holding_capacity_is_never_exceeded():
    model = coarse_run("holding_capacity.rio_grande_valley=500", "holding_capacity.el_paso=500",
                       "end=2019-09-30")
    rgv = next(s for s in model.sectors if s.key == "rio_grande_valley")
    assert rgv.holding_capacity == 50  # agents: 500 people at scale 10
    daily = model.recorder.daily_frame(model.calendar.dates)
    assert daily.capacity_releases.sum() > 0


def test_everyone_waiting_for_a_flight_is_detained(historical_run):
    pop = historical_run.migrants.pop
    for dest, queue in historical_run.ice.waiting.items():
        if queue:
            rows = np.concatenate(queue)
            live = rows[(pop.status[rows] == Status.IN_ICE_DETENTION) & (pop.pending[rows] == dest)]
            assert len(np.unique(live)) == len(live)  # nobody waits twice for one flight


def test_counts_are_in_people_at_any_scale():
    coarse = coarse_run(scale=40)
    daily = coarse.recorder.daily_frame(coarse.calendar.dates)
    assert (daily.encounters % 40 == 0).all()
    fine = simulate("historical", seed=3, scale=4, end="2019-09-30").daily  # FY2019
    a = daily.encounters[daily.date <= "2019-09-30"].sum()
    b = fine.encounters.sum()
    assert abs(a - b) / b < 0.05


def test_flights_column_counts_flights_not_people(historical_run, historical_monthly):
    flown = [f for f in historical_run.flight_log if f.status == "flown"]
    assert historical_monthly.flights.sum() == len(flown)
    assert historical_monthly.flight_passengers.sum() == sum(f.passengers for f in flown)



def test_flights_are_counted_on_their_day_by_kind(historical_run):
    """Each day's flights and passengers (counted once a day for each kind of flight)
    land on that day, under the kind their destination makes them."""
    log = pd.DataFrame(historical_run.flight_log)
    flown = log[log.status == "flown"]
    daily = historical_run.recorder.daily_frame(historical_run.calendar.dates)
    daily.index = daily.date.dt.strftime("%Y-%m-%d")
    kinds = {"flight_passengers": flown.destination.notna(),
             "interior_repatriations": flown.destination == "guadalajara",
             "third_country_transfers": flown.destination == "guatemala_aca",
             "title42_flight_expulsions": flown.destination.str.startswith("title42_")}
    for column, kind in kinds.items():
        assert kind.any(), column
        passengers = flown[kind].groupby("date").passengers.sum()
        assert (daily[column] == passengers.reindex(daily.index, fill_value=0)).all(), column
    flights = flown.groupby("date").size().reindex(daily.index, fill_value=0)
    assert (daily.flights == flights).all()
