"""Figures of the Imbalance page: per-class recall by method, confusion matrices, the scores
side by side, and the focal term against the true class's probability."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from models.training.imbalance import ImbalanceMetrics
from viz import theme

# One colour per method, told apart by hue and lightness (no red/green pair), from the theme.
METHOD_COLORS = (theme.SERIES[0], theme.SERIES[1], theme.SERIES[3], theme.SERIES[5])
SCORES = {
    "accuracy": "accuracy",
    "balanced accuracy": "balanced_accuracy",
    "macro-F1": "macro_f1",
}


def _color(i: int) -> str:
    return METHOD_COLORS[i % len(METHOD_COLORS)]


def recall_bars_figure(
    metrics: Mapping[str, ImbalanceMetrics], class_names: Sequence[str], counts: Sequence[int]
) -> go.Figure:
    """Per-class recall: one group per class (with its training images), one bar per method."""
    labels = [f"{name}<br>({n})" for name, n in zip(class_names, counts, strict=True)]
    fig = go.Figure()
    for i, (method, m) in enumerate(metrics.items()):
        fig.add_trace(
            go.Bar(
                x=labels,
                y=[None if np.isnan(r) else r for r in m.recall],
                name=method,
                marker_color=_color(i),
                customdata=list(m.support),
                hovertemplate=(
                    f"{method}<br>%{{x}}: recall %{{y:.0%}} of %{{customdata}} validation "
                    "images<extra></extra>"
                ),
            )
        )
    fig.update_layout(
        barmode="group",
        xaxis_title="class (images drawn, most to fewest)",
        yaxis_title="recall",
        legend={"orientation": "h", "y": -0.3},
    )
    fig.update_yaxes(range=[0, 1], tickformat=".0%", gridcolor=theme.MUTED)
    return theme.base_layout(fig, height=380)


def scores_figure(metrics: Mapping[str, ImbalanceMetrics]) -> go.Figure:
    """Accuracy, balanced accuracy and macro-F1, one group per score, one bar per method."""
    fig = go.Figure()
    for i, (method, m) in enumerate(metrics.items()):
        values = [getattr(m, field) for field in SCORES.values()]
        fig.add_trace(
            go.Bar(
                x=list(SCORES),
                y=values,
                name=method,
                marker_color=_color(i),
                text=[f"{v:.0%}" for v in values],
                textposition="outside",
                hovertemplate=f"{method}<br>%{{x}}: %{{y:.1%}}<extra></extra>",
            )
        )
    fig.update_layout(barmode="group", yaxis_title="score", legend={"orientation": "h", "y": -0.2})
    fig.update_yaxes(range=[0, 1.1], tickformat=".0%", gridcolor=theme.MUTED)
    return theme.base_layout(fig, height=340)


def confusion_figure(
    metrics: Mapping[str, ImbalanceMetrics], class_names: Sequence[str]
) -> go.Figure:
    """One confusion matrix per method, side by side, each row scaled to its class's images."""
    methods = list(metrics)
    fig = make_subplots(rows=1, cols=len(methods), subplot_titles=methods, horizontal_spacing=0.03)
    names = list(class_names)
    for i, method in enumerate(methods):
        counts = np.asarray(metrics[method].confusion, dtype=float)  # (K, K), rows true
        shares = counts / np.maximum(counts.sum(1, keepdims=True), 1)
        fig.add_trace(
            go.Heatmap(
                z=shares,
                x=names,
                y=names,
                customdata=counts,
                zmin=0,
                zmax=1,
                colorscale=theme.SEQUENTIAL,
                showscale=i == len(methods) - 1,
                colorbar={"title": "share of<br>the row", "tickformat": ".0%"},
                hovertemplate=(
                    "true %{y} → predicted %{x}: %{customdata:.0f} images "
                    "(%{z:.0%} of the row)<extra></extra>"
                ),
            ),
            row=1,
            col=i + 1,
        )
        fig.update_yaxes(autorange="reversed", showticklabels=i == 0, row=1, col=i + 1)
        fig.update_xaxes(tickangle=-60, row=1, col=i + 1)
    fig.update_yaxes(title_text="true class", row=1, col=1)
    return theme.base_layout(fig, height=360)


def focal_figure(p: np.ndarray, curves: Mapping[str, np.ndarray], marked_p: float) -> go.Figure:
    """The focal term −(1 − p)^γ log p against p for each γ given, the cross-entropy among them,
    with the loss at `marked_p` marked on every curve."""
    fig = go.Figure()
    for i, (name, values) in enumerate(curves.items()):
        color = theme.INK if name.endswith("cross-entropy") else _color(i)
        fig.add_trace(
            go.Scatter(
                x=p,
                y=values,
                name=name,
                mode="lines",
                line={"color": color, "width": 3 if i == 0 else 2},
                hovertemplate=f"{name}<br>p = %{{x:.2f}}: loss %{{y:.3f}}<extra></extra>",
            )
        )
        at = float(np.interp(marked_p, p, values))
        fig.add_trace(
            go.Scatter(
                x=[marked_p],
                y=[at],
                mode="markers",
                marker={"color": color, "size": 9},
                showlegend=False,
                hovertemplate=f"{name}<br>p = {marked_p:.2f}: loss {at:.3f}<extra></extra>",
            )
        )
    fig.update_layout(
        xaxis_title="p, the probability given to the true class",
        yaxis_title="loss of one image",
        legend={"orientation": "h", "y": -0.25},
    )
    fig.update_yaxes(range=[0, 3], gridcolor=theme.MUTED)
    fig.update_xaxes(range=[0, 1], gridcolor=theme.MUTED)
    return theme.base_layout(fig, height=340)
