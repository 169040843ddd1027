"""Coloured shapes with a mask for every pixel: the segmentation version of the shapes set.

Each image holds 1 to 3 shapes (of the ten shape classes) on a background of one colour,
optionally noisy. Shapes may overlap: they are painted in order, so a later shape hides what it
covers. The drawing is shapes.py's own (a coverage map drawn at 4× and shrunk), and a pixel
belongs to a shape when that shape covers at least half of it and no later shape does. Besides
the masks, every image keeps which shape each instance is, so the same picture can be labelled
for classification (one name), detection (a box per shape) and segmentation (a class per pixel).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import torch

from models.data.shapes import MIN_COLOUR_DISTANCE, SHAPE_CLASSES, shape_mask
from models.errors import CNNLabError

# What the mask's numbers mean: "binary" is 0 background, 1 any shape; "shape" is 0
# background, 1 + the shape's index in SHAPE_CLASSES.
LABELS: tuple[str, ...] = ("binary", "shape")
COVERED = 0.5  # a pixel belongs to a shape when the shape covers at least this share of it


class MaskDataError(CNNLabError):
    """Settings the mask generator cannot use, said for the student."""


@dataclass(frozen=True)
class MaskStyle:
    """How the scenes look; the defaults are small enough to train a U-Net in under a minute."""

    size: int = 32  # image side in pixels
    max_shapes: int = 3  # each image holds 1 to this many shapes
    noise: float = 0.0  # std of the background noise, in [0, 1] pixel units; 0 = plain
    min_scale: float = 0.3  # smallest shape's diameter, as a share of the image side
    max_scale: float = 0.6  # largest shape's diameter, as a share of the image side

    def __post_init__(self) -> None:
        checks = [
            (16 <= self.size <= 256, f"image size must be 16 to 256 pixels, not {self.size}"),
            (1 <= self.max_shapes <= 5, f"shapes per image must be 1 to 5, not {self.max_shapes}"),
            (0.0 <= self.noise <= 1.0, f"noise must be between 0 and 1, not {self.noise}"),
            (
                0.1 <= self.min_scale <= self.max_scale <= 1.0,
                "shape scales must satisfy 0.1 ≤ smallest ≤ largest ≤ 1",
            ),
        ]
        for ok, message in checks:
            if not ok:
                raise MaskDataError(message)


@dataclass(frozen=True)
class Placed:
    """One shape as it was drawn: what, where, how big, how turned, in which colour."""

    kind: str
    centre: tuple[float, float]  # (x, y) in pixels
    radius: float  # pixels
    angle: float  # radians
    colour: tuple[float, float, float]  # RGB, 0..255


@dataclass(frozen=True)
class Scene:
    """One image with its instance map (0 background, i + 1 for the i-th shape drawn)."""

    image: np.ndarray  # uint8 (H, W, 3)
    instances: np.ndarray  # uint8 (H, W)
    shapes: tuple[Placed, ...]
    background: tuple[float, float, float]


def _colour_apart(rng: np.random.Generator, background: np.ndarray) -> np.ndarray:
    """A colour at least MIN_COLOUR_DISTANCE from the background (black or white if unlucky)."""
    for _ in range(64):
        colour = rng.integers(0, 256, 3).astype(np.float32)
        if np.linalg.norm(colour - background) >= MIN_COLOUR_DISTANCE:
            return colour
    black, white = np.zeros(3, np.float32), np.full(3, 255.0, np.float32)
    return black if np.linalg.norm(background) > np.linalg.norm(white - background) else white


def _place(rng: np.random.Generator, style: MaskStyle, colour: np.ndarray) -> Placed:
    side = style.size
    kind = SHAPE_CLASSES[int(rng.integers(len(SHAPE_CLASSES)))]
    radius = rng.uniform(style.min_scale, style.max_scale) * side / 2
    centre = rng.uniform(radius * 0.6, side - radius * 0.6, size=2)  # mostly inside the image
    angle = rng.uniform(0, 2 * math.pi)
    return Placed(kind, (float(centre[0]), float(centre[1])), float(radius), angle, tuple(colour))


def coverage(shape: Placed, side: int) -> np.ndarray:
    """The share of each pixel the shape covers, float32 (side, side), as shapes.py draws it."""
    return shape_mask(shape.kind, side, np.asarray(shape.centre), shape.radius, shape.angle)


def draw_scene(rng: np.random.Generator, style: MaskStyle = MaskStyle()) -> Scene:
    """One image of 1 to `style.max_shapes` shapes and its instance map, drawn from `rng`."""
    side = style.size
    background = rng.integers(0, 256, 3).astype(np.float32)
    image = np.broadcast_to(background, (side, side, 3)).astype(np.float64)
    if style.noise > 0:
        image = image + rng.normal(0.0, style.noise * 255.0, size=(side, side, 3))
    instances = np.zeros((side, side), np.uint8)
    placed = []
    for i in range(int(rng.integers(1, style.max_shapes + 1))):
        shape = _place(rng, style, _colour_apart(rng, background))
        alpha = coverage(shape, side)
        image = image * (1.0 - alpha[..., None]) + np.asarray(shape.colour) * alpha[..., None]
        instances[alpha >= COVERED] = i + 1
        placed.append(shape)
    pixels = np.clip(np.rint(image), 0, 255).astype(np.uint8)
    return Scene(pixels, instances, tuple(placed), tuple(float(v) for v in background))


def class_mask(scene: Scene, labels: str = "binary") -> np.ndarray:
    """The scene's int64 (H, W) mask: see LABELS for what its numbers mean."""
    if labels == "binary":
        return (scene.instances > 0).astype(np.int64)
    lookup = np.array([0] + [1 + SHAPE_CLASSES.index(s.kind) for s in scene.shapes], np.int64)
    return lookup[scene.instances]


def mask_class_names(labels: str) -> tuple[str, ...]:
    """The names of a mask's classes, background first."""
    if labels not in LABELS:
        raise MaskDataError(f"mask labels must be one of {', '.join(LABELS)}, not {labels!r}")
    return ("background", "shape") if labels == "binary" else ("background", *SHAPE_CLASSES)


@dataclass(frozen=True)
class MaskData:
    """Images with a class for every pixel, and the scenes they came from."""

    x: torch.Tensor  # (N, 3, H, W) uint8
    y: torch.Tensor  # (N, H, W) int64 class masks
    class_names: tuple[str, ...]  # background first
    scenes: tuple[Scene, ...]
    name: str


@functools.lru_cache(maxsize=4)
def make_masks(
    n: int, seed: int = 0, style: MaskStyle = MaskStyle(), labels: str = "binary"
) -> MaskData:
    """`n` scenes drawn from `seed`; cached, so a rerun with the same settings draws nothing."""
    names = mask_class_names(labels)
    if not 1 <= n <= 20_000:
        raise MaskDataError(f"the number of images must be 1 to 20,000, not {n}")
    rng = np.random.default_rng(seed)
    scenes = tuple(draw_scene(rng, style) for _ in range(n))
    x = torch.from_numpy(np.stack([s.image for s in scenes])).permute(0, 3, 1, 2).contiguous()
    y = torch.from_numpy(np.stack([class_mask(s, labels) for s in scenes]))
    return MaskData(x, y, names, scenes, f"shape masks ({labels})")
