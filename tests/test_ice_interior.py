"""ICE's interior side and the starting state: detention on day one, interior arrests,
removal of people with final orders, the moratorium, and the two counterfactuals."""

import numpy as np
import pytest

from model import BorderModel, load_scenario, simulate
from model.config.policies import FamilyDetention
from model.state.vocabulary import Arrest, Status

SCALE = 25
_cache: dict = {}


def run(name: str, seed: int = 2):
    if (name, seed) not in _cache:
        _cache[name, seed] = simulate(name, seed=seed, scale=SCALE)
    return _cache[name, seed]


def test_detention_starts_full_split_as_the_scenario_says(historical_daily, historical_run):
    s = historical_run.scenario
    first = historical_daily.iloc[0]
    # the first day's stock, after that day's departures: within a few percent of the record
    assert first.detention_population_border == pytest.approx(s.initial_detained_border, rel=0.05)
    assert first.detention_population_interior == pytest.approx(s.initial_detained_interior,
                                                                 rel=0.05)
    assert (historical_daily.detention_population
            == historical_daily.detention_population_border
            + historical_daily.detention_population_interior).all()


def test_fewer_beds_than_the_starting_population_shrinks_it_to_fit():
    model = BorderModel(load_scenario("historical", ["detention_beds=20000"]), scale=SCALE,
                        end="2018-10-05", check_invariants=True)
    assert model.ice.detained <= model.ice.capacity(0)
    assert model.ice.detained >= 0.95 * model.ice.capacity(0)
    model.run()


def test_everyone_who_entered_through_ice_is_counted(historical_run):
    """The run's people are those who set out and those ICE brought in (detained on day
    one, arrested in the interior); the daily check also keeps counts per arrest exact."""
    pop = historical_run.migrants.pop
    assert pop.n == historical_run.migrants.people_set_out + historical_run.ice.interior.people_added
    residents = np.count_nonzero(pop.arrest[: pop.n] == Arrest.RESIDENT)
    assert residents > 0
    pop.arrest_counts[Arrest.RESIDENT, Status.GAVE_UP] += 1
    try:
        with pytest.raises(AssertionError):
            historical_run.check_invariants()
    finally:
        pop.arrest_counts[Arrest.RESIDENT, Status.GAVE_UP] -= 1


def test_interior_arrests_by_fiscal_year_are_near_ices(historical_result):
    fy = historical_result.fiscal_years()
    # ICE ERO administrative arrests (DHS yearbook 2021, Table 35): 143,099 / 103,603 / 74,082;
    # the model adds the arrests of its own people under final orders
    for year, record in ((2019, 143_099), (2020, 103_603), (2021, 74_082)):
        assert fy.loc[year, "interior_arrests"] == pytest.approx(record, rel=0.12), year


def test_detention_falls_in_2020_and_removals_fall_each_year(historical_result):
    fy = historical_result.fiscal_years()
    assert fy.loc[2020, "detention_population"] < 0.8 * fy.loc[2019, "detention_population"]
    assert fy.loc[2019, "removals"] > fy.loc[2020, "removals"] > fy.loc[2021, "removals"]
    by_nationality = fy[[c for c in fy.columns if c.startswith("removals_")]].sum(axis=1)
    assert (by_nationality == fy.removals).all()


def test_people_ordered_removed_are_arrested_and_removed(historical_run):
    pop = historical_run.migrants.pop
    arrested = pop.arrest[: pop.n] == Arrest.INTERIOR  # this run's people, arrested inside
    assert arrested.sum() > 0
    # without interior enforcement of final orders they would all still be in the US
    statuses = set(np.unique(pop.status[: pop.n][arrested]).tolist())
    assert statuses & {Status.IN_ICE_DETENTION, Status.AT_HOME, Status.AT_BORDER,
                       Status.GAVE_UP, Status.EN_ROUTE}


def test_no_interior_enforcement_arrests_nobody_and_removes_fewer():
    hist, off = run("historical"), run("no_interior_enforcement")
    assert off.monthly.interior_arrests.sum() == 0
    late = off.monthly.set_index("month").loc["2019-09":]
    assert late.detention_population_interior.max() == 0  # day one's detainees are gone by then
    assert off.monthly.removals.sum() < 0.7 * hist.monthly.removals.sum()
    # the border's first days are the same (later, beds and seats shared with interior
    # arrestees, and removed residents trying again, make the two runs differ)
    assert (off.daily.encounters.iloc[:7] == hist.daily.encounters.iloc[:7]).all()


def test_the_moratorium_stops_every_removal_while_it_stands():
    hist, off = run("historical"), run("no_removal_moratorium")
    during = slice("2021-01-22", "2021-01-26")
    assert hist.daily.set_index("date").loc[during].removals.sum() == 0
    assert off.daily.set_index("date").loc[during].removals.sum() > 0
    before = slice(None, "2021-01-21")
    assert (hist.daily.set_index("date").loc[before].removals
            == off.daily.set_index("date").loc[before].removals).all()


def test_notices_to_report_file_fewer_court_cases():
    hist = run("historical")
    every_nta = simulate("historical", seed=2, scale=SCALE,
                         policies={"notice_to_report": {"enabled": False}})
    end = slice("2021-12", "2021-12")
    before = slice(None, "2021-02")
    h, e = hist.monthly.set_index("month"), every_nta.monthly.set_index("month")
    assert (h.loc[before].court_backlog == e.loc[before].court_backlog).all()
    assert (e.loc[end].court_backlog - h.loc[end].court_backlog).iloc[0] > 50_000
    # the releases themselves are the same people either way
    assert abs(h.loc["2021-01":"2021-12"].releases.sum() / e.loc["2021-01":"2021-12"].releases.sum() - 1) < 0.05


def test_formal_removals_of_mexicans_replace_port_returns():
    hist = run("historical")
    returns_only = simulate("historical", seed=2, scale=SCALE,
                            policies={"port_return": {"formal_removal_share": 0.0}})
    fy19 = slice("2018-10", "2019-09")
    h, r = hist.monthly.set_index("month").loc[fy19], returns_only.monthly.set_index("month").loc[fy19]
    assert h.removals_mexico.sum() > r.removals_mexico.sum() + 10_000
    assert h.port_returns.sum() < r.port_returns.sum()


def test_removal_flights_wait_for_travel_documents():
    quick = simulate("historical", seed=2, scale=SCALE, params={"removal_processing_days": 0.0})
    fy19 = slice("2018-10", "2019-09")
    h = run("historical").monthly.set_index("month").loc[fy19]
    q = quick.monthly.set_index("month").loc[fy19]
    assert h.detention_population_border.mean() > 1.3 * q.detention_population_border.mean()


def test_family_beds_fill_and_nobody_stays_past_the_limit(historical_daily, historical_run):
    """The daily invariant checks beds and the 20-day limit; here, that the beds are used."""
    fy19 = historical_daily[(historical_daily.date >= "2018-10-01")
                            & (historical_daily.date <= "2019-09-30")]
    beds = historical_run.policies.of_kind(FamilyDetention)[0].beds
    assert fy19.family_detention_population.max() <= beds
    assert fy19.family_detention_population.mean() > 0.5 * beds
    after = historical_daily[historical_daily.date > "2021-12-10"]
    assert (after.family_detention_population == 0).all()


def test_without_family_beds_families_are_released_as_before():
    hist = run("historical")
    none = simulate("historical", seed=2, scale=SCALE,
                    policies={"family_detention": {"enabled": False},
                              "family_processing_2021": {"enabled": False}})
    assert none.monthly.family_detention_population.sum() == 0
    fy19 = slice("2018-10", "2019-09")
    h, n = hist.monthly.set_index("month").loc[fy19], none.monthly.set_index("month").loc[fy19]
    assert n.releases.sum() > h.releases.sum()  # held families are released later, or removed


def test_title42_expulsion_flights_fly_from_march_2020_and_to_haiti_in_september_2021(
        historical_run, historical_monthly):
    flown = [f for f in historical_run.flight_log
             if f.destination.startswith("title42_") and f.status == "flown"]
    assert flown and min(f.date for f in flown) >= "2020-03-21"
    haiti = [f for f in flown if f.route == "title42_flights_haiti"]
    # few are held for them: Title 42's share by air for other nationalities is small
    assert haiti and all("2021-09-19" <= f.date <= "2021-09-24" for f in haiti)
    m = historical_monthly.set_index("month")
    assert m.loc[:"2020-02"].title42_flight_expulsions.sum() == 0
    assert m.loc["2021-09"].title42_flight_expulsions > 0
    # flown expulsions are part of the expulsions counted when decided
    assert m.title42_flight_expulsions.sum() < m.title42_expulsions.sum()


def test_without_expulsion_routes_by_air_expulsions_are_immediate():
    routes = ["title42_flights", "title42_flights_haiti", "title42_flights_guatemala",
              "title42_flights_honduras", "title42_flights_el_salvador"]
    none = simulate("historical", seed=2, scale=SCALE,
                    policies={r: {"enabled": False} for r in routes})
    assert none.monthly.title42_flight_expulsions.sum() == 0
    assert not none.flights.destination.str.startswith("title42_").any()
    hist = run("historical")
    # the refused families that would have been flown home stay under Title 8
    fy21 = slice("2020-10", "2021-09")
    h, n = hist.monthly.set_index("month").loc[fy21], none.monthly.set_index("month").loc[fy21]
    assert n.family_expulsions_refused.sum() > h.family_expulsions_refused.sum()
