"""The Architectures page driven through AppTest, from app.py."""

import pytest
from streamlit.testing.v1 import AppTest


@pytest.fixture
def page(open_page) -> AppTest:
    return open_page("architectures")


def _captions(at: AppTest) -> str:
    return " ".join(c.value for c in at.caption)


def test_the_page_opens_with_every_tab_drawn_and_counted(page):
    assert not page.exception
    assert page.title[0].value == "Architectures"
    keys = {c.proto.id for c in page.get("plotly_chart")}
    for part in ("kernels_chart", "inception_chart", "residual_chart", "wiring_chart"):
        assert any(part in k for k in keys), part
    text = _captions(page)
    assert "three 3×3 convolutions need 110,784 parameters against 200,768" in text
    assert "each filter reads 4 channels" in text  # 8 inputs, 2 groups by default


def test_more_channels_change_the_counts_from_the_formula(page):
    page.slider(key="architectures.channels").set_value(16).run()
    assert not page.exception
    assert f"need {27 * 16 * 16 + 48:,} parameters against {49 * 16 * 16 + 16:,}" in _captions(page)


def test_the_inception_switch_compares_with_and_without_reductions(page):
    text = _captions(page)
    assert "With the reductions: 163,696 parameters" in text
    page.toggle(key="architectures.reduce").set_value(False).run()
    assert not page.exception and "With the reductions: 163,696 parameters" in _captions(page)


def test_a_zeroed_identity_block_is_measured_to_pass_its_input_on(page):
    line = next(m.value for m in page.markdown if m.value.startswith("Measured with both"))
    assert "relu(x) is **0**" in line and "outputs at most **0**" in line
    page.radio(key="architectures.res_stride").set_value(2).run()
    assert not page.exception
    assert any("relu(projection(x))" in m.value for m in page.markdown)


def test_groups_offer_only_divisors_and_say_the_output_depth_is_the_filters(page):
    page.select_slider(key="architectures.g_out").set_value(12).run()
    groups = page.select_slider(key="architectures.g")
    assert list(groups.options) == ["1", "2", "4"]
    groups.set_value(4).run()
    assert "12 filters make an output 12 channels deep" in _captions(page)
    page.toggle(key="architectures.separable").set_value(True).run()
    assert not page.exception and "Depthwise (groups = 8) then pointwise" in _captions(page)


def test_a_second_student_on_the_defaults_gets_the_first_ones_results(
    open_page, cold_shared_store, count_calls
):
    from models.network import architectures as arch

    measured = count_calls(arch, "residual_check")
    first, second = open_page("architectures"), open_page("architectures")
    assert not first.exception and not second.exception
    assert len(measured) == 1  # the block was built and measured once for both
    assert _captions(first) == _captions(second)
