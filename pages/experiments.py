"""Compare runs: change one thing, train quick runs side by side, and compare every run."""

import streamlit as st

from models.training.experiments import quick_setup
from ui import frame, glossary, jobs
from ui.panels import experiments as panel

QUICK = quick_setup().describe()

frame(
    "Compare runs",
    intro=(
        "Does dropout help? Is a bigger learning rate faster? Change one thing, keep everything "
        f"else equal, and let the curves answer. Quick runs (TinyVGG's layers, {QUICK}) take "
        "seconds each, so predict first, then run. Every run you make here, on Train or in the "
        "Augmentation experiment is kept below, to compare and download."
    ),
)
glossary.popover_for("experiments")
jobs.warm()
st.subheader("1. Change one thing")
panel.experiment_controls()
jobs.live_panel(panel.JOBS, panel.draw_experiment, panel.keep_run)

st.subheader("2. Your runs")
history = panel.compare()
panel.save_and_open(history)

with st.expander("Go deeper"):
    st.markdown(
        "**Why change one thing.** If two settings change at once, a difference cannot be "
        "pinned on either. Everything here is held equal but the chosen setting: the network, "
        "the data drawn, the split and the seed (unless you vary the seed itself).\n\n"
        "**Noise.** Two runs that differ only in their seed still end apart: initial weights, "
        "shuffling and flips are drawn anew. Run two or three seeds per value and look at the "
        "bands: a difference smaller than a band's width is not yet evidence.\n\n"
        f"**Quick runs.** TinyVGG's layers, {QUICK}, with the default one-cycle schedule and "
        "random flips. A comparison that matters still shows within those few epochs; "
        "absolute accuracies are lower than a full run's. Runs from different sessions share "
        "the server's workers in turn, so one student's long queue never holds back another's "
        "single run."
    )
    st.markdown(
        "What this page answers: learning rate and batch size; optimizers; dropout, "
        "weight decay and data set size against overfitting; batch normalization; data "
        "augmentation; loss functions and class imbalance; why results vary between runs."
    )
