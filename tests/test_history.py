"""The historical scenario shows the seeds' events, at their dates, in its output."""

from datetime import date

import pandas as pd


def first_day(daily: pd.DataFrame, column: str) -> date:
    return daily.loc[daily[column] > 0, "date"].min().date()


def test_first_interior_flight_on_2019_12_19(historical_daily, historical_run):
    assert first_day(historical_daily, "interior_repatriations") == date(2019, 12, 19)
    flown = [f for f in historical_run.flight_log
             if f.destination == "guadalajara" and f.status == "flown"]
    assert flown[0].date == "2019-12-19" and flown[0].origin == "Tucson"


def test_interior_flights_twice_a_week_from_late_january_2020(historical_run):
    scheduled = [f for f in historical_run.flight_log
                 if f.destination == "guadalajara" and "2020-02-01" <= f.date <= "2020-02-29"]
    assert 8 <= len(scheduled) <= 9  # two a week in February 2020
    assert {f.origin for f in scheduled} == {"Phoenix-Mesa Gateway", "Tucson"}


def test_mpp_enrolments_start_in_2019_and_not_before_the_program(historical_daily):
    start = first_day(historical_daily, "mpp_enrollments")
    assert date(2019, 1, 28) < start < date(2019, 12, 31)


def test_title42_expulsions_from_march_2020(historical_daily, historical_monthly):
    assert first_day(historical_daily, "title42_expulsions") >= date(2020, 3, 21)
    monthly = historical_monthly.set_index("month")["title42_expulsions"]
    assert monthly["2020-03"] > 0
    assert (monthly.loc["2020-04":"2021-12"] > 0).all()
    assert (monthly.loc[:"2020-02"] == 0).all()


def test_mpp_ends_in_january_2021_and_restarts_in_december_2021(historical_daily):
    enrol = historical_daily.set_index("date")["mpp_enrollments"]
    # processing into MPP ends on 2021-01-20; those processed by then are handed to Mexico
    # when their custody ends (1 + Poisson(2) days): none two weeks on
    assert enrol.loc["2021-01-21":"2021-02-03"].sum() < enrol.loc["2021-01-07":"2021-01-20"].sum()
    assert enrol.loc["2021-02-04":"2021-12-07"].sum() == 0
    assert enrol.loc["2021-12-08":"2021-12-31"].sum() > 0


def test_china_flight_on_2021_07_02_carries_at_most_116(historical_run):
    china = [f for f in historical_run.flight_log if f.destination == "china"]
    assert [f.date for f in china] == ["2021-07-02"]
    assert china[0].status == "flown"
    assert 0 < china[0].passengers <= 116


def test_mpp_waiting_empties_during_the_2021_wind_down(historical_monthly):
    waiting = historical_monthly.set_index("month")["mpp_waiting"]
    assert waiting["2020-01"] > 5 * max(waiting["2021-09"], 1)


def test_violence_only_while_people_wait_under_mpp(historical_daily):
    before = historical_daily[historical_daily["date"] < "2019-01-28"]
    assert before["violence_incidents"].sum() == 0
    assert historical_daily["violence_incidents"].sum() > 0


def test_court_backlog_grows_towards_the_2021_level(historical_monthly):
    backlog = historical_monthly.set_index("month")["court_backlog"]
    assert backlog["2018-10"] < 900_000
    assert backlog["2021-12"] > 1_200_000  # "backlogged with 1.5 million cases" (seed)


def test_regular_docket_hearings_are_rare_and_postponed_under_covid(historical_monthly):
    m = historical_monthly.set_index("month")
    assert m.regular_hearings.sum() > 0
    # with a backlog of years, few released people (at the border or after an interior
    # arrest) see their final hearing in the run: 0.28 in this run (0.21 before the courts'
    # pace followed TRAC's counts by phase: faster from February 2021, full from October)
    assert m.regular_hearings.sum() < 0.33 * (m.releases.sum() + m.interior_releases.sum())
    assert m.loc["2020-04":"2021-12"].hearings_postponed.sum() > 0
    assert m.loc[:"2020-02"].hearings_postponed.sum() == 0


def test_violence_makes_people_miss_mpp_hearings():
    from model import simulate

    def absentia_share(**params):
        d = simulate("historical", seed=4, scale=25,
                     params={"mpp_daily_violence": 0.01, **params},
                     policies={"mpp_hearings_postponed": {"enabled": False}}).daily
        return d.mpp_in_absentia_orders.sum() / d.mpp_hearings.sum(), d
    with_effect, d = absentia_share()
    without, _ = absentia_share(violence_attend_factor=1.0)
    assert d.mpp_in_absentia_orders.sum() > 100
    assert without < 0.5 < with_effect  # 40 % miss without the effect (mpp_attend_prob 0.6)
