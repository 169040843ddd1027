"""Background jobs for a session: submit a named run, list them, watch them live, stop them.

Runs train outside the web process, on the server's executor (`models.training.executor`: a
pool of warm worker processes by default, a Ray cluster when one is configured), held once per
server in a global `st.cache_resource`; its size caps how many runs train at once, and the rest
wait in its queue, stoppable, knowing their place. A student's workspace (ui/workspace.py) holds
any number of named runs (the Train page's run, the Augmentation experiment's two, an
experiment's N) in one box per workspace, shared by its tabs: a run started in one tab can be
watched from another, and a run goes on through a reload, whose new session picks it up. A box
is let go, its runs stopped, ten minutes after the workspace's last tab closed.
`live_panel` is one fragment that redraws at most once a second while any of its runs trains
and reruns the whole page once when they end (DESIGN.md: state, caching and concurrency).

    submit("train/run", request)      # stops an older run of that name, submits this one
    my_jobs("augmentation/")          # {name: JobHandle}, by name prefix
    handle.snapshot(), handle.stop(), handle.result()
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections.abc import Callable

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from models.errors import CNNLabError
from models.training.executor import Executor, JobHandle, TrainRequest, executor_from_settings
from models.training.jobs import ENDED, QUEUED, JobSnapshot
from ui import workspace

POLL_S = 1.0  # seconds between live redraws while a job runs
_ENDED_SEEN = "_jobs.ended"  # ids of the jobs whose end this session has handled


class _JobBox:
    """A workspace's jobs by name, shared by every tab of that workspace."""

    def __init__(self) -> None:
        self.jobs: dict[str, JobHandle] = {}
        self.sessions = 0  # tabs of the workspace open now
        self.left_at = math.inf  # when the last tab closed (time.monotonic); inf while one is open

    def stop(self) -> None:
        for job in self.jobs.values():
            job.stop()


@st.cache_resource(show_spinner=False)
def executor() -> Executor:
    """The server's executor, made on first use (its workers start then and stay warm)."""
    return executor_from_settings()


def warm() -> None:
    """Start the server's workers now, so the first run does not wait for torch to import.

    Pages that may train call this as they open; a wrong executor setting is said when a run
    is submitted, not here.
    """
    with contextlib.suppress(CNNLabError):
        executor()


ABANDONED_S = 600.0  # a workspace's ended runs are let go this long after its last tab closed
_BOXES_LOCK = threading.Lock()


@st.cache_resource(show_spinner=False)
def _boxes() -> dict[str, _JobBox]:
    """Every workspace's job box, once per server."""
    return {}


class _Presence:
    """One tab of a workspace; released by Streamlit when the tab's session ends."""

    def __init__(self, owner: str) -> None:
        self.owner = owner


def release_box(presence: _Presence) -> None:
    """A tab closed. Its runs go on, so a reload or another tab of the workspace can watch them
    and keep their results; a workspace with no tab left for ABANDONED_S is let go (`_prune`)."""
    with _BOXES_LOCK:
        box = _boxes().get(presence.owner)
        if box is not None:
            box.sessions = max(0, box.sessions - 1)
            if box.sessions == 0:
                box.left_at = time.monotonic()


@st.cache_resource(scope="session", on_release=release_box, show_spinner=False)
def _presence(owner: str) -> _Presence:
    with _BOXES_LOCK:
        box = _boxes().setdefault(owner, _JobBox())
        box.sessions += 1
        box.left_at = math.inf
    return _Presence(owner)


def _prune(boxes: dict[str, _JobBox], now: float | None = None) -> None:
    """Let go the boxes of workspaces no tab has shown for ABANDONED_S: their runs are stopped
    (a closed class's queued runs must not hold the workers) and their results freed."""
    now = time.monotonic() if now is None else now
    for owner in [o for o, b in boxes.items() if now - b.left_at > ABANDONED_S]:
        boxes.pop(owner).stop()


def _job_box() -> _JobBox:
    owner = _owner()
    _presence(owner)
    with _BOXES_LOCK:
        boxes = _boxes()
        _prune(boxes)
        return boxes.setdefault(owner, _JobBox())


def submit(name: str, request: TrainRequest) -> JobHandle:
    """Submit `request` as this workspace's run `name`; an older run of that name is stopped.

    Raises a CNNLabError (ExecutorSettingError) when the server's executor settings are wrong.
    """
    handle = executor().submit(request, owner=_owner())
    box = _job_box()
    old = box.jobs.pop(name, None)
    if old is not None:
        old.stop()
    box.jobs[name] = handle
    return handle


def _owner() -> str:
    """This student's workspace (every tab of it shares its runs and its fair share of the
    executor's slots); the browser session when there is no workspace (a bare script run)."""
    ws = st.session_state.get(workspace.ID)
    if ws:
        return ws
    ctx = get_script_run_ctx()
    return ctx.session_id if ctx is not None else ""


def my_jobs(prefix: str = "") -> dict[str, JobHandle]:
    """This session's jobs whose names start with `prefix`, in the order they were submitted."""
    return {n: j for n, j in _job_box().jobs.items() if n.startswith(prefix)}


def get(name: str) -> JobHandle | None:
    """This session's job called `name`, or None."""
    return _job_box().jobs.get(name)


def stop(prefix: str = "") -> None:
    """Stop this session's jobs whose names start with `prefix` (all of them by default)."""
    for job in my_jobs(prefix).values():
        job.stop()


def running(jobs: dict[str, JobHandle]) -> bool:
    """True while any of `jobs` is queued or running."""
    return any(job.status not in ENDED for job in jobs.values())


def live_panel(
    prefix: str,
    draw: Callable[[dict[str, JobHandle]], None],
    on_end: Callable[[str, JobHandle], None] | None = None,
) -> None:
    """Draw the jobs named `prefix…` now and every POLL_S seconds while any of them runs.

    `on_end(name, job)` runs once per job, on the first redraw after it ends (known by the
    job's own `id`, never Python's `id()`), and the page then reruns once around the result.
    """
    jobs = my_jobs(prefix)
    live = running(jobs)

    @st.fragment(run_every=POLL_S if live else None)
    def panel() -> None:
        draw(jobs)
        seen = st.session_state.setdefault(_ENDED_SEEN, set())
        ended = [(n, j) for n, j in jobs.items() if j.status in ENDED and j.id not in seen]
        for name, job in ended:
            seen.add(job.id)
            if on_end is not None:
                on_end(name, job)
        if live and ended:  # one ended while this page was live: redraw the page around it
            st.rerun()

    panel()


def waiting_text(snap: JobSnapshot) -> str:
    """What a queued run says: its place in the server's queue and the estimated wait."""
    if snap.status != QUEUED:
        return ""
    if snap.place <= 0:
        return "Starting…"
    wait = (
        f"about {snap.wait_s:,.0f} s to wait"
        if math.isfinite(snap.wait_s)
        else "waiting for the runs ahead to report their speed"
    )
    ahead = snap.place - 1
    return (
        f"Waiting for a free worker: {ahead} run{'s' * (ahead != 1)} ahead of yours in the "
        f"queue, {wait}."
    )
