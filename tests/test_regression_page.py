"""The Regression page driven through AppTest, from app.py: settings, wrap-around, a short run."""

from __future__ import annotations

import time

import pytest
from streamlit.testing.v1 import AppTest


@pytest.fixture
def regression_page(open_page) -> AppTest:
    return open_page("regression")


def test_the_page_opens_on_size_with_two_heads_to_predict_between(regression_page):
    at = regression_page
    assert at.title[0].value == "Regression"
    guess = at.radio(key="regression.size.guess")
    assert guess.value is None
    assert guess.options == ["regression: one number", "classification: 8 bins"]
    assert any("Make your prediction" in i.value for i in at.info)


def test_angles_show_the_wrap_around_and_offer_the_sin_cos_head(regression_page):
    at = regression_page
    at.radio(key="regression.target").set_value("angle").run()
    assert not at.exception, at.exception
    assert any("wrap" in c.proto.id for c in at.get("plotly_chart"))
    assert any("lie 358 apart" in c.value for c in at.caption)
    assert "regression: (sin, cos)" in at.radio(key="regression.angle.guess").options


def test_too_few_shapes_are_refused_in_words(regression_page):
    regression_page.number_input(key="regression.images").set_value(100).run()
    assert not regression_page.exception
    assert any("draw 500 to 8,000 shapes" in e.value for e in regression_page.error)


def test_the_angle_heads_train_and_the_verdict_quotes_the_measured_errors(regression_page):
    at = regression_page
    at.radio(key="regression.target").set_value("angle").run()
    at.number_input(key="regression.images").set_value(500)
    at.slider(key="regression.epochs").set_value(1).run()
    at.radio(key="regression.angle.guess").set_value("regression: (sin, cos)")
    at.button(key="regression.run").click().run()
    assert not at.exception, at.exception
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and not at.main.get("download_button"):
        time.sleep(1)
        at.run()
    assert not at.exception, at.exception
    assert at.success and "You predicted **regression: (sin, cos)**" in at.success[0].value
    text = " ".join(m.value for m in at.markdown)
    assert "The (sin, cos) head missed by" in text and "within 20° of 0°" in text
    keys = {c.proto.id for c in at.get("plotly_chart")}
    for part in ("summary", "scatter", "errors"):
        assert any(part in k for k in keys), part
    assert len(at.main.get("download_button")) == 4  # the predictions and three models


@pytest.mark.parametrize("target", ["size", "angle", "position"])
def test_the_page_opens_on_example_shapes_titled_with_their_true_values(open_page, target):
    at = open_page("regression", state={"regression.target": target})
    assert not at.exception and not at.error, (at.exception, at.error)
    chart = next(c for c in at.get("plotly_chart") if "regression.examples" in c.proto.id)
    words = {"size": "radius", "angle": "heading", "position": "centre"}[target]
    assert chart.proto.spec.count(words) == 6


def test_the_example_shapes_are_drawn_once_for_every_session_on_the_same_settings(monkeypatch):
    from models.training import regression as reg
    from ui.panels import regression as panel

    calls = []
    draw = panel.make_target_shapes
    monkeypatch.setattr(panel, "make_target_shapes", lambda *a: calls.append(a) or draw(*a))
    setup = reg.RegressionSetup("position", seed=4321)
    first = panel.examples_figure(setup)
    again = panel.examples_figure(reg.RegressionSetup("position", seed=4321))  # another session
    assert again is first and len(calls) == 1
    assert "centre" in first.layout.annotations[0].text
    other = panel.examples_figure(reg.RegressionSetup("size", seed=4321))
    assert other is not first and len(calls) == 2
