"""The Convolution page's numbers against PyTorch: steps, sizes, dilation, kernels, figures."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from torch import nn

from models.operations import convolution as conv
from models.operations import convolution_step as cstep
from models.operations import kernels as kern
from viz import convolution as cviz


@st.composite
def settings_and_grid(draw):
    """Random step settings, a grid and a kernel; output may be empty (then nothing to check)."""
    transposed = draw(st.booleans())
    stride, dilation = draw(st.integers(1, 4)), draw(st.integers(1, 3))
    out_pad = draw(st.integers(0, max(stride, dilation) - 1)) if transposed else 0
    spec = conv.StepSpec(
        stride,
        draw(st.integers(0, 4)),
        dilation,
        transposed,
        out_pad,
        draw(st.floats(-3, 3).map(lambda b: round(b, 2))),
    )
    rows, cols, k = draw(st.integers(1, 9)), draw(st.integers(1, 9)), draw(st.integers(1, 5))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    return spec, rng.integers(-5, 10, (rows, cols)).astype(float), rng.integers(-3, 4, (k, k))


@settings(max_examples=120, deadline=None)
@given(settings_and_grid())
def test_every_step_sum_equals_the_torch_output_cell(case):
    spec, grid, kernel = case
    report = conv.compute_output_size(grid.shape, kernel.shape[0], spec)
    if report.problem:
        return
    for position in range(report.rows.exact * report.cols.exact):
        step = cstep.compute_step(grid, kernel, spec, position)
        assert step.total == pytest.approx(step.output[step.row, step.col], abs=1e-9)
    assert step.output.shape == (report.rows.exact, report.cols.exact)


@settings(max_examples=200, deadline=None)
@given(settings_and_grid())
def test_output_size_agrees_with_torch_or_says_why_there_is_none(case):
    spec, grid, kernel = case
    report = conv.compute_output_size(grid.shape, kernel.shape[0], spec)
    try:
        shape = cstep.torch_output(grid, kernel, spec).shape
    except RuntimeError:
        shape = None
    if report.problem:
        assert shape is None or 0 in shape
        assert "smaller than 1×1" in report.problem
    else:
        assert shape == (report.rows.exact, report.cols.exact)


@settings(max_examples=100, deadline=None)
@given(settings_and_grid())
def test_coverage_counts_equal_the_gradient_of_a_ones_kernel(case):
    spec, grid, kernel = case
    report = conv.compute_output_size(grid.shape, kernel.shape[0], spec)
    if report.problem:
        return
    x = torch.zeros(1, 1, *grid.shape, dtype=torch.float64, requires_grad=True)
    w = torch.ones(1, 1, *kernel.shape, dtype=torch.float64)
    if spec.transposed:
        y = F.conv_transpose2d(
            x, w, None, spec.stride, spec.padding, spec.output_padding, dilation=spec.dilation
        )
    else:
        y = F.conv2d(x, w, None, spec.stride, spec.padding, spec.dilation)
    y.sum().backward()
    np.testing.assert_array_equal(report.coverage, x.grad[0, 0].numpy())
    rows, cols = (
        np.isin(np.arange(n), axis.unread)
        for n, axis in zip(grid.shape, (report.rows, report.cols), strict=True)
    )
    np.testing.assert_array_equal(report.coverage == 0, rows[:, None] | cols[None, :])


def test_the_naive_formula_is_flagged_when_it_gives_a_fraction_and_unread_rows_are_named():
    axis = conv.axis_size(6, 3, conv.StepSpec(stride=2))
    assert axis.naive.value == pytest.approx(2.5) and axis.exact == 2
    assert axis.unread == (5,) and "the last 1 cell(s) of this side are never read" in axis.note
    padded = conv.axis_size(6, 3, conv.StepSpec(stride=2, padding=1))
    assert padded.naive.value.denominator == 2 and padded.unread == ()  # the unread is padding
    assert "drops only padding" in padded.note


@pytest.mark.parametrize(
    "size,k,stride,padding", [(5, 2, 2, 0), (6, 3, 2, 1), (7, 3, 3, 1), (4, 4, 3, 2), (9, 2, 4, 1)]
)
def test_pooling_sizes_match_torch_with_and_without_ceil_mode(size, k, stride, padding):
    axis = conv.axis_size(size, k, conv.StepSpec(stride=stride, padding=padding))
    x = torch.zeros(1, 1, size, size)
    for ceil, got in ((False, axis.pool_floor), (True, axis.pool_ceil)):
        assert nn.MaxPool2d(k, stride, padding, ceil_mode=ceil)(x).shape[-1] == got.value


def test_the_formula_shows_the_users_numbers():
    axis = conv.axis_size(7, 3, conv.StepSpec(stride=2, padding=1, dilation=2))
    latex = axis.formula.latex
    assert r"7 + 2\cdot 1 - 2\cdot (3 - 1) - 1" in latex and latex.endswith("= 3")
    back = conv.axis_size(3, 3, conv.StepSpec(stride=2, padding=1, transposed=True))
    assert r"(3 - 1)\cdot 2 - 2\cdot 1 + 1\cdot (3 - 1) + 0 + 1 = 5" in back.formula.latex


@pytest.mark.parametrize("name", list(conv.CASES))
def test_every_conv_arithmetic_case_runs_and_transposed_cases_restore_the_input_size(name):
    case = conv.CASES[name]
    grid = cstep.random_grid(case.side, case.side, 1)
    step = cstep.compute_step(grid, np.ones((case.kernel_size,) * 2), case.spec, 0)
    assert step.total == pytest.approx(step.output[0, 0])
    if case.spec.transposed:
        forward = conv.CASES[name.removesuffix(", transposed")]
        assert step.output.shape == (forward.side, forward.side)


def test_padding_and_inserted_zeros_are_marked_on_the_canvas():
    canvas = conv.build_canvas(np.ones((2, 2)), 3, conv.StepSpec(stride=2, transposed=True))
    assert canvas.values.shape == (7, 7)  # (2−1)·2+1 = 3 cells, plus 2 of padding each side
    assert (canvas.kinds[3, 3] == conv.HOLE) and (canvas.kinds[0, 0] == conv.PADDING)
    assert canvas.values.sum() == 4 and (canvas.kinds == conv.INPUT).sum() == 4


def test_a_dilated_window_reads_only_every_dth_cell():
    step = cstep.compute_step(
        np.arange(49.0).reshape(7, 7), np.ones((3, 3)), conv.StepSpec(dilation=2), 4
    )
    assert list(step.tap_rows) == [1, 3, 5] and list(step.tap_cols) == [1, 3, 5]


@pytest.mark.parametrize(
    "bad",
    [
        dict(stride=0),
        dict(padding=-1),
        dict(output_padding=1),
        dict(dilation=1.5),
        dict(transposed=True, stride=2, output_padding=2),
        dict(bias=float("nan")),
    ],
)
def test_impossible_settings_are_refused_with_a_reason(bad):
    with pytest.raises(conv.ConvolutionError):
        conv.StepSpec(**bad)


def test_a_kernel_too_big_for_the_input_gives_a_clear_error_not_a_crash():
    with pytest.raises(conv.ConvolutionError, match="smaller than 1×1"):
        cstep.compute_step(np.ones((4, 4)), np.ones((7, 7)), conv.StepSpec(), 0)


@pytest.mark.parametrize(
    "grid,kernel",
    [
        (np.array([[1.0, np.nan]]), np.ones((1, 1))),
        (np.ones((3, 3)), np.ones((2, 3))),
        (np.ones((13, 3)), np.ones((1, 1))),
        (np.ones(4), np.ones((1, 1))),
    ],
)
def test_bad_numbers_are_refused_with_a_reason(grid, kernel):
    with pytest.raises(conv.ConvolutionError):
        cstep.compute_step(grid, kernel, conv.StepSpec(), 0)


def test_the_step_equation_lists_each_product_and_the_bias():
    step = cstep.compute_step(
        np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([[1, -1], [2, 0]]), conv.StepSpec(bias=0.5), 0
    )
    assert cstep.step_latex(step, 0.5) == (
        r"1\cdot 1 + 2\cdot (-1) + 3\cdot 2 + 4\cdot 0 + 0.5 = 5.5"
    )


def test_input_grids_are_reproducible_and_in_range():
    assert np.array_equal(cstep.random_grid(4, 6, 3), cstep.random_grid(4, 6, 3))
    image = Image.fromarray(np.tile(np.arange(0, 256, 4, dtype=np.uint8), (48, 1)))
    grid = cstep.image_grid(image.convert("RGB"), 5, 8)
    assert grid.shape == (5, 8) and grid.min() >= 0 and grid.max() <= 9
    assert (np.diff(grid, axis=1) >= 0).all()  # a left-to-right ramp stays a ramp


def test_dilated_stack_paths_match_autograd_through_real_conv_layers():
    rates, k = (1, 2, 2), 3
    stack = kern.compute_dilated_stack(k, rates)
    layers = [nn.Conv2d(1, 1, k, dilation=r, bias=False) for r in rates]
    for layer in layers:
        nn.init.ones_(layer.weight)
    x = torch.zeros(1, 1, stack.fields[-1], stack.fields[-1], requires_grad=True)
    nn.Sequential(*layers)(x).sum().backward()  # one output unit
    np.testing.assert_array_equal(stack.paths, x.grad[0, 0].numpy())


def test_rates_1_2_4_8_grow_the_field_to_31_and_repeated_rates_leave_holes():
    stack = kern.compute_dilated_stack(3, kern.parse_rates("1, 2, 4, 8"))
    assert stack.fields == (3, 7, 15, 31) and stack.plain_fields == (3, 5, 7, 9)
    assert stack.seen_share == 1.0
    assert kern.compute_dilated_stack(3, (2, 2, 2)).seen_share < 0.3


@pytest.mark.parametrize("text", ["", "1, x", "0", "1 2 3 4 5 6 7 8 9", "99"])
def test_badly_typed_rates_are_refused(text):
    with pytest.raises(conv.ConvolutionError):
        kern.parse_rates(text)


def test_footprint_and_effective_size():
    mask = kern.dilated_footprint(3, 4)
    assert mask.shape == (9, 9) == (kern.effective_size(3, 4),) * 2 and mask.sum() == 9


@pytest.mark.parametrize("name", list(kern.KERNELS))
@pytest.mark.parametrize("size", [3, 5, 7])
def test_every_kernel_preset_builds_at_every_size(name, size):
    kernel = kern.build_kernel(kern.KernelSpec(name, size))
    assert kernel.shape == (size, size) and np.isfinite(kernel).all()


def test_kernel_presets_have_their_defining_sums():
    assert kern.build_kernel(kern.KernelSpec("Gaussian", 5)).sum() == pytest.approx(1)
    assert kern.build_kernel(kern.KernelSpec("Gabor", 7, 2, 30, 0.2)).sum() == pytest.approx(0)
    assert kern.build_kernel(kern.KernelSpec("Laplacian", 3)).sum() == 0
    with pytest.raises(conv.ConvolutionError):
        kern.build_kernel(kern.KernelSpec("Sobel x", 2))


def _tiny_pixels() -> np.ndarray:
    return np.random.default_rng(0).random((3, 9, 11)).astype(np.float32)


def test_the_image_response_is_a_three_channel_conv_layer():
    pixels, kernel = _tiny_pixels(), kern.build_kernel(kern.KernelSpec("Sobel y", 5))
    result = kern.apply_kernel(pixels, kernel, -0.2, relu=True)
    layer = nn.Conv2d(3, 1, 5, padding=2)
    with torch.no_grad():
        layer.weight.copy_(torch.from_numpy(kernel).float().expand(1, 3, 5, 5))
        layer.bias.fill_(-0.2)
        expected = torch.relu(layer(torch.from_numpy(pixels)[None]))[0, 0].numpy()
    np.testing.assert_allclose(result.summed, expected, atol=1e-5)
    np.testing.assert_allclose(
        result.channels.sum(0) - 0.2,
        layer(torch.from_numpy(pixels)[None])[0, 0].detach().numpy(),
        atol=1e-5,
    )


def test_a_layer_of_kernels_counts_parameters_like_torch_does():
    pixels = _tiny_pixels()
    names = ["Sobel x", "Gabor", "Identity"]
    layer = kern.compute_layer(pixels, [kern.KernelSpec(n, 5) for n in names], relu=False)
    torch_conv = nn.Conv2d(3, 3, 5)
    dense = nn.Linear(3 * 9 * 11, 3 * 9 * 11)
    assert layer.conv_params == sum(p.numel() for p in torch_conv.parameters())
    assert layer.dense_params == sum(p.numel() for p in dense.parameters())
    np.testing.assert_allclose(layer.maps[2], pixels.sum(0), atol=1e-5)  # identity kernel


def test_functions_leave_their_inputs_alone():
    grid, kernel, pixels = (
        np.arange(25.0).reshape(5, 5),
        np.arange(9.0).reshape(3, 3),
        _tiny_pixels(),
    )
    copies = grid.copy(), kernel.copy(), pixels.copy()
    cstep.compute_step(grid, kernel, conv.StepSpec(stride=2, transposed=True), 3)
    kern.apply_kernel(pixels, kernel, 0.0, True)
    for before, after in zip(copies, (grid, kernel, pixels), strict=True):
        np.testing.assert_array_equal(before, after)


def test_the_step_figure_frames_the_window_and_fills_the_output_up_to_the_step():
    step = cstep.compute_step(np.arange(16.0).reshape(4, 4), np.ones((3, 3)), conv.StepSpec(), 2)
    fig = cviz.step_figure(step)
    window = next(s for s in fig.layout.shapes if s.name == "window")
    assert (window.x0, window.y0) == (-0.5, 0.5)  # output (1, 0): canvas rows 1..3, cols 0..2
    texts = fig.data[3].text
    assert [cell != "" for row in texts for cell in row] == [True, True, True, False]
    assert texts[1][0] == "81" and fig.layout.annotations[2].text.endswith("→ 81")


def test_the_coverage_figure_boxes_every_unread_cell():
    report = conv.compute_output_size((6, 6), 3, conv.StepSpec(stride=2))
    fig = cviz.coverage_figure(report.coverage)
    assert len(fig.layout.shapes) == (report.coverage == 0).sum() == 11


def test_big_maps_are_thinned_for_display_but_keep_exact_values():
    maps = np.random.default_rng(1).random((2, 600, 520)).astype(np.float32)
    fig = cviz.maps_figure(maps, ["a", "b"])
    z = np.asarray(fig.data[0].z)
    assert max(z.shape) <= cviz.MAX_DISPLAY_SIDE and fig.data[0].dx == 3
    np.testing.assert_array_equal(z, maps[0, ::3, ::3])


def test_dilation_figures_show_what_the_stack_sees():
    stack = kern.compute_dilated_stack(3, (2, 2))
    fig = cviz.paths_figure(stack.paths, stack.seen_share)
    assert np.isnan(np.asarray(fig.data[0].z, dtype=float)).sum() == (stack.paths == 0).sum()
    assert list(cviz.receptive_field_figure(stack.fields, stack.plain_fields).data[0].y) == [5, 9]
    assert cviz.footprint_figure(kern.dilated_footprint(2, 3)).data[0].z.sum() == 4
