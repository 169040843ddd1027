"""The built-in sample images: all load offline as RGB, are cached, and are safe to modify."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from models.data.samples import DEFAULT_SAMPLE, SAMPLE_IMAGES


def test_the_default_sample_is_the_star_and_comes_first():
    assert DEFAULT_SAMPLE == "Shape: star" == next(iter(SAMPLE_IMAGES))


def test_the_required_samples_come_in_order():
    required = ["Shape: star", "Photo: temple", "Photo: flower", "Digit: 3"]
    assert list(SAMPLE_IMAGES)[:4] == required


@pytest.mark.parametrize("name", list(SAMPLE_IMAGES))
def test_every_sample_is_an_rgb_image_of_sensible_size(name):
    image = SAMPLE_IMAGES[name]()
    assert isinstance(image, Image.Image) and image.mode == "RGB"
    assert min(image.size) >= 32 and max(image.size) <= 1024
    assert np.asarray(image).std() > 10  # not a blank picture


@pytest.mark.parametrize("name", list(SAMPLE_IMAGES))
def test_a_sample_is_built_once_and_each_caller_gets_a_copy_to_modify(name):
    first = SAMPLE_IMAGES[name]()
    hits = SAMPLE_IMAGES[name].cache_info().hits
    first.paste((1, 2, 3), (0, 0, first.width, first.height))
    second = SAMPLE_IMAGES[name]()
    assert SAMPLE_IMAGES[name].cache_info().hits == hits + 1
    assert second is not first and second.getpixel((0, 0)) != (1, 2, 3)


def test_the_star_sample_is_a_128_pixel_shape_on_a_plain_background():
    pixels = np.asarray(SAMPLE_IMAGES["Shape: star"]())
    assert pixels.shape == (128, 128, 3)
    assert (pixels[0] == pixels[0, 0]).all() and (pixels[:, 0] == pixels[0, 0]).all()


def test_the_photos_are_scikit_learns_sample_photos():
    from sklearn.datasets import load_sample_image

    for name, file in [("Photo: temple", "china.jpg"), ("Photo: flower", "flower.jpg")]:
        assert np.array_equal(np.asarray(SAMPLE_IMAGES[name]()), load_sample_image(file))


def test_the_digit_is_an_8x8_digit_blown_up_white_on_black():
    pixels = np.asarray(SAMPLE_IMAGES["Digit: 3"]())
    assert pixels.shape == (64, 64, 3)
    grey = pixels[..., 0]
    assert (pixels == grey[..., None]).all()  # grey
    blocks = grey.reshape(8, 8, 8, 8).transpose(0, 2, 1, 3).reshape(8, 8, 64)
    assert (blocks == blocks[..., :1]).all()  # every 8×8 block is one pixel, nearest-neighbour
    assert grey[0, 0] == 0 and grey.max() >= 200  # black paper, bright ink
    assert (grey < 50).mean() > 0.4  # mostly background, like MNIST
