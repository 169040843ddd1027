"""The augmentation registry, pipelines, traced sampling, MixUp/CutMix and the experiment."""

import numpy as np
import pytest
import torch
from PIL import Image

from models.data import augment as aug
from models.training import augment_experiment as augx
from models.training.executor import ThreadExecutor
from tests.test_train import training_elsewhere

ALL = list(aug.AUGMENTATIONS)


def _odd_image(mode: str) -> Image.Image:
    rng = np.random.default_rng(0)
    shape = (37, 53, 3) if mode == "RGB" else (37, 53)
    return Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8), mode)


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("channels", [3, 1])
def test_every_augmentation_runs_on_odd_sized_uint8_tensors_and_keeps_their_shape(name, channels):
    x = torch.randint(0, 256, (channels, 37, 53), dtype=torch.uint8)
    pipeline = aug.build_pipeline(aug.PipelineSpec((aug.StepSpec(name),)), (37, 53))
    torch.manual_seed(0)
    y = pipeline(x)
    assert y.dtype == torch.uint8 and y.shape == x.shape


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("mode", ["RGB", "L"])
def test_every_augmentation_draws_a_preview_of_rgb_and_gray_images(name, mode):
    spec = aug.PipelineSpec((aug.StepSpec(name),))
    grid = aug.sample_grid(_odd_image(mode), spec, n=2, seed=1)
    assert all(im.shape == (37, 53, 3) and im.dtype == np.uint8 for im in grid.images)
    assert all(len(lines) == 1 and lines[0].startswith(name) for lines in grid.notes)


def test_the_same_seed_gives_the_same_grid_and_another_seed_another():
    image = _odd_image("RGB")
    first = aug.sample_grid(image, aug.DEFAULT_PIPELINE, n=6, seed=3)
    again = aug.sample_grid(image, aug.DEFAULT_PIPELINE, n=6, seed=3)
    other = aug.sample_grid(image, aug.DEFAULT_PIPELINE, n=6, seed=4)
    assert all(np.array_equal(a, b) for a, b in zip(first.images, again.images, strict=True))
    assert first.notes == again.notes
    assert any(not np.array_equal(a, b) for a, b in zip(first.images, other.images, strict=True))


def test_sampling_leaves_the_image_and_the_global_random_state_alone():
    image = _odd_image("RGB")
    before, state = np.asarray(image).copy(), torch.get_rng_state()
    aug.sample_grid(image, aug.DEFAULT_PIPELINE, n=3, seed=0)
    augx.mix_batch("MixUp", n=4, seed=0)
    assert torch.equal(torch.get_rng_state(), state)
    assert np.array_equal(np.asarray(image), before)


def test_five_grids_for_one_seed_are_identical_while_another_session_trains():
    image, spec = _odd_image("RGB"), aug.DEFAULT_PIPELINE
    quiet = aug.sample_grid(image, spec, n=4, seed=3)
    with training_elsewhere():  # its flips and dropout draw from torch's global generator
        busy = [aug.sample_grid(image, spec, n=4, seed=3) for _ in range(5)]
    for grid in busy:
        assert grid.notes == quiet.notes
        assert all(np.array_equal(a, b) for a, b in zip(grid.images, quiet.images, strict=True))


def test_the_traced_steps_draw_and_apply_exactly_what_the_compose_does():
    names = [
        "Random resized crop",
        "Horizontal flip",
        "Rotation",
        "Perspective",
        "Colour jitter",
        "Random erasing",
        "Solarize",
    ]
    spec = aug.PipelineSpec(tuple(aug.StepSpec(n, p=0.6) for n in names))
    x = torch.randint(0, 256, (3, 37, 53), dtype=torch.uint8)
    transforms = [aug.build_step(s, (37, 53)) for s in spec.active]
    for seed in range(5):
        torch.manual_seed(seed)
        traced = x
        for t, step in zip(transforms, spec.active, strict=True):
            traced, _ = aug.apply_traced(t, step, traced)
        torch.manual_seed(seed)
        assert torch.equal(traced, aug.build_pipeline(spec, (37, 53))(x))


def test_the_notes_show_the_parameters_each_sample_drew():
    spec = aug.PipelineSpec(
        (aug.StepSpec("Rotation", (("degrees", 30),)), aug.StepSpec("Horizontal flip", p=0.0))
    )
    grid = aug.sample_grid(_odd_image("RGB"), spec, n=3, seed=0)
    for rotation, flip in grid.notes:
        angle = float(rotation.split("angle=")[1])
        assert -30 <= angle <= 30
        assert flip == "Horizontal flip: skipped (p = 0)"


def test_switched_off_steps_are_left_out_and_an_empty_pipeline_is_refused():
    spec = aug.PipelineSpec((aug.StepSpec("Invert", enabled=False),))
    assert aug.sample_grid(_odd_image("RGB"), spec, n=1).images[0].tolist() == (
        np.asarray(_odd_image("RGB")).tolist()
    )
    with pytest.raises(aug.AugmentError, match="empty"):
        aug.build_pipeline(spec, (8, 8))


def test_the_python_code_builds_the_same_pipeline():
    steps = tuple(aug.StepSpec(n, p=0.5) for n in ALL)
    spec = aug.PipelineSpec(steps)
    scope: dict = {}
    exec(aug.pipeline_code(spec, (32, 40)), scope)  # our own generated code
    assert repr(scope["augment"]) == repr(aug.build_pipeline(spec, (32, 40)))


@pytest.mark.parametrize("kind", list(augx.MIXES))
def test_mixup_and_cutmix_mix_labels_that_still_sum_to_one(kind):
    result = augx.mix_batch(kind, alpha=1.0, n=4, seed=0)
    assert result.mixed.shape == result.originals.shape == (4, 64, 64, 3)
    np.testing.assert_allclose(result.targets.sum(axis=1), 1.0, rtol=1e-5)
    assert "+" in result.label(0) or result.targets[0].max() == pytest.approx(1.0)
    again = augx.mix_batch(kind, alpha=1.0, n=4, seed=0)
    assert np.array_equal(result.mixed, again.mixed)


def test_the_experiment_trains_the_same_network_with_and_without_the_pipeline():
    config = augx.ExperimentConfig(n_images=60, epochs=1, batch_size=16)
    requests = augx.experiment_requests(aug.DEFAULT_PIPELINE, config)
    assert [r.config.augmentation is None for r in requests.values()] == [True, False]
    executor = ThreadExecutor(2)
    jobs = [executor.submit(r) for r in requests.values()]
    for job in jobs:
        assert job.join(timeout=60)
        snap = job.snapshot()
        assert snap.status == "finished", snap.error
        assert any(m.kind == "epoch" for m in snap.history)
