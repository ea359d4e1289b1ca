"""The calibration report: how well the posterior meets the seed articles' figures.

`write_report(setup, client, draws=N)` draws N parameter sets from the posterior
(`posterior.parquet`, by weight), runs each once on a new seed (seeds derived from
`REPORT_SEED`, none of them a fitting run's) on the Dask client, and writes into
`setup.report_dir` (by default the fit's folder, `setup.out_dir`; each file written
whole, `model.files.write_atomically`):

    report.md            each target: the figure, its band, the posterior-predictive
                         median and 90 % interval, met or not (the interval overlaps
                         the band); the averaged relative difference of the medians
                         (Flee's score); each parameter's prior and 90 % posterior
                         interval; the strongest pairwise correlations
    report_targets.png   each target's median and interval against its band, as a
                         share of the figure
    report_marginals.png each parameter's weighted posterior histogram over its prior range
    report_correlations.png  weighted pairwise correlations of the parameters
"""

import math
from pathlib import Path

import numpy as np
import pandas as pd

from calibration.distance import averaged_relative_difference, band
from calibration.fit import FitSetup, TargetModel, guard_committed_fit, weighted_quantile
from calibration.targets import measurable

REPORT_SEED = 20_211_208  # the report's seeds come from here, not from the fit's


def predictive_runs(setup: FitSetup, posterior: pd.DataFrame, client, draws: int) -> pd.DataFrame:
    """One run per posterior draw on its own new seed: a row per run, a column per
    target (and the draw's parameters, `seed`)."""
    sequence = np.random.SeedSequence(REPORT_SEED)
    rng = np.random.default_rng(sequence.spawn(1)[0])
    picks = rng.choice(len(posterior), size=draws, p=posterior["weight"].to_numpy())
    seeds = [int(s.generate_state(1)[0]) for s in sequence.spawn(draws + 1)[1:]]
    model = TargetModel(setup, scale=setup.predictive_scale)
    parameter_sets = [{p.abc_name: float(posterior[p.name].iloc[i]) for p in setup.priors}
                      for i in picks]
    futures = client.map(model.run, parameter_sets, seeds, pure=False)
    rows = []
    for parameters, values in zip(parameter_sets, client.gather(futures)):
        rows.append({**values, **{p.name: parameters[p.abc_name] for p in setup.priors}})
    return pd.DataFrame(rows)


def load_posterior(setup: FitSetup) -> pd.DataFrame:
    """The fit's posterior.parquet, checked against the priors (a column per prior and a
    weight); FitError in one line if it is missing, unreadable or another fit's."""
    from calibration.fit import FitError

    path = setup.out_dir / "posterior.parquet"
    if not path.is_file():
        raise FitError(f"--report-only: no {path} (run the calibration first, or give --out "
                       f"the folder that has it)")
    try:
        posterior = pd.read_parquet(path)
    except Exception as exc:  # pyarrow's errors share no base class with OSError
        raise FitError(f"{path}: not a posterior written by `run.py calibrate` "
                       f"({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})") \
            from None
    missing = [c for c in [p.name for p in setup.priors] + ["weight", "generation"]
               if c not in posterior.columns]
    if missing or posterior.empty:
        raise FitError(f"{path}: not a posterior of these priors (no column {missing[0]})"
                       if missing else f"{path}: holds no parameter sets")
    return posterior


def target_table(setup: FitSetup, runs: pd.DataFrame) -> pd.DataFrame:
    """Per measurable target: value, kind, band, predictive median and 5 %/95 % quantiles,
    whether the interval overlaps the band; unmeasurable ones listed with their reason."""
    rows = []
    scale = setup.predictive_scale
    for t in setup.targets:
        if not t.measured_at(scale):
            reason = t.reason if not t.measurable else (
                f"too few people for scale {scale} (measured at scale {t.coarsest_scale} "
                f"or finer: `run.py calibrate --report-only --report-scale 1`)")
            rows.append({"target": t.id, "label": t.label, "kind": t.kind, "value": t.value,
                         "measured": False, "reason": reason})
            continue
        values = runs[t.id].to_numpy(dtype=float)
        low, median, high = np.nanquantile(values, [0.05, 0.5, 0.95])
        band_low, band_high = band(t)
        rows.append({"target": t.id, "label": t.label, "kind": t.kind, "value": t.value,
                     "band_low": band_low, "band_high": band_high, "median": median,
                     "low": low, "high": high, "measured": True,
                     "met": bool(high >= band_low and low <= band_high),
                     "relative_difference": abs(median - t.value) / abs(t.value)})
    return pd.DataFrame(rows)


def write_report(setup: FitSetup, client, draws: int = 50) -> dict[str, Path]:
    """Run the posterior predictive and write report.md and its PNGs (module doc)."""
    import matplotlib

    matplotlib.use("Agg")
    from model.files import write_atomically

    guard_committed_fit(setup, setup.report_dir)
    posterior = load_posterior(setup)
    runs = predictive_runs(setup, posterior, client, draws)
    table = target_table(setup, runs)
    medians = {row.target: row.median for row in table.itertuples() if row.measured}
    scale = setup.predictive_scale
    ard = averaged_relative_difference(setup.targets, medians, scale=scale)
    ard_kinds = averaged_relative_difference(setup.targets, medians, honour_kinds=True,
                                             scale=scale)
    out = setup.report_dir
    out.mkdir(parents=True, exist_ok=True)
    files = {"report": out / "report.md", "targets": out / "report_targets.png",
             "marginals": out / "report_marginals.png",
             "correlations": out / "report_correlations.png"}
    correlations = weighted_correlations(setup, posterior)
    made = {"targets": _plot_targets(table[table.measured]),  # all made before any is written
            "marginals": _plot_marginals(setup, posterior),
            "correlations": _plot_correlations(correlations),
            "report": _markdown(setup, posterior, table, ard, ard_kinds, correlations, draws,
                                files).encode()}
    for name in ("targets", "marginals", "correlations", "report"):  # report.md last
        write_atomically(files[name], made[name])
    return files


def weighted_correlations(setup: FitSetup, posterior: pd.DataFrame) -> pd.DataFrame:
    names = [p.name for p in setup.priors]
    values = posterior[names].to_numpy(dtype=float)
    covariance = np.atleast_2d(np.cov(values, rowvar=False,
                                      aweights=posterior["weight"].to_numpy()))
    sd = np.sqrt(np.diag(covariance))
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = covariance / np.outer(sd, sd)
    return pd.DataFrame(corr, index=names, columns=names)


def _fmt(value: float) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if math.isinf(value):
        return "-inf" if value < 0 else "+inf"
    return f"{value:,.3g}" if abs(value) < 100 else f"{value:,.0f}"


def _markdown(setup, posterior, table, ard, ard_kinds, correlations, draws, files) -> str:
    measured = table[table.measured]
    w = posterior["weight"].to_numpy()
    ess, made = 1 / float((w ** 2).sum()), f"generation {int(posterior['generation'].iloc[0])}"
    summary = emulator_summary(setup)
    if summary:  # MCMC draws: their effective size is the chain's, not the weights'
        ess = min(ess, summary["effective_sample_size"])
        made = (f"{len(posterior)} MCMC draws on an emulator of {summary['design_runs']} design "
                f"runs (effective sample size {summary['effective_sample_size']:.0f})")
    lines = [
        "# Calibration report", "",
        f"Scenario `{setup.scenario}` fitted at scale {setup.scale}; posterior of {made} "
        f"({len(posterior)} parameter sets) from "
        f"{_posterior_source(setup)}"
        f". Posterior predictive: {draws} runs at scale "
        f"{setup.predictive_scale}"
        f"{' (full scale)' if setup.predictive_scale == 1 else ''}, each a draw from the "
        f"posterior on a new seed.", "",
        f"- targets met (90 % interval overlaps the band): **{int(measured.met.sum())} of "
        f"{len(measured)}** measured ({len(table) - len(measured)} not measurable)",
        f"- averaged relative difference of the medians over all measured targets (Flee's "
        f"score): **{ard:.3f}** ({ard_kinds:.3f} counting a met floor or ceiling as 0)", "",
        "## Targets", "",
        f"![targets]({files['targets'].name})", "",
        "| target | kind | figure | band | median | 90 % interval | met |",
        "|---|---|---|---|---|---|---|"]
    for row in table.itertuples():
        if not row.measured:
            lines.append(f"| {row.label} | {row.kind} | {_fmt(row.value)} | | not measured: "
                         f"{row.reason} | | |")
            continue
        lines.append(f"| {row.label} | {row.kind} | {_fmt(row.value)} | {_fmt(row.band_low)} "
                     f"to {_fmt(row.band_high)} | {_fmt(row.median)} | {_fmt(row.low)} to "
                     f"{_fmt(row.high)} | {'met' if row.met else '**not met**'} |")
    lines += ["", "## Parameters", "", f"![marginals]({files['marginals'].name})", "",
              "| parameter | prior | posterior median | 90 % interval |", "|---|---|---|---|"]
    for p in setup.priors:
        q = [weighted_quantile(posterior[p.name].to_numpy(), w, x) for x in (0.05, 0.5, 0.95)]
        lines.append(f"| {p.name} | {p.distribution} {_fmt(p.low)} to {_fmt(p.high)} | "
                     f"{_fmt(q[1])} | {_fmt(q[0])} to {_fmt(q[2])} |")
    pairs = [(abs(correlations.iloc[i, j]), correlations.index[i], correlations.columns[j],
              correlations.iloc[i, j])
             for i in range(len(correlations)) for j in range(i + 1, len(correlations))
             if np.isfinite(correlations.iloc[i, j])]
    lines += ["", "## Pairwise correlations", "", f"![correlations]({files['correlations'].name})",
              "", f"Strongest (weighted posterior; effective sample size {ess:.1f} of "
              f"{len(posterior)}" + ("; fewer than twice the parameters: these correlations "
                                     "say little, run a larger --population)"
                                     if ess < 2 * len(setup.priors) else ")") + ":", ""]
    lines += [f"- {a} ~ {b}: {r:+.2f}" for _, a, b, r in sorted(pairs, reverse=True)[:8]]
    return "\n".join(lines) + "\n"


def emulator_summary(setup: FitSetup) -> dict | None:
    """The emulator fit's emulator.json beside the posterior (None for an ABC fit)."""
    import json

    path = setup.out_dir / "emulator.json"
    try:
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None
    except (OSError, ValueError):
        return None


def _posterior_source(setup: FitSetup) -> str:
    """Where the report's posterior came from, as report.md names it."""
    if setup.db.is_file():
        return f"`{setup.db}`"
    if setup.report_dir.resolve() != setup.out_dir.resolve():
        return f"`{setup.out_dir / 'posterior.parquet'}`"
    return "`posterior.parquet` (the history is not kept)"


def _png(fig) -> bytes:
    """The figure as PNG bytes (closed)."""
    import io

    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    return buffer.getvalue()


def _plot_targets(table: pd.DataFrame) -> bytes:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 0.35 * len(table) + 1.2))
    y = np.arange(len(table))[::-1]
    scale = table["value"].abs().to_numpy()
    clip = lambda v: np.clip(v, -1.2, 3)  # noqa: E731  a floor's band runs to infinity
    ax.barh(y, clip(table.band_high / scale) - clip(table.band_low / scale),
            left=clip(table.band_low / scale), color="#cde", label="meets the figure")
    ax.errorbar(table["median"] / scale, y, xerr=[(table["median"] - table.low) / scale,
                                                  (table.high - table["median"]) / scale],
                fmt="o", color="k", label="posterior predictive: median, 90 %")
    ax.axvline(np.sign(table["value"].iloc[0]) if len(table) else 1, color="grey", lw=0.5)
    ax.set_yticks(y, table["label"], fontsize=7)
    ax.set_xlabel("as a share of the figure's size (value / |figure|)")
    ax.set_xlim(-1.2, 3)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return _png(fig)


def _plot_marginals(setup: FitSetup, posterior: pd.DataFrame) -> bytes:
    import matplotlib.pyplot as plt

    n = len(setup.priors)
    cols = min(n, 4)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3 * cols, 2.3 * rows), squeeze=False)
    for ax, p in zip(axes.flat, setup.priors):
        bins = (np.geomspace(p.low, p.high, 16) if p.distribution == "loguniform"
                else np.linspace(p.low, p.high, 16))
        ax.hist(posterior[p.name], bins=bins, weights=posterior["weight"], color="#48a")
        if p.distribution == "loguniform":
            ax.set_xscale("log")
        ax.set_xlim(p.low, p.high)
        ax.set_title(p.name, fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    fig.suptitle("Posterior marginals (weighted) over each prior's range", fontsize=9)
    fig.tight_layout()
    return _png(fig)


def _plot_correlations(correlations: pd.DataFrame) -> bytes:
    import matplotlib.pyplot as plt

    n = len(correlations)
    fig, ax = plt.subplots(figsize=(1 + 0.45 * n + 2, 0.45 * n + 1.5))
    image = ax.imshow(correlations.to_numpy(), vmin=-1, vmax=1, cmap="RdBu_r")
    ax.set_xticks(range(n), correlations.columns, rotation=90, fontsize=7)
    ax.set_yticks(range(n), correlations.index, fontsize=7)
    fig.colorbar(image, ax=ax, label="weighted correlation")
    fig.tight_layout()
    return _png(fig)
