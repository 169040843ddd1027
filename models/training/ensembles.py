"""Ensembles: several networks trained alike from different seeds, combined at prediction time.

Five members train on the same images and split (a fixed data seed); only their initial weights
and shuffling differ. On the validation images each member gives class probabilities; the
ensemble averages them (soft voting), or counts each member's top class (majority voting, ties
broken by the averaged probability). Lakshminarayanan et al. (2017), "Simple and scalable
predictive uncertainty estimation using deep ensembles", showed that this simple average often
beats every member and is better calibrated.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import torch

from models.bundle import ModelBundle
from models.data.datasets import PreparedData, prepare, shapes
from models.errors import CNNLabError
from models.inputs import guarded, normalize_pixels
from models.training.experiments import Arm, PlannedRun, Setup, plan_arms, quick_setup

MEMBERS = 5
DATA_SEED = 0


class EnsembleError(CNNLabError):
    """Members or images an ensemble cannot combine, said for the student."""


def ensemble_setup() -> Setup:
    """The quick setup on 1,000 shapes (800 to train), 5 epochs, the data seed fixed.

    Five members take about 40 s on 2 cores (`python -m benchmarks.lab_runs --only ensemble`);
    fewer images left every member near chance, where averaging has nothing to average.
    """
    base = quick_setup()
    return replace(base, images=1000, data_seed=DATA_SEED, config=replace(base.config, epochs=5))


def member_label(i: int) -> str:
    """The arm label of member `i` (0-based): "seed i"."""
    return f"seed {i}"


def plan_members(setup: Setup | None = None, members: int = MEMBERS) -> list[PlannedRun]:
    """One quick run per member, seeds 0 … members − 1, all on the same images and split."""
    if not 2 <= members <= 10:
        raise EnsembleError("an ensemble needs 2 to 10 members")
    setup = setup or ensemble_setup()
    arms = [
        Arm(member_label(i), replace(setup, config=replace(setup.config, seed=i)), i)
        for i in range(members)
    ]
    _, runs = plan_arms(arms, seed_from_setup=True)
    return runs


def validation_data(setup: Setup | None = None) -> PreparedData:
    """The members' images and split, drawn again exactly as `plan_arms` drew them."""
    s = setup or ensemble_setup()
    seed = s.config.seed if s.data_seed is None else s.data_seed
    data = shapes(s.images, seed, 0.0, s.imbalance)
    return prepare(data, s.spec.input_shape, s.val_fraction, seed)


@torch.no_grad()
def member_probabilities(bundles: Sequence[ModelBundle], images: torch.Tensor) -> torch.Tensor:
    """Each member's softmax on uint8 images (N, C, H, W): (members, N, K).

    Each member is fed as it was trained (its bundle's mean and std), under its lock, in eval
    mode; its mode is restored after.
    """
    if not bundles:
        raise EnsembleError("no member has finished training yet")
    pixels = images.float() / 255
    probs = []
    for bundle in bundles:
        with guarded(bundle) as model:
            device = next(model.parameters()).device
            x = normalize_pixels(pixels, bundle.mean, bundle.std).to(device)
            probs.append(torch.softmax(model(x).float(), dim=1).cpu())
    return torch.stack(probs)


def average_vote(probs: torch.Tensor) -> torch.Tensor:
    """The soft-voting ensemble: the members' probabilities averaged, (M, N, K) -> (N, K)."""
    return probs.mean(0)


def majority_vote(probs: torch.Tensor) -> torch.Tensor:
    """The class most members pick, per image: (M, N, K) -> (N,).

    A tie goes to the tied class with the highest averaged probability.
    """
    k = probs.shape[2]
    votes = torch.nn.functional.one_hot(probs.argmax(2), k).sum(0)  # (N, K)
    tied = votes == votes.max(1, keepdim=True).values
    mean = average_vote(probs)
    return torch.where(tied, mean, torch.full_like(mean, -1.0)).argmax(1)


@dataclass(frozen=True)
class EnsembleResult:
    """Every member's and both ensembles' accuracy, and the images the members disagree on."""

    member_acc: tuple[float, ...]
    average_acc: float
    vote_acc: float
    disagree: tuple[int, ...]  # validation indices where not every member gives the same class
    confidence: tuple[float, ...]  # per disagreement: the averaged probability of its top class
    predictions: torch.Tensor  # (M, N) each member's class
    average_pred: torch.Tensor  # (N,)
    vote_pred: torch.Tensor  # (N,)

    @property
    def best_member(self) -> float:
        return max(self.member_acc)


def combine(probs: torch.Tensor, labels: torch.Tensor) -> EnsembleResult:
    """Members' (M, N, K) probabilities and the true labels (N,) -> accuracies and disagreements."""
    if probs.dim() != 3 or probs.shape[1] != len(labels):
        raise EnsembleError("the probabilities must be (members, images, classes), one per label")
    preds = probs.argmax(2)  # (M, N)
    mean = average_vote(probs)
    avg_pred, vote_pred = mean.argmax(1), majority_vote(probs)
    disagree = (preds != preds[0]).any(0).nonzero().flatten()
    confidence = mean[disagree].max(1).values
    order = confidence.argsort()  # the least sure first
    return EnsembleResult(
        member_acc=tuple((preds == labels).float().mean(1).tolist()),
        average_acc=(avg_pred == labels).float().mean().item(),
        vote_acc=(vote_pred == labels).float().mean().item(),
        disagree=tuple(disagree[order].tolist()),
        confidence=tuple(confidence[order].tolist()),
        predictions=preds,
        average_pred=avg_pred,
        vote_pred=vote_pred,
    )


def verdict(result: EnsembleResult) -> str:
    """How the averaged ensemble did against its members, as one of VERDICTS."""
    best = result.best_member
    if result.average_acc > best:
        return VERDICTS[0]
    if result.average_acc == best:
        return VERDICTS[1]
    return VERDICTS[2]


VERDICTS = ("better than every member", "as good as the best member", "below the best member")


def rows_for_download(result: EnsembleResult, labels: torch.Tensor, names: Sequence[str]) -> list:
    """One row per validation image: the truth, each member's answer and both ensembles'."""
    rows = []
    for i in range(len(labels)):
        row = {"image": i, "true": names[int(labels[i])]}
        for m in range(result.predictions.shape[0]):
            row[member_label(m)] = names[int(result.predictions[m, i])]
        row["average"] = names[int(result.average_pred[i])]
        row["vote"] = names[int(result.vote_pred[i])]
        rows.append(row)
    return rows
