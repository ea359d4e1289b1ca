"""The emulator fit (`calibration.emulator_fit`, `run.py calibrate`, the default method) on
a real Dask cluster: known parameters are recovered inside their 90 % intervals by a
posterior of many nearly independent draws that `simulate(draw=i)` can run; Ctrl-C
keeps the finished design runs and --resume runs only the rest; a design made
otherwise is refused."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import run as cli
from calibration.design import UNIT_PREFIX
from calibration.emulator import Emulator
from calibration.emulator_fit import DESIGN_FILE, run_emulator_fit
from calibration.fit import weighted_quantile
from model import load_scenario
from experiments.runner import close_client, open_client
from tests.helpers import interrupted_run, one_error_line
from tests.test_fit import PRIORS, TRUTH, synthetic_setup, write_small_files

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def client():
    client, cluster = open_client(workers=2)
    yield client
    close_client(client, cluster)


@pytest.fixture(scope="module")
def fitted(tmp_path_factory, client):
    """One emulator fit of synthetic figures (TRUTH's run) on 128 design runs."""
    setup = synthetic_setup(tmp_path_factory.mktemp("fit"), end="2019-06-30", budget=128)
    lines = []
    return setup, run_emulator_fit(setup, client, write=lines.append), lines


def test_known_parameters_are_recovered_by_many_independent_draws(fitted):
    setup, outcome, lines = fitted
    assert outcome.runs == 128 and not outcome.interrupted
    assert [line.split(":")[0] for line in lines] == ["design", "emulator", "MCMC"]
    posterior = pd.read_parquet(outcome.files["posterior"])
    assert outcome.sample.effective >= 300 and len(posterior) >= 300
    assert posterior["weight"].sum() == pytest.approx(1)
    for p in PRIORS:
        values = posterior[p.name].to_numpy()
        low, high = (weighted_quantile(values, posterior["weight"].to_numpy(), q)
                     for q in (0.05, 0.95))
        assert low <= TRUTH[p.abc_name] <= high, (p.name, low, high)
        assert high - low < 0.6 * (p.high - p.low), f"{p.name}: the targets did not narrow it"
    design = pd.read_parquet(setup.out_dir / DESIGN_FILE)
    assert sorted(design["run"]) == list(range(128))  # every run kept, in the fit's folder
    # a draw of this posterior is what compare --posterior runs
    scenario = load_scenario(outcome.files["calibrated"], draw=3)
    assert scenario.draw == 3 and scenario.posterior[0]["draw"] == 3


def test_the_likelihood_prefers_the_truth_and_counts_floors_one_sided(fitted):
    import dataclasses

    setup, outcome, _ = fitted
    table = pd.read_parquet(setup.out_dir / DESIGN_FILE)
    assert set(table.columns) >= {UNIT_PREFIX + p.name for p in PRIORS}
    emulator = Emulator.train(setup.priors, setup.targets, table, setup.scale)
    truth = np.array([[(TRUTH[p.abc_name] - p.low) / (p.high - p.low) for p in PRIORS]])
    far = np.array([[0.02, 0.98, 0.02]])
    like = emulator.likelihood({t.id: t.value for t in setup.targets}, setup.targets)
    assert like.log(truth)[0] > like.log(far)[0] + 5
    assert like.log(np.array([[1.2, 0.5, 0.5]]))[0] == -np.inf  # outside the priors
    # a floor far below every run is met by all: it says nothing
    floors = tuple(dataclasses.replace(t, kind="at_least", value=t.value / 10)
                   for t in setup.targets)
    flat = emulator.likelihood({t.id: t.value for t in floors}, floors)
    assert abs(flat.log(truth)[0] - flat.log(far)[0]) < 0.05


def test_ctrl_c_keeps_the_design_runs_and_resume_runs_only_the_rest(tmp_path):
    priors, targets = write_small_files(tmp_path)
    out, log = tmp_path / "out", tmp_path / "stderr.txt"
    command = [sys.executable, "run.py", "calibrate", "--priors", str(priors), "--targets",
               str(targets), "--start", "2019-01-01", "--end", "2019-06-30", "--scale", "200",
               "--budget", "128", "--workers", "2", "--out", str(out)]
    child, _, text = interrupted_run(command, (out / DESIGN_FILE).exists, "design run kept", log)
    assert child.returncode == 130, text
    assert "Traceback" not in text, text
    last = text.strip().splitlines()[-1]
    assert last.startswith("interrupted: ") and "--resume" in last, last
    kept = pd.read_parquet(out / DESIGN_FILE)
    assert 0 < len(kept) < 128 and not (out / "posterior.parquet").exists()

    again = subprocess.run([*command, "--resume"], cwd=ROOT, capture_output=True, text=True,
                           timeout=300)
    assert again.returncode == 0, again.stderr
    design = pd.read_parquet(out / DESIGN_FILE)
    assert sorted(design["run"]) == list(range(128))
    pd.testing.assert_frame_equal(  # the kept runs were not run again
        design.set_index("run").loc[kept["run"]].reset_index(), kept.reset_index(drop=True),
        check_like=True)
    assert (out / "posterior.parquet").exists() and (out / "emulator.json").exists()

    # a design made with other settings is not resumed; a new fit there is refused
    changed = [*command, "--resume", "--scale", "100"]
    assert cli.main(changed[2:]) == 2
    assert cli.main(command[2:]) == 2


def test_resume_of_another_design_is_refused_in_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("experiments.runner.open_client",
                        lambda *a, **k: pytest.fail("a cluster was started"))
    priors, targets = write_small_files(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    (out / "design.json").write_text('{"method": "emulator", "seed": 1}')
    argv = ["calibrate", "--priors", str(priors), "--targets", str(targets), "--start",
            "2019-01-01", "--end", "2019-06-30", "--out", str(out), "--resume"]
    assert cli.main(argv) == 2
    line = one_error_line(capsys.readouterr().err)
    assert "design was made with other" in line and "new folder" in line, line
    assert cli.main(argv[:-1]) == 2  # without --resume: it holds a design already
    line = one_error_line(capsys.readouterr().err)
    assert "holds a design already" in line and "--resume" in line, line
    assert cli.main([*argv[:-1], "--budget", "1", "--out", str(tmp_path / "new")]) == 2
    assert one_error_line(capsys.readouterr().err) == (
        "error: --budget 1: the emulator needs at least 20 design runs (about a thousand for "
        "18 parameters)")
    assert not (tmp_path / "new").exists()
    assert cli.main([*argv[:-1], "--db", str(tmp_path / "h.db")]) == 2  # ABC's flag
    assert one_error_line(capsys.readouterr().err) == (
        "error: --db: the history of --method abc; the emulator keeps its runs in the --out "
        "folder (design.parquet)")
