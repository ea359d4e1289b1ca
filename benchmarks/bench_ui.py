"""The browser app under load: several real Chromium pages playing at once, memory
after they close, and a Compare job whose page goes away.

    python benchmarks/bench_ui.py [--pages 5] [--seconds 60] [--settle 80]
                                  [--compare-seeds 20] [--compare-scale 50]

Prints ONE JSON object on stdout; progress goes to stderr. It starts the real server
(`run.py ui` on a free 127.0.0.1 port, report folders and saved files in a temporary
folder) and drives Debian's /usr/bin/chromium with Playwright, as
tests/test_ui_browser.py does. The server is the `solara run` process `run.py ui`
starts; its memory is that process's RSS (psutil), its CPU that of it and its
children (a comparison's `run.py compare` and Dask workers).

1. Start: the server answers, one page is opened and closed (a first visit loads the
   libraries, the model's compiled kernels and matplotlib once per process, which is
   not a visit's cost), and after `--settle` seconds the RSS is `rss_start_mib`
   (`rss_served_mib`: before that first visit).
2. Playing: `--pages` pages open (each its own browser context, i.e. its own session),
   then all press Play within a fraction of a second. Each page records, in the
   browser, when each frame's number (the `.frame-ack` it acknowledges, updated after
   the frame's images) changes, and when the day shown (`.run-date`) or the map's
   image changes (`changes`: a frame makes two or three, as its parts arrive; earlier
   versions counted these as frames); for `--seconds` seconds. A page's
   `longest_gap_s` is the longest time without a new complete frame: from its own
   Play press to the first, between frames, and from the last to the end of the window
   (unless its run finished); `longest_change_gap_s` the same between changes. With
   the server's frame log ($BORDER_UI_FRAME_LOG, `ui.session.FrameLog`) each page has
   `phases_median`/`phases_max` (where its frames' time went, `frame_phases`) and the
   phases of the frames about its longest gap; `full_collections` are the server's
   generation-2 garbage collections in the window; `server_cpu_ms_per_frame` its CPU
   (with children) per frame shown. RSS is sampled each second (`rss_playing_max_mib`).
3. Closed: the pages are closed as a user closes a tab (its `beforeunload` runs; the
   close beacon it sends does not reach the server from headless Chromium, so the
   sessions only disconnect and are closed at `ui.session.CULL_TIMEOUT`, 60 s); after
   `--settle` seconds (default 80, past that timeout), `rss_after_close_mib`.
4. Compare: a page starts a comparison (`--compare-seeds` seeds of historical and
   mpp_off at `--compare-scale`), waits until the page shows its progress ("N of M runs
   done"), and is closed. Then, each second for up to 60 s: the run files in the report
   folder and the server's CPU (with its live children). `stopped_after_s`: until no
   `run.py compare` child is left; `runs_done_at_close` / `runs_done_after_stop`
   (files), and `server_cpu_cores_after_stop` (CPU seconds per second over 5 s after).

Bars (`meets_bars`): every page gets a frame at least every 2 s; RSS after the pages
closed within 100 MiB of `rss_start_mib`; the comparison stops when its page goes (no
child left within 30 s, no run file added 5 s after that, server CPU below 0.2
cores). `machine_load`: what other processes kept busy meanwhile (`_common.OtherLoad`);
the figures are pessimistic when that is high.
"""

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks._common import OtherLoad, environment, positive, progress  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
MIB = 2 ** 20
BARS = {"longest_gap_s": 2.0, "rss_growth_after_close_mib": 100.0, "compare_stops_within_s": 30.0}
# in the page: the times (Date.now(), ms) at which a new frame showed, at which the
# frame's number (the `.frame-ack` the page acknowledges) changed, and when Play was pressed
RECORD_FRAMES = """() => {
    window.frameTimes = []; window.ackTimes = []; window.lastShown = null;
    window.playedAt = null;
    document.addEventListener('click', (event) => {
        if (window.playedAt === null && event.target.closest('.play')) window.playedAt = Date.now();
    }, true);
    const shown = () => {
        const day = document.querySelector('.run-date');
        const map = document.querySelector('.border-map img');
        return (day ? day.innerText : '') + '|' + (map ? map.src.length + map.src.slice(-64) : '');
    };
    const acked = () => {
        const ack = document.querySelector('.frame-ack');
        return ack ? parseInt(ack.textContent.trim()) : null;
    };
    window.lastShown = shown(); window.lastAck = acked();
    new MutationObserver(() => {
        const now = shown();
        if (now !== window.lastShown) { window.lastShown = now; window.frameTimes.push(Date.now()); }
        const ack = acked();
        if (ack !== window.lastAck) { window.lastAck = ack; window.ackTimes.push([Date.now(), ack]); }
    }).observe(document.body, {subtree: true, childList: true, characterData: true,
                               attributes: true, attributeFilter: ['src']});
}"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`run.py ui` on a free port; `process` is the solara server it started."""

    def __init__(self, folder: Path):
        import psutil

        self.runs = folder / "runs"
        self.log = open(folder / "server.log", "w+")
        self.frames = folder / "frames.jsonl"
        port = free_port()
        env = dict(os.environ, BORDER_UI_RUNS_DIR=str(self.runs),
                   BORDER_UI_FRAME_LOG=str(self.frames))
        self.launcher = subprocess.Popen(
            [sys.executable, "run.py", "ui", "--port", str(port), "--save-dir",
             str(folder / "saved")], cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT, env=env)
        self.url = f"http://127.0.0.1:{port}/"
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(self.url, timeout=5).read()
                break
            except OSError:
                if self.launcher.poll() is not None or time.monotonic() > deadline:
                    self.log.seek(0)
                    raise SystemExit(f"run.py ui did not serve {self.url}:\n{self.log.read()}")
                time.sleep(0.3)
        children = psutil.Process(self.launcher.pid).children()
        self.process = children[0] if children else psutil.Process(self.launcher.pid)

    def frame_log(self) -> dict:
        """The frames the play loops drew so far (`ui.session.FrameLog`), by number."""
        if not self.frames.exists():
            return {}
        rows = [json.loads(line) for line in self.frames.read_text().splitlines()]
        return {row["n"]: row for row in rows if "n" in row}

    def collections(self, since: float, until: float) -> dict:
        """The server's full garbage collections (`ui.session.FrameLog`) in a window (epoch s)."""
        if not self.frames.exists():
            return {}
        rows = [json.loads(line) for line in self.frames.read_text().splitlines()]
        took = [r["end"] - r["start"] for r in rows if "gc" in r and since <= r["start"] <= until]
        return {"count": len(took), "longest_s": round(max(took, default=0), 2),
                "total_s": round(sum(took), 2)}

    def rss_mib(self) -> float:
        return self.process.memory_info().rss / MIB

    def cpu_by_process(self) -> dict[int, float]:
        """CPU seconds so far of the server and each live child, by pid. Not its finished
        children's (`cpu_times()`'s children_* fields): those land all at once, a child's
        whole life, when it is reaped (a compare job's workers exiting after the stop
        looked like 4.4 cores of work on 2 cores)."""
        import psutil

        seconds = {self.process.pid: sum(self.process.cpu_times()[:2])}
        for child in self.process.children(recursive=True):
            try:
                seconds[child.pid] = sum(child.cpu_times()[:2])
            except psutil.NoSuchProcess:
                pass
        return seconds

    def cpu_s(self) -> float:
        """CPU seconds of the server and its live children."""
        return sum(self.cpu_by_process().values())

    @staticmethod
    def cpu_between(before: dict[int, float], after: dict[int, float]) -> float:
        """CPU seconds spent between two `cpu_by_process` samples by the processes alive
        at the second (one that ended between them takes its last moments with it)."""
        return sum(t - before.get(pid, 0.0) for pid, t in after.items())

    def compare_children(self) -> int:
        import psutil

        count = 0
        for child in self.process.children(recursive=True):
            try:
                count += "compare" in " ".join(child.cmdline())
            except psutil.NoSuchProcess:
                pass
        return count

    def close(self) -> None:
        self.launcher.terminate()
        try:
            self.launcher.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.launcher.kill()
        self.log.close()


def open_page(browser, url: str):
    page = browser.new_page(viewport={"width": 1500, "height": 2000})
    page.goto(url)
    page.wait_for_selector(".run-date", timeout=120_000)
    page.wait_for_selector(".border-map img", timeout=120_000)
    return page


def close_page(page) -> None:
    """As a user closes a tab: the page's beforeunload handler runs (Solara's close beacon)."""
    page.close(run_before_unload=True)


def settle(server: Server, seconds: float) -> float:
    """Wait `seconds`; the lowest RSS seen in the last third (the server trims on close)."""
    end = time.monotonic() + seconds
    lowest = server.rss_mib()
    while time.monotonic() < end:
        time.sleep(1)
        if end - time.monotonic() < seconds / 3:
            lowest = min(lowest, server.rss_mib())
    return lowest


PHASES = ("wait_s", "turn_s", "step_s", "draw_send_s", "browser_s", "ack_s")


def frame_phases(log: dict, acks: list, gap_start_ms: float, gap_end_ms: float) -> dict:
    """Where a page's frames spent their time, from the server's frame log (`log`: frame
    number -> its times, epoch s) and the times the page showed each frame number (`acks`:
    [ms, number]): `wait_s` from the previous frame's ack to this frame's start (the play
    loop's pace), `turn_s` waiting for its turn to draw (`ui.session.Turns`), `step_s`
    the model's days and the snapshot, `draw_send_s` the page's
    render (map, charts, JPEG) and its messages sent, `browser_s` until the page showed
    it, `ack_s` until the server heard so. `phases_max` over the page's frames, and
    `longest_gap_phases`: those of the frame that ended the longest gap and the one before
    it (the gap is the latter's `ack_s` and the former's other phases)."""
    rows, previous = [], None
    for shown_ms, number in acks:
        made = log.get(number)
        if made is None:
            continue
        shown = shown_ms / 1000
        rows.append({"n": number, "shown_ms": shown_ms,
                     "wait_s": made["start"] - previous["acked"] if previous else 0.0,
                     "turn_s": made.get("turn", made["start"]) - made["start"],
                     "step_s": made["made"] - made.get("turn", made["start"]),
                     "draw_send_s": made["sent"] - made["made"],
                     "browser_s": shown - made["sent"], "ack_s": made["acked"] - shown})
        previous = made
    if not rows:
        return {}
    # the frame that ended the gap: its number showed when its map and date did
    ending = min(rows, key=lambda r: abs(r["shown_ms"] - gap_end_ms))
    before = [r for r in rows if r["shown_ms"] < ending["shown_ms"]]
    within = before[-1:] + [ending]
    return {"phases_max": {k: round(max(r[k] for r in rows), 2) for k in PHASES},
            "phases_median": {k: round(sorted(r[k] for r in rows)[len(rows) // 2], 3)
                              for k in PHASES},
            "longest_gap_phases": [{k: round(r[k], 2) for k in PHASES} for r in within]}


def play_many(server: Server, browser, n_pages: int, seconds: float) -> dict:
    pages = []
    for i in range(n_pages):
        pages.append(open_page(browser, server.url))
        progress(f"page {i + 1} of {n_pages} open")
    for page in pages:
        page.evaluate(RECORD_FRAMES)
    rss_open = server.rss_mib()
    cpu_before = server.cpu_s()
    started_ms = time.time() * 1000
    for page in pages:
        page.locator(".play").click(no_wait_after=True)
    clicked_ms = time.time() * 1000
    progress(f"all {n_pages} pressed Play within {clicked_ms - started_ms:.0f} ms; "
             f"watching {seconds:.0f} s")
    peak = rss_open
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        time.sleep(1)
        peak = max(peak, server.rss_mib())
    ended_ms = time.time() * 1000
    cpu_s = server.cpu_s() - cpu_before
    log = server.frame_log()
    per_page = []
    for page in pages:
        times = page.evaluate("window.frameTimes")
        acks = page.evaluate("window.ackTimes")
        played_ms = page.evaluate("window.playedAt") or started_ms
        text = page.locator(".run-date").inner_text()
        finished = "finished" in text
        shown = [t for t, _ in acks if t <= ended_ms]  # each frame once, when complete
        edges = [played_ms, *shown]
        if not finished:
            edges.append(ended_ms)
        gaps = [b - a for a, b in zip(edges, edges[1:])]
        longest = max(range(len(gaps)), key=gaps.__getitem__)
        changes = [played_ms, *[t for t in times if t <= ended_ms]]
        if not finished:
            changes.append(ended_ms)
        per_page.append({"frames": len(shown), "longest_gap_s": round(gaps[longest] / 1000, 2),
                         "first_frame_s": round((shown[0] - played_ms) / 1000, 2)
                         if shown else None, "shows": text,
                         "changes": len(times), "longest_change_gap_s": round(
                             max(b - a for a, b in zip(changes, changes[1:])) / 1000, 2),
                         **frame_phases(log, acks, edges[longest], edges[longest + 1])})
    for page in pages:
        page.locator(".play").click(no_wait_after=True)  # Pause (not needed, but polite)
    frames = sum(page["frames"] for page in per_page)  # as shown: the server's are a few more
    return {"pages": per_page, "pages_open": pages,
            "server_cpu_cores_playing": round(cpu_s / (ended_ms - started_ms) * 1000, 2),
            "server_cpu_ms_per_frame": round(cpu_s * 1000 / frames, 1) if frames else None,
            "full_collections": server.collections(started_ms / 1000, ended_ms / 1000),
            "rss_pages_open_mib": round(rss_open, 1),
            "rss_playing_max_mib": round(peak, 1), "rss_playing_end_mib": round(server.rss_mib(), 1)}


def compare_goes(server: Server, browser, seeds: int, scale: int) -> dict:
    page = open_page(browser, server.url)
    page.locator(".nav-compare").click()
    page.wait_for_selector(".compare-run")
    field = page.locator(".compare-seeds input")
    field.fill(str(seeds))
    field.press("Enter")
    if scale != 50:  # the page's default
        page.locator(".v-select", has_text="Scale").click()
        page.locator(".v-menu__content .v-list-item", has_text=str(scale)).first.click()
    page.locator(".compare-run").click()
    shown = page.wait_for_selector(".compare-progress:has-text('runs done')", timeout=180_000)
    page.wait_for_function(
        "() => { const p = document.querySelector('.compare-progress');"
        " return p && /^[1-9]/.test(p.innerText.trim()); }", timeout=300_000)
    says = shown.inner_text()
    done_at_close = len(list(server.runs.glob("*/runs/*.parquet")))
    children_at_close = server.compare_children()
    progress(f"compare page says {says!r}; closing it")
    close_page(page)
    closed = time.monotonic()
    stopped_after = None
    while time.monotonic() - closed < 60:
        time.sleep(0.5)
        if server.compare_children() == 0:
            stopped_after = time.monotonic() - closed
            break
    files_then = len(list(server.runs.glob("*/runs/*.parquet")))
    cpu_then = server.cpu_by_process()
    time.sleep(5)
    cores = server.cpu_between(cpu_then, server.cpu_by_process()) / 5
    files_after = len(list(server.runs.glob("*/runs/*.parquet")))
    return {"seeds": seeds, "scale": scale, "page_said": says,
            "children_at_close": children_at_close, "runs_done_at_close": done_at_close,
            "stopped_after_s": round(stopped_after, 1) if stopped_after is not None else None,
            "runs_done_after_stop": files_then, "runs_added_5s_after_stop": files_after - files_then,
            "server_cpu_cores_after_stop": round(cores, 2)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=positive, default=5)
    parser.add_argument("--seconds", type=positive, default=60)
    parser.add_argument("--settle", type=positive, default=80)
    parser.add_argument("--compare-seeds", type=positive, default=20)
    parser.add_argument("--compare-scale", type=int, choices=(10, 20, 50, 100), default=50)
    parser.add_argument("--server-log", type=Path, default=None,
                        help="keep a copy of the server's output here (and of its frame "
                             "log, with the suffix .frames.jsonl)")
    args = parser.parse_args(argv)
    if not os.path.exists(CHROMIUM):
        raise SystemExit(f"{CHROMIUM} is missing: apt-get install chromium")
    from playwright.sync_api import sync_playwright

    report = environment(pages=args.pages, seconds=args.seconds, settle_s=args.settle,
                         compare_seeds=args.compare_seeds, compare_scale=args.compare_scale)
    report["load_average_at_start"] = [round(x, 2) for x in os.getloadavg()]
    load = OtherLoad()
    with tempfile.TemporaryDirectory(prefix="bench-ui-") as folder, sync_playwright() as p:
        server = Server(Path(folder))
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            rss_served = server.rss_mib()
            progress(f"server up at {server.url}, {rss_served:.0f} MiB; a first visit")
            close_page(open_page(browser, server.url))
            rss_start = settle(server, args.settle)
            progress(f"start: {rss_start:.0f} MiB")
            playing = play_many(server, browser, args.pages, args.seconds)
            pages = playing.pop("pages_open")
            for page in pages:
                close_page(page)
            progress(f"{args.pages} pages closed; settling {args.settle} s")
            rss_closed = settle(server, args.settle)
            compare = compare_goes(server, browser, args.compare_seeds, args.compare_scale)
        finally:
            browser.close()
            server.close()
            if args.server_log is not None:
                args.server_log.write_text((Path(folder) / "server.log").read_text())
                if server.frames.exists():  # the frame log beside it
                    args.server_log.with_suffix(".frames.jsonl").write_text(
                        server.frames.read_text())
    gaps = [page["longest_gap_s"] for page in playing["pages"]]
    report.update({
        "rss_served_mib": round(rss_served, 1), "rss_start_mib": round(rss_start, 1),
        **playing, "rss_after_close_mib": round(rss_closed, 1),
        "rss_growth_after_close_mib": round(rss_closed - rss_start, 1),
        "longest_gap_s": max(gaps), "compare": compare,
        "meets_bars": {
            "frame_every_2s": max(gaps) <= BARS["longest_gap_s"],
            "memory_back_within_100mib": rss_closed - rss_start <= BARS["rss_growth_after_close_mib"],
            "compare_stops_with_its_page": (
                compare["stopped_after_s"] is not None
                and compare["stopped_after_s"] <= BARS["compare_stops_within_s"]
                and compare["runs_added_5s_after_stop"] == 0
                and compare["server_cpu_cores_after_stop"] < 0.2)},
        "machine_load": load.report(),
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
    })
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
