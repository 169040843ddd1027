"""FGSM and PGD on a tiny network in pixel space: they raise the loss and keep within ε."""

import numpy as np
import pytest
import torch
from PIL import Image

from models.bundle import untrained_bundle
from models.data.shapes import SHAPE_CLASSES
from models.explain import adversarial as adv
from models.inputs import pixel_model
from models.network.spec import NetworkSpec

SPEC = NetworkSpec.from_dict(
    {
        "input": [3, 16, 16],
        "layers": [
            {"type": "conv", "out_channels": 6, "kernel_size": 3, "padding": 1},
            {"type": "relu"},
            {"type": "maxpool", "kernel_size": 2},
            {"type": "conv", "out_channels": 8, "kernel_size": 3, "padding": 1},
            {"type": "relu"},
            {"type": "global_avgpool"},
            {"type": "linear", "out_features": 10},
        ],
    }
)


@pytest.fixture
def bundle():
    return untrained_bundle(SPEC, seed=2)


@pytest.fixture
def x():
    return torch.rand(4, 3, 16, 16, generator=torch.Generator().manual_seed(1)) * 0.8 + 0.1


def _loss(bundle, x, labels) -> float:
    with torch.no_grad():
        return float(torch.nn.functional.cross_entropy(pixel_model(bundle)(x), labels))


@pytest.mark.parametrize("method", adv.ATTACKS)
def test_an_attack_raises_the_loss_and_respects_epsilon(bundle, x, method):
    labels = torch.tensor([0, 3, 5, 9])
    config = adv.AttackConfig(method, epsilon=8, steps=5, step_size=2)
    out = adv.run_attack(pixel_model(bundle), x, labels, config)
    assert (out - x).abs().max() <= 8 / 255 + 1e-6
    assert out.min() >= 0 and out.max() <= 1
    assert _loss(bundle, out, labels) > _loss(bundle, x, labels)
    assert all(p.grad is None for p in bundle.model.parameters())


def test_fgsm_moves_every_pixel_by_exactly_epsilon_away_from_the_clamp(bundle, x):
    out = adv.fgsm(pixel_model(bundle), x, torch.tensor([1, 1, 1, 1]), 4 / 255)
    assert torch.allclose((out - x).abs(), torch.full_like(x, 4 / 255), atol=1e-6)


def test_pgd_with_a_seed_is_repeatable_and_clamps_at_the_image_edges(bundle):
    x = torch.zeros(1, 3, 16, 16)  # all black: nothing may go below zero
    config = adv.AttackConfig("PGD", epsilon=16, steps=3, step_size=4, seed=7)
    a = adv.run_attack(pixel_model(bundle), x, torch.tensor([2]), config)
    b = adv.run_attack(pixel_model(bundle), x, torch.tensor([2]), config)
    assert torch.equal(a, b) and a.min() >= 0 and a.max() <= 16 / 255 + 1e-6


def test_attacking_an_image_reports_both_answers_and_the_true_change(bundle):
    image = Image.fromarray(np.random.default_rng(0).integers(30, 220, (16, 16, 3), np.uint8))
    result = adv.attack_image(bundle, image, adv.AttackConfig("FGSM", epsilon=6))
    assert result.linf == pytest.approx(6, abs=1e-3)
    assert result.loss_after > result.loss_before
    assert result.probs_before.sum() == pytest.approx(1, abs=1e-5)
    assert result.fooled == (int(result.probs_after.argmax()) != result.label)


def test_bad_settings_are_refused_with_a_reason():
    with pytest.raises(adv.AttackError, match="ε must be between"):
        adv.AttackConfig("FGSM", epsilon=300)
    with pytest.raises(adv.AttackError, match="unknown attack"):
        adv.AttackConfig("CW")


def test_the_curve_starts_unchanged_and_uses_held_out_shapes(bundle):
    calls = []
    bundle.class_names = SHAPE_CLASSES
    curve = adv.robustness_curve(
        bundle, [0, 8, 32], adv.AttackConfig("FGSM"), n=20, progress=calls.append
    )
    assert curve.labels_match and curve.data_name.startswith("20 shapes drawn after training")
    assert curve.agreement[0] == 1.0
    assert curve.accuracy[-1] <= curve.accuracy[0]
    assert calls[-1] == pytest.approx(1.0) and calls == sorted(calls)


def test_digits_models_are_attacked_on_the_shipped_models_validation_split_only():
    from models.data import datasets as data
    from models.training.checkpoint import manifest

    shipped = data.prepare(data.digits(), (1, 8, 8), 0.2, seed=0)  # as models/pretrain splits
    held_out = adv.digits_validation()
    assert torch.equal(held_out.x, shipped.val_x) and torch.equal(held_out.y, shipped.val_y)
    spec = NetworkSpec.from_dict(
        {
            "input": [1, 8, 8],
            "layers": [
                {"type": "conv", "out_channels": 2, "kernel_size": 3},
                {"type": "flatten"},
                {"type": "linear", "out_features": 10},
            ],
        }
    )
    bundle = untrained_bundle(spec)
    bundle.class_names = tuple(str(d) for d in range(10))
    x, y, name, match = adv.validation_set(bundle, 400)
    assert match and len(y) == len(shipped.val_y) == 359
    assert "validation split" in name and name.startswith("359 digits")
    trained_on = {bytes(img.numpy()) for img in shipped.train_x}
    assert not any(bytes((img * 255).round().to(torch.uint8).numpy()) in trained_on for img in x)
    recorded = manifest()  # what models/pretrain wrote about the shipped models' test data
    if recorded:
        assert "validation split (20%, seed 0)" in recorded["Small CNN on digits"]["held_out"]
        assert f"seed {adv.HELD_OUT_SEED}" in recorded["TinyVGG on shapes"]["held_out"]


def test_attacks_leave_the_shared_model_as_they_found_it(bundle):
    bundle.model.train()
    weights = {k: v.clone() for k, v in bundle.model.state_dict().items()}
    image = Image.fromarray(np.random.default_rng(1).integers(0, 255, (20, 20, 3), np.uint8))
    adv.attack_image(bundle, image, adv.AttackConfig("PGD", epsilon=4, steps=2))
    bundle.class_names = SHAPE_CLASSES
    adv.robustness_curve(bundle, [0, 4], adv.AttackConfig("FGSM"), n=10)
    assert all(torch.equal(v, weights[k]) for k, v in bundle.model.state_dict().items())
    assert all(m.training for m in bundle.model.modules())
    assert all(p.grad is None for p in bundle.model.parameters())
    kinds = ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks", "_backward_pre_hooks")
    assert sum(len(getattr(m, k)) for m in bundle.model.modules() for k in kinds) == 0


def test_an_fgsm_config_compares_equal_whatever_its_pgd_only_settings():
    one = adv.AttackConfig("FGSM", 8, steps=5, step_size=3, random_start=False).effective()
    assert one == adv.AttackConfig("FGSM", 8).effective()
    pgd = adv.AttackConfig("PGD", 8, steps=5)
    assert pgd.effective() == pgd != adv.AttackConfig("PGD", 8, steps=6).effective()
