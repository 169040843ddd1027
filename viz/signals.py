"""Figures for the Signals page: example waveforms, a spectrogram, the receptive field on a
signal, a 1-D network's kernels and its feature maps as curves."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from viz import theme

ARM_COLOURS = (theme.ACCENT, theme.ACCENT_2, theme.SERIES[3])  # blue, orange, purple
MAX_CHANNELS = 8  # curves per feature-map panel: more would be a tangle


def examples_figure(examples: Mapping[str, np.ndarray]) -> go.Figure:
    """One example signal per class, stacked, on a shared time axis (samples)."""
    names = list(examples)
    fig = make_subplots(rows=len(names), cols=1, shared_xaxes=True, vertical_spacing=0.03)
    for row, name in enumerate(names, start=1):
        y = np.asarray(examples[name], dtype=float)
        fig.add_trace(
            go.Scatter(
                y=y,
                mode="lines",
                name=name,
                line={"color": theme.ACCENT, "width": 1.5},
                hovertemplate=f"{name}<br>sample %{{x}}<br>%{{y:.2f}}<extra></extra>",
            ),
            row=row,
            col=1,
        )
        fig.update_yaxes(title_text=name, row=row, col=1, showticklabels=False)
    fig.update_xaxes(title_text="sample", row=len(names), col=1)
    fig.update_layout(showlegend=False)
    return theme.base_layout(fig, height=90 * len(names) + 60)


def field_figure(signal: np.ndarray, first: int, last: int, label: str) -> go.Figure:
    """The signal with the stretch [first, last] one unit of the last layer sees, shaded."""
    y = np.asarray(signal, dtype=float)
    fig = go.Figure(
        go.Scatter(
            y=y,
            mode="lines",
            line={"color": theme.INK, "width": 1.5},
            name="signal",
            hovertemplate="sample %{x}<br>%{y:.2f}<extra></extra>",
        )
    )
    fig.add_vrect(
        x0=first - 0.5,
        x1=last + 0.5,
        fillcolor=theme.ACCENT_2,
        opacity=0.25,
        line_width=0,
        annotation_text=label,
        annotation_position="top left",
    )
    fig.update_layout(xaxis_title="sample", yaxis_title="value", showlegend=False)
    return theme.base_layout(fig, height=260)


def spectrogram_figure(image: np.ndarray, hop: int, n_fft: int) -> go.Figure:
    """A spectrogram (F, T) as a heatmap: time in samples across, frequency bins up."""
    z = np.asarray(image, dtype=float)
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=np.arange(z.shape[1]) * hop,
            y=np.arange(z.shape[0]),
            colorscale=theme.SEQUENTIAL,
            colorbar={"title": "log level"},
            hovertemplate="sample %{x}<br>frequency bin %{y}<br>%{z:.0f}<extra></extra>",
        )
    )
    fig.update_layout(
        xaxis_title=f"time (sample at each window's centre, hop {hop})",
        yaxis_title=f"frequency bin (of {n_fft // 2 + 1})",
    )
    return theme.base_layout(fig, height=260)


def kernels_figure(weights: np.ndarray, name: str) -> go.Figure:
    """Each kernel of one Conv1d (out, in, k) as a curve over its taps (first input channel)."""
    w = np.asarray(weights, dtype=float)
    n = w.shape[0]
    cols = min(n, 4)
    rows = -(-n // cols)
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=[f"kernel {i}" for i in range(n)])
    taps = np.arange(w.shape[2]) - w.shape[2] // 2
    for i in range(n):
        fig.add_trace(
            go.Scatter(
                x=taps,
                y=w[i, 0],
                mode="lines+markers",
                line={"color": theme.ACCENT},
                hovertemplate=f"{name} kernel {i}<br>tap %{{x}}<br>%{{y:.3f}}<extra></extra>",
            ),
            row=i // cols + 1,
            col=i % cols + 1,
        )
    fig.add_hline(y=0, line={"color": theme.MUTED, "width": 1})
    fig.update_layout(showlegend=False)
    return theme.base_layout(fig, height=150 * rows + 60)


def feature_maps_figure(
    maps: Sequence[tuple[str, np.ndarray, float, int]], signal: np.ndarray
) -> go.Figure:
    """The signal, then each block's feature maps as curves placed on the signal's time axis.

    `maps` holds (name, values (C, L'), start, jump): output sample i sits at input sample
    start + i·jump, so every row lines up with the signal above it.
    """
    fig = make_subplots(
        rows=len(maps) + 1,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.04,
        subplot_titles=["input signal"]
        + [f"{n} after ReLU ({v.shape[0]} maps)" for n, v, *_ in maps],
    )
    fig.add_trace(
        go.Scatter(y=np.asarray(signal, float), mode="lines", line={"color": theme.INK}), 1, 1
    )
    for row, (name, values, start, jump) in enumerate(maps, start=2):
        x = start + np.arange(values.shape[1]) * jump
        for c in range(min(values.shape[0], MAX_CHANNELS)):
            fig.add_trace(
                go.Scatter(
                    x=x,
                    y=values[c],
                    mode="lines",
                    line={"color": theme.SERIES[c % len(theme.SERIES)], "width": 1},
                    hovertemplate=f"{name} map {c}<br>sample %{{x:.0f}}<br>%{{y:.2f}}"
                    "<extra></extra>",
                ),
                row,
                1,
            )
    fig.update_xaxes(title_text="sample of the input", row=len(maps) + 1, col=1)
    fig.update_layout(showlegend=False)
    return theme.base_layout(fig, height=170 * (len(maps) + 1))


def accuracy_figure(accuracies: Mapping[str, float]) -> go.Figure:
    """Each arm's validation accuracy as a bar, labelled with its value."""
    names = list(accuracies)
    values = [accuracies[n] for n in names]
    fig = go.Figure(
        go.Bar(
            x=values,
            y=names,
            orientation="h",
            marker_color=[ARM_COLOURS[i % len(ARM_COLOURS)] for i in range(len(names))],
            text=[f"{v:.1%}" for v in values],
            textposition="auto",
            hovertemplate="%{y}: %{x:.1%}<extra></extra>",
        )
    )
    fig.update_xaxes(range=[0, 1], tickformat=".0%", title_text="validation accuracy")
    return theme.base_layout(fig, height=80 * len(names) + 80)
