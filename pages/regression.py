"""Regression: a CNN that outputs a number (a shape's size, angle or position), against bins."""

import streamlit as st

from models.training.regression import arm_label
from ui import frame, glossary, jobs, lab
from ui.panels import regression as panel

frame(
    "Regression",
    intro=(
        "A CNN can answer with a number instead of a class: end it in one linear unit and "
        "train it to shrink the squared error. Here it learns the size, the heading or the "
        "position of a drawn arrow. Is that better than cutting the range into bins and "
        "classifying? And what goes wrong with angles, where 359° sits next to 1°?"
    ),
)
glossary.popover_for("regression")
jobs.warm()
setup = panel.setup_controls()
if setup is None:
    st.stop()
st.subheader(f"What the network must read off: the {setup.target}")
panel.examples(setup)
if setup.target == "angle":
    st.subheader("Angles wrap around")
    panel.wraparound()

st.subheader("Which head gets closer?")
options = [arm_label(setup, head) for head in setup.heads()]
guess = lab.predict(
    f"regression.{setup.target}", "Which head will have the smallest mean error?", options
)
panel.run_button(setup)
jobs.live_panel(panel.JOBS, lambda handles: panel.draw(handles, guess), panel.keep)

with st.expander("Go deeper"):
    st.markdown("**Losses.** For outputs ŷ and targets y (standardized by the target's range):")
    st.latex(r"\text{MSE} = \frac{1}{N}\sum_i (\hat y_i - y_i)^2")
    st.latex(
        r"\text{Huber}_\delta(e) = \begin{cases} \tfrac12 e^2 & |e| \le \delta \\ "
        r"\delta\,(|e| - \tfrac12\delta) & |e| > \delta \end{cases},\quad \delta = 1"
    )
    st.markdown(
        "Huber is the squared error for small misses and grows only linearly for large ones, "
        "so a few wild answers (a flipped arrow) pull less on the weights. With targets "
        "standardized, δ = 1 means one standard deviation of the target.\n\n"
        "**Angles.** Train on (sin θ, cos θ) and read the angle back with"
    )
    st.latex(
        r"\hat\theta = \operatorname{atan2}(\hat s, \hat c), \qquad "
        r"e = ((\hat\theta - \theta + 180°) \bmod 360°) - 180°"
    )
    st.markdown(
        "The error is measured around the circle, so 359° against 1° counts as 2°. An arrow "
        "has one heading; a square would repeat every 90° and its angle is only defined up to "
        "that symmetry (predict (sin 4θ, cos 4θ) for it).\n\n"
        "**Bins.** A classifier over B bins answers with a bin's centre: its error is at least "
        "the distance to that centre, a quarter of a bin's width on average. Ordinal and "
        "mixed heads (classify a bin, then regress an offset inside it) combine both.\n\n"
        "Papers: Huber, “Robust estimation of a location parameter” (1964); Beyer et al., "
        "“Biternion nets: continuous head pose regression from discrete training labels” "
        "(2015), on (sin, cos) encodings; Rothe et al., “DEX: deep expectation of apparent "
        "age” (2015), regression as classification over bins. What this page answers: "
        "regression with a CNN."
    )
