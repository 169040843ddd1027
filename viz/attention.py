"""Figures for attention blocks: channel weights as bars, and spatial maps beside Grad-CAM."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from viz import theme
from viz.saliency import overlay_rgb

# Pixels of the channel-weights figure. Between two panels sit the upper one's tick labels and
# axis title (about 47 px in Chromium) and the lower one's gate name (about 22 px): a gap set
# in pixels keeps them apart whatever the number of gates or the screen's width.
BAR_PANEL_PX = 200  # plotting height of one gate's bars
BAR_GAP_PX = 84  # from one panel's bottom edge to the next one's top edge
BAR_MARGIN_T = 28  # above the first panel: its gate's name
BAR_MARGIN_B = 60  # below the last panel: its tick labels and axis title
SPATIAL_TITLE_PX = 30  # above the spatial figure's first row: a panel name in 16 px type


def channel_weights_figure(gates: list[tuple[str, np.ndarray]]) -> go.Figure:
    """One bar chart per channel gate: the weight (0..1) each channel is multiplied by."""
    rows = max(1, len(gates))
    plot_px = rows * BAR_PANEL_PX + (rows - 1) * BAR_GAP_PX
    fig = make_subplots(
        rows,
        1,
        subplot_titles=[name for name, _ in gates],
        vertical_spacing=BAR_GAP_PX / plot_px if rows > 1 else 0.0,
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
    theme.base_layout(fig, height=BAR_MARGIN_T + plot_px + BAR_MARGIN_B)
    # One column: narrow.fit has nothing to restack, so setting the margins after it is safe.
    return fig.update_layout(margin={"t": BAR_MARGIN_T, "b": BAR_MARGIN_B})


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
    theme.base_layout(fig, height=340)  # on a phone, restacked one panel under another
    # The panels' names sit above the plotting area: the theme's 20 px top margin cut the first
    # row's off by a few pixels. Grow the margin and the height alike, so the panels keep theirs.
    extra = SPATIAL_TITLE_PX - fig.layout.margin.t
    if extra > 0:
        fig.update_layout(margin_t=SPATIAL_TITLE_PX, height=fig.layout.height + extra)
    return fig
