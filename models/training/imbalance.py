"""Class imbalance: four ways to train on shapes where one class is rare, and scores that see it.

The comparison trains the quick setup (`experiments.quick_setup`) on shapes drawn at a chosen
ratio of the most to the least frequent class (circle is the most frequent, pentagon the rarest;
see `models.data.shapes`), once per method in METHODS. Every arm trains on the same images and
split. The scores come from each run's confusion matrix on its validation split, which is as
imbalanced as the training split (it is stratified), so plain accuracy mostly counts the common
classes; balanced accuracy and macro-F1 give every class the same say.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
import torch

from models.data.shapes import SHAPE_CLASSES, class_draw_counts
from models.errors import CNNLabError
from models.training.engine import TrainConfig
from models.training.experiments import Arm, PlannedRun, Setup, plan_arms, quick_setup

MIN_RATIO, MAX_RATIO = 1.0, 50.0  # most ÷ least frequent class the page offers
MIN_IMAGES, MAX_IMAGES = 500, 4000
MAX_EPOCHS = 20


class ImbalanceError(CNNLabError):
    """A setting of the imbalance comparison out of its range, said for the student."""


# Each method changes one thing of the plain recipe; the label is what the page shows.
METHODS: dict[str, Callable[[TrainConfig], TrainConfig]] = {
    "plain cross-entropy": lambda c: c,
    "class weights": lambda c: replace(c, class_weights=True),  # loss × 1 / class frequency
    "resampling": lambda c: replace(c, sampler="balanced"),  # rare images drawn more often
    "focal loss": lambda c: replace(c, loss="focal"),  # easy images count less (γ from config)
}
PLAIN = "plain cross-entropy"


@dataclass(frozen=True)
class ImbalanceSpec:
    """The comparison's settings; the defaults finish in under a minute on two CPU cores."""

    ratio: float = 10.0  # most ÷ least frequent class
    images: int = 1250  # shapes drawn, before the 20% validation split
    epochs: int = 8  # 5 (the quick setup's) left plain cross-entropy guessing circles only
    focal_gamma: float = 2.0  # the focal arm's γ (Lin et al., 2017)
    seed: int = 0  # draws the images, the split, the weights and the shuffling

    def __post_init__(self) -> None:
        if not MIN_RATIO <= self.ratio <= MAX_RATIO:
            raise ImbalanceError(
                f"the ratio must be between {MIN_RATIO:g} and {MAX_RATIO:g}, not {self.ratio:g}"
            )
        if not MIN_IMAGES <= self.images <= MAX_IMAGES:
            raise ImbalanceError(
                f"the number of images must be between {MIN_IMAGES:,} and {MAX_IMAGES:,}"
            )
        if not 1 <= self.epochs <= MAX_EPOCHS:
            raise ImbalanceError(f"the number of epochs must be between 1 and {MAX_EPOCHS}")
        if not 0 <= self.focal_gamma <= 10:
            raise ImbalanceError("focal γ must be between 0 and 10")


def imbalance_setup(spec: ImbalanceSpec) -> Setup:
    """The quick setup on shapes drawn at the spec's ratio, with a fixed data seed."""
    base = quick_setup()
    config = replace(base.config, epochs=spec.epochs, seed=spec.seed, focal_gamma=spec.focal_gamma)
    return replace(
        base, config=config, images=spec.images, imbalance=spec.ratio, data_seed=spec.seed
    )


def plan_imbalance(spec: ImbalanceSpec) -> list[PlannedRun]:
    """One quick run per method of METHODS, on the same images and split."""
    base = imbalance_setup(spec)
    arms = [
        Arm(name, replace(base, config=change(base.config))) for name, change in METHODS.items()
    ]
    _, runs = plan_arms(arms)
    return runs


def class_counts(spec: ImbalanceSpec) -> list[int]:
    """Images drawn per class (SHAPE_CLASSES order) at the spec's ratio, before the split."""
    # The data set's own rule (geometric from the first class to the last), so the page's
    # numbers are the ones the runs train on.
    return class_draw_counts(spec.images, len(SHAPE_CLASSES), spec.ratio).tolist()


@dataclass(frozen=True)
class ImbalanceMetrics:
    """One run's validation scores, all from its confusion matrix."""

    accuracy: float  # right answers ÷ images: the common classes dominate it
    balanced_accuracy: float  # the mean of the recalls of the classes present
    macro_f1: float  # the mean F1 over classes present or predicted
    recall: tuple[float, ...]  # per class; NaN for a class with no validation image
    f1: tuple[float, ...]
    support: tuple[int, ...]  # validation images per class
    confusion: tuple[tuple[int, ...], ...]  # rows: true class, columns: predicted


def _ratio(num: torch.Tensor, den: torch.Tensor) -> torch.Tensor:
    """num ÷ den, NaN where den is 0."""
    return torch.where(den > 0, num / den.clamp_min(1), torch.full_like(num, math.nan))


def compute_metrics(confusion: torch.Tensor | Sequence[Sequence[int]]) -> ImbalanceMetrics:
    """Accuracy, balanced accuracy and macro-F1 of a (K, K) confusion matrix (rows true).

    They follow scikit-learn's `balanced_accuracy_score` (classes in the truth) and
    `f1_score(average="macro")` (classes in the truth or the predictions; F1 0 when undefined).
    """
    cm = torch.as_tensor(confusion, dtype=torch.float64)
    if cm.dim() != 2 or cm.shape[0] != cm.shape[1] or cm.sum() <= 0:
        raise ImbalanceError("a confusion matrix must be square and count at least one image")
    hits, true, predicted = cm.diag(), cm.sum(1), cm.sum(0)
    recall = _ratio(hits, true)
    f1 = _ratio(2 * hits, true + predicted)  # = 2PR / (P + R), and 0 when hits are 0
    present = true > 0
    seen = present | (predicted > 0)
    return ImbalanceMetrics(
        accuracy=(hits.sum() / cm.sum()).item(),
        balanced_accuracy=recall[present].mean().item(),
        macro_f1=f1[seen].nan_to_num(0.0).mean().item(),
        recall=tuple(recall.tolist()),
        f1=tuple(f1.tolist()),
        support=tuple(int(n) for n in true.tolist()),
        confusion=tuple(tuple(int(v) for v in row) for row in cm.tolist()),
    )


def metrics_by_method(confusions: Mapping[str, torch.Tensor]) -> dict[str, ImbalanceMetrics]:
    """Each method's scores from its run's validation confusion matrix (EvalResult.confusion)."""
    return {method: compute_metrics(cm) for method, cm in confusions.items()}


def most_missed(metrics: ImbalanceMetrics) -> int:
    """The class with the lowest recall (the rarer one on a tie)."""
    recalls = [(-1.0 if math.isnan(r) else r, -i) for i, r in enumerate(metrics.recall)]
    candidates = [(r, i) for r, i in recalls if r >= 0]
    return -min(candidates)[1]


def focal_term(p: np.ndarray, gamma: float) -> np.ndarray:
    """The focal loss of an image whose true class gets probability p: −(1 − p)^γ log p."""
    p = np.clip(np.asarray(p, dtype=np.float64), 1e-12, 1.0)
    return -((1.0 - p) ** gamma) * np.log(p)


def rows_for_download(metrics: dict[str, ImbalanceMetrics], class_names: Sequence[str]) -> list:
    """One row per method and class: recall, F1 and validation images, plus the run's scores."""
    rows = []
    for method, m in metrics.items():
        for i, name in enumerate(class_names):
            rows.append(
                {
                    "method": method,
                    "class": name,
                    "validation_images": m.support[i],
                    "recall": m.recall[i],
                    "f1": m.f1[i],
                    "accuracy": m.accuracy,
                    "balanced_accuracy": m.balanced_accuracy,
                    "macro_f1": m.macro_f1,
                }
            )
    return rows
