"""Figures of one neuron taken apart: input maps, kernel slices and product maps side by side,
the sum and what follows, the layer overview, and clickable dots for the Feature maps grid.
A pooling window, flatten's fan, weighted sums, softmax and the collapsed stack are in
`viz/neuron_layers.py`.

Maps wider than `CROP` cells are cut to a `CROP`-wide window around the chosen unit, so large
networks' first layers stay readable; hover shows each cell's true row and column.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from viz.feature_maps import grid_columns, subsample_step, tile
from viz.theme import ACCENT_2, DIVERGING, INK, SEQUENTIAL, base_layout

CROP = 48  # widest map side drawn whole
HOVER = "row %{customdata[1]}, col %{customdata[2]}<br>value %{customdata[0]:.4f}<extra></extra>"


def crop_window(shape: tuple[int, int], centre: tuple[float, float], size: int = CROP):
    """(row0, col0, rows, cols) of a `size` window around `centre`, inside `shape`."""
    out = []
    for side, c in zip(shape, centre):
        n = min(side, size)
        start = int(np.clip(round(c - n / 2), 0, side - n))
        out.append((start, n))
    return out[0][0], out[1][0], out[0][1], out[1][1]


def cells(values: np.ndarray, r0: int = 0, c0: int = 0) -> np.ndarray:
    """customdata (h, w, 3): value, true row, true column."""
    h, w = values.shape
    rows, cols = np.mgrid[r0 : r0 + h, c0 : c0 + w]
    return np.stack([values, rows, cols], axis=-1)


def stack_tiles(tiles: list[np.ndarray], gap: int) -> np.ndarray:
    """Tiles (h, w, ...) of one width stacked top to bottom with NaN rows between."""
    h, w = tiles[0].shape[:2]
    out = np.full((len(tiles) * (h + gap) - gap, w, *tiles[0].shape[2:]), np.nan, np.float32)
    for i, t in enumerate(tiles):
        out[i * (h + gap) : i * (h + gap) + h] = t
    return out


def scaled(maps: np.ndarray) -> np.ndarray:
    """Each map stretched to [0, 1] on its own range."""
    flat = maps.reshape(len(maps), -1)
    lo, hi = flat.min(1)[:, None, None], flat.max(1)[:, None, None]
    return (maps - lo) / np.where(hi > lo, hi - lo, 1.0)


TILE_HOVER = "row %{y}, col %{x}<br>value %{z:.4f}<extra></extra>"


def _tile(z: np.ndarray, r0: int, c0: int, scale: str, k: int, span: float | None = None):
    """One map as a heatmap on axes k, placed so hover shows its true row and column."""
    extra = {"zmid": 0, "zmin": -span, "zmax": span} if span is not None else {}
    return go.Heatmap(
        z=z.astype(np.float32),
        x0=c0,
        y0=r0,
        colorscale=scale,
        showscale=False,
        hovertemplate=TILE_HOVER,
        xaxis=f"x{k}",
        yaxis=f"y{k}",
        **extra,
    )


def _grid_axes(n_rows: int, columns: list[tuple[float, float]], gap: float = 0.04) -> dict:
    """Axes x1/y1 … for an n_rows × len(columns) grid of image panels (row-major)."""
    layout, k = {}, 0
    for i in range(n_rows):
        top = 1 - i / n_rows
        for dom in columns:
            k += 1
            layout[f"xaxis{k}"] = {
                "domain": dom,
                "visible": False,
                "constrain": "domain",
                "anchor": f"y{k}",
            }
            layout[f"yaxis{k}"] = {
                "domain": [max(0.0, top - 1 / n_rows + gap), top],
                "visible": False,
                "autorange": "reversed",
                "scaleanchor": f"x{k}",
                "constrain": "domain",
                "anchor": f"x{k}",
            }
    return layout


def _ring_at(xs, ys, k: int, size: int = 10) -> go.Scatter:
    return go.Scatter(
        x=xs,
        y=ys,
        mode="markers",
        hoverinfo="skip",
        showlegend=False,
        xaxis=f"x{k}",
        yaxis=f"y{k}",
        marker={"symbol": "square-open", "size": size, "color": ACCENT_2, "line": {"width": 2}},
    )


def _stacked(tiles: np.ndarray, r0: int, c0: int, gap: int, scale: str, k: int, span: float):
    """(n, h, w) tiles stacked top to bottom on axes k; hover gives each cell's true row/col."""
    n, h, _ = tiles.shape
    rows = np.broadcast_to((np.arange(h) + r0)[None, :, None], tiles.shape).astype(np.float32)
    return go.Heatmap(
        z=stack_tiles(list(tiles.astype(np.float32)), gap),
        x0=c0,
        customdata=stack_tiles(list(rows), gap),
        colorscale=scale,
        zmid=0,
        zmin=-span,
        zmax=span,
        showscale=False,
        hoverongaps=False,
        hovertemplate="row %{customdata}, col %{x}<br>value %{z:.4f}<extra></extra>",
        xaxis=f"x{k}",
        yaxis=f"y{k}",
    )


def conv_channel_figure(neuron, unit, shown: np.ndarray) -> go.Figure:
    """Input maps | kernel slices | product maps, one row per shown input map.

    The chosen unit's taps are ringed in every input map and the unit itself in every product
    map; `shown` indexes the neuron's input maps (the strongest ones for a wide layer). Input
    maps share one colour range; kernels and products are signed, centred on zero.
    """
    r0, c0, h, w = crop_window(neuron.inputs.shape[1:], (unit.rows.mean(), unit.cols.mean()))
    p0, q0, ph, pw = crop_window(neuron.real.shape, (unit.row, unit.col))
    maps = neuron.inputs[shown][:, r0 : r0 + h, c0 : c0 + w]
    prods = neuron.products[shown][:, p0 : p0 + ph, q0 : q0 + pw]
    kernels = neuron.kernels[shown]
    gi, gk, gp = max(1, h // 8), 1, max(1, ph // 8)
    rr, cc = np.meshgrid(unit.rows, unit.cols, indexing="ij")
    inside = (rr >= r0) & (rr < r0 + h) & (cc >= c0) & (cc < c0 + w)
    n = len(shown)
    tap_y = np.concatenate([rr[inside] - r0 + i * (h + gi) for i in range(n)])
    tap_x = np.tile(cc[inside], n)
    unit_y = [unit.row - p0 + i * (ph + gp) for i in range(n)]
    traces = [
        _stacked(maps, 0, c0, gi, DIVERGING, 1, float(np.abs(maps).max()) or 1.0),
        _stacked(kernels, 0, 0, gk, DIVERGING, 2, float(np.abs(kernels).max()) or 1.0),
        _stacked(prods, 0, q0, gp, DIVERGING, 3, float(np.abs(prods).max()) or 1.0),
        _ring_at(tap_x, tap_y, 1, 8),
        _ring_at([unit.col] * n, unit_y, 3, 11),
    ]
    for trace, first in zip(traces[:3], (r0, 0, p0)):  # true rows, not stacked ones
        trace.customdata = trace.customdata + first
    notes = [
        {
            "x": 0,
            "y": 1 - (i + 0.5) / n,
            "xref": "paper",
            "yref": "paper",
            "showarrow": False,
            "text": f"in {neuron.reads[m]}",
            "xanchor": "right",
        }
        for i, m in enumerate(shown)
    ]
    for x, text in zip(
        (0.2, 0.5, 0.8), ("input map (window ringed)", "kernel slice", "product map")
    ):
        notes.append(
            {
                "x": x,
                "y": 1.0,
                "xref": "paper",
                "yref": "paper",
                "showarrow": False,
                "text": text,
                "yanchor": "bottom",
            }
        )
    layout = _grid_axes(1, [(0.0, 0.4), (0.44, 0.56), (0.6, 1.0)], gap=0.0)
    for k, rows in (
        (1, n * (h + gi) - gi),
        (2, n * (kernels.shape[1] + 1) - 1),
        (3, n * (ph + gp) - gp),
    ):
        layout[f"yaxis{k}"] |= {"autorange": False, "range": [rows - 0.5, -0.5]}
    fig = go.Figure(traces, layout=layout | {"annotations": notes})
    return base_layout(fig, height=int(np.clip(170 * n, 260, 1400)))


def maps_row_figure(maps: list[tuple[str, np.ndarray]], unit: tuple[int, int]) -> go.Figure:
    """Maps of one size side by side (sum plus bias, batch norm, activation), the unit ringed."""
    n = len(maps)
    r0, c0, h, w = crop_window(maps[0][1].shape, unit)
    width = 1 / n
    columns = [(j * width + 0.02, (j + 1) * width - 0.02) for j in range(n)]
    traces, notes = [], []
    for j, (title, m) in enumerate(maps, start=1):
        part = m[r0 : r0 + h, c0 : c0 + w]
        span = float(np.abs(part).max()) or 1.0
        traces += [_tile(part, r0, c0, DIVERGING, j, span), _ring_at([unit[1]], [unit[0]], j, 12)]
        notes.append(
            {
                "x": (j - 0.5) * width,
                "y": 1.0,
                "xref": "paper",
                "yref": "paper",
                "showarrow": False,
                "text": title,
                "yanchor": "bottom",
            }
        )
    layout = _grid_axes(1, columns, gap=0.0) | {"annotations": notes}
    return base_layout(go.Figure(traces, layout=layout), height=360)


def overview_figure(maps: np.ndarray, order: np.ndarray, max_side: int = 32) -> go.Figure:
    """The channels in `order`, small and each on its own range, a dot on each to click."""
    step = subsample_step(max(maps.shape[1:]), max_side)
    shown = scaled(maps[order][:, ::step, ::step].astype(np.float32))
    cols = grid_columns(len(order))
    gap = max(1, shown.shape[-1] // 12)
    z = tile(shown, cols, gap)
    fig = go.Figure(
        go.Heatmap(z=z, colorscale=SEQUENTIAL, showscale=False, hoverinfo="skip"),
        layout={
            "xaxis": {"visible": False, "constrain": "domain"},
            "yaxis": {
                "visible": False,
                "scaleanchor": "x",
                "constrain": "domain",
                "range": [z.shape[0] - 0.5, -0.5],
            },
        },
    )
    rows = -(-len(order) // cols)
    fig = pickable_grid(fig, maps.shape, order, max_side)
    return base_layout(fig, height=int(np.clip(700 * rows / cols, 160, 600)))


def ring(x: float, y: float, size: int = 12) -> go.Scatter:
    return go.Scatter(
        x=[x],
        y=[y],
        mode="markers",
        hoverinfo="skip",
        showlegend=False,
        marker={"symbol": "square-open", "size": size, "color": ACCENT_2, "line": {"width": 2}},
    )


def pick_dots(shape: tuple[int, int, int], order, max_side: int = 64) -> go.Scatter:
    """A clickable dot on the centre of each tile of a channel grid tiled as `viz.feature_maps`
    does it; each dot carries its channel in customdata.
    """
    order = np.arange(shape[0]) if order is None else np.asarray(order)
    step = subsample_step(max(shape[1:]), max_side)
    h, w = -(-shape[1] // step), -(-shape[2] // step)
    cols, gap = grid_columns(len(order)), max(1, w // 12)
    index = np.arange(len(order))
    return go.Scatter(
        x=(index % cols) * (w + gap) + (w - 1) / 2,
        y=(index // cols) * (h + gap) + (h - 1) / 2,
        customdata=order,
        mode="markers",
        showlegend=False,
        marker={"size": 10, "color": "white", "opacity": 0.7, "line": {"color": INK, "width": 1}},
        hovertemplate="click: open channel %{customdata} in the Neuron view<extra></extra>",
    )


PICKING = {"clickmode": "event+select", "dragmode": False}


def pickable_grid(fig: go.Figure, shape: tuple[int, int, int], order, max_side: int = 64):
    """`viz.feature_maps.channel_grid_figure`'s grid with a clickable dot on every tile, so a
    chart drawn with `on_select` reports the clicked channel. `shape` is the layer's (C, H, W).
    """
    fig.add_trace(pick_dots(shape, order, max_side))
    fig.update_layout(**PICKING)
    return fig
