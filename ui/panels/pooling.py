"""Widgets of the Pooling page: the numbers, a map pooled, global and pyramid pooling, shifts."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
import streamlit as st
import torch

from models.bundle import ModelBundle
from models.operations import pooling as pool
from ui import results, state
from viz import pooling as pviz

PAGE = "pooling"
FEATURE_MAP = "A feature map of the current model"
# What the map tab pools: (image,) in gray, or (image, model, conv layer, channel)
MapSource = tuple
SHIFT_NOTE = (
    "Your picture in gray (64 pixels a side at most) slides right and wraps around, so "
    "borders play no part. Four fixed edge filters with ReLU make an edge map, "
    "downsampled five ways; each is compared (cosine similarity) with the unshifted "
    "map moved by the same shift on its own grid, or by the better of the two nearest "
    "cells when the shift falls between them. 1 means the map moved exactly with the "
    "picture. The model sees the picture slide without wrapping (its left edge "
    "repeated). After Zhang, “Making convolutional networks shift-invariant again” "
    "(2019); the sentences above are written from these measurements."
)


def settings_controls() -> pool.PoolSettings:
    """Mode, window, stride, padding, ceil_mode and p; raises PoolError on a bad mix."""
    c = st.columns(5)
    mode = c[0].radio("Pooling", list(pool.MODES), format_func=pool.MODES.get, key="pooling.mode")
    kernel = c[1].slider("Window K (cells)", 1, 6, 2, key="pooling.window")
    stride = c[2].slider("Stride S (cells)", 1, 6, 2, key="pooling.stride")
    padding = c[3].slider("Padding P (cells per side)", 0, 3, 0, key="pooling.padding")
    ceil = c[4].toggle("ceil_mode (keep a part window)", key="pooling.ceil")
    norm = c[4].slider("LP norm p", 1.0, 16.0, 2.0, 0.5, key="pooling.norm", disabled=mode != "lp")
    return pool.PoolSettings(mode, kernel, stride, padding, ceil, norm)


def numbers(settings: pool.PoolSettings) -> None:
    """A small seeded grid pooled, with one output cell's window and winner."""
    a, b = st.columns(2)
    side = a.slider("Grid side (cells)", 3, 8, 6, key="pooling.grid_side")
    seed = b.number_input("Seed for the numbers", 0, 10_000, 0, key="pooling.grid_seed")
    try:
        gp = results.memo(
            PAGE,
            "grid",
            (settings, side, int(seed)),
            lambda: pool.pool_grid(pool.sample_grid(side, int(seed)), settings),
        )
    except pool.PoolError as err:
        st.error(str(err))
        return
    rows, cols = gp.output.shape
    cells = [(i, j) for i in range(rows) for j in range(cols)]
    cell = st.selectbox(
        "Output cell",
        cells,
        key="pooling.cell",
        format_func=lambda ij: f"row {ij[0]}, column {ij[1]}",
    )
    figure = results.memo(
        PAGE,
        "grid_chart",
        (settings, side, int(seed), cell),
        lambda: pviz.pool_grid_figure(gp, cell),
    )
    st.plotly_chart(figure, key="pooling.grid_chart")
    pooled = ", ".join(f"({r}, {q})" for r, q in gp.cells(*cell))
    line = f"Output ({cell[0]}, {cell[1]}) = **{gp.output[cell]:.4g}** pooled cells {pooled}"
    if gp.winners is not None:
        line += f"; the winner is cell {divmod(int(gp.winners[cell]), side)} (orange)."
    st.markdown(line)


def map_to_pool(bundle: ModelBundle) -> MapSource:
    """Your image in gray, or one channel of a conv layer's feature map: what to pool."""
    source = st.radio(
        "Pool", ["Your image (gray)", FEATURE_MAP], horizontal=True, key="pooling.source"
    )
    image = state.current_image()
    if source != FEATURE_MAP:
        return (image,)
    a, b = st.columns(2)
    layer = a.selectbox("Conv layer", pool.conv_layer_names(bundle.model), key="pooling.layer")
    maps = _feature_maps(bundle, image, layer)
    last = maps.shape[1] - 1
    index = b.number_input(f"Channel (0 to {last})", 0, last, 0, key="pooling.channel")
    return (image, bundle, layer, int(index))


def _feature_maps(bundle: ModelBundle, image, layer: str) -> torch.Tensor:
    """A conv layer's maps, once per model, image and layer (for the class on a shared model)."""
    return results.memo(
        PAGE,
        "feature_map",
        (bundle, image, layer),
        lambda: pool.feature_map(bundle, image, layer),
    )


def _map(src: MapSource) -> torch.Tensor:
    if len(src) == 1:
        return pool.image_map(src[0])
    image, bundle, layer, index = src
    return pool.channel(_feature_maps(bundle, image, layer), index)


@dataclass(frozen=True)
class Pooled:
    """One map pooled: the map, what pooling did, the figure and the CSV."""

    x: torch.Tensor  # (1, 1, H, W)
    report: pool.PoolReport
    figure: go.Figure
    csv: str


def _pool(src: MapSource, settings: pool.PoolSettings) -> Pooled:
    x = _map(src)
    report = pool.pool_report(x, settings)
    figure = pviz.maps_figure(x[0, 0].numpy(), report.output, pool.MODES[settings.mode])
    return Pooled(x, report, figure, pool.to_csv(report.output))


def pooled(src: MapSource, settings: pool.PoolSettings) -> Pooled:
    """The map pooled, with its figure and CSV: made once per source and settings, for the
    whole class when the model is shared; raises PoolError on a bad mix."""
    return results.memo(PAGE, "pooled", (src, settings), lambda: _pool(src, settings))


def show_report(view: Pooled, settings: pool.PoolSettings) -> None:
    """The output size with its formula, what was kept and lost, the maps and a download."""
    report = view.report
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
    st.plotly_chart(view.figure, key="pooling.maps_chart")
    st.download_button(
        "Download the pooled map (CSV)",
        view.csv,
        file_name="pooled.csv",
        key="pooling.download",
    )


def global_and_pyramid() -> None:
    """Global average and max pooling of your image's colours, then a spatial pyramid."""
    image = state.current_image()
    avg, top, figure = results.memo(PAGE, "global", image, lambda: _global(image))
    st.markdown("**Global pooling** turns each channel into one number, whatever the size.")
    st.plotly_chart(figure, key="pooling.global_chart")
    st.caption(
        "Red, green, blue: global average "
        + ", ".join(f"{v:.3f}" for v in avg)
        + "; global max "
        + ", ".join(f"{v:.3f}" for v in top)
        + "."
    )
    levels = st.multiselect(
        "Pyramid levels (n×n windows each)", [1, 2, 3, 4, 6], [1, 2, 4], key="pooling.levels"
    )
    try:
        pyramid, figure = results.memo(
            PAGE, "pyramid", (image, tuple(sorted(levels))), lambda: _pyramid(image, levels)
        )
    except pool.PoolError as err:
        st.error(str(err))
        return
    st.markdown(
        "**Spatial pyramid pooling**: three sizes of your image, each one vector of "
        f"{pyramid.vectors.shape[1]} numbers, one per channel and window:"
    )
    st.latex(pyramid.length.display)
    st.plotly_chart(figure, key="pooling.pyramid_chart")


def _global(image) -> tuple[np.ndarray, np.ndarray, go.Figure]:
    avg, top = pool.global_pool(pool.image_map(image, gray=False))
    return avg, top, pviz.global_pool_figure(avg, top, ["red", "green", "blue"])


def _pyramid(image, levels: list[int]) -> tuple[pool.PyramidResult, go.Figure]:
    pyramid = pool.compute_pyramid(pool.image_map(image, gray=False), tuple(sorted(levels)))
    return pyramid, pviz.pyramid_figure(pyramid)


def shifts(bundle: ModelBundle) -> None:
    """How an edge map, pooled five ways, and the model follow a picture sliding right."""
    a, b = st.columns(2)
    max_shift = a.slider("Largest shift (pixels)", 1, 16, 8, key="pooling.max_shift")
    factor = b.slider("Downsampling factor", 2, 4, 2, key="pooling.factor")
    image = state.current_image()

    def compute() -> tuple[go.Figure, str] | pool.PoolError:
        try:
            moved = pool.compute_shifts(pool.image_map(image, 64), max_shift, factor, bundle, image)
        except pool.PoolError as err:
            # remembered too (without its frames), so a bad mix is not measured on every rerun
            return err.with_traceback(None)
        lines = "\n".join(f"- {line}" for line in pool.shift_conclusion(moved))
        return pviz.shift_figure(moved), lines

    # once per picture, model and settings: for the whole class on a shared model
    found = results.memo(PAGE, "shift", (image, bundle, max_shift, factor), compute)
    if isinstance(found, pool.PoolError):
        st.error(str(found))
        return
    figure, lines = found
    st.plotly_chart(figure, key="pooling.shift_chart")
    st.markdown(lines)
    st.caption(SHIFT_NOTE)
