"""Regularization: best epochs read off curves, the prepared comparisons' arms, and activation
statistics checked against a hand-run forward pass."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
import torch
from torch import nn

from models.training.engine import TrainMetrics
from models.training.experiments import initialised, with_batchnorm
from models.training.regularization import (
    COMPARISONS,
    PATIENCE,
    WITH,
    WITHOUT,
    activation_stats,
    answer,
    best_epoch,
    fresh_stats,
    plan_comparison,
    shapes_batch,
    stat_layers,
    summarize,
)
from viz.regularization import curves_figure, histograms_figure, stats_figure


def _epoch(epoch: int, val_loss: float, train_loss: float = 1.0, val_acc: float = 0.5):
    return TrainMetrics(
        "epoch",
        epoch,
        epoch * 10,
        100,
        epoch * 100,
        train_loss,
        0.5,
        1e-3,
        1.0,
        1.0,
        1.0,
        val_loss=val_loss,
        val_acc=val_acc,
    )


def _done(epoch: int, note: str = ""):
    return TrainMetrics(
        "done", epoch, 0, 100, 0, math.nan, math.nan, 1e-3, 1.0, 1.0, 1.0, note=note
    )


CURVE = [_epoch(1, 2.0, val_acc=0.2), _epoch(2, 1.5, val_acc=0.4), _epoch(3, 1.8, 0.3, 0.35)]


def test_the_best_epoch_is_the_one_with_the_lowest_validation_loss():
    assert best_epoch(CURVE) == (2, 1.5)
    assert best_epoch([_epoch(1, math.nan)]) is None
    assert best_epoch([]) is None


def test_a_run_that_kept_its_last_weights_is_judged_by_its_last_epoch():
    s = summarize([*CURVE, _done(3)])
    assert (s.best_epoch, s.last_epoch) == (2, 3)
    assert s.kept_val_loss == 1.8 and s.kept_val_acc == 0.35
    assert s.rise == pytest.approx(0.3)
    assert s.last_train_loss == 0.3


def test_a_run_that_restored_its_best_weights_is_judged_by_its_best_epoch():
    s = summarize([*CURVE, _done(3, "Restored the weights of epoch 2, the best on validation.")])
    assert s.kept_val_loss == 1.5 and s.kept_val_acc == 0.4


def test_the_answer_follows_each_comparisons_rule():
    low = summarize([_epoch(1, 1.0, val_acc=0.3)])
    high = summarize([_epoch(1, 2.0, val_acc=0.6)])
    arms = {"a": low, "b": high}
    assert answer("lowest kept validation loss", arms) == "a"
    assert answer("highest accuracy", arms) == "b"
    assert answer("lowest accuracy", arms) == "a"


@pytest.mark.parametrize("name", list(COMPARISONS))
def test_every_comparison_trains_its_arms_on_the_same_images(name):
    runs = plan_comparison(name)
    assert [r.label for r in runs] == [a.label for a in COMPARISONS[name].arms()]
    assert len({id(r.request.data) for r in runs}) == 1
    assert COMPARISONS[name].key.startswith("regularization.")
    assert COMPARISONS[name].question.endswith("?")


def test_only_early_stopping_stops_early_and_restores_its_best_weights():
    configs = {r.label: r.request.config for r in plan_comparison("Against overfitting")}
    early = next(c for label, c in configs.items() if label.startswith("early"))
    assert early.patience == PATIENCE and early.restore_best
    others = [c for label, c in configs.items() if not label.startswith("early")]
    assert all(c.patience == 0 and not c.restore_best for c in others)
    assert sum(c.augmentation is not None for c in configs.values()) == 1
    assert sum(c.weight_decay > 0 for c in configs.values()) == 1


def test_the_batchnorm_comparison_pairs_each_rate_with_and_without_batchnorm():
    runs = plan_comparison("Batchnorm at two learning rates")
    has_bn = [any(isinstance(m, nn.BatchNorm2d) for m in r.request.model.modules()) for r in runs]
    assert has_bn == [False, True, False, True]
    rates = [r.request.config.lr for r in runs]
    assert rates[0] == rates[1] < rates[2] == rates[3]


def test_activation_stats_match_a_forward_pass_by_hand():
    setup = COMPARISONS["Against overfitting"].arms()[0].setup
    model = initialised(setup, 0).eval()
    x = shapes_batch(setup, n=16)
    stats = activation_stats(model, x)
    assert (
        [s.name for s in stats] == stat_layers(model) == ["relu1", "relu2", "relu3", "relu4", "fc1"]
    )
    with torch.no_grad():
        relu1 = model[:2](x)
        logits = model(x)
    assert stats[0].mean == pytest.approx(relu1.mean().item(), rel=1e-5)
    assert stats[0].std == pytest.approx(relu1.std().item(), rel=1e-5)
    assert stats[-1].std == pytest.approx(logits.std().item(), rel=1e-5)


def test_activation_stats_leave_the_model_its_statistics_mode_and_hooks():
    setup = with_batchnorm(COMPARISONS["Against overfitting"].arms()[0].setup, True)
    model = initialised(setup, 0).train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    activation_stats(model, shapes_batch(setup, n=8))
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert model.training
    assert all(not m._forward_hooks for m in model.modules())


def test_batchnorm_keeps_every_layers_spread_steady_where_tiny_weights_let_it_fade():
    stats = fresh_stats("tiny (std 0.001)")
    without = [s.std for s in stats[WITHOUT]]
    with_bn = [s.std for s in stats[WITH]][:-1]  # the ReLUs; a ReLU of N(0, 1) has std 0.58
    assert without[3] < 1e-6 < without[0]  # shrinks about a thousandfold per layer
    assert all(0.4 < s < 0.8 for s in with_bn), with_bn


def test_the_curves_figure_marks_each_runs_best_epoch_with_a_star():
    fig = curves_figure({"none": [CURVE], "dropout": [[_epoch(1, 1.0), _epoch(2, 1.1)]]})
    stars = [t for t in fig.data if t.mode == "markers"]
    assert [(t.x[0], t.y[0]) for t in stars] == [(2, 1.5), (1, 1.0)]


def test_the_statistics_figures_draw_every_layer_of_both_networks():
    stats = fresh_stats()
    fig = stats_figure(stats)
    assert len(fig.data) == 4 and list(fig.data[0].x) == [s.name for s in stats[WITHOUT]]
    hist = histograms_figure(stats)
    assert len(hist.data) == 2 * len(stats[WITHOUT])
    assert replace(stats[WITH][0]).name == "relu1"


def test_the_fresh_networks_statistics_are_drawn_once_for_every_session(monkeypatch):
    from ui.panels import regularization as panel

    calls = []
    monkeypatch.setattr(panel, "fresh_stats", lambda init: calls.append(init) or fresh_stats(init))
    first = panel.fresh_view("He normal")
    assert panel.fresh_view("He normal") is first  # another session on the same weights
    assert calls == ["He normal"]
    spread, caption, hist = first
    assert caption.startswith("A batch of 64 shapes") and len(spread.data) == 4
    assert panel.fresh_view("tiny (std 0.001)") is not first
