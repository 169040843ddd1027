"""The handle a caller holds for a submitted run, whichever backend runs it.

A backend feeds the handle from its own thread (`_running`, `_add`, `_finish`); the page reads
consistent copies with `snapshot()`, ends the run with `stop()` and takes the trained model
with `result()`. Nothing here blocks on the backend: a snapshot is a copy under a lock.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable

from models.bundle import ModelBundle
from models.training.engine import TrainConfig, TrainMetrics
from models.training.executor.runner import JobInfo, Outcome
from models.training.jobs import (
    ENDED,
    FAILED,
    QUEUED,
    RUNNING,
    STOPPED,
    JobSnapshot,
    TrainingResult,
)


class JobHandle:
    """One run: its live state, Stop, and its result once it has ended.

    `id` names the run (a uuid): pages match a result to its job by it, never by `id()`.
    """

    def __init__(
        self,
        info: JobInfo,
        on_stop: Callable[[JobHandle], None] | None = None,
        queue_info: Callable[[JobHandle], tuple[int, float]] | None = None,
    ) -> None:
        self.info, self.id, self.name = info, info.id, info.name
        self._on_stop, self._queue_info = on_stop, queue_info
        self._lock = threading.Lock()
        self._history: list[TrainMetrics] = []
        self._status, self._error, self._note = QUEUED, None, ""
        self._outcome: Outcome | None = None
        self._result: TrainingResult | None = None
        self._done = threading.Event()
        self.stop_requested = threading.Event()

    @property
    def config(self) -> TrainConfig:
        return self.info.config

    @property
    def status(self) -> str:
        with self._lock:
            return self._status

    def snapshot(self) -> JobSnapshot:
        """A copy of the run's state; a queued run also says its place and estimated wait."""
        with self._lock:
            status, history, error, note = (
                self._status,
                tuple(self._history),
                self._error,
                self._note,
            )
        place, wait = 0, math.nan
        if status == QUEUED and self._queue_info is not None:
            place, wait = self._queue_info(self)
        return JobSnapshot(status, history, error, note, place, wait)

    def stop(self) -> None:
        """Ask the run to end: a queued run ends at once, a running one within a batch."""
        if self._done.is_set():
            return
        self.stop_requested.set()
        if self._on_stop is not None:
            self._on_stop(self)

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the run to end; True when it has."""
        return self._done.wait(timeout)

    def result(self) -> TrainingResult | None:
        """The trained model with its validation scores, once the run has ended with one.

        None while it runs, and for a run that failed, diverged or ended before its first
        epoch: such a model is no improvement on the one the session had. Made once; every
        later call returns the same result (and the same bundle, with the same token).
        """
        with self._lock:
            outcome = self._outcome
            if outcome is None or outcome.model is None or outcome.evaluation is None:
                return None
            if self._result is None:
                info = self.info
                bundle = ModelBundle(
                    outcome.model,
                    info.name,
                    info.input_shape,
                    info.class_names,
                    info.mean,
                    info.std,
                    info.spec,
                    trained=True,
                )
                self._result = TrainingResult(
                    bundle, outcome.evaluation, outcome.misclassified, outcome.metrics
                )
            return self._result

    def outcome(self) -> Outcome | None:
        """How the run ended and what it made (None while it runs). For a task other than
        classification `result()` is None, and the trained model is `outcome().model`."""
        with self._lock:
            return self._outcome

    # ---------------------------------------------------------------- fed by the backend

    def _running(self) -> None:
        with self._lock:
            if self._status == QUEUED:
                self._status = RUNNING

    def _add(self, metrics: TrainMetrics) -> None:
        with self._lock:
            self._status = RUNNING
            self._history.append(metrics)
            self._note = metrics.note or self._note

    def _finish(self, outcome: Outcome) -> None:
        """The run has ended: keep how, and what it made. Later calls change nothing."""
        with self._lock:
            if self._status in ENDED:
                return
            self._status, self._outcome = outcome.status, outcome
            if outcome.status == FAILED:
                self._error = outcome.error
        self._done.set()

    def _fail(self, message: str) -> None:
        self._finish(Outcome(FAILED, message))

    def _stopped_in_queue(self) -> None:
        with self._lock:
            self._note = "Stopped before it started."
        self._finish(Outcome(STOPPED))
