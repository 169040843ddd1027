"""The Train page in Streamlit's AppTest: it opens on defaults, trains, polls and stops."""

from __future__ import annotations

import time

import pytest
from streamlit.testing.v1 import AppTest

from ui.training import current_job  # noqa: F401  (import check: the glue loads)


def _open() -> AppTest:
    at = AppTest.from_file("../app.py", default_timeout=120)
    at.run()
    at.switch_page("pages/train.py").run()
    assert not at.exception, at.exception
    return at


def _tiny(at: AppTest) -> None:
    """Small settings: 200 shapes at the Digits size is still too slow; use digits, 1 epoch."""
    at.selectbox(key="train.data_source").set_value("Digits (built in)").run()
    at.radio(key="train.model_source").set_value("A preset").run()
    at.selectbox(key="train.preset").set_value("ConvNetJS MNIST").run()
    assert not at.exception, at.exception


def test_train_page_opens_with_shapes_and_tinyvgg_ready_to_start():
    at = _open()
    assert at.title[0].value == "Train"
    assert at.selectbox(key="train.data_source").value.startswith("Shapes")
    assert not at.button(key="train.start").disabled
    assert not at.warning  # TinyVGG and the shapes fit each other


def test_random_flips_are_on_for_shapes_and_off_for_digits():
    at = _open()
    assert at.checkbox(key="train.flips.True").value is True
    at.selectbox(key="train.data_source").set_value("Digits (built in)").run()
    assert not at.exception
    assert at.checkbox(key="train.flips.False").value is False  # a flipped 3 is not a 3


def test_training_starts_polls_and_stops_from_the_page():
    at = _open()
    _tiny(at)
    at.number_input(key="train.epochs").set_value(50).run()
    at.button(key="train.start").click().run()
    assert not at.exception, at.exception
    time.sleep(1.0)
    at.run()  # a rerun polls the job, as the fragment does in the browser
    assert at.button(key="train.stop"), "a running job offers Stop"
    at.button(key="train.stop").click().run()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not any("Stopped" in p.value for p in at.info):
        time.sleep(0.3)
        at.run()
    assert not at.exception, at.exception
    assert any("Stopped" in i.value for i in at.info), [i.value for i in at.info]


@pytest.mark.parametrize("source", ["MNIST"])
def test_offline_download_shows_a_plain_message(source, tmp_path, monkeypatch):
    monkeypatch.setenv("CNNLAB_DATA_DIR", str(tmp_path))
    at = _open()
    at.selectbox(key="train.data_source").set_value(source).run()
    at.button(key="train.load_tv").click().run()
    assert not at.exception, at.exception
    assert any("built-in" in e.value for e in at.error), [e.value for e in at.error]
