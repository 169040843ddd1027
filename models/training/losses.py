"""The loss explorer: classification losses of one image's logits, and their gradients.

Each loss in LOSSES takes the logits z (K,) of one image and its true class y, and returns a
scalar tensor; `compute_losses` evaluates every one and asks autograd for ∂L/∂z. The closed
forms (cross-entropy: softmax(z) − onehot(y)) are checked against autograd in the tests. The
module also shows that a class index and a one-hot target give the same cross-entropy, that
soft targets (label smoothing, MixUp) need the probability form, and softmax with a temperature.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from models.errors import CNNLabError

MIN_CLASSES, MAX_CLASSES = 2, 10
LOGIT_LIMIT = 50.0  # the largest |logit| accepted; softmax saturates long before


class LossError(CNNLabError):
    """Logits, a target or a setting the explorer cannot use, said for the student."""


@dataclass(frozen=True)
class LossSettings:
    """The knobs of the losses; the defaults are the usual ones."""

    focal_gamma: float = 2.0  # focal loss's γ (Lin et al., 2017); 0 gives cross-entropy
    smoothing: float = 0.1  # label smoothing's ε: the share of the target spread over all classes
    margin: float = 1.0  # the hinge losses' margin, in logit units

    def __post_init__(self) -> None:
        if not 0 <= self.focal_gamma <= 10:
            raise LossError("focal γ must be between 0 and 10")
        if not 0 <= self.smoothing < 1:
            raise LossError("label smoothing must be at least 0 and below 1")
        if not 0 < self.margin <= 10:
            raise LossError("the hinge margin must be above 0 and at most 10")


def _cross_entropy(z: torch.Tensor, y: int, s: LossSettings) -> torch.Tensor:
    return -F.log_softmax(z, 0)[y]


def _focal(z: torch.Tensor, y: int, s: LossSettings) -> torch.Tensor:
    log_p = F.log_softmax(z, 0)[y]
    return -((1 - log_p.exp()) ** s.focal_gamma) * log_p


def _smoothed(z: torch.Tensor, y: int, s: LossSettings) -> torch.Tensor:
    return -(smoothed_target(len(z), y, s.smoothing) * F.log_softmax(z, 0)).sum()


def _weston_watkins(z: torch.Tensor, y: int, s: LossSettings) -> torch.Tensor:
    others = torch.arange(len(z)) != y
    return F.relu(s.margin - (z[y] - z[others])).sum()


def _crammer_singer(z: torch.Tensor, y: int, s: LossSettings) -> torch.Tensor:
    others = torch.arange(len(z)) != y
    return F.relu(s.margin - (z[y] - z[others].max()))


# name → loss(logits (K,), true class, settings) -> scalar. The menu and the tests read this.
LOSSES: dict[str, Callable[[torch.Tensor, int, LossSettings], torch.Tensor]] = {
    "cross-entropy": _cross_entropy,  # −log p_y
    "focal": _focal,  # −(1 − p_y)^γ log p_y
    "label-smoothed cross-entropy": _smoothed,  # −Σ q_k log p_k, q = (1 − ε) onehot + ε / K
    "hinge (Weston–Watkins)": _weston_watkins,  # Σ_{k≠y} max(0, m − (z_y − z_k))
    "hinge (Crammer–Singer)": _crammer_singer,  # max(0, m − (z_y − max_{k≠y} z_k))
}


def check_logits(logits: Sequence[float], target: int) -> torch.Tensor:
    """The logits as a float64 tensor (K,), or LossError saying what is wrong."""
    values = [float(v) for v in logits]
    if not MIN_CLASSES <= len(values) <= MAX_CLASSES:
        raise LossError(f"give between {MIN_CLASSES} and {MAX_CLASSES} class scores")
    if not all(math.isfinite(v) for v in values):
        raise LossError("every class score must be a number (no blanks, no infinity)")
    if max(abs(v) for v in values) > LOGIT_LIMIT:
        raise LossError(f"keep the scores between −{LOGIT_LIMIT:g} and {LOGIT_LIMIT:g}")
    if not 0 <= target < len(values):
        raise LossError(f"the true class must be one of the {len(values)} classes")
    return torch.tensor(values, dtype=torch.float64)


def smoothed_target(k: int, y: int, smoothing: float) -> torch.Tensor:
    """The label-smoothed target: 1 − ε + ε/K on the true class, ε/K on every other."""
    q = torch.full((k,), smoothing / k, dtype=torch.float64)
    q[y] += 1 - smoothing
    return q


def logits_for_p_true(others: Sequence[float], target: int, p_true: float) -> list[float]:
    """Logits whose softmax gives the true class `p_true`, the other classes keeping `others`.

    `others` are the K − 1 other classes' logits in class order; the true class's logit is
    log(p / (1 − p)) + logsumexp(others), which is the one value that gives p.
    """
    if not 0 < p_true < 1:
        raise LossError("the true class's probability must be strictly between 0 and 1")
    rest = torch.tensor([float(v) for v in others], dtype=torch.float64)
    z_true = math.log(p_true / (1 - p_true)) + torch.logsumexp(rest, 0).item()
    values = rest.tolist()
    values.insert(target, z_true)
    return values


@dataclass(frozen=True)
class LossValue:
    """One loss at the current logits: its value and its gradient with respect to them."""

    name: str
    value: float
    gradient: tuple[float, ...]  # ∂L/∂z_k for each class k (a subgradient at a hinge's kink)


@dataclass(frozen=True)
class LossReport:
    """Every loss of LOSSES at one image's logits, with the softmax they give."""

    logits: tuple[float, ...]
    target: int
    probabilities: tuple[float, ...]
    losses: tuple[LossValue, ...]

    @property
    def p_true(self) -> float:
        return self.probabilities[self.target]

    def strongest_push(self) -> LossValue:
        """The loss whose gradient on the true class's logit is largest in size."""
        return max(self.losses, key=lambda loss: abs(loss.gradient[self.target]))


def compute_losses(
    logits: Sequence[float], target: int, settings: LossSettings = LossSettings()
) -> LossReport:
    """Every loss of LOSSES and its autograd gradient at these logits (K,) for class `target`."""
    z0 = check_logits(logits, target)
    values = []
    for name, loss_fn in LOSSES.items():
        z = z0.clone().requires_grad_(True)
        loss = loss_fn(z, target, settings)
        (grad,) = torch.autograd.grad(loss, z)
        values.append(LossValue(name, loss.item(), tuple(grad.tolist())))
    probs = torch.softmax(z0, 0)
    return LossReport(tuple(z0.tolist()), target, tuple(probs.tolist()), tuple(values))


def loss_curves(
    p_grid: np.ndarray, k: int, settings: LossSettings = LossSettings()
) -> dict[str, np.ndarray]:
    """Each loss against p_true, the other K − 1 classes sharing the rest of the probability
    equally (logits = log-probabilities, so the hinges see the same scores the softmax does)."""
    if not MIN_CLASSES <= k <= MAX_CLASSES:
        raise LossError(f"the curves need between {MIN_CLASSES} and {MAX_CLASSES} classes")
    p = torch.as_tensor(np.clip(p_grid, 1e-6, 1 - 1e-6), dtype=torch.float64)
    curves = {}
    for name, loss_fn in LOSSES.items():
        out = []
        for p_true in p.tolist():
            z = torch.full((k,), math.log((1 - p_true) / (k - 1)), dtype=torch.float64)
            z[0] = math.log(p_true)
            out.append(loss_fn(z, 0, settings).item())
        curves[name] = np.asarray(out)
    return curves


@dataclass(frozen=True)
class TargetForms:
    """Cross-entropy computed by PyTorch with an index target and with probability targets."""

    with_index: float  # F.cross_entropy(z, y)
    with_one_hot: float  # F.cross_entropy(z, onehot(y)): the same number
    smoothed_index: float  # F.cross_entropy(z, y, label_smoothing=ε)
    smoothed_probabilities: float  # F.cross_entropy(z, q): q written out, the same number
    mixup_target: tuple[float, ...]  # λ onehot(y) + (1 − λ) onehot(partner)
    mixup: float  # F.cross_entropy(z, that target): only the probability form can say it
    mixup_as_mix: float  # λ CE(z, y) + (1 − λ) CE(z, partner): equal to `mixup`


def target_forms(
    logits: Sequence[float], target: int, smoothing: float, partner: int, lam: float
) -> TargetForms:
    """The same losses by PyTorch's two target forms, and a MixUp target only one form takes."""
    z = check_logits(logits, target).unsqueeze(0)  # (1, K)
    k = z.shape[1]
    if not 0 <= partner < k:
        raise LossError(f"the MixUp partner must be one of the {k} classes")
    if not 0 <= lam <= 1 or not 0 <= smoothing < 1:
        raise LossError("λ must be in [0, 1] and smoothing in [0, 1)")
    y = torch.tensor([target])
    one_hot = F.one_hot(y, k).double()
    mix = lam * one_hot + (1 - lam) * F.one_hot(torch.tensor([partner]), k).double()
    return TargetForms(
        with_index=F.cross_entropy(z, y).item(),
        with_one_hot=F.cross_entropy(z, one_hot).item(),
        smoothed_index=F.cross_entropy(z, y, label_smoothing=smoothing).item(),
        smoothed_probabilities=F.cross_entropy(
            z, smoothed_target(k, target, smoothing).unsqueeze(0)
        ).item(),
        mixup_target=tuple(mix[0].tolist()),
        mixup=F.cross_entropy(z, mix).item(),
        mixup_as_mix=(
            lam * F.cross_entropy(z, y) + (1 - lam) * F.cross_entropy(z, torch.tensor([partner]))
        ).item(),
    )


def softmax_with_temperature(logits: Sequence[float], temperature: float) -> list[float]:
    """softmax(z / T): T > 1 flattens the probabilities, T < 1 sharpens them."""
    if not temperature > 0:
        raise LossError("the temperature must be above 0")
    z = torch.tensor([float(v) for v in logits], dtype=torch.float64)
    return torch.softmax(z / temperature, 0).tolist()


def temperature_sweep(logits: Sequence[float], temperatures: np.ndarray) -> np.ndarray:
    """(len(temperatures), K): the probabilities at each temperature."""
    return np.asarray([softmax_with_temperature(logits, float(t)) for t in temperatures])


def entropy_bits(probabilities: Sequence[float]) -> float:
    """How spread the probabilities are, in bits: 0 when sure, log2 K when uniform."""
    p = torch.tensor(probabilities, dtype=torch.float64)
    p = p[p > 0]
    return float(-(p * p.log2()).sum())
