"""Pooling: max, average and LP pooling, global pooling, spatial pyramids and shift tolerance."""

import streamlit as st

from models.network import formulas
from models.operations import pooling as pool
from ui import frame, glossary
from ui.model_picker import pick_model
from ui.panels import pooling as panels

frame(
    "Pooling",
    intro=(
        "Pooling slides a window over a map and keeps one number per window: the largest (max "
        "pooling), the mean (average pooling) or the window's p-norm (LP pooling: p = 1 adds "
        "the window up, a large p comes close to the largest). The map gets smaller and the "
        "network cheaper. Change the window and stride and watch which inputs survive; the "
        "Shifts tab measures what pooling does, and does not do, when the picture moves."
    ),
)
glossary.popover_for("pooling")
try:
    settings = panels.settings_controls()
except pool.PoolError as err:
    st.error(str(err))
    st.stop()
bundle = pick_model("pooling")

grid_tab, map_tab, global_tab, shift_tab = st.tabs(
    ["Numbers", "Your image or a feature map", "Global and pyramid pooling", "Shifts"]
)
with grid_tab:
    panels.numbers(settings)
with map_tab:
    try:
        view = panels.pooled(panels.map_to_pool(bundle), settings)
    except pool.PoolError as err:
        st.error(str(err))
    else:
        panels.show_report(view, settings)
with global_tab:
    panels.global_and_pyramid()
with shift_tab:
    panels.shifts(bundle)

with st.expander("Go deeper"):
    st.latex(
        r"\text{max: } y = \max_{(i,j)\in R} x_{ij} \qquad \text{average: } "
        r"y = \frac{1}{|R|}\sum_{(i,j)\in R} x_{ij} \qquad "
        r"\text{LP: } y = \Big(\sum_{(i,j)\in R} x_{ij}^{\,p}\Big)^{1/p}"
    )
    st.latex(formulas.POOL_SIZE_RULE)
    st.latex(r"\text{ceil\_mode: } " + formulas.POOL_CEIL_SIZE_RULE)
    st.markdown(
        "With `ceil_mode` the floor becomes a ceiling, so a last window that hangs over the edge "
        "is kept, unless it would start in the right padding: then the bracket is 1 and PyTorch "
        "drops that window. With a dilation D (PyTorch's max pooling has one, this page does "
        "not) K becomes D(K − 1) + 1. Max pooling pads with −∞ and average pooling with 0 "
        "(counted in the mean by default). LP pooling is a power sum, not a mean: p = 1 is sum "
        "pooling (K² times the average) and a large p approaches the maximum (for values ≥ 0); "
        "PyTorch's documentation says power-average, but nothing is divided by the window "
        "size. Spatial pyramid pooling (He et al., 2014) pools each map into 1×1, 2×2, 4×4 … "
        "grids so any image size gives one vector. Shifts: pooling keeps a map moving with "
        "the picture only for shifts that land on its grid; blurring before subsampling (Zhang, "
        "2019) narrows the gap.\n\n"
        "What this page answers: what pooling does and why; max against average pooling; "
        "output size of a pooling layer; global average pooling instead of flatten; how much "
        "(or how little) pooling tolerates shifts; handling inputs of different sizes."
    )
