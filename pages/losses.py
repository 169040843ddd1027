"""Losses: cross-entropy, focal, label-smoothed and hinge losses of one image, their gradients,
index against probability targets, and softmax temperature."""

import streamlit as st

from models.training.losses import LOSSES, LossError
from ui import frame, glossary
from ui.panels import losses as panel

frame(
    "Losses",
    intro=(
        "A classifier gives each class a score (a logit); softmax turns the scores into "
        "probabilities, and the loss says how wrong they are for the true class. Training "
        "follows the loss's gradient, so what matters is not only its value but how hard it "
        "pulls on each score. Drag the true class's probability or type the scores, and read "
        "off five losses and their gradients."
    ),
)
glossary.popover_for("losses")

st.subheader("1. One image, five losses")
guess = st.radio(
    "When the network already gives the true class a fair probability, which loss pulls its "
    "score up hardest?",
    list(LOSSES),
    index=None,
    horizontal=True,
    key="losses.guess",
)
try:
    inputs = panel.explorer_controls()
    report = panel.report(inputs)
except LossError as err:
    st.error(str(err))
    st.stop()
panel.reveal(guess, report)
panel.show_explorer(report, inputs)

st.subheader("2. A class index or a probability target")
st.markdown(
    "PyTorch's `F.cross_entropy` takes the target either as class indices (“sparse”) or as "
    "a probability for every class. Here is the same image both ways, on your logits."
)
try:
    panel.target_forms(inputs)
except LossError as err:
    st.error(str(err))

st.subheader("3. Softmax temperature")
st.markdown(
    "Dividing the logits by a temperature T before the softmax keeps their order but changes "
    "how sure the probabilities sound: knowledge distillation and calibration use it."
)
try:
    panel.temperature(inputs)
except LossError as err:
    st.error(str(err))

with st.expander("Go deeper"):
    st.latex(
        r"p_k = \frac{e^{z_k/T}}{\sum_j e^{z_j/T}} \qquad \text{CE} = -\log p_y \qquad "
        r"\frac{\partial\,\text{CE}}{\partial z_k} = p_k - [k = y]"
    )
    st.latex(
        r"\text{focal} = -(1-p_y)^{\gamma}\log p_y \qquad "
        r"\text{smoothed CE} = -\sum_k q_k \log p_k,\; q_k = (1-\varepsilon)[k=y] + "
        r"\tfrac{\varepsilon}{K}"
    )
    st.latex(
        r"\text{Weston–Watkins: } \sum_{k\ne y}\max(0,\, m - (z_y - z_k)) \qquad "
        r"\text{Crammer–Singer: } \max\big(0,\, m - (z_y - \max_{k\ne y} z_k)\big)"
    )
    st.markdown(
        "Cross-entropy's gradient on the true logit is p − 1: it never quite stops pulling, "
        "which is why a network trained long enough grows over-confident. Focal loss (Lin et "
        "al., *Focal Loss for Dense Object Detection*, 2017) scales it by (1 − p)^γ, so easy "
        "images fall silent and hard ones dominate. Label smoothing (Szegedy et al., "
        "*Rethinking the Inception Architecture*, 2016) moves the best p from 1 to "
        "1 − ε + ε/K. The hinges come from support vector machines (Weston and Watkins, 1999; "
        "Crammer and Singer, 2001): they are exactly zero once the true score leads by the "
        "margin, and ignore probabilities altogether; PyTorch's `nn.MultiMarginLoss` is the "
        "Weston–Watkins form divided by K. MixUp (Zhang et al., 2018) blends two images and "
        "their one-hot targets with the same λ. Temperature scaling: Hinton et al., "
        "*Distilling the Knowledge in a Neural Network* (2015); Guo et al., *On Calibration "
        "of Modern Neural Networks* (2017).\n\n"
        "What this page answers: which loss for classification and why; cross-entropy "
        "with class indices or one-hot targets, and when soft targets need the probability "
        "form; what the softmax temperature does."
    )
