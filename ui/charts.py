"""The charts that update as a run plays: one small matplotlib figure each, redrawn in place.

Each `ChartSpec` names the chart, says what it shows and how to draw it from
`day_view.series(model)` (the run so far, in people); `LiveChart` owns the figure
for one page and one run (its x axis is the run's whole window, so a chart fills
from left to right as the run plays) and renders it as JPEG. Flows are summed per
week (weeks counted from the run's first day); stocks are daily. Each chart's
`caption` gives its latest values as text.
"""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter, date2num
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, PercentFormatter

from ui.blit import BlittedFigure, nice_ceiling

OUTCOMES = (  # encounters by consequence: (column, label, colour)
    ("title42_expulsions", "Title 42 expulsion", "#6a1b9a"),
    ("port_returns", "port return", "#1e88e5"),
    ("interior_repatriations", "interior repatriation", "#c62828"),
    ("mpp_enrollments", "MPP", "#f9a825"),
    ("releases", "release", "#43a047"),
    ("removals", "removal from detention", "#546e7a"),
    ("third_country_transfers", "to Guatemala (ACA)", "#8d6e63"),
)


def weekly(values: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(edges, sums): sums over 7-day weeks from the first day, and the weeks' edges
    on the x axis (matplotlib day numbers; len(sums) + 1; the last week may be partial)."""
    starts = np.arange(0, len(values), 7)
    if len(starts) == 0:
        return x[:0], values[:0]
    edges = np.append(x[starts], x[-1] + 1)
    return edges, np.add.reduceat(values, starts)


def last_week(s: dict) -> str:
    """The first day of the last (maybe partial) week run, as text."""
    return str(s["dates"][(len(s["dates"]) - 1) // 7 * 7])


def _people(value: float, _pos=None) -> str:
    return f"{value / 1e6:.1f}M" if abs(value) >= 1e6 else (
        f"{value / 1e3:.0f}k" if abs(value) >= 1e4 else f"{value:,.0f}")


def _stairs(ax, colour: str, label: str, fill: bool = False):
    """An empty step line (weekly values) to be filled in by `set_data`."""
    return ax.stairs([0], [0, 1], color=colour, label=label, fill=fill,
                     alpha=0.85 if fill else 1.0, linewidth=1.0)


@dataclass(frozen=True)
class ChartSpec:
    """A chart: `setup(ax)` makes its artists once; `update(artists, series)` moves
    them to the run so far and returns (caption, highest value drawn)."""

    key: str  # a name for the page (CSS class chart-KEY) and tests
    title: str
    setup: Callable
    update: Callable


def _setup_outcomes(ax):
    layers = [_stairs(ax, colour, label, fill=True) for _, label, colour in OUTCOMES]
    total = _stairs(ax, "black", "encounters")
    ax.legend(fontsize=5.5, loc="upper left", ncol=2, framealpha=0.7)
    return {"layers": layers, "total": total}


def _update_outcomes(a, s):
    edges, total = weekly(s["encounters"], s["x"])
    if not len(total):
        return "no days run yet", 0
    stacks = np.cumsum([weekly(s[c], s["x"])[1] for c, _, _ in OUTCOMES], axis=0)
    below = np.zeros_like(total)
    for layer, top in zip(a["layers"], stacks):
        layer.set_data(top, edges, baseline=below)
        below = top
    a["total"].set_data(total, edges)
    last = {label: int(v) for (_, label, _), v in
            zip(OUTCOMES, np.diff(stacks[:, -1], prepend=0))}
    return (f"week from {last_week(s)}: {int(total[-1]):,} encounters; "
            + ", ".join(f"{label} {v:,}" for label, v in last.items()),
            max(total.max(), stacks[-1].max()))


def _setup_repeat_rate(ax):
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    return {"rate": _stairs(ax, "#00897b", "repeat rate")}


def _update_repeat_rate(a, s):
    edges, enc = weekly(s["encounters"], s["x"])
    if not len(enc):
        return "", 0
    _, rep = weekly(s["repeat_encounters"], s["x"])
    rate = np.divide(rep, enc, out=np.zeros_like(enc), where=enc > 0)
    a["rate"].set_data(rate, edges)
    return f"week from {last_week(s)}: {rate[-1]:.1%} of encounters were repeats", 0.6


def _setup_lines(*lines):
    """A setup making one line per (column, label, colour), with a legend if labelled."""
    def setup(ax):
        made = {c: ax.plot([], [], color=colour, label=label, linestyle=style)[0]
                for c, label, colour, style in lines}
        if len(lines) > 1:
            ax.legend(fontsize=6, loc="lower left")
        return made
    return setup


def _set_lines(a, s) -> float:
    for column, line in a.items():
        line.set_data(s["x"], s[column])
    return max((s[c].max() for c in a if len(s[c])), default=0)


def _update_lines(caption: Callable):
    """An update for line charts: the lines to the days run, and `caption(series)`."""
    def update(a, s):
        top = _set_lines(a, s)
        return (caption(s), top) if len(s["dates"]) else ("", 0)
    return update


_update_mpp = _update_lines(
    lambda s: f"{s['dates'][-1]}: {int(s['mpp_waiting'][-1]):,} people waiting in Mexico; "
              f"{int(s['mpp_enrollments'].sum()):,} enrolled in this run so far")
_update_detention = _update_lines(
    lambda s: f"{s['dates'][-1]}: {int(s['detention_population'][-1]):,} detained of "
              f"{int(s['detention_cap'][-1]):,} usable beds")
_update_backlog = _update_lines(
    lambda s: f"{s['dates'][-1]}: {int(s['court_backlog'][-1]):,} pending cases")


def _setup_releases(ax):
    made = {"releases": _stairs(ax, "#43a047", "all releases"),
            "capacity_releases": _stairs(ax, "#e65100", "of them: holding or beds full")}
    ax.legend(fontsize=6, loc="upper left")
    return made


def _update_releases(a, s):
    edges, released = weekly(s["releases"], s["x"])
    if not len(released):
        return "", 0
    _, forced = weekly(s["capacity_releases"], s["x"])
    a["releases"].set_data(released, edges)
    a["capacity_releases"].set_data(forced, edges)
    return (f"week from {last_week(s)}: {int(released[-1]):,} released "
            f"({int(forced[-1]):,} for lack of room)", released.max())


def _setup_flights(ax):
    return {"passengers": _stairs(ax, "#1565c0", "passengers", fill=True)}


def _update_flights(a, s):
    edges, passengers = weekly(s["flight_passengers"], s["x"])
    if not len(passengers):
        return "", 0
    _, flights = weekly(s["flights"], s["x"])
    a["passengers"].set_data(passengers, edges)
    return (f"week from {last_week(s)}: {int(flights[-1])} flights, {int(passengers[-1]):,} "
            f"passengers; {int(s['flights'].sum())} flights in this run so far", passengers.max())


CHARTS: tuple[ChartSpec, ...] = (
    ChartSpec("outcomes", "Encounters by consequence, per week", _setup_outcomes,
              _update_outcomes),
    ChartSpec("repeat_rate", "Repeat-encounter rate, per week", _setup_repeat_rate,
              _update_repeat_rate),
    ChartSpec("mpp_waiting", "People waiting in Mexico under MPP",
              _setup_lines(("mpp_waiting", None, "#7b1fa2", "-")), _update_mpp),
    ChartSpec("detention", "ICE detention against its cap",
              _setup_lines(("detention_population", "in ICE detention", "#546e7a", "-"),
                           ("detention_cap", "beds usable (cap)", "#c62828", "--")),
              _update_detention),
    ChartSpec("releases", "Releases into the US, per week", _setup_releases, _update_releases),
    ChartSpec("flights", "Flight passengers, per week", _setup_flights, _update_flights),
    ChartSpec("court_backlog", "Immigration court backlog",
              _setup_lines(("court_backlog", None, "#3949ab", "-")), _update_backlog),
)


class LiveChart:
    """One chart's figure for one run: axes, date range and artists made once;
    `update(series)` moves the artists to the run so far and returns the caption;
    `image()` renders it (blitted: only the data is drawn again, unless the y axis grew)."""

    def __init__(self, spec: ChartSpec, first_day: np.datetime64, last_day: np.datetime64,
                 width: float = 4.4, height: float = 2.5, dpi: int = 80):
        self.spec = spec
        self.figure = Figure(figsize=(width, height), dpi=dpi)
        FigureCanvasAgg(self.figure)
        ax = self.ax = self.figure.add_axes((0.13, 0.14, 0.84, 0.76))
        ax.set_title(spec.title, fontsize=8.5, loc="left")
        ax.tick_params(labelsize=6.5)
        ax.grid(alpha=0.3)
        ax.yaxis.set_major_formatter(FuncFormatter(_people))
        locator = AutoDateLocator()
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))
        ax.set_xlim(date2num(first_day), date2num(last_day + np.timedelta64(1, "D")))
        ax.set_ylim(0, 1)
        self.artists = spec.setup(ax)
        moving = [a for v in self.artists.values() for a in (v if isinstance(v, list) else [v])]
        self.drawing = BlittedFigure(self.figure, moving)
        self.caption = ""

    def update(self, series: dict) -> str:
        self.caption, top = self.spec.update(self.artists, series)
        top = nice_ceiling(float(top) * 1.05)
        if top != self.ax.get_ylim()[1]:  # new ticks: the background is drawn again
            self.ax.set_ylim(0, top)
            self.drawing.invalidate()
        return self.caption

    def image(self) -> bytes:
        return self.drawing.image()
