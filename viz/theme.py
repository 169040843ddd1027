"""One look for every figure: colours, fonts, colour scales and the base layout."""

from __future__ import annotations

import plotly.graph_objects as go

FONT = "Inter, Segoe UI, Helvetica, Arial, sans-serif"
INK = "#1f2937"  # text and outlines
MUTED = "#9ca3af"  # grid lines, padding cells, secondary marks
ACCENT = "#2563eb"  # the thing to look at
ACCENT_2 = "#f97316"  # its counterpart (validation against training, negative against positive)
GOOD, BAD = "#16a34a", "#dc2626"

TRAIN_COLOR, VAL_COLOR = ACCENT, ACCENT_2
SERIES = ["#2563eb", "#f97316", "#16a34a", "#9333ea", "#dc2626", "#0891b2", "#ca8a04", "#db2777"]

SEQUENTIAL = "Viridis"  # activations, magnitudes
DIVERGING = "RdBu_r"  # signed values centred on zero (kernels, attributions with sign)
HEAT = "Inferno"  # heatmaps over images

# One colour per layer kind, for network diagrams and tables.
LAYER_COLORS = {
    "conv": "#2563eb",
    "pool": "#16a34a",
    "activation": "#f59e0b",
    "norm": "#a855f7",
    "dropout": "#9ca3af",
    "flatten": "#6b7280",
    "linear": "#dc2626",
    "block": "#0891b2",
    "input": "#111827",
}


def base_layout(fig: go.Figure, title: str | None = None, height: int | None = None) -> go.Figure:
    """Apply the shared fonts, margins and background; returns the same figure."""
    fig.update_layout(
        title=title,
        font={"family": FONT, "color": INK, "size": 13},
        margin={"l": 40, "r": 20, "t": 50 if title else 20, "b": 40},
        plot_bgcolor="white",
        paper_bgcolor="white",
        hoverlabel={"font": {"family": FONT}},
        **({"height": height} if height else {}),
    )
    return fig
