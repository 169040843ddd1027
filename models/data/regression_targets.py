"""Single generated shapes with the numbers they were drawn from: size, angle and position.

Each image holds one shape (an arrow by default: it points one way, so its angle is defined
over the full circle, unlike a square's, which repeats every 90°) drawn with the shapes set's
own renderer (`models.data.shapes`): random colours, a random radius, a random heading and a
random place inside the image. The numbers come back beside the images, so a network can learn
to predict any of them.

- size: the radius in pixels, centre to the farthest point of the shape.
- angle: the heading in degrees, counter-clockwise from pointing right, in [0, 360).
- position: the centre's (x, y) in pixels from the top-left corner (y grows downwards).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import torch

from models.data.datasets import DataError
from models.data.shapes import SHAPE_CLASSES, random_colours, shape_mask

TARGET_NAMES: tuple[str, ...] = ("size", "angle", "position")


@dataclass(frozen=True)
class TargetStyle:
    """How the shapes are drawn; the defaults give 32×32 arrows anywhere inside the image."""

    size: int = 32  # image side in pixels
    shape: str = "arrow"  # one of SHAPE_CLASSES; pick one without rotational symmetry for angles
    min_scale: float = 0.35  # smallest radius, as a share of half the side
    max_scale: float = 0.9  # largest radius
    spread: float = 1.0  # how far from the centre a shape may sit: 0 centred, 1 anywhere inside

    def __post_init__(self) -> None:
        if not 16 <= self.size <= 256:
            raise DataError(f"the image side must be 16 to 256 pixels, not {self.size}")
        if self.shape not in SHAPE_CLASSES:
            raise DataError(f"unknown shape {self.shape!r}; choose one of {SHAPE_CLASSES}")
        if not 0.1 <= self.min_scale < self.max_scale <= 0.95:
            raise DataError("the radii must satisfy 0.1 ≤ smallest < largest ≤ 0.95")
        if not 0.0 <= self.spread <= 1.0:
            raise DataError(f"the spread must be between 0 and 1, not {self.spread}")

    def radius_range(self) -> tuple[float, float]:
        """The smallest and largest radius in pixels."""
        half = self.size / 2
        return self.min_scale * half, self.max_scale * half


@dataclass(frozen=True)
class TargetShapes:
    """Images and the numbers each was drawn from."""

    x: torch.Tensor  # (N, 3, S, S) uint8
    size: np.ndarray  # (N,) radius in pixels
    angle: np.ndarray  # (N,) degrees in [0, 360)
    position: np.ndarray  # (N, 2) centre (x, y) in pixels
    style: TargetStyle

    def values(self, target: str) -> np.ndarray:
        """The true values of `target`: (N,) for size and angle, (N, 2) for position."""
        if target not in TARGET_NAMES:
            raise DataError(f"unknown target {target!r}; choose one of {', '.join(TARGET_NAMES)}")
        return getattr(self, target)


def draw_target_shape(
    style: TargetStyle, radius: float, angle: float, centre: tuple[float, float], rng
) -> np.ndarray:
    """One uint8 (3, S, S) image of the style's shape: radius in px, heading in degrees
    (counter-clockwise on screen), centre (x, y) in px; colours drawn from `rng`."""
    background, colour = random_colours(rng)
    # The renderer turns clockwise on screen (y grows down): a negative angle turns the other way.
    alpha = shape_mask(style.shape, style.size, np.asarray(centre), radius, -math.radians(angle))
    image = background * (1.0 - alpha[..., None]) + colour * alpha[..., None]
    return np.clip(np.rint(image), 0, 255).astype(np.uint8).transpose(2, 0, 1)


@functools.lru_cache(maxsize=4)
def make_target_shapes(n: int, seed: int = 0, style: TargetStyle = TargetStyle()) -> TargetShapes:
    """`n` images with uniformly drawn radius, heading and position; seeded and cached."""
    if not 10 <= n <= 20_000:
        raise DataError(f"draw 10 to 20,000 shapes, not {n:,}")
    rng = np.random.default_rng(seed)
    lo, hi = style.radius_range()
    sizes = rng.uniform(lo, hi, n)
    angles = rng.uniform(0.0, 360.0, n)
    room = style.size / 2 - sizes - 1  # one clear pixel: the whole shape stays inside
    centres = style.size / 2 + rng.uniform(-1, 1, (n, 2)) * (room * style.spread)[:, None]
    images = np.stack(
        [draw_target_shape(style, sizes[i], angles[i], tuple(centres[i]), rng) for i in range(n)]
    )
    return TargetShapes(torch.from_numpy(images), sizes, angles, centres, style)
