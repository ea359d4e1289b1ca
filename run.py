#!/usr/bin/env python
"""Command line for the border-enforcement simulator.

    python run.py run SCENARIO [--seed N] [--scale K] [--set key=value ...] [--out DIR]
    python run.py sweep SPEC [--workers K | --scheduler ADDRESS] [--out DIR]
    python run.py sensitivity SPEC [--workers K | --scheduler ADDRESS] [--out DIR]
    python run.py compare A B [C ...] [--seeds N] [--scale K] [--master-seed S]
                  [--posterior N | --no-posterior] [--seeds-per-draw K]
                  [--start DATE] [--end DATE] [--costs FILE]
                  [--workers K | --scheduler ADDRESS] [--out DIR]
    python run.py discover SWEEP_DIR --outcome "FY2021.encounters > 1.7e6" [--out DIR]
    python run.py ui [--port N] [--host HOST] [--save-dir DIR] [--token [TOKEN]]
    python run.py calibrate [--budget N] [--population P] [--scale S] [--resume] [--report]
                            [--report-only] [--report-scale S] [--overwrite]
                  [--workers K | --scheduler ADDRESS] [--out DIR] [--db FILE] (--help: more)
    python run.py validate [SCENARIO] [--draws N] [--seeds K] [--scale S] [--overwrite]
                  [--workers K | --scheduler ADDRESS] [--out DIR]

SCENARIO is a name in scenarios/ (e.g. historical, mpp_off) or a path to a .toml file.
"""

import argparse
import hashlib
import os
import signal
import subprocess
import sys
from contextlib import ExitStack, contextmanager, nullcontext
from datetime import datetime, timezone
from pathlib import Path

INTERRUPTED = 130  # exit status after Ctrl-C, as a shell reports a SIGINT
ROOT = Path(__file__).resolve().parent
CPUS = os.cpu_count() or 1
# --workers: each is a process holding a run (up to about 1 GiB at full scale); more than
# this many per CPU only queue for the cores, and a typo (100000) would start them all
MAX_WORKERS_PER_CPU = 4


def _remember_interrupt(signum, frame):
    """Ctrl-C while the libraries load or a model runs. Remembered as well as raised:
    landing in a finalizer (an import's weakref callback, a numba object's `__del__`),
    the KeyboardInterrupt is swallowed by Python, which would print 'Exception ignored'
    and go on; `_INTERRUPTS` keeps it for the next check."""
    _INTERRUPTS.append(signum)
    raise KeyboardInterrupt


def _quiet_unraisable(unraisable):
    if not issubclass(unraisable.exc_type, KeyboardInterrupt):
        sys.__unraisablehook__(unraisable)


_INTERRUPTS: list[int] = []


@contextmanager
def interrupts_kept():
    """Inside the block Ctrl-C raises KeyboardInterrupt as usual and is remembered
    (`_remember_interrupt`); yields a check to call often (e.g. once a simulated week)
    that raises one a finalizer swallowed, and the block's end raises it too."""
    def check() -> None:
        if _INTERRUPTS:
            raise KeyboardInterrupt

    before = signal.signal(signal.SIGINT, _remember_interrupt), sys.unraisablehook
    sys.unraisablehook = _quiet_unraisable
    try:
        yield check
        check()
    finally:
        signal.signal(signal.SIGINT, before[0])
        sys.unraisablehook = before[1]
        _INTERRUPTS.clear()


# Only as the command: worker processes that spawn re-import this file as __mp_main__ and
# must keep the SIGINT disposition they inherited (ignored: see experiments.runner).
_AS_COMMAND = __name__ == "__main__"
try:  # loading the libraries takes a second; Ctrl-C then needs no traceback
    with interrupts_kept() if _AS_COMMAND else nullcontext():
        from model import ScenarioError, load_scenario, simulate
        from model.output import OutputError, claimed_out_dir, write_outputs
        from model.config.scale_check import check_scale
        from model.config.scenario import SCENARIO_DIR
        from model.simulate import run_identity
        from reports.progress import run_feedback
        from reports.run_report import headline_table, report_page
except KeyboardInterrupt:
    print("interrupted", file=sys.stderr)
    sys.exit(INTERRUPTED)


def positive_int(flag: str, least: int | None = None, most: int | None = None,
                 beyond: str = ""):
    """An argparse type: a whole number >= `least` (default 0 for --seed, else 1) and,
    if given, <= `most` (`beyond`: what to do instead, said when it is over)."""
    least = (0 if flag == "--seed" else 1) if least is None else least

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{flag} must be a whole number, got {text!r}")
        if value < least:
            raise argparse.ArgumentTypeError(f"{flag} must be >= {least}, got {value}")
        if most is not None and value > most:
            raise argparse.ArgumentTypeError(f"{flag} must be at most {most:,}, got {value}"
                                             f"{beyond}")
        return value
    return parse


def finite_number(flag: str, least: float = 0.0):
    """An argparse type: a finite number >= `least` (not nan, not inf)."""
    import math

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{flag} must be a number, got {text!r}")
        if not math.isfinite(value) or value < least:
            raise argparse.ArgumentTypeError(f"{flag} must be a finite number >= {least:g}, "
                                             f"got {text!r}")
        return value
    return parse


def one_line_error(message: str):
    """A parser's `error`: one line `error: ...` and exit status 2 (no usage)."""
    print(f"error: {message}", file=sys.stderr)
    sys.exit(2)


def add_where(verb: argparse.ArgumentParser) -> None:
    """--workers K | --scheduler ADDRESS: where a many-run verb runs (Dask)."""
    where = verb.add_mutually_exclusive_group()
    where.add_argument("--workers", default=None,
                       type=positive_int("--workers", most=MAX_WORKERS_PER_CPU * CPUS,
                                         beyond=f" ({MAX_WORKERS_PER_CPU} per CPU here; for "
                                                f"more, start a Dask cluster and give "
                                                f"--scheduler)"),
                       help=f"worker processes on this machine (default: one per CPU; at most "
                            f"{MAX_WORKERS_PER_CPU} per CPU, {MAX_WORKERS_PER_CPU * CPUS} here)")
    where.add_argument("--scheduler", default=None, metavar="ADDRESS",
                       help="run on an existing Dask cluster, e.g. tcp://10.0.0.5:8786")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="run.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    verbs = parser.add_subparsers(dest="verb", required=True)
    run = verbs.add_parser("run", help="run one scenario and write its output files and "
                                       "report.html (a page with its plots)")
    run.add_argument("scenario", help="scenario name in scenarios/ or path to a .toml file")
    run.add_argument("--seed", type=positive_int("--seed"), default=0)
    run.add_argument("--scale", type=positive_int("--scale"), default=1,
                     help="one agent stands for K people (default 1: full scale)")
    run.add_argument("--draw", type=positive_int("--draw", 0), default=None, metavar="I",
                     help="run posterior draw I of the scenario's calibration instead of its "
                          "medians (docs/compare.md)")
    run.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="overrides",
                     help="override a parameter (apprehension_prob.tucson=0.8) or a policy "
                          "field (policies.title42.end=2021-06-30); repeatable")
    run.add_argument("--out", type=Path, default=None,
                     help="output folder, new or empty (default runs/SCENARIO-seedN-scaleK)")
    verbs.add_parser("scenarios", help="list the scenarios in scenarios/ with what each changes")
    sweep = verbs.add_parser("sweep", help="run a sweep spec (sweeps/*.toml) on Dask; "
                                           "one Parquet file per run")
    sweep.add_argument("spec", type=Path, help="sweep spec, a .toml file (see sweeps/)")
    add_where(sweep)
    sweep.add_argument("--out", type=Path, default=None,
                       help="results folder (default runs/sweep-SPEC); re-running skips "
                            "the runs already in it")
    sensitivity = verbs.add_parser(
        "sensitivity", help="run a saltelli or morris sweep spec and give Sobol indices or "
                            "Morris elementary effects (SALib) with 95%% intervals")
    sensitivity.add_argument("spec", type=Path,
                             help="sweep spec with design = \"saltelli\" or \"morris\" and "
                                  "a [sensitivity] table (see sweeps/)")
    add_where(sensitivity)
    sensitivity.add_argument("--out", type=Path, default=None,
                             help="results folder (default runs/sweep-SPEC, shared with "
                                  "`run.py sweep SPEC`); re-running skips the runs in it")
    compare = verbs.add_parser(
        "compare", help="run scenarios on the same seeds; means and paired differences with "
                        "95%% intervals (stdout, CSV, PNG, report.html)")
    compare.error = one_line_error
    compare.add_argument("scenarios", nargs="+", metavar="SCENARIO",
                         help="two or more scenario names or .toml paths; the first is the "
                              "baseline the others are compared with")
    compare.add_argument("--from", type=Path, default=None, metavar="SWEEP_DIR", dest="from_dir",
                         help="compare runs an earlier `run.py sweep` made instead of running "
                              "(SCENARIO, or SCENARIO:key=value,... to pick a design point)")
    compare.add_argument("--seeds", type=positive_int("--seeds", 2), default=None,
                         help="seeds per scenario, the same for every scenario (default 10); "
                              "with posterior draws, draws x seeds per draw")
    compare.add_argument("--posterior", type=positive_int("--posterior", 0), default=None,
                         metavar="N",
                         help="N posterior draws of the scenarios' calibration: seed i runs "
                              "draw i // K in every scenario (default: on, --seeds / K draws, "
                              "when every scenario names a calibration; 0: the medians only)")
    compare.add_argument("--no-posterior", action="store_const", const=0, dest="posterior",
                         help="the calibrated medians only (as --posterior 0)")
    compare.add_argument("--seeds-per-draw", type=positive_int("--seeds-per-draw"),
                         default=None, metavar="K",
                         help="seeds per posterior draw (default 2 when the seeds are an even "
                              "number of at least 4, else 1); with two or more the report "
                              "splits each difference's variance into parameter and chance")
    compare.add_argument("--scale", type=positive_int("--scale"), default=None,
                         help="one agent stands for K people (default 20)")
    compare.add_argument("--master-seed", type=positive_int("--master-seed", 0), default=None,
                         help="the seeds are derived from it as a sweep's are (default 0)")
    compare.add_argument("--start", default=None, metavar="DATE",
                         help="a shorter run: first day (YYYY-MM-DD), as --set start")
    compare.add_argument("--end", default=None, metavar="DATE",
                         help="a shorter run: last day (YYYY-MM-DD), as --set end")
    add_where(compare)
    compare.add_argument("--costs", type=Path, default=None, metavar="FILE",
                         help="unit costs laid over costs/unit_costs.toml (same format: "
                              "[items.NAME] with the fields to change, or a new item)")
    compare.add_argument("--out", type=Path, default=None, metavar="REPORT_DIR",
                         help="report folder (default runs/compare-A-B...); re-running the "
                              "same comparison skips the runs already in it")
    discover = verbs.add_parser(
        "discover", help="scenario discovery on a finished sweep: PRIM boxes, feature scores "
                         "and each lever combination's robustness for an outcome (EMA "
                         "Workbench; tables, PNGs, discover.html)")
    discover.error = one_line_error
    discover.add_argument("sweep_dir", type=Path, metavar="SWEEP_DIR",
                          help="a folder `run.py sweep` wrote (levers x uncertainties, or any "
                               "sweep that varied inputs)")
    discover.add_argument("--outcome", required=True, metavar="CONDITION",
                          help="FYyyyy.column OP number, OP one of < <= > >=, e.g. "
                               "\"FY2021.encounters > 1.7e6\"")
    discover.add_argument("--min-density", type=finite_number("--min-density"),
                          default=None, metavar="D",
                          help="the PRIM box shown: the highest coverage with density >= D "
                               "(0 to 1, default 0.8)")
    discover.add_argument("--prefer", choices=("low", "high"), default=None,
                          help="which figure is best when computing regret (default: low for "
                               "a > or >= outcome, high for < or <=: the outcome is what to "
                               "avoid)")
    discover.add_argument("--out", type=Path, default=None, metavar="DIR",
                          help="where the tables, plots and discover.html go (default "
                               "SWEEP_DIR/discover; a folder holding another outcome's "
                               "discovery is refused)")
    ui = verbs.add_parser("ui", help="serve the browser app (Solara) on this machine")
    ui.error = one_line_error
    ui.add_argument("--port", type=positive_int("--port", 1, 65535), default=8765,
                    help="port to serve on, 1-65535 (default 8765)")
    ui.add_argument("--host", default="127.0.0.1",
                    help="address to listen on (default 127.0.0.1: this machine only; any "
                         "other address needs a token)")
    ui.add_argument("--save-dir", type=Path, default=None,
                    help="where the page saves scenario files (default scenarios/); files "
                         "dropped on the page go to its uploads/ folder")
    ui.add_argument("--token", nargs="?", const="", default=None, metavar="TOKEN",
                    help="require this token from every visitor (16-256 letters, digits, "
                         "- and _; without a value, or from $BORDER_UI_TOKEN: see docs/verbs/ui.md). "
                         "Always required off 127.0.0.1; made and printed if not given")
    calibrate = verbs.add_parser(
        "calibrate", help="fit the uncertain parameters (calibration/priors.toml) to the seed "
                          "articles' figures (calibration/targets.toml): an emulator of "
                          "the model and MCMC (or ABC-SMC with pyabc), runs on Dask; "
                          "posterior.parquet, calibrated.toml, --report")
    calibrate.error = one_line_error
    calibrate.add_argument("--method", choices=("emulator", "abc"), default="emulator",
                           help="emulator (default): run --budget parameter sets spread over "
                                "the priors once, train an emulator on them and sample the "
                                "posterior by MCMC; abc: pyabc's ABC-SMC (docs/fit.md compares "
                                "them)")
    calibrate.add_argument("--budget", type=positive_int("--budget"), default=2048,
                           help="simulations in all, resumes included (default 2048; abc: "
                                "checked after each generation, so the last one may run past "
                                "it)")
    calibrate.add_argument("--population", default=50,
                           type=positive_int("--population", 2, 100_000),
                           help="abc: parameter sets kept per generation (default 50)")
    calibrate.add_argument("--generations", type=positive_int("--generations"), default=None,
                           help="abc: stop after this many generations in all (default: the "
                                "budget decides)")
    calibrate.add_argument("--min-epsilon", type=finite_number("--min-epsilon"), default=0.0,
                           metavar="E",
                           help="abc: stop once epsilon (the distance accepted) is below E, a "
                                "number >= 0 (default 0: the budget decides)")
    calibrate.add_argument("--scale", type=positive_int("--scale"), default=20,
                           help="one agent stands for K people in every run (default 20)")
    calibrate.add_argument("--scenario", default="historical",
                           help="the scenario fitted (default historical)")
    calibrate.add_argument("--start", default=None, metavar="DATE",
                           help="fit shorter runs: first day (YYYY-MM-DD), as --set start; "
                                "every target must lie inside the runs")
    calibrate.add_argument("--end", default=None, metavar="DATE",
                           help="fit shorter runs: last day (YYYY-MM-DD), as --set end")
    add_where(calibrate)
    calibrate.add_argument("--resume", action="store_true",
                           help="continue the calibration in --out from where it stopped (the "
                                "emulator's finished design runs; abc: its history, --db, from "
                                "its last finished generation), and write its results there")
    calibrate.add_argument("--report", action="store_true",
                           help="then run the posterior predictive on new seeds and write "
                                "report.md with its PNGs")
    calibrate.add_argument("--draws", type=positive_int("--draws", 2, 100_000),
                           default=50,
                           help="posterior-predictive runs for --report (default 50)")
    calibrate.add_argument("--report-scale", type=positive_int("--report-scale"), default=None,
                           metavar="S", help="scale of the report's runs (default: --scale; "
                                             "1 checks the posterior at full scale)")
    calibrate.add_argument("--report-only", action="store_true",
                           help="no fitting: the report of the posterior.parquet in --out "
                                "(default: the committed fit, calibration/), written there if "
                                "it holds no report yet (or with --overwrite), else into a new "
                                "folder runs/calibrate-report-DATE-TIME")
    calibrate.add_argument("--priors", type=Path, default=None, metavar="FILE",
                           help="priors file (default calibration/priors.toml)")
    calibrate.add_argument("--targets", type=Path, default=None, metavar="FILE",
                           help="targets file (default calibration/targets.toml)")
    calibrate.add_argument("--out", type=Path, default=None, metavar="DIR",
                           help="where posterior.parquet, calibrated.toml and the report go "
                                "(default: a new folder, runs/calibrate-DATE-TIME); a folder "
                                "holding a fit is refused unless --resume or --overwrite")
    calibrate.add_argument("--overwrite", action="store_true",
                           help="replace the fit already in --out; the only way to write "
                                "into calibration/, the committed fit historical runs with")
    calibrate.add_argument("--db", type=Path, default=None, metavar="FILE",
                           help="the SQLite history (default DIR/history.db)")
    validate = verbs.add_parser(
        "validate", help="score the posterior predictive (several draws and seeds) against "
                         "the public record's held-out figures: report.html, scores.csv, "
                         "points.csv")
    validate.error = one_line_error
    validate.add_argument("scenario", nargs="?", default="historical",
                          help="scenario name in scenarios/ or path to a .toml file "
                               "(default historical)")
    validate.add_argument("--draws", type=positive_int("--draws", 1, 10_000), default=10,
                          help="posterior draws (default 10)")
    validate.add_argument("--seeds", type=positive_int("--seeds", 1, 1_000), default=2,
                          help="seeds per draw, each run on its own seed (default 2)")
    validate.add_argument("--scale", type=positive_int("--scale"), default=20,
                          help="one agent stands for K people (default 20; 1 is full scale)")
    add_where(validate)
    validate.add_argument("--out", type=Path, default=None, metavar="DIR",
                          help="report folder, new or empty (default: validation/, the "
                               "committed report, if it holds none yet; else a new folder "
                               "runs/validate-DATE-TIME)")
    validate.add_argument("--overwrite", action="store_true",
                          help="replace the validation in --out (without --out: the committed "
                               "one in validation/)")
    return parser


def default_out(name: str, seed: int, scale: int, overrides: list[str],
                draw: int | None = None) -> Path:
    tag = f"{name}-seed{seed}-scale{scale}" + ("" if draw is None else f"-draw{draw}")
    if overrides:
        tag += "-" + hashlib.sha256("\n".join(overrides).encode()).hexdigest()[:8]
    return Path("runs") / tag


def summary_table(result) -> str:
    """Totals per US fiscal year (October to September); unique people counted once a
    year: the table report.html shows (`reports.run_report.headline_table`)."""
    return headline_table(result).to_string()


def provenance(command: list[str]) -> dict:
    """What run.json records beside the run: the code's git state, when the files were
    written (UTC) and the command line. Never part of the run's identity, so an
    identical rerun into the same folder is still the same run."""
    return {"git": git_state(ROOT),
            "written_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "command": command}


def git_state(folder: Path) -> dict | None:
    """{"commit": HEAD, "dirty": uncommitted changes?} for the git checkout holding
    `folder`; None outside git (or without git, or before the first commit)."""
    try:
        commit = _git(folder, "rev-parse", "HEAD")
        dirty = _git(folder, "status", "--porcelain") != ""
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": commit, "dirty": dirty}


def _git(folder: Path, *args: str) -> str:
    """Output of `git ARGS` run in `folder`; raises if git fails or is missing."""
    return subprocess.run(["git", *args], cwd=folder, capture_output=True, text=True,
                          check=True, timeout=30).stdout.strip()


def cmd_run(args) -> int:
    """Check the scenario, the scale and --out, then run (on a terminal: a line if the
    kernels must compile, and a progress bar), write the files and report.html, and
    print the summary; Ctrl-C leaves nothing behind and exits 130."""
    loaded = load_scenario(args.scenario, args.overrides, draw=args.draw)
    check_scale(loaded, args.scale)
    identity = run_identity(loaded, args.seed, args.scale)
    out_dir = args.out or default_out(loaded.name, args.seed, args.scale, args.overrides,
                                      args.draw)
    try:
        with claimed_out_dir(out_dir, identity):
            with run_feedback(loaded) as bar, interrupts_kept() as check:
                def progress(days_done: int, days_total: int) -> None:
                    check()  # a Ctrl-C a finalizer swallowed stops the run here
                    if bar:
                        bar(days_done, days_total)
                result = simulate(loaded, seed=args.seed, scale=args.scale, progress=progress)
            page = report_page(result, command=args.command)
            files = write_outputs(result, out_dir,
                                  {"overrides": args.overrides, **provenance(args.command)},
                                  extra_files={"report.html": page.encode()})
    except KeyboardInterrupt:
        print(f"interrupted: nothing written to {out_dir}", file=sys.stderr)
        return INTERRUPTED
    info = result.info
    print(f"{loaded.name}: {loaded.start} to {loaded.end}, seed {args.seed}, scale {args.scale}, "
          f"{info['people_created']:,} people, {info['wall_time_s']:.1f} s")
    print(summary_table(result))
    print(f"wrote {', '.join(str(p) for p in files.values())}")
    print(f"open {files['report.html']} in a browser to see the run")
    return 0


def cmd_scenarios(args) -> int:
    """List the scenarios in SCENARIO_DIR; a broken file is named on stderr with its
    error and the rest are still listed (exit 1 if any is broken)."""
    broken = 0
    for path in sorted(SCENARIO_DIR.glob("*.toml")):
        try:
            loaded = load_scenario(str(path))
        except ScenarioError as exc:
            print(f"{path.name}: error: {exc}", file=sys.stderr)
            broken += 1
            continue
        first = Path(loaded.sources[0]).stem  # the chain's root (a calibration file comes later)
        base = f" (base: {first})" if first != path.stem else ""
        print(f"{path.stem:26} {loaded.description}{base}")
    return 1 if broken else 0


def cmd_sweep(args) -> int:
    """Check the spec (nothing runs if it is bad), run what is not done yet, and
    print how many runs finished, were skipped or failed; exit 1 if any failed."""
    from experiments import load_spec

    return run_spec(load_spec(args.spec), args)


def run_spec(sweep, args) -> int:
    """Run what is not done yet of a checked sweep and print how many runs finished,
    were skipped or failed, and how many damaged run files were redone; exit status 1
    if any failed, 130 if interrupted. A folder in use by another sweep, or a file
    that cannot be written (a full disk), is one line and exit status 2 (SpecError)."""
    from experiments.runner import default_out_dir, run_sweep

    out_dir = args.out or default_out_dir(sweep)
    report = run_sweep(sweep, out_dir, workers=args.workers, scheduler=args.scheduler)
    done = len(report.finished) + len(report.skipped)
    if report.interrupted:
        print(f"interrupted: {done} of {report.total} runs done and kept in {out_dir / 'runs'}; "
              f"run the same command again to finish", file=sys.stderr)
        return INTERRUPTED
    damaged = (f"; {len(report.damaged)} damaged run files redone (e.g. "
               f"{out_dir / 'runs' / next(iter(report.damaged))}.parquet: "
               f"{next(iter(report.damaged.values()))})" if report.damaged else "")
    print(f"{sweep.stem}: {report.total} runs: {len(report.finished)} finished, "
          f"{len(report.skipped)} skipped (already done), {len(report.failed)} failed"
          + damaged)
    print(f"results in {report.results or out_dir / 'runs'} (one typed table: DuckDB, polars, "
          f"pandas; see docs/results.md), per run in {out_dir / 'runs'}, manifest "
          f"{out_dir / 'manifest.json'}")
    if report.failed:
        print(f"failed runs' tracebacks in {report.errors_dir}/ (run the same command again "
              f"to retry them)")
        return 1
    return 0


def cmd_sensitivity(args) -> int:
    """Check the spec (a SALib design with a [sensitivity] table) before anything
    runs, run it as a sweep, then print and write the indices."""
    from experiments import load_spec
    from experiments.runner import default_out_dir
    from experiments.sensitivity import readable_indices, write_sensitivity
    from experiments.spec import SALIB_DESIGNS, SpecError

    sweep = load_spec(args.spec)
    if sweep.design not in SALIB_DESIGNS:
        raise SpecError(f"{args.spec}: design: {sweep.design!r} is not a sensitivity design; "
                        f"use design = \"saltelli\" (Sobol indices) or \"morris\" (elementary "
                        f"effects) with a [sensitivity] table")
    status = run_spec(sweep, args)
    if status:
        return status
    out_dir = args.out or default_out_dir(sweep)
    try:
        files, indices = write_sensitivity(sweep, out_dir)
    except OSError as exc:  # a full disk, a folder made read-only meanwhile: the runs are kept
        raise SpecError(f"{exc.filename or out_dir / 'sensitivity'}: cannot write: "
                        f"{exc.strerror or exc}; the runs are kept in {out_dir / 'runs'}; "
                        f"run the same command again once it can be written") from None
    what = "Sobol indices" if sweep.design == "saltelli" else "Morris elementary effects"
    print(f"{what} over {sweep.sensitivity.period} ({len(sweep.design_rows)} design rows x "
          f"{len(sweep.seeds)} seeds, scale {sweep.scale}); 95% confidence intervals:")
    print(readable_indices(indices).to_string(line_width=200))
    print(f"wrote {files['indices']}, {files['rows']}, {files['problem']} and "
          f"{', '.join(str(v) for k, v in files.items() if k.startswith('plot'))}")
    return 0


def cmd_compare(args) -> int:
    """Check everything (nothing runs or is written if anything is bad), run every
    scenario on the same seeds, print the whole-run table and write the report."""
    from experiments.compare import (WHOLE_RUN, WHOLE_RUN_NOTE, load_runs, plan_comparison,
                                     plan_from_sweep, posterior_note, readable_table,
                                     run_comparison, write_report)

    how = {f: getattr(args, f) for f in ("seeds", "scale", "master_seed", "start", "end",
                                        "posterior", "seeds_per_draw")
           if getattr(args, f) is not None}  # the rest: plan_comparison's defaults
    if args.from_dir is not None:
        given = [*how, *(f for f in ("workers", "scheduler") if getattr(args, f) is not None)]
        if given:
            raise ScenarioError(f"--from {args.from_dir}: the sweep's runs set the seeds, scale, "
                                f"dates and posterior draws; drop --{given[0].replace('_', '-')}")
        plan = plan_from_sweep(args.scenarios, args.from_dir, out_dir=args.out,
                               costs=args.costs)
    else:
        plan = plan_comparison(args.scenarios, out_dir=args.out, costs=args.costs, **how)
    report = run_comparison(plan, workers=args.workers, scheduler=args.scheduler)
    if report.interrupted:
        print(f"interrupted: the finished runs are kept in {plan.out_dir / 'runs'}; run the "
              f"same command again to finish", file=sys.stderr)
        return INTERRUPTED
    if report.failed:
        print(f"error: {len(report.failed)} of {report.total} runs failed; tracebacks in "
              f"{report.errors_dir}/ (run the same command again to retry them)",
              file=sys.stderr)
        return 1
    files, summary = write_report(plan, load_runs(plan))
    print(f"{' vs '.join(plan.labels)}: {len(plan.seeds)} seeds (master seed "
          f"{plan.master_seed}), scale {plan.scale}, {plan.first_day} to {plan.last_day}"
          + (f", runs from {plan.source}" if plan.source else ""))
    print(f"{plan.labels[0]}: mean over seeds; others: mean paired difference from "
          f"{plan.labels[0]} (seed by seed); 95% t-intervals")
    if plan.draws:
        print(posterior_note(plan))
    print(f"{WHOLE_RUN_NOTE}:")
    print(readable_table(summary, WHOLE_RUN).to_string())
    print(f"wrote {plan.out_dir / 'tables'}/*.csv, {plan.out_dir / 'plots'}/*.png, {files['html']}")
    return 0


def cmd_discover(args) -> int:
    """Check the outcome, the sweep folder and --out (nothing written if any is bad),
    run PRIM, feature scores and robustness, print the box and write the report."""
    from experiments.discover import (DEFAULT_MIN_DENSITY, DiscoverError, check_out_dir,
                                      default_out_dir, discover, load_cases, summary_lines,
                                      write_discovery)
    from experiments.outcomes import parse_condition

    min_density = DEFAULT_MIN_DENSITY if args.min_density is None else args.min_density
    if not 0 <= min_density <= 1:
        raise DiscoverError(f"--min-density: must be between 0 and 1, got {min_density:g}")
    condition = parse_condition(args.outcome)
    out_dir = args.out or default_out_dir(args.sweep_dir)
    cases = load_cases(args.sweep_dir, condition)
    check_out_dir(out_dir, condition)
    found = discover(cases, min_density=min_density, prefer=args.prefer)
    files = write_discovery(found, out_dir, command=args.command)
    print("\n".join(summary_lines(found)))
    print(f"wrote {out_dir / 'tables'}/*.csv, {out_dir / 'plots'}/*.png and "
          f"{files['discover.html']}")
    return 0


def cmd_ui(args) -> int:
    """Check the save folder is writable and bind the address (one line and exit 2 if
    not), decide the token (required off loopback, or when asked), say where it serves,
    then serve ui/app.py in this process (`ui.serve`) until Ctrl-C or SIGTERM."""
    import os

    from ui import files
    from ui.serve import ServeError, bind, decide_token, is_loopback, serve

    try:
        token = decide_token(args.host, args.token, os.environ.get("BORDER_UI_TOKEN"))
        local = is_loopback(args.host)
        if args.save_dir is not None:
            os.environ["BORDER_UI_SAVE_DIR"] = str(args.save_dir.resolve())
        files.check_writable(files.save_dir())
        sock = bind(args.host, args.port)
    except ServeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    shown = f"[{args.host}]" if ":" in args.host else args.host
    address = f"http://{shown}:{args.port}/" + (f"?token={token}" if token else "")
    if not local:
        print(f"warning: serving on {args.host}, which other machines may reach: whoever "
              f"opens the address below with its token can run simulations and save and "
              f"upload files here; share it only with people you trust", file=sys.stderr)
    print(f"serving the browser app at {address} (Ctrl-C stops it)", file=sys.stderr,
          flush=True)
    try:
        serve(sock, ROOT / "app.py", token)
    except KeyboardInterrupt:  # uvicorn stopped the server, then passed the Ctrl-C on
        print("interrupted: browser app stopped", file=sys.stderr)
        return INTERRUPTED
    return 0


def cmd_calibrate(args) -> int:
    """Check priors, targets, scenario, scale, --out and the history, and claim --out,
    before a cluster starts; fit on Dask with a line per generation; write the posterior
    and calibrated.toml into --out (a new folder unless given), then with --report the
    posterior-predictive report. Ctrl-C keeps the history (exit 130)."""
    from calibration.fit import FitError, check_db, check_out_dir, new_fit_dir, plan_fit, run_fit
    from calibration.targets import measurable

    if args.report_only:
        return _calibration_report(args)
    if args.resume and args.out is None and args.db is None:
        raise FitError("--resume: give --out the folder of the calibration to resume (without "
                       "--out a calibration starts in a new folder)")
    setup = _fit_setup(args, args.out or new_fit_dir()).load()
    check_out_dir(setup.out_dir, resume=args.resume, overwrite=args.overwrite)
    check_db(setup.db)
    if args.method == "emulator":
        if args.db is not None:
            raise FitError("--db: the history of --method abc; the emulator keeps its runs in "
                           "the --out folder (design.parquet)")
        return _emulator_fit(args, setup)
    history_id = plan_fit(setup, resume=args.resume)
    folders = [(setup.out_dir, "--out")]
    if setup.db.parent.resolve() != setup.out_dir.resolve():
        folders.append((setup.db.parent, "--db"))
    with _fit_cluster(args, folders, f"calibrating {setup.scenario} at scale {setup.scale}: "
                      f"{len(setup.priors)} parameters, "
                      f"{len(measurable(setup.targets, setup.scale))} targets, population "
                      f"{setup.population}, budget {setup.budget} runs; into {setup.out_dir}, "
                      f"history {setup.db}") as client:
        try:
            outcome = run_fit(setup, client, history_id,
                              write=lambda line: print(line, file=sys.stderr, flush=True))
        except OSError as exc:  # writing the results (a full disk): the history is kept
            print(f"error: cannot write the results into {setup.out_dir}: "
                  f"{exc.strerror or exc}; the generations are kept in {setup.db}: add "
                  f"--resume to the same command to write them again", file=sys.stderr)
            return 1
        if outcome.interrupted:
            print(f"interrupted: {outcome.generations} finished generations kept in {setup.db}; "
                  f"add --resume to the same command to go on", file=sys.stderr)
            return INTERRUPTED
        if not outcome.generations:
            print("error: no generation finished; nothing written", file=sys.stderr)
            return 1
        return _fitted(args, setup, client, (
            f"{outcome.generations} generations, {outcome.simulations} simulations, "
            f"epsilon {outcome.epsilon:.4g}, {outcome.wall_s / 60:.1f} min; wrote "
            f"{', '.join(str(p) for p in outcome.files.values())}"))


def _emulator_fit(args, setup) -> int:
    """`calibrate --method emulator` (calibration.emulator_fit): the design's runs on
    Dask, kept as they finish (Ctrl-C keeps them: exit 130, --resume goes on), then the
    emulator and MCMC, then with --report the posterior-predictive report."""
    from calibration.emulator_fit import plan_design, run_emulator_fit
    from calibration.targets import measurable

    plan_design(setup, resume=args.resume)
    with _fit_cluster(args, [(setup.out_dir, "--out")], f"calibrating {setup.scenario} at "
                      f"scale {setup.scale} with an emulator: {len(setup.priors)} parameters, "
                      f"{len(measurable(setup.targets, setup.scale))} targets, {setup.budget} "
                      f"design runs; into {setup.out_dir}") as client:
        write = lambda line: print(line, file=sys.stderr, flush=True)  # noqa: E731
        try:
            outcome = run_emulator_fit(setup, client, resume=args.resume, write=write)
        except OSError as exc:  # a full disk: the finished design runs are kept
            print(f"error: cannot write into {setup.out_dir}: {exc.strerror or exc}; the "
                  f"finished design runs are kept: add --resume to the same command to go on",
                  file=sys.stderr)
            return 1
        if outcome.interrupted:
            print(f"interrupted: {outcome.runs} of {outcome.budget} design runs kept in "
                  f"{setup.out_dir}; add --resume to the same command to go on",
                  file=sys.stderr)
            return INTERRUPTED
        return _fitted(args, setup, client, (
            f"{outcome.runs} design runs, {len(outcome.sample.units)} posterior draws "
            f"(effective {outcome.sample.effective:.0f}), "
            f"{sum(outcome.seconds.values()) / 60:.1f} min; wrote "
            f"{', '.join(str(p) for p in outcome.files.values())}"))


@contextmanager
def _fit_cluster(args, folders, line: "str | None"):
    """What both fitting methods and the report alone do around their work: claim their
    folders ((path, flag) pairs; `calibration.fit.claim_out_dir`) and hold the first
    (--out) against a second command there (`model.files.folder_lock`), say `line` on
    stderr and start (or reach) the Dask cluster. However the block ends, the cluster is
    closed, the folder released, and the folders this made removed while empty (a
    command that wrote nothing leaves none behind). Yields the Dask client."""
    from calibration.fit import FitError, claim_out_dir, release_out_dir
    from experiments.runner import close_client, dashboard_line, open_client
    from model.files import FolderError, folder_lock

    created: list[Path] = []
    with ExitStack() as undo:  # undone last to first
        undo.callback(lambda: release_out_dir(created))
        for folder, flag in folders:
            created = claim_out_dir(folder, flag) + created
        out, flag = folders[0]
        try:
            undo.enter_context(folder_lock(out, "calibration", flag))
        except FolderError as exc:
            raise FitError(str(exc)) from None
        if line:
            print(line, file=sys.stderr)
        client, cluster = open_client(args.workers, args.scheduler)
        undo.callback(close_client, client, cluster)
        print(dashboard_line(client), file=sys.stderr, flush=True)
        yield client


def _fitted(args, setup, client, summary: str) -> int:
    """A fit's last steps: its one-line summary on stdout, then with --report the
    posterior-predictive report."""
    print(summary)
    if args.report:
        _write_report(setup, client, args.draws)
    return 0


def _fit_setup(args, out_dir: Path):
    """The FitSetup the calibrate flags describe, writing into `out_dir`."""
    from calibration.fit import FitSetup
    from calibration.priors import PRIORS_FILE
    from calibration.targets import TARGETS_FILE

    return FitSetup(scenario=args.scenario, scale=args.scale, population=args.population,
                    budget=args.budget, generations=args.generations,
                    min_epsilon=args.min_epsilon, priors_path=args.priors or PRIORS_FILE,
                    targets_path=args.targets or TARGETS_FILE, out_dir=out_dir, db=args.db,
                    start=args.start, end=args.end, report_scale=args.report_scale,
                    overwrite=args.overwrite)


def _calibration_report(args) -> int:
    """`calibrate --report-only`: the report of the posterior in --out (default the
    committed fit), no fitting. It goes into that folder only if the folder holds no
    report yet, or with --overwrite; else into a new folder (it says which)."""
    from calibration.fit import (CALIBRATION_DIR, check_out_dir, held_fit_files,
                                 is_committed_fit, new_fit_dir)
    from calibration.report import load_posterior

    fit_dir = args.out or CALIBRATION_DIR
    setup = _fit_setup(args, fit_dir).load()
    check_out_dir(fit_dir, resume=True, overwrite=True)  # a file, or unreadable
    load_posterior(setup)
    report_files = [f for f in held_fit_files(fit_dir) if f.startswith("report")]
    if not args.overwrite and (report_files or is_committed_fit(fit_dir)):
        setup.report_dir = new_fit_dir("calibrate-report")
        print(f"{fit_dir} holds a report already (or is the committed fit): the new one goes "
              f"into {setup.report_dir} (--overwrite replaces the one in {fit_dir})",
              file=sys.stderr)
    with _fit_cluster(args, [(setup.report_dir, "--out")], None) as client:
        _write_report(setup, client, args.draws)
    return 0


def _write_report(setup, client, draws: int) -> None:
    from calibration.report import write_report

    print(f"posterior predictive: {draws} runs at scale {setup.predictive_scale} on new "
          f"seeds ...", file=sys.stderr)
    files = write_report(setup, client, draws=draws)
    print(f"wrote {', '.join(str(p) for p in files.values())}")


def cmd_validate(args) -> int:
    """Check the scenario, scale, record and --out (nothing runs or is written if any is
    bad), run the draws x seeds on Dask, score every held-out figure and write the report
    (`calibration.validate`); Ctrl-C writes nothing and exits 130."""
    from calibration.validate import (choose_out_dir, claimed, plan_validation, run_validation,
                                      score, write_validation)
    from experiments.runner import close_client, open_client

    plan = plan_validation(args.scenario, draws=args.draws, seeds=args.seeds, scale=args.scale)
    out_dir, note = choose_out_dir(args.out, args.overwrite)
    about = provenance(args.command)  # the code's git state as the runs start
    if note:
        print(note, file=sys.stderr)
    try:
        with claimed(out_dir):
            print(f"validating {plan.scenario}: {plan.runs} runs ({plan.draws} draws x "
                  f"{plan.seeds} seeds) at scale {plan.scale}, "
                  f"{sum(m.scored for m in plan.mapped)} held-out points; into {out_dir}",
                  file=sys.stderr, flush=True)
            client, cluster = open_client(args.workers, args.scheduler)
            try:
                runs = run_validation(plan, client, progress=_runs_bar(plan.runs))
            finally:
                close_client(client, cluster)
            points, scores = score(plan, runs)
            files = write_validation(plan, points, scores, out_dir, about)
    except KeyboardInterrupt:
        print(f"interrupted: nothing written to {out_dir}", file=sys.stderr)
        return INTERRUPTED
    except OSError as exc:  # a full disk, a folder made read-only meanwhile
        print(f"error: {exc.filename or out_dir}: cannot write: {exc.strerror or exc}",
              file=sys.stderr)
        return 1
    table = scores[["series", "points", "score", "bias", "coverage", "verdict"]]
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(f"wrote {', '.join(str(p) for p in files.values())}")
    return 0


def _runs_bar(total: int):
    """A progress callback drawing a bar over the runs on a terminal (None off one)."""
    if not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    bar = tqdm(total=total, unit="run", file=sys.stderr, leave=False, dynamic_ncols=True)

    def progress(done: int, all_runs: int) -> None:
        bar.update(done - bar.n)
        if done == all_runs:
            bar.close()
    return progress


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:  # as parse_args would say it; compare's refusals are one line
        verbs = ("compare", "calibrate", "ui", "discover", "validate")
        (one_line_error if args.verb in verbs else parser.error)(
            f"unrecognized arguments: {' '.join(extra)}")
    args.command = list(sys.argv) if argv is None else ["run.py", *argv]
    try:
        return {"run": cmd_run, "scenarios": cmd_scenarios, "sweep": cmd_sweep,
                "sensitivity": cmd_sensitivity, "compare": cmd_compare,
                "ui": cmd_ui, "calibrate": cmd_calibrate,
                "discover": cmd_discover, "validate": cmd_validate}[args.verb](args)
    except (ScenarioError, OutputError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # Ctrl-C outside a run's writing: nothing to clean up
        print("interrupted", file=sys.stderr)
        return INTERRUPTED
    except BrokenPipeError:  # output piped into e.g. `head`: the files are already written
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
