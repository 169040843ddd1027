"""Image data sets for training: built-in sets, split and fitted to a network.

Every set becomes an `ImageData`: uint8 images (N, C, H, W) with int64 labels and class names.
Keeping uint8 until a batch is drawn uses a quarter of the memory of float32, which matters on a
classroom server where every student holds a copy. `prepare` resizes to the network's input,
makes a stratified train/validation split and takes normalization statistics from the training
split only, so nothing about the validation images leaks into training. Downloaded sets live in
`models/data/downloads.py`, uploaded zips in `models/data/zipdata.py`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace

import numpy as np
import torch
import torch.nn.functional as F

from models.data.shapes import SHAPE_CLASSES, ShapeStyle, make_shapes
from models.errors import CNNLabError
from models.network.spec import LinearSpec, NetworkSpec, SpecError

LUMA = (0.299, 0.587, 0.114)  # ITU-R 601 weights for RGB -> gray


class DataError(CNNLabError):
    """A data set that cannot be used, with a reason a user can read."""


@dataclass(frozen=True)
class ImageData:
    x: torch.Tensor  # (N, C, H, W) uint8
    y: torch.Tensor  # (N,) int64 class indices
    class_names: tuple[str, ...]
    name: str

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.x.shape[1:])  # type: ignore[return-value]

    def counts(self) -> dict[str, int]:
        """Images per class, by name."""
        per = torch.bincount(self.y, minlength=len(self.class_names)).tolist()
        return dict(zip(self.class_names, per, strict=True))


@dataclass(frozen=True)
class PreparedData:
    """A train/validation split at the network's input size, with training-split statistics."""

    train_x: torch.Tensor  # (N, C, H, W) uint8
    train_y: torch.Tensor
    val_x: torch.Tensor
    val_y: torch.Tensor
    class_names: tuple[str, ...]
    mean: tuple[float, ...]  # per channel, of pixels scaled to [0, 1]
    std: tuple[float, ...]
    name: str


@functools.lru_cache(maxsize=2)
def digits() -> ImageData:
    """scikit-learn's 1,797 handwritten digits, 8×8 gray, values 0..16 scaled to 0..255."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = torch.from_numpy(np.rint(bunch.images * (255 / 16)).astype(np.uint8))[:, None]
    y = torch.from_numpy(bunch.target.astype(np.int64))
    return ImageData(x, y, tuple(str(d) for d in range(10)), "digits")


@functools.lru_cache(maxsize=4)
def shapes(
    n: int = 4000, seed: int = 0, noise: float = 0.0, imbalance: float = 1.0, spread: float = 0.3
) -> ImageData:
    """The generated coloured shapes (64×64 RGB); cached so a rerun does not redraw them."""
    images, labels = make_shapes(n, seed, ShapeStyle(noise=noise, spread=spread), imbalance)
    x = torch.from_numpy(images).permute(0, 3, 1, 2).contiguous()  # (N, 3, H, W)
    return ImageData(x, torch.from_numpy(labels), SHAPE_CLASSES, "shapes")


# ---------------------------------------------------------------- fitting and splitting


def convert_channels(x: torch.Tensor, channels: int) -> torch.Tensor:
    """uint8 (N, C, H, W) images with `channels` channels: gray <-> RGB."""
    c = x.shape[1]
    if c == channels:
        return x
    if c == 1:
        return x.expand(-1, channels, -1, -1).contiguous()
    if c == 3 and channels == 1:
        w = torch.tensor(LUMA).view(1, 3, 1, 1)
        return (x.float() * w).sum(1, keepdim=True).round().clamp(0, 255).to(torch.uint8)
    raise DataError(f"cannot turn {c}-channel images into {channels}-channel ones")


def resize(x: torch.Tensor, size: tuple[int, int], chunk: int = 1024) -> torch.Tensor:
    """uint8 images resized (bilinear, antialiased when shrinking), in chunks to cap memory."""
    if tuple(x.shape[2:]) == tuple(size):
        return x
    out = [
        F.interpolate(part.float(), size=size, mode="bilinear", antialias=True, align_corners=False)
        .round_()
        .clamp_(0, 255)
        .to(torch.uint8)
        for part in x.split(chunk)
    ]
    return torch.cat(out)


def fit_data(data: ImageData, input_shape: tuple[int, int, int]) -> ImageData:
    """The images converted to the network's channels and resized to its height and width."""
    x = resize(convert_channels(data.x, input_shape[0]), tuple(input_shape[1:]))
    return replace(data, x=x)


def stratified_split(
    y: torch.Tensor, val_fraction: float, seed: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Train and validation indices with each class in the same proportion in both."""
    if not 0 < val_fraction < 1:
        raise DataError(f"the validation share must be between 0 and 1, not {val_fraction}")
    gen = torch.Generator().manual_seed(seed)
    train, val = [], []
    for c in torch.unique(y):
        idx = torch.nonzero(y == c).flatten()
        idx = idx[torch.randperm(len(idx), generator=gen)]
        n_val = min(max(1, round(len(idx) * val_fraction)), len(idx) - 1) if len(idx) > 1 else 0
        val.append(idx[:n_val])
        train.append(idx[n_val:])
    return torch.cat(train).sort().values, torch.cat(val).sort().values


def channel_stats(
    x: torch.Tensor, chunk: int = 1024
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and std of uint8 images scaled to [0, 1]."""
    total = torch.zeros(x.shape[1], dtype=torch.float64)
    squares = torch.zeros_like(total)
    for part in x.split(chunk):
        p = part.double() / 255
        total += p.sum((0, 2, 3))
        squares += (p * p).sum((0, 2, 3))
    n = x.shape[0] * x.shape[2] * x.shape[3]
    mean = total / n
    std = (squares / n - mean**2).clamp_min(1e-12).sqrt().clamp_min(1e-3)
    return tuple(mean.tolist()), tuple(std.tolist())


def prepare(
    data: ImageData, input_shape: tuple[int, int, int], val_fraction: float = 0.2, seed: int = 0
) -> PreparedData:
    """Fit the images to the network, split them, and measure the training split."""
    if len(data.y) < 4:
        raise DataError(f"{len(data.y)} images are too few to train and validate on")
    fitted = fit_data(data, input_shape)
    tr, va = stratified_split(fitted.y, val_fraction, seed)
    if len(va) == 0:
        raise DataError("every class has a single image: nothing is left to validate on")
    mean, std = channel_stats(fitted.x[tr])
    return PreparedData(
        fitted.x[tr],
        fitted.y[tr],
        fitted.x[va],
        fitted.y[va],
        data.class_names,
        mean,
        std,
        data.name,
    )


@dataclass(frozen=True)
class FitReport:
    """How a data set and a network disagree; empty `problems` when they fit."""

    problems: tuple[str, ...]
    classes_match: bool


def check_fit(data: ImageData, spec: NetworkSpec) -> FitReport:
    """Compare the data's channels, size and classes with the network's input and output."""
    (c, h, w), (nc, nh, nw) = data.shape, spec.input_shape
    out, k = spec.output_shape, len(data.class_names)
    problems = []
    if c != nc:
        problems.append(f"the images have {c} channel(s), the network expects {nc}")
    if (h, w) != (nh, nw):
        problems.append(f"the images are {h}×{w}, the network expects {nh}×{nw}")
    classes_match = out == (k,)
    if not classes_match:
        problems.append(
            f"the data has {k} classes, the network has {'×'.join(map(str, out))} outputs"
        )
    return FitReport(tuple(problems), classes_match)


def adapt_spec(spec: NetworkSpec, data: ImageData) -> NetworkSpec:
    """The network with the data's input shape and one output per class (last linear layer)."""
    last = max((i for i, ly in enumerate(spec.layers) if isinstance(ly, LinearSpec)), default=None)
    if last is None:
        raise SpecError("the network has no linear layer whose outputs could become the classes")
    layers = list(spec.layers)
    layers[last] = replace(layers[last], out_features=len(data.class_names))
    adapted = NetworkSpec(data.shape, tuple(layers))
    if adapted.output_shape != (len(data.class_names),):
        raise SpecError("layers after the last linear layer change the number of outputs")
    return adapted
