"""The Segmentation page driven through AppTest, from app.py, training on a thread executor."""

from __future__ import annotations

import time

import pytest
from streamlit.testing.v1 import AppTest

TINY = {"segmentation.images": 200, "segmentation.epochs": 1, "segmentation.width": 4}


@pytest.fixture
def segmentation_page(open_page, monkeypatch) -> AppTest:
    monkeypatch.setenv("CNNLAB_EXECUTOR", "thread")
    return open_page("segmentation")


def _chart_keys(at: AppTest) -> set[str]:
    return {c.proto.id for c in at.get("plotly_chart")}


def _train(at: AppTest, label: str) -> None:
    """Set tiny settings, press Train, and rerun until the run's results are on the page."""
    for key, value in TINY.items():
        at.session_state[key] = value
    at.run()
    at.button(key="segmentation.train").click().run()
    assert not at.exception and not at.error
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not any(label in m.value for m in at.markdown):
        time.sleep(0.5)
        at.run()
    assert not at.exception


def test_the_page_opens_with_three_tasks_the_unet_and_a_prediction_to_make(segmentation_page):
    at = segmentation_page
    assert not at.exception and at.title[0].value == "Segmentation"
    keys = _chart_keys(at)
    assert any("segmentation.tasks" in k for k in keys)
    assert any("segmentation.unet" in k for k in keys)
    assert at.radio(key="segmentation.guess").value is None
    captions = " ".join(c.value for c in at.caption)
    assert "Classification names one thing" in captions and "8×8×8" not in captions
    assert "32×8×8" in captions  # the default bottleneck, from the U-Net's own shapes


def test_removing_the_skips_redraws_the_unet_without_them(segmentation_page):
    at = segmentation_page
    at.toggle(key="segmentation.skips").set_value(False).run()
    assert not at.exception
    assert any("no skip connections" in c.value for c in at.caption)
    assert at.button(key="segmentation.train").label == "Train the U-Net without skips"


def test_a_deeper_unet_is_drawn_down_to_a_four_by_four_bottleneck(segmentation_page):
    at = segmentation_page
    at.session_state["segmentation.depth"] = 3
    at.run()
    assert not at.exception and not at.error
    assert any("down to 64×4×4" in c.value for c in at.caption)


def test_training_with_and_without_skips_shows_masks_downloads_and_the_answer(segmentation_page):
    at = segmentation_page
    at.radio(key="segmentation.guess").set_value("with skips").run()
    _train(at, "U-Net with skips")
    assert any("U-Net with skips**: mean IoU" in m.value for m in at.markdown)
    assert any("segmentation.preview" in k for k in _chart_keys(at))
    labels = {b.label for b in at.main.get("download_button")}
    assert {"IoU per image (CSV)", "Masks (PNG)", "Weights (.pt)", "Run (JSON)"} <= labels
    assert any("Flip **Skip connections**" in i.value for i in at.info)
    at.toggle(key="segmentation.skips").set_value(False).run()
    _train(at, "U-Net without skips")
    assert any("U-Net without skips**: mean IoU" in m.value for m in at.markdown)
    assert any("segmentation.compare" in k for k in _chart_keys(at))
    verdict = [s.value for s in at.success]
    assert verdict and "You predicted **with skips**" in verdict[0]
    assert any("Mean IoU" in c.value and "without" in c.value for c in at.caption)


def test_a_second_student_on_the_defaults_gets_the_first_ones_figures(
    open_page, cold_shared_store, count_calls
):
    from models.training import segmentation as seg

    drawn = count_calls(seg, "sample_scenes")
    first, second = open_page("segmentation"), open_page("segmentation")
    assert not first.exception and not second.exception
    assert len(drawn) == 1  # seeded: the scenes are drawn once for the class
    assert [c.value for c in first.caption] == [c.value for c in second.caption]
