"""The targets file: every entry checked, a malformed one refused naming the entry and
field, and each target measured on a run's tables as documented."""

import re

import pandas as pd
import pytest

from calibration.targets import (TARGETS_FILE, TargetsError, load_targets, measurable,
                                 measure)

GOOD = TARGETS_FILE.read_text(encoding="utf-8")
ENTRY = '''
[targets.t1]
label = "Encounters, May 2019"
seed = "001_3c5efb37f70223ed.txt"
quote = "the more than 144,000 encountered in May"
seed_says = "more than 144,000"
value = 144_000
kind = "at_least"
tolerance = 0.05
columns = ["encounters"]
month = "2019-05"
'''


def write(tmp_path, text):
    path = tmp_path / "targets.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_committed_file_loads_with_every_figure_the_issue_names():
    targets = {t.id: t for t in load_targets()}
    assert len(targets) >= 25
    # the twelve figures of the first fit table, and those the issue adds
    for tid in ("encounters_may_2019", "encounters_dec_2019", "encounters_q1_fy2021",
                "encounters_fy2021", "title42_expulsions_mar_sep_2020",
                "mpp_enrollments_to_jan_2020", "mpp_enrollments_2019_2021",
                "mpp_violence_to_feb_2021", "interior_repatriations_to_jan_24_2020",
                "aca_transfers_to_jan_17_2020", "china_flight_jul_2_2021", "court_backlog_dec_2021",
                "declines_jun_dec_2019", "drop_may_dec_2019", "first_interior_flight",
                "phoenix_mesa_flight_jan_24_2020", "interior_flights_per_week_2020",
                "interior_people_per_week_2020", "aca_asylum_claims", "removed_oct_2020_feb_2021",
                "china_flight_first_since_2018", "mpp_restart_first_day", "mpp_restart_sites",
                "detention_at_most_75_percent"):
        assert tid in targets, tid
    assert "Title 42" in targets["removed_oct_2020_feb_2021"].note
    assert "title42_expulsions" in targets["removed_oct_2020_feb_2021"].columns
    for t in targets.values():
        assert t.measurable or t.reason


@pytest.mark.parametrize("change, field, message", [
    ('columns = ["encounters"]', 'columns = ["encuonters"]', r"t1\.columns: unknown column 'encuonters'"),
    ("value = 144_000\n", "", r"t1\.value: missing"),
    ('month = "2019-05"', 'month = "2019-13"', r"t1\.month: expected a month \"YYYY-MM\", got '2019-13'"),
    ('month = "2019-05"', 'days = [2019-05-31, 2019-05-01]', r"t1\.days: 2019-05-01 is before 2019-05-31"),
    ('month = "2019-05"', 'date = "May 2019"', r"t1\.date: expected a date \(YYYY-MM-DD\), got 'May 2019'"),
    ('month = "2019-05"', '', r"t1: period: give exactly one of month, months, days, date \(none given\)"),
    ('month = "2019-05"', 'month = "2019-05"\ndate = 2019-05-01', r"t1: period: .*\(month and date given\)"),
    ('kind = "at_least"', 'kind = "roughly"', r"t1\.kind: unknown kind 'roughly' \(known: about, at_least, at_most, exact\)"),
    ("tolerance = 0.05", "tolerance = 0", r"t1\.tolerance: 0\.0 must be > 0"),
    ("tolerance = 0.05", "tolerance = -0.1", r"t1\.tolerance: -0\.1 must be > 0"),
    ("tolerance = 0.05", "tolerance = 0.05\ntolerence = 0.1", r"t1\.tolerence: unknown key"),
    ('seed = "001_3c5efb37f70223ed.txt"', 'seed = "fox.txt"', r"t1\.seed: 'fox.txt' is not a seed file name"),
    ('columns = ["encounters"]', 'columns = ["repeat_encounter_rate"]', r"t1\.columns: 'repeat_encounter_rate' is a share"),
    ('columns = ["encounters"]', 'columns = ["encounters", "mpp_waiting"]', r"t1\.columns: .* aggregate differently"),
    ('month = "2019-05"', 'month = "2019-05"\nstatistic = "declines"', r"t1\.statistic: declines needs a `months` period"),
    ('month = "2019-05"', 'month = "2019-05"\nstatistic = "median"', r"t1\.statistic: unknown statistic 'median'"),
    ('columns = ["encounters"]', 'columns = ["passengers"]\nflight = { destination = "mars" }', r"t1\.flight\.destination: unknown destination 'mars'"),
])
def test_a_malformed_entry_is_refused_naming_the_entry_and_field(tmp_path, change, field, message):
    assert change in ENTRY
    path = write(tmp_path, ENTRY.replace(change, field))
    with pytest.raises(TargetsError) as refused:
        load_targets(path)
    text = str(refused.value)
    assert text.startswith(f"{path}: targets.t1"), text
    assert re.search(message, text), text
    assert "\n" not in text


def test_unmeasurable_entries_need_a_reason_and_are_left_out_of_measuring(tmp_path):
    entry = ENTRY.replace('columns = ["encounters"]\nmonth = "2019-05"\n', "measurable = false\n")
    with pytest.raises(TargetsError, match=r"t1\.reason: missing"):
        load_targets(write(tmp_path, entry))
    targets = load_targets(write(tmp_path, entry + 'reason = "no output for it"\n'))
    assert not targets[0].measurable and measurable(targets) == ()
    with pytest.raises(TargetsError, match=r"unknown key \(the file holds"):
        load_targets(write(tmp_path, "[other]\n" + ENTRY))


def tables():
    """A tiny run's tables: 3 months of days, one flight table."""
    dates = pd.date_range("2019-11-01", "2020-01-31", freq="D")
    daily = pd.DataFrame({"date": dates.astype("datetime64[ms]"),
                          "encounters": 10, "removals": 1, "court_backlog": range(len(dates)),
                          "detention_population": 5.0})
    daily.loc[daily.date >= "2019-12-01", "encounters"] = 20
    daily.loc[daily.date >= "2020-01-01", "encounters"] = 4
    monthly = (daily.assign(month=daily.date.dt.strftime("%Y-%m")).groupby("month", as_index=False)
               .agg({"encounters": "sum", "removals": "sum", "court_backlog": "last",
                     "detention_population": "mean"}))
    flights = pd.DataFrame({"date": ["2019-12-19", "2019-12-19", "2019-12-26", "2020-01-02"],
                            "route": "r", "origin": ["Tucson", "Mesa", "Tucson", "Tucson"],
                            "destination": ["guadalajara", "guadalajara", "guadalajara", "china"],
                            "seats": 150, "passengers": [140, 60, 0, 100],
                            "status": ["flown", "flown", "cancelled: nobody waiting", "flown"]})
    return monthly, daily, flights


def target(tmp_path, **fields):
    entry = ENTRY.replace('columns = ["encounters"]\nmonth = "2019-05"\n', "")
    for key, value in fields.items():
        entry += f"{key} = {value}\n"
    return load_targets(write(tmp_path, entry))[0]


@pytest.mark.parametrize("fields, expected", [
    ({"columns": '["encounters"]', "month": '"2019-12"'}, 31 * 20),
    ({"columns": '["encounters", "removals"]', "months": '["2019-11", "2019-12"]'}, 30 * 11 + 31 * 21),
    ({"columns": '["encounters"]', "days": "[2019-11-30, 2019-12-01]"}, 30),
    ({"columns": '["court_backlog"]', "month": '"2019-12"'}, 60),  # period end (day 61 is index 60)
    ({"columns": '["detention_population"]', "months": '["2019-11", "2020-01"]'}, 5.0),
    ({"columns": '["encounters"]', "months": '["2019-11", "2020-01"]', "statistic": '"declines"'}, 1),
    ({"columns": '["encounters"]', "months": '["2019-11", "2020-01"]', "statistic": '"rises"'}, 1),
    ({"columns": '["encounters"]', "months": '["2019-11", "2020-01"]',
      "statistic": '"relative_change"'}, (31 * 4 - 300) / 300),
    ({"columns": '["encounters"]', "days": "[2019-12-01, 2019-12-14]", "statistic": '"per_week"'}, 140),
    ({"columns": '["passengers"]', "flight": '{ destination = "guadalajara", origin = "Tucson" }',
      "date": "2019-12-19"}, 140),
    ({"columns": '["passengers"]', "flight": '{ destination = "guadalajara" }', "date": "2019-12-19"}, 200),
    ({"columns": '["flown"]', "flight": '{ destination = "guadalajara" }',
      "days": "[2019-12-01, 2019-12-28]", "statistic": '"per_week"'}, 0.5),
    ({"columns": '["flown"]', "flight": '{ destination = "china" }', "days": "[2019-11-01, 2020-01-31]"}, 1),
])
def test_each_period_and_statistic_is_measured_as_documented(tmp_path, fields, expected):
    assert measure(target(tmp_path, **fields), *tables()) == pytest.approx(expected)


def test_a_period_outside_the_run_is_not_measured_silently(tmp_path):
    outside = target(tmp_path, columns='["encounters"]', months='["2019-10", "2019-12"]')
    with pytest.raises(ValueError, match="not inside the run"):
        measure(outside, *tables())


def test_a_count_too_small_for_a_coarse_scale_is_measured_only_at_its_coarsest_scale(tmp_path):
    from calibration.distance import averaged_relative_difference, distance

    two = ENTRY.replace("[targets.t1]", "[targets.t2]").replace("value = 144_000", "value = 2")
    targets = load_targets(write(tmp_path, ENTRY + two.replace(
        'month = "2019-05"', 'month = "2019-05"\ncoarsest_scale = 1')))
    assert [t.id for t in measurable(targets)] == ["t1", "t2"]
    assert [t.id for t in measurable(targets, 20)] == ["t1"]
    simulated = {"t1": 150_000.0}  # a scale-20 run has no value for t2: it is not missed
    assert distance(targets, simulated, scale=20) == 0.0
    assert averaged_relative_difference(targets, simulated, scale=20) == pytest.approx(6 / 144)
    assert distance(targets, simulated) == pytest.approx((100.0 ** 2 / 2) ** 0.5)  # full scale
    for bad in ("0", "1.5", "true", '"one"'):
        with pytest.raises(TargetsError, match=r"t1\.coarsest_scale: expected a whole number"):
            load_targets(write(tmp_path, ENTRY.replace('month = "2019-05"',
                                                       f'month = "2019-05"\ncoarsest_scale = {bad}')))


SOURCED = '''
[targets.p1]
label = "Single adults, FY2019"
source = "example.org/cbp-fy2019 (CBP, Southwest Land Border Encounters)"
quote = "In fiscal year 2019, a total of 368,812 single adults were apprehended"
seed_says = "368,812"
value = 368_812
kind = "about"
tolerance = 0.1
columns = ["encounters_single_adults"]
months = ["2018-10", "2019-09"]
since_fit = 4
'''


def test_a_public_record_target_names_its_source_and_quotes_its_value(tmp_path):
    t = load_targets(write(tmp_path, SOURCED))[0]
    assert (t.seed, t.source, t.since_fit) == ("", "example.org/cbp-fy2019 (CBP, Southwest "
                                               "Land Border Encounters)", 4)
    for change, new, message in [
            ('source = "example.org', 'seed = "001_3c5efb37f70223ed.txt"\nsource = "example.org',
             r"p1: give exactly one of seed .* \(seed and source given\)"),
            ('source = "example.org/cbp-fy2019 (CBP, Southwest Land Border Encounters)"\n', "",
             r"p1: give exactly one of seed .* \(none given\)"),
            ('"example.org', '"https://example.org', r"p1\.source: .* without its scheme"),
            (" (CBP, Southwest Land Border Encounters)", "", r"p1\.source: .* a title in brackets"),
            ("368,812 single", "many single", r"p1\.quote: does not give the value 368,812"),
            ("since_fit = 4", "since_fit = 0", r"p1\.since_fit: expected a whole number >= 1")]:
        assert change in SOURCED
        with pytest.raises(TargetsError, match=message):
            load_targets(write(tmp_path, SOURCED.replace(change, new)))
    # its figure must be the public record's fit row: same column, days and value
    for change, new in (("value = 368_812", "value = 368_813"),
                        ('months = ["2018-10", "2019-09"]', 'months = ["2018-10", "2019-08"]')):
        with pytest.raises(TargetsError, match=r"p1: a public-record target needs its figure"):
            load_targets(write(tmp_path, SOURCED.replace(change, new)))
    assert load_targets(write(tmp_path, SOURCED.replace("368_812", "368_813")), record=None)


def test_the_committed_fit_keeps_its_targets_and_the_composition_joins_the_fourth_to_sixth():
    from calibration.targets import of_fit
    targets = load_targets()
    third = of_fit(targets, 3)
    # calibration/report.md: the third fit's 30 entries, 22 of them measured
    assert len(third) == 30 and sum(t.measurable for t in third) == 22
    added = {t.id: t for t in targets if t not in third}
    assert set(added) >= {"single_adults_fy2019", "family_units_fy2019",
                          "unaccompanied_children_fy2019", "mexico_fy2019",
                          "single_adults_fy2021", "family_units_fy2021",
                          "unaccompanied_children_fy2021",
                          "honduras_oct_may_2019", "el_salvador_oct_may_2019"}
    fifth = {t.id for t in of_fit(targets, 5)} - {t.id for t in of_fit(targets, 4)}
    assert fifth == {"honduras_oct_may_2019", "el_salvador_oct_may_2019"}
    sixth = {t.id for t in of_fit(targets, 6)} - {t.id for t in of_fit(targets, 5)}
    assert sixth == {"single_adults_fy2021_all", "family_units_fy2021_all",  # CBP's own rows
                     "unaccompanied_children_fy2021_all", "guatemala_fy2021", "honduras_fy2021",
                     "el_salvador_fy2021", "others_fy2021"}
    for t in added.values():
        assert t.source and not t.seed and t.since_fit in (4, 5, 6)
        assert t.measurable or t.reason
        if "(Border Patrol" in t.label:  # Border Patrol alone is a floor for the model's count
            assert t.kind == "at_least"


def record_with(tmp_path, *rows):
    path = tmp_path / "record.csv"
    path.write_text("figure,column,period,value,how,source,says,counts,split\n"
                    + "".join(f"{r}\n" for r in rows), encoding="utf-8")
    return path


APRIL = "CBP encounters,encounters,2020-04-01/2020-04-30,17106,total,s (t),17106,all,{}"


def test_a_target_duplicating_a_held_out_row_is_refused(tmp_path):
    april = ENTRY.replace('month = "2019-05"', 'month = "2020-04"')
    with pytest.raises(TargetsError) as refused:  # the committed record holds April 2020 out
        load_targets(write(tmp_path, april))
    text = str(refused.value)
    assert text.startswith(f"{tmp_path / 'targets.toml'}: targets.t1: duplicates the held-out "
                           f"public-record row"), text
    assert "(encounters, 2020-04-01/2020-04-30)" in text and "\n" not in text
    # the same row marked fit may be a target; a different period is no duplicate
    assert load_targets(write(tmp_path, april), record_with(tmp_path, APRIL.format("fit")))
    held = record_with(tmp_path, APRIL.format("held_out"))
    assert load_targets(write(tmp_path, ENTRY), held)
    assert load_targets(write(tmp_path, april.replace('month = "2020-04"',
                                                      'days = [2020-04-01, 2020-04-29]')), held)
    with pytest.raises(TargetsError, match="duplicates the held-out"):
        load_targets(write(tmp_path, april.replace('month = "2020-04"',
                                                   'days = [2020-04-01, 2020-04-30]')), held)
    # a period-end stock: a month's target is the held-out figure of its last day
    stock = ENTRY.replace('columns = ["encounters"]', 'columns = ["court_backlog"]').replace(
        'month = "2019-05"', 'month = "2020-12"')
    backlog = record_with(tmp_path, "backlog,court_backlog,2020-12-31,1290766,on the day,"
                                    "s (t),1290766,all,held_out")
    with pytest.raises(TargetsError, match=r"court_backlog, 2020-12-31"):
        load_targets(write(tmp_path, stock), backlog)
    # the Northern Triangle: the sum of three held-out countries is held out too
    triangle = record_with(tmp_path, *(f"{c},encounters_{c},FY2020,100,total,s (t),100,all,"
                                       f"{'fit' if c == 'honduras' else 'held_out'}"
                                       for c in ("guatemala", "honduras", "el_salvador")))
    nt = ENTRY.replace('columns = ["encounters"]', 'columns = ["encounters_northern_triangle"]'
                       ).replace('month = "2019-05"', 'months = ["2019-10", "2020-09"]')
    with pytest.raises(TargetsError, match=r"encounters_northern_triangle, FY2020"):
        load_targets(write(tmp_path, nt), triangle)


def test_a_public_record_target_is_any_fit_row_of_its_column_and_days(tmp_path):
    """A floor (Border Patrol alone), the figure and a ceiling (nationwide) may stand for
    one column and fiscal year: a target is one of them, by value."""
    rows = [f"single adults,encounters_single_adults,FY2019,{v},total,s (t),{v},{c},fit"
            for v, c in ((300000, "border_patrol"), (368812, "all"), (400000, "nationwide"))]
    record = record_with(tmp_path, *rows)
    assert load_targets(write(tmp_path, SOURCED), record)[0].value == 368_812
    ceiling = SOURCED.replace("368_812", "400_000").replace("368,812", "400,000")
    assert load_targets(write(tmp_path, ceiling), record)[0].value == 400_000
    other = SOURCED.replace("368_812", "350_000").replace("368,812", "350,000")
    with pytest.raises(TargetsError, match=r"the rows give 300,000, 368,812, 400,000"):
        load_targets(write(tmp_path, other), record)
