"""Pictures and tables of a network's layers, from `models.network.geometry.LayerInfo` rows."""

from __future__ import annotations

import math

import plotly.graph_objects as go

from models.network.geometry import LayerInfo
from viz import narrow
from viz.theme import ACCENT, INK, LAYER_COLORS, MUTED, base_layout

_KIND = {
    "conv": "conv",
    "maxpool": "pool",
    "avgpool": "pool",
    "global_avgpool": "pool",
    "global_maxpool": "pool",
    "batchnorm": "norm",
    "dropout": "dropout",
    "flatten": "flatten",
    "linear": "linear",
    "residual": "block",
    "inception": "block",
    "se": "block",
    "cbam": "block",
}


def layer_kind(layer_type: str) -> str:
    """The colour group of a layer type (activations share one)."""
    return _KIND.get(layer_type, "activation")


def shape_text(shape: tuple[int, ...]) -> str:
    return "×".join(map(str, shape))


def layer_rows(infos: list[LayerInfo]) -> list[dict]:
    """One row per layer for a table: name, output shape, parameters, MACs, receptive field."""
    return [
        {
            "#": i.index,
            "layer": i.name,
            "type": i.layer.type,
            "output": shape_text(i.output_shape),
            "parameters": i.params,
            "MACs": i.macs,
            "receptive field": "whole input" if i.rf.size is None else f"{i.rf.size}×{i.rf.size}",
            "jump": i.rf.jump,
        }
        for i in infos
    ]


def _box(x: float, w: float, h: float, color: str, selected: bool) -> dict:
    return {
        "type": "rect",
        "x0": x - w / 2,
        "x1": x + w / 2,
        "y0": -h / 2,
        "y1": h / 2,
        "fillcolor": color,
        "opacity": 0.9 if selected else 0.55,
        "line": {"color": "#111827" if selected else "white", "width": 3 if selected else 1},
    }


def network_figure(
    infos: list[LayerInfo], input_shape: tuple[int, ...], selected: int | None = None
) -> go.Figure:
    """Each layer a stack of maps sized by its output, like CNN Explainer's overview.

    Image-shaped outputs are drawn as a few stacked squares (height ∝ side, depth ∝ channels);
    flat vectors as a thin bar, with the flatten step fanned out between them.
    """
    shapes = [tuple(input_shape)] + [i.output_shape for i in infos]
    kinds = ["input"] + [layer_kind(i.layer.type) for i in infos]
    names = ["input"] + [i.name for i in infos]
    if narrow.layout_key() == "phone":
        return _tall_figure(shapes, kinds, names, selected)
    biggest = max(s[1] for s in shapes if len(s) == 3)
    fig = go.Figure()
    shapes_drawn, xs, heights = [], [], []
    for k, (shape, kind) in enumerate(zip(shapes, kinds)):
        x = k * 1.6
        color = LAYER_COLORS[kind]
        is_sel = selected is not None and k == selected
        if len(shape) == 3:
            side = 0.3 + 1.7 * math.sqrt(shape[1] / biggest)
            depth = min(shape[0], 6)
            for d in range(depth):
                off = (d - (depth - 1) / 2) * 0.09
                box = _box(x + off, side * shape[2] / max(shape[1], 1) * 0.5, side, color, is_sel)
                box["y0"] += off
                box["y1"] += off
                shapes_drawn.append(box)
            h = side
        else:
            h = 0.4 + 0.35 * math.log10(shape[0] + 1)
            shapes_drawn.append(_box(x, 0.16, h, color, is_sel))
        if k and kind == "flatten":
            prev_x, prev_h = xs[-1], heights[-1]
            for t in range(7):
                y0 = (t / 6 - 0.5) * prev_h
                y1 = (t / 6 - 0.5) * h
                fig.add_trace(
                    go.Scatter(
                        x=[prev_x + 0.3, x - 0.1],
                        y=[y0, y1],
                        mode="lines",
                        line={"color": MUTED, "width": 1},
                        hoverinfo="skip",
                        showlegend=False,
                    )
                )
        xs.append(x)
        heights.append(h)
    labels = [f"{n}<br>{shape_text(s)}" for n, s in zip(names, shapes)]
    hover = [
        f"<b>{n}</b> ({kd})<br>output {shape_text(s)}" for n, kd, s in zip(names, kinds, shapes)
    ]
    low = -max(heights) / 2
    label_y = [low - 0.3 - 0.55 * (k % 2) for k in range(len(xs))]  # staggered, so none overlap
    fig.add_trace(
        go.Scatter(
            x=xs,
            y=label_y,
            mode="text",
            text=labels,
            textfont={"size": 10},
            hoverinfo="skip",
            showlegend=False,
        )
    )
    fig.add_trace(
        go.Scatter(
            x=xs,
            y=[0] * len(xs),
            mode="markers",
            marker={"size": 28, "opacity": 0},
            hovertext=hover,
            hoverinfo="text",
            showlegend=False,
        )
    )
    fig.update_layout(shapes=shapes_drawn)
    fig.update_xaxes(visible=False, range=[-1, xs[-1] + 1])
    fig.update_yaxes(visible=False, range=[low - 1.2, max(heights) / 2 + 0.3])
    return base_layout(fig, height=300)


# A phone draws the network top to bottom, in px of its nominal width: one row per layer, the
# maps as slabs (width ∝ side, one slab per channel up to 6), the label to the right.
ROW_PX = 46  # one layer's row: a two-line 12 px label and the arrow to the next row
BOX_PX = 150  # the widest map's slab
SLAB_PX, STEP_PX = 10, (4, 3)  # a slab's thickness, and the offset of each one behind it


def _slabs(cx: float, cy: float, shape: tuple, biggest: int, style: tuple) -> tuple[list, float]:
    """The shapes of one layer's row at centre (cx, cy), and their half-height in px."""
    color, selected = style
    if len(shape) != 3:  # a vector: one thin bar, longer for more numbers
        w = 20 + 25 * math.log10(shape[0] + 1)
        return [_box(cx, w, 8, color, selected) | {"y0": cy - 4, "y1": cy + 4}], 4.0
    w = BOX_PX * (0.15 + 0.85 * math.sqrt(shape[1] / biggest))
    depth = min(shape[0], 6)
    boxes = []
    for d in range(depth):
        off = d - (depth - 1) / 2
        y = cy + off * STEP_PX[1]
        boxes.append(_box(cx + off * STEP_PX[0], w, SLAB_PX, color, selected))
        boxes[-1] |= {"y0": y - SLAB_PX / 2, "y1": y + SLAB_PX / 2}
    return boxes, SLAB_PX / 2 + (depth - 1) / 2 * STEP_PX[1]


def _band(cy: float, width: float) -> dict:
    """A pale band behind the selected layer's row."""
    return {
        "type": "rect", "x0": 0, "x1": width, "y0": cy - ROW_PX / 2 + 1, "y1": cy + ROW_PX / 2 - 1,
        "fillcolor": ACCENT, "opacity": 0.12, "line": {"width": 0}, "layer": "below",
    }  # fmt: skip


def _tall_figure(shapes: list, kinds: list, names: list, selected: int | None) -> go.Figure:
    """The network for a phone: layers as rows down the page, arrows pointing down, each
    label beside its maps; the same boxes, colours, names, shapes and highlight as wide."""
    biggest = max(s[1] for s in shapes if len(s) == 3)
    width = narrow.drawing_width("phone")
    cx = 12 + (BOX_PX + 5 * STEP_PX[0]) / 2
    label_x = cx + (BOX_PX + 5 * STEP_PX[0]) / 2 + 14
    fig = go.Figure()
    drawn, notes, rows = [], [], []
    for k, (shape, kind) in enumerate(zip(shapes, kinds)):
        cy = -(k + 0.5) * ROW_PX
        boxes, half = _slabs(cx, cy, shape, biggest, (LAYER_COLORS[kind], k == selected))
        if k == selected:  # a pale band behind the row, and a thinner outline than wide's
            drawn.append(_band(cy, width))
            boxes = [b | {"line": {"color": INK, "width": 1.5}} for b in boxes]
        drawn += boxes
        if k and kind == "flatten":  # the flatten step fanned out, as on a laptop
            (prev_w, prev_y), w = rows[-1], boxes[-1]["x1"] - boxes[-1]["x0"]
            for t in range(7):
                f = t / 6 - 0.5
                fig.add_trace(
                    go.Scatter(
                        x=[cx + f * prev_w, cx + f * w], y=[prev_y, cy + half], mode="lines",
                        line={"color": MUTED, "width": 1}, hoverinfo="skip", showlegend=False,
                    )
                )  # fmt: skip
        elif k:
            notes.append(narrow.arrow((cx, rows[-1][1]), (cx, cy + half + 1), MUTED))
        rows.append((max(b["x1"] for b in boxes) - min(b["x0"] for b in boxes), cy - half))
    labels = [
        f"<b>{n}</b><br>{shape_text(s)}" if k == selected else f"{n}<br>{shape_text(s)}"
        for k, (n, s) in enumerate(zip(names, shapes))
    ]
    ys = [-(k + 0.5) * ROW_PX for k in range(len(shapes))]
    hover = [
        f"<b>{n}</b> ({kd})<br>output {shape_text(s)}" for n, kd, s in zip(names, kinds, shapes)
    ]
    fig.add_trace(
        go.Scatter(
            x=[label_x] * len(ys), y=ys, mode="text", text=labels, textposition="middle right",
            textfont={"size": narrow.LABEL_PX, "color": INK}, hoverinfo="skip", showlegend=False,
        )
    )  # fmt: skip
    fig.add_trace(
        go.Scatter(
            x=[cx] * len(ys), y=ys, mode="markers", marker={"size": 28, "opacity": 0},
            hovertext=hover, hoverinfo="text", showlegend=False,
        )
    )  # fmt: skip
    fig.update_layout(shapes=drawn, annotations=notes)
    fig.update_xaxes(visible=False, range=[0, width], fixedrange=True)
    fig.update_yaxes(visible=False, range=[-len(shapes) * ROW_PX, 0], fixedrange=True)
    base_layout(fig, height=len(shapes) * ROW_PX + 20)
    return fig.update_layout(margin=narrow.TIGHT_MARGIN, dragmode=False)
