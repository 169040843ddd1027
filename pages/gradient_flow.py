"""Gradient flow: why deep plain stacks stop learning, and what skips and batchnorm change."""

import streamlit as st

from models.errors import CNNLabError
from ui import frame, glossary, jobs
from ui.panels import gradient_flow as panel

frame(
    "Gradient flow",
    intro=(
        "A layer learns from the gradient that reaches it, and in a deep network that gradient "
        "has passed back through every layer above. Here each network's gradient is measured "
        "layer by layer, at the start and after a few steps. Then train a plain and a residual "
        "network of the same depth, and networks of several depths and widths, and compare."
    ),
)
glossary.popover_for("gradient_flow")
jobs.warm()

st.subheader("1. How big is each layer's gradient?")
guess = st.radio(
    "In a plain 20-layer ReLU stack with PyTorch's default weights, which layer gets the "
    "smallest gradient?",
    [panel.FIRST, panel.LAST, panel.SAME],
    index=None,
    horizontal=True,
    key="gradient_flow.guess",
)
try:
    variants, settings, log = panel.flow_controls()
    found = panel.measured(variants, settings)
except CNNLabError as err:
    st.error(str(err))
else:
    panel.show_flow(found, settings, log, guess)

st.subheader("2. Plain against residual: the degradation problem")
panel.degradation()

st.subheader("3. Deeper or wider?")
panel.sweep()

with st.expander("Go deeper"):
    st.latex(
        r"\frac{\partial L}{\partial W_1} = \frac{\partial L}{\partial x_n}"
        r"\prod_{l=2}^{n} \frac{\partial x_l}{\partial x_{l-1}} \frac{\partial x_1}{\partial W_1}"
        r"\qquad \sigma'(z) \le \tfrac14"
    )
    st.latex(
        r"x_{l} = \mathrm{ReLU}\big(x_{l-1} + F(x_{l-1})\big) \;\Rightarrow\; "
        r"\frac{\partial x_l}{\partial x_{l-1}} = "
        r"D_l\Big(I + \frac{\partial F}{\partial x_{l-1}}\Big)"
    )
    st.markdown(
        "Each factor of the product is one layer's weights times its activation's slope. "
        "If their size is below 1 the product shrinks exponentially with depth: vanishing "
        "gradients (Hochreiter, 1991; Glorot and Bengio, 2010). A sigmoid's slope is at most "
        "1/4, so sigmoid stacks vanish fastest. PyTorch's default weights (variance "
        "1/(3·fan_in)) shrink a ReLU signal at every layer; He et al.'s initialisation "
        "(*Delving deep into rectifiers*, 2015) uses variance 2/fan_in to hold it steady. "
        "Batchnorm (Ioffe and Szegedy, 2015) rescales every layer's output, and a residual "
        "connection adds the identity I to each factor, so the gradient always has a path "
        "(He et al., *Deep residual learning for image recognition*, 2016).\n\n"
        "He et al. found that a plain 56-layer network had *higher training error* than a "
        "20-layer one: not overfitting but optimisation trouble, the degradation problem. "
        "Their CIFAR networks are the ones built here: a stem, three stages that double the "
        "width and halve the map, global average pooling and one linear layer; the shortcut "
        "where the shape changes is their option A (subsample, pad with zero channels), so "
        "plain and residual networks have exactly the same weights. The quick runs train at "
        "16×16 for five epochs, so they show the start of the story, not its end.\n\n"
        "What this page answers: vanishing and "
        "exploding gradients, very deep networks and depth against width, residual "
        "connections and what skips buy."
    )
