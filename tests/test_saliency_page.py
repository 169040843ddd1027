"""The Saliency page through AppTest, from app.py: an untrained network, then a shipped one."""

import json

import pytest
from streamlit.testing.v1 import AppTest

from models.network.presets import PRESETS
from ui.state import NETWORK


@pytest.fixture
def saliency_page(open_page) -> AppTest:
    # "Your model" with a network no checkpoint was trained for
    state = {"saliency.model": "Your model", NETWORK: PRESETS["Dilated CNN"].spec}
    return open_page("saliency", state=state)


def _chart(at: AppTest, name: str) -> dict:
    chart = next(c for c in at.get("plotly_chart") if c.proto.id and name in c.proto.id)
    return json.loads(chart.proto.spec)


def test_the_page_opens_with_maps_of_the_default_methods(saliency_page):
    assert saliency_page.title[0].value == "Saliency"
    assert any("has not been trained" in i.value for i in saliency_page.info)
    titles = [a["text"] for a in _chart(saliency_page, "saliency.figure")["layout"]["annotations"]]
    assert titles == ["Image", "Integrated gradients", "Grad-CAM"]


def test_a_shipped_checkpoint_can_be_explained_when_its_file_is_there(open_page):
    from models.training.checkpoint import ROOT, SHIPPED

    if not (ROOT / SHIPPED["TinyVGG on shapes"]).is_file():
        pytest.skip("checkpoints/ has no TinyVGG (python -m models.training.pretrain)")
    at = open_page("saliency")
    # the default network is TinyVGG, so "your model" is the shipped checkpoint trained for it
    assert at.selectbox(key="saliency.model").value == "Your model"
    assert not at.exception and not any("has not been trained" in i.value for i in at.info)
    at.selectbox(key="saliency.model").select("TinyVGG on shapes").run()
    assert not at.exception and not any("has not been trained" in i.value for i in at.info)


@pytest.fixture
def shipped_page(open_page) -> AppTest:
    from models.training.checkpoint import ROOT, SHIPPED

    if not (ROOT / SHIPPED["TinyVGG on shapes"]).is_file():
        pytest.skip("checkpoints/ has no TinyVGG (python -m models.training.pretrain)")
    return open_page("saliency")  # the default network: the shipped TinyVGG


def test_after_a_new_image_the_class_to_explain_is_the_new_answer(shipped_page):
    from models.data.samples import SAMPLE_IMAGES
    from models.explain import attribution as attr
    from models.training.checkpoint import load_shipped

    shipped_page.selectbox(key="saliency.target").select_index(3).run()  # not the answer
    shipped_page.selectbox(key="sidebar.sample").select("Shape: heart").run()
    assert not shipped_page.exception
    bundle = load_shipped("TinyVGG on shapes")
    image = SAMPLE_IMAGES["Shape: heart"]()
    probs = attr.predict(bundle, attr.prepare_pixels(image, bundle))[0]
    top = int(probs.argmax())
    box = shipped_page.selectbox(key="saliency.target")
    assert box.value == top and box.index == 0
    assert box.options[0] == f"{bundle.class_names[top]} ({probs[top]:.1%})"
    bars = _chart(shipped_page, "saliency.probs")["data"][0]
    assert bars["y"][-1] == bundle.class_names[top]  # the chart's top bar: the same class


def test_saliency_links_to_the_attention_page_instead_of_claiming_attention(saliency_page):
    links = [link.proto for link in saliency_page.get("page_link")]
    body = [p for p in links if p.page == "attention" and "not attention" in p.label]
    assert body, "the page should link to the Attention page in its body"
    deeper = " ".join(m.value for m in saliency_page.markdown)
    assert "47 (where the network looks)" not in deeper


def test_integrated_gradients_show_their_convergence_delta_beside_the_maps(saliency_page):
    captions = [c.value for c in saliency_page.caption if "completeness" in c.value]
    assert len(captions) == 1 and captions[0].startswith("**Integrated gradients**")
    assert "convergence delta" in captions[0]


def test_the_sanity_check_randomizes_every_layer_by_default(shipped_page):
    from models.explain.sanity import weight_layers
    from models.training.checkpoint import load_shipped

    n = len(weight_layers(load_shipped("TinyVGG on shapes").model))
    assert shipped_page.slider(key="saliency.top_k").value == n
    shipped_page.multiselect(key="saliency.methods").set_value(["Saliency"]).run()
    shipped_page.button(key="saliency.sanity").click().run()
    assert not shipped_page.exception
    verdicts = [
        m.value
        for m in (*shipped_page.info, *shipped_page.warning)
        if m.value.startswith("**Saliency**")
    ]
    assert len(verdicts) == 1 and f"every weight layer ({n} of {n}" in verdicts[0]
    rho = _chart(shipped_page, "saliency.rho")
    names = [trace["name"] for trace in rho["data"]]
    assert names == ["Saliency, |map|", "Saliency, signed"]
    assert len(rho["data"][0]["x"]) == n + 1


def test_maps_are_remembered_by_value_and_kept_while_settings_change(saliency_page, monkeypatch):
    from models.explain import attribution as attr

    calls = []
    real = attr.compute_attributions
    monkeypatch.setattr(attr, "compute_attributions", lambda *a: calls.append(1) or real(*a))
    saliency_page.radio(key="saliency.overlay").set_value("heatmap").run()
    assert calls == []  # a display setting: the maps stay
    saliency_page.multiselect(key="saliency.methods").set_value(["Saliency"]).run()
    assert calls == [] and any("press **Explain**" in c.value for c in saliency_page.caption)
    saliency_page.button(key="saliency.run").click().run()
    assert not saliency_page.exception and len(calls) == 1
    titles = [a["text"] for a in _chart(saliency_page, "saliency.figure")["layout"]["annotations"]]
    assert titles == ["Image", "Saliency"]
