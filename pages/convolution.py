"""Convolution: a kernel slid over numbers and over your image; padding, stride, dilation."""

import numpy as np
import streamlit as st

from models import convolution as conv
from ui import frame, state
from viz import convolution as cviz

frame(
    "Convolution",
    intro=(
        "A convolution lays a small grid of weights, the kernel, on the input, multiplies the "
        "numbers under it pair by pair and adds them up: that sum is one output number. Then "
        "the kernel moves on. Padding, stride and dilation decide where it may go, and so how "
        "big the output is."
    ),
)
ss = st.session_state
SOURCES = ("Random numbers", "Your image", "Type them")


def apply_case() -> None:
    case = conv.CASES[ss["convolution.case"]]
    s = case.spec
    ss.update(
        {
            "convolution.rows": case.side,
            "convolution.cols": case.side,
            "convolution.kernel_size": case.kernel_size,
            "convolution.stride": s.stride,
            "convolution.padding": s.padding,
            "convolution.dilation": s.dilation,
            "convolution.transposed": s.transposed,
            "convolution.output_padding": s.output_padding,
            "convolution.position": 0,
        }
    )


def toggle_play() -> None:
    ss["_convolution.playing"] = not ss.get("_convolution.playing", False)


step_tab, size_tab, dilation_tab, image_tab = st.tabs(
    ["Step by step", "Output size", "Dilated kernels", "Kernels on your image"]
)
with step_tab:
    st.selectbox(
        "Case (from conv_arithmetic)",
        list(conv.CASES),
        key="convolution.case",
        index=None,
        placeholder="Pick a case to set the controls",
        on_change=apply_case,
    )
    c = st.columns(4)
    source = c[0].radio("Input numbers", SOURCES, key="convolution.source")
    rows = c[1].slider("Input rows", 1, conv.MAX_GRID, 5, key="convolution.rows")
    cols = c[1].slider("Input columns", 1, conv.MAX_GRID, 5, key="convolution.cols")
    seed = c[0].number_input("Seed", 0, 10_000, 0, key="convolution.seed")
    k = c[2].slider("Kernel size K", 1, conv.MAX_KERNEL_SIDE, 3, key="convolution.kernel_size")
    preset = c[2].selectbox("Kernel", list(conv.KERNELS), 1, key="convolution.kernel")
    stride = c[3].slider("Stride S (cells)", 1, 4, 1, key="convolution.stride")
    padding = c[3].slider("Padding P (cells per side)", 0, 6, 0, key="convolution.padding")
    dilation = c[3].slider("Dilation D", 1, 4, 1, key="convolution.dilation")
    transposed = c[1].toggle("Transposed convolution", key="convolution.transposed")
    out_pad = c[1].slider(
        "Output padding (transposed)",
        0,
        3,
        0,
        key="convolution.output_padding",
        disabled=not transposed,
    )
    bias = c[2].number_input("Bias b", -100.0, 100.0, 0.0, 0.5, key="convolution.bias")
    report, spec, grid, kernel = None, None, None, None
    try:
        spec = conv.StepSpec(
            stride, padding, dilation, transposed, out_pad if transposed else 0, bias
        )
        if source == "Your image":
            grid = conv.image_grid(state.current_image(), rows, cols)
            st.caption("The centre of your image, shrunk and turned into brightness 0 (dark) to 9.")
        else:
            grid = conv.random_grid(rows, cols, int(seed))
        base_kernel = conv.build_kernel(conv.KernelSpec(preset, k))
    except conv.ConvolutionError as err:
        st.error(str(err))
    else:
        left, right = st.columns(2)
        if source == "Type them":
            grid = left.data_editor(grid, key=f"convolution.grid.{rows}x{cols}.{seed}")
        kernel = right.data_editor(base_kernel, key=f"convolution.kernel_cells.{preset}.{k}")
        report = conv.compute_output_size((rows, cols), k, spec)
    playing = ss.get("_convolution.playing", False)
    st.button(
        "⏸ Pause" if playing else "▶ Play",
        key="convolution.play",
        on_click=toggle_play,
        disabled=report is None,
    )

    @st.fragment(run_every=0.8 if playing else None)
    def stepper() -> None:
        n = max(report.rows.exact * report.cols.exact, 1)
        position = min(ss.get("convolution.position", 0), n - 1)
        if ss.get("_convolution.playing") and position >= n - 1:
            ss["_convolution.playing"] = False
            st.rerun()
        ss["convolution.position"] = position + 1 if ss.get("_convolution.playing") else position
        if n > 1:
            st.slider("Position (step)", 0, n - 1, key="convolution.position")
        try:
            step = conv.compute_step(
                np.asarray(grid, dtype=float),
                np.asarray(kernel, dtype=float),
                spec,
                ss["convolution.position"],
            )
        except (conv.ConvolutionError, ValueError, TypeError) as err:
            st.error(str(err))
            return
        st.caption(
            f"Step {step.position + 1} of {step.n_steps}: window at row {step.row}, "
            f"column {step.col} (output cell)."
        )
        st.plotly_chart(cviz.step_figure(step), key="convolution.step_chart")
        st.latex(conv.step_latex(step, bias))
        st.download_button(
            "Download the output (CSV)",
            conv.to_csv(step.output),
            "convolution_output.csv",
            "text/csv",
            key="convolution.download",
        )

    if report is not None:
        stepper()

with size_tab:
    if report is None:
        st.info("Fix the settings on the Step by step tab first.")
    for name, axis, size in (("Height", report.rows, rows), ("Width", report.cols, cols)) * bool(
        report
    ):
        st.markdown(f"**{name}**: {size} input cells →")
        st.latex(axis.latex)
        if axis.naive is not None and axis.naive.denominator != 1:
            st.warning(
                f"The textbook formula (W − K + 2P)/S + 1 gives {axis.naive} = "
                f"{float(axis.naive):.2f}, not a whole number: PyTorch rounds down."
            )
        if axis.naive is not None and dilation > 1:
            st.caption(f"The textbook formula gives {axis.naive}: it ignores dilation.")
        if axis.unread and axis.exact >= 1:
            st.info(f"{name}: input index {', '.join(map(str, axis.unread))} (from 0) never read.")
        if axis.pool_floor is not None:
            st.caption(
                f"A {k}×{k} pooling with the same stride and padding: {axis.pool_floor} "
                f"(ceil_mode=False), {axis.pool_ceil} (ceil_mode=True)."
            )
    if report and report.problem:
        st.error(report.problem)
    elif report:
        st.plotly_chart(cviz.coverage_figure(report.coverage), key="convolution.coverage")

with dilation_tab:
    c = st.columns(2)
    dk = c[0].slider("Kernel size", 1, conv.MAX_KERNEL_SIDE, 3, key="convolution.dil_kernel")
    rate = c[0].slider("Dilation rate", 1, 8, 2, key="convolution.rate")
    c[0].latex(rf"D(K-1)+1 = {rate}\cdot({dk}-1)+1 = {conv.effective_size(dk, rate)}")
    c[0].plotly_chart(
        cviz.footprint_figure(conv.dilated_footprint(dk, rate)), key="convolution.footprint"
    )
    text = c[1].text_input(
        "Rates of a stack of stride-1 layers",
        "1, 2, 4, 8",
        key="convolution.rates",
        help='Try "2, 2, 2" to see gridding.',
    )
    try:
        stack = conv.compute_dilated_stack(dk, conv.parse_rates(text))
    except conv.ConvolutionError as err:
        c[1].error(str(err))
    else:
        c[1].plotly_chart(
            cviz.receptive_field_figure(stack.fields, stack.plain_fields),
            key="convolution.rf_growth",
        )
        st.plotly_chart(cviz.paths_figure(stack.paths, stack.seen_share), key="convolution.paths")

with image_tab:
    c = st.columns(4)
    name = c[0].selectbox("Kernel", list(conv.KERNELS), 5, key="convolution.image_kernel")
    size = c[0].slider("Size", 1, conv.MAX_KERNEL_SIDE, 3, key="convolution.image_size")
    sigma = c[1].slider("Sigma (Gaussian, Gabor)", 0.3, 5.0, 1.0, key="convolution.sigma")
    angle = c[1].slider("Angle ° (Gabor)", 0, 180, 0, 15, key="convolution.angle")
    freq = c[2].slider("Frequency (Gabor)", 0.05, 0.5, 0.25, key="convolution.frequency")
    img_bias = c[2].slider("Bias", -1.0, 1.0, 0.0, 0.05, key="convolution.image_bias")
    relu = c[3].toggle("ReLU", key="convolution.relu")
    picks = c[3].multiselect(
        "Kernels in a layer",
        list(conv.KERNELS),
        ["Sobel x", "Sobel y", "Laplacian", "Gaussian"],
        key="convolution.layer",
    )
    try:
        pixels = conv.image_array(state.current_image())
        kern = conv.build_kernel(conv.KernelSpec(name, size, sigma, angle, freq))
        result = conv.apply_kernel(pixels, kern, img_bias, relu)
        specs = [conv.KernelSpec(n, size, sigma, angle, freq) for n in picks]
        layer = conv.compute_layer(pixels, specs, relu)
    except conv.ConvolutionError as err:
        st.error(str(err))
    else:
        st.plotly_chart(cviz.kernel_figure(kern), key="convolution.kernel_chart")
        maps = np.concatenate([result.channels, result.summed[None]])
        st.plotly_chart(
            cviz.maps_figure(maps, ["red", "green", "blue", "sum + bias"]),
            key="convolution.response",
        )
        st.download_button(
            "Download the summed map (PNG)",
            conv.map_png(result.summed),
            "response.png",
            "image/png",
            key="convolution.download_map",
        )
        st.plotly_chart(cviz.maps_figure(layer.maps, picks), key="convolution.layer_chart")
        h, w = pixels.shape[1:]
        st.markdown(
            f"**Parameter sharing.** These {len(picks)} kernels of {layer.kernel_size}×"
            f"{layer.kernel_size} on 3 channels need **{layer.conv_params:,}** numbers, "
            f"used at every one of the {h * w:,} positions. A dense layer from the "
            f"{h}×{w}×3 image to the same maps needs **{layer.dense_params:,}**: "
            f"{layer.ratio:,.0f} times as many."
        )

with st.expander("Go deeper"):
    st.latex(r"y_{r,c} = b + \sum_{i,j} x_{rS + iD,\; cS + jD}\, w_{i,j}")
    st.markdown(
        "PyTorch's convolution does not flip the kernel (it is a cross-correlation). "
        "A transposed convolution spreads the input out, S − 1 zeros between cells, "
        "pads it by D(K−1) − P and slides the flipped kernel with stride 1."
    )
    st.latex(
        r"O = \left\lfloor \frac{W + 2P - D(K-1) - 1}{S} \right\rfloor + 1 \qquad "
        r"O_{T} = (W-1)S - 2P + D(K-1) + P_{out} + 1"
    )
    st.latex(
        r"O_{pool,\,ceil} = \left\lceil \frac{W + 2P - K}{S} \right\rceil + 1 \qquad "
        r"RF_{l} = RF_{l-1} + D_l (K-1)\, \textstyle\prod_{m<l} S_m"
    )
    st.markdown(
        "Answers curriculum questions **15** (output size), **22** (stride and padding), "
        "**40** (dilated convolutions) and **2, 23, 56** (parameter sharing)."
    )
