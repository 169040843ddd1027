"""The generated shapes data set: every class draws, stays inside, is seeded and balanced."""

from __future__ import annotations

import numpy as np
import pytest

from models.data.shapes import SHAPE_CLASSES, ShapeStyle, draw_shape, make_shapes


def _border(image: np.ndarray) -> np.ndarray:
    return np.concatenate([image[0], image[-1], image[:, 0], image[:, -1]])  # (4·side, 3)


def _distance(image: np.ndarray, colour: np.ndarray) -> np.ndarray:
    return np.linalg.norm(image.astype(np.float64) - colour, axis=-1)


def test_there_are_ten_distinct_classes_to_fit_tinyvgg():
    assert len(SHAPE_CLASSES) == 10 == len(set(SHAPE_CLASSES))
    assert "diamond" not in SHAPE_CLASSES  # a turned square would be one


@pytest.mark.parametrize("kind", SHAPE_CLASSES)
@pytest.mark.parametrize("size", [32, 64])
def test_every_class_draws_an_rgb_uint8_image_of_the_style_size(kind, size):
    image = draw_shape(kind, np.random.default_rng(0), ShapeStyle(size=size))
    assert image.shape == (size, size, 3) and image.dtype == np.uint8
    assert len(np.unique(image.reshape(-1, 3), axis=0)) > 2  # a shape, with smoothed edges


def test_an_unknown_shape_is_refused():
    with pytest.raises(ValueError, match="unknown shape 'diamond'"):
        draw_shape("diamond", np.random.default_rng(0))


@pytest.mark.parametrize("kind", SHAPE_CLASSES)
def test_the_shape_stays_inside_the_image_and_far_from_the_background_colour(kind):
    rng = np.random.default_rng(1)
    for _ in range(20):
        image = draw_shape(kind, rng)
        border = _border(image)
        assert (border == border[0]).all(), "the shape touched the edge"
        assert _distance(image, border[0]).max() >= 150


@pytest.mark.parametrize("kind", SHAPE_CLASSES)
def test_a_larger_scale_covers_more_of_the_image(kind):
    def covered(scale: float) -> float:
        style = ShapeStyle(size=64, min_scale=scale, max_scale=scale)
        image = draw_shape(kind, np.random.default_rng(2), style)
        return float((_distance(image, image[0, 0]) > 60).mean())

    assert covered(0.9) > 4 * covered(0.3) > 0


def test_the_same_generator_state_draws_the_same_image_and_another_differs():
    first = draw_shape("arrow", np.random.default_rng(5))
    assert np.array_equal(first, draw_shape("arrow", np.random.default_rng(5)))
    assert not np.array_equal(first, draw_shape("arrow", np.random.default_rng(6)))


def test_noise_roughens_only_the_background_by_its_standard_deviation():
    plain = draw_shape("square", np.random.default_rng(3), ShapeStyle(noise=0.0))
    noisy = draw_shape("square", np.random.default_rng(3), ShapeStyle(noise=0.1))
    assert np.unique(_border(plain), axis=0).shape[0] == 1
    spread = _border(noisy).astype(np.float64).std(axis=0)
    assert np.all((spread > 0.07 * 255) & (spread < 0.12 * 255))


@pytest.mark.parametrize("kind", ["ring", "crescent"])
def test_ring_and_crescent_holes_show_the_noisy_background_through(kind):
    # With the same generator state a circle gets the same colours, size and place.
    style = ShapeStyle(noise=0.1, min_scale=0.8, max_scale=0.8)
    circle = draw_shape("circle", np.random.default_rng(4), style)
    cut = draw_shape(kind, np.random.default_rng(4), style)
    shape_colour = circle[32, 32].astype(np.float64)
    hole = (_distance(circle, shape_colour) == 0) & (_distance(cut, shape_colour) > 60)
    assert hole.sum() > 30
    assert cut[hole].astype(np.float64).std(axis=0).min() > 0.07 * 255


@pytest.mark.parametrize(
    "style",
    [
        {"size": 4},
        {"noise": -0.1},
        {"noise": 2.0},
        {"min_scale": 0.9, "max_scale": 0.5},
        {"max_scale": 1.5},
        {"min_scale": 0.0},
    ],
)
def test_an_impossible_style_is_refused(style):
    with pytest.raises(ValueError):
        ShapeStyle(**style)


def test_make_shapes_gives_uint8_images_and_int64_labels():
    images, labels = make_shapes(30, seed=1, style=ShapeStyle(size=32))
    assert images.shape == (30, 32, 32, 3) and images.dtype == np.uint8
    assert labels.shape == (30,) and labels.dtype == np.int64
    assert labels.min() >= 0 and labels.max() < len(SHAPE_CLASSES)


@pytest.mark.parametrize("n", [0, 7, 100, 105])
def test_a_balanced_set_has_class_counts_within_one_of_each_other(n):
    _, labels = make_shapes(n, style=ShapeStyle(size=16))
    counts = np.bincount(labels, minlength=len(SHAPE_CLASSES))
    assert counts.sum() == n and counts.max() - counts.min() <= 1


@pytest.mark.parametrize("imbalance", [2.0, 10.0])
def test_imbalance_is_the_ratio_of_the_first_class_to_the_last(imbalance):
    _, labels = make_shapes(1000, style=ShapeStyle(size=8), imbalance=imbalance)
    counts = np.bincount(labels, minlength=len(SHAPE_CLASSES))
    assert counts.sum() == 1000 and np.all(np.diff(counts) <= 0)
    assert counts[0] / counts[-1] == pytest.approx(imbalance, rel=0.06)


def test_the_same_seed_gives_the_same_data_set_and_another_seed_a_different_one():
    style = ShapeStyle(size=24, noise=0.05)
    images, labels = make_shapes(40, seed=9, style=style)
    again, again_labels = make_shapes(40, seed=9, style=style)
    other, _ = make_shapes(40, seed=10, style=style)
    assert np.array_equal(images, again) and np.array_equal(labels, again_labels)
    assert not np.array_equal(images, other)


def test_labels_are_shuffled_not_grouped_by_class():
    _, labels = make_shapes(200, seed=0, style=ShapeStyle(size=8))
    assert not np.all(np.diff(labels) >= 0)


@pytest.mark.parametrize(("n", "imbalance"), [(-1, 1.0), (10, 0.5), (10, float("nan"))])
def test_impossible_counts_or_imbalance_are_refused(n, imbalance):
    with pytest.raises(ValueError):
        make_shapes(n, imbalance=imbalance)
