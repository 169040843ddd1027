"""Figures for the Convolution page: the sliding window, what is read, dilation, responses."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from models.operations.convolution import HOLE, INPUT, PADDING
from models.operations.convolution_step import ConvStep
from viz import narrow, theme

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


def _panels(widths: list[float], titles: list[str], gap: float = 0.04, unit: bool = False) -> dict:
    """Layout for side-by-side square-celled panels; much cheaper than make_subplots."""
    usable = 1 - gap * (len(widths) - 1)
    layout, left = {"annotations": []}, 0.0
    for i, (width, title) in enumerate(zip(widths, titles, strict=True), start=1):
        right = min(1.0, left + usable * width / sum(widths))
        n = "" if i == 1 else str(i)
        layout[f"xaxis{n}"] = {
            "domain": [left, right],
            "anchor": f"y{n}",
            "showgrid": False,
            "zeroline": False,
            "constrain": "domain",
        } | ({"dtick": 1} if unit else {})
        layout[f"yaxis{n}"] = {
            "anchor": f"x{n}",
            "autorange": "reversed",
            "showgrid": False,
            "zeroline": False,
            "scaleanchor": f"x{n}",
            "constrain": "domain",
        } | ({"dtick": 1} if unit else {})
        layout["annotations"].append(
            {
                "text": title,
                "x": (left + right) / 2,
                "y": 1.0,
                "xref": "paper",
                "yref": "paper",
                "yanchor": "bottom",
                "yshift": 4,
                "showarrow": False,
                "font": {"size": 12},
            }
        )
        left = right + gap
    return layout


def _figure(
    data: list, layout: dict, title: str = "", height: int = 320, top: int = 0, screen=None
) -> go.Figure:
    """One go.Figure built from dicts with the theme's look (as theme.base_layout gives it);
    a single constructor call costs far less than a chain of update_layout calls."""
    look = {
        "title": {"text": title} if title else None,
        "font": {"family": theme.FONT, "color": theme.INK, "size": 13},
        "margin": {"l": 40, "r": 20, "t": top or (50 if title else 20), "b": 30},
        "plot_bgcolor": "white",
        "paper_bgcolor": "white",
        "hoverlabel": {"font": {"family": theme.FONT}},
        "height": height,
    }
    return narrow.fit(go.Figure({"data": data, "layout": look | layout}), screen=screen)


def _on(trace: dict, panel: int) -> dict:
    n = "" if panel == 1 else str(panel)
    return trace | {"xaxis": f"x{n}", "yaxis": f"y{n}"}


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


def _heatmap(z: np.ndarray, **kw) -> dict:
    return {"type": "heatmap", "z": z, "xgap": 1, "ygap": 1, "showscale": False} | kw


def _canvas_trace(step: ConvStep) -> dict:
    kinds = step.canvas.kinds
    names = np.vectorize(KIND_NAMES.get)(kinds)
    scale = [[i / 2, KIND_COLORS[i]] for i in (INPUT, PADDING, HOLE)]
    hover = "row %{y}, column %{x}: %{text} (%{customdata})<extra></extra>"
    return _heatmap(
        kinds,
        zmin=0,
        zmax=2,
        colorscale=scale,
        text=_texts(step.canvas.values),
        texttemplate="%{text}",
        customdata=names,
        hovertemplate=hover,
    )


def _numbers_trace(values: np.ndarray, show: np.ndarray | None = None) -> dict:
    shown = np.where(show, values, np.nan) if show is not None else values
    limit = float(np.nanmax(np.abs(shown))) if np.isfinite(shown).any() else 0.0
    return _heatmap(
        shown,
        text=_texts(values, show),
        texttemplate="%{text}",
        colorscale=theme.DIVERGING,
        zmin=-(limit or 1),
        zmax=limit or 1,
        hovertemplate="row %{y}, column %{x}: %{text}<extra></extra>",
    )


def _window_shapes(step: ConvStep) -> list[dict]:
    rows, cols = step.tap_rows, step.tap_cols
    window = _cell_box(0, 0, ("x", "y"), color=theme.ACCENT, width=2, dash="dash")
    window |= {
        "x0": cols[0] - 0.5,
        "x1": cols[-1] + 0.5,
        "y0": rows[0] - 0.5,
        "y1": rows[-1] + 0.5,
        "name": "window",
    }
    taps = [_cell_box(r, c, ("x", "y"), color=theme.ACCENT, width=3) for r in rows for c in cols]
    here = _cell_box(step.row, step.col, ("x4", "y4"), color=theme.ACCENT_2, width=3)
    return [window, *taps, here | {"name": "output cell"}]


def step_figure(step: ConvStep, screen: str | None = None) -> go.Figure:
    """Canvas with the window, kernel, products and the output filled up to this step.

    The four panels stand side by side on a laptop and one above the other on a phone
    (`screen`: "phone", "tablet" or "wide"; None: the screen now, viz/narrow.py)."""
    k = step.taps.shape[0]
    widths = [step.canvas.values.shape[1], k, k, step.output.shape[1]]
    titles = ["Input", "Kernel", f"Products → {_number(step.total)}", "Output"]
    filled = np.arange(step.output.size).reshape(step.output.shape) <= step.position
    traces = [
        _canvas_trace(step),
        _numbers_trace(step.taps),
        _numbers_trace(step.products),
        _numbers_trace(step.output, filled),
    ]
    layout = _panels(widths, titles, unit=True) | {"shapes": _window_shapes(step)}
    height = min(140 + 34 * max(step.canvas.values.shape[0], step.output.shape[0]), 900)
    data = [_on(t, i) for i, t in enumerate(traces, start=1)]
    return _figure(data, layout, height=height, top=40, screen=screen)


def _single(trace: dict, title: str, height: int, unit: bool = False, **layout) -> go.Figure:
    panel = _panels([1], [""], unit=unit) | {"annotations": []}
    return _figure([trace], panel | layout, title, height)


def coverage_figure(coverage: np.ndarray) -> go.Figure:
    """How many windows read each input cell; cells no window reads are boxed in red."""
    trace = _heatmap(
        coverage,
        text=_texts(coverage),
        texttemplate="%{text}",
        zmin=0,
        colorscale=theme.SEQUENTIAL,
        showscale=True,
        colorbar={"title": "reads"},
        hovertemplate="row %{y}, column %{x}: read %{z} times<extra></extra>",
    )
    unread = np.argwhere(coverage == 0)
    boxes = [_cell_box(r, c, "xy", color=theme.BAD, width=3) for r, c in unread]
    title = "Times each input cell is read (red: never)"
    return _single(trace, title, 360, unit=True, shapes=boxes)


def footprint_figure(mask: np.ndarray) -> go.Figure:
    """The pixels a dilated kernel reads (1) inside the span it covers."""
    trace = _heatmap(
        mask.astype(int),
        colorscale=[[0, "#f3f4f6"], [1, theme.ACCENT]],
        zmin=0,
        zmax=1,
        hovertemplate="row %{y}, column %{x}: %{z}<extra></extra>",
    )
    side = mask.shape[0]
    return _single(trace, f"Footprint: {int(mask.sum())} taps over {side}×{side}", 320)


def receptive_field_figure(fields: tuple[int, ...], plain: tuple[int, ...]) -> go.Figure:
    """Receptive field side after each layer, dilated against undilated."""
    layers = list(range(1, len(fields) + 1))
    dilated = {
        "type": "scatter",
        "x": layers,
        "y": list(fields),
        "name": "dilated",
        "mode": "lines+markers+text",
        "text": list(fields),
        "textposition": "top left",
        "line": {"color": theme.ACCENT},
    }
    undilated = {
        "type": "scatter",
        "x": layers,
        "y": list(plain),
        "name": "same stack, rate 1",
        "mode": "lines+markers",
        "line": {"color": theme.MUTED},
    }
    layout = {
        "xaxis": {"title": {"text": "layer"}, "dtick": 1},
        "yaxis": {"title": {"text": "receptive field (pixels across)"}, "rangemode": "tozero"},
    }
    return _figure([dilated, undilated], layout, "Receptive field after each layer", 320)


def paths_figure(paths: np.ndarray, share: float) -> go.Figure:
    """Paths from each input pixel to one output unit; blank means the unit cannot see it."""
    trace = _heatmap(
        np.where(paths > 0, paths, np.nan),
        xgap=0,
        ygap=0,
        colorscale=theme.HEAT,
        showscale=True,
        colorbar={"title": "paths"},
        hovertemplate="row %{y}, column %{x}: %{z} paths<extra></extra>",
    )
    title = f"What one unit sees: {share:.0%} of its field (grey: never)"
    return _single(trace, title, 420, plot_bgcolor="#e5e7eb")


def _thin(array: np.ndarray, max_side: int) -> tuple[np.ndarray, int]:
    every = max(1, -(-max(array.shape[-2:]) // max_side))
    return array[..., ::every, ::every], every


def response_figure(channels: np.ndarray, summed: np.ndarray) -> go.Figure:
    """A kernel's response on red, green and blue (3, H, W), then their sum (H, W)."""
    maps = np.concatenate([channels, summed[None]])
    return maps_figure(maps, ["red", "green", "blue", "sum + bias"])


def maps_figure(maps: np.ndarray, titles: list[str], max_side: int = MAX_DISPLAY_SIDE) -> go.Figure:
    """Maps side by side on one diverging scale; above `max_side`, every n-th pixel (exact)."""
    shown, every = _thin(maps, max_side)
    limit = float(np.abs(shown).max()) or 1.0
    hover = "row %{y}, column %{x}: %{z:.3f}<extra></extra>"
    traces = [
        _on(
            _heatmap(
                z.astype(np.float32),
                x0=0,
                dx=every,
                y0=0,
                dy=every,
                xgap=0,
                ygap=0,
                zmin=-limit,
                zmax=limit,
                colorscale=theme.DIVERGING,
                showscale=i == len(maps),
                hovertemplate=hover,
            ),
            i,
        )
        for i, z in enumerate(shown, start=1)
    ]
    layout = _panels([1] * len(maps), list(titles), gap=0.02)
    for axis in [key for key in layout if "axis" in key]:
        layout[axis] |= {"showticklabels": False}
    return _figure(traces, layout, height=320, top=40)


def kernel_figure(kernel: np.ndarray) -> go.Figure:
    """A kernel's numbers on a diverging scale."""
    return _single(_numbers_trace(np.round(kernel, 3)), "", 260)
