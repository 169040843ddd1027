"""Receptive field: which input pixels one unit can see (theory), and which it uses (gradient)."""

import streamlit as st

from models.inspect import receptive_field as rf
from models.network import formulas
from ui import frame, glossary
from ui.model_picker import pick_model
from ui.panels import receptive_field as panels

frame(
    "Receptive field",
    intro=(
        "A unit deep in a network does not look at the whole image: it sees a square patch, "
        "its receptive field, which grows with every convolution and pooling layer. Pick a "
        "layer and a unit to see its patch on your image. The effective field below shows "
        "which pixels inside that patch really move the unit: usually a blob near the centre."
    ),
)
glossary.popover_for("receptive_field")
ss = st.session_state
bundle = pick_model("receptive_field", ("yours", "shipped", "zoo"))
try:
    fields = panels.fields(bundle)
except rf.ReceptiveFieldError as err:
    st.error(f"The receptive fields of this network could not be computed: {err}")
    st.stop()
layers = rf.spatial_layers(bundle.model, fields)
if not layers:
    st.error("This network has no layer with a feature map, so no unit has a field to show.")
    st.stop()

layer = st.selectbox(
    "Layer (named as in the network)", layers, index=len(layers) - 1, key="receptive_field.layer"
)
info = fields[layer]
(h, w), (in_h, in_w) = info.shape, bundle.input_shape[1:]
for key, side in (("receptive_field.row", h), ("receptive_field.col", w)):
    if not 0 <= ss.get(key, -1) < side:  # a new layer: start at its centre unit
        ss[key] = side // 2

pick, see = st.columns(2)
with pick:
    row, col = panels.unit_picker(bundle, layer, (h, w))
view = rf.describe_unit(info, row, col, (in_h, in_w))
with see:
    panels.show_unit(bundle, info, view, (row, col))
panels.edge_note(info, view, (in_h, in_w))

st.subheader("How the field grows with depth")
panels.show_growth(bundle, max(in_h, in_w))

st.subheader("The effective receptive field")
st.markdown(
    "The gradient of the centre unit of the chosen layer (summed over its channels) "
    "with respect to every input pixel, averaged in absolute value over several images "
    "(Luo et al., 2016). Dashed: the theoretical field."
)
settings = panels.effective_field_controls()
pressed = st.button("Compute the effective field", key="receptive_field.compute", type="primary")
try:
    result = panels.effective_fields(bundle, layer, settings, pressed)
except (rf.ReceptiveFieldError, RuntimeError) as err:
    st.error(f"The effective field could not be computed: {err}")
    result = None
if result is not None:
    panels.show_effective_fields(bundle, layer, settings, result)

with st.expander("Go deeper"):
    st.markdown(
        "For a layer with kernel $k$, stride $s$, padding $p$ and dilation $d$, the "
        "field size $r$, jump $j$ and centre of the first unit $u$ follow from the "
        "layer before (Araujo, Norris and Sim, Distill 2019):"
    )
    st.latex(formulas.FIELD_RULE + r", \qquad " + formulas.JUMP_RULE)
    st.latex(r"u_l = u_{l-1} + \Big(\frac{(k_l - 1)\,d_l}{2} - p_l\Big)\,j_{l-1}")
    st.latex(r"\text{unit } (a, b) \text{ sees rows } u_l + a\,j_l \pm \tfrac{r_l - 1}{2}")
    st.markdown(
        "Where branches join (residual additions, inception blocks), the widest path "
        "decides. After global pooling or flatten a unit depends on the whole image. "
        "Three 3×3 convs see 7×7 pixels, as one 7×7 conv would, with fewer weights; "
        "dilations 1, 2, 4 reach 15×15 with the same nine weights per layer.\n\n"
        "What this page answers: small against large filters and how to choose kernel "
        "sizes; dilated convolutions."
    )
