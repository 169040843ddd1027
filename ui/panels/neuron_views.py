"""The Neuron view's one view per layer kind: conv, activation (and the collapse of a linear
conv stack), pooling, flatten and dense (with softmax for the output layer).

Each view takes the captured layer, computes in models/ once per input and draws; every sentence
it writes quotes the measured numbers. The conv view's results, figures and file are made once
per source, channel and unit for the whole class on a shared model (`results.memo`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from models.bundle import ModelBundle
from models.inspect import neuron as nr
from models.inspect import neuron_collapse as nc
from models.inspect import neuron_layers as nl
from models.inspect.activations import prepare_input
from ui import results, state
from ui.panels.neuron import MEMO, download_json, json_text, pick_unit, source, strongest_unit
from viz import feature_maps as fviz
from viz import neuron as nviz
from viz import neuron_layers as lviz

ROWS_DRAWN = 6  # input maps drawn beside their kernels; a wider conv shows its strongest
COLLAPSE_OPTIONS = [
    "Two convs that cannot be merged",
    "One conv with a bigger kernel",
    "No conv at all: the result is a constant",
]


def _remember(name: str, inputs, compute):
    return results.remembered("neuron", name, inputs, compute)


@dataclass(frozen=True)
class ConvUnitView:
    """What the conv view draws for one unit: its window, the two figures, what follows, and
    the unit's numbers as JSON."""

    unit: nr.UnitWindow
    channel_figure: go.Figure
    sum_figure: go.Figure
    after: str
    json: str


def _conv_unit_view(
    bundle: ModelBundle, cap: nr.LayerCapture, neuron: nr.ConvNeuron, row: int, col: int
) -> ConvUnitView:
    unit = nr.unit_window(neuron, row, col)
    shown = np.argsort(-neuron.contributions, kind="stable")[:ROWS_DRAWN]
    channel = neuron.channel
    steps = nr.apply_steps(nr.following_steps(bundle.model, cap.name), neuron.pre, channel)
    row_maps = [(f"Σ {len(neuron.reads)} product maps + bias {neuron.bias:.3f}", neuron.pre)]
    numbers = {
        "layer": neuron.layer,
        "channel": neuron.channel,
        "row": unit.row,
        "col": unit.col,
        "input_maps": neuron.reads,
        "window": unit.values,
        "kernel": neuron.kernels,
        "per_map": unit.per_map,
        "bias": unit.bias,
        "ours": unit.total,
        "pytorch": unit.real,
    }
    return ConvUnitView(
        unit,
        nviz.conv_channel_figure(neuron, unit, np.sort(shown)),
        nviz.maps_row_figure(row_maps + steps, (row, col)),
        ", then ".join(name for name, _ in steps) or "nothing element-wise (it flows on)",
        json_text(numbers),
    )


def conv_view(bundle: ModelBundle, cap: nr.LayerCapture, channel: int) -> None:
    """Input maps, kernel slices and products; their sum plus bias; what follows; one unit."""
    conv = nr.conv_module(bundle.model, cap.name)
    src = source(bundle, state.current_image(), cap.name)  # what `cap` was captured from
    neuron = results.memo(
        MEMO, "conv", (src, channel), lambda: nr.compute_conv_neuron(conv, cap, channel)
    )
    row, col = pick_unit(neuron.real.shape, strongest_unit(neuron.real))
    view = results.memo(
        MEMO,
        "conv_unit",
        (src, channel, row, col),
        lambda: _conv_unit_view(bundle, cap, neuron, row, col),
    )
    unit = view.unit
    n = len(neuron.reads)
    st.markdown(
        f"Channel {channel} of **{cap.name}** reads {n} input map(s)"
        + (
            f" (groups = {neuron.groups}: maps {neuron.reads[0]} to {neuron.reads[-1]})"
            if neuron.groups > 1
            else ""
        )
        + f" with a {conv.kernel_size[0]}×{conv.kernel_size[1]} kernel slice each, stride "
        f"{conv.stride}, dilation {conv.dilation}, padding {tuple(conv.padding)}."
    )
    if n > ROWS_DRAWN:
        st.info(
            f"{n} input maps are too many to draw whole: the {ROWS_DRAWN} that move this channel "
            "most (largest mean |product|) are drawn; the sum below uses all of them."
        )
    st.plotly_chart(view.channel_figure, key="neuron.conv")
    st.caption(
        f"Unit ({row}, {col}) reads the ringed {len(unit.rows)}×{len(unit.cols)} taps (rows "
        f"{unit.rows[0]} to {unit.rows[-1]}, columns {unit.cols[0]} to {unit.cols[-1]}; outside "
        "the map is padding). Each product map is its input map correlated with the kernel slice."
    )
    st.plotly_chart(view.sum_figure, key="neuron.sum")
    st.caption(
        f"The sum of the product maps plus the bias differs from PyTorch's output of "
        f"{cap.name} by at most {neuron.max_error:.1e} over all {neuron.pre.size} units "
        f"(float rounding). What follows: {view.after}."
    )
    _dot_product(unit, neuron, view.json)


def _dot_product(unit: nr.UnitWindow, neuron: nr.ConvNeuron, numbers: str) -> None:
    terms = " + ".join(f"{v:.3f}" for v in unit.per_map[:8]) + (" + …" * (len(unit.per_map) > 8))
    st.markdown(
        f"**Unit ({unit.row}, {unit.col}) in numbers:** Σ kernel·window over each input map = "
        f"{terms} = {unit.per_map.sum():.4f}; plus the bias {unit.bias:.4f} gives "
        f"**{unit.total:.4f}**. PyTorch's value: **{unit.real:.4f}**."
    )
    best = int(np.argmax(np.abs(unit.per_map)))
    with st.expander(f"The multiplications for input map {neuron.reads[best]} (the largest term)"):
        cols = st.columns(3)
        for c, title, grid in zip(
            cols,
            ("window", "kernel", "window × kernel"),
            (unit.values[best], neuron.kernels[best], unit.values[best] * neuron.kernels[best]),
        ):
            c.markdown(title)
            c.dataframe(pd.DataFrame(grid).round(4), key=f"neuron.grid.{title}")
    download_json(
        "Download this unit's numbers (.json)", numbers, "neuron_unit.json", "neuron.download"
    )


def _activation(cap: nr.LayerCapture, channel: int, kind: str) -> tuple:
    """(the channel before and after its activation, the two drawn side by side)."""
    a = nl.compute_activation_neuron(cap, channel)
    return a, fviz.before_after_figure(a.before, a.after, kind)


def activation_view(bundle: ModelBundle, cap: nr.LayerCapture, channel: int) -> None:
    """Before and after the activation, the share of zeros, and the collapse switch."""
    kind = type(dict(bundle.model.named_modules())[cap.name]).__name__
    src = source(bundle, state.current_image(), cap.name)  # what `cap` was captured from
    a, figure = results.memo(
        MEMO, "activation", (src, channel), lambda: _activation(cap, channel, kind)
    )
    st.plotly_chart(figure, key="neuron.relu")
    st.caption(
        f"{kind} acts on each number alone. Channel {channel}: {100 * a.zero_share:.0f}% of its "
        f"{a.after.size} outputs are exactly 0 after it ({100 * a.layer_zero_share:.0f}% over "
        "the whole layer)."
    )
    download_json(
        "Download before and after (.json)",
        {"before": a.before, "after": a.after},
        "neuron_activation.json",
        "neuron.download",
    )
    chain = nc.linear_chain(bundle.model, cap.name)
    if len(chain) < 2:
        st.caption("Pick an activation after two or more convs in a row to collapse them.")
        return
    _collapse(bundle, chain, channel)


def _collapse(bundle: ModelBundle, chain: list[str], channel: int) -> None:
    st.subheader("Remove every non-linearity")
    guess = st.radio(
        f"Predict: with the activations between {', '.join(chain)} removed, the stack acts like…",
        COLLAPSE_OPTIONS,
        index=None,
        key="neuron.predict",
    )
    if not st.toggle("Remove every non-linearity", key="neuron.linear"):
        return
    image = state.current_image()
    x = _remember(
        "chain_input",
        (bundle, image, chain[0]),
        lambda: nr.capture_layer(bundle, prepare_input(image, bundle), chain[0]).inputs,
    )
    c_out = dict(bundle.model.named_modules())[chain[-1]].out_channels
    result = nc.collapse_stack(bundle, chain, x, min(channel, c_out - 1))
    st.plotly_chart(lviz.collapse_figure(result), key="neuron.collapse")
    k = result.kernel.shape[1:]
    gap = float(np.abs(result.with_activations - result.stack)[result.interior].max())
    if guess is not None:
        verdict = "right" if guess == COLLAPSE_OPTIONS[1] else "not what happened"
        st.markdown(f"Your prediction: *{guess}*: {verdict}.")
    st.markdown(
        f"Without activations, {' → '.join(chain)} is one conv with a {k[0]}×{k[1]} kernel: on "
        f"all {int(result.interior.sum())} units whose window stays inside the input, it "
        f"matches the stack to {result.max_error:.1e}. With the activations kept, the same "
        f"channel differs from that by up to {gap:.3f}: the non-linearity is what stops depth "
        "from collapsing into one layer."
    )


def pool_view(bundle: ModelBundle, cap: nr.LayerCapture, channel: int) -> None:
    """One pooling unit: its window, the winner or the average, PyTorch's value."""
    pool = nl.pool_module(bundle.model, cap.name)
    out = cap.output[channel].numpy()
    row, col = pick_unit(out.shape, strongest_unit(out))
    unit = nl.compute_pool_unit(pool, cap, channel, row, col)
    st.plotly_chart(lviz.pool_figure(unit), key="neuron.pool")
    window = unit.source[np.ix_(unit.rows, unit.cols)]
    if unit.winner is not None:
        how = f"the largest of its {window.size} values is {unit.value:.4f}, at {unit.winner}"
    else:
        how = (
            f"its {window.size} values add up to {window.sum():.4f}, divided by "
            f"{unit.divisor}: {unit.value:.4f}"
        )
    st.caption(
        f"Unit ({row}, {col}) of channel {channel} pools rows {unit.rows[0]} to {unit.rows[-1]} "
        f"and columns {unit.cols[0]} to {unit.cols[-1]} of the input map: {how}. "
        f"PyTorch's value: {unit.real:.4f}."
    )
    st.dataframe(
        pd.DataFrame(window, index=unit.rows, columns=unit.cols).round(4), key="neuron.window"
    )
    download_json(
        "Download the window (.json)",
        {
            "rows": unit.rows,
            "cols": unit.cols,
            "window": window,
            "ours": unit.value,
            "pytorch": unit.real,
        },
        "neuron_pool.json",
        "neuron.download",
    )


def flatten_view(bundle: ModelBundle, cap: nr.LayerCapture, channel: int) -> None:
    """Where one element lands in the flat vector, and its weights into each output."""
    _, h, w = cap.inputs.shape
    row, col = pick_unit((h, w), strongest_unit(cap.inputs[channel].numpy()))
    element = nl.compute_flatten_element(bundle.model, cap, channel, row, col)
    first = max(0, min(channel - 2, cap.inputs.shape[0] - 6))
    block = cap.inputs[first : first + 6].numpy()
    st.plotly_chart(lviz.flatten_fan_figure(element, block, first), key="neuron.fan")
    st.caption(
        f"({channel}, {row}, {col}) → {channel}·{h}·{w} + {row}·{w} + {col} = {element.index}. "
        f"Value {element.value:.4f} there and {element.flat_value:.4f} in PyTorch's flat vector."
    )
    if element.weights is None:
        st.caption("No dense layer reads this vector directly, so there are no weights to show.")
        return
    names = _class_names(bundle, len(element.weights))
    st.plotly_chart(
        lviz.contributions_figure(
            names, element.contributions, f"weight × value into each output of {element.linear}"
        ),
        key="neuron.weights",
    )
    top = int(np.argmax(np.abs(element.contributions)))
    st.caption(
        f"This one element adds weight × {element.value:.3f} to every output of "
        f"{element.linear}; its largest push is {element.contributions[top]:+.4f} on {names[top]}."
    )


def _class_names(bundle: ModelBundle, n: int) -> list[str]:
    names = list(bundle.class_names)
    return names if len(names) == n else [f"unit {i}" for i in range(n)]


def linear_view(bundle: ModelBundle, cap: nr.LayerCapture, unit_index: int) -> None:
    """A dense unit as its weighted inputs plus bias; softmax for the output layer."""
    linear = nl.linear_module(bundle.model, cap.name)
    unit = nl.compute_linear_neuron(linear, cap, unit_index)
    names = _class_names(bundle, len(unit.outputs))
    labels = [f"input {i} (value {unit.inputs[i]:.3f})" for i in unit.top]
    st.plotly_chart(
        lviz.contributions_figure(labels, unit.contributions[unit.top], "weight × input"),
        key="neuron.terms",
    )
    rest = unit.contributions.sum() - unit.contributions[unit.top].sum()
    st.caption(
        f"{names[unit_index]} = Σ of {len(unit.inputs)} weight × input terms + bias. The "
        f"{len(unit.top)} largest are drawn; the other {len(unit.inputs) - len(unit.top)} add "
        f"{rest:+.4f}; the bias {unit.bias:+.4f}. Total {unit.total:.4f}; PyTorch: {unit.real:.4f}."
    )
    download_json(
        "Download the terms (.json)",
        {
            "unit": unit_index,
            "contributions": unit.contributions,
            "bias": unit.bias,
            "ours": unit.total,
            "pytorch": unit.real,
        },
        "neuron_dense.json",
        "neuron.download",
    )
    if unit.is_output:
        _softmax(names, unit.outputs, cap.name)


def _softmax(names: list[str], logits: np.ndarray, layer: str) -> None:
    st.subheader("Softmax: from logits to probabilities")
    shown = np.argsort(-logits, kind="stable")[:10]
    t = st.slider(
        "Temperature T (0.1 to 5; 1 is the model's own)",
        0.1,
        5.0,
        1.0,
        0.1,
        key="neuron.temperature",
    )
    table = pd.DataFrame({"class": [names[i] for i in shown], "logit": logits[shown]})
    edited = st.data_editor(
        table, disabled=["class"], key=f"neuron.logits.{layer}", hide_index=True
    )
    z = logits.astype(np.float64).copy()
    z[shown] = pd.to_numeric(edited["logit"], errors="coerce").to_numpy()
    try:
        soft = nl.compute_softmax(z, t)
    except nr.NeuronError as err:
        st.error(f"Softmax could not be computed: {err}.")
        return
    st.plotly_chart(
        lviz.softmax_figure([names[i] for i in shown], soft.probs[shown], t), key="neuron.softmax"
    )
    top = shown[int(np.argmax(soft.probs[shown]))]
    st.caption(
        f"p = exp(z/T − {soft.shift:.2f}) / Σ exp(z/T − {soft.shift:.2f}) over all {len(z)} "
        f"classes (subtracting the largest z/T changes nothing and avoids overflow). "
        f"Σ = {soft.total:.4f}; {names[top]} gets {100 * soft.probs[top]:.1f}% at T = {t:g}."
    )
