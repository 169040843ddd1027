"""Receptive fields of any CNN: which input pixels each unit can see, by tracing its graph.

models/inspect/field_tracer.py follows the fields through the model's torch.fx graph with the
recurrences of Araujo, Norris and Sim (Distill, 2019); this module runs it, keeps the results
per model and answers questions about them.

Conventions, so that every answer has a meaning:
- a module whose output has no spatial axes (global pooling, flatten, dense layers) covers the
  whole input: `whole_input=True`, its size is the input side, its jump the input side and its
  start the input's centre, so that its one "unit" box is exactly the image;
- a tensor that has lost its spatial axes and is broadcast back onto a feature map (the gate of
  squeeze-and-excitation or of CBAM's channel attention) scales whole channels by one number per
  image; it is left out of the field, as models/network/geometry.py does for spec-built networks;
- a module used twice reports its last use; modules the forward pass never calls are absent.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image
from torch import fx, nn

from models.bundle import ModelBundle
from models.inputs import image_to_pixels
from models.inspect.field_tracer import Field, FieldTracer, ReceptiveFieldError
from models.network.geometry import analyze
from models.network.spec import NetworkSpec


@dataclass(frozen=True)
class RFInfo:
    """Theoretical field of one module's output units: rows (size, jump, start), then columns.

    `size_w`, `jump_w`, `start_w` (columns) default to the row values; they differ only for
    non-square kernels such as Inception v3's 1×7. `shape` is the output's (H, W), or None when
    it has no spatial axes, in which case `whole_input` is True.
    """

    size: int
    jump: int
    start: float
    size_w: int | None = None
    jump_w: int | None = None
    start_w: float | None = None
    shape: tuple[int, int] | None = None
    whole_input: bool = False

    def __post_init__(self) -> None:
        for col, row in (("size_w", "size"), ("jump_w", "jump"), ("start_w", "start")):
            if getattr(self, col) is None:
                object.__setattr__(self, col, getattr(self, row))

    def box(self, row: int, col: int) -> tuple[int, int, int, int]:
        """Inclusive (top, bottom, left, right) input pixels of unit (row, col), unclipped."""
        cy, cx = self.start + row * self.jump, self.start_w + col * self.jump_w  # type: ignore
        hy, hx = (self.size - 1) / 2, (self.size_w - 1) / 2  # type: ignore[operator]
        return round(cy - hy), round(cy + hy), round(cx - hx), round(cx + hx)


_TRACE_LOCK = threading.Lock()
_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # model -> {shape: fields}


def _info(field: Field, shape: tuple[int, ...] | None, input_hw: tuple[int, int]) -> RFInfo:
    if field.whole or shape is None or len(shape) != 4:
        h, w = input_hw
        return RFInfo(h, h, (h - 1) / 2, w, w, (w - 1) / 2, None, True)
    (sr, jr, ur), (sc, jc, uc) = field.rows, field.cols
    return RFInfo(round(sr), round(jr), ur, round(sc), round(jc), uc, tuple(shape[2:]))


def compute_receptive_fields(
    model: nn.Module, input_shape: tuple[int, int, int]
) -> dict[str, RFInfo]:
    """The theoretical field of every module's output, keyed by its `named_modules()` name.

    The model is traced (not modified) and run once on a "meta" image, which has shapes but
    no values: no arithmetic, no statistic of the model changes. Results are remembered per
    model object and input shape. Raises ReceptiveFieldError when the graph cannot be followed.
    """
    key = tuple(input_shape)
    with _TRACE_LOCK:  # fx patches nn.Module.__call__ while it traces: one trace at a time
        cached = _CACHE.get(model, {})
        if key not in cached:
            cached[key] = _trace_fields(model, key)
            _CACHE[model] = cached
        return dict(cached[key])


def _trace_fields(model: nn.Module, input_shape: tuple[int, ...]) -> dict[str, RFInfo]:
    try:
        graph_module = fx.symbolic_trace(model)
    except Exception as err:  # fx raises many kinds of errors on dynamic control flow
        raise ReceptiveFieldError(f"this network cannot be traced with torch.fx: {err}") from None
    tracer = FieldTracer(graph_module)
    with torch.no_grad():
        tracer.run(torch.zeros(1, *input_shape, device="meta"))
    fields: dict[str, RFInfo] = {}
    for n in graph_module.graph.nodes:
        field = tracer.fields.get(n)
        if field is None or n.op == "output":
            continue
        info = _info(field, tracer.shapes[n], input_shape[1:])
        for qualified, _ in (n.meta.get("nn_module_stack") or {}).values():
            fields[qualified] = info
        fields[""] = info
    return fields


def field_growth(model: nn.Module, fields: dict[str, RFInfo]) -> list[tuple[str, RFInfo]]:
    """The layers (leaf modules, in execution order) where the field grows or the jump changes."""
    leaves = {name for name, m in model.named_modules() if not any(m.children())}
    steps, last = [], (1, 1)
    for name, info in fields.items():
        if name in leaves and not info.whole_input and (info.size, info.jump) != last:
            steps.append((name, info))
            last = (info.size, info.jump)
    return steps


@dataclass(frozen=True)
class UnitView:
    """Where one unit looks: its box (unclipped), centre, and how it meets the image's edges."""

    box: tuple[int, int, int, int]  # inclusive top, bottom, left, right
    centre: tuple[float, float]
    sees_padding: bool  # part of the box lies outside the image
    outgrows: bool  # the box is larger than the image along some axis


def describe_unit(info: RFInfo, row: int, col: int, input_hw: tuple[int, int]) -> UnitView:
    """The box of unit (row, col) and what it says about padding; whole-input layers: the image."""
    top, bottom, left, right = info.box(row, col)
    h, w = input_hw
    padding = top < 0 or left < 0 or bottom >= h or right >= w
    outgrows = info.size > h or info.size_w > w  # type: ignore[operator]
    return UnitView(
        (top, bottom, left, right), ((top + bottom) / 2, (left + right) / 2), padding, outgrows
    )


def spatial_layers(model: nn.Module, fields: dict[str, RFInfo]) -> list[str]:
    """Leaf modules with a feature map, in execution order: the layers a unit can be picked in."""
    leaves = {name for name, m in model.named_modules() if name and not any(m.children())}
    return [name for name, info in fields.items() if name in leaves and not info.whole_input]


def _stack(layers: list[dict]) -> NetworkSpec:
    return NetworkSpec.from_dict({"input": [1, STACK_INPUT, STACK_INPUT], "layers": layers})


def _conv(k: int, stride: int = 1, dilation: int = 1) -> dict:
    pad = dilation * (k - 1) // 2
    return {
        "type": "conv",
        "out_channels": 1,
        "kernel_size": k,
        "stride": stride,
        "padding": pad,
        "dilation": dilation,
    }


STACK_INPUT = 512  # large enough that eight halvings still leave a feature map
COMPARISON_STACKS: dict[str, Callable[[int], NetworkSpec]] = {
    "3×3 convs": lambda n: _stack([_conv(3)] * n),
    "5×5 convs": lambda n: _stack([_conv(5)] * n),
    "dilated 3×3 (1, 2, 4, …)": lambda n: _stack([_conv(3, 1, 2 ** min(i, 6)) for i in range(n)]),
    "strided 3×3 (stride 2)": lambda n: _stack([_conv(3, 2)] * n),
    "3×3 conv + 2×2 max pool": lambda n: _stack(
        [ly for _ in range(n) for ly in (_conv(3), {"type": "maxpool", "kernel_size": 2})]
    ),
}


def growth_curves(
    bundle: ModelBundle, stacks: Sequence[str], depth: int
) -> dict[str, list[tuple[int, int]]]:
    """(size, jump) after each field-growing layer: the current network, then each stack."""
    fields = compute_receptive_fields(bundle.model, bundle.input_shape)
    curves = {"your network": [(i.size, i.jump) for _, i in field_growth(bundle.model, fields)]}
    for name in stacks:
        rfs = [info.rf for info in analyze(COMPARISON_STACKS[name](depth))]
        curves[name] = [(rf.size, rf.jump) for rf in rfs if rf.size is not None]
    return curves


def input_preview(image: Image.Image, bundle: ModelBundle) -> np.ndarray:
    """The image as the network sees its size: (H, W, 3) uint8, grey images repeated to RGB."""
    c, h, w = bundle.input_shape
    pixels = image_to_pixels(image, (1 if c == 1 else 3, h, w))[0]  # (C, H, W) in [0, 1]
    rgb = pixels.expand(3, -1, -1) if c == 1 else pixels
    return (rgb * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()
