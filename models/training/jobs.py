"""What a training job is, whichever backend runs it: its states, its snapshot and its result.

The backends (`models.training.executor`: a thread, a warm worker process, a Ray actor) all
report through these. Whatever goes wrong in a run reaches the page as a sentence: a
`CNNLabError` keeps its message, anything else becomes a short apology while its traceback goes
to the server log (`failure_message`).
"""

from __future__ import annotations

import logging
import math
import uuid
from dataclasses import dataclass
from typing import Any

import torch

from models.bundle import ModelBundle
from models.training.engine import TrainMetrics
from models.training.evaluate import EvalResult

QUEUED, RUNNING, FINISHED, STOPPED, FAILED = "queued", "running", "finished", "stopped", "failed"
ENDED = (FINISHED, STOPPED, FAILED)
_LOG = logging.getLogger("cnnlab.training")
OUT_OF_MEMORY = (
    "Training ran out of memory: try a smaller batch size, smaller images or a smaller network."
)


@dataclass(frozen=True)
class JobSnapshot:
    """A consistent copy of a job's state for one page run."""

    status: str
    history: tuple[TrainMetrics, ...]
    error: str | None
    note: str
    place: int = 0  # while queued: 1 for the next job to start
    wait_s: float = math.nan  # while queued: the estimated seconds until it starts

    @property
    def latest(self) -> TrainMetrics | None:
        return self.history[-1] if self.history else None

    @property
    def diverged(self) -> bool:
        """True when the run ended with its loss above where it started (see `snap.note`)."""
        return self.latest is not None and self.latest.diverged


@dataclass(frozen=True)
class TrainingResult:
    """What a finished run hands over: the model, its validation scores and the run's record."""

    bundle: ModelBundle  # the trained model, ready to be the session's model
    evaluation: EvalResult  # on the validation split
    misclassified: list  # (image, "true → predicted") pairs from `evaluate.misclassified`
    metrics: dict[str, Any]  # data name, validation accuracy and per-epoch figures, for JSON


def out_of_memory(err: BaseException) -> bool:
    """True for an allocation that failed: torch's (CPU or GPU) or Python's own."""
    return isinstance(err, (torch.OutOfMemoryError, MemoryError)) or "allocate memory" in str(err)


def failure_message(name: str, err: Exception) -> str:
    """The sentence a user reads for an unexpected error in run `name`; the log gets the rest.

    Running out of memory gets advice; anything else, a bug, an apology with a reference that
    the server log repeats beside the traceback.
    """
    if out_of_memory(err):
        _LOG.warning("training %r ran out of memory", name, exc_info=err)
        return OUT_OF_MEMORY
    ref = uuid.uuid4().hex[:8]
    _LOG.error("training %r failed, reference %s", name, ref, exc_info=err)
    return (
        "Sorry, training stopped because of an unexpected error. The curves so far are kept: "
        f"try other settings, or tell whoever runs this server the reference {ref}."
    )
