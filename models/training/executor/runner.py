"""One training job, as every backend runs it: the request, the run and what it hands back.

A `TrainRequest` is everything a run needs, in one picklable object: the model to train (a
copy, never a shared one), the prepared data, the `TrainConfig` and the network's spec. The
same `run_request` trains it in a thread of the web process (tests), in a warm worker process
(`local.py`) and in a Ray actor (`cluster.py`): there is no second copy of the engine's loop.

`run_request` streams each `TrainMetrics` to `emit`, watches `stop` between batches, evaluates
the trained model on the validation split where it trained, and returns an `Outcome`: the
model, its scores, its mistakes and its record, or a sentence saying why there is none.
"""

from __future__ import annotations

import json
import logging
import math
import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

from torch import nn

from models.data.datasets import ImageData, PreparedData, prepare
from models.device import pick_device
from models.errors import CNNLabError
from models.network.budget import MB, network_cost
from models.network.build import build_model
from models.network.spec import NetworkSpec
from models.training.engine import (
    TrainConfig,
    TrainingError,
    TrainMetrics,
    copy_model,
    input_stats,
    steps_per_epoch,
    train,
)
from models.training.evaluate import EvalResult, evaluate, misclassified
from models.training.jobs import FAILED, FINISHED, STOPPED, failure_message, out_of_memory

try:  # POSIX; elsewhere a run has no memory limit of its own
    import resource
except ImportError:  # pragma: no cover - Windows
    resource = None

_LOG = logging.getLogger("cnnlab.training")
EPOCH_FIELDS = ("epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr")
# What one run may hold besides its activations: Python, buffers, the allocator's slack.
TRAINING_OVERHEAD_MB = 200


class StopFlag(Protocol):
    """A `threading.Event`, a `multiprocessing.Event` or anything else with `is_set()`."""

    def is_set(self) -> bool: ...


@dataclass(frozen=True)
class JobInfo:
    """What the web process keeps of a submitted run: its settings and the data's facts."""

    id: str
    name: str
    config: TrainConfig
    spec: NetworkSpec | None
    class_names: tuple[str, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    input_shape: tuple[int, ...]
    n_train: int
    n_val: int
    data_name: str

    @property
    def total_steps(self) -> int:
        return steps_per_epoch(self.n_train, self.config.batch_size) * self.config.epochs


@dataclass
class TrainRequest:
    """A run, ready to send anywhere: the model (a private copy), the data and the settings."""

    name: str
    model: nn.Module
    data: PreparedData
    config: TrainConfig
    spec: NetworkSpec | None = None
    id: str = field(default_factory=lambda: uuid.uuid4().hex)

    def info(self) -> JobInfo:
        d = self.data
        shape = self.spec.input_shape if self.spec else tuple(d.train_x.shape[1:])
        mean, std = input_stats(self.config.inputs, d.mean, d.std)
        return JobInfo(
            self.id,
            self.name,
            self.config,
            self.spec,
            d.class_names,
            mean,
            std,
            tuple(shape),
            len(d.train_y),
            len(d.val_y),
            d.name,
        )


@dataclass
class Outcome:
    """How a run ended, and what it made: the model with its scores, or why there is none."""

    status: str  # FINISHED, STOPPED or FAILED
    error: str | None = None
    model: nn.Module | None = None  # on the CPU, in eval mode; None: keep the previous model
    evaluation: EvalResult | None = None
    misclassified: list = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)


def estimated_training_mb(spec: NetworkSpec, batch_size: int, data: PreparedData) -> float:
    """Memory a run needs, by formula: weights, gradients and two optimizer moments (4 copies
    of the parameters), a batch's activations kept for the backward pass and their gradients
    (2 copies), the data as uint8, and a fixed allowance for the rest."""
    cost = network_cost(spec)
    data_bytes = sum(t.numel() * t.element_size() for t in (data.train_x, data.val_x))
    needed = 4 * cost.params * 4 + 2 * cost.activation_bytes * batch_size + data_bytes
    return needed / MB + TRAINING_OVERHEAD_MB


def check_training_memory(
    spec: NetworkSpec | None, batch_size: int, data: PreparedData, budget_mb: float | None
) -> None:
    """Refuse, before anything is sent or allocated, a run that cannot fit its memory budget."""
    if spec is None or not budget_mb:
        return
    need = estimated_training_mb(spec, batch_size, data)
    if need > budget_mb:
        raise TrainingError(
            f"this run needs about {need:,.0f} MB of memory (the network's activations for "
            f"batches of {batch_size} images, its weights and the data) and a run may use "
            f"{budget_mb:,.0f} MB on this server: try a smaller batch size, smaller images or "
            "a smaller network"
        )


def training_request(
    spec: NetworkSpec,
    initial: nn.Module | None,
    data: ImageData,
    config: TrainConfig,
    val_fraction: float,
    name: str,
    memory_mb: float | None = None,
) -> TrainRequest:
    """Prepare the data for `spec` and copy or build the model: a run ready to submit.

    `initial` (a shared, trained model) is copied, never trained itself. A run that cannot fit
    `memory_mb` is refused here with its estimate, before it reaches a worker.
    """
    prepared = prepare(data, spec.input_shape, val_fraction, config.seed)
    check_training_memory(spec, config.batch_size, prepared, memory_mb)
    model = copy_model(initial) if initial is not None else build_model(spec, seed=config.seed)
    return TrainRequest(name, model, prepared, config, spec)


def _address_space() -> int | None:
    """This process's virtual memory in bytes (Linux), or None where it cannot be read."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


@contextmanager
def memory_limit(megabytes: float | None) -> Iterator[bool]:
    """Cap this process's new memory at `megabytes` while the block runs (RLIMIT_AS).

    The cap is counted from what the process holds now, so a worker's torch import does not use
    up a run's budget. An allocation past it fails in that run alone (torch raises, the run
    ends with a plain message) and the worker goes on. Yields whether a cap is in force: none on
    systems without RLIMIT_AS or /proc (macOS, Windows), where the pool's size is the only cap.
    """
    now = _address_space() if megabytes and resource is not None else None
    if now is None:
        yield False
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = now + int(megabytes * MB)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    try:
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    except (ValueError, OSError):
        yield False
        return
    try:
        yield True
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def budget_message(megabytes: float) -> str:
    """What a user reads when their run needed more memory than a run may use here."""
    return (
        f"Training needed more memory than one run may use on this server ({megabytes:,.0f} MB), "
        "so it stopped; the server and everyone else's runs are unaffected. Try a smaller batch "
        "size, smaller images or a smaller network."
    )


def run_request(
    request: TrainRequest,
    stop: StopFlag,
    emit: Callable[[TrainMetrics], None],
    memory_mb: float | None = None,
) -> Outcome:
    """Train the request's model, sending each report to `emit`; never raises.

    On the CPU the run's new memory is capped at `memory_mb` (see `memory_limit`; a GPU's
    driver maps far more address space than it uses, so a CUDA run is left uncapped here).
    """
    history: list[TrainMetrics] = []
    try:
        device = pick_device(request.config.device)
        cap = memory_mb if device.type == "cpu" else None
        with memory_limit(cap):
            for metrics in train(request.model, request.data, request.config, stop):
                history.append(metrics)
                emit(metrics)
            status = STOPPED if stop.is_set() else FINISHED
            return _finish(request, status, history)
    except CNNLabError as err:  # TrainingDiverged, TrainingError, DataError: said for users
        return Outcome(FAILED, str(err))
    except Exception as err:  # noqa: BLE001 - the run must end with a sentence, not vanish
        if memory_mb and out_of_memory(err):
            _LOG.warning("training %r went over its memory budget", request.name)
            return Outcome(FAILED, budget_message(memory_mb))
        return Outcome(FAILED, failure_message(request.name, err))


def _finish(request: TrainRequest, status: str, history: list[TrainMetrics]) -> Outcome:
    """Evaluate the trained model where it trained; no model for a diverged or empty run."""
    epochs = [m for m in history if m.kind == "epoch"]
    diverged = bool(history) and history[-1].diverged
    if diverged or not epochs:
        return Outcome(status)
    d = request.data
    model = request.model.cpu().eval()
    metrics = {
        "data": d.name,
        "config": json.loads(request.config.to_json()),
        "epochs": [{k: _plain(getattr(m, k)) for k in EPOCH_FIELDS} for m in epochs],
    }
    if request.config.task != "classify":  # the page measures maps and numbers itself
        return Outcome(status, None, model, None, [], metrics)
    mean, std = input_stats(request.config.inputs, d.mean, d.std)
    scores = evaluate(model, d.val_x, d.val_y, mean, std, len(d.class_names))
    wrong = misclassified(d.val_x, d.val_y, scores.predictions, d.class_names)
    metrics["validation_accuracy"] = scores.accuracy
    return Outcome(status, None, model, scores, wrong, metrics)


def _plain(value: float | int) -> float | int | None:
    """A number JSON can carry: NaN becomes None."""
    return None if isinstance(value, float) and math.isnan(value) else value
