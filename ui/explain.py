"""Widgets shared by the Explain pages: a method's settings as widgets."""

from __future__ import annotations

from typing import Any

import streamlit as st

from models.attribution import Method, conv_layers
from models.bundle import ModelBundle


def _widget(param: Any, key: str, bundle: ModelBundle) -> Any:
    if param.kind == "layer":
        layers = conv_layers(bundle.model)
        if st.session_state.get(key) not in layers:
            st.session_state[key] = layers[-1]
        return st.selectbox(param.label, layers, key=key)
    if param.kind == "choice":
        return st.selectbox(param.label, param.choices, key=key)
    if param.kind == "int":
        return st.number_input(param.label, int(param.low), int(param.high), int(param.default),
                               int(param.step), key=key)  # fmt: skip
    return st.number_input(param.label, float(param.low), float(param.high),
                           float(param.default), float(param.step), key=key)  # fmt: skip


def method_settings(method: Method, bundle: ModelBundle, page: str) -> dict[str, Any]:
    """One widget per setting of the method, keyed `<page>.<method>.<setting>`."""
    return {p.key: _widget(p, f"{page}.{method.name}.{p.key}", bundle) for p in method.params}
