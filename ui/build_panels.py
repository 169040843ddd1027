"""Widgets of the Build page: the layer editor, the formulas with real numbers, conv vs dense."""

from __future__ import annotations

from typing import Any

import streamlit as st

from models.geometry import LayerInfo, dense_equivalent_params, naive_output_size, unread_pixels
from models.spec import ConvSpec, LayerSpec, LinearSpec, PoolSpec

HELP = {
    "out_channels": "How many filters, so how many feature maps come out.",
    "kernel_size": "Side of the square window, in pixels.",
    "stride": "How far the window moves each step, in pixels.",
    "padding": 'Zeros added on every side, in pixels; "same" keeps the size (stride 1 only).',
    "dilation": "Gap between the kernel's taps: 1 is a plain kernel.",
    "groups": "Split the input channels into this many independent groups.",
    "bias": "Add a learned constant to each output map.",
    "ceil_mode": "Round the output size up, letting the last window hang over the edge.",
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


def formulas(info: LayerInfo, prev_rf: tuple[int | None, int]) -> None:
    """The arithmetic of the selected layer written out with its own numbers."""
    layer, s_in, s_out = info.layer, info.input_shape, info.output_shape
    rf_in, j_in = prev_rf
    if isinstance(layer, ConvSpec | PoolSpec) and len(s_in) == 3:
        _size_formula(layer, s_in[1], s_out[1])
    if isinstance(layer, ConvSpec):
        k, g, c_in, c_out = layer.kernel_size, layer.groups, s_in[0], s_out[0]
        b = int(layer.bias)
        st.markdown("**Parameters**: each filter has K·K·C_in/groups weights, plus a bias.")
        st.latex(
            rf"(K \cdot K \cdot C_{{in}}/g + {b}) \cdot C_{{out}} = "
            rf"({k}\cdot{k}\cdot{c_in}/{g} + {b}) \cdot {c_out} = {info.params:,}"
        )
        st.markdown("**Multiply-accumulates**: one per weight, at every output position.")
        st.latex(
            rf"H_{{out}} W_{{out}} C_{{out}} \cdot K^2 C_{{in}}/g = {s_out[1]}\cdot{s_out[2]}"
            rf"\cdot{c_out}\cdot{k}^2\cdot{c_in}/{g} = {info.macs:,}"
        )
    elif isinstance(layer, LinearSpec):
        st.markdown("**Parameters**: a weight for every input–output pair, plus a bias each.")
        st.latex(
            rf"(n_{{in}} + {int(layer.bias)}) \cdot n_{{out}} = ({s_in[0]} + "
            rf"{int(layer.bias)}) \cdot {s_out[0]} = {info.params:,}"
        )
    elif layer.type == "flatten":
        st.markdown("**Flatten** lays every value of the feature maps out in one long vector:")
        st.latex(r"\times".join(map(str, s_in)) + rf" = {s_out[0]:,}")
    else:
        st.markdown(
            f"**{layer.type}**: {info.params:,} parameters, {info.macs:,} MACs; "
            f"output {' × '.join(map(str, s_out))}."
        )
    _rf_formula(layer, info, rf_in, j_in)


def _size_formula(layer: ConvSpec | PoolSpec, w: int, w_out: int) -> None:
    k, s = layer.kernel_size, layer.step if isinstance(layer, PoolSpec) else layer.stride
    p = layer.pad if isinstance(layer, ConvSpec) else layer.padding
    d = layer.dilation if isinstance(layer, ConvSpec) else 1
    rnd = r"\left\lceil" if getattr(layer, "ceil_mode", False) else r"\left\lfloor"
    end = r"\right\rceil" if rnd.endswith("lceil") else r"\right\rfloor"
    st.markdown("**Output size** (PyTorch's exact rule, per side):")
    st.latex(
        rf"{rnd}\frac{{W + 2P - D(K-1) - 1}}{{S}}{end} + 1 = {rnd}\frac{{{w} + 2\cdot{p}"
        rf" - {d}\cdot({k}-1) - 1}}{{{s}}}{end} + 1 = {w_out}"
    )
    naive = naive_output_size(w, k, s, p)
    if d == 1 and naive.denominator != 1:
        lost = unread_pixels(w, k, s, p, d)
        fate = (
            f"so the last {lost} row(s) and column(s) of the input are never read by any window"
            if lost
            else "which here only drops padding, not input pixels"
        )
        st.info(
            f"The textbook formula (W − K + 2P)/S + 1 gives {float(naive):.2f}, not a whole "
            f"number. PyTorch rounds down, {fate}."
        )


def _rf_formula(layer: LayerSpec, info: LayerInfo, rf_in: int | None, j_in: int) -> None:
    if info.rf.size is None:
        st.markdown("**Receptive field**: every output here depends on the whole input.")
        return
    st.markdown(
        "**Receptive field**: grows by (kernel extent − 1) × the jump so far; "
        "the jump multiplies by the stride."
    )
    st.latex(
        rf"r = {rf_in} + (\text{{extent}} - 1)\cdot {j_in} = {info.rf.size}, \quad "
        rf"j = {info.rf.jump}"
    )


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
