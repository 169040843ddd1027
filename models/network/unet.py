"""A tiny U-Net: an encoder that halves the map, a decoder that doubles it back, and skips.

The encoder is `depth` blocks of two 3×3 convolutions (batchnorm, ReLU), each followed by a 2×2
max pool; the bottleneck is one more block; the decoder goes back up with 2×2 transposed
convolutions of stride 2, and each level concatenates the encoder's map of the same size (the
skip connection) before its own two convolutions. A 1×1 convolution gives each pixel a score
per class. With `skips=False` the decoder sees only what came up through the bottleneck, so
fine detail lost by the pools must be guessed (Ronneberger, Fischer & Brox, 2015).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from models.errors import CNNLabError
from models.network.build import initialise


class UNetSpecError(CNNLabError):
    """A U-Net setting out of range; the message names it."""


@dataclass(frozen=True)
class UNetSpec:
    """What the U-Net is made of; the defaults train to IoU ≥ 0.8 on 32×32 masks in seconds."""

    in_channels: int = 3  # RGB images
    classes: int = 2  # background and shape
    width: int = 8  # channels of the first level; each level below doubles them
    depth: int = 2  # pooling steps: a 32×32 image reaches an 8×8 bottleneck
    skips: bool = True  # concatenate the encoder's maps into the decoder

    def __post_init__(self) -> None:
        checks = [
            (1 <= self.in_channels <= 4, "the U-Net takes 1 to 4 input channels"),
            (2 <= self.classes <= 32, "the U-Net needs 2 to 32 classes"),
            (2 <= self.width <= 64, "the first level's width must be 2 to 64 channels"),
            (1 <= self.depth <= 4, "the U-Net's depth must be 1 to 4 pooling steps"),
        ]
        for ok, message in checks:
            if not ok:
                raise UNetSpecError(message)

    def check_size(self, side: int) -> None:
        """Refuse an image side the pools cannot halve `depth` times without a remainder."""
        step = 2**self.depth
        if side % step or side < step:
            raise UNetSpecError(
                f"a U-Net of depth {self.depth} needs image sides divisible by {step}; "
                f"{side} is not"
            )


def _block(c_in: int, c_out: int) -> nn.Sequential:
    """Two 3×3 convolutions that keep the size, each with batchnorm and ReLU."""
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
        nn.Conv2d(c_out, c_out, 3, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    )


class UNet(nn.Module):
    """The U-Net of a `UNetSpec`: (N, C, H, W) images to (N, classes, H, W) scores."""

    def __init__(self, spec: UNetSpec) -> None:
        super().__init__()
        self.spec = spec
        w = [spec.width * 2**i for i in range(spec.depth + 1)]  # channels per level
        ins = [spec.in_channels, *w[:-2]]
        self.down = nn.ModuleList(_block(c_in, c) for c_in, c in zip(ins, w[:-1], strict=True))
        self.pool = nn.MaxPool2d(2)
        self.bottleneck = _block(w[-2], w[-1])
        levels = list(reversed(range(spec.depth)))  # from the deepest decoder level up
        self.up = nn.ModuleList(nn.ConvTranspose2d(w[i + 1], w[i], 2, stride=2) for i in levels)
        extra = 2 if spec.skips else 1  # a skip doubles the channels the decoder block reads
        self.dec = nn.ModuleList(_block(w[i] * extra, w[i]) for i in levels)
        self.head = nn.Conv2d(w[0], spec.classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        kept = []
        for block in self.down:
            x = block(x)
            kept.append(x)  # (N, w_i, H / 2^i, W / 2^i)
            x = self.pool(x)
        x = self.bottleneck(x)
        for up, dec, skip in zip(self.up, self.dec, reversed(kept), strict=True):
            x = up(x)  # doubles the side
            x = dec(torch.cat([skip, x], 1) if self.spec.skips else x)
        return self.head(x)  # (N, classes, H, W)


def build_unet(spec: UNetSpec, seed: int = 0) -> UNet:
    """The U-Net with PyTorch's default initial weights drawn from a generator seeded `seed`."""
    with torch.device("meta"):
        model = UNet(spec)
    model.to_empty(device="cpu")
    initialise(model, torch.Generator().manual_seed(seed))
    return model


@dataclass(frozen=True)
class StageShape:
    """One stage of the U-Net as drawn: its module name, part, output channels and side."""

    name: str  # the module's name in `named_modules()`
    part: str  # "input", "encoder", "bottleneck", "up", "decoder" or "output"
    channels: int
    side: int
    skip_from: str = ""  # decoder stages: the encoder stage whose map is concatenated


def unet_stages(spec: UNetSpec, side: int) -> list[StageShape]:
    """Every stage's output shape for a `side`×`side` input, in the order data flows."""
    spec.check_size(side)
    w = [spec.width * 2**i for i in range(spec.depth + 1)]
    stages = [StageShape("input", "input", spec.in_channels, side)]
    stages += [StageShape(f"down.{i}", "encoder", w[i], side >> i) for i in range(spec.depth)]
    stages.append(StageShape("bottleneck", "bottleneck", w[-1], side >> spec.depth))
    for j, i in enumerate(reversed(range(spec.depth))):
        skip = f"down.{i}" if spec.skips else ""
        stages.append(StageShape(f"up.{j}", "up", w[i], side >> i))
        stages.append(StageShape(f"dec.{j}", "decoder", w[i], side >> i, skip))
    stages.append(StageShape("head", "output", spec.classes, side))
    return stages


def count_parameters(model: nn.Module) -> int:
    """The number of trainable numbers in the model."""
    return sum(p.numel() for p in model.parameters())
