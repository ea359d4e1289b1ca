"""Reading a data file of named tables: TOML holding one section of them
(`[targets.ID]`, `[priors.NAME]` for calibration, `[items.NAME]` for unit costs);
anything else is refused in one line. Shared by `calibration/` and `experiments/`;
`read_toml` also by the scenario files."""

import tomllib
from pathlib import Path

MAX_TOML_BYTES = 1_000_000  # the largest data file in the repository is 25 kB
MAX_TOML_DEPTH = 10  # tables and lists inside each other (scenarios need 4)


def read_toml(path: Path, error: type[Exception]) -> dict:
    """A TOML file's table; `error` is raised as `FILE: ...` for an unreadable file,
    one over MAX_TOML_BYTES, bad TOML, or tables nested deeper than MAX_TOML_DEPTH
    (scenario files, calibration files and the named-table files below)."""
    try:
        with open(path, "rb") as file:
            data = file.read(MAX_TOML_BYTES + 1)
    except OSError as exc:
        raise error(f"{path}: cannot read: {exc.strerror or exc}") from None
    if len(data) > MAX_TOML_BYTES:
        raise error(f"{path}: larger than {MAX_TOML_BYTES:,} bytes; not a data file")
    try:
        table = tomllib.loads(data.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise error(f"{path}: not valid TOML: {exc}") from None
    except RecursionError:  # tomllib recurses into inline tables and arrays
        raise error(f"{path}: not valid TOML: nested too deep") from None
    if _depth(table) > MAX_TOML_DEPTH:
        raise error(f"{path}: tables nested more than {MAX_TOML_DEPTH} deep")
    return table


def _depth(value) -> int:
    """How deep tables and lists sit inside each other in `value` (without recursing:
    `[a.b.c...]` 5,000 deep parses, and every recursive walk after it failed)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, depth)
            if depth > MAX_TOML_DEPTH:
                return depth
            stack.extend((v, depth + 1) for v in (item.values() if isinstance(item, dict)
                                                  else item))
    return deepest


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
