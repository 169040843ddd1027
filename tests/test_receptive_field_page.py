"""AppTest for the Receptive field page: opens on defaults, follows the unit, computes the ERF."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from models.network.presets import PRESETS
from models.network.spec import NetworkSpec
from ui import state


@pytest.fixture
def rf_page(open_page):
    """The page on the session's network, or on the preset named."""

    def start(spec_name: str | None = None) -> AppTest:
        extra = {state.NETWORK: PRESETS[spec_name].spec} if spec_name else {}
        return open_page("receptive_field", state=extra)

    return start


def caption_of_unit(at: AppTest) -> str:
    return next(m.value for m in at.markdown if m.value.startswith("**Unit ("))


def test_page_opens_on_the_last_layer_with_its_centre_unit_box(rf_page):
    at = rf_page()
    assert at.selectbox(key="receptive_field.layer").value == "pool2"
    # TinyVGG's pool2 is 13×13 with field 16, jump 4, start 7.5: unit 6 is centred at 31.5
    assert caption_of_unit(at).startswith("**Unit (6, 6) sees rows 24–39, columns 24–39**")


def test_moving_the_unit_moves_the_box_by_the_jump(rf_page):
    at = rf_page()
    at.slider(key="receptive_field.row").set_value(7).run()
    assert not at.exception
    assert caption_of_unit(at).startswith("**Unit (7, 6) sees rows 28–43, columns 24–39**")


def test_choosing_an_earlier_layer_resets_the_unit_into_its_map(rf_page):
    at = rf_page()
    at.slider(key="receptive_field.row").set_value(12).run()
    at.selectbox(key="receptive_field.layer").set_value("conv1").run()
    assert not at.exception
    assert at.slider(key="receptive_field.row").max == 61
    assert "sees rows" in caption_of_unit(at)


def test_a_corner_unit_is_told_it_sees_padding(rf_page):
    at = rf_page("Dilated CNN")
    at.selectbox(key="receptive_field.layer").set_value("conv4").run()
    assert not at.warning  # 31 pixels inside a 64×64 input: no outgrowing
    at.slider(key="receptive_field.row").set_value(0).run()
    at.slider(key="receptive_field.col").set_value(0).run()
    assert caption_of_unit(at).startswith("**Unit (0, 0) sees rows -15–15, columns -15–15**")
    assert any("padding" in info.value for info in at.info)


def test_a_field_larger_than_the_input_is_called_out(rf_page):
    conv = {"type": "conv", "out_channels": 2, "kernel_size": 7, "padding": 3}
    at = rf_page()
    at.session_state[state.NETWORK] = NetworkSpec.from_dict(
        {"input": [3, 16, 16], "layers": [conv] * 4}
    )
    at.run()
    at.selectbox(key="receptive_field.layer").set_value("conv4").run()
    assert not at.exception
    assert "outgrown the 16×16 input" in at.warning[0].value


def test_effective_field_button_draws_heatmaps_and_offers_a_download(rf_page):
    at = rf_page()
    at.slider(key="receptive_field.n_images").set_value(2).run()
    at.button(key="receptive_field.compute").click().run()
    assert not at.exception
    assert not at.error
    charts = [c for c in at.get("plotly_chart")]
    assert len(charts) >= 5  # map, box, growth, one effective field, mass share
    assert at.main.get("download_button")


def test_go_deeper_writes_the_field_rule_the_convolution_page_writes(rf_page):
    from models.network import formulas

    at = rf_page()
    rules = [x.value for x in at.latex]
    assert any(formulas.FIELD_RULE in r and formulas.JUMP_RULE in r for r in rules)


def _effective_field_titles(at: AppTest) -> list[str]:
    import json

    charts = [c for c in at.get("plotly_chart") if "receptive_field.erf." in c.proto.id]
    return [json.loads(c.proto.spec)["layout"]["title"]["text"] for c in charts]


def test_the_effective_field_follows_the_layer_and_is_never_stale(rf_page):
    at = rf_page()
    at.slider(key="receptive_field.n_images").set_value(2).run()
    at.button(key="receptive_field.compute").click().run()
    assert _effective_field_titles(at)[0].startswith("pool2, unit")
    at.selectbox(key="receptive_field.layer").set_value("conv2").run()
    assert not at.exception and not at.error
    titles = _effective_field_titles(at)
    assert titles and all(t.startswith("conv2, unit") for t in titles)


def test_a_shipped_model_can_be_picked_and_untrained_is_said_once(rf_page):
    at = rf_page("Dilated CNN")  # no checkpoint was trained for it
    assert sum("has not been trained" in i.value for i in at.info) == 1
    model = at.selectbox(key="receptive_field.model")
    shipped = [o for o in model.options if o != "Your model"]
    model.set_value(shipped[0]).run()
    assert not at.exception
    assert not any("has not been trained" in i.value for i in at.info)


def test_a_torchvision_network_can_be_picked_and_shows_its_layers(rf_page):
    at = rf_page()
    at.selectbox(key="receptive_field.model").set_value("mobilenet_v3_small").run()
    assert not at.exception and not at.error
    assert "features.0.0" in at.selectbox(key="receptive_field.layer").options


def test_the_picker_refuses_a_source_it_does_not_know():
    from ui.model_picker import pick_model

    with pytest.raises(ValueError, match="unknown model sources"):
        pick_model("receptive_field", ("yours", "webcam"))


def test_a_second_student_on_the_defaults_gets_the_first_ones_results(
    rf_page, cold_shared_store, count_calls
):
    from models.inspect import effective_field as erf
    from models.inspect import receptive_field as rf

    fields = count_calls(rf, "compute_receptive_fields")
    maps = count_calls(erf, "capture_feature_map")
    first = rf_page()
    made = len(fields), len(maps)
    assert made[1] == 1
    second = rf_page()
    assert not first.exception and not second.exception
    assert (len(fields), len(maps)) == made  # the shipped model's: nothing made again
    assert caption_of_unit(first) == caption_of_unit(second)
