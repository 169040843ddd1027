"""Figures for the Train page: live curves, the learning-rate schedule, the confusion matrix and
a prediction's logits beside its softmax probabilities."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from models.training.engine import TrainMetrics
from viz import theme

MAX_POINTS = 2000  # per trace of a finished run's figure
LIVE_POINTS = 500  # per trace and tick of a live figure: keeps each redraw small


def downsample(x: np.ndarray, y: np.ndarray, max_points: int = MAX_POINTS):
    """At most `max_points` evenly spaced points, always keeping the last one."""
    if len(x) <= max_points:
        return x, y
    idx = np.unique(np.linspace(0, len(x) - 1, max_points).round().astype(int))
    return x[idx], y[idx]


def _series(history: Sequence[TrainMetrics], kind: str, attr: str):
    rows = [m for m in history if m.kind == kind and not math.isnan(getattr(m, attr))]
    x = np.array([m.step for m in rows], dtype=float)
    return downsample(x, np.array([getattr(m, attr) for m in rows], dtype=float))


# The curves' traces: (report kind, loss field, accuracy field, name, colour, mode, width).
CURVE_LINES = (
    ("step", "train_loss", "train_acc", "training (running)", theme.TRAIN_COLOR, "lines", 1),
    ("epoch", "train_loss", "train_acc", "training (epoch)", theme.TRAIN_COLOR, "markers", 1),
    ("epoch", "val_loss", "val_acc", "validation", theme.VAL_COLOR, "lines+markers", 2),
)


def _curve_series(history: Sequence[TrainMetrics], max_points: int):
    """The x and y of each trace of `curves_figure`, in its order, downsampled."""
    for kind, loss_attr, acc_attr, *_ in CURVE_LINES:
        for attr in (loss_attr, acc_attr):
            x, y = _series(history, kind, attr)
            yield downsample(x, y, max_points)


def curves_figure(history: Sequence[TrainMetrics], max_points: int = MAX_POINTS) -> go.Figure:
    """Loss and accuracy against steps: training (running and per epoch) and validation."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=("Loss", "Accuracy"))
    series = _curve_series(history, max_points)
    for kind, _, _, name, colour, mode, width in CURVE_LINES:
        for col in (1, 2):
            x, y = next(series)
            fig.add_trace(
                go.Scatter(
                    x=x,
                    y=y,
                    name=name,
                    mode=mode,
                    legendgroup=name,
                    showlegend=col == 1,
                    line={"color": colour, "width": width},
                    opacity=0.5 if kind == "step" else 1,
                    hovertemplate=f"{name}<br>step %{{x:.0f}}<br>%{{y:.4f}}<extra></extra>",
                ),
                row=1,
                col=col,
            )
    fig.update_xaxes(title_text="step", gridcolor=theme.MUTED)
    fig.update_yaxes(gridcolor=theme.MUTED)
    fig.update_yaxes(range=[0, 1.02], row=1, col=2)
    fig.update_layout(legend={"orientation": "h", "y": -0.25}, hovermode="x unified")
    return theme.base_layout(fig, height=340)


class LiveCurves:
    """`curves_figure` built once per run and updated in place at each redraw.

    Building a plotly figure costs tens of milliseconds; replacing the data of its six traces
    costs about one. A live panel keeps one of these per run and calls `update` each tick.
    """

    def __init__(
        self, max_points: int = LIVE_POINTS, previous: Sequence[TrainMetrics] | None = None
    ) -> None:
        self.max_points = max_points
        self.figure = curves_figure((), max_points)
        self.live = len(self.figure.data)  # the traces `update` refreshes come first
        if previous:
            add_previous(self.figure, previous, max_points)

    def update(self, history: Sequence[TrainMetrics]) -> go.Figure:
        series = _curve_series(history, self.max_points)
        with self.figure.batch_update():
            for trace, (x, y) in zip(self.figure.data[: self.live], series, strict=True):
                trace.x, trace.y = x, y
        return self.figure


def add_previous(fig: go.Figure, history: Sequence[TrainMetrics], max_points: int) -> None:
    """The previous run's running training and validation curves, faint and grey, behind."""
    series = list(_curve_series(history, max_points))
    for index, (kind, _, _, name, _, mode, _) in enumerate(CURVE_LINES):
        if kind == "epoch" and mode == "markers":
            continue  # the per-epoch training markers would only clutter the ghost
        for col in (1, 2):
            x, y = series[2 * index + col - 1]
            fig.add_trace(
                go.Scatter(
                    x=x,
                    y=y,
                    name=f"previous run: {name}",
                    mode="lines",
                    legendgroup="previous",
                    showlegend=col == 1,
                    line={"color": theme.MUTED, "width": 1, "dash": "dot"},
                    opacity=0.6,
                    hovertemplate=f"previous {name}<br>step %{{x:.0f}}<br>%{{y:.4f}}"
                    "<extra></extra>",
                ),
                row=1,
                col=col,
            )


def log_range(values: np.ndarray, flat_pad: float = 0.3) -> list[float]:
    """A log10 axis range fitted to the positive values, padded by a tenth of their span.

    Equal values (a constant rate) get `flat_pad` decades on each side, so their line sits in
    the middle of the plot rather than on an edge.
    """
    positive = values[values > 0]
    if positive.size == 0:
        return [-1.0, 1.0]
    lo, hi = float(np.log10(positive.min())), float(np.log10(positive.max()))
    pad = 0.1 * (hi - lo) if hi - lo > 1e-9 else flat_pad
    return [lo - pad, hi + pad]


def lr_figure(lrs: Sequence[float], steps_per_epoch: int, done: int = 0) -> go.Figure:
    """The learning rate at every step on a log axis; a marker at the step reached so far.

    Rates span decades (a step schedule divides by 10, one-cycle ends near zero), and a
    constant rate on a linear autorange is drawn as a flat line at 0 of a −1…1 axis.
    """
    steps = np.arange(len(lrs))
    x, y = downsample(steps, np.asarray(lrs, dtype=float))
    fig = go.Figure(
        go.Scatter(
            x=x,
            y=y,
            mode="lines",
            line={"color": theme.ACCENT},
            name="learning rate",
            hovertemplate="step %{x}<br>lr %{y:.3g}<extra></extra>",
        )
    )
    if 0 < done <= len(lrs):
        fig.add_trace(
            go.Scatter(
                x=[done - 1],
                y=[lrs[done - 1]],
                mode="markers",
                marker={"color": theme.ACCENT_2, "size": 10},
                name="now",
            )
        )
    for epoch_start in range(steps_per_epoch, len(lrs), max(steps_per_epoch, 1)):
        fig.add_vline(x=epoch_start, line={"color": theme.MUTED, "width": 1, "dash": "dot"})
    fig.update_layout(
        xaxis_title="step (dotted lines: epochs)", yaxis_title="learning rate", showlegend=False
    )
    fig.update_yaxes(type="log", range=log_range(np.asarray(lrs, dtype=float)))
    return theme.base_layout(fig, height=240)


def confusion_figure(confusion: np.ndarray, class_names: Sequence[str]) -> go.Figure:
    """Counts of true (rows) against predicted (columns) classes, with each row's share."""
    counts = np.asarray(confusion, dtype=float)
    share = counts / np.maximum(counts.sum(1, keepdims=True), 1)
    names = list(class_names)
    fig = go.Figure(
        go.Heatmap(
            z=share,
            x=names,
            y=names,
            colorscale="Blues",
            zmin=0,
            zmax=1,
            text=counts.astype(int),
            texttemplate="%{text}",
            customdata=share * 100,
            hovertemplate="true %{y}<br>predicted %{x}<br>%{text} images (%{customdata:.1f}% of "
            "the row)<extra></extra>",
            colorbar={"title": "share"},
        )
    )
    fig.update_layout(xaxis_title="predicted", yaxis_title="true", yaxis_autorange="reversed")
    return theme.base_layout(fig, height=max(320, 32 * len(names) + 120))


def prediction_figure(
    logits: Sequence[float], probs: Sequence[float], class_names: Sequence[str]
) -> go.Figure:
    """Logits (any real number) beside the softmax probabilities they become."""
    fig = make_subplots(
        rows=1,
        cols=2,
        shared_yaxes=True,
        subplot_titles=("Logits (raw scores)", "Softmax probabilities"),
    )
    names = list(class_names)
    best = int(np.argmax(probs))
    colours = [theme.ACCENT_2 if i == best else theme.ACCENT for i in range(len(names))]
    fig.add_trace(
        go.Bar(
            x=list(logits),
            y=names,
            orientation="h",
            marker_color=colours,
            hovertemplate="%{y}: logit %{x:.3f}<extra></extra>",
        ),
        row=1,
        col=1,
    )
    fig.add_trace(
        go.Bar(
            x=list(probs),
            y=names,
            orientation="h",
            marker_color=colours,
            hovertemplate="%{y}: %{x:.2%}<extra></extra>",
        ),
        row=1,
        col=2,
    )
    fig.update_xaxes(range=[0, 1], tickformat=".0%", row=1, col=2)
    fig.update_yaxes(autorange="reversed")
    fig.update_layout(showlegend=False)
    return theme.base_layout(fig, height=max(260, 24 * len(names) + 100))
