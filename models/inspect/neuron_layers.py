"""The other layers taken apart: an activation's before and after, a pooling unit's window,
flatten's index rule, a dense unit's weighted sum, and softmax with a temperature.

Each result carries PyTorch's own value beside the one rebuilt here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from models.inspect.neuron import (
    POOL_TYPES,
    LayerCapture,
    NeuronError,
    check_index,
    layer_module,
)


@dataclass(frozen=True)
class ActivationNeuron:
    """One channel before and after an activation, and its share of zeros."""

    layer: str
    channel: int
    before: np.ndarray  # (H, W); a vector's units make one row
    after: np.ndarray
    zero_share: float  # of this channel's outputs
    layer_zero_share: float  # of the whole layer's


def compute_activation_neuron(cap: LayerCapture, channel: int) -> ActivationNeuron:
    """One channel of an activation layer from its captured input and output."""
    before, after = cap.inputs, cap.output
    if before.dim() == 1:  # after a dense layer: the whole vector is one row
        before, after = before[None, None], after[None, None]
    check_index(channel, before.shape[0])
    b, a = before[channel], after[channel]
    b, a = (b, a) if b.dim() == 2 else (b.reshape(1, -1), a.reshape(1, -1))
    return ActivationNeuron(
        cap.name,
        channel,
        b.numpy(),
        a.numpy(),
        float((a == 0).float().mean()),
        float((after == 0).float().mean()),
    )


def _pair(v) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else (int(v[0]), int(v[1]))


@dataclass(frozen=True)
class PoolUnit:
    """One output unit of a pooling layer: its window, the winner or the average, PyTorch's."""

    layer: str
    channel: int
    row: int
    col: int
    kind: str  # "max" or "average"
    source: np.ndarray  # (H, W) the input map
    output: np.ndarray  # (H', W') the output map
    rows: np.ndarray  # the window's rows inside the map
    cols: np.ndarray
    winner: tuple[int, int] | None  # (row, col) of the max; None for an average
    divisor: int  # what the average divides by (1 for max)
    value: float  # ours
    real: float  # PyTorch's


def _window(pool: nn.Module, i: int, j: int, size: tuple[int, int], out: tuple[int, int]):
    """Rows and columns of output unit (i, j)'s window, and the average's divisor."""
    (h, w), (ho, wo) = size, out
    if isinstance(pool, nn.AdaptiveAvgPool2d | nn.AdaptiveMaxPool2d):
        r0, r1 = (i * h) // ho, -((-(i + 1) * h) // ho)
        c0, c1 = (j * w) // wo, -((-(j + 1) * w) // wo)
        return np.arange(r0, r1), np.arange(c0, c1), (r1 - r0) * (c1 - c0)
    (kh, kw), (sh, sw), (ph, pw) = (
        _pair(pool.kernel_size),
        _pair(pool.stride),
        _pair(pool.padding),
    )
    if isinstance(pool, nn.MaxPool2d):
        dh, dw = _pair(pool.dilation)
        rows, cols = i * sh - ph + dh * np.arange(kh), j * sw - pw + dw * np.arange(kw)
        return rows[(rows >= 0) & (rows < h)], cols[(cols >= 0) & (cols < w)], 1
    r0, c0 = i * sh - ph, j * sw - pw  # average: PyTorch's divisor rule
    r1, c1 = min(r0 + kh, h + ph), min(c0 + kw, w + pw)
    padded_count = (r1 - r0) * (c1 - c0)
    rows, cols = np.arange(max(r0, 0), min(r1, h)), np.arange(max(c0, 0), min(c1, w))
    divisor = padded_count if pool.count_include_pad else len(rows) * len(cols)
    return rows, cols, pool.divisor_override or divisor


def compute_pool_unit(pool: nn.Module, cap: LayerCapture, channel: int, row: int, col: int):
    """The window of one pooling output unit and the value it keeps."""
    check_index(channel, cap.output.shape[0])
    source, output = cap.inputs[channel].numpy(), cap.output[channel].numpy()
    check_index(row, output.shape[0], "row")
    check_index(col, output.shape[1], "column")
    rows, cols, divisor = _window(pool, row, col, source.shape, output.shape)
    window = source[np.ix_(rows, cols)]
    is_max = isinstance(pool, nn.MaxPool2d | nn.AdaptiveMaxPool2d)
    if is_max:
        r, c = np.unravel_index(int(np.argmax(window)), window.shape)
        winner, value, divisor = (int(rows[r]), int(cols[c])), float(window.max()), 1
    else:
        winner, value = None, float(window.sum() / divisor)
    kind = "max" if is_max else "average"
    real = float(output[row, col])
    return PoolUnit(
        cap.name,
        channel,
        row,
        col,
        kind,
        source,
        output,
        rows,
        cols,
        winner,
        int(divisor),
        value,
        real,
    )


def pool_module(model: nn.Module, name: str) -> nn.Module:
    """The named pooling layer (a readable error otherwise)."""
    return layer_module(model, name, POOL_TYPES)


TOP_CONTRIBUTORS = 10


def flatten_index(shape: tuple[int, int, int], channel: int, row: int, col: int) -> int:
    """Where element (channel, row, col) of a (C, H, W) block lands: c·H·W + r·W + col."""
    c, h, w = shape
    for value, n, what in ((channel, c, "channel"), (row, h, "row"), (col, w, "column")):
        check_index(value, n, what)
    return channel * h * w + row * w + col


def next_linear(model: nn.Module, name: str) -> str | None:
    """The dense layer registered after `name` in the same parent (dropouts skipped), if any."""
    parent_name, _, _ = name.rpartition(".")
    parent = dict(model.named_modules())[parent_name]
    prefix = f"{parent_name}." if parent_name else ""
    names = [prefix + n for n, _ in parent.named_children()]
    for child_name, child in list(parent.named_children())[names.index(name) + 1 :]:
        if isinstance(child, nn.Linear):
            return prefix + child_name
        if not isinstance(child, nn.Dropout):
            return None
    return None


@dataclass(frozen=True)
class FlattenElement:
    """One element of a flattened block: where it lands and what its weights do to the logits."""

    shape: tuple[int, int, int]
    channel: int
    row: int
    col: int
    index: int
    value: float  # the element's value
    flat_value: float  # PyTorch's flattened vector at `index` (equal to `value`)
    linear: str | None  # the dense layer that reads the vector
    weights: np.ndarray | None  # (K,) its weights from this element into each output
    contributions: np.ndarray | None  # (K,) weight × value


def compute_flatten_element(
    model: nn.Module, cap: LayerCapture, channel: int, row: int, col: int
) -> FlattenElement:
    """Follow element (channel, row, col) through the flatten and into the next dense layer."""
    if cap.inputs.dim() != 3:
        raise NeuronError(f"{cap.name} flattens a {cap.inputs.dim()}-d input, not maps")
    shape = tuple(cap.inputs.shape)
    index = flatten_index(shape, channel, row, col)
    value = float(cap.inputs[channel, row, col])
    linear_name = next_linear(model, cap.name)
    weights = contributions = None
    if linear_name is not None:
        weights = dict(model.named_modules())[linear_name].weight.detach()[:, index].cpu().numpy()
        contributions = weights * value
    flat = float(cap.output.reshape(-1)[index])
    return FlattenElement(
        shape, channel, row, col, index, value, flat, linear_name, weights, contributions
    )


@dataclass(frozen=True)
class LinearNeuron:
    """One unit of a dense layer: Σ weight · input + bias, its biggest terms first."""

    layer: str
    unit: int
    inputs: np.ndarray  # (n,)
    weights: np.ndarray  # (n,)
    contributions: np.ndarray  # (n,) weight · input
    top: np.ndarray  # indices of the largest |contributions|, biggest first
    bias: float
    total: float  # ours
    real: float  # PyTorch's
    outputs: np.ndarray  # (K,) the whole layer's output
    is_output: bool  # the layer's output is the model's output (its logits)


def compute_linear_neuron(linear: nn.Linear, cap: LayerCapture, unit: int) -> LinearNeuron:
    """Unit `unit` of a dense layer as the sum of its weighted inputs plus its bias."""
    check_index(unit, linear.out_features, "output")
    x = cap.inputs.reshape(-1).double()
    w = linear.weight.detach()[unit].cpu().double()
    bias = float(linear.bias.detach()[unit]) if linear.bias is not None else 0.0
    contributions = (w * x).numpy()
    top = np.argsort(-np.abs(contributions), kind="stable")[:TOP_CONTRIBUTORS]
    out = cap.output.reshape(-1)
    is_output = out.shape == cap.logits.shape and bool(torch.equal(out, cap.logits))
    return LinearNeuron(
        cap.name,
        unit,
        x.numpy(),
        w.numpy(),
        contributions,
        top,
        bias,
        float(contributions.sum() + bias),
        float(out[unit]),
        out.numpy(),
        is_output,
    )


def linear_module(model: nn.Module, name: str) -> nn.Linear:
    """The named dense layer (a readable error otherwise)."""
    return layer_module(model, name, (nn.Linear,))


@dataclass(frozen=True)
class Softmax:
    """softmax(z / T) written out: exp of each shifted logit over their sum."""

    logits: np.ndarray
    temperature: float
    exps: np.ndarray  # exp(z/T − max z/T): the shift cancels in the ratio and avoids overflow
    total: float
    probs: np.ndarray
    shift: float  # max z/T


def compute_softmax(logits: np.ndarray, temperature: float = 1.0) -> Softmax:
    """Probabilities from logits at a temperature, each step kept for the page."""
    z = np.asarray(logits, dtype=np.float64)
    if not np.isfinite(temperature) or temperature <= 0:
        raise NeuronError("the temperature must be a number above 0")
    if z.size == 0 or not np.all(np.isfinite(z)):
        raise NeuronError("every logit must be a finite number")
    scaled = z / temperature
    shift = float(scaled.max())
    exps = np.exp(scaled - shift)
    total = float(exps.sum())
    return Softmax(z, float(temperature), exps, total, exps / total, shift)
