"""People and agents: the one place a count changes unit, and its rounding rules.

At `--scale K` one agent stands for K people. Every actor converts with these
functions (none divides or multiplies by the scale itself), so the rule for
each kind of quantity is written once:

- `to_agents(people, K)`: people / K, unrounded. For rates and expectations
  (departures per day, interior arrests per day: a Poisson mean) and for room
  that carries over between days (`capacity.CarriedRoom`: holding, MPP places,
  flight seats, the quotas). Rounding these would lose or invent people every day.
- `whole_agents(people, K)`: people / K rounded down (truncated, as int() does).
  For stocks that exist on the first day (the detained, the metering lists) and
  for capacities that must never hold more people than they have at full scale
  (ICE's beds under the cap, family beds): a bed an agent does not fill
  completely is not a bed.
- `at_least_one_agent(people, K)`: people / K rounded to the nearest whole agent
  (Python's round: halves to even), but never below one. For a sector's holding
  cells, which every apprehension passes through: with no room at all a coarse
  run would release everyone a small sector apprehends.
- `to_people(agents, K)`: agents * K, exact. For counts reported in people (the
  court backlog, a flight's passengers; the recorder scales its whole table).

The three rules are kept apart on purpose: each changes the numbers a run
writes, and output must stay byte-identical across refactors.
"""

import numpy as np


def to_agents(people, scale: int):
    """`people` (a number or an array) in agents, unrounded."""
    return people / scale


def whole_agents(people, scale: int):
    """`people` in whole agents, rounded down: an int, or an int64 array for an array."""
    if isinstance(people, np.ndarray):
        return (people / scale).astype(np.int64)
    return int(people / scale)


def at_least_one_agent(people: float, scale: int) -> int:
    """`people` in agents, rounded to the nearest (halves to even), and at least one."""
    return max(1, round(people / scale))


def to_people(agents, scale: int):
    """`agents` (a number or an array) in people."""
    return agents * scale
