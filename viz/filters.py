"""Figures of learned kernels: first-layer kernels as colour tiles, deeper kernels per input
channel, weight histograms, and the curve of a feature visualization.
"""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go

from viz.feature_maps import grid_columns, tile
from viz.theme import ACCENT, DIVERGING, MUTED, SERIES, base_layout


def kernel_colors(weights: np.ndarray) -> np.ndarray:
    """(O, 3, kH, kW) kernels -> (O, kH, kW, 3) colours in [0, 1]; 0.5 grey is a zero weight.

    Each kernel is scaled by its own largest absolute weight, so its pattern shows whatever
    its size.
    """
    span = np.abs(weights).reshape(len(weights), -1).max(axis=1)[:, None, None, None]
    return (0.5 + 0.5 * weights / np.where(span > 0, span, 1.0)).transpose(0, 2, 3, 1)


def kernel_tiles_figure(weights: np.ndarray, scale: int = 8) -> go.Figure:
    """First-layer kernels of an RGB model as colour tiles (each pixel enlarged `scale` times)."""
    colors = kernel_colors(weights)
    o, kh, kw, _ = colors.shape
    cols = grid_columns(o)
    gap = 1
    rows = math.ceil(o / cols)
    canvas = np.ones((rows * (kh + gap) - gap, cols * (kw + gap) - gap, 3), dtype=np.float32)
    for i in range(o):
        r, c = divmod(i, cols)
        canvas[r * (kh + gap) : r * (kh + gap) + kh, c * (kw + gap) : c * (kw + gap) + kw] = colors[
            i
        ]
    big = np.kron(canvas, np.ones((scale, scale, 1), dtype=np.float32))
    fig = go.Figure(go.Image(z=(big * 255).astype(np.uint8), hoverinfo="skip"))
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return base_layout(fig, height=int(np.clip(120 * rows + 40, 200, 700)))


def kernel_grid_figure(weights: np.ndarray, max_out: int = 16, max_in: int = 16) -> go.Figure:
    """Kernels per input channel: a row per output filter, a column per input channel."""
    w = weights[:max_out, :max_in]
    o, i, kh, kw = w.shape
    per_row = w.reshape(o * i, kh, kw)
    z = tile(per_row, cols=i, gap=1)
    out_idx = tile(np.repeat(np.arange(o), i)[:, None, None] * np.ones((1, kh, kw)), i, 1)
    in_idx = tile(np.tile(np.arange(i), o)[:, None, None] * np.ones((1, kh, kw)), i, 1)
    span = float(np.abs(w).max()) or 1.0
    fig = go.Figure(
        go.Heatmap(
            z=z,
            customdata=np.stack([out_idx, in_idx], axis=-1),
            colorscale=DIVERGING,
            zmid=0,
            zmin=-span,
            zmax=span,
            hoverongaps=False,
            colorbar={"title": {"text": "weight"}},
            hovertemplate="filter %{customdata[0]}, input channel %{customdata[1]}"
            "<br>weight %{z:.4f}<extra></extra>",
        )
    )
    fig.update_xaxes(visible=False, constrain="domain")
    fig.update_yaxes(visible=False, autorange="reversed", scaleanchor="x")
    return base_layout(fig, height=int(np.clip(900 * o / max(i, 1), 220, 900)))


def weight_histogram_figure(series: dict[str, np.ndarray], bins: int = 60) -> go.Figure:
    """Histograms of weights on shared bins, one per entry (e.g. trained and untrained)."""
    values = [v for v in series.values() if v.size]
    lo = min(float(v.min()) for v in values) if values else -1.0
    hi = max(float(v.max()) for v in values) if values else 1.0
    edges = np.linspace(lo, hi if hi > lo else lo + 1e-6, bins + 1)
    fig = go.Figure()
    for n, (name, weights) in enumerate(series.items()):
        counts, _ = np.histogram(weights, bins=edges)
        fig.add_trace(
            go.Bar(
                x=(edges[:-1] + edges[1:]) / 2,
                y=counts,
                name=name,
                opacity=0.65,
                width=edges[1] - edges[0],
                marker_color=SERIES[n % len(SERIES)],
                hovertemplate="%{x:.4f}: %{y} weights<extra></extra>",
            )
        )
    fig.update_layout(barmode="overlay", bargap=0)
    fig.update_xaxes(title="weight")
    fig.update_yaxes(title="count", gridcolor=MUTED)
    return base_layout(fig, height=320)


def ascent_curve_figure(curve: np.ndarray) -> go.Figure:
    """The channel's mean activation at each step of the gradient ascent."""
    fig = go.Figure(
        go.Scatter(
            y=curve,
            mode="lines",
            line={"color": ACCENT},
            hovertemplate="step %{x}: %{y:.4f}<extra></extra>",
        )
    )
    fig.update_xaxes(title="step")
    fig.update_yaxes(title="mean activation", gridcolor=MUTED)
    return base_layout(fig, height=260)
