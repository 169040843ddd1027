"""The Imbalance page driven through AppTest, from app.py: the four quick runs on tiny settings."""

from __future__ import annotations

import time

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from models.data.shapes import SHAPE_CLASSES


@pytest.fixture
def imbalance_page(open_page) -> AppTest:
    return open_page("imbalance")


def _charts(at: AppTest) -> set[str]:
    return {c.proto.id.rsplit("-", 1)[-1] for c in at.get("plotly_chart")}


def _captions(at: AppTest) -> str:
    return " ".join(c.value for c in at.caption)


def test_the_page_opens_asking_for_a_prediction_with_the_class_counts(imbalance_page):
    at = imbalance_page
    assert at.title[0].value == "Imbalance"
    guess = at.radio(key="imbalance.guess")
    assert guess.value is None and list(guess.options) == list(SHAPE_CLASSES)
    assert "At 10:1, circle gets 306 images and pentagon 31" in _captions(at)
    assert any("make your prediction" in i.value for i in at.info)
    assert "imbalance.focal_chart" in _charts(at)


def test_a_larger_gamma_quiets_easy_images_more(imbalance_page):
    at = imbalance_page
    assert "(100× less)" in _captions(at)  # γ = 2 at p = 0.9: (0.1)² = 1/100
    at.slider(key="imbalance.gamma").set_value(3.0).run()
    assert not at.exception and "(1000× less)" in _captions(at)


def test_the_four_runs_end_in_recall_bars_scores_and_a_verdict(imbalance_page):
    at = imbalance_page
    at.slider(key="imbalance.ratio").set_value(10.0)
    at.select_slider(key="imbalance.images").set_value(750)
    at.slider(key="imbalance.epochs").set_value(
        3
    ).run()  # with fewer, the class-weights run is flagged as diverged
    at.radio(key="imbalance.guess").set_value("pentagon").run()
    at.button(key="imbalance.run").click().run()
    assert not at.exception and not at.error
    deadline = time.monotonic() + 400
    while time.monotonic() < deadline and "imbalance.scores_chart" not in _charts(at):
        time.sleep(1)
        at.run()
    assert not at.exception and not at.error
    assert {"imbalance.recall_chart", "imbalance.confusion_chart"} <= _charts(at)
    verdict = at.success[0].value
    assert verdict.startswith("You predicted **pentagon**; the measurement says **")
    text = " ".join(m.value for m in at.markdown)
    assert "Plain cross-entropy scored" in text and "balanced accuracy" in text
    assert "one image moves its bar by 25%" in _captions(at)  # 4 validation pentagons
    assert len(at.main.get("download_button")) == 2
    assert not at.warning, "every method handed over a model"


def test_the_focal_term_is_drawn_once_per_gamma_for_every_session(monkeypatch):
    from models.training import imbalance as imb
    from ui.panels import imbalance as panel

    calls = []
    real = imb.focal_term
    monkeypatch.setattr(imb, "focal_term", lambda p, g: calls.append(g) or real(p, g))
    first = panel.focal_view(3.5)
    made = len(calls)
    assert panel.focal_view(3.5) is first and len(calls) == made  # another session: no work
    assert first.easy == pytest.approx(real(np.array([0.9]), 3.5)[0])
    assert panel.focal_view(4.5) is not first
