"""README documents the output contract exactly as the code writes it."""

from pathlib import Path

from model.state.recorder import columns_markdown

README = Path(__file__).resolve().parent.parent / "README.md"


def test_readme_column_table_matches_the_code():
    assert columns_markdown() in README.read_text()


def test_readme_gives_the_two_setup_commands_ci_runs():
    text = README.read_text()
    ci = (README.parent / ".ci" / "run").read_text()
    assert ".venv/bin/pip install -e . && .venv/bin/python run.py run historical" in text
    assert '.venv/bin/pip install -e ".[test]" && .venv/bin/python -m pytest' in text
    assert '.venv/bin/pip install -q -e ".[test]"' in ci and ".venv/bin/python -m pytest" in ci
