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


def channel_view(read: attention.AttentionGates) -> None:
    """One bar per channel weight, and the weights as CSV."""
    st.caption(
        "Each bar is the number one channel's whole map is multiplied by for this "
        "image. Weights near 1 pass the channel on; weights near 0 mute it."
    )
    st.plotly_chart(aviz.channel_weights_figure(list(read.channel)), key=f"{PAGE}.channels")
    st.download_button(
        "Channel weights (.csv)",
        attention.channel_weights_csv(read.channel).encode(),
        "attention_weights.csv",
        "text/csv",
        key=f"{PAGE}.download",
    )
