"""A stack of convs with its non-linearities removed is one conv: the composed kernel.

`linear_chain` finds the convs of an unbroken run of convs and activations; `compose_convs`
multiplies them into one kernel, bias, stride and padding; `collapse_stack` runs the stack
itself (activations removed, and kept) beside the one composed conv, for one channel.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from models.bundle import ModelBundle
from models.inspect.activations import ACTIVATION_TYPES, model_lock
from models.inspect.neuron import NeuronError, check_index


def linear_chain(model: nn.Module, name: str) -> list[str]:
    """The convs, in order, of the unbroken run of convs and activations that ends at `name`.

    The run lives in one `nn.Sequential` (whose order is the order things run); it ends at the
    conv `name`, or at the last conv before the activation `name`. Empty if there is none.
    """
    parent_name, _, _ = name.rpartition(".")
    parent = dict(model.named_modules())[parent_name]
    if not isinstance(parent, nn.Sequential):
        return []
    prefix = f"{parent_name}." if parent_name else ""
    children = [(prefix + n, m) for n, m in parent.named_children()]
    end = [n for n, _ in children].index(name)
    chain = []
    for child_name, child in reversed(children[: end + 1]):
        if isinstance(child, nn.Conv2d):
            chain.append(child_name)
        elif not isinstance(child, ACTIVATION_TYPES):
            break
    return chain[::-1]


def _dense_weight(conv: nn.Conv2d) -> torch.Tensor:
    """The conv's weight with its groups spelled out: (C_out, C_in, kh, kw), zeros between."""
    w = conv.weight.detach().cpu().double()
    if conv.groups == 1:
        return w
    per_in, per_out = conv.in_channels // conv.groups, conv.out_channels // conv.groups
    dense = torch.zeros(conv.out_channels, conv.in_channels, *w.shape[2:], dtype=w.dtype)
    for g in range(conv.groups):
        dense[g * per_out : (g + 1) * per_out, g * per_in : (g + 1) * per_in] = w[
            g * per_out : (g + 1) * per_out
        ]
    return dense


@dataclass(frozen=True)
class ComposedConv:
    """One conv equivalent to a stack of convs with nothing between them."""

    weight: torch.Tensor  # (C_out, C_in, K, K') float64
    bias: torch.Tensor  # (C_out,)
    stride: tuple[int, int]
    padding: tuple[int, int]


def compose_convs(convs: list[nn.Conv2d]) -> ComposedConv:
    """The composed kernel of convs applied one after another (no activation between).

    Two convs A then B make one conv whose kernel is the full convolution of B's kernel with
    A's (`conv_transpose2d` with stride s_A·d_B and dilation d_A), bias b_B + Σ W_B · b_A,
    stride s_A·s_B and padding p_A + s_A·p_B.
    """
    if not convs:
        raise NeuronError("there is no conv to collapse")
    for conv in convs:
        if conv.padding_mode != "zeros" or isinstance(conv.padding, str):
            raise NeuronError("only convs with numeric zero padding can be collapsed here")
    first = convs[0]
    w = _dense_weight(first)
    b = _bias(first)
    stride, dil, pad = first.stride, first.dilation, first.padding
    for conv in convs[1:]:
        wb = _dense_weight(conv)
        w = F.conv_transpose2d(
            wb,
            w,
            stride=(stride[0] * conv.dilation[0], stride[1] * conv.dilation[1]),
            dilation=dil,
        )
        b = _bias(conv) + wb.sum(dim=(2, 3)) @ b
        pad = (pad[0] + stride[0] * conv.padding[0], pad[1] + stride[1] * conv.padding[1])
        stride, dil = (stride[0] * conv.stride[0], stride[1] * conv.stride[1]), (1, 1)
    return ComposedConv(w, b, tuple(stride), tuple(pad))


def _bias(conv: nn.Conv2d) -> torch.Tensor:
    if conv.bias is None:
        return torch.zeros(conv.out_channels, dtype=torch.float64)
    return conv.bias.detach().cpu().double()


@dataclass(frozen=True)
class Collapsed:
    """A linear conv stack next to its one composed conv, for one output channel."""

    layers: tuple[str, ...]  # the convs collapsed
    channel: int
    kernel: np.ndarray  # (C_in, K, K') the composed kernel of this channel
    bias: float
    stack: np.ndarray  # (H', W') the convs run one after another, activations removed
    collapsed: np.ndarray  # (H', W') the one composed conv
    with_activations: np.ndarray  # (H', W') the real network (activations kept)
    interior: np.ndarray  # (H', W') bool: units whose window never touches padding
    max_error: float  # over the interior


def collapse_stack(
    bundle_or_model: ModelBundle | nn.Module, chain: list[str], x: torch.Tensor, channel: int
) -> Collapsed:
    """Run the chain's convs on `x` (C, H, W) without activations, and as one composed conv.

    The real stack (activations kept) runs the model's own modules, under the model's lock.
    """
    model, lock = model_lock(bundle_or_model)
    modules = dict(model.named_modules())
    convs = [modules[n] for n in chain]
    check_index(channel, convs[-1].out_channels)
    composed = compose_convs(convs)
    with torch.no_grad():
        stack, real = x[None].double(), x[None].float()
        for conv in convs:
            stack = F.conv2d(
                stack,
                conv.weight.double(),
                _bias(conv),
                conv.stride,
                conv.padding,
                conv.dilation,
                conv.groups,
            )
        with lock:
            real = _run_with_activations(model, chain, real)
        one = F.conv2d(
            F.pad(x[None].double(), _lrtb(composed.padding)),
            composed.weight,
            composed.bias,
            composed.stride,
        )
    h, w = min(stack.shape[2], one.shape[2]), min(stack.shape[3], one.shape[3])
    stack, one = stack[0, channel, :h, :w].numpy(), one[0, channel, :h, :w].numpy()
    interior = _interior(x.shape[1:], composed, (h, w))
    error = float(np.abs(stack - one)[interior].max()) if interior.any() else 0.0
    return Collapsed(
        tuple(chain),
        channel,
        composed.weight[channel].numpy(),
        float(composed.bias[channel]),
        stack,
        one,
        real[0, channel, :h, :w].numpy(),
        interior,
        error,
    )


def _lrtb(padding: tuple[int, int]) -> tuple[int, int, int, int]:
    return (padding[1], padding[1], padding[0], padding[0])


def _run_with_activations(model: nn.Module, chain: list[str], x: torch.Tensor) -> torch.Tensor:
    """The real stack: every module from the chain's first conv to its last, in order."""
    parent_name, _, _ = chain[0].rpartition(".")
    prefix = f"{parent_name}." if parent_name else ""
    children = [
        (prefix + n, m) for n, m in dict(model.named_modules())[parent_name].named_children()
    ]
    names = [n for n, _ in children]
    for _, module in children[names.index(chain[0]) : names.index(chain[-1]) + 1]:
        x = module(x.clone())
    return x.double()


def _interior(size, composed: ComposedConv, out: tuple[int, int]) -> np.ndarray:
    """Units whose composed window lies inside the input (exact whatever the padding)."""
    k, s, p = composed.weight.shape[2:], composed.stride, composed.padding
    masks = []
    for axis in (0, 1):
        start = np.arange(out[axis]) * s[axis] - p[axis]
        masks.append((start >= 0) & (start + k[axis] <= size[axis]))
    return masks[0][:, None] & masks[1][None, :]
