"""One path from an image to a model input: every page's route gives the same tensor and answer."""

import numpy as np
import pytest
import torch
from PIL import Image

from models.bundle import untrained_bundle
from models.data.datasets import ImageData, fit_data
from models.explain import adversarial, attention, attribution
from models.inputs import bundle_input, bundle_pixels, image_to_input, images_to_pixels
from models.inspect import activations, filters, receptive_field
from models.network.spec import NetworkSpec
from models.training.evaluate import predict_image

SPEC = NetworkSpec.from_dict(
    {
        "input": [3, 16, 16],
        "layers": [
            {"type": "conv", "out_channels": 4, "kernel_size": 3, "padding": 1},
            {"type": "relu"},
            {"type": "se", "reduction": 2},
            {"type": "maxpool", "kernel_size": 2},
            {"type": "conv", "out_channels": 4, "kernel_size": 3, "padding": 1},
            {"type": "relu"},
            {"type": "global_avgpool"},
            {"type": "linear", "out_features": 5},
        ],
    }
)
GRAY = NetworkSpec.from_dict(
    {
        "input": [1, 12, 12],
        "layers": [
            {"type": "conv", "out_channels": 3, "kernel_size": 3},
            {"type": "relu"},
            {"type": "flatten"},
            {"type": "linear", "out_features": 4},
        ],
    }
)


@pytest.fixture(scope="module")
def photo() -> Image.Image:
    """A noisy striped picture much larger than the input, so the resizer's antialiasing counts."""
    rng = np.random.default_rng(0)
    stripes = (np.indices((120, 90)).sum(0) % 7 * 36).astype(np.uint8)
    noise = rng.integers(0, 60, (120, 90, 3), dtype=np.uint8)
    return Image.fromarray(np.clip(stripes[..., None] + noise, 0, 255).astype(np.uint8))


@pytest.fixture(params=[SPEC, GRAY], ids=["rgb", "gray"])
def bundle(request):
    b = untrained_bundle(request.param, seed=4)
    b.mean, b.std = (0.4,) * b.input_shape[0], (0.2,) * b.input_shape[0]
    return b


def _softmax(logits) -> np.ndarray:
    return torch.softmax(torch.as_tensor(np.asarray(logits)).reshape(-1), 0).numpy()


def test_the_model_input_is_the_training_resize_of_the_image_normalized(bundle, photo):
    raw = torch.from_numpy(np.array(photo)).permute(2, 0, 1)[None]
    trained_on = fit_data(
        ImageData(raw, torch.zeros(1, dtype=torch.long), ("a",), "one"), bundle.input_shape
    ).x  # the uint8 images training sees
    assert torch.equal(bundle_pixels(bundle, photo), trained_on.float() / 255)
    m = torch.tensor(bundle.mean).view(1, -1, 1, 1)
    s = torch.tensor(bundle.std).view(1, -1, 1, 1)
    assert torch.equal(bundle_input(bundle, photo), (trained_on.float() / 255 - m) / s)


def test_every_page_feeds_the_model_the_same_tensor(bundle, photo):
    x = bundle_input(bundle, photo)
    assert torch.equal(activations.prepare_input(photo, bundle), x)
    pixels = bundle_pixels(bundle, photo)
    assert torch.equal(attribution.prepare_pixels(photo, bundle), pixels)
    view = activations.model_view(photo, bundle.input_shape)
    assert torch.equal(activations.normalize(view, bundle), x)
    batch = filters._resize_batch(np.array(photo)[None], bundle.input_shape)
    assert np.array_equal(batch[0], pixels[0].permute(1, 2, 0).numpy())
    preview = receptive_field.input_preview(photo, bundle)
    rgb = pixels[0].expand(3, -1, -1) if bundle.input_shape[0] == 1 else pixels[0]
    assert np.array_equal(preview, (rgb * 255).round().byte().permute(1, 2, 0).numpy())


def test_the_same_image_gives_the_same_probabilities_on_every_page(bundle, photo):
    _, train_page = predict_image(bundle, photo)  # Train's prediction
    expected = np.asarray(train_page, dtype=np.float32)
    pixels = attribution.prepare_pixels(photo, bundle)
    saliency = attribution.predict(bundle, pixels)[0]
    attack = adversarial.attack_image(bundle, photo, adversarial.AttackConfig("FGSM", 0.0))
    maps = activations.compute_feature_maps(bundle, photo)
    for probs in (saliency, attack.probs_before, _softmax(maps.output)):
        np.testing.assert_allclose(probs, expected, rtol=0, atol=1e-7)
    if attention.has_attention(bundle.model):
        result = attention.compute_attention(bundle, photo)
        np.testing.assert_allclose(result.probabilities, expected, rtol=0, atol=1e-7)


def test_image_to_input_takes_any_shape_and_statistics_without_a_bundle(photo):
    x = image_to_input(photo, (1, 6, 5), (0.5,), (0.25,))
    assert x.shape == (1, 1, 6, 5) and x.dtype == torch.float32
    assert float(x.min()) >= -2.0 and float(x.max()) <= 2.0


def test_a_batch_of_images_shrinks_with_antialiasing_not_by_sampling_pixels():
    checker = (np.indices((64, 64)).sum(0) % 2 * 255).astype(np.uint8)  # 1-pixel checkerboard
    images = torch.from_numpy(np.repeat(checker[None, None], 3, axis=1))
    small = images_to_pixels(images, (3, 8, 8))
    assert torch.allclose(small, torch.full_like(small, 0.5), atol=0.01)  # the mean, not aliasing
