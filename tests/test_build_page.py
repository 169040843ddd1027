"""The Build page driven through AppTest: presets, edits, an invalid edit, JSON out and back in."""

import importlib

import pytest
import torch
import torch.nn.functional as F
from streamlit.testing.v1 import AppTest

from models.network import formulas as fm
from models.network.geometry import analyze
from models.network.presets import PRESETS
from models.network.spec import ConvSpec, LinearSpec, NetworkSpec, PoolSpec
from ui.state import decode_spec, encode_spec


@pytest.fixture
def build_page(open_page) -> AppTest:
    return open_page("build")


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
        for p in importlib.import_module("models.network.build")
        .build_model(PRESETS[name].spec)
        .parameters()
    )
    assert _metric(build_page, "Parameters") == f"{total:,}"
    assert build_page.session_state["network"] == PRESETS[name].spec


def test_editing_a_layer_changes_the_table_and_the_link(build_page):
    version = build_page.session_state["_build.version"]
    build_page.number_input(key=f"build.{version}.0.out_channels").set_value(20).run()
    assert not build_page.exception
    spec = build_page.session_state["network"]
    assert spec.layers[0].out_channels == 20
    assert _metric(build_page, "Parameters") != "19,920"
    assert decode_spec(build_page.query_params["net"]) == spec


def test_an_invalid_edit_shows_the_reason_and_keeps_the_last_valid_network(build_page):
    version = build_page.session_state["_build.version"]
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


def test_an_added_layer_that_would_break_the_network_is_refused_with_the_reason(open_page):
    lenet = PRESETS["LeNet-5"].spec
    flatten = [layer.type for layer in lenet.layers].index("flatten")
    at = open_page("build", state={"network": lenet})
    _select(at, flatten)
    at.selectbox(key="build.new_type").select("conv").run()
    at.button(key="build.add").click().run()
    assert not at.exception
    assert any(f"Layer {flatten + 2} (conv)" in e.value for e in at.error)
    assert at.session_state["network"] == lenet


def test_the_download_is_the_network_as_json(build_page):
    button = build_page.main.get("download_button")
    assert button, "no download buttons found"
    spec = build_page.session_state["network"]
    assert NetworkSpec.from_json(spec.to_json()) == spec


def test_a_shared_link_opens_that_network(open_page):
    spec = PRESETS["LeNet-5"].spec
    at = open_page(query_params={"net": encode_spec(spec)})
    assert at.session_state["network"] == spec


def test_a_damaged_link_gives_a_message_and_the_default_network(open_page):
    at = open_page(query_params={"net": "not-a-network"})
    assert any("link" in e.value for e in at.error)
    assert at.session_state["network"] == PRESETS["TinyVGG (CNN Explainer)"].spec


def _open_with(open_page, layers: list[dict], input_shape: list[int]) -> AppTest:
    spec = NetworkSpec.from_dict({"input": input_shape, "layers": layers})
    return open_page("build", state={"network": spec})


def _latex(at: AppTest) -> list[str]:
    return [x.value.strip("$\n") for x in at.latex]


def _select(at: AppTest, index: int) -> None:
    at.selectbox(key=f"build.{at.session_state['_build.version']}.selected").set_value(index).run()
    assert not at.exception


def test_a_ceil_mode_pool_shows_its_dropped_window_and_never_says_rounds_down(open_page):
    pool = {"type": "maxpool", "kernel_size": 2, "stride": 2, "padding": 1, "ceil_mode": True}
    at = _open_with(open_page, [pool], [1, 5, 5])
    size = fm.pool_output_size(5, 2, 2, 1, True)
    assert size.display in _latex(at) and size.latex.endswith("= 3")
    assert at.session_state["network"].output_shape == (1, 3, 3)
    notes = [i.value for i in at.info]
    assert not any("rounds down" in n for n in notes)
    assert any("rounds 5/2 up, then drops that last window" in n for n in notes)


def test_a_floor_pool_still_says_it_rounds_down_and_names_the_lost_cells(open_page):
    at = _open_with(open_page, [{"type": "maxpool", "kernel_size": 2}], [1, 5, 5])
    notes = " ".join(i.value for i in at.info)
    assert "rounds 3/2 down, so the last 1 cell(s) of this side are never read" in notes


def test_same_padding_with_an_even_kernel_shows_1_left_2_right_and_keeps_64(open_page):
    conv = {"type": "conv", "out_channels": 2, "kernel_size": 4, "padding": "same"}
    at = _open_with(open_page, [conv], [1, 64, 64])
    latex = _latex(at)
    left, right = fm.same_padding(4)
    assert left.display in latex and right.display in latex
    assert left.latex.endswith("= 1") and right.latex.endswith("= 2")
    size = fm.conv_output_size(64, 4, 1, (1, 2))
    assert size.display in latex and size.display.endswith(r"= 64 \end{aligned}")
    assert "64 + 1 + 2" in size.latex and at.session_state["network"].output_shape[1] == 64


def test_each_kind_of_tinyvgg_layer_shows_formulas_from_models_formulas(build_page):
    at = build_page
    infos = analyze(at.session_state["network"])
    first_of_each_kind = {info.layer.type: info for info in reversed(infos)}
    for kind in ("conv", "maxpool", "linear"):  # conv, the first layer, is selected already
        info = first_of_each_kind[kind]
        if info.index > 1:
            _select(at, info.index - 1)
        latex, layer = _latex(at), info.layer
        s_in, s_out = info.input_shape, info.output_shape
        expected = []
        if isinstance(layer, ConvSpec):
            expected.append(
                fm.conv_output_size(
                    s_in[2], layer.kernel_size, layer.stride, layer.pad, layer.dilation
                )
            )
            expected.append(fm.conv_params(layer.kernel_size, s_in[0], s_out[0]))
            expected.append(fm.conv_macs(s_out[1], s_out[2], s_out[0], layer.kernel_size, s_in[0]))
            assert expected[1].value == info.params and expected[2].value == info.macs
        if isinstance(layer, PoolSpec):
            expected.append(
                fm.pool_output_size(
                    s_in[2], layer.kernel_size, layer.step, layer.padding, layer.ceil_mode
                )
            )
        if isinstance(layer, LinearSpec):
            expected.append(fm.linear_params(s_in[0], s_out[0]))
            assert expected[-1].value == info.params
        for formula in expected:
            assert formula.display in latex, (info.name, formula.display)
        if len(s_out) == 3 and expected:
            assert expected[0].value == s_out[2]
        if info.rf.size is not None and fm.layer_windows(layer):
            assert any(x.startswith("r_l") and x.endswith(f"= {info.rf.jump}") for x in latex)
            assert any(f"= {info.rf.size}," in x for x in latex), info.name


def test_the_intro_says_activations_make_the_stack_non_linear(build_page):
    intro = build_page.markdown[0].value
    assert "keep what is useful" not in intro
    assert "one linear convolution" in intro


def test_two_stacked_convolutions_without_an_activation_are_one_convolution():
    """What the intro claims, checked: conv∘conv is a single conv with the composed kernel."""
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(1, 1, 3, 3, generator=g), torch.randn(1, 1, 3, 3, generator=g)
    x = torch.randn(1, 1, 12, 12, generator=g)
    two = F.conv2d(F.conv2d(x, a), b)
    composed = F.conv_transpose2d(b, a)  # (1, 1, 5, 5): the 5×5 kernel of the pair
    torch.testing.assert_close(two, F.conv2d(x, composed), rtol=1e-4, atol=1e-4)
    assert not torch.allclose(F.conv2d(F.relu(F.conv2d(x, a)), b), two)


def test_a_selected_layer_opens_on_the_neuron_view(open_page):
    from ui.panels.build import SELECTED

    at = open_page("build", state={SELECTED: 2})  # conv2 of TinyVGG
    at.button(key="build.neuron").click().run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Neuron view"
    assert at.selectbox(key="neuron.layer").value == "conv2"
    assert at.session_state["neuron.channel"] == 0


def test_one_network_is_analysed_drawn_and_tabled_once_for_every_session(monkeypatch):
    from ui.panels import build as panels
    from viz.network import layer_rows

    calls = []
    real = panels.analyze
    monkeypatch.setattr(panels, "analyze", lambda spec: calls.append(spec) or real(spec))
    spec = NetworkSpec((1, 23, 29), (ConvSpec(out_channels=3, kernel_size=5),))
    infos = panels.analyzed(spec)
    assert panels.analyzed(NetworkSpec.from_json(spec.to_json())) is infos  # another session
    assert len(calls) == 1
    table = panels.layer_table(spec, infos)
    assert table.to_pylist() == layer_rows(infos)  # the same rows, as an immutable table
    assert panels.layer_table(spec, infos) is table
    figure = panels.network_picture(spec, infos, 0)
    assert panels.network_picture(spec, infos, 0) is figure
    assert panels.network_picture(spec, infos, None) is not figure  # the pick is in the key
