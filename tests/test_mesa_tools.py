"""Mesa's own tools on BorderModel, as a Mesa user writes them (docs/mesa.md): the real
`mesa.batch_run`, the DataCollector, and a real SolaraViz page (ui/mesa_viz.py under
`solara run`) in Debian's chromium via Playwright. Short, coarse runs (one agent per
400 people, October 2018 to January 2019: 123 days).
"""

import contextlib
import io
import os
import pickle
import subprocess
import sys
import time
import urllib.request
import warnings

import mesa
import numpy as np
import pandas as pd
import pytest
from mesa.visualization.solara_viz import _build_model_init_kwargs

from conftest import ROOT
from model import BorderModel
from model.config.validation import ScenarioError
from model.simulate import simulate, tabulate
from test_ui_browser import browser, free_port  # noqa: F401 (a fixture)

SHORT = {"scale": 400, "end": "2019-01-31"}  # simulate() refuses 1000 for 123 days
DAYS = 123  # 2018-10-01 to 2019-01-31


def quiet_batch_run(*args, **kwargs):
    """batch_run without its progress bar, and without the deprecation warning that
    Mesa 3.5 gives for `iterations` (still the way most users write it)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "The `iterations` keyword", DeprecationWarning)
        return mesa.batch_run(*args, display_progress=False, number_processes=1, **kwargs)


def test_batch_run_as_users_write_it():
    """iterations=2 (seed=None: each run draws a seed, which its row reports), two
    scenario files, a dotted parameter, max_steps = the run's length: every run ends on
    its last day, and its row is the run simulate() gives for the seed it reports."""
    rows = quiet_batch_run(
        BorderModel, parameters={"scenario": ["historical", "mpp_off"], **SHORT,
                                 "apprehension_prob.tucson": 0.8},
        iterations=2, max_steps=DAYS)
    table = pd.DataFrame(rows)
    assert len(table) == 4
    assert sorted(table["scenario"]) == ["historical", "historical", "mpp_off", "mpp_off"]
    assert (table["Step"] == DAYS).all()
    assert (table["date"] == pd.Timestamp("2019-01-31")).all()
    seeds = table["seed"].tolist()
    assert all(isinstance(s, int) and s >= 0 for s in seeds) and len(set(seeds)) > 1
    row = table.iloc[0]
    again = simulate(row["scenario"], seed=row["seed"], **SHORT,
                     params={"apprehension_prob": {"tucson": 0.8}})
    last = again.daily.iloc[-1]
    for series in ("encounters", "releases", "detention_population", "mpp_waiting"):
        assert row[series] == last[series], series


def test_batch_run_with_rng_and_every_step():
    """rng=[0, 1] names the seeds; data_collection_period=1 gives one row per day."""
    rows = quiet_batch_run(BorderModel, parameters={"scenario": "historical", **SHORT},
                           rng=[0, 1], max_steps=DAYS, data_collection_period=1)
    table = pd.DataFrame(rows)
    assert len(table) == 2 * DAYS
    assert sorted(set(table["seed"])) == [0, 1]
    first = table[table["seed"] == 0]
    assert first["Step"].tolist() == list(range(1, DAYS + 1))
    daily = simulate("historical", seed=0, **SHORT).daily
    assert first["encounters"].tolist() == daily["encounters"].tolist()
    assert first["date"].tolist() == daily["date"].tolist()


def test_batch_run_stopping_early_says_so():
    """max_steps shorter than the run (batch_run's default 1000 is, for a full run) is
    not silent: a warning names the days run and the run's end, and the row's date says
    where it stopped."""
    with pytest.warns(RuntimeWarning, match=r"after 30 of the run's 123 days.*max_steps"):
        rows = quiet_batch_run(BorderModel, parameters={"scenario": "historical", **SHORT},
                               rng=[0], max_steps=30)
    assert rows[0]["Step"] == 30 and rows[0]["date"] == pd.Timestamp("2018-10-30")


def test_batch_run_bad_parameters_are_named():
    """A dict under "params" is iterated key by key by batch_run: the error says what to
    write instead; an unknown dotted key is named."""
    with pytest.raises(ScenarioError, match=r"params: expected a table.*dotted keys"):
        quiet_batch_run(BorderModel, rng=[0], max_steps=5,
                        parameters={"params": {"apprehension_prob": {"tucson": 0.8}}, **SHORT})
    with pytest.raises(ScenarioError, match=r"apprehension_prob.nowhere"):
        BorderModel(**SHORT, **{"apprehension_prob.nowhere": 0.8})
    with pytest.raises(ScenarioError, match=r"rng: must be a whole number"):
        BorderModel(**SHORT, rng="9" * 5000)  # typed into SolaraViz's seed box


def test_seed_none_is_drawn_and_reproduces():
    border = BorderModel("historical", seed=None, **SHORT)
    assert isinstance(border.seed, int) and border.seed >= 0
    assert border.days_total == DAYS
    border.run()
    assert not border.running and border.day == DAYS
    again = simulate("historical", seed=border.seed, **SHORT)
    pd.testing.assert_frame_equal(tabulate(border).daily, again.daily)
    assert tabulate(border).identity() == again.identity()


def test_datacollector_is_the_recorder_read_when_asked():
    """Nothing is collected per day: the DataCollector is built when first read, and
    gives one row per day run, equal to the daily table."""
    border = BorderModel("historical", seed=3, **SHORT)
    for _ in range(10):
        border.step()
    assert border._datacollector is None  # the simulate path never builds it
    assert isinstance(border.datacollector, mesa.DataCollector)
    frame = border.datacollector.get_model_vars_dataframe()
    assert len(frame) == 10
    border.run()
    frame = border.datacollector.get_model_vars_dataframe()
    daily = tabulate(border).daily
    assert len(frame) == DAYS
    for series in ("encounters", "releases", "mpp_waiting", "detention_population"):
        assert frame[series].tolist() == daily[series].tolist(), series


def test_mesa_rebuild_keeps_the_scenario():
    """SolaraViz's Reset builds type(model)(scenario=type(model.scenario)(**changed), ...):
    the rebuilt model runs the same file, window, scale and seed, with the change."""
    border = BorderModel("mpp_off", seed=5, **SHORT)
    kwargs = _build_model_init_kwargs(border, {}, add_scenario_when_empty=True,
                                      require_model_accepts_scenario=True)
    again = type(border)(**kwargs)
    assert (again.loaded.name, again.seed, again.scale) == ("mpp_off", 5, 400)
    assert again.loaded.resolved() == border.loaded.resolved()
    kwargs = _build_model_init_kwargs(border, {"detention_beds": 30000, "rng": "7"},
                                      add_scenario_when_empty=True,
                                      require_model_accepts_scenario=True)
    changed = type(border)(**kwargs)
    assert (changed.loaded.name, changed.seed) == ("mpp_off", 7)
    assert changed.scenario.detention_beds == 30000
    restored = pickle.loads(pickle.dumps(border))  # a model pickles, as it did before
    kwargs = _build_model_init_kwargs(restored, {}, add_scenario_when_empty=True,
                                      require_model_accepts_scenario=True)
    assert type(restored)(**kwargs).loaded.resolved() == border.loaded.resolved()


# -- the SolaraViz page in a real browser ---------------------------------------------
@contextlib.contextmanager
def solara_page(tmp_path, **environment):
    """`solara run ui/mesa_viz.py` on a free localhost port; yields its address."""
    port = free_port()
    log_path = tmp_path / "solara.log"
    env = dict(os.environ, PYTHONPATH=str(ROOT), **environment)
    solara = os.path.join(os.path.dirname(sys.executable), "solara")
    with open(log_path, "w") as log:
        process = subprocess.Popen([solara, "run", "ui/mesa_viz.py", "--port", str(port),
                                    "--host", "127.0.0.1", "--production", "--no-open"],
                                   cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=env)
        url = f"http://127.0.0.1:{port}/"
        deadline = time.monotonic() + 90
        try:
            while True:
                try:
                    urllib.request.urlopen(url, timeout=2).read()
                    break
                except OSError:
                    if process.poll() is not None or time.monotonic() > deadline:
                        pytest.fail(f"solara did not serve {url}:\n{log_path.read_text()}")
                    time.sleep(0.3)
            yield url
        finally:
            process.terminate()
            process.wait(timeout=30)


def sector_markers(png: bytes) -> int:
    """How many separate marker-coloured spots the space drawing shows."""
    from PIL import Image
    from scipy import ndimage

    from ui.mesa_viz import QUIET

    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    target = np.array([int(QUIET[i:i + 2], 16) for i in (1, 3, 5)])
    near = np.abs(pixels - target).sum(axis=2) < 60
    _, count = ndimage.label(near)
    return count


def test_solara_viz_page(browser, tmp_path):  # noqa: F811 (the fixture)
    with solara_page(tmp_path, BORDER_MESA_SCENARIO="mpp_off", BORDER_MESA_SCALE="400",
                     BORDER_MESA_END="2019-01-31") as url:
        page = browser.new_page(viewport={"width": 1400, "height": 1100})
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(url)
        info = page.locator(".border-run-info")
        info.wait_for(timeout=60_000)
        assert "mpp_off · seed 0" in info.inner_text()
        assert "2018-10-01 · day 0 of 123" in info.inner_text()

        space = page.locator("img").first  # the space component comes first
        space.wait_for(timeout=30_000)
        assert sector_markers(space.screenshot()) == 9

        page.get_by_role("button", name="Step", exact=True).click()
        page.get_by_text("Time: 1.0").wait_for(timeout=60_000)
        assert "2018-10-02 · day 1 of 123" in info.inner_text()

        seed = page.get_by_label("Seed (Reset to apply)")
        seed.fill("7")
        seed.press("Enter")
        page.get_by_role("button", name="Reset", exact=True).click()
        page.get_by_text("Time: 0.0").wait_for(timeout=60_000)
        page.wait_for_function(
            "() => document.querySelector('.border-run-info').innerText.includes('seed 7')",
            timeout=30_000)
        assert "mpp_off · seed 7" in info.inner_text()
        assert "day 0 of 123" in info.inner_text()
        assert not errors, errors
        page.close()
