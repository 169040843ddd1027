"""Figures for the Ensembles page: each member's accuracy beside the two ensembles', and the
images the members disagree on with the ensemble's confidence."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from viz import theme


def accuracy_figure(members: Sequence[float], average: float, vote: float) -> go.Figure:
    """Bars: every member's validation accuracy (grey-blue), then the two ensembles' (orange),
    with a dotted line at the best member's."""
    names = [f"seed {i}" for i in range(len(members))] + ["averaged", "majority vote"]
    values = [*members, average, vote]
    colours = [theme.ACCENT] * len(members) + [theme.ACCENT_2] * 2
    fig = go.Figure(
        go.Bar(
            x=names,
            y=values,
            marker_color=colours,
            text=[f"{v:.1%}" for v in values],
            textposition="outside",
            hovertemplate="%{x}: %{y:.1%}<extra></extra>",
        )
    )
    if members:
        fig.add_hline(
            y=max(members),
            line={"dash": "dot", "color": theme.INK},
            annotation_text="best member",
            annotation_position="top left",
        )
    fig.update_yaxes(title_text="validation accuracy", range=[0, 1.08], gridcolor=theme.MUTED)
    return theme.base_layout(fig, height=340)


def disagreement_figure(images: np.ndarray, titles: Sequence[str], cols: int = 6) -> go.Figure:
    """A grid of images (N, H, W, 3) uint8, each titled (truth, answers, confidence)."""
    n = len(images)
    if n == 0:
        fig = go.Figure()
        return theme.base_layout(fig, title="The members agree on every image.", height=120)
    cols = min(cols, n)
    rows = -(-n // cols)
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=list(titles))
    for i, image in enumerate(images):
        fig.add_trace(go.Image(z=image, hoverinfo="skip"), row=i // cols + 1, col=i % cols + 1)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    fig.update_annotations(font_size=11)
    return theme.base_layout(fig, height=190 * rows)
