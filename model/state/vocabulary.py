"""The model's vocabulary, defined once: who people are, where they are, how they
were sent back, where flights go, and what awaits them when custody ends.

Each is an `IntEnum` (the integer is what the population arrays store); the
string keys scenario files use (`"el_salvador"`, `"port_return"`) are derived
from the member names, so code and files cannot drift apart. Sectors and
Mexican states are tables of places: see `geography.py`.

Compiled (numba) kernels read a module-level int as a constant but not an
IntEnum member, so the codes they use are also given once here as plain ints
(`EN_ROUTE`, `RELEASE`, `FAMILY_UNIT`, ...; arrests as `ARREST_BORDER`, ...),
with the shared `REMOVAL` array: import those instead of casting `int(Status.X)`.
"""

from enum import IntEnum

import numpy as np


def keys(enum: type[IntEnum]) -> tuple[str, ...]:
    """The scenario-file keys of an enum's members, in order: `EL_SALVADOR` -> `el_salvador`."""
    return tuple(member.name.lower() for member in enum)


class Nationality(IntEnum):
    MEXICO = 0
    GUATEMALA = 1
    HONDURAS = 2
    EL_SALVADOR = 3
    CHINA = 4
    OTHER = 5


class Demographic(IntEnum):
    SINGLE_ADULT = 0
    FAMILY_UNIT = 1
    UNACCOMPANIED_CHILD = 2


class Status(IntEnum):
    """Where a person is. Each person is in exactly one status every day."""

    EN_ROUTE = 0  # travelling north towards the border
    AT_BORDER = 1  # in a Mexican border city, about to cross (first try or again)
    IN_CBP_CUSTODY = 2  # apprehended, held by a Border Patrol sector
    IN_ICE_DETENTION = 3  # detained by ICE: credible fear, awaiting a flight
    MPP_WAITING = 4  # returned to Mexico under MPP, awaiting a hearing
    RELEASED_IN_US = 5  # released into the US (notice to appear, parole, HHS sponsor, relief)
    EVADED_INTO_US = 6  # crossed without being apprehended
    AT_HOME = 7  # back in the home country (removed, flown, deported by Mexico); may leave again
    GAVE_UP = 8  # stopped trying
    IN_THIRD_COUNTRY = 9  # transferred to Guatemala under the cooperative agreement
    IN_FAMILY_DETENTION = 10  # a family held by ICE in a family residential centre
    METERED = 11  # on a metering waitlist in a Mexican border city, waiting to ask at a port


class ReturnMode(IntEnum):
    """How a person was sent back; sets how long before they try again and
    how likely they give up (`retry_days`, `give_up_prob` in scenarios)."""

    TITLE42 = 0  # expelled to Mexico within hours
    PORT_RETURN = 1  # walked back across a bridge under Title 8
    INTERIOR_FLIGHT = 2  # flown 1,100 miles to Guadalajara
    REMOVAL = 3  # removed home by ICE (or expelled by air)
    MEXICO_DEPORT = 4  # stopped in transit and deported by Mexico
    THIRD_COUNTRY = 5  # flown to Guatemala under the cooperative agreement


class Destination(IntEnum):
    """Where flights go; ICE keeps one waiting list per destination."""

    GUADALAJARA = 0  # interior repatriation of Mexicans
    GUATEMALA = 1
    HONDURAS = 2
    EL_SALVADOR = 3
    CHINA = 4
    OTHER = 5
    GUATEMALA_ACA = 6  # Hondurans and Salvadorans sent to Guatemala under the agreement
    TITLE42_GUATEMALA = 7  # Title 42 expulsion flights (not removals), to each country
    TITLE42_HONDURAS = 8
    TITLE42_EL_SALVADOR = 9
    TITLE42_OTHER = 10  # e.g. Haiti, September 2021


class Pending(IntEnum):
    """What happens to a person when their custody or detention period ends.

    Values below `RELEASE` are flights: detained to wait for that Destination.
    """

    FLY_GUADALAJARA = Destination.GUADALAJARA
    FLY_GUATEMALA = Destination.GUATEMALA
    FLY_HONDURAS = Destination.HONDURAS
    FLY_EL_SALVADOR = Destination.EL_SALVADOR
    FLY_CHINA = Destination.CHINA
    FLY_OTHER = Destination.OTHER
    FLY_GUATEMALA_ACA = Destination.GUATEMALA_ACA
    FLY_TITLE42_GUATEMALA = Destination.TITLE42_GUATEMALA
    FLY_TITLE42_HONDURAS = Destination.TITLE42_HONDURAS
    FLY_TITLE42_EL_SALVADOR = Destination.TITLE42_EL_SALVADOR
    FLY_TITLE42_OTHER = Destination.TITLE42_OTHER
    RELEASE = 20
    MPP = 21
    CREDIBLE_FEAR = 22
    PORT_REMOVAL = 23
    DETAINED_DOCKET = 24  # held for the detained docket: removal or release when it decides
    FINAL_ORDER = 25  # living in the US under a final removal order, until ICE arrests them
    CROSS_BETWEEN_PORTS = 26  # left a metering list: the next crossing is between the ports


class Arrest(IntEnum):
    """Who a person is to ICE: how they were last arrested (`Population.arrest`).
    Kept with a count per status, so the detained population splits exactly."""

    BORDER = 0  # crossed the border in this run (or never arrested)
    INTERIOR = 1  # crossed in this run, later arrested by ICE in the interior
    RESIDENT = 2  # a long-term resident arrested by ICE in the interior: enters the run then


NATIONALITY_KEYS = keys(Nationality)
DEMOGRAPHIC_KEYS = keys(Demographic)
RETURN_MODES = keys(ReturnMode)
DESTINATIONS = keys(Destination)
NORTHERN_TRIANGLE = (Nationality.GUATEMALA, Nationality.HONDURAS, Nationality.EL_SALVADOR)
N_STATUS = len(Status)
N_ARREST = len(Arrest)
N_NATIONALITY = len(Nationality)
N_DEMOGRAPHIC = len(Demographic)
N_GROUPS = N_NATIONALITY * N_DEMOGRAPHIC  # behaviour groups: nationality x demographic

# Where ICE removes each nationality to (Mexicans: through a land port).
REMOVAL_BY_NATIONALITY = (Pending.PORT_REMOVAL, Pending.FLY_GUATEMALA, Pending.FLY_HONDURAS,
                          Pending.FLY_EL_SALVADOR, Pending.FLY_CHINA, Pending.FLY_OTHER)
assert len(REMOVAL_BY_NATIONALITY) == N_NATIONALITY
# Where a Title 42 expulsion flight takes each nationality (-1: none; Mexicans go by land)
TITLE42_FLIGHT_BY_NATIONALITY = (-1, Destination.TITLE42_GUATEMALA, Destination.TITLE42_HONDURAS,
                                 Destination.TITLE42_EL_SALVADOR, -1, Destination.TITLE42_OTHER)
TITLE42_DESTINATIONS = tuple(d for d in TITLE42_FLIGHT_BY_NATIONALITY if d >= 0)
assert len(TITLE42_FLIGHT_BY_NATIONALITY) == N_NATIONALITY

# -- the integer codes, for compiled kernels --------------------------------------
# (plain ints, which numba freezes as constants; `Status.EN_ROUTE` itself is not)
(EN_ROUTE, AT_BORDER, IN_CBP_CUSTODY, IN_ICE_DETENTION, MPP_WAITING, RELEASED_IN_US,
 EVADED_INTO_US, AT_HOME, GAVE_UP, IN_THIRD_COUNTRY, IN_FAMILY_DETENTION,
 METERED) = map(int, Status)
(MEXICO, GUATEMALA, HONDURAS, EL_SALVADOR, CHINA, OTHER) = map(int, Nationality)
SINGLE_ADULT, FAMILY_UNIT, UNACCOMPANIED_CHILD = map(int, Demographic)
ARREST_BORDER, ARREST_INTERIOR, ARREST_RESIDENT = map(int, Arrest)
FLY_GUADALAJARA, FLY_GUATEMALA_ACA = int(Pending.FLY_GUADALAJARA), int(Pending.FLY_GUATEMALA_ACA)
(RELEASE, MPP, CREDIBLE_FEAR, PORT_REMOVAL, DETAINED_DOCKET, FINAL_ORDER,
 CROSS_BETWEEN_PORTS) = (int(p) for p in Pending if p >= Pending.RELEASE)
# each nationality's removal (`REMOVAL_BY_NATIONALITY`) as the array kernels index
REMOVAL = np.array(REMOVAL_BY_NATIONALITY, dtype=np.int8)
REMOVAL.flags.writeable = False
