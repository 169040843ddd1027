"""The training engine on tiny real data: reports, learning, stopping, NaN, divergence, best
weights, batchnorm's last batch, reproducibility beside another run, and the LR chart."""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torchvision.transforms import v2

from models.data.augment import DEFAULT_PIPELINE, PipelineSpec, StepSpec
from models.data.datasets import PreparedData, channel_stats
from models.network.build import build_model
from models.network.spec import NetworkSpec
from models.training.engine import (
    TrainConfig,
    TrainConfigError,
    TrainingDiverged,
    TrainingError,
    compute_loss,
    lr_curve,
    lr_factor,
    steps_per_epoch,
    train,
)
from models.training.evaluate import evaluate
from viz.train import lr_figure

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


# TINY with dropout: its training forward pass draws masks from torch's global generator.
TINY_DROPOUT = NetworkSpec.from_dict(
    {
        "input": [1, 8, 8],
        "layers": [
            {"type": "conv", "out_channels": 4, "kernel_size": 3, "padding": 1},
            {"type": "relu"},
            {"type": "dropout", "p": 0.5},
            {"type": "flatten"},
            {"type": "linear", "out_features": 2},
        ],
    }
)
# Batchnorm on flat features: a batch of one image gives it one value per channel.
TINY_BATCHNORM = NetworkSpec.from_dict(
    {
        "input": [1, 8, 8],
        "layers": [
            {"type": "flatten"},
            {"type": "linear", "out_features": 8},
            {"type": "batchnorm"},
            {"type": "relu"},
            {"type": "linear", "out_features": 2},
        ],
    }
)
FLIPS = PipelineSpec((StepSpec("Vertical flip", p=0.5),))  # keeps a left/right image's class


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


def random_labels(n: int = 64) -> PreparedData:
    """The halves images with coin-flip labels: nothing to learn, so a huge rate only hurts."""
    data, gen = toy_data(n), torch.Generator().manual_seed(0)
    ty, vy = torch.randint(0, 2, (n,), generator=gen), torch.randint(0, 2, (32,), generator=gen)
    return PreparedData(data.train_x, ty, data.val_x, vy, data.class_names, data.mean, data.std, "")


@contextmanager
def training_elsewhere(seed: int = 99) -> Iterator[None]:
    """Another session's run (dropout and augmentation on) training in a thread meanwhile."""
    stop, started = threading.Event(), threading.Event()
    config = TrainConfig(epochs=1000, batch_size=8, augmentation=FLIPS, seed=seed, log_every=1)

    def run() -> None:
        for _ in train(build_model(TINY_DROPOUT, seed=seed), toy_data(64), config, stop):
            started.set()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert started.wait(30), "the other run never reported"
    try:
        yield
    finally:
        stop.set()
        thread.join(30)


def curves(reports) -> list[tuple]:
    """What a run's reports say about learning, without its timings."""
    return [(r.kind, r.step, r.train_loss, r.train_acc, r.val_loss, r.val_acc) for r in reports]


def test_one_epoch_yields_step_epoch_and_done_reports_that_add_up():
    data = toy_data(96)
    reports = list(
        train(
            build_model(TINY),
            data,
            TrainConfig(epochs=1, batch_size=16, lr=1e-3, schedule="constant", log_every=2),
        )
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
    assert not reports[-1].diverged and "diverged" not in reports[-1].note


def test_a_run_whose_loss_ends_far_above_its_start_is_flagged_with_a_tenth_of_the_rate():
    config = TrainConfig(epochs=2, batch_size=16, optimizer="SGD + momentum", lr=10.0)
    reports = list(train(build_model(TINY), random_labels(), config))
    done, last_epoch = reports[-1], [r for r in reports if r.kind == "epoch"][-1]
    assert done.kind == "done" and done.diverged
    assert last_epoch.train_loss > 1e6  # finite, so no TrainingDiverged: only the flag says it
    assert "Training diverged" in done.note and "try 1" in done.note and "(10)" in done.note


def test_a_rate_that_suits_the_same_data_is_not_flagged_diverged():
    config = TrainConfig(epochs=2, batch_size=16, optimizer="SGD + momentum", lr=1e-3)
    assert not list(train(build_model(TINY), random_labels(), config))[-1].diverged


@pytest.mark.parametrize(
    ("n", "batch", "steps"), [(32, 16, 2), (33, 16, 2), (34, 16, 3), (5, 1, 5), (1, 8, 0)]
)
def test_an_epoch_leaves_out_only_a_last_batch_of_one_image(n, batch, steps):
    assert steps_per_epoch(n, batch) == steps


def test_batchnorm_trains_when_the_last_batch_would_hold_a_single_image():
    data = toy_data(33)  # 16 + 16 + 1
    reports = list(train(build_model(TINY_BATCHNORM), data, TrainConfig(epochs=2, batch_size=16)))
    epochs = [r for r in reports if r.kind == "epoch"]
    assert [(r.step, r.examples) for r in epochs] == [(2, 32), (4, 64)]
    assert epochs[0].total_steps == len(lr_curve(TrainConfig(epochs=2, batch_size=16), 33)) == 4


def test_batchnorm_with_one_image_per_batch_is_refused_in_a_sentence():
    config = TrainConfig(epochs=1, batch_size=1)
    with pytest.raises(TrainingError, match="batch size of 2 or more"):
        list(train(build_model(TINY_BATCHNORM), toy_data(8), config))


def test_the_same_seed_gives_the_same_curves_while_another_run_trains():
    def run(seed: int) -> tuple[list[tuple], dict]:
        model = build_model(TINY_DROPOUT, seed=1)
        config = TrainConfig(epochs=2, batch_size=8, augmentation=FLIPS, seed=seed, log_every=1)
        return curves(train(model, toy_data(32), config)), model.state_dict()

    quiet, quiet_weights = run(5)
    with training_elsewhere():
        busy, busy_weights = run(5)
    assert busy == quiet
    assert all(torch.equal(quiet_weights[k], busy_weights[k]) for k in quiet_weights)
    assert run(6)[0] != quiet  # the seed does decide the dropout masks and the flips


def test_training_leaves_the_global_random_state_alone():
    torch_before, np_before = torch.get_rng_state(), np.random.get_state()
    config = TrainConfig(epochs=1, batch_size=8, augmentation=FLIPS, log_every=1)
    list(train(build_model(TINY_DROPOUT), toy_data(32), config))
    assert torch.equal(torch.get_rng_state(), torch_before)
    assert np.array_equal(np.random.get_state()[1], np_before[1])


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


def test_augmentation_transform_sees_every_training_image_once_per_epoch(monkeypatch):
    calls = []

    def record(img: torch.Tensor) -> torch.Tensor:
        calls.append(img.shape)
        return img

    def built(spec: PipelineSpec, size) -> v2.Compose:
        assert spec == FLIPS and size == (8, 8)  # the engine builds the run's spec at its size
        return v2.Compose([v2.RandomHorizontalFlip(p=0.5), v2.Lambda(record)])

    monkeypatch.setattr("models.training.engine.build_pipeline", built)
    config = TrainConfig(epochs=2, batch_size=16, augmentation=FLIPS)
    list(train(build_model(TINY), toy_data(48), config))
    assert len(calls) == 96 and set(calls) == {torch.Size([1, 8, 8])}


def test_a_config_round_trips_through_json_with_its_pipeline():
    config = TrainConfig(epochs=3, lr=3e-4, schedule="cosine", augmentation=DEFAULT_PIPELINE)
    text = config.to_json()
    assert TrainConfig.from_json(text) == config
    assert '"Random resized crop"' in text
    assert TrainConfig.from_json(TrainConfig().to_json()) == TrainConfig()


def test_a_config_holds_a_pipeline_description_not_a_callable():
    with pytest.raises(TrainConfigError, match="PipelineSpec"):
        TrainConfig(augmentation=v2.RandomVerticalFlip())
    with pytest.raises(TrainConfigError, match="not a training config"):
        TrainConfig.from_json("[1, 2]")
    with pytest.raises(TrainConfigError, match="learning rate"):
        TrainConfig.from_json('{"lr": 0}')


def test_evaluate_counts_a_confusion_matrix_that_matches_accuracy():
    model, data = build_model(TINY), toy_data(128)
    list(train(model, data, TrainConfig(epochs=4, batch_size=16, lr=1e-2)))
    result = evaluate(model, data.val_x, data.val_y, data.mean, data.std, 2)
    assert result.confusion.sum() == len(data.val_y)
    assert result.accuracy == pytest.approx(result.confusion.trace().item() / len(data.val_y))
    assert result.support == [16, 16]


def test_invalid_settings_are_refused_with_a_readable_message():
    with pytest.raises(TrainConfigError, match="learning rate"):
        TrainConfig(lr=0)
    with pytest.raises(TrainConfigError, match="optimizer"):
        TrainConfig(optimizer="Lion")


@pytest.mark.parametrize("schedule", ["constant", "step", "one-cycle"])
def test_the_learning_rate_chart_has_a_log_axis_fitted_to_the_rates(schedule):
    config = TrainConfig(epochs=6, batch_size=16, schedule=schedule, lr=1e-3)
    lrs = lr_curve(config, 64)
    axis = lr_figure(lrs, 4, done=3).layout.yaxis
    low, high = axis.range
    assert axis.type == "log"
    assert low < math.log10(min(lrs)) and math.log10(max(lrs)) < high  # every rate is drawn
    assert high - low < math.log10(max(lrs) / min(lrs)) + 1.0  # and no decades to spare


def test_a_constant_rate_is_drawn_mid_chart_not_as_a_line_at_zero():
    axis = lr_figure([1e-3] * 40, 10).layout.yaxis
    assert axis.type == "log"
    assert axis.range[0] < -3 < axis.range[1] and sum(axis.range) / 2 == pytest.approx(-3)
