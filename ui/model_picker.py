"""One model picker for every page: your model, a shipped checkpoint, or a torchvision network.

Shipped checkpoints and torchvision networks are built once per server with `st.cache_resource`
and shared read-only by every session: pages must never train them, call `.train()`,
`load_state_dict` or `.to()` on them, and must hold `bundle.lock` while hooks run.
"""

from __future__ import annotations

import streamlit as st

from models.bundle import ModelBundle
from models.training.checkpoint import ROOT, SHIPPED, CheckpointError, load_shipped
from models.zoo import ZOO, ZooError, build_zoo_model

YOURS = "Your model"


@st.cache_resource(show_spinner="Loading the trained model…")
def shipped_model(name: str) -> ModelBundle:
    """A shipped checkpoint in eval mode, shared read-only by every session."""
    bundle = load_shipped(name)
    bundle.model.eval()
    return bundle


@st.cache_resource(show_spinner="Building the torchvision model…")
def zoo_model(name: str, pretrained: bool) -> ModelBundle:
    """A torchvision network, shared read-only by every session."""
    return build_zoo_model(name, pretrained)


def available_shipped() -> list[str]:
    """The shipped checkpoints whose file is present."""
    return [name for name, path in SHIPPED.items() if (ROOT / path).is_file()]


def pick_model(page: str, zoo: bool = False, prefer: str | None = None) -> ModelBundle:
    """A selectbox `<page>.model` over your model, the shipped ones and (optionally) the zoo."""
    from ui import state

    shipped = available_shipped()
    options = [YOURS, *shipped, *(ZOO if zoo else [])]
    key = f"{page}.model"
    if st.session_state.get(key) not in options:
        st.session_state[key] = prefer if prefer in options else YOURS
    left, right = st.columns([2, 1])
    choice = left.selectbox(
        "Model",
        options,
        key=key,
        help="Your session's model (built on Build a CNN, trained on Train), a small model "
        "trained for you on built-in data, or a well-known torchvision network.",
    )
    bundle = state.current_model()
    try:
        if choice in shipped:
            bundle = shipped_model(choice)
        elif choice in ZOO:
            left.caption(ZOO[choice].about)
            pretrained = right.checkbox(
                "ImageNet weights (downloaded once)", key=f"{page}.pretrained"
            )
            bundle = _zoo(choice, pretrained)
    except CheckpointError as err:
        st.error(f"{choice} could not be loaded: {err}. Showing your model instead.")
    if not bundle.trained:
        st.info(
            f"**{bundle.name}** has not been trained: its weights are random, so what it "
            "shows means little. Train it on the Train page, or pick a trained model."
        )
    return bundle


def _zoo(name: str, pretrained: bool) -> ModelBundle:
    if pretrained:
        try:
            return zoo_model(name, True)
        except ZooError as err:
            st.warning(f"{err} Using the untrained network instead.")
    return zoo_model(name, False)
