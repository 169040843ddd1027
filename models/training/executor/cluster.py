"""Runs on a Ray cluster: each run becomes a Ray actor, for schools with more than one machine.

Ray is optional (`requirements-cluster.txt`); nothing imports it until a `RayExecutor` is made.
Each run gets an actor of its own that asks Ray for the run's CPUs (and `num_gpus` for a GPU
run); Ray queues it until a node has them. The actor calls the same `runner.run_request` as a
local worker, so curves, Stop, the memory cap and the result behave the same. A thread in the
web process collects the actor's reports four times a second and feeds the `JobHandle`.
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
import time
from pathlib import Path

from models.training.engine import TrainMetrics
from models.training.executor.handle import JobHandle
from models.training.executor.local import KILL_AFTER_S, WORKER_DIED, Executor
from models.training.executor.runner import Outcome, TrainRequest, run_request
from models.training.jobs import STOPPED

_LOG = logging.getLogger("cnnlab.training")
POLL_S = 0.25  # how often the web process collects an actor's reports
MODELS_DIR = Path(__file__).resolve().parents[2]  # the `models` package, shipped to the cluster


class RayTrainer:
    """The actor's body: trains one request in one thread while others drain or stop it."""

    def __init__(self, threads: int, memory_mb: float | None) -> None:
        import torch

        torch.set_num_threads(max(1, int(threads)))
        self.memory_mb = memory_mb
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._inbox: list[TrainMetrics] = []

    def run(self, request: TrainRequest) -> Outcome:
        return run_request(request, self._stop, self._emit, self.memory_mb)

    def _emit(self, metrics: TrainMetrics) -> None:
        with self._lock:
            self._inbox.append(metrics)

    def drain(self) -> list[TrainMetrics]:
        with self._lock:
            out, self._inbox = self._inbox, []
        return out

    def stop(self) -> None:
        self._stop.set()


class RayExecutor(Executor):
    """Runs as Ray actors on the cluster at `address` (None: a Ray started in this process).

    threads: CPUs each run asks for and trains with; gpus: GPUs a run on "auto" or "cuda" asks
    for (0 trains on CPUs only); init: further arguments for `ray.init` (tests pass num_cpus).
    """

    kind = "ray"

    def __init__(
        self,
        address: str | None = None,
        threads: int = 1,
        memory_mb: float | None = None,
        gpus: float = 0,
        **init,
    ) -> None:
        import ray

        self.ray, self.address = ray, address
        self.threads, self.memory_mb, self.gpus = max(1, int(threads)), memory_mb, gpus
        if not ray.is_initialized():
            ray.init(
                address=address,
                runtime_env={"py_modules": [str(MODELS_DIR)]},
                include_dashboard=False,
                log_to_driver=False,
                **init,
            )
        self._actor = ray.remote(max_concurrency=4)(RayTrainer)
        cpus = ray.cluster_resources().get("CPU", 1)
        self.slots = max(1, int(cpus // self.threads))

    def submit(self, request: TrainRequest, owner: str = "") -> JobHandle:
        """Start an actor for `request`; Ray's scheduler shares the cluster out (not `owner`)."""
        handle = JobHandle(request.info(), queue_info=lambda h: (0, math.nan))
        gpus = self.gpus if request.config.device in ("auto", "cuda") else 0
        actor = self._actor.options(num_cpus=self.threads, num_gpus=gpus).remote(
            self.threads, self.memory_mb
        )
        run_ref = actor.run.remote(request)
        follow = threading.Thread(
            target=self._follow, args=(handle, actor, run_ref), name=f"ray-{handle.name}"
        )
        follow.daemon = True
        follow.start()
        return handle

    def _follow(self, handle: JobHandle, actor, run_ref) -> None:
        ray = self.ray
        try:
            self._watch(handle, actor, run_ref)
        except Exception as err:  # noqa: BLE001 - the actor died or Ray went away
            _LOG.error("Ray run %r failed: %s", handle.name, err)
            handle._fail(WORKER_DIED)
        finally:
            with contextlib.suppress(Exception):  # already gone
                ray.kill(actor)

    def _watch(self, handle: JobHandle, actor, run_ref) -> None:
        ray = self.ray
        started, stop_at, drain_ref = False, None, None
        while True:
            if handle.stop_requested.is_set():
                if not started:  # still waiting for the cluster: it never ran
                    handle._stopped_in_queue()
                    return
                if stop_at is None:
                    actor.stop.remote()
                    stop_at = time.monotonic()
                elif time.monotonic() - stop_at > KILL_AFTER_S:
                    handle._finish(Outcome(STOPPED))
                    return
            if drain_ref is None:
                drain_ref = actor.drain.remote()
            ready, _ = ray.wait([drain_ref], timeout=POLL_S)
            if ready:
                reports, drain_ref = ray.get(drain_ref), None
                if not started:
                    started = True
                    handle._running()
                for metrics in reports:
                    handle._add(metrics)
            done, _ = ray.wait([run_ref], timeout=0)
            if done:
                outcome = ray.get(run_ref)
                for metrics in ray.get(actor.drain.remote()):
                    handle._add(metrics)
                handle._finish(outcome)
                return

    def describe(self) -> str:
        where = f"the Ray cluster at {self.address}" if self.address else "a Ray started here"
        gpu = f", {self.gpus:g} GPU per GPU run" if self.gpus else ""
        return f"{where} ({self.threads} CPU{'s' * (self.threads > 1)} per run{gpu})"

    def close(self) -> None:
        if self.address is None and self.ray.is_initialized():
            self.ray.shutdown()


def ray_available() -> bool:
    """True when the optional `ray` package is installed."""
    import importlib.util

    return importlib.util.find_spec("ray") is not None


__all__ = ["RayExecutor", "RayTrainer", "ray_available"]
