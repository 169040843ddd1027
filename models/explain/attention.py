"""Attention blocks read out: the weights that squeeze-and-excitation (Hu et al., 2018) and CBAM
(Woo et al., 2018) give each channel and each place, captured from their sigmoid gates, with
Grad-CAM (Selvaraju et al., 2017) for the same class beside them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from models.bundle import ModelBundle
from models.errors import CNNLabError
from models.explain.attribution import ATTRIBUTION_METHODS, default_layer
from models.explain.layers import rectified_layer
from models.inputs import bundle_pixels, guarded, normalize_pixels
from models.inspect.activations import hooked
from models.network import blocks

GATES = {  # (block type, gate attribute) -> what the gate weighs
    (blocks.SqueezeExcite, "gate"): "channel",
    (blocks.CBAM, "channel_gate"): "channel",
    (blocks.CBAM, "spatial_gate"): "spatial",
}


class AttentionError(CNNLabError):
    """A network without attention blocks, or another reason a user can read."""


@dataclass(frozen=True)
class AttentionGates:
    """What the gates chose for one image, and where Grad-CAM reads: nothing about a class."""

    image: np.ndarray  # (H, W, C) in [0, 1], as the model sees it
    probabilities: np.ndarray  # (K,)
    channel: tuple[tuple[str, np.ndarray], ...]  # (gate name, (C,) weights in [0, 1])
    spatial: tuple[tuple[str, np.ndarray], ...]  # (gate name, (H, W) map at the image's size)
    gradcam_layer: str  # the conv whose maps Grad-CAM reads
    gradcam_maps: str  # where they are read, after the activation: a module's output


@dataclass(frozen=True)
class AttentionResult:
    """One image's attention: channel weights and spatial maps per gate, and Grad-CAM."""

    image: np.ndarray  # (H, W, C) in [0, 1], as the model sees it
    probabilities: np.ndarray  # (K,)
    target: int
    channel: tuple[tuple[str, np.ndarray], ...]  # (gate name, (C,) weights in [0, 1])
    spatial: tuple[tuple[str, np.ndarray], ...]  # (gate name, (H, W) map at the image's size)
    gradcam: np.ndarray  # (H, W), for `target`
    gradcam_layer: str  # the conv whose maps Grad-CAM reads
    gradcam_maps: str  # where they are read, after the activation: a module's output


def attention_gates(model: nn.Module) -> dict[str, str]:
    """Gate name (`se1.gate`, `cbam1.spatial_gate`) -> "channel" or "spatial", in model order."""
    found = {}
    for name, module in model.named_modules():
        for (kind, attribute), what in GATES.items():
            if isinstance(module, kind):
                found[f"{name}.{attribute}"] = what
    return found


def has_attention(model: nn.Module) -> bool:
    return bool(attention_gates(model))


def _spatial(gate_out: torch.Tensor, size: tuple[int, int]) -> np.ndarray:
    up = F.interpolate(gate_out[:1].float(), size=size, mode="bilinear", align_corners=False)
    return up[0, 0].numpy()  # (H, W)


def read_gates(bundle: ModelBundle, image: Image.Image) -> AttentionGates:
    """Run the image once with the gates recorded, and find where Grad-CAM reads its maps."""
    gates = attention_gates(bundle.model)
    if not gates:
        raise AttentionError("this network has no squeeze-and-excitation or CBAM block")
    x = bundle_pixels(bundle, image)  # (1, C, H, W) in [0, 1]: the pixels every page uses
    outputs: dict[str, torch.Tensor] = {}
    inputs = normalize_pixels(x, bundle.mean, bundle.std)
    with guarded(bundle) as model:
        with hooked(model, list(gates), outputs), torch.no_grad():
            logits = model(inputs)  # eval mode: batchnorm before a gate uses its averages
        layer = default_layer(model)
        maps, of_input = rectified_layer(model, layer, inputs)
    size = tuple(x.shape[2:])
    channel = tuple((n, outputs[n][0].numpy()) for n, k in gates.items() if k == "channel")
    spatial = tuple((n, _spatial(outputs[n], size)) for n, k in gates.items() if k == "spatial")
    where = f"the input of {maps}" if of_input else maps
    pixels = x[0].permute(1, 2, 0).numpy()
    probs = torch.softmax(logits, dim=1)[0].numpy()
    return AttentionGates(pixels, probs, channel, spatial, layer, where)


def gradcam_for(bundle: ModelBundle, gates: AttentionGates, target: int) -> np.ndarray:
    """Grad-CAM (H, W) for `target`, at the layer `read_gates` found, on the same pixels."""
    x = torch.from_numpy(gates.image).permute(2, 0, 1)[None].contiguous()  # (1, C, H, W)
    cam = ATTRIBUTION_METHODS["Grad-CAM"].attribute(bundle, x, target, layer=gates.gradcam_layer)
    return cam[0, 0].numpy()


def compute_attention(
    bundle: ModelBundle, image: Image.Image, target: int | None = None
) -> AttentionResult:
    """The gates and Grad-CAM for `target` (default: the prediction), in one result."""
    gates = read_gates(bundle, image)
    target = int(gates.probabilities.argmax()) if target is None else target
    return AttentionResult(
        gates.image,
        gates.probabilities,
        target,
        gates.channel,
        gates.spatial,
        gradcam_for(bundle, gates, target),
        gates.gradcam_layer,
        gates.gradcam_maps,
    )


def channel_weights_csv(channel: tuple[tuple[str, np.ndarray], ...]) -> str:
    """The channel weights as CSV rows `gate,channel,weight`."""
    return "\n".join(f"{n},{i},{w:.6f}" for n, ws in channel for i, w in enumerate(ws))
