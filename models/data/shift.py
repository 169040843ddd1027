"""Domain shift: test images that drift away from what a model was trained on, by a strength.

Each drift turns uint8 images (N, 3, H, W) into shifted ones with torchvision's transforms v2,
its parameters fixed by the strength in [0, 1] (no random draws but the noise, which takes a
seeded generator), so one slider position always gives the same images. Strength 0 returns the
images unchanged. `DRIFTS` is the registry the page turns into its menu.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torchvision.transforms.v2 import functional as TF

TINT = (0.95, 0.55, 0.15)  # the colour cast "colour" drifts towards: a warm orange light


def _colour(x: torch.Tensor, strength: float, _: torch.Generator) -> torch.Tensor:
    """Every pixel pulled towards one warm tint: colours fade together and contrast drops."""
    tint = torch.tensor(TINT).view(1, 3, 1, 1) * 255
    mix = 0.85 * strength
    return (x.float() * (1 - mix) + tint * mix).round().clamp(0, 255).to(torch.uint8)


def _noise(x: torch.Tensor, strength: float, gen: torch.Generator) -> torch.Tensor:
    """Gaussian noise of std 0.25 × strength (in [0, 1] pixel units) on every pixel."""
    noise = torch.randn(x.shape, generator=gen) * (0.25 * strength * 255)
    return (x.float() + noise).round().clamp(0, 255).to(torch.uint8)


def _blur(x: torch.Tensor, strength: float, _: torch.Generator) -> torch.Tensor:
    """A Gaussian blur of σ = 3 × strength pixels."""
    sigma = 3.0 * strength
    kernel = 2 * math.ceil(3 * sigma) + 1
    return TF.gaussian_blur(x, [kernel, kernel], [sigma, sigma])


def _scale(x: torch.Tensor, strength: float, _: torch.Generator) -> torch.Tensor:
    """The whole picture shrunk to (1 − 0.7 × strength) of its side, its border colour around."""
    side = x.shape[-1]
    small = max(4, round(side * (1 - 0.7 * strength)))
    shrunk = TF.resize(x, [small, small], antialias=True)
    left = (side - small) // 2
    pad = [left, left, side - small - left, side - small - left]  # left, top, right, bottom
    return TF.pad(shrunk, pad, padding_mode="edge")


@dataclass(frozen=True)
class Drift:
    """One kind of shift: how it is applied and what strength 1 means, in words."""

    name: str
    apply: Callable[[torch.Tensor, float, torch.Generator], torch.Tensor]
    at_full: str  # what strength 1 does, for the slider's help


DRIFTS: dict[str, Drift] = {
    d.name: d
    for d in (
        Drift("colour", _colour, "85% of every pixel becomes one orange tint"),
        Drift(
            "noise", _noise, "Gaussian noise with a standard deviation of a quarter of the range"
        ),
        Drift("blur", _blur, "a Gaussian blur of σ = 3 pixels"),
        Drift("scale", _scale, "the picture shrunk to 30% of its side"),
    )
}


class ShiftError(ValueError):
    """A drift or strength that does not exist."""


def apply_drift(x: torch.Tensor, drift: str, strength: float, seed: int = 0) -> torch.Tensor:
    """uint8 images (N, 3, H, W) shifted by `drift` at `strength` in [0, 1]; a new tensor.

    At strength 0 the images come back unchanged (a copy). The noise is drawn from `seed`.
    """
    if drift not in DRIFTS:
        raise ShiftError(f"unknown drift {drift!r}; choose one of {', '.join(DRIFTS)}")
    if not 0.0 <= strength <= 1.0:
        raise ShiftError(f"the strength must be between 0 and 1, not {strength}")
    if x.dtype != torch.uint8 or x.dim() != 4:
        raise ShiftError("drifts apply to uint8 images shaped (N, C, H, W)")
    if strength == 0:
        return x.clone()
    return DRIFTS[drift].apply(x, strength, torch.Generator().manual_seed(seed))
