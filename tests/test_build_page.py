"""The Build page driven through AppTest: presets, edits, an invalid edit, JSON out and back in."""

import pytest
from streamlit.testing.v1 import AppTest

from models.presets import PRESETS
from models.spec import NetworkSpec
from ui.state import decode_spec, encode_spec


@pytest.fixture
def build_page() -> AppTest:
    at = AppTest.from_file("../app.py", default_timeout=60)
    at.run()
    assert not at.exception
    at.switch_page("pages/build.py").run()
    assert not at.exception
    return at


def _metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def test_the_build_page_opens_on_the_default_network(build_page):
    assert build_page.title[0].value == "Build a CNN"
    assert _metric(build_page, "Parameters") == "19,920"
    assert "net" in build_page.query_params


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_can_be_loaded(build_page, name):
    build_page.selectbox(key="build.preset").select(name).run()
    build_page.button(key="build.load").click().run()
    assert not build_page.exception
    total = sum(
        p.numel()
        for p in __import__("models.build").build.build_model(PRESETS[name].spec).parameters()
    )
    assert _metric(build_page, "Parameters") == f"{total:,}"
    assert build_page.session_state["network"] == PRESETS[name].spec


def test_editing_a_layer_changes_the_table_and_the_link(build_page):
    version = build_page.session_state["build.version"]
    build_page.number_input(key=f"build.{version}.0.out_channels").set_value(20).run()
    assert not build_page.exception
    spec = build_page.session_state["network"]
    assert spec.layers[0].out_channels == 20
    assert _metric(build_page, "Parameters") != "19,920"
    assert decode_spec(build_page.query_params["net"]) == spec


def test_an_invalid_edit_shows_the_reason_and_keeps_the_last_valid_network(build_page):
    version = build_page.session_state["build.version"]
    build_page.number_input(key=f"build.{version}.0.kernel_size").set_value(99).run()
    assert not build_page.exception
    assert any("Layer 1 (conv)" in e.value for e in build_page.error)
    assert build_page.session_state["network"] == PRESETS["TinyVGG (CNN Explainer)"].spec
    assert _metric(build_page, "Parameters") == "19,920"


def test_layers_can_be_added_moved_and_removed(build_page):
    n = len(build_page.session_state["network"].layers)
    build_page.selectbox(key="build.new_type").select("batchnorm").run()
    build_page.button(key="build.add").click().run()
    spec = build_page.session_state["network"]
    assert len(spec.layers) == n + 1 and spec.layers[1].type == "batchnorm"
    build_page.button(key="build.down").click().run()
    assert build_page.session_state["network"].layers[2].type == "batchnorm"
    build_page.button(key="build.remove").click().run()
    assert build_page.session_state["network"] == PRESETS["TinyVGG (CNN Explainer)"].spec
    assert not build_page.exception


def test_the_download_is_the_network_as_json(build_page):
    button = build_page.get("download_button")
    assert button, "no download buttons found"
    spec = build_page.session_state["network"]
    assert NetworkSpec.from_json(spec.to_json()) == spec


def test_a_shared_link_opens_that_network():
    spec = PRESETS["LeNet-5"].spec
    at = AppTest.from_file("../app.py", default_timeout=60)
    at.query_params["net"] = encode_spec(spec)
    at.run()
    assert not at.exception
    assert at.session_state["network"] == spec


def test_a_damaged_link_gives_a_message_and_the_default_network():
    at = AppTest.from_file("../app.py", default_timeout=60)
    at.query_params["net"] = "not-a-network"
    at.run()
    assert not at.exception
    assert any("link" in e.value for e in at.error)
    assert at.session_state["network"] == PRESETS["TinyVGG (CNN Explainer)"].spec
