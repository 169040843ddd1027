"""What a network costs, from its geometry alone, and the caps that keep one user's network from
taking the server down.

Three numbers, computed by formula before anything is built or run: trainable parameters, the
memory of one image's activations (the input and every tensor each layer makes, as float32) and
the multiply-accumulates (MACs) of one forward pass. `NetworkSpec` calls `check_budget` when it
is made, so every way in (the editor, a JSON file, a `?net=` link, a checkpoint, a preset, code)
is refused above the caps with the numbers in plain words. A server owner raises the caps with
the environment variables CNNLAB_MAX_PARAMS, CNNLAB_MAX_ACTIVATION_MB and CNNLAB_MAX_GMACS.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from models.network.spec import (
    BatchNormSpec,
    CBAMSpec,
    ConvSpec,
    InceptionSpec,
    LayerSpec,
    LinearSpec,
    NetworkSpec,
    ResidualSpec,
    Shape,
    SpecError,
    SqueezeExciteSpec,
)
from models.settings import positive_setting

BYTES_PER_VALUE = 4  # float32
MB = 1024**2
ENV_PARAMS, ENV_ACTIVATION_MB, ENV_GMACS = (
    "CNNLAB_MAX_PARAMS",
    "CNNLAB_MAX_ACTIVATION_MB",
    "CNNLAB_MAX_GMACS",
)


@dataclass(frozen=True)
class Budget:
    """The most one network may cost; `from_env` lets a server owner raise each cap."""

    max_params: int = 50_000_000  # 200 MB of float32 weights (about 4× that while training)
    max_activation_mb: float = 256  # one image's input and layer outputs, float32
    max_gmacs: float = 20  # billions of MACs per image: about a second on a laptop CPU

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Budget:
        """The caps, each replaced by its environment variable where one is set."""
        env = os.environ if environ is None else environ
        default = cls()
        return cls(
            max_params=math.ceil(positive_setting(ENV_PARAMS, default.max_params, SpecError, env)),
            max_activation_mb=positive_setting(
                ENV_ACTIVATION_MB, default.max_activation_mb, SpecError, env
            ),
            max_gmacs=positive_setting(ENV_GMACS, default.max_gmacs, SpecError, env),
        )


@dataclass(frozen=True)
class Cost:
    """Parameters, activation bytes and MACs of one layer or a whole network, for one image."""

    params: int = 0
    activation_bytes: int = 0
    macs: int = 0

    def __add__(self, other: Cost) -> Cost:
        return Cost(
            self.params + other.params,
            self.activation_bytes + other.activation_bytes,
            self.macs + other.macs,
        )


def conv_params(c_in: int, c_out: int, k: int, groups: int = 1, bias: bool = True) -> int:
    """(K·K·C_in/groups + 1)·C_out: a kernel per output channel, plus its bias."""
    return (k * k * c_in // groups + int(bias)) * c_out


def _hidden(c: int, reduction: int) -> int:
    return max(1, c // reduction)


def _se_params(c: int, reduction: int) -> int:
    hidden = _hidden(c, reduction)
    return c * hidden + hidden + hidden * c + c


def inception_convs(ly: InceptionSpec, c: int) -> list[tuple[int, int, int]]:
    """(in, out, kernel) of every conv inside an inception block."""
    convs = [(c, ly.out_1x1, 1), (c, ly.pool_proj, 1)]
    for reduce, out, k in ((ly.reduce_3x3, ly.out_3x3, 3), (ly.reduce_5x5, ly.out_5x5, 5)):
        convs += [(c, reduce, 1), (reduce, out, k)] if reduce else [(c, out, k)]
    return convs


def count_params(layer: LayerSpec, shape_in: Shape) -> int:
    """Trainable parameters of one layer, by formula."""
    c = shape_in[0]
    match layer:
        case ConvSpec():
            return conv_params(c, layer.out_channels, layer.kernel_size, layer.groups, layer.bias)
        case LinearSpec():
            return (c + int(layer.bias)) * layer.out_features
        case BatchNormSpec():
            return 2 * c  # a scale and a shift per channel
        case ResidualSpec():
            o = layer.out_channels
            main = conv_params(c, o, 3, bias=False) + conv_params(o, o, 3, bias=False) + 4 * o
            return main + (conv_params(c, o, 1, bias=False) + 2 * o if layer.projects(c) else 0)
        case InceptionSpec():
            return sum(conv_params(i, o, k) for i, o, k in inception_convs(layer, c))
        case SqueezeExciteSpec():
            return _se_params(c, layer.reduction)
        case CBAMSpec():
            return _se_params(c, layer.reduction) + 2 * layer.spatial_kernel**2 + 1
    return 0


def count_macs(layer: LayerSpec, shape_in: Shape, shape_out: Shape) -> int:
    """Multiply-accumulates of one forward pass of one image (convs and dense layers)."""
    c = shape_in[0]
    hw_out = shape_out[1] * shape_out[2] if len(shape_out) == 3 else 1
    match layer:
        case ConvSpec():
            return hw_out * layer.out_channels * layer.kernel_size**2 * c // layer.groups
        case LinearSpec():
            return c * layer.out_features
        case ResidualSpec():
            o = layer.out_channels
            return hw_out * (9 * c * o + 9 * o * o + (c * o if layer.projects(c) else 0))
        case InceptionSpec():
            return hw_out * sum(i * o * k * k for i, o, k in inception_convs(layer, c))
        case SqueezeExciteSpec():
            return 2 * c * _hidden(c, layer.reduction)
        case CBAMSpec():
            mlp = 4 * c * _hidden(c, layer.reduction)
            return mlp + hw_out * 2 * layer.spatial_kernel**2
    return 0


def count_activations(layer: LayerSpec, shape_in: Shape, shape_out: Shape) -> int:
    """Values one layer makes for one image: its output, plus every inner tensor of a block."""
    c = shape_in[0]
    hw = shape_in[1] * shape_in[2] if len(shape_in) == 3 else 1
    match layer:
        case ResidualSpec():  # conv, bn, relu, conv, bn, [conv, bn on the shortcut], sum, relu
            return math.prod(shape_out) * (9 if layer.projects(c) else 7)
        case InceptionSpec():  # each conv and its ReLU, the pooled input, the concatenation
            inner = sum(2 * o for _, o, _ in inception_convs(layer, c))
            return hw * (inner + c + layer.out_channels)
        case SqueezeExciteSpec():  # mean, fc, relu, fc, gate: per channel; the product: per value
            return c * hw + 3 * c + 2 * _hidden(c, layer.reduction)
        case CBAMSpec():  # the channel gate's MLP runs twice; two maps, a conv and a gate per pixel
            return 2 * c * hw + 6 * hw + 6 * c + 4 * _hidden(c, layer.reduction)
    return math.prod(shape_out)


def layer_cost(layer: LayerSpec, shape_in: Shape, shape_out: Shape) -> Cost:
    """Parameters, activation bytes and MACs of one layer for one image."""
    return Cost(
        count_params(layer, shape_in),
        BYTES_PER_VALUE * count_activations(layer, shape_in, shape_out),
        count_macs(layer, shape_in, shape_out),
    )


def layer_costs(layers: Sequence[LayerSpec], shapes: Sequence[Shape]) -> list[Cost]:
    """The cost of each layer, given the shapes from `NetworkSpec.shapes()`."""
    return [layer_cost(ly, shapes[i], shapes[i + 1]) for i, ly in enumerate(layers)]


def _input_cost(shapes: Sequence[Shape]) -> Cost:
    return Cost(activation_bytes=BYTES_PER_VALUE * math.prod(shapes[0]))


def network_cost(spec: NetworkSpec) -> Cost:
    """The whole network's cost for one image; the input counts towards the activations."""
    shapes = spec.shapes()
    return sum(layer_costs(spec.layers, shapes), _input_cost(shapes))


# What each cap measures: the Cost field, how the message says it, how it writes the number.
_MEASURES = (
    ("params", "has {} parameters", lambda b: b.max_params),
    ("activation_bytes", "needs {} of memory for one image", lambda b: b.max_activation_mb * MB),
    ("macs", "needs {} multiply-accumulates (MACs) for one image", lambda b: b.max_gmacs * 1e9),
)


def check_budget(
    layers: Sequence[LayerSpec], shapes: Sequence[Shape], budget: Budget | None = None
) -> Cost:
    """The network's cost, or a SpecError that gives it, the cap and the costliest part."""
    budget = Budget.from_env() if budget is None else budget
    parts = [("the input", _input_cost(shapes))] + [
        (f"layer {i + 1} ({ly.type})", cost)
        for i, (ly, cost) in enumerate(zip(layers, layer_costs(layers, shapes)))
    ]
    total = sum((cost for _, cost in parts), Cost())
    for field, needs, cap_of in _MEASURES:
        value, cap = getattr(total, field), cap_of(budget)
        if value > cap:
            show = _bytes if field == "activation_bytes" else _count
            if show(value) == show(cap):  # just over: rounding would print the same number
                show = _exact_bytes if field == "activation_bytes" else _exact
            where, worst = max(parts, key=lambda part: getattr(part[1], field))
            raise SpecError(
                f"this network {needs.format(show(value))}; the limit here is {show(cap)}. "
                f"The largest part is {where}, with {show(getattr(worst, field))}: a smaller "
                "input, fewer channels or features, or pooling earlier brings it down"
            )
    return total


def _count(n: float) -> str:
    """1,234 · 61.2 million · 20 billion: a count in words a student reads at a glance."""
    for size, word in ((1e12, "trillion"), (1e9, "billion"), (1e6, "million")):
        if n >= size:
            return f"{n / size:.1f}".removesuffix(".0") + f" {word}"
    return f"{int(n):,}"


def _exact(n: float) -> str:
    return f"{math.ceil(n):,}"


def _exact_bytes(n: float) -> str:
    return f"{math.ceil(n):,} bytes"


def _bytes(n: float) -> str:
    """Bytes in the largest binary unit that keeps the number at least 1 (256 MB, 8.5 GB)."""
    for unit, size in (("TB", 1024**4), ("GB", 1024**3), ("MB", MB), ("kB", 1024)):
        if n >= size:
            return f"{n / size:.1f}".removesuffix(".0") + f" {unit}"
    return f"{int(n)} bytes"
