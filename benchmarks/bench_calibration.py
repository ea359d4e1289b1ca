"""Calibration benchmark: the seed noise of the fit's distance, and the cost of a run.

    python benchmarks/bench_calibration.py [--seeds 10] [--scale 20] [--workers 2]

Prints ONE JSON object on stdout; progress goes to stderr.

Runs the historical scenario with its hand-set parameters on `--seeds` seeds (derived
from SeedSequence(0), as a sweep's) at `--scale` on a LocalCluster of `--workers`, and
scores each run against calibration/targets.toml:

- `distance`: the calibration distance (calibration.distance.distance: root mean square
  of the targets' misses in tolerances) per seed, its mean and standard deviation. The
  standard deviation is the distance's seed noise: an epsilon below it cannot tell
  parameter sets apart, so `run.py calibrate --min-epsilon` is set near it.
- `averaged_relative_difference`: Flee's score per seed, mean and standard deviation.
- `per_target`: each target's mean and coefficient of variation over the seeds.
- `runs_per_s`: runs finished per second of wall time on the cluster (its start excluded).
"""

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from benchmarks._common import OtherLoad, environment, positive, progress  # noqa: E402
from calibration.distance import averaged_relative_difference, distance  # noqa: E402
from calibration.targets import load_targets, simulated_values  # noqa: E402
from experiments.runner import close_client, open_client  # noqa: E402


def score(seed: int, scale: int) -> dict[str, float]:
    """One hand-set historical run's target values (runs on a worker)."""
    from model import simulate

    return simulated_values(load_targets(), simulate("historical", seed=seed, scale=scale))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=positive, default=10)
    parser.add_argument("--scale", type=positive, default=20)
    parser.add_argument("--workers", type=positive, default=2)
    args = parser.parse_args()
    load = OtherLoad()
    targets = load_targets()
    seeds = [int(s.generate_state(1)[0]) for s in np.random.SeedSequence(0).spawn(args.seeds)]
    client, cluster = open_client(args.workers)
    try:
        progress(f"{args.seeds} runs of historical at scale {args.scale} on {args.workers} workers")
        started = time.perf_counter()
        values = client.gather(client.map(score, seeds, [args.scale] * len(seeds), pure=False))
        wall = time.perf_counter() - started
    finally:
        close_client(client, cluster)
    distances = np.array([distance(targets, v) for v in values])
    ards = np.array([averaged_relative_difference(targets, v) for v in values])
    per_target = {}
    for tid in values[0]:
        column = np.array([v[tid] for v in values])
        mean = float(column.mean())
        per_target[tid] = {"mean": round(mean, 4),
                           "cv": round(float(column.std(ddof=1) / abs(mean)), 4) if mean else None}
    print(json.dumps({
        **environment(seeds=args.seeds, scale=args.scale, workers=args.workers),
        "distance": {"per_seed": [round(d, 4) for d in distances],
                     "mean": round(float(distances.mean()), 4),
                     "sd": round(float(distances.std(ddof=1)), 4)},
        "averaged_relative_difference": {"per_seed": [round(a, 4) for a in ards],
                                         "mean": round(float(ards.mean()), 4),
                                         "sd": round(float(ards.std(ddof=1)), 4)},
        "per_target": per_target,
        "runs_per_s": round(args.seeds / wall, 3),
        "other_load": load.report(),
    }, indent=1))


if __name__ == "__main__":
    main()
