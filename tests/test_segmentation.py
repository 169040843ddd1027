"""Segmentation: the mask generator, the tiny U-Net, the run's request and its measurements."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from models.data.masks import (
    COVERED,
    MaskDataError,
    MaskStyle,
    class_mask,
    coverage,
    draw_scene,
    make_masks,
)
from models.data.shapes import SHAPE_CLASSES
from models.network.unet import UNetSpec, UNetSpecError, build_unet, unet_stages
from models.training import segmentation as seg
from models.training.engine import mask_iou, train
from viz import segmentation as viz

STYLE = MaskStyle(size=32)


@pytest.mark.parametrize("seed", range(5))
def test_each_instance_is_the_drawn_shape_minus_what_later_shapes_cover(seed):
    scene = draw_scene(np.random.default_rng(seed), STYLE)
    later = np.zeros((32, 32), bool)
    for i in reversed(range(len(scene.shapes))):
        drawn = coverage(scene.shapes[i], 32) >= COVERED
        assert np.array_equal(scene.instances == i + 1, drawn & ~later)
        later |= drawn
    assert np.array_equal(scene.instances > 0, later)


@pytest.mark.parametrize("seed", range(5))
def test_fully_covered_pixels_have_the_shape_colour_and_empty_ones_the_background(seed):
    scene = draw_scene(np.random.default_rng(seed), STYLE)
    last = scene.shapes[-1]
    full = coverage(last, 32) == 1.0
    assert full.any()
    assert np.abs(scene.image[full] - np.rint(last.colour)).max() <= 1
    empty = sum(coverage(s, 32) for s in scene.shapes) == 0
    assert np.abs(scene.image[empty] - np.rint(scene.background)).max() <= 1


def test_shape_labels_name_each_pixel_by_its_shape_kind():
    scene = draw_scene(np.random.default_rng(3), STYLE)
    mask = class_mask(scene, "shape")
    for i, shape in enumerate(scene.shapes):
        assert (mask[scene.instances == i + 1] == 1 + SHAPE_CLASSES.index(shape.kind)).all()
    assert (mask[scene.instances == 0] == 0).all()
    assert np.array_equal(class_mask(scene, "binary"), (scene.instances > 0).astype(np.int64))


def test_the_generator_is_seeded_cached_and_holds_one_to_three_shapes():
    a = make_masks(40, 7, STYLE)
    assert make_masks(40, 7, STYLE) is a  # cached: a rerun draws nothing
    b = make_masks.__wrapped__(40, 7, STYLE)
    assert torch.equal(a.x, b.x) and torch.equal(a.y, b.y)
    assert a.x.shape == (40, 3, 32, 32) and a.x.dtype == torch.uint8
    assert a.y.shape == (40, 32, 32) and a.y.dtype == torch.int64
    counts = {len(s.shapes) for s in a.scenes}
    assert counts == {1, 2, 3}
    assert not torch.equal(make_masks(40, 8, STYLE).x, a.x)


def test_background_noise_changes_the_background_only_when_asked():
    for noise, distinct in ((0.0, 1), (0.2, 100)):
        scene = draw_scene(np.random.default_rng(0), MaskStyle(size=32, noise=noise))
        empty = sum(coverage(s, 32) for s in scene.shapes) == 0
        colours = np.unique(scene.image[empty].reshape(-1, 3), axis=0)
        assert (len(colours) == 1) if noise == 0 else (len(colours) > distinct)


@pytest.mark.parametrize("bad", [dict(size=8), dict(max_shapes=0), dict(noise=2.0)])
def test_unusable_mask_settings_are_refused_in_words(bad):
    with pytest.raises(MaskDataError):
        MaskStyle(**bad)


@pytest.mark.parametrize("skips", [True, False])
@pytest.mark.parametrize("depth", [1, 2, 3])
def test_the_unet_gives_a_score_per_class_per_pixel_and_its_drawing_matches(skips, depth):
    spec = UNetSpec(classes=3, width=4, depth=depth, skips=skips)
    model = build_unet(spec, seed=0).eval()
    x = torch.randn(2, 3, 32, 32)
    assert model(x).shape == (2, 3, 32, 32)
    shapes = {}
    hooks = [
        m.register_forward_hook(lambda _m, _i, out, n=n: shapes.__setitem__(n, out.shape))
        for n, m in model.named_modules()
        if n.count(".") == 1 or n in ("bottleneck", "head")
    ]
    try:
        model(x)
    finally:
        for h in hooks:
            h.remove()
    for stage in unet_stages(spec, 32)[1:]:
        assert shapes[stage.name][1:] == (stage.channels, stage.side, stage.side), stage.name
        assert bool(stage.skip_from) == (skips and stage.part == "decoder")


def test_the_seed_fixes_the_initial_weights_and_skips_change_the_decoder_only():
    a, b = build_unet(UNetSpec(), seed=1), build_unet(UNetSpec(), seed=1)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))
    with_skips = build_unet(UNetSpec(skips=True)).dec[0][0].weight.shape
    without = build_unet(UNetSpec(skips=False)).dec[0][0].weight.shape
    assert with_skips[1] == 2 * without[1]


def test_an_image_side_the_pools_cannot_halve_is_refused():
    with pytest.raises(UNetSpecError, match="divisible by 8"):
        unet_stages(UNetSpec(depth=3), 36)


def test_the_unet_learns_tiny_data_its_loss_halving_within_a_few_steps():
    data = make_masks(16, 0, STYLE)
    model = build_unet(UNetSpec(width=8), seed=0)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    x = (data.x.float() / 255 - 0.5) / 0.25
    losses = []
    for _ in range(30):
        loss = F.cross_entropy(model(x), data.y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] / 2


def test_a_short_engine_run_of_the_request_reports_iou_and_preview_masks():
    setup = seg.SegmentationSetup(images=60, epochs=2, batch_size=8, width=4)
    request = seg.segmentation_request(setup)
    assert request.config.task == "segment" and request.data.val_y.shape == (12, 32, 32)
    epochs = [m for m in train(request.model, request.data, request.config) if m.kind == "epoch"]
    assert len(epochs) == 2 and 0 <= epochs[-1].val_acc <= 1
    assert epochs[-1].preview.shape == (6, 32, 32)
    images, truth = seg.validation_preview(setup, 6)
    assert np.array_equal(truth, request.data.val_y[:6].numpy())
    assert np.array_equal(images, request.data.val_x[:6].permute(0, 2, 3, 1).numpy())
    result = seg.measure(request.model, request.data)
    mean, std = request.data.mean, request.data.std
    pred = seg.predict_masks(request.model, request.data.val_x, mean, std).long()
    assert result.mean_iou == pytest.approx(mask_iou(pred, request.data.val_y).mean().item())
    assert result.mean_iou == pytest.approx(epochs[-1].val_acc, abs=1e-5)


def test_the_edge_of_a_square_mask_is_its_ring_of_pixels_on_both_sides():
    y = torch.zeros(1, 6, 6, dtype=torch.int64)
    y[0, 2:4, 2:4] = 1
    edge = seg.boundary(y)[0]
    assert edge[2:4, 2:4].all() and edge.sum() == 4 + 8  # the square and its 4-neighbours
    assert not edge[0].any()


def test_a_box_is_the_extent_of_its_mask_and_three_tasks_name_the_largest_shape():
    mask = np.zeros((8, 8), bool)
    mask[2:5, 3:7] = True
    assert seg.box(mask) == (3, 2, 6, 4)
    assert seg.box(np.zeros((4, 4), bool)) is None
    scene = make_masks(40, 7, STYLE).scenes[0]
    tasks = seg.three_tasks(scene)
    areas = [(scene.instances == i + 1).sum() for i in range(len(scene.shapes))]
    assert tasks.label == scene.shapes[int(np.argmax(areas))].kind
    assert len(tasks.boxes) == sum(a > 0 for a in areas)


def test_downloads_read_back_as_csv_png_and_a_state_dict():
    result = seg.SegmentationResult(np.array([0.5, 1.0]), 0.9, 0.7, np.ones((2, 4, 4), np.uint8))
    assert seg.iou_csv(result).splitlines() == ["image,iou", "0,0.5000", "1,1.0000"]
    png = Image.open(io.BytesIO(seg.masks_png(result.predictions, 2)))
    assert png.size == (8, 4) and np.asarray(png).max() == 255
    model = build_unet(UNetSpec(width=4))
    state = torch.load(io.BytesIO(seg.state_dict_bytes(model)), weights_only=True)
    assert all(torch.equal(state[k], v) for k, v in model.state_dict().items())


def test_figures_do_not_modify_their_inputs_and_overlay_tints_only_the_mask():
    image = np.full((4, 4, 3), 10, np.uint8)
    mask = np.zeros((4, 4), np.int64)
    mask[0, 0] = 1
    tinted = viz.overlay(image, mask)
    assert (tinted[1:, :] == 10).all() and (tinted[0, 0] != 10).any()
    assert (image == 10).all()
    fig = viz.masks_figure(image[None], mask[None], mask[None].astype(np.uint8), [0.75])
    assert len(fig.data) == 3 and fig.layout.annotations[0].text == "IoU 0.75"
    assert len(viz.unet_figure(unet_stages(UNetSpec(), 32)).layout.shapes) == 9  # one box per stage
