"""The Attention page's panels: the gates and Grad-CAM, each computed once for its inputs."""

from __future__ import annotations

import numpy as np
import streamlit as st
from PIL import Image

from models.bundle import ModelBundle
from models.explain import attention
from ui.results import remembered
from viz import attention as aviz

PAGE = "attention"


def gates(bundle: ModelBundle, image: Image.Image) -> attention.AttentionGates:
    """The gates' weights for the image, read again only for another model or image."""
    return remembered(PAGE, "gates", (bundle, image), lambda: attention.read_gates(bundle, image))


def gradcam(
    bundle: ModelBundle, image: Image.Image, read: attention.AttentionGates, target: int
) -> np.ndarray:
    """Grad-CAM for the class, computed once per model, image and class."""
    return remembered(
        PAGE,
        "gradcam",
        (bundle, image, target),
        lambda: attention.gradcam_for(bundle, read, target),
    )


def spatial_view(read: attention.AttentionGates, cam: np.ndarray, class_name: str) -> None:
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
    st.plotly_chart(
        aviz.spatial_figure(read.image, list(read.spatial), cam, title), key=f"{PAGE}.spatial"
    )
    st.caption(spatial_caption(read.spatial, cam))


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


def channel_view(read: attention.AttentionGates) -> None:
    """One bar per channel weight, and the weights as CSV."""
    st.caption(
        "Each bar is the number one channel's whole map is multiplied by for this "
        "image. Weights near 1 pass the channel on; weights near 0 mute it."
    )
    st.plotly_chart(aviz.channel_weights_figure(list(read.channel)), key=f"{PAGE}.channels")
    st.caption(channel_caption(read.channel))
    st.download_button(
        "Channel weights (.csv)",
        attention.channel_weights_csv(read.channel).encode(),
        "attention_weights.csv",
        "text/csv",
        key=f"{PAGE}.download",
    )
