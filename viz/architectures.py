"""Figures of the Architectures page: costs side by side, an Inception block, a residual block,
and a grouped convolution's wiring (which input channels each filter reads)."""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from models.network.architectures import Branch, GroupConv, ResidualCheck
from viz.theme import ACCENT, ACCENT_2, INK, LAYER_COLORS, MUTED, SERIES, base_layout

# Colour-blind-safe order from the theme: blue, orange, pink, sky blue, near-black.
PALETTE = [SERIES[0], SERIES[1], SERIES[3], SERIES[5], SERIES[6]]


def cost_bars_figure(names: Sequence[str], params: Sequence[int], macs: Sequence[int]) -> go.Figure:
    """Parameters and MACs of each design, two panels of bars with the numbers on them."""
    fig = make_subplots(1, 2, subplot_titles=("Parameters", "MACs per image"))
    for col, values in ((1, params), (2, macs)):
        fig.add_trace(
            go.Bar(
                x=list(names),
                y=list(values),
                marker_color=PALETTE[: len(names)],
                text=[f"{v:,}" for v in values],
                textposition="auto",
                showlegend=False,
            ),
            1,
            col,
        )
    return base_layout(fig, height=320)


def _box(fig: go.Figure, x: float, y: float, text: str, color: str, w: float = 0.2) -> None:
    fig.add_shape(
        type="rect",
        x0=x - w / 2,
        x1=x + w / 2,
        y0=y - 0.3,
        y1=y + 0.3,
        line={"color": color, "width": 2},
        fillcolor="white",
    )
    fig.add_annotation(x=x, y=y, text=text, showarrow=False, font={"size": 11, "color": INK})


def _arrow(fig: go.Figure, x0: float, y0: float, x1: float, y1: float, dash: str = "solid") -> None:
    fig.add_shape(
        type="line", x0=x0, y0=y0, x1=x1, y1=y1, line={"color": MUTED, "width": 1.5, "dash": dash}
    )


def _shape(shape: tuple[int, ...]) -> str:
    return "×".join(str(s) for s in shape)


def _frame(fig: go.Figure, height: int) -> go.Figure:
    fig.update_xaxes(visible=False, range=[-0.05, 1.05])
    fig.update_yaxes(visible=False)
    return base_layout(fig, height=height)


def inception_figure(branches: Sequence[Branch], input_shape: tuple[int, int, int]) -> go.Figure:
    """The block drawn top to bottom: input, four branches with each layer's output shape,
    each branch's parameters and MACs, and the concatenation."""
    fig = go.Figure()
    depth = max(len(b.layers) for b in branches)
    top, bottom = depth + 1.5, -1.0
    _box(fig, 0.5, top, f"input<br>{_shape(input_shape)}", LAYER_COLORS["input"], 0.3)
    out_channels = 0
    for i, branch in enumerate(branches):
        x = (i + 0.5) / len(branches)
        y_prev = top
        for j, layer in enumerate(branch.layers):
            y = depth - j + 0.5
            _arrow(fig, 0.5 if j == 0 else x, y_prev - 0.3, x, y + 0.3)
            kind = "pool" if layer.kind == "MaxPool2d" else "conv"
            _box(fig, x, y, f"{layer.name}<br>{_shape(layer.shape)}", LAYER_COLORS[kind])
            y_prev = y
        _arrow(fig, x, y_prev - 0.3, 0.5, bottom + 0.3)
        fig.add_annotation(
            x=x,
            y=bottom + 0.9,
            text=f"{branch.params:,} params<br>{branch.macs / 1e6:,.1f} M MACs",
            showarrow=False,
            font={"size": 10, "color": ACCENT},
        )
        out_channels += branch.layers[-1].shape[0]
    side = input_shape[1:]
    text = f"concatenate<br>{_shape((out_channels, *side))}"
    _box(fig, 0.5, bottom, text, LAYER_COLORS["block"], 0.3)
    return _frame(fig, 140 + 90 * (depth + 2))


def residual_figure(check: ResidualCheck) -> go.Figure:
    """x → conv-bn-relu-conv-bn → + → relu, with the shortcut beside it (identity or 1×1)."""
    fig = go.Figure()
    main = ["3×3 conv", "batchnorm, ReLU", "3×3 conv", "batchnorm"]
    _box(fig, 0.35, 5.5, f"x<br>{_shape(check.input_shape)}", LAYER_COLORS["input"], 0.3)
    for i, name in enumerate(main):
        _arrow(fig, 0.35, 5.2 - i, 0.35, 4.8 - i)
        _box(fig, 0.35, 4.5 - i, name, LAYER_COLORS["conv" if "conv" in name else "norm"], 0.3)
    _arrow(fig, 0.35, 1.2, 0.35, 0.8)
    _box(fig, 0.35, 0.5, f"+ then ReLU<br>{_shape(check.output_shape)}", LAYER_COLORS["block"], 0.3)
    projection = check.shortcut != "identity"
    _arrow(fig, 0.5, 5.5, 0.8, 5.5, "dot")
    _arrow(fig, 0.8, 5.5, 0.8, 0.5, "dot" if not projection else "solid")
    _arrow(fig, 0.8, 0.5, 0.5, 0.5, "dot")
    label = "1×1 conv + batchnorm<br>(projection)" if projection else "identity<br>(no weights)"
    _box(fig, 0.8, 3.0, label, ACCENT_2 if projection else MUTED, 0.3)
    return _frame(fig, 420)


def wiring_figure(conv: GroupConv) -> go.Figure:
    """Input channels on the left, filters on the right, a line for every channel a filter reads;
    one colour per group."""
    fig = go.Figure()
    c_in, f = conv.in_channels, conv.filters
    y_in = [1 - (i + 0.5) / c_in for i in range(c_in)]
    y_out = [1 - (j + 0.5) / f for j in range(f)]
    per_group = f // conv.groups
    for g in range(conv.groups):
        xs: list[float | None] = []
        ys: list[float | None] = []
        for j in range(g * per_group, (g + 1) * per_group):
            for i in conv.wiring[j]:
                xs += [0.0, 1.0, None]
                ys += [y_in[i], y_out[j], None]
        color = PALETTE[g % len(PALETTE)]
        fig.add_trace(
            go.Scatter(
                x=xs, y=ys, mode="lines", line={"color": color, "width": 1}, name=f"group {g + 1}"
            )
        )
    fig.add_trace(_dots(0.0, y_in, [f"input channel {i}" for i in range(c_in)], INK))
    fig.add_trace(_dots(1.0, y_out, [f"filter {j} → output channel {j}" for j in range(f)], ACCENT))
    fig.update_layout(showlegend=conv.groups <= 8)
    fig.update_xaxes(
        tickvals=[0, 1], ticktext=["input channels", "filters = output channels"], range=[-0.2, 1.2]
    )
    fig.update_yaxes(visible=False)
    return base_layout(fig, height=min(640, 200 + 12 * max(c_in, f)))


def _dots(x: float, ys: list[float], names: list[str], color: str) -> go.Scatter:
    return go.Scatter(
        x=[x] * len(ys),
        y=ys,
        mode="markers",
        marker={"size": 8, "color": color},
        hovertext=names,
        hoverinfo="text",
        showlegend=False,
    )
