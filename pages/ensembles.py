"""Ensembles: several networks trained from different seeds, combined by averaging or voting."""

import streamlit as st

from ui import frame, glossary, jobs
from ui.panels import ensembles as panel

frame(
    "Ensembles",
    intro=(
        "Train the same network five times, changing only the random seed, and each copy "
        "makes somewhat different mistakes. Averaging their answers often beats every single "
        "one. Predict how the ensemble will do, train the five members, and see where they "
        "disagree."
    ),
)
glossary.popover_for("ensembles")
jobs.warm()
panel.controls()
panel.show()

with st.expander("Go deeper"):
    st.markdown("**Soft voting** averages the members' probabilities and takes the top class:")
    st.latex(
        r"\bar p(y \mid x) = \frac{1}{M}\sum_{m=1}^{M} p_m(y \mid x),"
        r"\qquad \hat y = \arg\max_y \bar p(y \mid x)"
    )
    st.markdown("**Majority (hard) voting** counts each member's top class:")
    st.latex(r"\hat y = \arg\max_y \sum_{m=1}^{M} [\arg\max_k p_m(k \mid x) = y]")
    st.markdown(
        "Ties in the vote go to the tied class with the higher averaged probability. If the "
        "members' errors were independent, the vote would be wrong only when most members are; "
        "in practice their errors are correlated, so the gain is smaller. Deep ensembles "
        "(Lakshminarayanan et al., 2017) also give better calibrated confidence, and the "
        "members' disagreement is a cheap measure of uncertainty. Bagging (Breiman, 1996) "
        "adds a different resample of the data per member; here all members see the same "
        "images.\n\nWhat this page answers: ensembling several models."
    )
