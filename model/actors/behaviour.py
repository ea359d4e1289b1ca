"""What migrants decide, as vectorised draws over the rows acting today.

The decisions read `Experience`: for each behaviour group (nationality x
demographic) and sector, the recent share of outcomes that ended with the
person inside the US (released, evaded, admitted) rather than sent back. That
shared memory is the feedback: a policy that returns people changes what their
peers do next: whether they set out, which sector they try, and whether they
try again after a return.

Every draw goes through `model.streams` with its own `Decision`, keyed by the
person (their family's first member, so a family decides as one) and the day.
"""

import numba
import numpy as np

from model.state.geography import MEXICAN_STATES, N_SECTORS, SECTOR_KEYS
from model.state.people import STATE_KM, Population
from model.state.scaling import to_agents
from model.state.streams import (
    Decision,
    RandomStreams,
    draw_unit,
    new_uid,
    place_key,
    poisson_from_unit,
)
from model.state.vocabulary import (
    CROSS_BETWEEN_PORTS,
    DEMOGRAPHIC_KEYS,
    FAMILY_UNIT,
    MEXICO,
    NATIONALITY_KEYS,
    N_DEMOGRAPHIC,
    N_GROUPS,
    RETURN_MODES,
    UNACCOMPANIED_CHILD,
    Nationality,
    ReturnMode,
)

_STATE_CDF = np.cumsum([s.migrant_weight for s in MEXICAN_STATES])
_STATE_CDF = _STATE_CDF / _STATE_CDF[-1]


class Experience:
    """Exponentially-weighted record of recent outcomes per group and sector.

    Owned by `Behaviour`; `Migrants.record_outcome` feeds it, the decisions read it.
    """

    def __init__(self, prior_by_demographic: dict[str, float], prior_weight: float,
                 half_life_days: float, people_per_agent: int = 1):
        prior = np.array([prior_by_demographic[k] for k in DEMOGRAPHIC_KEYS])
        self.prior = np.tile(prior, len(Nationality))[:, None] * np.ones((1, N_SECTORS))
        self.prior_weight = prior_weight
        # the prior's weight in each cell and in each group's row (constant: computed once)
        self._prior_cells = prior_weight * self.prior
        self._prior_groups = prior_weight * self.prior[:, 0]
        self.decay = 0.5 ** (1.0 / half_life_days)
        self.people_per_agent = float(people_per_agent)  # memory is of people, at any scale
        self.entered = np.zeros((N_GROUPS, N_SECTORS))
        self.total = np.zeros((N_GROUPS, N_SECTORS))
        self._today = np.zeros((2, N_GROUPS, N_SECTORS))  # today's (entered, total), people
        # (group, sector) share (`entry_share`): kept up to date by `end_day`
        self._share = (self.entered + self._prior_cells) / (self.total + self.prior_weight)
        self._share_by_group = None

    def record(self, pop: Population, rows: np.ndarray, entered: bool) -> None:
        """Count today's outcomes for `rows`, by their group and latest sector
        (they join the memory at the end of the day)."""
        if len(rows):
            count_outcomes(rows, entered, self.memory(pop))

    def memory(self, pop: Population) -> tuple:
        """What `count_outcomes` writes today's outcomes into, and reads them from."""
        return self._today, pop.group, pop.sector, self.people_per_agent

    def end_day(self) -> None:
        _remember_today(self.entered, self.total, self._today, self.decay, self._prior_cells,
                        self.prior_weight, self._share)
        self._share_by_group = None

    def entry_share(self) -> np.ndarray:
        """(group, sector) perceived chance that an attempt ends inside the US (constant
        within a day)."""
        return self._share

    def entry_share_by_group(self) -> np.ndarray:
        if self._share_by_group is None:
            self._share_by_group = ((self.entered.sum(1) + self._prior_groups)
                                    / (self.total.sum(1) + self.prior_weight))
        return self._share_by_group


@numba.njit(cache=True)
def _remember_today(entered, total, today, decay, prior_cells, prior_weight, share):
    """`Experience.end_day` in place: the memory decays and takes in today's outcomes,
    which are cleared (element by element as numpy did it: a product, then a sum), and
    each cell's share of entries is worked out anew, with the prior (as numpy did it:
    two sums, then a quotient)."""
    for g in range(entered.shape[0]):
        for s in range(entered.shape[1]):
            entered[g, s] = entered[g, s] * decay + today[0, g, s]
            total[g, s] = total[g, s] * decay + today[1, g, s]
            today[0, g, s] = 0.0
            today[1, g, s] = 0.0
            share[g, s] = (entered[g, s] + prior_cells[g, s]) / (total[g, s] + prior_weight)


@numba.njit(cache=True)
def count_outcomes(rows, entered, memory):
    """Add each row's outcome to today's (entered, total) per group and sector
    (`memory`: `Experience.memory`'s arrays). People stopped in transit never chose
    a sector (-1): their outcome counts in the last sector's cell (Rio Grande
    Valley, where most Central Americans head). Called by `Experience.record` and
    by compiled moves that return people (`Migrants.send_back`)."""
    today, group, sector, weight = memory
    last = today.shape[2] - 1
    for r in rows:
        cell = sector[r] if sector[r] >= 0 else last
        today[1, group[r], cell] += weight
        if entered:
            today[0, group[r], cell] += weight


class Behaviour:
    """The migrants' decision rules, bound to one scenario's parameters and the
    run's random streams. Owned by `Migrants`; Border Patrol reads its claim
    rates and `experience` for fear claims."""

    def __init__(self, scenario, streams: RandomStreams, scale: int):
        self.s = scenario
        self.streams = streams
        self.scale = scale
        self.experience = Experience(scenario.experience_prior, scenario.experience_prior_weight,
                                     scenario.experience_half_life_days, scale)
        nat = NATIONALITY_KEYS
        fam = np.array([scenario.family_share[k] for k in nat])
        uac = np.array([scenario.child_share[k] for k in nat])
        if np.any(fam + uac > 1):
            bad = nat[int(np.argmax(fam + uac))]
            raise ValueError(f"family_share + child_share exceeds 1 for {bad}")
        self.demographic_mix = np.stack([1 - fam - uac, fam, uac], axis=1)  # (nat, demo)
        weights = np.array([[scenario.sector_weights[k][s] for s in SECTOR_KEYS] for k in nat])
        if np.any(weights.sum(1) <= 0):
            bad = nat[int(np.argmin(weights.sum(1)))]
            raise ValueError(f"sector_weights.{bad}: all weights are zero")
        self.sector_weights = np.repeat(weights / weights.sum(1, keepdims=True),
                                        N_DEMOGRAPHIC, axis=0)  # (group, sector)
        self.base_departures = np.array([scenario.departures_per_day[k] for k in nat])
        # each group's departure sensitivity: the shared one times its demographic's factor
        factor = np.array([scenario.departure_sensitivity_factor[k] for k in DEMOGRAPHIC_KEYS])
        self.departure_sensitivity = scenario.departure_sensitivity * np.tile(factor, len(nat))
        self.intent_share = np.array([scenario.asylum_intent_share[k] for k in nat])
        self.travel_days = np.array([scenario.travel_days[k] for k in nat])
        self.port_share = np.array([scenario.port_share[k] for k in DEMOGRAPHIC_KEYS])
        self.surrender = np.array([scenario.surrender_prob[k] for k in DEMOGRAPHIC_KEYS])
        self.claim_prob = np.array([scenario.claim_fear_prob[k] for k in DEMOGRAPHIC_KEYS])
        self.apprehension = np.array([scenario.apprehension_prob[k] for k in SECTOR_KEYS])
        self.retry_days = np.array([scenario.retry_days[k] for k in RETURN_MODES])
        self.give_up_prob = np.array([scenario.give_up_prob[k] for k in RETURN_MODES])
        # what `retry_inputs` reads for each ReturnMode (thousands of times a run)
        self._retry_of_mode = [
            (streams.keys[Decision.GIVE_UP], streams.keys[Decision.RETRY_DAYS],
             self.give_up_prob[mode], scenario.give_up_per_encounter, self.retry_days[mode])
            for mode in range(len(RETURN_MODES))]
        # what `new_people_rows` draws newcomers from (constant for the run)
        keys = streams.keys
        self.people_draws = (keys[Decision.PERSON_UID], keys[Decision.FAMILY_SIZE],
                             keys[Decision.ORIGIN_STATE], keys[Decision.ASYLUM_INTENT],
                             scenario.family_size_mean - 2.0, _STATE_CDF, self.intent_share)
        self.cross_draws = (keys[Decision.SECTOR], keys[Decision.AT_PORT],
                            keys[Decision.SURRENDER], keys[Decision.APPREHENSION],
                            self.port_share, self.surrender, self.apprehension)
        self.push_today = np.ones(len(nat))  # the day's push index, set by `departures`
        self._discouraged_for = self._discouraged = None
        self._group_keys = np.arange(N_GROUPS, dtype=np.uint64)
        # agents setting out per day and group before the push and the feedback
        self._departures_per_group = to_agents(self.base_departures[:, None] * self.demographic_mix,
                                               scale).ravel()

    # -- setting out -------------------------------------------------------
    def departures(self, push: np.ndarray, day: int) -> np.ndarray:
        """People (in agents) setting out on `day` per (nationality, demographic): the base
        flow times the month's push and the pull of peers' recent entry share, each
        group with its demographic's sensitivity; then families' self-separation
        (`separated`)."""
        if push is not self.push_today:  # a new month (`BorderModel` hands one row a month)
            self.push_today = push
            self._pushed_per_group = self._departures_per_group * np.repeat(push, N_DEMOGRAPHIC)
        share = self.experience.entry_share_by_group()
        pull = np.exp(self.departure_sensitivity * (share - 0.5))
        lam = self._pushed_per_group * pull
        if self.s.self_separation > 0:
            lam = separated(lam, share, self.s.self_separation, self.s.family_size_mean)
        counts = self.streams.poisson_keys(Decision.DEPARTURES, self._group_keys, day, lam)
        return counts.reshape(-1, N_DEMOGRAPHIC)

    def new_people(self, counts: np.ndarray, day: int) -> dict[str, np.ndarray]:
        """Attributes of the people setting out on `day`, given counts per group.

        Members of family units are grouped into families (`family_key`) of
        2 + Poisson(family_size_mean - 2) people, who share home state, intent
        and every later decision; `head_uid` is each person's family's first uid.
        """
        n = int(counts.sum())
        uid, family_key = np.empty(n, dtype=np.uint64), np.empty(n, dtype=np.int64)
        origin, intent = np.empty(n, dtype=np.int8), np.empty(n, dtype=np.bool_)
        nationality, demographic = np.empty(n, dtype=np.int8), np.empty(n, dtype=np.int8)
        new_people_rows(counts.ravel(), 0, self.draw_day(day), self.people_draws, (
            uid, family_key, origin, intent, nationality, demographic, np.empty(n, dtype=np.int8)))
        return {"uid": uid, "nationality": nationality, "demographic": demographic,
                "origin_state": origin, "asylum_intent": intent,
                "family_key": family_key, "head_uid": uid[family_key]}

    def add_people(self, pop: Population, counts: np.ndarray, key_day: int, day: int,
                   arrest: int = 0) -> np.ndarray:
        """`new_people` written straight into `pop` (no arrays of attributes in between:
        people set out and are arrested in the interior every day): they join on
        `day`, drawn as people who set out on `key_day`, arrested as `arrest`
        (`Arrest`). Returns their rows."""
        count = int(counts.sum())
        pop.make_room(count)
        new_people_rows(counts.ravel(), pop.n, self.draw_day(key_day), self.people_draws,
                        self.columns(pop))
        return pop.add_written(count, day, arrest)

    def draw_day(self, day: int) -> int:
        """`day` as the compiled draws take it (`RandomStreams.day_offset` added)."""
        return day + self.streams.day_offset

    @staticmethod
    def columns(pop: Population) -> tuple:
        """The population's columns `new_people_rows` writes, in its order."""
        return (pop.uid, pop.family, pop.origin_state, pop.asylum_intent, pop.nationality,
                pop.demographic, pop.group)

    def travel_inputs(self, pop: Population, day: int) -> tuple:
        """What `travel_time_rows` draws the days on the road of people setting out on
        `day` from (families travel together)."""
        return (pop.uid, pop.family, pop.nationality, pop.origin_state,
                day + self.streams.day_offset, self.streams.keys[Decision.TRAVEL_DAYS],
                self.travel_days, STATE_KM)

    def travel_time_of(self, person: np.ndarray, nationality: np.ndarray,
                       origin_state: np.ndarray, day: int) -> np.ndarray:
        """Days on the road, 1 + Poisson(mean - 1), for people keyed by `person` (their
        family's first uid): the mean by nationality, plus the road from a Mexican
        home state at 500 km a day."""
        return _travel_time(person, nationality, origin_state, day + self.streams.day_offset,
                            self.streams.keys[Decision.TRAVEL_DAYS], self.travel_days, STATE_KM)

    # -- crossing ----------------------------------------------------------
    def cross_inputs(self, pop: Population, day: int) -> tuple:
        """What `cross_rows` draws the crossings of `day` from: the population's columns,
        each group's routes tilted by peers' experience (`attract`, and its total over
        the sectors) and the run's constant `cross_draws`.

        The sector follows the group's usual routes, tilted towards where peers
        got in lately; people present at a port of entry or cross between
        ports (always between them just after leaving a metering list: that
        mark, `Pending.CROSS_BETWEEN_PORTS`, is used up by the crossing), and are
        caught if at a port, if they turn themselves in, or if the sector
        catches them."""
        attract = self.sector_weights * np.exp(self.s.sector_sensitivity *
                                                self.experience.entry_share())
        return (pop.uid, pop.family, pop.nationality, pop.demographic, pop.pending,
                day + self.streams.day_offset, attract, attract.sum(1), self.cross_draws)

    # -- after a return ----------------------------------------------------
    def retry_or_give_up(self, pop: Population, rows: np.ndarray, mode: ReturnMode, day: int
                         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Split returned people into (give up, try again) and draw when they try again.

        Giving up is likelier after costlier returns (a flight home vs. a walk
        across a bridge), after many failed attempts, and when peers lately
        did not get in.
        """
        gives_up, delay = retry_or_give_up_rows(rows, self.retry_inputs(pop, mode, day))
        retry = ~gives_up
        return rows[gives_up], rows[retry], delay[retry]

    def retry_inputs(self, pop: Population, mode: ReturnMode, day: int) -> tuple:
        """What `retry_or_give_up_rows` decides from, after a return by `mode` on `day`."""
        give_up_key, retry_key, give_up_prob, per_encounter, retry_days = self._retry_of_mode[mode]
        return (pop.uid, pop.family, pop.nationality, pop.demographic, pop.n_encounters,
                day + self.streams.day_offset, give_up_key, retry_key, give_up_prob,
                per_encounter, self._discouragement(), retry_days, self.push_today)

    def _discouragement(self) -> np.ndarray:
        """Per group, how much peers' recent failures multiply the chance to give up
        (computed once a day: the memory changes only at the end of a day)."""
        share = self.experience.entry_share_by_group()
        if self._discouraged_for is not share:
            self._discouraged = np.exp(-self.s.give_up_sensitivity * (share - 0.5))
            self._discouraged_for = share
        return self._discouraged


def separated(lam: np.ndarray, share: np.ndarray, rate: float, family_size: float) -> np.ndarray:
    """Departures per group (`lam`, nationality-major) after self-separation: where a
    nationality's children alone lately got in more often than its families (`share`, per
    group), a family about to set out sends one child alone instead with chance
    min(1, rate x the gap); that family's members leave the family-unit flow and one child
    per family (`family_size` people) joins the unaccompanied children's. The parents
    stay behind (not modelled further)."""
    lam = lam.reshape(-1, N_DEMOGRAPHIC).copy()
    shares = share.reshape(-1, N_DEMOGRAPHIC)
    gap = np.maximum(shares[:, UNACCOMPANIED_CHILD] - shares[:, FAMILY_UNIT], 0.0)
    moved = lam[:, FAMILY_UNIT] * np.minimum(rate * gap, 1.0)
    lam[:, FAMILY_UNIT] -= moved
    lam[:, UNACCOMPANIED_CHILD] += moved / family_size
    return lam.ravel()


@numba.njit(cache=True)
def new_people_rows(counts, at, day, draws, columns):
    """`Behaviour.new_people` and `add_people` in one pass over the day's newcomers
    (`counts` per group, setting out on `day` (`Behaviour.draw_day`); `draws`:
    `Behaviour.people_draws`), group by group: each
    person's uid, family (the index of its first member), home state (-1: not
    Mexican), asylum intent, nationality, demographic and behaviour group, written
    into `columns` (`Behaviour.columns`) from index `at` on. Also called by the
    compiled `Migrants.set_out`."""
    uid_key, family_key, state_key, intent_key, extra_family_size, state_cdf, intent_share = draws
    uid, family, origin, intent, nationalities, demographics, groups = columns
    i = at
    home = -1
    for group in range(counts.size):
        nationality = group // N_DEMOGRAPHIC
        in_families = group % N_DEMOGRAPHIC == FAMILY_UNIT
        left = 0  # places left in the current family
        place = 0  # families started in this group today
        for rank in range(counts[group]):
            uid[i] = new_uid(uid_key, day, group, rank)
            if not in_families or left == 0:
                first = i
                head = uid[i]
                if in_families:
                    u = draw_unit(family_key, place_key(day, group, place), 0)
                    left = 2 + poisson_from_unit(u, extra_family_size)
                    place += 1
                if nationality == MEXICO:
                    u = draw_unit(state_key, head, day)
                    state = 0
                    while state < state_cdf.size - 1 and u >= state_cdf[state]:
                        state += 1
                    home = state
                shared_intent = draw_unit(intent_key, head, day) < intent_share[nationality]
            family[i] = first
            left -= 1
            origin[i] = home if nationality == MEXICO else -1
            intent[i] = shared_intent
            nationalities[i] = nationality
            demographics[i] = group % N_DEMOGRAPHIC
            groups[i] = group
            i += 1


@numba.njit(cache=True)
def _travel_time(person, nationality, origin_state, day, key, travel_days, state_km):
    """`Behaviour.travel_time_of` for each person."""
    out = np.empty(person.size, dtype=np.int64)
    for i in range(person.size):
        out[i] = _days_on_road(person[i], nationality[i], origin_state[i], day, key,
                               travel_days, state_km)
    return out


@numba.njit(cache=True)
def travel_time_rows(rows, inputs):
    """Days on the road for each of `rows` (`Behaviour.travel_inputs`): for the compiled
    `Migrants.start_journey`."""
    uid, family, nationality, origin_state, day, key, travel_days, state_km = inputs
    out = np.empty(rows.size, dtype=np.int64)
    for i in range(rows.size):
        r = rows[i]
        out[i] = _days_on_road(uid[family[r]], nationality[r], origin_state[r], day, key,
                               travel_days, state_km)
    return out


@numba.njit(cache=True, inline="always")
def _days_on_road(person, nationality, origin_state, day, key, travel_days, state_km):
    """1 + Poisson(mean - 1) days: the mean by nationality, plus the road from a
    Mexican home state at 500 km a day."""
    mean = travel_days[nationality]
    if origin_state >= 0:
        mean += state_km[origin_state] / 500.0
    return 1 + poisson_from_unit(draw_unit(key, person, day), max(mean - 1.0, 0.0))


@numba.njit(cache=True)
def _routes_cdf(attract, totals):
    """Each group's cumulative share of its `attract` over the sectors (`totals`: per
    group), element by element as numpy's cumsum(attract / totals[:, None], axis=1)."""
    cdf = np.empty_like(attract)
    for g in range(attract.shape[0]):
        cdf[g, 0] = attract[g, 0] / totals[g]
        for s in range(1, attract.shape[1]):
            cdf[g, s] = cdf[g, s - 1] + attract[g, s] / totals[g]
    return cdf


@numba.njit(cache=True)
def cross_rows(rows, inputs):
    """Everyone in `rows` crosses: (sector, apprehended, at a port) per row, in one pass
    (`inputs`: `Behaviour.cross_inputs`). Called by the compiled
    `Migrants.attempt_crossing`."""
    uid, family, nationality, demographic, pending, day, attract, totals, draws = inputs
    sector_key, port_key, surrender_key, caught_key, port_share, surrender, apprehension = draws
    sector_cdf = _routes_cdf(attract, totals)
    n = rows.size
    sectors = np.empty(n, dtype=np.int8)
    caught = np.empty(n, dtype=np.bool_)
    at_port = np.empty(n, dtype=np.bool_)
    last = sector_cdf.shape[1] - 1
    for i in range(n):
        r = rows[i]
        person = uid[family[r]]
        demo = demographic[r]
        group = nationality[r] * N_DEMOGRAPHIC + demo
        u = draw_unit(sector_key, person, day)
        sector = 0
        while sector < last and u > sector_cdf[group, sector]:
            sector += 1
        port = draw_unit(port_key, person, day) < port_share[demo]
        if pending[r] == CROSS_BETWEEN_PORTS:
            port = False
            pending[r] = -1
        gives_in = draw_unit(surrender_key, person, day) < surrender[demo]
        seen = draw_unit(caught_key, person, day) < apprehension[sector]
        sectors[i] = sector
        at_port[i] = port
        caught[i] = port or gives_in or seen
    return sectors, caught, at_port


@numba.njit(cache=True)
def retry_or_give_up_rows(rows, inputs):
    """`Behaviour.retry_or_give_up` for each row, in one pass: (gives up, days until
    trying again), from `Behaviour.retry_inputs`. Hard times (a push below 1:
    lockdowns, closed borders) slow re-attempts too. Also called by the compiled
    `Migrants.send_back`."""
    (uid, family, nationality, demographic, n_encounters, day, give_up_key, retry_key,
     give_up_prob, per_encounter, discouraged, retry_days, push) = inputs
    gives_up = np.zeros(rows.size, dtype=np.bool_)
    delay = np.zeros(rows.size, dtype=np.int64)
    for i in range(rows.size):
        r = rows[i]
        person = uid[family[r]]
        group = nationality[r] * N_DEMOGRAPHIC + demographic[r]
        p = (give_up_prob + per_encounter * n_encounters[r]) * discouraged[group]
        if draw_unit(give_up_key, person, day) < p:
            gives_up[i] = True
        else:
            slow = 1.0 / min(max(push[nationality[r]], 0.25), 1.0)
            lam = max(retry_days * slow - 1.0, 0.0)
            delay[i] = 1 + poisson_from_unit(draw_unit(retry_key, person, day), lam)
    return gives_up, delay
