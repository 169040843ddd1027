"""The Backpropagation page driven through AppTest, from app.py."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from models.inspect import backprop_steps as steps


@pytest.fixture(scope="module")
def backprop_page() -> AppTest:
    from tests.conftest import start_page

    return start_page("backprop")


def _metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_the_page_opens_on_the_numbers_with_the_network_and_the_gradient_check(backprop_page):
    at = backprop_page
    assert at.title[0].value == "Backpropagation" and not at.exception and not at.error
    keys = {c.proto.id for c in at.get("plotly_chart")}
    assert any("backprop.network" in k for k in keys)
    assert any("backprop.check_chart" in k for k in keys)
    assert any("agree on every number" in m.value for m in at.markdown)


def test_next_runs_the_first_conv_cell_with_hand_and_autograd_side_by_side(backprop_page):
    at = backprop_page
    at.selectbox(key="backprop.step").set_value(0).run()
    at.button(key="backprop.next").click().run()
    assert not at.exception and at.selectbox(key="backprop.step").value == 1
    assert any(x.value.strip("$\n").startswith("z_{0,0} =") for x in at.get("latex"))
    shown = _metrics(at)
    assert shown["Hand formula"] == shown["PyTorch autograd"]


def test_a_weight_gradient_step_writes_out_its_nine_products(backprop_page):
    at = backprop_page
    at.selectbox(key="backprop.step").set_value(steps.STEPS.index(("dw", 0, 1))).run()
    assert not at.exception
    worked = [x.value for x in at.get("latex") if r"\partial L/\partial w_{0,1} =" in x.value]
    assert worked and worked[0].count(r"\cdot") == 9
    assert any("touched one input in each of the 9 patches" in m.value for m in at.markdown)


def test_the_flow_prediction_is_answered(backprop_page):
    at = backprop_page
    at.radio(key="backprop.predict_flow").set_value("Only to the largest cell of its window").run()
    assert any(m.value.startswith("Right:") for m in at.markdown)


def test_the_gradient_check_answers_the_prediction_and_shows_float32_round_off(backprop_page):
    at = backprop_page
    at.radio(key="backprop.predict_h").set_value("The smallest, h = 1e-10").run()
    assert any(m.value.startswith("Not this time: float64 does best") for m in at.markdown)
    at.radio(key="backprop.dtype").set_value("float32")
    at.select_slider(key="backprop.h").set_value(1e-10).run()
    assert not at.exception
    assert _metrics(at)["Relative error at h = 1e-10 (float32)"] == "1.00e+00"


def test_new_numbers_moves_to_the_next_seed_and_keeps_the_page_working(backprop_page):
    at = backprop_page
    before = at.number_input(key="backprop.seed").value
    at.button(key="backprop.new").click().run()
    assert not at.exception and at.number_input(key="backprop.seed").value == before + 1
