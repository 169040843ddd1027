"""The Architectures page's counts, each held to a real PyTorch module (and to geometry.py)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from models.network import architectures as arch
from models.network.geometry import analyze
from models.network.spec import ConvSpec, NetworkSpec


def _numel(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _footprint(module: nn.Module, channels: int, side: int) -> int:
    """Rows of the input that the centre output unit's gradient reaches."""
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(p.abs() + 0.01)  # all positive: every ReLU passes, nothing cancels
    x = torch.ones(1, channels, side, side, requires_grad=True)
    module(x)[0, 0, side // 2, side // 2].backward()
    rows = x.grad.abs().sum(dim=(0, 1, 3))  # (H,)
    return int((rows > 0).sum())


@pytest.mark.parametrize("name", list(arch.KERNEL_STACKS))
def test_kernel_stack_counts_equal_the_built_module(name):
    kernels = arch.KERNEL_STACKS[name]
    cost = arch.stack_cost(name, kernels, channels=6, side=12)
    module = arch.kernel_stack(kernels, 6)
    measured = arch.profile(module, (6, 12, 12))
    assert cost.params == _numel(module)
    assert cost.macs == sum(c.macs for c in measured)
    assert cost.nonlinearities == sum(c.kind == "ReLU" for c in measured)


@pytest.mark.parametrize("name", list(arch.KERNEL_STACKS))
def test_every_kernel_stack_sees_seven_pixels_by_geometry_and_by_gradient(name):
    kernels = arch.KERNEL_STACKS[name]
    cost = arch.stack_cost(name, kernels, channels=2, side=15)
    spec = NetworkSpec((2, 15, 15), tuple(ConvSpec(2, k, padding="same") for k in kernels))
    assert cost.receptive_field == analyze(spec)[-1].rf.size == 7
    assert _footprint(arch.kernel_stack(kernels, 2), 2, 15) == 7


def test_three_3x3_convolutions_need_27_of_the_49_weights_per_channel_pair_of_one_7x7():
    one, three, _ = arch.compare_kernel_stacks(channels=64, side=56)
    assert one.params == 49 * 64 * 64 + 64 and three.params == 27 * 64 * 64 + 3 * 64
    assert one.macs == 56 * 56 * 49 * 64 * 64 and three.macs == 3 * 56 * 56 * 9 * 64 * 64
    assert (one.nonlinearities, three.nonlinearities) == (1, 3)


@pytest.mark.parametrize("reductions", [True, False])
def test_inception_branch_counts_equal_the_real_block(reductions):
    widths = arch.InceptionWidths(12, 4, 6, 8, 2, 4, 3, side=8)
    branches = arch.inception_branches(widths, reductions)
    block = arch.inception_block(widths, reductions)
    measured = arch.profile(block, (12, 8, 8))
    for branch in branches:
        module = arch.BRANCHES[branch.name]
        mine = [c for c in measured if c.name.startswith(module + ".")]
        assert branch.params == _numel(getattr(block, module)), branch.name
        assert branch.macs == sum(c.macs for c in mine), branch.name
        assert branch.layers[-1].shape == mine[-1].shape, branch.name
    out = block(torch.zeros(1, 12, 8, 8))
    assert out.shape[1] == sum(b.layers[-1].shape[0] for b in branches)


def test_googlenet_3a_five_by_five_branch_costs_a_tenth_with_its_reduction():
    with_r, without = (
        {b.name: b for b in arch.inception_branches(arch.InceptionWidths(), r)}
        for r in (True, False)
    )
    assert with_r["5×5"].params == (192 * 16 + 16) + (25 * 16 * 32 + 32) == 15_920
    assert without["5×5"].params == 25 * 192 * 32 + 32 == 153_632
    assert without["5×5"].macs == 28 * 28 * 25 * 192 * 32
    assert with_r["1×1"] == without["1×1"] and with_r["pool"] == without["pool"]


def test_a_zeroed_identity_block_outputs_relu_of_its_input_and_a_plain_one_outputs_zero():
    check = arch.residual_check(8, 8, stride=1, side=6, seed=3)
    assert check.shortcut == "identity" and check.shortcut_params == 0
    assert check.gap_to_relu_x == 0.0 and check.plain_output_max == 0.0
    assert check.main_params == 2 * 9 * 8 * 8 + 4 * 8


def test_a_projection_block_changes_the_shape_so_its_output_is_relu_of_the_projection():
    check = arch.residual_check(8, 16, stride=2, side=8)
    assert check.shortcut == "1×1 projection"
    assert check.output_shape == (16, 4, 4) and check.gap_to_relu_x is None
    assert check.shortcut_params == 8 * 16 + 2 * 16 and check.gap_to_shortcut == 0.0


@pytest.mark.parametrize("groups", arch.divisors(8))
def test_each_filter_reads_exactly_the_input_channels_its_wiring_says(groups):
    counted = arch.group_conv(8, 8, groups, 3, 6)
    conv = arch.seeded(nn.Conv2d, 8, 8, 3, 1, 1, 1, groups)
    assert counted.params == _numel(conv)
    assert counted.macs == arch.profile(conv, (8, 6, 6))[0].macs
    for f in range(8):
        x = torch.randn(1, 8, 6, 6, generator=torch.Generator().manual_seed(f))
        x.requires_grad_(True)
        conv(x)[0, f].sum().backward()
        read = tuple(int(c) for c in torch.nonzero(x.grad.abs().sum(dim=(0, 2, 3))).flatten())
        assert read == counted.wiring[f]


def test_the_output_depth_is_the_number_of_filters_whatever_the_groups():
    for groups in arch.divisors(4):
        counted = arch.group_conv(8, 4, groups, 3, 5)
        conv = arch.seeded(nn.Conv2d, 8, 4, 3, 1, 1, 1, groups)
        assert arch.profile(conv, (8, 5, 5))[0].shape == (4, 5, 5)
        assert len(counted.wiring) == 4 and len(counted.wiring[0]) == 8 // groups


def test_groups_that_do_not_divide_the_channels_are_refused_with_the_choices():
    with pytest.raises(arch.ArchitectureError, match="1, 2, 4"):
        arch.group_conv(8, 12, 3, 3, 6)


def test_depthwise_separable_costs_about_one_over_filters_plus_one_over_k_squared():
    sep = arch.separable_cost(32, 64, 3, 16)
    depthwise = arch.seeded(nn.Conv2d, 32, 32, 3, 1, 1, 1, 32)
    pointwise = arch.seeded(nn.Conv2d, 32, 64, 1)
    assert sep.depthwise.params + sep.pointwise.params == _numel(depthwise) + _numel(pointwise)
    assert sep.macs_ratio == pytest.approx(1 / 64 + 1 / 9)
    assert sep.params_ratio == pytest.approx(1 / 64 + 1 / 9, abs=0.01)  # plus the biases


def test_profiling_leaves_no_hooks_behind():
    module = arch.kernel_stack((3, 3), 2)
    arch.profile(module, (2, 5, 5))
    assert all(not m._forward_hooks for m in module.modules())


def test_counts_refuse_sizes_out_of_range_in_words():
    with pytest.raises(arch.ArchitectureError, match="channels must be a whole number"):
        arch.stack_cost("x", (3,), 0, 8)
