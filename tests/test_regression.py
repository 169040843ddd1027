"""Regression: targets measured from the drawn pixels, encodings, errors and a net that learns."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest
import torch
from torch import nn

from models.data.datasets import DataError
from models.data.regression_targets import TargetStyle, draw_target_shape, make_target_shapes
from models.network.build import build_model
from models.training import regression as reg


def _coverage(image: np.ndarray, centre: tuple[int, int]) -> np.ndarray:
    """The share of each pixel the shape covers, from the colours: the corner is background,
    the given pixel is fully inside the shape."""
    img = image.transpose(1, 2, 0).astype(float)  # (S, S, 3)
    background, colour = img[0, 0], img[centre[1], centre[0]]
    span = colour - background
    return np.clip(((img - background) @ span) / (span @ span), 0, 1)


def test_the_size_target_is_the_radius_of_the_drawn_circle():
    shapes = make_target_shapes(12, 5, TargetStyle(size=96, shape="circle"))
    for image, radius, (cx, cy) in zip(shapes.x.numpy(), shapes.size, shapes.position):
        area = _coverage(image, (int(cx), int(cy))).sum()
        assert math.sqrt(area / math.pi) == pytest.approx(radius, rel=0.03)


def test_the_position_target_is_the_centre_of_the_drawn_circle():
    shapes = make_target_shapes(12, 6, TargetStyle(size=96, shape="circle"))
    for image, (cx, cy) in zip(shapes.x.numpy(), shapes.position):
        alpha = _coverage(image, (int(cx), int(cy)))
        ys, xs = np.mgrid[: alpha.shape[0], : alpha.shape[1]] + 0.5  # pixel centres
        centroid = ((alpha * xs).sum() / alpha.sum(), (alpha * ys).sum() / alpha.sum())
        assert centroid == pytest.approx((cx, cy), abs=0.3)


@pytest.mark.parametrize("angle", [0.0, 45.0, 90.0, 200.0, 359.0])
def test_the_angle_target_is_where_the_arrow_points_counter_clockwise(angle):
    style = TargetStyle(size=128)
    image = draw_target_shape(style, 50.0, angle, (64.0, 64.0), np.random.default_rng(0))
    alpha = _coverage(image, (64, 64))
    ys, xs = np.mgrid[:128, :128] + 0.5
    # The arrow's head holds more area than its shaft, so its centroid leans the way it points.
    dx, dy = (alpha * xs).sum() / alpha.sum() - 64, (alpha * ys).sum() / alpha.sum() - 64
    measured = math.degrees(math.atan2(-dy, dx)) % 360  # screen y grows downwards
    assert reg.errors("angle", measured, angle) == pytest.approx(0, abs=8)


def test_the_generator_is_seeded():
    a, b = make_target_shapes(20, 3), make_target_shapes(20, 3)
    c = make_target_shapes(20, 4)
    assert torch.equal(a.x, b.x) and np.array_equal(a.angle, b.angle)
    assert not np.array_equal(a.angle, c.angle)
    assert a.x.shape == (20, 3, 32, 32) and a.x.dtype == torch.uint8


def _arm(setup: reg.RegressionSetup, head: str) -> reg.Arm:
    shapes = make_target_shapes(20, 0, setup.style())
    return next(a for a in reg.arms(setup, shapes) if a.head == head)


@pytest.mark.parametrize(
    ("target", "head"),
    [("size", "value"), ("angle", "value"), ("angle", "sin-cos"), ("position", "value")],
)
def test_regression_encodings_decode_back_to_the_values(target, head):
    setup = reg.RegressionSetup(target=target)
    arm = _arm(setup, head)
    values = make_target_shapes(50, 1, setup.style()).values(target)
    assert np.allclose(reg.decode(arm, reg.encode(arm, values).numpy()), values, atol=1e-3)


@pytest.mark.parametrize("target", ["size", "angle", "position"])
def test_bins_answer_with_their_centre_within_half_a_bin(target):
    setup = reg.RegressionSetup(target=target, bins=6)
    arm = _arm(setup, "bins")
    values = make_target_shapes(200, 2, setup.style()).values(target)
    labels = reg.encode(arm, values)
    assert int(labels.max()) < arm.outputs
    one_hot = nn.functional.one_hot(labels, arm.outputs).numpy()
    back = reg.decode(arm, one_hot)
    half = (arm.high - arm.low) / arm.bins / 2
    assert np.abs(back - values).max() <= half + 1e-9


def test_errors_go_around_the_circle_and_positions_are_distances():
    assert reg.errors("angle", np.array([1.0]), np.array([359.0]))[0] == pytest.approx(2.0)
    assert reg.errors("angle", np.array([359.0]), np.array([1.0]))[0] == pytest.approx(-2.0)
    assert reg.errors("position", np.array([[3.0, 4.0]]), np.array([[0.0, 0.0]]))[0] == 5.0
    assert reg.errors("size", np.array([5.0]), np.array([7.0]))[0] == -2.0


def test_the_sin_cos_encoding_puts_359_and_1_degrees_close_and_raw_degrees_far():
    setup = reg.RegressionSetup(target="angle")
    raw, circle = _arm(setup, "value"), _arm(setup, "sin-cos")
    pair = np.array([359.0, 1.0])
    raw_gap = float(torch.diff(reg.encode(raw, pair)).abs())
    circle_gap = float((reg.encode(circle, pair)[0] - reg.encode(circle, pair)[1]).norm())
    assert circle_gap < 0.04 and raw_gap > 3.0  # 3.46 standard deviations apart


@pytest.mark.parametrize("loss", ["mse", "huber"])
def test_the_regression_net_halves_its_loss_within_a_few_steps_on_tiny_data(loss):
    setup = reg.RegressionSetup(target="size", loss=loss, images=500)
    split = reg.prepare_split(setup)
    arm = _arm(setup, "value")
    data = reg.arm_data(arm, split)
    x = (
        data.train_x[:32].float() / 255 - torch.tensor(data.mean).view(1, -1, 1, 1)
    ) / torch.tensor(data.std).view(1, -1, 1, 1)
    y = data.train_y[:32]
    model = build_model(reg.regression_spec(1), seed=0)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    fn = nn.functional.mse_loss if loss == "mse" else nn.functional.huber_loss
    losses = []
    for _ in range(30):
        value = fn(model(x)[:, 0], y)
        opt.zero_grad()
        value.backward()
        opt.step()
        losses.append(value.item())
    assert losses[-1] < losses[0] / 2, losses[::5]


def test_the_planned_runs_share_images_and_split_and_differ_only_in_their_heads():
    setup = reg.RegressionSetup(target="angle", images=500)
    split = reg.prepare_split(setup)
    planned = reg.plan_regression_runs(setup, split)
    assert [p.value.head for p in planned] == ["value", "sin-cos", "bins"]
    value, circle, bins = (p.request for p in planned)
    assert torch.equal(value.data.val_x, bins.data.val_x)
    assert value.config.task == "regress" and value.config.loss == "mse"
    assert bins.config.task == "classify" and bins.data.val_y.dtype == torch.int64
    assert circle.data.train_y.shape[1] == 2 and circle.model(
        circle.data.val_x[:3].float()
    ).shape == (3, 2)


def test_measuring_leaves_the_model_as_it_was_and_the_checkpoint_loads_back():
    setup = reg.RegressionSetup(target="position", images=500)
    split = reg.prepare_split(setup)
    arm = _arm(setup, "value")
    model = build_model(reg.regression_spec(arm.outputs), seed=0).train()
    result = reg.measure(arm, model, split)
    assert model.training and result.predicted.shape == (100, 2)
    assert result.mean_abs_error == pytest.approx(np.abs(result.errors).mean())
    payload = torch.load(io.BytesIO(reg.model_bytes(arm, model, split)), weights_only=True)
    assert payload["class_names"] == ["x", "y"]
    assert "regression: x, y" in reg.results_csv([result]).splitlines()[1]


def test_bad_settings_are_refused_in_words():
    with pytest.raises(reg.RegressionSetupError, match="target must be one of"):
        reg.RegressionSetup(target="colour")
    with pytest.raises(DataError, match="unknown shape"):
        TargetStyle(shape="blob")
