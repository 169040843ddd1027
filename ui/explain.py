"""Widgets shared by the Explain pages: the class to explain, and a method's settings."""

from __future__ import annotations

from typing import Any

import numpy as np
import streamlit as st

from models.bundle import ModelBundle
from models.explain.attribution import Method, conv_layers


def target_picker(page: str, label: str, class_names: tuple[str, ...] | list[str],
                  probs: np.ndarray) -> int:  # fmt: skip
    """A selectbox `<page>.target` over the classes, the network's answer first.

    Whenever the prediction changes (a new image or model), the choice goes back to the new
    answer, so the label never shows a class or a probability from the previous image.
    """
    ss = st.session_state
    key, seen = f"{page}.target", f"_{page}.target_for"
    order = [int(i) for i in np.argsort(-probs, kind="stable")]
    prediction = np.round(np.asarray(probs, dtype=np.float64), 6).tobytes()
    if ss.get(seen) != prediction or ss.get(key) not in order:
        ss[seen] = prediction
        ss[key] = order[0]
    return st.selectbox(label, order, key=key,
                        format_func=lambda i: f"{class_names[i]} ({probs[i]:.1%})",
                        help="The network's answer comes first; a new image or model starts "
                        "from its new answer.")  # fmt: skip


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
