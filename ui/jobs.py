"""Background jobs for a session: submit a named run, list them, watch them live, stop them.

Runs train outside the web process, on the server's executor (`models.training.executor`: a
pool of warm worker processes by default, a Ray cluster when one is configured), held once per
server in a global `st.cache_resource`; its size caps how many runs train at once, and the rest
wait in its queue, stoppable, knowing their place. A session holds any number of named runs
(the Train page's run, the Augmentation experiment's two, an experiment's N) in a session-scoped
`st.cache_resource`, so closing the tab releases the box and its `on_release` stops them all.
`live_panel` is one fragment that redraws at most once a second while any of its runs trains
and reruns the whole page once when they end (DESIGN.md: state, caching and concurrency).

    submit("train/run", request)      # stops an older run of that name, submits this one
    my_jobs("augmentation/")          # {name: JobHandle}, by name prefix
    handle.snapshot(), handle.stop(), handle.result()
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from models.errors import CNNLabError
from models.training.executor import Executor, JobHandle, TrainRequest, executor_from_settings
from models.training.jobs import ENDED, QUEUED, JobSnapshot

POLL_S = 1.0  # seconds between live redraws while a job runs
_ENDED_SEEN = "_jobs.ended"  # ids of the jobs whose end this session has handled


class _JobBox:
    """The session's jobs by name; one box per session, released when the tab closes."""

    def __init__(self) -> None:
        self.jobs: dict[str, JobHandle] = {}

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


def release_box(box: _JobBox) -> None:
    """What closing a tab does: every run of that session stops, and its worker is freed."""
    box.stop()


@st.cache_resource(scope="session", on_release=release_box, show_spinner=False)
def _job_box() -> _JobBox:
    return _JobBox()


def submit(name: str, request: TrainRequest) -> JobHandle:
    """Submit `request` as this session's run `name`; an older run of that name is stopped.

    Raises a CNNLabError (ExecutorSettingError) when the server's executor settings are wrong.
    """
    handle = executor().submit(request, owner=_session_id())
    box = _job_box()
    old = box.jobs.pop(name, None)
    if old is not None:
        old.stop()
    box.jobs[name] = handle
    return handle


def _session_id() -> str:
    """This browser tab's session, so the executor shares its slots out fairly between them."""
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
