"""Attribution methods on a tiny seeded network: shapes, safety on a shared model, and the maths."""

import threading

import numpy as np
import pytest
import torch
from torch import nn

from models import attribution as attr
from models import sanity
from models.bundle import untrained_bundle
from models.spec import NetworkSpec

FAST = {"steps": 4, "samples": 3, "cells": 4, "window": 25}
SPEC = NetworkSpec.from_dict({"input": [3, 12, 12], "layers": [
    {"type": "conv", "out_channels": 4, "kernel_size": 3, "padding": 1}, {"type": "relu"},
    {"type": "se", "reduction": 2}, {"type": "maxpool", "kernel_size": 2},
    {"type": "residual", "out_channels": 4},
    {"type": "conv", "out_channels": 4, "kernel_size": 3, "padding": 1}, {"type": "relu"},
    {"type": "cbam", "reduction": 2, "spatial_kernel": 3},
    {"type": "global_avgpool"}, {"type": "linear", "out_features": 3}]})  # fmt: skip


@pytest.fixture
def bundle():
    return untrained_bundle(SPEC, seed=1)


@pytest.fixture
def x():
    return torch.rand(1, 3, 12, 12, generator=torch.Generator().manual_seed(0))


def _fast(name: str) -> dict:
    keys = attr.ATTRIBUTION_METHODS[name].defaults()
    return {k: v for k, v in FAST.items() if k in keys}


def _hooks(model: nn.Module) -> int:
    kinds = ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks", "_backward_pre_hooks")
    return sum(len(getattr(m, k)) for m in model.modules() for k in kinds)


@pytest.mark.parametrize("name", list(attr.ATTRIBUTION_METHODS))
def test_every_method_returns_a_finite_map_of_the_input_shape_and_leaves_all_as_it_was(
    name, bundle, x
):
    bundle.model.train()  # a training-mode model must come back in training mode
    weights = {k: v.clone() for k, v in bundle.model.state_dict().items()}
    x_before = x.clone()
    a = attr.ATTRIBUTION_METHODS[name].attribute(bundle, x, 2, **_fast(name))
    assert a.shape == x.shape
    assert torch.isfinite(a).all()
    assert torch.equal(x, x_before) and not x.requires_grad
    assert _hooks(bundle.model) == 0
    assert all(m.training for m in bundle.model.modules())
    assert all(torch.equal(v, weights[k]) for k, v in bundle.model.state_dict().items())
    assert all(p.grad is None for p in bundle.model.parameters())


def test_saliency_is_the_gradient_of_the_logit_with_respect_to_the_pixels(bundle, x):
    pixels = x.clone().requires_grad_(True)
    logit = bundle.model(attr.Normalize(bundle.mean, bundle.std)(pixels))[0, 1]
    expected = torch.autograd.grad(logit, pixels)[0]
    got = attr.ATTRIBUTION_METHODS["Saliency"].attribute(bundle, x, 1)
    assert torch.allclose(got, expected, atol=1e-6)


def test_integrated_gradients_add_up_to_the_logit_difference_from_the_baseline(bundle, x):
    a = attr.ATTRIBUTION_METHODS["Integrated gradients"].attribute(bundle, x, 0, steps=128)
    model = attr.pixel_model(bundle)
    with torch.no_grad():
        gap = model(x)[0, 0] - model(torch.zeros_like(x))[0, 0]
    assert float(a.sum()) == pytest.approx(float(gap), rel=0.02, abs=1e-4)


def test_the_relu_copy_has_one_fresh_relu_per_use_and_the_original_keeps_its_own(bundle, x):
    original = [m for m in bundle.model.modules() if isinstance(m, nn.ReLU)]
    assert attr.reused_modules(attr.pixel_model(bundle), x) == ["net.cbam1.mlp.1"]
    twin = attr.relu_copy(bundle, x)
    relus = [m for m in twin.modules() if isinstance(m, nn.ReLU)]
    assert not any(m.inplace for m in relus)
    assert not any(r is o for r in relus for o in original)
    assert isinstance(dict(twin.named_modules())["net.cbam1.mlp.1"], attr.PlainReLU)
    assert attr.reused_modules(twin, x) == []
    with torch.no_grad():
        assert torch.allclose(twin(x), attr.pixel_model(bundle)(x))


def test_two_threads_on_one_shared_model_get_the_single_threaded_maps(bundle, x):
    names = ["Integrated gradients", "Guided backprop", "Grad-CAM", "DeepLift"]
    alone = {n: attr.ATTRIBUTION_METHODS[n].attribute(bundle, x, 1, **_fast(n)) for n in names}
    results: list[tuple[str, torch.Tensor]] = []
    errors: list[BaseException] = []

    def work(order: list[str]) -> None:
        try:
            for _ in range(3):
                for n in order:
                    results.append(
                        (n, attr.ATTRIBUTION_METHODS[n].attribute(bundle, x, 1, **_fast(n)))
                    )
        except BaseException as err:  # surfaced below, in the test's own thread
            errors.append(err)

    threads = [threading.Thread(target=work, args=(o,)) for o in (names, names[::-1])]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(results) == 24
    assert all(torch.allclose(a, alone[n], atol=1e-6) for n, a in results)
    assert _hooks(bundle.model) == 0


def test_grad_cam_is_non_negative_and_follows_the_chosen_layer(bundle, x):
    method = attr.ATTRIBUTION_METHODS["Grad-CAM"]
    late = method.attribute(bundle, x, 0)
    early = method.attribute(bundle, x, 0, layer="conv1")
    assert (late >= 0).all() and (early >= 0).all()
    assert not torch.allclose(late, early)
    with pytest.raises(attr.AttributionError, match="no layer called"):
        method.attribute(bundle, x, 0, layer="nope")


def test_a_target_outside_the_classes_is_refused(bundle, x):
    with pytest.raises(attr.AttributionError, match="no class 3"):
        attr.ATTRIBUTION_METHODS["Saliency"].attribute(bundle, x, 3)


def test_heatmap_signs_and_percentile_clipping():
    a = np.zeros((2, 2, 2), dtype=np.float32)
    a[0] = [[4.0, -2.0], [1.0, 0.0]]
    assert attr.heatmap(a, "positive", 100).tolist() == [[1.0, 0.0], [0.25, 0.0]]
    assert attr.heatmap(a, "negative", 100).tolist() == [[0.0, 1.0], [0.0, 0.0]]
    assert attr.heatmap(a, "all", 100).tolist() == [[1.0, -0.5], [0.25, 0.0]]
    clipped = attr.heatmap(a, "absolute", 50)  # the median of |map| is 1.5
    assert clipped.max() == 1.0 and clipped[1, 0] == pytest.approx(1 / 1.5)
    assert not attr.heatmap(np.zeros((1, 3, 3)), "absolute").any()


def test_the_grid_superpixels_cover_the_image_in_equal_cells():
    mask = attr.grid_mask(12, 12, 4)
    assert mask.shape == (1, 1, 12, 12)
    assert torch.bincount(mask.flatten()).tolist() == [9] * 16


def test_the_sanity_check_randomizes_a_copy_in_cascade(bundle, x):
    weights = {k: v.clone() for k, v in bundle.model.state_dict().items()}
    result = sanity.sanity_check(bundle, x, 0, {"Saliency": {}, "Grad-CAM": {}}, top_k=2)
    assert result.steps == ("trained", "fc1", "cbam1.spatial")
    assert [r[0] for r in result.correlations.values()] == [pytest.approx(1.0)] * 2
    assert all(len(m) == 3 and m[0].shape == (12, 12) for m in result.maps.values())
    assert result.correlations["Saliency"][-1] < 0.99  # random weights change the gradient
    assert all(torch.equal(v, weights[k]) for k, v in bundle.model.state_dict().items())
