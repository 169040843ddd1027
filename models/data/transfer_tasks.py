"""A target task for transfer learning: six new shape classes the shipped models never saw.

The images look like the built-in shapes (random colours on a plain background, any rotation,
smooth edges: drawn with `shapes.py`'s colours and style), but the classes are new outlines:
a long rectangle, an L, a T, a half disc, a thin diamond and an hourglass. A network pretrained
on the ten built-in shapes has learnt edges, corners and curves, not these classes, so it has to
transfer what it knows. `make_target` is seeded: the same seed gives the same images.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw

from models.data.shapes import SUPERSAMPLE, ShapeStyle, random_colours, unit_polygon

TARGET_CLASSES: tuple[str, ...] = (
    "rectangle",
    "L-shape",
    "T-shape",
    "half disc",
    "diamond",
    "hourglass",
)
_DEFAULT_STYLE = ShapeStyle()  # 64×64, plain background, as the built-in shapes


def _half_disc(n: int = 32) -> np.ndarray:
    t = np.linspace(0.0, math.pi, n)
    return unit_polygon([(math.cos(a), -math.sin(a)) for a in t])


# Each outline as points around its centre, the farthest at radius 1.
_OUTLINES: dict[str, np.ndarray] = {
    "rectangle": unit_polygon([(-1, -0.38), (1, -0.38), (1, 0.38), (-1, 0.38)]),
    "L-shape": unit_polygon([(-0.5, -1), (-0.1, -1), (-0.1, 0.6), (0.7, 0.6), (0.7, 1), (-0.5, 1)]),
    "T-shape": unit_polygon(
        [
            (-1, -1),
            (1, -1),
            (1, -0.55),
            (0.22, -0.55),
            (0.22, 1),
            (-0.22, 1),
            (-0.22, -0.55),
            (-1, -0.55),
        ]
    ),  # fmt: skip
    "half disc": _half_disc(),
    "diamond": unit_polygon([(0, -1), (0.45, 0), (0, 1), (-0.45, 0)]),
    "hourglass": unit_polygon(
        [(-0.75, -1), (0.75, -1), (0.12, 0), (0.75, 1), (-0.75, 1), (-0.12, 0)]
    ),
}


def _coverage(outline: np.ndarray, side: int, centre: np.ndarray, radius: float, angle: float):
    """The outline's coverage in [0, 1], (side, side) float32, drawn 4× large then shrunk."""
    big = side * SUPERSAMPLE
    canvas = Image.new("L", (big, big), 0)
    c, s = math.cos(angle), math.sin(angle)
    pts = outline @ np.array([[c, s], [-s, c]]) * radius * SUPERSAMPLE + centre * SUPERSAMPLE
    ImageDraw.Draw(canvas).polygon([tuple(p) for p in pts], fill=255)
    return np.asarray(canvas.reduce(SUPERSAMPLE), dtype=np.float32) / 255.0


def draw_target(
    kind: str, rng: np.random.Generator, style: ShapeStyle = _DEFAULT_STYLE
) -> np.ndarray:
    """One image of a target class, uint8 (H, W, 3) RGB, its randomness drawn from `rng`."""
    if kind not in _OUTLINES:
        known = ", ".join(TARGET_CLASSES)
        raise ValueError(f"unknown target shape {kind!r}; choose one of {known}")
    side = style.size
    background, colour = random_colours(rng)
    radius = min(rng.uniform(style.min_scale, style.max_scale) * side / 2, side / 2 - 1)
    room = (side / 2 - radius - 1) * style.spread  # the whole shape stays inside
    centre = side / 2 + rng.uniform(-room, room, size=2)
    alpha = _coverage(_OUTLINES[kind], side, centre, radius, rng.uniform(0, 2 * math.pi))
    image = background * (1.0 - alpha[..., None]) + colour * alpha[..., None]
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


def make_target(
    per_class: int, seed: int = 0, style: ShapeStyle = _DEFAULT_STYLE
) -> tuple[np.ndarray, np.ndarray]:
    """`per_class` images of each target class, uint8 (N, H, W, 3), int64 labels, shuffled."""
    if not 1 <= per_class <= 5000:
        raise ValueError(f"images per class must be between 1 and 5,000, not {per_class}")
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.repeat(np.arange(len(TARGET_CLASSES), dtype=np.int64), per_class))
    images = np.empty((len(labels), style.size, style.size, 3), dtype=np.uint8)  # (N, H, W, 3)
    for i, label in enumerate(labels):
        images[i] = draw_target(TARGET_CLASSES[label], rng, style)
    return images, labels
