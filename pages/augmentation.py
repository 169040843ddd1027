"""Augmentation: random changes to training images that keep their label, built as a pipeline."""

import streamlit as st

from ui import frame, glossary
from ui.panels import augmentation as panel

frame(
    "Augmentation",
    intro=(
        "A cat is still a cat when the photo is cropped, mirrored or a little darker. "
        "Augmentation makes such changes at random every time an image is used for training, "
        "so the network sees many versions and learns what does not matter. Build a pipeline "
        "below, see what it draws from your image, and train with and without it."
    ),
)
glossary.popover_for("augmentation")
panel.init()
pipe_tab, mix_tab, exp_tab = st.tabs(["Pipeline and samples", "MixUp and CutMix", "Experiment"])
with pipe_tab:
    left, right = st.columns([1, 2])
    with left:
        spec = panel.pipeline_editor()
    with right:
        panel.samples(spec)
    panel.code_and_use(spec)

with mix_tab:
    st.markdown(
        "MixUp and CutMix mix two images **and their labels**, so they need a batch "
        "with labels. Top: originals; below: mixed, with the target the loss sees."
    )
    panel.mixing()

with exp_tab:
    st.markdown(
        "The same small network trains twice on the same few shapes: once on the plain "
        "images, once through your pipeline (crops sized 32×32)."
    )
    panel.experiment(spec)

with st.expander("Go deeper"):
    st.markdown(
        "Each step runs with probability $p$; MixUp draws $\\lambda \\sim$ Beta(α, α) "
        "and trains on a blend of two images and of their one-hot labels:"
    )
    st.latex(
        r"\tilde x = \lambda x_i + (1-\lambda) x_j, \qquad \tilde y = \lambda y_i + (1-\lambda) y_j"
    )
    st.markdown(
        "CutMix pastes a box of $x_j$ into $x_i$ and sets $\\lambda$ to the share left of $x_i$. "
        "Augmentation runs on the fly, on training images only, never on validation images.\n\n"
        "What this page answers: what data augmentation is and why it reduces overfitting; "
        "which changes keep a label (a flipped 6 may be a 9); MixUp, CutMix and learned "
        "policies such as AutoAugment; augmentation used on the fly during training."
    )
