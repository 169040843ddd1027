"""Neuron view: how one unit's number is computed from the layer before it, exactly as PyTorch
computes it (conv channels, activations, pooling, flatten, dense layers and softmax)."""

import streamlit as st

from models.errors import CNNLabError
from ui import frame, glossary, state
from ui.model_picker import pick_model
from ui.panels import neuron as panels
from ui.panels import neuron_views as views

frame(
    "Neuron view",
    intro=(
        "Every number inside a CNN is made from the numbers of the layer before it by a few "
        "plain steps: multiply by weights and add, add a bias, keep the positive part, keep the "
        "largest of a window. Pick a layer and a channel (or click a map on Feature maps) and "
        "see each step for your image, with PyTorch's own value beside the rebuilt one."
    ),
)
glossary.popover_for("neuron")
st.markdown("**Question:** is a unit's number anything more than multiply, add and a max?")
if panels.take_hand_off():
    st.caption("Opened from Feature maps.")
bundle = pick_model(
    "neuron",
    ("yours", "shipped", "zoo"),
    untrained="The steps are exact all the same; only the patterns mean nothing yet.",
)
VIEWS = {
    "conv": views.conv_view,
    "activation": views.activation_view,
    "pool": views.pool_view,
    "flatten": views.flatten_view,
    "linear": views.linear_view,
}
try:
    name = panels.pick_layer(bundle)
    image = state.current_image()
    cap = panels.capture(bundle, image, name)
    channel = panels.pick_channel(cap, panels.source(bundle, image, name))
    VIEWS[cap.kind](bundle, cap, channel)
except CNNLabError as err:
    st.error(f"This neuron could not be taken apart: {err}")

with st.expander("Go deeper"):
    st.markdown("A conv channel $k$ with stride $s$, dilation $d$, padding $p$ and groups:")
    st.latex(
        r"y_k[i,j] = b_k + \sum_{c \in G(k)} \sum_{u,v} W_k[c,u,v]\;"
        r"\tilde x_c[s\,i + d\,u,\; s\,j + d\,v]"
    )
    st.markdown(
        "$\\tilde x$ is the input padded by $p$; $G(k)$ is the group of input maps channel $k$ "
        "reads ($C_{in}/\\text{groups}$ of them; one for a depthwise conv). Then"
    )
    st.latex(r"\mathrm{ReLU}(a) = \max(0, a) \qquad (c, r, q) \mapsto cHW + rW + q")
    st.latex(r"z_k = b_k + \sum_i W_{k,i}\,x_i \qquad p_k = \frac{e^{z_k/T}}{\sum_j e^{z_j/T}}")
    st.markdown(
        "Without activations two convs are one: the composed kernel is the full convolution of "
        "the second kernel with the first (size $k_1 + k_2 - 1$ at stride 1), its bias "
        "$b_2 + \\sum W_2\\, b_1$. Batch norm after a conv, in evaluation mode, is "
        "$(y - \\mu)/\\sqrt{\\sigma^2 + \\epsilon}\\,\\gamma + \\beta$ per channel.\n\n"
        "The view follows CNN Explainer (Wang et al., 2020), on any model here. Temperature: "
        "Hinton, Vinyals and Dean (2015), *Distilling the knowledge in a neural network*. "
        "What this page answers: ReLU and why a network needs non-linearity; how a "
        "convolution layer and the output layer compute their numbers."
    )
