"""Attention blocks read out: the weights that squeeze-and-excitation and CBAM give each channel
and each place, captured from their sigmoid gates, with Grad-CAM for the same class beside them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from models import blocks
from models.errors import CNNLabError
from models.activations import hooked, normalize
from models.attribution import (
    ATTRIBUTION_METHODS,
    default_layer,
    guarded,
    predict,
    prepare_pixels,
)
from models.bundle import ModelBundle

GATES = {  # (block type, gate attribute) -> what the gate weighs
    (blocks.SqueezeExcite, "gate"): "channel",
    (blocks.CBAM, "channel_gate"): "channel",
    (blocks.CBAM, "spatial_gate"): "spatial",
}


class AttentionError(CNNLabError):
    """A network without attention blocks, or another reason a user can read."""


@dataclass(frozen=True)
class AttentionResult:
    """One image's attention: channel weights and spatial maps per gate, and Grad-CAM."""

    image: np.ndarray  # (H, W, C) in [0, 1], as the model sees it
    probabilities: np.ndarray  # (K,)
    target: int
    channel: tuple[tuple[str, np.ndarray], ...]  # (gate name, (C,) weights in [0, 1])
    spatial: tuple[tuple[str, np.ndarray], ...]  # (gate name, (H, W) map at the image's size)
    gradcam: np.ndarray  # (H, W), for `target`
    gradcam_layer: str


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


def compute_attention(bundle: ModelBundle, image: Image.Image,
                      target: int | None = None) -> AttentionResult:  # fmt: skip
    """Run the image once with the gates recorded; Grad-CAM for `target` (default: prediction)."""
    gates = attention_gates(bundle.model)
    if not gates:
        raise AttentionError("this network has no squeeze-and-excitation or CBAM block")
    x = prepare_pixels(image, bundle)  # (1, C, H, W) in [0, 1]
    pixels = x[0].permute(1, 2, 0).numpy()
    outputs: dict[str, torch.Tensor] = {}
    with guarded(bundle) as model, hooked(model, list(gates), outputs), torch.no_grad():
        model(normalize(pixels, bundle))  # eval mode: batchnorm before a gate uses its averages
    probs = predict(bundle, x)[0]
    target = int(probs.argmax()) if target is None else target
    size = tuple(x.shape[2:])
    channel = tuple((n, outputs[n][0].numpy()) for n, k in gates.items()
                    if k == "channel")  # fmt: skip
    spatial = tuple((n, _spatial(outputs[n], size)) for n, k in gates.items()
                    if k == "spatial")  # fmt: skip
    layer = default_layer(bundle.model)
    cam = ATTRIBUTION_METHODS["Grad-CAM"].attribute(bundle, x, target, layer=layer)
    return AttentionResult(pixels, probs, target, channel, spatial, cam[0, 0].numpy(), layer)
