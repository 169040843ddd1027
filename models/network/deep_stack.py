"""A deep stack of 3×3 convolutions, plain or with skips, for the Gradient flow page.

`DeepStack` is the CIFAR network of He et al., "Deep residual learning for image recognition"
(2016), section 4.2, at any depth and width: a stem convolution, three stages of 3×3
convolutions (widths w, 2w, 4w; each later stage halves the map with a stride of 2), global
average pooling and one linear layer. `depth` counts the weighted layers (convolutions and the
linear one), as the paper does: plain-20 and ResNet-20 have 20. The residual version adds
`x` back after every pair of convolutions, through a parameter-free shortcut (option A: a
subsampled `x` padded with zero channels where the shape changes), so plain and residual
versions have exactly the same weights. Workers import this module to unpickle a run's model.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from models.errors import CNNLabError
from models.network.build import initialise

ACTIVATIONS = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh}
MIN_DEPTH, MAX_DEPTH, MAX_WIDTH = 4, 110, 64


class DeepStackError(CNNLabError):
    """A deep stack that cannot be built, said for the student."""


@dataclass(frozen=True)
class StackOptions:
    """How a deep stack is made; `depth` counts the convolutions and the linear layer."""

    depth: int = 20  # weighted layers: stem + (depth − 2) body convolutions + linear
    width: int = 8  # channels of the first stage (then 2×, 4×)
    residual: bool = False  # add x back after every pair of body convolutions
    batchnorm: bool = False  # a batchnorm after every convolution
    activation: str = "relu"  # a key of ACTIVATIONS
    in_channels: int = 3
    classes: int = 10  # the shapes data set's classes

    def __post_init__(self) -> None:
        if not MIN_DEPTH <= self.depth <= MAX_DEPTH or self.depth % 2:
            raise DeepStackError(
                f"depth must be an even number from {MIN_DEPTH} to {MAX_DEPTH} (the stem, pairs "
                f"of body convolutions and the linear layer), not {self.depth}"
            )
        if not 1 <= self.width <= MAX_WIDTH:
            raise DeepStackError(f"width must be 1 to {MAX_WIDTH} channels, not {self.width}")
        if self.activation not in ACTIVATIONS:
            raise DeepStackError(
                f"activation must be one of {', '.join(ACTIVATIONS)}, not {self.activation!r}"
            )

    @property
    def pairs_per_stage(self) -> tuple[int, int, int]:
        """Pairs of body convolutions in each of the three stages (earlier stages get extras)."""
        pairs = (self.depth - 2) // 2
        return tuple(pairs // 3 + (1 if i < pairs % 3 else 0) for i in range(3))  # type: ignore[return-value]


class _Pair(nn.Module):
    """Two 3×3 convolutions (each with an optional batchnorm) and, if residual, the skip."""

    def __init__(self, c_in: int, c_out: int, stride: int, opts: StackOptions):
        super().__init__()
        act = ACTIVATIONS[opts.activation]
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=not opts.batchnorm)
        self.bn1 = nn.BatchNorm2d(c_out) if opts.batchnorm else nn.Identity()
        self.act1 = act()
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=not opts.batchnorm)
        self.bn2 = nn.BatchNorm2d(c_out) if opts.batchnorm else nn.Identity()
        self.act2 = act()
        self.residual, self.stride, self.extra = opts.residual, stride, c_out - c_in

    def shortcut(self, x: torch.Tensor) -> torch.Tensor:
        """x itself, or (option A) subsampled and padded with zero channels to the new shape."""
        if self.stride > 1:
            x = x[:, :, :: self.stride, :: self.stride]
        if self.extra:
            x = F.pad(x, (0, 0, 0, 0, 0, self.extra))  # (N, C + extra, H, W)
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.bn2(self.conv2(self.act1(self.bn1(self.conv1(x)))))
        return self.act2(y + self.shortcut(x) if self.residual else y)


class DeepStack(nn.Module):
    """Stem, three stages of convolution pairs, global average pooling, one linear layer."""

    def __init__(self, opts: StackOptions = StackOptions()):
        super().__init__()
        self.opts = opts
        w = opts.width
        self.stem = nn.Conv2d(opts.in_channels, w, 3, 1, 1, bias=not opts.batchnorm)
        self.stem_bn = nn.BatchNorm2d(w) if opts.batchnorm else nn.Identity()
        self.stem_act = ACTIVATIONS[opts.activation]()
        pairs, c_in = [], w
        for stage, n in enumerate(opts.pairs_per_stage):
            c_out = w * 2**stage
            for i in range(n):
                stride = 2 if stage > 0 and i == 0 else 1
                pairs.append(_Pair(c_in, c_out, stride, opts))
                c_in = c_out
        self.body = nn.Sequential(*pairs)
        self.fc = nn.Linear(c_in, opts.classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.body(self.stem_act(self.stem_bn(self.stem(x))))  # (N, 4w, H/4, W/4)
        return self.fc(x.mean(dim=(2, 3)))


def weighted_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The convolutions and linear layers, input to output, by their `named_modules()` name."""
    return [(name, m) for name, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


def build_stack(opts: StackOptions, seed: int = 0) -> DeepStack:
    """A deep stack with PyTorch's default initialisation, drawn from a generator seeded `seed`."""
    with torch.device("meta"):  # the constructors allocate and draw nothing
        model = DeepStack(opts)
    model.to_empty(device="cpu")
    initialise(model, torch.Generator().manual_seed(seed))
    return model
