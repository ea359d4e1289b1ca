"""`run.py sweep`: specs checked before anything runs, runs on real Dask clusters,
one Parquet file per run, the same bytes on any number of workers, resume,
failures isolated and reported, Ctrl-C, and a separate `dask scheduler`/`dask worker`.

Runs are short (the historical scenario's first six months at scale 500).
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import run as cli  # noqa: E402
from experiments import derive_seeds, load_spec  # noqa: E402
from experiments import runner  # noqa: E402
from experiments.spec import SpecError  # noqa: E402
from helpers import interrupted_run, one_error_line, refused_before_running  # noqa: E402

SHORT = """\
description = "test sweep"
scenarios = ["historical"]
seeds = 2
master_seed = 3
scale = 500
end = 2019-03-31
[vary]
"apprehension_prob.tucson" = [0.7, 0.8]
"policies.title42.exception_share" = {low = 0.0, high = 0.1, steps = 2}
"""


def write_spec(folder: Path, body: str = SHORT, name: str = "spec.toml") -> Path:
    path = folder / name
    path.write_text(body)
    return path


def run_files(out: Path) -> dict[str, bytes]:
    """Every finished run's file (a hidden temporary file is not one)."""
    return {p.name: p.read_bytes() for p in sorted((out / "runs").glob("[!.]*.parquet"))}


class Counting:
    """A run function that logs its calls to a file (Dask pickles the function, so
    the log outlives the copy) and can fail or interrupt some runs."""

    def __init__(self, log: Path, fail_tucson=None, interrupt_after=None):
        self.log = log
        self.log.write_text("")
        self.fail_tucson = fail_tucson
        self.interrupt_after = interrupt_after

    @property
    def calls(self) -> list[str]:
        return self.log.read_text().split()

    def __call__(self, task):
        with open(self.log, "a") as log:
            log.write(task.run_id + "\n")
        n = len(self.calls)
        if task.values.get("apprehension_prob.tucson") == self.fail_tucson:
            raise RuntimeError(f"boom in {task.run_id}")
        table = runner.run_table(task)
        if self.interrupt_after is not None and n == self.interrupt_after:
            os.kill(os.getpid(), signal.SIGINT)  # as Ctrl-C would
            time.sleep(2)
        return table


# --- the spec --------------------------------------------------------------------------

def test_spec_builds_a_grid_with_the_same_seeds_for_every_point(tmp_path):
    sweep = load_spec(write_spec(tmp_path))
    assert len(sweep.points) == 4 and len(sweep.runs) == 8
    assert sweep.seeds == derive_seeds(3, 2)
    assert len(set(sweep.seeds)) == 2
    for point in sweep.points:
        assert [t.seed for t in sweep.runs if t.values == point] == sweep.seeds
    assert len({t.run_id for t in sweep.runs}) == 8
    assert load_spec(write_spec(tmp_path, name="again.toml")).runs == sweep.runs  # stable ids


@pytest.mark.parametrize("design", ["lhs", "sobol"])
def test_lhs_and_sobol_draw_inside_the_bounds(tmp_path, design):
    body = (f'scenarios = ["historical"]\nscale = 500\nend = 2019-03-31\ndesign = "{design}"\n'
            f'samples = 8\n[vary]\n"apprehension_prob.tucson" = {{low = 0.6, high = 0.9}}\n'
            f'detention_beds = {{low = 20000, high = 50000}}\n'
            f'"policies.title42.end" = [2020-06-30, 2020-12-31]\n')
    sweep = load_spec(write_spec(tmp_path, body))
    assert len(sweep.points) == 8
    tucson = [p["apprehension_prob.tucson"] for p in sweep.points]
    beds = [p["detention_beds"] for p in sweep.points]
    assert all(0.6 <= v <= 0.9 for v in tucson) and len(set(tucson)) == 8
    assert all(isinstance(b, int) and 20000 <= b <= 50000 for b in beds)
    assert {p["policies.title42.end"] for p in sweep.points} == {"2020-06-30", "2020-12-31"}


BAD = [
    ("nonsense = 1\n", r"nonsense: unknown key"),
    ('scenarios = ["histerical"]\n', r"scenarios\[0\]: unknown scenario 'histerical'"),
    ('scenarios = []\n', r"scenarios: expected a non-empty list"),
    ('scenarios = ["historical"]\n[vary]\nappre = [0.5]\n', r"vary.appre: value 0.5 refused .*"
                                                             r"unknown parameter 'appre'"),
    ('scenarios = ["historical"]\n[vary]\n"policies.title42.ending" = [2021-01-01]\n',
     r"vary.policies.title42.ending: .*unknown field for a title42 policy"),
    ('scenarios = ["historical"]\n[vary]\n"apprehension_prob.tucson" = []\n',
     r"vary.apprehension_prob.tucson: empty list"),
    ('scenarios = ["historical"]\n[vary]\n"apprehension_prob.tucson" = {low = 0.9, high = 0.1, '
     'steps = 2}\n', r"vary.apprehension_prob.tucson: low 0.9 is above high 0.1"),
    ('scenarios = ["historical"]\n[vary]\n"apprehension_prob.tucson" = {low = 0.1, high = 0.9, '
     'steps = 0}\n', r"vary.apprehension_prob.tucson.steps: expected a whole number >= 1"),
    ('scenarios = ["historical"]\n[vary]\n"apprehension_prob.tucson" = [0.5, 1.5]\n',
     r"vary.apprehension_prob.tucson: value 1.5 refused by scenario 'historical': "
     r".*1.5 is not a probability in \[0, 1\]"),
    ('scenarios = ["historical"]\n[vary]\n"policies.title42.end" = [2030-01-01]\n',
     r"vary.policies.title42.end: value 2030-01-01 refused"),
    ('scenarios = ["historical"]\ndesign = "factorial"\n', r"design: unknown design 'factorial'"),
    ('scenarios = ["historical"]\ndesign = "lhs"\n[vary]\ndetention_beds = {low = 1, high = 2}\n',
     r"samples: missing; a lhs design needs"),
    ('scenarios = ["historical"]\nseeds = 0\n', r"seeds: must be >= 1, got 0"),
    ('scenarios = ["historical"]\nscale = "big"\n', r"scale: expected a whole number"),
    ('scenarios = ["historical"]\nscale = 100000000\n', r"scale: 100000000 is too coarse"),
    ('scenarios = ["historical"]\n[vary]\n"parameters.detention_beds" = [1]\n',
     r"vary.parameters.detention_beds: write parameters without the 'parameters.' prefix"),
    ('scenarios = ["historical"]\n[vary]\ndetention_beds = {low = 1, high = 2}\n',
     r"vary.detention_beds: steps missing"),
    ('scenarios = ["historical"\n', r"not valid TOML"),
]


@pytest.mark.parametrize("body, message", BAD, ids=[m.split(":")[0] for _, m in BAD])
def test_a_bad_spec_is_refused_in_one_line_before_anything_runs(tmp_path, capsys, monkeypatch,
                                                                 body, message):
    path, out = write_spec(tmp_path, body, "bad.toml"), tmp_path / "out"
    refused_before_running(["sweep", str(path), "--out", str(out)], capsys, monkeypatch, path,
                           message, out)


def test_a_folder_holding_another_sweep_is_refused(tmp_path):
    sweep = load_spec(write_spec(tmp_path))
    other = load_spec(write_spec(tmp_path, SHORT.replace("seeds = 2", "seeds = 1"), "other.toml"))
    runner.prepare_out_dir(sweep, tmp_path / "out")
    with pytest.raises(SpecError, match=r"holds another sweep's results"):
        runner.prepare_out_dir(other, tmp_path / "out")



@pytest.mark.parametrize("verb", ["sweep", "sensitivity", "calibrate", "validate"])
def test_workers_beyond_four_per_cpu_are_refused_with_the_way_to_more(tmp_path, capsys, verb):
    """A typo (--workers 100000) would otherwise start that many worker processes."""
    too_many = cli.MAX_WORKERS_PER_CPU * cli.CPUS + 1
    args = [str(write_spec(tmp_path))] if verb in ("sweep", "sensitivity") else []
    with pytest.raises(SystemExit) as stopped:
        cli.main([verb, *args, "--workers", str(too_many), "--out", str(tmp_path / "out")])
    assert stopped.value.code == 2
    assert (f"--workers must be at most {too_many - 1}, got {too_many} (4 per CPU here; for "
            f"more, start a Dask cluster and give --scheduler)") in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


# --- running -----------------------------------------------------------------------------

def test_one_and_two_worker_processes_write_the_same_bytes(tmp_path, capsys):
    spec = write_spec(tmp_path)
    for workers in ("1", "2"):
        assert cli.main(["sweep", str(spec), "--workers", workers,
                         "--out", str(tmp_path / workers)]) == 0
    assert "8 runs: 8 finished, 0 skipped (already done), 0 failed" in capsys.readouterr().out
    one, two = run_files(tmp_path / "1"), run_files(tmp_path / "2")
    assert len(one) == 8 and one == two

    table = pd.read_parquet(tmp_path / "1" / "runs")
    sweep = load_spec(spec)
    assert set(table["run_id"]) == {t.run_id for t in sweep.runs}
    assert list(table.columns) == ["run_id", "scenario", "apprehension_prob.tucson",
                                   "policies.title42.exception_share", "seed_index", "seed",
                                   "scale", "code", "kind", "period", "column", "value"]
    assert set(table["kind"]) == {"monthly", "fiscal_year"}
    months = table[(table.kind == "monthly") & (table.column == "encounters")]
    assert sorted(set(months.period)) == ["2018-10", "2018-11", "2018-12", "2019-01",
                                          "2019-02", "2019-03"]
    assert len(months) == 8 * 6
    # common random numbers: before Title 42 exists (Oct 2018 - Mar 2019) its exception
    # share changes nothing, so the pairs differing only in it are identical
    enc = months.pivot_table(index=["apprehension_prob.tucson", "seed", "period"],
                             columns="policies.title42.exception_share", values="value")
    assert (enc[0.0] == enc[0.1]).all()
    manifest = json.loads((tmp_path / "1" / "manifest.json").read_text())
    assert manifest["counts"] == {"runs": 8, "finished": 8, "skipped": 0, "failed": 0,
                                  "pending": 0, "damaged": 0}
    assert manifest["seeds"] == sweep.seeds
    assert (tmp_path / "1" / "spec.toml").read_text() == SHORT


def test_a_second_invocation_skips_finished_runs_and_redoes_a_deleted_one(tmp_path):
    sweep = load_spec(write_spec(tmp_path))
    out = tmp_path / "out"
    first = Counting(tmp_path / "log")
    report = runner.run_sweep(sweep, out, workers=1, processes=False, run=first, progress=False)
    assert len(first.calls) == 8 and len(report.finished) == 8
    mtimes = {p: p.stat().st_mtime_ns for p in (out / "runs").glob("*.parquet")}
    before = run_files(out)

    again = Counting(tmp_path / "log")
    report = runner.run_sweep(sweep, out, workers=1, processes=False, run=again, progress=False)
    assert again.calls == [] and len(report.skipped) == 8 and report.finished == []
    assert {p: p.stat().st_mtime_ns for p in mtimes} == mtimes

    gone = sorted(mtimes)[3]
    gone.unlink()
    third = Counting(tmp_path / "log")
    report = runner.run_sweep(sweep, out, workers=1, processes=False, run=third, progress=False)
    assert third.calls == [gone.stem] and report.finished == [gone.stem]
    assert run_files(out) == before


REAL_RUN_SWEEP = runner.run_sweep


def run_in_process_with(monkeypatch, run=None) -> None:
    """Make `run.py sweep` run its runs in-process and quietly, through `run` if given."""
    chosen = {"run": run} if run is not None else {}
    monkeypatch.setattr(runner, "run_sweep", lambda *a, **k: REAL_RUN_SWEEP(
        *a, **{**k, "processes": False, "progress": False, **chosen}))


def test_a_failing_run_is_recorded_and_the_sweep_goes_on(tmp_path, capsys, monkeypatch):
    spec = write_spec(tmp_path)
    out = tmp_path / "out"
    run_in_process_with(monkeypatch, Counting(tmp_path / "log", fail_tucson=0.8))
    assert cli.main(["sweep", str(spec), "--workers", "1", "--out", str(out)]) == 1
    printed = capsys.readouterr().out
    assert "8 runs: 4 finished, 0 skipped (already done), 4 failed" in printed
    assert f"failed runs' tracebacks in {out / 'errors'}/" in printed

    sweep = load_spec(spec)
    bad = {t.run_id for t in sweep.runs if t.values["apprehension_prob.tucson"] == 0.8}
    assert {p.stem for p in (out / "errors").glob("*.txt")} == bad
    assert {p.stem for p in (out / "runs").glob("*.parquet")} == \
        {t.run_id for t in sweep.runs} - bad
    some = sorted(bad)[0]
    text = (out / "errors" / f"{some}.txt").read_text()
    assert "Traceback" in text and f"RuntimeError: boom in {some}" in text
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["counts"]["failed"] == 4
    assert {r["run_id"]: r["status"] for r in manifest["runs"]
            if r["status"] == "failed"} == {r: "failed" for r in bad}

    # the same command again retries only the failed runs, and clears their errors
    run_in_process_with(monkeypatch)
    assert cli.main(["sweep", str(spec), "--workers", "1", "--out", str(out)]) == 0
    assert "8 runs: 4 finished, 4 skipped (already done), 0 failed" in capsys.readouterr().out
    assert list((out / "errors").iterdir()) == []


def test_ctrl_c_keeps_finished_runs_and_the_rest_run_later(tmp_path, capsys, monkeypatch):
    spec = write_spec(tmp_path)
    out = tmp_path / "out"
    stopping = Counting(tmp_path / "log", interrupt_after=2)
    run_in_process_with(monkeypatch, stopping)
    assert cli.main(["sweep", str(spec), "--workers", "1", "--out", str(out)]) == 130
    captured = capsys.readouterr()
    line = one_error_line(captured.err.replace("interrupted", "error: interrupted"))
    kept = run_files(out)
    assert 1 <= len(kept) < 8
    assert f"{len(kept)} of 8 runs done and kept in {out / 'runs'}" in line
    assert json.loads((out / "manifest.json").read_text())["interrupted"] is True
    pd.read_parquet(out / "runs")  # nothing half-written

    run_in_process_with(monkeypatch)
    assert cli.main(["sweep", str(spec), "--workers", "1", "--out", str(out)]) == 0
    assert f"8 runs: {8 - len(kept)} finished, {len(kept)} skipped" in capsys.readouterr().out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_sweep_on_a_separate_dask_scheduler_and_worker(tmp_path):
    dask_cli = Path(sys.executable).parent / "dask"
    address = f"tcp://127.0.0.1:{free_port()}"
    host_port = address.removeprefix("tcp://")
    started = []
    try:
        started.append(subprocess.Popen(
            [str(dask_cli), "scheduler", "--host", "127.0.0.1", "--port", host_port.split(":")[1],
             "--no-dashboard"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True))
        started.append(subprocess.Popen(
            [str(dask_cli), "worker", address, "--nworkers", "1", "--nthreads", "1",
             "--no-dashboard"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True, cwd=tmp_path))
        spec = write_spec(tmp_path, SHORT.replace("seeds = 2", "seeds = 1"))
        done = subprocess.run([sys.executable, "run.py", "sweep", str(spec), "--scheduler",
                               address, "--out", str(tmp_path / "out")],
                              cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert "4 runs: 4 finished, 0 skipped (already done), 0 failed" in done.stdout
        table = pd.read_parquet(tmp_path / "out" / "runs")
        assert table["run_id"].nunique() == 4
        assert (table["seed"] == derive_seeds(3, 1)[0]).all()
    finally:
        for proc in reversed(started):
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for proc in started:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def test_a_design_point_drawn_twice_runs_once(tmp_path):
    body = ('scenarios = ["historical"]\nscale = 500\nend = 2019-03-31\ndesign = "lhs"\n'
            'samples = 10\n[vary]\ndetention_beds = {low = 30000, high = 30001}\n')
    sweep = load_spec(write_spec(tmp_path, body))
    assert sorted(p["detention_beds"] for p in sweep.points) == [30000, 30001]
    assert len({t.run_id for t in sweep.runs}) == len(sweep.runs) == 2


def test_a_scheduler_that_does_not_answer_is_one_line(tmp_path, capsys):
    spec = write_spec(tmp_path)
    address = f"tcp://127.0.0.1:{free_port()}"  # nothing listens there
    sweep = load_spec(spec)
    with pytest.raises(SpecError, match=rf"^--scheduler {address}: cannot connect: "):
        runner.run_sweep(sweep, tmp_path / "out", scheduler=address, connect_timeout=1,
                         progress=False)
    assert run_files(tmp_path / "out") == {}


def test_ctrl_c_in_a_terminal_stops_worker_processes_quietly(tmp_path):
    """SIGINT to the whole process group, as a terminal sends it: one line, exit 130,
    finished runs kept, no worker tracebacks, no worker left behind."""
    spec = write_spec(tmp_path, SHORT.replace("seeds = 2", "seeds = 6").replace(
        "end = 2019-03-31", "end = 2020-09-30"))
    out = tmp_path / "out"
    child, _, stderr = interrupted_run(
        [sys.executable, "run.py", "sweep", str(spec), "--workers", "2", "--out", str(out)],
        lambda: (out / "runs").exists() and bool(run_files(out)), "run finished", wait=60,
        after=60)
    assert child.returncode == 130, stderr
    assert "Traceback" not in stderr, stderr
    kept = run_files(out)
    last = stderr.replace("\r", "\n").strip().splitlines()[-1]
    assert last == (f"interrupted: {len(kept)} of 24 runs done and kept in {out / 'runs'}; "
                    f"run the same command again to finish")
    assert 1 <= len(kept) < 24
    deadline = time.monotonic() + 15
    while group_alive(child.pid):  # the workers go with the sweep
        assert time.monotonic() < deadline, "a worker process outlived the sweep"
        time.sleep(0.1)


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.parametrize("path", sorted((ROOT / "sweeps").glob("*.toml")), ids=lambda p: p.stem)
def test_the_example_specs_are_valid(path):
    sweep = load_spec(path)
    assert sweep.runs and sweep.description


def test_a_scenario_path_is_relative_to_the_spec(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "fewer_beds.toml").write_text(
        'description = "historical, fewer beds"\nbase = "historical"\n'
        '[parameters]\ndetention_beds = 30000\n')
    spec = write_spec(tmp_path / "mine", 'scenarios = ["fewer_beds.toml"]\nscale = 500\n'
                                          'end = 2019-03-31\n[vary]\n'
                                          '"apprehension_prob.tucson" = [0.7, 0.8]\n')
    sweep = load_spec(spec)
    assert {t.scenario for t in sweep.runs} == {"fewer_beds.toml"}
    assert {t.scenario_path for t in sweep.runs} == {str(tmp_path / "mine" / "fewer_beds.toml")}
    table = runner.run_table(sweep.runs[0])
    assert set(table.loc[table.kind == "monthly", "period"]) == \
        {"2018-10", "2018-11", "2018-12", "2019-01", "2019-02", "2019-03"}
    assert (table["apprehension_prob.tucson"] == 0.7).all()


def old_code(task):
    return runner.run_table(task).assign(code="0123456789abcdef")


def test_a_run_made_by_other_model_code_is_a_failure(tmp_path):
    sweep = load_spec(write_spec(tmp_path, SHORT.replace("seeds = 2", "seeds = 1")))
    report = runner.run_sweep(sweep, tmp_path / "out", workers=1, processes=False, run=old_code,
                              progress=False)
    assert len(report.failed) == 4 and run_files(tmp_path / "out") == {}
    text = (tmp_path / "out" / "errors" / f"{report.failed[0]}.txt").read_text()
    assert text.startswith("the worker ran model code 0123456789abcdef, this sweep's is ")


def test_a_folder_of_runs_made_before_a_scenario_changed_is_refused(tmp_path):
    """Runs are named by the spec and the model code, not by what a scenario file (or the
    committed fit it merges) says: after either changes, the folder's runs are another
    sweep's, so the same --out is refused in one line naming the scenario and its files;
    a spec with the scenario as it was finds the folder as it left it."""
    mine = tmp_path / "mine.toml"
    mine.write_text('description = "fewer beds"\nbase = "historical"\n[parameters]\n'
                    'detention_beds = 30000\n')
    body = SHORT.replace('scenarios = ["historical"]', f'scenarios = ["{mine}"]').replace(
        "seeds = 2", "seeds = 1")
    out = tmp_path / "out"
    first = Counting(tmp_path / "log")
    runner.run_sweep(load_spec(write_spec(tmp_path, body)), out, workers=1, processes=False,
                     run=first, progress=False)
    assert len(first.calls) == 4 and (out / runner.INPUTS_FILE).is_file()
    before = run_files(out)

    mine.write_text(mine.read_text().replace("30000", "25000"))
    changed = load_spec(write_spec(tmp_path, body))
    with pytest.raises(SpecError, match=r"its runs were made from other scenario inputs: .*"
                                         r"mine\.toml changed since \(read from .*mine\.toml"):
        runner.run_sweep(changed, out, workers=1, processes=False, run=Counting(tmp_path / "x"),
                         progress=False)
    assert run_files(out) == before

    mine.write_text(mine.read_text().replace("25000", "30000"))
    again = Counting(tmp_path / "log2")
    report = runner.run_sweep(load_spec(write_spec(tmp_path, body)), out, workers=1,
                              processes=False, run=again, progress=False)
    assert again.calls == [] and len(report.skipped) == 4

    (out / runner.INPUTS_FILE).write_text("{}")  # damaged: what the runs came from is unknown
    with pytest.raises(SpecError, match=r"inputs\.json: not what a sweep wrote .* unknown"):
        runner.run_sweep(load_spec(write_spec(tmp_path, body)), out, workers=1, processes=False,
                         run=Counting(tmp_path / "y"), progress=False)
    assert run_files(out) == before
    (out / runner.INPUTS_FILE).unlink()  # as a sweep of an earlier version left its folder
    with pytest.raises(SpecError, match=r"holds runs but no inputs\.json: .* unknown"):
        runner.run_sweep(load_spec(write_spec(tmp_path, body)), out, workers=1, processes=False,
                         run=Counting(tmp_path / "z"), progress=False)
    assert run_files(out) == before


def test_what_a_scenarios_runs_are_made_from_does_not_depend_on_where_its_file_is(tmp_path):
    from experiments.spec import scenario_inputs
    from model import load_scenario

    text = ('description = "fewer beds"\nbase = "historical"\n[parameters]\n'
            'detention_beds = 30000\n')
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "mine.toml").write_text(text)
    here, there = (scenario_inputs(load_scenario(str(tmp_path / f / "mine.toml"))) for f in "ab")
    assert here["sha256"] == there["sha256"] and here["files"] != there["files"]
    (tmp_path / "b" / "mine.toml").write_text(text.replace("30000", "25000"))
    changed = scenario_inputs(load_scenario(str(tmp_path / "b" / "mine.toml")))
    assert changed["sha256"] != here["sha256"]
