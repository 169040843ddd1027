"""The model as the attribution methods see it: fed [0, 1] pixels, under its lock, copied with
fresh ReLUs where a method rewrites their gradients, and read at a conv layer's rectified maps.
"""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from models.bundle import ModelBundle
from models.inputs import PixelModel, pixel_model
from models.inspect.activations import ACTIVATION_TYPES
from models.network import blocks


class PlainReLU(nn.Module):
    """max(0, x) without being an `nn.ReLU`: Captum's ReLU rules leave it alone."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(x)


def _replace(root: nn.Module, pick: Callable[[str, nn.Module], nn.Module | None]) -> None:
    for parent_name, parent in list(root.named_modules(remove_duplicate=False)):
        for name, child in list(parent.named_children()):
            new = pick(f"{parent_name}.{name}".lstrip("."), child)
            if new is not None:
                setattr(parent, name, new)


def reused_modules(net: nn.Module, x: torch.Tensor) -> list[str]:
    """Names of the ReLU modules that run more than once in one forward pass of `net`."""
    calls: dict[str, int] = {}
    handles = [
        m.register_forward_hook(lambda *_, n=n: calls.__setitem__(n, calls.get(n, 0) + 1))
        for n, m in net.named_modules()
        if isinstance(m, nn.ReLU)
    ]
    try:
        with torch.no_grad():
            net(x)
    finally:
        for handle in handles:
            handle.remove()
    return sorted(name for name, count in calls.items() if count > 1)


def relu_copy(bundle: ModelBundle, x: torch.Tensor) -> PixelModel:
    """A private pixel model with a fresh, non-inplace `nn.ReLU` per use.

    DeepLift and guided backprop keep state per ReLU module and rewrite its gradient, so one
    module used twice in a forward (torchvision's ResNet blocks; the MLP that CBAM runs on two
    pooled vectors) would mix two calls. Such a module becomes a `PlainReLU`, which those
    rules treat as an ordinary function.
    """
    net = copy.deepcopy(bundle.model).eval()
    _replace(net, lambda _n, m: nn.ReLU(inplace=False) if isinstance(m, nn.ReLU) else None)
    shared = set(reused_modules(pixel_model(bundle, net), x))
    _replace(net, lambda n, m: PlainReLU() if f"net.{n}" in shared else None)
    for p in net.parameters():
        p.requires_grad_(False)  # the copy only passes gradients on to the pixels
    return pixel_model(bundle, net)


def conv_layers(model: nn.Module) -> list[str]:
    """The names of the model's 2-D convolutions over features, input side first.

    CBAM's own 2→1 conv over pooled statistics is left out: it makes a gate, not features.
    """
    gates = tuple(f"{n}." for n, m in model.named_modules() if isinstance(m, blocks.CBAM))
    return [
        n for n, m in model.named_modules() if isinstance(m, nn.Conv2d) and not n.startswith(gates)
    ]


PASS_THROUGH = (nn.BatchNorm2d, nn.Dropout, nn.Dropout2d, nn.Identity)  # keep a conv's maps
RECTIFIERS = (*ACTIVATION_TYPES, PlainReLU)


def _trace(net: nn.Module, x: torch.Tensor) -> list[tuple[str, tuple, Any]]:
    """(name, inputs, output) of every module call of one forward pass, in the order they end."""
    calls: list[tuple[str, tuple, Any]] = []
    handles = [
        m.register_forward_hook(lambda _m, i, o, n=n: calls.append((n, i, o)))
        for n, m in net.named_modules()
        if n
    ]
    try:
        with torch.no_grad():
            net(x)
    finally:
        for handle in handles:
            handle.remove()
    return calls  # holds every tensor, so `is` below compares live objects


def rectified_layer(net: nn.Module, conv: str, x: torch.Tensor) -> tuple[str, bool]:
    """Where `conv`'s maps are read after their activation: (module name, read at its input).

    Selvaraju et al. (2017) read a layer's rectified maps, so Grad-CAM here does too. From the
    conv, the output is followed through batchnorm and dropout to the activation that takes it,
    and read at that activation's output. An activation module used more than once in a pass
    (torchvision's ResNet blocks) is read instead at the output of the innermost block that
    returns its result, or at the input of the module that consumes it. Where no activation
    takes the maps alone (a residual sum comes first), the innermost block around the conv is
    read; a conv followed by no activation is read as it is.
    """
    modules = dict(net.named_modules())
    calls = _trace(net, x)
    counts = Counter(name for name, _, _ in calls)
    at = next((i for i, (name, _, _) in enumerate(calls) if name == conv), None)
    if at is None:
        return conv, False
    maps = calls[at][2]
    for i in range(at + 1, len(calls)):
        name, inputs, out = calls[i]
        if not inputs or inputs[0] is not maps:
            continue
        if isinstance(modules[name], PASS_THROUGH):
            maps = out
        elif isinstance(modules[name], RECTIFIERS):
            if counts[name] == 1:
                return name, False
            for later, later_in, later_out in calls[i + 1 :]:
                if counts[later] == 1 and (later_out is out or (later_in and later_in[0] is out)):
                    return later, later_out is not out
            return conv, False
        else:
            break
    around = [n for n in modules if n and conv.startswith(f"{n}.") and counts[n] == 1]
    return max(around, key=len, default=conv), False
