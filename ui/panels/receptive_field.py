"""Widgets of the Receptive field page: unit picker, the unit's box, growth, effective fields.

Every result and figure is a function of the model, the image and the settings: made once for
the whole class on a shipped or torchvision model (`results.memo`), so 30 students opening the
page on its defaults share one set.
"""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st
from PIL import Image

from models.bundle import ModelBundle
from models.inspect import effective_field as erf
from models.inspect import receptive_field as rf
from ui import results, state
from viz import receptive_field as viz

PAGE = "receptive_field"
ERF_SOURCES = ("Random noise", "Crops of your image")


def pick_clicked_unit() -> None:
    """Copy the unit clicked on the feature map into the row and column sliders."""
    ss = st.session_state
    points = ss["receptive_field.map"].selection.points
    if points:
        ss["receptive_field.row"] = int(points[0]["y"])
        ss["receptive_field.col"] = int(points[0]["x"])


def unit_picker(bundle: ModelBundle, layer: str, shape: tuple[int, int]) -> tuple[int, int]:
    """Row and column sliders and the clickable feature map; returns the chosen unit."""
    h, w = shape
    row = st.slider("Unit row", 0, h - 1, key="receptive_field.row") if h > 1 else 0
    col = st.slider("Unit column", 0, w - 1, key="receptive_field.col") if w > 1 else 0
    image = state.current_image()
    fmap = results.memo(
        PAGE, "map", (bundle, layer, image), lambda: erf.capture_feature_map(bundle, layer, image)
    )
    figure = results.memo(
        PAGE,
        "map_figure",
        (bundle, layer, image, row, col),
        lambda: viz.unit_picker_figure(fmap, (row, col)),
    )
    st.plotly_chart(
        figure,
        key="receptive_field.map",
        on_select=pick_clicked_unit,
        selection_mode="points",
    )
    st.caption(f"{layer}: {h}×{w} units (mean |activation| over channels). Click one to pick it.")
    return row, col


def _box_figure(bundle: ModelBundle, image: Image.Image, view: rf.UnitView) -> go.Figure:
    preview = rf.input_preview(image, bundle)
    return viz.field_box_figure(preview, view.box, view.centre)


def show_unit(
    bundle: ModelBundle, info: rf.RFInfo, view: rf.UnitView, unit: tuple[int, int]
) -> None:
    """The unit's box drawn on the input, with its rows, columns, size and jump in words."""
    (row, col), (in_h, in_w) = unit, bundle.input_shape[1:]
    top, bottom, left, right = view.box
    image = state.current_image()
    figure = results.memo(
        PAGE,
        "box",
        (bundle, image, view.box, view.centre),
        lambda: _box_figure(bundle, image, view),
    )
    st.plotly_chart(figure, key="receptive_field.box")
    st.markdown(
        f"**Unit ({row}, {col}) sees rows {top}–{bottom}, columns {left}–{right}** "
        f"of the {in_h}×{in_w} input."
    )
    st.caption(
        f"Field {info.size}×{info.size_w} pixels; neighbouring units are {info.jump} "
        f"pixel(s) apart (the jump); the first unit is centred on pixel {info.start:g}."
    )


def edge_note(info: rf.RFInfo, view: rf.UnitView, input_hw: tuple[int, int]) -> None:
    """Say when the field outgrows the input or reaches into the padding."""
    in_h, in_w = input_hw
    if view.outgrows:
        st.warning(
            f"This field ({info.size} pixels) has outgrown the {in_h}×{in_w} input: units "
            "of this layer see the whole image and, around it, zero padding (grey)."
        )
    elif view.sees_padding:
        st.info("Part of this unit's field lies outside the image (grey): there it sees padding.")


def show_growth(bundle: ModelBundle, side: int) -> None:
    """The network's field against plain stacks of the chosen depth, layer by layer."""
    stacks_col, depth_col = st.columns([3, 1])
    stacks = stacks_col.multiselect(
        "Compare with stacks of",
        list(rf.COMPARISON_STACKS),
        default=["3×3 convs", "dilated 3×3 (1, 2, 4, …)"],
        key="receptive_field.stacks",
    )
    depth = depth_col.slider("Stack depth (blocks)", 1, 8, 5, key="receptive_field.depth")
    figure = results.memo(
        PAGE,
        "growth",
        (bundle, tuple(stacks), depth, side),
        lambda: viz.growth_figure(rf.growth_curves(bundle, stacks, depth), side),
    )
    st.plotly_chart(figure, key="receptive_field.growth")
    st.caption(
        "Only layers that change the field are counted. Stacks have one channel and a "
        f"{rf.STACK_INPUT}×{rf.STACK_INPUT} input; a pool block is a 3×3 conv and a 2×2 "
        "max pool."
    )


def effective_field_controls() -> tuple[str, int, int]:
    """Which images to average over, how many, and their seed."""
    src_col, n_col, seed_col = st.columns(3)
    source = src_col.radio(
        "Images",
        list(ERF_SOURCES),
        horizontal=True,
        key="receptive_field.source",
    )
    n_images = n_col.slider("Number of images", 1, 32, 16, key="receptive_field.n_images")
    seed = seed_col.number_input("Seed", 0, 10_000, 0, key="receptive_field.seed")
    return source, n_images, int(seed)


def fields(bundle: ModelBundle) -> dict[str, rf.RFInfo]:
    """The receptive field of every layer of the model, computed once per model."""
    return results.memo(
        PAGE,
        "fields",
        bundle,
        lambda: rf.compute_receptive_fields(bundle.model, bundle.input_shape),
    )


def _erf_inputs(bundle: ModelBundle, layer: str, settings: tuple[str, int, int]) -> tuple:
    """What the effective fields are made from: the model, layer, image (for crops), settings."""
    image = state.current_image() if settings[0] == ERF_SOURCES[1] else None
    return (bundle, layer, image, settings)


def effective_fields(
    bundle: ModelBundle, layer: str, settings: tuple[str, int, int], pressed: bool
) -> tuple[erf.EffectiveField, erf.EffectiveField | None] | None:
    """The effective fields once asked for; after that they follow the layer and settings.

    Keyed by the model's token, the layer, the image (when crops of it are used) and the
    settings, so a field computed for another layer or model is never shown. The session decides
    when to compute; the computation is seeded, so it is made once for the class on a shared
    model (`results.memo`).
    """
    _, n_images, seed = settings
    inputs = _erf_inputs(bundle, layer, settings)
    image = inputs[2]
    if not pressed and f"_{PAGE}.erf" not in st.session_state:
        return None

    def compute():
        with st.spinner(f"Back-propagating from {layer} through {n_images} images…"):
            images = erf.sample_inputs(bundle, n_images, seed, image)
            return erf.compare_effective_fields(bundle, layer, images)

    return results.remembered(
        PAGE, "erf", inputs, lambda: results.memo(PAGE, "erf_result", inputs, compute)
    )


def _erf_view(
    result: tuple[erf.EffectiveField, erf.EffectiveField | None], trained: bool
) -> tuple[dict[str, go.Figure], go.Figure, str]:
    """(a figure per set of weights, the mass-share figure, the gradient map as CSV)."""
    mine, fresh = result
    label = "trained weights" if trained else "these (untrained) weights"
    shown = {label: mine} | ({"fresh untrained weights": fresh} if fresh else {})
    figures = {}
    for name, field in shown.items():
        box = field.info.box(*field.unit)
        title = f"{field.layer}, unit {field.unit}: {name}"
        figures[name] = viz.effective_field_figure(field.grad, box, title)
    shares = {name: (field.sides, field.shares) for name, field in shown.items()}
    mass = viz.mass_share_figure(shares, mine.info.size)
    return figures, mass, erf.effective_field_csv(mine)


def show_effective_fields(
    bundle: ModelBundle,
    layer: str,
    settings: tuple[str, int, int],
    result: tuple[erf.EffectiveField, erf.EffectiveField | None],
) -> None:
    """The effective fields side by side, the share of gradient in growing squares, a download."""
    trained = bundle.trained
    figures, mass, csv = results.memo(
        PAGE,
        "erf_view",
        (_erf_inputs(bundle, layer, settings), trained),
        lambda: _erf_view(result, trained),
    )
    for column, (name, figure) in zip(st.columns(len(figures)), figures.items(), strict=True):
        column.plotly_chart(figure, key=f"receptive_field.erf.{name}")
    st.plotly_chart(mass, key="receptive_field.mass")
    if not trained:
        st.caption("Train the network on the Train page to compare trained and untrained fields.")
    st.download_button(
        "Download the gradient map (CSV)",
        csv,
        file_name=f"effective_field_{result[0].layer}.csv",
        mime="text/csv",
        key="receptive_field.download",
    )
