"""Figures for the Regularization page: training and validation curves with each run's best
epoch marked, and activation statistics per layer with and without batchnorm."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from models.training.engine import TrainMetrics
from models.training.regularization import LayerStats, best_epoch
from viz import theme
from viz.experiments import overlay_figure

# Two networks side by side: blue against orange (safe for red–green colour blindness).
PAIR = (theme.ACCENT, theme.ACCENT_2)


def curves_figure(groups: Mapping[str, list[Sequence[TrainMetrics]]]) -> go.Figure:
    """Training (dashed) and validation (solid) loss of every arm, each run's lowest validation
    loss marked with a star in its arm's colour."""
    fig = overlay_figure(groups, "loss", "both", "epochs")
    for i, (label, runs) in enumerate(groups.items()):
        colour = theme.SERIES[i % len(theme.SERIES)]
        for history in runs:
            found = best_epoch(history)
            if found is None:
                continue
            epoch, loss = found
            fig.add_trace(
                go.Scatter(
                    x=[epoch],
                    y=[loss],
                    mode="markers",
                    marker={"symbol": "star", "size": 14, "color": colour, "line": {"width": 1}},
                    name=f"{label} · best epoch",
                    legendgroup=f"{label} · validation",
                    showlegend=False,
                    hovertemplate=f"{label}<br>best epoch {epoch}<br>val loss {loss:.3f}"
                    "<extra></extra>",
                )
            )
    return fig


def stats_figure(stats: Mapping[str, Sequence[LayerStats]]) -> go.Figure:
    """Mean (top) and standard deviation (bottom) of each layer's output, one line per network.

    `stats` maps a network's name ("without batchnorm") to its layers in depth order.
    """
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08)
    for i, (network, layers) in enumerate(stats.items()):
        colour = PAIR[i % 2]
        names = [s.name for s in layers]
        for row, field in ((1, "mean"), (2, "std")):
            fig.add_trace(
                go.Scatter(
                    x=names,
                    y=[getattr(s, field) for s in layers],
                    mode="lines+markers",
                    name=network,
                    legendgroup=network,
                    showlegend=row == 1,
                    line={"color": colour, "dash": "solid" if i == 0 else "dash"},
                    marker={"symbol": "circle" if i == 0 else "diamond", "size": 9},
                    hovertemplate=f"{network}<br>%{{x}}: {field} %{{y:.4g}}<extra></extra>",
                ),
                row=row,
                col=1,
            )
    fig.update_yaxes(title_text="mean", row=1, col=1, gridcolor=theme.MUTED)
    fig.update_yaxes(title_text="std", row=2, col=1, gridcolor=theme.MUTED, rangemode="tozero")
    fig.update_xaxes(title_text="layer (in depth order)", row=2, col=1)
    fig.update_layout(legend={"orientation": "h", "y": -0.2})
    return theme.base_layout(fig, height=420)


def histograms_figure(stats: Mapping[str, Sequence[LayerStats]]) -> go.Figure:
    """One small panel per layer: the histogram of its output values for each network."""
    first = next(iter(stats.values()), [])
    names = [s.name for s in first]
    cols = min(len(names), 3) or 1
    rows = max(1, -(-len(names) // cols))
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=names)
    for i, (network, layers) in enumerate(stats.items()):
        for j, layer in enumerate(layers):
            fig.add_trace(
                go.Histogram(
                    x=layer.sample,
                    name=network,
                    legendgroup=network,
                    showlegend=j == 0,
                    marker_color=PAIR[i % 2],
                    opacity=0.6,
                    nbinsx=40,
                ),
                row=j // cols + 1,
                col=j % cols + 1,
            )
    fig.update_layout(barmode="overlay", legend={"orientation": "h", "y": -0.12})
    return theme.base_layout(fig, height=230 * rows)
