"""Pooling on small grids and maps agrees with PyTorch, and the window maths matches torch's."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from models.network.spec import pool_out
from models.operations import pooling as pool


@st.composite
def pool_cases(draw, modes=("max", "avg", "lp")):
    mode = draw(st.sampled_from(modes))
    kernel = draw(st.integers(1, 4))
    padding = 0 if mode == "lp" else draw(st.integers(0, kernel // 2))
    s = pool.PoolSettings(
        mode,
        kernel,
        draw(st.integers(1, 4)),
        padding,
        draw(st.booleans()),
        float(draw(st.integers(1, 4))),
    )
    h, w = draw(st.integers(kernel, 9)), draw(st.integers(kernel, 9))
    grid = np.asarray(
        draw(st.lists(st.integers(0, 9), min_size=h * w, max_size=h * w)), dtype=np.float32
    ).reshape(h, w)
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
    assert s.out_side(grid.shape[1]) == pool_out(
        grid.shape[1], s.kernel, s.stride, s.padding, s.ceil_mode
    )


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
    text = s.size_formula(7).latex
    assert r"\frac{7 + 2\cdot 1 - 3}{2}" in text and text.endswith("= 4")
    assert s.out_side(7) == 4 and s.size_note(7) == ""


def test_a_ceil_mode_pool_that_drops_its_last_window_says_so_and_never_says_rounds_down():
    s = pool.PoolSettings("max", 2, 2, 1, True)
    grid = pool.pool_grid(pool.sample_grid(5), s)
    assert grid.output.shape == (3, 3) and s.out_side(5) == 3
    assert r"[6 \ge 6]" in s.size_formula(5).latex
    assert "drops that last window" in s.size_note(5) and "rounds down" not in s.size_note(5)


def test_lp_pooling_is_a_power_sum_p_1_is_k_squared_times_the_mean():
    grid = pool.sample_grid(6, seed=3)
    summed = pool.pool_grid(grid, pool.PoolSettings("lp", 3, 3, norm=1.0)).output
    mean = pool.pool_grid(grid, pool.PoolSettings("avg", 3, 3)).output
    np.testing.assert_allclose(summed, 9 * mean, rtol=1e-5)
    big_p = pool.pool_grid(grid + 1, pool.PoolSettings("lp", 3, 3, norm=64.0)).output
    top = pool.pool_grid(grid + 1, pool.PoolSettings("max", 3, 3)).output
    np.testing.assert_allclose(big_p, top, rtol=0.05)
    assert "average" not in pool.MODES["lp"] and "power-average" not in pool.MODES["lp"]


def test_pyramid_length_formula_is_the_vector_length():
    x = torch.rand(1, 3, 20, 30, generator=torch.Generator().manual_seed(4))
    result = pool.compute_pyramid(x, (1, 2, 4))
    assert result.length.value == result.vectors.shape[1] == 63
    assert result.length.latex.endswith(r"3\cdot (1^{2} + 2^{2} + 4^{2}) = 63")


def _star() -> torch.Tensor:
    from models.data.samples import SAMPLE_IMAGES

    return pool.image_map(SAMPLE_IMAGES["Shape: star"](), max_side=64)


@pytest.mark.parametrize("factor", [2, 3, 4])
def test_maps_follow_shifts_on_their_grid_exactly_and_lose_similarity_off_it(factor):
    result = pool.compute_shifts(_star(), 8, factor)
    on, off = result.on_grid(factor), result.shifts % factor != 0
    np.testing.assert_allclose(result.similarity[pool.NO_DOWNSAMPLING], 1.0, atol=1e-5)
    for name, sims in result.similarity.items():
        assert sims[0] == pytest.approx(1.0)
        np.testing.assert_allclose(sims[on], 1.0, atol=1e-5)
        if name != pool.NO_DOWNSAMPLING:
            assert sims[off].max() < 0.99, name


def test_blurring_before_subsampling_keeps_more_than_max_pooling_off_the_grid():
    """Zhang (2019): anti-aliasing makes the downsampled map follow off-grid shifts better."""
    result = pool.compute_shifts(_star(), 8, 2)
    off = result.shifts % 2 != 0
    sims = result.similarity
    assert sims[pool.BLUR_POOL][off].mean() > sims["max pooling"][off].mean()
    assert sims["max pooling"][off].mean() > sims["strided convolution"][off].mean()


def test_the_model_is_measured_at_every_shift_and_left_as_it_was():
    from PIL import Image

    from models.bundle import untrained_bundle
    from models.network.spec import NetworkSpec

    spec = NetworkSpec.from_dict(
        {
            "input": [3, 16, 16],
            "layers": [
                {"type": "conv", "out_channels": 4, "kernel_size": 3},
                {"type": "relu"},
                {"type": "maxpool", "kernel_size": 2},
                {"type": "dropout", "p": 0.5},
                {"type": "flatten"},
                {"type": "linear", "out_features": 3},
            ],
        }
    )
    bundle = untrained_bundle(spec, seed=1)
    bundle.model.train()  # a session model may be left in training mode
    before = {k: v.clone() for k, v in bundle.model.state_dict().items()}
    image = Image.new("RGB", (16, 16), "white")
    image.paste((200, 0, 0), (4, 4, 10, 10))
    result = pool.compute_shifts(torch.rand(1, 1, 16, 16), 6, 2, bundle, image)
    again = pool.compute_shifts(torch.rand(1, 1, 16, 16), 6, 2, bundle, image)
    m = result.model
    assert len(m.answers) == 7 and m.probability.shape == (7,) and m.stride == 2
    assert m.label == m.answers[0] and 0 < m.probability[0] <= 1
    np.testing.assert_array_equal(m.probability, again.model.probability)  # eval: no dropout
    assert bundle.model.training and not any(x._forward_hooks for x in bundle.model.modules())
    assert all(torch.equal(before[k], v) for k, v in bundle.model.state_dict().items())
    sentence = pool.shift_conclusion(result)[-1]
    kept = sum(a == m.label for a in m.answers[1:])
    assert f"keeps that answer at {kept} of 6 shifts" in sentence and "untrained" in sentence
    assert f"from {m.probability.min():.0%} to {m.probability.max():.0%}" in sentence


def _result(max_pool: float, strided: float) -> pool.ShiftResult:
    shifts = np.arange(5)
    off = np.where(shifts % 2 == 1, 0.0, 1.0)

    def curve(value: float) -> np.ndarray:
        return off + (1 - off) * value

    sims = {
        pool.NO_DOWNSAMPLING: np.ones(5),
        "strided convolution": curve(strided),
        "max pooling": curve(max_pool),
        "average pooling": curve(0.8),
        pool.BLUR_POOL: curve(0.9),
    }
    return pool.ShiftResult(shifts, 2, sims, None)


def test_the_conclusion_is_written_from_the_numbers_even_against_the_textbook():
    better = " ".join(pool.shift_conclusion(_result(max_pool=0.85, strided=0.7)))
    assert (
        "Max pooling tolerates these shifts better than plain striding here (0.85 against "
        "0.70), but it is not shift-invariant either." in better
    )
    worse = " ".join(pool.shift_conclusion(_result(max_pool=0.6, strided=0.7)))
    assert "worse than plain striding here (0.60 against 0.70)" in worse
    assert "Max, blur, subsample (Zhang) keeps the most, max pooling the least" in worse
    assert "on its grid (2, 4 px): similarity at least 1.00" in worse


def test_a_picture_too_small_to_downsample_is_refused():
    with pytest.raises(pool.PoolError, match="too small"):
        pool.compute_shifts(torch.zeros(1, 1, 3, 3), 2, 2)


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
    from models.network.spec import NetworkSpec

    spec = NetworkSpec.from_dict(
        {
            "input": [3, 12, 12],
            "layers": [
                {"type": "conv", "out_channels": 4, "kernel_size": 3},
                {"type": "relu"},
                {"type": "flatten"},
                {"type": "linear", "out_features": 2},
            ],
        }
    )
    return untrained_bundle(spec)


def test_the_page_pools_a_picture_once_for_every_session_and_copies_share_the_result(
    monkeypatch,
):
    from PIL import Image

    from ui.panels import pooling as panels

    calls = []
    report = pool.pool_report
    monkeypatch.setattr(pool, "pool_report", lambda x, s: calls.append(s) or report(x, s))
    pixels = np.random.default_rng(5).integers(0, 255, (30, 40, 3), dtype=np.uint8)
    chosen = pool.PoolSettings("max", 3, 2, 1, False, 2.0)
    first = panels.pooled((Image.fromarray(pixels),), chosen)
    again = panels.pooled((Image.fromarray(pixels),), chosen)  # another session's copy
    assert again is first and len(calls) == 1
    assert first.report.out_shape == (15, 20) and first.csv.count("\n") == 15
    other = panels.pooled((Image.fromarray(pixels),), pool.PoolSettings("avg", 3, 2, 1))
    assert other is not first and len(calls) == 2
