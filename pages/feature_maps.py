"""Feature maps: what every channel of every layer computes for your image, from edges to parts."""

import streamlit as st

from models.inspect import activations as act
from ui import frame, glossary, state
from ui.model_picker import pick_model
from ui.panels import feature_maps as panels

frame(
    "Feature maps",
    intro=(
        "Each filter of a convolution slides over the image and leaves behind a map: bright "
        "where it found its pattern, dark where it did not. Every layer makes one map per "
        "filter (a channel) from the maps before it. In trained networks early layers react to "
        "edges and colours and later ones to larger parts (Zeiler and Fergus, 2014). Move the "
        "depth slider to walk through the network."
    ),
)
glossary.popover_for("feature_maps")

bundle = pick_model(
    "feature_maps",
    ("yours", "shipped", "zoo"),
    untrained="These maps are random mixtures of the image, not learned features.",
)
src = panels.source(bundle, state.current_image())
try:
    fm = panels.feature_maps(src)
except act.ActivationError as err:
    st.error(f"The feature maps could not be computed: {err}")
    st.stop()

seen, controls = st.columns([1, 2])
with seen:
    panels.show_input(src, fm)
with controls:
    panels.clamp("feature_maps.layer", fm.names)
    name = st.select_slider(
        "Depth: layer (input side → output side)", fm.names, key="feature_maps.layer"
    )
    layer = fm.layer(name)
    n, h, w = layer.maps.shape
    st.markdown(f"**{name}** · {layer.kind} · {n} channels of {h}×{w}")
    scale = st.radio(
        "Colour range",
        list(act.SCALES),
        format_func=act.SCALES.get,
        horizontal=True,
        key="feature_maps.scale",
    )
    ordered = st.toggle("Order channels by mean activation", key="feature_maps.ordered")
panels.grid(src, fm, name, scale, ordered)
st.download_button(
    "Download all maps (.npz)",
    panels.maps_file(src, fm),
    "feature_maps.npz",
    key="feature_maps.download",
)

one, sparsity, excite, journey = st.tabs(
    ["One channel", "Zeros after ReLU", "What excites it", "Through the network"]
)
with one:
    channel = panels.one_channel(src, fm, layer)
with sparsity:
    panels.show_zeros(src, fm)
with excite:
    panels.exciting_shapes(bundle, name, channel)
with journey:
    panels.show_journey(src, fm)

with st.expander("Go deeper"):
    st.markdown(
        "Channel $k$ of a convolution is its own filter $W_k$ slid over all input "
        "channels plus a bias (here with stride 1 and no padding; PyTorch computes this "
        "cross-correlation and calls it convolution); the activation then acts on each "
        "number alone:"
    )
    st.latex(r"A_k[i,j] = b_k + \sum_{c}\sum_{u,v} W_k[c,u,v]\,X_c[i+u,\,j+v]")
    st.latex(r"\mathrm{ReLU}(a)=\max(0,a)\qquad\text{zeros share}=\frac{\#\{A=0\}}{\#A}")
    st.markdown(
        "Colour range: *each channel* stretches every map to its own min and max (patterns "
        "show, sizes do not compare); *layer* and *whole network* share one range (like CNN "
        "Explainer's module and global scales).\n\n"
        "What this page answers: what a CNN does, following one image; ReLU and sparsity; "
        "feature maps, spatial hierarchies and feature detectors."
    )
