"""Widgets of the Build page: the layer editor, the formulas with real numbers, conv vs dense."""

from __future__ import annotations

from typing import Any

import streamlit as st

from models.network import formulas as fm
from models.network.geometry import LayerInfo, dense_equivalent_params
from models.network.spec import ConvSpec, LayerSpec, LinearSpec, PoolSpec

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
    dense = dense_equivalent_params(info.input_shape, info.output_shape)
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
