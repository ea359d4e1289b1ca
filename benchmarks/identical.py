"""Byte-identity check: does this code give the same output files as another revision?

    python benchmarks/identical.py [--scales 1,10,100] [--scenarios historical,title42_off,mpp_off]
                                   [--seed 0] [--ref REV]

For every scenario and scale it runs `model.simulate(scenario, seed, scale)`,
writes monthly.csv, daily.parquet and flights.csv exactly as `run.py run`
does (`model.output.write_outputs`: pandas `to_csv`/`to_parquet` with
`index=False`) and hashes each file's bytes (sha256).

With `--ref REV` it also builds the same hashes for the git revision REV: it
writes REV's files into a temporary folder (removed afterwards) and runs the
same code there, with this interpreter and PYTHONPATH set to that folder, so
both sides use the same libraries. It then compares the two and exits 1 if any
file differs. A revision's hashes are kept run by run in a cache file (outside
the repo, ~/.cache/border-sim-identical/, keyed by the commit and the library
versions), since a commit's output never changes; `--no-cache` recomputes them.

Prints ONE JSON object on stdout (progress on stderr): `hashes` (this code),
and with `--ref`: `ref_hashes`, `differences` (a list of "scenario/scale/file")
and `identical` (true/false). Used to show that refactors of model/ change no
byte of output (issue 17).
"""

import argparse
import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from anywhere: make `benchmarks` importable
    sys.path.insert(0, str(ROOT))

from benchmarks._common import git, progress, revision_tree  # noqa: E402

SCENARIOS = ("historical", "title42_off", "mpp_off")
FILES = ("monthly.csv", "daily.parquet", "flights.csv")

# Run inside the code under test (this checkout or the reference folder): prints
# {"scenario/scale": {"file": sha256}} as JSON on its last stdout line. It writes
# the tables as model/output.py's write_outputs does, but does not import it (so it
# works on any revision, wherever that module lives).
CHILD = r"""
import hashlib, json, sys, tempfile, time
from pathlib import Path
import model
from model import simulate
print(f"  (model from {Path(model.__file__).parent})", file=sys.stderr, flush=True)
scenarios, scales, seed = sys.argv[1].split(","), [int(s) for s in sys.argv[2].split(",")], int(sys.argv[3])
hashes = {}
with tempfile.TemporaryDirectory(prefix="identical-") as tmp:
    for scale in scales:
        for name in scenarios:
            started = time.perf_counter()
            result = simulate(name, seed=seed, scale=scale)
            out = Path(tmp)
            result.monthly.to_csv(out / "monthly.csv", index=False)
            result.daily.to_parquet(out / "daily.parquet", index=False)
            result.flights.to_csv(out / "flights.csv", index=False)
            hashes[f"{name}/{scale}"] = {f: hashlib.sha256((out / f).read_bytes()).hexdigest()
                                         for f in ("monthly.csv", "daily.parquet", "flights.csv")}
            print(f"  {name} scale {scale}: {time.perf_counter() - started:.1f} s",
                  file=sys.stderr, flush=True)
print(json.dumps(hashes))
"""


def hashes_in(root: Path, scenarios: list[str], scales: list[int], seed: int) -> dict:
    """The output hashes of the code checked out at `root` (run in a child process)."""
    env = {**os.environ, "PYTHONPATH": str(root)}
    done = subprocess.run([sys.executable, "-c", CHILD, ",".join(scenarios),
                           ",".join(map(str, scales)), str(seed)],
                          cwd=root, env=env, stdout=subprocess.PIPE, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def library_key() -> str:
    """The libraries that write the files: a cached revision's hashes hold for these."""
    from importlib import metadata

    names = ("numpy", "pandas", "pyarrow", "numba")
    return ",".join(f"{n}={metadata.version(n)}" for n in names) + f",py={sys.version.split()[0]}"


def cache_file(commit: str) -> Path:
    """Where a commit's hashes are kept: {"scenario/scale/seed": {file: sha256}}."""
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "border-sim-identical"
    key = hashlib.sha256(json.dumps([commit, library_key()]).encode()).hexdigest()[:20]
    return base / f"{commit[:12]}-{key}.json"


def ref_hashes(rev: str, scenarios: list[str], scales: list[int], seed: int,
               use_cache: bool) -> dict:
    """The output hashes of revision `rev`: those cached, and the missing runs built in a
    temporary folder (then cached)."""
    commit = git("rev-parse", "--verify", f"{rev}^{{commit}}")
    cached = cache_file(commit)
    known = json.loads(cached.read_text()) if use_cache and cached.is_file() else {}
    wanted = {f"{name}/{scale}": f"{name}/{scale}/{seed}" for scale in scales for name in scenarios}
    missing_scales = sorted({int(run.split("/")[1]) for run, key in wanted.items()
                             if key not in known}, key=scales.index)
    missing_names = [n for n in scenarios
                     if any(f"{n}/{k}/{seed}" not in known for k in missing_scales)]
    if missing_scales:
        with revision_tree(commit) as (tree, _):
            progress(f"reference {rev} ({commit[:10]}) in {tree}:")
            built = hashes_in(tree, missing_names, missing_scales, seed)
        known.update({f"{run}/{seed}": files for run, files in built.items()})
        cached.parent.mkdir(parents=True, exist_ok=True)
        partial = cached.with_suffix(".partial")
        partial.write_text(json.dumps(known, indent=1, sort_keys=True))
        partial.replace(cached)
    else:
        progress(f"reference {rev} ({commit[:10]}): from {cached}")
    return {run: known[key] for run, key in wanted.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", default="1,10,100",
                        help="comma-separated scales (default 1,10,100)")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--ref", metavar="REV", help="compare with this git revision")
    parser.add_argument("--no-cache", action="store_true",
                        help="recompute the reference's hashes even if cached")
    args = parser.parse_args(argv)
    scales = [int(s) for s in args.scales.split(",") if s.strip()]
    scenarios = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    if not scales or min(scales) < 1 or not scenarios:
        parser.error("--scales needs integers >= 1 and --scenarios at least one name")

    started = time.perf_counter()
    report: dict = {"scenarios": scenarios, "scales": scales, "seed": args.seed,
                    "head": git("rev-parse", "--short", "HEAD"),
                    "dirty": bool(git("status", "--porcelain", "--", "model"))}
    if args.ref:
        report["ref"] = args.ref
        report["ref_hashes"] = ref_hashes(args.ref, scenarios, scales, args.seed,
                                          not args.no_cache)
    progress("this checkout:")
    report["hashes"] = hashes_in(ROOT, scenarios, scales, args.seed)
    if args.ref:
        report["differences"] = [f"{run}/{name}" for run, files in report["hashes"].items()
                                 for name, digest in files.items()
                                 if report["ref_hashes"].get(run, {}).get(name) != digest]
        report["identical"] = not report["differences"]
    report["wall_s"] = round(time.perf_counter() - started, 1)
    print(json.dumps(report, indent=1))
    return 0 if report.get("identical", True) else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
