"""The map: the southwest border and northern Mexico, drawn with matplotlib from
coordinates shipped in the repo (`places`), updated in place each frame.

`BorderMap` owns one figure: coastlines, borders and state lines (drawn once),
a circle per Border Patrol sector (area: the day's apprehensions; colour: custody
against holding capacity), a triangle per MPP border city (area: people waiting),
and an arc per flight flown since the last frame (interior repatriation to
Guadalajara in red, removal flights south in blue). `image()` renders it, drawing only
those moving parts again (the outline is drawn once).
"""

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from model.state.geography import SECTORS
from ui.blit import BlittedFigure
from ui.day_view import DayView
from ui.places import AIRPORTS, MAP_EXTENT, MPP_CITIES, SECTOR_STATIONS, outline

ASPECT = 1 / np.cos(np.radians(25))  # equirectangular around 25 N
CUSTODY_COLOURS = "RdYlGn_r"
INTERIOR_COLOUR, REMOVAL_COLOUR = "#c62828", "#1565c0"


def marker_area(people: np.ndarray, full: float) -> np.ndarray:
    """Marker area in points^2: proportional to people, `full` people -> 900."""
    return np.where(people > 0, 12 + 900 * np.asarray(people, float) / full, 0)


def arc(start: tuple[float, float], end: tuple[float, float], bend: float = 0.18,
        points: int = 24) -> np.ndarray:
    """A quadratic Bezier curve from start to end, bowed to the side by `bend`."""
    p0, p2 = np.array(start), np.array(end)
    middle = (p0 + p2) / 2
    normal = np.array([-(p2 - p0)[1], (p2 - p0)[0]]) * bend
    p1 = middle + normal
    t = np.linspace(0, 1, points)[:, None]
    return (1 - t) ** 2 * p0 + 2 * (1 - t) * t * p1 + t ** 2 * p2


class BorderMap:
    """One map figure for one page; `update(view)` moves it to a day, `image()` renders it."""

    def __init__(self, width: float = 7.6, height: float = 4.9, dpi: int = 80):
        self.figure = Figure(figsize=(width, height), dpi=dpi)
        FigureCanvasAgg(self.figure)
        ax = self.ax = self.figure.add_axes((0.01, 0.01, 0.98, 0.93))
        west, east, south, north = MAP_EXTENT
        ax.set_xlim(west, east)
        ax.set_ylim(south, north)
        ax.set_aspect(ASPECT)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_facecolor("#e8f1f8")
        shapes = outline()
        ax.add_collection(LineCollection(shapes["states"], colors="#b0b0b0", linewidths=0.4))
        ax.add_collection(LineCollection(shapes["coast"], colors="#555555", linewidths=0.7))
        ax.add_collection(LineCollection(shapes["borders"], colors="#333333", linewidths=1.1))
        xy = np.array([SECTOR_STATIONS[s.key] for s in SECTORS])
        self.sectors = ax.scatter(xy[:, 0], xy[:, 1], s=np.zeros(len(xy)), c=np.zeros(len(xy)),
                                  cmap=CUSTODY_COLOURS, vmin=0, vmax=1, edgecolors="black",
                                  linewidths=0.6, zorder=4)
        cities = np.array([MPP_CITIES[s.key][1:] for s in SECTORS])
        self.mpp = ax.scatter(cities[:, 0], cities[:, 1], s=np.zeros(len(cities)), marker="v",
                              color="#7b1fa2", alpha=0.75, edgecolors="white", linewidths=0.5,
                              zorder=5)  # over the sector's circle: Juarez is at El Paso
        for s, (x, y) in zip(SECTORS, xy):
            ax.annotate(s.name, (x, y), xytext=(0, 7), textcoords="offset points", fontsize=6.5,
                        ha="center", zorder=5)
        ax.annotate("Guadalajara", AIRPORTS["guadalajara"], xytext=(4, -9),
                    textcoords="offset points", fontsize=6.5)
        self.flights = LineCollection([], linewidths=1.6, zorder=2)
        ax.add_collection(self.flights)
        self.title = self.figure.text(0.01, 0.965, "", fontsize=9)
        self.unplaced: set[str] = set()  # airports the map has no coordinates for
        ax.legend(handles=[
            Line2D([], [], marker="o", ls="", color="#fdae61", mec="black",
                   label="sector: area = apprehended that day, colour = custody / capacity"),
            Line2D([], [], marker="v", ls="", color="#7b1fa2", label="MPP: people waiting"),
            Line2D([], [], color=INTERIOR_COLOUR, label="flight to Guadalajara"),
            Line2D([], [], color=REMOVAL_COLOUR, label="removal flight"),
        ], loc="lower left", fontsize=6.5, framealpha=0.85)
        self.drawing = BlittedFigure(self.figure, [self.flights, self.sectors, self.mpp,
                                                   self.title])

    def update(self, view: DayView) -> None:
        apprehended = np.array([s.apprehended for s in view.sectors])
        fill = np.array([s.in_custody / max(s.capacity, 1) for s in view.sectors])
        self.sectors.set_sizes(marker_area(apprehended, 2000))
        self.sectors.set_array(np.clip(fill, 0, 1))
        self.mpp.set_sizes(marker_area(np.array([s.mpp_waiting for s in view.sectors]), 20000))
        lines, colours = [], []
        for f in view.flights:
            start, end = AIRPORTS.get(f.origin), AIRPORTS.get(f.destination)
            if start is None or end is None:
                self.unplaced.update(n for n, p in ((f.origin, start), (f.destination, end))
                                     if p is None)
                continue
            lines.append(arc(start, end))
            colours.append(INTERIOR_COLOUR if f.destination == "guadalajara" else REMOVAL_COLOUR)
        self.flights.set_segments(lines)
        self.flights.set_color(colours)
        self.title.set_text(f"{view.date:%a %d %b %Y}: {int(apprehended.sum()):,} apprehended, "
                            f"{sum(s.mpp_waiting for s in view.sectors):,} waiting under MPP, "
                            f"{len(view.flights)} flights in the last "
                            f"{'day' if view.flight_days == 1 else f'{view.flight_days} days'}")

    def image(self) -> bytes:
        return self.drawing.image()
