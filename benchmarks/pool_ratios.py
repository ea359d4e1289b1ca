"""Pool the paired ratios of several `bench_model.py --ref` reports: one median, and how sure.

    python benchmarks/pool_ratios.py REPORT.json [REPORT.json ...] [--clock cpu|wall]

Each report holds, per scale, every pair's `new/old` ratio (`ratios_cpu`,
`ratios_wall`). Runs of a few dozen pairs each scatter by a few per cent around
their medians; pooling the pairs of runs made the same way (same revisions, same
mode) gives one median with a 95 % interval (scipy's bootstrap of the median,
percentile method, 4,000 resamples, seeded: the same files give the same bytes).
Reports comparing other revisions, or made in another mode, are refused rather
than pooled. Prints ONE JSON object: per scale, the pairs, the pooled median, its
interval, the quartiles and the files' own medians.
"""

import argparse
import json
import statistics
import sys
from pathlib import Path

import numpy as np
from scipy import stats

RESAMPLES = 4000


def pooled(values: list[float]) -> dict:
    """Median of `values`, its bootstrapped 95 % interval, and the quartiles."""
    sample = np.asarray(values, dtype=float)
    interval = stats.bootstrap((sample,), np.median, n_resamples=RESAMPLES, method="percentile",
                               confidence_level=0.95, rng=np.random.default_rng(0))
    q1, _, q3 = statistics.quantiles(values, n=4)
    return {"pairs": len(values), "median": round(float(np.median(sample)), 4),
            "median_95_interval": [round(float(interval.confidence_interval.low), 4),
                                   round(float(interval.confidence_interval.high), 4)],
            "quartiles": [round(q1, 4), round(q3, 4)]}


def main(argv: "list[str] | None" = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("reports", nargs="+", type=Path)
    parser.add_argument("--clock", choices=("cpu", "wall"), default="cpu")
    args = parser.parse_args(argv)
    ratios: dict[str, list[float]] = {}
    medians: dict[str, list[float]] = {}
    kinds = set()
    for path in args.reports:
        try:
            report = json.loads(path.read_text(encoding="utf-8"))
            kind = (report["ref_commit"], json.dumps(report["model_code"], sort_keys=True),
                    bool(report.get("together_on_cores")), report["fresh_process_per_run"])
            by_scale = report["by_scale"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            parser.error(f"{path}: not a `bench_model.py --ref` report ({exc})")
        kinds.add(kind)
        for scale, figures in by_scale.items():
            ratios.setdefault(scale, []).extend(figures[f"ratios_{args.clock}"])
            medians.setdefault(scale, []).append(figures[f"ratio_{args.clock}_median"])
    if len(kinds) > 1:
        parser.error("the reports compare other code or were made in other modes "
                     "(ref_commit, model_code, --together, --fresh differ); pool alike ones")
    (ref, code, together, fresh), = kinds
    out = {"clock": args.clock, "reports": [str(p) for p in args.reports], "ref_commit": ref,
           "model_code": json.loads(code), "together": together, "fresh": fresh,
           "by_scale": {scale: {**pooled(values), "report_medians": medians[scale]}
                        for scale, values in ratios.items()}}
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
