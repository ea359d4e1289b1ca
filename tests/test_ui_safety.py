"""The browser app safe to share (issue 16): dropped files and saves never replace a file
and leave nothing when refused, a base stays inside the scenario folders, file names are
checked, `run.py ui`'s bad flags are one line, the server dies with its command, and the
token rule. The page's own checks in a real browser are in test_ui_browser.py."""

import hashlib
import io
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from conftest import ROOT
from model import ScenarioError, load_scenario
from model.config.scenario import SCENARIO_DIR
from ui import files
from ui import settings as ui_settings
from ui.serve import ServeError, bind, check_token, decide_token, is_loopback

CHANGED = 'description = "mine"\nbase = "historical"\n[policies.title42]\nend = 2021-06-30\n'


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def save_dir(tmp_path, monkeypatch):
    """The page's save folder (run.py ui --save-dir) in a temporary folder."""
    folder = tmp_path / "saved"
    monkeypatch.setenv("BORDER_UI_SAVE_DIR", str(folder))
    return folder


def upload(name: str, body: bytes, size: int | None = -1):
    """Drop a file as the page does (`files.receive_upload` with the page's check)."""
    return files.receive_upload(
        name, len(body) if size == -1 else size, io.BytesIO(body),
        lambda tmp, roots: ui_settings.read_scenario_file(tmp, None, roots))


def everything_in(folder):
    return sorted(p.name for p in folder.rglob("*")) if folder.exists() else []


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_dropped_historical_toml_is_kept_beside_the_repo_file_never_over_it(save_dir):
    repo_file = SCENARIO_DIR / "historical.toml"
    before = digest(repo_file)
    path, chosen = upload("historical.toml", CHANGED.encode())
    assert path == files.upload_dir() / "historical.toml"
    assert chosen.policies["title42"]["end"] == "2021-06-30"
    again, _ = upload("historical.toml", b"# the same name again\n" + CHANGED.encode())
    assert again.name == "historical-2.toml"
    assert path.read_text() == CHANGED  # the first one is untouched
    assert digest(repo_file) == before
    assert everything_in(files.upload_dir()) == ["historical-2.toml", "historical.toml"]


@pytest.mark.parametrize("name, body, size, says", [
    ("historical.toml", b"this is = = not toml", -1, "not valid TOML"),
    ("evil.py", b"import os\n", -1, "not a .toml file"),
    ("big.toml", b"#" * (files.MAX_UPLOAD_BYTES + 1), -1, "at most 1,000,000"),
    ("big.toml", b"# " + b"x" * (files.MAX_UPLOAD_BYTES + 5), None, "more than 1,000,000"),
    ("latin.toml", 'description = "caf\xe9"\n'.encode("latin-1"), -1, "not UTF-8"),
    ("odd.toml", b'base = "historical"\nwhat = 1\n', -1, "what: unknown key"),
    ("late.toml", CHANGED.replace("2021-06-30", "2030-01-01").encode(), -1, "2030-01-01"),
    ("deep.toml", b"x = " + b"[" * 5000 + b"]" * 5000, -1, "deep.toml"),
])
def test_a_refused_drop_says_why_and_leaves_nothing(save_dir, name, body, size, says):
    with pytest.raises(files.FileRefused) as refused:
        upload(name, body, size)
    message = str(refused.value)
    assert says in message and "\n" not in message and files.TEMPORARY not in message
    assert everything_in(files.upload_dir()) == []  # not even the temporary file
    assert not list(SCENARIO_DIR.glob(".incoming-*"))


def test_a_base_outside_the_scenario_folders_is_refused_unread(save_dir, tmp_path):
    secret = tmp_path / "elsewhere" / "secret.toml"
    secret.parent.mkdir()
    secret.write_text('password = "hunter2"\n')
    files.upload_dir().mkdir(parents=True)
    (files.upload_dir() / "link.toml").symlink_to(secret)  # a link does not lead out either
    for base in (str(secret), "../../elsewhere/secret.toml", "/etc/x.toml", "link.toml",
                 "../../../../../../etc/passwd.toml"):
        for key in ("base", "calibrated"):
            body = f'description = "x"\n{key} = "{base}"\n'
            if key == "calibrated":
                body += 'base = "historical"\n'
            with pytest.raises(files.FileRefused) as refused:
                upload("sneaky.toml", body.encode())
            message = str(refused.value)
            assert "outside the scenario folders" in message, message
            assert "hunter2" not in message and "password" not in message
    assert everything_in(files.upload_dir()) == ["link.toml"]
    # a page's file may build on another file in the page's folders
    first, _ = upload("first.toml", CHANGED.encode())
    second, chosen = upload("second.toml", b'description = "on first"\nbase = "first.toml"\n')
    assert chosen.policies["title42"]["end"] == "2021-06-30"


def test_from_the_command_line_a_base_may_be_a_file_beside_it(tmp_path):
    """The CLI rule (docs/verbs/scenarios.md, "Scenario files"): a user's own file may build on a sibling."""
    (tmp_path / "mine.toml").write_text(CHANGED)
    (tmp_path / "yours.toml").write_text('description = "on mine"\nbase = "mine.toml"\n')
    loaded = load_scenario(str(tmp_path / "yours.toml"))
    assert [p.end.isoformat() for p in loaded.policies if p.kind == "title42"] == ["2021-06-30"]
    with pytest.raises(ScenarioError, match="outside the scenario folders"):  # not for a page
        load_scenario(str(tmp_path / "yours.toml"), roots=(SCENARIO_DIR,))


def test_the_page_picks_only_files_in_its_folders(save_dir, tmp_path):
    from ui import controls, session

    outside = tmp_path / "outside.toml"
    outside.write_text(CHANGED)
    before = session.settings.value
    controls.choose_scenario(str(outside))
    assert "outside the scenario folders" in session.message.value
    assert session.settings.value is before
    controls.choose_scenario("../tests/../scenarios/../../x")
    assert "outside the scenario folders" in session.message.value


def test_uploads_are_capped_in_number(save_dir, monkeypatch):
    monkeypatch.setattr(files, "MAX_FILES", 2)
    upload("a.toml", CHANGED.encode())
    upload("b.toml", CHANGED.encode())
    with pytest.raises(files.FileRefused, match="already holds 2 scenario files"):
        upload("c.toml", CHANGED.encode())
    assert everything_in(files.upload_dir()) == ["a.toml", "b.toml"]


@pytest.mark.parametrize("typed, says", [
    ("x" * 300, "300 characters; at most 64"),
    ("../../etc/passwd", "a name, not a path"),
    ("a/b", "a name, not a path"),
    ("my scenario", "use letters, digits, - and _"),
    (".hidden", "use letters, digits, - and _"),
    ("", "type a name first"),
])
def test_bad_file_names_are_refused_in_one_line(typed, says):
    with pytest.raises(files.FileRefused, match=says):
        files.file_name(typed)


def test_file_names_and_dropped_names():
    assert files.file_name(" mine.toml ") == "mine" and files.file_name("a-b_1") == "a-b_1"
    assert files.upload_name("C:\\Users\\me\\my file (2).toml") == "my_file__2_"
    assert files.upload_name("../../.toml") == "upload"
    assert len(files.upload_name("y" * 500 + ".toml")) == files.MAX_NAME


def test_save_never_replaces_a_file(tmp_path):
    folder = tmp_path / "scenarios"
    folder.mkdir()
    (folder / "historical.toml").write_bytes((SCENARIO_DIR / "historical.toml").read_bytes())
    before = digest(folder / "historical.toml")
    text = ui_settings.scenario_toml(ui_settings.baseline("historical")
                                     .with_policy("title42", "enabled", False))
    for name in ("historical", "historical.toml"):
        with pytest.raises(files.FileRefused, match="exists; choose another name"):
            files.save_scenario(text, name, folder)
    assert digest(folder / "historical.toml") == before
    (folder / "dangling.toml").symlink_to(tmp_path / "nowhere.toml")
    with pytest.raises(files.FileRefused, match="exists"):  # nor through a link
        files.save_scenario(text, "dangling", folder)
    assert not (tmp_path / "nowhere.toml").exists()
    saved = files.save_scenario(text, "mine", folder)
    assert saved.read_text() == text
    assert everything_in(folder) == ["dangling.toml", "historical.toml", "mine.toml"]


def test_save_into_a_folder_it_cannot_write_says_so(tmp_path):
    (tmp_path / "file").write_text("a file, not a folder")
    with pytest.raises(files.FileRefused, match="cannot create"):
        files.save_scenario("x = 1\n", "mine", tmp_path / "file" / "below")


# --- run.py ui: one line for bad flags, a busy port, a bad host; the token rule ---------------

def run_ui(*flags: str, env=None, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "run.py", "ui", *flags], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout,
                          env=dict(os.environ, **(env or {})))


BAD_FLAGS = [
    (["--port", "70000"], "--port must be at most 65,535, got 70000"),
    (["--port", "0"], "--port must be >= 1"),
    (["--host", "no-such-host.invalid"], "--host no-such-host.invalid: cannot resolve it"),
    (["--save-dir", "/proc/x"], "--save-dir /proc/x: cannot write there"),
    (["--token", "short"], "--token: a token is 16 to 256 letters"),
]


def test_ui_bad_flags_are_one_line_and_exit_2():
    """Each refused before anything is served (run at once: each start loads the model)."""
    started = [(subprocess.Popen(
        [sys.executable, "run.py", "ui", *flags,
         *([] if "--port" in flags else ["--port", str(free_port())])],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True), says)
        for flags, says in BAD_FLAGS]
    for process, says in started:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 2, (says, err)
        assert err.count("\n") == 1 and says in err, err
        assert "serving" not in err and out == ""


def test_ui_on_a_busy_port_is_one_line_and_never_says_serving():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = run_ui("--port", str(port))
    assert done.returncode == 2
    assert done.stderr == (f"error: --port {port}: already in use on 127.0.0.1 (another "
                           f"server, or a run.py ui still running); choose another --port\n")


def test_bind_and_loopback():
    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1")
    assert is_loopback("127.0.0.2")
    assert not is_loopback("0.0.0.0") and not is_loopback("::") and not is_loopback("10.1.2.3")
    assert not is_loopback("no-such-host.invalid")
    with pytest.raises(ServeError, match="not an address of this machine"):
        bind("192.0.2.1", free_port())  # TEST-NET-1: never this machine's
    with pytest.raises(ServeError, match="16 to 256"):
        check_token("bad token with spaces", "BORDER_UI_TOKEN")
    assert check_token("a" * 16, "--token") == "a" * 16


def test_ui_dies_with_its_command_and_frees_the_port(tmp_path):
    """SIGKILL of `run.py ui` leaves nothing serving: the server runs in its process."""
    port = free_port()
    log = open(tmp_path / "log", "w+")
    process = subprocess.Popen([sys.executable, "run.py", "ui", "--port", str(port),
                                "--save-dir", str(tmp_path / "saved")], cwd=ROOT, stdout=log,
                               stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2).read()
                break
            except OSError:
                assert process.poll() is None and time.monotonic() < deadline, log.read()
                time.sleep(0.3)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
        time.sleep(0.2)
        with pytest.raises(OSError):  # nobody answers on the port any more
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2)
        bind("127.0.0.1", port).close()  # and it can be served again at once
    finally:
        if process.poll() is None:
            process.kill()
        log.close()


def test_a_drop_on_the_page_is_loaded_or_refused_with_a_line(save_dir):
    """What the page's drop zone calls with Solara's FileInfo."""
    from ui import controls, session

    before = session.settings.value
    line = controls.load_dropped({"name": "historical.toml", "size": 20,
                                  "file_obj": io.BytesIO(b"this is = = not toml")})
    assert line.startswith("error: not kept: historical.toml: not valid TOML")
    assert session.settings.value is before and everything_in(files.upload_dir()) == []
    line = controls.load_dropped({"name": "historical.toml", "size": len(CHANGED),
                                  "file_obj": io.BytesIO(CHANGED.encode())})
    kept = files.upload_dir() / "historical.toml"
    assert line == f"kept historical.toml as {kept} and loaded it"
    assert session.settings.value.scenario == str(kept)
    assert ui_settings.differences(session.settings.value,
                                   ui_settings.reference(str(kept))) == []
    assert str(kept) in controls.scenario_choices()


def test_the_token_is_required_off_loopback_or_when_asked():
    given = "my-own-token-0123456789"
    assert decide_token("127.0.0.1", None, None) is None
    assert decide_token("localhost", None, "") is None
    made = decide_token("0.0.0.0", None, None)
    assert made and len(made) >= 32 and made != decide_token("0.0.0.0", None, None)
    assert len(decide_token("127.0.0.1", "", None)) >= 32  # --token without a value
    assert decide_token("0.0.0.0", given, None) == given
    assert decide_token("0.0.0.0", None, given) == given
    assert decide_token("127.0.0.1", None, given) == given  # asked for by the variable
    with pytest.raises(ServeError, match="BORDER_UI_TOKEN: a token is 16 to 256"):
        decide_token("0.0.0.0", None, "short")


def test_the_compare_page_runs_only_scenarios_from_its_folders(tmp_path):
    """A tampered request naming a file outside the page's folders is refused before
    anything is read or run, and the message shows nothing of the file."""
    from ui.compare_page import plan

    outside = tmp_path / "secret.toml"
    outside.write_text('description = "do not show"\nbase = "historical"\n')
    with pytest.raises(ScenarioError) as refused:
        plan(["historical", str(outside)], seeds=2, scale=100, start="", end="")
    assert "outside the scenario folders" in str(refused.value)
    assert "do not show" not in str(refused.value)
