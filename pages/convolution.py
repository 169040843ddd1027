"""Convolution: a kernel slid over numbers and over your image; padding, stride, dilation."""

import streamlit as st

from models.network import formulas
from models.operations import convolution as conv
from models.operations import kernels as kern
from ui import frame, glossary, results, state
from ui.panels import convolution as panels
from ui.panels import convolution_captions as captions
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
glossary.popover_for("convolution")
panels.set_defaults()


@st.fragment
def step_tab() -> None:
    try:
        grid, kernel, spec = panels.step_controls()
        report = conv.compute_output_size(grid.shape, kernel.shape[0], spec)
    except (conv.ConvolutionError, ValueError, TypeError) as err:
        st.error(str(err))
        return
    panels.play_button()
    if report.problem:
        st.error(report.problem)
    else:
        try:
            panels.show_step(grid, kernel, spec, report.rows.exact * report.cols.exact)
        except conv.ConvolutionError as err:
            st.error(str(err))
    panels.show_sizes(report, grid.shape, kernel.shape[0], spec.dilation)


@st.fragment
def dilation_tab() -> None:
    c = st.columns(2)
    k = c[0].slider("Kernel size", 1, conv.MAX_KERNEL_SIDE, 3, key="convolution.dil_kernel")
    rate = c[0].slider("Dilation rate", 1, 8, 2, key="convolution.rate")
    c[0].latex(formulas.dilated_extent(k, rate).display)
    footprint = kern.dilated_footprint(k, rate)
    c[0].plotly_chart(results.shared(cviz.footprint_figure, footprint), key="convolution.footprint")
    c[0].caption(captions.footprint_caption(footprint))
    text = c[1].text_input(
        "Rates of a stack of stride-1 layers",
        "1, 2, 4, 8",
        help='Try "2, 2, 2" to see gridding.',
        key="convolution.rates",
    )
    try:
        stack = results.shared(kern.compute_dilated_stack, k, kern.parse_rates(text))
    except conv.ConvolutionError as err:
        c[1].error(str(err))
        return
    c[1].plotly_chart(
        results.shared(cviz.receptive_field_figure, stack.fields, stack.plain_fields),
        key="convolution.rf_growth",
    )
    c[1].caption(captions.growth_caption(stack))
    st.plotly_chart(
        results.shared(cviz.paths_figure, stack.paths, stack.seen_share), key="convolution.paths"
    )
    st.caption(captions.paths_caption(stack))


@st.fragment
def image_tab() -> None:
    spec, bias, relu, picks = panels.image_controls()
    try:  # built once per image and settings for every session (ui/panels/convolution.py)
        view = panels.image_view(state.current_image(), spec, bias, relu, picks)
    except conv.ConvolutionError as err:
        st.error(str(err))
        return
    st.plotly_chart(view.kernel_figure, key="convolution.kernel_chart")
    st.plotly_chart(view.response_figure, key="convolution.response")
    st.download_button(
        "Download the summed map (PNG)",
        view.summed_png,
        "response.png",
        "image/png",
        key="convolution.download_map",
    )
    st.plotly_chart(view.layer_figure, key="convolution.layer_chart")
    st.caption(captions.layer_caption(view.layer.maps, picks))
    panels.show_sharing(view.layer, len(picks), view.shape)


# Only the open tab runs (a click on another reruns the page): a third of the work per visit.
tabs = st.tabs(list(panels.TABS), key="convolution.tab", on_change="rerun")
for tab, draw in zip(tabs, (step_tab, dilation_tab, image_tab), strict=True):
    if tab.open is not False:
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
        formulas.CONV_SIZE_RULE + r"\qquad \text{transposed: } " + formulas.TRANSPOSED_SIZE_RULE
    )
    st.latex(r"\text{pooling, ceil\_mode: } " + formulas.POOL_CEIL_SIZE_RULE)
    st.latex(formulas.FIELD_RULE + r", \qquad " + formulas.JUMP_RULE)
    st.markdown(
        "With ceil_mode the bracket is 1 when the last window would start in the right padding, "
        "and PyTorch drops that window. The receptive field r grows by (k − 1)·d, the "
        "kernel's extent minus one, times the jump j so far: the input pixels between "
        "neighbouring units, which every stride multiplies."
    )
    st.markdown(
        "What this page answers: the output size of a convolution; stride and padding; "
        "dilated convolutions; parameter sharing."
    )
