"""Figures for attribution maps: overlays on the image, methods side by side, the sanity check.

Maps arrive as (H, W) arrays in [0, 1] (or [-1, 1] when signed) and images as (H, W, C) floats
in [0, 1]. `overlay_rgb` makes the same picture as a plain array, for a PNG download.
"""

from __future__ import annotations

import io

import numpy as np
import plotly.graph_objects as go
from PIL import Image
from plotly.colors import sample_colorscale
from plotly.subplots import make_subplots

from viz import theme

OVERLAYS = ("blended", "heatmap", "masked")


def _rgb(image: np.ndarray) -> np.ndarray:
    """(H, W, C) in [0, 1] -> (H, W, 3) uint8 (gray becomes three equal channels)."""
    img = np.asarray(image, dtype=np.float32)
    img = np.repeat(img, 3, axis=2) if img.shape[2] == 1 else img[..., :3]
    return np.clip(np.rint(img * 255), 0, 255).astype(np.uint8)


def _scale(signed: bool) -> str:
    return theme.DIVERGING if signed else theme.HEAT


def _lut(signed: bool) -> np.ndarray:
    colours = sample_colorscale(_scale(signed), list(np.linspace(0, 1, 256)))
    return np.array([[float(v) for v in c[4:-1].split(",")] for c in colours], dtype=np.float32)


def overlay_rgb(
    image: np.ndarray,
    heat: np.ndarray,
    mode: str = "blended",
    signed: bool = False,
    opacity: float = 0.55,
) -> np.ndarray:
    """The map drawn over the image as (H, W, 3) uint8: heatmap only, blended, or masked."""
    base = _rgb(image).astype(np.float32)
    if mode == "masked":
        weight = np.abs(heat)[..., None]
        return np.clip(np.rint(base * weight), 0, 255).astype(np.uint8)
    index = np.rint(((heat + 1) / 2 if signed else heat) * 255).clip(0, 255).astype(int)
    colour = _lut(signed)[index]  # (H, W, 3)
    mixed = colour if mode == "heatmap" else (1 - opacity) * base + opacity * colour
    return np.clip(np.rint(mixed), 0, 255).astype(np.uint8)


def png_bytes(rgb: np.ndarray, upscale: int = 1) -> bytes:
    """An (H, W, 3) uint8 array as PNG bytes, enlarged by an integer factor (nearest)."""
    picture = Image.fromarray(rgb)
    if upscale > 1:
        size = (picture.width * upscale, picture.height * upscale)
        picture = picture.resize(size, Image.Resampling.NEAREST)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue()


def _axes_off(fig: go.Figure) -> None:
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False, autorange="reversed", scaleanchor="x")


def saliency_figure(
    image: np.ndarray,
    maps: dict[str, np.ndarray],
    mode: str = "blended",
    signed: bool = False,
    opacity: float = 0.55,
) -> go.Figure:
    """The image, then one panel per method with its map, and one colour bar for all."""
    titles = ["Image", *maps]
    fig = make_subplots(1, len(titles), subplot_titles=titles, horizontal_spacing=0.02)
    fig.add_trace(go.Image(z=_rgb(image), hoverinfo="skip"), 1, 1)
    lo = -1.0 if signed else 0.0
    for col, heat in enumerate(maps.values(), start=2):
        if mode == "masked":
            fig.add_trace(go.Image(z=overlay_rgb(image, heat, "masked")), 1, col)
            continue
        if mode == "blended":
            fig.add_trace(go.Image(z=_rgb(image), hoverinfo="skip"), 1, col)
        fig.add_trace(
            go.Heatmap(
                z=heat,
                coloraxis="coloraxis",
                opacity=opacity if mode == "blended" else 1.0,
                hovertemplate="x %{x}, y %{y}: %{z:.2f}<extra></extra>",
            ),
            1,
            col,
        )
    fig.update_layout(
        coloraxis={
            "colorscale": _scale(signed),
            "cmin": lo,
            "cmax": 1.0,
            "colorbar": {"title": "importance", "thickness": 12},
        },
        coloraxis_showscale=mode != "masked",
    )
    _axes_off(fig)
    return theme.base_layout(fig, height=320)


def probabilities_figure(
    class_names: list[str], probs: np.ndarray, top: int = 5, highlight: int | None = None
) -> go.Figure:
    """The top classes' probabilities as horizontal bars; `highlight` is drawn in the accent."""
    order = np.argsort(-probs)[:top][::-1]
    colours = [theme.ACCENT_2 if i == highlight else theme.ACCENT for i in order]
    fig = go.Figure(
        go.Bar(
            x=probs[order],
            y=[class_names[i] for i in order],
            orientation="h",
            marker_color=colours,
            text=[f"{probs[i]:.1%}" for i in order],
            textposition="auto",
        )
    )
    fig.update_xaxes(range=[0, 1], tickformat=".0%", title="probability")
    return theme.base_layout(fig, height=60 + 36 * len(order))


def sanity_figure(steps: list[str], maps: dict[str, list[np.ndarray]]) -> go.Figure:
    """A row per method: its map on the trained model, then after each randomized layer."""
    methods = list(maps)
    fig = make_subplots(
        len(methods),
        len(steps),
        column_titles=steps,
        row_titles=methods,
        horizontal_spacing=0.01,
        vertical_spacing=0.03,
    )
    for row, name in enumerate(methods, start=1):
        for col, heat in enumerate(maps[name], start=1):
            fig.add_trace(go.Heatmap(z=heat, coloraxis="coloraxis", hoverinfo="skip"), row, col)
    fig.update_layout(coloraxis={"colorscale": theme.HEAT, "cmin": 0, "cmax": 1})
    _axes_off(fig)
    return theme.base_layout(fig, height=80 + 130 * len(methods))


def correlation_figure(
    steps: list[str],
    rank_abs: dict[str, list[float]],
    rank_signed: dict[str, list[float]],
    line: float | None = None,
) -> go.Figure:
    """Rank correlation with the trained model's map as more layers are randomized, per method:
    of |map| (solid) and of the signed map (dotted), as Adebayo et al. (2018) report it.

    `line`, if given, is drawn and labelled as this app's own cut-off, not the paper's.
    """
    fig = go.Figure()
    for i, name in enumerate(rank_abs):
        colour = theme.SERIES[i % len(theme.SERIES)]
        for values, dash, kind in (
            (rank_abs[name], "solid", "|map|"),
            (rank_signed.get(name), "dot", "signed"),
        ):
            if values is None:
                continue
            fig.add_trace(
                go.Scatter(
                    x=steps,
                    y=values,
                    name=f"{name}, {kind}",
                    mode="lines+markers",
                    line={"color": colour, "dash": dash},
                    hovertemplate="%{x}: ρ = %{y:.2f}<extra></extra>",
                )
            )
    if line is not None:
        fig.add_hline(
            y=line,
            line_dash="dash",
            line_color=theme.MUTED,
            annotation_text=f"our line, ρ = {line:g} (not in the paper)",
        )
    fig.update_yaxes(range=[-1.05, 1.05], title="Spearman ρ with the trained map")
    fig.update_xaxes(title="layers randomized so far (from the output down)")
    return theme.base_layout(fig, height=380)
