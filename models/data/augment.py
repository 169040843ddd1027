"""Data augmentation with torchvision transforms v2, described as data.

`AUGMENTATIONS` maps a name to its parameters (ranges and defaults) and a function that turns
chosen values into the keyword arguments of a `v2` class, so one description fills the page's
menus, builds the transform and writes the Python code. A `PipelineSpec` is an ordered tuple of
steps, each with a probability and an on/off switch. `sample_grid` draws N augmented versions
of an image from a seed, step by step (sample the parameters, then apply them), so it can say
what each random transform actually did. torchvision's transforms draw from torch's global
generator and take no generator argument, so the grid draws inside a private stream
(`models.rng`): the same seed gives the same grid while other sessions train or sample.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from PIL import Image
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as TF

from models.errors import CNNLabError
from models.params import Param
from models.rng import RandomStream, private_stream

Size = tuple[int, int]  # (H, W) of the images the pipeline is built for


@dataclass(frozen=True)
class Augmentation:
    cls: str  # the torchvision.transforms.v2 class name
    about: str
    kwargs: Callable[[dict[str, Any], Size], dict[str, Any]]  # chosen values -> class kwargs
    params: tuple[Param, ...] = ()
    pil: bool = True  # runs on PIL images (much faster for the preview's geometry)


def _p(
    name: str,
    label: str,
    default: Any,
    low: float = 0.0,
    high: float = 1.0,
    step: float | None = None,
) -> Param:
    return Param(name, label, default, low, high, step)


SURE = {"p": 1.0}  # a transform's own coin is fixed at 1: the step's probability decides
POLICIES = {
    "ImageNet": v2.AutoAugmentPolicy.IMAGENET,
    "CIFAR-10": v2.AutoAugmentPolicy.CIFAR10,
    "SVHN": v2.AutoAugmentPolicy.SVHN,
}

AUGMENTATIONS: dict[str, Augmentation] = {
    "Random resized crop": Augmentation(
        "RandomResizedCrop",
        "Crop a random part (area share in [min, 1]) and resize it back.",
        lambda v, size: {"size": size, "scale": (v["min_area"], 1.0), "antialias": True},
        (_p("min_area", "Smallest area share", 0.5, 0.08, 1.0, 0.01),),
    ),
    "Random crop with padding": Augmentation(
        "RandomCrop",
        "Pad every side, then cut a window of the original size somewhere.",
        lambda v, size: {"size": size, "padding": v["padding"], "padding_mode": v["mode"]},
        (
            _p("padding", "Padding (pixels)", 4, 0, 32, 1),
            Param("mode", "Padding fill", "constant", options=("constant", "edge", "reflect")),
        ),
    ),
    "Horizontal flip": Augmentation(
        "RandomHorizontalFlip", "Mirror left to right.", lambda v, size: SURE
    ),
    "Vertical flip": Augmentation(
        "RandomVerticalFlip", "Mirror top to bottom.", lambda v, size: SURE
    ),
    "Rotation": Augmentation(
        "RandomRotation",
        "Turn by a random angle in [−d, d] degrees.",
        lambda v, size: {"degrees": v["degrees"]},
        (_p("degrees", "Degrees", 15, 0, 180, 1),),
    ),
    "Affine": Augmentation(
        "RandomAffine",
        "Rotate, move, scale and shear at once.",
        lambda v, size: {
            "degrees": v["degrees"],
            "translate": (v["shift"], v["shift"]),
            "scale": (1 - v["zoom"], 1 + v["zoom"]),
            "shear": v["shear"],
        },
        (
            _p("degrees", "Degrees", 10, 0, 180, 1),
            _p("shift", "Shift (share of side)", 0.1, 0, 0.5),
            _p("zoom", "Zoom ±", 0.1, 0, 0.5),
            _p("shear", "Shear (degrees)", 5, 0, 45, 1),
        ),
    ),
    "Perspective": Augmentation(
        "RandomPerspective",
        "Pull the corners as if seen from another angle.",
        lambda v, size: {"distortion_scale": v["distortion"], **SURE},
        (_p("distortion", "Distortion", 0.3, 0.0, 1.0),),
    ),
    "Elastic": Augmentation(
        "ElasticTransform",
        "Bend the image with a smooth random displacement field (slow).",
        lambda v, size: {"alpha": v["alpha"], "sigma": v["sigma"]},
        (
            _p("alpha", "Strength α", 50.0, 0.0, 200.0, 5.0),
            _p("sigma", "Smoothness σ", 5.0, 1.0, 10.0),
        ),
    ),
    "Colour jitter": Augmentation(
        "ColorJitter",
        "Random brightness, contrast, saturation and hue, in a random order.",
        lambda v, size: {k: v[k] for k in ("brightness", "contrast", "saturation", "hue")},
        (
            _p("brightness", "Brightness ±", 0.3),
            _p("contrast", "Contrast ±", 0.3),
            _p("saturation", "Saturation ±", 0.3),
            _p("hue", "Hue ±", 0.05, 0.0, 0.5),
        ),
    ),
    "Grayscale": Augmentation("RandomGrayscale", "Drop the colour.", lambda v, size: SURE),
    "Gaussian blur": Augmentation(
        "GaussianBlur",
        "Blur with a random σ in [0.1, max].",
        lambda v, size: {"kernel_size": v["kernel"], "sigma": (0.1, v["sigma"])},
        (_p("kernel", "Kernel side (odd)", 5, 3, 15, 2), _p("sigma", "Largest σ", 1.5, 0.1, 5.0)),
    ),
    "Gaussian noise": Augmentation(
        "GaussianNoise",
        "Add noise of std σ (in units of the full pixel range).",
        lambda v, size: {"sigma": v["sigma"]},
        (_p("sigma", "σ", 0.05, 0.0, 0.5, 0.01),),
        False,
    ),
    "Random erasing": Augmentation(
        "RandomErasing",
        "Black out a random rectangle (Zhong et al., 2017).",
        lambda v, size: {"scale": (0.02, v["max_area"]), **SURE},
        (_p("max_area", "Largest area share", 0.2, 0.02, 0.5, 0.01),),
        False,
    ),
    "Invert": Augmentation("RandomInvert", "Negative image.", lambda v, size: SURE),
    "Posterize": Augmentation(
        "RandomPosterize",
        "Keep only the top bits of each pixel.",
        lambda v, size: {"bits": v["bits"], **SURE},
        (_p("bits", "Bits kept", 4, 1, 8, 1),),
    ),
    "Solarize": Augmentation(
        "RandomSolarize",
        "Invert pixels brighter than a threshold.",
        lambda v, size: {"threshold": float(v["threshold"]), **SURE},
        (_p("threshold", "Threshold (0-255)", 192, 0, 255, 1),),
    ),
    "AutoAugment": Augmentation(
        "AutoAugment",
        "A policy learned on a data set (Cubuk et al., 2019).",
        lambda v, size: {"policy": POLICIES[v["policy"]]},
        (Param("policy", "Policy", "ImageNet", options=tuple(POLICIES)),),
    ),
    "RandAugment": Augmentation(
        "RandAugment",
        "N random operations at one magnitude (Cubuk et al., 2020).",
        lambda v, size: {"num_ops": v["num_ops"], "magnitude": v["magnitude"]},
        (_p("num_ops", "Operations", 2, 1, 5, 1), _p("magnitude", "Magnitude", 9, 0, 30, 1)),
    ),
    "TrivialAugment": Augmentation(
        "TrivialAugmentWide",
        "One random operation at a random strength (Müller and Hutter, 2021).",
        lambda v, size: {},
    ),
    "AugMix": Augmentation(
        "AugMix",
        "Blend augmentation chains with the original (Hendrycks et al., 2020; slow).",
        lambda v, size: {"severity": v["severity"], "mixture_width": v["width"]},
        (_p("severity", "Severity", 3, 1, 10, 1), _p("width", "Chains", 3, 1, 5, 1)),
    ),
}


class AugmentError(CNNLabError):
    """A pipeline that cannot be built or run, with a reason a user can read."""


@dataclass(frozen=True)
class StepSpec:
    name: str  # a key of AUGMENTATIONS
    values: tuple[tuple[str, Any], ...] = ()  # chosen parameter values; missing: the default
    p: float = 1.0  # probability that the step runs on an image
    enabled: bool = True

    def settings(self) -> dict[str, Any]:
        aug = AUGMENTATIONS[self.name]
        return {q.name: q.default for q in aug.params} | dict(self.values)

    def kwargs(self, size: Size) -> dict[str, Any]:
        return AUGMENTATIONS[self.name].kwargs(self.settings(), size)


@dataclass(frozen=True)
class PipelineSpec:
    steps: tuple[StepSpec, ...] = field(default_factory=tuple)

    @property
    def active(self) -> tuple[StepSpec, ...]:
        return tuple(s for s in self.steps if s.enabled)

    def to_dict(self) -> dict[str, Any]:
        """Plain lists and dicts, for JSON: a run's settings can be saved and compared."""
        steps = [
            {"name": s.name, "values": dict(s.values), "p": s.p, "enabled": s.enabled}
            for s in self.steps
        ]
        return {"steps": steps}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PipelineSpec:
        """The pipeline `to_dict` described; AugmentError for anything else."""
        try:
            steps = tuple(
                StepSpec(
                    s["name"],
                    tuple(s.get("values", {}).items()),
                    float(s.get("p", 1.0)),
                    bool(s.get("enabled", True)),
                )
                for s in d["steps"]
            )
        except (KeyError, TypeError, AttributeError, ValueError) as err:
            raise AugmentError(f"not a pipeline description ({err!r})") from None
        unknown = [s.name for s in steps if s.name not in AUGMENTATIONS]
        if unknown:
            raise AugmentError(f"unknown augmentation {unknown[0]!r}")
        return cls(steps)


DEFAULT_PIPELINE = PipelineSpec(
    (
        StepSpec("Random resized crop", p=1.0),
        StepSpec("Horizontal flip", p=0.5),
        StepSpec("Colour jitter", p=0.8),
        StepSpec("Rotation", p=0.5),
    )
)


def build_step(step: StepSpec, size: Size) -> v2.Transform:
    """The step's v2 transform (without its probability)."""
    if step.name not in AUGMENTATIONS:
        raise AugmentError(f"unknown augmentation {step.name!r}")
    if not 0.0 <= step.p <= 1.0:
        raise AugmentError(f"{step.name}: the probability must be between 0 and 1")
    try:
        return getattr(v2, AUGMENTATIONS[step.name].cls)(**step.kwargs(size))
    except (ValueError, TypeError) as err:
        raise AugmentError(f"{step.name}: {err}") from None


def build_pipeline(spec: PipelineSpec, size: Size) -> v2.Compose:
    """A v2.Compose of the switched-on steps, each in a v2.RandomApply with its probability.

    It works on one image at a time: a uint8 (C, H, W) tensor (C = 1 or 3) or a PIL image, of
    size `size` where a step crops.
    """
    if not spec.active:
        raise AugmentError("the pipeline is empty: switch on at least one step")
    return v2.Compose([v2.RandomApply([build_step(s, size)], p=s.p) for s in spec.active])


def _literal(value: Any) -> str:
    if isinstance(value, enum.Enum):
        return f"v2.{type(value).__name__}.{value.name}"
    return repr(value)


def pipeline_code(spec: PipelineSpec, size: Size) -> str:
    """The pipeline as Python code that builds the same v2.Compose."""
    lines = ["from torchvision.transforms import v2", "", "augment = v2.Compose(["]
    for s in spec.active:
        args = ", ".join(f"{k}={_literal(v)}" for k, v in s.kwargs(size).items())
        lines.append(f"    v2.RandomApply([v2.{AUGMENTATIONS[s.name].cls}({args})], p={s.p!r}),")
    return "\n".join([*lines, "])", ""])


# ---------------------------------------------------------------- sampling with a trace

try:  # the base of the transforms that flip their own coin (flips, erasing, perspective...)
    from torchvision.transforms.v2._transform import _RandomApplyTransform as _CoinTransform
except ImportError:  # a later torchvision may move it; then their parameters go unshown
    _CoinTransform = None


def _exposes_params(t: v2.Transform) -> bool:
    """True when `forward` is the plain "sample parameters, then apply" of the base classes."""
    plain = [v2.Transform.forward] + ([_CoinTransform.forward] if _CoinTransform else [])
    return type(t).forward in plain


def _show(value: Any) -> str:
    if isinstance(value, torch.Tensor):
        return (
            _show(value.flatten().tolist())
            if value.numel() <= 4
            else f"a {tuple(value.shape)} field"
        )
    if isinstance(value, float):
        return f"{value:.3g}"
    if isinstance(value, (list, tuple)):
        return "(" + ", ".join(_show(v) for v in value) + ")"
    return str(value)


def describe_params(params: dict[str, Any]) -> str:
    """The parameters a transform drew, as short text ("angle=12.3, translate=(1, -2)")."""
    shown = [
        f"{k}={_show(v)}" for k, v in params.items() if v is not None and not k.startswith("needs_")
    ]
    return ", ".join(shown) if shown else "no random choices"


def apply_traced(t: v2.Transform, step: StepSpec, image: Any) -> tuple[Any, str]:
    """Run one step as v2.RandomApply would (same random draws), saying what it chose."""
    if torch.rand(1) >= step.p:
        return image, f"{step.name}: skipped (p = {step.p:g})"
    if not AUGMENTATIONS[step.name].pil and isinstance(image, Image.Image):
        image = TF.pil_to_tensor(image)
    if not _exposes_params(t):
        return t(image), f"{step.name}: applied (its choices stay inside torchvision)"
    if _CoinTransform is not None and isinstance(t, _CoinTransform):
        torch.rand(1)  # its own coin, fixed at p = 1, is still drawn
    t.check_inputs([image])
    params = t.make_params([image])
    return t.transform(image, params), f"{step.name}: {describe_params(params)}"


def _pixels(image: Any) -> np.ndarray:
    if isinstance(image, Image.Image):
        return np.asarray(image.convert("RGB"))
    return (
        image.permute(1, 2, 0).expand(-1, -1, 3).numpy()
        if image.shape[0] == 1
        else (image.permute(1, 2, 0).numpy())
    )


def preview_image(image: Image.Image, side: int = 224) -> Image.Image:
    """The image, RGB, shrunk so that its longer side is at most `side` pixels."""
    picture = image.convert("RGB")
    scale = min(1.0, side / max(picture.size))
    if scale < 1.0:
        size = (max(1, round(picture.width * scale)), max(1, round(picture.height * scale)))
        picture = picture.resize(size, Image.Resampling.BILINEAR)
    return picture


@dataclass(frozen=True)
class GridSample:
    original: np.ndarray  # (H, W, 3) uint8
    images: tuple[np.ndarray, ...]  # each (H', W', 3) uint8
    notes: tuple[tuple[str, ...], ...]  # per image, one line per step: what it drew


def sample_grid(
    image: Image.Image, spec: PipelineSpec, n: int = 16, seed: int = 0, side: int = 224
) -> GridSample:
    """`n` augmented versions of the image; the same seed gives the same grid.

    Steps run on PIL images where torchvision allows it (fast geometry), else on uint8 tensors.
    """
    picture = preview_image(image, side)
    size = (picture.height, picture.width)
    transforms = [build_step(s, size) for s in spec.active]
    images, notes = [], []
    stream = RandomStream(seed, numpy=False)  # torchvision's v2 transforms draw from torch only
    for _ in range(n):
        current, lines = picture, []
        with private_stream(stream):  # one image at a time: others get the lock in between
            for t, step in zip(transforms, spec.active, strict=True):
                try:
                    current, line = apply_traced(t, step, current)
                except (ValueError, TypeError, RuntimeError) as err:
                    raise AugmentError(f"{step.name} failed on this image: {err}") from None
                lines.append(line)
        images.append(_pixels(current))
        notes.append(tuple(lines))
    return GridSample(np.asarray(picture), tuple(images), tuple(notes))
