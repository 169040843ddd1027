"""The Signals comparison: a 1-D CNN on the waveform against a 2-D CNN on its spectrogram.

`plan_signal_runs` draws the signals once, splits them once (the same split for both arms),
and plans two quick classification runs on the executor: `SignalNet` on the uint8 waveforms
(N, 1, L) and `SpectrogramNet` on their spectrograms (N, 1, F, T). After training,
`feature_maps` and `kernels` read the 1-D model layer by layer (no hooks: the page's own copy
is walked block by block), and `model_bytes` packs a model for download.
"""

from __future__ import annotations

import dataclasses
import io
import json
from dataclasses import dataclass, replace

import numpy as np
import torch
from torch import nn

from models.data.datasets import PreparedData
from models.data.signals import SignalStyle, make_signals, prepare_signals, spectrogram
from models.errors import CNNLabError
from models.network.conv1d import (
    Field1d,
    SignalNet,
    SignalNetSpec,
    build_signal_net,
    receptive_fields,
)
from models.training.engine import TrainConfig
from models.training.executor.runner import TrainRequest
from models.training.experiments import PlannedRun

WAVEFORM, SPECTROGRAM = "1-D CNN on the waveform", "2-D CNN on the spectrogram"
MIN_SIGNALS, MAX_SIGNALS = 200, 5000


class SignalSetupError(CNNLabError):
    """A setting of the signals comparison out of its range."""


@dataclass(frozen=True)
class SignalSetup:
    """The comparison's settings; the defaults train both runs in well under a minute."""

    signals: int = 1500  # drawn, before the 20% validation split
    style: SignalStyle = SignalStyle()  # length and noise of each signal
    net: SignalNetSpec = SignalNetSpec()
    config: TrainConfig = TrainConfig(epochs=12, batch_size=32, log_every=5)
    val_fraction: float = 0.2
    seed: int = 0  # draws the signals, the split and both networks' weights

    def __post_init__(self) -> None:
        if not MIN_SIGNALS <= self.signals <= MAX_SIGNALS:
            raise SignalSetupError(
                f"draw {MIN_SIGNALS:,} to {MAX_SIGNALS:,} signals, not {self.signals:,}"
            )


@dataclass(frozen=True)
class SignalSplit:
    """The same signals and split, as waveforms and as spectrograms."""

    waveforms: PreparedData  # uint8 (N, 1, L)
    spectrograms: PreparedData  # uint8 (N, 1, F, T)


def prepare_split(setup: SignalSetup) -> SignalSplit:
    """Draw the signals and split them once; the spectrograms reuse the same split."""
    data = make_signals(setup.signals, setup.seed, setup.style)
    waves = prepare_signals(data.x, data.y, data.class_names, setup.val_fraction, setup.seed)
    images = spectrogram(data.x)
    specs = prepare_signals(images, data.y, data.class_names, setup.val_fraction, setup.seed)
    return SignalSplit(waves, specs)


def plan_signal_runs(setup: SignalSetup, split: SignalSplit | None = None) -> list[PlannedRun]:
    """Two classification runs, same signals, split, recipe and seed: waveform and spectrogram."""
    split = split or prepare_split(setup)
    net = replace(setup.net, outputs=len(split.waveforms.class_names))
    config = replace(setup.config, seed=setup.seed, task="classify")
    # The waveforms travel as one-row images (N, 1, 1, L): the runner's evaluation draws a
    # run's mistakes as images and cannot yet read (N, C, L). SignalNet reads both shapes.
    rows = replace(
        split.waveforms,
        train_x=split.waveforms.train_x[:, :, None],
        val_x=split.waveforms.val_x[:, :, None],
    )
    runs = []
    for label, data, two_d in (
        (WAVEFORM, rows, False),
        (SPECTROGRAM, split.spectrograms, True),
    ):
        model = build_signal_net(net, setup.seed, two_d=two_d)
        runs.append(PlannedRun(label, two_d, setup.seed, TrainRequest(label, model, data, config)))
    return runs


def conv_fields(spec: SignalNetSpec, length: int) -> list[Field1d]:
    """The receptive field after each conv of a `SignalNet` built from `spec` (pure geometry)."""
    layers = [(f"features.{n}", m) for n, m in SignalNet(spec).features.named_children()]
    return [f for f in receptive_fields(layers, length) if f.name in _conv_names(spec)]


def _conv_names(spec: SignalNetSpec) -> set[str]:
    return {f"features.{3 * i}" for i in range(len(spec.channels))}  # (conv, relu, pool) blocks


def examples(split: SignalSplit) -> dict[str, int]:
    """The first validation signal of each class: its index in the validation split."""
    y = split.waveforms.val_y.tolist()
    names = split.waveforms.class_names
    return {name: y.index(k) for k, name in enumerate(names) if k in y}


def normalized(x: torch.Tensor, mean: tuple[float, ...], std: tuple[float, ...]) -> torch.Tensor:
    """uint8 (N, C, L) signals or (N, C, H, W) images as the network saw them in training."""
    view = (1, -1) + (1,) * (x.dim() - 2)
    m, s = torch.tensor(mean).view(view), torch.tensor(std).view(view)
    return (x.float() / 255 - m) / s


@dataclass(frozen=True)
class FeatureMap:
    """One block's output for one signal: (C, L') values after its ReLU, and the conv's name."""

    name: str  # the conv's name in `named_modules()`, e.g. "features.0"
    values: np.ndarray  # (C, L')


@torch.no_grad()
def feature_maps(model: SignalNet, signal: torch.Tensor, mean, std) -> list[FeatureMap]:
    """Each conv block's activations (after ReLU, before pooling) for one uint8 signal (1, L).

    The blocks are called one by one on the model's own `features`, so no hook is registered;
    the model's train/eval mode is left as it was.
    """
    was_training = model.training
    model.eval()
    x = normalized(signal.reshape(1, 1, -1), mean, std)
    out, conv_name = [], ""
    try:
        for name, layer in model.features.named_children():
            x = layer(x)
            if isinstance(layer, nn.Conv1d):
                conv_name = f"features.{name}"
            elif isinstance(layer, nn.ReLU):
                out.append(FeatureMap(conv_name, x[0].numpy().copy()))
    finally:
        model.train(was_training)
    return out


def kernels(model: SignalNet) -> dict[str, np.ndarray]:
    """Each Conv1d's weights (out, in, k), by its name in `named_modules()` (a copy)."""
    return {
        name: m.weight.detach().cpu().numpy().copy()
        for name, m in model.named_modules()
        if isinstance(m, nn.Conv1d)
    }


def model_bytes(model: nn.Module, data: PreparedData, accuracy: float) -> bytes:
    """A trained signal network as a `torch.save` file: its spec, weights, classes and inputs.

    Read it back with `torch.load(f, weights_only=True)`; `spec` rebuilds the module with
    `build_signal_net(SignalNetSpec(**spec), two_d=...)`.
    """
    spec = model.spec
    payload = {
        "format": "cnnlab-signals-1",
        "network": type(model).__name__,
        "spec": json.dumps(dataclasses.asdict(spec)),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "class_names": list(data.class_names),
        "mean": list(data.mean),
        "std": list(data.std),
        "validation_accuracy": float(accuracy),
    }
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    return buffer.getvalue()


def comparison_json(setup: SignalSetup, accuracies: dict[str, float], seconds: dict) -> str:
    """The comparison's settings and measured accuracies, for download."""
    return json.dumps(
        {
            "signals": setup.signals,
            "length": setup.style.length,
            "noise": setup.style.noise,
            "seed": setup.seed,
            "config": json.loads(setup.config.to_json()),
            "validation_accuracy": accuracies,
            "training_seconds": seconds,
        },
        indent=2,
        ensure_ascii=False,
    )
