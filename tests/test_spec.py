"""Network specs: JSON round trips, defaults, and plain-worded errors for invalid networks."""

import base64
import json
import zlib

import pytest

from models.network.presets import PRESETS
from models.network.spec import LAYER_TYPES, NetworkSpec, SpecError, conv_out, new_layer, pool_out
from ui.state import decode_spec, encode_spec

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


# ---- wrong types anywhere: always a short SpecError, never TypeError, KeyError, ... ----

HUGE = 10**5000  # Python will not even print this (over 4,300 digits)
NAN, INF = float("nan"), float("inf")


RELU = {"type": "relu"}


def _conv(**kw) -> dict:
    return {"type": "conv", "out_channels": 4} | kw


@pytest.mark.parametrize(
    ("layer", "words"),
    [
        ({"type": ["conv"]}, "unknown layer type"),
        ({"type": {"conv": 1}}, "unknown layer type"),
        ({"type": None}, "unknown layer type"),
        ({"type": 3}, "unknown layer type"),
        ({"type": "x" * 1_000_000}, "unknown layer type"),
        (_conv(out_channels=HUGE), "a number with about 5001 digits"),
        (_conv(out_channels=2**64), "at most 4096"),
        (_conv(kernel_size=3.0), "whole number"),
        (_conv(stride=True), "whole number"),
        (_conv(out_channels="8"), "whole number"),
        (_conv(padding="3"), "whole number"),
        (_conv(padding=None), "whole number"),
        (_conv(bias="yes"), "true or false"),
        ({"type": "maxpool", "ceil_mode": 1}, "true or false"),
        ({"type": "dropout", "p": NAN}, "probability"),
        ({"type": "dropout", "p": INF}, "probability"),
        ({"type": "dropout", "p": -INF}, "probability"),
        ({"type": "dropout", "p": "0.5"}, "number"),
        ({"type": "dropout", "p": True}, "number"),
        ({"type": "leaky_relu", "negative_slope": NAN}, "negative_slope"),
        ({"type": "leaky_relu", "negative_slope": INF}, "negative_slope"),
        ({"type": "leaky_relu", "negative_slope": HUGE}, "negative_slope"),
        ({"type": "relu", "kind": "gelu"}, "unexpected"),
        ({"type": "maxpool", "mode": "avg"}, "unexpected"),
        ({"type": "inception", "out_1x1": [8]}, "whole number"),
        ({"type": "cbam", "spatial_kernel": 7.5}, "whole number"),
        ({"type": "residual", "out_channels": {}}, "whole number"),
    ],
)
def test_a_wrong_type_in_a_layer_raises_a_short_spec_error(layer, words):
    with pytest.raises(SpecError) as err:
        NetworkSpec.from_dict({"input": [4, 8, 8], "layers": [layer]})
    assert words in str(err.value)
    assert "Layer 1 (" in str(err.value) and len(str(err.value)) < 300


@pytest.mark.parametrize(
    "shape",
    [
        [3, 8],
        [3, 8, 8, 8],
        [3.0, 8, 8],
        [True, 8, 8],
        ["3", 8, 8],
        [[3], 8, 8],
        [3, -8, 8],
        [3, HUGE, 8],
        [3, 8, NAN],
        "3,8,8",
        None,
        {"c": 3},
    ],
)
def test_an_input_that_is_not_three_whole_numbers_raises_spec_error(shape):
    with pytest.raises(SpecError) as err:
        NetworkSpec.from_dict({"input": shape, "layers": []})
    assert len(str(err.value)) < 300


@pytest.mark.parametrize(
    ("text", "words"),
    [
        (
            '{"input": [3, 8, 8], "layers": [{"type": "conv", "out_channels": '
            + "9" * 5000
            + "}]}",
            "over 4,300 digits",
        ),
        ('{"input": [3, 8, 8], "layers": [{"type": "dropout", "p": NaN}]}', "probability"),
        ('{"input": [3, 8, 8], "layers": [{"type": "dropout", "p": Infinity}]}', "probability"),
        (
            '{"input": [3, 8, 8], "layers": [{"type": "elu", "negative_slope": -Infinity}]}',
            "negative_slope",
        ),
        ('{"input": [3, 8, 8], "layers": [{"type": null}]}', "unknown layer type"),
        ('{"input": [3, 8, 8], "layers": null}', "must be a list"),
        (b'{"input": [3, 8, 8], "layers": [\xff]}', "not a text file"),
        ("[" * 900_000, "nested too deeply"),
        (" " * 1_000_001, "characters long"),
        (None, "is text"),
        (12, "is text"),
    ],
    ids=[
        "huge-int",
        "nan",
        "inf",
        "-inf",
        "null-type",
        "null-layers",
        "not-utf8",
        "deep",
        "1mb",
        "none",
        "int",
    ],
)
def test_hostile_json_text_raises_a_short_spec_error(text, words):
    with pytest.raises(SpecError) as err:
        NetworkSpec.from_json(text)
    assert words in str(err.value) and len(str(err.value)) < 300


def test_code_that_builds_a_spec_gets_spec_errors_and_may_pass_lists():
    from models.network.spec import ConvSpec

    spec = NetworkSpec([3, 8, 8], [ConvSpec(4)])
    assert spec.input_shape == (3, 8, 8) and hash(spec) == hash(
        NetworkSpec((3, 8, 8), (ConvSpec(4),))
    )
    with pytest.raises(SpecError, match="Layer 1 is not a layer spec"):
        NetworkSpec((3, 8, 8), ({"type": "conv"},))
    with pytest.raises(SpecError, match="layers must be a list"):
        NetworkSpec((3, 8, 8), None)  # type: ignore[arg-type]
    with pytest.raises(SpecError, match="about 5001 digits"):
        ConvSpec(HUGE)


# ---- ?net= links: the decoder caps what it unpacks and says what is wrong in plain words ----


def _link(doc: object, text: str | None = None) -> str:
    """A `?net=` value for any document (encode_spec needs a valid spec; these are not)."""
    raw = (json.dumps(doc) if text is None else text).encode()
    return base64.urlsafe_b64encode(zlib.compress(raw, 9)).decode().rstrip("=")


CONV64 = {"type": "conv", "out_channels": 64, "kernel_size": 3, "padding": 1}
HUGE_NET = {"input": [3, 2048, 2048], "layers": [CONV64, RELU, CONV64, RELU, CONV64]}  # 1 GB each
RELUS_25MB = '{"input": [3, 8, 8], "layers": [' + ", ".join(['{"type": "relu"}'] * 1_500_000) + "]}"


def test_a_link_round_trips_every_preset():
    for preset in PRESETS.values():
        assert decode_spec(encode_spec(preset.spec)) == preset.spec


@pytest.mark.parametrize(
    ("link", "words"),
    [
        (_link(HUGE_NET), "needs 5 GB of memory for one image; the limit here is 256 MB"),
        (_link(None, RELUS_25MB), "more than 200 kB"),
        (_link(ISSUE_EXAMPLE)[:-12], "damaged"),
        ("é" + _link(ISSUE_EXAMPLE), "damaged"),
        ("not a link at all", "damaged"),
        (base64.urlsafe_b64encode(zlib.compress(b"\xff\xfe{}")).decode(), "damaged"),
        ("A" * 100_001, "far longer"),
        (
            _link({"input": [3, 8, 8], "layers": [{"type": "conv", "out_channels": None}]}),
            "Layer 1 (conv): out_channels must be a whole number",
        ),
    ],
    ids=["5gb", "25mb", "cut", "non-ascii", "not-base64", "not-utf8", "too-long", "bad-layer"],
)
def test_a_bad_link_raises_a_spec_error_in_plain_words(link, words):
    with pytest.raises(SpecError) as err:
        decode_spec(link)
    assert words in str(err.value)


def _tiny() -> NetworkSpec:
    return NetworkSpec.from_dict(
        {
            "input": [1, 8, 8],
            "layers": [
                _conv(out_channels=2),
                {"type": "relu"},
                {"type": "maxpool", "kernel_size": 2},
            ],
        }
    )


def _types(spec: NetworkSpec) -> list[str]:
    return [layer.type for layer in spec.layers]


@pytest.mark.parametrize(("i", "expected"), [(0, 0), (1, 1), (3, 3)])
def test_insert_layer_puts_the_layer_at_its_index_and_keeps_the_rest(i, expected):
    spec = _tiny()
    edited = spec.insert_layer(i, LAYER_TYPES["batchnorm"]())
    assert edited.layers[expected].type == "batchnorm"
    assert edited.remove_layer(expected) == spec
    assert _types(spec) == ["conv", "relu", "maxpool"], "the original is left as it was"


def test_move_layer_moves_one_layer_and_keeps_the_others_in_order():
    spec = _tiny()
    assert _types(spec.move_layer(1, 0)) == ["relu", "conv", "maxpool"]
    assert _types(spec.move_layer(0, 2)) == ["relu", "maxpool", "conv"]
    assert spec.move_layer(1, 1) == spec


def test_moving_a_layer_there_and_back_gives_the_same_network():
    spec = _tiny()
    for i in range(3):
        for j in range(3):
            assert spec.move_layer(i, j).move_layer(j, i) == spec


def test_remove_and_replace_layer_edit_one_position():
    spec = _tiny()
    assert _types(spec.remove_layer(1)) == ["conv", "maxpool"]
    assert _types(spec.remove_layer(0).remove_layer(0).remove_layer(0)) == []
    wider = spec.replace_layer(0, LAYER_TYPES["conv"](out_channels=5, kernel_size=3))
    assert wider.output_shape == (5, 3, 3) and wider.layers[1:] == spec.layers[1:]


def test_an_edit_that_breaks_the_network_raises_spec_error_naming_the_layer():
    spec = PRESETS["LeNet-5"].spec
    flatten = _types(spec).index("flatten")
    with pytest.raises(SpecError, match=rf"Layer {flatten + 2} \(conv\)"):
        spec.insert_layer(flatten + 1, LAYER_TYPES["conv"](out_channels=4, kernel_size=3))
    with pytest.raises(SpecError, match="Layer 1 \\(conv\\)"):
        _tiny().replace_layer(0, LAYER_TYPES["conv"](out_channels=2, kernel_size=9))


@pytest.mark.parametrize(
    "edit",
    [
        lambda s: s.insert_layer(4, LAYER_TYPES["relu"]()),
        lambda s: s.insert_layer(-1, LAYER_TYPES["relu"]()),
        lambda s: s.remove_layer(3),
        lambda s: s.move_layer(0, 3),
        lambda s: s.move_layer(-1, 0),
        lambda s: s.replace_layer(5, LAYER_TYPES["relu"]()),
    ],
)
def test_an_index_out_of_range_raises_index_error(edit):
    with pytest.raises(IndexError):
        edit(_tiny())
