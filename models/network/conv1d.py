"""A small 1-D CNN for signals, a small 2-D CNN for their spectrograms, and 1-D geometry.

`SignalNet` is blocks of (Conv1d, ReLU, MaxPool1d) over a signal (N, C, L), then a global
average over time and one linear layer: `outputs` class scores or numbers. `SpectrogramNet` is
the same recipe with 2-D convolutions over a spectrogram (N, 1, F, T). The geometry functions
are pure integer maths: each layer's output length and receptive field (size, jump, start), so
a unit of the last feature map can be traced back to the stretch of signal it sees.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from models.errors import CNNLabError


class SignalNetError(CNNLabError):
    """A 1-D network setting out of its range, said for the student."""


@dataclass(frozen=True)
class SignalNetSpec:
    """What the signal networks are made of; the defaults train in seconds on 1,000 signals."""

    in_channels: int = 1
    channels: tuple[int, ...] = (8, 16, 16)  # one conv block per entry
    kernel: int = 7  # taps per 1-D kernel (3×3 for the 2-D net: spectrograms are small)
    outputs: int = 5  # classes, or numbers for a regression

    def __post_init__(self) -> None:
        if not 1 <= len(self.channels) <= 6 or not all(1 <= c <= 256 for c in self.channels):
            raise SignalNetError("use 1 to 6 conv blocks of 1 to 256 channels each")
        if self.kernel < 1 or self.kernel % 2 == 0 or self.kernel > 63:
            raise SignalNetError(f"the kernel must be odd and 1 to 63 taps, not {self.kernel}")
        if not 1 <= self.outputs <= 1000:
            raise SignalNetError("the network needs 1 to 1,000 outputs")


def _blocks(spec: SignalNetSpec, conv, pool, kernel: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    c_in = spec.in_channels
    for c_out in spec.channels:
        layers += [conv(c_in, c_out, kernel, padding=kernel // 2), nn.ReLU(), pool(2)]
        c_in = c_out
    return nn.Sequential(*layers)


class SignalNet(nn.Module):
    """Conv1d blocks (same padding, max-pool by 2), a global average over time, a linear head."""

    def __init__(self, spec: SignalNetSpec = SignalNetSpec()) -> None:
        super().__init__()
        self.spec = spec
        self.features = _blocks(spec, nn.Conv1d, nn.MaxPool1d, spec.kernel)
        self.head = nn.Linear(spec.channels[-1], spec.outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: (N, C, L) or (N, C, 1, L)
        if x.dim() == 4:  # a signal carried as a one-row image (see models.training.signals)
            x = x.flatten(1, 2)
        return self.head(self.features(x).mean(-1))  # (N, outputs)


class SpectrogramNet(nn.Module):
    """The same recipe in 2-D: Conv2d 3×3 blocks over a spectrogram (N, 1, F, T)."""

    def __init__(self, spec: SignalNetSpec = SignalNetSpec()) -> None:
        super().__init__()
        self.spec = spec
        self.features = _blocks(spec, nn.Conv2d, nn.MaxPool2d, 3)
        self.head = nn.Linear(spec.channels[-1], spec.outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: (N, 1, F, T)
        return self.head(self.features(x).mean((-2, -1)))


def build_signal_net(spec: SignalNetSpec, seed: int = 0, two_d: bool = False) -> nn.Module:
    """A `SignalNet` (or `SpectrogramNet`) with weights drawn from `seed`'s own generator."""
    gen = torch.Generator().manual_seed(seed)
    model = SpectrogramNet(spec) if two_d else SignalNet(spec)
    for module in model.modules():
        if isinstance(module, nn.Conv1d | nn.Conv2d | nn.Linear):
            fan_in = module.weight[0].numel()
            bound = 1 / fan_in**0.5  # PyTorch's default range, drawn from our generator
            with torch.no_grad():
                module.weight.uniform_(-bound, bound, generator=gen)
                module.bias.uniform_(-bound, bound, generator=gen)
    return model


# ---------------------------------------------------------------- geometry


def output_length(length: int, kernel: int, stride: int = 1, padding: int = 0, dilation: int = 1):
    """Samples out of a 1-D convolution or pooling: ⌊(L + 2p − d(k − 1) − 1) / s⌋ + 1."""
    return (length + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


@dataclass(frozen=True)
class Field1d:
    """After one layer: its output length, and the receptive field of each output sample."""

    name: str  # the layer's name in `named_modules()` of the sequence
    length: int
    size: int  # input samples one output sample sees
    jump: int  # input samples between neighbouring output samples
    start: float  # centre of output sample 0's field, in input samples (may lie outside)


def _one(value: int | tuple[int, ...]) -> int:
    return value[0] if isinstance(value, tuple) else value


def _params(module: nn.Module) -> tuple[int, int, int, int] | None:
    """(kernel, stride, padding, dilation) of a 1-D window layer; None for any other layer."""
    if not isinstance(module, nn.Conv1d | nn.MaxPool1d | nn.AvgPool1d):
        return None
    dilation = _one(getattr(module, "dilation", 1))
    return _one(module.kernel_size), _one(module.stride), _one(module.padding), dilation


def receptive_fields(layers: Sequence[tuple[str, nn.Module]], length: int) -> list[Field1d]:
    """The output length and receptive field after each conv or pooling layer of `layers`.

    r_out = r_in + (k − 1)·d·j_in,  j_out = j_in·s,  start_out = start_in + ((k − 1)·d / 2 − p)·j_in
    (Araujo et al., 2019, "Computing receptive fields of convolutional neural networks").
    Layers without a window (ReLU) change nothing and are left out.
    """
    size, jump, start, out = 1, 1, 0.0, []
    for name, module in layers:
        params = _params(module)
        if params is None:
            continue
        k, s, p, d = params
        new_length = output_length(length, k, s, p, d)
        if new_length < 1:
            raise SignalNetError(f"layer {name} leaves no samples of a {length}-sample input")
        start += ((k - 1) * d / 2 - p) * jump
        size += (k - 1) * d * jump
        jump *= s
        length = new_length
        out.append(Field1d(name, length, size, jump, start))
    return out


def field_interval(field: Field1d, position: int, length: int) -> tuple[int, int]:
    """The input samples [first, last] that output `position` of `field`'s layer sees, clipped
    to the signal (padding beyond the ends sees zeros, not signal)."""
    centre = field.start + position * field.jump
    first = int(round(centre - (field.size - 1) / 2))
    return max(first, 0), min(first + field.size - 1, length - 1)
