"""Figures of the neuron view's other layers: a pooling window, flatten's fan, the terms of a
weighted sum, softmax at a temperature, and a linear conv stack beside its one composed conv.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from viz.neuron import HOVER, cells, crop_window, ring, scaled, stack_tiles
from viz.theme import ACCENT, ACCENT_2, DIVERGING, INK, MUTED, SEQUENTIAL, base_layout


def flatten_fan_figure(element, block: np.ndarray, first: int) -> go.Figure:
    """Maps on the left, the flat vector on the right, each channel's wedge of indices between.

    `block` (k, H, W) are the channels drawn, starting at channel `first`; the chosen element's
    line runs from its cell to its index c·H·W + r·W + col.
    """
    c, h, w = element.shape
    k, n = len(block), c * h * w
    gap = max(1, h // 4)
    total = k * (h + gap) - gap
    scale = total / (k * h * w)  # vector units per index, drawn at the block's height
    fig = go.Figure(
        go.Heatmap(
            z=stack_tiles(list(scaled(block)), gap),
            x0=0,
            dx=1,
            showscale=False,
            colorscale=SEQUENTIAL,
            hoverinfo="skip",
        )
    )
    xs, ys = [], []
    for i in range(k):
        top, bottom = i * (h + gap) - 0.5, i * (h + gap) + h - 0.5
        lo, hi = i * h * w * scale - 0.5, (i + 1) * h * w * scale - 0.5
        xs += [w - 0.5, 3 * w, 3 * w, w - 0.5, w - 0.5, None]
        ys += [top, lo, hi, bottom, top, None]
    fig.add_trace(
        go.Scatter(
            x=xs,
            y=ys,
            fill="toself",
            mode="lines",
            hoverinfo="skip",
            line={"color": MUTED, "width": 1},
            fillcolor="rgba(156,163,175,0.2)",
            showlegend=False,
        )
    )
    fig.add_shape(
        type="rect",
        x0=3 * w,
        x1=3 * w + 2,
        y0=-0.5,
        y1=total - 0.5,
        line={"color": INK},
        fillcolor="white",
    )
    i = element.channel - first
    y_cell = i * (h + gap) + element.row
    y_index = (element.index - first * h * w) * scale - 0.5
    fig.add_trace(
        go.Scatter(
            x=[element.col, 3 * w + 1],
            y=[y_cell, y_index],
            showlegend=False,
            mode="lines+markers",
            line={"color": ACCENT_2, "width": 3},
            hoverinfo="skip",
        )
    )
    fig.add_annotation(
        x=3 * w + 2,
        y=y_index,
        xanchor="left",
        showarrow=False,
        text=f"index {element.index} of {n}",
    )
    fig.update_xaxes(visible=False, range=[-1, 4 * w + 4])
    fig.update_yaxes(visible=False, range=[total, -1])
    return base_layout(fig, height=int(np.clip(18 * total, 300, 900)))


def contributions_figure(labels: list[str], values: np.ndarray, title: str) -> go.Figure:
    """Signed terms of a sum as horizontal bars: blue adds, orange takes away."""
    colours = [ACCENT if v >= 0 else ACCENT_2 for v in values]
    fig = go.Figure(
        go.Bar(
            x=values,
            y=labels,
            orientation="h",
            marker_color=colours,
            hovertemplate="%{y}: %{x:.4f}<extra></extra>",
        )
    )
    fig.update_yaxes(autorange="reversed")
    fig.update_xaxes(title=title, zeroline=True, zerolinecolor=INK, gridcolor=MUTED)
    return base_layout(fig, height=max(220, 26 * len(labels) + 80))


def softmax_figure(names: list[str], probs: np.ndarray, temperature: float) -> go.Figure:
    """The probabilities of the shown classes at a temperature."""
    fig = go.Figure(
        go.Bar(
            x=names,
            y=100 * probs,
            marker_color=ACCENT,
            text=[f"{100 * p:.1f}%" for p in probs],
            hovertemplate="%{x}: %{y:.2f}%<extra></extra>",
        )
    )
    fig.update_yaxes(title="probability (%)", range=[0, 105], gridcolor=MUTED)
    return base_layout(fig, title=f"softmax at temperature {temperature:g}", height=320)


def collapse_figure(result, kernel_maps: int = 4) -> go.Figure:
    """The composed kernel's first input slices, then the stack, the one conv and the real net."""
    k = min(kernel_maps, len(result.kernel))
    titles = [f"composed kernel, in {i}" for i in range(k)]
    titles += ["convs, activations removed", "one composed conv", "real network (activations)"]
    fig = make_subplots(1, len(titles), subplot_titles=titles, horizontal_spacing=0.03)
    span = float(np.abs(result.kernel[:k]).max()) or 1.0
    for i in range(k):
        fig.add_trace(
            go.Heatmap(
                z=result.kernel[i],
                customdata=cells(result.kernel[i]),
                colorscale=DIVERGING,
                zmid=0,
                zmin=-span,
                zmax=span,
                showscale=False,
                hovertemplate=HOVER,
            ),
            1,
            i + 1,
        )
    maps = (result.stack, result.collapsed, result.with_activations)
    lo = float(min(m.min() for m in maps))
    hi = float(max(m.max() for m in maps))
    for j, m in enumerate(maps, start=k + 1):
        fig.add_trace(
            go.Heatmap(
                z=m,
                customdata=cells(m),
                colorscale=SEQUENTIAL,
                zmin=lo,
                zmax=hi,
                showscale=j == len(titles),
                hovertemplate=HOVER,
            ),
            1,
            j,
        )
    fig.update_xaxes(visible=False, constrain="domain")
    fig.update_yaxes(visible=False, autorange="reversed", constrain="domain")
    for j in range(1, len(titles) + 1):
        fig.update_yaxes(scaleanchor=f"x{j if j > 1 else ''}", row=1, col=j)
    fig.update_annotations(font_size=11)
    return base_layout(fig, height=300)


def pool_figure(unit) -> go.Figure:
    """The input map with the unit's window boxed (and the max's winner), beside the output."""
    titles = (f"input map {unit.channel}", f"output: {unit.kind} = {unit.real:.4f}")
    fig = make_subplots(1, 2, subplot_titles=titles, horizontal_spacing=0.08)
    centre = (unit.rows.mean(), unit.cols.mean())
    r0, c0, h, w = crop_window(unit.source.shape, centre)
    part = unit.source[r0 : r0 + h, c0 : c0 + w]
    fig.add_trace(
        go.Heatmap(
            z=part,
            customdata=cells(part, r0, c0),
            colorscale=SEQUENTIAL,
            showscale=False,
            hovertemplate=HOVER,
        ),
        1,
        1,
    )
    fig.add_shape(
        type="rect",
        x0=unit.cols[0] - c0 - 0.5,
        x1=unit.cols[-1] - c0 + 0.5,
        y0=unit.rows[0] - r0 - 0.5,
        y1=unit.rows[-1] - r0 + 0.5,
        line={"color": ACCENT_2, "width": 3},
        row=1,
        col=1,
    )
    if unit.winner is not None:
        fig.add_trace(ring(unit.winner[1] - c0, unit.winner[0] - r0, 10), 1, 1)
    o0, q0, oh, ow = crop_window(unit.output.shape, (unit.row, unit.col))
    out = unit.output[o0 : o0 + oh, q0 : q0 + ow]
    fig.add_trace(
        go.Heatmap(
            z=out,
            customdata=cells(out, o0, q0),
            colorscale=SEQUENTIAL,
            showscale=False,
            hovertemplate=HOVER,
        ),
        1,
        2,
    )
    fig.add_trace(ring(unit.col - q0, unit.row - o0), 1, 2)
    fig.update_xaxes(visible=False, constrain="domain")
    fig.update_yaxes(visible=False, autorange="reversed", constrain="domain")
    fig.update_yaxes(scaleanchor="x", row=1, col=1)
    fig.update_yaxes(scaleanchor="x2", row=1, col=2)
    return base_layout(fig, height=380)
