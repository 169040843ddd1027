"""Adversarial examples: small pixel changes, found with the network's own gradient, that change
its answer. FGSM (Goodfellow et al., 2015) takes one step of size ε along the gradient's sign;
PGD (Madry et al., 2018) takes several smaller steps, each projected back into the ε-box.

Everything happens in pixel space [0, 1] with the normalization inside the model, so ε is a
change of pixel values (given in /255 units on the page) and the result is a valid image.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from models.bundle import ModelBundle
from models.data import datasets as data
from models.data.shapes import SHAPE_CLASSES
from models.errors import CNNLabError
from models.inputs import PixelModel, bundle_pixels, guarded, images_to_pixels, pixel_model

ATTACKS = ("FGSM", "PGD")
HELD_OUT_SEED = 12_345  # shapes drawn with this seed: models/pretrain never trains on them
DIGITS_VAL_SHARE, DIGITS_SPLIT_SEED = 0.2, 0  # the split the shipped digits model was trained on
CHUNK = 64


class AttackError(CNNLabError):
    """Attack settings that cannot be used, with a reason a user can read."""


@dataclass(frozen=True)
class AttackConfig:
    """How to attack; ε and the step size are in pixel units out of 255."""

    method: str = "FGSM"
    epsilon: float = 8.0  # the largest change of any pixel value, /255
    steps: int = 10  # PGD only
    step_size: float = 2.0  # PGD only, /255
    random_start: bool = True  # PGD only: start at a random point in the ε-box
    seed: int = 0

    def __post_init__(self) -> None:
        if self.method not in ATTACKS:
            raise AttackError(f"unknown attack {self.method!r}; choose one of {ATTACKS}")
        if not 0 <= self.epsilon <= 255:
            raise AttackError(f"ε must be between 0 and 255 (/255), not {self.epsilon}")
        if not 1 <= self.steps <= 1000:
            raise AttackError(f"steps must be between 1 and 1000, not {self.steps}")
        if not 0 < self.step_size <= 255:
            raise AttackError(f"the step size must be in (0, 255] (/255), not {self.step_size}")

    def effective(self) -> AttackConfig:
        """The same attack with the settings it ignores at their defaults (FGSM has no steps),
        so two configs that attack alike compare equal."""
        if self.method == "PGD":
            return self
        return AttackConfig(self.method, self.epsilon, seed=self.seed)


def _gradient(model: PixelModel, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """d(cross-entropy)/d(pixels), without touching any parameter's .grad."""
    x = x.detach().requires_grad_(True)
    loss = F.cross_entropy(model(x), labels)
    return torch.autograd.grad(loss, x)[0]


def fgsm(model: PixelModel, x: torch.Tensor, labels: torch.Tensor, eps: float) -> torch.Tensor:
    """One step of size eps (in [0, 1] units) along the sign of the loss gradient, clamped."""
    return (x + eps * _gradient(model, x, labels).sign()).clamp(0, 1).detach()


def pgd(
    model: PixelModel, x: torch.Tensor, labels: torch.Tensor, eps: float, config: AttackConfig
) -> torch.Tensor:
    """Projected gradient descent on the loss, staying within eps of x (L∞) and in [0, 1]."""
    step = config.step_size / 255
    adv = x.clone()
    if config.random_start:
        gen = torch.Generator().manual_seed(config.seed)
        adv = adv + (torch.rand(x.shape, generator=gen) * 2 - 1) * eps
    for _ in range(config.steps):
        adv = adv.clamp(0, 1) + step * _gradient(model, adv.clamp(0, 1), labels).sign()
        adv = torch.min(torch.max(adv, x - eps), x + eps)
    return adv.clamp(0, 1).detach()


def run_attack(
    model: PixelModel, x: torch.Tensor, labels: torch.Tensor, config: AttackConfig
) -> torch.Tensor:
    eps = config.epsilon / 255
    if eps == 0:
        return x.clone()
    return (
        fgsm(model, x, labels, eps)
        if config.method == "FGSM"
        else pgd(model, x, labels, eps, config)
    )


@dataclass(frozen=True)
class AttackResult:
    """An attack on one image: the images as (H, W, C) in [0, 1] and what the model says."""

    original: np.ndarray
    adversarial: np.ndarray
    probs_before: np.ndarray  # (K,)
    probs_after: np.ndarray
    label: int  # the class attacked: the model's answer on the original
    loss_before: float
    loss_after: float

    @property
    def perturbation(self) -> np.ndarray:
        return self.adversarial - self.original

    @property
    def linf(self) -> float:
        """The largest change of any pixel value, in /255 units."""
        return float(np.abs(self.perturbation).max() * 255)

    @property
    def fooled(self) -> bool:
        return int(self.probs_after.argmax()) != self.label


def _hwc(x: torch.Tensor) -> np.ndarray:
    return x[0].permute(1, 2, 0).numpy()


def attack_image(bundle: ModelBundle, image: Image.Image, config: AttackConfig) -> AttackResult:
    """Attack the model's own answer for the image (untargeted: push away from it)."""
    x = bundle_pixels(bundle, image)  # the pixels every page feeds the model
    with guarded(bundle):
        model = pixel_model(bundle)
        with torch.no_grad():
            before = model(x)
        label = before.argmax(1)
        adv = run_attack(model, x, label, config)
        with torch.no_grad():
            after = model(adv)
    return AttackResult(
        _hwc(x),
        _hwc(adv),
        torch.softmax(before, 1)[0].numpy(),
        torch.softmax(after, 1)[0].numpy(),
        int(label),
        float(F.cross_entropy(before, label)),
        float(F.cross_entropy(after, label)),
    )


@dataclass(frozen=True)
class Robustness:
    """Accuracy (or agreement with the clean answers) against ε on a held-out set."""

    epsilons: tuple[float, ...]
    accuracy: tuple[float, ...]  # against the true labels
    agreement: tuple[float, ...]  # share of answers unchanged from the clean image
    data_name: str
    labels_match: bool  # whether the set's classes are the model's (accuracy means something)

    def to_csv(self) -> str:
        """`epsilon_255,accuracy,unchanged`, one row per ε."""
        cols = zip(self.epsilons, self.accuracy, self.agreement, strict=True)
        rows = "\n".join(f"{e},{a:.4f},{g:.4f}" for e, a, g in cols)
        return f"epsilon_255,accuracy,unchanged\n{rows}"


def digits_validation() -> data.ImageData:
    """The digits no digits model of the app trained on: the shipped model's validation split.

    20% of each class, split with seed 0, as `models.training.pretrain` and the Train page (at its
    default share and seed) split them; training only ever sees the rest.
    """
    source = data.digits()
    _, val = data.stratified_split(source.y, DIGITS_VAL_SHARE, DIGITS_SPLIT_SEED)
    return data.ImageData(source.x[val], source.y[val], source.class_names, "digits")


def validation_set(bundle: ModelBundle, n: int, seed: int = HELD_OUT_SEED):
    """(pixels (N, C, H, W) in [0, 1], labels, description, labels_match) at the model's input.

    Digits models get images from the digits' validation split (at most its 359); the others
    get shapes drawn with a seed that training never uses.
    """
    if tuple(bundle.class_names) == tuple(str(d) for d in range(10)):
        source = digits_validation()
        pick = torch.randperm(len(source.y), generator=torch.Generator().manual_seed(seed))[:n]
        source = data.ImageData(source.x[pick], source.y[pick], source.class_names, "digits")
        name = f"{len(pick)} digits from the validation split (20%, seed 0), never trained on"
        match = True
    else:
        source = data.shapes(n, seed=seed)
        name = f"{n} shapes drawn after training (seed {seed}, which training never uses)"
        match = tuple(bundle.class_names) == SHAPE_CLASSES
    return images_to_pixels(source.x, bundle.input_shape), source.y, name, match


def robustness_curve(
    bundle: ModelBundle,
    epsilons: list[float],
    config: AttackConfig,
    n: int = 200,
    progress: Callable[[float], None] | None = None,
) -> Robustness:
    """Attack every image of a held-out set at each ε (/255); count what the model still gets."""
    x, y, name, match = validation_set(bundle, n)
    accuracy, agreement = [], []
    total, done = len(epsilons) * len(x), 0
    with guarded(bundle):
        model = pixel_model(bundle)
        with torch.no_grad():
            clean = torch.cat([model(part).argmax(1) for part in x.split(CHUNK)])
        attacked = y if match else clean  # push away from the truth, else from the answer
        for eps in epsilons:
            cfg = AttackConfig(
                config.method, eps, config.steps, config.step_size, config.random_start, config.seed
            )
            preds = []
            for part, labels in zip(x.split(CHUNK), attacked.split(CHUNK), strict=True):
                adv = run_attack(model, part, labels, cfg)
                with torch.no_grad():
                    preds.append(model(adv).argmax(1))
                done += len(part)
                if progress is not None:
                    progress(done / total)
            pred = torch.cat(preds)
            accuracy.append(float((pred == y).float().mean()))
            agreement.append(float((pred == clean).float().mean()))
    return Robustness(tuple(epsilons), tuple(accuracy), tuple(agreement), name, match)
