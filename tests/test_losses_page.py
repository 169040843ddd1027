"""The Losses page driven through AppTest, from app.py."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest


@pytest.fixture
def losses_page(open_page) -> AppTest:
    return open_page("losses")


def _text(at: AppTest) -> str:
    return " ".join(m.value for m in at.markdown)


def _table(at: AppTest, column: str):
    """The page's table that has `column` (AppTest finds data frames by place, not key)."""
    return next(d.value for d in at.dataframe if column in d.value.columns)


def _charts(at: AppTest) -> set[str]:
    return {c.proto.id for c in at.get("plotly_chart")}


def test_the_page_opens_with_its_three_figures_and_a_question_to_answer(losses_page):
    assert losses_page.title[0].value == "Losses"
    for part in ("curves_chart", "gradient_chart", "temperature_chart"):
        assert any(part in key for key in _charts(losses_page)), part
    assert losses_page.radio(key="losses.guess").value is None
    assert "Predict first" in losses_page.info[0].value
    assert "At p = 0.70, cross-entropy is 0.357" in _text(losses_page)  # −log 0.7 = 0.357


def test_a_prediction_is_marked_against_the_measured_strongest_pull(losses_page):
    losses_page.radio(key="losses.guess").set_value("focal").run()
    assert not losses_page.exception
    assert "the measurement says" in losses_page.warning[0].value
    losses_page.radio(key="losses.guess").set_value("hinge (Weston–Watkins)").run()
    messages = [m.value for m in losses_page.success] + [m.value for m in losses_page.warning]
    assert any("hinge (Weston–Watkins)" in m for m in messages)


def test_dragging_p_true_changes_the_losses_and_the_explanation(losses_page):
    losses_page.slider(key="losses.p_true").set_value(0.2).run()
    assert not losses_page.exception
    assert "At p = 0.20, cross-entropy is 1.609" in _text(losses_page)  # −log 0.2
    assert "still pulls it up" in _text(losses_page)
    losses_page.slider(key="losses.p_true").set_value(0.99).run()
    assert "already pushes it back down" in _text(losses_page)  # above 1 − ε + ε/K


def test_typed_logits_drive_the_explorer_and_the_index_equals_the_one_hot(losses_page):
    losses_page.radio(key="losses.mode").set_value("Type every logit").run()
    losses_page.number_input(key="losses.logit.1").set_value(5.0).run()
    assert not losses_page.exception and not losses_page.error
    forms = _table(losses_page, "PyTorch call")
    assert forms["loss"][0] == pytest.approx(forms["loss"][1])
    assert forms["loss"][2] == pytest.approx(forms["loss"][3])
    assert "needs the probability form" in _text(losses_page)


def test_a_hotter_temperature_flattens_the_probabilities(losses_page):
    def top_share() -> str:
        caption = next(c.value for c in losses_page.caption if c.value.startswith("At T ="))
        return caption.split(" gets ")[1].split("%")[0]

    cold = float(top_share())
    losses_page.slider(key="losses.temperature").set_value(5.0).run()
    assert not losses_page.exception
    assert float(top_share()) < cold


def test_three_classes_still_work_and_the_table_can_be_downloaded(losses_page):
    losses_page.slider(key="losses.classes").set_value(3).run()
    assert not losses_page.exception and not losses_page.error
    table = _table(losses_page, "loss")
    assert len(table) == 5 and len(table.columns) == 4  # loss + 3 gradients
    assert losses_page.main.get("download_button")


def test_a_second_student_on_the_defaults_gets_the_first_ones_results(
    open_page, cold_shared_store, count_calls
):
    from models.training import losses as L

    computed, curves = count_calls(L, "compute_losses"), count_calls(L, "loss_curves")
    first, second = open_page("losses"), open_page("losses")
    assert not first.exception and not second.exception
    assert len(computed) == 1 and len(curves) == 1
    assert _text(first) == _text(second)
