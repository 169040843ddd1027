"""The neuron view's maths agrees with PyTorch: conv channels, units, pooling, dense, collapse."""

import copy

import numpy as np
import pytest
import torch
from torch import nn

from models.bundle import ModelBundle, untrained_bundle
from models.inspect import neuron as nr
from models.inspect import neuron_collapse as nc
from models.inspect import neuron_layers as nl
from models.network.presets import PRESETS


def _bundle(model: nn.Module, shape=(3, 12, 12)) -> ModelBundle:
    return ModelBundle(model.eval(), "test", shape, ("a", "b"), (0.0,) * shape[0], (1.0,) * 3)


def _input(shape, seed=0) -> torch.Tensor:
    return torch.randn((1, *shape), generator=torch.Generator().manual_seed(seed))


def _seeded(model: nn.Module, seed: int = 0) -> nn.Module:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.5)
    return model.eval()


CONVS = {
    "plain": nn.Conv2d(4, 6, 3),
    "groups 2, stride 2, padding 1": nn.Conv2d(4, 6, 3, stride=2, padding=1, groups=2),
    "depthwise, dilation 2": nn.Conv2d(4, 4, 3, dilation=2, padding=2, groups=4),
    "stride (2, 1), dilation (1, 2), 'same'-free padding (2, 1)": nn.Conv2d(
        4, 3, (3, 2), stride=(2, 1), dilation=(1, 2), padding=(2, 1)
    ),
    "reflect padding, no bias": nn.Conv2d(4, 2, 3, padding=1, padding_mode="reflect", bias=False),
}


@pytest.mark.parametrize("label", list(CONVS))
def test_the_product_maps_plus_the_bias_equal_the_conv_output(label):
    conv = _seeded(CONVS[label])
    model = _seeded(nn.Sequential(conv, nn.ReLU()))
    cap = nr.capture_layer(_bundle(model, (4, 11, 12)), _input((4, 11, 12)), "0")
    expected = conv(cap.inputs[None])[0]
    for channel in range(conv.out_channels):
        neuron = nr.compute_conv_neuron(conv, cap, channel)
        assert neuron.reads.size == conv.in_channels // conv.groups
        np.testing.assert_allclose(neuron.pre, expected[channel].detach().numpy(), atol=1e-5)
        assert neuron.max_error < 1e-5


def test_a_depthwise_channel_reads_one_input_map_its_own():
    conv = _seeded(nn.Conv2d(4, 8, 3, groups=4))
    cap = nr.capture_layer(_bundle(nn.Sequential(conv), (4, 9, 9)), _input((4, 9, 9)), "0")
    assert nr.compute_conv_neuron(conv, cap, 5).reads.tolist() == [2]


@pytest.mark.parametrize("label", list(CONVS))
def test_one_units_dot_product_equals_pytorchs_value(label):
    conv = _seeded(CONVS[label])
    cap = nr.capture_layer(_bundle(nn.Sequential(conv), (4, 11, 12)), _input((4, 11, 12)), "0")
    neuron = nr.compute_conv_neuron(conv, cap, conv.out_channels - 1)
    h, w = neuron.real.shape
    for row, col in [(0, 0), (h - 1, w - 1), (h // 2, w // 3)]:
        unit = nr.unit_window(neuron, row, col)
        assert unit.total == pytest.approx(unit.real, abs=1e-5)
        assert unit.values.shape == neuron.kernels.shape


def test_the_window_taps_follow_stride_dilation_and_padding():
    conv = _seeded(nn.Conv2d(1, 1, 3, stride=2, dilation=2, padding=1))
    cap = nr.capture_layer(_bundle(nn.Sequential(conv), (1, 12, 12)), _input((1, 12, 12)), "0")
    unit = nr.unit_window(nr.compute_conv_neuron(conv, cap, 0), 1, 2)
    assert unit.rows.tolist() == [1, 3, 5]  # 1·2 − 1 + 2u
    assert unit.cols.tolist() == [3, 5, 7]


def test_a_bad_channel_or_unit_is_refused_in_words():
    conv = _seeded(nn.Conv2d(1, 2, 3))
    cap = nr.capture_layer(_bundle(nn.Sequential(conv), (1, 8, 8)), _input((1, 8, 8)), "0")
    with pytest.raises(nr.NeuronError, match="choose from 0 to 1"):
        nr.compute_conv_neuron(conv, cap, 2)
    with pytest.raises(nr.NeuronError, match="row 6"):
        nr.unit_window(nr.compute_conv_neuron(conv, cap, 0), 6, 0)
    with pytest.raises(nr.NeuronError, match="no layer called"):
        nr.capture_layer(_bundle(nn.Sequential(conv), (1, 8, 8)), _input((1, 8, 8)), "nope")


def test_capturing_leaves_no_hook_and_restores_the_training_mode():
    model = _seeded(nn.Sequential(nn.Conv2d(3, 2, 3), nn.ReLU())).train()
    bundle = ModelBundle(model, "t", (3, 8, 8), ("a",), (0.0,) * 3, (1.0,) * 3)
    nr.capture_layer(bundle, _input((3, 8, 8)), "1")
    assert model.training and model[0].training
    for module in model.modules():
        assert not module._forward_hooks and not module._forward_pre_hooks


def test_batch_norm_and_relu_after_a_conv_reproduce_the_network():
    model = _seeded(
        nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Conv2d(4, 2, 1))
    )
    model[1].running_mean.uniform_(-1, 1, generator=torch.Generator().manual_seed(1))
    model[1].running_var.uniform_(0.5, 2, generator=torch.Generator().manual_seed(2))
    x = _input((3, 8, 8))
    cap = nr.capture_layer(_bundle(model, (3, 8, 8)), x, "0")
    neuron = nr.compute_conv_neuron(model[0], cap, 3)
    steps = nr.following_steps(model, "0")
    assert [n for n, _ in steps] == ["1", "2"]
    shown = nr.apply_steps(steps, neuron.pre, 3)
    with torch.no_grad():
        real = model[2](model[1](model[0](x)))[0, 3].numpy()
    np.testing.assert_allclose(shown[-1][1], real, atol=1e-5)
    assert nr.following_steps(model, "3") == []


def test_an_activation_keeps_before_after_and_its_share_of_zeros():
    model = _seeded(nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU()))
    cap = nr.capture_layer(_bundle(model, (3, 8, 8)), _input((3, 8, 8)), "1")
    act = nl.compute_activation_neuron(cap, 2)
    np.testing.assert_array_equal(act.after, np.maximum(act.before, 0))
    assert act.zero_share == pytest.approx(np.mean(act.before <= 0))


POOLS = {
    "max 2": nn.MaxPool2d(2),
    "max 3, stride 2, padding 1, dilation 2, ceil": nn.MaxPool2d(3, 2, 1, 2, ceil_mode=True),
    "average 3, stride 2, padding 1": nn.AvgPool2d(3, 2, 1),
    "average, padding not counted, ceil": nn.AvgPool2d(
        3, 2, 1, ceil_mode=True, count_include_pad=False
    ),
    "adaptive average 3": nn.AdaptiveAvgPool2d(3),
    "adaptive max (2, 3)": nn.AdaptiveMaxPool2d((2, 3)),
}


@pytest.mark.parametrize("label", list(POOLS))
def test_every_pooling_unit_equals_pytorchs(label):
    pool = POOLS[label]
    model = nn.Sequential(nn.Identity(), pool)
    cap = nr.capture_layer(_bundle(model, (2, 9, 10)), _input((2, 9, 10)), "1")
    ho, wo = cap.output.shape[1:]
    for row in range(ho):
        for col in range(wo):
            unit = nl.compute_pool_unit(pool, cap, 1, row, col)
            assert unit.value == pytest.approx(unit.real, abs=1e-6), (row, col)


def test_the_max_pool_winner_holds_the_windows_largest_value():
    cap = nr.capture_layer(
        _bundle(nn.Sequential(nn.Identity(), nn.MaxPool2d(2)), (1, 4, 4)), _input((1, 4, 4)), "1"
    )
    unit = nl.compute_pool_unit(nn.MaxPool2d(2), cap, 0, 1, 0)
    r, c = unit.winner
    assert r in (2, 3) and c in (0, 1) and unit.source[r, c] == unit.value


def test_flatten_puts_channel_row_column_at_c_h_w_plus_r_w_plus_col():
    assert nl.flatten_index((10, 13, 13), 2, 3, 4) == 2 * 169 + 3 * 13 + 4
    x = torch.arange(10 * 13 * 13).reshape(10, 13, 13)
    assert int(x.flatten()[nl.flatten_index((10, 13, 13), 7, 12, 0)]) == int(x[7, 12, 0])


def test_a_flattened_element_reaches_each_logit_through_its_weight_column():
    model = _seeded(nn.Sequential(nn.Conv2d(3, 2, 3), nn.Flatten(), nn.Dropout(), nn.Linear(72, 4)))
    cap = nr.capture_layer(_bundle(model, (3, 8, 8)), _input((3, 8, 8)), "1")
    element = nl.compute_flatten_element(model, cap, 1, 2, 3)
    assert element.index == 36 + 2 * 6 + 3 and element.linear == "3"
    assert element.value == element.flat_value
    np.testing.assert_allclose(element.weights, model[3].weight[:, element.index].detach())


def test_a_dense_unit_is_its_weighted_inputs_plus_bias_and_the_output_layer_is_known():
    model = _seeded(nn.Sequential(nn.Flatten(), nn.Linear(12, 5), nn.ReLU(), nn.Linear(5, 3)))
    bundle = _bundle(model, (3, 2, 2))
    cap = nr.capture_layer(bundle, _input((3, 2, 2)), "3")
    unit = nl.compute_linear_neuron(model[3], cap, 2)
    assert unit.total == pytest.approx(unit.real, abs=1e-5) and unit.is_output
    assert abs(unit.contributions[unit.top[0]]) == np.abs(unit.contributions).max()
    hidden = nl.compute_linear_neuron(model[1], nr.capture_layer(bundle, _input((3, 2, 2)), "1"), 0)
    assert not hidden.is_output


@pytest.mark.parametrize("temperature", [0.1, 1.0, 4.0])
def test_softmax_with_temperature_matches_torch(temperature):
    logits = np.array([2.0, -1.0, 0.5, 900.0])
    result = nl.compute_softmax(logits, temperature)
    expected = torch.softmax(torch.tensor(logits) / temperature, dim=0).numpy()
    np.testing.assert_allclose(result.probs, expected, rtol=1e-12)
    with pytest.raises(nr.NeuronError, match="above 0"):
        nl.compute_softmax(logits, 0.0)


def test_a_higher_temperature_flattens_the_probabilities():
    logits = np.array([3.0, 1.0, 0.0])
    assert nl.compute_softmax(logits, 3.0).probs.max() < nl.compute_softmax(logits, 1.0).probs.max()


def test_the_linear_chain_stops_at_anything_but_convs_and_activations():
    model = untrained_bundle(PRESETS["TinyVGG (CNN Explainer)"].spec).model
    assert nc.linear_chain(model, "relu2") == ["conv1", "conv2"]
    assert nc.linear_chain(model, "conv4") == ["conv3", "conv4"]
    assert nc.linear_chain(model, "relu1") == ["conv1"]


STACKS = {
    "plain 3×3 then 3×3": [nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Conv2d(4, 2, 3)],
    "stride, dilation, groups, padding": [
        nn.Conv2d(4, 4, 3, stride=2, padding=1, groups=2),
        nn.Tanh(),
        nn.Conv2d(4, 6, 3, dilation=2, padding=2, groups=2),
        nn.ReLU(),
        nn.Conv2d(6, 3, 2, stride=2),
    ],
}


@pytest.mark.parametrize("label", list(STACKS))
def test_the_composed_kernel_gives_the_linear_stacks_output(label):
    layers = STACKS[label]
    model = _seeded(nn.Sequential(*layers))
    c_in = layers[0].in_channels
    x = _input((c_in, 19, 17))[0]
    last = str(len(layers) - 1)
    chain = nc.linear_chain(model, last)
    assert len(chain) == sum(isinstance(m, nn.Conv2d) for m in layers)
    convs = [copy.deepcopy(m) for m in layers if isinstance(m, nn.Conv2d)]
    linear = nn.Sequential(*convs).double()
    with torch.no_grad():
        expected = linear(x[None].double())[0]
    for channel in range(layers[-1].out_channels):
        result = nc.collapse_stack(model, chain, x, channel)
        h, w = result.stack.shape
        np.testing.assert_allclose(result.stack, expected[channel, :h, :w].numpy(), atol=1e-9)
        assert result.interior.any()
        assert result.max_error < 1e-9
    if label.startswith("plain"):
        assert result.kernel.shape == (3, 5, 5) and result.interior.all()
        assert not np.allclose(result.with_activations, result.stack)  # the ReLU mattered


def test_collapsing_needs_zero_padding():
    conv = nn.Conv2d(1, 1, 3, padding=1, padding_mode="circular")
    with pytest.raises(nr.NeuronError, match="zero padding"):
        nc.compose_convs([conv])


def test_inspectable_layers_cover_a_resnet_block_and_skip_batch_norm():
    from torchvision.models import resnet18

    names = dict(nr.inspectable_layers(resnet18(weights=None)))
    assert names["layer1.0.conv1"] == "conv" and names["maxpool"] == "pool"
    assert names["fc"] == "linear" and "bn1" not in names
