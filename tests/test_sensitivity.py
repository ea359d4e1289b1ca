"""`run.py sensitivity`: SALib designs in the sweep spec, checked before anything runs;
the indices recover a known answer through the whole sweep machinery; a real run
of the model gives its table, CSVs and plot."""

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import run as cli  # noqa: E402
from experiments import load_spec, runner  # noqa: E402
from experiments.sensitivity import readable_indices, write_sensitivity  # noqa: E402
from helpers import refused_before_running  # noqa: E402

SALTELLI = """\
scenarios = ["historical"]
seeds = 1
scale = 500
end = 2019-02-28
design = "saltelli"
samples = 16
[vary]
"apprehension_prob.tucson" = {low = 0.5, high = 0.9}
"detention_beds" = {low = 20000, high = 50000}
[sensitivity]
outputs = ["encounters", "releases"]
period = "run"
"""


def spec(tmp_path: Path, body: str = SALTELLI, name: str = "sens.toml") -> Path:
    path = tmp_path / name
    path.write_text(body)
    return path


def test_saltelli_rows_follow_salib_and_each_point_runs_once(tmp_path):
    sweep = load_spec(spec(tmp_path))
    assert sweep.design == "saltelli" and len(sweep.design_rows) == 16 * (2 + 2)
    tucson = [r["apprehension_prob.tucson"] for r in sweep.design_rows]
    beds = [r["detention_beds"] for r in sweep.design_rows]
    assert 0.5 <= min(tucson) and max(tucson) <= 0.9
    assert all(isinstance(b, int) and 20000 <= b <= 50000 for b in beds)
    assert len(sweep.runs) == len(sweep.points) <= len(sweep.design_rows)


def test_morris_draws_trajectories_on_the_levels(tmp_path):
    body = SALTELLI.replace('"saltelli"', '"morris"').replace("samples = 16", "samples = 5")
    body += "levels = 4\n"
    sweep = load_spec(spec(tmp_path, body))
    assert len(sweep.design_rows) == 5 * (2 + 1)
    tucson = {round(r["apprehension_prob.tucson"], 9) for r in sweep.design_rows}
    assert tucson <= {round(0.5 + k * 0.4 / 3, 9) for k in range(4)}


BAD = [
    (SALTELLI.split("[sensitivity]")[0], r"sensitivity: missing; a saltelli design needs"),
    (SALTELLI.replace('"saltelli"', '"lhs"'), r"sensitivity: only for the saltelli and morris"),
    (SALTELLI.replace('"releases"', '"relases"'), r"sensitivity.outputs: unknown column 'relases'"),
    (SALTELLI.replace('period = "run"', 'period = "FY2021"'),
     r"sensitivity.period: 'FY2021' is neither \"run\" nor a fiscal year of the run \(FY2019\)"),
    (SALTELLI.replace('period = "run"', 'perod = "run"'), r"sensitivity.perod: unknown key"),
    (SALTELLI + "levels = 3\n", r"sensitivity.levels: only for the morris design"),
    (SALTELLI.replace('"saltelli"', '"morris"') + "levels = 3\n",
     r"sensitivity.levels: expected an even whole number >= 2, got 3"),
    (SALTELLI.replace("{low = 0.5, high = 0.9}", "[0.5, 0.9]"),
     r"vary.apprehension_prob.tucson: a saltelli design varies ranges"),
    (SALTELLI.replace("{low = 0.5, high = 0.9}", "{low = 0.7, high = 0.7}"),
     r"vary.apprehension_prob.tucson: low and high are equal"),
    (SALTELLI.replace("high = 0.9", "high = 1.2"),
     r"vary.apprehension_prob.tucson: value .* refused by scenario 'historical'"),
    (SALTELLI.replace("samples = 16\n", ""), r"samples: missing; a saltelli design needs"),
]


@pytest.mark.parametrize("body, message", BAD, ids=[m.split(":")[0] + str(i)
                                                    for i, (_, m) in enumerate(BAD)])
def test_a_bad_sensitivity_spec_is_refused_before_anything_runs(tmp_path, capsys, monkeypatch,
                                                                body, message):
    path, out = spec(tmp_path, body, "bad.toml"), tmp_path / "out"
    refused_before_running(["sensitivity", str(path), "--out", str(out)], capsys, monkeypatch,
                           path, message, out)


def test_a_spec_without_a_sensitivity_design_is_refused(tmp_path, capsys, monkeypatch):
    path = spec(tmp_path, 'scenarios = ["historical"]\nscale = 500\nend = 2019-03-31\n', "g.toml")
    refused_before_running(["sensitivity", str(path), "--out", str(tmp_path / "out")], capsys,
                           monkeypatch, path, "design: 'grid' is not a sensitivity design",
                           tmp_path / "out")


def known_function(task) -> pd.DataFrame:
    """Stands in for the model: `encounters` = 100 * tucson (a linear function of one
    parameter), `releases` = tucson * beds / 1000 (an interaction), as a run's table."""
    a, b = task.values["apprehension_prob.tucson"], task.values["detention_beds"]
    rows = [("fiscal_year", "FY2019", "encounters", 100 * a),
            ("fiscal_year", "FY2019", "releases", a * b / 1000)]
    long = pd.DataFrame(rows, columns=["kind", "period", "column", "value"])
    for i, (name, value) in enumerate({"run_id": task.run_id, "scenario": task.scenario,
                                       **task.values, "seed_index": task.seed_index,
                                       "seed": task.seed, "scale": task.scale,
                                       "code": runner.code_version()}.items()):
        long.insert(i, name, value)
    return long


def test_the_indices_recover_a_known_function_through_the_sweep(tmp_path):
    """Saltelli rows -> runs (deduplicated) -> Parquet -> rows again -> SALib: only
    the parameter an output depends on gets an index, and the rows keep their order."""
    body = SALTELLI.replace("samples = 16", "samples = 64").replace(
        'period = "run"', 'period = "FY2019"')
    sweep = load_spec(spec(tmp_path, body))
    out = tmp_path / "out"
    report = runner.run_sweep(sweep, out, processes=False, progress=False, run=known_function,
                              workers=1)
    assert not report.failed
    files, indices = write_sensitivity(sweep, out)
    s = indices.set_index(["output", "parameter", "statistic"])["estimate"]
    assert s["encounters", "apprehension_prob.tucson", "S1"] == pytest.approx(1, abs=0.05)
    assert s["encounters", "detention_beds", "ST"] == pytest.approx(0, abs=1e-9)
    assert s["releases", "apprehension_prob.tucson", "ST"] > 0.3
    assert s["releases", "detention_beds", "ST"] > 0.3
    rows = pd.read_csv(files["rows"])
    assert np.allclose(rows["encounters"], 100 * rows["apprehension_prob.tucson"])
    assert files["plot historical"].read_bytes().startswith(b"\x89PNG")


def test_sensitivity_runs_the_model_and_prints_its_table(tmp_path, capsys, monkeypatch):
    """The real model, on a real (in-process) Dask cluster: Tucson's apprehension
    drives encounters in the first five months; MPP's grant probability, whose first
    hearings come after them, not at all. (Detention beds were the inert input
    once; with ICE's interior side they move who is released, and so encounters.)"""
    monkeypatch.setattr(runner, "run_sweep", lambda *a, _real=runner.run_sweep, **k: _real(
        *a, **{**k, "processes": False, "progress": False}))
    body = SALTELLI.replace("samples = 16", "samples = 4").replace(
        '"detention_beds" = {low = 20000, high = 50000}', '"mpp_grant_prob" = {low = 0.0, high = 0.5}')
    out = tmp_path / "out"
    assert cli.main(["sensitivity", str(spec(tmp_path, body)), "--out", str(out),
                     "--workers", "2"]) == 0
    printed = capsys.readouterr().out
    assert "Sobol indices over run" in printed and "S1 95% CI" in printed
    indices = pd.read_csv(out / "sensitivity" / "indices.csv")
    st = indices[indices["statistic"] == "ST"].set_index(["output", "parameter"])["estimate"]
    assert st["encounters", "apprehension_prob.tucson"] > 0.1
    assert st["encounters", "mpp_grant_prob"] == pytest.approx(0, abs=1e-9)
    assert set(indices["output"]) == {"encounters", "releases"}
    assert (out / "sensitivity" / "historical.png").is_file()
    assert len(readable_indices(indices)) == 4
    # a second call reruns nothing and gives the same indices
    assert cli.main(["sensitivity", str(spec(tmp_path, body)), "--out", str(out)]) == 0
    assert ": 0 finished," in capsys.readouterr().out
    again = pd.read_csv(out / "sensitivity" / "indices.csv")
    pd.testing.assert_frame_equal(indices, again)


@pytest.mark.parametrize("design", ["saltelli", "morris"])
def test_salib_alone_reproduces_the_indices_from_problem_json(tmp_path, design):
    """problem.json + rows.csv are enough: SALib's own sample gives the design rows,
    and its own analyze, called as problem.json says, gives indices.csv's estimates
    and intervals exactly."""
    import importlib
    import json

    body = SALTELLI.replace('period = "run"', 'period = "FY2019"')
    if design == "morris":
        body = body.replace('"saltelli"', '"morris"').replace("samples = 16", "samples = 6")
        body += "levels = 4\n"
    sweep = load_spec(spec(tmp_path, body))
    out = tmp_path / "out"
    runner.run_sweep(sweep, out, processes=False, progress=False, run=known_function,
                     workers=1)
    files, _ = write_sensitivity(sweep, out)
    record = json.loads(files["problem"].read_text())
    problem, rows = record["problem"], pd.read_csv(files["rows"])
    indices = pd.read_csv(files["indices"]).set_index(["output", "parameter", "statistic"])

    def salib(qualified: str):
        module, name = qualified.rsplit(".", 1)
        return getattr(importlib.import_module(module), name)

    sample = {k: v for k, v in record["sample"].items()
              if k not in ("function", "rounded_to_whole_numbers")}
    x = salib(record["sample"]["function"])(problem, **sample)
    for j, name in enumerate(problem["names"]):
        if name in record["sample"]["rounded_to_whole_numbers"]:
            x[:, j] = np.round(x[:, j])
    assert np.allclose(x, rows[problem["names"]].to_numpy())

    analyze = salib(record["analysis"]["function"])
    arguments = {k: v for k, v in record["analysis"].items() if k != "function"}
    assert arguments["seed"] != 0 and record["period"] == "FY2019"
    for output in record["outputs"]:
        y = rows[output].to_numpy(dtype=float)
        si = (analyze(problem, y, **arguments) if design == "saltelli"
              else analyze(problem, x, y, **arguments))
        shown = ("S1", "ST") if design == "saltelli" else ("mu_star",)
        for statistic in shown:
            for i, name in enumerate(problem["names"]):
                row = indices.loc[(output, name, statistic)]
                assert row["estimate"] == pytest.approx(si[statistic][i], rel=1e-12, abs=1e-15)
                assert row["conf"] == pytest.approx(si[f"{statistic}_conf"][i], rel=1e-12,
                                                    abs=1e-15)
