"""The session's run history: every run it trains is kept (bounded), to compare and download.

    record(handle, label, group)     # when a run ends (the pages' live panels call it)
    history()                        # the session's `RunHistory`
    previous(exclude_id)             # the Train page's run before this one, drawn faintly

The history lives in `st.session_state`, so it belongs to the tab and goes with it; "Save all
runs" on Compare runs writes it to one file, which "Open runs" reads back.
"""

from __future__ import annotations

import streamlit as st

from models.training.executor import JobHandle
from models.training.history import HistoryError, RunHistory, RunRecord
from models.training.jobs import ENDED

HISTORY = "_runs.history"


def history() -> RunHistory:
    held = st.session_state.get(HISTORY)
    if held is None:
        held = st.session_state[HISTORY] = RunHistory()
    return held


def replace_history(new: RunHistory) -> None:
    st.session_state[HISTORY] = new


def record(handle: JobHandle, label: str = "", group: str = "") -> RunRecord | None:
    """Keep an ended run (once); None while it runs or when it cannot be kept."""
    runs = history()
    if handle.id in runs:
        return runs.get(handle.id)
    if handle.status not in ENDED:
        return None
    try:
        kept = RunRecord.from_handle(handle, label, group)
        runs.add(kept)
    except HistoryError:  # e.g. the pins fill the history: the run stays on its page
        return None
    return kept


def previous(exclude_id: str) -> RunRecord | None:
    """The latest Train-page run (no experiment group) other than `exclude_id`."""
    runs = [r for r in history().runs() if not r.group and r.id != exclude_id]
    return runs[-1] if runs else None
