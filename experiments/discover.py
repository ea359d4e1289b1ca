"""Scenario discovery on a finished sweep: what `run.py discover DIR --outcome ...` does.

Given a sweep folder (`run.py sweep`) and a condition on a headline figure,
`FY2021.encounters > 1.7e6` (`experiments.outcomes`: parsed, never evaluated):

- cases: one per finished run, its inputs the keys the sweep varied (from the
  manifest; a key with one value over the runs is left out; the scenario too when the
  sweep ran several), its outcome the figure, met or not. The results are read by
  `experiments.runner.read_fiscal_years`, the one place a sweep's results are read.
- PRIM (EMA Workbench's `Prim`): one box of inputs where the condition holds; of its
  peeling trajectory the box shown is the one with the highest coverage among those
  with density >= `min_density` (0.8 unless given; else the densest), with its
  limits and quasi-p values, the trajectory as a table, the coverage/density
  trade-off and the box as PNGs.
- feature scores (EMA's extra-trees scores, fixed random_state): how much each input
  tells whether the condition holds, and how much it tells the figure itself.
- robustness, for a `[levers]` x `[uncertainties]` sweep: per lever combination, the
  share of its runs (uncertainty samples x seeds) meeting the condition, and its
  regret in each future (the same uncertainty sample, scenario and seed): how far its
  figure is from the best combination's in that future, "best" being the lowest figure
  by default for a `>` condition (the condition is taken as what to avoid), the
  highest for `<` (`prefer` turns it round); mean and max over the futures.

`write_discovery` writes tables/*.csv, plots/*.png and discover.html (self-contained,
offline: reports.run_report's style, PNGs inline) into DIR/discover (or `out_dir`).
Every problem is a DiscoverError (one line; exit status 2 from run.py).
"""

import base64
import functools
import html
import io
import json
import math
import warnings
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from experiments.outcomes import Condition
from experiments.spec import SpecError, as_text

# EMA Workbench says on import that ipyparallel (one of its evaluators) is missing:
# nothing here uses it, and a command's output should not carry the noise
warnings.filterwarnings("ignore", message="ipyparallel not installed", category=UserWarning)

DEFAULT_MIN_DENSITY = 0.8
MARKER = "discover.json"  # in the output folder: which discovery it holds
SCENARIO_INPUT = "scenario_file"  # EMA's PRIM drops a column called "scenario"
FEATURE_SEED = 0  # the extra trees' random_state: same sweep, same scores


class DiscoverError(SpecError):
    """A discovery that cannot be made (one line, naming the folder or the outcome)."""


@functools.total_ordering
class Label:
    """A category's text with a hash that is the same in every process. PRIM peels a
    category by iterating over a set of them: with str's hash (randomised per process),
    two equally good categories were peeled in either order from one run to the next,
    and the same sweep gave different boxes; crc32 makes the order, and the box, fixed."""

    __slots__ = ("text",)

    def __init__(self, text: str):
        self.text = text

    def __hash__(self) -> int:
        return zlib.crc32(self.text.encode())

    def __eq__(self, other) -> bool:
        return isinstance(other, Label) and other.text == self.text

    def __lt__(self, other) -> bool:
        return self.text < other.text

    def __repr__(self) -> str:
        return self.text

    __str__ = __repr__


@dataclass
class Cases:
    """The runs as PRIM sees them: `x` the inputs (one row per run), `value` the figure,
    `met` whether it meets the condition; `values` every varied key per run (constant
    ones too), `futures` what makes a run's future (scenario, uncertainties, seed)."""

    condition: Condition
    sweep_dir: Path
    manifest: dict
    run_ids: list[str]
    x: pd.DataFrame
    value: np.ndarray
    met: np.ndarray
    values: pd.DataFrame
    lever_keys: list[str]
    uncertainty_keys: list[str]
    dropped: list[str] = field(default_factory=list)  # varied keys with one value here
    left_out: int = 0  # runs of the manifest not finished


def load_cases(sweep_dir: Path, condition: Condition) -> Cases:
    """The finished runs of the sweep in `sweep_dir` as cases for `condition`."""
    from experiments.runner import read_fiscal_years, read_manifest

    sweep_dir = Path(sweep_dir)
    try:
        manifest = read_manifest(sweep_dir)
    except SpecError as exc:
        raise DiscoverError(str(exc)) from None
    vary = list(manifest["vary"])
    if not vary:
        raise DiscoverError(f"{sweep_dir}: the sweep varied no inputs (its spec has no "
                            f"[vary], [levers] or [uncertainties]); PRIM looks for inputs "
                            f"under which the outcome holds")
    runs = [r for r in manifest["runs"] if isinstance(r, dict)
            and r.get("status") in ("finished", "skipped")]
    left_out = len(manifest["runs"]) - len(runs)
    if not runs:
        raise DiscoverError(f"{sweep_dir}: none of its {len(manifest['runs'])} runs is finished; "
                            f"run `run.py sweep` on it first")
    run_ids = [r["run_id"] for r in runs]
    try:
        long = read_fiscal_years(sweep_dir, run_ids)
    except SpecError as exc:
        raise DiscoverError(str(exc)) from None
    name = condition.name
    here = long[(long["period"] == name.period) & (long["column"] == name.column)]
    if here.empty:
        years = ", ".join(sorted(set(long["period"])))
        raise DiscoverError(f"--outcome {condition.text}: {name.period} is not in the runs of "
                            f"{sweep_dir} (their fiscal years: {years})")
    value = here.set_index("run_id")["value"].reindex(run_ids)
    if value.isna().any():
        missing = value[value.isna()].index[0]
        raise DiscoverError(f"{sweep_dir}: run {missing} has no {name.text}")
    values = pd.DataFrame([{k: r["values"].get(k) for k in vary} for r in runs], index=run_ids)
    scenarios = pd.Series([r["scenario"] for r in runs], index=run_ids)
    x = pd.DataFrame(index=run_ids)
    if scenarios.nunique() > 1:
        x[SCENARIO_INPUT] = scenarios.map(Label).astype("category")
    dropped = []
    for key in vary:
        column = values[key]
        if column.map(repr).nunique() < 2:
            dropped.append(key)
            continue
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in column):
            x[key] = column.astype(float if any(isinstance(v, float) for v in column) else int)
        else:  # dates, true/false, text: categories, labelled as --set writes them
            x[key] = column.map(lambda v: Label(as_text(v))).astype("category")
    if x.shape[1] == 0:
        raise DiscoverError(f"{sweep_dir}: no input differs between its {len(runs)} finished "
                            f"runs ({', '.join(vary)} each have one value); PRIM needs inputs "
                            f"that vary")
    v = value.to_numpy(dtype=float)
    met = np.asarray(condition.met(v), dtype=bool)
    spread = f"{name.text} runs from {v.min():,.0f} to {v.max():,.0f} over them"
    if not met.any():
        raise DiscoverError(f"--outcome {condition.text}: none of the {len(runs)} finished runs "
                            f"meets it ({spread}); PRIM needs some that do and some that do not")
    if met.all():
        raise DiscoverError(f"--outcome {condition.text}: all {len(runs)} finished runs meet "
                            f"it ({spread}); PRIM needs some that do and some that do not")
    values.insert(0, "scenario", scenarios)
    values["seed"] = [r["seed"] for r in runs]
    return Cases(condition, sweep_dir, manifest, run_ids, x.reset_index(drop=True), v, met,
                 values.reset_index(names="run_id"),
                 [k for k in manifest.get("levers", []) if k in vary],
                 [k for k in manifest.get("uncertainties", []) if k in vary], dropped, left_out)


@dataclass
class Discovery:
    """What `discover` found: the PRIM box chosen (its index on the trajectory, its
    stats and limits), the trajectory, feature scores, robustness (None without
    levers) and the PNGs."""

    cases: Cases
    box_index: int
    stats: dict
    limits: pd.DataFrame
    trajectory: pd.DataFrame
    scores: pd.DataFrame
    robustness: "pd.DataFrame | None"
    prefer: str
    min_density: float
    pngs: dict[str, bytes]
    inside: np.ndarray  # row numbers (of `cases.x`) of the runs in the chosen box


def discover(cases: Cases, *, min_density: float = DEFAULT_MIN_DENSITY,
             prefer: "str | None" = None) -> Discovery:
    """PRIM, feature scores and robustness of `cases` (see the module doc)."""
    from ema_workbench.analysis import prim

    if prefer is None:
        prefer = "low" if cases.condition.high else "high"
    with warnings.catch_warnings():  # PRIM and pandas chatter (dtype downcasting, logging)
        warnings.simplefilter("ignore")
        finder = prim.Prim(cases.x, cases.met.copy(), peel_alpha=0.05, paste_alpha=0.05,
                           mass_min=0.05)
        box = finder.find_box()
    trajectory = box.peeling_trajectory.copy()
    dense = trajectory[trajectory["density"] >= min_density]
    if len(dense):  # the most covering; of equally covering boxes, the densest
        index = int(dense.sort_values(["coverage", "density"], ascending=False,
                                      kind="stable").index[0])
    else:
        index = int(trajectory.sort_values(["density", "coverage"], ascending=False,
                                           kind="stable").index[0])
    box.select(index)
    inside = np.sort(np.asarray(box.yi, dtype=int))  # PRIM's own rows of the chosen box
    stats = {k: _plain(trajectory.loc[index, k]) for k in
             ("coverage", "density", "mass", "res_dim", "n", "k")}
    limits = box_limits(cases, box, index)
    scores = feature_scores(cases)
    robustness = lever_robustness(cases, prefer) if cases.lever_keys else None
    pngs = {"prim_tradeoff": _tradeoff_png(box, index),
            "prim_box": _box_png(box, index, limits),
            "feature_scores": _scores_png(scores, cases.condition)}
    return Discovery(cases, index, stats, limits, trajectory, scores, robustness, prefer,
                     min_density, pngs, inside)


def _plain(value):
    value = value.item() if isinstance(value, np.generic) else value
    return round(value, 6) if isinstance(value, float) else value


def _exact(value):
    """A limit as a Python number, unrounded: PRIM's limits are inputs' values, and a
    rounded one would leave its own run out of the box."""
    return value.item() if isinstance(value, np.generic) else value


def box_limits(cases: Cases, box, index: int) -> pd.DataFrame:
    """The chosen box's restricted inputs: for a number its low/high in the box and over
    all runs, for a category the values in the box; quasi-p values (Bryant & Lempert)."""
    limits = box.box_lims[index]
    p_values = box.p_values[index]
    rows = []
    for key in p_values:
        low, high = limits[key].iloc[0], limits[key].iloc[1]
        qp = [p for p in p_values[key] if p != -1]
        row = {"input": key, "qp_value": ", ".join(f"{p:.2g}" for p in qp)}
        if isinstance(low, set):
            every = sorted(set(cases.x[key].astype(str)))
            row.update(kind="values", in_box=", ".join(sorted(map(str, low))),
                       all_values=", ".join(every))
        else:
            row.update(kind="range", low=_exact(low), high=_exact(high),
                       all_low=_exact(cases.x[key].min()), all_high=_exact(cases.x[key].max()))
        rows.append(row)
    columns = ["input", "kind", "low", "high", "all_low", "all_high", "in_box", "all_values",
               "qp_value"]
    return pd.DataFrame(rows, columns=columns)


def feature_scores(cases: Cases) -> pd.DataFrame:
    """EMA's extra-trees feature scores of each input: for whether the condition is met
    (classification) and for the figure itself (regression); sorted by the first."""
    from ema_workbench.analysis.feature_scoring import get_ex_feature_scores
    from ema_workbench.analysis.scenario_discovery_util import RuleInductionType

    with warnings.catch_warnings():  # scikit-learn's out-of-bag warnings on small sweeps
        warnings.simplefilter("ignore")
        met, _ = get_ex_feature_scores(cases.x, cases.met.astype(int),
                                       mode=RuleInductionType.CLASSIFICATION,
                                       random_state=FEATURE_SEED)
        value, _ = get_ex_feature_scores(cases.x, cases.value,
                                         mode=RuleInductionType.REGRESSION,
                                         random_state=FEATURE_SEED)
    name = cases.condition.name.text
    table = pd.DataFrame({"input": met.index,
                          f"score_{cases.condition.text}": met.iloc[:, 0].to_numpy()})
    table[f"score_{name}"] = value.iloc[:, 0].reindex(met.index).to_numpy()
    return table.round(6).reset_index(drop=True)


def lever_robustness(cases: Cases, prefer: str) -> pd.DataFrame:
    """Per lever combination: runs, how many and what share meet the condition, the
    figure's mean, and its regret against the best combination in each future (mean,
    max, over the futures where every combination ran)."""
    levers, name = cases.lever_keys, cases.condition.name.text
    table = cases.values.copy()
    table["value"], table["met"] = cases.value, cases.met
    for key in levers:
        table[key] = table[key].map(as_text)
    future_keys = ["scenario", *cases.uncertainty_keys, "seed"]
    futures = table[future_keys].astype(str).agg("|".join, axis=1)
    table["combo"] = table[levers].agg(" | ".join, axis=1)
    wide = table.assign(future=futures).pivot_table(index="future", columns="combo",
                                                    values="value", aggfunc="first")
    wide = wide.dropna()  # futures where every combination ran
    best = wide.min(axis=1) if prefer == "low" else wide.max(axis=1)
    regret = wide.sub(best, axis=0).abs()
    rows = []
    for combo, part in table.groupby("combo", sort=False):
        row = {key: part[key].iloc[0] for key in levers}
        row.update(runs=len(part), met=int(part["met"].sum()),
                   share_met=round(float(part["met"].mean()), 4),
                   **{f"mean_{name}": round(float(part["value"].mean()), 1)},
                   futures_compared=len(wide),
                   mean_regret=(round(float(regret[combo].mean()), 1) if len(wide) else math.nan),
                   max_regret=(round(float(regret[combo].max()), 1) if len(wide) else math.nan))
        rows.append(row)
    return pd.DataFrame(rows)


def _png(fig) -> bytes:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    try:
        fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    finally:
        plt.close(fig)
    return buffer.getvalue()


def _tradeoff_png(box, index: int) -> bytes:
    """EMA's coverage/density trade-off of the peeling trajectory, the chosen box ringed."""
    import matplotlib.pyplot as plt

    with plt.ioff():
        fig = box.show_tradeoff(annotated=False)
        ax = fig.axes[0]
        row = box.peeling_trajectory.loc[index]
        ax.scatter([row["coverage"]], [row["density"]], s=180, facecolors="none",
                   edgecolors="red", linewidths=1.5, label=f"box {index} (shown)")
        ax.legend(loc="lower left", fontsize=8)
        return _png(fig)


def _box_png(box, index: int, limits: pd.DataFrame) -> bytes:
    """EMA's picture of the chosen box: each restricted input's limits within its range."""
    import matplotlib.pyplot as plt

    with plt.ioff():
        fig, ax = plt.subplots(figsize=(8, 2.2 + 0.6 * max(len(limits), 1)))
        if len(limits):
            box.inspect(index, style="graph", ax=ax)
        else:
            ax.text(0.5, 0.5, "the box restricts no input", ha="center", va="center")
            ax.set_axis_off()
        return _png(fig)


def _scores_png(scores: pd.DataFrame, condition: Condition) -> bytes:
    import matplotlib.pyplot as plt

    with plt.ioff():
        fig, ax = plt.subplots(figsize=(7, 1.0 + 0.45 * len(scores)))
        y = np.arange(len(scores))
        ax.barh(y - 0.2, scores.iloc[:, 1], height=0.4, label=f"meets {condition.text}")
        ax.barh(y + 0.2, scores.iloc[:, 2], height=0.4, label=condition.name.text)
        ax.set_yticks(y, scores["input"])
        ax.invert_yaxis()
        ax.set_xlabel("feature score (extra trees)")
        ax.legend(fontsize=8, loc="lower right")
        ax.grid(axis="x", alpha=0.3)
        return _png(fig)


def default_out_dir(sweep_dir: Path) -> Path:
    return Path(sweep_dir) / "discover"


def check_out_dir(out_dir: Path, condition: Condition) -> None:
    """The folder must be new, empty, or hold a discovery of the same condition (made
    again, so its files are replaced); anything else is refused, nothing written."""
    out_dir = Path(out_dir)
    try:
        if out_dir.exists() and not out_dir.is_dir():
            raise DiscoverError(f"--out {out_dir}: is a file, not a folder")
        marker = out_dir / MARKER
        if marker.is_file():
            try:
                held = json.loads(marker.read_text(encoding="utf-8")).get("outcome")
            except (ValueError, AttributeError):
                held = None
            if held != condition.text:
                raise DiscoverError(f"--out {out_dir}: holds the discovery of {held!r}; give "
                                    f"another --out (or remove that folder)")
        elif out_dir.is_dir() and any(out_dir.iterdir()):
            raise DiscoverError(f"--out {out_dir}: is not empty and holds no discovery; use a "
                                f"new or empty folder")
    except OSError as exc:
        raise DiscoverError(f"--out {out_dir}: {exc.strerror or exc}") from None


def write_discovery(found: Discovery, out_dir: Path, command: "list[str] | None" = None
                    ) -> dict[str, Path]:
    """Write the tables, plots and discover.html into `out_dir` (checked first by
    `check_out_dir`); everything is made in memory before the first file is written,
    each file whole (`write_atomically`). Returns the files written."""
    from model.files import write_atomically

    cases = found.cases
    out_dir = Path(out_dir)
    check_out_dir(out_dir, cases.condition)
    tables = {"cases": _cases_table(found), "prim_box": found.limits,
              "prim_trajectory": found.trajectory, "feature_scores": found.scores}
    if found.robustness is not None:
        tables["robustness"] = found.robustness
    blobs = {f"tables/{n}.csv": t.to_csv(index=False).encode() for n, t in tables.items()}
    blobs.update({f"plots/{n}.png": png for n, png in found.pngs.items()})
    blobs["discover.html"] = page_html(found, command).encode()
    marker = {"outcome": cases.condition.text, "sweep": str(cases.sweep_dir),
              "min_density": found.min_density, "prefer": found.prefer,
              "runs": len(cases.run_ids), "box": found.stats, "files": sorted(blobs)}
    files = {}
    try:
        (out_dir / "tables").mkdir(parents=True, exist_ok=True)
        (out_dir / "plots").mkdir(exist_ok=True)
        write_atomically(out_dir / MARKER, (json.dumps(marker, indent=1) + "\n").encode())
        for name, data in blobs.items():
            write_atomically(out_dir / name, data)
            files[name] = out_dir / name
    except OSError as exc:
        raise DiscoverError(f"{exc.filename or out_dir}: cannot write: "
                            f"{exc.strerror or exc}") from None
    return files


def _cases_table(found: Discovery) -> pd.DataFrame:
    """Every run: its id, scenario, varied values, seed, the figure, met or not, and
    whether it is inside the chosen PRIM box."""
    cases = found.cases
    table = cases.values.copy()
    table[cases.condition.name.text] = cases.value
    table["met"] = cases.met
    inside = np.zeros(len(table), dtype=bool)
    inside[found.inside] = True
    table["in_box"] = inside
    return table


def summary_lines(found: Discovery) -> list[str]:
    """What `run.py discover` prints: the cases, the box and its limits, the top scores,
    and the robustness table."""
    cases, s = found.cases, found.stats
    lines = [f"{cases.sweep_dir}: {len(cases.run_ids)} finished runs"
             + (f" ({cases.left_out} not finished, left out)" if cases.left_out else "")
             + f"; {int(cases.met.sum())} meet {cases.condition.text}"]
    lines.append(f"PRIM box {found.box_index} (highest coverage with density >= "
                 f"{found.min_density:g}): coverage {s['coverage']:.3f}, density "
                 f"{s['density']:.3f}, mass {s['mass']:.3f}, {s['res_dim']} restricted inputs")
    for _, row in found.limits.iterrows():
        lines.append(f"  {_limit_text(row)}  (quasi-p {row['qp_value']})")
    top = found.scores.iloc[:3]
    lines.append("feature scores (meets the outcome): " + ", ".join(
        f"{r['input']} {r.iloc[1]:.2f}" for _, r in top.iterrows()))
    if found.robustness is not None:
        lines.append(f"robustness per lever combination (regret: distance from the best "
                     f"combination in the same future, best = {found.prefer}est "
                     f"{cases.condition.name.text}):")
        lines.append(found.robustness.to_string(index=False))
    return lines


def _limit_text(row) -> str:
    if row["kind"] == "range":
        return (f"{row['input']} in [{row['low']:.4g}, {row['high']:.4g}] (of "
                f"[{row['all_low']:.4g}, {row['all_high']:.4g}])")
    return f"{row['input']} in {{{row['in_box']}}} (of {{{row['all_values']}}})"


def page_html(found: Discovery, command: "list[str] | None" = None) -> str:
    """discover.html: one self-contained page (inline CSS and PNGs; reports.run_report's
    style). Every text from the sweep (description, keys, values) is escaped."""
    from reports.run_report import page_start

    esc = html.escape
    cases, s = found.cases, found.stats
    condition = cases.condition
    manifest = cases.manifest
    title = f"discover {condition.text}"
    facts = [("sweep", str(cases.sweep_dir)),
             ("description", str(manifest.get("description", ""))),
             ("runs", f"{len(cases.run_ids)} finished"
                      + (f", {cases.left_out} not finished (left out)" if cases.left_out else "")
                      + f"; scale {manifest.get('scale')}, seeds {len(manifest.get('seeds', []))}"),
             ("outcome", f"{condition.text}: met by {int(cases.met.sum())} runs"),
             ("inputs", ", ".join(cases.x.columns)
                        + (f" (constant here, left out: {', '.join(cases.dropped)})"
                           if cases.dropped else ""))]
    if cases.lever_keys or cases.uncertainty_keys:
        facts.append(("levers", ", ".join(cases.lever_keys) or "none"))
        facts.append(("uncertainties", ", ".join(cases.uncertainty_keys) or "none"))
    if command:
        facts.append(("command", " ".join(command)))
    parts = [*page_start(title, facts),
             "<h2>PRIM box</h2>",
             f"<p>PRIM (EMA Workbench) peels the inputs' space towards the runs that meet "
             f"the outcome. Shown: box {found.box_index} of its trajectory, the one with the "
             f"highest coverage among those with density &ge; {found.min_density:g}. "
             f"<b>Coverage {s['coverage']:.3f}</b> (share of the runs meeting the outcome "
             f"that are in the box), <b>density {s['density']:.3f}</b> (share of the runs "
             f"in the box that meet it), mass {s['mass']:.3f} (share of all runs in the "
             f"box), {s['res_dim']} restricted inputs.</p>",
             "<ul>" + "".join(f"<li>{esc(_limit_text(r))} (quasi-p {esc(r['qp_value'])})</li>"
                              for _, r in found.limits.iterrows()) + "</ul>"]
    parts.append(_img(found.pngs["prim_box"], "the PRIM box's limits"))
    parts.append("<h3>Coverage and density along the peeling trajectory</h3>")
    parts.append(_img(found.pngs["prim_tradeoff"], "PRIM trade-off between coverage and "
                                                   "density"))
    parts.append("<h2>Feature scores</h2><p>Extra-trees feature scores (EMA Workbench): how "
                 "much each input tells whether the outcome is met, and how much it tells "
                 "the figure itself.</p>")
    parts.append(found.scores.to_html(index=False, escape=True))
    parts.append(_img(found.pngs["feature_scores"], "feature scores"))
    if found.robustness is not None:
        parts.append(f"<h2>Robustness of each lever combination</h2><p>Each combination ran "
                     f"in the same futures (uncertainty sample, scenario and seed). "
                     f"<code>share_met</code>: share of its runs meeting {esc(condition.text)}. "
                     f"Regret: in each future, how far its {esc(condition.name.text)} is from "
                     f"the best combination's there (best = the {found.prefer}est); mean and "
                     f"max over the {int(found.robustness['futures_compared'].iloc[0])} futures "
                     f"where every combination ran.</p>")
        parts.append(found.robustness.to_html(index=False, escape=True))
    else:
        parts.append("<h2>Robustness</h2><p>The sweep has no [levers] (its spec varies "
                     "[vary] keys), so there is no lever combination to compare.</p>")
    parts.append("<p>Beside this page: tables/*.csv (cases, prim_box, prim_trajectory, "
                 "feature_scores" + (", robustness" if found.robustness is not None else "")
                 + ") and plots/*.png.</p></body></html>")
    return "\n".join(parts) + "\n"


def _img(png: bytes, alt: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'
