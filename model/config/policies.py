"""Policies: small dated objects, each switching one rule on between two dates.

A scenario lists its policies by id (`[policies.title42]`, `kind = "title42"`);
counterfactuals change or disable them by the same id. Every policy is in force
on the days `start <= date <= end`. Once per run, `timeline.PolicyTimeline`
resolves them into per-day arrays that the actors read; where a policy object
itself is needed, `PolicyBook.active(Title42, day)` looks it up by class, so a
misspelled kind is an error, not a silent "not in force".

The shape a policy kind can take whole (`Metering` shows it): one class holding
its scenario table (its fields, checked from their types) and how it resolves
into per-day arrays (`resolve`, returning a NamedTuple of them); the timeline
calls `resolve` for every kind that has one and keeps the result
(`timeline.resolved[Metering]`), and the kind's actor reads it. Adding such a
kind touches this class, its actor and (for new random draws) `streams.Decision`,
not timeline.py. The older kinds are still resolved by `PolicyTimeline` itself.
"""

import dataclasses
import typing
from dataclasses import dataclass, field
from datetime import date
from typing import Annotated, Any, ClassVar, NamedTuple

import numpy as np

from model.state.geography import N_SECTORS, SECTOR_INDEX, SECTOR_KEYS
from model.state.vocabulary import (
    DEMOGRAPHIC_KEYS,
    DESTINATIONS,
    N_DEMOGRAPHIC,
    N_NATIONALITY,
    NATIONALITY_KEYS,
)
from model.config.validation import (
    Count,
    Days,
    Keys,
    NonNegative,
    Probability,
    Range,
    ScenarioError,
    check_value,
)

SectorList = Annotated[list[str], Keys(SECTOR_KEYS, "sector")]
NationalityList = Annotated[list[str], Keys(NATIONALITY_KEYS, "nationality")]
DemographicList = Annotated[list[str], Keys(DEMOGRAPHIC_KEYS, "demographic")]
SectorProbabilities = Annotated[dict[str, Probability], Keys(SECTOR_KEYS, "sector")]
SectorDates = Annotated[dict[str, date], Keys(SECTOR_KEYS, "sector")]
SectorCounts = Annotated[dict[str, Count], Keys(SECTOR_KEYS, "sector")]


@dataclass(frozen=True)
class Policy:
    kind: ClassVar[str] = ""
    id: str
    start: date
    end: date
    start_day: int = field(default=0, compare=False)  # set by PolicyBook.bind
    end_day: int = field(default=0, compare=False)

    def in_force(self, day: int) -> bool:
        return self.start_day <= day <= self.end_day

    def days(self, n_days: int) -> slice:
        """The days this policy is in force inside a run of `n_days`, as a slice."""
        return slice(max(self.start_day, 0), min(self.end_day, n_days - 1) + 1)

    # A kind that resolves itself defines
    #     @classmethod
    #     def resolve(cls, policies: list, timeline) -> NamedTuple
    # (`policies`: the scenario's of this kind, in file order; `timeline`: the
    # PolicyTimeline, filled for the other kinds): see `Metering`.


@dataclass(frozen=True)
class PortReturn(Policy):
    """Mexicans under Title 8 with no other path are returned at a land port within a day."""

    kind: ClassVar[str] = "port_return"
    sectors: SectorList = field(default_factory=lambda: list(SECTOR_KEYS))
    # of those, held instead for a formal removal through a port (expedited removal,
    # reinstatement of an earlier order): a removal ICE counts, after some days detained
    formal_removal_share: Probability = 0.0


@dataclass(frozen=True)
class InteriorRepatriation(Policy):
    """Mexicans from interior states are detained and flown to Guadalajara instead."""

    kind: ClassVar[str] = "interior_repatriation"
    sectors: SectorList = field(default_factory=lambda: ["tucson", "yuma"])
    eligible_share: Probability = 0.5  # of interior-origin single adults apprehended there
    max_wait_days: Days = 14.0  # no seat by then: returned at a port instead
    mexico_receives_flights: bool = True  # with Mexico's Ministry of the Interior (seed)


@dataclass(frozen=True)
class Flights(Policy):
    """A flight route: recurring (`per_week`) and/or on listed `dates`, each with `seats`."""

    kind: ClassVar[str] = "flights"
    destination: Annotated[str, Keys(DESTINATIONS, "destination")] = "guatemala"
    origins: list[str] = field(default_factory=lambda: ["Alexandria"])
    per_week: Annotated[float, Range(0.0, 1000.0, "non-negative (>= 0) and at most 1,000 "
                                                   "flights a week")] = 0.0
    dates: list[date] = field(default_factory=list)
    seats: Count = 135


@dataclass(frozen=True)
class MPP(Policy):
    """Migrant Protection Protocols: asylum seekers wait in Mexico for their hearings."""

    kind: ClassVar[str] = "mpp"
    site_opening: SectorDates = field(default_factory=dict)
    daily_capacity: SectorCounts = field(default_factory=dict)  # Mexico's reception, per site
    nationalities: NationalityList = field(
        default_factory=lambda: ["guatemala", "honduras", "el_salvador", "other"])
    exempt_share: Probability = 0.1  # vulnerable people exempted
    case_days: Days = 150.0  # mean enrolment-to-final-hearing
    case_days_max: Days = 100000.0  # a pledge such as "six months per case"
    vaccination_offered: bool = False
    mexico_requires_vaccination: bool = False


class MeteringDays(NamedTuple):
    """What metering says each day (`Metering.resolve`), for `actors.metering.PortMetering`."""

    in_force: np.ndarray  # (day): any sector metered
    sector: np.ndarray  # (day, sector): metered there
    group: np.ndarray  # (day, nationality x demographic): who is metered
    quota: np.ndarray  # (day, sector): people CBP takes off the lists a day


@dataclass(frozen=True)
class Metering(Policy):
    """CBP metering at the ports of entry: asylum seekers who come to a port in a
    sector listed in `daily_quota` are turned back to wait on a list in the Mexican
    border city, and CBP takes `daily_quota` people a day from the front of each
    sector's lists. Title 42 supersedes it: while Title 42 is in force nobody is
    taken and the lists dissolve (their people cross between the ports or go home).
    The actor is `actors.metering.PortMetering`; it reads `timeline.resolved[Metering]`."""

    kind: ClassVar[str] = "metering"
    daily_quota: SectorCounts = field(default_factory=dict)  # people taken a day, per sector
    nationalities: NationalityList = field(default_factory=lambda: list(NATIONALITY_KEYS))
    demographics: DemographicList = field(  # unaccompanied children were not metered
        default_factory=lambda: ["single_adult", "family_unit"])

    @classmethod
    def resolve(cls, policies: list["Metering"], timeline) -> MeteringDays:
        """Metering in the sectors its quota lists, for the groups it names (where two
        overlap, the first in the file wins); Title 42 supersedes it (the ports took
        no asylum seekers at all)."""
        d = timeline.n_days
        sector = np.zeros((d, N_SECTORS), dtype=bool)
        group = np.zeros((d, N_NATIONALITY * N_DEMOGRAPHIC), dtype=bool)
        quota = np.zeros((d, N_SECTORS))
        for p in reversed(policies):  # the first in the file is written last
            on = p.days(d)
            sector[on] = False
            quota[on] = 0.0
            for key, people in p.daily_quota.items():
                sector[on, SECTOR_INDEX[key]] = True
                quota[on, SECTOR_INDEX[key]] = people
            metered = np.zeros((N_NATIONALITY, N_DEMOGRAPHIC), dtype=bool)
            metered[np.ix_([NATIONALITY_KEYS.index(k) for k in p.nationalities],
                           [DEMOGRAPHIC_KEYS.index(k) for k in p.demographics])] = True
            group[on] = metered.ravel()
        sector[timeline.title42] = False
        quota[timeline.title42] = 0.0
        return MeteringDays(sector.any(axis=1), sector, group, quota)


@dataclass(frozen=True)
class MPPHearingsPostponed(Policy):
    """COVID: MPP hearings due in this window are postponed until it ends."""

    kind: ClassVar[str] = "mpp_hearings_postponed"


@dataclass(frozen=True)
class MPPWindDown(Policy):
    """People with active MPP cases are let in to pursue them from the US."""

    kind: ClassVar[str] = "mpp_wind_down"
    daily_admissions: Count = 300


@dataclass(frozen=True)
class Title42(Policy):
    """CDC order: people Mexico will take back are expelled within hours."""

    kind: ClassVar[str] = "title42"
    uac_exempt_from: date | None = None
    exception_share: Probability = 0.05  # processed under Title 8 anyway
    other_nationalities_share: Probability = 0.05  # expelled by air to their own country
    # Central American families Mexico will not take back, expelled by air instead (while
    # an expulsion flight route to their country is in force)
    refused_families_by_air: Probability = 0.0
    flight_wait_days: Days = 14.0  # held for an expulsion flight at most this long, then Title 8


@dataclass(frozen=True)
class MexicoRefusesFamilies(Policy):
    """Mexico stops taking back Central American families expelled under Title 42, unevenly."""

    kind: ClassVar[str] = "mexico_refuses_families"
    acceptance: SectorProbabilities = field(default_factory=dict)  # still accepted, per sector
    default_acceptance: Probability = 0.0


@dataclass(frozen=True)
class DetentionCap(Policy):
    """ICE holds at most `share` of its beds (COVID: 75 %)."""

    kind: ClassVar[str] = "detention_cap"
    share: Probability = 0.75


@dataclass(frozen=True)
class EnforcementPriorities(Policy):
    """2021 priorities: fewer removals flown, fewer border cases held for removal.

    Each recurring removal charter flies with `removal_flight_share`; flights a
    route lists by date (one-off, negotiated, like the China flight) still fly."""

    kind: ClassVar[str] = "enforcement_priorities"
    removal_flight_share: Probability = 0.6
    detention_share: Probability = 0.5
    interior_arrest_share: Probability = 1.0  # of the interior arrests ICE would make otherwise


@dataclass(frozen=True)
class InteriorEnforcement(Policy):
    """ICE arrests in the interior: a daily flow of long-term residents (most ICE
    arrests: people handed over from jails and prisons), of whom `detained_share`
    are held for the detained docket and the rest released with a notice to
    appear; and arrests of people living under a final removal order (in absentia
    or after a hearing), each of them arrested within a year with probability
    `final_order_arrest_rate`."""

    kind: ClassVar[str] = "interior_enforcement"
    arrests_per_day: NonNegative = 390.0
    detained_share: Probability = 0.9
    final_order_arrest_rate: Probability = 0.1


@dataclass(frozen=True)
class FamilyDetention(Policy):
    """ICE's family residential centres: `beds` for parents with children, who may
    be held at most `max_days` (the court-ordered 20-day limit); families wait
    there for a credible-fear interview, and for a removal if they have none.
    Families that find no bed, or reach the limit, are released."""

    kind: ClassVar[str] = "family_detention"
    beds: Count = 3300
    max_days: Days = 20.0


@dataclass(frozen=True)
class NoticeToReport(Policy):
    """Border releases with a notice to report to ICE (or parole) instead of a notice
    to appear: no court case is filed for them, so they join no docket in the run."""

    kind: ClassVar[str] = "notice_to_report"
    share: Probability = 0.33


@dataclass(frozen=True)
class RemovalMoratorium(Policy):
    """No removals at all (the 100-day moratorium, while it stood): no removal
    flights, no removals through a port; whoever is due waits in detention."""

    kind: ClassVar[str] = "removal_moratorium"


@dataclass(frozen=True)
class GuatemalaAgreement(Policy):
    """Asylum Cooperative Agreement: some Hondurans and Salvadorans are flown to Guatemala."""

    kind: ClassVar[str] = "guatemala_aca"
    nationalities: NationalityList = field(default_factory=lambda: ["honduras", "el_salvador"])
    demographics: DemographicList = field(default_factory=lambda: ["single_adult", "family_unit"])
    eligible_share: Probability = 0.02
    claim_asylum_there: Probability = 0.01


@dataclass(frozen=True)
class MexicanEnforcement(Policy):
    """Mexico intercepts and deports people in transit before they reach the border."""

    kind: ClassVar[str] = "mexican_enforcement"
    interception_prob: Probability = 0.3


@dataclass(frozen=True)
class CourtSlowdown(Policy):
    """Immigration courts complete fewer cases (COVID closures)."""

    kind: ClassVar[str] = "court_slowdown"
    completion_share: Probability = 0.45


POLICY_KINDS: dict[str, type[Policy]] = {
    cls.kind: cls
    for cls in (PortReturn, InteriorRepatriation, Flights, MPP, Metering, MPPHearingsPostponed,
                MPPWindDown, Title42, MexicoRefusesFamilies, DetentionCap,
                EnforcementPriorities, InteriorEnforcement, FamilyDetention, NoticeToReport,
                RemovalMoratorium,
                GuatemalaAgreement,
                MexicanEnforcement, CourtSlowdown)
}


def policy_fields(cls: type[Policy]) -> dict[str, Any]:
    """Field name -> type hint for what a scenario may set on this kind."""
    hints = typing.get_type_hints(cls, include_extras=True)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)
            if f.name not in ("id", "start_day", "end_day")}


def build_policy(path: str, policy_id: str, table: dict, run_start: date, run_end: date) -> Policy:
    """Check one `[policies.ID]` table and build its policy."""
    kind = table.get("kind")
    if kind not in POLICY_KINDS:
        raise ScenarioError(
            f"{path}.kind: unknown policy kind {kind!r} (known: {', '.join(POLICY_KINDS)})")
    cls = POLICY_KINDS[kind]
    fields = policy_fields(cls)
    values = {}
    for key, value in table.items():
        if key in ("kind", "enabled"):
            continue
        if key not in fields:
            raise ScenarioError(
                f"{path}.{key}: unknown field for a {kind} policy (known: {', '.join(fields)})")
        values[key] = check_value(f"{path}.{key}", value, fields[key])
    for required in ("start", "end"):
        if required not in values:
            raise ScenarioError(f"{path}.{required}: missing (every policy needs start and end)")
    if values["end"] < values["start"]:
        raise ScenarioError(
            f"{path}.end: {values['end']} is before start {values['start']}")
    for key in ("start", "end"):
        if not run_start <= values[key] <= run_end:
            raise ScenarioError(
                f"{path}.{key}: {values[key]} is outside the run ({run_start} to {run_end})")
    if kind == "flights" and "origins" in values and not values["origins"]:
        raise ScenarioError(f"{path}.origins: a flight route needs at least one origin")
    if kind == "metering":
        if not values.get("daily_quota"):
            raise ScenarioError(f"{path}.daily_quota: metering needs the daily quota of at "
                                f"least one sector (people a day; 0 is a list nobody leaves by)")
        for key in ("nationalities", "demographics"):
            if key in values and not values[key]:
                raise ScenarioError(f"{path}.{key}: metering needs at least one (an empty list "
                                    f"meters nobody: disable the policy instead)")
    for key, value in values.items():
        for d in (value.values() if isinstance(value, dict) else
                  value if isinstance(value, list) else [value]):
            if isinstance(d, date) and key not in ("start", "end") and not run_start <= d <= run_end:
                raise ScenarioError(
                    f"{path}.{key}: {d} is outside the run ({run_start} to {run_end})")
    return cls(id=policy_id, **values)


class PolicyBook:
    """The scenario's policies, bound to the run's calendar (day 0 = the run's start).

    Look-ups are by class (`book.active(Title42, day)`), never by string.
    """

    def __init__(self, policies: list[Policy], run_start: date):
        self.policies = [
            dataclasses.replace(p, start_day=(p.start - run_start).days,
                                end_day=(p.end - run_start).days)
            for p in policies
        ]

    def of_kind[P: Policy](self, cls: type[P]) -> list[P]:
        """Every policy of this class, in the scenario's order."""
        _check_kind(cls)
        return [p for p in self.policies if type(p) is cls]

    def active[P: Policy](self, cls: type[P], day: int) -> P | None:
        """The first policy of this class in force on `day`, or None."""
        return next((p for p in self.of_kind(cls) if p.in_force(day)), None)


def _check_kind(cls: type) -> None:
    if POLICY_KINDS.get(getattr(cls, "kind", None)) is not cls:
        raise TypeError(f"{cls!r} is not a policy class (known: {', '.join(POLICY_KINDS)})")
