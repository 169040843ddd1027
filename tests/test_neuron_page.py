"""The Neuron view driven through AppTest, from app.py, on the shipped TinyVGG."""

import pytest
from streamlit.testing.v1 import AppTest

from ui.panels.neuron import HAND_OFF


@pytest.fixture
def neuron_page(open_page) -> AppTest:
    return open_page("neuron")


def _chart_keys(at: AppTest) -> list[str]:
    return [c.proto.id for c in at.get("plotly_chart")]


def _markdown(at: AppTest) -> str:
    return "\n".join(m.value for m in at.markdown) + "\n".join(c.value for c in at.caption)


def test_the_page_opens_on_a_conv_channel_whose_sum_matches_pytorch(neuron_page):
    at = neuron_page
    assert at.title[0].value == "Neuron view"
    assert at.selectbox(key="neuron.layer").value == "conv1"
    assert any("neuron.conv" in k for k in _chart_keys(at))
    text = _markdown(at)
    assert "reads 3 input map(s)" in text
    assert "differs from PyTorch's output of conv1 by at most" in text
    # the dot product in numbers: ours and PyTorch's printed to 4 decimals agree
    line = next(m.value for m in at.markdown if "in numbers" in m.value)
    ours, theirs = (
        line.split("gives **")[1].split("**")[0],
        line.split("value: **")[1].split("**")[0],
    )
    assert ours == theirs


def test_choosing_a_unit_moves_the_window(neuron_page):
    at = neuron_page
    at.number_input(key="neuron.row").set_value(0)
    at.number_input(key="neuron.col").set_value(0).run()
    assert not at.exception
    assert "rows 0 to 2, columns 0 to 2" in _markdown(at)


def test_a_relu_shows_zeros_and_the_collapse_after_a_prediction(neuron_page):
    at = neuron_page
    at.selectbox(key="neuron.layer").set_value("relu2").run()
    assert "are exactly 0 after it" in _markdown(at)
    at.radio(key="neuron.predict").set_value("One conv with a bigger kernel")
    at.toggle(key="neuron.linear").set_value(True).run()
    assert not at.exception
    assert any("neuron.collapse" in k for k in _chart_keys(at))
    text = _markdown(at)
    assert "is one conv with a 5×5 kernel" in text and ": right." in text


@pytest.mark.parametrize("layer", ["pool1", "flatten1"])
def test_pooling_and_flatten_views_draw(neuron_page, layer):
    neuron_page.selectbox(key="neuron.layer").set_value(layer).run()
    assert not neuron_page.exception
    text = _markdown(neuron_page)
    assert "PyTorch's value" in text or "PyTorch's flat vector" in text


def test_the_output_layer_shows_softmax_and_reacts_to_temperature(neuron_page):
    at = neuron_page
    at.selectbox(key="neuron.layer").set_value("fc1").run()
    assert any("neuron.softmax" in k for k in _chart_keys(at))

    def top_share() -> float:
        caption = next(c.value for c in at.caption if "at T =" in c.value)
        return float(caption.split(" gets ")[1].split("%")[0])

    cold = top_share()
    at.slider(key="neuron.temperature").set_value(5.0).run()
    assert not at.exception
    assert top_share() < cold


def test_a_channel_handed_over_from_feature_maps_is_opened(open_page):
    hand_off = {"model": "TinyVGG on shapes", "pretrained": False, "layer": "conv2", "channel": 7}
    at = open_page("neuron", state={HAND_OFF: hand_off})
    assert at.selectbox(key="neuron.layer").value == "conv2"
    assert at.number_input(key="neuron.channel").value == 7
    assert "Channel 7 of **conv2** reads 10 input map(s)" in _markdown(at)


def test_a_wide_torchvision_layer_says_so_and_draws_its_strongest_channels(neuron_page):
    at = neuron_page
    at.selectbox(key="neuron.model").set_value("resnet18").run()
    at.selectbox(key="neuron.layer").set_value("layer1.0.conv1").run()
    assert not at.exception
    assert any("too many to draw whole" in i.value for i in at.info)
    assert "reads 64 input map(s)" in _markdown(at)


def test_a_second_student_on_the_shipped_model_gets_the_first_ones_unit(
    open_page, cold_shared_store, count_calls
):
    from models.inspect import neuron as nr

    captured = count_calls(nr, "capture_layer")
    computed = count_calls(nr, "compute_conv_neuron")
    first, second = open_page("neuron"), open_page("neuron")
    assert not first.exception and not second.exception
    assert len(captured) == 1 and len(computed) == 1  # the shipped model's: once for both
    assert _markdown(first) == _markdown(second)
