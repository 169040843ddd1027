"""The toy backpropagation network: autograd, the hand formulas, the steps and the gradient check
agree with PyTorch built independently from torch.nn."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

from models.inspect import backprop as bpm
from models.inspect import backprop_steps as steps
from viz import backprop as viz

SEEDS = range(8)


def reference_gradients(net: bpm.ToyNet) -> dict[str, np.ndarray]:
    """The same network from torch.nn modules, float64: loss and weight gradients."""
    conv, linear = nn.Conv2d(1, 1, 3).double(), nn.Linear(4, 2).double()
    with torch.no_grad():
        conv.weight.copy_(torch.tensor(net.w).reshape(1, 1, 3, 3))
        conv.bias.fill_(net.b)
        linear.weight.copy_(torch.tensor(net.V))
        linear.bias.copy_(torch.tensor(net.c))
    x = torch.tensor(net.x).reshape(1, 1, 5, 5)
    pooled = nn.MaxPool2d(2, stride=1)(torch.relu(conv(x)))
    loss = nn.functional.cross_entropy(linear(pooled.flatten(1)), torch.tensor([net.y]))
    loss.backward()
    return {
        "L": loss.detach().numpy(),
        "w": conv.weight.grad.reshape(3, 3).numpy(),
        "b": conv.bias.grad.numpy(),
        "V": linear.weight.grad.numpy(),
        "c": linear.bias.grad.numpy(),
    }


@pytest.fixture(scope="module")
def seed0() -> bpm.Backprop:
    return bpm.compute_backprop(bpm.sample_net(0))


@pytest.mark.parametrize("seed", SEEDS)
def test_autograd_gradients_match_a_torch_nn_build_of_the_same_network(seed):
    net = bpm.sample_net(seed)
    bp, ref = bpm.compute_backprop(net), reference_gradients(net)
    np.testing.assert_allclose(bp.values["L"], ref["L"], rtol=1e-12)
    for name in ("w", "b", "V", "c"):
        np.testing.assert_allclose(bp.grads[name], ref[name], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("seed", SEEDS)
def test_hand_formulas_give_autograd_numbers_for_every_value_and_gradient(seed):
    bp = bpm.compute_backprop(bpm.sample_net(seed))
    for name in ("z", "a", "p", "s", "L"):
        np.testing.assert_allclose(bp.hand[name], bp.values[name], atol=1e-12)
    for name in ("s", "V", "p", "a", "z", "w", "b"):
        np.testing.assert_allclose(bp.hand[f"d{name}"], bp.grads[name], atol=1e-12)
    assert bpm.largest_disagreement(bp) < 1e-12


@pytest.mark.parametrize("seed", [0, 3])
def test_every_step_shows_the_same_number_by_hand_and_by_autograd(seed):
    bp = bpm.compute_backprop(bpm.sample_net(seed))
    for index in range(1, len(steps.STEPS)):
        view = steps.explain(bp, index)
        assert view.hand == pytest.approx(view.autograd, abs=1e-12), steps.step_label(index)
        assert view.marks[0].style == "focus" and view.marks[0].panel == view.kind


def test_the_same_seed_gives_the_same_readable_numbers_and_another_seed_others():
    a, b, other = bpm.sample_net(5), bpm.sample_net(5), bpm.sample_net(6)
    assert np.array_equal(a.theta(), b.theta()) and not np.array_equal(a.theta(), other.theta())
    assert np.array_equal(a.x, np.round(a.x)) and np.allclose(a.w * 10, np.round(a.w * 10))


@pytest.mark.parametrize("seed", range(30))
def test_sampled_numbers_have_no_relu_kink_or_pool_tie_and_some_gradient(seed):
    bp = bpm.compute_backprop(bpm.sample_net(seed))
    assert np.abs(bp.values["z"]).min() >= bpm.MARGIN
    assert np.abs(bp.grads["w"]).max() > 0 and np.all(bp.grads["p"] != 0)


def test_a_zero_pre_activation_is_not_clean():
    net = bpm.sample_net(0)
    z = bpm.compute_backprop(net).values["z"]
    shifted = bpm.ToyNet(0, net.x, net.w, net.b - float(z[1, 1]), net.V, net.c, net.y)
    assert not bpm.is_clean(shifted)


def test_a_bad_seed_and_an_unknown_number_type_are_refused_in_plain_words():
    with pytest.raises(bpm.BackpropError, match="seed"):
        bpm.sample_net(-1)
    with pytest.raises(bpm.BackpropError, match="float32"):
        bpm.gradient_check(bpm.sample_net(0), "float16")


def test_pool_winners_break_ties_like_pytorch():
    a = np.array([[1.0, 1.0, 0.0], [1.0, 2.0, 2.0], [0.0, 2.0, 0.0]])
    _, idx = torch.nn.functional.max_pool2d(
        torch.tensor(a).reshape(1, 1, 3, 3), 2, stride=1, return_indices=True
    )
    expected = [[divmod(int(i), 3) for i in row] for row in idx[0, 0]]
    assert [list(row) for row in bpm.hand_winners(a)] == expected


def test_computing_leaves_the_numbers_as_they_were():
    net = bpm.sample_net(2)
    before = net.theta().copy(), net.x.copy()
    bpm.compute_backprop(net)
    bpm.gradient_check(net, "float32")
    assert np.array_equal(net.theta(), before[0]) and np.array_equal(net.x, before[1])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_float64_central_differences_agree_with_autograd_to_one_in_a_million(seed):
    check = bpm.gradient_check(bpm.sample_net(seed), "float64")
    assert check.best[1] < 1e-6
    grads = bpm.compute_backprop(bpm.sample_net(seed)).grads
    np.testing.assert_allclose(check.autograd[:9], grads["w"].ravel(), atol=1e-12)


def test_the_error_against_step_size_is_a_v_for_both_number_types(seed0):
    for dtype in bpm.DTYPES:
        check = bpm.gradient_check(seed0.net, dtype)
        best = check.best[1]
        assert check.rel_error[0] > 10 * best and check.rel_error[-1] > 10 * best, dtype
    c32, c64 = (bpm.gradient_check(seed0.net, d) for d in ("float32", "float64"))
    assert c32.best[1] > 100 * c64.best[1] and c32.best[0] > c64.best[0]
    assert c32.rel_error[-1] == pytest.approx(1.0)  # θ ± 1e-10 rounds to θ in float32


def test_a_weight_step_outlines_the_nine_inputs_it_touched_and_the_live_deltas(seed0):
    index = steps.STEPS.index(("dw", 1, 2))
    view = steps.explain(seed0, index)
    xs = {(m.row, m.col): m.style for m in view.marks if m.panel == "x"}
    assert set(xs) == {(r + 1, c + 2) for r in range(3) for c in range(3)}
    live = np.abs(seed0.grads["z"]) > 0
    for (r, c), style in xs.items():
        assert style == ("source" if live[r - 1, c - 2] else "faint")


def test_an_output_gradient_flows_to_the_window_winner_only(seed0):
    view = steps.explain(seed0, steps.STEPS.index(("dp", 0, 1)))
    flows = [(m.row, m.col) for m in view.marks if m.panel == "da" and m.style == "flow"]
    assert flows == [seed0.winners[0][1]]
    assert sum(1 for m in view.marks if m.panel == "da") == 4


def test_clicking_a_weight_opens_its_gradient_and_the_input_opens_nothing():
    assert steps.STEPS[steps.step_for_click("w", 0, 1)] == ("dw", 0, 1)
    assert steps.STEPS[steps.step_for_click("dp", 1, 0)] == ("dp", 1, 0)
    assert steps.step_for_click("x", 2, 2) is None


def test_numbers_appear_step_by_step():
    first, last = steps.revealed(0), steps.revealed(len(steps.STEPS) - 1)
    assert first["w"].all() and not first["z"].any() and not first["dw"].any()
    assert all(mask.all() for mask in last.values())
    assert steps.revealed(2)["z"].sum() == 2


def test_the_network_figure_outlines_each_mark_and_every_cell_is_clickable(seed0):
    view = steps.explain(seed0, steps.STEPS.index(("dw", 0, 0)))
    fig = viz.network_figure(
        bpm.grid_values(seed0), steps.revealed(view.index), view.marks, seed0.net.y
    )
    assert len(fig.layout.shapes) == len(view.marks)
    clickable = [t for t in fig.data if t.type == "scatter"]
    assert sum(len(t.customdata) for t in clickable) == sum(h * w for h, w in steps.SHAPES.values())


def test_the_gradient_check_figure_is_log_log_with_one_line_per_number_type(seed0):
    checks = [bpm.gradient_check(seed0.net, d) for d in bpm.DTYPES]
    fig = viz.gradient_check_figure(checks, 1e-5)
    assert fig.layout.xaxis.type == "log" and fig.layout.yaxis.type == "log"
    assert [t.name.split()[0] for t in fig.data] == list(bpm.DTYPES)


def test_downloads_hold_every_number(seed0):
    checks = [bpm.gradient_check(seed0.net, d) for d in bpm.DTYPES]
    rows = bpm.check_csv(checks).strip().splitlines()
    assert len(rows) == 1 + 2 * len(bpm.STEP_SIZES) * bpm.N_PARAMS
    payload = json.loads(bpm.to_json(seed0))
    assert np.allclose(payload["grids"]["dw"], seed0.grads["w"])


def test_the_page_computes_a_seed_s_network_and_check_once_for_every_session(monkeypatch):
    from ui import results
    from ui.panels import backprop as panels

    calls = []
    check = bpm.gradient_check
    monkeypatch.setattr(bpm, "gradient_check", lambda net, d: calls.append(d) or check(net, d))
    bp = bpm.compute_backprop(bpm.sample_net(17))
    first = panels.gradient_checks(bp)
    assert panels.gradient_checks(bpm.compute_backprop(bpm.sample_net(17))) is first
    assert sorted(calls) == sorted(bpm.DTYPES)  # once per number type, not once per session
    made = results.memo(panels.PAGE, "net", 17, lambda: bp)  # as network_controls asks
    assert results.memo(panels.PAGE, "net", 17, lambda: pytest.fail("made twice")) is made
