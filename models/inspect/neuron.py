"""One neuron's number taken apart: what a layer read and how its weights made each output.

`capture_layer` runs the image once and keeps one layer's input and output (hooks only inside
`hooked`, under the model's lock, so nothing leaks into another session). From those, and the
layer's own weights, the functions here rebuild a conv channel (one product map per input map
it reads, respecting groups, stride, dilation and padding; their sum plus the bias) and what
follows it. Every result carries PyTorch's own value beside ours, so the page can show that
they agree. Activations, pooling, flatten, dense layers and softmax are in `neuron_layers.py`;
the collapse of a linear conv stack in `neuron_collapse.py`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from models.bundle import ModelBundle
from models.errors import CNNLabError
from models.inputs import guarded
from models.inspect.activations import ACTIVATION_TYPES, hooked

POOL_TYPES = (nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)
KINDS: dict[str, tuple[type, ...]] = {  # what the page can take apart, by the view it opens
    "conv": (nn.Conv2d,),
    "activation": ACTIVATION_TYPES,
    "pool": POOL_TYPES,
    "flatten": (nn.Flatten,),
    "linear": (nn.Linear,),
}


class NeuronError(CNNLabError):
    """A neuron that cannot be taken apart, with a reason a user can read."""


def layer_kind(module: nn.Module) -> str | None:
    """ "conv", "activation", "pool", "flatten" or "linear"; None for what the view skips."""
    for kind, types in KINDS.items():
        if isinstance(module, types):
            return kind
    return None


def inspectable_layers(model: nn.Module) -> list[tuple[str, str]]:
    """(name, kind) of every layer the view can take apart, in registration order."""
    found = []
    for name, module in model.named_modules():
        kind = layer_kind(module)
        if name and kind is not None:
            found.append((name, kind))
    return found


@dataclass(frozen=True)
class LayerCapture:
    """One layer's input and output for one image (batch dimension dropped), and the logits."""

    name: str
    kind: str
    inputs: torch.Tensor  # (C, H, W) or (N,)
    output: torch.Tensor  # (C', H', W') or (N',)
    logits: torch.Tensor  # (K,) the model's output


def capture_layer(bundle: ModelBundle, x: torch.Tensor, name: str) -> LayerCapture:
    """Run `x` (1, C, H, W) once, keeping the named layer's input and output (detached copies)."""
    module = dict(bundle.model.named_modules()).get(name)
    kind = layer_kind(module) if module is not None else None
    if kind is None:
        raise NeuronError(f"the model has no layer called {name!r} that this view can open")
    outputs: dict[str, torch.Tensor] = {}
    inputs: dict[str, torch.Tensor] = {}
    device = next((p.device for p in bundle.model.parameters()), torch.device("cpu"))
    try:
        with (
            guarded(bundle) as model,
            hooked(model, [name], outputs, inputs, [name]),
            torch.no_grad(),
        ):
            result = model(x.to(device))
    except RuntimeError as err:  # a shape mismatch inside the model's own forward
        raise NeuronError(f"the model could not run on this input: {err}") from None
    if name not in outputs or name not in inputs:
        raise NeuronError(f"layer {name!r} did not run when the image went through the model")
    first = {k: v[0].float().cpu() for k, v in (("i", inputs[name]), ("o", outputs[name]))}
    return LayerCapture(name, kind, first["i"], first["o"], result.reshape(-1).float().cpu())


def layer_module(model: nn.Module, name: str, types: tuple[type, ...]) -> nn.Module:
    module = dict(model.named_modules()).get(name)
    if not isinstance(module, types):
        raise NeuronError(f"layer {name!r} is not a {' or '.join(t.__name__ for t in types)}")
    return module


def check_index(channel: int, n: int, what: str = "channel") -> None:
    if not 0 <= channel < n:
        raise NeuronError(f"{what} {channel} does not exist: choose from 0 to {n - 1}")


def channel_means(maps: torch.Tensor) -> np.ndarray:
    """Each channel's mean activation; (C, H, W) -> (C,) (a vector counts as 1 channel each)."""
    flat = maps.reshape(maps.shape[0], -1) if maps.dim() > 1 else maps[:, None]
    return flat.mean(dim=1).numpy()


def top_channels(maps: torch.Tensor, k: int) -> np.ndarray:
    """The `k` channels with the highest mean activation, strongest first (stable on ties)."""
    return np.argsort(-channel_means(maps), kind="stable")[:k]


@dataclass(frozen=True)
class ConvNeuron:
    """One output channel of a conv: each input map it reads, its kernel slice, the products."""

    layer: str
    channel: int
    reads: np.ndarray  # (n,) the input channels this output channel reads (one group's)
    inputs: np.ndarray  # (n, H, W) those input maps
    padded: np.ndarray  # (n, H + top + bottom, W + left + right) as the conv saw them
    kernels: np.ndarray  # (n, kh, kw) the kernel slice for each input map
    products: np.ndarray  # (n, H', W') each input map correlated with its kernel slice
    bias: float
    pre: np.ndarray  # (H', W') sum of the product maps plus the bias
    real: np.ndarray  # (H', W') PyTorch's output for this channel
    stride: tuple[int, int]
    dilation: tuple[int, int]
    pad: tuple[int, int]  # rows added on top, columns on the left
    groups: int

    @property
    def max_error(self) -> float:
        """The largest |ours − PyTorch's| over the map."""
        return float(np.abs(self.pre - self.real).max())

    @property
    def contributions(self) -> np.ndarray:
        """Each input map's mean |product|: how much it moves this channel, on average."""
        return np.abs(self.products).reshape(len(self.products), -1).mean(axis=1)


def compute_conv_neuron(conv: nn.Conv2d, cap: LayerCapture, channel: int) -> ConvNeuron:
    """Take output `channel` of `conv` apart on the captured input (C, H, W)."""
    check_index(channel, conv.out_channels)
    per_in, per_out = conv.in_channels // conv.groups, conv.out_channels // conv.groups
    group = channel // per_out
    reads = torch.arange(group * per_in, (group + 1) * per_in)
    x = cap.inputs[reads][None]  # (1, n, H, W)
    left, right, top, bottom = conv._reversed_padding_repeated_twice
    mode = "constant" if conv.padding_mode == "zeros" else conv.padding_mode
    padded = F.pad(x, (left, right, top, bottom), mode=mode)
    w = conv.weight.detach()[channel].float().cpu()  # (n, kh, kw)
    products = F.conv2d(
        padded, w[:, None], stride=conv.stride, dilation=conv.dilation, groups=per_in
    )
    bias = float(conv.bias.detach()[channel]) if conv.bias is not None else 0.0
    products = products[0]  # (n, H', W')
    return ConvNeuron(
        cap.name,
        channel,
        reads.numpy(),
        x[0].numpy(),
        padded[0].numpy(),
        w.numpy(),
        products.numpy(),
        bias,
        (products.sum(dim=0) + bias).numpy(),
        cap.output[channel].numpy(),
        tuple(conv.stride),
        tuple(conv.dilation),
        (top, left),
        conv.groups,
    )


@dataclass(frozen=True)
class UnitWindow:
    """One output unit of a conv channel: the taps it reads and its dot product, in numbers."""

    row: int
    col: int
    rows: np.ndarray  # (kh,) input-map row of each tap (< 0 or ≥ H: padding)
    cols: np.ndarray  # (kw,)
    values: np.ndarray  # (n, kh, kw) what the kernel met there (padding included)
    per_map: np.ndarray  # (n,) Σ kernel · values for each input map
    bias: float
    total: float  # Σ per_map + bias
    real: float  # PyTorch's value


def unit_window(neuron: ConvNeuron, row: int, col: int) -> UnitWindow:
    """The window of output unit (row, col) in every input map, and the dot product."""
    h, w = neuron.real.shape
    check_index(row, h, "row")
    check_index(col, w, "column")
    kh, kw = neuron.kernels.shape[1:]
    (sr, sc), (dr, dc) = neuron.stride, neuron.dilation
    prow, pcol = row * sr + dr * np.arange(kh), col * sc + dc * np.arange(kw)  # padded coords
    values = neuron.padded[:, prow][:, :, pcol]
    per_map = (values * neuron.kernels).reshape(len(values), -1).sum(axis=1)
    top, left = neuron.pad
    return UnitWindow(
        row,
        col,
        prow - top,
        pcol - left,
        values,
        per_map,
        neuron.bias,
        float(per_map.sum() + neuron.bias),
        float(neuron.real[row, col]),
    )


def following_steps(model: nn.Module, name: str) -> list[tuple[str, nn.Module]]:
    """The batch norms and the activation registered right after layer `name` in its parent.

    Empty when the next layer is anything else (a residual add, another conv): then the
    channel's pre-activation map is what flows on.
    """
    parent_name, _, _ = name.rpartition(".")
    parent = dict(model.named_modules())[parent_name]
    children = list(parent.named_children())
    prefix = f"{parent_name}." if parent_name else ""
    index = [prefix + n for n, _ in children].index(name)
    steps = []
    for child_name, child in children[index + 1 :]:
        if isinstance(child, nn.BatchNorm2d):
            steps.append((prefix + child_name, child))
        elif isinstance(child, ACTIVATION_TYPES):
            return steps + [(prefix + child_name, child)]
        else:
            break
    return []


def apply_steps(
    steps: list[tuple[str, nn.Module]], pre: np.ndarray, channel: int
) -> list[tuple[str, np.ndarray]]:
    """Each step applied in turn to one channel's map (batch norm with its running statistics)."""
    x = torch.from_numpy(pre.copy())
    shown = []
    for name, module in steps:
        if isinstance(module, nn.BatchNorm2d):
            mean, var = module.running_mean[channel], module.running_var[channel]
            gamma = module.weight[channel] if module.weight is not None else 1.0
            beta = module.bias[channel] if module.bias is not None else 0.0
            x = (x - mean) / torch.sqrt(var + module.eps) * gamma + beta
        else:
            with torch.no_grad():
                x = module(x.clone())  # activations act on each number alone
        shown.append((name, x.detach().float().numpy()))
    return shown


def conv_module(model: nn.Module, name: str) -> nn.Conv2d:
    """The named Conv2d (a readable error otherwise)."""
    return layer_module(model, name, (nn.Conv2d,))
