"""Receptive field: which input pixels one unit can see (theory), and which it uses (gradient)."""

import streamlit as st

from models import receptive_field as rf
from ui import frame, state
from viz import receptive_field as viz

frame(
    "Receptive field",
    intro=(
        "A unit deep in a network does not look at the whole image: it sees a square patch, "
        "its receptive field, which grows with every convolution and pooling layer. Pick a "
        "layer and a unit to see its patch on your image. The effective field below shows "
        "which pixels inside that patch really move the unit: usually a blob near the centre."
    ),
)
ss = st.session_state
bundle = state.current_model()
try:
    fields = rf.compute_receptive_fields(bundle.model, bundle.input_shape)
except rf.ReceptiveFieldError as err:
    st.error(f"The receptive fields of this network could not be computed: {err}")
    st.stop()
layers = rf.spatial_layers(bundle.model, fields)
if not layers:
    st.error("This network has no layer with a feature map, so no unit has a field to show.")
    st.stop()


def pick_clicked_unit() -> None:
    """Copy the unit clicked on the feature map into the row and column sliders."""
    points = ss["receptive_field.map"].selection.points
    if points:
        ss["receptive_field.row"] = int(points[0]["y"])
        ss["receptive_field.col"] = int(points[0]["x"])


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
    row = st.slider("Unit row", 0, h - 1, key="receptive_field.row") if h > 1 else 0
    col = st.slider("Unit column", 0, w - 1, key="receptive_field.col") if w > 1 else 0
    fmap = rf.capture_feature_map(bundle, layer, state.current_image())
    st.plotly_chart(
        viz.unit_picker_figure(fmap, (row, col)),
        key="receptive_field.map",
        on_select=pick_clicked_unit,
        selection_mode="points",
    )
    st.caption(f"{layer}: {h}×{w} units (mean |activation| over channels). Click one to pick it.")
view = rf.describe_unit(info, row, col, (in_h, in_w))
top, bottom, left, right = view.box
with see:
    preview = rf.input_preview(state.current_image(), bundle)
    st.plotly_chart(viz.field_box_figure(preview, view.box, view.centre), key="receptive_field.box")
    st.markdown(
        f"**Unit ({row}, {col}) sees rows {top}–{bottom}, columns {left}–{right}** "
        f"of the {in_h}×{in_w} input."
    )
    st.caption(
        f"Field {info.size}×{info.size_w} pixels; neighbouring units are {info.jump} "
        f"pixel(s) apart (the jump); the first unit is centred on pixel {info.start:g}."
    )
if view.outgrows:
    st.warning(
        f"This field ({info.size} pixels) has outgrown the {in_h}×{in_w} input: units "
        "of this layer see the whole image and, around it, zero padding (grey)."
    )
elif view.sees_padding:
    st.info("Part of this unit's field lies outside the image (grey): there it sees padding.")

st.subheader("How the field grows with depth")
stacks_col, depth_col = st.columns([3, 1])
stacks = stacks_col.multiselect(
    "Compare with stacks of",
    list(rf.COMPARISON_STACKS),
    default=["3×3 convs", "dilated 3×3 (1, 2, 4, …)"],
    key="receptive_field.stacks",
)
depth = depth_col.slider("Stack depth (blocks)", 1, 8, 5, key="receptive_field.depth")
curves = rf.growth_curves(bundle, stacks, depth)
st.plotly_chart(viz.growth_figure(curves, max(in_h, in_w)), key="receptive_field.growth")
st.caption(
    "Only layers that change the field are counted. Stacks have one channel and a "
    f"{rf.STACK_INPUT}×{rf.STACK_INPUT} input; a pool block is a 3×3 conv and a 2×2 "
    "max pool."
)

st.subheader("The effective receptive field")
st.markdown(
    "The gradient of the centre unit of the chosen layer (summed over its channels) "
    "with respect to every input pixel, averaged in absolute value over several images "
    "(Luo et al., 2016). Dashed: the theoretical field."
)
src_col, n_col, seed_col = st.columns(3)
source = src_col.radio(
    "Images", ["Random noise", "Crops of your image"], horizontal=True, key="receptive_field.source"
)
n_images = n_col.slider("Number of images", 1, 32, 16, key="receptive_field.n_images")
seed = seed_col.number_input("Seed", 0, 10_000, 0, key="receptive_field.seed")
if st.button("Compute the effective field", key="receptive_field.compute", type="primary"):
    image = state.current_image() if source == "Crops of your image" else None
    with st.spinner(f"Back-propagating from {layer} through {n_images} images…"):
        try:
            inputs = rf.sample_inputs(bundle, n_images, int(seed), image)
            ss["_receptive_field.erf"] = rf.compare_effective_fields(bundle, layer, inputs)
        except (rf.ReceptiveFieldError, RuntimeError) as err:
            st.error(f"The effective field could not be computed: {err}")
result = ss.get("_receptive_field.erf")
if result is not None:
    mine, fresh = result
    label = "trained weights" if bundle.trained else "these (untrained) weights"
    shown = {label: mine} | ({"fresh untrained weights": fresh} if fresh else {})
    for column, (name, erf) in zip(st.columns(len(shown)), shown.items(), strict=True):
        box = erf.info.box(*erf.unit)
        title = f"{erf.layer}, unit {erf.unit}: {name}"
        column.plotly_chart(
            viz.effective_field_figure(erf.grad, box, title), key=f"receptive_field.erf.{name}"
        )
    shares = {name: (erf.sides, erf.shares) for name, erf in shown.items()}
    st.plotly_chart(viz.mass_share_figure(shares, mine.info.size), key="receptive_field.mass")
    if not bundle.trained:
        st.caption("Train the network on the Train page to compare trained and untrained fields.")
    st.download_button(
        "Download the gradient map (CSV)",
        rf.effective_field_csv(mine),
        file_name=f"effective_field_{mine.layer}.csv",
        mime="text/csv",
        key="receptive_field.download",
    )

with st.expander("Go deeper"):
    st.markdown(
        "For a layer with kernel $k$, stride $s$, padding $p$ and dilation $d$, the "
        "field size $r$, jump $j$ and centre of the first unit $u$ follow from the "
        "layer before (Araujo, Norris and Sim, Distill 2019):"
    )
    st.latex(r"r_l = r_{l-1} + (k_l - 1)\,d_l\,j_{l-1}, \qquad j_l = j_{l-1}\,s_l")
    st.latex(r"u_l = u_{l-1} + \Big(\frac{(k_l - 1)\,d_l}{2} - p_l\Big)\,j_{l-1}")
    st.latex(r"\text{unit } (a, b) \text{ sees rows } u_l + a\,j_l \pm \tfrac{r_l - 1}{2}")
    st.markdown(
        "Where branches join (residual additions, inception blocks), the widest path "
        "decides. After global pooling or flatten a unit depends on the whole image. "
        "Three 3×3 convs see 7×7 pixels, as one 7×7 conv would, with fewer weights; "
        "dilations 1, 2, 4 reach 15×15 with the same nine weights per layer.\n\n"
        "Answers curriculum questions 27 and 45 (small against large filters, kernel "
        "sizes) and 40 (dilated convolutions)."
    )
