"""Writing files whole or not at all: the one home for the helpers that run.py's
output (`model.output`), sweeps (`experiments.runner`, `experiments.compare`,
`experiments.sensitivity`), calibration (`calibration.fit`, `calibration.report`)
and the browser app (`ui.settings`) share.

- `write_atomically(path, data)`: bytes into a hidden temporary file beside `path`,
  flushed to disk, then renamed over it (`os.replace`).
- `atomic_target(path)`: the same guarantee for a writer that takes a file name.
- `write_parquet(path, frame)`: a pandas table as Parquet (pyarrow), written by
  `write_atomically`.
- `toml_text(table, header)` / `write_toml(path, table, header)`: TOML by `tomli_w`,
  after optional `# ` comment lines.
- The folder checks a command makes before it runs: `missing_folders`,
  `create_folder`, `probe_writable` (each raising `FolderError` in one line naming
  the flag and folder) and `remove_if_empty` to undo what was created.
- `folder_lock(folder, holder)`: one command at a time in a folder (a sweep, a
  calibration, a validation); a second stops at once with `FolderBusy`.

Not part of the simulation's hashed code (`model.simulate.code_version`).
`ui.files` keeps its own upload writer: it links a new file into place and refuses
to replace one, a different guarantee than `write_atomically`'s.
"""

import contextlib
import fcntl
import io
import os
import shutil
import tempfile
import time
from pathlib import Path

import tomli_w

SCRATCH_PREFIX = ".partial-"  # a scratch folder; one left behind is a killed run's
LOCK_FILE = ".lock"  # while a command holds a folder: its pid (see `folder_lock`)


class FolderError(ValueError):
    """A folder a command was given cannot be created or written (one line, naming it)."""


class FolderBusy(FolderError):
    """Another process holds the folder (`folder_lock`; one line naming it and the pid)."""


@contextlib.contextmanager
def atomic_target(path: Path):
    """The temporary path to write `path`'s content to, inside the block (for a writer
    that wants a file name, e.g. a streaming `pyarrow.parquet.ParquetWriter`); when
    the block ends without an exception the file is flushed to disk and renamed into
    place, so `path` is whole or untouched. Same temporary name and clean-up as
    `write_atomically`, which uses it."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            exc.filename, exc.filename2 = str(path), None
        raise


def write_atomically(path: Path, data: bytes) -> None:
    """Write `data` to `path` whole or not at all: into a hidden temporary file in the
    same folder, `.NAME.PID.tmp` (never `*.parquet`, so no glob of a folder's
    Parquet files reads a partial one), flushed to disk, then renamed into place.
    On any failure (a full disk, Ctrl-C) the temporary file is removed; an OSError
    goes up naming `path` (`exc.filename`), not the temporary file."""
    with atomic_target(path) as tmp, open(tmp, "wb") as f:
        f.write(data)


def parquet_bytes(frame) -> bytes:
    """A pandas table as Parquet bytes (pyarrow, no index)."""
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False, engine="pyarrow")
    return buffer.getvalue()


def write_parquet(path: Path, frame) -> None:
    """A pandas table as Parquet (pyarrow, no index) at `path`, by `write_atomically`."""
    write_atomically(path, parquet_bytes(frame))


def toml_text(table: dict, header: list[str] = ()) -> str:
    """`table` as TOML text (`tomli_w`), after the `header` lines (comments, each
    starting with `#`)."""
    if any(not line.startswith("#") for line in header):
        raise ValueError("toml_text: header lines must be comments starting with '#'")
    return "".join(f"{line}\n" for line in header) + tomli_w.dumps(table)


def write_toml(path: Path, table: dict, header: list[str] = ()) -> None:
    """`toml_text(table, header)` at `path`, by `write_atomically`."""
    write_atomically(path, toml_text(table, header).encode())


def missing_folders(folder: Path) -> list[Path]:
    """`folder` and those of its parents that do not exist yet, deepest first."""
    return [p for p in (folder, *folder.parents) if not p.exists()]


def create_folder(folder: Path, flag: str = "--out") -> None:
    """Create `folder` and its parents, or raise FolderError in one line saying why not."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        blocker = next((p for p in reversed(folder.parents)
                        if p.exists() and not p.is_dir()), None)
        why = f"{blocker} is a file, not a folder" if blocker else reason(exc)
        raise FolderError(f"{flag} {folder}: cannot create the folder: {why}") from None


def probe_writable(folder: Path, flag: str = "--out") -> None:
    """Write and remove a scratch file in `folder`, or raise FolderError in one line
    saying why not."""
    try:
        with scratch_folder(folder) as scratch:
            (scratch / "probe").write_bytes(b"probe")
    except OSError as exc:
        raise FolderError(f"{flag} {folder}: cannot write into the folder: "
                          f"{reason(exc)}") from None


def remove_if_empty(folders: list[Path]) -> None:
    """Remove `folders` (deepest first) while they are empty."""
    for folder in folders:
        try:
            folder.rmdir()
        except FileNotFoundError:
            continue
        except OSError:
            return


def reason(exc: OSError) -> str:
    """An OSError's reason in words (its strerror), without the path."""
    return exc.strerror or str(exc)


@contextlib.contextmanager
def folder_lock(folder: Path, holder: str, flag: str = "--out"):
    """Hold an exclusive OS lock (`fcntl.flock`) on the existing folder `folder` inside
    the block, so that a second command on it (a sweep resuming, a fit, a validation)
    stops at once with FolderBusy: "`folder` is in use by another `holder` (pid N)".

    The lock is on the folder itself, so the OS releases it when the process ends,
    however it ends (SIGKILL too), and it needs no write access. While it is held,
    `folder/.lock` holds the holder's pid for that message; the file is removed on the
    way out (a folder the command created is empty again), and a stale one, left by a
    killed process, is written over by the next holder. Raises FolderError if the
    folder cannot be opened."""
    folder = Path(folder)
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError as exc:
        raise FolderError(f"{flag} {folder}: cannot open the folder: {reason(exc)}") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise FolderBusy(f"{folder} is in use by another {holder} (pid "
                             f"{_holder_pid(folder) or 'unknown'}); wait for it to finish or "
                             f"use another {flag}") from None
        pid_file = folder / LOCK_FILE
        with contextlib.suppress(OSError):  # a courtesy that a full or read-only disk may refuse
            pid_file.write_text(f"{os.getpid()}\n")
        try:
            yield
        finally:
            with contextlib.suppress(OSError):
                pid_file.unlink()
    finally:
        os.close(fd)


def _holder_pid(folder: Path) -> str:
    """The pid in `folder/.lock`, waiting up to a second for its holder, which writes it
    just after taking the lock; "" if there is none."""
    for _ in range(20):
        with contextlib.suppress(OSError):
            pid = (folder / LOCK_FILE).read_text().strip()
            if pid:
                return pid
        time.sleep(0.05)
    return ""


@contextlib.contextmanager
def scratch_folder(folder: Path):
    """A new hidden scratch folder (`.partial-*`) inside `folder`, removed when done."""
    scratch = Path(tempfile.mkdtemp(prefix=SCRATCH_PREFIX, dir=folder))
    try:
        yield scratch
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
