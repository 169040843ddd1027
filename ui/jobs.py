"""Background jobs for a session: submit a named job, list them, watch them live, stop them.

A session holds any number of named jobs (`TrainingJob`s: the Train page's run, the
Augmentation experiment's two runs, an experiment's N runs). They live in a session-scoped
`st.cache_resource`, so closing the tab releases the box and its `on_release` stops them all.
A global `st.cache_resource` holds the semaphore that caps how many trainings run at once on
the server; a job waiting for a slot stays stoppable. `live_panel` is one fragment that redraws
every half second while any of its jobs runs and reruns the whole page once when they end
(DESIGN.md: state, caching and concurrency).

    submit("train", job)              # stops an older job of that name, starts this one
    my_jobs("augmentation/")          # {name: job}, by name prefix
    job.snapshot(), job.stop(), job.result()
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import streamlit as st

from models.settings import positive_setting
from models.training.jobs import ENDED, TrainingJob

POLL_S = 0.5  # seconds between live redraws while a job runs
_ENDED_SEEN = "_jobs.ended"  # ids of the jobs whose end this session has handled


class _JobBox:
    """The session's jobs by name; one box per session, released when the tab closes."""

    def __init__(self) -> None:
        self.jobs: dict[str, TrainingJob] = {}

    def stop(self) -> None:
        for job in self.jobs.values():
            job.stop()


@st.cache_resource(show_spinner=False)
def training_slots() -> threading.BoundedSemaphore:
    """Server-wide cap on trainings at once ($CNNLAB_MAX_TRAININGS, default 2)."""
    return threading.BoundedSemaphore(max(1, int(positive_setting("CNNLAB_MAX_TRAININGS", 2))))


@st.cache_resource(scope="session", on_release=lambda box: box.stop(), show_spinner=False)
def _job_box() -> _JobBox:
    return _JobBox()


def submit(name: str, job: TrainingJob) -> TrainingJob:
    """Keep `job` under `name` and start it; an older job of that name is stopped first."""
    box = _job_box()
    old = box.jobs.pop(name, None)
    if old is not None:
        old.stop()
    box.jobs[name] = job.start()
    return job


def my_jobs(prefix: str = "") -> dict[str, TrainingJob]:
    """This session's jobs whose names start with `prefix`, in the order they were submitted."""
    return {n: j for n, j in _job_box().jobs.items() if n.startswith(prefix)}


def get(name: str) -> TrainingJob | None:
    """This session's job called `name`, or None."""
    return _job_box().jobs.get(name)


def stop(prefix: str = "") -> None:
    """Stop this session's jobs whose names start with `prefix` (all of them by default)."""
    for job in my_jobs(prefix).values():
        job.stop()


def running(jobs: dict[str, TrainingJob]) -> bool:
    """True while any of `jobs` is queued or running."""
    return any(job.status not in ENDED for job in jobs.values())


def live_panel(
    prefix: str,
    draw: Callable[[dict[str, TrainingJob]], None],
    on_end: Callable[[str, TrainingJob], None] | None = None,
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
