"""The command line's edges: too coarse a scale, an --out that cannot be written,
Ctrl-C, stale scratch folders, a broken scenario file, and what run.json records.

Each refusal is one `error:` line on stderr, exit 2, nothing left behind.
"""

import json
import re
import signal
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import run as cli  # noqa: E402
from model import ScenarioError, load_scenario, simulate  # noqa: E402
from helpers import one_error_line  # noqa: E402
from model.config.scale_check import check_scale  # noqa: E402

SHORT = ("--set", "end=2019-03-31")  # the historical scenario's first six months: 182 days


def run_cli(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "run.py", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=300, **kwargs)


@pytest.fixture
def no_model(monkeypatch):
    """Fail the test if the CLI builds the model or writes output."""
    monkeypatch.setattr(cli, "simulate", lambda *a, **k: pytest.fail("the model was built"))
    monkeypatch.setattr(cli, "write_outputs", lambda *a, **k: pytest.fail("output was written"))


# --- 3. a scale that leaves a nationality with no agents ----------------------------------

def test_scale_check_uses_departures_push_and_days(tmp_path):
    """china: 4 a day; push 1.0 (before any listed month) in Jan-Mar, 0.5 from April:
    mean 0.75 over six months of 181 days, so 4 x 0.75 x 181 = 543 people."""
    path = tmp_path / "short.toml"
    path.write_text('description = "six months"\nstart = 2019-01-01\nend = 2019-06-30\n'
                    '[parameters.push.china]\n"2019-04" = 0.5\n')
    loaded = load_scenario(str(path))
    check_scale(loaded, 543)
    with pytest.raises(ScenarioError, match=r"^scale: 544 is too coarse for this scenario: fewer "
                                            r"than one agent would set out from china over the "
                                            r"whole run; use at most 543$"):
        check_scale(loaded, 544)


def test_scale_check_carries_push_forward_into_a_shorter_run():
    """historical lists china's push from 2018-10 (1.0); a run to 2019-03-31 is
    182 days at 4 a day, and a push set for January halves the last three months."""
    loaded = load_scenario("historical", ["end=2019-03-31", "push.china.2019-01=0.5"])
    check_scale(loaded, 546)  # 4 x (1 + 1 + 1 + 0.5 + 0.5 + 0.5) / 6 x 182
    with pytest.raises(ScenarioError, match="use at most 546$"):
        check_scale(loaded, 547)


def test_scale_check_ignores_a_nationality_the_scenario_sends_nobody_from():
    loaded = load_scenario("historical", ["end=2019-03-31", "departures_per_day.china=0"])
    check_scale(loaded, 5000)  # el_salvador, the next scarcest, has some 30,000
    with pytest.raises(ScenarioError, match="from el_salvador"):
        check_scale(loaded, 10**6)


def test_simulate_refuses_too_coarse_a_scale():
    with pytest.raises(ScenarioError, match=r"^scale: 1000000000 is too coarse .* from china .*"
                                            r"use at most 3874$"):
        simulate("historical", scale=10**9)


def test_cli_refuses_too_coarse_a_scale_before_anything(tmp_path, no_model, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")  # the scale is reported, not this folder
    code = cli.main(["run", "historical", "--scale", "1000000000", "--out", str(out)])
    err = capsys.readouterr()
    assert code == 2 and err.out == ""
    line = one_error_line(err.err)
    assert line == ("error: scale: 1000000000 is too coarse for this scenario: fewer than one "
                    "agent would set out from china over the whole run; use at most 3874")
    assert [p.name for p in out.iterdir()] == ["notes.txt"]


def test_cli_refuses_too_coarse_a_scale_end_to_end(tmp_path):
    out = tmp_path / "out"
    result = run_cli("run", "historical", "--scale", "1000000000", "--out", str(out))
    assert result.returncode == 2, result
    assert "too coarse" in one_error_line(result.stderr)
    assert result.stdout == "" and not out.exists()


# --- 1. an --out folder that cannot be written is refused before the run -------------------

def refused_out(out: Path, capsys) -> str:
    """Run the CLI in-process into `out`; assert a clean refusal; return its line."""
    code = cli.main(["run", "historical", "--scale", "200", *SHORT, "--out", str(out)])
    captured = capsys.readouterr()
    assert code == 2 and captured.out == "", captured
    line = one_error_line(captured.err)
    assert line.startswith(f"error: --out {out}: "), line
    return line


def test_out_under_proc_is_refused_before_the_run(no_model, capsys):
    line = refused_out(Path("/proc/x"), capsys)
    assert "cannot create the folder" in line
    assert not Path("/proc/x").exists()


def test_out_under_a_file_is_refused_before_the_run(tmp_path, no_model, capsys):
    somefile = tmp_path / "somefile"
    somefile.write_text("mine")
    line = refused_out(somefile / "sub", capsys)
    assert line.endswith(f"cannot create the folder: {somefile} is a file, not a folder")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["somefile"]
    assert somefile.read_text() == "mine"


def can_write_into(folder: Path) -> bool:
    try:
        (folder / "probe").mkdir()
    except PermissionError:
        return False
    (folder / "probe").rmdir()
    return True


@pytest.mark.parametrize("sub", ["", "new/deeper"], ids=["the folder", "a folder inside it"])
def test_out_in_a_read_only_folder_is_refused_before_the_run(tmp_path, no_model, capsys, sub):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if can_write_into(locked):
            pytest.skip("this user (root) may write into a read-only folder")
        line = refused_out(locked / sub if sub else locked, capsys)
        assert "Permission denied" in line
        assert list(locked.iterdir()) == []
    finally:
        locked.chmod(0o700)


def test_unwritable_out_is_refused_end_to_end(tmp_path):
    """The real command line: one line, exit 2, before any time is spent running."""
    somefile = tmp_path / "somefile"
    somefile.write_text("")
    started = time.perf_counter()
    result = run_cli("run", "historical", "--scale", "200", "--out", str(somefile / "sub"))
    assert result.returncode == 2, result
    assert "is a file, not a folder" in one_error_line(result.stderr)
    assert result.stdout == ""
    assert time.perf_counter() - started < 20  # the full run would take longer; it never ran


def test_a_refused_probe_leaves_no_folders_behind(tmp_path, no_model, capsys, monkeypatch):
    """If the folder can be created but not written into, what was created goes again."""
    import model.files

    def cannot_write(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(model.files.tempfile, "mkdtemp", cannot_write)
    line = refused_out(tmp_path / "a" / "b" / "c", capsys)
    assert line.endswith("cannot write into the folder: Permission denied")
    assert list(tmp_path.iterdir()) == []


# --- 2. Ctrl-C: one line, exit 130, nothing half-written --------------------------------------

def start_run(out: Path) -> subprocess.Popen:
    """`run.py run historical` at full scale (some five seconds, so a Ctrl-C a second in
    lands mid-run) in a child that takes Ctrl-C (a child started in the background
    would otherwise inherit SIGINT ignored)."""
    return subprocess.Popen(
        [sys.executable, "run.py", "run", "historical", "--scale", "1", "--out", str(out)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def interrupt(child: subprocess.Popen) -> tuple[int, str, str]:
    child.send_signal(signal.SIGINT)
    out, err = child.communicate(timeout=60)
    return child.returncode, out, err


def test_ctrl_c_during_the_run_stops_cleanly(tmp_path):
    out = tmp_path / "new" / "out"
    child = start_run(out)
    deadline = time.monotonic() + 60
    while not out.exists():  # the folder is claimed just before the model runs
        assert child.poll() is None, child.communicate()
        assert time.monotonic() < deadline, "the run never started"
        time.sleep(0.05)
    time.sleep(1.0)  # well into the run
    code, stdout, stderr = interrupt(child)
    assert code == 130, (code, stderr)
    assert stderr == f"interrupted: nothing written to {out}\n"
    assert stdout == ""
    assert list(tmp_path.iterdir()) == []  # the folders this run created are gone


def test_ctrl_c_while_starting_up_stops_cleanly(tmp_path):
    out = tmp_path / "out"
    child = start_run(out)
    # Ctrl-C while it loads the libraries: once numpy's compiled part is mapped (run.py
    # has its handler by then; a signal before Python itself is up cannot be handled),
    # and before the run starts. A fixed sleep raced Python's own start on a busy machine.
    maps, deadline = Path(f"/proc/{child.pid}/maps"), time.monotonic() + 60
    while "numpy" not in maps.read_text():
        assert child.poll() is None, child.communicate()
        assert time.monotonic() < deadline, "never started loading numpy"
        time.sleep(0.01)
    code, stdout, stderr = interrupt(child)
    assert code == 130, (code, stderr)
    assert stderr in ("interrupted\n", f"interrupted: nothing written to {out}\n")
    assert stdout == "" and not out.exists()



def test_a_ctrl_c_a_finalizer_swallows_still_stops_the_run(tmp_path, capsys, monkeypatch):
    """Ctrl-C landing in a `__del__` (numba's object destructors run mid-run) is swallowed
    by Python, which printed 'Exception ignored' and let the run finish (exit 0)."""
    class Finalized:
        def __del__(self):
            cli._remember_interrupt(signal.SIGINT, None)  # what the Ctrl-C handler does

    def simulate_a_week_then_ctrl_c(*args, progress, **kwargs):
        progress(7, 365)
        Finalized()  # its __del__ raises KeyboardInterrupt, which Python swallows
        progress(14, 365)
        pytest.fail("the run went on")

    monkeypatch.setattr(cli, "simulate", simulate_a_week_then_ctrl_c)
    handler = signal.getsignal(signal.SIGINT)
    out = tmp_path / "out"
    assert cli.main(["run", "historical", "--scale", "200", *SHORT, "--out", str(out)]) == 130
    assert capsys.readouterr().err == f"interrupted: nothing written to {out}\n"
    assert not out.exists()
    assert signal.getsignal(signal.SIGINT) is handler and cli._INTERRUPTS == []
    with pytest.raises(KeyboardInterrupt):  # swallowed at the very end: raised at the end
        with cli.interrupts_kept():
            Finalized()


def test_ctrl_c_keeps_an_out_folder_it_did_not_create(tmp_path, capsys, monkeypatch):
    out = tmp_path / "out"
    out.mkdir()

    def ctrl_c(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "simulate", ctrl_c)
    code = cli.main(["run", "historical", "--scale", "200", *SHORT, "--out", str(out)])
    assert code == 130
    assert capsys.readouterr().err == f"interrupted: nothing written to {out}\n"
    assert out.is_dir() and list(out.iterdir()) == []


def test_ctrl_c_while_moving_the_files_in_takes_them_out_again(tmp_path, capsys, monkeypatch):
    """Stopped between moving monthly.csv and the rest: no file stays, nor the folder."""
    out = tmp_path / "out"
    real_replace = Path.replace

    def replace_then_ctrl_c(self, target):
        moved = real_replace(self, target)
        if Path(target).name == "daily.parquet":
            raise KeyboardInterrupt
        return moved

    monkeypatch.setattr(Path, "replace", replace_then_ctrl_c)
    code = cli.main(["run", "historical", "--scale", "200", *SHORT, "--out", str(out)])
    assert code == 130
    assert capsys.readouterr().err == f"interrupted: nothing written to {out}\n"
    assert list(tmp_path.iterdir()) == []


# --- 4. a scratch folder left by a run killed while writing -----------------------------------

def leave_stale_scratch(out: Path) -> Path:
    """What a run killed while writing leaves: a hidden, half-filled .partial-* folder."""
    stale = out / ".partial-k1ll3d"
    stale.mkdir(parents=True)
    (stale / "monthly.csv").write_text("month,encounters\n2019-01,")
    return stale


def test_stale_scratch_folder_does_not_block_the_rerun(tmp_path, capsys):
    out = tmp_path / "out"
    leave_stale_scratch(out)
    code = cli.main(["run", "historical", "--scale", "200", *SHORT, "--out", str(out)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["monthly.csv", "daily.parquet", "flights.csv", "run.json",
         "report.html"])  # the stale one is gone


def test_stale_scratch_folder_is_left_alone_when_the_folder_is_refused(tmp_path, no_model, capsys):
    out = tmp_path / "out"
    stale = leave_stale_scratch(out)
    (out / "notes.txt").write_text("mine")
    code = cli.main(["run", "historical", "--scale", "200", *SHORT, "--out", str(out)])
    assert code == 2
    assert "is not empty" in one_error_line(capsys.readouterr().err)
    assert (stale / "monthly.csv").is_file()


# --- 5. `run.py scenarios` with a broken file among the good ones -----------------------------

GOOD = 'description = "a good one"\nstart = 2019-01-01\nend = 2019-06-30\n'


def test_scenarios_lists_the_good_ones_and_names_each_broken_one(tmp_path, monkeypatch, capsys):
    (tmp_path / "good.toml").write_text(GOOD)
    (tmp_path / "cf.toml").write_text('base = "good.toml"\ndescription = "a counterfactual"\n')
    (tmp_path / "broken.toml").write_text("[parameters\n")
    (tmp_path / "wrong.toml").write_text(GOOD + "[parameters]\ncredible_fear_positive = 1.5\n")
    monkeypatch.setattr(cli, "SCENARIO_DIR", tmp_path)
    code = cli.main(["scenarios"])
    captured = capsys.readouterr()
    assert code == 1
    assert [line.split()[0] for line in captured.out.splitlines()] == ["cf", "good"]
    assert "a counterfactual (base: good)" in captured.out
    broken, wrong = captured.err.splitlines()
    assert broken.startswith(f"broken.toml: error: {tmp_path / 'broken.toml'}: not valid TOML")
    assert wrong == (f"wrong.toml: error: {tmp_path / 'wrong.toml'}: "
                     "parameters.credible_fear_positive: 1.5 is not a probability in [0, 1]")


def test_scenarios_exits_0_when_every_file_is_good(tmp_path, monkeypatch, capsys):
    (tmp_path / "good.toml").write_text(GOOD)
    monkeypatch.setattr(cli, "SCENARIO_DIR", tmp_path)
    assert cli.main(["scenarios"]) == 0
    captured = capsys.readouterr()
    assert captured.out.split() == ["good", "a", "good", "one"] and captured.err == ""


# --- 6. run.json: git state, time and command line; the identity stays the run's -------------

def test_run_json_records_git_time_and_command_outside_the_identity(tmp_path):
    out = tmp_path / "out"
    argv = ["run.py", "run", "historical", "--scale", "200", *SHORT, "--out", str(out)]
    before = datetime.now(timezone.utc).replace(microsecond=0)
    result = run_cli(*argv[1:])
    assert result.returncode == 0, result.stderr
    info = json.loads((out / "run.json").read_text())
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True,
                          text=True).stdout.strip()
    if head:
        assert info["git"]["commit"] == head and isinstance(info["git"]["dirty"], bool)
    else:
        assert info["git"] is None
    written = datetime.fromisoformat(info["written_utc"])
    assert written.utcoffset().total_seconds() == 0
    assert before <= written <= datetime.now(timezone.utc)
    assert info["command"] == argv
    assert re.fullmatch(r"[0-9a-f]{16}", info["code"]) and info["package_version"]
    assert not {"git", "written_utc", "command", "wall_time_s"} & set(info["identity"])


def test_git_state_outside_git_and_of_a_dirty_checkout(tmp_path):
    assert cli.git_state(tmp_path) is None  # /tmp holds no git checkout
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "init.defaultBranch=main"]
    subprocess.run([*git, "init", "-q"], cwd=tmp_path, check=True)
    assert cli.git_state(tmp_path) is None  # no commit yet
    (tmp_path / "a.txt").write_text("one")
    subprocess.run([*git, "add", "a.txt"], cwd=tmp_path, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "one"], cwd=tmp_path, check=True)
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=tmp_path, capture_output=True,
                          text=True, check=True).stdout.strip()
    assert cli.git_state(tmp_path) == {"commit": head, "dirty": False}
    (tmp_path / "a.txt").write_text("two")
    assert cli.git_state(tmp_path) == {"commit": head, "dirty": True}


def short_run_into(out: Path, *extra: str) -> int:
    return cli.main(["run", "historical", "--scale", "200", *SHORT, "--out", str(out), *extra])


def test_identical_rerun_with_another_command_line_is_the_same_run(tmp_path, capsys):
    out = tmp_path / "out"
    assert short_run_into(out) == 0
    first = json.loads((out / "run.json").read_text())
    assert short_run_into(out, "--seed", "0") == 0, capsys.readouterr().err  # same run, other argv
    second = json.loads((out / "run.json").read_text())
    assert second["identity"] == first["identity"]
    assert second["command"] == first["command"] + ["--seed", "0"]


def test_output_of_older_code_is_not_the_same_run(tmp_path, capsys):
    out = tmp_path / "out"
    assert short_run_into(out) == 0
    capsys.readouterr()
    info = json.loads((out / "run.json").read_text())
    info["identity"]["code"] = "0123456789abcdef"  # as if written by other model code
    (out / "run.json").write_text(json.dumps(info))
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert short_run_into(out) == 2
    line = one_error_line(capsys.readouterr().err)
    assert line.startswith(f"error: --out {out}: holds the output of a different run")
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_ctrl_c_inside_a_compiled_kernel_is_still_a_keyboard_interrupt():
    """Ctrl-C landing while numba calls back into Python surfaces as a SystemError
    chained from the KeyboardInterrupt; the model turns it back into Ctrl-C."""
    from model.model import ctrl_c_as_keyboard_interrupt

    def interrupted_in_a_kernel():
        try:
            try:
                raise KeyboardInterrupt
            except KeyboardInterrupt as ctrl_c:
                raise SystemError("returned a result with an exception set") from ctrl_c
        except SystemError as inner:
            raise SystemError("returned a result with an exception set") from inner

    with pytest.raises(KeyboardInterrupt):
        with ctrl_c_as_keyboard_interrupt():
            interrupted_in_a_kernel()
    with pytest.raises(SystemError):  # a real SystemError is not hidden
        with ctrl_c_as_keyboard_interrupt():
            raise SystemError("a bug")
