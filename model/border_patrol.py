"""Border Patrol: one agent per southwest sector.

Each apprehended person gets one consequence under the policies in force that
day, in the order the law applied them: Title 42 expulsion where Mexico takes
the person back; otherwise Title 8 (port return, interior repatriation,
Guatemala transfer, MPP, credible-fear detention, expedited removal, or release
with a notice to appear). Title 8 cases are held in the sector's custody for a
few days; when holding is full, the overflow is released.
"""

import mesa
import numpy as np

from model.geography import SECTORS
from model.people import (
    REMOVAL_BY_NATIONALITY,
    Demographic,
    Nationality,
    Pending,
    Status,
)
from model.policies import DEMOGRAPHIC_KEYS, NATIONALITY_KEYS


class BorderPatrolSector(mesa.Agent):
    def __init__(self, model, index: int):
        super().__init__(model)
        self.index = index
        self.key = SECTORS[index].key
        self.name = SECTORS[index].name
        self.holding_capacity = max(1, round(model.scenario.holding_capacity[self.key] / model.scale))
        self.in_custody = 0

    # -- apprehension --------------------------------------------------------
    def process(self, rows: np.ndarray, day: int) -> None:
        """Decide and start the consequence for the people apprehended here today."""
        if len(rows) == 0:
            return
        self.model.recorder.add(f"encounters_{self.key}", len(rows))
        title8 = self._title42(rows, day)
        self._title8(rows[title8], day)

    def _title42(self, rows: np.ndarray, day: int) -> np.ndarray:
        """Expel whoever Title 42 reaches; returns the mask of those left for Title 8."""
        m, pop = self.model, self.model.migrants.pop
        t42 = m.policies.first_in_force("title42", day)
        if t42 is None:
            return np.ones(len(rows), dtype=bool)
        nat, demo = pop.nationality[rows], pop.demographic[rows]
        uniform = m.migrants.behaviour.uniform
        uac_exempt = (t42.uac_exempt_from is not None
                      and m.calendar.date(day) >= t42.uac_exempt_from)
        subject = uniform(pop, rows) >= t42.exception_share
        if uac_exempt:
            subject &= demo != Demographic.UNACCOMPANIED_CHILD
        accepted, refused = m.mexico.accepts_expulsion(rows, self.index, day)
        to_mexico = subject & accepted
        other = (nat == Nationality.CHINA) | (nat == Nationality.OTHER)
        by_air = subject & other & (uniform(pop, rows) < t42.other_nationalities_share)
        m.recorder.add("family_expulsions_refused", int(np.count_nonzero(subject & refused)))
        m.recorder.add("title42_expulsions", int(np.count_nonzero(to_mexico | by_air)))
        m.migrants.send_back(rows[to_mexico], "title42", Status.AT_BORDER, day)
        m.migrants.send_back(rows[by_air], "removal", Status.AT_HOME, day)
        return ~(to_mexico | by_air)

    def _title8(self, rows: np.ndarray, day: int) -> None:
        m, pop, policies = self.model, self.model.migrants.pop, self.model.policies
        n = len(rows)
        if n == 0:
            return
        nat, demo = pop.nationality[rows], pop.demographic[rows]
        mexican = nat == Nationality.MEXICO
        single = demo == Demographic.SINGLE_ADULT
        child = demo == Demographic.UNACCOMPANIED_CHILD
        claims = m.migrants.behaviour.claims_fear(pop, rows)
        uniform = m.migrants.behaviour.uniform
        pending = np.full(n, Pending.RELEASE, dtype=np.int8)  # families, children, asylum seekers
        port_return = np.zeros(n, dtype=bool)

        # Mexicans: children are repatriated at the port; adults without a fear claim
        # are flown home, returned at the port, or held for a formal removal.
        port_return |= mexican & child
        plain = mexican & ~child & ~claims
        irp = policies.first_in_force("interior_repatriation", day)
        if irp is not None and self.key in irp.sectors:
            flown = (plain & single & pop.interior_origin(rows)
                     & (m.rng.random(n) < irp.eligible_share))
            pending[flown] = Pending.FLY_GUADALAJARA
            plain &= ~flown
        if self._in_force_here("port_return", day):
            port_return |= plain
        else:
            pending[plain] = Pending.PORT_REMOVAL
        pending[mexican & ~child & claims & single] = Pending.CREDIBLE_FEAR

        # Everyone else, children aside: asylum seekers may be sent to Guatemala or to
        # wait in Mexico; single adults are detained (credible fear or removal).
        others = ~mexican & ~child
        asylum = others & claims
        aca = policies.first_in_force("guatemala_aca", day)
        if aca is not None:
            to_guatemala = (asylum & np.isin(nat, _codes(aca.nationalities, NATIONALITY_KEYS))
                            & np.isin(demo, _codes(aca.demographics, DEMOGRAPHIC_KEYS))
                            & (uniform(pop, rows) < aca.eligible_share))
            pending[to_guatemala] = Pending.FLY_GUATEMALA_ACA
            asylum &= ~to_guatemala
        mpp = policies.first_in_force("mpp", day)
        if mpp is not None:
            candidates = np.flatnonzero(asylum & np.isin(nat, _codes(mpp.nationalities, NATIONALITY_KEYS))
                                        & (uniform(pop, rows) >= mpp.exempt_share))
            granted = candidates[pop.whole_families(rows[candidates],
                                                    m.mexico.mpp_room_today(self.index))]
            m.mexico.take_mpp(self.index, len(granted))
            pending[granted] = Pending.MPP
            asylum[granted] = False
        pending[asylum & single] = Pending.CREDIBLE_FEAR
        removal = others & ~claims & single
        pending[removal] = REMOVAL_BY_NATIONALITY[nat[removal]]

        priorities = policies.first_in_force("enforcement_priorities", day)
        if priorities is not None:
            held = others & np.isin(pending, (Pending.CREDIBLE_FEAR, *REMOVAL_BY_NATIONALITY[1:]))
            pending[held & (m.rng.random(n) >= priorities.detention_share)] = Pending.RELEASE

        m.migrants.return_at_port(rows[port_return], day)
        self._hold(rows[~port_return], pending[~port_return], day)

    def _in_force_here(self, kind: str, day: int) -> bool:
        return any(self.key in p.sectors for p in self.model.policies.in_force(kind, day))

    # -- custody -------------------------------------------------------------
    def _hold(self, rows: np.ndarray, pending: np.ndarray, day: int) -> None:
        """Hold Title 8 cases for processing; whoever does not fit is released now."""
        m = self.model
        pop = m.migrants.pop
        fits = pop.whole_families(rows, max(self.holding_capacity - self.in_custody, 0))
        m.migrants.release(rows[~fits], day, forced=True)
        rows, pending = rows[fits], pending[fits]
        pop.pending[rows] = pending
        days = pop.shared(1 + m.rng.poisson(max(m.scenario.custody_days - 1.0, 0.0), len(rows)),
                          rows)
        m.migrants.move(rows, Status.IN_CBP_CUSTODY, day, days)
        self.in_custody += len(rows)

    def finish_custody(self, rows: np.ndarray, day: int) -> None:
        """Processing done: release, hand over to Mexico under MPP, or transfer to ICE."""
        if len(rows) == 0:
            return
        m = self.model
        self.in_custody -= len(rows)
        pending = m.migrants.pop.pending[rows]
        m.migrants.release(rows[pending == Pending.RELEASE], day)
        m.courts.enroll_mpp(rows[pending == Pending.MPP], day)
        to_ice = (pending != Pending.RELEASE) & (pending != Pending.MPP)
        m.ice.intake(rows[to_ice], pending[to_ice], day)


def _codes(keys: list[str], known: tuple[str, ...]) -> list[int]:
    return [known.index(k) for k in keys]
