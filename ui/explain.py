"""Widgets shared by the Explain pages: the model picker and a method's settings as widgets."""

from __future__ import annotations

from typing import Any

import streamlit as st

from models.attribution import Method, conv_layers
from models.bundle import ModelBundle
from models.checkpoint import CHECKPOINTS, SHIPPED, CheckpointError, load_shipped
from ui import state

SESSION = "Session model"


@st.cache_resource(show_spinner="Loading the trained model…")
def shipped_model(name: str) -> ModelBundle:
    """A shipped checkpoint, shared read-only by every session (never trained or changed)."""
    return load_shipped(name)


def _available() -> list[str]:
    return [n for n, path in SHIPPED.items() if (CHECKPOINTS.parent / path).is_file()]


def pick_model(page: str, prefer: str | None = None) -> ModelBundle:
    """A model picker: the session's model or a shipped checkpoint; warns when untrained."""
    session = state.current_model()
    shipped = _available()
    options = [SESSION, *SHIPPED]
    start = prefer if prefer in shipped else (shipped[0] if shipped else SESSION)
    key = f"{page}.model"
    if key not in st.session_state:
        st.session_state[key] = SESSION if session.trained else start
    choice = st.selectbox("Model", options, key=key,
                          help="Your session's network, or a model trained for you on "
                               "built-in data.")  # fmt: skip
    bundle = session
    if choice != SESSION:
        try:
            bundle = shipped_model(choice)
        except CheckpointError as err:
            st.error(f"{choice} could not be loaded: {err} Using the session model instead.")
    if not bundle.trained:
        st.info(f"**{bundle.name}** has not been trained: its weights are random, so what it "
                "'looks at' means little. Train it on the Train page or pick a trained model "
                "above.")  # fmt: skip
    return bundle


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
