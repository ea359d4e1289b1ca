"""`run.py calibrate` never replaces the committed fit unless told to (--overwrite), writes
a new folder by default, and refuses a bad --out, --db or --min-epsilon in one line
before a cluster starts or anything is written (issue 16, items 2 and 8).

The two real calibrations here are tiny (one prior, one target, population 2, budget 1,
scale 400, five months, one worker) and run with the working directory in tmp_path, so
their default folders land there and `git status` stays clean.
"""

import hashlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import run as cli  # noqa: E402
from calibration.fit import (CALIBRATION_DIR, FIT_FILES, FitError, FitSetup,  # noqa: E402
                             check_out_dir, committed_fit_dirs, guard_committed_fit)

# the ABC fit's flags (its history, --db); the emulator's refusals: tests/test_emulator_fit.py
TINY = ["--method", "abc", "--budget", "1", "--population", "2", "--scale", "400", "--start",
        "2019-01-01", "--end", "2019-05-31", "--workers", "1"]


def committed_fit() -> dict[str, str]:
    """Every file of the committed fit, and historical.toml, by hash."""
    files = [CALIBRATION_DIR / name for name in FIT_FILES] + [ROOT / "scenarios" /
                                                              "historical.toml"]
    return {str(f): hashlib.sha256(f.read_bytes()).hexdigest() for f in files}


def tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def small_files(tmp_path) -> tuple[Path, Path]:
    priors = tmp_path / "priors.toml"
    priors.write_text('[priors."apprehension_prob.*"]\ndistribution = "uniform"\nlow = 0.6\n'
                      'high = 0.9\nreason = "test"\n', encoding="utf-8")
    targets = tmp_path / "targets.toml"
    targets.write_text('[targets.may]\nlabel = "May 2019"\nseed = "001_3c5efb37f70223ed.txt"\n'
                       'quote = "q"\nseed_says = "about 144,000"\nvalue = 144000\n'
                       'kind = "about"\ntolerance = 0.01\ncolumns = ["encounters"]\n'
                       'month = "2019-05"\n', encoding="utf-8")
    return priors, targets


def calibrate(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "run.py"), "calibrate", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=600)


def test_default_calibrate_writes_a_new_folder_and_leaves_the_committed_fit_alone(
        tmp_path, small_files):
    """Issue 16: `calibrate --budget 1 --population 2` rewrote calibration/calibrated.toml."""
    priors, targets = small_files
    before = committed_fit()
    flags = ["--priors", str(priors), "--targets", str(targets), *TINY]
    result = calibrate(tmp_path, *flags)
    assert result.returncode == 0, result.stderr
    assert committed_fit() == before  # byte for byte
    (made,) = (tmp_path / "runs").iterdir()
    assert re.fullmatch(r"calibrate-\d{8}-\d{6}", made.name), made.name
    assert {"posterior.parquet", "calibrated.toml", "history.db"} <= set(os.listdir(made))
    assert f"runs/{made.name}/calibrated.toml" in result.stdout  # it says where
    assert f"into runs/{made.name}" in result.stderr
    # that folder now holds a fit: the same command aimed at it is refused, untouched
    kept = tree(made)
    again = calibrate(tmp_path, *flags, "--out", str(made))
    assert again.returncode == 2
    assert again.stderr.splitlines() == [
        f"error: --out {made}: holds a fit already (posterior.parquet, calibrated.toml); add "
        f"--resume to continue its history, --overwrite to replace it, or give another --out"]
    assert tree(made) == kept and os.listdir(tmp_path / "runs") == [made.name]


def test_report_only_reads_the_committed_fit_and_writes_a_new_folder(tmp_path, small_files):
    priors, targets = small_files
    before = committed_fit()
    result = calibrate(tmp_path, "--report-only", "--priors", str(priors), "--targets",
                       str(targets), "--draws", "2", *TINY)
    assert result.returncode == 0, result.stderr
    assert committed_fit() == before
    (made,) = (tmp_path / "runs").iterdir()
    assert made.name.startswith("calibrate-report-")
    assert sorted(os.listdir(made)) == sorted(f for f in FIT_FILES if f.startswith("report"))
    assert f"the new one goes into runs/{made.name}" in result.stderr
    assert f"wrote runs/{made.name}/report.md" in result.stdout


@pytest.fixture
def refused(tmp_path, monkeypatch, capsys, small_files):
    """Run `calibrate` in-process with tmp_path as the working directory; no cluster may
    start. Returns (exit status, the single stderr line)."""
    monkeypatch.setattr("experiments.runner.open_client",
                        lambda *a, **k: pytest.fail("a cluster was started"))
    monkeypatch.chdir(tmp_path)
    priors, targets = small_files

    def run(*args: str, files: bool = True) -> str:
        argv = ["calibrate", *(["--priors", str(priors), "--targets", str(targets)]
                               if files else []), *TINY, *args]
        try:
            code = cli.main(argv)
        except SystemExit as exc:  # argparse's refusals
            code = exc.code
        captured = capsys.readouterr()
        assert code == 2, captured
        assert captured.out == ""
        lines = captured.err.splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), captured.err
        assert "Traceback" not in captured.err
        assert not (tmp_path / "runs").exists()
        return lines[0]
    return run


def test_the_committed_fit_is_refused_without_overwrite_even_to_resume(refused):
    before = committed_fit()
    for extra in ([], ["--resume"]):
        line = refused("--out", str(CALIBRATION_DIR), *extra)
        assert line == (f"error: --out {CALIBRATION_DIR}: holds the committed fit that "
                        f"historical runs with (calibrated.toml); add --overwrite to replace "
                        f"it, or give another --out")
    assert committed_fit() == before


def test_the_committed_fit_is_what_historical_names_and_python_is_guarded_too():
    assert CALIBRATION_DIR in committed_fit_dirs()
    check_out_dir(CALIBRATION_DIR, overwrite=True)  # the explicit way is allowed
    with pytest.raises(FitError, match="holds the committed fit"):
        guard_committed_fit(FitSetup(), CALIBRATION_DIR)  # write_results / write_report
    guard_committed_fit(FitSetup(overwrite=True), CALIBRATION_DIR)


def test_an_archived_fit_needs_resume_or_overwrite(tmp_path, refused):
    archived = tmp_path / "archived"
    shutil.copytree(CALIBRATION_DIR / "fits" / "2026-11-26", archived)
    kept = tree(archived)
    line = refused("--out", str(archived))
    assert line.startswith(f"error: --out {archived}: holds a fit already (posterior.parquet, "
                           f"calibrated.toml, report.md, "), line
    # --resume gets past the folder, and is then refused for want of a history in it
    line = refused("--out", str(archived), "--resume")
    assert line == (f"error: --resume: no calibration history at {archived / 'history.db'} "
                    f"to resume")
    assert tree(archived) == kept


def write_into(folder: Path, name: str, data: bytes = b"x") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data)
    return folder / name


@pytest.mark.parametrize("args, message", [
    (["--min-epsilon", "nan"], "error: argument --min-epsilon: --min-epsilon must be a finite "
                               "number >= 0, got 'nan'"),
    (["--min-epsilon", "-1"], "--min-epsilon must be a finite number >= 0, got '-1'"),
    (["--min-epsilon", "inf"], "--min-epsilon must be a finite number >= 0, got 'inf'"),
    (["--min-epsilon", "tiny"], "--min-epsilon must be a number, got 'tiny'"),
    (["--out", "/proc/x"], "error: --out /proc/x: cannot create the folder: No such file or "
                           "directory"),
    (["--out", "/proc/x", "--report"], "error: --out /proc/x: cannot create the folder"),
    (["--db", "/proc/x/history.db"], "error: --db /proc/x: cannot create the folder"),
    (["--db", "{tmp}"], "error: --db {tmp}: is a folder, not a file"),
    (["--out", "{tmp}/afile"], "error: --out {tmp}/afile: is a file, not a folder"),
    (["--out", "{tmp}/mine"], "error: --out {tmp}/mine: is not empty and holds no fit"),
    (["--resume"], "error: --resume: give --out the folder of the calibration to resume"),
    (["--priors", "{tmp}"], "error: {tmp}: cannot read: Is a directory"),
    (["--targets", "{tmp}/binary"], "error: {tmp}/binary: not valid TOML: 'utf-8' codec"),
    (["--report-only", "--out", "{tmp}/broken"], "error: {tmp}/broken/posterior.parquet: not "
                                                 "a posterior written by `run.py calibrate`"),
    (["--bogus"], "error: unrecognized arguments: --bogus"),
    (["--population", "1000000000"], "--population must be at most 100,000, got 1000000000"),
    (["--draws", "1000000", "--report"], "--draws must be at most 100,000, got 1000000"),
    (["--out", "x" * 300], f"error: --out {'x' * 300}: File name too long"),
    (["--db", "x" * 300], f"error: --db {'x' * 300}: File name too long"),
], ids=["min-epsilon nan", "min-epsilon -1", "min-epsilon inf", "min-epsilon text",
        "out in /proc", "out in /proc with report", "db in /proc", "db a folder",
        "out a file", "out someone's folder", "resume without out", "priors a folder",
        "targets binary", "report-only on a broken posterior", "unknown flag", "population of a billion", "a million draws", "out name too long",
        "db name too long"])
def test_bad_flags_are_one_line_before_a_cluster_starts(tmp_path, refused, args, message):
    write_into(tmp_path, "afile", b"mine")
    write_into(tmp_path / "mine", "notes.txt", b"mine")
    write_into(tmp_path, "binary", bytes(range(256)))
    write_into(tmp_path / "broken", "posterior.parquet", b"PAR1 not really")
    before = tree(tmp_path)
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    line = refused(*args, files="--priors" not in args and "--targets" not in args)
    assert message.replace("{tmp}", str(tmp_path)) in line, line
    assert tree(tmp_path) == before  # nothing written, nothing created


def test_an_unwritable_out_is_refused_before_a_cluster_starts(refused):
    if not Path("/sys").is_dir():
        pytest.skip("no /sys")
    line = refused("--out", "/sys/calibration-test")
    assert line.startswith("error: --out /sys/calibration-test: cannot create the folder: "), line


def test_a_folder_another_command_holds_is_refused_before_a_cluster_starts(tmp_path, refused):
    """Two fits on one folder would write one history and one posterior at once."""
    from model.files import folder_lock

    busy = tmp_path / "busy"
    busy.mkdir()
    with folder_lock(busy, "calibration"):  # as a running fit holds it
        held = tree(busy)
        for extra in ([], ["--method", "emulator", "--budget", "20"], ["--report"]):
            line = refused("--out", str(busy), *extra)
            assert line == (f"error: {busy} is in use by another calibration (pid "
                            f"{os.getpid()}); wait for it to finish or use another --out")
            assert tree(busy) == held
