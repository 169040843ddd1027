"""Signals: the generator, spectrograms, 1-D geometry against PyTorch, and the two networks."""

from __future__ import annotations

import io
import itertools

import numpy as np
import pytest
import torch
from torch import nn

from models.data.datasets import DataError
from models.data.signals import (
    SIGNAL_CLASSES,
    SignalStyle,
    draw_signal,
    from_uint8,
    make_signals,
    spectrogram,
)
from models.network.conv1d import (
    SignalNet,
    SignalNetSpec,
    build_signal_net,
    field_interval,
    output_length,
    receptive_fields,
)
from models.training import signals as sig

QUIET = SignalStyle(noise=0.0)


@pytest.mark.parametrize(
    ("length", "k", "s", "p", "d"),
    list(itertools.product((9, 32), (1, 3, 4), (1, 2), (0, 2), (1, 2))),
)
def test_output_length_matches_nn_conv1d(length, k, s, p, d):
    conv = nn.Conv1d(1, 1, k, stride=s, padding=p, dilation=d)
    expected = conv(torch.zeros(1, 1, length)).shape[-1]
    assert output_length(length, k, s, p, d) == expected


def test_receptive_field_matches_the_gradient_footprint_of_every_output_sample():
    layers = [
        ("conv1", nn.Conv1d(1, 1, 5, padding=2)),
        ("pool", nn.AvgPool1d(2)),
        ("conv2", nn.Conv1d(1, 1, 3, stride=2, padding=1, dilation=2)),
    ]
    for _, m in layers:
        if isinstance(m, nn.Conv1d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
    net, length = nn.Sequential(*(m for _, m in layers)), 40
    last = receptive_fields(layers, length)[-1]
    x = torch.ones(1, 1, length, requires_grad=True)
    out = net(x)
    assert out.shape[-1] == last.length
    for position in range(last.length):
        (grad,) = torch.autograd.grad(out[0, 0, position], x, retain_graph=True)
        seen = torch.nonzero(grad[0, 0]).flatten()
        assert (int(seen.min()), int(seen.max())) == field_interval(last, position, length)


def test_the_signal_nets_receptive_fields_match_its_feature_map_lengths():
    setup = sig.SignalSetup(signals=200)
    model = build_signal_net(setup.net)
    data = make_signals(200, 0, QUIET)
    maps = sig.feature_maps(model, data.x[0, 0], (0.5,), (0.2,))
    fields = sig.conv_fields(setup.net, 128)
    assert [m.values.shape[1] for m in maps] == [f.length for f in fields] == [128, 64, 32]
    assert [f.size for f in fields] == [7, 20, 46]


def test_the_same_seed_draws_the_same_signals_and_another_seed_others():
    a, b, c = make_signals(50, 1), make_signals(50, 1), make_signals(50, 2)
    assert torch.equal(a.x, b.x) and torch.equal(a.y, b.y)
    assert not torch.equal(a.x, c.x)
    assert a.x.dtype == torch.uint8 and a.x.shape == (50, 1, 128)
    assert torch.bincount(a.y).tolist() == [10] * len(SIGNAL_CLASSES)


def _spectrum_share(x: np.ndarray) -> float:
    power = np.abs(np.fft.rfft(x - x.mean())) ** 2
    return float(power.max() / power.sum())


def test_each_class_is_drawn_as_its_name_says():
    rng = np.random.default_rng(0)
    sine, square, bursts = (draw_signal(k, rng, QUIET) for k in ("sine", "square", "bursts"))
    assert _spectrum_share(sine) > 0.8  # one frequency (leakage spreads a little)
    assert len(np.unique(np.round(np.abs(square), 6))) <= 2  # ±amplitude (0 at most once)
    assert np.mean(np.abs(bursts) < 0.05) > 0.4  # mostly silent between the packets
    chirp = draw_signal("chirp", rng, QUIET)
    assert _spectrum_share(chirp) < _spectrum_share(sine)  # a sweep spreads over frequencies


def test_uint8_quantization_round_trips_to_within_one_step():
    x = torch.linspace(-2.4, 2.4, 101)
    from models.data.signals import to_uint8

    assert (from_uint8(to_uint8(x)) - x).abs().max() <= 2.5 / 127.5


def test_a_sines_spectrogram_is_brightest_at_its_frequency():
    t = np.arange(128) / 128
    from models.data.signals import to_uint8

    wave = to_uint8(np.sin(2 * np.pi * 16 * t))[None, None]  # 16 cycles: 4 per 32-sample window
    image = spectrogram(wave)
    assert image.shape == (1, 1, 17, 33) and image.dtype == torch.uint8
    assert int(image[0, 0].float().mean(1).argmax()) == 4


def test_bad_settings_are_refused_in_words():
    with pytest.raises(DataError, match="32 to 2,048 samples"):
        SignalStyle(length=8)
    with pytest.raises(sig.SignalSetupError, match="draw 200"):
        sig.SignalSetup(signals=20)


@pytest.mark.parametrize("two_d", [False, True])
def test_each_network_halves_its_loss_within_a_few_steps_on_tiny_data(two_d):
    setup = sig.SignalSetup(signals=200, style=QUIET)
    split = sig.prepare_split(setup)
    data = split.spectrograms if two_d else split.waveforms
    x = sig.normalized(data.train_x[:40], data.mean, data.std)
    y = data.train_y[:40]
    model = build_signal_net(setup.net, seed=0, two_d=two_d)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(40):
        loss = nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] / 2, losses[::5]


def test_the_planned_runs_share_signals_split_recipe_and_seed():
    setup = sig.SignalSetup(signals=200)
    one_d, two_d = sig.plan_signal_runs(setup)
    a, b = one_d.request, two_d.request
    assert torch.equal(a.data.val_y, b.data.val_y) and a.config == b.config
    assert a.data.train_x.shape[1:] == (1, 1, 128) and b.data.train_x.shape[1:] == (1, 17, 33)
    assert isinstance(a.model, SignalNet) and a.model(a.data.val_x[:2].float()).shape == (2, 5)


def test_inspecting_leaves_the_model_as_it_was_and_the_download_loads_back():
    model = build_signal_net(SignalNetSpec(), seed=3).train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    kernels = sig.kernels(model)
    sig.feature_maps(model, make_signals(20, 0).x[0, 0], (0.5,), (0.2,))
    assert model.training and not any(m._forward_hooks for m in model.modules())
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())
    assert kernels["features.0"].shape == (8, 1, 7)
    split = sig.prepare_split(sig.SignalSetup(signals=200))
    payload = torch.load(
        io.BytesIO(sig.model_bytes(model, split.waveforms, 0.5)), weights_only=True
    )
    assert payload["network"] == "SignalNet" and payload["class_names"] == list(SIGNAL_CLASSES)
