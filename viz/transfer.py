"""Figures for the Transfer learning page: the arms side by side, accuracy against labelled
images, accuracy as the test images drift, and clean against shifted sample images.

Each arm keeps one colour on every figure (grey for from scratch, so the pretrained arms stand
out); no pair of colours carries meaning by red against green.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go

from viz import theme

ARM_COLORS = {
    "from scratch": theme.MUTED,
    "frozen features + new head": theme.ACCENT,
    "full fine-tuning": theme.ACCENT_2,
    "ImageNet features + new head": theme.SERIES[3],
    "no fine-tuning": theme.MUTED,
    "retrain the head": theme.ACCENT,
    "fine-tune every layer": theme.ACCENT_2,
}


def _color(label: str, i: int) -> str:
    return ARM_COLORS.get(label, theme.SERIES[i % len(theme.SERIES)])


def _chance_line(fig: go.Figure, chance: float) -> None:
    fig.add_hline(
        y=chance * 100,
        line={"dash": "dot", "color": theme.INK, "width": 1},
        annotation_text=f"chance {chance:.0%}",
        annotation_position="top left",
    )


def arms_figure(accuracy: Mapping[str, float], chance: float, title: str = "") -> go.Figure:
    """Held-out accuracy per arm as bars (values in [0, 1]), with the chance level marked."""
    labels = list(accuracy)
    values = [accuracy[k] * 100 for k in labels]
    fig = go.Figure(
        go.Bar(
            x=labels,
            y=values,
            marker_color=[_color(k, i) for i, k in enumerate(labels)],
            text=[f"{v:.0f}%" for v in values],
            textposition="outside",
        )
    )
    _chance_line(fig, chance)
    fig.update_yaxes(title="held-out accuracy (%)", range=[0, 105], gridcolor=theme.MUTED)
    return theme.base_layout(fig, title or None, height=340)


def curve_figure(
    points: Mapping[str, Mapping[int, float]], chance: float, title: str = ""
) -> go.Figure:
    """Accuracy against labelled images per class (log axis), one line per arm."""
    fig = go.Figure()
    for i, (arm, by_size) in enumerate(points.items()):
        sizes = sorted(by_size)
        fig.add_trace(
            go.Scatter(
                x=sizes,
                y=[by_size[n] * 100 for n in sizes],
                name=arm,
                mode="lines+markers",
                line={"color": _color(arm, i), "width": 3},
                marker={"size": 9, "symbol": ["circle", "square", "diamond", "cross"][i % 4]},
            )
        )
    _chance_line(fig, chance)
    fig.update_xaxes(title="labelled images per class", type="log", tickvals=_ticks(points))
    fig.update_yaxes(title="held-out accuracy (%)", range=[0, 105], gridcolor=theme.MUTED)
    fig.update_layout(legend={"orientation": "h", "y": -0.25})
    return theme.base_layout(fig, title or None, height=380)


def _ticks(points: Mapping[str, Mapping[int, float]]) -> list[int]:
    return sorted({n for by_size in points.values() for n in by_size})


def drift_figure(
    strengths: Sequence[float], accuracy: Sequence[float], current: tuple[float, float], drift: str
) -> go.Figure:
    """The model's accuracy against the drift's strength, the slider's position marked."""
    fig = go.Figure(
        go.Scatter(
            x=list(strengths),
            y=[a * 100 for a in accuracy],
            mode="lines+markers",
            name=f"{drift} drift",
            line={"color": theme.ACCENT, "width": 3},
        )
    )
    fig.add_trace(
        go.Scatter(
            x=[current[0]],
            y=[current[1] * 100],
            mode="markers",
            name="the slider",
            marker={"color": theme.ACCENT_2, "size": 16, "symbol": "diamond"},
        )
    )
    fig.update_xaxes(
        title=f"{drift} strength (0 = the images it was trained like)", range=[-0.05, 1.05]
    )
    fig.update_yaxes(title="accuracy (%)", range=[0, 105], gridcolor=theme.MUTED)
    fig.update_layout(legend={"orientation": "h", "y": -0.3})
    return theme.base_layout(fig, None, height=340)


def samples_figure(clean: np.ndarray, shifted: np.ndarray) -> go.Figure:
    """Two rows of images, uint8 (N, H, W, 3) each: as trained on above, shifted below."""
    if clean.shape != shifted.shape:
        raise ValueError("the clean and shifted images must have the same shape")
    gap = np.full((clean.shape[1], 2, 3), 255, np.uint8)
    rows = [
        np.concatenate([np.concatenate([im, gap], 1) for im in part], 1)
        for part in (clean, shifted)
    ]
    band = np.full((4, rows[0].shape[1], 3), 255, np.uint8)
    fig = go.Figure(go.Image(z=np.concatenate([rows[0], band, rows[1]], 0), hoverinfo="skip"))
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return theme.base_layout(fig, None, height=220)
