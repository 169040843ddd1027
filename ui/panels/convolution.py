"""Widgets of the Convolution page: the step-by-step controls and views, the image-tab controls."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import plotly.graph_objects as go
import streamlit as st
from PIL import Image

from models.operations import convolution as conv
from models.operations import convolution_step as cstep
from models.operations import kernels as kern
from ui import results, state
from ui.panels import convolution_captions as captions
from viz import convolution as cviz
from viz import narrow

SOURCES = ("Random numbers", "Your image", "Type them")
TABS = ("Step by step", "Dilated kernels", "Kernels on your image")  # "convolution.tab" picks one
PLAYING = "_convolution.playing"
DEFAULTS = {
    "rows": 5,
    "cols": 5,
    "kernel_size": 3,
    "stride": 1,
    "padding": 0,
    "dilation": 1,
    "transposed": False,
    "output_padding": 0,
}


def set_defaults() -> None:
    """Give the step controls their first values (not widget defaults: a case overwrites them)."""
    for key, value in DEFAULTS.items():
        st.session_state.setdefault(f"convolution.{key}", value)


def apply_case() -> None:
    ss = st.session_state
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
    """The step tab's widgets; returns the input grid, the kernel and how the window moves."""
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
    preset = c[2].selectbox("Kernel", list(kern.KERNELS), 1, key="convolution.kernel")
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
        grid = cstep.image_grid(state.current_image(), rows, cols)
        st.caption("The centre of your image, shrunk, as brightness from 0 (dark) to 9.")
    else:
        grid = cstep.random_grid(rows, cols, int(seed))
    left, right = st.columns(2)
    if source == "Type them":
        grid = left.data_editor(grid, key=f"convolution.grid.{rows}x{cols}.{seed}")
    kernel = kern.build_kernel(kern.KernelSpec(preset, k))
    kernel = right.data_editor(kernel, key=f"convolution.kernel_cells.{preset}.{k}")
    return np.asarray(grid, dtype=float), np.asarray(kernel, dtype=float), spec


def play_button() -> None:
    ss = st.session_state
    if st.button("⏸ Pause" if ss.get(PLAYING) else "▶ Play", key="convolution.play"):
        ss[PLAYING] = not ss.get(PLAYING, False)
        st.rerun()  # a full run, so the fragment's timer starts or stops


def show_step(grid: np.ndarray, kernel: np.ndarray, spec: conv.StepSpec, n: int) -> None:
    """The window at the chosen position, its sum and the output; plays on a timer."""
    ss = st.session_state

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
        step = results.shared(cstep.compute_step, grid, kernel, spec, position)
        st.caption(
            f"Step {step.position + 1} of {n}: window at row {step.row}, "
            f"column {step.col} (output cell)."
        )
        figure = results.shared(cviz.step_figure, step, narrow.layout_key())  # phone: stacked
        st.plotly_chart(figure, key="convolution.step_chart")
        st.caption(
            "Grey cells are padding, orange ones zeros put between the inputs; blue boxes "
            "are the cells the kernel reads, inside the dashed window."
        )
        st.latex(cstep.step_latex(step, spec.bias))
        st.download_button(
            "Download the output (CSV)",
            cstep.to_csv(step.output),
            "convolution_output.csv",
            "text/csv",
            key="convolution.download",
        )

    stepper()


def show_sizes(report: conv.SizeReport, shape: tuple[int, int], k: int, dilation: int) -> None:
    """Each axis's output size with its formula, what the textbook says, and the coverage."""
    st.subheader("Output size")
    for name, axis, size in (("Height", report.rows, shape[0]), ("Width", report.cols, shape[1])):
        st.markdown(f"**{name}**, from {size} input cells:")
        st.latex(axis.formula.display)
        naive = axis.naive
        if naive is not None and not isinstance(naive.value, int):
            st.warning(f"The textbook {naive.text}, not a whole number. {axis.note}")
        elif naive is not None and dilation > 1:
            st.caption(f"The textbook {naive.text}: it ignores dilation.")
        if axis.unread and axis.exact >= 1:
            st.info(
                f"{name}: input index {', '.join(map(str, axis.unread))} (from 0) is never read."
            )
        if axis.pool_floor is not None and axis.pool_ceil is not None:
            st.caption(
                f"A {k}×{k} pooling with this stride and padding gives {axis.pool_floor.value} "
                f"(ceil_mode=False) or {axis.pool_ceil.value} (ceil_mode=True: "
                f"{axis.pool_ceil.numbers_text} = {axis.pool_ceil.value})."
            )
    if not report.problem:
        coverage = results.shared(cviz.coverage_figure, report.coverage)
        st.plotly_chart(coverage, key="convolution.coverage")
        st.caption(
            captions.coverage_caption(report.coverage, (report.rows.exact, report.cols.exact))
        )


def image_controls() -> tuple[kern.KernelSpec, float, bool, list[str]]:
    """The image tab's widgets: the kernel, its bias, ReLU, and the kernel names of a layer."""
    c = st.columns(4)
    name = c[0].selectbox("Kernel", list(kern.KERNELS), 5, key="convolution.image_kernel")
    size = c[0].slider("Size", 1, conv.MAX_KERNEL_SIDE, 3, key="convolution.image_size")
    sigma = c[1].slider("Sigma (Gaussian, Gabor)", 0.3, 5.0, 1.0, key="convolution.sigma")
    angle = c[1].slider("Angle ° (Gabor)", 0, 180, 0, 15, key="convolution.angle")
    freq = c[2].slider("Frequency (Gabor)", 0.05, 0.5, 0.25, key="convolution.frequency")
    bias = c[2].slider("Bias", -1.0, 1.0, 0.0, 0.05, key="convolution.image_bias")
    relu = c[3].toggle("ReLU", key="convolution.relu")
    picks = c[3].multiselect(
        "Kernels in a layer",
        list(kern.KERNELS),
        key="convolution.layer",
        default=["Sobel x", "Sobel y", "Laplacian", "Gaussian"],
    )
    return kern.KernelSpec(name, size, sigma, angle, freq), bias, relu, picks


def show_sharing(layer: kern.LayerResult, n_kernels: int, shape: tuple[int, int]) -> None:
    """Parameter sharing in numbers: the layer's kernels against a dense layer."""
    h, w = shape
    k = layer.kernel_size
    st.markdown(
        f"**Parameter sharing.** These {n_kernels} kernels of {k}×{k} over 3 colour channels "
        f"(with a bias each) are **{layer.conv_params:,}** numbers, reused at all {h * w:,} "
        f"positions. A dense layer from the {h}×{w}×3 image to the same maps needs "
        f"**{layer.dense_params:,}**: {layer.ratio:,.0f} times as many."
    )
    st.latex(r"\text{conv: }" + layer.conv_formula.display)
    st.latex(r"\text{dense: }" + layer.dense_formula.display)


@dataclass(frozen=True)
class ImageView:
    """What the image tab shows for one image and one set of controls."""

    kernel_figure: go.Figure
    response_figure: go.Figure  # the kernel on red, green, blue and their sum
    summed_png: bytes
    layer_figure: go.Figure  # one map per kernel of the layer
    layer: kern.LayerResult
    shape: tuple[int, int]  # (H, W) of the pixels the kernels ran on


def _image_view(
    image: Image.Image, spec: kern.KernelSpec, bias: float, relu: bool, picks: tuple[str, ...]
) -> ImageView:
    pixels = kern.image_array(image)
    kernel = kern.build_kernel(spec)
    result = kern.apply_kernel(pixels, kernel, bias, relu)
    layer = kern.compute_layer(pixels, [replace(spec, name=pick) for pick in picks], relu)
    return ImageView(
        cviz.kernel_figure(kernel),
        cviz.response_figure(result.channels, result.summed),
        kern.map_png(result.summed),
        cviz.maps_figure(layer.maps, list(picks)),
        layer,
        pixels.shape[1:],
    )


def image_view(
    image: Image.Image, spec: kern.KernelSpec, bias: float, relu: bool, picks: list[str]
) -> ImageView:
    """The image tab's figures and numbers, built once per image and settings for every
    session (a class on the same sample image shares them); ConvolutionError if refused."""
    return results.shared(_image_view, image, spec, bias, relu, tuple(picks))
