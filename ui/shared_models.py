"""Models built once per server and shared read-only by every session: shipped and torchvision.

Pages must never train them, call `.train()`, `load_state_dict` or `.to()` on them, and must
hold `bundle.lock` while hooks run. Both `ui.state` and `ui.model_picker` import from here.
"""

from __future__ import annotations

import streamlit as st

from models.bundle import ModelBundle
from models.training.checkpoint import ROOT, SHIPPED, load_shipped
from models.zoo import build_zoo_model

_SHARED_TOKENS: set[str] = set()  # the tokens of the bundles below: results of them can be shared


def is_shared_model(bundle: ModelBundle) -> bool:
    """Whether `bundle` is one of the read-only models every session uses (not a session's own)."""
    return bundle.token in _SHARED_TOKENS


@st.cache_resource(show_spinner="Loading the trained model…")
def shipped_model(name: str) -> ModelBundle:
    """A shipped checkpoint in eval mode, shared read-only by every session."""
    bundle = load_shipped(name)
    bundle.model.eval()
    _SHARED_TOKENS.add(bundle.token)
    return bundle


@st.cache_resource(show_spinner="Building the torchvision model…")
def zoo_model(name: str, pretrained: bool) -> ModelBundle:
    """A torchvision network, shared read-only by every session."""
    bundle = build_zoo_model(name, pretrained)
    _SHARED_TOKENS.add(bundle.token)
    return bundle


def available_shipped() -> list[str]:
    """The shipped checkpoints whose file is present."""
    return [name for name, path in SHIPPED.items() if (ROOT / path).is_file()]
