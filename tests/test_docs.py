"""The documentation says what the code does: README.md and docs/ link only to files
that exist, their commands parse, the paths and names they give exist, the output
contract is the code's own table, and every figure they quote is the file
docs/figures.py wrote (so a regenerated figure and its pages change together)."""

import importlib
import importlib.util
import re
import shlex
import subprocess
from pathlib import Path

import pytest

from model.state.recorder import columns_markdown

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = ROOT / "docs"
PAGES = [README, *sorted(DOCS.rglob("*.md"))]


def _figures():
    """docs/figures.py as a module (docs/ is not a package)."""
    spec = importlib.util.spec_from_file_location("docs_figures", DOCS / "figures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _rel(page: Path) -> str:
    return page.relative_to(ROOT).as_posix()


def _code_lines(text: str) -> list[str]:
    """The lines inside ``` fences."""
    lines, inside = [], False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            inside = not inside
        elif inside:
            lines.append(line)
    return lines


def test_readme_fits_on_a_few_screens():
    assert len(README.read_text().splitlines()) <= 150


def test_output_contract_table_matches_the_code():
    assert columns_markdown() in (DOCS / "output.md").read_text()


def test_readme_gives_the_two_setup_commands_ci_runs():
    text = README.read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert ".venv/bin/pip install -e . && .venv/bin/python run.py run historical" in text
    assert '.venv/bin/pip install -e ".[test]" && .venv/bin/python -m pytest' in text
    assert '.venv/bin/pip install -q -e ".[test]"' in ci and ".venv/bin/python -m pytest" in ci


LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def test_every_relative_link_resolves():
    broken = []
    for page in PAGES:
        for target in LINK.findall(page.read_text()):
            if re.match(r"[a-z]+:", target) or target.startswith("#"):
                continue  # a web address, or an anchor on the same page
            path = (page.parent / target.split("#")[0]).resolve()
            if not path.exists():
                broken.append(f"{_rel(page)}: {target}")
    assert not broken, broken


def test_the_index_lists_every_page():
    index = (DOCS / "index.md").read_text()
    linked = {(DOCS / t.split("#")[0]).resolve() for t in LINK.findall(index)}
    pages = {p.resolve() for p in DOCS.rglob("*.md")
             if p.parent.name != "figures" and p.name != "index.md"}
    assert not pages - linked, sorted(_rel(p) for p in pages - linked)


def _run_py_examples(page: Path) -> list[str]:
    """Every `python run.py ...` command in the page's code blocks (placeholders with
    `...` or capitals such as `SPEC` left out on pages other than the README)."""
    found, lines = [], []
    for line in _code_lines(page.read_text()):  # a command continued with `\` is one line
        if lines and lines[-1].endswith("\\"):
            lines[-1] = lines[-1][:-1] + " " + line.strip()
        else:
            lines.append(line.rstrip())
    for line in lines:
        command = line.split("#")[0].strip()
        words = command.split("&&")[-1].split()
        if len(words) < 2 or not words[0].endswith("python") or words[1] != "run.py":
            continue
        if page != README and ("..." in command or re.search(r"\b[A-Z]{3,}\b", command)):
            continue
        found.append(command.split("&&")[-1].strip())
    return found


def test_every_readme_example_parses_with_run_py():
    import run
    from model import load_scenario

    parser = run.build_parser()
    examples = _run_py_examples(README)
    verbs = {shlex.split(e)[2] for e in examples}
    assert verbs >= {"run", "scenarios", "sweep", "sensitivity", "compare", "ui", "calibrate"}
    for page in PAGES:
        for example in _run_py_examples(page):
            try:
                args = parser.parse_args(shlex.split(example)[2:])
            except SystemExit:
                pytest.fail(f"{_rel(page)}: run.py does not take: {example}")
            if args.verb == "run":  # its scenario and --set values load (nothing runs)
                load_scenario(args.scenario, args.overrides)


def _repo_text_files() -> list[Path]:
    """The repo's Markdown, TOML and Python files (archived fits' reports left out:
    they record the code as it was)."""
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard",
                             "*.md", "*.toml", "*.py"], cwd=ROOT, capture_output=True,
                            text=True, check=True).stdout.split()
    return [ROOT / name for name in listed
            if not name.startswith("calibration/fits/") and (ROOT / name).is_file()]


def test_every_model_path_mentioned_exists():
    missing = []
    for path in _repo_text_files():
        for mention in set(re.findall(r"\bmodel/[\w/]*\.py\b", path.read_text())):
            if not (ROOT / mention).exists():
                missing.append(f"{_rel(path)}: {mention}")
    assert not missing, missing


def test_every_dotted_name_in_the_docs_exists():
    """`model.state.recorder.columns_markdown()`-style names in the pages import."""
    missing = []
    for page in PAGES:
        for name in set(re.findall(r"`((?:model|experiments|calibration|reports)"
                                   r"(?:\.\w+)+)(?:\(|`)", page.read_text())):
            parts = name.split(".")
            if len(parts) < 3 and parts[0] == "model":
                continue  # `model.step()`: the pages' name for a BorderModel, not the package
            for cut in range(len(parts), 0, -1):  # the longest importable prefix
                try:
                    obj = importlib.import_module(".".join(parts[:cut]))
                    break
                except ImportError:
                    continue
            try:
                for attr in parts[cut:]:
                    obj = getattr(obj, attr)
            except AttributeError:
                missing.append(f"{_rel(page)}: {name}")
    assert not missing, missing


def test_every_quoted_figure_is_the_file_figures_py_wrote():
    figures = _figures()
    quoted = 0
    for page in PAGES:
        for name, body in figures.blocks(page.read_text()):
            quoted += 1
            source = figures.FIGURES / name
            assert source.is_file(), f"{_rel(page)}: figure {name} was never made " \
                                     f"(python docs/figures.py)"
            assert body.rstrip("\n") == source.read_text().rstrip("\n"), (
                f"{_rel(page)}: the copy of {name} is stale; python docs/figures.py refills it")
    assert quoted >= 3


def test_the_figure_blocks_refill_from_their_files(tmp_path):
    """figures.filled() puts a figure file's text between the markers, and only there."""
    figures = _figures()
    name = next(p.name for p in sorted(figures.FIGURES.glob("*.md")))
    page = f"before\n<!-- figure: {name} -->\nold text\n<!-- /figure -->\nafter\n"
    new = figures.filled(page)
    assert new.startswith("before\n") and new.endswith("<!-- /figure -->\nafter\n")
    assert figures.blocks(new) == [(name, (figures.FIGURES / name).read_text())]
