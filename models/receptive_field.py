"""Receptive fields of any CNN: which input pixels each unit can see, by tracing its graph.

The recurrences are those of Araujo, Norris and Sim, "Computing Receptive Fields of
Convolutional Neural Networks" (Distill, 2019). For a layer with kernel k, stride s, padding p
and dilation d, after a field of size r, jump j and start u (centre of the first unit, in input
pixels):  r' = r + (k − 1)·d·j,  j' = j·s,  u' = u + ((k − 1)·d / 2 − p)·j.

The model is traced with torch.fx and run once on meta tensors (shapes, no values) to learn
every tensor's shape. Where
paths join (residual additions, inception concatenations) the joined field is the union of the
paths' fields, so the widest path decides, as the article does for branched networks.

Conventions, so that every answer has a meaning:
- a module whose output has no spatial axes (global pooling, flatten, dense layers) covers the
  whole input: `whole_input=True`, its size is the input side, its jump the input side and its
  start the input's centre, so that its one "unit" box is exactly the image;
- a tensor that has lost its spatial axes and is broadcast back onto a feature map (the gate of
  squeeze-and-excitation or of CBAM's channel attention) scales whole channels by one number per
  image; it is left out of the field, as models/geometry.py does for spec-built networks;
- a module used twice reports its last use; modules the forward pass never calls are absent.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, replace

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import fx, nn

from models.bundle import ModelBundle, untrained_bundle
from models.geometry import analyze
from models.spec import NetworkSpec

Axis = tuple[float, float, float]  # (size, jump, start) along one axis


class ReceptiveFieldError(ValueError):
    """A network whose receptive field cannot be followed, with a reason a user can read."""


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


@dataclass(frozen=True)
class _Field:
    rows: Axis
    cols: Axis
    whole: bool = False


_TRACE_LOCK = threading.Lock()
_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # model -> {shape: fields}
_POINT = _Field((1, 1, 0.0), (1, 1, 0.0))
_POOLS = (nn.MaxPool2d, nn.AvgPool2d)
_ADAPTIVE = (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)
_POOL_FNS = {F.max_pool2d, F.avg_pool2d, torch.max_pool2d}
_ADAPTIVE_FNS = {F.adaptive_avg_pool2d, F.adaptive_max_pool2d}
_SHAPE_ONLY = (  # modules that keep the shape; skipped when the graph runs on meta tensors
    nn.modules.batchnorm._BatchNorm,
    nn.modules.instancenorm._InstanceNorm,
    nn.GroupNorm,
    nn.LayerNorm,
    nn.PReLU,
    nn.Dropout,
    nn.Dropout2d,
)


def _pair(value) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else (int(value[0]), int(value[1]))


def _grow(axis: Axis, kernel: int, stride: int, pad: float, dilation: int = 1) -> Axis:
    size, jump, start = axis
    span = dilation * (kernel - 1)
    return size + span * jump, jump * stride, start + (span / 2 - pad) * jump


def _window(field: _Field, k, s, p, d=1) -> _Field:
    (k, s, d) = (_pair(k), _pair(s), _pair(d))
    p = _pair(p)
    return _Field(
        *(_grow(a, k[i], s[i], p[i], d[i]) for i, a in enumerate((field.rows, field.cols)))
    )


def _conv_padding(conv: nn.Conv2d) -> tuple[int, int]:
    if conv.padding == "same":  # PyTorch puts the smaller half on the left/top
        return tuple(d * (k - 1) // 2 for k, d in zip(conv.kernel_size, conv.dilation, strict=True))  # type: ignore
    return (0, 0) if conv.padding == "valid" else _pair(conv.padding)


def _adaptive(field: _Field, size_in: tuple[int, int], size_out: tuple[int, int]) -> _Field:
    """Adaptive pooling as a plain window: exact when the sizes divide, else the widest window."""
    if size_out == (1, 1):
        return _Field(field.rows, field.cols, whole=True)
    stride = [max(1, i // o) for i, o in zip(size_in, size_out, strict=True)]
    kernel = [i - (o - 1) * s for i, o, s in zip(size_in, size_out, stride, strict=True)]
    return _window(field, kernel, stride, 0)


def _union(fields: list[_Field]) -> _Field:
    """Join paths: the smallest window that holds every path's window for the same unit."""

    def join(axes: list[Axis]) -> Axis:
        lo = min(a[2] - (a[0] - 1) / 2 for a in axes)
        hi = max(a[2] + (a[0] - 1) / 2 for a in axes)
        return hi - lo + 1, max(a[1] for a in axes), (lo + hi) / 2

    return _Field(join([f.rows for f in fields]), join([f.cols for f in fields]))


class _FieldTracer(fx.Interpreter):
    """Runs the traced graph on zeros and carries a field alongside every tensor."""

    def __init__(self, graph_module: fx.GraphModule):
        super().__init__(graph_module)
        self.fields: dict[fx.Node, _Field | None] = {}
        self.shapes: dict[fx.Node, tuple[int, ...] | None] = {}

    def run_node(self, n: fx.Node):
        out = super().run_node(n)
        self.shapes[n] = tuple(out.shape) if isinstance(out, torch.Tensor) else None
        self.fields[n] = _POINT if n.op == "placeholder" else self._field(n, out)
        return out

    def call_module(self, target, args, kwargs):
        """Run a module on meta tensors: shapes only, no arithmetic, the model untouched."""
        module, x = self.fetch_attr(target), args[0]
        if isinstance(module, _SHAPE_ONLY):
            return x  # shape-preserving; a model in training mode keeps its statistics
        if isinstance(module, nn.Conv2d):
            weight = module.weight.to("meta")
            return F.conv2d(
                x, weight, None, module.stride, module.padding, module.dilation, module.groups
            )
        if isinstance(module, nn.Linear):
            return F.linear(x, module.weight.to("meta"))
        if next(module.parameters(), None) is None and next(module.buffers(), None) is None:
            return module(*args, **kwargs)
        kind = type(module).__name__
        raise ReceptiveFieldError(
            f"cannot follow the field through {target} ({kind}), a layer "
            "with weights that this tool does not know"
        )

    def get_attr(self, target, args, kwargs):
        value = super().get_attr(target, args, kwargs)
        return value.to("meta") if isinstance(value, torch.Tensor) else value

    def _inputs(self, n: fx.Node) -> list[fx.Node]:
        found: list[fx.Node] = []
        fx.node.map_arg((n.args, n.kwargs), lambda a: found.append(a) or a)
        return [a for a in found if self.fields.get(a) is not None]

    def _field(self, n: fx.Node, out) -> _Field | None:
        inputs = self._inputs(n)
        if not inputs:
            return None
        if isinstance(out, torch.Tensor) and out.dim() != 4:
            return replace(self.fields[inputs[0]], whole=True)  # no spatial axes left
        grown = self._spatial_op(n, inputs[0], out) if isinstance(out, torch.Tensor) else None
        return grown if grown is not None else self._merge(n, inputs, out)

    def _spatial_op(self, n: fx.Node, first: fx.Node, out: torch.Tensor) -> _Field | None:
        field, shape_in = self.fields[first], self.shapes[first]
        if field.whole or shape_in is None or len(shape_in) != 4:
            return None
        op = self.fetch_attr(n.target) if n.op == "call_module" else n.target
        if isinstance(op, nn.Conv2d):
            return _window(field, op.kernel_size, op.stride, _conv_padding(op), op.dilation)
        if isinstance(op, _POOLS):
            d = getattr(op, "dilation", 1)
            return _window(field, op.kernel_size, op.stride, op.padding, d)
        if isinstance(op, _ADAPTIVE) or op in _ADAPTIVE_FNS:
            return _adaptive(field, shape_in[2:], tuple(out.shape[2:]))
        if op in _POOL_FNS or op is F.conv2d:
            return self._functional(n, field, op)
        return None

    def _functional(self, n: fx.Node, field: _Field, op) -> _Field:
        names = (
            ("kernel_size", "stride", "padding")
            if op in _POOL_FNS
            else ("weight", "bias", "stride", "padding", "dilation")
        )
        given = dict(zip(names, n.args[1:], strict=False)) | dict(n.kwargs)
        if op is F.conv2d:
            kernel = tuple(self.shapes[given["weight"]][2:])
            stride, pad = given.get("stride", 1), given.get("padding", 0)
            return _window(field, kernel, stride, pad, given.get("dilation", 1))
        kernel = given["kernel_size"]
        stride = given.get("stride") or kernel  # PyTorch: no stride means the kernel size
        return _window(field, kernel, stride, given.get("padding", 0))

    def _merge(self, n: fx.Node, inputs: list[fx.Node], out) -> _Field:
        spatial = [a for a in inputs if not self.fields[a].whole]
        if not spatial:
            return replace(self.fields[inputs[0]], whole=True)
        if not isinstance(out, torch.Tensor):
            return _union([self.fields[a] for a in spatial])
        same = [a for a in spatial if self._hw(a) == tuple(out.shape[2:])]
        others = [a for a in spatial if a not in same and self._hw(a) not in ((1, 1), None)]
        if others or not same:
            what = n.target if n.op == "call_module" else getattr(n.target, "__name__", n.target)
            raise ReceptiveFieldError(
                f"cannot follow the receptive field through {what!s}: it changes the size of "
                "the feature map in a way this tool does not know"
            )
        return _union([self.fields[a] for a in same])

    def _hw(self, node: fx.Node) -> tuple[int, ...] | None:
        shape = self.shapes[node]
        return shape[2:] if shape is not None and len(shape) == 4 else None


def _info(field: _Field, shape: tuple[int, ...] | None, input_hw: tuple[int, int]) -> RFInfo:
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
    tracer = _FieldTracer(graph_module)
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
    _, h, w = bundle.input_shape
    mode = "L" if bundle.input_shape[0] == 1 else "RGB"
    small = image.convert(mode).resize((w, h), Image.Resampling.BILINEAR).convert("RGB")
    return np.asarray(small, dtype=np.uint8)


@dataclass(frozen=True)
class EffectiveField:
    """The effective receptive field of one unit (Luo et al., NeurIPS 2016).

    `grad` is |∂ unit / ∂ input| summed over channels and averaged over the images, (H, W).
    `shares[i]` is the part of its total inside the centred square of side `sides[i]`.
    """

    layer: str
    unit: tuple[int, int]
    grad: np.ndarray  # (H, W)
    sides: tuple[int, ...]
    shares: tuple[float, ...]
    info: RFInfo


def image_batch(image: Image.Image, bundle: ModelBundle) -> torch.Tensor:
    """The image resized to the network input and normalised as the model expects: (1, C, H, W)."""
    c, h, w = bundle.input_shape
    pixels = image.convert("L" if c == 1 else "RGB").resize((w, h), Image.Resampling.BILINEAR)
    x = torch.from_numpy(np.asarray(pixels, dtype=np.float32).copy() / 255.0)
    x = x[None] if c == 1 else x.permute(2, 0, 1)[:c]  # (C, H, W)
    mean, std = torch.tensor(bundle.mean)[:, None, None], torch.tensor(bundle.std)[:, None, None]
    return ((x - mean) / std)[None]


def sample_inputs(bundle: ModelBundle, n: int, seed: int, image: Image.Image | None = None):
    """n inputs for averaging: random crops of `image` (flipped at random), or noise if None."""
    gen = torch.Generator().manual_seed(seed)
    c, h, w = bundle.input_shape
    if image is None:
        return torch.randn(n, c, h, w, generator=gen)
    crops = []
    for _ in range(n):
        scale = 0.6 + 0.4 * torch.rand(1, generator=gen).item()
        cw, ch = max(1, int(image.width * scale)), max(1, int(image.height * scale))
        x0 = int(torch.randint(0, image.width - cw + 1, (1,), generator=gen))
        y0 = int(torch.randint(0, image.height - ch + 1, (1,), generator=gen))
        crop = image_batch(image.crop((x0, y0, x0 + cw, y0 + ch)), bundle)
        crops.append(crop.flip(-1) if torch.rand(1, generator=gen).item() < 0.5 else crop)
    return torch.cat(crops)


class _Captured(Exception):
    """Raised by the hook to stop the forward pass once the chosen layer has run."""


@contextmanager
def _capture(model: nn.Module, layer: str) -> Iterator[list[torch.Tensor]]:
    """A forward hook that keeps `layer`'s output and stops the pass; removed on exit."""
    modules = dict(model.named_modules())
    if layer not in modules:
        raise ReceptiveFieldError(f"this network has no layer named {layer!r}")
    kept: list[torch.Tensor] = []

    def hook(_module, _inputs, output):
        kept.append(output)
        raise _Captured

    handle = modules[layer].register_forward_hook(hook)
    try:
        yield kept
    finally:
        handle.remove()


@contextmanager
def _eval_mode(model: nn.Module) -> Iterator[None]:
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)


def _layer_output(bundle: ModelBundle, layer: str, x: torch.Tensor) -> torch.Tensor:
    """The layer's output for x, with the graph back to x; call with the bundle's lock held."""
    with _capture(bundle.model, layer) as kept, _eval_mode(bundle.model), suppress(_Captured):
        bundle.model(x)
    if not kept or kept[0].dim() != 4:
        raise ReceptiveFieldError(f"{layer} has no feature map (it is after flatten or pooling)")
    return kept[0]


def capture_feature_map(bundle: ModelBundle, layer: str, image: Image.Image) -> np.ndarray:
    """Mean |activation| over channels of `layer` for the image: (h, w), to pick units on."""
    with bundle.lock, torch.no_grad():
        x = image_batch(image, bundle).to(next(bundle.model.parameters()).device)
        out = _layer_output(bundle, layer, x)
    return out[0].abs().mean(0).cpu().numpy()


def _mass_shares(grad: np.ndarray, centre: tuple[int, int]) -> tuple[tuple, tuple]:
    grad, (h, w) = grad.astype(np.float64), grad.shape  # float64: shares that never shrink
    cy, cx = min(max(centre[0], 0), h - 1), min(max(centre[1], 0), w - 1)
    reach = max(cy, h - 1 - cy, cx, w - 1 - cx)
    total = float(grad.sum()) or 1.0
    sides, shares = [], []
    for r in range(reach + 1):
        square = grad[max(cy - r, 0) : cy + r + 1, max(cx - r, 0) : cx + r + 1]
        sides.append(2 * r + 1)
        shares.append(float(square.sum()) / total)
    return tuple(sides), tuple(shares)


def compute_effective_field(
    bundle: ModelBundle, layer: str, inputs: torch.Tensor, unit: tuple[int, int] | None = None
) -> EffectiveField:
    """Average |gradient| of one unit (the centre one by default) over a batch of inputs.

    Holds `bundle.lock`; the model runs in eval mode (its mode is restored) and no parameter
    gradient is kept, so a shared model is left as it was.
    """
    device = next(bundle.model.parameters()).device
    x = inputs.detach().to(device).clone().requires_grad_(True)
    with bundle.lock:
        out = _layer_output(bundle, layer, x)  # (N, K, h, w)
        h, w = out.shape[2:]
        r, c = unit if unit is not None else (h // 2, w // 2)
        if not (0 <= r < h and 0 <= c < w):
            raise ReceptiveFieldError(f"unit ({r}, {c}) is outside {layer}'s {h}×{w} map")
        (grad,) = torch.autograd.grad(out[:, :, r, c].sum(), x)
    heat = grad.abs().sum(1).mean(0).cpu().numpy()  # (H, W)
    info = compute_receptive_fields(bundle.model, bundle.input_shape)[layer]
    top, bottom, left, right = info.box(r, c)
    sides, shares = _mass_shares(heat, ((top + bottom) // 2, (left + right) // 2))
    return EffectiveField(layer, (r, c), heat, sides, shares, info)


def compare_effective_fields(
    bundle: ModelBundle, layer: str, inputs: torch.Tensor, seed: int = 0
) -> tuple[EffectiveField, EffectiveField | None]:
    """The effective field with the bundle's weights, and with fresh ones when it is trained."""
    mine = compute_effective_field(bundle, layer, inputs)
    if not bundle.trained or bundle.spec is None:
        return mine, None
    fresh = untrained_bundle(bundle.spec, seed)
    return mine, compute_effective_field(fresh, layer, inputs, mine.unit)


def effective_field_csv(result: EffectiveField) -> str:
    """The averaged gradient map as CSV, one row of pixels per line."""
    return "\n".join(",".join(f"{v:.6g}" for v in row) for row in result.grad)
