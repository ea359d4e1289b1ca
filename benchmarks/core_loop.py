"""The model's core loop written twice, to measure what the column-wise design buys.

The loop is the real model with the policy taken out: people wait at the
border and cross on the day they are due; each picks a sector and is
apprehended with that sector's probability or gets in (evades, done). An
apprehended person is returned at a port and then gives up, likelier the more
often they have been caught, or tries again a few days later. A steady inflow
of new people keeps the population growing, as departures do in the real model.

- `run_vectorised` is written the way `model/` is: people are rows of
  `model.state.people.Population`, whose moves schedule people on its
  `DueQueue` (`Population.move`, `Population.due`: who is due each day), and
  each decision is one numpy draw over the day's due rows.
- `run_per_object` is the same loop as a typical Mesa user would write it:
  one `mesa.Agent` per person, `model.agents.do("step")` each day, scalar draws
  from `model.rng`.

Both use the same parameters (`LoopParams`) and give the same totals up to
sampling noise (`check_same_work`), so the ratio of their wall times measures
the design and nothing else.

    python benchmarks/core_loop.py      # quick self-test: same work, and timings
"""

import sys
import time
from bisect import bisect_right
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `model` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import mesa
import numpy as np

from model.state.geography import N_SECTORS
from model.state.people import Population, Status

TOTALS = ("encounters", "evasions", "gave_up")


@dataclass(frozen=True)
class LoopParams:
    """The loop's parameters, shared by both implementations."""

    # historical.toml defaults: Mexicans' sector weights, 0.75 apprehension everywhere
    sector_weights: tuple[float, ...] = (17, 8, 4, 17, 10, 2, 12, 12, 18)
    apprehension: tuple[float, ...] = (0.75,) * N_SECTORS
    give_up_base: float = 0.15
    give_up_per_encounter: float = 0.02  # times encounters so far, this one included
    retry_poisson_mean: float = 6.0  # a returned person tries again after 1 + Poisson(6) days
    inflow_share: float = 0.01  # new people each day, as a share of the initial n

    def sector_cdf(self) -> list[float]:
        """Cumulative sector shares; a uniform draw u picks bisect_right(cdf, u)."""
        w = np.asarray(self.sector_weights, dtype=float)
        cdf = np.cumsum(w / w.sum())
        cdf[-1] = 1.0  # so no draw in [0, 1) can fall past the last sector
        return cdf.tolist()

    def inflow(self, n: int) -> int:
        return int(round(n * self.inflow_share))


PARAMS = LoopParams()


def _result(counts: dict, people_created: int, started: float) -> dict:
    return {**counts, "people_created": people_created,
            "wall_s": time.perf_counter() - started}


# -- (a) column-wise, with the project's own components -------------------------

def run_vectorised(n: int, days: int, seed: int, params: LoopParams = PARAMS) -> dict:
    """The loop over `Population` rows; each day's work is proportional to who is due."""
    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    inflow = params.inflow(n)
    pop = Population(capacity=n + inflow * days, n_days=days)
    cdf, apprehension = np.asarray(params.sector_cdf()), np.asarray(params.apprehension)
    counts = dict.fromkeys((*TOTALS, "people_days"), 0)
    _arrive(pop, n, day=0)
    for day in range(days):
        _arrive(pop, inflow, day)
        counts["people_days"] += pop.n
        due = pop.due(day)[Status.AT_BORDER]
        _cross(pop, due, day, rng, cdf, apprehension, params, counts)
    return _result(counts, pop.n, started)


def _arrive(pop: Population, count: int, day: int) -> None:
    """New people at the border, due to cross today."""
    rows = pop.add(count, day=day, status=Status.AT_BORDER)
    pop.move(rows, Status.AT_BORDER, day, 0)  # due today


def _cross(pop: Population, rows: np.ndarray, day: int,
           rng: np.random.Generator, cdf: np.ndarray, apprehension: np.ndarray,
           params: LoopParams, counts: dict) -> None:
    """Everyone in `rows` crosses today; one vectorised draw per decision."""
    sector = np.searchsorted(cdf, rng.random(len(rows)), side="right").astype(np.int8)
    pop.sector[rows] = sector
    caught = rng.random(len(rows)) < apprehension[sector]

    evaders = rows[~caught]
    pop.move(evaders, Status.EVADED_INTO_US, day)  # no due day

    returned = rows[caught]
    pop.n_encounters[returned] += 1
    p_give_up = np.minimum(
        params.give_up_base + params.give_up_per_encounter * pop.n_encounters[returned], 1.0)
    gives_up = rng.random(len(returned)) < p_give_up
    quitters = returned[gives_up]
    pop.move(quitters, Status.GAVE_UP, day)

    retry = returned[~gives_up]
    delay = 1 + rng.poisson(params.retry_poisson_mean, len(retry))
    pop.move(retry, Status.AT_BORDER, day, delay)

    counts["encounters"] += len(returned)
    counts["evasions"] += len(evaders)
    counts["gave_up"] += len(quitters)


# -- (b) one Mesa agent per person ----------------------------------------------

class Person(mesa.Agent):
    """One migrant as a Mesa agent holding its own state.

    Written as a typical Mesa user would: every agent is stepped every day and
    returns at once unless it is due; a person who evades or gives up is done
    and calls `self.remove()`, so the daily `agents.do("step")` only walks the
    people still in the loop. Removing them is the faster of the two usual
    choices (the other is keeping them and skipping on a status), so the
    speed-up measured against this version is, if anything, understated.
    Likewise the sector draw is a bisect on precomputed cumulative weights
    rather than `rng.choice(9, p=...)`, which costs over 10x more per call.
    """

    def __init__(self, model: "PerObjectLoop", due_day: int):
        super().__init__(model)
        self.next_day = due_day
        self.n_encounters = 0
        self.sector = -1

    def step(self) -> None:
        model = self.model
        if self.next_day != model.day:
            return
        rng, params = model.rng, model.params
        self.sector = bisect_right(model.sector_cdf, rng.random())
        if rng.random() >= params.apprehension[self.sector]:
            model.evasions += 1
            self.remove()
            return
        model.encounters += 1
        self.n_encounters += 1
        p_give_up = min(1.0, params.give_up_base
                        + params.give_up_per_encounter * self.n_encounters)
        if rng.random() < p_give_up:
            model.gave_up += 1
            self.remove()
            return
        self.next_day = model.day + 1 + int(rng.poisson(params.retry_poisson_mean))


class PerObjectLoop(mesa.Model):
    """The loop as a plain Mesa model: one step per day, every agent stepped."""

    def __init__(self, n: int, seed: int, params: LoopParams = PARAMS):
        super().__init__(rng=seed)
        self.params = params
        self.sector_cdf = params.sector_cdf()
        self.inflow = params.inflow(n)
        self.day = 0
        self.encounters = self.evasions = self.gave_up = 0
        self.people_days = 0
        self.people_created = n
        Person.create_agents(self, n, 0)

    def step(self) -> None:
        Person.create_agents(self, self.inflow, self.day)
        self.people_created += self.inflow
        self.people_days += self.people_created
        self.agents.do("step")
        self.day += 1


def run_per_object(n: int, days: int, seed: int, params: LoopParams = PARAMS) -> dict:
    """The loop with one Mesa agent per person, run with Mesa 3.5's `run_for`."""
    started = time.perf_counter()
    model = PerObjectLoop(n, seed, params)
    model.run_for(days)
    counts = {k: getattr(model, k) for k in (*TOTALS, "people_days")}
    return _result(counts, model.people_created, started)


# -- self-test ----------------------------------------------------------------

def check_same_work(n: int = 50_000, days: int = 180, seed: int = 1,
                    rel_tol: float = 0.03) -> tuple[dict, dict]:
    """Both versions must do the same work: equal people-days, totals within `rel_tol`.

    The draws differ (one vector per decision vs. one scalar per person), so
    the totals agree only in distribution; at this n their sampling noise is
    well under 1%.
    """
    vec = run_vectorised(n, days, seed)
    obj = run_per_object(n, days, seed)
    assert_same_work(vec, obj, rel_tol)
    return vec, obj


def assert_same_work(vec: dict, obj: dict, rel_tol: float = 0.03) -> None:
    """Raise AssertionError unless two results did the same work (see `check_same_work`).

    People and people-days must be equal. Each total may differ by `rel_tol`
    of itself, or, for small runs where that is below the sampling noise, by
    4 x sqrt(sum of the two counts), a generous bound on that noise.
    """
    assert vec["people_days"] == obj["people_days"], (vec, obj)
    assert vec["people_created"] == obj["people_created"], (vec, obj)
    for key in TOTALS:
        a, b = vec[key], obj[key]
        allowed = max(rel_tol * max(a, b), 4.0 * (a + b) ** 0.5)
        assert abs(a - b) <= allowed, (key, vec, obj)


if __name__ == "__main__":
    vec, obj = check_same_work()
    for name, res in (("vectorised", vec), ("per-object", obj)):
        print(f"{name:>11}: " + ", ".join(f"{k}={v:,}" for k, v in res.items() if k != "wall_s")
              + f", {res['wall_s']:.2f} s")
    print(f"same work; speed-up {obj['wall_s'] / vec['wall_s']:.0f}x")
