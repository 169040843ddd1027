"""The frame around every page: page config, our sidebar navigation and the image picker."""

from __future__ import annotations

import itertools

import streamlit as st

from ui import state
from ui.image_picker import image_picker
from ui.nav import available_pages


@st.cache_resource
def _configure_process() -> bool:
    """Process-wide settings, once per server (torch's thread count is global)."""
    import os

    import torch

    threads = int(os.environ.get("CNNLAB_TORCH_THREADS", "0"))
    if threads > 0:
        torch.set_num_threads(threads)
    return True


def sidebar_navigation() -> None:
    """Our own menu, in sections, drawn with st.page_link (see DESIGN.md: no st.navigation)."""
    for section, pages in itertools.groupby(available_pages(), key=lambda p: p.section):
        st.caption(section.upper())
        for page in pages:
            st.page_link(page.path, label=page.label, icon=page.icon)


def frame(title: str, intro: str | None = None) -> None:
    """Start a page: config, sidebar, session defaults, the title and a short introduction."""
    st.set_page_config(page_title=f"{title} · CNN Lab", page_icon="🧠", layout="wide")
    _configure_process()
    state.init()
    with st.sidebar:
        st.markdown("### CNN Lab")
        sidebar_navigation()
        st.divider()
        image_picker()
    st.title(title)
    if "_link_error" in st.session_state:
        st.error(f"The shared link could not be opened: {st.session_state.pop('_link_error')}")
    if intro:
        st.markdown(intro)
