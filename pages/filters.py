"""Filters: the kernels a network learned, and the input each of its channels likes best."""

import streamlit as st

from models.inspect import filters as filt
from ui import frame, glossary
from ui.model_picker import pick_model
from ui.panels import filters as panels

frame(
    "Filters",
    intro=(
        "A filter is the small grid of weights a convolution slides over its input. In the "
        "first layer each filter has one weight per position and colour, so you can look at it "
        "like a tiny picture; deeper filters mix the channels before them. Training shapes "
        "them; below you can also ask a channel to draw the input it likes best."
    ),
)
glossary.popover_for("filters")
ss = st.session_state

bundle = pick_model(
    "filters",
    ("yours", "shipped", "zoo"),
    untrained="Its filters are the initialisation's random numbers: pick a pretrained model "
    "to see learned edges and colour blobs.",
)
convs = filt.conv_layers(bundle.model)
if not convs:
    st.error("This model has no convolution layers, so it has no filters to show.")
    st.stop()
if ss.get("filters.layer") not in convs:
    ss["filters.layer"] = convs[0]
name = st.selectbox("Convolution layer", convs, key="filters.layer")
sides = panels.kernel_sides(bundle, panels.twin(bundle), name)
o, i, kh, kw = sides[0][1].shape
st.markdown(f"**{name}**: {o} filters, each {i}×{kh}×{kw} (input channels × height × width).")

kernels, histogram, favourite = st.tabs(["Kernels", "Weight histogram", "Feature visualization"])
src = panels.source(bundle, name)
with kernels:
    panels.show_kernels(sides, src)
with histogram:
    panels.show_histogram(sides, name, src)
with favourite:
    panels.feature_visualization(bundle, name, o)

with st.expander("Go deeper"):
    st.markdown(
        "Feature visualization (Olah, Mordvintsev and Schubert, Distill 2017) starts "
        "from faint gray noise and repeatedly moves the normalized input $x$ uphill on "
        "the channel's mean activation, with a small penalty on large values. Each "
        "step is an Adam step (an adaptive gradient step, size η) on:"
    )
    st.latex(
        r"\max_x\;\tfrac{1}{HW}\sum_{i,j} A_k(x)[i,j]"
        r" - \lambda\,\overline{x^2}"
    )
    st.markdown(
        "Each step first shifts the image by a few random pixels (jitter), every few steps "
        "blurs it slightly, and keeps every pixel in its valid range; without such priors "
        "the ascent finds high-frequency noise that excites the channel but means nothing to "
        "us. Parameters of a filter: $C_{in}/\\text{groups}\\cdot k_h\\cdot k_w$ weights "
        "plus one bias.\n\n"
        "What this page answers: what feature detectors look for and how they build up with "
        "depth; what a CNN learns when it trains."
    )
