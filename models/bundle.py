"""A model together with what is needed to feed it and read its output."""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass, field

from torch import nn

from models.network.spec import NetworkSpec


@dataclass
class ModelBundle:
    """A network, its input shape, normalization and class names.

    `lock` must be held while hooks or Captum run on `model` (hooks on a shared model leak
    between sessions; see DESIGN.md). `spec` is None for models not built from a spec
    (torchvision networks).
    """

    model: nn.Module
    name: str
    input_shape: tuple[int, int, int]  # (C, H, W) the model expects
    class_names: tuple[str, ...]
    mean: tuple[float, ...]  # per channel, applied after scaling pixels to [0, 1]
    std: tuple[float, ...]
    spec: NetworkSpec | None = None
    trained: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)
    # A value that names this bundle's weights for caches: new for every bundle, never reused
    # (unlike id(), which Python hands out again after garbage collection).
    token: str = field(default_factory=lambda: uuid.uuid4().hex, repr=False, compare=False)


def untrained_bundle(spec: NetworkSpec, seed: int = 0) -> ModelBundle:
    """A freshly initialised network for a spec, in eval mode, with neutral normalization."""
    from models.network.build import build_model

    c = spec.input_shape[0]
    n_out = spec.output_shape[0] if len(spec.output_shape) == 1 else 0
    model = build_model(spec, seed=seed).eval()
    names = tuple(f"class {i}" for i in range(n_out))
    return ModelBundle(
        model, "untrained network", spec.input_shape, names, (0.5,) * c, (0.25,) * c, spec
    )
