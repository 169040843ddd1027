"""Well-known torchvision networks (ResNet-18, VGG-11, MobileNetV3-Small) as model bundles.

Untrained they build offline. Their ImageNet weights are downloaded once by torchvision into
its cache (~/.cache/torch/hub); without a network that fails, and `build_zoo_model` says so in
plain words. Caching the built model for every session (read-only) is the UI's job.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from torch import nn
from torchvision import models as tv

from models.bundle import ModelBundle
from models.errors import CNNLabError
from models.rng import GLOBAL_RNG_LOCK

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
INPUT_SHAPE = (3, 224, 224)


class ZooError(CNNLabError):
    """A torchvision model that cannot be had, with a reason a user can read."""


@dataclass(frozen=True)
class ZooEntry:
    builder: Callable[..., nn.Module]
    weights: tv.WeightsEnum
    about: str


ZOO: dict[str, ZooEntry] = {
    "resnet18": ZooEntry(
        tv.resnet18,
        tv.ResNet18_Weights.IMAGENET1K_V1,
        "He et al. (2016): 18 layers in residual blocks; 11.7 M parameters.",
    ),
    "vgg11": ZooEntry(
        tv.vgg11,
        tv.VGG11_Weights.IMAGENET1K_V1,
        "Simonyan and Zisserman (2015): 8 plain 3×3 conv layers and 3 big dense "
        "layers; 133 M parameters (about 0.5 GB).",
    ),
    "mobilenet_v3_small": ZooEntry(
        tv.mobilenet_v3_small,
        tv.MobileNet_V3_Small_Weights.IMAGENET1K_V1,
        "Howard et al. (2019): depthwise separable blocks with "
        "squeeze-and-excitation, built for phones; 2.5 M parameters.",
    ),
}


def bundle_name(name: str, pretrained: bool) -> str:
    return f"{name} ({'ImageNet weights' if pretrained else 'untrained'})"


def architecture(bundle: ModelBundle) -> str | None:
    """The zoo name of a bundle built here, else None."""
    first = bundle.name.split(" ", 1)[0]
    return first if first in ZOO and bundle.spec is None else None


def _load(entry: ZooEntry, name: str, pretrained: bool) -> nn.Module:
    # torchvision initialises from the global generator: hold the lock so that no session's
    # private random stream (models/rng.py) is swapped in while it draws. The download of the
    # weights happens outside it, so a slow network stalls no one else.
    with GLOBAL_RNG_LOCK:
        model = entry.builder(weights=None)
    if not pretrained:
        return model
    try:
        model.load_state_dict(entry.weights.get_state_dict(progress=False))
        return model
    except (OSError, RuntimeError, ValueError) as err:  # URLError is an OSError
        raise ZooError(
            f"The ImageNet weights of {name} could not be loaded ({type(err).__name__}: "
            f"{err}). They are downloaded once and then cached, so this needs an internet "
            f"connection the first time. The untrained {name} works offline."
        ) from None


def build_zoo_model(name: str, pretrained: bool = False) -> ModelBundle:
    """A torchvision network in eval mode, its weights frozen, as a bundle at 224×224."""
    if name not in ZOO:
        raise ZooError(f"unknown model {name!r}; choose one of {', '.join(ZOO)}")
    entry = ZOO[name]
    model = _load(entry, name, pretrained).eval()
    model.requires_grad_(False)  # shared read-only; input gradients still flow
    if pretrained:
        classes = tuple(entry.weights.meta["categories"])
    else:
        classes = tuple(f"class {i}" for i in range(1000))
    return ModelBundle(
        model,
        bundle_name(name, pretrained),
        INPUT_SHAPE,
        classes,
        IMAGENET_MEAN,
        IMAGENET_STD,
        spec=None,
        trained=pretrained,
    )
