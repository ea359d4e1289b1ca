"""Many-run work on top of `model.simulate`: parameter sweeps on Dask distributed,
scenario comparisons on common random numbers with costs (`experiments.compare`,
`experiments.costs`, run as a sweep), and global sensitivity analysis with SALib
(`experiments.sensitivity`, a Saltelli or Morris sample run as a sweep).

`model/` is the simulation only; everything that runs it many times lives here.

    from experiments import load_spec, run_sweep
    sweep = load_spec("sweeps/title42_families.toml")   # checked; SpecError if not
    report = run_sweep(sweep, "runs/sweep-title42_families", workers=4)
    pandas.read_parquet("runs/sweep-title42_families/runs")  # every finished run, long form
"""

from experiments.spec import RunTask, SpecError, Sweep, derive_seeds, load_spec, parse_spec

__all__ = ["RunTask", "SpecError", "Sweep", "derive_seeds", "load_spec", "parse_spec", "run_sweep",
           "run_table"]


def __getattr__(name):  # the runner imports Dask: only when asked for
    if name in ("run_sweep", "run_table"):
        from experiments import runner

        return getattr(runner, name)
    raise AttributeError(name)
