"""Imbalance: when one class is rare, why accuracy misleads, and four ways of training on it."""

import streamlit as st

from models.data.shapes import SHAPE_CLASSES
from models.training.imbalance import ImbalanceError
from ui import frame, glossary, jobs, lab
from ui.panels import imbalance as panel

frame(
    "Imbalance",
    intro=(
        "Real data sets are rarely fair: some classes have ten times the images of others. A "
        "network trained to be right as often as possible learns that guessing the common "
        "classes pays. Here four quick runs train on shapes where circles are common and "
        "pentagons rare: plain cross-entropy, class weights, resampling and focal loss."
    ),
)
glossary.popover_for("imbalance")
jobs.warm()

st.subheader("1. Which class gets missed?")
try:
    spec = panel.spec_controls()
except ImbalanceError as err:
    st.error(str(err))
    st.stop()
lab.predict("imbalance", "Which class will plain cross-entropy miss most?", SHAPE_CLASSES)
lab.run_button("imbalance", "Run the four methods (4 quick runs)", panel.make_runs(spec))
lab.watch(
    "imbalance",
    panel.show_results,
    empty="Set the ratio, make your prediction, then run the four methods.",
)

st.subheader("2. The focal term")
st.markdown(
    "Focal loss multiplies cross-entropy by (1 − p)^γ, where p is the probability given to the "
    "true class. Move γ and watch what happens to images the network already finds easy."
)
panel.focal_term()

with st.expander("Go deeper"):
    st.latex(
        r"\text{accuracy} = \frac{\sum_k n_{kk}}{\sum_{k,j} n_{kj}} \qquad "
        r"\text{balanced accuracy} = \frac{1}{K}\sum_k \frac{n_{kk}}{\sum_j n_{kj}} \qquad "
        r"\text{macro-F1} = \frac{1}{K}\sum_k \frac{2\,P_k R_k}{P_k + R_k}"
    )
    st.latex(
        r"\text{class weights: } L = -\frac{1}{N}\sum_i w_{y_i}\log p_{i,y_i},\; "
        r"w_k \propto \frac{1}{n_k} \qquad \text{focal: } -(1-p)^{\gamma}\log p"
    )
    st.markdown(
        "Class weights multiply each image's loss by one over its class's frequency; "
        "resampling (a weighted sampler) draws rare images more often, with replacement, so "
        "each class fills about the same share of every epoch; focal loss (Lin et al., *Focal "
        "Loss for Dense Object Detection*, 2017) silences easy images, which are mostly the "
        "common classes'. Weights and resampling change what the network is asked to "
        "optimise; they usually trade some accuracy on the common classes for recall on the "
        "rare ones. The validation split keeps the imbalance of the whole set (it is "
        "stratified), so plain accuracy is dominated by the common classes: balanced accuracy "
        "(the mean recall) and macro-F1 give every class the same weight. With a few rare "
        "images, one image more or less moves the rare class's recall by a lot: run the "
        "comparison at two ratios before trusting a small difference.\n\n"
        "What this page answers: how to handle class imbalance; why accuracy misleads on "
        "imbalanced data and which metrics to use instead; what focal loss does."
    )
