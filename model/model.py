"""BorderModel: the US southwest border, one step per calendar day.

Actors: the migrants (column-wise, `Migrants`), nine Border Patrol sectors,
ICE, flights, the Mexican authorities and the immigration courts (Mesa agents).
A day runs in the order things happen on the ground:

1. Mexico opens today's MPP reception; new people set out north.
2. People due today act: arrivals are stopped by Mexico or cross, as do people
   waiting in border cities; evaders get in, the rest are apprehended (asylum
   seekers at a metered port wait on a list in Mexico instead, and the day's
   quota is taken off the lists) and Border Patrol applies the consequence of
   the day's policies in each sector (all sectors in one pass, read off the
   policy timeline).
3. Custody, detention and MPP hearings that end today are carried out.
4. ICE keeps under its cap; MPP waiting days pass; the court backlog moves.
5. Peers' experience is updated and the day's stocks are recorded.

Flights depart at the start of their day as scheduled events. Every random
draw comes from `streams` (keyed by decision, person and day: common random
numbers across scenarios).
"""

from contextlib import contextmanager
from pathlib import Path

import mesa
import numpy as np

from model.actors.border_patrol import BorderPatrol
from model.state.calendar import RunCalendar
from model.actors.courts import ImmigrationCourts
from model.actors.flights import schedule_flights
from model.actors.ice import ICE
from model.actors.metering import PortMetering
from model.actors.mexico import MexicanAuthorities
from model.actors.migrants import Migrants
from model import mesa_tools
from model.config.policies import PolicyBook
from model.state.recorder import Recorder
from model.state.scaling import whole_agents
from model.config.scenario import LoadedScenario, load_scenario, push_by_month
from model.state.streams import RandomStreams
from model.config.timeline import PolicyTimeline
from model.config.validation import ScenarioError
from model.state.vocabulary import N_ARREST, N_STATUS, NATIONALITY_KEYS, Pending, ReturnMode, Status


@contextmanager
def ctrl_c_as_keyboard_interrupt():
    """Ctrl-C raises KeyboardInterrupt, even when it lands while a compiled (numba)
    kernel is calling back into Python: CPython then reports a SystemError caused
    by the KeyboardInterrupt, which callers could not tell from a bug."""
    try:
        yield
    except SystemError as error:
        cause = error
        while cause is not None and not isinstance(cause, KeyboardInterrupt):
            cause = cause.__cause__ or cause.__context__
        if cause is not None:
            raise KeyboardInterrupt from None
        raise


class BorderModel(mesa.Model):
    """The border, one day a step: owns the calendar, the policies in force, the
    recorder and every actor, and runs a day in the order things happen.

    Built from keyword arguments alone (`BorderModel(scenario="mpp_off", seed=3,
    scale=20)`), so Mesa's SolaraViz can rebuild it on reset; `simulate()` builds
    one, runs it to the end and tabulates it. `running` turns False after the
    last day (`days_total` steps), and stepping past the end does nothing.
    `seed=None` draws a seed (kept as `seed`); `datacollector` and `space` serve
    Mesa's batch_run and SolaraViz (docs/mesa.md).
    """

    def __init__(self, scenario: "str | Path | LoadedScenario" = "historical", *,
                 seed: int | None = 0, scale: int = 1, params: dict | None = None,
                 policies: dict | None = None, start=None, end=None,
                 check_invariants: bool = False, rng=None, **settings):
        # Mesa's ways in (docs/mesa.md): seed=None draws one, rng is the seed, dotted
        # keywords are `--set` texts, a BorderScenario is SolaraViz's Reset
        scenario, params, seed, scale, overrides = mesa_tools.model_arguments(
            scenario, seed=seed, scale=scale, params=params, rng=rng, settings=settings)
        if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
            raise ScenarioError(f"seed: must be a whole number >= 0, got {seed!r}")
        if not isinstance(scale, (int, np.integer)) or isinstance(scale, bool) or scale < 1:
            raise ScenarioError(f"scale: must be a whole number >= 1, got {scale!r}")
        seed, scale = int(seed), int(scale)
        loaded = load_scenario(scenario, overrides, params=params, policies=policies,
                               start=start, end=end)
        super().__init__(scenario=mesa_tools.mesa_scenario(loaded, seed, scale))
        self.seed = seed
        self.loaded = loaded
        self.scale = scale
        self.check_each_day = check_invariants
        self.calendar = RunCalendar(loaded.start, loaded.end)
        self.days_total = self.calendar.n_days  # the run's length in days (= steps)
        self.policies = PolicyBook(loaded.policies, loaded.start)
        self.timeline = PolicyTimeline(self.policies, self.calendar.n_days, loaded.start,
                                       self.scenario.mexico_base_interception_prob)
        self.streams = RandomStreams(seed)
        self.recorder = Recorder(self.calendar.n_days, scale)
        self.push = self._push_by_month()
        self._push_rows = list(self.push)  # one object a month (`Behaviour.departures` keys on it)
        # room for everyone up front: growing millions of rows mid-run costs copies
        expected = whole_agents(sum(self.scenario.departures_per_day.values())
                                * self.calendar.n_days * self.push.mean() * 1.5, scale)
        self.migrants = Migrants(self, self.calendar.n_days, expected)
        self.migrants.seed_in_transit(self.push[0])
        self.mexico = MexicanAuthorities(self)
        self.ice = ICE(self)
        self.courts = ImmigrationCourts(self)
        self.border_patrol = BorderPatrol(self)
        self.sectors = self.border_patrol.sectors
        self.ice.interior.seed_detention()
        self.metering = PortMetering(self)
        self.metering.seed_lists()
        self.flight_log = []
        schedule_flights(self)
        self.day = 0

    def _push_by_month(self) -> np.ndarray:
        """(month, nationality) push index, each listed value carried forward
        (from months before the run's start too, when the run is a clipped one)."""
        months = self.calendar.month_labels
        return np.stack([push_by_month(self.scenario.push.get(nat, {}), months)
                         for nat in NATIONALITY_KEYS], axis=1)

    # -- running -------------------------------------------------------------
    def run(self) -> None:
        """Run from the current day to the end of the run."""
        if self.day < self.calendar.n_days:
            with ctrl_c_as_keyboard_interrupt():
                self.run_until(self.calendar.n_days)

    def step(self) -> None:
        day = self.day
        if day >= self.calendar.n_days:  # past the end: nothing more happens
            self.running = False
            return
        mig = self.migrants
        self.mexico.start_day(day)
        mig.set_out(day, self._push_rows[self.calendar.month_of_day[day]])

        due = mig.pop.due(day)
        arriving = due[Status.EN_ROUTE]
        stopped, arrived = self.mexico.intercepts(arriving, day)
        self.recorder.add("mexico_interceptions", len(stopped))
        mig.send_back(stopped, ReturnMode.MEXICO_DEPORT, Status.AT_HOME, day)
        crossers = np.concatenate([arrived, due[Status.AT_BORDER]])
        caught, sectors, at_port = mig.attempt_crossing(crossers, day)
        caught, sectors, at_port = self.metering.at_ports(due[Status.METERED], caught, sectors,
                                                          at_port, day)
        mig.record_encounters(caught, sectors, at_port, day)
        self.border_patrol.process(caught, sectors, day)

        self.border_patrol.finish_custody(due[Status.IN_CBP_CUSTODY], day)
        self.ice.on_due(due[Status.IN_ICE_DETENTION], day)
        self.ice.families.on_due(due[Status.IN_FAMILY_DETENTION], day)
        self.courts.hear(due[Status.MPP_WAITING], day)
        awaiting_hearing, final_order = mig.split_pending(due[Status.RELEASED_IN_US],
                                                          Pending.FINAL_ORDER)
        self.courts.hear_regular(awaiting_hearing, day)
        self.ice.interior.arrest_final_orders(final_order, day)
        mig.start_journey(due[Status.AT_HOME], day)

        self.ice.interior.arrest(day)
        self.ice.enforce_cap(day)
        self.ice.families.keep_to_beds(day)
        self.courts.mpp_daily(day)
        self.courts.end_day(day)
        mig.behaviour.experience.end_day()
        mig.record_stocks()
        if self.check_each_day:
            self.check_invariants()
        self.day += 1
        self.recorder.day = min(self.day, self.calendar.n_days - 1)
        if self.day >= self.calendar.n_days:
            self.running = False

    # -- Mesa's tools (built when first asked for: nothing per day) --------------------
    @property
    def datacollector(self) -> mesa.DataCollector:
        """A mesa.DataCollector with one row per day run, read from the recorder
        (`mesa_tools.RecorderDataCollector`), as batch_run and make_plot_component use it."""
        if self._datacollector is None:
            self._datacollector = mesa_tools.RecorderDataCollector(self)
        return self._datacollector

    @datacollector.setter
    def datacollector(self, collector: mesa.DataCollector) -> None:
        self._datacollector = collector

    _datacollector = None

    @property
    def space(self):
        """The nine sector agents in a mesa ContinuousSpace (longitude, latitude), as
        make_space_component draws it."""
        if self._space is None:
            self._space = mesa_tools.sector_space(self)
        return self._space

    _space = None

    @property
    def today(self):
        """The calendar date of the day the next step runs (the last day once finished)."""
        return self.calendar.date(min(self.day, self.calendar.n_days - 1))

    # -- invariants ------------------------------------------------------------
    def check_invariants(self) -> None:
        """Conservation and capacities; raises AssertionError naming what broke."""
        pop = self.migrants.pop
        counted = np.bincount(pop.status[: pop.n], minlength=N_STATUS)
        assert np.array_equal(counted, pop.status_counts), (counted, pop.status_counts)
        assert counted.sum() == pop.n, "status counts do not sum to everyone created"
        by_arrest = np.zeros((N_ARREST, N_STATUS), dtype=np.int64)
        np.add.at(by_arrest, (pop.arrest[: pop.n], pop.status[: pop.n]), 1)
        assert np.array_equal(by_arrest, pop.arrest_counts), (by_arrest, pop.arrest_counts)
        added = self.migrants.people_set_out + self.ice.interior.people_added
        assert pop.n == added, f"{pop.n} people in the run, {added} set out or entered through ICE"
        families = self.ice.families
        assert families.held <= families.capacity(self.day), (
            f"day {self.day}: {families.held} in family detention > {families.capacity(self.day)}")
        in_family = pop.status[: pop.n] == Status.IN_FAMILY_DETENTION
        if in_family.any():
            stay = self.day - pop.status_since[: pop.n][in_family].min()
            limit = max(self.timeline.family_max_days[max(self.day - int(stay), 0): self.day + 1])
            assert stay <= limit, f"day {self.day}: a family held {stay} days (limit {limit})"
        assert self.ice.detained <= self.ice.capacity(self.day), (
            f"day {self.day}: {self.ice.detained} detained > cap {self.ice.capacity(self.day)}")
        rows = np.arange(pop.n)
        members = pop.family[: pop.n] != rows  # everyone but each family's first member
        first = pop.family[: pop.n][members]
        for column in ("status", "next_day", "sector"):
            values = getattr(pop, column)
            split = np.count_nonzero(values[rows[members]] != values[first])
            assert split == 0, f"{split} family members apart from their family in {column}"
        self.metering.check_lists()
        in_custody = pop.status[: pop.n] == Status.IN_CBP_CUSTODY
        for sector in self.sectors:
            n = int(np.count_nonzero(in_custody & (pop.sector[: pop.n] == sector.index)))
            assert n == sector.in_custody, f"{sector.name}: custody count {sector.in_custody} != {n}"
            assert n <= sector.holding_capacity, f"{sector.name}: {n} > {sector.holding_capacity}"
