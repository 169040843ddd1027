"""Layer-by-layer arithmetic of a network spec, by formula, without running it.

For each layer: output shape, parameter count, multiply-accumulates (MACs), and the theoretical
receptive field (size, jump and start, after Araujo, Norris and Sim, Distill 2019). The same
formulas are written out, with the layer's own numbers, for the Build page.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from models.build import layer_names
from models.spec import (
    BatchNormSpec,
    CBAMSpec,
    ConvSpec,
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


@dataclass(frozen=True)
class ReceptiveField:
    """Size (pixels), jump (input pixels between neighbouring units) and first unit's centre.

    `size` is None once a unit sees the whole input (after flatten or global pooling).
    """

    size: int | None
    jump: int
    start: float


@dataclass(frozen=True)
class LayerInfo:
    index: int  # 1-based position in the spec
    name: str  # the module name from build_model
    layer: LayerSpec
    input_shape: Shape
    output_shape: Shape
    params: int
    macs: int
    rf: ReceptiveField


def _conv_params(c_in: int, c_out: int, k: int, groups: int = 1, bias: bool = True) -> int:
    return (k * k * c_in // groups + int(bias)) * c_out


def _se_params(c: int, reduction: int) -> int:
    hidden = max(1, c // reduction)
    return c * hidden + hidden + hidden * c + c


def _inception_branches(ly: InceptionSpec, c: int) -> list[tuple[int, int, int]]:
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
            return _conv_params(c, layer.out_channels, layer.kernel_size, layer.groups, layer.bias)
        case LinearSpec():
            return (c + int(layer.bias)) * layer.out_features
        case BatchNormSpec():
            return 2 * c  # a scale and a shift per channel
        case ResidualSpec():
            o = layer.out_channels
            main = _conv_params(c, o, 3, bias=False) + _conv_params(o, o, 3, bias=False) + 4 * o
            return main + (_conv_params(c, o, 1, bias=False) + 2 * o if layer.projects(c) else 0)
        case InceptionSpec():
            return sum(_conv_params(i, o, k) for i, o, k in _inception_branches(layer, c))
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
            return hw_out * sum(i * o * k * k for i, o, k in _inception_branches(layer, c))
        case SqueezeExciteSpec():
            return 2 * c * max(1, c // layer.reduction)
        case CBAMSpec():
            mlp = 4 * c * max(1, c // layer.reduction)
            return mlp + hw_out * 2 * layer.spatial_kernel**2
    return 0


def _grow(rf: ReceptiveField, span: int, stride: int, pad: float) -> ReceptiveField:
    """One window of `span` input units (kernel extent), moved by `stride`, after `pad`."""
    assert rf.size is not None
    start = rf.start + ((span - 1) / 2 - pad) * rf.jump
    return ReceptiveField(rf.size + (span - 1) * rf.jump, rf.jump * stride, start)


def next_field(layer: LayerSpec, rf: ReceptiveField) -> ReceptiveField:
    """The receptive field after `layer`, from the one before it."""
    if rf.size is None or isinstance(layer, (FlattenSpec, GlobalPoolSpec)):
        return ReceptiveField(None, rf.jump, rf.start)
    match layer:
        case ConvSpec():
            span = layer.dilation * (layer.kernel_size - 1) + 1
            return _grow(rf, span, layer.stride, layer.pad)
        case PoolSpec():
            return _grow(rf, layer.kernel_size, layer.step, layer.padding)
        case ResidualSpec():
            return _grow(_grow(rf, 3, layer.stride, 1), 3, 1, 1)
        case InceptionSpec():
            return _grow(rf, 5, 1, 2)  # the widest branch decides
        case CBAMSpec():
            k = layer.spatial_kernel
            return _grow(rf, k, 1, k // 2)
        case LinearSpec():
            return ReceptiveField(None, rf.jump, rf.start)
    return rf


def analyze(spec: NetworkSpec) -> list[LayerInfo]:
    """Shapes, parameters, MACs and receptive field of every layer, without running it."""
    shapes = spec.shapes()
    rf = ReceptiveField(1, 1, 0.0)
    infos = []
    for i, (name, layer) in enumerate(zip(layer_names(spec), spec.layers)):
        rf = next_field(layer, rf)
        s_in, s_out = shapes[i], shapes[i + 1]
        params, macs = count_params(layer, s_in), count_macs(layer, s_in, s_out)
        infos.append(LayerInfo(i + 1, name, layer, s_in, s_out, params, macs, rf))
    return infos


def naive_output_size(size: int, kernel: int, stride: int, padding: int) -> Fraction:
    """The textbook (W − K + 2P)/S + 1, kept exact, to show when it is not a whole number."""
    return Fraction(size - kernel + 2 * padding, stride) + 1


def unread_pixels(size: int, kernel: int, stride: int, padding: int, dilation: int = 1) -> int:
    """How many input rows (or columns) at the far edge no window reaches, because of floor.

    The floor drops `reach mod S` cells at the end of the padded row; the last P of them are
    padding. (Rows skipped between the taps of a dilated kernel are not counted here.)
    """
    reach = size + 2 * padding - dilation * (kernel - 1) - 1
    return min(max(0, reach % stride - padding), size)


def dense_equivalent_params(shape_in: Shape, shape_out: Shape) -> int:
    """Weights of a dense layer joining every input value to every output value (plus biases)."""
    n_in = n_out = 1
    for d in shape_in:
        n_in *= d
    for d in shape_out:
        n_out *= d
    return n_in * n_out + n_out
