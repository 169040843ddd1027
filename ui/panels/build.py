"""Panels of the Build page: files, the layer editor, the summary, the arithmetic with real numbers.

The network in use (`ui.state.current_spec`) is the one truth. The editor's widgets are keyed
by `_build.version`, which moves on whenever the network changes other than by typing (a preset,
a link, a file, a layer added, moved or removed), so every widget then reads the new network.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import plotly.graph_objects as go
import pyarrow as pa
import streamlit as st

from models.inspect.neuron import inspectable_layers
from models.network import formulas as fm
from models.network.codegen import to_pytorch_code
from models.network.geometry import LayerInfo, analyze
from models.network.presets import PRESETS
from models.network.spec import (
    LAYER_TYPES,
    ConvSpec,
    LayerSpec,
    LinearSpec,
    NetworkSpec,
    PoolSpec,
    SpecError,
    layer_from_dict,
    new_layer,
)
from ui import results, state
from ui.model_picker import YOURS
from ui.panels import neuron as neuron_panel
from viz.network import layer_rows, network_figure

PAGE = "build"
VERSION, SYNCED, SELECTED, UPLOAD_ID = (
    "_build.version",  # bumped when the network changed other than by typing: widgets re-key
    "_build.synced",  # the network the widgets were last keyed for
    "_build.selected",  # index of the layer being edited, kept across re-keying
    "_build.upload_id",  # the JSON file already opened, so a rerun does not open it again
)

HELP = {
    "out_channels": "How many filters, so how many feature maps come out.",
    "kernel_size": "Side of the square window, in pixels.",
    "stride": "How far the window moves each step, in pixels.",
    "padding": (
        'Zeros added on every side, in pixels; "same" keeps the size (stride 1 only; with an '
        "even kernel the extra pixel goes on the right and bottom)."
    ),
    "dilation": "Gap between the kernel's taps: 1 is a plain kernel.",
    "groups": "Split the input channels into this many independent groups.",
    "bias": "Add a learned constant to each output map.",
    "ceil_mode": (
        "Round the output size up, letting the last window hang over the edge (unless it "
        "would start in the padding)."
    ),
    "p": "Probability of zeroing each value while training (0 to 0.99).",
    "out_features": "How many numbers come out.",
    "negative_slope": "Slope for negative inputs (0 to 0.99).",
    "reduction": "Bottleneck factor of the attention MLP.",
    "spatial_kernel": "Kernel of the spatial attention conv (odd).",
}


def widget_version(current: NetworkSpec) -> int:
    """The editor's widget generation, moved on when `current` changed outside the editor."""
    ss = st.session_state
    if ss.get(SYNCED) != current:
        ss[SYNCED] = current
        ss[VERSION] = ss.get(VERSION, 0) + 1
    return ss[VERSION]


def selected_layer(n_layers: int) -> int | None:
    """The index of the layer being edited, or None for a network with no layers."""
    return min(st.session_state.get(SELECTED, 0), n_layers - 1) if n_layers else None


def file_row(current: NetworkSpec) -> None:
    """Start from a preset, open a network from JSON, download it as JSON or PyTorch code."""
    top = st.columns([3, 1, 2, 2])
    preset = top[0].selectbox("Start from a preset", list(PRESETS), key="build.preset")
    top[0].caption(PRESETS[preset].about)
    if top[1].button("Load", key="build.load"):
        state.set_current_spec(PRESETS[preset].spec)
        st.rerun()
    upload = top[2].file_uploader("Open a network (JSON)", type=["json"], key="build.upload")
    if upload is not None and st.session_state.get(UPLOAD_ID) != upload.file_id:
        st.session_state[UPLOAD_ID] = upload.file_id
        try:
            text = upload.getvalue().decode("utf-8", "replace")
            state.set_current_spec(NetworkSpec.from_json(text))
            st.rerun()
        except SpecError as err:
            st.error(f"{upload.name} is not a network CNN Lab can build: {err}")
    top[3].download_button(
        "Download JSON",
        current.to_json(),
        "network.json",
        "application/json",
        key="build.download_json",
    )
    top[3].download_button(
        "Download PyTorch code",
        to_pytorch_code(current),
        "network.py",
        "text/x-python",
        key="build.download_code",
    )


def layer_editor(current: NetworkSpec, version: int) -> NetworkSpec:
    """The input shape, the selected layer's settings and the buttons that restructure.

    Returns the network in use after this run's edits: an edit that breaks the network shows
    the reason, and the last valid network is kept.
    """
    st.subheader("Layers")
    st.caption("Input: channels × height × width")
    names = ("channels", "height", "width")
    shape = tuple(
        int(col.number_input(name, value=int(v), step=1, key=f"build.{version}.in{i}"))
        for i, (col, name, v) in enumerate(zip(st.columns(3), names, current.input_shape))
    )
    sel, edited = selected_layer(len(current.layers)), None
    if sel is not None:
        labels = [layer_label(i, ly.to_dict()) for i, ly in enumerate(current.layers)]
        sel = st.selectbox(
            "Selected layer",
            range(len(labels)),
            index=sel,
            format_func=labels.__getitem__,
            key=f"build.{version}.selected",
        )
        st.session_state[SELECTED] = sel
        edited = edit_layer(current.layers[sel].to_dict(), f"build.{version}.{sel}")
    try:
        spec = _with_edits(current, shape, sel, edited)
        if spec != current:
            state.set_current_spec(spec)
            st.session_state[SYNCED] = current = spec
    except SpecError as err:
        st.error(f"{err}. The last valid network is kept and shown on the right.")
    _restructure_buttons(current, sel)
    st.query_params[state.QUERY_KEY] = state.encode_spec(current)
    st.caption("The address bar now carries this network: share the link to share it.")
    return current


def _with_edits(
    current: NetworkSpec, shape: tuple[int, ...], sel: int | None, edited: dict[str, Any] | None
) -> NetworkSpec:
    """`current` with the typed input shape and the selected layer's typed settings."""
    spec = current if shape == current.input_shape else NetworkSpec(shape, current.layers)
    if sel is None or edited is None or edited == current.layers[sel].to_dict():
        return spec
    try:
        layer = layer_from_dict(edited)
    except SpecError as err:
        raise SpecError(f"Layer {sel + 1} ({edited['type']}): {err}") from None
    return spec.replace_layer(sel, layer)


def _restructure_buttons(current: NetworkSpec, sel: int | None) -> None:
    """Move up, move down, remove the selected layer; add a new one after it."""
    if sel is not None:
        last = len(current.layers) - 1
        move = st.columns(3)
        if move[0].button("Move up", key="build.up", disabled=sel == 0, width="stretch"):
            _restructure(lambda: current.move_layer(sel, sel - 1), sel - 1)
        if move[1].button("Move down", key="build.down", disabled=sel == last, width="stretch"):
            _restructure(lambda: current.move_layer(sel, sel + 1), sel + 1)
        if move[2].button("Remove", key="build.remove", width="stretch"):
            _restructure(lambda: current.remove_layer(sel), sel)
    add = st.columns([2, 1], vertical_alignment="bottom")
    kind = add[0].selectbox("New layer type", list(LAYER_TYPES), key="build.new_type")
    if add[1].button("Add after selected", key="build.add", width="stretch"):
        at = 0 if sel is None else sel + 1
        _restructure(lambda: current.insert_layer(at, layer_from_dict(new_layer(kind))), at)


def _restructure(edit: Callable[[], NetworkSpec], selected: int) -> None:
    """Apply one of the network's edits and select `selected`; a break is refused with why."""
    try:
        spec = edit()
    except SpecError as err:
        st.error(f"That change would break the network: {err}. The network is kept as it was.")
        return
    st.session_state[SELECTED] = max(0, min(selected, len(spec.layers) - 1))
    state.set_current_spec(spec)
    st.rerun()


def analyzed(current: NetworkSpec) -> list[LayerInfo]:
    """Every layer's shapes, counts and field: once per network for the whole class."""
    return results.memo(PAGE, "infos", current, lambda: analyze(current))


def network_picture(current: NetworkSpec, infos: list[LayerInfo], pick: int | None) -> go.Figure:
    """The network's diagram with the picked layer marked: one per network and pick for every
    session (keyed by the network, whose `infos` it is drawn from)."""
    marked = None if pick is None else pick + 1
    return results.memo(
        PAGE, "figure", (current, marked),
        lambda: network_figure(infos, current.input_shape, marked),
    )  # fmt: skip


def layer_table(current: NetworkSpec, infos: list[LayerInfo]) -> pa.Table:
    """The table of every layer, as an Arrow table: immutable, so one serves every session, and
    st.dataframe sends it without converting rows of dicts at every run (~4 ms)."""
    return results.memo(PAGE, "table", current, lambda: pa.Table.from_pylist(layer_rows(infos)))


def summary(infos: list[LayerInfo], current: NetworkSpec) -> None:
    """Parameters, MACs and output shape, then the table of every layer."""
    m = st.columns(3)
    m[0].metric("Parameters", f"{sum(i.params for i in infos):,}")
    m[1].metric("Multiply-accumulates", f"{sum(i.macs for i in infos):,}")
    m[2].metric("Output", " × ".join(map(str, current.output_shape)))
    number = st.column_config.NumberColumn(format="localized")
    st.dataframe(
        layer_table(current, infos),
        hide_index=True,
        key="build.table",
        width="stretch",
        column_config={"parameters": number, "MACs": number},
        height=420,
    )


def arithmetic(infos: list[LayerInfo], pick: int) -> None:
    """The selected layer's arithmetic, beside how a dense layer would compare."""
    info = infos[pick]
    prev = infos[pick - 1].rf if pick else None
    st.subheader(f"Layer {info.index}: {info.name}, the arithmetic")
    left, right = st.columns([3, 1], gap="large")
    with left:
        show_arithmetic(info, (prev.size, prev.jump) if prev else (1, 1))
    with right:
        dense_comparison(info)
        neuron_link(info)


def neuron_link(info: LayerInfo) -> None:
    """A button to the Neuron view on this layer's first channel, where the view can open it."""
    if info.name not in dict(inspectable_layers(state.current_model().model)):
        return
    if st.button(
        "How its numbers are computed (Neuron view)",
        key="build.neuron",
        help="Opens this layer of your network, channel 0, on the Neuron view.",
    ):
        neuron_panel.open_channel("build", info.name, 0, model=YOURS)
        st.switch_page("pages/neuron.py")


def layer_label(i: int, layer: dict[str, Any]) -> str:
    """A short line for the layer picker: "3. conv 3×3 ×10"."""
    kind, k = layer["type"], layer.get("kernel_size")
    detail = {
        "conv": f"{k}×{k}, {layer.get('out_channels')} filters",
        "maxpool": f"{k}×{k}",
        "avgpool": f"{k}×{k}",
        "linear": f"{layer.get('out_features')} outputs",
        "dropout": f"p={layer.get('p')}",
        "residual": f"{layer.get('out_channels')} channels",
    }.get(kind, "")
    return f"{i + 1}. {kind} {detail}".strip()


def edit_layer(layer: dict[str, Any], key: str) -> dict[str, Any]:
    """Widgets for every setting of one layer; returns the edited JSON object."""
    out = {"type": layer["type"]}
    cols = st.columns(2)
    for n, (name, value) in enumerate(kv for kv in layer.items() if kv[0] != "type"):
        with cols[n % 2]:
            out[name] = _field(name, value, f"{key}.{name}")
    return out


def _field(name: str, value: Any, key: str) -> Any:
    label = name.replace("_", " ")
    if isinstance(value, bool):
        return st.checkbox(label, value=value, key=key, help=HELP.get(name))
    if name == "padding":
        same = st.toggle(
            'padding "same"', value=value == "same", key=f"{key}.same", help=HELP["padding"]
        )
        if same:
            return "same"
        start = 0 if value == "same" else int(value)
        return int(st.number_input(label, value=start, step=1, key=key))
    if isinstance(value, float):
        return float(
            st.number_input(
                label, value=value, step=0.05, format="%.2f", key=key, help=HELP.get(name)
            )
        )
    return int(st.number_input(label, value=int(value), step=1, key=key, help=HELP.get(name)))


def show_arithmetic(info: LayerInfo, prev_rf: tuple[int | None, int]) -> None:
    """The arithmetic of the selected layer written out with its own numbers."""
    layer, s_in, s_out = info.layer, info.input_shape, info.output_shape
    if isinstance(layer, ConvSpec | PoolSpec) and len(s_in) == 3:
        _show_size(layer, s_in)
    if isinstance(layer, ConvSpec):
        k, g, c_in, c_out = layer.kernel_size, layer.groups, s_in[0], s_out[0]
        st.markdown(
            "**Parameters**: each filter has K²·C_in/g weights, plus a bias (b = 1) or not."
        )
        st.latex(fm.conv_params(k, c_in, c_out, g, layer.bias).display)
        st.markdown("**Multiply-accumulates**: one per weight, at every output position.")
        st.latex(fm.conv_macs(s_out[1], s_out[2], c_out, k, c_in, g).display)
    elif isinstance(layer, LinearSpec):
        st.markdown("**Parameters**: a weight for every input–output pair, plus a bias each.")
        st.latex(fm.linear_params(s_in[0], s_out[0], layer.bias).display)
    elif layer.type == "flatten":
        st.markdown("**Flatten** lays every value of the feature maps out in one long vector:")
        st.latex(fm.flatten_size(s_in).display)
    else:
        st.markdown(
            f"**{layer.type}**: {info.params:,} parameters, {info.macs:,} MACs; "
            f"output {' × '.join(map(str, s_out))}."
        )
    _show_field(layer, info, *prev_rf)


def _show_size(layer: ConvSpec | PoolSpec, s_in: tuple[int, ...]) -> None:
    k = layer.kernel_size
    st.markdown("**Output size** (PyTorch's exact rule, per side):")
    pad: int | tuple[int, int] = layer.padding if isinstance(layer, PoolSpec) else layer.pad
    if isinstance(layer, ConvSpec) and layer.padding == "same":
        left, right = fm.same_padding(k, layer.dilation)
        st.markdown(
            'padding "same" adds D(K−1) cells to each side\'s length: half of them, rounded '
            "down, before (P_L) and the rest after (P_R), as PyTorch does."
        )
        st.latex(left.display)
        st.latex(right.display)
        pad = (int(left.value), int(right.value))
    _, h, w = s_in
    for name, n in (("Height", h), ("Width", w)) if h != w else (("", w),):
        if name:
            st.markdown(f"{name}, from {n} pixels:")
        if isinstance(layer, PoolSpec):
            st.latex(fm.pool_output_size(n, k, layer.step, layer.padding, layer.ceil_mode).display)
            note = fm.rounding_note(n, k, layer.step, layer.padding, ceil_mode=layer.ceil_mode)
        else:
            st.latex(fm.conv_output_size(n, k, layer.stride, pad, layer.dilation).display)
            note = fm.rounding_note(n, k, layer.stride, pad, layer.dilation)
        if note and isinstance(pad, int) and getattr(layer, "dilation", 1) == 1:
            stride = layer.step if isinstance(layer, PoolSpec) else layer.stride
            textbook = fm.textbook_output_size(n, k, stride, pad)
            st.info(f"The textbook {textbook.text}, not a whole number. {note}")
        elif note:
            st.info(note)


def _show_field(layer: LayerSpec, info: LayerInfo, r: int | None, j: int) -> None:
    if info.rf.size is None or r is None:
        st.markdown("**Receptive field**: every output here depends on the whole input.")
        return
    steps = fm.field_steps(layer, r, j)
    if not steps:
        st.markdown(f"**Receptive field**: unchanged by this layer, r = {r}, jump j = {j}.")
        return
    st.markdown(
        "**Receptive field** (Araujo et al., 2019): each window adds (k − 1)·d input steps of "
        "the jump so far; its stride multiplies the jump"
        + (", once per window of this block:" if len(steps) > 1 else ":")
    )
    for size, jump in steps:
        st.latex(size.latex + r", \qquad " + jump.latex)


def dense_comparison(info: LayerInfo) -> None:
    """How many weights a dense layer with the same input and output sizes would need."""
    if not isinstance(info.layer, ConvSpec):
        st.caption("Select a conv layer to compare it with a dense layer.")
        return
    dense = int(fm.dense_params(math.prod(info.input_shape), math.prod(info.output_shape)).value)
    st.metric("Conv parameters", f"{info.params:,}")
    st.metric(
        "A dense layer, same input and output",
        f"{dense:,}",
        delta=f"{dense / max(info.params, 1):,.0f}× more",
        delta_color="inverse",
    )
    st.caption(
        "The conv layer reuses one small kernel at every position (parameter sharing) "
        "and looks only at a local window; the dense layer gives every input–output "
        "pair its own weight."
    )
