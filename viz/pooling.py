"""Figures for the Pooling page: a numeric grid and its windows, maps before and after, shifts."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from models.operations.pooling import GridPooling, PyramidResult, ShiftResult
from viz import theme


def _cell_text(values: np.ndarray) -> np.ndarray:
    return np.vectorize(lambda v: f"{v:.3g}")(values)


def _box(
    fig: go.Figure,
    r0: float,
    r1: float,
    c0: float,
    c1: float,
    col: int,
    colour: str,
    width: int = 3,
) -> None:
    fig.add_shape(
        type="rect",
        x0=c0 - 0.5,
        x1=c1 - 0.5,
        y0=r0 - 0.5,
        y1=r1 - 0.5,
        line={"color": colour, "width": width},
        row=1,
        col=col,
    )


def pool_grid_figure(gp: GridPooling, selected: tuple[int, int] = (0, 0)) -> go.Figure:
    """Input grid (left) and pooled output (right); the selected output's window is outlined.

    For max pooling the winning input cell gets a second, orange outline.
    """
    i, j = selected
    fig = make_subplots(
        rows=1,
        cols=2,
        column_widths=[0.6, 0.4],
        horizontal_spacing=0.08,
        subplot_titles=("Input", "Output"),
    )
    for col, z in ((1, gp.grid), (2, gp.output)):
        fig.add_trace(
            go.Heatmap(
                z=z,
                text=_cell_text(z),
                texttemplate="%{text}",
                colorscale=theme.SEQUENTIAL,
                showscale=False,
                hovertemplate="row %{y}, column %{x}: %{z:.4g}<extra></extra>",
            ),
            row=1,
            col=col,
        )
    r0, r1, c0, c1 = gp.windows[i][j]
    _box(fig, r0, r1, c0, c1, 1, theme.ACCENT, 4)
    _box(fig, i, i + 1, j, j + 1, 2, theme.ACCENT, 4)
    if gp.winners is not None:
        r, c = divmod(int(gp.winners[i, j]), gp.grid.shape[1])
        _box(fig, r, r + 1, c, c + 1, 1, theme.ACCENT_2, 3)
    fig.update_yaxes(autorange="reversed", scaleanchor=None, showgrid=False, dtick=1)
    fig.update_xaxes(showgrid=False, dtick=1, side="top")
    side = max(gp.grid.shape)
    return theme.base_layout(fig, height=max(300, 48 * side + 80))


def maps_figure(before: np.ndarray, after: np.ndarray, title_after: str) -> go.Figure:
    """A 2-D map before and after pooling, side by side, on one colour range."""
    lo, hi = float(np.min(before)), float(np.max(before))
    titles = (
        f"Before · {before.shape[0]}×{before.shape[1]}",
        f"{title_after} · {after.shape[0]}×{after.shape[1]}",
    )
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.06, subplot_titles=titles)
    for col, z in ((1, before), (2, after)):
        fig.add_trace(
            go.Heatmap(
                z=z,
                colorscale=theme.SEQUENTIAL,
                zmin=lo,
                zmax=hi,
                showscale=col == 2,
                hovertemplate="row %{y}, column %{x}: %{z:.3f}<extra></extra>",
            ),
            row=1,
            col=col,
        )
    fig.update_yaxes(autorange="reversed", showgrid=False)
    fig.update_xaxes(showgrid=False)
    return theme.base_layout(fig, height=380)


def global_pool_figure(avg: np.ndarray, top: np.ndarray, names: list[str]) -> go.Figure:
    """Each channel's global average and global maximum: one number per channel, two ways."""
    fig = go.Figure()
    for label, values, colour in (
        ("global average", avg, theme.ACCENT),
        ("global max", top, theme.ACCENT_2),
    ):
        fig.add_trace(go.Bar(x=names, y=values, name=label, marker_color=colour))
    fig.update_layout(
        barmode="group",
        xaxis_title="channel",
        yaxis_title="value",
        legend={"orientation": "h", "y": 1.12},
    )
    return theme.base_layout(fig, height=300)


def pyramid_figure(result: PyramidResult) -> go.Figure:
    """One row per input size: its pyramid vector, which has the same length for every size."""
    rows = [f"{h}×{w} → {result.vectors.shape[1]} numbers" for h, w in result.sizes]
    hover = "%{y}<br>entry %{x}: %{z:.3f}<extra></extra>"
    fig = go.Figure(
        go.Heatmap(
            z=result.vectors,
            y=rows,
            colorscale=theme.SEQUENTIAL,
            colorbar={"title": "value"},
            hovertemplate=hover,
        )
    )
    edges = np.cumsum([n * n for n in result.levels])[:-1]
    per_channel = result.vectors.shape[1] // max(sum(n * n for n in result.levels), 1)
    for edge in edges * per_channel:
        fig.add_vline(x=edge - 0.5, line={"color": "white", "width": 2})
    fig.update_layout(
        xaxis_title="entry of the vector (white lines: pyramid levels)", yaxis_autorange="reversed"
    )
    return theme.base_layout(fig, height=120 + 50 * len(rows))


def _grid_bands(fig: go.Figure, shifts: np.ndarray, step: int, col: int) -> None:
    """Shade the shifts that are whole steps of a grid (other than 0)."""
    for s in shifts[(shifts > 0) & (shifts % step == 0)]:
        fig.add_vrect(
            x0=s - 0.4, x1=s + 0.4, fillcolor=theme.MUTED, opacity=0.2, line_width=0, row=1, col=col
        )


def shift_figure(result: ShiftResult) -> go.Figure:
    """Left: each map's similarity to the unshifted one, aligned on its grid, against the shift.

    Right (when a model was measured): the model's probability for its unshifted answer, with
    its answer written where it changes. Grey bands mark shifts that land on the grid.
    """
    model = result.model
    titles = [f"Edge maps, downsampled {result.factor}× (grey: on the grid)"]
    if model is not None:
        titles.append(f"{model.name}: probability of “{model.label}”")
    fig = make_subplots(rows=1, cols=len(titles), subplot_titles=titles, horizontal_spacing=0.1)
    for (name, sims), colour in zip(result.similarity.items(), theme.SERIES, strict=False):
        fig.add_trace(
            go.Scatter(
                x=result.shifts,
                y=sims,
                name=name,
                mode="lines+markers",
                line={"color": colour},
                hovertemplate=f"{name}<br>shift %{{x}} px: %{{y:.3f}}<extra></extra>",
            ),
            row=1,
            col=1,
        )
    _grid_bands(fig, result.shifts, result.factor, 1)
    fig.update_yaxes(title_text="cosine similarity", range=[None, 1.02], row=1, col=1)
    if model is not None:
        labels = [a if a != model.label else "" for a in model.answers]
        fig.add_trace(
            go.Scatter(
                x=result.shifts,
                y=model.probability,
                name="model",
                mode="lines+markers+text",
                text=labels,
                textposition="top center",
                line={"color": theme.INK},
                showlegend=False,
                hovertemplate="shift %{x} px: %{y:.1%}<extra></extra>",
            ),
            row=1,
            col=2,
        )
        if model.stride and model.stride > 1:
            _grid_bands(fig, result.shifts, model.stride, 2)
        fig.update_yaxes(title_text="probability", range=[0, 1.05], tickformat=".0%", row=1, col=2)
    fig.update_xaxes(title_text="shift to the right (pixels)", dtick=1)
    fig.update_layout(hovermode="x unified", legend={"orientation": "h", "y": -0.3})
    return theme.base_layout(fig, height=380)
