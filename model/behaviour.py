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

import numpy as np

from model.geography import MEXICAN_STATES, N_SECTORS, SECTOR_KEYS
from model.people import STATE_KM, Population, share_by_key
from model.streams import Decision, RandomStreams
from model.vocabulary import (
    DEMOGRAPHIC_KEYS,
    N_DEMOGRAPHIC,
    N_GROUPS,
    NATIONALITY_KEYS,
    RETURN_MODES,
    Demographic,
    Nationality,
    ReturnMode,
    Status,
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
        self.decay = 0.5 ** (1.0 / half_life_days)
        self.people_per_agent = float(people_per_agent)  # memory is of people, at any scale
        self.entered = np.zeros((N_GROUPS, N_SECTORS))
        self.total = np.zeros((N_GROUPS, N_SECTORS))
        self._today: list[tuple[np.ndarray, np.ndarray, bool]] = []  # the day's outcomes
        self._share = None
        self._share_by_group = None

    def record(self, groups: np.ndarray, sectors: np.ndarray, entered: bool) -> None:
        """Note today's outcomes (counted in at the end of the day)."""
        if len(groups):
            self._today.append((groups, sectors, entered))

    def end_day(self) -> None:
        cells = N_GROUPS * N_SECTORS
        entered, total = np.zeros(cells), np.zeros(cells)
        if self._today:
            groups = np.concatenate([g for g, _, _ in self._today])
            sectors = np.concatenate([s for _, s, _ in self._today])
            into = np.concatenate([np.full(len(g), e) for g, _, e in self._today])
            # people stopped in transit never chose a sector (-1): their outcome counts
            # in the last sector's cell (Rio Grande Valley, where most Central Americans head)
            cell = groups * N_SECTORS + np.where(sectors < 0, N_SECTORS - 1, sectors)
            total = np.bincount(cell, minlength=cells) * self.people_per_agent
            entered = np.bincount(cell[into], minlength=cells) * self.people_per_agent
            self._today.clear()
        self.entered = self.entered * self.decay + entered.reshape(N_GROUPS, N_SECTORS)
        self.total = self.total * self.decay + total.reshape(N_GROUPS, N_SECTORS)
        self._share = self._share_by_group = None

    def entry_share(self) -> np.ndarray:
        """(group, sector) perceived chance that an attempt ends inside the US."""
        if self._share is None:  # constant within a day: computed once
            w = self.prior_weight
            self._share = (self.entered + w * self.prior) / (self.total + w)
        return self._share

    def entry_share_by_group(self) -> np.ndarray:
        if self._share_by_group is None:
            w = self.prior_weight
            self._share_by_group = ((self.entered.sum(1) + w * self.prior[:, 0])
                                    / (self.total.sum(1) + w))
        return self._share_by_group


class Behaviour:
    """The migrants' decision rules, bound to one scenario's parameters and the
    run's random streams. Owned by `Migrants`; the sectors call `claims_fear`."""

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
        self.intent_share = np.array([scenario.asylum_intent_share[k] for k in nat])
        self.travel_days = np.array([scenario.travel_days[k] for k in nat])
        self.port_share = np.array([scenario.port_share[k] for k in DEMOGRAPHIC_KEYS])
        self.surrender = np.array([scenario.surrender_prob[k] for k in DEMOGRAPHIC_KEYS])
        self.claim_prob = np.array([scenario.claim_fear_prob[k] for k in DEMOGRAPHIC_KEYS])
        self.apprehension = np.array([scenario.apprehension_prob[k] for k in SECTOR_KEYS])
        self.retry_days = np.array([scenario.retry_days[k] for k in RETURN_MODES])
        self.give_up_prob = np.array([scenario.give_up_prob[k] for k in RETURN_MODES])
        self.push_today = np.ones(len(nat))  # the day's push index, set by `departures`
        self._group_keys = np.arange(N_GROUPS, dtype=np.uint64)

    # -- setting out -------------------------------------------------------
    def departures(self, push: np.ndarray, day: int) -> np.ndarray:
        """People (in agents) setting out on `day` per (nationality, demographic)."""
        self.push_today = push
        pull = np.exp(self.s.departure_sensitivity *
                      (self.experience.entry_share_by_group() - 0.5)).reshape(-1, N_DEMOGRAPHIC)
        lam = (self.base_departures * push)[:, None] * self.demographic_mix * pull / self.scale
        counts = self.streams.poisson_keys(Decision.DEPARTURES, self._group_keys, day, lam.ravel())
        return counts.reshape(lam.shape)

    def new_people(self, counts: np.ndarray, day: int) -> dict[str, np.ndarray]:
        """Attributes of the people setting out on `day`, given counts per group.

        Members of family units are grouped into families (`family_key`) of
        2 + Poisson(family_size_mean - 2) people, who share home state, intent
        and every later decision; `head_uid` is each person's family's first uid.
        """
        flat = counts.ravel()
        groups = np.repeat(np.arange(len(flat)), flat)
        starts = np.cumsum(flat) - flat
        ranks = np.arange(len(groups)) - np.repeat(starts, flat)
        uid = self.streams.new_uids(day, groups, ranks)
        nationality = (groups // N_DEMOGRAPHIC).astype(np.int8)
        demographic = (groups % N_DEMOGRAPHIC).astype(np.int8)
        key = np.arange(len(groups))
        in_family = np.flatnonzero(demographic == Demographic.FAMILY_UNIT)
        key[in_family] = len(groups) + self.streams.family_units(
            day, groups[in_family], self.s.family_size_mean - 2.0)
        head_uid = share_by_key(uid, key)
        u_state = self.streams.uniform_keys(Decision.ORIGIN_STATE, head_uid, day)
        origin = np.where(nationality == Nationality.MEXICO,
                          np.searchsorted(_STATE_CDF, u_state, side="right"), -1).astype(np.int8)
        intent = (self.streams.uniform_keys(Decision.ASYLUM_INTENT, head_uid, day)
                  < self.intent_share[nationality])
        return {"uid": uid, "nationality": nationality, "demographic": demographic,
                "origin_state": origin, "asylum_intent": intent,
                "status": np.full(len(groups), Status.EN_ROUTE, dtype=np.int8),
                "family_key": key, "head_uid": head_uid}

    def travel_mean(self, nationality: np.ndarray, origin_state: np.ndarray) -> np.ndarray:
        """Mean days to the border: by nationality, plus the road from a Mexican home state."""
        km = np.where(origin_state >= 0, STATE_KM[np.maximum(origin_state, 0)], 0)
        return self.travel_days[nationality] + km / 500.0

    def travel_time(self, pop: Population, rows: np.ndarray, day: int) -> np.ndarray:
        mean = self.travel_mean(pop.nationality[rows], pop.origin_state[rows])
        return 1 + self.streams.poisson(Decision.TRAVEL_DAYS, pop, rows, day,
                                        np.maximum(mean - 1.0, 0.0))

    # -- crossing ----------------------------------------------------------
    def choose_sector(self, pop: Population, rows: np.ndarray, groups: np.ndarray,
                      day: int) -> np.ndarray:
        """Sector per person: usual routes, tilted towards where peers got in lately."""
        attract = self.sector_weights * np.exp(self.s.sector_sensitivity *
                                                self.experience.entry_share())
        cdf = np.cumsum(attract / attract.sum(1, keepdims=True), axis=1)[groups]
        u = self.streams.uniform(Decision.SECTOR, pop, rows, day)[:, None]
        return np.minimum((u > cdf).sum(1), N_SECTORS - 1).astype(np.int8)

    def crossing(self, pop: Population, rows: np.ndarray, demographic: np.ndarray,
                 sectors: np.ndarray, day: int) -> tuple[np.ndarray, np.ndarray]:
        """(apprehended, at_port): who presents at a port of entry, and who is caught
        (everyone at a port, anyone who turns themselves in, and whom the sector catches)."""
        draw = self.streams.uniform
        at_port = draw(Decision.AT_PORT, pop, rows, day) < self.port_share[demographic]
        surrenders = draw(Decision.SURRENDER, pop, rows, day) < self.surrender[demographic]
        caught = draw(Decision.APPREHENSION, pop, rows, day) < self.apprehension[sectors]
        return at_port | surrenders | caught, at_port

    def claims_fear(self, pop: Population, rows: np.ndarray, day: int) -> np.ndarray:
        """People fleeing harm claim fear; others sometimes do too, the more so the
        more often people like them lately got in (a claim is a way in)."""
        u = self.streams.uniform(Decision.CLAIMS_FEAR, pop, rows, day)
        intent = pop.asylum_intent[rows]
        genuine = intent & (u < self.claim_prob[pop.demographic[rows]])
        lately_in = self.experience.entry_share()[pop.group(rows), pop.sector[rows]]
        strategic = ~intent & (u < self.s.strategic_claim_prob * lately_in)
        return genuine | strategic

    # -- after a return ----------------------------------------------------
    def retry_or_give_up(self, pop: Population, rows: np.ndarray, mode: ReturnMode, day: int
                         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Split returned people into (give up, try again) and draw when they try again.

        Giving up is likelier after costlier returns (a flight home vs. a walk
        across a bridge), after many failed attempts, and when peers lately
        did not get in.
        """
        discouraged = self._discouragement()[pop.group(rows)]
        p = (self.give_up_prob[mode] + self.s.give_up_per_encounter * pop.n_encounters[rows]) \
            * discouraged
        gives_up = self.streams.uniform(Decision.GIVE_UP, pop, rows, day) < p
        retry = rows[~gives_up]
        # hard times (a push below 1: lockdowns, closed borders) also slow re-attempts
        slow = 1.0 / np.clip(self.push_today[pop.nationality[retry]], 0.25, 1.0)
        delay = 1 + self.streams.poisson(Decision.RETRY_DAYS, pop, retry, day,
                                         np.maximum(self.retry_days[mode] * slow - 1.0, 0.0))
        return rows[gives_up], retry, delay

    def _discouragement(self) -> np.ndarray:
        """Per group, how much peers' recent failures multiply the chance to give up."""
        share = self.experience.entry_share_by_group()
        return np.exp(-self.s.give_up_sensitivity * (share - 0.5))
