"""Dask as its users expect it: the sweep says where the dashboard is, the dashboard
serves (bokeh installed, from the `dashboard` extra), and a `--scheduler` nobody
answers at is refused in a few seconds in one line naming the flag."""

import re
import socket
import time
import urllib.request

import distributed  # noqa: F401  (imported before timing: the refusal is what is timed)
import pytest

import run as cli
from experiments import runner
from helpers import one_error_line

SPEC = """\
scenarios = ["historical"]
seeds = 1
scale = 400
end = 2019-01-31
[vary]
"apprehension_prob.tucson" = [0.7]
"""

REAL_RUN_SWEEP = runner.run_sweep


def refuse(task):
    raise RuntimeError("not run: this test looks at what the sweep prints")


def test_a_sweep_prints_the_dashboard_address(tmp_path, capsys, monkeypatch):
    spec = tmp_path / "spec.toml"
    spec.write_text(SPEC)
    monkeypatch.setattr(runner, "run_sweep", lambda *a, **k: REAL_RUN_SWEEP(
        *a, **{**k, "processes": False, "run": refuse}))
    assert cli.main(["sweep", str(spec), "--workers", "1", "--out", str(tmp_path / "o")]) == 1
    lines = capsys.readouterr().err.splitlines()
    assert any(re.fullmatch(r"Dask dashboard: http://[^\s/]+:\d+/status", line)
               for line in lines), lines


def test_the_dashboard_serves_its_pages(tmp_path):
    client, cluster = runner.open_client(workers=1, processes=False)
    try:
        line = runner.dashboard_line(client)
        link = line.removeprefix("Dask dashboard: ")
        assert link.startswith("http://") and link.endswith("/status"), line
        with urllib.request.urlopen(link, timeout=30) as page:
            body = page.read().decode()
        assert page.status == 200
        assert "bokeh" in body.lower() and "needs bokeh" not in body.lower()
        # a client of the same scheduler by address (as --scheduler makes) finds it too
        by_address = distributed.Client(cluster.scheduler_address, timeout=10)
        try:
            port = link.split(":")[-1].split("/")[0]
            assert re.fullmatch(rf"Dask dashboard: http://\S+:{port}/status",
                                runner.dashboard_line(by_address))
        finally:
            by_address.close()
    finally:
        runner.close_client(client, cluster)


def test_an_unanswered_scheduler_is_refused_in_seconds(tmp_path, capsys):
    spec = tmp_path / "spec.toml"
    spec.write_text(SPEC)
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        address = f"tcp://127.0.0.1:{s.getsockname()[1]}"
    began = time.monotonic()
    status = cli.main(["sweep", str(spec), "--scheduler", address, "--out",
                       str(tmp_path / "o")])
    took = time.monotonic() - began
    assert status == 2
    line = one_error_line(capsys.readouterr().err)
    assert line.startswith(f"error: --scheduler {address}: cannot connect"), line
    assert took < 10, f"refused after {took:.1f} s"
    assert not list((tmp_path / "o" / "runs").glob("*.parquet"))


@pytest.mark.parametrize("version, ok", [("3.0.3", False), ("3.1.0", True), ("3.10.2", True)])
def test_bokeh_versions_the_dashboard_needs(monkeypatch, version, ok):
    monkeypatch.setattr(runner.metadata, "version", lambda name: version)
    assert runner._has_bokeh() is ok
