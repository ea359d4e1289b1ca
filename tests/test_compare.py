"""`run.py compare`: scenarios on the same seeds through the sweep's Dask runner, the
paired differences and their t-intervals, the CSV/PNG/HTML report, and bad input
refused in one line before anything runs.

Runs are short (FY2020 and FY2021, when Title 42 was in force) at scale 500.
"""

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import run as cli  # noqa: E402
from experiments import compare, costs, derive_seeds  # noqa: E402
from helpers import one_error_line  # noqa: E402

START, END = "2019-10-01", "2021-09-30"
WINDOW = ["--scale", "500", "--start", START, "--end", END]


@pytest.fixture(scope="module")
def compared(tmp_path_factory):
    """historical against title42_off, 4 seeds at the calibrated medians (--no-posterior:
    chance only; tests/test_posterior_compare.py runs posterior draws), by the real CLI on
    2 worker processes."""
    out = tmp_path_factory.mktemp("compare") / "report"
    result = subprocess.run(
        [sys.executable, "run.py", "compare", "historical", "title42_off", "--seeds", "4",
         "--no-posterior",
         *WINDOW, "--workers", "2", "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return out, result.stdout


def test_compare_writes_tables_plots_and_an_offline_report(compared):
    out, stdout = compared
    assert "title42_off - historical" in stdout and "title42_expulsions" in stdout
    tables = {p.name for p in (out / "tables").glob("*.csv")}
    assert tables == {"FY2020.csv", "FY2021.csv", "run.csv", "summary.csv", "per_seed.csv",
                      "unit_costs.csv"}
    pngs = sorted((out / "plots").glob("*.png"))
    assert [p.stem for p in pngs] == sorted(compare.PLOTTED)
    assert all(p.read_bytes().startswith(b"\x89PNG\r\n\x1a\n") for p in pngs)
    page = (out / "report.html").read_text(encoding="utf-8")
    assert page.count('src="data:image/png;base64,') == len(compare.PLOTTED)
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", page, re.I)
    assert "http://" not in page and "https://" not in page
    assert "<script" not in page and "<link" not in page
    assert page.count("<table") == 4  # the whole run, FY2020, FY2021, the unit costs
    assert "133.99" in page and "public record" in page


def test_every_scenario_ran_on_the_sweeps_seeds(compared):
    out, _ = compared
    per_seed = pd.read_csv(out / "tables" / "per_seed.csv")
    for scenario in ("historical", "title42_off"):
        seeds = per_seed[(per_seed.scenario == scenario) & (per_seed.period == "run")]
        assert list(seeds.sort_values("seed_index").seed) == derive_seeds(0, 4)


def test_paired_differences_have_the_expected_sign(compared):
    out, _ = compared
    run = pd.read_csv(out / "tables" / "run.csv", index_col="outcome")
    diff = "title42_off - historical"
    # no expulsions at all without Title 42: the difference is minus the historical mean
    assert run.loc["title42_expulsions", "historical mean"] > 0
    assert run.loc["title42_expulsions", diff] == -run.loc["title42_expulsions",
                                                           "historical mean"]
    assert run.loc["title42_expulsions", f"{diff} high"] < 0
    # processed under Title 8 instead: more people released, the whole interval above 0
    assert run.loc["releases", f"{diff} low"] > 0
    years = pd.read_csv(out / "tables" / "FY2021.csv", index_col="outcome")
    assert years.loc["releases", f"{diff} low"] > 0
    # the whole run's figures are the fiscal years' combined
    fy20 = pd.read_csv(out / "tables" / "FY2020.csv", index_col="outcome")
    assert run.loc["encounters", "historical mean"] == pytest.approx(
        fy20.loc["encounters", "historical mean"] + years.loc["encounters", "historical mean"])
    assert run.loc["court_backlog", "historical mean"] == years.loc["court_backlog",
                                                                    "historical mean"]


def test_costs_are_the_quantities_priced_at_the_unit_costs(compared):
    out, stdout = compared
    assert "cost_total_usd" in stdout
    per_seed = pd.read_csv(out / "tables" / "per_seed.csv")
    units = pd.read_csv(out / "tables" / "unit_costs.csv").set_index("item")
    run = per_seed[per_seed.period == "run"]
    for item in units.index:
        quantity = run[units.loc[item, "quantity"]]
        assert np.allclose(run[f"cost_{item}_usd"], quantity * units.loc[item, "unit_cost_usd"])
    assert np.allclose(run["cost_total_usd"], run[[f"cost_{i}_usd" for i in units.index]].sum(axis=1))
    # bed-days are the average daily population times the days; flight hours 5.5 a flight
    fy21 = per_seed[per_seed.period == "FY2021"]
    assert np.allclose(fy21["detention_bed_days"], fy21["detention_population"] * 365)
    assert np.allclose(fy21["flight_hours"], fy21["flights"] * 5.5)
    # whole-run costs are the fiscal years' summed
    years = per_seed[per_seed.period != "run"].groupby(["scenario", "seed_index"])
    assert np.allclose(years["cost_total_usd"].sum().to_numpy(),
                       run.sort_values(["scenario", "seed_index"])["cost_total_usd"])
    # Title 42 off: more people held and heard, so the run costs more
    table = pd.read_csv(out / "tables" / "run.csv", index_col="outcome")
    assert table.loc["cost_total_usd", "title42_off - historical low"] > 0


def test_a_costs_file_overrides_the_defaults(tmp_path):
    mine = tmp_path / "costs.toml"
    mine.write_text('[items.detention]\nunit_cost = 200.0\n'
                    '[items.meals]\nlabel = "Meals"\nquantity = "meals"\n'
                    'columns = ["cbp_custody"]\nper_unit = 3\nper_unit_source = "3 a day"\n'
                    'unit = "meal"\nunit_cost = 4.5\nsource = "mine"\n')
    items = {i.key: i for i in costs.load_costs(mine)}
    assert items["detention"].unit_cost == 200.0 and items["detention"].unit == "bed-day"
    assert items["flights"].unit_cost == 8600  # untouched
    years = pd.DataFrame({"days": [365, 366], "cbp_custody": [1000.0, 10.0],
                          "detention_population": [2.0, 1.0]}, index=["FY2019", "FY2020"])
    priced = costs.price(years, [items["meals"], items["detention"]])
    assert list(priced["meals"]) == [3 * 365 * 1000.0, 3 * 366 * 10.0]
    assert list(priced["cost_detention_usd"]) == [200.0 * 730, 200.0 * 366]
    assert list(priced["cost_total_usd"]) == list(priced["cost_meals_usd"]
                                                  + priced["cost_detention_usd"])


BAD_COSTS = [
    ('[items.detention]\nunit_cost = -1\n', "items.detention.unit_cost: expected a number >= 0"),
    ('[items.detention]\nunit_cost = "cheap"\n', "items.detention.unit_cost: expected a number"),
    ('[items.detention]\ncolumns = ["detenton_population"]\n',
     "items.detention.columns: unknown column 'detenton_population'"),
    ('[items.detention]\ncolumns = ["court_backlog"]\n', "'court_backlog' is a period-end stock"),
    ('[items.detention]\nprice = 3\n', "items.detention.price: unknown field"),
    ('[items.new]\nunit_cost = 3\n', "items.new.label: missing"),
    ('[items.detention]\nper_unit = 2\n', "items.detention.per_unit_source: missing"),
    ('[items.detention]\nquantity = "flight_hours"\n', "'flight_hours' is already items.detention's name"),
    ('[items.detention]\nquantity = "encounters"\n', "'encounters' is already an outcome's name"),
    ("currency = 'EUR'\n", "currency: unknown key"),
    ("[items.detention\n", "not valid TOML"),
    ("items = 3\n", "items: no [items.NAME] tables"),
    ("[items]\ndetention = 3\n", "items.detention: expected a [items.NAME] table"),
]


@pytest.mark.parametrize("body, what", BAD_COSTS, ids=[w for _, w in BAD_COSTS])
def test_a_bad_costs_file_is_refused_in_one_line(tmp_path, capsys, monkeypatch, body, what):
    monkeypatch.setattr(compare, "run_comparison", lambda *a, **k: pytest.fail("it ran"))
    mine = tmp_path / "costs.toml"
    mine.write_text(body)
    out = tmp_path / "out"
    assert cli.main(["compare", "historical", "title42_off", "--costs", str(mine),
                     "--out", str(out)]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert line.startswith(f"error: {mine}: ") and what in line, line
    assert not out.exists()


def test_the_paired_interval_shrinks_as_seeds_grow(tmp_path):
    """16 seeds against 4: with the same spread the interval is 3x narrower (t and the
    square root of n). Four seeds alone can happen to agree (the first four of these
    did, with a sd a third of the sixteen's), so the 16-seed interval is measured against
    the mean width over the four disjoint groups of 4 seeds of the same runs."""
    plan = compare.plan_comparison(["historical", "mexico_accepts_families"], seeds=16,
                                   scale=500, posterior=0, start=START, end=END,
                                   out_dir=tmp_path / "seeds16")
    report = compare.run_comparison(plan, workers=2, processes=False, progress=False)
    assert not report.failed
    per_seed = compare.per_seed_outcomes(compare.load_runs(plan))
    summary = compare.summarise(per_seed, plan.labels)
    row = summary[(summary.period == "FY2021") & (summary.outcome == "releases")
                  & (summary.statistic == "difference")].iloc[0]
    assert row.seeds == 16
    assert row.high < 0  # Mexico takes families back: fewer are released
    year = per_seed[per_seed.period == "FY2021"].sort_values("seed_index")
    base, other = (year[year.scenario == label].releases.to_numpy() for label in plan.labels)
    groups = [compare.paired_difference(base[i::4], other[i::4]) for i in range(4)]
    four = np.mean([g.high - g.low for g in groups])
    assert row.high - row.low < four / 1.5, (row.high - row.low, four)


def test_t_interval_matches_scipy():
    values = [3.0, 7.5, 4.25, 6.0, 5.5]
    got = compare.t_interval(values)
    sem = np.std(values, ddof=1) / np.sqrt(len(values))
    low, high = stats.t.interval(0.95, len(values) - 1, loc=np.mean(values), scale=sem)
    assert (got.mean, got.n) == (pytest.approx(5.25), 5)
    assert got.low == pytest.approx(low) and got.high == pytest.approx(high)

    base, other = [10.0, 12.0, 14.0, 16.0], [11.0, 14.0, 15.0, 19.0]  # differences 1, 2, 1, 3
    paired = compare.paired_difference(base, other)
    sem = np.std([1, 2, 1, 3], ddof=1) / 2
    low, high = stats.t.interval(0.95, 3, loc=1.75, scale=sem)
    assert paired.mean == pytest.approx(1.75)
    assert (paired.low, paired.high) == (pytest.approx(low), pytest.approx(high))
    assert compare.t_interval([2.0, 2.0, 2.0]) == compare.Interval(2.0, 2.0, 2.0, 3)
    with pytest.raises(ValueError):
        compare.t_interval([1.0])
    with pytest.raises(ValueError):
        compare.paired_difference([1.0, 2.0], [1.0, 2.0, 3.0])


BAD = [
    (["historical", "histerical"], "histerical.toml: no such scenario file"),
    (["historical", "nowhere/mine.toml"], "mine.toml: no such scenario file"),
    (["historical"], "compare needs at least two scenarios, got 1"),
    (["historical", "historical"], "historical and historical are the same scenario"),
    (["historical", "title42_off", "--seeds", "1"], "--seeds must be >= 2, got 1"),
    (["historical", "title42_off", "--seeds", "many"], "--seeds must be a whole number"),
    (["historical", "title42_off", "--scale", "0"], "--scale must be >= 1, got 0"),
    (["historical", "title42_off", "--scale", "100000000"], "too coarse"),
    (["historical", "title42_off", "--master-seed", "-1"], "--master-seed must be >= 0"),
    (["historical", "title42_off", "--end", "2030-01-01"], "2030-01-01"),
    (["historical", "title42_off", "--workers", "2", "--scheduler", "tcp://x:1"],
     "not allowed with"),
    (["historical", "title42_off", "--nonsense"], "unrecognized arguments: --nonsense"),
]


@pytest.mark.parametrize("args, what", BAD, ids=[" ".join(a[1:]) or a[0] for a, _ in BAD])
def test_bad_input_is_refused_in_one_line_before_anything_runs(tmp_path, capsys, monkeypatch,
                                                               args, what):
    monkeypatch.setattr(compare, "run_comparison", lambda *a, **k: pytest.fail("it ran"))
    out = tmp_path / "out"
    try:
        status = cli.main(["compare", *args, "--out", str(out)])
    except SystemExit as exc:  # argparse's refusals
        status = exc.code
    captured = capsys.readouterr()
    assert status == 2
    assert what in one_error_line(captured.err)
    assert captured.out == ""
    assert not out.exists()


def test_a_folder_holding_another_comparison_is_refused(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "spec.toml").write_text("seeds = 3\n")
    with pytest.raises(compare.CompareError, match="holds another comparison"):
        compare.plan_comparison(["historical", "title42_off"], out_dir=out, scale=500)
    (out / "spec.toml").unlink()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(compare.CompareError, match="is not empty"):
        compare.plan_comparison(["historical", "title42_off"], out_dir=out, scale=500)


def test_scenarios_running_different_dates_are_refused(tmp_path, monkeypatch):
    real = compare.load_scenario

    def title42_off_ends_early(text, start=None, end=None):  # as a file with another end would
        early = "2020-12-31" if text == "title42_off" else None
        return real(text, start=start, end=end or early)

    monkeypatch.setattr(compare, "load_scenario", title42_off_ends_early)
    with pytest.raises(compare.CompareError, match="historical runs 2018-10-01 to 2021-12-31 "
                                                   "but title42_off runs 2018-10-01 to "
                                                   "2020-12-31: give --start and --end"):
        compare.plan_comparison(["historical", "title42_off"], out_dir=tmp_path / "out")
    plan = compare.plan_comparison(["historical", "title42_off"], end="2020-06-30", scale=500,
                                   out_dir=tmp_path / "out")
    assert (plan.first_day, plan.last_day) == ("2018-10-01", "2020-06-30")
    assert not (tmp_path / "out").exists()


def test_help_gives_the_defaults():
    text = cli.build_parser()._subparsers._group_actions[0].choices["compare"].format_help()
    assert "(default 10)" in text and "(default 20)" in text


def test_a_scenario_path_and_the_defaults(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = ROOT / "scenarios" / "title42_off.toml"
    plan = compare.plan_comparison(["historical", str(path)])
    assert plan.labels == ["historical", "title42_off"]
    assert plan.sweep.scenarios == ["historical", str(path)]
    assert plan.out_dir == Path("runs") / "compare-historical-title42_off"
    assert plan.sweep.seeds == derive_seeds(0, 10) and plan.sweep.scale == 20
    assert [t.seed for t in plan.sweep.runs] == derive_seeds(0, 10) * 2
    assert not (tmp_path / "runs").exists()


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    """A small sweep (two values of Tucson's apprehension, 3 seeds) to compare from."""
    from experiments import load_spec, runner

    folder = tmp_path_factory.mktemp("swept")
    spec = folder / "tucson.toml"
    spec.write_text(f'scenarios = ["historical"]\nseeds = 3\nscale = 500\nstart = {START}\n'
                    f'end = {END}\n[vary]\n"apprehension_prob.tucson" = [0.6, 0.9]\n')
    report = runner.run_sweep(load_spec(spec), folder / "sweep", workers=2, processes=False,
                              progress=False)
    assert not report.failed and len(report.finished) == 6
    return folder / "sweep"


def test_compare_from_a_sweep_reads_its_runs_and_runs_nothing(swept, tmp_path, capsys,
                                                              monkeypatch):
    from experiments import runner

    monkeypatch.setattr(runner, "run_sweep", lambda *a, **k: pytest.fail("it ran"))
    low, high = "historical:apprehension_prob.tucson=0.6", "historical:apprehension_prob.tucson=.9"
    out = tmp_path / "report"
    assert cli.main(["compare", low, high, "--from", str(swept), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"runs from {swept}" in printed and "3 seeds" in printed
    per_seed = pd.read_csv(out / "tables" / "per_seed.csv")
    assert set(per_seed.scenario) == {low, high}
    manifest = json.loads((swept / "manifest.json").read_text())
    for label, value in ((low, 0.6), (high, 0.9)):
        ids = [r["run_id"] for r in sorted(manifest["runs"], key=lambda r: r["seed_index"])
               if r["values"]["apprehension_prob.tucson"] == value]
        direct = [pd.read_parquet(swept / "runs" / f"{i}.parquet") for i in ids]
        encounters = [d[(d.kind == "fiscal_year") & (d.column == "encounters")].value.sum()
                      for d in direct]
        mine = per_seed[(per_seed.scenario == label) & (per_seed.period == "run")]
        assert list(mine.sort_values("seed_index").encounters) == encounters
    assert json.loads((out / "selection.json").read_text())["from"] == str(swept.resolve())
    # the same command again makes the same report; another selection is refused there
    assert cli.main(["compare", low, high, "--from", str(swept), "--out", str(out)]) == 0
    with pytest.raises(compare.CompareError, match="holds another comparison"):
        compare.plan_from_sweep([high, low], swept, out_dir=out)


FROM_BAD = [
    (["historical", "historical:apprehension_prob.tucson=0.9"],
     "historical: matches 2 design points of"),
    (["historical:tucson=0.6", "historical:apprehension_prob.tucson=0.9"],
     "'tucson=0.6': expected key=value with a key the sweep varied (apprehension_prob.tucson)"),
    (["title42_off", "historical:apprehension_prob.tucson=0.9"],
     "title42_off: no run of"),
    (["historical:apprehension_prob.tucson=0.6", "historical:apprehension_prob.tucson=0.60"],
     "are the same runs"),
    (["historical:apprehension_prob.tucson=0.6", "historical:apprehension_prob.tucson=0.9",
      "--seeds", "5"], "the sweep's runs set the seeds, scale, dates and posterior draws; drop --seeds"),
]


@pytest.mark.parametrize("args, what", FROM_BAD, ids=[w[:30] for _, w in FROM_BAD])
def test_compare_from_refuses_what_it_cannot_pick(swept, tmp_path, capsys, args, what):
    out = tmp_path / "out"
    assert cli.main(["compare", *args, "--from", str(swept), "--out", str(out)]) == 2
    assert what in one_error_line(capsys.readouterr().err)
    assert not out.exists()


def test_compare_from_refuses_unfinished_runs_and_non_sweeps(swept, tmp_path):
    copy = tmp_path / "copy"
    import shutil

    shutil.copytree(swept, copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["runs"][0]["status"] = "failed"
    (copy / "manifest.json").write_text(json.dumps(manifest))
    value = manifest["runs"][0]["values"]["apprehension_prob.tucson"]
    with pytest.raises(compare.CompareError, match="1 of its 3 runs in .* are not finished"):
        compare.plan_from_sweep([f"historical:apprehension_prob.tucson={value}",
                                 f"historical:apprehension_prob.tucson={1.5 - value}"], copy,
                                out_dir=tmp_path / "out")
    with pytest.raises(compare.CompareError, match=r"^--from .*nowhere: no such folder$"):
        compare.plan_from_sweep(["a", "b"], tmp_path / "nowhere", out_dir=tmp_path / "out")
    (tmp_path / "empty").mkdir()
    with pytest.raises(compare.CompareError, match=r"^--from .*empty: holds no sweep"):
        compare.plan_from_sweep(["a", "b"], tmp_path / "empty", out_dir=tmp_path / "out")
    del manifest["seeds"]
    (copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(compare.CompareError, match=r"manifest.json: not a sweep manifest"):
        compare.plan_from_sweep(["a", "b"], copy, out_dir=tmp_path / "out")
