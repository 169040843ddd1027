"""Figures for the Convolution page: the sliding window, what is read, dilation, responses."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from models.convolution import HOLE, INPUT, PADDING, ConvStep
from viz import theme

# Cell backgrounds of the canvas: input cells white, padding grey, inserted zeros pale orange.
KIND_COLORS = {INPUT: "#ffffff", PADDING: "#d1d5db", HOLE: "#fde3cc"}
KIND_NAMES = {INPUT: "input", PADDING: "padding", HOLE: "inserted zero"}
MAX_DISPLAY_SIDE = 256  # response maps are shown at every n-th pixel above this side


def _number(value: float) -> str:
    return f"{value:.3g}" if abs(value - round(value)) > 1e-9 else f"{int(round(value))}"


def _texts(values: np.ndarray, show: np.ndarray | None = None) -> list[list[str]]:
    show = np.ones(values.shape, dtype=bool) if show is None else show
    return [
        [_number(v) if s else "" for v, s in zip(row, srow, strict=True)]
        for row, srow in zip(values, show, strict=True)
    ]


def _square_axes(fig: go.Figure, n_panels: int) -> None:
    for i in range(1, n_panels + 1):
        suffix = "" if i == 1 else str(i)
        fig.update_yaxes(autorange="reversed", scaleanchor=f"x{suffix}", row=1, col=i)
        fig.update_xaxes(showgrid=False, zeroline=False, side="top", row=1, col=i)
        fig.update_yaxes(showgrid=False, zeroline=False, row=1, col=i)


def _cell_box(r: float, c: float, ref: str, **line) -> dict:
    return dict(
        type="rect",
        xref=ref[0],
        yref=ref[1],
        x0=c - 0.5,
        x1=c + 0.5,
        y0=r - 0.5,
        y1=r + 0.5,
        line=line,
    )


def _canvas_trace(step: ConvStep) -> go.Heatmap:
    kinds = step.canvas.kinds
    scale = [[i / 2, KIND_COLORS[i]] for i in (INPUT, PADDING, HOLE)]
    names = np.vectorize(KIND_NAMES.get)(kinds)
    return go.Heatmap(
        z=kinds,
        zmin=0,
        zmax=2,
        colorscale=scale,
        showscale=False,
        text=_texts(step.canvas.values),
        texttemplate="%{text}",
        customdata=names,
        hovertemplate="row %{y}, column %{x}: %{text} (%{customdata})<extra></extra>",
        xgap=1,
        ygap=1,
    )


def _numbers_trace(values: np.ndarray, show: np.ndarray | None = None) -> go.Heatmap:
    shown = np.where(show, values, np.nan) if show is not None else values
    limit = float(np.nanmax(np.abs(shown))) if np.isfinite(shown).any() else 1.0
    return go.Heatmap(
        z=shown,
        text=_texts(values, show),
        texttemplate="%{text}",
        colorscale=theme.DIVERGING,
        zmid=0,
        zmin=-limit or -1,
        zmax=limit or 1,
        showscale=False,
        xgap=1,
        ygap=1,
        hovertemplate="row %{y}, column %{x}: %{text}<extra></extra>",
    )


def _window_shapes(step: ConvStep) -> list[dict]:
    rows, cols = step.tap_rows, step.tap_cols
    window = _cell_box(0, 0, ("x", "y"), color=theme.ACCENT, width=2, dash="dash")
    window.update(
        x0=cols[0] - 0.5, x1=cols[-1] + 0.5, y0=rows[0] - 0.5, y1=rows[-1] + 0.5, name="window"
    )
    taps = [_cell_box(r, c, ("x", "y"), color=theme.ACCENT, width=3) for r in rows for c in cols]
    here = _cell_box(step.row, step.col, ("x4", "y4"), color=theme.ACCENT_2, width=3)
    return [window, *taps, here]


def step_figure(step: ConvStep) -> go.Figure:
    """Canvas with the window, kernel, products and the output filled up to this step."""
    k = step.taps.shape[0]
    widths = [step.canvas.values.shape[1], k, k, step.output.shape[1]]
    titles = (
        "Input (grey: padding, orange: inserted zeros)",
        "Kernel as laid on the input",
        f"Products (sum + bias = {_number(step.total)})",
        "Output",
    )
    fig = make_subplots(
        rows=1, cols=4, column_widths=widths, subplot_titles=titles, horizontal_spacing=0.04
    )
    filled = np.arange(step.output.size).reshape(step.output.shape) <= step.position
    fig.add_trace(_canvas_trace(step), 1, 1)
    fig.add_trace(_numbers_trace(step.taps), 1, 2)
    fig.add_trace(_numbers_trace(step.products), 1, 3)
    fig.add_trace(_numbers_trace(step.output, filled), 1, 4)
    fig.update_layout(shapes=_window_shapes(step))
    _square_axes(fig, 4)
    fig.update_annotations(font_size=12)
    height = 120 + 34 * max(step.canvas.values.shape[0], step.output.shape[0])
    return theme.base_layout(fig, height=min(height, 900))


def coverage_figure(coverage: np.ndarray) -> go.Figure:
    """How many windows read each input cell; cells no window reads are boxed in red."""
    fig = go.Figure(
        go.Heatmap(
            z=coverage,
            text=_texts(coverage),
            texttemplate="%{text}",
            colorscale=theme.SEQUENTIAL,
            zmin=0,
            xgap=1,
            ygap=1,
            colorbar={"title": "reads"},
            hovertemplate="row %{y}, column %{x}: read %{z} times<extra></extra>",
        )
    )
    unread = np.argwhere(coverage == 0)
    fig.update_layout(
        shapes=[_cell_box(r, c, ("x", "y"), color=theme.BAD, width=3) for r, c in unread]
    )
    fig.update_yaxes(autorange="reversed", scaleanchor="x")
    return theme.base_layout(fig, "Times each input cell is read", height=360)


def footprint_figure(mask: np.ndarray) -> go.Figure:
    """The pixels a dilated kernel reads (1) inside the span it covers."""
    fig = go.Figure(
        go.Heatmap(
            z=mask.astype(int),
            colorscale=[[0, "#f3f4f6"], [1, theme.ACCENT]],
            showscale=False,
            xgap=1,
            ygap=1,
            hovertemplate="row %{y}, column %{x}: %{z}<extra></extra>",
        )
    )
    fig.update_yaxes(autorange="reversed", scaleanchor="x")
    side = mask.shape[0]
    return theme.base_layout(fig, f"Footprint: {int(mask.sum())} taps over {side}×{side}", 320)


def receptive_field_figure(fields: tuple[int, ...], plain: tuple[int, ...]) -> go.Figure:
    """Receptive field side after each layer, dilated against undilated."""
    layers = list(range(1, len(fields) + 1))
    fig = go.Figure(
        [
            go.Scatter(
                x=layers,
                y=list(fields),
                name="dilated",
                mode="lines+markers+text",
                text=list(fields),
                textposition="top left",
                line_color=theme.ACCENT,
            ),
            go.Scatter(
                x=layers,
                y=list(plain),
                name="same stack, rate 1",
                mode="lines+markers",
                line_color=theme.MUTED,
            ),
        ]
    )
    fig.update_xaxes(title="layer", dtick=1)
    fig.update_yaxes(title="receptive field (pixels across)", rangemode="tozero")
    return theme.base_layout(fig, "Receptive field after each layer", 320)


def paths_figure(paths: np.ndarray, share: float) -> go.Figure:
    """Paths from each input pixel to one output unit; zero means the unit cannot see it."""
    z = np.where(paths > 0, paths, np.nan)
    fig = go.Figure(
        go.Heatmap(
            z=z,
            colorscale=theme.HEAT,
            colorbar={"title": "paths"},
            hovertemplate="row %{y}, column %{x}: %{z} paths<extra></extra>",
        )
    )
    fig.update_yaxes(autorange="reversed", scaleanchor="x")
    fig.update_layout(plot_bgcolor="#f3f4f6")
    title = f"What one unit sees: {share:.0%} of its field (grey: never)"
    return theme.base_layout(fig, title, 420)


def _thin(array: np.ndarray, max_side: int) -> tuple[np.ndarray, int]:
    every = max(1, -(-max(array.shape[-2:]) // max_side))
    return array[..., ::every, ::every], every


def maps_figure(maps: np.ndarray, titles: list[str], max_side: int = MAX_DISPLAY_SIDE) -> go.Figure:
    """Maps side by side with one shared diverging scale; big maps at every n-th pixel."""
    shown, every = _thin(maps, max_side)
    limit = float(np.abs(shown).max()) or 1.0
    fig = make_subplots(rows=1, cols=len(maps), subplot_titles=titles, horizontal_spacing=0.02)
    for i, z in enumerate(shown, start=1):
        fig.add_trace(
            go.Heatmap(
                z=z,
                x0=0,
                dx=every,
                y0=0,
                dy=every,
                zmin=-limit,
                zmax=limit,
                colorscale=theme.DIVERGING,
                showscale=i == len(maps),
                hovertemplate="row %{y}, column %{x}: %{z:.3f}<extra></extra>",
            ),
            1,
            i,
        )
    _square_axes(fig, len(maps))
    fig.update_xaxes(side="bottom", showticklabels=False)
    fig.update_yaxes(showticklabels=False)
    return theme.base_layout(fig, height=320)


def kernel_figure(kernel: np.ndarray) -> go.Figure:
    """A kernel's numbers on a diverging scale."""
    fig = go.Figure(_numbers_trace(np.round(kernel, 3)))
    fig.update_yaxes(autorange="reversed", scaleanchor="x", showgrid=False)
    fig.update_xaxes(showgrid=False, side="top")
    return theme.base_layout(fig, height=260)
