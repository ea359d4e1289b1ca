"""Sturdy sweeps (issue 16): a damaged run file is redone, not skipped; temporary files
are never `*.parquet` and never stay; a full or read-only disk ends the sweep in one
line keeping every finished run; one sweep at a time per folder (an OS lock); the
manifest follows the runs (a SIGKILL loses at most the last one or two); sizes are
capped before anything is allocated.

Runs are short (the historical scenario's first six months at scale 500). The full and
read-only disks are real: a small tmpfs mounted under tmp_path (skipped, saying why,
where mounting is not allowed).
"""

import json
import os
import re
import shutil
import signal
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
from experiments import load_spec, runner  # noqa: E402
from experiments.spec import LIMITS, MAX_RUNS, MAX_SPEC_BYTES  # noqa: E402
from helpers import one_error_line, refused_before_running  # noqa: E402

SPEC = """\
description = "sturdy sweep"
scenarios = ["historical"]
seeds = 2
master_seed = 3
scale = 500
end = 2019-03-31
[vary]
"apprehension_prob.tucson" = [0.7, 0.8]
"""


def write_spec(folder: Path, body: str = SPEC, name: str = "spec.toml") -> Path:
    path = folder / name
    path.write_text(body)
    return path


def run_files(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((out / "runs").glob("*.parquet"))}


def leftovers(folder: Path) -> list[str]:
    """Temporary files anywhere under `folder` (ours, or the old `.tmp-` names)."""
    return sorted(str(p) for p in folder.rglob("*")
                  if p.name.endswith(".tmp") or p.name.startswith(".tmp-"))


@pytest.fixture
def in_process(monkeypatch):
    """`run.py sweep` with its runs in this process (threads), quietly."""
    real = runner.run_sweep
    monkeypatch.setattr(runner, "run_sweep", lambda *a, **k: real(
        *a, **{**k, "processes": False, "progress": False}))


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A finished sweep of 4 runs (two points x two seeds); copy it before damaging."""
    folder = tmp_path_factory.mktemp("finished")
    spec = write_spec(folder)
    report = runner.run_sweep(load_spec(spec), folder / "out", workers=2, processes=False,
                              progress=False)
    assert len(report.finished) == 4
    return spec, folder / "out"


def copy_of(finished, tmp_path) -> Path:
    out = tmp_path / "out"
    shutil.copytree(finished[1], out)
    return out


# --- 4. damaged run files ------------------------------------------------------------------

def test_damaged_run_files_are_redone_not_skipped(finished, tmp_path, capsys, in_process):
    spec, _ = finished
    out = copy_of(finished, tmp_path)
    whole = run_files(out)
    a, b, c, d = sorted(whole)
    (out / "runs" / a).write_bytes(whole[a][: len(whole[a]) // 2])  # cut short
    (out / "runs" / b).write_bytes(b"")                              # emptied
    (out / "runs" / c).write_bytes(whole[d])                         # another run's file
    assert cli.main(["sweep", str(spec), "--workers", "1", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "4 runs: 3 finished, 1 skipped (already done), 0 failed; 3 damaged run files " \
           "redone (e.g. " in printed
    assert run_files(out) == whole  # the same seeds made the same bytes again
    assert pd.read_parquet(out / "runs")["run_id"].nunique() == 4
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["counts"]["damaged"] == 3
    why = {r["run_id"]: r.get("damaged_file_redone") for r in manifest["runs"]}
    assert why[a.removesuffix(".parquet")].startswith("not a whole Parquet file")
    assert why[b.removesuffix(".parquet")].startswith("not a whole Parquet file")
    assert why[c.removesuffix(".parquet")] == (f"holds run {d.removesuffix('.parquet')}, "
                                               f"not {c.removesuffix('.parquet')}")
    assert why[d.removesuffix(".parquet")] is None


def test_check_run_file_names_what_is_wrong(finished, tmp_path):
    spec, out = finished
    sweep = load_spec(spec)
    columns, code = runner.run_columns(sweep), runner.code_version()
    good = sorted((out / "runs").glob("*.parquet"))[0]
    run_id = good.stem
    assert runner.check_run_file(good, run_id, columns, code) is None
    table = pd.read_parquet(good)
    cases = {"missing": None, "zero_rows": table.iloc[:0], "columns": table.drop(columns="code"),
             "code": table.assign(code="0123456789abcdef")}
    found = {}
    for name, frame in cases.items():
        path = tmp_path / f"{name}.parquet"
        if frame is not None:
            frame.to_parquet(path, index=False)
        found[name] = runner.check_run_file(path, run_id, columns, code)
    assert found["missing"] == "missing"
    assert found["zero_rows"] == "holds no rows"
    assert found["columns"].startswith("its columns are not this sweep's (run_id, scenario")
    assert found["code"] == f"holds model code 0123456789abcdef, not {code}"
    # a writer that kept no statistics: the run id is read from the column itself
    plain = tmp_path / "plain.parquet"
    table.to_parquet(plain, index=False, write_statistics=False)
    assert runner.check_run_file(plain, run_id, columns, code) is None
    assert runner.check_run_file(plain, "0" * 16, columns, code) == \
        f"holds run {run_id}, not {'0' * 16}"


def test_compare_from_a_sweep_with_a_damaged_file_names_it(finished, tmp_path, capsys):
    out = copy_of(finished, tmp_path)
    manifest = json.loads((out / "manifest.json").read_text())
    first = next(r["run_id"] for r in manifest["runs"]
                 if r["values"]["apprehension_prob.tucson"] == 0.8)
    damaged = out / "runs" / f"{first}.parquet"
    damaged.write_bytes(damaged.read_bytes()[:100])
    report = tmp_path / "report"
    assert cli.main(["compare", "historical:apprehension_prob.tucson=0.7",
                     "historical:apprehension_prob.tucson=0.8", "--from", str(out),
                     "--out", str(report)]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert line.startswith(f"error: --from {out}: {damaged}: not a whole Parquet file: "), line
    assert line.endswith(f"run the sweep that made it again (same spec, --out {out}) to redo it")
    assert not report.exists()


# --- 5. temporary files, full and read-only disks -------------------------------------------

def test_stale_temporary_files_of_a_killed_sweep_are_removed(finished, tmp_path, capsys,
                                                             in_process):
    spec, _ = finished
    out = copy_of(finished, tmp_path)
    some = sorted(run_files(out))[0]
    stale = [out / "runs" / f".{some}.99999.tmp", out / "runs" / f".tmp-99999-{some}",
             out / ".manifest.json.99999.tmp", out / ".tmp-99999-manifest.json",
             out / "errors" / ".abc.txt.99999.tmp"]
    for path in stale:
        path.write_bytes(b"PAR1 half a file")
    keep = out / "runs" / "notes.txt"
    keep.write_text("mine")
    assert cli.main(["sweep", str(spec), "--workers", "1", "--out", str(out)]) == 0
    assert "4 runs: 0 finished, 4 skipped" in capsys.readouterr().out
    assert leftovers(out) == [] and keep.read_text() == "mine"


@pytest.fixture
def small_disk(tmp_path):
    """A real 40 KiB tmpfs at tmp_path/disk (room for the spec, the lock, a manifest
    and about two run files of ~9.5 KB); unmounted afterwards."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=40k,mode=755", "tmpfs",
                              str(disk)], capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here to fill a real disk: {mounted.stderr.strip()}")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=True)


def remount(disk: Path, options: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{options}", str(disk)], check=True)


def test_a_full_disk_ends_the_sweep_in_one_line_keeping_finished_runs(tmp_path, small_disk,
                                                                     capsys, in_process):
    spec = write_spec(tmp_path)
    out = small_disk / "out"
    assert cli.main(["sweep", str(spec), "--workers", "1", "--out", str(out)]) == 2
    line = one_error_line(capsys.readouterr().err)
    match = re.fullmatch(rf"error: {re.escape(str(out))}/(runs/[0-9a-f]{{16}}\.parquet|"
                         rf"manifest\.json): cannot write: No space left on device; (\d) of 4 "
                         rf"runs done and kept in {re.escape(str(out / 'runs'))}; run the same "
                         rf"command again once it can be written", line)
    assert match, line
    kept = run_files(out)
    assert 1 <= len(kept) == int(match[2]) < 4
    assert leftovers(small_disk) == []
    pd.read_parquet(out / "runs")  # every file there is whole
    json.loads((out / "manifest.json").read_text())  # the last manifest written is whole

    remount(small_disk, "size=10m")  # space freed: the same command finishes the rest
    assert cli.main(["sweep", str(spec), "--workers", "1", "--out", str(out)]) == 0
    assert f"4 runs: {4 - len(kept)} finished, {len(kept)} skipped" in capsys.readouterr().out
    assert {k: v for k, v in run_files(out).items() if k in kept} == kept


class ReadOnlyAfter:
    """A run function that remounts the disk read-only before its `n`th run returns
    (counting in a file: Dask may run a copy of the function)."""

    def __init__(self, disk: Path, n: int, log: Path):
        self.disk, self.n, self.log = disk, n, log
        log.write_text("")

    def __call__(self, task):
        table = runner.run_table(task)
        with open(self.log, "a") as log:
            log.write("x")
        if len(self.log.read_text()) == self.n:
            remount(self.disk, "ro")
        return table


def test_a_disk_turned_read_only_ends_the_sweep_in_one_line(tmp_path, small_disk, capsys,
                                                            monkeypatch):
    remount(small_disk, "size=10m")
    spec = write_spec(tmp_path)
    out = small_disk / "out"
    real = runner.run_sweep
    monkeypatch.setattr(runner, "run_sweep", lambda *a, **k: real(
        *a, **{**k, "processes": False, "progress": False, "run": ReadOnlyAfter(small_disk, 2, tmp_path / "log")}))
    try:
        assert cli.main(["sweep", str(spec), "--workers", "1", "--out", str(out)]) == 2
    finally:
        remount(small_disk, "rw")
    line = one_error_line(capsys.readouterr().err)
    assert re.fullmatch(rf"error: {re.escape(str(out / 'runs'))}/[0-9a-f]{{16}}\.parquet: cannot "
                        rf"write: Read-only file system; 1 of 4 runs done and kept in .*", line), line
    assert len(run_files(out)) == 1 and leftovers(small_disk) == []


# --- 6. one sweep at a time; the manifest follows the runs ----------------------------------

def start_sweep(spec: Path, out: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "run.py", "sweep", str(spec), "--workers", "1",
                             "--out", str(out)], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)


def finished_in_manifest(out: Path) -> set[str]:
    manifest = json.loads((out / "manifest.json").read_text())
    return {f"{r['run_id']}.parquet" for r in manifest["runs"]
            if r["status"] in ("finished", "skipped")}


def test_one_sweep_at_a_time_and_the_manifest_survives_a_sigkill(tmp_path):
    spec = write_spec(tmp_path, SPEC.replace("seeds = 2", "seeds = 10").replace(
        "end = 2019-03-31", "end = 2019-12-31"))  # 20 runs of 15 months
    out = tmp_path / "out"
    first = start_sweep(spec, out)
    try:
        deadline = time.monotonic() + 120
        while not (out / ".lock").is_file() or not (out / ".lock").read_text():
            assert first.poll() is None, first.communicate()
            assert time.monotonic() < deadline, "the first sweep never took the lock"
            time.sleep(0.05)
        # a second sweep on the folder: one line naming the first's pid, nothing run
        second = subprocess.run([sys.executable, "run.py", "sweep", str(spec), "--workers", "1",
                                 "--out", str(out)], cwd=ROOT, capture_output=True, text=True,
                                timeout=120)
        assert second.returncode == 2
        assert one_error_line(second.stderr) == (
            f"error: {out} is in use by another sweep (pid {first.pid}); wait for it to finish "
            f"or use another --out")
        while len(run_files(out)) < 2:
            assert first.poll() is None, first.communicate()
            assert time.monotonic() < deadline, "no two runs finished"
            time.sleep(0.05)
        listed_while_running = finished_in_manifest(out)
        assert first.poll() is None, "the first sweep finished too soon to be killed mid-way"
        os.kill(first.pid, signal.SIGKILL)  # the sweep only; its workers are left to notice
        first.wait(timeout=30)
    finally:
        if first.poll() is None:
            first.kill()
        first.communicate()
        try:
            os.killpg(first.pid, signal.SIGKILL)  # any worker process left of it
        except ProcessLookupError:
            pass
    kept = run_files(out)
    listed = finished_in_manifest(out)
    assert 2 <= len(kept) < 20 and listed_while_running
    assert listed <= set(kept) and len(set(kept) - listed) <= 1, (sorted(kept), sorted(listed))
    # every kept file is whole, and the OS released the dead sweep's lock
    sweep = load_spec(spec)
    for name in kept:
        assert runner.check_run_file(out / "runs" / name, name.removesuffix(".parquet"),
                                     runner.run_columns(sweep), runner.code_version()) is None
    with runner.sweep_lock(out):
        pass


def test_the_lock_refuses_a_second_holder_in_the_same_process(tmp_path):
    with runner.sweep_lock(tmp_path / "out"):
        assert (tmp_path / "out" / ".lock").read_text() == f"{os.getpid()}\n"
        with pytest.raises(runner.SweepBusy, match=rf"^{re.escape(str(tmp_path / 'out'))} is "
                                                   rf"in use by another sweep \(pid {os.getpid()}\)"):
            with runner.sweep_lock(tmp_path / "out"):
                pass
    with runner.sweep_lock(tmp_path / "out"):  # released at the end of the block
        pass


# --- 7. sizes capped; paths that are not what they should be ---------------------------------

BASE = 'scenarios = ["historical"]\nscale = 500\nend = 2019-03-31\n'
RANGE = '"apprehension_prob.tucson" = {low = 0.6, high = 0.9}\n'
TOO_BIG = [
    (BASE + "seeds = 100000000000\n", r"seeds: 100,000,000,000 is above the cap of 10,000$"),
    (BASE + "seeds = 1e9\n", r"seeds: expected a whole number, got 1000000000.0$"),
    (BASE + '[vary]\n"apprehension_prob.tucson" = {low = 0.6, high = 0.9, steps = 1000000000}\n',
     r"vary.apprehension_prob.tucson.steps: 1,000,000,000 is above the cap of 10,000$"),
    (BASE + '[vary]\n"apprehension_prob.tucson" = {low = 0.6, high = 0.9, steps = 1e9}\n',
     r"vary.apprehension_prob.tucson.steps: expected a whole number >= 1, got 1000000000.0$"),
    (BASE + 'design = "lhs"\nsamples = 1e12\n[vary]\n' + RANGE,
     r"samples: expected a whole number, got 1000000000000.0$"),
    (BASE + 'design = "lhs"\nsamples = 1000000000000\n[vary]\n' + RANGE,
     r"samples: 1,000,000,000,000 is above the cap of 100,000$"),
    (BASE + 'design = "lhs"\nsamples = 100000\nseeds = 2\n[vary]\n' + RANGE,
     r"the sweep would make 200,000 runs \(samples 100,000 x 1 scenarios x 2 seeds\); at most "
     r"100,000 runs a sweep$"),
    (BASE + 'design = "saltelli"\nsamples = 50000\n[vary]\n' + RANGE
     + '[sensitivity]\noutputs = ["encounters"]\n',
     r"would make 150,000 runs \(SALib's 50,000 x 3 design rows 150,000 x 1 scenarios x 1 "
     r"seeds\)"),
    (BASE + 'design = "morris"\nsamples = 10\n[vary]\n' + RANGE
     + '[sensitivity]\noutputs = ["encounters"]\nlevels = 1000000\n',
     r"sensitivity.levels: 1,000,000 is above the cap of 100$"),
    (BASE + 'seeds = 10000\n[vary]\n"apprehension_prob.tucson" = '
     + str([round(0.5 + i / 100, 2) for i in range(11)]) + '\n',
     r"would make 110,000 runs \(the grid's combinations 11 x 1 scenarios x 10,000 seeds\)"),
    (BASE + '[vary]\ndetention_beds = ' + str(list(range(10001))) + '\n',
     r"vary.detention_beds: 10,001 values; at most 10,000$"),
    (BASE + '[vary]\n' + "".join(f'"k{i}" = [1]\n' for i in range(101)),
     r"vary: 101 keys; at most 100$"),
    (BASE + f'master_seed = {2**63}\n', r"master_seed: 9,223,372,036,854,775,808 is above the "
                                       r"cap of 9,223,372,036,854,775,807$"),
    (BASE + f'description = "{"x" * 10001}"\n', r"description: 10,001 characters; at most "
                                                 r"10,000$"),
    (BASE + f'[vary]\n"{"k" * 300}" = [1]\n', r"vary: a key of 300 characters \('kkkk"),
]


@pytest.mark.parametrize("body, message", TOO_BIG, ids=[
    "seeds", "seeds_float", "steps", "steps_float", "samples_float", "samples", "runs_lhs",
    "runs_saltelli", "levels", "runs_grid", "values", "keys", "master_seed", "description",
    "key_length"])
def test_sizes_are_capped_in_one_line_before_anything_runs(tmp_path, capsys, monkeypatch, body,
                                                          message):
    path, out = write_spec(tmp_path, body, "big.toml"), tmp_path / "out"
    started = time.monotonic()
    line = refused_before_running(["sweep", str(path), "--out", str(out)], capsys, monkeypatch,
                                  path, message, out)
    assert len(line) < 300, line
    assert time.monotonic() - started < 10  # refused, not computed


def test_the_caps_let_the_largest_allowed_sweep_through():
    assert MAX_RUNS == 100_000 and LIMITS["seeds"] == 10_000
    from experiments.spec import _check_size

    _check_size("x.toml", {"a": [1] * 10}, "grid", None, 1, 10_000, None)  # exactly the cap


def test_a_spec_file_over_the_size_cap_is_refused_unread(tmp_path, capsys, monkeypatch):
    path = write_spec(tmp_path, BASE + "#" * MAX_SPEC_BYTES + "\n", "huge.toml")
    refused_before_running(["sweep", str(path), "--out", str(tmp_path / "out")], capsys,
                           monkeypatch, path, r"larger than 1,000,000 bytes; a sweep spec is a "
                                              r"short TOML file$", tmp_path / "out")


def test_a_spec_path_that_is_a_folder_is_refused(tmp_path, capsys, monkeypatch):
    folder = tmp_path / "specs.toml"
    folder.mkdir()
    refused_before_running(["sensitivity", str(folder), "--out", str(tmp_path / "out")], capsys,
                           monkeypatch, folder, r"is a folder, not a sweep spec file$",
                           tmp_path / "out")


def test_an_out_that_is_a_file_is_refused_and_left_alone(tmp_path, capsys):
    spec = write_spec(tmp_path)
    out = tmp_path / "results.parquet"
    out.write_bytes(b"someone's file")
    assert cli.main(["sweep", str(spec), "--out", str(out)]) == 2
    assert one_error_line(capsys.readouterr().err) == \
        f"error: --out {out}: is a file, not a folder"
    assert out.read_bytes() == b"someone's file"


def test_an_out_inside_a_file_is_refused(tmp_path, capsys):
    spec = write_spec(tmp_path)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert cli.main(["sweep", str(spec), "--out", str(blocker / "out")]) == 2
    assert one_error_line(capsys.readouterr().err) == \
        f"error: --out {blocker / 'out'}: cannot write there: Not a directory"


def test_a_compare_rerun_redoes_a_damaged_run_file(tmp_path, capsys, in_process):
    """`compare` runs through the sweep's runner: a damaged file of an earlier comparison
    is redone on the rerun, and the report is made (it stopped in pyarrow before)."""
    out = tmp_path / "report"
    argv = ["compare", "historical", "title42_off", "--seeds", "2", "--scale", "500",
            "--end", "2019-03-31", "--workers", "1", "--out", str(out)]
    assert cli.main(argv) == 0
    whole = run_files(out)
    first = sorted(whole)[0]
    (out / "runs" / first).write_bytes(whole[first][:-8])  # its footer cut off
    capsys.readouterr()
    assert cli.main(argv) == 0
    assert "wrote " in capsys.readouterr().out
    assert run_files(out) == whole
    assert json.loads((out / "manifest.json").read_text())["counts"]["damaged"] == 1
