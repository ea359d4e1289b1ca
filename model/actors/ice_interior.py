"""ICE's interior side: arrests in the interior, the detained docket, people living
under a final removal order, and who was in ICE detention on the first day.

Most of the people ICE arrests in the interior are long-term residents (handed
over from jails and prisons, or arrested at home or work): they are not this
model's border crossers, so each day's arrests add new people to the run
(`Arrest.RESIDENT`, nationality by `interior_arrest_nationality`), as many as
the `interior_enforcement` policy in force says (a Poisson draw per
nationality and day). Some are released at once with a notice to appear; the
rest are detained until the detained docket decides (`ICE.hold_for_docket`):
removal (a flight home, or a land port for Mexicans) or release. People this model released at the border
who are later ordered removed (in absentia or after a hearing) live under a
final order until ICE arrests them (a yearly rate set by the same policy,
lower under the 2021 priorities), then are detained and removed.

Nobody the interior side releases counts as a border release (`releases`);
their court cases join the backlog.
"""

import math

import numba
import numpy as np

from model.actors.behaviour import new_people_rows
from model.state.people import admit_written
from model.state.scaling import to_agents, to_people, whole_agents
from model.state.streams import Decision, draw_unit, erlang_draw
from model.state.vocabulary import (
    ARREST_RESIDENT,
    NATIONALITY_KEYS,
    N_DEMOGRAPHIC,
    N_NATIONALITY,
    REMOVAL,
    SINGLE_ADULT,
    Arrest,
    Demographic,
    Pending,
    Status,
)

# new people are keyed (streams.new_uid) by a day far from any day people set out on
_RESIDENTS_DAY = 1 << 20
_START_DAY = 1 << 21


class ICEInterior:
    """ICE's interior enforcement, owned by the `ICE` agent (`ice.interior`).

    The model calls `seed_detention` once before the first day, `arrest` every
    day; ICE releases people it arrested inside through `release`; the courts
    hand over people ordered removed (`final_orders`), and the model the ones
    whose arrest day has come (`arrest_final_orders`).
    """

    def __init__(self, ice):
        self.ice = ice
        self.model = ice.model
        s = self.model.scenario
        weights = np.array([s.interior_arrest_nationality[k] for k in NATIONALITY_KEYS])
        self.nationality_share = weights / weights.sum()
        self.final_order_rate_max = float(self.model.timeline.final_order_arrest_rate.max())
        self._keys = np.arange(N_NATIONALITY, dtype=np.uint64)
        self.people_added = 0  # rows this side added to the run (residents arrested, detained at the start)

    # -- the first day ---------------------------------------------------------
    def seed_detention(self) -> None:
        """ICE's detained population on the first day: people arrested at the border
        (single adults, by the mix of who sets out, each awaiting a credible-fear
        interview or a removal) and residents arrested in the interior (awaiting the
        detained docket), each some days into their stay. With fewer beds than that
        (a what-if), both shrink alike to fit them."""
        m, s = self.model, self.model.scenario
        pop = m.migrants.pop
        single = np.array([1 - s.family_share[k] - s.child_share[k] for k in NATIONALITY_KEYS])
        border_mix = np.array([s.departures_per_day[k] for k in NATIONALITY_KEYS]) * single
        wanted = s.initial_detained_border + s.initial_detained_interior
        fit = min(1.0, to_people(self.ice.capacity(0), m.scale) / wanted) if wanted else 1.0
        border = self._add(_share_out(whole_agents(s.initial_detained_border * fit, m.scale),
                                      border_mix), _START_DAY, Arrest.BORDER, 0)
        interior = self._add(_share_out(whole_agents(s.initial_detained_interior * fit, m.scale),
                                        self.nationality_share), _START_DAY + 1, Arrest.RESIDENT, 0)
        u = m.streams.uniform(Decision.START_DETENTION, pop, border, 0)
        nationality = pop.nationality[border]
        claims = u < (np.array([s.asylum_intent_share[k] for k in NATIONALITY_KEYS])[nationality]
                      * s.claim_fear_prob["single_adult"])
        # a stay already under way: what is left of it is uniform over twice its mean
        left = m.streams.uniform(Decision.START_DETENTION, pop, interior, -1)
        self.ice.hold(interior, Pending.DETAINED_DOCKET, 0,
                      1 + np.floor(left * 2 * s.detained_docket_days).astype(np.int64))
        fear = border[claims]
        left = m.streams.uniform(Decision.START_DETENTION, pop, fear, -1)
        self.ice.hold(fear, Pending.CREDIBLE_FEAR, 0,
                      1 + np.floor(left * 2 * s.credible_fear_days).astype(np.int64))
        removal = border[~claims]
        self.ice.detain(removal, REMOVAL[pop.nationality[removal]], 0)

    # -- the day's arrests -------------------------------------------------------
    def arrest(self, day: int) -> None:
        """Today's interior arrests of long-term residents: booked in (while beds
        allow) or released with a notice to appear."""
        m, t = self.model, self.model.timeline
        if t.interior_arrests[day] <= 0:
            return
        lam = to_agents(t.interior_arrests[day] * self.nationality_share, m.scale)
        counts = m.streams.poisson_keys(Decision.INTERIOR_ARRESTS, self._keys, day, lam)
        count = int(counts.sum())
        if count == 0:
            return
        pop, b = m.migrants.pop, m.migrants.behaviour
        pop.make_room(count)
        released, held = _arrested(
            counts, pop.n, day, b.draw_day(_RESIDENTS_DAY + day), b.people_draws, b.columns(pop),
            pop.admit_columns(), b.draw_day(day), m.streams.keys[Decision.INTERIOR_DETAINED],
            t.interior_detained_share[day])
        pop.n += count
        self.people_added += count
        m.recorder.add("interior_arrests", count)
        self.release(released, day)
        self.book_in(held, day)

    def book_in(self, rows: np.ndarray, day: int) -> None:
        """Detain for the detained docket whoever fits under the beds; release the rest."""
        m, ice = self.model, self.ice
        held, turned_away = m.migrants.pop.split_whole_families(
            rows, max(ice.capacity(day) - ice.detained, 0))
        self.release(turned_away, day)
        ice.hold_for_docket(held, day)

    def release(self, rows: np.ndarray, day: int) -> None:
        """Into the community with a notice to appear: a regular-docket case, a hearing date."""
        if len(rows) == 0:
            return
        self.model.recorder.add("interior_releases", len(rows))
        self.model.migrants.to_court(rows, day)

    # -- final orders ------------------------------------------------------------
    def final_orders(self, rows: np.ndarray, day: int) -> None:
        """People ordered removed today who live in the US: they stay until ICE
        arrests them (never, in a run without interior enforcement of final orders)."""
        if len(rows) == 0:
            return
        m = self.model
        if self.final_order_rate_max <= 0:
            m.migrants.pop.move(rows, Status.RELEASED_IN_US, day)
            return
        m.migrants.pop.pending[rows] = Pending.FINAL_ORDER
        m.migrants.pop.move(rows, Status.RELEASED_IN_US, day, self._days_to_arrest(rows, day))

    def arrest_final_orders(self, rows: np.ndarray, day: int) -> None:
        """People under a final order whose arrest day has come: arrested at today's
        rate (relative to the run's highest), detained and removed; the others, and
        those ICE has no bed for, wait for a later day."""
        if len(rows) == 0:
            return
        m = self.model
        pop = m.migrants.pop
        today = m.timeline.final_order_arrest_rate[day] / self.final_order_rate_max
        arrested = m.streams.uniform(Decision.FINAL_ORDER_ARREST, pop, rows, day) < today
        held, no_bed = pop.split_whole_families(
            rows[arrested], max(self.ice.capacity(day) - self.ice.detained, 0))
        later = np.concatenate([rows[~arrested], no_bed])
        m.migrants.pop.move(later, Status.RELEASED_IN_US, day, self._days_to_arrest(later, day))
        m.recorder.add("interior_arrests", len(held))
        pop.set_arrest(held, Arrest.INTERIOR)
        self.ice.detain(held, REMOVAL[pop.nationality[held]], day)

    def _days_to_arrest(self, rows: np.ndarray, day: int) -> np.ndarray:
        """Exponential waits at the run's highest yearly arrest rate (thinned on the day)."""
        m, pop = self.model, self.model.migrants.pop
        return _whole_days_waited(rows, pop.uid, pop.family, day + m.streams.day_offset,
                                  m.streams.keys[Decision.FINAL_ORDER_ARREST],
                                  365.0 / self.final_order_rate_max)

    # -- new people ----------------------------------------------------------------
    def _add(self, per_nationality: np.ndarray, key_day: int, arrest: Arrest, day: int
             ) -> np.ndarray:
        """Add single adults (counts per nationality) who enter the run through ICE."""
        m = self.model
        counts = np.zeros((N_NATIONALITY, N_DEMOGRAPHIC), dtype=np.int64)
        counts[:, Demographic.SINGLE_ADULT] = per_nationality
        rows = m.migrants.behaviour.add_people(m.migrants.pop, counts, key_day, day, arrest)
        self.people_added += len(rows)
        return rows


@numba.njit(cache=True)
def _arrested(per_nationality, at, day, people_day, people_draws, columns, admit_columns,
              draw_day, held_key, held_share):
    """`ICEInterior.arrest`'s new people in one call: single adults, `per_nationality`,
    made from row `at` on as people setting out on `people_day` (`new_people_rows`,
    `Behaviour.people_draws` and `columns`), join the run on `day` as residents
    (`admit_written`); each is detained with chance `held_share` (drawn on `draw_day`).
    Returns (released, detained), each in row order."""
    counts = np.zeros(per_nationality.size * N_DEMOGRAPHIC, dtype=np.int64)
    for nationality in range(per_nationality.size):
        counts[nationality * N_DEMOGRAPHIC + SINGLE_ADULT] = per_nationality[nationality]
    new_people_rows(counts, at, people_day, people_draws, columns)
    rows = np.arange(at, at + counts.sum())
    admit_written(at, rows.size, day, ARREST_RESIDENT, admit_columns)
    uid, family = columns[0], columns[1]
    held = np.empty(rows.size, dtype=np.bool_)
    for i in range(rows.size):
        held[i] = draw_unit(held_key, uid[family[rows[i]]], draw_day) < held_share
    return rows[~held], rows[held]


@numba.njit(cache=True)
def _whole_days_waited(rows, uid, family, day, key, mean):
    """`ICEInterior._days_to_arrest`: an exponential wait of `mean` days per row
    (families together), rounded up to whole days, at least 1."""
    days = np.empty(rows.size, dtype=np.int64)
    for i in range(rows.size):
        days[i] = max(math.ceil(erlang_draw(key, uid[family[rows[i]]], day, 1, mean)), 1)
    return days


def _share_out(total: int, weights: np.ndarray) -> np.ndarray:
    """`total` split by `weights` in whole numbers that add up to it (largest remainders)."""
    exact = total * weights / weights.sum()
    counts = np.floor(exact).astype(np.int64)
    counts[np.argsort(counts - exact, kind="stable")[: total - counts.sum()]] += 1
    return counts
