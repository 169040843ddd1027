"""Figures for receptive fields: a unit's box on the image, growth with depth, effective fields."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from viz import theme

Box = tuple[int, int, int, int]  # inclusive (top, bottom, left, right) in input pixels


def _box_shape(box: Box, color: str, dash: str = "solid") -> dict:
    top, bottom, left, right = box
    return {
        "type": "rect",
        "x0": left - 0.5,
        "x1": right + 0.5,
        "y0": top - 0.5,
        "y1": bottom + 0.5,
        "line": {"color": color, "width": 3, "dash": dash},
    }


def _image_axes(fig: go.Figure, height: int, width: int, box: Box | None) -> None:
    """Pixel axes, rows downwards, wide enough to show a box that hangs over the image."""
    top, bottom, left, right = box if box else (0, height - 1, 0, width - 1)
    x_range = [min(left, 0) - 0.5, max(right, width - 1) + 0.5]
    y_range = [max(bottom, height - 1) + 0.5, min(top, 0) - 0.5]
    fig.update_xaxes(range=x_range, showgrid=False, zeroline=False, title="column (pixels)")
    fig.update_yaxes(
        range=y_range, showgrid=False, zeroline=False, title="row (pixels)", scaleanchor="x"
    )


def field_box_figure(image: np.ndarray, box: Box, centre: tuple[float, float]) -> go.Figure:
    """The input image (H, W, 3 uint8) with one unit's field drawn as a box, centre marked.

    Where the box leaves the image, the grey band is padding: the unit sees it too.
    """
    h, w = image.shape[:2]
    fig = go.Figure(go.Image(z=image, hoverinfo="x+y"))
    fig.add_shape(
        type="rect",
        x0=-0.5,
        x1=w - 0.5,
        y0=-0.5,
        y1=h - 0.5,
        line={"color": theme.MUTED, "width": 1},
    )
    fig.add_shape(**_box_shape(box, theme.ACCENT_2))
    fig.add_trace(
        go.Scatter(
            x=[centre[1]],
            y=[centre[0]],
            mode="markers",
            name="centre",
            marker={"symbol": "x", "size": 12, "color": theme.ACCENT_2},
        )
    )
    _image_axes(fig, h, w, box)
    fig.update_layout(showlegend=False, plot_bgcolor=theme.MUTED)
    return theme.base_layout(fig, height=420)


def unit_picker_figure(feature_map: np.ndarray, selected: tuple[int, int]) -> go.Figure:
    """A feature map (h, w) with one clickable marker per unit and the chosen unit ringed."""
    h, w = feature_map.shape
    rows, cols = np.mgrid[0:h, 0:w]
    fig = go.Figure(
        go.Heatmap(z=feature_map, colorscale=theme.SEQUENTIAL, showscale=False, hoverinfo="skip")
    )
    fig.add_trace(
        go.Scatter(
            x=cols.ravel(),
            y=rows.ravel(),
            mode="markers",
            name="units",
            marker={"size": max(4, 240 // max(h, w)), "color": "rgba(255,255,255,0.01)"},
            hovertemplate="unit (%{y}, %{x})<extra></extra>",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=[selected[1]],
            y=[selected[0]],
            mode="markers",
            name="chosen",
            hoverinfo="skip",
            marker={
                "size": 14,
                "color": "rgba(0,0,0,0)",
                "line": {"color": theme.ACCENT_2, "width": 3},
            },
        )
    )
    fig.update_xaxes(range=[-0.5, w - 0.5], title="unit column", showgrid=False)
    fig.update_yaxes(range=[h - 0.5, -0.5], title="unit row", showgrid=False, scaleanchor="x")
    fig.update_layout(showlegend=False, clickmode="event+select", dragmode=False)
    return theme.base_layout(fig, height=420)


def growth_figure(curves: Mapping[str, Sequence[tuple[int, int]]], input_side: int) -> go.Figure:
    """Field size and jump against depth, one line per network; (size, jump) per layer."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=("field size (pixels)", "jump (pixels)"))
    for i, (name, points) in enumerate(curves.items()):
        depth = list(range(1, len(points) + 1))
        color = theme.SERIES[i % len(theme.SERIES)]
        for col, values in ((1, [p[0] for p in points]), (2, [p[1] for p in points])):
            fig.add_trace(
                go.Scatter(
                    x=depth,
                    y=values,
                    mode="lines+markers",
                    name=name,
                    legendgroup=name,
                    showlegend=col == 1,
                    line={"color": color},
                ),
                row=1,
                col=col,
            )
    fig.add_hline(
        y=input_side,
        line={"dash": "dot", "color": theme.MUTED},
        row=1,
        col=1,
        annotation_text="input side",
        annotation_position="top left",
    )
    fig.update_xaxes(title="layers that grow the field", dtick=1)
    return theme.base_layout(fig, height=380)


def effective_field_figure(grad: np.ndarray, box: Box, title: str) -> go.Figure:
    """The averaged |gradient| (H, W) as a heatmap, with the theoretical field's box."""
    h, w = grad.shape
    fig = go.Figure(
        go.Heatmap(
            z=grad,
            colorscale=theme.HEAT,
            colorbar={"title": "|∂unit/∂x|"},
            hovertemplate="row %{y}, col %{x}: %{z:.3g}<extra></extra>",
        )
    )
    fig.add_shape(**_box_shape(box, theme.ACCENT, dash="dash"))
    _image_axes(fig, h, w, box)
    return theme.base_layout(fig, title=title, height=380)


def mass_share_figure(
    curves: Mapping[str, tuple[Sequence[int], Sequence[float]]], field_size: int
) -> go.Figure:
    """Share of the gradient's mass inside centred squares of growing side, per weight set."""
    fig = go.Figure()
    for i, (name, (sides, shares)) in enumerate(curves.items()):
        fig.add_trace(
            go.Scatter(
                x=list(sides),
                y=[100 * s for s in shares],
                name=name,
                mode="lines",
                line={"color": theme.SERIES[i]},
            )
        )
    fig.add_vline(
        x=field_size,
        line={"dash": "dot", "color": theme.MUTED},
        annotation_text="theoretical field",
    )
    fig.update_xaxes(title="side of the centred square (pixels)")
    fig.update_yaxes(title="share of gradient mass (%)", range=[0, 101])
    return theme.base_layout(fig, height=340)
