"""ABC-SMC calibration (`calibration.fit`, `run.py calibrate`) on a real Dask cluster:
known parameters are recovered, an interrupted calibration resumes from its history
without repeating a finished generation, Ctrl-C keeps the history, bad setups are
refused before anything runs."""

import dataclasses
import io
import re
import sqlite3
import sys
from pathlib import Path

import pandas as pd
import pytest

import run as cli
from calibration.fit import FitError, FitSetup, TargetModel, plan_fit, run_fit, weighted_quantile
from calibration.priors import Prior
from calibration.report import write_report
from calibration.targets import Target
from model import load_scenario
from experiments.runner import close_client, open_client
from tests.helpers import interrupted_run, one_error_line

ROOT = Path(__file__).resolve().parent.parent
PRIORS = (Prior("departures_per_day.mexico", "uniform", 300, 900, "test"),
          Prior("departures_per_day.guatemala", "uniform", 250, 800, "test"),
          Prior("apprehension_prob.*", "uniform", 0.55, 0.95, "test"))
TRUTH = {"departures_per_day__mexico": 600.0, "departures_per_day__guatemala": 450.0,
         "apprehension_prob__all": 0.7}
COLUMNS = ("encounters_mexico", "encounters_northern_triangle", "evasions")


def synthetic_setup(out_dir: Path, end: str = "2019-12-31", **how) -> FitSetup:
    """Targets simulated from TRUTH (seed 12345): 2019's Mexican and Northern Triangle
    encounters and got-aways, each `about` within 5 %; runs of 2019 at scale 100."""
    last = end[:7]
    targets = tuple(Target(id=c, label=c, seed="001_3c5efb37f70223ed.txt", quote="q",
                           seed_says="s", value=1.0, kind="about", tolerance=0.05, columns=(c,),
                           first="2019-01", last=last) for c in COLUMNS)
    setup = FitSetup(scale=100, out_dir=out_dir, start="2019-01-01", end=end, priors=PRIORS,
                     targets=targets, **how)
    observed = TargetModel(setup).run(TRUTH, seed=12345)
    setup.targets = tuple(dataclasses.replace(t, value=observed[t.id]) for t in targets)
    return setup


@pytest.fixture(scope="module")
def client():
    client, cluster = open_client(workers=2)
    yield client
    close_client(client, cluster)


@pytest.mark.slow
def test_known_parameters_are_recovered_inside_their_90_percent_intervals(tmp_path, client):
    """ABC-SMC (now `--method abc`, no longer the default) recovers known parameters; about
    two minutes, so left out of the default run: `benchmarks/bench_sbc.py --method abc`
    measures the same on many synthetic sets."""
    setup = synthetic_setup(tmp_path, population=30, generations=4, budget=600)
    outcome = run_fit(setup, client, plan_fit(setup), write=lambda line: None)
    assert outcome.generations == 4 and not outcome.interrupted
    posterior = pd.read_parquet(outcome.files["posterior"])
    assert len(posterior) == 30 and posterior["weight"].sum() == pytest.approx(1)
    for p in PRIORS:
        low, high = (weighted_quantile(posterior[p.name].to_numpy(),
                                       posterior["weight"].to_numpy(), q) for q in (0.05, 0.95))
        assert low <= TRUTH[p.abc_name] <= high, (p.name, low, high)
        assert high - low < 0.8 * (p.high - p.low), f"{p.name}: the targets did not narrow it"
    calibrated = outcome.files["calibrated"].read_text()
    assert 'base = "historical"' in calibrated and "[parameters.apprehension_prob]" in calibrated
    load_scenario(outcome.files["calibrated"])  # a scenario the model accepts

    # the posterior predictive, on new seeds, at a scale of its own (full scale in use)
    files = write_report(dataclasses.replace(setup, report_scale=50), client, draws=4)
    report = files["report"].read_text()
    assert "Posterior predictive: 4 runs at scale 50," in report
    for c in COLUMNS:
        assert f"| {c} | about | " in report
    assert "averaged relative difference" in report
    for name in ("targets", "marginals", "correlations"):
        assert files[name].stat().st_size > 5000  # a PNG with something drawn


def populations(db: Path) -> list[tuple]:
    with sqlite3.connect(db) as con:
        return con.execute("select t, epsilon, nr_samples from populations where t >= 0 "
                           "order by t").fetchall()


def particles(db: Path, t: int) -> list[tuple]:
    with sqlite3.connect(db) as con:
        return con.execute(
            "select parameters.name, parameters.value from parameters join particles on "
            "parameters.particle_id = particles.id join models on particles.model_id = "
            "models.id join populations on models.population_id = populations.id where "
            "populations.t = ? order by parameters.id", (t,)).fetchall()


class Terminal(io.StringIO):
    """A stream that says it is a terminal (as stderr is in a shell)."""

    def isatty(self) -> bool:
        return True


def test_resume_continues_from_the_history_without_repeating_a_generation(tmp_path, client):
    quiet = lambda line: None  # noqa: E731
    first = synthetic_setup(tmp_path, end="2019-06-30", population=8, generations=2, budget=500)
    terminal = Terminal()  # the bars show on a terminal only
    run_fit(first, client, plan_fit(first), write=quiet, bar_stream=terminal)
    # a bar while pyabc samples the priors, before the first generation's line, then one
    # per generation (tqdm redraws at most every 0.1 s: the last state of each is there)
    shown = terminal.getvalue()
    assert re.search(r"prior sample: +100%\S* 8/8 .*8 runs", shown), shown
    assert re.search(r"generation 0: +100%\S* 8/8 .*\d+ runs", shown), shown
    assert re.search(r"generation 1: +100%\S* 8/8 ", shown), shown
    assert shown.index("prior sample") < shown.index("generation 0")
    before = populations(first.db)
    assert [t for t, *_ in before] == [0, 1]
    kept = {t: particles(first.db, t) for t in (0, 1)}
    with sqlite3.connect(first.db) as con:
        sampled_before = con.execute("select sum(nr_samples) from populations").fetchone()[0]
    again = dataclasses.replace(first, generations=3)
    with pytest.raises(FitError, match="already there; add --resume"):
        plan_fit(again)
    lines = []
    outcome = run_fit(again, client, plan_fit(again, resume=True), write=lines.append)
    after = populations(first.db)
    assert [t for t, *_ in after] == [0, 1, 2]
    assert after[:2] == before  # finished generations untouched
    assert {t: particles(first.db, t) for t in (0, 1)} == kept
    with sqlite3.connect(first.db) as con:  # only generation 2 was sampled: no new prior sample
        sampled_after = con.execute("select sum(nr_samples) from populations").fetchone()[0]
    assert sampled_after - sampled_before == after[2][2]
    assert outcome.simulations == sampled_after  # the prior sample (t = -1) included
    assert lines and lines[-1].startswith("generation 2: epsilon ")
    other = dataclasses.replace(first, scale=200, generations=4)
    with pytest.raises(FitError, match=r"made with other settings \(scale differ"):
        plan_fit(other, resume=True)


def write_small_files(tmp_path: Path) -> tuple[Path, Path]:
    priors = tmp_path / "priors.toml"
    priors.write_text('[priors."apprehension_prob.*"]\ndistribution = "uniform"\nlow = 0.6\n'
                      'high = 0.9\nreason = "test"\n', encoding="utf-8")
    targets = tmp_path / "targets.toml"
    targets.write_text('[targets.may]\nlabel = "May 2019"\nseed = "001_3c5efb37f70223ed.txt"\n'
                       'quote = "q"\nseed_says = "about 144,000"\nvalue = 144000\n'
                       'kind = "about"\ntolerance = 0.01\ncolumns = ["encounters"]\n'
                       'month = "2019-05"\n', encoding="utf-8")
    return priors, targets


def test_ctrl_c_keeps_the_history_and_exits_130_with_one_line(tmp_path):
    priors, targets = write_small_files(tmp_path)
    out, log = tmp_path / "out", tmp_path / "stderr.txt"
    command = [sys.executable, "run.py", "calibrate", "--method", "abc", "--priors",
               str(priors), "--targets", str(targets), "--start", "2019-01-01", "--end",
               "2019-06-30", "--scale", "200", "--population", "6", "--budget", "100000",
               "--workers", "2", "--out", str(out)]
    child, _, text = interrupted_run(command, lambda: "generation 1:" in log.read_text(),
                                    "generation finished", log)
    assert child.returncode == 130, text
    assert "Traceback" not in text, text
    last = text.strip().splitlines()[-1]
    assert last.startswith("interrupted: ") and "kept in" in last and "--resume" in last, last
    assert len(populations(out / "history.db")) >= 2
    assert not (out / "posterior.parquet").exists()


@pytest.mark.parametrize("extra, message", [
    (["--resume", "--method", "abc"], r"--resume: no calibration history at .* to resume"),
    (["--resume"], r"--resume: .*design\.json is missing: nothing to resume there"),
    (["--scale", "100000"], r"scale"),
    (["--end", "2019-04-30"], r"targets\.may: its period 2019-05 to 2019-05 is outside the runs"),
])
def test_bad_calibrations_are_refused_in_one_line_before_anything_runs(
        tmp_path, capsys, monkeypatch, extra, message):
    import re

    monkeypatch.setattr("experiments.runner.open_client",
                        lambda *a, **k: pytest.fail("a cluster was started"))
    priors, targets = write_small_files(tmp_path)
    argv = ["calibrate", "--priors", str(priors), "--targets", str(targets),
            "--start", "2019-01-01", "--out", str(tmp_path / "out"), *extra]
    assert cli.main(argv) == 2
    line = one_error_line(capsys.readouterr().err)
    assert re.search(message, line), line
    assert not (tmp_path / "out").exists()


def test_a_bad_priors_file_is_refused_by_the_command(tmp_path, capsys):
    priors, targets = write_small_files(tmp_path)
    priors.write_text(priors.read_text().replace("apprehension_prob.*", "apprehension.*"))
    assert cli.main(["calibrate", "--priors", str(priors), "--targets", str(targets)]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert line == (f"error: {priors}: priors.apprehension.*: unknown parameter 'apprehension' "
                    f"(a field of BorderScenario in model/config/scenario.py)")


def test_report_only_needs_a_posterior_and_starts_nothing_without_one(tmp_path, capsys,
                                                                       monkeypatch):
    monkeypatch.setattr("experiments.runner.open_client",
                        lambda *a, **k: pytest.fail("a cluster was started"))
    priors, targets = write_small_files(tmp_path)
    argv = ["calibrate", "--priors", str(priors), "--targets", str(targets), "--report-only",
            "--out", str(tmp_path / "out")]
    assert cli.main(argv) == 2
    line = one_error_line(capsys.readouterr().err)
    assert line == (f"error: --report-only: no {tmp_path / 'out' / 'posterior.parquet'} (run the "
                    f"calibration first, or give --out the folder that has it)")
    assert cli.main([*argv, "--report-scale", "100000"]) == 2
    assert "scale" in one_error_line(capsys.readouterr().err)


def test_calibrated_toml_writes_fitted_push_months_as_a_scenario_the_model_loads(tmp_path):
    from calibration.fit import calibrated_toml
    from calibration.priors import to_params

    priors = (Prior("push.mexico.2020-05", "uniform", 0.3, 1.6, "t"),
              Prior("retry_days.title42", "loguniform", 1.0, 10.0, "t"))
    values = {"push__mexico__2020_05": 1.25, "retry_days__title42": 2.5}
    assert to_params(priors, values) == {"push": {"mexico": {"2020-05": 1.25}},
                                         "retry_days": {"title42": 2.5}}
    setup = FitSetup(out_dir=tmp_path, priors=priors)
    text = calibrated_toml(setup, values, "ABC-SMC: 3 generations, 300 simulations")
    assert text.startswith("# Written by `run.py calibrate`")  # the header comments kept
    assert "ABC-SMC: 3 generations, 300 simulations" in text
    assert "[parameters.push.mexico]\n2020-05 = 1.25" in text  # tomli_w: a bare key
    assert "[parameters.push]\n" not in text
    path = tmp_path / "calibrated.toml"
    path.write_text(text, encoding="utf-8")
    loaded = load_scenario(path)
    historical = load_scenario("historical")
    assert loaded.parameters["push"]["mexico"] == {**historical.parameters["push"]["mexico"],
                                                   "2020-05": 1.25}
    assert loaded.parameters["push"]["guatemala"] == historical.parameters["push"]["guatemala"]


def test_ctrl_c_is_raised_at_once_inside_pyabcs_sampling_loop_not_at_the_generations_end():
    """pyabc's sampler polls its futures every 10 ms in its own loop for a whole generation
    (20 minutes and more in a real fit); a Ctrl-C landing there is safe to raise at once.
    Anywhere else in pyabc (or Dask, or SQLAlchemy) it waits for a safe point."""
    from types import SimpleNamespace

    from pyabc.inference.smc import ABCSMC
    from pyabc.sampler.eps_mixin import EPSMixin

    from calibration.fit import _blocked_waiting

    def frame_of(function):
        return SimpleNamespace(f_code=function.__code__)

    assert _blocked_waiting(frame_of(EPSMixin.sample_until_n_accepted))
    assert not _blocked_waiting(frame_of(ABCSMC.run_generation))
    assert not _blocked_waiting(frame_of(write_report))
    assert not _blocked_waiting(None)


def test_a_fit_runs_the_hand_set_scenario_with_its_values_over_it(monkeypatch):
    """Each run of a fit starts from what historical.toml sets by hand, not from the
    committed fit its `calibrated` line names: a parameter the fit leaves out must not
    keep the previous fit's value while the fit runs, then lose it in the new file."""
    import calibration.fit as fit

    seen = {}

    def capture(scenario, **kw):
        seen["scenario"], seen["params"] = scenario, kw["params"]
        raise RuntimeError("captured")

    monkeypatch.setattr(fit, "simulate", capture)
    with pytest.raises(RuntimeError, match="captured"):
        TargetModel(FitSetup(priors=PRIORS)).run(TRUTH, seed=1)
    hand_set = load_scenario("historical", calibrated=False)
    assert not any(s.endswith("calibrated.toml") for s in seen["scenario"].sources)
    assert seen["scenario"].parameters == hand_set.parameters
    assert seen["params"]["departures_per_day"] == {"mexico": 600.0, "guatemala": 450.0}
