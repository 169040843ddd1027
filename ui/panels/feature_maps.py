"""Widgets of the Feature maps page: the model's input, one channel, zeros, exciting shapes."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import streamlit as st
from PIL import Image

from models.bundle import ModelBundle
from models.data.shapes import make_shapes
from models.inspect import activations as act
from models.inspect.filters import top_exciting_images
from models.inspect.neuron import inspectable_layers
from ui import results
from ui.panels import neuron
from viz import feature_maps as fviz
from viz.neuron import pickable_grid


@st.cache_data(show_spinner="Drawing the shapes data set…")
def shapes(n: int):
    """The first `n` coloured shapes (seed 0), the same for every session."""
    return make_shapes(n, seed=0)[0]


PAGE = "feature_maps"
Source = tuple[ModelBundle, Image.Image, bool]  # what every result of the page is made from


def source(bundle: ModelBundle, image: Image.Image) -> Source:
    """The model and image the page's maps come from: the key of every result below."""
    return (bundle, image, bundle.trained)


def feature_maps(src: Source) -> act.FeatureMaps:
    """Computed once per model and image (once for the class on a shipped model); widgets then
    only redraw."""
    bundle, image, _ = src
    return results.memo(PAGE, "maps", src, lambda: act.compute_feature_maps(bundle, image))


def _memo(name: str, src: Source, settings: object, build):
    """A figure or file of the page, made once per source and settings (`results.memo`)."""
    return results.memo(PAGE, name, (src, settings), build)


def clamp(key: str, options: Sequence) -> None:
    """Keep a widget's value among `options` (a new model may lack the old layer or channel)."""
    if st.session_state.get(key) not in options:
        st.session_state[key] = options[0]


def show_input(src: Source, fm: act.FeatureMaps) -> None:
    """The image as the model sees it, and how it got there."""
    bundle = src[0]
    figure = _memo("input", src, None, lambda: fviz.model_input_figure(fm.image))
    st.plotly_chart(figure, key="feature_maps.input")
    c, h, w = bundle.input_shape
    mean, std = act.round3(bundle.mean), act.round3(bundle.std)
    st.caption(
        f"As the model sees it: {w}×{h} pixels, {c} channel(s), then normalized with "
        f"mean {mean} and std {std} per channel."
    )


def _grid_figure(bundle: ModelBundle, fm: act.FeatureMaps, name: str, scale: str, ordered: bool):
    """(the layer's channel grid, whether a click on a map opens the Neuron view)."""
    maps = fm.layer(name).maps
    order = act.channel_order(maps) if ordered else None
    figure = fviz.channel_grid_figure(maps, act.color_ranges(fm, name, scale), order)
    pickable = name in dict(inspectable_layers(bundle.model))
    return (pickable_grid(figure, maps.shape, order) if pickable else figure), pickable


def grid(src: Source, fm: act.FeatureMaps, name: str, scale: str, ordered: bool) -> None:
    """The layer's channels; where the Neuron view can open the layer, a click on a map does."""
    figure, pickable = _memo(
        "grid", src, (name, scale, ordered), lambda: _grid_figure(src[0], fm, name, scale, ordered)
    )
    if not pickable:
        st.plotly_chart(figure, key="feature_maps.grid")
        return
    key = "feature_maps.grid"

    def opened() -> None:
        channel = neuron.picked_channel(key)
        if channel is not None:
            neuron.open_channel("feature_maps", name, channel)

    st.plotly_chart(figure, key=key, on_select=opened, selection_mode="points")
    st.caption("Click a map's dot to see how its numbers are computed, in the Neuron view.")
    if st.session_state.get(neuron.HAND_OFF):
        st.switch_page(neuron.PAGE)


def maps_file(src: Source, fm: act.FeatureMaps) -> bytes:
    """Every map as a NumPy .npz file, written once per source."""
    return _memo("npz", src, None, lambda: act.maps_npz(fm))


def one_channel(src: Source, fm: act.FeatureMaps, layer: act.LayerMaps) -> int:
    """One channel over the image, and before/after its activation; returns the channel."""
    channels = list(range(layer.maps.shape[0]))
    clamp("feature_maps.channel", channels)
    channel = st.selectbox("Channel", channels, key="feature_maps.channel")
    opacity = st.slider("Map opacity", 0.0, 1.0, 0.6, 0.05, key="feature_maps.opacity")
    overlay = _memo(
        "overlay",
        src,
        (layer.name, channel, opacity),
        lambda: fviz.channel_overlay_figure(fm.image, layer.maps[channel], opacity),
    )
    st.plotly_chart(overlay, key="feature_maps.overlay")
    st.caption(channel_caption(layer.name, channel, layer.maps[channel]))
    if layer.before is not None:
        before, after = layer.before[channel], layer.maps[channel]
        pair = _memo(
            "before_after",
            src,
            (layer.name, channel),
            lambda: fviz.before_after_figure(before, after, layer.kind),
        )
        st.plotly_chart(pair, key="feature_maps.before_after")
    else:
        st.caption("Pick an activation layer (ReLU, tanh, …) to compare before and after it.")
    return channel


def show_zeros(src: Source, fm: act.FeatureMaps) -> None:
    """The share of zeros after each activation layer."""
    shares = act.zero_shares(fm)
    if shares:
        names, values = zip(*shares, strict=True)
        figure = _memo(
            "zeros", src, None, lambda: fviz.zero_share_figure(list(names), list(values))
        )
        st.plotly_chart(figure, key="feature_maps.zeros")
        st.caption(zeros_caption(shares))
    else:
        st.caption("This network has no separate activation layers to measure.")


def exciting_shapes(bundle: ModelBundle, name: str, channel: int) -> None:
    """On a press, the coloured shapes that excite the channel most, with their boxes."""
    n = st.select_slider(
        "Images to search (coloured shapes)", [64, 128, 256, 512], 256, key="feature_maps.n_images"
    )
    label = f"Find the shapes that excite channel {channel} of {name} most"
    pressed = st.button(label, key="feature_maps.excite")
    bar = st.progress(0.0, text="Running the data set through the model…") if pressed else None

    def compute():
        return top_exciting_images(bundle, shapes(n), name, channel, progress=bar.progress)

    found = results.on_press(
        "feature_maps", "exciting", (bundle, name, channel, n), compute, pressed
    )
    if bar is not None:
        bar.empty()
    if found is not None:
        figure = fviz.exciting_figure(found.images, found.boxes, found.values)
        st.plotly_chart(figure, key="feature_maps.exciting")
        st.caption(
            "Titles: the channel's peak value. Box: the pixels that can move that peak "
            "unit (where its gradient is not zero)."
        )


def show_journey(src: Source, fm: act.FeatureMaps) -> None:
    """Each layer's six strongest channels, a row per layer."""
    figure = _memo(
        "journey", src, None, lambda: fviz.journey_figure(act.strongest_channels(fm, per_layer=6))
    )
    st.plotly_chart(figure, key="feature_maps.journey")
    st.caption(
        "A row per layer, its six strongest channels (highest mean), each on its own "
        "colour range. Maps shrink and get coarser as you go down."
    )


def channel_caption(layer: str, channel: int, values: np.ndarray) -> str:
    """The overlay's numbers: the channel's range, mean and where it is strongest."""
    r, c = np.unravel_index(int(np.argmax(values)), values.shape)
    return (
        f"Channel {channel} of {layer}: {values.shape[0]}×{values.shape[1]} values from "
        f"{values.min():.3g} to {values.max():.3g}, mean {values.mean():.3g}; strongest at "
        f"row {r}, column {c}."
    )


def zeros_caption(shares: list[tuple[str, float]]) -> str:
    """The zeros figure's numbers: each activation layer's share of outputs exactly 0."""
    listed = ", ".join(f"{name} {share:.0%}" for name, share in shares)
    return f"Share of each activation layer's outputs that are exactly 0: {listed}."
