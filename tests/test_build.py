"""The builder, the presets and the PyTorch code export."""

import pytest
import torch

from models.build import build_model, layer_names
from models.codegen import to_pytorch_code
from models.geometry import analyze, dense_equivalent_params, naive_output_size, unread_pixels
from models.presets import PRESETS
from models.spec import NetworkSpec

STATED_PARAMS = {"TinyVGG (CNN Explainer)": 19_920, "LeNet-5": 61_706, "ConvNetJS MNIST": 5_994}


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_builds_and_runs_to_its_stated_output(name):
    spec = PRESETS[name].spec
    model = build_model(spec).eval()
    out = model(torch.randn(2, *spec.input_shape))
    assert tuple(out.shape) == (2, *spec.output_shape)
    counted = sum(p.numel() for p in model.parameters())
    assert counted == sum(i.params for i in analyze(spec))
    if name in STATED_PARAMS:
        assert counted == STATED_PARAMS[name]


def test_modules_have_readable_names():
    names = layer_names(PRESETS["TinyVGG (CNN Explainer)"].spec)
    assert names[:5] == ["conv1", "relu1", "conv2", "relu2", "pool1"]
    assert names[-2:] == ["flatten1", "fc1"]
    model = build_model(PRESETS["TinyVGG (CNN Explainer)"].spec)
    assert [n for n, _ in model.named_children()] == names


def test_the_seed_fixes_the_initial_weights_without_touching_global_randomness():
    spec = PRESETS["LeNet-5"].spec
    torch.manual_seed(1)
    before = torch.rand(1)
    torch.manual_seed(1)
    a, b = build_model(spec, seed=3), build_model(spec, seed=3)
    assert torch.equal(torch.rand(1), before)
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
    c = build_model(spec, seed=4)
    assert not torch.equal(a.conv1.weight, c.conv1.weight)


@pytest.mark.parametrize("name", list(PRESETS))
def test_exported_code_runs_and_matches_build_model(name):
    spec = PRESETS[name].spec
    namespace: dict = {}
    exec(compile(to_pytorch_code(spec), "network.py", "exec"), namespace)
    exported, built = namespace["Net"]().eval(), build_model(spec).eval()
    assert sum(p.numel() for p in exported.parameters()) == sum(
        p.numel() for p in built.parameters()
    )
    exported.load_state_dict(built.state_dict())  # same keys, same shapes
    x = torch.randn(2, *spec.input_shape)
    assert torch.allclose(exported(x), built(x), atol=1e-6)


def test_exported_code_keeps_unusual_settings():
    spec = NetworkSpec.from_dict(
        {
            "input": [4, 9, 9],
            "layers": [
                {
                    "type": "conv",
                    "out_channels": 4,
                    "kernel_size": 4,
                    "padding": "same",
                    "dilation": 2,
                    "groups": 2,
                    "bias": False,
                },
                {"type": "leaky_relu", "negative_slope": 0.2},
                {"type": "avgpool", "kernel_size": 2, "ceil_mode": True},
                {"type": "global_maxpool"},
                {"type": "batchnorm"},
                {"type": "linear", "out_features": 3, "bias": False},
            ],
        }
    )
    namespace: dict = {}
    exec(compile(to_pytorch_code(spec), "network.py", "exec"), namespace)
    built = build_model(spec).eval()
    exported = namespace["Net"]().eval()
    exported.load_state_dict(built.state_dict())
    x = torch.randn(3, 4, 9, 9)
    assert torch.allclose(exported(x), built(x), atol=1e-6)


def test_receptive_fields_of_worked_examples():
    three = NetworkSpec.from_dict(
        {"input": [1, 32, 32], "layers": [{"type": "conv", "out_channels": 1}] * 3}
    )
    assert [i.rf.size for i in analyze(three)] == [3, 5, 7]
    dilated = NetworkSpec.from_dict(
        {
            "input": [1, 32, 32],
            "layers": [{"type": "conv", "out_channels": 1, "dilation": d} for d in (1, 2, 4)],
        }
    )
    assert analyze(dilated)[-1].rf.size == 15
    stem = NetworkSpec.from_dict(
        {
            "input": [3, 64, 64],
            "layers": [
                {"type": "conv", "out_channels": 8, "kernel_size": 7, "stride": 2, "padding": 3},
                {"type": "maxpool", "kernel_size": 3, "stride": 2, "padding": 1},
            ],
        }
    )
    rf = analyze(stem)[-1].rf
    assert (rf.size, rf.jump) == (11, 4)


def test_the_naive_formula_is_flagged_when_it_gives_a_fraction():
    assert naive_output_size(7, 2, 2, 0) == pytest.approx(3.5)
    assert unread_pixels(7, 2, 2, 0) == 1  # row 7 is never read
    assert naive_output_size(8, 2, 2, 0) == 4 and unread_pixels(8, 2, 2, 0) == 0
    assert unread_pixels(6, 3, 2, 1) == 0  # the cell no window reaches is padding


def test_unread_pixels_agree_with_the_gradient_of_a_strided_conv():
    for size, k, s, p in [
        (7, 3, 2, 0),
        (10, 3, 3, 1),
        (9, 4, 3, 0),
        (6, 3, 2, 1),
        (11, 4, 4, 1),
    ]:  # stride ≤ kernel: no gaps
        x = torch.ones(1, 1, size, size, requires_grad=True)
        torch.nn.functional.conv2d(x, torch.ones(1, 1, k, k), stride=s, padding=p).sum().backward()
        untouched_rows = int((x.grad[0, 0, :, 0] == 0).sum())
        assert unread_pixels(size, k, s, p) == untouched_rows, (size, k, s, p)


def test_a_dense_layer_needs_far_more_weights_than_a_conv():
    info = analyze(PRESETS["TinyVGG (CNN Explainer)"].spec)[0]
    assert dense_equivalent_params(info.input_shape, info.output_shape) > 1000 * info.params
