"""Small helpers several test modules share."""


def one_error_line(stderr: str) -> str:
    """The single `error:` line a refusal prints (and no traceback)."""
    assert "Traceback" not in stderr, stderr
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: "), lines[0]
    return lines[0]


def refused_before_running(argv: list[str], capsys, monkeypatch, spec_path, message: str,
                           out) -> str:
    """Run `run.py ARGV` with the sweep runner made to fail if called: the command must
    refuse in one `error: SPEC: ...` line matching `message`, and write no `out`."""
    import re

    import pytest

    import run as cli
    from experiments import runner

    monkeypatch.setattr(runner, "run_sweep", lambda *a, **k: pytest.fail("the sweep ran"))
    assert cli.main(argv) == 2
    line = one_error_line(capsys.readouterr().err)
    assert line.startswith(f"error: {spec_path}: "), line
    assert re.search(message, line), line
    assert not out.exists()
    return line


def interrupted_run(command: list[str], ready, what: str, log=None, *, wait: float = 120,
                    after: float = 90):
    """Start `command` from the repository root as a terminal would run it: in its own
    process group, taking Ctrl-C (a child of a non-interactive shell would inherit SIGINT
    ignored), its stderr into the file `log` or a pipe. Once `ready()` holds (the test
    fails if the child ends first, or after `wait` seconds: "no `what`"), send SIGINT to
    the whole group as a terminal does and wait up to `after` seconds for it to end (if
    it hangs, faulthandler dumps every thread into stderr and the test fails). The group
    is killed if still alive. Returns (the child, its stdout, its stderr)."""
    import os
    import signal
    import subprocess
    import time
    from pathlib import Path

    import pytest

    root = Path(__file__).resolve().parents[1]
    stderr = open(log, "w") if log is not None else subprocess.PIPE
    try:
        child = subprocess.Popen(command, cwd=root, stdout=subprocess.PIPE, stderr=stderr,
                                 text=True, start_new_session=True,
                                 env={**os.environ, "PYTHONFAULTHANDLER": "1"},
                                 preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    finally:
        if log is not None:
            stderr.close()
    said = (lambda: Path(log).read_text()) if log is not None else (lambda: child.communicate())
    try:
        deadline = time.monotonic() + wait
        while not ready():
            assert child.poll() is None, said()
            assert time.monotonic() < deadline, f"no {what}"
            time.sleep(0.05)
        os.killpg(child.pid, signal.SIGINT)
        try:
            out, err = child.communicate(timeout=after)
        except subprocess.TimeoutExpired:
            child.send_signal(signal.SIGABRT)
            time.sleep(2)
            pytest.fail(f"still running {after} s after Ctrl-C:\n{str(said())[-8000:]}")
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
    return child, out, (Path(log).read_text() if log is not None else err)
