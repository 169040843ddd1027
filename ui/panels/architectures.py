"""The Architectures page's four tabs: kernel sizes, Inception, residual block, groups.

Every figure, the residual block's measurement and every download is a function of the tab's
settings alone: made once per setting for the whole class (`results.memo`), so a student
opening the page on its defaults after another only draws what is already made.
"""

from __future__ import annotations

import json
from dataclasses import asdict

import plotly.graph_objects as go
import streamlit as st

from models.network import architectures as arch
from ui import results
from viz import architectures as aviz

PAGE = "architectures"


def _json(data: object) -> str:
    return json.dumps(data, indent=2, default=str)


def _download(label: str, text: str, name: str, key: str) -> None:
    st.download_button(label, text, f"{name}.json", "application/json", key=key)


def _kernels_view(channels: int, side: int) -> tuple[list[arch.StackCost], go.Figure, list, str]:
    """(the stacks' costs, their bar chart, the table's rows, the rows as JSON)."""
    costs = arch.compare_kernel_stacks(channels, side)
    fig = aviz.cost_bars_figure(
        [c.name for c in costs], [c.params for c in costs], [c.macs for c in costs]
    )
    rows = [
        {
            "design": c.name,
            "parameters": c.params,
            "MACs": c.macs,
            "receptive field (px)": c.receptive_field,
            "ReLUs": c.nonlinearities,
        }
        for c in costs
    ]
    return costs, fig, rows, _json(rows)


def _inception_view(
    reductions: bool,
) -> tuple[list[arch.Branch], list[arch.Branch], go.Figure, str]:
    """(the branches, the branches of the other setting, the block's figure, the JSON)."""
    widths = arch.InceptionWidths()
    branches = arch.inception_branches(widths, reductions)
    other = arch.inception_branches(widths, not reductions)
    shape = (widths.in_channels, widths.side, widths.side)
    rows = [{"branch": b.name, "parameters": b.params, "MACs": b.macs} for b in branches]
    return branches, other, aviz.inception_figure(branches, shape), _json(rows)


def _residual_view(c_in: int, c_out: int, stride: int) -> tuple[arch.ResidualCheck, go.Figure, str]:
    """(the zero-weight check, its figure, the check as JSON)."""
    check = arch.residual_check(c_in, c_out, stride)
    return check, aviz.residual_figure(check), _json(asdict(check))


def _wiring_view(c_in: int, filters: int, g: int) -> tuple[arch.GroupConv, go.Figure]:
    """(the grouped convolution, its wiring drawn)."""
    conv = arch.group_conv(c_in, filters, g, 3, 32)
    return conv, aviz.wiring_figure(conv)


def _separable_view(c_in: int, filters: int) -> tuple[arch.SeparableCost, go.Figure]:
    """(the depthwise-separable costs, their bar chart)."""
    sep = arch.separable_cost(c_in, filters, 3, 32)
    names = ["standard 3×3", "depthwise 3×3", "pointwise 1×1"]
    parts = (sep.standard, sep.depthwise, sep.pointwise)
    return sep, aviz.cost_bars_figure(names, [p.params for p in parts], [p.macs for p in parts])


def kernel_sizes() -> None:
    """One 7×7, three 3×3 and a 5×5 then a 3×3, counted side by side."""
    st.markdown("**Which is cheaper for the same 7×7 view: one 7×7 kernel or three 3×3?**")
    a, b = st.columns(2)
    channels = a.slider("Channels C (in = out)", 1, 512, 64, key="architectures.channels")
    side = b.slider("Input side (pixels)", 8, 224, 56, key="architectures.side")
    costs, fig, rows, text = results.memo(
        PAGE, "kernels", (channels, side), lambda: _kernels_view(channels, side)
    )
    st.plotly_chart(fig, key="architectures.kernels_chart")
    st.dataframe(rows, hide_index=True, key="architectures.kernels_table")
    one, three, mixed = costs
    st.caption(
        f"All three see {one.receptive_field}×{one.receptive_field} pixels. At C = {channels} the "
        f"three 3×3 convolutions need {three.params:,} parameters against {one.params:,} for "
        f"one 7×7 ({three.params / one.params:.0%}), {three.macs / one.macs:.0%} of its MACs, "
        f"and put {three.nonlinearities} ReLUs where the 7×7 has {one.nonlinearities}; the 5×5 "
        f"then 3×3 sits between ({mixed.params:,} parameters)."
    )
    _download("Download the counts (JSON)", text, "kernel_sizes", "architectures.kernels_dl")


def inception() -> None:
    """GoogLeNet's block 3a, drawn with its shapes, with or without the 1×1 reductions."""
    st.markdown("**What do the 1×1 reductions save in an Inception block?**")
    reductions = st.toggle(
        "1×1 reductions before the 3×3 and 5×5", True, key="architectures.reduce"
    )
    widths = arch.InceptionWidths()
    branches, other, fig, text = results.memo(
        PAGE, "inception", (widths, reductions), lambda: _inception_view(reductions)
    )
    st.plotly_chart(fig, key="architectures.inception_chart")
    total, total_other = sum(b.params for b in branches), sum(b.params for b in other)
    macs, macs_other = sum(b.macs for b in branches), sum(b.macs for b in other)
    with_r = (total, macs) if reductions else (total_other, macs_other)
    without = (total_other, macs_other) if reductions else (total, macs)
    st.caption(
        f"GoogLeNet's block 3a on a {widths.side}×{widths.side}×{widths.in_channels} input. With "
        f"the reductions: {with_r[0]:,} parameters and {with_r[1] / 1e6:,.0f} M MACs; without: "
        f"{without[0]:,} and {without[1] / 1e6:,.0f} M, {without[1] / with_r[1]:.1f}× as many "
        "MACs. Every branch keeps the map's size, so the four outputs stack on channels."
    )
    _download("Download the branches (JSON)", text, "inception", "architectures.inception_dl")


def residual() -> None:
    """A residual block's two shortcuts, and its output with the conv weights set to zero."""
    st.markdown("**If a residual block's weights are all zero, what comes out?**")
    a, b, c = st.columns(3)
    c_in = a.select_slider("Input channels", [4, 8, 16, 32], 8, key="architectures.res_in")
    c_out = b.select_slider("Output channels", [4, 8, 16, 32], 8, key="architectures.res_out")
    stride = c.radio("Stride", [1, 2], horizontal=True, key="architectures.res_stride")
    check, fig, text = results.memo(
        PAGE, "residual", (c_in, c_out, stride), lambda: _residual_view(c_in, c_out, stride)
    )
    st.plotly_chart(fig, key="architectures.residual_chart")
    if check.gap_to_relu_x is not None:
        st.markdown(
            f"Measured with both 3×3 convolutions set to zero: the largest difference between "
            f"the output and relu(x) is **{check.gap_to_relu_x:.3g}**, so the block passes its "
            f"input straight on; the same block without its shortcut outputs at most "
            f"**{check.plain_output_max:.3g}**."
        )
    else:
        st.markdown(
            f"The shape changes ({'×'.join(map(str, check.input_shape))} → "
            f"{'×'.join(map(str, check.output_shape))}), so the shortcut is a 1×1 convolution "
            f"with {check.shortcut_params:,} parameters: with the main path at zero the output "
            f"is relu(projection(x)) (largest difference {check.gap_to_shortcut:.3g}), not relu(x)."
        )
    st.caption(
        f"Main path: {check.main_params:,} parameters; shortcut ({check.shortcut}): "
        f"{check.shortcut_params:,}."
    )
    _download("Download the check (JSON)", text, "residual", "architectures.res_dl")


def groups() -> None:
    """A groups slider over the divisors, the wiring drawn, and depthwise-separable costs."""
    st.markdown("**With 4 groups, how many input channels does each filter read?**")
    a, b, c = st.columns(3)
    c_in = a.select_slider("Input channels", [4, 6, 8, 12, 16, 32], 8, key="architectures.g_in")
    filters = b.select_slider("Filters", [4, 6, 8, 12, 16, 32], 8, key="architectures.g_out")
    options = arch.divisors(min(c_in, filters))
    options = [g for g in options if c_in % g == 0 and filters % g == 0]
    g = c.select_slider("Groups", options, options[min(1, len(options) - 1)], key="architectures.g")
    conv, fig = results.memo(
        PAGE, "wiring", (c_in, filters, g), lambda: _wiring_view(c_in, filters, g)
    )
    st.plotly_chart(fig, key="architectures.wiring_chart")
    st.caption(
        f"{filters} filters make an output {filters} channels deep, whatever the groups. "
        f"{g} group{'s' * (g > 1)} split the {c_in} input channels into sets of {c_in // g}: "
        f"each filter reads {c_in // g} channel{'s' * (c_in // g > 1)}. A 3×3 convolution on "
        f"32×32: {conv.params:,} parameters and {conv.macs:,} MACs ({1 / g:.0%} of groups = 1)."
    )
    if st.toggle("Compare a depthwise-separable convolution", key="architectures.separable"):
        sep, fig = results.memo(
            PAGE, "separable", (c_in, filters), lambda: _separable_view(c_in, filters)
        )
        st.plotly_chart(fig, key="architectures.separable_chart")
        st.caption(
            f"Depthwise (groups = {c_in}) then pointwise: {sep.params_ratio:.0%} of the "
            f"parameters and {sep.macs_ratio:.0%} of the MACs of the standard convolution "
            f"(1/{filters} + 1/9 = {1 / filters + 1 / 9:.0%} without the biases)."
        )
