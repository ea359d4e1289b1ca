"""report.html: one run on one self-contained page, written by `run.py run` beside
monthly.csv (through `model.output.write_outputs`, so it is moved in with the other
files, before run.json).

The page holds what defines the run (scenario, description, dates, seed, scale, the
command), the headline figures per US fiscal year (`headline_table`, the same table
`run.py run` prints), the main monthly series (`PLOTS`) with the scenario's main
policies drawn above each as bars over their dates (`MARKED`), and the list of the
policies in force. It works offline: the plots are PNGs (matplotlib, Agg) inlined as
base64 data: URIs, the CSS is inline, nothing is fetched. Every text that comes from
the scenario (name, description, policy ids, file names) or the command line is
HTML-escaped: a scenario file is user input.

    >>> from reports.run_report import report_page
    >>> page = report_page(simulate("historical", scale=200), command=["run.py", "run", ...])
"""

import base64
import html
import io
from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import pandas as pd

from model.config.policies import (
    MPP,
    GuatemalaAgreement,
    InteriorRepatriation,
    MexicoRefusesFamilies,
    MPPWindDown,
    RemovalMoratorium,
    Title42,
)
from model.state.recorder import COLUMNS

# the fiscal-year table `run.py run` prints and the page shows
HEADLINE_COLUMNS = ["encounters", "unique_encountered", "repeat_encounter_rate",
                    "title42_expulsions", "port_returns", "interior_repatriations",
                    "mpp_enrollments", "releases", "removals", "flights"]
HEADLINE_NOTE = ("Totals per US fiscal year (October to September); unique people counted "
                 "once a year; all counts in people.")

# the policies drawn above each plot, one row per class: (class, label, colour)
MARKED = (
    (Title42, "Title 42", "#6a1b9a"),
    (MPP, "MPP (Remain in Mexico)", "#f9a825"),
    (MPPWindDown, "MPP wind-down", "#fdd835"),
    (InteriorRepatriation, "interior repatriation", "#c62828"),
    (GuatemalaAgreement, "Guatemala agreement", "#8d6e63"),
    (MexicoRefusesFamilies, "Mexico refuses families", "#1e88e5"),
    (RemovalMoratorium, "removal moratorium", "#546e7a"),
)


@dataclass(frozen=True)
class Plot:
    """One figure: `series` (column, label, colour) by month; `stacked` fills them
    one on another (parts of `total`, drawn as a line over them)."""

    key: str
    title: str
    series: tuple[tuple[str, str, str], ...]
    stacked: bool = False
    total: str | None = None


PLOTS = (
    Plot("encounters", "Encounters per month, by demographic",
         (("encounters_single_adults", "single adults", "#90a4ae"),
          ("encounters_family_units", "members of family units", "#ffb74d"),
          ("encounters_unaccompanied_children", "unaccompanied children", "#81c784")),
         stacked=True, total="encounters"),
    Plot("outcomes", "What happened to the people encountered, per month",
         (("title42_expulsions", "Title 42 expulsions", "#6a1b9a"),
          ("port_returns", "returned at a port", "#1e88e5"),
          ("interior_repatriations", "flown to the interior of Mexico", "#c62828"),
          ("mpp_enrollments", "MPP enrolments", "#f9a825"),
          ("releases", "released into the US", "#43a047"),
          ("third_country_transfers", "flown to Guatemala (ACA)", "#8d6e63"))),
    Plot("removals", "ICE removals per month",
         (("removals", "removals", "#546e7a"),)),
    Plot("held", "People held or waiting",
         (("detention_population", "in ICE detention (daily average)", "#546e7a"),
          ("mpp_waiting", "waiting in Mexico under MPP (month end)", "#f9a825"),
          ("metering_waiting", "on metering lists in Mexico (month end)", "#1e88e5"))),
)
_MEANING = {c.name: c.meaning for c in COLUMNS}

STYLE = ("body{font-family:sans-serif;margin:2em auto;max-width:64em;padding:0 1em;color:#222}"
         "table{border-collapse:collapse;font-size:90%;margin-bottom:1.5em}"
         "td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}"
         "th:first-child,td:first-child{text-align:left}"
         "table.facts td,table.policies td{text-align:left}"
         "img{max-width:100%;height:auto}"
         "p.description{font-size:110%;font-style:italic}"
         "code{background:#f4f4f4;padding:0 3px}")


def _drawn_columns() -> list[str]:
    columns = []
    for plot in PLOTS:
        columns += ([plot.total] if plot.total else []) + [c for c, _, _ in plot.series]
    return list(dict.fromkeys(columns))


def headline_table(result) -> pd.DataFrame:
    """The headline figures per fiscal year, as text (counts with thousands separators,
    the repeat rate to 3 places): `period` (FY2019...) by `dates` and HEADLINE_COLUMNS."""
    years = result.fiscal_years()
    table = years[HEADLINE_COLUMNS].copy()
    table.index = "FY" + table.index.astype(str)
    table.index.name = "period"
    table.insert(0, "dates", years["first"].values + ".." + years["last"].values)
    table["repeat_encounter_rate"] = years["repeat_encounter_rate"].round(3).values
    counts = [c for c in HEADLINE_COLUMNS if c != "repeat_encounter_rate"]
    table[counts] = table[counts].map(lambda v: f"{int(v):,}")
    return table


def marked_policies(loaded) -> list[tuple[str, str, list]]:
    """[(label, colour, [policies of that class in the run])], for the classes in
    MARKED that the run has (a scenario that turns MPP off has no MPP row)."""
    rows = []
    for cls, label, colour in MARKED:
        policies = [p for p in loaded.policies if type(p) is cls]
        if policies:
            rows.append((label, colour, policies))
    return rows


def monthly_png(result, plots: tuple[Plot, ...] = PLOTS) -> bytes:
    """One PNG: the marked policies as bars over their dates on top, then one panel
    per plot, all on the same months (each month's value drawn across its days), and
    a dashed line at each marked policy's start through every panel."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter, date2num
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    loaded, monthly = result.scenario, result.monthly
    edges = date2num(np.append(pd.to_datetime(monthly["month"], format="%Y-%m").to_numpy(),
                               np.datetime64(loaded.end + timedelta(days=1))))
    edges[0] = date2num(np.datetime64(loaded.start))  # a run may start mid-month
    marks = marked_policies(loaded)
    strip_height = 0.18 * len(marks) + 0.15 if marks else 0
    fig = Figure(figsize=(10, strip_height + 2.3 * len(plots) + 0.4), dpi=80)
    FigureCanvasAgg(fig)
    heights = ([strip_height] if marks else []) + [2.3] * len(plots)
    # not sharex: each axis would then build the shared date ticks again; the same
    # limits, and ticks on the last panel only, draw the same in about half the time
    axes = fig.subplots(len(heights), 1, squeeze=False,
                        gridspec_kw={"height_ratios": heights, "hspace": 0.18})[:, 0]
    panels = axes[1:] if marks else axes
    if marks:
        _draw_policies(axes[0], panels, marks)
    people = FuncFormatter(lambda v, _pos: f"{v:,.0f}")
    for ax in axes:
        ax.set_xlim(edges[0], edges[-1])
    for ax, plot in zip(panels, plots):
        if plot.stacked:
            bottom = np.zeros(len(monthly))
            for column, label, colour in plot.series:
                top = bottom + monthly[column].to_numpy(dtype=float)
                ax.stairs(top, edges, baseline=bottom, fill=True, color=colour, label=label,
                          linewidth=0)
                bottom = top
            ax.stairs(monthly[plot.total].to_numpy(dtype=float), edges, baseline=None,
                      color="black", linewidth=1.0, label=plot.total)
        else:
            for column, label, colour in plot.series:
                ax.stairs(monthly[column].to_numpy(dtype=float), edges, baseline=None,
                          color=colour, linewidth=1.4, label=label)
        ax.set_ylim(bottom=0)
        ax.yaxis.set_major_locator(MaxNLocator(4))
        ax.yaxis.set_major_formatter(people)
        ax.grid(alpha=0.3)
        ax.set_title(plot.title, fontsize=9, loc="left", pad=3)
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.005, 1.0), frameon=False)
    last = panels[-1]
    locator = AutoDateLocator()
    last.xaxis.set_major_locator(locator)
    last.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    ticks = last.get_xticks()  # the other panels' grid on the same dates, unlabelled
    for ax in axes[:-1]:
        ax.set_xticks(ticks, labels=[])
        ax.tick_params(axis="x", length=0)
    fig.subplots_adjust(left=0.14, right=0.74, top=0.985, bottom=0.03)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def _draw_policies(strip, panels, marks: list) -> None:
    """One row per marked class on `strip`: a bar over each of its policies' days (end
    included); a dashed line in each panel at each policy's start."""
    from matplotlib.dates import date2num

    lefts, widths, rows, colours, starts, start_colours = [], [], [], [], [], []
    for row, (label, colour, policies) in enumerate(marks):
        for p in policies:
            lefts.append(date2num(np.datetime64(p.start)))
            widths.append((p.end - p.start).days + 1)
            rows.append(row)
            colours.append(colour)
    strip.barh(rows, widths, left=lefts, height=0.75, color=colours)
    for ax in panels:
        ax.vlines(lefts, 0, 1, transform=ax.get_xaxis_transform(), colors=colours,
                  alpha=0.6, linewidth=0.8, linestyles="--")
    strip.set_yticks(range(len(marks)), [label for label, _, _ in marks], fontsize=7)
    strip.set_ylim(len(marks) - 0.5, -0.5)
    strip.tick_params(axis="x", bottom=False)
    strip.set_title("Policies in force (the scenario's main ones)", fontsize=9, loc="left",
                    pad=3)
    for side in ("top", "right", "left"):
        strip.spines[side].set_visible(False)


def page_start(title: str, facts: list[tuple[str, str]], style: str = STYLE,
               after_title: tuple[str, ...] = ()) -> list[str]:
    """The opening of a self-contained report page, as run.py's `report.html`, `discover`
    and `validate` write it: the head with `style` inlined, the title, `after_title`
    (HTML, as given) and a table of `facts` (label, text; escaped)."""
    esc = html.escape
    return ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{esc(title)}</title>", f"<style>{style}</style></head><body>",
            f"<h1>{esc(title)}</h1>", *after_title,
            '<table class="facts">'
            + "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in facts)
            + "</table>"]


def report_page(result, command: list[str] | None = None,
                files: tuple[str, ...] = ("monthly.csv", "daily.parquet", "flights.csv",
                                          "run.json")) -> str:
    """The whole page, as text. `command` (the command line that made the run) and
    `files` (the files beside the page, linked by their names) are shown as given."""
    return page_html(result, monthly_png(result), command, files)


def page_html(result, png: bytes, command: list[str] | None, files: tuple[str, ...]) -> str:
    """The page around the already-drawn monthly figure (`monthly_png`)."""
    esc = html.escape
    loaded, info = result.scenario, result.info
    title = f"{loaded.name}, seed {result.seed}, scale {result.scale}"
    facts = [
        ("dates", f"{loaded.start} to {loaded.end} ({len(result.daily):,} days)"),
        ("seed", str(result.seed)),
        ("scale", f"{result.scale} (one agent stands for {result.scale:,} people)"),
    ]
    if info.get("people_created") is not None:
        facts.append(("people", f"{info['people_created']:,} set out or were arrested "
                                f"in the interior ({info['agents_created']:,} agents)"))
    if info.get("wall_time_s") is not None:
        facts.append(("wall time", f"{info['wall_time_s']:.1f} s"))
    facts.append(("scenario files", ", ".join(str(s) for s in loaded.sources)))
    facts.append(("model code", f"{info.get('code', '')} (package "
                                f"{info.get('package_version', '')})"))
    if command:
        facts.append(("command", " ".join(command)))
    parts = [
        *page_start(title, facts,
                    after_title=(f'<p class="description">{esc(loaded.description)}</p>',)),
        "<h2>Totals per fiscal year</h2>", f"<p>{esc(HEADLINE_NOTE)}</p>",
        headline_table(result).to_html(escape=True),
        "<h2>By month</h2>",
        "<p>Each month's value is drawn across its days. Top: the scenario's main policies "
        "over the days they are in force (a dashed line through the panels marks each "
        "start); every policy of the run is listed at the end of the page.</p>",
    ]
    data = base64.b64encode(png).decode("ascii")
    alt = "; ".join(plot.title for plot in PLOTS) + ", with the policies in force above"
    parts.append(f'<img alt="{esc(alt)}" src="data:image/png;base64,{data}">')
    parts.append("<p><small>The monthly.csv columns drawn: " + "; ".join(
        f"<code>{esc(c)}</code>: {esc(_MEANING[c])}" for c in _drawn_columns()) + "</small></p>")
    parts.append("<h2>Policies in this run</h2>")
    parts.append('<table class="policies"><tr><th>id</th><th>kind</th><th>from</th>'
                 "<th>to</th></tr>"
                 + "".join(f"<tr><td>{esc(p.id)}</td><td>{esc(p.kind)}</td><td>{p.start}</td>"
                           f"<td>{p.end}</td></tr>" for p in loaded.policies)
                 + "</table>")
    if files:
        parts.append("<p>Beside this page: "
                     + ", ".join(f'<a href="{esc(name)}">{esc(name)}</a>' for name in files)
                     + " (columns in the project's docs/output.md).</p>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
