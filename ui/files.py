"""The page's files: where saved and dropped scenario files go, and how one gets there.

Owned here: the folders (`save_dir`, `upload_dir`, `scenario_roots`), the file-name rule
(`file_name`, `upload_name`), Save (`save_scenario`) and a dropped file
(`receive_upload`). Called by `ui.controls` (the Save and load card, the scenario list)
and by run.py's `ui` (`check_writable` before serving).

Every file is checked in full before it is kept (a dropped one: at most
MAX_UPLOAD_BYTES, UTF-8 TOML, the scenario's own checks with its base chain confined to
`scenario_roots()`), written under a hidden temporary name in its folder and then
hard-linked to its final name, which fails rather than replace anything (a file, a
symbolic link) already there; the temporary file is always removed, so a refused file
leaves nothing. A folder holds at most MAX_FILES scenario files from the page.
"""

import os
import re
import tempfile
from pathlib import Path
from typing import BinaryIO, Callable

from model import ScenarioError
from model.config.scenario import SCENARIO_DIR

MAX_UPLOAD_BYTES = 1_000_000  # a scenario file is a few kB; historical.toml is ~60 kB
MAX_FILES = 200  # scenario files the page keeps in one folder (saved, or uploaded)
MAX_NAME = 64  # characters in a file name's stem
NAME = re.compile(rf"[A-Za-z0-9][A-Za-z0-9_-]{{0,{MAX_NAME - 1}}}")
TEMPORARY = ".incoming-"  # the hidden name a file has while it is checked


class FileRefused(ScenarioError):
    """A name or a file the page will not keep; one line for the page."""


def save_dir() -> Path:
    """Where Save writes: $BORDER_UI_SAVE_DIR (run.py ui --save-dir), else scenarios/."""
    return Path(os.environ.get("BORDER_UI_SAVE_DIR") or SCENARIO_DIR)


def upload_dir() -> Path:
    """Where dropped files are kept: uploads/ in the save folder (never scenarios/ itself)."""
    return save_dir() / "uploads"


def scenario_roots() -> tuple[Path, ...]:
    """The folders the page reads scenarios from; a file's `base` must stay inside them."""
    return (SCENARIO_DIR, save_dir(), upload_dir())


def listed(folder: Path) -> list[Path]:
    """The scenario files in a folder, as the page lists them: `*.toml`, no hidden
    (temporary) files, no symbolic links; sorted."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.glob("*.toml")
                  if not p.name.startswith(".") and not p.is_symlink() and p.is_file())


def _shown(text: str, most: int = 40) -> str:
    return repr(text if len(text) <= most else text[:most] + "...")


def file_name(text: str) -> str:
    """The stem of a file name typed in the page: letters, digits, - and _, starting
    with a letter or digit, at most MAX_NAME characters; `.toml` may be typed or not.
    Raises FileRefused saying what is wrong."""
    text = (text or "").strip()
    stem = text[:-len(".toml")] if text.endswith(".toml") else text
    if not stem:
        raise FileRefused("file name: type a name first")
    if "/" in stem or "\\" in stem:
        raise FileRefused(f"file name: {_shown(text)}: a name, not a path (no / or \\)")
    if len(stem) > MAX_NAME:
        raise FileRefused(f"file name: {len(stem)} characters; at most {MAX_NAME}")
    if not NAME.fullmatch(stem):
        raise FileRefused(f"file name: {_shown(text)}: use letters, digits, - and _ "
                          f"(starting with a letter or digit)")
    return stem


def upload_name(name: str) -> str:
    """The stem a dropped file is kept under: its own name's last part, with anything but
    letters, digits, - and _ made `_`, cut to MAX_NAME. Only `.toml` files are taken."""
    base = re.split(r"[/\\]", name or "")[-1]
    if not base.lower().endswith(".toml"):
        raise FileRefused(f"{_shown(base)}: not a .toml file; drop a scenario file "
                          f"(e.g. one saved from this page)")
    stem = re.sub(r"[^A-Za-z0-9_-]", "_", base[:-len(".toml")]).lstrip("_-")[:MAX_NAME]
    return stem or "upload"


def check_writable(folder: Path) -> None:
    """Create the folder if need be and write (then remove) a file in it; raises
    FileRefused naming the folder and why, so `run.py ui` fails at start, not at Save."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise FileRefused(f"--save-dir {folder}: cannot write there: "
                          f"{exc.strerror or exc}") from None


def _keep(folder: Path, stem: str, body: bytes, check: Callable[[Path], object],
          another_name: bool, suffix: str = ".toml") -> tuple[Path, object]:
    """Write `body` under a hidden temporary name in `folder` (ending `suffix`: `.toml`
    when `check` reads it as a scenario, which needs that), `check(path)` it (its result
    is returned), then link it to `stem.toml` (or, if `another_name`, the first free
    `stem-2.toml`, `stem-3.toml`...). Never replaces a file; the temporary file is
    removed whatever happens. Raises FileRefused."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise FileRefused(f"cannot create {folder}: {exc.strerror or exc}") from None
    if len(listed(folder)) >= MAX_FILES:
        raise FileRefused(f"{folder} already holds {MAX_FILES} scenario files; remove some "
                          f"first")
    try:  # mkstemp: a new file (O_EXCL), never a symbolic link someone left there
        handle, tmp_name = tempfile.mkstemp(prefix=TEMPORARY, suffix=suffix, dir=folder)
    except OSError as exc:
        raise FileRefused(f"cannot write in {folder}: {exc.strerror or exc}") from None
    tmp = Path(tmp_name)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(body)
        result = check(tmp)
        for n in range(1, MAX_FILES + 2):
            target = folder / (f"{stem}.toml" if n == 1 else f"{stem}-{n}.toml")
            try:
                os.link(tmp, target)  # fails if the name is taken, and follows no link
                return target, result
            except FileExistsError:
                if not another_name:
                    raise FileRefused(f"{target} exists; choose another name (the page "
                                      f"never replaces a file)") from None
        raise FileRefused(f"{folder}: no free name for {stem}.toml")
    except OSError as exc:
        raise FileRefused(f"cannot write in {folder}: {exc.strerror or exc}") from None
    finally:
        tmp.unlink(missing_ok=True)


def save_scenario(text: str, name: str, folder: Path | None = None) -> Path:
    """Save a scenario file's text (ui.settings.scenario_toml, checked as it was made) as
    `name`.toml in the save folder; refuses a bad name or a name already taken
    (FileRefused). Its temporary name does not end `.toml`: scenarios/ lists no half file."""
    stem = file_name(name)
    path, _ = _keep(folder or save_dir(), stem, text.encode("utf-8"), lambda p: None,
                    another_name=False, suffix=".part")
    return path


def receive_upload(name: str, size: int | None, stream: BinaryIO,
                   check: Callable[[Path, tuple[Path, ...]], object],
                   folder: Path | None = None) -> tuple[Path, object]:
    """Keep a dropped file in the upload folder if it passes: a .toml name, at most
    MAX_UPLOAD_BYTES (read no further), UTF-8, and `check(path, roots)` (the page's:
    `ui.settings.read_scenario_file` with the roots) raising nothing. Kept under its own
    (cleaned) name, or `NAME-2.toml`... if that is taken. Returns (path, check's result);
    raises FileRefused (messages name the dropped file, not the temporary one)."""
    stem = upload_name(name)
    shown = f"{stem}.toml"
    if size is not None and size > MAX_UPLOAD_BYTES:
        raise FileRefused(f"{shown}: {size:,} bytes; a scenario file may be at most "
                          f"{MAX_UPLOAD_BYTES:,}")
    body = stream.read(MAX_UPLOAD_BYTES + 1)
    if len(body) > MAX_UPLOAD_BYTES:
        raise FileRefused(f"{shown}: more than {MAX_UPLOAD_BYTES:,} bytes; a scenario file "
                          f"may be at most {MAX_UPLOAD_BYTES:,}")
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FileRefused(f"{shown}: not UTF-8 text (byte {exc.start}); a scenario file is "
                          f"TOML text") from None
    roots = scenario_roots()
    where = folder or upload_dir()

    def checked(tmp: Path):
        try:
            return check(tmp, roots)
        except ScenarioError as exc:
            raise FileRefused(str(exc).replace(str(tmp.resolve()), shown)
                              .replace(str(tmp), shown)) from None
        except RecursionError:
            raise FileRefused(f"{shown}: nested too deeply") from None
    return _keep(where, stem, body, checked, another_name=True)
