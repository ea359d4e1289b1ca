"""`run.py validate` (calibration/validate.py): the scores on known numbers, how each
held-out figure meets the model (a Border Patrol-only count is never scored against a
count of all encounters), the output folder's rules, and one short real run end to end."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from calibration import validate
from calibration.public_record import RecordFigure, held_out, load_record
from calibration.validate import (Validation, ValidationError,
                                  averaged_relative_difference, bias, check_out_dir,
                                  choose_out_dir, claimed, coverage, map_figure, point_id,
                                  relative_differences, report_html, score, verdict,
                                  with_border_patrol)
from helpers import one_error_line

ROOT = Path(__file__).resolve().parent.parent
COLUMNS = {"encounters", "encounters_at_ports", "encounters_family_units", "removals",
           "encounters__border_patrol"}  # as plan_validation gives map_figure
RUN = ("2018-10-01", "2021-12-31")


def figure(column="encounters", period="FY2020", value=100.0, how="total", counts="all",
           split="held_out", name="A figure") -> RecordFigure:
    return RecordFigure(name, column, period, value, how, "a source", "it says",
                        split, counts)


# ---------------------------------------------------------------- the scores

def test_scores_on_known_numbers():
    medians, records = [110, 90, 100, 150], [100, 100, 100, 100]
    assert relative_differences(medians, records) == pytest.approx([0.1, -0.1, 0, 0.5])
    assert averaged_relative_difference(medians, records) == pytest.approx(0.7 / 4)
    assert bias(medians, records) == pytest.approx(0.5 / 4)
    # a record on the band's edge is inside; one below or above is not
    assert coverage([90, 100, 101, 0], [110, 120, 120, 99], [100, 100, 100, 100]) \
        == pytest.approx(0.5)
    assert bias([50], [200]) == pytest.approx(-0.75)
    with pytest.raises(ValueError):
        relative_differences([1], [0])


def test_verdicts_follow_the_score():
    assert verdict(0.0)[0] == verdict(0.10)[0] == "close"
    assert verdict(0.11)[0] == verdict(0.30)[0] == "rough"
    assert verdict(0.31)[0] == verdict(5.0)[0] == "off"


def test_points_and_series_scored_from_the_runs():
    monthly = [figure(period=f"2020-0{m}-01/2020-0{m}-28", value=v, name="Monthly")
               for m, v in ((1, 100.0), (2, 200.0))]
    context = figure(period="2019-05-01/2019-05-31", value=50.0, split="fit", name="Monthly")
    family = figure(column="encounters_family_units", counts="border_patrol", value=80.0,
                    name="Families by Border Patrol")
    mapped = [map_figure(f, COLUMNS, *RUN) for f in (*monthly, context, family)]
    plan = Validation("historical", draws=2, seeds=5, scale=20, mapped=mapped)
    runs = pd.DataFrame({point_id(monthly[0]): np.arange(91.0, 101.0),   # median 95.5
                         point_id(monthly[1]): np.arange(230.0, 240.0),  # median 234.5
                         point_id(context): np.full(10, 50.0),
                         point_id(family): np.arange(100.0, 110.0),
                         point_id(mapped[-1].lower): np.arange(60.0, 70.0)})
    points, scores = score(plan, runs)
    assert list(scores.series) == ["Monthly"]  # the context row and the families not scored
    row = scores.iloc[0]
    assert row.points == 2
    assert row.score == pytest.approx((4.5 / 100 + 34.5 / 200) / 2)
    assert row.bias == pytest.approx((-4.5 / 100 + 34.5 / 200) / 2)
    assert row.coverage == 0  # 100 is above 91.45-99.55, 200 below 230.45-238.55
    low, high = np.quantile(np.arange(91.0, 101.0), [0.05, 0.95])
    first = points[points.period == monthly[0].period].iloc[0]
    assert (first["low"], first["high"]) == pytest.approx((low, high))
    assert bool(first.covered) is bool(low <= 100 <= high)
    fam = points[points.column == "encounters_family_units"].iloc[0]
    assert not fam.scored and "not comparable" in fam.reason
    assert pd.isna(fam.relative_difference) and pd.isna(fam.covered)  # not the same count
    # bounded by the group less every port encounter (5 %) and the whole group (95 %)
    assert (fam.bound_low, fam.bound_high) == pytest.approx(
        (np.quantile(np.arange(60.0, 70.0), 0.05), np.quantile(np.arange(100.0, 110.0), 0.95)))
    assert bool(fam.within_bounds)  # 80 lies inside 60.45-109.55
    assert len(points) == 4  # every row is in points.csv, scored or not


# ---------------------------------------------------------------- figures -> model

def test_a_border_patrol_only_figure_is_never_scored_against_all_encounters():
    family = map_figure(figure(column="encounters_family_units", counts="border_patrol"),
                        COLUMNS, *RUN)
    assert not family.scored and family.reason.startswith("not comparable")
    assert family.measured.column == "encounters_family_units"  # the bounds' top
    assert family.lower.column == "encounters_family_units__less_ports"
    total = map_figure(figure(counts="border_patrol"), COLUMNS, *RUN)
    assert total.scored and total.measured.column == "encounters__border_patrol"
    assert "encounters_at_ports" in total.model


def test_a_nationwide_figure_is_a_ceiling_never_scored():
    family = map_figure(figure(column="encounters_family_units", counts="nationwide"),
                        COLUMNS, *RUN)
    assert not family.scored and family.measured is None
    assert family.reason.startswith("not comparable") and "ceiling" in family.reason
    assert validate.series_of(family.figure).endswith("(nationwide)")


def test_figures_the_model_cannot_give_are_flagged_with_a_reason():
    cases = {"not modelled": figure(column="encounters_nicaragua"),
             "a capacity": figure(how="capacity"),
             "outside the runs": figure(period="FY2023"),
             "fit:": figure(split="fit")}
    for why, f in cases.items():
        m = map_figure(f, COLUMNS, *RUN)
        assert not m.scored and m.reason.startswith(why), (why, m.reason)
    assert map_figure(figure(), COLUMNS, *RUN).scored


def test_every_held_out_row_of_the_record_is_scored_or_flagged():
    plan = validate.plan_validation("historical", draws=1, seeds=1, scale=20)
    test = held_out(load_record())
    listed = {(m.figure.column, m.figure.period, m.figure.counts): m
              for m in plan.mapped if m.figure.held_out}
    assert len(listed) == len(test)
    for f in test:
        m = listed[(f.column, f.period, f.counts)]
        assert m.scored or m.reason, f
        if f.counts == "border_patrol" and f.column != "encounters":
            assert not m.scored and "not comparable" in m.reason
    assert not any(m.scored for m in plan.mapped if not m.figure.held_out)
    assert sum(m.scored for m in plan.mapped) >= 40  # the monthly series and FY2020's figures


def test_the_border_patrol_count_is_encounters_less_the_ports():
    daily = pd.DataFrame({"encounters": [10, 20], "encounters_at_ports": [3, 5],
                          "encounters_family_units": [4, 4]})
    lower = figure(column="encounters_family_units__less_ports")
    table = with_border_patrol(daily, [lower])
    assert list(table["encounters__border_patrol"]) == [7, 15]
    assert list(table["encounters_family_units__less_ports"]) == [1, -1]


# ---------------------------------------------------------------- the output folder

def test_a_folder_holding_a_validation_is_replaced_only_with_overwrite(tmp_path):
    folder = tmp_path / "v"
    folder.mkdir()
    (folder / "scores.csv").write_text("x")
    with pytest.raises(ValidationError, match="--overwrite"):
        check_out_dir(folder, overwrite=False)
    check_out_dir(folder, overwrite=True)
    (folder / "mine.txt").write_text("a user's file")
    with pytest.raises(ValidationError, match="not empty"):
        check_out_dir(folder, overwrite=True)
    with pytest.raises(ValidationError, match="is a file"):
        check_out_dir(folder / "mine.txt", overwrite=True)


def test_the_default_folder_goes_new_when_the_committed_one_holds_a_report(
        tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    committed = tmp_path / "validation"
    monkeypatch.setattr(validate, "VALIDATION_DIR", committed)
    assert choose_out_dir(None, overwrite=False) == (committed, "")  # none there yet
    committed.mkdir()
    (committed / "report.html").write_text("old")
    folder, note = choose_out_dir(None, overwrite=False)
    assert folder.parent == Path("runs") and folder.name.startswith("validate-")
    assert str(folder) in note and "--overwrite" in note
    assert choose_out_dir(None, overwrite=True) == (committed, "")


def test_two_validations_cannot_hold_one_folder(tmp_path):
    with claimed(tmp_path / "v"):
        with pytest.raises(ValidationError, match="in use by another"):
            with claimed(tmp_path / "v"):
                pass


def test_a_failed_validation_leaves_no_folder_it_made(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        with claimed(tmp_path / "a" / "b"):
            raise KeyboardInterrupt
    assert not (tmp_path / "a").exists()


def test_the_page_escapes_the_record_text():
    f = figure(name="<script>alert(1)</script>")
    plan = Validation("historical", 1, 2, 20, [map_figure(f, COLUMNS, *RUN)])
    points, scores = score(plan, pd.DataFrame({point_id(f): [90.0, 110.0]}))
    page = report_html(plan, points, scores, {"command": ["run.py", "<u>x</u>"]})
    assert "<script>alert" not in page and "&lt;script&gt;" in page and "<u>x" not in page


# ---------------------------------------------------------------- the command

def _cli(*args, cwd=ROOT):
    return subprocess.run([sys.executable, str(ROOT / "run.py"), "validate", *args],
                          capture_output=True, text=True, cwd=cwd, timeout=600,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})


def test_run_py_validate_writes_the_report_and_never_overwrites(tmp_path, capsys):
    import run as cli

    out = tmp_path / "v"
    done = _cli("--draws", "1", "--seeds", "2", "--scale", "1000", "--workers", "1",
                "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    for name in ("report.html", "scores.csv", "points.csv", "validation.json"):
        assert (out / name).is_file(), name
    scores = pd.read_csv(out / "scores.csv")
    points = pd.read_csv(out / "points.csv")
    assert "CBP southwest border encounters (month)" in set(scores.series)
    assert scores.score.is_monotonic_increasing
    assert set(scores.verdict) <= {"close", "rough", "off"}
    assert points[points.scored].split.eq("held_out").all()
    assert points[points.scored]["median"].notna().all()
    assert points[~points.scored & points.split.eq("held_out")].reason.notna().all()
    bp = points[points.counts.eq("border_patrol") & points.split.eq("held_out")]
    assert len(bp) and bp.bound_low.notna().all() and not bp.scored.any()
    about = json.loads((out / "validation.json").read_text())
    assert (about["runs"], about["scale"], len(about["seeds"])) == (2, 1000, 2)
    page = (out / "report.html").read_text()
    assert "scale" in page and "1000" in page and "data:image/png;base64," in page
    assert "http://" not in page and "https://" not in page  # offline: nothing fetched
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert cli.main(["validate", "--draws", "1", "--seeds", "2", "--scale", "1000",
                     "--out", str(out)]) == 2
    assert "--overwrite" in one_error_line(capsys.readouterr().err)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


@pytest.mark.parametrize("args, message", [
    (["--draws", "0"], "--draws must be >= 1"),
    (["--seeds", "many"], "--seeds must be a whole number"),
    (["--scale", "-3"], "--scale must be >= 1"),
    (["no_such_scenario"], "no_such_scenario"),
    (["--bogus"], "unrecognized arguments: --bogus"),
])
def test_bad_flags_are_one_line_and_nothing_is_written(args, message, tmp_path, capsys):
    import run as cli

    out = tmp_path / "v"
    try:
        status = cli.main(["validate", *args, "--out", str(out)])
    except SystemExit as exc:  # argparse's refusals (one_line_error)
        status = exc.code
    assert status == 2
    assert message in one_error_line(capsys.readouterr().err)
    assert not out.exists()


def test_a_file_as_out_is_refused_before_anything_runs(tmp_path, capsys, monkeypatch):
    import run as cli

    monkeypatch.setattr(validate, "run_validation",
                        lambda *a, **k: pytest.fail("the runs started"))
    target = tmp_path / "f"
    target.write_text("x")
    assert cli.main(["validate", "--draws", "1", "--out", str(target)]) == 2
    assert "is a file" in one_error_line(capsys.readouterr().err)
    assert target.read_text() == "x"


def test_the_runs_are_posterior_draws_each_on_its_own_seed():
    plan = validate.plan_validation("historical", draws=3, seeds=2, scale=20)
    runs = plan.run_plan()
    assert [d for d, _ in runs] == [0, 0, 1, 1, 2, 2]
    assert len({s for _, s in runs}) == 6  # no two runs share a seed
    assert "posterior.parquet" in plan.posterior and "distinct particle" in plan.posterior


def test_a_scenario_without_a_calibration_has_no_draws(tmp_path):
    text = (ROOT / "scenarios" / "historical.toml").read_text()
    plain = tmp_path / "plain.toml"
    plain.write_text(text.replace('calibrated = "../calibration/calibrated.toml"', ""))
    with pytest.raises(ValidationError, match="names no calibration.*--draws 1"):
        validate.plan_validation(str(plain), draws=2, seeds=2, scale=20)
    plan = validate.plan_validation(str(plain), draws=1, seeds=3, scale=20)
    assert [d for d, _ in plan.run_plan()] == [None] * 3


def test_the_committed_report_covers_the_record_and_its_scores_add_up():
    """validation/ (the README links it) lists every held-out row of the record; if this
    fails, the record changed: regenerate it with the command its validation.json gives."""
    folder = ROOT / "validation"
    points = pd.read_csv(folder / "points.csv")
    listed = points[points.split.eq("held_out")]
    assert {(r.column, r.period, r.counts) for r in listed.itertuples()} == \
        {(f.column, f.period, f.counts) for f in held_out(load_record())}
    scores = pd.read_csv(folder / "scores.csv")
    for row in scores.itertuples():
        pts = listed[listed.series.eq(row.series) & listed.scored]
        assert row.points == len(pts)
        assert row.score == pytest.approx(
            averaged_relative_difference(pts["median"], pts["record"]), abs=1e-4)
        assert row.coverage == pytest.approx(coverage(pts.low, pts.high, pts.record), abs=1e-4)
    about = json.loads((folder / "validation.json").read_text())
    page = (folder / "report.html").read_text()
    assert f"<th>scale</th><td>{about['scale']} (one agent stands for" in page  # says its scale
