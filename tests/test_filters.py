"""Kernels, the data-set images that excite a channel, and feature visualization."""

import io

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from models.bundle import ModelBundle, untrained_bundle
from models.data.shapes import make_shapes
from models.inspect import filters as filt
from models.inspect.activations import ActivationError
from models.network.geometry import analyze
from models.network.presets import PRESETS
from viz.filters import (
    kernel_colors,
    kernel_grid_figure,
    kernel_tiles_figure,
    weight_histogram_figure,
)

TINY = PRESETS["TinyVGG (CNN Explainer)"].spec


def _hooks(model: nn.Module) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())


def _red_detector() -> ModelBundle:
    """A 1×1 convolution whose only channel is the red intensity: a unit sees one pixel."""
    conv = nn.Conv2d(3, 1, 1, bias=False)
    with torch.no_grad():
        conv.weight.copy_(torch.tensor([1.0, 0.0, 0.0]).view(1, 3, 1, 1))
    model = nn.Sequential()
    model.add_module("conv1", conv)
    return ModelBundle(model.eval(), "red", (3, 16, 16), (), (0.0,) * 3, (1.0,) * 3)


def test_kernel_weights_are_a_copy_of_the_convolution(tmp_path):
    bundle = untrained_bundle(TINY)
    assert filt.conv_layers(bundle.model) == ["conv1", "conv2", "conv3", "conv4"]
    w = filt.kernel_weights(bundle.model, "conv2")
    assert w.shape == (10, 10, 3, 3)
    w[:] = 0
    assert bundle.model.conv2.weight.abs().sum() > 0
    with pytest.raises(ActivationError, match="not a convolution"):
        filt.kernel_weights(bundle.model, "relu1")


def test_the_images_that_excite_a_channel_most_come_first_with_the_pixel_it_reads():
    images = np.zeros((8, 16, 16, 3), dtype=np.uint8)
    for i in range(8):
        images[i, i, 2 * i, 0] = 30 * i  # one red pixel: brighter and further right each time
    ex = filt.top_exciting_images(_red_detector(), images, "conv1", 0, k=3)
    assert ex.indices.tolist() == [7, 6, 5]
    assert np.allclose(ex.values, [210 / 255, 180 / 255, 150 / 255], atol=1e-5)
    assert ex.boxes.tolist() == [[14, 7, 15, 8], [12, 6, 13, 7], [10, 5, 11, 6]]
    assert ex.images.shape == (3, 16, 16, 3)


def test_the_exciting_region_lies_inside_the_theoretical_receptive_field():
    bundle = untrained_bundle(TINY)
    rf = {info.name: info.rf.size for info in analyze(TINY)}
    images, _ = make_shapes(40, seed=3)
    calls = []
    ex = filt.top_exciting_images(bundle, images, "conv2", 4, k=4, progress=calls.append)
    widths, heights = ex.boxes[:, 2] - ex.boxes[:, 0], ex.boxes[:, 3] - ex.boxes[:, 1]
    assert np.all((widths >= 1) & (widths <= rf["conv2"]))
    assert np.all((heights >= 1) & (heights <= rf["conv2"]))
    assert list(ex.values) == sorted(ex.values, reverse=True)
    assert calls and calls[-1] == 1.0
    assert _hooks(bundle.model) == 0


def test_a_channel_that_does_not_exist_is_refused_in_words():
    bundle = untrained_bundle(TINY)
    images = np.zeros((2, 64, 64, 3), dtype=np.uint8)
    with pytest.raises(ActivationError, match="no channel 10"):
        filt.top_exciting_images(bundle, images, "conv1", 10)
    with pytest.raises(ActivationError, match="there is no channel 99"):
        filt.visualize_channel(bundle, "conv1", 99, filt.FeatureVizConfig(steps=2))
    assert _hooks(bundle.model) == 0 and not bundle.lock.locked()


def test_feature_visualization_raises_the_channel_and_touches_no_weight():
    bundle = untrained_bundle(TINY)
    before = {k: v.clone() for k, v in bundle.model.state_dict().items()}
    config = filt.FeatureVizConfig(steps=40, seed=1)
    viz = filt.visualize_channel(bundle, "conv3", 2, config)
    assert viz.end > viz.start + 0.05
    assert viz.image.shape == (64, 64, 3)
    assert viz.image.min() >= 0 and viz.image.max() <= 1
    assert all(p.grad is None for p in bundle.model.parameters())
    assert all(torch.equal(v, bundle.model.state_dict()[k]) for k, v in before.items())
    assert _hooks(bundle.model) == 0


def test_feature_visualization_is_repeatable_by_its_seed():
    bundle = untrained_bundle(PRESETS["LeNet-5"].spec)
    a, b, c = (
        filt.visualize_channel(bundle, "conv1", 0, filt.FeatureVizConfig(steps=6, seed=s))
        for s in (5, 5, 6)
    )
    assert a.image.shape == (32, 32, 1)
    assert np.array_equal(a.image, b.image)
    assert not np.array_equal(a.image, c.image)


def test_the_fresh_twin_has_the_same_layers_and_other_weights():
    trained = untrained_bundle(TINY, seed=3)
    twin = filt.untrained_twin(trained)
    assert twin is not None and twin.spec == trained.spec
    assert not np.array_equal(
        filt.kernel_weights(twin.model, "conv1"), filt.kernel_weights(trained.model, "conv1")
    )
    assert filt.untrained_twin(_red_detector()) is None


def test_the_png_is_the_image_enlarged():
    image = np.random.default_rng(0).random((8, 6, 3)).astype(np.float32)
    picture = Image.open(io.BytesIO(filt.to_png(image, scale=4)))
    assert picture.size == (24, 32)
    assert np.array_equal(np.asarray(picture)[::4, ::4], (image * 255).astype(np.uint8))


def test_kernel_colours_put_zero_at_grey_and_the_largest_weight_at_full():
    w = np.zeros((2, 3, 3, 3), dtype=np.float32)
    w[0, 0, 1, 1], w[0, 2, 0, 0] = 2.0, -1.0
    colors = kernel_colors(w)
    assert colors.shape == (2, 3, 3, 3)
    assert colors[0, 1, 1, 0] == 1.0 and colors[0, 0, 0, 2] == 0.25
    assert np.all(colors[1] == 0.5)  # an all-zero kernel is plain grey, not a division by 0
    kernel_tiles_figure(w)


def test_the_kernel_grid_has_a_cell_per_weight_with_its_filter_and_channel():
    w = np.arange(2 * 3 * 2 * 2, dtype=np.float32).reshape(2, 3, 2, 2)
    fig = kernel_grid_figure(w)
    z, custom = np.asarray(fig.data[0].z), np.asarray(fig.data[0].customdata)
    assert np.count_nonzero(~np.isnan(z)) == w.size
    assert np.array_equal(z[3:5, 6:8], w[1, 2])  # row 2 of tiles, column 3
    assert np.all(custom[3:5, 6:8] == [1, 2])


def test_weight_histograms_count_every_weight_on_shared_bins():
    rng = np.random.default_rng(0)
    series = {"trained": rng.normal(0, 1, 500), "fresh": rng.normal(0, 0.1, 300)}
    fig = weight_histogram_figure(series, bins=20)
    assert [int(np.sum(t.y)) for t in fig.data] == [500, 300]
    assert np.array_equal(fig.data[0].x, fig.data[1].x)
