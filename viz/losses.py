"""Figures of the Losses page: each loss against the true class's probability, the gradients
on each logit, and softmax probabilities as the temperature changes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go

from models.training.losses import LossReport
from viz import theme

# One colour per loss; the two hinges share a hue family but differ in dash.
LOSS_STYLES = (
    (theme.SERIES[0], "solid"),
    (theme.SERIES[1], "solid"),
    (theme.SERIES[3], "solid"),
    (theme.SERIES[5], "dash"),
    (theme.SERIES[6], "dot"),
)


def _style(i: int) -> tuple[str, str]:
    return LOSS_STYLES[i % len(LOSS_STYLES)]


def loss_curves_figure(
    p: np.ndarray, curves: Mapping[str, np.ndarray], report: LossReport
) -> go.Figure:
    """Each loss against p_true, with the current logits' value of each marked."""
    fig = go.Figure()
    for i, (name, values) in enumerate(curves.items()):
        color, dash = _style(i)
        fig.add_trace(
            go.Scatter(
                x=p,
                y=values,
                name=name,
                mode="lines",
                line={"color": color, "dash": dash, "width": 2},
                hovertemplate=f"{name}<br>p = %{{x:.2f}}: %{{y:.3f}}<extra></extra>",
            )
        )
    for i, loss in enumerate(report.losses):
        color, _ = _style(i)
        fig.add_trace(
            go.Scatter(
                x=[report.p_true],
                y=[loss.value],
                mode="markers",
                marker={"color": color, "size": 10, "line": {"color": "white", "width": 1}},
                showlegend=False,
                hovertemplate=f"{loss.name} now: {loss.value:.3f}<extra></extra>",
            )
        )
    fig.add_vline(report.p_true, line={"color": theme.MUTED, "dash": "dot"})
    fig.update_layout(
        xaxis_title="p, the probability the softmax gives the true class",
        yaxis_title="loss",
        legend={"orientation": "h", "y": -0.25},
    )
    fig.update_xaxes(range=[0, 1], gridcolor=theme.MUTED)
    fig.update_yaxes(range=[0, 4], gridcolor=theme.MUTED)
    return theme.base_layout(fig, height=360)


def gradient_figure(report: LossReport, class_names: Sequence[str]) -> go.Figure:
    """∂L/∂z for each class, one bar group per class, one bar per loss. A negative bar on the
    true class means gradient descent raises that class's score."""
    fig = go.Figure()
    names = [f"{name} (true)" if k == report.target else name for k, name in enumerate(class_names)]
    for i, loss in enumerate(report.losses):
        color, _ = _style(i)
        fig.add_trace(
            go.Bar(
                x=names,
                y=list(loss.gradient),
                name=loss.name,
                marker_color=color,
                hovertemplate=f"{loss.name}<br>∂L/∂z for %{{x}}: %{{y:.3f}}<extra></extra>",
            )
        )
    fig.add_hline(0, line={"color": theme.INK, "width": 1})
    fig.update_layout(
        barmode="group",
        xaxis_title="class (logit)",
        yaxis_title="∂ loss / ∂ logit",
        legend={"orientation": "h", "y": -0.25},
    )
    fig.update_yaxes(gridcolor=theme.MUTED)
    return theme.base_layout(fig, height=340)


def temperature_figure(
    temperatures: np.ndarray, sweep: np.ndarray, class_names: Sequence[str], current: float
) -> go.Figure:
    """Each class's softmax probability against the temperature (log axis), the current one
    marked."""
    fig = go.Figure()
    for k, name in enumerate(class_names):
        color, dash = _style(k)
        fig.add_trace(
            go.Scatter(
                x=temperatures,
                y=sweep[:, k],
                name=name,
                mode="lines",
                line={"color": color, "dash": dash, "width": 2},
                hovertemplate=f"{name}<br>T = %{{x:.2f}}: p = %{{y:.1%}}<extra></extra>",
            )
        )
    fig.add_vline(current, line={"color": theme.MUTED, "dash": "dot"})
    fig.update_layout(
        xaxis_title="temperature T (log scale)",
        yaxis_title="softmax(z / T)",
        legend={"orientation": "h", "y": -0.25},
    )
    fig.update_xaxes(type="log", gridcolor=theme.MUTED)
    fig.update_yaxes(range=[0, 1], tickformat=".0%", gridcolor=theme.MUTED)
    return theme.base_layout(fig, height=320)
