"""Exploration as EMA Workbench users know it: `simulate(set=...)` with the flat keys of
specs, specs crossing [levers] with sampled [uncertainties], the EMA `Model` adapter
driven by the real `ema_workbench.perform_experiments`, and `run.py discover` (PRIM,
feature scores, robustness) end to end on a small real sweep. Short runs at a coarse
scale (FY2019's first months at scale 200) keep the file fast."""

import json
import warnings

import numpy as np
import pandas as pd
import pytest

from helpers import one_error_line

import run as cli
from experiments import parse_spec
from experiments.outcomes import OutcomeError, parse_condition, parse_name
from experiments.spec import SpecError
from model import ScenarioError, simulate

SCALE = 200
END = "2019-03-31"
SPEC = f"""
description = "levers x uncertainties, small"
scenarios = ["historical"]
seeds = 1
scale = {SCALE}
end = {END}
samples = 6
[levers]
"policies.mpp_2019.enabled" = [true, false]
[uncertainties]
"departure_sensitivity" = {{low = 0.5, high = 4.0}}
"apprehension_prob.tucson" = {{low = 0.6, high = 0.9}}
"""


# --- simulate(set=...) --------------------------------------------------------------------

def test_simulate_set_is_the_flat_form_of_params_and_policies():
    flat = simulate("historical", scale=SCALE, end="2019-01-31",
                    set={"apprehension_prob.tucson": np.float64(0.6),
                         "departure_sensitivity": 3.5,
                         "policies.mpp_2019.start": "2019-01-10"})
    nested = simulate("historical", scale=SCALE, end="2019-01-31",
                      params={"apprehension_prob": {"tucson": 0.6},
                              "departure_sensitivity": 3.5},
                      policies={"mpp_2019": {"start": "2019-01-10"}})
    plain = simulate("historical", scale=SCALE, end="2019-01-31")
    assert flat.scenario.parameters["apprehension_prob"]["tucson"] == 0.6
    pd.testing.assert_frame_equal(flat.monthly, nested.monthly)
    assert not flat.monthly.equals(plain.monthly)


@pytest.mark.parametrize("values, message", [
    ({"apprehension_prob.tucson": 1.5},
     r"^set: apprehension_prob\.tucson: 1\.5 is not a probability"),
    ({"policies.title42.end": "2021-13-01"}, r"^set: policies\.title42\.end: expected a date"),
    ({"policies.titel42.end": "2021-03-31"}, r"^set: policies\.titel42\.end: unknown policy id"),
    ({"detention_beds": 0.5}, r"^set: detention_beds: expected a whole number"),
    ({"nope": 1}, r"^set: nope: unknown parameter"),
    ({"apprehension_prob": {"tucson": 0.8}}, r"^set: apprehension_prob: expected a number"),
    ({"a=b": 1}, r"^set: 'a=b': expected a flat key"),
    ({3: 1}, r"^set: 3: expected a flat key"),
    ("apprehension_prob.tucson=0.8", r"^set: expected a dict"),
])
def test_simulate_set_refuses_a_bad_key_or_value_naming_it(values, message):
    with pytest.raises(ScenarioError, match=message):
        simulate("historical", scale=SCALE, end="2019-01-31", set=values)


# --- specs: [levers] x [uncertainties] ----------------------------------------------------

def test_a_spec_crosses_every_lever_combination_with_the_same_uncertainty_samples(tmp_path):
    sweep = parse_spec(SPEC.replace("seeds = 1", "seeds = 2"), tmp_path / "s.toml")
    assert sweep.lever_keys == ["policies.mpp_2019.enabled"]
    assert sweep.uncertainty_keys == ["departure_sensitivity", "apprehension_prob.tucson"]
    assert sweep.design == "lhs" and len(sweep.points) == 2 * 6 and len(sweep.runs) == 24
    samples = {}
    for task in sweep.runs:
        lever = task.values["policies.mpp_2019.enabled"]
        drawn = (task.values["departure_sensitivity"], task.values["apprehension_prob.tucson"])
        samples.setdefault(lever, set()).add(drawn)
        assert f"policies.mpp_2019.enabled={'true' if lever else 'false'}" in task.overrides
        assert 0.5 <= drawn[0] <= 4.0 and 0.6 <= drawn[1] <= 0.9
    assert samples[True] == samples[False] and len(samples[True]) == 6
    # the same spec makes the same runs (its Latin hypercube comes from master_seed)
    again = parse_spec(SPEC.replace("seeds = 1", "seeds = 2"), tmp_path / "s.toml")
    assert [t.run_id for t in again.runs] == [t.run_id for t in sweep.runs]
    levers_only = parse_spec(SPEC.split("samples")[0] + '[levers]\n"detention_beds" = '
                             '{low = 20000, high = 40000, steps = 3}\n', tmp_path / "l.toml")
    assert levers_only.design == "grid"
    assert [p["detention_beds"] for p in levers_only.points] == [20000, 30000, 40000]


@pytest.mark.parametrize("change, message", [
    (lambda s: s + '[vary]\n"detention_beds" = [1, 2]\n', r"vary: not with \[levers\]"),
    (lambda s: s + '"policies.mpp_2019.enabled" = {low = 0.1, high = 0.2}\n',
     r"uncertainties\.policies\.mpp_2019\.enabled: also a lever"),
    (lambda s: s.replace("samples = 6\n", ""), r"samples: missing"),
    (lambda s: s.replace("samples = 6", 'samples = 6\ndesign = "grid"'),
     r"design: 'grid' with \[uncertainties\]"),
    (lambda s: s.replace("[true, false]", "{low = 0, high = 1}"),
     r"levers\.policies\.mpp_2019\.enabled: steps missing"),
    (lambda s: s.replace("low = 0.6, high = 0.9", "low = 0.6, high = 1.5"),
     r"uncertainties\.apprehension_prob\.tucson: value 1\.\d+ refused .*probability"),
    (lambda s: s.replace('"departure_sensitivity" = {low = 0.5, high = 4.0}\n'
                         '"apprehension_prob.tucson" = {low = 0.6, high = 0.9}\n', ""),
     r"uncertainties: empty table"),
    (lambda s: s + '[sensitivity]\noutputs = ["encounters"]\n', r"sensitivity: not with"),
    (lambda s: s.replace("samples = 6", "samples = 100000"), r"would make 200,000 runs"),
])
def test_a_bad_crossed_spec_is_refused_naming_the_key(tmp_path, change, message):
    with pytest.raises(SpecError, match=message) as caught:
        parse_spec(change(SPEC), tmp_path / "bad.toml")
    assert str(caught.value).startswith(f"{tmp_path / 'bad.toml'}: ")
    assert "\n" not in str(caught.value)


# --- outcomes -----------------------------------------------------------------------------

def test_outcome_conditions_are_parsed_not_evaluated():
    c = parse_condition("  FY2021.encounters>=1.7e6 ")
    assert (c.name.fiscal_year, c.name.column, c.op, c.threshold) == (2021, "encounters",
                                                                      ">=", 1.7e6)
    assert c.met(np.array([1.6e6, 1.7e6, 1.8e6])).tolist() == [False, True, True]
    assert parse_name("FY2019.releases").text == "FY2019.releases"
    for text in ["FY2021.encounters > 1.7e6 or True", "__import__('os').system('x') > 1",
                 "FY2021.encounters == 5", "FY21.encounters > 1", "FY2021.encounters > nan",
                 "FY2021.encounters > 1e999", "FY2021.encounter > 1", "x" * 500]:
        with pytest.raises(OutcomeError):
            parse_condition(text)


# --- EMA Workbench -------------------------------------------------------------------------

def test_the_ema_model_runs_in_ema_workbench_perform_experiments():
    from ema_workbench import SequentialEvaluator, perform_experiments

    from experiments.ema import border_model

    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)  # the adapter's names warn nothing
        model = border_model("historical", scale=SCALE, end="2019-01-31", seed=3,
                             uncertainties={"departure_sensitivity": (0.5, 4.0),
                                            "detention_beds": {"low": 20000, "high": 50000}},
                             levers={"policies.mpp_2019.enabled": [True, False],
                                     "policies.mpp_2019.start": ["2019-01-10", "2019-01-28"]},
                             outcomes=["FY2019.encounters", "FY2019.releases"])
    experiments, outcomes = perform_experiments(model, scenarios=2, policies=2,
                                                evaluator=SequentialEvaluator(model))
    assert len(experiments) == 4
    for key in ("departure_sensitivity", "detention_beds", "policies.mpp_2019.enabled",
                "policies.mpp_2019.start"):
        assert key in experiments.columns
    assert experiments["detention_beds"].dtype.kind == "i"
    assert set(outcomes) == {"FY2019.encounters", "FY2019.releases"}
    assert np.all(outcomes["FY2019.encounters"] > 0)
    # an experiment's outcome is simulate()'s with the same values set
    row = experiments.iloc[3]
    values = {k: row[k] for k in ("departure_sensitivity", "detention_beds",
                                  "policies.mpp_2019.enabled", "policies.mpp_2019.start")}
    direct = simulate("historical", scale=SCALE, end="2019-01-31", seed=3, set=values)
    assert outcomes["FY2019.encounters"][3] == direct.fiscal_years().loc[2019, "encounters"]


@pytest.mark.parametrize("kwargs, message", [
    ({"outcomes": ["FY2021.encounters"]}, r"outcomes: FY2021\.encounters: FY2021 is not in "
                                          r"the run"),
    ({"outcomes": ["encounters"]}, r"outcomes: 'encounters': expected FYyyyy\.column"),
    ({"uncertainties": {"apprehension_prob.tucson": (0.5, 1.5)}},
     r"uncertainties: apprehension_prob\.tucson: 1\.5 refused"),
    ({"levers": {"policies.titel42.end": ["2021-03-31", "2021-06-30"]}},
     r"levers: policies\.titel42\.end: .*unknown policy id"),
    ({"uncertainties": {"departure_sensitivity": (2.0, 1.0)}}, r"low 2\.0 is not below high"),
    ({"levers": {"departure_sensitivity": [1.0]}}, r"two or more different values"),
])
def test_the_ema_model_refuses_bad_inputs_before_running(kwargs, message):
    from experiments.ema import border_model

    with pytest.raises(ScenarioError, match=message):
        border_model("historical", scale=SCALE, end=END, **{"outcomes": ["FY2019.encounters"],
                                                            **kwargs})


# --- run.py discover ----------------------------------------------------------------------

def run_spec(text: str, folder):
    from experiments.runner import run_sweep

    spec = folder / "spec.toml"
    spec.parent.mkdir(parents=True, exist_ok=True)
    spec.write_text(text)
    sweep = parse_spec(text, spec)
    out = folder / "sweep"
    report = run_sweep(sweep, out, workers=1, processes=False, progress=False)
    assert not report.failed
    return out


@pytest.fixture(scope="module")
def small_sweep(tmp_path_factory):
    """A real levers x uncertainties sweep: 2 lever combinations x 6 samples, 12 runs."""
    return run_spec(SPEC, tmp_path_factory.mktemp("explore"))


def encounters(sweep_dir, column: str = "encounters") -> pd.Series:
    """FY2019's `column` of each run of the sweep, read straight from its run files."""
    files = sorted((sweep_dir / "runs").glob("*.parquet"))
    long = pd.concat(pd.read_parquet(f) for f in files)
    rows = long[(long["kind"] == "fiscal_year") & (long["column"] == column)]
    return rows.set_index("run_id")["value"]


def test_discover_finds_the_box_and_writes_tables_plots_and_a_page(small_sweep, capsys,
                                                                     tmp_path):
    values = encounters(small_sweep)
    threshold = float(values.median())
    outcome = f"FY2019.encounters > {threshold:.1f}"
    assert cli.main(["discover", str(small_sweep), "--outcome", outcome]) == 0
    printed = capsys.readouterr().out
    folder = small_sweep / "discover"
    assert f"12 finished runs; {int((values > threshold).sum())} meet" in printed
    assert "PRIM box" in printed and "coverage" in printed
    cases = pd.read_csv(folder / "tables" / "cases.csv")
    assert len(cases) == 12 and cases["met"].sum() == (values > threshold).sum()
    box = pd.read_csv(folder / "tables" / "prim_box.csv")
    # encounters follow how strongly departures answer experience: the box bounds it
    assert "departure_sensitivity" in set(box["input"])
    trajectory = pd.read_csv(folder / "tables" / "prim_trajectory.csv")
    marker = json.loads((folder / "discover.json").read_text())
    chosen = trajectory.loc[marker["box"]["coverage"] == trajectory["coverage"]]
    assert marker["box"]["density"] >= 0.8 or trajectory["density"].max() < 0.8
    assert len(chosen) >= 1
    # the box's runs, as cases.csv marks them, give the coverage and density reported
    inside = cases[cases["in_box"]]
    assert inside["met"].mean() == pytest.approx(marker["box"]["density"], abs=1e-6)
    assert inside["met"].sum() / cases["met"].sum() == pytest.approx(marker["box"]["coverage"],
                                                                     abs=1e-6)
    scores = pd.read_csv(folder / "tables" / "feature_scores.csv")
    assert set(scores["input"]) == {"policies.mpp_2019.enabled", "departure_sensitivity",
                                    "apprehension_prob.tucson"}
    assert scores.iloc[0]["input"] == "departure_sensitivity"
    robust = pd.read_csv(folder / "tables" / "robustness.csv")
    assert len(robust) == 2 and set(robust["runs"]) == {6}
    assert robust["futures_compared"].tolist() == [6, 6]
    assert robust["mean_regret"].min() == 0 or robust["max_regret"].min() >= 0
    for name in ("prim_tradeoff", "prim_box", "feature_scores"):
        assert (folder / "plots" / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page = (folder / "discover.html").read_text()
    assert page.count('src="data:image/png;base64,') == 3
    assert "http://" not in page and "https://" not in page  # offline: nothing fetched
    assert "departure_sensitivity" in page
    # the same discovery again replaces its files; another outcome needs another --out
    assert cli.main(["discover", str(small_sweep), "--outcome", outcome]) == 0
    capsys.readouterr()
    releases = float(encounters(small_sweep, "releases").median())
    assert cli.main(["discover", str(small_sweep), "--outcome",
                     f"FY2019.releases < {releases}"]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert "holds the discovery of" in line
    other = tmp_path / "elsewhere"
    assert cli.main(["discover", str(small_sweep), "--outcome", f"FY2019.releases < "
                     f"{releases}", "--out", str(other)]) == 0
    assert "robustness per lever combination" in capsys.readouterr().out
    assert json.loads((other / "discover.json").read_text())["prefer"] == "high"


def test_discover_refuses_bad_input_in_one_line(small_sweep, capsys, tmp_path):
    values = encounters(small_sweep)
    cases = [
        ([str(tmp_path / "nowhere"), "--outcome", "FY2019.encounters > 1"], "no such folder"),
        ([str(tmp_path), "--outcome", "FY2019.encounters > 1"], "holds no sweep"),
        ([str(small_sweep), "--outcome", "FY2019.encounters > lots"], "expected FYyyyy.column OP"),
        ([str(small_sweep), "--outcome", "import os"], "expected FYyyyy.column OP"),
        ([str(small_sweep), "--outcome", "FY2021.encounters > 1"], "FY2021 is not in the runs"),
        ([str(small_sweep), "--outcome", f"FY2019.encounters > {values.max() + 1:.0f}"],
         "none of the 12 finished runs meets it"),
        ([str(small_sweep), "--outcome", f"FY2019.encounters >= {values.min():.0f}"],
         "all 12 finished runs meet it"),
        ([str(small_sweep), "--outcome", "FY2019.encounters > 1", "--min-density", "2"],
         "--min-density: must be between 0 and 1"),
        ([str(small_sweep), "--outcome", "FY2019.encounters > 1", "--prefer", "middle"],
         "argument --prefer: invalid choice"),
        ([str(small_sweep)], "the following arguments are required: --outcome"),
    ]
    before = sorted(p.name for p in small_sweep.iterdir())
    for argv, message in cases:
        try:
            code = cli.main(["discover", *argv])
        except SystemExit as exc:  # argparse's refusals: one line too, exit status 2
            code = exc.code
        assert code == 2, argv
        line = one_error_line(capsys.readouterr().err)
        assert message in line, (argv, line)
    assert sorted(p.name for p in small_sweep.iterdir()) == before  # nothing written


def test_discover_refuses_a_sweep_without_varied_inputs(tmp_path, capsys):
    head = (SPEC.split("samples")[0].replace(f"end = {END}", "end = 2018-10-31")
            .replace(f"scale = {SCALE}", "scale = 100"))  # one month: at most scale 124
    plain = run_spec(head, tmp_path / "none")
    assert cli.main(["discover", str(plain), "--outcome", "FY2019.encounters > 1"]) == 2
    assert "varied no inputs" in one_error_line(capsys.readouterr().err)
    one = run_spec(head + '[vary]\n"policies.mpp_2019.enabled" = [true]\n', tmp_path / "one")
    assert cli.main(["discover", str(one), "--outcome", "FY2019.encounters > 1"]) == 2
    assert "no input differs between its 1 finished runs" in one_error_line(
        capsys.readouterr().err)


def test_ctrl_c_during_discover_is_one_line(small_sweep, capsys, monkeypatch, tmp_path):
    from experiments import discover

    def ctrl_c(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(discover, "discover", ctrl_c)
    out = tmp_path / "out"
    middle = float(encounters(small_sweep).median())
    assert cli.main(["discover", str(small_sweep), "--outcome", f"FY2019.encounters > {middle}",
                     "--out", str(out)]) == 130
    assert capsys.readouterr().err == "interrupted\n"
    assert not out.exists()
