"""The Pooling page driven through AppTest, from app.py."""

import pytest
from streamlit.testing.v1 import AppTest


@pytest.fixture
def pooling_page(open_page) -> AppTest:
    return open_page("pooling")


def _size_line(at: AppTest) -> str:
    return next(m.value for m in at.markdown if m.value.startswith("**Output size"))


def test_the_page_opens_with_every_section_drawn(pooling_page):
    assert pooling_page.title[0].value == "Pooling"
    keys = {c.proto.id for c in pooling_page.get("plotly_chart")}
    for part in ("grid_chart", "maps_chart", "global_chart", "pyramid_chart", "shift_chart"):
        assert any(part in k for k in keys), part
    assert _size_line(pooling_page) == "**Output size: 48×48** (from 96×96)"


def test_a_bigger_window_changes_the_output_size_and_the_formula(pooling_page):
    pooling_page.slider(key="pooling.window").set_value(4).run()
    pooling_page.slider(key="pooling.stride").set_value(3).run()
    assert not pooling_page.exception
    assert _size_line(pooling_page) == "**Output size: 31×31** (from 96×96)"
    assert any(r"{96 + 2\cdot 0 - 4}{3}" in x.value for x in pooling_page.get("latex"))


def test_choosing_an_output_cell_names_its_window_and_winner(pooling_page):
    pooling_page.selectbox(key="pooling.cell").set_value((1, 0)).run()
    line = next(m.value for m in pooling_page.markdown if m.value.startswith("Output (1, 0)"))
    assert "the winner is cell" in line


def test_lp_with_padding_shows_a_plain_error(pooling_page):
    pooling_page.radio(key="pooling.mode").set_value("lp")
    pooling_page.slider(key="pooling.window").set_value(2)
    pooling_page.slider(key="pooling.padding").set_value(1).run()
    assert not pooling_page.exception
    assert "no padding" in pooling_page.error[0].value
    pooling_page.slider(key="pooling.padding").set_value(0).run()
    assert not pooling_page.error


def test_a_feature_map_of_the_current_model_can_be_pooled(pooling_page):
    pooling_page.radio(key="pooling.mode").set_value("avg")
    pooling_page.radio(key="pooling.source").set_value("A feature map of the current model").run()
    pooling_page.selectbox(key="pooling.layer").set_value("conv2")
    pooling_page.number_input(key="pooling.channel").set_value(3).run()
    assert not pooling_page.exception and not pooling_page.error
    assert "(from 60×60)" in _size_line(pooling_page)


def test_a_ceil_mode_pool_shows_the_drop_rule_and_never_says_rounds_down(pooling_page):
    pooling_page.slider(key="pooling.window").set_value(3)
    pooling_page.slider(key="pooling.stride").set_value(2)
    pooling_page.slider(key="pooling.padding").set_value(1)
    pooling_page.toggle(key="pooling.ceil").set_value(True).run()
    assert not pooling_page.exception
    # 96 + 2 − 3 = 95 cells of room, 95/2 rounded up = 48, and 48·2 = 96 < 96 + 1: kept
    assert _size_line(pooling_page) == "**Output size: 49×49** (from 96×96)"
    latex = [x.value.strip("$\n") for x in pooling_page.get("latex")]
    assert any(r"[96 \ge 97] = 49" in x for x in latex)
    notes = [c.value for c in pooling_page.caption]
    assert any("rounds 95/2 up" in n for n in notes)
    assert not any("rounds down" in n or "rounds 95/2 down" in n for n in notes)


def test_lp_pooling_is_called_a_power_sum_not_an_average(pooling_page):
    intro = pooling_page.markdown[0].value
    assert "power-average" not in intro and "p = 1 adds the window up" in intro
    assert "average" not in pooling_page.radio(key="pooling.mode").options[2]
    deeper = " ".join(m.value for m in pooling_page.markdown)
    assert "power sum, not a mean" in deeper and "K² times the average" in deeper


def test_the_shift_tab_measures_the_model_and_writes_its_conclusion_from_the_numbers(pooling_page):
    bullets = next(m.value for m in pooling_page.markdown if m.value.startswith("- Without"))
    assert "on its grid (2, 4, 6, 8 px)" in bullets
    assert "The model (TinyVGG on shapes) answers “star”" in bullets
    pooling_page.slider(key="pooling.factor").set_value(4).run()
    pooling_page.slider(key="pooling.max_shift").set_value(5).run()
    assert not pooling_page.exception and not pooling_page.error
    bullets = next(m.value for m in pooling_page.markdown if m.value.startswith("- Without"))
    assert "on its grid (4 px)" in bullets and "keeps that answer at" in bullets
    assert "of 5 shifts" in bullets


def test_the_model_comes_from_the_one_picker_and_a_shipped_one_can_be_pooled(pooling_page):
    model = pooling_page.selectbox(key="pooling.model")
    assert model.value == "Your model"
    shipped = [o for o in model.options if o != "Your model"]
    model.set_value(shipped[0])
    pooling_page.radio(key="pooling.source").set_value("A feature map of the current model").run()
    assert not pooling_page.exception and not pooling_page.error
    assert "Output size" in _size_line(pooling_page)
