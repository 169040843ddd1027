"""Attention gates read from a tiny SE + CBAM network: the weights the blocks really apply."""

import numpy as np
import pytest
import torch
from PIL import Image

from models.bundle import untrained_bundle
from models.explain.attention import (
    AttentionError,
    attention_gates,
    compute_attention,
    has_attention,
)
from models.network.presets import PRESETS
from models.network.spec import NetworkSpec

SPEC = NetworkSpec.from_dict(
    {
        "input": [3, 16, 16],
        "layers": [
            {"type": "conv", "out_channels": 4, "kernel_size": 3, "padding": 1},
            {"type": "relu"},
            {"type": "se", "reduction": 2},
            {"type": "maxpool", "kernel_size": 2},
            {"type": "conv", "out_channels": 6, "kernel_size": 3, "padding": 1},
            {"type": "relu"},
            {"type": "cbam", "reduction": 2, "spatial_kernel": 3},
            {"type": "global_avgpool"},
            {"type": "linear", "out_features": 3},
        ],
    }
)


@pytest.fixture
def image() -> Image.Image:
    rng = np.random.default_rng(0)
    return Image.fromarray(rng.integers(0, 256, (20, 24, 3), dtype=np.uint8))


def test_the_gates_are_found_by_name_in_model_order():
    gates = attention_gates(untrained_bundle(SPEC).model)
    assert gates == {
        "se1.gate": "channel",
        "cbam1.channel_gate": "channel",
        "cbam1.spatial_gate": "spatial",
    }
    assert not has_attention(untrained_bundle(PRESETS["TinyVGG (CNN Explainer)"].spec).model)


def test_the_channel_weights_are_the_ones_the_se_block_multiplies_by(image):
    bundle = untrained_bundle(SPEC, seed=3)
    result = compute_attention(bundle, image)
    weights = dict(result.channel)
    assert weights["se1.gate"].shape == (4,) and weights["cbam1.channel_gate"].shape == (6,)
    assert all(((w > 0) & (w < 1)).all() for w in weights.values())
    from models.explain.attribution import prepare_pixels
    from models.inspect.activations import normalize

    x = normalize(prepare_pixels(image, bundle)[0].permute(1, 2, 0).numpy(), bundle)
    se = bundle.model.se1
    with torch.no_grad():
        features = bundle.model.relu1(bundle.model.conv1(x))
        expected = se.gate(se.fc2(se.relu(se.fc1(features.mean(dim=(2, 3))))))[0]
    assert np.allclose(weights["se1.gate"], expected.numpy(), atol=1e-6)


def test_the_spatial_map_and_grad_cam_have_the_image_size_and_follow_the_class(image):
    bundle = untrained_bundle(SPEC, seed=3)
    first = compute_attention(bundle, image, target=0)
    other = compute_attention(bundle, image, target=2)
    ((name, spatial),) = first.spatial
    assert name == "cbam1.spatial_gate" and spatial.shape == (16, 16)
    assert first.gradcam.shape == (16, 16) and (first.gradcam >= 0).all()
    assert first.gradcam_layer == "conv2" and first.gradcam_maps == "relu2"  # after the ReLU
    assert np.array_equal(spatial, other.spatial[0][1])  # the spatial gate ignores the class
    assert not np.array_equal(first.gradcam, other.gradcam)


def test_a_network_without_attention_is_refused_plainly(image):
    bundle = untrained_bundle(PRESETS["TinyVGG (CNN Explainer)"].spec)
    with pytest.raises(AttentionError, match="no squeeze-and-excitation or CBAM"):
        compute_attention(bundle, image)


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_description_states_the_numbers_its_geometry_gives(name):
    import re

    from models.network.geometry import analyze
    from models.network.spec import ConvSpec

    about, infos = PRESETS[name].about, analyze(PRESETS[name].spec)
    for side, other in re.findall(r"(\d+)×(\d+) pixels", about):
        last_conv = [i for i in infos if isinstance(i.layer, ConvSpec)][-1]
        assert int(side) == int(other) == last_conv.rf.size
    for count in re.findall(r"([\d,]+) parameters", about):
        assert int(count.replace(",", "")) == sum(i.params for i in infos)
    assert "{" not in about


def test_the_attention_preset_says_what_its_last_conv_really_sees():
    assert "50×50 pixels" in PRESETS["Attention CNN (SE + CBAM)"].about
    assert "not LeCun et al.'s (1998) original" in PRESETS["LeNet-5"].about


def _hooks(model) -> int:
    kinds = ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks", "_backward_pre_hooks")
    return sum(len(getattr(m, k)) for m in model.modules() for k in kinds)


def test_reading_the_gates_leaves_the_shared_model_and_the_image_as_they_were(image):
    bundle = untrained_bundle(SPEC, seed=3)
    bundle.model.train()
    weights = {k: v.clone() for k, v in bundle.model.state_dict().items()}
    before = image.copy()
    compute_attention(bundle, image, target=1)
    assert all(torch.equal(v, weights[k]) for k, v in bundle.model.state_dict().items())
    assert all(m.training for m in bundle.model.modules()) and _hooks(bundle.model) == 0
    assert all(p.grad is None for p in bundle.model.parameters())
    assert np.array_equal(np.array(image), np.array(before))
