"""The browser app in a real browser: Debian's chromium driven by Playwright, against
`run.py ui` served on localhost. Screenshots and the measured speed figures go to
tests/artifacts/ (gitignored).

Fails (does not skip) without /usr/bin/chromium: .ci/run installs it with apt.
"""

import http.client
import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from conftest import ROOT
from ui.session import DEFAULT_DAYS_PER_FRAME
from ui.settings import DEFAULT_SCALE

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = ROOT / "tests" / "artifacts"
LOCAL = ("http://127.0.0.1", "ws://127.0.0.1", "data:", "blob:", "about:")
FIRST_VISIT = {}  # how long the first page after the server started took to be usable
TOKEN = "browser-test-token-0123456789"  # the server asks for it as it would off 127.0.0.1


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def ui_server(tmp_path_factory, token: str | None = None):
    """`run.py ui` on a free port, saving scenario files and comparisons into temporary
    folders (its token required when `token` is given, as BORDER_UI_TOKEN); yields
    (process, port, save folder, runs folder) once it answers, and stops it after."""
    save_dir, runs = tmp_path_factory.mktemp("saved"), tmp_path_factory.mktemp("runs")
    port = free_port()
    log = open(tmp_path_factory.mktemp("log") / "server.log", "w+")
    env = dict(os.environ, BORDER_UI_RUNS_DIR=str(runs))
    headers = {}
    if token is not None:
        env["BORDER_UI_TOKEN"] = token
        headers["Authorization"] = f"Bearer {token}"
    process = subprocess.Popen([sys.executable, "run.py", "ui", "--port", str(port),
                                "--save-dir", str(save_dir)], cwd=ROOT, stdout=log,
                               stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(urllib.request.Request(url, headers=headers),
                                   timeout=2).read()
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                log.seek(0)
                pytest.fail(f"run.py ui did not serve {url}:\n{log.read()}")
            time.sleep(0.3)
    try:
        yield process, port, save_dir, runs
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The app with its token required: every visit opens the address with it."""
    with ui_server(tmp_path_factory, token=TOKEN) as (_process, port, save_dir, _runs):
        yield f"http://127.0.0.1:{port}/?token={TOKEN}", save_dir


@pytest.fixture(scope="module")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (.ci/run does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        browser.close()


class Visit:
    """One page in the browser, recording console errors and every request it makes."""

    def __init__(self, browser, url: str):
        self.page = browser.new_page(viewport={"width": 1500, "height": 2000})
        self.errors, self.requests = [], []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error"
                     else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("request", lambda r: self.requests.append(r.url))
        started = time.perf_counter()
        self.page.goto(url)
        self.page.wait_for_selector(".run-date", timeout=60_000)
        self.page.wait_for_selector(".chart-mpp_waiting img", timeout=60_000)
        self.usable_s = time.perf_counter() - started
        FIRST_VISIT.setdefault("usable_s", self.usable_s)

    def outside(self) -> list[str]:
        return [u for u in self.requests if not u.startswith(LOCAL)]

    def fill(self, selector: str, text: str) -> None:
        field = self.page.locator(f"{selector} input")
        field.fill(text)
        field.press("Enter")

    def run_window(self, start: str, end: str, days: int) -> None:
        self.fill(".run-start", start)
        self.fill(".run-end", end)
        self.page.locator(".reset").click()
        self.page.wait_for_selector(f".run-date:has-text('day 0 of {days}')")

    def play_to_end(self) -> float:
        started = time.perf_counter()
        self.page.locator(".play").click()
        self.page.wait_for_selector(".run-date:has-text('finished')", timeout=120_000)
        return time.perf_counter() - started

    def date_text(self) -> str:
        return self.page.locator(".run-date").inner_text()

    def shot(self, name: str) -> None:
        ARTIFACTS.mkdir(exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_page_loads_offline_without_errors_and_steps(server, browser):
    url, _ = server
    visit = Visit(browser, url)
    visit.shot("loaded")
    assert visit.outside() == [], visit.outside()
    assert visit.errors == [], visit.errors
    assert "day 0 of 1188" in visit.date_text()
    visit.page.locator(".step-day").click()
    visit.page.wait_for_selector(".run-date:has-text('2018-10-01 · day 1 of')")
    visit.page.locator(".step-week").click()
    visit.page.wait_for_selector(".run-date:has-text('2018-10-08 · day 8 of')")
    visit.shot("stepped")
    for page, ready in (("compare", ".compare-run"),
                        ("fit", ".fit-summary:has-text('run to 2018-10-08')")):
        visit.page.locator(f".nav-{page}").click()
        visit.page.wait_for_selector(ready)
        visit.shot(f"page-{page}")
    assert visit.outside() == [] and visit.errors == [], (visit.outside(), visit.errors)
    visit.page.close()


def test_mpp_off_changes_the_mpp_chart(server, browser):
    url, _ = server
    visit = Visit(browser, url)
    chart = visit.page.locator(".chart-mpp_waiting")
    seen = {}
    for mpp in (True, False):
        switch = visit.page.locator(".switch-mpp input")
        if switch.is_checked() != mpp:
            switch.click(force=True)
        visit.run_window("2019-01-01", "2019-03-01", 60)
        visit.play_to_end()
        assert "2019-03-01 · day 60 of 60 · finished" in visit.date_text()
        seen[mpp] = (chart.locator(".caption").inner_text(), chart.locator("img").screenshot())
        visit.shot(f"mpp-{'on' if mpp else 'off'}-60-days")
    waiting = {mpp: int(text.split(": ")[1].split(" people")[0].replace(",", ""))
               for mpp, (text, _) in seen.items()}
    assert waiting[True] > 0 and waiting[False] == 0, seen
    assert seen[True][1] != seen[False][1]  # the chart's pixels differ
    assert visit.errors == [] and visit.outside() == []
    visit.page.close()


def test_saved_scenario_runs_with_run_py(server, browser, tmp_path):
    url, save_dir = server
    visit = Visit(browser, url)
    visit.fill(".end-title42", "2021-06-30")
    visit.page.locator(".switch-guatemala_aca input").click(force=True)
    visit.run_window("2019-06-01", "2019-08-31", 92)
    visit.fill(".save-name", "from_browser")
    visit.page.locator(".save").click()
    visit.page.wait_for_selector(".saved:has-text('saved')")
    visit.shot("saved")
    saved = save_dir / "from_browser.toml"
    text = saved.read_text()
    assert "[policies.guatemala_aca]" in text and "enabled = false" in text
    assert "[policies.title42]" in text and "end = 2021-06-30" in text
    out = tmp_path / "run"
    done = subprocess.run([sys.executable, "run.py", "run", str(saved), "--scale", "100",
                           "--set", "start=2019-06-01", "--set", "end=2019-08-31",
                           "--out", str(out)], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert (out / "monthly.csv").is_file()
    # and loads back from the scenario list: its own settings, seed, scale and window
    visit.page.locator(".scenario").click()
    visit.page.locator(".v-menu__content .v-list-item", has_text="from_browser.toml").click()
    visit.page.wait_for_selector(".no-changes:has-text('As in from_browser.toml')")
    assert visit.page.locator(".run-start input").input_value() == "2019-06-01"
    assert not visit.page.locator(".switch-guatemala_aca input").is_checked()
    # an invalid combination: a message in the page, and the server still answers
    visit.fill(".run-end", "2035-01-01")
    visit.page.wait_for_selector(".refusal:has-text('2035-01-01')")
    visit.page.locator(".reset").click()
    visit.page.wait_for_selector(".page-message:has-text('Not applied')")
    visit.shot("refused")
    assert visit.errors == []
    visit.page.close()


def test_compare_page_runs_then_reads_a_comparison(server, browser):
    url, _ = server
    visit = Visit(browser, url)
    visit.page.locator(".nav-compare").click()
    visit.page.wait_for_selector(".compare-run")
    visit.fill(".compare-seeds", "2")
    visit.fill(".compare-start", "2019-01-01")
    visit.fill(".compare-end", "2019-06-30")
    for made, read in ((4, 0), (0, 4)):  # the second time, the runs are read from its folder
        visit.page.locator(".compare-run").click()
        done = visit.page.wait_for_selector(f".compare-done:has-text('{read} runs read from')",
                                            timeout=180_000)
        assert f"{made} run now" in done.inner_text()
    page = visit.page.content()
    assert "mpp_off - historical" in page and "95% CI" in page
    # posterior draws by default: 2 seeds are 2 draws of one seed, named with their file
    assert "Posterior: 2 draws x 1 seed each" in page and "posterior.parquet" in page
    visit.page.wait_for_selector(".compare-plot-mpp_waiting img")
    visit.shot("compare")
    visit.fill(".compare-end", "2035-01-01")
    visit.page.locator(".compare-run").click()
    visit.page.wait_for_selector(".compare-error:has-text('2035-01-01')")
    assert visit.errors == [] and visit.outside() == []
    visit.page.close()


def test_speed_a_year_plays_and_page_loads(server, browser):
    """The issue's figures, measured here and written to tests/artifacts/ui_speed.json
    (docs/performance.md quotes them): how long a page takes to be usable (the first visit after
    the server started, and this later one) and how long 2019 takes to play; machines
    are shared and noisy, so no bar is asserted. What is asserted: the browser showed
    every frame's date (a play that skipped frames would be fast and show nothing)."""
    url, _ = server
    visit = Visit(browser, url)
    usable = visit.usable_s
    visit.run_window("2019-01-01", "2019-12-31", 365)
    visit.page.evaluate("""() => { window.datesSeen = new Set();
        new MutationObserver(() => {
            const shown = document.querySelector('.run-date');
            if (shown) window.datesSeen.add(shown.innerText);
        }).observe(document.body, {subtree: true, childList: true, characterData: true}); }""")
    year = visit.play_to_end()
    frames = -(-365 // DEFAULT_DAYS_PER_FRAME)
    seen = visit.page.evaluate("window.datesSeen.size")
    visit.shot("year-2019")
    played = visit.page.locator(".played").inner_text()
    ARTIFACTS.mkdir(exist_ok=True)
    figures = {"first_visit_usable_s": round(FIRST_VISIT["usable_s"], 2),
               "page_usable_s": round(usable, 2), "year_play_s": round(year, 2),
               "page_says": played, "frames": frames, "dates_seen_in_browser": seen,
               "scale": DEFAULT_SCALE,
               "days_per_frame": DEFAULT_DAYS_PER_FRAME}
    (ARTIFACTS / "ui_speed.json").write_text(json.dumps(figures, indent=1))
    print(json.dumps(figures))
    assert "365 days" in played
    assert seen >= frames  # every frame reached the browser (none skipped)
    visit.page.close()


def test_without_the_token_nothing_is_served(server, browser):
    """The server asks for its token (as it does off 127.0.0.1): without it a page, an
    asset and a websocket are refused; with it (the printed address) the page works."""
    url, _ = server
    base = url.split("?")[0]
    host, port = base.split("//")[1].strip("/").split(":")
    for headers in ({}, {"Authorization": "Bearer wrong-token-0123456789"},
                    {"Cookie": f"border_ui_token_{port}=wrong-token-0123456789"}):
        for path in ("/", "/static/main-vuetify.js", "/?token=wrong-token-0123456789"):
            connection = http.client.HTTPConnection(host, int(port), timeout=10)
            connection.request("GET", path, headers=headers)
            answer = connection.getresponse()
            assert answer.status == 401, (path, headers, answer.status)
            assert b"needs its token" in answer.read()
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    connection.request("GET", "/jupyter/api/kernels/k/channels?session_id=s", headers={
        "Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="})
    assert connection.getresponse().status == 403  # the websocket never opens
    page = browser.new_page()
    page.goto(base)
    assert "needs its token" in page.inner_text("body")
    assert page.locator(".run-date").count() == 0
    page.close()
    visit = Visit(browser, url)  # the printed address: the token becomes a cookie
    assert "token" not in visit.page.url
    assert visit.errors == [] and visit.outside() == []
    visit.page.close()


def test_the_typed_file_name_is_the_file_saved(server, browser):
    """Typed key by key, then Save at once, with no Enter and no leaving the field: the
    file has the name typed (it was the name of an earlier keystroke). A bad name, or a
    name taken, is a line in the card and the page goes on."""
    url, save_dir = server
    visit = Visit(browser, url)
    field = visit.page.locator(".save-name input")
    field.fill("")
    field.press_sequentially("typed_key_by_key", delay=40)
    visit.page.locator(".save").click()
    visit.page.wait_for_selector(".saved")
    assert "typed_key_by_key.toml" in visit.page.locator(".saved").inner_text()
    assert (save_dir / "typed_key_by_key.toml").is_file()
    field.fill("x" * 300)
    visit.page.locator(".save").click()
    visit.page.wait_for_selector(".saved:has-text('300 characters; at most 64')")
    field.fill("typed_key_by_key")
    visit.page.locator(".save").click()  # never over a file
    visit.page.wait_for_selector(".saved:has-text('exists; choose another name')")
    assert visit.page.locator(".run-date").count() == 1 and visit.errors == []
    visit.page.close()


def test_every_scenario_loads_as_in_its_file(server, browser):
    """Loading a scenario through the page's controls changes nothing (a slider's step
    once moved Guatemala's 0.007 to 0.008): Checks says "As in FILE" for each."""
    from ui.settings import scenario_names

    url, _ = server
    visit = Visit(browser, url)
    for name in sorted(scenario_names(), key=lambda n: n == "historical"):
        visit.page.locator(".scenario").click()
        visit.page.locator(".v-menu__content .v-list-item", has_text=name).first.click()
        visit.page.wait_for_selector(f".no-changes:has-text('As in {name}.toml')")
        visit.page.wait_for_timeout(300)  # a snapping slider would answer by now
        assert visit.page.locator(".differences").count() == 0, (
            name, visit.page.locator(".differences").all_inner_texts())
    visit.shot("as-in-historical")
    assert visit.errors == []
    visit.page.close()
