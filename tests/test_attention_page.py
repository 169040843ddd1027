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
    # the preset is the shipped attention model's network, so its Grad-CAM is the class's: an
    # earlier test on the same image may already have made it
    first = len(calls)
    assert first <= 1
    other = attention_page.selectbox(key="attention.target").options[6]  # no other test's
    attention_page.selectbox(key="attention.target").select(other).run()
    assert not attention_page.exception and len(calls) == first + 1  # once for the new class
    attention_page.run()
    assert len(calls) == first + 1  # a rerun with the same inputs computes nothing


def test_two_students_on_the_shipped_attention_model_share_one_reading(monkeypatch):
    import numpy as np
    from PIL import Image

    from models.explain import attention
    from ui.panels import attention as panel
    from ui.shared_models import shipped_model

    bundle = shipped_model("Attention CNN on shapes")
    pixels = np.random.default_rng(7).integers(0, 255, (40, 40, 3), dtype=np.uint8)
    image = Image.fromarray(pixels)  # an image no other test reads
    read_calls, cam_calls = [], []
    real_read, real_cam = attention.read_gates, attention.gradcam_for
    monkeypatch.setattr(attention, "read_gates", lambda *a: read_calls.append(a) or real_read(*a))
    monkeypatch.setattr(attention, "gradcam_for", lambda *a: cam_calls.append(a) or real_cam(*a))
    first = panel.gates(bundle, image)
    assert panel.gates(bundle, Image.fromarray(pixels)) is first  # another session's copy
    assert panel.gradcam(bundle, image, first, 1) is panel.gradcam(bundle, image, first, 1)
    assert len(read_calls) == 1 and len(cam_calls) == 1
    src = (bundle, image)
    assert panel.probabilities(src, first, 1) is panel.probabilities(src, first, 1)
