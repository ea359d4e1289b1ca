"""Headline outcomes by name, and outcome conditions, for exploration: one home for
what `FY2021.encounters` and `FY2021.encounters > 1.7e6` mean.

- `OutcomeName`: `FYyyyy.<column>`, a fiscal year's total of a monthly.csv column as
  `RunResult.fiscal_years()` (and a sweep's `fiscal_year` rows) gives it: flows summed,
  stocks averaged or taken at the year's end. The EMA Workbench adapter
  (`experiments.ema`) names its outcomes this way.
- `Condition`: `OutcomeName <op> number`, with op one of < <= > >=; what
  `run.py discover --outcome` takes. Parsed by a regular expression, never evaluated.

Both raise `OutcomeError` (a ScenarioError: one line, exit status 2 from run.py)
naming the text and what is wrong.
"""

import math
import operator
import re
from dataclasses import dataclass
from datetime import date

from model.config.validation import ScenarioError

OPERATORS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}
_NAME = re.compile(r"FY(\d{4})\.([a-z][a-z0-9_]*)")
_CONDITION = re.compile(r"\s*(FY\d{4}\.[a-z][a-z0-9_]*)\s*(<=|>=|<|>)\s*"
                        r"([-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)\s*")
MAX_TEXT = 200  # characters of an outcome's text


class OutcomeError(ScenarioError):
    """An outcome name or condition that cannot be used (one line, naming it)."""


def headline_columns() -> list[str]:
    """The columns a fiscal year has a total of (monthly.csv's, see model.state.recorder)."""
    from model.state.recorder import COLUMNS

    return [c.name for c in COLUMNS]


@dataclass(frozen=True)
class OutcomeName:
    """A fiscal year's total of one column: `FY2021.encounters`."""

    fiscal_year: int
    column: str

    @property
    def text(self) -> str:
        return f"FY{self.fiscal_year}.{self.column}"

    @property
    def period(self) -> str:
        """As a sweep's run files write it (`period` of the `fiscal_year` rows)."""
        return f"FY{self.fiscal_year}"


@dataclass(frozen=True)
class Condition:
    """`name op threshold`: which runs meet it (`met`)."""

    name: OutcomeName
    op: str
    threshold: float

    @property
    def text(self) -> str:
        return f"{self.name.text} {self.op} {self.threshold:.15g}"  # exact, not rounded

    def met(self, values):
        """Whether each value (a number or a numpy array) meets the condition."""
        return OPERATORS[self.op](values, self.threshold)

    @property
    def high(self) -> bool:
        """Whether the condition asks for high values (> or >=)."""
        return self.op in (">", ">=")


def parse_name(text: object, what: str = "outcome") -> OutcomeName:
    """`FY2021.encounters` -> OutcomeName; OutcomeError naming `what` if it is not one."""
    if not isinstance(text, str) or len(text) > MAX_TEXT:
        raise OutcomeError(f"{what}: expected a name like FY2021.encounters, got {text!r:.80}")
    found = _NAME.fullmatch(text.strip())
    if found is None:
        raise OutcomeError(f"{what}: {text!r}: expected FYyyyy.column, e.g. FY2021.encounters")
    year, column = int(found.group(1)), found.group(2)
    known = headline_columns()
    if column not in known:
        raise OutcomeError(f"{what}: {text!r}: unknown column {column!r} (columns: "
                           f"{', '.join(known)})")
    return OutcomeName(year, column)


def parse_condition(text: object, what: str = "--outcome") -> Condition:
    """`FY2021.encounters > 1.7e6` -> Condition; OutcomeError naming `what` if not one."""
    if not isinstance(text, str) or len(text) > MAX_TEXT:
        raise OutcomeError(f"{what}: expected e.g. \"FY2021.encounters > 1.7e6\", "
                           f"got {text!r:.80}")
    found = _CONDITION.fullmatch(text)
    if found is None:
        raise OutcomeError(f"{what}: {text!r}: expected FYyyyy.column OP number with OP one "
                           f"of {' '.join(OPERATORS)}, e.g. \"FY2021.encounters > 1.7e6\"")
    threshold = float(found.group(3))
    if not math.isfinite(threshold):
        raise OutcomeError(f"{what}: {text!r}: the number is not finite")
    return Condition(parse_name(found.group(1), what), found.group(2), threshold)


def check_in_run(name: OutcomeName, start: date, end: date, what: str = "outcome") -> None:
    """Refuse a fiscal year the run does not reach (`start`..`end`), naming the years it has."""
    first, last = (d.year + (d.month >= 10) for d in (start, end))
    if not first <= name.fiscal_year <= last:
        years = ", ".join(f"FY{y}" for y in range(first, last + 1))
        raise OutcomeError(f"{what}: {name.text}: FY{name.fiscal_year} is not in the run "
                           f"({start} to {end}: {years})")
