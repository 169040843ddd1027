"""The builder, the presets and the PyTorch code export."""

import math
import threading

import pytest
import torch

from models.network import formulas
from models.network.build import _assemble, build_model, layer_names
from models.network.codegen import to_pytorch_code
from models.network.geometry import (
    analyze,
)
from models.network.presets import PRESETS
from models.network.spec import LAYER_TYPES, NetworkSpec, SpecError, new_layer

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


def _default_init(spec: NetworkSpec, seed: int) -> dict[str, torch.Tensor]:
    """PyTorch's own initialisation, as the constructors draw it after seeding the global RNG."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return _assemble(spec, spec.shapes()).state_dict()


def _with_layer(kind: str) -> NetworkSpec:
    """A small network that holds one layer of `kind` (after a flatten where it needs one)."""
    head = [{"type": "conv", "out_channels": 4, "kernel_size": 3, "padding": 1}]
    for layers in (head + [new_layer(kind)], head + [{"type": "flatten"}, new_layer(kind)]):
        try:
            return NetworkSpec.from_dict({"input": [3, 12, 12], "layers": layers})
        except SpecError:
            continue
    raise AssertionError(f"no small network takes a {kind} layer")


@pytest.mark.parametrize(
    "spec",
    [PRESETS[n].spec for n in PRESETS] + [_with_layer(k) for k in LAYER_TYPES],
    ids=[*PRESETS, *LAYER_TYPES],
)
def test_seeded_initialisation_equals_pytorchs_default_draw_for_draw(spec):
    built, expected = build_model(spec, seed=7).state_dict(), _default_init(spec, 7)
    assert list(built) == list(expected)
    for key, value in expected.items():
        assert torch.equal(built[key], value), key


def test_a_seeded_build_ignores_another_thread_reseeding_the_global_generator():
    spec, stop = PRESETS["Small ResNet"].spec, threading.Event()

    def reseed() -> None:
        while not stop.is_set():
            torch.manual_seed(0)
            torch.rand(100)

    thread = threading.Thread(target=reseed, daemon=True)
    thread.start()
    try:
        builds = [build_model(spec, seed=2).state_dict() for _ in range(5)]
    finally:
        stop.set()
        thread.join()
    expected = _default_init(spec, 2)
    assert all(torch.equal(b[k], expected[k]) for b in builds for k in expected)


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
    assert formulas.textbook_output_size(7, 2, 2, 0).value == pytest.approx(3.5)
    assert formulas.cells_past_last_window(7, 2, 2, 0) == 1  # row 7 is never read
    assert formulas.textbook_output_size(8, 2, 2, 0).value == 4
    assert formulas.cells_past_last_window(8, 2, 2, 0) == 0
    assert formulas.cells_past_last_window(6, 3, 2, 1) == 0  # the cell no window reaches is padding


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
        assert formulas.cells_past_last_window(size, k, s, p) == untouched_rows, (size, k, s, p)


def test_a_dense_layer_needs_far_more_weights_than_a_conv():
    info = analyze(PRESETS["TinyVGG (CNN Explainer)"].spec)[0]
    n_in, n_out = math.prod(info.input_shape), math.prod(info.output_shape)
    assert formulas.dense_params(n_in, n_out).value > 1000 * info.params
