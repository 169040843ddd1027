"""Adversarial examples: pixel changes too small to see that change the network's answer (FGSM
and PGD), and how accuracy falls as the allowed change ε grows."""

import streamlit as st

from models.errors import CNNLabError
from models.explain.adversarial import DIGITS_SPLIT_SEED, DIGITS_VAL_SHARE
from ui import frame, glossary, state
from ui.model_picker import pick_model
from ui.panels import adversarial as panel

frame(
    "Adversarial examples",
    intro=(
        "The gradient that trains a network also tells an attacker which way to nudge each "
        "pixel to make the network's answer worse. A change of a few values out of 255 per "
        "pixel, invisible to you, is often enough to flip it. FGSM takes one such step; PGD "
        "takes several small ones and is stronger."
    ),
)
glossary.popover_for("adversarial")
bundle = pick_model("adversarial")
names = list(bundle.class_names)
try:
    config, amplify = panel.attack_controls()
    src = panel.source(bundle, state.current_image(), config)
    result = panel.attack(src)
except (CNNLabError, ValueError, RuntimeError) as err:
    st.error(f"The attack could not run: {err}")
    st.stop()
panel.attack_view(src, names, result, amplify)

st.subheader("Accuracy against ε")
st.markdown(
    "The same attack on every image of a held-out set, at several ε. Digits models get "
    f"the digits' validation split ({DIGITS_VAL_SHARE:.0%}, seed {DIGITS_SPLIT_SEED}), which "
    "the shipped digits model never "
    "trained on, nor does one trained on the Train page at its default split. Other "
    "models get shapes drawn with a seed that training never uses."
)
panel.robustness_panel(bundle, config, names)

with st.expander("Go deeper"):
    st.markdown(
        "With cross-entropy loss $L$, label $y$ and pixels $x\\in[0,1]$, FGSM (Goodfellow, "
        "Shlens and Szegedy, 2015) moves every pixel by ε in the direction that raises the "
        "loss. Above, $y$ is the network's own answer on your image; on the ε curve it is the "
        "true label (when the set's classes are the model's)."
    )
    st.latex(r"x_{adv}=\mathrm{clip}_{[0,1]}\big(x+\epsilon\,\mathrm{sign}(\nabla_x L(x,y))\big)")
    st.markdown(
        "PGD (Madry et al., 2018) starts at a random point of the ε-box (if ticked), "
        "repeats steps of size α and projects back into the box "
        "$\\|x'-x\\|_\\infty\\le\\epsilon$ (and into $[0,1]$) after each:"
    )
    st.latex(
        r"x^{t+1}=\Pi_{\|x'-x\|_\infty\le\epsilon}\big(x^t+\alpha\,"
        r"\mathrm{sign}(\nabla_x L(x^t,y))\big)"
    )
    st.markdown(
        "The normalization sits inside the model here, so ε is a change of raw pixel "
        "values. What this page answers: what adversarial examples are and how they are made."
    )
