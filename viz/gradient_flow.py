"""Figures of the Gradient flow page: gradient norm per layer, and the depth × width sweep."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import plotly.graph_objects as go

from models.inspect.gradient_flow import FlowResult
from viz.theme import MUTED, SERIES, base_layout

# The theme's colour-blind-safe series (blue, orange, pink, sky blue, near-black); dashes and
# markers differ too, so no line is told apart by its colour alone.
PALETTE = [SERIES[i] for i in (0, 1, 3, 5, 6)]
MARKERS = ["circle", "square", "diamond", "triangle-up", "x"]


def flow_figure(results: Sequence[FlowResult], log: bool = True) -> go.Figure:
    """‖∂L/∂W‖ per weighted layer, input side on the left: at initialisation (dotted) and after
    the steps (solid), one colour and marker per network."""
    fig = go.Figure()
    for i, r in enumerate(results):
        color, marker = PALETTE[i % len(PALETTE)], MARKERS[i % len(MARKERS)]
        x = list(range(1, len(r.layers) + 1))
        for norms, when, dash in ((r.at_init, "at init", "dot"), (r.after, "after steps", None)):
            fig.add_trace(
                go.Scatter(
                    x=x,
                    y=[max(v, 1e-30) for v in norms],  # a log axis cannot show 0
                    mode="lines+markers",
                    name=f"{r.variant} ({when})",
                    line={"color": color, "dash": dash},
                    marker={"symbol": marker, "size": 6},
                    hovertext=list(r.layers),
                )
            )
    fig.update_xaxes(title="layer (1 = next to the image, last = the linear layer)")
    fig.update_yaxes(
        title="gradient norm ‖∂L/∂W‖", type="log" if log else "linear", gridcolor=MUTED
    )
    return base_layout(fig, height=440)


@dataclass(frozen=True)
class SweepPoint:
    """One run of the depth × width sweep: its settings and what it measured."""

    depth: int
    width: int
    params: int
    accuracy: float  # final validation accuracy, 0..1
    seconds: float  # training time


def sweep_figure(points: Sequence[SweepPoint]) -> go.Figure:
    """Validation accuracy against parameters, one marker per run, labelled and sized by time."""
    longest = max((p.seconds for p in points), default=1.0) or 1.0
    fig = go.Figure(
        go.Scatter(
            x=[p.params for p in points],
            y=[100 * p.accuracy for p in points],
            mode="markers+text",
            text=[f"{p.depth}×{p.width}<br>{p.seconds:.0f} s" for p in points],
            textposition="top center",
            marker={
                "size": [14 + 26 * p.seconds / longest for p in points],
                "color": [PALETTE[i % len(PALETTE)] for i in range(len(points))],
                "symbol": [MARKERS[i % len(MARKERS)] for i in range(len(points))],
            },
            showlegend=False,
        )
    )
    fig.update_xaxes(title="parameters", type="log")
    fig.update_yaxes(title="validation accuracy (%)")
    return base_layout(fig, height=380)
