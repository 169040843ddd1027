"""Attribution methods on a tiny seeded network: shapes, safety on a shared model, and the maths."""

import threading

import numpy as np
import pytest
import torch
from torch import nn

from models import inputs
from models.bundle import untrained_bundle
from models.explain import attribution as attr
from models.explain import layers, sanity
from models.network.spec import NetworkSpec

FAST = {"steps": 4, "samples": 3, "cells": 4, "window": 25}
SPEC = NetworkSpec.from_dict(
    {
        "input": [3, 12, 12],
        "layers": [
            {"type": "conv", "out_channels": 4, "kernel_size": 3, "padding": 1},
            {"type": "relu"},
            {"type": "se", "reduction": 2},
            {"type": "maxpool", "kernel_size": 2},
            {"type": "residual", "out_channels": 4},
            {"type": "conv", "out_channels": 4, "kernel_size": 3, "padding": 1},
            {"type": "relu"},
            {"type": "cbam", "reduction": 2, "spatial_kernel": 3},
            {"type": "global_avgpool"},
            {"type": "linear", "out_features": 3},
        ],
    }
)


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
    logit = bundle.model(inputs.Normalize(bundle.mean, bundle.std)(pixels))[0, 1]
    expected = torch.autograd.grad(logit, pixels)[0]
    got = attr.ATTRIBUTION_METHODS["Saliency"].attribute(bundle, x, 1)
    assert torch.allclose(got, expected, atol=1e-6)


def test_integrated_gradients_add_up_to_the_logit_difference_from_the_baseline(bundle, x):
    a = attr.ATTRIBUTION_METHODS["Integrated gradients"].attribute(bundle, x, 0, steps=128)
    model = inputs.pixel_model(bundle)
    with torch.no_grad():
        gap = model(x)[0, 0] - model(torch.zeros_like(x))[0, 0]
    assert float(a.sum()) == pytest.approx(float(gap), rel=0.02, abs=1e-4)


def test_the_relu_copy_has_one_fresh_relu_per_use_and_the_original_keeps_its_own(bundle, x):
    original = [m for m in bundle.model.modules() if isinstance(m, nn.ReLU)]
    assert layers.reused_modules(inputs.pixel_model(bundle), x) == ["net.cbam1.mlp.1"]
    twin = layers.relu_copy(bundle, x)
    relus = [m for m in twin.modules() if isinstance(m, nn.ReLU)]
    assert not any(m.inplace for m in relus)
    assert not any(r is o for r in relus for o in original)
    assert isinstance(dict(twin.named_modules())["net.cbam1.mlp.1"], layers.PlainReLU)
    assert layers.reused_modules(twin, x) == []
    with torch.no_grad():
        assert torch.allclose(twin(x), inputs.pixel_model(bundle)(x))


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
    late = method.attribute(bundle, x, 1)
    early = method.attribute(bundle, x, 1, layer="conv1")
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


def _manual_grad_cam(bundle, x, target: int, layer: str) -> torch.Tensor:
    """Selvaraju et al.'s formula written out: ReLU(Σ_k mean(∂S/∂A^k) A^k), then upsampled."""
    model = inputs.pixel_model(bundle).eval()
    saved = {}
    module = dict(bundle.model.named_modules())[layer]
    handle = module.register_forward_hook(lambda _m, _i, out: saved.__setitem__("a", out))
    try:
        score = model(x)[0, target]
    finally:
        handle.remove()
    maps = saved["a"]
    (grad,) = torch.autograd.grad(score, maps)
    cam = torch.relu((grad.mean(dim=(2, 3), keepdim=True) * maps).sum(1, keepdim=True))
    return torch.nn.functional.interpolate(cam, size=x.shape[2:], mode="bilinear").detach()


def test_grad_cam_reads_the_maps_after_the_relu_as_selvaraju_et_al_do(bundle, x):
    got = attr.ATTRIBUTION_METHODS["Grad-CAM"].attribute(bundle, x, 1, layer="conv2")
    after_relu = _manual_grad_cam(bundle, x, 1, "relu2")
    before_relu = _manual_grad_cam(bundle, x, 1, "conv2")
    assert torch.allclose(got[:, :1], after_relu, atol=1e-6)
    assert not torch.allclose(got[:, :1], before_relu, atol=1e-4)  # the old, pre-ReLU reading


def test_the_rectified_maps_of_each_conv_are_found_by_following_its_output(bundle, x):
    net = bundle.model
    where = {c: layers.rectified_layer(net, c, x) for c in layers.conv_layers(net)}
    assert where == {
        "conv1": ("relu1", False),
        "res1.conv1": ("res1.relu1", False),
        "res1.conv2": ("res1", False),
        "conv2": ("relu2", False),
    }
    assert _hooks(net) == 0


class SharedReluBlock(nn.Module):
    """torchvision's BasicBlock in small: one in-place ReLU module used twice."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(4, 4, 3, padding=1), nn.BatchNorm2d(4)
        self.conv2, self.bn2 = nn.Conv2d(4, 4, 3, padding=1), nn.BatchNorm2d(4)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out += x
        return self.relu(out)


def test_a_shared_inplace_relu_is_read_at_its_block_or_at_the_next_layers_input(x):
    net = nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1),
        nn.BatchNorm2d(4),
        nn.ReLU(inplace=True),
        SharedReluBlock(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(4, 3),
    ).eval()
    assert layers.rectified_layer(net, "0", x) == ("2", False)
    assert layers.rectified_layer(net, "3.conv1", x) == ("3.conv2", True)
    assert layers.rectified_layer(net, "3.conv2", x) == ("3", False)


def test_integrated_gradients_report_captums_convergence_delta_beside_the_map(bundle, x):
    from captum.attr import IntegratedGradients

    method = attr.ATTRIBUTION_METHODS["Integrated gradients"]
    coarse, check = method.compute(bundle, x, 1, steps=4)
    _, fine = method.compute(bundle, x, 1, steps=16)
    model = inputs.pixel_model(bundle)
    _, delta = IntegratedGradients(model).attribute(
        x, x * 0, target=1, n_steps=4, return_convergence_delta=True
    )
    with torch.no_grad():
        gap = float(model(x)[0, 1] - model(x * 0)[0, 1])
    assert check.delta == pytest.approx(float(delta), abs=1e-6)
    assert check.gap == pytest.approx(gap, abs=1e-6)
    assert check.total == pytest.approx(float(coarse.sum()), abs=1e-6)
    assert check.total - check.gap == pytest.approx(check.delta, abs=1e-5)
    assert abs(fine.delta) < abs(check.delta)  # more steps, closer to the score difference
    assert "convergence delta" in check.sentence()
    results = attr.compute_attributions(
        bundle, x, 1, {"Integrated gradients": {"steps": 4}, "Saliency": {}}
    )
    assert results["Integrated gradients"].completeness is not None
    assert results["Saliency"].completeness is None


def test_gradient_shap_multiplies_the_gradient_by_the_difference_from_the_baseline(bundle, x):
    model = inputs.pixel_model(bundle)
    gen = torch.Generator().manual_seed(0)
    shap = attr.gradient_shap(model, x, x * 0, 1, samples=100, noise=0.0, gen=gen)
    ig = attr.ATTRIBUTION_METHODS["Integrated gradients"].attribute(bundle, x, 1, steps=64)
    with torch.no_grad():
        gap = float(model(x)[0, 1] - model(x * 0)[0, 1])
    # from one black baseline without noise, GradientShap is integrated gradients by sampling
    assert float(shap.sum()) == pytest.approx(gap, rel=0.15)
    assert float((shap - ig).abs().max()) < 0.25 * float(ig.abs().max())
    assert "(x̃ − x′)" in attr.ATTRIBUTION_METHODS["GradientShap"].about


def test_smoothgrad_without_noise_is_the_plain_gradient(bundle, x):
    plain = attr.ATTRIBUTION_METHODS["Saliency"].attribute(bundle, x, 1)
    smooth = attr.ATTRIBUTION_METHODS["SmoothGrad (saliency)"].attribute(
        bundle, x, 1, noise=0.0, samples=3
    )
    assert torch.allclose(plain, smooth, atol=1e-6)


RANDOM_METHODS = ["SmoothGrad (saliency)", "SmoothGrad (integrated gradients)", "GradientShap"]


@pytest.mark.parametrize("name", RANDOM_METHODS)
def test_a_seed_gives_the_same_map_while_another_thread_draws_from_the_global_rng(name, bundle, x):
    method = attr.ATTRIBUTION_METHODS[name]
    alone = method.attribute(bundle, x, 1, **_fast(name), seed=5)
    other_seed = method.attribute(bundle, x, 1, **_fast(name), seed=6)
    stop = threading.Event()

    def busy() -> None:
        while not stop.is_set():
            torch.rand(64)

    thread = threading.Thread(target=busy)
    thread.start()
    try:
        busy_maps = [method.attribute(bundle, x, 1, **_fast(name), seed=5) for _ in range(3)]
    finally:
        stop.set()
        thread.join()
    assert all(torch.equal(m, alone) for m in busy_maps)
    assert not torch.equal(alone, other_seed)


@pytest.mark.parametrize("name", RANDOM_METHODS)
def test_a_seeded_method_leaves_the_global_rng_state_as_it_was(name, bundle, x):
    torch.manual_seed(123)
    before = torch.get_rng_state()
    attr.ATTRIBUTION_METHODS[name].attribute(bundle, x, 1, **_fast(name))
    assert torch.equal(torch.get_rng_state(), before)


SMALL = NetworkSpec.from_dict(
    {
        "input": [3, 12, 12],
        "layers": [
            {"type": "conv", "out_channels": 4, "kernel_size": 3, "padding": 1},
            {"type": "relu"},
            {"type": "maxpool", "kernel_size": 2},
            {"type": "conv", "out_channels": 4, "kernel_size": 3, "padding": 1},
            {"type": "relu"},
            {"type": "global_avgpool"},
            {"type": "linear", "out_features": 3},
        ],
    }
)


def test_the_sanity_check_randomizes_every_layer_of_a_copy_down_to_the_input(x):
    bundle = untrained_bundle(SMALL, seed=1)
    bundle.model.train()
    weights = {k: v.clone() for k, v in bundle.model.state_dict().items()}
    torch.manual_seed(7)
    rng = torch.get_rng_state()
    result = sanity.sanity_check(bundle, x, 1, {"Saliency": {}, "Grad-CAM": {}})
    assert result.steps == ("trained", "fc1", "conv2", "conv1") and result.complete
    for rhos in (result.rank_abs, result.rank_signed):
        assert [r[0] for r in rhos.values()] == [pytest.approx(1.0)] * 2
        assert all(len(r) == 4 for r in rhos.values())
    assert all(m[0].shape == (12, 12) for m in result.maps.values())
    assert result.rank_abs["Saliency"][-1] < 0.99  # random weights change the gradient
    assert "every weight layer (3 of 3, fc1 down to conv1)" in result.verdict("Saliency")
    assert all(torch.equal(v, weights[k]) for k, v in bundle.model.state_dict().items())
    assert all(m.training for m in bundle.model.modules()) and _hooks(bundle.model) == 0
    assert torch.equal(torch.get_rng_state(), rng)  # randomized from a private generator


def test_randomizing_a_layer_is_seeded_and_draws_pytorchs_default_range():
    layer = nn.Conv2d(4, 6, 3)
    sanity.randomize_layer(layer, torch.Generator().manual_seed(3))
    first = layer.weight.detach().clone()
    sanity.randomize_layer(layer, torch.Generator().manual_seed(3))
    assert torch.equal(layer.weight, first)
    bound = 1 / (4 * 3 * 3) ** 0.5
    assert float(layer.weight.abs().max()) <= bound and float(layer.bias.abs().max()) <= bound


def test_a_partial_sanity_check_says_which_layers_kept_their_weights(bundle, x):
    result = sanity.sanity_check(bundle, x, 1, {"Saliency": {}}, top_k=2)
    assert result.steps == ("trained", "fc1", "cbam1.spatial") and not result.complete
    verdict = result.verdict("Saliency")
    assert "only the top 2 of 10 weight layers (fc1, cbam1.spatial)" in verdict
    assert "conv1 still hold trained weights" in verdict
    assert "edges" not in verdict  # no claim about the image until every layer is random


def test_the_verdict_calls_the_cut_off_ours_and_uses_it_only_after_a_full_cascade():
    steps, randomized = ("trained", "fc", "conv"), ("fc", "conv")
    same = sanity.SanityResult(
        steps, randomized, {"m": []}, {"m": [1.0, 0.9, 0.8]}, {"m": [1.0, 0.5, 0.2]}
    )
    changed = sanity.SanityResult(
        steps, randomized, {"m": []}, {"m": [1.0, 0.3, 0.1]}, {"m": [1.0, 0.1, 0.0]}
    )
    assert same.unchanged("m") and "Our line: ρ ≥ 0.5" in same.verdict("m")
    assert "the paper draws none" in same.verdict("m")
    assert "ρ = 0.80 for |map|, 0.20 signed" in same.verdict("m")
    assert not changed.unchanged("m") and "it depends on the weights" in changed.verdict("m")
