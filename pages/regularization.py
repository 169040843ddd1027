"""Regularization and normalization: what stops a network memorising a small data set, and why
batchnorm and scaled inputs make training easier."""

import streamlit as st

from ui import frame, glossary, jobs
from ui.panels import regularization as panel

frame(
    "Regularization",
    intro=(
        "With only a few hundred images a network can learn them by heart: the training loss "
        "keeps falling while the validation loss turns up. Dropout, weight decay, augmentation "
        "and early stopping fight that; batchnorm and scaled inputs keep each layer's numbers "
        "at a size the optimizer handles. Predict, run a comparison, and read the curves."
    ),
)
glossary.popover_for("regularization")
jobs.warm()

st.subheader("1. A prepared comparison")
comparison = panel.comparison_controls()
panel.show(comparison)

st.subheader("2. Inside the network: each layer's mean and spread")
st.markdown(
    "Feed 64 shapes through the quick network with and without a batchnorm after each "
    "convolution, and measure what every ReLU (and the logits) puts out."
)
panel.activation_section()

with st.expander("Go deeper"):
    st.markdown("**Weight decay** adds an L2 penalty; with plain SGD it shrinks every weight:")
    st.latex(
        r"L' = L + \tfrac{\lambda}{2}\lVert w\rVert^2,"
        r"\qquad w \leftarrow w - \eta(\nabla L + \lambda w)"
    )
    st.markdown(
        "With Adam the penalty's gradient is rescaled like any other, which is why AdamW "
        "(Loshchilov and Hutter, 2019) decays the weights separately. **Dropout** (Srivastava "
        "et al., 2014) zeroes each unit with probability $p$ in training and scales the rest "
        "by $1/(1-p)$, so nothing changes at test time. **Early stopping** keeps the weights "
        "of the epoch with the lowest validation loss."
    )
    st.markdown("**Batch normalization** (Ioffe and Szegedy, 2015), per channel over a batch:")
    st.latex(
        r"\hat x = \frac{x - \mu_B}{\sqrt{\sigma_B^2 + \epsilon}}, \qquad y = \gamma \hat x + \beta"
    )
    st.markdown(
        "In evaluation $\\mu_B, \\sigma_B$ are replaced by running averages from training. "
        "**Input standardization** uses the training split's per-channel mean and std: "
        "$x' = (x/255 - \\mu)/\\sigma$.\n\n"
        "What this page answers: preprocessing and input normalization; dropout; "
        "overfitting; early stopping; training against validation loss; batch normalization."
    )
