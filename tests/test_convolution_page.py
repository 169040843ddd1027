"""The Convolution page driven through AppTest: every control, bad settings, play, downloads."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from models.operations import convolution as conv
from models.operations import kernels as kern
from ui.panels.convolution import TABS


@pytest.fixture
def page(open_page) -> AppTest:
    return open_page("convolution")


def _window(at: AppTest) -> str:
    return next(c.value for c in at.caption if "window at" in c.value)


def _errors(at: AppTest) -> list[str]:
    return [e.value for e in at.error]


def _open_tab(at: AppTest, label: str) -> AppTest:
    """Click a tab: the page runs again with only that tab's content."""
    at.session_state["convolution.tab"] = label
    return at.run()


def test_only_the_open_tab_runs_and_another_tab_opens_on_a_click(page):
    keys = [s.key for s in page.slider]
    assert "convolution.rows" in keys and "convolution.rate" not in keys  # the others wait
    _open_tab(page, TABS[1])
    keys = [s.key for s in page.slider]
    assert "convolution.rate" in keys and "convolution.rows" not in keys
    _open_tab(page, TABS[2])
    assert not page.exception and page.slider(key="convolution.sigma").value == 1.0


def test_the_page_opens_on_a_working_step_with_its_formula(page):
    assert page.title[0].value == "Convolution"
    assert _window(page) == "Step 1 of 9: window at row 0, column 0 (output cell)."
    assert not _errors(page)
    assert any("= 3" in latex.value for latex in page.latex)  # 5 − 3 + 1 rows
    assert any("dilated convolutions" in m.value for m in page.markdown)  # the concepts


def test_moving_the_position_slider_moves_the_window(page):
    page.slider(key="convolution.position").set_value(5).run()
    assert _window(page) == "Step 6 of 9: window at row 1, column 2 (output cell)."


@pytest.mark.parametrize("name", list(conv.CASES))
def test_every_conv_arithmetic_case_sets_the_controls_and_runs(page, name):
    page.selectbox(key="convolution.case").select(name).run()
    case = conv.CASES[name]
    assert not page.exception and not _errors(page)
    assert page.slider(key="convolution.stride").value == case.spec.stride
    assert page.toggle(key="convolution.transposed").value == case.spec.transposed
    assert page.slider(key="convolution.rows").value == case.side


@pytest.mark.parametrize(
    "key,value",
    [
        ("convolution.rows", 9),
        ("convolution.cols", 4),
        ("convolution.kernel_size", 5),
        ("convolution.stride", 3),
        ("convolution.padding", 2),
        ("convolution.dilation", 2),
    ],
)
def test_each_step_slider_redraws_without_error(page, key, value):
    page.slider(key=key).set_value(value).run()
    assert not page.exception and not _errors(page)
    assert _window(page).startswith("Step 1 of ")


def test_sources_kernels_bias_seed_and_transposed_switch_all_work(page):
    for source in ("Your image", "Type them", "Random numbers"):
        page.radio(key="convolution.source").set_value(source).run()
        assert not page.exception and not _errors(page)
    for name in kern.KERNELS:
        page.selectbox(key="convolution.kernel").select(name).run()
        assert not page.exception and not _errors(page)
    page.number_input(key="convolution.seed").set_value(7).run()
    page.number_input(key="convolution.bias").set_value(2.5).run()
    assert any(latex.value.rstrip().split("+")[-1].startswith(" 2.5") for latex in page.latex)
    page.toggle(key="convolution.transposed").set_value(True).run()
    page.slider(key="convolution.stride").set_value(2).run()
    page.slider(key="convolution.output_padding").set_value(1).run()
    assert not page.exception and not _errors(page)
    assert _window(page).startswith("Step 1 of 144:")  # (5−1)·2 + 1·(3−1) + 1 + 1 = 12 a side


def test_a_kernel_bigger_than_the_input_says_so_without_crashing(page):
    page.slider(key="convolution.rows").set_value(3).run()
    page.slider(key="convolution.kernel_size").set_value(7).run()
    assert not page.exception
    assert any("smaller than 1×1" in e for e in _errors(page))
    page.slider(key="convolution.padding").set_value(2).run()  # 1×3 output: fits again
    assert not _errors(page) and _window(page).startswith("Step 1 of 3:")


def test_impossible_output_padding_is_explained(page):
    page.toggle(key="convolution.transposed").set_value(True).run()
    page.slider(key="convolution.output_padding").set_value(2).run()
    assert not page.exception
    assert any("output padding (2) must be smaller" in e for e in _errors(page))


def test_a_fractional_textbook_size_is_flagged_with_the_unread_rows(page):
    page.slider(key="convolution.rows").set_value(6).run()
    page.slider(key="convolution.stride").set_value(2).run()
    assert any("5/2" in w.value for w in page.warning)
    assert any("Height: input index 5" in i.value for i in page.info)


def test_play_advances_the_window_and_pause_stops_it(page):
    page.button(key="convolution.play").click().run()
    assert page.button(key="convolution.play").label == "⏸ Pause"
    assert page.slider(key="convolution.position").value == 1
    page.button(key="convolution.play").click().run()
    assert page.button(key="convolution.play").label == "▶ Play"
    assert not page.exception


def test_the_dilation_tab_reports_fields_and_refuses_bad_rates(page):
    _open_tab(page, TABS[1])
    page.slider(key="convolution.dil_kernel").set_value(5).run()
    page.slider(key="convolution.rate").set_value(3).run()
    assert any(r"3\cdot (5 - 1) + 1 = 13" in latex.value for latex in page.latex)
    page.text_input(key="convolution.rates").input("2, 2, 2").run()
    assert not page.exception and not _errors(page)
    page.text_input(key="convolution.rates").input("2, two").run()
    assert any("whole numbers" in e for e in _errors(page))


def test_the_image_tab_drives_every_control_and_counts_parameters(page):
    _open_tab(page, TABS[2])
    for name in kern.KERNELS:
        page.selectbox(key="convolution.image_kernel").select(name).run()
        assert not page.exception and not _errors(page)
    for key, value in (
        ("convolution.image_size", 5),
        ("convolution.sigma", 2.0),
        ("convolution.angle", 45),
        ("convolution.frequency", 0.1),
        ("convolution.image_bias", -0.3),
    ):
        page.slider(key=key).set_value(value).run()
    page.toggle(key="convolution.relu").set_value(True).run()
    assert not page.exception and not _errors(page)
    sharing = next(m.value for m in page.markdown if "Parameter sharing" in m.value)
    assert "4 kernels of 5×5" in sharing and "**304**" in sharing  # 4·(3·25 + 1)


def test_the_image_tab_explains_bad_choices(page):
    _open_tab(page, TABS[2])
    page.multiselect(key="convolution.layer").set_value([]).run()
    assert any("at least one kernel" in e for e in _errors(page))
    page.multiselect(key="convolution.layer").set_value(["Sobel x"]).run()
    page.slider(key="convolution.image_size").set_value(1).run()
    assert any("3×3 kernel" in e for e in _errors(page))
    assert not page.exception


def _deeper(at: AppTest) -> str:
    return " ".join(latex.value for latex in at.latex)


def test_the_receptive_field_rule_carries_the_jump_and_the_pool_rule_its_dropped_window(page):
    deeper = _deeper(page)
    assert r"r_l = r_{l-1} + (k_l - 1)\,d_l\,j_{l-1}" in deeper
    assert r"RF_{l}" not in deeper and r"j_l = j_{l-1}\,s_l" in deeper
    assert r"\ge W + P]" in deeper  # ceil_mode's drop rule


def test_a_ceil_mode_pool_that_drops_its_last_window_is_counted_right(page):
    page.slider(key="convolution.rows").set_value(5)
    page.slider(key="convolution.kernel_size").set_value(2)
    page.slider(key="convolution.stride").set_value(2)
    page.slider(key="convolution.padding").set_value(1).run()
    assert not page.exception
    pools = [c.value for c in page.caption if "pooling with this stride" in c.value]
    # ⌈(5 + 2 − 2)/2⌉ + 1 = 4, minus the last window that would start in the padding: 3
    assert pools and "gives 3 (ceil_mode=False) or 3 (ceil_mode=True:" in pools[0]
    assert "[⌈(5 + 2·1 − 2)/2⌉·2 ≥ 5 + 1] = 3)" in pools[0]


def test_every_size_formula_on_the_step_tab_ends_in_the_size_torch_gives(page):
    page.slider(key="convolution.rows").set_value(7)
    page.slider(key="convolution.stride").set_value(2)
    page.slider(key="convolution.dilation").set_value(2).run()
    shown = [x.value.strip("$\n").removesuffix(r" \end{aligned}") for x in page.latex]
    sizes = [x for x in shown if r"\frac{W + 2P - D(K - 1) - 1}{S}" in x]
    assert sizes[0].endswith("= 2")  # ⌊(7 − 2·2 − 1)/2⌋ + 1 rows
    assert sizes[1].endswith("= 1")  # ⌊(5 − 4 − 1)/2⌋ + 1 columns
    assert _window(page).startswith("Step 1 of 2:")


def test_every_tab_captions_its_figures_with_their_numbers(page):
    """Issue 21: a text equivalent beside each figure (the numbers are checked in
    tests/test_accessibility.py; here, that the page shows them)."""
    assert any(c.value.startswith("Output 3×3 from a 5×5 input") for c in page.caption)
    _open_tab(page, TABS[1])
    captions = [c.value for c in page.caption]
    assert any(c.startswith("9 taps spread over a 5×5 span") for c in captions), captions
    assert any("rates 1, 2, 4, 8: 3, 7, 15, 31 pixels" in c for c in captions), captions
    assert any(c.startswith("The last unit's field is 31×31") for c in captions), captions
    _open_tab(page, TABS[2])
    assert not page.exception
    assert any("map per kernel, on one colour scale" in c.value for c in page.caption)
