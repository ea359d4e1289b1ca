"""Small helpers several test modules share."""


def one_error_line(stderr: str) -> str:
    """The single `error:` line a refusal prints (and no traceback)."""
    assert "Traceback" not in stderr, stderr
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: "), lines[0]
    return lines[0]
