"""Text blocks as plain HTML (escaped). Solara's Markdown loads KaTeX from a CDN,
which an offline machine cannot reach, so the page writes its text this way."""

import html

import solara

TABLE_STYLE = "border-collapse:collapse;font-size:85%"
CELL = "padding:1px 6px;border-bottom:1px solid #ddd"


def table(headers: list[str], rows: list[list], classes: list[str] | None = None,
          right: set[int] = frozenset()):
    """A table; columns whose index is in `right` are right-aligned (numbers)."""
    def cell(tag: str, i: int, value) -> str:
        align = "right" if i in right else "left"
        return f'<{tag} style="{CELL};text-align:{align}">{html.escape(str(value))}</{tag}>'
    head = "".join(cell("th", i, h) for i, h in enumerate(headers))
    body = "".join("<tr>" + "".join(cell("td", i, v) for i, v in enumerate(row)) + "</tr>"
                   for row in rows)
    return solara.HTML(tag="table", unsafe_innerHTML=f"<thead><tr>{head}</tr></thead>"
                       f"<tbody>{body}</tbody>", style=TABLE_STYLE, classes=classes or [])


def lines(items: list[str], classes: list[str] | None = None, style: str = "font-size:85%"):
    """A bulleted list."""
    body = "".join(f"<li>{html.escape(item)}</li>" for item in items)
    return solara.HTML(tag="ul", unsafe_innerHTML=body, style=style, classes=classes or [])


def heading(text: str, level: int = 2):
    return solara.HTML(tag=f"h{level}", unsafe_innerHTML=html.escape(text))


def paragraph(text: str, bold: str = "", classes: list[str] | None = None):
    """A paragraph, optionally starting with a bold part."""
    lead = f"<b>{html.escape(bold)}</b> " if bold else ""
    return solara.HTML(tag="p", unsafe_innerHTML=lead + html.escape(text), classes=classes or [])
