"""A sweep's consolidated results file: `results.parquet`, beside `runs/`.

`write_results(sweep, out_dir, report)` is called by `experiments.runner.run_sweep`
at the end of every sweep (finished, resumed, interrupted, or with failed runs), so
`run.py sweep`, `sensitivity` and `compare` all leave one. It reads the per-run
files (`runs/RUN_ID.parquet`, which stay as they are: their columns are a
contract) and writes one typed, zstd-compressed table that DuckDB, polars and
pandas read without conversion. One row per run, kind, period and output, in the
sweep's run order:

    run_id        dictionary<string>  the run (as in runs/ and manifest.json)
    status        dictionary<string>  "finished" | "failed" | "pending" (not run yet:
                                      an interrupted sweep) | "damaged" (its file
                                      cannot be read); a run that is not finished
                                      has one row, with kind..value null
    scenario      dictionary<string>
    <varied key>  one column per varied key (as in runs/), from the manifest;
                                      a key whose values are dates is a date32
    seed_index    int32
    seed          int64
    scale         int32
    code          dictionary<string>  the model code that made the run
    kind          dictionary<string>  "monthly" | "fiscal_year"
    month         date32              the month's first day (monthly rows; null else)
    fiscal_year   int16               the US fiscal year (Oct-Sep) of the row
    output        dictionary<string>  the output's name, e.g. "encounters" (the
                                      per-run files' `column`)
    value         float64

The per-run files' `period` ("2019-10" or "FY2020") is split into `month` and
`fiscal_year`. The file carries no time of writing: the same sweep gives the same
bytes. Written whole or not at all (`model.files.atomic_target`), streamed run by
run in row groups, so a sweep of any size fits in memory.
"""

from datetime import date
from pathlib import Path

from experiments.spec import Sweep

RESULTS_FILE = "results.parquet"
STATUSES = ("finished", "failed", "pending", "damaged")
ROW_GROUP_ROWS = 1 << 20  # rows buffered before a row group is written


def results_schema(sweep: Sweep, value_types: dict):
    """The consolidated file's Arrow schema (see the module doc)."""
    import pyarrow as pa

    text = pa.dictionary(pa.int32(), pa.string())
    fields = [("run_id", text), ("status", text), ("scenario", text),
              *((key, value_types[key]) for key in sweep.vary_keys),
              ("seed_index", pa.int32()), ("seed", pa.int64()), ("scale", pa.int32()),
              ("code", text), ("kind", text), ("month", pa.date32()),
              ("fiscal_year", pa.int16()), ("output", text), ("value", pa.float64())]
    metadata = {"spec": sweep.path.name, "spec_sha256": sweep.spec_hash(),
                "written_by": "experiments.results"}
    return pa.schema(fields, metadata=metadata)


def _split_periods(periods):
    """The per-run `period` strings as (month date32, fiscal_year int16) arrays:
    "2019-10" -> (2019-10-01, 2020); "FY2020" -> (null, 2020). Converted once per
    distinct text (a run has a few dozen)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    encoded = pc.dictionary_encode(periods).combine_chunks() \
        if isinstance(periods, pa.ChunkedArray) else pc.dictionary_encode(periods)
    months, years = [], []
    for text in encoded.dictionary.to_pylist():
        if text.startswith("FY"):
            months.append(None)
            years.append(int(text[2:]))
        else:
            year, month = map(int, text.split("-"))
            months.append(date(year, month, 1))
            years.append(year + (month >= 10))
    indices = encoded.indices
    return (pa.array(months, pa.date32()).take(indices),
            pa.array(years, pa.int16()).take(indices))


def _run_rows(sweep: Sweep, task, status: str, table, schema):
    """One run's rows as a table of `schema` (plain strings: encoded when written)."""
    import pyarrow as pa

    n = 1 if table is None else table.num_rows
    columns = {"run_id": pa.repeat(task.run_id, n), "status": pa.repeat(status, n),
               "scenario": pa.repeat(task.scenario, n)}
    for key in sweep.vary_keys:
        value, kind = task.values.get(key), schema.field(key).type
        if pa.types.is_date32(kind) and value is not None:
            value = date.fromisoformat(value)
        columns[key] = pa.repeat(pa.scalar(value, kind), n)
    columns["seed_index"] = pa.repeat(pa.scalar(task.seed_index, pa.int32()), n)
    columns["seed"] = pa.repeat(pa.scalar(task.seed, pa.int64()), n)
    columns["scale"] = pa.repeat(pa.scalar(task.scale, pa.int32()), n)
    if table is None:
        for name in ("code", "kind", "output"):
            columns[name] = pa.nulls(1, pa.string())
        columns["month"] = pa.nulls(1, pa.date32())
        columns["fiscal_year"] = pa.nulls(1, pa.int16())
        columns["value"] = pa.nulls(1, pa.float64())
    else:
        month, fiscal_year = _split_periods(table.column("period"))
        columns["code"] = table.column("code").cast(pa.string())
        columns["kind"] = table.column("kind").cast(pa.string())
        columns["month"], columns["fiscal_year"] = month, fiscal_year
        columns["output"] = table.column("column").cast(pa.string())
        columns["value"] = table.column("value").cast(pa.float64())
    plain = pa.schema([pa.field(f.name, pa.string()) if pa.types.is_dictionary(f.type) else f
                       for f in schema])
    return pa.table({name: columns[name] for name in schema.names}, schema=plain)


def _value_types(sweep: Sweep) -> dict:
    """Each varied key's Arrow type, from the values the manifest holds for it: a key
    whose values are all ISO dates (the manifest holds dates as text) is a date32."""
    import pyarrow as pa

    types = {}
    for key in sweep.vary_keys:
        values = [task.values.get(key) for task in sweep.runs]
        kind = pa.array(values).type
        if pa.types.is_string(kind) or pa.types.is_large_string(kind):
            kind = pa.date32() if all(_is_iso_date(v) for v in values) else pa.string()
        types[key] = kind
    return types


def _is_iso_date(value) -> bool:
    try:
        return len(value) == 10 and date.fromisoformat(value).isoformat() == value
    except (TypeError, ValueError):
        return False


def write_results(sweep: Sweep, out_dir: Path, status: dict[str, str]) -> Path:
    """Write `out_dir/results.parquet` from the per-run files of `sweep`'s runs;
    `status` maps a run id to "finished", "failed" or "pending" (a run not in it is
    pending). Returns its path. An OSError (a full disk) goes up naming the file;
    nothing half-written is left."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from model.files import atomic_target

    out_dir = Path(out_dir)
    path = out_dir / RESULTS_FILE
    schema = results_schema(sweep, _value_types(sweep))
    wanted = ["code", "kind", "period", "column", "value"]
    with atomic_target(path) as tmp:
        with pq.ParquetWriter(tmp, schema, compression="zstd", compression_level=3,
                              write_statistics=True) as writer:
            buffered, rows = [], 0

            def flush():
                if not buffered:
                    return
                table = pa.concat_tables(buffered).combine_chunks()
                encoded = [pc.dictionary_encode(col).cast(schema.field(name).type)
                           if pa.types.is_dictionary(schema.field(name).type) else col
                           for name, col in zip(table.column_names, table.columns)]
                writer.write_table(pa.table(encoded, schema=schema),
                                   row_group_size=ROW_GROUP_ROWS)
                buffered.clear()

            for task in sweep.runs:
                state, table = status.get(task.run_id, "pending"), None
                if state == "finished":
                    try:  # ParquetFile without threads: several times faster than
                        # read_table on a small file (measured on 200 runs' files)
                        with pq.ParquetFile(out_dir / "runs" / f"{task.run_id}.parquet") as f:
                            table = f.read(columns=wanted, use_threads=False)
                    except (OSError, pa.ArrowException):
                        state = "damaged"
                buffered.append(_run_rows(sweep, task, state, table, schema))
                rows += buffered[-1].num_rows
                if rows >= ROW_GROUP_ROWS:
                    flush()
                    rows = 0
            flush()
    return path
