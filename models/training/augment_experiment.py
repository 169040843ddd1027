"""Augmentation on whole batches and in a training run: MixUp and CutMix, and the experiment.

MixUp and CutMix mix pairs of labelled images, so they are shown on a batch of shapes rather
than on one image. The experiment trains the same small network on the same shapes twice,
without and with a pipeline from `models.data.augment`, so the two validation curves can be
compared.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torchvision.transforms import v2

from models.data.augment import AugmentError, PipelineSpec, build_pipeline
from models.rng import RandomStream, private_stream

MIXES = {"MixUp": v2.MixUp, "CutMix": v2.CutMix}


@dataclass(frozen=True)
class MixResult:
    originals: np.ndarray  # (N, H, W, 3) uint8
    mixed: np.ndarray  # (N, H, W, 3) uint8
    targets: np.ndarray  # (N, K): the soft labels the loss is given
    class_names: tuple[str, ...]

    def label(self, i: int) -> str:
        """The two largest shares of image i's target, like "0.62 star + 0.38 ring"."""
        top = np.argsort(-self.targets[i])[:2]
        return " + ".join(
            f"{self.targets[i, k]:.2f} {self.class_names[k]}"
            for k in top
            if self.targets[i, k] > 0.005
        )


def mix_batch(kind: str, alpha: float = 1.0, n: int = 8, seed: int = 0) -> MixResult:
    """A batch of shapes mixed by MixUp (blend two images) or CutMix (paste a patch of one).

    Both pair each image with its neighbour in the batch and mix the one-hot labels in the same
    proportion, so they work on a batch with labels, not on single images.
    """
    from models.data.shapes import SHAPE_CLASSES, ShapeStyle, make_shapes

    if kind not in MIXES or not 0 < alpha <= 10 or not 2 <= n <= 64:
        raise AugmentError("pick MixUp or CutMix, α in (0, 10] and 2 to 64 images")
    images, labels = make_shapes(n, seed, ShapeStyle(size=64))
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255  # (N, 3, H, W)
    with private_stream(RandomStream(seed, numpy=False)):  # MixUp, CutMix: torch's generator
        mixed, targets = MIXES[kind](alpha=alpha, num_classes=len(SHAPE_CLASSES))(
            x, torch.from_numpy(labels)
        )
    pixels = (mixed.clamp(0, 1) * 255).round().byte().permute(0, 2, 3, 1).numpy()
    return MixResult(images, pixels, targets.numpy(), SHAPE_CLASSES)


# ---------------------------------------------------------------- the experiment

EXPERIMENT_NET = {
    "input": [3, 32, 32],
    "layers": [
        {"type": "conv", "out_channels": 8, "kernel_size": 3, "padding": 1},
        {"type": "relu"},
        {"type": "maxpool", "kernel_size": 2},
        {"type": "conv", "out_channels": 16, "kernel_size": 3, "padding": 1},
        {"type": "relu"},
        {"type": "maxpool", "kernel_size": 2},
        {"type": "flatten"},
        {"type": "linear", "out_features": 10},
    ],
}


@dataclass(frozen=True)
class ExperimentConfig:
    n_images: int = 300  # shapes drawn; a small set, so that augmentation has work to do
    epochs: int = 12  # passes over the 70 % training split: enough to overfit without help
    batch_size: int = 32
    lr: float = 3e-3  # Adam
    seed: int = 0  # fixes the data, the split, the initial weights and the augmentation


def experiment_requests(
    pipeline: PipelineSpec, config: ExperimentConfig = ExperimentConfig()
) -> dict:
    """Two runs, ready to submit: the same small network on the same shapes, without and with
    the pipeline (`models.training.executor.TrainRequest`s, trained by the server's executor)."""
    from models.data.datasets import prepare, shapes
    from models.network.build import build_model
    from models.network.spec import NetworkSpec
    from models.training.engine import TrainConfig
    from models.training.executor import TrainRequest

    spec = NetworkSpec.from_dict(EXPERIMENT_NET)
    data = prepare(shapes(config.n_images, config.seed), spec.input_shape, 0.3, config.seed)
    build_pipeline(pipeline, spec.input_shape[1:])  # an AugmentError now, not in the worker
    requests = {}
    for name, aug in (("without augmentation", None), ("with the pipeline", pipeline)):
        train = TrainConfig(
            config.epochs,
            config.batch_size,
            "Adam",
            config.lr,
            augmentation=aug,
            seed=config.seed,
            log_every=2,
        )
        requests[name] = TrainRequest(name, build_model(spec, seed=config.seed), data, train, spec)
    return requests
