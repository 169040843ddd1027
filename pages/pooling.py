"""Pooling: max, average and LP pooling, global pooling, spatial pyramids and shift tolerance."""

import streamlit as st

from models.network import formulas
from models.operations import pooling as pool
from ui import frame, state
from viz import pooling as pviz

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
ss = st.session_state

c = st.columns(5)
mode = c[0].radio("Pooling", list(pool.MODES), format_func=pool.MODES.get, key="pooling.mode")
kernel = c[1].slider("Window K (cells)", 1, 6, 2, key="pooling.window")
stride = c[2].slider("Stride S (cells)", 1, 6, 2, key="pooling.stride")
padding = c[3].slider("Padding P (cells per side)", 0, 3, 0, key="pooling.padding")
ceil = c[4].toggle("ceil_mode (keep a part window)", key="pooling.ceil")
norm = c[4].slider("LP norm p", 1.0, 16.0, 2.0, 0.5, key="pooling.norm", disabled=mode != "lp")
try:
    settings = pool.PoolSettings(mode, kernel, stride, padding, ceil, norm)
except pool.PoolError as err:
    st.error(str(err))
    st.stop()

grid_tab, map_tab, global_tab, shift_tab = st.tabs(
    ["Numbers", "Your image or a feature map", "Global and pyramid pooling", "Shifts"]
)
with grid_tab:
    a, b = st.columns(2)
    side = a.slider("Grid side (cells)", 3, 8, 6, key="pooling.grid_side")
    seed = b.number_input("Seed for the numbers", 0, 10_000, 0, key="pooling.grid_seed")
    try:
        gp = pool.pool_grid(pool.sample_grid(side, seed), settings)
    except pool.PoolError as err:
        st.error(str(err))
    else:
        cells = [(i, j) for i in range(gp.output.shape[0]) for j in range(gp.output.shape[1])]
        cell = st.selectbox("Output cell", cells, key="pooling.cell",
                            format_func=lambda ij: f"row {ij[0]}, column {ij[1]}")  # fmt: skip
        st.plotly_chart(pviz.pool_grid_figure(gp, cell), key="pooling.grid_chart")
        pooled = ", ".join(f"({r}, {q})" for r, q in gp.cells(*cell))
        line = f"Output ({cell[0]}, {cell[1]}) = **{gp.output[cell]:.4g}** pooled cells {pooled}"
        if gp.winners is not None:
            line += f"; the winner is cell {divmod(int(gp.winners[cell]), side)} (orange)."
        st.markdown(line)

with map_tab:
    source = st.radio("Pool", ["Your image (gray)", "A feature map of the current model"],
                      horizontal=True, key="pooling.source")  # fmt: skip
    try:
        if source.startswith("Your"):
            x = pool.image_map(state.current_image())
        else:
            bundle = state.current_model()
            a, b = st.columns(2)
            layer = a.selectbox("Conv layer", pool.conv_layer_names(bundle.model),
                                key="pooling.layer")  # fmt: skip
            maps = pool.feature_map(bundle, state.current_image(), layer)
            index = b.number_input(f"Channel (0 to {maps.shape[1] - 1})", 0,
                                   maps.shape[1] - 1, 0, key="pooling.channel")  # fmt: skip
            x = pool.channel(maps, int(index))
        report = pool.pool_report(x, settings)
    except pool.PoolError as err:
        st.error(str(err))
    else:
        (h, w), (oh, ow) = report.in_shape, report.out_shape
        st.markdown(f"**Output size: {oh}×{ow}** (from {h}×{w})")
        for name, n in (("Height", h), ("Width", w)) if h != w else (("", w),):
            if name:
                st.markdown(f"{name}, from {n} cells:")
            st.latex(settings.size_formula(n).display)
            if note := settings.size_note(n):
                st.caption(note)
        m = st.columns(3)
        m[0].metric("Map size kept", f"{report.kept_share:.1%}", help="outputs ÷ inputs")
        never = "inputs that reach no output: never the max, or under no window"
        m[1].metric("Inputs discarded", f"{report.discarded_share:.1%}", help=never)
        m[2].metric("Inputs under no window", f"{report.unseen_share:.1%}")
        st.plotly_chart(pviz.maps_figure(x[0, 0].numpy(), report.output, pool.MODES[mode]),
                        key="pooling.maps_chart")  # fmt: skip
        st.download_button("Download the pooled map (CSV)", pool.to_csv(report.output),
                           file_name="pooled.csv", key="pooling.download")  # fmt: skip

with global_tab:
    rgb = pool.image_map(state.current_image(), gray=False)
    avg, top = pool.global_pool(rgb)
    st.markdown("**Global pooling** turns each channel into one number, whatever the size.")
    st.plotly_chart(pviz.global_pool_figure(avg, top, ["red", "green", "blue"]),
                    key="pooling.global_chart")  # fmt: skip
    levels = st.multiselect("Pyramid levels (n×n windows each)", [1, 2, 3, 4, 6], [1, 2, 4],
                            key="pooling.levels")  # fmt: skip
    try:
        pyramid = pool.compute_pyramid(rgb, tuple(sorted(levels)))
    except pool.PoolError as err:
        st.error(str(err))
    else:
        st.markdown("**Spatial pyramid pooling**: three sizes of your image, each one vector of "
                    f"{pyramid.vectors.shape[1]} numbers, one per channel and window:")  # fmt: skip
        st.latex(pyramid.length.display)
        st.plotly_chart(pviz.pyramid_figure(pyramid), key="pooling.pyramid_chart")

with shift_tab:
    a, b = st.columns(2)
    max_shift = a.slider("Largest shift (pixels)", 1, 16, 8, key="pooling.max_shift")
    factor = b.slider("Downsampling factor", 2, 4, 2, key="pooling.factor")
    image, bundle = state.current_image(), state.current_model()
    inputs = (id(image), id(bundle), max_shift, factor)  # computed again only when these change
    if ss.get("_pooling.shift_for") != inputs:
        try:
            moved = pool.compute_shifts(pool.image_map(image, 64), max_shift, factor, bundle, image)
        except pool.PoolError as err:
            moved = err
        ss["_pooling.shift_for"], ss["_pooling.shift"] = inputs, moved
        ss["_pooling.shift_of"] = (image, bundle)  # kept alive, so their ids stay theirs
    moved = ss["_pooling.shift"]
    if isinstance(moved, pool.PoolError):
        st.error(str(moved))
    else:
        st.plotly_chart(pviz.shift_figure(moved), key="pooling.shift_chart")
        st.markdown("\n".join(f"- {line}" for line in pool.shift_conclusion(moved)))
        st.caption(
            "Your picture in gray (64 pixels a side at most) slides right and wraps around, so "
            "borders play no part. Four fixed edge filters with ReLU make an edge map, "
            "downsampled five ways; each is compared (cosine similarity) with the unshifted "
            "map moved by the same shift on its own grid, or by the better of the two nearest "
            "cells when the shift falls between them. 1 means the map moved exactly with the "
            "picture. The model sees the picture slide without wrapping (its left edge "
            "repeated). After Zhang, “Making convolutional networks shift-invariant again” "
            "(2019); the sentences above are written from these measurements."
        )

with st.expander("Go deeper"):
    st.latex(r"\text{max: } y = \max_{(i,j)\in R} x_{ij} \qquad \text{average: } "
             r"y = \frac{1}{|R|}\sum_{(i,j)\in R} x_{ij} \qquad "
             r"\text{LP: } y = \Big(\sum_{(i,j)\in R} x_{ij}^{\,p}\Big)^{1/p}")  # fmt: skip
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
        "Questions this page answers: what pooling does and why; max against average pooling; "
        "output size of a pooling layer; global average pooling instead of flatten; how much "
        "(or how little) pooling tolerates shifts; handling inputs of different sizes."
    )
