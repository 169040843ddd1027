"""Widgets shared by the Explain pages: the class to explain."""

from __future__ import annotations

import numpy as np
import streamlit as st


def target_picker(
    page: str, label: str, class_names: tuple[str, ...] | list[str], probs: np.ndarray
) -> int:
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
    return st.selectbox(
        label,
        order,
        key=key,
        format_func=lambda i: f"{class_names[i]} ({probs[i]:.1%})",
        help="The network's answer comes first; a new image or model starts from its new answer.",
    )
