"""Global sensitivity analysis: what `run.py sensitivity SPEC` does.

The spec is a sweep spec whose design is one of SALib's samples (`saltelli` for
Sobol indices, `morris` for elementary effects) with a `[sensitivity]` table naming
the outputs and the period (see `experiments.spec`). The runs go through the sweep
machinery unchanged (`run_sweep`: Dask, one Parquet file per run, resume, failures
kept apart); then, per scenario and output:

- each design row's value is the run's output over the period (a fiscal year's
  total, or the whole run as `compare.whole_run` combines it), averaged over the
  spec's seeds. The seeds are the same at every row (common random numbers), so
  seed noise moves every row alike and does not pass for an effect;
- SALib analyses the rows in its sample's order: `SALib.analyze.sobol` (first and
  total order, with bootstrap confidence intervals; second order if asked) or
  `SALib.analyze.morris` (mu*, its confidence interval, mu and sigma).

`write_sensitivity` writes `sensitivity/indices.csv` (tidy), `rows.csv` (X and Y),
`problem.json` (SALib's problem, sample and analysis arguments, seeds: enough to
redo the analysis with SALib alone), one PNG per scenario and returns the table; `readable_indices` is what the command prints.
"""

import io
import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from experiments.compare import CONFIDENCE, whole_run
from experiments.spec import SALIB_DESIGNS, SpecError, Sweep, point_key

STATISTICS = {"saltelli": ("S1", "ST"), "morris": ("mu_star", "sigma", "mu")}
NUM_RESAMPLES = 100  # SALib's bootstrap resamples for the confidence intervals


def row_outputs(sweep: Sweep, runs_dir: Path) -> dict[str, pd.DataFrame]:
    """For each scenario, a table with one row per design row (SALib's order) and one
    column per output: the output over the period, the mean over the seeds."""
    sens = sweep.sensitivity
    per_run = {}
    for task in sweep.runs:
        long = pd.read_parquet(runs_dir / f"{task.run_id}.parquet",
                               columns=["kind", "period", "column", "value"])
        years = long[long["kind"] == "fiscal_year"].pivot(
            index="period", columns="column", values="value").sort_index()
        if sens.period == "run":
            values = whole_run(years, sens.outputs)
        else:
            values = years.loc[sens.period, list(sens.outputs)].to_dict()
        per_run[(task.scenario, point_key(task.values), task.seed_index)] = values
    tables = {}
    for scenario in sweep.scenarios:
        rows = []
        for row in sweep.design_rows:
            seeds = [per_run[(scenario, point_key(row), i)] for i in range(len(sweep.seeds))]
            rows.append({name: float(np.mean([s[name] for s in seeds]))
                         for name in sens.outputs})
        tables[scenario] = pd.DataFrame(rows, columns=list(sens.outputs))
    return tables


def analyse(sweep: Sweep, outputs: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """SALib's indices, tidy: scenario, output, parameter, statistic, estimate and
    its confidence half-width `conf` (NaN where SALib gives none), low and high.
    An output that is the same at every design row gets NaN indices (nothing varies)."""
    if sweep.design not in SALIB_DESIGNS:
        raise SpecError(f"{sweep.path}: design: {sweep.design!r} is not a sensitivity design "
                        f"(use {' or '.join(SALIB_DESIGNS)})")
    problem, names = sweep.problem, sweep.problem["names"]
    rows = []
    for scenario, table in outputs.items():
        for output in table.columns:
            y = table[output].to_numpy(dtype=float)
            found = _indices(sweep, problem, y)
            for statistic, (estimates, confs) in found.items():
                for parameter, est, conf in zip(names, estimates, confs):
                    rows.append({"scenario": scenario, "output": output,
                                 "period": sweep.sensitivity.period, "parameter": parameter,
                                 "statistic": statistic, "estimate": float(est),
                                 "conf": float(conf), "low": float(est - conf),
                                 "high": float(est + conf)})
    return pd.DataFrame(rows, columns=["scenario", "output", "period", "parameter",
                                       "statistic", "estimate", "conf", "low", "high"])


def bootstrap_seed(sweep: Sweep) -> int:
    """The seed of SALib's bootstrap (the confidence intervals), from the master seed;
    never 0, which SALib's Sobol analysis would take for "no seed"."""
    return int(np.random.SeedSequence([sweep.master_seed, 1]).generate_state(1)[0]) | 1


def analysis_arguments(sweep: Sweep) -> dict:
    """The keyword arguments `_indices` gives SALib's analyze function (besides the
    problem, X and Y): written to problem.json so the analysis can be redone."""
    common = {"num_resamples": NUM_RESAMPLES, "conf_level": CONFIDENCE,
              "seed": bootstrap_seed(sweep)}
    if sweep.design == "saltelli":
        return {"calc_second_order": sweep.sensitivity.second_order, **common}
    return {"num_levels": sweep.sensitivity.levels, **common}


def problem_record(sweep: Sweep) -> dict:
    """What problem.json holds: SALib's `problem`, how its sample was drawn and how
    the analysis was called, and where its X and Y are, so the indices and their
    intervals can be reproduced with SALib alone (see docs/results.md)."""
    saltelli = sweep.design == "saltelli"
    sample = {"function": "SALib.sample.sobol.sample" if saltelli
              else "SALib.sample.morris.sample", "N": sweep.samples, "seed": sweep.master_seed}
    sample.update({"calc_second_order": sweep.sensitivity.second_order} if saltelli
                  else {"num_levels": sweep.sensitivity.levels})
    whole = [k for k in sweep.problem["names"]
             if all(isinstance(r[k], int) for r in sweep.design_rows)]
    return {
        "problem": sweep.problem,
        "design": sweep.design,
        "sample": {**sample, "rounded_to_whole_numbers": whole},
        "analysis": {"function": "SALib.analyze.sobol.analyze" if saltelli
                     else "SALib.analyze.morris.analyze", **analysis_arguments(sweep)},
        "outputs": list(sweep.sensitivity.outputs),
        "period": sweep.sensitivity.period,
        "scenarios": sweep.scenarios,
        "simulation_seeds": sweep.seeds,
        "rows": ("rows.csv: one row per design row in SALib's sample order, per scenario "
                 "(column `scenario`); X = the problem's names as columns, Y = an output's "
                 "column: its value over `period`, the mean over `simulation_seeds`"),
        "salib_version": _version("SALib"),
    }


def _version(name: str) -> "str | None":
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _indices(sweep: Sweep, problem: dict, y: np.ndarray) -> dict[str, tuple]:
    """{statistic: (estimates, confidence half-widths)} for one output's rows."""
    n = problem["num_vars"]
    nan = np.full(n, np.nan)
    statistics = STATISTICS[sweep.design]
    if np.ptp(y) == 0:
        return {s: (nan, nan) for s in statistics}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if sweep.design == "saltelli":
            from SALib.analyze import sobol

            si = sobol.analyze(problem, y, **analysis_arguments(sweep))
            found = {"S1": (si["S1"], si["S1_conf"]), "ST": (si["ST"], si["ST_conf"])}
            if sweep.sensitivity.second_order:
                for i in range(n):
                    for j in range(i + 1, n):
                        name = f"S2[{problem['names'][j]}]"
                        found.setdefault(name, (nan.copy(), nan.copy()))
                        found[name][0][i] = si["S2"][i, j]
                        found[name][1][i] = si["S2_conf"][i, j]
            return found
        from SALib.analyze import morris

        x = np.array([[row[k] for k in problem["names"]] for row in sweep.design_rows],
                     dtype=float)
        si = morris.analyze(problem, x, y, **analysis_arguments(sweep))
        return {"mu_star": (si["mu_star"], si["mu_star_conf"]), "sigma": (si["sigma"], nan),
                "mu": (si["mu"], nan)}


def readable_indices(indices: pd.DataFrame) -> pd.DataFrame:
    """One row per scenario, output and parameter; per statistic the estimate and
    its confidence interval as text (what `run.py sensitivity` prints)."""
    table = {}
    for (scenario, output, parameter), part in indices.groupby(
            ["scenario", "output", "parameter"], sort=False):
        row = {}
        for _, r in part.iterrows():
            row[r["statistic"]] = _fmt(r["estimate"])
            if not math.isnan(r["conf"]):
                row[f"{r['statistic']} {CONFIDENCE:.0%} CI"] = \
                    f"[{_fmt(r['low'])}, {_fmt(r['high'])}]"
        table[(scenario, output, parameter)] = row
    out = pd.DataFrame.from_dict(table, orient="index")
    out.index.names = ["scenario", "output", "parameter"]
    return out


def _fmt(value: float) -> str:
    if math.isnan(value):
        return "n/a"
    return f"{value:.3f}" if abs(value) < 10 else f"{value:,.0f}"


def plot_indices(indices: pd.DataFrame, scenario: str, design: str) -> bytes:
    """A PNG: one panel per output, a bar per parameter and statistic (S1 and ST, or
    mu*), with the confidence interval as an error bar."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    here = indices[indices["scenario"] == scenario]
    outputs = list(dict.fromkeys(here["output"]))
    shown = ("S1", "ST") if design == "saltelli" else ("mu_star",)
    parameters = list(dict.fromkeys(here["parameter"]))
    fig = Figure(figsize=(8, 1.2 + 0.5 * len(parameters) * len(outputs)), dpi=100)
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(outputs), 1, squeeze=False)[:, 0]
    height = 0.8 / len(shown)
    for ax, output in zip(axes, outputs):
        part = here[here["output"] == output]
        for k, statistic in enumerate(shown):
            rows = part[part["statistic"] == statistic].set_index("parameter").loc[parameters]
            y = np.arange(len(parameters)) + (k - (len(shown) - 1) / 2) * height
            err = rows["conf"].to_numpy()
            ax.barh(y, rows["estimate"].fillna(0), height=height, label=statistic,
                    xerr=np.where(np.isnan(err), 0, err), capsize=3)
        ax.set_yticks(np.arange(len(parameters)), parameters)
        ax.invert_yaxis()
        ax.set_title(f"{output} ({part['period'].iloc[0]})", fontsize=10)
        ax.grid(axis="x", alpha=0.3)
        if design == "saltelli":
            ax.axvline(0, color="black", linewidth=0.8)
    axes[0].legend(loc="lower right", fontsize=8)
    what = "Sobol indices" if design == "saltelli" else "Morris mu*"
    fig.suptitle(f"{scenario}: {what}, {CONFIDENCE:.0%} confidence intervals")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def write_sensitivity(sweep: Sweep, out_dir: Path) -> tuple[dict[str, Path], pd.DataFrame]:
    """Analyse a finished sensitivity sweep in `out_dir` and write
    `sensitivity/indices.csv`, `sensitivity/rows.csv` (each design row's values and
    outputs), `sensitivity/problem.json` (`problem_record`) and
    `sensitivity/SCENARIO.png`. Returns the files and the indices."""
    import json

    from model.files import write_atomically

    outputs = row_outputs(sweep, Path(out_dir) / "runs")
    indices = analyse(sweep, outputs)
    folder = Path(out_dir) / "sensitivity"
    folder.mkdir(parents=True, exist_ok=True)
    files = {"indices": folder / "indices.csv", "rows": folder / "rows.csv"}
    write_atomically(files["indices"], indices.to_csv(index=False).encode())
    design = pd.DataFrame(sweep.design_rows)
    design.insert(0, "row", range(len(design)))
    rows = pd.concat([design.join(table).assign(scenario=scenario)
                      for scenario, table in outputs.items()], ignore_index=True)
    write_atomically(files["rows"], rows.to_csv(index=False).encode())
    files["problem"] = folder / "problem.json"
    write_atomically(files["problem"],
                     (json.dumps(problem_record(sweep), indent=1) + "\n").encode())
    for scenario in sweep.scenarios:
        label = Path(scenario).stem if scenario.endswith(".toml") else scenario
        files[f"plot {scenario}"] = folder / f"{label}.png"
        write_atomically(files[f"plot {scenario}"], plot_indices(indices, scenario, sweep.design))
    return files, indices
