"""The one path from a user's image to a model's input tensor.

Every page that feeds an image to a model goes through `image_to_input`: RGB, the network's
channels, the network's height and width (bilinear, antialiased when shrinking: the resizer the
training data went through), then the model's normalization. The same image therefore gives the
same probabilities on every page.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from PIL import Image

from models.bundle import ModelBundle
from models.data import convert_channels, resize


def image_to_input(
    image: Image.Image,
    input_shape: tuple[int, int, int],
    mean: Sequence[float],
    std: Sequence[float],
) -> torch.Tensor:
    """One PIL image as a normalized float batch (1, C, H, W) for a network of `input_shape`."""
    x = torch.from_numpy(np.array(image.convert("RGB"))).permute(2, 0, 1)[None].contiguous()
    x = resize(convert_channels(x, input_shape[0]), tuple(input_shape[1:]))  # (1, C, H, W) uint8
    m = torch.tensor(tuple(mean), dtype=torch.float32).view(1, -1, 1, 1)
    s = torch.tensor(tuple(std), dtype=torch.float32).view(1, -1, 1, 1)
    return (x.float() / 255 - m) / s


def bundle_input(bundle: ModelBundle, image: Image.Image) -> torch.Tensor:
    """`image_to_input` with the bundle's input shape and normalization."""
    return image_to_input(image, bundle.input_shape, bundle.mean, bundle.std)
