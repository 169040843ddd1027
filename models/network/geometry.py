"""Layer-by-layer arithmetic of a network spec, by formula, without running it.

For each layer: output shape, parameter count, multiply-accumulates (MACs), and the theoretical
receptive field (size, jump and start, after Araujo, Norris and Sim, Distill 2019). The same
formulas are written out, with the layer's own numbers, for the Build page.
"""

from __future__ import annotations

from dataclasses import dataclass

from models.network.budget import (
    count_macs as count_macs,  # one implementation, shared with the caps
)
from models.network.budget import count_params as count_params
from models.network.build import layer_names
from models.network.spec import (
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
