"""The frame around every page: page config, our sidebar navigation, the image picker, and the
safety net that turns an unexpected error into a short apology (the traceback goes to the log).
"""

from __future__ import annotations

import logging
import os
import uuid

import streamlit as st
from streamlit.runtime.scriptrunner_utils.script_run_context import get_script_run_ctx

from models.errors import CNNLabError
from models.settings import positive_setting
from ui import menu, presenter, responsive, server, state, workspace_panel
from ui.image_picker import image_picker
from ui.links import apply_link


@st.cache_resource
def _configure_process() -> bool:
    """Process-wide settings, once per server (torch's thread count is global), and the
    server adjustments of `ui.server` (static files compressed once, no watchers on reconnect)."""
    import torch

    threads = int(positive_setting("CNNLAB_TORCH_THREADS", 0))
    if threads > 0:
        torch.set_num_threads(threads)
    server.install()
    return True


_LOG = logging.getLogger("cnnlab")
DEBUG_ENV = "CNNLAB_DEBUG"  # "1": show the full exception under the apology (the tests set it)


def _on_script_error(err: Exception) -> bool:
    """Streamlit's hook for an exception that escaped a page or a fragment.

    A `CNNLabError` is a refusal written for the user: its message is shown as it is. Anything
    else is a bug: the page shows a short apology with a reference that also appears in the
    server log beside the traceback (Streamlit has already logged the traceback itself).
    Returns True to keep Streamlit from drawing the exception.
    """
    if isinstance(err, CNNLabError):
        st.error(str(err))
        return True
    ref = uuid.uuid4().hex[:8]
    _LOG.error("unexpected error, reference %s", ref, exc_info=err)
    st.error(
        "Sorry, something went wrong on this page and it could not finish. Your network, model "
        "and image are kept: change a setting or open the page again. If it happens again, "
        f"tell whoever runs this server the reference **{ref}**."
    )
    return os.environ.get(DEBUG_ENV, "").strip() != "1"


def install_safety_net() -> None:
    """Route every uncaught exception of this session's runs through `_on_script_error`."""
    ctx = get_script_run_ctx()
    if ctx is not None:
        ctx.on_script_error = _on_script_error


def frame(title: str, intro: str | None = None) -> None:
    """Start a page: config, sidebar, session defaults, the title and a short introduction."""
    install_safety_net()
    st.set_page_config(page_title=f"{title} · CNN Lab", page_icon="🧠", layout="wide")
    _configure_process()
    state.init()
    apply_link()  # a link's page settings, before any widget is made (ui/links.py)
    with st.sidebar:
        st.markdown("### CNN Lab")
        presenter.toggle()
        responsive.apply()  # phones and tablets: style sheet, window width (ui/responsive.py)
        menu.sidebar_menu()  # our own menu, one element (ui/menu.py; DESIGN.md: no st.navigation)
        st.divider()
        image_picker()
        workspace_panel.sidebar()
    st.title(title)
    if state.LINK_ERROR in st.session_state:
        st.error(f"The shared link could not be opened: {st.session_state.pop(state.LINK_ERROR)}")
    workspace_panel.show_notice()
    if intro:
        st.markdown(intro)
