"""Attention: what squeeze-and-excitation and CBAM blocks choose to amplify, channel by channel
and place by place, beside Grad-CAM for the same class."""

import streamlit as st

from models.explain.attention import AttentionError, compute_attention, has_attention
from models.network.presets import PRESETS
from ui import frame, state
from ui.explain import target_picker
from ui.model_picker import pick_model
from viz import attention as aviz
from viz.saliency import probabilities_figure

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


def use_preset() -> None:
    state.set_current_spec(PRESETS[PRESET].spec)
    st.session_state["attention.model"] = "Your model"


bundle = pick_model("attention", prefer="Attention CNN on shapes")
if not has_attention(bundle.model):
    st.warning(f"**{bundle.name}** has no squeeze-and-excitation or CBAM block, so there are no "
               "attention weights to show. Load a network that has them.")  # fmt: skip
    st.button(f"Use the {PRESET} preset", key="attention.load_preset", on_click=use_preset)
    st.stop()

try:
    base = compute_attention(bundle, state.current_image())
except (AttentionError, ValueError, RuntimeError) as err:
    st.error(f"The attention weights could not be computed: {err}")
    st.stop()
names = list(bundle.class_names)
left, right = st.columns([1, 1])
with left:
    target = target_picker("attention", "Grad-CAM for the class", names, base.probabilities)
    st.page_link("pages/saliency.py", icon=":material/visibility:",
                 label="More explanations of one decision: the Saliency page")  # fmt: skip
right.plotly_chart(probabilities_figure(names, base.probabilities, highlight=target),
                   key="attention.probs")  # fmt: skip
result = base if target == base.target else compute_attention(bundle, state.current_image(),
                                                               target)  # fmt: skip

st.subheader("Where: spatial attention and Grad-CAM")
if result.spatial:
    st.caption("CBAM's spatial gate, upsampled to the image: 1 keeps a place, 0 silences it. "
               "It is part of the network and does not depend on the class; Grad-CAM (right) "
               "explains one class after the fact.")  # fmt: skip
else:
    st.caption("This network has only channel attention (squeeze-and-excitation); Grad-CAM "
               "shows where the class evidence lies.")  # fmt: skip
cam_title = f"Grad-CAM, {result.gradcam_maps} (after {result.gradcam_layer}): {names[target]}"
st.plotly_chart(aviz.spatial_figure(result.image, list(result.spatial), result.gradcam,
                                    cam_title), key="attention.spatial")  # fmt: skip

st.subheader("Which: channel weights")
st.caption("Each bar is the number one channel's whole map is multiplied by for this image. "
           "Weights near 1 pass the channel on; weights near 0 mute it.")  # fmt: skip
st.plotly_chart(aviz.channel_weights_figure(list(result.channel)), key="attention.channels")
st.download_button("Channel weights (.csv)",
                   "\n".join(f"{n},{i},{w:.6f}" for n, ws in result.channel
                             for i, w in enumerate(ws)).encode(),
                   "attention_weights.csv", "text/csv", key="attention.download")  # fmt: skip

with st.expander("Go deeper"):
    st.markdown("Squeeze-and-excitation (Hu et al., 2018) squeezes each channel to its mean "
                "$z_c$, then a small two-layer network gives a weight per channel:")  # fmt: skip
    st.latex(r"s=\sigma\big(W_2\,\mathrm{ReLU}(W_1 z)\big),\qquad \tilde X_c = s_c\,X_c")
    st.markdown("CBAM (Woo et al., 2018) uses both the mean and the max of each channel, then "
                "a spatial gate from a $k\\times k$ conv over the channel-mean and "
                "channel-max maps:")  # fmt: skip
    st.latex(r"M_s=\sigma\big(f^{k\times k}([\mathrm{mean}_c X;\ \max_c X])\big),\qquad "
             r"\tilde X = M_s \odot X")  # fmt: skip
    st.markdown(
        "Grad-CAM (Selvaraju et al., 2017) is drawn at the last conv layer's maps after their "
        "activation, weighted by their mean gradient for the class. Answers curriculum "
        "question 47 (attention in CNNs): what the weights are, where they act, and how they "
        "differ from an explanation of one class."
    )
