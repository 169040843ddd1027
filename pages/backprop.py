"""Backpropagation: follow every gradient of a tiny CNN cell by cell, and check them numerically."""

import streamlit as st

from models.errors import CNNLabError
from models.inspect import backprop as bpm
from models.inspect import backprop_steps as steps
from ui import frame, glossary
from ui.panels import backprop as panels

frame(
    "Backpropagation",
    intro=(
        "A network learns by asking, for every weight, how the loss would change if that weight "
        "moved a little: the gradient. Backpropagation finds all of them in one sweep from the "
        "loss back to the input, reusing each layer's gradient for the layer below. Here the "
        "network is small enough to follow every number: a 5×5 input, one 3×3 convolution, "
        "ReLU, a 2×2 max pool with stride 1, a linear layer to two logits and cross-entropy."
    ),
)
glossary.popover_for("backprop")
try:
    bp = panels.network_controls()
except CNNLabError as err:
    st.error(str(err))
    st.stop()

walk_tab, check_tab = st.tabs(["Step through", "Gradient check"])
with walk_tab:
    st.markdown("**When the gradient reaches the max pool, where does ∂L/∂p go?**")
    flows = st.radio(
        "Your prediction",
        [
            "Only to the largest cell of its window",
            "Equally to the four cells of its window",
            "To every cell of the window that is above zero",
        ],
        index=None,
        key="backprop.predict_flow",
    )
    index = panels.step_controls()
    panels.show_network(bp, steps.explain(bp, index))
    panels.step_summary(bp, flows)

with check_tab:
    st.markdown(
        "**Autograd against central differences, (L(θ + h) − L(θ − h)) / 2h, for all 20 "
        "weights: which step size h agrees best in float64?**"
    )
    guess = st.radio(
        "Your prediction",
        ["The smallest, h = 1e-10", "One in the middle", "The largest, h = 0.1"],
        index=None,
        key="backprop.predict_h",
    )
    h, dtype = panels.check_controls()
    checks = panels.gradient_checks(bp)
    best_h = next(c for c in checks if c.dtype == "float64").best[0]
    if guess is not None:
        where = {bpm.STEP_SIZES[0]: "The largest", bpm.STEP_SIZES[-1]: "The smallest"}
        right = guess.startswith(where.get(best_h, "One in the middle"))
        st.markdown(
            f"{'Right' if right else 'Not this time'}: float64 does best at h = {best_h:.0e}."
        )
    panels.show_check(checks, h, dtype)

with st.expander("Go deeper"):
    st.latex(
        r"\frac{\partial L}{\partial w_{i,j}} = \sum_{r,c} \frac{\partial L}{\partial z_{r,c}}"
        r"\, x_{r+i,\,c+j} \qquad \frac{\partial L}{\partial z} = \frac{\partial L}{\partial a}"
        r"\cdot [z > 0] \qquad \frac{\partial L}{\partial a_{\text{winner}}} "
        r"\mathrel{+}= \frac{\partial L}{\partial p}"
    )
    st.latex(
        r"\frac{L(\theta + h e_k) - L(\theta - h e_k)}{2h} = \frac{\partial L}{\partial \theta_k}"
        r" + O(h^2) + O\!\left(\frac{\varepsilon\,|L|}{h}\right)"
    )
    st.markdown(
        "The chain rule, applied from the loss backwards, gives each layer's gradient from the "
        "one above it: that is backpropagation (Rumelhart, Hinton and Williams, “Learning "
        "representations by back-propagating errors”, 1986). A convolution's weight gradient is "
        "itself a correlation of the input with ∂L/∂z. Max pooling has no weights and passes "
        "each gradient to its window's winner; a cell that wins two overlapping windows adds "
        "both. ReLU's derivative is 0 or 1 (PyTorch takes 0 at exactly 0). The numbers are "
        "redrawn until no z is near 0 and no window has a near tie, where the derivative would "
        "not exist and a numerical check would disagree for a reason that is not a bug.\n\n"
        "Gradient checking: the central difference has a truncation error of order h² and a "
        "round-off error of order ε/h (ε ≈ 1e-16 for float64, 1e-7 for float32), so the best h "
        "sits near the cube root of ε. See Baydin et al., “Automatic differentiation in machine "
        "learning: a survey” (2018).\n\n"
        "What this page answers: how backpropagation works, and how to check gradients "
        "numerically."
    )
