"""Turn a `NetworkSpec` into a `torch.nn.Module` whose parts have readable names."""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from models import blocks
from models.spec import (
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
    """The network as an `nn.Sequential` of named layers; `seed` fixes the initial weights."""
    shapes = spec.shapes()
    if seed is not None:
        with torch.random.fork_rng(devices=[]):  # leave the caller's random state alone
            torch.manual_seed(seed)
            return _assemble(spec, shapes)
    return _assemble(spec, shapes)


def _assemble(spec: NetworkSpec, shapes: list[Shape]) -> nn.Sequential:
    parts = zip(layer_names(spec), spec.layers, shapes)
    return nn.Sequential(OrderedDict((n, build_layer(ly, s)) for n, ly, s in parts))
