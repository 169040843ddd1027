"""Figures of feature maps: a layer's channels as one tiled heatmap, one channel over the image,
sparsity over depth, the images that excite a channel, and one image through every layer.

A grid of many channels is drawn as ONE heatmap (channels tiled, NaN gaps between them): one
trace is much faster to build and send than a subplot per channel.
"""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from viz.theme import ACCENT, ACCENT_2, DIVERGING, MUTED, SEQUENTIAL, base_layout


def grid_columns(n: int) -> int:
    """How many tiles per row: about twice as wide as tall, at most n."""
    return max(1, min(n, math.ceil(math.sqrt(2 * n))))


def tile(maps: np.ndarray, cols: int, gap: int = 1) -> np.ndarray:
    """(C, H, W) -> one (rows·(H+gap)−gap, cols·(W+gap)−gap) array, NaN between tiles."""
    c, h, w = maps.shape
    rows = math.ceil(c / cols)
    grid = np.full((rows * (h + gap) - gap, cols * (w + gap) - gap), np.nan, dtype=np.float32)
    for i in range(c):
        r, q = divmod(i, cols)
        grid[r * (h + gap) : r * (h + gap) + h, q * (w + gap) : q * (w + gap) + w] = maps[i]
    return grid


IMAGE_X = {"visible": False, "constrain": "domain"}
IMAGE_Y = {"visible": False, "autorange": "reversed", "scaleanchor": "x"}


def _image_axes(fig: go.Figure, **where) -> None:
    fig.update_xaxes(**IMAGE_X, **where)
    fig.update_yaxes(**IMAGE_Y, **where)


def subsample_step(side: int, max_side: int) -> int:
    """Show every `step`-th unit so no tile is wider than `max_side` cells."""
    return max(1, math.ceil(side / max_side))


def channel_grid_figure(
    maps: np.ndarray, ranges: np.ndarray, order: np.ndarray | None = None, max_side: int = 64
) -> go.Figure:
    """Every channel of a layer, tiled; colours by `ranges` (C, 2); exact values on hover.

    With one range for all channels the colour bar is in activation units; with a range per
    channel each tile is coloured from its own minimum to its own maximum.
    """
    order = np.arange(len(maps)) if order is None else np.asarray(order)
    step = subsample_step(max(maps.shape[1:]), max_side)
    shown = maps[order][:, ::step, ::step].astype(np.float32)
    lo, hi = ranges[order, 0, None, None], ranges[order, 1, None, None]
    cols = grid_columns(len(shown))
    gap = max(1, shown.shape[-1] // 12)
    channels = np.broadcast_to(order[:, None, None].astype(np.float32), shown.shape)
    custom = np.stack([tile(shown, cols, gap), tile(channels, cols, gap)], axis=-1)
    uniform = bool(
        np.allclose(ranges[:, 0], ranges[0, 0]) and np.allclose(ranges[:, 1], ranges[0, 1])
    )
    z = shown if uniform else (shown - lo) / np.where(hi > lo, hi - lo, 1.0)
    heatmap = go.Heatmap(
        z=tile(z, cols, gap),
        customdata=custom,
        colorscale=SEQUENTIAL,
        hoverongaps=False,
        zmin=float(ranges[0, 0]) if uniform else 0.0,
        zmax=float(ranges[0, 1]) if uniform else 1.0,
        showscale=uniform,
        colorbar={"title": {"text": "value"}, "thickness": 12},
        hovertemplate="channel %{customdata[1]}<br>value %{customdata[0]:.4f}<extra></extra>",
    )
    h, w = heatmap.z.shape
    axes = {
        "xaxis": IMAGE_X | {"range": [-0.5, w - 0.5]},
        "yaxis": {
            "visible": False,
            "scaleanchor": "x",
            "constrain": "domain",
            "range": [h - 0.5, -0.5],
        },
    }
    fig = go.Figure(heatmap, layout=axes)  # one layout update: faster than update_*axes
    rows = math.ceil(len(shown) / cols)
    note = f"every {step}th unit shown" if step > 1 else None
    height = int(np.clip(900 * rows / cols, 220, 900))
    return base_layout(fig, title=note, height=height)


def before_after_figure(before: np.ndarray, after: np.ndarray, kind: str) -> go.Figure:
    """One channel before and after its activation function, side by side."""
    fig = make_subplots(
        1, 2, subplot_titles=("before " + kind, "after " + kind), horizontal_spacing=0.08
    )
    span = float(np.abs(before).max()) or 1.0
    template = "row %{y}, column %{x}<br>value %{z:.4f}<extra></extra>"
    fig.add_trace(
        go.Heatmap(
            z=before,
            colorscale=DIVERGING,
            zmid=0,
            zmin=-span,
            zmax=span,
            colorbar={"x": 0.45, "thickness": 10},
            hovertemplate=template,
        ),
        1,
        1,
    )
    fig.add_trace(
        go.Heatmap(
            z=after, colorscale=SEQUENTIAL, colorbar={"thickness": 10}, hovertemplate=template
        ),
        1,
        2,
    )
    _image_axes(fig, row=1, col=1)
    _image_axes(fig, row=1, col=2)
    fig.update_yaxes(scaleanchor="x2", row=1, col=2)
    return base_layout(fig, height=380)


def zero_share_figure(names: list[str], shares: list[float]) -> go.Figure:
    """The share of zeros after each activation layer, in depth order."""
    pct = [100 * s for s in shares]
    fig = go.Figure(
        go.Bar(
            x=names,
            y=pct,
            marker_color=ACCENT,
            text=[f"{p:.0f}%" for p in pct],
            hovertemplate="%{x}: %{y:.1f}% zeros<extra></extra>",
        )
    )
    fig.update_yaxes(title="zeros (%)", range=[0, 100], gridcolor=MUTED)
    fig.update_xaxes(title="activation layer (input side → output side)")
    return base_layout(fig, height=320)


def _rgb255(image: np.ndarray) -> np.ndarray:
    rgb = np.repeat(image, 3, axis=-1) if image.shape[-1] == 1 else image
    return (np.clip(rgb, 0, 1) * 255).astype(np.uint8)


def model_input_figure(image: np.ndarray) -> go.Figure:
    """The picture the model receives (H, W, C in [0, 1]), pixel values on hover."""
    fig = go.Figure(go.Image(z=_rgb255(image)))
    _image_axes(fig)
    return base_layout(fig, height=300)


def channel_overlay_figure(image: np.ndarray, fmap: np.ndarray, opacity: float = 0.6) -> go.Figure:
    """One channel (h, w) stretched over the input image (H, W, C), each cell on its region."""
    big_h, big_w = image.shape[:2]
    h, w = fmap.shape
    dx, dy = big_w / w, big_h / h
    fig = go.Figure(go.Image(z=_rgb255(image), hoverinfo="skip"))
    fig.add_trace(
        go.Heatmap(
            z=fmap,
            x0=dx / 2 - 0.5,
            dx=dx,
            y0=dy / 2 - 0.5,
            dy=dy,
            colorscale=SEQUENTIAL,
            opacity=opacity,
            colorbar={"thickness": 12},
            hovertemplate="value %{z:.4f}<extra></extra>",
        )
    )
    _image_axes(fig)
    return base_layout(fig, height=420)


def exciting_figure(images: np.ndarray, boxes: np.ndarray, values: np.ndarray) -> go.Figure:
    """The images that excite a channel most, the region its strongest unit reads boxed."""
    k = len(images)
    fig = make_subplots(1, k, subplot_titles=[f"{v:.3f}" for v in values], horizontal_spacing=0.02)
    for i in range(k):
        fig.add_trace(go.Image(z=_rgb255(images[i])), 1, i + 1)
        x0, y0, x1, y1 = boxes[i]
        fig.add_shape(
            type="rect",
            x0=x0 - 0.5,
            y0=y0 - 0.5,
            x1=x1 - 0.5,
            y1=y1 - 0.5,
            line={"color": ACCENT_2, "width": 2},
            row=1,
            col=i + 1,
        )
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return base_layout(fig, height=260)


def _resize_nearest(maps: np.ndarray, side: int) -> np.ndarray:
    """(k, h, w) -> (k, side, side) by nearest neighbour, each tile scaled to [0, 1]."""
    k, h, w = maps.shape
    rows, cols = (np.arange(side) * h) // side, (np.arange(side) * w) // side
    out = maps[:, rows][:, :, cols].astype(np.float32)
    lo = out.reshape(k, -1).min(1)[:, None, None]
    hi = out.reshape(k, -1).max(1)[:, None, None]
    return (out - lo) / np.where(hi > lo, hi - lo, 1.0)


def journey_figure(rows: list[tuple[str, np.ndarray]], side: int = 40) -> go.Figure:
    """One image through every layer: a row per layer, its strongest channels side by side."""
    gap = max(2, side // 8)
    k = max(len(m) for _, m in rows)
    grid = np.full((len(rows) * (side + gap) - gap, k * (side + gap) - gap), np.nan, np.float32)
    for r, (_, maps) in enumerate(rows):
        tiles = tile(_resize_nearest(maps, side), cols=k, gap=gap)
        grid[r * (side + gap) : r * (side + gap) + side, : tiles.shape[1]] = tiles
    fig = go.Figure(go.Heatmap(z=grid, colorscale=SEQUENTIAL, showscale=False, hoverinfo="skip"))
    fig.update_xaxes(visible=False, constrain="domain", range=[-0.5, grid.shape[1] - 0.5])
    centres = [r * (side + gap) + side / 2 for r in range(len(rows))]
    names = [name for name, _ in rows]
    fig.update_yaxes(
        range=[grid.shape[0] - 0.5, -0.5],
        scaleanchor="x",
        constrain="domain",
        tickvals=centres,
        ticktext=names,
        showgrid=False,
        zeroline=False,
    )
    return base_layout(fig, height=min(2400, 90 * len(rows) + 60))
