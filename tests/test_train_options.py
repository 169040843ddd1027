"""The engine's options for the training labs: sampler, input scaling, frozen layers and tasks."""

from __future__ import annotations

import math
import threading

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from models.data.datasets import PreparedData, channel_stats
from models.network.build import build_model
from models.rng import RandomStream
from models.training.engine import (
    TrainConfig,
    TrainConfigError,
    _Batches,
    compute_loss,
    count_correct,
    input_stats,
    mask_iou,
    train,
)
from models.training.executor.runner import TrainRequest, run_request
from tests.test_train import TINY, toy_data


def imbalanced(n_major: int = 90, n_minor: int = 10) -> PreparedData:
    data = toy_data(n_major + n_minor)
    y = torch.cat([torch.zeros(n_major, dtype=torch.long), torch.ones(n_minor, dtype=torch.long)])
    return PreparedData(
        data.train_x, y, data.val_x, data.val_y, data.class_names, data.mean, data.std, "imbalanced"
    )


def test_the_balanced_sampler_draws_each_class_about_equally_often():
    data = imbalanced()
    config = TrainConfig(sampler="balanced", seed=3)
    batches = _Batches(data, torch.device("cpu"), config, RandomStream(3, numpy=False))
    drawn = torch.cat([data.train_y[batches.order()] for _ in range(50)])
    share = drawn.float().mean().item()  # the minority's share of the draws
    assert 0.45 < share < 0.55  # against 0.1 in the data
    plain = _Batches(data, torch.device("cpu"), TrainConfig(seed=3), RandomStream(3, numpy=False))
    assert sorted(plain.order().tolist()) == list(range(100))  # a shuffle: each image once


@pytest.mark.parametrize("inputs", ["standardize", "0 to 1", "0 to 255"])
def test_input_scaling_gives_the_network_what_the_setting_names(inputs):
    data = toy_data()
    batches = _Batches(
        data, torch.device("cpu"), TrainConfig(inputs=inputs), RandomStream(0, numpy=False)
    )
    x = data.train_x[:4]
    got = batches.normalize(x)
    raw = x.float()
    expected = {
        "0 to 255": raw,
        "0 to 1": raw / 255,
        "standardize": (raw / 255 - data.mean[0]) / data.std[0],
    }[inputs]
    torch.testing.assert_close(got, expected)
    mean, std = input_stats(inputs, data.mean, data.std)  # what the model's bundle carries
    torch.testing.assert_close((raw / 255 - mean[0]) / std[0], expected)


def test_training_the_last_layer_alone_leaves_every_other_weight_unchanged():
    model = build_model(TINY, seed=0)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    config = TrainConfig(epochs=2, batch_size=16, trainable="last layer", lr=0.01)
    list(train(model, toy_data(), config))
    last = [name for name, m in model.named_modules() if isinstance(m, nn.Linear)][-1]
    for key, value in model.state_dict().items():
        changed = not torch.equal(value, before[key])
        assert changed == key.startswith(last + "."), key
    list(train(model, toy_data(), TrainConfig(epochs=1, batch_size=16)))  # "all" thaws it again
    assert all(p.requires_grad for p in model.parameters())


def test_a_pixel_task_takes_per_pixel_cross_entropy_and_scores_iou():
    logits = torch.randn(3, 2, 4, 4, generator=torch.Generator().manual_seed(0))
    y = torch.randint(0, 2, (3, 4, 4), generator=torch.Generator().manual_seed(1))
    config = TrainConfig(task="segment")
    torch.testing.assert_close(compute_loss(logits, y, config), F.cross_entropy(logits, y))
    iou = mask_iou(logits.argmax(1), y).sum().item()
    assert count_correct(logits, y, "segment") == pytest.approx(iou)


def test_a_regression_takes_mse_or_huber_and_has_no_accuracy():
    out, y = torch.tensor([[1.0], [3.0]]), torch.tensor([0.0, 0.0])
    assert compute_loss(out, y, TrainConfig(task="regress", loss="mse")).item() == 5.0
    assert compute_loss(out, y, TrainConfig(task="regress", loss="huber")).item() == 1.5
    assert math.isnan(count_correct(out, y, "regress"))


def test_settings_that_do_not_go_together_are_refused_in_words():
    with pytest.raises(TrainConfigError, match="regression needs"):
        TrainConfig(task="regress")
    with pytest.raises(TrainConfigError, match="regression needs"):
        TrainConfig(loss="mse")
    with pytest.raises(TrainConfigError, match="balanced sampler"):
        TrainConfig(task="segment", sampler="balanced")
    with pytest.raises(TrainConfigError, match="inputs must be"):
        TrainConfig(inputs="raw")


def test_a_regression_run_learns_and_hands_back_its_model_without_class_scores():
    gen = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (64, 1, 8, 8), generator=gen, dtype=torch.uint8)
    y = x.float().mean(dim=(1, 2, 3)) / 255  # the image's brightness
    vx = torch.randint(0, 256, (16, 1, 8, 8), generator=gen, dtype=torch.uint8)
    vy = vx.float().mean(dim=(1, 2, 3)) / 255
    mean, std = channel_stats(x)
    data = PreparedData(x, y, vx, vy, ("brightness",), mean, std, "brightness")
    model = seeded(lambda: nn.Sequential(nn.Flatten(), nn.Linear(64, 1)))
    config = TrainConfig(
        epochs=10, batch_size=8, task="regress", loss="mse", lr=0.05, schedule="constant"
    )
    outcome = run_request(
        TrainRequest("bright", model, data, config), threading.Event(), lambda m: None
    )
    assert outcome.status == "finished" and outcome.evaluation is None
    losses = [e["val_loss"] for e in outcome.metrics["epochs"]]
    assert losses[-1] < losses[0] / 2


def seeded(make):
    """A module built from a fixed seed, without touching the global generator's state."""
    with torch.random.fork_rng():
        torch.manual_seed(0)
        return make()


def test_mask_iou_averages_the_foreground_classes_present():
    y = torch.zeros(2, 4, 4, dtype=torch.long)
    y[0, :2, :2] = 1  # 4 pixels of class 1
    pred = torch.zeros(2, 4, 4, dtype=torch.long)
    pred[0, :2, :1] = 1  # 2 of them found, nothing else
    pred[0, 3, 3] = 2  # a class-2 pixel that is not there: IoU 0 for class 2
    iou = mask_iou(pred, y)
    assert iou[0].item() == pytest.approx((2 / 4 + 0) / 2)
    assert iou[1].item() == 1.0  # nothing to find and nothing found


def test_a_pixel_run_reports_iou_and_a_preview_of_its_masks():
    gen = torch.Generator().manual_seed(0)
    x = torch.randint(0, 60, (48, 1, 8, 8), generator=gen, dtype=torch.uint8)
    x[:, :, 2:6, 2:6] += 150  # a bright square: the foreground
    y = (x[:, 0] > 100).long()
    mean, std = channel_stats(x)
    data = PreparedData(x[:32], y[:32], x[32:], y[32:], ("background", "square"), mean, std, "sq")
    model = seeded(
        lambda: nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 2, 1))
    )
    config = TrainConfig(epochs=6, batch_size=8, task="segment", lr=0.03)
    reports = [m for m in train(model, data, config) if m.kind == "epoch"]
    assert reports[-1].val_acc > 0.9  # IoU of the square
    assert reports[-1].preview.shape == (6, 8, 8) and reports[-1].preview.dtype == torch.uint8


def test_a_signal_classifier_is_evaluated_and_its_mistakes_kept_as_signals():
    gen = torch.Generator().manual_seed(0)
    x = torch.randint(0, 100, (40, 1, 16), generator=gen, dtype=torch.uint8)
    y = torch.arange(40) % 2
    x[y == 1, :, 8:] += 150  # class b is loud in its second half
    mean, std = channel_stats(x[:, :, None])  # per channel, as for images
    data = PreparedData(x[:32], y[:32], x[32:], y[32:], ("a", "b"), mean, std, "noise")
    model = seeded(lambda: nn.Sequential(nn.Conv1d(1, 2, 3), nn.AdaptiveAvgPool1d(1), nn.Flatten()))
    config = TrainConfig(epochs=3, batch_size=8)
    outcome = run_request(TrainRequest("1-D", model, data, config), threading.Event(), print)
    assert outcome.status == "finished" and outcome.evaluation is not None
    assert all(signal.shape == (1, 16) for signal, _ in outcome.misclassified)


def test_class_weighted_loss_is_pytorchs_weighted_mean():
    gen = torch.Generator().manual_seed(0)
    logits, y = torch.randn(6, 3, generator=gen), torch.tensor([0, 0, 0, 0, 1, 2])
    weight = torch.tensor([0.5, 2.0, 2.0])
    got = compute_loss(logits, y, TrainConfig(), weight)
    torch.testing.assert_close(got, F.cross_entropy(logits, y, weight=weight))
