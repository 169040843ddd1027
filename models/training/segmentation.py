"""Segmentation runs: the data and U-Net of one setup as a training request, and what a trained
U-Net is measured and downloaded with.

A `SegmentationSetup` says everything one run is made of; `segmentation_request` draws the
scenes (cached), splits them, builds the U-Net and hands the executor a `TrainRequest` with
`task="segment"`, so the engine trains it with per-pixel cross-entropy and reports the mean
foreground IoU. `measure` scores a trained model on the validation images afterwards.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image
from torch import nn

from models.data.datasets import PreparedData, channel_stats
from models.data.masks import MaskData, MaskDataError, MaskStyle, Scene, make_masks
from models.network.unet import UNetSpec, build_unet
from models.training.engine import TrainConfig, input_stats, mask_iou
from models.training.executor.runner import TrainRequest

FLIPS_NOTE = "no augmentation: the engine's flips would move the image but not its mask"


@dataclass(frozen=True)
class SegmentationSetup:
    """One segmentation run; the defaults reach IoU ≥ 0.8 within seconds on a laptop CPU."""

    images: int = 1500  # scenes drawn; 1,200 train after the 20% validation split
    size: int = 32  # image side in pixels
    noise: float = 0.0  # background noise std, in [0, 1] pixel units
    labels: str = "binary"  # "binary" (shape or not) or "shape" (one class per shape kind)
    width: int = 8  # the U-Net's first-level channels
    depth: int = 2  # the U-Net's pooling steps
    skips: bool = True  # the U-Net's skip connections
    epochs: int = 4  # passes over the training images
    batch_size: int = 16  # images per step
    lr: float = 1e-2  # the one-cycle peak of Adam's learning rate
    val_fraction: float = 0.2  # share of the scenes held out for validation
    seed: int = 0  # draws the scenes, the split and the initial weights

    def style(self) -> MaskStyle:
        return MaskStyle(size=self.size, noise=self.noise)

    def spec(self, classes: int) -> UNetSpec:
        return UNetSpec(3, classes, self.width, self.depth, self.skips)

    def config(self) -> TrainConfig:
        return TrainConfig(
            epochs=self.epochs,
            batch_size=self.batch_size,
            lr=self.lr,
            task="segment",
            seed=self.seed,
            log_every=5,
            device="cpu",
        )

    def describe(self) -> str:
        """The setup in words, from its own values (for the page's text)."""
        train = round(self.images * (1 - self.val_fraction))
        kind = "shape or background" if self.labels == "binary" else "one class per shape kind"
        return (
            f"{self.size}×{self.size} images, {self.images:,} scenes (about {train:,} to "
            f"train), masks of {kind}, {self.epochs} epochs in batches of {self.batch_size}"
        )


def scenes(setup: SegmentationSetup) -> MaskData:
    """The setup's scenes (cached by the generator)."""
    return make_masks(setup.images, setup.seed, setup.style(), setup.labels)


def split(data: MaskData, val_fraction: float, seed: int) -> PreparedData:
    """A random train/validation split, with colour statistics from the training images."""
    if not 0 < val_fraction < 1:
        raise MaskDataError(f"the validation share must be between 0 and 1, not {val_fraction}")
    n = len(data.y)
    n_val = min(max(1, round(n * val_fraction)), n - 2)
    if n_val < 1:
        raise MaskDataError("a segmentation run needs at least 3 images")
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    val, train = order[:n_val].sort().values, order[n_val:].sort().values
    mean, std = channel_stats(data.x[train])
    return PreparedData(
        data.x[train],
        data.y[train],
        data.x[val],
        data.y[val],
        data.class_names,
        mean,
        std,
        data.name,
    )


def segmentation_request(setup: SegmentationSetup, name: str = "U-Net") -> TrainRequest:
    """The setup as a run for the executor: scenes, split, a fresh seeded U-Net, the config."""
    data = scenes(setup)
    spec = setup.spec(len(data.class_names))
    spec.check_size(setup.size)
    prepared = split(data, setup.val_fraction, setup.seed)
    return TrainRequest(name, build_unet(spec, setup.seed), prepared, setup.config())


def sample_scenes(setup: SegmentationSetup, n: int = 50) -> tuple[Scene, ...]:
    """A few scenes in the setup's style, drawn apart from the training set (quick to draw)."""
    return make_masks(n, setup.seed + 1, setup.style(), setup.labels).scenes


def _val_indices(setup: SegmentationSetup) -> list[int]:
    """The validation split's scene indices, as `split` draws them for this setup."""
    n = setup.images
    n_val = min(max(1, round(n * setup.val_fraction)), n - 2)
    order = torch.randperm(n, generator=torch.Generator().manual_seed(setup.seed))
    return order[:n_val].sort().values.tolist()


def validation_preview(setup: SegmentationSetup, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The first `n` validation images, uint8 (n, H, W, 3), and their true masks (n, H, W)."""
    data, idx = scenes(setup), _val_indices(setup)[:n]
    return data.x[idx].permute(0, 2, 3, 1).numpy(), data.y[idx].numpy()


@torch.no_grad()
def predict_masks(
    model: nn.Module, x: torch.Tensor, mean: tuple[float, ...], std: tuple[float, ...]
) -> torch.Tensor:
    """uint8 (N, H, W) predicted classes for uint8 (N, C, H, W) images, in eval mode."""
    m = torch.tensor(mean).view(1, -1, 1, 1)
    s = torch.tensor(std).view(1, -1, 1, 1)
    was = model.training
    model.eval()
    out = torch.cat([model((xb.float() / 255 - m) / s).argmax(1) for xb in x.split(256)])
    model.train(was)
    return out.to(torch.uint8)


@dataclass(frozen=True)
class SegmentationResult:
    """A trained U-Net measured on the validation images."""

    iou: np.ndarray  # (N,) each image's mean foreground IoU
    pixel_accuracy: float  # share of validation pixels given their true class
    boundary_accuracy: float  # the same, on pixels next to a class change only
    predictions: np.ndarray  # uint8 (N, H, W)

    @property
    def mean_iou(self) -> float:
        return float(self.iou.mean())


def boundary(y: torch.Tensor) -> torch.Tensor:
    """True on pixels with a 4-neighbour of another class: the masks' edges. (N, H, W) bool."""
    edge = torch.zeros_like(y, dtype=torch.bool)
    edge[:, 1:] |= y[:, 1:] != y[:, :-1]
    edge[:, :-1] |= y[:, 1:] != y[:, :-1]
    edge[:, :, 1:] |= y[:, :, 1:] != y[:, :, :-1]
    edge[:, :, :-1] |= y[:, :, 1:] != y[:, :, :-1]
    return edge


def measure(
    model: nn.Module, data: PreparedData, inputs: str = "standardize"
) -> SegmentationResult:
    """IoU per validation image, pixel accuracy overall and on the masks' edges."""
    mean, std = input_stats(inputs, data.mean, data.std)
    pred = predict_masks(model, data.val_x, mean, std).long()
    y = data.val_y
    right, edge = pred == y, boundary(y)
    return SegmentationResult(
        mask_iou(pred, y).numpy(),
        right.float().mean().item(),
        right[edge].float().mean().item() if edge.any() else 1.0,
        pred.to(torch.uint8).numpy(),
    )


def box(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    """The smallest box (x0, y0, x1, y1), inclusive, around a mask's True pixels; None if empty."""
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return None
    return int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max())


@dataclass(frozen=True)
class ThreeTasks:
    """One scene labelled three ways: a name, a box per shape, a class per pixel."""

    label: str  # classification: the largest visible shape's kind
    boxes: tuple[tuple[str, tuple[int, int, int, int]], ...]  # detection: (kind, box) per shape
    instances: np.ndarray  # segmentation: uint8 (H, W), 0 background, i + 1 the i-th shape


def three_tasks(scene: Scene) -> ThreeTasks:
    """What a classifier, a detector and a segmenter are each taught about the same image."""
    visible = [(scene.instances == i + 1) for i in range(len(scene.shapes))]
    kinds = [s.kind for s in scene.shapes]
    boxes = tuple((k, b) for k, m in zip(kinds, visible, strict=True) if (b := box(m)))
    largest = int(np.argmax([m.sum() for m in visible]))
    return ThreeTasks(kinds[largest], boxes, scene.instances)


def iou_csv(result: SegmentationResult) -> str:
    """One row per validation image: its index and IoU."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["image", "iou"])
    writer.writerows((i, f"{v:.4f}") for i, v in enumerate(result.iou))
    return out.getvalue()


def masks_png(masks: np.ndarray, classes: int) -> bytes:
    """Predicted masks side by side as one grey PNG (class k drawn as k × 255 ÷ (classes − 1))."""
    strip = np.concatenate(list(masks), axis=1).astype(np.float32)
    grey = np.rint(strip * 255 / max(classes - 1, 1)).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(grey, mode="L").save(buffer, format="PNG")
    return buffer.getvalue()


def state_dict_bytes(model: nn.Module) -> bytes:
    """The weights as `torch.save` bytes; read them with `torch.load(..., weights_only=True)`."""
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    return buffer.getvalue()
