"""Evaluation of a trained classifier: predictions, per-class scores and the images it gets wrong.

Everything here runs without gradients and leaves the model's train/eval mode as it found it.
Images come as uint8 (N, C, H, W) and are normalized with the training split's statistics.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from models.inputs import bundle_input


@dataclass(frozen=True)
class EvalResult:
    """Predictions on a labelled set and the usual per-class scores."""

    accuracy: float
    predictions: torch.Tensor  # (N,) predicted class
    confusion: torch.Tensor  # (K, K): rows are true classes, columns predictions
    precision: list[float]
    recall: list[float]
    f1: list[float]
    support: list[int]


@torch.no_grad()
def evaluate(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, mean, std, n_classes: int
) -> EvalResult:
    """Accuracy, confusion matrix and per-class precision, recall and F1 on uint8 images."""
    from sklearn.metrics import precision_recall_fscore_support

    device = next(model.parameters()).device
    view = (1, -1) + (1,) * (x.dim() - 2)  # (N, C, H, W) images or (N, C, L) signals
    m = torch.tensor(mean, device=device).view(view)
    s = torch.tensor(std, device=device).view(view)
    was_training = model.training
    model.eval()
    preds = torch.cat(
        [model((xb.to(device).float() / 255 - m) / s).argmax(1).cpu() for xb in x.split(256)]
    )
    model.train(was_training)
    confusion = torch.bincount(y * n_classes + preds, minlength=n_classes**2)
    labels = list(range(n_classes))
    p, r, f, sup = precision_recall_fscore_support(y, preds, labels=labels, zero_division=0)
    return EvalResult(
        (preds == y).float().mean().item(),
        preds,
        confusion.view(n_classes, n_classes),
        p.tolist(),
        r.tolist(),
        f.tolist(),
        sup.tolist(),
    )


@torch.no_grad()
def predict(model: nn.Module, x: torch.Tensor) -> tuple[list[float], list[float]]:
    """Logits and softmax probabilities for one normalized image batch (1, C, H, W)."""
    device = next(model.parameters()).device
    logits = model(x.to(device)).float()[0].cpu()
    return logits.tolist(), torch.softmax(logits, 0).tolist()


def predict_image(bundle, image) -> tuple[list[float], list[float]]:
    """Logits and softmax probabilities of a `ModelBundle` for one PIL image."""
    return predict(bundle.model, bundle_input(bundle, image))


def misclassified(
    x: torch.Tensor,
    y: torch.Tensor,
    preds: torch.Tensor,
    class_names: tuple[str, ...],
    limit: int = 24,
) -> list[tuple[object, str]]:
    """Up to `limit` wrongly predicted examples with "true → predicted": images as (H, W, C)
    uint8 arrays (gray as (H, W)), 1-D signals (C, L) as they are."""
    wrong = torch.nonzero(preds != y).flatten()[:limit]
    return [
        (
            x[i].permute(1, 2, 0).squeeze(-1).numpy() if x[i].dim() == 3 else x[i].numpy(),
            f"{class_names[y[i]]} → {class_names[preds[i]]}",
        )
        for i in wrong.tolist()
    ]
