"""Daily counters and the monthly table: the output contract of `run.py run`.

`COLUMNS` is the single list of what is written, how a month aggregates it,
and what it means; README's column table is generated from it. Extend it
freely; never rename or redefine a column (other issues and users rely on it).
All counts are in people (agent counts times the run's scale).
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd

from model.state.geography import SECTOR_KEYS
from model.state.vocabulary import NATIONALITY_KEYS


@dataclass(frozen=True)
class Column:
    name: str
    how: str  # "sum" (a flow), "mean" (average daily stock), "last" (month-end stock)
    meaning: str
    in_people: bool = False  # not a count of agents: not multiplied by the scale


COLUMNS: tuple[Column, ...] = (
    Column("encounters", "sum", "southwest-border encounters, Title 8 and Title 42, ports included"),
    Column("unique_encountered", "sum", "distinct people encountered in the period"),
    Column("repeat_encounter_rate", "rate", "share of encounters whose person had an encounter in the previous 365 days"),
    Column("encounters_mexico", "sum", "encounters of Mexican nationals"),
    Column("encounters_northern_triangle", "sum", "encounters of Guatemalans, Hondurans, Salvadorans"),
    Column("encounters_other", "sum", "encounters of all other nationalities (China included)"),
    Column("encounters_single_adults", "sum", "encounters of single adults"),
    Column("encounters_family_units", "sum", "encounters of members of family units"),
    Column("encounters_unaccompanied_children", "sum", "encounters of unaccompanied children"),
    Column("title42_expulsions", "sum", "expulsions under Title 42 (to Mexico, or by air)"),
    Column("port_returns", "sum", "people returned to Mexico at a land port under Title 8 within a day or two of apprehension"),
    Column("interior_repatriations", "sum", "Mexicans flown to the interior of Mexico (Guadalajara)"),
    Column("mpp_enrollments", "sum", "people returned to Mexico under MPP to await hearings"),
    Column("releases", "sum", "people released into the US (notice to appear, parole, HHS sponsors, MPP wind-down)"),
    Column("detention_population", "mean", "people in ICE detention (average daily)"),
    Column("removals", "sum", "ICE removals to the country of nationality: removal flights, and Mexicans through a port after detention (excludes interior repatriations and third-country transfers)"),
    Column("flights", "sum", "flights that departed (any route, passengers aboard); a count of flights, not people", in_people=True),
    Column("flight_passengers", "sum", "people aboard those flights"),
    Column("mpp_waiting", "last", "people in Mexico awaiting an MPP hearing (period end)"),
    Column("violence_incidents", "sum", "violent crimes suffered by people waiting in Mexico under MPP"),
    Column("court_backlog", "last", "pending immigration court cases (period end), all cases nationwide", in_people=True),
    # --- extensions (added after the first contract) ---
    Column("encounters_at_ports", "sum", "encounters at ports of entry (OFO inadmissibles)"),
    Column("repeat_encounters", "sum", "encounters whose person had an encounter in the previous 365 days"),
    Column("new_migrants", "sum", "people setting out for the border for the first time"),
    Column("departures", "sum", "journeys north started (first and repeated)"),
    Column("mexico_interceptions", "sum", "people stopped in transit and deported by Mexico"),
    Column("evasions", "sum", "people who crossed without being apprehended (got-aways)"),
    Column("third_country_transfers", "sum", "people flown to Guatemala under the cooperative agreement"),
    Column("capacity_releases", "sum", "releases forced by full Border Patrol holding or ICE beds"),
    Column("family_expulsions_refused", "sum", "families Mexico would not take back under Title 42"),
    Column("mpp_hearings", "sum", "MPP final hearings held (the person present or not)"),
    Column("mpp_in_absentia_orders", "sum", "MPP removal orders for missing a hearing"),
    Column("mpp_relief_granted", "sum", "MPP cases granted asylum or other relief"),
    Column("regular_hearings", "sum", "final hearings held on the regular (non-detained) docket for people this model released"),
    Column("regular_in_absentia_orders", "sum", "regular-docket removal orders for missing the hearing"),
    Column("regular_removal_orders", "sum", "regular-docket removal orders after a hearing (the person stays in the US under a final order until ICE arrests them)"),
    Column("regular_relief_granted", "sum", "regular-docket cases granted asylum or other relief"),
    Column("hearings_postponed", "sum", "hearings (MPP or regular) moved to a later date"),
    Column("gave_up", "sum", "people who stopped trying"),
    Column("month_first_encounters", "sum", "people encountered for the first time in their calendar month (sums to a month's unique_encountered)"),
    Column("fiscal_year_first_encounters", "sum", "people encountered for the first time in their fiscal year (sums over a fiscal year to its distinct people)"),
    Column("cbp_custody", "mean", "people in Border Patrol custody (average daily)"),
    Column("in_us", "last", "people in the US: released, admitted or evaded (period end)"),
    *(Column(f"encounters_{k}", "sum", f"encounters in the {k.replace('_', ' ')} sector")
      for k in SECTOR_KEYS),
    Column("interior_arrests", "sum", "people ICE arrested in the interior: long-term residents, and people living under a final removal order"),
    Column("interior_releases", "sum", "people arrested in the interior and released with a notice to appear (at arrest, by the detained docket, or for want of a bed)"),
    Column("detention_population_border", "mean", "people in ICE detention arrested at the border (average daily)"),
    Column("detention_population_interior", "mean", "people in ICE detention arrested in the interior (average daily)"),
    Column("title42_flight_expulsions", "sum", "people expelled under Title 42 on expulsion flights, when flown (part of title42_expulsions, which counts them when expelled)"),
    Column("family_detention_population", "mean", "people (parents and children) in ICE's family residential centres (average daily; part of detention_population)"),
    *(Column(f"removals_{k}", "sum", f"removals (as `removals`) of {label}")
      for k, label in zip(NATIONALITY_KEYS, ("Mexicans", "Guatemalans", "Hondurans", "Salvadorans",
                                             "Chinese nationals", "all other nationalities"))),
    Column("metering_waiting", "last", "asylum seekers on metering waitlists in Mexican border cities, waiting to ask at a port of entry (period end)"),
    # the Northern Triangle apart (they sum to encounters_northern_triangle; with
    # encounters_mexico and encounters_other they sum to encounters)
    Column("encounters_guatemala", "sum", "encounters of Guatemalan nationals (part of encounters_northern_triangle)"),
    Column("encounters_honduras", "sum", "encounters of Honduran nationals (part of encounters_northern_triangle)"),
    Column("encounters_el_salvador", "sum", "encounters of Salvadoran nationals (part of encounters_northern_triangle)"),
)
COLUMN_INDEX = {c.name: i for i, c in enumerate(COLUMNS)}


class Recorder:
    """One row of counters per day, in agents; `add` writes into the current day.

    Owned by `BorderModel` (which moves `day` on); every actor adds to it;
    `simulate.tabulate` turns it into the daily and monthly tables, in people.
    """

    def __init__(self, n_days: int, scale: int):
        self.values = np.zeros((n_days, len(COLUMNS)))
        self.scale = scale
        self.day = 0

    @property
    def day(self) -> int:
        """The day being written (`today` is its row)."""
        return self._day

    @day.setter
    def day(self, day: int) -> None:
        self._day = day
        self.today = self.values[day]

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        del state["today"]  # a view of `values`: a pickle would restore it as a copy
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self.day = self._day  # `today` a view of the restored `values` again

    def add(self, name: str, amount: float) -> None:
        self.today[COLUMN_INDEX[name]] += amount

    def set(self, name: str, amount: float) -> None:
        self.today[COLUMN_INDEX[name]] = amount

    def in_people(self) -> np.ndarray:
        factor = np.array([1.0 if c.in_people or c.how == "rate" else self.scale for c in COLUMNS])
        return self.values * factor

    def daily_frame(self, dates: list) -> pd.DataFrame:
        values = self.in_people()
        enc = values[:, COLUMN_INDEX["encounters"]]
        values[:, COLUMN_INDEX["repeat_encounter_rate"]] = np.divide(
            values[:, COLUMN_INDEX["repeat_encounters"]], enc, out=np.zeros_like(enc),
            where=enc > 0)
        # dates as Parquet stores them
        return _rounded(values, {"date": pd.to_datetime(dates).astype("datetime64[ms]")})

    def monthly_frame(self, month_of_day: np.ndarray, labels: list[str]) -> pd.DataFrame:
        values = self.in_people()
        starts = np.flatnonzero(np.diff(month_of_day, prepend=-1))  # each month's first day
        ends = np.append(starts[1:], len(month_of_day)) - 1  # and last day
        sums = np.add.reduceat(values, starts, axis=0)
        aggregated = {"sum": sums, "mean": sums / (ends - starts + 1)[:, None],
                      "last": values[ends], "rate": np.zeros_like(sums)}
        months = np.empty_like(sums)
        for how, columns in _BY_HOW.items():
            months[:, columns] = aggregated[how][:, columns]
        # a month's distinct people are those whose first encounter of that month fell in it
        months[:, COLUMN_INDEX["unique_encountered"]] = months[:, COLUMN_INDEX["month_first_encounters"]]
        enc = months[:, COLUMN_INDEX["encounters"]]
        months[:, COLUMN_INDEX["repeat_encounter_rate"]] = np.divide(
            months[:, COLUMN_INDEX["repeat_encounters"]], enc, out=np.zeros_like(enc),
            where=enc > 0)
        return _rounded(months, {"month": labels})


# column indices by aggregation ("sum", "mean", "last", "rate")
_BY_HOW = {how: np.array([i for i, c in enumerate(COLUMNS) if c.how == how], dtype=np.int64)
           for how in ("sum", "mean", "last", "rate")}


_DECIMALS = {"rate": 4, "mean": 1}  # the others are whole numbers


def _rounded(values: np.ndarray, first: dict) -> pd.DataFrame:
    """A frame of `first`'s columns, then every column of `values` (one per COLUMNS)
    rounded as it is reported: rates to 4 places, daily means to 1, counts to whole
    numbers (int64). Built in one go (setting frame columns one by one costs more
    than the rest of a coarse run's tables)."""
    counts = values.round().astype(np.int64)
    data = dict(first)
    for i, c in enumerate(COLUMNS):
        places = _DECIMALS.get(c.how)
        data[c.name] = counts[:, i] if places is None else values[:, i].round(places)
    return pd.DataFrame(data)


def columns_markdown() -> str:
    """The README's column table, from COLUMNS (so docs and output cannot drift apart)."""
    how = {"sum": "total over the period", "mean": "average daily", "last": "period end",
           "rate": "share"}
    lines = ["| column | aggregation | meaning |", "|---|---|---|"]
    lines += [f"| `{c.name}` | {how[c.how]} | {c.meaning} |" for c in COLUMNS]
    return "\n".join(lines)
