"""The one path from a user's image to a model's input tensor, and the model as pages use it.

Every page that feeds an image to a model goes through here: RGB, the network's channels (ITU-R
601 luma for gray), the network's height and width (bilinear, antialiased when shrinking, then
rounded to whole pixel values: exactly what the training data went through in
`models.data.datasets.fit_data`), then the model's normalization. The same image therefore
gives the same probabilities on every page. `image_to_pixels` stops before the normalization,
for the methods that work in pixel space (attribution, adversarial attacks), which run a
`PixelModel` (normalization inside, so gradients reach the pixels). `guarded` holds a bundle's
lock with its model in eval mode: the one way to run hooks or Captum on a shared model.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import numpy as np
import torch
from PIL import Image
from torch import nn

from models.bundle import ModelBundle
from models.data.datasets import convert_channels, resize


def images_to_pixels(images: torch.Tensor, input_shape: Sequence[int]) -> torch.Tensor:
    """uint8 images (N, C, H, W) at the network's channels and size: floats in [0, 1]."""
    x = resize(convert_channels(images, int(input_shape[0])), tuple(input_shape[1:]))
    return x.float() / 255  # (N, C, H, W)


def image_to_pixels(image: Image.Image, input_shape: Sequence[int]) -> torch.Tensor:
    """One PIL image as (1, C, H, W) floats in [0, 1] for a network of `input_shape`."""
    x = torch.from_numpy(np.array(image.convert("RGB"))).permute(2, 0, 1)[None].contiguous()
    return images_to_pixels(x, input_shape)


def normalize_pixels(
    pixels: torch.Tensor, mean: Sequence[float], std: Sequence[float]
) -> torch.Tensor:
    """(x − mean) / std per channel for pixels (N, C, H, W) in [0, 1]."""
    m = torch.tensor(tuple(mean), dtype=torch.float32).view(1, -1, 1, 1)
    s = torch.tensor(tuple(std), dtype=torch.float32).view(1, -1, 1, 1)
    return (pixels - m) / s


def image_to_input(
    image: Image.Image,
    input_shape: tuple[int, int, int],
    mean: Sequence[float],
    std: Sequence[float],
) -> torch.Tensor:
    """One PIL image as a normalized float batch (1, C, H, W) for a network of `input_shape`."""
    return normalize_pixels(image_to_pixels(image, input_shape), mean, std)


def bundle_pixels(bundle: ModelBundle, image: Image.Image) -> torch.Tensor:
    """`image_to_pixels` at the bundle's input shape: (1, C, H, W) in [0, 1]."""
    return image_to_pixels(image, bundle.input_shape)


def bundle_input(bundle: ModelBundle, image: Image.Image) -> torch.Tensor:
    """`image_to_input` with the bundle's input shape and normalization."""
    return image_to_input(image, bundle.input_shape, bundle.mean, bundle.std)


class Normalize(nn.Module):
    """(x − mean) / std per channel, as a module so gradients flow back to pixels."""

    def __init__(self, mean: tuple[float, ...], std: tuple[float, ...]):
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


class PixelModel(nn.Module):
    """A network fed [0, 1] pixels: `normalize`, then `net` (the bundle's model, not a copy)."""

    def __init__(self, net: nn.Module, mean: tuple[float, ...], std: tuple[float, ...]):
        super().__init__()
        self.normalize = Normalize(mean, std)
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(self.normalize(x))


def pixel_model(bundle: ModelBundle, net: nn.Module | None = None) -> PixelModel:
    """The bundle's model (or `net`) fed [0, 1] pixels."""
    return PixelModel(bundle.model if net is None else net, bundle.mean, bundle.std)


@contextmanager
def guarded(bundle: ModelBundle) -> Iterator[nn.Module]:
    """Hold the bundle's lock with its model in eval mode; restore each module's mode after."""
    with bundle.lock:
        modes = [(m, m.training) for m in bundle.model.modules()]
        bundle.model.eval()
        try:
            yield bundle.model
        finally:
            for module, mode in modes:
                module.training = mode
