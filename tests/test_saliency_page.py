"""The Saliency page through AppTest, from app.py: an untrained network, then a shipped one."""

import json

import pytest
from streamlit.testing.v1 import AppTest

from models.presets import PRESETS
from ui.state import NETWORK


@pytest.fixture
def saliency_page() -> AppTest:
    at = AppTest.from_file("../app.py", default_timeout=120)
    at.run()
    at.session_state["saliency.model"] = "Your model"
    at.session_state[NETWORK] = PRESETS["Dilated CNN"].spec  # no checkpoint was trained for it
    at.switch_page("pages/saliency.py").run()
    assert not at.exception
    return at


def _chart(at: AppTest, name: str) -> dict:
    chart = next(c for c in at.get("plotly_chart") if c.proto.id and name in c.proto.id)
    return json.loads(chart.proto.spec)


def test_the_page_opens_with_maps_of_the_default_methods(saliency_page):
    assert saliency_page.title[0].value == "Saliency"
    assert any("has not been trained" in i.value for i in saliency_page.info)
    titles = [a["text"] for a in _chart(saliency_page, "saliency.figure")["layout"]["annotations"]]
    assert titles == ["Image", "Integrated gradients", "Grad-CAM"]


def test_a_shipped_checkpoint_can_be_explained_when_its_file_is_there():
    from models.checkpoint import ROOT, SHIPPED

    if not (ROOT / SHIPPED["TinyVGG on shapes"]).is_file():
        pytest.skip("checkpoints/ has no TinyVGG yet (python -m models.pretrain writes it)")
    at = AppTest.from_file("../app.py", default_timeout=120)
    at.run()
    at.switch_page("pages/saliency.py").run()
    # the default network is TinyVGG, so "your model" is the shipped checkpoint trained for it
    assert at.selectbox(key="saliency.model").value == "Your model"
    assert not at.exception and not any("has not been trained" in i.value for i in at.info)
    at.selectbox(key="saliency.model").select("TinyVGG on shapes").run()
    assert not at.exception and not any("has not been trained" in i.value for i in at.info)
