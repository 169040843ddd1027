"""Widgets of the Neuron view: the hand-off from Feature maps, the layer, channel and unit
pickers, and one view per layer kind (conv, activation, pooling, flatten, dense).

Feature maps hands a clicked channel over in `st.session_state[HAND_OFF]` (the model choice,
layer and channel); the Neuron view takes it before drawing its widgets.

What the view computes and draws is a function of the model, the image and the layer (its
`source`) and the picks: made once for the whole class on a shipped or torchvision model
(`results.memo`).
"""

from __future__ import annotations

import json

import numpy as np
import streamlit as st
from PIL import Image

from models.bundle import ModelBundle
from models.inspect import activations as act
from models.inspect import neuron as nr
from ui import results
from viz import neuron as nviz

HAND_OFF = "_neuron.open"  # {"model", "pretrained", "layer", "channel"} from Feature maps
PAGE = "pages/neuron.py"
MEMO = "neuron"  # the name of the view's results in `results.memo`
GRID_MAX = 16  # channels drawn in the overview; a wider layer shows its strongest


def open_channel(source_page: str, layer: str, channel: int, model: str | None = None) -> None:
    """Remember a channel for the Neuron view, with `model` or the one chosen on `source_page`."""
    ss = st.session_state
    ss[HAND_OFF] = {
        "model": model or ss.get(f"{source_page}.model"),
        "pretrained": bool(ss.get(f"{source_page}.pretrained", False)),
        "layer": layer,
        "channel": int(channel),
    }


def picked_channel(chart_key: str) -> int | None:
    """The channel of the dot clicked on a `viz.neuron.pickable_grid` chart, if any."""
    event = st.session_state.get(chart_key)
    points = event.selection.points if event is not None else []
    for point in points:
        data = point.get("customdata")
        if data is not None:
            return int(data[0] if isinstance(data, list) else data)
    return None


def take_hand_off() -> bool:
    """Set this page's widgets from a channel clicked elsewhere; True when there was one."""
    handed = st.session_state.pop(HAND_OFF, None)
    if not handed:
        return False
    if handed["model"] is not None:
        st.session_state["neuron.model"] = handed["model"]
    st.session_state["neuron.pretrained"] = handed["pretrained"]
    st.session_state["neuron.layer"] = handed["layer"]
    st.session_state["neuron.channel"] = handed["channel"]
    st.session_state.pop("neuron.row", None)
    st.session_state.pop("neuron.col", None)
    return True


def pick_layer(bundle: ModelBundle) -> str:
    """A selectbox over every layer the view can open, labelled with its kind."""
    layers = dict(nr.inspectable_layers(bundle.model))
    if not layers:
        raise nr.NeuronError("this model has no conv, activation, pooling or dense layer to open")
    names = list(layers)
    if st.session_state.get("neuron.layer") not in names:
        st.session_state["neuron.layer"] = names[0]
    return st.selectbox(
        "Layer (in the order the model registers them)",
        names,
        format_func=lambda n: f"{n} · {layers[n]}",
        key="neuron.layer",
    )


def source(bundle: ModelBundle, image: Image.Image, name: str) -> tuple:
    """What a layer's capture is made from: the key of every result and figure of the view."""
    return (bundle, image, bundle.trained, name)


def capture(bundle: ModelBundle, image: Image.Image, name: str) -> nr.LayerCapture:
    """The layer's input and output for the image: one forward pass, remembered (once for the
    class on a shared model)."""
    return results.memo(
        MEMO,
        "capture",
        source(bundle, image, name),
        lambda: nr.capture_layer(bundle, act.prepare_input(image, bundle), name),
    )


def _set_channel(chart_key: str) -> None:
    channel = picked_channel(chart_key)
    if channel is not None:
        st.session_state["neuron.channel"] = channel
        st.session_state.pop("neuron.row", None)
        st.session_state.pop("neuron.col", None)


def pick_channel(cap: nr.LayerCapture, src: tuple | None = None) -> int:
    """The channel (or, for a dense layer, the output unit), typed or clicked on an overview.

    With `src` (the capture's `source`) the overview is drawn once per source for the class."""
    n = cap.output.shape[0] if cap.kind not in ("flatten",) else cap.inputs.shape[0]
    maps = cap.output if cap.kind != "flatten" else cap.inputs
    default = int(np.argmax(nr.channel_means(maps))) if cap.kind == "linear" else 0
    current = st.session_state.get("neuron.channel")
    if not isinstance(current, int) or not 0 <= current < n:
        st.session_state["neuron.channel"] = default
    what = "Output unit" if cap.kind == "linear" else "Channel"
    channel = st.number_input(f"{what} (0 to {n - 1})", 0, n - 1, key="neuron.channel")
    if maps.dim() == 3:
        _overview(maps, src)
    return int(channel)


def _overview_figure(maps):
    order = nr.top_channels(maps, GRID_MAX)
    if maps.shape[0] <= GRID_MAX:
        order = np.sort(order)
    return nviz.overview_figure(maps.numpy(), order)


def _overview(maps, src: tuple | None) -> None:
    """The layer's maps (its strongest if too wide), each with a dot to click."""
    n = maps.shape[0]
    if n > GRID_MAX:
        st.info(
            f"This layer has {n} channels, too many to draw whole: the {GRID_MAX} with the "
            "highest mean activation are drawn, strongest first. Type any channel above."
        )
    if src is None:
        fig = _overview_figure(maps)
    else:
        fig = results.memo(MEMO, "overview", src, lambda: _overview_figure(maps))
    key = "neuron.overview"
    st.plotly_chart(fig, key=key, on_select=lambda: _set_channel(key), selection_mode="points")
    st.caption("Each map on its own colour range. Click a map's dot to open that channel.")


def pick_unit(shape: tuple[int, int], strongest: tuple[int, int]) -> tuple[int, int]:
    """Row and column of one output unit (the strongest by default)."""
    left, right = st.columns(2)
    units = []
    for col, key, n, start, what in (
        (left, "neuron.row", shape[0], strongest[0], "Row"),
        (right, "neuron.col", shape[1], strongest[1], "Column"),
    ):
        value = st.session_state.get(key)
        if not isinstance(value, int) or not 0 <= value < n:
            st.session_state[key] = int(start)
        units.append(
            int(col.number_input(f"{what} of the output unit (0 to {n - 1})", 0, n - 1, key=key))
        )
    return units[0], units[1]


def strongest_unit(fmap: np.ndarray) -> tuple[int, int]:
    """(row, col) of a map's largest value."""
    r, c = np.unravel_index(int(np.argmax(fmap)), fmap.shape)
    return int(r), int(c)


def json_text(data: dict) -> str:
    """Numbers (arrays included) as indented JSON."""
    return json.dumps(data, indent=1, default=lambda v: np.asarray(v).tolist())


def download_json(label: str, data: dict | str, file_name: str, key: str) -> None:
    """A download button for numbers as JSON (`data` already written, or to write)."""
    text = data if isinstance(data, str) else json_text(data)
    st.download_button(label, text, file_name, mime="application/json", key=key)
