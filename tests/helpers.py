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
