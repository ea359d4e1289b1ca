"""Feedback on the terminal while `run.py run` runs: one line before numba compiles
the model's kernels (the first run after installing, or after their code changed,
is silent for up to a minute otherwise), then a progress bar over the run's days.

Both only when stderr is a terminal: pipes, tests and CI logs get none of it (the
bar's carriage returns would litter a log, and a command's stderr stays what its
tests expect). The bar is tqdm's; the model only calls back (`simulate(progress=...)`).
Called by run.py's `cmd_run` (`run_feedback`). `terminal_bar` is the same kind of
bar over any count, for `calibration.fit` (pyabc's samples, before each generation's line).
"""

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta

COLD_LINE = "compiling the model's kernels: once, about a minute"


def kernel_cache_counts(package: str = "model") -> dict[str, int] | None:
    """How many of `package`'s cached numba kernels have a usable cache index
    ("fresh"), an index made from other code ("stale": recompiled on first use) or
    none ("missing": never compiled here, or only ever inlined into other kernels).

    Reads each kernel's small index file (about 15 ms in all), not the compiled code.
    Uses numba's cache internals (`Dispatcher._cache._cache_file`); None if they
    are not there (another numba version), so the caller says nothing rather than
    something wrong.
    """
    try:
        from numba.core.dispatcher import Dispatcher

        counts = {"fresh": 0, "stale": 0, "missing": 0}
        for name, module in list(sys.modules.items()):
            if module is None or (name != package and not name.startswith(package + ".")):
                continue
            for value in list(vars(module).values()):
                if not isinstance(value, Dispatcher) or value.py_func.__module__ != name:
                    continue  # not a kernel, or one imported from its own module
                index = getattr(value._cache, "_cache_file", None)
                if index is None:  # cache=False: compiled every time, not counted
                    continue
                if index._load_index():
                    counts["fresh"] += 1
                else:
                    exists = os.path.exists(index._index_path)
                    counts["stale" if exists else "missing"] += 1
        return counts
    except Exception:  # numba's internals moved: no guess
        return None


def compile_notice(package: str = "model") -> str | None:
    """The line to print before the kernels compile, or None when they are cached.

    Nothing cached at all (a new install, a cleared cache): all of them compile, about
    a minute. Some cached from other code (a kernel's module was edited since): those
    compile, fewer seconds. Kernels only ever inlined into others have no index of
    their own even when everything is cached, so "missing" alone is not cold."""
    counts = kernel_cache_counts(package)
    if not counts:
        return None
    if counts["fresh"] == 0 and (counts["stale"] or counts["missing"]):
        return COLD_LINE
    if counts["stale"]:
        return (f"compiling {counts['stale']} of the model's kernels (their code changed): "
                f"once, up to a minute")
    return None


@contextmanager
def run_feedback(loaded, stream=None) -> Iterator[Callable[[int, int], None] | None]:
    """The progress callback for `simulate(progress=...)`, or None when `stream`
    (default stderr) is not a terminal. Before yielding it prints `compile_notice()`
    if any; the bar shows days run, the date reached and the time left, and is
    removed when the run ends (the summary that follows gives the wall time)."""
    stream = sys.stderr if stream is None else stream
    if not _is_terminal(stream):
        yield None
        return
    from tqdm import tqdm

    notice = compile_notice()
    if notice:
        print(notice, file=stream, flush=True)
    total = (loaded.end - loaded.start).days + 1
    width = {"dynamic_ncols": True} if _columns(stream) else {"ncols": 80, "nrows": 24}
    with tqdm(total=total, unit="day", desc=loaded.name, file=stream, leave=False,
              **width) as bar:
        def progress(days_done: int, days_total: int) -> None:
            bar.set_postfix_str(str(loaded.start + timedelta(days=days_done - 1)), refresh=False)
            bar.update(days_done - bar.n)
        yield progress


@contextmanager
def terminal_bar(total: int, desc: str, unit: str, stream=None):
    """A tqdm bar over `total` `unit`s on `stream` (default stderr), removed when done;
    None when `stream` is not a terminal (as `run_feedback`)."""
    stream = sys.stderr if stream is None else stream
    if not _is_terminal(stream):
        yield None
        return
    from tqdm import tqdm

    width = {"dynamic_ncols": True} if _columns(stream) else {"ncols": 80, "nrows": 24}
    with tqdm(total=total, unit=unit, desc=desc, file=stream, leave=False, **width) as bar:
        yield bar
        bar.refresh()  # its last state is drawn (tqdm skips updates within 0.1 s of the last)


def _columns(stream) -> int:
    """The terminal's width; 0 if it does not say (a pseudo-terminal with no size set:
    tqdm would then take its height, 0 lines, as no room and hide the bar)."""
    try:
        return os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, ValueError, OSError):
        return 0


def _is_terminal(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no isatty, or closed
        return False
