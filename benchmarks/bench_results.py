"""Reading a sweep's results: the per-run files against one consolidated results.parquet.

    python benchmarks/bench_results.py [--runs 1000] [--scale 100] [--repeats 3]

Prints ONE JSON object on stdout; progress goes to stderr.

A sweep folder of `--runs` runs is made without running them all: ONE real run of
the historical scenario (its whole period at `--scale`, `run_table`) is written as
every run's file (`runs/RUN_ID.parquet`, with that run's id and seed: the same size
and layout as a real sweep's). Then:

- `consolidate_s`: `experiments.results.write_results` over them (what every sweep
  now does at its end), and the two sizes on disk;
- per tool (DuckDB, polars, pandas) and per source (`runs/*.parquet` or
  `results.parquet`), in a fresh process each, best of `--repeats`: `load_s`, the
  whole table into memory (an Arrow table for DuckDB, a DataFrame for polars and
  pandas), and for DuckDB and polars `query_s`, the mean fiscal-2020 encounters per
  tucson value read from the files (the imports not timed); `max_rss_mb`: the
  process's peak memory (VmHWM), the library's import included.
"""

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks._common import OtherLoad, environment, positive, progress  # noqa: E402

SPEC = """\
description = "bench_results"
scenarios = ["historical"]
seeds = {seeds}
master_seed = 1
scale = {scale}
[vary]
"apprehension_prob.tucson" = [0.7, 0.8]
"""

# (tool, source) -> code run in a fresh process; it prints {"load_s", "query_s"}
LOAD = {
    "duckdb": "import duckdb, pyarrow\nt = duckdb.sql(\"SELECT * FROM '{glob}'\").fetch_arrow_table()",
    "polars": "import polars as pl\nt = pl.read_parquet('{glob}')",
    "pandas": "import pandas as pd\nt = pd.read_parquet('{path}')",
}
QUERY = {
    ("duckdb", "runs"): ("import duckdb\nq = duckdb.sql(\"SELECT \\\"apprehension_prob.tucson\\\" "
                         "AS t, avg(value) FROM '{glob}' WHERE \\\"column\\\" = 'encounters' AND "
                         "period = 'FY2020' GROUP BY 1\").fetchall()"),
    ("duckdb", "results"): ("import duckdb\nq = duckdb.sql(\"SELECT \\\"apprehension_prob.tucson\\\" "
                            "AS t, avg(value) FROM '{glob}' WHERE output = 'encounters' AND "
                            "kind = 'fiscal_year' AND fiscal_year = 2020 GROUP BY 1\").fetchall()"),
    ("polars", "runs"): ("import polars as pl\nq = pl.scan_parquet('{glob}').filter("
                         "pl.col('column') == 'encounters', pl.col('period') == 'FY2020')"
                         ".group_by('apprehension_prob.tucson').agg(pl.col('value').mean())"
                         ".collect()"),
    ("polars", "results"): ("import polars as pl\nq = pl.scan_parquet('{glob}').filter("
                            "pl.col('output') == 'encounters', pl.col('kind') == 'fiscal_year',"
                            " pl.col('fiscal_year') == 2020).group_by('apprehension_prob.tucson')"
                            ".agg(pl.col('value').mean()).collect()"),
}
# the import is not timed; peak memory is VmHWM (ru_maxrss would carry the parent's
# peak over the exec)
TIMED = """\
import json, re, time
{imports}
began = time.perf_counter()
{body}
took = time.perf_counter() - began
hwm = int(re.search(r"VmHWM:\\s+(\\d+)", open("/proc/self/status").read()).group(1))
print(json.dumps({{"s": took, "max_rss_mb": hwm / 1024}}))
"""


def make_sweep(folder: Path, runs: int, scale: int):
    """A sweep folder of `runs` finished runs, each one real run's table (see the doc)."""
    from experiments import parse_spec
    from experiments.runner import prepare_out_dir, run_table
    from model.files import write_parquet

    sweep = parse_spec(SPEC.format(seeds=max(runs // 2, 1), scale=scale), folder / "spec.toml")
    prepare_out_dir(sweep, folder)
    progress(f"one real run at scale {scale} ...")
    table = run_table(sweep.runs[0])
    progress(f"{len(table):,} rows a run; writing {len(sweep.runs):,} run files ...")
    for task in sweep.runs:
        table["run_id"], table["seed"], table["seed_index"] = task.run_id, task.seed, \
            task.seed_index
        table["apprehension_prob.tucson"] = task.values["apprehension_prob.tucson"]
        write_parquet(folder / "runs" / f"{task.run_id}.parquet", table)
    return sweep, len(table)


def timed(code: str, repeats: int) -> dict:
    """Best of `repeats` fresh processes running `code` (time and peak memory)."""
    best = None
    for _ in range(repeats):
        imports, body = code.split("\n", 1)
        done = subprocess.run([sys.executable, "-c", TIMED.format(imports=imports, body=body)],
                              cwd=ROOT,
                              capture_output=True, text=True, check=True)
        got = json.loads(done.stdout.strip().splitlines()[-1])  # DuckDB may draw a bar first
        if best is None or got["s"] < best["s"]:
            best = got
    return {"s": round(best["s"], 3), "max_rss_mb": round(best["max_rss_mb"])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=positive, default=1000)
    parser.add_argument("--scale", type=positive, default=100)
    parser.add_argument("--repeats", type=positive, default=3)
    args = parser.parse_args()
    report = environment(runs=args.runs, scale=args.scale, repeats=args.repeats)
    load = OtherLoad()
    folder = Path(tempfile.mkdtemp(prefix="bench-results-"))
    try:
        from experiments.results import RESULTS_FILE, write_results

        sweep, rows = make_sweep(folder, args.runs, args.scale)
        began = time.perf_counter()
        write_results(sweep, folder, {t.run_id: "finished" for t in sweep.runs})
        report["consolidate_s"] = round(time.perf_counter() - began, 2)
        run_files = list((folder / "runs").glob("*.parquet"))
        report["rows"] = rows * len(sweep.runs)
        report["runs_files"] = len(run_files)
        report["runs_mb"] = round(sum(f.stat().st_size for f in run_files) / 2**20, 1)
        report["results_mb"] = round((folder / RESULTS_FILE).stat().st_size / 2**20, 1)
        sources = {"runs": {"glob": f"{folder}/runs/*.parquet", "path": f"{folder}/runs"},
                   "results": {"glob": f"{folder}/{RESULTS_FILE}",
                               "path": f"{folder}/{RESULTS_FILE}"}}
        reads = {}
        for tool, code in LOAD.items():
            for source, where in sources.items():
                progress(f"{tool} on {source} ...")
                entry = {"load": timed(code.format(**where), args.repeats)}
                if (tool, source) in QUERY:
                    entry["query"] = timed(QUERY[tool, source].format(**where), args.repeats)
                reads[f"{tool} {source}"] = entry
        report["reads"] = reads
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    report["other_load"] = load.report()
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
