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
PLAYING = "_convolution.playing"
DEFAULTS = {"rows": 5, "cols": 5, "kernel_size": 3, "stride": 1, "padding": 0, "dilation": 1,
            "transposed": False, "output_padding": 0}  # fmt: skip
for key, value in DEFAULTS.items():  # set here, not as widget defaults: a case overwrites them
    ss.setdefault(f"convolution.{key}", value)


def apply_case() -> None:
    case = conv.CASES[ss["convolution.case"]]
    s, prefix = case.spec, "convolution."
    values = dict(
        rows=case.side,
        cols=case.side,
        kernel_size=case.kernel_size,
        stride=s.stride,
        padding=s.padding,
        dilation=s.dilation,
        transposed=s.transposed,
        output_padding=s.output_padding,
        position=0,
    )
    ss.update({prefix + key: value for key, value in values.items()})


def step_controls() -> tuple[np.ndarray, np.ndarray, conv.StepSpec]:
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
    seed = c[0].number_input("Seed", 0, 10_000, 0, key="convolution.seed")
    rows = c[1].slider("Input rows", 1, conv.MAX_GRID, key="convolution.rows")
    cols = c[1].slider("Input columns", 1, conv.MAX_GRID, key="convolution.cols")
    transposed = c[1].toggle("Transposed convolution", key="convolution.transposed")
    k = c[2].slider("Kernel size K", 1, conv.MAX_KERNEL_SIDE, key="convolution.kernel_size")
    preset = c[2].selectbox("Kernel", list(conv.KERNELS), 1, key="convolution.kernel")
    bias = c[2].number_input("Bias b", -100.0, 100.0, 0.0, 0.5, key="convolution.bias")
    stride = c[3].slider("Stride S (cells)", 1, 4, key="convolution.stride")
    padding = c[3].slider("Padding P (cells per side)", 0, 6, key="convolution.padding")
    dilation = c[3].slider("Dilation D", 1, 4, key="convolution.dilation")
    out_pad = c[3].slider(
        "Output padding (transposed)",
        0,
        3,
        disabled=not transposed,
        key="convolution.output_padding",
    )
    spec = conv.StepSpec(stride, padding, dilation, transposed, out_pad * transposed, bias)
    if source == "Your image":
        grid = conv.image_grid(state.current_image(), rows, cols)
        st.caption("The centre of your image, shrunk, as brightness from 0 (dark) to 9.")
    else:
        grid = conv.random_grid(rows, cols, int(seed))
    left, right = st.columns(2)
    if source == "Type them":
        grid = left.data_editor(grid, key=f"convolution.grid.{rows}x{cols}.{seed}")
    kernel = conv.build_kernel(conv.KernelSpec(preset, k))
    kernel = right.data_editor(kernel, key=f"convolution.kernel_cells.{preset}.{k}")
    return np.asarray(grid, dtype=float), np.asarray(kernel, dtype=float), spec


def play_button() -> None:
    if st.button("⏸ Pause" if ss.get(PLAYING) else "▶ Play", key="convolution.play"):
        ss[PLAYING] = not ss.get(PLAYING, False)
        st.rerun()  # a full run, so the fragment's timer starts or stops


def show_step(grid: np.ndarray, kernel: np.ndarray, spec: conv.StepSpec, n: int) -> None:
    @st.fragment(run_every=0.8 if ss.get(PLAYING) else None)
    def stepper() -> None:
        position = min(ss.get("convolution.position", 0), n - 1)
        if ss.get(PLAYING):
            if position >= n - 1:
                ss[PLAYING] = False
                st.rerun()
            position += 1
        ss["convolution.position"] = position
        if n > 1:
            st.slider("Position (step)", 0, n - 1, key="convolution.position")
        step = conv.compute_step(grid, kernel, spec, position)
        st.caption(
            f"Step {step.position + 1} of {n}: window at row {step.row}, "
            f"column {step.col} (output cell)."
        )
        st.plotly_chart(cviz.step_figure(step), key="convolution.step_chart")
        st.caption(
            "Grey cells are padding, orange ones zeros put between the inputs; blue boxes "
            "are the cells the kernel reads, inside the dashed window."
        )
        st.latex(conv.step_latex(step, spec.bias))
        st.download_button(
            "Download the output (CSV)",
            conv.to_csv(step.output),
            "convolution_output.csv",
            "text/csv",
            key="convolution.download",
        )

    stepper()


def show_sizes(report: conv.SizeReport, shape: tuple[int, int], k: int, dilation: int) -> None:
    st.subheader("Output size")
    for name, axis, size in (("Height", report.rows, shape[0]), ("Width", report.cols, shape[1])):
        st.markdown(f"**{name}**, from {size} input cells:")
        st.latex(axis.latex)
        if axis.naive is not None and axis.naive.denominator != 1:
            st.warning(
                f"The textbook (W − K + 2P)/S + 1 gives {axis.naive} = "
                f"{float(axis.naive):.2f}, not a whole number: PyTorch rounds down."
            )
        elif axis.naive is not None and dilation > 1:
            st.caption(f"The textbook (W − K + 2P)/S + 1 gives {axis.naive}: it ignores dilation.")
        if axis.unread and axis.exact >= 1:
            st.info(
                f"{name}: input index {', '.join(map(str, axis.unread))} (from 0) is never read."
            )
        if axis.pool_floor is not None:
            st.caption(
                f"A {k}×{k} pooling with this stride and padding gives {axis.pool_floor} "
                f"(ceil_mode=False) or {axis.pool_ceil} (ceil_mode=True)."
            )
    if not report.problem:
        st.plotly_chart(cviz.coverage_figure(report.coverage), key="convolution.coverage")


@st.fragment
def step_tab() -> None:
    try:
        grid, kernel, spec = step_controls()
        report = conv.compute_output_size(grid.shape, kernel.shape[0], spec)
    except (conv.ConvolutionError, ValueError, TypeError) as err:
        st.error(str(err))
        return
    play_button()
    if report.problem:
        st.error(report.problem)
    else:
        try:
            show_step(grid, kernel, spec, report.rows.exact * report.cols.exact)
        except conv.ConvolutionError as err:
            st.error(str(err))
    show_sizes(report, grid.shape, kernel.shape[0], spec.dilation)


@st.fragment
def dilation_tab() -> None:
    c = st.columns(2)
    k = c[0].slider("Kernel size", 1, conv.MAX_KERNEL_SIDE, 3, key="convolution.dil_kernel")
    rate = c[0].slider("Dilation rate", 1, 8, 2, key="convolution.rate")
    c[0].latex(rf"D(K-1)+1 = {rate}\cdot({k}-1)+1 = {conv.effective_size(k, rate)}")
    c[0].plotly_chart(
        cviz.footprint_figure(conv.dilated_footprint(k, rate)), key="convolution.footprint"
    )
    text = c[1].text_input(
        "Rates of a stack of stride-1 layers",
        "1, 2, 4, 8",
        help='Try "2, 2, 2" to see gridding.',
        key="convolution.rates",
    )
    try:
        stack = conv.compute_dilated_stack(k, conv.parse_rates(text))
    except conv.ConvolutionError as err:
        c[1].error(str(err))
        return
    c[1].plotly_chart(
        cviz.receptive_field_figure(stack.fields, stack.plain_fields), key="convolution.rf_growth"
    )
    st.plotly_chart(cviz.paths_figure(stack.paths, stack.seen_share), key="convolution.paths")


@st.fragment
def image_tab() -> None:
    c = st.columns(4)
    name = c[0].selectbox("Kernel", list(conv.KERNELS), 5, key="convolution.image_kernel")
    size = c[0].slider("Size", 1, conv.MAX_KERNEL_SIDE, 3, key="convolution.image_size")
    sigma = c[1].slider("Sigma (Gaussian, Gabor)", 0.3, 5.0, 1.0, key="convolution.sigma")
    angle = c[1].slider("Angle ° (Gabor)", 0, 180, 0, 15, key="convolution.angle")
    freq = c[2].slider("Frequency (Gabor)", 0.05, 0.5, 0.25, key="convolution.frequency")
    bias = c[2].slider("Bias", -1.0, 1.0, 0.0, 0.05, key="convolution.image_bias")
    relu = c[3].toggle("ReLU", key="convolution.relu")
    picks = c[3].multiselect(
        "Kernels in a layer",
        list(conv.KERNELS),
        key="convolution.layer",
        default=["Sobel x", "Sobel y", "Laplacian", "Gaussian"],
    )
    try:
        pixels = conv.image_array(state.current_image())
        kernel = conv.build_kernel(conv.KernelSpec(name, size, sigma, angle, freq))
        result = conv.apply_kernel(pixels, kernel, bias, relu)
        specs = [conv.KernelSpec(pick, size, sigma, angle, freq) for pick in picks]
        layer = conv.compute_layer(pixels, specs, relu)
    except conv.ConvolutionError as err:
        st.error(str(err))
        return
    st.plotly_chart(cviz.kernel_figure(kernel), key="convolution.kernel_chart")
    maps = np.concatenate([result.channels, result.summed[None]])
    st.plotly_chart(
        cviz.maps_figure(maps, ["red", "green", "blue", "sum + bias"]), key="convolution.response"
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
        f"{layer.kernel_size} over 3 colour channels are **{layer.conv_params:,}** "
        f"numbers, reused at all {h * w:,} positions. A dense layer from the {h}×{w}×3 "
        f"image to the same maps needs **{layer.dense_params:,}**: "
        f"{layer.ratio:,.0f} times as many."
    )


tabs = st.tabs(["Step by step", "Dilated kernels", "Kernels on your image"])
for tab, draw in zip(tabs, (step_tab, dilation_tab, image_tab), strict=True):
    with tab:
        draw()

with st.expander("Go deeper"):
    st.latex(r"y_{r,c} = b + \sum_{i,j} x_{rS + iD,\; cS + jD}\; w_{i,j}")
    st.markdown(
        "PyTorch's convolution does not flip the kernel (it is a cross-correlation). "
        "A transposed convolution spreads the input out with S − 1 zeros between cells, "
        "pads it by D(K−1) − P and slides the flipped kernel with stride 1."
    )
    st.latex(
        r"O = \left\lfloor \frac{W + 2P - D(K-1) - 1}{S} \right\rfloor + 1 \qquad "
        r"O_{T} = (W-1)S - 2P + D(K-1) + P_{out} + 1"
    )
    st.latex(
        r"O_{pool} = \left\lceil \frac{W + 2P - K}{S} \right\rceil + 1 \;(\text{ceil mode})"
        r"\qquad RF_{l} = RF_{l-1} + D_l (K-1)"
    )
    st.markdown(
        "Answers curriculum questions **15** (output size), **22** (stride and padding), "
        "**40** (dilated convolutions) and **2, 23, 56** (parameter sharing)."
    )
