"""Figures for attention blocks: channel weights as bars, and spatial maps beside Grad-CAM."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from viz import theme
from viz.saliency import overlay_rgb


def channel_weights_figure(gates: list[tuple[str, np.ndarray]]) -> go.Figure:
    """One bar chart per channel gate: the weight (0..1) each channel is multiplied by."""
    fig = make_subplots(
        len(gates),
        1,
        subplot_titles=[name for name, _ in gates],
        vertical_spacing=0.12 if len(gates) > 1 else 0.0,
    )
    for row, (name, weights) in enumerate(gates, start=1):
        fig.add_trace(
            go.Bar(
                x=np.arange(len(weights)),
                y=weights,
                name=name,
                marker_color=theme.SERIES[(row - 1) % len(theme.SERIES)],
                hovertemplate="channel %{x}: %{y:.3f}<extra></extra>",
            ),
            row,
            1,
        )
        fig.update_yaxes(range=[0, 1], title="weight", row=row, col=1)
        fig.update_xaxes(title="channel", row=row, col=1)
    fig.update_layout(showlegend=False)
    return theme.base_layout(fig, height=60 + 220 * max(1, len(gates)))


def spatial_figure(
    image: np.ndarray,
    maps: list[tuple[str, np.ndarray]],
    gradcam: np.ndarray,
    gradcam_title: str,
    opacity: float = 0.55,
) -> go.Figure:
    """The image, each spatial gate's map blended over it, and Grad-CAM for comparison."""
    peak = float(gradcam.max())
    panels = [(f"{name} (0..1)", heat) for name, heat in maps]
    panels.append((gradcam_title, gradcam / peak if peak > 0 else gradcam))
    fig = make_subplots(
        1, len(panels), subplot_titles=[t for t, _ in panels], horizontal_spacing=0.03
    )
    for col, (_title, heat) in enumerate(panels, start=1):
        fig.add_trace(
            go.Image(z=overlay_rgb(image, np.clip(heat, 0, 1), "blended", opacity=opacity)), 1, col
        )
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return theme.base_layout(fig, height=340)
