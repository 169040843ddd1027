"""Figures for adversarial examples: the three images, the class probabilities before and after,
and accuracy against ε."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from viz import theme
from viz.saliency import _rgb


def attack_figure(
    original: np.ndarray, adversarial: np.ndarray, amplify: float, titles: tuple[str, str, str]
) -> go.Figure:
    """Original, perturbation (×amplify around mid-gray) and adversarial image, side by side."""
    perturbation = np.clip(0.5 + amplify * (adversarial - original), 0, 1)
    fig = make_subplots(1, 3, subplot_titles=titles, horizontal_spacing=0.03)
    for col, img in enumerate((original, perturbation, adversarial), start=1):
        fig.add_trace(go.Image(z=_rgb(img)), 1, col)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return theme.base_layout(fig, height=330)


def before_after_figure(
    class_names: list[str], before: np.ndarray, after: np.ndarray, top: int = 5
) -> go.Figure:
    """The classes most likely before or after the attack, with both probabilities."""
    keep = list(dict.fromkeys([*np.argsort(-before)[:top], *np.argsort(-after)[:top]]))[: top + 2]
    labels = [class_names[i] for i in keep]
    fig = go.Figure(
        [
            go.Bar(x=labels, y=before[keep], name="original", marker_color=theme.ACCENT),
            go.Bar(x=labels, y=after[keep], name="adversarial", marker_color=theme.BAD),
        ]
    )
    fig.update_yaxes(range=[0, 1], tickformat=".0%", title="probability")
    fig.update_layout(barmode="group")
    return theme.base_layout(fig, height=320)


def robustness_figure(
    epsilons: list[float], values: list[float], label: str, chance: float | None = None
) -> go.Figure:
    """Accuracy (or agreement) on the validation set as ε grows."""
    fig = go.Figure(
        go.Scatter(
            x=epsilons, y=values, mode="lines+markers", name=label, line={"color": theme.ACCENT}
        )
    )
    if chance is not None:
        fig.add_hline(y=chance, line_dash="dot", line_color=theme.MUTED, annotation_text="chance")
    fig.update_xaxes(title="ε (pixel values, /255)")
    fig.update_yaxes(range=[0, 1.02], tickformat=".0%", title=label)
    return theme.base_layout(fig, height=340)
