"""Pricing a run: unit costs from a data file (`costs/unit_costs.toml`, each figure
with its public source), overridable with another file (`run.py compare --costs F`).

An item turns monthly.csv columns into a quantity over a period and prices it:

    quantity = per_unit * sum(sign * column [* days, for an average daily stock])
    cost     = quantity * unit_cost

e.g. detention: detention_population (average daily people) x days = bed-days, x $/bed-day;
flights: flights x flight hours per flight = flight hours, x $/flight hour. A column
written `-name` is subtracted. Period-end stocks and rates cannot be priced.

`load_costs` reads and checks the defaults and an override file (`CostError`, one
line naming the file and field); `price` adds each item's quantity, its cost
(`cost_ITEM_usd`) and `cost_total_usd` to a table of fiscal-year rows.
"""

import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from model import ScenarioError
from model.config.validation import check_keys
from model.state.recorder import COLUMNS
from model.tables_file import read_named_tables

DEFAULT_COSTS = Path(__file__).resolve().parent.parent / "costs" / "unit_costs.toml"
ITEM_KEYS = ("label", "quantity", "columns", "per_unit", "per_unit_source", "unit",
             "unit_cost", "source")
REQUIRED = ("label", "quantity", "columns", "unit", "unit_cost", "source")
TOTAL = "cost_total_usd"
_HOW = {c.name: c.how for c in COLUMNS}


class CostError(ScenarioError):
    """A unit-cost file that cannot be used (one line: `FILE: FIELD: what is wrong`)."""


@dataclass(frozen=True)
class CostItem:
    """One priced quantity: its name, the signed columns it sums, hours (or other
    units) per counted thing, the unit, the dollars per unit and their sources."""

    key: str
    label: str
    quantity: str
    columns: tuple[tuple[int, str], ...]  # (+1 or -1, column)
    per_unit: float
    per_unit_source: str
    unit: str
    unit_cost: float
    source: str
    origin: str  # the file that last set a field of it

    @property
    def cost_name(self) -> str:
        return f"cost_{self.key}_usd"


def load_costs(override: "str | Path | None" = None,
               default: "str | Path" = DEFAULT_COSTS) -> list[CostItem]:
    """The default items with `override`'s fields laid over them (an item the default
    lacks is added, and must then be complete). Raises CostError."""
    items = _read(Path(default))
    where = {key: str(default) for key in items}
    if override is not None:
        for key, fields in _read(Path(override)).items():
            items[key] = {**items.get(key, {}), **fields}
            where[key] = str(override)
    return [_item(where[key], key, fields) for key, fields in items.items()]


def _read(path: Path) -> dict[str, dict]:
    items = read_named_tables(path, "items", "[items.NAME]", CostError)
    for key, fields in items.items():
        if not key.isidentifier():
            raise CostError(f"{path}: items.{key}: a name of letters, digits and _ please")
        check_keys(fields, ITEM_KEYS, f"{path}: items.{key}.", CostError, what="field")
    return dict(items)


def _item(where: str, key: str, fields: dict) -> CostItem:
    at = f"{where}: items.{key}"
    for name in REQUIRED:
        if name not in fields:
            raise CostError(f"{at}.{name}: missing")
    for name in ("label", "quantity", "unit", "source", "per_unit_source"):
        if name in fields and (not isinstance(fields[name], str) or not fields[name].strip()):
            raise CostError(f"{at}.{name}: expected text, got {fields[name]!r}")
    if not fields["quantity"].isidentifier():
        raise CostError(f"{at}.quantity: a name of letters, digits and _ please, got "
                        f"{fields['quantity']!r}")
    for name in ("unit_cost", "per_unit"):
        value = fields.get(name, 1.0)
        if isinstance(value, bool) or not isinstance(value, (int, float)) \
                or not math.isfinite(value) or value < 0:
            raise CostError(f"{at}.{name}: expected a number >= 0, got {value!r}")
    if "per_unit" in fields and "per_unit_source" not in fields:
        raise CostError(f"{at}.per_unit_source: missing (say where per_unit comes from)")
    columns = fields["columns"]
    if not isinstance(columns, list) or not columns \
            or not all(isinstance(c, str) for c in columns):
        raise CostError(f"{at}.columns: expected a non-empty list of monthly.csv columns, "
                        f"got {columns!r}")
    signed = []
    for text in columns:
        sign, name = (-1, text[1:]) if text.startswith("-") else (1, text)
        if name not in _HOW:
            raise CostError(f"{at}.columns: unknown column {name!r}")
        if _HOW[name] not in ("sum", "mean"):
            raise CostError(f"{at}.columns: {name!r} is a period-end stock or a rate; only "
                            f"flows and average daily stocks can be priced")
        signed.append((sign, name))
    return CostItem(key, fields["label"], fields["quantity"], tuple(signed),
                    float(fields.get("per_unit", 1.0)), fields.get("per_unit_source", ""),
                    fields["unit"], float(fields["unit_cost"]), fields["source"], where)


def check_distinct(items: list[CostItem], taken: "tuple[str, ...]") -> None:
    """Quantity and cost names must not repeat, nor shadow an outcome column; the
    message names the file that made the clash (an override, if one is involved)."""
    seen: dict[str, "CostItem | None"] = {name: None for name in (*taken, TOTAL)}
    for item in items:
        for field, name in (("quantity", item.quantity), ("name", item.cost_name)):
            if name in seen:
                other = seen[name]
                blame = item if other is None or item.origin != str(DEFAULT_COSTS) else other
                also = f"items.{other.key}'s" if other is not None else "an outcome's"
                raise CostError(f"{blame.origin}: items.{item.key}.{field}: {name!r} is "
                                f"already {also} name in the report; rename one")
            seen[name] = item


def quantity(item: CostItem, years: pd.DataFrame) -> pd.Series:
    """The item's quantity in each fiscal-year row (`years` has the columns and `days`)."""
    total = pd.Series(0.0, index=years.index)
    for sign, name in item.columns:
        values = years[name].astype(float)
        if _HOW[name] == "mean":
            values = values * years["days"]
        total += sign * values
    return total * item.per_unit


def price(years: pd.DataFrame, items: list[CostItem]) -> pd.DataFrame:
    """Each item's quantity and cost, and the total cost, per fiscal-year row."""
    out = pd.DataFrame(index=years.index)
    for item in items:
        out[item.quantity] = quantity(item, years)
        out[item.cost_name] = out[item.quantity] * item.unit_cost
    out[TOTAL] = out[[i.cost_name for i in items]].sum(axis=1) if items else 0.0
    return out


def unit_cost_table(items: list[CostItem]) -> pd.DataFrame:
    """The unit costs used, with their sources (for the report)."""
    return pd.DataFrame([{"item": i.key, "label": i.label, "quantity": i.quantity,
                          "columns": " ".join(("-" if s < 0 else "") + c for s, c in i.columns),
                          "per_unit": i.per_unit, "unit": i.unit, "unit_cost_usd": i.unit_cost,
                          "source": i.source, "per_unit_source": i.per_unit_source}
                         for i in items])
