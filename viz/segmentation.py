"""Figures for the Segmentation page: the U-Net's shapes, masks over images, three tasks on one
image, and the skip/no-skip comparison. Pure: arrays and small dataclasses in, figures out."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from models.network.unet import StageShape
from models.training.segmentation import ThreeTasks
from viz import narrow, theme
from viz.train import LiveCurves

# Colours of mask classes 1, 2, … over an image (class 0, background, is left as it is).
MASK_COLOURS = [theme.ACCENT_2, theme.ACCENT, "#9333ea", "#0891b2", "#ca8a04", "#db2777"]
PART_COLOURS = {
    "input": theme.LAYER_COLORS["input"],
    "encoder": theme.LAYER_COLORS["conv"],
    "bottleneck": theme.LAYER_COLORS["block"],
    "up": theme.ACCENT_2,
    "decoder": theme.LAYER_COLORS["norm"],
    "output": theme.INK,
}


def _rgb(hex_colour: str) -> np.ndarray:
    return np.array([int(hex_colour[i : i + 2], 16) for i in (1, 3, 5)], dtype=np.float32)


def overlay(image: np.ndarray, mask: np.ndarray, alpha: float = 0.6) -> np.ndarray:
    """uint8 (H, W, 3): the image with each foreground class tinted in its colour."""
    out = image.astype(np.float32).copy()
    for c in range(1, int(mask.max()) + 1):
        where = mask == c
        colour = _rgb(MASK_COLOURS[(c - 1) % len(MASK_COLOURS)])
        out[where] = (1 - alpha) * out[where] + alpha * colour
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def live_curves(previous: Sequence | None = None) -> LiveCurves:
    """The Train page's live loss and accuracy figure, its accuracy named for what it is here."""
    curves = LiveCurves(previous=previous)
    curves.figure.layout.annotations[1].text = "IoU of the foreground (validation and training)"
    curves.figure.update_yaxes(title_text="IoU", row=1, col=2)
    return curves


def masks_figure(
    images: np.ndarray,
    truth: np.ndarray,
    predicted: np.ndarray | None,
    ious: Sequence[float] | None = None,
) -> go.Figure:
    """Validation images (N, H, W, 3) in columns: the image, its true mask, the prediction."""
    rows = 3 if predicted is not None else 2
    n = len(images)
    titles = (
        [f"IoU {v:.2f}" for v in ious] if ious is not None else [f"image {i}" for i in range(n)]
    )
    fig = make_subplots(
        rows=rows, cols=n, subplot_titles=titles, horizontal_spacing=0.01, vertical_spacing=0.03
    )
    for i in range(n):
        panels = [images[i], overlay(images[i], truth[i])]
        if predicted is not None:
            panels.append(overlay(images[i], predicted[i]))
        for r, z in enumerate(panels, start=1):
            fig.add_trace(go.Image(z=z, hoverinfo="skip"), row=r, col=i + 1)
    names = ["image", "true mask", "predicted"][:rows]
    for r, name in enumerate(names, start=1):
        fig.update_yaxes(title_text=name, row=r, col=1)
    fig.update_xaxes(showticklabels=False)
    fig.update_yaxes(showticklabels=False)
    return theme.base_layout(fig, height=110 * rows + 60)


def unet_figure(stages: Sequence[StageShape]) -> go.Figure:
    """The U: one box per stage at the height of its map size, labelled C×H×W, with the skips.

    On a phone (`narrow.layout_key()`) the stages go down the page instead (`_tall_unet`)."""
    if narrow.layout_key() == "phone":
        return _tall_unet(stages)
    sides = sorted({s.side for s in stages}, reverse=True)
    level = {side: i for i, side in enumerate(sides)}
    xs = {s.name: i for i, s in enumerate(stages)}
    fig = go.Figure()
    for s in stages:
        x, y = xs[s.name], -level[s.side]
        half = 0.15 + 0.25 * s.channels / max(t.channels for t in stages)
        fig.add_shape(
            type="rect",
            x0=x - 0.35,
            x1=x + 0.35,
            y0=y - half,
            y1=y + half,
            fillcolor=PART_COLOURS[s.part],
            opacity=0.85,
            line={"width": 0},
        )
        label = f"{s.part}<br>{s.channels}×{s.side}×{s.side}"
        fig.add_annotation(x=x, y=y - half - 0.08, text=label, showarrow=False, yanchor="top")
        if s.skip_from:
            src = xs[s.skip_from]
            fig.add_annotation(
                x=x - 0.35,
                y=y + half,
                ax=src + 0.35,
                ay=y + half,
                xref="x",
                yref="y",
                axref="x",
                ayref="y",
                arrowhead=2,
                arrowcolor=theme.ACCENT_2,
                arrowwidth=2,
                text="",
            )
    path_x = [xs[s.name] for s in stages]
    path_y = [-level[s.side] for s in stages]
    fig.add_trace(
        go.Scatter(
            x=path_x,
            y=path_y,
            mode="lines",
            line={"color": theme.MUTED, "width": 1},
            hoverinfo="skip",
            showlegend=False,
        )
    )
    fig.update_xaxes(visible=False, range=[-0.6, len(stages) - 0.4])
    fig.update_yaxes(visible=False, range=[-len(sides) + 0.2, 0.7])
    return theme.base_layout(fig, height=120 + 110 * len(sides))


# On a phone the U-Net goes down the page: one row per stage, the box as wide as its map (so
# the U becomes a funnel and back), the label beside it, each skip a bracket on the left.
ROW_PX, BOX_PX, BRACKET_PX = 44, 130, 12  # a stage's row; the widest box; between brackets


def _tall_unet(stages: Sequence[StageShape]) -> go.Figure:
    """The U-Net for a phone: stages as rows down the page, arrows pointing down, the same
    colours, labels and skips as the wide figure."""
    sides = sorted({s.side for s in stages}, reverse=True)
    top_side, top_channels = sides[0], max(s.channels for s in stages)
    cx = BRACKET_PX * len(sides) + 8 + BOX_PX / 2
    fig, notes, boxes = go.Figure(), [], {}
    for i, s in enumerate(stages):
        y, w = -(i + 0.5) * ROW_PX, BOX_PX * (0.25 + 0.75 * s.side / top_side)
        half = 5 + 9 * s.channels / top_channels
        boxes[s.name] = (cx - w / 2, y, half)
        fig.add_shape(
            type="rect", x0=cx - w / 2, x1=cx + w / 2, y0=y - half, y1=y + half,
            fillcolor=PART_COLOURS[s.part], opacity=0.85, line={"width": 0},
        )  # fmt: skip
        label = f"{s.part}<br>{s.channels}×{s.side}×{s.side}"
        notes.append(
            {"x": cx + BOX_PX / 2 + 10, "y": y, "text": label, "showarrow": False,
             "xanchor": "left", "align": "left", "font": {"size": narrow.LABEL_PX}}
        )  # fmt: skip
        if i:
            prev = boxes[stages[i - 1].name]
            notes.append(narrow.arrow((cx, prev[1] - prev[2]), (cx, y + half + 1), theme.MUTED))
        if s.skip_from:  # a bracket: left from the encoder's box, down, right into this one
            left, top, _ = boxes[s.skip_from]
            x = 6 + BRACKET_PX * sides.index(s.side)
            fig.add_trace(
                go.Scatter(
                    x=[left, x, x], y=[top, top, y], mode="lines", hoverinfo="skip",
                    line={"color": theme.ACCENT_2, "width": 2}, showlegend=False,
                )
            )  # fmt: skip
            notes.append(narrow.arrow((x, y), (cx - w / 2 - 1, y), theme.ACCENT_2, width=2))
    fig.update_layout(annotations=notes, dragmode=False)
    fig.update_xaxes(visible=False, range=[0, narrow.drawing_width("phone")], fixedrange=True)
    fig.update_yaxes(visible=False, range=[-len(stages) * ROW_PX, 0], fixedrange=True)
    theme.base_layout(fig, height=len(stages) * ROW_PX + 20)
    return fig.update_layout(margin=narrow.TIGHT_MARGIN)


def three_tasks_figure(image: np.ndarray, tasks: ThreeTasks) -> go.Figure:
    """The same image for classification (a name), detection (boxes) and segmentation (mask)."""
    titles = (
        f"Classification: “{tasks.label}”",
        f"Detection: {len(tasks.boxes)} box{'es' * (len(tasks.boxes) != 1)}",
        "Segmentation: a class per pixel",
    )
    fig = make_subplots(rows=1, cols=3, subplot_titles=titles, horizontal_spacing=0.03)
    fig.add_trace(go.Image(z=image, hoverinfo="skip"), row=1, col=1)
    fig.add_trace(go.Image(z=image, hoverinfo="skip"), row=1, col=2)
    fig.add_trace(go.Image(z=overlay(image, tasks.instances), hoverinfo="skip"), row=1, col=3)
    for i, (kind, (x0, y0, x1, y1)) in enumerate(tasks.boxes):
        colour = MASK_COLOURS[i % len(MASK_COLOURS)]
        fig.add_shape(
            type="rect",
            x0=x0 - 0.5,
            y0=y0 - 0.5,
            x1=x1 + 0.5,
            y1=y1 + 0.5,
            line={"color": colour, "width": 2},
            row=1,
            col=2,
        )
        fig.add_annotation(
            x=x0 - 0.5,
            y=y0 - 0.5,
            text=kind,
            showarrow=False,
            xanchor="left",
            yanchor="bottom",
            font={"color": "white", "size": 11},
            bgcolor=colour,
            row=1,
            col=2,
        )
    fig.update_xaxes(showticklabels=False)
    fig.update_yaxes(showticklabels=False)
    return theme.base_layout(fig, height=300)


def comparison_figure(rows: dict[str, dict[str, float]]) -> go.Figure:
    """Grouped bars: for each run (with skips, without), its IoU and edge-pixel accuracy."""
    fig = go.Figure()
    colours = [theme.ACCENT, theme.ACCENT_2]
    for i, (label, values) in enumerate(rows.items()):
        fig.add_trace(
            go.Bar(
                name=label,
                x=list(values),
                y=list(values.values()),
                marker={"color": colours[i % 2], "pattern": {"shape": ["", "/"][i % 2]}},
                text=[f"{v:.3f}" for v in values.values()],
                textposition="outside",
            )
        )
    fig.update_layout(barmode="group", legend={"orientation": "h", "y": -0.2})
    fig.update_yaxes(range=[0, 1.1], gridcolor=theme.MUTED)
    return theme.base_layout(fig, height=320)
