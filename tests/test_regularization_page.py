"""The Regularization page driven through AppTest, from app.py: the comparisons, a tiny run of
one of them to its reveal, and the activation statistics."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest
from streamlit.testing.v1 import AppTest

from models.training import regularization
from models.training.regularization import COMPARISONS


@pytest.fixture
def page(open_page) -> AppTest:
    return open_page("regularization")


def _tiny(arms):
    """The same arms on 60 shapes for 2 epochs: seconds instead of a minute."""

    def make():
        return [
            replace(a, setup=replace(a.setup, images=60, config=replace(a.setup.config, epochs=2)))
            for a in arms()
        ]

    return make


def test_the_page_opens_with_a_prediction_and_the_activation_statistics(page):
    assert not page.exception
    assert page.title[0].value == "Regularization"
    guess = page.radio(key="regularization.overfit.guess")
    assert guess.value is None and len(guess.options) == 5
    charts = {c.proto.id for c in page.get("plotly_chart")}
    assert any("stats_chart" in k for k in charts) and any("hist_chart" in k for k in charts)
    assert any("Spread of the last ReLU" in c.value for c in page.caption)


@pytest.mark.parametrize("name", list(COMPARISONS))
def test_each_comparison_has_its_own_prediction(page, name):
    page.selectbox(key="regularization.comparison").set_value(name).run()
    assert not page.exception
    key = COMPARISONS[name].key
    assert page.radio(key=f"{key}.guess").label == COMPARISONS[name].question
    assert page.button(key=f"{key}.run")


def test_large_starting_weights_change_the_statistics_without_an_error(page):
    before = next(c.value for c in page.caption if "Spread of the last ReLU" in c.value)
    page.selectbox(key="regularization.init").set_value("large (std 1)").run()
    assert not page.exception and not page.error
    after = next(c.value for c in page.caption if "Spread of the last ReLU" in c.value)
    assert after != before


def test_a_comparison_runs_to_marked_curves_and_a_reveal(page, monkeypatch):
    name = "Against overfitting"
    tiny = replace(COMPARISONS[name], arms=_tiny(COMPARISONS[name].arms))
    monkeypatch.setitem(regularization.COMPARISONS, name, tiny)
    page.radio(key="regularization.overfit.guess").set_value("none").run()
    page.button(key="regularization.overfit.run").click().run()
    assert not page.exception, page.exception
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and not page.main.get("download_button"):
        time.sleep(1)
        page.run()
    assert not page.exception, page.exception
    assert page.main.get("download_button"), "the results after every run ended"
    assert any("You predicted **none**" in s.value for s in page.success)
    assert any("★ the lowest validation loss" in c.value for c in page.caption)
    assert any("kept the lowest validation loss" in m.value for m in page.markdown)
