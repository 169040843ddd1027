"""The effective receptive field (Luo et al., NeurIPS 2016): the pixels that really move a unit.

Inside its theoretical field, a unit depends on each input pixel by the gradient of the unit
with respect to that pixel; averaged in absolute value over several images, it is usually a
blob near the centre. The layer's output is read by a forward hook that lives only inside a
context manager, with the bundle's lock held.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image
from torch import nn

from models.bundle import ModelBundle, untrained_bundle
from models.inputs import bundle_input, guarded
from models.inspect.receptive_field import ReceptiveFieldError, RFInfo, compute_receptive_fields


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
        crop = bundle_input(bundle, image.crop((x0, y0, x0 + cw, y0 + ch)))
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


def _layer_output(bundle: ModelBundle, layer: str, x: torch.Tensor) -> torch.Tensor:
    """The layer's output for x, with the graph back to x; call inside `guarded(bundle)`."""
    with _capture(bundle.model, layer) as kept, suppress(_Captured):
        bundle.model(x)
    if not kept or kept[0].dim() != 4:
        raise ReceptiveFieldError(f"{layer} has no feature map (it is after flatten or pooling)")
    return kept[0]


def capture_feature_map(bundle: ModelBundle, layer: str, image: Image.Image) -> np.ndarray:
    """Mean |activation| over channels of `layer` for the image: (h, w), to pick units on."""
    with guarded(bundle), torch.no_grad():
        x = bundle_input(bundle, image).to(next(bundle.model.parameters()).device)
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
    with guarded(bundle):
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
