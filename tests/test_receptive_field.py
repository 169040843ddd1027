"""Receptive fields: worked cases, the gradient footprint, torchvision graphs, effective fields."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
import torchvision
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from models.bundle import untrained_bundle
from models.inspect import effective_field as erf
from models.inspect import receptive_field as rf
from models.network.geometry import analyze
from models.network.presets import PRESETS
from models.network.spec import NetworkSpec
from viz import receptive_field as viz

ACTIVATIONS = (nn.ReLU, nn.Tanh, nn.Sigmoid, nn.ELU, nn.GELU, nn.LeakyReLU, nn.Hardswish)


def conv_stack(*layers: dict, side: int = 32) -> NetworkSpec:
    return NetworkSpec.from_dict({"input": [1, side, side], "layers": list(layers)})


def conv(k: int = 3, stride: int = 1, padding: int = 0, dilation: int = 1) -> dict:
    return {
        "type": "conv",
        "out_channels": 2,
        "kernel_size": k,
        "stride": stride,
        "padding": padding,
        "dilation": dilation,
    }


def fields_of(spec: NetworkSpec) -> dict[str, rf.RFInfo]:
    return rf.compute_receptive_fields(untrained_bundle(spec).model, spec.input_shape)


def test_three_3x3_convs_see_7_pixels():
    info = fields_of(conv_stack(conv(), conv(), conv()))["conv3"]
    assert (info.size, info.jump, info.start) == (7, 1, 3.0)


def test_3x3_convs_at_dilations_1_2_4_see_15_pixels():
    spec = conv_stack(conv(dilation=1), conv(dilation=2), conv(dilation=4))
    assert [fields_of(spec)[f"conv{i}"].size for i in (1, 2, 3)] == [3, 7, 15]


def test_resnet_stem_sees_11_pixels_with_jump_4():
    with torch.device("meta"):
        model = torchvision.models.resnet18(weights=None)
    fields = rf.compute_receptive_fields(model, (3, 224, 224))
    assert (fields["conv1"].size, fields["conv1"].jump) == (7, 2)
    assert (fields["maxpool"].size, fields["maxpool"].jump, fields["maxpool"].shape) == (
        11,
        4,
        (56, 56),
    )


def test_lenet5_fields_by_hand():
    fields = fields_of(PRESETS["LeNet-5"].spec)
    got = [(fields[n].size, fields[n].jump) for n in ("conv1", "pool1", "conv2", "pool2")]
    assert got == [(5, 1), (6, 2), (14, 2), (16, 4)]
    assert fields["fc1"].whole_input and fields["fc1"].box(0, 0) == (0, 31, 0, 31)


@pytest.mark.parametrize("name", list(PRESETS))
def test_traced_fields_agree_with_the_spec_formulas(name):
    spec = PRESETS[name].spec
    fields = fields_of(spec)
    for layer in analyze(spec):
        info = fields[layer.name]
        if layer.rf.size is None:
            assert info.whole_input, layer.name
        else:
            assert (info.size, info.jump, info.start) == (
                layer.rf.size,
                layer.rf.jump,
                layer.rf.start,
            ), layer.name


@pytest.mark.parametrize(
    ("name", "last", "size", "jump"),
    [
        ("resnet50", "layer4", 427, 32),
        ("vgg16", "features.30", 212, 32),
        ("mobilenet_v3_small", "features.12", 639, 32),
        ("googlenet", "inception5b", 379, 32),
    ],
)
def test_torchvision_networks_with_branches_are_traced(name, last, size, jump):
    with torch.device("meta"):  # shapes only: no weights to initialise
        model = (
            getattr(torchvision.models, name)(weights=None, init_weights=False)
            if (name == "googlenet")
            else getattr(torchvision.models, name)(weights=None)
        )
    fields = rf.compute_receptive_fields(model, (3, 224, 224))
    assert (fields[last].size, fields[last].jump) == (size, jump)
    assert fields[""].whole_input
    assert set(fields) <= {n for n, _ in model.named_modules()}


def test_non_square_kernels_grow_one_axis_only():
    with torch.device("meta"):
        model = torchvision.models.inception_v3(weights=None, aux_logits=False, init_weights=False)
    fields = rf.compute_receptive_fields(model, (3, 299, 299))
    before, after = fields["Mixed_6b.branch7x7_1"], fields["Mixed_6b.branch7x7_2"]  # 1×7 conv
    assert after.size == before.size and after.size_w == before.size_w + 6 * before.jump_w


def test_squeeze_excite_gates_do_not_change_the_field():
    fields = fields_of(PRESETS["Attention CNN (SE + CBAM)"].spec)
    assert fields["se1"].size == fields["relu1"].size == 3
    assert fields["cbam1"].size == fields["relu2"].size + 6 * fields["relu2"].jump


def test_a_layer_it_cannot_follow_is_refused_with_a_reason():
    model = nn.Sequential(nn.Conv2d(1, 1, 3), nn.Upsample(scale_factor=2))
    with pytest.raises(rf.ReceptiveFieldError, match="cannot follow"):
        rf.compute_receptive_fields(model, (1, 16, 16))


def test_computing_fields_leaves_a_training_model_unchanged():
    model = untrained_bundle(PRESETS["Small VGG"].spec).model.train()
    before = copy.deepcopy(model.state_dict())
    rf.compute_receptive_fields(model, (3, 32, 32))
    assert model.training
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


# --- the gradient footprint: with positive weights and no nonlinearity, a unit's gradient
# reaches exactly the input pixels of its theoretical field (clipped to the image).


def _linearise(model: nn.Module) -> nn.Module:
    """Positive constant weights, zero biases, identity activations, max pools as averages."""
    model = copy.deepcopy(model).double().eval()
    for name, module in list(model.named_modules()):
        swap = None
        if isinstance(module, ACTIVATIONS):
            swap = nn.Identity()
        elif isinstance(module, nn.MaxPool2d):
            swap = nn.AvgPool2d(module.kernel_size, module.stride, module.padding, module.ceil_mode)
        elif isinstance(module, (nn.Conv2d, nn.Linear)):
            nn.init.constant_(module.weight, 0.1)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        if swap is not None:
            parent, _, child = name.rpartition(".")
            setattr(model.get_submodule(parent), child, swap)
    return model


def footprint(model: nn.Module, layer: str, shape, unit: tuple[int, int]) -> np.ndarray:
    """Which input pixels have a non-zero gradient for one unit of `layer`: (H, W) bool."""
    kept = []
    handle = model.get_submodule(layer).register_forward_hook(lambda m, i, o: kept.append(o))
    x = torch.ones(1, *shape, dtype=torch.float64, requires_grad=True)
    try:
        model(x)
    finally:
        handle.remove()
    (grad,) = torch.autograd.grad(kept[0][0, :, unit[0], unit[1]].sum(), x)
    return grad[0].abs().sum(0).numpy() > 0


def box_mask(info: rf.RFInfo, unit: tuple[int, int], hw: tuple[int, int]) -> np.ndarray:
    top, bottom, left, right = info.box(*unit)
    mask = np.zeros(hw, dtype=bool)
    mask[max(top, 0) : bottom + 1, max(left, 0) : right + 1] = True
    return mask


def interior_units(info: rf.RFInfo, hw: tuple[int, int]) -> list[tuple[int, int]]:
    """Units whose whole field lies inside the image: first, centre and last of them."""
    h, w = info.shape
    inside = [
        (r, c)
        for r in range(h)
        for c in range(w)
        if box_mask(info, (r, c), hw).sum() == info.size * info.size_w
    ]
    return sorted({inside[0], inside[len(inside) // 2], inside[-1]}) if inside else []


def check_footprints(model: nn.Module, shape, layers: list[str]) -> None:
    """Exact for units whose field is inside the image. Near a border, padding at some inner
    layer feeds part of the box with zeros, so the footprint is inside the clipped box."""
    fields = rf.compute_receptive_fields(model, shape)
    linear = _linearise(model)
    for layer in layers:
        info = fields[layer]
        for unit in interior_units(info, shape[1:]):
            expected = box_mask(info, unit, shape[1:])
            assert np.array_equal(footprint(linear, layer, shape, unit), expected), (layer, unit)
        corner = footprint(linear, layer, shape, (0, 0))
        assert corner[0, 0] and not np.any(corner & ~box_mask(info, (0, 0), shape[1:])), layer


@pytest.mark.parametrize(
    "name", ["TinyVGG (CNN Explainer)", "LeNet-5", "Dilated CNN", "Small ResNet", "Small Inception"]
)
def test_receptive_field_matches_gradient_footprint_of_presets(name):
    spec = PRESETS[name].spec
    model = untrained_bundle(spec).model
    fields = rf.compute_receptive_fields(model, spec.input_shape)
    check_footprints(model, spec.input_shape, [n for n, _ in rf.field_growth(model, fields)])


def test_receptive_field_matches_gradient_footprint_of_strided_and_dilated_stacks():
    spec = conv_stack(
        conv(5, 2, 2),
        conv(3, 1, 2, 2),
        {"type": "maxpool", "kernel_size": 3, "stride": 2, "padding": 1},
        conv(3, 2, 1),
        conv(3, 1, 3, 3),
        side=48,
    )
    model = untrained_bundle(spec).model
    check_footprints(model, spec.input_shape, ["conv1", "conv2", "pool1", "conv3", "conv4"])


def test_receptive_field_matches_gradient_footprint_of_resnet18():
    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None, num_classes=2)
    check_footprints(model, (3, 96, 96), ["maxpool", "layer1", "layer2.0", "layer3.0.conv1"])


def test_a_lone_dilated_conv_has_holes_inside_its_box():
    spec = conv_stack(conv(3, dilation=3), side=16)
    model = _linearise(untrained_bundle(spec).model)
    seen = footprint(model, "conv1", (1, 16, 16), (5, 5))
    rows, cols = np.nonzero(seen)
    assert fields_of(spec)["conv1"].box(5, 5) == (rows.min(), rows.max(), cols.min(), cols.max())
    assert seen.sum() == 9  # the box is 7×7 but only the nine taps are read (gridding)


@settings(max_examples=15, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["conv", "maxpool", "avgpool"]),
            st.integers(1, 4),
            st.integers(1, 3),
            st.integers(1, 3),
        ),
        min_size=1,
        max_size=4,
    )
)
def test_field_box_is_the_bounding_box_of_the_gradient_for_random_stacks(layers):
    specs = []
    for kind, k, s, d in layers:
        if kind == "conv":
            specs.append(conv(k, min(s, k), k * d // 2 if k % 2 else 0, d))
        else:
            specs.append({"type": kind, "kernel_size": k, "stride": min(s, k)})
    try:
        spec = conv_stack(*specs, side=40)
    except ValueError:
        return  # the stack shrinks the map below one pixel
    model = untrained_bundle(spec).model
    fields = rf.compute_receptive_fields(model, spec.input_shape)
    last = rf.spatial_layers(model, fields)[-1]
    info = fields[last]
    units = interior_units(info, (40, 40))
    if not units:
        return  # the field does not fit inside the image anywhere
    seen = footprint(_linearise(model), last, spec.input_shape, units[len(units) // 2])
    rows, cols = np.nonzero(seen)
    assert info.box(*units[len(units) // 2]) == (rows.min(), rows.max(), cols.min(), cols.max())


# --- the effective receptive field


@pytest.fixture
def tiny_vgg():
    return untrained_bundle(PRESETS["TinyVGG (CNN Explainer)"].spec, seed=3)


def test_effective_field_lies_inside_the_theoretical_box(tiny_vgg):
    inputs = erf.sample_inputs(tiny_vgg, 4, seed=0)
    result = erf.compute_effective_field(tiny_vgg, "conv4", inputs)
    assert result.unit == (13, 13) and result.grad.shape == (64, 64)
    inside = box_mask(result.info, result.unit, (64, 64))
    assert result.grad[~inside].sum() == 0 and result.grad[inside].sum() > 0
    assert np.all(np.diff(result.shares) >= -1e-9) and result.shares[-1] == pytest.approx(1.0)


def test_effective_field_leaves_a_shared_model_as_it_was(tiny_vgg):
    model = tiny_vgg.model.train()
    before = copy.deepcopy(model.state_dict())
    erf.compute_effective_field(tiny_vgg, "conv2", erf.sample_inputs(tiny_vgg, 2, seed=1))
    assert model.training and not tiny_vgg.lock.locked()
    assert all(not m._forward_hooks for m in model.modules())
    assert all(p.grad is None for p in model.parameters())
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_trained_models_are_compared_with_fresh_weights(tiny_vgg):
    inputs = erf.sample_inputs(tiny_vgg, 2, seed=0)
    assert erf.compare_effective_fields(tiny_vgg, "conv3", inputs)[1] is None
    tiny_vgg.trained = True
    mine, fresh = erf.compare_effective_fields(tiny_vgg, "conv3", inputs, seed=0)
    assert fresh is not None and fresh.unit == mine.unit
    assert not np.allclose(mine.grad, fresh.grad)  # seed 3 against seed 0


def test_image_crops_are_seeded_and_shaped_for_the_network(tiny_vgg):
    from PIL import Image

    image = Image.fromarray(np.arange(90 * 70 * 3, dtype=np.uint8).reshape(90, 70, 3))
    a, b = (erf.sample_inputs(tiny_vgg, 3, seed=5, image=image) for _ in range(2))
    assert a.shape == (3, 3, 64, 64) and torch.equal(a, b)
    assert erf.capture_feature_map(tiny_vgg, "pool1", image).shape == (30, 30)


def test_effective_field_refuses_layers_without_a_map(tiny_vgg):
    with pytest.raises(rf.ReceptiveFieldError, match="no feature map"):
        erf.compute_effective_field(tiny_vgg, "fc1", erf.sample_inputs(tiny_vgg, 1, seed=0))


# --- comparison stacks, unit descriptions and figures


def test_comparison_stacks_grow_as_the_textbook_says(tiny_vgg):
    curves = rf.growth_curves(tiny_vgg, list(rf.COMPARISON_STACKS), 3)
    assert [s for s, _ in curves["3×3 convs"]] == [3, 5, 7]
    assert [s for s, _ in curves["5×5 convs"]] == [5, 9, 13]
    assert [s for s, _ in curves["dilated 3×3 (1, 2, 4, …)"]] == [3, 7, 15]
    assert curves["strided 3×3 (stride 2)"] == [(3, 2), (7, 4), (15, 8)]
    assert curves["your network"][-1] == (16, 4)


def test_describe_unit_says_when_a_field_outgrows_the_image():
    info = fields_of(conv_stack(*[conv(7, padding=3)] * 3, side=16))["conv3"]  # 19 pixels
    view = rf.describe_unit(info, 0, 0, (16, 16))
    assert view.box == (-9, 9, -9, 9) and view.outgrows and view.sees_padding


def test_figures_draw_the_box_and_leave_inputs_alone():
    image = np.zeros((16, 16, 3), dtype=np.uint8)
    fig = viz.field_box_figure(image, (-2, 5, 3, 10), (1.5, 6.5))
    rect = fig.layout.shapes[-1]
    assert (rect.x0, rect.x1, rect.y0, rect.y1) == (2.5, 10.5, -2.5, 5.5)
    fmap = np.ones((4, 5))
    picker = viz.unit_picker_figure(fmap, (1, 2))
    assert len(picker.data[1].x) == 20 and np.array_equal(fmap, np.ones((4, 5)))
