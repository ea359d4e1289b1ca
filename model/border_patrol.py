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

import mesa
import numpy as np

from model.capacity import fit_families
from model.geography import N_SECTORS, SECTORS
from model.streams import Decision
from model.vocabulary import (
    REMOVAL_BY_NATIONALITY,
    Demographic,
    Nationality,
    Pending,
    ReturnMode,
    Status,
)

_REMOVAL = np.array(REMOVAL_BY_NATIONALITY, dtype=np.int8)
_HELD_FOR_REMOVAL = np.array([Pending.CREDIBLE_FEAR, *REMOVAL_BY_NATIONALITY[1:]], dtype=np.int8)
_EXPELLED_BY_AIR = np.isin(np.arange(len(Nationality)), (Nationality.CHINA, Nationality.OTHER))


class BorderPatrolSector(mesa.Agent):
    """One southwest-border sector. Owns its holding capacity (in agents) and
    the number of people in its custody; `BorderPatrol` asks it for room."""

    def __init__(self, model, index: int):
        super().__init__(model)
        self.index = index
        self.key = SECTORS[index].key
        self.name = SECTORS[index].name
        self.holding_capacity = max(1, round(model.scenario.holding_capacity[self.key] / model.scale))
        self.in_custody = 0


class BorderPatrol:
    """The day's apprehensions, all sectors at once. Built by `BorderModel`,
    called by its step: `process` for the apprehended, `finish_custody` for the
    people whose processing ends today."""

    def __init__(self, model):
        self.model = model
        self.sectors = list(BorderPatrolSector.create_agents(model, N_SECTORS,
                                                             index=list(range(N_SECTORS))))

    def process(self, rows: np.ndarray, sectors: np.ndarray, day: int) -> None:
        """Decide and start the consequence for the people apprehended today."""
        if len(rows) == 0:
            return
        title8 = self._title42(rows, sectors, day)
        self._title8(rows[title8], sectors[title8], day)

    def _title42(self, rows: np.ndarray, sectors: np.ndarray, day: int) -> np.ndarray:
        """Expel whoever Title 42 reaches; returns the mask of those left for Title 8."""
        m, t = self.model, self.model.timeline
        if not t.title42[day]:
            return np.ones(len(rows), dtype=bool)
        pop, draw = m.migrants.pop, m.streams.uniform
        nat = pop.nationality[rows]
        subject = draw(Decision.TITLE42_EXCEPTION, pop, rows, day) >= t.title42_exception[day]
        if t.title42_uac_exempt[day]:
            subject &= pop.demographic[rows] != Demographic.UNACCOMPANIED_CHILD
        accepted, refused = m.mexico.takes_back(rows, nat, sectors, day)
        to_mexico = subject & accepted
        by_air = (subject & _EXPELLED_BY_AIR[nat]
                  & (draw(Decision.TITLE42_BY_AIR, pop, rows, day) < t.title42_by_air[day]))
        m.recorder.add("family_expulsions_refused", int(np.count_nonzero(subject & refused)))
        m.recorder.add("title42_expulsions", int(np.count_nonzero(to_mexico | by_air)))
        m.migrants.send_back(rows[to_mexico], ReturnMode.TITLE42, Status.AT_BORDER, day)
        m.migrants.send_back(rows[by_air], ReturnMode.REMOVAL, Status.AT_HOME, day)
        return ~(to_mexico | by_air)

    def _title8(self, rows: np.ndarray, sectors: np.ndarray, day: int) -> None:
        m, t = self.model, self.model.timeline
        n = len(rows)
        if n == 0:
            return
        pop, draw = m.migrants.pop, m.streams.uniform
        nat, demo = pop.nationality[rows], pop.demographic[rows]
        mexican = nat == Nationality.MEXICO
        single = demo == Demographic.SINGLE_ADULT
        child = demo == Demographic.UNACCOMPANIED_CHILD
        claims = m.migrants.behaviour.claims_fear(pop, rows, day)
        pending = np.full(n, Pending.RELEASE, dtype=np.int8)  # families, children, asylum seekers

        # Mexicans: children are repatriated at the port; adults without a fear claim
        # are flown home, returned at the port, or held for a formal removal.
        port_return = mexican & child
        plain = mexican & ~child & ~claims
        flown = (plain & single & t.interior[day, sectors] & pop.interior_origin(rows)
                 & (draw(Decision.INTERIOR_ELIGIBLE, pop, rows, day) < t.interior_share[day]))
        pending[flown] = Pending.FLY_GUADALAJARA
        plain &= ~flown
        port_here = t.port_return[day, sectors]
        port_return |= plain & port_here
        pending[plain & ~port_here] = Pending.PORT_REMOVAL
        pending[mexican & ~child & claims & single] = Pending.CREDIBLE_FEAR

        # Everyone else, children aside: asylum seekers may be sent to Guatemala or to
        # wait in Mexico; single adults are detained (credible fear or removal).
        others = ~mexican & ~child
        asylum = others & claims
        if t.aca[day]:
            to_guatemala = (asylum & t.aca_group[day][nat, demo]
                            & (draw(Decision.ACA_ELIGIBLE, pop, rows, day) < t.aca_share[day]))
            pending[to_guatemala] = Pending.FLY_GUATEMALA_ACA
            asylum &= ~to_guatemala
        if t.mpp[day]:
            candidates = np.flatnonzero(
                asylum & t.mpp_nationality[day][nat]
                & (draw(Decision.MPP_EXEMPT, pop, rows, day) >= t.mpp_exempt[day]))
            granted = candidates[m.mexico.mpp_places(rows[candidates], sectors[candidates])]
            pending[granted] = Pending.MPP
            asylum[granted] = False
        pending[asylum & single] = Pending.CREDIBLE_FEAR
        removal = others & ~claims & single
        pending[removal] = _REMOVAL[nat[removal]]

        if t.priorities[day]:
            held = others & np.isin(pending, _HELD_FOR_REMOVAL)
            let_go = (draw(Decision.PRIORITIES_RELEASE, pop, rows, day)
                      >= t.priorities_detention_share[day])
            pending[held & let_go] = Pending.RELEASE

        m.migrants.return_at_port(rows[port_return], day)
        self._hold(rows[~port_return], sectors[~port_return], pending[~port_return], day)

    # -- custody -------------------------------------------------------------
    def _hold(self, rows: np.ndarray, sectors: np.ndarray, pending: np.ndarray, day: int) -> None:
        """Hold Title 8 cases for processing; whoever does not fit is released now."""
        if len(rows) == 0:
            return
        m = self.model
        pop = m.migrants.pop
        room = np.array([max(s.holding_capacity - s.in_custody, 0) for s in self.sectors],
                        dtype=np.float64)
        fits = fit_families(pop.family, rows, sectors.astype(np.int64), room)
        m.migrants.release(rows[~fits], day, forced=True)
        rows, sectors = rows[fits], sectors[fits]
        pop.pending[rows] = pending[fits]
        days = 1 + m.streams.poisson(Decision.CUSTODY_DAYS, pop, rows, day,
                                     max(m.scenario.custody_days - 1.0, 0.0))
        m.migrants.move(rows, Status.IN_CBP_CUSTODY, day, days)
        self._count_custody(sectors, +1)

    def finish_custody(self, rows: np.ndarray, day: int) -> None:
        """Processing done: release, hand over to Mexico under MPP, or transfer to ICE."""
        if len(rows) == 0:
            return
        m = self.model
        pop = m.migrants.pop
        self._count_custody(pop.sector[rows], -1)
        pending = pop.pending[rows]
        m.migrants.release(rows[pending == Pending.RELEASE], day)
        m.courts.enroll_mpp(rows[pending == Pending.MPP], day)
        to_ice = (pending != Pending.RELEASE) & (pending != Pending.MPP)
        m.ice.intake(rows[to_ice], pending[to_ice], day)

    def _count_custody(self, sectors: np.ndarray, sign: int) -> None:
        for sector, count in zip(self.sectors, np.bincount(sectors, minlength=N_SECTORS).tolist()):
            sector.in_custody += sign * count
