"""The Filters page driven through AppTest, from app.py, on small networks."""

import pytest
import torch
from streamlit.testing.v1 import AppTest

from models.bundle import untrained_bundle
from models.network.presets import PRESETS
from ui.state import MODEL, NETWORK


@pytest.fixture
def filters_page(open_page) -> AppTest:
    return open_page("filters")


def _chart_keys(at: AppTest) -> list[str]:
    return [c.proto.id for c in at.get("plotly_chart")]


def test_the_page_shows_first_layer_kernels_of_the_shipped_tinyvgg(filters_page):
    assert filters_page.title[0].value == "Filters"
    assert not any("has not been trained" in i.value for i in filters_page.info)
    assert any("filters.tiles" in k for k in _chart_keys(filters_page))
    assert any("**conv1**: 10 filters, each 3×3×3" in m.value for m in filters_page.markdown)


def test_a_deeper_layer_shows_kernels_per_input_channel(filters_page):
    filters_page.selectbox(key="filters.layer").set_value("conv3").run()
    assert not filters_page.exception
    keys = _chart_keys(filters_page)
    assert any("filters.grid" in k for k in keys)
    assert not any("filters.tiles" in k for k in keys)


def test_a_trained_model_is_shown_beside_a_fresh_one(filters_page):
    trained = untrained_bundle(PRESETS["TinyVGG (CNN Explainer)"].spec, seed=7)
    with torch.no_grad():
        trained.model.conv1.weight.mul_(3.0)  # a stand-in for training: different weights
    trained.trained = True
    filters_page.session_state[MODEL] = trained
    filters_page.run()
    assert not filters_page.exception
    assert not filters_page.info
    tiles = [k for k in _chart_keys(filters_page) if "filters.tiles" in k]
    assert len(tiles) == 2


def test_feature_visualization_runs_and_offers_a_download(filters_page):
    filters_page.slider(key="filters.steps").set_value(8)
    filters_page.number_input(key="filters.channel").set_value(2).run()
    filters_page.button(key="filters.synthesize").click().run()
    assert not filters_page.exception
    assert any("filters.curve" in k for k in _chart_keys(filters_page))
    assert any("on this image" in c.value for c in filters_page.caption)
    assert len(filters_page.main.get("download_button")) == 1


def test_a_channel_beyond_the_new_layers_filters_falls_back_to_channel_zero(filters_page):
    filters_page.session_state[NETWORK] = PRESETS["LeNet-5"].spec
    filters_page.run()
    filters_page.selectbox(key="filters.layer").set_value("conv2").run()
    filters_page.number_input(key="filters.channel").set_value(12).run()
    filters_page.selectbox(key="filters.layer").set_value("conv1").run()
    assert not filters_page.exception
    assert filters_page.number_input(key="filters.channel").value == 0
    assert not any("filters.tiles" in k for k in _chart_keys(filters_page))  # 1-channel input


def test_a_synthesized_image_is_kept_for_its_channel_and_never_shown_for_another(filters_page):
    filters_page.slider(key="filters.steps").set_value(8).run()
    filters_page.button(key="filters.synthesize").click().run()
    filters_page.run()  # a rerun without a press keeps the result
    assert any("filters.curve" in k for k in _chart_keys(filters_page))
    filters_page.number_input(key="filters.channel").set_value(1).run()
    assert not any("filters.curve" in k for k in _chart_keys(filters_page))


def test_an_untrained_model_is_said_so_once_with_what_its_filters_are(filters_page):
    filters_page.session_state[MODEL] = untrained_bundle(PRESETS["LeNet-5"].spec)
    filters_page.run()
    notes = [i.value for i in filters_page.info if "has not been trained" in i.value]
    assert len(notes) == 1 and "random numbers" in notes[0]


def test_a_second_student_on_the_shipped_model_gets_the_first_ones_figures(
    open_page, cold_shared_store, count_calls
):
    from viz import filters as fiz

    drawn = count_calls(fiz, "kernel_grid_figure")
    first = open_page("filters")
    made = len(drawn)
    assert made >= 1
    second = open_page("filters")
    assert not first.exception and not second.exception
    assert len(drawn) == made  # nothing drawn again for the second student
