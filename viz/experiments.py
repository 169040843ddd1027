"""Figures and tables for the Compare runs page: curves of several runs on one plot, the
settings that differ between runs, per-class recall side by side and the final scores.

A group is one experiment setting trained one or more times (seeds). Several seeds show how much
of a difference between settings is only chance: the band from the worst to the best seed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from pandas.io.formats.style import Styler

from models.training.engine import TrainMetrics
from viz import theme
from viz.train import LIVE_POINTS, downsample

CURVE_METRICS = ("loss", "accuracy")
SPLITS = ("validation", "training", "both")
X_AXES = ("epochs", "steps", "seconds")
MISSING = "—"  # a setting one run does not have, in the settings table
FINAL_COLUMNS = (
    "validation accuracy",
    "validation loss",
    "training loss",
    "training accuracy",
    "epochs run",
    "seconds",
)
_X_TITLES = {"epochs": "epoch", "steps": "step", "seconds": "seconds since the start"}
_X_FIELDS = {"epochs": "epoch", "steps": "step", "seconds": "elapsed_s"}


@dataclass(frozen=True)
class _Curve:
    """One run's points of one split, keyed by position (epoch or step) for aligning seeds."""

    keys: np.ndarray  # epoch numbers (epoch reports) or optimizer steps (step reports)
    x: np.ndarray  # what the x axis shows at each key
    y: np.ndarray


def _source(split: str, metric: str, x: str) -> tuple[str, str, str]:
    """(report kind, field, key field) a split's curve is read from.

    Validation is measured once per epoch. Training has a running figure at every step report,
    but against epochs the per-epoch average is the fair partner of the validation point.
    """
    prefix = "val" if split == "validation" else "train"
    field = f"{prefix}_{'loss' if metric == 'loss' else 'acc'}"
    kind = "epoch" if split == "validation" or x == "epochs" else "step"
    return kind, field, "epoch" if kind == "epoch" else "step"


def _curve(history: Sequence[TrainMetrics], source: tuple[str, str, str], x: str) -> _Curve:
    kind, field, key = source
    rows = [m for m in history if m.kind == kind and not math.isnan(getattr(m, field))]
    return _Curve(
        np.array([getattr(m, key) for m in rows], dtype=float),
        np.array([getattr(m, _X_FIELDS[x]) for m in rows], dtype=float),
        np.array([getattr(m, field) for m in rows], dtype=float),
    )


def _aligned(curves: Sequence[_Curve]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The positions every run reached, the mean x there and the (runs, positions) values.

    Seeds of one setting report at the same epochs and steps, so positions match exactly; a run
    that stopped early limits the band to what all runs share (the common prefix).
    """
    common = curves[0].keys
    for c in curves[1:]:
        common = np.intersect1d(common, c.keys)
    picks = [np.searchsorted(c.keys, common) for c in curves]
    xs = np.stack([c.x[p] for c, p in zip(curves, picks)])
    ys = np.stack([c.y[p] for c, p in zip(curves, picks)])
    return common, xs.mean(0), ys


def _rgba(colour: str, alpha: float) -> str:
    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


@dataclass(frozen=True)
class _Style:
    """How one group's curve of one split looks; its band and tails share its legend entry."""

    name: str
    colour: str
    dash: str  # "dash" for training beside validation, "solid" otherwise


def _line(x, y, style: _Style, max_points: int, **extra) -> go.Scatter:
    x, y = downsample(np.asarray(x), np.asarray(y), max_points)
    return go.Scatter(
        x=x,
        y=y,
        name=extra.pop("name", style.name),
        mode="lines",
        line={"color": style.colour, "dash": style.dash, "width": extra.pop("width", 2)},
        legendgroup=style.name,
        hovertemplate=f"{style.name}<br>x %{{x:.4g}}<br>%{{y:.4f}}<extra></extra>",
        **extra,
    )


def _add_band(fig: go.Figure, x: np.ndarray, ys: np.ndarray, style: _Style, max_points: int):
    """Two borderless traces, the lowest filled up to the highest: plotly's way to shade."""
    for bound, y, fill in (("max", ys.max(0), None), ("min", ys.min(0), "tonexty")):
        bx, by = downsample(x, y, max_points)
        fig.add_trace(
            go.Scatter(
                x=bx,
                y=by,
                name=f"{style.name} {bound}",
                mode="lines",
                line={"width": 0, "color": style.colour},
                fill=fill,
                fillcolor=_rgba(style.colour, 0.2),
                legendgroup=style.name,
                showlegend=False,
                hoverinfo="skip",
            )
        )


def _add_group(fig: go.Figure, curves: list[_Curve], style: _Style, max_points: int) -> None:
    """A single run as a line; several as their mean over a min–max band.

    The part of a run beyond the positions all runs reached (the others stopped early, or are
    still training) is drawn as its own thin line from where the band ends.
    """
    curves = [c for c in curves if c.keys.size]
    if len(curves) == 1:
        fig.add_trace(_line(curves[0].x, curves[0].y, style, max_points))
    if len(curves) < 2:
        return
    common, x, ys = _aligned(curves)
    _add_band(fig, x, ys, style, max_points)
    fig.add_trace(_line(x, ys.mean(0), style, max_points))
    last = common[-1] if common.size else -math.inf
    for c in curves:
        if c.keys.size > common.size:
            tail = c.keys >= last
            fig.add_trace(
                _line(
                    c.x[tail],
                    c.y[tail],
                    style,
                    max_points,
                    name=f"{style.name}, one run",
                    width=1,
                    opacity=0.5,
                    showlegend=False,
                )
            )


def _check(value: str, allowed: tuple[str, ...], what: str) -> None:
    if value not in allowed:
        raise ValueError(f"{what} must be one of {', '.join(allowed)}, not {value!r}.")


def overlay_figure(
    groups: Mapping[str, list[Sequence[TrainMetrics]]],
    metric: str = "loss",
    split: str = "validation",
    x: str = "epochs",
    max_points: int = LIVE_POINTS,
) -> go.Figure:
    """Curves of every group on one plot, one colour per group in the mapping's order.

    Several runs in a group (seeds) draw their mean line over a band from the lowest to the
    highest run, where all of them reached; "both" draws training dashed, validation solid.
    """
    _check(metric, CURVE_METRICS, "metric")
    _check(split, SPLITS, "split")
    _check(x, X_AXES, "x")
    fig = go.Figure()
    splits = ("training", "validation") if split == "both" else (split,)
    for i, (group, runs) in enumerate(groups.items()):
        colour = theme.SERIES[i % len(theme.SERIES)]
        label = group if len(runs) < 2 else f"{group} ({len(runs)} runs)"
        for part in splits:
            name = f"{label} · {part}" if split == "both" else label
            dash = "dash" if part == "training" and split == "both" else "solid"
            curves = [_curve(h, _source(part, metric, x), x) for h in runs]
            _add_group(fig, curves, _Style(name, colour, dash), max_points)
    return _finish_overlay(fig, metric, x)


def _finish_overlay(fig: go.Figure, metric: str, x: str) -> go.Figure:
    fig.update_xaxes(title_text=_X_TITLES[x], gridcolor=theme.MUTED)
    if x == "epochs":  # whole epochs only: an axis tick at epoch 1.5 names nothing
        last = max((max(t.x) for t in fig.data if t.x is not None and len(t.x)), default=1)
        fig.update_xaxes(dtick=max(1, math.ceil(last / 10)))
    fig.update_yaxes(title_text=metric, gridcolor=theme.MUTED)
    if metric == "accuracy":
        fig.update_yaxes(range=[0, 1.02])
    fig.update_layout(legend={"orientation": "h", "y": -0.25}, hovermode="x unified")
    title = None if fig.data else "No curves yet: the chosen runs have no reports to draw."
    return theme.base_layout(fig, title=title, height=380)


def differing_settings(rows: Mapping[str, Mapping[str, str]]) -> list[str]:
    """Settings whose values are not all equal across runs; one a run lacks counts as differing.

    In the order each name first appears, so the table reads in the order the settings are set.
    """
    names = list(dict.fromkeys(name for row in rows.values() for name in row))
    missing = object()  # equals nothing a run holds, None included
    return [n for n in names if len({_value(r.get(n, missing)) for r in rows.values()}) > 1]


def _value(value: object) -> object:
    """A hashable stand-in for a setting's value: its repr, or the object for a missing one."""
    return value if type(value) is object else repr(value)


def settings_frame(rows: Mapping[str, Mapping[str, str]]) -> pd.DataFrame:
    """Settings as rows, runs as columns: the differing settings first, then the shared ones."""
    differing = differing_settings(rows)
    names = list(dict.fromkeys(name for row in rows.values() for name in row))
    order = differing + [n for n in names if n not in differing]
    frame = pd.DataFrame(
        {run: [row.get(n, MISSING) for n in order] for run, row in rows.items()},
        index=pd.Index(order, name="setting"),
        dtype=object,
    )
    return frame


def style_settings(frame: pd.DataFrame, differing: Sequence[str]) -> Styler:
    """The settings table with its differing rows tinted and bold, for `st.dataframe`.

    Streamlit's data grid reads a Styler's background-color, color and font-weight per cell.
    """
    marked = set(differing)
    css = f"background-color: {_rgba(theme.ACCENT_2, 0.18)}; color: {theme.INK}; font-weight: bold"

    def row_css(row: pd.Series) -> list[str]:
        return [css if row.name in marked else ""] * len(row)

    return frame.style.apply(row_css, axis=1)


def recall_figure(recalls: Mapping[str, Sequence[float]], class_names: Sequence[str]) -> go.Figure:
    """Per-class recall as grouped bars: one group per class, one bar per run."""
    names = list(class_names)
    fig = go.Figure()
    for i, (run, recall) in enumerate(recalls.items()):
        if len(recall) != len(names):
            raise ValueError(
                f"Run {run!r} has a recall for {len(recall)} classes, not {len(names)}."
            )
        fig.add_trace(
            go.Bar(
                x=names,
                y=list(recall),
                name=run,
                marker_color=theme.SERIES[i % len(theme.SERIES)],
                hovertemplate=f"{run}<br>%{{x}}: recall %{{y:.1%}}<extra></extra>",
            )
        )
    fig.update_layout(barmode="group", xaxis_title="class", yaxis_title="recall")
    fig.update_yaxes(range=[0, 1], gridcolor=theme.MUTED)
    fig.update_layout(legend={"orientation": "h", "y": -0.25})
    return theme.base_layout(fig, height=340)


def _number(value) -> float:
    """A float from a JSON figure: None (a NaN that went through JSON) and absence are NaN."""
    return math.nan if value is None else float(value)


# The `RunRecord.metrics` key of each of FINAL_COLUMNS.
_FINAL_KEYS = (
    "validation_accuracy",
    "val_loss",
    "train_loss",
    "train_acc",
    "epochs_run",
    "seconds",
)


def final_metrics_frame(metrics: Mapping[str, Mapping]) -> pd.DataFrame:
    """Runs as rows, their final scores as `FINAL_COLUMNS`; a figure a run lacks is NaN.

    Reads a run's `RunRecord.metrics` (models/training/history.py), in `FINAL_COLUMNS` order.
    """
    rows = {run: [_number(m.get(key)) for key in _FINAL_KEYS] for run, m in metrics.items()}
    frame = pd.DataFrame.from_dict(rows, orient="index", columns=list(FINAL_COLUMNS), dtype=float)
    frame.index.name = "run"
    return frame
