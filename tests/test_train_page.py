"""The Train page in Streamlit's AppTest: it opens on defaults, trains, polls and stops; an
upload is read once; a diverged run says so."""

from __future__ import annotations

import time
import uuid
from dataclasses import replace

import pytest
from streamlit.testing.v1 import AppTest

from models.bundle import ModelBundle
from models.network.build import build_model
from models.training.checkpoint import to_bytes
from tests.test_train import TINY

CHECKPOINT = "_train.checkpoint"  # (inputs' key, (bundle or None, error or None))


@pytest.fixture
def page(open_page) -> AppTest:
    return open_page("train")


def _wait_until_ended(at: AppTest, timeout: float = 30) -> None:
    """Rerun, as the fragment polls in the browser, until the job has ended."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(0.3)
        at.run()
        if "train.stop" not in [b.key for b in at.button]:
            return


def _upload(at: AppTest, name: str, data: bytes) -> None:
    at.radio(key="train.model_source").set_value("Upload a checkpoint").run()
    at.file_uploader(key="train.ckpt").set_value((name, data, "application/octet-stream")).run()
    assert not at.exception, at.exception


def _tiny(at: AppTest) -> None:
    """Small settings: 200 shapes at the Digits size is still too slow; use digits, 1 epoch."""
    at.selectbox(key="train.data_source").set_value("Digits (built in)").run()
    at.radio(key="train.model_source").set_value("A preset").run()
    at.selectbox(key="train.preset").set_value("ConvNetJS MNIST").run()
    assert not at.exception, at.exception


def test_train_page_opens_with_shapes_and_tinyvgg_ready_to_start(page):
    at = page
    assert at.title[0].value == "Train"
    assert at.selectbox(key="train.data_source").value.startswith("Shapes")
    assert not at.button(key="train.start").disabled
    assert not at.warning  # TinyVGG and the shapes fit each other


def test_random_flips_are_on_for_shapes_and_off_for_digits(page):
    at = page
    assert at.checkbox(key="train.flips.True").value is True
    at.selectbox(key="train.data_source").set_value("Digits (built in)").run()
    assert not at.exception
    assert at.checkbox(key="train.flips.False").value is False  # a flipped 3 is not a 3


def test_training_starts_polls_and_stops_from_the_page(page):
    at = page
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
def test_offline_download_shows_a_plain_message(source, tmp_path, monkeypatch, open_page):
    monkeypatch.setenv("CNNLAB_DATA_DIR", str(tmp_path))
    at = open_page("train")
    at.selectbox(key="train.data_source").set_value(source).run()
    at.button(key="train.load_tv").click().run()
    assert not at.exception, at.exception
    assert any("built-in" in e.value for e in at.error), [e.value for e in at.error]


def test_an_uploaded_checkpoint_is_read_once_and_reused_on_every_rerun(page):
    tiny = ModelBundle(
        build_model(TINY), "tiny", (1, 8, 8), ("left", "right"), (0.5,), (0.25,), TINY
    )
    at = page
    _upload(at, "tiny.pt", to_bytes(tiny))
    key, (bundle, error) = at.session_state[CHECKPOINT]
    assert error is None and bundle.spec == TINY
    at.run()
    at.number_input(key="train.epochs").set_value(3).run()
    assert at.session_state[CHECKPOINT][1][0] is bundle  # not read again
    _upload(at, "again.pt", to_bytes(tiny))  # a new upload has a new id: read once more
    assert at.session_state[CHECKPOINT][0] != key
    assert at.session_state[CHECKPOINT][1][0] is not bundle


def test_a_broken_checkpoint_upload_says_why_on_every_rerun_without_a_traceback(page):
    at = page
    _upload(at, "broken.pt", b"this is not a checkpoint")
    first = [e.value for e in at.error]
    assert first and first[0].startswith("broken.pt: ")
    at.run()
    assert [e.value for e in at.error] == first and not at.exception


def test_a_run_that_diverges_says_so_with_a_tenth_of_the_rate(page):
    at = page
    at.selectbox(key="train.data_source").set_value("Digits (built in)")
    at.radio(key="train.model_source").set_value("A preset").run()
    at.selectbox(key="train.preset").set_value("ConvNetJS MNIST")
    at.number_input(key="train.epochs").set_value(1)
    at.select_slider(key="train.batch").set_value(256)
    at.select_slider(key="train.lr").set_value(1.0).run()  # Adam at 1.0: finite, far too high
    at.button(key="train.start").click().run()
    _wait_until_ended(at)
    assert not at.exception, at.exception
    warnings = [w.value for w in at.warning]
    assert any("Training diverged" in w and "try 0.1" in w for w in warnings), warnings


def test_a_finished_run_becomes_the_sessions_model_and_shows_its_own_scores(page):
    at = page
    _tiny(at)
    at.number_input(key="train.epochs").set_value(1).run()
    at.button(key="train.start").click().run()
    _wait_until_ended(at)
    assert not at.exception, at.exception
    assert [m.label for m in at.metric] == ["Validation accuracy"]
    captions = [c.value for c in at.caption]  # the figures' numbers, in words
    assert any(c.startswith("Schedule: one-cycle") for c in captions), captions
    assert any("Validation after epoch 1" in c for c in captions), captions
    assert any(c.startswith("Top answer: ") for c in captions), captions
    trained = at.session_state["model"]
    assert trained.name == "ConvNetJS MNIST" and trained.trained
    at.session_state["model"] = replace(trained, token=uuid.uuid4().hex)  # as if re-uploaded
    at.run()  # another bundle, even of the same weights, is not described by this run's scores
    assert not at.metric
