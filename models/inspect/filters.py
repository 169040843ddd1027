"""What a channel responds to: its kernels, the data-set images that excite it, and the input
that excites it most, synthesized by gradient ascent (Olah, Mordvintsev and Schubert, "Feature
Visualization", Distill 2017).

Gradients are taken with `torch.autograd.grad` with respect to the input only, so nothing is
written into the weights' `.grad` of a model other sessions may share; the lock is held while
hooks run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from io import BytesIO

import numpy as np
import torch
from PIL import Image
from torch import nn
from torch.nn import functional as F

from models.bundle import ModelBundle, untrained_bundle
from models.inputs import images_to_pixels
from models.inspect.activations import ActivationError, _device, hooked, model_lock, normalize

Progress = Callable[[float], None]


def conv_layers(model: nn.Module) -> list[str]:
    """The names of the model's 2-D convolutions, in definition order."""
    return [name for name, m in model.named_modules() if isinstance(m, nn.Conv2d)]


def kernel_weights(model: nn.Module, name: str) -> np.ndarray:
    """A copy of a convolution's kernels: (out channels, in channels / groups, kH, kW)."""
    module = dict(model.named_modules()).get(name)
    if not isinstance(module, nn.Conv2d):
        raise ActivationError(f"{name!r} is not a convolution of this model")
    return module.weight.detach().float().cpu().numpy().copy()


@dataclass(frozen=True)
class Exciting:
    """The data-set images that excite one channel most, strongest first."""

    indices: np.ndarray  # (k,) positions in the data set
    values: np.ndarray  # (k,) the channel's peak activation on each image
    boxes: np.ndarray  # (k, 4) x0, y0, x1, y1 in input pixels: where the peak unit reads
    images: np.ndarray  # (k, H, W, C) in [0, 1], as the model sees them


def _resize_batch(images: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """uint8 (N, H, W, 3) -> float (N, h, w, C) in [0, 1] at the model's size and channels."""
    x = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2)
    return images_to_pixels(x, shape).permute(0, 2, 3, 1).numpy()  # the one image path


def _peaks(
    bundle: ModelBundle, x: torch.Tensor, layer: str, channel: int, progress: Progress | None
) -> tuple[np.ndarray, np.ndarray]:
    """Each image's highest activation of the channel, and where it is (flat index)."""
    model, lock = model_lock(bundle)
    values, where, batch = [], [], 64
    for start in range(0, len(x), batch):
        out: dict[str, torch.Tensor] = {}
        with lock, hooked(model, [layer], out), torch.no_grad():
            model(x[start : start + batch].to(_device(model)))
        maps = out[layer]
        if maps.dim() != 4 or not 0 <= channel < maps.shape[1]:
            raise ActivationError(f"{layer} has no channel {channel} with a spatial map")
        flat = maps[:, channel].flatten(1).float().cpu()  # (n, H*W)
        best = flat.max(dim=1)
        values.append(best.values.numpy())
        where.append(best.indices.numpy())
        if progress:
            progress(min(1.0, (start + batch) / len(x)))
    return np.concatenate(values), np.concatenate(where)


def _footprint(
    bundle: ModelBundle, x: torch.Tensor, layer: str, channel: int, flat_index: int
) -> np.ndarray:
    """The box of input pixels whose change moves one unit: its gradient's support."""
    model, lock = model_lock(bundle)
    x = x.to(_device(model)).clone().requires_grad_(True)
    out: dict[str, torch.Tensor] = {}
    with lock, hooked(model, [layer], out, keep_graph=True):
        model(x)
        unit = out[layer][0, channel].flatten()[flat_index]
        (grad,) = torch.autograd.grad(unit, x, allow_unused=True)
    h, w = x.shape[-2:]
    if grad is None:
        return np.array([0, 0, w, h], dtype=np.float32)
    mag = grad[0].abs().sum(0).cpu().numpy()  # (H, W)
    ys, xs = np.nonzero(mag > 1e-3 * mag.max()) if mag.max() > 0 else ([], [])
    if len(ys) == 0:
        return np.array([0, 0, w, h], dtype=np.float32)
    return np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], dtype=np.float32)


def top_exciting_images(
    bundle: ModelBundle,
    images: np.ndarray,
    layer: str,
    channel: int,
    k: int = 6,
    progress: Progress | None = None,
) -> Exciting:
    """The `k` images (uint8 N×H×W×3) on which the channel's strongest unit is highest."""
    if images.ndim != 4 or images.shape[-1] != 3 or len(images) == 0:
        raise ActivationError("the data set must be a non-empty stack of RGB images")
    pixels = _resize_batch(images, bundle.input_shape)
    x = normalize(pixels, bundle)
    values, where = _peaks(bundle, x, layer, channel, progress)
    top = np.argsort(-values, kind="stable")[: min(k, len(values))]
    boxes = np.stack([_footprint(bundle, x[i : i + 1], layer, channel, int(where[i])) for i in top])
    return Exciting(top, values[top], boxes, pixels[top])


@dataclass(frozen=True)
class FeatureVizConfig:
    """Settings of the gradient ascent that synthesizes a channel's favourite input."""

    steps: int = 96  # gradient steps
    lr: float = 0.05  # Adam step size, in normalized input units
    jitter: int = 2  # random shift (pixels) each step, so the image cannot rely on exact pixels
    blur_every: int = 4  # smooth the image every this many steps (a simple image prior)
    l2: float = 1e-3  # weight of the penalty on large input values
    seed: int = 0  # fixes the starting noise and the shifts


@dataclass(frozen=True)
class FeatureViz:
    image: np.ndarray  # (H, W, C) in [0, 1]
    start: float  # the channel's mean activation on the starting noise
    end: float  # and on the result
    curve: np.ndarray  # mean activation at each step


def _blur(z: torch.Tensor) -> torch.Tensor:
    kernel = torch.tensor([1.0, 2.0, 1.0], device=z.device) / 4.0
    k2 = (kernel[:, None] * kernel[None, :]).expand(z.shape[1], 1, 3, 3)
    return F.conv2d(F.pad(z, (1, 1, 1, 1), mode="replicate"), k2, groups=z.shape[1])


def _objective(model: nn.Module, z: torch.Tensor, layer: str, channel: int) -> torch.Tensor:
    out: dict[str, torch.Tensor] = {}
    with hooked(model, [layer], out, keep_graph=True):
        model(z)
    act = out[layer]
    if not 0 <= channel < act.shape[1]:
        raise ActivationError(f"{layer} has {act.shape[1]} channels; there is no channel {channel}")
    return act[0, channel].mean()


def visualize_channel(
    bundle: ModelBundle,
    layer: str,
    channel: int,
    config: FeatureVizConfig = FeatureVizConfig(),
    progress: Progress | None = None,
) -> FeatureViz:
    """Synthesize the input that excites one channel most (Olah et al., Distill 2017)."""
    model, lock = model_lock(bundle)
    gen = torch.Generator().manual_seed(config.seed)
    c, h, w = bundle.input_shape
    mean = torch.tensor(bundle.mean).view(1, -1, 1, 1)
    std = torch.tensor(bundle.std).view(1, -1, 1, 1)
    lo, hi = (0 - mean) / std, (1 - mean) / std  # the valid pixel range, normalized
    z = ((torch.rand(1, c, h, w, generator=gen) * 0.2 + 0.4 - mean) / std).requires_grad_(True)
    shifts = torch.randint(-config.jitter, config.jitter + 1, (config.steps, 2), generator=gen)
    opt = torch.optim.Adam([z], lr=config.lr)
    curve = []
    with lock:
        device = _device(model)
        for step in range(config.steps):
            dy, dx = (int(s) for s in shifts[step])
            moved = torch.roll(z, (dy, dx), dims=(2, 3)).to(device)
            act = _objective(model, moved, layer, channel)
            loss = -act + config.l2 * z.pow(2).mean()
            (z.grad,) = torch.autograd.grad(loss, z)
            opt.step()
            with torch.no_grad():
                if config.blur_every and (step + 1) % config.blur_every == 0:
                    z.copy_(_blur(z))
                z.copy_(torch.maximum(torch.minimum(z, hi), lo))
            curve.append(float(act.detach()))
            if progress:
                progress((step + 1) / config.steps)
        with torch.no_grad():
            end = float(_objective(model, z.to(device), layer, channel))
    image = (z.detach() * std + mean).clamp(0, 1)[0].permute(1, 2, 0).numpy()
    return FeatureViz(image, curve[0] if curve else end, end, np.array(curve, dtype=np.float32))


def untrained_twin(bundle: ModelBundle) -> ModelBundle | None:
    """A freshly initialised network of the same spec (seed 0), or None without a spec."""
    return untrained_bundle(bundle.spec) if bundle.spec is not None else None


def to_png(image: np.ndarray, scale: int = 4) -> bytes:
    """(H, W, C) floats in [0, 1] as PNG bytes, each pixel enlarged `scale` times."""
    pixels = (np.clip(image, 0, 1) * 255).astype(np.uint8)
    picture = Image.fromarray(pixels[..., 0] if pixels.shape[-1] == 1 else pixels)
    picture = picture.resize((picture.width * scale, picture.height * scale), Image.NEAREST)
    buffer = BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue()
