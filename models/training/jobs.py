"""A training run in a background thread: readable status and curves, stoppable within a second.

The thread never touches the UI. It appends each `TrainMetrics` to a list under a lock; a page
reads copies of that list while the thread runs. A server-wide `threading.BoundedSemaphore`
caps how many runs train at once; a run waiting for a slot is "queued" and can still be stopped.
Whatever goes wrong in the thread reaches the page as a sentence: a `CNNLabError` keeps its
message, anything else becomes a short apology while its traceback goes to the server log.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from models.bundle import ModelBundle
from models.data.datasets import ImageData, PreparedData, prepare
from models.errors import CNNLabError
from models.network.build import build_model
from models.network.spec import NetworkSpec
from models.training.engine import TrainConfig, TrainMetrics, copy_model, train
from models.training.evaluate import EvalResult, evaluate, misclassified

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


EPOCH_FIELDS = ("epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr")


class TrainingJob:
    """Train `model` on `data` in a daemon thread; `stop()` ends it within a batch.

    `id` names this run (a uuid): pages match a result to its job by it, never by `id()`.
    """

    def __init__(
        self,
        model: nn.Module,
        data: PreparedData,
        config: TrainConfig,
        spec: NetworkSpec | None,
        name: str,
        slots: threading.BoundedSemaphore | None = None,
    ) -> None:
        self.model, self.data, self.config, self.spec, self.name = model, data, config, spec, name
        self._slots = slots
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._history: list[TrainMetrics] = []
        self._status, self._error, self._note = QUEUED, None, ""
        self.id = uuid.uuid4().hex
        self._result: TrainingResult | None = None
        self._result_done = False  # the result (or that there is none) is known
        self._result_lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name=f"train-{name}", daemon=True)

    def start(self) -> TrainingJob:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Ask the run to end; a queued run ends without training."""
        self._stop.set()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the thread; True when it has ended."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def status(self) -> str:
        with self._lock:
            return self._status

    def snapshot(self) -> JobSnapshot:
        with self._lock:
            return JobSnapshot(self._status, tuple(self._history), self._error, self._note)

    def bundle(self) -> ModelBundle | None:
        """The trained model once the run has ended with some training done (see `result`)."""
        result = self.result()
        return result.bundle if result is not None else None

    def result(self) -> TrainingResult | None:
        """The run's model, evaluated on validation, once it has ended with training done.

        None while it runs, and for a run that failed, diverged or ended before its first
        epoch: such a model is no improvement on the one the session had. Computed once; every
        later call returns the same result (and the same bundle, with the same token).
        """
        with self._result_lock:
            if not self._result_done:
                snap = self.snapshot()
                if snap.status not in ENDED:
                    return None
                self._result, self._result_done = self._make_result(snap), True
            return self._result

    def _make_result(self, snap: JobSnapshot) -> TrainingResult | None:
        if snap.status not in (FINISHED, STOPPED) or snap.diverged:
            return None
        epochs = [m for m in snap.history if m.kind == "epoch"]
        if not epochs:
            return None
        d = self.data
        bundle = ModelBundle(
            self.model.cpu().eval(),
            self.name,
            self.spec.input_shape if self.spec else tuple(d.train_x.shape[1:]),
            d.class_names,
            d.mean,
            d.std,
            self.spec,
            trained=True,
        )
        scores = evaluate(bundle.model, d.val_x, d.val_y, d.mean, d.std, len(d.class_names))
        wrong = misclassified(d.val_x, d.val_y, scores.predictions, d.class_names)
        metrics = {
            "data": d.name,
            "validation_accuracy": scores.accuracy,
            "config": json.loads(self.config.to_json()),
            "epochs": [{k: getattr(m, k) for k in EPOCH_FIELDS} for m in epochs],
        }
        return TrainingResult(bundle, scores, wrong, metrics)

    def _set(self, **fields) -> None:
        with self._lock:
            for key, value in fields.items():
                setattr(self, f"_{key}", value)

    def _wait_for_slot(self) -> bool:
        if self._slots is None:
            return True
        while not self._slots.acquire(timeout=0.2):
            if self._stop.is_set():
                return False
        return True

    def _run(self) -> None:
        if not self._wait_for_slot():
            self._set(status=STOPPED, note="Stopped before it started.")
            return
        try:
            self._set(status=RUNNING)
            for metrics in train(self.model, self.data, self.config, self._stop):
                with self._lock:
                    self._history.append(metrics)
                    self._note = metrics.note or self._note
            self._set(status=STOPPED if self._stop.is_set() else FINISHED)
        except CNNLabError as err:  # TrainingDiverged, TrainingError, DataError: said for users
            self._set(status=FAILED, error=str(err))
        except Exception as err:  # it would vanish with the thread: the page gets a sentence
            self._set(status=FAILED, error=failure_message(self.name, err))
        finally:
            if self._slots is not None:
                self._slots.release()


def failure_message(name: str, err: Exception) -> str:
    """The sentence a user reads for an unexpected error in run `name`; the log gets the rest.

    Running out of memory gets advice; anything else, a bug, an apology with a reference that
    the server log repeats beside the traceback.
    """
    if isinstance(err, (torch.OutOfMemoryError, MemoryError)) or "allocate memory" in str(err):
        _LOG.warning("training %r ran out of memory", name, exc_info=err)
        return OUT_OF_MEMORY
    ref = uuid.uuid4().hex[:8]
    _LOG.error("training %r failed, reference %s", name, ref, exc_info=err)
    return (
        "Sorry, training stopped because of an unexpected error. The curves so far are kept: "
        f"try other settings, or tell whoever runs this server the reference {ref}."
    )


def new_training_job(
    spec: NetworkSpec,
    initial: nn.Module | None,
    data: ImageData,
    config: TrainConfig,
    val_fraction: float,
    name: str,
    slots: threading.BoundedSemaphore | None = None,
) -> TrainingJob:
    """Prepare the data for `spec`, copy or build the model: a job ready to `start()`.

    `initial` (a shared, trained model) is copied, never trained itself.
    """
    prepared = prepare(data, spec.input_shape, val_fraction, config.seed)
    model = copy_model(initial) if initial is not None else build_model(spec, seed=config.seed)
    return TrainingJob(model, prepared, config, spec, name, slots)
