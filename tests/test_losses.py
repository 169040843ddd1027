"""The loss explorer's maths against PyTorch and the closed forms."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from models.training.losses import (
    LOSSES,
    LossError,
    LossSettings,
    compute_losses,
    entropy_bits,
    logits_for_p_true,
    loss_curves,
    smoothed_target,
    softmax_with_temperature,
    target_forms,
    temperature_sweep,
)

LOGITS = [2.0, -1.0, 0.5, 0.3]
TARGET = 2


def _grad(report, name: str) -> torch.Tensor:
    gradient = next(v.gradient for v in report.losses if v.name == name)
    return torch.tensor(gradient, dtype=torch.float64)


def _value(report, name: str) -> float:
    return next(v.value for v in report.losses if v.name == name)


def test_the_cross_entropy_gradient_is_softmax_minus_one_hot():
    report = compute_losses(LOGITS, TARGET)
    z = torch.tensor(LOGITS, dtype=torch.float64)
    expected = torch.softmax(z, 0) - F.one_hot(torch.tensor(TARGET), 4)
    assert torch.allclose(_grad(report, "cross-entropy"), expected)
    assert _value(report, "cross-entropy") == pytest.approx(-math.log(report.p_true))


def test_the_smoothed_gradient_is_softmax_minus_the_smoothed_target():
    settings = LossSettings(smoothing=0.2)
    report = compute_losses(LOGITS, TARGET, settings)
    z = torch.tensor(LOGITS, dtype=torch.float64)
    expected = torch.softmax(z, 0) - smoothed_target(4, TARGET, 0.2)
    assert torch.allclose(_grad(report, "label-smoothed cross-entropy"), expected)
    torch_value = F.cross_entropy(z[None], torch.tensor([TARGET]), label_smoothing=0.2)
    assert _value(report, "label-smoothed cross-entropy") == pytest.approx(torch_value.item())


@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0, 5.0])
def test_the_focal_gradient_matches_its_closed_form(gamma):
    report = compute_losses(LOGITS, TARGET, LossSettings(focal_gamma=gamma))
    s = torch.softmax(torch.tensor(LOGITS, dtype=torch.float64), 0)
    p = s[TARGET]
    # FL = −(1 − p)^γ log p; dFL/dp = γ(1 − p)^(γ−1) log p − (1 − p)^γ / p; dp/dz = p(onehot − s)
    dfl_dp = gamma * (1 - p) ** (gamma - 1) * torch.log(p) - (1 - p) ** gamma / p
    expected = dfl_dp * p * (F.one_hot(torch.tensor(TARGET), 4) - s)
    assert torch.allclose(_grad(report, "focal"), expected)
    assert _value(report, "focal") == pytest.approx((-((1 - p) ** gamma) * torch.log(p)).item())


def test_focal_with_gamma_zero_is_cross_entropy():
    report = compute_losses(LOGITS, TARGET, LossSettings(focal_gamma=0.0))
    assert _value(report, "focal") == pytest.approx(_value(report, "cross-entropy"))


def test_weston_watkins_hinge_is_pytorchs_multi_margin_loss_times_the_classes():
    z = torch.tensor([LOGITS], dtype=torch.float64)
    torch_value = F.multi_margin_loss(z, torch.tensor([TARGET]), margin=1.0) * 4
    report = compute_losses(LOGITS, TARGET)
    assert _value(report, "hinge (Weston–Watkins)") == pytest.approx(torch_value.item())
    # z_y = 0.5: class 0 (2.0) and 3 (0.3) violate the margin, class 1 (−1.0) does not
    assert _grad(report, "hinge (Weston–Watkins)").tolist() == [1.0, 0.0, -2.0, 1.0]


def test_crammer_singer_hinge_counts_only_the_strongest_rival():
    report = compute_losses(LOGITS, TARGET)
    assert _value(report, "hinge (Crammer–Singer)") == pytest.approx(1 - (0.5 - 2.0))
    assert _grad(report, "hinge (Crammer–Singer)").tolist() == [1.0, 0.0, -1.0, 0.0]


def test_the_hinges_are_zero_once_the_margin_is_met():
    report = compute_losses([5.0, 0.0, 1.0], 0)
    for name in ("hinge (Weston–Watkins)", "hinge (Crammer–Singer)"):
        assert _value(report, name) == 0.0 and not any(_grad(report, name).tolist())


@pytest.mark.parametrize("name", [n for n in LOSSES if n != "label-smoothed cross-entropy"])
def test_every_unsmoothed_loss_falls_as_the_true_class_gets_likelier(name):
    curves = loss_curves(np.linspace(0.05, 0.95, 19), k=4)
    assert np.all(np.diff(curves[name]) <= 1e-12), name


def test_the_smoothed_loss_is_lowest_at_the_smoothed_target_not_at_certainty():
    grid = np.linspace(0.5, 0.999, 500)
    curve = loss_curves(grid, k=4, settings=LossSettings(smoothing=0.2))[
        "label-smoothed cross-entropy"
    ]
    best = grid[np.argmin(curve)]
    assert best == pytest.approx(1 - 0.2 + 0.2 / 4, abs=0.002)  # 0.85, not 1
    assert curve[-1] > curve.min()


@pytest.mark.parametrize("p", [0.1, 0.5, 0.93])
def test_logits_for_p_true_give_that_probability(p):
    logits = logits_for_p_true([0.4, -1.2, 2.0], target=1, p_true=p)
    assert len(logits) == 4 and logits[0] == 0.4 and logits[2] == -1.2
    assert torch.softmax(torch.tensor(logits), 0)[1].item() == pytest.approx(p, abs=1e-6)


def test_an_index_and_a_one_hot_target_give_the_same_cross_entropy_and_mixup_is_a_mix():
    forms = target_forms(LOGITS, TARGET, smoothing=0.1, partner=0, lam=0.7)
    assert forms.with_index == pytest.approx(forms.with_one_hot)
    assert forms.smoothed_index == pytest.approx(forms.smoothed_probabilities)
    assert forms.smoothed_index != pytest.approx(forms.with_index)
    assert forms.mixup_target == pytest.approx((0.3, 0.0, 0.7, 0.0))
    assert forms.mixup == pytest.approx(forms.mixup_as_mix)


def test_temperature_flattens_or_sharpens_the_softmax():
    plain = softmax_with_temperature(LOGITS, 1.0)
    assert plain == pytest.approx(torch.softmax(torch.tensor(LOGITS), 0).tolist())
    hot, cold = softmax_with_temperature(LOGITS, 10.0), softmax_with_temperature(LOGITS, 0.1)
    assert entropy_bits(hot) > entropy_bits(plain) > entropy_bits(cold)
    assert max(cold) > 0.99 and entropy_bits(hot) > 1.9  # log2(4) = 2 is uniform
    sweep = temperature_sweep(LOGITS, np.array([0.5, 1.0, 2.0]))
    assert sweep.shape == (3, 4) and np.allclose(sweep.sum(1), 1)


def test_the_strongest_push_at_high_confidence_is_not_focal():
    logits = logits_for_p_true([0.0, 0.0], target=0, p_true=0.9)
    report = compute_losses(logits, 0)
    assert report.strongest_push().name != "focal"
    assert abs(_grad(report, "focal")[0]) < abs(_grad(report, "cross-entropy")[0])


@pytest.mark.parametrize(
    ("logits", "target", "words"),
    [
        ([1.0], 0, "between 2 and 10"),
        ([1.0, math.nan], 0, "must be a number"),
        ([1.0, 80.0], 0, "between −50 and 50"),
        ([1.0, 2.0], 2, "one of the 2 classes"),
    ],
)
def test_bad_logits_are_refused_with_a_sentence(logits, target, words):
    with pytest.raises(LossError, match=words):
        compute_losses(logits, target)


def test_bad_settings_are_refused_with_a_sentence():
    with pytest.raises(LossError, match="smoothing"):
        LossSettings(smoothing=1.0)
    with pytest.raises(LossError, match="temperature"):
        softmax_with_temperature(LOGITS, 0.0)
    with pytest.raises(LossError, match="strictly between"):
        logits_for_p_true([0.0], 0, 1.0)


def test_computing_the_losses_leaves_the_inputs_as_they_were():
    logits = list(LOGITS)
    compute_losses(logits, TARGET)
    target_forms(logits, TARGET, 0.1, 0, 0.5)
    assert logits == LOGITS


@pytest.mark.parametrize("gamma", [0.0, 2.0, 5.0])
def test_the_explorer_and_the_imbalance_plot_show_the_focal_loss_that_training_uses(gamma):
    from models.training.engine import TrainConfig, compute_loss
    from models.training.imbalance import focal_term

    report = compute_losses(LOGITS, TARGET, LossSettings(focal_gamma=gamma))
    shown = next(v.value for v in report.losses if v.name == "focal")
    z, y = torch.tensor([LOGITS]), torch.tensor([TARGET])
    trained = compute_loss(z, y, TrainConfig(loss="focal", focal_gamma=gamma)).item()
    assert shown == pytest.approx(trained, rel=1e-6)
    plotted = focal_term(np.array([report.p_true]), gamma)[0]
    assert plotted == pytest.approx(trained, rel=1e-6)


def test_the_explorer_shows_the_label_smoothed_loss_that_training_uses():
    from models.training.engine import TrainConfig, compute_loss

    report = compute_losses(LOGITS, TARGET, LossSettings(smoothing=0.1))
    shown = next(v.value for v in report.losses if v.name == "label-smoothed cross-entropy")
    z, y = torch.tensor([LOGITS]), torch.tensor([TARGET])
    trained = compute_loss(z, y, TrainConfig(label_smoothing=0.1)).item()
    assert shown == pytest.approx(trained, rel=1e-6)
