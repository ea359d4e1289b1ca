"""Reading a data file of named tables: TOML holding one section of them
(`[targets.ID]`, `[priors.NAME]` for calibration, `[items.NAME]` for unit costs);
anything else is refused in one line. Shared by `calibration/` and `experiments/`;
`read_toml` also by the scenario files."""

import tomllib
from pathlib import Path


def read_toml(path: Path, error: type[Exception]) -> dict:
    """A TOML file's table; `error` is raised as `FILE: ...` for an unreadable file or
    bad TOML (scenario files, calibration files and the named-table files below)."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise error(f"{path}: cannot read: {exc.strerror or exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise error(f"{path}: not valid TOML: {exc}") from None


def read_named_tables(path: Path, section: str, what: str, error: type[Exception]) -> dict:
    """The `[SECTION.NAME]` tables of `path` ({NAME: table}); `error` is raised as
    `FILE: ...` for an unreadable file, bad TOML, another top-level key or no tables.
    `what` names a table in messages (`[targets.ID]`)."""
    raw = read_toml(path, error)
    for key in raw:
        if key != section:
            raise error(f"{path}: {key}: unknown key (the file holds {what} tables)")
    tables = raw.get(section)
    if not isinstance(tables, dict) or not tables:
        raise error(f"{path}: {section}: no {what} tables")
    for name, table in tables.items():
        if not isinstance(table, dict):
            raise error(f"{path}: {section}.{name}: expected a {what} table")
    return tables
