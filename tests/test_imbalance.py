"""The imbalance comparison's arms and its scores, against scikit-learn and the data set."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from sklearn.metrics import balanced_accuracy_score, f1_score, recall_score

from models.data.datasets import shapes
from models.training.imbalance import (
    METHODS,
    PLAIN,
    ImbalanceError,
    ImbalanceSpec,
    class_counts,
    compute_metrics,
    focal_term,
    metrics_by_method,
    most_missed,
    plan_imbalance,
    rows_for_download,
)


def _confusion(y_true: np.ndarray, y_pred: np.ndarray, k: int) -> torch.Tensor:
    return torch.bincount(torch.as_tensor(y_true * k + y_pred), minlength=k * k).view(k, k)


def _predictions(seed: int, k: int = 4, n: int = 60) -> tuple[np.ndarray, np.ndarray]:
    """Imbalanced truth and noisy predictions that favour the common class."""
    rng = np.random.default_rng(seed)
    y_true = rng.choice(k, n, p=np.geomspace(1, 0.1, k) / np.geomspace(1, 0.1, k).sum())
    y_pred = np.where(rng.random(n) < 0.6, y_true, rng.choice(k, n, p=[0.7, 0.1, 0.1, 0.1]))
    return y_true, y_pred


@pytest.mark.parametrize("seed", range(6))
def test_balanced_accuracy_and_macro_f1_agree_with_sklearn(seed):
    y_true, y_pred = _predictions(seed)
    m = compute_metrics(_confusion(y_true, y_pred, 4))
    assert m.accuracy == pytest.approx((y_true == y_pred).mean())
    assert m.balanced_accuracy == pytest.approx(balanced_accuracy_score(y_true, y_pred))
    assert m.macro_f1 == pytest.approx(f1_score(y_true, y_pred, average="macro", zero_division=0))
    sk_recall = recall_score(y_true, y_pred, labels=range(4), average=None, zero_division=0)
    present = np.bincount(y_true, minlength=4) > 0
    assert np.allclose(np.asarray(m.recall)[present], sk_recall[present])


def test_a_class_missing_from_validation_is_left_out_like_sklearn_does():
    y_true = np.array([0, 0, 0, 1, 1, 2])  # class 3 never appears, but is predicted once
    y_pred = np.array([0, 0, 1, 1, 1, 3])
    m = compute_metrics(_confusion(y_true, y_pred, 4))
    with pytest.warns(UserWarning):  # sklearn warns about the predicted-only class
        expected = balanced_accuracy_score(y_true, y_pred)
    assert m.balanced_accuracy == pytest.approx(expected)
    assert m.macro_f1 == pytest.approx(f1_score(y_true, y_pred, average="macro", zero_division=0))
    assert math.isnan(m.recall[3]) and m.support == (3, 2, 1, 0)


def test_answering_the_common_class_scores_high_accuracy_but_chance_balanced_accuracy():
    y_true = np.array([0] * 90 + [1] * 10)
    m = compute_metrics(_confusion(y_true, np.zeros(100, dtype=int), 2))
    assert m.accuracy == pytest.approx(0.9)
    assert m.balanced_accuracy == pytest.approx(0.5)
    assert m.recall == (1.0, 0.0) and most_missed(m) == 1


def test_the_most_missed_class_is_the_rarer_one_on_a_tie():
    m = compute_metrics([[5, 0, 0], [2, 0, 0], [1, 0, 0]])
    assert most_missed(m) == 2


def test_four_arms_change_one_thing_each_on_the_same_images():
    spec = ImbalanceSpec(ratio=10, images=500, epochs=1, focal_gamma=1.5)
    runs = plan_imbalance(spec)
    assert [r.label for r in runs] == list(METHODS)
    configs = {r.label: r.request.config for r in runs}
    assert configs["class weights"].class_weights and not configs[PLAIN].class_weights
    assert configs["resampling"].sampler == "balanced" and configs[PLAIN].sampler == "shuffle"
    assert configs["focal loss"].loss == "focal" and configs["focal loss"].focal_gamma == 1.5
    assert configs[PLAIN].loss == "cross-entropy" and configs[PLAIN].epochs == 1
    data = {id(r.request.data) for r in runs}
    assert len(data) == 1, "every arm trains on the same prepared data"
    weights = [next(r.request.model.parameters()) for r in runs]
    assert all(torch.equal(weights[0], w) for w in weights[1:]), "and starts from the same weights"


def test_class_counts_are_the_ones_the_data_set_draws():
    spec = ImbalanceSpec(ratio=10, images=600)
    counts = class_counts(spec)
    drawn = np.bincount(shapes(600, 0, 0.0, 10).y.numpy(), minlength=10).tolist()
    assert counts == drawn and counts[0] > 9 * counts[-1] and sum(counts) == 600


def test_the_focal_term_is_cross_entropy_at_gamma_zero_and_tiny_for_easy_images():
    p = np.array([0.1, 0.5, 0.9])
    assert np.allclose(focal_term(p, 0.0), -np.log(p))
    assert focal_term(np.array([0.9]), 2.0)[0] == pytest.approx(0.01 * -math.log(0.9))
    assert np.all(np.diff(focal_term(np.linspace(0.01, 1, 50), 2.0)) <= 0)


def test_scores_by_method_and_the_download_rows():
    metrics = metrics_by_method({PLAIN: torch.tensor([[3, 1], [2, 0]])})
    rows = rows_for_download(metrics, ["a", "b"])
    assert [r["class"] for r in rows] == ["a", "b"] and rows[0]["recall"] == 0.75
    assert rows[1]["validation_images"] == 2 and rows[0]["accuracy"] == 0.5


@pytest.mark.parametrize(
    ("settings", "words"),
    [
        ({"ratio": 0.5}, "ratio"),
        ({"images": 10}, "number of images"),
        ({"epochs": 0}, "epochs"),
        ({"focal_gamma": 11}, "focal"),
    ],
)
def test_settings_out_of_range_are_refused_in_words(settings, words):
    with pytest.raises(ImbalanceError, match=words):
        ImbalanceSpec(**settings)


def test_an_empty_confusion_matrix_is_refused():
    with pytest.raises(ImbalanceError, match="square"):
        compute_metrics(torch.zeros(3, 3))
