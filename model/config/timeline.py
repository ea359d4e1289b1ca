"""The policy timeline: every policy resolved once per run into per-day arrays.

Actors ask "what applies today, in this sector, to this group?" thousands of
times a run; reading `timeline.title42[day]` or `timeline.port_return[day,
sectors]` answers it for a whole day's rows in one indexing step, instead of
searching the policy list by string each time. Built by `BorderModel` from its
`PolicyBook`; read by the actors (sectors, ICE, courts, Mexico, flights).

Where several policies of one kind overlap, the first in the scenario file
wins (as `PolicyBook.active` does); port returns and Mexico's consent to
interior flights hold where any policy says so.
"""

import numpy as np

from model.state.geography import N_SECTORS, SECTOR_INDEX
from model.config.policies import (
    MPP,
    CourtSlowdown,
    DetentionCap,
    EnforcementPriorities,
    FamilyDetention,
    Flights,
    GuatemalaAgreement,
    InteriorEnforcement,
    InteriorRepatriation,
    MexicanEnforcement,
    MexicoRefusesFamilies,
    MPPHearingsPostponed,
    MPPWindDown,
    NoticeToReport,
    POLICY_KINDS,
    PolicyBook,
    PortReturn,
    RemovalMoratorium,
    Title42,
)
from model.state.vocabulary import (
    DEMOGRAPHIC_KEYS,
    DESTINATIONS,
    N_DEMOGRAPHIC,
    N_NATIONALITY,
    NATIONALITY_KEYS,
    TITLE42_FLIGHT_BY_NATIONALITY,
)


# Border Patrol's rules of each day, one record a day (`PolicyTimeline.border_rules`):
# `border_patrol._consequences` takes the whole table as one array and reads the day's
# record (`rules[today].title42`). One array, not a record of 19 per-day arrays: numba
# checks and unboxes every array it is passed, on every call. Each field is the
# `PolicyTimeline` attribute of the same name (a view of this table; meanings there).
# Flags by sector or group are stored as uint8 (numba reads no nested bool arrays);
# the timeline sees them as bool. (The name is that of the NamedTuple this replaced:
# numba's on-disk cache index of `_consequences` refers to it by name, and fails to
# load, not just goes stale, where the name is gone: numba issue 6018.)
BorderRules = np.dtype([
    ("title42", np.bool_),
    ("title42_exception", np.float64),
    ("title42_by_air", np.float64),
    ("title42_uac_exempt", np.bool_),
    ("family_acceptance", np.float64, (N_SECTORS,)),
    ("title42_refused_by_air", np.float64),
    ("title42_flight", np.int8, (N_NATIONALITY,)),
    ("port_return", np.uint8, (N_SECTORS,)),
    ("formal_removal_share", np.float64),
    ("interior", np.uint8, (N_SECTORS,)),
    ("interior_share", np.float64),
    ("aca", np.bool_),
    ("aca_share", np.float64),
    ("aca_group", np.uint8, (N_NATIONALITY, N_DEMOGRAPHIC)),
    ("mpp", np.bool_),
    ("mpp_exempt", np.float64),
    ("mpp_nationality", np.uint8, (N_NATIONALITY,)),
    ("priorities", np.bool_),
    ("priorities_detention_share", np.float64),
], align=True)


def _flags(rules: np.ndarray, name: str) -> np.ndarray:
    """A uint8 field of `rules` seen as bool (the same memory)."""
    return rules[name].view(np.bool_)


class PolicyTimeline:
    """Per-day (and per-sector, per-nationality) arrays of what the policies say."""

    def __init__(self, book: PolicyBook, n_days: int, start, base_interception: float):
        self.n_days = n_days
        d, s = n_days, N_SECTORS
        rules = self.border_rules = np.zeros(d, dtype=BorderRules)  # zeros and False
        # Title 42 and Mexico's acceptance of Central American families
        self.title42 = rules["title42"]
        self.title42_exception = rules["title42_exception"]
        self.title42_by_air = rules["title42_by_air"]
        self.title42_uac_exempt = rules["title42_uac_exempt"]
        self.title42_refused_by_air = rules["title42_refused_by_air"]
        self.title42_flight_wait = np.full(d, 14.0)
        # per nationality, the expulsion flight destination in force (-1: none)
        self.title42_flight = rules["title42_flight"]
        self.title42_flight[:] = -1
        self.family_acceptance = rules["family_acceptance"]  # share still taken back, per sector
        self.family_acceptance[:] = 1.0
        # Title 8 for Mexicans
        self.port_return = _flags(rules, "port_return")  # per sector
        self.formal_removal_share = rules["formal_removal_share"]  # of Mexicans otherwise returned at a port
        self.interior = _flags(rules, "interior")  # per sector
        self.interior_share = rules["interior_share"]
        self.interior_wait_days = np.full(d, 14.0)
        self.mexico_receives_flights = np.zeros(d, dtype=bool)
        # Asylum seekers: Guatemala agreement, MPP
        self.aca = rules["aca"]
        self.aca_share = rules["aca_share"]
        self.aca_group = _flags(rules, "aca_group")  # per (nationality, demographic)
        self.mpp = rules["mpp"]
        self.mpp_exempt = rules["mpp_exempt"]
        self.mpp_nationality = _flags(rules, "mpp_nationality")
        self.mpp_room = np.zeros((d, s))  # people Mexico's shelters receive per day, per site
        self.mpp_case_days = np.full(d, 150.0)
        self.mpp_case_days_max = np.full(d, 1e9)
        self.hearings_postponed = np.zeros(d, dtype=bool)
        self.postponed_until = np.zeros(d, dtype=np.int64)  # day the postponement ends
        self.wind_down_admissions = np.zeros(d)  # people per day
        # Detention, removals, courts, Mexico's own enforcement
        self.priorities = rules["priorities"]
        self.priorities_detention_share = rules["priorities_detention_share"]
        self.priorities_detention_share[:] = 1.0
        self.removal_flight_share = np.ones(d)
        self.interior_arrests = np.zeros(d)  # people per day ICE arrests in the interior
        self.interior_detained_share = np.zeros(d)
        self.final_order_arrest_rate = np.zeros(d)  # per person and year
        self.detention_cap_share = np.ones(d)
        self.moratorium = np.zeros(d, dtype=bool)
        self.court_completion_share = np.ones(d)
        self.notice_to_report_share = np.zeros(d)  # of border releases: no court case filed
        self.family_beds = np.zeros(d)  # people, in family residential centres
        self.family_max_days = np.full(d, 20.0)
        self.interception = np.full(d, base_interception)
        self.aca_stays_share = 0.0
        self._fill(book, start)
        # the kinds that resolve themselves (`Policy.resolve`: metering), after the rest,
        # which they may read (Title 42 supersedes metering)
        self.resolved = {cls: cls.resolve(book.of_kind(cls), self)
                         for cls in POLICY_KINDS.values() if hasattr(cls, "resolve")}

    def _fill(self, book: PolicyBook, start) -> None:
        def days(p):  # the policy's days inside the run, as a slice
            return p.days(self.n_days)

        def first_wins(cls):  # later policies first, so the first in the file is written last
            return list(reversed(book.of_kind(cls)))

        for p in first_wins(Title42):
            on = days(p)
            self.title42[on] = True
            self.title42_exception[on] = p.exception_share
            self.title42_by_air[on] = p.other_nationalities_share
            self.title42_uac_exempt[on] = False
            self.title42_refused_by_air[on] = p.refused_families_by_air
            self.title42_flight_wait[on] = p.flight_wait_days
            if p.uac_exempt_from is not None:
                exempt_from = max((p.uac_exempt_from - start).days, on.start)
                self.title42_uac_exempt[exempt_from:on.stop] = True
        for p in book.of_kind(Flights):  # expulsion flight routes
            destination = DESTINATIONS.index(p.destination)
            for nat, flies_to in enumerate(TITLE42_FLIGHT_BY_NATIONALITY):
                if flies_to == destination:
                    self.title42_flight[days(p), nat] = destination
        for p in first_wins(MexicoRefusesFamilies):
            for key, index in SECTOR_INDEX.items():
                self.family_acceptance[days(p), index] = p.acceptance.get(key, p.default_acceptance)
        for p in book.of_kind(PortReturn):
            self.port_return[days(p), [SECTOR_INDEX[k] for k in p.sectors]] = True
        for p in first_wins(PortReturn):
            self.formal_removal_share[days(p)] = p.formal_removal_share
        for p in first_wins(InteriorRepatriation):
            on = days(p)
            self.interior[on] = False
            self.interior[on, [SECTOR_INDEX[k] for k in p.sectors]] = True
            self.interior_share[on] = p.eligible_share
            self.interior_wait_days[on] = p.max_wait_days
        for p in book.of_kind(InteriorRepatriation):
            self.mexico_receives_flights[days(p)] |= p.mexico_receives_flights
        for p in first_wins(GuatemalaAgreement):
            on = days(p)
            self.aca[on] = True
            self.aca_share[on] = p.eligible_share
            group = np.zeros((N_NATIONALITY, N_DEMOGRAPHIC), dtype=bool)
            group[np.ix_([NATIONALITY_KEYS.index(k) for k in p.nationalities],
                         [DEMOGRAPHIC_KEYS.index(k) for k in p.demographics])] = True
            self.aca_group[on] = group
        aca = book.of_kind(GuatemalaAgreement)
        self.aca_stays_share = aca[0].claim_asylum_there if aca else 0.0
        self._fill_mpp(book, start, days, first_wins)
        for p in first_wins(MPPHearingsPostponed):
            self.hearings_postponed[days(p)] = True
            self.postponed_until[days(p)] = p.end_day
        for p in first_wins(MPPWindDown):
            self.wind_down_admissions[days(p)] = p.daily_admissions
        for p in first_wins(EnforcementPriorities):
            self.priorities[days(p)] = True
            self.priorities_detention_share[days(p)] = p.detention_share
            self.removal_flight_share[days(p)] = p.removal_flight_share
        for p in first_wins(InteriorEnforcement):
            self.interior_arrests[days(p)] = p.arrests_per_day
            self.interior_detained_share[days(p)] = p.detained_share
            self.final_order_arrest_rate[days(p)] = p.final_order_arrest_rate
        for p in first_wins(EnforcementPriorities):  # the 2021 priorities arrest fewer
            self.interior_arrests[days(p)] *= p.interior_arrest_share
            self.final_order_arrest_rate[days(p)] *= p.interior_arrest_share
        for p in first_wins(DetentionCap):
            self.detention_cap_share[days(p)] = p.share
        for p in book.of_kind(RemovalMoratorium):
            self.moratorium[days(p)] = True
        for p in first_wins(FamilyDetention):
            self.family_beds[days(p)] = p.beds
            self.family_max_days[days(p)] = p.max_days
        for p in first_wins(NoticeToReport):
            self.notice_to_report_share[days(p)] = p.share
        for p in first_wins(CourtSlowdown):
            self.court_completion_share[days(p)] = p.completion_share
        for p in first_wins(MexicanEnforcement):
            self.interception[days(p)] = p.interception_prob

    def _fill_mpp(self, book, start, days, first_wins) -> None:
        """MPP: sites open on their dates, if Mexico's conditions are met; a case's
        length is set by the MPP in force at enrolment (or the last one before it)."""
        for p in first_wins(MPP):
            on = days(p)
            self.mpp[on] = True
            self.mpp_exempt[on] = p.exempt_share
            self.mpp_nationality[on] = False
            self.mpp_nationality[on, [NATIONALITY_KEYS.index(k) for k in p.nationalities]] = True
            self.mpp_room[on] = 0.0
            if not (p.mexico_requires_vaccination and not p.vaccination_offered):
                for key, opening in p.site_opening.items():
                    opens = max((opening - start).days, on.start)
                    self.mpp_room[opens:on.stop, SECTOR_INDEX[key]] = p.daily_capacity.get(key, 0)
        for p in sorted(book.of_kind(MPP), key=lambda p: p.start_day):
            after = slice(max(p.start_day, 0), self.n_days)
            self.mpp_case_days[after] = p.case_days
            self.mpp_case_days_max[after] = p.case_days_max
        first = min(book.of_kind(MPP), key=lambda p: p.start_day, default=None)
        if first is not None:  # before any MPP: the first one's case lengths
            self.mpp_case_days[: max(first.start_day, 0)] = first.case_days
            self.mpp_case_days_max[: max(first.start_day, 0)] = first.case_days_max
