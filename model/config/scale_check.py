"""Refuse a scale so coarse that a nationality would get no agents at all, or a
scenario so large at its scale that its agents would not fit in memory.

One agent stands for `scale` people. When the people a scenario sends north
from one nationality over the whole run come to less than one agent, that
nationality silently drops out of the run (at `--scale 1000000000` nobody sets
out at all); `check_scale` refuses such a scale before anything is built. It
also refuses more than MAX_AGENTS agents in a run (departures in the millions a
day at scale 1 ended in a MemoryError after minutes): historical at full scale
makes 4.6 million.
"""

import math
from datetime import date
from numbers import Integral

import numpy as np

from model.config.scenario import push_by_month
from model.config.validation import ScenarioError

MAX_AGENTS = 100_000_000  # about 150 bytes each in the model: 15 GB


def run_months(start: date, end: date) -> list[str]:
    """The calendar months a run touches, as YYYY-MM, first to last."""
    months = []
    year, month = start.year, start.month
    while (year, month) <= (end.year, end.month):
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def expected_people(loaded) -> dict[str, float]:
    """People expected to set out per nationality over the run, before feedback:
    departures per day x the mean of its monthly push index x days run."""
    months = run_months(loaded.start, loaded.end)
    days = (loaded.end - loaded.start).days + 1
    push = loaded.parameters["push"]
    expected = {}
    for nationality, per_day in loaded.parameters["departures_per_day"].items():
        index = push_by_month(push.get(nationality, {}), months)
        expected[nationality] = per_day * float(np.mean(index)) * days
    return expected


def check_scale(loaded, scale) -> None:
    """Raise ScenarioError if at `scale` some nationality expects fewer than one agent.

    The message names that nationality and N, the coarsest scale at which every
    nationality gets at least one agent. A nationality the scenario itself sends
    fewer than one person from (no departures, or a push of 0) is no scale's
    doing and is left out. A scale that is not a whole number >= 1 is left to
    BorderModel, which refuses it with its own message.
    """
    if isinstance(scale, bool) or not isinstance(scale, Integral) or scale < 1:
        return
    expected = expected_people(loaded)
    agents = sum(expected.values()) / scale
    if agents > MAX_AGENTS:
        raise ScenarioError(
            f"scale: at scale {scale} this scenario would make about {agents:,.0f} agents "
            f"(at most {MAX_AGENTS:,}): use --scale {math.ceil(agents / MAX_AGENTS * scale)} "
            f"or more, or fewer departures_per_day")
    people = {nat: n for nat, n in expected.items() if n >= 1}
    if not people:
        return
    scarcest = min(people, key=people.get)
    if scale > people[scarcest]:
        raise ScenarioError(
            f"scale: {scale} is too coarse for this scenario: fewer than one agent would set "
            f"out from {scarcest} over the whole run; use at most {int(people[scarcest])}")
