"""Network specs: JSON round trips, defaults, and plain-worded errors for invalid networks."""

import json

import pytest

from models.presets import PRESETS
from models.spec import LAYER_TYPES, NetworkSpec, SpecError, conv_out, new_layer, pool_out

ISSUE_EXAMPLE = {
    "input": [3, 32, 32],
    "layers": [
        {
            "type": "conv",
            "out_channels": 8,
            "kernel_size": 3,
            "stride": 1,
            "padding": 1,
            "dilation": 1,
            "groups": 1,
        },
        {"type": "relu"},
        {"type": "maxpool", "kernel_size": 2, "stride": 2},
        {"type": "avgpool", "kernel_size": 2},
        {"type": "batchnorm"},
        {"type": "dropout", "p": 0.5},
        {"type": "flatten"},
        {"type": "linear", "out_features": 10},
    ],
}


def test_the_issue_example_parses_with_defaults_filled_in():
    spec = NetworkSpec.from_dict(ISSUE_EXAMPLE)
    assert spec.output_shape == (10,)
    assert spec.layers[3].to_dict()["stride"] == 2  # a pooling stride defaults to its kernel
    assert spec.shapes()[4] == (8, 8, 8)


@pytest.mark.parametrize("name", list(PRESETS))
def test_json_round_trips_exactly(name):
    spec = PRESETS[name].spec
    text = spec.to_json()
    again = NetworkSpec.from_json(text)
    assert again == spec
    assert again.to_json() == text


@pytest.mark.parametrize("kind", list(LAYER_TYPES))
def test_every_layer_type_round_trips(kind):
    layer = new_layer(kind)
    spec_dict = {"input": [16, 16, 16], "layers": [layer]}
    if kind == "linear":
        spec_dict["layers"] = [{"type": "flatten"}, layer]
    spec = NetworkSpec.from_dict(spec_dict)
    assert NetworkSpec.from_json(spec.to_json()) == spec


@pytest.mark.parametrize(
    ("layers", "words"),
    [
        ([{"type": "conv", "out_channels": 4, "kernel_size": 9}], ["Layer 1 (conv)", "1×1"]),
        ([{"type": "conv", "out_channels": 6, "groups": 4}], ["divisible by groups"]),
        ([{"type": "conv", "out_channels": 4, "groups": 2}], ["input channels"]),
        ([{"type": "relu"}, {"type": "linear", "out_features": 3}], ["Layer 2", "flatten"]),
        ([{"type": "conv", "out_channels": 0}], ["at least 1"]),
        ([{"type": "conv", "out_channels": -3}], ["at least 1"]),
        ([{"type": "conv", "out_channels": 3, "kernel_size": 2.5}], ["whole number"]),
        ([{"type": "softmaxx"}], ["unknown layer type"]),
        ([{"type": "conv"}], ["missing"]),
        ([{"type": "conv", "out_channels": 3, "colour": "red"}], ["unexpected"]),
        ([{"type": "dropout", "p": 1.5}], ["probability"]),
        ([{"type": "maxpool", "kernel_size": 2, "padding": 2}], ["half the kernel"]),
        ([{"type": "conv", "out_channels": 3, "stride": 2, "padding": "same"}], ["same"]),
        ([{"type": "flatten"}, {"type": "conv", "out_channels": 3}], ["flat vector"]),
        (["conv"], ["object"]),
    ],
)
def test_invalid_layers_raise_spec_error_naming_the_layer(layers, words):
    with pytest.raises(SpecError) as err:
        NetworkSpec.from_dict({"input": [3, 5, 5], "layers": layers})
    for word in words:
        assert word in str(err.value)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "{",
        "[]",
        "null",
        '{"input": [3, 8], "layers": []}',
        '{"input": [3, 8, 8]}',
        '{"input": [3, 8, 8], "layers": {}}',
        '{"input": [0, 8, 8], "layers": []}',
        '{"input": ["a", 8, 8], "layers": []}',
        '{"input": [3, 8, 8], "layers": [], "x": 1}',
        "[" * 100_000,
    ],
)
def test_bad_json_raises_only_spec_error(text):
    with pytest.raises(SpecError):
        NetworkSpec.from_json(text)


def test_same_padding_keeps_the_size_even_for_even_kernels():
    spec = NetworkSpec.from_dict(
        {
            "input": [1, 9, 9],
            "layers": [
                {
                    "type": "conv",
                    "out_channels": 2,
                    "kernel_size": 4,
                    "padding": "same",
                    "dilation": 2,
                }
            ],
        }
    )
    assert spec.output_shape == (2, 9, 9)


def test_output_size_rules_match_the_formulas():
    assert conv_out(7, 3, 2, 0) == 3  # floor((7 - 3)/2) + 1
    assert conv_out(64, 3, 1, 0, dilation=2) == 60
    assert pool_out(5, 2, 2, 0, ceil_mode=True) == 3
    assert pool_out(5, 2, 2, 0, ceil_mode=False) == 2


def test_to_json_is_valid_json_with_input_and_layers():
    data = json.loads(PRESETS["LeNet-5"].spec.to_json())
    assert data["input"] == [1, 32, 32] and data["layers"][0]["type"] == "conv"
