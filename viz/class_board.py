"""The class board's table and curves: everyone's runs, the pinned one first and highlighted.

Names and titles come from students. Tables show them as they are (the data grid never reads
markup); in figures they pass through `plot_text`, since plotly reads a little HTML in names.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence

import pandas as pd
import plotly.graph_objects as go
from pandas.io.formats.style import Styler

from models.classroom.board import PublishedRun
from viz import theme
from viz.experiments import differing_settings

BOARD_CURVES = {"validation accuracy": "val_acc", "validation loss": "val_loss"}
COLUMNS = ("pinned", "student", "run", "validation accuracy", "validation loss", "epochs run")
LEGEND_CHARS = 40  # a legend entry's length: long titles are cut there
MAX_CURVES = 15  # runs drawn in the figure (the pinned one and the best); the table has all


def plot_text(text: str) -> str:
    """`text` as plotly shows it literally: tags escaped, and no hover-template placeholders."""
    return html.escape(text, quote=False).replace("%", "&#37;")


def run_label(run: PublishedRun) -> str:
    """ "Ada · lr 0.01" (plain text: for tables and menus, not for figures)."""
    return f"{run.author} · {run.title}"


def board_frame(runs: Sequence[PublishedRun]) -> pd.DataFrame:
    """One row per run, in the board's order, then the settings that differ between runs."""
    differing = differing_settings({str(r.id): r.settings for r in runs})
    rows = []
    for r in runs:
        row = {
            "pinned": "★" if r.pinned else "",
            "student": r.author,
            "run": r.title,
            "validation accuracy": r.val_accuracy,
            "validation loss": r.metrics.get("val_loss"),
            "epochs run": r.metrics.get("epochs_run"),
        }
        rows.append(row | {name: r.settings.get(name, "—") for name in differing})
    frame = pd.DataFrame(rows, columns=[*COLUMNS, *differing])
    frame.index = pd.Index([r.id for r in runs], name="run id")
    return frame


def style_board(frame: pd.DataFrame) -> Styler:
    """The table with the pinned row tinted and bold, accuracy as a percentage."""
    css = f"background-color: {theme.ACCENT_2}33; font-weight: bold"

    def row_css(row: pd.Series) -> list[str]:
        return [css if row["pinned"] else ""] * len(row)

    formats = {"validation accuracy": "{:.1%}", "validation loss": "{:.3f}", "epochs run": "{:.0f}"}
    return frame.style.apply(row_css, axis=1).format(formats, na_rep="—")


def board_csv(runs: Sequence[PublishedRun]) -> str:
    """The board as CSV: the table's columns, then each run's full settings."""
    frame = board_frame(runs)
    settings = pd.DataFrame([r.settings for r in runs], index=frame.index)
    extra = settings[[c for c in settings.columns if c not in frame.columns]]
    return frame.join(extra.add_prefix("setting: ")).to_csv()


def drawn_runs(runs: Sequence[PublishedRun], limit: int = MAX_CURVES) -> list[PublishedRun]:
    """The runs the figure draws: the first `limit` in the board's order (pinned, then best)."""
    return list(runs[:limit])


def curves_figure(
    runs: Sequence[PublishedRun], curve: str = "validation accuracy", limit: int = MAX_CURVES
) -> go.Figure:
    """The curves of the pinned run and the best ones by epoch (`drawn_runs`).

    When a run is pinned it is drawn thick, in the accent colour, on top of the others in grey.
    """
    if curve not in BOARD_CURVES:
        raise ValueError(f"curve must be one of {', '.join(BOARD_CURVES)}, not {curve!r}")
    field = BOARD_CURVES[curve]
    pinned = any(r.pinned for r in runs)
    fig = go.Figure()
    shown = sorted(drawn_runs(runs, limit), key=lambda r: r.pinned)  # the pinned run drawn last
    for i, r in enumerate(shown):
        name = plot_text(run_label(r)[:LEGEND_CHARS])
        colour = theme.SERIES[i % len(theme.SERIES)]
        if pinned:
            colour = theme.ACCENT_2 if r.pinned else theme.MUTED
        fig.add_trace(
            go.Scatter(
                x=list(r.curves.epoch),
                y=list(getattr(r.curves, field)),
                name=("★ " if r.pinned else "") + name,
                mode="lines+markers" if len(r.curves.epoch) < 30 else "lines",
                line={"color": colour, "width": 5 if r.pinned else 2},
                opacity=1.0 if r.pinned or not pinned else 0.6,
                hovertemplate=f"{name}<br>epoch %{{x}}<br>%{{y:.3f}}<extra></extra>",
            )
        )
    last = max((max(r.curves.epoch, default=1) for r in shown), default=1)
    fig.update_xaxes(title_text="epoch", gridcolor=theme.MUTED, dtick=max(1, math.ceil(last / 10)))
    fig.update_yaxes(title_text=curve, gridcolor=theme.MUTED)
    if field == "val_acc":
        fig.update_yaxes(range=[0, 1.02], tickformat=".0%")
    fig.update_layout(legend={"orientation": "h", "y": -0.25}, hovermode="closest")
    title = None if runs else "No runs on the board yet."
    return theme.base_layout(fig, title=title, height=420)
