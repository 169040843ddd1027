"""The Transfer learning page driven through AppTest, from app.py, on tiny settings."""

from __future__ import annotations

import time

import pytest
from streamlit.testing.v1 import AppTest


@pytest.fixture
def transfer_page(open_page) -> AppTest:
    return open_page("transfer")


def _caption(at: AppTest, start: str) -> str:
    return next(c.value for c in at.caption if c.value.startswith(start))


def _until(at: AppTest, done, seconds: float = 240) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end and not done(at):
        time.sleep(1)
        at.run()


def test_the_page_opens_with_the_shipped_model_under_drift(transfer_page):
    at = transfer_page
    assert at.title[0].value == "Transfer learning and domain shift"
    assert not at.error
    line = _caption(at, "TinyVGG on shapes on 200 fresh shapes")
    assert "at colour 0.5" in line
    assert any("need one download" in c.value for c in at.caption)  # no ImageNet weights here


def test_moving_the_drift_slider_measures_again(transfer_page):
    at = transfer_page
    at.radio(key="transfer.drift").set_value("blur").run()
    at.slider(key="transfer.strength").set_value(0.0).run()
    assert not at.exception
    clean = _caption(at, "TinyVGG on shapes on 200")
    assert "at blur 0.0" in clean
    at.slider(key="transfer.strength").set_value(1.0).run()
    blurred = _caption(at, "TinyVGG on shapes on 200")
    assert clean != blurred and "at blur 1.0" in blurred


def test_the_three_arms_run_and_the_prediction_is_revealed(transfer_page):
    at = transfer_page
    at.slider(key="transfer.per_class").set_value(2)
    at.slider(key="transfer.epochs").set_value(1)
    at.radio(key="transfer.arms.guess").set_value("full fine-tuning").run()
    at.button(key="transfer.arms.run").click().run()
    assert not at.exception and not at.error
    _until(at, lambda a: any("You predicted" in s.value for s in a.success))
    verdict = next(s.value for s in at.success if "You predicted" in s.value)
    assert verdict.startswith("You predicted **full fine-tuning**; the measurement says")
    assert any("With 2 images per class" in m.value for m in at.markdown)
    assert any("Held-out accuracy on 150 new shapes" in c.value for c in at.caption)


def test_fine_tuning_on_shifted_images_reports_before_after_and_forgetting(transfer_page):
    at = transfer_page
    at.radio(key="transfer.drift").set_value("noise")
    at.slider(key="transfer.strength").set_value(0.6)
    at.slider(key="transfer.recover_n").set_value(2).run()
    at.button(key="transfer.recover.run").click().run()
    assert not at.exception and not at.error
    _until(at, lambda a: any("unshifted shapes:" in c.value for c in a.caption))
    line = _caption(at, "Accuracy on the noise 0.6 held-out shapes")
    assert "retrain the head" in line and "fine-tune every layer" in line
    assert any("The measurement says" in i.value for i in at.info)  # no prediction made
