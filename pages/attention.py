"""Attention: what squeeze-and-excitation and CBAM blocks choose to amplify, channel by channel
and place by place, beside Grad-CAM for the same class."""

import streamlit as st

from models.errors import CNNLabError
from models.explain.attention import has_attention
from models.network.presets import PRESETS
from ui import frame, glossary, state
from ui.explain import target_picker
from ui.model_picker import YOURS, pick_model
from ui.panels import attention as panel

PRESET = "Attention CNN (SE + CBAM)"
frame(
    "Attention",
    intro=(
        "An attention block lets the network turn its own channels and places up or down for "
        "each image. Squeeze-and-excitation gives every channel a weight between 0 and 1; CBAM "
        "does that too, then weighs every position of the map. Below are the weights it chose "
        "for your image, and Grad-CAM's view of where the evidence for the class lies."
    ),
)
glossary.popover_for("attention")


def use_preset() -> None:
    state.set_current_spec(PRESETS[PRESET].spec)
    st.session_state["attention.model"] = YOURS


bundle = pick_model("attention", prefer="Attention CNN on shapes")
if not has_attention(bundle.model):
    st.warning(
        f"**{bundle.name}** has no squeeze-and-excitation or CBAM block, so there are no "
        "attention weights to show. Load a network that has them."
    )
    st.button(f"Use the {PRESET} preset", key="attention.load_preset", on_click=use_preset)
    st.stop()

image = state.current_image()
try:
    read = panel.gates(bundle, image)
except (CNNLabError, ValueError, RuntimeError) as err:
    st.error(f"The attention weights could not be computed: {err}")
    st.stop()
names = list(bundle.class_names)
left, right = st.columns([1, 1])
with left:
    target = target_picker("attention", "Grad-CAM for the class", names, read.probabilities)
    st.page_link(
        "pages/saliency.py",
        icon=":material/visibility:",
        label="More explanations of one decision: the Saliency page",
    )
src = (bundle, image)
right.plotly_chart(panel.probabilities(src, read, target), key="attention.probs")
right.caption(f"Probability of {names[target]}: {float(read.probabilities[target]):.1%}.")

st.subheader("Where: spatial attention and Grad-CAM")
try:
    cam = panel.gradcam(bundle, image, read, target)
except (CNNLabError, ValueError, RuntimeError) as err:
    st.error(f"Grad-CAM could not be computed: {err}")
    st.stop()
panel.spatial_view(src, target, read, cam, names[target])

st.subheader("Which: channel weights")
panel.channel_view(src, read)

with st.expander("Go deeper"):
    st.markdown(
        "Squeeze-and-excitation (Hu et al., 2018) squeezes each channel to its mean "
        "$z_c$, then a small two-layer network gives a weight per channel:"
    )
    st.latex(r"s=\sigma\big(W_2\,\mathrm{ReLU}(W_1 z)\big),\qquad \tilde X_c = s_c\,X_c")
    st.markdown(
        "CBAM (Woo et al., 2018) uses both the mean and the max of each channel, then "
        "a spatial gate from a $k\\times k$ conv over the channel-mean and "
        "channel-max maps:"
    )
    st.latex(
        r"M_s=\sigma\big(f^{k\times k}([\mathrm{mean}_c X;\ \max_c X])\big),\qquad "
        r"\tilde X = M_s \odot X"
    )
    st.markdown(
        "Grad-CAM (Selvaraju et al., 2017) is drawn at the last conv layer's maps after their "
        "activation, weighted by their mean gradient for the class. What this page "
        "answers: attention in CNNs: what the weights are, where they act, and how they "
        "differ from an explanation of one class."
    )
