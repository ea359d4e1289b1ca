"""The Compare page's job in a real browser (Debian's chromium via Playwright, against
`run.py ui`): it shows its progress, Cancel stops it, and closing its page stops it.
The load figures (5 pages playing, memory) are measured by benchmarks/bench_ui.py."""

import time

import psutil
import pytest

from test_ui_browser import browser, ui_server  # noqa: F401 (a fixture)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """`run.py ui` on a free port: (url, its report folders, the solara server process)."""
    with ui_server(tmp_path_factory) as (process, port, _saved, runs):
        yield f"http://127.0.0.1:{port}/", runs, psutil.Process(process.pid)


def compare_processes(server: psutil.Process) -> list:
    """The server's `run.py compare` children (each with its Dask workers)."""
    found = []
    for child in server.children(recursive=True):
        try:
            if "compare" in child.cmdline():
                found.append(child)
        except psutil.NoSuchProcess:
            pass
    return found


def start_compare(browser, url: str, seeds: int):  # noqa: F811
    page = browser.new_page(viewport={"width": 1500, "height": 1500})
    page.goto(url)
    page.wait_for_selector(".nav-compare", timeout=60_000)
    page.locator(".nav-compare").click()
    page.wait_for_selector(".compare-run")
    field = page.locator(".compare-seeds input")
    field.fill(str(seeds))
    field.press("Enter")
    page.locator(".compare-run").click()
    page.wait_for_selector(f".compare-progress:has-text('of {2 * seeds} runs done')",
                           timeout=60_000)
    return page


def wait_gone(server: psutil.Process, seconds: float = 40) -> float:
    started = time.monotonic()
    while compare_processes(server):
        assert time.monotonic() - started < seconds, "the comparison is still running"
        time.sleep(0.3)
    return time.monotonic() - started


def test_compare_shows_progress_and_cancel_stops_it(served, browser):  # noqa: F811
    url, runs, server = served
    page = start_compare(browser, url, seeds=12)
    page.wait_for_function("() => document.querySelectorAll('.compare-cancel').length > 0")
    assert compare_processes(server) or page.locator(".compare-done").count() == 0
    page.locator(".compare-cancel").click()
    page.wait_for_selector(".compare-cancelled", timeout=40_000)
    wait_gone(server)
    kept = len(list(runs.glob("*/runs/*.parquet")))
    time.sleep(2)
    assert len(list(runs.glob("*/runs/*.parquet"))) == kept < 24
    # too big for the page: a message, nothing started
    field = page.locator(".compare-seeds input")
    field.fill("500")
    field.press("Enter")
    page.locator(".compare-run").click()
    page.wait_for_selector(".compare-error:has-text('at most 50')")
    assert not compare_processes(server)
    page.close()


def test_closing_the_page_stops_its_comparison(served, browser):  # noqa: F811
    url, runs, server = served
    page = start_compare(browser, url, seeds=14)
    deadline = time.monotonic() + 60
    while not compare_processes(server):  # the child may still be on its way
        assert time.monotonic() < deadline, "no comparison started"
        time.sleep(0.2)
    page.close(run_before_unload=True)  # as a user closes the tab
    wait_gone(server)
    kept = len(list(runs.glob("*/runs/*.parquet")))
    time.sleep(3)
    assert len(list(runs.glob("*/runs/*.parquet"))) == kept < 28
