"""Built-in images to try every page on, all offline: drawn shapes, two photos, a digit.

The photos and the digit ship inside scikit-learn. Each image is made once and cached; callers
get their own copy, so one page drawing on its image cannot change another session's.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

import numpy as np
from PIL import Image

from models.data.shapes import ShapeStyle, draw_shape

_SHAPE_SIDE = 128
_DIGIT_SIDE = 64


def _shape(kind: str, seed: int, noise: float = 0.0) -> Image.Image:
    """A large shape filling most of a 128×128 image; the seed fixes colours and pose."""
    style = ShapeStyle(size=_SHAPE_SIDE, noise=noise, min_scale=0.7, max_scale=0.8)
    return Image.fromarray(draw_shape(kind, np.random.default_rng(seed), style))


def _photo(name: str) -> Image.Image:
    from sklearn.datasets import load_sample_image

    return Image.fromarray(load_sample_image(name)).convert("RGB")


def _digit(value: int) -> Image.Image:
    """The first scikit-learn digit of this value: white ink on black, like MNIST."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    first = int(np.flatnonzero(digits.target == value)[0])
    pixels = np.rint(digits.images[first] * (255.0 / 16.0)).astype(np.uint8)  # 0..16 -> 0..255
    small = Image.fromarray(pixels)  # (8, 8), mode "L"
    return small.resize((_DIGIT_SIDE, _DIGIT_SIDE), Image.Resampling.NEAREST).convert("RGB")


def _cached(make: Callable[[], Image.Image]) -> Callable[[], Image.Image]:
    """Build once; hand out copies so callers may modify theirs."""
    once = lru_cache(maxsize=1)(make)

    def sample() -> Image.Image:
        return once().copy()

    sample.cache_info = once.cache_info  # type: ignore[attr-defined]
    return sample


SAMPLE_IMAGES: dict[str, Callable[[], Image.Image]] = {
    "Shape: star": _cached(lambda: _shape("star", seed=7)),
    "Photo: temple": _cached(lambda: _photo("china.jpg")),
    "Photo: flower": _cached(lambda: _photo("flower.jpg")),
    "Digit: 3": _cached(lambda: _digit(3)),
    "Shape: heart": _cached(lambda: _shape("heart", seed=11)),
    "Shape: crescent": _cached(lambda: _shape("crescent", seed=5)),
    "Shape: ring on noise": _cached(lambda: _shape("ring", seed=3, noise=0.15)),
}
DEFAULT_SAMPLE: str = "Shape: star"  # the default network takes 64×64 coloured shapes
