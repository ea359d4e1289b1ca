"""Regenerate every figure the documentation quotes, so none goes stale.

    python docs/figures.py [--only headline,sobol,bench] [--workers 2] [--check]

Each part runs the real thing and writes its results into docs/figures/:

- `headline`: `simulate("historical", seed=0, scale=10)`: `headline.md` (the fiscal-year
  table `run.py run` prints, as Markdown), `headline.csv` and `first_run.png` (the monthly
  plot of a run's `report.html`, made by `reports.run_report.monthly_png`). A few seconds.
- `sobol`: `run.py sensitivity sweeps/sensitivity_sobol.toml` (640 runs at scale 100,
  FY2019; a few minutes on 2 cores), into `runs/docs-figures/sensitivity_sobol` (the sweep
  resumes there, so a second call reuses its runs): `sobol.md` (every output's S1 and ST
  with 95 % intervals, and which parameter drives it), `sobol.csv`, `sobol_historical.png`.
- `composition`: `run.py run historical --scale 20` (seed 0) read against the public
  record's composition rows (`calibration.public_record.composition_table`):
  `composition.md`. Half a minute.
- `widths`: `run.py compare historical title42_off mpp_off` on FY2020-21 at scales 50 and
  100, once with 8 posterior draws x 2 seeds and once at the posterior medians on 16 seeds
  (96 runs a scale; a few minutes on 2 cores), into `runs/docs-figures/widths-*` (re-running
  skips the runs already there): `widths.md`, how much wider the interval of each difference
  is with the posterior than with chance alone, and how its variance splits.
- `validation`: `validation.md`, the scores table of the committed `validation/` (made by
  `run.py validate --overwrite`, which this part does not run), with its command and date.
- `bench`: `taskset -c 0 python benchmarks/bench_model.py --scales 10,100,1000 --repeats 3
  --skip-full-scale` (about two minutes on a quiet machine; `--bench-args` to change): `bench_model.json` (its output) and
  `bench_model.md` (the medians, with the date, commit and the machine's other load;
  `--only bench-page` redraws it from the JSON without running anything).

A page quotes a figure file by holding it between two markers, e.g.

    <!-- figure: headline.md -->
    ...the file's text, put here by this script...
    <!-- /figure -->

After writing the figures this script refills every such block in README.md and
docs/**/*.md; `--check` only says which blocks differ from their files (exit 1 if
any). tests/test_docs.py checks that every block equals its file, so a regenerated
figure and the pages quoting it change together.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
FIGURES = DOCS / "figures"
HEADLINE_SCALE = 10
SOBOL_SPEC = "sweeps/sensitivity_sobol.toml"
SOBOL_OUT = ROOT / "runs" / "docs-figures" / "sensitivity_sobol"
BENCH_ARGS = "--scales 10,100,1000 --repeats 3 --skip-full-scale"

BLOCK = re.compile(r"(<!-- figure: (?P<name>[\w.-]+) -->\n)(?P<body>.*?)(<!-- /figure -->)", re.S)


# -- blocks: figure files quoted in pages --------------------------------------

def pages() -> list[Path]:
    """The Markdown pages that may quote figures: README.md and docs/**/*.md."""
    return [ROOT / "README.md", *sorted(DOCS.rglob("*.md"))]


def blocks(text: str) -> list[tuple[str, str]]:
    """[(figure file name, the text quoted between its markers)] of one page."""
    return [(m["name"], m["body"]) for m in BLOCK.finditer(text)]


def filled(text: str) -> str:
    """The page with every block's text replaced by its figure file's."""
    def fill(m):
        if not (FIGURES / m["name"]).is_file():  # not made yet: tests/test_docs.py names it
            return m.group(0)
        body = (FIGURES / m["name"]).read_text()
        return m.group(1) + body + ("" if body.endswith("\n") else "\n") + m.group(4)
    return BLOCK.sub(fill, text)


def refill(check: bool = False) -> list[Path]:
    """Refill every page's blocks (or, with `check`, only list the stale pages)."""
    stale = []
    for page in pages():
        text = page.read_text()
        new = filled(text)
        if new != text:
            stale.append(page)
            if not check:
                page.write_text(new)
    return stale


# -- the figures --------------------------------------------------------------

def _stamp() -> str:
    """When and from which commit a figure was made (and whether the tree was clean)."""
    def git(*args):
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
        return done.stdout.strip() if done.returncode == 0 else ""
    commit = git("rev-parse", "--short", "HEAD") or "unknown commit"
    dirty = (" with uncommitted changes" if git("status", "--porcelain", "--", "model",
                                               "scenarios", "calibration") else "")
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return f"{when}, commit {commit}{dirty}"


def _markdown(frame, index: bool = True) -> str:
    """A pandas table as a GitHub Markdown table (no tabulate dependency)."""
    frame = frame.reset_index() if index else frame
    head = "| " + " | ".join(str(c) for c in frame.columns) + " |"
    rule = "|" + "---|" * len(frame.columns)
    rows = ["| " + " | ".join(str(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([head, rule, *rows]) + "\n"


def headline() -> None:
    from model import simulate
    from reports.run_report import HEADLINE_NOTE, headline_table, monthly_png

    result = simulate("historical", seed=0, scale=HEADLINE_SCALE)
    table = headline_table(result)
    table.to_csv(FIGURES / "headline.csv")
    (FIGURES / "headline.md").write_text(
        f"`python run.py run historical --scale {HEADLINE_SCALE}` (seed 0; {_stamp()}). "
        f"{HEADLINE_NOTE}\n\n" + _markdown(table))
    (FIGURES / "first_run.png").write_bytes(monthly_png(result))


def sobol(workers: int) -> None:
    import pandas as pd

    from experiments import load_spec

    command = [sys.executable, "run.py", "sensitivity", SOBOL_SPEC, "--workers", str(workers),
               "--out", str(SOBOL_OUT)]
    subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    folder = SOBOL_OUT / "sensitivity"
    indices = pd.read_csv(folder / "indices.csv")
    indices.to_csv(FIGURES / "sobol.csv", index=False)
    shutil.copyfile(folder / "historical.png", FIGURES / "sobol_historical.png")
    manifest = json.loads((SOBOL_OUT / "manifest.json").read_text())
    runs = len(manifest["runs"])
    scale = load_spec(ROOT / SOBOL_SPEC).scale

    def cell(row) -> str:
        if pd.isna(row.estimate):
            return "n/a"
        return f"{row.estimate:.3f} [{row.low:.3f}, {row.high:.3f}]"

    wide = (indices.assign(text=[cell(r) for r in indices.itertuples()])
            .pivot_table(index=["output", "parameter"], columns="statistic", values="text",
                         aggfunc="first", sort=False))
    period = indices["period"].iloc[0]
    lines = []
    for output, rows in indices[indices.statistic == "ST"].groupby("output", sort=False):
        rows = rows.dropna(subset=["estimate"]).sort_values("estimate", ascending=False)
        if rows.empty:
            continue
        top, low = rows.iloc[0], rows.iloc[-1]
        lines.append(f"- {period} `{output}`: `{top.parameter}` has the largest total-order "
                     f"index (ST {top.estimate:.3f} [{top.low:.3f}, {top.high:.3f}]); "
                     f"`{low.parameter}` the smallest (ST {low.estimate:.3f}).")
    (FIGURES / "sobol.md").write_text(
        f"`python run.py sensitivity {SOBOL_SPEC} --workers {workers}` ({runs} runs at "
        f"scale {scale}; {_stamp()}):\n\n" + "\n".join(lines) + "\n\n"
        + _markdown(wide[[c for c in ("S1", "ST") if c in wide.columns]]))


COMPOSITION_SCALE = 20


def composition() -> None:
    from calibration.public_record import composition_table
    from model import simulate

    result = simulate("historical", seed=0, scale=COMPOSITION_SCALE)
    (FIGURES / "composition.md").write_text(
        f"`python docs/figures.py --only composition` ({_stamp()}): the historical scenario "
        f"(the committed fit's medians), seed 0, scale {COMPOSITION_SCALE}.\n\n"
        + composition_table(result.daily))


def validation() -> None:
    """validation.md: the committed validation report's scores (validation/scores.csv, as
    `run.py validate --overwrite` wrote them), best first, with the command and date."""
    import pandas as pd

    folder = ROOT / "validation"
    about = json.loads((folder / "validation.json").read_text())
    scores = pd.read_csv(folder / "scores.csv")
    rows = pd.DataFrame({
        "series": scores["series"], "points": scores["points"],
        "score": scores["score"].map("{:.3f}".format),
        "bias": scores["bias"].map(lambda b: f"{round(b * 100):+d} %"),
        "coverage": scores["coverage"].map(lambda c: f"{round(c * 100):d} %"),
        "verdict": scores["verdict"]})
    (FIGURES / "validation.md").write_text(
        f"`python {' '.join(about['command'])}` ({about['written_utc'][:10]}, commit "
        f"{about['git']['commit'][:7]}): {about['runs']} runs of `{about['scenario']}` at scale "
        f"{about['scale']}, {about['parameters']}. Per series, best first:\n\n"
        + _markdown(rows, index=False))


WIDTHS_SCENARIOS = ("historical", "title42_off", "mpp_off")
WIDTHS_SCALES = (50, 100)
WIDTHS_DAYS = ("2019-10-01", "2021-09-30")
WIDTHS_RUNS = {"posterior": ["--posterior", "8", "--seeds-per-draw", "2"],
               "medians": ["--no-posterior", "--seeds", "16"]}
WIDTHS_ROWS = (("FY2021", "encounters", "FY2021 encounters"),
               ("run", "releases", "FY2020-21 releases"),
               ("FY2021", "title42_expulsions", "FY2021 Title 42 expulsions"),
               ("run", "cost_total_usd", "FY2020-21 cost (USD)"))


def widths(workers: int) -> None:
    """widths.md: each comparison run twice (posterior draws; medians only) per scale,
    through `run.py compare` (its per_seed.csv), summarised by experiments.compare."""
    import pandas as pd

    from experiments.compare import summarise

    def run(scale: int, how: str) -> tuple[pd.DataFrame, pd.DataFrame]:
        out = ROOT / "runs" / "docs-figures" / f"widths-{how}{scale}"
        command = [sys.executable, "run.py", "compare", *WIDTHS_SCENARIOS, "--scale", str(scale),
                   "--start", WIDTHS_DAYS[0], "--end", WIDTHS_DAYS[1], *WIDTHS_RUNS[how],
                   "--workers", str(workers), "--out", str(out)]
        subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
        per_seed = pd.read_csv(out / "tables" / "per_seed.csv")
        return summarise(per_seed, list(WIDTHS_SCENARIOS)), per_seed

    def paired_sd(per_seed, label: str, period: str, outcome: str) -> float:
        """The sd of the runs' paired differences (over all runs: ddof 0, as Split's)."""
        here = per_seed[per_seed["period"] == period].sort_values("seed_index")
        values = {s: here[here["scenario"] == s][outcome].to_numpy(dtype=float)
                  for s in (WIDTHS_SCENARIOS[0], label)}
        return float((values[label] - values[WIDTHS_SCENARIOS[0]]).std())

    def number(x: float, sign: bool = True) -> str:
        return f"{x:+,.0f}" if sign else f"{x:,.0f}"

    def cell(row) -> str:
        return (f"{number(row.estimate)} [{number(row.low)}, {number(row.high)}] "
                f"({number(row.high - row.low, sign=False)})")

    parts = [f"`python docs/figures.py --only widths` ({_stamp()}): historical against "
             f"title42_off and mpp_off, {WIDTHS_DAYS[0]} to {WIDTHS_DAYS[1]}, master seed 0, "
             f"the committed fit's posterior (`calibration/posterior.parquet`). 95 % intervals; "
             f"the sd is over the runs' paired differences; \"parameter share\" is the part of "
             f"their variance between posterior draws.\n"]
    ratios = {}  # (scale, label) -> the FY2021 encounters' width ratio, for the README
    for scale in WIDTHS_SCALES:
        (post, post_runs), (med, med_runs) = run(scale, "posterior"), run(scale, "medians")
        rows = []
        for label in WIDTHS_SCENARIOS[1:]:
            for period, outcome, name in WIDTHS_ROWS:
                pick = dict(period=period, outcome=outcome, scenario=label, statistic="difference")
                p, m = (s.loc[(s[list(pick)] == pd.Series(pick)).all(axis=1)].iloc[0]
                        for s in (post, med))
                sd_m, sd_p = (paired_sd(r, label, period, outcome) for r in (med_runs, post_runs))
                rows.append({
                    "difference": f"{label} - historical", "outcome": name,
                    "medians only: mean [95 % CI] (width)": cell(m),
                    "posterior: mean [95 % CI] (width)": cell(p),
                    "width ratio": f"{(p.high - p.low) / (m.high - m.low):.1f}x",
                    "sd of the run differences: medians / posterior (ratio)":
                        f"{number(sd_m, False)} / {number(sd_p, False)} ({sd_p / sd_m:.1f}x)",
                    "parameter share": f"{p.parameter_share:.0%}"})
                if (period, outcome) == WIDTHS_ROWS[0][:2]:
                    ratios[scale, label] = (p.high - p.low) / (m.high - m.low)
        parts.append(f"Scale {scale} ({len(WIDTHS_SCENARIOS) * 16} runs each way):\n\n"
                     + _markdown(pd.DataFrame(rows), index=False))
    (FIGURES / "widths.md").write_text("\n".join(parts))
    scale = WIDTHS_SCALES[0]
    (FIGURES / "widths_summary.md").write_text(
        f"Measured ({_stamp()[:10]}, scale {scale}): with the fit's uncertainty in, the 95 % "
        f"interval of ending Title 42 early on FY2021's encounters is "
        f"{ratios[scale, 'title42_off']:.1f} times as wide as chance alone gives, that of "
        f"no MPP {ratios[scale, 'mpp_off']:.1f} times (comparisons with the posterior, above).\n")


def bench(args: str) -> None:
    pin = ["taskset", "-c", "0"] if shutil.which("taskset") else []  # one core, as documented
    command = [*pin, sys.executable, "benchmarks/bench_model.py", *args.split()]
    done = subprocess.run(command, cwd=ROOT, check=True, capture_output=True, text=True)
    report = json.loads(done.stdout)
    report["made"] = {"command": " ".join(pin + ["python", "benchmarks/bench_model.py", args]),
                      "stamp": _stamp()}
    (FIGURES / "bench_model.json").write_text(json.dumps(report, indent=1) + "\n")
    bench_page()


def bench_page() -> None:
    """bench_model.md from bench_model.json (the part `bench-page` redraws it alone)."""
    report = json.loads((FIGURES / "bench_model.json").read_text())
    rows = [f"| scale {k} | {v:.3f} s | {', '.join(f'{x:.3f}' for x in report['runs_s_by_scale'][k])} |"
            for k, v in report["wall_s_by_scale"].items()]
    core = report.get("core_loop", {})
    other = report.get("machine_load", {}).get("other_cores")
    busy = ("" if other is None or other < 0.5 else
            f"\n\nOther processes kept {other} of the machine's cores busy during this run, so "
            "these times are pessimistic (the runs share a core with them); the last full run "
            "below was measured on a quiet machine.")
    text = (f"`{report['made']['command']}` ({report['made']['stamp']}; other processes kept "
            f"{other} cores busy meanwhile):\n\n"
            "| historical, 1,188 days | median `simulate()` wall time | each run |\n|---|---|---|\n"
            + "\n".join(rows) + "\n\n"
            f"- per simulated day at scale 1000: {report['per_day_overhead_ms']} ms\n"
            f"- the core loop against one Mesa agent per person: "
            f"{report['speedup_vs_per_object_mesa']}x "
            f"({core.get('vectorised_s')} s against {core.get('per_object_s')} s)" + busy + "\n")
    (FIGURES / "bench_model.md").write_text(text)


PARTS = ("headline", "sobol", "composition", "widths", "validation", "bench", "bench-page")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(PARTS),
                        help=f"comma-separated parts to regenerate (default all: {','.join(PARTS)})")
    parser.add_argument("--workers", type=int, default=2, help="Dask workers for the Sobol sweep and the comparisons")
    parser.add_argument("--bench-args", default=BENCH_ARGS,
                        help=f"bench_model.py's flags (default {BENCH_ARGS!r})")
    parser.add_argument("--check", action="store_true",
                        help="regenerate nothing; list pages whose figure blocks are stale")
    args = parser.parse_args(argv)
    if args.check:
        stale = refill(check=True)
        for page in stale:
            print(f"stale figure block in {page.relative_to(ROOT)}")
        return 1 if stale else 0
    parts = [p.strip() for p in args.only.split(",") if p.strip()]
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        parser.error(f"--only: unknown part {', '.join(unknown)} (known: {', '.join(PARTS)})")
    FIGURES.mkdir(exist_ok=True)
    sys.path.insert(0, str(ROOT))
    for part in parts:
        print(f"figures: {part} ...", file=sys.stderr)
        if part == "headline":
            headline()
        elif part == "sobol":
            sobol(args.workers)
        elif part == "composition":
            composition()
        elif part == "widths":
            widths(args.workers)
        elif part == "validation":
            validation()
        elif part == "bench":
            bench(args.bench_args)
        else:
            bench_page()
    for page in refill():
        print(f"refilled {page.relative_to(ROOT)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
