#!/usr/bin/env python
"""Command line for the border-enforcement simulator.

    python run.py run SCENARIO [--seed N] [--scale K] [--set key=value ...] [--out DIR]

SCENARIO is a name in scenarios/ (e.g. historical, mpp_off) or a path to a .toml file.
"""

import argparse
import hashlib
import platform
import sys
import time
from pathlib import Path

import pandas as pd

from model import BorderModel, ScenarioError, __version__, load_scenario
from model.scenario import SCENARIO_DIR
from model.output import OutputError, check_out_dir, write_outputs

SUMMARY_COLUMNS = ["encounters", "unique_encountered", "repeat_encounter_rate",
                   "title42_expulsions", "port_returns", "interior_repatriations",
                   "mpp_enrollments", "releases", "removals", "flights"]


def positive_int(flag: str):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{flag} must be a whole number, got {text!r}")
        if value < (0 if flag == "--seed" else 1):
            raise argparse.ArgumentTypeError(
                f"{flag} must be {'>= 0' if flag == '--seed' else '>= 1'}, got {value}")
        return value
    return parse


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="run.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    verbs = parser.add_subparsers(dest="verb", required=True)
    run = verbs.add_parser("run", help="run one scenario and write its output files")
    run.add_argument("scenario", help="scenario name in scenarios/ or path to a .toml file")
    run.add_argument("--seed", type=positive_int("--seed"), default=0)
    run.add_argument("--scale", type=positive_int("--scale"), default=1,
                     help="one agent stands for K people (default 1: full scale)")
    run.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="overrides",
                     help="override a parameter (apprehension_prob.tucson=0.8) or a policy "
                          "field (policies.title42.end=2021-06-30); repeatable")
    run.add_argument("--out", type=Path, default=None,
                     help="output folder, new or empty (default runs/SCENARIO-seedN-scaleK)")
    verbs.add_parser("scenarios", help="list the scenarios in scenarios/ with what each changes")
    return parser


def run_identity(loaded, seed: int, scale: int) -> dict:
    """What makes two runs the same run (and so the same output bytes)."""
    return {"scenario": loaded.resolved(), "seed": seed, "scale": scale, "version": __version__}


def default_out(name: str, seed: int, scale: int, overrides: list[str]) -> Path:
    tag = f"{name}-seed{seed}-scale{scale}"
    if overrides:
        tag += "-" + hashlib.sha256("\n".join(overrides).encode()).hexdigest()[:8]
    return Path("runs") / tag


def summary_table(monthly: pd.DataFrame) -> str:
    """Totals per US fiscal year (October to September)."""
    frame = monthly.copy()
    year, month = frame["month"].str[:4].astype(int), frame["month"].str[5:].astype(int)
    frame["period"] = "FY" + (year + (month >= 10)).astype(str)
    sums = frame.groupby("period")[SUMMARY_COLUMNS].sum()
    months = frame.groupby("period")["month"].agg(["first", "last"])
    rep = frame.groupby("period")[["repeat_encounter_rate", "encounters"]].apply(
        lambda g: (g["repeat_encounter_rate"] * g["encounters"]).sum() / max(g["encounters"].sum(), 1))
    sums["repeat_encounter_rate"] = rep.round(3)
    sums["unique_encountered"] = frame.groupby("period")["unique_encountered"].sum()
    sums.insert(0, "months", months["first"] + ".." + months["last"])
    counts = [c for c in SUMMARY_COLUMNS if c != "repeat_encounter_rate"]
    sums[counts] = sums[counts].map(lambda v: f"{int(v):,}")
    return sums.to_string()


def cmd_run(args) -> int:
    loaded = load_scenario(args.scenario, args.overrides)
    identity = run_identity(loaded, args.seed, args.scale)
    out_dir = args.out or default_out(loaded.name, args.seed, args.scale, args.overrides)
    check_out_dir(out_dir, identity)
    started = time.perf_counter()
    model = BorderModel(loaded, seed=args.seed, scale=args.scale)
    model.run()
    wall = time.perf_counter() - started
    info = {"scenario": loaded.name, "parameters": identity["scenario"]["parameters"],
            "seed": args.seed, "scale": args.scale, "package_version": __version__,
            "wall_time_s": round(wall, 3), "people_created": int(model.migrants.pop.n * args.scale),
            "agents_created": int(model.migrants.pop.n), "overrides": args.overrides,
            "python": platform.python_version()}
    files = write_outputs(out_dir, model, identity, info)
    monthly = pd.read_csv(files["monthly.csv"])
    print(f"{loaded.name}: {loaded.start} to {loaded.end}, seed {args.seed}, scale {args.scale}, "
          f"{info['people_created']:,} people, {wall:.1f} s")
    print(summary_table(monthly))
    print(f"wrote {', '.join(str(p) for p in files.values())}")
    return 0


def cmd_scenarios(args) -> int:
    for path in sorted(SCENARIO_DIR.glob("*.toml")):
        loaded = load_scenario(path.stem)
        base = f" (base: {Path(loaded.sources[0]).stem})" if len(loaded.sources) > 1 else ""
        print(f"{path.stem:26} {loaded.description}{base}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return {"run": cmd_run, "scenarios": cmd_scenarios}[args.verb](args)
    except (ScenarioError, OutputError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into e.g. `head`: the files are already written
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
