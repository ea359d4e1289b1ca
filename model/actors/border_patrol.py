"""Border Patrol: nine sector agents, and the day's consequences for everyone apprehended.

Each apprehended person gets one consequence under the policies in force that
day in their sector, in the order the law applied them: Title 42 expulsion
where Mexico takes the person back; otherwise Title 8 (port return, interior
repatriation, Guatemala transfer, MPP, credible-fear detention, expedited
removal, or release with a notice to appear). Title 8 cases are held in the
sector's custody for a few days; when holding is full, the overflow is released.

All nine sectors are processed in one vectorised pass (sector is a column);
the sector agents own their holding capacity and custody counts.
"""

from typing import NamedTuple

import mesa
import numba
import numpy as np

from model.state.geography import MEXICAN_STATES, N_SECTORS, SECTORS
from model.state.people import group_rows
from model.state.scaling import at_least_one_agent
from model.state.streams import Decision, draw_unit, poisson_from_unit
from model.state.vocabulary import (
    CHINA,
    CREDIBLE_FEAR,
    FAMILY_UNIT,
    FLY_GUADALAJARA,
    FLY_GUATEMALA_ACA,
    MEXICO,
    MPP,
    N_DEMOGRAPHIC,
    N_NATIONALITY,
    NORTHERN_TRIANGLE,
    OTHER,
    PORT_REMOVAL,
    RELEASE,
    REMOVAL,
    SINGLE_ADULT,
    UNACCOMPANIED_CHILD,
    ReturnMode,
    Status,
)


class BorderPatrolSector(mesa.Agent):
    """One southwest-border sector. Owns its holding capacity (in agents) and
    answers for the people in its custody (kept, for all sectors at once, in
    `BorderPatrol.in_custody`, which the day's single pass updates)."""

    def __init__(self, model, index: int):
        super().__init__(model)
        self.index = index
        self.key = SECTORS[index].key
        self.name = SECTORS[index].name
        self.holding_capacity = at_least_one_agent(model.scenario.holding_capacity[self.key],
                                                   model.scale)

    @property
    def in_custody(self) -> int:
        return int(self.model.border_patrol.in_custody[self.index])

    @property
    def encounters_last_day(self) -> int:
        """People encountered in this sector on the last day run (Mesa's space drawing)."""
        from model.mesa_tools import sector_encounters

        return sector_encounters(self.model, self)


class BorderPatrol:
    """The day's apprehensions, all sectors at once. Built by `BorderModel`,
    called by its step: `process` for the apprehended, `finish_custody` for the
    people whose processing ends today."""

    def __init__(self, model):
        self.model = model
        self.sectors = list(BorderPatrolSector.create_agents(model, N_SECTORS,
                                                             index=list(range(N_SECTORS))))
        self.holding_capacity = np.array([s.holding_capacity for s in self.sectors])
        self.in_custody = np.zeros(N_SECTORS, dtype=np.int64)  # agents, per sector
        behaviour, s = model.migrants.behaviour, model.scenario
        # what `_consequences` reads besides the day's rules (arrays changed in place)
        self._claims = Claims(behaviour.claim_prob, s.strategic_claim_prob,
                              behaviour.experience.entry_share())
        self._custody = Custody(self.holding_capacity, self.in_custody,
                                max(s.custody_days - 1.0, 0.0))

    def process(self, rows: np.ndarray, sectors: np.ndarray, day: int) -> None:
        """Decide and start the consequence for the people apprehended today."""
        if len(rows) == 0:
            return
        m = self.model
        pop = m.migrants.pop
        rows, pending, custody_days, bounds, refused = _consequences(
            rows, sectors, day, day + m.streams.day_offset, m.streams.keys, pop.columns,
            m.timeline.border_rules, m.mexico.mpp_room.credit, self._claims, self._custody)
        # by outcome, each group in the day's order (slices: no mask per outcome)
        bounds = bounds.tolist()
        group = list(map(slice, bounds[:-1], bounds[1:]))
        m.recorder.add("family_expulsions_refused", refused)
        m.recorder.add("title42_expulsions", (bounds[EXPELLED_BY_AIR + 1] - bounds[EXPELLED])
                       + (bounds[FLIES + 1] - bounds[FLIES]))
        m.migrants.send_back(rows[group[EXPELLED]], ReturnMode.TITLE42, Status.AT_BORDER, day)
        flies = group[FLIES]
        m.ice.hold_for_expulsion(rows[flies], pending[flies], day)
        m.migrants.send_back(rows[group[EXPELLED_BY_AIR]], ReturnMode.REMOVAL, Status.AT_HOME,
                             day)
        m.migrants.return_at_port(rows[group[PORT_RETURNED]], day)
        m.migrants.release(rows[group[NO_ROOM]], day, forced=True)
        held = group[HELD]
        pop.pending[rows[held]] = pending[held]
        m.migrants.pop.move(rows[held], Status.IN_CBP_CUSTODY, day, custody_days[held])

    # -- custody -------------------------------------------------------------
    def finish_custody(self, rows: np.ndarray, day: int) -> None:
        """Processing done: release (families first to ICE's family beds, while they
        have room), hand over to Mexico under MPP, or transfer to ICE."""
        if len(rows) == 0:
            return
        m = self.model
        pop = m.migrants.pop
        others, families, mpp, to_ice, pending = _out_of_custody(
            rows, pop.pending, pop.demographic, pop.sector, self.in_custody)
        not_held = m.ice.families.take(families, day)  # family beds first
        m.migrants.release(np.concatenate([others, not_held]) if len(not_held) else others, day)
        m.courts.enroll_mpp(mpp, day)
        m.ice.intake(to_ice, pending, day)


@numba.njit(cache=True)
def _out_of_custody(rows, pending, demographic, sector, in_custody):
    """`BorderPatrol.finish_custody`'s split, in one pass: each row leaves its sector's
    custody (`in_custody` counted down) and is (released and not a family; released
    families; for MPP; for ICE, with what ICE is to carry out), each in row order."""
    release = np.empty(rows.size, dtype=np.bool_)
    for i in range(rows.size):
        r = rows[i]
        in_custody[sector[r]] -= 1
        release[i] = pending[r] == RELEASE
    released = rows[release]
    family = demographic[released] == FAMILY_UNIT
    case = pending[rows]
    mpp = case == MPP
    ice = ~release & ~mpp
    return released[~family], released[family], rows[mpp], rows[ice], case[ice]


# What happens to each person apprehended today (`_consequences`' outcome codes)
# (EXPELLED_BY_AIR: at once; FLIES: held for an expulsion flight; EXPELLED and
# EXPELLED_BY_AIR next to each other: `process` counts both from their bounds)
EXPELLED, EXPELLED_BY_AIR, PORT_RETURNED, HELD, NO_ROOM, FLIES = range(6)
N_OUTCOMES = 6
# arrays the kernel reads (numba takes module-level ints and arrays as constants)
_CENTRAL_AMERICAN = np.isin(np.arange(N_NATIONALITY), NORTHERN_TRIANGLE)
_BORDER_STATE = np.array([s.border for s in MEXICAN_STATES])


class Claims(NamedTuple):
    """Who claims fear (`_consequences`): the chance by demographic of a person with a
    need for protection, the strategic chance of one without (times `entry_share`,
    (group, sector): how often peers lately got in; updated in place daily)."""

    claim_prob: np.ndarray
    strategic_claim_prob: float
    entry_share: np.ndarray


class Custody(NamedTuple):
    """The sectors' holding cells (`_consequences`): capacity and people held, in agents
    per sector (`in_custody` counted up in place), and the mean custody days beyond the
    first."""

    holding_capacity: np.ndarray
    in_custody: np.ndarray
    extra_days: float


@numba.njit(cache=True)
def _consequences(rows, sectors, today, day, keys, people, rules, mpp_room, claims, custody):
    """The consequence for each person apprehended today, family by family, in order.

    `today` is the day's index into `rules` (the timeline's `border_rules`, one
    `timeline.BorderRules` record a day), `day` the day as the draws take it (with
    `RandomStreams.day_offset`), `keys` the streams' keys, `people` the population's
    `Columns`.

    In the order the law applied them: Title 42 expulsion where Mexico takes the
    person back (Central American families only where it still accepts them, a
    share of the others on expulsion flights home), or by air for other
    nationalities (held for an expulsion flight where a route is in force); otherwise Title 8. Title 8: Mexican
    children are repatriated at the port; Mexican adults without a fear claim
    are flown to the interior (under interior repatriation, from an interior
    state), returned at the port (or, a share, held for a formal removal through
    it), or held for a formal removal where no port return applies; Mexican single
    adults with a claim are held for a credible-fear interview. Others (children
    aside) with a claim may be sent to Guatemala (the agreement) or to wait in
    Mexico (MPP, while the site has room), or else single adults are held for
    credible fear; single adults without a claim are held for removal; the 2021
    priorities let some of those held go. Families, children and asylum seekers
    not held are released. Whoever is held waits in the sector's custody; when
    it is full they are released instead.

    `mpp_room` is used up in place, and whoever is held counts in its sector's
    `in_custody` (agents, at most `holding_capacity`). Returns the rows grouped by
    outcome (`EXPELLED`, ..., each group in the day's order), their pending case and
    custody days, the groups' bounds, and how many in families Mexico refused.
    """
    uid, family, nationality = people.uid, people.family, people.nationality
    demographic, intent, origin_state = people.demographic, people.asylum_intent, people.origin_state
    rule = rules[today]  # the day's record
    title42, t42_exception = rule.title42, rule.title42_exception
    t42_by_air, t42_uac_exempt = rule.title42_by_air, rule.title42_uac_exempt
    family_acceptance = rule.family_acceptance
    t42_refused_by_air, t42_flight = rule.title42_refused_by_air, rule.title42_flight
    port_return, formal_share = rule.port_return, rule.formal_removal_share
    interior, interior_share = rule.interior, rule.interior_share
    aca, aca_share, aca_group = rule.aca, rule.aca_share, rule.aca_group
    mpp, mpp_exempt = rule.mpp, rule.mpp_exempt
    mpp_nationality = rule.mpp_nationality
    priorities, priorities_share = rule.priorities, rule.priorities_detention_share
    claim_prob, strategic_claim_prob = claims.claim_prob, claims.strategic_claim_prob
    entry_share = claims.entry_share
    holding_capacity, in_custody = custody.holding_capacity, custody.in_custody
    n = rows.size
    outcome = np.empty(n, dtype=np.int8)
    pending = np.full(n, RELEASE, dtype=np.int8)
    custody_days = np.zeros(n, dtype=np.int64)
    refused_people = 0
    i = 0
    while i < n:  # one family (or one person) at a time: rows[i:j]
        r = rows[i]
        j = i + 1
        while j < n and family[rows[j]] == family[r]:
            j += 1
        size = j - i
        person = uid[family[r]]
        nat, demo, sector = nationality[r], demographic[r], sectors[i]
        out = -1
        pend = RELEASE
        if title42:
            subject = draw_unit(keys[Decision.TITLE42_EXCEPTION], person, day) >= t42_exception
            if t42_uac_exempt and demo == UNACCOMPANIED_CHILD:
                subject = False
            refused = (_CENTRAL_AMERICAN[nat] and demo == FAMILY_UNIT
                       and draw_unit(keys[Decision.MEXICO_ACCEPTS], person, day)
                       >= family_acceptance[sector])
            if subject and refused:
                if (t42_flight[nat] >= 0 and draw_unit(keys[Decision.TITLE42_FAMILY_BY_AIR],
                                                       person, day) < t42_refused_by_air):
                    out = EXPELLED_BY_AIR  # on an expulsion flight home
                    pend = t42_flight[nat]
                else:
                    refused_people += size
            elif subject and (nat == MEXICO or _CENTRAL_AMERICAN[nat]):
                out = EXPELLED
            elif (subject and (nat == CHINA or nat == OTHER)
                  and draw_unit(keys[Decision.TITLE42_BY_AIR], person, day) < t42_by_air):
                out = EXPELLED_BY_AIR  # on an expulsion flight if a route is in force, else at once
                if t42_flight[nat] >= 0:
                    pend = t42_flight[nat]
        if out < 0:  # Title 8
            u = draw_unit(keys[Decision.CLAIMS_FEAR], person, day)
            if intent[r]:
                claims = u < claim_prob[demo]
            else:  # without a need for protection, a claim is a way in when peers got in
                claims = u < strategic_claim_prob * entry_share[nat * N_DEMOGRAPHIC + demo, sector]
            single = demo == SINGLE_ADULT
            if nat == MEXICO:
                if demo == UNACCOMPANIED_CHILD:
                    out = PORT_RETURNED
                elif claims:
                    if single:
                        pend = CREDIBLE_FEAR
                elif (single and interior[sector] and origin_state[r] >= 0
                      and not _BORDER_STATE[origin_state[r]]
                      and draw_unit(keys[Decision.INTERIOR_ELIGIBLE], person, day) < interior_share):
                    pend = FLY_GUADALAJARA
                elif port_return[sector]:
                    if draw_unit(keys[Decision.MEXICAN_FORMAL_REMOVAL], person, day) < formal_share:
                        pend = PORT_REMOVAL  # expedited removal or reinstatement, not a return
                    else:
                        out = PORT_RETURNED
                else:
                    pend = PORT_REMOVAL
            elif demo != UNACCOMPANIED_CHILD:
                if claims:
                    seeking = True
                    if (aca and aca_group[nat, demo]
                            and draw_unit(keys[Decision.ACA_ELIGIBLE], person, day) < aca_share):
                        pend = FLY_GUATEMALA_ACA
                        seeking = False
                    if (seeking and mpp and mpp_nationality[nat]
                            and draw_unit(keys[Decision.MPP_EXEMPT], person, day) >= mpp_exempt
                            and size <= mpp_room[sector]):
                        mpp_room[sector] -= size
                        pend = MPP
                        seeking = False
                    if seeking and single:
                        pend = CREDIBLE_FEAR
                elif single:
                    pend = REMOVAL[nat]
                if (priorities and (pend == CREDIBLE_FEAR or pend < FLY_GUATEMALA_ACA)
                        and draw_unit(keys[Decision.PRIORITIES_RELEASE], person, day)
                        >= priorities_share):
                    pend = RELEASE
        if out < 0:  # held for processing, if the sector has room
            if in_custody[sector] + size <= holding_capacity[sector]:
                in_custody[sector] += size
                out = HELD
                u = draw_unit(keys[Decision.CUSTODY_DAYS], person, day)
                custody_days[i:j] = 1 + poisson_from_unit(u, custody.extra_days)
            else:
                out = NO_ROOM
        if out == EXPELLED_BY_AIR and pend < RELEASE:
            out = FLIES
        outcome[i:j] = out
        pending[i:j] = pend
        i = j
    order, bounds = group_rows(np.arange(n), outcome, N_OUTCOMES)
    return rows[order], pending[order], custody_days[order], bounds, refused_people
