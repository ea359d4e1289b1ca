"""A run you can see: report.html beside the files, the terminal's feedback (a line if
the numba kernels must compile, a progress bar, both only on a terminal), and
RunResult's repr, HTML view and month-indexed monthly table."""

import os
import pty
import re
import subprocess
import sys
import threading
from html.parser import HTMLParser
from pathlib import Path

import matplotlib
import pandas as pd
import pytest

matplotlib.use("Agg")

from model import simulate  # noqa: E402
from reports import progress as feedback  # noqa: E402
from reports.run_report import headline_table  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SHORT = ["--scale", "200", "--set", "end=2019-03-31"]  # six months, a few seconds
DATA_FILES = ("monthly.csv", "daily.parquet", "flights.csv")


@pytest.fixture(scope="module")
def short():
    return simulate("historical", scale=200, end="2019-03-31")


class Page(HTMLParser):
    """What the page loads or links, and its text."""

    def __init__(self):
        super().__init__()
        self.images, self.links, self.scripts, self.text = [], [], 0, []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "img":
            self.images.append(attrs.get("src", ""))
        if tag == "script":
            self.scripts += 1
        for key in ("href", "src"):
            if key in attrs and tag != "img":
                self.links.append(attrs[key])

    def handle_data(self, data):
        self.text.append(data)


def run_cli(*args, **kwargs):
    return subprocess.run([sys.executable, "run.py", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=300, **kwargs)


def test_run_writes_a_self_contained_report_and_says_where(tmp_path):
    scenario = tmp_path / "mine.toml"
    scenario.write_text('base = "historical"\n'
                        'description = "<script>alert(1)</script> & <b>not bold</b>"\n')
    out = tmp_path / "out"
    done = run_cli("run", str(scenario), *SHORT, "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""  # not a terminal: no progress bar, no compile line
    report = out / "report.html"
    assert f"open {report} in a browser" in done.stdout
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [*DATA_FILES, "run.json", "report.html"])  # no scratch folder left
    text = report.read_text(encoding="utf-8")
    page = Page()
    page.feed(text)
    page.close()
    # offline: nothing fetched (no scripts, no http(s) anywhere), one inlined PNG
    assert page.scripts == 0
    assert not re.search(r"https?://", text)
    assert len(page.images) == 1 and page.images[0].startswith("data:image/png;base64,")
    assert all(not re.match(r"[a-z]+:", link) for link in page.links), page.links
    # the description is shown as text, escaped
    assert "<script>alert(1)</script>" not in text and "<b>not bold</b>" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;b&gt;not bold&lt;/b&gt;" in text
    shown = "".join(page.text)
    assert "<script>alert(1)</script> & <b>not bold</b>" in shown
    # the fiscal-year table the command prints, value by value
    monthly = pd.read_csv(out / "monthly.csv")
    fy2019 = f"{int(monthly['encounters'].sum()):,}"
    assert fy2019 in done.stdout and f"<td>{fy2019}</td>" in text
    for line in done.stdout.splitlines():
        if line.startswith("FY"):
            for cell in line.split()[1:]:
                assert cell in shown, cell
    assert "mine, seed 0, scale 200" in shown and "2018-10-01 to 2019-03-31" in shown
    assert "mpp_2019" in shown  # the policies in force are listed


def test_report_marks_the_policies_in_force():
    """Rows for the marked policy classes the run has, and none for those it has not."""
    from reports.run_report import marked_policies
    from model import load_scenario

    labels = [row[0] for row in marked_policies(load_scenario("historical"))]
    assert labels[:2] == ["Title 42", "MPP (Remain in Mexico)"]
    assert "interior repatriation" in labels and "Guatemala agreement" in labels
    mpp = next(row for row in marked_policies(load_scenario("historical"))
               if row[0].startswith("MPP ("))
    assert [p.id for p in mpp[2]] == ["mpp_2019", "mpp_2020", "mpp_2021"]
    no_mpp = [row[0] for row in marked_policies(load_scenario("mpp_off"))]
    assert "MPP (Remain in Mexico)" not in no_mpp and "Title 42" in no_mpp
    early = [row[0] for row in marked_policies(load_scenario("historical", end="2019-03-31"))]
    assert "Title 42" not in early and "MPP (Remain in Mexico)" in early


def test_summary_table_is_the_reports_table(short):
    import run as cli

    assert cli.summary_table(short) == headline_table(short).to_string()
    total = f"{int(short.monthly.encounters.sum()):,}"
    assert headline_table(short).loc["FY2019", "encounters"] == total


def test_report_writes_within_the_atomic_folder_before_run_json(tmp_path, short, monkeypatch):
    """Stopped after report.html is moved in: it is taken out again with the rest."""
    from model.output import write_outputs

    moved = []
    real_replace = Path.replace

    def replace(self, target):
        moved.append(Path(target).name)
        result = real_replace(self, target)
        if Path(target).name == "report.html":
            raise KeyboardInterrupt
        return result

    monkeypatch.setattr(Path, "replace", replace)
    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        write_outputs(short, out, extra_files={"report.html": b"<html></html>"})
    assert moved == [*DATA_FILES, "report.html"]  # run.json would come last
    assert [p.name for p in out.iterdir()] == []
    with pytest.raises(ValueError, match="plain new file name"):
        write_outputs(short, out, extra_files={"../x.html": b""})
    with pytest.raises(ValueError, match="plain new file name"):
        write_outputs(short, out, extra_files={"run.json": b""})


# --- progress -----------------------------------------------------------------------------

def test_progress_is_called_with_increasing_days_and_changes_nothing(short):
    calls = []
    again = simulate("historical", scale=200, end="2019-03-31",
                     progress=lambda done, total: calls.append((done, total)))
    days = [done for done, _ in calls]
    assert days == sorted(set(days)) and days[0] == 7 and days[-1] == 182
    assert {total for _, total in calls} == {182}
    for table in ("monthly", "daily", "flights"):
        pd.testing.assert_frame_equal(getattr(again, table), getattr(short, table))


def test_no_feedback_when_stderr_is_not_a_terminal(tmp_path, short):
    log = tmp_path / "stderr.txt"
    with open(log, "w") as stream:
        with feedback.run_feedback(short.scenario, stream=stream) as progress:
            assert progress is None
    assert log.read_text() == ""


def test_kernel_cache_is_seen_warm_here_and_cold_in_an_empty_cache(tmp_path, short):
    counts = feedback.kernel_cache_counts()
    assert counts is not None, "numba's cache internals moved: update reports/progress.py"
    assert counts["fresh"] > 20 and counts["stale"] == 0  # this process ran the model
    assert feedback.compile_notice() is None
    code = ("from reports.progress import compile_notice, kernel_cache_counts; "
            "import model; print(kernel_cache_counts()); print(compile_notice())")
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "empty"))
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    counts_line, notice = done.stdout.splitlines()
    assert "'fresh': 0" in counts_line
    assert notice == feedback.COLD_LINE


def test_a_terminal_gets_a_progress_bar(tmp_path):
    """stderr on a pseudo-terminal (with no size set, as in CI): tqdm's bar over the
    run's days with the date reached (tqdm redraws at most every 0.1 s, and the bar
    is removed at the end, so which fractions show depends on the machine's speed)."""
    leader, follower = pty.openpty()
    child = subprocess.Popen([sys.executable, "run.py", "run", "historical", *SHORT, "--out",
                              str(tmp_path / "out")], cwd=ROOT, stdout=subprocess.PIPE,
                             stderr=follower, text=True)
    os.close(follower)
    chunks = []

    def read():
        while True:
            try:
                data = os.read(leader, 4096)
            except OSError:  # the child closed the terminal
                return
            if not data:
                return
            chunks.append(data)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    stdout, _ = child.communicate(timeout=300)
    reader.join(timeout=10)
    os.close(leader)
    assert child.returncode == 0
    seen = b"".join(chunks).decode(errors="replace")
    bars = re.findall(r"historical: +\d+%\|[^|]*\| *(\d+)/182 \[[^]]*day[^]]*\]", seen)
    assert bars and bars[0] == "0", seen
    assert re.search(r"\d+/182 \[[^]]*, 2018-1\d-\d\d\]", seen), seen  # the date reached
    assert seen.endswith("\r"), seen  # the bar removed at the end
    assert "Traceback" not in seen
    assert (tmp_path / "out" / "report.html").is_file() and "FY2019" in stdout


# --- RunResult in a notebook ----------------------------------------------------------------

def test_repr_is_short_and_html_repr_is_a_small_escaped_table(short):
    text = repr(short)
    assert len(text.splitlines()) == 2 and len(text) < 300
    assert text.startswith("RunResult(historical: 2018-10-01 to 2019-03-31, seed 0, scale 200")
    assert f"FY2019 {int(short.monthly.encounters.sum()):,}" in text
    page = Page()
    html = short._repr_html_()
    page.feed(html)
    assert "<table" in html and len(html) < 5000 and page.scripts == 0
    assert "FY2019" in "".join(page.text)
    short.scenario.description, kept = "<script>x</script>", short.scenario.description
    try:
        assert "<script>" not in short._repr_html_()
    finally:
        short.scenario.description = kept


def test_monthly_plots_against_months_and_writes_the_same_csv(short, tmp_path):
    monthly = short.monthly
    assert isinstance(monthly.index, pd.DatetimeIndex) and monthly.index.name == "month_start"
    assert list(monthly.index.strftime("%Y-%m")) == list(monthly["month"])
    ax = monthly.plot(y="encounters")
    first, last = ax.get_xlim()  # pandas draws a monthly series on month periods
    assert (first, last) == (pd.Period("2018-10", "M").ordinal, pd.Period("2019-03", "M").ordinal)
    assert ax.get_xlabel() == "month_start"
    matplotlib.pyplot.close("all")
    written = tmp_path / "monthly.csv"
    monthly.to_csv(written, index=False)
    assert list(pd.read_csv(written).columns) == list(monthly.columns)
    pd.testing.assert_frame_equal(pd.read_csv(written), monthly.reset_index(drop=True),
                                  check_dtype=False)
    assert monthly.set_index("month").loc["2019-01", "encounters"] > 0  # as code reads it
