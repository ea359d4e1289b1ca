"""The public record's figures are well-formed data, split into what a fit may use and what
is held out for validation, and are read off a run correctly."""

import re

import pytest

from calibration.public_record import (COUNTS, HOW, RECORD_FILE, SPLITS, RecordError,
                                       RecordFigure,
                                       comparison_table, held_out, load_record, model_value,
                                       month_period, record_value, with_derived)
from model.state.recorder import COLUMNS

PERIOD = re.compile(r"^(FY\d{4}|\d{4}-\d{2}-\d{2}(/\d{4}-\d{2}-\d{2})?)$")
COMPOSITION = ("encounters_single_adults", "encounters_family_units",
               "encounters_unaccompanied_children", "encounters_mexico", "encounters_guatemala",
               "encounters_honduras", "encounters_el_salvador", "encounters_other",
               "encounters_northern_triangle", "encounters_at_ports")


def test_every_figure_has_a_period_a_value_a_source_and_a_split():
    figures = load_record()
    assert len(figures) >= 20
    for f in figures:
        assert PERIOD.match(f.period), f
        assert f.value > 0 and f.how in HOW, f
        assert f.split in SPLITS and f.counts in COUNTS, f
        assert f.source and f.says, f
        assert "://" not in f.source, f
        assert re.sub(r"\D", "", f"{f.value:,.0f}")[:3] in re.sub(r"\D", "", f.says), (
            f"{f.figure} {f.period}: the quoted sentence does not give {f.value:,.0f}")
        if f.counts == "border_patrol":  # the title says the source counts Border Patrol alone
            assert "Border Patrol" in f.source, f
        if f.counts == "nationwide":  # ... or every border
            assert "nationwide" in f.source, f
    keys = [(f.column, f.period, f.counts) for f in figures]
    assert len(keys) == len(set(keys)), "one figure per column, period and count"


def test_the_fiscal_year_figures_the_issue_names_are_there():
    figures = load_record()
    assert record_value(figures, "removals", "FY2019") == 267_258
    assert record_value(figures, "removals", "FY2020") == 185_884
    assert record_value(figures, "removals", "FY2021") == 59_011
    assert record_value(figures, "detention_population", "FY2019") == 50_165
    assert record_value(figures, "encounters", "FY2019") == 977_509
    assert record_value(figures, "encounters", "FY2020") == 458_088
    assert record_value(figures, "encounters", month_period(2020, 4)) == 17_106
    with pytest.raises(KeyError):
        record_value(figures, "removals", "FY2030")
    # a column and period may hold a Border Patrol floor, the figure and a nationwide ceiling
    family = {(p, c): record_value(figures, "encounters_family_units", p, c)
              for p, c in (("FY2019", "border_patrol"), ("FY2019", "all"),
                           ("FY2021", "border_patrol"), ("FY2021", "nationwide"))}
    assert family == {("FY2019", "border_patrol"): 473_682, ("FY2019", "all"): 527_000,
                      ("FY2021", "border_patrol"): 451_087, ("FY2021", "nationwide"): 484_000}
    assert record_value(figures, "encounters_mexico", "FY2021") == 655_594


def test_fy2020_composition_and_the_monthly_series_are_held_out_fy2019_and_fy2021_fit():
    figures = load_record()
    composition = [f for f in figures if f.column in COMPOSITION]
    assert {f.period for f in composition} >= {"FY2019", "FY2020", "FY2021"}
    for f in composition:
        assert f.split == ("held_out" if f.period == "FY2020" else "fit"), f
    monthly = {f.period: f for f in figures if f.column == "encounters"
               and not f.period.startswith("FY")
               and f.period == month_period(int(f.period[:4]), int(f.period[5:7]))}
    months = [month_period(y, m) for y in (2018, 2019, 2020, 2021) for m in range(1, 13)
              if "2018-10" <= f"{y}-{m:02d}" <= "2021-12"]
    assert len(months) == 39 and set(monthly) == set(months)  # October 2018 to December 2021
    for period, f in monthly.items():
        # May and December 2019 are the seed targets' months (a fit sees them)
        fitted = period in (month_period(2019, 5), month_period(2019, 12))
        assert f.split == ("fit" if fitted else "held_out"), f
    # the FY2019 months sum to CBP's FY2019 total
    fy2019 = sum(monthly[p].value for p in months[:12])
    assert fy2019 == record_value(figures, "encounters", "FY2019")
    # a row some parameter was set from by hand is fit: the late-2021 push, the courts' pace
    assert not any(f.held_out for f in figures if f.column in ("court_backlog", "metering_waiting"))
    by_key = {(f.column, f.period): f for f in figures}
    assert by_key["encounters", "2021-10-01/2021-12-31"].split == "fit"
    assert by_key["removals", "FY2021"].split == "held_out"


def test_a_bad_split_or_count_is_refused_naming_the_row(tmp_path):
    text = RECORD_FILE.read_text(encoding="utf-8")
    header, first, *_ = text.splitlines()
    assert first.endswith(",all,fit")
    for bad, field in ((first[:-len("fit")] + "train", "split 'train'"),
                       (first[:-len("all,fit")] + "some,fit", "counts 'some'"),
                       (first.replace(",FY2019,", ",2019-13-01,"), "period '2019-13-01'"),
                       (first.replace(",267258,", ",many,"), "value 'many'")):
        path = tmp_path / "record.csv"
        path.write_text(header + "\n" + bad + "\n", encoding="utf-8")
        with pytest.raises(RecordError) as refused:
            load_record(path)
        message = str(refused.value)
        assert message.startswith(f"{path}: row 2 (ICE removals, "), message
        assert field in message and "\n" not in message, message
    path.write_text(header.replace(",split", "") + "\n", encoding="utf-8")
    with pytest.raises(RecordError, match="missing column.*split"):
        load_record(path)


def country(column, value, split="held_out", period="FY2020"):
    return RecordFigure("f", column, period, value, "total", "s (t)", "x", split, "all")


def test_the_northern_triangle_is_the_sum_of_its_three_countries(historical_daily):
    parts = [country("encounters_guatemala", 100), country("encounters_honduras", 200),
             country("encounters_el_salvador", 300, split="fit")]
    derived = with_derived(parts)[-1]
    assert (derived.column, derived.period, derived.value) == (
        "encounters_northern_triangle", "FY2020", 600)
    assert derived.held_out  # one held-out part makes the sum held out
    assert derived in held_out(parts)
    assert with_derived(parts[:2]) == parts[:2]  # two countries are not the Northern Triangle
    fy2020 = historical_daily[(historical_daily.date >= "2019-10-01")
                              & (historical_daily.date <= "2020-09-30")]
    assert model_value(derived, historical_daily) == fy2020.encounters_northern_triangle.sum()
    countries = 0
    for f in parts:  # the model's column per country: they sum to the Northern Triangle's
        assert model_value(f, historical_daily) == fy2020[f.column].sum() > 0
        countries += model_value(f, historical_daily)
    assert countries == model_value(derived, historical_daily)
    table = comparison_table(historical_daily, parts)
    assert table.count("\n") == len(parts) + 2 and "| held out |" in table


def test_figures_are_read_off_the_daily_table(historical_daily):
    figures = load_record()
    by_key = {(f.column, f.period): f for f in figures}
    fy2020 = historical_daily[(historical_daily.date >= "2019-10-01")
                              & (historical_daily.date <= "2020-09-30")]
    assert model_value(by_key["removals", "FY2020"], historical_daily) == fy2020.removals.sum()
    on_day = historical_daily.set_index("date").loc["2020-12-31", "court_backlog"]
    assert model_value(by_key["court_backlog", "2020-12-31"], historical_daily) == on_day
    april = historical_daily[(historical_daily.date >= "2020-04-01")
                             & (historical_daily.date <= "2020-04-30")]
    assert model_value(by_key["encounters", month_period(2020, 4)],
                       historical_daily) == april.encounters.sum()
    assert model_value(by_key["encounters_single_adults", "FY2020"],
                       historical_daily) == fy2020.encounters_single_adults.sum()
    columns = {c.name for c in COLUMNS}
    for f in figures:  # a column the model does not write is reported as not modelled
        if f.column not in columns:
            assert model_value(f, historical_daily) is None
    table = comparison_table(historical_daily, figures)
    assert table.count("\n") == len(with_derived(figures)) + 1
    lines = table.splitlines()[2:]
    for f, line in zip(with_derived(figures), lines):  # Border Patrol-only figures say so
        assert ("Border Patrol" in line) == (f.counts == "border_patrol"), line
    bp = RecordFigure("UC", "encounters_unaccompanied_children", "FY2020", 30_557, "total",
                      "s (t)", "30,557", "held_out", "border_patrol")
    assert "| UC (Border Patrol only) | FY2020 |" in comparison_table(historical_daily, [bp])


def test_a_period_outside_the_run_is_not_compared(historical_daily):
    f = load_record()[0]
    short = historical_daily[historical_daily.date < "2019-06-01"]
    assert model_value(f, short) is None  # FY2019 is not wholly in the run


# CBP's published southwest-border totals the source file's rows must reproduce: FY2021's
# total, Border Patrol's and its demographics (CRS R46999), the Mexicans and their Title 42
# expulsions (the GitHub memo targets.toml cites); FY2020's total and its two components,
# Border Patrol's families and children alone (CBP's FY2020 releases, rows of the record).
PUBLISHED = [
    (2021, "encounters", "all", 1_734_686), (2021, "encounters", "border_patrol", 1_659_206),
    (2021, "encounters_single_adults", "border_patrol", 1_063_285),
    (2021, "encounters_family_units", "border_patrol", 451_087),
    (2021, "encounters_unaccompanied_children", "border_patrol", 144_834),
    (2021, "encounters_mexico", "all", 655_594),
    (2020, "encounters", "all", 458_088), (2020, "encounters", "border_patrol", 400_651),
    (2020, "encounters_at_ports", "all", 57_437),
    (2020, "encounters_family_units", "border_patrol", 52_230),
    (2020, "encounters_unaccompanied_children", "border_patrol", 30_557),
]


@pytest.mark.parametrize("year, column, counts, published", PUBLISHED)
def test_the_cbp_source_rows_give_cbps_published_totals(year, column, counts, published):
    from calibration.public_record import cbp_southwest, cbp_sum

    assert cbp_sum(cbp_southwest(), column, year, counts) == published


def test_every_figure_from_the_cbp_source_is_its_rows_sum():
    from calibration.public_record import CBP_SOURCE, cbp_southwest, cbp_sum

    rows, name = cbp_southwest(), CBP_SOURCE.name
    named = [f for f in load_record() if name in f.source]
    assert len(named) >= 12
    for f in named:
        assert f.period in ("FY2020", "FY2021"), f
        assert f.value == cbp_sum(rows, f.column, int(f.period[2:]), f.counts), f
    assert (rows["count"] >= 0).all()
    keys = ["fiscal_year", "month", "component", "aor", "demographic", "citizenship", "title"]
    assert not rows.duplicated(keys).any()
