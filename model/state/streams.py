"""Random numbers: one stream per kind of decision, keyed by person and day.

Common random numbers, as Starsim does them: every draw is a pure function of
(the run's seed, the decision, the person, the day). Each `Decision` gets its
own stream key derived from the seed with `numpy.random.SeedSequence`, and each
person carries a 64-bit `uid` made from when and in which group they set out.
So the same person facing the same decision on the same day draws the same
number in every scenario run with that seed: changing one policy changes only
the draws of the people and decisions it really touches, and comparing two
scenarios seed by seed (paired) cancels most of the noise.

The draws are counter-based (a SplitMix64 hash of the three keys), which also
makes them cheap to vectorise: one compiled call per decision and day, however
many people decide. Members of a family draw with their family's first member's
uid (`by_family=True`), so a family decides as one.
"""

import math
import zlib
from enum import IntEnum

import numba
import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_DAY_OFFSET = 4096  # days before a run's start (people seeded on the road) stay positive


class Decision(IntEnum):
    """Every kind of random decision in the model: one stream each."""

    PERSON_UID = 0  # who a new person is: the key of all their later draws
    DEPARTURES = 1  # how many set out, per group and day
    FAMILY_SIZE = 2
    ORIGIN_STATE = 3
    ASYLUM_INTENT = 4
    TRAVEL_DAYS = 5
    INTERCEPTION = 6  # stopped by Mexico in transit
    SECTOR = 7
    AT_PORT = 8
    SURRENDER = 9
    APPREHENSION = 10
    CLAIMS_FEAR = 11
    TITLE42_EXCEPTION = 12
    TITLE42_BY_AIR = 13
    MEXICO_ACCEPTS = 14  # Mexico taking back a Central American family under Title 42
    INTERIOR_ELIGIBLE = 15
    ACA_ELIGIBLE = 16
    MPP_EXEMPT = 17
    PRIORITIES_RELEASE = 18
    CUSTODY_DAYS = 19
    CREDIBLE_FEAR_DAYS = 20
    CREDIBLE_FEAR_POSITIVE = 21
    PORT_REMOVAL_DAYS = 22
    GIVE_UP = 23
    RETRY_DAYS = 24
    REGULAR_HEARING_DAYS = 25
    MPP_CASE_DAYS = 26
    MPP_POSTPONED_DAYS = 27
    MPP_ATTENDS = 28
    MPP_ABSENTIA_CROSSES = 29
    MPP_ABSENTIA_DAYS = 30
    MPP_GRANTED = 31
    REGULAR_POSTPONED = 32
    REGULAR_POSTPONED_DAYS = 33
    REGULAR_ATTENDS = 34
    REGULAR_GRANTED = 35
    MPP_VIOLENCE = 36
    MPP_GIVES_UP = 37
    MPP_CROSSES_ANYWAY = 38
    ACA_STAYS = 39  # claims asylum in Guatemala
    FLIGHT_CANCELLED = 40  # a charter dropped under the 2021 priorities
    CAP_RELEASE = 41  # who is let go when the detention cap drops
    INTERIOR_ARRESTS = 42  # how many people ICE arrests in the interior, per nationality and day
    INTERIOR_DETAINED = 43  # an interior arrestee detained (or released with a notice to appear)
    DETAINED_DOCKET_DAYS = 44  # days in detention until the detained docket decides
    DETAINED_DOCKET_REMOVED = 45  # the detained docket orders removal (or releases)
    FINAL_ORDER_ARREST = 46  # days until ICE arrests someone living under a final order
    START_DETENTION = 47  # who was in ICE detention on the first day, and for how long yet
    DETAINED_DOCKET = 48  # a single adult with a credible fear kept in detention for the docket
    MEXICAN_FORMAL_REMOVAL = 49  # a Mexican held for a formal removal instead of a port return
    NOTICE_TO_REPORT = 50  # released with a notice to report (no court case yet) instead of an NTA
    TITLE42_FAMILY_BY_AIR = 51  # a family Mexico refuses, expelled by air instead
    METERING_START = 52  # who is on a metering list on the first day: where, and their place
    METERING_LEAVES = 53  # a family leaves a metering list today (to cross or go home)


class RandomStreams:
    """The run's random numbers. Built once per model from its seed; every actor
    draws through it (`model.streams`), never from a generator of its own.
    Per-person draws read the population's `uid` and `family` columns as they
    are at the call; compiled kernels draw for themselves with `draw_unit` on
    `keys[decision]` and the day plus `day_offset`.
    """

    day_offset = _DAY_OFFSET  # compiled kernels drawing for themselves add it to the day

    def __init__(self, seed: int):
        self.seed = int(seed)
        self.keys = np.array([_stream_key(self.seed, d) for d in Decision], dtype=np.uint64)

    # -- per person -------------------------------------------------------------
    def uniform(self, decision: Decision, pop, rows: np.ndarray, day: int,
                by_family: bool = True) -> np.ndarray:
        """One uniform in [0, 1) per row; by default the same for a whole family."""
        return _uniform_rows(self.keys[decision], pop.uid, pop.family, rows, day + _DAY_OFFSET,
                             by_family)

    def poisson(self, decision: Decision, pop, rows: np.ndarray, day: int,
                lam: "np.ndarray | float", by_family: bool = True) -> np.ndarray:
        """One Poisson(lam) count per row (lam per row or one for all)."""
        lam = _per_row(lam, rows)
        return _poisson_rows(self.keys[decision], pop.uid, pop.family, rows, day + _DAY_OFFSET,
                             by_family, lam)

    def gamma(self, decision: Decision, pop, rows: np.ndarray, day: int, shape: int,
              mean: "np.ndarray | float", by_family: bool = True) -> np.ndarray:
        """Gamma draws with a whole-number `shape` (Erlang) and the given mean."""
        mean = _per_row(mean, rows)
        return _erlang_rows(self.keys[decision], pop.uid, pop.family, rows, day + _DAY_OFFSET,
                            by_family, int(shape), mean)

    # -- keyed by anything else (groups, flights) -----------------------------------
    def uniform_keys(self, decision: Decision, keys: np.ndarray, day: int) -> np.ndarray:
        return _uniform_keys(self.keys[decision], np.asarray(keys, dtype=np.uint64),
                             day + _DAY_OFFSET)

    def poisson_keys(self, decision: Decision, keys: np.ndarray, day: int,
                     lam: np.ndarray) -> np.ndarray:
        return _poisson_keys(self.keys[decision], np.asarray(keys, dtype=np.uint64),
                             day + _DAY_OFFSET, np.asarray(lam, dtype=np.float64))


def _per_row(value: "np.ndarray | float", rows: np.ndarray) -> np.ndarray:
    """`value` as one float per row (a scalar is repeated)."""
    if type(value) is np.ndarray and value.ndim == 1:
        return value if value.dtype == np.float64 else value.astype(np.float64)
    return np.full(rows.shape, value, dtype=np.float64)


def _stream_key(seed: int, decision: Decision) -> np.uint64:
    """A stream's key: from the seed, and the decision's *name* (adding a decision
    never changes another's stream)."""
    tag = zlib.crc32(decision.name.encode())
    state = np.random.SeedSequence(seed, spawn_key=(tag,)).generate_state(1, np.uint64)
    return state[0]


# -- compiled kernels (numba): the hash, and draws from it ------------------------------

@numba.njit(cache=True, inline="always")
def _mix(z):
    """SplitMix64's finaliser: a bijective 64-bit hash."""
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


@numba.njit(cache=True, inline="always")
def _key(stream, person, day):
    return _mix(stream ^ _mix(person + np.uint64(day) * _GOLDEN))


@numba.njit(cache=True, inline="always")
def _unit(z):
    """A 64-bit hash as a uniform in [0, 1)."""
    return np.float64(z >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@numba.njit(cache=True, inline="always")
def draw_unit(stream, person, day):
    """The uniform draw of `person` for the decision whose key is `stream` on `day`
    (plus `RandomStreams.day_offset`): for kernels elsewhere that draw as they go."""
    return _unit(_key(stream, person, day))


@numba.njit(cache=True)
def _norm_ppf(p):
    """Inverse standard normal CDF (Acklam's rational approximation, |rel err| < 1.2e-9)."""
    a = (-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
         1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00)
    b = (-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
         6.680131188771972e+01, -1.328068155288572e+01)
    c = (-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
         -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00)
    d = (7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
         3.754408661907416e+00)
    p = min(max(p, 1e-15), 1.0 - 1e-15)
    if p < 0.02425:
        q = math.sqrt(-2.0 * math.log(p))
        return ((((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5])
                / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1.0))
    if p > 1.0 - 0.02425:
        q = math.sqrt(-2.0 * math.log(1.0 - p))
        return -((((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5])
                 / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1.0))
    q = p - 0.5
    r = q * q
    return ((((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q
            / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1.0))


@numba.njit(cache=True)
def poisson_from_unit(u, lam):
    """Poisson(lam) by inversion of one uniform: exact (sequential search) below
    lam = 50; above, the normal approximation with a skewness correction."""
    if lam <= 0.0:
        return 0
    if lam < 50.0:
        p = math.exp(-lam)
        cdf = p
        k = 0
        while u > cdf and k < 10000:
            k += 1
            p *= lam / k
            cdf += p
        return k
    z = _norm_ppf(u)
    s = math.sqrt(lam)
    k = math.floor(lam + s * (z + (z * z - 1.0) / (6.0 * s)) + 0.5)
    return max(k, 0)


@numba.njit(cache=True)
def _uniform_rows(stream, uid, family, rows, day, by_family):
    out = np.empty(rows.size, dtype=np.float64)
    for i in range(rows.size):
        r = rows[i]
        person = uid[family[r]] if by_family else uid[r]
        out[i] = _unit(_key(stream, person, day))
    return out


@numba.njit(cache=True)
def _poisson_rows(stream, uid, family, rows, day, by_family, lam):
    out = np.empty(rows.size, dtype=np.int64)
    for i in range(rows.size):
        r = rows[i]
        person = uid[family[r]] if by_family else uid[r]
        out[i] = poisson_from_unit(_unit(_key(stream, person, day)), lam[i])
    return out


@numba.njit(cache=True, inline="always")
def erlang_draw(stream, person, day, shape, mean):
    """A Gamma(shape, mean / shape) draw (whole-number shape) from `shape` uniforms
    chained off one key: for kernels elsewhere that draw as they go."""
    z = _key(stream, person, day)
    total = 0.0
    for _ in range(shape):
        z = _mix(z + _GOLDEN)
        total -= math.log(1.0 - _unit(z))
    return total * mean / shape


@numba.njit(cache=True)
def _erlang_rows(stream, uid, family, rows, day, by_family, shape, mean):
    out = np.empty(rows.size, dtype=np.float64)
    for i in range(rows.size):
        r = rows[i]
        person = uid[family[r]] if by_family else uid[r]
        out[i] = erlang_draw(stream, person, day, shape, mean[i])
    return out


@numba.njit(cache=True)
def _uniform_keys(stream, keys, day):
    out = np.empty(keys.size, dtype=np.float64)
    for i in range(keys.size):
        out[i] = _unit(_key(stream, keys[i], day))
    return out


@numba.njit(cache=True)
def _poisson_keys(stream, keys, day, lam):
    out = np.empty(keys.size, dtype=np.int64)
    for i in range(keys.size):
        out[i] = poisson_from_unit(_unit(_key(stream, keys[i], day)), lam[i])
    return out


@numba.njit(cache=True, inline="always")
def place_key(day, group, rank):
    """A unique 64-bit label for (day, group, place in line): what a new person's
    uid, or a new family's size, is drawn from."""
    return ((np.uint64(day) << np.uint64(40)) | (np.uint64(group) << np.uint64(32))
            | np.uint64(rank))


@numba.njit(cache=True, inline="always")
def new_uid(stream, day, group, rank):
    """The uid of the `rank`-th person of `group` setting out on `day`: the same
    person in every scenario, so more or fewer departures add or drop people at
    the end of the line instead of reshuffling everyone."""
    return _key(stream, place_key(day, group, rank), 0)
