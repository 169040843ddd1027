"""Figures for the Backpropagation page: the toy network as clickable grids, and the V of a
gradient check (error against step size, float32 and float64)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go

from models.inspect.backprop import GradCheck
from models.inspect.backprop_steps import BACKWARD, SHAPES, Mark
from viz import narrow, theme

BACK_ROW = 7  # the gradient grids sit this many rows below their forward counterparts
# Top-left (row, column) of each grid on one shared set of axes.
ORIGIN = {
    **{"x": (0, 0), "w": (0, 6), "b": (4, 6), "z": (0, 10), "a": (0, 14), "p": (0, 18)},
    **{"V": (0, 21), "c": (0, 26), "s": (0, 28), "L": (3, 28)},
}
ORIGIN |= {f"d{k}": (r + BACK_ROW, c) for k, (r, c) in ORIGIN.items() if f"d{k}" in BACKWARD}
TITLES = {
    **{"x": "input x", "w": "weights w", "b": "bias b", "z": "conv z", "a": "ReLU a"},
    **{"p": "max pool p", "V": "linear V", "c": "c", "s": "logits s", "L": "loss L"},
}
WIDTH = 29  # grid columns used
X_RANGE, Y_RANGE = (-1.8, WIDTH + 0.9), (BACK_ROW + 5.6, -1.4)  # axis ranges (y points down)
# Pale fills (purple below zero, teal above) so the blue and orange outlines stay visible.
PALE = [[0.0, "#c4b5fd"], [0.5, "#ffffff"], [1.0, "#99d8c9"]]
MARK_LINES = {
    "focus": {"color": theme.ACCENT, "width": 4},
    "source": {"color": theme.ACCENT_2, "width": 3},
    "flow": {"color": theme.ACCENT, "width": 2, "dash": "dash"},
    "faint": {"color": theme.MUTED, "width": 2, "dash": "dot"},
}


def _title(panel: str) -> str:
    return f"∂L/∂{panel[1:]}" if panel in BACKWARD else TITLES[panel]


def cell_position(panel: str, r: int, c: int) -> tuple[int, int]:
    """Where cell (r, c) of a grid is drawn: (x, y) on the figure's axes (y grows downwards)."""
    r0, c0 = ORIGIN[panel]
    return c0 + c, r0 + r


def _label(panel: str, r: int, c: int) -> str:
    h, w = SHAPES[panel]
    name = _title(panel).split()[-1] if panel not in BACKWARD else _title(panel)
    return name if (h, w) == (1, 1) else f"{name}[{r}]" if w == 1 else f"{name}[{r},{c}]"


def _cells(
    panel: str, values: np.ndarray, shown: np.ndarray, canvas: np.ndarray, plan: tuple
) -> dict:
    """One grid's cells as points (x, y, text, hover, customdata); writes its fill, scaled to
    −1 … 1 within the grid, into `canvas` (unknown cells stay NaN, drawn blank). `plan` is
    (the grids' origins, the numbers' format)."""
    origin, number = plan
    r0, c0 = origin[panel]
    h, w = values.shape
    top = float(np.abs(values).max()) or 1.0
    canvas[r0 : r0 + h, c0 : c0 + w] = np.where(shown, values / top, np.nan)
    cells: dict[str, list] = {"x": [], "y": [], "text": [], "hovertext": [], "customdata": []}
    for r in range(h):
        for c in range(w):
            v, known = float(values[r, c]), bool(shown[r, c])
            cells["x"].append(c0 + c)
            cells["y"].append(r0 + r)
            cells["text"].append(number(v) if known else "·")
            exact = f"{v:.6g}" if known else "not computed yet"
            cells["hovertext"].append(f"{_label(panel, r, c)} = {exact}")
            cells["customdata"].append([panel, r, c])
    return cells


def _note(x: float, y: float, text: str, colour: str, **more: object) -> dict:
    """A plain text label at (x, y) on the grid's axes."""
    font = {"size": 12, "color": colour}
    return {
        "x": x,
        "y": y,
        "text": text,
        "showarrow": False,
        "xanchor": "left",
        "font": font,
    } | more


def _grids(values: Mapping, shown: Mapping, canvas: np.ndarray, plan: tuple) -> tuple[dict, list]:
    """Every grid's cells as points (their fills written into `canvas`) and its title, placed
    by `plan`: (the grids' origins, the numbers' format)."""
    points: dict[str, list] = {}
    notes = []
    for panel, shape in SHAPES.items():
        grid = np.asarray(values[panel], dtype=float).reshape(shape)
        cells = _cells(panel, grid, np.asarray(shown[panel]).reshape(shape), canvas, plan)
        for field, items in cells.items():
            points.setdefault(field, []).extend(items)
        r0, c0 = plan[0][panel]
        notes.append(_note(c0 - 0.5, r0 - 0.55, _title(panel), theme.INK, yanchor="bottom"))
    return points, notes


def network_figure(
    values: Mapping[str, np.ndarray],
    shown: Mapping[str, np.ndarray],
    marks: Sequence[Mark],
    y: int,
) -> go.Figure:
    """Every grid of the toy network (forward on top, gradients below), known cells numbered,
    unknown ones shown as dots, and the current step's cells outlined by role. On a phone or a
    tablet (`narrow.layout_key()`) the layers go down the page instead (`_tall_figure`)."""
    if narrow.layout_key() != "wide":
        return _tall_figure(values, shown, marks, y, narrow.layout_key())
    canvas = np.full((BACK_ROW + 5, WIDTH), np.nan)
    points, notes = _grids(values, shown, canvas, (ORIGIN, lambda v: f"{v:.2g}"))
    r0, c0 = ORIGIN["L"]
    notes.append(_note(c0 - 0.5, r0 + 0.6, f"target y = {y}", theme.MUTED_TEXT, yanchor="top"))
    for label, row in (("forward", 2), ("backward", BACK_ROW + 1)):
        notes.append(_note(-1.2, row, label, theme.MUTED_TEXT, textangle=-90, xanchor="center"))
    look = {"font": 10, "marker": 30, "x": X_RANGE, "y": Y_RANGE}
    fig = _assemble(canvas, points, notes, [_outline(m, ORIGIN) for m in marks], look)
    return theme.base_layout(fig, height=460)


def _outline(mark: Mark, origin: Mapping[str, tuple[int, int]]) -> dict:
    """The rectangle around a marked cell, styled by its role."""
    r0, c0 = origin[mark.panel]
    x, yy = c0 + mark.col, r0 + mark.row
    return {
        "type": "rect", "x0": x - 0.47, "x1": x + 0.47, "y0": yy - 0.47, "y1": yy + 0.47,
        "line": MARK_LINES[mark.style], "layer": "above",
    }  # fmt: skip


def _assemble(canvas: np.ndarray, points: dict, notes: list, shapes: list, look: dict) -> go.Figure:
    """The figure of the grids: pale fills, clickable numbered cells, titles and outlines;
    `look` holds the numbers' font size, the cells' marker size and the axis ranges."""
    fill = go.Heatmap(
        z=canvas, zmin=-1, zmax=1, colorscale=PALE, showscale=False, xgap=2, ygap=2,
        hoverinfo="skip",
    )  # fmt: skip
    cells = go.Scatter(
        mode="markers+text",
        textfont={"size": look["font"], "color": theme.INK},
        marker={"size": look["marker"], "symbol": "square", "color": "rgba(255,255,255,0.01)"},
        hoverinfo="text",
        **points,
    )
    axis = {"visible": False, "fixedrange": True}
    layout = {
        "annotations": notes, "shapes": shapes, "showlegend": False, "dragmode": False,
        "clickmode": "event+select", "xaxis": {**axis, "range": list(look["x"])},
        "yaxis": {**axis, "range": list(look["y"])},
    }  # fmt: skip
    return go.Figure(data=[fill, cells], layout=layout)


# On a phone or a tablet the layers go down the page: one band per layer, its values on the
# left and their gradients beside them on the right, each band under its title.
BANDS = (
    ("x", ""), ("w", "dw"), ("b", "db"), ("z", "dz"), ("a", "da"), ("p", "dp"), ("V", "dV"),
    ("c", ""), ("s", "ds"), ("L", ""),
)  # fmt: skip
GRAD_COL, TALL_WIDTH = 6, 10  # the gradients' first column; columns used
ROW_PX = {"phone": 28, "tablet": 32}  # one grid row (a cell's height, or a title's)


def tall_origin() -> dict[str, tuple[int, int]]:
    """Top-left (row, column) of each grid when the layers go down the page (row 0 holds the
    'forward' and 'backward' headings; each band has a title row above its grids)."""
    origin, row = {}, 1
    for forward, gradient in BANDS:
        origin[forward] = (row + 1, 0)
        if gradient:
            origin[gradient] = (row + 1, GRAD_COL)
        row += 1 + SHAPES[forward][0]
    return origin


def short_number(v: float) -> str:
    """`v` in at most 5 characters, to fit a phone's cell (the hover keeps 6 digits)."""
    if abs(v) < 1e-3:
        return "0" if v == 0 else "≈0"
    for text in (f"{v:.2g}", f"{v:.1g}"):
        for form in (text, text.replace("0.", ".", 1)):
            if len(form) <= 5:
                return form
    return f"{v:.0f}"


def _tall_figure(
    values: Mapping, shown: Mapping, marks: Sequence[Mark], y: int, kind: str
) -> go.Figure:
    """The same grids, numbers, titles and outlines as `network_figure`, layers down the page."""
    origin = tall_origin()
    rows = max(r0 + SHAPES[p][0] for p, (r0, _) in origin.items())
    canvas = np.full((rows, TALL_WIDTH), np.nan)
    points, notes = _grids(values, shown, canvas, (origin, short_number))
    r0, _ = origin["L"]
    notes.append(_note(GRAD_COL - 0.5, r0, f"target y = {y}", theme.MUTED_TEXT))
    notes.append(_note(-0.5, 0, "forward", theme.MUTED_TEXT))
    notes.append(_note(GRAD_COL - 0.5, 0, "backward (gradients)", theme.MUTED_TEXT))
    cell_px = min(ROW_PX[kind], narrow.drawing_width(kind) / TALL_WIDTH)
    look = {
        "font": 11,
        "marker": cell_px - 4,
        "x": (-0.6, TALL_WIDTH - 0.4),
        "y": (rows - 0.5, -0.6),
    }
    fig = _assemble(canvas, points, notes, [_outline(m, origin) for m in marks], look)
    theme.base_layout(fig, height=round(ROW_PX[kind] * (rows + 0.1)) + 20)
    return fig.update_layout(margin=narrow.TIGHT_MARGIN)


def gradient_check_figure(checks: Sequence[GradCheck], chosen: float) -> go.Figure:
    """Relative error of central differences against autograd, by step size, log-log: the V
    (truncation error on the right, round-off on the left), one line per number type."""
    fig = go.Figure()
    for check, colour in zip(checks, (theme.ACCENT, theme.ACCENT_2), strict=False):
        best_h, best_e = check.best
        fig.add_trace(
            go.Scatter(
                x=check.steps,
                y=np.maximum(check.rel_error, 1e-17),
                mode="lines+markers",
                name=f"{check.dtype} (best {best_e:.1e} at h = {best_h:.0e})",
                line={"color": colour},
                marker={"symbol": "circle" if check.dtype == "float64" else "square"},
                hovertemplate=f"{check.dtype}<br>h = %{{x:.0e}}: %{{y:.2e}}<extra></extra>",
            )
        )
    fig.add_vline(x=chosen, line={"color": theme.INK, "width": 1, "dash": "dash"})
    fig.update_xaxes(
        type="log", title="step size h (smaller to the right)", exponentformat="power",
        autorange="reversed",
    )  # fmt: skip
    fig.update_yaxes(type="log", title="relative error", exponentformat="power")
    fig.update_layout(legend={"orientation": "h", "y": 1.12})
    return theme.base_layout(fig, height=380)
