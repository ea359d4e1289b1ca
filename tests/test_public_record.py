"""The public record's figures are well-formed data, and are read off a run correctly."""

import re

import pytest

from calibration.public_record import (HOW, comparison_table, load_record, model_value,
                                       record_value)
from model.state.recorder import COLUMNS

PERIOD = re.compile(r"^(FY\d{4}|\d{4}-\d{2}-\d{2}(/\d{4}-\d{2}-\d{2})?)$")


def test_every_figure_has_a_period_a_value_and_a_source():
    figures = load_record()
    assert len(figures) >= 20
    for f in figures:
        assert PERIOD.match(f.period), f
        assert f.value > 0 and f.how in HOW, f
        assert f.source and f.says, f
        assert re.sub(r"\D", "", f"{f.value:,.0f}")[:3] in re.sub(r"\D", "", f.says), (
            f"{f.figure} {f.period}: the quoted sentence does not give {f.value:,.0f}")


def test_the_fiscal_year_figures_the_issue_names_are_there():
    figures = load_record()
    assert record_value(figures, "removals", "FY2019") == 267_258
    assert record_value(figures, "removals", "FY2020") == 185_884
    assert record_value(figures, "removals", "FY2021") == 59_011
    assert record_value(figures, "detention_population", "FY2019") == 50_165
    with pytest.raises(KeyError):
        record_value(figures, "removals", "FY2030")


def test_figures_are_read_off_the_daily_table(historical_daily):
    figures = load_record()
    by_key = {(f.column, f.period): f for f in figures}
    fy2020 = historical_daily[(historical_daily.date >= "2019-10-01")
                              & (historical_daily.date <= "2020-09-30")]
    assert model_value(by_key["removals", "FY2020"], historical_daily) == fy2020.removals.sum()
    on_day = historical_daily.set_index("date").loc["2020-12-31", "court_backlog"]
    assert model_value(by_key["court_backlog", "2020-12-31"], historical_daily) == on_day
    columns = {c.name for c in COLUMNS}
    for f in figures:  # a column the model does not write is reported as not modelled
        if f.column not in columns:
            assert model_value(f, historical_daily) is None
    table = comparison_table(historical_daily, figures)
    assert table.count("\n") == len(figures) + 1


def test_a_period_outside_the_run_is_not_compared(historical_daily):
    f = load_record()[0]
    short = historical_daily[historical_daily.date < "2019-06-01"]
    assert model_value(f, short) is None  # FY2019 is not wholly in the run
