"""A procedurally drawn data set of coloured shapes: ten classes, any size, seeded.

Each image holds one shape in a random colour, size, position and rotation on a background of
another colour (optionally noisy). Every class stays recognisable under any rotation, so
rotation can be used freely as augmentation. Shapes are drawn as a mask at 4× the size and
shrunk by averaging each 4×4 block: a pixel's value is the share of it the shape covers, which
gives smooth (anti-aliased) edges at a fraction of the cost of a Lanczos filter.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

SHAPE_CLASSES: tuple[str, ...] = (
    "circle",
    "square",
    "triangle",
    "star",
    "cross",
    "ring",
    "heart",
    "crescent",
    "arrow",
    "pentagon",
)

SUPERSAMPLE = 4  # draw at this multiple of the final size, then shrink: smooth edges
MIN_COLOUR_DISTANCE = 150.0  # RGB distance (0..441) kept between shape and background
_RING_HOLE = 0.58  # inner radius of the ring, relative to its outer radius
_CRESCENT_BITE = (0.82, 0.5)  # radius and offset of the circle cut out of the crescent


@dataclass(frozen=True)
class ShapeStyle:
    """How the images look; every default gives 64×64 images on a plain background."""

    size: int = 64  # image side in pixels
    noise: float = 0.0  # std of the background noise, in [0, 1] pixel units; 0 = plain
    min_scale: float = 0.35  # smallest shape, as a share of the image side
    max_scale: float = 0.8  # largest shape, as a share of the image side
    spread: float = 0.3  # how far from the centre a shape may sit: 0 centred, 1 anywhere inside

    def __post_init__(self) -> None:
        if not 8 <= self.size <= 1024:
            raise ValueError(f"image size must be between 8 and 1024 pixels, not {self.size}")
        if not 0.0 <= self.noise <= 1.0:
            raise ValueError(f"noise must be between 0 and 1, not {self.noise}")
        if not 0.0 <= self.spread <= 1.0:
            raise ValueError(f"spread must be between 0 and 1, not {self.spread}")
        if not 0.05 <= self.min_scale <= self.max_scale <= 1.0:
            raise ValueError(
                "shape scales must satisfy 0.05 ≤ min_scale ≤ max_scale ≤ 1, "
                f"not {self.min_scale} and {self.max_scale}"
            )


def unit_polygon(points: list[tuple[float, float]]) -> np.ndarray:
    """Points as an (N, 2) array, centred on their bounding box, farthest point at radius 1."""
    pts = np.asarray(points, dtype=np.float64)
    pts -= (pts.min(axis=0) + pts.max(axis=0)) / 2
    return pts / np.linalg.norm(pts, axis=1).max()


def _regular(n: int) -> np.ndarray:
    angles = 2 * np.pi * np.arange(n) / n - np.pi / 2
    return np.stack([np.cos(angles), np.sin(angles)], axis=1)


def _star() -> np.ndarray:
    radii = np.tile([1.0, 0.4], 5)
    return _regular(10) * radii[:, None]


def _cross(half_width: float = 0.3) -> np.ndarray:
    w = half_width
    quarter = [(w, -1), (w, -w), (1, -w)]
    pts = []
    for k in range(4):  # the same corner turned by 90° four times
        c, s = round(math.cos(k * math.pi / 2)), round(math.sin(k * math.pi / 2))
        pts += [(c * x - s * y, s * x + c * y) for x, y in quarter]
    return unit_polygon(pts)


def _heart(n: int = 48) -> np.ndarray:
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    x = 16 * np.sin(t) ** 3
    y = -(13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t))
    return unit_polygon(list(zip(x, y, strict=True)))


def _arrow() -> np.ndarray:
    return unit_polygon(
        [(-1, -0.2), (0.15, -0.2), (0.15, -0.6), (1, 0), (0.15, 0.6), (0.15, 0.2), (-1, 0.2)]
    )


_POLYGONS: dict[str, np.ndarray] = {
    "square": _regular(4),
    "triangle": _regular(3),
    "pentagon": _regular(5),
    "star": _star(),
    "cross": _cross(),
    "heart": _heart(),
    "arrow": _arrow(),
}


def _disc(draw: ImageDraw.ImageDraw, cx: float, cy: float, r: float, fill: int) -> None:
    draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=fill)


def shape_mask(kind: str, side: int, centre: np.ndarray, radius: float, angle: float) -> np.ndarray:
    """The shape's coverage in [0, 1], (side, side) float32, drawn large then shrunk."""
    big = side * SUPERSAMPLE
    canvas = Image.new("L", (big, big), 0)
    draw = ImageDraw.Draw(canvas)
    cx, cy = centre * SUPERSAMPLE
    r = radius * SUPERSAMPLE
    if kind in ("circle", "ring", "crescent"):
        _disc(draw, cx, cy, r, 255)
        if kind == "ring":
            _disc(draw, cx, cy, r * _RING_HOLE, 0)
        elif kind == "crescent":
            bite, offset = _CRESCENT_BITE
            _disc(
                draw,
                cx + r * offset * math.cos(angle),
                cy + r * offset * math.sin(angle),
                r * bite,
                0,
            )
    else:
        c, s = math.cos(angle), math.sin(angle)
        pts = _POLYGONS[kind] @ np.array([[c, s], [-s, c]]) * r + (cx, cy)
        draw.polygon([tuple(p) for p in pts], fill=255)
    small = canvas.reduce(SUPERSAMPLE)  # box average: the share of each pixel covered
    return np.asarray(small, dtype=np.float32) / 255.0


def random_colours(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A background colour and a shape colour at least MIN_COLOUR_DISTANCE apart."""
    background = rng.integers(0, 256, 3).astype(np.float32)
    for _ in range(64):
        shape = rng.integers(0, 256, 3).astype(np.float32)
        if np.linalg.norm(shape - background) >= MIN_COLOUR_DISTANCE:
            return background, shape
    # Rarely reached: black or white, whichever lies farther from the background.
    black, white = np.zeros(3, np.float32), np.full(3, 255.0, np.float32)
    far = black if np.linalg.norm(background) > np.linalg.norm(white - background) else white
    return background, far


def draw_shape(kind: str, rng: np.random.Generator, style: ShapeStyle = ShapeStyle()) -> np.ndarray:
    """One image of a `kind` shape, uint8 (H, W, 3) RGB, its randomness drawn from `rng`."""
    if kind not in SHAPE_CLASSES:
        raise ValueError(f"unknown shape {kind!r}; choose one of {', '.join(SHAPE_CLASSES)}")
    side = style.size
    background, colour = random_colours(rng)
    radius = min(rng.uniform(style.min_scale, style.max_scale) * side / 2, side / 2 - 1)
    margin = radius + 1  # one clear pixel: anti-aliasing must not tint the border
    room = (side / 2 - margin) * style.spread  # the whole shape stays inside
    centre = side / 2 + rng.uniform(-room, room, size=2)
    angle = rng.uniform(0, 2 * math.pi)
    alpha = shape_mask(kind, side, centre, radius, angle)[..., None]  # (H, W, 1)
    back = np.broadcast_to(background, (side, side, 3))
    if style.noise > 0:
        back = back + rng.normal(0.0, style.noise * 255.0, size=(side, side, 3))
    image = back * (1.0 - alpha) + colour * alpha
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


def class_draw_counts(n: int, n_classes: int, imbalance: float) -> np.ndarray:
    """Counts decaying geometrically from the first class to the last, summing to n."""
    weights = imbalance ** (-np.arange(n_classes) / max(n_classes - 1, 1))
    exact = n * weights / weights.sum()
    counts = np.floor(exact).astype(np.int64)
    leftover = n - counts.sum()
    counts[np.argsort(-(exact - counts), kind="stable")[:leftover]] += 1  # largest remainders
    return counts


def make_shapes(
    n: int, seed: int = 0, style: ShapeStyle = ShapeStyle(), imbalance: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """`n` shape images, uint8 (N, H, W, 3), with int64 labels indexing SHAPE_CLASSES.

    `imbalance` is the ratio of the most to the least frequent class (1 = balanced); the
    first class is the most frequent. The same seed and settings give the same images.
    """
    if n < 0:
        raise ValueError(f"the number of images cannot be negative ({n})")
    if not 1.0 <= imbalance <= 1000.0:
        raise ValueError(f"imbalance must be between 1 and 1000, not {imbalance}")
    rng = np.random.default_rng(seed)
    counts = class_draw_counts(n, len(SHAPE_CLASSES), imbalance)
    labels = rng.permutation(np.repeat(np.arange(len(SHAPE_CLASSES), dtype=np.int64), counts))
    images = np.empty((n, style.size, style.size, 3), dtype=np.uint8)  # (N, H, W, 3)
    for i, label in enumerate(labels):
        images[i] = draw_shape(SHAPE_CLASSES[label], rng, style)
    return images, labels
