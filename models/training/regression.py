"""Regression heads: predict a shape's size, angle or position, and compare with binned classes.

Every arm trains the same small CNN (`regression_spec`) on the same images and split; only the
head and its targets differ:

- "value": one linear unit per number (two for a position), trained with MSE or Huber on the
  target standardized by its range (so Huber's δ = 1 means one standard deviation);
- "sin-cos" (angles only): two units trained on (sin θ, cos θ); the angle is atan2 of them,
  so 359° and 1° are neighbours, not 358° apart;
- "bins": a classifier over equal-width bins of the target (a grid of bins for a position);
  its answer is the chosen bin's centre.

Errors are measured in the target's own unit: pixels, or degrees around the circle.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, replace

import numpy as np
import torch
from torch import nn

from models.bundle import ModelBundle
from models.data.datasets import PreparedData, channel_stats
from models.data.regression_targets import (
    TARGET_NAMES,
    TargetShapes,
    TargetStyle,
    make_target_shapes,
)
from models.errors import CNNLabError
from models.network.spec import NetworkSpec
from models.training import checkpoint
from models.training.engine import REGRESSION_LOSSES, TrainConfig
from models.training.executor.runner import TrainRequest
from models.training.experiments import PlannedRun

HEADS: tuple[str, ...] = ("value", "sin-cos", "bins")
UNITS = {"size": "px", "angle": "°", "position": "px"}


class RegressionSetupError(CNNLabError):
    """A setting of the regression comparison out of its range."""


@dataclass(frozen=True)
class RegressionSetup:
    """The comparison's settings; every run trains in well under a minute on two cores."""

    target: str = "size"  # one of TARGET_NAMES
    loss: str = "mse"  # "mse" or "huber", for the regression heads
    images: int = 1500  # drawn, before the 20% validation split
    bins: int = 8  # classes of the binned head (per axis for a position)
    config: TrainConfig = TrainConfig(epochs=8, batch_size=32, log_every=5)
    val_fraction: float = 0.2
    seed: int = 0

    def __post_init__(self) -> None:
        checks = [
            (self.target in TARGET_NAMES, f"the target must be one of {', '.join(TARGET_NAMES)}"),
            (self.loss in REGRESSION_LOSSES, "the loss must be mse or huber"),
            (500 <= self.images <= 8000, "draw 500 to 8,000 shapes"),
            (2 <= self.bins <= 36, "use 2 to 36 bins"),
            (0 < self.val_fraction < 1, "the validation share must be between 0 and 1"),
        ]
        for ok, message in checks:
            if not ok:
                raise RegressionSetupError(message)

    def style(self) -> TargetStyle:
        """Arrows anywhere in the image for a position; near the centre (as in the shapes set)
        for a size or an angle, so the network's few weights go to the number asked for."""
        return TargetStyle(min_scale=0.5, spread=1.0 if self.target == "position" else 0.3)

    def heads(self) -> tuple[str, ...]:
        """The arms this target compares: (sin, cos) only makes sense for an angle."""
        return HEADS if self.target == "angle" else ("value", "bins")


@dataclass(frozen=True)
class Arm:
    """One run of the comparison: its label and head, and what its targets mean."""

    label: str
    head: str  # one of HEADS
    target: str
    low: float  # the target's range (per axis for a position)
    high: float
    bins: int

    @property
    def outputs(self) -> int:
        if self.head == "bins":
            return self.bins ** (2 if self.target == "position" else 1)
        return 2 if self.head == "sin-cos" or self.target == "position" else 1


def target_range(target: str, shapes: TargetShapes) -> tuple[float, float]:
    """The range the generator draws the target from (pixels or degrees)."""
    if target == "angle":
        return 0.0, 360.0
    if target == "size":
        return shapes.style.radius_range()
    return 0.0, float(shapes.style.size)


def encode(arm: Arm, values: np.ndarray) -> torch.Tensor:
    """What the head learns: standardized values, (sin, cos), or bin indices."""
    v = np.asarray(values, dtype=np.float64)
    if arm.head == "sin-cos":
        rad = np.radians(v)
        return torch.tensor(np.stack([np.sin(rad), np.cos(rad)], -1), dtype=torch.float32)
    share = (v - arm.low) / (arm.high - arm.low)
    if arm.head == "bins":
        index = np.clip(np.floor(share * arm.bins), 0, arm.bins - 1).astype(np.int64)
        if index.ndim == 2:  # a grid: row-major over (x bin, y bin)
            index = index[:, 0] * arm.bins + index[:, 1]
        return torch.from_numpy(index)
    return torch.tensor((share - 0.5) * math.sqrt(12), dtype=torch.float32)  # mean 0, std 1


def decode(arm: Arm, outputs: np.ndarray) -> np.ndarray:
    """The head's outputs (N, k) as values of the target: (N,) or (N, 2) for a position."""
    out = np.asarray(outputs, dtype=np.float64).reshape(len(outputs), -1)
    span = arm.high - arm.low
    if arm.head == "sin-cos":
        return np.degrees(np.arctan2(out[:, 0], out[:, 1])) % 360
    if arm.head == "bins":
        index = out.argmax(1)
        cells = (
            np.stack([index // arm.bins, index % arm.bins], -1) if arm.outputs > arm.bins else index
        )
        return arm.low + (cells + 0.5) * span / arm.bins
    values = arm.low + (out / math.sqrt(12) + 0.5) * span
    return values if arm.target == "position" else values[:, 0]


def errors(target: str, predicted: np.ndarray, true: np.ndarray) -> np.ndarray:
    """Each example's error in the target's unit: signed for size, signed around the circle
    for an angle (in [−180, 180)), the distance between the points for a position."""
    diff = np.asarray(predicted, dtype=np.float64) - np.asarray(true, dtype=np.float64)
    if target == "angle":
        return (diff + 180) % 360 - 180
    if target == "position":
        return np.linalg.norm(diff, axis=-1)
    return diff


def regression_spec(outputs: int, side: int = 32) -> NetworkSpec:
    """Three 3×3 conv blocks (8, 16, 32 channels), then flatten (which keeps where things
    are, unlike a global average) and one linear layer of `outputs` units."""
    layers: list[dict] = []
    for channels in (8, 16, 32):
        layers += [
            {"type": "conv", "out_channels": channels, "kernel_size": 3, "padding": 1},
            {"type": "relu"},
            {"type": "maxpool", "kernel_size": 2},
        ]
    layers += [{"type": "flatten"}, {"type": "linear", "out_features": outputs}]
    return NetworkSpec.from_dict({"input": [3, side, side], "layers": layers})


def arm_label(setup: RegressionSetup, head: str) -> str:
    """What the page calls an arm: the head and, for bins, how many."""
    if head == "value":
        return "regression: x, y" if setup.target == "position" else "regression: one number"
    if head == "sin-cos":
        return "regression: (sin, cos)"
    per_axis = " per axis" if setup.target == "position" else ""
    return f"classification: {setup.bins} bins{per_axis}"


def arms(setup: RegressionSetup, shapes: TargetShapes) -> list[Arm]:
    """The comparison's arms, in the page's order."""
    low, high = target_range(setup.target, shapes)
    return [Arm(arm_label(setup, h), h, setup.target, low, high, setup.bins) for h in setup.heads()]


@dataclass(frozen=True)
class RegressionSplit:
    """The drawn shapes, the split, and the training images' statistics."""

    shapes: TargetShapes
    train: torch.Tensor  # indices
    val: torch.Tensor
    mean: tuple[float, ...]
    std: tuple[float, ...]

    def truth(self, target: str) -> np.ndarray:
        """The validation examples' true values."""
        return self.shapes.values(target)[self.val.numpy()]


def prepare_split(setup: RegressionSetup) -> RegressionSplit:
    """Draw the shapes and split them once, by the setup's seed."""
    shapes = make_target_shapes(setup.images, setup.seed, setup.style())
    order = torch.randperm(setup.images, generator=torch.Generator().manual_seed(setup.seed))
    n_val = max(1, round(setup.images * setup.val_fraction))
    val, train = order[:n_val].sort().values, order[n_val:].sort().values
    mean, std = channel_stats(shapes.x[train])
    return RegressionSplit(shapes, train, val, mean, std)


def arm_data(arm: Arm, split: RegressionSplit) -> PreparedData:
    """The split's images with this arm's targets."""
    y = encode(arm, split.shapes.values(arm.target))
    names = _output_names(arm)
    x = split.shapes.x
    return PreparedData(
        x[split.train], y[split.train], x[split.val], y[split.val], names, split.mean,
        split.std, f"{arm.target} of shapes",
    )  # fmt: skip


def _output_names(arm: Arm) -> tuple[str, ...]:
    if arm.head == "bins":
        return tuple(f"bin {i}" for i in range(arm.outputs))
    if arm.head == "sin-cos":
        return ("sin", "cos")
    return ("x", "y") if arm.target == "position" else (arm.target,)


def plan_regression_runs(setup: RegressionSetup, split: RegressionSplit) -> list[PlannedRun]:
    """One run per arm, the same images, split, network body, recipe and seed."""
    from models.network.build import build_model

    runs = []
    for arm in arms(setup, split.shapes):
        regress = arm.head != "bins"
        config = replace(
            setup.config,
            seed=setup.seed,
            task="regress" if regress else "classify",
            loss=setup.loss if regress else "cross-entropy",
        )
        spec = regression_spec(arm.outputs, split.shapes.style.size)
        request = TrainRequest(
            arm.label, build_model(spec, setup.seed), arm_data(arm, split), config, spec
        )
        runs.append(PlannedRun(arm.label, arm, setup.seed, request))
    return runs


@dataclass(frozen=True)
class ArmResult:
    """One trained arm measured on every validation image, in the target's unit."""

    arm: Arm
    predicted: np.ndarray
    true: np.ndarray
    errors: np.ndarray

    @property
    def mean_abs_error(self) -> float:
        return float(np.abs(self.errors).mean())

    @property
    def rms_error(self) -> float:
        return float(np.sqrt((self.errors**2).mean()))


@torch.no_grad()
def measure(arm: Arm, model: nn.Module, split: RegressionSplit) -> ArmResult:
    """Predict every validation image (eval mode, restored after) and measure the errors."""
    was_training = model.training
    model.eval()
    m = torch.tensor(split.mean).view(1, -1, 1, 1)
    s = torch.tensor(split.std).view(1, -1, 1, 1)
    x = split.shapes.x[split.val]
    out = torch.cat([model((xb.float() / 255 - m) / s) for xb in x.split(256)])
    model.train(was_training)
    predicted = decode(arm, out.numpy())
    true = split.truth(arm.target)
    return ArmResult(arm, predicted, true, errors(arm.target, predicted, true))


def preview_values(arm: Arm, preview: torch.Tensor | None) -> np.ndarray | None:
    """An epoch report's preview (the first validation outputs) as values of the target."""
    return None if preview is None else decode(arm, preview.numpy())


def results_csv(results: list[ArmResult]) -> str:
    """Every validation prediction of every arm: arm, true, predicted, error."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["arm", "example", "true", "predicted", "error"])
    for r in results:
        for i, (t, p, e) in enumerate(zip(r.true, r.predicted, r.errors)):
            writer.writerow(
                [
                    r.arm.label,
                    i,
                    np.round(t, 3).tolist(),
                    np.round(p, 3).tolist(),
                    round(float(e), 3),
                ]
            )
    return out.getvalue()


def model_bytes(arm: Arm, model: nn.Module, split: RegressionSplit) -> bytes:
    """The arm's trained model as a CNN Lab checkpoint (its outputs named as the head's)."""
    spec = regression_spec(arm.outputs, split.shapes.style.size)
    bundle = ModelBundle(
        model, arm.label, spec.input_shape, _output_names(arm), split.mean, split.std, spec, True
    )
    return checkpoint.to_bytes(bundle, {"target": arm.target, "head": arm.head})


def wrap_errors(result: ArmResult, margin: float = 20.0) -> tuple[float, float]:
    """Mean absolute angle error of shapes within `margin` degrees of 0° (the wrap), and of
    the rest: a head trained on raw degrees fails mostly near the wrap."""
    near = np.minimum(result.true, 360 - result.true) < margin
    errs = np.abs(result.errors)
    mean = lambda mask: float(errs[mask].mean()) if mask.any() else math.nan  # noqa: E731
    return mean(near), mean(~near)
