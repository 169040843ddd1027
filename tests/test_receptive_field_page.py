"""AppTest for the Receptive field page: it opens on defaults, follows the unit, computes the ERF."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from models.presets import PRESETS
from ui import state

PAGE = "pages/receptive_field.py"


def open_page(spec_name: str | None = None) -> AppTest:
    at = AppTest.from_file("../app.py", default_timeout=60)
    at.run()
    if spec_name is not None:
        at.session_state[state.NETWORK] = PRESETS[spec_name].spec
    at.switch_page(PAGE).run()
    assert not at.exception
    return at


def caption_of_unit(at: AppTest) -> str:
    return next(m.value for m in at.markdown if m.value.startswith("**Unit ("))


def test_page_opens_on_the_last_layer_with_its_centre_unit_box():
    at = open_page()
    assert at.selectbox(key="receptive_field.layer").value == "pool2"
    # TinyVGG's pool2 is 13×13; its centre unit (6, 6) sees 16 pixels centred at 1.5 + 6·4
    assert caption_of_unit(at).startswith("**Unit (6, 6) sees rows 18–33, columns 18–33**")


def test_moving_the_unit_moves_the_box_by_the_jump():
    at = open_page()
    at.slider(key="receptive_field.row").set_value(7).run()
    assert not at.exception
    assert caption_of_unit(at).startswith("**Unit (7, 6) sees rows 22–37, columns 18–33**")


def test_choosing_an_earlier_layer_resets_the_unit_into_its_map():
    at = open_page()
    at.slider(key="receptive_field.row").set_value(12).run()
    at.selectbox(key="receptive_field.layer").set_value("conv1").run()
    assert not at.exception
    assert at.slider(key="receptive_field.row").max == 61
    assert "sees rows" in caption_of_unit(at)


def test_a_field_larger_than_the_input_is_called_out():
    at = open_page("Dilated CNN")
    at.selectbox(key="receptive_field.layer").set_value("conv4").run()
    assert not at.exception
    assert not at.warning  # 31 pixels inside a 64×64 input
    at = open_page("LeNet-5")
    at.selectbox(key="receptive_field.layer").set_value("pool2").run()
    assert any("padding" in i.value for i in at.info) or at.warning


def test_effective_field_button_draws_heatmaps_and_offers_a_download():
    at = open_page()
    at.slider(key="receptive_field.n_images").set_value(2).run()
    at.button(key="receptive_field.compute").click().run()
    assert not at.exception
    assert not at.error
    charts = [c for c in at.get("plotly_chart")]
    assert len(charts) >= 5  # map, box, growth, one effective field, mass share
    assert at.get("download_button")
