"""Deep stacks and their gradient flow, held to PyTorch, and the page's quick runs planned."""

from __future__ import annotations

import pickle

import pytest
import torch
import torch.nn.functional as F

from models.inspect import gradient_flow as flow
from models.network.deep_stack import (
    DeepStack,
    DeepStackError,
    StackOptions,
    build_stack,
    weighted_layers,
)
from models.training.executor import ThreadExecutor
from models.training.jobs import FINISHED

TINY = flow.FlowSettings(depth=8, width=2, batch=4, steps=1)


@pytest.mark.parametrize("depth", [4, 8, 20])
def test_a_stack_has_depth_weighted_layers_and_skips_add_no_weights(depth):
    plain = build_stack(StackOptions(depth, 4))
    residual = build_stack(StackOptions(depth, 4, residual=True))
    assert len(weighted_layers(plain)) == depth
    count = sum(p.numel() for p in plain.parameters())
    assert count == sum(p.numel() for p in residual.parameters())
    assert count == flow.stack_params(StackOptions(depth, 4))
    assert plain(torch.zeros(2, 3, 16, 16)).shape == (2, 10)


def test_an_odd_depth_is_refused_in_words():
    with pytest.raises(DeepStackError, match="even number"):
        StackOptions(depth=7)


def test_the_same_seed_builds_the_same_weights_and_leaves_the_global_generator_alone():
    before = torch.random.get_rng_state()
    a, b = build_stack(StackOptions(6, 2), seed=5), build_stack(StackOptions(6, 2), seed=5)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert torch.equal(before, torch.random.get_rng_state())


def test_a_residual_pair_with_zero_weights_passes_its_input_through_the_shortcut():
    model = build_stack(StackOptions(8, 2, residual=True))
    pair = model.body[1]  # depth 8: one pair per stage; stage 2 halves the map, doubles C
    with torch.no_grad():
        for p in pair.parameters():
            p.zero_()
        x = torch.randn(1, 2, 8, 8, generator=torch.Generator().manual_seed(0))
        y = pair(x)
    assert y.shape == (1, 4, 4, 4)
    assert torch.equal(y[:, :2], torch.relu(x[:, :, ::2, ::2])) and not y[:, 2:].any()


def test_measured_norms_equal_a_backward_pass_by_hand():
    result = flow.measure_flow("plain", TINY)
    model = flow.initialised_stack(flow.options_for("plain", 8, 2), TINY.init, TINY.seed)
    x, y = flow.flow_batch(TINY.batch, TINY.seed)
    F.cross_entropy(model(x), y).backward()
    by_hand = [float(m.weight.grad.norm()) for _, m in weighted_layers(model)]
    assert result.at_init == pytest.approx(by_hand, rel=1e-5)
    assert result.layers[0] == "stem" and result.layers[-1] == "fc"


def test_skips_keep_far_more_gradient_for_the_first_layer_than_a_plain_sigmoid_stack():
    plain, residual = flow.compare_flow(["plain, sigmoid", "residual"], flow.FlowSettings())
    ratio = lambda r: r.at_init[0] / r.at_init[-1]  # noqa: E731
    assert ratio(plain) < 1e-6 < 0.01 < ratio(residual)


def test_unknown_variants_and_empty_choices_are_refused():
    with pytest.raises(flow.FlowError, match="choose at least one"):
        flow.compare_flow([], TINY)
    with pytest.raises(flow.FlowError, match="no variant"):
        flow.options_for("dense", 8, 2)


def test_plain_and_residual_runs_share_data_and_settings_and_survive_pickling():
    runs = flow.plan_degradation(8, 2, flow.RunSettings(side=8, epochs=1))
    assert [r.label for r in runs] == ["plain-8", "residual-8"]
    a, b = (r.request for r in runs)
    assert a.data is b.data and a.config == b.config and a.spec is None
    assert (a.model.opts.residual, b.model.opts.residual) == (False, True)
    copy = pickle.loads(pickle.dumps(b.model))
    assert type(copy).__module__ == "models.network.deep_stack" and isinstance(copy, DeepStack)


def test_a_sweep_run_trains_to_the_end_on_the_executor():
    runs = flow.plan_sweep((4,), (2,), flow.RunSettings(side=8, epochs=1))
    assert runs[0].value == (4, 2, flow.stack_params(StackOptions(4, 2, True, True)))
    handle = ThreadExecutor(1).submit(runs[0].request)
    assert handle.join(120)
    snap = handle.snapshot()
    assert snap.status == FINISHED, snap.error
    assert [m.epoch for m in snap.history if m.kind == "epoch"] == [1]


def test_too_many_sweep_runs_are_refused():
    with pytest.raises(flow.FlowError, match="1 to 6"):
        flow.plan_sweep((4, 8, 14, 20), (2, 4))


def test_the_page_measures_each_variant_once_for_every_session(monkeypatch):
    from ui.panels import gradient_flow as panel

    calls = []
    compare = flow.compare_flow
    monkeypatch.setattr(flow, "compare_flow", lambda v, s: calls.append(v) or compare(v, s))
    settings = flow.FlowSettings(depth=6, width=2, batch=4, steps=1, seed=11)
    first = panel.measured(["plain", "residual"], settings)
    again = panel.measured(["plain", "residual"], settings)  # another session, same defaults
    assert calls == [["plain"], ["residual"]]
    assert all(a is b for a, b in zip(first, again, strict=True))
    panel.measured(["plain", "batchnorm"], settings)  # only the new variant is measured
    assert calls[-1] == ["batchnorm"] and len(calls) == 3
