"""A sweep's `results.parquet` as data tools read it: DuckDB and polars (and pandas)
get dates, integers and dictionary-encoded text, the same values as the per-run
files, and each run's status; a partial sweep (a failed run, Ctrl-C) says which
runs are missing, and the file is rewritten when the sweep is resumed.

One real sweep on Dask (threads in this process: no worker start-up), the
historical scenario's first four months at scale 400: 2 values x 2 seeds.
"""

import json
import os
import signal
import time
from datetime import date

import duckdb
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from experiments import load_spec, runner
from experiments.results import RESULTS_FILE

SPEC = """\
description = "results test"
scenarios = ["historical"]
seeds = 2
master_seed = 5
scale = 400
end = 2019-01-31
[vary]
"apprehension_prob.tucson" = [0.7, 0.8]
"policies.title42.end" = [2021-03-31]
"""


class Failing:
    """A run function that fails the runs with tucson = 0.8, or presses Ctrl-C (as a
    terminal would) after its first run."""

    def __init__(self, fail: bool = False, interrupt: bool = False):
        self.fail, self.interrupt = fail, interrupt

    def __call__(self, task):
        if self.fail and task.values["apprehension_prob.tucson"] == 0.8:
            raise RuntimeError(f"boom in {task.run_id}")
        table = runner.run_table(task)
        if self.interrupt:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(2)
        return table


def sweep_in(tmp_path, run=runner.run_table):
    spec = tmp_path / "spec.toml"
    spec.write_text(SPEC)
    sweep = load_spec(spec)
    report = runner.run_sweep(sweep, tmp_path / "out", workers=1, processes=False, run=run,
                              progress=False)
    return sweep, report, tmp_path / "out"


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    return sweep_in(tmp_path_factory.mktemp("results"))


def test_duckdb_reads_typed_columns_and_the_runs_values(finished):
    sweep, report, out = finished
    path = out / RESULTS_FILE
    assert report.results == path
    con = duckdb.connect()
    types = {r[0]: r[1] for r in con.execute(f"DESCRIBE SELECT * FROM '{path}'").fetchall()}
    assert types["month"] == "DATE" and types["fiscal_year"] == "SMALLINT"
    assert types["value"] == "DOUBLE" and types["seed"] == "BIGINT"
    assert types["apprehension_prob.tucson"] == "DOUBLE"
    assert types["policies.title42.end"] == "DATE"
    assert "column" not in types and "period" not in types and types["output"] == "VARCHAR"
    assert con.execute(f"SELECT DISTINCT status FROM '{path}'").fetchall() == [("finished",)]

    # the months are month starts in FY2019, and the fiscal-year rows are FY2019's
    months = [r[0] for r in con.execute(
        f"SELECT DISTINCT month FROM '{path}' WHERE kind = 'monthly' ORDER BY 1").fetchall()]
    assert months == [date(2018, 10, 1), date(2018, 11, 1), date(2018, 12, 1), date(2019, 1, 1)]
    assert con.execute(f"SELECT DISTINCT fiscal_year, month FROM '{path}' "
                       f"WHERE kind = 'fiscal_year'").fetchall() == [(2019, None)]

    # every value is the per-run file's, row for row
    per_run = pd.read_parquet(out / "runs")
    got = con.execute(
        f"SELECT run_id, kind, CASE WHEN kind = 'monthly' THEN strftime(month, '%Y-%m') "
        f"ELSE 'FY' || fiscal_year END AS period, output AS \"column\", value "
        f"FROM '{path}'").df()
    key = ["run_id", "kind", "period", "column"]
    merged = per_run.merge(got, on=key, how="outer", suffixes=("", "_results"),
                           indicator=True)
    assert (merged["_merge"] == "both").all()
    assert len(got) == len(per_run) and per_run["run_id"].nunique() == len(sweep.runs)
    assert (merged["value"] == merged["value_results"]).all()


def test_polars_and_pandas_get_categories_dates_and_integers(finished):
    _, _, out = finished
    path = out / RESULTS_FILE
    frame = pl.read_parquet(path)
    schema = frame.schema
    for name in ("run_id", "status", "scenario", "code", "kind", "output"):
        assert schema[name] == pl.Categorical, (name, schema[name])
    assert schema["month"] == pl.Date and schema["fiscal_year"] == pl.Int16
    assert schema["policies.title42.end"] == pl.Date
    lazy = (pl.scan_parquet(path).filter(pl.col("output") == "encounters",
                                         pl.col("kind") == "fiscal_year")
            .group_by("apprehension_prob.tucson").agg(pl.col("value").mean()).collect())
    assert lazy.height == 2 and (lazy["value"] > 0).all()

    arrow = pq.read_schema(path)
    assert all(not pa.types.is_large_string(f.type) for f in arrow)
    assert pq.ParquetFile(path).metadata.row_group(0).column(0).compression == "ZSTD"
    table = pd.read_parquet(path)
    assert isinstance(table["output"].dtype, pd.CategoricalDtype)
    assert str(table["fiscal_year"].dtype) == "int16"


def test_the_same_sweep_writes_the_same_bytes(finished, tmp_path):
    sweep, report, out = finished
    again = runner.run_sweep(sweep, out, workers=1, processes=False, progress=False)
    assert again.skipped and not again.finished
    first = (out / RESULTS_FILE).read_bytes()
    from experiments.results import write_results

    copy = tmp_path / "copy"
    (copy / "runs").mkdir(parents=True)
    for f in (out / "runs").glob("*.parquet"):
        (copy / "runs" / f.name).write_bytes(f.read_bytes())
    write_results(sweep, copy, again.status())
    assert (copy / RESULTS_FILE).read_bytes() == first


def test_failed_and_interrupted_runs_are_listed_and_the_resumed_sweep_rewrites_it(tmp_path):
    sweep, report, out = sweep_in(tmp_path, Failing(fail=True))
    path = out / RESULTS_FILE
    status = dict(duckdb.sql(f"SELECT run_id, any_value(status) FROM '{path}' GROUP BY 1")
                  .fetchall())
    bad = {t.run_id for t in sweep.runs if t.values["apprehension_prob.tucson"] == 0.8}
    assert status == {t.run_id: "failed" if t.run_id in bad else "finished"
                      for t in sweep.runs}
    failed = duckdb.sql(f"SELECT * FROM '{path}' WHERE status = 'failed'").df()
    assert len(failed) == len(bad) and failed["value"].isna().all()
    assert failed["apprehension_prob.tucson"].eq(0.8).all()  # still says which run it was

    # Ctrl-C during the retry of the failed runs: those not done are pending
    interrupted = runner.run_sweep(sweep, out, workers=1, processes=False,
                                   run=Failing(interrupt=True), progress=False)
    assert interrupted.interrupted
    status = pl.read_parquet(path).group_by("run_id").agg(pl.col("status").first())
    counts = dict(status.group_by("status").len().iter_rows())
    assert counts.get("finished", 0) == len(sweep.runs) - len(bad) + len(interrupted.finished)
    assert counts.get("pending", 0) == len(bad) - len(interrupted.finished) >= 1
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["interrupted"] is True

    resumed = runner.run_sweep(sweep, out, workers=1, processes=False, progress=False)
    assert not resumed.failed and not resumed.interrupted
    assert duckdb.sql(f"SELECT DISTINCT status FROM '{path}'").fetchall() == [("finished",)]
    assert not list(out.glob(".*.tmp"))
