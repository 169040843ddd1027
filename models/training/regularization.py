"""Regularization and normalization: prepared comparisons on data small enough to overfit, the
best epoch of each run, and activation statistics per layer with and without batchnorm.

Three comparisons (COMPARISONS), each a handful of quick runs on the same images and split:
- "overfit": none, dropout, weight decay, augmentation and early stopping on 240 training shapes,
  long enough for the validation loss to turn up;
- "bn": batchnorm off and on, at a gentle and at a large learning rate;
- "inputs": pixels standardized, scaled to 0–1, or fed as raw 0–255 bytes.
Every arm but early stopping ends with its last weights (`restore_best=False`), so what the
page reports for an arm is what that arm's recipe really leaves behind.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np
import torch
from torch import nn

from models.data.datasets import channel_stats, fit_data, shapes
from models.inputs import normalize_pixels
from models.inspect.activations import ACTIVATION_TYPES, hooked, model_lock
from models.training.engine import RANDOM_FLIPS, TrainMetrics
from models.training.experiments import (
    Arm,
    PlannedRun,
    Setup,
    initialised,
    plan_arms,
    quick_setup,
    with_batchnorm,
    with_dropout,
)

DROPOUT_P = 0.5  # before the last linear layer
WEIGHT_DECAY = 5e-3  # Adam's L2 term; 0.05 held every weight at zero here (measured)
PATIENCE = 2  # epochs without a better validation loss before early stopping
BN_RATES = (3e-3, 3e-2)  # the quick recipe's one-cycle peak, and ten times it
SAMPLE_VALUES = 4000  # activation values kept per layer for the histograms


def _base(images: int, epochs: int, schedule: str = "constant") -> Setup:
    """The quick setup on `images` shapes (data seed 0), no flips, ending with its last weights."""
    setup = quick_setup()
    config = replace(
        setup.config,
        epochs=epochs,
        schedule=schedule,
        augmentation=None,
        restore_best=False,
    )
    return replace(setup, images=images, data_seed=0, config=config)


def _config(setup: Setup, **changes) -> Setup:
    return replace(setup, config=replace(setup.config, **changes))


def overfit_arms() -> list[Arm]:
    """None, dropout, weight decay, augmentation, early stopping: 300 shapes, 12 epochs each."""
    base = _base(300, 12)
    return [
        Arm("none", base),
        Arm(f"dropout {DROPOUT_P:g}", with_dropout(base, DROPOUT_P)),
        Arm(f"weight decay {WEIGHT_DECAY:g}", _config(base, weight_decay=WEIGHT_DECAY)),
        Arm("augmentation (flips)", _config(base, augmentation=RANDOM_FLIPS)),
        Arm(f"early stopping ({PATIENCE})", _config(base, patience=PATIENCE, restore_best=True)),
    ]


def bn_arms() -> list[Arm]:
    """Batchnorm off and on, at each rate of BN_RATES: 500 shapes, 5 epochs each."""
    base = _base(500, 5, "one-cycle")
    return [
        Arm(
            f"{'batchnorm' if on else 'no batchnorm'}, lr {lr:g}",
            with_batchnorm(_config(base, lr=lr), on),
        )
        for lr in BN_RATES
        for on in (False, True)
    ]


def inputs_arms() -> list[Arm]:
    """The same network fed standardized, 0–1 and 0–255 pixels: 500 shapes, 5 epochs each."""
    base = _base(500, 5, "one-cycle")
    return [
        Arm(scale, _config(base, inputs=scale)) for scale in ("standardize", "0 to 1", "0 to 255")
    ]


@dataclass(frozen=True)
class Comparison:
    """One prepared comparison: its menu name, lab key, arms and what the student predicts."""

    name: str
    key: str  # the lab page key, "regularization.<short>"
    question: str
    arms: Callable[[], list[Arm]]
    pick: str  # "lowest kept validation loss" | "highest accuracy" | "lowest accuracy"


COMPARISONS: dict[str, Comparison] = {
    c.name: c
    for c in (
        Comparison(
            "Against overfitting",
            "regularization.overfit",
            "Which run ends with the lowest validation loss?",
            overfit_arms,
            "lowest kept validation loss",
        ),
        Comparison(
            "Batchnorm at two learning rates",
            "regularization.bn",
            "Which run ends with the highest validation accuracy?",
            bn_arms,
            "highest accuracy",
        ),
        Comparison(
            "Input normalization",
            "regularization.inputs",
            "Which input scaling ends with the lowest validation accuracy?",
            inputs_arms,
            "lowest accuracy",
        ),
    )
}


def plan_comparison(name: str) -> list[PlannedRun]:
    """One quick run per arm of the named comparison, all on the same images and split."""
    _, runs = plan_arms(COMPARISONS[name].arms())
    return runs


@dataclass(frozen=True)
class ArmSummary:
    """One run's curve read off: where validation loss was lowest and where the run ended."""

    best_epoch: int  # the epoch of the lowest validation loss
    best_val_loss: float
    last_epoch: int
    last_val_loss: float
    last_val_acc: float
    last_train_loss: float
    kept_val_loss: float  # of the weights the run ends with (the best ones for early stopping)
    kept_val_acc: float

    @property
    def rise(self) -> float:
        """How far the validation loss climbed from its lowest to the last epoch."""
        return self.last_val_loss - self.best_val_loss


def best_epoch(history: Sequence[TrainMetrics]) -> tuple[int, float] | None:
    """(epoch, validation loss) of the lowest validation loss; None before the first epoch."""
    epochs = [m for m in history if m.kind == "epoch" and math.isfinite(m.val_loss)]
    if not epochs:
        return None
    best = min(epochs, key=lambda m: m.val_loss)  # the first of equal lows
    return best.epoch, best.val_loss


def summarize(history: Sequence[TrainMetrics]) -> ArmSummary | None:
    """The run's best and last epochs and the weights it kept (None before the first epoch)."""
    epochs = [m for m in history if m.kind == "epoch"]
    found = best_epoch(history)
    if found is None:
        return None
    restored = any("Restored the weights" in m.note for m in history if m.kind == "done")
    best = next(m for m in epochs if m.epoch == found[0])
    last = epochs[-1]
    kept = best if restored else last
    return ArmSummary(
        best.epoch,
        best.val_loss,
        last.epoch,
        last.val_loss,
        last.val_acc,
        last.train_loss,
        kept.val_loss,
        kept.val_acc,
    )


def answer(pick: str, summaries: dict[str, ArmSummary]) -> str:
    """The arm the measurement names for a comparison's `pick` rule."""
    if pick == "lowest kept validation loss":
        return min(summaries, key=lambda k: summaries[k].kept_val_loss)
    if pick == "highest accuracy":
        return max(summaries, key=lambda k: summaries[k].kept_val_acc)
    return min(summaries, key=lambda k: summaries[k].kept_val_acc)


# ---------------------------------------------------------------- activation statistics


@dataclass(frozen=True)
class LayerStats:
    """One layer's output over a batch: its mean, its spread and a sample of its values."""

    name: str
    mean: float
    std: float
    sample: np.ndarray  # up to SAMPLE_VALUES values, for a histogram


def shapes_batch(setup: Setup, n: int = 64, seed: int = 0) -> torch.Tensor:
    """`n` shapes at the setup's input size, standardized by their own statistics: (N, C, H, W)."""
    data = fit_data(shapes(n, seed), setup.spec.input_shape)
    mean, std = channel_stats(data.x)
    return normalize_pixels(data.x.float() / 255, mean, std)


def stat_layers(model: nn.Module) -> list[str]:
    """The layers compared with and without batchnorm: every activation, then the last linear."""
    modules = list(model.named_modules())
    names = [n for n, m in modules if isinstance(m, ACTIVATION_TYPES)]
    linears = [n for n, m in modules if isinstance(m, nn.Linear)]
    return names + linears[-1:]


def activation_stats(
    model: nn.Module, x: torch.Tensor, batch_stats: bool = True, seed: int = 0
) -> list[LayerStats]:
    """Mean and std of each `stat_layers` output for batch `x`, on a copy of `model`.

    With `batch_stats`, batchnorm layers normalize by the batch, as in training (a fresh net's
    running statistics are still 0 and 1); otherwise the model runs in eval mode. The model
    itself is never changed: its running statistics, mode and hooks stay as they were.
    """
    source, lock = model_lock(model)
    with lock:
        net = copy.deepcopy(source).eval()
    for module in net.modules():
        if batch_stats and isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.train()
    names = stat_layers(net)
    outputs: dict[str, torch.Tensor] = {}
    with hooked(net, names, outputs), torch.no_grad():
        net(x)
    gen = torch.Generator().manual_seed(seed)
    stats = []
    for name in names:
        values = outputs[name].flatten().float()
        pick = torch.randperm(len(values), generator=gen)[:SAMPLE_VALUES]
        stats.append(
            LayerStats(name, values.mean().item(), values.std().item(), values[pick].numpy())
        )
    return stats


WITHOUT, WITH = "without batchnorm", "with batchnorm"


def fresh_stats(init: str = "PyTorch default", seed: int = 0) -> dict[str, list[LayerStats]]:
    """Activation statistics of the quick network, freshly initialised by `init` (a key of
    `experiments.INITS`), without and with batchnorm, on a batch of 64 shapes."""
    setup = replace(COMPARISONS["Against overfitting"].arms()[0].setup, init=init)
    x = shapes_batch(setup)
    return {
        name: activation_stats(initialised(with_batchnorm(setup, on), seed), x)
        for name, on in ((WITHOUT, False), (WITH, True))
    }


def trained_stats(without: nn.Module, with_bn: nn.Module) -> dict[str, list[LayerStats]]:
    """Activation statistics of two trained networks (eval mode) on a batch of 64 shapes."""
    x = shapes_batch(COMPARISONS["Against overfitting"].arms()[0].setup)
    return {
        WITHOUT: activation_stats(without, x, batch_stats=False),
        WITH: activation_stats(with_bn, x, batch_stats=False),
    }
