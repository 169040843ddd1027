"""Following receptive fields through a torch.fx graph, one node at a time.

The recurrences are those of Araujo, Norris and Sim, "Computing Receptive Fields of
Convolutional Neural Networks" (Distill, 2019). For a layer with kernel k, stride s, padding p
and dilation d, after a field of size r, jump j and start u (centre of the first unit, in input
pixels):  r' = r + (k − 1)·d·j,  j' = j·s,  u' = u + ((k − 1)·d / 2 − p)·j.

The graph runs on meta tensors (shapes, no values) to learn every tensor's shape. Where paths
join (residual additions, inception concatenations) the joined field is the union of the
paths' fields, so the widest path decides, as the article does for branched networks.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F
from torch import fx, nn

from models.errors import CNNLabError

Axis = tuple[float, float, float]  # (size, jump, start) along one axis


class ReceptiveFieldError(CNNLabError):
    """A network whose receptive field cannot be followed, with a reason a user can read."""


@dataclass(frozen=True)
class Field:
    """A field along rows and columns; `whole` once it covers the whole input."""

    rows: Axis
    cols: Axis
    whole: bool = False


_POINT = Field((1, 1, 0.0), (1, 1, 0.0))
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


def _window(field: Field, k, s, p, d=1) -> Field:
    (k, s, d) = (_pair(k), _pair(s), _pair(d))
    p = _pair(p)
    return Field(
        *(_grow(a, k[i], s[i], p[i], d[i]) for i, a in enumerate((field.rows, field.cols)))
    )


def _conv_padding(conv: nn.Conv2d) -> tuple[int, int]:
    if conv.padding == "same":  # PyTorch puts the smaller half on the left/top
        return tuple(d * (k - 1) // 2 for k, d in zip(conv.kernel_size, conv.dilation, strict=True))  # type: ignore
    return (0, 0) if conv.padding == "valid" else _pair(conv.padding)


def _adaptive(field: Field, size_in: tuple[int, int], size_out: tuple[int, int]) -> Field:
    """Adaptive pooling as a plain window: exact when the sizes divide, else the widest window."""
    if size_out == (1, 1):
        return Field(field.rows, field.cols, whole=True)
    stride = [max(1, i // o) for i, o in zip(size_in, size_out, strict=True)]
    kernel = [i - (o - 1) * s for i, o, s in zip(size_in, size_out, stride, strict=True)]
    return _window(field, kernel, stride, 0)


def _union(fields: list[Field]) -> Field:
    """Join paths: the smallest window that holds every path's window for the same unit."""

    def join(axes: list[Axis]) -> Axis:
        lo = min(a[2] - (a[0] - 1) / 2 for a in axes)
        hi = max(a[2] + (a[0] - 1) / 2 for a in axes)
        return hi - lo + 1, max(a[1] for a in axes), (lo + hi) / 2

    return Field(join([f.rows for f in fields]), join([f.cols for f in fields]))


class FieldTracer(fx.Interpreter):
    """Runs the traced graph on zeros and carries a field alongside every tensor."""

    def __init__(self, graph_module: fx.GraphModule):
        super().__init__(graph_module)
        self.fields: dict[fx.Node, Field | None] = {}
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

    def _field(self, n: fx.Node, out) -> Field | None:
        inputs = self._inputs(n)
        if not inputs:
            return None
        if isinstance(out, torch.Tensor) and out.dim() != 4:
            return replace(self.fields[inputs[0]], whole=True)  # no spatial axes left
        grown = self._spatial_op(n, inputs[0], out) if isinstance(out, torch.Tensor) else None
        return grown if grown is not None else self._merge(n, inputs, out)

    def _spatial_op(self, n: fx.Node, first: fx.Node, out: torch.Tensor) -> Field | None:
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

    def _functional(self, n: fx.Node, field: Field, op) -> Field:
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

    def _merge(self, n: fx.Node, inputs: list[fx.Node], out) -> Field:
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
