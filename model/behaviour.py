"""What migrants decide, as vectorised draws over the rows acting today.

The decisions read `Experience`: for each behaviour group (nationality x
demographic) and sector, the recent share of outcomes that ended with the
person inside the US (released, evaded, admitted) rather than sent back. That
shared memory is the feedback: a policy that returns people changes what their
peers do next: whether they set out, which sector they try, and whether they
try again after a return.
"""

import numpy as np

from model.geography import N_SECTORS, SECTOR_KEYS
from model.people import (
    STATE_KM,
    N_DEMOGRAPHIC,
    N_GROUPS,
    Demographic,
    Nationality,
    Population,
    Status,
    share_by_key,
)
from model.policies import DEMOGRAPHIC_KEYS, NATIONALITY_KEYS



class Experience:
    """Exponentially-weighted record of recent outcomes per group and sector."""

    def __init__(self, prior_by_demographic: dict[str, float], prior_weight: float,
                 half_life_days: float, people_per_agent: int = 1):
        prior = np.array([prior_by_demographic[k] for k in DEMOGRAPHIC_KEYS])
        self.prior = np.tile(prior, len(Nationality))[:, None] * np.ones((1, N_SECTORS))
        self.prior_weight = prior_weight
        self.decay = 0.5 ** (1.0 / half_life_days)
        self.people_per_agent = float(people_per_agent)  # memory is of people, at any scale
        self.entered = np.zeros((N_GROUPS, N_SECTORS))
        self.total = np.zeros((N_GROUPS, N_SECTORS))
        self._today_entered = np.zeros((N_GROUPS, N_SECTORS))
        self._today_total = np.zeros((N_GROUPS, N_SECTORS))

    def record(self, groups: np.ndarray, sectors: np.ndarray, entered: bool) -> None:
        if len(groups) == 0:
            return
        np.add.at(self._today_total, (groups, sectors), self.people_per_agent)
        if entered:
            np.add.at(self._today_entered, (groups, sectors), self.people_per_agent)

    def end_day(self) -> None:
        self.entered = self.entered * self.decay + self._today_entered
        self.total = self.total * self.decay + self._today_total
        self._today_entered[:] = 0.0
        self._today_total[:] = 0.0

    def entry_share(self) -> np.ndarray:
        """(group, sector) perceived chance that an attempt ends inside the US."""
        w = self.prior_weight
        return (self.entered + w * self.prior) / (self.total + w)

    def entry_share_by_group(self) -> np.ndarray:
        w = self.prior_weight
        return (self.entered.sum(1) + w * self.prior[:, 0]) / (self.total.sum(1) + w)


class Behaviour:
    """The migrants' decision rules, bound to one scenario's parameters."""

    def __init__(self, scenario, rng: np.random.Generator, scale: int):
        self.s = scenario
        self.rng = rng
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
        self.push_today = np.ones(len(nat))  # the day's push index, set by `departures`

    # -- setting out -------------------------------------------------------
    def departures(self, push: np.ndarray) -> np.ndarray:
        """People (in agents) setting out today per (nationality, demographic)."""
        self.push_today = push
        pull = np.exp(self.s.departure_sensitivity *
                      (self.experience.entry_share_by_group() - 0.5)).reshape(-1, N_DEMOGRAPHIC)
        lam = (self.base_departures * push)[:, None] * self.demographic_mix * pull / self.scale
        return self.rng.poisson(lam)

    def travel_time(self, pop: Population, rows: np.ndarray) -> np.ndarray:
        return pop.shared(self.travel_time_of(pop.nationality[rows], pop.origin_state[rows]), rows)

    def travel_time_of(self, nationality: np.ndarray, origin_state: np.ndarray) -> np.ndarray:
        """Days to the border: by nationality, plus the road from a Mexican home state."""
        km = np.where(origin_state >= 0, STATE_KM[np.maximum(origin_state, 0)], 0)
        mean = self.travel_days[nationality] + km / 500.0
        return 1 + self.rng.poisson(np.maximum(mean - 1.0, 0.0))

    # -- crossing ----------------------------------------------------------
    def choose_sector(self, pop: Population, rows: np.ndarray) -> np.ndarray:
        """Sector per person: usual routes, tilted towards where peers got in lately."""
        groups = pop.group(rows)
        attract = self.sector_weights * np.exp(self.s.sector_sensitivity *
                                                self.experience.entry_share())
        cdf = np.cumsum(attract / attract.sum(1, keepdims=True), axis=1)[groups]
        u = self.uniform(pop, rows)[:, None]
        return np.minimum((u > cdf).sum(1), N_SECTORS - 1).astype(np.int8)

    def at_port(self, pop: Population, rows: np.ndarray) -> np.ndarray:
        """Who presents at a port of entry rather than crossing between ports."""
        return self.uniform(pop, rows) < self.port_share[pop.demographic[rows]]

    def apprehended(self, pop: Population, rows: np.ndarray, sectors: np.ndarray,
                    at_port: np.ndarray) -> np.ndarray:
        demo = pop.demographic[rows]
        surrenders = self.uniform(pop, rows) < self.surrender[demo]
        caught = self.uniform(pop, rows) < self.apprehension[sectors]
        return at_port | surrenders | caught

    def uniform(self, pop: Population, rows: np.ndarray) -> np.ndarray:
        """One uniform draw per person, the same for all members of a family."""
        return pop.shared(self.rng.random(len(rows)), rows)

    def claims_fear(self, pop: Population, rows: np.ndarray) -> np.ndarray:
        """People fleeing harm claim fear; others sometimes do too, the more so the
        more often people like them lately got in (a claim is a way in)."""
        u = self.uniform(pop, rows)
        intent = pop.asylum_intent[rows]
        genuine = intent & (u < self.claim_prob[pop.demographic[rows]])
        lately_in = self.experience.entry_share()[pop.group(rows), pop.sector[rows]]
        strategic = ~intent & (u < self.s.strategic_claim_prob * lately_in)
        return genuine | strategic

    def asylum_intent(self, nationality: np.ndarray) -> np.ndarray:
        return self.rng.random(len(nationality)) < self.intent_share[nationality]

    # -- after a return ----------------------------------------------------
    def retry_or_give_up(self, pop: Population, rows: np.ndarray, mode: str
                         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Split returned people into (give up, try again) and draw when they try again.

        Giving up is likelier after costlier returns (a flight home vs. a walk
        across a bridge), after many failed attempts, and when peers lately
        did not get in.
        """
        share = self.experience.entry_share_by_group()[pop.group(rows)]
        p = (self.s.give_up_prob[mode] + self.s.give_up_per_encounter * pop.n_encounters[rows])
        p = np.clip(p * np.exp(-self.s.give_up_sensitivity * (share - 0.5)), 0.0, 1.0)
        gives_up = pop.shared(self.rng.random(len(rows)) < p, rows)
        retry = rows[~gives_up]
        # hard times (a push below 1: lockdowns, closed borders) also slow re-attempts
        slow = 1.0 / np.clip(self.push_today[pop.nationality[retry]], 0.25, 1.0)
        delay = 1 + self.rng.poisson(np.maximum(self.s.retry_days[mode] * slow - 1.0, 0.0))
        return rows[gives_up], retry, pop.shared(delay, retry)


def new_people_attributes(behaviour: Behaviour, counts: np.ndarray, mexican_state_p: np.ndarray
                          ) -> dict[str, np.ndarray]:
    """Attributes for the people setting out today, given counts per (nationality, demographic).

    Members of family units are grouped into families (`family_key`) of 2 +
    Poisson(family_size_mean - 2) people, who share home state and intent.
    """
    rng = behaviour.rng
    flat = counts.ravel()
    groups = np.repeat(np.arange(len(flat)), flat)
    nationality = (groups // N_DEMOGRAPHIC).astype(np.int8)
    demographic = (groups % N_DEMOGRAPHIC).astype(np.int8)
    key = np.arange(len(groups))
    next_key = len(groups)
    for group in np.unique(groups[demographic == Demographic.FAMILY_UNIT]):
        members = np.flatnonzero(groups == group)
        sizes = 2 + rng.poisson(behaviour.s.family_size_mean - 2.0, len(members))
        unit = np.searchsorted(np.cumsum(sizes), np.arange(len(members)), side="right")
        key[members] = next_key + unit
        next_key += len(members)
    origin = np.full(len(groups), -1, dtype=np.int8)
    mex = nationality == Nationality.MEXICO
    origin[mex] = rng.choice(len(mexican_state_p), size=int(mex.sum()), p=mexican_state_p)
    return {
        "nationality": nationality,
        "demographic": demographic,
        "origin_state": share_by_key(origin, key),
        "asylum_intent": share_by_key(behaviour.asylum_intent(nationality), key),
        "status": np.full(len(groups), Status.EN_ROUTE, dtype=np.int8),
        "family_key": key,
    }

