"""Transfer learning's pieces: the new-shapes task, the head swap, freezing, drift and planning."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.spatial import ConvexHull

from models.bundle import ModelBundle
from models.data.shift import DRIFTS, ShiftError, apply_drift
from models.data.transfer_tasks import TARGET_CLASSES, make_target
from models.network.build import build_model
from models.network.spec import NetworkSpec
from models.training import transfer as tr
from models.training.engine import train
from models.training.evaluate import evaluate
from viz import transfer as viz

TINY = NetworkSpec.from_dict(
    {
        "input": [3, 16, 16],
        "layers": [
            {"type": "conv", "out_channels": 4, "kernel_size": 3},
            {"type": "relu"},
            {"type": "maxpool", "kernel_size": 2},
            {"type": "flatten"},
            {"type": "linear", "out_features": 10},
        ],
    }
)


@pytest.fixture(scope="module")
def tiny_pretrained() -> ModelBundle:
    model = build_model(TINY, seed=3).eval()
    mean, std = (0.5,) * 3, (0.25,) * 3
    return ModelBundle(model, "tiny", (3, 16, 16), tuple("abcdefghij"), mean, std, TINY, True)


# ---------------------------------------------------------------- the target task


def test_the_target_task_is_seeded_and_balanced():
    x1, y1 = make_target(3, seed=5)
    x2, y2 = make_target(3, seed=5)
    x3, _ = make_target(3, seed=6)
    assert np.array_equal(x1, x2) and np.array_equal(y1, y2)
    assert not np.array_equal(x1, x3)
    assert x1.shape == (18, 64, 64, 3) and x1.dtype == np.uint8
    assert np.bincount(y1).tolist() == [3] * len(TARGET_CLASSES)


def _solidity(image: np.ndarray) -> float:
    """Share of the shape's convex hull the shape fills (1 for convex outlines)."""
    far = np.linalg.norm(image.astype(float) - image[0, 0].astype(float), axis=2) > 75
    points = np.argwhere(far).astype(float)
    return far.sum() / ConvexHull(points).volume


def test_each_image_is_the_shape_its_label_names():
    x, y = make_target(8, seed=1)
    convex = {"rectangle", "diamond", "half disc"}
    for image, label in zip(x, y, strict=True):
        solidity = _solidity(image)
        if TARGET_CLASSES[label] in convex:
            assert solidity > 0.9, TARGET_CLASSES[label]
        else:
            assert solidity < 0.85, TARGET_CLASSES[label]


# ---------------------------------------------------------------- the head


def test_replacing_the_head_sizes_it_for_the_new_classes_and_keeps_the_rest(tiny_pretrained):
    before = {k: v.clone() for k, v in tiny_pretrained.model.state_dict().items()}
    rng_state = torch.get_rng_state()
    new = tr.replace_head(tiny_pretrained.model, 6, seed=1)
    assert torch.equal(torch.get_rng_state(), rng_state)  # the global generator is untouched
    assert new.get_submodule(tr.head_name(new)).out_features == 6
    assert new(torch.zeros(2, 3, 16, 16)).shape == (2, 6)
    for name, value in tiny_pretrained.model.state_dict().items():
        assert torch.equal(value, before[name])  # the pretrained model is not changed
        if not name.startswith(tr.head_name(new)):
            assert torch.equal(new.state_dict()[name], value)


def test_the_new_head_is_drawn_from_its_seed():
    a, b, c = (tr.fresh_linear(40, 6, seed) for seed in (1, 1, 2))
    assert torch.equal(a.weight, b.weight) and torch.equal(a.bias, b.bias)
    assert not torch.equal(a.weight, c.weight)
    assert a.weight.abs().max() <= 1 / 40**0.5 + 1e-6  # PyTorch's default bound


def test_frozen_features_train_only_the_new_head(tiny_pretrained):
    spec = tr.TransferSpec(per_class=4, val_per_class=2, epochs=2, batch_size=8)
    run = next(r for r in tr.plan_transfer(spec, tiny_pretrained) if r.value == tr.FROZEN)
    start = {k: v.clone() for k, v in run.request.model.state_dict().items()}
    for _ in train(run.request.model, run.request.data, run.request.config):
        pass
    head = tr.head_name(run.request.model)
    for name, value in run.request.model.state_dict().items():
        changed = not torch.equal(value, start[name])
        assert changed == name.startswith(head + "."), name


def test_the_three_arms_share_the_images_and_differ_in_their_start(tiny_pretrained):
    spec = tr.TransferSpec(per_class=3, val_per_class=2)
    runs = {r.value: r.request for r in tr.plan_transfer(spec, tiny_pretrained)}
    assert set(runs) == set(tr.ARMS)
    assert len({id(r.data) for r in runs.values()}) == 1
    data = runs[tr.SCRATCH].data
    assert len(data.train_y) == 3 * 6 and len(data.val_y) == 2 * 6
    assert data.mean == tiny_pretrained.mean  # normalised as the pretrained net was
    conv = "conv1.weight"
    pretrained = tiny_pretrained.model.state_dict()[conv]
    assert torch.equal(runs[tr.FROZEN].model.state_dict()[conv], pretrained)
    assert torch.equal(runs[tr.FINE_TUNE].model.state_dict()[conv], pretrained)
    assert not torch.equal(runs[tr.SCRATCH].model.state_dict()[conv], pretrained)
    assert runs[tr.FROZEN].config.trainable == "last layer"
    assert runs[tr.FINE_TUNE].config.lr < runs[tr.SCRATCH].config.lr
    assert all(r.spec.output_shape == (6,) for r in runs.values())


def test_the_curve_plans_every_arm_at_every_size_and_reads_back(tiny_pretrained):
    runs = tr.plan_curve((10, 2), tiny_pretrained, tr.TransferSpec(per_class=2, epochs=3))
    assert len(runs) == 6
    accuracy = {r.label: 0.1 * i for i, r in enumerate(runs)}
    points = tr.curve_points(accuracy)
    assert list(points) == list(tr.ARMS)
    assert points[tr.FROZEN] == {2: pytest.approx(0.1), 10: pytest.approx(0.4)}


def test_a_bad_number_of_images_is_refused_in_words():
    with pytest.raises(tr.TransferError, match="images per class"):
        tr.TransferSpec(per_class=0)


# ---------------------------------------------------------------- drift


@pytest.mark.parametrize("drift", list(DRIFTS))
def test_every_drift_at_zero_is_the_identity_and_above_changes_the_images(drift):
    x = torch.from_numpy(make_target(2, seed=0)[0]).permute(0, 3, 1, 2).contiguous()
    assert torch.equal(apply_drift(x, drift, 0.0), x)
    moved = apply_drift(x, drift, 0.6, seed=4)
    assert moved.shape == x.shape and moved.dtype == torch.uint8
    assert not torch.equal(moved, x)
    assert torch.equal(apply_drift(x, drift, 0.6, seed=4), moved)  # one position, one image


def test_a_strength_out_of_range_is_refused():
    with pytest.raises(ShiftError, match="between 0 and 1"):
        apply_drift(torch.zeros(1, 3, 8, 8, dtype=torch.uint8), "blur", 1.5)


def test_drift_accuracy_at_zero_is_the_plain_accuracy_and_leaves_the_model_alone(tiny_pretrained):
    data = tr.drift_test_set(tiny_pretrained.input_shape, 40)
    b = tiny_pretrained
    plain = evaluate(b.model, data.x, data.y, b.mean, b.std, 10).accuracy
    assert tr.drift_accuracy(b, data, "noise", 0.0) == plain
    assert not b.model.training and not b.lock.locked()


# ---------------------------------------------------------------- ImageNet, offline


def test_imagenet_weights_are_found_only_when_cached(tmp_path):
    old = torch.hub.get_dir()
    try:
        torch.hub.set_dir(str(tmp_path))
        assert tr.imagenet_weights_file() is None
        name = tr.ZOO[tr.IMAGENET_NET].weights.url.rsplit("/", 1)[-1]
        (tmp_path / "checkpoints").mkdir()
        (tmp_path / "checkpoints" / name).write_bytes(b"")
        assert tr.imagenet_weights_file() == tmp_path / "checkpoints" / name
    finally:
        torch.hub.set_dir(old)


# ---------------------------------------------------------------- figures


def test_the_figures_draw_one_trace_per_arm_and_refuse_mismatched_samples():
    points = {tr.SCRATCH: {5: 0.2, 20: 0.3}, tr.FROZEN: {5: 0.4, 20: 0.6}}
    assert len(viz.curve_figure(points, 1 / 6).data) == 2
    assert list(viz.arms_figure({"a": 0.5, "b": 0.7}, 0.1).data[0].y) == [50, 70]
    with pytest.raises(ValueError):
        viz.samples_figure(np.zeros((2, 8, 8, 3), np.uint8), np.zeros((3, 8, 8, 3), np.uint8))


def test_the_drift_section_is_measured_once_for_every_session_on_a_shared_model(
    tiny_pretrained, monkeypatch
):
    from ui import shared_models
    from ui.panels import transfer as panel

    calls = []
    measure = tr.drift_accuracy
    monkeypatch.setattr(tr, "drift_accuracy", lambda *a: calls.append(a[2:]) or measure(*a))
    shared_models._SHARED_TOKENS.add(tiny_pretrained.token)  # as shipped_model() does
    try:
        first = panel.drift_view(tiny_pretrained, "blur", 0.5)
        assert len(calls) == len(panel.STRENGTHS) + 1  # the curve, and the slider off its grid
        assert panel.drift_view(tiny_pretrained, "blur", 0.5) is first  # another session
        on_grid = panel.drift_view(tiny_pretrained, "blur", 0.4)
        assert len(calls) == len(panel.STRENGTHS) + 1  # the curve is reused, 0.4 is on it
        assert on_grid.curve is first.curve and on_grid.accuracy == first.curve[2]
        assert first.csv.startswith("drift,strength,accuracy")
    finally:
        shared_models._SHARED_TOKENS.discard(tiny_pretrained.token)
