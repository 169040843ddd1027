"""Figures for the Augmentation page: MixUp and CutMix on a batch, and the with/without curves."""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from PIL import Image
from plotly.subplots import make_subplots

from models.training.augment_experiment import MixResult
from models.training.engine import TrainMetrics
from viz import theme


def mix_figure(result: MixResult, columns: int = 4) -> go.Figure:
    """Each original shape above its mixed version, titled with the soft label it trains on."""
    n = len(result.mixed)
    rows = 2 * math.ceil(n / columns)
    titles = [""] * (rows * columns)
    for i in range(n):
        r, c = divmod(i, columns)
        titles[2 * r * columns + c] = f"original {i}"
        titles[(2 * r + 1) * columns + c] = result.label(i)
    fig = make_subplots(
        rows=rows,
        cols=columns,
        subplot_titles=titles,
        vertical_spacing=0.08,
        horizontal_spacing=0.02,
    )
    for i in range(n):
        r, c = divmod(i, columns)
        fig.add_trace(go.Image(z=result.originals[i]), row=2 * r + 1, col=c + 1)
        fig.add_trace(go.Image(z=result.mixed[i]), row=2 * r + 2, col=c + 1)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    fig.update_annotations(font_size=11)
    return theme.base_layout(fig, height=190 * rows)


def thumbnail_jpeg(pixels: np.ndarray, width: int) -> bytes:
    """An (H, W, 3) uint8 image as the JPEG a page shows at `width` px: as Streamlit's st.image
    would encode it (shrunk with bilinear filtering and saved at quality 90 when wider, else at
    quality 100), so a page can make it once instead of at every run."""
    picture = Image.fromarray(pixels.astype(np.uint8)).convert("RGB")
    quality = 100
    if picture.width > width:
        height = int(1.0 * picture.height * width / picture.width)
        picture, quality = picture.resize((width, height), resample=Image.BILINEAR), 90
    out = io.BytesIO()
    picture.save(out, format="JPEG", quality=quality)
    return out.getvalue()


def _epochs(history: Sequence[TrainMetrics], attr: str) -> tuple[np.ndarray, np.ndarray]:
    rows = [m for m in history if m.kind == "epoch" and not math.isnan(getattr(m, attr))]
    return np.array([m.epoch for m in rows]), np.array([getattr(m, attr) for m in rows])


def experiment_figure(runs: Mapping[str, Sequence[TrainMetrics]]) -> go.Figure:
    """Per-epoch accuracy, training (dotted) and validation (solid), of each run side by side."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=("Loss", "Accuracy"))
    for (name, history), colour in zip(runs.items(), theme.SERIES, strict=False):
        for split, dash in (("train", "dot"), ("val", "solid")):
            for col, metric in ((1, "loss"), (2, "acc")):
                x, y = _epochs(history, f"{split}_{metric}")
                label = f"{name} · {'training' if split == 'train' else 'validation'}"
                fig.add_trace(
                    go.Scatter(
                        x=x,
                        y=y,
                        name=label,
                        legendgroup=label,
                        showlegend=col == 1,
                        mode="lines+markers",
                        line={"color": colour, "dash": dash},
                        hovertemplate=f"{label}<br>epoch %{{x}}: %{{y:.3f}}<extra></extra>",
                    ),
                    row=1,
                    col=col,
                )
    fig.update_xaxes(title_text="epoch", gridcolor=theme.MUTED)
    fig.update_yaxes(gridcolor=theme.MUTED)
    fig.update_yaxes(range=[0, 1.02], row=1, col=2)
    fig.update_layout(legend={"orientation": "h", "y": -0.3})
    return theme.base_layout(fig, height=380)
