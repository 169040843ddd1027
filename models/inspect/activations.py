"""What every layer of a network computes for one image, read with hooks that never leak.

Hooks are registered only inside `hooked()`, which removes them in `finally`, and only while the
model's lock is held: a forward hook left on a model that several sessions share would write one
student's activations into another's results (DESIGN.md, "State, caching and concurrency").
"""

from __future__ import annotations

import io
import threading
import weakref
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image
from torch import nn

from models.bundle import ModelBundle
from models.errors import CNNLabError
from models.inputs import bundle_input, image_to_pixels, normalize_pixels

ACTIVATION_TYPES = (
    nn.ReLU,
    nn.ReLU6,
    nn.LeakyReLU,
    nn.ELU,
    nn.GELU,
    nn.Sigmoid,
    nn.Tanh,
    nn.SiLU,
    nn.Hardswish,
    nn.Hardsigmoid,
    nn.Hardtanh,
)
SCALES = {  # CNN Explainer's local, module and global colour ranges
    "channel": "each channel its own range",
    "layer": "one range for the layer",
    "network": "one range for the whole network",
}

_LOCKS: weakref.WeakKeyDictionary[nn.Module, threading.Lock] = weakref.WeakKeyDictionary()
_LOCKS_GUARD = threading.Lock()


class ActivationError(CNNLabError):
    """A request for activations that cannot be met, with a reason a user can read."""


@dataclass
class Capture:
    """The outputs (and, where asked, inputs) of the hooked layers, and the model's output."""

    outputs: dict[str, torch.Tensor]
    inputs: dict[str, torch.Tensor]
    result: torch.Tensor


def model_lock(bundle_or_model: ModelBundle | nn.Module) -> tuple[nn.Module, threading.Lock]:
    """The model and the lock to hold while hooks run on it (the bundle's own lock if given)."""
    if isinstance(bundle_or_model, ModelBundle):
        return bundle_or_model.model, bundle_or_model.lock
    with _LOCKS_GUARD:
        lock = _LOCKS.setdefault(bundle_or_model, threading.Lock())
    return bundle_or_model, lock


def _device(model: nn.Module) -> torch.device:
    param = next(model.parameters(), None)
    return param.device if param is not None else torch.device("cpu")


def _saver(store: dict[str, torch.Tensor], name: str, keep_graph: bool) -> Callable:
    def save(_module: nn.Module, _inputs: tuple, output) -> None:
        out = output[0] if isinstance(output, (tuple, list)) else output
        if isinstance(out, torch.Tensor):
            # clone: in-place layers (ReLU(inplace=True), `out += identity`) change it later
            store[name] = out if keep_graph else out.detach().clone()

    return save


def _input_saver(store: dict[str, torch.Tensor], name: str) -> Callable:
    def save(_module: nn.Module, inputs: tuple) -> None:
        if inputs and isinstance(inputs[0], torch.Tensor):
            store[name] = inputs[0].detach().clone()

    return save


@contextmanager
def hooked(
    model: nn.Module,
    names: Sequence[str],
    outputs: dict[str, torch.Tensor],
    inputs: dict[str, torch.Tensor] | None = None,
    inputs_of: Sequence[str] = (),
    keep_graph: bool = False,
) -> Iterator[None]:
    """Record the named layers' outputs (and inputs) into the dicts; hooks go when it ends."""
    modules = dict(model.named_modules())
    missing = [n for n in (*names, *inputs_of) if n not in modules]
    if missing:
        raise ActivationError(f"the model has no layer called {', '.join(map(repr, missing))}")
    handles = []
    try:
        for name in names:
            handles.append(modules[name].register_forward_hook(_saver(outputs, name, keep_graph)))
        for name in inputs_of:
            store = inputs if inputs is not None else {}
            handles.append(modules[name].register_forward_pre_hook(_input_saver(store, name)))
        yield
    finally:
        for handle in handles:
            handle.remove()


def capture_activations(
    bundle_or_model: ModelBundle | nn.Module,
    x: torch.Tensor,
    layer_names: Sequence[str],
    inputs_of: Sequence[str] = (),
) -> Capture:
    """Run `x` through the model once and keep the named layers' outputs (detached copies).

    The model's lock is held for the whole pass, so concurrent callers take turns.
    """
    model, lock = model_lock(bundle_or_model)
    outputs: dict[str, torch.Tensor] = {}
    inputs: dict[str, torch.Tensor] = {}
    with lock, hooked(model, layer_names, outputs, inputs, inputs_of), torch.no_grad():
        result = model(x.to(_device(model)))
    return Capture(outputs, inputs, result)


def model_view(image: Image.Image, input_shape: tuple[int, ...]) -> np.ndarray:
    """The image resized to the model's input, as (H, W, C) floats in [0, 1], before normalizing.

    The pixels of `models.inputs.image_to_pixels`, the one path every page uses.
    """
    _check_channels(input_shape)
    return image_to_pixels(image, input_shape)[0].permute(1, 2, 0).numpy()


def normalize(pixels: np.ndarray, bundle: ModelBundle) -> torch.Tensor:
    """(N, H, W, C) or (H, W, C) pixels in [0, 1] -> a normalized (N, C, H, W) tensor."""
    x = torch.from_numpy(np.ascontiguousarray(pixels, dtype=np.float32))
    x = (x[None] if x.dim() == 3 else x).permute(0, 3, 1, 2)
    return normalize_pixels(x, bundle.mean, bundle.std)


def prepare_input(image: Image.Image, bundle: ModelBundle) -> torch.Tensor:
    """The image as the model's input, resized, scaled and normalized: (1, C, H, W)."""
    _check_channels(bundle.input_shape)
    return bundle_input(bundle, image)


def _check_channels(input_shape: tuple[int, ...]) -> None:
    if input_shape[0] not in (1, 3):
        raise ActivationError(
            f"this model expects {input_shape[0]} input channels; a picture gives 1 or 3"
        )


def candidate_layers(module: nn.Module, prefix: str = "") -> list[str]:
    """Layer names along the network's depth: children, opening every `nn.Sequential`.

    A residual or inception block stays one unit (its output is what flows on); a Sequential
    is opened because its output is simply its last child's.
    """
    names = []
    for name, child in module.named_children():
        full = f"{prefix}.{name}" if prefix else name
        is_seq = isinstance(child, nn.Sequential) and len(child) > 0
        names.extend(candidate_layers(child, full) if is_seq else [full])
    return names


@dataclass(frozen=True)
class LayerMaps:
    """One layer's output for one image: (C, H, W); `before` is an activation's input."""

    name: str
    kind: str  # the module's class name, e.g. "Conv2d", "ReLU"
    maps: np.ndarray  # (C, H, W) float32
    before: np.ndarray | None = None

    @property
    def is_activation(self) -> bool:
        return self.before is not None

    @property
    def zero_share(self) -> float:
        """The share of exact zeros in the output (sparsity after a ReLU)."""
        return float(np.mean(self.maps == 0.0))


@dataclass(frozen=True)
class FeatureMaps:
    """Every image-shaped layer output of a network for one image, in the order they ran."""

    image: np.ndarray  # (H, W, C) in [0, 1]: the picture as the model sees it
    layers: tuple[LayerMaps, ...]
    output: np.ndarray  # the model's output (logits) for the image

    @property
    def names(self) -> list[str]:
        return [layer.name for layer in self.layers]

    def layer(self, name: str) -> LayerMaps:
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise ActivationError(f"no feature maps for a layer called {name!r}")


def compute_feature_maps(bundle: ModelBundle, image: Image.Image) -> FeatureMaps:
    """Run the image through the model and keep every image-shaped layer output, in order."""
    model = bundle.model
    names = candidate_layers(model)
    modules = dict(model.named_modules())
    acts = [n for n in names if isinstance(modules[n], ACTIVATION_TYPES)]
    pixels = model_view(image, bundle.input_shape)
    try:
        cap = capture_activations(bundle, normalize(pixels, bundle), names, inputs_of=acts)
    except RuntimeError as err:  # shape mismatches inside the model's own forward
        raise ActivationError(f"the model could not run on this input: {err}") from None
    layers = []
    for name, out in cap.outputs.items():  # insertion order is the order the layers ran
        if out.dim() != 4:
            continue
        before = cap.inputs.get(name)
        keep_before = before is not None and before.shape == out.shape
        layers.append(
            LayerMaps(
                name, type(modules[name]).__name__, _np(out), _np(before) if keep_before else None
            )
        )
    if not layers:
        raise ActivationError("this model has no layer with image-shaped output to show")
    return FeatureMaps(pixels, tuple(layers), _np(cap.result.reshape(1, -1)))


def _np(t: torch.Tensor) -> np.ndarray:
    return t[0].float().cpu().numpy()


def color_ranges(fm: FeatureMaps, name: str, scale: str) -> np.ndarray:
    """(C, 2) low and high of the colour scale for each channel of a layer.

    "channel": each channel its own min and max; "layer": the layer's; "network": the min and
    max over every layer's output (CNN Explainer's local, module and global).
    """
    maps = fm.layer(name).maps
    if scale == "channel":
        flat = maps.reshape(len(maps), -1)
        return np.stack([flat.min(axis=1), flat.max(axis=1)], axis=1)
    if scale == "layer":
        lo, hi = float(maps.min()), float(maps.max())
    elif scale == "network":
        lo = min(float(layer.maps.min()) for layer in fm.layers)
        hi = max(float(layer.maps.max()) for layer in fm.layers)
    else:
        raise ActivationError(f"unknown colour scale {scale!r}; choose one of {list(SCALES)}")
    return np.tile(np.array([[lo, hi]], dtype=np.float32), (len(maps), 1))


def channel_order(maps: np.ndarray) -> np.ndarray:
    """Channel indices from the highest mean activation to the lowest (stable on ties)."""
    return np.argsort(-maps.reshape(len(maps), -1).mean(axis=1), kind="stable")


def zero_shares(fm: FeatureMaps) -> list[tuple[str, float]]:
    """(layer name, share of zeros) for each activation layer, in depth order."""
    return [(layer.name, layer.zero_share) for layer in fm.layers if layer.is_activation]


def strongest_channels(fm: FeatureMaps, per_layer: int = 4) -> list[tuple[str, np.ndarray]]:
    """Each layer's `per_layer` channels with the highest mean: (name, (k, H, W)) per layer."""
    return [(ly.name, ly.maps[channel_order(ly.maps)[:per_layer]]) for ly in fm.layers]


def maps_npz(fm: FeatureMaps) -> bytes:
    """All the feature maps as a NumPy .npz file (one array per layer, plus the input)."""
    buffer = io.BytesIO()
    arrays = {"input": fm.image} | {layer.name: layer.maps for layer in fm.layers}
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue()


def round3(values: tuple[float, ...]) -> tuple[float, ...]:
    """Numbers rounded for a caption: (0.501, 0.5, 0.497)."""
    return tuple(round(float(v), 3) for v in values)
