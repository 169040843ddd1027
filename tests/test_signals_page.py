"""The Signals page driven through AppTest, from app.py: explore, train both nets, read results."""

from __future__ import annotations

import time

import pytest
from streamlit.testing.v1 import AppTest


@pytest.fixture
def signals_page(open_page) -> AppTest:
    return open_page("signals")


def _captions(at: AppTest) -> str:
    return " ".join(c.value for c in at.caption)


def test_the_page_opens_with_examples_a_receptive_field_and_a_spectrogram(signals_page):
    keys = {c.proto.id for c in signals_page.get("plotly_chart")}
    for part in ("examples", "field", "spectrogram"):
        assert any(part in k for k in keys), part
    assert "Unit 16 of features.6 sees samples 43 to 88: a field of 46 samples" in _captions(
        signals_page
    )
    assert signals_page.radio(key="signals.guess").value is None


def test_moving_the_unit_moves_its_field_on_the_signal(signals_page):
    signals_page.slider(key="signals.unit").set_value(0).run()
    assert not signals_page.exception
    assert "Unit 0 of features.6 sees samples 0 to 24" in _captions(signals_page)


def test_a_count_out_of_range_is_refused_in_words(signals_page):
    signals_page.number_input(key="signals.count").set_value(50).run()
    assert not signals_page.exception
    assert any("draw 200 to 5,000 signals" in e.value for e in signals_page.error)


def test_both_networks_train_and_the_results_are_explained_from_their_accuracies(signals_page):
    at = signals_page
    at.number_input(key="signals.count").set_value(200)
    at.slider(key="signals.epochs").set_value(2).run()
    at.radio(key="signals.guess").set_value(at.radio(key="signals.guess").options[0])
    at.button(key="signals.run").click().run()
    assert not at.exception, at.exception
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and not at.main.get("download_button"):
        time.sleep(1)
        at.run()
    assert not at.exception, at.exception
    text = " ".join(m.value for m in at.markdown)
    assert "The 1-D CNN reached" in text and "the 2-D CNN" in text
    assert at.success and "You predicted" in at.success[0].value
    keys = {c.proto.id for c in at.get("plotly_chart")}
    for part in ("accuracy", "kernels", "maps"):
        assert any(part in k for k in keys), part
    assert len(at.main.get("download_button")) == 3


def test_a_second_student_on_the_defaults_gets_the_first_ones_signals(
    open_page, cold_shared_store, count_calls
):
    from models.training import signals as sig

    drawn = count_calls(sig, "prepare_split")
    first, second = open_page("signals"), open_page("signals")
    assert not first.exception and not second.exception
    assert len(drawn) == 1  # seeded: one draw of the signals for the class
    assert [c.value for c in first.caption] == [c.value for c in second.caption]
