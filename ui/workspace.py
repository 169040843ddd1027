"""A student's workspace: what they made outlives the browser's connection.

The browser keeps a random workspace id in a cookie (`COOKIE`), written by a tiny custom
component (Streamlit's components v2, which runs in the page itself) and read back by
`st.context.cookies` when a new session starts: after a reload, a reconnect, a closed and
reopened tab, or a server restart. The id is never put in a link, so a shared `?net=` link
carries a network and nothing of its sender's work.

What is kept, in the server's `WorkspaceStore` (`models/store/workspaces.py`: the app's
database for small values, a data folder for files written atomically):

    network        the current network's spec (JSON)
    image          the current image's name; image.png holds an uploaded one
    model          model.pt: the session's trained or uploaded model (a checkpoint)
    pipeline       the augmentation pipeline saved for training (JSON)
    lessons        the lesson, step and checked answers
    run/<id>       each run's settings, curves and scores; runs/<id> its model (maybe empty)

Saving is field by field and only when a value changed, so two tabs of one workspace never
overwrite each other's other fields. Runs are read again whenever the store's version moved
(another tab kept or deleted one), with one query per script run. A store that cannot be
opened (say, a PostgreSQL server that is down) turns saving off with one message; the app
itself keeps working.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import streamlit as st

from models.errors import CNNLabError
from models.store.workspaces import (
    RUNS_PREFIX,
    WORKSPACE_ID,
    QuotaError,
    WorkspaceStore,
    workspace_store,
)
from models.training.history import RunRecord, record_from_text, record_to_text

COOKIE = "cnnlab_workspace"
ID = "_ws.id"  # this session's workspace id
_SAVED = "_ws.saved"  # name -> the text last written or read, so an unchanged value is not written
_RUNS = "_ws.runs"  # run id -> (record text, model's update time, RunRecord) as last read
_VERSION = "_ws.version"  # the store's version when this session last read the runs
_USAGE = "_ws.usage"  # (anything saved?, how much) as last read, for the sidebar panel
_NOTICE = "_ws.notice"  # a message for the student (a quota reached, a part not restored)
_KEEP_ON_SWITCH = ("sidebar.", "present", "_present.", "_ws.upload", "_ws.opened", _NOTICE)
RUN_FIELD = "run/"  # + a run's id: its record as JSON text
_LOG = logging.getLogger("cnnlab.workspace")

_COOKIE_JS = """
export default function (component) {
  const info = component.data;
  if (!info || !info.name || !info.id) { return; }
  const secure = window.location.protocol === "https:" ? "; Secure" : "";
  document.cookie = info.name + "=" + info.id + "; Path=/; Max-Age=" + info.max_age +
    "; SameSite=Lax" + secure;
}
"""
_cookie_component = st.components.v2.component("cnnlab_workspace_cookie", js=_COOKIE_JS)


@dataclass
class Restored:
    """What a returning browser's workspace held; None where it held nothing (or it was damaged)."""

    fields: dict[str, str] = field(default_factory=dict)
    blobs: dict[str, bytes] = field(default_factory=dict)


def store() -> WorkspaceStore | None:
    """The server's workspace store, or None (once said to the student) when it cannot open."""
    try:
        return workspace_store()
    except CNNLabError as err:
        _LOG.error("workspaces are off: %s", err)
        if not st.session_state.get("_ws.off_said"):
            st.session_state["_ws.off_said"] = True
            notice(
                "Your work cannot be saved on this server right now, so it lasts only as long as "
                f"this tab ({err}). Download what you want to keep."
            )
        return None


def notice(text: str) -> None:
    """Keep a warning to show the student on the next page drawn."""
    st.session_state[_NOTICE] = (text, "warning")


def notice_info(text: str) -> None:
    """Keep a piece of news (not a problem) for the next page drawn."""
    st.session_state[_NOTICE] = (text, "info")


def pop_notice() -> tuple[str | None, str]:
    """The message kept for the student, and its kind ("warning" or "info"); once."""
    return st.session_state.pop(_NOTICE, (None, "warning"))


def current_id() -> str:
    """This session's workspace id (made by `begin`)."""
    return st.session_state[ID]


def begin() -> Restored | None:
    """Once per session: the workspace this browser comes back to, or a fresh one.

    The id is the browser's cookie (or one already in the session, as a test sets it). Returns
    what that workspace held when it exists; None for a new browser.
    """
    ss = st.session_state
    if _SAVED in ss:
        return None
    given = ss.get(ID)
    known = given if isinstance(given, str) and WORKSPACE_ID.fullmatch(given) else _cookie()
    ss[ID] = known or WorkspaceStore.new_id()
    ss[_SAVED], ss[_RUNS], ss[_VERSION] = {}, {}, None
    return _read(known) if known else None


def _cookie() -> str | None:
    try:
        value = st.context.cookies.get(COOKIE)
    except (AttributeError, RuntimeError):  # no browser behind this session (a unit test)
        return None
    return value if isinstance(value, str) and WORKSPACE_ID.fullmatch(value) else None


def _read(ws: str) -> Restored | None:
    held = store()
    if held is None:
        return None
    try:
        if not held.exists(ws):
            return None
        held.ensure(ws)  # marks it used now, so it does not expire under the student
        fields = held.fields(ws)
        blobs = {n: held.blob(ws, n) for n in held.blobs(ws) if not n.startswith(RUNS_PREFIX)}
    except CNNLabError as err:
        notice(f"Your saved work could not be read ({err}); this tab starts afresh.")
        return None
    st.session_state[_SAVED] = {n: v for n, v in fields.items() if not n.startswith(RUN_FIELD)}
    return Restored(fields, {n: b for n, b in blobs.items() if b is not None})


def write_cookie() -> None:
    """Have the browser keep this session's workspace id (drawn at the end of the sidebar).

    Drawn on every run, so the cookie's lifetime restarts each time the app is used.
    """
    held = store()
    days = held.ttl_days if held is not None else 30
    _cookie_component(
        data={"name": COOKIE, "id": current_id(), "max_age": int(days * 86400)},
        key="_ws.cookie_writer",
    )


def _save(change: Callable[[WorkspaceStore, str], None], what: str) -> bool:
    if ID not in st.session_state:  # a bare script that never began a workspace keeps nothing
        return False
    held = store()
    if held is None:
        return False
    st.session_state.pop(_USAGE, None)  # what the panel says is read again after a write
    try:
        change(held, current_id())
    except QuotaError as err:
        notice(f"Your {what} was not saved: {err}")
        return False
    except CNNLabError as err:
        _LOG.error("saving %s failed: %s", what, err)
        notice(f"Your {what} could not be saved ({err}); it is still here in this tab.")
        return False
    return True


def save_text(name: str, text: str | None, what: str) -> None:
    """Save one small value (None deletes it), unless it is what was last saved or read."""
    saved = st.session_state.setdefault(_SAVED, {})
    if saved.get(name) == text:
        return
    if _save(lambda s, ws: s.set_field(ws, name, text), what):
        saved[name] = text


def save_json(name: str, value: Any, what: str) -> None:
    text = None if value is None else json.dumps(value, sort_keys=True, default=str)
    save_text(name, text, what)


def save_file(name: str, data: bytes | None, what: str) -> None:
    """Save a file (None deletes it); `what` names it in a message."""
    if data is None:
        _save(lambda s, ws: s.delete_blob(ws, name), what)
    else:
        _save(lambda s, ws: s.put_blob(ws, name, data), what)


# Runs ------------------------------------------------------------------------------------------


def save_run(record: RunRecord) -> None:
    """Keep one run: its record as a value, its model as a file (empty when it made none)."""
    text = record_to_text(record)

    def change(held: WorkspaceStore, ws: str) -> None:
        held.put_blob(ws, RUNS_PREFIX + record.id, record.checkpoint or b"")
        held.set_field(ws, RUN_FIELD + record.id, text)

    if _save(change, f"run {record.name!r}"):
        st.session_state.setdefault(_RUNS, {})[record.id] = (text, None, record)


def delete_run(run_id: str) -> None:
    def change(held: WorkspaceStore, ws: str) -> None:
        held.set_field(ws, RUN_FIELD + run_id, None)
        held.delete_blob(ws, RUNS_PREFIX + run_id)

    if _save(change, "change to the runs"):
        st.session_state.setdefault(_RUNS, {}).pop(run_id, None)


def saved_runs() -> tuple[list[RunRecord], set[str]] | None:
    """When the store changed since this session last looked (another tab, a restore): the
    workspace's runs, oldest first, and the ids this session had read or saved before that are
    gone now (deleted elsewhere). None when nothing changed or there is no store.
    """
    held, ss = store(), st.session_state
    if held is None or ID not in ss:
        return None
    ws = current_id()
    try:
        version = held.version(ws) if held.exists(ws) else 0
        if version == ss.get(_VERSION):
            return None
        fields = {n: v for n, v in held.fields(ws).items() if n.startswith(RUN_FIELD)}
        models = held.blobs(ws, RUNS_PREFIX)
    except CNNLabError as err:
        _LOG.error("reading the runs failed: %s", err)
        return None
    ss[_VERSION] = version
    ss.pop(_USAGE, None)
    before = set(ss.get(_RUNS, {}))
    records = _records(held, ws, fields, models)
    return records, before - {r.id for r in records}


def _records(held: WorkspaceStore, ws: str, fields: dict[str, str], models: dict) -> list:
    cache = st.session_state.setdefault(_RUNS, {})
    kept: dict[str, tuple] = {}
    for name, text in fields.items():
        run_id = name.removeprefix(RUN_FIELD)
        info = models.get(RUNS_PREFIX + run_id)
        stamp = info.updated if info is not None else None
        old = cache.get(run_id)
        if old is not None and old[0] == text and old[1] in (stamp, None):
            kept[run_id] = (text, stamp, old[2])
            continue
        try:
            model = held.blob(ws, RUNS_PREFIX + run_id) if info is not None else None
            kept[run_id] = (text, stamp, record_from_text(text, model))
        except CNNLabError as err:  # a damaged run is left out, the others come back
            _LOG.error("run %s of workspace could not be read: %s", run_id, err)
    st.session_state[_RUNS] = kept
    return sorted((entry[2] for entry in kept.values()), key=lambda r: r.created)


# Moving between workspaces ---------------------------------------------------------------------


def _usage() -> tuple[bool, str]:
    """Whether anything is saved, and how much: read from the store once after each write of
    this tab (or a re-read of its runs), not at every run of every page."""
    ss = st.session_state
    if _USAGE not in ss:
        held = store()
        if held is None:
            return False, "Saving is off on this server."
        try:
            ws = current_id()
            exists = held.exists(ws)
            used = held.usage(ws) if exists else None
        except CNNLabError:
            return False, ""
        quota = held.quota
        text = (
            f"{used.bytes / 2**20:.1f} MB of {quota.max_bytes / 2**20:.0f} MB, "
            f"{used.runs} of {quota.max_runs} runs"
            if used is not None
            else ""
        )
        ss[_USAGE] = (exists, text)
    return ss[_USAGE]


def usage_text() -> str:
    """How much this workspace holds against its quota ("" when nothing is saved yet)."""
    return _usage()[1]


def has_saved() -> bool:
    """Whether anything of this workspace is saved yet."""
    return _usage()[0]


def export() -> bytes:
    """This workspace as one file ("Download my workspace")."""
    held = store()
    if held is None or not held.exists(current_id()):
        raise CNNLabError("there is nothing saved in this workspace yet")
    return held.export(current_id())


def switch_to(ws: str | None) -> None:
    """Make this browser use workspace `ws` (None: a fresh, empty one) from the next run on.

    Everything the session held of the old workspace is forgotten; the old one stays in the
    store until it expires, reachable from a downloaded workspace file.
    """
    ss = st.session_state
    for key in list(ss.keys()):
        if not str(key).startswith(_KEEP_ON_SWITCH):
            del ss[key]
    ss[ID] = ws or WorkspaceStore.new_id()
    ss[_SAVED], ss[_RUNS], ss[_VERSION] = {}, {}, None
    ss["_ws.switched"] = True  # state.init restores this workspace on the next run


def take_switch() -> Restored | None:
    """After `switch_to`: what the new workspace holds (once)."""
    ss = st.session_state
    if not ss.pop("_ws.switched", False):
        return None
    return _read(current_id())


def open_file(data: bytes) -> None:
    """A downloaded workspace file becomes this browser's workspace (a copy with a new id)."""
    held = store()
    if held is None:
        raise CNNLabError("saving is off on this server, so a workspace file cannot be opened")
    switch_to(held.import_(data))
