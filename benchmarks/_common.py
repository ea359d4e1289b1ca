"""Helpers shared by the benchmark scripts: progress lines, flags, what was measured.

Both `bench_model.py` and `bench_scale.py` print ONE JSON object on stdout and
write progress to stderr; both open that object with `environment()`, which
says on which machine, with which libraries and on which code the figures were
taken.
"""

import argparse
import contextlib
import io
import os
import platform
import resource
import subprocess
import sys
import tarfile
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def progress(message: str) -> None:
    """One progress line on stderr (stdout is reserved for the JSON report)."""
    print(message, file=sys.stderr, flush=True)


def positive(text: str) -> int:
    """argparse type: an integer >= 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def scale_list(text: str) -> list[int]:
    """argparse type: comma-separated scales, e.g. "1,10,100"; "" means none.

    Duplicates are dropped and the order is kept.
    """
    scales: list[int] = []
    for part in text.split(","):
        if part.strip():
            scale = positive(part.strip())
            if scale not in scales:
                scales.append(scale)
    return scales


def git_state() -> dict:
    """Which code was measured: HEAD, and whether model/ or scenarios/ had local edits."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()
    try:
        return {"commit": git("rev-parse", "--short", "HEAD"),
                "model_dirty": bool(git("status", "--porcelain", "--", "model", "scenarios"))}
    except (OSError, subprocess.CalledProcessError):
        return {"commit": None, "model_dirty": None}


def environment(**settings) -> dict:
    """When, where and on what the benchmark ran, followed by its `settings` (its flags)."""
    import mesa
    import numpy as np

    return {
        "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "mesa": mesa.__version__,
        "numpy": np.__version__,
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "cpus_allowed": len(os.sched_getaffinity(0)),  # 1 under `taskset -c 0`
        "load_average_1m": round(os.getloadavg()[0], 2),  # anything else running skews times
        **settings,
        "git": git_state(),
    }


class OtherLoad:
    """How busy the machine was with work other than this benchmark's, while it ran.

    Start it when the benchmark starts; `report()` when it ends gives, per second
    of wall time, the CPU seconds spent by every other process on the machine
    (`other_cores`: 1.0 means one core kept busy elsewhere throughout) and
    stolen by the hypervisor (`steal_cores`), from /proc/stat minus this
    process's and its finished children's own CPU time. On a shared 2-core
    machine anything above about 0.1 makes this run's times pessimistic.
    """

    def __init__(self):
        self.start = self._snapshot()

    @staticmethod
    def _snapshot() -> "tuple[float, float, float, float] | None":
        try:
            with open("/proc/stat") as stat:
                fields = [int(x) for x in stat.readline().split()[1:]]
        except (OSError, ValueError):
            return None  # not Linux
        tick = os.sysconf("SC_CLK_TCK")
        user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
        own = sum(resource.getrusage(who).ru_utime + resource.getrusage(who).ru_stime
                  for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
        return time.perf_counter(), (user + nice + system + irq + softirq) / tick, steal / tick, own

    def report(self) -> dict:
        end = self._snapshot()
        if self.start is None or end is None:
            return {"other_cores": None, "steal_cores": None}
        wall = end[0] - self.start[0]
        busy, steal, own = (end[i] - self.start[i] for i in (1, 2, 3))
        return {"other_cores": round(max(busy - own, 0.0) / wall, 2),
                "steal_cores": round(steal / wall, 2),
                "wall_s": round(wall, 1)}


def model_code(infos) -> "str | list[str] | None":
    """The model-code fingerprint (`RunResult.info["code"]`) the runs report.

    One string when every run ran the same code, as it should; a sorted list if
    model/ changed while the benchmark ran, so such a report is not trusted.
    """
    codes = sorted({info.get("code") for info in infos} - {None})
    if not codes:
        return None
    return codes[0] if len(codes) == 1 else codes


def git(*args: str) -> str:
    """Run git in this checkout; its stdout, stripped."""
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True,
                          check=True).stdout.strip()


def _extract(commit: str, into: Path) -> None:
    """Write the files of `commit` (as `git archive` gives them) into the folder `into`."""
    archive = subprocess.run(["git", "archive", "--format=tar", commit], cwd=ROOT,
                             stdout=subprocess.PIPE, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")


@contextlib.contextmanager
def revision_tree(rev: str, keep: bool = False):
    """The files of git revision `rev` in a folder of their own; yields (folder, commit).

    Code run there with PYTHONPATH set to the folder uses this interpreter and its
    libraries, so the only difference from this checkout is the project's own code.
    Numba keeps its cache beside the sources, so each folder compiles its kernels
    once: warm it before timing anything. With `keep=False` the folder is temporary
    (removed on the way out, whatever happens). With `keep=True` it is kept, outside
    the repo, in ~/.cache/border-sim-revisions/<commit>/ (XDG_CACHE_HOME is honoured)
    and reused by the next call, compiled kernels included: a commit's files never
    change. Delete that folder to reclaim the space.
    """
    commit = git("rev-parse", "--verify", f"{rev}^{{commit}}")
    if not keep:
        with tempfile.TemporaryDirectory(prefix="border-sim-rev-") as tmp:
            _extract(commit, Path(tmp))
            yield Path(tmp), commit
        return
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "border-sim-revisions"
    tree = base / commit
    if not tree.is_dir():
        base.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix=f".{commit[:10]}-", dir=base) as tmp:
            _extract(commit, Path(tmp) / "tree")
            try:
                (Path(tmp) / "tree").rename(tree)  # whole or not at all
            except OSError:
                if not tree.is_dir():  # another process may have put it there first
                    raise
    yield tree, commit
