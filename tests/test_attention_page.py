"""The Attention page through AppTest: the plain message for TinyVGG, then the attention preset."""

import json

import pytest
from streamlit.testing.v1 import AppTest

from models.network.presets import PRESETS
from ui.state import NETWORK


@pytest.fixture
def attention_page(open_page) -> AppTest:
    # "Your model": no checkpoint file needed
    return open_page("attention", state={"attention.model": "Your model"})


def _chart_ids(at: AppTest) -> list[str]:
    return [c.proto.id for c in at.get("plotly_chart")]


def test_a_network_without_attention_gets_a_message_and_a_button(attention_page):
    assert attention_page.title[0].value == "Attention"
    assert any("no squeeze-and-excitation" in w.value for w in attention_page.warning)
    attention_page.button(key="attention.load_preset").click().run()
    assert not attention_page.exception
    assert attention_page.session_state[NETWORK] == PRESETS["Attention CNN (SE + CBAM)"].spec
    assert any("attention.channels" in k for k in _chart_ids(attention_page))


def test_the_attention_preset_shows_gates_and_grad_cam_for_another_class(attention_page):
    attention_page.session_state[NETWORK] = PRESETS["Attention CNN (SE + CBAM)"].spec
    attention_page.run()
    assert not attention_page.exception
    options = attention_page.selectbox(key="attention.target").options
    assert len(options) == 10
    attention_page.selectbox(key="attention.target").select_index(3).run()
    assert not attention_page.exception
    ids = _chart_ids(attention_page)
    assert any("attention.spatial" in k for k in ids)
    charts = attention_page.get("plotly_chart")
    spatial = next(c for c in charts if "attention.spatial" in c.proto.id)
    titles = [a["text"] for a in json.loads(spatial.proto.spec)["layout"]["annotations"]]
    assert titles[-1].startswith("Grad-CAM, relu4 (after conv4)")  # the maps after the ReLU
    assert any("attention.channels" in k for k in ids)
    captions = [c.value for c in attention_page.caption]  # each figure's numbers, in words
    assert any("Grad-CAM peaks at row" in c for c in captions), captions
    assert any("channels, weights from" in c for c in captions), captions


def test_grad_cam_runs_once_per_class_not_on_every_rerun(attention_page, monkeypatch):
    from models.explain import attention

    calls = []
    real = attention.gradcam_for
    monkeypatch.setattr(attention, "gradcam_for", lambda *a: calls.append(a[-1]) or real(*a))
    attention_page.session_state[NETWORK] = PRESETS["Attention CNN (SE + CBAM)"].spec
    attention_page.run()
    assert len(calls) == 1
    other = attention_page.selectbox(key="attention.target").options[3]
    attention_page.selectbox(key="attention.target").select(other).run()
    assert not attention_page.exception and len(calls) == 2  # once for the new class
    attention_page.run()
    assert len(calls) == 2  # a rerun with the same inputs computes nothing
