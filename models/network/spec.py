"""Typed, frozen descriptions of a CNN: what the user builds, checked the moment it is made.

A `NetworkSpec` is an input shape (C, H, W) and a tuple of layer specs. Every layer spec knows
its own output shape, so an invalid network is refused with a `SpecError` that names the layer
and the reason, before any tensor exists; so is one whose parameters, memory or MACs are over
the caps of `models.network.budget`. Any JSON value, however wrong, gives a SpecError and
nothing else.
The JSON form round-trips exactly.
"""

from __future__ import annotations

import json
import math
import reprlib
from dataclasses import dataclass, field, fields, replace
from typing import Any, ClassVar

from models.errors import CNNLabError

Shape = tuple[int, ...]  # (C, H, W) for images, (F,) for flat vectors

MAX_CHANNELS = 4096
MAX_SIDE = 4096
MAX_KERNEL = 64
MAX_LAYERS = 200
MAX_JSON_CHARS = 1_000_000  # a 200-layer network written out with indents is under 50 kB
ACTIVATIONS = ("relu", "leaky_relu", "elu", "gelu", "sigmoid", "tanh")


class SpecError(CNNLabError):
    """A network description that cannot be built, with a reason a user can read."""


class _Short(reprlib.Repr):
    """reprlib with short limits, and no int too long for `repr` (over 4,300 digits raises)."""

    def __init__(self) -> None:
        super().__init__()
        self.maxlevel, self.maxlist, self.maxdict, self.maxstring, self.maxother = 2, 4, 4, 40, 40

    def repr_int(self, x: int, level: int) -> str:
        if x.bit_length() > 64:  # digits from bits: no decimal conversion of a huge number
            return f"a number with about {int(x.bit_length() * math.log10(2)) + 1} digits"
        return super().repr_int(x, level)


def show(value: Any) -> str:
    """Any value, however big, long or nested, cut to a few dozen characters for a message."""
    return _Short().repr(value)


def _int(name: str, value: Any, low: int = 1, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise SpecError(f"{name} must be a whole number, not {show(value)}")
    if value < low:
        raise SpecError(f"{name} must be at least {low}, not {show(value)}")
    if high is not None and value > high:
        raise SpecError(f"{name} must be at most {high}, not {show(value)}")
    return value


def _bool(name: str, value: Any) -> None:
    if not isinstance(value, bool):
        raise SpecError(f"{name} must be true or false, not {show(value)}")


def _fraction(name: str, value: Any, words: str) -> None:
    """A float or int in [0, 1): NaN, infinities, bools and text are refused."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SpecError(f"{name} must be a number, not {show(value)}")
    if not 0 <= value < 1:  # also false for NaN
        raise SpecError(f"{name} {words} in [0, 1), not {show(value)}")


def _needs_image(kind: str, shape: Shape) -> tuple[int, int, int]:
    if len(shape) != 3:
        raise SpecError(
            f"{kind} needs an image-shaped input (C×H×W) but gets a flat vector of "
            f"{shape[0]} numbers; put it before the flatten layer"
        )
    return shape  # type: ignore[return-value]


def conv_out(size: int, kernel: int, stride: int, padding: int, dilation: int = 1) -> int:
    """PyTorch's output length: floor((W + 2P − D·(K−1) − 1) / S) + 1."""
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def pool_out(size: int, kernel: int, stride: int, padding: int, ceil_mode: bool) -> int:
    """Pooling's output length; with ceil_mode the last window may hang over the edge."""
    if not ceil_mode:
        return conv_out(size, kernel, stride, padding)
    out = math.ceil((size + 2 * padding - kernel) / stride) + 1
    if (out - 1) * stride >= size + padding:  # PyTorch drops a window that starts in padding
        out -= 1
    return out


def _check_side(kind: str, h: int, w: int) -> None:
    if h < 1 or w < 1:
        raise SpecError(f"{kind} would make the output {h}×{w}, smaller than 1×1")


@dataclass(frozen=True)
class LayerSpec:
    """Base of every layer description; `type` is its JSON name."""

    type: ClassVar[str] = ""

    def output_shape(self, shape: Shape) -> Shape:
        return shape

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type} | {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class ConvSpec(LayerSpec):
    out_channels: int
    kernel_size: int = 3
    stride: int = 1
    padding: int | str = 0  # a number of pixels on each side, or "same"
    dilation: int = 1
    groups: int = 1
    bias: bool = True
    type: ClassVar[str] = "conv"

    def __post_init__(self) -> None:
        _int("out_channels", self.out_channels, 1, MAX_CHANNELS)
        _int("kernel_size", self.kernel_size, 1, MAX_KERNEL)
        _int("stride", self.stride, 1, MAX_KERNEL)
        _int("dilation", self.dilation, 1, MAX_KERNEL)
        _int("groups", self.groups, 1, MAX_CHANNELS)
        _bool("bias", self.bias)
        if self.padding == "same":
            if self.stride != 1:
                raise SpecError('padding "same" only works with stride 1')
        else:
            _int('padding (a number or "same")', self.padding, 0, MAX_KERNEL)
        if self.out_channels % self.groups:
            raise SpecError(
                f"out_channels ({self.out_channels}) must be divisible by groups ({self.groups})"
            )

    @property
    def pad(self) -> int:
        """Padding per side for size arithmetic ("same" keeps the size at stride 1)."""
        if self.padding == "same":
            return self.dilation * (self.kernel_size - 1) // 2
        return int(self.padding)

    def output_shape(self, shape: Shape) -> Shape:
        c, h, w = _needs_image("conv", shape)
        if c % self.groups:
            raise SpecError(
                f"its {c} input channels cannot be split into {self.groups} groups; "
                "groups must divide the input channels"
            )
        if self.padding == "same":
            return (self.out_channels, h, w)
        oh, ow = (
            conv_out(s, self.kernel_size, self.stride, self.pad, self.dilation) for s in (h, w)
        )
        _check_side("conv", oh, ow)
        return (self.out_channels, oh, ow)


@dataclass(frozen=True)
class ActivationSpec(LayerSpec):
    kind: str = "relu"
    negative_slope: float = 0.01  # used by leaky_relu only

    def __post_init__(self) -> None:
        if not isinstance(self.kind, str) or self.kind not in ACTIVATIONS:
            raise SpecError(f"unknown activation {show(self.kind)}; choose one of {ACTIVATIONS}")
        _fraction("negative_slope", self.negative_slope, "must be")
        if self.kind != "leaky_relu":  # the slope means nothing here; keep JSON round-trips exact
            object.__setattr__(self, "negative_slope", 0.01)

    @property
    def type(self) -> str:  # type: ignore[override]
        return self.kind

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.kind}
        if self.kind == "leaky_relu":
            out["negative_slope"] = self.negative_slope
        return out


@dataclass(frozen=True)
class PoolSpec(LayerSpec):
    mode: str = "max"  # "max" or "avg"
    kernel_size: int = 2
    stride: int | None = None  # None: the kernel size
    padding: int = 0
    ceil_mode: bool = False

    def __post_init__(self) -> None:
        if self.mode not in ("max", "avg"):
            raise SpecError(f"pooling mode must be max or avg, not {show(self.mode)}")
        _int("kernel_size", self.kernel_size, 1, MAX_KERNEL)
        if self.stride is None:  # PyTorch's default: windows side by side
            object.__setattr__(self, "stride", self.kernel_size)
        _int("stride", self.stride, 1, MAX_KERNEL)
        _int("padding", self.padding, 0, MAX_KERNEL)
        _bool("ceil_mode", self.ceil_mode)
        if self.padding * 2 > self.kernel_size:
            raise SpecError(
                f"padding ({self.padding}) must be at most half the kernel size "
                f"({self.kernel_size}), as PyTorch requires"
            )

    @property
    def type(self) -> str:  # type: ignore[override]
        return f"{self.mode}pool"

    @property
    def step(self) -> int:
        return int(self.stride)  # type: ignore[arg-type]

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type} | {
            f.name: getattr(self, f.name) for f in fields(self) if f.name != "mode"
        }

    def output_shape(self, shape: Shape) -> Shape:
        c, h, w = _needs_image(self.type, shape)
        k, s, p = self.kernel_size, self.step, self.padding
        oh, ow = (pool_out(x, k, s, p, self.ceil_mode) for x in (h, w))
        _check_side(self.type, oh, ow)
        return (c, oh, ow)


@dataclass(frozen=True)
class GlobalPoolSpec(LayerSpec):
    mode: str = "avg"

    def __post_init__(self) -> None:
        if self.mode not in ("max", "avg"):
            raise SpecError(f"global pooling mode must be max or avg, not {show(self.mode)}")

    @property
    def type(self) -> str:  # type: ignore[override]
        return f"global_{self.mode}pool"

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type}

    def output_shape(self, shape: Shape) -> Shape:
        c, _, _ = _needs_image(self.type, shape)
        return (c,)


@dataclass(frozen=True)
class BatchNormSpec(LayerSpec):
    type: ClassVar[str] = "batchnorm"


@dataclass(frozen=True)
class DropoutSpec(LayerSpec):
    p: float = 0.5
    type: ClassVar[str] = "dropout"

    def __post_init__(self) -> None:
        _fraction("p", self.p, "is a probability and must be")


@dataclass(frozen=True)
class FlattenSpec(LayerSpec):
    type: ClassVar[str] = "flatten"

    def output_shape(self, shape: Shape) -> Shape:
        return (math.prod(shape),)


@dataclass(frozen=True)
class LinearSpec(LayerSpec):
    out_features: int
    bias: bool = True
    type: ClassVar[str] = "linear"

    def __post_init__(self) -> None:
        _int("out_features", self.out_features, 1, 100_000)
        _bool("bias", self.bias)

    def output_shape(self, shape: Shape) -> Shape:
        if len(shape) != 1:
            raise SpecError(
                f"a linear layer needs a flat vector, but its input is "
                f"{'×'.join(map(str, shape))}; add a flatten layer (or global pooling) before it"
            )
        return (self.out_features,)


@dataclass(frozen=True)
class ResidualSpec(LayerSpec):
    """Two 3×3 convs with batchnorm; identity shortcut, or a 1×1 projection when shapes change."""

    out_channels: int
    stride: int = 1
    type: ClassVar[str] = "residual"

    def __post_init__(self) -> None:
        _int("out_channels", self.out_channels, 1, MAX_CHANNELS)
        _int("stride", self.stride, 1, 8)

    def projects(self, in_channels: int) -> bool:
        return self.stride != 1 or in_channels != self.out_channels

    def output_shape(self, shape: Shape) -> Shape:
        _, h, w = _needs_image("residual", shape)
        oh, ow = (conv_out(x, 3, self.stride, 1) for x in (h, w))
        return (self.out_channels, oh, ow)


@dataclass(frozen=True)
class InceptionSpec(LayerSpec):
    """Parallel 1×1, 3×3, 5×5 and pooling branches, concatenated (Szegedy et al., 2015)."""

    out_1x1: int = 8
    reduce_3x3: int = 0  # 0: no 1×1 reduction before the 3×3
    out_3x3: int = 8
    reduce_5x5: int = 0
    out_5x5: int = 8
    pool_proj: int = 8
    type: ClassVar[str] = "inception"

    def __post_init__(self) -> None:
        for name in ("out_1x1", "out_3x3", "out_5x5", "pool_proj"):
            _int(name, getattr(self, name), 1, MAX_CHANNELS)
        for name in ("reduce_3x3", "reduce_5x5"):
            _int(name, getattr(self, name), 0, MAX_CHANNELS)
        if self.out_channels > MAX_CHANNELS:
            raise SpecError(
                f"its four branches together make {self.out_channels} channels; "
                f"at most {MAX_CHANNELS}"
            )

    @property
    def out_channels(self) -> int:
        return self.out_1x1 + self.out_3x3 + self.out_5x5 + self.pool_proj

    def output_shape(self, shape: Shape) -> Shape:
        _, h, w = _needs_image("inception", shape)
        return (self.out_channels, h, w)


@dataclass(frozen=True)
class SqueezeExciteSpec(LayerSpec):
    """Channel attention: global pool, bottleneck MLP, sigmoid gate (Hu et al., 2018)."""

    reduction: int = 4
    type: ClassVar[str] = "se"

    def __post_init__(self) -> None:
        _int("reduction", self.reduction, 1, MAX_CHANNELS)

    def output_shape(self, shape: Shape) -> Shape:
        _needs_image("se", shape)
        return shape


@dataclass(frozen=True)
class CBAMSpec(LayerSpec):
    """Channel then spatial attention (Woo et al., 2018)."""

    reduction: int = 4
    spatial_kernel: int = 7
    type: ClassVar[str] = "cbam"

    def __post_init__(self) -> None:
        _int("reduction", self.reduction, 1, MAX_CHANNELS)
        _int("spatial_kernel", self.spatial_kernel, 1, 15)
        if self.spatial_kernel % 2 == 0:
            raise SpecError("spatial_kernel must be odd so the map keeps its size")

    def output_shape(self, shape: Shape) -> Shape:
        _needs_image("cbam", shape)
        return shape


def _fixed(cls: type, key: str, value: str):
    """A factory of `cls` with `key` set by the JSON type name, never by the JSON settings."""

    def make(**kw: Any) -> LayerSpec:
        if key in kw:  # checked here: under a tracer, CPython 3.11 said KeyError, not TypeError
            raise TypeError(f"got an unexpected keyword argument {key!r}")
        return cls(**{key: value}, **kw)

    return make


def _activation(kind: str):
    return _fixed(ActivationSpec, "kind", kind)


def _pool(cls: type, mode: str):
    return _fixed(cls, "mode", mode)


LAYER_TYPES: dict[str, Any] = {
    "conv": ConvSpec,
    **{kind: _activation(kind) for kind in ACTIVATIONS},
    "maxpool": _pool(PoolSpec, "max"),
    "avgpool": _pool(PoolSpec, "avg"),
    "global_avgpool": _pool(GlobalPoolSpec, "avg"),
    "global_maxpool": _pool(GlobalPoolSpec, "max"),
    "batchnorm": BatchNormSpec,
    "dropout": DropoutSpec,
    "flatten": FlattenSpec,
    "linear": LinearSpec,
    "residual": ResidualSpec,
    "inception": InceptionSpec,
    "se": SqueezeExciteSpec,
    "cbam": CBAMSpec,
}


def layer_from_dict(data: Any) -> LayerSpec:
    """Make one layer spec from its JSON object; unknown types and keys are refused."""
    if not isinstance(data, dict):
        raise SpecError(f"a layer must be an object like {{'type': 'conv', ...}}, not {show(data)}")
    kind = data.get("type")
    if not isinstance(kind, str) or kind not in LAYER_TYPES:
        raise SpecError(f"unknown layer type {show(kind)}; known types: {', '.join(LAYER_TYPES)}")
    kwargs = {k: v for k, v in data.items() if k != "type"}
    try:
        return LAYER_TYPES[kind](**kwargs)
    except TypeError as err:
        raise SpecError(f"{kind}: unexpected or missing setting ({_type_error(err)})") from None


def _type_error(err: TypeError) -> str:
    text = str(err)
    return text.split("() ", 1)[-1] if "() " in text else text


@dataclass(frozen=True)
class NetworkSpec:
    """An input shape (C, H, W) and the layers applied to it in order."""

    input_shape: tuple[int, int, int]
    layers: tuple[LayerSpec, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if isinstance(self.input_shape, list):  # code may pass lists; keep the spec hashable
            object.__setattr__(self, "input_shape", tuple(self.input_shape))
        if isinstance(self.layers, list):
            object.__setattr__(self, "layers", tuple(self.layers))
        if not isinstance(self.input_shape, tuple) or len(self.input_shape) != 3:
            raise SpecError("input must be three numbers: channels, height, width")
        _int("input channels", self.input_shape[0], 1, MAX_CHANNELS)
        _int("input height", self.input_shape[1], 1, MAX_SIDE)
        _int("input width", self.input_shape[2], 1, MAX_SIDE)
        if not isinstance(self.layers, tuple):
            raise SpecError(f"layers must be a list of layers, not {show(self.layers)}")
        _check_count(len(self.layers))
        for i, layer in enumerate(self.layers):
            if not isinstance(layer, LayerSpec):
                raise SpecError(f"Layer {i + 1} is not a layer spec but {show(layer)}")
        from models.network.budget import (
            check_budget,  # here: budget reads the classes defined above
        )

        check_budget(self.layers, self.shapes())  # shapes() checks each layer against its input

    def shapes(self) -> list[Shape]:
        """The input shape, then the output shape after each layer."""
        shapes: list[Shape] = [self.input_shape]
        for i, layer in enumerate(self.layers):
            try:
                shapes.append(layer.output_shape(shapes[-1]))
            except SpecError as err:
                raise SpecError(f"Layer {i + 1} ({layer.type}): {err}") from None
        return shapes

    @property
    def output_shape(self) -> Shape:
        return self.shapes()[-1]

    # Editing: each returns a new spec, validated like any other, so an edit that would break
    # the network raises SpecError naming the layer and the reason. Indices count from 0.

    def insert_layer(self, i: int, layer: LayerSpec) -> NetworkSpec:
        """This network with `layer` put at position i (len(layers): at the end)."""
        _check_index(i, len(self.layers) + 1)
        return replace(self, layers=(*self.layers[:i], layer, *self.layers[i:]))

    def remove_layer(self, i: int) -> NetworkSpec:
        """This network without layer i."""
        _check_index(i, len(self.layers))
        return replace(self, layers=self.layers[:i] + self.layers[i + 1 :])

    def move_layer(self, i: int, j: int) -> NetworkSpec:
        """This network with layer i moved to position j, the others keeping their order."""
        _check_index(i, len(self.layers))
        _check_index(j, len(self.layers))
        rest = self.layers[:i] + self.layers[i + 1 :]
        return replace(self, layers=(*rest[:j], self.layers[i], *rest[j:]))

    def replace_layer(self, i: int, layer: LayerSpec) -> NetworkSpec:
        """This network with layer i replaced by `layer`."""
        _check_index(i, len(self.layers))
        return replace(self, layers=(*self.layers[:i], layer, *self.layers[i + 1 :]))

    def to_dict(self) -> dict[str, Any]:
        return {"input": list(self.input_shape), "layers": [ly.to_dict() for ly in self.layers]}

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_dict(cls, data: Any) -> NetworkSpec:
        if not isinstance(data, dict) or "input" not in data or "layers" not in data:
            raise SpecError('a network is an object with "input": [C, H, W] and "layers": [...]')
        extra = set(data) - {"input", "layers"}
        if extra:
            raise SpecError(f"unknown keys at the top level: {', '.join(sorted(extra))}")
        shape, raw_layers = data["input"], data["layers"]
        if not isinstance(shape, list) or len(shape) != 3:
            raise SpecError('"input" must be a list of three numbers: [channels, height, width]')
        if not isinstance(raw_layers, list):
            raise SpecError('"layers" must be a list')
        _check_count(len(raw_layers))  # before a single layer object is made
        layers = []
        for i, raw in enumerate(raw_layers):
            try:
                layers.append(layer_from_dict(raw))
            except SpecError as err:
                kind = raw.get("type") if isinstance(raw, dict) else None
                name = kind if isinstance(kind, str) and len(kind) <= 20 else "?"
                raise SpecError(f"Layer {i + 1} ({name}): {err}") from None
        return cls(tuple(shape), tuple(layers))

    @classmethod
    def from_json(cls, text: str | bytes) -> NetworkSpec:
        """Parse a network from JSON text; anything wrong with it raises SpecError."""
        if not isinstance(text, (str, bytes, bytearray)):
            raise SpecError(f"a network in JSON is text, not {show(text)}")
        if len(text) > MAX_JSON_CHARS:
            raise SpecError(
                f"this network file is {len(text):,} characters long; a network here is at most "
                f"{MAX_JSON_CHARS:,} (a {MAX_LAYERS}-layer network takes under 50,000)"
            )
        try:
            data = json.loads(text)
        except RecursionError:
            raise SpecError("this JSON is nested too deeply to be a network") from None
        except UnicodeDecodeError:
            raise SpecError("this is not a text file (UTF-8), so not a network in JSON") from None
        except json.JSONDecodeError as err:
            raise SpecError(f"this is not valid JSON: {err}") from None
        except ValueError:  # Python refuses to read an integer of over 4,300 digits
            raise SpecError("a number in this JSON is too long (over 4,300 digits)") from None
        return cls.from_dict(data)


def _check_index(i: int, n: int) -> None:
    if not 0 <= i < n:  # a caller's bug, not the user's: no negative indices, no wrapping
        raise IndexError(f"layer index {i} is out of range 0..{n - 1}")


def _check_count(n: int) -> None:
    if n > MAX_LAYERS:
        raise SpecError(f"a network here has at most {MAX_LAYERS} layers; this one has {n:,}")


# What a newly added layer of each type starts with in the editor.
LAYER_DEFAULTS: dict[str, dict[str, Any]] = {
    "conv": {"out_channels": 8, "kernel_size": 3, "padding": 1},
    "maxpool": {"kernel_size": 2},
    "avgpool": {"kernel_size": 2},
    "linear": {"out_features": 10},
    "dropout": {"p": 0.5},
    "residual": {"out_channels": 16},
}


def new_layer(kind: str) -> dict[str, Any]:
    """The full JSON object of a new layer of `kind`, every setting filled in."""
    return layer_from_dict({"type": kind, **LAYER_DEFAULTS.get(kind, {})}).to_dict()
