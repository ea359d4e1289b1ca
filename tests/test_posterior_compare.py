"""Comparisons that carry the posterior: `run.py compare --posterior N --seeds-per-draw K`,
specs' `posterior = N`, the report's intervals over draws and its variance split, and
`--posterior 0` as before.

One real comparison (2 draws x 2 seeds, historical against title42_off, six months at
scale 500, threads in this process); the rest plans without running.
"""

import contextlib
import hashlib
import io
import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import run as cli  # noqa: E402
from experiments import compare, derive_seeds  # noqa: E402
from experiments.spec import SpecError, parse_spec, run_id  # noqa: E402
from helpers import one_error_line  # noqa: E402

START, END = "2020-10-01", "2021-03-31"
WINDOW = ["--scale", "500", "--start", START, "--end", END]
POSTERIOR = ROOT / "calibration" / "posterior.parquet"


@pytest.fixture(scope="module")
def drawn(tmp_path_factory):
    """`run.py compare historical title42_off --posterior 2 --seeds-per-draw 2`, its runs
    on threads of this process (a LocalCluster's start is most of a small comparison)."""
    out = tmp_path_factory.mktemp("posterior") / "report"
    real = compare.run_comparison
    printed = io.StringIO()
    with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stdout(printed):
        patch.setattr(compare, "run_comparison", lambda plan, **kwargs: real(
            plan, workers=2, processes=False, progress=False))
        status = cli.main(["compare", "historical", "title42_off", "--posterior", "2",
                           "--seeds-per-draw", "2", *WINDOW, "--out", str(out)])
    assert status == 0
    return out, printed.getvalue()


def test_run_j_uses_draw_j_and_seed_j_in_every_scenario(drawn):
    out, _ = drawn
    per_seed = pd.read_csv(out / "tables" / "per_seed.csv")
    assert list(per_seed.columns[:5]) == ["scenario", "seed_index", "draw", "seed", "period"]
    for scenario in ("historical", "title42_off"):
        runs = per_seed[(per_seed.scenario == scenario) & (per_seed.period == "run")]
        runs = runs.sort_values("seed_index")
        assert list(runs.seed) == derive_seeds(0, 4)
        assert list(runs["draw"]) == [0, 0, 1, 1]
    for file in (out / "runs").glob("*.parquet"):  # each run's file says its draw
        run = pd.read_parquet(file, columns=["seed_index", "draw"])
        assert set(run["draw"]) == {int(run["seed_index"].iloc[0]) // 2}


def test_the_report_splits_each_difference_by_the_law_of_total_variance(drawn):
    out, _ = drawn
    summary = pd.read_csv(out / "tables" / "summary.csv")
    per_seed = pd.read_csv(out / "tables" / "per_seed.csv")
    assert {"draws", "var_total", "var_parameter", "var_chance", "parameter_share"} \
        <= set(summary.columns)
    np.testing.assert_allclose(summary.var_parameter + summary.var_chance, summary.var_total,
                               rtol=1e-9, atol=1e-6)
    row = summary[(summary.period == "FY2021") & (summary.outcome == "releases")
                  & (summary.statistic == "difference")].iloc[0]
    fy = per_seed[per_seed.period == "FY2021"].sort_values("seed_index")
    diff = (fy[fy.scenario == "title42_off"].releases.to_numpy()
            - fy[fy.scenario == "historical"].releases.to_numpy())
    draws = fy[fy.scenario == "historical"]["draw"].to_numpy()
    assert row.var_total == pytest.approx(diff.var())
    means = np.array([diff[draws == d].mean() for d in (0, 1)])
    assert row.var_parameter == pytest.approx(means.var())
    over_draws = compare.t_interval(means)  # the interval is over the draws' means
    assert (row.low, row.high) == (pytest.approx(over_draws.low), pytest.approx(over_draws.high))
    assert row.estimate > 0  # Title 42 off: more released


def test_the_report_names_the_posterior_it_used(drawn):
    out, stdout = drawn
    sha = hashlib.sha256(POSTERIOR.read_bytes()).hexdigest()
    page = (out / "report.html").read_text(encoding="utf-8")
    for text in (page, stdout):
        assert str(POSTERIOR) in text and sha in text
        assert "2 draws x 2 seeds each" in text
    assert "parameter share" in stdout and "title42_off - historical sd" in stdout


def test_posterior_split_adds_up_and_needs_two_seeds_a_draw_to_split():
    values = np.array([1.0, 3.0, 10.0, 14.0, 5.0, 5.0])
    split = compare.posterior_split(values, [0, 0, 1, 1, 2, 2])
    assert split.var_total == pytest.approx(values.var())
    assert split.var_chance == pytest.approx(np.mean([1.0, 4.0, 0.0]))
    assert split.var_parameter == pytest.approx(np.var([2.0, 12.0, 5.0]))
    assert split.var_parameter + split.var_chance == pytest.approx(split.var_total)
    assert (split.low, split.high) == (pytest.approx(compare.t_interval([2.0, 12.0, 5.0]).low),
                                       pytest.approx(compare.t_interval([2.0, 12.0, 5.0]).high))
    one_each = compare.posterior_split([1.0, 2.0, 4.0], [0, 1, 2])
    assert math.isnan(one_each.var_parameter) and math.isnan(one_each.parameter_share)
    assert one_each.var_total == pytest.approx(np.var([1.0, 2.0, 4.0]))


def test_the_posterior_is_on_by_default_and_posterior_0_plans_the_old_comparison(tmp_path):
    on = compare.plan_comparison(["historical", "title42_off"], scale=500, start=START,
                                 end=END, out_dir=tmp_path / "on")
    assert (on.draws, on.seeds_per_draw, len(on.seeds)) == (5, 2, 10)
    assert "posterior = 5" in on.sweep.text
    by_seed = {}
    for task in on.sweep.runs:  # paired: the same seed and draw in both scenarios
        by_seed.setdefault(task.seed_index, set()).add((task.seed, task.draw))
    assert all(len(pairs) == 1 for pairs in by_seed.values())
    assert [by_seed[i].pop()[1] for i in range(10)] == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]
    off = compare.plan_comparison(["historical", "title42_off"], scale=500, start=START,
                                  end=END, seeds=4, posterior=0, out_dir=tmp_path / "off")
    assert off.draws == 0 and "posterior" not in off.sweep.text
    assert all(task.draw is None for task in off.sweep.runs)
    assert [task.run_id for task in off.sweep.runs] == [  # the run ids as before draws
        run_id(name, {}, seed, 500, START, END) for name in ("historical", "title42_off")
        for seed in derive_seeds(0, 4)]
    assert off.id_columns == ["scenario", "seed_index", "seed", "period"]
    assert compare.posterior_note(off) == ""
    calibrated = [("historical", True), ("title42_off", True)]
    split = {seeds: compare.posterior_draws(calibrated, seeds, None, None)
             for seeds in (2, 3, 4, 5, 16)}  # any --seeds works with the default draws
    assert split == {2: (2, 2), 3: (3, 3), 4: (4, 2), 5: (5, 5), 16: (16, 8)}
    assert compare.posterior_draws(calibrated, 16, 8, None) == (16, 8)  # 2 seeds a draw


def uncalibrated(tmp_path) -> str:
    path = tmp_path / "plain.toml"
    path.write_text('description = "no fit"\nstart = 2018-10-01\nend = 2021-12-31\n')
    return str(path)


BAD = [
    (["--posterior", "1"], "--posterior must be 0 (the medians only) or >= 2 draws"),
    (["--posterior", "-1"], "--posterior must be >= 0, got -1"),
    (["--posterior", "two"], "--posterior must be a whole number"),
    (["--seeds-per-draw", "0"], "--seeds-per-draw must be >= 1"),
    (["--seeds", "5", "--seeds-per-draw", "2"],
     "--seeds 5 is not two or more posterior draws of --seeds-per-draw 2"),
    (["--seeds", "4", "--posterior", "3"], "--seeds 4 disagrees with --posterior 3 x "
                                           "--seeds-per-draw 1"),
    (["--seeds", "6", "--posterior", "2", "--seeds-per-draw", "2"],
     "--seeds 6 disagrees with --posterior 2 x --seeds-per-draw 2"),
]


@pytest.mark.parametrize("args, what", BAD, ids=[" ".join(a) for a, _ in BAD])
def test_a_bad_posterior_is_refused_in_one_line_before_anything_runs(
        tmp_path, capsys, monkeypatch, args, what):
    monkeypatch.setattr(compare, "run_comparison", lambda *a, **k: pytest.fail("it ran"))
    out = tmp_path / "out"
    try:
        status = cli.main(["compare", "historical", "title42_off", *args, "--out", str(out)])
    except SystemExit as exc:  # argparse's refusals
        status = exc.code
    captured = capsys.readouterr()
    assert status == 2 and captured.out == ""
    assert what in one_error_line(captured.err)
    assert not out.exists()


def test_a_scenario_without_a_calibration_runs_the_medians_or_is_refused_draws(
        tmp_path, capsys, monkeypatch):
    plain = uncalibrated(tmp_path)
    default = compare.plan_comparison(["historical", plain], scale=500, seeds=3,
                                      out_dir=tmp_path / "default")
    assert default.draws == 0  # not every scenario has a posterior: the medians
    monkeypatch.setattr(compare, "run_comparison", lambda *a, **k: pytest.fail("it ran"))
    assert cli.main(["compare", "historical", plain, "--posterior", "2", "--out",
                     str(tmp_path / "out")]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert "--posterior 2: " in line and "plain.toml names no calibration" in line
    assert not (tmp_path / "out").exists()


def test_specs_take_posterior_draws(tmp_path):
    spec = tmp_path / "spec.toml"
    text = (f'scenarios = ["historical", "title42_off"]\nseeds = 4\nposterior = 2\n'
            f'scale = 500\nstart = {START}\nend = {END}\n')
    sweep = parse_spec(text, spec)
    assert sweep.posterior == 2
    assert [t.draw for t in sweep.runs] == [0, 0, 1, 1] * 2
    assert sweep.posterior_files == [{"file": str(POSTERIOR),
                                      "sha256": hashlib.sha256(POSTERIOR.read_bytes()).hexdigest()}]
    medians = parse_spec(text.replace("posterior = 2\n", ""), spec)
    assert {t.run_id for t in medians.runs}.isdisjoint({t.run_id for t in sweep.runs})
    with pytest.raises(SpecError, match=r"spec.toml: posterior: 3 seeds do not split evenly "
                                        r"over 2 posterior draws"):
        parse_spec(text.replace("seeds = 4", "seeds = 3"), spec)
    with pytest.raises(SpecError, match=r"spec.toml: posterior: expected a whole number"):
        parse_spec(text.replace("posterior = 2", "posterior = 1.5"), spec)
    plain = uncalibrated(tmp_path)
    with pytest.raises(SpecError, match=r"posterior: scenarios\[1\] .*names no calibration"):
        parse_spec(text.replace('"title42_off"', f'"{plain}"'), spec)
    morris = parse_spec(
        'scenarios = ["historical"]\nseeds = 2\nposterior = 2\nscale = 500\n'
        f'start = {START}\nend = {END}\ndesign = "morris"\nsamples = 2\n'
        '[vary]\n"retry_days.title42" = {low = 2.0, high = 6.0}\n'
        '[sensitivity]\noutputs = ["encounters"]\n', tmp_path / "morris.toml")
    assert {t.draw for t in morris.runs} == {0, 1}  # each row runs both draws


def test_compare_from_a_folder_of_draws_keeps_them(drawn, tmp_path):
    """A comparison's folder is a sweep's: `--from` reads its draws from the manifest."""
    out, _ = drawn
    again = compare.plan_from_sweep(["historical", "title42_off"], out,
                                    out_dir=tmp_path / "again")
    assert (again.draws, again.seeds_per_draw) == (2, 2)
    assert again.posterior_files[0]["file"] == str(POSTERIOR)
    summary = compare.summarise(compare.per_seed_outcomes(compare.load_runs(again),
                                                          again.costs), again.labels)
    written = pd.read_csv(out / "tables" / "summary.csv")
    np.testing.assert_allclose(summary["high"], written["high"], rtol=1e-9)
