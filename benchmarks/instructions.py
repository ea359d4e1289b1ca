"""Instructions, not seconds: one run of this checkout against another revision, counted by valgrind.

    python benchmarks/instructions.py --ref REV [--scales 100,10] [--scenario historical]
                                      [--seed 0] [--cache-sim]

On a shared machine a clock cannot resolve a few per cent: `bench_model.py --ref`
pairs scatter by 10-20 % when other work keeps the cores busy, even with the two
sides alternated. This script counts instead the instructions (callgrind's `Ir`)
that one `model.simulate(scenario, seed, scale)` executes, which other load hardly
changes. Each side runs in a child process under valgrind's callgrind tool, with
PYTHONPATH set to its code (this checkout, or REV's files kept in
~/.cache/border-sim-revisions/, as `bench_model.py --ref` keeps them) and
PYTHONHASHSEED=0. The child sets up uncounted (imports; a coarse run that loads
the compiled kernels; the measured run once, so no first call is counted; a full
garbage collection), then the count is switched on (`callgrind_control -i on`)
for the measured run alone. The two sides of a scale run at the same time (their
counts do not depend on each other).

Instructions are not time: cache misses, branch mispredictions and the kernel's
work (page faults) are not in them. Read the ratio beside `bench_model.py --ref`'s
CPU-time ratios, not instead of them. Under valgrind a run is about 50 times
slower (a scale-100 side takes several minutes; more on a busy machine).

With `--cache-sim`, callgrind also simulates the caches and branch predictors
(`--cache-sim=yes --branch-sim=yes`; a model of this machine's caches, not its
counters, which these virtual machines do not expose): each side's misses by
level, its branches mispredicted, and callgrind's cycle estimate (`Ir + 10 x (L1
misses + mispredicted branches) + 100 x last-level misses`), with `new / old`
ratios. About twice as slow again.
Needs valgrind (Debian: `apt-get install valgrind`).

Prints ONE JSON object on stdout (progress on stderr): per scale, each side's
instruction count and `ratio` (new / old); with `--cache-sim`, also `events`
(event: [old, new, ratio], callgrind's names: I1mr = first-level instruction
read misses, D1mr/D1mw data read/write misses, ILmr/DLmr/DLmw the same at the
last level, Bcm/Bim conditional/indirect branches mispredicted) and
`cycles_estimate` ([old, new, ratio]).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from shutil import which

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from anywhere: make `benchmarks` importable
    sys.path.insert(0, str(ROOT))

from benchmarks._common import environment, progress, revision_tree, scale_list  # noqa: E402

WARM_SCALE = 1000  # the coarse set-up run that loads every kernel

# Run inside the code under test (PYTHONPATH), so it uses only `model.simulate`.
CHILD = r"""
import gc, sys
import model
scenario, seed, scale, warm_scale = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
model.simulate(scenario, seed=seed + 1, scale=warm_scale)  # loads every kernel
model.simulate(scenario, seed=seed, scale=scale)  # the measured run once, uncounted
gc.collect()
print("ready", flush=True)
sys.stdin.readline()
model.simulate(scenario, seed=seed, scale=scale)  # counted
print("done", flush=True)
sys.stdin.readline()
"""


class Counted:
    """One side's child process under callgrind, counting only the measured run."""

    def __init__(self, tree: Path, out: Path, scenario: str, seed: int, scale: int,
                 cache_sim: bool = False):
        self.out = out
        simulate = ["--cache-sim=yes", "--branch-sim=yes"] if cache_sim else []
        self.proc = subprocess.Popen(
            ["valgrind", "--tool=callgrind", "--instr-atstart=no", *simulate,
             f"--callgrind-out-file={out}", sys.executable, "-c", CHILD, scenario, str(seed),
             str(scale), str(WARM_SCALE)],
            cwd=tree, env={**os.environ, "PYTHONPATH": str(tree), "PYTHONHASHSEED": "0"},
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)

    def expect(self, word: str) -> None:
        line = self.proc.stdout.readline().strip()
        if line != word:
            raise RuntimeError(f"the child under valgrind said {line!r}, not {word!r} "
                               f"(exit {self.proc.poll()})")

    def send(self, word: str) -> None:
        self.proc.stdin.write(word + "\n")
        self.proc.stdin.flush()

    def switch(self, on: bool) -> None:
        """Instrumentation on or off in the running child (valgrind is its process)."""
        done = subprocess.run(["callgrind_control", "-i", "on" if on else "off",
                               str(self.proc.pid)], capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"callgrind_control failed: {done.stderr.strip()}")

    def finish(self) -> dict[str, int]:
        """Let the child end; what was counted, event by event (`Ir`: instructions), from
        the `totals:` line of callgrind's file (its `summary:` line counts from the start,
        when counting was off)."""
        self.send("end")
        self.proc.stdin.close()
        if self.proc.wait() != 0:
            raise RuntimeError(f"the child under valgrind failed (exit {self.proc.returncode})")
        return read_totals(self.out)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def read_totals(out: Path) -> dict[str, int]:
    """Event -> total from a callgrind output file's `events:` and `totals:` lines."""
    events = totals = None
    for line in out.read_text().splitlines():
        if line.startswith("events:"):
            events = line.split()[1:]
        elif line.startswith("totals:"):
            totals = [int(x) for x in line.split()[1:]]
    if events is None or totals is None:
        raise RuntimeError(f"no totals in {out}")
    return dict(zip(events, totals))


def cycles_estimate(events: dict[str, int]) -> int:
    """Callgrind's estimate of the cycles behind `events` (needs the cache and branch
    simulation): each first-level miss or mispredicted branch costs 10, each
    last-level miss 100."""
    first = events["I1mr"] + events["D1mr"] + events["D1mw"]
    last = events["ILmr"] + events["DLmr"] + events["DLmw"]
    return events["Ir"] + 10 * (first + events["Bcm"] + events["Bim"]) + 100 * last


def count_side_by_side(trees: dict[str, Path], scenario: str, seed: int, scale: int,
                       cache_sim: bool = False) -> dict[str, dict[str, int]]:
    """Both sides' counts (event -> total) for one run at `scale` (children run together)."""
    with tempfile.TemporaryDirectory(prefix="instructions-") as tmp:
        children = {side: Counted(tree, Path(tmp) / f"{side}.out", scenario, seed, scale,
                                  cache_sim)
                    for side, tree in trees.items()}
        try:
            for child in children.values():
                child.expect("ready")
            for child in children.values():  # counted from here: switch on, then go
                child.switch(True)
                child.send("go")
            for child in children.values():
                child.expect("done")
                child.switch(False)
            return {side: child.finish() for side, child in children.items()}
        finally:
            for child in children.values():
                child.kill()


def main(argv: "list[str] | None" = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ref", metavar="REV", required=True,
                        help="the git revision to count against")
    parser.add_argument("--scales", type=scale_list, default=scale_list("100,10"),
                        help="comma-separated scales (default 100,10)")
    parser.add_argument("--scenario", default="historical")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cache-sim", action="store_true",
                        help="also simulate the caches and branch predictors (slower)")
    args = parser.parse_args(argv)
    if not args.scales:
        parser.error("--scales: give at least one scale")
    missing = [tool for tool in ("valgrind", "callgrind_control") if which(tool) is None]
    if missing:
        print(f"instructions.py: {' and '.join(missing)} not found: install valgrind "
              "(Debian: apt-get install valgrind)", file=sys.stderr)
        return 2
    report = environment(scenario=args.scenario, scales=args.scales, seed=args.seed,
                         cache_sim=args.cache_sim)
    with revision_tree(args.ref, keep=True) as (old_tree, commit):
        report.update(ref=args.ref, ref_commit=commit[:10], by_scale={})
        for scale in args.scales:
            progress(f"scale {scale}: both sides under valgrind (minutes)...")
            sides = count_side_by_side({"new": ROOT, "old": old_tree}, args.scenario,
                                       args.seed, scale, args.cache_sim)
            old, new = sides["old"]["Ir"], sides["new"]["Ir"]
            figures = {"old_instructions": old, "new_instructions": new,
                       "ratio": round(new / old, 4)}
            progress(f"scale {scale}: old {old:,}, new {new:,} instructions, "
                     f"ratio {new / old:.4f}")
            if args.cache_sim:
                def paired(o: int, n: int) -> list:
                    return [o, n, round(n / o, 4) if o else None]
                figures["events"] = {event: paired(sides["old"][event], sides["new"][event])
                                     for event in sides["old"]}
                figures["cycles_estimate"] = paired(*(cycles_estimate(sides[side])
                                                      for side in ("old", "new")))
                progress(f"scale {scale}: cycles estimated, ratio "
                         f"{figures['cycles_estimate'][2]}")
            report["by_scale"][str(scale)] = figures
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # Ctrl-C: no traceback (the children are killed on the way out)
        sys.exit(130)
