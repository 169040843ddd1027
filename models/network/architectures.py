"""What classic building blocks cost: kernel stacks, Inception, residual and grouped convolutions.

Counts are integer formulas, like `geometry.py`'s, so any size answers at once: a k × k
convolution from C_in to C_out channels in g groups has (k²·C_in/g + 1)·C_out parameters and
H_out·W_out·C_out·k²·C_in/g multiply-accumulates (MACs). `profile` measures the same numbers on a
real module with forward hooks; the tests hold every formula to it (and the receptive fields to
a gradient footprint). The residual block's zero-weight check runs a real `ResidualBlock`.
Papers: Simonyan and Zisserman (2015) for stacked 3×3 kernels, Szegedy et al. (2015) for
Inception, He et al. (2016) for residual blocks, Krizhevsky et al. (2012) and Xie et al. (2017)
for groups, Howard et al. (2017, MobileNet) and Chollet (2017, Xception) for depthwise-separable
convolutions.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import nn

from models.errors import CNNLabError
from models.network.blocks import InceptionBlock, ResidualBlock
from models.network.build import initialise

MAX_CHANNELS, MAX_SIDE = 1024, 512
KERNEL_STACKS: dict[str, tuple[int, ...]] = {
    "one 7×7": (7,),
    "three 3×3": (3, 3, 3),
    "a 5×5 then a 3×3": (5, 3),
}


class ArchitectureError(CNNLabError):
    """Block settings that cannot be built, said for the student."""


def _check(name: str, value: int, low: int, high: int) -> None:
    if not isinstance(value, int) or not low <= value <= high:
        raise ArchitectureError(f"{name} must be a whole number from {low} to {high}, not {value}")


@dataclass(frozen=True)
class LayerCount:
    """One layer of a profiled module: its name, output shape (C, H, W), parameters and MACs."""

    name: str
    kind: str  # the module's class name: Conv2d, MaxPool2d, ReLU, …
    shape: tuple[int, ...]
    params: int
    macs: int


def _macs(module: nn.Module, out: torch.Tensor) -> int:
    if isinstance(module, nn.Conv2d):
        kh, kw = module.kernel_size
        return out[0].numel() * module.in_channels // module.groups * kh * kw
    if isinstance(module, nn.Linear):
        return module.in_features * module.out_features
    return 0


@contextmanager
def _recording(module: nn.Module, into: list[LayerCount]) -> Iterator[None]:
    """Forward hooks on every leaf module, removed when the block ends."""
    handles = []
    for name, m in module.named_modules():
        if next(m.children(), None) is not None:
            continue

        def hook(m: nn.Module, _inp: tuple, out: torch.Tensor, name: str = name) -> None:
            params = sum(p.numel() for p in m.parameters(recurse=False))
            shape = tuple(out.shape[1:])
            into.append(LayerCount(name, type(m).__name__, shape, params, _macs(m, out)))

        handles.append(m.register_forward_hook(hook))
    try:
        yield
    finally:
        for h in handles:
            h.remove()


def profile(module: nn.Module, input_shape: tuple[int, int, int]) -> list[LayerCount]:
    """Each leaf layer's output shape, parameters and MACs for one (C, H, W) input, in run order.

    Measured on the module itself (one zero image, forward hooks removed afterwards), the
    reference the formulas here are tested against.
    """
    counts: list[LayerCount] = []
    with _recording(module, counts), torch.no_grad():
        module(torch.zeros(1, *input_shape))
    return counts


def conv_count(
    c_in: int, c_out: int, k: int, side: int, groups: int = 1, name: str = "conv"
) -> LayerCount:
    """A same-padded k × k convolution (with bias) on a side × side input, by formula."""
    params = (k * k * c_in // groups + 1) * c_out
    macs = side * side * c_out * k * k * c_in // groups  # each filter reads k·k·C_in/g values
    return LayerCount(name, "Conv2d", (c_out, side, side), params, macs)


# ---------------------------------------------------------------- kernel sizes


@dataclass(frozen=True)
class StackCost:
    """A stack of same-padded C → C convolutions, each followed by a ReLU."""

    name: str
    kernels: tuple[int, ...]
    params: int
    macs: int
    receptive_field: int  # pixels a side one output unit sees
    nonlinearities: int


def seeded(make: Callable[..., nn.Module], *args: int, seed: int = 0) -> nn.Module:
    """`make(*args)` with PyTorch's default initialisation drawn from a generator seeded `seed`."""
    with torch.device("meta"):  # the constructors allocate and draw nothing
        module = make(*args)
    module.to_empty(device="cpu")
    initialise(module, torch.Generator().manual_seed(seed))
    return module


def kernel_stack(kernels: tuple[int, ...], channels: int, seed: int = 0) -> nn.Sequential:
    """Conv(k) + ReLU for each k, channels in = channels out, padding keeping the size."""

    def make() -> nn.Sequential:
        layers: list[nn.Module] = []
        for k in kernels:
            layers += [nn.Conv2d(channels, channels, k, padding=k // 2), nn.ReLU()]
        return nn.Sequential(*layers)

    return seeded(make, seed=seed)


def stack_cost(name: str, kernels: tuple[int, ...], channels: int, side: int) -> StackCost:
    """Parameters, MACs, receptive field and ReLUs of one kernel stack on a side × side input."""
    _check("channels", channels, 1, MAX_CHANNELS)
    _check("the input side", side, 1, MAX_SIDE)
    convs = [conv_count(channels, channels, k, side) for k in kernels]
    rf = 1 + sum(k - 1 for k in kernels)  # stride 1: each k × k kernel adds k − 1 pixels
    params, macs = sum(c.params for c in convs), sum(c.macs for c in convs)
    return StackCost(name, kernels, params, macs, rf, len(kernels))


def compare_kernel_stacks(channels: int, side: int) -> list[StackCost]:
    """Every entry of KERNEL_STACKS at these channels and input side."""
    return [stack_cost(name, ks, channels, side) for name, ks in KERNEL_STACKS.items()]


# ---------------------------------------------------------------- Inception


@dataclass(frozen=True)
class InceptionWidths:
    """An Inception block's channel counts; the defaults are GoogLeNet's block 3a at 28×28."""

    in_channels: int = 192
    out_1x1: int = 64
    reduce_3x3: int = 96
    out_3x3: int = 128
    reduce_5x5: int = 16
    out_5x5: int = 32
    pool_proj: int = 32
    side: int = 28


@dataclass(frozen=True)
class Branch:
    """One branch of an Inception block: its layers (with shapes), parameters and MACs."""

    name: str
    layers: tuple[LayerCount, ...]
    params: int
    macs: int


# Each branch's label and its module name in `blocks.InceptionBlock`.
BRANCHES = {"1×1": "branch1", "3×3": "branch3", "5×5": "branch5", "pool": "branch_pool"}


def _reduced(c_in: int, reduce: int, c_out: int, k: int, side: int) -> list[LayerCount]:
    if not reduce:
        return [conv_count(c_in, c_out, k, side, name=f"{k}×{k} conv")]
    return [
        conv_count(c_in, reduce, 1, side, name="1×1 reduction"),
        conv_count(reduce, c_out, k, side, name=f"{k}×{k} conv"),
    ]


def inception_branches(widths: InceptionWidths, reductions: bool = True) -> list[Branch]:
    """The four branches of `blocks.InceptionBlock` (each conv with a ReLU), counted by formula.

    Without `reductions` the 3×3 and 5×5 convolutions read every input channel; the pool
    branch keeps its 1×1 projection either way, as the block has it.
    """
    w = widths
    for name, value in vars(w).items():
        high = MAX_SIDE if name == "side" else MAX_CHANNELS
        _check(name.replace("_", " "), value, 1, high)
    c, s = w.in_channels, w.side
    r3, r5 = (w.reduce_3x3, w.reduce_5x5) if reductions else (0, 0)
    pool = LayerCount("3×3 max pool, stride 1", "MaxPool2d", (c, s, s), 0, 0)
    layers = {
        "1×1": [conv_count(c, w.out_1x1, 1, s, name="1×1 conv")],
        "3×3": _reduced(c, r3, w.out_3x3, 3, s),
        "5×5": _reduced(c, r5, w.out_5x5, 5, s),
        "pool": [pool, conv_count(c, w.pool_proj, 1, s, name="1×1 projection")],
    }
    return [
        Branch(name, tuple(ls), sum(x.params for x in ls), sum(x.macs for x in ls))
        for name, ls in layers.items()
    ]


def inception_block(widths: InceptionWidths, reductions: bool = True, seed: int = 0) -> nn.Module:
    """The real `blocks.InceptionBlock` these widths describe (for checking the counts)."""
    w = widths
    r3, r5 = (w.reduce_3x3, w.reduce_5x5) if reductions else (0, 0)
    args = (w.in_channels, w.out_1x1, r3, w.out_3x3, r5, w.out_5x5, w.pool_proj)
    return seeded(InceptionBlock, *args, seed=seed)


# ---------------------------------------------------------------- residual block


@dataclass(frozen=True)
class ResidualCheck:
    """A residual block whose conv weights were set to zero, measured on a seeded input."""

    shortcut: str  # "identity" or "1×1 projection"
    input_shape: tuple[int, int, int]
    output_shape: tuple[int, int, int]
    main_params: int
    shortcut_params: int
    gap_to_relu_x: float | None  # max |output − relu(x)|; None when the shapes differ
    gap_to_shortcut: float  # max |output − relu(shortcut(x))|
    plain_output_max: float  # the same block without its shortcut: max |output|


def residual_check(
    in_channels: int, out_channels: int, stride: int = 1, side: int = 8, seed: int = 0
) -> ResidualCheck:
    """Build `blocks.ResidualBlock`, zero its two 3×3 convs, and compare output with relu(x)."""
    _check("input channels", in_channels, 1, 64)
    _check("output channels", out_channels, 1, 64)
    _check("stride", stride, 1, 2)
    _check("the input side", side, 2, 32)
    block = seeded(ResidualBlock, in_channels, out_channels, stride, seed=seed).eval()
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(1, in_channels, side, side, generator=gen)  # (1, C, H, W)
    with torch.no_grad():
        block.conv1.weight.zero_()
        block.conv2.weight.zero_()
        y = block(x)
        through = torch.relu(block.shortcut(x))
        main = block.bn2(block.conv2(block.relu1(block.bn1(block.conv1(x)))))
    shortcut_params = sum(p.numel() for p in block.shortcut.parameters())
    gap_x = float((y - torch.relu(x)).abs().max()) if y.shape == x.shape else None
    return ResidualCheck(
        "identity" if isinstance(block.shortcut, nn.Identity) else "1×1 projection",
        tuple(x.shape[1:]),
        tuple(y.shape[1:]),
        sum(p.numel() for p in block.parameters()) - shortcut_params,
        shortcut_params,
        gap_x,
        float((y - through).abs().max()),
        float(torch.relu(main).abs().max()),
    )


# ---------------------------------------------------------------- groups


@dataclass(frozen=True)
class GroupConv:
    """A grouped convolution: which input channels each filter reads, and what it costs."""

    in_channels: int
    filters: int  # the output depth: one output channel per filter
    groups: int
    kernel: int
    params: int
    macs: int
    wiring: tuple[tuple[int, ...], ...]  # wiring[f]: the input channels filter f reads


def divisors(n: int) -> list[int]:
    """The numbers that divide n, smallest first (the group counts n channels allow)."""
    return [d for d in range(1, n + 1) if n % d == 0]


def group_conv(in_channels: int, filters: int, groups: int, kernel: int, side: int) -> GroupConv:
    """nn.Conv2d(in_channels, filters, kernel, groups=groups) counted on a side × side input."""
    _check("input channels", in_channels, 1, MAX_CHANNELS)
    _check("filters", filters, 1, MAX_CHANNELS)
    _check("the kernel size", kernel, 1, 11)
    _check("the input side", side, kernel, MAX_SIDE)
    if groups < 1 or in_channels % groups or filters % groups:
        raise ArchitectureError(
            f"{groups} groups need both the input channels ({in_channels}) and the filters "
            f"({filters}) to divide by {groups}; choose one of "
            f"{', '.join(map(str, divisors(math.gcd(in_channels, filters))))}"
        )
    count = conv_count(in_channels, filters, kernel, side, groups)
    per_group, per_filter_group = in_channels // groups, filters // groups
    wiring = tuple(
        tuple(range((f // per_filter_group) * per_group, (f // per_filter_group + 1) * per_group))
        for f in range(filters)
    )
    return GroupConv(in_channels, filters, groups, kernel, count.params, count.macs, wiring)


@dataclass(frozen=True)
class SeparableCost:
    """A standard convolution against a depthwise one followed by a pointwise (1×1) one."""

    standard: GroupConv
    depthwise: GroupConv
    pointwise: GroupConv

    @property
    def params_ratio(self) -> float:
        """Separable parameters ÷ standard ones."""
        return (self.depthwise.params + self.pointwise.params) / self.standard.params

    @property
    def macs_ratio(self) -> float:
        """Separable MACs ÷ standard ones (about 1/filters + 1/k²)."""
        return (self.depthwise.macs + self.pointwise.macs) / self.standard.macs


def separable_cost(in_channels: int, filters: int, kernel: int, side: int) -> SeparableCost:
    """A k × k convolution against depthwise k × k (groups = input channels) then 1 × 1."""
    return SeparableCost(
        group_conv(in_channels, filters, 1, kernel, side),
        group_conv(in_channels, in_channels, in_channels, kernel, side),
        group_conv(in_channels, filters, 1, 1, side),
    )
