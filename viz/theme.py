"""One look for every figure: colours, fonts, colour scales and the base layout."""

from __future__ import annotations

import plotly.graph_objects as go

from viz import narrow

FONT = "Inter, Segoe UI, Helvetica, Arial, sans-serif"
# Colours are chosen for every reader: text colours reach WCAG AA contrast (4.5:1) on white,
# and no two colours that carry meaning differ only by red against green. The palettes stay
# apart under simulated protanopia, deuteranopia and tritanopia (tests/test_accessibility.py).
INK = "#1f2937"  # text and outlines (14.7:1 on white)
MUTED = "#8a919c"  # grid lines, padding cells, secondary marks (3.2:1: enough for a line)
MUTED_TEXT = "#6b7280"  # secondary text: labels and notes in figures (4.8:1 on white)
ACCENT = "#2563eb"  # the thing to look at (5.2:1 on white)
ACCENT_2 = "#c2410c"  # its counterpart (validation against training): a dark orange, 5.2:1
GOOD, BAD = "#2563eb", "#dc2626"  # blue against red (4.8:1), never green against red

TRAIN_COLOR, VAL_COLOR = ACCENT, ACCENT_2
# After Okabe & Ito's palette, darkened to at least 3:1 on white. The order keeps the roles
# other modules index: 0 blue, 1 orange, 2 bluish green, 3 reddish purple, 4 amber,
# 5 sky blue, 6 near-black, 7 wine.
SERIES = ["#2563eb", "#c2410c", "#009e73", "#cc79a7", "#c48700", "#499bc9", "#1f2937", "#882255"]

SEQUENTIAL = "Viridis"  # activations, magnitudes (perceptually uniform, colour-blind safe)
DIVERGING = "RdBu_r"  # signed values centred on zero (kernels, attributions): red against blue
HEAT = "Inferno"  # heatmaps over images (perceptually uniform, colour-blind safe)

# One colour per layer kind, for network diagrams and tables (always drawn with its name).
LAYER_COLORS = {
    "conv": "#2563eb",
    "pool": "#009e73",
    "activation": "#e69f00",
    "norm": "#882255",
    "dropout": "#9ca3af",
    "flatten": "#6b7280",
    "linear": "#c2410c",
    "block": "#56b4e9",
    "input": "#111827",
}


def base_layout(fig: go.Figure, title: str | None = None, height: int | None = None) -> go.Figure:
    """Apply the shared fonts, margins and background; returns the same figure.

    On a phone or a tablet (`narrow.screen_width()`), side-by-side panels are restacked into
    fewer columns and long titles wrapped (viz/narrow.py).
    """
    fig.update_layout(
        title=title,
        font={"family": FONT, "color": INK, "size": 13},
        margin={"l": 40, "r": 20, "t": 50 if title else 20, "b": 40},
        plot_bgcolor="white",
        paper_bgcolor="white",
        hoverlabel={"font": {"family": FONT}},
        **({"height": height} if height else {}),
    )
    return narrow.fit(fig)
