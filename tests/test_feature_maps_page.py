"""The Feature maps page driven through AppTest, from app.py, on the session's network."""

import pytest
from streamlit.testing.v1 import AppTest

from models.network.presets import PRESETS
from ui.state import NETWORK


@pytest.fixture
def feature_page(open_page) -> AppTest:
    return open_page("feature_maps")


def _grid_z(at: AppTest):
    import json

    chart = next(c for c in at.get("plotly_chart") if c.proto.id and "grid" in c.proto.id)
    return json.loads(chart.proto.spec)["data"][0]["z"]


def test_the_page_opens_on_the_shipped_trained_tinyvgg(feature_page):
    assert feature_page.title[0].value == "Feature maps"
    assert not any("has not been trained" in i.value for i in feature_page.info)
    assert feature_page.select_slider(key="feature_maps.layer").value == "conv1"


def test_an_untrained_network_is_said_so_once_by_the_picker(open_page):
    # no checkpoint was trained for the Dilated CNN
    at = open_page("feature_maps", state={NETWORK: PRESETS["Dilated CNN"].spec})
    notes = [i.value for i in at.info if "has not been trained" in i.value]
    assert len(notes) == 1 and "not learned features" in notes[0]


def test_moving_the_depth_slider_changes_the_grid(feature_page):
    first = _grid_z(feature_page)
    feature_page.select_slider(key="feature_maps.layer").set_value("pool2").run()
    assert not feature_page.exception
    assert _grid_z(feature_page) != first
    assert any(
        "**pool2** · MaxPool2d · 10 channels of 13×13" in m.value for m in feature_page.markdown
    )


@pytest.mark.parametrize("scale", ["channel", "layer", "network"])
def test_every_colour_range_and_the_ordering_draw(feature_page, scale):
    feature_page.radio(key="feature_maps.scale").set_value(scale)
    feature_page.toggle(key="feature_maps.ordered").set_value(True).run()
    assert not feature_page.exception


def test_an_activation_layer_shows_before_and_after(feature_page):
    feature_page.select_slider(key="feature_maps.layer").set_value("relu2").run()
    feature_page.selectbox(key="feature_maps.channel").set_value(3).run()
    assert not feature_page.exception
    keys = [c.proto.id for c in feature_page.get("plotly_chart")]
    assert any("before_after" in k for k in keys)


def test_the_exciting_shapes_are_found_with_progress(feature_page):
    feature_page.select_slider(key="feature_maps.n_images").set_value(64).run()
    feature_page.button(key="feature_maps.excite").click().run()
    assert not feature_page.exception
    keys = [c.proto.id for c in feature_page.get("plotly_chart")]
    assert any("exciting" in k for k in keys)


def test_a_network_change_elsewhere_resets_a_layer_it_lacks(feature_page):
    feature_page.select_slider(key="feature_maps.layer").set_value("relu4").run()
    feature_page.session_state[NETWORK] = PRESETS["LeNet-5"].spec
    feature_page.run()
    assert not feature_page.exception
    assert feature_page.select_slider(key="feature_maps.layer").value == "conv1"
    assert "tanh1" in feature_page.select_slider(key="feature_maps.layer").options


def test_a_torchvision_model_can_be_chosen_untrained(feature_page):
    feature_page.selectbox(key="feature_maps.model").set_value("mobilenet_v3_small").run()
    assert not feature_page.exception
    assert "features.0.0" in feature_page.select_slider(key="feature_maps.layer").options
