"""Transfer learning and domain shift: reuse what a network learnt on one task for another, and
watch a trained network fail as its test images drift away from its training images."""

import streamlit as st

from models.training import transfer as tr
from ui import frame, glossary, jobs, lab
from ui.panels import transfer as panel

frame(
    "Transfer learning and domain shift",
    intro=(
        "A network trained on one task has learnt features (edges, corners, curves) that other "
        "tasks can reuse. Here the shipped TinyVGG, trained on the ten built-in shapes, meets "
        "six new shapes with only a few labelled images each. Then its own test images drift "
        "(colour, noise, blur, scale) and you see how far its accuracy falls, and how much a "
        "few shifted examples bring back."
    ),
)
glossary.popover_for("transfer")
jobs.warm()
bundle = panel.pretrained()
if bundle is None:
    st.stop()

st.subheader("1. Does pretraining help with few labels?")
st.markdown(
    f"The pretrained network is the shipped **{panel.PRETRAINED}** (trained on 6,400 shapes). "
    "The new task: rectangle, L-shape, T-shape, half disc, diamond and hourglass, drawn the "
    "same way. Each arm trains on the same images and is scored on 150 it never saw."
)
spec = panel.arm_settings()
imagenet = panel.imagenet_choice()
lab.predict(f"{panel.PAGE}.arms", "Which start scores best on the new shapes?", tr.ARMS)
panel.run_arms(spec, bundle, imagenet)
lab.watch(f"{panel.PAGE}.arms", panel.show_arms)

st.subheader("2. Accuracy against the number of labelled images")
sizes = panel.curve_sizes()
lab.predict(
    f"{panel.PAGE}.curve",
    "As labelled images grow, what happens to pretraining's head start over training from scratch?",
    ("it shrinks", "it stays about the same", "it grows"),
)
lab.run_button(
    f"{panel.PAGE}.curve",
    f"Train the three arms at {len(sizes)} sizes",
    lambda: tr.plan_curve(sizes, bundle, spec),
    disabled=not sizes,
)
lab.watch(f"{panel.PAGE}.curve", panel.show_curve)

st.subheader("3. Domain shift: the same shapes, a different look")
drift, strength, acc, clean = panel.drift_section(bundle)
st.markdown(panel.drift_words(drift, strength, acc, clean))
lab.predict(
    f"{panel.PAGE}.recover",
    "Fine-tuned on a few shifted images, how much of the lost accuracy comes back?",
    ("almost none", "about half", "most of it"),
)
panel.run_recovery(bundle, drift, strength, acc, clean)
lab.watch(f"{panel.PAGE}.recover", panel.show_recovery)

with st.expander("Go deeper"):
    st.markdown(
        "**Frozen features.** The pretrained layers $f_\\theta$ stay fixed; only a new linear "
        "head $W, b$ learns, a logistic regression on the network's features:"
    )
    st.latex(r"\min_{W,b}\ \frac{1}{N}\sum_i \mathrm{CE}\big(W f_\theta(x_i) + b,\ y_i\big)")
    st.markdown(
        "**Full fine-tuning** starts from the same $\\theta$ and updates everything, at a "
        "smaller rate so the first steps (with a random head) do not wreck the features:"
    )
    st.latex(r"\theta \leftarrow \theta - \eta_{\text{small}}\,\nabla_\theta \mathcal{L}")
    st.markdown(
        "**Domain shift** (here covariate shift): the test inputs come from another "
        "distribution while the labels mean the same, "
        "$p_{\\text{test}}(x) \\neq p_{\\text{train}}(x)$ but "
        "$p_{\\text{test}}(y\\mid x) = p_{\\text{train}}(y\\mid x)$. Nothing in the training "
        "loss asked the network to ignore blur or noise, so it may rely on them.\n\n"
        "Papers: Yosinski et al. (2014), *How transferable are features in deep neural "
        "networks?*; Razavian et al. (2014), *CNN features off-the-shelf*; Kornblith et al. "
        "(2019), *Do better ImageNet models transfer better?*; Hendrycks and Dietterich (2019), "
        "*Benchmarking neural network robustness to common corruptions and perturbations*; "
        "Kumar et al. (2022), *Fine-tuning can distort pretrained features*.\n\n"
        "What this page answers: transfer learning; pretrained models; domain shift."
    )
