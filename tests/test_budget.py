"""Network cost caps: parameters, activation memory and MACs are checked from geometry alone,
refused in plain words with the numbers, raised by a server owner's environment variables, and
no value a user can send makes validation fail with anything but a SpecError."""

from __future__ import annotations

import json
import math
import time

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from models.network import geometry
from models.network.budget import (
    ENV_ACTIVATION_MB,
    ENV_GMACS,
    ENV_PARAMS,
    MB,
    Budget,
    check_budget,
    count_activations,
    network_cost,
)
from models.network.build import build_model
from models.network.presets import PRESETS
from models.network.spec import LAYER_TYPES, NetworkSpec, SpecError, layer_from_dict, new_layer

CAPS = Budget()
RELU = {"type": "relu"}


def _net(shape: list[int], *layers: dict) -> dict:
    return {"input": shape, "layers": list(layers)}


def _conv(out: int, k: int = 3, **kw) -> dict:
    return {"type": "conv", "out_channels": out, "kernel_size": k, **kw}


def _vgg_body(side: int, widths: list[int | str]) -> dict:
    """VGG's 3×3 conv stacks ("M": a 2×2 max pooling), then global pooling and 10 classes."""
    layers: list[dict] = []
    for w in widths:
        layers += [{"type": "maxpool"}] if w == "M" else [_conv(int(w), padding=1), RELU]
    return _net(
        [3, side, side], *layers, {"type": "global_avgpool"}, {"type": "linear", "out_features": 10}
    )


VGG16 = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]
TINYVGG = PRESETS["TinyVGG (CNN Explainer)"].spec.to_dict()

OVER_PARAMS = _net([1, 100, 100], {"type": "flatten"}, {"type": "linear", "out_features": 100_000})
OVER_MEMORY = TINYVGG | {"input": [3, 2048, 2048]}
OVER_MACS = _net([512, 64, 64], _conv(512, 7))


def _fits(spec: NetworkSpec) -> bool:
    cost = network_cost(spec)
    return (
        cost.params <= CAPS.max_params
        and cost.activation_bytes <= CAPS.max_activation_mb * MB
        and cost.macs <= CAPS.max_gmacs * 1e9
    )


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_fits_the_caps_with_a_hundredfold_margin(name):
    cost = network_cost(PRESETS[name].spec)
    assert cost.params * 100 < CAPS.max_params
    assert cost.activation_bytes * 100 < CAPS.max_activation_mb * MB
    assert cost.macs * 100 < CAPS.max_gmacs * 1e9


@pytest.mark.parametrize(
    "doc",
    [
        PRESETS["Small ResNet"].spec.to_dict() | {"input": [3, 64, 64]},
        PRESETS["Small Inception"].spec.to_dict() | {"input": [3, 64, 64]},
        PRESETS["Small VGG"].spec.to_dict() | {"input": [3, 224, 224]},
        _vgg_body(224, VGG16),  # 14.7 million parameters, 110 MB, 15.3 billion MACs
    ],
    ids=["resnet-64", "inception-64", "small-vgg-224", "vgg16-body-224"],
)
def test_the_caps_leave_room_for_real_networks(doc):
    assert _fits(NetworkSpec.from_dict(doc))


@pytest.mark.parametrize(
    ("doc", "words"),
    [
        (OVER_PARAMS, ["1 billion parameters", "the limit here is 50 million", "layer 2 (linear)"]),
        (OVER_MEMORY, ["904.2 MB of memory for one image", "the limit here is 256 MB"]),
        (OVER_MACS, ["43.2 billion multiply-accumulates", "the limit here is 20 billion"]),
    ],
    ids=["params", "memory", "macs"],
)
def test_each_cap_refuses_with_the_numbers_in_plain_words(doc, words):
    with pytest.raises(SpecError) as err:
        NetworkSpec.from_dict(doc)
    for word in words:
        assert word in str(err.value)


@pytest.mark.parametrize(
    ("doc", "variable", "value"),
    [
        (OVER_PARAMS, ENV_PARAMS, "2e9"),
        (OVER_MEMORY, ENV_ACTIVATION_MB, "1024"),
        (OVER_MACS, ENV_GMACS, "50"),
    ],
    ids=["params", "memory", "macs"],
)
def test_a_server_owner_raises_a_cap_with_its_environment_variable(
    monkeypatch, doc, variable, value
):
    monkeypatch.setenv(variable, value)
    assert NetworkSpec.from_dict(doc).input_shape == tuple(doc["input"])


def test_an_environment_variable_can_also_lower_a_cap(monkeypatch):
    monkeypatch.setenv(ENV_PARAMS, "10000")
    with pytest.raises(SpecError, match="19,920 parameters; the limit here is 10,000"):
        NetworkSpec.from_dict(TINYVGG)


@pytest.mark.parametrize("text", ["lots", "-5", "0", "nan", "inf"])
def test_a_bad_environment_value_is_refused_naming_the_variable(monkeypatch, text):
    monkeypatch.setenv(ENV_GMACS, text)
    with pytest.raises(SpecError, match=ENV_GMACS):
        Budget.from_env()


def test_budget_from_env_reads_each_variable_and_defaults_the_rest():
    budget = Budget.from_env({ENV_PARAMS: "1000", ENV_ACTIVATION_MB: " 2.5 "})
    assert budget == Budget(max_params=1000, max_activation_mb=2.5, max_gmacs=CAPS.max_gmacs)
    assert Budget.from_env({}) == CAPS


def test_the_input_alone_counts_towards_the_memory():
    spec = NetworkSpec.from_dict(_net([3, 4096, 4096]))
    assert network_cost(spec).activation_bytes == 4 * 3 * 4096 * 4096
    with pytest.raises(SpecError, match="The largest part is the input, with 192 MB"):
        check_budget(spec.layers, spec.shapes(), Budget(max_activation_mb=100))


def test_a_large_input_to_tinyvgg_is_refused_by_the_memory_cap_not_the_side_limit():
    NetworkSpec.from_dict(TINYVGG | {"input": [3, 224, 224]})
    with pytest.raises(SpecError, match="memory"):
        NetworkSpec.from_dict(OVER_MEMORY)


def test_an_inception_block_over_max_channels_in_total_is_refused():
    wide = {"type": "inception", "out_1x1": 2000, "out_3x3": 2000, "out_5x5": 64, "pool_proj": 64}
    with pytest.raises(SpecError, match="Layer 1 \\(inception\\).*4128 channels"):
        NetworkSpec.from_dict(_net([3, 8, 8], wide))


@pytest.mark.parametrize(
    ("doc", "words"),
    [
        (_net([4096, 8, 8], {"type": "residual", "out_channels": 4096}), "302 million parameters"),
        (
            _net([4096, 8, 8], {"type": "inception", "reduce_3x3": 4096, "out_3x3": 1024}),
            "55.4 million parameters",  # mostly 4096·4096 (the 1×1) and 9·4096·1024 (the 3×3)
        ),
        # Outputs alone: 3 × 64 MB. Each CBAM also makes a gated copy and six 4 MB maps:
        # 64 + 2 × (2 × 64 + 6 × 4) = 368 MB.
        (_net([16, 1024, 1024], {"type": "cbam"}, {"type": "cbam"}), "368 MB of memory"),
    ],
    ids=["residual", "inception", "cbam"],
)
def test_blocks_count_their_inner_channels_and_tensors(doc, words):
    with pytest.raises(SpecError, match="the limit here") as err:
        NetworkSpec.from_dict(doc)
    assert words in str(err.value)
    assert f"layer 1 ({doc['layers'][0]['type']})" in str(err.value)


def test_geometry_and_the_caps_share_one_count():
    assert geometry.count_params is __import__("models.network.budget", fromlist=["_"]).count_params
    assert geometry.count_macs is __import__("models.network.budget", fromlist=["_"]).count_macs


def _leaf_output_values(spec: NetworkSpec) -> int:
    """Values every leaf module outputs in a real forward pass of one image, plus the input."""
    model = build_model(spec).eval()
    total = [math.prod(spec.input_shape)]
    leaves = [m for name, m in model.named_modules() if name and not list(m.children())]
    hooks = [m.register_forward_hook(lambda _m, _i, out: total.append(out.numel())) for m in leaves]
    try:
        with torch.no_grad():
            model(torch.zeros(1, *spec.input_shape))
    finally:
        for hook in hooks:
            hook.remove()
    return sum(total)


@pytest.mark.parametrize("kind", list(LAYER_TYPES))
def test_memory_covers_every_tensor_a_real_forward_pass_makes(kind):
    layers = [new_layer(kind)] if kind != "linear" else [{"type": "flatten"}, new_layer(kind)]
    spec = NetworkSpec.from_dict(_net([8, 12, 12], *layers))
    estimate = network_cost(spec).activation_bytes // 4
    real = _leaf_output_values(spec)
    blocks = {"residual", "inception", "se", "cbam"}
    assert estimate >= real if kind in blocks else estimate == real
    assert estimate <= 3 * real  # blocks add only their sums, products and concatenations


def test_block_activations_grow_with_their_inner_channels():
    narrow, wide = (
        count_activations(layer_from_dict({"type": "inception", "reduce_3x3": r}), (16, 8, 8), ())
        for r in (4, 400)
    )
    assert wide - narrow == 2 * 396 * 8 * 8  # the 1×1 reduction's output and its ReLU


def test_a_25_mb_json_of_relus_is_refused_before_it_is_parsed():
    text = '{"input": [3, 8, 8], "layers": [' + ", ".join(['{"type": "relu"}'] * 1_500_000) + "]}"
    assert len(text) > 25_000_000
    start = time.perf_counter()
    with pytest.raises(SpecError, match="characters long"):
        NetworkSpec.from_json(text)
    assert time.perf_counter() - start < 1.0  # loose: the check is a length comparison


def test_a_million_layers_are_refused_before_any_layer_is_made():
    # The first layer is invalid: had layers been made, its error would have come first.
    doc = _net([3, 8, 8], {"type": "softmaxx"}, *[RELU] * 1_000_000)
    start = time.perf_counter()
    with pytest.raises(SpecError, match="at most 200 layers; this one has 1,000,001"):
        NetworkSpec.from_dict(doc)
    assert time.perf_counter() - start < 1.0


# ---- property tests: any JSON value, anywhere, is either a valid spec or a SpecError ----

REAL_KEYS = sorted({k for kind in LAYER_TYPES for k in new_layer(kind)} | {"kind", "mode"})
HUGE = st.sampled_from([2**63, -(2**64), 10**400, 10**4000])  # hypothesis cannot print more
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    HUGE,
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=6),
    st.sampled_from(["same", "relu", "conv", "3", ""]),
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(REAL_KEYS) | st.text(max_size=4), inner, max_size=4)
    ),
    max_leaves=10,
)
big = st.sampled_from([1, 3, 64, 512, 2048, 4096])  # sizes that reach the caps together
plausible = st.one_of(
    st.integers(1, 8),
    st.integers(0, 3),
    big,
    st.sampled_from(["same", True, False, 0.25]),
    json_values,
)


def _typed(kind: str) -> st.SearchStrategy[dict]:
    """A layer of `kind` with some of its own settings, each plausible or any JSON value."""
    own = {key: plausible for key in new_layer(kind) if key != "type"}
    return st.fixed_dictionaries({"type": st.just(kind)}, optional=own)


layers = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {"type": st.one_of(st.sampled_from(list(LAYER_TYPES)), json_values)},
        optional={key: plausible for key in REAL_KEYS if key != "type"},
    ),
    st.sampled_from(list(LAYER_TYPES)).flatmap(_typed),
    st.sampled_from(list(LAYER_TYPES)).flatmap(_typed),  # twice: more layers that are valid
)
shapes = st.one_of(
    st.lists(st.integers(1, 40), min_size=3, max_size=3),
    st.lists(big, min_size=3, max_size=3),
    json_values,
)
typed_layers = st.sampled_from(list(LAYER_TYPES)).flatmap(_typed)
documents = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {"input": shapes, "layers": st.lists(layers, max_size=6)}, optional={"extra": scalars}
    ),
    st.fixed_dictionaries({"input": shapes, "layers": st.lists(typed_layers, max_size=4)}),
)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(layers)
def test_any_json_value_as_a_layer_is_a_layer_or_a_spec_error(raw):
    try:
        spec = NetworkSpec.from_dict(_net([4, 16, 16], raw))
    except SpecError as err:
        assert 0 < len(str(err)) < 1000
        return
    assert _fits(spec)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents)
def test_any_json_document_is_a_network_within_the_caps_or_a_spec_error(doc):
    try:
        spec = NetworkSpec.from_dict(doc)
    except SpecError as err:
        assert 0 < len(str(err)) < 1000
        text = _dumps(doc)
        if text is not None:  # the same document as text is refused the same way
            with pytest.raises(SpecError):
                NetworkSpec.from_json(text)
        return
    assert _fits(spec)
    text = _dumps(doc)
    assert text is None or NetworkSpec.from_json(text) == spec
    cost = network_cost(spec)
    if cost.params < 100_000 and cost.activation_bytes < 4 * MB:  # small: build it and count
        assert sum(p.numel() for p in build_model(spec).parameters()) == cost.params


def _dumps(doc: object) -> str | None:
    """JSON text of `doc`, or None when it holds an int Python will not write (4,300+ digits)."""
    try:
        return json.dumps(doc)
    except ValueError:
        return None


@settings(max_examples=100, deadline=None)
@given(st.one_of(st.text(max_size=40), json_values.map(_dumps).filter(bool)))
def test_any_text_is_a_network_or_a_spec_error(text):
    try:
        NetworkSpec.from_json(text)
    except SpecError as err:
        assert str(err)


def test_a_network_just_over_a_cap_is_told_the_exact_numbers():
    doc = _net([1, 1, 1], {"type": "flatten"}, {"type": "linear", "out_features": 5})  # 10
    with pytest.raises(SpecError, match="has 10 parameters; the limit here is 9"):
        check_budget(*_layers_and_shapes(doc), Budget(max_params=9))
    over = _net([1, 1000, 1000], {"type": "flatten"}, {"type": "linear", "out_features": 50})
    with pytest.raises(SpecError, match="has 50,000,050 parameters; the limit here is 50,000,000"):
        NetworkSpec.from_dict(over)


def _layers_and_shapes(doc: dict) -> tuple:
    spec = NetworkSpec.from_dict(doc)
    return spec.layers, spec.shapes()
