"""Controls described as data: `Param.check`, and every registered setting through the factory."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from models.data.augment import AUGMENTATIONS
from models.explain.attribution import ATTRIBUTION_METHODS, LAYER
from models.params import Param, ParamError

ALL_PARAMS = [(f"augment:{a}", p) for a, aug in AUGMENTATIONS.items() for p in aug.params] + [
    (f"attribution:{m}", p)
    for m, method in ATTRIBUTION_METHODS.items()
    for p in method.params
    if p is not LAYER
]


@pytest.mark.parametrize(
    ("owner", "param"), ALL_PARAMS, ids=[f"{o}.{p.name}" for o, p in ALL_PARAMS]
)
def test_every_registered_default_passes_its_own_check(owner, param):
    assert param.check(param.default) == param.default


def test_a_number_out_of_range_is_refused_with_the_label():
    steps = Param("steps", "Integration steps", 32, 2, 200, 1)
    assert steps.check(7.0) == 7 and isinstance(steps.check(7.0), int)
    with pytest.raises(ParamError, match="Integration steps must be between 2 and 200"):
        steps.check(500)
    with pytest.raises(ParamError, match="whole number"):
        steps.check(2.5)
    with pytest.raises(ParamError, match="not a number"):
        steps.check("many")


def test_a_choice_outside_the_options_is_refused():
    fill = Param("mode", "Padding fill", "edge", options=("constant", "edge"))
    assert fill.check("constant") == "constant"
    with pytest.raises(ParamError, match="Padding fill"):
        fill.check("wrap")


def _render_all() -> None:
    import streamlit as st

    from models.data.augment import AUGMENTATIONS
    from models.explain.attribution import ATTRIBUTION_METHODS, LAYER
    from ui.params import param_widgets

    values = {}
    for name, aug in AUGMENTATIONS.items():
        values[f"augmentation.{name}"] = param_widgets(aug.params, f"augmentation.{name}")
    for name, method in ATTRIBUTION_METHODS.items():
        params = [p for p in method.params if p is not LAYER]
        values[f"saliency.{name}"] = param_widgets(params, f"saliency.{name}")
    st.session_state["_params.values"] = values


def test_every_registered_setting_renders_through_the_factory_at_its_default():
    at = AppTest.from_function(_render_all, default_timeout=60).run()
    assert not at.exception
    values = at.session_state["_params.values"]
    for name, aug in AUGMENTATIONS.items():
        assert values[f"augmentation.{name}"] == {p.name: p.default for p in aug.params}
    for name, method in ATTRIBUTION_METHODS.items():
        expected = {p.name: p.default for p in method.params if p is not LAYER}
        assert values[f"saliency.{name}"] == expected
    keys = {w.key for w in (*at.slider, *at.number_input, *at.selectbox)}
    assert "saliency.Integrated gradients.steps" in keys and "augmentation.Rotation.degrees" in keys
