"""Turn a `NetworkSpec` into a `torch.nn.Module` whose parts have readable names.

A seeded build draws its initial weights from a `torch.Generator` of its own, never from torch's
global generator (shared by every session and thread): the modules are made on the meta device,
where PyTorch's constructors draw nothing, then filled by `initialise`.
"""

from __future__ import annotations

import math
from collections import OrderedDict

import torch
from torch import nn

from models.network import blocks
from models.network.spec import (
    ActivationSpec,
    BatchNormSpec,
    CBAMSpec,
    ConvSpec,
    DropoutSpec,
    FlattenSpec,
    GlobalPoolSpec,
    InceptionSpec,
    LayerSpec,
    LinearSpec,
    NetworkSpec,
    PoolSpec,
    ResidualSpec,
    Shape,
    SqueezeExciteSpec,
)

PREFIXES = {
    "conv": "conv",
    "maxpool": "pool",
    "avgpool": "pool",
    "global_avgpool": "gpool",
    "global_maxpool": "gpool",
    "batchnorm": "bn",
    "dropout": "drop",
    "flatten": "flatten",
    "linear": "fc",
    "residual": "res",
    "inception": "inception",
    "se": "se",
    "cbam": "cbam",
}


def layer_names(spec: NetworkSpec) -> list[str]:
    """The module name of each layer: conv1, relu1, pool1, conv2, ..., fc1."""
    counts: dict[str, int] = {}
    names = []
    for layer in spec.layers:
        prefix = PREFIXES.get(layer.type, layer.type)  # activations keep their own name
        counts[prefix] = counts.get(prefix, 0) + 1
        names.append(f"{prefix}{counts[prefix]}")
    return names


_ACTIVATIONS = {
    "relu": nn.ReLU,
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "sigmoid": nn.Sigmoid,
    "tanh": nn.Tanh,
}


def build_layer(layer: LayerSpec, in_shape: Shape) -> nn.Module:
    """One layer's module, given the shape that reaches it."""
    c = in_shape[0]
    match layer:
        case ConvSpec():
            return nn.Conv2d(
                c,
                layer.out_channels,
                layer.kernel_size,
                layer.stride,
                layer.padding,
                layer.dilation,
                layer.groups,
                layer.bias,
            )
        case ActivationSpec(kind="leaky_relu"):
            return nn.LeakyReLU(layer.negative_slope)
        case ActivationSpec():
            return _ACTIVATIONS[layer.kind]()
        case PoolSpec(mode="max"):
            return nn.MaxPool2d(
                layer.kernel_size, layer.step, layer.padding, ceil_mode=layer.ceil_mode
            )
        case PoolSpec():
            return nn.AvgPool2d(
                layer.kernel_size, layer.step, layer.padding, ceil_mode=layer.ceil_mode
            )
        case GlobalPoolSpec():
            return blocks.GlobalPool(layer.mode)
        case BatchNormSpec():
            return nn.BatchNorm2d(c) if len(in_shape) == 3 else nn.BatchNorm1d(c)
        case DropoutSpec():
            return nn.Dropout(layer.p)
        case FlattenSpec():
            return nn.Flatten()
        case LinearSpec():
            return nn.Linear(c, layer.out_features, layer.bias)
        case ResidualSpec():
            return blocks.ResidualBlock(c, layer.out_channels, layer.stride)
        case InceptionSpec():
            return blocks.InceptionBlock(
                c,
                layer.out_1x1,
                layer.reduce_3x3,
                layer.out_3x3,
                layer.reduce_5x5,
                layer.out_5x5,
                layer.pool_proj,
            )
        case SqueezeExciteSpec():
            return blocks.SqueezeExcite(c, layer.reduction)
        case CBAMSpec():
            return blocks.CBAM(c, layer.reduction, layer.spatial_kernel)
    raise TypeError(f"no builder for {type(layer).__name__}")


def build_model(spec: NetworkSpec, seed: int | None = 0) -> nn.Sequential:
    """The network as an `nn.Sequential` of named layers; `seed` fixes the initial weights.

    With `seed=None` the weights come from torch's global generator, as PyTorch's own
    constructors draw them.
    """
    shapes = spec.shapes()
    if seed is None:
        return _assemble(spec, shapes)
    with torch.device("meta"):  # thread-local: the constructors allocate and draw nothing
        model = _assemble(spec, shapes)
    model.to_empty(device="cpu")
    initialise(model, torch.Generator().manual_seed(seed))
    return model


# Modules whose default initialisation draws nothing (ones, zeros, running statistics).
_FIXED_INIT = (nn.modules.batchnorm._NormBase, nn.GroupNorm, nn.LayerNorm)


def initialise(model: nn.Module, gen: torch.Generator) -> None:
    """PyTorch's default initialisation of every module, drawn from `gen`.

    Convolutions and linear layers get what their `reset_parameters` gives: weights from
    kaiming_uniform_(a=√5), biases from U(−1/√fan_in, 1/√fan_in). Modules are visited in
    registration order, which is construction order for our layers and blocks, so the values
    equal those of a build after `torch.manual_seed(seed)`.

    Raises:
        TypeError: a module with parameters or buffers of a kind this does not know.
    """
    for module in model.modules():
        if isinstance(module, (nn.modules.conv._ConvNd, nn.Linear)):
            nn.init.kaiming_uniform_(module.weight, a=math.sqrt(5), generator=gen)
            if module.bias is not None:
                fan_in, _ = nn.init._calculate_fan_in_and_fan_out(module.weight)
                bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0.0
                nn.init.uniform_(module.bias, -bound, bound, generator=gen)
        elif isinstance(module, _FIXED_INIT):
            module.reset_parameters()
        elif any(True for _ in module.parameters(recurse=False)) or any(
            True for _ in module.buffers(recurse=False)
        ):
            raise TypeError(f"no seeded initialisation for {type(module).__name__}")


def _assemble(spec: NetworkSpec, shapes: list[Shape]) -> nn.Sequential:
    parts = zip(layer_names(spec), spec.layers, shapes)
    return nn.Sequential(OrderedDict((n, build_layer(ly, s)) for n, ly, s in parts))
