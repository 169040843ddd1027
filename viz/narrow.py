"""Figures that fit a phone: side-by-side panels restacked into one or two columns.

A figure factory lays its panels out for a laptop. On a narrow screen `fit` moves the same
panels into fewer columns (one on a phone, two on a tablet), keeps each panel's height, moves
the subplot titles and colour bars with their panels, wraps long titles and grows the figure's
height to hold the new rows. The screen's width comes from `screen_width()`: the browser reports
it (ui/responsive.py registers where to read it with `set_width_source`); without a source, or
outside a page, it is None and every figure stays as drawn. `theme.base_layout` calls `fit`.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go

PHONE_MAX = 640  # px: Streamlit stacks st.columns below this window width
TABLET_MAX = 1024  # px: up to here the sidebar is folded away and panels share ~700 px
NOMINAL = {"phone": 390, "tablet": 768}  # px: figures are laid out for these two widths
PAGE_PADDING = 32  # px of the window that is not the figure's container on a phone
MIN_ROW_PX = 110.0  # a restacked panel is never shorter than this
MAX_CELL_PX = 44.0  # a grid's cells grow no bigger than this when a panel gets a row to itself
CHAR_PX = 7.5  # width of one character of a 13 px title, for wrapping
_width_source: Callable[[], int | None] = lambda: None  # noqa: E731


def set_width_source(source: Callable[[], int | None]) -> None:
    """Register the function that says how wide the browser window is (px, or None)."""
    global _width_source
    _width_source = source


def screen_width() -> int | None:
    """The browser window's width in px, when known; never raises."""
    try:
        width = _width_source()
    except Exception:  # a page run without a browser (tests, scripts): draw for a laptop
        return None
    return int(width) if width else None


def bucket(width: int | None) -> str:
    """'phone', 'tablet' or 'wide' for a window `width` px wide (None: wide)."""
    if width is None or width > TABLET_MAX:
        return "wide"
    return "phone" if width <= PHONE_MAX else "tablet"


def layout_key() -> str:
    """What a figure drawn now depends on: the screen's bucket. A cache of figures shared
    between sessions must put it in its key (a phone's figure is not a laptop's)."""
    return bucket(screen_width())


def columns_for(width: int | None, panels: int) -> int:
    """How many panels side by side suit a window `width` px wide."""
    kind = bucket(width)
    if kind == "wide":
        return panels
    return 1 if kind == "phone" else min(panels, 2)


@dataclass(frozen=True)
class Panel:
    """One subplot: its axes' names and the domains it had."""

    x: str  # "xaxis2"
    y: str  # "yaxis2"
    x_domain: tuple[float, float]
    y_domain: tuple[float, float]
    square: bool  # its cells keep a 1:1 aspect (scaleanchor)


def panels(layout: dict) -> list[Panel]:
    """The figure's subplots, top row first, left to right."""
    found = []
    for name, axis in layout.items():
        if not re.fullmatch(r"xaxis\d*", name) or axis.get("overlaying"):
            continue
        y = "yaxis" + str(axis.get("anchor", "y"))[1:]
        y_axis = layout.get(y, {})
        found.append(
            Panel(
                name,
                y,
                tuple(axis.get("domain", (0.0, 1.0))),
                tuple(y_axis.get("domain", (0.0, 1.0))),
                bool(y_axis.get("scaleanchor") or axis.get("scaleanchor")),
            )
        )
    return sorted(found, key=lambda p: (-round(p.y_domain[1], 3), round(p.x_domain[0], 3)))


def _grid_columns(found: list[Panel]) -> int:
    return len({round(p.x_domain[0], 3) for p in found})


def wrap(text: str, width_px: float) -> str:
    """Break a plain title into lines that fit `width_px` (Plotly's <br>)."""
    chars = max(12, int(width_px / CHAR_PX))
    if not text or "<br>" in text or len(text) <= chars:
        return text
    return "<br>".join(textwrap.wrap(text, chars))


def fit(fig: go.Figure, width: int | None = None, screen: str | None = None) -> go.Figure:
    """Restack `fig`'s panels for a window `width` px wide (default: `screen_width()`).

    The layout depends only on the width's bucket (`layout_key`), drawn for the bucket's
    nominal width; Plotly then stretches the figure to the page's real width. `screen` (a
    bucket) overrides the width, for callers that cache figures by it."""
    kind = screen or bucket(screen_width() if width is None else width)
    if kind == "wide":
        return fig
    layout = fig.layout.to_plotly_json()
    container = NOMINAL[kind] - PAGE_PADDING * (1 if kind == "phone" else 2)
    width = NOMINAL[kind]
    title = (layout.get("title") or {}).get("text")
    if title:
        fig.layout.title.text = wrap(title, container - 60)
    found = panels(layout)
    cols = columns_for(width, _grid_columns(found))
    if len(found) < 2 or cols >= _grid_columns(found):
        return fig
    return _restack(fig, layout, found, cols, container)


def _titles(layout: dict, found: list[Panel]) -> dict[int, Panel]:
    """Annotation index -> panel, for annotations centred over a panel's top edge."""
    owned = {}
    for i, note in enumerate(layout.get("annotations", [])):
        if note.get("xref") != "paper" or note.get("yref") != "paper":
            continue
        for panel in found:
            centre = sum(panel.x_domain) / 2
            if (
                abs(note.get("x", -1) - centre) < 1e-3
                and abs(note.get("y", -1) - panel.y_domain[1]) < 1e-3
            ):
                owned[i] = panel
                break
    return owned


def _restack(
    fig: go.Figure, layout: dict, found: list[Panel], cols: int, container: int
) -> go.Figure:
    margin = layout.get("margin", {})
    top, bottom = margin.get("t", 50), margin.get("b", 40)
    plot_px = max((layout.get("height") or 450) - top - bottom, 100)
    panel_w = (container - margin.get("l", 40) - margin.get("r", 20)) / cols
    shapes = _cell_shapes(fig)
    wanted = [_panel_px(p, plot_px, panel_w, shapes.get(p.x)) for p in found]
    row_px = [max(wanted[i : i + cols]) for i in range(0, len(found), cols)]
    titles = _titles(layout, found)
    gap_px = 40.0 + (26.0 if titles else 0.0)  # tick labels below a panel, the next title
    new_plot = sum(row_px) + (len(row_px) - 1) * gap_px
    h_gap = 0.08 if cols > 1 else 0.0
    cell_w = (1 - h_gap * (cols - 1)) / cols
    places = {}
    for i, panel in enumerate(found):
        row, col = divmod(i, cols)
        y1 = 1 - (sum(row_px[:row]) + row * gap_px) / new_plot
        x0 = col * (cell_w + h_gap)
        x = (_clip(x0), _clip(x0 + cell_w))
        places[panel.x] = (x, (_clip(y1 - row_px[row] / new_plot), _clip(y1)))
        fig.layout[panel.x].domain = places[panel.x][0]
        fig.layout[panel.y].domain = places[panel.x][1]
    for i, panel in titles.items():
        (x0, x1), (_, y1) = places[panel.x]
        note = fig.layout.annotations[i]
        note.update(x=(x0 + x1) / 2, y=y1, text=wrap(note.text or "", panel_w))
    _move_colorbars(fig, places)
    fig.layout.height = int(top + bottom + new_plot)
    return fig


def _cell_shapes(fig: go.Figure) -> dict[str, tuple[int, int]]:
    """Rows and columns of the grid drawn on each panel (heatmaps and images), by x axis."""
    found = {}
    for trace in fig.data:
        z = getattr(trace, "z", None)
        if z is not None and np.ndim(z) >= 2:
            name = "xaxis" + (getattr(trace, "xaxis", None) or "x")[1:]
            found[name] = tuple(np.shape(z)[:2])
    return found


def _panel_px(panel: Panel, plot_px: float, width: float, cells: tuple | None) -> float:
    """A panel's height when it has a row of its own: as drawn, or, for square cells, as tall
    as the width allows with cells of at most MAX_CELL_PX (a 3×3 kernel stays small)."""
    drawn = (panel.y_domain[1] - panel.y_domain[0]) * plot_px
    if not panel.square:
        return max(MIN_ROW_PX, drawn)
    rows, cols = cells or (1, 1)
    fitted = width * rows / cols if cells else width
    if cells:
        fitted = min(fitted, rows * MAX_CELL_PX)
    return max(MIN_ROW_PX, fitted)


def _clip(value: float) -> float:
    return min(1.0, max(0.0, round(value, 6)))


def _move_colorbars(fig: go.Figure, places: dict) -> None:
    """Each trace's colour bar beside its own panel, as tall as the panel."""
    for trace in fig.data:
        if not hasattr(trace, "colorbar") or getattr(trace, "showscale", None) is False:
            continue
        name = "xaxis" + (getattr(trace, "xaxis", None) or "x")[1:]
        if name in places:
            (_, _), (y0, y1) = places[name]
            trace.colorbar.update(
                y=(y0 + y1) / 2, len=y1 - y0, yanchor="middle", lenmode="fraction"
            )


# Helpers for diagrams drawn top to bottom on a narrow screen (viz/network.py, viz/backprop.py,
# viz/segmentation.py): they lay out in px of the figure's nominal width, so a label's width
# can be estimated and kept clear of its neighbours.
TIGHT_MARGIN = {"l": 6, "r": 6, "t": 10, "b": 10}  # px: a tall diagram needs no axis room
LABEL_PX = 12  # px: the font of a narrow diagram's labels (readable on a phone)


def drawing_width(kind: str) -> int:
    """The px a figure drawn for a `kind` screen ('phone' or 'tablet') has inside
    TIGHT_MARGIN (its nominal container, less the margins)."""
    container = NOMINAL[kind] - PAGE_PADDING * (1 if kind == "phone" else 2)
    return container - TIGHT_MARGIN["l"] - TIGHT_MARGIN["r"]


def text_width(text: str, size: float = LABEL_PX) -> float:
    """An estimate of a label's width in px: 0.6 × font size per character of its longest
    line (Plotly's <br> breaks lines; tags such as <b> take no room)."""
    lines = re.sub(r"<(?!br>)[^>]*>", "", text).split("<br>")
    return 0.6 * size * max(len(line) for line in lines)


def arrow(tail: tuple[float, float], head: tuple[float, float], colour: str, width: float = 1.5):
    """An arrow annotation on the data axes from `tail` to `head`: the links of a tall diagram."""
    return {
        "x": head[0], "y": head[1], "ax": tail[0], "ay": tail[1], "xref": "x", "yref": "y",
        "axref": "x", "ayref": "y", "text": "", "showarrow": True, "arrowhead": 2,
        "arrowsize": 1, "arrowwidth": width, "arrowcolor": colour,
    }  # fmt: skip
