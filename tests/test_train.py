"""The training engine on tiny real data: reports, learning, stopping, NaN, best weights."""

from __future__ import annotations

import math
import threading

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torchvision.transforms import v2

from models.build import build_model
from models.data import PreparedData, channel_stats
from models.evaluate import evaluate
from models.spec import NetworkSpec
from models.train import (
    TrainConfig,
    TrainingDiverged,
    compute_loss,
    lr_curve,
    lr_factor,
    train,
)

TINY = NetworkSpec.from_dict(
    {
        "input": [1, 8, 8],
        "layers": [
            {"type": "conv", "out_channels": 4, "kernel_size": 3, "padding": 1},
            {"type": "relu"},
            {"type": "flatten"},
            {"type": "linear", "out_features": 2},
        ],
    }
)


def halves(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """8×8 gray images: class 0 bright on the left half, class 1 on the right, plus noise."""
    gen = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 2
    x = torch.randint(0, 60, (n, 1, 8, 8), generator=gen)
    for i, label in enumerate(y.tolist()):
        x[i, 0, :, label * 4 : label * 4 + 4] += 150
    return x.to(torch.uint8), y


def toy_data(n: int = 96) -> PreparedData:
    (tx, ty), (vx, vy) = halves(n, 0), halves(32, 1)
    mean, std = channel_stats(tx)
    return PreparedData(tx, ty, vx, vy, ("left", "right"), mean, std, "halves")


def test_one_epoch_yields_step_epoch_and_done_reports_that_add_up():
    data = toy_data(96)
    reports = list(
        train(build_model(TINY), data, TrainConfig(epochs=1, batch_size=16, log_every=2))
    )
    kinds = [r.kind for r in reports]
    assert kinds == ["step"] * 3 + ["epoch", "done"]
    assert [r.step for r in reports[:3]] == [2, 4, 6]
    epoch = reports[3]
    assert epoch.total_steps == 6 and epoch.examples == 96
    assert math.isfinite(epoch.val_loss) and 0 <= epoch.val_acc <= 1
    assert 0 <= epoch.train_acc <= 1 and epoch.lr == pytest.approx(1e-3)
    assert all(r.examples_per_s > 0 and r.grad_norm > 0 for r in reports[:3])


def test_loss_falls_and_validation_accuracy_rises_on_a_learnable_toy():
    reports = list(
        train(build_model(TINY), toy_data(128), TrainConfig(epochs=6, batch_size=16, lr=1e-2))
    )
    epochs = [r for r in reports if r.kind == "epoch"]
    assert epochs[-1].val_loss < 0.5 * epochs[0].train_loss
    assert epochs[-1].val_acc >= 0.95


def test_stop_event_ends_training_within_one_batch():
    stop = threading.Event()
    gen = train(
        build_model(TINY), toy_data(256), TrainConfig(epochs=100, batch_size=8, log_every=1), stop
    )
    first = next(gen)
    stop.set()
    rest = list(gen)
    assert rest[-1].kind == "done" and "Stopped" in rest[-1].note
    assert rest[-1].step <= first.step + 1


class NaNAfter(nn.Module):
    """A real network whose output turns NaN from its `after`-th training forward pass on."""

    def __init__(self, net: nn.Module, after: int) -> None:
        super().__init__()
        self.net, self.after, self.calls = net, after, 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += self.training
        out = self.net(x)
        return out * float("nan") if self.training and self.calls >= self.after else out


def test_nan_loss_stops_with_the_step_and_a_lower_learning_rate_suggested():
    gen = train(
        NaNAfter(build_model(TINY), after=5),
        toy_data(96),
        TrainConfig(epochs=3, batch_size=16, lr=0.05, log_every=2),
    )
    seen = []
    with pytest.raises(TrainingDiverged, match=r"step 5 \(epoch 1\).*0\.005"):
        for report in gen:
            seen.append(report)
    assert [r.step for r in seen] == [2, 4]  # the curves so far were delivered


def test_restore_best_ends_with_the_weights_of_the_best_validation_epoch():
    model, data = build_model(TINY, seed=3), toy_data(64)
    config = TrainConfig(epochs=8, batch_size=8, optimizer="SGD + momentum", lr=1.0)
    snapshots = {}
    for r in train(model, data, config):
        if r.kind == "epoch":
            snapshots[r.epoch] = (r.val_loss, {k: v.clone() for k, v in model.state_dict().items()})
    best = min(snapshots, key=lambda e: snapshots[e][0])
    assert best != max(snapshots), "this seed and rate must make a later epoch worse"
    for key, value in model.state_dict().items():
        assert torch.equal(value, snapshots[best][1][key]), key


def test_early_stopping_stops_after_patience_epochs_without_improvement():
    model, data = build_model(TINY, seed=3), toy_data(64)
    config = TrainConfig(epochs=30, batch_size=8, optimizer="SGD + momentum", lr=1.0, patience=2)
    reports = list(train(model, data, config))
    assert "Early stopping" in reports[-1].note
    assert reports[-1].epoch < 30


def test_reported_learning_rates_follow_the_planned_schedule():
    data = toy_data(64)
    config = TrainConfig(epochs=4, batch_size=16, schedule="cosine", lr=0.01, log_every=1)
    plan = lr_curve(config, len(data.train_y))
    steps = [r for r in train(build_model(TINY), data, config) if r.kind == "step"]
    assert len(plan) == len(steps) == 16
    for r in steps:  # after step s the optimizer holds the rate planned for step s
        assert r.lr == pytest.approx(plan[r.step] if r.step < len(plan) else r.lr)


@pytest.mark.parametrize("schedule", ["constant", "step", "cosine", "one-cycle"])
def test_schedules_start_and_end_where_their_definitions_say(schedule):
    factors = [lr_factor(schedule, s, 100, 10, 2) for s in range(101)]
    peak = max(range(101), key=factors.__getitem__)
    expected = {
        "constant": (1.0, 1.0, 0),
        "step": (1.0, 1e-5, 0),
        "cosine": (1.0, 0.0, 0),
        "one-cycle": (0.04, 1e-6, 30),
    }[schedule]
    assert factors[0] == pytest.approx(expected[0])
    assert factors[100] == pytest.approx(expected[1], abs=1e-9)
    assert peak == expected[2]


def test_focal_loss_with_gamma_zero_is_cross_entropy_and_smaller_otherwise():
    logits, y = torch.randn(32, 5, generator=torch.Generator().manual_seed(0)), torch.arange(32) % 5
    ce = F.cross_entropy(logits, y)
    assert compute_loss(logits, y, TrainConfig(loss="focal", focal_gamma=0.0)) == pytest.approx(
        ce.item()
    )
    assert compute_loss(logits, y, TrainConfig(loss="focal", focal_gamma=2.0)) < ce


def test_augmentation_transform_sees_every_training_image_once_per_epoch():
    calls = []

    def record(img: torch.Tensor) -> torch.Tensor:
        calls.append(img.shape)
        return img

    config = TrainConfig(
        epochs=2,
        batch_size=16,
        augmentation=v2.Compose([v2.RandomHorizontalFlip(p=0.5), v2.Lambda(record)]),
    )
    list(train(build_model(TINY), toy_data(48), config))
    assert len(calls) == 96 and set(calls) == {torch.Size([1, 8, 8])}


def test_evaluate_counts_a_confusion_matrix_that_matches_accuracy():
    model, data = build_model(TINY), toy_data(128)
    list(train(model, data, TrainConfig(epochs=4, batch_size=16, lr=1e-2)))
    result = evaluate(model, data.val_x, data.val_y, data.mean, data.std, 2)
    assert result.confusion.sum() == len(data.val_y)
    assert result.accuracy == pytest.approx(result.confusion.trace().item() / len(data.val_y))
    assert result.support == [16, 16]


def test_invalid_settings_are_refused_with_a_readable_message():
    with pytest.raises(ValueError, match="learning rate"):
        TrainConfig(lr=0)
    with pytest.raises(ValueError, match="optimizer"):
        TrainConfig(optimizer="Lion")
