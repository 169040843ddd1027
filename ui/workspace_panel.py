"""The sidebar's "Your work" panel: what is saved, download it, open it elsewhere, start fresh.

Every page draws it through the frame, after the image picker; it also keeps the browser's
workspace cookie written (ui/workspace.py) and says any message saving left for the student.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from models.errors import CNNLabError
from ui import workspace

HOME = "app.py"  # after a switch the old page's widgets would write their old values back
_OPENED = "_ws.opened"  # the file_id of the workspace file last opened, so a rerun does not redo it


def sidebar() -> None:
    """Draw the panel (inside `with st.sidebar:`) and write the workspace cookie."""
    panel = st.popover("💾 Your work", width="stretch", help=HELP, key=PANEL, on_change="rerun")
    if panel.open:  # drawn only while open: a closed panel costs every run of every page nothing
        _contents(panel)
    workspace.write_cookie()


PANEL = "_ws.panel"  # the popover's open state: tests open it by setting this to True


def _contents(panel: Any) -> None:
    with panel:
        st.markdown(
            "Your network, image, trained model, runs, augmentation pipeline and lesson "
            "progress are saved on this server as you work, and come back when you reload, "
            "reopen the tab or the server restarts. Links you share never include them."
        )
        used = workspace.usage_text()
        if used:
            st.caption(f"Saved: {used}.")
        _download()
        _open()
        _start_fresh()


HELP = "Your work is kept in this browser's workspace on the server; move it with a file."


def _download() -> None:
    if not workspace.has_saved():
        st.caption("Nothing is saved yet: train a run or change the network first.")
        return
    st.download_button(
        "Download my workspace",
        workspace.export,  # zipped when pressed, not at every rerun
        "cnn_lab_workspace.zip",
        mime="application/zip",
        key="_ws.download",
        help="One file with everything saved here; open it on another computer to go on.",
    )


def _open() -> None:
    upload = st.file_uploader("Open a workspace file", type=["zip"], key="_ws.upload")
    if upload is None or st.session_state.get(_OPENED) == upload.file_id:
        return
    try:
        workspace.open_file(upload.getvalue())
    except CNNLabError as err:
        st.error(f"{upload.name}: {err}")
        return
    finally:
        st.session_state[_OPENED] = upload.file_id
    workspace.notice_info(f"Opened {upload.name}: its work is here now, saved as your workspace.")
    st.switch_page(HOME)


def _start_fresh() -> None:
    sure = st.checkbox(
        "I have downloaded what I want to keep", key="_ws.sure", help="Start fresh forgets it here."
    )
    if st.button("Start fresh", key="_ws.fresh", disabled=not sure):
        workspace.switch_to(None)
        workspace.notice_info("A fresh, empty workspace: the defaults are back.")
        st.switch_page(HOME)


def show_notice() -> None:
    """A message saving or restoring left for the student, shown once at the top of the page."""
    text, kind = workspace.pop_notice()
    if text:
        (st.info if kind == "info" else st.warning)(text)
