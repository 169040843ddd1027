"""Capturing activations: preprocessing, hooks that never stay, locks, presets and zoo models."""

import io
import threading
import urllib.error

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from models.bundle import ModelBundle, untrained_bundle
from models.inspect import activations as act
from models.network.build import layer_names
from models.network.presets import PRESETS
from models.zoo import ZOO, ZooError, architecture, build_zoo_model
from viz.feature_maps import channel_grid_figure, journey_figure

TINY = PRESETS["TinyVGG (CNN Explainer)"].spec


def _photo(seed: int = 0, size: tuple[int, int] = (90, 70)) -> Image.Image:
    pixels = np.random.default_rng(seed).integers(0, 256, (*size, 3), dtype=np.uint8)
    return Image.fromarray(pixels)


def _hooks(model: nn.Module) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())


@pytest.fixture
def tiny() -> ModelBundle:
    return untrained_bundle(TINY)


def test_prepare_input_resizes_to_the_model_and_normalizes_each_channel():
    bundle = untrained_bundle(PRESETS["TinyVGG (CNN Explainer)"].spec)
    bundle.mean, bundle.std = (0.1, 0.2, 0.3), (0.5, 0.25, 0.125)
    image = Image.new("RGB", (120, 45), (255, 0, 51))
    x = act.prepare_input(image, bundle)
    assert x.shape == (1, 3, 64, 64)
    expected = [(1 - 0.1) / 0.5, (0 - 0.2) / 0.25, (0.2 - 0.3) / 0.125]
    assert torch.allclose(x[0].mean(dim=(1, 2)), torch.tensor(expected), atol=1e-5)


def test_a_one_channel_model_sees_the_image_in_grey():
    bundle = untrained_bundle(PRESETS["LeNet-5"].spec)
    view = act.model_view(Image.new("RGB", (10, 10), (200, 200, 200)), bundle.input_shape)
    assert view.shape == (32, 32, 1)
    assert np.allclose(view, 200 / 255, atol=1e-6)
    assert act.prepare_input(_photo(), bundle).shape == (1, 1, 32, 32)


def test_a_model_wanting_neither_one_nor_three_channels_is_refused_in_words():
    with pytest.raises(act.ActivationError, match="expects 2 input channels"):
        act.model_view(_photo(), (2, 8, 8))


def test_captured_outputs_equal_running_the_layers_by_hand(tiny):
    x = act.prepare_input(_photo(), tiny)
    cap = act.capture_activations(tiny, x, ["conv1", "relu1", "pool1"])
    with torch.no_grad():
        conv = tiny.model.conv1(x)
        pooled = tiny.model.pool1(tiny.model.relu2(tiny.model.conv2(torch.relu(conv))))
    assert torch.equal(cap.outputs["conv1"], conv)
    assert torch.equal(cap.outputs["relu1"], torch.relu(conv))
    assert torch.allclose(cap.outputs["pool1"], pooled)
    assert torch.allclose(cap.result, tiny.model(x))


def test_no_hook_is_left_after_a_capture(tiny):
    act.capture_activations(
        tiny, act.prepare_input(_photo(), tiny), ["conv1", "relu4"], inputs_of=["relu4"]
    )
    assert _hooks(tiny.model) == 0
    assert not tiny.lock.locked()


def test_no_hook_is_left_and_the_lock_is_free_when_the_forward_pass_raises(tiny):
    wrong = torch.zeros(1, 5, 64, 64)  # five channels into a three-channel conv
    with pytest.raises(RuntimeError):
        act.capture_activations(tiny, wrong, ["conv1", "relu1"], inputs_of=["relu1"])
    assert _hooks(tiny.model) == 0
    assert not tiny.lock.locked()


def test_an_unknown_layer_is_refused_by_name_before_any_hook(tiny):
    with pytest.raises(act.ActivationError, match="'conv9'"):
        act.capture_activations(tiny, torch.zeros(1, 3, 64, 64), ["conv1", "conv9"])
    assert _hooks(tiny.model) == 0


def test_a_bad_image_size_for_the_model_becomes_a_plain_error(tiny):
    tiny.input_shape = (3, 8, 8)  # TinyVGG cannot run on 8×8: its convs shrink it below 1
    with pytest.raises(act.ActivationError, match="could not run"):
        act.compute_feature_maps(tiny, _photo())
    assert _hooks(tiny.model) == 0


def test_two_threads_capturing_on_one_shared_model_each_get_their_own_result(tiny):
    inputs = [act.prepare_input(_photo(seed), tiny) for seed in (1, 2)]
    expected = [act.capture_activations(tiny, x, ["relu2"]).outputs["relu2"] for x in inputs]
    start, results, errors = threading.Barrier(2), [[], []], []

    def work(i: int) -> None:
        try:
            start.wait()
            for _ in range(25):
                results[i].append(act.capture_activations(tiny, inputs[i], ["relu2"]))
        except Exception as err:  # surfaced below: a thread's exception is otherwise lost
            errors.append(err)

    threads = [threading.Thread(target=work, args=(i,)) for i in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for i in (0, 1):
        assert all(torch.equal(r.outputs["relu2"], expected[i]) for r in results[i])
        assert all(list(r.outputs) == ["relu2"] for r in results[i])
    assert not torch.equal(expected[0], expected[1])
    assert _hooks(tiny.model) == 0


def test_a_bare_model_gets_one_lock_of_its_own():
    model = nn.Conv2d(1, 1, 1)
    assert act.model_lock(model)[1] is act.model_lock(model)[1]
    assert act.model_lock(model)[1] is not act.model_lock(nn.Conv2d(1, 1, 1))[1]


def test_in_place_relu_does_not_overwrite_the_captured_pre_activation():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(inplace=True)).eval()
    bundle = ModelBundle(model, "m", (3, 16, 16), (), (0.5,) * 3, (0.25,) * 3)
    fm = act.compute_feature_maps(bundle, _photo())
    conv, relu = fm.layers
    assert conv.maps.min() < 0  # kept as it was before the ReLU ran in place
    assert np.array_equal(relu.before, conv.maps)
    assert np.array_equal(relu.maps, np.maximum(conv.maps, 0))


@pytest.mark.parametrize("preset", list(PRESETS))
def test_every_layer_of_every_preset_can_be_shown(preset):
    spec = PRESETS[preset].spec
    bundle = untrained_bundle(spec)
    fm = act.compute_feature_maps(bundle, _photo())
    expected = [
        (n, s) for n, s in zip(layer_names(spec), spec.shapes()[1:], strict=True) if len(s) == 3
    ]
    assert [(ly.name, ly.maps.shape) for ly in fm.layers] == expected
    for layer in fm.layers:
        for scale in act.SCALES:
            ranges = act.color_ranges(fm, layer.name, scale)
            fig = channel_grid_figure(layer.maps, ranges, act.channel_order(layer.maps))
            z = np.asarray(fig.data[0].z)
            assert np.count_nonzero(~np.isnan(z)) == layer.maps.size  # every unit, once
    journey_figure(act.strongest_channels(fm, 4))
    assert _hooks(bundle.model) == 0


def test_colour_ranges_are_per_channel_per_layer_or_across_the_network(tiny):
    fm = act.compute_feature_maps(tiny, _photo())
    maps = fm.layer("conv2").maps
    local = act.color_ranges(fm, "conv2", "channel")
    assert np.allclose(local[:, 0], maps.min(axis=(1, 2)))
    assert np.allclose(local[:, 1], maps.max(axis=(1, 2)))
    module = act.color_ranges(fm, "conv2", "layer")
    assert np.allclose(module, [[maps.min(), maps.max()]] * len(maps))
    glob = act.color_ranges(fm, "conv2", "network")
    assert glob[0, 0] == min(ly.maps.min() for ly in fm.layers)
    assert glob[0, 1] == max(ly.maps.max() for ly in fm.layers)
    with pytest.raises(act.ActivationError):
        act.color_ranges(fm, "conv2", "rainbow")


def test_channels_are_ordered_by_mean_activation_highest_first():
    maps = np.stack([np.full((2, 2), v, dtype=np.float32) for v in (0.5, 2.0, -1.0, 1.0)])
    assert act.channel_order(maps).tolist() == [1, 3, 0, 2]


def test_the_share_of_zeros_is_measured_after_each_activation_only(tiny):
    fm = act.compute_feature_maps(tiny, _photo())
    shares = dict(act.zero_shares(fm))
    assert list(shares) == ["relu1", "relu2", "relu3", "relu4"]
    relu1 = fm.layer("relu1")
    assert shares["relu1"] == pytest.approx(float(np.mean(relu1.maps == 0)))
    assert shares["relu1"] == pytest.approx(float(np.mean(relu1.before <= 0)))


def test_all_maps_download_as_npz_with_one_array_per_layer(tiny):
    fm = act.compute_feature_maps(tiny, _photo())
    with np.load(io.BytesIO(act.maps_npz(fm))) as data:
        assert set(data.files) == {"input", *fm.names}
        assert np.array_equal(data["conv3"], fm.layer("conv3").maps)


def test_the_grid_shows_exact_values_and_channel_numbers_on_hover(tiny):
    fm = act.compute_feature_maps(tiny, _photo())
    maps = fm.layer("conv4").maps.copy()
    order = act.channel_order(maps)
    fig = channel_grid_figure(maps, act.color_ranges(fm, "conv4", "channel"), order)
    custom = np.asarray(fig.data[0].customdata)
    h, w = maps.shape[1:]
    assert np.array_equal(custom[:h, :w, 0], maps[order[0]])
    assert np.all(custom[:h, :w, 1] == order[0])
    assert np.array_equal(maps, fm.layer("conv4").maps)  # the figure left its input alone


@pytest.mark.parametrize("name", list(ZOO))
def test_every_zoo_model_builds_offline_and_shows_its_layers(name):
    bundle = build_zoo_model(name)
    assert not bundle.trained and architecture(bundle) == name
    assert not any(p.requires_grad for p in bundle.model.parameters())
    fm = act.compute_feature_maps(bundle, _photo())
    assert len(fm.layers) >= 10
    assert fm.layers[0].maps.shape[1] == (224 if name == "vgg11" else 112)
    assert _hooks(bundle.model) == 0


def test_pretrained_weights_without_a_network_give_a_plain_message(monkeypatch):
    def offline(*args, **kwargs):
        raise urllib.error.URLError("[Errno -2] Name or service not known")

    monkeypatch.setattr("torchvision.models._api.load_state_dict_from_url", offline)
    with pytest.raises(ZooError, match="internet connection the first time"):
        build_zoo_model("mobilenet_v3_small", pretrained=True)
    with pytest.raises(ZooError, match="unknown model"):
        build_zoo_model("alexnet")
