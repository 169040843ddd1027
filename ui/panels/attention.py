"""The Attention page's panels: the gates and Grad-CAM, each computed once for its inputs.

Everything here is a function of the model, the image and the class: made once for the whole
class on a shipped model (`results.memo`), so 30 students opening the page on its defaults share
one reading of the gates, one Grad-CAM and one set of figures.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import streamlit as st
from PIL import Image

from models.bundle import ModelBundle
from models.explain import attention
from ui.results import memo
from viz import attention as aviz
from viz.saliency import probabilities_figure

PAGE = "attention"
Source = tuple[ModelBundle, Image.Image]  # what every result of the page is made from


def gates(bundle: ModelBundle, image: Image.Image) -> attention.AttentionGates:
    """The gates' weights for the image, read again only for another model or image."""
    return memo(PAGE, "gates", (bundle, image), lambda: attention.read_gates(bundle, image))


def gradcam(
    bundle: ModelBundle, image: Image.Image, read: attention.AttentionGates, target: int
) -> np.ndarray:
    """Grad-CAM for the class, computed once per model, image and class."""
    return memo(
        PAGE,
        "gradcam",
        (bundle, image, target),
        lambda: attention.gradcam_for(bundle, read, target),
    )


def probabilities(src: Source, read: attention.AttentionGates, target: int) -> go.Figure:
    """The model's probabilities with the class highlighted, drawn once per source and class."""
    names = list(src[0].class_names)
    return memo(
        PAGE,
        "probs",
        (src, target),
        lambda: probabilities_figure(names, read.probabilities, highlight=target),
    )


def _spatial(read: attention.AttentionGates, cam: np.ndarray, title: str) -> tuple[go.Figure, str]:
    """(the spatial gates beside Grad-CAM, their numbers)."""
    figure = aviz.spatial_figure(read.image, list(read.spatial), cam, title)
    return figure, spatial_caption(read.spatial, cam)


def _channels(read: attention.AttentionGates) -> tuple[go.Figure, str, bytes]:
    """(a bar per channel weight, their numbers, the weights as CSV)."""
    return (
        aviz.channel_weights_figure(list(read.channel)),
        channel_caption(read.channel),
        attention.channel_weights_csv(read.channel).encode(),
    )


def spatial_view(
    src: Source, target: int, read: attention.AttentionGates, cam: np.ndarray, class_name: str
) -> None:
    """CBAM's spatial gates beside Grad-CAM for the class, with what each one is."""
    if read.spatial:
        st.caption(
            "CBAM's spatial gate, upsampled to the image: 1 keeps a place, 0 silences "
            "it. It is part of the network and does not depend on the class; Grad-CAM "
            "(right) explains one class after the fact."
        )
    else:
        st.caption(
            "This network has only channel attention (squeeze-and-excitation); "
            "Grad-CAM shows where the class evidence lies."
        )
    title = f"Grad-CAM, {read.gradcam_maps} (after {read.gradcam_layer}): {class_name}"
    figure, caption = memo(PAGE, "spatial", (src, target), lambda: _spatial(read, cam, title))
    st.plotly_chart(figure, key=f"{PAGE}.spatial")
    st.caption(caption)


def spatial_caption(spatial: tuple[tuple[str, np.ndarray], ...], cam: np.ndarray) -> str:
    """The spatial figure's numbers: each gate's range and the share of places it keeps at
    half or more, then where Grad-CAM peaks and how much of the image lies above half its peak."""
    parts = [
        f"{name}: from {m.min():.2f} to {m.max():.2f}, mean {m.mean():.2f}; "
        f"{(m >= 0.5).mean():.0%} of the places get 0.5 or more."
        for name, m in spatial
    ]
    h, w = cam.shape
    r, c = np.unravel_index(int(np.argmax(cam)), cam.shape)
    peak = float(cam.max())
    hot = float((cam >= 0.5 * peak).mean()) if peak > 0 else 0.0
    parts.append(
        f"Grad-CAM peaks at row {r}, column {c} of the {h}×{w} image; {hot:.0%} of the "
        "image is at half its peak or more."
        if peak > 0
        else "Grad-CAM is zero everywhere: no positive evidence for this class at that layer."
    )
    return " ".join(parts)


def channel_caption(channel: tuple[tuple[str, np.ndarray], ...]) -> str:
    """The channel figure's numbers: per gate, its channels, lowest and highest weight, mean."""
    return " ".join(
        f"{name}: {w.size} channels, weights from {w.min():.2f} (channel {int(w.argmin())}) "
        f"to {w.max():.2f} (channel {int(w.argmax())}), mean {w.mean():.2f}."
        for name, w in channel
    )


def channel_view(src: Source, read: attention.AttentionGates) -> None:
    """One bar per channel weight, and the weights as CSV."""
    st.caption(
        "Each bar is the number one channel's whole map is multiplied by for this "
        "image. Weights near 1 pass the channel on; weights near 0 mute it."
    )
    figure, caption, csv = memo(PAGE, "channels", src, lambda: _channels(read))
    st.plotly_chart(figure, key=f"{PAGE}.channels")
    st.caption(caption)
    st.download_button(
        "Channel weights (.csv)",
        csv,
        "attention_weights.csv",
        "text/csv",
        key=f"{PAGE}.download",
    )
