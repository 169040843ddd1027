"""Pooling on small grids and maps agrees with PyTorch, and the window maths matches torch's."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from models import pooling as pool
from models.spec import pool_out


@st.composite
def pool_cases(draw, modes=("max", "avg", "lp")):
    mode = draw(st.sampled_from(modes))
    kernel = draw(st.integers(1, 4))
    padding = 0 if mode == "lp" else draw(st.integers(0, kernel // 2))
    s = pool.PoolSettings(mode, kernel, draw(st.integers(1, 4)), padding, draw(st.booleans()),
                          float(draw(st.integers(1, 4))))  # fmt: skip
    h, w = draw(st.integers(kernel, 9)), draw(st.integers(kernel, 9))
    grid = np.asarray(draw(st.lists(st.integers(0, 9), min_size=h * w, max_size=h * w)),
                      dtype=np.float32).reshape(h, w)  # fmt: skip
    return s, grid


def _torch(grid: np.ndarray, s: pool.PoolSettings) -> np.ndarray:
    x = torch.from_numpy(grid)[None, None]
    if s.mode == "max":
        out = F.max_pool2d(x, s.kernel, s.stride, s.padding, ceil_mode=s.ceil_mode)
    elif s.mode == "avg":
        out = F.avg_pool2d(x, s.kernel, s.stride, s.padding, ceil_mode=s.ceil_mode)
    else:
        out = F.lp_pool2d(x, s.norm, s.kernel, s.stride, ceil_mode=s.ceil_mode)
    return out[0, 0].numpy()


@settings(max_examples=60, deadline=None)
@given(pool_cases())
def test_pooled_grids_and_their_sizes_agree_with_torch(case):
    s, grid = case
    gp = pool.pool_grid(grid, s)
    expected = _torch(grid, s)
    np.testing.assert_allclose(gp.output, expected, rtol=1e-5, atol=1e-5)
    assert gp.output.shape == (s.out_side(grid.shape[0]), s.out_side(grid.shape[1]))
    assert s.out_side(grid.shape[1]) == pool_out(grid.shape[1], s.kernel, s.stride, s.padding,
                                                 s.ceil_mode)  # fmt: skip


@settings(max_examples=60, deadline=None)
@given(pool_cases(modes=("max",)))
def test_each_max_output_is_the_largest_of_its_window_and_torch_picks_a_winner_inside(case):
    s, grid = case
    gp = pool.pool_grid(grid, s)
    for i, j in np.ndindex(gp.output.shape):
        cells = gp.cells(i, j)
        assert gp.output[i, j] == max(grid[r, c] for r, c in cells)
        assert divmod(int(gp.winners[i, j]), grid.shape[1]) in cells


@settings(max_examples=40, deadline=None)
@given(pool_cases(modes=("avg", "lp")))
def test_average_and_lp_outputs_follow_their_formulas_on_full_windows(case):
    s, grid = case
    s = pool.PoolSettings(s.mode, s.kernel, s.stride, 0, False, s.norm)
    gp = pool.pool_grid(grid, s)
    for i, j in np.ndindex(gp.output.shape):
        values = np.array([grid[r, c] for r, c in gp.cells(i, j)], dtype=np.float64)
        assert len(values) == s.kernel**2
        want = values.mean() if s.mode == "avg" else (values**s.norm).sum() ** (1 / s.norm)
        assert gp.output[i, j] == pytest.approx(want, rel=1e-4, abs=1e-4)


def test_global_pools_are_the_channel_mean_and_max():
    x = torch.rand(1, 5, 7, 11, generator=torch.Generator().manual_seed(0))
    avg, top = pool.global_pool(x)
    np.testing.assert_allclose(avg, x.mean(dim=(2, 3))[0].numpy(), rtol=1e-6)
    np.testing.assert_allclose(top, x.amax(dim=(2, 3))[0].numpy())


@pytest.mark.parametrize("levels", [(1,), (1, 2, 4), (2, 3)])
def test_spatial_pyramids_of_different_sizes_have_the_same_length(levels):
    x = torch.rand(1, 3, 40, 56, generator=torch.Generator().manual_seed(1))
    result = pool.compute_pyramid(x, levels, scales=(1.0, 0.6, 0.3))
    assert len({s for s in result.sizes}) == 3
    assert result.vectors.shape == (3, 3 * sum(n * n for n in levels))
    whole = pool.spatial_pyramid(x, (1,))
    np.testing.assert_allclose(whole[0].numpy(), x.amax(dim=(2, 3))[0].numpy())


def test_non_overlapping_max_pooling_discards_all_but_one_value_per_window():
    x = torch.randperm(64, generator=torch.Generator().manual_seed(2)).float().view(1, 1, 8, 8)
    report = pool.pool_report(x, pool.PoolSettings("max", 2, 2))
    assert report.out_shape == (4, 4)
    assert report.discarded_share == pytest.approx(0.75)
    assert report.unseen_share == 0.0


def test_a_stride_larger_than_the_window_leaves_inputs_unseen():
    x = torch.rand(1, 1, 9, 9)
    report = pool.pool_report(x, pool.PoolSettings("avg", 2, 3))
    assert report.unseen_share == pytest.approx(1 - (6 / 9) ** 2)
    assert report.discarded_share == report.unseen_share


def test_bad_settings_are_refused_with_a_reason():
    with pytest.raises(pool.PoolError, match="half the window"):
        pool.PoolSettings("max", 2, 2, 2)
    with pytest.raises(pool.PoolError, match="no padding"):
        pool.PoolSettings("lp", 2, 2, 1)
    with pytest.raises(pool.PoolError, match="does not fit"):
        pool.apply_pool(torch.rand(1, 1, 2, 2), pool.PoolSettings("max", 3, 1))


def test_the_size_formula_shows_the_numbers_and_the_result():
    s = pool.PoolSettings("max", 3, 2, 1, False)
    text = pool.size_formula(7, s)
    assert r"\frac{7 + 2 \cdot 1 - 3}{2}" in text and text.endswith("= 4")


def test_an_unshifted_view_is_identical_and_shifts_change_the_features():
    from PIL import Image

    x = pool.image_map(Image.new("RGB", (40, 32)), max_side=96)
    x[..., 8:20, 10:22] = 1.0  # a bright square
    result = pool.translation_similarity(x, 6, 2)
    assert set(result.similarity) == {"max pooling", "average pooling", "strided convolution"}
    for sims in result.similarity.values():
        assert sims[0] == pytest.approx(1.0)
        assert sims[1:].min() < 0.999


def test_a_feature_map_of_the_model_is_captured_and_no_hook_is_left(tiny_bundle):
    from PIL import Image

    names = pool.conv_layer_names(tiny_bundle.model)
    maps = pool.feature_map(tiny_bundle, Image.new("RGB", (20, 20), "red"), names[0])
    assert maps.shape[:2] == (1, 4)
    assert pool.channel(maps, 3).shape[1] == 1
    assert all(not m._forward_hooks for m in tiny_bundle.model.modules())


@pytest.fixture
def tiny_bundle():
    from models.bundle import untrained_bundle
    from models.spec import NetworkSpec

    spec = NetworkSpec.from_dict({"input": [3, 12, 12], "layers": [
        {"type": "conv", "out_channels": 4, "kernel_size": 3}, {"type": "relu"},
        {"type": "flatten"}, {"type": "linear", "out_features": 2}]})  # fmt: skip
    return untrained_bundle(spec)
