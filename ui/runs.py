"""The session's run history: every run it trains is kept (bounded), to compare and download.

    record(handle, label, group)     # when a run ends (the pages' live panels call it)
    history()                        # the workspace's `RunHistory`
    rename(id, name), pin(id, on), delete(id)
    previous(exclude_id)             # the Train page's run before this one, drawn faintly

The history lives in `st.session_state` and is saved run by run with the student's workspace
(ui/workspace.py), so it outlives a reload or a server restart, and every tab of the workspace
sees the same runs: `history()` reads them again when another tab changed them. "Save all runs"
on Compare runs writes it to one file, which "Open runs" reads back.
"""

from __future__ import annotations

import streamlit as st

from models.training.executor import JobHandle
from models.training.history import HistoryError, RunHistory, RunRecord
from models.training.jobs import ENDED
from ui import workspace

HISTORY = "_runs.history"


def history() -> RunHistory:
    """The workspace's runs, read again from the store when another tab changed them.

    A run this tab holds that the store never had (one the store refused when the workspace
    was full, or one made before it could be reached) stays, and is saved again; a run another
    tab deleted goes.
    """
    held = st.session_state.get(HISTORY)
    read = workspace.saved_runs()
    if read is None:
        if held is None:
            held = st.session_state[HISTORY] = RunHistory()
        return held
    saved, gone = read
    ids = {r.id for r in saved}
    only_here = [r for r in (held.runs() if held is not None else []) if r.id not in ids | gone]
    held = RunHistory(held.limit if held is not None else RunHistory().limit)
    for record in sorted([*saved, *only_here], key=lambda r: r.created):
        try:
            held.add(record)
        except HistoryError:  # more pins than this history allows: the run stays saved
            continue
    st.session_state[HISTORY] = held
    for record in only_here:
        workspace.save_run(record)
    return held


def replace_history(new: RunHistory) -> None:
    """Opened runs take the place of the workspace's runs."""
    for old in history().runs():
        workspace.delete_run(old.id)
    for record in new.runs():
        workspace.save_run(record)
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
        dropped = runs.add(kept)
    except HistoryError:  # e.g. the pins fill the history: the run stays on its page
        return None
    for run_id in dropped:
        workspace.delete_run(run_id)
    workspace.save_run(kept)
    return kept


def rename(run_id: str, name: str) -> None:
    """Rename a run (HistoryError for a bad name), in every tab."""
    runs = history()
    runs.rename(run_id, name)
    workspace.save_run(runs.get(run_id))


def pin(run_id: str, on: bool = True) -> None:
    """Pin or unpin a run (HistoryError past the pin limit), in every tab."""
    runs = history()
    runs.pin(run_id, on)
    workspace.save_run(runs.get(run_id))


def delete(run_id: str) -> None:
    """Delete a run from the history and the workspace."""
    history().delete(run_id)
    workspace.delete_run(run_id)


def previous(exclude_id: str) -> RunRecord | None:
    """The latest Train-page run (no experiment group) other than `exclude_id`."""
    runs = [r for r in history().runs() if not r.group and r.id != exclude_id]
    return runs[-1] if runs else None
