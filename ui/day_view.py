"""What the page shows of a model at the last day it ran: read off `BorderModel`, in people.

`DayView.of(model)` is cheap (a few numpy reductions over today's rows): the day's
apprehensions and custody per sector, people waiting under MPP per border city,
the flights that flew in the last days, detention against the cap, and the
policies in force. `series(model)` gives the daily output so far (the recorder's
columns, in people) for the charts. Nothing here changes the model.
"""

from dataclasses import dataclass
from datetime import date

import numpy as np
from matplotlib.dates import date2num

from model.state.geography import N_SECTORS, SECTORS
from model.state.recorder import COLUMN_INDEX
from model.state.vocabulary import Status


@dataclass(frozen=True)
class SectorDay:
    key: str
    name: str
    apprehended: int  # people encountered in the sector on the day
    in_custody: int  # people in Border Patrol custody at the day's end
    capacity: int  # holding capacity, people
    mpp_city: str
    mpp_waiting: int  # people from this sector waiting in Mexico under MPP


@dataclass(frozen=True)
class FlightDay:
    date: str
    route: str
    origin: str
    destination: str
    passengers: int


@dataclass(frozen=True)
class DayView:
    """The state of the border at the end of `date` (the last day run)."""

    day: int  # days run so far (0: not started)
    n_days: int
    date: date  # the last day run (the first day before any step)
    finished: bool
    sectors: tuple[SectorDay, ...]
    flights: tuple[FlightDay, ...]  # flown in the `flight_days` days to `date`
    flight_days: int
    detained: int
    detention_capacity: int
    policies: tuple[str, ...]  # "id (kind): start to end" for each policy in force

    @classmethod
    def of(cls, model, flight_days: int = 7) -> "DayView":
        cal, scale = model.calendar, model.scale
        last = max(model.day - 1, 0)
        started = model.day > 0
        row = model.recorder.values[last]
        waiting = mpp_waiting_by_sector(model)
        sectors = tuple(
            SectorDay(s.key, s.name,
                      int(round(row[COLUMN_INDEX[f"encounters_{s.key}"]] * scale)) if started else 0,
                      int(model.border_patrol.in_custody[i]) * scale,
                      int(model.border_patrol.holding_capacity[i]) * scale,
                      s.mexican_city, int(waiting[i]) * scale)
            for i, s in enumerate(SECTORS))
        first = cal.iso_dates[max(last - flight_days + 1, 0)]
        today = cal.iso_dates[last]
        flights = tuple(FlightDay(f.date, f.route, f.origin, f.destination, f.passengers)
                        for f in model.flight_log
                        if f.status == "flown" and first <= f.date <= today) if started else ()
        in_force = tuple(f"{p.id} ({p.kind}): {p.start} to {p.end}"
                         for p in model.policies.policies if p.in_force(last))
        return cls(model.day, cal.n_days, cal.date(last), not model.running, sectors, flights,
                   flight_days, model.ice.detained * scale, model.ice.capacity(last) * scale, in_force)


def mpp_waiting_by_sector(model) -> np.ndarray:
    """Agents waiting in Mexico under MPP, by the sector they were returned from."""
    pop = model.migrants.pop
    roster = model.courts.mpp_roster
    roster = roster[pop.status[roster] == Status.MPP_WAITING]
    return np.bincount(pop.sector[roster], minlength=N_SECTORS)


def series(model) -> dict[str, np.ndarray]:
    """The days run so far: `dates` (datetime64[D]), `x` (the same as
    matplotlib day numbers) and each recorder column in people
    (`repeat_encounter_rate` left out: charts compute rates over their own periods)."""
    cal = model.calendar
    values = model.recorder.in_people()[: model.day]
    out = {name: values[:, i] for name, i in COLUMN_INDEX.items()}
    first = np.datetime64(cal.start, "D")
    out["dates"] = np.arange(first, first + np.timedelta64(model.day, "D"))
    out["x"] = date2num(out["dates"])  # matplotlib's day numbers, for the charts
    out["detention_cap"] = (model.scenario.detention_beds
                            * model.timeline.detention_cap_share[: model.day])
    return out
