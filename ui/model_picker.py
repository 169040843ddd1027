"""One model picker for every page that looks inside a model.

`sources` chooses what the menu offers: `"yours"` (the session's model: built on Build a CNN,
trained on Train, or uploaded there, which makes it the session's model), `"shipped"` (small
models trained for you on built-in data) and `"zoo"` (well-known torchvision networks). The
picker, and only the picker, says when the chosen model is not trained.
"""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from models.bundle import ModelBundle
from models.training.checkpoint import CheckpointError
from models.zoo import ZOO, ZooError
from ui import state
from ui.shared_models import available_shipped, shipped_model, zoo_model

YOURS = "Your model"
SOURCES = ("yours", "shipped", "zoo")
HELP = {
    "yours": "your session's model (built on Build a CNN, trained or uploaded on Train)",
    "shipped": "a small model trained for you on built-in data",
    "zoo": "a well-known torchvision network",
}
UNTRAINED = (
    "**{name}** has not been trained: its weights are random, so what it shows means little. "
    "Train it on the Train page, or pick a trained model."
)

__all__ = ["SOURCES", "YOURS", "pick_model"]


def pick_model(
    page: str,
    sources: Sequence[str] = ("yours", "shipped"),
    prefer: str | None = None,
    untrained: str = "",
) -> ModelBundle:
    """A selectbox `<page>.model` over the `sources`; `untrained` adds a page's own sentence."""
    unknown = set(sources) - set(SOURCES)
    if unknown:
        raise ValueError(f"unknown model sources {sorted(unknown)}; choose from {SOURCES}")
    shipped = available_shipped() if "shipped" in sources else []
    options = [YOURS] * ("yours" in sources) + shipped + list(ZOO) * ("zoo" in sources)
    key = f"{page}.model"
    if st.session_state.get(key) not in options:
        st.session_state[key] = prefer if prefer in options else options[0]
    left, right = st.columns([2, 1])
    about = "; ".join(HELP[s] for s in sources)
    choice = left.selectbox("Model", options, key=key, help=about[0].upper() + about[1:] + ".")
    bundle = _load(choice, shipped, page, left, right)
    if not bundle.trained:
        st.info(" ".join(filter(None, [UNTRAINED.format(name=bundle.name), untrained])))
    return bundle


def _load(choice: str, shipped: list[str], page: str, left, right) -> ModelBundle:
    """The bundle for a menu choice; a shipped file that fails to load falls back to yours."""
    if choice in ZOO:
        left.caption(ZOO[choice].about)
        pretrained = right.checkbox("ImageNet weights (downloaded once)", key=f"{page}.pretrained")
        return _zoo(choice, pretrained)
    if choice in shipped:
        try:
            return shipped_model(choice)
        except CheckpointError as err:
            st.error(f"{choice} could not be loaded: {err}. Showing your model instead.")
    return state.current_model()


def _zoo(name: str, pretrained: bool) -> ModelBundle:
    if pretrained:
        try:
            return zoo_model(name, True)
        except ZooError as err:
            st.warning(f"{err} Using the untrained network instead.")
    return zoo_model(name, False)
