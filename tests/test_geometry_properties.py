"""Property tests: the formulas of models/network/geometry.py and models/network/budget.py agree
with PyTorch on random networks."""

import contextlib
import math

import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from models.network.budget import network_cost
from models.network.build import build_model
from models.network.geometry import analyze
from models.network.spec import ACTIVATIONS, NetworkSpec, SpecError, layer_from_dict

small = st.integers(1, 6)


def spatial_layer(draw) -> dict:
    kind = draw(
        st.sampled_from(
            [
                "conv",
                "conv",
                "act",
                "pool",
                "batchnorm",
                "dropout",
                "residual",
                "inception",
                "se",
                "cbam",
            ]
        )
    )
    if kind == "conv":
        groups = draw(st.sampled_from([1, 1, 2]))
        same = draw(st.booleans()) and draw(st.booleans())
        return {
            "type": "conv",
            "out_channels": groups * draw(small),
            "groups": groups,
            "kernel_size": draw(st.integers(1, 5)),
            "dilation": draw(st.integers(1, 3)),
            "stride": 1 if same else draw(st.integers(1, 3)),
            "padding": "same" if same else draw(st.integers(0, 3)),
            "bias": draw(st.booleans()),
        }
    if kind == "act":
        return {"type": draw(st.sampled_from(ACTIVATIONS))}
    if kind == "pool":
        k = draw(st.integers(1, 4))
        return {
            "type": draw(st.sampled_from(["maxpool", "avgpool"])),
            "kernel_size": k,
            "stride": draw(st.integers(1, 3)),
            "padding": draw(st.integers(0, k // 2)),
            "ceil_mode": draw(st.booleans()),
        }
    if kind == "residual":
        return {"type": "residual", "out_channels": draw(small), "stride": draw(st.integers(1, 2))}
    if kind == "inception":
        return {
            "type": "inception",
            "out_1x1": draw(small),
            "reduce_3x3": draw(st.integers(0, 3)),
            "out_3x3": draw(small),
            "reduce_5x5": draw(st.integers(0, 3)),
            "out_5x5": draw(small),
            "pool_proj": draw(small),
        }
    if kind == "se":
        return {"type": "se", "reduction": draw(st.integers(1, 4))}
    if kind == "cbam":
        return {
            "type": "cbam",
            "reduction": draw(st.integers(1, 4)),
            "spatial_kernel": draw(st.sampled_from([1, 3, 5])),
        }
    if kind == "dropout":
        return {"type": "dropout", "p": draw(st.floats(0, 0.9))}
    return {"type": kind}


@st.composite
def valid_specs(draw) -> NetworkSpec:
    """Grow a network layer by layer, keeping only layers that fit the shape so far."""
    layers: list[dict] = []
    shape = [draw(st.integers(1, 4)), draw(st.integers(3, 20)), draw(st.integers(3, 20))]
    for _ in range(draw(st.integers(0, 6))):
        candidate = layers + [spatial_layer(draw)]
        try:
            NetworkSpec.from_dict({"input": shape, "layers": candidate})
            layers = candidate
        except SpecError:
            pass
    tail = draw(st.sampled_from(["none", "flatten", "global"]))
    if tail != "none":
        head = {"type": "flatten"} if tail == "flatten" else {"type": "global_maxpool"}
        layers += [head, {"type": "batchnorm"}, {"type": "linear", "out_features": draw(small)}]
    return NetworkSpec.from_dict({"input": shape, "layers": layers})


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(valid_specs())
def test_shapes_and_parameter_counts_match_a_real_forward_pass(spec):
    model = build_model(spec).eval()
    infos = analyze(spec)
    x = torch.randn(2, *spec.input_shape)
    with torch.no_grad():
        for info, (name, module) in zip(infos, model.named_children()):
            x = module(x)
            assert tuple(x.shape[1:]) == info.output_shape, name
            assert sum(p.numel() for p in module.parameters()) == info.params, name


BLOCKS = {"residual", "inception", "se", "cbam"}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(valid_specs())
def test_the_cost_matches_the_tensors_and_weights_of_a_real_forward_pass(spec):
    """Parameters exactly; memory: every leaf module's output, and more only inside blocks."""
    model = build_model(spec).eval()
    values = [math.prod(spec.input_shape)]
    hooks = [
        m.register_forward_hook(lambda _m, _i, out: values.append(out[0].numel()))
        for name, m in model.named_modules()
        if name and not list(m.children())  # leaves; not the (maybe empty) network itself
    ]
    try:
        with torch.no_grad():
            model(torch.zeros(2, *spec.input_shape))  # two images: batchnorm1d needs them
    finally:
        for hook in hooks:
            hook.remove()
    cost = network_cost(spec)
    assert cost.params == sum(p.numel() for p in model.parameters())
    assert cost.macs == sum(info.macs for info in analyze(spec))
    if any(layer.type in BLOCKS for layer in spec.layers):
        assert cost.activation_bytes >= 4 * sum(values)
    else:
        assert cost.activation_bytes == 4 * sum(values)


junk = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 70),
    st.floats(allow_nan=True),
    st.text(max_size=4),
    st.lists(st.integers(0, 3), max_size=3),
)
keys = st.sampled_from(
    [
        "out_channels",
        "kernel_size",
        "stride",
        "padding",
        "dilation",
        "groups",
        "p",
        "out_features",
        "bias",
        "ceil_mode",
        "reduction",
        "colour",
    ]
)


@st.composite
def random_layer_dicts(draw) -> dict:
    kind = draw(
        st.one_of(
            st.sampled_from(
                [
                    "conv",
                    "linear",
                    "maxpool",
                    "relu",
                    "dropout",
                    "inception",
                    "se",
                    "cbam",
                    "residual",
                ]
            ),
            st.text(),
        )
    )
    return {"type": kind} | draw(st.dictionaries(keys, junk, max_size=4))


@settings(max_examples=300, deadline=None)
@given(
    st.lists(random_layer_dicts(), max_size=5),
    st.lists(st.one_of(st.integers(-2, 40), st.text(max_size=2)), min_size=0, max_size=4),
)
def test_random_invalid_specs_raise_spec_error_and_nothing_else(layers, shape):
    try:
        spec = NetworkSpec.from_dict({"input": shape, "layers": layers})
    except SpecError as err:
        assert str(err)
        return
    build_model(spec)  # whatever was accepted must build


@settings(max_examples=100, deadline=None)
@given(random_layer_dicts())
def test_a_single_layer_is_accepted_or_refused_with_spec_error(data):
    with contextlib.suppress(SpecError):
        layer_from_dict(data)
