"""Figures for the Regression page: predicted against true values, the error distribution, and
the wrap-around of angles (two arrows 2° apart whose raw targets lie 358° apart)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from viz import theme

ARM_COLOURS = (theme.ACCENT, theme.ACCENT_2, theme.SERIES[3])  # blue, orange, purple


def _colour(i: int) -> str:
    return ARM_COLOURS[i % len(ARM_COLOURS)]


def scatter_figure(
    pairs: Mapping[str, tuple[np.ndarray, np.ndarray]], unit: str, low: float, high: float
) -> go.Figure:
    """Predicted against true values of each arm; the diagonal is a perfect answer.

    `pairs` maps an arm's label to (true, predicted); a position's (N, 2) arrays are drawn as
    both coordinates (x and y) on the same axes.
    """
    fig = go.Figure(
        go.Scatter(
            x=[low, high],
            y=[low, high],
            mode="lines",
            name="perfect",
            line={"color": theme.MUTED, "dash": "dash"},
            hoverinfo="skip",
        )
    )
    for i, (label, (true, predicted)) in enumerate(pairs.items()):
        fig.add_trace(
            go.Scatter(
                x=np.ravel(true),
                y=np.ravel(predicted),
                mode="markers",
                name=label,
                marker={"color": _colour(i), "size": 5, "opacity": 0.6},
                hovertemplate=f"{label}<br>true %{{x:.1f}} {unit}<br>predicted %{{y:.1f}} {unit}"
                "<extra></extra>",
            )
        )
    fig.update_layout(
        xaxis_title=f"true ({unit})",
        yaxis_title=f"predicted ({unit})",
        legend={"orientation": "h", "y": -0.25},
    )
    return theme.base_layout(fig, height=380)


def error_figure(errors: Mapping[str, np.ndarray], unit: str) -> go.Figure:
    """The distribution of each arm's errors, overlaid, in the target's unit."""
    fig = go.Figure()
    for i, (label, values) in enumerate(errors.items()):
        fig.add_trace(
            go.Histogram(
                x=np.asarray(values, float),
                name=label,
                nbinsx=40,
                marker_color=_colour(i),
                opacity=0.55,
                hovertemplate=f"{label}<br>error %{{x}} {unit}<br>%{{y}} images<extra></extra>",
            )
        )
    fig.update_layout(
        barmode="overlay",
        xaxis_title=f"error ({unit}; predicted − true)",
        yaxis_title="validation images",
        legend={"orientation": "h", "y": -0.25},
    )
    return theme.base_layout(fig, height=340)


def wraparound_figure(images: Sequence[np.ndarray], titles: Sequence[str]) -> go.Figure:
    """Shape images (3, S, S) side by side, each titled with its targets."""
    fig = make_subplots(rows=1, cols=len(images), subplot_titles=list(titles))
    for i, image in enumerate(images, start=1):
        fig.add_trace(go.Image(z=np.asarray(image).transpose(1, 2, 0), hoverinfo="skip"), 1, i)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return theme.base_layout(fig, height=260)


def summary_figure(mae: Mapping[str, float], unit: str) -> go.Figure:
    """Each arm's mean absolute error as a bar (smaller is better)."""
    names = list(mae)
    fig = go.Figure(
        go.Bar(
            x=[mae[n] for n in names],
            y=names,
            orientation="h",
            marker_color=[_colour(i) for i in range(len(names))],
            text=[f"{mae[n]:.2f} {unit}" for n in names],
            textposition="auto",
            hovertemplate=f"%{{y}}: %{{x:.2f}} {unit}<extra></extra>",
        )
    )
    fig.update_xaxes(title_text=f"mean absolute error on validation ({unit})", rangemode="tozero")
    return theme.base_layout(fig, height=80 * len(names) + 80)
