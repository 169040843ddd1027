"""Every formula the app shows evaluates to the value printed beside it, and PyTorch agrees."""

from __future__ import annotations

import ast
import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from models.network import formulas as fm
from models.network.geometry import analyze, count_macs, count_params
from models.network.presets import PRESETS
from models.network.spec import ConvSpec, NetworkSpec

ROOT = Path(__file__).resolve().parent.parent


def evaluate(expr: str) -> float:
    """The substituted expression, evaluated by Python with nothing but floor and ceil."""
    return eval(expr, {"__builtins__": {}}, {"floor": math.floor, "ceil": math.ceil})  # noqa: S307


def check(formula: fm.Formula, expected: int) -> None:
    assert formula.value == expected
    assert evaluate(formula.expr) == expected
    assert formula.latex.endswith(f"= {expected}")
    assert formula.text.endswith(f"= {expected}")


def _row(width: int) -> torch.Tensor:
    return torch.zeros(1, 1, 1, width)


sides = st.integers(1, 40)
kernels = st.integers(1, 7)
strides = st.integers(1, 5)
dilations = st.integers(1, 4)


@settings(max_examples=60, deadline=None)
@given(sides, kernels, strides, st.integers(0, 6), dilations)
def test_the_conv_size_formula_evaluates_to_its_value_and_to_torchs_shape(w, k, s, p, d):
    formula = fm.conv_output_size(w, k, s, p, d)
    assume(formula.value >= 1)
    out = F.conv2d(_row(w), torch.zeros(1, 1, 1, k), stride=(1, s), padding=(0, p), dilation=(1, d))
    check(formula, out.shape[-1])


@settings(max_examples=60, deadline=None)
@given(sides, st.integers(1, 6), strides, st.data(), st.integers(1, 3), st.booleans())
def test_the_pool_size_formula_with_ceil_mode_and_dilation_matches_max_pool2d(w, k, s, data, d, c):
    p = data.draw(st.integers(0, k // 2))  # PyTorch: padding at most half the window
    formula = fm.pool_output_size(w, k, s, p, c, d)
    assume(formula.value >= 1)
    out = F.max_pool2d(_row(w), (1, k), (1, s), (0, p), dilation=(1, d), ceil_mode=c)
    check(formula, out.shape[-1])
    if d == 1:
        avg = F.avg_pool2d(_row(w), (1, k), (1, s), (0, p), ceil_mode=c)
        assert avg.shape[-1] == formula.value


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@settings(max_examples=25, deadline=None)
@given(sides, kernels, dilations)
def test_same_padding_splits_like_pytorch_and_keeps_the_size(w, k, d):
    left, right = fm.same_padding(k, d)
    assert evaluate(left.expr) == left.value and evaluate(right.expr) == right.value
    assert left.value + right.value == d * (k - 1) and right.value - left.value in (0, 1)
    size = fm.conv_output_size(w, k, 1, (int(left.value), int(right.value)), d)
    check(size, w)
    x = torch.randn(1, 1, 1, w, generator=torch.Generator().manual_seed(w))
    kernel = torch.randn(1, 1, 1, k, generator=torch.Generator().manual_seed(k))
    same = F.conv2d(x, kernel, padding="same", dilation=(1, d))
    by_hand = F.conv2d(F.pad(x, (int(left.value), int(right.value))), kernel, dilation=(1, d))
    torch.testing.assert_close(same, by_hand)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 20), kernels, strides, st.integers(0, 6), dilations, st.data())
def test_the_transposed_size_formula_matches_conv_transpose2d(w, k, s, p, d, data):
    out_pad = data.draw(st.integers(0, max(s, d) - 1))  # PyTorch: below the stride or dilation
    formula = fm.transposed_output_size(w, k, s, p, d, out_pad)
    assume(formula.value >= 1)
    out = F.conv_transpose2d(
        _row(w),
        torch.zeros(1, 1, 1, k),
        stride=(1, s),
        padding=(0, p),
        output_padding=(0, out_pad),
        dilation=(1, d),
    )
    check(formula, out.shape[-1])


@settings(max_examples=30, deadline=None)
@given(
    kernels,
    st.integers(1, 4),
    st.integers(1, 3),
    st.integers(1, 3),
    st.booleans(),
    st.integers(1, 12),
)
def test_parameter_and_mac_formulas_count_what_a_real_conv_layer_holds_and_does(
    k, c_per_group, groups, out_per_group, bias, side
):
    c_in, c_out = c_per_group * groups, out_per_group * groups
    layer = torch.nn.Conv2d(c_in, c_out, k, groups=groups, bias=bias)
    check(fm.conv_params(k, c_in, c_out, groups, bias), sum(p.numel() for p in layer.parameters()))
    assume(side >= k)
    out = layer(torch.zeros(1, c_in, side, side))
    macs = out.numel() * layer.weight[0].numel()  # one multiply-add per weight and output
    check(fm.conv_macs(out.shape[2], out.shape[3], c_out, k, c_in, groups), macs)
    spec = ConvSpec(c_out, k, groups=groups, bias=bias)
    assert fm.conv_params(k, c_in, c_out, groups, bias).value == count_params(spec, (c_in,))
    shape_in, shape_out = (c_in, side, side), tuple(out.shape[1:])
    assert count_macs(spec, shape_in, shape_out) == macs


@settings(max_examples=30, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(1, 4), st.integers(1, 3), st.integers(1, 2)), min_size=1, max_size=3
    )
)
def test_the_receptive_field_recurrence_matches_the_gradient_of_real_convolutions(layers):
    r, j = 1, 1
    for k, d, s in layers:
        size, jump = fm.receptive_field_step(r, k, d, j), fm.jump_step(j, s)
        assert evaluate(size.expr) == size.value and evaluate(jump.expr) == jump.value
        r, j = int(size.value), int(jump.value)
    x = torch.zeros(1, 1, 1, r + 8, requires_grad=True)
    y = x
    for k, d, s in layers:
        y = F.conv2d(y, torch.ones(1, 1, 1, k), stride=(1, s), dilation=(1, d))
    y[..., 0].sum().backward()  # the first output unit
    touched = torch.nonzero(x.grad[0, 0, 0]).flatten()
    assert int(touched.max() - touched.min()) + 1 == r


@pytest.mark.parametrize("name", list(PRESETS))
def test_the_build_pages_formulas_agree_with_geometry_on_every_preset(name):
    infos = analyze(PRESETS[name].spec)
    r, j = 1, 1
    for info in infos:
        for size, jump in fm.field_steps(info.layer, r, j):
            r, j = int(size.value), int(jump.value)
        if info.rf.size is None:
            break
        assert (r, j) == (info.rf.size, info.rf.jump), info.name
        if isinstance(info.layer, ConvSpec):
            c_in, c_out = info.input_shape[0], info.output_shape[0]
            ly = info.layer
            assert fm.conv_params(ly.kernel_size, c_in, c_out, ly.groups, ly.bias).value == (
                info.params
            )
            h, w = info.output_shape[1:]
            assert fm.conv_macs(h, w, c_out, ly.kernel_size, c_in, ly.groups).value == info.macs


@settings(max_examples=60, deadline=None)
@given(sides, kernels, strides, st.integers(0, 6), dilations)
def test_the_rounding_note_names_the_cells_past_the_last_window(w, k, s, p, d):
    assume(fm.conv_output_size(w, k, s, p, d).value >= 1)
    lost = fm.cells_past_last_window(w, k, s, p, d)
    note = fm.rounding_note(w, k, s, p, d)
    assert (note == "") == ((w + 2 * p - d * (k - 1) - 1) % s == 0)
    if lost:
        assert f"the last {lost} cell(s)" in note


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 30), st.integers(1, 7), strides, st.integers(0, 6))
def test_the_textbook_formula_is_the_unrounded_fraction(w, k, s, p):
    textbook = fm.textbook_output_size(w, k, s, p)
    assert evaluate(textbook.expr) == pytest.approx(float(textbook.value))
    assert textbook.value == fm.Fraction(w - k + 2 * p, s) + 1


def test_a_weighted_sum_lists_every_product_and_evaluates_to_its_value():
    f = fm.weighted_sum([[1, 2], [3, 4]], [[1, -1], [2, 0]], 0.5)
    assert f.latex == r"1\cdot 1 + 2\cdot (-1) + 3\cdot 2 + 4\cdot 0 + 0.5 = 5.5"
    assert evaluate(f.expr) == f.value == 5.5
    long = fm.weighted_sum(list(range(20)), [0.1] * 20, -1.25, shown=3)
    assert r"\dots (17\text{ more})" in long.latex
    assert evaluate(long.expr) == pytest.approx(long.value) == pytest.approx(0.1 * 190 - 1.25)


def test_pyramid_and_flatten_lengths_are_written_with_their_factors():
    pyramid = fm.pyramid_length(3, (1, 2, 4))
    assert pyramid.text == "C(n1² + n2² + n3²) = 3·(1² + 2² + 4²) = 63"
    check(pyramid, 63)
    check(fm.flatten_size((10, 13, 13)), 1690)
    check(fm.linear_params(1690, 10), 16910)
    check(fm.dense_params(12, 5), 65)


# ---- issue 12: one regression test per case ------------------------------------------------


def test_case_1_a_ceil_mode_pool_shows_the_dropped_last_window_and_the_right_size():
    f = fm.pool_output_size(5, 2, 2, 1, ceil_mode=True)
    check(f, 3)
    assert f.value == F.max_pool2d(_row(5), (1, 2), (1, 2), (0, 1), ceil_mode=True).shape[-1]
    assert r"[6 \ge 6]" in f.latex  # the drop rule, worked out, on screen
    note = fm.rounding_note(5, 2, 2, 1, ceil_mode=True)
    assert "rounds 5/2 up" in note and "drops" in note and "down," not in note
    kept = fm.rounding_note(6, 2, 2, 0, ceil_mode=True)  # 4/2: exact, nothing to say
    assert kept == ""
    assert "rounds down" not in fm.rounding_note(7, 2, 2, 0, ceil_mode=True)


def test_case_2_the_receptive_field_rule_carries_the_jump():
    assert fm.FIELD_RULE == r"r_l = r_{l-1} + (k_l - 1)\,d_l\,j_{l-1}"
    check(fm.receptive_field_step(5, 3, 2, 4), 5 + 2 * 2 * 4)


def test_case_3_same_padding_with_an_even_kernel_pads_1_left_and_2_right_and_keeps_64():
    left, right = fm.same_padding(4)
    check(left, 1)
    check(right, 2)
    size = fm.conv_output_size(64, 4, 1, (1, 2))
    check(size, 64)
    assert "64 + 1 + 2" in size.latex


def test_no_page_or_panel_writes_numbers_into_latex_by_hand():
    """st.latex only receives strings built in models/ (an f-string there is a hand formula)."""
    offenders = []
    for path in [*ROOT.glob("pages/*.py"), *ROOT.glob("ui/**/*.py"), ROOT / "app.py"]:
        for node in ast.walk(ast.parse(path.read_text())):
            is_latex = isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "latex"
            if is_latex and any(isinstance(n, ast.JoinedStr) for n in ast.walk(node)):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not offenders


def test_a_network_with_same_padding_and_an_even_kernel_has_the_size_its_formula_gives():
    spec = NetworkSpec.from_dict(
        {
            "input": [1, 64, 64],
            "layers": [{"type": "conv", "out_channels": 1, "kernel_size": 4, "padding": "same"}],
        }
    )
    left, right = fm.same_padding(4)
    assert spec.output_shape[1] == fm.conv_output_size(64, 4, 1, (left.value, right.value)).value
