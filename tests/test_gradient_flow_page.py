"""The Gradient flow page driven through AppTest, from app.py."""

from __future__ import annotations

import time

import pytest
from streamlit.testing.v1 import AppTest

from models.inspect import gradient_flow as flow


@pytest.fixture
def page(open_page) -> AppTest:
    return open_page("gradient_flow")


def _text(at: AppTest) -> str:
    return " ".join(m.value for m in at.markdown)


def test_the_page_opens_with_the_gradient_of_every_layer_measured(page):
    assert not page.exception
    assert page.title[0].value == "Gradient flow"
    assert any("flow_chart" in c.proto.id for c in page.get("plotly_chart"))
    assert "- **plain**: first layer" in _text(page)
    assert "- **plain, sigmoid**: first layer" in _text(page)


def test_a_prediction_is_checked_against_the_measured_plain_stack(page):
    page.radio(key="gradient_flow.guess").set_value("the first layer (next to the image)").run()
    assert not page.exception
    verdict = page.success[0].value
    assert "the measurement says **the first layer (next to the image)**: right" in verdict
    assert "In the plain ReLU stack the first layer's gradient is" in _text(page)


def test_a_shallower_stack_and_no_networks_are_handled(page):
    page.slider(key="gradient_flow.depth").set_value(6).run()
    assert not page.exception
    page.multiselect(key="gradient_flow.variants").set_value([]).run()
    assert not page.exception
    assert any("choose at least one network" in e.value for e in page.error)


def test_plain_against_residual_trains_both_and_explains_from_the_numbers(page, monkeypatch):
    monkeypatch.setattr(flow, "RUN_SETTINGS", flow.RunSettings(side=8, epochs=1))
    page.select_slider(key="gradient_flow.deep_depth").set_value(8).run()
    page.radio(key="gradient_flow.deep.guess").set_value("residual-8").run()
    page.button(key="gradient_flow.deep.run").click().run()
    assert not page.exception, page.exception
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and not any(
        "Measured: validation accuracy" in m.value for m in page.markdown
    ):
        time.sleep(1)
        page.run()
    line = next(m.value for m in page.markdown if "Measured: validation accuracy" in m.value)
    assert "for plain-8" in line and "for residual-8" in line
    assert "You predicted **residual-8**" in page.success[-1].value
